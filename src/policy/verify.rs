//! The two verifiers behind the `danger_*` switches of a policy.

mod leaf_names;

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

use self::leaf_names::leaf_names;

/// Accepts any certificate chain, but still checks the handshake signatures made with the
/// leaf's key: the peer must hold the key of the certificate it presents.
#[derive(Debug)]
pub(crate) struct AcceptAnyCertificate {
    pub(crate) algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Verifies the chain with `inner` as if the client had asked for a name the leaf holds,
/// so that only a fault of the chain (or its dates, usages, constraints) can fail it.
///
/// Forgiving the name error of a verification against the requested name would rely on
/// the inner verifier checking the chain before the name and saying which failed: webpki
/// does, but the Apple verifier reports one error code for every failure, so an
/// untrusted chain for another name would have been forgiven there. Nothing is forgiven
/// here, on any platform.
///
/// A leaf with no usable DNS or IP name is verified against the requested name, so it is
/// accepted only when valid for it.
#[derive(Debug)]
pub(crate) struct IgnoreHostname {
    pub(crate) inner: Arc<dyn ServerCertVerifier>,
}

impl ServerCertVerifier for IgnoreHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let names = leaf_names(end_entity);
        let mut result = None;
        // The first name settles it, unless the verifier disagrees with this reading of
        // the leaf (a name error): then the next one is tried. Each try is a complete
        // verification, so trying more than one can accept nothing untrusted.
        for name in &names {
            let outcome =
                self.inner
                    .verify_server_cert(end_entity, intermediates, name, ocsp_response, now);
            let name_error = matches!(
                outcome,
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            );
            result = Some(outcome);
            if !name_error {
                break;
            }
        }
        result.unwrap_or_else(|| {
            self.inner.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use rustls::RootCertStore;
    use rustls::client::WebPkiServerVerifier;

    struct Ca {
        root: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    }

    impl Ca {
        fn new(name: &str) -> Ca {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let root = params.self_signed(&key).unwrap().der().clone();
            Ca {
                root,
                issuer: Issuer::new(params, key),
            }
        }

        fn leaf(&self, names: &[&str]) -> CertificateDer<'static> {
            let key = KeyPair::generate().unwrap();
            let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
            let params = CertificateParams::new(names).unwrap();
            params.signed_by(&key, &self.issuer).unwrap().der().clone()
        }
    }

    fn webpki(roots: &[&Ca]) -> Arc<dyn ServerCertVerifier> {
        let mut store = RootCertStore::empty();
        for ca in roots {
            store.add(ca.root.clone()).unwrap();
        }
        let provider = crate::backend::default_backend().provider().unwrap();
        WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
            .build()
            .unwrap()
    }

    /// A verifier that, like the Apple one, reports a single error, the name mismatch,
    /// when both the name and the chain are wrong.
    #[derive(Debug)]
    struct NameFirst {
        /// Trusts every CA of the test: says only whether the name matches.
        names: Arc<dyn ServerCertVerifier>,
        /// Trusts the real roots.
        chain: Arc<dyn ServerCertVerifier>,
    }

    impl ServerCertVerifier for NameFirst {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            self.names.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )?;
            self.chain.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.chain.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.chain.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.chain.supported_verify_schemes()
        }
    }

    fn verify(
        verifier: &IgnoreHostname,
        leaf: &CertificateDer<'_>,
        name: &str,
    ) -> Result<(), Error> {
        let name = ServerName::try_from(name).unwrap();
        verifier
            .verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn an_untrusted_chain_is_refused_even_when_the_verifier_reports_the_name_first() {
        let trusted = Ca::new("trusted root");
        let stranger = Ca::new("stranger root");
        let verifier = IgnoreHostname {
            inner: Arc::new(NameFirst {
                names: webpki(&[&trusted, &stranger]),
                chain: webpki(&[&trusted]),
            }),
        };
        for names in [&["localhost"][..], &["*.wild.test"], &["192.0.2.7"]] {
            let good = trusted.leaf(names);
            for asked in ["localhost", "other.example", "192.0.2.8"] {
                verify(&verifier, &good, asked)
                    .unwrap_or_else(|e| panic!("{names:?} as {asked}: {e}"));
            }
            let bad = stranger.leaf(names);
            for asked in ["localhost", "other.example", "192.0.2.8"] {
                let err = verify(&verifier, &bad, asked).expect_err("an untrusted chain");
                assert_eq!(
                    err,
                    Error::InvalidCertificate(CertificateError::UnknownIssuer),
                    "{names:?} as {asked}"
                );
            }
        }
    }

    #[test]
    fn a_leaf_without_names_must_hold_the_requested_one() {
        let trusted = Ca::new("trusted root");
        let verifier = IgnoreHostname {
            inner: webpki(&[&trusted]),
        };
        let nameless = trusted.leaf(&[]);
        let err = verify(&verifier, &nameless, "localhost").expect_err("no name to verify");
        assert!(
            matches!(
                err,
                Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{err:?}"
        );
    }
}
