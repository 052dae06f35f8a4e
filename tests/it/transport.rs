//! Scripted transports: regression tests for the futures-rustls 0.26.0 defects listed in
//! DESIGN.md ("Known engine defects"), which tlsport's own record driver guards against.
//!
//! Every transport here is a small wrapper around one end of `tlsport::duplex`: a
//! `Scripted` transport of `tests/common/scripted.rs`.

use crate::common;

use std::cell::RefCell;
use std::error::Error as _;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker, ready};
use std::time::{Duration, Instant};

use async_io::Timer;
use common::scripted::*;
use common::*;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::{Acceptor, Connector, DuplexStream, ErrorKind, TlsStream};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The first `io::Error` in the source chain of `err`, if any.
fn source_io_kind(err: &tlsport::Error) -> Option<io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cur = e.source();
    }
    None
}

/// Writes `data` with a flush, while the other side reads exactly that much.
async fn transfer<W, R>(writer: &mut W, reader: &mut R, data: &[u8]) -> Vec<u8>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let (_, got) = future::zip(
        async {
            writer.write_all(data).await.unwrap();
            writer.flush().await.unwrap();
        },
        async {
            let mut got = vec![0; data.len()];
            reader.read_exact(&mut got).await.unwrap();
            got
        },
    )
    .await;
    got
}

/// A waker that only counts how often it is woken.
#[derive(Default)]
struct WakeCounter(AtomicUsize);

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A future polled by hand with a counting waker, re-polled only when woken.
struct Watched<F> {
    fut: F,
    counter: Arc<WakeCounter>,
    waker: Waker,
    polls: usize,
    seen: usize,
}

impl<F: Future + Unpin> Watched<F> {
    fn new(fut: F) -> Self {
        let counter = Arc::new(WakeCounter::default());
        Watched {
            fut,
            waker: Waker::from(counter.clone()),
            counter,
            polls: 0,
            seen: 0,
        }
    }

    fn wakes(&self) -> usize {
        self.counter.0.load(SeqCst)
    }

    fn poll_now(&mut self) -> Poll<F::Output> {
        self.polls += 1;
        let mut cx = Context::from_waker(&self.waker);
        Pin::new(&mut self.fut).poll(&mut cx)
    }

    /// Polls once if never polled, then for `window` re-polls only after a wake-up.
    async fn watch(&mut self, window: Duration) -> Option<F::Output> {
        if self.polls == 0 {
            if let Poll::Ready(out) = self.poll_now() {
                return Some(out);
            }
        }
        let end = Instant::now() + window;
        while Instant::now() < end {
            Timer::after(Duration::from_millis(5)).await;
            let wakes = self.wakes();
            if wakes != self.seen {
                self.seen = wakes;
                if let Poll::Ready(out) = self.poll_now() {
                    return Some(out);
                }
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// Defect 1: a transport write of Ok(0) becomes a silent Pending in futures-rustls 0.26.0.
// ---------------------------------------------------------------------------------------

// Defect: futures-rustls 0.26.0 turns a transport `poll_write` of `Ok(0)` into
// `Poll::Pending` without any waker registered, so the handshake hangs forever. Without
// the guard the first poll below returns Pending (not Ready) and the run deadline fires;
// with it the handshake fails at once with WriteZero.
#[test]
fn write_zero_fails_client_handshake_at_once() {
    let pki = Pki::new();
    let connector = pki.connector();
    run(10, async {
        let (c, _peer) = tlsport::duplex(64 * 1024);
        let (c, knobs) = probe(c);
        knobs.write_zero.store(true, SeqCst);
        let mut hs = Box::pin(connector.connect_with("localhost", c));
        let err = match future::poll_once(&mut hs).await {
            Some(Err(err)) => err,
            Some(Ok(_)) => panic!("handshake over a write-zero transport succeeded"),
            None => panic!("handshake over a write-zero transport is Pending: a silent hang"),
        };
        assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
        assert_eq!(
            source_io_kind(&err),
            Some(io::ErrorKind::WriteZero),
            "{err:?}"
        );
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::WriteZero);
    });
}

// Same defect on the server side: the server's first flight hits `Ok(0)`. Without the
// guard the accept future would stay Pending forever (run deadline fires).
#[test]
fn write_zero_fails_server_handshake() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let (s, knobs) = probe(s);
        knobs.write_zero.store(true, SeqCst);
        let (client, server) =
            future::zip(connector.connect_with("localhost", c), acceptor.accept(s)).await;
        let err = server.expect_err("server handshake over a write-zero transport");
        assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::WriteZero);
        // The server gave up and dropped its transport: the client fails too, no hang.
        assert!(client.is_err());
    });
}

