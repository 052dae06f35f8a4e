//! [`ScriptedTransport`]: a transport whose every call follows a script.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// What a [`ScriptedTransport`] does on one call.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Ready, moving every byte asked for (a read: as many as the buffer holds and the
    /// script has left).
    Full,
    /// Ready, moving at most this many bytes; `Short(0)` is [`Step::Zero`].
    Short(usize),
    /// `Poll::Pending`, with the task's waker woken at once, as by a transport that
    /// becomes ready right after.
    Pending,
    /// `Ok(0)`: the end of the stream for a read, a write that took nothing; a flush or
    /// a close succeeds.
    Zero,
    /// An error of this kind (a flush or a close fails too).
    Fail(io::ErrorKind),
    /// Claims this many bytes more than it moved: a read reports more bytes than the
    /// buffer holds, a write more than it was given. A broken transport, which tlsport
    /// reports as an [`io::ErrorKind::InvalidData`] error.
    OverReport(usize),
}

impl Step {
    /// The step a fuzz input byte stands for: `0xff` a `ConnectionReset`, `0xfe`
    /// [`Step::Zero`], `0xfd` [`Step::OverReport(1)`](Step::OverReport),
    /// `b % 4 == 0` [`Step::Pending`], `b % 4 == 1` a short transfer of
    /// `1 + (b >> 2) % 16` bytes, anything else [`Step::Full`].
    ///
    /// ```
    /// use tlsport::fuzzing::Step;
    /// assert_eq!(Step::from_byte(0x00), Step::Pending);
    /// assert_eq!(Step::from_byte(0x05), Step::Short(2));
    /// assert_eq!(Step::from_byte(0x02), Step::Full);
    /// ```
    pub fn from_byte(byte: u8) -> Step {
        match byte {
            0xff => Step::Fail(io::ErrorKind::ConnectionReset),
            0xfe => Step::Zero,
            0xfd => Step::OverReport(1),
            b if b % 4 == 0 => Step::Pending,
            b if b % 4 == 1 => Step::Short(1 + usize::from(b >> 2) % 16),
            _ => Step::Full,
        }
    }
}

/// An in-memory transport that plays a script: reads return the bytes it was made with
/// (then end of stream), writes are kept (see [`ScriptedTransport::written`]), and every
/// call (read, write, flush, close) takes the next [`Step`] of its schedule. Once the
/// schedule is spent every call is [`Step::Full`], so the peer's bytes always run out.
///
/// It never waits on anything: a scripted [`Step::Pending`] wakes the task at once. A
/// session over it is a pure function of its bytes and its schedule.
///
/// # Examples
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use tlsport::fuzzing::{ScriptedTransport, Step};
///
/// # futures_lite::future::block_on(async {
/// let mut io = ScriptedTransport::new(b"hello".to_vec())
///     .with_steps([Step::Pending, Step::Short(2), Step::Full]);
/// let written = io.written();
/// let mut buf = [0; 8];
/// assert_eq!(io.read(&mut buf).await?, 2); // Pending (woken at once), then 2 bytes
/// assert_eq!(io.read(&mut buf).await?, 3);
/// assert_eq!(io.read(&mut buf).await?, 0); // end of stream
/// io.write_all(b"bye").await?;
/// assert_eq!(written.to_vec(), b"bye");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct ScriptedTransport {
    incoming: Vec<u8>,
    read_pos: usize,
    steps: VecDeque<Step>,
    written: Written,
}

impl ScriptedTransport {
    /// A transport whose reads return `incoming`, then end of stream; every call full.
    pub fn new(incoming: impl Into<Vec<u8>>) -> ScriptedTransport {
        ScriptedTransport {
            incoming: incoming.into(),
            read_pos: 0,
            steps: VecDeque::new(),
            written: Written::default(),
        }
    }

    /// Appends `steps` to the schedule: one per call, reads, writes, flushes and
    /// closes alike, in the order they come.
    pub fn with_steps(mut self, steps: impl IntoIterator<Item = Step>) -> ScriptedTransport {
        self.steps.extend(steps);
        self
    }

