//! Identities and objects from files a real OpenSSL wrote: every key encoding, every
//! `ObjectKind`, both backends end to end.

use crate::common;

use common::*;
use tlsport::{Acceptor, Backend, Connector, ErrorKind, Identity, ObjectKind, Policy};

/// Serves `server` to a client trusting the OpenSSL root; returns the negotiated info.
fn handshake_with(server: Policy, client: Policy) -> tlsport::SessionInfo {
    let acceptor = Acceptor::new(server).unwrap();
    let connector = Connector::new(client).unwrap();
    run(20, async {
        let (c, s) = connected_pair(&connector, &acceptor).await;
        assert!(!s.info().is_client);
        c.info()
    })
}

#[test]
fn every_key_encoding_serves_a_handshake() {
    let cases = [
        ("server.chain.pem", "server.key"),      // PKCS#8 PEM, ECDSA P-256
        ("server.chain.pem", "server.sec1.key"), // SEC1 "EC PRIVATE KEY"
        ("server.chain.pem", "server.key.der"),  // PKCS#8 DER
        ("server-rsa.chain.pem", "server-rsa.key"), // RSA PKCS#8
        ("server-rsa.chain.pem", "server-rsa.pkcs1.key"), // RSA PKCS#1
        ("server-ed25519.chain.pem", "server-ed25519.key"), // Ed25519
    ];
    for (chain, key) in cases {
        let identity = openssl_identity(chain, key);
        assert_eq!(identity.chain().len(), 2, "{chain}: leaf and intermediate");
        let info = handshake_with(Policy::new().identity(identity), openssl_client_policy());
        assert_eq!(info.peer_certificates.len(), 2, "{chain} + {key}");
    }
}

#[test]
fn der_leaf_file_loads() {
    let identity =
        Identity::from_pem_files(pki_file("server.der"), pki_file("server.key.der")).unwrap();
    assert_eq!(identity.chain().len(), 1);
}

