//! Who I am: a certificate chain and its private key, and the kinds of object
//! [`Policy::load_object`](crate::Policy::load_object) reads.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

use crate::backend::default_backend;
use crate::error::{Error, ErrorKind, Result};
use crate::load;

/// A certificate chain (leaf first) and the private key of its leaf: a server's
/// certificate, or a client's for mutual TLS.
///
/// Every constructor checks that the key belongs to the leaf certificate, so a mismatch is
/// reported where the files are loaded, not at the first handshake. Cloning is cheap (the
/// key is shared). `Debug` never prints key material.
///
/// The key's bytes are overwritten with zeros when the last clone is dropped, and so
/// are the file buffers and decrypted plaintexts the constructors read keys from. Copies
/// outside tlsport are not: rustls and its crypto backend take a copy of the key's DER
/// to parse when a [`Connector`](crate::Connector) or [`Acceptor`](crate::Acceptor) is
/// built, and PKCS#12 archives are decrypted inside the p12-keystore crate.
#[derive(Clone)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<Zeroizing<PrivateKeyDer<'static>>>,
}

impl Identity {
    /// An identity from a PEM certificate chain (leaf first) and a PEM private key
    /// (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Load`] for malformed PEM, no certificate, no key, an encrypted key
    /// (see [`Identity::from_pem_encrypted`]), or a key that does not match the leaf.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> tlsport::Result<()> {
    /// # let cert = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    /// # let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    /// let identity = tlsport::Identity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    /// assert_eq!(identity.chain().len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Identity> {
        Identity::parse(
            cert_chain_pem,
            key_pem,
            "certificate PEM",
            "private key PEM",
        )
    }

    /// An identity whose private key is password-protected: an `ENCRYPTED PRIVATE KEY`
    /// (PKCS#8 PBES2 with PBKDF2 or scrypt and AES or 3DES, as `openssl pkcs8 -topk8` and
    /// `openssl genpkey -aes256` write it), PEM or DER. Feature `encrypted-keys`.
    ///
    /// Key-derivation costs are checked against fixed limits before any work, so a hostile
    /// file cannot make loading take minutes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Load`] for a wrong or missing password (the message says so), an
    /// unsupported scheme (PBES1, OpenSSL's legacy `DEK-Info` PEM), excessive
    /// key-derivation parameters, or a key that does not match the leaf;
    /// [`ErrorKind::Unsupported`] without the `encrypted-keys` feature.
    pub fn from_pem_encrypted(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        password: &str,
    ) -> Result<Identity> {
        let chain = load::certificates(cert_chain_pem, "certificate PEM")?;
        let key = decrypt_key(key_pem, password, "encrypted private key")?;
        Identity::checked(chain, key, "certificate PEM and encrypted private key")
    }

    /// An identity from a PEM (or DER) certificate chain file and a private key file.
    ///
    /// The files are read here, once; nothing is read per connection.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Load`], naming the path, when a file cannot be read or parsed, or
    /// when the key does not match the leaf certificate.
    pub fn from_pem_files(cert_chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Identity> {
        let (cert_path, key_path) = (cert_chain.as_ref(), key.as_ref());
        Identity::parse(
            &load::read_file(cert_path)?,
            &load::read_file(key_path)?,
            &cert_path.display().to_string(),
            &key_path.display().to_string(),
        )
    }

    /// An identity from a password-protected PKCS#12 (`.p12`, `.pfx`) archive: OpenSSL
    /// 3's default (AES-256/PBKDF2, SHA-256 MAC) and `-legacy` (RC2/3DES, SHA-1 MAC)
    /// files. The chain is ordered leaf first. Feature `pkcs12`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Load`] for a wrong password (the message says so), an archive without
    /// a key, malformed input, excessive key-derivation parameters, or a key that does not
    /// match the leaf; [`ErrorKind::Unsupported`] without the `pkcs12` feature.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Identity> {
        Identity::pkcs12(der, password, "PKCS#12 archive")
    }

    /// An identity from a PKCS#12 file, read here, once.
    ///
    /// # Errors
    ///
    /// As [`Identity::from_pkcs12`], naming the path; [`ErrorKind::Load`] when the file
    /// cannot be read.
    pub fn from_pkcs12_file(path: impl AsRef<Path>, password: &str) -> Result<Identity> {
        let path = path.as_ref();
        Identity::pkcs12(
            &load::read_file(path)?,
            password,
            &path.display().to_string(),
        )
    }

    fn pkcs12(der: &[u8], password: &str, origin: &str) -> Result<Identity> {
        #[cfg(feature = "pkcs12")]
        {
            let (chain, key) = crate::load::parse_pkcs12(der, password, origin)?;
            Identity::checked(chain, key, origin)
        }
        #[cfg(not(feature = "pkcs12"))]
        {
            let _ = (der, password, origin);
            Err(needs_feature("PKCS#12 archives", "pkcs12"))
        }
    }

    /// An identity from DER certificates (leaf first) and a DER private key.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Load`] when the chain is empty or the key does not match the leaf.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Identity> {
        Identity::checked(chain, key, "identity")
    }

    /// The built-in identity of the fuzzing mode, whose key no real backend loads (so
    /// it cannot be checked here); only `Backend::InsecureFuzzing` accepts it.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn built_in_fuzzing(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Identity {
        Identity {
            chain,
            key: Arc::new(Zeroizing::new(key)),
        }
    }

    /// The certificate chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// The address of the shared key: the same for this identity and its clones.
    pub(crate) fn key_addr(&self) -> usize {
        Arc::as_ptr(&self.key) as usize
    }

    fn parse(chain: &[u8], key: &[u8], chain_origin: &str, key_origin: &str) -> Result<Identity> {
        let chain = load::certificates(chain, chain_origin)?;
        let key = load::private_key(key, key_origin)?;
        Identity::checked(chain, key, &format!("{chain_origin} and {key_origin}"))
    }

    /// An identity of `chain` and `key`, checked to match; errors name `origin`.
    pub(crate) fn checked(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        origin: &str,
    ) -> Result<Identity> {
        if chain.is_empty() {
            return Err(Error::new(
                ErrorKind::Load,
                format!("{origin}: the certificate chain is empty"),
            ));
        }
        let identity = Identity {
            chain,
            key: Arc::new(Zeroizing::new(key)),
        };
        // Any backend can check the pair; the one the policy picks later re-checks it.
        if let Ok(provider) = default_backend().provider() {
            identity.certified_key(&provider).map_err(|e| {
                Error::with_source(ErrorKind::Load, format!("{origin}: {}", e.message()), e)
            })?;
        }
        Ok(identity)
    }

    /// The chain and the key loaded by `provider`, checked to belong together.
    pub(crate) fn certified_key(
        &self,
        provider: &CryptoProvider,
    ) -> Result<CertifiedKey, KeyError> {
        let signing_key = provider
            .key_provider
            .load_private_key(self.key())
            .map_err(KeyError::Unusable)?;
        let certified = CertifiedKey::new(self.chain.clone(), signing_key);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(certified)
            }
            Err(e @ rustls::Error::InconsistentKeys(_)) => Err(KeyError::Mismatch(e)),
            Err(e) => Err(KeyError::BadCertificate(e)),
        }
    }
}

