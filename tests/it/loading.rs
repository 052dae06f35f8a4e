//! Loading identities and trust anchors: PEM, DER and files, `Policy::load_object`,
//! error kinds and messages, and `Debug` that never shows key material. The files a real
//! OpenSSL wrote (every key encoding, encrypted PKCS#8, PKCS#12) are in
//! [`identity_files`].

mod identity_files;

use crate::common;
use common::*;

use std::path::PathBuf;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use tlsport::pki_types::{CertificateDer, PrivateKeyDer, PrivateSec1KeyDer};
use tlsport::{
    Acceptor, CaBundle, Connector, ErrorKind, Identity, ObjectKind, Policy, SessionInfo,
};

// ---------------------------------------------------------------- helpers

/// Unwraps an error, checks its kind, returns its message.
#[track_caller]
fn expect_err<T: std::fmt::Debug>(result: tlsport::Result<T>, kind: ErrorKind) -> String {
    let err = result.expect_err("expected an error");
    assert_eq!(err.kind(), kind, "wrong kind for error: {err}");
    err.to_string()
}

#[track_caller]
fn assert_mentions(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "message {message:?} does not mention {needle:?}"
        );
    }
}

/// Handshakes over an in-memory pair and exchanges a byte each way; returns (client,
/// server) session info.
fn serve_once(connector: &Connector, acceptor: &Acceptor) -> (SessionInfo, SessionInfo) {
    run(20, async {
        let (mut c, mut s) = connected_pair(connector, acceptor).await;
        c.write_all(b"?").await.unwrap();
        c.flush().await.unwrap();
        let mut b = [0; 1];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"?");
        s.write_all(b"!").await.unwrap();
        s.flush().await.unwrap();
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"!");
        (c.info(), s.info())
    })
}

/// A connector trusting only `root`.
fn trusting(root: &CertificateDer<'static>) -> Connector {
    Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(root.clone()),
    )
    .unwrap()
}

/// Checks that `identity` can serve a handshake to a client trusting `root`.
fn assert_serves(identity: Identity, root: &CertificateDer<'static>) {
    let acceptor = Acceptor::new(Policy::new().identity(identity)).unwrap();
    let (client, server) = serve_once(&trusting(root), &acceptor);
    assert!(client.is_client && !server.is_client);
    assert!(!client.peer_certificates.is_empty());
}

/// The base64 body of a PEM document (everything between the armour lines).
fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let body = base64(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// One DER TLV at the start of `der`: (tag, contents, rest).
fn der_tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = der[0];
    let (len, header) = match der[1] {
        n if n < 0x80 => (n as usize, 2),
        n => {
            let bytes = (n & 0x7f) as usize;
            let len = der[2..2 + bytes]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + bytes)
        }
    };
    (tag, &der[header..header + len], &der[header + len..])
}

/// The SEC1 `ECPrivateKey` inside a PKCS#8 `PrivateKeyInfo` of an EC key.
fn sec1_of_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
    let (tag, info, _) = der_tlv(pkcs8);
    assert_eq!(tag, 0x30);
    let (tag, _version, rest) = der_tlv(info);
    assert_eq!(tag, 0x02);
    let (tag, _algorithm, rest) = der_tlv(rest);
    assert_eq!(tag, 0x30);
    let (tag, private_key, _) = der_tlv(rest);
    assert_eq!(tag, 0x04);
    private_key.to_vec()
}

/// Fails if `text` shows any part of the key of `pem`: its base64 body (whole or any
/// line of it) or any 8-byte run of its DER in hex (either case) or as a Rust byte list.
#[track_caller]
fn assert_no_key_material(text: &str, pem: &Pem) {
    let body = pem_body(&pem.key);
    assert!(
        !text.contains(&body),
        "Debug output shows the key PEM body: {text}"
    );
    for line in pem.key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !text.contains(line),
            "Debug output shows a line of the key PEM: {text}"
        );
    }
    let der = pem.key_der().secret_der().to_vec();
    let lower = text.to_lowercase();
    for window in der.windows(8) {
        assert!(
            !lower.contains(&hex(window)),
            "Debug output shows key bytes in hex: {text}"
        );
        let list = format!("{window:?}");
        let list = list.trim_start_matches('[').trim_end_matches(']');
        assert!(
            !text.contains(list),
            "Debug output shows key bytes as a list: {text}"
        );
    }
}

