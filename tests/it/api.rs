//! The public API contract: configuration errors, ports and names, error kinds and their
//! conversions, auto traits, clones sharing state, backends, split halves, CA defaults.

use crate::common;
use common::*;

use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use tlsport::{
    Acceptor, Backend, CaBundle, ClientAuth, Connector, DuplexStream, EofPolicy, Error, ErrorKind,
    Identity, Incoming, Listener, ObjectKind, Policy, Port, Proto, ReadHalf, ReuniteError,
    SessionInfo, TcpStream, TlsStream, Version, WriteHalf,
};

#[track_caller]
fn expect_err<T: std::fmt::Debug>(result: tlsport::Result<T>, kind: ErrorKind) -> Error {
    let err = result.expect_err("expected an error");
    assert_eq!(err.kind(), kind, "wrong kind for error: {err}");
    err
}

/// What is wrong with an error message's style, if anything: it must be one line and
/// lowercase-first (a lowercase letter, a non-letter such as a path or a quote, or an
/// acronym kept in capitals like "DTLS ..."; never a capitalised word).
fn style_problem(msg: &str) -> Option<&'static str> {
    if msg.is_empty() {
        return Some("empty");
    }
    if msg.contains('\n') {
        return Some("spans several lines");
    }
    let first_word = msg.split(|c: char| !c.is_alphanumeric()).next().unwrap();
    let acronym = first_word.chars().count() > 1 && !first_word.chars().any(char::is_lowercase);
    if msg.starts_with(char::is_uppercase) && !acronym {
        return Some("starts with a capitalised word");
    }
    None
}

#[track_caller]
fn assert_error_style(err: &Error) {
    let msg = err.to_string();
    if let Some(problem) = style_problem(&msg) {
        panic!("error message {problem}: {msg:?}");
    }
}

#[test]
fn error_style_check_can_fail() {
    for bad in ["Cannot connect", "Port is bad", "two\nlines", "", "A port"] {
        assert!(
            style_problem(bad).is_some(),
            "{bad:?} passed the style check"
        );
    }
    for good in [
        "cannot connect",
        "/tmp/x: empty",
        "\"a b\" is bad",
        "DTLS is not supported",
    ] {
        assert_eq!(style_problem(good), None, "{good:?}");
    }
}

// ---------------------------------------------------------------- configuration errors

#[test]
fn acceptor_without_identity_is_config_error() {
    let err = expect_err(Acceptor::new(Policy::new()), ErrorKind::Config);
    assert!(err.to_string().contains("identity"), "{err}");
    assert_error_style(&err);
}

#[test]
fn connector_without_roots_is_config_error_saying_how_to_add_them() {
    let err = expect_err(
        Connector::new(Policy::new().ca_bundle(CaBundle::Empty)),
        ErrorKind::Config,
    );
    let msg = err.to_string();
    assert!(
        msg.contains("add_root_certificate") || msg.contains("add_roots_pem_file"),
        "the message does not say how to add roots: {msg}"
    );
    assert_error_style(&err);
}

#[test]
fn accept_invalid_certs_needs_no_roots() {
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .danger_accept_invalid_certs(true),
    )
    .unwrap();
    // And it really connects to a server nobody trusts.
    let nobody = self_signed();
    let acceptor = Acceptor::new(Policy::new().identity(nobody.identity())).unwrap();
    run(20, async {
        let (mut c, mut s) = connected_pair(&connector, &acceptor).await;
        c.write_all(b"x").await.unwrap();
        c.flush().await.unwrap();
        let mut b = [0; 1];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(c.info().peer_certificates[0], nobody.cert_der());
    });
}

#[test]
fn no_protocol_version_is_config_error() {
    let pki = Pki::new();
    let err = expect_err(
        Connector::new(pki.client_policy().protocol_versions(&[])),
        ErrorKind::Config,
    );
    assert_error_style(&err);
    expect_err(
        Acceptor::new(pki.server_policy().protocol_versions(&[])),
        ErrorKind::Config,
    );
}

