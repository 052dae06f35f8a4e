//! A loopback TLS session in one process: a CA and a server certificate made at start-up,
//! a server on a `Listener`, a client with a `Connector`, one message each way, and what
//! was negotiated. Two connections, so the second one shows session resumption.
//!
//! Run it with `cargo run --example demo`. It needs no arguments, files or network.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, future};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tlsport::{Acceptor, CaBundle, Connector, Identity, Policy, SessionInfo, TcpStream};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (root, server_identity) = make_certificates()?;

    let acceptor = Acceptor::new(
        Policy::new()
            .identity(server_identity)
            .alpn_protocols(["h2", "http/1.1"]),
    )?;
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(root)
            .alpn_protocols(["http/1.1"]),
    )?;

    future::block_on(async {
        let listener = acceptor.bind("127.0.0.1", 0).await?;
        let addr = listener.local_addr()?;
        println!("server listening on {addr}");

        for round in 1..=2 {
            let server = async {
                let (mut stream, peer) = listener.accept().await?;
                let mut request = [0; 12];
                stream.read_exact(&mut request).await?;
                stream.write_all(b"hello, client").await?;
                stream.close().await?;
                println!("server: {} from {peer}", String::from_utf8_lossy(&request));
                Ok::<_, Box<dyn std::error::Error>>(())
            };
            let client = async {
                let wire = Counted::new(TcpStream::connect(addr).await?);
                let (sent, received) = (wire.sent.clone(), wire.received.clone());
                let mut stream = connector.connect_with("localhost", wire).await?;
                stream.write_all(b"hello, world").await?;
                let mut reply = Vec::new();
                stream.read_to_end(&mut reply).await?;
                stream.close().await?;
                println!("client: {}", String::from_utf8_lossy(&reply));
                report(round, &stream.info(), &sent, &received);
                Ok::<_, Box<dyn std::error::Error>>(())
            };
            let (server, client) = future::zip(server, client).await;
            server?;
            client?;
        }
        Ok(())
    })
}

fn report(round: u32, info: &SessionInfo, sent: &AtomicU64, received: &AtomicU64) {
    let alpn = info
        .alpn_protocol
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    println!("connection {round}:");
    println!("  protocol version:   {:?}", info.protocol_version.unwrap());
    println!(
        "  cipher suite:       {}",
        info.cipher_suite.as_deref().unwrap_or("-")
    );
    println!(
        "  key exchange group: {}",
        info.key_exchange_group.as_deref().unwrap_or("-")
    );
    println!("  alpn protocol:      {alpn}");
    println!(
        "  server name (SNI):  {}",
        info.server_name.as_deref().unwrap_or("-")
    );
    println!("  peer certificates:  {}", info.peer_certificates.len());
    println!("  resumed:            {}", info.resumed);
    println!(
        "  bytes on the wire:  {} sent, {} received (for 12 + 13 bytes of data)",
        sent.load(Ordering::Relaxed),
        received.load(Ordering::Relaxed)
    );
}

/// A root CA and a server identity for localhost, made now; nothing is stored.
fn make_certificates()
-> Result<(tlsport::pki_types::CertificateDer<'static>, Identity), Box<dyn std::error::Error>> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tlsport demo root");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate()?;
    let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let cert = params.signed_by(&key, &issuer)?;
    let identity = Identity::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())?;
    Ok((ca_cert.der().clone(), identity))
}

/// A transport wrapper that counts the bytes that cross it.
struct Counted<S> {
    io: S,
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
}

impl<S> Counted<S> {
    fn new(io: S) -> Self {
        Counted {
            io,
            sent: Arc::default(),
            received: Arc::default(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.received.fetch_add(n as u64, Ordering::Relaxed);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll {
            self.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}
