//! Handshakes: data both ways and a clean close, protocol versions, ALPN, SNI, IP-literal
//! names, session resumption, what `SessionInfo` reports, both crypto backends, and
//! loopback TCP.

use crate::common;
use common::*;

use futures_lite::future;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use tlsport::{Acceptor, Backend, Connector, DuplexStream, ErrorKind, Policy, TlsStream, Version};

const MIB: usize = 1024 * 1024;

fn version_name(v: Version) -> &'static str {
    match v {
        Version::Tls12 => "1.2",
        Version::Tls13 => "1.3",
        _ => "?",
    }
}

fn connector_with(pki: &Pki, tweak: impl FnOnce(Policy) -> Policy) -> Connector {
    Connector::new(tweak(pki.client_policy())).expect("client policy")
}

fn acceptor_with(pki: &Pki, tweak: impl FnOnce(Policy) -> Policy) -> Acceptor {
    Acceptor::new(tweak(pki.server_policy())).expect("server policy")
}

// ---- data and close ----

#[test]
fn echo_one_mib_each_way_then_close_notify() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    let data = pattern(MIB, 7);
    run(60, async {
        // Small buffers: neither side can finish its part without the other running.
        let (c, s) = tlsport::duplex(16 * 1024);
        let (client, server) =
            future::zip(connector.connect_with("localhost", c), acceptor.accept(s)).await;
        let (client, mut server) = (client.unwrap(), server.unwrap());
        let (mut reader, mut writer) = client.split();

        let server_task = async {
            let mut received = Vec::with_capacity(MIB);
            let mut buf = vec![0u8; 8 * 1024];
            while received.len() < MIB {
                let n = server.read(&mut buf).await.expect("server read");
                assert_ne!(n, 0, "EOF after {} of {MIB} bytes", received.len());
                server.write_all(&buf[..n]).await.expect("server echo");
                received.extend_from_slice(&buf[..n]);
            }
            server.flush().await.expect("server flush");
            assert!(
                received == data,
                "the server received other bytes than were sent"
            );
            // The client's close_notify is a clean end of stream.
            let n = server
                .read(&mut buf)
                .await
                .expect("server read after close_notify");
            assert_eq!(n, 0, "expected EOF after the client's close_notify");
            assert_eq!(server.read(&mut buf).await.unwrap(), 0, "EOF stays EOF");
            server.close().await.expect("server close");
        };
        let client_task = async {
            let client_write = async {
                writer.write_all(&data).await.expect("client write");
                writer.flush().await.expect("client flush");
            };
            let client_read = async {
                let mut echo = vec![0u8; MIB];
                reader
                    .read_exact(&mut echo)
                    .await
                    .expect("client read echo");
                echo
            };
            let ((), echo) = future::zip(client_write, client_read).await;
            assert!(echo == data, "the echo differs from what was sent");
            // close_notify; the server sees EOF and closes in turn.
            writer.close().await.expect("client close");
            let mut rest = Vec::new();
            let n = reader
                .read_to_end(&mut rest)
                .await
                .expect("client read after the server's close_notify");
            assert_eq!(n, 0, "no data after the echo");
            let mut one = [0u8; 1];
            assert_eq!(reader.read(&mut one).await.unwrap(), 0, "EOF stays EOF");
            // Closing twice is fine.
            writer.close().await.expect("second close");
        };
        future::zip(client_task, server_task).await;
    });
}

// ---- protocol versions ----

#[test]
fn single_version_policies_negotiate_that_version() {
    let pki = Pki::new();
    for version in versions() {
        // Only one side restricted: the other allows both, so the restriction decides.
        for (client_only, server_only) in [(true, false), (false, true), (true, true)] {
            let connector = connector_with(&pki, |p| {
                if client_only {
                    p.protocol_versions(&[version])
                } else {
                    p
                }
            });
            let acceptor = acceptor_with(&pki, |p| {
                if server_only {
                    p.protocol_versions(&[version])
                } else {
                    p
                }
            });
            run(20, async {
                let (c, s) = connected_pair(&connector, &acceptor).await;
                assert_eq!(
                    c.info().protocol_version,
                    Some(version),
                    "client, TLS {} only on client={client_only} server={server_only}",
                    version_name(version)
                );
                assert_eq!(s.info().protocol_version, Some(version), "server");
            });
        }
    }
    // Both allowed on both sides: TLS 1.3 wins.
    run(20, async {
        let (c, s) = connected_pair(&pki.connector(), &pki.acceptor()).await;
        assert_eq!(c.info().protocol_version, Some(Version::Tls13));
        assert_eq!(s.info().protocol_version, Some(Version::Tls13));
    });
}

