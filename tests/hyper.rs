//! Feature `hyper`: hyper-util's pooled client over `tlsport::hyper::HttpsConnector`,
//! hyper's servers over `TlsStream` directly, and the compiled configs in other rustls
//! users (reqwest, futures-rustls). Loopback only; every test has a deadline.
#![cfg(feature = "hyper")]

mod common;

use std::convert::Infallible;
use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Pki, run};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::client::legacy::Client;
use tlsport::hyper::{HttpsConnector, HttpsStream};
use tlsport::{Acceptor, Connector, ErrorKind, Policy, SessionInfo, TcpStream, TlsStream};

// ---- glue and servers ----

/// hyper's executor on smol's global executor.
#[derive(Clone, Copy, Debug)]
struct SmolExecutor;

impl<F: Future<Output: Send> + Send + 'static> hyper::rt::Executor<F> for SmolExecutor {
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}

type HttpClient = Client<HttpsConnector, Empty<Bytes>>;

fn client(connector: HttpsConnector) -> HttpClient {
    Client::builder(SmolExecutor).build(connector)
}

/// A hyper server over tlsport (hyper's servers take the `TlsStream` itself), on smol's
/// global executor, speaking the HTTP version ALPN chose.
struct Server {
    addr: SocketAddr,
    /// Finished TLS handshakes.
    handshakes: Arc<AtomicUsize>,
}

impl Server {
    fn start(acceptor: Acceptor, host: &str) -> Server {
        let listener = smol::block_on(async_net::TcpListener::bind((host, 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let count = handshakes.clone();
        smol::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, count) = (acceptor.clone(), count.clone());
                smol::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = serve(tls).await;
                })
                .detach();
            }
        })
        .detach();
        Server { addr, handshakes }
    }

    fn uri(&self, path: &str) -> hyper::Uri {
        format!("https://localhost:{}{path}", self.addr.port())
            .parse()
            .unwrap()
    }
}

async fn serve(tls: TlsStream<TcpStream>) -> hyper::Result<()> {
    let service = service_fn(answer);
    if tls.info().alpn_protocol.as_deref() == Some(b"h2") {
        hyper::server::conn::http2::Builder::new(SmolExecutor)
            .serve_connection(tls, service)
            .await
    } else {
        hyper::server::conn::http1::Builder::new()
            .serve_connection(tls, service)
            .await
    }
}

/// `/big`: 1 MiB of pattern; anything else: the version and path.
async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.uri().path() {
        "/big" => common::pattern(1 << 20, 7),
        path => format!("{:?} {path}", request.version()).into_bytes(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// GETs `uri`: status, version, body, and the session info hyper-util attached.
async fn get(
    client: &HttpClient,
    uri: hyper::Uri,
) -> Result<(StatusCode, Version, Bytes, Option<SessionInfo>), BoxError> {
    let response = client.get(uri).await?;
    let info = response.extensions().get::<SessionInfo>().cloned();
    let (status, version) = (response.status(), response.version());
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, version, body, info))
}

type BoxError = Box<dyn StdError + Send + Sync>;

/// The `tlsport::Error` in `err`'s source chain.
fn tls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a tlsport::Error> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<tlsport::Error>() {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

/// The chain of `err`, one cause a line, for failure messages.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(err) = next {
        out += &format!("\n  caused by: {err} ({err:?})");
        next = err.source();
    }
    out
}

fn connector(policy: Policy) -> HttpsConnector {
    HttpsConnector::new(Connector::new(policy).unwrap())
}

// ---- the pooled client ----

/// A pause between sequential HTTP/1.1 requests. hyper-util puts an HTTP/1.1 connection
/// back in its pool from a task of its own once the response is read; a request made
/// before that task has run finds no idle connection and starts a second one (hyper-util's
/// design, whatever the connector), which would make the handshake count racy.
async fn idle_pause() {
    async_io::Timer::after(Duration::from_millis(30)).await;
}

#[test]
fn pooled_http1_requests_share_one_handshake() {
    let pki = Pki::new();
    let server = Server::start(
        Acceptor::new(pki.server_policy().alpn_protocols(["h2", "http/1.1"])).unwrap(),
        "127.0.0.1",
    );
    let client = client(connector(pki.client_policy().alpn_protocols(["http/1.1"])));
    run(30, async {
        for n in 0..5 {
            idle_pause().await;
            let (status, version, body, info) =
                get(&client, server.uri(&format!("/{n}"))).await.unwrap();
            assert_eq!(status, StatusCode::OK);
            assert_eq!(version, Version::HTTP_11);
            assert_eq!(body, format!("HTTP/1.1 /{n}"));
            let info = info.expect("SessionInfo in the response's extensions");
            assert_eq!(info.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
            assert_eq!(info.server_name.as_deref(), Some("localhost"));
            assert!(info.is_client);
        }
        // A large body, read through hyper::rt::Read, on the same pooled connection.
        idle_pause().await;
        let (_, _, body, _) = get(&client, server.uri("/big")).await.unwrap();
        assert!(
            body == common::pattern(1 << 20, 7),
            "the 1 MiB body differs"
        );
    });
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 1);
}

