//! TLS for any async runtime.
//!
//! `tlsport` wraps any [`futures-io`](futures_io) transport in a [`TlsStream`] that
//! implements [`AsyncRead`](futures_io::AsyncRead) and
//! [`AsyncWrite`](futures_io::AsyncWrite), using [rustls] as its engine. A [`Connector`]
//! (client) and an [`Acceptor`] (server) are built from one [`Policy`]: who I am, whom I
//! trust, what I speak, how strict I am. [`Connector::connect`] and [`Acceptor::bind`] add
//! TCP on async-io, so it runs on smol, async-std, `futures::executor`, or tokio through
//! `tokio-util`'s compat layer.
//!
//! It is the heir of Gauche Scheme's `rfc.tls` module, without that module's weaknesses:
//! host names are always verified, a cut connection is not mistaken for a clean end, one
//! slow client cannot stall a server, and every handshake has a deadline.
//!
//! # Quick start: client
//!
//! ```no_run
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use tlsport::{Connector, Policy};
//!
//! # fn main() -> tlsport::Result<()> {
//! futures_lite::future::block_on(async {
//!     let connector = Connector::new(Policy::new().alpn_protocols(["http/1.1"]))?;
//!     let mut stream = connector.connect("example.com", "https").await?;
//!     stream
//!         .write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
//!         .await?;
//!     let mut page = Vec::new();
//!     stream.read_to_end(&mut page).await?;
//!     println!("{:?}: {} bytes", stream.info().protocol_version, page.len());
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Quick start: server
//!
//! ```no_run
//! use futures_lite::AsyncWriteExt;
//! use tlsport::{Acceptor, Identity, Policy};
//!
//! # fn main() -> tlsport::Result<()> {
//! futures_lite::future::block_on(async {
//!     let identity = Identity::from_pem_files("cert.pem", "key.pem")?;
//!     let acceptor = Acceptor::new(Policy::new().identity(identity))?;
//!     let listener = acceptor.bind("", 8443).await?;
//!     loop {
//!         let (mut stream, peer) = listener.accept().await?;
//!         stream.write_all(b"hello\n").await?;
//!         stream.close().await?; // close_notify, then FIN
//!         println!("served {peer}");
//!     }
//! })
//! # }
//! ```
//!
//! # Handshakes on every core
//!
//! [`Listener::accept`] runs the handshakes inside its own future, on the thread that
//! awaits it. [`Listener::accept_handshake`] returns right after the TCP accept with the
//! handshake as a [`Handshake`] future (`Send + 'static`, its deadline already running)
//! to spawn on a multi-threaded executor. [`Listener::on_handshake_error`] and
//! [`Listener::stats`] show failed handshakes (peer, [`ErrorKind`], time taken), so a
//! flood of bad clients is visible.
//!
//! ```no_run
//! use futures_lite::AsyncWriteExt;
//!
//! # async fn run(acceptor: tlsport::Acceptor) -> tlsport::Result<()> {
//! let listener = acceptor.bind("", 8443).await?;
//! listener.on_handshake_error(|f| {
//!     eprintln!("{}: {:?} after {:?}", f.peer, f.kind, f.elapsed)
//! });
//! loop {
//!     let (handshake, peer) = listener.accept_handshake().await?;
//!     smol::spawn(async move {
//!         let mut stream = handshake.await?; // the handshake runs here
//!         stream.write_all(b"hello\n").await?;
//!         stream.close().await?;
//!         println!("served {peer}");
//!         std::io::Result::Ok(())
//!     })
//!     .detach();
//! }
//! # }
//! ```
//!
//! Any other transport works with [`Connector::connect_with`] and [`Acceptor::accept`]:
//! a smol or async-std socket, a proxy tunnel, a connection being upgraded with
//! STARTTLS, or the in-memory [`duplex`] pair.
//!
//! # Servers: names, reloads, the ClientHello first, plaintext handed back
//!
//! ```no_run
//! use tlsport::{Acceptor, Identity, MaybeTls, Policy, TcpStream};
//!
//! # async fn serve(acceptor: &Acceptor, internal: &Acceptor, tcp: TcpStream, other: TcpStream)
//! # -> tlsport::Result<()> {
//! // An identity per server name (SNI), exact or `*.one-label`; identity() is the default.
//! let policy = Policy::new()
//!     .identity_for("api.example.com", Identity::from_pem_files("api.pem", "api.key")?)
//!     .identity_for("*.example.com", Identity::from_pem_files("wild.pem", "wild.key")?);
//! // New handshakes of the acceptor, its clones and Listeners use it; on error, nothing changes.
//! acceptor.reload(policy)?;
//!
//! // Look at what the client asks for, then choose the acceptor that answers.
//! let hello = acceptor.read_client_hello(tcp).await?;
//! let chosen = match hello.server_name() {
//!     Some("intranet.example.com") => internal,
//!     _ => acceptor,
//! };
//! let _tls = hello.accept(chosen).await?;
//!
//! // TLS, or the transport handed back with the bytes read to tell (a redirect on :443).
//! if let MaybeTls::Plaintext(_plain) = acceptor.accept_or_plaintext(other).await? {
//!     // answer plain HTTP
//! }
//! # Ok(()) }
//! ```
//!
//! [`Policy::identity_for`], [`Acceptor::reload`], [`Acceptor::read_client_hello`] and
//! [`Acceptor::accept_or_plaintext`] say more; the `reload` and `redirect` examples run
//! them.
//!
//! # Features
//!
//! - `aws-lc-rs` (default): the AWS-LC crypto backend, [`Backend::AwsLcRs`].
//! - `ring`: the ring crypto backend, [`Backend::Ring`]. Both may be enabled; the
//!   policy picks one ([`Policy::backend`]), and rustls's process-wide default provider
//!   is never used.
//! - `platform-verifier` (default): [`CaBundle::System`] through
//!   rustls-platform-verifier.
//! - `tls12` (default): TLS 1.2 besides 1.3.
//! - `logging` (default): rustls's own `log` records.
//! - `webpki-roots`: [`CaBundle::Bundled`], Mozilla's roots compiled in.
//! - `encrypted-keys` (default): [`Identity::from_pem_encrypted`], password-protected
//!   PKCS#8 keys (PBES2: PBKDF2 or scrypt, AES or 3DES), as OpenSSL 3 writes them.
//! - `pkcs12` (default): [`Identity::from_pkcs12`], modern (AES/PBKDF2) and legacy
//!   (RC2/3DES) PKCS#12 archives.
//! - `hyper`: the `tlsport::hyper` module, an HTTPS connector for hyper-util's pooled
//!   client on any runtime, and hyper's I/O traits on [`TlsStream`].
//! - `fuzzing`: **no security, for fuzz targets only**: [`fuzzing`], deterministic and
//!   unencrypted sessions (`Backend::InsecureFuzzing`) that replay byte for byte, with
//!   helpers to record and replay them. Never enable it in a build that talks to
//!   anything real.
//!
//! # Caveats
//!
//! - [`Connector::new`] and [`Acceptor::new`] may block (reading files, loading the
//!   system store): build them once at start-up, then clone them.
//! - Call `close()` when done writing: it sends `close_notify`. Dropping a stream sends
//!   nothing, and a peer using [`EofPolicy::Strict`] will see a truncation error.
//! - [`CaBundle::System`] uses the operating system's verifier on macOS, iOS, Windows and
//!   Android (with its revocation and policy checks) and webpki over the system's roots
//!   elsewhere, so results can differ between platforms.
//! - **The platform verifier can block the handshake's poll.** On macOS, iOS, Windows
//!   and Android the operating system may fetch missing intermediates and revocation
//!   data (OCSP, CRLs) over the network while it verifies the server's certificate, and
//!   it does so inside the poll of [`Connector::connect`]: the executor thread waits (on
//!   Windows up to about 10 s per verification) and the handshake deadline cannot fire
//!   until it returns. Run such handshakes where a waiting thread harms no one: on a
//!   multi-threaded runtime with spare worker threads, on a blocking pool
//!   (`blocking::unblock(move || futures_lite::future::block_on(connector.connect(..)))`,
//!   `tokio::task::spawn_blocking`), or in a thread per connection; or use
//!   [`CaBundle::File`] or [`CaBundle::Bundled`] (webpki: no network, no revocation
//!   checks) when the system's revocation checks are not needed. Linux and the other
//!   Unixes verify with webpki over the system's roots and never fetch. Everything else
//!   tlsport does in a poll is non-blocking: files are read in the constructors, DNS runs
//!   on a thread pool, and so does the first read of `/etc/services` for a service name.
//!
//! - Handshake and connect deadlines are kept by one helper thread, `tlsport-deadlines`,
//!   started at the first deadline; it sleeps until a deadline is due. (An async-io
//!   timer per handshake would wake the reactor twice per handshake.)
//! - Dropping a [`TlsStream`] sends no `close_notify`; only `close()` does. The
//!   handshakes a [`Listener`] runs in `accept` make progress only while its `accept` is
//!   polled; those from `accept_handshake` wherever they are spawned.
//!
//! # What tlsport does not do
//!
//! No DTLS ([`Proto::Udp`] is refused), no TLS below 1.2, no renegotiation (rustls refuses
//! it), no 0-RTT early data, no certificate revocation checks beyond what the platform
//! verifier does. It spawns no tasks and owns no runtime ([`Listener::accept_handshake`]
//! leaves the spawning to you).
//!
//! # Coming from async-native-tls / futures-rustls
//!
//! - `async_native_tls::TlsConnector::new().connect(host, tcp)` becomes
//!   `Connector::new(policy)?.connect_with(host, tcp)`, with the connector built once:
//!   async-native-tls rebuilds its OpenSSL context on every connect.
//! - `futures_rustls::TlsConnector::from(Arc<ClientConfig>)` becomes
//!   `Connector::from(Arc<ClientConfig>)` when you keep your hand-built rustls config,
//!   or a [`Policy`] otherwise. The stream types of both sides are one [`TlsStream`].
//! - Differences you will notice: truncation is an error ([`EofPolicy`]), handshakes
//!   have deadlines, errors carry an [`ErrorKind`], a transport that accepts no bytes is
//!   an error rather than a hang, and reads return as much plaintext as is buffered.
//!
//! # Coming from Gauche `rfc.tls`
//!
//! | rfc.tls | tlsport |
//! | --- | --- |
//! | `tls-ca-bundle-path`: path / `system` / `#f` | [`CaBundle::File`] / [`CaBundle::System`] / [`CaBundle::Empty`] |
//! | `make-tls :server-name` | [`Policy::server_name`] (default: the host you connect to) |
//! | `:num-sessions` | [`Policy::session_cache`] |
//! | `verify-none` / `client-verify` | [`Policy::danger_accept_invalid_certs`] / [`Policy::client_auth`] |
//! | `tls-connect tls host port proto` | [`Connector::connect`], [`Connector::connect_proto`] |
//! | `tls-connect tls socket` | [`Connector::connect_with`] |
//! | `tls-accept tls socket`, bind/accept | [`Acceptor::accept`], [`Acceptor::bind`] → [`Listener::accept`] |
//! | `tls-close` / `tls-destroy` | `close().await` / `Drop` |
//! | `tls-input-port` / `tls-output-port` | [`TlsStream::split`] → [`ReadHalf`] / [`WriteHalf`] |
//! | `tls-load-object` | [`Policy::load_object`], [`Identity`] constructors |
//! | `<mbed-tls>`, `<ax-tls>`, `default-tls-class` | [`Backend`], [`default_backend`], [`set_default_backend`] |

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Each public concept is in the file named after it; the private machinery that serves
// one concept is in the folder of that name (policy/, listener/, net/, stream/).
// deadline.rs serves both connects (net) and handshakes (stream), so it sits at the top.
mod acceptor;
mod backend;
mod client_hello;
mod connector;
mod deadline;
mod duplex;
mod error;
mod handshake;
mod identity;
mod listener;
mod load;
mod maybe_tls;
mod net;
mod policy;
mod split;
mod stream;
mod trust;

