//! Password-protected private keys: PKCS#8 `EncryptedPrivateKeyInfo` (`ENCRYPTED PRIVATE
//! KEY` in PEM), as written by `openssl pkcs8 -topk8` and `openssl genpkey -aes256`.
//!
//! Supported: PBES2 with PBKDF2 (HMAC-SHA1, -SHA224, -SHA256, -SHA384, -SHA512) or scrypt,
//! and AES-128/192/256-CBC, AES-128/256-GCM or 3DES-CBC. Not supported: PBES1 (`openssl
//! pkcs8 -v1 ...`, and OpenSSL 1.0's default), single DES, and OpenSSL's traditional
//! `Proc-Type: 4,ENCRYPTED` PEM (`RSA PRIVATE KEY` or `EC PRIVATE KEY` with a `DEK-Info`
//! header).
//!
//! The key derivation parameters come from the file, so they are checked against the
//! limits of [`super::kdf`] before any derivation: a hostile file cannot make a load take
//! minutes or gigabytes. The decrypted key is cleared from memory when dropped, on error
//! paths too.

use pkcs5::der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use pkcs5::der::{Decode, Reader, SliceReader};
use pkcs5::{EncryptionScheme, pbes1, pbes2};
use pkcs8::spki::AlgorithmIdentifier;
use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use super::kdf::{self, Kdf};
use super::{find, is_pem, load, load_because};
use crate::error::{Error, Result};

const PEM_BEGIN: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";
const PEM_END: &[u8] = b"-----END ENCRYPTED PRIVATE KEY-----";

/// Decrypts an `ENCRYPTED PRIVATE KEY` (PKCS#8 EncryptedPrivateKeyInfo), PEM or DER.
///
/// PEM input may hold other sections (a certificate, say) around the key's. The key
/// derivation parameters are checked against the limits above before any derivation. A
/// wrong password, an empty one where the key has a password, and a corrupt key all give
/// the same "wrong password or corrupt key" error: the format cannot tell them apart.
pub(crate) fn decrypt_pkcs8(
    bytes: &[u8],
    password: &str,
    origin: &str,
) -> Result<PrivateKeyDer<'static>> {
    let der_buf;
    let der: &[u8] = if is_pem(bytes) {
        der_buf = pem_section(bytes, origin)?;
        &der_buf
    } else {
        bytes
    };
    let info = parse(der, origin)?;
    let params = match &info.encryption_algorithm {
        EncryptionScheme::Pbes2(params) => params,
        EncryptionScheme::Pbes1(alg) => return Err(pbes1_refused(origin, &alg.oid())),
        _ => return Err(load(origin, "the key's encryption scheme is not supported")),
    };
    let Some(derivation) = Kdf::from_pbes2(&params.kdf) else {
        return Err(load(
            origin,
            "the key's key derivation function is not supported",
        ));
    };
    kdf::check_all(&[derivation]).map_err(|why| load(origin, &why))?;
    let mut plain = params
        .decrypt(password, info.encrypted_data.as_bytes())
        .map(Zeroizing::new)
        .map_err(|e| match e {
            // Bad padding, what a wrong password gives.
            pkcs5::Error::DecryptFailed => wrong_password(origin, password, None),
            other => load_because(origin, "cannot decrypt the private key", other),
        })?;
    // A wrong password usually breaks the padding, but 1 time in 256 or so the padding
    // happens to check out: the plaintext must then be a whole PrivateKeyInfo.
    if let Err(e) = PrivateKeyInfoRef::from_der(&plain) {
        return Err(wrong_password(origin, password, Some(e)));
    }
    // Moved, not copied: the key's own storage is cleared by `Identity` on drop.
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        std::mem::take(&mut *plain),
    )))
}

/// The DER inside the `ENCRYPTED PRIVATE KEY` section of a PEM file.
///
/// The Base64 body is rewrapped at 64 columns first, so that CRLF line ends, trailing
/// blanks and other line lengths (76 is common) decode too.
fn pem_section(bytes: &[u8], origin: &str) -> Result<Vec<u8>> {
    let Some(start) = find(bytes, PEM_BEGIN) else {
        return Err(not_encrypted_pem(bytes, origin));
    };
    let body_start = start + PEM_BEGIN.len();
    let Some(body_end) = find(&bytes[body_start..], PEM_END).map(|i| body_start + i) else {
        return Err(load(
            origin,
            "malformed PEM: no -----END ENCRYPTED PRIVATE KEY----- line",
        ));
    };
    let body: Vec<u8> = bytes[body_start..body_end]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut pem = Vec::with_capacity(body.len() + body.len() / 64 + 2 * PEM_END.len() + 4);
    pem.extend_from_slice(PEM_BEGIN);
    pem.push(b'\n');
    for line in body.chunks(64) {
        pem.extend_from_slice(line);
        pem.push(b'\n');
    }
    pem.extend_from_slice(PEM_END);
    pem.push(b'\n');
    let (_, der) = pkcs5::der::pem::decode_vec(&pem).map_err(|e| {
        load_because(
            origin,
            "malformed PEM in the ENCRYPTED PRIVATE KEY section",
            e,
        )
    })?;
    Ok(der)
}

