//! Hashing and HMAC of the fuzzing mode: fixed outputs, whatever the input.
//!
//! With a real HMAC, the `Finished` messages (and every key) depend on the transcript,
//! so a fuzzer that changes any handshake message fails at `Finished` and never reaches
//! the states after it. With these, every secret, every `Finished` and every PSK binder
//! is the same constant in every session: a mutated message is parsed, and if it is
//! accepted the handshake goes on. HKDF (TLS 1.3) and the PRF (TLS 1.2) are rustls's
//! own constructions over this HMAC.

use rustls::crypto::hash::{Context, Hash, HashAlgorithm, Output};
use rustls::crypto::hmac::{Hmac, Key, Tag};
#[cfg(feature = "tls12")]
use rustls::crypto::tls12::PrfUsingHmac;
use rustls::crypto::tls13::HkdfUsingHmac;

/// The length of every hash and HMAC output (SHA-256's).
const LEN: usize = 32;

/// The output of every hash.
const DIGEST: [u8; LEN] = *b"tlsport fuzzing: constant digest";

/// The output of every HMAC.
const MAC: [u8; LEN] = *b"tlsport fuzzing: a constant MAC!";

/// A "SHA-256" whose digest is [`DIGEST`].
pub(crate) struct FixedHash;

impl Hash for FixedHash {
    fn start(&self) -> Box<dyn Context> {
        Box::new(FixedContext)
    }

    fn hash(&self, _data: &[u8]) -> Output {
        Output::new(&DIGEST)
    }

    fn output_len(&self) -> usize {
        LEN
    }

    fn algorithm(&self) -> HashAlgorithm {
        HashAlgorithm::SHA256
    }
}

struct FixedContext;

impl Context for FixedContext {
    fn fork_finish(&self) -> Output {
        Output::new(&DIGEST)
    }

    fn fork(&self) -> Box<dyn Context> {
        Box::new(FixedContext)
    }

    fn finish(self: Box<Self>) -> Output {
        Output::new(&DIGEST)
    }

    fn update(&mut self, _data: &[u8]) {}
}

/// An "HMAC-SHA256" whose tag is [`MAC`].
pub(crate) struct FixedHmac;

impl Hmac for FixedHmac {
    fn with_key(&self, _key: &[u8]) -> Box<dyn Key> {
        Box::new(FixedKey)
    }

    fn hash_output_len(&self) -> usize {
        LEN
    }
}

struct FixedKey;

impl Key for FixedKey {
    fn sign_concat(&self, _first: &[u8], _middle: &[&[u8]], _last: &[u8]) -> Tag {
        Tag::new(&MAC)
    }

    fn tag_len(&self) -> usize {
        LEN
    }
}

/// TLS 1.3's HKDF over [`FixedHmac`].
pub(crate) static HKDF: HkdfUsingHmac<'static> = HkdfUsingHmac(&FixedHmac);

/// TLS 1.2's PRF over [`FixedHmac`].
#[cfg(feature = "tls12")]
pub(crate) static PRF: PrfUsingHmac<'static> = PrfUsingHmac(&FixedHmac);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_do_not_depend_on_the_input() {
        let mut context = FixedHash.start();
        context.update(b"anything");
        assert_eq!(context.finish().as_ref(), FixedHash.hash(b"else").as_ref());
        let (a, b) = (FixedHmac.with_key(b"k1"), FixedHmac.with_key(b"k2"));
        assert_eq!(a.sign(&[b"x"]).as_ref(), b.sign(&[b"y", b"z"]).as_ref());
        assert_eq!(a.sign(&[b"x"]).as_ref().len(), LEN);
    }
}
