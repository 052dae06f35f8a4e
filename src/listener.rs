//! [`Listener`]: a TCP listener whose `accept` yields finished TLS handshakes, running
//! many handshakes at once so that no client can stall the others, and whose
//! `accept_handshake` hands each handshake out as a [`Handshake`] to be spawned.
//!
//! In `listener/`: `socket` takes TCP connections for both (one waker for every task
//! waiting on the socket), `accept` runs the handshakes of `accept` over the `inflight`
//! set, `monitor` counts handshakes and calls the failure hook, `accept_error` sorts
//! the errors of `accept(2)`.

mod accept;
mod accept_error;
mod inflight;
mod monitor;
mod socket;

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::Async;
use async_net::TcpStream;
use futures_lite::Stream;

use crate::acceptor::Acceptor;
use crate::error::{Error, ErrorKind, Result};
use crate::handshake::Handshake;
use crate::net::{self, Port};
use crate::stream::TlsStream;

use self::accept::State;
use self::inflight::{InFlight, WaiterId, Waiters};
pub(crate) use self::monitor::{Failed, Monitor, Tracker};
pub use self::monitor::{HandshakeFailure, ListenerStats};
use self::socket::Socket;

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
/// Two ways to serve from it, which may be mixed (each TCP connection goes to one
/// caller of either):
///
/// - [`Listener::accept`] accepts TCP connections and runs their handshakes concurrently
///   inside its own future: no task is spawned, so it works on any executor.
/// - [`Listener::accept_handshake`] returns right after the TCP accept with the
///   handshake as a future of its own, a [`Handshake`], for the caller to spawn: the
///   handshakes then run on every thread of a multi-threaded executor.
///
/// A handshake that fails or passes the policy's handshake timeout is logged (the `log`
/// crate, at `info`) with the peer address, counted in [`Listener::stats`] and shown to
/// the hook of [`Listener::on_handshake_error`]; it never ends the loop and never
/// delays other clients.
///
/// `accept` and `accept_handshake` may be called from any number of tasks at once, on
/// any threads (share the listener in an `Arc`): each connection goes to one of them,
/// an idle listener costs no CPU however many tasks wait on it, and a task that stops
/// waiting in `accept` leaves the handshakes in flight to the others.
///
/// # Caveats
///
/// Handshakes run by `accept` make progress only while `accept` (or [`Incoming`]) is
/// being polled: call it in a loop, and hand each connection to a task of its own.
/// Whichever task is waiting in `accept` runs those handshakes, one at a time: more
/// waiting tasks do not make more handshakes run in parallel. Use `accept_handshake`
/// for that.
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
    socket: Socket,
    /// The tasks in `accept`: those of the handshake set, reachable without the lock.
    waiters: Waiters,
    /// The tasks in `accept_handshake`.
    takers: Waiters,
    monitor: Arc<Monitor>,
    state: Mutex<State>,
}