#[cfg(feature = "tls12")]
#[test]
fn no_common_version_fails_on_both_sides() {
    let pki = Pki::new();
    for (client_v, server_v) in [
        (Version::Tls12, Version::Tls13),
        (Version::Tls13, Version::Tls12),
    ] {
        let connector = connector_with(&pki, |p| p.protocol_versions(&[client_v]));
        let acceptor = acceptor_with(&pki, |p| p.protocol_versions(&[server_v]));
        run(20, async {
            let (c, s) = handshake_pair(&connector, &acceptor, "localhost").await;
            let c = c.expect_err("client handshake must fail");
            let s = s.expect_err("server handshake must fail");
            assert_eq!(c.kind(), ErrorKind::Tls, "client: {c}");
            assert_eq!(s.kind(), ErrorKind::Tls, "server: {s}");
        });
    }
}

// ---- ALPN ----

#[test]
fn alpn_agreed() {
    let pki = Pki::new();
    let connector = connector_with(&pki, |p| p.alpn_protocols(["h2", "http/1.1"]));
    let acceptor = acceptor_with(&pki, |p| p.alpn_protocols(["http/1.1"]));
    run(20, async {
        let (c, s) = connected_pair(&connector, &acceptor).await;
        assert_eq!(c.info().alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(s.info().alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
    });
    // Several in common: both sides agree on one of them.
    let acceptor = acceptor_with(&pki, |p| p.alpn_protocols(["h2", "http/1.1"]));
    run(20, async {
        let (c, s) = connected_pair(&connector, &acceptor).await;
        assert_eq!(c.info().alpn_protocol.as_deref(), Some(&b"h2"[..]));
        assert_eq!(s.info().alpn_protocol.as_deref(), Some(&b"h2"[..]));
    });
}

#[test]
fn alpn_not_offered_is_none() {
    let pki = Pki::new();
    let acceptor = acceptor_with(&pki, |p| p.alpn_protocols(["http/1.1"]));
    run(20, async {
        let (c, s) = connected_pair(&pki.connector(), &acceptor).await;
        assert_eq!(c.info().alpn_protocol, None);
        assert_eq!(s.info().alpn_protocol, None);
    });
    // The server has none configured: the client's offer goes unanswered.
    let connector = connector_with(&pki, |p| p.alpn_protocols(["h2"]));
    run(20, async {
        let (c, s) = connected_pair(&connector, &pki.acceptor()).await;
        assert_eq!(c.info().alpn_protocol, None);
        assert_eq!(s.info().alpn_protocol, None);
    });
}

#[test]
fn alpn_without_overlap_is_refused() {
    let pki = Pki::new();
    let connector = connector_with(&pki, |p| p.alpn_protocols(["h2"]));
    let acceptor = acceptor_with(&pki, |p| p.alpn_protocols(["http/1.1"]));
    run(20, async {
        let (c, s) = handshake_pair(&connector, &acceptor, "localhost").await;
        let c = c.expect_err("client handshake must fail");
        assert_eq!(c.kind(), ErrorKind::Tls, "client: {c}");
        let message = c.to_string().to_lowercase();
        assert!(
            message.contains("alert")
                && (message.contains("applicationprotocol")
                    || message.contains("application protocol")
                    || message.contains("alpn")),
            "the client's error should name the no_application_protocol alert: {message}"
        );
        let s = s.expect_err("server handshake must fail");
        assert_eq!(s.kind(), ErrorKind::Tls, "server: {s}");
    });
}

/// A policy with an ALPN name outside 1..=255 bytes is refused when compiled, on both
/// sides: rustls would panic on an empty name (debug build), send a malformed ClientHello
/// (release build), or cut a long name down to its low length byte.
#[test]
fn alpn_names_outside_1_to_255_bytes_are_refused_naming_the_entry() {
    let pki = Pki::new();
    let cases: [(Vec<&[u8]>, usize, usize); 4] = [
        (vec![b""], 0, 0),
        (vec![b"h2", b""], 1, 0),
        (vec![&[b'x'; 256], b"h2"], 0, 256),
        (vec![b"h2", b"http/1.1", &[b'y'; 1000]], 2, 1000),
    ];
    for (names, index, len) in cases {
        let client = Connector::new(pki.client_policy().alpn_protocols(&names)).map(|_| ());
        let server = Acceptor::new(pki.server_policy().alpn_protocols(&names)).map(|_| ());
        for (side, result) in [("client", client), ("server", server)] {
            let err = result.expect_err("a bad ALPN name must be refused");
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{side}: {err}");
            let message = err.to_string();
            assert!(
                message.contains(&format!("index {index} "))
                    && message.contains(&format!("{len} bytes"))
                    && message.contains("1 to 255"),
                "{side}: the error should name the entry, its length and the limit: {message}"
            );
        }
    }
}

#[test]
fn alpn_names_of_1_and_255_bytes_are_agreed() {
    let pki = Pki::new();
    let longest = [b'p'; 255];
    for name in [&longest[..], b"x"] {
        let connector = connector_with(&pki, |p| p.alpn_protocols([&b"h2"[..], name]));
        let acceptor = acceptor_with(&pki, |p| p.alpn_protocols([name]));
        run(20, async {
            let (c, s) = connected_pair(&connector, &acceptor).await;
            assert_eq!(c.info().alpn_protocol.as_deref(), Some(name));
            assert_eq!(s.info().alpn_protocol.as_deref(), Some(name));
        });
    }
}

// ---- SNI and server names ----

#[test]
fn server_sees_sni() {
    let pki = Pki::new();
    run(20, async {
        let (c, s) = connected_pair(&pki.connector(), &pki.acceptor()).await;
        assert_eq!(s.info().server_name.as_deref(), Some("localhost"));
        assert_eq!(c.info().server_name.as_deref(), Some("localhost"));
    });
}

#[test]
fn sni_off_sends_nothing_but_still_verifies_the_name() {
    let pki = Pki::new();
    let connector = connector_with(&pki, |p| p.sni(false));
    let acceptor = pki.acceptor();
    run(20, async {
        let (c, s) = connected_pair(&connector, &acceptor).await;
        assert_eq!(s.info().server_name, None, "the server received an SNI");
        assert_eq!(
            c.info().server_name,
            None,
            "the client reports an SNI it did not send"
        );

        let (c, _s) = handshake_pair(&connector, &acceptor, "wrong.example").await;
        let err = c.expect_err("a wrong name must still be rejected with SNI off");
        assert_eq!(err.kind(), ErrorKind::Certificate, "{err}");
    });
}

#[test]
fn server_name_override() {
    let pki = Pki::new();
    // The override is what gets verified and sent.
    let connector = connector_with(&pki, |p| p.server_name("localhost"));
    let acceptor = pki.acceptor();
    run(20, async {
        let (c, s) = handshake_pair(&connector, &acceptor, "wrong.example").await;
        let (c, s) = (c.expect("override verified"), s.expect("server"));
        assert_eq!(s.info().server_name.as_deref(), Some("localhost"));
        assert_eq!(c.info().server_name.as_deref(), Some("localhost"));
    });
    // And the other way round: a wrong override beats a right host.
    let connector = connector_with(&pki, |p| p.server_name("wrong.example"));
    run(20, async {
        let (c, _s) = handshake_pair(&connector, &acceptor, "localhost").await;
        let err = c.expect_err("the override names a host the certificate lacks");
        assert_eq!(err.kind(), ErrorKind::Certificate, "{err}");
        assert!(err.to_string().contains("wrong.example"), "{err}");
    });
}

#[test]
fn invalid_server_names_are_invalid_input() {
    let pki = Pki::new();
    let err = Connector::new(pki.client_policy().server_name("not a host name")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let connector = pki.connector();
    run(20, async {
        let (c, _s) = duplex_pair();
        let err = connector
            .connect_with("bad name!", c)
            .await
            .expect_err("invalid name");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    });
}

fn duplex_pair() -> (DuplexStream, DuplexStream) {
    tlsport::duplex(64 * 1024)
}

#[test]
fn ip_literals_verify_against_ip_sans_and_send_no_sni() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    for name in ["127.0.0.1", "::1", "[::1]"] {
        run(20, async {
            let (c, s) = handshake_pair(&connector, &acceptor, name).await;
            let c = c.unwrap_or_else(|e| panic!("client to {name}: {e}"));
            let s = s.unwrap_or_else(|e| panic!("server for {name}: {e}"));
            assert_eq!(
                s.info().server_name,
                None,
                "{name}: an IP must not be sent as SNI"
            );
            assert_eq!(c.info().server_name, None, "{name}");
        });
    }
    for name in ["127.0.0.2", "::2", "[::2]"] {
        run(20, async {
            let (c, _s) = handshake_pair(&connector, &acceptor, name).await;
            let err = c.expect_err("an IP not in the SANs must be rejected");
            assert_eq!(err.kind(), ErrorKind::Certificate, "{name}: {err}");
            assert!(
                matches!(
                    err.certificate_error(),
                    Some(
                        tlsport::rustls::CertificateError::NotValidForName
                            | tlsport::rustls::CertificateError::NotValidForNameContext { .. }
                    )
                ),
                "{name}: {:?}",
                err.certificate_error()
            );
        });
    }
}

// ---- session resumption ----

/// One connection with a byte from server to client (so a TLS 1.3 client has read the
/// server's tickets), then a clean close. Returns (client resumed, server resumed).
async fn one_session(connector: &Connector, acceptor: &Acceptor) -> (bool, bool) {
    let (mut c, mut s) = connected_pair(connector, acceptor).await;
    let resumed = (c.info().resumed, s.info().resumed);
    let ((), ()) = future::zip(
        async {
            let mut byte = [0u8; 1];
            c.read_exact(&mut byte).await.expect("client read");
            assert_eq!(byte, [42]);
            c.close().await.expect("client close");
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).await.expect("client EOF");
            assert!(rest.is_empty());
        },
        async {
            s.write_all(&[42]).await.expect("server write");
            s.flush().await.expect("server flush");
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).await.expect("server EOF");
            assert!(rest.is_empty());
            s.close().await.expect("server close");
        },
    )
    .await;
    resumed
}

