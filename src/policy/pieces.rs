//! The pieces of an identity that [`Policy::load_object`](super::Policy::load_object)
//! loads one file at a time: a certificate chain and a private key, joined into the
//! policy's identity once both are there.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, decrypt_key};
use crate::load;

/// A chain and a key loaded by separate `load_object` calls.
#[derive(Clone, Default)]
pub(super) struct LoadedPieces {
    chain: Vec<CertificateDer<'static>>,
    key: Option<Arc<Zeroizing<PrivateKeyDer<'static>>>>,
}

impl LoadedPieces {
    /// Appends the certificates of a PEM or DER file to the chain.
    pub(super) fn add_certificates(&mut self, path: &Path, origin: &str) -> Result<()> {
        let certs = load::certificates(&load::read_file(path)?, origin)?;
        self.chain.extend(certs);
        Ok(())
    }

    /// Takes the private key of a PEM or DER file, decrypted with `password` when it is
    /// an `ENCRYPTED PRIVATE KEY`.
    pub(super) fn set_key(
        &mut self,
        path: &Path,
        origin: &str,
        password: Option<&str>,
    ) -> Result<()> {
        let bytes = load::read_file(path)?;
        let key = match (load::private_key(&bytes, origin), password) {
            (Ok(key), _) => key,
            (Err(_), Some(password)) => decrypt_key(&bytes, password, origin)?,
            (Err(e), None) => return Err(e),
        };
        self.key = Some(Arc::new(Zeroizing::new(key)));
        Ok(())
    }

    /// The identity the pieces make once both are loaded, checked to match; `origin`
    /// names the file loaded last.
    pub(super) fn identity(&self, origin: &str) -> Result<Option<Identity>> {
        match (self.chain.is_empty(), &self.key) {
            (false, Some(key)) => {
                Identity::checked(self.chain.clone(), key.clone_key(), origin).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// An error for half an identity: a chain without a key or a key without a chain.
    pub(super) fn check(&self) -> Result<()> {
        match (self.chain.is_empty(), self.key.is_some()) {
            (false, false) => Err(Error::new(
                ErrorKind::Config,
                "load_object loaded a certificate but no private key",
            )),
            (true, true) => Err(Error::new(
                ErrorKind::Config,
                "load_object loaded a private key but no certificate",
            )),
            _ => Ok(()),
        }
    }
}
