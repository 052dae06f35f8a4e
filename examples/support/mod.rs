//! Code shared by the examples: certificates made at start-up (no files, nothing that
//! expires in a repository) and a one-line summary of a session.
//!
//! Each example includes it with `mod support;`. Nothing here is specific to tlsport;
//! the interesting code is in the examples themselves.
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tlsport::pki_types::CertificateDer;
use tlsport::{Identity, SessionInfo};

/// The error type of the examples: anything goes, `?` converts it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A small PKI made with rcgen: a root CA and a server certificate it signed for
/// `localhost`, `127.0.0.1` and `::1`.
pub struct Pki {
    /// The root certificate: what clients trust (`Policy::add_root_certificate`).
    pub root: CertificateDer<'static>,
    /// The same root as PEM, for writing to a file.
    pub root_pem: String,
    /// The server's certificate and key: what the server presents (`Policy::identity`).
    pub server: Identity,
    /// The server's certificate and key as PEM, for writing to files.
    pub server_cert_pem: String,
    pub server_key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    /// Makes a new root and a server certificate signed by it.
    pub fn new() -> Result<Pki, BoxError> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::OrganizationName, "tlsport examples");
        ca.distinguished_name
            .push(DnType::CommonName, "tlsport example root");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let (server_cert_pem, server_key_pem) =
            leaf(&issuer, &["localhost", "127.0.0.1", "::1"], "localhost")?;
        Ok(Pki {
            root: ca_cert.der().clone(),
            root_pem: ca_cert.pem(),
            server: Identity::from_pem(server_cert_pem.as_bytes(), server_key_pem.as_bytes())?,
            server_cert_pem,
            server_key_pem,
            issuer,
        })
    }

    /// Another server certificate for `localhost`, `127.0.0.1` and `::1`, signed by the
    /// same root, with `common_name` as its subject: (certificate PEM, key PEM).
    pub fn server_pem(&self, common_name: &str) -> Result<(String, String), BoxError> {
        leaf(
            &self.issuer,
            &["localhost", "127.0.0.1", "::1"],
            common_name,
        )
    }

    /// A client certificate signed by the same root, for mutual TLS.
    pub fn client_identity(&self, name: &str) -> Result<Identity, BoxError> {
        let (cert, key) = leaf(&self.issuer, &[name], name)?;
        Ok(Identity::from_pem(cert.as_bytes(), key.as_bytes())?)
    }
}

/// A leaf certificate for `names` signed by `issuer`: (certificate PEM, key PEM).
fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    names: &[&str],
    common_name: &str,
) -> Result<(String, String), BoxError> {
    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// One line about a session: `Tls13 TLS13_AES_256_GCM_SHA384 X25519MLKEM768 alpn=h2 ...`.
pub fn describe(info: &SessionInfo) -> String {
    let or_dash = |s: Option<&str>| s.unwrap_or("-").to_owned();
    let alpn = info
        .alpn_protocol
        .as_deref()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    format!(
        "{:?} {} {} alpn={} sni={} resumed={}",
        info.protocol_version
            .expect("a finished handshake has a version"),
        or_dash(info.cipher_suite.as_deref()),
        or_dash(info.key_exchange_group.as_deref()),
        or_dash(alpn.as_deref()),
        or_dash(info.server_name.as_deref()),
        info.resumed,
    )
}
