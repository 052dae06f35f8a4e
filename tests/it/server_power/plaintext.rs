//! `Acceptor::accept_or_plaintext`: TLS clients served, plaintext ones handed back with
//! every byte, a silent one timed out.

use super::*;

use std::io::Write;
use std::time::Instant;

use tlsport::{ErrorKind, MaybeTls, Policy, Rewind};

const REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Reads `rewind` until the blank line that ends an HTTP request.
async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(plain: &mut Rewind<S>) -> Vec<u8> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(plain.read(&mut byte).await.unwrap(), 1, "got {got:?}");
        got.push(byte[0]);
    }
    got
}

#[test]
fn a_plaintext_client_sending_one_byte_at_a_time_gets_every_byte_back() {
    let acceptor = Pki::new().acceptor();
    run(30, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let mut c = OneByte(c);
        let client = async {
            for byte in REQUEST {
                c.write_all(&[*byte]).await.unwrap();
                async_io::Timer::after(ms(2)).await;
            }
            let mut reply = Vec::new();
            c.read_to_end(&mut reply).await.unwrap();
            reply
        };
        let server = async {
            let MaybeTls::Plaintext(mut plain) = acceptor.accept_or_plaintext(s).await.unwrap()
            else {
                panic!("a plaintext client taken for TLS");
            };
            // Decided on the first byte.
            assert_eq!(plain.buffered(), b"G");
            assert_eq!(read_request(&mut plain).await, REQUEST);
            plain
                .write_all(b"HTTP/1.1 301 Moved Permanently\r\n\r\n")
                .await
                .unwrap();
            plain.close().await.unwrap();
        };
        let (reply, ()) = future::zip(client, server).await;
        assert!(reply.starts_with(b"HTTP/1.1 301"));
    });
}

#[test]
fn a_plaintext_client_over_tcp_trickling_bytes_gets_them_all() {
    let acceptor = Pki::new().acceptor();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Starts like a TLS record, then is not one: the server must read three bytes, one
    // at a time, and give all of them back.
    let mut sent = vec![0x16, 0x03, 0x07];
    sent.extend_from_slice(REQUEST);
    let client = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let mut tcp = std::net::TcpStream::connect(addr).unwrap();
            tcp.set_nodelay(true).unwrap();
            for byte in sent {
                tcp.write_all(&[byte]).unwrap();
                std::thread::sleep(ms(3));
            }
            tcp
        })
    };
    let (socket, _) = listener.accept().unwrap();
    let socket = async_io::Async::new(socket).unwrap();
    let got = run(30, async {
        let MaybeTls::Plaintext(mut plain) = acceptor.accept_or_plaintext(socket).await.unwrap()
        else {
            panic!("taken for TLS");
        };
        assert_eq!(plain.buffered(), [0x16, 0x03, 0x07]);
        read_request(&mut plain).await
    });
    assert_eq!(got, sent);
    drop(client.join().unwrap());
}

#[test]
fn tls_clients_are_served_over_tcp_and_duplex() {
    let pki = Pki::new();
    let acceptor = pki.acceptor();
    let connector = pki.connector();
    run(30, async {
        let tcp = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let server = async {
            let (socket, _) = tcp.accept().await.unwrap();
            match acceptor.accept_or_plaintext(socket).await.unwrap() {
                MaybeTls::Tls(stream) => stream,
                MaybeTls::Plaintext(_) => panic!("a TLS client taken for plaintext"),
            }
        };
        let client = async {
            let socket = tlsport::TcpStream::connect(addr).await.unwrap();
            connector.connect_with("localhost", socket).await.unwrap()
        };
        let (mut client, mut server) = future::zip(client, server).await;
        exchange(&mut client, &mut server).await;

        // A client writing one byte per call: the record header arrives split.
        let (c, s) = tlsport::duplex(64 * 1024);
        let (client, server) = future::zip(
            connector.connect_with("localhost", OneByte(c)),
            acceptor.accept_or_plaintext(s),
        )
        .await;
        let (mut client, MaybeTls::Tls(mut server)) = (client.unwrap(), server.unwrap()) else {
            panic!("taken for plaintext");
        };
        exchange(&mut client, &mut server).await;
    });
}

