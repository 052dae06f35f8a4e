//! The TCP transport under [`HttpsStream`](super::HttpsStream): async-net's socket, read
//! the way tokio reads one.
//!
//! async-io (under async-net) tries the system call first on every read and waits for
//! readiness only after `EWOULDBLOCK`. hyper polls its connection's read side several
//! times per request (for the response, then to notice a close on an idle connection,
//! again before it writes the next request), so over an async-net socket an HTTP/1.1
//! request cost five `recvfrom` calls, four of them `EWOULDBLOCK`, and up to 40 % more
//! client CPU than hyper-rustls on tokio (BENCHMARKS.md). Here, as in tokio, a short read
//! (fewer bytes than asked for) means the socket's queue was drained: the next read first
//! asks the reactor whether the socket became readable since, which costs no system call
//! while it has not (async-io re-arms its interest once per wait). Data that arrives in
//! between is not missed: re-arming a level-triggered interest in a socket with data
//! queued reports it at once.
//!
//! That wait goes through a future held across polls (`readable_owned`), not through
//! `Async::poll_readable`. `poll_readable` takes a new snapshot of the reactor's tick on
//! every call and ignores an event delivered in that tick (smol-rs/async-io#156). async-net
//! shrugs that off because it tries the read before asking; a reader that asks first, as
//! this one does, was woken, re-armed and put back to sleep over and over whenever the
//! reactor ran on another thread (under tokio, or an executor whose threads do not drive
//! async-io), because the event then lands in the very tick the reader looked at. Under
//! tokio, HTTP/2 with 64 KiB responses ran at 430 requests a second and 1.6 ms of CPU
//! each. A held future keeps its first snapshot, so the next event counts. Writes try the
//! system call first, as async-io does, so they are not affected.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use async_io::{Async, ReadableOwned};
use async_net::TcpStream;
use futures_io::{AsyncRead, AsyncWrite};

pub(super) struct Tcp {
    /// For `HttpsStream::get_ref`; shares its socket and reactor registration with `io`.
    stream: TcpStream,
    io: Arc<Async<std::net::TcpStream>>,
    /// The last read found the receive queue empty (a short read or `EWOULDBLOCK`).
    drained: bool,
    /// The wait for readability once drained, kept across polls (see the module's docs).
    readable: Option<ReadableOwned<std::net::TcpStream>>,
}

impl Tcp {
    pub(super) fn new(stream: TcpStream) -> Tcp {
        let io = Arc::<Async<std::net::TcpStream>>::from(stream.clone());
        Tcp {
            stream,
            io,
            drained: false,
            readable: None,
        }
    }

    pub(super) fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// The socket, for writing through async-io's `AsyncWrite for &Async<_>`.
    fn writer(&self) -> &Async<std::net::TcpStream> {
        &self.io
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.drained {
                let io = &this.io;
                let readable = this
                    .readable
                    .get_or_insert_with(|| io.clone().readable_owned());
                ready!(Pin::new(readable).poll(cx))?;
                this.readable = None;
                this.drained = false;
            }
            let mut socket: &std::net::TcpStream = this.io.get_ref();
            match socket.read(buf) {
                Ok(n) => {
                    // EOF (0) drains it too: a later read waits for the reactor, which
                    // reports a closed socket as readable at once.
                    this.drained = n < buf.len();
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => this.drained = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer()).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer()).poll_flush(cx)
    }

    /// Shuts the write side down: a FIN, as async-net's `TcpStream` sends.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx)
    }
}

impl fmt::Debug for Tcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.stream.fmt(f)
    }
}

#[cfg(test)]
mod tests;