/// Why a key and a chain cannot form a [`CertifiedKey`].
#[derive(Debug)]
pub(crate) enum KeyError {
    Unusable(rustls::Error),
    Mismatch(rustls::Error),
    BadCertificate(rustls::Error),
}

impl KeyError {
    pub(crate) fn message(&self) -> &'static str {
        match self {
            KeyError::Unusable(_) => "the private key cannot be used",
            KeyError::Mismatch(_) => "the private key does not match the leaf certificate",
            KeyError::BadCertificate(_) => "the leaf certificate cannot be parsed",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Unusable(e) | KeyError::Mismatch(e) | KeyError::BadCertificate(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for KeyError {}

/// A password-protected private key, PEM or DER.
pub(crate) fn decrypt_key(
    bytes: &[u8],
    password: &str,
    origin: &str,
) -> Result<PrivateKeyDer<'static>> {
    #[cfg(feature = "encrypted-keys")]
    {
        crate::load::decrypt_pkcs8(bytes, password, origin)
    }
    #[cfg(not(feature = "encrypted-keys"))]
    {
        let _ = (bytes, password, origin);
        Err(needs_feature("encrypted private keys", "encrypted-keys"))
    }
}

#[allow(dead_code)] // used when a feature is off
fn needs_feature(what: &str, feature: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("{what} need the \"{feature}\" feature of tlsport"),
    )
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key_format = match &**self.key {
            PrivateKeyDer::Pkcs1(_) => "PKCS#1",
            PrivateKeyDer::Sec1(_) => "SEC1",
            PrivateKeyDer::Pkcs8(_) => "PKCS#8",
            _ => "other",
        };
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("key", &format_args!("<{key_format} private key, redacted>"))
            .finish()
    }
}

/// The kinds of object [`Policy::load_object`](crate::Policy::load_object) reads; the
/// values are Gauche's (and axTLS's) `SSL_OBJ_*` constants.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// An X.509 certificate (chain) of my own: appended to my chain.
    X509Cert = 1,
    /// An X.509 CA certificate (bundle): trust anchors for verifying the peer.
    X509CaCert = 2,
    /// An RSA private key (PKCS#1, or any key PEM): my private key.
    RsaKey = 3,
    /// A PKCS#8 private key: my private key.
    Pkcs8 = 4,
    /// A PKCS#12 archive: my whole identity.
    Pkcs12 = 5,
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::PrivateKeyDer;
    use zeroize::{Zeroize, Zeroizing};

    use super::Identity;
    use crate::load;

    /// Whether clearing memory on drop works cannot be observed without unsafe code (the
    /// memory is freed); this checks the types that do it, and that clearing a key
    /// through them (what their `Drop` does) leaves no key bytes.
    #[test]
    fn keys_and_key_file_buffers_are_cleared_on_drop() {
        let cert = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let key_pem = cert.signing_key.serialize_pem();
        let identity = Identity::from_pem(cert.cert.pem().as_bytes(), key_pem.as_bytes()).unwrap();
        let stored: &Zeroizing<PrivateKeyDer<'static>> = &identity.key;
        let mut copy = Zeroizing::new(stored.clone_key());
        let PrivateKeyDer::Pkcs8(der) = &*copy else {
            panic!("rcgen writes PKCS#8");
        };
        assert!(!der.secret_pkcs8_der().is_empty());
        copy.zeroize();
        let PrivateKeyDer::Pkcs8(der) = &*copy else {
            panic!("still PKCS#8");
        };
        assert!(der.secret_pkcs8_der().is_empty());

        let path = std::env::temp_dir().join(format!("tlsport-zeroize-{}.pem", std::process::id()));
        std::fs::write(&path, &key_pem).unwrap();
        let buffer: crate::error::Result<Zeroizing<Vec<u8>>> = load::read_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(&buffer.unwrap()[..], key_pem.as_bytes());
    }
}
