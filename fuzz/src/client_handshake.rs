//! The `client_handshake` target: a tlsport client against a scripted server.

use std::sync::OnceLock;

use tlsport::{CaBundle, Connector, EofPolicy, Policy};

use super::common::{Input, VERSIONS, client_identity, speakable};
use super::scripted::{Driver, Scripted, after_handshake, budget};

/// Client policy number `n` of [`CLIENT_VARIANTS`]: versions, ALPN, EOF policy, a client
/// certificate. Verification is off, so no roots are needed.
pub fn client_policy(n: usize) -> Policy {
    let mut policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .danger_accept_invalid_certs(true)
        .handshake_timeout(None)
        .session_cache(0)
        .protocol_versions(&speakable(VERSIONS[n % 3]));
    if (n / 3) % 2 == 1 {
        policy = policy.alpn_protocols(["h2", "http/1.1"]);
    }
    if (n / 6) % 2 == 1 {
        policy = policy.eof(EofPolicy::AllowRagged);
    }
    if (n / 12) % 2 == 1 {
        policy = policy.identity(client_identity().clone());
    }
    policy
}

pub const CLIENT_VARIANTS: usize = 24;

fn connectors() -> &'static [Connector] {
    static ALL: OnceLock<Vec<Connector>> = OnceLock::new();
    ALL.get_or_init(|| {
        (0..CLIENT_VARIANTS)
            .map(|n| Connector::new(client_policy(n)).expect("client policy"))
            .collect()
    })
}

/// The names a fuzzed client connects to.
pub const HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// `client_handshake`: input = `[variant, schedule length, schedule.., server bytes..]`.
///
/// A tlsport client (verification off, no roots, no timers) meets a scripted server
/// whose bytes are the input's tail, over a transport whose every call follows the
/// schedule (`Pending`, short or full transfers, `Ok(0)`, errors).
pub fn run_client_handshake(data: &[u8]) {
    let mut input = Input::new(data);
    let variant = usize::from(input.byte());
    let schedule_len = usize::from(input.byte());
    let schedule = input.take(schedule_len);
    let peer = input.rest();
    let connector = &connectors()[variant % CLIENT_VARIANTS];
    let host = HOSTS[(variant / CLIENT_VARIANTS) % HOSTS.len()];

    let (io, parked) = Scripted::new(peer, schedule);
    let mut driver = Driver::new(parked, budget(data));
    let Some(Ok(mut stream)) = driver.run(connector.connect_with(host, io)) else {
        return;
    };
    after_handshake(&mut driver, &mut stream, true);
}
