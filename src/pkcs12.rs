//! PKCS#12 (`.p12`, `.pfx`) archives: a certificate chain and its private key under one
//! password.
//!
//! Reads what OpenSSL 3 writes by default (PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC, with
//! an HMAC-SHA256 MAC) and with `-legacy` (RC2-40-CBC and 3DES-CBC under the PKCS#12
//! key derivation, with an HMAC-SHA1 MAC). Archives with no MAC are read too (the
//! contents' encryption still needs the password). Not read: BER (indefinite-length)
//! encodings, bags under the PKCS#12 schemes other than 3DES and RC2-40 (RC4, RC2-128,
//! two-key 3DES), and public-key (rather than password) integrity or privacy modes.
//!
//! Key derivation limits: the archive's MAC, its encrypted contents and the shrouded key
//! (and secret) bags of its unencrypted contents each name a key derivation (PBKDF2,
//! scrypt, or the PKCS#12 KDF) with costs chosen by whoever wrote the file. They are read
//! here and checked against the limits of [`crate::kdf`] (the same as for PKCS#8 keys),
//! each and all together, before p12-keystore derives anything. Bags inside an
//! *encrypted* content can only be read once it is decrypted; for those p12-keystore's own
//! limits apply (1,000,000 iterations; scrypt memory up to 1 GiB and p up to 16). No tool
//! we know of writes such bags (OpenSSL, Windows, macOS and Java put the key in an
//! unencrypted content, in its own shrouded bag). Every error here is [`ErrorKind::Load`]
//! and names where the bytes came from.

use p12_keystore::error::Error as P12Error;
use p12_keystore::{CertificateBag, Pkcs12Archive, PrivateKeyBag};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::{Error, ErrorKind, Result};
use crate::kdf::{self, Kdf};

/// The certificate chain (leaf first) and private key in a PKCS#12 archive.
///
/// The key is the first one that a certificate claims through the `localKeyId` attribute
/// (any key when only one is present); its certificate comes first, then the certificates
/// that issued it, one by one up to a self-signed one, then every other certificate in the
/// archive in archive order. Whether the key really belongs to the leaf is not checked
/// here: `Identity` does that.
pub(crate) fn parse_pkcs12(
    der: &[u8],
    password: &str,
    origin: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let (mac, auth_safe) = match pfx(der) {
        Some(pfx) => pfx,
        None if der.is_empty() => return Err(load(origin, "empty: no PKCS#12 archive found")),
        None => {
            // The library's own decoder says why; its message is the better one.
            return Err(match Pkcs12Archive::from_pkcs12(der, password) {
                Err(e) => Error::with_source(
                    ErrorKind::Load,
                    format!("{origin}: not a PKCS#12 archive: {e}"),
                    e,
                ),
                Ok(_) => load(origin, "not a PKCS#12 archive"),
            });
        }
    };
    let mut kdfs = Vec::new();
    if let Mac::Present { iterations } = mac {
        kdfs.push(Kdf::Iterated {
            what: "mac",
            iterations,
        });
    }
    derivations(auth_safe, &mut kdfs).map_err(|what| load(origin, what))?;
    kdf::check_all(&kdfs).map_err(|why| load(origin, &why))?;
    let archive = Pkcs12Archive::from_pkcs12(der, password)
        .map_err(|e| archive_error(e, mac, password, origin))?;
    let (key, chain) = pick(archive, origin)?;
    Ok((chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key))))
}

