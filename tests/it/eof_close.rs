//! End of stream and close semantics: truncation under each `EofPolicy`, `close()`
//! (close_notify, double close, write after close, half close), EOF inside a record, and
//! tampered records.

use crate::common;

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use common::scripted::*;
use common::*;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::{Acceptor, Connector, DuplexStream, EofPolicy, ErrorKind, TlsStream, Version};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Connector and acceptor with `eof` on both sides.
fn endpoints(pki: &Pki, eof: EofPolicy) -> (Connector, Acceptor) {
    (
        Connector::new(pki.client_policy().eof(eof)).unwrap(),
        Acceptor::new(pki.server_policy().eof(eof)).unwrap(),
    )
}

/// What the side that stops writing does to its transport.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// `close()` on the raw duplex end, under the TlsStream: EOF, no close_notify.
    CloseRaw,
    /// Drop the TlsStream (and with it the transport): EOF, no close_notify.
    Drop,
}

/// `writer` sends `data` and then cuts its transport without close_notify, while
/// `reader` reads `data` and then reads three more times; returns those three results.
async fn cut_after_data(
    mut writer: TlsStream<DuplexStream>,
    reader: &mut TlsStream<DuplexStream>,
    data: &[u8],
    cut: Cut,
) -> Vec<io::Result<usize>> {
    let (_, results) = future::zip(
        async move {
            writer.write_all(data).await.unwrap();
            writer.flush().await.unwrap();
            match cut {
                Cut::CloseRaw => writer.get_mut().close().await.unwrap(),
                Cut::Drop => drop(writer),
            }
        },
        async {
            let mut got = vec![0; data.len()];
            reader
                .read_exact(&mut got)
                .await
                .expect("data before the cut");
            assert!(got == data, "data before the cut corrupted");
            let mut results = Vec::new();
            let mut buf = [0u8; 1024];
            for _ in 0..3 {
                results.push(reader.read(&mut buf).await);
            }
            results
        },
    )
    .await;
    results
}

fn assert_truncated(results: Vec<io::Result<usize>>, what: &str) {
    assert_eq!(results.len(), 3);
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Err(e) => assert_eq!(
                e.kind(),
                io::ErrorKind::UnexpectedEof,
                "{what}: read {i} after the data: {e:?}"
            ),
            Ok(n) => panic!("{what}: read {i} after a truncation returned Ok({n})"),
        }
    }
}

fn assert_clean_end(results: Vec<io::Result<usize>>, what: &str) {
    assert_eq!(results.len(), 3);
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(n) => assert_eq!(n, 0, "{what}: read {i} after the data returned bytes"),
            Err(e) => panic!("{what}: read {i} after the data failed: {e:?}"),
        }
    }
}

/// What a `Mangle` transport does to the bytes written through it once armed.
#[derive(Debug, Default)]
struct MangleState {
    /// Bytes written since arming.
    pos: usize,
    /// Armed: flip bit `.1` of the byte at offset `.0` (counted from arming).
    flip: Option<(usize, u8)>,
    /// Armed: swallow all writes and keep the bytes here instead.
    capture: bool,
    captured: Vec<u8>,
}

/// A transport that, once armed, flips one bit of what it writes, or captures what it
/// writes instead of sending it.
type Mangle<S> = Scripted<S, Arc<Mutex<MangleState>>>;

