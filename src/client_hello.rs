//! [`ClientHello`]: a client's first message, read before the server chooses how to
//! answer it.

use std::fmt;

use futures_io::{AsyncRead, AsyncWrite};
use rustls::server::Accepted;

use crate::acceptor::{Acceptor, handshake};
use crate::deadline::Budget;
use crate::error::Result;
use crate::stream::TlsStream;

/// The ClientHello of a connection whose handshake is waiting for an answer, from
/// [`Acceptor::read_client_hello`]: look at what the client asks for, then answer with
/// the [`Acceptor`] of your choice ([`ClientHello::accept`]).
///
/// The handshake deadline started when the ClientHello was awaited, and `accept` gets
/// only what is left of it. Dropping a `ClientHello` drops the connection.
///
/// See [`Acceptor::read_client_hello`] for a complete example.
///
/// ```no_run
/// # async fn pick(hello: tlsport::ClientHello<tlsport::TcpStream>, modern: &tlsport::Acceptor,
/// #     legacy: &tlsport::Acceptor) -> tlsport::Result<()> {
/// // TLS_AES_128_GCM_SHA256 offered: a TLS 1.3 client.
/// let tls13 = hello.cipher_suites().contains(&0x1301);
/// let h2 = hello.alpn_protocols().iter().any(|p| p == b"h2");
/// println!("{:?} tls13={tls13} h2={h2}", hello.server_name());
/// let stream = hello.accept(if tls13 { modern } else { legacy }).await?;
/// # drop(stream); Ok(()) }
/// ```
pub struct ClientHello<S> {
    io: S,
    accepted: Accepted,
    server_name: Option<String>,
    alpn: Vec<Vec<u8>>,
    cipher_suites: Vec<u16>,
    budget: Budget,
}

impl<S> ClientHello<S> {
    /// The ClientHello of `accepted`, read from `io` within `budget`.
    pub(crate) fn new(io: S, accepted: Accepted, budget: Budget) -> ClientHello<S> {
        let hello = accepted.client_hello();
        let server_name = hello.server_name().map(str::to_owned);
        let alpn = hello
            .alpn()
            .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        let cipher_suites = hello
            .cipher_suites()
            .iter()
            .map(|s| u16::from(*s))
            .collect();
        ClientHello {
            io,
            accepted,
            server_name,
            alpn,
            cipher_suites,
            budget,
        }
    }

    /// The server name the client asked for (SNI), lowercase; `None` when it sent none
    /// (or sent an IP address, which SNI may not carry).
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The ALPN protocols the client offers, in its order of preference; empty when it
    /// offers none.
    pub fn alpn_protocols(&self) -> Vec<Vec<u8>> {
        self.alpn.clone()
    }

    /// The cipher suites the client offers, as their IANA numbers (`0x1301` is
    /// `TLS_AES_128_GCM_SHA256`), in its order of preference.
    pub fn cipher_suites(&self) -> Vec<u16> {
        self.cipher_suites.clone()
    }

    /// The transport (for its peer address, say).
    pub fn get_ref(&self) -> &S {
        &self.io
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ClientHello<S> {
    /// Answers the ClientHello with `acceptor`'s current configuration (its identities,
    /// ALPN protocols, client authentication, versions) and completes the handshake, in
    /// what is left of the handshake deadline.
    ///
    /// # Errors
    ///
    /// As [`Acceptor::accept`]: among them [`ErrorKind::Tls`](crate::ErrorKind::Tls)
    /// when `acceptor` has no identity for the name asked for (the client gets the
    /// `unrecognized_name` alert) or no protocol in common with the client, and
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) when the deadline that began
    /// with [`Acceptor::read_client_hello`] passes.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the transport mid-handshake.
    pub async fn accept(self, acceptor: &Acceptor) -> Result<TlsStream<S>> {
        let compiled = acceptor.current();
        handshake::answer(self.io, self.accepted, &compiled, &self.budget).await
    }
}

impl<S: fmt::Debug> fmt::Debug for ClientHello<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alpn: Vec<_> = self
            .alpn
            .iter()
            .map(|p| String::from_utf8_lossy(p))
            .collect();
        f.debug_struct("ClientHello")
            .field("server_name", &self.server_name)
            .field("alpn_protocols", &alpn)
            .field("cipher_suites", &self.cipher_suites)
            .field("io", &self.io)
            .finish_non_exhaustive()
    }
}
