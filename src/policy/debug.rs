//! `Debug` for [`Policy`]: every setting, never key material.

use std::fmt;

use super::Policy;

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alpn: Vec<_> = self
            .alpn
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        f.debug_struct("Policy")
            .field("ca_bundle", &self.ca_bundle)
            .field("extra_roots", &self.extra_roots.len())
            .field("identity", &self.identity)
            .field("identities_by_name", &Named(&self.named))
            .field("server_name", &self.server_name)
            .field("sni", &self.sni)
            .field("alpn_protocols", &alpn)
            .field("protocol_versions", &self.versions)
            .field("session_cache", &self.session_cache)
            .field("danger_accept_invalid_certs", &self.accept_invalid_certs)
            .field(
                "danger_accept_invalid_hostnames",
                &self.accept_invalid_hostnames,
            )
            .field("client_auth", &self.client_auth)
            .field("client_auth_roots", &self.client_auth_roots)
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("eof", &self.eof)
            .field("key_log", &self.key_log)
            .field("backend", &self.effective_backend())
            .finish_non_exhaustive()
    }
}

/// The names of `identity_for`, each with its identity's `Debug` (which redacts the key).
struct Named<'a>(&'a [(String, super::Identity)]);

impl fmt::Debug for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, id)| (name, id)))
            .finish()
    }
}
