//! [`Listener`]: a TCP listener whose `accept` yields finished TLS handshakes, running
//! many handshakes at once so that no client can stall the others.

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
use crate::error::{Error, ErrorKind, Result};
use crate::inflight::InFlight;
use crate::net::{Port, bare_host, resolve};
use crate::stream::TlsStream;

/// The default bound on handshakes in flight.
const DEFAULT_MAX_HANDSHAKES: usize = 256;
/// How long to wait after a transient `accept` error (too many open files, ...).
const BACKOFF: Duration = Duration::from_millis(100);
/// How long a handshake keeps its slot against newcomers once the listener is full.
const EVICT_AFTER: Duration = Duration::from_secs(1);

type Handshake = Pin<Box<dyn Future<Output = (SocketAddr, Result<TlsStream<TcpStream>>)> + Send>>;

/// A handshake in flight and when it started.
struct Handshaking {
    started: Instant,
    peer: SocketAddr,
    handshake: Handshake,
}

impl Future for Handshaking {
    type Output = (SocketAddr, Result<TlsStream<TcpStream>>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.handshake.as_mut().poll(cx)
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
/// # Caveats
///
/// Handshakes make progress only while `accept` (or [`Incoming`]) is being polled:
/// call it in a loop, and hand each connection to a task of its own.
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
    state: Mutex<State>,
}

struct State {
    handshakes: InFlight<Handshaking>,
    max_handshakes: usize,
    backoff: Option<Timer>,
    /// When the oldest handshake of a full listener may be evicted.
    evict_at: Option<Timer>,
}

impl Listener {
    pub(crate) async fn bind(acceptor: Acceptor, host: &str, port: Port) -> Result<Listener> {
        let port = port.number()?;
        let addrs = if bare_host(host).is_empty() {
            vec![
                SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
                SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)),
            ]
        } else {
            resolve(host, port).await?
        };
        let mut last = None;
        for addr in addrs {
            match Async::<TcpListener>::bind(addr) {
                Ok(tcp) => {
                    return Ok(Listener {
                        acceptor,
                        tcp,
                        state: Mutex::new(State {
                            handshakes: InFlight::new(),
                            max_handshakes: DEFAULT_MAX_HANDSHAKES,
                            backoff: None,
                            evict_at: None,
                        }),
                    });
                }
                Err(e) => last = Some((addr, e)),
            }
        }
        let (addr, err) = last.expect("at least one address");
        Err(Error::with_source(
            ErrorKind::Io,
            format!("cannot listen on {addr}: {err}"),
            err,
        ))
    }

    /// The next connection whose handshake has finished, with the peer's address.
    ///
    /// # Errors
    ///
    /// Only when the listening socket itself fails ([`ErrorKind::Io`]); failed
    /// handshakes are logged and skipped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: handshakes in flight are kept in the listener and carry on at the
    /// next call.
    pub async fn accept(&self) -> Result<(TlsStream<TcpStream>, SocketAddr)> {
        futures_lite::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// A stream of finished handshakes.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to (with the port picked for port 0).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] if the system cannot tell.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.tcp.get_ref().local_addr().map_err(|e| {
            Error::with_source(
                ErrorKind::Io,
                format!("cannot read the local address: {e}"),
                e,
            )
        })
    }

    /// Sets how many handshakes may be in flight at once (default 256, at least 1). When
    /// the bound is reached, new TCP connections wait in the kernel's backlog; a waiting
    /// connection takes the place of the oldest handshake once that one has run for a
    /// second, so clients that never finish cannot hold every slot.
    pub fn set_max_handshakes(&self, max: usize) {
        self.state().max_handshakes = max.max(1);
    }

    /// The acceptor this listener serves with.
    pub fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(TlsStream<TcpStream>, SocketAddr)>> {
        let mut state = self.state();
        loop {
            self.poll_new_connections(&mut state, cx)?;
            let was_full = state.handshakes.len() >= state.max_handshakes;
            let mut finished = false;
            while let Poll::Ready((peer, result)) = state.handshakes.poll_next(cx) {
                finished = true;
                match result {
                    Ok(stream) => return Poll::Ready(Ok((stream, peer))),
                    Err(err) => log::info!("tls handshake with {peer} failed: {err}"),
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
            match self.tcp.get_ref().accept() {
                Ok((socket, peer)) => match TcpStream::try_from(socket) {
                    Ok(socket) => {
                        if full {
                            evict_oldest(state);
                        }
                        let acceptor = self.acceptor.clone();
                        state.handshakes.insert(Handshaking {
                            started: Instant::now(),
                            peer,
                            handshake: Box::pin(
                                async move { (peer, acceptor.accept(socket).await) },
                            ),
                        });
                    }
                    Err(err) => log::info!("cannot register the connection from {peer}: {err}"),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.tcp.poll_readable(cx)
                {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Err(accept_error(e)),
                    Poll::Pending => return Ok(()),
                },
                Err(e) if is_per_connection(&e) => {}
                Err(e) if is_resource_shortage(&e) => {
                    log::warn!("accept failed ({e}); retrying in {BACKOFF:?}");
                    state.backoff = Some(Timer::after(BACKOFF));
                }
                Err(e) => return Err(accept_error(e)),
            }
        }
    }

    /// Whether the oldest handshake of a full listener may give its place up now; if not
    /// yet, a timer wakes the listener when it may.
    fn poll_evictable(&self, state: &mut State, cx: &mut Context<'_>) -> bool {
        let Some(oldest) = state.handshakes.min_key(|h| h.started) else {
            return false;
        };
        let when = oldest + EVICT_AFTER;
        if when <= Instant::now() {
            state.evict_at = None;
            return true;
        }
        let timer = state.evict_at.get_or_insert_with(|| Timer::at(when));
        timer.set_at(when);
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

/// Errors about one connection that went away before we accepted it.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::TimedOut
    )
}

/// Too many open files (process or system), no buffers, no memory: wait and retry.
fn is_resource_shortage(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) || e.kind() == io::ErrorKind::OutOfMemory
}

fn accept_error(e: io::Error) -> Error {
    Error::with_source(ErrorKind::Io, format!("accept failed: {e}"), e)
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

/// The stream of finished handshakes of a [`Listener`], from [`Listener::incoming`].
///
/// It never ends; an item is an error only when the listening socket fails.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a Listener,
}

impl Stream for Incoming<'_> {
    type Item = Result<TlsStream<TcpStream>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(stream, _)| stream)))
    }
}
