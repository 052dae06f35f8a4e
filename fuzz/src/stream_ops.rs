//! The `stream_ops` target: reads, writes, closes, splits, reunions and drops on both
//! sides of an established pair over `duplex()`.

use std::io::{self, IoSlice};
use std::sync::OnceLock;
use std::task::Poll;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tlsport::{
    Acceptor, CaBundle, Connector, DuplexStream, EofPolicy, Policy, ReadHalf, TlsStream, WriteHalf,
};

use super::common::{Input, VERSIONS, complete, poll_once, server_identity, speakable};

type Duplex = DuplexStream;

/// One end of an established pair, as the operations left it.
enum End {
    Whole(Box<TlsStream<Duplex>>),
    Split(Option<ReadHalf<Duplex>>, Option<WriteHalf<Duplex>>),
    /// Dropped: the transport is gone.
    Gone,
}

/// One side: its end, what it wrote (accepted by its writes) and what it read.
struct Side {
    end: End,
    is_client: bool,
    eof: EofPolicy,
    sent: Vec<u8>,
    received: Vec<u8>,
    /// `close()` was polled at least once: close_notify is queued.
    close_started: bool,
    /// `close()` returned `Ok`.
    closed: bool,
    write_failed: bool,
    read_failed: bool,
    /// A read returned `Ok(0)`.
    read_eof: bool,
}

impl Side {
    fn new(stream: TlsStream<Duplex>, is_client: bool, eof: EofPolicy) -> Side {
        Side {
            end: End::Whole(Box::new(stream)),
            is_client,
            eof,
            sent: Vec::new(),
            received: Vec::new(),
            close_started: false,
            closed: false,
            write_failed: false,
            read_failed: false,
            read_eof: false,
        }
    }

    fn reader(&mut self) -> Option<&mut (dyn AsyncRead + Unpin)> {
        match &mut self.end {
            End::Whole(s) => Some(s),
            End::Split(Some(r), _) => Some(r),
            _ => None,
        }
    }

    fn writer(&mut self) -> Option<&mut (dyn AsyncWrite + Unpin)> {
        match &mut self.end {
            End::Whole(s) => Some(s),
            End::Split(_, Some(w)) => Some(w),
            _ => None,
        }
    }

    fn is_gone(&self) -> bool {
        matches!(self.end, End::Gone)
    }

    /// Turns two dropped halves into a dropped end.
    fn normalise(&mut self) {
        if let End::Split(None, None) = self.end {
            self.end = End::Gone;
        }
    }

    fn check_info(&self) {
        let info = match &self.end {
            End::Whole(s) => s.info(),
            End::Split(Some(r), _) => r.info(),
            End::Split(None, Some(w)) => w.info(),
            _ => return,
        };
        assert_eq!(info.is_client, self.is_client);
    }
}

/// What `me` read: must be a prefix of what `peer` wrote. `Ok(0)` under the strict EOF
/// policy must be the peer's close_notify, after all of its data.
fn check_read(me: &mut Side, peer: &Side, result: Poll<io::Result<usize>>, buf: &[u8]) {
    match result {
        Poll::Pending => {}
        Poll::Ready(Ok(0)) => {
            me.read_eof = true;
            if me.eof == EofPolicy::Strict {
                assert!(
                    peer.close_started,
                    "a read returned a clean EOF but the peer never called close()"
                );
                assert!(
                    me.received == peer.sent,
                    "clean EOF after {} of the {} bytes the peer wrote",
                    me.received.len(),
                    peer.sent.len()
                );
            }
        }
        Poll::Ready(Ok(n)) => {
            assert!(!me.read_eof || me.eof == EofPolicy::AllowRagged || n == 0);
            me.received.extend_from_slice(&buf[..n]);
            assert!(
                peer.sent.starts_with(&me.received),
                "read bytes the peer never wrote (received {}, peer sent {})",
                me.received.len(),
                peer.sent.len()
            );
        }
        Poll::Ready(Err(e)) => {
            me.read_failed = true;
            assert!(
                peer.is_gone(),
                "read failed while the peer is alive and honest: {e} ({:?})",
                e.kind()
            );
        }
    }
}

/// A write, flush or close failed: only allowed after our own close or when the peer
/// has gone.
fn check_write_error(me: &Side, peer: &Side, what: &str, e: &io::Error) {
    assert!(
        me.close_started || peer.is_gone(),
        "{what} failed while the peer is alive: {e} ({:?})",
        e.kind()
    );
}

fn poll_read_side(me: &mut Side, peer: &Side, len: usize) {
    let mut buf = vec![0u8; len];
    let Some(reader) = me.reader() else { return };
    let result = poll_once(reader.read(&mut buf));
    check_read(me, peer, result, &buf);
}

