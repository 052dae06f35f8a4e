//! `Policy::identity_for`: identities by server name, exact and one-label wildcards,
//! the default, and the `unrecognized_name` refusal when there is none.

use super::*;

use tlsport::rustls::AlertDescription;
use tlsport::{ErrorKind, Policy};

/// Identities for `a.test`, `*.wild.test` and a default (`localhost`), one CA.
struct Sites {
    pki: Pki,
    exact: Pem,
    wild: Pem,
    default: Pem,
}

impl Sites {
    fn new() -> Sites {
        let pki = Pki::new();
        Sites {
            exact: pki.ca.leaf_with(&["a.test"], |_| {}),
            wild: pki.ca.leaf_with(&["*.wild.test"], |_| {}),
            default: pki.ca.leaf_with(&["localhost"], |_| {}),
            pki,
        }
    }

    fn named(&self) -> Policy {
        Policy::new()
            .identity_for("a.test", self.exact.identity())
            .identity_for("*.WILD.test.", self.wild.identity())
    }
}

/// The certificate `acceptor` shows a client asking for `name`, or the client's error.
async fn shown(
    connector: &Connector,
    acceptor: &Acceptor,
    name: &str,
) -> Result<CertificateDer<'static>, (tlsport::Error, tlsport::Error)> {
    match handshake_pair(connector, acceptor, name).await {
        (Ok(client), Ok(_)) => Ok(leaf_of(&client)),
        (Err(c), Err(s)) => Err((c, s)),
        (c, s) => panic!("one side failed alone: client {c:?}, server {s:?}"),
    }
}

#[test]
fn names_pick_their_identity_and_others_get_the_default() {
    let sites = Sites::new();
    let acceptor = Acceptor::new(sites.named().identity(sites.default.identity())).unwrap();
    let connector = any_name_connector(&sites.pki);
    run(30, async {
        for (name, want) in [
            ("a.test", &sites.exact),
            ("A.Test", &sites.exact),
            ("x.wild.test", &sites.wild),
            ("X.WILD.TEST", &sites.wild),
            ("a-b.Wild.Test", &sites.wild),
            // One label only: the parent and deeper names are not covered.
            ("wild.test", &sites.default),
            ("a.b.wild.test", &sites.default),
            ("b.test", &sites.default),
            ("localhost", &sites.default),
        ] {
            let got = shown(&connector, &acceptor, name).await.unwrap();
            assert_eq!(got, want.cert_der(), "{name}");
        }
        // No SNI at all (an IP address sends none): the default.
        let no_sni = Connector::new(sites.pki.client_policy().sni(false)).unwrap();
        let got = shown(&no_sni, &acceptor, "localhost").await.unwrap();
        assert_eq!(got, sites.default.cert_der());
    });
}

#[test]
fn an_exact_name_wins_over_a_wildcard_and_the_last_of_a_name_wins() {
    let sites = Sites::new();
    let policy = sites
        .named()
        .identity_for("x.wild.test", sites.default.identity())
        .identity_for("a.test", sites.wild.identity());
    let acceptor = Acceptor::new(policy).unwrap();
    let connector = any_name_connector(&sites.pki);
    run(30, async {
        let got = shown(&connector, &acceptor, "x.wild.test").await.unwrap();
        assert_eq!(got, sites.default.cert_der());
        let got = shown(&connector, &acceptor, "y.wild.test").await.unwrap();
        assert_eq!(got, sites.wild.cert_der());
        let got = shown(&connector, &acceptor, "a.test").await.unwrap();
        assert_eq!(got, sites.wild.cert_der());
    });
}

/// Both sides of a refused handshake: the client saw `unrecognized_name`, the server
/// says which name it refused.
fn assert_unrecognized(result: Result<CertificateDer<'static>, (tlsport::Error, tlsport::Error)>) {
    let (client, server) = result.expect_err("the handshake should be refused");
    assert_eq!(client.kind(), ErrorKind::Tls, "{client:?}");
    assert_eq!(
        alert_of(&client),
        Some(AlertDescription::UnrecognisedName),
        "{client:?}"
    );
    assert_eq!(server.kind(), ErrorKind::Tls, "{server:?}");
    assert!(server.to_string().contains("unrecognized_name"), "{server}");
}

