//! Hostile peers: garbage, plain HTTP, oversized records, truncated and dripped
//! handshakes, resets, cuts, flipped bits, forged alerts, renegotiation, and a flood of
//! handshakes that never finish.
//!
//! Every case ends in a typed error or a success, never a panic, a hang or a spin; data
//! already delivered is an exact prefix of what was sent; a `Listener` keeps serving
//! good clients throughout. The hostile side is a raw `std::net` socket, OpenSSL's CLI,
//! or `tests/tools/hostile_proxy.py` between a real tlsport client and server.

use crate::common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream as StdTcp};
use std::path::Path;
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use async_io::Timer;
use common::peer::*;
use common::*;
use futures_io::AsyncRead;
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::{Acceptor, ClientAuth, Connector, ErrorKind, TlsStream, Version};

// ---------------------------------------------------------------------------------------
// The Listener logs the handshakes it drops; capture those lines to see that a hostile
// client was dropped, and when.
// ---------------------------------------------------------------------------------------

static LOGS: Mutex<Vec<(Instant, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("tlsport") && metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            LOGS.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((Instant::now(), record.args().to_string()));
        }
    }

    fn flush(&self) {}
}

fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Capture).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// Waits for the Listener to log the failed handshake of `peer`; returns the line and
/// when it was logged.
fn wait_dropped(peer: SocketAddr, within: Duration) -> (String, Instant) {
    let needle = format!("{peer} failed");
    let end = Instant::now() + within;
    loop {
        if let Some((at, line)) = LOGS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(_, line)| line.contains(&needle))
        {
            return (line.clone(), *at);
        }
        assert!(
            Instant::now() < end,
            "the listener did not drop the hostile connection from {peer} within {within:?}"
        );
        thread::sleep(ms(10));
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// Deterministic noise (xorshift), unlike `pattern` not periodic in its low bits.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Does `message` suggest that the peer may not speak TLS at all?
fn hints_not_tls(message: &str) -> bool {
    let m = message.to_lowercase();
    [
        "speaking tls",
        "speak tls",
        "not tls",
        "not valid tls",
        "not a tls",
        "http",
    ]
    .iter()
    .any(|hint| m.contains(hint))
}

fn assert_prefix(received: &[u8], sent: &[u8], what: &str) {
    assert!(
        received.len() <= sent.len(),
        "{what}: received {} bytes, more than the {} sent",
        received.len(),
        sent.len()
    );
    if let Some(at) = received.iter().zip(sent).position(|(a, b)| a != b) {
        panic!(
            "{what}: received data differs from what was sent at byte {at} (of {})",
            received.len()
        );
    }
}

/// Reads what the peer sends until it closes, fails, or `limit` passes.
fn drain(s: &mut StdTcp, limit: Duration) -> Vec<u8> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// Reads one TLS record (header and body) from a raw socket.
fn read_record(s: &mut StdTcp) -> Vec<u8> {
    s.set_read_timeout(Some(secs(10))).unwrap();
    let mut head = [0u8; 5];
    s.read_exact(&mut head)
        .expect("a record header from the peer");
    let mut body = vec![0; usize::from(u16::from_be_bytes([head[3], head[4]]))];
    s.read_exact(&mut body)
        .expect("a record body from the peer");
    [head.to_vec(), body].concat()
}

/// Reads one TLS record from an async transport.
async fn read_record_async<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head).await.expect("a record header");
    let mut body = vec![0; usize::from(u16::from_be_bytes([head[3], head[4]]))];
    r.read_exact(&mut body).await.expect("a record body");
    [head.to_vec(), body].concat()
}

/// A real ClientHello record from a tlsport client, captured over `duplex`.
fn captured_client_hello(connector: &Connector) -> Vec<u8> {
    run(10, async {
        let (c, mut s) = tlsport::duplex(64 * 1024);
        let client = async {
            let r = connector.connect_with("localhost", c).await;
            panic!("the client handshake ended without a server: {r:?}");
        };
        future::or(read_record_async(&mut s), client).await
    })
}

/// A real first server record (the ServerHello) from a tlsport server, captured over
/// `duplex`.
fn captured_server_hello(pki: &Pki) -> Vec<u8> {
    let hello = captured_client_hello(&pki.connector());
    let acceptor = pki.acceptor();
    run(10, async {
        let (mut c, s) = tlsport::duplex(64 * 1024);
        let server = async {
            let r = acceptor.accept(s).await;
            panic!("the server handshake ended without a client: {r:?}");
        };
        let read = async {
            c.write_all(&hello).await.unwrap();
            c.flush().await.unwrap();
            read_record_async(&mut c).await
        };
        future::or(read, server).await
    })
}

// ---------------------------------------------------------------------------------------
// A Listener serving echo on its own thread (a smol LocalExecutor, one task per
// connection), stopped and joined on drop.
// ---------------------------------------------------------------------------------------

type Outcomes = Arc<Mutex<Vec<(SocketAddr, io::Result<usize>)>>>;

struct EchoServer {
    addr: SocketAddr,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
    /// How each served connection ended: bytes echoed, or the error.
    #[cfg_attr(not(feature = "tls12"), allow(dead_code))]
    outcomes: Outcomes,
}

impl EchoServer {
    fn start(acceptor: Acceptor) -> EchoServer {
        capture_logs();
        let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let outcomes = Outcomes::default();
        let thread = thread::spawn({
            let outcomes = outcomes.clone();
            move || {
                let ex = smol::LocalExecutor::new();
                future::block_on(ex.run(async {
                    let listener = acceptor.bind("127.0.0.1", 0).await.expect("bind");
                    addr_tx.send(listener.local_addr().unwrap()).unwrap();
                    let serve = async {
                        loop {
                            let (stream, peer) =
                                listener.accept().await.expect("the listener itself failed");
                            ex.spawn(echo(stream, peer, outcomes.clone())).detach();
                        }
                    };
                    future::or(serve, async {
                        let _ = stop_rx.recv().await;
                    })
                    .await;
                }));
            }
        });
        let addr = addr_rx.recv_timeout(secs(10)).expect("listener address");
        EchoServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
            outcomes,
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            if t.join().is_err() && !thread::panicking() {
                panic!("the listener thread panicked");
            }
        }
    }
}

