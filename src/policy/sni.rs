//! Server identities by name: [`Policy::identity_for`], and [`Names`], the resolver an
//! `Acceptor` compiles them into.
//!
//! The names are normalised and checked once, when the `Acceptor` is built (or
//! reloaded): exact names go into one hash map, wildcards into another keyed by their
//! parent domain, so a handshake costs at most two lookups however many names there are.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{DnsName, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::Identity;

use super::Policy;

impl Policy {
    /// Server: the identity to present to clients asking for `server_name` (SNI).
    ///
    /// `server_name` is an exact DNS name (`www.example.com`) or a wildcard for one label
    /// (`*.example.com` matches `a.example.com`, but neither `example.com` nor
    /// `a.b.example.com`). Names match case-insensitively and a trailing dot is ignored.
    /// An exact name wins over a wildcard; naming the same name twice keeps the last.
    ///
    /// The [`identity`](Policy::identity) stays the default: it answers clients asking
    /// for any other name and clients that send no name. **Without a default, such
    /// clients are refused** with the `unrecognized_name` alert, which they report as a
    /// TLS error.
    ///
    /// A client ([`Connector`](crate::Connector)) ignores these identities.
    ///
    /// `Acceptor::new` checks the names: one that is not a DNS name (an IP address, an
    /// internationalised name not in its `xn--` form, `*` anywhere but as the whole first
    /// label) is an [`ErrorKind::InvalidInput`] error naming it. A certificate that does
    /// not cover its name is logged at `warn` (clients that verify will refuse it) but
    /// accepted, as a test setup may want.
    ///
    /// # Examples
    ///
    /// ```
    /// use tlsport::{Acceptor, Identity, Policy};
    /// # fn main() -> tlsport::Result<()> {
    /// # let id = |names: &[&str]| -> tlsport::Result<Identity> {
    /// #     let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    /// #     let c = rcgen::generate_simple_self_signed(names).unwrap();
    /// #     Identity::from_pem(c.cert.pem().as_bytes(), c.signing_key.serialize_pem().as_bytes())
    /// # };
    /// # let (api, shop, fallback) = (id(&["api.example.com"])?, id(&["*.shop.example"])?, id(&["localhost"])?);
    /// let policy = Policy::new()
    ///     .identity_for("api.example.com", api)
    ///     .identity_for("*.shop.example", shop)
    ///     .identity(fallback); // the default; leave it out to refuse other names
    /// let acceptor = Acceptor::new(policy)?;
    /// # let _ = acceptor; Ok(()) }
    /// ```
    pub fn identity_for(mut self, server_name: &str, id: Identity) -> Policy {
        self.named.push((server_name.to_owned(), id));
        self
    }
}