/// The error for PEM without an `ENCRYPTED PRIVATE KEY` section.
fn not_encrypted_pem(bytes: &[u8], origin: &str) -> Error {
    let has = |needle: &[u8]| find(bytes, needle).is_some();
    if has(b"Proc-Type: 4,ENCRYPTED") || has(b"DEK-Info:") {
        load(
            origin,
            "the key uses OpenSSL's traditional PEM encryption (DEK-Info), which is not \
             supported; convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
        )
    } else if has(b"PRIVATE KEY-----") {
        load(
            origin,
            "the private key is not encrypted: load it without a password",
        )
    } else {
        load(origin, "no ENCRYPTED PRIVATE KEY section found")
    }
}

/// Parses an EncryptedPrivateKeyInfo, telling an unencrypted key, an unsupported
/// algorithm and plain garbage apart.
fn parse<'a>(der: &'a [u8], origin: &str) -> Result<EncryptedPrivateKeyInfoRef<'a>> {
    let err = match EncryptedPrivateKeyInfoRef::from_der(der) {
        Ok(info) => return Ok(info),
        Err(e) => e,
    };
    if der.is_empty() {
        return Err(load(origin, "empty: no private key found"));
    }
    if PrivateKeyInfoRef::from_der(der).is_ok() {
        return Err(load(
            origin,
            "the private key is not encrypted: load it without a password",
        ));
    }
    let what = match encryption_oid(der) {
        Some(oid) if oid == pbes2::PBES2_OID => {
            "the key is encrypted with PBES2 and a key derivation function, pseudorandom \
             function or cipher that is not supported; supported: PBKDF2 (HMAC-SHA1 or \
             SHA-2) or scrypt, with AES-CBC, AES-GCM or 3DES-CBC"
                .to_owned()
        }
        Some(oid) if PBES1.contains(&oid) => return Err(pbes1_refused(origin, &oid)),
        Some(oid) => format!(
            "the key is encrypted with an unsupported algorithm ({oid}); supported: PBES2 \
             with PBKDF2 or scrypt and AES or 3DES"
        ),
        None => "not an encrypted PKCS#8 private key".to_owned(),
    };
    Err(load_because(origin, &what, err))
}

/// The algorithm OID of `der` when it has the shape `SEQUENCE { SEQUENCE { OID, ANY },
/// OCTET STRING }` of an EncryptedPrivateKeyInfo, whatever the algorithm.
fn encryption_oid(der: &[u8]) -> Option<ObjectIdentifier> {
    let mut reader = SliceReader::new(der).ok()?;
    let oid = reader
        .sequence(|seq| {
            let alg: AlgorithmIdentifier<AnyRef<'_>> = seq.decode()?;
            let _data: &OctetStringRef = seq.decode()?;
            Ok::<_, pkcs5::der::Error>(alg.oid)
        })
        .ok()?;
    reader.finish().ok()?;
    Some(oid)
}

/// The password-based schemes older than PBES2, which OpenSSL's `-v1` writes: PKCS#5
/// PBES1 and the PKCS#12 schemes (pkcs-12PbeIds, 1.2.840.113549.1.12.1.1 to .6).
const PBES1: [ObjectIdentifier; 12] = [
    pbes1::PBE_WITH_MD2_AND_DES_CBC_OID,
    pbes1::PBE_WITH_MD2_AND_RC2_CBC_OID,
    pbes1::PBE_WITH_MD5_AND_DES_CBC_OID,
    pbes1::PBE_WITH_MD5_AND_RC2_CBC_OID,
    pbes1::PBE_WITH_SHA1_AND_DES_CBC_OID,
    pbes1::PBE_WITH_SHA1_AND_RC2_CBC_OID,
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.1"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.2"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.4"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.5"),
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6"),
];

fn pbes1_refused(origin: &str, oid: &ObjectIdentifier) -> Error {
    load(
        origin,
        &format!(
            "the key is encrypted with PBES1 ({oid}), which is not supported; re-encrypt it \
             with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
        ),
    )
}

fn wrong_password(origin: &str, password: &str, cause: Option<pkcs5::der::Error>) -> Error {
    let what = if password.is_empty() {
        "cannot decrypt the private key: the password is empty, wrong, or the key is corrupt"
    } else {
        "cannot decrypt the private key: wrong password or corrupt key"
    };
    match cause {
        Some(e) => load_because(origin, what, e),
        None => load(origin, what),
    }
}

#[cfg(test)]
mod tests;
