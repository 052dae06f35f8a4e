//! Encrypted PKCS#8 keys: what decrypts, and what is refused before any key derivation.

use std::time::{Duration, Instant};

use pkcs5::der::asn1::{Any, ObjectIdentifier, OctetStringRef};
use pkcs5::der::pem::LineEnding;
use pkcs5::der::{Encode, Tag};
use pkcs5::pbes2::{self, Kdf, Pbkdf2Prf, Salt, ScryptParams};
use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use rustls::pki_types::PrivateKeyDer;

use super::decrypt_pkcs8;
use crate::error::ErrorKind;

const PASSWORD: &str = "correct horse battery staple";
const SALT: [u8; 16] = [7; 16];
const IV: [u8; 16] = [9; 16];

fn plain_key() -> Vec<u8> {
    rcgen::KeyPair::generate().unwrap().serialize_der()
}

fn encrypt(plain: &[u8], params: pbes2::Parameters) -> Vec<u8> {
    PrivateKeyInfoRef::try_from(plain)
        .unwrap()
        .encrypt_with_params(params, PASSWORD)
        .unwrap()
        .as_bytes()
        .to_vec()
}

fn pbkdf2(iterations: u32) -> pbes2::Parameters {
    pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(iterations, &SALT, IV).unwrap()
}

