//! Whom I trust: [`CaBundle`], the system store probe, and loading roots.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::error::{Error, ErrorKind, Result};
use crate::load;

/// Where trust anchors come from (Gauche's `tls-ca-bundle-path`): for verifying servers,
/// given to [`Policy::ca_bundle`](crate::Policy::ca_bundle); for verifying client
/// certificates, to [`Policy::client_auth_roots`](crate::Policy::client_auth_roots)
/// (default [`CaBundle::Empty`], and never [`CaBundle::System`]).
///
/// Roots added with [`Policy::add_root_certificate`](crate::Policy::add_root_certificate)
/// or [`Policy::add_roots_pem_file`](crate::Policy::add_roots_pem_file) are trusted on
/// top of either bundle.
///
/// ```
/// use tlsport::{CaBundle, Policy};
///
/// let policy = Policy::new()
///     .ca_bundle(CaBundle::System)
///     .client_auth_roots(CaBundle::File("client-ca.pem".into()));
/// # let _ = policy;
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaBundle {
    /// The platform's verifier (rustls-platform-verifier; feature `platform-verifier`):
    /// the OS verifier on macOS, iOS, Windows and Android; the system's roots with webpki
    /// on Linux and other Unixes, honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`.
    ///
    /// # Caveats
    ///
    /// The OS verifiers may fetch intermediates and revocation data (OCSP, CRLs) over the
    /// network, synchronously, inside the poll that drives the handshake: the executor
    /// thread is blocked meanwhile (Windows allows itself about 10 s) and no deadline can
    /// interrupt it. Give such handshakes a thread that may block (a multi-threaded
    /// runtime with spare workers, a blocking pool, a thread per connection), or use
    /// [`CaBundle::File`] or [`CaBundle::Bundled`], which never touch the network. See
    /// the crate's [caveats](crate#caveats).
    System,
    /// A PEM bundle file (or one DER certificate), read when the `Connector` or
    /// `Acceptor` is built.
    File(PathBuf),
    /// Mozilla's roots compiled in (feature `webpki-roots`).
    Bundled,
    /// No bundle: only roots added by hand (Gauche's `#f`).
    Empty,
}

impl Default for CaBundle {
    /// Gauche's `'check`: a build-time `TLSPORT_CA_BUNDLE` (`system`, `none`, `bundled`,
    /// or a path) wins; otherwise [`CaBundle::System`] when [`system_ca_available`] finds
    /// a store, else [`CaBundle::Empty`].
    fn default() -> CaBundle {
        match option_env!("TLSPORT_CA_BUNDLE") {
            Some("system") => CaBundle::System,
            Some("none") | Some("") => CaBundle::Empty,
            Some("bundled") => CaBundle::Bundled,
            Some(path) => CaBundle::File(PathBuf::from(path)),
            None if system_ca_available() => CaBundle::System,
            None => CaBundle::Empty,
        }
    }
}

/// Whether this system has a certificate store [`CaBundle::System`] can use.
///
/// Probed once and cached. On Linux and other Unixes it looks for `SSL_CERT_FILE`,
/// `SSL_CERT_DIR` and the usual bundle locations of the common distributions; on macOS,
/// Windows and Android the platform always has a store.
pub fn system_ca_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(probe_system_store)
}

#[cfg(all(unix, not(target_os = "android"), not(target_vendor = "apple")))]
fn probe_system_store() -> bool {
    const FILES: [&str; 6] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/cert.pem",
        "/usr/local/share/certs/ca-root-nss.crt",
    ];
    let env_file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let env_dir = std::env::var_os("SSL_CERT_DIR").map(PathBuf::from);
    if env_file.is_some() || env_dir.is_some() {
        return env_file.is_some_and(|f| non_empty_file(&f))
            || env_dir.is_some_and(|dirs| {
                std::env::split_paths(&dirs)
                    .any(|d| std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()))
            });
    }
    FILES.iter().any(|f| non_empty_file(Path::new(f)))
}

#[cfg(not(all(unix, not(target_os = "android"), not(target_vendor = "apple"))))]
fn probe_system_store() -> bool {
    true
}

#[cfg(all(unix, not(target_os = "android"), not(target_vendor = "apple")))]
fn non_empty_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
}

/// The roots of `File`, `Bundled` and `Empty` bundles plus `extra`, for webpki.
///
/// `System` is not handled here: the platform verifier owns its store.
pub(crate) fn root_store(
    bundle: &CaBundle,
    extra: &[CertificateDer<'static>],
) -> Result<Arc<RootCertStore>> {
    let mut store = RootCertStore::empty();
    match bundle {
        CaBundle::File(path) => {
            let origin = path.display().to_string();
            add_all(&mut store, roots_from_file(path)?, &origin)?;
        }
        CaBundle::Bundled => bundled_roots(&mut store)?,
        CaBundle::System | CaBundle::Empty => {}
    }
    add_all(&mut store, extra.iter().cloned(), "added root certificate")?;
    Ok(Arc::new(store))
}

/// The trust anchors of a PEM bundle (or one DER certificate) file.
///
/// Entries that cannot be parsed, as PEM or as a trust anchor, are logged at `warn`
/// naming the file, and skipped: one odd certificate does not disable a whole bundle.
/// A file that is missing, unreadable or holds no usable certificate is a
/// [`ErrorKind::Load`] error naming the path.
pub(crate) fn roots_from_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let origin = path.display();
    let (certs, mut problems) = load::certificates_lenient(&load::read_file(path)?);
    let mut usable = Vec::with_capacity(certs.len());
    for (i, cert) in certs.into_iter().enumerate() {
        match webpki_anchor(&cert) {
            Ok(()) => usable.push(cert),
            Err(e) => problems.push(format!(
                "certificate #{} is not a usable trust anchor: {e}",
                i + 1
            )),
        }
    }
    if usable.is_empty() {
        return Err(Error::new(
            ErrorKind::Load,
            format!("{origin}: no usable certificate ({})", problems.join("; ")),
        ));
    }
    for problem in &problems {
        log::warn!("{origin}: skipped: {problem}");
    }
    Ok(usable)
}

fn webpki_anchor(cert: &CertificateDer<'_>) -> std::result::Result<(), rustls::Error> {
    RootCertStore::empty().add(cert.clone().into_owned())
}

fn add_all(
    store: &mut RootCertStore,
    certs: impl IntoIterator<Item = CertificateDer<'static>>,
    origin: &str,
) -> Result<()> {
    for (i, cert) in certs.into_iter().enumerate() {
        store.add(cert).map_err(|e| {
            Error::with_source(
                ErrorKind::Load,
                format!(
                    "{origin}: certificate #{} is not a usable trust anchor",
                    i + 1
                ),
                e,
            )
        })?;
    }
    Ok(())
}

#[cfg(feature = "webpki-roots")]
fn bundled_roots(store: &mut RootCertStore) -> Result<()> {
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(())
}

#[cfg(not(feature = "webpki-roots"))]
fn bundled_roots(_: &mut RootCertStore) -> Result<()> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "CaBundle::Bundled needs the \"webpki-roots\" feature of tlsport",
    ))
}
