//! Replays every seed of `fuzz/corpus/<target>/` and every crash input of
//! `fuzz/artifacts/<target>/` through the fuzz targets' own logic, so stable CI guards
//! them. The logic is the fuzz crate's library, `fuzz/src/lib.rs` and its modules,
//! included here (the root package cannot depend on the fuzz crate, which depends on
//! tlsport).

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/lib.rs"]
mod fuzz;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if path.is_file() && !hidden {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Inputs of `fuzz/artifacts/known-open.txt`: crashes found and kept whose fix is not
/// in yet. Each line is `<target>/<file>`, then a description; `#` starts a comment.
fn known_open() -> Vec<String> {
    let text =
        std::fs::read_to_string(fuzz_dir().join("artifacts/known-open.txt")).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| !word.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Runs `run` on every input of `target`, naming the input that panics. An input listed
/// in `known-open.txt` must still panic (so the list cannot go stale): once its bug is
/// fixed, this fails until the line is removed.
fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no seed in fuzz/corpus/{target}: the corpus is missing"
    );
    let open = known_open();
    for path in &files {
        let name = format!("{target}/{}", path.file_name().unwrap().to_string_lossy());
        let data = std::fs::read(path).unwrap();
        let result = std::panic::catch_unwind(|| run(&data));
        match (result, open.contains(&name)) {
            (Ok(()), false) => {}
            (Err(_), true) => eprintln!("{name}: still crashes (known open bug)"),
            (Ok(()), true) => panic!(
                "{name} no longer crashes: remove it from fuzz/artifacts/known-open.txt \
                 (and its skip in fuzz/src/{target}.rs)"
            ),
            (Err(panic), false) => {
                eprintln!("fuzz input {} panicked", path.display());
                std::panic::resume_unwind(panic);
            }
        }
    }
}

#[test]
fn client_handshake() {
    replay("client_handshake", fuzz::run_client_handshake);
}

#[test]
fn server_handshake() {
    replay("server_handshake", fuzz::run_server_handshake);
}

#[test]
fn stream_ops() {
    replay("stream_ops", fuzz::run_stream_ops);
}

#[test]
fn load_identity() {
    replay("load_identity", fuzz::run_load_identity);
}

#[test]
fn host_port() {
    replay("host_port", fuzz::run_host_port);
}

#[cfg(feature = "fuzzing")]
#[test]
fn plaintext_client() {
    replay("plaintext_client", fuzz::run_plaintext_client);
}

#[cfg(feature = "fuzzing")]
#[test]
fn plaintext_server() {
    replay("plaintext_server", fuzz::run_plaintext_server);
}

#[cfg(feature = "fuzzing")]
#[test]
fn differential() {
    replay("differential", fuzz::run_differential);
}

/// A few fixed inputs besides the files, so the logic stays exercised even with an
/// emptied corpus.
#[test]
fn built_in_inputs() {
    for data in [
        &b""[..],
        b"\x04",
        b"\x01\x04\x00\x01\x02\x03\x16\x03\x01\x00\x05hello",
    ] {
        fuzz::run_client_handshake(data);
        fuzz::run_server_handshake(data);
        fuzz::run_stream_ops(data);
        fuzz::run_load_identity(data);
        fuzz::run_host_port(data);
        #[cfg(feature = "fuzzing")]
        {
            fuzz::run_plaintext_client(data);
            fuzz::run_plaintext_server(data);
            fuzz::run_differential(data);
        }
    }
}

/// Writes the seed corpus: real flights captured between a tlsport client and server,
/// plus small hand-made seeds. Run by hand when the input formats change:
/// `cargo test --test it -- --ignored write_seed_corpus`.
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_seed_corpus() {
    for (target, name, data) in fuzz::seed_corpus() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    }
}

/// Writes the seeds of the fuzzing-mode targets only (`plaintext_client`,
/// `plaintext_server`, `differential`): `cargo test --all-features --test it --
/// --ignored write_plaintext_seed_corpus`. They are recorded sessions of
/// `Backend::InsecureFuzzing`, so rerunning it writes the same bytes.
#[cfg(feature = "fuzzing")]
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_plaintext_seed_corpus() {
    for (target, name, data) in fuzz::plaintext_seed_corpus() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    }
}

/// The committed seeds of the fuzzing-mode targets are what recording the same
/// sessions gives today, in this process: sessions of the fuzzing mode are byte for byte
/// the same on every run. When tlsport or rustls changes what it sends, rewrite them
/// with `write_plaintext_seed_corpus`.
#[cfg(feature = "fuzzing")]
#[test]
fn plaintext_seeds_replay_byte_for_byte() {
    for (target, name, data) in fuzz::plaintext_seed_corpus() {
        let path = fuzz_dir().join("corpus").join(target).join(&name);
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == data,
            "{} differs from a fresh recording: rerun `cargo test --all-features --test it \
             -- --ignored write_plaintext_seed_corpus` if tlsport or rustls changed what \
             it sends",
            path.display()
        );
    }
}

/// The HelloRetryRequest seeds go all the way: a server asks again for a key share and
/// then serves the request; a client answers a retry for a cookie and then gets its
/// response. (A seed that stopped at the retry would cover only the retry itself.)
#[cfg(feature = "fuzzing")]
#[test]
fn hello_retry_seeds_reach_the_application_data() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use tlsport::fuzzing;

    let recording = fuzzing::record(
        |mut c| async move {
            c.write_all(b"ping").await?;
            c.flush().await?;
            let mut reply = Vec::new();
            c.read_to_end(&mut reply).await?;
            c.close().await
        },
        |mut s| async move {
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await?;
            s.write_all(b"pong").await?;
            s.close().await
        },
    )
    .expect("a recorded session");
    let read4 = |mut stream: tlsport::TlsStream<fuzzing::ScriptedTransport>| async move {
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.map(|()| buf)
    };

    let server = fuzzing::replay_server(fuzz::client_flight_with_retry(recording.sent()), read4);
    server
        .handshake
        .expect("the server's handshake after its retry");
    assert_eq!(server.output.unwrap().unwrap(), *b"ping");
    // The server's first message is the HelloRetryRequest: a ServerHello with its random.
    assert_eq!(&server.written[11..15], &[0xCF, 0x21, 0xAD, 0x74]);

    let client = fuzzing::replay_client(
        fuzz::server_flight_with_retry(recording.received()),
        |mut stream| async move {
            stream.write_all(b"ping").await?;
            stream.flush().await?;
            read4(stream).await
        },
    );
    client
        .handshake
        .expect("the client's handshake after the retry");
    assert_eq!(client.output.unwrap().unwrap(), *b"pong");
    // Two ClientHellos: the second carries the cookie back.
    let cookie = b"\x00\x2c\x00\x06\x00\x04fuzz";
    assert!(client.written.windows(cookie.len()).any(|w| w == cookie));
}
