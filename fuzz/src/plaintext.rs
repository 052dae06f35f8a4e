//! What the `plaintext_client` and `plaintext_server` targets share: the policy
//! variants of tlsport's fuzzing mode (`Backend::InsecureFuzzing`: no real crypto, so
//! mutated records still decrypt and the fuzzer reaches the handshake's later states
//! and the application data), and the application phase after the handshake.

use std::sync::OnceLock;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tlsport::fuzzing;
use tlsport::{Acceptor, ClientAuth, Connector, EofPolicy, Policy, TlsStream};

use super::common::{VERSIONS, speakable};
use super::scripted::{Driver, after_handshake};

/// Client variant `n`: as `client_handshake`'s (versions, ALPN, EOF policy, a client
/// certificate), on the fuzzing policies.
pub fn client_policy(n: usize) -> Policy {
    let mut policy = fuzzing::client_policy().protocol_versions(&speakable(VERSIONS[n % 3]));
    if (n / 3) % 2 == 1 {
        policy = policy.alpn_protocols(["h2", "http/1.1"]);
    }
    if (n / 6) % 2 == 1 {
        policy = policy.eof(EofPolicy::AllowRagged);
    }
    if (n / 12) % 2 == 1 {
        policy = policy.identity(fuzzing::identity());
    }
    policy
}

pub const CLIENT_VARIANTS: usize = 24;

/// Server variant `n`: as `server_handshake`'s (versions, ALPN, EOF policy, client
/// authentication), on the fuzzing policies; from 36 on, with a session cache too, so
/// that the server issues tickets and resumes sessions (through readable tickets only:
/// no state is kept from one run to the next).
pub fn server_policy(n: usize) -> Policy {
    let mut policy = fuzzing::server_policy().protocol_versions(&speakable(VERSIONS[n % 3]));
    if (n / 3) % 2 == 1 {
        policy = policy.alpn_protocols(["h2", "http/1.1"]);
    }
    if (n / 6) % 2 == 1 {
        policy = policy.eof(EofPolicy::AllowRagged);
    }
    let auth = [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required][(n / 12) % 3];
    if (n / 36) % 2 == 1 {
        policy = policy.session_cache(8);
    }
    policy.client_auth(auth)
}

pub const SERVER_VARIANTS: usize = 72;

pub fn connectors() -> &'static [Connector] {
    static ALL: OnceLock<Vec<Connector>> = OnceLock::new();
    ALL.get_or_init(|| {
        (0..CLIENT_VARIANTS)
            .map(|n| Connector::new(client_policy(n)).expect("fuzzing client policy"))
            .collect()
    })
}

pub fn acceptors() -> &'static [Acceptor] {
    static ALL: OnceLock<Vec<Acceptor>> = OnceLock::new();
    ALL.get_or_init(|| {
        (0..SERVER_VARIANTS)
            .map(|n| Acceptor::new(server_policy(n)).expect("fuzzing server policy"))
            .collect()
    })
}

/// After a finished handshake: echo what the peer sends (up to 64 reads), then the
/// checks of [`after_handshake`] (write, flush, close, the close contract).
pub fn echo_then_close<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver,
    stream: &mut TlsStream<S>,
    is_client: bool,
) {
    let mut buf = [0u8; 4096];
    for _ in 0..64 {
        match driver.run(stream.read(&mut buf)) {
            Some(Ok(n)) if n > 0 => {
                assert!(n <= buf.len());
                if !matches!(driver.run(stream.write_all(&buf[..n])), Some(Ok(()))) {
                    break;
                }
            }
            _ => break,
        }
    }
    after_handshake(driver, stream, is_client);
}
