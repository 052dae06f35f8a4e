//! HTTPS for hyper 1 and hyper-util's pooled client, on any runtime (feature `hyper`).
//!
//! - [`HttpsConnector`] is the connector of hyper-util's legacy pooled
//!   `Client` (`hyper_util::client::legacy::Client`): `https://` URIs over TLS through a
//!   [`Connector`] (its policy's roots, ALPN, timeouts and session cache), `http://` over
//!   plain TCP unless [`HttpsConnector::https_only`] refuses it.
//! - [`HttpsStream`] is what it connects: hyper's I/O traits, and hyper-util's
//!   [`Connection`](hyper_util::client::legacy::connect::Connection), which tells the pool
//!   when ALPN chose HTTP/2 and hands each response the connection's [`SessionInfo`](crate::SessionInfo).
//! - [`TlsStream`](crate::TlsStream) implements `hyper::rt::Read` and `hyper::rt::Write` itself, so hyper's
//!   servers (`hyper::server::conn::http1`, `http2`) and its client handshakes
//!   (`hyper::client::conn`) take a `TlsStream` with no adapter crate.
//!
//! # Examples
//!
//! A pooled client on smol. The client needs an executor for its connection tasks: on
//! smol, three lines of glue.
//!
//! ```no_run
//! use http_body_util::{BodyExt, Empty};
//! use hyper::body::Bytes;
//! use hyper_util::client::legacy::Client;
//! use tlsport::hyper::HttpsConnector;
//! use tlsport::{Connector, Policy};
//!
//! #[derive(Clone)]
//! struct SmolExecutor;
//! impl<F: Future<Output: Send> + Send + 'static> hyper::rt::Executor<F> for SmolExecutor {
//!     fn execute(&self, future: F) {
//!         smol::spawn(future).detach();
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! smol::block_on(async {
//!     // Offer h2 to get HTTP/2 from servers that speak it (one connection, multiplexed).
//!     let connector = Connector::new(Policy::new().alpn_protocols(["h2", "http/1.1"]))?;
//!     let client: Client<_, Empty<Bytes>> =
//!         Client::builder(SmolExecutor).build(HttpsConnector::new(connector));
//!     let response = client.get("https://example.com/".parse()?).await?;
//!     let version = response.version();
//!     let body = response.into_body().collect().await?.to_bytes();
//!     println!("{version:?}: {} bytes", body.len());
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Other runtimes
//!
//! The sockets are async-io's: async-io's reactor drives them under any executor (from its
//! own thread when nothing else does), so only the executor changes.
//!
//! - async-std: `impl Executor<F>` with `async_std::task::spawn(future);` in `execute`.
//! - tokio: `Client::builder(hyper_util::rt::TokioExecutor::new())`, on a tokio runtime
//!   (hyper-util's `tokio` feature). `hyper_util::rt::TokioTimer` serves as the timer.
//!   It works, but async-io's reactor thread then hands every readiness event over to
//!   tokio's threads: measured here, 1.1 to 1.8 times the client CPU per request of
//!   hyper-rustls on tokio (BENCHMARKS.md). A program that lives on tokio does better
//!   with hyper-rustls fed tlsport's compiled configuration
//!   ([`Connector::rustls_config`]), which keeps one `Policy` for both.
//! - `futures::executor::ThreadPool`: `pool.spawn_ok(future)` in `execute`.
//!
//! A timer is optional: with one (`Client::builder(..).timer(..).pool_timer(..)`) the pool
//! closes idle connections on time and HTTP/2 keep-alive pings can run; without one, idle
//! connections are checked when next taken from the pool. On smol and async-std a
//! `hyper::rt::Timer` is a few lines over `async_io::Timer` (`examples/hyper.rs` has one).
//!
//! # HTTP/2
//!
//! The HTTP version is chosen in the TLS handshake by ALPN. Offer `h2` with
//! [`Policy::alpn_protocols`](crate::Policy::alpn_protocols)`(["h2", "http/1.1"])` (and
//! build the client with hyper-util's `http2` feature): when the server picks `h2`, the
//! pool sends every request to that host over the one connection. With no ALPN, or
//! `http/1.1` picked, the pool keeps one HTTP/1.1 connection per request in flight. Plain
//! `http://` is always HTTP/1.1 here (no `h2c` upgrade).
//!
//! The pool learns that a host speaks HTTP/2 from a finished handshake, so a burst of
//! requests to a host with no connection yet opens one connection per request (hyper-util
//! does this with any connector); the requests after them share one. Send one request
//! first, or build the client with `http2_only(true)` when every server speaks HTTP/2.
//!
//! # Errors
//!
//! The connector fails with [`tlsport::Error`](crate::Error). hyper-util's client wraps it
//! (`client error (Connect)`), and it stays in the error's `source()` chain, so the
//! [`ErrorKind`] is one downcast away, a rejected certificate included:
//!
//! ```
//! use std::error::Error as StdError;
//!
//! /// The tlsport error behind an HTTP client's error, if there is one.
//! fn tls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a tlsport::Error> {
//!     let mut next = Some(err);
//!     while let Some(err) = next {
//!         if let Some(tls) = err.downcast_ref::<tlsport::Error>() {
//!             return Some(tls);
//!         }
//!         next = err.source();
//!     }
//!     None
//! }
//! ```
//!
//! A read or write failure after the handshake (a truncated response, a bad record) reaches
//! hyper as an `io::Error` carrying the `tlsport::Error` (see [`TlsStream`](crate::TlsStream#errors)).
//!
//! # Caveats
//!
//! - hyper-util's `client-legacy` feature compiles parts of tokio (its `net` and `sync`
//!   modules, for hyper-util's own `HttpConnector`): tokio is built, but no tokio runtime
//!   is needed or started.
//! - Every connection gets `TCP_NODELAY` (as reqwest sets by default): HTTP writes whole
//!   messages, and Nagle's algorithm would hold a request back behind an unacknowledged
//!   segment.
//! - hyper-util copies the connection's [`SessionInfo`](crate::SessionInfo) into every
//!   response's extensions: a clone of its strings and the server's certificates, about
//!   0.1 µs per response for a one-certificate chain on the machine of BENCHMARKS.md.
//! - No proxy support: the connector connects to the URI's host directly.

mod rt;
mod stream;
mod tcp;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;

use crate::Connector;
use crate::error::{Error, ErrorKind, Result};
use crate::net::{self, Port};

pub use self::stream::HttpsStream;

/// The connector of hyper-util's pooled client: `https://` over TLS, `http://` over TCP.
///
/// A [`tower_service::Service`] from [`http::Uri`] to [`HttpsStream`]; hand it to
/// `hyper_util::client::legacy::Client::builder(executor).build(connector)`. For an
/// `https://` URI it connects to the URI's host (a name, an IPv4 address or an IPv6 literal
/// in brackets) on the URI's port (443 by default), racing the host's addresses by Happy
/// Eyeballs within [`Policy::connect_timeout`](crate::Policy::connect_timeout), then runs
/// the TLS handshake within
/// [`Policy::handshake_timeout`](crate::Policy::handshake_timeout), verifying the
/// certificate for that host and sending it as SNI, as [`Connector::connect`] does. An `http://` URI gets a plain TCP connection (port 80 by default) within the same
/// connect timeout, unless [`HttpsConnector::https_only`] is set.
///
/// Cloning is cheap: the [`Connector`] inside is shared, and with it the session cache, so
/// new connections to a host resume earlier sessions.
///
/// See [the module docs](self) for an example and for other runtimes.
#[derive(Clone, Debug)]
pub struct HttpsConnector {
    connector: Connector,
    https_only: bool,
    session_info: bool,
}

impl HttpsConnector {
    /// A connector for `https://` (through `connector`) and `http://` URIs.
    pub fn new(connector: Connector) -> HttpsConnector {
        HttpsConnector {
            connector,
            https_only: false,
            session_info: true,
        }
    }

    /// With `true`, `http://` URIs are refused with [`ErrorKind::InvalidInput`] before any
    /// connection is made, so nothing is ever sent in the clear. Default `false`.
    pub fn https_only(mut self, yes: bool) -> HttpsConnector {
        self.https_only = yes;
        self
    }

    /// Whether every response over TLS carries the connection's
    /// [`SessionInfo`](crate::SessionInfo) in its extensions
    /// (`response.extensions().get::<tlsport::SessionInfo>()`). Default `true`.
    ///
    /// hyper-util gives each response a clone of it, certificate chain included, and over
    /// HTTP/2 clones it once more for each request's turn on the shared connection:
    /// measured here, about 1 µs of CPU per request, a tenth of a small HTTP/2 request
    /// (BENCHMARKS.md). With `false` nothing is attached and nothing is cloned; the pool
    /// still learns from ALPN that a connection speaks HTTP/2.
    pub fn session_info_on_responses(mut self, yes: bool) -> HttpsConnector {
        self.session_info = yes;
        self
    }

    /// The TLS connector used for `https://` URIs.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// Connects to `uri`'s host: the [`Service::call`](tower_service::Service::call) of
    /// this connector, as an `async fn`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`], naming the URI, for a scheme other than `https` and
    /// `http`, a URI without a host, or `http://` under [`HttpsConnector::https_only`];
    /// otherwise those of [`Connector::connect`] (an invalid server name, resolution,
    /// connection, timeouts, the handshake, the certificate).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the attempt and closes the socket.
    pub async fn connect(&self, uri: &Uri) -> Result<HttpsStream> {
        let target = Target::of(uri, self.https_only)?;
        let policy = self.connector.policy();
        if target.tls && policy.server_name.is_none() {
            // As `Connector::connect`: a host that cannot be verified fails before any I/O.
            crate::connector::server_name(&target.host)?;
        }
        let port = Port::from(target.port);
        let tcp = net::connect_tcp(&target.host, port, policy.connect_timeout).await?;
        // A socket that cannot take the option is broken, and its next read or write says
        // so; there is nothing to gain from failing here instead.
        let _ = tcp.set_nodelay(true);
        let tcp = tcp::Tcp::new(tcp);
        if !target.tls {
            return Ok(HttpsStream::plain(tcp));
        }
        let tls = self.connector.connect_with(&target.host, tcp).await?;
        Ok(HttpsStream::tls(tls, self.session_info))
    }
}

impl From<Connector> for HttpsConnector {
    fn from(connector: Connector) -> HttpsConnector {
        HttpsConnector::new(connector)
    }
}

impl tower_service::Service<Uri> for HttpsConnector {
    type Response = HttpsStream;
    type Error = Error;
    type Future = HttpsConnecting;

    /// Always ready: connections are made in the returned future.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> HttpsConnecting {
        let this = self.clone();
        HttpsConnecting {
            inner: Box::pin(async move { this.connect(&uri).await }),
        }
    }
}

/// The future of [`HttpsConnector`]'s `Service::call`: a connection being made.
///
/// `Send`, `Unpin` and `'static`, as hyper-util's client requires of a connector.
#[must_use = "futures do nothing unless polled"]
pub struct HttpsConnecting {
    inner: Pin<Box<dyn Future<Output = Result<HttpsStream>> + Send>>,
}

impl Future for HttpsConnecting {
    type Output = Result<HttpsStream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<HttpsStream>> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for HttpsConnecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsConnecting").finish_non_exhaustive()
    }
}