/// Chooses the key and orders the chain: see [`parse_pkcs12`].
fn pick(archive: Pkcs12Archive, origin: &str) -> Result<(Vec<u8>, Vec<CertificateDer<'static>>)> {
    let Pkcs12Archive {
        keys, mut certs, ..
    } = archive;
    if keys.is_empty() {
        return Err(load(origin, "the archive holds no private key"));
    }
    if certs.is_empty() {
        return Err(load(origin, "the archive holds no certificate"));
    }
    let claimed = |key: &PrivateKeyBag| {
        key.local_key_id.as_ref().and_then(|id| {
            certs
                .iter()
                .position(|c| c.local_key_id.as_deref() == Some(id.as_ref()))
        })
    };
    let (key, leaf) = match keys.iter().find_map(|k| claimed(k).map(|c| (k, c))) {
        Some(found) => found,
        None if keys.len() == 1 => match leaf_by_position(&certs) {
            Some(leaf) => (&keys[0], leaf),
            None => return Err(load(origin, "cannot tell which certificate is the leaf")),
        },
        None => {
            return Err(load(
                origin,
                "the archive holds several private keys and no certificate names one of them \
                 (localKeyId)",
            ));
        }
    };
    let key = key.key.as_der().to_vec();

    let mut chain = vec![certs.remove(leaf)];
    loop {
        let last = &chain[chain.len() - 1];
        if last.cert.subject() == last.cert.issuer() {
            break;
        }
        let issuer = certs
            .iter()
            .position(|c| c.cert.subject() == last.cert.issuer());
        match issuer {
            Some(i) => chain.push(certs.remove(i)),
            None => break,
        }
    }
    chain.append(&mut certs);

    let mut ders: Vec<CertificateDer<'static>> = Vec::with_capacity(chain.len());
    for bag in chain {
        let der = bag.cert.as_der();
        if !ders.iter().any(|d| d.as_ref() == der) {
            ders.push(CertificateDer::from(der.to_vec()));
        }
    }
    Ok((key, ders))
}

/// With no `localKeyId` to go by, the leaf is the certificate that issued no other one
/// (when exactly one such certificate exists).
fn leaf_by_position(certs: &[CertificateBag]) -> Option<usize> {
    let issued_nothing = |c: &CertificateBag| {
        !certs
            .iter()
            .any(|o| o.cert.issuer() == c.cert.subject() && o.cert.as_der() != c.cert.as_der())
    };
    let mut leaves = certs.iter().enumerate().filter(|(_, c)| issued_nothing(c));
    match (leaves.next(), leaves.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

fn archive_error(err: P12Error, mac: Mac, password: &str, origin: &str) -> Error {
    let wrong = if password.is_empty() {
        "the password is empty, wrong, or the archive is corrupt"
    } else {
        "wrong password or corrupt archive"
    };
    let message = match &err {
        P12Error::MacError(_) => format!("{wrong} (mac verification failed)"),
        P12Error::UnpadError | P12Error::Pkcs5Error(_) | P12Error::InvalidPrivateKey => {
            format!("{wrong} (decryption failed)")
        }
        // A MAC-less archive decrypted with a wrong password gives garbage, not a
        // decryption error, 1 time in 256 or so.
        P12Error::DerError(e) if mac == Mac::Absent => format!("{wrong}: {e}"),
        P12Error::DerError(e) => format!("malformed PKCS#12 archive: {e}"),
        P12Error::InvalidParameters => format!(
            "a key derivation iteration count or scrypt cost in the archive exceeds the limit \
             ({} iterations), or its encryption parameters are invalid",
            kdf::MAX_ITERATIONS
        ),
        P12Error::UnsupportedEncryptionScheme
        | P12Error::UnsupportedMacAlgorithm
        | P12Error::UnsupportedContentType
        | P12Error::UnsupportedCertificateType
        | P12Error::InvalidVersion => format!("unsupported PKCS#12 archive: {err}"),
        P12Error::X509Error(e) => format!("a certificate in the archive is malformed: {e}"),
        other => format!("cannot read the PKCS#12 archive: {other}"),
    };
    Error::with_source(ErrorKind::Load, format!("{origin}: {message}"), err)
}

fn load(origin: &str, what: &str) -> Error {
    Error::new(ErrorKind::Load, format!("{origin}: {what}"))
}

/// Whether the archive has a MAC, and its iteration count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mac {
    Absent,
    Present { iterations: u64 },
}

/// Reads the outer `PFX ::= SEQUENCE { version INTEGER, authSafe ContentInfo, macData
/// MacData OPTIONAL }` and the iteration count in `MacData ::= SEQUENCE { mac DigestInfo,
/// macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }`: the MAC, and the contents of
/// `authSafe`; or `None` when `der` does not have that shape.
fn pfx(der: &[u8]) -> Option<(Mac, &[u8])> {
    let (pfx, rest) = tlv(der, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (_version, pfx) = tlv(pfx, INTEGER)?;
    let (auth_safe, pfx) = tlv(pfx, SEQUENCE)?;
    if pfx.is_empty() {
        return Some((Mac::Absent, auth_safe));
    }
    let (mac_data, rest) = tlv(pfx, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (_digest_info, mac_data) = tlv(mac_data, SEQUENCE)?;
    let (_salt, mac_data) = tlv(mac_data, OCTET_STRING)?;
    if mac_data.is_empty() {
        return Some((Mac::Present { iterations: 1 }, auth_safe));
    }
    let (count, _) = tlv(mac_data, INTEGER)?;
    let iterations = unsigned(count)?;
    Some((Mac::Present { iterations }, auth_safe))
}

/// The MAC of a PFX: see [`pfx`].
#[cfg(test)]
fn outer_mac(der: &[u8]) -> Option<Mac> {
    pfx(der).map(|(mac, _)| mac)
}

/// A non-negative DER INTEGER, big-endian, maybe with a leading zero byte; one too large
/// for a u64 is `u64::MAX` (simply too large). `None` when empty or negative.
fn unsigned(int: &[u8]) -> Option<u64> {
    let digits = int.strip_prefix(&[0]).unwrap_or(int);
    match int.first() {
        None => None,
        Some(first) if first & 0x80 != 0 => None,
        Some(_) if digits.len() > 8 => Some(u64::MAX),
        Some(_) => Some(digits.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))),
    }
}

// Object identifiers, as the contents of their DER encoding.
/// id-data, 1.2.840.113549.1.7.1.
const ID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
/// id-encryptedData, 1.2.840.113549.1.7.6.
const ID_ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
/// pkcs8ShroudedKeyBag, 1.2.840.113549.1.12.10.1.2.
const SHROUDED_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
];
/// secretBag, 1.2.840.113549.1.12.10.1.5.
const SECRET_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x05,
];
/// PBES2, 1.2.840.113549.1.5.13.
const PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
/// PBKDF2, 1.2.840.113549.1.5.12.
const PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
/// scrypt, 1.3.6.1.4.1.11591.4.11.
const SCRYPT: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
/// The PKCS#12 password-based encryption schemes, 1.2.840.113549.1.12.1.*.
const PKCS12_PBE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];

