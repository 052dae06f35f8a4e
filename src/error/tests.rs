use std::sync::Arc;
use std::time::Duration;

use rustls::CertificateError as E;
use rustls::pki_types::CertificateDer;

use super::*;
use crate::acceptor::Acceptor;
use crate::connector::Connector;
use crate::identity::Identity;
use crate::net::{Port, connect_tcp};
use crate::policy::Policy;
use crate::trust::CaBundle;

#[test]
fn utc_dates() {
    let at = |s| utc(&UnixTime::since_unix_epoch(Duration::from_secs(s)));
    assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(at(1_580_515_200), "2020-02-01 00:00:00 UTC");
    assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
    assert_eq!(at(4_102_444_799), "2099-12-31 23:59:59 UTC");
}

#[test]
fn reasons_are_words() {
    assert!(certificate_reason(&E::UnknownIssuer).contains("trusted root"));
    let expired = E::ExpiredContext {
        time: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
        not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_580_515_200)),
    };
    let text = certificate_reason(&expired);
    assert!(
        text.contains("2020-02-01") && text.contains("2023-11-14"),
        "{text}"
    );
}

/// webpki's errors are told apart by their type, not by how they print.
#[test]
fn webpki_reasons_by_type() {
    let other = |err: webpki::Error| E::Other(rustls::OtherError(Arc::new(err)));
    let text = certificate_reason(&other(webpki::Error::CaUsedAsEndEntity));
    assert!(text.contains("CA certificate"), "{text}");
    let text = certificate_reason(&other(webpki::Error::NameConstraintViolation));
    assert!(text.contains("name constraints"), "{text}");
    // One without words of its own, and an error that is not webpki's.
    let text = certificate_reason(&other(webpki::Error::UnsupportedCrlVersion));
    assert_eq!(text, "the certificate was rejected");
    let foreign = E::Other(rustls::OtherError(Arc::new(io::Error::other(
        "CaUsedAsEndEntity",
    ))));
    assert_eq!(certificate_reason(&foreign), "the certificate was rejected");
}

/// The texts of `err` and of each of its causes, walking `source()`.
fn causes(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut texts = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(err) = cause {
        texts.push(err.to_string());
        cause = err.source();
    }
    texts
}

/// Asserts that a reporter walking the sources (anyhow's `{:#}`, [`Chain`]) prints each
/// cause once: no level repeats the text of a level below it.
#[track_caller]
fn assert_each_cause_once(err: &(dyn StdError + 'static)) {
    let causes = causes(err);
    let joined = Chain(err).to_string();
    assert_eq!(joined, causes.join(": "));
    for (i, cause) in causes.iter().enumerate() {
        assert_eq!(
            joined.matches(cause.as_str()).count(),
            1,
            "{cause:?} in {joined:?}"
        );
        for below in &causes[i + 1..] {
            assert!(
                !cause.contains(below.as_str()),
                "{cause:?} repeats {below:?}"
            );
        }
    }
}

fn localhost_identity() -> Identity {
    let cert = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    Identity::from_pem(
        cert.cert.pem().as_bytes(),
        cert.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap()
}

#[test]
fn an_address_in_use_prints_each_cause_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let acceptor = Acceptor::new(Policy::new().identity(localhost_identity())).unwrap();
    let err = futures_lite::future::block_on(acceptor.bind("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(
        err.to_string(),
        format!("cannot listen on 127.0.0.1:{port}")
    );
    let source = err.source().expect("the bind error is the source");
    assert_eq!(
        source.downcast_ref::<io::Error>().map(io::Error::kind),
        Some(io::ErrorKind::AddrInUse)
    );
    assert_each_cause_once(&err);
    // The same through an io::Error, which displays ours and skips to our source.
    assert_each_cause_once(&io::Error::from(err));
}

#[test]
fn a_refused_connection_prints_each_cause_once() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = futures_lite::future::block_on(connect_tcp("127.0.0.1", Port::from(port), None))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert_each_cause_once(&err);
}

#[test]
fn a_handshake_cut_short_prints_each_cause_once() {
    let policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .danger_accept_invalid_certs(true);
    let connector = Connector::new(policy).unwrap();
    let (client, server) = crate::duplex::duplex(64 * 1024);
    drop(server);
    let err =
        futures_lite::future::block_on(connector.connect_with("localhost", client)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    assert_eq!(err.to_string(), "tls handshake failed");
    assert!(err.source().is_some());
    assert_each_cause_once(&err);
}

/// A rejected certificate says why in its own words; rustls's error, the source, says it
/// in rustls's words, once.
#[test]
fn a_rejected_certificate_prints_each_cause_once() {
    let identity = localhost_identity();
    let root: CertificateDer<'static> = identity.chain()[0].clone();
    let acceptor = Acceptor::new(Policy::new().identity(identity)).unwrap();
    let policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .add_root_certificate(root);
    let connector = Connector::new(policy).unwrap();
    let (client, server) = crate::duplex::duplex(64 * 1024);
    let (client, _server) = futures_lite::future::block_on(futures_lite::future::zip(
        connector.connect_with("wrong.example", client),
        acceptor.accept(server),
    ));
    let err = client.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Certificate, "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("wrong.example") && text.contains("localhost"),
        "{text}"
    );
    assert!(
        err.source()
            .unwrap()
            .downcast_ref::<rustls::Error>()
            .is_some()
    );
    assert_each_cause_once(&err);
}