// No `poll_write_vectored`: the default writes the first buffer through `poll_write`.
impl<S: AsyncRead + AsyncWrite + Unpin> Script<S> for Arc<Mutex<MangleState>> {
    fn poll_write(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.lock().unwrap();
        if state.capture {
            state.captured.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        let mut data = buf.to_vec();
        if let Some((offset, bit)) = state.flip {
            if (state.pos..state.pos + data.len()).contains(&offset) {
                data[offset - state.pos] ^= 1 << bit;
            }
        }
        let n = ready!(Pin::new(inner).poll_write(cx, &data))?;
        if state.flip.is_some() {
            state.pos += n;
        }
        Poll::Ready(Ok(n))
    }
}

fn mangle<S>(inner: S) -> (Mangle<S>, Arc<Mutex<MangleState>>) {
    let state = Arc::new(Mutex::new(MangleState::default()));
    (
        Scripted {
            inner,
            script: state.clone(),
        },
        state,
    )
}

// ---------------------------------------------------------------------------------------
// Truncation
// ---------------------------------------------------------------------------------------

// Strict (the default): a transport EOF without close_notify is UnexpectedEof on that
// read and on every later one, after all the data. futures-rustls 0.26.0 reports it
// once on the server side (then Ok(0), a silent truncation), which the second and third
// reads here would catch; Gauche took it as a clean EOF, which the first read catches.
#[test]
fn strict_truncation_client_reading_from_server() {
    let pki = Pki::new();
    let (connector, acceptor) = endpoints(&pki, EofPolicy::Strict);
    run(20, async {
        for cut in [Cut::CloseRaw, Cut::Drop] {
            let (mut client, server) = connected_pair(&connector, &acceptor).await;
            let data = pattern(100_000, 11);
            let results = cut_after_data(server, &mut client, &data, cut).await;
            assert_truncated(results, &format!("client reading, {cut:?}"));
        }
    });
}

#[test]
fn strict_truncation_server_reading_from_client() {
    let pki = Pki::new();
    let (connector, acceptor) = endpoints(&pki, EofPolicy::Strict);
    run(20, async {
        for cut in [Cut::CloseRaw, Cut::Drop] {
            let (client, mut server) = connected_pair(&connector, &acceptor).await;
            let data = pattern(100_000, 12);
            let results = cut_after_data(client, &mut server, &data, cut).await;
            assert_truncated(results, &format!("server reading, {cut:?}"));
        }
    });
}

// The default policy is Strict: a stream built without `.eof(..)` reports truncation.
#[test]
fn default_policy_reports_truncation() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(20, async {
        let (mut client, server) = connected_pair(&connector, &acceptor).await;
        let results = cut_after_data(server, &mut client, b"some data", Cut::Drop).await;
        assert_truncated(results, "default policy, client reading");
        let (client, mut server) = connected_pair(&connector, &acceptor).await;
        let results = cut_after_data(client, &mut server, b"some data", Cut::Drop).await;
        assert_truncated(results, "default policy, server reading");
    });
}

// AllowRagged: the same cut is a clean end, Ok(0), after all the data, on both sides.
// A driver that ignores the policy reports UnexpectedEof here.
#[test]
fn allow_ragged_truncation_is_a_clean_end() {
    let pki = Pki::new();
    let (connector, acceptor) = endpoints(&pki, EofPolicy::AllowRagged);
    run(20, async {
        for cut in [Cut::CloseRaw, Cut::Drop] {
            let (mut client, server) = connected_pair(&connector, &acceptor).await;
            let data = pattern(100_000, 13);
            let results = cut_after_data(server, &mut client, &data, cut).await;
            assert_clean_end(results, &format!("client reading, {cut:?}"));

            let (client, mut server) = connected_pair(&connector, &acceptor).await;
            let data = pattern(100_000, 14);
            let results = cut_after_data(client, &mut server, &data, cut).await;
            assert_clean_end(results, &format!("server reading, {cut:?}"));
        }
    });
}

// ---------------------------------------------------------------------------------------
// close()
// ---------------------------------------------------------------------------------------