/// Why the parameters of a derivation p12-keystore would run cannot be read.
const MALFORMED: &str = "malformed PKCS#12 archive: unreadable key derivation parameters";

/// Adds to `kdfs` every key derivation p12-keystore will run for `auth_safe` (the
/// contents of the PFX's `ContentInfo`) that can be seen before decrypting anything: each
/// encrypted content's, and each shrouded key or secret bag's in an unencrypted content.
///
/// Fails where such a derivation's parameters cannot be read. What p12-keystore refuses
/// anyway (another content type, an unsupported scheme) is left for it to report.
fn derivations(auth_safe: &[u8], kdfs: &mut Vec<Kdf>) -> Result<(), &'static str> {
    // ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }, holding an
    // OCTET STRING that holds AuthenticatedSafe ::= SEQUENCE OF ContentInfo.
    let (content_type, content) = tlv(auth_safe, OID).ok_or(MALFORMED)?;
    if content_type != ID_DATA {
        return Ok(());
    }
    let (mut infos, _) = tlv(data(content).ok_or(MALFORMED)?, SEQUENCE).ok_or(MALFORMED)?;
    while !infos.is_empty() {
        let (info, rest) = tlv(infos, SEQUENCE).ok_or(MALFORMED)?;
        infos = rest;
        let (content_type, content) = tlv(info, OID).ok_or(MALFORMED)?;
        if content_type == ID_DATA {
            safe_contents(data(content).ok_or(MALFORMED)?, kdfs)?;
        } else if content_type == ID_ENCRYPTED_DATA {
            // [0] EXPLICIT EncryptedData ::= SEQUENCE { version INTEGER,
            //   EncryptedContentInfo ::= SEQUENCE { contentType OID,
            //   contentEncryptionAlgorithm AlgorithmIdentifier, .. } }
            let read = || {
                let (explicit, _) = tlv(content, EXPLICIT_0)?;
                let (encrypted_data, _) = tlv(explicit, SEQUENCE)?;
                let (_version, encrypted_data) = tlv(encrypted_data, INTEGER)?;
                let (info, _) = tlv(encrypted_data, SEQUENCE)?;
                let (_content_type, info) = tlv(info, OID)?;
                let (algorithm, _) = tlv(info, SEQUENCE)?;
                Some(algorithm)
            };
            algorithm(read().ok_or(MALFORMED)?, kdfs)?;
        }
    }
    Ok(())
}