#[test]
fn invalid_policy_server_name_is_invalid_input() {
    let pki = Pki::new();
    let err = expect_err(
        Connector::new(pki.client_policy().server_name("not a name!")),
        ErrorKind::InvalidInput,
    );
    assert!(err.to_string().contains("not a name!"), "{err}");
    assert_error_style(&err);
    // A good one is fine.
    Connector::new(pki.client_policy().server_name("localhost")).unwrap();
}

#[test]
fn connect_with_invalid_name_is_invalid_input() {
    let pki = Pki::new();
    let connector = pki.connector();
    run(10, async {
        for name in ["", "a b", "not a name!"] {
            let (c, _s) = tlsport::duplex(4096);
            let err = expect_err(
                connector.connect_with(name, c).await,
                ErrorKind::InvalidInput,
            );
            assert_error_style(&err);
        }
    });
}

// ---------------------------------------------------------------- UDP, ports, TCP

#[test]
fn udp_is_unsupported_before_any_lookup() {
    let pki = Pki::new();
    let connector = pki.connector();
    let started = std::time::Instant::now();
    let err = run(
        10,
        connector.connect_proto("nonexistent.invalid", 443, Proto::Udp),
    );
    let err = expect_err(err, ErrorKind::Unsupported);
    assert!(err.to_string().to_lowercase().contains("dtls"), "{err}");
    assert_error_style(&err);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "UDP refusal was not immediate"
    );
    // The same with a service name for the port: still refused as UDP at once.
    let err = run(
        10,
        connector.connect_proto("nonexistent.invalid", "https", Proto::Udp),
    );
    assert_eq!(err.unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn port_numbers_and_service_names() {
    assert_eq!(Port::from(443u16).number().unwrap(), 443);
    assert_eq!(Port::from(0u16).number().unwrap(), 0);
    assert_eq!(Port::from(65535u16).number().unwrap(), 65535);
    assert_eq!(Port::from("8443").number().unwrap(), 8443);
    assert_eq!(Port::from("65535").number().unwrap(), 65535);
    assert_eq!(Port::from("https").number().unwrap(), 443);
    assert_eq!(Port::from("http").number().unwrap(), 80);
    let err = expect_err(
        Port::from("no-such-service-tlsport").number(),
        ErrorKind::InvalidInput,
    );
    assert!(err.to_string().contains("no-such-service-tlsport"), "{err}");
    assert_error_style(&err);
    let err = expect_err(Port::from("70000").number(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("70000"), "{err}");
    expect_err(Port::from("").number(), ErrorKind::InvalidInput);
    expect_err(Port::from("-1").number(), ErrorKind::InvalidInput);
}

#[test]
fn connect_with_bad_port_fails_before_lookup() {
    let pki = Pki::new();
    let connector = pki.connector();
    run(10, async {
        for port in ["70000", "no-such-service-tlsport"] {
            let err = connector.connect("nonexistent.invalid", port).await;
            expect_err(err, ErrorKind::InvalidInput);
        }
    });
}

#[test]
fn connect_to_closed_port_is_connect_error_naming_host_and_port() {
    let pki = Pki::new();
    let connector = pki.connector();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = run(20, connector.connect("127.0.0.1", port));
    let err = expect_err(err, ErrorKind::Connect);
    let msg = err.to_string();
    assert!(msg.contains("127.0.0.1"), "{msg}");
    assert!(msg.contains(&port.to_string()), "{msg}");
    assert_error_style(&err);
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn connect_to_unresolvable_name_is_resolve_error() {
    let pki = Pki::new();
    let connector = pki.connector();
    let err = run(20, connector.connect("nonexistent.invalid", 443));
    let err = expect_err(err, ErrorKind::Resolve);
    assert!(err.to_string().contains("nonexistent.invalid"), "{err}");
    assert_error_style(&err);
}

// ---------------------------------------------------------------- errors

fn timed_out_error() -> Error {
    let pki = Pki::new();
    let connector = Connector::new(
        pki.client_policy()
            .handshake_timeout(Some(Duration::from_millis(100))),
    )
    .unwrap();
    run(10, async {
        // A peer that never answers.
        let (c, _silent) = tlsport::duplex(64 * 1024);
        connector.connect_with("localhost", c).await.unwrap_err()
    })
}

fn unsupported_error() -> Error {
    let connector = Pki::new().connector();
    run(10, connector.connect_proto("localhost", 443, Proto::Udp)).unwrap_err()
}

fn invalid_input_error() -> Error {
    Port::from("70000").number().unwrap_err()
}

fn certificate_error() -> Error {
    let pki = Pki::new();
    let stranger = Acceptor::new(Policy::new().identity(self_signed().identity())).unwrap();
    let (client, _server) = run(20, handshake_pair(&pki.connector(), &stranger, "localhost"));
    client.unwrap_err()
}

#[test]
fn io_error_conversion_keeps_the_kind_and_the_error() {
    let cases = [
        (
            timed_out_error(),
            ErrorKind::TimedOut,
            std::io::ErrorKind::TimedOut,
        ),
        (
            unsupported_error(),
            ErrorKind::Unsupported,
            std::io::ErrorKind::Unsupported,
        ),
        (
            invalid_input_error(),
            ErrorKind::InvalidInput,
            std::io::ErrorKind::InvalidInput,
        ),
    ];
    for (err, kind, io_kind) in cases {
        assert_eq!(err.kind(), kind, "{err}");
        assert_error_style(&err);
        let message = err.to_string();
        let io = std::io::Error::from(err);
        assert_eq!(io.kind(), io_kind, "{io}");
        let back = io
            .get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .expect("the io::Error carries the tlsport::Error");
        assert_eq!(back.kind(), kind);
        assert_eq!(back.to_string(), message);
        let owned = io.into_inner().unwrap().downcast::<Error>().unwrap();
        assert_eq!(owned.kind(), kind);
    }
}

#[test]
fn certificate_error_has_a_source() {
    let err = certificate_error();
    assert_eq!(err.kind(), ErrorKind::Certificate, "{err}");
    assert_error_style(&err);
    let source = std::error::Error::source(&err).expect("a certificate error has a source");
    assert!(
        source.downcast_ref::<tlsport::rustls::Error>().is_some(),
        "{source:?}"
    );
    assert!(err.certificate_error().is_some());
    assert!(err.rustls_error().is_some());
    // Other kinds carry no certificate error.
    assert!(invalid_input_error().certificate_error().is_none());
}

#[test]
fn error_display_is_one_lowercase_line_for_every_kind_seen() {
    let pki = Pki::new();
    let errors = [
        timed_out_error(),
        unsupported_error(),
        invalid_input_error(),
        certificate_error(),
        Acceptor::new(Policy::new()).unwrap_err(),
        Identity::from_pem(b"", b"").unwrap_err(),
        Connector::new(pki.client_policy().server_name("a b")).unwrap_err(),
    ];
    for err in &errors {
        assert_error_style(err);
        // Debug shows the kind.
        assert!(
            format!("{err:?}").contains(&format!("{:?}", err.kind())),
            "{err:?}"
        );
    }
}

// ---------------------------------------------------------------- auto traits, Debug

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}
fn assert_unpin<T: Unpin>() {}
fn assert_debug<T: std::fmt::Debug>() {}

#[test]
fn public_types_are_send_sync_unpin_and_debug() {
    assert_send_sync::<Policy>();
    assert_send_sync::<Identity>();
    assert_send_sync::<CaBundle>();
    assert_send_sync::<Connector>();
    assert_send_sync::<Acceptor>();
    assert_send_sync::<Listener>();
    assert_send_sync::<Incoming<'static>>();
    assert_send_sync::<TlsStream<DuplexStream>>();
    assert_send_sync::<TlsStream<TcpStream>>();
    assert_send_sync::<ReadHalf<DuplexStream>>();
    assert_send_sync::<WriteHalf<DuplexStream>>();
    assert_send_sync::<ReadHalf<TcpStream>>();
    assert_send_sync::<WriteHalf<TcpStream>>();
    assert_send::<ReuniteError<DuplexStream>>();
    assert_send_sync::<SessionInfo>();
    assert_send_sync::<Error>();
    assert_send_sync::<ErrorKind>();
    assert_send_sync::<Port>();
    assert_send_sync::<DuplexStream>();
    assert_send_sync::<Backend>();
    assert_send_sync::<ObjectKind>();
    assert_send_sync::<Version>();
    assert_send_sync::<ClientAuth>();
    assert_send_sync::<EofPolicy>();
    assert_send_sync::<Proto>();

    assert_unpin::<TlsStream<DuplexStream>>();
    assert_unpin::<TlsStream<TcpStream>>();
    assert_unpin::<ReadHalf<DuplexStream>>();
    assert_unpin::<WriteHalf<DuplexStream>>();
    assert_unpin::<DuplexStream>();
    assert_unpin::<Incoming<'static>>();

    assert_debug::<Policy>();
    assert_debug::<Identity>();
    assert_debug::<CaBundle>();
    assert_debug::<Connector>();
    assert_debug::<Acceptor>();
    assert_debug::<Listener>();
    assert_debug::<Incoming<'static>>();
    assert_debug::<TlsStream<DuplexStream>>();
    assert_debug::<TlsStream<TcpStream>>();
    assert_debug::<ReadHalf<DuplexStream>>();
    assert_debug::<WriteHalf<DuplexStream>>();
    assert_debug::<ReuniteError<DuplexStream>>();
    assert_debug::<SessionInfo>();
    assert_debug::<Error>();
    assert_debug::<ErrorKind>();
    assert_debug::<Port>();
    assert_debug::<DuplexStream>();
    assert_debug::<Backend>();
    assert_debug::<ObjectKind>();
    assert_debug::<Version>();
    assert_debug::<ClientAuth>();
    assert_debug::<EofPolicy>();
    assert_debug::<Proto>();

    // ReuniteError is a std error.
    fn assert_error<T: std::error::Error>() {}
    assert_error::<ReuniteError<DuplexStream>>();
    assert_error::<Error>();
}

#[test]
fn debug_output_of_live_values_is_informative() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    run(20, async {
        let (c, s) = connected_pair(&connector, &acceptor).await;
        assert!(format!("{c:?}").contains("TlsStream"), "{c:?}");
        assert!(format!("{s:?}").contains("TlsStream"), "{s:?}");
        let (r, w) = c.split();
        assert!(format!("{r:?}").contains("ReadHalf"));
        assert!(format!("{w:?}").contains("WriteHalf"));
    });
    assert!(format!("{connector:?}").contains("Connector"));
    assert!(format!("{acceptor:?}").contains("Acceptor"));
    assert_eq!(format!("{:?}", Port::from(443u16)), "Port(443)");
    let listener = run(10, acceptor.bind("127.0.0.1", 0)).unwrap();
    let text = format!("{listener:?}");
    assert!(text.contains("Listener"), "{text}");
    let port = listener.local_addr().unwrap().port().to_string();
    assert!(text.contains(&port), "{text}");
    assert!(format!("{:?}", listener.incoming()).contains("Incoming"));
}

// ---------------------------------------------------------------- clones share state

/// One handshake; the server writes a byte the client reads (so TLS 1.3 tickets
/// arrive), then both close. Returns (client resumed, server resumed).
fn session(connector: &Connector, acceptor: &Acceptor, read_tickets: bool) -> (bool, bool) {
    run(20, async {
        let (mut c, mut s) = connected_pair(connector, acceptor).await;
        assert_eq!(c.info().protocol_version, Some(Version::Tls13));
        if read_tickets {
            s.write_all(b"t").await.unwrap();
            s.flush().await.unwrap();
            let mut b = [0; 1];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"t");
        }
        c.close().await.unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        s.close().await.unwrap();
        (c.info().resumed, s.info().resumed)
    })
}

