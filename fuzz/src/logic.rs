//! The fuzzing logic of tlsport, one function per fuzz target.
//!
//! This file is shared: the cargo-fuzz targets call it through the `tlsport-fuzz` crate
//! (`fuzz/src/lib.rs`), and the root package's `tests/fuzz_replay.rs` includes it with
//! `#[path]` to replay the seed corpus and every crash input on stable `cargo test`. So it
//! depends only on tlsport, std, futures-lite and rcgen.
//!
//! Every `run_*` function must return normally for any input. A panic is a finding: a
//! panic inside tlsport, or one of the invariants checked here (a lost wake-up, a
//! self-wake loop, data read that the peer never wrote, a truncation reported as a clean
//! end, a close that stalls between two live peers).

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tlsport::pki_types::{CertificateDer, PrivateKeyDer};
use tlsport::{
    Acceptor, CaBundle, ClientAuth, Connector, DuplexStream, EofPolicy, ErrorKind, Identity,
    ObjectKind, Policy, Port, Proto, ReadHalf, TlsStream, Version, WriteHalf,
};

// ---------------------------------------------------------------------------------------
// Reading the fuzz input

/// A cursor over the fuzz input; reading past its end yields zeros and empty slices.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

// ---------------------------------------------------------------------------------------
// Wakers and manual polling

