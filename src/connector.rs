//! [`Connector`]: the client side.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use rustls::pki_types::{DnsName, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection};

use crate::error::{Error, ErrorKind, Result};
use crate::net::{self, Port};
use crate::policy::{Policy, client_config};
use crate::stream::TlsStream;

/// A transport protocol for [`Connector::connect_proto`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// TLS over TCP.
    Tcp,
    /// DTLS over UDP: refused, rustls has no DTLS.
    Udp,
}

/// Opens TLS connections as a client, with the settings of one [`Policy`].
///
/// Build it once and reuse it (cloning is cheap, an `Arc`): the rustls configuration,
/// the trust store and the session cache are made in [`Connector::new`] and shared by
/// every connection, so resumption works across connections.
///
/// # Examples
///
/// Over any transport, here the in-memory [`duplex`](crate::duplex):
///
/// ```
/// # fn main() -> tlsport::Result<()> {
/// # let ca = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
/// # let (cert_pem, key_pem) = (ca.cert.pem(), ca.signing_key.serialize_pem());
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use tlsport::{Acceptor, CaBundle, Connector, Identity, Policy};
///
/// let identity = Identity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
/// let acceptor = Acceptor::new(Policy::new().identity(identity.clone()))?;
/// let connector = Connector::new(
///     Policy::new()
///         .ca_bundle(CaBundle::Empty)
///         .add_root_certificate(identity.chain()[0].clone()),
/// )?;
///
/// let (client_io, server_io) = tlsport::duplex(64 * 1024);
/// futures_lite::future::block_on(async {
///     let server = async {
///         let mut stream = acceptor.accept(server_io).await?;
///         let mut line = [0; 5];
///         stream.read_exact(&mut line).await?;
///         stream.write_all(&line).await?;
///         stream.close().await?;
///         tlsport::Result::Ok(())
///     };
///     let client = async {
///         let mut stream = connector.connect_with("localhost", client_io).await?;
///         stream.write_all(b"hello").await?;
///         let mut echo = Vec::new();
///         stream.read_to_end(&mut echo).await?;
///         assert_eq!(echo, b"hello");
///         tlsport::Result::Ok(())
///     };
///     let (server, client) = futures_lite::future::zip(server, client).await;
///     server.and(client)
/// })
/// # }
/// ```
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<ClientConfig>,
    policy: Policy,
}

impl Connector {
    /// Compiles `policy` into a client configuration.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for a policy that cannot work (no roots with verification
    /// on, no protocol version, a system store that cannot be loaded),
    /// [`ErrorKind::InvalidInput`] for an invalid [`Policy::server_name`] or an ALPN
    /// name outside 1 to 255 bytes,
    /// [`ErrorKind::Load`] for an unreadable [`CaBundle::File`](crate::CaBundle::File),
    /// [`ErrorKind::Unsupported`] for a backend or bundle not compiled in.
    ///
    /// # Caveats
    ///
    /// This may block: it reads bundle files and loads the system store. Call it once,
    /// at start-up or on a blocking thread, not per connection.
    pub fn new(policy: Policy) -> Result<Connector> {
        if let Some(name) = &policy.server_name {
            server_name(name)?;
        }
        let config = client_config(&policy)?;
        Ok(Connector {
            inner: Arc::new(Inner {
                config: Arc::new(config),
                policy,
            }),
        })
    }

    /// Connects to `host:port` over TCP and performs the handshake.
    ///
    /// `host` is a DNS name or an IPv4 or IPv6 address (`::1` or `[::1]`); it is the name
    /// the server's certificate is verified against and sent as SNI, unless
    /// [`Policy::server_name`] overrides it. `port` is a number or a service name
    /// (`"https"`). The TCP phase is limited by [`Policy::connect_timeout`], the TLS
    /// phase by [`Policy::handshake_timeout`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a bad host or port, [`ErrorKind::Resolve`] when
    /// the name does not resolve, [`ErrorKind::Connect`] when no address accepts,
    /// [`ErrorKind::TimedOut`], and every handshake error of [`Connector::connect_with`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the attempt and closes the socket.
    pub async fn connect(
        &self,
        host: &str,
        port: impl Into<Port>,
    ) -> Result<TlsStream<async_net::TcpStream>> {
        let name = self.name_for(host)?;
        let tcp = net::connect_tcp(host, port.into(), self.inner.policy.connect_timeout).await?;
        self.handshake(name, tcp).await
    }

