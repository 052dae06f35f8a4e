//! The crypto provider of [`Backend::InsecureFuzzing`](crate::Backend::InsecureFuzzing):
//! deterministic and without secrecy.
//!
//! - randomness: every byte asked for is a fixed function of its position;
//! - key exchange: one group under a private-use codepoint, a fixed public key, a fixed
//!   shared secret (any peer key of the right length is accepted);
//! - cipher suites under private-use codepoints (see `cipher`): records carry their
//!   plaintext and a fixed tag;
//! - hashing and HMAC (so HKDF, the TLS 1.2 PRF, every secret and every `Finished`):
//!   fixed outputs (see `hash`), so a changed handshake message never fails a
//!   transcript check;
//! - signatures: see `identity`;
//! - the clock: fixed (see [`FixedClock`]).
//!
//! No real peer offers these codepoints, so a fuzzing peer never completes a handshake
//! with a real one.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;
use rustls::{Error, NamedGroup, PeerMisbehaved};

use crate::error::Result;

use super::cipher;
use super::sign::{KEY_PROVIDER, VERIFICATION_ALGORITHMS};

/// The key exchange group, from the private-use range of the TLS registry (RFC 8446,
/// 0xFE00-0xFEFF).
pub(crate) const GROUP: NamedGroup = NamedGroup::Unknown(0xFE5A);

/// The fixed public key both sides send in their key shares.
const PUBLIC_KEY: [u8; 32] = *b"tlsport fuzzing: no secrecy here";

/// The fixed shared secret every key exchange ends with.
const SHARED_SECRET: [u8; 32] = *b"tlsport fuzzing: shared, public.";

/// The instant the fixed clock always shows: 2025-01-01T00:00:00Z.
pub(crate) const NOW_UNIX_SECONDS: u64 = 1_735_689_600;

/// The provider. No part of it needs a real crypto backend.
pub(crate) fn provider() -> Result<Arc<CryptoProvider>> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Ok(PROVIDER
        .get_or_init(|| {
            Arc::new(CryptoProvider {
                cipher_suites: cipher::suites(),
                kx_groups: vec![&FixedGroup],
                signature_verification_algorithms: VERIFICATION_ALGORITHMS,
                secure_random: &FixedRandom,
                key_provider: &KEY_PROVIDER,
            })
        })
        .clone())
}

/// "Randomness" that is the same on every call: byte `i` of any request is
/// `0x5a ^ i` (mod 256). It never fails.
#[derive(Debug)]
pub(crate) struct FixedRandom;

impl SecureRandom for FixedRandom {
    fn fill(&self, buf: &mut [u8]) -> std::result::Result<(), GetRandomFailed> {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte = 0x5a ^ (i as u8);
        }
        Ok(())
    }
}

/// The key exchange group: a fixed public key, a fixed shared secret.
#[derive(Debug)]
struct FixedGroup;

impl SupportedKxGroup for FixedGroup {
    fn start(&self) -> std::result::Result<Box<dyn ActiveKeyExchange>, Error> {
        Ok(Box::new(FixedKeyExchange))
    }

    fn name(&self) -> NamedGroup {
        GROUP
    }
}

struct FixedKeyExchange;

impl ActiveKeyExchange for FixedKeyExchange {
    /// Any peer key of the fixed key's length is structurally valid and accepted; the
    /// secret is the same whatever it holds.
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> std::result::Result<SharedSecret, Error> {
        if peer_pub_key.len() != PUBLIC_KEY.len() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&SHARED_SECRET[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &PUBLIC_KEY
    }

    fn group(&self) -> NamedGroup {
        GROUP
    }
}

/// A clock stopped at 2025-01-01T00:00:00Z, so that certificate validity, ticket
/// lifetimes and session ages never depend on when a session runs.
#[derive(Debug)]
pub(crate) struct FixedClock;

impl TimeProvider for FixedClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(
            NOW_UNIX_SECONDS,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn randomness_is_a_fixed_pattern() {
        let (mut a, mut b) = ([0u8; 40], [0u8; 40]);
        FixedRandom.fill(&mut a).unwrap();
        FixedRandom.fill(&mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0], 0x5a);
        assert_eq!(a[1], 0x5b);
    }

    #[test]
    fn key_exchange_is_fixed_and_checks_the_length() {
        let kx = FixedGroup.start().unwrap();
        assert_eq!(kx.pub_key(), &PUBLIC_KEY);
        let secret = kx.complete(&[7; 32]).unwrap();
        assert_eq!(secret.secret_bytes(), &SHARED_SECRET);
        assert!(FixedGroup.start().unwrap().complete(&[7; 31]).is_err());
    }
}