#[test]
fn http2_is_chosen_by_alpn_and_multiplexed_on_one_connection() {
    let pki = Pki::new();
    let server = Server::start(
        Acceptor::new(pki.server_policy().alpn_protocols(["h2", "http/1.1"])).unwrap(),
        "127.0.0.1",
    );
    let client = client(connector(
        pki.client_policy().alpn_protocols(["h2", "http/1.1"]),
    ));
    run(30, async {
        // The first request makes the connection; the pool learns it is HTTP/2 from
        // `Connected::negotiated_h2`, and the others multiplex over it at once.
        let (_, version, _, info) = get(&client, server.uri("/first")).await.unwrap();
        assert_eq!(version, Version::HTTP_2);
        assert_eq!(info.unwrap().alpn_protocol.as_deref(), Some(&b"h2"[..]));
        let requests = (0..8).map(|n| get(&client, server.uri(&format!("/{n}"))));
        for (n, result) in futures::future::join_all(requests)
            .await
            .into_iter()
            .enumerate()
        {
            let (status, version, body, _) = result.unwrap();
            assert_eq!((status, version), (StatusCode::OK, Version::HTTP_2));
            assert_eq!(body, format!("HTTP/2.0 /{n}"));
        }
        let (_, _, body, _) = get(&client, server.uri("/big")).await.unwrap();
        assert!(
            body == common::pattern(1 << 20, 7),
            "the 1 MiB body differs"
        );
    });
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 1);
}

#[test]
fn ipv6_literal_uri() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let pki = Pki::new();
    let server = Server::start(pki.acceptor(), "::1");
    let client = client(HttpsConnector::new(pki.connector()));
    let uri: hyper::Uri = format!("https://[::1]:{}/v6", server.addr.port())
        .parse()
        .unwrap();
    run(30, async {
        let (status, _, body, info) = get(&client, uri).await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "HTTP/1.1 /v6");
        // Verified against the certificate's IP address, and no SNI sent for it.
        assert_eq!(info.unwrap().server_name, None);
    });
}

// ---- errors ----

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

/// Reads a request head, up to its blank line.
async fn read_head<S: futures_lite::AsyncRead + Unpin>(io: &mut S) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        if io.read(&mut byte).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(head)
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

// ---- a response cut short ----

/// How the raw server ends its response.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// close_notify, then FIN.
    Clean,
    /// A FIN without close_notify: truncation.
    Cut,
}

/// A TLS server that answers one request with `head` and `body`, then ends as told.
fn raw_server(pki: &Pki, head: &'static str, body: &'static [u8], ending: Ending) -> SocketAddr {
    let acceptor = pki.acceptor();
    let listener = smol::block_on(async_net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    smol::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        read_head(&mut tls).await.unwrap();
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(body).await.unwrap();
        tls.flush().await.unwrap();
        match ending {
            Ending::Clean => tls.close().await.unwrap(),
            Ending::Cut => {
                let mut tcp = tls.into_inner();
                tcp.close().await.unwrap();
            }
        }
    })
    .detach();
    addr
}

/// GETs from a raw server: the response head must arrive; returns the body's result.
fn body_of(head: &'static str, body: &'static [u8], ending: Ending) -> Result<Bytes, BoxError> {
    body_with(tlsport::EofPolicy::Strict, head, body, ending)
}

/// [`body_of`] with a client under `eof`.
fn body_with(
    eof: tlsport::EofPolicy,
    head: &'static str,
    body: &'static [u8],
    ending: Ending,
) -> Result<Bytes, BoxError> {
    let pki = Pki::new();
    let addr = raw_server(&pki, head, body, ending);
    let client = client(connector(pki.client_policy().eof(eof)));
    let uri: hyper::Uri = format!("https://localhost:{}/", addr.port())
        .parse()
        .unwrap();
    run(30, async {
        let response = client.get(uri).await.expect("the response head");
        assert_eq!(response.status(), StatusCode::OK);
        Ok(response.into_body().collect().await?.to_bytes())
    })
}

/// Whether `err`'s chain has an `io::Error` of kind UnexpectedEof (tlsport's truncation).
fn is_truncation(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::UnexpectedEof)
        {
            return true;
        }
        next = err.source();
    }
    false
}

