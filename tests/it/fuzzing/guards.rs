//! What keeps the fuzzing mode from being used by accident: no handshake with a real
//! peer, refusals of real trust and identities, never a default backend.

use futures_lite::future;
use tlsport::fuzzing;
use tlsport::{Acceptor, Backend, CaBundle, ClientAuth, Connector, ErrorKind, Policy};

use super::recorded;
use crate::common::{Pki, run};

#[test]
fn a_fuzzing_client_never_completes_a_handshake_with_a_real_server() {
    let pki = Pki::new();
    for backend in Backend::available()
        .into_iter()
        .filter(|b| !b.is_insecure())
    {
        let acceptor = Acceptor::new(pki.server_policy().backend(backend)).unwrap();
        let connector = Connector::new(fuzzing::client_policy()).unwrap();
        let (c, s) = tlsport::duplex(64 * 1024);
        let (client, server) = run(
            10,
            future::zip(connector.connect_with("localhost", c), acceptor.accept(s)),
        );
        assert_eq!(client.unwrap_err().kind(), ErrorKind::Tls, "{backend:?}");
        assert_eq!(server.unwrap_err().kind(), ErrorKind::Tls, "{backend:?}");
    }
}

#[test]
fn a_real_client_never_completes_a_handshake_with_a_fuzzing_server() {
    for backend in Backend::available()
        .into_iter()
        .filter(|b| !b.is_insecure())
    {
        // Even a client that accepts any certificate.
        let policy = Policy::new()
            .ca_bundle(CaBundle::Empty)
            .danger_accept_invalid_certs(true)
            .backend(backend);
        let connector = Connector::new(policy).unwrap();
        let acceptor = Acceptor::new(fuzzing::server_policy()).unwrap();
        let (c, s) = tlsport::duplex(64 * 1024);
        let (client, server) = run(
            10,
            future::zip(connector.connect_with("localhost", c), acceptor.accept(s)),
        );
        assert_eq!(client.unwrap_err().kind(), ErrorKind::Tls, "{backend:?}");
        assert_eq!(server.unwrap_err().kind(), ErrorKind::Tls, "{backend:?}");
    }
}

fn refused(result: tlsport::Result<impl std::fmt::Debug>, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::Config, "{what}: {err}");
    assert!(err.to_string().contains("InsecureFuzzing"), "{what}: {err}");
}

#[test]
fn connector_and_acceptor_refuse_fuzzing_policies_with_anything_real() {
    let pki = Pki::new();
    let client = fuzzing::client_policy;
    refused(
        Connector::new(client().ca_bundle(CaBundle::System)),
        "system roots",
    );
    refused(
        Connector::new(
            Policy::new()
                .ca_bundle(CaBundle::System)
                .backend(Backend::InsecureFuzzing),
        ),
        "a default policy with system roots",
    );
    refused(
        Connector::new(client().ca_bundle(CaBundle::File("roots.pem".into()))),
        "a bundle file",
    );
    refused(
        Connector::new(client().add_root_certificate(pki.ca.root.clone())),
        "a root added by hand",
    );
    refused(
        Connector::new(client().identity(pki.client.identity())),
        "a real client identity",
    );
    refused(
        Acceptor::new(client().identity(pki.server.identity())),
        "a real server identity",
    );
    refused(
        Acceptor::new(fuzzing::server_policy().identity_for("localhost", pki.server.identity())),
        "a real identity for a server name",
    );
    refused(
        Acceptor::new(fuzzing::server_policy().ca_bundle(CaBundle::System)),
        "a server with system roots",
    );
    refused(
        Acceptor::new(
            fuzzing::server_policy()
                .client_auth(ClientAuth::Required)
                .client_auth_roots(CaBundle::File("client-ca.pem".into())),
        ),
        "client-auth roots",
    );
    // The built-in identity is of no use to a real backend.
    for backend in Backend::available()
        .into_iter()
        .filter(|b| !b.is_insecure())
    {
        let err = Acceptor::new(fuzzing::server_policy().backend(backend)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}

#[test]
fn the_fuzzing_backend_is_never_a_default() {
    let available = Backend::available();
    assert_eq!(available.last(), Some(&Backend::InsecureFuzzing));
    assert!(Backend::InsecureFuzzing.is_available());
    assert!(Backend::InsecureFuzzing.is_insecure());
    assert!(!tlsport::default_backend().is_insecure());
    assert_ne!(tlsport::default_backend(), Backend::InsecureFuzzing);
    let before = tlsport::default_backend();
    let err = tlsport::set_default_backend(Backend::InsecureFuzzing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(tlsport::default_backend(), before);
    assert_ne!(
        format!("{:?}", Policy::new()),
        format!("{:?}", fuzzing::client_policy())
    );
}

#[test]
fn the_rustls_configurations_match_the_policies() {
    let client = fuzzing::client_config().unwrap();
    let server = fuzzing::server_config().unwrap();
    let mut conn =
        tlsport::rustls::ClientConnection::new(client, "localhost".try_into().unwrap()).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    // rustls driven by hand sends the ClientHello tlsport's client sends.
    assert!(recorded().sent().starts_with(&hello));
    let _ = tlsport::rustls::ServerConnection::new(server).unwrap();
}
