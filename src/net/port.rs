//! [`Port`]: a port number or a service name, and the services table.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::error::{Error, ErrorKind, Result};

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
    /// The port number, looking a service name up.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a number out of range (above 65535) or an unknown
    /// service name.
    ///
    /// ```
    /// assert_eq!(tlsport::Port::from("imaps").number()?, 993);
    /// # Ok::<(), tlsport::Error>(())
    /// ```
    ///
    /// # Caveats
    ///
    /// The first service name looked up in the process reads `/etc/services`, a blocking
    /// file read. [`Connector::connect`](crate::Connector::connect) and
    /// [`Acceptor::bind`](crate::Acceptor::bind) do that read on a blocking thread pool;
    /// call this from async code only once the table is loaded, or from a blocking thread.
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

    /// Whether the number must be looked up by name.
    fn needs_services(&self) -> bool {
        match &self.spec {
            Spec::Number(_) => false,
            Spec::Name(name) => name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()),
        }
    }
}

/// The port number of `port`, for the async paths (`connect`, `bind`): the first
/// service name to need `/etc/services` has it read on the blocking thread pool, not in
/// the caller's poll. [`Port::number`] reads it in place, once.
pub(crate) async fn port_number(port: &Port) -> Result<u16> {
    if port.needs_services() && SERVICES.get().is_none() {
        blocking::unblock(|| {
            system_services();
        })
        .await;
    }
    port.number()
}

/// TCP services of `/etc/services`, once read.
static SERVICES: OnceLock<HashMap<String, u16>> = OnceLock::new();

/// The thread that read `/etc/services`, for the tests.
#[cfg(test)]
static SERVICES_READ_ON: OnceLock<std::thread::ThreadId> = OnceLock::new();

/// TCP services of `/etc/services`, read on first use (this blocks: see [`port_number`]).
fn system_services() -> &'static HashMap<String, u16> {
    SERVICES.get_or_init(|| {
        #[cfg(test)]
        let _ = SERVICES_READ_ON.set(std::thread::current().id());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs unit test `name` alone in a child process, for the process-wide services
    /// table, and asserts it passed. True in the child, where the test does its work.
    fn in_child(name: &str) -> bool {
        const CHILD: &str = "TLSPORT_NET_TEST_CHILD";
        if std::env::var_os(CHILD).is_some() {
            return true;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child run of {name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        false
    }

    /// Asserts that `/etc/services` has been read, and not on this thread.
    fn assert_services_read_elsewhere() {
        let read_on = SERVICES_READ_ON.get().expect("the services table was read");
        assert_ne!(
            *read_on,
            std::thread::current().id(),
            "/etc/services was read inside the poll, on the executor's thread"
        );
    }

    #[test]
    fn connect_reads_the_services_table_off_the_executor() {
        if !in_child("net::port::tests::connect_reads_the_services_table_off_the_executor") {
            return;
        }
        assert!(SERVICES.get().is_none(), "the child starts with no table");
        // The host is empty: the port is looked up, then the host refused.
        let err =
            futures_lite::future::block_on(crate::net::connect_tcp("", Port::from("https"), None))
                .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_services_read_elsewhere();
    }

    #[test]
    fn bind_reads_the_services_table_off_the_executor() {
        if !in_child("net::port::tests::bind_reads_the_services_table_off_the_executor") {
            return;
        }
        assert!(SERVICES.get().is_none(), "the child starts with no table");
        let cert = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
        let identity = crate::identity::Identity::from_pem(
            cert.cert.pem().as_bytes(),
            cert.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let policy = crate::policy::Policy::new().identity(identity);
        let acceptor = crate::acceptor::Acceptor::new(policy).unwrap();
        // Whether port 8443 is free does not matter here.
        let _ = futures_lite::future::block_on(acceptor.bind("127.0.0.1", "https-alt"));
        assert_services_read_elsewhere();
    }

    #[test]
    fn service_names_and_numbers() {
        assert_eq!(Port::from("https").number().unwrap(), 443);
        assert_eq!(Port::from("HTTP").number().unwrap(), 80);
        assert_eq!(Port::from(" 8443 ").number().unwrap(), 8443);
        assert_eq!(Port::from(22u16).number().unwrap(), 22);
        for bad in ["70000", "no-such-service", "", "-1", "12ab"] {
            let err = Port::from(bad).number().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}: {err}");
        }
    }
}