// ---------------------------------------------------------------- good input

#[test]
fn from_pem_ecdsa_rcgen_default() {
    let pki = Pki::new();
    let id = Identity::from_pem(pki.server.cert.as_bytes(), pki.server.key.as_bytes()).unwrap();
    assert_eq!(id.chain().len(), 1);
    assert_eq!(id.chain()[0], pki.server.cert_der());
    assert_serves(id, &pki.ca.root);
}

#[test]
fn from_pem_chain_with_intermediate_keeps_order() {
    let pki = Pki::new();
    let chain = format!("{}{}", pki.server.cert, pki.ca.root_pem);
    let id = Identity::from_pem(chain.as_bytes(), pki.server.key.as_bytes()).unwrap();
    assert_eq!(id.chain().len(), 2);
    assert_eq!(id.chain()[0], pki.server.cert_der());
    assert_eq!(id.chain()[1], pki.ca.root);
    assert_serves(id, &pki.ca.root);
}

#[test]
fn from_pem_sec1_ec_private_key() {
    // rcgen writes PKCS#8; the SEC1 "EC PRIVATE KEY" form is the key inside it.
    let pki = Pki::new();
    let pkcs8 = pki.server.key_der();
    let sec1 = sec1_of_pkcs8(pkcs8.secret_der());
    let sec1_pem = to_pem("EC PRIVATE KEY", &sec1);
    let id = Identity::from_pem(pki.server.cert.as_bytes(), sec1_pem.as_bytes()).unwrap();
    assert!(format!("{id:?}").contains("SEC1"), "{id:?}");
    assert_serves(id.clone(), &pki.ca.root);
    // And as DER.
    let id = Identity::from_der(
        vec![pki.server.cert_der()],
        PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(sec1)),
    )
    .unwrap();
    assert_serves(id, &pki.ca.root);
}

// PKCS#1 RSA: rcgen (built here with its default `ring` feature) cannot generate RSA
// keys; that needs rcgen's `aws_lc_rs` feature, which is not a dev-dependency. Skipped.

#[test]
fn from_der_works() {
    let pki = Pki::new();
    let id = Identity::from_der(vec![pki.server.cert_der()], pki.server.key_der()).unwrap();
    assert_eq!(id.chain(), &[pki.server.cert_der()]);
    assert_serves(id, &pki.ca.root);
}

