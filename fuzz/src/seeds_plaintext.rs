//! The seeds of the fuzzing-mode targets (`plaintext_client`, `plaintext_server`,
//! `differential`): sessions recorded with `tlsport::fuzzing::record_with`, the same
//! conversations as the seeds of `client_handshake` and `server_handshake`, and a few
//! that only the fuzzing mode can replay: session tickets and a resumption attempt
//! recorded from policies with a session cache, and records spliced into recorded
//! flights (a KeyUpdate, a renegotiation attempt), which is possible because records
//! carry their plaintext and a fixed tag.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use tlsport::fuzzing;
use tlsport::{Acceptor, Connector};

use super::common::{VERSIONS, speakable};
use super::plaintext::{client_policy, server_policy};
use super::seeds::{PAIRS, SCHEDULE, framed};
use super::seeds_hello_retry::{client_flight_with_retry, first_record, server_flight_with_retry};

/// A request, a response, close_notify both ways, between fuzzing-mode policies
/// `client` and `server`. Returns (bytes the client wrote, bytes the server wrote).
fn capture(connector: &Connector, acceptor: &Acceptor) -> (Vec<u8>, Vec<u8>) {
    let recording = fuzzing::record_with(
        connector,
        acceptor,
        |mut c| async move {
            c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await?;
            c.flush().await?;
            let mut response = Vec::new();
            c.read_to_end(&mut response).await?;
            c.close().await
        },
        |mut s| async move {
            let mut request = [0u8; 64];
            let _ = s.read(&mut request).await?;
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .await?;
            s.close().await
        },
    )
    .expect("recorded fuzzing-mode session");
    (recording.sent().to_vec(), recording.received().to_vec())
}

/// The fixed tag that ends every record of the fuzzing mode.
const TAG: &[u8] = b"(not encrypted!)";

/// A record of the fuzzing mode after the handshake: TLS 1.3 hides the content type
/// inside (application data outside), TLS 1.2 shows it.
fn record(tls13: bool, content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut payload = body.to_vec();
    if tls13 {
        payload.push(content_type);
    }
    payload.extend_from_slice(TAG);
    let outer = if tls13 { 0x17 } else { content_type };
    let mut v = vec![outer, 0x03, 0x03];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&payload);
    v
}

/// Where the last record of `flight` starts.
fn last_record(flight: &[u8]) -> usize {
    let (mut at, mut last) = (0, 0);
    while at + 5 <= flight.len() {
        last = at;
        at += 5 + usize::from(u16::from_be_bytes([flight[at + 3], flight[at + 4]]));
    }
    last
}

/// `flight` with `extra` spliced in before its last record.
fn spliced(flight: &[u8], extra: &[u8]) -> Vec<u8> {
    let at = last_record(flight);
    [&flight[..at], extra, &flight[at..]].concat()
}

/// The handshake message of the first record of `flight` (a ClientHello).
fn first_message(flight: &[u8]) -> &[u8] {
    &first_record(flight)[5..]
}