#[test]
fn clones_share_the_session_caches() {
    let pki = Pki::new();
    let connector =
        Connector::new(pki.client_policy().protocol_versions(&[Version::Tls13])).unwrap();
    let acceptor = Acceptor::new(pki.server_policy().protocol_versions(&[Version::Tls13])).unwrap();

    // A full handshake; the client receives two tickets.
    assert_eq!(session(&connector, &acceptor, true), (false, false));

    // A fresh connector from the same policy has no ticket: no resumption.
    let fresh_connector = Connector::new(connector.policy().clone()).unwrap();
    assert_eq!(session(&fresh_connector, &acceptor, false), (false, false));

    // A fresh acceptor from the same policy does not know the ticket the client offers
    // (one of the two is used up here; reading nothing, the client gets no new one).
    let fresh_acceptor = Acceptor::new(acceptor.policy().clone()).unwrap();
    assert_eq!(
        session(&connector.clone(), &fresh_acceptor, false),
        (false, false)
    );

    // Clones of both share the caches: the remaining ticket resumes.
    assert_eq!(
        session(&connector.clone(), &acceptor.clone(), false),
        (true, true)
    );
}

// ---------------------------------------------------------------- backends
// (`set_default_backend` changes process-wide state: the tests that change the default
// are in `tests/default_backend.rs`, a binary of their own. These only try backends
// that are not compiled in, which changes nothing.)

