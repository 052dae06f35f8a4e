//! [`duplex`]: an in-memory transport pair, for tests, examples and fuzzing.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_io::{AsyncRead, AsyncWrite};

/// Makes a connected pair of in-memory byte streams.
///
/// What one end writes, the other reads. Each direction buffers at most `max_buffered`
/// bytes (at least 1): a writer facing a full buffer waits (`Pending`) until the reader
/// takes some, as over a socket. Closing one end (`close()`) or dropping it is EOF for
/// the other end's reads; writing towards a dropped end fails with
/// [`io::ErrorKind::BrokenPipe`].
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
///
/// futures_lite::future::block_on(async {
///     let (mut a, mut b) = tlsport::duplex(1024);
///     a.write_all(b"ping").await?;
///     a.close().await?;
///     let mut got = String::new();
///     b.read_to_string(&mut got).await?;
///     assert_eq!(got, "ping");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub fn duplex(max_buffered: usize) -> (DuplexStream, DuplexStream) {
    let a_to_b = Arc::new(Mutex::new(Pipe::new(max_buffered)));
    let b_to_a = Arc::new(Mutex::new(Pipe::new(max_buffered)));
    (
        DuplexStream {
            read: b_to_a.clone(),
            write: a_to_b.clone(),
        },
        DuplexStream {
            read: a_to_b,
            write: b_to_a,
        },
    )
}

/// One end of an in-memory stream pair made by [`duplex`].
pub struct DuplexStream {
    read: Arc<Mutex<Pipe>>,
    write: Arc<Mutex<Pipe>>,
}

/// One direction: bytes in flight, and who waits on them.
struct Pipe {
    buf: VecDeque<u8>,
    max: usize,
    /// The writing end closed or dropped: EOF once `buf` is drained.
    write_closed: bool,
    /// The reading end dropped: writes fail.
    read_dropped: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Pipe {
    fn new(max: usize) -> Pipe {
        Pipe {
            buf: VecDeque::new(),
            max: max.max(1),
            write_closed: false,
            read_dropped: false,
            reader: None,
            writer: None,
        }
    }

    fn wake_reader(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    fn wake_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

fn lock(pipe: &Mutex<Pipe>) -> MutexGuard<'_, Pipe> {
    pipe.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DuplexStream {
    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = lock(&self.write);
        if pipe.read_dropped {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the other end of the duplex stream was dropped",
            )));
        }
        if pipe.write_closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after close on a duplex stream",
            )));
        }
        let wanted: usize = bufs.iter().map(|b| b.len()).sum();
        if wanted == 0 {
            return Poll::Ready(Ok(0));
        }
        let room = pipe.max - pipe.buf.len();
        if room == 0 {
            pipe.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut written = 0;
        for buf in bufs {
            let take = buf.len().min(room - written);
            pipe.buf.extend(&buf[..take]);
            written += take;
            if written == room {
                break;
            }
        }
        pipe.wake_reader();
        Poll::Ready(Ok(written))
    }
}

impl AsyncRead for DuplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = lock(&self.read);
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if pipe.buf.is_empty() {
            if pipe.write_closed {
                return Poll::Ready(Ok(0));
            }
            pipe.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(pipe.buf.len());
        for (dst, src) in buf.iter_mut().zip(pipe.buf.drain(..n)) {
            *dst = src;
        }
        pipe.wake_writer();
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for DuplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut pipe = lock(&self.write);
        pipe.write_closed = true;
        pipe.wake_reader();
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexStream {
    fn drop(&mut self) {
        let mut write = lock(&self.write);
        write.write_closed = true;
        write.wake_reader();
        drop(write);
        let mut read = lock(&self.read);
        read.read_dropped = true;
        read.wake_writer();
    }
}

impl fmt::Debug for DuplexStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (read, write) = (lock(&self.read), lock(&self.write));
        f.debug_struct("DuplexStream")
            .field("readable", &read.buf.len())
            .field("unread_written", &write.buf.len())
            .field("max_buffered", &write.max)
            .finish()
    }
}
