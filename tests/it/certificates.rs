//! Certificate verification: rejected server certificates and why, the two `danger_*`
//! switches, and client certificates (mutual TLS), with certificates made by rcgen over
//! in-memory pairs. The catalogue of OpenSSL-made leaves served by a real `s_server` is
//! in [`catalogue`].

mod catalogue;

use crate::common;
use common::*;

use std::sync::Arc;

use futures_lite::future;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use tlsport::rustls::CertificateError;
use tlsport::{
    Acceptor, CaBundle, ClientAuth, Connector, DuplexStream, ErrorKind, Policy, TlsStream, Version,
};

fn server_for(pem: &Pem, version: Version) -> Acceptor {
    Acceptor::new(
        Policy::new()
            .identity(pem.identity())
            .protocol_versions(&[version]),
    )
    .expect("server policy")
}

fn client_trusting(ca: &Ca) -> Connector {
    Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(ca.root.clone()),
    )
    .expect("client policy")
}

fn expired(ca: &Ca) -> Pem {
    ca.leaf_with(&["localhost"], |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    })
}

fn not_yet_valid(ca: &Ca) -> Pem {
    ca.leaf_with(&["localhost"], |p| {
        p.not_before = rcgen::date_time_ymd(2090, 1, 1);
        p.not_after = rcgen::date_time_ymd(2091, 1, 1);
    })
}

/// A handshake the client must refuse: returns (client error, server error).
async fn refused(
    connector: &Connector,
    acceptor: &Acceptor,
    name: &str,
) -> (tlsport::Error, tlsport::Error) {
    let (c, s) = handshake_pair(connector, acceptor, name).await;
    let c = c.expect_err("the client must reject the server's certificate");
    let s = s.expect_err("the server must see the client's refusal");
    assert_eq!(c.kind(), ErrorKind::Certificate, "client: {c}");
    // The client tells the server why with an alert; the server reports that alert.
    assert_eq!(s.kind(), ErrorKind::Tls, "server: {s}");
    assert!(
        s.to_string().to_lowercase().contains("alert"),
        "the server's error should mention the client's alert: {s}"
    );
    (c, s)
}

/// For each protocol version, a handshake with a server presenting `leaf` that the client
/// must refuse as `name` (see [`refused`]); returns the client's errors.
fn refused_in_every_version(
    connector: &Connector,
    leaf: &Pem,
    name: &str,
) -> Vec<(Version, tlsport::Error)> {
    versions()
        .into_iter()
        .map(|version| {
            let acceptor = server_for(leaf, version);
            let (err, _) = run(20, refused(connector, &acceptor, name));
            (version, err)
        })
        .collect()
}

/// Sends a little data each way over a finished pair.
async fn exchange(c: &mut TlsStream<DuplexStream>, s: &mut TlsStream<DuplexStream>) {
    let ((), ()) = future::zip(
        async {
            c.write_all(b"ping").await.expect("client write");
            c.flush().await.expect("client flush");
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).await.expect("client read");
            assert_eq!(&buf, b"pong");
        },
        async {
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.expect("server read");
            assert_eq!(&buf, b"ping");
            s.write_all(b"pong").await.expect("server write");
            s.flush().await.expect("server flush");
        },
    )
    .await;
}

// ---- rejected server certificates ----

#[test]
fn expired_certificate_is_rejected() {
    let pki = Pki::new();
    let leaf = expired(&pki.ca);
    let not_after = "2001-01-01 00:00:00 UTC";
    let connector = pki.connector();
    for (version, err) in refused_in_every_version(&connector, &leaf, "localhost") {
        assert!(
            matches!(
                err.certificate_error(),
                Some(CertificateError::Expired | CertificateError::ExpiredContext { .. })
            ),
            "{version:?}: {:?}",
            err.certificate_error()
        );
        let message = err.to_string();
        assert!(message.contains("expired"), "{message}");
        assert!(
            message.contains(not_after),
            "the message should give the expiry time ({not_after}): {message}"
        );
    }
}

