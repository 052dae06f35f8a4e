//! [`Listener`]: a TCP listener whose `accept` yields finished TLS handshakes, running
//! many handshakes at once so that no client can stall the others.

mod accept_error;
mod inflight;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use async_net::TcpStream;
use futures_lite::Stream;

use crate::acceptor::Acceptor;
use crate::error::{Chain, Error, ErrorKind, Result};
use crate::net::{self, Port};
use crate::stream::TlsStream;

use self::accept_error::{AcceptError, classify};
use self::inflight::{InFlight, WaiterId, Waiters};

/// The default bound on handshakes in flight.
const DEFAULT_MAX_HANDSHAKES: usize = 256;
/// How long to wait after a transient `accept` error (too many open files, ...).
const BACKOFF: Duration = Duration::from_millis(100);
/// How many per-connection `accept` errors in a row are taken before backing off: an
/// error that does not take the connection out of the queue (a security module refusing
/// every accept with `EPERM`) would otherwise keep `accept` busy for ever.
const MAX_ERRORS_IN_A_ROW: u32 = 16;
/// How long a handshake keeps its slot against newcomers once the listener is full.
const EVICT_AFTER: Duration = Duration::from_secs(1);

type BoxedHandshake =
    Pin<Box<dyn Future<Output = (SocketAddr, Result<TlsStream<TcpStream>>)> + Send>>;

/// A handshake in flight and when it started.
struct Handshaking {
    started: Instant,
    peer: SocketAddr,
    handshake: BoxedHandshake,
}

impl Future for Handshaking {
    type Output = (SocketAddr, Result<TlsStream<TcpStream>>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.handshake.as_mut().poll(cx)
    }
}

impl Acceptor {
    /// Listens for TCP connections on `host:port` and serves TLS on them.
    ///
    /// `""` binds all addresses; port 0 picks a free port (see
    /// [`Listener::local_addr`]).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a bad host or
    /// port, [`ErrorKind::Resolve`](crate::ErrorKind::Resolve),
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the address cannot be bound.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is bound until the future completes.
    pub async fn bind(&self, host: &str, port: impl Into<Port>) -> Result<Listener> {
        let tcp = net::bind(host, port.into()).await?;
        Ok(Listener::new(self.clone(), tcp))
    }
}

/// A TLS server socket, from [`Acceptor::bind`].
///
/// [`Listener::accept`] accepts TCP connections and runs their handshakes concurrently
/// inside its own future: no task is spawned, so it works on any executor. A handshake
/// that fails or passes the policy's handshake timeout is logged (the `log` crate, at
/// `info`) with the peer address and dropped; it never ends the loop and never delays
/// other clients.
///
/// `accept` may be called from any number of tasks at once, on any threads (share the
/// listener in an `Arc`): each finished handshake goes to one of them, an idle listener
/// costs no CPU however many tasks wait on it, and a task that stops waiting leaves the
/// handshakes in flight to the others.
///
/// # Caveats
///
/// Handshakes make progress only while `accept` (or [`Incoming`]) is being polled:
/// call it in a loop, and hand each connection to a task of its own. Whichever task is
/// waiting in `accept` runs the handshakes, one at a time: more waiting tasks do not
/// make more handshakes run in parallel.
///
/// # Examples
///
/// ```no_run
/// # async fn run(acceptor: tlsport::Acceptor) -> tlsport::Result<()> {
/// let listener = acceptor.bind("127.0.0.1", 8443).await?;
/// loop {
///     let (stream, peer) = listener.accept().await?;
///     println!("{peer} speaks {:?}", stream.info().protocol_version);
///     // hand `stream` to a task of its own
/// }
/// # }
/// ```
pub struct Listener {
    acceptor: Acceptor,
    tcp: Async<TcpListener>,
    /// The tasks in `accept`: those of the handshake set, reachable without the lock.
    waiters: Waiters,
    state: Mutex<State>,
}

struct State {
    handshakes: InFlight<Handshaking>,
    max_handshakes: usize,
    backoff: Option<Timer>,
    /// When the oldest handshake of a full listener may be evicted, and a timer set
    /// for then.
    evict_at: Option<(Instant, Timer)>,
}

