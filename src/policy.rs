//! [`Policy`]: who I am, whom I trust, what I speak, how strict I am.
//!
//! `policy/` holds the enum options (`options`, re-exported here), compiles a policy into
//! rustls configurations (`compile`, with the danger verifiers in `verify`), keeps the
//! half identity that `load_object` builds (`pieces`), and the identities by server name
//! with their resolver (`sni`, where [`Policy::identity_for`] is). `debug` prints a
//! policy without its keys.

mod compile;
mod debug;
mod options;
mod pieces;
mod sni;
mod verify;

use std::path::Path;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::backend::Backend;
#[cfg(doc)]
use crate::error::ErrorKind; // named in the docs
use crate::error::Result;
use crate::identity::{Identity, ObjectKind};
use crate::trust::{self, CaBundle};

use self::pieces::LoadedPieces;

pub(crate) use self::compile::{client_config, server_config};
pub use self::options::{ClientAuth, EofPolicy, Version};
pub(crate) use self::sni::Names;

/// Everything a [`Connector`](crate::Connector) or an [`Acceptor`](crate::Acceptor) needs
/// to know: who I am, whom I trust, what I speak, how strict I am.
///
/// A `Policy` is a plain value built with chained methods; nothing is checked or loaded
/// until `Connector::new` or `Acceptor::new` compiles it into a rustls configuration
/// (except the `add_roots_pem_file` and `load_object` methods, which read their file at
/// once and return a `Result`). One policy can serve both sides.
///
/// ```
/// use std::time::Duration;
/// use tlsport::{CaBundle, EofPolicy, Policy, Version};
///
/// let policy = Policy::new()
///     .ca_bundle(CaBundle::Empty)
///     .alpn_protocols(["h2", "http/1.1"])
///     .protocol_versions(&[Version::Tls13])
///     .handshake_timeout(Some(Duration::from_secs(5)))
///     .eof(EofPolicy::Strict);
/// # let _ = policy;
/// ```
///
/// `Debug` shows every setting but never key material.
#[derive(Clone)]
pub struct Policy {
    pub(crate) ca_bundle: CaBundle,
    pub(crate) extra_roots: Vec<CertificateDer<'static>>,
    pub(crate) identity: Option<Identity>,
    /// Server identities by name, from `identity_for`, in the order given.
    pub(crate) named: Vec<(String, Identity)>,
    /// Pieces of an identity loaded separately by `load_object`, joined when complete.
    loaded: LoadedPieces,
    pub(crate) server_name: Option<String>,
    pub(crate) sni: bool,
    pub(crate) alpn: Vec<Vec<u8>>,
    pub(crate) versions: Vec<Version>,
    pub(crate) session_cache: usize,
    pub(crate) accept_invalid_certs: bool,
    pub(crate) accept_invalid_hostnames: bool,
    pub(crate) client_auth: ClientAuth,
    pub(crate) client_auth_roots: CaBundle,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) handshake_timeout: Option<Duration>,
    pub(crate) eof: EofPolicy,
    pub(crate) key_log: bool,
    backend: Option<Backend>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            ca_bundle: CaBundle::default(),
            extra_roots: Vec::new(),
            identity: None,
            named: Vec::new(),
            loaded: LoadedPieces::default(),
            server_name: None,
            sni: true,
            alpn: Vec::new(),
            versions: vec![Version::Tls12, Version::Tls13],
            session_cache: 256,
            accept_invalid_certs: false,
            accept_invalid_hostnames: false,
            client_auth: ClientAuth::None,
            client_auth_roots: CaBundle::Empty,
            connect_timeout: Some(DEFAULT_TIMEOUT),
            handshake_timeout: Some(DEFAULT_TIMEOUT),
            eof: EofPolicy::Strict,
            key_log: false,
            backend: None,
        }
    }
}

impl Policy {
    /// The default policy: [`CaBundle::default()`], no identity, TLS 1.2 and 1.3, SNI on,
    /// 256 cached sessions, full verification, 10 s connect and handshake timeouts,
    /// [`EofPolicy::Strict`], the [`default_backend`](crate::backend::default_backend).
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Sets where the trust anchors that verify servers come from. Roots added by hand
    /// are kept.
    ///
    /// A server verifies client certificates against its
    /// [`client_auth_roots`](Policy::client_auth_roots) instead, never against this bundle.
    pub fn ca_bundle(mut self, bundle: CaBundle) -> Policy {
        self.ca_bundle = bundle;
        self
    }