// Same defect after the handshake: once the transport starts answering `Ok(0)`, the
// established stream must fail with WriteZero instead of returning Pending forever
// (which futures-rustls 0.26.0 would do). The write itself reports its bytes taken
// (rustls has them; an error would make a retrying caller send them twice), and the
// WriteZero comes with the very next call, and every one after while it lasts.
#[test]
fn write_zero_after_handshake_fails_write_and_flush() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (mut client, _server, knobs) = probed_pair(&connector, &acceptor).await;
        knobs.write_zero.store(true, SeqCst);
        let n = client
            .write(b"hello")
            .await
            .expect("rustls takes the bytes");
        assert_eq!(n, 5);
        let err = client
            .write(b"hello")
            .await
            .expect_err("write over a write-zero transport");
        assert_eq!(err.kind(), io::ErrorKind::WriteZero, "{err:?}");
        for _ in 0..2 {
            let err = client
                .flush()
                .await
                .expect_err("flush over a write-zero transport");
            assert_eq!(err.kind(), io::ErrorKind::WriteZero, "{err:?}");
        }
    });
}

// ---------------------------------------------------------------------------------------
// A failed write is not sent twice (issue 11, item 2).
// ---------------------------------------------------------------------------------------

/// Writes `data` as `std::io::Write::write_all` does: retries `Interrupted`, gives up on
/// any other error. With `vectored`, through `write_vectored` in two slices.
async fn write_all_retrying<W>(w: &mut W, mut data: &[u8], vectored: bool) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    while !data.is_empty() {
        let result = if vectored {
            let (a, b) = data.split_at(data.len() / 2);
            w.write_vectored(&[IoSlice::new(a), IoSlice::new(b)]).await
        } else {
            w.write(data).await
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Closes `client` and returns everything `server` reads to the end.
async fn closed_and_read<C, S>(client: &mut C, server: &mut S) -> Vec<u8>
where
    C: AsyncWrite + Unpin,
    S: AsyncRead + Unpin,
{
    client.close().await.unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.unwrap();
    got
}

// rustls takes the plaintext before the transport is written; when that transport write
// was interrupted, the stream returned the `Interrupted` error although the bytes were
// taken, and a caller retrying as `write_all` does sent them again: the peer read
// "exactly onceexactly once".
#[test]
fn interrupted_transport_write_sends_the_bytes_once() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        for vectored in [false, true] {
            let (mut client, mut server, knobs) = probed_pair(&connector, &acceptor).await;
            *knobs.fail_next_write.lock().unwrap() = Some(io::ErrorKind::Interrupted);
            write_all_retrying(&mut client, b"exactly once", vectored)
                .await
                .unwrap();
            client.flush().await.unwrap();
            assert!(
                knobs.fail_next_write.lock().unwrap().is_none(),
                "no failure met"
            );
            let got = closed_and_read(&mut client, &mut server).await;
            assert_eq!(
                String::from_utf8_lossy(&got),
                "exactly once",
                "vectored={vectored}"
            );
        }
    });
}

// Any other transport error met after rustls took the bytes: the write reports them
// taken (`Ok(n)`), and the error comes with the next call, which takes nothing. The
// records stay queued and go out once the transport works again, exactly once.
#[test]
fn failed_transport_write_reports_bytes_taken_then_the_error() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        for vectored in [false, true] {
            let (mut client, mut server, knobs) = probed_pair(&connector, &acceptor).await;
            *knobs.fail_next_write.lock().unwrap() = Some(io::ErrorKind::ConnectionReset);
            let n = if vectored {
                let bufs = [IoSlice::new(b"exactly "), IoSlice::new(b"once")];
                client.write_vectored(&bufs).await
            } else {
                client.write(b"exactly once").await
            };
            assert_eq!(n.expect("rustls took the bytes"), 12, "vectored={vectored}");
            assert!(
                knobs.fail_next_write.lock().unwrap().is_none(),
                "no failure met"
            );
            let err = client.write(b"!").await.expect_err("the deferred error");
            assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err:?}");
            // Reported once: the transport works again.
            client.flush().await.unwrap();
            let got = closed_and_read(&mut client, &mut server).await;
            assert_eq!(
                String::from_utf8_lossy(&got),
                "exactly once",
                "vectored={vectored}"
            );
        }
    });
}

