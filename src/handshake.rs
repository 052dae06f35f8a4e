//! [`Handshake`]: a server handshake as a future of its own, to be run wherever its
//! owner likes.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

use crate::acceptor::Acceptor;
use crate::error::{Error, ErrorKind, Result};
use crate::listener::{Failed, Tracker};
use crate::stream::TlsStream;

type Running<S> = Pin<Box<dyn Future<Output = Result<TlsStream<S>>> + Send>>;

/// A server handshake that has not finished yet, from
/// [`Listener::accept_handshake`](crate::Listener::accept_handshake): a future of the
/// [`TlsStream`], `Send + 'static`, to be spawned on any executor.
///
/// It runs [`Acceptor::accept`] within the policy's
/// [`handshake_timeout`](crate::Policy::handshake_timeout), counted from the TCP accept
/// rather than from its first poll: a handshake left waiting in a busy executor's queue
/// gets no extra time.
///
/// It is `Unpin`, and `Sync` too. When it fails, the listener that made it hears of it
/// (its [`stats`](crate::Listener::stats) and its
/// [`on_handshake_error`](crate::Listener::on_handshake_error) hook, called on the thread
/// that polls the handshake) besides its owner; a handshake dropped before it finishes
/// counts as neither finished nor failed.
///
/// # Examples
///
/// ```no_run
/// use futures_lite::AsyncWriteExt;
///
/// # async fn run(listener: tlsport::Listener) -> tlsport::Result<()> {
/// let (handshake, peer) = listener.accept_handshake().await?;
/// smol::spawn(async move {
///     match handshake.await {
///         Ok(mut stream) => {
///             let _ = stream.write_all(b"hello\n").await;
///             let _ = stream.close().await;
///         }
///         Err(e) => eprintln!("{peer}: {e}"),
///     }
/// })
/// .detach();
/// # Ok(()) }
/// ```
///
/// # Cancel safety
///
/// Dropping it drops the transport mid-handshake (a TCP connection is closed).
#[must_use = "a handshake does nothing unless it is awaited or spawned"]
pub struct Handshake<S> {
    /// `None` once finished. The mutex only makes the handshake `Sync`: it is reached
    /// through `&mut self`, never locked.
    running: Mutex<Option<Running<S>>>,
    started: Instant,
    limit: Option<Duration>,
    tracker: Option<Tracker>,
}

impl<S> Handshake<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// `acceptor.accept(io)` within the handshake timeout counted from `started`,
    /// reporting to `tracker`'s listener.
    pub(crate) fn new(
        acceptor: &Acceptor,
        io: S,
        started: Instant,
        tracker: Option<Tracker>,
    ) -> Handshake<S> {
        // The configuration current at the TCP accept (after any reload) sets the limit.
        let limit = acceptor.current().policy.handshake_timeout;
        let acceptor = acceptor.clone();
        let running = Box::pin(async move { acceptor.accept_since(io, started).await });
        Handshake {
            running: Mutex::new(Some(running)),
            started,
            limit,
            tracker,
        }
    }
}

impl<S> Handshake<S> {
    /// Polls the handshake; on its end, counts it in its listener's stats and returns
    /// the failure still to be reported to the listener's hook (by
    /// [`Monitor::report`](crate::listener::Monitor::report), outside any lock).
    pub(crate) fn poll_tracked(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<(Result<TlsStream<S>>, Option<Failed>)> {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(handshake) = running.as_mut() else {
            let e = Error::new(
                ErrorKind::InvalidInput,
                "the handshake was polled again after it had finished",
            );
            return Poll::Ready((Err(e), None));
        };
        let result = match handshake.as_mut().poll(cx) {
            Poll::Ready(result) => result,
            Poll::Pending => return Poll::Pending,
        };
        *running = None;
        let failed = match (&mut self.tracker, &result) {
            (Some(tracker), Ok(_)) => {
                tracker.succeeded();
                None
            }
            (Some(tracker), Err(e)) => tracker.failed(e, false),
            (None, _) => None,
        };
        Poll::Ready((result, failed))
    }

    /// Gives the handshake up to make room in a full listener: counted and logged as
    /// evicted. Returns the error and the failure still to be reported.
    pub(crate) fn evict(mut self) -> (Error, Option<Failed>) {
        let e = Error::new(
            ErrorKind::TimedOut,
            format!(
                "the TLS handshake was dropped after {:.1?}: the listener was full and a \
                 new connection was waiting",
                self.started.elapsed()
            ),
        );
        let failed = self.tracker.as_mut().and_then(|t| t.failed(&e, true));
        (e, failed)
    }
}

impl<S> Future for Handshake<S> {
    type Output = Result<TlsStream<S>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (result, failed) = match this.poll_tracked(cx) {
            Poll::Ready(done) => done,
            Poll::Pending => return Poll::Pending,
        };
        if let (Some(failed), Some(tracker), Err(e)) = (failed, &this.tracker, &result) {
            tracker.monitor().report(failed, e);
        }
        Poll::Ready(result)
    }
}

impl<S> fmt::Debug for Handshake<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let finished = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none();
        f.debug_struct("Handshake")
            .field("peer", &self.tracker.as_ref().map(Tracker::peer))
            .field("elapsed", &self.started.elapsed())
            .field("limit", &self.limit)
            .field("finished", &finished)
            .finish_non_exhaustive()
    }
}
