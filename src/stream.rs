//! [`TlsStream`]: the record driver that moves bytes between rustls and any transport.
//!
//! This is tlsport's own driver over `rustls::Connection` rather than futures-rustls,
//! whose 0.26.0 release turns a transport's `Ok(0)` write into a silent `Pending`, never
//! flushes the transport during the handshake, wakes itself in a loop when rustls has
//! nothing to do, lets writes through after `close()`, and reports truncation
//! differently on each side. Here every `Poll::Pending` comes from the transport (so a
//! waker is registered), `Ok(0)` on write is [`io::ErrorKind::WriteZero`], the
//! transport is flushed whenever a handshake flight has been written, writes after
//! `close()` fail before reaching rustls, and truncation is reported on every read.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use futures_io::{AsyncRead, AsyncWrite};
use rustls::pki_types::CertificateDer;
use rustls::{Connection, HandshakeKind, ProtocolVersion};

use crate::error::Error;
use crate::io::{SyncIo, to_poll};
use crate::policy::{EofPolicy, Version};
use crate::readahead::ReadAhead;
use crate::session::SessionInfo;

#[cfg(feature = "hyper")]
mod read_into;

/// A TLS connection over a transport `S`, on the client or the server side.
///
/// It implements `futures-io`'s [`AsyncRead`] and [`AsyncWrite`] (vectored writes too),
/// so anything built on those traits runs over it.
///
/// # Closing
///
/// Call `close()` (from `futures_lite::AsyncWriteExt` or `futures::AsyncWriteExt`) when
/// you are done writing: it sends a TLS `close_notify` alert, flushes, and closes the
/// transport (a FIN on TCP). Without it the peer cannot tell your end of the data from a
/// cut connection, and under [`EofPolicy::Strict`] it will report a truncation error.
/// Dropping a `TlsStream` sends nothing. Closing twice is fine; writing after `close()`
/// fails with [`io::ErrorKind::BrokenPipe`] and sends nothing. Reading after `close()`
/// still works, until the peer closes its side. When the peer closes first, read to the
/// end (`Ok(0)`) before closing: a peer that has gone away entirely may have reset the
/// connection, and writing `close_notify` into a reset connection is an error unless the
/// peer's own `close_notify` was read.
///
/// # Splitting
///
/// [`TlsStream::split`] gives a read half and a write half for two tasks. Generic
/// splitters (`futures::io::split`, or `tokio::io::split` over tokio-util's compat layer)
/// work too: a read may have records of its own to send (session tickets, KeyUpdate
/// replies) and sends them without taking the transport's wake-up from a writer that
/// waits on it.
///
/// # End of stream
///
/// A read returns `Ok(0)` once the peer has sent `close_notify` and all data before it
/// has been read. A transport EOF without `close_notify` is, under
/// [`EofPolicy::Strict`] (the default), an [`io::ErrorKind::UnexpectedEof`] error on
/// that read and every later one; under [`EofPolicy::AllowRagged`] it is `Ok(0)`.
///
/// # Errors
///
/// When TLS fails (a bad record, an alert from the peer) the `io::Error` carries a
/// [`tlsport::Error`](crate::Error), which `io::Error::into_inner` and `downcast` give
/// back.
///
/// A write that returns `Ok(n)` has handed `n` bytes to rustls, which sends them as soon
/// as the transport takes them: when the transport fails while they are being sent, the
/// write still returns `Ok(n)` (so a caller that retries never sends them twice) and the
/// transport's error comes with the next write, flush or close.
///
/// # Caveats
///
/// After the handshake, reads go through a 64 KiB read-ahead buffer (rustls alone would
/// read the transport about 4 KiB at a time). A connection whose last read found the
/// transport empty gives that buffer back to a small per-thread pool, so idle
/// connections hold none; a busy one keeps it until a read finds nothing waiting or the
/// stream is dropped. Many connections in the middle of transfers therefore hold 64 KiB
/// each, beside rustls's own buffers.
pub struct TlsStream<S> {
    io: S,
    conn: Connection,
    eof: EofPolicy,
    /// The SNI this client sent.
    sni: Option<String>,
    /// TLS records were written to the transport since its last flush.
    unflushed: bool,
    /// The transport reported EOF.
    read_eof: bool,
    /// The peer's `close_notify` has been read.
    peer_closed: bool,
    /// `close_notify` queued: further writes are refused.
    write_closed: bool,
    /// The transport's `poll_close` finished.
    io_closed: bool,
    /// Transport bytes read ahead of rustls, after the handshake.
    readahead: ReadAhead,
    /// The TLS error that ended the session: every later read (once the plaintext
    /// received before it is consumed) and write fails with it.
    fatal: Option<rustls::Error>,
    /// A transport error met while sending records after rustls had taken a write's
    /// plaintext: that write reported its bytes taken (they are, and go out once the
    /// transport works), and this error waits for the next write, flush or close.
    write_error: Option<io::Error>,
    /// While a write, flush or close waits on the transport (returned `Pending`), the
    /// waker it registered there. The read path also sends records (session tickets,
    /// KeyUpdate replies, and whatever the writer has queued); it sends them with this
    /// waker, so it never takes the transport's write registration from a blocked writer.
    /// A generic splitter (`futures::io::split`, `tokio::io::split`) polls this one
    /// stream with each half's own waker, and most transports keep one write waker.
    /// (A write whose future is dropped while it waits leaves its waker here until the
    /// next write-side call; the read path still sends queued records whenever it runs.)
    write_waker: Option<Waker>,
}