// The deferred error comes with a flush (or close) as well as with a write.
#[test]
fn failed_transport_write_error_comes_with_the_next_flush() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (mut client, mut server, knobs) = probed_pair(&connector, &acceptor).await;
        *knobs.fail_next_write.lock().unwrap() = Some(io::ErrorKind::BrokenPipe);
        assert_eq!(client.write(b"exactly once").await.unwrap(), 12);
        let err = client.flush().await.expect_err("the deferred error");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err:?}");
        *knobs.fail_next_write.lock().unwrap() = Some(io::ErrorKind::ConnectionAborted);
        assert_eq!(client.write(b", twice").await.unwrap(), 7);
        let err = client.close().await.expect_err("the deferred error");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted, "{err:?}");
        let got = closed_and_read(&mut client, &mut server).await;
        assert_eq!(String::from_utf8_lossy(&got), "exactly once, twice");
    });
}

// ---------------------------------------------------------------------------------------
// Defect 2: the handshake never calls the transport's poll_flush.
// ---------------------------------------------------------------------------------------

/// A transport that keeps every written byte until `poll_flush` (a `BufWriter` with an
/// unbounded capacity).
type Buffered<S> = Scripted<S, Buffering>;

#[derive(Debug)]
struct Buffering {
    pending: Vec<u8>,
    flushes: Arc<AtomicUsize>,
}

fn buffered<S>(inner: S) -> (Buffered<S>, Arc<AtomicUsize>) {
    let flushes = Arc::new(AtomicUsize::new(0));
    (
        Scripted {
            inner,
            script: Buffering {
                pending: Vec::new(),
                flushes: flushes.clone(),
            },
        },
        flushes,
    )
}

impl Buffering {
    fn poll_drain<S: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut *inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Script<S> for Buffering {
    fn poll_write(
        &mut self,
        _: &mut S,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(&mut self, inner: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flushes.fetch_add(1, SeqCst);
        ready!(self.poll_drain(inner, cx))?;
        Pin::new(inner).poll_flush(cx)
    }

    fn poll_close(&mut self, inner: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(inner, cx))?;
        Pin::new(inner).poll_close(cx)
    }
}

// Defect: futures-rustls 0.26.0 never calls the transport's `poll_flush` during the
// handshake. Over a transport that holds writes until flushed, the ClientHello never
// leaves the client, both sides wait on each other and the run deadline fires. With the
// guard every flight is flushed and the handshake completes on both sides.
#[test]
fn buffered_transport_handshake_completes_and_data_arrives() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let (c, c_flushes) = buffered(c);
        let (s, s_flushes) = buffered(s);
        let (mut client, mut server) = pair_over(&connector, &acceptor, c, s).await;
        assert!(
            c_flushes.load(SeqCst) > 0,
            "the client never flushed its transport"
        );
        assert!(
            s_flushes.load(SeqCst) > 0,
            "the server never flushed its transport"
        );
        assert!(
            client.get_ref().script.pending.is_empty(),
            "client bytes left unflushed"
        );
        assert!(
            server.get_ref().script.pending.is_empty(),
            "server bytes left unflushed"
        );

        let up = pattern(40_000, 1);
        let down = pattern(30_000, 2);
        let got = transfer(&mut client, &mut server, &up).await;
        assert!(got == up, "client-to-server data corrupted");
        let got = transfer(&mut server, &mut client, &down).await;
        assert!(got == down, "server-to-client data corrupted");
    });
}

// ---------------------------------------------------------------------------------------
// Defect 3: poll_read wakes itself (wake_by_ref + Pending) when rustls has nothing to do.
// ---------------------------------------------------------------------------------------

// Defect: futures-rustls 0.26.0's read path calls `cx.waker().wake_by_ref()` and returns
// Pending when rustls reports WouldBlock with no transport I/O pending, so an executor
// without a budget (smol) re-polls it in a tight loop. Here the transport is always
// Pending with a correctly registered waker (a duplex end whose peer never writes): the
// handshake future must not wake itself at all. With the defect the wake count climbs
// into the thousands in 200 ms, and so does the transport poll count.
#[test]
fn always_pending_handshake_does_not_wake_itself() {
    let pki = Pki::new();
    let connector = pki.connector();
    run(10, async {
        let (c, mut peer) = tlsport::duplex(64 * 1024);
        let (c, knobs) = probe(c);
        let mut hs = Watched::new(Box::pin(connector.connect_with("localhost", c)));
        let out = hs.watch(Duration::from_millis(200)).await;
        assert!(out.is_none(), "handshake against a silent peer finished");
        assert_eq!(
            hs.wakes(),
            0,
            "the handshake woke itself with nothing to do"
        );
        assert!(hs.polls <= 2, "handshake polled {} times", hs.polls);
        assert!(
            knobs.reads() <= 3,
            "transport polled {} times",
            knobs.reads()
        );

        // The waker was registered with the transport: data from the peer wakes the task
        // (no lost wake-up), and this plaintext answer is refused as not TLS.
        peer.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
        let out = hs.watch(Duration::from_secs(3)).await;
        assert!(
            hs.wakes() >= 1,
            "the peer's data did not wake the handshake"
        );
        let err = out
            .expect("handshake still pending after the peer answered")
            .expect_err("plaintext answer accepted");
        assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    });
}