/// The contents of the OCTET STRING in `[0] EXPLICIT OCTET STRING`.
fn data(content: &[u8]) -> Option<&[u8]> {
    let (explicit, _) = tlv(content, EXPLICIT_0)?;
    let (octets, _) = tlv(explicit, OCTET_STRING)?;
    Some(octets)
}

/// The derivations of the bags of `SafeContents ::= SEQUENCE OF SafeBag`, where
/// `SafeBag ::= SEQUENCE { bagId OID, bagValue [0] EXPLICIT ANY, bagAttributes SET
/// OPTIONAL }`.
fn safe_contents(contents: &[u8], kdfs: &mut Vec<Kdf>) -> Result<(), &'static str> {
    let (mut bags, _) = tlv(contents, SEQUENCE).ok_or(MALFORMED)?;
    while !bags.is_empty() {
        let (bag, rest) = tlv(bags, SEQUENCE).ok_or(MALFORMED)?;
        bags = rest;
        let (bag_id, value) = tlv(bag, OID).ok_or(MALFORMED)?;
        if bag_id == SHROUDED_KEY_BAG {
            // EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }
            let read = || {
                let (explicit, _) = tlv(value, EXPLICIT_0)?;
                let (info, _) = tlv(explicit, SEQUENCE)?;
                let (algorithm, _) = tlv(info, SEQUENCE)?;
                Some(algorithm)
            };
            algorithm(read().ok_or(MALFORMED)?, kdfs)?;
        } else if bag_id == SECRET_BAG {
            // SecretBag ::= SEQUENCE { secretTypeId OID, secretValue [0] EXPLICIT ANY }.
            // p12-keystore decrypts a secret value that is an OCTET STRING holding an
            // EncryptedPrivateKeyInfo, and ignores any other.
            let read = || {
                let (explicit, _) = tlv(value, EXPLICIT_0)?;
                let (secret, _) = tlv(explicit, SEQUENCE)?;
                let (_type, secret) = tlv(secret, OID)?;
                let (explicit, _) = tlv(secret, EXPLICIT_0)?;
                let (octets, _) = tlv(explicit, OCTET_STRING)?;
                let (info, _) = tlv(octets, SEQUENCE)?;
                let (algorithm, _) = tlv(info, SEQUENCE)?;
                Some(algorithm)
            };
            if let Some(found) = read() {
                algorithm(found, kdfs)?;
            }
        }
    }
    Ok(())
}

/// The derivation of an `AlgorithmIdentifier ::= SEQUENCE { OID, parameters }` (its
/// contents): PBES2 with PBKDF2 or scrypt, or a PKCS#12 scheme.
fn algorithm(algorithm: &[u8], kdfs: &mut Vec<Kdf>) -> Result<(), &'static str> {
    let (oid, params) = tlv(algorithm, OID).ok_or(MALFORMED)?;
    let kdf = if oid == PBES2 {
        // PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, .. }
        let read = || {
            let (params, _) = tlv(params, SEQUENCE)?;
            let (kdf, _) = tlv(params, SEQUENCE)?;
            tlv(kdf, OID)
        };
        let (kdf_oid, kdf_params) = read().ok_or(MALFORMED)?;
        if kdf_oid == PBKDF2 {
            // PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, .. }
            let read = || {
                let (params, _) = tlv(kdf_params, SEQUENCE)?;
                let (_salt, params) = tlv(params, OCTET_STRING)?;
                let (count, _) = tlv(params, INTEGER)?;
                unsigned(count)
            };
            Kdf::Iterated {
                what: "pbkdf2",
                iterations: read().ok_or(MALFORMED)?,
            }
        } else if kdf_oid == SCRYPT {
            // scrypt-params ::= SEQUENCE { salt OCTET STRING, costParameter INTEGER,
            //   blockSize INTEGER, parallelizationParameter INTEGER, .. }
            let read = || {
                let (params, _) = tlv(kdf_params, SEQUENCE)?;
                let (_salt, params) = tlv(params, OCTET_STRING)?;
                let (n, params) = tlv(params, INTEGER)?;
                let (r, params) = tlv(params, INTEGER)?;
                let (p, _) = tlv(params, INTEGER)?;
                Some(Kdf::Scrypt {
                    n: unsigned(n)?,
                    r: unsigned(r)?,
                    p: unsigned(p)?,
                })
            };
            read().ok_or(MALFORMED)?
        } else {
            return Ok(()); // refused by p12-keystore as unsupported
        }
    } else if oid.len() == PKCS12_PBE.len() + 1 && oid.starts_with(PKCS12_PBE) {
        // pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
        let read = || {
            let (params, _) = tlv(params, SEQUENCE)?;
            let (_salt, params) = tlv(params, OCTET_STRING)?;
            let (count, _) = tlv(params, INTEGER)?;
            unsigned(count)
        };
        Kdf::Iterated {
            what: "pkcs#12 key derivation",
            iterations: read().ok_or(MALFORMED)?,
        }
    } else {
        return Ok(()); // refused by p12-keystore as unsupported
    };
    kdfs.push(kdf);
    Ok(())
}

