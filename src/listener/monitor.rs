//! What a [`Listener`](super::Listener) tells about its handshakes: counters
//! ([`ListenerStats`]) and a hook called on every failure ([`HandshakeFailure`]).
//!
//! Every handshake a listener starts, whether `accept` runs it or the caller of
//! `accept_handshake` does wherever it spawned it, carries a [`Tracker`]: a handle on the
//! listener's [`Monitor`] that counts the handshake in when the TCP connection is accepted
//! and out when it finishes, fails, is evicted or is dropped.

use std::fmt;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::error::{Chain, Error, ErrorKind};

/// What a [`Listener`](crate::Listener) has counted since it was bound, from
/// [`Listener::stats`](crate::Listener::stats).
///
/// Handshakes run by [`Listener::accept`](crate::Listener::accept) and those handed out
/// by [`Listener::accept_handshake`](crate::Listener::accept_handshake) are counted
/// alike. Each counter is read on its own, so a snapshot taken while handshakes finish
/// may be a handshake or two apart between fields.
///
/// `accepted - succeeded - failed - in_flight` is the number of handshakes dropped
/// unfinished by their owner (a [`Handshake`](crate::Handshake) dropped before it
/// completed, or in flight in a listener that was dropped).
///
/// # Examples
///
/// ```no_run
/// # async fn run(acceptor: tlsport::Acceptor) -> tlsport::Result<()> {
/// let listener = acceptor.bind("", 8443).await?;
/// // ... later, from a task that reports metrics:
/// let stats = listener.stats();
/// println!(
///     "{} handshakes in flight; {} failed of {} ({} timed out)",
///     stats.in_flight, stats.failed, stats.accepted, stats.timed_out
/// );
/// # Ok(()) }
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// TCP connections accepted: handshakes started.
    pub accepted: u64,
    /// Handshakes that finished.
    pub succeeded: u64,
    /// Handshakes that failed, the `timed_out` and `evicted` ones included.
    pub failed: u64,
    /// Handshakes that passed the policy's handshake timeout
    /// ([`ErrorKind::TimedOut`]).
    pub timed_out: u64,
    /// Handshakes dropped to make room for a new connection when the listener was full
    /// (see [`Listener::set_max_handshakes`](crate::Listener::set_max_handshakes)).
    pub evicted: u64,
    /// Handshakes started and not yet finished, failed or dropped.
    pub in_flight: usize,
}

/// A failed handshake, as the hook of
/// [`Listener::on_handshake_error`](crate::Listener::on_handshake_error) sees it.
///
/// # Examples
///
/// Counting the clients that never finish, per address:
///
/// ```no_run
/// use std::collections::HashMap;
/// use std::net::IpAddr;
/// use std::sync::Mutex;
/// use tlsport::ErrorKind;
///
/// # async fn run(listener: tlsport::Listener) -> tlsport::Result<()> {
/// let slow: Mutex<HashMap<IpAddr, u32>> = Mutex::default();
/// listener.on_handshake_error(move |failure| {
///     if failure.kind == ErrorKind::TimedOut || failure.evicted {
///         let mut slow = slow.lock().unwrap();
///         *slow.entry(failure.peer.ip()).or_default() += 1;
///     }
/// });
/// # Ok(()) }
/// ```
#[non_exhaustive]
#[derive(Debug)]
pub struct HandshakeFailure<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The error's kind: [`ErrorKind::TimedOut`] for a client that did not finish in
    /// time (or an evicted one), [`ErrorKind::Tls`] for one that does not speak TLS or
    /// sent something wrong, [`ErrorKind::Io`] for a connection closed or reset
    /// mid-handshake, [`ErrorKind::Certificate`] for a client certificate refused.
    pub kind: ErrorKind,
    /// From the TCP accept to the failure.
    pub elapsed: Duration,
    /// Whether the listener dropped the handshake to make room for a new connection,
    /// rather than the handshake failing on its own (`kind` is then
    /// [`ErrorKind::TimedOut`]).
    pub evicted: bool,
    /// The error itself; the caller of a spawned [`Handshake`](crate::Handshake) gets
    /// it too.
    pub error: &'a Error,
}

