//! [`MaybeTls`], what [`Acceptor::accept_or_plaintext`](crate::Acceptor::accept_or_plaintext)
//! gives, and [`Rewind`], the plaintext transport handed back with the bytes already read.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::stream::TlsStream;

/// A connection that began with a TLS handshake, or one that did not.
///
/// From [`Acceptor::accept_or_plaintext`](crate::Acceptor::accept_or_plaintext), which
/// shows how to serve both.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // the stream is moved out at once; a box would cost each TLS connection an allocation
pub enum MaybeTls<S> {
    /// The client spoke TLS: the handshake is done.
    Tls(TlsStream<S>),
    /// The client spoke something else: the transport, with the bytes read to tell
    /// still to be read.
    Plaintext(Rewind<S>),
}

/// A transport with some of its bytes read ahead and given back: reads return those
/// bytes first, then read the transport; writes go straight to the transport.
///
/// [`Acceptor::accept_or_plaintext`](crate::Acceptor::accept_or_plaintext) returns one
/// for a client that did not start a TLS handshake, so that the plaintext protocol sees
/// the connection from its first byte.
///
/// # Examples
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use tlsport::Rewind;
///
/// # futures_lite::future::block_on(async {
/// let (mut client, server) = tlsport::duplex(1024);
/// client.write_all(b"LO\n").await?;
/// // A server read "HEL" to decide what the client speaks, and gives it back:
/// let mut conn = Rewind::new(b"HEL".to_vec(), server);
/// let mut line = [0u8; 6];
/// conn.read_exact(&mut line).await?;
/// assert_eq!(&line, b"HELLO\n");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct Rewind<S> {
    buffered: Vec<u8>,
    /// How much of `buffered` has been read.
    pos: usize,
    io: S,
}

impl<S> Rewind<S> {
    /// `io`, with `buffered` to be read before it.
    pub fn new(buffered: Vec<u8>, io: S) -> Rewind<S> {
        Rewind {
            buffered,
            pos: 0,
            io,
        }
    }

    /// The bytes given back that have not been read yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buffered[self.pos..]
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The transport, mutably. Reading it directly skips the bytes still buffered.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The bytes not read yet, and the transport they came from.
    pub fn into_inner(mut self) -> (Vec<u8>, S) {
        self.buffered.drain(..self.pos);
        (self.buffered, self.io)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let rest = &this.buffered[this.pos..];
        if rest.is_empty() || buf.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        this.pos += n;
        if this.pos == this.buffered.len() {
            // Read out: free it.
            this.buffered = Vec::new();
            this.pos = 0;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pos == this.buffered.len() {
            return Pin::new(&mut this.io).poll_read_vectored(cx, bufs);
        }
        match bufs.iter_mut().find(|b| !b.is_empty()) {
            Some(buf) => Pin::new(this).poll_read(cx, buf),
            None => Poll::Ready(Ok(0)),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}

impl<S: fmt::Debug> fmt::Debug for Rewind<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rewind")
            .field("buffered", &self.buffered().len())
            .field("io", &self.io)
            .finish()
    }
}
