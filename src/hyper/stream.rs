//! [`HttpsStream`]: what [`HttpsConnector`](super::HttpsConnector) connects.

use std::fmt;

use ::hyper_util::client::legacy::connect::{Connected, Connection};
use async_net::TcpStream;

use crate::{SessionInfo, TlsStream};

/// A connection made by [`HttpsConnector`](super::HttpsConnector): TLS for `https://`,
/// plain TCP for `http://`.
///
/// It implements `hyper::rt::Read` and `hyper::rt::Write`, and hyper-util's
/// [`Connection`]: `connected()` reports HTTP/2 when ALPN chose `h2` (so hyper-util's pool
/// multiplexes requests over it) and carries the [`SessionInfo`] as an extra, which
/// hyper-util puts in every response's extensions:
///
/// ```no_run
/// # async fn run(response: http::Response<hyper::body::Incoming>) {
/// if let Some(info) = response.extensions().get::<tlsport::SessionInfo>() {
///     println!("{:?} {:?}", info.protocol_version, info.cipher_suite);
/// }
/// # }
/// ```
///
/// Made by the connector, or from a [`TlsStream`] or a [`TcpStream`] (`From`) for a
/// connector of your own.
pub struct HttpsStream {
    inner: Inner,
}

pub(super) enum Inner {
    Plain(TcpStream),
    /// Boxed: a TLS stream is about a hundred times the size of a TCP one.
    Tls(Box<TlsStream<TcpStream>>),
}

impl HttpsStream {
    /// Whether the connection is TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    /// What the TLS handshake negotiated, or `None` for plain TCP.
    pub fn info(&self) -> Option<SessionInfo> {
        match &self.inner {
            Inner::Plain(_) => None,
            Inner::Tls(tls) => Some(tls.info()),
        }
    }

    /// The TCP connection underneath (its addresses, its socket options).
    pub fn get_ref(&self) -> &TcpStream {
        match &self.inner {
            Inner::Plain(tcp) => tcp,
            Inner::Tls(tls) => tls.get_ref(),
        }
    }

    pub(super) fn inner_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

impl From<TlsStream<TcpStream>> for HttpsStream {
    fn from(tls: TlsStream<TcpStream>) -> HttpsStream {
        HttpsStream {
            inner: Inner::Tls(Box::new(tls)),
        }
    }
}

impl From<TcpStream> for HttpsStream {
    fn from(tcp: TcpStream) -> HttpsStream {
        HttpsStream {
            inner: Inner::Plain(tcp),
        }
    }
}

impl Connection for HttpsStream {
    fn connected(&self) -> Connected {
        let Some(info) = self.info() else {
            return Connected::new();
        };
        let connected = if info.alpn_protocol.as_deref() == Some(b"h2") {
            Connected::new().negotiated_h2()
        } else {
            Connected::new()
        };
        connected.extra(info)
    }
}

impl fmt::Debug for HttpsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Plain(tcp) => f.debug_tuple("HttpsStream::Plain").field(tcp).finish(),
            Inner::Tls(tls) => f.debug_tuple("HttpsStream::Tls").field(tls).finish(),
        }
    }
}
