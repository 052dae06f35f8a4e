//! The certificate catalogue of `tests/pki/make-pki.sh`, each leaf served by a real
//! `openssl s_server -www` on 127.0.0.1 to a tlsport `Connector` that trusts root-ca.pem:
//! the good ones are accepted (by name, by IP, wildcard, name-constrained, misordered
//! chains), the bad ones refused as `ErrorKind::Certificate` with the cause, and the
//! oversized one refused as a typed error without a hang.
//!
//! Every s_server lives in a [`Peer`] guard (`tests/common/peer.rs`) that kills and reaps
//! it by PID on drop (panics included); its output is captured and goes into assertion messages. Every wait is
//! bounded. The cases are separate tests, so the harness runs them in parallel.

use crate::common;
use common::*;

use std::net::TcpListener as StdTcpListener;
use std::time::{Duration, Instant};

use common::peer::*;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use tlsport::pki_types::pem::PemObject;
use tlsport::pki_types::{CertificateDer, ServerName};
use tlsport::rustls::{CertificateError, ExtendedKeyPurpose};
use tlsport::{Connector, ErrorKind, TcpStream, TlsStream, Version};

// ---------------------------------------------------------------------------------------
// s_server processes
// ---------------------------------------------------------------------------------------

/// `openssl s_server -www -cert CERT -key server.key [-cert_chain CHAIN] extra...` on
/// loopback `ip`, ready for connections.
fn www_on(ip: &str, cert: &str, chain: Option<&str>, extra: &[&str]) -> (Peer, u16) {
    let mut args = vec!["-www", "-cert", cert, "-key", "server.key"];
    if let Some(chain) = chain {
        args.extend(["-cert_chain", chain]);
    }
    args.extend_from_slice(extra);
    s_server_on(ip, &args, false)
}

/// [`www_on`] 127.0.0.1.
fn www(cert: &str, chain: Option<&str>, extra: &[&str]) -> (Peer, u16) {
    www_on("127.0.0.1", cert, chain, extra)
}

// ---------------------------------------------------------------------------------------
// The client side
// ---------------------------------------------------------------------------------------

const STEP: Duration = Duration::from_secs(5);

fn connector() -> Connector {
    Connector::new(openssl_client_policy()).expect("client policy")
}

/// A TLS handshake as `name` over a TCP connection to 127.0.0.1:`port` made here.
async fn handshake(
    connector: &Connector,
    name: &str,
    port: u16,
    server: &Peer,
) -> tlsport::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("TCP connect: {e}{}", server.output()));
    within(STEP, connector.connect_with(name, tcp))
        .await
        .unwrap_or_else(|| panic!("handshake hangs{}", server.output()))
}

/// GET / and read the page to a clean EOF; checks it is s_server's.
async fn page<S>(tls: &mut TlsStream<S>, server: &Peer)
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    let mut page = Vec::new();
    let result = within(STEP, async {
        tls.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
        tls.flush().await?;
        tls.read_to_end(&mut page).await
    })
    .await
    .unwrap_or_else(|| panic!("the page did not end within {STEP:?}{}", server.output()));
    let page = String::from_utf8_lossy(&page);
    result.unwrap_or_else(|e| panic!("reading the page: {e:?}; got {page:?}{}", server.output()));
    assert!(
        page.starts_with("HTTP/1.0 200 ok"),
        "{page}{}",
        server.output()
    );
    // s_server (3.0) serves one connection at a time and lets go of this one only when
    // we close it.
    within(STEP, tls.close())
        .await
        .unwrap_or_else(|| panic!("close hangs{}", server.output()))
        .unwrap_or_else(|e| panic!("close after the page: {e:?}{}", server.output()));
}

fn der(file: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(pki_file(file)).expect("certificate PEM")
}