    /// Trusts one more root certificate (DER), on top of the bundle.
    ///
    /// A server with [`ClientAuth::Optional`] or [`ClientAuth::Required`] verifies client
    /// certificates against these roots too (on top of its
    /// [`client_auth_roots`](Policy::client_auth_roots), by default the only ones).
    pub fn add_root_certificate(mut self, der: CertificateDer<'static>) -> Policy {
        self.extra_roots.push(der);
        self
    }

    /// Trusts every certificate of a PEM bundle file (or one DER certificate), read now.
    ///
    /// Entries that cannot be parsed are logged (at `warn`, naming the file) and skipped.
    /// Like [`add_root_certificate`](Policy::add_root_certificate), these roots verify
    /// servers and, under [`client_auth`](Policy::client_auth), client certificates.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Load`], naming the path, when the file is missing, unreadable, or
    /// holds no usable certificate.
    pub fn add_roots_pem_file(mut self, path: impl AsRef<Path>) -> Result<Policy> {
        self.extra_roots
            .extend(trust::roots_from_file(path.as_ref())?);
        Ok(self)
    }

    /// Sets who I am: the server's certificate, or the client's for mutual TLS.
    ///
    /// A server with identities by name ([`identity_for`](Policy::identity_for)) presents
    /// this one to clients asking for any other name, or for none.
    pub fn identity(mut self, id: Identity) -> Policy {
        self.identity = Some(id);
        self
    }

