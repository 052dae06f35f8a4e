//! [`Acceptor`]: the server side.

use std::fmt;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use rustls::{Connection, ServerConfig, ServerConnection};

use crate::error::{Error, Result};
use crate::policy::{Policy, server_config};
use crate::stream::TlsStream;

/// Accepts TLS connections as a server, with the settings of one [`Policy`].
///
/// Build it once (cloning is cheap, an `Arc`): the certificate, the client verifier and
/// the session cache are made in [`Acceptor::new`] and shared by every connection.
///
/// See [`Connector`](crate::Connector) for a complete client and server example.
#[derive(Clone)]
pub struct Acceptor {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<ServerConfig>,
    policy: Policy,
}

impl Acceptor {
    /// Compiles `policy` into a server configuration.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the policy has no identity,
    /// or asks for client certificates with no roots to verify them against (see
    /// [`Policy::client_auth_roots`]) or with `client_auth_roots(CaBundle::System)`;
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for an ALPN name
    /// outside 1 to 255 bytes;
    /// [`ErrorKind::Load`](crate::ErrorKind::Load) for unreadable root files;
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) for a backend not
    /// compiled in.
    ///
    /// # Caveats
    ///
    /// This may block reading files: call it once, not per connection.
    pub fn new(policy: Policy) -> Result<Acceptor> {
        let config = server_config(&policy)?;
        Ok(Acceptor {
            inner: Arc::new(Inner {
                config: Arc::new(config),
                policy,
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
    /// not speaking TLS, no common version or ALPN protocol),
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
        let conn = ServerConnection::new(self.inner.config.clone()).map_err(Error::from_rustls)?;
        let stream = TlsStream::new(io, Connection::Server(conn), self.inner.policy.eof, None);
        stream.handshake(self.inner.policy.handshake_timeout).await
    }

    /// The policy this acceptor was built from.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The compiled rustls configuration, for other rustls servers (tokio-rustls, quinn,
    /// tonic) built from the same [`Policy`]: identities, client authentication, ALPN,
    /// versions, session cache.
    ///
    /// It is a [rustls 0.23](crate::rustls) `ServerConfig`: the other crate must use
    /// rustls 0.23 too (any 0.23.x), or the types do not match. The policy's handshake
    /// timeout and [`EofPolicy`](crate::EofPolicy) are tlsport's and do not travel with it.
    pub fn rustls_config(&self) -> Arc<ServerConfig> {
        self.inner.config.clone()
    }
}

impl From<Arc<ServerConfig>> for Acceptor {
    /// An acceptor around a hand-built rustls configuration. Its [`Acceptor::policy`]
    /// is [`Policy::default`], of which only the timeouts and the EOF policy apply.
    fn from(config: Arc<ServerConfig>) -> Acceptor {
        Acceptor {
            inner: Arc::new(Inner {
                config,
                policy: Policy::default(),
            }),
        }
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}
