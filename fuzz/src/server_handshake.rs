//! The `server_handshake` target: a tlsport server against a scripted client.

use std::sync::OnceLock;

use tlsport::{Acceptor, CaBundle, ClientAuth, EofPolicy, Policy};

use super::common::{Input, VERSIONS, client_identity, server_identity, speakable};
use super::scripted::{Driver, Scripted, after_handshake, budget};

/// Server policy number `n` of [`SERVER_VARIANTS`]: versions, ALPN, EOF policy, client
/// authentication (trusting the client identity's self-signed certificate).
pub fn server_policy(n: usize) -> Policy {
    let mut policy = Policy::new()
        .ca_bundle(CaBundle::Empty)
        .identity(server_identity().clone())
        .handshake_timeout(None)
        .session_cache(0)
        .protocol_versions(&speakable(VERSIONS[n % 3]));
    if (n / 3) % 2 == 1 {
        policy = policy.alpn_protocols(["h2", "http/1.1"]);
    }
    if (n / 6) % 2 == 1 {
        policy = policy.eof(EofPolicy::AllowRagged);
    }
    let auth = [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required][(n / 12) % 3];
    if auth != ClientAuth::None {
        policy = policy
            .client_auth(auth)
            .add_root_certificate(client_identity().chain()[0].clone());
    }
    policy
}

pub const SERVER_VARIANTS: usize = 36;

fn acceptors() -> &'static [Acceptor] {
    static ALL: OnceLock<Vec<Acceptor>> = OnceLock::new();
    ALL.get_or_init(|| {
        (0..SERVER_VARIANTS)
            .map(|n| Acceptor::new(server_policy(n)).expect("server policy"))
            .collect()
    })
}

/// `server_handshake`: input = `[variant, schedule length, schedule.., client bytes..]`,
/// as [`run_client_handshake`] with a tlsport server (fixed rcgen identity) and a
/// scripted client.
pub fn run_server_handshake(data: &[u8]) {
    let mut input = Input::new(data);
    let variant = usize::from(input.byte());
    let schedule_len = usize::from(input.byte());
    let schedule = input.take(schedule_len);
    let peer = input.rest();
    let acceptor = &acceptors()[variant % SERVER_VARIANTS];

    let (io, parked) = Scripted::new(peer, schedule);
    let mut driver = Driver::new(parked, budget(data));
    let Some(Ok(mut stream)) = driver.run(acceptor.accept(io)) else {
        return;
    };
    after_handshake(&mut driver, &mut stream, false);
}