// The same defect on an established stream's read: a read waiting on a silent peer must
// not wake itself (with the defect it spins: wake count and transport polls explode);
// when the peer writes, the registered waker fires and the read returns the data.
#[test]
fn always_pending_read_does_not_wake_itself() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (mut client, mut server, knobs) = probed_pair(&connector, &acceptor).await;
        let before = knobs.reads();
        let mut buf = [0u8; 64];
        let mut read = Watched::new(client.read(&mut buf));
        let out = read.watch(Duration::from_millis(200)).await;
        assert!(out.is_none(), "read returned without data: {out:?}");
        // TLS 1.3 session tickets may still be in flight and wake the read once.
        assert!(
            read.wakes() <= 2,
            "the read woke itself {} times",
            read.wakes()
        );
        let polls = knobs.reads() - before;
        assert!(polls <= 6, "idle read polled its transport {polls} times");

        server.write_all(b"ping").await.unwrap();
        server.flush().await.unwrap();
        let out = read.watch(Duration::from_secs(3)).await;
        let n = out.expect("read missed the wake-up").unwrap();
        drop(read);
        assert_eq!(&buf[..n], b"ping");
    });
}

// ---------------------------------------------------------------------------------------
// Random Pending and tiny reads/writes.
// ---------------------------------------------------------------------------------------

/// A transport that, driven by a deterministic PRNG, returns Pending (after waking the
/// waker) or passes at most 1..=max bytes per call.
#[derive(Debug)]
struct Chaos {
    rng: u64,
    max: usize,
}

fn chaos<S>(inner: S, seed: u64, max: usize) -> Scripted<S, Chaos> {
    Scripted {
        inner,
        script: Chaos { rng: seed | 1, max },
    }
}

impl Chaos {
    fn next(&mut self) -> u64 {
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn pend(&mut self, cx: &mut Context<'_>) -> bool {
        if self.next() % 3 == 0 {
            cx.waker().wake_by_ref();
            true
        } else {
            false
        }
    }

    fn limit(&mut self, len: usize) -> usize {
        let r = self.next();
        let cap = if r % 4 == 0 {
            1
        } else {
            1 + (r >> 8) as usize % self.max
        };
        cap.min(len)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Script<S> for Chaos {
    fn poll_read(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.pend(cx) {
            return Poll::Pending;
        }
        let n = self.limit(buf.len());
        Pin::new(inner).poll_read(cx, &mut buf[..n])
    }

    fn poll_write(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pend(cx) {
            return Poll::Pending;
        }
        let n = self.limit(buf.len());
        Pin::new(inner).poll_write(cx, &buf[..n])
    }

    fn poll_write_vectored(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.pend(cx) {
            return Poll::Pending;
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut left = self.limit(total);
        let mut cut = Vec::new();
        for b in bufs {
            if left == 0 {
                break;
            }
            let take = b.len().min(left);
            cut.push(IoSlice::new(&b[..take]));
            left -= take;
        }
        Pin::new(inner).poll_write_vectored(cx, &cut)
    }

    fn poll_flush(&mut self, inner: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pend(cx) {
            return Poll::Pending;
        }
        Pin::new(inner).poll_flush(cx)
    }

    fn poll_close(&mut self, inner: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pend(cx) {
            return Poll::Pending;
        }
        Pin::new(inner).poll_close(cx)
    }
}

// Covers the record driver's partial-I/O bookkeeping: a driver that drops a partial
// write, treats a short read as a full record, loses a wake-up after a Pending, or
// mistakes a Pending for EOF corrupts the data or hangs here (run deadline).
#[test]
fn random_pending_and_tiny_io_is_byte_exact() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(120, async {
        for seed in [0x9e37_79b9_7f4a_7c15_u64, 42] {
            let (c, s) = tlsport::duplex(4096);
            let c = chaos(c, seed, 31);
            let s = chaos(s, seed.rotate_left(17) ^ 0x55, 31);
            let (mut client, mut server) = pair_over(&connector, &acceptor, c, s).await;
            let up = pattern(256 * 1024, seed as u8);
            let down = pattern(256 * 1024, seed as u8 ^ 0xa5);
            let got = transfer(&mut client, &mut server, &up).await;
            assert!(got == up, "client-to-server data corrupted (seed {seed})");
            let got = transfer(&mut server, &mut client, &down).await;
            assert!(got == down, "server-to-client data corrupted (seed {seed})");
        }
    });
}

// ---------------------------------------------------------------------------------------
// Transport errors keep their kind.
// ---------------------------------------------------------------------------------------

// A transport error must come back with its kind, not be swallowed into EOF/Pending or
// flattened into `Other`: a driver that maps read errors to EOF would report
// UnexpectedEof (or Ok(0)) here, one that drops the error would hang.
#[test]
fn connection_reset_mid_read_keeps_its_kind() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (mut client, mut server, knobs) = probed_pair(&connector, &acceptor).await;
        let data = pattern(16 * 1024, 3);
        for chunk in data.chunks(1000) {
            server.write_all(chunk).await.unwrap();
            server.flush().await.unwrap();
        }
        // About three and a half records get through, then the transport is reset.
        *knobs.read_budget.lock().unwrap() = Some(3500);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let err = loop {
            match client.read(&mut buf).await {
                Ok(0) => panic!("reset reported as a clean EOF"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err:?}");
        assert!(!got.is_empty(), "no data arrived before the reset");
        assert!(got.len() < data.len(), "all data arrived despite the reset");
        assert!(got == data[..got.len()], "data before the reset corrupted");
    });
}

// The same during the handshake: tlsport::Error of kind Io whose io kind is
// ConnectionReset.
#[test]
fn connection_reset_during_handshake_keeps_its_kind() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let (c, knobs) = probe(c);
        *knobs.read_budget.lock().unwrap() = Some(10);
        let (client, _server) =
            future::zip(connector.connect_with("localhost", c), acceptor.accept(s)).await;
        let err = client.expect_err("handshake over a reset transport");
        assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::ConnectionReset);
    });
}

