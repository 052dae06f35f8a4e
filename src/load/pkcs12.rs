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
//! here, with the RustCrypto `pkcs12` and `pkcs5` types p12-keystore itself decodes them
//! with, and checked against the limits of [`super::kdf`] (the same as for PKCS#8 keys),
//! each and all together, before p12-keystore derives anything. Bags inside an
//! *encrypted* content can only be read once it is decrypted; for those p12-keystore's own
//! limits apply (1,000,000 iterations; scrypt memory up to 1 GiB and p up to 16). No tool
//! we know of writes such bags (OpenSSL, Windows, macOS and Java put the key in an
//! unencrypted content, in its own shrouded bag).

use p12_keystore::error::Error as P12Error;
use p12_keystore::{CertificateBag, Pkcs12Archive, PrivateKeyBag};
use pkcs5::der::asn1::{AnyRef, ObjectIdentifier, OctetString, OctetStringRef};
use pkcs5::der::{self, Decode, Encode, Reader, SliceReader};
use pkcs5::pbes2;
use pkcs12::cms::cert::x509::spki::AlgorithmIdentifierOwned;
use pkcs12::cms::content_info::ContentInfo;
use pkcs12::cms::encrypted_data::EncryptedData;
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo, Pkcs12PbeParams};
use pkcs12::pfx::Pfx;
use pkcs12::safe_bag::SafeContents;
use pkcs12::{AuthenticatedSafe, SafeBag};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::kdf::{self, Kdf};
use super::{load, load_because};
use crate::error::{Error, Result};

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
    if der.is_empty() {
        return Err(load(origin, "empty: no PKCS#12 archive found"));
    }
    // p12-keystore starts with this same decoding, so it fails here too.
    let pfx = Pfx::from_der(der).map_err(|e| load_because(origin, "not a PKCS#12 archive", e))?;
    let kdfs = derivations(&pfx).map_err(|e| e.into_error(origin))?;
    kdf::check_all(&kdfs).map_err(|why| load(origin, &why))?;
    let has_mac = pfx.mac_data.is_some();
    let archive = Pkcs12Archive::from_pkcs12(der, password)
        .map_err(|e| archive_error(e, has_mac, password, origin))?;
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

fn archive_error(err: P12Error, has_mac: bool, password: &str, origin: &str) -> Error {
    let wrong = if password.is_empty() {
        "the password is empty, wrong, or the archive is corrupt"
    } else {
        "wrong password or corrupt archive"
    };
    let what = match &err {
        P12Error::MacError(_) => format!("{wrong} (mac verification failed)"),
        P12Error::UnpadError | P12Error::Pkcs5Error(_) | P12Error::InvalidPrivateKey => {
            format!("{wrong} (decryption failed)")
        }
        // A MAC-less archive decrypted with a wrong password gives garbage, not a
        // decryption error, 1 time in 256 or so.
        P12Error::DerError(_) if !has_mac => {
            format!("{wrong} (the decrypted contents are malformed)")
        }
        P12Error::DerError(_) => "malformed PKCS#12 archive".to_owned(),
        P12Error::InvalidParameters => format!(
            "a key derivation iteration count or scrypt cost in the archive exceeds the limit \
             ({} iterations), or its encryption parameters are invalid",
            kdf::MAX_ITERATIONS
        ),
        P12Error::UnsupportedEncryptionScheme
        | P12Error::UnsupportedMacAlgorithm
        | P12Error::UnsupportedContentType
        | P12Error::UnsupportedCertificateType
        | P12Error::InvalidVersion => "unsupported PKCS#12 archive".to_owned(),
        P12Error::X509Error(_) => "a certificate in the archive is malformed".to_owned(),
        _ => "cannot read the PKCS#12 archive".to_owned(),
    };
    load_because(origin, &what, err)
}

// Object identifiers the `pkcs12` crate does not name.
/// id-data, 1.2.840.113549.1.7.1: unencrypted content.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// id-encryptedData, 1.2.840.113549.1.7.6: content encrypted under a password.
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");

/// The PKCS#12 password-based encryption schemes (pkcs-12PbeIds), which derive their key
/// with the PKCS#12 KDF. p12-keystore decrypts two of them (3DES, RC2-40) and refuses the
/// rest; all are counted.
const PKCS12_PBE: [ObjectIdentifier; 6] = [
    pkcs12::PKCS_12_PBE_WITH_SHAAND128_BIT_RC4,
    pkcs12::PKCS_12_PBE_WITH_SHAAND40_BIT_RC4,
    pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC,
    pkcs12::PKCS_12_PBE_WITH_SHAAND2_KEY_TRIPLE_DES_CBC,
    pkcs12::PKCS_12_PBE_WITH_SHAAND128_BIT_RC2_CBC,
    pkcs12::PKCS_12_PBEWITH_SHAAND40_BIT_RC2_CBC,
];

