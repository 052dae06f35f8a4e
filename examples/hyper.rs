//! HTTPS with hyper 1 over tlsport on smol: hyper-util's pooled `Client` through
//! `tlsport::hyper::HttpsConnector`, against a hyper server that serves a `TlsStream`
//! directly. No tokio runtime and no adapter crate.
//!
//! Which HTTP version to speak is decided in the TLS handshake by ALPN: the server offers
//! `h2` and `http/1.1`; one client offers only `http/1.1`, the other `h2` first. The pool
//! learns the outcome from the connector (`Connected::negotiated_h2`): over HTTP/1.1 it
//! keeps a connection per request in flight, over HTTP/2 it sends them all over one.
//!
//! hyper asks the program for an executor (where to run its connection tasks) and,
//! optionally, a timer (to close idle pooled connections): on smol, the few lines of
//! `SmolExecutor` and `SmolTimer` below. On async-std, spawn with
//! `async_std::task::spawn(future);` and build the same timer over `async_io::Timer`; on
//! tokio, use `hyper_util::rt::{TokioExecutor, TokioTimer}` (hyper-util's `tokio` feature):
//! tlsport's sockets run on async-io's reactor under any executor.
//!
//! Run it with `cargo run --example hyper --features hyper`. It needs no arguments, files
//! or network.

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use smol::Timer;
use smol::net::TcpListener;
use support::{BoxError, Pki};
use tlsport::hyper::HttpsConnector;
use tlsport::{Acceptor, CaBundle, Connector, Policy, SessionInfo, TcpStream, TlsStream};

// ---- executor glue: hyper's tasks on smol ----

/// Runs hyper's connection tasks on smol's global executor.
#[derive(Clone, Copy, Debug)]
struct SmolExecutor;

impl<F: Future<Output: Send> + Send + 'static> hyper::rt::Executor<F> for SmolExecutor {
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}

/// hyper's timer over smol's (async-io's) `Timer`.
#[derive(Clone, Copy, Debug)]
struct SmolTimer;

impl hyper::rt::Timer for SmolTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep(Timer::after(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep(Timer::at(deadline)))
    }
}

struct Sleep(Timer);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl hyper::rt::Sleep for Sleep {}

// ---- the program ----

fn main() -> Result<(), BoxError> {
    let pki = Pki::new()?;
    // The server speaks both, preferring HTTP/2.
    let acceptor = Acceptor::new(
        Policy::new()
            .identity(pki.server.clone())
            .alpn_protocols(["h2", "http/1.1"]),
    )?;
    // The clients trust the example's root only (a real one keeps the default CaBundle).
    let trust = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_root_certificate(pki.root.clone());

    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        println!("hyper server on 127.0.0.1:{port}");
        smol::spawn(server(listener, acceptor)).detach();

        for alpn in [&["http/1.1"][..], &["h2", "http/1.1"]] {
            let connector = Connector::new(trust.clone().alpn_protocols(alpn))?;
            // https_only: this client never sends anything in the clear.
            let https = HttpsConnector::new(connector).https_only(true);
            let client: Client<_, Empty<Bytes>> = Client::builder(SmolExecutor)
                .timer(SmolTimer)
                .pool_timer(SmolTimer)
                .pool_idle_timeout(Duration::from_secs(30))
                .build(https);
            let name = if alpn.len() == 1 { "http1" } else { "h2" };
            let before = HANDSHAKES.load(Ordering::Relaxed);
            // One request, then three at once. Over HTTP/1.1 the pool opens a connection
            // for each request in flight; over HTTP/2 all share the first connection.
            // (A burst to a host with no connection yet would open one each: the pool
            // learns that a server speaks HTTP/2 only from a finished handshake.)
            println!("client: {}", get(&client, port, name, 1).await?);
            let burst = (2..=4).map(|n| get(&client, port, name, n));
            for line in futures::future::join_all(burst).await {
                println!("client: {}", line?);
            }
            if name == "h2" {
                let handshakes = HANDSHAKES.load(Ordering::Relaxed) - before;
                println!("server: 4 HTTP/2 requests over {handshakes} TLS connection(s)");
            }
        }
        Ok(())
    })
}

/// One GET of `/<name>/<n>`: "<version> <status> (alpn=<protocol>): <body>".
async fn get(
    client: &Client<HttpsConnector, Empty<Bytes>>,
    port: u16,
    name: &str,
    n: u32,
) -> Result<String, BoxError> {
    let uri = format!("https://localhost:{port}/{name}/{n}");
    let response = client.get(uri.parse()?).await?;
    // hyper-util hands every response the connection's SessionInfo.
    let alpn = response
        .extensions()
        .get::<SessionInfo>()
        .and_then(|info| info.alpn_protocol.clone())
        .map(|p| String::from_utf8_lossy(&p).into_owned());
    let (version, status) = (response.version(), response.status());
    let body = response.into_body().collect().await?.to_bytes();
    Ok(format!(
        "{version:?} {status} (alpn={}): {}",
        alpn.as_deref().unwrap_or("none"),
        String::from_utf8_lossy(&body).trim_end()
    ))
}

/// TLS handshakes the server finished.
static HANDSHAKES: AtomicUsize = AtomicUsize::new(0);

/// The server: a task per connection, each serving HTTP on a `TlsStream` with hyper.
async fn server(listener: TcpListener, acceptor: Acceptor) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => return eprintln!("server: {e}"),
        };
        let acceptor = acceptor.clone();
        smol::spawn(async move {
            let result = match acceptor.accept(tcp).await {
                Ok(tls) => {
                    HANDSHAKES.fetch_add(1, Ordering::Relaxed);
                    serve_http(tls).await
                }
                Err(e) => Err(e.into()),
            };
            if let Err(e) = result {
                eprintln!("server: {peer}: {e}");
            }
        })
        .detach();
    }
}

/// Serves one connection with the HTTP version ALPN chose. hyper's servers take the
/// `TlsStream` as it is: it implements `hyper::rt::Read` and `Write`.
async fn serve_http(tls: TlsStream<TcpStream>) -> Result<(), BoxError> {
    let service = service_fn(hello);
    if tls.info().alpn_protocol.as_deref() == Some(b"h2") {
        hyper::server::conn::http2::Builder::new(SmolExecutor)
            .timer(SmolTimer)
            .serve_connection(tls, service)
            .await?;
    } else {
        hyper::server::conn::http1::Builder::new()
            .timer(SmolTimer)
            .serve_connection(tls, service)
            .await?;
    }
    Ok(())
}

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!(
        "hello over {:?}, you asked for {}\n",
        request.version(),
        request.uri().path()
    );
    Ok(Response::new(Full::new(Bytes::from(body))))
}
