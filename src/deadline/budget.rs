//! A handshake deadline that outlives one call: started when the first byte is awaited,
//! carried through a handshake that is done in several steps (the ClientHello read by
//! `Acceptor::read_client_hello`, then `ClientHello::accept`; the first bytes sniffed by
//! `Acceptor::accept_or_plaintext`, then the handshake).

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

use super::deadline;

/// The time a handshake has: its whole limit, and the instant it runs out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    limit: Option<Duration>,
    until: Option<Instant>,
}

impl Budget {
    /// `limit` from now; `None` is no limit.
    pub(crate) fn start(limit: Option<Duration>) -> Budget {
        Budget {
            limit,
            until: limit.and_then(|limit| Instant::now().checked_add(limit)),
        }
    }

    /// `limit` from `started`, an instant already past (a TCP accept).
    pub(crate) fn since(limit: Option<Duration>, started: Instant) -> Budget {
        Budget {
            limit,
            until: limit.and_then(|limit| started.checked_add(limit)),
        }
    }

    /// The time left, zero once it has run out; `None` when there is no limit.
    pub(crate) fn left(&self) -> Option<Duration> {
        self.until
            .map(|until| until.saturating_duration_since(Instant::now()))
    }

    /// Runs `work` in the time left, or fails with [`ErrorKind::TimedOut`], naming the
    /// whole limit.
    pub(crate) async fn run<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let limit = self.limit;
        deadline(self.left(), work, move |left| {
            Error::new(
                ErrorKind::TimedOut,
                format!(
                    "the TLS handshake did not finish within {:?}",
                    limit.unwrap_or(left)
                ),
            )
        })
        .await
    }
}
