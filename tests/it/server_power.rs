//! Server power (issue 15): identities by server name, reloading an `Acceptor` in place,
//! the ClientHello read before choosing how to answer it, and plaintext clients handed
//! back on a TLS port. Over `duplex()` and loopback TCP.

use crate::common;

mod hello;
mod plaintext;
mod reload;
mod sni;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use common::*;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::pki_types::CertificateDer;
use tlsport::{Acceptor, Connector, DuplexStream, TlsStream};

/// A connector trusting the test root that verifies the chain but not the name: it
/// shows which certificate a server picks for any name.
fn any_name_connector(pki: &Pki) -> Connector {
    Connector::new(pki.client_policy().danger_accept_invalid_hostnames(true)).unwrap()
}

/// The leaf certificate the peer of `stream` presented.
fn leaf_of<S>(stream: &TlsStream<S>) -> CertificateDer<'static> {
    stream.info().peer_certificates[0].clone()
}

/// The alert from the peer that a handshake error carries, if any.
fn alert_of(err: &tlsport::Error) -> Option<tlsport::rustls::AlertDescription> {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(tlsport::rustls::Error::AlertReceived(alert)) =
            cause.downcast_ref::<tlsport::rustls::Error>()
        {
            return Some(*alert);
        }
        source = cause.source();
    }
    None
}

/// The server sends a line and closes; the client reads to the end (and so takes in
/// the session tickets sent after a TLS 1.3 handshake).
async fn exchange<C, S>(client: &mut TlsStream<C>, server: &mut TlsStream<S>)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    server.write_all(b"hello\n").await.unwrap();
    server.close().await.unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"hello\n");
}

/// The first record (the ClientHello) a tlsport client sends when connecting to `name`.
async fn client_hello_record(connector: &Connector, name: &str) -> Vec<u8> {
    let (c, mut s) = tlsport::duplex(64 * 1024);
    let read = async {
        let mut record = vec![0u8; 5];
        s.read_exact(&mut record).await.unwrap();
        let len = u16::from_be_bytes([record[3], record[4]]) as usize;
        record.resize(5 + len, 0);
        s.read_exact(&mut record[5..]).await.unwrap();
        record
    };
    future::or(read, async {
        let _ = connector.connect_with(name, c).await;
        panic!("the client finished a handshake with nobody");
    })
    .await
}

/// A transport that writes one byte per call: a client that trickles.
struct OneByte(DuplexStream);

impl AsyncRead for OneByte {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for OneByte {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let one = &buf[..buf.len().min(1)];
        Pin::new(&mut self.0).poll_write(cx, one)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

#[test]
fn new_types_are_send_sync_and_debug() {
    fn send_sync<T: Send + Sync + std::fmt::Debug>() {}
    send_sync::<tlsport::ClientHello<DuplexStream>>();
    send_sync::<tlsport::MaybeTls<DuplexStream>>();
    send_sync::<tlsport::Rewind<DuplexStream>>();
    fn send<T: Send>(_: &T) {}
    let (acceptor, io) = (Pki::new().acceptor(), tlsport::duplex(64).0);
    send(&acceptor.read_client_hello(io));
    send(&acceptor.accept_or_plaintext(tlsport::duplex(64).0));
    let _: fn(Acceptor) = |a| drop(a.reload(tlsport::Policy::new()));
}