fn resumption_case(version: Version, client_cache: usize, server_cache: usize) -> bool {
    let pki = Pki::new();
    let connector = connector_with(&pki, |p| {
        p.protocol_versions(&[version]).session_cache(client_cache)
    });
    let acceptor = acceptor_with(&pki, |p| {
        p.protocol_versions(&[version]).session_cache(server_cache)
    });
    run(30, async {
        let first = one_session(&connector, &acceptor).await;
        assert_eq!(
            first,
            (false, false),
            "a first connection cannot be resumed"
        );
        let second = one_session(&connector, &acceptor).await;
        assert_eq!(
            second.0,
            second.1,
            "TLS {}: client and server disagree on resumption",
            version_name(version)
        );
        second.0
    })
}

#[test]
fn session_resumption_tls13() {
    assert!(
        resumption_case(Version::Tls13, 256, 256),
        "second TLS 1.3 connection not resumed"
    );
}

#[cfg(feature = "tls12")]
#[test]
fn session_resumption_tls12() {
    assert!(
        resumption_case(Version::Tls12, 256, 256),
        "second TLS 1.2 connection not resumed"
    );
}

#[test]
fn session_cache_zero_on_the_client_disables_resumption() {
    for version in versions() {
        assert!(
            !resumption_case(version, 0, 256),
            "TLS {}: resumed with session_cache(0) on the client",
            version_name(version)
        );
    }
}

