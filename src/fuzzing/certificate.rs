//! The built-in identity of the fuzzing mode: an X.509 certificate for `localhost` and its
//! PKCS#8 "private key", written here, deterministically, by a small DER writer.
//!
//! The key algorithm and the signature algorithm are two object identifiers under a
//! UUID arc (`2.25.7440213671183890142294377023157172796.1` and `.2`, ITU-T X.667:
//! anyone may mint them, nobody else will use them), so no real verifier can accept the
//! certificate and no real backend can load the key. The certificate is valid from
//! 2020-01-01 to 9999-12-31 (RFC 5280's "no well-defined expiration"); the fuzzing
//! clock shows 2025-01-01. Its self-signature is one of the fixed signatures of the
//! fuzzing mode (see `sign`).

use std::sync::OnceLock;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::sign::SIGNATURE;

/// The DER of the key algorithm's OID (tag, length, value).
pub(crate) const KEY_ALGORITHM: &[u8] = &[
    0x06, 0x14, 0x69, 0x8b, 0x98, 0xf7, 0xb6, 0xe2, 0x92, 0xba, 0xb4, 0xa7, 0x8c, 0xf2, 0xec, 0xfe,
    0x80, 0xc0, 0xa7, 0xf4, 0x3c, 0x01,
];

/// The DER of the signature algorithm's OID (tag, length, value).
pub(crate) const SIGNATURE_ALGORITHM: &[u8] = &[
    0x06, 0x14, 0x69, 0x8b, 0x98, 0xf7, 0xb6, 0xe2, 0x92, 0xba, 0xb4, 0xa7, 0x8c, 0xf2, 0xec, 0xfe,
    0x80, 0xc0, 0xa7, 0xf4, 0x3c, 0x02,
];

/// The public key in the certificate.
pub(crate) const PUBLIC_KEY: [u8; 32] = *b"tlsport fuzzing public key......";

/// The "private key" in the PKCS#8 document.
const PRIVATE_KEY: [u8; 32] = *b"tlsport fuzzing key: not secret!";

/// The name the certificate is for.
pub(crate) const SERVER_NAME: &str = "localhost";

/// The certificate's subject and issuer common name.
const COMMON_NAME: &str = "tlsport InsecureFuzzing identity (no security)";

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// One DER element: tag, definite length, contents.
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// A constructed element from its parts.
fn cons(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// A BIT STRING with no unused bits.
fn bit_string(bits: &[u8]) -> Vec<u8> {
    tlv(BIT_STRING, &[&[0u8][..], bits].concat())
}

/// `Name ::= SEQUENCE OF SET OF { commonName, UTF8String }`.
fn name() -> Vec<u8> {
    const COMMON_NAME_OID: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
    let attribute = cons(
        SEQUENCE,
        &[COMMON_NAME_OID, &tlv(UTF8_STRING, COMMON_NAME.as_bytes())],
    );
    cons(SEQUENCE, &[&cons(SET, &[&attribute])])
}

/// The DER `SubjectPublicKeyInfo` of the built-in key.
pub(crate) fn subject_public_key_info() -> &'static [u8] {
    static SPKI: OnceLock<Vec<u8>> = OnceLock::new();
    SPKI.get_or_init(|| {
        cons(
            SEQUENCE,
            &[&cons(SEQUENCE, &[KEY_ALGORITHM]), &bit_string(&PUBLIC_KEY)],
        )
    })
}

/// The built-in certificate, made once per process (always the same bytes).
pub(crate) fn certificate() -> &'static CertificateDer<'static> {
    static CERT: OnceLock<CertificateDer<'static>> = OnceLock::new();
    CERT.get_or_init(|| {
        const SUBJECT_ALT_NAME_OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
        let version = tlv(0xa0, &tlv(INTEGER, &[2])); // [0] EXPLICIT v3
        let serial = tlv(INTEGER, &[0x5a]);
        let algorithm = cons(SEQUENCE, &[SIGNATURE_ALGORITHM]);
        let validity = cons(
            SEQUENCE,
            &[
                &tlv(UTC_TIME, b"200101000000Z"),
                &tlv(GENERALIZED_TIME, b"99991231235959Z"),
            ],
        );
        // subjectAltName: dNSName [2] "localhost".
        let names = cons(SEQUENCE, &[&tlv(0x82, SERVER_NAME.as_bytes())]);
        let san = cons(
            SEQUENCE,
            &[SUBJECT_ALT_NAME_OID, &tlv(OCTET_STRING, &names)],
        );
        let extensions = tlv(0xa3, &cons(SEQUENCE, &[&san])); // [3] EXPLICIT
        let tbs = cons(
            SEQUENCE,
            &[
                &version,
                &serial,
                &algorithm,
                &name(),
                &validity,
                &name(),
                subject_public_key_info(),
                &extensions,
            ],
        );
        let der = cons(SEQUENCE, &[&tbs, &algorithm, &bit_string(&SIGNATURE)]);
        CertificateDer::from(der)
    })
}

/// The built-in PKCS#8 `PrivateKeyInfo`.
pub(crate) fn private_key_der() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        cons(
            SEQUENCE,
            &[
                &tlv(INTEGER, &[0]),
                &cons(SEQUENCE, &[KEY_ALGORITHM]),
                &tlv(OCTET_STRING, &PRIVATE_KEY),
            ],
        )
    })
}

/// The built-in private key.
pub(crate) fn private_key() -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(private_key_der().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_are_encoded_in_long_form() {
        assert_eq!(tlv(0x04, &[0; 3])[..2], [0x04, 3]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn the_certificate_is_well_formed_and_always_the_same() {
        let cert = certificate();
        // webpki parses it (rustls does, to match the key with the certificate).
        let parsed = webpki::EndEntityCert::try_from(cert).unwrap();
        parsed
            .verify_is_valid_for_subject_name(
                &rustls::pki_types::ServerName::try_from(SERVER_NAME).unwrap(),
            )
            .unwrap();
        assert_eq!(
            &*parsed.subject_public_key_info(),
            subject_public_key_info()
        );
        assert!(cert.len() > 200 && cert.len() < 512);
    }
}
