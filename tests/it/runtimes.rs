//! The same TLS exchange on every runtime tlsport is meant for: smol, async-std, tokio
//! through `tokio-util`'s compat layer, and `futures::executor`, each with its own
//! sockets; hyper HTTP/1.1 and HTTP/2 over tlsport; a STARTTLS upgrade. Loopback only,
//! every test under a deadline.

use crate::common;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use common::scripted::{Script, Scripted};
use futures_lite::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tlsport::{Acceptor, Connector, TlsStream, Version};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bytes each way per connection.
const LEN: usize = 64 * 1024;
/// Connections at once per runtime.
const CLIENTS: usize = 3;

/// Runs `f` on a thread of its own and fails the test if it has not returned within
/// `secs` seconds, whatever runtime it blocks on.
fn with_deadline<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(value) => {
            worker.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("test deadline of {secs} s passed: something hangs")
        }
    }
}

fn pair() -> (Acceptor, Connector) {
    let pki = common::Pki::new();
    (pki.acceptor(), pki.connector())
}

/// The server side of the exchange: 64 KiB in, checked; 64 KiB out; then a clean close
/// in both directions.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    acceptor: Acceptor,
    io: S,
) -> Result<(), BoxError> {
    let mut tls = acceptor.accept(io).await?;
    assert_eq!(tls.info().protocol_version, Some(Version::Tls13));
    let mut request = vec![0; LEN];
    tls.read_exact(&mut request).await?;
    assert!(
        request == common::pattern(LEN, 1),
        "the server got corrupt data"
    );
    tls.write_all(&common::pattern(LEN, 2)).await?;
    tls.close().await?;
    // Wait for the client's close_notify: a clean end, not a cut.
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    assert!(rest.is_empty());
    Ok(())
}

/// The client side: 64 KiB out; 64 KiB in, checked; the server's close_notify; ours.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    connector: Connector,
    io: S,
) -> Result<(), BoxError> {
    let mut tls = connector.connect_with("localhost", io).await?;
    assert_eq!(tls.info().server_name.as_deref(), Some("localhost"));
    tls.write_all(&common::pattern(LEN, 1)).await?;
    let mut reply = Vec::new();
    tls.read_to_end(&mut reply).await?; // up to the server's close_notify
    assert_eq!(reply.len(), LEN);
    assert!(
        reply == common::pattern(LEN, 2),
        "the client got corrupt data"
    );
    tls.close().await?;
    Ok(())
}

#[test]
fn smol_executor_and_sockets() {
    with_deadline(60, || {
        let (acceptor, connector) = pair();
        smol::block_on(async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = smol::spawn(async move {
                let mut tasks = Vec::new();
                for _ in 0..CLIENTS {
                    let (tcp, _) = listener.accept().await?;
                    tasks.push(smol::spawn(serve(acceptor.clone(), tcp)));
                }
                for task in tasks {
                    task.await?;
                }
                Ok::<_, BoxError>(())
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let connector = connector.clone();
                    smol::spawn(async move {
                        let tcp = smol::net::TcpStream::connect(addr).await?;
                        exchange(connector, tcp).await
                    })
                })
                .collect();
            for client in clients {
                client.await?;
            }
            server.await
        })
        .unwrap();
    });
}

#[test]
fn async_std_executor_and_sockets() {
    with_deadline(60, || {
        let (acceptor, connector) = pair();
        async_std::task::block_on(async {
            let listener = async_std::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = async_std::task::spawn(async move {
                let mut tasks = Vec::new();
                for _ in 0..CLIENTS {
                    let (tcp, _) = listener.accept().await?;
                    tasks.push(async_std::task::spawn(serve(acceptor.clone(), tcp)));
                }
                for task in tasks {
                    task.await?;
                }
                Ok::<_, BoxError>(())
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let connector = connector.clone();
                    async_std::task::spawn(async move {
                        let tcp = async_std::net::TcpStream::connect(addr).await?;
                        exchange(connector, tcp).await
                    })
                })
                .collect();
            for client in clients {
                client.await?;
            }
            server.await
        })
        .unwrap();
    });
}