    /// [`Connector::connect`] with an explicit transport protocol (Gauche's `proto`
    /// argument). [`Proto::Udp`] is refused at once with [`ErrorKind::Unsupported`]:
    /// rustls has no DTLS, and nothing falls back to TCP.
    ///
    /// # Errors
    ///
    /// As [`Connector::connect`], and [`ErrorKind::Unsupported`] for UDP.
    ///
    /// # Cancel safety
    ///
    /// As [`Connector::connect`].
    pub async fn connect_proto(
        &self,
        host: &str,
        port: impl Into<Port>,
        proto: Proto,
    ) -> Result<TlsStream<async_net::TcpStream>> {
        match proto {
            Proto::Tcp => self.connect(host, port).await,
            Proto::Udp => Err(Error::new(
                ErrorKind::Unsupported,
                "DTLS is not supported: rustls has no DTLS",
            )),
        }
    }

    /// Performs the client handshake over any transport: a socket of any runtime, a
    /// proxy tunnel, a plaintext connection being upgraded (STARTTLS).
    ///
    /// `server_name` is verified and sent as SNI unless [`Policy::server_name`] overrides
    /// it; an IP address (`127.0.0.1`, `::1`, `[::1]`) is verified against the
    /// certificate's IP SANs and sends no SNI. The handshake is limited by
    /// [`Policy::handshake_timeout`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for an invalid name, [`ErrorKind::Certificate`] when
    /// the server's certificate is rejected (see [`Error::certificate_error`]),
    /// [`ErrorKind::Tls`] for other handshake failures (a peer not speaking TLS, an
    /// alert, no common version or ALPN protocol), [`ErrorKind::Io`] when the transport
    /// fails or closes, [`ErrorKind::TimedOut`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the transport mid-handshake.
    pub async fn connect_with<S>(&self, server_name: &str, io: S) -> Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = self.name_for(server_name)?;
        self.handshake(name, io).await
    }

    /// The policy this connector was built from.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The compiled rustls configuration, for other rustls users: one [`Policy`] (its
    /// roots, client identity, ALPN, versions, session cache) also serves reqwest,
    /// hyper-rustls, tonic, quinn or async-tungstenite.
    ///
    /// It is a [rustls 0.23](crate::rustls) `ClientConfig`: the other crate must use
    /// rustls 0.23 too (any 0.23.x: cargo compiles one), or the types do not match. For
    /// reqwest 0.13 (feature `rustls-no-provider`, which brings no second crypto
    /// provider), hand it over by value: `use_preconfigured_tls(Arc::unwrap_or_clone(
    /// connector.rustls_config()))`; reqwest replaces its ALPN protocols with its own.
    ///
    /// The policy's timeouts, [`EofPolicy`](crate::EofPolicy) and the host name check of
    /// [`Policy::server_name`] are tlsport's, not rustls's: they do not travel with the
    /// configuration.
    pub fn rustls_config(&self) -> Arc<ClientConfig> {
        self.inner.config.clone()
    }

    /// The name to verify: the policy's override, else `host`.
    fn name_for(&self, host: &str) -> Result<ServerName<'static>> {
        server_name(self.inner.policy.server_name.as_deref().unwrap_or(host))
    }

    async fn handshake<S>(&self, name: ServerName<'static>, io: S) -> Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let policy = &self.inner.policy;
        let sni = match &name {
            ServerName::DnsName(dns) if self.inner.config.enable_sni => {
                Some(dns.as_ref().to_owned())
            }
            _ => None,
        };
        let conn =
            ClientConnection::new(self.inner.config.clone(), name).map_err(Error::from_rustls)?;
        let stream = TlsStream::new(io, Connection::Client(conn), policy.eof, sni);
        stream.handshake(policy.handshake_timeout).await
    }
}

/// Parses a host into a server name: an IP address (brackets allowed) or a DNS name.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    if let Ok(ip) = net::bare_host(host).parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    DnsName::try_from(host.to_owned())
        .map(ServerName::DnsName)
        .map_err(|e| {
            Error::with_source(
                ErrorKind::InvalidInput,
                format!("invalid server name {host:?}: not a DNS name or an IP address"),
                e,
            )
        })
}

impl From<Arc<ClientConfig>> for Connector {
    /// A connector around a hand-built rustls configuration. Its [`Connector::policy`]
    /// is [`Policy::default`], of which only the timeouts and the EOF policy apply.
    fn from(config: Arc<ClientConfig>) -> Connector {
        Connector {
            inner: Arc::new(Inner {
                config,
                policy: Policy::default(),
            }),
        }
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}