#[test]
fn session_cache_zero_on_the_server_disables_resumption() {
    for version in versions() {
        assert!(
            !resumption_case(version, 256, 0),
            "TLS {}: resumed with session_cache(0) on the server",
            version_name(version)
        );
    }
}

#[test]
fn resumed_session_carries_data() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(30, async {
        one_session(&connector, &acceptor).await;
        let (mut c, mut s) = connected_pair(&connector, &acceptor).await;
        assert!(c.info().resumed && s.info().resumed);
        let data = pattern(50_000, 3);
        let (_, got) = future::zip(
            async {
                c.write_all(&data).await.unwrap();
                c.flush().await.unwrap();
            },
            async {
                let mut got = vec![0u8; data.len()];
                s.read_exact(&mut got).await.unwrap();
                got
            },
        )
        .await;
        assert!(got == data);
    });
}

// ---- SessionInfo ----

#[test]
fn session_info_fields() {
    let pki = Pki::new();
    for version in versions() {
        let connector = connector_with(&pki, |p| p.protocol_versions(&[version]));
        let acceptor = pki.acceptor();
        run(20, async {
            let (c, s) = connected_pair(&connector, &acceptor).await;
            let (ci, si) = (c.info(), s.info());
            assert!(ci.is_client, "client info says server");
            assert!(!si.is_client, "server info says client");
            for info in [&ci, &si] {
                assert_eq!(info.protocol_version, Some(version));
                let suite = info.cipher_suite.as_deref().expect("a cipher suite");
                match version {
                    Version::Tls13 => {
                        assert!(suite.starts_with("TLS13_"), "{suite}")
                    }
                    _ => assert!(suite.starts_with("TLS_ECDHE_"), "{suite}"),
                }
                let group = info.key_exchange_group.as_deref().expect("a kx group");
                assert!(!group.is_empty());
                assert!(!info.resumed);
            }
            assert_eq!(ci.cipher_suite, si.cipher_suite);
            assert_eq!(ci.key_exchange_group, si.key_exchange_group);
            assert_eq!(
                ci.peer_certificates.first(),
                Some(&pki.server.cert_der()),
                "the client's peer_certificates[0] must be the server leaf"
            );
            assert!(
                si.peer_certificates.is_empty(),
                "no client certificate was sent"
            );
        });
    }
}