/// Where a URI says to connect.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    /// As in the URI: an IPv6 literal keeps its brackets, which `net` and the server name
    /// parser accept.
    host: String,
    port: u16,
}

impl Target {
    fn of(uri: &Uri, https_only: bool) -> Result<Target> {
        let invalid = |why: &str| Error::new(ErrorKind::InvalidInput, format!("{why}: {uri}"));
        let tls = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            Some(_) => return Err(invalid("unsupported URI scheme (https or http expected)")),
            None => return Err(invalid("the URI has no scheme (https or http expected)")),
        };
        if !tls && https_only {
            return Err(invalid("plain http is refused (https_only)"));
        }
        let host = match uri.host() {
            Some(host) if !host.is_empty() => host.to_owned(),
            _ => return Err(invalid("the URI has no host")),
        };
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Target { tls, host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str, https_only: bool) -> Result<Target> {
        Target::of(&uri.parse().unwrap(), https_only)
    }

    fn ok(tls: bool, host: &str, port: u16) -> Target {
        Target {
            tls,
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn default_ports_and_explicit_ones() {
        assert_eq!(
            target("https://example.com/a", false).unwrap(),
            ok(true, "example.com", 443)
        );
        assert_eq!(
            target("http://example.com", false).unwrap(),
            ok(false, "example.com", 80)
        );
        assert_eq!(
            target("https://example.com:8443", false).unwrap(),
            ok(true, "example.com", 8443)
        );
        assert_eq!(
            target("HTTPS://Example.com:1/", true).unwrap(),
            ok(true, "Example.com", 1)
        );
    }

    #[test]
    fn ipv6_literals_keep_their_brackets() {
        assert_eq!(
            target("https://[::1]:8443/", false).unwrap(),
            ok(true, "[::1]", 8443)
        );
        assert_eq!(
            target("http://[::1]/", false).unwrap(),
            ok(false, "[::1]", 80)
        );
    }

    #[test]
    fn refusals_name_the_uri() {
        for (uri, https_only, says) in [
            ("ftp://example.com/", false, "unsupported URI scheme"),
            ("/just/a/path", false, "no scheme"),
            ("http://example.com/", true, "https_only"),
        ] {
            let err = target(uri, https_only).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{uri}");
            let text = err.to_string();
            assert!(text.contains(says) && text.contains(uri), "{uri}: {text}");
        }
    }

    #[test]
    fn the_future_is_send_unpin_static() {
        fn check<F: Future + Send + Unpin + 'static>(_: &F) {}
        let policy = crate::Policy::new()
            .ca_bundle(crate::CaBundle::Empty)
            .danger_accept_invalid_certs(true);
        let connector = Connector::new(policy).unwrap();
        let mut https = HttpsConnector::new(connector);
        let connecting = tower_service::Service::call(&mut https, Uri::from_static("ftp://x/"));
        check(&connecting);
    }
}