#[cfg(not(feature = "ring"))]
#[test]
fn unavailable_backend_is_unsupported_and_leaves_the_default() {
    assert!(!Backend::Ring.is_available());
    assert!(!Backend::available().contains(&Backend::Ring));
    let before = tlsport::default_backend();
    let err = expect_err(
        tlsport::set_default_backend(Backend::Ring),
        ErrorKind::Unsupported,
    );
    assert!(err.to_string().contains("ring"), "{err}");
    assert_error_style(&err);
    assert_eq!(tlsport::default_backend(), before);
    // A policy naming it fails when compiled.
    let pki = Pki::new();
    expect_err(
        Connector::new(pki.client_policy().backend(Backend::Ring)),
        ErrorKind::Unsupported,
    );
    expect_err(
        Acceptor::new(pki.server_policy().backend(Backend::Ring)),
        ErrorKind::Unsupported,
    );
}

#[cfg(not(feature = "aws-lc-rs"))]
#[test]
fn unavailable_aws_lc_rs_is_unsupported_and_leaves_the_default() {
    let before = tlsport::default_backend();
    expect_err(
        tlsport::set_default_backend(Backend::AwsLcRs),
        ErrorKind::Unsupported,
    );
    assert_eq!(tlsport::default_backend(), before);
}

// ---------------------------------------------------------------- split