const EOF_DELIMITED: &str = "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n";
const LENGTH_10000: &str = "HTTP/1.1 200 OK\r\ncontent-length: 10000\r\n\r\n";

#[test]
fn a_body_delimited_by_eof_and_cut_without_close_notify_is_an_error() {
    // HTTP alone cannot tell this body is short: only TLS's close_notify can.
    let err = body_of(EOF_DELIMITED, b"the first half of a", Ending::Cut).unwrap_err();
    assert!(is_truncation(&*err), "{}", chain(&*err));
}

#[test]
fn allow_ragged_takes_the_cut_body_for_complete() {
    // The hazard the default guards against, shown: under AllowRagged the same cut looks
    // like the end of the body.
    let body = body_with(
        tlsport::EofPolicy::AllowRagged,
        EOF_DELIMITED,
        b"the first half of a",
        Ending::Cut,
    )
    .unwrap();
    assert_eq!(body, "the first half of a");
}

#[test]
fn a_body_delimited_by_eof_and_ended_with_close_notify_is_complete() {
    let body = body_of(EOF_DELIMITED, b"all of it", Ending::Clean).unwrap();
    assert_eq!(body, "all of it");
}

#[test]
fn a_body_shorter_than_its_content_length_is_an_error_however_it_ends() {
    for ending in [Ending::Cut, Ending::Clean] {
        let result = body_of(LENGTH_10000, &[b'x'; 4000], ending);
        assert!(
            result.is_err(),
            "{ending:?}: a short body reported complete"
        );
    }
}

// ---- the compiled configs in other rustls users ----

#[test]
fn reqwest_uses_the_connector_config_against_a_tlsport_server() {
    let pki = Pki::new();
    let server = Server::start(
        Acceptor::new(pki.server_policy().alpn_protocols(["h2", "http/1.1"])).unwrap(),
        "127.0.0.1",
    );
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

#[test]
fn public_types_are_send_sync_unpin() {
    fn check<T: Send + Sync + Unpin + std::fmt::Debug + 'static>() {}
    check::<HttpsConnector>();
    check::<HttpsStream>();
    // What hyper-util's client asks of a connector's future.
    fn future<T: Future + Send + Unpin + std::fmt::Debug + 'static>() {}
    future::<tlsport::hyper::HttpsConnecting>();
}

// ---- hyper::rt::Read on TlsStream ----

/// Reads `tls` to its end through `hyper::rt::Read`, with cursors of varying sizes.
async fn read_all_through_cursors<S>(tls: &mut TlsStream<S>) -> (Vec<u8>, io::Result<()>)
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    let sizes = [1, 2, 3, 7, 100, 5000, 16 * 1024 + 1, 64 * 1024];
    let mut all = Vec::new();
    for round in 0.. {
        let mut backing = vec![0; sizes[round % sizes.len()]];
        let mut buf = hyper::rt::ReadBuf::new(&mut backing);
        let read = std::future::poll_fn(|cx| {
            hyper::rt::Read::poll_read(std::pin::Pin::new(&mut *tls), cx, buf.unfilled())
        })
        .await;
        if let Err(e) = read {
            return (all, Err(e));
        }
        if buf.filled().is_empty() {
            break;
        }
        all.extend_from_slice(buf.filled());
    }
    (all, Ok(()))
}

#[test]
fn hyper_read_on_tlsstream_is_byte_exact_with_any_cursor_size() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    let data = common::pattern(300 * 1024, 3);
    run(30, async {
        let (mut client, mut server) = common::connected_pair(&connector, &acceptor).await;
        let write = async {
            // Records of many sizes, several in flight at once.
            for chunk in data.chunks(20_000) {
                server.write_all(&chunk[..chunk.len() / 3]).await.unwrap();
                server.write_all(&chunk[chunk.len() / 3..]).await.unwrap();
            }
            server.close().await.unwrap();
        };
        let ((), (read, end)) =
            futures_lite::future::zip(write, read_all_through_cursors(&mut client)).await;
        end.unwrap();
        assert!(
            read == data,
            "{} bytes read, {} sent",
            read.len(),
            data.len()
        );
    });
}

#[test]
fn hyper_read_on_tlsstream_reports_truncation_after_the_data() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(30, async {
        let (mut client, mut server) = common::connected_pair(&connector, &acceptor).await;
        server.write_all(&common::pattern(50_000, 4)).await.unwrap();
        server.flush().await.unwrap();
        drop(server.into_inner()); // EOF without close_notify
        let (read, end) = read_all_through_cursors(&mut client).await;
        assert!(
            read == common::pattern(50_000, 4),
            "the data before the cut differs"
        );
        assert_eq!(end.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    });
}