async fn echo(mut s: TlsStream<tlsport::TcpStream>, peer: SocketAddr, outcomes: Outcomes) {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    let end = loop {
        match s.read(&mut buf).await {
            Ok(0) => break s.close().await.map(|()| total),
            Ok(n) => {
                if let Err(e) = async {
                    s.write_all(&buf[..n]).await?;
                    s.flush().await
                }
                .await
                {
                    break Err(e);
                }
                total += n;
            }
            Err(e) => break Err(e),
        }
    };
    outcomes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((peer, end));
}

/// A good client: handshake, echo of 20 kB checked by content, clean close both ways.
/// Returns how long it took.
fn good_echo(connector: &Connector, addr: SocketAddr, seed: u8) -> Duration {
    let start = Instant::now();
    run(15, async {
        let mut s = connector
            .connect("127.0.0.1", addr.port())
            .await
            .expect("a good client is served");
        let data = pattern(20_000, seed);
        s.write_all(&data).await.unwrap();
        s.flush().await.unwrap();
        let mut back = vec![0; data.len()];
        s.read_exact(&mut back).await.expect("echo");
        assert!(back == data, "the echo differs from what was sent");
        s.close().await.unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest)
            .await
            .expect("clean end of the echo");
        assert!(rest.is_empty());
    });
    start.elapsed()
}

// ---------------------------------------------------------------------------------------
// Raw hostile peers
// ---------------------------------------------------------------------------------------

/// What a raw hostile peer does after connecting (client) or after reading the
/// ClientHello (server). Afterwards it reads until the tlsport side closes.
type Script = Arc<dyn Fn(&mut StdTcp) + Send + Sync>;

fn send_then_keep_open(bytes: Vec<u8>) -> Script {
    Arc::new(move |s: &mut StdTcp| {
        let _ = s.write_all(&bytes);
    })
}

fn send_then_eof(bytes: Vec<u8>) -> Script {
    Arc::new(move |s: &mut StdTcp| {
        let _ = s.write_all(&bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
    })
}

fn drip(bytes: Vec<u8>, every: Duration) -> Script {
    Arc::new(move |s: &mut StdTcp| {
        for b in &bytes {
            if s.write_all(std::slice::from_ref(b)).is_err() {
                return;
            }
            thread::sleep(every);
        }
    })
}

struct Refusal {
    err: tlsport::Error,
    elapsed: Duration,
    /// What the hostile peer received from tlsport.
    reply: Vec<u8>,
}

/// A hostile client against `Acceptor::accept` on a loopback socket.
fn client_vs_acceptor(acceptor: &Acceptor, script: Script) -> Refusal {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let client = thread::spawn(move || {
        let mut s = StdTcp::connect(addr).unwrap();
        script(&mut s);
        drain(&mut s, secs(15))
    });
    let (sock, _) = l.accept().unwrap();
    let io = tlsport::TcpStream::try_from(sock).unwrap();
    let start = Instant::now();
    let result = run(20, acceptor.accept(io));
    let elapsed = start.elapsed();
    let err = match result {
        Ok(s) => panic!("a hostile client completed a handshake: {s:?}"),
        Err(e) => e,
    };
    let reply = client.join().expect("hostile client thread");
    Refusal {
        err,
        elapsed,
        reply,
    }
}

/// A hostile server against `Connector::connect`; the server reads the ClientHello first.
fn server_vs_connector(connector: &Connector, script: Script) -> Refusal {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let hello = read_record(&mut s);
        assert_eq!(hello[0], 0x16, "a ClientHello record");
        script(&mut s);
        drain(&mut s, secs(15))
    });
    let start = Instant::now();
    let result = run(20, connector.connect("127.0.0.1", port));
    let elapsed = start.elapsed();
    let err = match result {
        Ok(s) => panic!("a connection to a hostile server succeeded: {s:?}"),
        Err(e) => e,
    };
    let reply = server.join().expect("hostile server thread");
    Refusal {
        err,
        elapsed,
        reply,
    }
}

/// Runs `script` as a client of the Listener, waits until the Listener dropped it, then
/// checks that a good client is served. Returns the log line and how long after
/// connecting the hostile client was dropped.
fn client_vs_listener(
    server: &EchoServer,
    connector: &Connector,
    script: Script,
    seed: u8,
) -> (String, Duration) {
    let mut s = StdTcp::connect(server.addr).unwrap();
    let peer = s.local_addr().unwrap();
    let start = Instant::now();
    let hostile = thread::spawn(move || {
        script(&mut s);
        drain(&mut s, secs(15))
    });
    let (line, at) = wait_dropped(peer, secs(15));
    hostile.join().expect("hostile client thread");
    good_echo(connector, server.addr, seed);
    (line, at.saturating_duration_since(start))
}

/// The reply of tlsport to a hostile peer: nothing, or TLS alert records.
fn assert_alert_or_nothing(reply: &[u8], what: &str) {
    assert!(
        reply.is_empty() || (reply[0] == 0x15 && reply.len() >= 7),
        "{what}: tlsport answered with something other than an alert: {}",
        hex(&reply[..reply.len().min(16)])
    );
}

// ---------------------------------------------------------------------------------------
// The hostile proxy
// ---------------------------------------------------------------------------------------

/// `tests/tools/hostile_proxy.py` on a free port, killed (by PID) on drop.
struct Proxy {
    _process: Peer,
    port: u16,
}

