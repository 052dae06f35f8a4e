//! Compiling a [`Policy`] into rustls client and server configurations.
//!
//! All blocking work (reading bundle files, loading the system store) happens here, once,
//! when a `Connector` or `Acceptor` is built.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::{ClientConfig, KeyLogFile, ServerConfig, SupportedProtocolVersion};

use crate::backend::{Backend, default_backend};
use crate::error::{Error, ErrorKind, Result};
use crate::trust::{self, CaBundle};

use super::sni::Names;
use super::verify::{AcceptAnyCertificate, IgnoreHostname};
use super::{ClientAuth, Policy, Version};

impl Policy {
    /// The backend this policy will use.
    pub(super) fn effective_backend(&self) -> Backend {
        self.backend.unwrap_or_else(default_backend)
    }

    /// Whether this policy is on the (insecure) fuzzing backend.
    #[cfg(feature = "fuzzing")]
    fn is_fuzzing(&self) -> bool {
        self.effective_backend() == Backend::InsecureFuzzing
    }

    /// The clock rustls reads: the fuzzing backend's is fixed.
    fn time_provider(&self) -> Arc<dyn TimeProvider> {
        #[cfg(feature = "fuzzing")]
        if self.is_fuzzing() {
            return Arc::new(crate::fuzzing::FixedClock);
        }
        Arc::new(DefaultTimeProvider)
    }

    /// An error when `load_object` left half an identity.
    fn check_loaded_pieces(&self) -> Result<()> {
        match &self.identity {
            Some(_) => Ok(()),
            None => self.loaded.check(),
        }
    }
}

/// The provider and the protocol versions every config of `policy` starts from.
fn provider_and_versions(
    policy: &Policy,
) -> Result<(Arc<CryptoProvider>, Vec<&'static SupportedProtocolVersion>)> {
    #[cfg(feature = "fuzzing")]
    if policy.is_fuzzing() {
        crate::fuzzing::check_policy(policy)?;
    }
    let provider = policy.effective_backend().provider()?;
    let mut versions = Vec::new();
    for version in &policy.versions {
        match version {
            Version::Tls13 => versions.push(&rustls::version::TLS13),
            #[cfg(feature = "tls12")]
            Version::Tls12 => versions.push(&rustls::version::TLS12),
            #[cfg(not(feature = "tls12"))]
            Version::Tls12 if policy.versions.len() == 1 => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "TLS 1.2 needs the \"tls12\" feature of tlsport",
                ));
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
    if versions.is_empty() {
        return Err(Error::new(
            ErrorKind::Config,
            "the policy allows no protocol version: give protocol_versions() at least one",
        ));
    }
    Ok((provider, versions))
}

/// An error for the first ALPN protocol name that cannot go on the wire: RFC 7301 gives
/// each name a one-byte length and forbids empty names. Unchecked, rustls would panic on
/// an empty name in a debug build, send a malformed ClientHello in a release build, and
/// silently truncate a name over 255 bytes.
fn check_alpn(protocols: &[Vec<u8>]) -> Result<()> {
    match protocols
        .iter()
        .enumerate()
        .find(|(_, name)| !(1..=255).contains(&name.len()))
    {
        Some((index, name)) => Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "ALPN protocol name at index {index} of alpn_protocols() is {} bytes long; \
                 a name must be 1 to 255 bytes (RFC 7301)",
                name.len()
            ),
        )),
        None => Ok(()),
    }
}

fn config_error(what: &str, err: rustls::Error) -> Error {
    Error::with_source(ErrorKind::Config, what, err)
}

