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
//! Iteration limits: the MAC's iteration count is read here and refused above
//! [`MAX_ITERATIONS`] before any derivation. The counts of the encrypted bags sit inside
//! p12-keystore's decoding, which refuses PBKDF2 and PKCS#12-KDF counts above 1,000,000 and
//! scrypt costs above 1 GiB or p > 16 itself, before deriving; this module reports those.
//! Every error here is [`ErrorKind::Load`] and names where the bytes came from.

use p12_keystore::error::Error as P12Error;
use p12_keystore::{CertificateBag, Pkcs12Archive, PrivateKeyBag};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::{Error, ErrorKind, Result};

/// The most key derivation iterations an archive may ask for, for its MAC and for each
/// encrypted bag (p12-keystore's own limit for the bags is the same).
pub(crate) const MAX_ITERATIONS: u64 = 1_000_000;

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
    let mac = match outer_mac(der) {
        Some(mac) => mac,
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
    if let Mac::Present { iterations } = mac {
        if iterations > MAX_ITERATIONS {
            return Err(load(
                origin,
                &format!("mac iteration count {iterations} exceeds the limit ({MAX_ITERATIONS})"),
            ));
        }
    }
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
             ({MAX_ITERATIONS} iterations), or its encryption parameters are invalid"
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
/// macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }`, or `None` when `der` does not
/// have that shape.
fn outer_mac(der: &[u8]) -> Option<Mac> {
    let (pfx, rest) = tlv(der, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (_version, pfx) = tlv(pfx, INTEGER)?;
    let (_auth_safe, pfx) = tlv(pfx, SEQUENCE)?;
    if pfx.is_empty() {
        return Some(Mac::Absent);
    }
    let (mac_data, rest) = tlv(pfx, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (_digest_info, mac_data) = tlv(mac_data, SEQUENCE)?;
    let (_salt, mac_data) = tlv(mac_data, OCTET_STRING)?;
    if mac_data.is_empty() {
        return Some(Mac::Present { iterations: 1 });
    }
    let (count, _) = tlv(mac_data, INTEGER)?;
    // A positive INTEGER, big-endian, maybe with a leading zero byte. An empty or negative
    // one is malformed; one too large for a u64 is simply too large.
    let digits = count.strip_prefix(&[0]).unwrap_or(count);
    let iterations = match count.first() {
        None => return None,
        Some(first) if first & 0x80 != 0 => return None,
        Some(_) if digits.len() > 8 => u64::MAX,
        Some(_) => digits.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)),
    };
    Some(Mac::Present { iterations })
}

const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const SEQUENCE: u8 = 0x30;

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

    use super::{INTEGER, Mac, OCTET_STRING, SEQUENCE, outer_mac, parse_pkcs12, tlv};
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
}