impl Proxy {
    fn start(target: u16, args: &[&str]) -> Proxy {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        for _ in 0..5 {
            let port = free_port("127.0.0.1");
            let (port_arg, target_arg) = (port.to_string(), target.to_string());
            let mut full = vec!["tests/tools/hostile_proxy.py", &port_arg, &target_arg];
            full.extend_from_slice(args);
            let mut process = Peer::spawn_in(dir, "python3", &full, false);
            // The proxy prints its ready line once it listens (it exits if the port was
            // taken meanwhile: then try another).
            if process.wait_for("PROXY READY", secs(10)) {
                return Proxy {
                    _process: process,
                    port,
                };
            }
        }
        panic!("the hostile proxy did not start");
    }
}

/// Which tlsport side reads the tampered direction. The proxy tampers with the bytes
/// going from its target to the side that connected to it; for `Server`, the TLS roles
/// are swapped over TCP (the TLS client is the TCP server) so that the TLS server reads
/// what the proxy tampers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    Client,
    Server,
}

struct Transfer {
    sent: Vec<u8>,
    received: Vec<u8>,
    /// How the reading ended: `Ok` for a clean end (close_notify), else the error.
    end: io::Result<()>,
    /// One more read after that end.
    again: io::Result<usize>,
    /// Plaintext returned by reads after that end (there should be none).
    after: Vec<u8>,
}

async fn write_chunks<S>(mut s: TlsStream<S>, chunks: Vec<Vec<u8>>) -> io::Result<()>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    for chunk in chunks {
        // A flush per chunk: one TLS record per chunk (up to 16 KiB), so the record
        // boundaries are known.
        s.write_all(&chunk).await?;
        s.flush().await?;
    }
    s.close().await
}

type ReadAll = (Vec<u8>, io::Result<()>, io::Result<usize>, Vec<u8>);

async fn read_all<S>(mut s: TlsStream<S>) -> ReadAll
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    let mut received = Vec::new();
    let mut buf = vec![0; 8192];
    let end = loop {
        match s.read(&mut buf).await {
            Ok(0) => break Ok(()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    let again = s.read(&mut buf).await;
    let mut after = Vec::new();
    let mut next = again.as_ref().map(|n| *n).map_err(|_| ());
    for _ in 0..8 {
        match next {
            Ok(n) if n > 0 => after.extend_from_slice(&buf[..n]),
            _ => break,
        }
        next = s.read(&mut buf).await.map_err(|_| ());
    }
    (received, end, again, after)
}

/// A 4 KiB record, then 16 KiB records: a flip or cut at byte 12,000 of the stream lands
/// in the body of the second application record, after the handshake (1 to 3 KiB here).
fn big_chunks() -> Vec<Vec<u8>> {
    let mut chunks = vec![pattern(4096, 1)];
    chunks.extend((0..8).map(|i| pattern(16 * 1024, 2 + i)));
    chunks
}

/// One transfer of `chunks` between a tlsport writer and a tlsport reader through the
/// hostile proxy with `proxy_args`.
fn transfer(
    pki: &Pki,
    reader: Reader,
    version: Version,
    proxy_args: &[&str],
    chunks: Vec<Vec<u8>>,
) -> Transfer {
    let sent = chunks.concat();
    let connector = Connector::new(pki.client_policy().protocol_versions(&[version])).unwrap();
    let acceptor = Acceptor::new(pki.server_policy().protocol_versions(&[version])).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = tcp.local_addr().unwrap().port();
    let writer = thread::spawn({
        let (connector, acceptor) = (connector.clone(), acceptor.clone());
        move || {
            let work = async move {
                let l = async_net::TcpListener::try_from(tcp)?;
                let (sock, _) = l.accept().await?;
                match reader {
                    Reader::Client => write_chunks(acceptor.accept(sock).await?, chunks).await,
                    Reader::Server => {
                        let s = connector.connect_with("localhost", sock).await?;
                        write_chunks(s, chunks).await
                    }
                }
            };
            future::block_on(future::or(work, async {
                Timer::after(secs(20)).await;
                Err(io::Error::new(io::ErrorKind::TimedOut, "writer deadline"))
            }))
        }
    });
    let proxy = Proxy::start(target, proxy_args);
    let (received, end, again, after) = run(20, async {
        match reader {
            Reader::Client => {
                let s = connector
                    .connect("127.0.0.1", proxy.port)
                    .await
                    .expect("handshake through the proxy");
                read_all(s).await
            }
            Reader::Server => {
                let tcp = tlsport::TcpStream::connect(("127.0.0.1", proxy.port))
                    .await
                    .unwrap();
                let s = acceptor
                    .accept(tcp)
                    .await
                    .expect("handshake through the proxy");
                read_all(s).await
            }
        }
    });
    drop(proxy);
    let _ = writer.join().expect("writer thread");
    Transfer {
        sent,
        received,
        end,
        again,
        after,
    }
}

// ---------------------------------------------------------------------------------------
// OpenSSL's command-line peers
// ---------------------------------------------------------------------------------------

/// The PKI's server certificate, key and root as PEM files in a fresh folder, named as
/// the OpenSSL launchers of `common::peer` expect (server.pem, server.key, root-ca.pem).
#[cfg(feature = "tls12")]
fn pem_files(pki: &Pki) -> TempDir {
    let dir = TempDir::new("hostile");
    dir.write("server.pem", &pki.server.cert);
    dir.write("server.key", &pki.server.key);
    dir.write("root-ca.pem", &pki.ca.root_pem);
    dir
}

// =======================================================================================
// Garbage and plain HTTP before the handshake
// =======================================================================================

/// Byte strings that are not a TLS handshake.
fn garbage_blobs() -> Vec<(&'static str, Vec<u8>)> {
    let mut sslv2 = vec![
        0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
    ];
    sslv2.extend(noise(0x2e - 9, 9));
    vec![
        ("4 KiB of noise", noise(4096, 1)),
        ("other 4 KiB of noise", noise(4096, 2)),
        ("300 bytes of noise", noise(300, 3)),
        (
            "a handshake record of noise",
            [&[0x16, 0x03, 0x01, 0x00, 0x40][..], &noise(64, 4)].concat(),
        ),
        (
            "an application-data record before the handshake",
            [&[0x17, 0x03, 0x03, 0x00, 0x20][..], &noise(32, 5)].concat(),
        ),
        ("an SSLv2 ClientHello", sslv2),
        ("NUL bytes", vec![0; 512]),
    ]
}

/// Each of `blobs`, sent by a raw client that then keeps the connection open, is refused
/// by `Acceptor::accept` as a TLS error at once (within 3 s, not at the 5 s handshake
/// deadline) with an alert or nothing in reply; and a Listener drops each such client as
/// quickly, serving good clients on.
fn refused_at_once_from_clients(blobs: Vec<(&'static str, Vec<u8>)>) {
    let pki = Pki::new();
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(secs(5)))).unwrap();
    for (what, blob) in &blobs {
        let r = client_vs_acceptor(&acceptor, send_then_keep_open(blob.clone()));
        assert_eq!(r.err.kind(), ErrorKind::Tls, "{what}: {:?}", r.err);
        assert!(
            r.elapsed < secs(3),
            "{what}: refused only after {:?}",
            r.elapsed
        );
        assert_alert_or_nothing(&r.reply, what);
    }
    let server = EchoServer::start(acceptor);
    let connector = pki.connector();
    for (i, (what, blob)) in blobs.into_iter().enumerate() {
        let (line, after) =
            client_vs_listener(&server, &connector, send_then_keep_open(blob), i as u8);
        assert!(after < secs(3), "{what}: dropped after {after:?}: {line}");
    }
}

/// Each of `blobs`, sent by a raw server after the ClientHello (which then keeps the
/// connection open), is refused by `Connector::connect` as a TLS error at once (within
/// 3 s, not at the 5 s handshake deadline). Returns the refusals.
fn refused_at_once_from_servers(
    blobs: Vec<(&'static str, Vec<u8>)>,
) -> Vec<(&'static str, Refusal)> {
    let pki = Pki::new();
    let connector = Connector::new(pki.client_policy().handshake_timeout(Some(secs(5)))).unwrap();
    let mut refusals = Vec::new();
    for (what, blob) in blobs {
        let r = server_vs_connector(&connector, send_then_keep_open(blob));
        assert_eq!(r.err.kind(), ErrorKind::Tls, "{what}: {:?}", r.err);
        assert!(
            r.elapsed < secs(3),
            "{what}: refused only after {:?}",
            r.elapsed
        );
        refusals.push((what, r));
    }
    refusals
}

#[test]
fn garbage_from_a_client_is_a_tls_error_and_the_listener_serves_on() {
    refused_at_once_from_clients(garbage_blobs());
}

#[test]
fn garbage_from_a_server_is_a_tls_error() {
    for (what, r) in refused_at_once_from_servers(garbage_blobs()) {
        assert_alert_or_nothing(&r.reply, what);
    }
}

#[test]
fn an_http_request_to_the_tls_port_is_a_tls_error_that_says_so() {
    let pki = Pki::new();
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(secs(5)))).unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.0\r\n\r\n".to_vec();
    let r = client_vs_acceptor(&acceptor, send_then_keep_open(request.clone()));
    assert_eq!(r.err.kind(), ErrorKind::Tls, "{:?}", r.err);
    assert!(
        hints_not_tls(&r.err.to_string()),
        "the message should suggest the client does not speak TLS: {}",
        r.err
    );
    assert!(r.elapsed < secs(3));
    assert_alert_or_nothing(&r.reply, "http request");

    let server = EchoServer::start(acceptor);
    let connector = pki.connector();
    client_vs_listener(&server, &connector, send_then_keep_open(request.clone()), 1);
    client_vs_listener(&server, &connector, send_then_eof(request), 2);
}

