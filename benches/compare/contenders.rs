//! The contenders and what they share: one PKI, one pair of rustls configurations used
//! by tlsport and by raw futures-rustls alike, and one reused OpenSSL context.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use tlsport::pki_types::ServerName;
use tlsport::rustls::client::Resumption;
use tlsport::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tlsport::{Acceptor, Connector};

use crate::common::Pki;

/// Who is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// tlsport's `Connector`/`Acceptor`/`Listener` and its own record driver.
    Tlsport,
    /// futures-rustls 0.26 driven by hand with the same `Arc` configs.
    Rustls,
    /// OpenSSL 3 through native-tls, one reused connector and acceptor.
    OpenSsl,
}

impl Contender {
    pub const ALL: [Contender; 3] = [Contender::Tlsport, Contender::Rustls, Contender::OpenSsl];
    pub const RUSTLS_BASED: [Contender; 2] = [Contender::Tlsport, Contender::Rustls];

    pub fn name(self) -> &'static str {
        match self {
            Contender::Tlsport => "tlsport",
            Contender::Rustls => "futures-rustls",
            Contender::OpenSsl => "openssl",
        }
    }

    pub fn parse(s: &str) -> Option<Contender> {
        match s {
            "tlsport" => Some(Contender::Tlsport),
            "rustls" | "futures-rustls" | "raw" => Some(Contender::Rustls),
            "openssl" | "native-tls" => Some(Contender::OpenSsl),
            _ => None,
        }
    }
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The crypto provider of the rustls contenders: aws-lc-rs (tlsport's default), or ring
/// when tlsport is built with `--no-default-features --features ring`.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(not(feature = "aws-lc-rs"), feature = "ring"))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// Everything the contenders are built from, made once.
pub struct Setup {
    pub pki: Pki,
    /// Built from the client config without resumption: every handshake is a full one.
    pub tls_full: Connector,
    /// Built from the client config with rustls's in-memory session store (256).
    pub tls_resume: Connector,
    /// Built from the server config: one ECDSA P-256 certificate, stateful TLS 1.3
    /// tickets (2 per handshake, rustls's default) over a 256-session cache.
    pub tls_acceptor: Acceptor,
    pub raw_full: futures_rustls::TlsConnector,
    pub raw_resume: futures_rustls::TlsConnector,
    pub raw_acceptor: futures_rustls::TlsAcceptor,
    pub ossl_connector: native_tls::TlsConnector,
    pub ossl_acceptor: native_tls::TlsAcceptor,
    pub name: ServerName<'static>,
}

impl Setup {
    pub fn new() -> Setup {
        let pki = Pki::new();
        let provider = provider();
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca.root.clone()).expect("test root");
        let client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut client_full = client.clone();
        client_full.resumption = Resumption::disabled();
        let mut client_resume = client;
        client_resume.resumption = Resumption::in_memory_sessions(256);
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![pki.server.cert_der()], pki.server.key_der())
            .expect("server certificate");
        let (client_full, client_resume, server) = (
            Arc::new(client_full),
            Arc::new(client_resume),
            Arc::new(server),
        );

        let ossl_connector = native_tls::TlsConnector::builder()
            .add_root_certificate(
                native_tls::Certificate::from_der(&pki.ca.root).expect("root for OpenSSL"),
            )
            .build()
            .expect("OpenSSL connector");
        let identity =
            native_tls::Identity::from_pkcs8(pki.server.cert.as_bytes(), pki.server.key.as_bytes())
                .expect("OpenSSL identity");
        let ossl_acceptor = native_tls::TlsAcceptor::new(identity).expect("OpenSSL acceptor");

        Setup {
            tls_full: Connector::from(client_full.clone()),
            tls_resume: Connector::from(client_resume.clone()),
            tls_acceptor: Acceptor::from(server.clone()),
            raw_full: futures_rustls::TlsConnector::from(client_full.clone()),
            raw_resume: futures_rustls::TlsConnector::from(client_resume.clone()),
            raw_acceptor: futures_rustls::TlsAcceptor::from(server.clone()),
            ossl_connector,
            ossl_acceptor,
            name: ServerName::try_from("localhost").expect("name"),
            pki,
        }
    }
}

/// An async TLS stream of any rustls-based contender.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub type BoxIo = Box<dyn Io>;

/// Client handshake of a rustls-based contender, without resumption.
pub async fn client<S>(setup: &Setup, who: Contender, io: S) -> io::Result<BoxIo>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Ok(match who {
        Contender::Tlsport => Box::new(setup.tls_full.connect_with("localhost", io).await?),
        Contender::Rustls => Box::new(setup.raw_full.connect(setup.name.clone(), io).await?),
        Contender::OpenSsl => unreachable!("OpenSSL is driven on blocking sockets"),
    })
}

/// Server handshake of a rustls-based contender.
pub async fn server<S>(setup: &Setup, who: Contender, io: S) -> io::Result<BoxIo>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Ok(match who {
        Contender::Tlsport => Box::new(setup.tls_acceptor.accept(io).await?),
        Contender::Rustls => Box::new(setup.raw_acceptor.accept(io).await?),
        Contender::OpenSsl => unreachable!("OpenSSL is driven on blocking sockets"),
    })
}