fn poll_write_side(me: &mut Side, peer: &Side, data: &[u8], vectored: bool) {
    let Some(writer) = me.writer() else { return };
    let result = if vectored {
        let (a, b) = data.split_at(data.len() / 2);
        poll_once(writer.write_vectored(&[IoSlice::new(a), IoSlice::new(&[]), IoSlice::new(b)]))
    } else {
        poll_once(writer.write(data))
    };
    match result {
        Poll::Pending => {}
        Poll::Ready(Ok(n)) => {
            assert!(n <= data.len());
            assert!(!me.close_started, "a write after close() was accepted");
            me.sent.extend_from_slice(&data[..n]);
        }
        Poll::Ready(Err(e)) => {
            me.write_failed = true;
            check_write_error(me, peer, "write", &e);
        }
    }
}

fn poll_close_side(me: &mut Side, peer: &Side) {
    let Some(writer) = me.writer() else { return };
    let result = poll_once(writer.close());
    me.close_started = true;
    match result {
        Poll::Pending => {}
        Poll::Ready(Ok(())) => me.closed = true,
        Poll::Ready(Err(e)) => {
            me.write_failed = true;
            check_write_error(me, peer, "close", &e);
        }
    }
}

/// The final check of one direction: if `writer` can still write and `reader` still
/// read, closing `writer` while `reader` reads must deliver everything `writer` wrote,
/// then a clean EOF, within a bounded number of polls.
fn drain(writer: &mut Side, reader: &mut Side) {
    if writer.writer().is_none() || writer.write_failed {
        return;
    }
    if reader.reader().is_none() || reader.read_failed || reader.read_eof {
        return;
    }
    let max_polls = 20_000 + 8 * (writer.sent.len() + 70_000);
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..max_polls {
        if !writer.closed {
            let result = poll_once(writer.writer().expect("checked").close());
            writer.close_started = true;
            match result {
                Poll::Pending => {}
                Poll::Ready(Ok(())) => writer.closed = true,
                Poll::Ready(Err(e)) => panic!("close() failed while the peer reads: {e}"),
            }
        }
        let result = poll_once(reader.reader().expect("checked").read(&mut buf));
        if let Poll::Ready(Err(e)) = &result {
            panic!("read failed while the peer closes cleanly: {e}");
        }
        check_read(reader, writer, result, &buf);
        if reader.read_eof {
            assert!(
                reader.received == writer.sent,
                "EOF after {} of {} bytes",
                reader.received.len(),
                writer.sent.len()
            );
            return;
        }
    }
    panic!(
        "close() then read did not reach EOF in {max_polls} polls (read {} of {} bytes, \
         closed: {})",
        reader.received.len(),
        writer.sent.len(),
        writer.closed
    );
}

/// Transport buffer sizes of the in-memory pair.
const BUFFER_SIZES: [usize; 8] = [1, 7, 64, 300, 4096, 16 * 1024 + 5, 65536, 1 << 20];

