//! [`Recorder`]: a transport wrapper that keeps both directions of a session, to write
//! them out as corpus files.

use std::fmt;
use std::io::{self, IoSlice};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};

/// Wraps a transport and records every byte it moves, both ways.
///
/// Put it under one side of a fuzzing session; its [`Tape`] then holds what that side
/// sent (the input a fuzz target of the *other* side replays) and what it received.
/// [`record`](super::record) does it all for a client and a server over
/// [`duplex`](crate::duplex).
///
/// # Examples
///
/// ```
/// use futures_lite::AsyncWriteExt;
/// use tlsport::fuzzing::Recorder;
///
/// # futures_lite::future::block_on(async {
/// let (a, _b) = tlsport::duplex(1024);
/// let mut io = Recorder::new(a);
/// let tape = io.tape();
/// io.write_all(b"hello").await?;
/// assert_eq!(tape.recording().sent(), b"hello");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct Recorder<S> {
    io: S,
    tape: Tape,
}

impl<S> Recorder<S> {
    /// Records what passes through `io`.
    pub fn new(io: S) -> Recorder<S> {
        Recorder {
            io,
            tape: Tape::default(),
        }
    }

    /// A handle on the recording, usable after the recorder is moved into a stream.
    pub fn tape(&self) -> Tape {
        self.tape.clone()
    }

    /// The transport inside.
    pub fn into_inner(self) -> S {
        self.io
    }
}

impl<S> fmt::Debug for Recorder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("tape", &self.tape)
            .finish_non_exhaustive()
    }
}

/// Counts a transport's answer against the buffer it was given; an answer larger than
/// the buffer records nothing (tlsport fails the stream on it).
fn moved(result: &io::Result<usize>, len: usize) -> Option<usize> {
    match result {
        Ok(n) if *n <= len => Some(*n),
        _ => None,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let result = ready!(Pin::new(&mut self.io).poll_read(cx, buf));
        if let Some(n) = moved(&result, buf.len()) {
            self.tape.lock().received.extend_from_slice(&buf[..n]);
        }
        Poll::Ready(result)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = ready!(Pin::new(&mut self.io).poll_write(cx, buf));
        if let Some(n) = moved(&result, buf.len()) {
            self.tape.lock().sent.extend_from_slice(&buf[..n]);
        }
        Poll::Ready(result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, bufs));
        let total = bufs.iter().map(|b| b.len()).sum();
        if let Some(mut left) = moved(&result, total) {
            let mut tape = self.tape.lock();
            for buf in bufs {
                let n = left.min(buf.len());
                tape.sent.extend_from_slice(&buf[..n]);
                left -= n;
            }
        }
        Poll::Ready(result)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

/// A shared handle on what a [`Recorder`] has seen; cloning gives another handle.
#[derive(Clone, Default)]
pub struct Tape {
    inner: Arc<Mutex<Recording>>,
}

impl Tape {
    /// A copy of the recording so far.
    pub fn recording(&self) -> Recording {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Recording> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.lock().fmt(f)
    }
}

/// Both directions of a session, as one side saw them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Recording {
    sent: Vec<u8>,
    received: Vec<u8>,
}

impl Recording {
    /// The bytes the recorded side sent: replayed into a fresh peer of the other side,
    /// they play this side again.
    pub fn sent(&self) -> &[u8] {
        &self.sent
    }

    /// The bytes the recorded side received.
    pub fn received(&self) -> &[u8] {
        &self.received
    }

    /// Writes the two directions as corpus files, `sent` to the first path and
    /// `received` to the second, creating their folders.
    ///
    /// For a recording of a client: the first file is a seed of a server-side target
    /// ([`replay_server`](super::replay_server)), the second one of a client-side
    /// target ([`replay_client`](super::replay_client)).
    ///
    /// # Errors
    ///
    /// The error of the first folder or file that cannot be written.
    pub fn write_corpus(
        &self,
        sent_to: impl AsRef<Path>,
        received_to: impl AsRef<Path>,
    ) -> io::Result<()> {
        for (path, bytes) in [
            (sent_to.as_ref(), &self.sent),
            (received_to.as_ref(), &self.received),
        ] {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, bytes)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("sent", &self.sent.len())
            .field("received", &self.received.len())
            .finish()
    }
}
