//! Just enough X.509 to print a certificate: subject, issuer, validity, serial number
//! and subject alternative names.
//!
//! rustls and `pki-types` hand certificates over as DER bytes and do not parse them for
//! display, and none of tlsport's dependencies does either (rcgen's `x509-parser`
//! feature is off). Rather than add a dependency to an example, this reads the few
//! fields it needs with a small DER walker. It is for display only: verification is
//! rustls's job, and anything unexpected here gives `None`, never a panic.

/// What the client example prints about one certificate.
#[derive(Debug)]
pub struct Summary {
    pub serial: String,
    pub issuer: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub alt_names: Vec<String>,
}

/// Reads the fields of [`Summary`] from a DER certificate.
pub fn summarize(der: &[u8]) -> Option<Summary> {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    // TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
    //     issuer, validity, subject, subjectPublicKeyInfo, ..., [3] extensions OPTIONAL }
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2;
    }
    let (serial, rest) = expect(rest, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, rest) = expect(rest, SEQUENCE)?;
    let (subject, rest) = expect(rest, SEQUENCE)?;
    let (_spki, mut rest) = expect(rest, SEQUENCE)?;

    let (not_before, validity) = time(validity)?;
    let (not_after, _) = time(validity)?;

    let mut alt_names = Vec::new();
    while let Some((tag, value, next)) = tlv(rest) {
        if tag == 0xa3 {
            alt_names = subject_alt_names(value).unwrap_or_default();
        }
        rest = next;
    }
    Some(Summary {
        serial: hex(serial, ":"),
        issuer: name(issuer)?,
        subject: name(subject)?,
        not_before,
        not_after,
        alt_names,
    })
}

const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// One DER element: (tag, contents, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// One DER element that must have tag `tag`: (contents, what follows).
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, value, rest) = tlv(input)?;
    (found == tag).then_some((value, rest))
}

/// A distinguished name, in the order it is encoded: `O=tlsport examples, CN=...`.
fn name(mut rdns: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (mut set, rest) = expect(rdns, SET)?;
        rdns = rest;
        while !set.is_empty() {
            let (attribute, rest) = expect(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(attribute, OID)?;
            let (tag, value, _) = tlv(value)?;
            parts.push(format!("{}={}", attribute_name(oid), string(tag, value)));
        }
    }
    Some(parts.join(", "))
}

fn attribute_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 3] => "CN".into(),
        [0x55, 0x04, 5] => "serialNumber".into(),
        [0x55, 0x04, 6] => "C".into(),
        [0x55, 0x04, 7] => "L".into(),
        [0x55, 0x04, 8] => "ST".into(),
        [0x55, 0x04, 10] => "O".into(),
        [0x55, 0x04, 11] => "OU".into(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".into(),
        other => dotted(other),
    }
}

/// An OBJECT IDENTIFIER in dotted form, for attributes without a short name.
fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut value = 0u64;
    for &b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A directory string: UTF8String, PrintableString, IA5String, ... or BMPString.
fn string(tag: u8, value: &[u8]) -> String {
    if tag == 0x1e {
        let units: Vec<u16> = value
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(value).into_owned()
}

/// A UTCTime or GeneralizedTime as `YYYY-MM-DD HH:MM:SS UTC`.
fn time(input: &[u8]) -> Option<(String, &[u8])> {
    let (tag, value, rest) = tlv(input)?;
    let text = std::str::from_utf8(value).ok()?;
    let full = match tag {
        // UTCTime: two-digit years, 50-99 meaning 19xx (RFC 5280).
        0x17 => {
            let year: u32 = text.get(..2)?.parse().ok()?;
            format!("{}{text}", if year >= 50 { "19" } else { "20" })
        }
        0x18 => text.to_owned(),
        _ => return None,
    };
    let d = full.get(..14)?;
    let formatted = format!(
        "{}-{}-{} {}:{}:{} UTC",
        &d[..4],
        &d[4..6],
        &d[6..8],
        &d[8..10],
        &d[10..12],
        &d[12..14]
    );
    Some((formatted, rest))
}

/// The DNS names and IP addresses in the extensions (`[3] { SEQUENCE OF Extension }`).
fn subject_alt_names(extensions: &[u8]) -> Option<Vec<String>> {
    let (mut list, _) = expect(extensions, SEQUENCE)?;
    while !list.is_empty() {
        let (extension, rest) = expect(list, SEQUENCE)?;
        list = rest;
        let (oid, mut fields) = expect(extension, OID)?;
        if oid != [0x55, 0x1d, 0x11] {
            continue; // not subjectAltName (2.5.29.17)
        }
        if fields.first() == Some(&0x01) {
            fields = tlv(fields)?.2; // the `critical` BOOLEAN
        }
        let (value, _) = expect(fields, OCTET_STRING)?;
        let (mut general_names, _) = expect(value, SEQUENCE)?;
        let mut names = Vec::new();
        while let Some((tag, value, rest)) = tlv(general_names) {
            general_names = rest;
            match (tag, value.len()) {
                (0x82, _) => names.push(format!("DNS:{}", String::from_utf8_lossy(value))),
                (0x87, 4) => {
                    let ip: [u8; 4] = value.try_into().ok()?;
                    names.push(format!("IP:{}", std::net::Ipv4Addr::from(ip)));
                }
                (0x87, 16) => {
                    let ip: [u8; 16] = value.try_into().ok()?;
                    names.push(format!("IP:{}", std::net::Ipv6Addr::from(ip)));
                }
                _ => {}
            }
        }
        return Some(names);
    }
    Some(Vec::new())
}

/// Bytes as upper-case hex, separated by `sep`.
pub fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(sep)
}
