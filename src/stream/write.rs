//! The write side of [`TlsStream`]: plaintext in, records out, flushing, closing with
//! `close_notify`, and the waker of a writer left waiting on the transport.

use std::io::{self, IoSlice, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};

use super::TlsStream;
use super::sync_io::{SyncIo, to_poll};

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// Writes queued TLS records until rustls has none left (`Ready(Ok)`) or the
    /// transport is full (`Pending`).
    pub(super) fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_tls_counted(cx, &mut 0)
    }

    /// `poll_write_tls`, adding the bytes the transport took to `sent`.
    fn poll_write_tls_counted(
        &mut self,
        cx: &mut Context<'_>,
        sent: &mut usize,
    ) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut io = SyncIo::new(&mut self.io, cx);
            let result = self.conn.write_tls(&mut io);
            match ready!(to_poll(result, io.pending))? {
                0 => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the transport accepted no bytes of a TLS record",
                    )));
                }
                n => {
                    *sent += n;
                    self.unflushed = true;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Flushes the transport if records were written since its last flush.
    pub(super) fn poll_flush_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Sends what rustls has queued, without waiting; errors and backpressure here are
    /// the write side's to report (rustls keeps what the transport did not take).
    ///
    /// When a write-side call waits on the transport, its waker, not `cx`'s, is the one
    /// left with the transport: the writer stays registered (a transport that keeps one
    /// write waker would otherwise forget it, and one that wakes the waker it replaces
    /// would have the halves wake each other back and forth), and is woken here when
    /// these bytes made room for it. Otherwise `cx` is registered, so the records still go out
    /// when nobody writes.
    pub(super) fn push_pending(&mut self, cx: &mut Context<'_>) {
        if !self.conn.wants_write() || self.io_closed {
            return;
        }
        let Some(writer) = self.write_waker.clone() else {
            let _ = self.poll_push(cx, &mut 0);
            return;
        };
        let mut sent = 0;
        let _ = self.poll_push(&mut Context::from_waker(&writer), &mut sent);
        if sent > 0 {
            writer.wake();
        }
    }

    /// Writes the queued records and flushes them, adding the bytes sent to `sent`.
    fn poll_push(&mut self, cx: &mut Context<'_>, sent: &mut usize) -> Poll<io::Result<()>> {
        ready!(self.poll_write_tls_counted(cx, sent))?;
        self.poll_flush_io(cx)
    }

    /// Records whether a write-side call (write, flush, close) is left waiting on the
    /// transport with `cx`'s waker (see `write_waker`).
    fn track_writer<T>(&mut self, cx: &Context<'_>, poll: Poll<T>) -> Poll<T> {
        if poll.is_pending() {
            if !self
                .write_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                self.write_waker = Some(cx.waker().clone());
            }
        } else {
            self.write_waker = None;
        }
        poll
    }

    /// The transport error a write deferred (see `write_error`), once.
    fn take_write_error(&mut self) -> io::Result<()> {
        match self.write_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `AsyncWrite::poll_write` and `poll_write_vectored`: `write` hands plaintext to
    /// rustls; `empty` says whether there was none to give.
    fn poll_write_plain(
        &mut self,
        cx: &mut Context<'_>,
        empty: bool,
        mut write: impl FnMut(&mut rustls::Writer<'_>) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        if self.write_closed {
            return Poll::Ready(Err(write_after_close()));
        }
        self.check_fatal()?;
        self.take_write_error()?;
        loop {
            let n = write(&mut self.conn.writer())?;
            if n > 0 || empty {
                // Send what we can now; what the transport cannot take waits for the
                // next write or flush.
                match self.poll_write_tls(cx) {
                    // Nothing was taken: the error is this call's.
                    Poll::Ready(Err(e)) if n == 0 => return Poll::Ready(Err(e)),
                    // rustls has the bytes and will send them: reporting an error now
                    // would make a caller that retries send them twice. The records
                    // stay queued for the next write or flush; a real failure is
                    // reported by that call. (`Interrupted` only asks for a retry, which
                    // that call makes anyway.)
                    Poll::Ready(Err(e)) if e.kind() != io::ErrorKind::Interrupted => {
                        self.write_error = Some(e);
                    }
                    _ => {}
                }
                return Poll::Ready(Ok(n));
            }
            // rustls's buffer is full: make room, waiting on the transport if need be.
            ready!(self.poll_write_tls(cx))?;
        }
    }

    /// `AsyncWrite::poll_flush`: everything rustls holds goes out, then the transport is
    /// flushed whether or not we wrote to it since (the caller asked for it).
    pub(crate) fn poll_flush_plain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = self.poll_flush_inner(cx);
        self.track_writer(cx, poll)
    }

    fn poll_flush_inner(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.take_write_error()?;
        ready!(self.poll_write_tls(cx))?;
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        self.unflushed = false;
        Poll::Ready(Ok(()))
    }

    /// `AsyncWrite::poll_close`: close_notify, flush, then the transport's close.
    pub(crate) fn poll_close_plain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = self.poll_close_outer(cx);
        self.track_writer(cx, poll)
    }

    fn poll_close_outer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.poll_close_inner(cx)) {
            // The peer ended the session cleanly and went away before our close_notify
            // reached it: the session is over either way.
            Err(e) if self.peer_closed && is_gone(&e) => {
                self.io_closed = true;
                Poll::Ready(Ok(()))
            }
            other => Poll::Ready(other),
        }
    }

    fn poll_close_inner(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.take_write_error()?;
        if !self.write_closed {
            self.conn.send_close_notify();
            self.write_closed = true;
        }
        ready!(self.poll_write_tls(cx))?;
        if !self.io_closed {
            ready!(self.poll_flush_io(cx))?;
            match ready!(Pin::new(&mut self.io).poll_close(cx)) {
                // The kernel took our close_notify, then the peer reset the connection:
                // there is nothing left to shut down.
                Err(e) if e.kind() != io::ErrorKind::NotConnected => return Poll::Ready(Err(e)),
                _ => self.io_closed = true,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// `AsyncWrite::poll_write`.
    pub(crate) fn poll_write_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = self.poll_write_plain(cx, buf.is_empty(), |w| w.write(buf));
        self.track_writer(cx, poll)
    }

    /// `AsyncWrite::poll_write_vectored`.
    pub(crate) fn poll_write_bufs(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let empty = bufs.iter().all(|b| b.is_empty());
        let poll = self.poll_write_plain(cx, empty, |w| w.write_vectored(bufs));
        self.track_writer(cx, poll)
    }
}

fn write_after_close() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "write after close(): this TLS stream has sent close_notify",
    )
}

/// Errors of a transport whose peer has gone.
fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotConnected | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}