    /// Appends a schedule read from fuzz input, one [`Step::from_byte`] per byte.
    pub fn with_schedule(self, schedule: &[u8]) -> ScriptedTransport {
        self.with_steps(schedule.iter().map(|&b| Step::from_byte(b)))
    }

    /// A handle on the bytes written so far, usable after the transport is moved into
    /// a stream.
    pub fn written(&self) -> Written {
        self.written.clone()
    }

    fn step(&mut self, cx: &Context<'_>) -> Step {
        let step = self.steps.pop_front().unwrap_or(Step::Full);
        if step == Step::Pending {
            cx.waker().wake_by_ref();
        }
        match step {
            Step::Short(0) => Step::Zero,
            other => other,
        }
    }

    fn write_step(&mut self, cx: &Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let wanted: usize = bufs.iter().map(|b| b.len()).sum();
        let (take, extra) = match self.step(cx) {
            Step::Pending => return Poll::Pending,
            Step::Fail(kind) => return Poll::Ready(Err(scripted_error(kind))),
            Step::Zero => return Poll::Ready(Ok(0)),
            Step::Full => (wanted, 0),
            Step::Short(n) => (n.min(wanted), 0),
            Step::OverReport(extra) => (wanted, extra),
        };
        let mut out = self.written.lock();
        let mut left = take;
        for buf in bufs {
            let n = left.min(buf.len());
            out.extend_from_slice(&buf[..n]);
            left -= n;
        }
        Poll::Ready(Ok(take + extra))
    }

    fn other_step(&mut self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        match self.step(cx) {
            Step::Pending => Poll::Pending,
            Step::Fail(kind) => Poll::Ready(Err(scripted_error(kind))),
            _ => Poll::Ready(Ok(())),
        }
    }
}

fn scripted_error(kind: io::ErrorKind) -> io::Error {
    io::Error::new(kind, "scripted transport error")
}

impl From<Vec<u8>> for ScriptedTransport {
    fn from(incoming: Vec<u8>) -> ScriptedTransport {
        ScriptedTransport::new(incoming)
    }
}

impl From<&[u8]> for ScriptedTransport {
    fn from(incoming: &[u8]) -> ScriptedTransport {
        ScriptedTransport::new(incoming)
    }
}

impl fmt::Debug for ScriptedTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedTransport")
            .field("incoming_left", &(self.incoming.len() - self.read_pos))
            .field("steps_left", &self.steps.len())
            .field("written", &self.written.len())
            .finish()
    }
}

impl AsyncRead for ScriptedTransport {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let (limit, extra) = match this.step(cx) {
            Step::Pending => return Poll::Pending,
            Step::Fail(kind) => return Poll::Ready(Err(scripted_error(kind))),
            Step::Zero => return Poll::Ready(Ok(0)),
            Step::Full => (usize::MAX, None),
            Step::Short(n) => (n, None),
            Step::OverReport(extra) => (usize::MAX, Some(extra)),
        };
        let left = &this.incoming[this.read_pos..];
        let n = limit.min(buf.len()).min(left.len());
        buf[..n].copy_from_slice(&left[..n]);
        this.read_pos += n;
        Poll::Ready(Ok(match extra {
            Some(extra) => buf.len() + extra,
            None => n,
        }))
    }
}

impl AsyncWrite for ScriptedTransport {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_step(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_step(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.other_step(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.other_step(cx)
    }
}

/// The bytes a [`ScriptedTransport`] has been given to write, readable while the
/// transport is inside a stream. Cloning gives another handle on the same bytes.
#[derive(Clone, Default)]
pub struct Written {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Written {
    /// A copy of the bytes written so far.
    pub fn to_vec(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// How many bytes were written so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A panic while the lock was held left whole bytes: keep them.
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Written").field("len", &self.len()).finish()
    }
}
