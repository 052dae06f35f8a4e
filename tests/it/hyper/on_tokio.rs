//! The connector under tokio: hyper-util's pooled client on a tokio runtime with
//! `TokioExecutor`, the sockets still async-io's (its reactor then runs on a thread of its
//! own). HTTP/2 with large bodies is where a reader waiting through `poll_readable` used
//! to be woken and put back to sleep in a loop, a busy core but correct bodies; the test
//! that counts those wake-ups is in `src/hyper/tcp/tests.rs`. This one checks that the
//! connector does its work here.

use std::time::Duration;

use hyper_util::rt::TokioExecutor;

use super::*;

fn on_tokio<T>(f: impl Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), f)
            .await
            .expect("the test's deadline of 60 s passed: something hangs")
    })
}

#[test]
fn the_pooled_client_runs_on_tokio_over_http2_and_http1() {
    let pki = Pki::new();
    let alpn = H2_AND_HTTP1;
    let server = Server::offering_h2(&pki);
    for (offer, version) in [(&alpn[..], Version::HTTP_2), (&[][..], Version::HTTP_11)] {
        let client: HttpClient = Client::builder(TokioExecutor::new())
            .build(connector(pki.client_policy().alpn_protocols(offer)));
        on_tokio(async {
            // Four 1 MiB bodies at once: over HTTP/2, four streams of one connection.
            let requests = (0..4).map(|_| get(&client, server.uri("/big")));
            for result in futures::future::join_all(requests).await {
                let (status, got, body, info) = result.unwrap();
                assert_eq!((status, got), (StatusCode::OK, version));
                assert!(info.is_some(), "no SessionInfo on the response");
                assert!(body == common::pattern(1 << 20, 7), "a 1 MiB body differs");
            }
        });
    }
}