/// Serves `cert` (+ `chain`) and expects a handshake as `name` to succeed, the served leaf
/// to be the peer's first certificate, and the page to arrive.
fn accepted(cert: &str, chain: Option<&str>, name: &str) -> Vec<CertificateDer<'static>> {
    let (server, port) = www(cert, chain, &[]);
    let connector = connector();
    run(15, async {
        let mut tls = handshake(&connector, name, port, &server)
            .await
            .unwrap_or_else(|e| panic!("{cert} as {name:?} refused: {e:?}{}", server.output()));
        let info = tls.info();
        assert_eq!(info.peer_certificates.first(), Some(&der(cert)));
        page(&mut tls, &server).await;
        info.peer_certificates
    })
}

/// Serves `cert` (+ `chain`, + `extra` s_server flags) and expects a handshake as `name`
/// to fail with [`ErrorKind::Certificate`]; returns the error.
fn refused(cert: &str, chain: Option<&str>, extra: &[&str], name: &str) -> tlsport::Error {
    let (server, port) = www(cert, chain, extra);
    let connector = connector();
    let err = run(15, async {
        match handshake(&connector, name, port, &server).await {
            Ok(tls) => panic!(
                "{cert} accepted as {name:?}: {:?}{}",
                tls.info(),
                server.output()
            ),
            Err(e) => e,
        }
    });
    assert_eq!(
        err.kind(),
        ErrorKind::Certificate,
        "{cert} as {name:?}: {err:?}{}",
        server.output()
    );
    assert!(
        err.certificate_error().is_some(),
        "no rustls CertificateError: {err:?}"
    );
    err
}

/// The error's message names each of `words` (ignoring case).
fn assert_mentions(err: &tlsport::Error, words: &[&str]) {
    let message = err.to_string().to_lowercase();
    for word in words {
        assert!(
            message.contains(&word.to_lowercase()),
            "the message should mention {word:?}: {err}"
        );
    }
}

/// The error's message states the cause in one of the `ways` (ignoring case): rustls's
/// own identifier, or words.
fn assert_cause(err: &tlsport::Error, ways: &[&str]) {
    let message = err.to_string().to_lowercase();
    assert!(
        ways.iter().any(|way| message.contains(&way.to_lowercase())),
        "the message should give the cause ({ways:?}): {err}"
    );
}

/// UNIX time of a UTC date at midnight (days from civil, Howard Hinnant's algorithm).
fn unix(year: i64, month: i64, day: i64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    ((era * 146_097 + doe - 719_468) * 86_400) as u64
}

// ---------------------------------------------------------------------------------------
// Accepted
// ---------------------------------------------------------------------------------------

#[test]
fn good_chain_by_name() {
    let chain = accepted("server.pem", Some("int-ca.pem"), "localhost");
    assert_eq!(chain, vec![der("server.pem"), der("int-ca.pem")]);
}

#[test]
fn good_chain_by_ipv4() {
    let (server, port) = www("server.pem", Some("int-ca.pem"), &[]);
    let connector = connector();
    run(15, async {
        let mut tls = within(STEP, connector.connect("127.0.0.1", port))
            .await
            .expect("handshake hangs")
            .unwrap_or_else(|e| panic!("{e:?}{}", server.output()));
        // Verified against the IP SAN; no SNI for an IP literal.
        assert_eq!(tls.info().server_name, None);
        page(&mut tls, &server).await;
    });
}

#[test]
fn good_chain_by_ipv6() {
    if StdTcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let (server, port) = www_on("::1", "server.pem", Some("int-ca.pem"), &[]);
    let connector = connector();
    run(15, async {
        for host in ["::1", "[::1]"] {
            let mut tls = within(STEP, connector.connect(host, port))
                .await
                .expect("handshake hangs")
                .unwrap_or_else(|e| panic!("{host}: {e:?}{}", server.output()));
            assert_eq!(tls.info().server_name, None);
            page(&mut tls, &server).await;
        }
    });
}

#[test]
fn ip_not_in_the_certificate() {
    // server.pem has IP SANs 127.0.0.1 and ::1: any other address is refused, even over
    // the right connection.
    let err = refused("server.pem", Some("int-ca.pem"), &[], "127.0.0.2");
    assert!(
        matches!(
            err.certificate_error(),
            Some(CertificateError::NotValidForNameContext {
                expected: ServerName::IpAddress(_),
                ..
            })
        ),
        "{err:?}"
    );
    assert_mentions(&err, &["127.0.0.2"]);
}