#[test]
fn an_http_response_from_a_tls_server_is_a_tls_error_that_says_so() {
    let pki = Pki::new();
    let connector = Connector::new(pki.client_policy().handshake_timeout(Some(secs(5)))).unwrap();
    let response = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\
        Content-Length: 11\r\nConnection: close\r\n\r\nbad request"
        .to_vec();
    for script in [
        send_then_keep_open(response.clone()),
        send_then_eof(response),
    ] {
        let r = server_vs_connector(&connector, script);
        assert_eq!(r.err.kind(), ErrorKind::Tls, "{:?}", r.err);
        assert!(
            hints_not_tls(&r.err.to_string()),
            "the message should suggest the server does not speak TLS: {}",
            r.err
        );
        assert!(r.elapsed < secs(3));
        assert_alert_or_nothing(&r.reply, "http response");
    }
}

// =======================================================================================
// Oversized records and handshake messages
// =======================================================================================

/// Headers promising more than TLS allows, with or without bytes after them.
fn oversized() -> Vec<(&'static str, Vec<u8>)> {
    let fragment = |len: usize| [&[0x16, 0x03, 0x01, 0x40, 0x00][..], &vec![0xAB; len]].concat();
    vec![
        (
            "a 64 KiB record header alone",
            vec![0x16, 0x03, 0x01, 0xFF, 0xFF],
        ),
        (
            "a 64 KiB record header and 64 KiB",
            [&[0x16, 0x03, 0x01, 0xFF, 0xFF][..], &noise(65535, 6)].concat(),
        ),
        (
            "a 18 KiB application record header",
            vec![0x17, 0x03, 0x03, 0x48, 0x06],
        ),
        (
            // A ClientHello promising 16 MiB, then record after record of it.
            "a 16 MiB handshake message",
            [
                &[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xFF, 0xFF, 0xFF][..],
                &fragment(16 * 1024),
                &fragment(16 * 1024),
                &fragment(16 * 1024),
                &fragment(16 * 1024),
            ]
            .concat(),
        ),
    ]
}

#[test]
fn oversized_records_from_a_client_are_refused_at_once() {
    // Refused on the header, not after waiting for the promised bytes (which never come)
    // until the handshake deadline.
    refused_at_once_from_clients(oversized());
}