// ---- crypto backends ----

#[test]
fn available_backends_match_features() {
    let mut expected = Vec::new();
    if cfg!(feature = "aws-lc-rs") {
        expected.push(Backend::AwsLcRs);
    }
    if cfg!(feature = "ring") {
        expected.push(Backend::Ring);
    }
    let real: Vec<_> = Backend::available()
        .into_iter()
        .filter(|b| !b.is_insecure())
        .collect();
    assert_eq!(real, expected);
    assert_eq!(Backend::AwsLcRs.is_available(), cfg!(feature = "aws-lc-rs"));
    assert_eq!(Backend::Ring.is_available(), cfg!(feature = "ring"));
    if let Some(first) = expected.first() {
        assert_eq!(tlsport::default_backend(), *first);
    }
    let pki = Pki::new();
    for backend in [Backend::AwsLcRs, Backend::Ring] {
        let built = Connector::new(pki.client_policy().backend(backend));
        if backend.is_available() {
            built.unwrap_or_else(|e| panic!("{backend:?} is available but: {e}"));
        } else {
            let err = built.expect_err("a backend not compiled in");
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        }
    }
}

#[cfg(all(feature = "ring", feature = "aws-lc-rs"))]
#[test]
fn ring_and_aws_lc_rs_interoperate() {
    let pki = Pki::new();
    for (client_backend, server_backend) in [
        (Backend::Ring, Backend::AwsLcRs),
        (Backend::AwsLcRs, Backend::Ring),
        (Backend::Ring, Backend::Ring),
    ] {
        for version in versions() {
            let connector = connector_with(&pki, |p| {
                p.backend(client_backend).protocol_versions(&[version])
            });
            let acceptor = acceptor_with(&pki, |p| p.backend(server_backend));
            run(20, async {
                let (mut c, mut s) = connected_pair(&connector, &acceptor).await;
                assert_eq!(c.info().protocol_version, Some(version));
                assert!(c.info().key_exchange_group.is_some());
                let data = pattern(20_000, 9);
                let (_, got) = future::zip(
                    async {
                        c.write_all(&data).await.unwrap();
                        c.flush().await.unwrap();
                    },
                    async {
                        let mut got = vec![0u8; data.len()];
                        s.read_exact(&mut got).await.unwrap();
                        got
                    },
                )
                .await;
                assert!(got == data, "{client_backend:?} -> {server_backend:?}");
            });
        }
    }
}