#[test]
fn wildcard_one_label_deep() {
    let (server, port) = www("wildcard.pem", Some("int-ca.pem"), &[]);
    run(15, async {
        // connect_with over a TCP stream made here: the name is verified and sent as SNI.
        let connector = connector();
        let mut tls = handshake(&connector, "a.wild.test", port, &server)
            .await
            .unwrap_or_else(|e| panic!("{e:?}{}", server.output()));
        assert_eq!(tls.info().server_name.as_deref(), Some("a.wild.test"));
        page(&mut tls, &server).await;

        // Policy::server_name overrides the host connect() is given.
        let connector = Connector::new(openssl_client_policy().server_name("a.wild.test")).unwrap();
        let mut tls = within(STEP, connector.connect("127.0.0.1", port))
            .await
            .expect("handshake hangs")
            .unwrap_or_else(|e| panic!("{e:?}{}", server.output()));
        assert_eq!(tls.info().server_name.as_deref(), Some("a.wild.test"));
        assert_eq!(
            tls.info().peer_certificates.first(),
            Some(&der("wildcard.pem"))
        );
        page(&mut tls, &server).await;
    });
}

#[test]
fn name_constrained_ok_leaf() {
    let chain = accepted("nc-ok.pem", Some("nc-int-ca.pem"), "svc.example.com");
    assert_eq!(chain.len(), 2);
}

#[test]
fn misordered_chain_file() {
    // server.misordered.chain.pem is leaf, root, intermediate: s_server sends the leaf,
    // then that whole file (leaf again, root, intermediate). The path is still found.
    let chain = accepted(
        "server.pem",
        Some("server.misordered.chain.pem"),
        "localhost",
    );
    assert_eq!(
        chain,
        vec![
            der("server.pem"),
            der("server.pem"),
            der("root-ca.pem"),
            der("int-ca.pem")
        ]
    );
}