/// Runs `f` on its own thread with its own executor, under a deadline.
fn spawn<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || run(30, f))
}

#[test]
fn split_halves_echo_256_kib_from_separate_threads() {
    const LEN: usize = 256 * 1024;
    let pki = Pki::new();
    let (client, server) = run(20, connected_pair(&pki.connector(), &pki.acceptor()));
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    assert!(cr.info().is_client && cw.info().is_client);
    assert!(!sr.info().is_client && !sw.info().is_client);

    // The server echoes until the client's close_notify, then closes.
    let server = spawn(async move {
        let mut buf = vec![0; 16 * 1024];
        let mut total = 0;
        loop {
            let n = sr.read(&mut buf).await.expect("server read");
            if n == 0 {
                break;
            }
            total += n;
            sw.write_all(&buf[..n]).await.expect("server write");
            sw.flush().await.expect("server flush");
        }
        sw.close().await.expect("server close");
        (total, sr, sw)
    });
    let data = pattern(LEN, 7);
    let sent = data.clone();
    let writer = spawn(async move {
        cw.write_all(&sent).await.expect("client write");
        cw.flush().await.expect("client flush");
        cw.close().await.expect("client close");
        cw
    });
    let reader = spawn(async move {
        let mut echo = Vec::new();
        cr.read_to_end(&mut echo).await.expect("client read");
        (echo, cr)
    });

    let mut cw = writer.join().expect("writer thread");
    let (echo, cr) = reader.join().expect("reader thread");
    let (total, sr, sw) = server.join().expect("server thread");
    assert_eq!(total, LEN);
    assert_eq!(echo.len(), LEN);
    assert!(echo == data, "the echo differs from what was sent");

    // Writing after close is refused.
    let err = run(5, cw.write_all(b"late")).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");

    // The halves reunite into their streams.
    assert!(cr.is_pair_of(&cw) && cw.is_pair_of(&cr));
    assert!(sr.is_pair_of(&sw));
    assert!(!cr.is_pair_of(&sw));
    let client = cr.reunite(cw).expect("a pair reunites");
    assert!(client.info().is_client);
    let server = sr.reunite(sw).expect("a pair reunites");
    assert!(!server.info().is_client);
}

