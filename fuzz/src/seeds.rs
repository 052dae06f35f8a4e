//! The seed corpus of every target, written by the root package's
//! `cargo test --test it -- --ignored write_seed_corpus`.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tlsport::{Acceptor, Connector};

use super::client_handshake::client_policy;
use super::common::complete;
use super::server_handshake::server_policy;

/// A transport that records what passes through it.
struct Tap<S> {
    io: S,
    read: Rc<RefCell<Vec<u8>>>,
    wrote: Rc<RefCell<Vec<u8>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.read.borrow_mut().extend_from_slice(&buf[..n]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.wrote.borrow_mut().extend_from_slice(&buf[..n]);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

/// A whole conversation between a tlsport client (policy `client_policy(client)`) and
/// server (`server_policy(server)`): a request, a response, close_notify both ways.
/// Returns (bytes the client wrote, bytes the server wrote).
pub fn capture(client: usize, server: usize) -> (Vec<u8>, Vec<u8>) {
    let connector = Connector::new(client_policy(client)).expect("client policy");
    let acceptor = Acceptor::new(server_policy(server)).expect("server policy");
    let (c_io, s_io) = tlsport::duplex(64 * 1024);
    let tap = Tap {
        io: c_io,
        read: Rc::default(),
        wrote: Rc::default(),
    };
    let (from_server, from_client) = (tap.read.clone(), tap.wrote.clone());
    complete(
        async {
            let (c, s) = futures_lite::future::zip(
                connector.connect_with("localhost", tap),
                acceptor.accept(s_io),
            )
            .await;
            let (mut c, mut s) = (c.expect("client"), s.expect("server"));
            c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .unwrap();
            c.flush().await.unwrap();
            let mut request = [0u8; 64];
            let _ = s.read(&mut request).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .await
                .unwrap();
            s.close().await.unwrap();
            let mut response = Vec::new();
            c.read_to_end(&mut response).await.unwrap();
            c.close().await.unwrap();
        },
        1_000_000,
        "seed capture",
    );
    let client_bytes = from_client.borrow().clone();
    let server_bytes = from_server.borrow().clone();
    (client_bytes, server_bytes)
}

/// A handshake target's input: `[variant, schedule length, schedule.., peer bytes..]`.
pub(crate) fn framed(variant: u8, schedule: &[u8], peer: &[u8]) -> Vec<u8> {
    let mut v = vec![variant, schedule.len() as u8];
    v.extend_from_slice(schedule);
    v.extend_from_slice(peer);
    v
}

/// stream_ops opcodes: `op(kind, side)` with side 0 = client, 1 = server.
fn op(kind: u8, side: u8) -> u8 {
    (kind << 1) | side
}

fn write_op(side: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![op(2, side)];
    v.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    v.extend_from_slice(bytes);
    v
}

/// The recorded conversations of the handshake targets: client variant, server variant,
/// name (the same for the real-crypto targets and the fuzzing-mode ones).
pub(crate) const PAIRS: [(usize, usize, &str); 6] = [
    (0, 0, "tls13"),
    (2, 2, "tls12"),
    (3, 3, "tls13-alpn"),
    (5, 5, "tls12-alpn"),
    (12, 24, "tls13-mtls"),
    (14, 26, "tls12-mtls"),
];

/// The transport schedule of the `-scheduled` seeds: short reads and writes, `Pending`.
pub(crate) const SCHEDULE: [u8; 12] = [
    0x04, 0x05, 0x08, 0x02, 0x01, 0x10, 0x06, 0x0c, 0x0d, 0x02, 0x00, 0x03,
];

/// The seed corpus: (target, file name, bytes). Certificates only: every key is made
/// at run time.
pub fn seed_corpus() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, data: Vec<u8>| {
        seeds.push((target, name.to_owned(), data));
    };

    for (client, server, name) in PAIRS {
        let (from_client, from_server) = capture(client, server);
        add(
            "client_handshake",
            &format!("server-flight-{name}"),
            framed(client as u8, &[], &from_server),
        );
        add(
            "server_handshake",
            &format!("client-flight-{name}"),
            framed(server as u8, &[], &from_client),
        );
        if client == 0 {
            add(
                "client_handshake",
                "server-flight-tls13-scheduled",
                framed(client as u8, &SCHEDULE, &from_server),
            );
            add(
                "server_handshake",
                "client-flight-tls13-scheduled",
                framed(server as u8, &SCHEDULE, &from_client),
            );
        }
    }
    for target in ["client_handshake", "server_handshake"] {
        add(
            target,
            "http-text",
            framed(0, &[], b"GET / HTTP/1.1\r\n\r\n"),
        );
        add(
            target,
            "alert",
            framed(1, &[], &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
        );
        add(target, "schedule-only", framed(0, &[0xff, 0xfe, 0x04], &[]));
    }

    // stream_ops: config byte = buffer index + 8 * pair variant.
    let mut chat = vec![4];
    chat.extend(write_op(0, b"hello server"));
    chat.extend([op(1, 1), op(0, 1), 3]);
    chat.extend(write_op(1, b"hello client"));
    chat.extend([op(5, 1), op(1, 0), op(6, 0), op(1, 1), op(6, 1), op(1, 0)]);
    add("stream_ops", "chat-tls13", chat.clone());
    chat[0] = 2 * 8 + 2;
    add("stream_ops", "chat-tls12-64b", chat);

    let mut split = vec![1];
    split.extend([op(7, 0)]);
    split.extend(write_op(0, b"through the write half"));
    split.extend([op(12, 0), op(10, 0), op(1, 1), op(7, 1), op(8, 1), op(8, 0)]);
    split.extend(write_op(1, b"back"));
    split.extend([op(12, 1), op(9, 0), op(1, 0)]);
    add("stream_ops", "split-reunite-1b", split);

    let mut flood = vec![3 * 8 + 5];
    flood.extend([
        op(4, 0),
        63,
        b'x',
        op(4, 0),
        63,
        b'y',
        op(1, 1),
        op(5, 0),
        op(6, 0),
    ]);
    flood.extend([op(11, 1), 0, op(1, 0), op(6, 1)]);
    add("stream_ops", "flood-ragged-drop", flood);

    // load_identity: [flags, len(A) u16 LE, A, B]; flags bit 0 / 1 swap in the real
    // certificate / key, bits 3.. pick the ObjectKind.
    let made = rcgen::generate_simple_self_signed(vec!["seed.test".to_owned()])
        .expect("rcgen certificate");
    let (cert_pem, cert_der) = (made.cert.pem(), made.cert.der().to_vec());
    let with = |flags: u8, a: &[u8], b: &[u8]| {
        let mut v = vec![flags];
        v.extend_from_slice(&(a.len() as u16).to_le_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        v
    };
    add("load_identity", "real-pair", with(3, b"", b""));
    add(
        "load_identity",
        "cert-pem-real-key",
        with(2, cert_pem.as_bytes(), b""),
    );
    add(
        "load_identity",
        "cert-der-real-key-pkcs8",
        with(2 | (3 << 3), &cert_der, b""),
    );
    add(
        "load_identity",
        "cert-pem-ca-kind",
        with(1 << 3, cert_pem.as_bytes(), b"\x30\x03\x02\x01\x00"),
    );
    let mut garbage = cert_pem.clone().into_bytes();
    garbage.extend_from_slice(b"\n-----BEGIN CERTIFICATE-----\nnot base64!\n");
    add(
        "load_identity",
        "garbage-after-cert",
        with(0, &garbage, b""),
    );
    add(
        "load_identity",
        "password-pkcs12",
        with(4 | 0x80 | (4 << 3), &cert_der, b"\x30\x82\x01\x00"),
    );

    // host_port: host \0 port.
    for (i, text) in [
        &b"localhost\x00https"[..],
        b"127.0.0.1\x00443",
        b"[::1]\x00 8443 ",
        b"::1\x0065535",
        b"exa_mple..com\x0065536",
        b"xn--bcher-kva.example\x00IMAPS",
        b"[fe80::1%eth0]\x00-1",
        b"256.1.1.1\x00",
        b"a.b.c.\x00https-alt",
        b"\x00",
    ]
    .into_iter()
    .enumerate()
    {
        add("host_port", &format!("host-port-{i}"), text.to_vec());
    }
    #[cfg(feature = "fuzzing")]
    seeds.extend(super::seeds_plaintext::seeds());
    seeds
}
