//! Deterministic, replayable TLS sessions for fuzzing (feature `fuzzing`).
//!
//! # ⚠️ Warning: no security at all
//!
//! **Everything here exists to be broken on purpose. A connection made with
//! [`Backend::InsecureFuzzing`] is not encrypted, not authenticated and not private**:
//! records carry their plaintext in the clear, "signatures" are a fixed value, the key
//! exchange has a fixed result, every hash and MAC (so every secret and every `Finished`
//! message) is a constant, and the random numbers are a fixed pattern. Never enable
//! the `fuzzing` feature in a build that talks to anything real; enable it only in fuzz
//! targets and their tests (a fuzz crate's `Cargo.toml`, a `dev-dependency`).
//!
//! Guards against using it by accident: the backend exists only with the feature, is
//! never a default ([`set_default_backend`](crate::set_default_backend) refuses it),
//! and `Connector::new`/`Acceptor::new` refuse ([`ErrorKind::Config`]) any policy on it
//! that holds a trust anchor ([`CaBundle::System`], any other bundle but
//! [`CaBundle::Empty`], roots added by hand) or an identity other than the built-in one.
//! Its cipher suites, key exchange group and signature scheme use private-use
//! codepoints, so a fuzzing peer never completes a handshake with a real one: both
//! sides fail with a typed error.
//!
//! # Why
//!
//! With real cryptography every session differs (random values, key shares), so a
//! recorded session never replays, and a fuzzer that mutates an encrypted record never
//! gets past its authentication tag. In this mode a session is byte-for-byte the same
//! on every run, the bytes one side sent can be replayed into a fresh peer (which then
//! answers with the same bytes again), and the application data sits in the records in
//! the clear, so a fuzzer reaches, and mutates, the protocol above TLS.
//!
//! # What is here
//!
//! - [`client_policy`] and [`server_policy`]: matching policies with a built-in identity
//!   for `localhost` (an X.509 certificate made by tlsport, valid until 9999, with a
//!   key only this backend can load). TLS 1.3 and, with the `tls12` feature, TLS 1.2.
//! - [`replay_server`] and [`replay_client`]: run a fresh fuzzing server (client) on
//!   bytes the other side sent, then your application on the stream; this is the body
//!   of a fuzz target.
//! - [`record`]: run a fuzzing client against a fuzzing server and keep the bytes each
//!   sent, to seed a corpus ([`Recording::write_corpus`]); [`Recorder`] does the same
//!   under any transport.
//! - [`ScriptedTransport`]: an in-memory transport whose every call follows a script
//!   ([`Step`]: chunks, `Pending`, short reads and writes, `Ok(0)`, errors, a broken
//!   transport that over-reports).
//! - [`client_config`] and [`server_config`]: the rustls configurations of the two
//!   policies, to drive rustls directly beside tlsport (differential fuzzing).
//!
//! # Fuzzing a protocol built on tlsport
//!
//! Write the seeds once, from a test (or an example) of your crate:
//!
//! ```no_run
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let recording = tlsport::fuzzing::record(
//!     |mut client| async move {
//!         client.write_all(b"GET /index.html\n").await?;
//!         let mut reply = Vec::new();
//!         client.read_to_end(&mut reply).await?;
//!         client.close().await
//!     },
//!     |mut server| async move {
//!         let mut request = [0; 16];
//!         server.read_exact(&mut request).await?;
//!         server.write_all(b"200 hello\n").await?;
//!         server.close().await
//!     },
//! )?;
//! recording.write_corpus("fuzz/corpus/serve/get", "fuzz/corpus/connect/get")?;
//! # Ok(()) }
//! ```
//!
//! Then each cargo-fuzz target is three lines (`fuzz/fuzz_targets/serve.rs`, with
//! `tlsport = { version = "..", features = ["fuzzing"] }` in `fuzz/Cargo.toml` only):
//!
//! ```ignore
//! #![no_main]
//! libfuzzer_sys::fuzz_target!(|data: &[u8]| {
//!     tlsport::fuzzing::replay_server(data, |stream| my_protocol::serve(stream));
//! });
//! ```
//!
//! The same call in a plain `#[test]` replays every corpus file on stable Rust:
//!
//! ```
//! # use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! # async fn serve<S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin>(
//! #     mut stream: S,
//! # ) -> std::io::Result<Vec<u8>> {
//! #     let mut request = [0; 16];
//! #     stream.read_exact(&mut request).await?;
//! #     stream.write_all(b"200 hello\n").await?;
//! #     stream.close().await?;
//! #     Ok(request.to_vec())
//! # }
//! # fn main() -> tlsport::Result<()> {
//! # let recording = tlsport::fuzzing::record(
//! #     |mut c| async move {
//! #         c.write_all(b"GET /index.html\n").await?;
//! #         c.read_to_end(&mut Vec::new()).await?;
//! #         c.close().await
//! #     },
//! #     |s| async move { serve(s).await.map(drop) },
//! # )?;
//! # let corpus_file = recording.sent();
//! let replay = tlsport::fuzzing::replay_server(corpus_file, serve);
//! assert_eq!(replay.output.unwrap()?, b"GET /index.html\n");
//! # Ok(()) }
//! ```
//!
//! [`Backend::InsecureFuzzing`]: crate::Backend::InsecureFuzzing
//! [`ErrorKind::Config`]: crate::ErrorKind::Config
//! [`CaBundle::System`]: crate::CaBundle::System
//! [`CaBundle::Empty`]: crate::CaBundle::Empty

mod certificate;
mod cipher;
mod hash;
mod provider;
mod record;
mod replay;
mod sign;
mod ticketer;
mod transport;
mod verify;

use std::sync::Arc;

use crate::backend::Backend;
use crate::error::Result;
use crate::identity::Identity;
use crate::policy::Policy;
use crate::trust::CaBundle;

pub use self::record::{Recorder, Recording, Tape};
pub use self::replay::{
    Replay, record, record_with, replay_client, replay_client_with, replay_server,
    replay_server_with,
};
pub use self::transport::{ScriptedTransport, Step, Written};

pub(crate) use self::provider::{FixedClock, provider};
pub(crate) use self::ticketer::ticketer;
pub(crate) use self::verify::{check_policy, client_verifier, server_verifier};

/// The name the built-in identity is for, and that [`replay_client`] and [`record`]
/// connect to.
pub const SERVER_NAME: &str = certificate::SERVER_NAME;

/// The client side of the fuzzing mode: [`Backend::InsecureFuzzing`], no trust anchors
/// (the built-in identity is trusted by its bytes), no session cache, no deadlines.
///
/// Read the [module docs](self) first: **a connection made with this policy has no
/// security at all.** Settings may be added (ALPN, versions, the EOF policy,
/// [`identity`] for client certificates); trust anchors and real identities are refused
/// by [`Connector::new`](crate::Connector::new).
///
/// # Resumption
///
/// With a [`session_cache`](Policy::session_cache), a client remembers sessions from one
/// connection to the next (deterministically: the same connections in the same order
/// give the same bytes), and a server resumes them through tickets that carry the
/// session in the clear, never through state kept from earlier connections: the bytes
/// of a resumed session, recorded, resume again in a fresh server.
///
/// ```
/// # fn main() -> tlsport::Result<()> {
/// let connector = tlsport::Connector::new(tlsport::fuzzing::client_policy())?;
/// # let _ = connector; Ok(()) }
/// ```
pub fn client_policy() -> Policy {
    Policy::new()
        .backend(Backend::InsecureFuzzing)
        .ca_bundle(CaBundle::Empty)
        .session_cache(0)
        .connect_timeout(None)
        .handshake_timeout(None)
}

/// The server side of the fuzzing mode: [`client_policy`]'s settings and the built-in
/// identity for `localhost`.
///
/// Read the [module docs](self) first: **a connection made with this policy has no
/// security at all.**
///
/// ```
/// # fn main() -> tlsport::Result<()> {
/// let acceptor = tlsport::Acceptor::new(tlsport::fuzzing::server_policy())?;
/// # let _ = acceptor; Ok(()) }
/// ```
pub fn server_policy() -> Policy {
    client_policy().identity(identity())
}

/// The built-in identity: a certificate for `localhost` and a key that only
/// [`Backend::InsecureFuzzing`] loads. The only identity a fuzzing policy may hold; give
/// it to [`client_policy`] to fuzz client certificates.
///
/// ```
/// use tlsport::{Acceptor, ClientAuth, Connector, fuzzing};
/// # fn main() -> tlsport::Result<()> {
/// let client = Connector::new(fuzzing::client_policy().identity(fuzzing::identity()))?;
/// let server = Acceptor::new(fuzzing::server_policy().client_auth(ClientAuth::Required))?;
/// # let _ = (client, server); Ok(()) }
/// ```
pub fn identity() -> Identity {
    Identity::built_in_fuzzing(
        vec![certificate::certificate().clone()],
        certificate::private_key(),
    )
}

/// The rustls client configuration of [`client_policy`], to run rustls itself on the
/// same bytes (differential fuzzing).
///
/// # Errors
///
/// None today: the built-in policies always compile. The `Result` leaves room for
/// settings that may not.
pub fn client_config() -> Result<Arc<rustls::ClientConfig>> {
    crate::policy::client_config(&client_policy()).map(Arc::new)
}

/// The rustls server configuration of [`server_policy`].
///
/// # Errors
///
/// As [`client_config`].
pub fn server_config() -> Result<Arc<rustls::ServerConfig>> {
    crate::policy::server_config(&server_policy()).map(|(config, _names)| Arc::new(config))
}
