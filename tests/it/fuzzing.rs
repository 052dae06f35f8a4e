//! The fuzzing mode (feature `fuzzing`): `Backend::InsecureFuzzing`, the built-in
//! policies, and the scripted transport, recorder and replayer of `tlsport::fuzzing`.

use std::io;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::fuzzing::{self, Recording, Replay, ScriptedTransport, Step};
use tlsport::{Acceptor, ClientAuth, Connector, ErrorKind, TlsStream, Version};

use crate::common::{run, versions};

mod guards;

/// The client of every recorded session: a request, the reply to its end, a close.
async fn client_app<S>(mut stream: TlsStream<S>) -> io::Result<Vec<u8>>
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    stream.write_all(b"ping from the client").await?;
    stream.flush().await?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await?;
    stream.close().await?;
    Ok(reply)
}

/// The server of every recorded session: reads the request, answers, closes.
async fn server_app<S>(mut stream: TlsStream<S>) -> io::Result<Vec<u8>>
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    let mut request = [0; 20];
    stream.read_exact(&mut request).await?;
    stream.write_all(b"pong from the server").await?;
    stream.close().await?;
    Ok(request.to_vec())
}

/// A connector and an acceptor of the fuzzing mode.
struct Pair {
    connector: Connector,
    acceptor: Acceptor,
}

impl Pair {
    /// The built-in policies, limited to `versions` (all, for `None`).
    fn new(versions: Option<&[Version]>) -> Pair {
        let (mut client, mut server) = (fuzzing::client_policy(), fuzzing::server_policy());
        if let Some(versions) = versions {
            client = client.protocol_versions(versions);
            server = server.protocol_versions(versions);
        }
        Pair {
            connector: Connector::new(client).unwrap(),
            acceptor: Acceptor::new(server).unwrap(),
        }
    }

    /// A session of `client_app` and `server_app`, recorded on the client.
    fn record(&self) -> Recording {
        fuzzing::record_with(
            &self.connector,
            &self.acceptor,
            |stream| async move { client_app(stream).await.map(drop) },
            |stream| async move { server_app(stream).await.map(drop) },
        )
        .unwrap()
    }
}

/// The default pair, and one per protocol version, each with its recorded session.
fn sessions() -> Vec<(Pair, Recording)> {
    let mut pairs = vec![Pair::new(None)];
    pairs.extend(
        versions()
            .iter()
            .map(|v| Pair::new(Some(std::slice::from_ref(v)))),
    );
    pairs
        .into_iter()
        .map(|pair| {
            let recording = pair.record();
            (pair, recording)
        })
        .collect()
}

/// The default session, recorded with `fuzzing::record`.
fn recorded() -> Recording {
    fuzzing::record(
        |stream| async move { client_app(stream).await.map(drop) },
        |stream| async move { server_app(stream).await.map(drop) },
    )
    .unwrap()
}