// ---------------------------------------------------------------------------------------
// Handshake deadlines (Gauche had none).
// ---------------------------------------------------------------------------------------

// A server facing a client that connects and never sends must give up at the handshake
// deadline with TimedOut; without the deadline the accept waits forever (run deadline).
#[test]
fn handshake_timeout_silent_client() {
    let pki = Pki::new();
    let acceptor = Acceptor::new(
        pki.server_policy()
            .handshake_timeout(Some(Duration::from_millis(300))),
    )
    .unwrap();
    run(10, async {
        let (_silent, s) = tlsport::duplex(64 * 1024);
        let start = Instant::now();
        let err = acceptor
            .accept(s)
            .await
            .expect_err("silent client accepted");
        let elapsed = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::TimedOut);
        assert!(
            elapsed >= Duration::from_millis(250),
            "gave up early: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(5),
            "deadline overrun: {elapsed:?}"
        );
    });
}

// A client facing a server that accepts the connection but never answers.
#[test]
fn handshake_timeout_silent_server() {
    let pki = Pki::new();
    let connector = Connector::new(
        pki.client_policy()
            .handshake_timeout(Some(Duration::from_millis(300))),
    )
    .unwrap();
    run(10, async {
        let (c, _silent) = tlsport::duplex(64 * 1024);
        let start = Instant::now();
        let err = connector
            .connect_with("localhost", c)
            .await
            .expect_err("silent server accepted");
        let elapsed = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::TimedOut);
        assert!(
            elapsed >= Duration::from_millis(250),
            "gave up early: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(5),
            "deadline overrun: {elapsed:?}"
        );
    });
}

/// The first TLS record a real client sends: its ClientHello.
async fn real_client_hello(connector: &Connector) -> Vec<u8> {
    let (c, mut raw) = tlsport::duplex(64 * 1024);
    let capture = async {
        let mut hello = vec![0u8; 5];
        raw.read_exact(&mut hello).await.unwrap();
        let len = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        hello.resize(5 + len, 0);
        raw.read_exact(&mut hello[5..]).await.unwrap();
        hello
    };
    let client = async {
        let _ = connector.connect_with("localhost", c).await;
        unreachable!("the client handshake ended while its peer was silent");
    };
    future::or(capture, client).await
}