/// The client configuration of `policy`.
pub(crate) fn client_config(policy: &Policy) -> Result<ClientConfig> {
    policy.check_loaded_pieces()?;
    check_alpn(&policy.alpn)?;
    let (provider, versions) = provider_and_versions(policy)?;
    let verifier = server_verifier(policy, &provider)?;
    let builder = ClientConfig::builder_with_details(provider.clone(), policy.time_provider())
        .with_protocol_versions(&versions)
        .map_err(|e| config_error("the crypto backend cannot speak these versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &policy.identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain().to_vec(), identity.key())
            .map_err(|e| config_error("the client identity cannot be used", e))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = policy.alpn.clone();
    config.enable_sni = policy.sni;
    config.resumption = match policy.session_cache {
        0 => Resumption::disabled(),
        n => Resumption::in_memory_sessions(n),
    };
    if policy.key_log {
        config.key_log = Arc::new(KeyLogFile::new());
    }
    Ok(config)
}

/// How a client verifies the server, from the bundle, the roots and the danger switches.
fn server_verifier(
    policy: &Policy,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>> {
    #[cfg(feature = "fuzzing")]
    if policy.is_fuzzing() {
        return Ok(crate::fuzzing::server_verifier(policy));
    }
    if policy.accept_invalid_certs {
        return Ok(Arc::new(AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }));
    }
    let verifier: Arc<dyn ServerCertVerifier> = match &policy.ca_bundle {
        CaBundle::System => system_verifier(policy, provider)?,
        bundle => {
            let roots = trust::root_store(bundle, &policy.extra_roots)?;
            if roots.is_empty() {
                return Err(Error::new(
                    ErrorKind::Config,
                    "no trust anchors: the policy's CA bundle is empty and no root was added; \
                     use add_root_certificate(), add_roots_pem_file(), CaBundle::File or \
                     CaBundle::System (or danger_accept_invalid_certs for tests)",
                ));
            }
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| {
                    Error::with_source(
                        ErrorKind::Config,
                        "cannot build the certificate verifier",
                        e,
                    )
                })?
        }
    };
    Ok(if policy.accept_invalid_hostnames {
        Arc::new(IgnoreHostname { inner: verifier })
    } else {
        verifier
    })
}

#[cfg(feature = "platform-verifier")]
fn system_verifier(
    policy: &Policy,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>> {
    rustls_platform_verifier::Verifier::new_with_extra_roots(
        policy.extra_roots.iter().cloned(),
        provider.clone(),
    )
    .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
    .map_err(|e| {
        Error::with_source(
            ErrorKind::Config,
            "the system certificate store cannot be used: install the distribution's \
             ca-certificates package, set SSL_CERT_FILE, or use CaBundle::File or \
             CaBundle::Bundled",
            e,
        )
    })
}

#[cfg(not(feature = "platform-verifier"))]
fn system_verifier(_: &Policy, _: &Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "CaBundle::System needs the \"platform-verifier\" feature of tlsport; \
         use CaBundle::File or CaBundle::Bundled instead",
    ))
}

/// The server configuration of `policy`, and the identities by name its certificate
/// resolver holds. A fresh session cache each time: sessions of another compilation
/// (before a reload) are never resumed.
pub(crate) fn server_config(policy: &Policy) -> Result<(ServerConfig, Arc<Names>)> {
    policy.check_loaded_pieces()?;
    check_alpn(&policy.alpn)?;
    if policy.identity.is_none() && policy.named.is_empty() {
        return Err(Error::new(
            ErrorKind::Config,
            "a server needs an identity: give the policy one with identity(), \
             identity_for() or load_object()",
        ));
    }
    let (provider, versions) = provider_and_versions(policy)?;
    let builder = ServerConfig::builder_with_details(provider.clone(), policy.time_provider())
        .with_protocol_versions(&versions)
        .map_err(|e| config_error("the crypto backend cannot speak these versions", e))?;
    let builder = match policy.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        #[cfg(feature = "fuzzing")]
        mode if policy.is_fuzzing() => {
            builder.with_client_cert_verifier(crate::fuzzing::client_verifier(mode))
        }
        mode => {
            // Never the policy's ca_bundle: that one says which servers to trust, and a
            // public bundle would let in anybody's certificate with the clientAuth usage.
            if policy.client_auth_roots == CaBundle::System {
                return Err(Error::new(
                    ErrorKind::Config,
                    "client_auth_roots(CaBundle::System) cannot verify client certificates: \
                     the platform verifier checks servers only, and public roots would let \
                     anybody in; give the CAs that issue client certificates with \
                     client_auth_roots(CaBundle::File(..)), add_root_certificate() or \
                     add_roots_pem_file()",
                ));
            }
            let roots = trust::root_store(&policy.client_auth_roots, &policy.extra_roots)?;
            if roots.is_empty() {
                return Err(Error::new(
                    ErrorKind::Config,
                    "client_auth needs roots to verify client certificates against (the \
                     policy's ca_bundle is never used for clients): use \
                     add_root_certificate(), add_roots_pem_file() or \
                     client_auth_roots(CaBundle::File(..))",
                ));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let verifier = match mode {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier.build().map_err(|e| {
                Error::with_source(
                    ErrorKind::Config,
                    "cannot build the client certificate verifier",
                    e,
                )
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let names = Arc::new(Names::compile(policy, &provider)?);
    let mut config = builder.with_cert_resolver(names.clone());
    config.alpn_protocols = policy.alpn.clone();
    if policy.session_cache == 0 {
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    } else {
        config.session_storage = ServerSessionMemoryCache::new(policy.session_cache);
    }
    // Fuzzing servers resume through readable tickets only, never through state kept
    // from earlier connections.
    #[cfg(feature = "fuzzing")]
    if policy.is_fuzzing() && policy.session_cache > 0 {
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.ticketer = crate::fuzzing::ticketer();
    }
    if policy.key_log {
        config.key_log = Arc::new(KeyLogFile::new());
    }
    Ok((config, names))
}
