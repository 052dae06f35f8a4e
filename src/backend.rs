//! Crypto backends: which rustls `CryptoProvider` a policy uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use rustls::crypto::CryptoProvider;

use crate::error::{Error, ErrorKind, Result};

/// A crypto backend for rustls (Gauche's `<mbed-tls>` / `<ax-tls>` TLS classes).
///
/// Each is a cargo feature: `aws-lc-rs` (on by default) and `ring`. Both may be compiled
/// in at once; every config tlsport builds names its provider explicitly, so rustls's
/// process-wide default provider is never consulted and never needs installing.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// AWS-LC through `aws-lc-rs` (feature `aws-lc-rs`): post-quantum key exchange
    /// (X25519MLKEM768) preferred.
    AwsLcRs,
    /// `ring` (feature `ring`).
    Ring,
    /// **No security at all**: deterministic, unencrypted sessions for fuzzing (feature
    /// `fuzzing`), described in [`tlsport::fuzzing`](crate::fuzzing), whose warning
    /// applies. Never a default: [`default_backend`] never returns it and
    /// [`set_default_backend`] refuses it; name it in a policy (or use
    /// [`fuzzing::client_policy`](crate::fuzzing::client_policy) and
    /// [`fuzzing::server_policy`](crate::fuzzing::server_policy)).
    #[cfg(feature = "fuzzing")]
    InsecureFuzzing,
}

const ALL: &[Backend] = &[
    Backend::AwsLcRs,
    Backend::Ring,
    #[cfg(feature = "fuzzing")]
    Backend::InsecureFuzzing,
];

impl Backend {
    /// The backends compiled into this build, the preferred one first
    /// (`InsecureFuzzing`, with the `fuzzing` feature, always last).
    ///
    /// ```
    /// for backend in tlsport::Backend::available() {
    ///     println!("{backend:?}");
    /// }
    /// ```
    pub fn available() -> Vec<Backend> {
        ALL.iter().copied().filter(|b| b.is_available()).collect()
    }

    /// Whether this backend was compiled in.
    pub fn is_available(self) -> bool {
        match self {
            Backend::AwsLcRs => cfg!(feature = "aws-lc-rs"),
            Backend::Ring => cfg!(feature = "ring"),
            #[cfg(feature = "fuzzing")]
            Backend::InsecureFuzzing => true,
        }
    }

    /// The rustls provider of this backend, or an `Unsupported` error naming the feature.
    pub(crate) fn provider(self) -> Result<Arc<CryptoProvider>> {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLcRs => Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider())),
            #[cfg(feature = "ring")]
            Backend::Ring => Ok(Arc::new(rustls::crypto::ring::default_provider())),
            #[cfg(feature = "fuzzing")]
            Backend::InsecureFuzzing => crate::fuzzing::provider(),
            #[allow(unreachable_patterns)]
            other => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "the {other:?} backend is not compiled in: enable the \"{}\" feature of tlsport",
                    other.feature()
                ),
            )),
        }
    }

    fn feature(self) -> &'static str {
        match self {
            Backend::AwsLcRs => "aws-lc-rs",
            Backend::Ring => "ring",
            #[cfg(feature = "fuzzing")]
            Backend::InsecureFuzzing => "fuzzing",
        }
    }

    /// Whether this is [`Backend::InsecureFuzzing`] (feature `fuzzing`), which has no
    /// security at all. Code that picks among [`Backend::available`] for real
    /// connections skips it.
    ///
    /// ```
    /// let real: Vec<_> = tlsport::Backend::available()
    ///     .into_iter()
    ///     .filter(|b| !b.is_insecure())
    ///     .collect();
    /// # let _ = real;
    /// ```
    pub fn is_insecure(self) -> bool {
        #[cfg(feature = "fuzzing")]
        if self == Backend::InsecureFuzzing {
            return true;
        }
        false
    }

    fn code(self) -> u8 {
        match self {
            Backend::AwsLcRs => 1,
            Backend::Ring => 2,
            #[cfg(feature = "fuzzing")]
            Backend::InsecureFuzzing => 3,
        }
    }
}

/// 0: not set, use the first available backend.
static DEFAULT: AtomicU8 = AtomicU8::new(0);

/// The backend a [`Policy`](crate::Policy) uses unless [`Policy::backend`](crate::Policy::backend)
/// names one: the one last given to [`set_default_backend`], else the first of
/// [`Backend::available`].
///
/// In a build with no backend at all this still returns [`Backend::AwsLcRs`]; building
/// a `Connector` or `Acceptor` then fails with [`ErrorKind::Unsupported`].
pub fn default_backend() -> Backend {
    match DEFAULT.load(Ordering::Relaxed) {
        1 => Backend::AwsLcRs,
        2 => Backend::Ring,
        _ => Backend::available()
            .into_iter()
            .find(|b| !b.is_insecure())
            .unwrap_or(Backend::AwsLcRs),
    }
}

/// Makes `backend` the process-wide default for policies that do not name one, and
/// returns the previous default (Gauche's `default-tls-class`).
///
/// Connectors and acceptors already built keep their backend.
///
/// # Errors
///
/// [`ErrorKind::Unsupported`] when `backend` is not compiled in;
/// [`ErrorKind::InvalidInput`] for `Backend::InsecureFuzzing` (feature `fuzzing`), which
/// is never a default. The default is then unchanged.
///
/// ```
/// # fn main() -> tlsport::Result<()> {
/// let previous = tlsport::set_default_backend(tlsport::default_backend())?;
/// assert_eq!(previous, tlsport::default_backend());
/// # Ok(()) }
/// ```
pub fn set_default_backend(backend: Backend) -> Result<Backend> {
    if backend.is_insecure() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "Backend::InsecureFuzzing has no security and is never a default backend: \
             name it in each fuzzing policy with Policy::backend() instead",
        ));
    }
    backend.provider()?;
    let previous = default_backend();
    DEFAULT.store(backend.code(), Ordering::Relaxed);
    Ok(previous)
}