/// An EncryptedPrivateKeyInfo with these parameters and junk for the ciphertext:
/// nothing is derived to make it.
fn with_params(params: pbes2::Parameters) -> Vec<u8> {
    EncryptedPrivateKeyInfoRef {
        encryption_algorithm: params.into(),
        encrypted_data: OctetStringRef::new(&[0x55; 48]).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn pem(der: &[u8]) -> String {
    pkcs5::der::pem::encode_string("ENCRYPTED PRIVATE KEY", LineEnding::LF, der).unwrap()
}

fn decrypted(result: crate::error::Result<PrivateKeyDer<'static>>) -> Vec<u8> {
    match result.unwrap() {
        PrivateKeyDer::Pkcs8(key) => key.secret_pkcs8_der().to_vec(),
        other => panic!("not PKCS#8: {other:?}"),
    }
}

fn load_error(bytes: &[u8], password: &str) -> String {
    let err = decrypt_pkcs8(bytes, password, "key.pem").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
    let message = err.to_string();
    assert!(message.starts_with("key.pem: "), "{message}");
    message
}

#[test]
fn decrypts_pbkdf2_aes_der_and_pem() {
    let plain = plain_key();
    let der = encrypt(&plain, pbkdf2(1000));
    assert_eq!(decrypted(decrypt_pkcs8(&der, PASSWORD, "key.der")), plain);

    let pem = pem(&der);
    let crlf = pem.replace('\n', "\r\n");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let wrapped_76 = format!(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n",
        body.as_bytes()
            .chunks(76)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let with_text =
        format!("a comment\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n{pem}");
    for input in [pem, crlf, wrapped_76, with_text] {
        assert_eq!(
            decrypted(decrypt_pkcs8(input.as_bytes(), PASSWORD, "key.pem")),
            plain
        );
    }
}

#[test]
fn decrypts_aes128_aes_gcm_and_scrypt() {
    let plain = plain_key();
    let aes128 = pbes2::Parameters::generate_pbkdf2_sha256_aes128cbc(1000, &SALT, IV).unwrap();
    assert_eq!(
        decrypted(decrypt_pkcs8(&encrypt(&plain, aes128), PASSWORD, "k")),
        plain
    );
    let cost = pkcs5::scrypt::Params::new(10, 8, 1).unwrap();
    let scrypt = pbes2::Parameters::generate_scrypt_aes256cbc(cost, &SALT, IV).unwrap();
    assert_eq!(
        decrypted(decrypt_pkcs8(&encrypt(&plain, scrypt), PASSWORD, "k")),
        plain
    );
    let gcm = pbes2::Parameters::scrypt_aes256gcm(cost, &SALT, [9; 12]).unwrap();
    assert_eq!(
        decrypted(decrypt_pkcs8(&encrypt(&plain, gcm), PASSWORD, "k")),
        plain
    );
    let gcm = encrypt(
        &plain,
        pbes2::Parameters::scrypt_aes256gcm(cost, &SALT, [9; 12]).unwrap(),
    );
    let message = load_error(&gcm, "wrong");
    assert!(message.contains("wrong password"), "{message}");
}

#[test]
fn wrong_or_empty_password_is_a_load_error() {
    let der = encrypt(&plain_key(), pbkdf2(1000));
    for password in ["wrong", "correct horse battery stapl", ""] {
        let message = load_error(&der, password);
        assert!(message.contains("wrong"), "{message}");
    }
}

#[test]
fn pbkdf2_iteration_bomb_is_refused_before_deriving() {
    let started = Instant::now();
    let message = load_error(&with_params(pbkdf2(10_000_000)), PASSWORD);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        message.contains("pbkdf2 iteration count 10000000 exceeds the limit"),
        "{message}"
    );
    let mut sha1 = pbkdf2(1_000_001);
    if let Kdf::Pbkdf2(p) = &mut sha1.kdf {
        p.prf = Pbkdf2Prf::HmacWithSha1;
    }
    let message = load_error(&pem(&with_params(sha1)).into_bytes(), PASSWORD);
    assert!(message.contains("1000001 exceeds the limit"), "{message}");
}

#[test]
fn scrypt_cost_bombs_are_refused_before_deriving() {
    let cases: [(u64, u16, u16, &str); 4] = [
        (
            1 << 21,
            8,
            1,
            "scrypt cost parameter N = 2097152 exceeds the limit",
        ),
        (1 << 14, 1024, 1, "scrypt memory cost"),
        (1 << 14, 8, 1024, "scrypt work"),
        (1000, 8, 1, "invalid scrypt parameters"),
    ];
    for (n, r, p, expected) in cases {
        let params = pbes2::Parameters {
            kdf: Kdf::Scrypt(ScryptParams {
                salt: Salt::new(SALT).unwrap(),
                cost_parameter: n,
                block_size: r,
                parallelization: p,
                key_length: None,
            }),
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: IV },
        };
        let started = Instant::now();
        let message = load_error(&with_params(params), PASSWORD);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn unencrypted_keys_and_garbage_are_refused() {
    let plain = plain_key();
    let plain_pem = pkcs5::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &plain).unwrap();
    for input in [&plain[..], plain_pem.as_bytes()] {
        let message = load_error(input, PASSWORD);
        assert!(message.contains("not encrypted"), "{message}");
    }
    let traditional = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                       DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n\
                       -----END EC PRIVATE KEY-----\n";
    assert!(load_error(traditional.as_bytes(), PASSWORD).contains("DEK-Info"));
    for input in [
        &b""[..],
        b"garbage",
        b"\x30\x03\x02\x01\x00",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA",
    ] {
        load_error(input, PASSWORD);
    }
}

/// `SEQUENCE { SEQUENCE { oid, SEQUENCE { salt, 2048 } }, OCTET STRING }`.
fn pbes1_style(oid: &str) -> Vec<u8> {
    let oid = ObjectIdentifier::new_unwrap(oid);
    let salt = OctetStringRef::new(&SALT[..8]).unwrap();
    let params = [salt.to_der().unwrap(), 2048u32.to_der().unwrap()].concat();
    let alg = [oid.to_der().unwrap(), seq(&params)].concat();
    let data = OctetStringRef::new(&[0x55; 32]).unwrap().to_der().unwrap();
    seq(&[seq(&alg), data].concat())
}

fn seq(content: &[u8]) -> Vec<u8> {
    Any::new(Tag::Sequence, content).unwrap().to_der().unwrap()
}

#[test]
fn pbes1_is_refused_by_name() {
    // pbeWithSHA1AndDES-CBC (PKCS#5) and pbeWithSHAAnd3-KeyTripleDES-CBC (PKCS#12).
    for oid in ["1.2.840.113549.1.5.10", "1.2.840.113549.1.12.1.3"] {
        let message = load_error(&pbes1_style(oid), PASSWORD);
        assert!(message.contains("PBES1"), "{message}");
    }
    let message = load_error(&pbes1_style("1.2.3.4"), PASSWORD);
    assert!(
        message.contains("unsupported algorithm (1.2.3.4)"),
        "{message}"
    );
}
