//! [`HttpsStream`]: what [`HttpsConnector`](super::HttpsConnector) connects.

use std::fmt;

use ::hyper_util::client::legacy::connect::{Connected, Connection};
use async_net::TcpStream;

use super::tcp::Tcp;
use crate::{SessionInfo, TlsStream};

/// A connection made by [`HttpsConnector`](super::HttpsConnector): TLS for `https://`,
/// plain TCP for `http://`.
///
/// It implements `hyper::rt::Read` and `hyper::rt::Write`, and hyper-util's
/// [`Connection`]: `connected()` reports HTTP/2 when ALPN chose `h2` (so hyper-util's pool
/// multiplexes requests over it) and carries the [`SessionInfo`] as an extra, which
/// hyper-util puts in every response's extensions (unless
/// [`HttpsConnector::session_info_on_responses`](super::HttpsConnector::session_info_on_responses)
/// turned that off):
///
/// ```no_run
/// # async fn run(response: http::Response<hyper::body::Incoming>) {
/// if let Some(info) = response.extensions().get::<tlsport::SessionInfo>() {
///     println!("{:?} {:?}", info.protocol_version, info.cipher_suite);
/// }
/// # }
/// ```
pub struct HttpsStream {
    inner: Inner,
    /// Whether `connected()` hands the session's info to hyper-util for its responses.
    session_info: bool,
}

pub(super) enum Inner {
    Plain(Tcp),
    /// Boxed: a TLS stream is about a hundred times the size of a TCP one.
    Tls(Box<TlsStream<Tcp>>),
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
            Inner::Plain(tcp) => tcp.get_ref(),
            Inner::Tls(tls) => tls.get_ref().get_ref(),
        }
    }

    pub(super) fn inner_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

impl HttpsStream {
    pub(super) fn plain(tcp: Tcp) -> HttpsStream {
        HttpsStream {
            inner: Inner::Plain(tcp),
            session_info: false,
        }
    }

    pub(super) fn tls(tls: TlsStream<Tcp>, session_info: bool) -> HttpsStream {
        HttpsStream {
            inner: Inner::Tls(Box::new(tls)),
            session_info,
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
        if self.session_info {
            connected.extra(info)
        } else {
            connected
        }
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
