//! Reading certificates and private keys: PEM and DER ([`pem`]), password-protected
//! PKCS#8 keys ([`pkcs8`], feature `encrypted-keys`) and PKCS#12 archives ([`pkcs12`],
//! feature `pkcs12`), with the key derivation limits both password formats share
//! ([`kdf`]).
//!
//! Every error here is [`ErrorKind::Load`]. Its message names where the bytes came from
//! (a path, or a description such as "certificate PEM" for in-memory input) and says what
//! failed there; the underlying error, when there is one, is its
//! [`source`](std::error::Error::source), not repeated in the message.

use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

#[cfg(any(feature = "encrypted-keys", feature = "pkcs12"))]
mod kdf;
mod pem;
#[cfg(feature = "pkcs12")]
mod pkcs12;
#[cfg(feature = "encrypted-keys")]
mod pkcs8;

pub(crate) use pem::{certificates, certificates_lenient, private_key};
#[cfg(feature = "encrypted-keys")]
pub(crate) use pkcs8::decrypt_pkcs8;
#[cfg(feature = "pkcs12")]
pub(crate) use pkcs12::parse_pkcs12;

/// Reads a whole file, or a `Load` error naming the path. The buffer is cleared when
/// dropped: it may hold a private key.
pub(crate) fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::with_source(
            ErrorKind::Load,
            format!("cannot read {}", path.display()),
            e,
        )
    })
}

/// Whether `bytes` look like PEM: a `-----BEGIN ` line somewhere (text may surround it).
fn is_pem(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN ")
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// A `Load` error: `what` failed in the bytes from `origin`, with no further cause.
fn load(origin: &str, what: &str) -> Error {
    Error::new(ErrorKind::Load, format!("{origin}: {what}"))
}

/// A `Load` error: `what` failed in the bytes from `origin`, because of `cause`.
fn load_because(
    origin: &str,
    what: &str,
    cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::with_source(ErrorKind::Load, format!("{origin}: {what}"), cause)
}