/// Whether `replayed` is what the client `recorded` sent, but for a final
/// `close_notify` that the recorded session could not deliver (see `fuzzing::record`).
fn same_client_bytes(replayed: &[u8], recorded: &[u8]) -> bool {
    replayed.starts_with(recorded) && replayed.len() - recorded.len() <= 24
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn two_sessions_give_identical_bytes_in_both_directions() {
    for ((pair, first), (_, second)) in sessions().into_iter().zip(sessions()) {
        assert!(first.sent().len() > 100 && first.received().len() > 100);
        assert_eq!(first.sent(), second.sent());
        assert_eq!(first.received(), second.received());
        // A third, on the same connector and acceptor, too.
        assert_eq!(first, pair.record());
    }
    assert_eq!(recorded(), recorded());
    assert_eq!(recorded(), Pair::new(None).record());
}

#[test]
fn sessions_of_every_version_are_deterministic_and_negotiate_it() {
    for (pair, recording) in sessions().into_iter().skip(1) {
        let replay = fuzzing::replay_server_with(&pair.acceptor, recording.sent(), server_app);
        let version = replay.handshake.unwrap().protocol_version.unwrap();
        let replay = fuzzing::replay_client_with(&pair.connector, recording.received(), client_app);
        assert_eq!(replay.handshake.unwrap().protocol_version, Some(version));
    }
}

#[test]
fn application_data_is_visible_on_the_wire() {
    for (_, recording) in sessions() {
        assert!(contains(recording.sent(), b"ping from the client"));
        assert!(contains(recording.received(), b"pong from the server"));
        assert!(contains(recording.received(), b"(not encrypted!)"));
    }
}

#[test]
fn recorded_client_bytes_replayed_into_a_fresh_server_reach_the_application() {
    for (pair, recording) in sessions() {
        let replay = fuzzing::replay_server_with(&pair.acceptor, recording.sent(), server_app);
        let info = replay.handshake.as_ref().unwrap();
        assert!(!info.is_client);
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        assert_eq!(replay.output.unwrap().unwrap(), b"ping from the client");
        // The fresh server answers with the very bytes the first one sent.
        assert_eq!(replay.written, recording.received());
        assert!(!replay.stalled);
    }
    let recording = recorded();
    let replay = fuzzing::replay_server(recording.sent(), server_app);
    assert_eq!(replay.output.unwrap().unwrap(), b"ping from the client");
    assert_eq!(replay.written, recording.received());
}

#[test]
fn recorded_server_bytes_replayed_into_a_fresh_client_reach_the_application() {
    for (pair, recording) in sessions() {
        let replay = fuzzing::replay_client_with(&pair.connector, recording.received(), client_app);
        let info = replay.handshake.as_ref().unwrap();
        assert!(info.is_client);
        assert_eq!(info.peer_certificates, fuzzing::identity().chain());
        assert_eq!(replay.output.unwrap().unwrap(), b"pong from the server");
        assert!(same_client_bytes(&replay.written, recording.sent()));
    }
    let recording = recorded();
    let replay = fuzzing::replay_client(recording.received(), client_app);
    assert_eq!(replay.output.unwrap().unwrap(), b"pong from the server");
    assert!(same_client_bytes(&replay.written, recording.sent()));
}

#[test]
fn a_schedule_of_pending_and_short_transfers_changes_no_byte() {
    let recording = recorded();
    let plain = fuzzing::replay_server(recording.sent(), server_app);
    for seed in 0..8u8 {
        let schedule: Vec<u8> = (0..400u32)
            .map(|i| (i as u8).wrapping_mul(seed | 1) ^ seed)
            .collect();
        let schedule: Vec<u8> = schedule.into_iter().filter(|b| *b < 0xfd).collect();
        let io = ScriptedTransport::new(recording.sent()).with_schedule(&schedule);
        let replay = fuzzing::replay_server(io, server_app);
        assert_eq!(replay.output.unwrap().unwrap(), b"ping from the client");
        assert_eq!(replay.written, plain.written, "schedule seed {seed}");
    }
}

/// Replays `bytes` on the given side with one byte changed at every offset in turn:
/// each must end with a typed error or a clean outcome, never a panic or a stall.
fn tamper_everywhere(pair: &Pair, bytes: &[u8], server_side: bool, flip: u8) {
    for offset in 0..bytes.len() {
        let mut tampered = bytes.to_vec();
        tampered[offset] ^= flip;
        let replay: Replay<io::Result<Vec<u8>>> = if server_side {
            fuzzing::replay_server_with(&pair.acceptor, tampered, server_app)
        } else {
            fuzzing::replay_client_with(&pair.connector, tampered, client_app)
        };
        assert!(!replay.stalled, "offset {offset}: stalled");
        if let Err(e) = &replay.handshake {
            assert_ne!(e.kind(), ErrorKind::TimedOut, "offset {offset}");
        }
    }
}

#[test]
fn a_flipped_byte_anywhere_in_a_replay_is_an_error_or_a_clean_outcome() {
    let start = Instant::now();
    for (pair, recording) in sessions() {
        for flip in [0x01, 0xff] {
            tamper_everywhere(&pair, recording.sent(), true, flip);
            tamper_everywhere(&pair, recording.received(), false, flip);
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "tampering took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_transport_that_over_reports_is_an_error_not_a_panic() {
    let recording = recorded();
    // At every call of the session in turn: reads, writes, flushes (those succeed).
    for at in 0..40 {
        for extra in [1, 1000] {
            let steps = || std::iter::repeat_n(Step::Full, at).chain([Step::OverReport(extra)]);
            let io = ScriptedTransport::new(recording.sent()).with_steps(steps());
            let server = fuzzing::replay_server(io, server_app);
            let io = ScriptedTransport::new(recording.received()).with_steps(steps());
            let client = fuzzing::replay_client(io, client_app);
            for (handshake, output) in [
                (&server.handshake, server.output.as_ref()),
                (&client.handshake, client.output.as_ref()),
            ] {
                let invalid = match (handshake, output) {
                    (Err(e), _) => e.kind() == ErrorKind::Io,
                    (Ok(_), Some(Err(e))) => e.kind() == io::ErrorKind::InvalidData,
                    (Ok(_), Some(Ok(_))) => true, // the step fell on a flush or close
                    (Ok(_), None) => false,
                };
                assert!(invalid, "step {at}: {handshake:?} {output:?}");
            }
        }
    }
    // The first read of a server over-reports: the handshake fails, naming why.
    let io = ScriptedTransport::new(recording.sent()).with_steps([Step::OverReport(1)]);
    let replay = fuzzing::replay_server(io, server_app);
    let err = replay.handshake.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let io_err = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .expect("an io::Error source");
    assert_eq!(io_err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn scripted_errors_and_zero_writes_come_back_typed() {
    let recording = recorded();
    let io = ScriptedTransport::new(recording.received()).with_steps([Step::Zero]);
    let err = fuzzing::replay_client(io, client_app)
        .handshake
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let io = ScriptedTransport::new(recording.received())
        .with_steps([Step::Fail(io::ErrorKind::ConnectionReset)]);
    let err = fuzzing::replay_client(io, client_app)
        .handshake
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    // An early end of the server's bytes: the client is left without a handshake.
    let cut = &recording.received()[..recording.received().len() / 2];
    assert!(fuzzing::replay_client(cut, client_app).handshake.is_err());
}

#[test]
fn client_certificates_work_with_the_built_in_identity() {
    let connector = Connector::new(fuzzing::client_policy().identity(fuzzing::identity())).unwrap();
    let acceptor =
        Acceptor::new(fuzzing::server_policy().client_auth(ClientAuth::Required)).unwrap();
    let (c, s) = tlsport::duplex(64 * 1024);
    let (client, server) = run(
        10,
        future::zip(connector.connect_with("localhost", c), acceptor.accept(s)),
    );
    let (client, server) = (client.unwrap(), server.unwrap());
    assert_eq!(server.info().peer_certificates, fuzzing::identity().chain());
    assert_eq!(client.info().peer_certificates, fuzzing::identity().chain());

    // Without a client certificate, a server that requires one refuses.
    let connector = Connector::new(fuzzing::client_policy()).unwrap();
    let (c, s) = tlsport::duplex(64 * 1024);
    let (_, server) = run(
        10,
        future::zip(connector.connect_with("localhost", c), acceptor.accept(s)),
    );
    assert!(server.is_err());
}

/// A TLS 1.3 record of the fuzzing mode after the handshake: the body, its content
/// type, the fixed tag.
fn tls13_record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let payload = [body, &[content_type], b"(not encrypted!)"].concat();
    let mut record = vec![0x17, 0x03, 0x03];
    record.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    record.extend_from_slice(&payload);
    record
}

#[test]
fn records_can_be_written_by_hand_into_a_recorded_flight() {
    let pair = Pair::new(Some(&[Version::Tls13]));
    let recording = pair.record();
    let flight = recording.received();
    // The server's last record is its close_notify: splice in, before it, a KeyUpdate
    // asking for one back, and some application data of our own.
    let mut at = 0;
    let mut last = 0;
    while at < flight.len() {
        last = at;
        at += 5 + usize::from(u16::from_be_bytes([flight[at + 3], flight[at + 4]]));
    }
    let key_update = tls13_record(0x16, &[0x18, 0x00, 0x00, 0x01, 0x01]);
    let data = tls13_record(0x17, b" and more");
    let edited = [&flight[..last], &key_update, &data, &flight[last..]].concat();
    let replay = fuzzing::replay_client_with(&pair.connector, edited, client_app);
    assert_eq!(
        replay.output.unwrap().unwrap(),
        b"pong from the server and more"
    );
    // The client answered the KeyUpdate with its own, not asking for one back.
    let answer = tls13_record(0x16, &[0x18, 0x00, 0x00, 0x01, 0x00]);
    assert!(contains(&replay.written, &answer));
}

#[test]
fn a_recorded_resumption_resumes_again_in_a_fresh_server() {
    for version in versions() {
        let versions = [version];
        let client = fuzzing::client_policy()
            .protocol_versions(&versions)
            .session_cache(8);
        let server = fuzzing::server_policy()
            .protocol_versions(&versions)
            .session_cache(8);
        let pair = Pair {
            connector: Connector::new(client).unwrap(),
            acceptor: Acceptor::new(server.clone()).unwrap(),
        };
        let first = pair.record();
        let second = pair.record();
        assert_ne!(
            first.sent(),
            second.sent(),
            "{version:?}: the client offers a session"
        );
        let fresh = Acceptor::new(server).unwrap();
        let replay = fuzzing::replay_server_with(&fresh, second.sent(), server_app);
        assert!(replay.handshake.unwrap().resumed, "{version:?}");
        assert_eq!(replay.output.unwrap().unwrap(), b"ping from the client");
        assert_eq!(replay.written, second.received(), "{version:?}");
    }
}

#[test]
fn public_types_are_send_sync_unpin_and_debug() {
    fn check<T: Send + Sync + Unpin + std::fmt::Debug>() {}
    check::<ScriptedTransport>();
    check::<Step>();
    check::<fuzzing::Written>();
    check::<fuzzing::Recorder<tlsport::DuplexStream>>();
    check::<fuzzing::Tape>();
    check::<Recording>();
    check::<Replay<io::Result<Vec<u8>>>>();
}