/// (target, file name, bytes) of the fuzzing-mode targets.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, data: Vec<u8>| {
        seeds.push((target, name.to_owned(), data));
    };
    for (client, server, name) in PAIRS {
        let connector = Connector::new(client_policy(client)).expect("client policy");
        let acceptor = Acceptor::new(server_policy(server)).expect("server policy");
        let (from_client, from_server) = capture(&connector, &acceptor);
        add(
            "plaintext_client",
            &format!("server-flight-{name}"),
            framed(client as u8, &[], &from_server),
        );
        add(
            "plaintext_server",
            &format!("client-flight-{name}"),
            framed(server as u8, &[], &from_client),
        );
        if client == 0 {
            add(
                "plaintext_client",
                "server-flight-tls13-scheduled",
                framed(0, &SCHEDULE, &from_server),
            );
            add(
                "plaintext_server",
                "client-flight-tls13-scheduled",
                framed(0, &SCHEDULE, &from_client),
            );
            add(
                "plaintext_client",
                "server-flight-tls13-hello-retry",
                framed(0, &[], &server_flight_with_retry(&from_server)),
            );
            add(
                "plaintext_server",
                "client-flight-tls13-hello-retry",
                framed(0, &[], &client_flight_with_retry(&from_client)),
            );
        }
    }
    // Only replayable in the fuzzing mode: session tickets (a server with a session
    // cache), a KeyUpdate asking for one back, a renegotiation attempt.
    const KEY_UPDATE: &[u8] = &[0x18, 0x00, 0x00, 0x01, 0x01];
    const HELLO_REQUEST: &[u8] = &[0x00, 0x00, 0x00, 0x00];
    for (version, tls13) in [(0u8, true), (2, false)] {
        let connector = Connector::new(client_policy(version.into())).expect("client");
        let acceptor = Acceptor::new(server_policy(version.into()).session_cache(8))
            .expect("server with a session cache");
        let (from_client, from_server) = capture(&connector, &acceptor);
        let name = if tls13 { "tls13" } else { "tls12" };
        add(
            "plaintext_client",
            &format!("server-flight-{name}-tickets"),
            framed(version, &[], &from_server),
        );
        let (to_client, to_server) = if tls13 {
            (
                record(true, 0x16, KEY_UPDATE),
                record(true, 0x16, KEY_UPDATE),
            )
        } else {
            (
                record(false, 0x16, HELLO_REQUEST),
                record(false, 0x16, first_message(&from_client)),
            )
        };
        let (client_name, server_name) = if tls13 {
            ("key-update", "key-update")
        } else {
            ("hello-request", "renegotiation")
        };
        add(
            "plaintext_client",
            &format!("server-flight-{name}-{client_name}"),
            framed(version, &[], &spliced(&from_server, &to_client)),
        );
        add(
            "plaintext_server",
            &format!("client-flight-{name}-{server_name}"),
            framed(version, &[], &[&from_client[..], &to_server].concat()),
        );
    }
    // Resumption: a client with a session cache, a server variant with tickets (36 on):
    // the first session's bytes (tickets issued), the second's (a ticket offered and
    // taken); and the second into a server without tickets (an unknown PSK ignored).
    for (variant, name) in [(36u8, "tls13"), (38, "tls12")] {
        let versions = &speakable(VERSIONS[usize::from(variant) % 3]);
        let client = fuzzing::client_policy()
            .protocol_versions(versions)
            .session_cache(8);
        let connector = Connector::new(client).expect("client with a cache");
        let acceptor = Acceptor::new(server_policy(variant.into())).expect("server");
        let (first, _) = capture(&connector, &acceptor);
        let (resuming, _) = capture(&connector, &acceptor);
        add(
            "plaintext_server",
            &format!("client-flight-{name}-tickets"),
            framed(variant, &[], &first),
        );
        add(
            "plaintext_server",
            &format!("client-flight-{name}-resumption"),
            framed(variant, &[], &resuming),
        );
        add(
            "plaintext_server",
            &format!("client-flight-{name}-unknown-session"),
            framed(variant - 36, &[], &resuming),
        );
    }

    // The differential target runs the default policies, TLS 1.3 and 1.2.
    let connector = Connector::new(fuzzing::client_policy()).expect("client policy");
    let acceptor = Acceptor::new(fuzzing::server_policy()).expect("server policy");
    let (from_client, from_server) = capture(&connector, &acceptor);
    let side = |side: u8, bytes: &[u8]| [&[side][..], bytes].concat();
    add("differential", "server-flight-tls13", side(0, &from_server));
    add("differential", "client-flight-tls13", side(1, &from_client));
    let (retry_client, retry_server) = (
        client_flight_with_retry(&from_client),
        server_flight_with_retry(&from_server),
    );
    add(
        "differential",
        "server-flight-tls13-hello-retry",
        side(0, &retry_server),
    );
    add(
        "differential",
        "client-flight-tls13-hello-retry",
        side(1, &retry_client),
    );
    if let Ok(acceptor) = Acceptor::new(server_policy(2)) {
        // A TLS 1.2-only server: the default client's bytes to it, and its answers.
        let (from_client, from_server) = capture(&connector, &acceptor);
        add("differential", "server-flight-tls12", side(0, &from_server));
        add("differential", "client-flight-tls12", side(1, &from_client));
    }
    for target in ["plaintext_client", "plaintext_server"] {
        add(
            target,
            "alert",
            framed(1, &[], &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
        );
    }
    seeds
}
