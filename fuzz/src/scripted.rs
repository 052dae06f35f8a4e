//! The scripted peer of `client_handshake` and `server_handshake`: a transport whose
//! every call follows a schedule from the input, the driver that polls over it as an
//! event loop would (and catches lost wake-ups and self-wake loops), and what both
//! targets do with a finished handshake.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tlsport::TlsStream;

use super::common::CountingWaker;

// ---------------------------------------------------------------------------------------
// The driver

/// Wakers the scripted transport has parked on a scripted `Pending`; the driver wakes
/// them when it plays the event loop.
pub type Parked = Rc<RefCell<Vec<Waker>>>;

/// Polls futures whose only transport is a [`Scripted`] one, as an event loop would:
/// after `Pending`, the transport's "event" fires (its parked wakers are woken) and the
/// future is polled again.
///
/// Checked: a `Pending` must have parked a waker in the transport or woken the task
/// (else nothing could ever wake it: a lost wake-up), and a future may not keep waking
/// itself without touching the transport (a self-wake loop burns a CPU).
pub struct Driver {
    parked: Parked,
    counter: Arc<CountingWaker>,
    waker: Waker,
    polls_left: usize,
}

/// Consecutive self-wakes without any transport `Pending` allowed before it is a spin.
const MAX_SELF_WAKES: usize = 64;

impl Driver {
    pub fn new(parked: Parked, max_polls: usize) -> Driver {
        let counter = Arc::new(CountingWaker::default());
        Driver {
            parked,
            waker: Waker::from(counter.clone()),
            counter,
            polls_left: max_polls,
        }
    }

    /// Runs `fut` to its end; `None` when the poll budget ran out first.
    pub fn run<F: Future>(&mut self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(&self.waker);
        let mut self_wakes = 0;
        while self.polls_left > 0 {
            self.polls_left -= 1;
            let before = self.counter.count();
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                self.parked.borrow_mut().clear();
                return Some(out);
            }
            let woke_itself = self.counter.count() != before;
            let parked = std::mem::take(&mut *self.parked.borrow_mut());
            if parked.is_empty() {
                assert!(
                    woke_itself,
                    "lost wake-up: Pending without a waker parked in the transport"
                );
                self_wakes += 1;
                assert!(
                    self_wakes <= MAX_SELF_WAKES,
                    "self-wake loop: {self_wakes} polls in a row returned Pending after \
                     waking themselves, with no transport Pending"
                );
            } else {
                self_wakes = 0;
                for waker in parked {
                    waker.wake();
                }
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// The scripted transport

/// What the transport does on its next call.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Ready, moving at most this many bytes.
    Ready(usize),
    /// `Pending`, with the waker parked until the driver fires it.
    Pending,
    /// Read: `Ok(0)` (an early EOF). Write: `Ok(0)`.
    Zero,
    /// `ConnectionReset`.
    Fail,
}

fn step_of(byte: u8) -> Step {
    match byte {
        0xff => Step::Fail,
        0xfe => Step::Zero,
        b if b % 4 == 0 => Step::Pending,
        b if b % 4 == 1 => Step::Ready(1 + usize::from(b >> 2) % 16),
        _ => Step::Ready(usize::MAX),
    }
}

/// A transport whose peer is a script: reads return `peer` (then EOF), writes are
/// swallowed, and every call (read, write, flush, close) takes the next step of
/// `schedule`: `Pending`, a short or full transfer, `Ok(0)` or an error. Once the
/// schedule is spent every call is ready and complete, so the peer's bytes always run
/// out and every handshake ends.
pub struct Scripted<'a> {
    peer: &'a [u8],
    schedule: &'a [u8],
    parked: Parked,
    written: usize,
}

impl<'a> Scripted<'a> {
    pub fn new(peer: &'a [u8], schedule: &'a [u8]) -> (Scripted<'a>, Parked) {
        let parked = Parked::default();
        let io = Scripted {
            peer,
            schedule,
            parked: parked.clone(),
            written: 0,
        };
        (io, parked)
    }

    fn step(&mut self, cx: &Context<'_>) -> Step {
        let step = match self.schedule.split_first() {
            Some((&b, rest)) => {
                self.schedule = rest;
                step_of(b)
            }
            None => Step::Ready(usize::MAX),
        };
        if let Step::Pending = step {
            self.parked.borrow_mut().push(cx.waker().clone());
        }
        step
    }
}

fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "scripted connection reset")
}

impl AsyncRead for Scripted<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.step(cx) {
            Step::Pending => Poll::Pending,
            Step::Fail => Poll::Ready(Err(reset())),
            Step::Zero => Poll::Ready(Ok(0)),
            Step::Ready(limit) => {
                let n = limit.min(buf.len()).min(self.peer.len());
                let (head, rest) = self.peer.split_at(n);
                buf[..n].copy_from_slice(head);
                self.peer = rest;
                Poll::Ready(Ok(n))
            }
        }
    }
}

impl Scripted<'_> {
    fn write_step(&mut self, cx: &Context<'_>, wanted: usize) -> Poll<io::Result<usize>> {
        match self.step(cx) {
            Step::Pending => Poll::Pending,
            Step::Fail => Poll::Ready(Err(reset())),
            Step::Zero => Poll::Ready(Ok(0)),
            Step::Ready(limit) => {
                let n = limit.min(wanted);
                self.written += n;
                Poll::Ready(Ok(n))
            }
        }
    }

    fn other_step(&mut self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        match self.step(cx) {
            Step::Pending => Poll::Pending,
            Step::Fail => Poll::Ready(Err(reset())),
            Step::Zero | Step::Ready(_) => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Scripted<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_step(cx, buf.len())
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let wanted = bufs.iter().map(|b| b.len()).sum();
        self.write_step(cx, wanted)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.other_step(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.other_step(cx)
    }
}

// ---------------------------------------------------------------------------------------
// After the handshake

/// Poll budget of one scripted run; running out only ends the run.
pub fn budget(data: &[u8]) -> usize {
    10_000 + 4 * data.len()
}

/// After a finished handshake: read what the peer sent (post-handshake messages, data,
/// alerts), write, flush, close; then check the close contract.
pub fn after_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver,
    stream: &mut TlsStream<S>,
    is_client: bool,
) {
    let info = stream.info();
    assert_eq!(info.is_client, is_client);
    assert!(info.protocol_version.is_some());
    let mut buf = [0u8; 4096];
    for _ in 0..64 {
        match driver.run(stream.read(&mut buf)) {
            Some(Ok(n)) if n > 0 => assert!(n <= buf.len()),
            _ => break,
        }
    }
    let _ = driver.run(stream.write_all(b"ping"));
    let _ = driver.run(stream.flush());
    if let Some(Ok(())) = driver.run(stream.close()) {
        match driver.run(stream.write(b"after close")) {
            Some(Err(_)) | None => {}
            Some(Ok(n)) => panic!("a write after close() was accepted ({n} bytes)"),
        }
        match driver.run(stream.close()) {
            Some(Ok(())) | None => {}
            Some(Err(e)) => panic!("closing twice failed: {e}"),
        }
    }
}
