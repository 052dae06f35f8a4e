//! Scripted transports: a [`Scripted`] wrapper around a transport (mostly one end of
//! `tlsport::duplex`) hands every call to a [`Script`], which passes it on, or counts,
//! changes, holds back or fails it. [`Probe`] is the counting, misbehaving-on-demand one
//! several test files use; [`pair_over`] and [`probed_pair`] run both handshakes over
//! such transports.
#![allow(dead_code)]

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future;
use tlsport::{Acceptor, Connector, DuplexStream, TlsStream};

/// Both handshakes over arbitrary transports, both expected to succeed.
pub async fn pair_over<C, S>(
    connector: &Connector,
    acceptor: &Acceptor,
    c: C,
    s: S,
) -> (TlsStream<C>, TlsStream<S>)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (c, s) = future::zip(connector.connect_with("localhost", c), acceptor.accept(s)).await;
    (c.expect("client handshake"), s.expect("server handshake"))
}

/// Both handshakes over a 64 KiB duplex whose client end is a [`Probe`]; returns the pair
/// and the probe's knobs.
pub async fn probed_pair(
    connector: &Connector,
    acceptor: &Acceptor,
) -> (
    TlsStream<Probe<DuplexStream>>,
    TlsStream<DuplexStream>,
    Arc<Knobs>,
) {
    let (c, s) = tlsport::duplex(64 * 1024);
    let (c, knobs) = probe(c);
    let (client, server) = pair_over(connector, acceptor, c, s).await;
    (client, server, knobs)
}

/// A transport `inner` whose every call goes through `script`.
#[derive(Debug)]
pub struct Scripted<S, T> {
    pub inner: S,
    pub script: T,
}

/// What a [`Scripted`] transport does with each call. Each method gets the inner
/// transport; by default it passes the call on, except `poll_write_vectored`, which (as
/// `AsyncWrite`'s own default) writes the first non-empty buffer through `poll_write`:
/// a script that forwards vectored writes says so.
pub trait Script<S: AsyncRead + AsyncWrite + Unpin> {
    fn poll_read(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(inner).poll_read(cx, buf)
    }

    fn poll_write(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(inner, cx, first)
    }

    fn poll_flush(&mut self, inner: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(inner).poll_flush(cx)
    }

    fn poll_close(&mut self, inner: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(inner).poll_close(cx)
    }
}

impl<S, T> AsyncRead for Scripted<S, T>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Script<S> + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.script.poll_read(&mut this.inner, cx, buf)
    }
}

impl<S, T> AsyncWrite for Scripted<S, T>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Script<S> + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.script.poll_write(&mut this.inner, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.script.poll_write_vectored(&mut this.inner, cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.script.poll_flush(&mut this.inner, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.script.poll_close(&mut this.inner, cx)
    }
}

/// Counters and knobs shared between a test and its [`Probe`] transport.
#[derive(Debug, Default)]
pub struct Knobs {
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    pub vectored: AtomicUsize,
    pub flushes: AtomicUsize,
    pub max_bufs: AtomicUsize,
    /// Bytes the inner transport took, by plain and vectored writes.
    pub written: AtomicUsize,
    /// Writes return `Ok(0)`.
    pub write_zero: AtomicBool,
    /// `Some(n)`: deliver at most `n` more bytes, then fail reads with ConnectionReset.
    pub read_budget: Mutex<Option<usize>>,
    /// `Some(kind)`: the next write call (plain or vectored) fails with `kind`, once.
    pub fail_next_write: Mutex<Option<io::ErrorKind>>,
}

impl Knobs {
    pub fn reads(&self) -> usize {
        self.reads.load(SeqCst)
    }

    /// Write calls of either kind, plain or vectored.
    pub fn write_calls(&self) -> usize {
        self.writes.load(SeqCst) + self.vectored.load(SeqCst)
    }

    pub fn written(&self) -> usize {
        self.written.load(SeqCst)
    }
}

/// A transport that counts every call (and the bytes written) and can be scripted to
/// misbehave through its [`Knobs`]. It forwards vectored writes.
pub type Probe<S> = Scripted<S, Arc<Knobs>>;

pub fn probe<S>(inner: S) -> (Probe<S>, Arc<Knobs>) {
    let knobs = Arc::new(Knobs::default());
    (
        Scripted {
            inner,
            script: knobs.clone(),
        },
        knobs,
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> Script<S> for Arc<Knobs> {
    fn poll_read(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.reads.fetch_add(1, SeqCst);
        let budget = *self.read_budget.lock().unwrap();
        let limit = match budget {
            Some(0) if !buf.is_empty() => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "scripted connection reset",
                )));
            }
            Some(n) => n.min(buf.len()),
            None => buf.len(),
        };
        let n = ready!(Pin::new(inner).poll_read(cx, &mut buf[..limit]))?;
        if let Some(left) = self.read_budget.lock().unwrap().as_mut() {
            *left -= n;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, SeqCst);
        if let Some(kind) = self.fail_next_write.lock().unwrap().take() {
            return Poll::Ready(Err(io::Error::new(kind, "scripted write failure")));
        }
        if self.write_zero.load(SeqCst) {
            return Poll::Ready(Ok(0));
        }
        let n = ready!(Pin::new(inner).poll_write(cx, buf))?;
        self.written.fetch_add(n, SeqCst);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.vectored.fetch_add(1, SeqCst);
        let nonempty = bufs.iter().filter(|b| !b.is_empty()).count();
        self.max_bufs.fetch_max(nonempty, SeqCst);
        if let Some(kind) = self.fail_next_write.lock().unwrap().take() {
            return Poll::Ready(Err(io::Error::new(kind, "scripted write failure")));
        }
        if self.write_zero.load(SeqCst) {
            return Poll::Ready(Ok(0));
        }
        let n = ready!(Pin::new(inner).poll_write_vectored(cx, bufs))?;
        self.written.fetch_add(n, SeqCst);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, inner: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flushes.fetch_add(1, SeqCst);
        Pin::new(inner).poll_flush(cx)
    }
}