#[test]
fn oversized_records_from_a_server_are_refused_at_once() {
    refused_at_once_from_servers(oversized());
}

// =======================================================================================
// Truncated, silent and dripping handshakes
// =======================================================================================

fn assert_eof_error(err: &tlsport::Error, what: &str) {
    assert!(
        matches!(err.kind(), ErrorKind::Io | ErrorKind::Tls),
        "{what}: expected Io or Tls, got {err:?}"
    );
}

fn assert_deadline(r: &Refusal, limit: Duration, what: &str) {
    assert_eq!(r.err.kind(), ErrorKind::TimedOut, "{what}: {:?}", r.err);
    assert!(
        r.elapsed >= limit.saturating_sub(ms(50)) && r.elapsed < limit + ms(1500),
        "{what}: timed out after {:?}, the limit is {limit:?}",
        r.elapsed
    );
}

#[test]
fn truncated_client_hello_then_eof_or_silence() {
    let pki = Pki::new();
    let limit = ms(1000);
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(limit))).unwrap();
    let hello = captured_client_hello(&pki.connector());
    assert!(
        hello.len() > 100,
        "a real ClientHello: {} bytes",
        hello.len()
    );
    // The cases run side by side: the silent ones take the whole deadline.
    thread::scope(|scope| {
        for cut in [0, 3, hello.len() / 2, hello.len() - 1] {
            let part = hello[..cut].to_vec();
            let acceptor = &acceptor;
            if cut > 0 {
                let part = part.clone();
                scope.spawn(move || {
                    let r = client_vs_acceptor(acceptor, send_then_eof(part));
                    assert_eof_error(&r.err, &format!("{cut} bytes then EOF"));
                    assert!(r.elapsed < limit, "EOF noticed only after {:?}", r.elapsed);
                });
            }
            scope.spawn(move || {
                let r = client_vs_acceptor(acceptor, send_then_keep_open(part));
                assert_deadline(&r, limit, &format!("{cut} bytes then silence"));
            });
        }
    });

    let server = EchoServer::start(acceptor);
    let connector = pki.connector();
    let half = hello[..hello.len() / 2].to_vec();
    thread::scope(|scope| {
        scope.spawn(|| {
            let (_, after) =
                client_vs_listener(&server, &connector, send_then_eof(half.clone()), 1);
            assert!(after < limit, "EOF noticed only after {after:?}");
        });
        scope.spawn(|| {
            let (line, after) =
                client_vs_listener(&server, &connector, send_then_keep_open(half.clone()), 2);
            assert!(
                after >= limit.saturating_sub(ms(50)) && after < limit + ms(1500),
                "a silent client was dropped after {after:?}, the limit is {limit:?}: {line}"
            );
        });
    });
}

#[test]
fn truncated_server_hello_then_eof_or_silence() {
    let pki = Pki::new();
    let limit = ms(1000);
    let connector = Connector::new(pki.client_policy().handshake_timeout(Some(limit))).unwrap();
    let server_hello = captured_server_hello(&pki);
    assert_eq!(server_hello[0], 0x16);
    thread::scope(|scope| {
        for cut in [0, 3, server_hello.len() / 2, server_hello.len() - 1] {
            let part = server_hello[..cut].to_vec();
            let connector = &connector;
            if cut > 0 {
                let part = part.clone();
                scope.spawn(move || {
                    let r = server_vs_connector(connector, send_then_eof(part));
                    assert_eof_error(&r.err, &format!("{cut} bytes then EOF"));
                    assert!(r.elapsed < limit, "EOF noticed only after {:?}", r.elapsed);
                });
            }
            scope.spawn(move || {
                let r = server_vs_connector(connector, send_then_keep_open(part));
                assert_deadline(&r, limit, &format!("{cut} bytes then silence"));
            });
        }
    });
}

#[test]
fn a_dripping_client_hits_the_handshake_deadline_as_a_total() {
    let pki = Pki::new();
    // A byte every 250 ms: a per-read timer of 1.5 s would never fire.
    let limit = ms(1500);
    let every = ms(250);
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(limit))).unwrap();
    let connector = pki.connector();
    let hello = captured_client_hello(&connector);
    let direct = thread::spawn({
        let (acceptor, hello) = (acceptor.clone(), hello.clone());
        move || {
            let r = client_vs_acceptor(&acceptor, drip(hello, every));
            assert_deadline(&r, limit, "drip");
        }
    });

    // The Listener serves good clients promptly while one drips, then drops the dripper
    // at the deadline.
    let server = EchoServer::start(acceptor);
    let mut s = StdTcp::connect(server.addr).unwrap();
    let peer = s.local_addr().unwrap();
    let start = Instant::now();
    let script = drip(hello, every);
    let dripper = thread::spawn(move || {
        script(&mut s);
        drain(&mut s, secs(15))
    });
    for seed in 0..3 {
        let took = good_echo(&connector, server.addr, seed);
        assert!(
            took < ms(1000),
            "a good client waited {took:?} beside a dripper"
        );
    }
    assert!(
        start.elapsed() < limit,
        "the good clients ran beside the dripper"
    );
    let (line, at) = wait_dropped(peer, secs(10));
    let after = at - start;
    assert!(
        after >= limit.saturating_sub(ms(50)) && after < limit + ms(1500),
        "the dripper was dropped after {after:?}, the limit is {limit:?}: {line}"
    );
    dripper.join().unwrap();
    good_echo(&connector, server.addr, 9);
    direct.join().expect("the dripper against Acceptor::accept");
}

