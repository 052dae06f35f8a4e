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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// Each message of an error's chain, as a reporter that walks `source()` (anyhow's
    /// `{:#}`, say) prints them.
    fn chain(err: &Error) -> Vec<String> {
        let mut messages = vec![err.to_string()];
        let mut source = err.source();
        while let Some(cause) = source {
            messages.push(cause.to_string());
            source = cause.source();
        }
        messages
    }

    /// Asserts that no message of the chain repeats the one below it.
    #[track_caller]
    fn each_cause_once(err: &Error) -> Vec<String> {
        let messages = chain(err);
        for pair in messages.windows(2) {
            assert!(!pair[0].contains(&pair[1]), "printed twice: {messages:?}");
        }
        messages
    }

    #[test]
    fn load_errors_print_each_cause_once() {
        let missing = std::env::temp_dir().join("tlsport-no-such-dir/no-such-file.pem");
        let err = read_file(&missing).unwrap_err();
        let messages = each_cause_once(&err);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("no-such-file.pem"), "{messages:?}");
        let io = err.source().unwrap().downcast_ref::<std::io::Error>();
        assert_eq!(io.unwrap().kind(), std::io::ErrorKind::NotFound);

        let bad_base64 = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let err = certificates(bad_base64, "chain.pem").unwrap_err();
        let messages = each_cause_once(&err);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].starts_with("chain.pem: malformed PEM"),
            "{messages:?}"
        );

        let err = private_key(b"garbage", "key.der").unwrap_err();
        assert_eq!(each_cause_once(&err).len(), 2);
    }

    #[cfg(feature = "pkcs12")]
    #[test]
    fn pkcs12_errors_print_each_cause_once() {
        let err = parse_pkcs12(b"\x30\x03\x02\x01\x03", "secret", "id.p12").unwrap_err();
        let messages = each_cause_once(&err);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with("id.p12: "), "{messages:?}");
    }

    #[cfg(feature = "encrypted-keys")]
    #[test]
    fn pkcs8_errors_print_each_cause_once() {
        let err = decrypt_pkcs8(b"\x30\x03\x02\x01\x00", "secret", "key.p8").unwrap_err();
        let messages = each_cause_once(&err);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with("key.p8: "), "{messages:?}");
    }
}
