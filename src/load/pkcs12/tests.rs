//! The PKCS#12 reader: real archives written by p12-keystore, and archives crafted with
//! any key derivation parameters, to show that every derivation p12-keystore would run
//! is checked against the limits before it runs.

use std::time::{Duration, Instant};

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use pkcs5::der::asn1::{Any, ContextSpecific, OctetString};
use pkcs5::der::{Encode, Tag, TagMode, TagNumber};
use pkcs5::pbes2::{self, Pbkdf2Params, Pbkdf2Prf, Salt, ScryptParams};
use pkcs12::cms::content_info::CmsVersion;
use pkcs12::cms::enveloped_data::EncryptedContentInfo;
use pkcs12::pfx::Version;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::PrivateKeyDer;

use super::*;
use crate::error::ErrorKind;

const PASSWORD: &str = "correct horse battery staple";

/// Root, intermediate and leaf certificates (DER) and the leaf's PKCS#8 key.
struct Pki {
    root: Vec<u8>,
    int: Vec<u8>,
    leaf: Vec<u8>,
    key: Vec<u8>,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

fn pki() -> Pki {
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params("test root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let int_key = KeyPair::generate().unwrap();
    let int_params = ca_params("test intermediate");
    let int = int_params.signed_by(&int_key, &root_issuer).unwrap();
    let int_issuer = Issuer::new(int_params, int_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &int_issuer).unwrap();
    Pki {
        root: root.der().to_vec(),
        int: int.der().to_vec(),
        leaf: leaf.der().to_vec(),
        key: leaf_key.serialize_der(),
    }
}

/// A PKCS#12 archive (PBES2, HMAC-SHA256 MAC) holding `certs`, the first claiming the
/// key, in this order.
fn archive(key: Option<&[u8]>, certs: &[&[u8]]) -> Vec<u8> {
    let certs: Vec<Certificate> = certs
        .iter()
        .map(|der| Certificate::from_der(der).unwrap())
        .collect();
    let mut store = KeyStore::new();
    match key {
        Some(key) => {
            let key = PrivateKey::from_der(key).unwrap();
            let chain = PrivateKeyChain::new(&b"key-1"[..], key, certs);
            store.add_entry("server", KeyStoreEntry::PrivateKeyChain(chain));
        }
        None => {
            for (i, cert) in certs.into_iter().enumerate() {
                store.add_entry(&format!("ca-{i}"), KeyStoreEntry::Certificate(cert));
            }
        }
    }
    store
        .writer(PASSWORD)
        .encryption_iterations(1000)
        .mac_iterations(1000)
        .write()
        .unwrap()
}

fn load_error(der: &[u8], password: &str) -> String {
    let err = parse_pkcs12(der, password, "id.p12").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
    let message = err.to_string();
    assert!(message.starts_with("id.p12: "), "{message}");
    message
}

#[test]
fn reads_chain_leaf_first_and_key() {
    let pki = pki();
    // Stored out of order: leaf, root, intermediate.
    let p12 = archive(Some(&pki.key), &[&pki.leaf, &pki.root, &pki.int]);
    let (chain, key) = parse_pkcs12(&p12, PASSWORD, "id.p12").unwrap();
    let chain: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
    assert_eq!(chain, [&pki.leaf[..], &pki.int[..], &pki.root[..]]);
    match key {
        PrivateKeyDer::Pkcs8(key) => assert_eq!(key.secret_pkcs8_der(), &pki.key[..]),
        other => panic!("not PKCS#8: {other:?}"),
    }
}

#[test]
fn wrong_or_empty_password_is_a_load_error() {
    let pki = pki();
    let p12 = archive(Some(&pki.key), &[&pki.leaf, &pki.int]);
    for password in ["wrong", ""] {
        let message = load_error(&p12, password);
        assert!(message.contains("wrong"), "{message}");
    }
}

#[test]
fn archive_without_key_is_a_load_error() {
    let pki = pki();
    let message = load_error(&archive(None, &[&pki.root]), PASSWORD);
    assert!(message.contains("no private key"), "{message}");
}

#[test]
fn garbage_is_a_load_error() {
    let pki = pki();
    let p12 = archive(Some(&pki.key), &[&pki.leaf]);
    for input in [&b""[..], b"garbage", &pki.leaf, &p12[..p12.len() / 2]] {
        load_error(input, PASSWORD);
    }
}

// ---- the MAC ----

/// `p12` with its MAC's iteration count replaced by the INTEGER `count` (DER, any size).
fn with_mac_count(p12: &[u8], count: &[u8]) -> Vec<u8> {
    let pfx = Pfx::from_der(p12).unwrap();
    let mac = pfx.mac_data.unwrap();
    let mac = seq(&[der(&mac.mac), der(&mac.mac_salt), count.to_vec()]);
    seq(&[der(&pfx.version), der(&pfx.auth_safe), mac])
}

#[test]
fn mac_iteration_bomb_is_refused_before_deriving() {
    let pki = pki();
    let p12 = archive(Some(&pki.key), &[&pki.leaf]);
    let started = Instant::now();
    let message = load_error(&with_mac_count(&p12, &der(&i32::MAX)), PASSWORD);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        message.contains("mac iteration count 2147483647 exceeds the limit"),
        "{message}"
    );
    let negative = load_error(&with_mac_count(&p12, &der(&-1i32)), PASSWORD);
    assert!(
        negative.contains("mac iteration count -1 is negative"),
        "{negative}"
    );
    // Too large for the decoder (and for p12-keystore's, which is the same): not read.
    let huge = [0x02, 0x09, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0];
    let message = load_error(&with_mac_count(&p12, &huge), PASSWORD);
    assert!(message.contains("not a PKCS#12 archive"), "{message}");
    // The same archive re-encoded with its own count still reads.
    let same = with_mac_count(&p12, &der(&1000i32));
    assert!(parse_pkcs12(&same, PASSWORD, "id.p12").is_ok());
}

#[test]
fn derivations_of_a_real_archive_are_read() {
    let pki = pki();
    let p12 = archive(Some(&pki.key), &[&pki.leaf]);
    let kdfs = derivations(&Pfx::from_der(&p12).unwrap()).unwrap();
    let mac = Kdf::Iterated {
        what: "mac",
        iterations: 1000,
    };
    let pbkdf2 = Kdf::Iterated {
        what: "pbkdf2",
        iterations: 1000,
    };
    // The MAC, the certificates' encrypted content and the shrouded key bag.
    assert_eq!(kdfs, [mac, pbkdf2, pbkdf2]);
    // A MAC's count may be left out: it is then 1.
    let default_count = with_mac_count(&p12, &[]);
    let kdfs = derivations(&Pfx::from_der(&default_count).unwrap()).unwrap();
    assert_eq!(
        kdfs[0],
        Kdf::Iterated {
            what: "mac",
            iterations: 1
        }
    );
}

// ---- key derivation limits, on archives crafted with any parameters ----

fn der(value: &impl Encode) -> Vec<u8> {
    value.to_der().unwrap()
}

fn any(der: &[u8]) -> Any {
    Any::from_der(der).unwrap()
}

/// A SEQUENCE of these DER parts, for shapes no type here encodes.
fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(&Any::new(Tag::Sequence, parts.concat()).unwrap())
}

