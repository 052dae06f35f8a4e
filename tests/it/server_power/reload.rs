//! `Acceptor::reload`: new handshakes of the acceptor, its clones and its listeners use
//! the new policy; sessions made before are untouched; a failed reload changes nothing;
//! sessions of the old configuration are not resumed; reloads racing with handshakes
//! never show a half-built configuration.

use super::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use tlsport::{ErrorKind, Policy};

/// Two identities for localhost from the test CA.
fn two(pki: &Pki) -> (Pem, Pem) {
    (pki.ca.server(), pki.ca.server())
}

#[test]
fn a_reload_reaches_new_handshakes_and_spares_sessions_made_before() {
    let pki = Pki::new();
    let (a, b) = two(&pki);
    let acceptor = Acceptor::new(Policy::new().identity(a.identity())).unwrap();
    let clone = acceptor.clone();
    let connector = Connector::new(pki.client_policy().session_cache(0)).unwrap();
    run(30, async {
        let (mut old_client, mut old_server) = connected_pair(&connector, &clone).await;
        assert_eq!(leaf_of(&old_client), a.cert_der());

        acceptor
            .reload(Policy::new().identity(b.identity()).alpn_protocols(["b"]))
            .unwrap();
        // The clone answers with the new policy.
        let (client, _server) = connected_pair(&connector, &clone).await;
        assert_eq!(leaf_of(&client), b.cert_der());
        assert!(Arc::ptr_eq(
            &clone.rustls_config(),
            &acceptor.rustls_config()
        ));
        assert_eq!(clone.rustls_config().alpn_protocols, [b"b".to_vec()]);
        // current_policy() is the new policy; policy() the one it was built with.
        let alpn = |policy: &Policy| {
            let text = format!("{policy:?}");
            text.contains(r#"alpn_protocols: ["b"]"#)
        };
        assert!(alpn(&clone.current_policy()));
        assert!(!alpn(acceptor.policy()));

        // The session made before carries on, both ways.
        old_client.write_all(b"still here?\n").await.unwrap();
        let mut line = [0u8; 12];
        old_server.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"still here?\n");
        exchange(&mut old_client, &mut old_server).await;
    });
}

#[test]
fn a_failed_reload_changes_nothing() {
    let pki = Pki::new();
    let (a, b) = two(&pki);
    let acceptor = Acceptor::new(Policy::new().identity(a.identity())).unwrap();
    let before = acceptor.rustls_config();
    for (bad, kind) in [
        (Policy::new(), ErrorKind::Config),
        (
            Policy::new().identity_for("*.*.test", b.identity()),
            ErrorKind::InvalidInput,
        ),
        (
            Policy::new().identity(b.identity()).alpn_protocols([""]),
            ErrorKind::InvalidInput,
        ),
    ] {
        let err = acceptor.reload(bad).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(Arc::ptr_eq(&before, &acceptor.rustls_config()));
    }
    let connector = pki.connector();
    run(30, async {
        let (client, _server) = connected_pair(&connector, &acceptor).await;
        assert_eq!(leaf_of(&client), a.cert_der());
    });
}

#[test]
fn a_listener_made_before_a_reload_serves_the_new_identity() {
    let pki = Pki::new();
    let (a, b) = two(&pki);
    let acceptor = Acceptor::new(Policy::new().identity(a.identity())).unwrap();
    let connector = Connector::new(pki.client_policy().session_cache(0)).unwrap();
    run(30, async {
        let listener = acceptor.bind("127.0.0.1", 0).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connect = || async {
            let tcp = tlsport::TcpStream::connect(addr).await.unwrap();
            connector.connect_with("localhost", tcp).await.unwrap()
        };
        let (client, _) = future::zip(connect(), listener.accept()).await;
        assert_eq!(leaf_of(&client), a.cert_der());
        acceptor
            .reload(Policy::new().identity(b.identity()))
            .unwrap();
        let (client, _) = future::zip(connect(), listener.accept()).await;
        assert_eq!(leaf_of(&client), b.cert_der());
    });
}

#[test]
fn a_session_of_the_old_configuration_is_not_resumed_after_a_reload() {
    let pki = Pki::new();
    let (a, b) = two(&pki);
    let acceptor = Acceptor::new(Policy::new().identity(a.identity())).unwrap();
    // Resumption on (the default session cache), on both sides.
    let connector = pki.connector();
    run(30, async {
        let connect = || async {
            let (mut client, mut server) = connected_pair(&connector, &acceptor).await;
            exchange(&mut client, &mut server).await;
            (client.info().resumed, leaf_of(&client))
        };
        assert_eq!(connect().await, (false, a.cert_der()));
        assert!(connect().await.0, "resumption works before the reload");

        acceptor
            .reload(Policy::new().identity(b.identity()))
            .unwrap();
        // The client offers its session of the old configuration: a full handshake,
        // with the new certificate.
        assert_eq!(connect().await, (false, b.cert_der()));
        assert!(connect().await.0, "sessions of the new one resume");
    });
}

#[test]
fn reloads_racing_with_handshakes_never_show_a_half_built_configuration() {
    // Two complete policies that differ in identity and in ALPN: every handshake must
    // see one of them whole (the certificate and the protocol of the same one).
    let pki = Pki::new();
    let (a, b) = two(&pki);
    let policy_a = Policy::new().identity(a.identity()).alpn_protocols(["a"]);
    let policy_b = Policy::new().identity(b.identity()).alpn_protocols(["b"]);
    let acceptor = Acceptor::new(policy_a.clone()).unwrap();
    let connector = Connector::new(
        pki.client_policy()
            .alpn_protocols(["a", "b"])
            .session_cache(0),
    )
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reloads = Arc::new(AtomicUsize::new(0));
    let reloader = {
        let (acceptor, stop, reloads) = (acceptor.clone(), stop.clone(), reloads.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let n = reloads.fetch_add(1, Ordering::Relaxed);
                let next = if n % 2 == 0 { &policy_b } else { &policy_a };
                acceptor.reload(next.clone()).unwrap();
            }
        })
    };
    let seen_a = Arc::new(AtomicUsize::new(0));
    let seen_b = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (acceptor, connector) = (acceptor.clone(), connector.clone());
            let (a, b) = (a.cert_der(), b.cert_der());
            let (seen_a, seen_b) = (seen_a.clone(), seen_b.clone());
            thread::spawn(move || {
                for _ in 0..40 {
                    let (client, server) = run(30, connected_pair(&connector, &acceptor));
                    let alpn = client.info().alpn_protocol.expect("an ALPN protocol");
                    assert_eq!(server.info().alpn_protocol.as_deref(), Some(&alpn[..]));
                    let leaf = leaf_of(&client);
                    if leaf == a && alpn == b"a" {
                        seen_a.fetch_add(1, Ordering::Relaxed);
                    } else if leaf == b && alpn == b"b" {
                        seen_b.fetch_add(1, Ordering::Relaxed);
                    } else {
                        panic!("a mixed configuration: ALPN {alpn:?} with another leaf");
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a handshake thread failed");
    }
    stop.store(true, Ordering::Relaxed);
    reloader.join().unwrap();
    let (a, b) = (
        seen_a.load(Ordering::Relaxed),
        seen_b.load(Ordering::Relaxed),
    );
    println!(
        "{} reloads during 160 handshakes: {a} saw A, {b} saw B",
        reloads.load(Ordering::Relaxed)
    );
    assert_eq!(a + b, 160);
    assert!(a > 0 && b > 0, "both configurations should have served");
}
