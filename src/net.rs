//! TCP: [`Port`], service names, resolution and connecting.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use async_net::TcpStream;

use crate::error::{Error, ErrorKind, Result};
use crate::timeout::deadline;

/// A TCP port: a number, or a service name such as `"https"` (Gauche's `port`
/// argument).
///
/// Names are looked up in `/etc/services` where it exists, then in a built-in table of
/// the common TLS services. A bad port is reported by the call it is given to, as
/// [`ErrorKind::InvalidInput`], before any lookup.
///
/// ```
/// use tlsport::Port;
/// let a: Port = 443.into();
/// let b: Port = "https".into();
/// let c: Port = "8443".into();
/// # let _ = (a, b, c);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Port {
    spec: Spec,
}

#[derive(Clone, PartialEq, Eq)]
enum Spec {
    Number(u16),
    Name(String),
}

impl From<u16> for Port {
    fn from(port: u16) -> Port {
        Port {
            spec: Spec::Number(port),
        }
    }
}

impl From<&str> for Port {
    fn from(port: &str) -> Port {
        Port {
            spec: Spec::Name(port.trim().to_owned()),
        }
    }
}

impl From<String> for Port {
    fn from(port: String) -> Port {
        Port::from(port.as_str())
    }
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.spec {
            Spec::Number(n) => write!(f, "Port({n})"),
            Spec::Name(name) => write!(f, "Port({name:?})"),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.spec {
            Spec::Number(n) => write!(f, "{n}"),
            Spec::Name(name) => f.write_str(name),
        }
    }
}

/// Common services, for systems without `/etc/services`.
const BUILTIN: &[(&str, u16)] = &[
    ("http", 80),
    ("https", 443),
    ("smtp", 25),
    ("submission", 587),
    ("submissions", 465),
    ("smtps", 465),
    ("imap", 143),
    ("imaps", 993),
    ("pop3", 110),
    ("pop3s", 995),
    ("ldap", 389),
    ("ldaps", 636),
    ("ftp", 21),
    ("ftps", 990),
    ("ftps-data", 989),
    ("telnets", 992),
    ("ircs-u", 6697),
    ("xmpp-client", 5222),
    ("xmpp-server", 5269),
    ("mqtt", 1883),
    ("secure-mqtt", 8883),
    ("postgresql", 5432),
    ("mysql", 3306),
    ("domain-s", 853),
    ("nntps", 563),
    ("sieve", 4190),
    ("amqps", 5671),
    ("https-alt", 8443),
];

impl Port {
    /// The port number.
    pub fn number(&self) -> Result<u16> {
        let name = match &self.spec {
            Spec::Number(n) => return Ok(*n),
            Spec::Name(name) => name,
        };
        if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() {
            return name.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("port {name:?} is out of range (0 to 65535)"),
                )
            });
        }
        let lower = name.to_ascii_lowercase();
        system_services()
            .get(&lower)
            .copied()
            .or_else(|| BUILTIN.iter().find(|(n, _)| *n == lower).map(|(_, p)| *p))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("unknown service name {name:?}: give a port number"),
                )
            })
    }
}

/// TCP services of `/etc/services`, read once.
fn system_services() -> &'static HashMap<String, u16> {
    static SERVICES: OnceLock<HashMap<String, u16>> = OnceLock::new();
    SERVICES.get_or_init(|| {
        let text = std::fs::read_to_string("/etc/services").unwrap_or_default();
        let mut map = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, "tcp")) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            for alias in std::iter::once(name).chain(words) {
                map.entry(alias.to_ascii_lowercase()).or_insert(port);
            }
        }
        map
    })
}

/// `host` without the brackets of an IPv6 literal.
pub(crate) fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The addresses of `host:port`; IP literals skip the resolver.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let bare = bare_host(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs = async_net::resolve((bare, port)).await.map_err(|e| {
        Error::with_source(
            ErrorKind::Resolve,
            format!("cannot resolve {bare:?}: {e}"),
            e,
        )
    })?;
    if addrs.is_empty() {
        return Err(Error::new(
            ErrorKind::Resolve,
            format!("{bare:?} resolved to no address"),
        ));
    }
    Ok(addrs)
}

/// Connects to `host:port` within `limit`, trying each address in turn and keeping the
/// last error.
pub(crate) async fn connect_tcp(
    host: &str,
    port: crate::Port,
    limit: Option<Duration>,
) -> Result<TcpStream> {
    let number = port.number()?;
    if bare_host(host).is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "the host name is empty",
        ));
    }
    let work = async {
        let mut last = None;
        for addr in resolve(host, number).await? {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        let last = last.expect("resolve returns at least one address");
        Err(Error::with_source(
            ErrorKind::Connect,
            format!("cannot connect to {host} port {number}: {last}"),
            last,
        ))
    };
    deadline(limit, work, |limit| {
        Error::new(
            ErrorKind::TimedOut,
            format!("connecting to {host} port {number} did not finish within {limit:?}"),
        )
    })
    .await
}
