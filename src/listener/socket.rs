//! The listening socket of a [`Listener`](super::Listener), shared by every task that
//! takes connections from it: those in `accept` (for the listener's own handshakes) and
//! those in `accept_handshake` (each for the handshake it hands out).
//!
//! The socket and the back-off timer are polled with one waker only, whoever polls
//! them: async-io keeps one waker per socket direction and wakes the one it replaces, so
//! tasks polling with their own wakers would wake each other in turn for ever. That
//! waker wakes one waiting task of each kind (see [`Waiters`]).

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_io::{Async, Timer};
use async_net::TcpStream;

use crate::error::{Error, ErrorKind, Result};

use super::accept_error::{AcceptError, classify};
use super::inflight::Waiters;

/// How long to wait after a transient `accept` error (too many open files, ...).
const BACKOFF: Duration = Duration::from_millis(100);
/// How many per-connection `accept` errors in a row are taken before backing off: an
/// error that does not take the connection out of the queue (a security module refusing
/// every accept with `EPERM`) would otherwise keep `accept` busy for ever.
const MAX_ERRORS_IN_A_ROW: u32 = 16;

pub(super) struct Socket {
    tcp: Async<TcpListener>,
    /// Set after an error that calls for a pause before the next `accept(2)`.
    backoff: Mutex<Option<Timer>>,
    /// Wakes one waiter of each set of [`EachKind`].
    waker: Waker,
}

/// The waiters of `accept` and those of `accept_handshake`: a wake-up of the socket
/// wakes one of each (unless one is on its way already).
struct EachKind {
    accept: Waiters,
    accept_handshake: Waiters,
}

impl Wake for EachKind {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.accept.notify();
        self.accept_handshake.notify();
    }
}

impl Socket {
    pub(super) fn new(
        tcp: Async<TcpListener>,
        accept: Waiters,
        accept_handshake: Waiters,
    ) -> Socket {
        Socket {
            tcp,
            backoff: Mutex::new(None),
            waker: Waker::from(Arc::new(EachKind {
                accept,
                accept_handshake,
            })),
        }
    }

    pub(super) fn get_ref(&self) -> &TcpListener {
        self.tcp.get_ref()
    }

    /// Wakes a waiter of each kind: for connections a task leaves in the backlog when it
    /// takes one and goes (the socket is not watched again until someone polls it).
    pub(super) fn notify(&self) {
        self.waker.wake_by_ref();
    }

    /// The next TCP connection. Connections that fail before they are taken (reset,
    /// aborted, refused by a firewall, ...) are logged and skipped; when none is waiting,
    /// the socket's own waker is registered.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when the listening socket itself fails.
    pub(super) fn poll_accept(&self) -> Poll<Result<(TcpStream, SocketAddr)>> {
        let mut cx = Context::from_waker(&self.waker);
        let mut errors_in_a_row = 0;
        loop {
            {
                let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(timer) = backoff.as_mut() {
                    if Pin::new(timer).poll(&mut cx).is_pending() {
                        return Poll::Pending;
                    }
                    *backoff = None;
                }
            }
            let e = match self.tcp.get_ref().accept() {
                Ok((socket, peer)) => match TcpStream::try_from(socket) {
                    Ok(socket) => return Poll::Ready(Ok((socket, peer))),
                    Err(err) => {
                        log::info!("cannot register the connection from {peer}: {err}");
                        errors_in_a_row = 0;
                        continue;
                    }
                },
                Err(e) => e,
            };
            match classify(&e) {
                AcceptError::WouldBlock => match self.tcp.poll_readable(&mut cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(accept_error(e))),
                    Poll::Pending => return Poll::Pending,
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
                        self.back_off();
                    }
                }
                AcceptError::ResourceShortage => {
                    log::warn!("accept failed ({e}); retrying in {BACKOFF:?}");
                    self.back_off();
                }
                AcceptError::Listener => return Poll::Ready(Err(accept_error(e))),
            }
        }
    }

    fn back_off(&self) {
        *self.backoff.lock().unwrap_or_else(PoisonError::into_inner) = Some(Timer::after(BACKOFF));
    }
}

fn accept_error(e: io::Error) -> Error {
    Error::with_source(ErrorKind::Io, "accept failed", e)
}