impl<S> TlsStream<S> {
    pub(crate) fn new(io: S, conn: Connection, eof: EofPolicy, sni: Option<String>) -> Self {
        TlsStream {
            io,
            conn,
            eof,
            sni,
            unflushed: false,
            read_eof: false,
            peer_closed: false,
            write_closed: false,
            io_closed: false,
            readahead: ReadAhead::default(),
            fatal: None,
            write_error: None,
            write_waker: None,
        }
    }

    /// What was negotiated: version, cipher suite, key exchange group, ALPN protocol,
    /// server name, the peer's certificates, resumption.
    pub fn info(&self) -> SessionInfo {
        let conn = &self.conn;
        SessionInfo {
            protocol_version: conn.protocol_version().and_then(|v| match v {
                ProtocolVersion::TLSv1_3 => Some(Version::Tls13),
                ProtocolVersion::TLSv1_2 => Some(Version::Tls12),
                _ => None,
            }),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map(|s| name_of(s.suite().as_str(), &s.suite())),
            key_exchange_group: conn
                .negotiated_key_exchange_group()
                .map(|g| name_of(g.name().as_str(), &g.name())),
            alpn_protocol: conn.alpn_protocol().map(<[u8]>::to_vec),
            server_name: match conn {
                Connection::Client(_) => self.sni.clone(),
                Connection::Server(server) => server.server_name().map(str::to_owned),
            },
            peer_certificates: conn
                .peer_certificates()
                .map(|c| c.iter().map(CertificateDer::clone).collect())
                .unwrap_or_default(),
            resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
            is_client: matches!(conn, Connection::Client(_)),
        }
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The transport, mutably. Reading or writing it directly corrupts the TLS stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The transport, giving up the TLS session. Nothing is sent; any data rustls still
    /// buffers is lost.
    pub fn into_inner(self) -> S {
        self.io
    }
}

fn name_of(known: Option<&str>, value: &dyn fmt::Debug) -> String {
    known.map_or_else(|| format!("{value:?}"), str::to_owned)
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

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the peer closed the connection without close_notify: the data may be truncated",
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// Reads TLS bytes from the transport into rustls and processes them.
    /// `Ready(Ok(false))` is transport EOF.
    fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut io = SyncIo::new(&mut self.io, cx);
        let result = self.conn.read_tls(&mut io);
        let n = ready!(to_poll(result, io.pending))?;
        if n == 0 {
            self.read_eof = true;
        }
        self.process(cx)?;
        Poll::Ready(Ok(n > 0))
    }