impl Listener {
    fn new(acceptor: Acceptor, tcp: Async<TcpListener>) -> Listener {
        let handshakes = InFlight::new();
        Listener {
            acceptor,
            tcp,
            waiters: handshakes.waiters(),
            state: Mutex::new(State {
                handshakes,
                max_handshakes: DEFAULT_MAX_HANDSHAKES,
                backoff: None,
                evict_at: None,
            }),
        }
    }

    /// The next connection whose handshake has finished, with the peer's address.
    ///
    /// Any number of tasks may wait here at once; each finished handshake goes to one.
    ///
    /// # Errors
    ///
    /// Only when the listening socket itself fails ([`ErrorKind::Io`]); failed
    /// handshakes, and connections that fail before they are accepted (reset, aborted,
    /// refused by a firewall, ...), are logged and skipped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: handshakes in flight are kept in the listener and carry on at the
    /// next call, or in another task's call.
    pub async fn accept(&self) -> Result<(TlsStream<TcpStream>, SocketAddr)> {
        let mut waiter = Waiter {
            waiters: &self.waiters,
            id: None,
        };
        futures_lite::future::poll_fn(|cx| self.poll_accept(&mut waiter.id, cx)).await
    }

    /// A stream of finished handshakes.
    ///
    /// Several streams (or a stream and calls to [`Listener::accept`]) may be used from
    /// several tasks at once; each finished handshake goes to one of them.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            waiter: None,
        }
    }

    /// The address this listener is bound to (with the port picked for port 0).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] if the system cannot tell.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.tcp
            .get_ref()
            .local_addr()
            .map_err(|e| Error::with_source(ErrorKind::Io, "cannot read the local address", e))
    }

    /// Sets how many handshakes may be in flight at once (default 256, at least 1). When
    /// the bound is reached, new TCP connections wait in the kernel's backlog; a waiting
    /// connection takes the place of the oldest handshake once that one has run for a
    /// second, so clients that never finish cannot hold every slot.
    pub fn set_max_handshakes(&self, max: usize) {
        self.state().max_handshakes = max.max(1);
        // A raised bound may let a waiter accept at once.
        self.waiters.notify();
    }

    /// The acceptor this listener serves with.
    pub fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One look at the listener by the waiter `id` (joined on its first look, left
    /// when it gets its answer).
    ///
    /// The socket, the timers and the handshakes are all polled with the waiters' own
    /// waker, never with a task's: each keeps one waker however many tasks wait, and a
    /// wake-up of any of them wakes one waiting task (see [`Waiters`]).
    fn poll_accept(
        &self,
        id: &mut Option<WaiterId>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(TlsStream<TcpStream>, SocketAddr)>> {
        self.waiters.enter(id, cx.waker());
        let mut shared = Context::from_waker(self.waiters.waker());
        let (result, freed_a_slot_of_a_full_listener) = {
            let mut state = self.state();
            let result = self.poll_state(&mut state, &mut shared);
            let was_full = state.handshakes.len() + 1 >= state.max_handshakes;
            let freed = matches!(result, Poll::Ready(Ok(_))) && was_full;
            (result, freed)
        };
        if result.is_ready() {
            self.waiters.leave(id);
            if freed_a_slot_of_a_full_listener {
                // A connection may be waiting in the backlog for that slot.
                self.waiters.notify();
            }
        }
        result
    }

    fn poll_state(
        &self,
        state: &mut State,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(TlsStream<TcpStream>, SocketAddr)>> {
        loop {
            self.poll_new_connections(state, cx)?;
            let was_full = state.handshakes.len() >= state.max_handshakes;
            let mut finished = false;
            while let Poll::Ready((peer, result)) = state.handshakes.poll_next() {
                finished = true;
                match result {
                    Ok(stream) => return Poll::Ready(Ok((stream, peer))),
                    Err(err) => log::info!("tls handshake with {peer} failed: {}", Chain(&err)),
                }
            }
            // Failed handshakes freed slots that new connections may be waiting for.
            if !(was_full && finished) {
                return Poll::Pending;
            }
        }
    }

    /// Accepts TCP connections while there is room, starting a handshake for each.
    ///
    /// When the listener is full and a connection is waiting, the oldest handshake gives
    /// its place up once it has had [`EVICT_AFTER`]: a flood of clients that never finish
    /// cannot hold every slot until the handshake timeout.
    fn poll_new_connections(&self, state: &mut State, cx: &mut Context<'_>) -> Result<()> {
        let mut errors_in_a_row = 0;
        loop {
            if let Some(timer) = state.backoff.as_mut() {
                if Pin::new(timer).poll(cx).is_pending() {
                    return Ok(());
                }
                state.backoff = None;
            }
            let full = state.handshakes.len() >= state.max_handshakes;
            if full && !self.poll_evictable(state, cx) {
                return Ok(());
            }
            let e = match self.tcp.get_ref().accept() {
                Ok((socket, peer)) => {
                    errors_in_a_row = 0;
                    match TcpStream::try_from(socket) {
                        Ok(socket) => {
                            if full {
                                evict_oldest(state);
                            }
                            let acceptor = self.acceptor.clone();
                            state.handshakes.insert(Handshaking {
                                started: Instant::now(),
                                peer,
                                handshake: Box::pin(async move {
                                    (peer, acceptor.accept(socket).await)
                                }),
                            });
                        }
                        Err(err) => {
                            log::info!("cannot register the connection from {peer}: {err}")
                        }
                    }
                    continue;
                }
                Err(e) => e,
            };
            match classify(&e) {
                AcceptError::WouldBlock => match self.tcp.poll_readable(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Err(accept_error(e)),
                    Poll::Pending => return Ok(()),
                },
                AcceptError::PerConnection => {
                    errors_in_a_row += 1;
                    if errors_in_a_row < MAX_ERRORS_IN_A_ROW {
                        log::info!("a connection failed before it was accepted: {e}");
                    } else {
                        log::warn!(
                            "accept failed {errors_in_a_row} times in a row (the last: {e}); \
                             retrying in {BACKOFF:?}"
                        );
                        state.backoff = Some(Timer::after(BACKOFF));
                    }
                }
                AcceptError::ResourceShortage => {
                    log::warn!("accept failed ({e}); retrying in {BACKOFF:?}");
                    state.backoff = Some(Timer::after(BACKOFF));
                }
                AcceptError::Listener => return Err(accept_error(e)),
            }
        }
    }

    /// Whether the oldest handshake of a full listener may give its place up now; if not
    /// yet, a timer wakes the listener when it may. The timer is set again only when the
    /// oldest handshake changes.
    fn poll_evictable(&self, state: &mut State, cx: &mut Context<'_>) -> bool {
        let Some(oldest) = state.handshakes.min_key(|h| h.started) else {
            return false;
        };
        let when = oldest + EVICT_AFTER;
        if when <= Instant::now() {
            state.evict_at = None;
            return true;
        }
        let (at, timer) = state
            .evict_at
            .get_or_insert_with(|| (when, Timer::at(when)));
        if *at != when {
            *at = when;
            timer.set_at(when);
        }
        if Pin::new(timer).poll(cx).is_ready() {
            state.evict_at = None;
            return true;
        }
        false
    }
}

/// Drops the oldest handshake in flight, to make room.
fn evict_oldest(state: &mut State) {
    if let Some(evicted) = state.handshakes.remove_min_by_key(|h| h.started) {
        log::info!(
            "tls handshake with {} dropped after {:?}: the listener is full and a new \
             connection is waiting",
            evicted.peer,
            evicted.started.elapsed()
        );
    }
}

fn accept_error(e: io::Error) -> Error {
    Error::with_source(ErrorKind::Io, "accept failed", e)
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Listener")
            .field("local_addr", &self.tcp.get_ref().local_addr().ok())
            .field("handshakes_in_flight", &state.handshakes.len())
            .field("max_handshakes", &state.max_handshakes)
            .finish_non_exhaustive()
    }
}

/// The place of one `accept` call among the listener's waiters, given back when the
/// call ends or is dropped.
struct Waiter<'a> {
    waiters: &'a Waiters,
    id: Option<WaiterId>,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.waiters.leave(&mut self.id);
    }
}

/// The stream of finished handshakes of a [`Listener`], from [`Listener::incoming`].
///
/// It never ends; an item is an error only when the listening socket fails.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a Listener,
    waiter: Option<WaiterId>,
}

impl Stream for Incoming<'_> {
    type Item = Result<TlsStream<TcpStream>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.listener
            .poll_accept(&mut this.waiter, cx)
            .map(|r| Some(r.map(|(stream, _)| stream)))
    }
}

impl Drop for Incoming<'_> {
    fn drop(&mut self) {
        self.listener.waiters.leave(&mut self.waiter);
    }
}
