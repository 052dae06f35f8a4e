//! `Acceptor::read_client_hello` and `ClientHello::accept`: what the client asked for,
//! answered by another acceptor, refusals, and one deadline over both steps.

use super::*;

use std::time::Instant;

use tlsport::rustls::AlertDescription;
use tlsport::{ClientAuth, ErrorKind, Policy};

#[test]
fn the_client_hello_shows_name_alpn_and_cipher_suites() {
    let pki = Pki::new();
    let acceptor = Acceptor::new(pki.server_policy().alpn_protocols(["h2"])).unwrap();
    let connector = Connector::new(pki.client_policy().alpn_protocols(["h2", "http/1.1"])).unwrap();
    run(30, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let server = async {
            let hello = acceptor.read_client_hello(s).await.unwrap();
            assert_eq!(hello.server_name(), Some("localhost"));
            assert_eq!(
                hello.alpn_protocols(),
                [b"h2".to_vec(), b"http/1.1".to_vec()]
            );
            let suites = hello.cipher_suites();
            // TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384: every rustls backend.
            assert!(
                suites.contains(&0x1301) && suites.contains(&0x1302),
                "{suites:x?}"
            );
            let text = format!("{hello:?}");
            assert!(
                text.contains("localhost") && text.contains("http/1.1"),
                "{text}"
            );
            hello.accept(&acceptor).await.unwrap()
        };
        let (client, server) = future::zip(connector.connect_with("localhost", c), server).await;
        let mut client = client.unwrap();
        let mut server = server;
        assert_eq!(client.info().alpn_protocol.as_deref(), Some(&b"h2"[..]));
        assert_eq!(server.info().server_name.as_deref(), Some("localhost"));
        exchange(&mut client, &mut server).await;
    });
}

#[test]
fn a_client_without_sni_or_alpn_shows_none() {
    let pki = Pki::new();
    let acceptor = pki.acceptor();
    let connector = Connector::new(pki.client_policy().sni(false)).unwrap();
    run(30, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let server = async {
            let hello = acceptor.read_client_hello(s).await.unwrap();
            assert_eq!(hello.server_name(), None);
            assert!(hello.alpn_protocols().is_empty());
            hello.accept(&acceptor).await.unwrap()
        };
        let (client, _server) = future::zip(connector.connect_with("localhost", c), server).await;
        client.unwrap();
    });
}

#[test]
fn another_acceptor_answers_with_its_identity_alpn_and_client_auth() {
    let pki = Pki::new();
    let first = pki.acceptor();
    let other_leaf = pki.ca.leaf_with(&["other.test"], |_| {});
    let other = Acceptor::new(
        Policy::new()
            .identity(other_leaf.identity())
            .alpn_protocols(["h2"])
            .client_auth(ClientAuth::Required)
            .add_root_certificate(pki.client_ca.root.clone()),
    )
    .unwrap();
    let connector = Connector::new(
        pki.client_policy()
            .identity(pki.client.identity())
            .alpn_protocols(["http/1.1", "h2"]),
    )
    .unwrap();
    run(30, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let server = async {
            let hello = first.read_client_hello(s).await.unwrap();
            assert_eq!(hello.server_name(), Some("other.test"));
            hello.accept(&other).await.unwrap()
        };
        let (client, server) = future::zip(connector.connect_with("other.test", c), server).await;
        let client = client.unwrap();
        assert_eq!(leaf_of(&client), other_leaf.cert_der());
        assert_eq!(client.info().alpn_protocol.as_deref(), Some(&b"h2"[..]));
        // The client certificate was asked for and verified.
        assert_eq!(server.info().peer_certificates[0], pki.client.cert_der());
    });
}

#[test]
fn an_acceptor_without_the_name_refuses_it_with_unrecognized_name() {
    let pki = Pki::new();
    let first = pki.acceptor();
    let named_only = Acceptor::new(Policy::new().identity_for(
        "other.test",
        pki.ca.leaf_with(&["other.test"], |_| {}).identity(),
    ))
    .unwrap();
    let connector = pki.connector();
    run(30, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let server = async {
            let hello = first.read_client_hello(s).await.unwrap();
            hello.accept(&named_only).await.unwrap_err()
        };
        let (client, server) = future::zip(connector.connect_with("localhost", c), server).await;
        let client = client.unwrap_err();
        assert_eq!(alert_of(&client), Some(AlertDescription::UnrecognisedName));
        assert_eq!(server.kind(), ErrorKind::Tls);
    });
}

#[test]
fn a_client_that_is_not_speaking_tls_is_a_tls_error() {
    let acceptor = Pki::new().acceptor();
    run(30, async {
        let (mut c, s) = tlsport::duplex(64 * 1024);
        c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let err = acceptor.read_client_hello(s).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        // rustls's alert went back.
        let mut reply = Vec::new();
        let _ = within(secs(5), c.read_to_end(&mut reply)).await;
        assert_eq!(reply.first(), Some(&0x15), "an alert record: {reply:?}");
    });
}

#[test]
fn a_client_that_closes_mid_hello_is_an_io_error() {
    let pki = Pki::new();
    let acceptor = pki.acceptor();
    run(30, async {
        let record = client_hello_record(&pki.connector(), "localhost").await;
        let (mut c, s) = tlsport::duplex(64 * 1024);
        c.write_all(&record[..record.len() / 2]).await.unwrap();
        drop(c);
        let err = acceptor.read_client_hello(s).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    });
}

#[test]
fn half_a_client_hello_then_silence_times_out_at_the_handshake_timeout() {
    let pki = Pki::new();
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(ms(500)))).unwrap();
    run(30, async {
        let record = client_hello_record(&pki.connector(), "localhost").await;
        let (mut c, s) = tlsport::duplex(64 * 1024);
        c.write_all(&record[..record.len() / 2]).await.unwrap();
        let started = Instant::now();
        let err = acceptor.read_client_hello(s).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(took >= ms(450) && took < ms(2000), "{took:?}");
        drop(c);
    });
}

#[test]
fn the_deadline_covers_the_read_and_the_answer_together() {
    // A 1 s deadline; the ClientHello comes at once, the server waits 700 ms before it
    // answers, and the client never sends its Finished: the answer gets the 300 ms
    // left, not a deadline of its own.
    let pki = Pki::new();
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(secs(1)))).unwrap();
    run(30, async {
        let record = client_hello_record(&pki.connector(), "localhost").await;
        let (mut c, s) = tlsport::duplex(64 * 1024);
        c.write_all(&record).await.unwrap();
        let started = Instant::now();
        let hello = acceptor.read_client_hello(s).await.unwrap();
        async_io::Timer::after(ms(700)).await;
        let err = hello.accept(&acceptor).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(took >= ms(950) && took < ms(1400), "{took:?}");
        drop(c);
    });
}

#[test]
fn a_client_hello_over_tcp_is_answered() {
    let pki = Pki::new();
    let acceptor = pki.acceptor();
    let connector = pki.connector();
    run(30, async {
        let tcp = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let server = async {
            let (socket, _) = tcp.accept().await.unwrap();
            let hello = acceptor.read_client_hello(socket).await.unwrap();
            assert_eq!(hello.get_ref().peer_addr().unwrap().ip(), addr.ip());
            hello.accept(&acceptor).await.unwrap()
        };
        let client = async {
            let socket = tlsport::TcpStream::connect(addr).await.unwrap();
            connector.connect_with("localhost", socket).await.unwrap()
        };
        let (mut client, mut server) = future::zip(client, server).await;
        exchange(&mut client, &mut server).await;
    });
}