/// The compiled identities of a server policy: what rustls asks for each handshake.
pub(crate) struct Names {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Wildcards, keyed by the parent domain: `*.example.com` is under `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl Names {
    /// The identities of `policy`, loaded by `provider`, with each name checked.
    pub(crate) fn compile(policy: &Policy, provider: &CryptoProvider) -> Result<Names> {
        let mut keys = KeyCache::default();
        let default = match &policy.identity {
            Some(identity) => Some(keys.get(identity, provider, "the server identity")?),
            None => None,
        };
        let mut names = Names {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            default,
        };
        for (name, identity) in &policy.named {
            let pattern = Pattern::parse(name)?;
            let what = format!("the identity for {name:?}");
            let key = keys.get(identity, provider, &what)?;
            if !pattern.covered_by(identity) {
                log::warn!(
                    "{what}: its certificate is not valid for that name; clients that \
                     verify the name will refuse it"
                );
            }
            match pattern {
                Pattern::Exact(name) => names.exact.insert(name, key),
                Pattern::Wildcard(parent) => names.wildcard.insert(parent, key),
            };
        }
        Ok(names)
    }

    /// Whether clients asking for an unknown name, or none, get an identity.
    pub(crate) fn has_default(&self) -> bool {
        self.default.is_some()
    }

    /// The identity for `server_name` (as rustls passes it on: lowercase, no trailing
    /// dot), else the default.
    pub(crate) fn lookup(&self, server_name: Option<&str>) -> Option<&Arc<CertifiedKey>> {
        let Some(name) = server_name else {
            return self.default.as_ref();
        };
        // rustls lowercases the SNI; a name from elsewhere may not be.
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        self.exact
            .get(name)
            .or_else(|| {
                let (_, parent) = name.split_once('.')?;
                self.wildcard.get(parent)
            })
            .or(self.default.as_ref())
    }
}

impl ResolvesServerCert for Names {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(client_hello.server_name()).cloned()
    }
}

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Names")
            .field("exact", &self.exact.len())
            .field("wildcard", &self.wildcard.len())
            .field("default", &self.default.is_some())
            .finish()
    }
}

/// A name of `identity_for`, normalised: lowercase, no trailing dot.
#[derive(Debug, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    /// The parent domain of `*.parent`.
    Wildcard(String),
}

impl Pattern {
    fn parse(name: &str) -> Result<Pattern> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("identity_for({name:?}): not a server name: {why}"),
            )
        };
        let trimmed = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if trimmed.parse::<IpAddr>().is_ok() {
            return Err(invalid("clients never send an IP address as SNI"));
        }
        let (wildcard, dns) = match trimmed.strip_prefix("*.") {
            Some(parent) => (true, parent),
            None => (false, trimmed.as_str()),
        };
        if dns.contains('*') {
            return Err(invalid(
                "a wildcard is allowed only as the whole first label, as in *.example.com",
            ));
        }
        if !dns.is_ascii() {
            return Err(invalid(
                "an internationalised name must be given in its ASCII (xn--) form",
            ));
        }
        if DnsName::try_from(dns).is_err() {
            return Err(invalid("not a valid DNS name"));
        }
        let dns = dns.to_owned();
        Ok(if wildcard {
            Pattern::Wildcard(dns)
        } else {
            Pattern::Exact(dns)
        })
    }

    /// Whether the leaf certificate of `identity` is valid for this name (for a wildcard:
    /// for any one label under its parent).
    fn covered_by(&self, identity: &Identity) -> bool {
        let name = match self {
            Pattern::Exact(name) => name.clone(),
            Pattern::Wildcard(parent) => format!("wildcard-check.{parent}"),
        };
        let (Some(leaf), Ok(name)) = (identity.chain().first(), ServerName::try_from(name)) else {
            return false;
        };
        webpki::EndEntityCert::try_from(leaf)
            .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok())
    }
}

/// Each distinct identity loaded once, however many names share it (a certificate with
/// many names, given to `identity_for` once per name).
#[derive(Default)]
struct KeyCache {
    /// By the address of the identity's shared key, then by chain.
    loaded: HashMap<usize, Vec<(Identity, Arc<CertifiedKey>)>>,
}

impl KeyCache {
    fn get(
        &mut self,
        identity: &Identity,
        provider: &CryptoProvider,
        what: &str,
    ) -> Result<Arc<CertifiedKey>> {
        let same = self.loaded.entry(identity.key_addr()).or_default();
        if let Some((_, key)) = same.iter().find(|(id, _)| id.chain() == identity.chain()) {
            return Ok(key.clone());
        }
        let key = Arc::new(identity.certified_key(provider).map_err(|e| {
            Error::with_source(
                ErrorKind::Config,
                format!("{what} cannot be used: {}", e.message()),
                e,
            )
        })?);
        same.push((identity.clone(), key.clone()));
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &str) -> Identity {
        let c = rcgen::generate_simple_self_signed([name.to_owned()]).unwrap();
        Identity::from_pem(
            c.cert.pem().as_bytes(),
            c.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn lookups_are_exact_then_one_label_wildcards_then_the_default() {
        let provider = crate::backend::default_backend().provider().unwrap();
        let (exact, wild, default) = (identity("a.test"), identity("*.w.test"), identity("d"));
        let policy = Policy::new()
            .identity_for("a.test", exact.clone())
            .identity_for("*.w.test", wild.clone());
        let names = Names::compile(&policy, &provider).unwrap();
        let chain = |name: Option<&str>| names.lookup(name).map(|key| key.cert[0].clone());
        let leaf = |id: &Identity| Some(id.chain()[0].clone());
        assert_eq!(chain(Some("a.test")), leaf(&exact));
        assert_eq!(chain(Some("A.TEST")), leaf(&exact));
        assert_eq!(chain(Some("x.w.test")), leaf(&wild));
        assert_eq!(chain(Some("X.W.Test")), leaf(&wild));
        for refused in [Some("w.test"), Some("a.x.w.test"), Some("b.test"), None] {
            assert_eq!(chain(refused), None, "{refused:?}");
        }
        assert!(!names.has_default());

        let names = Names::compile(&policy.identity(default.clone()), &provider).unwrap();
        assert!(names.has_default());
        assert_eq!(
            names.lookup(Some("w.test")).map(|k| k.cert[0].clone()),
            leaf(&default)
        );
        assert_eq!(
            names.lookup(None).map(|k| k.cert[0].clone()),
            leaf(&default)
        );
    }

    #[test]
    fn one_identity_for_many_names_is_loaded_once() {
        let provider = crate::backend::default_backend().provider().unwrap();
        let shared = identity("many.test");
        let policy = (0..50).fold(Policy::new(), |policy, i| {
            policy.identity_for(&format!("h{i}.test"), shared.clone())
        });
        let names = Names::compile(&policy, &provider).unwrap();
        let first = names.lookup(Some("h0.test")).unwrap();
        assert!(Arc::ptr_eq(first, names.lookup(Some("h49.test")).unwrap()));
    }

    #[test]
    fn patterns_are_normalised_and_checked() {
        let exact = |s: &str| Pattern::Exact(s.to_owned());
        let wild = |s: &str| Pattern::Wildcard(s.to_owned());
        assert_eq!(
            Pattern::parse("WWW.Example.COM").unwrap(),
            exact("www.example.com")
        );
        assert_eq!(
            Pattern::parse("example.com.").unwrap(),
            exact("example.com")
        );
        assert_eq!(
            Pattern::parse("*.Example.com").unwrap(),
            wild("example.com")
        );
        for bad in [
            "",
            "*",
            "*.",
            "a.*.com",
            "*.*.com",
            "w*.example.com",
            "127.0.0.1",
            "::1",
            "bücher.example",
            "exa mple.com",
            "-a.example.com",
            "a..b",
        ] {
            let err = Pattern::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
    }
}
