//! The options of a [`Policy`](super::Policy) that are enums: [`Version`], [`ClientAuth`]
//! and [`EofPolicy`].

/// A TLS protocol version.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// TLS 1.2 (feature `tls12`, on by default).
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// Whether a server asks clients for a certificate (Gauche's `client-verify`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Do not ask for one.
    #[default]
    None,
    /// Ask; verify one if offered, against the
    /// [`client_auth_roots`](super::Policy::client_auth_roots); accept clients without one.
    Optional,
    /// Ask, and refuse clients without a certificate that verifies against the
    /// [`client_auth_roots`](super::Policy::client_auth_roots).
    Required,
}

/// What a read does when the transport ends without a TLS `close_notify` alert.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EofPolicy {
    /// Truncation is an error: every read after the buffered data fails with
    /// [`std::io::ErrorKind::UnexpectedEof`]. An attacker who cuts the connection cannot
    /// make a truncated message look complete.
    #[default]
    Strict,
    /// Treat an EOF without `close_notify` as a clean end of stream (Python's
    /// `suppress_ragged_eofs`), for peers that never send `close_notify` and protocols
    /// that frame their own messages.
    AllowRagged,
}
