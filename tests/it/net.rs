//! TCP: connect by name, IPv4 and IPv6 literals, ports and service names, and a Listener
//! that no client can stall.

use crate::common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use futures::executor::ThreadPool;
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::{Acceptor, Connector, ErrorKind, Proto};

/// Starts a TLS server on `host` (port 0) in a thread: each connection gets a line with
/// the SNI it sent, then the server echoes one line and closes. Returns the address.
fn spawn_server(acceptor: Acceptor, host: &'static str) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let pool = ThreadPool::builder().pool_size(2).create().unwrap();
        future::block_on(async move {
            let listener = acceptor.bind(host, 0).await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (mut stream, _peer) = listener.accept().await.unwrap();
                pool.spawn_ok(async move {
                    let sni = format!("{:?}\n", stream.info().server_name);
                    let _ = stream.write_all(sni.as_bytes()).await;
                    let mut line = Vec::new();
                    let mut byte = [0];
                    while stream.read(&mut byte).await.unwrap_or(0) == 1 {
                        line.push(byte[0]);
                        if byte[0] == b'\n' {
                            break;
                        }
                    }
                    let _ = stream.write_all(&line).await;
                    let _ = stream.close().await;
                });
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// Connects, checks the SNI the server saw and an echo; returns the SNI line.
async fn talk(connector: &Connector, host: &str, port: impl Into<tlsport::Port>) -> String {
    let mut stream = connector.connect(host, port).await.unwrap_or_else(|e| {
        panic!("connect to {host}: {e}");
    });
    stream.write_all(b"ping\n").await.unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).await.unwrap();
    let (sni, echo) = all.split_once('\n').unwrap();
    assert_eq!(echo, "ping\n");
    sni.to_owned()
}

fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn connects_by_name_and_ipv4_literal_with_port_number_and_string() {
    let pki = Pki::new();
    let addr = spawn_server(pki.acceptor(), "127.0.0.1");
    let connector = pki.connector();
    run(20, async {
        assert_eq!(
            talk(&connector, "localhost", addr.port()).await,
            "Some(\"localhost\")"
        );
        let port = addr.port().to_string();
        assert_eq!(
            talk(&connector, "localhost", port.as_str()).await,
            "Some(\"localhost\")"
        );
        assert_eq!(talk(&connector, "127.0.0.1", addr.port()).await, "None");
    });
}

#[test]
fn connects_by_ipv6_literal_with_and_without_brackets() {
    if !has_ipv6_loopback() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let pki = Pki::new();
    let addr = spawn_server(pki.acceptor(), "::1");
    let connector = pki.connector();
    run(20, async {
        assert_eq!(talk(&connector, "::1", addr.port()).await, "None");
        assert_eq!(talk(&connector, "[::1]", addr.port()).await, "None");
    });
}

#[test]
fn binding_all_addresses_serves_both_families() {
    let pki = Pki::new();
    let addr = spawn_server(pki.acceptor(), "");
    assert!(addr.ip().is_unspecified(), "{addr}");
    let connector = pki.connector();
    run(20, async {
        assert_eq!(talk(&connector, "127.0.0.1", addr.port()).await, "None");
        if has_ipv6_loopback() && addr.is_ipv6() {
            assert_eq!(talk(&connector, "::1", addr.port()).await, "None");
        }
    });
}

#[test]
fn server_name_override_applies_to_connect() {
    let pki = Pki::new();
    let addr = spawn_server(pki.acceptor(), "127.0.0.1");
    let connector = Connector::new(pki.client_policy().server_name("localhost")).unwrap();
    run(20, async {
        assert_eq!(
            talk(&connector, "127.0.0.1", addr.port()).await,
            "Some(\"localhost\")"
        );
    });
}

#[test]
fn refused_unresolvable_and_bad_inputs_are_typed() {
    let pki = Pki::new();
    let connector = pki.connector();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    run(30, async {
        let err = connector.connect("127.0.0.1", port).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(err.to_string().contains(&port.to_string()), "{err}");
        assert!(err.to_string().contains("127.0.0.1"), "{err}");

        let err = connector.connect("name.invalid", 443).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Resolve, "{err}");

        for bad in ["no-such-service", "99999"] {
            let err = connector.connect("name.invalid", bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
        }
        let err = connector.connect("", 443).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");

        let started = Instant::now();
        let err = connector
            .connect_proto("name.invalid", 443, Proto::Udp)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("DTLS"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(50));
    });
}

#[test]
fn connect_timeout_bounds_the_tcp_phase() {
    // A listener with a full accept queue drops SYNs, so connecting hangs.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hole.local_addr().unwrap();
    let mut fillers = Vec::new();
    while fillers.len() < 200 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    let pki = Pki::new();
    let connector = Connector::new(
        pki.client_policy()
            .connect_timeout(Some(Duration::from_millis(300))),
    )
    .unwrap();
    run(20, async {
        let err = connector
            .connect("127.0.0.1", addr.port())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    });
}

#[test]
fn listener_keeps_serving_while_silent_garbage_and_plaintext_clients_hang_on() {
    let pki = Pki::new();
    // A long handshake timeout: a listener that waited on bad clients one by one would
    // make the good clients miss the test deadline.
    let acceptor = Acceptor::new(
        pki.server_policy()
            .handshake_timeout(Some(Duration::from_secs(60))),
    )
    .unwrap();
    let addr = spawn_server(acceptor, "127.0.0.1");
    let mut bad = Vec::new();
    for i in 0..60 {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        match i % 3 {
            0 => {}
            1 => s.write_all(&pattern(300, i as u8)).unwrap(),
            _ => s
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap(),
        }
        bad.push(s);
    }
    let connector = pki.connector();
    run(15, async {
        for _ in 0..10 {
            assert_eq!(
                talk(&connector, "localhost", addr.port()).await,
                "Some(\"localhost\")"
            );
        }
    });
    drop(bad);
}

#[test]
fn two_hundred_concurrent_handshakes() {
    let pki = Pki::new();
    let addr = spawn_server(pki.acceptor(), "127.0.0.1");
    let connector = pki.connector();
    let started = Instant::now();
    run(60, async {
        let clients = (0..200).map(|_| talk(&connector, "127.0.0.1", addr.port()));
        let done = futures::future::join_all(clients).await;
        assert_eq!(done.len(), 200);
    });
    eprintln!(
        "200 concurrent handshakes and echoes in {:?}",
        started.elapsed()
    );
}

#[test]
fn handshake_bound_and_timeout_free_slots_for_good_clients() {
    let pki = Pki::new();
    let acceptor = Acceptor::new(
        pki.server_policy()
            .handshake_timeout(Some(Duration::from_millis(400))),
    )
    .unwrap();
    let connector = pki.connector();
    run(20, async {
        let listener = acceptor.bind("127.0.0.1", 0).await.unwrap();
        listener.set_max_handshakes(2);
        let addr = listener.local_addr().unwrap();
        let silent: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let started = Instant::now();
        let server = async {
            // The two silent clients fill both slots and time out; then the good one.
            let (stream, _) = listener.accept().await.unwrap();
            stream
        };
        let client = async {
            // Let the listener take the silent clients first.
            async_io::Timer::after(Duration::from_millis(100)).await;
            connector.connect("localhost", addr.port()).await.unwrap()
        };
        let (_server, _client) = future::zip(server, client).await;
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(350),
            "served before a slot was free: {took:?}"
        );
        // Slots freed by timeouts must wake the listener at once (a lost wake-up here
        // once left the good client waiting for seconds).
        assert!(took < Duration::from_secs(3), "served late: {took:?}");
        drop(silent);
    });
}

#[test]
fn incoming_yields_finished_handshakes() {
    let pki = Pki::new();
    let acceptor = pki.acceptor();
    let connector = pki.connector();
    run(20, async {
        let listener = acceptor.bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = async {
            let mut incoming = listener.incoming();
            for _ in 0..3 {
                let mut stream = incoming.next().await.unwrap().unwrap();
                stream.write_all(b"hi").await.unwrap();
                stream.close().await.unwrap();
            }
        };
        let clients = async {
            for _ in 0..3 {
                let mut stream = connector.connect("localhost", port).await.unwrap();
                let mut got = Vec::new();
                stream.read_to_end(&mut got).await.unwrap();
                assert_eq!(got, b"hi");
            }
        };
        future::zip(server, clients).await;
    });
}

#[test]
fn bind_reports_an_address_in_use() {
    let pki = Pki::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    run(10, async {
        let err = pki.acceptor().bind("127.0.0.1", port).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(err.to_string().contains(&port.to_string()), "{err}");
    });
}