impl Listener {
    fn new(acceptor: Acceptor, tcp: Async<TcpListener>) -> Listener {
        let handshakes = InFlight::new();
        let (waiters, takers) = (handshakes.waiters(), Waiters::new());
        Listener {
            acceptor,
            socket: Socket::new(tcp, waiters.clone(), takers.clone()),
            waiters,
            takers,
            monitor: Arc::default(),
            state: Mutex::new(State::new(handshakes)),
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

    /// The next TCP connection, with its handshake still to run: a `Send + 'static`
    /// future to spawn wherever you like, so that handshakes run on every core.
    ///
    /// The [`Handshake`] runs [`Acceptor::accept`] within the policy's handshake timeout,
    /// counted from now. Its failures are counted in [`Listener::stats`] and shown to
    /// the [`Listener::on_handshake_error`] hook as well as returned.
    ///
    /// Any number of tasks may wait here at once, beside tasks in [`Listener::accept`];
    /// each TCP connection goes to one of them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use futures_lite::AsyncWriteExt;
    ///
    /// # async fn run(listener: tlsport::Listener) -> tlsport::Result<()> {
    /// loop {
    ///     let (handshake, peer) = listener.accept_handshake().await?;
    ///     smol::spawn(async move {
    ///         let mut stream = handshake.await?;
    ///         stream.write_all(b"hello\n").await?;
    ///         stream.close().await?;
    ///         println!("served {peer}");
    ///         std::io::Result::Ok(())
    ///     })
    ///     .detach();
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Only when the listening socket itself fails ([`ErrorKind::Io`]); connections
    /// that fail before they are accepted (reset, aborted, refused by a firewall, ...)
    /// are logged and skipped.
    ///
    /// # Caveats
    ///
    /// The listener's bound on handshakes in flight
    /// ([`Listener::set_max_handshakes`]) applies to those run by `accept` only: the
    /// handshakes handed out here are yours to bound (a semaphore around the spawn, or
    /// a look at [`ListenerStats::in_flight`]), and their deadline is the policy's
    /// handshake timeout.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken from the socket only in the poll that
    /// returns it.
    pub async fn accept_handshake(&self) -> Result<(Handshake<TcpStream>, SocketAddr)> {
        let mut waiter = Waiter {
            waiters: &self.takers,
            id: None,
        };
        let (socket, peer) = futures_lite::future::poll_fn(|cx| {
            self.takers.enter(&mut waiter.id, cx.waker());
            let taken = self.socket.poll_accept();
            if taken.is_ready() {
                self.takers.leave(&mut waiter.id);
            }
            taken
        })
        .await?;
        // The socket is watched again only once someone finds its backlog empty: let
        // another waiter look.
        self.socket.notify();
        let started = Instant::now();
        let tracker = Tracker::new(self.monitor.clone(), peer, started);
        let handshake = Handshake::new(&self.acceptor, socket, started, Some(tracker));
        Ok((handshake, peer))
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
        self.socket
            .get_ref()
            .local_addr()
            .map_err(|e| Error::with_source(ErrorKind::Io, "cannot read the local address", e))
    }

    /// Sets how many handshakes [`Listener::accept`] may have in flight at once
    /// (default 256, at least 1). When the bound is reached, new TCP connections wait in
    /// the kernel's backlog; a waiting connection takes the place of the oldest
    /// handshake once that one has run for a second, so clients that never finish
    /// cannot hold every slot.
    pub fn set_max_handshakes(&self, max: usize) {
        self.state().max_handshakes = max.max(1);
        // A raised bound may let a waiter accept at once.
        self.waiters.notify();
    }

    /// What this listener has counted since it was bound: handshakes accepted,
    /// succeeded, failed, timed out, evicted and in flight, those run by
    /// [`Listener::accept`] and those handed out by [`Listener::accept_handshake`]
    /// alike.
    ///
    /// See [`ListenerStats`] for an example.
    pub fn stats(&self) -> ListenerStats {
        self.monitor.stats()
    }

    /// Calls `hook` on every failed handshake of this listener, with the peer's
    /// address, the error's kind, the time since the TCP accept and the error itself:
    /// to watch for a flood, or to refuse a peer that keeps failing. It replaces the
    /// hook set before, for handshakes already under way too.
    ///
    /// It covers the handshakes run by [`Listener::accept`], those dropped to make room
    /// in a full listener (`evicted`), and those handed out by
    /// [`Listener::accept_handshake`], wherever they run.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tlsport::ErrorKind;
    ///
    /// # async fn run(acceptor: tlsport::Acceptor) -> tlsport::Result<()> {
    /// let listener = acceptor.bind("", 8443).await?;
    /// listener.on_handshake_error(|failure| {
    ///     if failure.kind == ErrorKind::TimedOut {
    ///         eprintln!("{} sent no handshake in {:?}", failure.peer, failure.elapsed);
    ///     }
    /// });
    /// # Ok(()) }
    /// ```
    ///
    /// # Caveats
    ///
    /// The hook runs on the thread that polls the failed handshake, inside the poll of
    /// `accept` or of the [`Handshake`], never under a lock of the listener (it may use
    /// the listener): keep it short and non-blocking. A hook that panics does not harm
    /// the listener: the panic is caught and logged (`warn`), after the panic hook has
    /// printed it; with `panic = "abort"` it aborts the process, as any panic does.
    pub fn on_handshake_error(&self, hook: impl Fn(&HandshakeFailure<'_>) + Send + Sync + 'static) {
        self.monitor.set_hook(Arc::new(hook));
    }

    /// The acceptor this listener serves with.
    pub fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Listener")
            .field("local_addr", &self.socket.get_ref().local_addr().ok())
            .field("handshakes_in_flight", &state.handshakes.len())
            .field("max_handshakes", &state.max_handshakes)
            .field("stats", &self.monitor.stats())
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
