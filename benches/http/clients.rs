//! The clients: hyper-util's legacy pooled `Client` over tlsport's `HttpsConnector` on
//! smol (and on tokio), over raw futures-rustls on smol (the same runtime without
//! tlsport), and over hyper-rustls on tokio. Every one gets the same rustls
//! `ClientConfig`, taken from one `tlsport::Connector` (hyper-rustls only sets its ALPN),
//! and sets `TCP_NODELAY`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use smol::Executor;
use tlsport::hyper::HttpsConnector;
use tlsport::{Connector, Policy};

use crate::common::Pki;
use crate::measure::process_cpu_ns;

/// Requests in flight at once: over HTTP/1.1 as many pooled connections, over HTTP/2 as
/// many streams on one connection.
pub const CONCURRENCY: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    TlsportSmol,
    TlsportSmolNoInfo,
    FuturesRustlsSmol,
    HyperRustlsTokio,
    TlsportTokio,
}

impl Contender {
    pub const ALL: [Contender; 5] = [
        Contender::TlsportSmol,
        Contender::TlsportSmolNoInfo,
        Contender::FuturesRustlsSmol,
        Contender::HyperRustlsTokio,
        Contender::TlsportTokio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contender::TlsportSmol => "tlsport on smol",
            Contender::TlsportSmolNoInfo => "tlsport on smol, no info",
            Contender::FuturesRustlsSmol => "futures-rustls on smol",
            Contender::HyperRustlsTokio => "hyper-rustls on tokio",
            Contender::TlsportTokio => "tlsport on tokio",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Workload {
    h2: bool,
    path: &'static str,
    len: usize,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload {
            h2: false,
            path: "/small",
            len: 32,
        },
        Workload {
            h2: true,
            path: "/small",
            len: 32,
        },
        Workload {
            h2: false,
            path: "/64k",
            len: 64 * 1024,
        },
        Workload {
            h2: true,
            path: "/64k",
            len: 64 * 1024,
        },
    ];

    pub fn name(self) -> String {
        let version = if self.h2 { "h2" } else { "http/1.1" };
        format!("{version} GET {} B", self.len)
    }
}

/// One timed run: requests completed, wall time, the client process's CPU time.
pub struct Run {
    pub requests: u64,
    pub wall: Duration,
    pub cpu_ns: u64,
}

/// hyper's tasks on a smol executor (run by the measuring thread only).
#[derive(Clone)]
struct Exec(Arc<Executor<'static>>);

impl<F: Future<Output: Send> + Send + 'static> hyper::rt::Executor<F> for Exec {
    fn execute(&self, future: F) {
        self.0.spawn(future).detach();
    }
}

pub fn measure(
    contender: Contender,
    workload: Workload,
    pki: &Pki,
    port: u16,
    time: Duration,
) -> Run {
    // No ALPN for HTTP/1.1 (hyper-rustls sends none then), `h2` alone for HTTP/2.
    let alpn: &[&str] = if workload.h2 { &["h2"] } else { &[] };
    let policy: Policy = pki.client_policy().alpn_protocols(alpn);
    let connector = Connector::new(policy).unwrap();
    let uri: Uri = format!("https://127.0.0.1:{port}{}", workload.path)
        .parse()
        .unwrap();
    match contender {
        Contender::TlsportSmol | Contender::TlsportSmolNoInfo => {
            // hyper-rustls attaches nothing to responses; tlsport's SessionInfo by default.
            let info = contender == Contender::TlsportSmol;
            let https = HttpsConnector::new(connector).session_info_on_responses(info);
            let ex = Arc::new(Executor::new());
            let client = Client::builder(Exec(ex.clone())).build(https);
            smol::block_on(ex.run(drive(client, uri, workload, time)))
        }
        Contender::FuturesRustlsSmol => {
            let ex = Arc::new(Executor::new());
            let raw = crate::futures_rustls::connector(connector.rustls_config());
            let client = Client::builder(Exec(ex.clone())).build(raw);
            smol::block_on(ex.run(drive(client, uri, workload, time)))
        }
        Contender::TlsportTokio => tokio_runtime().block_on(async {
            let client =
                Client::builder(TokioExecutor::new()).build(HttpsConnector::new(connector));
            drive(client, uri, workload, time).await
        }),
        Contender::HyperRustlsTokio => {
            // The same compiled config; hyper-rustls wants it without ALPN and adds its own.
            let no_alpn = Connector::new(pki.client_policy()).unwrap();
            let config = Arc::unwrap_or_clone(no_alpn.rustls_config());
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            let builder = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(config)
                .https_only();
            let https = if workload.h2 {
                builder.enable_http2().wrap_connector(http)
            } else {
                builder.enable_http1().wrap_connector(http)
            };
            tokio_runtime().block_on(async {
                let client = Client::builder(TokioExecutor::new()).build(https);
                drive(client, uri, workload, time).await
            })
        }
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn get<C>(client: &Client<C, Empty<Bytes>>, uri: &Uri, workload: Workload)
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let response = client.get(uri.clone()).await.expect("request");
    assert_eq!(response.version() == hyper::Version::HTTP_2, workload.h2);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body.len(), workload.len);
}

/// Warms the pool up, then keeps [`CONCURRENCY`] requests in flight for `time`.
async fn drive<C>(
    client: Client<C, Empty<Bytes>>,
    uri: Uri,
    workload: Workload,
    time: Duration,
) -> Run
where
    C: Connect + Clone + Send + Sync + 'static,
{
    // One request first (for HTTP/2, the pool shares a connection only once it knows
    // the server speaks it), then bursts that open the HTTP/1.1 connections.
    get(&client, &uri, workload).await;
    for _ in 0..3 {
        futures::future::join_all((0..CONCURRENCY).map(|_| get(&client, &uri, workload))).await;
    }
    let cpu = process_cpu_ns();
    let start = Instant::now();
    let end = start + time;
    let loops = (0..CONCURRENCY).map(|_| async {
        let mut n = 0;
        while Instant::now() < end {
            get(&client, &uri, workload).await;
            n += 1;
        }
        n
    });
    let requests = futures::future::join_all(loops).await.into_iter().sum();
    Run {
        requests,
        wall: start.elapsed(),
        cpu_ns: process_cpu_ns() - cpu,
    }
}
