//! The compiled configs (`rustls_config()`) in other rustls users.

use super::*;

#[test]
fn reqwest_uses_the_connector_config_against_a_tlsport_server() {
    let pki = Pki::new();
    let server = Server::offering_h2(&pki);
    let trusted = Connector::new(pki.client_policy()).unwrap();
    let stranger = Connector::new(
        Policy::new()
            .ca_bundle(tlsport::CaBundle::Empty)
            .add_root_certificate(common::Ca::new("another root").root),
    )
    .unwrap();
    let url = format!("https://localhost:{}/reqwest", server.addr.port());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let client = reqwest::Client::builder()
                .use_preconfigured_tls(Arc::unwrap_or_clone(trusted.rustls_config()))
                .build()
                .unwrap();
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(30)).await;
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status(), reqwest::StatusCode::OK);
                assert_eq!(response.text().await.unwrap(), "HTTP/1.1 /reqwest");
            }

            let refusing = reqwest::Client::builder()
                .use_preconfigured_tls(Arc::unwrap_or_clone(stranger.rustls_config()))
                .build()
                .unwrap();
            let err = refusing.get(&url).send().await.unwrap_err();
            assert!(err.is_connect(), "{}", chain(&err));
        })
        .await
        .expect("reqwest test deadline");
    });
    // One pooled connection for the three requests.
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 1);
}

#[test]
fn acceptor_config_serves_through_futures_rustls() {
    let pki = Pki::new();
    let acceptor = Acceptor::new(pki.server_policy().alpn_protocols(["h2"])).unwrap();
    let theirs = futures_rustls::TlsAcceptor::from(acceptor.rustls_config());
    let connector = Connector::new(pki.client_policy().alpn_protocols(["h2"])).unwrap();
    run(30, async {
        let (client_io, server_io) = tlsport::duplex(64 * 1024);
        let server = async {
            let mut tls = theirs.accept(server_io).await.unwrap();
            tls.write_all(b"served by futures-rustls").await.unwrap();
            tls.close().await.unwrap();
        };
        let client = async {
            let mut tls = connector
                .connect_with("localhost", client_io)
                .await
                .unwrap();
            assert_eq!(tls.info().alpn_protocol.as_deref(), Some(&b"h2"[..]));
            let mut text = String::new();
            tls.read_to_string(&mut text).await.unwrap();
            text
        };
        let ((), text) = futures_lite::future::zip(server, client).await;
        assert_eq!(text, "served by futures-rustls");
    });
}