/// Why the key derivations of an archive cannot be read: the archive is refused, as
/// p12-keystore would refuse it at the same place before deriving there.
#[derive(Debug)]
enum Unreadable {
    /// The structure on the way to a derivation.
    Structure(der::Error),
    /// The parameters of a derivation.
    Parameters(der::Error),
    /// A negative iteration count.
    Negative { what: &'static str, count: i32 },
}

impl From<der::Error> for Unreadable {
    fn from(err: der::Error) -> Unreadable {
        Unreadable::Structure(err)
    }
}

impl Unreadable {
    fn into_error(self, origin: &str) -> Error {
        match self {
            Unreadable::Structure(e) => load_because(origin, "malformed PKCS#12 archive", e),
            Unreadable::Parameters(e) => load_because(
                origin,
                "malformed PKCS#12 archive: unreadable key derivation parameters",
                e,
            ),
            Unreadable::Negative { what, count } => load(
                origin,
                &format!("malformed PKCS#12 archive: {what} iteration count {count} is negative"),
            ),
        }
    }
}

/// Every key derivation p12-keystore will run for `pfx` that can be seen before
/// decrypting anything: the MAC's, each encrypted content's, and each shrouded key or
/// secret bag's in an unencrypted content.
///
/// The parts are decoded with the types p12-keystore decodes them with (`Pfx`, then
/// `AuthenticatedSafe`, `EncryptedData`, `SafeContents`, `pkcs5::pbes2::Parameters`), so
/// every derivation it will run is seen here. This fails only where p12-keystore would
/// fail before deriving there; what it refuses anyway (another content type, an
/// unsupported scheme) is left for it to report.
fn derivations(pfx: &Pfx) -> Result<Vec<Kdf>, Unreadable> {
    let mut kdfs = Vec::new();
    if let Some(mac) = &pfx.mac_data {
        kdfs.push(iterated("mac", mac.iterations)?);
    }
    if pfx.auth_safe.content_type != ID_DATA {
        return Ok(kdfs);
    }
    let safes = AuthenticatedSafe::from_der(data(&pfx.auth_safe)?.as_bytes())?;
    for safe in &safes {
        if safe.content_type == ID_DATA {
            let bags = SafeContents::from_der(data(safe)?.as_bytes())?;
            for bag in &bags {
                kdfs.extend(bag_derivation(bag)?);
            }
        } else if safe.content_type == ID_ENCRYPTED_DATA {
            let encrypted = EncryptedData::from_der(&safe.content.to_der()?)?;
            kdfs.extend(algorithm(&encrypted.enc_content_info.content_enc_alg)?);
        }
    }
    Ok(kdfs)
}

/// The OCTET STRING an unencrypted content holds.
fn data(content: &ContentInfo) -> der::Result<OctetString> {
    OctetString::from_der(&content.content.to_der()?)
}

/// The derivation p12-keystore runs for one bag of an unencrypted content, if any.
fn bag_derivation(bag: &SafeBag) -> Result<Option<Kdf>, Unreadable> {
    if bag.bag_id == pkcs12::PKCS_12_PKCS8_KEY_BAG_OID {
        // pkcs8ShroudedKeyBag: [0] EXPLICIT EncryptedPrivateKeyInfo.
        let info = der::asn1::ContextSpecific::<EncryptedPrivateKeyInfo>::from_der(&bag.bag_value)?;
        algorithm(&info.value.encryption_algorithm)
    } else if bag.bag_id == pkcs12::PKCS_12_SECRET_BAG_OID {
        // p12-keystore tries to decrypt a secret bag's value as an encrypted key, and
        // ignores one that fails, before or after deriving: count what it can derive.
        Ok(secret_key_info(&bag.bag_value)
            .and_then(|info| algorithm(&info.encryption_algorithm).ok())
            .flatten())
    } else {
        Ok(None)
    }
}

/// The EncryptedPrivateKeyInfo in a secret bag's value, `[0] EXPLICIT SEQUENCE {
/// secretTypeId OID, secretValue [0] EXPLICIT OCTET STRING, .. }`, read at least as
/// leniently as p12-keystore reads it (any outer tags, anything after the value).
fn secret_key_info(bag_value: &[u8]) -> Option<EncryptedPrivateKeyInfo> {
    let envelope = AnyRef::from_der(bag_value).ok()?;
    let mut reader = SliceReader::new(envelope.value()).ok()?;
    let value = reader
        .sequence(|seq| {
            let _type: ObjectIdentifier = seq.decode()?;
            let value: AnyRef<'_> = seq.decode()?;
            seq.read_slice(seq.remaining_len())?;
            Ok::<_, der::Error>(value)
        })
        .ok()?;
    let octets = <&OctetStringRef>::from_der(value.value()).ok()?;
    EncryptedPrivateKeyInfo::from_der(octets.as_bytes()).ok()
}

/// The derivation of a password-based encryption algorithm: PBES2 with PBKDF2 or scrypt,
/// or a PKCS#12 scheme; `None` for any other (which p12-keystore refuses).
fn algorithm(algorithm: &AlgorithmIdentifierOwned) -> Result<Option<Kdf>, Unreadable> {
    let is_pbes2 = algorithm.oid == pbes2::PBES2_OID;
    if !is_pbes2 && !PKCS12_PBE.contains(&algorithm.oid) {
        return Ok(None);
    }
    // Without parameters p12-keystore refuses it (InvalidParameters) without deriving.
    let Some(params) = &algorithm.parameters else {
        return Ok(None);
    };
    let params = params.to_der()?;
    if is_pbes2 {
        let params = pbes2::Parameters::from_der(&params).map_err(Unreadable::Parameters)?;
        Ok(Kdf::from_pbes2(&params.kdf))
    } else {
        let params = Pkcs12PbeParams::from_der(&params).map_err(Unreadable::Parameters)?;
        iterated("pkcs#12 key derivation", params.iterations).map(Some)
    }
}

/// An iterated derivation with a count that the PKCS#12 types hold as an `i32`.
fn iterated(what: &'static str, count: i32) -> Result<Kdf, Unreadable> {
    match u64::try_from(count) {
        Ok(iterations) => Ok(Kdf::Iterated { what, iterations }),
        Err(_) => Err(Unreadable::Negative { what, count }),
    }
}

#[cfg(test)]
mod tests;