fn salt() -> Salt {
    Salt::new([7; 16]).unwrap()
}

/// An AlgorithmIdentifier: PBES2 with this derivation and AES-256-CBC.
fn pbes2_with(kdf: pbes2::Kdf) -> AlgorithmIdentifierOwned {
    let params = pbes2::Parameters {
        kdf,
        encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: [9; 16] },
    };
    AlgorithmIdentifierOwned {
        oid: pbes2::PBES2_OID,
        parameters: Some(any(&der(&params))),
    }
}

fn scrypt(n: u64, r: u16, p: u16) -> AlgorithmIdentifierOwned {
    pbes2_with(pbes2::Kdf::Scrypt(ScryptParams {
        salt: salt(),
        cost_parameter: n,
        block_size: r,
        parallelization: p,
        key_length: None,
    }))
}

fn pbkdf2(iterations: u32) -> AlgorithmIdentifierOwned {
    pbes2_with(pbes2::Kdf::Pbkdf2(Pbkdf2Params {
        salt: salt(),
        iteration_count: iterations,
        key_length: None,
        prf: Pbkdf2Prf::HmacWithSha1,
    }))
}

/// An AlgorithmIdentifier: pbeWithSHAAnd3-KeyTripleDES-CBC.
fn pkcs12_3des(iterations: i32) -> AlgorithmIdentifierOwned {
    let params = Pkcs12PbeParams {
        salt: OctetString::new([7; 8]).unwrap(),
        iterations,
    };
    AlgorithmIdentifierOwned {
        oid: pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC,
        parameters: Some(any(&der(&params))),
    }
}

