//! Running fuzzing sessions to their end: replaying bytes into a fresh client or server
//! ([`replay_client`], [`replay_server`]), recording a live one ([`record`]), and the
//! bounded executor under both.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use crate::acceptor::Acceptor;
use crate::connector::Connector;
use crate::duplex::{DuplexStream, duplex};
use crate::error::{Error, ErrorKind, Result};
use crate::stream::{SessionInfo, TlsStream};

use super::certificate::SERVER_NAME;
use super::record::{Recorder, Recording};
use super::transport::{ScriptedTransport, Written};
use super::{client_policy, server_policy};

/// Polls allowed to one replay or recording. Every poll but the last returned `Pending`
/// after a scripted wake-up, so this bounds scripted `Pending` steps, not work.
const MAX_POLLS: usize = 100_000;

/// What a replay came to.
#[derive(Debug)]
#[non_exhaustive]
pub struct Replay<T> {
    /// What the handshake negotiated, or why it failed. A replay that stalled during
    /// the handshake has an [`ErrorKind::TimedOut`] error here.
    pub handshake: Result<SessionInfo>,
    /// What the application returned; `None` when the handshake failed or the
    /// application stalled.
    pub output: Option<T>,
    /// Every byte the replayed side wrote.
    pub written: Vec<u8>,
    /// Whether the session stalled: it waited with nothing left that could wake it, or
    /// took too many scripted `Pending` steps.
    pub stalled: bool,
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut`, whose I/O is all in memory, to its end. `None` when a poll returns
/// `Pending` without anything having woken it (nothing else ever will: a stall), or
/// after `max_polls` polls.
pub(crate) fn run_bounded<F: Future>(fut: F, max_polls: usize) -> Option<F::Output> {
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    for _ in 0..max_polls {
        let before = counter.0.load(Ordering::SeqCst);
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        if counter.0.load(Ordering::SeqCst) == before {
            return None;
        }
    }
    None
}

/// The process's fuzzing connector, built once.
fn connector() -> Result<Connector> {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    if let Some(connector) = CONNECTOR.get() {
        return Ok(connector.clone());
    }
    let connector = Connector::new(client_policy())?;
    Ok(CONNECTOR.get_or_init(|| connector).clone())
}

/// The process's fuzzing acceptor, built once.
fn acceptor() -> Result<Acceptor> {
    static ACCEPTOR: OnceLock<Acceptor> = OnceLock::new();
    if let Some(acceptor) = ACCEPTOR.get() {
        return Ok(acceptor.clone());
    }
    let acceptor = Acceptor::new(server_policy())?;
    Ok(ACCEPTOR.get_or_init(|| acceptor).clone())
}

fn stalled() -> Error {
    Error::new(
        ErrorKind::TimedOut,
        "the fuzzing session stalled: it waited with nothing left to wake it",
    )
}

/// Runs a handshake over `io`, then `app` on the stream.
fn replay<T, H, F, Fut>(written: Written, handshake: H, app: F) -> Replay<T>
where
    H: Future<Output = Result<TlsStream<ScriptedTransport>>>,
    F: FnOnce(TlsStream<ScriptedTransport>) -> Fut,
    Fut: Future<Output = T>,
{
    let mut session = None;
    let outcome = run_bounded(
        async {
            let stream = handshake.await?;
            session = Some(stream.info());
            Ok(app(stream).await)
        },
        MAX_POLLS,
    );
    let stalled_out = outcome.is_none();
    let (handshake, output) = match (outcome, session) {
        (Some(Ok(output)), Some(info)) => (Ok(info), Some(output)),
        (Some(Err(e)), _) => (Err(e), None),
        (None, Some(info)) => (Ok(info), None),
        (None, None) | (Some(Ok(_)), None) => (Err(stalled()), None),
    };
    Replay {
        handshake,
        output,
        written: written.to_vec(),
        stalled: stalled_out,
    }
}

/// Replays `client_bytes` (what a client sent: a fuzz input, or the
/// [`sent`](Recording::sent) side of a client's recording) into a fresh fuzzing server
/// ([`server_policy`]), then runs `app` on the stream once the handshake is done.
///
/// Everything runs here, to its end, on this thread: the handshake, then `app`, whose
/// reads see the application data the bytes carry, then end of stream. Never hangs: a
/// session that waits for bytes that will never come ends as
/// [`stalled`](Replay::stalled). Handshake failures, including every malformed input,
/// are in [`Replay::handshake`].
///
/// # Examples
///
/// A whole cargo-fuzz target for a protocol served over tlsport (`my_protocol::serve`
/// takes any `AsyncRead + AsyncWrite`):
///
/// ```ignore
/// #![no_main]
/// libfuzzer_sys::fuzz_target!(|data: &[u8]| {
///     tlsport::fuzzing::replay_server(data, |stream| my_protocol::serve(stream));
/// });
/// ```
///
/// Seed its corpus with [`record`]ed sessions. See the [module docs](super) for a
/// complete example.
pub fn replay_server<T, F, Fut>(client_bytes: impl Into<ScriptedTransport>, app: F) -> Replay<T>
where
    F: FnOnce(TlsStream<ScriptedTransport>) -> Fut,
    Fut: Future<Output = T>,
{
    match acceptor() {
        Ok(acceptor) => replay_server_with(&acceptor, client_bytes, app),
        Err(e) => failed(client_bytes.into(), e),
    }
}

/// [`replay_server`] with an acceptor of your own, made from [`server_policy`] with
/// settings added (ALPN, versions, client certificates): the bytes must come from a
/// client that was talking to a server with the same settings.
pub fn replay_server_with<T, F, Fut>(
    acceptor: &Acceptor,
    client_bytes: impl Into<ScriptedTransport>,
    app: F,
) -> Replay<T>
where
    F: FnOnce(TlsStream<ScriptedTransport>) -> Fut,
    Fut: Future<Output = T>,
{
    let io = client_bytes.into();
    replay(io.written(), acceptor.accept(io), app)
}

/// Replays `server_bytes` (what a server sent) into a fresh fuzzing client
/// ([`client_policy`]) connecting to `localhost`, then runs `app` on the stream; as
/// [`replay_server`] otherwise.
pub fn replay_client<T, F, Fut>(server_bytes: impl Into<ScriptedTransport>, app: F) -> Replay<T>
where
    F: FnOnce(TlsStream<ScriptedTransport>) -> Fut,
    Fut: Future<Output = T>,
{
    match connector() {
        Ok(connector) => replay_client_with(&connector, server_bytes, app),
        Err(e) => failed(server_bytes.into(), e),
    }
}

/// [`replay_client`] with a connector of your own, made from [`client_policy`] with
/// settings added.
pub fn replay_client_with<T, F, Fut>(
    connector: &Connector,
    server_bytes: impl Into<ScriptedTransport>,
    app: F,
) -> Replay<T>
where
    F: FnOnce(TlsStream<ScriptedTransport>) -> Fut,
    Fut: Future<Output = T>,
{
    let io = server_bytes.into();
    replay(io.written(), connector.connect_with(SERVER_NAME, io), app)
}

fn failed<T>(io: ScriptedTransport, e: Error) -> Replay<T> {
    Replay {
        handshake: Err(e),
        output: None,
        written: io.written().to_vec(),
        stalled: false,
    }
}

/// Runs a fuzzing client ([`client_policy`]) against a fuzzing server
/// ([`server_policy`]) over [`duplex`](crate::duplex), each side running its
/// application after the handshake, and returns what the client sent and received.
///
/// The recording's [`sent`](Recording::sent) bytes are a seed for a server-side target
/// ([`replay_server`]), its [`received`](Recording::received) bytes one for a
/// client-side target ([`replay_client`]); [`Recording::write_corpus`] writes both.
/// Two runs of the same applications record the same bytes.
///
/// A `close_notify` the client sends after the server has dropped its stream cannot be
/// delivered, and so is not in the recording.
///
/// # Errors
///
/// The first error of either side (handshake or application), or
/// [`ErrorKind::TimedOut`] when the session stalled (both sides waiting for the other).
///
/// # Examples
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
///
/// # fn main() -> tlsport::Result<()> {
/// let recording = tlsport::fuzzing::record(
///     |mut client| async move {
///         client.write_all(b"ping").await?;
///         client.close().await
///     },
///     |mut server| async move {
///         let mut ping = Vec::new();
///         server.read_to_end(&mut ping).await?;
///         server.close().await
///     },
/// )?;
/// // Nothing is encrypted: the application data is on the wire.
/// assert!(recording.sent().windows(4).any(|w| w == b"ping"));
/// # Ok(()) }
/// ```
pub fn record<C, CF, S, SF>(client: C, server: S) -> Result<Recording>
where
    C: FnOnce(TlsStream<Recorder<DuplexStream>>) -> CF,
    CF: Future<Output = io::Result<()>>,
    S: FnOnce(TlsStream<DuplexStream>) -> SF,
    SF: Future<Output = io::Result<()>>,
{
    record_with(&connector()?, &acceptor()?, client, server)
}

/// [`record`] with a connector and an acceptor of your own, made from
/// [`client_policy`] and [`server_policy`] with settings added.
///
/// # Errors
///
/// As [`record`].
pub fn record_with<C, CF, S, SF>(
    connector: &Connector,
    acceptor: &Acceptor,
    client: C,
    server: S,
) -> Result<Recording>
where
    C: FnOnce(TlsStream<Recorder<DuplexStream>>) -> CF,
    CF: Future<Output = io::Result<()>>,
    S: FnOnce(TlsStream<DuplexStream>) -> SF,
    SF: Future<Output = io::Result<()>>,
{
    let (client_io, server_io) = duplex(64 * 1024);
    let recorder = Recorder::new(client_io);
    let tape = recorder.tape();
    let client_side = async {
        let stream = connector.connect_with(SERVER_NAME, recorder).await?;
        client(stream).await.map_err(Error::from)
    };
    let server_side = async {
        let stream = acceptor.accept(server_io).await?;
        server(stream).await.map_err(Error::from)
    };
    match run_bounded(
        futures_lite::future::zip(client_side, server_side),
        MAX_POLLS,
    ) {
        Some((Ok(()), Ok(()))) => Ok(tape.recording()),
        Some((Err(e), _) | (_, Err(e))) => Err(e),
        None => Err(stalled()),
    }
}
