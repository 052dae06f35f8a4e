//! HTTP/1.1 and HTTP/2 with hyper 1.x over tlsport, client and server in one process.
//!
//! hyper 1.x brings its own I/O traits (`hyper::rt::Read` and `Write`) and needs an
//! executor for HTTP/2. `smol-hyper` provides both for `futures-io` streams:
//! `FuturesIo` wraps a `TlsStream` for hyper, and `SmolExecutor` runs hyper's background
//! tasks on a smol executor. No adapter code of our own is needed.
//!
//! Which HTTP version to speak is decided in the TLS handshake by ALPN: the server offers
//! `h2` and `http/1.1`, each client offers what it can speak, and both sides read the
//! outcome from `info().alpn_protocol`.
//!
//! Run it with `cargo run --example hyper`. It needs no arguments, files or network.

mod support;

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, header};
use smol::Executor;
use smol_hyper::rt::{FuturesIo, SmolExecutor, SmolTimer};
use support::{BoxError, Pki, describe};
use tlsport::{Acceptor, CaBundle, Connector, Listener, Policy, TcpStream, TlsStream};

fn main() -> Result<(), BoxError> {
    let pki = Pki::new()?;
    // The server speaks both, preferring HTTP/2.
    let acceptor = Acceptor::new(
        Policy::new()
            .identity(pki.server.clone())
            .alpn_protocols(["h2", "http/1.1"]),
    )?;
    // Two clients: one that can only speak HTTP/1.1, one that prefers HTTP/2.
    let trust = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_root_certificate(pki.root.clone());
    let http1_only = Connector::new(trust.clone().alpn_protocols(["http/1.1"]))?;
    let http2_first = Connector::new(trust.alpn_protocols(["h2", "http/1.1"]))?;

    // One smol executor for everything: server tasks, hyper's connection tasks.
    let ex = Arc::new(Executor::new());
    smol::block_on(ex.run(async {
        let listener = acceptor.bind("127.0.0.1", 0).await?;
        let port = listener.local_addr()?.port();
        println!("hyper server on 127.0.0.1:{port}");
        ex.spawn(server(listener, ex.clone())).detach();

        for connector in [&http1_only, &http2_first] {
            get(connector, port, &ex).await?;
        }
        Ok(())
    }))
}

/// The server: each finished handshake gets a task that serves HTTP on it.
async fn server(listener: Listener, ex: Arc<Executor<'static>>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => return eprintln!("server: {e}"),
        };
        let task_ex = ex.clone();
        ex.spawn(async move {
            if let Err(e) = serve_http(stream, task_ex).await {
                eprintln!("server: {peer}: {e}");
            }
        })
        .detach();
    }
}

/// Serves one connection with the HTTP version ALPN chose.
async fn serve_http(
    stream: TlsStream<TcpStream>,
    ex: Arc<Executor<'static>>,
) -> Result<(), BoxError> {
    let h2 = stream.info().alpn_protocol.as_deref() == Some(b"h2");
    let io = FuturesIo::new(stream);
    let service = service_fn(hello);
    if h2 {
        hyper::server::conn::http2::Builder::new(SmolExecutor::new(ex))
            .timer(SmolTimer::new())
            .serve_connection(io, service)
            .await?;
    } else {
        hyper::server::conn::http1::Builder::new()
            .timer(SmolTimer::new())
            .serve_connection(io, service)
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

/// One GET request on a new connection, over whichever HTTP version ALPN picked.
async fn get(
    connector: &Connector,
    port: u16,
    ex: &Arc<Executor<'static>>,
) -> Result<(), BoxError> {
    let stream = connector.connect("127.0.0.1", port).await?;
    println!("client: {}", describe(&stream.info()));
    let h2 = stream.info().alpn_protocol.as_deref() == Some(b"h2");
    let io = FuturesIo::new(stream);

    let (status, version, body) = if h2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(SmolExecutor::new(ex.clone()), io).await?;
        // The connection future drives the socket; it ends when the sender is dropped.
        let connection = ex.spawn(connection);
        // HTTP/2 takes the scheme and authority from an absolute URI.
        let request =
            Request::get(format!("https://127.0.0.1:{port}/h2")).body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        drop(sender);
        connection.await?;
        (parts.status, parts.version, body)
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
        let connection = ex.spawn(connection);
        let request = Request::get("/http1")
            .header(header::HOST, format!("127.0.0.1:{port}"))
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        drop(sender);
        // HTTP/1 closes the stream when done: close_notify, then FIN.
        connection.await?;
        (parts.status, parts.version, body)
    };
    print!(
        "client: {version:?} {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}