// A slowloris: the peer trickles a real ClientHello one byte every 100 ms. The deadline
// must cover the whole handshake; a per-read timeout would be reset by every byte and
// never fire (the ClientHello takes minutes at this rate, so the run deadline fires).
#[test]
fn handshake_timeout_is_total_not_per_read() {
    let pki = Pki::new();
    let connector = pki.connector();
    let acceptor = Acceptor::new(
        pki.server_policy()
            .handshake_timeout(Some(Duration::from_millis(500))),
    )
    .unwrap();
    run(20, async {
        let hello = real_client_hello(&connector).await;
        assert_eq!(hello[0], 22, "the first record is not a handshake record");
        assert!(
            hello.len() > 100,
            "ClientHello too short to trickle: {}",
            hello.len()
        );

        let (mut raw, s) = tlsport::duplex(64 * 1024);
        let sent = AtomicUsize::new(0);
        let trickle = async {
            for byte in &hello {
                raw.write_all(std::slice::from_ref(byte)).await.unwrap();
                sent.fetch_add(1, SeqCst);
                Timer::after(Duration::from_millis(100)).await;
            }
            future::pending::<()>().await;
            unreachable!()
        };
        let start = Instant::now();
        let result = future::or(acceptor.accept(s), trickle).await;
        let elapsed = start.elapsed();
        let err = result.expect_err("trickled handshake accepted");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        assert!(
            sent.load(SeqCst) >= 3,
            "the trickle never got going ({} bytes)",
            sent.load(SeqCst)
        );
        assert!(
            sent.load(SeqCst) < hello.len(),
            "the whole ClientHello went through"
        );
        assert!(
            elapsed < Duration::from_secs(5),
            "deadline overrun: {elapsed:?}"
        );
    });
}

// ---------------------------------------------------------------------------------------
// A peer that does not speak TLS.
// ---------------------------------------------------------------------------------------

/// Runs a client handshake against a raw peer that reads the ClientHello, then sends
/// `answer` and optionally closes.
async fn client_against(connector: &Connector, answer: &[u8], close: bool) -> tlsport::Error {
    let (c, mut raw) = tlsport::duplex(64 * 1024);
    let (result, _raw) = future::zip(connector.connect_with("localhost", c), async {
        let mut buf = [0u8; 5];
        raw.read_exact(&mut buf).await.unwrap();
        raw.write_all(answer).await.unwrap();
        if close {
            raw.close().await.unwrap();
        }
        raw
    })
    .await;
    result.expect_err("handshake against a non-TLS peer succeeded")
}

/// Runs a server handshake against a raw peer that sends `hello` and optionally closes.
async fn server_against(acceptor: &Acceptor, hello: &[u8], close: bool) -> tlsport::Error {
    let (mut raw, s) = tlsport::duplex(64 * 1024);
    let (result, _raw) = future::zip(acceptor.accept(s), async {
        raw.write_all(hello).await.unwrap();
        if close {
            raw.close().await.unwrap();
        }
        raw
    })
    .await;
    result.expect_err("handshake against a non-TLS peer succeeded")
}

// Plaintext peers (an HTTP server answering a ClientHello, an HTTP client talking to a
// TLS port) must be refused as a TLS failure at once: not Io, and not a hang waiting
// for a "record" whose bogus length never arrives (the raw peers here never close).
#[test]
fn plaintext_http_peers_are_tls_errors() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let err = client_against(&connector, b"HTTP/1.1 400 Bad Request\r\n\r\n", false).await;
        assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
        let err = server_against(&acceptor, b"GET / HTTP/1.1\r\n\r\n", false).await;
        assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    });
}

// Random bytes from either side are a TLS failure at the first record header, not an
// Io error and not a wait for a record that never completes (which would hang here, as
// the garbage peer never closes).
#[test]
fn garbage_peers_are_tls_errors() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        for seed in [7u8, 99, 200] {
            let mut garbage = pattern(2048, seed);
            // The random bytes must not happen to start a well-formed record header (a
            // valid one would just wait for its body): content types are 20..=24.
            garbage[0] |= 0x80;
            let err = client_against(&connector, &garbage, false).await;
            assert_eq!(err.kind(), ErrorKind::Tls, "client, seed {seed}: {err:?}");
            let err = server_against(&acceptor, &garbage, false).await;
            assert_eq!(err.kind(), ErrorKind::Tls, "server, seed {seed}: {err:?}");
        }
    });
}