#[test]
fn without_a_default_unknown_and_missing_names_are_refused_with_unrecognized_name() {
    let sites = Sites::new();
    let acceptor = Acceptor::new(sites.named()).unwrap();
    let connector = any_name_connector(&sites.pki);
    run(30, async {
        for name in ["b.test", "wild.test", "a.b.wild.test", "localhost"] {
            assert_unrecognized(shown(&connector, &acceptor, name).await);
        }
        let no_sni = Connector::new(sites.pki.client_policy().sni(false)).unwrap();
        assert_unrecognized(shown(&no_sni, &acceptor, "a.test").await);
        // The known names still work, in any case.
        for name in ["a.test", "Z.wild.TEST"] {
            shown(&connector, &acceptor, name).await.unwrap();
        }
        // And over TLS 1.2.
        if cfg!(feature = "tls12") {
            let tls12 = Connector::new(
                sites
                    .pki
                    .client_policy()
                    .danger_accept_invalid_hostnames(true)
                    .protocol_versions(&[tlsport::Version::Tls12]),
            )
            .unwrap();
            let got = shown(&tls12, &acceptor, "q.wild.test").await.unwrap();
            assert_eq!(got, sites.wild.cert_der());
            assert_unrecognized(shown(&tls12, &acceptor, "b.test").await);
        }
    });
}

#[test]
fn names_work_over_tcp_through_a_listener() {
    let sites = Sites::new();
    let acceptor = Acceptor::new(sites.named()).unwrap();
    // The names verified for real, not just picked.
    let connector = sites.pki.connector();
    run(30, async {
        let listener = acceptor.bind("127.0.0.1", 0).await.unwrap();
        let addr = listener.local_addr().unwrap();
        for (name, want) in [("a.test", &sites.exact), ("www.wild.test", &sites.wild)] {
            let client = async {
                let tcp = tlsport::TcpStream::connect(addr).await.unwrap();
                connector.connect_with(name, tcp).await
            };
            let (client, served) = future::zip(client, listener.accept()).await;
            let client = client.unwrap();
            assert_eq!(leaf_of(&client), want.cert_der());
            assert_eq!(
                served.unwrap().0.info().server_name.as_deref(),
                Some(&*name.to_lowercase())
            );
        }
        // A refused name: the client sees the alert (the listener runs handshakes
        // while its accept is polled, and serves nothing here).
        let refused = async {
            let tcp = tlsport::TcpStream::connect(addr).await.unwrap();
            any_name_connector(&sites.pki)
                .connect_with("nobody.test", tcp)
                .await
                .unwrap_err()
        };
        let err = future::or(refused, async {
            let _ = listener.accept().await;
            panic!("the listener served a refused name");
        })
        .await;
        assert_eq!(alert_of(&err), Some(AlertDescription::UnrecognisedName));
    });
}

#[test]
fn bad_names_and_no_identity_at_all_are_refused_by_new() {
    let sites = Sites::new();
    for bad in [
        "*.*.test",
        "a.*.test",
        "w*.test",
        "*",
        "127.0.0.1",
        "::1",
        "bücher.test",
        "",
    ] {
        let policy = Policy::new().identity_for(bad, sites.exact.identity());
        let err = Acceptor::new(policy).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}: {err}");
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
    let err = Acceptor::new(Policy::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("identity_for"), "{err}");
}

#[test]
fn a_certificate_shared_by_many_names_is_loaded_once() {
    // 1,000 names on one identity: quick to build, and each name answers.
    let sites = Sites::new();
    let mut policy = Policy::new();
    for i in 0..1000 {
        policy = policy.identity_for(&format!("host{i}.test"), sites.exact.identity());
    }
    let started = std::time::Instant::now();
    let acceptor = Acceptor::new(policy).unwrap();
    println!("Acceptor::new with 1,000 names: {:?}", started.elapsed());
    let connector = any_name_connector(&sites.pki);
    run(30, async {
        let got = shown(&connector, &acceptor, "host999.test").await.unwrap();
        assert_eq!(got, sites.exact.cert_der());
        assert_unrecognized(shown(&connector, &acceptor, "host1000.test").await);
    });
}

#[test]
fn the_policy_debug_lists_names_but_no_keys() {
    let sites = Sites::new();
    let text = format!("{:?}", sites.named());
    assert!(
        text.contains("a.test") && text.contains("*.WILD.test."),
        "{text}"
    );
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}