// close() sends close_notify: the peer reads all the data, then a clean Ok(0) (not the
// UnexpectedEof a bare transport close gives under Strict), on every later read too.
// Closing twice is fine.
#[test]
fn close_sends_close_notify_and_is_idempotent() {
    let pki = Pki::new();
    let (connector, acceptor) = endpoints(&pki, EofPolicy::Strict);
    run(20, async {
        for client_closes in [true, false] {
            let (client, server) = connected_pair(&connector, &acceptor).await;
            let (mut closer, mut peer) = if client_closes {
                (client, server)
            } else {
                (server, client)
            };
            let data = pattern(100_000, 21);
            let (_, got) = future::zip(
                async {
                    closer.write_all(&data).await.unwrap();
                    closer.close().await.expect("first close");
                    closer.close().await.expect("second close");
                },
                async {
                    let mut got = Vec::new();
                    peer.read_to_end(&mut got)
                        .await
                        .expect("read up to close_notify");
                    got
                },
            )
            .await;
            assert!(got == data, "data before close_notify corrupted");
            let mut buf = [0u8; 64];
            for i in 0..3 {
                let n = peer.read(&mut buf).await.expect("read after close_notify");
                assert_eq!(n, 0, "read {i} after close_notify returned data");
            }
            closer
                .close()
                .await
                .expect("third close, after the peer read");
        }
    });
}

// Writing after close() fails with BrokenPipe and sends nothing: futures-rustls 0.26.0
// lets such writes through to the transport. The tap under the closer counts every
// transport write; it must not move after close(), and the peer still sees exactly the
// data then a clean end.
#[test]
fn write_after_close_fails_and_sends_nothing() {
    let pki = Pki::new();
    let (connector, acceptor) = endpoints(&pki, EofPolicy::Strict);
    run(20, async {
        let (mut client, mut server, knobs) = probed_pair(&connector, &acceptor).await;
        client.write_all(b"before close").await.unwrap();
        client.close().await.unwrap();
        let (bytes, ncalls) = (knobs.written(), knobs.write_calls());

        let err = client
            .write(b"after close")
            .await
            .expect_err("write after close");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err:?}");
        let err = client
            .write_all(b"after close, again")
            .await
            .expect_err("write_all after close");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err:?}");
        let _ = client.flush().await;
        assert_eq!(
            knobs.written(),
            bytes,
            "bytes reached the transport after close"
        );
        assert_eq!(
            knobs.write_calls(),
            ncalls,
            "the transport was written after close"
        );

        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"before close");
        let mut buf = [0u8; 64];
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    });
}

// Half close: after our close() the peer can still send, and we read it; then the peer
// closes too and we read a clean end. A driver that stops reading after close(), or
// that closes the whole transport both ways, fails here.
#[test]
fn read_after_own_close_still_works() {
    let pki = Pki::new();
    let (connector, acceptor) = endpoints(&pki, EofPolicy::Strict);
    run(20, async {
        for client_closes in [true, false] {
            let (client, server) = connected_pair(&connector, &acceptor).await;
            let (mut closer, mut peer) = if client_closes {
                (client, server)
            } else {
                (server, client)
            };
            closer.write_all(b"request").await.unwrap();
            closer.close().await.unwrap();

            let mut got = Vec::new();
            peer.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"request");

            let reply = pattern(50_000, 31);
            let (_, got) = future::zip(
                async {
                    peer.write_all(&reply).await.unwrap();
                    peer.close().await.unwrap();
                },
                async {
                    let mut got = Vec::new();
                    closer
                        .read_to_end(&mut got)
                        .await
                        .expect("read after our own close");
                    got
                },
            )
            .await;
            assert!(got == reply, "reply after our close corrupted");
            let mut buf = [0u8; 16];
            assert_eq!(closer.read(&mut buf).await.unwrap(), 0);
        }
    });
}

// ---------------------------------------------------------------------------------------
// EOF inside a record
// ---------------------------------------------------------------------------------------

/// A pair whose server writes are captured (not sent) from now on.
async fn captured_pair(
    connector: &Connector,
    acceptor: &Acceptor,
) -> (
    TlsStream<DuplexStream>,
    TlsStream<Mangle<DuplexStream>>,
    Arc<Mutex<MangleState>>,
) {
    let (c, s) = tlsport::duplex(256 * 1024);
    let (s, state) = mangle(s);
    let (client, server) = pair_over(connector, acceptor, c, s).await;
    state.lock().unwrap().capture = true;
    (client, server, state)
}