#[cfg(feature = "fuzzing")]
#[cfg_attr(docsrs, doc(cfg(feature = "fuzzing")))]
pub mod fuzzing;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;

// ---- public interface ----
//
// Every public item, re-exported flat from the private module that defines it: these
// paths (`tlsport::Policy`, `tlsport::TcpStream`, ...) are the API, the modules are not.
pub use crate::acceptor::Acceptor;
pub use crate::backend::{Backend, default_backend, set_default_backend};
pub use crate::client_hello::ClientHello;
pub use crate::connector::{Connector, Proto};
pub use crate::duplex::{DuplexStream, duplex};
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::handshake::Handshake;
pub use crate::identity::{Identity, ObjectKind};
pub use crate::listener::{HandshakeFailure, Incoming, Listener, ListenerStats};
pub use crate::maybe_tls::{MaybeTls, Rewind};
pub use crate::net::Port;
pub use crate::policy::{ClientAuth, EofPolicy, Policy, Version};
pub use crate::split::{ReadHalf, ReuniteError, WriteHalf};
pub use crate::stream::{SessionInfo, TlsStream};
pub use crate::trust::{CaBundle, system_ca_available};

/// The TCP stream [`Connector::connect`] and [`Listener`] hand out (async-net's, which
/// sends a FIN on close).
pub use async_net::TcpStream;
/// The rustls version tlsport is built on, for hand-built configurations.
pub use rustls;
/// Certificate and key types ([`CertificateDer`](pki_types::CertificateDer), ...).
pub use rustls::pki_types;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
