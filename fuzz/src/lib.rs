//! The logic behind tlsport's fuzz targets, one `run_*` function per target.
//!
//! It lives in `logic.rs` so that the root package's `tests/fuzz_replay.rs` can include
//! the very same file (`#[path = "../fuzz/src/logic.rs"]`) and replay the corpus and the
//! crash inputs on stable `cargo test`.

mod logic;

pub use logic::*;