#[test]
fn not_yet_valid_certificate_is_rejected() {
    let pki = Pki::new();
    let leaf = not_yet_valid(&pki.ca);
    let not_before = "2090-01-01 00:00:00 UTC";
    let connector = pki.connector();
    for (version, err) in refused_in_every_version(&connector, &leaf, "localhost") {
        assert!(
            matches!(
                err.certificate_error(),
                Some(CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. })
            ),
            "{version:?}: {:?}",
            err.certificate_error()
        );
        let message = err.to_string();
        assert!(message.contains("not valid until"), "{message}");
        assert!(
            message.contains(not_before),
            "the message should give the start of validity ({not_before}): {message}"
        );
    }
}

#[test]
fn wrong_host_is_rejected_naming_both_names() {
    let pki = Pki::new();
    let connector = pki.connector();
    for (version, err) in refused_in_every_version(&connector, &pki.server, "wrong.example") {
        assert!(
            matches!(
                err.certificate_error(),
                Some(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{version:?}: {:?}",
            err.certificate_error()
        );
        let message = err.to_string();
        assert!(
            message.contains("wrong.example"),
            "the message should name the expected host: {message}"
        );
        assert!(
            message.contains("localhost"),
            "the message should name the certificate's names: {message}"
        );
    }
}

#[test]
fn unknown_issuer_is_rejected() {
    let pki = Pki::new();
    let stranger = Ca::new("untrusted test root");
    let leaf = stranger.server();
    let connector = pki.connector();
    for (version, err) in refused_in_every_version(&connector, &leaf, "localhost") {
        assert!(
            matches!(
                err.certificate_error(),
                Some(CertificateError::UnknownIssuer)
            ),
            "{version:?}: {:?}",
            err.certificate_error()
        );
        assert!(
            err.to_string().contains("not issued by a trusted root"),
            "the message should say why: {err}"
        );
    }
    // Trusting that CA instead makes the same server acceptable.
    let acceptor = server_for(&leaf, Version::Tls13);
    run(20, async {
        let (c, s) = connected_pair(&client_trusting(&stranger), &acceptor).await;
        assert_eq!(c.info().peer_certificates[0], leaf.cert_der());
        drop(s);
    });
}

#[test]
fn self_signed_is_rejected() {
    let pki = Pki::new();
    let leaf = self_signed();
    let connector = pki.connector();
    for (version, err) in refused_in_every_version(&connector, &leaf, "localhost") {
        assert!(
            matches!(
                err.certificate_error(),
                Some(CertificateError::UnknownIssuer)
            ),
            "{version:?}: {:?}",
            err.certificate_error()
        );
    }
}

#[test]
fn verification_on_with_no_roots_is_a_config_error() {
    let err = Connector::new(Policy::new().ca_bundle(CaBundle::Empty)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let err = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .danger_accept_invalid_hostnames(true),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

// ---- danger_accept_invalid_certs ----

fn accept_anything() -> Connector {
    Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .danger_accept_invalid_certs(true),
    )
    .expect("verification off needs no roots")
}

#[test]
fn accept_invalid_certs_accepts_bad_certificates() {
    let pki = Pki::new();
    let stranger = Ca::new("untrusted test root");
    let connector = accept_anything();
    let cases = [
        ("expired", expired(&pki.ca), "localhost"),
        ("not yet valid", not_yet_valid(&pki.ca), "localhost"),
        ("self-signed", self_signed(), "localhost"),
        ("unknown issuer", stranger.server(), "localhost"),
        ("wrong host", pki.ca.server(), "wrong.example"),
        ("wrong IP", pki.ca.server(), "127.0.0.2"),
    ];
    for version in versions() {
        for (what, leaf, name) in &cases {
            let acceptor = server_for(leaf, version);
            run(20, async {
                let (c, s) = handshake_pair(&connector, &acceptor, name).await;
                let mut c = c.unwrap_or_else(|e| panic!("{what}, {version:?}: client: {e}"));
                let mut s = s.unwrap_or_else(|e| panic!("{what}, {version:?}: server: {e}"));
                assert_eq!(c.info().peer_certificates[0], leaf.cert_der(), "{what}");
                exchange(&mut c, &mut s).await;
            });
        }
    }
}

#[cfg(feature = "aws-lc-rs")]
fn provider() -> Arc<tlsport::rustls::crypto::CryptoProvider> {
    Arc::new(tlsport::rustls::crypto::aws_lc_rs::default_provider())
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
fn provider() -> Arc<tlsport::rustls::crypto::CryptoProvider> {
    Arc::new(tlsport::rustls::crypto::ring::default_provider())
}

/// Presents one certified key whatever the client asks.
#[derive(Debug)]
struct Fixed(Arc<tlsport::rustls::sign::CertifiedKey>);

impl tlsport::rustls::server::ResolvesServerCert for Fixed {
    fn resolve(
        &self,
        _hello: tlsport::rustls::server::ClientHello<'_>,
    ) -> Option<Arc<tlsport::rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A hand-built server presenting `cert`'s certificate but signing with `key`'s key
/// (tlsport's `Identity` refuses such a pair, rustls's `CertifiedKey::new` does not).
fn server_signing_with(cert: &Pem, key: &Pem, version: Version) -> Acceptor {
    use tlsport::rustls;
    let provider = provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key.key_der())
        .expect("signing key");
    let certified = rustls::sign::CertifiedKey::new(vec![cert.cert_der()], signing_key);
    let versions: &[&'static rustls::SupportedProtocolVersion] = match version {
        #[cfg(feature = "tls12")]
        Version::Tls12 => &[&rustls::version::TLS12],
        _ => &[&rustls::version::TLS13],
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(Arc::new(certified))));
    Acceptor::from(Arc::new(config))
}

#[test]
fn accept_invalid_certs_still_checks_the_handshake_signature() {
    let pki = Pki::new();
    let impostor = self_signed(); // same key type (ECDSA P-256), another key
    let connector = accept_anything();
    for version in versions() {
        // Control: the hand-built server with the right key is accepted.
        let honest = server_signing_with(&pki.server, &pki.server, version);
        run(20, async {
            let (c, s) = handshake_pair(&connector, &honest, "localhost").await;
            let (mut c, mut s) = (c.expect("honest client"), s.expect("honest server"));
            exchange(&mut c, &mut s).await;
        });
        // The server presents the real certificate without holding its key.
        let forger = server_signing_with(&pki.server, &impostor, version);
        run(20, async {
            let (c, _s) = handshake_pair(&connector, &forger, "localhost").await;
            let err = c.expect_err("a signature made with another key must be refused");
            assert_eq!(err.kind(), ErrorKind::Certificate, "{version:?}: {err}");
            assert!(
                matches!(
                    err.certificate_error(),
                    Some(CertificateError::BadSignature)
                ),
                "{version:?}: {:?}",
                err.certificate_error()
            );
        });
    }
}

// ---- danger_accept_invalid_hostnames ----

#[test]
fn accept_invalid_hostnames_forgives_only_the_name() {
    let pki = Pki::new();
    let stranger = Ca::new("untrusted test root");
    let connector = Connector::new(pki.client_policy().danger_accept_invalid_hostnames(true))
        .expect("client policy");
    for version in versions() {
        let acceptor = server_for(&pki.server, version);
        run(20, async {
            for name in ["wrong.example", "127.0.0.2", "localhost"] {
                let (c, s) = handshake_pair(&connector, &acceptor, name).await;
                let mut c = c.unwrap_or_else(|e| panic!("{version:?} {name}: {e}"));
                let mut s = s.expect("server");
                exchange(&mut c, &mut s).await;
            }
        });

        let acceptor = server_for(&expired(&pki.ca), version);
        run(20, async {
            for name in ["localhost", "wrong.example"] {
                let (err, _) = refused(&connector, &acceptor, name).await;
                assert!(
                    matches!(
                        err.certificate_error(),
                        Some(CertificateError::Expired | CertificateError::ExpiredContext { .. })
                    ),
                    "{version:?} {name}: {:?}",
                    err.certificate_error()
                );
            }
        });

        let acceptor = server_for(&stranger.server(), version);
        run(20, async {
            for name in ["localhost", "wrong.example"] {
                let (err, _) = refused(&connector, &acceptor, name).await;
                assert!(
                    matches!(
                        err.certificate_error(),
                        Some(CertificateError::UnknownIssuer)
                    ),
                    "{version:?} {name}: {:?}",
                    err.certificate_error()
                );
            }
        });

        let acceptor = server_for(&self_signed(), version);
        run(20, async {
            let (err, _) = refused(&connector, &acceptor, "wrong.example").await;
            assert!(
                matches!(
                    err.certificate_error(),
                    Some(CertificateError::UnknownIssuer)
                ),
                "{version:?}: {:?}",
                err.certificate_error()
            );
        });
    }
}

fn name_error(err: &tlsport::Error) -> bool {
    matches!(
        err.certificate_error(),
        Some(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })
    )
}

/// Under `danger_accept_invalid_hostnames` the chain is verified against a name the leaf
/// holds: a wildcard, an IP address. A leaf naming nothing must be valid for the name
/// asked for (it never is), whatever its chain.
#[test]
fn accept_invalid_hostnames_with_wildcard_ip_and_nameless_leaves() {
    let pki = Pki::new();
    let stranger = Ca::new("untrusted test root");
    let connector = Connector::new(pki.client_policy().danger_accept_invalid_hostnames(true))
        .expect("client policy");
    let wildcard = ["*.wild.test"];
    let ip_only = ["192.0.2.7"];
    for version in versions() {
        for names in [&wildcard[..], &ip_only] {
            let acceptor = server_for(&pki.ca.leaf_with(names, |_| {}), version);
            run(20, async {
                for asked in ["localhost", "a.wild.test", "other.example", "192.0.2.8"] {
                    let (c, s) = handshake_pair(&connector, &acceptor, asked).await;
                    let mut c = c.unwrap_or_else(|e| panic!("{version:?} {names:?} {asked}: {e}"));
                    exchange(&mut c, &mut s.expect("server")).await;
                }
            });
            let stale = pki.ca.leaf_with(names, |p| {
                p.not_before = rcgen::date_time_ymd(2000, 1, 1);
                p.not_after = rcgen::date_time_ymd(2001, 1, 1);
            });
            for (leaf, what) in [
                (stale, "expired"),
                (stranger.leaf_with(names, |_| {}), "untrusted"),
            ] {
                let acceptor = server_for(&leaf, version);
                run(20, async {
                    for asked in ["localhost", "a.wild.test"] {
                        let (err, _) = refused(&connector, &acceptor, asked).await;
                        let expected = match what {
                            "expired" => matches!(
                                err.certificate_error(),
                                Some(
                                    CertificateError::Expired
                                        | CertificateError::ExpiredContext { .. }
                                )
                            ),
                            _ => matches!(
                                err.certificate_error(),
                                Some(CertificateError::UnknownIssuer)
                            ),
                        };
                        assert!(expected, "{version:?} {what} {names:?} as {asked}: {err}");
                    }
                });
            }
        }
        // No SAN at all, only a common name.
        let nameless = pki.ca.leaf_with(&[], |p| {
            p.distinguished_name
                .push(rcgen::DnType::CommonName, "localhost");
        });
        let acceptor = server_for(&nameless, version);
        run(20, async {
            for asked in ["localhost", "other.example"] {
                let (err, _) = refused(&connector, &acceptor, asked).await;
                assert!(name_error(&err), "{version:?} nameless as {asked}: {err}");
            }
        });
        let acceptor = server_for(&stranger.leaf_with(&[], |_| {}), version);
        run(20, async {
            let (err, _) = refused(&connector, &acceptor, "localhost").await;
            assert!(
                matches!(
                    err.certificate_error(),
                    Some(CertificateError::UnknownIssuer)
                ),
                "{version:?} untrusted nameless: {err}"
            );
        });
    }
}

/// The bad leaves of the OpenSSL test PKI under `danger_accept_invalid_hostnames`: only
/// the name is forgiven.
#[test]
fn accept_invalid_hostnames_with_the_openssl_leaves() {
    let connector = Connector::new(openssl_client_policy().danger_accept_invalid_hostnames(true))
        .expect("client policy");
    let handshake = |chain: &str, asked: &str| {
        let acceptor = Acceptor::new(
            Policy::new()
                .ca_bundle(CaBundle::Empty)
                .identity(openssl_identity(chain, "server.key")),
        )
        .expect("server policy");
        run(20, async {
            let (c, s) = handshake_pair(&connector, &acceptor, asked).await;
            c.map(|_| drop(s.expect("the server side of a good handshake")))
        })
    };
    for chain in [
        "server.chain.pem",
        "wronghost.chain.pem",
        "wildcard.chain.pem",
    ] {
        for asked in ["localhost", "wrong.example.com", "127.0.0.1"] {
            handshake(chain, asked).unwrap_or_else(|e| panic!("{chain} as {asked}: {e}"));
        }
    }
    let cases = [
        ("expired.chain.pem", "expired"),
        ("untrusted.chain.pem", "unknown issuer"),
        ("nosan.chain.pem", "name"),
        ("nul-san.chain.pem", "name"),
        // A name outside the intermediate's constraints, a leaf for clients only.
        ("nc-violation.chain.pem", "not the name"),
        ("clientauth-eku.chain.pem", "not the name"),
    ];
    for (chain, expected) in cases {
        for asked in ["localhost", "wrong.example.com"] {
            let err = handshake(chain, asked).expect_err(chain);
            assert_eq!(
                err.kind(),
                ErrorKind::Certificate,
                "{chain} as {asked}: {err}"
            );
            let cause = err.certificate_error().expect("a certificate error");
            let name = name_error(&err);
            let as_expected = match expected {
                "expired" => matches!(
                    cause,
                    CertificateError::Expired | CertificateError::ExpiredContext { .. }
                ),
                "unknown issuer" => matches!(cause, CertificateError::UnknownIssuer),
                "name" => name,
                _ => !name,
            };
            assert!(
                as_expected,
                "{chain} as {asked}: {expected} expected: {err}"
            );
        }
    }
}

// ---- client certificates (mutual TLS) ----

fn mtls_acceptor(pki: &Pki, mode: ClientAuth, version: Version) -> Acceptor {
    Acceptor::new(
        pki.server_policy()
            .client_auth(mode)
            .add_root_certificate(pki.client_ca.root.clone())
            .protocol_versions(&[version]),
    )
    .expect("mTLS server policy")
}

fn client_with(pki: &Pki, identity: Option<&Pem>) -> Connector {
    let policy = pki.client_policy();
    let policy = match identity {
        Some(pem) => policy.identity(pem.identity()),
        None => policy,
    };
    Connector::new(policy).expect("client policy")
}

/// The client's side of a handshake the server refused: an error from the handshake
/// (TLS 1.2), or from the first read (TLS 1.3, where the client finishes first).
async fn client_sees_refusal(client: tlsport::Result<TlsStream<DuplexStream>>, what: &str) {
    match client {
        Err(err) => assert_eq!(err.kind(), ErrorKind::Tls, "{what}: {err}"),
        Ok(mut stream) => {
            let mut buf = [0u8; 16];
            let err = stream
                .read(&mut buf)
                .await
                .expect_err("the server's refusal must reach the client's reads");
            let err = carried(err);
            assert_eq!(err.kind(), ErrorKind::Tls, "{what}: {err}");
            assert!(err.to_string().contains("alert"), "{what}: {err}");
        }
    }
}

#[test]
fn mtls_required_with_a_good_client_certificate() {
    let pki = Pki::new();
    let connector = client_with(&pki, Some(&pki.client));
    for version in versions() {
        let acceptor = mtls_acceptor(&pki, ClientAuth::Required, version);
        run(20, async {
            let (mut c, mut s) = connected_pair(&connector, &acceptor).await;
            let peers = s.info().peer_certificates;
            assert_eq!(
                peers.first(),
                Some(&pki.client.cert_der()),
                "{version:?}: the server must see the client's leaf"
            );
            assert_eq!(c.info().peer_certificates[0], pki.server.cert_der());
            exchange(&mut c, &mut s).await;
        });
    }
}

#[test]
fn mtls_required_without_a_client_certificate() {
    let pki = Pki::new();
    let connector = client_with(&pki, None);
    for version in versions() {
        let acceptor = mtls_acceptor(&pki, ClientAuth::Required, version);
        run(20, async {
            let (c, s) = handshake_pair(&connector, &acceptor, "localhost").await;
            let s = s.expect_err("the server must refuse a client without a certificate");
            assert_eq!(s.kind(), ErrorKind::Certificate, "{version:?} server: {s}");
            if version == Version::Tls12 {
                // In TLS 1.2 the server's refusal comes before the client is done.
                let c = c.expect_err("TLS 1.2 client handshake must fail");
                assert_eq!(c.kind(), ErrorKind::Tls, "client: {c}");
            } else {
                client_sees_refusal(c, "TLS 1.3 client").await;
            }
        });
    }
}

#[test]
fn mtls_required_refuses_an_untrusted_client_certificate() {
    let pki = Pki::new();
    let stranger = Ca::new("untrusted client root");
    let intruder = stranger.leaf_with(&["client.test"], |_| {});
    let connector = client_with(&pki, Some(&intruder));
    for version in versions() {
        let acceptor = mtls_acceptor(&pki, ClientAuth::Required, version);
        run(20, async {
            let (c, s) = handshake_pair(&connector, &acceptor, "localhost").await;
            let s = s.expect_err("the server must refuse an untrusted client certificate");
            assert_eq!(s.kind(), ErrorKind::Certificate, "{version:?} server: {s}");
            assert!(
                matches!(s.certificate_error(), Some(CertificateError::UnknownIssuer)),
                "{version:?}: {:?}",
                s.certificate_error()
            );
            client_sees_refusal(c, "client with an untrusted certificate").await;
        });
    }
}

#[test]
fn mtls_required_refuses_an_expired_client_certificate() {
    let pki = Pki::new();
    let stale = pki.client_ca.leaf_with(&["client.test"], |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let connector = client_with(&pki, Some(&stale));
    let acceptor = mtls_acceptor(&pki, ClientAuth::Required, Version::Tls13);
    run(20, async {
        let (c, s) = handshake_pair(&connector, &acceptor, "localhost").await;
        let s = s.expect_err("the server must refuse an expired client certificate");
        assert_eq!(s.kind(), ErrorKind::Certificate, "server: {s}");
        assert!(
            matches!(
                s.certificate_error(),
                Some(CertificateError::Expired | CertificateError::ExpiredContext { .. })
            ),
            "{:?}",
            s.certificate_error()
        );
        client_sees_refusal(c, "client with an expired certificate").await;
    });
}

#[test]
fn mtls_optional() {
    let pki = Pki::new();
    let anonymous = client_with(&pki, None);
    let known = client_with(&pki, Some(&pki.client));
    let stranger = Ca::new("untrusted client root");
    let intruder = client_with(&pki, Some(&stranger.leaf_with(&["client.test"], |_| {})));
    for version in versions() {
        let acceptor = mtls_acceptor(&pki, ClientAuth::Optional, version);
        run(20, async {
            let (mut c, mut s) = connected_pair(&anonymous, &acceptor).await;
            assert!(
                s.info().peer_certificates.is_empty(),
                "{version:?}: no client certificate was sent"
            );
            exchange(&mut c, &mut s).await;

            let (mut c, mut s) = connected_pair(&known, &acceptor).await;
            assert_eq!(
                s.info().peer_certificates.first(),
                Some(&pki.client.cert_der()),
                "{version:?}"
            );
            exchange(&mut c, &mut s).await;

            // Optional, but one that is offered is still verified.
            let (c, s) = handshake_pair(&intruder, &acceptor, "localhost").await;
            let s = s.expect_err("an offered untrusted certificate must be refused");
            assert_eq!(s.kind(), ErrorKind::Certificate, "{version:?} server: {s}");
            client_sees_refusal(c, "untrusted client under Optional").await;
        });
    }
}

#[test]
fn no_client_auth_ignores_client_certificates() {
    let pki = Pki::new();
    let connector = client_with(&pki, Some(&pki.client));
    run(20, async {
        let (mut c, mut s) = connected_pair(&connector, &pki.acceptor()).await;
        assert!(s.info().peer_certificates.is_empty());
        exchange(&mut c, &mut s).await;
    });
}

#[test]
fn client_auth_without_roots_is_a_config_error() {
    let pki = Pki::new();
    for mode in [ClientAuth::Required, ClientAuth::Optional] {
        let err = Acceptor::new(
            Policy::new()
                .ca_bundle(CaBundle::Empty)
                .identity(pki.server.identity())
                .client_auth(mode),
        )
        .expect_err("client_auth with nothing to verify against");
        assert_eq!(err.kind(), ErrorKind::Config, "{mode:?}: {err}");
    }
    // No client auth needs no roots.
    Acceptor::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .identity(pki.server.identity()),
    )
    .expect("a server without client auth needs no roots");
    // A server needs an identity.
    let err = Acceptor::new(Policy::new()).expect_err("no identity");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

// ---- which roots verify client certificates ----

/// A server with the OpenSSL PKI's identity asking for client certificates in `mode`,
/// after `tweak`.
fn openssl_mtls_server(
    mode: ClientAuth,
    version: Version,
    tweak: impl FnOnce(Policy) -> Policy,
) -> tlsport::Result<Acceptor> {
    Acceptor::new(tweak(
        Policy::new()
            .identity(openssl_identity("server.chain.pem", "server.key"))
            .client_auth(mode)
            .protocol_versions(&[version]),
    ))
}

/// A client of the OpenSSL PKI presenting `client.pem`, issued by `client-ca.pem`.
fn openssl_client(with_certificate: bool) -> Connector {
    let policy = openssl_client_policy();
    let policy = match with_certificate {
        true => policy.identity(openssl_identity("client.pem", "client.key")),
        false => policy,
    };
    Connector::new(policy).expect("client policy")
}

/// The client CA in the server's `ca_bundle` (the bundle for verifying servers) does not
/// let its clients in: the bundle was the same for both before `client_auth_roots`, so
/// a public bundle let in any public certificate with the clientAuth usage.
#[test]
fn client_auth_never_uses_the_ca_bundle() {
    let client_ca = CaBundle::File(pki_file("client-ca.pem"));
    let other = Ca::new("some other client root");
    let known = openssl_client(true);
    let anonymous = openssl_client(false);
    for mode in [ClientAuth::Required, ClientAuth::Optional] {
        // Nothing but the ca_bundle: no roots for clients at all.
        let err = openssl_mtls_server(mode, Version::Tls13, |p| p.ca_bundle(client_ca.clone()))
            .expect_err("the ca_bundle holds no roots for clients");
        assert_eq!(err.kind(), ErrorKind::Config, "{mode:?}: {err}");
        assert!(
            err.to_string().contains("client_auth_roots"),
            "{mode:?}: {err}"
        );

        for version in versions() {
            let acceptor = openssl_mtls_server(mode, version, |p| {
                p.ca_bundle(client_ca.clone())
                    .add_root_certificate(other.root.clone())
            })
            .expect("server policy");
            run(20, async {
                let (c, s) = handshake_pair(&known, &acceptor, "localhost").await;
                let s =
                    s.expect_err("a client CA trusted only for servers must not let clients in");
                assert_eq!(
                    s.kind(),
                    ErrorKind::Certificate,
                    "{mode:?} {version:?}: {s}"
                );
                assert!(
                    matches!(s.certificate_error(), Some(CertificateError::UnknownIssuer)),
                    "{mode:?} {version:?}: {s}"
                );
                client_sees_refusal(c, "client under the server's ca_bundle").await;
                if mode == ClientAuth::Optional {
                    let (mut c, mut s) = connected_pair(&anonymous, &acceptor).await;
                    exchange(&mut c, &mut s).await;
                }
            });
        }
    }
}

#[test]
fn client_auth_roots_or_a_hand_added_root_let_the_client_in() {
    let client_ca = CaBundle::File(pki_file("client-ca.pem"));
    let client_leaf =
        tlsport::Identity::from_pem_files(pki_file("client.pem"), pki_file("client.key"))
            .unwrap()
            .chain()[0]
            .clone();
    let known = openssl_client(true);
    let anonymous = openssl_client(false);
    type Tweak = Box<dyn Fn(Policy) -> Policy>;
    let client_ca_der = {
        use tlsport::pki_types::CertificateDer;
        use tlsport::pki_types::pem::PemObject;
        CertificateDer::from_pem_file(pki_file("client-ca.pem")).unwrap()
    };
    let ways: Vec<(&str, Tweak)> = vec![
        ("client_auth_roots(File)", {
            let bundle = client_ca.clone();
            Box::new(move |p: Policy| {
                p.ca_bundle(CaBundle::Empty)
                    .client_auth_roots(bundle.clone())
            })
        }),
        ("client_auth_roots(File) beside the same ca_bundle", {
            let bundle = client_ca.clone();
            Box::new(move |p: Policy| {
                p.ca_bundle(bundle.clone())
                    .client_auth_roots(bundle.clone())
            })
        }),
        ("add_root_certificate", {
            let der = client_ca_der.clone();
            Box::new(move |p: Policy| {
                p.ca_bundle(client_ca.clone())
                    .add_root_certificate(der.clone())
            })
        }),
        (
            "add_roots_pem_file",
            Box::new(|p: Policy| p.add_roots_pem_file(pki_file("client-ca.pem")).unwrap()),
        ),
    ];
    for mode in [ClientAuth::Required, ClientAuth::Optional] {
        for (way, tweak) in &ways {
            for version in versions() {
                let acceptor = openssl_mtls_server(mode, version, tweak)
                    .unwrap_or_else(|e| panic!("{way} {mode:?}: {e}"));
                run(20, async {
                    let (mut c, mut s) = connected_pair(&known, &acceptor).await;
                    assert_eq!(
                        s.info().peer_certificates.first(),
                        Some(&client_leaf),
                        "{way} {mode:?} {version:?}"
                    );
                    exchange(&mut c, &mut s).await;
                    let (c, s) = handshake_pair(&anonymous, &acceptor, "localhost").await;
                    match mode {
                        ClientAuth::Optional => {
                            let (mut c, mut s) = (c.unwrap(), s.unwrap());
                            exchange(&mut c, &mut s).await;
                        }
                        _ => {
                            let s = s.expect_err("no certificate under Required");
                            assert_eq!(s.kind(), ErrorKind::Certificate, "{way}: {s}");
                            if version == Version::Tls13 {
                                client_sees_refusal(c, "anonymous client").await;
                            }
                        }
                    }
                });
            }
        }
    }
}

#[test]
fn client_auth_roots_of_another_ca_refuse_the_client() {
    let known = openssl_client(true);
    for mode in [ClientAuth::Required, ClientAuth::Optional] {
        let acceptor = openssl_mtls_server(mode, Version::Tls13, |p| {
            p.client_auth_roots(CaBundle::File(pki_file("root-ca.pem")))
        })
        .expect("server policy");
        run(20, async {
            let (c, s) = handshake_pair(&known, &acceptor, "localhost").await;
            let s = s.expect_err("a client of another CA");
            assert!(
                matches!(s.certificate_error(), Some(CertificateError::UnknownIssuer)),
                "{mode:?}: {s}"
            );
            client_sees_refusal(c, "client of another CA").await;
        });
    }
}

#[test]
fn client_auth_roots_system_is_a_config_error_and_a_bad_file_a_load_error() {
    let client_ca = pki_file("client-ca.pem");
    for mode in [ClientAuth::Required, ClientAuth::Optional] {
        // Refused even beside hand-added roots: it would silently mean something else.
        let err = openssl_mtls_server(mode, Version::Tls13, |p| {
            p.client_auth_roots(CaBundle::System)
                .add_roots_pem_file(&client_ca)
                .unwrap()
        })
        .expect_err("CaBundle::System cannot verify clients");
        assert_eq!(err.kind(), ErrorKind::Config, "{mode:?}: {err}");
        assert!(err.to_string().contains("CaBundle::System"), "{err}");

        let missing = pki_file("no-such-client-ca.pem");
        let err = openssl_mtls_server(mode, Version::Tls13, |p| {
            p.client_auth_roots(CaBundle::File(missing.clone()))
        })
        .expect_err("a missing file");
        assert_eq!(err.kind(), ErrorKind::Load, "{mode:?}: {err}");
        assert!(
            err.to_string().contains(&*missing.to_string_lossy()),
            "{err}"
        );
    }
    // Without client_auth the roots for clients are not used, nor read.
    openssl_mtls_server(ClientAuth::None, Version::Tls13, |p| {
        p.client_auth_roots(CaBundle::System)
    })
    .expect("client_auth_roots is unused without client_auth");
    openssl_mtls_server(ClientAuth::None, Version::Tls13, |p| {
        p.client_auth_roots(CaBundle::File(pki_file("no-such-client-ca.pem")))
    })
    .expect("client_auth_roots is unused without client_auth");
}