#[test]
fn from_der_empty_chain_is_load_error() {
    let pki = Pki::new();
    let msg = expect_err(
        Identity::from_der(vec![], pki.server.key_der()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["empty"]);
}

#[test]
fn from_pem_files_works() {
    let dir = TempDir::new("from_pem_files_works");
    let pki = Pki::new();
    let cert = dir.write("cert.pem", &pki.server.cert);
    let key = dir.write("key.pem", &pki.server.key);
    let id = Identity::from_pem_files(&cert, &key).unwrap();
    assert_eq!(id.chain(), &[pki.server.cert_der()]);
    assert_serves(id, &pki.ca.root);
}

#[test]
fn from_pem_files_accepts_der_files() {
    let dir = TempDir::new("from_pem_files_accepts_der_files");
    let pki = Pki::new();
    let cert = dir.write("cert.der", pki.server.cert_der().as_ref());
    let key = dir.write("key.der", pki.server.key_der().secret_der());
    let id = Identity::from_pem_files(&cert, &key).unwrap();
    assert_eq!(id.chain(), &[pki.server.cert_der()]);
    assert_serves(id, &pki.ca.root);
}

// ---------------------------------------------------------------- bad PEM

#[test]
fn truncated_certificate_pem_is_load_error() {
    let pki = Pki::new();
    let cert = &pki.server.cert;
    let cut = &cert[..cert.len() / 2];
    let msg = expect_err(
        Identity::from_pem(cut.as_bytes(), pki.server.key.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["certificate", "end"]);
}

#[test]
fn truncated_key_pem_is_load_error() {
    let pki = Pki::new();
    let key = &pki.server.key;
    let cut = &key[..key.len() / 2];
    let msg = expect_err(
        Identity::from_pem(pki.server.cert.as_bytes(), cut.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["private key", "end"]);
}

#[test]
fn missing_end_line_is_load_error() {
    let pki = Pki::new();
    let no_end: String = pki
        .server
        .cert
        .lines()
        .filter(|l| !l.starts_with("-----END"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(no_end.contains("BEGIN CERTIFICATE") && !no_end.contains("END"));
    let msg = expect_err(
        Identity::from_pem(no_end.as_bytes(), pki.server.key.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["certificate", "malformed", "end"]);
}

#[test]
fn truncated_der_inside_good_armour_is_a_certificate_problem() {
    // Valid PEM armour and base64, but the certificate inside is cut short: the message
    // must blame the certificate, not claim the key does not match it.
    let pki = Pki::new();
    let der = pki.server.cert_der();
    let cut = to_pem("CERTIFICATE", &der[..der.len() / 2]);
    let msg = expect_err(
        Identity::from_pem(cut.as_bytes(), pki.server.key.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["certificate"]);
    assert!(
        !msg.contains("does not match"),
        "a malformed certificate is reported as a key mismatch: {msg:?}"
    );
}

#[test]
fn garbage_is_load_error() {
    let pki = Pki::new();
    let garbage = b"this is not a certificate, just some text\n";
    let msg = expect_err(
        Identity::from_pem(garbage, pki.server.key.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["certificate PEM", "neither PEM nor"]);
    let msg = expect_err(
        Identity::from_pem(pki.server.cert.as_bytes(), garbage),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["private key"]);
}

#[test]
fn garbage_base64_is_load_error() {
    let pki = Pki::new();
    let bad = "-----BEGIN CERTIFICATE-----\n!!!! not base64 ****\n-----END CERTIFICATE-----\n";
    let msg = expect_err(
        Identity::from_pem(bad.as_bytes(), pki.server.key.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["certificate", "base64"]);
}

#[test]
fn no_certificate_section_is_load_error() {
    let pki = Pki::new();
    // The key PEM where the certificate should be.
    let msg = expect_err(
        Identity::from_pem(pki.server.key.as_bytes(), pki.server.key.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["no CERTIFICATE section"]);
    // The certificate PEM where the key should be.
    let msg = expect_err(
        Identity::from_pem(pki.server.cert.as_bytes(), pki.server.cert.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["PRIVATE KEY", "section"]);
}

#[test]
fn empty_input_is_load_error() {
    let pki = Pki::new();
    let msg = expect_err(
        Identity::from_pem(b"", pki.server.key.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["certificate", "empty"]);
    let msg = expect_err(
        Identity::from_pem(pki.server.cert.as_bytes(), b""),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["private key"]);
}

#[test]
fn mismatched_key_from_pem() {
    let pki = Pki::new();
    let msg = expect_err(
        Identity::from_pem(pki.server.cert.as_bytes(), pki.client.key.as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["does not match"]);
}

#[test]
fn mismatched_key_from_der() {
    let pki = Pki::new();
    let msg = expect_err(
        Identity::from_der(vec![pki.server.cert_der()], pki.client.key_der()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["does not match"]);
}

#[test]
fn mismatched_key_from_pem_files_names_both_paths() {
    let dir = TempDir::new("mismatched_key_from_pem_files_names_both_paths");
    let pki = Pki::new();
    let cert = dir.write("server-cert.pem", &pki.server.cert);
    let key = dir.write("client-key.pem", &pki.client.key);
    let msg = expect_err(Identity::from_pem_files(&cert, &key), ErrorKind::Load);
    assert_mentions(&msg, &["does not match"]);
    assert!(msg.contains(&cert.display().to_string()), "{msg}");
    assert!(msg.contains(&key.display().to_string()), "{msg}");
}

#[test]
fn missing_file_names_the_path() {
    let dir = TempDir::new("missing_file_names_the_path");
    let pki = Pki::new();
    let key = dir.write("key.pem", &pki.server.key);
    let cert = dir.write("cert.pem", &pki.server.cert);
    let missing = dir.path("no-such-cert.pem");
    let msg = expect_err(Identity::from_pem_files(&missing, &key), ErrorKind::Load);
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    let missing = dir.path("no-such-key.pem");
    let msg = expect_err(Identity::from_pem_files(&cert, &missing), ErrorKind::Load);
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
}

#[test]
fn bad_file_contents_name_the_path() {
    let dir = TempDir::new("bad_file_contents_name_the_path");
    let pki = Pki::new();
    let key = dir.write("key.pem", &pki.server.key);
    let cert = dir.write("cert.pem", &pki.server.cert);
    let empty = dir.write("empty.pem", "");
    let garbage = dir.write("garbage.pem", "garbage garbage garbage\n");
    for bad in [&empty, &garbage] {
        let msg = expect_err(Identity::from_pem_files(bad, &key), ErrorKind::Load);
        assert!(msg.contains(&bad.display().to_string()), "{msg}");
        let msg = expect_err(Identity::from_pem_files(&cert, bad), ErrorKind::Load);
        assert!(msg.contains(&bad.display().to_string()), "{msg}");
    }
}

/// An `ENCRYPTED PRIVATE KEY` PEM (a PKCS#8 `EncryptedPrivateKeyInfo` header with an
/// arbitrary body: nothing should try to decrypt it).
fn encrypted_key() -> String {
    let mut der = vec![0x30, 0x81, 0x90, 0x30, 0x0b, 0x06, 0x09];
    der.extend_from_slice(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d]);
    der.extend_from_slice(&[0x04, 0x81, 0x80]);
    der.extend((0..128u8).map(|i| i.wrapping_mul(37)));
    to_pem("ENCRYPTED PRIVATE KEY", &der)
}

#[test]
fn encrypted_key_pem_asks_for_a_password() {
    let pki = Pki::new();
    let msg = expect_err(
        Identity::from_pem(pki.server.cert.as_bytes(), encrypted_key().as_bytes()),
        ErrorKind::Load,
    );
    assert_mentions(&msg, &["password"]);

    let dir = TempDir::new("encrypted_key_pem_asks_for_a_password");
    let cert = dir.write("cert.pem", &pki.server.cert);
    let key = dir.write("encrypted.pem", encrypted_key());
    let msg = expect_err(Identity::from_pem_files(&cert, &key), ErrorKind::Load);
    assert_mentions(&msg, &["password"]);
    assert!(msg.contains(&key.display().to_string()), "{msg}");
}

// ---------------------------------------------------------------- password-protected

#[cfg(all(feature = "pkcs12", feature = "encrypted-keys"))]
#[test]
fn malformed_pkcs12_and_encrypted_keys_are_load_errors() {
    let pki = Pki::new();
    expect_err(
        Identity::from_pkcs12(b"\x30\x00", "secret"),
        ErrorKind::Load,
    );
    let dir = TempDir::new("malformed_pkcs12_and_encrypted_keys_are_load_errors");
    let p12 = dir.write("id.p12", b"\x30\x00");
    let msg = expect_err(Identity::from_pkcs12_file(&p12, "secret"), ErrorKind::Load);
    assert!(msg.contains(&p12.display().to_string()), "{msg}");
    // A well-formed header around random bytes: decryption fails, reported as a
    // wrong password or a corrupt key, never a panic.
    expect_err(
        Identity::from_pem_encrypted(
            pki.server.cert.as_bytes(),
            encrypted_key().as_bytes(),
            "secret",
        ),
        ErrorKind::Load,
    );
}

// ---------------------------------------------------------------- roots from files

#[test]
fn add_roots_pem_file_with_several_certs() {
    let dir = TempDir::new("add_roots_pem_file_with_several_certs");
    let pki = Pki::new();
    let other = Ca::new("some other root");
    let third = Ca::new("a third root");
    // The server's root is the 2nd of three in the bundle.
    let bundle = dir.write(
        "bundle.pem",
        format!("{}{}{}", other.root_pem, pki.ca.root_pem, third.root_pem),
    );
    let policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_roots_pem_file(&bundle)
        .unwrap();
    let connector = Connector::new(policy).unwrap();
    let (client, _) = serve_once(&connector, &pki.acceptor());
    assert_eq!(client.peer_certificates[0], pki.server.cert_der());

    // Control: a bundle without the server's root rejects it.
    let without = dir.write(
        "without.pem",
        format!("{}{}", other.root_pem, third.root_pem),
    );
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_roots_pem_file(&without)
            .unwrap(),
    )
    .unwrap();
    let (client, _) = run(20, handshake_pair(&connector, &pki.acceptor(), "localhost"));
    assert_eq!(client.unwrap_err().kind(), ErrorKind::Certificate);
}

#[test]
fn add_roots_pem_file_appends() {
    let dir = TempDir::new("add_roots_pem_file_appends");
    let pki = Pki::new();
    let other = Ca::new("some other root");
    let first = dir.write("first.pem", &other.root_pem);
    let second = dir.write("second.pem", &pki.ca.root_pem);
    let policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_roots_pem_file(&first)
        .unwrap()
        .add_roots_pem_file(&second)
        .unwrap();
    serve_once(&Connector::new(policy).unwrap(), &pki.acceptor());
}

#[test]
fn add_roots_pem_file_errors_name_the_path() {
    let dir = TempDir::new("add_roots_pem_file_errors_name_the_path");
    let missing = dir.path("missing.pem");
    let empty = dir.write("empty.pem", "");
    let garbage = dir.write("garbage.pem", "no certificates in here\n");
    for path in [&missing, &empty, &garbage] {
        let msg = expect_err(Policy::new().add_roots_pem_file(path), ErrorKind::Load);
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
}

#[test]
fn roots_file_entries_that_are_no_certificate() {
    // Good PEM armour around bytes that are no certificate. One such entry next to good
    // roots is skipped (and logged); a file with nothing usable is a Load error naming
    // the path, from add_roots_pem_file and from Connector::new for CaBundle::File.
    let dir = TempDir::new("roots_file_entries_that_are_no_certificate");
    let pki = Pki::new();
    let junk = to_pem("CERTIFICATE", &[0x30, 0x03, 0x02, 0x01, 0x00]);

    let mixed = dir.write("mixed.pem", format!("{junk}{}", pki.ca.root_pem));
    let policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_roots_pem_file(&mixed)
        .unwrap();
    serve_once(&Connector::new(policy).unwrap(), &pki.acceptor());
    let connector = Connector::new(Policy::new().ca_bundle(CaBundle::File(mixed))).unwrap();
    serve_once(&connector, &pki.acceptor());

    let only_junk = dir.write("junk.pem", &junk);
    let name = only_junk.display().to_string();
    let msg = expect_err(
        Policy::new().add_roots_pem_file(&only_junk),
        ErrorKind::Load,
    );
    assert!(msg.contains(&name), "{msg}");
    let policy = Policy::new().ca_bundle(CaBundle::File(only_junk.clone()));
    let msg = expect_err(Connector::new(policy), ErrorKind::Load);
    assert!(msg.contains(&name), "{msg}");
}

#[test]
fn ca_bundle_file_with_several_certs() {
    let dir = TempDir::new("ca_bundle_file_with_several_certs");
    let pki = Pki::new();
    let other = Ca::new("some other root");
    let bundle = dir.write(
        "bundle.pem",
        format!("{}{}", other.root_pem, pki.ca.root_pem),
    );
    let connector = Connector::new(Policy::new().ca_bundle(CaBundle::File(bundle))).unwrap();
    serve_once(&connector, &pki.acceptor());

    let without = dir.write("without.pem", &other.root_pem);
    let connector = Connector::new(Policy::new().ca_bundle(CaBundle::File(without))).unwrap();
    let (client, _) = run(20, handshake_pair(&connector, &pki.acceptor(), "localhost"));
    assert_eq!(client.unwrap_err().kind(), ErrorKind::Certificate);
}

#[test]
fn ca_bundle_file_errors_surface_from_connector_new() {
    let dir = TempDir::new("ca_bundle_file_errors_surface_from_connector_new");
    let missing = dir.path("missing.pem");
    let empty = dir.write("empty.pem", "");
    let garbage = dir.write("garbage.pem", "no certificates in here\n");
    for path in [&missing, &empty, &garbage] {
        let policy = Policy::new().ca_bundle(CaBundle::File(path.clone()));
        let msg = expect_err(Connector::new(policy), ErrorKind::Load);
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
}

// ---------------------------------------------------------------- load_object

fn write_pki_files(dir: &TempDir, pki: &Pki) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.write("cert.pem", &pki.server.cert),
        dir.write("key.pem", &pki.server.key),
        dir.write("root.pem", &pki.ca.root_pem),
    )
}

#[test]
fn load_object_cert_then_key_serves() {
    let dir = TempDir::new("load_object_cert_then_key_serves");
    let pki = Pki::new();
    let (cert, key, _) = write_pki_files(&dir, &pki);
    let policy = Policy::new()
        .load_object(ObjectKind::X509Cert, &cert, None)
        .unwrap()
        .load_object(ObjectKind::Pkcs8, &key, None)
        .unwrap();
    let acceptor = Acceptor::new(policy).unwrap();
    let (client, _) = serve_once(&pki.connector(), &acceptor);
    assert_eq!(client.peer_certificates[0], pki.server.cert_der());
}

#[test]
fn load_object_key_then_cert_serves() {
    let dir = TempDir::new("load_object_key_then_cert_serves");
    let pki = Pki::new();
    let (cert, key, _) = write_pki_files(&dir, &pki);
    let policy = Policy::new()
        .load_object(ObjectKind::Pkcs8, &key, None)
        .unwrap()
        .load_object(ObjectKind::X509Cert, &cert, None)
        .unwrap();
    let acceptor = Acceptor::new(policy).unwrap();
    let (client, _) = serve_once(&pki.connector(), &acceptor);
    assert_eq!(client.peer_certificates[0], pki.server.cert_der());
}

#[test]
fn load_object_mismatched_key_is_load_error_naming_the_path() {
    let dir = TempDir::new("load_object_mismatched_key_is_load_error_naming_the_path");
    let pki = Pki::new();
    let (cert, _, _) = write_pki_files(&dir, &pki);
    let other_key = dir.write("other-key.pem", &pki.client.key);
    let err = Policy::new()
        .load_object(ObjectKind::X509Cert, &cert, None)
        .unwrap()
        .load_object(ObjectKind::Pkcs8, &other_key, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load);
    assert_mentions(&err.to_string(), &["does not match"]);
    assert!(
        err.to_string().contains(&other_key.display().to_string()),
        "{err}"
    );
}

#[test]
fn load_object_ca_cert_is_a_trust_anchor() {
    let dir = TempDir::new("load_object_ca_cert_is_a_trust_anchor");
    let pki = Pki::new();
    let (_, _, root) = write_pki_files(&dir, &pki);
    // Without it, an empty bundle has nothing to verify with.
    let err = Connector::new(Policy::new().ca_bundle(CaBundle::Empty)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .load_object(ObjectKind::X509CaCert, &root, None)
        .unwrap();
    let (client, _) = serve_once(&Connector::new(policy).unwrap(), &pki.acceptor());
    assert_eq!(client.peer_certificates[0], pki.server.cert_der());
    // It is an anchor for verification, not my identity.
    let msg = expect_err(
        Acceptor::new(
            Policy::new()
                .load_object(ObjectKind::X509CaCert, &root, None)
                .unwrap(),
        ),
        ErrorKind::Config,
    );
    assert_mentions(&msg, &["identity"]);
}

#[test]
fn load_object_ignores_passwords_for_plain_files() {
    let dir = TempDir::new("load_object_ignores_passwords_for_plain_files");
    let pki = Pki::new();
    let (cert, key, root) = write_pki_files(&dir, &pki);
    let policy = Policy::new()
        .load_object(ObjectKind::X509Cert, &cert, Some("secret"))
        .unwrap()
        .load_object(ObjectKind::Pkcs8, &key, Some("secret"))
        .unwrap()
        .load_object(ObjectKind::X509CaCert, &root, Some("secret"))
        .unwrap();
    Acceptor::new(policy).unwrap();
    let p12 = dir.write("id.p12", b"\x30\x00");
    let err = Policy::new()
        .load_object(ObjectKind::Pkcs12, &p12, None)
        .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Config, "{err}");
}

#[test]
fn load_object_only_cert_is_config_error() {
    let dir = TempDir::new("load_object_only_cert_is_config_error");
    let pki = Pki::new();
    let (cert, key, _) = write_pki_files(&dir, &pki);
    let only_cert = Policy::new()
        .load_object(ObjectKind::X509Cert, &cert, None)
        .unwrap();
    expect_err(Acceptor::new(only_cert.clone()), ErrorKind::Config);
    // A client with half an identity must not silently go without one either.
    let msg = expect_err(
        Connector::new(only_cert.add_root_certificate(pki.ca.root.clone())),
        ErrorKind::Config,
    );
    assert_mentions(&msg, &["key"]);

    let only_key = Policy::new()
        .load_object(ObjectKind::Pkcs8, &key, None)
        .unwrap();
    expect_err(Acceptor::new(only_key.clone()), ErrorKind::Config);
    let msg = expect_err(
        Connector::new(only_key.add_root_certificate(pki.ca.root.clone())),
        ErrorKind::Config,
    );
    assert_mentions(&msg, &["certificate"]);
}

#[test]
fn load_object_bad_files_are_load_errors_naming_the_path() {
    let dir = TempDir::new("load_object_bad_files_are_load_errors_naming_the_path");
    let missing = dir.path("missing.pem");
    let garbage = dir.write("garbage.pem", "garbage\n");
    for kind in [
        ObjectKind::X509Cert,
        ObjectKind::X509CaCert,
        ObjectKind::Pkcs8,
    ] {
        for path in [&missing, &garbage] {
            let msg = expect_err(Policy::new().load_object(kind, path, None), ErrorKind::Load);
            assert!(msg.contains(&path.display().to_string()), "{kind:?}: {msg}");
        }
    }
}

// ---------------------------------------------------------------- Debug redaction

#[test]
fn debug_of_identity_and_policy_redacts_the_key() {
    let pki = Pki::new();
    let id = pki.server.identity();
    let text = format!("{id:?}");
    assert_no_key_material(&text, &pki.server);
    assert!(text.contains("redacted"), "{text}");
    let pretty = format!("{id:#?}");
    assert_no_key_material(&pretty, &pki.server);

    let policy = Policy::new().identity(id);
    let text = format!("{policy:?}");
    assert_no_key_material(&text, &pki.server);
    assert!(text.contains("redacted"), "{text}");
    assert_no_key_material(&format!("{policy:#?}"), &pki.server);

    // Connector (mutual TLS identity) and Acceptor show their policy: still redacted.
    let acceptor = pki.acceptor();
    let text = format!("{acceptor:?}");
    assert_no_key_material(&text, &pki.server);
    assert!(text.contains("redacted"), "{text}");
    let connector = Connector::new(pki.client_policy().identity(pki.client.identity())).unwrap();
    assert_no_key_material(&format!("{connector:#?}"), &pki.client);
}

#[test]
fn debug_of_policy_with_half_loaded_identity_shows_no_key() {
    let dir = TempDir::new("debug_of_policy_with_half_loaded_identity_shows_no_key");
    let pki = Pki::new();
    let key = dir.write("key.pem", &pki.server.key);
    let policy = Policy::new()
        .load_object(ObjectKind::Pkcs8, &key, None)
        .unwrap();
    assert_no_key_material(&format!("{policy:?}"), &pki.server);
    assert_no_key_material(&format!("{policy:#?}"), &pki.server);
}

#[test]
fn key_material_check_would_catch_a_leak() {
    // The checker itself must be able to fail: the key PEM and its DER do leak.
    let pki = Pki::new();
    let leaks = [
        pki.server.key.clone(),
        hex(pki.server.key_der().secret_der()),
        format!("{:?}", pki.server.key_der().secret_der()),
    ];
    for leak in leaks {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_no_key_material(&leak, &pki.server)
        }));
        assert!(caught.is_err(), "leak not caught: {leak}");
    }
}
