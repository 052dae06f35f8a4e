//! Session tickets of the fuzzing mode: stateless and readable.
//!
//! A server on the fuzzing backend with a session cache resumes sessions only through
//! these tickets, never through server-side storage, so what a server does never
//! depends on earlier connections: a recorded resumption replays into a fresh server.
//! A ticket is a fixed marker followed by the session state in the clear (rustls's own
//! ticketers encrypt it under a random key, which would make recorded tickets useless).

use std::sync::Arc;

use rustls::server::ProducesTickets;

const MARKER: &[u8] = b"tlsport fuzzing ticket:";

/// The fuzzing ticketer.
#[derive(Debug)]
struct ReadableTickets;

impl ProducesTickets for ReadableTickets {
    fn enabled(&self) -> bool {
        true
    }

    /// Six hours, as rustls's own ticketers; the fuzzing clock never moves.
    fn lifetime(&self) -> u32 {
        6 * 60 * 60
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        Some([MARKER, plain].concat())
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        cipher.strip_prefix(MARKER).map(<[u8]>::to_vec)
    }
}

/// The ticketer of fuzzing servers with a session cache.
pub(crate) fn ticketer() -> Arc<dyn ProducesTickets> {
    Arc::new(ReadableTickets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_the_state_behind_a_marker() {
        let tickets = ticketer();
        let ticket = tickets.encrypt(b"state").unwrap();
        assert!(ticket.starts_with(MARKER));
        assert_eq!(tickets.decrypt(&ticket).unwrap(), b"state");
        assert!(tickets.decrypt(b"state").is_none());
    }
}