type Hook = dyn Fn(&HandshakeFailure<'_>) + Send + Sync;

/// The counters and the hook of one listener, shared with every handshake it started.
#[derive(Default)]
pub(crate) struct Monitor {
    accepted: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
    evicted: AtomicU64,
    in_flight: AtomicUsize,
    hook: RwLock<Option<Arc<Hook>>>,
}

impl Monitor {
    pub(crate) fn stats(&self) -> ListenerStats {
        ListenerStats {
            accepted: self.accepted.load(Relaxed),
            succeeded: self.succeeded.load(Relaxed),
            failed: self.failed.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            evicted: self.evicted.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
        }
    }

    pub(crate) fn set_hook(&self, hook: Arc<Hook>) {
        *self.hook.write().unwrap_or_else(PoisonError::into_inner) = Some(hook);
    }

    /// Calls the hook, if any, for a failure counted by [`Tracker::failed`]. Call it
    /// outside every lock: the hook may use the listener. A hook that panics is logged
    /// and otherwise ignored.
    pub(crate) fn report(&self, failed: Failed, error: &Error) {
        let hook = self
            .hook
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(hook) = hook else {
            return;
        };
        let failure = HandshakeFailure {
            peer: failed.peer,
            kind: error.kind(),
            elapsed: failed.elapsed,
            evicted: failed.evicted,
            error,
        };
        if catch_unwind(AssertUnwindSafe(|| hook(&failure))).is_err() {
            log::warn!(
                "the handshake failure hook panicked (on the failure from {}); \
                 the listener carries on",
                failed.peer
            );
        }
    }
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// One handshake's handle on its listener's [`Monitor`]: counted in when made (at the
/// TCP accept), out when it ends one way or another, dropped included.
#[derive(Debug)]
pub(crate) struct Tracker {
    monitor: Arc<Monitor>,
    peer: SocketAddr,
    started: Instant,
    open: bool,
}

impl Tracker {
    pub(crate) fn new(monitor: Arc<Monitor>, peer: SocketAddr, started: Instant) -> Tracker {
        monitor.accepted.fetch_add(1, Relaxed);
        monitor.in_flight.fetch_add(1, Relaxed);
        Tracker {
            monitor,
            peer,
            started,
            open: true,
        }
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Counts the handshake out; false if it was already.
    fn close(&mut self) -> bool {
        let was_open = std::mem::take(&mut self.open);
        if was_open {
            self.monitor.in_flight.fetch_sub(1, Relaxed);
        }
        was_open
    }

    pub(crate) fn succeeded(&mut self) {
        if self.close() {
            self.monitor.succeeded.fetch_add(1, Relaxed);
        }
    }

    /// Counts and logs a failure; returns it for [`Monitor::report`], to be called
    /// outside the caller's locks. `None` if the handshake had ended already.
    pub(crate) fn failed(&mut self, error: &Error, evicted: bool) -> Option<Failed> {
        if !self.close() {
            return None;
        }
        let monitor = &self.monitor;
        monitor.failed.fetch_add(1, Relaxed);
        let elapsed = self.started.elapsed();
        if evicted {
            monitor.evicted.fetch_add(1, Relaxed);
        } else if error.kind() == ErrorKind::TimedOut {
            monitor.timed_out.fetch_add(1, Relaxed);
        }
        log::info!(
            "tls handshake with {} failed after {elapsed:.1?}: {}",
            self.peer,
            Chain(error)
        );
        Some(Failed {
            peer: self.peer,
            elapsed,
            evicted,
        })
    }

    /// The listener's monitor, for [`Monitor::report`].
    pub(crate) fn monitor(&self) -> &Monitor {
        &self.monitor
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.close();
    }
}

/// A failure counted, its hook call still to come.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Failed {
    peer: SocketAddr,
    elapsed: Duration,
    evicted: bool,
}
