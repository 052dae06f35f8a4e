//! A read-ahead buffer between the transport and rustls.
//!
//! rustls's `read_tls` reads at most about 4 KiB per call, so a 16 KiB record costs four
//! or five transport reads (syscalls, for a socket). Reading the transport 64 KiB at a
//! time and handing rustls the bytes from memory cuts that several-fold.
//!
//! An idle connection holds no buffer: when the transport has nothing to read, the empty
//! buffer goes back to a small per-thread pool, and the next read on that thread takes it
//! from there, so neither idle memory nor allocation churn grows with busy connections.
//! A busy connection (one whose last read found data, or whose reader stopped polling
//! while bytes were buffered) keeps its 64 KiB buffer until a read finds the transport
//! empty or the stream is dropped.
//!
//! The pool is a thread-local, which a stream may outlive: one dropped (or polled) during
//! thread-local destruction, say from another thread-local's destructor, finds the pool
//! gone. It then allocates or frees its buffer directly instead of panicking.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::AsyncRead;

/// Bytes read from the transport in one call, at most.
const SIZE: usize = 64 * 1024;
/// Spare buffers kept per thread.
const POOL: usize = 4;

thread_local! {
    static SPARE: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// Transport bytes read but not yet given to rustls.
#[derive(Default)]
pub(crate) struct ReadAhead {
    buf: Option<Box<[u8]>>,
    start: usize,
    end: usize,
}

impl ReadAhead {
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The bytes not yet consumed.
    pub(crate) fn data(&self) -> &[u8] {
        match &self.buf {
            Some(buf) => &buf[self.start..self.end],
            None => &[],
        }
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Reads the transport into the (empty) buffer. `Ready(Ok(0))` is EOF. On `Pending`
    /// the buffer goes back to the pool.
    pub(crate) fn poll_fill<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        debug_assert!(self.is_empty());
        let buf = self.buf.get_or_insert_with(take_spare);
        self.start = 0;
        self.end = 0;
        match Pin::new(io).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => {
                // A count beyond the buffer is a broken transport (see `sync_io`).
                self.end = super::sync_io::within(Ok(n), buf.len(), "read")?;
                Poll::Ready(Ok(self.end))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                self.release();
                Poll::Pending
            }
        }
    }

    /// Gives the buffer back to this thread's pool if it holds nothing.
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            if let Some(buf) = self.buf.take() {
                // During thread-local destruction the pool may be gone: then the
                // buffer is simply freed.
                let _ = SPARE.try_with(|spare| {
                    let mut spare = spare.borrow_mut();
                    if spare.len() < POOL {
                        spare.push(buf);
                    }
                });
            }
        }
    }
}

/// A buffer from this thread's pool, or a new one (also when the pool is gone, during
/// thread-local destruction).
fn take_spare() -> Box<[u8]> {
    SPARE
        .try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0; SIZE].into_boxed_slice())
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.start = self.end;
        self.release();
    }
}
