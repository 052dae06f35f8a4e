//! The cipher suites of the fuzzing mode: records carry their plaintext in the clear,
//! followed by a fixed 16-byte tag.
//!
//! TLS 1.3 and (feature `tls12`) TLS 1.2, each under a codepoint from the private-use
//! range of the cipher suite registry (0xFF00-0xFFFF), over the fixed hash and HMAC of
//! `hash`: the traffic keys are derived (all the same), then ignored. A record's tag is
//! checked on receipt, so a record whose tag was damaged is a `DecryptError`, and a
//! record's plaintext can be changed at will by editing its bytes.

use super::hash::{FixedHash, HKDF};
use rustls::crypto::CipherSuiteCommon;
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, MessageDecrypter, MessageEncrypter,
    OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload, Tls13AeadAlgorithm,
    UnsupportedOperationError,
};
use rustls::{
    CipherSuite, ConnectionTrafficSecrets, ContentType, Error, ProtocolVersion,
    SupportedCipherSuite, Tls13CipherSuite,
};

/// The TLS 1.3 suite's codepoint.
pub(crate) const TLS13_SUITE: CipherSuite = CipherSuite::Unknown(0xFF5A);
/// The TLS 1.2 suite's codepoint.
#[cfg(feature = "tls12")]
pub(crate) const TLS12_SUITE: CipherSuite = CipherSuite::Unknown(0xFF5B);

/// The tag that ends every record.
pub(crate) const TAG: [u8; 16] = *b"(not encrypted!)";

/// The TLS 1.3 suite.
static TLS13: Tls13CipherSuite = Tls13CipherSuite {
    common: CipherSuiteCommon {
        suite: TLS13_SUITE,
        hash_provider: &FixedHash,
        confidentiality_limit: u64::MAX,
    },
    hkdf_provider: &HKDF,
    aead_alg: &PlaintextAead,
    quic: None,
};

/// The suites, TLS 1.3 first.
pub(crate) fn suites() -> Vec<SupportedCipherSuite> {
    vec![
        SupportedCipherSuite::Tls13(&TLS13),
        #[cfg(feature = "tls12")]
        SupportedCipherSuite::Tls12(&tls12::SUITE),
    ]
}

/// Seals a record: `plaintext || trailer || TAG`, where the trailer is TLS 1.3's inner
/// content type (empty for TLS 1.2).
fn seal(msg: &OutboundPlainMessage<'_>, trailer: &[u8]) -> PrefixedPayload {
    let mut payload = PrefixedPayload::with_capacity(msg.payload.len() + trailer.len() + TAG.len());
    payload.extend_from_chunks(&msg.payload);
    payload.extend_from_slice(trailer);
    payload.extend_from_slice(&TAG);
    payload
}

/// Checks and strips the tag of a received record.
fn open(msg: &mut InboundOpaqueMessage<'_>) -> Result<(), Error> {
    let len = msg.payload.len();
    if len < TAG.len() || msg.payload[len - TAG.len()..] != TAG {
        return Err(Error::DecryptError);
    }
    msg.payload.truncate(len - TAG.len());
    Ok(())
}

/// The TLS 1.3 "AEAD": plaintext and a fixed tag.
struct PlaintextAead;

impl Tls13AeadAlgorithm for PlaintextAead {
    fn encrypter(&self, _key: AeadKey, _iv: Iv) -> Box<dyn MessageEncrypter> {
        Box::new(Tls13Plaintext)
    }

    fn decrypter(&self, _key: AeadKey, _iv: Iv) -> Box<dyn MessageDecrypter> {
        Box::new(Tls13Plaintext)
    }

    fn key_len(&self) -> usize {
        16
    }

    fn extract_keys(
        &self,
        _key: AeadKey,
        _iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Err(UnsupportedOperationError)
    }
}

struct Tls13Plaintext;

impl MessageEncrypter for Tls13Plaintext {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        _seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let payload = seal(&msg, &msg.typ.to_array());
        // As every TLS 1.3 record: application data, legacy version 1.2 (RFC 8446, 5.1).
        Ok(OutboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            payload,
        ))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG.len()
    }
}

impl MessageDecrypter for Tls13Plaintext {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        _seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        open(&mut msg)?;
        msg.into_tls13_unpadded_message()
    }
}

#[cfg(feature = "tls12")]
mod tls12 {
    use rustls::crypto::CipherSuiteCommon;
    use rustls::crypto::KeyExchangeAlgorithm;
    use rustls::crypto::cipher::{
        AeadKey, InboundOpaqueMessage, InboundPlainMessage, KeyBlockShape, MessageDecrypter,
        MessageEncrypter, OutboundOpaqueMessage, OutboundPlainMessage, Tls12AeadAlgorithm,
        UnsupportedOperationError,
    };
    use rustls::{ConnectionTrafficSecrets, Error, SignatureScheme, Tls12CipherSuite};

    use super::{TAG, TLS12_SUITE, open, seal};
    use crate::fuzzing::hash::{FixedHash, PRF};
    use crate::fuzzing::sign::TLS12_SCHEME;

    /// The scheme the TLS 1.2 suite signs with (see `sign` for why it is Ed25519's).
    static SIGN: [SignatureScheme; 1] = [TLS12_SCHEME];

    /// The largest plaintext of a record (RFC 5246, 6.2.1).
    const MAX_FRAGMENT_LEN: usize = 16384;

    pub(super) static SUITE: Tls12CipherSuite = Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: TLS12_SUITE,
            hash_provider: &FixedHash,
            confidentiality_limit: u64::MAX,
        },
        prf_provider: &PRF,
        kx: KeyExchangeAlgorithm::ECDHE,
        sign: &SIGN,
        aead_alg: &PlaintextAead12,
    };

    struct PlaintextAead12;

    impl Tls12AeadAlgorithm for PlaintextAead12 {
        fn encrypter(&self, _key: AeadKey, _iv: &[u8], _extra: &[u8]) -> Box<dyn MessageEncrypter> {
            Box::new(Tls12Plaintext)
        }

        fn decrypter(&self, _key: AeadKey, _iv: &[u8]) -> Box<dyn MessageDecrypter> {
            Box::new(Tls12Plaintext)
        }

        fn key_block_shape(&self) -> KeyBlockShape {
            KeyBlockShape {
                enc_key_len: 16,
                fixed_iv_len: 12,
                explicit_nonce_len: 0,
            }
        }

        fn extract_keys(
            &self,
            _key: AeadKey,
            _iv: &[u8],
            _explicit: &[u8],
        ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
            Err(UnsupportedOperationError)
        }
    }

    struct Tls12Plaintext;

    impl MessageEncrypter for Tls12Plaintext {
        fn encrypt(
            &mut self,
            msg: OutboundPlainMessage<'_>,
            _seq: u64,
        ) -> Result<OutboundOpaqueMessage, Error> {
            let payload = seal(&msg, &[]);
            Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
        }

        fn encrypted_payload_len(&self, payload_len: usize) -> usize {
            payload_len + TAG.len()
        }
    }

    impl MessageDecrypter for Tls12Plaintext {
        fn decrypt<'a>(
            &mut self,
            mut msg: InboundOpaqueMessage<'a>,
            _seq: u64,
        ) -> Result<InboundPlainMessage<'a>, Error> {
            open(&mut msg)?;
            if msg.payload.len() > MAX_FRAGMENT_LEN {
                return Err(Error::PeerSentOversizedRecord);
            }
            Ok(msg.into_plain_message())
        }
    }
}