// A peer that hangs up at once is an Io error on either side, never a hang.
#[test]
fn peer_closing_at_once_is_an_io_error() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        // Dropped peer.
        let (c, raw) = tlsport::duplex(64 * 1024);
        drop(raw);
        let err = connector.connect_with("localhost", c).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "client, dropped peer: {err:?}");
        let (raw, s) = tlsport::duplex(64 * 1024);
        drop(raw);
        let err = acceptor.accept(s).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "server, dropped peer: {err:?}");

        // Peer that closes its sending side (a FIN) without a word.
        let err = client_against(&connector, b"", true).await;
        assert_eq!(err.kind(), ErrorKind::Io, "client, closed peer: {err:?}");
        let err = server_against(&acceptor, b"", true).await;
        assert_eq!(err.kind(), ErrorKind::Io, "server, closed peer: {err:?}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::UnexpectedEof);
    });
}

// ---------------------------------------------------------------------------------------
// Idle connections.
// ---------------------------------------------------------------------------------------

// Defect 3 over real sockets: with futures-rustls 0.26.0's self-wake an idle read spins
// a core (about 1 s of CPU per second idle under futures-lite's block_on). Here one
// side blocks in read for about a second; the process may burn well under 150 ms. The
// read must still complete when data finally comes (no lost wake-up).
#[test]
fn idle_tcp_connection_burns_no_cpu() {
    // Process CPU time is only meaningful with no other test running: own process.
    if !in_child("transport::idle_tcp_connection_burns_no_cpu", &[]) {
        return;
    }
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(20, async {
        let listener = acceptor.bind("127.0.0.1", 0u16).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (accepted, client) =
            future::zip(listener.accept(), connector.connect("127.0.0.1", port)).await;
        let (mut server, _) = accepted.unwrap();
        let mut client = client.unwrap();
        // Let the post-handshake traffic (session tickets) settle.
        Timer::after(Duration::from_millis(100)).await;

        let mut buf = [0u8; 16];
        let (n, cpu) = future::zip(server.read(&mut buf), async {
            let before = cpu_time();
            Timer::after(Duration::from_secs(1)).await;
            let cpu = cpu_time() - before;
            client.write_all(b"wake up").await.unwrap();
            client.flush().await.unwrap();
            cpu
        })
        .await;
        assert!(
            cpu < Duration::from_millis(150),
            "an idle connection burned {cpu:?} of CPU in 1 s"
        );
        let n = n.expect("read after idle");
        assert_eq!(&buf[..n], b"wake up");
    });
}

// The idle read polls its transport only when the transport wakes it: a handful of
// times in a second, not thousands.
#[test]
fn idle_read_polls_transport_a_handful_of_times() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (mut client, _server, knobs) = probed_pair(&connector, &acceptor).await;
        let before = knobs.reads();
        let mut buf = [0u8; 16];
        let idle = future::or(async { Some(client.read(&mut buf).await) }, async {
            Timer::after(Duration::from_secs(1)).await;
            None
        })
        .await;
        assert!(idle.is_none(), "read returned from a silent peer: {idle:?}");
        let polls = knobs.reads() - before;
        assert!(
            polls <= 8,
            "idle read polled its transport {polls} times in 1 s"
        );
    });
}

// ---------------------------------------------------------------------------------------
// Vectored writes.
// ---------------------------------------------------------------------------------------

// DESIGN.md: an adapter that does not forward `poll_write_vectored` turns each flight
// into one transport call per buffer (2.7x handshake CPU). rustls hands its records over
// with `write_vectored`; the driver must pass that on. Without forwarding, the counting
// transport below would see only `poll_write` calls and no vectored call, and never more
// than one buffer per call.
#[test]
fn handshake_uses_vectored_transport_writes() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let (c, ck) = probe(c);
        let (s, sk) = probe(s);
        let (_client, _server) = pair_over(&connector, &acceptor, c, s).await;
        for (side, k) in [("client", &ck), ("server", &sk)] {
            let (plain, vectored) = (k.writes.load(SeqCst), k.vectored.load(SeqCst));
            assert!(
                vectored > 0,
                "{side}: no vectored write ({plain} plain writes)"
            );
            assert!(
                vectored >= plain,
                "{side}: {plain} plain writes vs {vectored} vectored"
            );
        }
        // The server's first flight is several records handed over in one call.
        assert!(
            sk.max_bufs.load(SeqCst) >= 2,
            "server flight written one buffer at a time"
        );
    });
}

