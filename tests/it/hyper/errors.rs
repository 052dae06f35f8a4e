//! Errors: a rejected certificate in the client's error chain, plain http and
//! `https_only`, refused URIs, connect and handshake timeouts.

use super::*;

#[test]
fn wrong_host_certificate_is_a_certificate_error_in_the_client_chain() {
    let pki = Pki::new();
    let wrong = pki.ca.leaf_with(&["other.example"], |_| {});
    let server = Server::start(
        Acceptor::new(Policy::new().identity(wrong.identity())).unwrap(),
        "127.0.0.1",
    );
    let client = client(HttpsConnector::new(pki.connector()));
    run(30, async {
        let err = client.get(server.uri("/")).await.unwrap_err();
        let tls = tls_error(&err).unwrap_or_else(|| panic!("no tlsport::Error in {}", chain(&err)));
        assert_eq!(tls.kind(), ErrorKind::Certificate, "{}", chain(&err));
        assert!(
            matches!(
                tls.certificate_error(),
                Some(tlsport::rustls::CertificateError::NotValidForNameContext { .. })
            ),
            "{}",
            chain(&err)
        );
        assert!(tls.to_string().contains("other.example"), "{tls}");
    });
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 0);
}

/// A plain HTTP/1.1 server that answers every request with `plain` and closes.
fn plain_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = smol::block_on(async_net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    smol::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            smol::spawn(async move {
                let _ = read_head(&mut tcp).await;
                let _ = tcp
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nplain",
                    )
                    .await;
                let _ = tcp.close().await;
            })
            .detach();
        }
    })
    .detach();
    (addr, accepted)
}

#[test]
fn plain_http_over_tcp_and_https_only_refuses_it() {
    let pki = Pki::new();
    let (addr, accepted) = plain_server();
    let uri: hyper::Uri = format!("http://127.0.0.1:{}/", addr.port())
        .parse()
        .unwrap();
    run(30, async {
        let plain = client(HttpsConnector::new(pki.connector()));
        let (status, version, body, info) = get(&plain, uri.clone()).await.unwrap();
        assert_eq!((status, version), (StatusCode::OK, Version::HTTP_11));
        assert_eq!(body, "plain");
        assert!(info.is_none(), "no SessionInfo over plain TCP");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        let strict = client(HttpsConnector::new(pki.connector()).https_only(true));
        let err = strict.get(uri.clone()).await.unwrap_err();
        let tls = tls_error(&err).unwrap_or_else(|| panic!("{}", chain(&err)));
        assert_eq!(tls.kind(), ErrorKind::InvalidInput);
        assert!(tls.to_string().contains(&uri.to_string()), "{tls}");
        // Refused before connecting: nothing reached the server.
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn the_connector_alone_reports_is_tls_and_info() {
    let pki = Pki::new();
    let server = Server::start(pki.acceptor(), "127.0.0.1");
    let (plain, _) = plain_server();
    let connector = HttpsConnector::new(pki.connector());
    run(30, async {
        let tls: HttpsStream = connector.connect(&server.uri("/")).await.unwrap();
        assert!(tls.is_tls());
        assert_eq!(
            tls.info().unwrap().server_name.as_deref(),
            Some("localhost")
        );
        assert_eq!(tls.get_ref().peer_addr().unwrap(), server.addr);
        assert!(tls.get_ref().nodelay().unwrap());
        let uri = format!("http://127.0.0.1:{}/", plain.port())
            .parse()
            .unwrap();
        let tcp = connector.connect(&uri).await.unwrap();
        assert!(!tcp.is_tls());
        assert!(tcp.info().is_none());
        for bad in ["ftp://127.0.0.1/", "/relative"] {
            let err = connector.connect(&bad.parse().unwrap()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    });
}

#[test]
fn connect_timeout_to_an_address_that_never_answers() {
    // A listener that never accepts, its accept queue filled: the kernel drops further
    // SYNs, so a connect gets no answer at all (as from a black-holed address), and the
    // policy's connect timeout ends it.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hole.local_addr().unwrap();
    let mut fillers = Vec::new();
    while fillers.len() < 300 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    let pki = Pki::new();
    let client = client(connector(
        pki.client_policy()
            .connect_timeout(Some(Duration::from_millis(300))),
    ));
    let uri: hyper::Uri = format!("https://127.0.0.1:{}/", addr.port())
        .parse()
        .unwrap();
    run(30, async {
        let started = Instant::now();
        let err = client.get(uri).await.unwrap_err();
        let elapsed = started.elapsed();
        let tls = tls_error(&err).unwrap_or_else(|| panic!("{}", chain(&err)));
        assert_eq!(tls.kind(), ErrorKind::TimedOut, "{}", chain(&err));
        assert!(
            elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(5),
            "{elapsed:?}"
        );
    });
    drop(fillers);
}

#[test]
fn handshake_timeout_when_the_server_accepts_and_stays_silent() {
    // TCP connects (the kernel completes it into the accept queue), TLS never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pki = Pki::new();
    let client = client(connector(
        pki.client_policy()
            .handshake_timeout(Some(Duration::from_millis(300))),
    ));
    let uri = format!("https://localhost:{}/", silent.local_addr().unwrap().port());
    run(30, async {
        let err = client.get(uri.parse().unwrap()).await.unwrap_err();
        let tls = tls_error(&err).unwrap_or_else(|| panic!("{}", chain(&err)));
        assert_eq!(tls.kind(), ErrorKind::TimedOut, "{}", chain(&err));
    });
}
