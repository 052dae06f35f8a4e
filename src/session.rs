//! [`SessionInfo`]: what a handshake negotiated.

use rustls::pki_types::CertificateDer;

use crate::policy::Version;

/// What a handshake negotiated, from [`TlsStream::info`](crate::TlsStream::info).
///
/// ```no_run
/// # async fn run(stream: tlsport::TlsStream<tlsport::TcpStream>) {
/// let info = stream.info();
/// println!(
///     "{:?} {} via {}",
///     info.protocol_version,
///     info.cipher_suite.as_deref().unwrap_or("?"),
///     info.key_exchange_group.as_deref().unwrap_or("?"),
/// );
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The protocol version.
    pub protocol_version: Option<Version>,
    /// The cipher suite, by its IANA-style name, e.g. `"TLS13_AES_128_GCM_SHA256"`.
    pub cipher_suite: Option<String>,
    /// The key exchange group, e.g. `"X25519"` or `"X25519MLKEM768"`. `None` for a TLS
    /// 1.2 resumption, which has no key exchange.
    pub key_exchange_group: Option<String>,
    /// The ALPN protocol both sides agreed on, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// The server name: the SNI a client sent (`None` for an IP address or with SNI
    /// off), or the SNI a server received.
    pub server_name: Option<String>,
    /// The peer's certificate chain, leaf first; empty when the peer sent none (a client
    /// without a certificate) or on a resumed TLS 1.2 session.
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// Whether the session was resumed rather than fully negotiated.
    pub resumed: bool,
    /// Whether this is the client side.
    pub is_client: bool,
}