#[test]
fn write_half_close_sends_close_notify_while_read_half_keeps_reading() {
    let pki = Pki::new();
    let (client, mut server) = run(20, connected_pair(&pki.connector(), &pki.acceptor()));
    let (mut cr, mut cw) = client.split();
    run(20, async {
        cw.write_all(b"ping").await.unwrap();
        cw.close().await.unwrap();
        // The server sees the data, then a clean end (close_notify, not truncation:
        // EofPolicy::Strict would make a bare EOF an error).
        let mut got = Vec::new();
        server
            .read_to_end(&mut got)
            .await
            .expect("clean close_notify");
        assert_eq!(got, b"ping");
        // The client still reads what the server sends after that.
        server.write_all(b"pong after your close").await.unwrap();
        server.close().await.unwrap();
        let mut reply = Vec::new();
        cr.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"pong after your close");
    });
}

#[test]
fn reunite_rejects_halves_of_different_streams_and_gives_them_back() {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    let ((c1, mut s1), (c2, _s2)) = run(20, async {
        (
            connected_pair(&connector, &acceptor).await,
            connected_pair(&connector, &acceptor).await,
        )
    });
    let (r1, w1) = c1.split();
    let (r2, w2) = c2.split();
    assert!(r1.is_pair_of(&w1) && r2.is_pair_of(&w2));
    assert!(!r1.is_pair_of(&w2) && !w1.is_pair_of(&r2));

    let ReuniteError(r1, w2) = r1.reunite(w2).expect_err("not a pair");
    assert!(
        r1.is_pair_of(&w1),
        "the read half given back is not the one given"
    );
    assert!(
        w2.is_pair_of(&r2),
        "the write half given back is not the one given"
    );
    let err = r2.reunite(w1).expect_err("not a pair");
    assert!(!err.to_string().is_empty());
    assert!(format!("{err:?}").contains("ReuniteError"));
    let ReuniteError(r2, w1) = err;

    // Given the right partners, both streams come back and still work.
    let mut c1 = r1.reunite(w1).expect("a pair");
    let _c2 = r2.reunite(w2).expect("a pair");
    run(20, async {
        c1.write_all(b"still works").await.unwrap();
        c1.flush().await.unwrap();
        let mut buf = [0; 11];
        s1.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still works");
    });
}

#[test]
fn info_from_either_half() {
    let pki = Pki::new();
    let (client, server) = run(20, connected_pair(&pki.connector(), &pki.acceptor()));
    let expected = client.info();
    let server_info = server.info();
    let (r, w) = client.split();
    for info in [r.info(), w.info()] {
        assert!(info.is_client);
        assert_eq!(info.protocol_version, expected.protocol_version);
        assert_eq!(info.cipher_suite, expected.cipher_suite);
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        assert_eq!(info.peer_certificates[0], pki.server.cert_der());
    }
    let (sr, sw) = server.split();
    for info in [sr.info(), sw.info()] {
        assert!(!info.is_client);
        assert_eq!(info.cipher_suite, server_info.cipher_suite);
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
    }
}

// ---------------------------------------------------------------- system CA

#[test]
fn system_ca_probe_is_consistent_and_drives_the_default_bundle() {
    let first = tlsport::system_ca_available();
    let second = tlsport::system_ca_available();
    assert_eq!(first, second);
    let expected = match option_env!("TLSPORT_CA_BUNDLE") {
        Some("system") => CaBundle::System,
        Some("none") | Some("") => CaBundle::Empty,
        Some("bundled") => CaBundle::Bundled,
        Some(path) => CaBundle::File(path.into()),
        None if first => CaBundle::System,
        None => CaBundle::Empty,
    };
    assert_eq!(CaBundle::default(), expected);
    assert_eq!(CaBundle::default(), CaBundle::default());
    // Policy::new() starts from it.
    let text = format!("{:?}", Policy::new());
    assert!(text.contains(&format!("ca_bundle: {expected:?}")), "{text}");
}
