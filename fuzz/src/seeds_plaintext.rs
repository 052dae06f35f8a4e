//! The seeds of the fuzzing-mode targets (`plaintext_client`, `plaintext_server`,
//! `differential`): sessions recorded with `tlsport::fuzzing::record_with`, the same
//! conversations as the seeds of `client_handshake` and `server_handshake`.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use tlsport::fuzzing;
use tlsport::{Acceptor, Connector};

use super::plaintext::{client_policy, server_policy};

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

fn framed(variant: u8, schedule: &[u8], peer: &[u8]) -> Vec<u8> {
    let mut v = vec![variant, schedule.len() as u8];
    v.extend_from_slice(schedule);
    v.extend_from_slice(peer);
    v
}

/// (target, file name, bytes) of the fuzzing-mode targets.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, data: Vec<u8>| {
        seeds.push((target, name.to_owned(), data));
    };
    let pairs = [
        (0, 0, "tls13"),
        (2, 2, "tls12"),
        (3, 3, "tls13-alpn"),
        (5, 5, "tls12-alpn"),
        (12, 24, "tls13-mtls"),
        (14, 26, "tls12-mtls"),
    ];
    let schedule = [
        0x04, 0x05, 0x08, 0x02, 0x01, 0x10, 0x06, 0x0c, 0x0d, 0x02, 0x00, 0x03,
    ];
    for (client, server, name) in pairs {
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
                framed(0, &schedule, &from_server),
            );
            add(
                "plaintext_server",
                "client-flight-tls13-scheduled",
                framed(0, &schedule, &from_client),
            );
        }
    }
    // The differential target runs the default policies, TLS 1.3 and 1.2.
    let connector = Connector::new(fuzzing::client_policy()).expect("client policy");
    let acceptor = Acceptor::new(fuzzing::server_policy()).expect("server policy");
    let (from_client, from_server) = capture(&connector, &acceptor);
    let side = |side: u8, bytes: &[u8]| [&[side][..], bytes].concat();
    add("differential", "server-flight-tls13", side(0, &from_server));
    add("differential", "client-flight-tls13", side(1, &from_client));
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