#[test]
fn a_dripping_or_stalling_server_hits_the_handshake_deadline() {
    let pki = Pki::new();
    let limit = ms(1500);
    let server = EchoServer::start(pki.acceptor());
    let connector = Connector::new(pki.client_policy().handshake_timeout(Some(limit))).unwrap();
    thread::scope(|scope| {
        for args in [
            &["drip", "100"][..],
            &["stall", "60"][..],
            &["stall", "0"][..],
        ] {
            let (connector, server) = (&connector, &server);
            scope.spawn(move || {
                let proxy = Proxy::start(server.addr.port(), args);
                let start = Instant::now();
                let err = run(10, connector.connect("127.0.0.1", proxy.port))
                    .expect_err("the handshake cannot finish");
                let elapsed = start.elapsed();
                assert_eq!(err.kind(), ErrorKind::TimedOut, "{args:?}: {err:?}");
                assert!(
                    elapsed >= limit.saturating_sub(ms(50)) && elapsed < limit + ms(1500),
                    "{args:?}: timed out after {elapsed:?}, the limit is {limit:?}"
                );
            });
        }
    });
    good_echo(&pki.connector(), server.addr, 1);
}

// =======================================================================================
// Resets, cuts and flipped bits in the middle of a transfer
// =======================================================================================

#[test]
fn a_reset_mid_transfer_is_an_io_error_after_an_exact_prefix() {
    let pki = Pki::new();
    for reader in [Reader::Client, Reader::Server] {
        let t = transfer(
            &pki,
            reader,
            Version::Tls13,
            &["rst", "12000"],
            big_chunks(),
        );
        let what = format!("rst, {reader:?} reading");
        assert_prefix(&t.received, &t.sent, &what);
        let err = t.end.expect_err("a reset is not a clean end");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
            ),
            "{what}: {err:?}"
        );
        assert!(
            t.again.is_err(),
            "{what}: a read after the reset: {:?}",
            t.again
        );
    }
}

#[test]
fn eof_in_the_middle_of_a_record_is_unexpected_eof_after_an_exact_prefix() {
    let pki = Pki::new();
    for version in versions() {
        for reader in [Reader::Client, Reader::Server] {
            let t = transfer(&pki, reader, version, &["cut", "12000"], big_chunks());
            let what = format!("cut, {version:?}, {reader:?} reading");
            assert_prefix(&t.received, &t.sent, &what);
            assert_eq!(t.received.len(), 4096, "{what}: the first record, whole");
            let err = t
                .end
                .expect_err("truncation is visible under EofPolicy::Strict");
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{what}: {err:?}");
            let again = t.again.expect_err("and stays visible");
            assert_eq!(
                again.kind(),
                io::ErrorKind::UnexpectedEof,
                "{what}: {again:?}"
            );
        }
    }
}

#[test]
fn a_flipped_bit_after_the_handshake_never_yields_altered_plaintext() {
    let pki = Pki::new();
    for version in versions() {
        for reader in [Reader::Client, Reader::Server] {
            for offset in ["12000", "20000"] {
                let t = transfer(&pki, reader, version, &["flip", offset], big_chunks());
                let what = format!("flip at {offset}, {version:?}, {reader:?} reading");
                assert_prefix(&t.received, &t.sent, &what);
                assert_eq!(t.received.len(), 4096, "{what}: the first record, whole");
                let err = t.end.expect_err("a tampered record is an error");
                assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{what}: {err:?}");
                let tls = tls_error(&err).expect("a tlsport::Error inside");
                assert_eq!(tls.kind(), ErrorKind::Tls, "{what}: {tls:?}");
                assert!(
                    t.again.is_err() && t.after.is_empty(),
                    "{what}: read after: {:?}, then {} bytes",
                    t.again,
                    t.after.len()
                );
            }
        }
    }
}

#[test]
fn a_flipped_bit_in_the_handshake_fails_it_and_the_listener_serves_on() {
    let pki = Pki::new();
    let server = EchoServer::start(
        Acceptor::new(pki.server_policy().handshake_timeout(Some(secs(2)))).unwrap(),
    );
    for version in versions() {
        // No resumption: a full handshake every time, so every offset is inside it.
        let connector = Connector::new(
            pki.client_policy()
                .protocol_versions(&[version])
                .session_cache(0),
        )
        .unwrap();
        // In the ServerHello's random, its session id, and further on (the server's
        // flight is about 800 bytes in TLS 1.2, 2 kB in TLS 1.3).
        for offset in ["20", "44", "200", "400", "600"] {
            let proxy = Proxy::start(server.addr.port(), &["flip", offset]);
            let err = run(10, connector.connect("127.0.0.1", proxy.port))
                .expect_err("a tampered handshake fails");
            assert!(
                matches!(err.kind(), ErrorKind::Tls | ErrorKind::Certificate),
                "flip at {offset}, {version:?}: {err:?}"
            );
        }
        good_echo(&connector, server.addr, 1);
    }
}

// =======================================================================================
// Alerts
// =======================================================================================

/// A fatal handshake_failure alert, in the clear.
const FATAL_ALERT: &str = "15030300020228";
/// A close_notify alert, in the clear: a truncation attack if it were believed.
const CLOSE_NOTIFY: &str = "15030300020100";

#[test]
fn a_forged_alert_during_the_handshake_is_a_tls_error() {
    let pki = Pki::new();
    let server = EchoServer::start(
        Acceptor::new(pki.server_policy().handshake_timeout(Some(secs(2)))).unwrap(),
    );
    for version in versions() {
        let connector = Connector::new(pki.client_policy().protocol_versions(&[version])).unwrap();
        for alert in [FATAL_ALERT, CLOSE_NOTIFY] {
            let proxy = Proxy::start(server.addr.port(), &["inject", alert]);
            let result = run(10, async {
                let mut s = connector.connect("127.0.0.1", proxy.port).await?;
                // Should the handshake survive, the stream must still work or fail typed.
                s.write_all(b"ping").await?;
                s.flush().await?;
                let mut back = [0u8; 4];
                s.read_exact(&mut back).await?;
                assert_eq!(&back, b"ping");
                Ok::<_, io::Error>(())
            });
            if let Err(e) = result {
                let kind = tls_error(&e).map(tlsport::Error::kind);
                assert!(
                    kind == Some(ErrorKind::Tls) || e.kind() == io::ErrorKind::UnexpectedEof,
                    "{alert} injected in the handshake, {version:?}: {e:?}"
                );
            }
        }
        good_echo(&connector, server.addr, 2);
    }
}