#[test]
fn tokio_through_compat() {
    use tokio_util::compat::TokioAsyncReadCompatExt;
    with_deadline(60, || {
        let (acceptor, connector) = pair();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                let server = tokio::spawn(async move {
                    let mut tasks = Vec::new();
                    for _ in 0..CLIENTS {
                        let (tcp, _) = listener.accept().await?;
                        tasks.push(tokio::spawn(serve(acceptor.clone(), tcp.compat())));
                    }
                    for task in tasks {
                        task.await??;
                    }
                    Ok::<_, BoxError>(())
                });
                let clients: Vec<_> = (0..CLIENTS)
                    .map(|_| {
                        let connector = connector.clone();
                        tokio::spawn(async move {
                            let tcp = tokio::net::TcpStream::connect(addr).await?;
                            exchange(connector, tcp.compat()).await
                        })
                    })
                    .collect();
                for client in clients {
                    client.await??;
                }
                server.await?
            })
            .unwrap();
    });
}

/// tokio's own I/O helpers over a `TlsStream`, through compat in both directions.
#[test]
fn tokio_io_traits_over_tlsport() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};
    with_deadline(60, || {
        let (acceptor, connector) = pair();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                let server = tokio::spawn(async move {
                    let (tcp, _) = listener.accept().await?;
                    let mut tls = acceptor.accept(tcp.compat()).await?.compat();
                    let mut got = Vec::new();
                    tls.read_to_end(&mut got).await?; // to the client's shutdown()
                    tls.write_all(&got).await?;
                    tls.shutdown().await?;
                    Ok::<_, BoxError>(got.len())
                });
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let mut tls = connector
                    .connect_with("localhost", tcp.compat())
                    .await?
                    .compat();
                let data = common::pattern(LEN, 3);
                tls.write_all(&data).await?;
                tls.shutdown().await?; // close_notify + FIN; reading goes on
                let mut echo = Vec::new();
                tls.read_to_end(&mut echo).await?;
                assert!(echo == data);
                assert_eq!(server.await??, LEN);
                Ok::<_, BoxError>(())
            })
            .unwrap();
    });
}

#[test]
fn futures_executor_with_async_net_sockets() {
    use futures::executor::{ThreadPool, block_on};
    use futures::task::SpawnExt;
    with_deadline(60, || {
        let (acceptor, connector) = pair();
        let pool = ThreadPool::builder().pool_size(2).create().unwrap();
        block_on(async {
            let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server_pool = pool.clone();
            let server = pool.spawn_with_handle(async move {
                let mut tasks = Vec::new();
                for _ in 0..CLIENTS {
                    let (tcp, _) = listener.accept().await?;
                    tasks.push(server_pool.spawn_with_handle(serve(acceptor.clone(), tcp))?);
                }
                for task in tasks {
                    task.await?;
                }
                Ok::<_, BoxError>(())
            })?;
            // The clients run on block_on's thread, together.
            let clients = (0..CLIENTS).map(|_| {
                let connector = connector.clone();
                async move {
                    let tcp = async_net::TcpStream::connect(addr).await?;
                    exchange(connector, tcp).await
                }
            });
            for result in futures::future::join_all(clients).await {
                result?;
            }
            server.await
        })
        .unwrap();
    });
}

/// tlsport's own TCP layer (`Acceptor::bind`, `Connector::connect`) on
/// `futures::executor`, with no other runtime around.
#[test]
fn futures_executor_with_listener_and_connect() {
    use futures::executor::{ThreadPool, block_on};
    use futures::task::SpawnExt;
    with_deadline(60, || {
        let pki = common::Pki::new();
        let acceptor = pki.acceptor();
        let connector = pki.connector();
        let pool = ThreadPool::builder().pool_size(2).create().unwrap();
        block_on(async {
            let listener = acceptor.bind("127.0.0.1", 0).await?;
            let port = listener.local_addr()?.port();
            let server_pool = pool.clone();
            let server = pool.spawn_with_handle(async move {
                let mut tasks = Vec::new();
                for _ in 0..CLIENTS {
                    let (tls, _peer) = listener.accept().await?;
                    tasks.push(server_pool.spawn_with_handle(serve_stream(tls))?);
                }
                for task in tasks {
                    task.await?;
                }
                Ok::<_, BoxError>(())
            })?;
            let clients = (0..CLIENTS).map(|_| {
                let connector = connector.clone();
                async move {
                    let tls = connector.connect("127.0.0.1", port).await?;
                    exchange_stream(tls).await
                }
            });
            for result in futures::future::join_all(clients).await {
                result?;
            }
            server.await
        })
        .unwrap();
    });
}

