//! Trust stores: CA bundle files, the system store (through SSL_CERT_FILE in a child
//! process), an empty system store, bundled roots, with files made by a real OpenSSL.

use crate::common;

use common::*;
use tlsport::{Acceptor, CaBundle, Connector, ErrorKind, Policy};

fn serve_and_connect(client: Policy, chain: &str, key: &str) -> tlsport::Result<()> {
    let acceptor = Acceptor::new(Policy::new().identity(openssl_identity(chain, key))).unwrap();
    let connector = Connector::new(client)?;
    run(20, async {
        let (c, s) = handshake_pair(&connector, &acceptor, "localhost").await;
        match c {
            Ok(_) => {
                s.expect("server side of a good handshake");
                Ok(())
            }
            Err(e) => Err(e),
        }
    })
}

#[test]
fn file_bundle_with_many_roots_verifies_a_chain_under_any_of_them() {
    let bundle = CaBundle::File(pki_file("roots-bundle.pem"));
    let policy = Policy::new().ca_bundle(bundle.clone());
    serve_and_connect(policy.clone(), "server.chain.pem", "server.key").unwrap();
    // The second root of the bundle anchors the "untrusted" chain.
    serve_and_connect(policy, "untrusted.chain.pem", "server.key").unwrap();
}

#[test]
fn file_bundle_without_the_issuer_refuses() {
    let policy = Policy::new().ca_bundle(CaBundle::File(pki_file("client-ca.pem")));
    let err = serve_and_connect(policy, "server.chain.pem", "server.key").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Certificate, "{err}");
}

#[test]
fn file_bundle_with_garbage_after_a_good_root_keeps_the_root() {
    let policy = Policy::new().ca_bundle(CaBundle::File(pki_file("garbage-after-cert.pem")));
    serve_and_connect(policy, "server.chain.pem", "server.key").unwrap();
    let policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_roots_pem_file(pki_file("garbage-after-cert.pem"))
        .unwrap();
    serve_and_connect(policy, "server.chain.pem", "server.key").unwrap();
}

#[test]
fn empty_or_missing_bundle_is_a_load_error_naming_the_path() {
    for name in ["empty.pem", "does-not-exist.pem", "server.key"] {
        let path = pki_file(name);
        let err =
            Connector::new(Policy::new().ca_bundle(CaBundle::File(path.clone()))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Load, "{name}: {err}");
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        let err = Policy::new().add_roots_pem_file(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Load, "{name}: {err}");
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
    }
}

#[test]
fn der_root_file_is_accepted() {
    let policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_roots_pem_file(pki_file("root-ca.der"))
        .unwrap();
    serve_and_connect(policy, "server.chain.pem", "server.key").unwrap();
}

#[cfg(feature = "platform-verifier")]
#[test]
fn system_store_honours_ssl_cert_file() {
    let root = pki_file("root-ca.pem");
    if !in_child(
        "trust::system_store_honours_ssl_cert_file",
        &[("SSL_CERT_FILE", root.as_os_str())],
    ) {
        return;
    }
    assert!(tlsport::system_ca_available());
    assert_eq!(CaBundle::default(), CaBundle::System);
    serve_and_connect(
        Policy::new().ca_bundle(CaBundle::System),
        "server.chain.pem",
        "server.key",
    )
    .unwrap();
    // The private root is the whole store: another chain is refused.
    let err = serve_and_connect(
        Policy::new().ca_bundle(CaBundle::System),
        "untrusted.chain.pem",
        "server.key",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Certificate, "{err}");
}

#[cfg(feature = "platform-verifier")]
#[test]
fn system_store_honours_ssl_cert_dir_with_extra_roots() {
    // A directory holding only an unrelated root; the private root is added by hand.
    let dir = std::env::temp_dir().join(format!("tlsport-certdir-{}", std::process::id()));
    if std::env::var_os("TLSPORT_TEST_CHILD").is_none() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(pki_file("client-ca.pem"), dir.join("client-ca.pem")).unwrap();
    }
    let ok = in_child(
        "trust::system_store_honours_ssl_cert_dir_with_extra_roots",
        &[("SSL_CERT_DIR", dir.as_os_str())],
    );
    if !ok {
        std::fs::remove_dir_all(&dir).ok();
        return;
    }
    let without = serve_and_connect(
        Policy::new().ca_bundle(CaBundle::System),
        "server.chain.pem",
        "server.key",
    )
    .unwrap_err();
    assert_eq!(without.kind(), ErrorKind::Certificate, "{without}");
    let with = Policy::new()
        .ca_bundle(CaBundle::System)
        .add_roots_pem_file(pki_file("root-ca.pem"))
        .unwrap();
    serve_and_connect(with, "server.chain.pem", "server.key").unwrap();
}

#[cfg(feature = "platform-verifier")]
#[test]
fn empty_system_store_is_a_config_error_at_new() {
    let empty = pki_file("empty.pem");
    if !in_child(
        "trust::empty_system_store_is_a_config_error_at_new",
        &[("SSL_CERT_FILE", empty.as_os_str())],
    ) {
        return;
    }
    assert!(!tlsport::system_ca_available());
    assert_eq!(CaBundle::default(), CaBundle::Empty);
    let err = Connector::new(Policy::new().ca_bundle(CaBundle::System)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("ca-certificates") && text.contains("SSL_CERT_FILE"),
        "{text}"
    );
    // The default policy falls back to Empty, which says how to add roots.
    let err = Connector::new(Policy::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("add_root_certificate"), "{err}");
}

#[cfg(feature = "webpki-roots")]
#[test]
fn bundled_roots_refuse_a_private_ca() {
    let err = serve_and_connect(
        Policy::new().ca_bundle(CaBundle::Bundled),
        "server.chain.pem",
        "server.key",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Certificate, "{err}");
    assert!(matches!(
        err.certificate_error(),
        Some(tlsport::rustls::CertificateError::UnknownIssuer)
    ));
    // With the private root added on top, it verifies.
    let policy = Policy::new()
        .ca_bundle(CaBundle::Bundled)
        .add_roots_pem_file(pki_file("root-ca.pem"))
        .unwrap();
    serve_and_connect(policy, "server.chain.pem", "server.key").unwrap();
}

#[cfg(not(feature = "webpki-roots"))]
#[test]
fn bundled_roots_without_the_feature_are_unsupported() {
    let err = Connector::new(Policy::new().ca_bundle(CaBundle::Bundled)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("webpki-roots"), "{err}");
}
