//! The `differential` target: the same peer bytes through a tlsport stream and through
//! rustls driven by hand, both on the configuration of tlsport's fuzzing mode, with
//! outcomes compared where the two contracts agree.
//!
//! tlsport runs through `tlsport::fuzzing::replay_client` / `replay_server` (its public
//! replayer over a `ScriptedTransport`), then reads to the end; rustls gets the bytes
//! with `read_tls`, `process_new_packets` and `reader()`, its output taken with
//! `write_tls` after every step. Both are deterministic, so they must agree on:
//!
//! - the handshake: tlsport finishes one only if rustls does (rustls may finish one that
//!   tlsport reports as failed: when a bad record arrives with the last handshake
//!   message, tlsport's handshake call reports the error);
//! - once tlsport's handshake is done, how the stream ends (clean `close_notify`,
//!   truncation, or a TLS error), and the plaintext: equal, or, after a TLS error,
//!   tlsport's is a prefix of rustls's (tlsport stops at the error; the records before it
//!   may have been delivered by rustls in the same step);
//! - the bytes each side wrote (handshake flights, alerts, KeyUpdate replies): equal
//!   once tlsport's handshake is done, and one a prefix of the other when it failed.

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite};
use tlsport::fuzzing;
use tlsport::rustls::{ClientConnection, Connection, ServerConnection};

use super::common::Input;

/// Plaintext kept per side, at most.
const MAX_PLAINTEXT: usize = 1 << 20;

/// How a stream ended after the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// `close_notify` then end of stream.
    Clean,
    /// End of stream without `close_notify`.
    Truncated,
    /// A TLS error (or the plaintext cap).
    Failed,
}

#[derive(Debug)]
struct Outcome {
    handshake_done: bool,
    end: End,
    plaintext: Vec<u8>,
    written: Vec<u8>,
}

fn client_config() -> Arc<tlsport::rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<tlsport::rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| fuzzing::client_config().expect("fuzzing client config"))
        .clone()
}

fn server_config() -> Arc<tlsport::rustls::ServerConfig> {
    static CONFIG: OnceLock<Arc<tlsport::rustls::ServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| fuzzing::server_config().expect("fuzzing server config"))
        .clone()
}

/// Reads `stream` to its end; returns the plaintext and how it ended.
async fn read_all<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: tlsport::TlsStream<S>,
) -> (Vec<u8>, End) {
    let mut plaintext = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (plaintext, End::Clean),
            Ok(n) if plaintext.len() + n <= MAX_PLAINTEXT => plaintext.extend_from_slice(&buf[..n]),
            Ok(_) => return (plaintext, End::Failed),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return (plaintext, End::Truncated);
            }
            Err(_) => return (plaintext, End::Failed),
        }
    }
}

fn by_tlsport(peer: &[u8], client: bool) -> Outcome {
    let replay = if client {
        fuzzing::replay_client(peer, read_all)
    } else {
        fuzzing::replay_server(peer, read_all)
    };
    assert!(!replay.stalled, "tlsport stalled on in-memory input");
    let (plaintext, end) = replay.output.unwrap_or((Vec::new(), End::Failed));
    Outcome {
        handshake_done: replay.handshake.is_ok(),
        end,
        plaintext,
        written: replay.written,
    }
}

fn by_rustls(mut conn: Connection, mut peer: &[u8]) -> Outcome {
    let mut out = Outcome {
        handshake_done: false,
        end: End::Failed,
        plaintext: Vec::new(),
        written: Vec::new(),
    };
    let mut buf = [0u8; 4096];
    loop {
        while conn.wants_write() {
            conn.write_tls(&mut out.written).expect("writing to a Vec");
        }
        let Ok(n) = conn.read_tls(&mut peer) else {
            return out;
        };
        let processed = conn.process_new_packets();
        if !conn.is_handshaking() {
            out.handshake_done = true;
        }
        while conn.wants_write() {
            conn.write_tls(&mut out.written).expect("writing to a Vec");
        }
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => {
                    out.end = End::Clean;
                    return out;
                }
                Ok(n) if out.plaintext.len() + n <= MAX_PLAINTEXT => {
                    out.plaintext.extend_from_slice(&buf[..n]);
                }
                Ok(_) => return out,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && processed.is_ok() => {
                    out.end = End::Truncated;
                    return out;
                }
                Err(_) => return out,
            }
        }
        if processed.is_err() {
            return out;
        }
        if n == 0 {
            // End of stream with no error and no close_notify: rustls's reader said
            // WouldBlock, as it does before the handshake is done.
            out.end = End::Truncated;
            return out;
        }
    }
}

/// `differential`: input = `[side, peer bytes..]`; an even side byte runs the client
/// (the bytes are the server's), an odd one the server.
pub fn run_differential(data: &[u8]) {
    let mut input = Input::new(data);
    let client = input.byte() % 2 == 0;
    let peer = input.rest();
    let conn = if client {
        let name = fuzzing::SERVER_NAME.try_into().expect("server name");
        Connection::Client(ClientConnection::new(client_config(), name).expect("rustls client"))
    } else {
        Connection::Server(ServerConnection::new(server_config()).expect("rustls server"))
    };
    let ours = by_tlsport(peer, client);
    let theirs = by_rustls(conn, peer);
    compare(&ours, &theirs);
}

fn compare(ours: &Outcome, theirs: &Outcome) {
    if !ours.handshake_done {
        assert!(
            ours.written.starts_with(&theirs.written) || theirs.written.starts_with(&ours.written),
            "bytes written during a failed handshake differ:\ntlsport {:?}\nrustls  {:?}",
            ours.written,
            theirs.written
        );
        return;
    }
    assert!(
        theirs.handshake_done,
        "tlsport finished a handshake rustls did not"
    );
    assert_eq!(ours.end, theirs.end, "the streams ended differently");
    if ours.end == End::Failed {
        assert!(
            theirs.plaintext.starts_with(&ours.plaintext),
            "tlsport delivered plaintext rustls did not"
        );
    } else {
        assert_eq!(ours.plaintext, theirs.plaintext, "the plaintexts differ");
    }
    assert_eq!(ours.written, theirs.written, "the bytes written differ");
}