/// Length of the TLS record at the start of `bytes`, header included.
fn record_len(bytes: &[u8]) -> usize {
    5 + u16::from_be_bytes([bytes[3], bytes[4]]) as usize
}

// A transport EOF in the middle of a record is a truncation: no partial plaintext comes
// out, and every read is UnexpectedEof (Strict). Then with a whole record first: its
// data, then UnexpectedEof.
#[test]
fn eof_in_the_middle_of_a_record() {
    let pki = Pki::new();
    let (connector, acceptor) = endpoints(&pki, EofPolicy::Strict);
    run(20, async {
        // Only part of one record.
        let (mut client, mut server, state) = captured_pair(&connector, &acceptor).await;
        server.write_all(&pattern(1000, 41)).await.unwrap();
        server.flush().await.unwrap();
        let wire = std::mem::take(&mut state.lock().unwrap().captured);
        assert_eq!(wire[0], 23, "not an application-data record");
        let len = record_len(&wire);
        assert!(len > 1000 && len <= wire.len(), "record of {len} bytes");
        let raw = &mut server.get_mut().inner;
        raw.write_all(&wire[..len / 2]).await.unwrap();
        raw.close().await.unwrap();
        let mut buf = [0u8; 2048];
        for i in 0..3 {
            match client.read(&mut buf).await {
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "read {i}: {e:?}"),
                Ok(n) => panic!("read {i} after EOF inside a record returned Ok({n})"),
            }
        }

        // One whole record, then half of the next.
        let (mut client, mut server, state) = captured_pair(&connector, &acceptor).await;
        let first = pattern(700, 42);
        server.write_all(&first).await.unwrap();
        server.flush().await.unwrap();
        server.write_all(&pattern(900, 43)).await.unwrap();
        server.flush().await.unwrap();
        let wire = std::mem::take(&mut state.lock().unwrap().captured);
        let len1 = record_len(&wire);
        let len2 = record_len(&wire[len1..]);
        assert_eq!(wire.len(), len1 + len2, "expected exactly two records");
        let raw = &mut server.get_mut().inner;
        raw.write_all(&wire[..len1 + len2 - 7]).await.unwrap();
        raw.close().await.unwrap();
        let mut got = vec![0; first.len()];
        client.read_exact(&mut got).await.expect("the whole record");
        assert!(got == first, "first record corrupted");
        for i in 0..3 {
            match client.read(&mut buf).await {
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "read {i}: {e:?}"),
                Ok(n) => panic!("read {i} after EOF inside a record returned Ok({n})"),
            }
        }
    });
}

// ---------------------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------------------

/// Over a fresh pair (the server limited to `versions`), flips bit `bit` of byte `offset`
/// of the first record the server writes after the handshake; returns what the client's
/// reads gave: the plaintext before the first error, and that error (if any).
async fn read_tampered(
    pki: &Pki,
    versions: &[Version],
    offset: usize,
    bit: u8,
    msg: &[u8],
) -> (Vec<u8>, Option<io::Error>) {
    let connector = pki.connector();
    let acceptor = Acceptor::new(pki.server_policy().protocol_versions(versions)).unwrap();
    let (c, s) = tlsport::duplex(64 * 1024);
    let (s, state) = mangle(s);
    let (mut client, mut server) = pair_over(&connector, &acceptor, c, s).await;
    state.lock().unwrap().flip = Some((offset, bit));
    let (_, out) = future::zip(
        async {
            server.write_all(msg).await.unwrap();
            server.flush().await.unwrap();
            // close_notify after it; if the client already hung up, that may fail.
            let _ = server.close().await;
        },
        async {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match client.read(&mut buf).await {
                    Ok(0) => return (got, None),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => return (got, Some(e)),
                }
            }
        },
    )
    .await;
    out
}

