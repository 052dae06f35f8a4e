//! [`Acceptor`]: the server side.
//!
//! `acceptor/` holds the compiled state that `reload` swaps (`state`), the handshake in
//! its steps with the refusals by server name (`handshake`), and the first-bytes test of
//! `accept_or_plaintext` (`sniff`).

pub(crate) mod handshake;
mod sniff;
mod state;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use rustls::ServerConfig;

use crate::client_hello::ClientHello;
use crate::deadline::Budget;
use crate::error::Result;
use crate::maybe_tls::{MaybeTls, Rewind};
use crate::policy::Policy;
use crate::stream::TlsStream;

use self::state::{Compiled, Current};

/// Accepts TLS connections as a server, with the settings of one [`Policy`].
///
/// Build it once (cloning is cheap, an `Arc`): the certificates, the client verifier and
/// the session cache are made in [`Acceptor::new`] and shared by every connection. Its
/// clones, and the [`Listener`](crate::Listener)s made from it, share one configuration,
/// which [`Acceptor::reload`] replaces for all of them at once.
///
/// See [`Connector`](crate::Connector) for a complete client and server example.
#[derive(Clone)]
pub struct Acceptor {
    inner: Arc<Inner>,
}

struct Inner {
    current: Current,
    /// The policy given to `new` (the default one for a hand-built configuration).
    built: Arc<Policy>,
}