/// A waker that counts its wake-ups.
#[derive(Default)]
pub struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    pub fn count(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut` once with a waker that does nothing.
pub fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

/// Runs a future over in-memory transports only (nothing outside can wake it) to its
/// end, within `max_polls` polls. A poll that returns `Pending` without waking anything
/// is a deadlock: nothing is left that could ever wake the future.
pub fn complete<F: Future>(fut: F, max_polls: usize, what: &str) -> F::Output {
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    for _ in 0..max_polls {
        let before = counter.count();
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        assert!(
            counter.count() != before,
            "{what}: deadlock, Pending with nothing left to wake it"
        );
    }
    panic!("{what}: not finished after {max_polls} polls");
}

/// Wakers the scripted transport has parked on a scripted `Pending`; the driver wakes
/// them when it plays the event loop.
type Parked = Rc<RefCell<Vec<Waker>>>;

/// Polls futures whose only transport is a [`Scripted`] one, as an event loop would:
/// after `Pending`, the transport's "event" fires (its parked wakers are woken) and the
/// future is polled again.
///
/// Checked: a `Pending` must have parked a waker in the transport or woken the task
/// (else nothing could ever wake it: a lost wake-up), and a future may not keep waking
/// itself without touching the transport (a self-wake loop burns a CPU).
pub struct Driver {
    parked: Parked,
    counter: Arc<CountingWaker>,
    waker: Waker,
    polls_left: usize,
}

/// Consecutive self-wakes without any transport `Pending` allowed before it is a spin.
const MAX_SELF_WAKES: usize = 64;

impl Driver {
    pub fn new(parked: Parked, max_polls: usize) -> Driver {
        let counter = Arc::new(CountingWaker::default());
        Driver {
            parked,
            waker: Waker::from(counter.clone()),
            counter,
            polls_left: max_polls,
        }
    }

    /// Runs `fut` to its end; `None` when the poll budget ran out first.
    pub fn run<F: Future>(&mut self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(&self.waker);
        let mut self_wakes = 0;
        while self.polls_left > 0 {
            self.polls_left -= 1;
            let before = self.counter.count();
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                self.parked.borrow_mut().clear();
                return Some(out);
            }
            let woke_itself = self.counter.count() != before;
            let parked = std::mem::take(&mut *self.parked.borrow_mut());
            if parked.is_empty() {
                assert!(
                    woke_itself,
                    "lost wake-up: Pending without a waker parked in the transport"
                );
                self_wakes += 1;
                assert!(
                    self_wakes <= MAX_SELF_WAKES,
                    "self-wake loop: {self_wakes} polls in a row returned Pending after \
                     waking themselves, with no transport Pending"
                );
            } else {
                self_wakes = 0;
                for waker in parked {
                    waker.wake();
                }
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// The scripted transport

/// What the transport does on its next call.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Ready, moving at most this many bytes.
    Ready(usize),
    /// `Pending`, with the waker parked until the driver fires it.
    Pending,
    /// Read: `Ok(0)` (an early EOF). Write: `Ok(0)`.
    Zero,
    /// `ConnectionReset`.
    Fail,
}

fn step_of(byte: u8) -> Step {
    match byte {
        0xff => Step::Fail,
        0xfe => Step::Zero,
        b if b % 4 == 0 => Step::Pending,
        b if b % 4 == 1 => Step::Ready(1 + usize::from(b >> 2) % 16),
        _ => Step::Ready(usize::MAX),
    }
}

/// A transport whose peer is a script: reads return `peer` (then EOF), writes are
/// swallowed, and every call (read, write, flush, close) takes the next step of
/// `schedule`: `Pending`, a short or full transfer, `Ok(0)` or an error. Once the
/// schedule is spent every call is ready and complete, so the peer's bytes always run
/// out and every handshake ends.
pub struct Scripted<'a> {
    peer: &'a [u8],
    schedule: &'a [u8],
    parked: Parked,
    written: usize,
}

impl<'a> Scripted<'a> {
    pub fn new(peer: &'a [u8], schedule: &'a [u8]) -> (Scripted<'a>, Parked) {
        let parked = Parked::default();
        let io = Scripted {
            peer,
            schedule,
            parked: parked.clone(),
            written: 0,
        };
        (io, parked)
    }

    fn step(&mut self, cx: &Context<'_>) -> Step {
        let step = match self.schedule.split_first() {
            Some((&b, rest)) => {
                self.schedule = rest;
                step_of(b)
            }
            None => Step::Ready(usize::MAX),
        };
        if let Step::Pending = step {
            self.parked.borrow_mut().push(cx.waker().clone());
        }
        step
    }
}

fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "scripted connection reset")
}

impl AsyncRead for Scripted<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.step(cx) {
            Step::Pending => Poll::Pending,
            Step::Fail => Poll::Ready(Err(reset())),
            Step::Zero => Poll::Ready(Ok(0)),
            Step::Ready(limit) => {
                let n = limit.min(buf.len()).min(self.peer.len());
                let (head, rest) = self.peer.split_at(n);
                buf[..n].copy_from_slice(head);
                self.peer = rest;
                Poll::Ready(Ok(n))
            }
        }
    }
}

impl Scripted<'_> {
    fn write_step(&mut self, cx: &Context<'_>, wanted: usize) -> Poll<io::Result<usize>> {
        match self.step(cx) {
            Step::Pending => Poll::Pending,
            Step::Fail => Poll::Ready(Err(reset())),
            Step::Zero => Poll::Ready(Ok(0)),
            Step::Ready(limit) => {
                let n = limit.min(wanted);
                self.written += n;
                Poll::Ready(Ok(n))
            }
        }
    }

    fn other_step(&mut self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        match self.step(cx) {
            Step::Pending => Poll::Pending,
            Step::Fail => Poll::Ready(Err(reset())),
            Step::Zero | Step::Ready(_) => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Scripted<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_step(cx, buf.len())
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let wanted = bufs.iter().map(|b| b.len()).sum();
        self.write_step(cx, wanted)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.other_step(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.other_step(cx)
    }
}

// ---------------------------------------------------------------------------------------
// Identities and policies, made once per process

/// A self-signed certificate and key for `names`, made with rcgen: never a committed key.
pub fn make_identity(names: &[&str]) -> Identity {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).expect("rcgen certificate");
    let cert = made.cert.pem();
    let key = made.signing_key.serialize_pem();
    Identity::from_pem(cert.as_bytes(), key.as_bytes()).expect("rcgen identity")
}

/// The server's identity (localhost, 127.0.0.1, ::1).
pub fn server_identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| make_identity(&["localhost", "127.0.0.1", "::1"]))
}

/// The client's identity, for mutual TLS.
pub fn client_identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| make_identity(&["client.test"]))
}

const VERSIONS: [&[Version]; 3] = [
    &[Version::Tls12, Version::Tls13],
    &[Version::Tls13],
    &[Version::Tls12],
];

/// `versions` less TLS 1.2 when this build of tlsport cannot speak it (the `tls12`
/// feature is off), so that every variant still makes a working policy.
fn speakable(versions: &[Version]) -> Vec<Version> {
    static TLS12: OnceLock<bool> = OnceLock::new();
    let tls12 = *TLS12.get_or_init(|| {
        let probe = Policy::new()
            .ca_bundle(CaBundle::Empty)
            .danger_accept_invalid_certs(true)
            .protocol_versions(&[Version::Tls12]);
        Connector::new(probe).is_ok()
    });
    let kept: Vec<Version> = versions
        .iter()
        .copied()
        .filter(|v| tls12 || *v != Version::Tls12)
        .collect();
    if kept.is_empty() {
        vec![Version::Tls13]
    } else {
        kept
    }
}

/// Client policy number `n` of [`CLIENT_VARIANTS`]: versions, ALPN, EOF policy, a client
/// certificate. Verification is off, so no roots are needed.
pub fn client_policy(n: usize) -> Policy {
    let mut policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .danger_accept_invalid_certs(true)
        .handshake_timeout(None)
        .session_cache(0)
        .protocol_versions(&speakable(VERSIONS[n % 3]));
    if (n / 3) % 2 == 1 {
        policy = policy.alpn_protocols(["h2", "http/1.1"]);
    }
    if (n / 6) % 2 == 1 {
        policy = policy.eof(EofPolicy::AllowRagged);
    }
    if (n / 12) % 2 == 1 {
        policy = policy.identity(client_identity().clone());
    }
    policy
}

pub const CLIENT_VARIANTS: usize = 24;

/// Server policy number `n` of [`SERVER_VARIANTS`]: versions, ALPN, EOF policy, client
/// authentication (trusting the client identity's self-signed certificate).
pub fn server_policy(n: usize) -> Policy {
    let mut policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .identity(server_identity().clone())
        .handshake_timeout(None)
        .session_cache(0)
        .protocol_versions(&speakable(VERSIONS[n % 3]));
    if (n / 3) % 2 == 1 {
        policy = policy.alpn_protocols(["h2", "http/1.1"]);
    }
    if (n / 6) % 2 == 1 {
        policy = policy.eof(EofPolicy::AllowRagged);
    }
    let auth = [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required][(n / 12) % 3];
    if auth != ClientAuth::None {
        policy = policy
            .client_auth(auth)
            .add_root_certificate(client_identity().chain()[0].clone());
    }
    policy
}

pub const SERVER_VARIANTS: usize = 36;

fn connectors() -> &'static [Connector] {
    static ALL: OnceLock<Vec<Connector>> = OnceLock::new();
    ALL.get_or_init(|| {
        (0..CLIENT_VARIANTS)
            .map(|n| Connector::new(client_policy(n)).expect("client policy"))
            .collect()
    })
}

fn acceptors() -> &'static [Acceptor] {
    static ALL: OnceLock<Vec<Acceptor>> = OnceLock::new();
    ALL.get_or_init(|| {
        (0..SERVER_VARIANTS)
            .map(|n| Acceptor::new(server_policy(n)).expect("server policy"))
            .collect()
    })
}

/// The names a fuzzed client connects to.
pub const HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

// ---------------------------------------------------------------------------------------
// client_handshake and server_handshake

/// Poll budget of one scripted run; running out only ends the run.
fn budget(data: &[u8]) -> usize {
    10_000 + 4 * data.len()
}

/// After a finished handshake: read what the peer sent (post-handshake messages, data,
/// alerts), write, flush, close; then check the close contract.
fn after_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver,
    stream: &mut TlsStream<S>,
    is_client: bool,
) {
    let info = stream.info();
    assert_eq!(info.is_client, is_client);
    assert!(info.protocol_version.is_some());
    let mut buf = [0u8; 4096];
    for _ in 0..64 {
        match driver.run(stream.read(&mut buf)) {
            Some(Ok(n)) if n > 0 => assert!(n <= buf.len()),
            _ => break,
        }
    }
    let _ = driver.run(stream.write_all(b"ping"));
    let _ = driver.run(stream.flush());
    if let Some(Ok(())) = driver.run(stream.close()) {
        match driver.run(stream.write(b"after close")) {
            Some(Err(_)) | None => {}
            Some(Ok(n)) => panic!("a write after close() was accepted ({n} bytes)"),
        }
        match driver.run(stream.close()) {
            Some(Ok(())) | None => {}
            Some(Err(e)) => panic!("closing twice failed: {e}"),
        }
    }
}

/// `client_handshake`: input = `[variant, schedule length, schedule.., server bytes..]`.
///
/// A tlsport client (verification off, no roots, no timers) meets a scripted server
/// whose bytes are the input's tail, over a transport whose every call follows the
/// schedule (`Pending`, short or full transfers, `Ok(0)`, errors).
pub fn run_client_handshake(data: &[u8]) {
    let mut input = Input::new(data);
    let variant = usize::from(input.byte());
    let schedule_len = usize::from(input.byte());
    let schedule = input.take(schedule_len);
    let peer = input.rest();
    let connector = &connectors()[variant % CLIENT_VARIANTS];
    let host = HOSTS[(variant / CLIENT_VARIANTS) % HOSTS.len()];

    let (io, parked) = Scripted::new(peer, schedule);
    let mut driver = Driver::new(parked, budget(data));
    let Some(Ok(mut stream)) = driver.run(connector.connect_with(host, io)) else {
        return;
    };
    after_handshake(&mut driver, &mut stream, true);
}

/// `server_handshake`: input = `[variant, schedule length, schedule.., client bytes..]`,
/// as [`run_client_handshake`] with a tlsport server (fixed rcgen identity) and a
/// scripted client.
pub fn run_server_handshake(data: &[u8]) {
    let mut input = Input::new(data);
    let variant = usize::from(input.byte());
    let schedule_len = usize::from(input.byte());
    let schedule = input.take(schedule_len);
    let peer = input.rest();
    let acceptor = &acceptors()[variant % SERVER_VARIANTS];

    let (io, parked) = Scripted::new(peer, schedule);
    let mut driver = Driver::new(parked, budget(data));
    let Some(Ok(mut stream)) = driver.run(acceptor.accept(io)) else {
        return;
    };
    after_handshake(&mut driver, &mut stream, false);
}

// ---------------------------------------------------------------------------------------
// stream_ops

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

// ---------------------------------------------------------------------------------------
// load_identity

/// A scratch file of this process and thread, rewritten for every input.
fn scratch_file(name: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id())
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    std::env::temp_dir().join(format!(
        "tlsport-fuzz-{}-{thread}-{name}",
        std::process::id()
    ))
}

/// The fixed real certificate and key (PEM), to pair with fuzzed halves.
fn real_pem() -> &'static (String, String) {
    static PEM: OnceLock<(String, String)> = OnceLock::new();
    PEM.get_or_init(|| {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("rcgen certificate");
        (made.cert.pem(), made.signing_key.serialize_pem())
    })
}

const OBJECT_KINDS: [ObjectKind; 5] = [
    ObjectKind::X509Cert,
    ObjectKind::X509CaCert,
    ObjectKind::RsaKey,
    ObjectKind::Pkcs8,
    ObjectKind::Pkcs12,
];

/// `load_identity`: input = `[flags, length of A (u16 LE), A.., B..]`.
///
/// A and B go to every loader as certificate chain and key: `Identity::from_pem`,
/// `from_der` (B through `PrivateKeyDer::try_from`), `from_pem_encrypted`,
/// `from_pkcs12` (B as the archive), `from_pem_files`, `Policy::add_roots_pem_file`
/// and `Policy::load_object`. Flags: bit 0 / bit 1 swap in the real certificate / key
/// (so the pairing checks run without committed keys), bit 2 picks the password
/// `test-password` (else empty), bits 3..=6 the `ObjectKind`, bit 7 passes the
/// password to `load_object`. Errors are fine; a successful load must give a usable
/// policy.
pub fn run_load_identity(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let a_len = usize::from(input.u16());
    let a = input.take(a_len);
    let b = input.rest();
    let (real_cert, real_key) = real_pem();
    let cert = if flags & 1 == 1 {
        real_cert.as_bytes()
    } else {
        a
    };
    let key = if flags & 2 == 2 {
        real_key.as_bytes()
    } else {
        b
    };
    let password = if flags & 4 == 4 { "test-password" } else { "" };

    if let Ok(id) = Identity::from_pem(cert, key) {
        usable_identity(id);
    }
    if let Ok(key) = PrivateKeyDer::try_from(key.to_vec()) {
        let chain = vec![CertificateDer::from(cert.to_vec())];
        if let Ok(id) = Identity::from_der(chain, key) {
            usable_identity(id);
        }
    }
    if let Ok(id) = Identity::from_pem_encrypted(cert, key, password) {
        usable_identity(id);
    }
    if let Ok(id) = Identity::from_pkcs12(key, password) {
        usable_identity(id);
    }

    let cert_path = scratch_file("cert");
    let key_path = scratch_file("key");
    if std::fs::write(&cert_path, cert).is_err() || std::fs::write(&key_path, key).is_err() {
        return;
    }
    if let Ok(id) = Identity::from_pem_files(&cert_path, &key_path) {
        usable_identity(id);
    }
    if let Ok(policy) = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_roots_pem_file(&cert_path)
    {
        let _ = Connector::new(policy);
    }
    // A certificate kind reads A, then B as a PKCS#8 key; a key kind (or PKCS#12) reads
    // B, then A as my certificate.
    let kind = OBJECT_KINDS[usize::from((flags >> 3) & 0x0f) % OBJECT_KINDS.len()];
    let password = (flags & 0x80 == 0x80).then_some(password);
    let (first, second, second_kind) = match kind {
        ObjectKind::X509Cert | ObjectKind::X509CaCert => (&cert_path, &key_path, ObjectKind::Pkcs8),
        _ => (&key_path, &cert_path, ObjectKind::X509Cert),
    };
    let loaded = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .load_object(kind, first, password)
        .and_then(|p| p.load_object(second_kind, second, password));
    if let Ok(policy) = loaded {
        let _ = format!("{policy:?}");
        let _ = Acceptor::new(policy);
    }
    let _ = std::fs::remove_file(&cert_path);
    let _ = std::fs::remove_file(&key_path);
}

/// A loaded identity: its chain is not empty, its `Debug` shows no key, and a server
/// policy with it compiles or fails with an error (never a panic).
fn usable_identity(id: Identity) {
    assert!(!id.chain().is_empty(), "an identity with no certificate");
    let shown = format!("{id:?}");
    assert!(
        !shown.contains("PRIVATE KEY"),
        "Debug shows the key: {shown}"
    );
    let _ = Acceptor::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .identity(id.clone()),
    );
    let _ = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .danger_accept_invalid_certs(true)
            .identity(id),
    );
}

// ---------------------------------------------------------------------------------------
// host_port

/// A connector with a trivial policy, for name checks.
fn plain_connector() -> &'static Connector {
    static ONE: OnceLock<Connector> = OnceLock::new();
    ONE.get_or_init(|| {
        Connector::new(
            Policy::new()
                .ca_bundle(CaBundle::Empty)
                .danger_accept_invalid_certs(true)
                .handshake_timeout(None),
        )
        .expect("plain client policy")
    })
}

/// `host_port`: input = `host \0 port` (lossy UTF-8; no `\0` means no port).
///
/// `Port::from(&str).number()` must agree with plain decimal parsing; the host goes to
/// `connect_with` over a `duplex()` with no peer (polled once: either a name error, or
/// the ClientHello sent and the client waiting), to `Policy::server_name` through
/// `Connector::new`, and with the port to `connect_proto(.., Proto::Udp)`, which must be
/// refused as Unsupported at once, before any lookup. Nothing does DNS.
pub fn run_host_port(data: &[u8]) {
    let (host, port) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let host = String::from_utf8_lossy(host);
    let port_text = String::from_utf8_lossy(port);

    let port = Port::from(port_text.as_ref());
    let _ = (format!("{port:?}"), port.to_string());
    match port.number() {
        Ok(n) => {
            let trimmed = port_text.trim();
            if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                assert_eq!(trimmed.parse::<u16>().ok(), Some(n), "port {trimmed:?}");
            }
            assert_eq!(Port::from(n.to_string().as_str()).number().ok(), Some(n));
            assert_eq!(Port::from(n).number().ok(), Some(n));
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "port {port_text:?}: {e}"),
    }

    let connector = plain_connector();
    let (io, _peer) = tlsport::duplex(64 * 1024);
    match poll_once(connector.connect_with(&host, io)) {
        Poll::Pending => {
            // The name was accepted: the same name must be a valid policy override.
            assert!(
                Connector::new(
                    Policy::new()
                        .ca_bundle(CaBundle::Empty)
                        .danger_accept_invalid_certs(true)
                        .server_name(&host)
                )
                .is_ok(),
                "{host:?} accepted by connect_with but not by Policy::server_name"
            );
        }
        Poll::Ready(Ok(_)) => panic!("a handshake finished with no peer"),
        Poll::Ready(Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "host {host:?}: {e}");
            let bare = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(&host);
            assert!(
                bare.parse::<IpAddr>().is_err(),
                "the IP address {host:?} was refused: {e}"
            );
        }
    }

    match poll_once(connector.connect_proto(&host, port, Proto::Udp)) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}"),
        Poll::Ready(Ok(_)) => panic!("connect_proto(Udp) connected"),
        Poll::Pending => panic!("connect_proto(Udp) did not refuse at once"),
    }
}

// ---------------------------------------------------------------------------------------
// The seed corpus

/// A transport that records what passes through it.
struct Tap<S> {
    io: S,
    read: Rc<RefCell<Vec<u8>>>,
    wrote: Rc<RefCell<Vec<u8>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.read.borrow_mut().extend_from_slice(&buf[..n]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.wrote.borrow_mut().extend_from_slice(&buf[..n]);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

/// A whole conversation between a tlsport client (policy `client_policy(client)`) and
/// server (`server_policy(server)`): a request, a response, close_notify both ways.
/// Returns (bytes the client wrote, bytes the server wrote).
pub fn capture(client: usize, server: usize) -> (Vec<u8>, Vec<u8>) {
    let connector = Connector::new(client_policy(client)).expect("client policy");
    let acceptor = Acceptor::new(server_policy(server)).expect("server policy");
    let (c_io, s_io) = tlsport::duplex(64 * 1024);
    let tap = Tap {
        io: c_io,
        read: Rc::default(),
        wrote: Rc::default(),
    };
    let (from_server, from_client) = (tap.read.clone(), tap.wrote.clone());
    complete(
        async {
            let (c, s) = futures_lite::future::zip(
                connector.connect_with("localhost", tap),
                acceptor.accept(s_io),
            )
            .await;
            let (mut c, mut s) = (c.expect("client"), s.expect("server"));
            c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .unwrap();
            c.flush().await.unwrap();
            let mut request = [0u8; 64];
            let _ = s.read(&mut request).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .await
                .unwrap();
            s.close().await.unwrap();
            let mut response = Vec::new();
            c.read_to_end(&mut response).await.unwrap();
            c.close().await.unwrap();
        },
        1_000_000,
        "seed capture",
    );
    let client_bytes = from_client.borrow().clone();
    let server_bytes = from_server.borrow().clone();
    (client_bytes, server_bytes)
}

fn framed(variant: u8, schedule: &[u8], peer: &[u8]) -> Vec<u8> {
    let mut v = vec![variant, schedule.len() as u8];
    v.extend_from_slice(schedule);
    v.extend_from_slice(peer);
    v
}

/// stream_ops opcodes: `op(kind, side)` with side 0 = client, 1 = server.
fn op(kind: u8, side: u8) -> u8 {
    (kind << 1) | side
}

fn write_op(side: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![op(2, side)];
    v.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    v.extend_from_slice(bytes);
    v
}

/// The seed corpus: (target, file name, bytes). Certificates only: every key is made
/// at run time.
pub fn seed_corpus() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, data: Vec<u8>| {
        seeds.push((target, name.to_owned(), data));
    };

    // Real conversations: client variant, server variant, name.
    let pairs = [
        (0, 0, "tls13"),
        (2, 2, "tls12"),
        (3, 3, "tls13-alpn"),
        (5, 5, "tls12-alpn"),
        (12, 24, "tls13-mtls"),
        (14, 26, "tls12-mtls"),
    ];
    let schedule = [
        0x04, 0x05, 0x08, 0x02, 0x01, 0x10, 0x06, 0x0c, 0x0d, 0x02, 0x00, 0x03,
    ];
    for (client, server, name) in pairs {
        let (from_client, from_server) = capture(client, server);
        add(
            "client_handshake",
            &format!("server-flight-{name}"),
            framed(client as u8, &[], &from_server),
        );
        add(
            "server_handshake",
            &format!("client-flight-{name}"),
            framed(server as u8, &[], &from_client),
        );
        if client == 0 {
            add(
                "client_handshake",
                "server-flight-tls13-scheduled",
                framed(client as u8, &schedule, &from_server),
            );
            add(
                "server_handshake",
                "client-flight-tls13-scheduled",
                framed(server as u8, &schedule, &from_client),
            );
        }
    }
    for target in ["client_handshake", "server_handshake"] {
        add(
            target,
            "http-text",
            framed(0, &[], b"GET / HTTP/1.1\r\n\r\n"),
        );
        add(
            target,
            "alert",
            framed(1, &[], &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
        );
        add(target, "schedule-only", framed(0, &[0xff, 0xfe, 0x04], &[]));
    }

    // stream_ops: config byte = buffer index + 8 * pair variant.
    let mut chat = vec![4];
    chat.extend(write_op(0, b"hello server"));
    chat.extend([op(1, 1), op(0, 1), 3]);
    chat.extend(write_op(1, b"hello client"));
    chat.extend([op(5, 1), op(1, 0), op(6, 0), op(1, 1), op(6, 1), op(1, 0)]);
    add("stream_ops", "chat-tls13", chat.clone());
    chat[0] = 2 * 8 + 2;
    add("stream_ops", "chat-tls12-64b", chat);

    let mut split = vec![1];
    split.extend([op(7, 0)]);
    split.extend(write_op(0, b"through the write half"));
    split.extend([op(12, 0), op(10, 0), op(1, 1), op(7, 1), op(8, 1), op(8, 0)]);
    split.extend(write_op(1, b"back"));
    split.extend([op(12, 1), op(9, 0), op(1, 0)]);
    add("stream_ops", "split-reunite-1b", split);

    let mut flood = vec![3 * 8 + 5];
    flood.extend([
        op(4, 0),
        63,
        b'x',
        op(4, 0),
        63,
        b'y',
        op(1, 1),
        op(5, 0),
        op(6, 0),
    ]);
    flood.extend([op(11, 1), 0, op(1, 0), op(6, 1)]);
    add("stream_ops", "flood-ragged-drop", flood);

    // load_identity: [flags, len(A) u16 LE, A, B]; flags bit 0 / 1 swap in the real
    // certificate / key, bits 3.. pick the ObjectKind.
    let made = rcgen::generate_simple_self_signed(vec!["seed.test".to_owned()])
        .expect("rcgen certificate");
    let (cert_pem, cert_der) = (made.cert.pem(), made.cert.der().to_vec());
    let with = |flags: u8, a: &[u8], b: &[u8]| {
        let mut v = vec![flags];
        v.extend_from_slice(&(a.len() as u16).to_le_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        v
    };
    add("load_identity", "real-pair", with(3, b"", b""));
    add(
        "load_identity",
        "cert-pem-real-key",
        with(2, cert_pem.as_bytes(), b""),
    );
    add(
        "load_identity",
        "cert-der-real-key-pkcs8",
        with(2 | (3 << 3), &cert_der, b""),
    );
    add(
        "load_identity",
        "cert-pem-ca-kind",
        with(1 << 3, cert_pem.as_bytes(), b"\x30\x03\x02\x01\x00"),
    );
    let mut garbage = cert_pem.clone().into_bytes();
    garbage.extend_from_slice(b"\n-----BEGIN CERTIFICATE-----\nnot base64!\n");
    add(
        "load_identity",
        "garbage-after-cert",
        with(0, &garbage, b""),
    );
    add(
        "load_identity",
        "password-pkcs12",
        with(4 | 0x80 | (4 << 3), &cert_der, b"\x30\x82\x01\x00"),
    );

    // host_port: host \0 port.
    for (i, text) in [
        &b"localhost\x00https"[..],
        b"127.0.0.1\x00443",
        b"[::1]\x00 8443 ",
        b"::1\x0065535",
        b"exa_mple..com\x0065536",
        b"xn--bcher-kva.example\x00IMAPS",
        b"[fe80::1%eth0]\x00-1",
        b"256.1.1.1\x00",
        b"a.b.c.\x00https-alt",
        b"\x00",
    ]
    .into_iter()
    .enumerate()
    {
        add("host_port", &format!("host-port-{i}"), text.to_vec());
    }
    seeds
}