// A flipped bit in an application-data record never yields altered plaintext: a flip in
// the ciphertext or tag (offset >= 5) fails the AEAD check and the read errors with
// InvalidData carrying a tlsport::Error of kind Tls. Flips in the record header are
// tried too (see below), under TLS 1.3 and TLS 1.2. A driver that handed out plaintext
// before rustls authenticated the record, or that swallowed the decrypt error as EOF
// or WouldBlock, fails here.
#[test]
fn flipped_bit_never_yields_altered_plaintext() {
    let pki = Pki::new();
    run(60, async {
        let msg = pattern(1000, 51);
        for version in versions() {
            let versions = &[version][..];
            // 1000 bytes of plaintext make one record of a little over 1000 bytes.
            for (offset, bit) in [
                (0, 0),
                (1, 1),
                (2, 0),
                (3, 0),
                (4, 7),
                (5, 0),
                (6, 3),
                (12, 5),
                (500, 2),
                (1000, 7),
                (1010, 0),
            ] {
                let (got, err) = read_tampered(&pki, versions, offset, bit, &msg).await;
                let what = format!("{versions:?}, byte {offset} bit {bit}");
                if offset < 5 {
                    // The record header. rustls authenticates TLS 1.3 records with a
                    // fixed header (type 23, version 0x0303) as AAD, so a flip that
                    // still names a known type and a 0x03XX version passes unnoticed;
                    // the payload is then decrypted unchanged. Either way no *altered*
                    // plaintext may come out.
                    match err {
                        Some(_) => assert!(got.is_empty(), "{what}: plaintext before the error"),
                        None => assert!(got == msg, "{what}: altered plaintext delivered"),
                    }
                    continue;
                }
                assert!(got.is_empty(), "{what}: tampered record yielded plaintext");
                let err = err.unwrap_or_else(|| panic!("{what}: tampering ended cleanly"));
                assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{what}: {err:?}");
                let tls = carried(err);
                assert_eq!(tls.kind(), ErrorKind::Tls, "{what}: {tls:?}");
            }
            // Control: the same path without a flip delivers the message.
            let (got, err) = read_tampered(&pki, versions, usize::MAX, 0, &msg).await;
            assert!(
                err.is_none(),
                "{versions:?}: untampered read failed: {err:?}"
            );
            assert!(got == msg, "{versions:?}: untampered message corrupted");
        }
    });
}

// A TLS failure ends the session for good: after a corrupted record, every later read
// fails at once (even while the peer stays connected and silent, where a driver that
// went back to the transport would wait forever) and so does every write.
#[test]
fn a_tls_error_is_sticky_for_reads_and_writes() {
    let pki = Pki::new();
    run(20, async {
        let connector = pki.connector();
        let acceptor = pki.acceptor();
        let (c, s) = tlsport::duplex(64 * 1024);
        let (s, state) = mangle(s);
        let (mut client, mut server) = pair_over(&connector, &acceptor, c, s).await;
        state.lock().unwrap().flip = Some((100, 1));
        server.write_all(&pattern(1000, 9)).await.unwrap();
        server.flush().await.unwrap();
        let mut buf = [0u8; 4096];
        let first = client.read(&mut buf).await.unwrap_err();
        assert_eq!(carried(first).kind(), ErrorKind::Tls);
        for _ in 0..3 {
            let again = future::poll_once(client.read(&mut buf))
                .await
                .expect("a read after a TLS error must not wait on the transport")
                .unwrap_err();
            assert_eq!(again.kind(), io::ErrorKind::InvalidData, "{again:?}");
        }
        let write = client.write_all(b"more").await.unwrap_err();
        assert_eq!(carried(write).kind(), ErrorKind::Tls);
        drop(server);
    });
}