/// `stream_ops`: input = `[pair config, operations..]`.
///
/// A tlsport client and server connect over `duplex()` (a real handshake), then the
/// input plays reads, writes (of its own bytes), vectored writes, flushes, closes,
/// splits, reunions and drops on either side, each polled once. What a side reads must
/// be a prefix of what the other wrote; at the end, each direction still open is closed
/// and drained, and must deliver everything.
pub fn run_stream_ops(data: &[u8]) {
    let mut input = Input::new(data);
    let config = usize::from(input.byte());
    let buffer = BUFFER_SIZES[config % BUFFER_SIZES.len()];
    let variant = config / BUFFER_SIZES.len();
    let (client_eof, server_eof) = (client_policy_eof(variant), server_policy_eof(variant));
    let connector = &pair_connectors()[variant % PAIR_VARIANTS];
    let acceptor = &pair_acceptors()[variant % PAIR_VARIANTS];

    let (c_io, s_io) = tlsport::duplex(buffer);
    let (client, server) = complete(
        futures_lite::future::zip(
            connector.connect_with("localhost", c_io),
            acceptor.accept(s_io),
        ),
        2_000_000,
        "handshake over duplex()",
    );
    let client = client.expect("client handshake over duplex()");
    let server = server.expect("server handshake over duplex()");
    let mut sides = [
        Side::new(client, true, client_eof),
        Side::new(server, false, server_eof),
    ];

    let mut ops = 0;
    while !input.is_empty() && ops < 512 {
        ops += 1;
        let op = input.byte();
        let (me, peer) = {
            let (a, b) = sides.split_at_mut(1);
            if op & 1 == 0 {
                (&mut a[0], &mut b[0])
            } else {
                (&mut b[0], &mut a[0])
            }
        };
        match (op >> 1) % 13 {
            0 => {
                let len = 1 + usize::from(input.byte() % 64);
                poll_read_side(me, peer, len);
            }
            1 => poll_read_side(me, peer, 20_000),
            2 | 3 => {
                let len = usize::from(input.u16()) % 4096;
                let bytes = input.take(len);
                poll_write_side(me, peer, bytes, op >> 1 == 3);
            }
            4 => {
                // A large write of a repeated byte: fills rustls's and the pipe's buffers.
                let len = 1024 * (1 + usize::from(input.byte() % 16));
                let bytes = vec![input.byte(); len];
                poll_write_side(me, peer, &bytes, false);
            }
            5 => {
                if let Some(writer) = me.writer() {
                    if let Poll::Ready(Err(e)) = poll_once(writer.flush()) {
                        me.write_failed = true;
                        check_write_error(me, peer, "flush", &e);
                    }
                }
            }
            6 => poll_close_side(me, peer),
            7 => {
                if let End::Whole(_) = me.end {
                    let End::Whole(stream) = std::mem::replace(&mut me.end, End::Gone) else {
                        unreachable!()
                    };
                    let (r, w) = stream.split();
                    assert!(r.is_pair_of(&w) && w.is_pair_of(&r));
                    me.end = End::Split(Some(r), Some(w));
                }
            }
            8 => {
                if let End::Split(Some(_), Some(_)) = me.end {
                    let End::Split(Some(r), Some(w)) = std::mem::replace(&mut me.end, End::Gone)
                    else {
                        unreachable!()
                    };
                    match r.reunite(w) {
                        Ok(stream) => me.end = End::Whole(Box::new(stream)),
                        Err(e) => panic!("reuniting a pair failed: {e}"),
                    }
                }
            }
            9 => {
                if let End::Split(r, _) = &mut me.end {
                    drop(r.take());
                }
                me.normalise();
            }
            10 => {
                if let End::Split(_, w) = &mut me.end {
                    drop(w.take());
                }
                me.normalise();
            }
            11 => {
                // Dropping a whole end is rare: it ends most of the exploration.
                if input.byte() % 4 == 0 {
                    me.end = End::Gone;
                }
            }
            _ => {
                me.check_info();
                // Let both sides make progress: a read on each, a flush here.
                poll_read_side(peer, me, 16 * 1024);
                poll_read_side(me, peer, 16 * 1024);
                if let Some(writer) = me.writer() {
                    if let Poll::Ready(Err(e)) = poll_once(writer.flush()) {
                        me.write_failed = true;
                        check_write_error(me, peer, "flush", &e);
                    }
                }
            }
        }
    }

    let [client, server] = &mut sides;
    drain(client, server);
    drain(server, client);
}

/// Variants of the established pair: versions and EOF policies.
const PAIR_VARIANTS: usize = 12;

fn pair_policies(n: usize) -> (Policy, Policy) {
    let n = n % PAIR_VARIANTS;
    let versions = &speakable(VERSIONS[n % 3])[..];
    let client = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .danger_accept_invalid_certs(true)
        .handshake_timeout(None)
        .session_cache(0)
        .protocol_versions(versions)
        .eof(client_policy_eof(n));
    let server = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .identity(server_identity().clone())
        .handshake_timeout(None)
        .session_cache(0)
        .protocol_versions(versions)
        .eof(server_policy_eof(n));
    (client, server)
}

fn client_policy_eof(n: usize) -> EofPolicy {
    [EofPolicy::Strict, EofPolicy::AllowRagged][(n % PAIR_VARIANTS / 3) % 2]
}

fn server_policy_eof(n: usize) -> EofPolicy {
    [EofPolicy::Strict, EofPolicy::AllowRagged][(n % PAIR_VARIANTS / 6) % 2]
}

fn pair_connectors() -> &'static [Connector] {
    static ALL: OnceLock<Vec<Connector>> = OnceLock::new();
    ALL.get_or_init(|| {
        (0..PAIR_VARIANTS)
            .map(|n| Connector::new(pair_policies(n).0).expect("pair client policy"))
            .collect()
    })
}

fn pair_acceptors() -> &'static [Acceptor] {
    static ALL: OnceLock<Vec<Acceptor>> = OnceLock::new();
    ALL.get_or_init(|| {
        (0..PAIR_VARIANTS)
            .map(|n| Acceptor::new(pair_policies(n).1).expect("pair server policy"))
            .collect()
    })
}
