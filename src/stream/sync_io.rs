//! Blocking-style `Read`/`Write` over an async transport, for rustls's `read_tls` and
//! `write_tls`.

use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// Polls the transport once per call and turns `Pending` into `WouldBlock`, remembering
/// that it did so: only a `WouldBlock` that came from a real `Pending` (with the waker
/// registered) may become `Poll::Pending` upstream.
///
/// A transport that reports more bytes than the buffer it was given is broken: what it
/// moved is unknown. Passed on, the count makes rustls panic (a read) or lose its place
/// (a write); it is an [`io::ErrorKind::InvalidData`] error here instead.
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
        within(self.ready(poll), buf.len(), "read")
    }
}

impl<S: AsyncWrite + Unpin> Write for SyncIo<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let poll = Pin::new(&mut *self.io).poll_write(self.cx, buf);
        within(self.ready(poll), buf.len(), "wrote")
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let poll = Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs);
        let len = bufs.iter().map(|b| b.len()).sum();
        within(self.ready(poll), len, "wrote")
    }

    fn flush(&mut self) -> io::Result<()> {
        let poll = Pin::new(&mut *self.io).poll_flush(self.cx);
        self.ready(poll)
    }
}

/// `result`, or an `InvalidData` error when it counts more than the `len` bytes the
/// transport was given.
pub(crate) fn within(result: io::Result<usize>, len: usize, did: &str) -> io::Result<usize> {
    match result {
        Ok(n) if n > len => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the transport {did} {n} bytes of a {len}-byte buffer: it is broken"),
        )),
        other => other,
    }
}

/// Converts the result of a `SyncIo` call back into a poll.
pub(crate) fn to_poll<T>(result: io::Result<T>, pending: bool) -> Poll<io::Result<T>> {
    match result {
        Err(e) if pending && e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        other => Poll::Ready(other),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// Claims one byte more than it was given, both ways.
    struct OverReporting;

    impl AsyncRead for OverReporting {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len() + 1))
        }
    }

    impl AsyncWrite for OverReporting {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len() + 1))
        }
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum::<usize>() + 1))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_transport_that_over_reports_is_invalid_data() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut transport = OverReporting;
        let mut io = SyncIo::new(&mut transport, &mut cx);
        let kind = |r: io::Result<usize>| r.unwrap_err().kind();
        assert_eq!(kind(io.read(&mut [0; 4])), io::ErrorKind::InvalidData);
        assert_eq!(kind(io.write(b"four")), io::ErrorKind::InvalidData);
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
        assert_eq!(kind(io.write_vectored(&bufs)), io::ErrorKind::InvalidData);
    }
}
