//! Signatures of the fuzzing mode: one private-use signature scheme whose signatures are
//! a fixed 64-byte value, accepted whenever they have its form.
//!
//! TLS 1.2 signs under the Ed25519 codepoint instead, with the same fixed value: rustls's
//! TLS 1.2 client refuses a `ServerKeyExchange` signed under a scheme it has no
//! algorithm for, and so refuses every private-use scheme. A real peer still never gets
//! that far: the cipher suites and the key exchange group are private-use codepoints.
//!
//! A signature is *structurally valid* when it is 64 bytes long and starts with the
//! 16-byte marker `tlsport-fuzzing!`; the rest is not checked (the signer writes zeros).
//! The message is not looked at: a fuzzer that changes a signed handshake message does
//! not break its signature.

use std::sync::Arc;

use rustls::crypto::{KeyProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{
    AlgorithmIdentifier, InvalidSignature, PrivateKeyDer, SignatureVerificationAlgorithm,
    SubjectPublicKeyInfoDer,
};
use rustls::sign::{Signer, SigningKey};
use rustls::{Error, SignatureAlgorithm, SignatureScheme};

use super::certificate::{
    KEY_ALGORITHM, PUBLIC_KEY, SIGNATURE_ALGORITHM, private_key_der, subject_public_key_info,
};

/// The signature scheme, from the private-use range of the TLS registry (RFC 8446,
/// 0xFE00-0xFFFF).
pub(crate) const SCHEME: SignatureScheme = SignatureScheme::Unknown(0xFE5A);

/// The scheme of TLS 1.2 signatures (see the module docs).
#[cfg(feature = "tls12")]
pub(crate) const TLS12_SCHEME: SignatureScheme = SignatureScheme::ED25519;

const MARKER: &[u8; 16] = b"tlsport-fuzzing!";

/// The signature the signer makes, over any message.
pub(crate) const SIGNATURE: [u8; 64] = {
    let mut sig = [0u8; 64];
    let mut i = 0;
    while i < MARKER.len() {
        sig[i] = MARKER[i];
        i += 1;
    }
    sig
};

/// Whether `signature` has the form of a fuzzing signature.
fn structurally_valid(signature: &[u8]) -> bool {
    signature.len() == SIGNATURE.len() && signature.starts_with(MARKER)
}

/// Loads the built-in key, and only it.
#[derive(Debug)]
pub(crate) struct FixedKeyProvider;

pub(crate) static KEY_PROVIDER: FixedKeyProvider = FixedKeyProvider;

impl KeyProvider for FixedKeyProvider {
    fn load_private_key(
        &self,
        key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, Error> {
        match &key_der {
            PrivateKeyDer::Pkcs8(der) if der.secret_pkcs8_der() == private_key_der() => {
                Ok(Arc::new(FixedSigningKey))
            }
            _ => Err(Error::General(
                "the InsecureFuzzing backend signs only with its own built-in key \
                 (tlsport::fuzzing::server_policy())"
                    .into(),
            )),
        }
    }
}

#[derive(Debug)]
struct FixedSigningKey;

impl SigningKey for FixedSigningKey {
    /// The private scheme when offered (always, in TLS 1.3), else the TLS 1.2 one.
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        #[cfg(feature = "tls12")]
        let schemes = [SCHEME, TLS12_SCHEME];
        #[cfg(not(feature = "tls12"))]
        let schemes = [SCHEME];
        let scheme = schemes.into_iter().find(|s| offered.contains(s))?;
        Some(Box::new(FixedSigner(scheme)))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(subject_public_key_info()))
    }

    /// The algorithm of the TLS 1.2 scheme: rustls keeps a TLS 1.2 cipher suite for a
    /// key only when the suite lists a scheme of the key's algorithm.
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ED25519
    }
}

#[derive(Debug)]
struct FixedSigner(SignatureScheme);

impl Signer for FixedSigner {
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(SIGNATURE.to_vec())
    }

    fn scheme(&self) -> SignatureScheme {
        self.0
    }
}

/// Verifies fuzzing signatures made with the built-in key's algorithm.
#[derive(Debug)]
struct FixedVerification;

impl SignatureVerificationAlgorithm for FixedVerification {
    fn verify_signature(
        &self,
        public_key: &[u8],
        _message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        if public_key == PUBLIC_KEY && structurally_valid(signature) {
            Ok(())
        } else {
            Err(InvalidSignature)
        }
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(KEY_ALGORITHM)
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(SIGNATURE_ALGORITHM)
    }
}

/// The provider's verification algorithms: the fuzzing signatures, under the private
/// scheme and (TLS 1.2) the Ed25519 codepoint.
pub(crate) const VERIFICATION_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[&FixedVerification],
    mapping: &[
        (SCHEME, &[&FixedVerification]),
        #[cfg(feature = "tls12")]
        (TLS12_SCHEME, &[&FixedVerification]),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::certificate;

    #[test]
    fn only_the_built_in_key_loads_and_its_signatures_verify() {
        let key = KEY_PROVIDER
            .load_private_key(certificate::private_key())
            .unwrap();
        assert!(
            key.choose_scheme(&[SignatureScheme::RSA_PSS_SHA256])
                .is_none()
        );
        let signer = key
            .choose_scheme(&[SignatureScheme::ED25519, SCHEME])
            .unwrap();
        assert_eq!(signer.scheme(), SCHEME);
        let signature = signer.sign(b"anything").unwrap();
        assert!(
            FixedVerification
                .verify_signature(&PUBLIC_KEY, b"else", &signature)
                .is_ok()
        );
        let mut bad = signature.clone();
        bad[3] ^= 1;
        assert!(
            FixedVerification
                .verify_signature(&PUBLIC_KEY, b"else", &bad)
                .is_err()
        );
        assert!(
            FixedVerification
                .verify_signature(&PUBLIC_KEY, b"else", &signature[..63])
                .is_err()
        );

        let other = rustls::pki_types::PrivatePkcs8KeyDer::from(vec![0x30, 0x00]);
        assert!(KEY_PROVIDER.load_private_key(other.into()).is_err());
    }

    #[test]
    fn the_built_in_key_matches_its_certificate() {
        let key = KEY_PROVIDER
            .load_private_key(certificate::private_key())
            .unwrap();
        let certified =
            rustls::sign::CertifiedKey::new(vec![certificate::certificate().clone()], key);
        certified.keys_match().unwrap();
    }
}
