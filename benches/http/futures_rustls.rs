//! The raw baseline on the same runtime: hyper-util's pooled client over futures-rustls on
//! async-net, on smol, with the same compiled rustls config as tlsport's connector. What
//! it takes to use futures-rustls under hyper without tlsport: a connector (TCP connect,
//! `TCP_NODELAY`, handshake) and hyper's I/O traits over the futures-io stream.
//!
//! Reads copy rustls's plaintext into a 16 KiB buffer of the connection (zeroed once),
//! then into hyper's cursor with `put_slice`, the safe way in: one copy more than
//! tlsport, whose stream copies from rustls's buffer straight into the cursor. The
//! `read` section of this bench puts that extra copy at about 5 % of bulk-read CPU; for
//! 32-byte responses it is nothing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_net::TcpStream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use hyper::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use tlsport::pki_types::ServerName;

/// Connects `https://` URIs with futures-rustls.
#[derive(Clone)]
pub struct FrConnector(pub TlsConnector);

/// A futures-rustls stream with hyper's I/O traits.
pub struct FrStream {
    tls: TlsStream<TcpStream>,
    scratch: Box<[u8]>,
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<FrStream>> + Send>>;

impl tower_service::Service<Uri> for FrConnector {
    type Response = FrStream;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        let connector = self.0.clone();
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().to_owned();
            let tcp = TcpStream::connect((host.as_str(), uri.port_u16().unwrap_or(443))).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(host).map_err(io::Error::other)?;
            let tls = connector.connect(name, tcp).await?;
            Ok(FrStream {
                tls,
                scratch: vec![0; 16 * 1024].into_boxed_slice(),
            })
        })
    }
}

impl Connection for FrStream {
    fn connected(&self) -> Connected {
        if self.tls.get_ref().1.alpn_protocol() == Some(b"h2") {
            Connected::new().negotiated_h2()
        } else {
            Connected::new()
        }
    }
}

impl Read for FrStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let max = buf.remaining().min(this.scratch.len());
        let n = std::task::ready!(Pin::new(&mut this.tls).poll_read(cx, &mut this.scratch[..max]))?;
        buf.put_slice(&this.scratch[..n]);
        Poll::Ready(Ok(()))
    }
}

impl Write for FrStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tls).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tls).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tls).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tls).poll_close(cx)
    }
}

/// The config of `connector` as futures-rustls takes it.
pub fn connector(config: Arc<tlsport::rustls::ClientConfig>) -> FrConnector {
    FrConnector(TlsConnector::from(config))
}
