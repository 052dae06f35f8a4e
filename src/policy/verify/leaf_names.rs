//! The names a certificate holds in its subject alternative name extension, found by a
//! small DER walk.
//!
//! Neither rustls nor webpki lists a certificate's IP address names, so this reads the
//! extension itself. It reads untrusted bytes: every length is checked against what is
//! left, nothing recurses, and anything unexpected ends the walk with no name. It decides
//! nothing about trust: a name it reads wrongly only makes the verification that follows
//! fail.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustls::pki_types::ServerName;

/// The most names returned: enough for any sane leaf, few enough to bound the work.
pub(crate) const MAX_NAMES: usize = 8;

/// The label that stands for the `*` of a wildcard name.
const WILDCARD_LABEL: &str = "wildcard-match";

/// `id-ce-subjectAltName` (2.5.29.17), the contents of its OBJECT IDENTIFIER.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

const SEQUENCE: u8 = 0x30;
const OBJECT_IDENTIFIER: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// `[3] EXPLICIT Extensions` of a TBSCertificate.
const EXTENSIONS: u8 = 0xa3;
/// `dNSName [2] IA5String` and `iPAddress [7] OCTET STRING` of a GeneralName.
const DNS_NAME: u8 = 0x82;
const IP_ADDRESS: u8 = 0x87;

/// The DNS and IP names of `cert` (DER), in the certificate's order, at most
/// [`MAX_NAMES`]. A wildcard `*.example.com` becomes a name it covers,
/// `wildcard-match.example.com`. Names that are not valid DNS names (an embedded NUL,
/// say) and IP entries of the wrong length are skipped. Empty for a malformed
/// certificate or one without the extension.
pub(crate) fn leaf_names(cert: &[u8]) -> Vec<ServerName<'static>> {
    let mut names = Vec::new();
    let Some(mut general_names) = subject_alt_name(cert) else {
        return names;
    };
    while names.len() < MAX_NAMES {
        let Some((tag, value, rest)) = element(general_names) else {
            break;
        };
        general_names = rest;
        let name = match tag {
            DNS_NAME => dns_name(value),
            IP_ADDRESS => ip_address(value),
            _ => None,
        };
        names.extend(name);
    }
    names
}

fn dns_name(value: &[u8]) -> Option<ServerName<'static>> {
    let name = std::str::from_utf8(value).ok()?;
    let name = match name.strip_prefix("*.") {
        Some(parent) => format!("{WILDCARD_LABEL}.{parent}"),
        None => name.to_owned(),
    };
    ServerName::try_from(name).ok()
}

fn ip_address(value: &[u8]) -> Option<ServerName<'static>> {
    let ip = match value.len() {
        4 => IpAddr::from(Ipv4Addr::from(<[u8; 4]>::try_from(value).ok()?)),
        16 => IpAddr::from(Ipv6Addr::from(<[u8; 16]>::try_from(value).ok()?)),
        _ => return None,
    };
    Some(ServerName::from(ip))
}

/// The contents of the `GeneralNames` SEQUENCE of the certificate's subject alternative
/// name extension.
fn subject_alt_name(cert: &[u8]) -> Option<&[u8]> {
    let certificate = expect(cert, SEQUENCE)?;
    let mut tbs = expect(certificate, SEQUENCE)?;
    // version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    // and the unique IDs come first; the extensions, when present, last.
    let extensions = loop {
        let (tag, contents, rest) = element(tbs)?;
        if tag == EXTENSIONS {
            break contents;
        }
        tbs = rest;
    };
    let mut extensions = expect(extensions, SEQUENCE)?;
    while !extensions.is_empty() {
        let (tag, extension, rest) = element(extensions)?;
        extensions = rest;
        if tag != SEQUENCE {
            return None;
        }
        let (tag, oid, extension) = element(extension)?;
        if tag != OBJECT_IDENTIFIER {
            return None;
        }
        if oid != SUBJECT_ALT_NAME {
            continue;
        }
        // extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING
        let (mut tag, mut value, rest) = element(extension)?;
        if tag == BOOLEAN {
            (tag, value, _) = element(rest)?;
        }
        if tag != OCTET_STRING {
            return None;
        }
        return expect(value, SEQUENCE);
    }
    None
}

/// The contents of the element at the start of `input` when its tag is `tag`.
fn expect(input: &[u8], tag: u8) -> Option<&[u8]> {
    match element(input)? {
        (found, contents, _) if found == tag => Some(contents),
        _ => None,
    }
}

/// The DER element at the start of `input`: its tag, its contents and what follows it.
/// `None` when the input is too short for the lengths it claims, uses a multi-byte tag,
/// an indefinite length or a length of more than four bytes.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        let len = bytes.iter().try_fold(0usize, |len, &b| {
            len.checked_mul(256)?.checked_add(usize::from(b))
        })?;
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    use rcgen::{CertificateParams, KeyPair, SanType};

    fn cert(sans: Vec<SanType>) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = sans;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn dns(name: &str) -> SanType {
        SanType::DnsName(name.try_into().unwrap())
    }

    fn names(cert: &[u8]) -> Vec<String> {
        leaf_names(cert)
            .iter()
            .map(|n| n.to_str().into_owned())
            .collect()
    }

    #[test]
    fn dns_and_ip_names_in_order() {
        let der = cert(vec![
            dns("localhost"),
            SanType::IpAddress("127.0.0.1".parse().unwrap()),
            SanType::Rfc822Name("a@example.com".try_into().unwrap()),
            SanType::IpAddress("::1".parse().unwrap()),
            SanType::URI("https://example.com/".try_into().unwrap()),
            dns("*.wild.test"),
        ]);
        assert_eq!(
            names(&der),
            ["localhost", "127.0.0.1", "::1", "wildcard-match.wild.test"]
        );
    }

    #[test]
    fn no_extension_no_names() {
        assert!(names(&cert(Vec::new())).is_empty());
    }

    #[test]
    fn invalid_dns_names_are_skipped_and_the_count_is_capped() {
        let mut sans = vec![dns("bad name"), dns("*"), dns("a.*.example")];
        sans.extend((0..20).map(|i| dns(&format!("host{i}.example"))));
        let found = names(&cert(sans));
        assert_eq!(found.len(), MAX_NAMES);
        assert_eq!(found[0], "host0.example");
    }

    #[test]
    fn long_form_lengths_are_read() {
        // 300 names push the extension (and the certificate) past 255 bytes: lengths in
        // two bytes at several levels.
        let der = cert((0..300).map(|i| dns(&format!("h{i}.example"))).collect());
        assert_eq!(names(&der)[..2], ["h0.example", "h1.example"]);
    }

    #[test]
    fn truncated_and_garbled_input_gives_no_panic() {
        let der = cert(vec![
            dns("localhost"),
            SanType::IpAddress("10.1.2.3".parse().unwrap()),
        ]);
        for len in 0..der.len() {
            let _ = leaf_names(&der[..len]);
        }
        // Every single-byte change, at every offset, with a few values.
        let mut copy = der.clone();
        for i in 0..der.len() {
            for value in [0x00, 0x1f, 0x7f, 0x80, 0x81, 0x84, 0x85, 0xff] {
                copy[i] = value;
                let _ = leaf_names(&copy);
            }
            copy[i] = der[i];
        }
        for garbage in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x3f, 0x00],
        ] {
            assert!(leaf_names(garbage).is_empty());
        }
    }
}