/// One complete connection between both ends on this task: handshake, then the server
/// closes (its tickets and `close_notify` go out) and the client reads to the end (so it
/// processes, and with `resume` stores, the tickets). With `check`, returns whether it
/// was resumed (tlsport's `info()` allocates, so it is not called on every connection).
pub async fn connection_pair<S>(
    setup: &Setup,
    who: Contender,
    resume: bool,
    check: bool,
    client_io: S,
    server_io: S,
    scratch: &mut Vec<u8>,
) -> io::Result<bool>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match who {
        Contender::Tlsport => {
            let connector = if resume {
                &setup.tls_resume
            } else {
                &setup.tls_full
            };
            tlsport_pair(
                connector,
                &setup.tls_acceptor,
                check,
                client_io,
                server_io,
                scratch,
            )
            .await
        }
        Contender::Rustls => {
            let connector = if resume {
                &setup.raw_resume
            } else {
                &setup.raw_full
            };
            let (c, s) = futures_lite::future::zip(
                connector.connect(setup.name.clone(), client_io),
                setup.raw_acceptor.accept(server_io),
            )
            .await;
            let (mut c, mut s) = (c?, s?);
            let resumed =
                check && c.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            s.close().await?;
            scratch.clear();
            c.read_to_end(scratch).await?;
            Ok(resumed)
        }
        Contender::OpenSsl => unreachable!("see openssl_pair"),
    }
}

/// [`connection_pair`] for any tlsport connector and acceptor.
pub async fn tlsport_pair<S>(
    connector: &Connector,
    acceptor: &Acceptor,
    check: bool,
    client_io: S,
    server_io: S,
    scratch: &mut Vec<u8>,
) -> io::Result<bool>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (c, s) = futures_lite::future::zip(
        connector.connect_with("localhost", client_io),
        acceptor.accept(server_io),
    )
    .await;
    let (mut c, mut s) = (c?, s?);
    let resumed = check && c.info().resumed;
    s.close().await?;
    scratch.clear();
    c.read_to_end(scratch).await?;
    Ok(resumed)
}

// ---------------------------------------------------------------- OpenSSL on one thread

/// One end of an in-memory, non-blocking byte pipe for OpenSSL: reads of an empty pipe
/// are `WouldBlock`.
#[derive(Debug)]
pub struct MemPipe {
    rx: Rc<RefCell<VecDeque<u8>>>,
    tx: Rc<RefCell<VecDeque<u8>>>,
}

pub fn mem_pair() -> (MemPipe, MemPipe) {
    let (a, b) = (Rc::default(), Rc::default());
    (
        MemPipe {
            rx: Rc::clone(&a),
            tx: Rc::clone(&b),
        },
        MemPipe { rx: b, tx: a },
    )
}

impl Read for MemPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rx = self.rx.borrow_mut();
        if rx.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = rx.read(buf)?;
        Ok(n)
    }
}

impl Write for MemPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx.borrow_mut().extend(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Side<S> {
    Mid(native_tls::MidHandshakeTlsStream<S>),
    Done(native_tls::TlsStream<S>),
}

fn side<S: Read + Write + fmt::Debug>(
    r: Result<native_tls::TlsStream<S>, native_tls::HandshakeError<S>>,
) -> io::Result<Side<S>> {
    match r {
        Ok(s) => Ok(Side::Done(s)),
        Err(native_tls::HandshakeError::WouldBlock(m)) => Ok(Side::Mid(m)),
        Err(native_tls::HandshakeError::Failure(e)) => Err(io::Error::other(e)),
    }
}

fn step<S: Read + Write + fmt::Debug>(s: Side<S>) -> io::Result<Side<S>> {
    match s {
        Side::Mid(m) => side(m.handshake()),
        done => Ok(done),
    }
}

/// Both ends of an OpenSSL handshake driven alternately on this thread over non-blocking
/// transports; then the server shuts down (tickets and `close_notify`) and the client
/// reads to the end. Returns the established pair.
pub fn openssl_pair<S: Read + Write + fmt::Debug>(
    setup: &Setup,
    client_io: S,
    server_io: S,
    finish: bool,
) -> io::Result<(native_tls::TlsStream<S>, native_tls::TlsStream<S>)> {
    let mut c = side(setup.ossl_connector.connect("localhost", client_io))?;
    let mut s = side(setup.ossl_acceptor.accept(server_io))?;
    let mut spins = 0u64;
    let (mut c, mut s) = loop {
        match (c, s) {
            (Side::Done(c), Side::Done(s)) => break (c, s),
            (c2, s2) => {
                c = step(c2)?;
                s = step(s2)?;
            }
        }
        spins += 1;
        if spins > 10_000_000 {
            return Err(io::Error::other("OpenSSL handshake does not progress"));
        }
    };
    if finish {
        s.shutdown()?;
        let mut buf = [0u8; 4096];
        let mut spins = 0u64;
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    spins += 1;
                    if spins > 10_000_000 {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok((c, s))
}
