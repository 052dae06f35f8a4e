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
mod inflight;

use self::inflight::{InFlight, WaiterId, Waiters};
use crate::net::{Port, bare_host, resolve};
use crate::stream::TlsStream;

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
                    let handshakes = InFlight::new();
                    return Ok(Listener {
                        acceptor,
                        tcp,
                        waiters: handshakes.waiters(),
                        state: Mutex::new(State {
                            handshakes,
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

/// What an error from `accept(2)` means for the listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AcceptError {
    /// No connection is waiting.
    WouldBlock,
    /// One connection failed before we took it (reset, aborted, a network error that
    /// Linux passes on from the new socket, refused by a firewall): skip it.
    PerConnection,
    /// Too many open files (process or system), no buffers, no memory: wait and retry.
    ResourceShortage,
    /// The listening socket itself failed.
    Listener,
}

fn classify(e: &io::Error) -> AcceptError {
    use io::ErrorKind as K;
    match e.kind() {
        K::WouldBlock => return AcceptError::WouldBlock,
        K::ConnectionAborted
        | K::ConnectionReset
        | K::ConnectionRefused
        | K::Interrupted
        | K::TimedOut
        // EPERM: firewall rules forbid the connection.
        | K::PermissionDenied
        | K::NetworkDown
        | K::NetworkUnreachable
        | K::HostUnreachable => return AcceptError::PerConnection,
        K::OutOfMemory => return AcceptError::ResourceShortage,
        _ => {}
    }
    match e.raw_os_error() {
        Some(code) if errno::PER_CONNECTION.contains(&code) => AcceptError::PerConnection,
        Some(code) if errno::RESOURCE_SHORTAGE.contains(&code) => AcceptError::ResourceShortage,
        _ => AcceptError::Listener,
    }
}

/// The error numbers `classify` needs that have no [`io::ErrorKind`], for each platform
/// (without the libc crate, which not every build of this crate has).
mod errno {
    /// Linux's accept(2): "For reliable operation the application should detect the
    /// network errors defined for the protocol after accept() and treat them like EAGAIN
    /// by retrying. In the case of TCP/IP, these are ENETDOWN, EPROTO, ENOPROTOOPT,
    /// EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, and ENETUNREACH." The three with an
    /// `io::ErrorKind` are matched by kind.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) const PER_CONNECTION: &[i32] = &[EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EOPNOTSUPP];
    /// Solaris and illumos: accept(3SOCKET) reports EPROTO for a connection already
    /// released.
    #[cfg(any(target_os = "solaris", target_os = "illumos"))]
    pub(super) const PER_CONNECTION: &[i32] = &[71];
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "solaris",
        target_os = "illumos"
    )))]
    pub(super) const PER_CONNECTION: &[i32] = &[];

    /// ENFILE, EMFILE and ENOBUFS.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[23, 24, ENOBUFS];
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[23, 24, 55];
    #[cfg(any(target_os = "solaris", target_os = "illumos"))]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[23, 24, 132];
    /// WSAEMFILE and WSAENOBUFS.
    #[cfg(windows)]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[10024, 10055];
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "solaris",
        target_os = "illumos",
        windows
    )))]
    pub(super) const RESOURCE_SHORTAGE: &[i32] = &[];

    #[cfg(any(target_os = "linux", target_os = "android"))]
    use linux::*;

    /// Linux numbers differ by architecture: most follow asm-generic; MIPS and SPARC
    /// have their own.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    mod linux {
        #[cfg(not(any(
            target_arch = "mips",
            target_arch = "mips64",
            target_arch = "mips32r6",
            target_arch = "mips64r6",
            target_arch = "sparc",
            target_arch = "sparc64"
        )))]
        mod arch {
            pub(crate) const EPROTO: i32 = 71;
            pub(crate) const ENOPROTOOPT: i32 = 92;
            pub(crate) const EHOSTDOWN: i32 = 112;
            pub(crate) const ENONET: i32 = 64;
            pub(crate) const EOPNOTSUPP: i32 = 95;
            pub(crate) const ENOBUFS: i32 = 105;
        }
        #[cfg(any(
            target_arch = "mips",
            target_arch = "mips64",
            target_arch = "mips32r6",
            target_arch = "mips64r6"
        ))]
        mod arch {
            pub(crate) const EPROTO: i32 = 71;
            pub(crate) const ENOPROTOOPT: i32 = 99;
            pub(crate) const EHOSTDOWN: i32 = 147;
            pub(crate) const ENONET: i32 = 64;
            pub(crate) const EOPNOTSUPP: i32 = 122;
            pub(crate) const ENOBUFS: i32 = 132;
        }
        #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
        mod arch {
            pub(crate) const EPROTO: i32 = 86;
            pub(crate) const ENOPROTOOPT: i32 = 42;
            pub(crate) const EHOSTDOWN: i32 = 64;
            pub(crate) const ENONET: i32 = 80;
            pub(crate) const EOPNOTSUPP: i32 = 45;
            pub(crate) const ENOBUFS: i32 = 55;
        }
        pub(super) use arch::*;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> AcceptError {
        classify(&io::Error::from_raw_os_error(code))
    }

    #[test]
    fn accept_errors_by_kind() {
        use io::ErrorKind as K;
        for kind in [
            K::ConnectionAborted,
            K::ConnectionReset,
            K::Interrupted,
            K::TimedOut,
            K::PermissionDenied,
            K::NetworkDown,
            K::NetworkUnreachable,
            K::HostUnreachable,
        ] {
            assert_eq!(
                classify(&io::Error::from(kind)),
                AcceptError::PerConnection,
                "{kind:?}"
            );
        }
        assert_eq!(
            classify(&io::Error::from(K::WouldBlock)),
            AcceptError::WouldBlock
        );
        assert_eq!(
            classify(&io::Error::from(K::OutOfMemory)),
            AcceptError::ResourceShortage
        );
        for kind in [K::InvalidInput, K::NotConnected, K::Other, K::Unsupported] {
            assert_eq!(
                classify(&io::Error::from(kind)),
                AcceptError::Listener,
                "{kind:?}"
            );
        }
    }

    /// The numbers accept(2) returns on Linux (x86, ARM, RISC-V, ...), as the system
    /// reports them.
    #[cfg(all(
        target_os = "linux",
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "riscv64"
        )
    ))]
    #[test]
    fn accept_errors_from_linux() {
        // EAGAIN
        assert_eq!(os(11), AcceptError::WouldBlock);
        // ECONNABORTED, EPERM, EINTR, ETIMEDOUT, ECONNRESET, and the network errors the
        // man page says to treat like EAGAIN: ENETDOWN, EPROTO, ENOPROTOOPT, EHOSTDOWN,
        // ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH.
        for code in [103, 1, 4, 110, 104, 100, 71, 92, 112, 64, 113, 95, 101] {
            assert_eq!(os(code), AcceptError::PerConnection, "errno {code}");
        }
        // ENFILE, EMFILE, ENOBUFS, ENOMEM.
        for code in [23, 24, 105, 12] {
            assert_eq!(os(code), AcceptError::ResourceShortage, "errno {code}");
        }
        // EBADF, EINVAL (not listening), ENOTSOCK, EFAULT: the listening socket.
        for code in [9, 22, 88, 14] {
            assert_eq!(os(code), AcceptError::Listener, "errno {code}");
        }
    }

    #[cfg(target_vendor = "apple")]
    #[test]
    fn accept_errors_from_macos() {
        assert_eq!(os(35), AcceptError::WouldBlock); // EAGAIN
        assert_eq!(os(53), AcceptError::PerConnection); // ECONNABORTED
        for code in [23, 24, 55, 12] {
            assert_eq!(os(code), AcceptError::ResourceShortage, "errno {code}");
        }
        assert_eq!(os(22), AcceptError::Listener); // EINVAL
    }

    #[cfg(windows)]
    #[test]
    fn accept_errors_from_windows() {
        assert_eq!(os(10035), AcceptError::WouldBlock); // WSAEWOULDBLOCK
        assert_eq!(os(10054), AcceptError::PerConnection); // WSAECONNRESET
        for code in [10024, 10055] {
            assert_eq!(os(code), AcceptError::ResourceShortage, "WSA error {code}");
        }
        assert_eq!(os(10022), AcceptError::Listener); // WSAEINVAL
    }
}