const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
/// `[0]`, constructed: an EXPLICIT context tag.
const EXPLICIT_0: u8 = 0xa0;

/// Splits one DER element with tag `tag` off the front of `input`: its contents, and what
/// follows it. Definite lengths only, as DER requires.
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, input) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len_byte, mut input) = input.split_first()?;
    let len = if len_byte < 0x80 {
        usize::from(len_byte)
    } else {
        let count = usize::from(len_byte & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (len_bytes, rest) = input.split_at_checked(count)?;
        input = rest;
        len_bytes
            .iter()
            .fold(0usize, |n, b| (n << 8) | usize::from(*b))
    };
    input.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
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

    fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n @ 0..0x80 => out.push(n as u8),
            n => {
                let bytes = (n as u32).to_be_bytes();
                let skip = bytes.iter().take_while(|b| **b == 0).count();
                out.push(0x80 | (4 - skip) as u8);
                out.extend(&bytes[skip..]);
            }
        }
        out.extend(content);
        out
    }

    /// `p12` with its MAC's iteration count replaced by `count` (big-endian INTEGER bytes).
    fn with_mac_iterations(p12: &[u8], count: &[u8]) -> Vec<u8> {
        let (pfx, _) = tlv(p12, SEQUENCE).unwrap();
        let (version, rest) = tlv(pfx, INTEGER).unwrap();
        let (auth_safe, rest) = tlv(rest, SEQUENCE).unwrap();
        let (mac_data, _) = tlv(rest, SEQUENCE).unwrap();
        let (digest_info, rest) = tlv(mac_data, SEQUENCE).unwrap();
        let (salt, _) = tlv(rest, OCTET_STRING).unwrap();
        let mac_data = [
            encode(SEQUENCE, digest_info),
            encode(OCTET_STRING, salt),
            encode(INTEGER, count),
        ]
        .concat();
        let pfx = [
            encode(INTEGER, version),
            encode(SEQUENCE, auth_safe),
            encode(SEQUENCE, &mac_data),
        ]
        .concat();
        encode(SEQUENCE, &pfx)
    }

    #[test]
    fn mac_iteration_bomb_is_refused_before_deriving() {
        let pki = pki();
        let p12 = archive(Some(&pki.key), &[&pki.leaf]);
        assert_eq!(outer_mac(&p12), Some(Mac::Present { iterations: 1000 }));
        let started = Instant::now();
        let message = load_error(
            &with_mac_iterations(&p12, &[0x7f, 0xff, 0xff, 0xff]),
            PASSWORD,
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(
            message.contains("mac iteration count 2147483647 exceeds the limit"),
            "{message}"
        );
        let huge = with_mac_iterations(&p12, &[0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(load_error(&huge, PASSWORD).contains("exceeds the limit"));
        // The same archive re-encoded with its own count still reads.
        let same = with_mac_iterations(&p12, &[0x03, 0xe8]);
        assert!(parse_pkcs12(&same, PASSWORD, "id.p12").is_ok());
    }

    #[test]
    fn outer_mac_reads_the_pfx_shape() {
        let auth_safe = encode(SEQUENCE, &[]);
        let no_mac = encode(
            SEQUENCE,
            &[encode(INTEGER, &[3]), auth_safe.clone()].concat(),
        );
        assert_eq!(outer_mac(&no_mac), Some(Mac::Absent));
        let mac_data = [encode(SEQUENCE, &[]), encode(OCTET_STRING, &[1, 2])].concat();
        let default_count = encode(
            SEQUENCE,
            &[
                encode(INTEGER, &[3]),
                auth_safe,
                encode(SEQUENCE, &mac_data),
            ]
            .concat(),
        );
        assert_eq!(
            outer_mac(&default_count),
            Some(Mac::Present { iterations: 1 })
        );
        let mut trailing = no_mac.clone();
        trailing.push(0);
        for bad in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            &trailing,
            &no_mac[..3],
        ] {
            assert_eq!(outer_mac(bad), None);
        }
    }

    // ---- key derivation limits, on archives crafted with any parameters ----

    fn int(n: u64) -> Vec<u8> {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
        let mut digits = bytes[skip..].to_vec();
        if digits[0] & 0x80 != 0 {
            digits.insert(0, 0);
        }
        encode(INTEGER, &digits)
    }

    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        encode(SEQUENCE, &parts.concat())
    }

    fn oid(der: &[u8]) -> Vec<u8> {
        encode(OID, der)
    }

    fn octets(bytes: &[u8]) -> Vec<u8> {
        encode(OCTET_STRING, bytes)
    }

    fn explicit(content: &[u8]) -> Vec<u8> {
        encode(EXPLICIT_0, content)
    }

    /// aes256-CBC, 2.16.840.1.101.3.4.1.42, with an IV.
    fn aes256_cbc() -> Vec<u8> {
        seq(&[
            oid(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a]),
            octets(&[9; 16]),
        ])
    }

    /// An AlgorithmIdentifier: PBES2 with scrypt and AES-256-CBC.
    fn scrypt(n: u64, r: u64, p: u64) -> Vec<u8> {
        let kdf = seq(&[
            oid(SCRYPT),
            seq(&[octets(&[7; 16]), int(n), int(r), int(p)]),
        ]);
        seq(&[oid(PBES2), seq(&[kdf, aes256_cbc()])])
    }

    /// An AlgorithmIdentifier: PBES2 with PBKDF2 (HMAC-SHA1) and AES-256-CBC.
    fn pbkdf2(iterations: u64) -> Vec<u8> {
        let kdf = seq(&[oid(PBKDF2), seq(&[octets(&[7; 16]), int(iterations)])]);
        seq(&[oid(PBES2), seq(&[kdf, aes256_cbc()])])
    }

    /// An AlgorithmIdentifier: pbeWithSHAAnd3-KeyTripleDES-CBC.
    fn pkcs12_3des(iterations: u64) -> Vec<u8> {
        let oid_3des = [PKCS12_PBE, &[3]].concat();
        seq(&[oid(&oid_3des), seq(&[octets(&[7; 8]), int(iterations)])])
    }

    /// A shrouded key bag under `algorithm`, with junk for the encrypted key.
    fn shrouded(algorithm: &[u8]) -> Vec<u8> {
        let info = seq(&[algorithm.to_vec(), octets(&[0x55; 48])]);
        seq(&[oid(SHROUDED_KEY_BAG), explicit(&info)])
    }

    /// A secret bag holding an encrypted key under `algorithm`, as Java writes them.
    fn secret(algorithm: &[u8]) -> Vec<u8> {
        let info = seq(&[algorithm.to_vec(), octets(&[0x55; 48])]);
        let value = seq(&[oid(SHROUDED_KEY_BAG), explicit(&octets(&info))]);
        seq(&[oid(SECRET_BAG), explicit(&value)])
    }

    /// An unencrypted content holding `items` (bags, or contents for the authSafe).
    fn data_content(items: &[Vec<u8>]) -> Vec<u8> {
        seq(&[oid(ID_DATA), explicit(&octets(&seq(items)))])
    }

    /// An encrypted content under `algorithm`, with junk for the ciphertext.
    fn encrypted_content(algorithm: &[u8]) -> Vec<u8> {
        let info = seq(&[oid(ID_DATA), algorithm.to_vec(), encode(0x80, &[0x55; 48])]);
        seq(&[oid(ID_ENCRYPTED_DATA), explicit(&seq(&[int(0), info]))])
    }

    /// A PFX without a MAC holding `contents`: p12-keystore goes straight to decrypting.
    fn pfx_of(contents: &[Vec<u8>]) -> Vec<u8> {
        // The authSafe has the shape of an unencrypted content, holding contents.
        seq(&[int(3), data_content(contents)])
    }

    #[test]
    fn derivations_of_a_real_archive_are_read() {
        let pki = pki();
        let p12 = archive(Some(&pki.key), &[&pki.leaf]);
        let (mac, auth_safe) = pfx(&p12).unwrap();
        assert_eq!(mac, Mac::Present { iterations: 1000 });
        let mut kdfs = Vec::new();
        derivations(auth_safe, &mut kdfs).unwrap();
        let pbkdf2 = Kdf::Iterated {
            what: "pbkdf2",
            iterations: 1000,
        };
        // The certificates' encrypted content and the shrouded key bag.
        assert_eq!(kdfs, [pbkdf2, pbkdf2]);
    }

    #[test]
    fn crafted_archives_within_the_limits_reach_decryption() {
        // The control for the test below: these archives are read by p12-keystore, which
        // derives the key and fails to decrypt the junk.
        for p12 in [
            pfx_of(&[data_content(&[shrouded(&scrypt(1 << 10, 8, 1))])]),
            pfx_of(&[encrypted_content(&pbkdf2(1000))]),
            pfx_of(&[data_content(&[shrouded(&pkcs12_3des(1000))])]),
        ] {
            let message = load_error(&p12, PASSWORD);
            assert!(message.contains("wrong password"), "{message}");
        }
    }

    #[test]
    fn key_derivation_bombs_are_refused_before_deriving() {
        let too_many: Vec<Vec<u8>> = (0..5).map(|_| shrouded(&pbkdf2(1_000_000))).collect();
        let cases = [
            (
                // 256 MiB: p12-keystore alone would derive it.
                pfx_of(&[data_content(&[shrouded(&scrypt(1 << 21, 1, 1))])]),
                "scrypt cost parameter N = 2097152 exceeds the limit",
            ),
            (
                // p = 16: p12-keystore alone would derive it, 16 times.
                pfx_of(&[data_content(&[shrouded(&scrypt(1 << 17, 8, 16))])]),
                "scrypt work N * r * p = 16777216 exceeds the limit",
            ),
            (
                pfx_of(&[encrypted_content(&scrypt(1 << 21, 1, 1))]),
                "scrypt cost parameter N = 2097152",
            ),
            (
                pfx_of(&[data_content(&[secret(&scrypt(1 << 21, 1, 1))])]),
                "scrypt cost parameter N = 2097152",
            ),
            (
                pfx_of(&[encrypted_content(&pbkdf2(2_000_000))]),
                "pbkdf2 iteration count 2000000 exceeds the limit (1000000)",
            ),
            (
                pfx_of(&[data_content(&[shrouded(&pkcs12_3des(2_000_000))])]),
                "pkcs#12 key derivation iteration count 2000000 exceeds the limit",
            ),
            (
                pfx_of(&[data_content(&[shrouded(&pkcs12_3des(0))])]),
                "pkcs#12 key derivation iteration count 0 is invalid",
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
        let truncated_scrypt = {
            let kdf = seq(&[oid(SCRYPT), seq(&[octets(&[7; 16]), int(1 << 14)])]);
            seq(&[oid(PBES2), seq(&[kdf, aes256_cbc()])])
        };
        let negative_count = {
            let kdf = seq(&[
                oid(PBKDF2),
                seq(&[octets(&[7; 16]), encode(INTEGER, &[0xff])]),
            ]);
            seq(&[oid(PBES2), seq(&[kdf, aes256_cbc()])])
        };
        for algorithm in [truncated_scrypt, negative_count] {
            let p12 = pfx_of(&[data_content(&[shrouded(&algorithm)])]);
            let message = load_error(&p12, PASSWORD);
            assert!(message.contains("unreadable key derivation"), "{message}");
        }
    }
}
