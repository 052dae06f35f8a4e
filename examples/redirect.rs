//! HTTPS and plain HTTP on one port: a TLS client gets the page, a plain HTTP client
//! gets a `301` redirect to the same URL over https (what Go's servers answer on a TLS
//! port). `Acceptor::accept_or_plaintext` tells them apart by the first bytes.
//!
//! ```text
//! cargo run --example redirect -- [--port N]
//! curl -si http://localhost:8443/docs            # 301, Location: https://localhost:8443/docs
//! curl -sk https://localhost:8443/docs           # the page
//! ```
//!
//! The certificate is generated at start-up for `localhost` (hence curl's `-k`). With no
//! arguments it runs a self-test: a plain HTTP client is redirected, then follows the
//! redirect over TLS.

mod support;

use std::net::SocketAddr;
use std::process::ExitCode;

use async_net::{TcpListener, TcpStream};
use futures::executor::{ThreadPool, block_on};
use futures::task::SpawnExt;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use support::{BoxError, Pki};
use tlsport::{Acceptor, CaBundle, Connector, MaybeTls, Policy};

/// The largest request head read.
const MAX_HEAD: usize = 8 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [] => self_test(),
        [flag, port] if flag == "--port" => match port.parse() {
            Ok(port) => run(port),
            Err(e) => Err(format!("--port: {e}").into()),
        },
        _ => Err("usage: redirect [--port N]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redirect: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(port: u16) -> Result<(), BoxError> {
    let acceptor = Acceptor::new(Policy::new().identity(Pki::new()?.server))?;
    let pool = ThreadPool::new()?;
    block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on {}", listener.local_addr()?);
        serve(&listener, &acceptor, &pool, None).await
    })
}

/// Accepts TCP connections, each served on a task of its own (a client that sends
/// nothing only holds its own task, until the handshake timeout). With `Some(n)`, stops
/// after `n` connections have been served.
async fn serve(
    listener: &TcpListener,
    acceptor: &Acceptor,
    pool: &ThreadPool,
    count: Option<usize>,
) -> Result<(), BoxError> {
    let mut served = Vec::new();
    while count.is_none_or(|n| served.len() < n) {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let task = pool.spawn_with_handle(async move {
            if let Err(e) = handle(&acceptor, tcp, peer).await {
                println!("{peer}: {e}");
            }
        })?;
        served.push(task);
    }
    futures::future::join_all(served).await;
    Ok(())
}

async fn handle(acceptor: &Acceptor, tcp: TcpStream, peer: SocketAddr) -> Result<(), BoxError> {
    let local_port = tcp.local_addr()?.port();
    match acceptor.accept_or_plaintext(tcp).await? {
        MaybeTls::Tls(mut tls) => {
            let (path, _) = read_head(&mut tls).await?;
            println!("{peer}: TLS, GET {path} -> 200");
            let body = format!("hello over TLS, you asked for {path}\n");
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            tls.write_all(response.as_bytes()).await?;
            tls.close().await?;
        }
        // Every byte read to tell is still there: the request is read from its start.
        MaybeTls::Plaintext(mut plain) => {
            let (path, host) = read_head(&mut plain).await?;
            let host = host.unwrap_or_else(|| format!("localhost:{local_port}"));
            let location = format!("https://{host}{path}");
            println!("{peer}: plaintext, GET {path} -> 301 {location}");
            let response = format!(
                "HTTP/1.1 301 Moved Permanently\r\nLocation: {location}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            plain.write_all(response.as_bytes()).await?;
            plain.close().await?;
        }
    }
    Ok(())
}

/// Reads an HTTP request head; returns its path and its `Host` header.
async fn read_head<S: AsyncRead + Unpin>(io: &mut S) -> Result<(String, Option<String>), BoxError> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Err("request head too large".into());
        }
        let n = io.read(&mut buf).await?;
        if n == 0 {
            return Err("the client closed before the end of its request".into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .filter(|path| path.starts_with('/'))
        .ok_or("not an HTTP request")?
        .to_owned();
    let host = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_owned());
    Ok((path, host))
}

/// Sends `request` over `io` and reads the whole response.
async fn fetch<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    request: &str,
) -> Result<String, BoxError> {
    io.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    io.read_to_string(&mut response).await?;
    Ok(response)
}

/// No arguments: a plain HTTP client is redirected, then follows the redirect over TLS.
fn self_test() -> Result<(), BoxError> {
    let pki = Pki::new()?;
    let acceptor = Acceptor::new(Policy::new().identity(pki.server.clone()))?;
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(pki.root.clone()),
    )?;
    let pool = ThreadPool::new()?;
    block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        println!("listening on 127.0.0.1:{port} (self-test: two connections)");
        let client = async {
            let request = format!("GET /docs?page=2 HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n");
            let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
            let response = fetch(tcp, &request).await?;
            let status = response.lines().next().unwrap_or_default();
            let location = response
                .lines()
                .find_map(|line| line.strip_prefix("Location: "))
                .ok_or("no Location in the redirect")?;
            println!("http client: {status}, Location: {location}");

            // Follow it: https://localhost:PORT/docs?page=2
            let rest = location
                .strip_prefix("https://")
                .ok_or("not an https URL")?;
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.split(':').next().unwrap_or(authority);
            let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
            let tls = connector.connect_with(host, tcp).await?;
            let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
            let response = fetch(tls, &request).await?;
            let status = response.lines().next().unwrap_or_default();
            let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
            print!("https client: {status}: {body}");
            Ok::<_, BoxError>(())
        };
        let (served, client) =
            future::zip(serve(&listener, &acceptor, &pool, Some(2)), client).await;
        served.and(client)
    })
}