#[test]
fn a_forged_alert_after_the_handshake_is_an_error_not_an_end() {
    let pki = Pki::new();
    let chunks: Vec<Vec<u8>> = (0..40).map(|i| pattern(1000, i)).collect();
    for version in versions() {
        for reader in [Reader::Client, Reader::Server] {
            for alert in [FATAL_ALERT, CLOSE_NOTIFY] {
                // Record 20 is well after the handshake's last record (at most 10 here)
                // and before the end of the 40 data records.
                let t = transfer(
                    &pki,
                    reader,
                    version,
                    &["injectrec", "20", alert],
                    chunks.clone(),
                );
                let what = format!("{alert} before record 20, {version:?}, {reader:?} reading");
                let all = [&t.received[..], &t.after].concat();
                assert_prefix(&all, &t.sent, &what);
                assert!(
                    all.len() >= 1000 && all.len() < t.sent.len(),
                    "{what}: {} bytes received",
                    all.len()
                );
                assert_eq!(all.len() % 1000, 0, "{what}: whole records only");
                let err = t
                    .end
                    .expect_err("a forged alert is neither believed nor ignored");
                let tls = tls_error(&err).unwrap_or_else(|| panic!("{what}: {err:?}"));
                assert_eq!(tls.kind(), ErrorKind::Tls, "{what}: {tls:?}");
                assert!(
                    t.again.is_err() && t.after.is_empty(),
                    "{what}: the error came after {} bytes, then a read gave {:?} and reads returned \
                     {} bytes in all: plaintext that preceded the bad record was held back \
                     behind the error (a caller stopping at the error loses it)",
                    t.received.len(),
                    t.again,
                    t.after.len()
                );
            }
        }
    }
}

#[test]
fn a_real_alert_after_the_handshake_is_a_tls_error_and_the_listener_serves_on() {
    let pki = Pki::new();
    // TLS 1.3 with a client certificate required: the client finishes its handshake
    // first, then the server refuses it with an encrypted alert.
    let policy = pki
        .server_policy()
        .client_auth(ClientAuth::Required)
        .add_root_certificate(pki.client_ca.root.clone())
        .handshake_timeout(Some(secs(2)));
    let server = EchoServer::start(Acceptor::new(policy).unwrap());
    let anonymous =
        Connector::new(pki.client_policy().protocol_versions(&[Version::Tls13])).unwrap();
    let err = run(10, async {
        let mut s = anonymous
            .connect("127.0.0.1", server.addr.port())
            .await
            .expect("the client side of a TLS 1.3 handshake ends first");
        let _ = s.write_all(b"hello").await;
        let _ = s.flush().await;
        let mut buf = [0u8; 16];
        s.read(&mut buf).await.expect_err("the server's alert")
    });
    let tls = tls_error(&err).unwrap_or_else(|| panic!("{err:?}"));
    assert!(
        matches!(tls.kind(), ErrorKind::Tls | ErrorKind::Certificate),
        "{tls:?}"
    );
    assert!(
        matches!(
            tls.rustls_error(),
            Some(tlsport::rustls::Error::AlertReceived(_))
        ),
        "{tls:?}"
    );
    let good = Connector::new(pki.client_policy().identity(pki.client.identity())).unwrap();
    good_echo(&good, server.addr, 3);
}

// =======================================================================================
// Renegotiation (TLS 1.2), against OpenSSL
// =======================================================================================

#[cfg(feature = "tls12")]
#[test]
fn renegotiation_from_an_openssl_server_is_refused() {
    let pki = Pki::new();
    let files = pem_files(&pki);
    let connector =
        Connector::new(pki.client_policy().protocol_versions(&[Version::Tls12])).unwrap();
    let (mut server, port) = (0..5)
        .find_map(|_| {
            let port = free_port("127.0.0.1");
            let accept = format!("127.0.0.1:{port}");
            let args = [
                "s_server",
                "-accept",
                &accept,
                "-cert",
                "server.pem",
                "-key",
                "server.key",
                "-tls1_2",
                "-naccept",
                "1",
            ];
            // No readiness probe: s_server takes one connection only.
            let mut server = Peer::spawn_in(&files, "openssl", &args, true);
            server
                .wait_for("ACCEPT", secs(10))
                .then_some((server, port))
        })
        .expect("openssl s_server starts");

    let (received, end) = run(20, async {
        let mut s = connector
            .connect("127.0.0.1", port)
            .await
            .expect("handshake with s_server");
        assert_eq!(s.info().protocol_version, Some(Version::Tls12));
        s.write_all(b"before\n").await.unwrap();
        s.flush().await.unwrap();
        assert!(server.wait_for("before", secs(5)), "{}", server.output());
        // s_server sends a HelloRequest (its printf about it is buffered: no wait on it).
        let _ = server.try_send(b"R\n");
        Timer::after(ms(200)).await;
        let _ = server.try_send(b"from-server\n");
        let mut received = Vec::new();
        let mut buf = [0u8; 256];
        let mut wrote_after = false;
        // Read until the data after the HelloRequest arrives, write again (which carries
        // rustls's no_renegotiation warning), then see how s_server takes it: the
        // connection goes on, or ends with a typed error.
        let end = loop {
            let read = future::or(async { Some(s.read(&mut buf).await) }, async {
                Timer::after(ms(1500)).await;
                None
            })
            .await;
            match read {
                None => break Ok("still open"),
                Some(Ok(0)) => break Ok("closed cleanly"),
                Some(Ok(n)) => received.extend_from_slice(&buf[..n]),
                Some(Err(e)) => break Err(e),
            }
            if received.ends_with(b"from-server\n") && !wrote_after {
                wrote_after = true;
                if let Err(e) = async {
                    s.write_all(b"after\n").await?;
                    s.flush().await
                }
                .await
                {
                    break Err(e);
                }
            }
        };
        (received, end)
    });
    eprintln!("after R: {end:?}\n{}", server.output());
    assert_eq!(
        received, b"from-server\n",
        "data around the HelloRequest, intact"
    );
    match end {
        Ok(_) => {}
        Err(e) => assert!(
            tls_error(&e).is_some_and(|t| t.kind() == ErrorKind::Tls)
                || matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                ),
            "after a refused renegotiation: {e:?}\n{}",
            server.output()
        ),
    }
}

