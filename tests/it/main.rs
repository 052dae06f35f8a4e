//! tlsport's integration tests: one test binary, one module per capability.
//!
//! Tests that change process-wide state have binaries of their own beside this one
//! (`tests/default_backend.rs`, `tests/key_log.rs`), or run in a child process of this
//! binary ([`common::in_child`]: environment variables, cached probes, and every
//! measurement of the whole process's CPU time, which other tests here would disturb).
//! `in_child` takes the test's name with its module path, as the harness lists it:
//! `split::idle_split_connection_burns_no_cpu`.
//!
//! `cargo test --test it MODULE::` runs one module.

#[path = "../common/mod.rs"]
mod common;

mod accept_handshake;
mod api;
mod certificates;
mod eof_close;
mod examples;
mod fuzz_replay;
#[cfg(feature = "fuzzing")]
mod fuzzing;
mod handshake;
mod handshake_failures;
mod hostile;
#[cfg(feature = "hyper")]
mod hyper;
mod interop;
mod listener;
mod loading;
mod net;
mod runtimes;
mod server_power;
mod split;
mod transport;
mod trust;
