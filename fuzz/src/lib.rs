//! The logic behind tlsport's fuzz targets: one module per target, each with the `run_*`
//! function its `fuzz_targets/*.rs` calls; `common` and `scripted` hold what several
//! targets share, `seeds` makes the seed corpus.
//!
//! The root package's `tests/it/fuzz_replay.rs` includes this very file with `#[path]`
//! (it cannot depend on this crate, which depends on tlsport) to replay the seed corpus
//! and every crash input on stable `cargo test`. So the modules depend only on tlsport,
//! std, futures-lite and rcgen, and name each other with `super::`, never `crate::`.
//!
//! Every `run_*` function must return normally for any input. A panic is a finding: a
//! panic inside tlsport, or one of the invariants checked here (a lost wake-up, a
//! self-wake loop, data read that the peer never wrote, a truncation reported as a clean
//! end, a close that stalls between two live peers).

mod common;
mod scripted;

mod client_handshake;
mod host_port;
mod load_identity;
mod server_handshake;
mod stream_ops;

mod seeds;

// The targets of tlsport's fuzzing mode (feature `fuzzing` of tlsport; this crate's
// feature of the same name, on by default, says it is enabled, and so does the root
// package's when `tests/it/fuzz_replay.rs` includes this file).
#[cfg(feature = "fuzzing")]
mod differential;
#[cfg(feature = "fuzzing")]
mod plaintext;
#[cfg(feature = "fuzzing")]
mod plaintext_client;
#[cfg(feature = "fuzzing")]
mod plaintext_server;
#[cfg(feature = "fuzzing")]
mod seeds_hello_retry;
#[cfg(feature = "fuzzing")]
mod seeds_plaintext;

pub use client_handshake::run_client_handshake;
pub use host_port::run_host_port;
pub use load_identity::run_load_identity;
pub use seeds::seed_corpus;
pub use server_handshake::run_server_handshake;
pub use stream_ops::run_stream_ops;

#[cfg(feature = "fuzzing")]
pub use differential::run_differential;
#[cfg(feature = "fuzzing")]
pub use plaintext_client::run_plaintext_client;
#[cfg(feature = "fuzzing")]
pub use plaintext_server::run_plaintext_server;
#[cfg(feature = "fuzzing")]
pub use seeds_hello_retry::{client_flight_with_retry, server_flight_with_retry};
#[cfg(feature = "fuzzing")]
pub use seeds_plaintext::seeds as plaintext_seed_corpus;
