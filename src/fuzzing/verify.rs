//! What a policy on the fuzzing backend may hold, and the verifiers it gets: they trust
//! the built-in identity, by its exact bytes, and nothing else.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::error::{Error, ErrorKind, Result};
use crate::identity::Identity;
use crate::policy::{ClientAuth, Policy};
use crate::trust::CaBundle;

use super::certificate::{SERVER_NAME, certificate, private_key_der};
use super::sign::VERIFICATION_ALGORITHMS;

/// Whether `identity` is the built-in one of the fuzzing mode.
pub(crate) fn is_built_in(identity: &Identity) -> bool {
    identity.chain() == std::slice::from_ref(certificate())
        && identity.key().secret_der() == private_key_der()
}

fn refuse(what: &str) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "Backend::InsecureFuzzing has no security at all and is refused with {what}: \
             it trusts and presents only its built-in identity; build fuzzing policies \
             with tlsport::fuzzing::client_policy() and server_policy()"
        ),
    )
}

/// Refuses a policy on the fuzzing backend that holds anything real: trust anchors (any
/// CA bundle but `CaBundle::Empty`, roots added by hand, client-auth roots) or an
/// identity other than the built-in one. Such a policy was meant for real peers.
pub(crate) fn check_policy(policy: &Policy) -> Result<()> {
    match &policy.ca_bundle {
        CaBundle::Empty => {}
        CaBundle::System => return Err(refuse("CaBundle::System (the system's trust store)")),
        other => return Err(refuse(&format!("a CA bundle ({other:?})"))),
    }
    if !policy.extra_roots.is_empty() {
        return Err(refuse("root certificates added by hand"));
    }
    if policy.client_auth_roots != CaBundle::Empty {
        return Err(refuse("client_auth_roots"));
    }
    let real = |identity: &Identity| !is_built_in(identity);
    if policy.identity.as_ref().is_some_and(real) {
        return Err(refuse("a real identity"));
    }
    if policy.named.iter().any(|(_, identity)| real(identity)) {
        return Err(refuse("a real identity for a server name (identity_for)"));
    }
    Ok(())
}

/// The client's verifier: the built-in certificate, for `localhost`, unless the policy's
/// danger switches say otherwise. Handshake signatures must always be fuzzing ones.
pub(crate) fn server_verifier(policy: &Policy) -> Arc<dyn ServerCertVerifier> {
    Arc::new(BuiltInServer {
        any_certificate: policy.accept_invalid_certs,
        any_name: policy.accept_invalid_certs || policy.accept_invalid_hostnames,
    })
}

/// The server's verifier of client certificates: the built-in certificate only.
pub(crate) fn client_verifier(mode: ClientAuth) -> Arc<dyn ClientCertVerifier> {
    Arc::new(BuiltInClient {
        mandatory: mode == ClientAuth::Required,
    })
}

#[derive(Debug)]
struct BuiltInServer {
    any_certificate: bool,
    any_name: bool,
}

fn check_certificate(end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
    if end_entity.as_ref() == certificate().as_ref() {
        Ok(())
    } else {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }
}

impl ServerCertVerifier for BuiltInServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.any_certificate {
            check_certificate(end_entity)?;
        }
        let named = matches!(server_name, ServerName::DnsName(name) if name.as_ref().eq_ignore_ascii_case(SERVER_NAME));
        if !self.any_name && !named {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &VERIFICATION_ALGORITHMS)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &VERIFICATION_ALGORITHMS)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        VERIFICATION_ALGORITHMS.supported_schemes()
    }
}

#[derive(Debug)]
struct BuiltInClient {
    mandatory: bool,
}

impl ClientCertVerifier for BuiltInClient {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        check_certificate(end_entity).map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &VERIFICATION_ALGORITHMS)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &VERIFICATION_ALGORITHMS)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        VERIFICATION_ALGORITHMS.supported_schemes()
    }
}
