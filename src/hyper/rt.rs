//! hyper's I/O traits (`hyper::rt::Read` and `Write`) for [`TlsStream`] and
//! [`HttpsStream`].
//!
//! hyper hands a read a `ReadBufCursor` over memory that may be uninitialised; without
//! `unsafe` (this crate forbids it) the only way in is `put_slice`. A TLS stream copies
//! its plaintext straight from rustls's buffer with it (`TlsStream::poll_read_into`), one
//! copy, as `AsyncRead` copies into a slice. A plain TCP stream must read into memory of
//! its own first: a stack buffer of [`PLAIN_CHUNK`] bytes, then `put_slice`.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use ::hyper::rt::{Read, ReadBufCursor, Write};
use futures_io::{AsyncRead, AsyncWrite};

use super::stream::{HttpsStream, Inner};
use crate::TlsStream;

/// The most a plain TCP read hands hyper at once.
const PLAIN_CHUNK: usize = 8 * 1024;

/// `hyper::rt::Read` for TLS: hyper's h1 and h2 servers and its client handshakes run over
/// a `TlsStream` directly. Errors, end of stream and truncation are those of its
/// [`AsyncRead`] (see [`TlsStream`]'s docs).
impl<S: AsyncRead + AsyncWrite + Unpin> Read for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let max = buf.remaining();
        self.get_mut()
            .poll_read_into(cx, max, |chunk| buf.put_slice(chunk))
            .map_ok(drop)
    }
}

/// `hyper::rt::Write` for TLS: `poll_shutdown` is `close()` (`close_notify`, then the
/// transport's close).
impl<S: AsyncRead + AsyncWrite + Unpin> Write for TlsStream<S> {
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

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_plain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_plain(cx)
    }
}

impl Read for HttpsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().inner_mut() {
            Inner::Tls(tls) => Read::poll_read(Pin::new(&mut **tls), cx, buf),
            Inner::Plain(tcp) => {
                let mut chunk = [0; PLAIN_CHUNK];
                let max = buf.remaining().min(PLAIN_CHUNK);
                Pin::new(tcp)
                    .poll_read(cx, &mut chunk[..max])
                    .map_ok(|n| buf.put_slice(&chunk[..n]))
            }
        }
    }
}

impl Write for HttpsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().inner_mut() {
            Inner::Tls(tls) => tls.poll_write_buf(cx, buf),
            Inner::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().inner_mut() {
            Inner::Tls(tls) => tls.poll_write_bufs(cx, bufs),
            Inner::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().inner_mut() {
            Inner::Tls(tls) => tls.poll_flush_plain(cx),
            Inner::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().inner_mut() {
            Inner::Tls(tls) => tls.poll_close_plain(cx),
            Inner::Plain(tcp) => Pin::new(tcp).poll_close(cx),
        }
    }
}