/// [`serve`] after the handshake.
async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut tls: TlsStream<S>,
) -> Result<(), BoxError> {
    let mut request = vec![0; LEN];
    tls.read_exact(&mut request).await?;
    assert!(request == common::pattern(LEN, 1));
    tls.write_all(&common::pattern(LEN, 2)).await?;
    tls.close().await?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    Ok(())
}

/// [`exchange`] after the handshake.
async fn exchange_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut tls: TlsStream<S>,
) -> Result<(), BoxError> {
    tls.write_all(&common::pattern(LEN, 1)).await?;
    let mut reply = Vec::new();
    tls.read_to_end(&mut reply).await?;
    assert!(reply == common::pattern(LEN, 2));
    tls.close().await?;
    Ok(())
}

// ---- hyper ----

mod http {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response, StatusCode};
    use smol::Executor;
    use smol_hyper::rt::{FuturesIo, SmolExecutor, SmolTimer};

    type Ex = Arc<Executor<'static>>;

    /// Echoes the request body, with the request's HTTP version in a header.
    async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
        let version = format!("{:?}", request.version());
        let body = request.into_body().collect().await?.to_bytes();
        Ok(Response::builder()
            .header("x-version", version)
            .body(Full::new(body))
            .unwrap())
    }

    /// Serves one connection with the protocol ALPN picked; returns that protocol.
    async fn serve_http(
        acceptor: Acceptor,
        tcp: async_net::TcpStream,
        ex: Ex,
    ) -> Result<Vec<u8>, BoxError> {
        let tls = acceptor.accept(tcp).await?;
        let alpn = tls.info().alpn_protocol.unwrap_or_default();
        let io = FuturesIo::new(tls);
        let service = hyper::service::service_fn(echo);
        if alpn == b"h2" {
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
        Ok(alpn)
    }

    /// Two POST requests of 64 KiB on one connection, each echoed back and checked.
    async fn post_twice(connector: Connector, addr: SocketAddr, ex: Ex) -> Result<(), BoxError> {
        let tcp = async_net::TcpStream::connect(addr).await?;
        let tls = connector.connect_with("localhost", tcp).await?;
        let h2 = tls.info().alpn_protocol.as_deref() == Some(b"h2");
        let io = FuturesIo::new(tls);
        let uri = format!("https://localhost:{}/echo", addr.port());
        let (version, expected) = if h2 {
            ("HTTP/2.0", hyper::Version::HTTP_2)
        } else {
            ("HTTP/1.1", hyper::Version::HTTP_11)
        };

        macro_rules! requests {
            ($sender:ident, $connection:ident) => {{
                let connection = ex.spawn($connection);
                for round in 0..2u8 {
                    let data = common::pattern(LEN, 10 + round);
                    let mut request = Request::post(&uri);
                    if !h2 {
                        request = request
                            .header(hyper::header::HOST, format!("localhost:{}", addr.port()));
                    }
                    let request = request.body(Full::new(Bytes::from(data.clone())))?;
                    $sender.ready().await?;
                    let response = $sender.send_request(request).await?;
                    assert_eq!(response.status(), StatusCode::OK);
                    assert_eq!(response.version(), expected);
                    assert_eq!(response.headers()["x-version"], version);
                    let body = response.into_body().collect().await?.to_bytes();
                    assert!(body == data, "the echoed body differs");
                }
                drop($sender);
                connection.await?;
            }};
        }
        if h2 {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(SmolExecutor::new(ex.clone()), io).await?;
            requests!(sender, connection);
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
            requests!(sender, connection);
        }
        Ok(())
    }

    /// A hyper server over tlsport offering h2 and http/1.1, and a client offering
    /// `client_alpn`; asserts the protocol both sides ended up with.
    fn round_trip(client_alpn: &[&str], expected_alpn: &[u8]) {
        let client_alpn: Vec<String> = client_alpn.iter().map(|s| s.to_string()).collect();
        let expected_alpn = expected_alpn.to_vec();
        with_deadline(60, move || {
            let pki = common::Pki::new();
            let acceptor =
                Acceptor::new(pki.server_policy().alpn_protocols(["h2", "http/1.1"])).unwrap();
            let connector =
                Connector::new(pki.client_policy().alpn_protocols(&client_alpn)).unwrap();
            let ex: Ex = Arc::new(Executor::new());
            smol::block_on(ex.run(async {
                let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                let server = ex.spawn({
                    let ex = ex.clone();
                    async move {
                        let (tcp, _) = listener.accept().await?;
                        serve_http(acceptor, tcp, ex).await
                    }
                });
                post_twice(connector, addr, ex.clone()).await?;
                // The server's connection ended cleanly too, with the same protocol.
                assert_eq!(server.await?, expected_alpn);
                Ok::<_, BoxError>(())
            }))
            .unwrap();
        });
    }

    #[test]
    fn hyper_http1_over_tlsport() {
        round_trip(&["http/1.1"], b"http/1.1");
    }

    #[test]
    fn hyper_http2_over_tlsport() {
        round_trip(&["h2", "http/1.1"], b"h2");
    }
}

