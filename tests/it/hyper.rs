//! Feature `hyper`: hyper-util's pooled client over `tlsport::hyper::HttpsConnector`,
//! hyper's servers over `TlsStream` directly, and the compiled configs in other rustls
//! users (reqwest, futures-rustls). Loopback only; every test has a deadline.

mod configs;
mod cut;
mod errors;
mod on_tokio;
mod read;

use std::convert::Infallible;
use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{self, Pki, run};
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

/// ALPN for HTTP/2 with HTTP/1.1 as the fallback.
const H2_AND_HTTP1: [&str; 2] = ["h2", "http/1.1"];

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

    /// A server on 127.0.0.1 offering h2 and http/1.1 by ALPN.
    fn offering_h2(pki: &Pki) -> Server {
        let policy = pki.server_policy().alpn_protocols(H2_AND_HTTP1);
        Server::start(Acceptor::new(policy).unwrap(), "127.0.0.1")
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
    let server = Server::offering_h2(&pki);
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
    let server = Server::offering_h2(&pki);
    let client = client(connector(pki.client_policy().alpn_protocols(H2_AND_HTTP1)));
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
fn session_info_can_be_left_off_the_responses() {
    let pki = Pki::new();
    let alpn = H2_AND_HTTP1;
    let server = Server::offering_h2(&pki);
    let client = client(
        connector(pki.client_policy().alpn_protocols(alpn)).session_info_on_responses(false),
    );
    run(30, async {
        let (_, version, _, info) = get(&client, server.uri("/first")).await.unwrap();
        assert_eq!(version, Version::HTTP_2);
        assert!(info.is_none(), "a SessionInfo on the response: {info:?}");
        // Still one multiplexed connection: the pool learnt h2 from ALPN all the same.
        let requests = (0..4).map(|n| get(&client, server.uri(&format!("/{n}"))));
        for result in futures::future::join_all(requests).await {
            let (status, version, _, info) = result.unwrap();
            assert_eq!((status, version), (StatusCode::OK, Version::HTTP_2));
            assert!(info.is_none());
        }
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

#[test]
fn public_types_are_send_sync_unpin() {
    fn check<T: Send + Sync + Unpin + std::fmt::Debug + 'static>() {}
    check::<HttpsConnector>();
    check::<HttpsStream>();
    // What hyper-util's client asks of a connector's future.
    fn future<T: Future + Send + Unpin + std::fmt::Debug + 'static>() {}
    future::<tlsport::hyper::HttpsConnecting>();
}