/// An encrypted key under `algorithm`, with junk for the ciphertext.
fn encrypted_key(algorithm: AlgorithmIdentifierOwned) -> Vec<u8> {
    der(&EncryptedPrivateKeyInfo {
        encryption_algorithm: algorithm,
        encrypted_data: OctetString::new([0x55; 48]).unwrap(),
    })
}

/// A shrouded key bag under `algorithm`.
fn shrouded(algorithm: AlgorithmIdentifierOwned) -> SafeBag {
    SafeBag {
        bag_id: pkcs12::PKCS_12_PKCS8_KEY_BAG_OID,
        bag_value: encrypted_key(algorithm),
        bag_attributes: None,
    }
}

/// A secret bag holding an encrypted key under `algorithm`, as Java writes them.
fn secret(algorithm: AlgorithmIdentifierOwned) -> SafeBag {
    let value = ContextSpecific {
        tag_number: TagNumber(0),
        tag_mode: TagMode::Explicit,
        value: OctetString::new(encrypted_key(algorithm)).unwrap(),
    };
    SafeBag {
        bag_id: pkcs12::PKCS_12_SECRET_BAG_OID,
        bag_value: seq(&[der(&pkcs12::PKCS_12_PKCS8_KEY_BAG_OID), der(&value)]),
        bag_attributes: None,
    }
}

/// An unencrypted content holding `items` (bags, or contents for the authSafe).
fn data_content<T: Encode>(items: &[T]) -> ContentInfo {
    ContentInfo {
        content_type: ID_DATA,
        content: any(&der(&OctetString::new(seq(&items
            .iter()
            .map(der)
            .collect::<Vec<_>>()))
        .unwrap())),
    }
}

/// An encrypted content under `algorithm`, with junk for the ciphertext.
fn encrypted_content(algorithm: AlgorithmIdentifierOwned) -> ContentInfo {
    let data = EncryptedData {
        version: CmsVersion::V0,
        enc_content_info: EncryptedContentInfo {
            content_type: ID_DATA,
            content_enc_alg: algorithm,
            encrypted_content: Some(OctetString::new([0x55; 48]).unwrap()),
        },
        unprotected_attrs: None,
    };
    ContentInfo {
        content_type: ID_ENCRYPTED_DATA,
        content: any(&der(&data)),
    }
}

/// A PFX without a MAC holding `contents`: p12-keystore goes straight to decrypting.
fn pfx_of(contents: &[ContentInfo]) -> Vec<u8> {
    der(&Pfx {
        version: Version::V3,
        auth_safe: data_content(contents),
        mac_data: None,
    })
}