impl Acceptor {
    /// Compiles `policy` into a server configuration.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the policy has no identity
    /// (neither [`identity`](Policy::identity) nor [`identity_for`](Policy::identity_for)),
    /// or asks for client certificates with no roots to verify them against (see
    /// [`Policy::client_auth_roots`]) or with `client_auth_roots(CaBundle::System)`;
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for an ALPN name
    /// outside 1 to 255 bytes or a name given to `identity_for` that is not a DNS name;
    /// [`ErrorKind::Load`](crate::ErrorKind::Load) for unreadable root files;
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) for a backend not
    /// compiled in.
    ///
    /// # Caveats
    ///
    /// This may block reading files: call it once, not per connection.
    pub fn new(policy: Policy) -> Result<Acceptor> {
        let built = Arc::new(policy);
        let compiled = Compiled::new(built.clone())?;
        Ok(Acceptor {
            inner: Arc::new(Inner {
                current: Current::new(compiled),
                built,
            }),
        })
    }

    /// Performs the server handshake over any transport, within the policy's
    /// [`handshake_timeout`](Policy::handshake_timeout).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Certificate`](crate::ErrorKind::Certificate) when a client
    /// certificate is required but missing or rejected,
    /// [`ErrorKind::Tls`](crate::ErrorKind::Tls) for other handshake failures (a client
    /// not speaking TLS, no common version or ALPN protocol, a server name with no
    /// identity when the policy has no default),
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the transport fails or closes,
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the transport mid-handshake.
    pub async fn accept<S>(&self, io: S) -> Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.accept_since(io, Instant::now()).await
    }

    /// [`Acceptor::accept`] with the handshake deadline counted from `started` (the TCP
    /// accept of a [`Handshake`](crate::Handshake)), under the configuration current now.
    pub(crate) async fn accept_since<S>(&self, io: S, started: Instant) -> Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let compiled = self.current();
        let budget = Budget::since(compiled.policy.handshake_timeout, started);
        handshake::handshake(io, &[], &compiled, &budget).await
    }

    /// Reads the client's ClientHello, then lets the caller choose the acceptor that
    /// answers it ([`ClientHello::accept`]): a configuration per customer, per ALPN
    /// protocol, per cipher suite offered (Go's `GetConfigForClient`).
    ///
    /// The handshake deadline, this acceptor's
    /// [`handshake_timeout`](Policy::handshake_timeout), starts now and covers both steps.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Tls`](crate::ErrorKind::Tls) for a client that does not speak TLS
    /// or sends a malformed ClientHello (rustls's alert is sent),
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the transport fails or closes,
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut).
    ///
    /// # Examples
    ///
    /// ```
    /// use tlsport::{Acceptor, CaBundle, Connector, Identity, Policy};
    /// # fn id(name: &str) -> tlsport::Result<Identity> {
    /// #     let c = rcgen::generate_simple_self_signed([name.to_owned()]).unwrap();
    /// #     Identity::from_pem(c.cert.pem().as_bytes(), c.signing_key.serialize_pem().as_bytes())
    /// # }
    /// # futures_lite::future::block_on(async {
    /// let public = Acceptor::new(Policy::new().identity(id("www.test")?))?;
    /// let internal = Acceptor::new(
    ///     Policy::new().identity(id("internal.test")?).alpn_protocols(["h2"]),
    /// )?;
    /// # let connector = Connector::new(Policy::new().ca_bundle(CaBundle::Empty)
    /// #     .danger_accept_invalid_certs(true).alpn_protocols(["h2"]))?;
    /// let (client_io, server_io) = tlsport::duplex(64 * 1024);
    /// let server = async {
    ///     let hello = public.read_client_hello(server_io).await?;
    ///     let chosen = match hello.server_name() {
    ///         Some("internal.test") => &internal,
    ///         _ => &public,
    ///     };
    ///     Ok::<_, tlsport::Error>(hello.accept(chosen).await?)
    /// };
    /// let client = connector.connect_with("internal.test", client_io);
    /// let (client, server) = futures_lite::future::zip(client, server).await;
    /// assert_eq!(server?.info().alpn_protocol.as_deref(), Some(&b"h2"[..]));
    /// # client?; Ok::<_, tlsport::Error>(()) }).unwrap();
    /// ```
    pub async fn read_client_hello<S>(&self, mut io: S) -> Result<ClientHello<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let budget = Budget::start(self.current().policy.handshake_timeout);
        let accepted = budget
            .run(handshake::read_client_hello(&mut io, &[]))
            .await?;
        Ok(ClientHello::new(io, accepted, budget))
    }

    /// TLS if the client opens with a TLS handshake record, else the transport handed
    /// back as a [`Rewind`] that still has every byte read so far: plain HTTP on the TLS
    /// port answered with a redirect, a STARTTLS-or-not port.
    ///
    /// It reads only as many bytes as it needs to tell: one for nearly any plaintext
    /// protocol, three for TLS. The wait for them and the TLS handshake share the
    /// [`handshake_timeout`](Policy::handshake_timeout). A client that closes before
    /// it can be told is `Plaintext` (reading it gives what it sent, then the end).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) when the client sends nothing
    /// in time; then as [`Acceptor::accept`] for the TLS handshake.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// use tlsport::{Acceptor, MaybeTls};
    ///
    /// # async fn serve(acceptor: Acceptor, tcp: tlsport::TcpStream) -> tlsport::Result<()> {
    /// match acceptor.accept_or_plaintext(tcp).await? {
    ///     MaybeTls::Tls(mut tls) => tls.write_all(b"hello over TLS\n").await?,
    ///     MaybeTls::Plaintext(mut plain) => {
    ///         let mut request = [0u8; 1024];
    ///         let _ = plain.read(&mut request).await?; // starts with "GET ..."
    ///         plain
    ///             .write_all(b"HTTP/1.1 301 Moved Permanently\r\n\
    ///                          Location: https://example.com/\r\nContent-Length: 0\r\n\r\n")
    ///             .await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn accept_or_plaintext<S>(&self, mut io: S) -> Result<MaybeTls<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let compiled = self.current();
        let budget = Budget::start(compiled.policy.handshake_timeout);
        let (first, tls) = budget.run(sniff::first_bytes(&mut io)).await?;
        if !tls {
            return Ok(MaybeTls::Plaintext(Rewind::new(first, io)));
        }
        let stream = handshake::handshake(io, &first, &compiled, &budget).await?;
        Ok(MaybeTls::Tls(stream))
    }

    /// Compiles `policy` and, if it compiles, makes it the configuration of every new
    /// handshake of this acceptor, its clones and the [`Listener`](crate::Listener)s
    /// made from them: a certificate renewed without a restart.
    ///
    /// Connections already made, and handshakes already under way, keep the
    /// configuration they began with. A policy that fails to compile changes nothing.
    ///
    /// **Sessions do not resume across a reload**: each configuration has its own
    /// session cache, so a client returning with a session of the old one gets a full
    /// handshake, and the new certificate and client-certificate rules, rather than
    /// resuming into a session that the old identity and trust settings made. The cost
    /// is one full handshake per returning client after each reload.
    ///
    /// # Errors
    ///
    /// As [`Acceptor::new`].
    ///
    /// # Caveats
    ///
    /// Like `new`, this may block reading files. See the `reload` example for a server
    /// that reloads when its certificate files change.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tlsport::{Acceptor, ErrorKind, Identity, Policy};
    /// # fn main() -> tlsport::Result<()> {
    /// # let id = || -> tlsport::Result<Identity> {
    /// #     let c = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    /// #     Identity::from_pem(c.cert.pem().as_bytes(), c.signing_key.serialize_pem().as_bytes())
    /// # };
    /// # let (old, renewed) = (id()?, id()?);
    /// let acceptor = Acceptor::new(Policy::new().identity(old))?;
    /// let serving = acceptor.clone(); // a Listener holds a clone too
    /// acceptor.reload(Policy::new().identity(renewed))?;
    /// let config = serving.rustls_config(); // what the clone now answers with
    /// assert!(Arc::ptr_eq(&config, &acceptor.rustls_config()));
    ///
    /// // A policy that cannot work changes nothing.
    /// let err = acceptor.reload(Policy::new()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// assert!(Arc::ptr_eq(&config, &serving.rustls_config()));
    /// # Ok(()) }
    /// ```
    pub fn reload(&self, policy: Policy) -> Result<()> {
        let compiled = Compiled::new(Arc::new(policy))?;
        self.inner.current.set(compiled);
        Ok(())
    }

    /// The policy given to [`Acceptor::new`] ([`Policy::default`] for an acceptor made
    /// from a rustls configuration).
    ///
    /// A [`reload`](Acceptor::reload) does not change it (it cannot be borrowed while
    /// another thread may replace it): [`current_policy`](Acceptor::current_policy)
    /// gives the policy in use.
    pub fn policy(&self) -> &Policy {
        &self.inner.built
    }

    /// A copy of the policy new handshakes use: the last one given to
    /// [`reload`](Acceptor::reload), else the one given to [`new`](Acceptor::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tlsport::{Acceptor, Identity, Policy};
    /// # fn main() -> tlsport::Result<()> {
    /// # let c = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    /// # let id = Identity::from_pem(c.cert.pem().as_bytes(), c.signing_key.serialize_pem().as_bytes())?;
    /// let acceptor = Acceptor::new(Policy::new().identity(id))?;
    /// let stricter = acceptor.current_policy().handshake_timeout(Some(Duration::from_secs(2)));
    /// acceptor.reload(stricter)?;
    /// # Ok(()) }
    /// ```
    pub fn current_policy(&self) -> Policy {
        Policy::clone(&self.current().policy)
    }

    /// The rustls configuration new handshakes use (the one after the latest
    /// [`reload`](Acceptor::reload)), for code that drives rustls itself or other rustls
    /// servers (tokio-rustls, quinn, tonic) built from the same [`Policy`]: identities,
    /// client authentication, ALPN, versions, session cache.
    ///
    /// It is a [rustls 0.23](crate::rustls) `ServerConfig`: the other crate must use
    /// rustls 0.23 too (any 0.23.x), or the types do not match. The policy's handshake
    /// timeout and [`EofPolicy`](crate::EofPolicy) are tlsport's and do not travel with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tlsport::{Acceptor, Identity, Policy};
    /// # fn main() -> tlsport::Result<()> {
    /// # let c = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    /// # let id = Identity::from_pem(c.cert.pem().as_bytes(), c.signing_key.serialize_pem().as_bytes())?;
    /// let acceptor = Acceptor::new(Policy::new().identity(id).alpn_protocols(["h2"]))?;
    /// let config = acceptor.rustls_config();
    /// assert_eq!(config.alpn_protocols, [b"h2".to_vec()]);
    /// // A rustls server connection of your own, with tlsport's settings:
    /// let conn = tlsport::rustls::ServerConnection::new(config);
    /// # conn.unwrap(); Ok(()) }
    /// ```
    pub fn rustls_config(&self) -> Arc<ServerConfig> {
        self.current().config.clone()
    }

    /// What one handshake uses, from its first byte to its end.
    pub(crate) fn current(&self) -> Arc<Compiled> {
        self.inner.current.get()
    }
}

impl From<Arc<ServerConfig>> for Acceptor {
    /// An acceptor around a hand-built rustls configuration. Its [`Acceptor::policy`]
    /// is [`Policy::default`], of which only the timeouts and the EOF policy apply.
    fn from(config: Arc<ServerConfig>) -> Acceptor {
        let built = Arc::new(Policy::default());
        Acceptor {
            inner: Arc::new(Inner {
                current: Current::new(Compiled::from_config(config, built.clone())),
                built,
            }),
        }
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("policy", &self.current().policy)
            .finish_non_exhaustive()
    }
}
