//! How [`Listener::accept`] runs handshakes inside its own future: a set of handshakes
//! in flight, bounded, with the oldest evicted for a newcomer once the set is full,
//! polled by whichever task waits in `accept`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;
use async_net::TcpStream;

use crate::error::{Error, Result};
use crate::handshake::Handshake;
use crate::stream::TlsStream;

use super::Listener;
use super::inflight::{InFlight, WaiterId};
use super::monitor::{Failed, Tracker};

/// The default bound on handshakes in flight.
const DEFAULT_MAX_HANDSHAKES: usize = 256;
/// How long a handshake keeps its slot against newcomers once the listener is full.
const EVICT_AFTER: Duration = Duration::from_secs(1);

/// A handshake run by `accept`, and where it came from.
pub(super) struct Handshaking {
    started: Instant,
    peer: SocketAddr,
    handshake: Handshake<TcpStream>,
}

impl Future for Handshaking {
    /// The failure, if any, is still to be reported to the hook, outside the lock.
    type Output = (SocketAddr, Result<TlsStream<TcpStream>>, Option<Failed>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let peer = self.peer;
        self.handshake
            .poll_tracked(cx)
            .map(|(result, failed)| (peer, result, failed))
    }
}

/// Failures to report to the hook once the listener's lock is released.
type Failures = Vec<(Failed, Error)>;

pub(super) struct State {
    pub(super) handshakes: InFlight<Handshaking>,
    pub(super) max_handshakes: usize,
    /// When the oldest handshake of a full listener may be evicted, and a timer set
    /// for then.
    pub(super) evict_at: Option<(Instant, Timer)>,
}

impl State {
    pub(super) fn new(handshakes: InFlight<Handshaking>) -> State {
        State {
            handshakes,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            evict_at: None,
        }
    }
}

impl Listener {
    /// One look at the listener by the waiter `id` (joined on its first look, left
    /// when it gets its answer).
    ///
    /// The timers and the handshakes are all polled with the waiters' own waker (and
    /// the socket with its own, see [`Socket`](super::socket::Socket)), never with a
    /// task's: each keeps one waker however many tasks wait, and a wake-up of any of
    /// them wakes one waiting task (see [`Waiters`](super::inflight::Waiters)).
    pub(super) fn poll_accept(
        &self,
        id: &mut Option<WaiterId>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(TlsStream<TcpStream>, SocketAddr)>> {
        self.waiters.enter(id, cx.waker());
        let mut shared = Context::from_waker(self.waiters.waker());
        let mut failures = Failures::new();
        let (result, freed_a_slot_of_a_full_listener) = {
            let mut state = self.state();
            let result = self.poll_state(&mut state, &mut shared, &mut failures);
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
        for (failed, error) in failures {
            self.monitor.report(failed, &error);
        }
        result
    }

    fn poll_state(
        &self,
        state: &mut State,
        cx: &mut Context<'_>,
        failures: &mut Failures,
    ) -> Poll<Result<(TlsStream<TcpStream>, SocketAddr)>> {
        loop {
            self.poll_new_connections(state, cx, failures)?;
            let was_full = state.handshakes.len() >= state.max_handshakes;
            let mut finished = false;
            while let Poll::Ready((peer, result, failed)) = state.handshakes.poll_next() {
                finished = true;
                match result {
                    Ok(stream) => return Poll::Ready(Ok((stream, peer))),
                    Err(err) => failures.extend(failed.map(|failed| (failed, err))),
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
    fn poll_new_connections(
        &self,
        state: &mut State,
        cx: &mut Context<'_>,
        failures: &mut Failures,
    ) -> Result<()> {
        loop {
            let full = state.handshakes.len() >= state.max_handshakes;
            if full && !self.poll_evictable(state, cx) {
                return Ok(());
            }
            let (socket, peer) = match self.socket.poll_accept() {
                Poll::Ready(taken) => taken?,
                Poll::Pending => return Ok(()),
            };
            if full {
                evict_oldest(state, failures);
            }
            let started = Instant::now();
            let tracker = Tracker::new(self.monitor.clone(), peer, started);
            state.handshakes.insert(Handshaking {
                started,
                peer,
                handshake: Handshake::new(&self.acceptor, socket, started, Some(tracker)),
            });
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
fn evict_oldest(state: &mut State, failures: &mut Failures) {
    if let Some(evicted) = state.handshakes.remove_min_by_key(|h| h.started) {
        let (err, failed) = evicted.handshake.evict();
        failures.extend(failed.map(|failed| (failed, err)));
    }
}