// `poll_write_vectored` on the TlsStream takes several buffers at once and their bytes
// arrive intact and in order.
#[test]
fn vectored_writes_on_the_stream_arrive_intact() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(10, async {
        let (mut client, mut server) = connected_pair(&connector, &acceptor).await;
        let parts = [
            pattern(1000, 1),
            Vec::new(),
            pattern(3000, 2),
            pattern(17, 3),
        ];
        let expected: Vec<u8> = parts.concat();
        let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let n = client.write_vectored(&slices).await.unwrap();
        assert!(
            n > parts[0].len(),
            "write_vectored took only the first buffer ({n} bytes)"
        );
        // Write whatever is left, the ordinary way.
        client.write_all(&expected[n..]).await.unwrap();
        client.flush().await.unwrap();
        let mut got = vec![0; expected.len()];
        server.read_exact(&mut got).await.unwrap();
        assert!(got == expected, "vectored data corrupted");

        // And server to client, through the probe-free duplex too.
        let slices: Vec<IoSlice<'_>> = parts.iter().rev().map(|p| IoSlice::new(p)).collect();
        let expected: Vec<u8> = parts.iter().rev().flatten().copied().collect();
        let n = server.write_vectored(&slices).await.unwrap();
        server.write_all(&expected[n..]).await.unwrap();
        server.flush().await.unwrap();
        let mut got = vec![0; expected.len()];
        client.read_exact(&mut got).await.unwrap();
        assert!(
            got == expected,
            "vectored data corrupted (server to client)"
        );
    });
}

// With only a few bytes of buffering between the peers, both can have a handshake flight
// waiting to go out at once. rustls prefers to finish writing before it reads; a driver
// that only reads when rustls "wants" to deadlocks here (found by the stream_ops fuzz
// target), since each side waits for the other to read.
#[test]
fn handshake_through_a_few_bytes_of_buffering() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    for buffer in 1..=8 {
        run(20, async {
            let (c, s) = tlsport::duplex(buffer);
            let (c, s) =
                future::zip(connector.connect_with("localhost", c), acceptor.accept(s)).await;
            let (mut c, mut s) = (c.unwrap(), s.unwrap());
            // With pipes this small, the writer's flush needs the reader at the same time.
            let mut got = [0; 10];
            let (sent, read) = future::zip(
                async {
                    c.write_all(b"tiny pipes").await?;
                    c.flush().await
                },
                s.read_exact(&mut got),
            )
            .await;
            sent.unwrap();
            read.unwrap();
            assert_eq!(&got, b"tiny pipes", "buffer {buffer}");
        });
    }
}

// ---------------------------------------------------------------------------------------
// Streams outliving the thread's read-ahead pool (issue 11, item 10).
// ---------------------------------------------------------------------------------------

thread_local! {
    /// Streams kept until the thread exits; one is stored before the read-ahead pool is
    /// first used on the thread, one after, so whichever order the platform destroys
    /// thread-locals in, one of them is dropped after the pool is gone.
    static HELD_BEFORE_POOL: RefCell<Option<TlsStream<DuplexStream>>> =
        const { RefCell::new(None) };
    static HELD_AFTER_POOL: RefCell<Option<TlsStream<DuplexStream>>> =
        const { RefCell::new(None) };
}

/// A client that has read part of a record, so it holds a read-ahead buffer.
async fn client_holding_readahead(
    connector: &Connector,
    acceptor: &Acceptor,
) -> TlsStream<DuplexStream> {
    let (mut client, mut server) = connected_pair(connector, acceptor).await;
    server.write_all(b"read ahead").await.unwrap();
    server.flush().await.unwrap();
    let mut first = [0; 4];
    client.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"read");
    client
}

// The read-ahead buffer goes back to a per-thread pool when a stream is dropped: the pool
// was reached with `LocalKey::with`, which panics once the pool has been destroyed, so a
// stream dropped during thread-local destruction (kept in a thread_local, or dropped by
// another thread-local's destructor) panicked, and a panic there aborts the process. Run
// in a child process so such an abort fails this test only.
#[test]
fn stream_dropped_during_thread_local_destruction_does_not_panic() {
    if !in_child(
        "transport::stream_dropped_during_thread_local_destruction_does_not_panic",
        &[],
    ) {
        return;
    }
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    let thread = std::thread::spawn(move || {
        // Registers this thread-local's destructor before the pool's.
        HELD_BEFORE_POOL.with(|_| {});
        let (first, second) = run(10, async {
            (
                client_holding_readahead(&connector, &acceptor).await,
                client_holding_readahead(&connector, &acceptor).await,
            )
        });
        HELD_BEFORE_POOL.with(|held| *held.borrow_mut() = Some(first));
        // Registered after the pool's (the reads above used the pool).
        HELD_AFTER_POOL.with(|held| *held.borrow_mut() = Some(second));
    });
    assert!(
        thread.join().is_ok(),
        "the thread panicked while its thread-locals were destroyed"
    );
}
