//! Blocking-style `Read`/`Write` over an async transport, for rustls's `read_tls` and
//! `write_tls`.

use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// Polls the transport once per call and turns `Pending` into `WouldBlock`, remembering
/// that it did so: only a `WouldBlock` that came from a real `Pending` (with the waker
/// registered) may become `Poll::Pending` upstream.
pub(crate) struct SyncIo<'a, 'b, S> {
    io: &'a mut S,
    cx: &'a mut Context<'b>,
    pub(crate) pending: bool,
}

impl<'a, 'b, S> SyncIo<'a, 'b, S> {
    pub(crate) fn new(io: &'a mut S, cx: &'a mut Context<'b>) -> Self {
        SyncIo {
            io,
            cx,
            pending: false,
        }
    }

    fn ready<T>(&mut self, poll: Poll<io::Result<T>>) -> io::Result<T> {
        match poll {
            Poll::Ready(result) => result,
            Poll::Pending => {
                self.pending = true;
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }
}

impl<S: AsyncRead + Unpin> Read for SyncIo<'_, '_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let poll = Pin::new(&mut *self.io).poll_read(self.cx, buf);
        self.ready(poll)
    }
}

impl<S: AsyncWrite + Unpin> Write for SyncIo<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let poll = Pin::new(&mut *self.io).poll_write(self.cx, buf);
        self.ready(poll)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let poll = Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs);
        self.ready(poll)
    }

    fn flush(&mut self) -> io::Result<()> {
        let poll = Pin::new(&mut *self.io).poll_flush(self.cx);
        self.ready(poll)
    }
}

/// Converts the result of a `SyncIo` call back into a poll.
pub(crate) fn to_poll<T>(result: io::Result<T>, pending: bool) -> Poll<io::Result<T>> {
    match result {
        Err(e) if pending && e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        other => Poll::Ready(other),
    }
}