#[cfg(feature = "tls12")]
#[test]
fn renegotiation_from_an_openssl_client_is_refused_and_the_listener_serves_on() {
    let pki = Pki::new();
    let files = pem_files(&pki);
    let server = EchoServer::start(
        Acceptor::new(pki.server_policy().handshake_timeout(Some(secs(2)))).unwrap(),
    );
    let mut client = s_client_in(&files, server.addr.port(), &["-tls1_2"], true);
    assert!(
        client.wait_for("Verify return code: 0", secs(10)),
        "s_client handshake: {}",
        client.output()
    );
    let _ = client.try_send(b"hello-before\n");
    assert!(
        client.wait_for("hello-before", secs(5)),
        "echo: {}",
        client.output()
    );
    let _ = client.try_send(b"R\n");
    assert!(
        client.wait_for("RENEGOTIATING", secs(5)),
        "{}",
        client.output()
    );
    let _ = client.try_send(b"hello-after\n");
    // Meanwhile the Listener serves others.
    let connector = pki.connector();
    good_echo(&connector, server.addr, 4);
    // rustls refuses with a no_renegotiation warning; s_client, which waits for a
    // ServerHello, then gives up with "no renegotiation" and a fatal alert (as it does
    // against `openssl s_server -no_renegotiation`). Or the connection goes on and the
    // line comes back. Either way within moments, not never.
    let end = Instant::now() + secs(3);
    let settled = loop {
        if client.printed("hello-after")
            || client.printed("no renegotiation")
            || client.exited().is_some()
        {
            break true;
        }
        if Instant::now() >= end {
            break false;
        }
        thread::sleep(ms(20));
    };
    let output = client.output();
    drop(client);
    good_echo(&connector, server.addr, 5);
    thread::sleep(ms(200));
    for (peer, outcome) in server
        .outcomes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        if let Err(e) = outcome {
            assert!(
                tls_error(e).is_some()
                    || matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::BrokenPipe
                    ),
                "the connection from {peer} ended with an untyped error: {e:?}"
            );
        }
    }
    assert!(
        settled,
        "3 s after s_client asked to renegotiate, the connection neither went on (no \
         echo) nor was refused (no no_renegotiation alert reached s_client): the refusal \
         rustls queued was not sent while the server only reads\n{output}"
    );
}

// =======================================================================================
// A flood of handshakes that never finish
// =======================================================================================

#[test]
fn a_flood_of_unfinished_handshakes_neither_stalls_nor_spins_the_listener() {
    // Process CPU time is only meaningful with no other test running: own process.
    if !in_child(
        "hostile::a_flood_of_unfinished_handshakes_neither_stalls_nor_spins_the_listener",
        &[],
    ) {
        return;
    }
    let pki = Pki::new();
    let limit = secs(4);
    let server = EchoServer::start(
        Acceptor::new(pki.server_policy().handshake_timeout(Some(limit))).unwrap(),
    );
    let connector = pki.connector();
    good_echo(&connector, server.addr, 1);
    let hello = captured_client_hello(&connector);

    // 300 connections: half silent, half with half a ClientHello.
    let start = Instant::now();
    let mut flood: Vec<StdTcp> = (0..300)
        .map(|i| {
            if i % 25 == 24 {
                // Let the listener take them in: a full accept queue drops SYNs, and
                // their retransmission would take a second.
                thread::sleep(ms(20));
            }
            let mut s = StdTcp::connect(server.addr).expect("flood connect");
            if i % 2 == 1 {
                s.write_all(&hello[..hello.len() / 2]).unwrap();
            }
            s
        })
        .collect();
    thread::sleep(ms(300));

    // A good client while the flood is in flight (checked at the end, after the rest).
    assert!(
        start.elapsed() < limit - secs(2),
        "the flood took {:?} to connect",
        start.elapsed()
    );
    let waited = good_echo(&connector, server.addr, 2);

    // No spin while the flood waits.
    let cpu = cpu_time();
    thread::sleep(secs(1));
    let busy = cpu_time() - cpu;
    assert!(
        busy < ms(200),
        "{busy:?} of CPU in an idle second during the flood"
    );

    // Every flood connection is dropped by the deadline (the last ones waited in the
    // backlog), and nothing is sent to a silent client but an alert at most.
    let end = start + limit * 3;
    for s in &mut flood {
        let reply = drain(s, end.saturating_duration_since(Instant::now()));
        assert_alert_or_nothing(&reply, "flood connection");
        s.set_read_timeout(Some(ms(10))).unwrap();
        let open = match s.read(&mut [0u8; 1]) {
            Ok(n) => n > 0,
            Err(e) => matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
        };
        assert!(
            !open && Instant::now() < end,
            "a flood connection was still open after {:?}",
            start.elapsed()
        );
    }
    drop(flood);

    // No spin after it either, and good clients are served at once.
    thread::sleep(ms(200));
    let cpu = cpu_time();
    thread::sleep(secs(1));
    let busy = cpu_time() - cpu;
    assert!(
        busy < ms(200),
        "{busy:?} of CPU in an idle second after the flood"
    );
    let took = good_echo(&connector, server.addr, 6);
    assert!(
        took < ms(1000),
        "a good client after the flood took {took:?}"
    );

    assert!(
        waited < ms(1500),
        "a good client waited {waited:?} behind a flood of 300 unfinished handshakes \
         (handshake timeout {limit:?}): with more silent connections than the Listener's \
         bound on handshakes in flight (256 by default), new clients sit in the kernel \
         backlog until the flood's handshakes time out"
    );
}