    /// Loads one object from a file, PEM or DER (Gauche's `tls-load-object`).
    ///
    /// - [`ObjectKind::X509Cert`]: certificates appended to my chain (leaf first);
    /// - [`ObjectKind::X509CaCert`]: trust anchors, as [`Policy::add_roots_pem_file`];
    /// - [`ObjectKind::RsaKey`], [`ObjectKind::Pkcs8`]: my private key (PKCS#8, PKCS#1 or
    ///   SEC1), decrypted with `password` when it is an `ENCRYPTED PRIVATE KEY`;
    /// - [`ObjectKind::Pkcs12`]: my whole identity, with `password` (`None` is the empty
    ///   password).
    ///
    /// Once both a chain and a key are loaded they become the policy's
    /// [`identity`](Policy::identity), checked to match. Passwords are ignored for
    /// certificates and for keys that are not encrypted.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Load`] naming the path for unreadable or malformed files, a wrong or
    /// missing password, and mismatched keys; [`ErrorKind::Unsupported`] for encrypted
    /// keys or PKCS#12 in a build without the `encrypted-keys` or `pkcs12` feature.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tlsport::{ObjectKind, Policy};
    /// # fn main() -> tlsport::Result<()> {
    /// let policy = Policy::new()
    ///     .load_object(ObjectKind::X509Cert, "server.chain.pem", None)?
    ///     .load_object(ObjectKind::Pkcs8, "server.key.enc.p8", Some("secret"))?;
    /// # let _ = policy; Ok(()) }
    /// ```
    pub fn load_object(
        mut self,
        kind: ObjectKind,
        path: impl AsRef<Path>,
        password: Option<&str>,
    ) -> Result<Policy> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        match kind {
            ObjectKind::X509CaCert => return self.add_roots_pem_file(path),
            ObjectKind::Pkcs12 => {
                let identity = Identity::from_pkcs12_file(path, password.unwrap_or(""))?;
                return Ok(self.identity(identity));
            }
            ObjectKind::X509Cert => self.loaded.add_certificates(path, &origin)?,
            _ => self.loaded.set_key(path, &origin, password)?,
        }
        if let Some(identity) = self.loaded.identity(&origin)? {
            self.identity = Some(identity);
        }
        Ok(self)
    }

    /// Sets the name to verify the server's certificate against and to send as SNI,
    /// overriding the host given to `connect` or `connect_with`. An IP address is
    /// verified against the certificate's IP SANs and sends no SNI.
    ///
    /// An invalid name is reported by `Connector::new` ([`ErrorKind::InvalidInput`]).
    pub fn server_name(mut self, name: &str) -> Policy {
        self.server_name = Some(name.to_owned());
        self
    }

    /// Whether a client sends the server name as SNI (default `true`). The name is
    /// verified either way.
    pub fn sni(mut self, enabled: bool) -> Policy {
        self.sni = enabled;
        self
    }

    /// The ALPN protocols to offer (client) or accept (server), most preferred first.
    ///
    /// A server with ALPN protocols refuses a client that offers ALPN but none of them
    /// (a `no_application_protocol` alert); a client that offered none gets no ALPN.
    ///
    /// Each name must be 1 to 255 bytes long (the wire format has a one-byte length and
    /// no empty names); `Connector::new` and `Acceptor::new` report any other name as
    /// [`ErrorKind::InvalidInput`], naming its index and length.
    ///
    /// # Examples
    ///
    /// ```
    /// use tlsport::{CaBundle, Connector, ErrorKind, Policy};
    ///
    /// let policy = Policy::new().alpn_protocols(["h2", "http/1.1"]);
    /// # let _ = policy;
    ///
    /// let empty = Policy::new().ca_bundle(CaBundle::Empty).alpn_protocols(["h2", ""]);
    /// let err = Connector::new(empty).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn alpn_protocols<I, P>(mut self, protocols: I) -> Policy
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// The TLS versions to speak (default: 1.2 and 1.3). An empty list is reported by
    /// `Connector::new`/`Acceptor::new` ([`ErrorKind::Config`]), as is TLS 1.2 alone in a
    /// build without the `tls12` feature.
    pub fn protocol_versions(mut self, versions: &[Version]) -> Policy {
        self.versions = versions.to_vec();
        self
    }

    /// How many sessions to remember for resumption (Gauche's `:num-sessions`), on
    /// either side; 0 disables resumption. Default 256.
    pub fn session_cache(mut self, sessions: usize) -> Policy {
        self.session_cache = sessions;
        self
    }

    /// Client: accept any server certificate: expired, self-signed, for another name
    /// (Gauche's `verify-none`). The server must still prove it holds the certificate's
    /// key. Needs no roots at all.
    ///
    /// # Caveats
    ///
    /// Anyone on the path can impersonate the server. For tests and debugging only.
    pub fn danger_accept_invalid_certs(mut self, yes: bool) -> Policy {
        self.accept_invalid_certs = yes;
        self
    }

    /// Client: accept a server certificate valid for another name. The chain is still
    /// verified against the roots, and dates are still checked.
    ///
    /// The chain is verified as if the client had asked for a name the leaf certificate
    /// holds (its first DNS or IP subject alternative name; `*.example.com` is taken as
    /// one name under it), so the verifier (webpki or the platform's) can only fail on the
    /// chain itself; nothing it reports is forgiven. A leaf with no usable name there (a
    /// common name only, say) is verified against the requested name, and refused unless
    /// it is valid for it.
    ///
    /// # Caveats
    ///
    /// Any holder of a certificate from a trusted root can impersonate the server.
    ///
    /// # Examples
    ///
    /// ```
    /// use tlsport::{CaBundle, Connector, Policy};
    /// # fn main() -> tlsport::Result<()> {
    /// # let ca = rcgen::generate_simple_self_signed(["device CA".to_owned()]).unwrap();
    /// # let device_ca = ca.cert.der().clone();
    /// // Devices on the LAN, with certificates from our own CA naming their factory
    /// // host names, reached by address.
    /// let policy = Policy::new()
    ///     .ca_bundle(CaBundle::Empty)
    ///     .add_root_certificate(device_ca)
    ///     .danger_accept_invalid_hostnames(true);
    /// let connector = Connector::new(policy)?;
    /// # let _ = connector; Ok(()) }
    /// ```
    pub fn danger_accept_invalid_hostnames(mut self, yes: bool) -> Policy {
        self.accept_invalid_hostnames = yes;
        self
    }

    /// Server: whether to ask clients for a certificate (Gauche's `client-verify`).
    ///
    /// **Client certificates are verified only against the roots added by hand**
    /// ([`add_root_certificate`](Policy::add_root_certificate),
    /// [`add_roots_pem_file`](Policy::add_roots_pem_file),
    /// [`load_object`](Policy::load_object) with [`ObjectKind::X509CaCert`]) and the
    /// bundle given to [`client_auth_roots`](Policy::client_auth_roots) (none by default),
    /// never against the policy's [`ca_bundle`](Policy::ca_bundle) or the system store:
    /// a public root vouches for anybody's certificate, so trusting one for clients
    /// would let strangers in. With no such root at all, `Acceptor::new` reports
    /// [`ErrorKind::Config`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tlsport::{Acceptor, ClientAuth, Identity, Policy};
    /// # fn main() -> tlsport::Result<()> {
    /// # let server = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    /// # let identity = Identity::from_pem(server.cert.pem().as_bytes(),
    /// #     server.signing_key.serialize_pem().as_bytes())?;
    /// # let client_ca = rcgen::generate_simple_self_signed(["client CA".to_owned()]).unwrap();
    /// # let client_ca_der = client_ca.cert.der().clone();
    /// // Only certificates issued under this client CA get in.
    /// let policy = Policy::new()
    ///     .identity(identity)
    ///     .client_auth(ClientAuth::Required)
    ///     .add_root_certificate(client_ca_der);
    /// let acceptor = Acceptor::new(policy)?;
    /// # let _ = acceptor; Ok(()) }
    /// ```
    pub fn client_auth(mut self, mode: ClientAuth) -> Policy {
        self.client_auth = mode;
        self
    }

    /// Server: the roots that verify client certificates under
    /// [`client_auth`](Policy::client_auth), on top of the roots added by hand.
    ///
    /// **Default: [`CaBundle::Empty`], so only the roots added with
    /// [`add_root_certificate`](Policy::add_root_certificate) or
    /// [`add_roots_pem_file`](Policy::add_roots_pem_file) are trusted**, whatever the
    /// policy's [`ca_bundle`](Policy::ca_bundle), and never the system store. Unused
    /// unless `client_auth` is [`ClientAuth::Optional`] or [`ClientAuth::Required`].
    ///
    /// - [`CaBundle::File`]: the roots of a PEM bundle of the CAs that issue client
    ///   certificates, read by `Acceptor::new`.
    /// - [`CaBundle::Bundled`]: Mozilla's public web roots. Any certificate that one of
    ///   them issued with the clientAuth usage gets in: rarely what a server wants.
    /// - [`CaBundle::System`]: refused by `Acceptor::new` with [`ErrorKind::Config`] (when
    ///   `client_auth` is on). The platform verifier checks servers only, and the public
    ///   roots of a system store would let anybody's certificate in.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tlsport::{Acceptor, CaBundle, ClientAuth, Identity, Policy};
    /// # fn main() -> tlsport::Result<()> {
    /// let policy = Policy::new()
    ///     .identity(Identity::from_pem_files("server.chain.pem", "server.key")?)
    ///     .client_auth(ClientAuth::Required)
    ///     .client_auth_roots(CaBundle::File("client-ca.pem".into()));
    /// let acceptor = Acceptor::new(policy)?;
    /// # let _ = acceptor; Ok(()) }
    /// ```
    pub fn client_auth_roots(mut self, bundle: CaBundle) -> Policy {
        self.client_auth_roots = bundle;
        self
    }

    /// Limits the TCP phase of [`Connector::connect`](crate::Connector::connect)
    /// (resolution and connection). `None` waits forever. Default 10 s.
    pub fn connect_timeout(mut self, limit: Option<Duration>) -> Policy {
        self.connect_timeout = limit;
        self
    }

    /// Limits the whole TLS handshake, on both sides: a total, not a per-read, deadline.
    /// `None` waits forever. Default 10 s.
    pub fn handshake_timeout(mut self, limit: Option<Duration>) -> Policy {
        self.handshake_timeout = limit;
        self
    }

    /// What reads do when the transport ends without `close_notify`. Default
    /// [`EofPolicy::Strict`].
    pub fn eof(mut self, policy: EofPolicy) -> Policy {
        self.eof = policy;
        self
    }

    /// Writes session secrets to the file named by the `SSLKEYLOGFILE` environment
    /// variable, for Wireshark. Off by default; does nothing when the variable is unset.
    pub fn key_log(mut self, enabled: bool) -> Policy {
        self.key_log = enabled;
        self
    }

    /// Picks the crypto backend (default: [`default_backend()`](crate::backend::default_backend) at the time the
    /// `Connector` or `Acceptor` is built). A backend not compiled in is reported there
    /// as [`ErrorKind::Unsupported`].
    pub fn backend(mut self, backend: Backend) -> Policy {
        self.backend = Some(backend);
        self
    }
}
