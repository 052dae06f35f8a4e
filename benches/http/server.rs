//! The bench's server, in a child process: hyper's HTTP/1.1 and HTTP/2 servers over
//! tlsport (the version by ALPN) on one thread, answering `/small` with 32 bytes and
//! `/64k` with 64 KiB. It prints its port, then serves until its standard input closes.

use std::convert::Infallible;
use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use smol::Executor;
use tlsport::{Acceptor, Identity, Policy, TcpStream, TlsStream};

/// hyper's tasks on the server's one executor.
#[derive(Clone)]
struct Exec(Arc<Executor<'static>>);

impl<F: Future<Output: Send> + Send + 'static> hyper::rt::Executor<F> for Exec {
    fn execute(&self, future: F) {
        self.0.spawn(future).detach();
    }
}

pub fn run() {
    let cert = std::env::var("TLSPORT_BENCH_CERT").expect("TLSPORT_BENCH_CERT");
    let key = std::env::var("TLSPORT_BENCH_KEY").expect("TLSPORT_BENCH_KEY");
    let identity = Identity::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let acceptor = Acceptor::new(
        Policy::new()
            .identity(identity)
            .alpn_protocols(["h2", "http/1.1"]),
    )
    .unwrap();
    // The parent closes our standard input when it is done.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let small = Bytes::from_static(b"hello from the tlsport bench!!\r\n");
    let big = Bytes::from(vec![b'x'; 64 * 1024]);
    let ex = Arc::new(Executor::new());
    smol::block_on(ex.run(async {
        let listener = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.set_nodelay(true);
            let (acceptor, exec) = (acceptor.clone(), Exec(ex.clone()));
            let (small, big) = (small.clone(), big.clone());
            ex.spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = serve(tls, exec, small, big).await;
                }
            })
            .detach();
        }
    }))
}

async fn serve(
    tls: TlsStream<TcpStream>,
    exec: Exec,
    small: Bytes,
    big: Bytes,
) -> hyper::Result<()> {
    let service = service_fn(move |request: Request<Incoming>| {
        let body = if request.uri().path() == "/64k" {
            big.clone()
        } else {
            small.clone()
        };
        async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
    });
    if tls.info().alpn_protocol.as_deref() == Some(b"h2") {
        hyper::server::conn::http2::Builder::new(exec)
            .serve_connection(tls, service)
            .await
    } else {
        hyper::server::conn::http1::Builder::new()
            .serve_connection(tls, service)
            .await
    }
}
