//! What an [`Acceptor`](crate::Acceptor) answers with: one compiled policy, shared by the
//! acceptor's clones and its listeners, and swapped whole by `reload`.
//!
//! The cell is an `RwLock<Arc<Compiled>>`: a handshake takes the read lock just long
//! enough to clone the `Arc` (never across an await), and uses that snapshot from its
//! first byte to its end. A reload compiles outside the lock and swaps in the finished
//! result, so no handshake can see a half-built configuration, and one that fails to
//! compile leaves the cell untouched.

use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;

use crate::error::{Error, ErrorKind, Result};
use crate::policy::{Names, Policy, server_config};

/// A policy compiled for the server side.
pub(crate) struct Compiled {
    pub(crate) config: Arc<ServerConfig>,
    /// The identities by name; `None` for a hand-built configuration, whose own
    /// certificate resolver decides.
    names: Option<Arc<Names>>,
    pub(crate) policy: Arc<Policy>,
}

impl Compiled {
    /// Compiles `policy` (this may block: files, the system store).
    pub(crate) fn new(policy: Arc<Policy>) -> Result<Compiled> {
        let (config, names) = server_config(&policy)?;
        Ok(Compiled {
            config: Arc::new(config),
            names: Some(names),
            policy,
        })
    }

    /// A hand-built configuration, with the timeouts and EOF policy of `policy`.
    pub(crate) fn from_config(config: Arc<ServerConfig>, policy: Arc<Policy>) -> Compiled {
        Compiled {
            config,
            names: None,
            policy,
        }
    }

    /// Whether some clients are refused for the name they ask for (identities by name
    /// and no default): their ClientHello is read before rustls answers it, so that the
    /// refusal is the `unrecognized_name` alert.
    pub(crate) fn refuses_some_names(&self) -> bool {
        self.names
            .as_ref()
            .is_some_and(|names| !names.has_default())
    }

    /// An error when this configuration has no identity for `server_name`.
    pub(crate) fn check_name(&self, server_name: Option<&str>) -> Result<()> {
        match &self.names {
            Some(names) if names.lookup(server_name).is_none() => Err(Error::new(
                ErrorKind::Tls,
                match server_name {
                    Some(name) => format!(
                        "the client asked for the server name {name:?}, which has no \
                         identity: refused with the unrecognized_name alert"
                    ),
                    None => "the client sent no server name (SNI) and there is no default \
                             identity: refused with the unrecognized_name alert"
                        .to_owned(),
                },
            )),
            _ => Ok(()),
        }
    }
}

/// The current [`Compiled`], swappable.
pub(crate) struct Current(RwLock<Arc<Compiled>>);

impl Current {
    pub(crate) fn new(compiled: Compiled) -> Current {
        Current(RwLock::new(Arc::new(compiled)))
    }

    /// A snapshot: what one handshake uses from start to end.
    pub(crate) fn get(&self) -> Arc<Compiled> {
        // Nothing panics while holding the lock; a poisoned one still holds a whole value.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set(&self, compiled: Compiled) {
        let compiled = Arc::new(compiled);
        let old = std::mem::replace(
            &mut *self.0.write().unwrap_or_else(PoisonError::into_inner),
            compiled,
        );
        // The old configuration is freed (if no handshake holds it) outside the lock.
        drop(old);
    }
}