    /// Writes queued TLS records until rustls has none left (`Ready(Ok)`) or the
    /// transport is full (`Pending`).
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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
    fn poll_flush_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Drives the handshake to its end, flushing every flight.
    pub(crate) fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let write = match self.poll_write_tls(cx) {
                Poll::Ready(Ok(())) => self.poll_flush_io(cx),
                other => other,
            };
            let write_pending = match write {
                Poll::Ready(Ok(())) => false,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => true,
            };
            if !self.conn.is_handshaking() {
                // A TLS 1.3 server has only session tickets left to send: they go out
                // with its next read or write, so a peer that reads nothing until it has
                // written cannot hold the handshake up. Anything else (a Finished) must
                // be out before the handshake counts as done.
                let only_tickets = matches!(self.conn, Connection::Server(_))
                    && self.conn.protocol_version() == Some(ProtocolVersion::TLSv1_3);
                return if write_pending && !only_tickets {
                    Poll::Pending
                } else {
                    Poll::Ready(Ok(()))
                };
            }
            if !self.conn.wants_read() && !write_pending {
                // rustls neither writes nor reads yet is mid-handshake: never spin on it.
                return Poll::Ready(Err(io::Error::other("the TLS handshake stalled")));
            }
            // Read even when rustls would rather finish writing first: with little
            // buffering between us, the peer may be blocked writing to us, and if neither
            // side reads until its own flight is out, neither ever finishes.
            match self.poll_read_tls(cx)? {
                Poll::Ready(true) => continue,
                Poll::Ready(false) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection during the TLS handshake",
                    )));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Hands rustls the bytes read ahead and processes them. What that makes rustls
    /// send (a KeyUpdate reply, a refusal to renegotiate) goes out now, without waiting
    /// on the transport: a peer may be waiting for it before it sends anything more.
    fn feed_readahead(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let mut data = self.readahead.data();
        let n = self.conn.read_tls(&mut data)?;
        self.readahead.consume(n);
        self.process(cx)?;
        self.push_pending(cx);
        Ok(())
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
    fn push_pending(&mut self, cx: &mut Context<'_>) {
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

    /// Processes what rustls has read; on failure sends rustls's alert without waiting.
    fn process(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Err(err) = self.conn.process_new_packets() {
            // Tell the peer why: rustls has queued an alert.
            self.push_pending(cx);
            self.fatal = Some(err.clone());
            return Err(Error::from_rustls(err).into());
        }
        Ok(())
    }

    /// The transport error a write deferred (see `write_error`), once.
    fn take_write_error(&mut self) -> io::Result<()> {
        match self.write_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The session's fatal error, if it has one.
    fn check_fatal(&self) -> io::Result<()> {
        match &self.fatal {
            Some(err) => Err(Error::from_rustls(err.clone()).into()),
            None => Ok(()),
        }
    }

    /// `AsyncRead::poll_read`, on `&mut self`: fills as much of `buf` as the bytes
    /// already received allow, and waits on the transport only when it has nothing.
    pub(crate) fn poll_read_plain(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut filled = 0;
        loop {
            match self.conn.reader().read(&mut buf[filled..]) {
                Ok(0) => {
                    self.peer_closed = true;
                    return Poll::Ready(Ok(filled));
                }
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Poll::Ready(Ok(filled));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !self.read_eof => {}
                Err(_) if filled > 0 => return Poll::Ready(Ok(filled)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return Poll::Ready(match self.eof {
                        EofPolicy::Strict => Err(truncated()),
                        EofPolicy::AllowRagged => Ok(0),
                    });
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
            // The plaintext is drained. What is returned already goes first; an error
            // waits for the next call.
            if let Err(e) = self.check_fatal() {
                return Poll::Ready(if filled > 0 { Ok(filled) } else { Err(e) });
            }
            if !self.readahead.is_empty() {
                match self.feed_readahead(cx) {
                    Ok(()) => continue,
                    // Records before the bad one may have left plaintext: deliver it
                    // first; the error comes once it is drained.
                    Err(_) if self.fatal.is_some() => continue,
                    Err(_) if filled > 0 => return Poll::Ready(Ok(filled)),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if filled > 0 {
                return Poll::Ready(Ok(filled));
            }
            // About to wait for the peer: first send what rustls still holds (session
            // tickets, a KeyUpdate reply), which the peer may be waiting for.
            self.push_pending(cx);
            if ready!(self.readahead.poll_fill(&mut self.io, cx))? == 0 {
                // Tell rustls about the EOF, so it can tell truncation from close_notify.
                self.read_eof = true;
                self.conn.read_tls(&mut io::empty())?;
                self.process(cx)?;
            }
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

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_plain(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_buf(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_bufs(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_plain(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_plain(cx)
    }
}

impl<S: fmt::Debug> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("io", &self.io)
            .field("is_client", &matches!(self.conn, Connection::Client(_)))
            .field("protocol_version", &self.conn.protocol_version())
            .field("eof", &self.eof)
            .field("write_closed", &self.write_closed)
            .finish_non_exhaustive()
    }
}
