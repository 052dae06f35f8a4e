//! Certificates and private keys from PEM or DER bytes.

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{contains, is_pem, load, load_because};
use crate::error::{Error, Result};

/// All certificates in `bytes`: PEM (every `CERTIFICATE` section) or one DER certificate.
///
/// Empty input, input with no certificate and malformed PEM are errors naming `origin`.
pub(crate) fn certificates(bytes: &[u8], origin: &str) -> Result<Vec<CertificateDer<'static>>> {
    if !is_pem(bytes) {
        return match bytes.first() {
            Some(0x30) => Ok(vec![CertificateDer::from(bytes.to_vec())]),
            Some(_) => Err(load(origin, "neither PEM nor a DER certificate")),
            None => Err(load(origin, "empty: no certificate found")),
        };
    }
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| pem_error(origin, e))?;
    if certs.is_empty() {
        return Err(load(origin, "no CERTIFICATE section found"));
    }
    Ok(certs)
}

/// The certificates of a trust bundle, skipping what cannot be parsed: returns the good
/// ones and a description of each problem. PEM sections of other kinds are ignored.
pub(crate) fn certificates_lenient(bytes: &[u8]) -> (Vec<CertificateDer<'static>>, Vec<String>) {
    if !is_pem(bytes) {
        return match bytes.first() {
            Some(0x30) => (vec![CertificateDer::from(bytes.to_vec())], Vec::new()),
            Some(_) => (
                Vec::new(),
                vec!["neither PEM nor a DER certificate".to_owned()],
            ),
            None => (Vec::new(), vec!["the file is empty".to_owned()]),
        };
    }
    let mut certs = Vec::new();
    let mut problems = Vec::new();
    // Each step consumes at least one line, so this ends even on hostile input.
    for item in CertificateDer::pem_slice_iter(bytes) {
        match item {
            Ok(cert) => certs.push(cert),
            Err(e) => problems.push(describe(&e)),
        }
    }
    if certs.is_empty() && problems.is_empty() {
        problems.push("no CERTIFICATE section found".to_owned());
    }
    (certs, problems)
}

/// The one private key in `bytes`: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), PEM or DER.
pub(crate) fn private_key(bytes: &[u8], origin: &str) -> Result<PrivateKeyDer<'static>> {
    if !is_pem(bytes) {
        return PrivateKeyDer::try_from(bytes)
            .map(|k| k.clone_key())
            .map_err(|e| load_because(origin, "not a PEM or DER private key", e));
    }
    match PrivateKeyDer::from_pem_slice(bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) if contains(bytes, b"ENCRYPTED PRIVATE KEY") => Err(load(
            origin,
            "the private key is encrypted: a password is needed",
        )),
        Err(pem::Error::NoItemsFound) => Err(load(
            origin,
            "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section found",
        )),
        Err(e) => Err(pem_error(origin, e)),
    }
}

/// The error for malformed PEM. pki-types prints the markers of the two syntax errors as
/// byte lists, so for those the message says it all in words and there is no source;
/// for the others (bad Base64, a section too large) the decoder's error is the source.
fn pem_error(origin: &str, err: pem::Error) -> Error {
    match err {
        pem::Error::MissingSectionEnd { .. } | pem::Error::IllegalSectionStart { .. } => {
            load(origin, &describe(&err))
        }
        pem::Error::Base64Decode(_) => load_because(origin, "malformed PEM: bad Base64", err),
        _ => load_because(origin, "malformed PEM", err),
    }
}

/// A readable description of a PEM error, for messages that carry no source: the
/// problems of a trust bundle, and the syntax errors of [`pem_error`].
fn describe(err: &pem::Error) -> String {
    match err {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "malformed PEM: the \"-----END {}-----\" line is missing",
            String::from_utf8_lossy(end_marker).trim()
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed PEM: bad BEGIN line \"{}\"",
            String::from_utf8_lossy(line).trim()
        ),
        other => format!("malformed PEM: {other}"),
    }
}
