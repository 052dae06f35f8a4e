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

mod read;
mod readahead;
pub(crate) mod sync_io;
mod write;

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use rustls::pki_types::CertificateDer;
use rustls::{Connection, HandshakeKind, ProtocolVersion};

use crate::deadline::Budget;
use crate::error::{Error, Result};
use crate::policy::{EofPolicy, Version};

use self::readahead::ReadAhead;

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

/// What a handshake negotiated, from [`TlsStream::info`].
///
/// ```no_run
/// # async fn run(stream: tlsport::TlsStream<tlsport::TcpStream>) {
/// let info = stream.info();
/// println!(
///     "{:?} {} via {}",
///     info.protocol_version,
///     info.cipher_suite.as_deref().unwrap_or("?"),
///     info.key_exchange_group.as_deref().unwrap_or("?"),
/// );
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The protocol version.
    pub protocol_version: Option<Version>,
    /// The cipher suite, by its IANA-style name, e.g. `"TLS13_AES_128_GCM_SHA256"`.
    pub cipher_suite: Option<String>,
    /// The key exchange group, e.g. `"X25519"` or `"X25519MLKEM768"`. `None` for a TLS
    /// 1.2 resumption, which has no key exchange.
    pub key_exchange_group: Option<String>,
    /// The ALPN protocol both sides agreed on, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// The server name: the SNI a client sent (`None` for an IP address or with SNI
    /// off), or the SNI a server received.
    pub server_name: Option<String>,
    /// The peer's certificate chain, leaf first; empty when the peer sent none (a client
    /// without a certificate) or on a resumed TLS 1.2 session.
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// Whether the session was resumed rather than fully negotiated.
    pub resumed: bool,
    /// Whether this is the client side.
    pub is_client: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// Completes the handshake within `limit` (the whole handshake, not each read);
    /// shared by [`Connector`](crate::connector::Connector) and
    /// [`Acceptor`](crate::acceptor::Acceptor).
    pub(crate) async fn handshake(self, limit: Option<Duration>) -> Result<Self> {
        self.handshake_within(&Budget::start(limit)).await
    }

    /// Completes the handshake in what is left of `budget`: the deadline of a handshake
    /// that began before this stream existed (a ClientHello read first).
    pub(crate) async fn handshake_within(mut self, budget: &Budget) -> Result<Self> {
        let handshake = async {
            futures_lite::future::poll_fn(|cx| self.poll_handshake(cx))
                .await
                .map_err(|e| Error::from_io(e, "tls handshake failed"))
        };
        budget.run(handshake).await?;
        Ok(self)
    }

    /// Drives the handshake to its end, flushing every flight.
    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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
