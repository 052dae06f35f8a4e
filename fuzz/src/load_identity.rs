//! The `load_identity` target: every loader of identities and trust anchors, from bytes
//! and from files.

use std::path::PathBuf;
use std::sync::OnceLock;

use tlsport::pki_types::{CertificateDer, PrivateKeyDer};
use tlsport::{Acceptor, CaBundle, Connector, Identity, ObjectKind, Policy};

use super::common::Input;

/// A scratch file of this process and thread, rewritten for every input.
fn scratch_file(name: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id())
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    std::env::temp_dir().join(format!(
        "tlsport-fuzz-{}-{thread}-{name}",
        std::process::id()
    ))
}

/// The fixed real certificate and key (PEM), to pair with fuzzed halves.
fn real_pem() -> &'static (String, String) {
    static PEM: OnceLock<(String, String)> = OnceLock::new();
    PEM.get_or_init(|| {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("rcgen certificate");
        (made.cert.pem(), made.signing_key.serialize_pem())
    })
}

const OBJECT_KINDS: [ObjectKind; 5] = [
    ObjectKind::X509Cert,
    ObjectKind::X509CaCert,
    ObjectKind::RsaKey,
    ObjectKind::Pkcs8,
    ObjectKind::Pkcs12,
];

/// `load_identity`: input = `[flags, length of A (u16 LE), A.., B..]`.
///
/// A and B go to every loader as certificate chain and key: `Identity::from_pem`,
/// `from_der` (B through `PrivateKeyDer::try_from`), `from_pem_encrypted`,
/// `from_pkcs12` (B as the archive), `from_pem_files`, `Policy::add_roots_pem_file`
/// and `Policy::load_object`. Flags: bit 0 / bit 1 swap in the real certificate / key
/// (so the pairing checks run without committed keys), bit 2 picks the password
/// `test-password` (else empty), bits 3..=6 the `ObjectKind`, bit 7 passes the
/// password to `load_object`. Errors are fine; a successful load must give a usable
/// policy.
pub fn run_load_identity(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let a_len = usize::from(input.u16());
    let a = input.take(a_len);
    let b = input.rest();
    let (real_cert, real_key) = real_pem();
    let cert = if flags & 1 == 1 {
        real_cert.as_bytes()
    } else {
        a
    };
    let key = if flags & 2 == 2 {
        real_key.as_bytes()
    } else {
        b
    };
    let password = if flags & 4 == 4 { "test-password" } else { "" };

    if let Ok(id) = Identity::from_pem(cert, key) {
        usable_identity(id);
    }
    if let Ok(key) = PrivateKeyDer::try_from(key.to_vec()) {
        let chain = vec![CertificateDer::from(cert.to_vec())];
        if let Ok(id) = Identity::from_der(chain, key) {
            usable_identity(id);
        }
    }
    if let Ok(id) = Identity::from_pem_encrypted(cert, key, password) {
        usable_identity(id);
    }
    if let Ok(id) = Identity::from_pkcs12(key, password) {
        usable_identity(id);
    }

    let cert_path = scratch_file("cert");
    let key_path = scratch_file("key");
    if std::fs::write(&cert_path, cert).is_err() || std::fs::write(&key_path, key).is_err() {
        return;
    }
    if let Ok(id) = Identity::from_pem_files(&cert_path, &key_path) {
        usable_identity(id);
    }
    if let Ok(policy) = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_roots_pem_file(&cert_path)
    {
        let _ = Connector::new(policy);
    }
    // A certificate kind reads A, then B as a PKCS#8 key; a key kind (or PKCS#12) reads
    // B, then A as my certificate.
    let kind = OBJECT_KINDS[usize::from((flags >> 3) & 0x0f) % OBJECT_KINDS.len()];
    let password = (flags & 0x80 == 0x80).then_some(password);
    let (first, second, second_kind) = match kind {
        ObjectKind::X509Cert | ObjectKind::X509CaCert => (&cert_path, &key_path, ObjectKind::Pkcs8),
        _ => (&key_path, &cert_path, ObjectKind::X509Cert),
    };
    let loaded = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .load_object(kind, first, password)
        .and_then(|p| p.load_object(second_kind, second, password));
    if let Ok(policy) = loaded {
        let _ = format!("{policy:?}");
        let _ = Acceptor::new(policy);
    }
    let _ = std::fs::remove_file(&cert_path);
    let _ = std::fs::remove_file(&key_path);
}

/// A loaded identity: its chain is not empty, its `Debug` shows no key, and a server
/// policy with it compiles or fails with an error (never a panic).
fn usable_identity(id: Identity) {
    assert!(!id.chain().is_empty(), "an identity with no certificate");
    let shown = format!("{id:?}");
    assert!(
        !shown.contains("PRIVATE KEY"),
        "Debug shows the key: {shown}"
    );
    let _ = Acceptor::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .identity(id.clone()),
    );
    let _ = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .danger_accept_invalid_certs(true)
            .identity(id),
    );
}