#[test]
fn key_of_another_certificate_is_refused_naming_both_files() {
    let err = Identity::from_pem_files(pki_file("server.chain.pem"), pki_file("server-rsa.key"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
    let text = err.to_string();
    assert!(text.contains("does not match"), "{text}");
    assert!(
        text.contains("server.chain.pem") && text.contains("server-rsa.key"),
        "{text}"
    );
}

#[test]
fn load_object_cert_and_key_in_either_order_make_an_identity() {
    let a = Policy::new()
        .load_object(ObjectKind::X509Cert, pki_file("server.chain.pem"), None)
        .unwrap()
        .load_object(ObjectKind::Pkcs8, pki_file("server.key"), None)
        .unwrap();
    let b = Policy::new()
        .load_object(ObjectKind::RsaKey, pki_file("server-rsa.pkcs1.key"), None)
        .unwrap()
        .load_object(ObjectKind::X509Cert, pki_file("server-rsa.pem"), None)
        .unwrap()
        .load_object(ObjectKind::X509Cert, pki_file("int-ca.pem"), None)
        .unwrap();
    for server in [a, b] {
        let info = handshake_with(server, openssl_client_policy());
        assert_eq!(info.peer_certificates.len(), 2);
    }
}

#[test]
fn load_object_ca_cert_adds_trust_anchors() {
    let client = Policy::new()
        .ca_bundle(tlsport::CaBundle::Empty)
        .load_object(ObjectKind::X509CaCert, pki_file("root-ca.pem"), None)
        .unwrap();
    let server = Policy::new().identity(openssl_identity("server.chain.pem", "server.key"));
    handshake_with(server, client);
}

#[test]
fn load_object_mismatched_pieces_and_half_identities_are_errors() {
    let err = Policy::new()
        .load_object(ObjectKind::X509Cert, pki_file("server.pem"), None)
        .unwrap()
        .load_object(ObjectKind::Pkcs8, pki_file("server-rsa.key"), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
    let only_cert = Policy::new()
        .load_object(ObjectKind::X509Cert, pki_file("server.pem"), None)
        .unwrap();
    let err = Acceptor::new(only_cert).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let only_key = Policy::new()
        .load_object(ObjectKind::Pkcs8, pki_file("server.key"), None)
        .unwrap();
    let err = Acceptor::new(only_key).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let err = Policy::new()
        .load_object(ObjectKind::X509Cert, pki_file("nope.pem"), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load);
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

#[test]
fn every_available_backend_serves_every_key_type() {
    let real = || {
        Backend::available()
            .into_iter()
            .filter(|b| !b.is_insecure())
    };
    for server_backend in real() {
        for client_backend in real() {
            for (chain, key) in [
                ("server.chain.pem", "server.key"),
                ("server-rsa.chain.pem", "server-rsa.key"),
                ("server-ed25519.chain.pem", "server-ed25519.key"),
            ] {
                let server = Policy::new()
                    .identity(openssl_identity(chain, key))
                    .backend(server_backend);
                let client = openssl_client_policy().backend(client_backend);
                let info = handshake_with(server, client);
                assert_eq!(info.protocol_version, Some(tlsport::Version::Tls13));
            }
        }
    }
}

#[cfg(not(feature = "ring"))]
#[test]
fn a_backend_not_compiled_in_is_unsupported() {
    let err = Connector::new(openssl_client_policy().backend(Backend::Ring)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("\"ring\""), "{err}");
}

#[cfg(feature = "aws-lc-rs")]
#[test]
fn aws_lc_rs_prefers_post_quantum_key_exchange() {
    let server = Policy::new().identity(openssl_identity("server.chain.pem", "server.key"));
    let info = handshake_with(server, openssl_client_policy().backend(Backend::AwsLcRs));
    assert_eq!(info.key_exchange_group.as_deref(), Some("X25519MLKEM768"));
}

// ---- password-protected keys and PKCS#12 (features encrypted-keys, pkcs12) ----

#[cfg(feature = "encrypted-keys")]
#[test]
fn encrypted_pkcs8_from_openssl_serves_a_handshake() {
    let chain = std::fs::read(pki_file("server.chain.pem")).unwrap();
    let key = std::fs::read(pki_file("server.key.enc.p8")).unwrap();
    let identity = Identity::from_pem_encrypted(&chain, &key, PASSWORD).unwrap();
    handshake_with(Policy::new().identity(identity), openssl_client_policy());
    // The same through load_object, as an RsaKey or a Pkcs8 object.
    for kind in [ObjectKind::Pkcs8, ObjectKind::RsaKey] {
        let server = Policy::new()
            .load_object(ObjectKind::X509Cert, pki_file("server.chain.pem"), None)
            .unwrap()
            .load_object(kind, pki_file("server.key.enc.p8"), Some(PASSWORD))
            .unwrap();
        handshake_with(server, openssl_client_policy());
    }
}

#[cfg(feature = "encrypted-keys")]
#[test]
fn encrypted_pkcs8_wrong_or_missing_password_says_so() {
    let chain = std::fs::read(pki_file("server.chain.pem")).unwrap();
    let key = std::fs::read(pki_file("server.key.enc.p8")).unwrap();
    for wrong in ["wrong-password", ""] {
        let err = Identity::from_pem_encrypted(&chain, &key, wrong).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Load, "{err}");
        assert!(err.to_string().contains("password"), "{err}");
    }
    let err = Policy::new()
        .load_object(ObjectKind::Pkcs8, pki_file("server.key.enc.p8"), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
    assert!(err.to_string().contains("password is needed"), "{err}");
    assert!(err.to_string().contains("server.key.enc.p8"), "{err}");
    let err = Policy::new()
        .load_object(
            ObjectKind::Pkcs8,
            pki_file("server.key.enc.p8"),
            Some("nope"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
}

#[cfg(feature = "encrypted-keys")]
#[test]
fn pbkdf2_iteration_bomb_is_refused_before_deriving() {
    let chain = std::fs::read(pki_file("server.chain.pem")).unwrap();
    let bomb = std::fs::read(pki_file("pbkdf2-iterbomb.p8.der")).unwrap();
    let started = std::time::Instant::now();
    let err = Identity::from_pem_encrypted(&chain, &bomb, PASSWORD).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    // 8 million PBKDF2 rounds would take seconds; the check comes first.
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[cfg(feature = "pkcs12")]
#[test]
fn pkcs12_modern_and_legacy_from_openssl_serve_handshakes() {
    let leaf = Identity::from_pem_files(pki_file("server.pem"), pki_file("server.key")).unwrap();
    for file in ["server.p12", "server.legacy.p12"] {
        let identity = Identity::from_pkcs12_file(pki_file(file), PASSWORD).unwrap();
        assert_eq!(identity.chain().len(), 2, "{file}: leaf and intermediate");
        assert_eq!(identity.chain()[0], leaf.chain()[0], "{file}: leaf first");
        let info = handshake_with(Policy::new().identity(identity), openssl_client_policy());
        assert_eq!(info.peer_certificates[0], leaf.chain()[0]);
        let der = std::fs::read(pki_file(file)).unwrap();
        Identity::from_pkcs12(&der, PASSWORD).unwrap();
        let server = Policy::new()
            .load_object(ObjectKind::Pkcs12, pki_file(file), Some(PASSWORD))
            .unwrap();
        handshake_with(server, openssl_client_policy());
    }
}

#[cfg(feature = "pkcs12")]
#[test]
fn pkcs12_over_the_iteration_limit_from_openssl_is_refused_before_deriving() {
    // What `openssl pkcs12 -export -iter` writes: PBES2/PBKDF2 for the certificates'
    // encrypted content and for the key bag, over tlsport's limit of a million.
    let p12 = std::env::temp_dir().join(format!("tlsport-iter-{}.p12", std::process::id()));
    let out = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-export",
            "-iter",
            "1500000",
            "-nomaciter",
            "-inkey",
        ])
        .arg(pki_file("server.key"))
        .arg("-in")
        .arg(pki_file("server.pem"))
        .arg("-passout")
        .arg(format!("pass:{PASSWORD}"))
        .arg("-out")
        .arg(&p12)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = std::time::Instant::now();
    let result = Identity::from_pkcs12_file(&p12, PASSWORD);
    let took = started.elapsed();
    std::fs::remove_file(&p12).unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("pbkdf2 iteration count 1500000 exceeds the limit (1000000)"),
        "{text}"
    );
    assert!(text.contains(&p12.display().to_string()), "{text}");
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
}

#[cfg(feature = "pkcs12")]
#[test]
fn pkcs12_client_identity_for_mutual_tls() {
    let client = Identity::from_pkcs12_file(pki_file("client.p12"), PASSWORD).unwrap();
    let server = Policy::new()
        .identity(openssl_identity("server.chain.pem", "server.key"))
        .client_auth(tlsport::ClientAuth::Required)
        .add_roots_pem_file(pki_file("client-ca.pem"))
        .unwrap();
    let acceptor = Acceptor::new(server).unwrap();
    let connector = Connector::new(openssl_client_policy().identity(client)).unwrap();
    run(20, async {
        let (_c, s) = connected_pair(&connector, &acceptor).await;
        assert_eq!(s.info().peer_certificates.len(), 1);
    });
}

#[cfg(feature = "pkcs12")]
#[test]
fn pkcs12_wrong_password_says_so_and_names_the_file() {
    for file in ["server.p12", "server.legacy.p12"] {
        let err = Identity::from_pkcs12_file(pki_file(file), "wrong").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Load, "{err}");
        let text = err.to_string();
        assert!(text.contains("password") && text.contains(file), "{text}");
        let err = Policy::new()
            .load_object(ObjectKind::Pkcs12, pki_file(file), None)
            .unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }
    let err = Identity::from_pkcs12_file(pki_file("server.pem"), PASSWORD).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
}

#[cfg(not(feature = "pkcs12"))]
#[test]
fn pkcs12_without_the_feature_is_unsupported() {
    let err = Identity::from_pkcs12_file(pki_file("server.p12"), PASSWORD).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("\"pkcs12\""), "{err}");
}

#[cfg(not(feature = "encrypted-keys"))]
#[test]
fn encrypted_keys_without_the_feature_are_unsupported() {
    let chain = std::fs::read(pki_file("server.chain.pem")).unwrap();
    let key = std::fs::read(pki_file("server.key.enc.p8")).unwrap();
    let err = Identity::from_pem_encrypted(&chain, &key, PASSWORD).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
}
