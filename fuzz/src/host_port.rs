//! The `host_port` target: host names and ports as users type them.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::task::Poll;

use tlsport::{CaBundle, Connector, ErrorKind, Policy, Port, Proto};

use super::common::poll_once;

/// A connector with a trivial policy, for name checks.
fn plain_connector() -> &'static Connector {
    static ONE: OnceLock<Connector> = OnceLock::new();
    ONE.get_or_init(|| {
        Connector::new(
            Policy::new()
                .ca_bundle(CaBundle::Empty)
                .danger_accept_invalid_certs(true)
                .handshake_timeout(None),
        )
        .expect("plain client policy")
    })
}

/// `host_port`: input = `host \0 port` (lossy UTF-8; no `\0` means no port).
///
/// `Port::from(&str).number()` must agree with plain decimal parsing; the host goes to
/// `connect_with` over a `duplex()` with no peer (polled once: either a name error, or
/// the ClientHello sent and the client waiting), to `Policy::server_name` through
/// `Connector::new`, and with the port to `connect_proto(.., Proto::Udp)`, which must be
/// refused as Unsupported at once, before any lookup. Nothing does DNS.
pub fn run_host_port(data: &[u8]) {
    let (host, port) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let host = String::from_utf8_lossy(host);
    let port_text = String::from_utf8_lossy(port);

    let port = Port::from(port_text.as_ref());
    let _ = (format!("{port:?}"), port.to_string());
    match port.number() {
        Ok(n) => {
            let trimmed = port_text.trim();
            if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                assert_eq!(trimmed.parse::<u16>().ok(), Some(n), "port {trimmed:?}");
            }
            assert_eq!(Port::from(n.to_string().as_str()).number().ok(), Some(n));
            assert_eq!(Port::from(n).number().ok(), Some(n));
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "port {port_text:?}: {e}"),
    }

    let connector = plain_connector();
    let (io, _peer) = tlsport::duplex(64 * 1024);
    match poll_once(connector.connect_with(&host, io)) {
        Poll::Pending => {
            // The name was accepted: the same name must be a valid policy override.
            assert!(
                Connector::new(
                    Policy::new()
                        .ca_bundle(CaBundle::Empty)
                        .danger_accept_invalid_certs(true)
                        .server_name(&host)
                )
                .is_ok(),
                "{host:?} accepted by connect_with but not by Policy::server_name"
            );
        }
        Poll::Ready(Ok(_)) => panic!("a handshake finished with no peer"),
        Poll::Ready(Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "host {host:?}: {e}");
            let bare = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(&host);
            assert!(
                bare.parse::<IpAddr>().is_err(),
                "the IP address {host:?} was refused: {e}"
            );
        }
    }

    match poll_once(connector.connect_proto(&host, port, Proto::Udp)) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}"),
        Poll::Ready(Ok(_)) => panic!("connect_proto(Udp) connected"),
        Poll::Pending => panic!("connect_proto(Udp) did not refuse at once"),
    }
}