#[test]
fn root_before_intermediate() {
    // Extra certificates in reverse order (root, then intermediate) and the root sent too.
    let dir = std::env::temp_dir().join(format!("tlsport-catalogue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("root-then-int.pem");
    let mut pem = std::fs::read(pki_file("root-ca.pem")).unwrap();
    pem.extend(std::fs::read(pki_file("int-ca.pem")).unwrap());
    std::fs::write(&file, pem).unwrap();
    let chain = accepted("server.pem", Some(file.to_str().unwrap()), "localhost");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        chain,
        vec![der("server.pem"), der("root-ca.pem"), der("int-ca.pem")]
    );
}

#[test]
fn good_chain_both_versions() {
    for version in versions() {
        let flag = match version {
            Version::Tls12 => "-tls1_2",
            Version::Tls13 => "-tls1_3",
            other => unreachable!("{other:?}"),
        };
        let (server, port) = www("server.pem", Some("int-ca.pem"), &[flag]);
        let connector = connector();
        run(15, async {
            let mut tls = handshake(&connector, "localhost", port, &server)
                .await
                .unwrap_or_else(|e| panic!("{flag}: {e:?}{}", server.output()));
            assert_eq!(tls.info().protocol_version, Some(version));
            page(&mut tls, &server).await;
        });
    }
}

// ---------------------------------------------------------------------------------------
// Refused: ErrorKind::Certificate with the cause
// ---------------------------------------------------------------------------------------

#[test]
fn missing_intermediate() {
    let err = refused("server.pem", None, &[], "localhost");
    assert_eq!(
        err.certificate_error(),
        Some(&CertificateError::UnknownIssuer),
        "{err:?}"
    );
    assert_cause(&err, &["issuer"]);
}

#[test]
fn untrusted_root() {
    let err = refused(
        "untrusted.pem",
        Some("untrusted-root.pem"),
        &[],
        "localhost",
    );
    assert_eq!(
        err.certificate_error(),
        Some(&CertificateError::UnknownIssuer),
        "{err:?}"
    );
}

#[test]
fn self_signed_leaf() {
    // selfsigned.pem has its own key.
    let (server, port) = s_server(
        &["-www", "-cert", "selfsigned.pem", "-key", "selfsigned.key"],
        false,
    );
    let connector = connector();
    let err = run(15, async {
        handshake(&connector, "localhost", port, &server)
            .await
            .expect_err("a self-signed leaf nobody trusts")
    });
    assert_eq!(err.kind(), ErrorKind::Certificate, "{err:?}");
    assert_eq!(
        err.certificate_error(),
        Some(&CertificateError::UnknownIssuer),
        "{err:?}"
    );
}

#[test]
fn expired() {
    let err = refused("expired.pem", Some("int-ca.pem"), &[], "localhost");
    match err.certificate_error() {
        Some(CertificateError::ExpiredContext { not_after, .. }) => {
            assert_eq!(not_after.as_secs(), unix(2020, 2, 1), "{err:?}");
        }
        other => panic!("{other:?}: {err:?}"),
    }
    assert_cause(&err, &["expired"]);
    // The date it expired, as UNIX seconds or as a date.
    assert_cause(&err, &["1580515200", "2020-02-01"]);
}

#[test]
fn not_yet_valid() {
    let err = refused("notyet.pem", Some("int-ca.pem"), &[], "localhost");
    match err.certificate_error() {
        Some(CertificateError::NotValidYetContext { not_before, .. }) => {
            assert_eq!(not_before.as_secs(), unix(2099, 1, 1), "{err:?}");
        }
        other => panic!("{other:?}: {err:?}"),
    }
    assert_cause(&err, &["not valid"]);
    assert_cause(&err, &["4070908800", "2099-01-01"]);
}

#[test]
fn inverted_dates() {
    // notAfter before notBefore: webpki says InvalidCertValidity, which rustls reports as
    // plain Expired.
    let err = refused("inverted.pem", Some("int-ca.pem"), &[], "localhost");
    assert!(
        matches!(
            err.certificate_error(),
            Some(CertificateError::Expired | CertificateError::ExpiredContext { .. })
        ),
        "{err:?}"
    );
    assert_cause(&err, &["expired"]);
}

#[test]
fn wrong_host() {
    let err = refused("wronghost.pem", Some("int-ca.pem"), &[], "localhost");
    match err.certificate_error() {
        Some(CertificateError::NotValidForNameContext {
            expected,
            presented,
        }) => {
            assert_eq!(expected.to_str(), "localhost");
            assert_eq!(presented.len(), 1, "{presented:?}");
            assert!(presented[0].contains("wrong.example.com"), "{presented:?}");
        }
        other => panic!("{other:?}: {err:?}"),
    }
    assert_mentions(&err, &["localhost", "wrong.example.com"]);
}

#[test]
fn no_san() {
    // CN=localhost and no subjectAltName. OpenSSL and curl fall back to the CN and accept
    // it; rustls (rightly, RFC 6125/CA-B Forum) does not.
    let err = refused("nosan.pem", Some("int-ca.pem"), &[], "localhost");
    match err.certificate_error() {
        Some(CertificateError::NotValidForNameContext { presented, .. }) => {
            assert!(presented.is_empty(), "{presented:?}");
        }
        other => panic!("{other:?}: {err:?}"),
    }
    assert_mentions(&err, &["localhost"]);
}

#[test]
fn openssl_accepts_what_rustls_refuses() {
    // The catalogue's note, checked: OpenSSL's own client takes nosan (CN fallback) and
    // ca-as-leaf, so it is not the oracle for those two; tlsport refuses both above.
    for cert in ["nosan.pem", "ca-as-leaf.pem"] {
        let (_server, port) = www(cert, Some("int-ca.pem"), &[]);
        let mut client = s_client(port, &["-verify_hostname", "localhost"], false);
        let status = client.wait(Duration::from_secs(10));
        assert!(
            client.stdout().contains("Verify return code: 0 (ok)"),
            "{cert}: {status}{}",
            client.output()
        );
    }
}

#[test]
fn client_auth_only_eku() {
    let err = refused("clientauth-eku.pem", Some("int-ca.pem"), &[], "localhost");
    match err.certificate_error() {
        Some(CertificateError::InvalidPurposeContext {
            required,
            presented,
        }) => {
            assert_eq!(*required, ExtendedKeyPurpose::ServerAuth);
            assert_eq!(presented, &vec![ExtendedKeyPurpose::ClientAuth]);
        }
        other => panic!("{other:?}: {err:?}"),
    }
}

#[test]
fn ca_as_leaf() {
    let err = refused("ca-as-leaf.pem", Some("int-ca.pem"), &[], "localhost");
    // webpki's CaUsedAsEndEntity has no CertificateError variant of its own.
    assert!(
        matches!(err.certificate_error(), Some(CertificateError::Other(_))),
        "{err:?}"
    );
    assert_cause(&err, &["CaUsedAsEndEntity", "CA certificate"]);
}

#[test]
fn name_constraint_violation() {
    let err = refused("nc-violation.pem", Some("nc-int-ca.pem"), &[], "localhost");
    assert!(
        matches!(err.certificate_error(), Some(CertificateError::Other(_))),
        "{err:?}"
    );
    assert_cause(&err, &["NameConstraintViolation", "name constraint"]);
}

#[test]
fn nul_in_san() {
    // dNSName "localhost\0h" (the CVE-2009-2408 trick): never taken for "localhost".
    let err = refused("nul-san.pem", Some("int-ca.pem"), &[], "localhost");
    match err.certificate_error() {
        Some(CertificateError::NotValidForNameContext {
            expected,
            presented,
        }) => {
            assert_eq!(expected.to_str(), "localhost");
            assert_eq!(presented.len(), 1, "{presented:?}");
            assert!(presented[0].contains("localhost\0h"), "{presented:?}");
        }
        other => panic!("{other:?}: {err:?}"),
    }
    // The peer's NUL never reaches a log line raw.
    let text = err.to_string();
    assert!(!text.contains('\0'), "{text:?}");
}

#[test]
fn wildcard_two_labels_deep() {
    let err = refused("wildcard.pem", Some("int-ca.pem"), &[], "a.b.wild.test");
    assert!(
        matches!(
            err.certificate_error(),
            Some(CertificateError::NotValidForNameContext { .. })
        ),
        "{err:?}"
    );
    assert_mentions(&err, &["a.b.wild.test", "*.wild.test"]);
}

#[test]
fn wildcard_bare_domain() {
    let err = refused("wildcard.pem", Some("int-ca.pem"), &[], "wild.test");
    assert!(
        matches!(
            err.certificate_error(),
            Some(CertificateError::NotValidForNameContext { .. })
        ),
        "{err:?}"
    );
    assert_mentions(&err, &["wild.test", "*.wild.test"]);
}

#[test]
fn sha1_signature() {
    // s_server refuses to load a SHA-1-signed certificate at its default security level.
    let err = refused(
        "sha1.pem",
        Some("int-ca.pem"),
        &["-cipher", "DEFAULT:@SECLEVEL=0"],
        "localhost",
    );
    assert!(
        matches!(
            err.certificate_error(),
            Some(CertificateError::UnsupportedSignatureAlgorithmContext { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn big_certificate_message() {
    // A 132 KB leaf: its Certificate message is over TLS's 64 KiB handshake message
    // limit in rustls. Either refusal is right, as long as it is typed and quick.
    let (server, port) = www("bigcert.pem", Some("int-ca.pem"), &[]);
    let connector = connector();
    let start = Instant::now();
    let err = run(15, async {
        match handshake(&connector, "localhost", port, &server).await {
            Ok(tls) => panic!("bigcert accepted: {:?}{}", tls.info(), server.output()),
            Err(e) => e,
        }
    });
    assert!(
        matches!(err.kind(), ErrorKind::Tls | ErrorKind::Certificate),
        "{err:?}{}",
        server.output()
    );
    assert!(start.elapsed() < STEP, "took {:?}", start.elapsed());
    assert!(
        err.to_string().contains("larger than rustls accepts"),
        "{err}"
    );
}