// ---- STARTTLS ----

/// A transport that keeps a copy of every byte written through it.
type Recorder<S> = Scripted<S, Arc<Mutex<Vec<u8>>>>;

impl<S: AsyncRead + AsyncWrite + Unpin> Script<S> for Arc<Mutex<Vec<u8>>> {
    fn poll_write(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        poll
    }
}

async fn line<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> io::Result<String> {
    let mut line = String::new();
    r.read_line(&mut line).await?;
    Ok(line)
}

/// A plaintext greeting, then both sides upgrade the same socket; what follows is
/// encrypted on the wire.
#[test]
fn starttls_upgrade() {
    with_deadline(60, || {
        let (acceptor, connector) = pair();
        smol::block_on(async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = smol::spawn(async move {
                let (tcp, _) = listener.accept().await?;
                let mut plain = BufReader::new(tcp);
                plain.get_mut().write_all(b"220 ready\r\n").await?;
                assert_eq!(line(&mut plain).await?, "STARTTLS\r\n");
                assert!(plain.buffer().is_empty(), "plaintext after STARTTLS");
                plain.get_mut().write_all(b"220 go ahead\r\n").await?;
                let tls = acceptor.accept(plain.into_inner()).await?;
                assert!(!tls.info().is_client);
                let mut tls = BufReader::new(tls);
                assert_eq!(line(&mut tls).await?, "EHLO secret-client-name\r\n");
                tls.get_mut()
                    .write_all(b"250 secret-server-reply\r\n")
                    .await?;
                tls.get_mut().close().await?;
                let mut rest = String::new();
                tls.read_to_string(&mut rest).await?;
                assert_eq!(rest, "QUIT\r\n");
                Ok::<_, BoxError>(())
            });

            let written = Arc::new(Mutex::new(Vec::new()));
            let tcp: Recorder<_> = Scripted {
                inner: smol::net::TcpStream::connect(addr).await?,
                script: written.clone(),
            };
            let mut plain = BufReader::new(tcp);
            assert_eq!(line(&mut plain).await?, "220 ready\r\n");
            plain.get_mut().write_all(b"STARTTLS\r\n").await?;
            assert_eq!(line(&mut plain).await?, "220 go ahead\r\n");
            assert!(plain.buffer().is_empty());
            let tls = connector
                .connect_with("localhost", plain.into_inner())
                .await?;
            assert_eq!(tls.info().protocol_version, Some(Version::Tls13));
            let mut tls = BufReader::new(tls);
            tls.get_mut()
                .write_all(b"EHLO secret-client-name\r\n")
                .await?;
            assert_eq!(line(&mut tls).await?, "250 secret-server-reply\r\n");
            tls.get_mut().write_all(b"QUIT\r\n").await?;
            assert_eq!(line(&mut tls).await?, ""); // the server's close_notify
            tls.get_mut().close().await?;
            server.await?;

            let wire = written.lock().unwrap().clone();
            let find = |needle: &[u8]| wire.windows(needle.len()).any(|w| w == needle);
            assert!(
                wire.starts_with(b"STARTTLS\r\n"),
                "the command went in plaintext"
            );
            assert!(
                !find(b"secret-client-name"),
                "the upgraded session leaked plaintext"
            );
            assert!(!find(b"QUIT"), "the upgraded session leaked plaintext");
            // After the command: a TLS handshake record (content type 22).
            assert_eq!(wire.get(10), Some(&0x16));
            Ok::<_, BoxError>(())
        })
        .unwrap();
    });
}