#[test]
fn crafted_archives_within_the_limits_reach_decryption() {
    // The control for the test below: these archives are read by p12-keystore, which
    // derives the key and fails to decrypt the junk.
    for p12 in [
        pfx_of(&[data_content(&[shrouded(scrypt(1 << 10, 8, 1))])]),
        pfx_of(&[encrypted_content(pbkdf2(1000))]),
        pfx_of(&[data_content(&[shrouded(pkcs12_3des(1000))])]),
    ] {
        let message = load_error(&p12, PASSWORD);
        assert!(message.contains("wrong password"), "{message}");
    }
}

#[test]
fn key_derivation_bombs_are_refused_before_deriving() {
    let too_many: Vec<SafeBag> = (0..5).map(|_| shrouded(pbkdf2(1_000_000))).collect();
    let cases = [
        (
            // 256 MiB: p12-keystore alone would derive it.
            pfx_of(&[data_content(&[shrouded(scrypt(1 << 21, 1, 1))])]),
            "scrypt cost parameter N = 2097152 exceeds the limit",
        ),
        (
            // p = 16: p12-keystore alone would derive it, 16 times.
            pfx_of(&[data_content(&[shrouded(scrypt(1 << 17, 8, 16))])]),
            "scrypt work N * r * p = 16777216 exceeds the limit",
        ),
        (
            pfx_of(&[encrypted_content(scrypt(1 << 21, 1, 1))]),
            "scrypt cost parameter N = 2097152",
        ),
        (
            pfx_of(&[data_content(&[secret(scrypt(1 << 21, 1, 1))])]),
            "scrypt cost parameter N = 2097152",
        ),
        (
            pfx_of(&[encrypted_content(pbkdf2(2_000_000))]),
            "pbkdf2 iteration count 2000000 exceeds the limit (1000000)",
        ),
        (
            pfx_of(&[data_content(&[shrouded(pkcs12_3des(2_000_000))])]),
            "pkcs#12 key derivation iteration count 2000000 exceeds the limit",
        ),
        (
            pfx_of(&[data_content(&[shrouded(pkcs12_3des(0))])]),
            "pkcs#12 key derivation iteration count 0 is invalid",
        ),
        (
            pfx_of(&[data_content(&[shrouded(pkcs12_3des(-5))])]),
            "pkcs#12 key derivation iteration count -5 is negative",
        ),
        (
            // Each within the limit, five together beyond it.
            pfx_of(&[data_content(&too_many)]),
            "the key derivations ask for 5000000 iterations in all",
        ),
    ];
    for (p12, expected) in cases {
        let started = Instant::now();
        let err = crate::Identity::from_pkcs12(&p12, PASSWORD).unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::Load, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(
            took < Duration::from_millis(500),
            "{expected}: took {took:?}"
        );
    }
}

#[test]
fn unreadable_derivation_parameters_are_refused() {
    let with_kdf = |kdf: Vec<u8>| {
        let aes = AlgorithmIdentifierOwned {
            oid: pbes2::AES_256_CBC_OID,
            parameters: Some(any(&der(&OctetString::new([9; 16]).unwrap()))),
        };
        AlgorithmIdentifierOwned {
            oid: pbes2::PBES2_OID,
            parameters: Some(any(&seq(&[kdf, der(&aes)]))),
        }
    };
    let salt = der(&OctetString::new([7; 16]).unwrap());
    // scrypt without r and p.
    let truncated_scrypt = seq(&[
        der(&pbes2::SCRYPT_OID),
        seq(&[salt.clone(), der(&(1u64 << 14))]),
    ]);
    let negative_count = seq(&[der(&pbes2::PBKDF2_OID), seq(&[salt, der(&-1i32)])]);
    for kdf in [truncated_scrypt, negative_count] {
        let p12 = pfx_of(&[data_content(&[shrouded(with_kdf(kdf))])]);
        let err = parse_pkcs12(&p12, PASSWORD, "id.p12").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("unreadable key derivation"), "{message}");
        let source = std::error::Error::source(&err).expect("the decoder's error");
        assert!(source.is::<der::Error>(), "{source:?}");
    }
}