#[test]
fn the_bytes_read_to_tell_reach_the_name_check() {
    // No default identity: the ClientHello, whose first bytes were read to tell, is
    // read whole and checked by name.
    let pki = Pki::new();
    let acceptor =
        Acceptor::new(Policy::new().identity_for("localhost", pki.server.identity())).unwrap();
    let connector = pki.connector();
    run(30, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let (client, server) = future::zip(
            connector.connect_with("localhost", c),
            acceptor.accept_or_plaintext(s),
        )
        .await;
        client.unwrap();
        assert!(matches!(server.unwrap(), MaybeTls::Tls(_)));

        let (c, s) = tlsport::duplex(64 * 1024);
        let other = any_name_connector(&pki);
        let (client, server) = future::zip(
            other.connect_with("other.test", c),
            acceptor.accept_or_plaintext(s),
        )
        .await;
        let err = client.unwrap_err();
        assert_eq!(
            alert_of(&err),
            Some(tlsport::rustls::AlertDescription::UnrecognisedName)
        );
        assert_eq!(server.unwrap_err().kind(), ErrorKind::Tls);
    });
}

#[test]
fn a_silent_client_times_out_and_one_that_closes_is_plaintext() {
    let pki = Pki::new();
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(ms(300)))).unwrap();
    run(30, async {
        let (c, s) = tlsport::duplex(64 * 1024);
        let started = Instant::now();
        let err = acceptor.accept_or_plaintext(s).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(took >= ms(250) && took < ms(1500), "{took:?}");
        drop(c);

        // 0x16 alone, then silence: still undecided at the deadline.
        let (mut c, s) = tlsport::duplex(64 * 1024);
        c.write_all(&[0x16]).await.unwrap();
        let err = acceptor.accept_or_plaintext(s).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");

        // 0x16 then the end: not TLS; the byte is given back, then the end.
        let (mut c, s) = tlsport::duplex(64 * 1024);
        c.write_all(&[0x16]).await.unwrap();
        drop(c);
        let MaybeTls::Plaintext(plain) = acceptor.accept_or_plaintext(s).await.unwrap() else {
            panic!("taken for TLS");
        };
        let (unread, mut io) = plain.into_inner();
        assert_eq!(unread, [0x16]);
        assert_eq!(io.read(&mut [0u8; 8]).await.unwrap(), 0);
    });
}

#[test]
fn a_tls_client_stalling_after_the_first_bytes_times_out_in_the_same_deadline() {
    let pki = Pki::new();
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(ms(600)))).unwrap();
    run(30, async {
        let record = client_hello_record(&pki.connector(), "localhost").await;
        let (mut c, s) = tlsport::duplex(64 * 1024);
        let started = Instant::now();
        let server = acceptor.accept_or_plaintext(s);
        let client = async {
            c.write_all(&record[..3]).await.unwrap();
            async_io::Timer::after(ms(400)).await;
            c.write_all(&record[3..record.len() - 1]).await.unwrap();
            c
        };
        let (err, _c) = future::zip(async { server.await.unwrap_err() }, client).await;
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(took >= ms(550) && took < ms(1000), "{took:?}");
    });
}

#[test]
fn rewind_gives_back_what_was_not_read() {
    run(10, async {
        let (mut c, s) = tlsport::duplex(1024);
        c.write_all(b"def").await.unwrap();
        let mut rewind = Rewind::new(b"abc".to_vec(), s);
        let mut two = [0u8; 2];
        rewind.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        assert_eq!(rewind.buffered(), b"c");
        rewind.write_all(b"to the client").await.unwrap();
        let (unread, mut s) = rewind.into_inner();
        assert_eq!(unread, b"c");
        let mut rest = [0u8; 3];
        s.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"def");
        let mut reply = [0u8; 13];
        c.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"to the client");
    });
}