#[cfg(feature = "ring")]
#[test]
fn ring_backend_alone() {
    let pki = Pki::new();
    let connector = connector_with(&pki, |p| p.backend(Backend::Ring));
    let acceptor = acceptor_with(&pki, |p| p.backend(Backend::Ring));
    run(20, async {
        let (c, s) = connected_pair(&connector, &acceptor).await;
        assert_eq!(c.info().protocol_version, Some(Version::Tls13));
        assert_eq!(s.info().protocol_version, Some(Version::Tls13));
        // A certificate problem is still one with ring.
        let (c, _s) = handshake_pair(&connector, &acceptor, "wrong.example").await;
        assert_eq!(c.unwrap_err().kind(), ErrorKind::Certificate);
    });
}

// ---- loopback TCP ----

async fn tcp_echo<S>(stream: &mut TlsStream<S>, data: &[u8])
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    stream.write_all(data).await.expect("client write");
    stream.flush().await.expect("client flush");
    let mut echo = vec![0u8; data.len()];
    stream.read_exact(&mut echo).await.expect("client read");
    assert!(echo == data, "TCP echo differs");
    stream.close().await.expect("client close");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.expect("client EOF");
    assert!(rest.is_empty());
}

#[test]
fn loopback_tcp_echo() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(30, async {
        let listener = acceptor.bind("127.0.0.1", 0).await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_ne!(addr.port(), 0);
        let port = addr.port();
        let data = pattern(64 * 1024, 11);
        let hosts = ["localhost", "127.0.0.1"];

        let server = async {
            for host in hosts {
                let (mut stream, peer) = listener.accept().await.expect("accept");
                assert!(peer.ip().is_loopback(), "{peer}");
                let info = stream.info();
                assert!(!info.is_client);
                let expected_sni = (host == "localhost").then(|| "localhost".to_owned());
                assert_eq!(info.server_name, expected_sni, "server, client used {host}");
                let mut got = vec![0u8; data.len()];
                stream.read_exact(&mut got).await.expect("server read");
                assert!(got == data, "server received other bytes");
                stream.write_all(&got).await.expect("server write");
                stream.flush().await.expect("server flush");
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).await.expect("server EOF");
                assert!(rest.is_empty());
                stream.close().await.expect("server close");
            }
        };
        let client = async {
            for host in hosts {
                let mut stream = connector
                    .connect(host, port)
                    .await
                    .unwrap_or_else(|e| panic!("connect({host}, {port}): {e}"));
                assert!(stream.info().is_client);
                assert_eq!(
                    stream.get_ref().peer_addr().unwrap().port(),
                    port,
                    "connected to the wrong port"
                );
                tcp_echo(&mut stream, &data).await;
            }
        };
        future::zip(server, client).await;
    });
}

#[test]
fn loopback_tcp_rejects_wrong_name() {
    let pki = Pki::new();
    let connector = connector_with(&pki, |p| p.server_name("wrong.example"));
    let acceptor = pki.acceptor();
    run(30, async {
        let listener = acceptor.bind("127.0.0.1", 0).await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        // The listener drops the failed handshake and keeps going; the client's error is
        // the one to check.
        let result = future::or(
            async { Some(connector.connect("127.0.0.1", port).await) },
            async {
                let _ = listener.accept().await;
                None
            },
        )
        .await;
        let err = result
            .expect("the listener yielded a failed handshake")
            .expect_err("wrong name");
        assert_eq!(err.kind(), ErrorKind::Certificate, "{err}");
    });
}
