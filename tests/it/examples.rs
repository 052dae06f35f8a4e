//! Runs every example as a process, so that none can rot: each must exit with status 0
//! within its deadline and print its key lines. Also runs the `client` example against
//! the `server` example, with certificate files.
//!
//! The examples are (re)built once per run with `cargo build --examples` (a no-op when
//! they are fresh): `cargo test --test it examples::` alone does not build them.

use crate::common::{self, TempDir};

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long any one example may run.
const DEADLINE: Duration = Duration::from_secs(60);

/// The folder of the example binaries, built for this test's profile and features.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This binary is <target>/<profile>/deps/examples-<hash>.
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>");
        let target_dir = profile_dir.parent().expect("<target>");
        let profile = profile_dir.file_name().unwrap().to_str().unwrap();

        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "--examples", "--quiet", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        match profile {
            "debug" => {}
            "release" => {
                cargo.arg("--release");
            }
            other => {
                cargo.args(["--profile", other]);
            }
        }
        // The same features as this test binary, so the library is not rebuilt.
        let features: Vec<&str> = [
            ("aws-lc-rs", cfg!(feature = "aws-lc-rs")),
            ("ring", cfg!(feature = "ring")),
            ("platform-verifier", cfg!(feature = "platform-verifier")),
            ("tls12", cfg!(feature = "tls12")),
            ("logging", cfg!(feature = "logging")),
            ("webpki-roots", cfg!(feature = "webpki-roots")),
            ("pkcs12", cfg!(feature = "pkcs12")),
            ("encrypted-keys", cfg!(feature = "encrypted-keys")),
            // examples/hyper.rs needs it (`required-features`): built only when on.
            ("hyper", cfg!(feature = "hyper")),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
        cargo
            .arg("--no-default-features")
            .arg("--features")
            .arg(features.join(","));
        let status = cargo.status().expect("run cargo build --examples");
        assert!(status.success(), "cargo build --examples failed: {status}");
        profile_dir.join("examples")
    })
}

fn example(name: &str) -> Command {
    let path = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "no example binary at {}", path.display());
    let mut command = Command::new(path);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("SSLKEYLOGFILE");
    command
}

/// A child process that is killed (by its PID) if the test gives up on it.
struct Running {
    name: String,
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: thread::JoinHandle<String>,
}

impl Running {
    fn spawn(name: &str, mut command: Command, stdin: Option<&[u8]>) -> Running {
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn().expect("start the example");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            let input = input.to_vec();
            thread::spawn(move || {
                let _ = pipe.write_all(&input);
                // Dropping the pipe is the end of the example's standard input.
            });
        }
        // Standard output line by line, so that a test can wait for one line.
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Running {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
        }
    }

    /// The next line of standard output, within the deadline.
    fn line(&mut self) -> String {
        match self.stdout.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(e) => panic!("{}: no line on stdout ({e})", self.name),
        }
    }

    /// Waits for the exit, killing the process at the deadline.
    fn finish(mut self) -> Finished {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the example") {
                break status;
            }
            if start.elapsed() > DEADLINE {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let (stdout, stderr) = self.collect();
                panic!(
                    "{}: still running after {DEADLINE:?}, killed\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                    self.name
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        let (stdout, stderr) = self.collect();
        Finished {
            name: self.name.clone(),
            status,
            stdout,
            stderr,
        }
    }

    fn collect(&mut self) -> (String, String) {
        let mut stdout = String::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(5)) {
            stdout += &line;
            stdout.push('\n');
        }
        let stderr = std::mem::replace(&mut self.stderr, thread::spawn(String::new));
        (stdout, stderr.join().unwrap_or_default())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Finished {
    name: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn success(self) -> Finished {
        assert!(
            self.status.success(),
            "{} exited with {}\n{}",
            self.name,
            self.status,
            self.dump()
        );
        self
    }

    /// Asserts that standard output has each of `lines` (as substrings), in order.
    fn stdout_has(&self, lines: &[&str]) -> &Finished {
        has_in_order(&self.name, "stdout", &self.stdout, lines, &self.dump());
        self
    }

    fn stderr_has(&self, lines: &[&str]) -> &Finished {
        has_in_order(&self.name, "stderr", &self.stderr, lines, &self.dump());
        self
    }

    fn dump(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

fn has_in_order(name: &str, which: &str, text: &str, wanted: &[&str], dump: &str) {
    let mut rest = text;
    for want in wanted {
        match rest.find(want) {
            Some(at) => rest = &rest[at + want.len()..],
            None => panic!("{name}: {which} lacks {want:?} (or not in this order)\n{dump}"),
        }
    }
}

/// Runs an example with no arguments and no input, to completion.
fn run_alone(name: &str) -> Finished {
    Running::spawn(name, example(name), None).finish().success()
}

#[test]
fn demo() {
    run_alone("demo").stdout_has(&[
        "server listening on 127.0.0.1:",
        "client: hello, client",
        "connection 1:",
        "protocol version:   Tls13",
        "resumed:            false",
        "connection 2:",
        "resumed:            true",
    ]);
}

#[test]
fn client_self_test() {
    run_alone("client")
        .stdout_has(&["hello from the tlsport client example"])
        .stderr_has(&[
            "CONNECTED to 127.0.0.1:",
            "Certificate chain",
            " 0 s:CN=localhost",
            "   i:",
            "CN=tlsport example root",
            "v:NotBefore: 1975-01-01 00:00:00 UTC; NotAfter: 4096-01-01 00:00:00 UTC",
            "alt names: DNS:localhost, IP:127.0.0.1, IP:::1",
            "SHA-256 fingerprint: ",
            "Protocol version:   TLSv1.3 (Tls13)",
            "Cipher suite:       TLS13_",
            "ALPN protocol:      h2",
            "Server name (SNI):  localhost",
            "DONE: the server closed the connection cleanly",
        ]);
}

#[test]
fn server_self_test() {
    // The client and the server print from different threads: no order between them.
    run_alone("server")
        .stdout_has(&["listening on 127.0.0.1:", "Tls13"])
        .stdout_has(&["self-test client got back: hello, echo server"])
        .stdout_has(&["echoed 19 bytes, closed"]);
}

#[test]
fn smol() {
    let out = run_alone("smol");
    for n in 1..=3 {
        out.stdout_has(&[&format!("client {n} got: HELLO FROM CLIENT {n}")]);
    }
}

#[test]
fn async_std() {
    let out = run_alone("async_std");
    for n in 1..=3 {
        out.stdout_has(&[&format!("client {n} got: {n} tneilc morf olleh")]);
    }
}

#[test]
fn tokio_compat() {
    let out = run_alone("tokio_compat");
    for n in 1..=3 {
        out.stdout_has(&[&format!(
            "client {n} got: 26 bytes received: hello from tokio client {n}"
        )]);
    }
}

#[test]
fn hyper() {
    // The example needs feature `hyper` (`cargo test --all-features`, as CI runs it).
    if !cfg!(feature = "hyper") {
        eprintln!("skipped: examples/hyper.rs needs --features hyper");
        return;
    }
    let out = run_alone("hyper");
    out.stdout_has(&["hyper server on 127.0.0.1:"]);
    for n in 1..=4 {
        out.stdout_has(&[&format!(
            "client: HTTP/1.1 200 OK (alpn=http/1.1): hello over HTTP/1.1, you asked for /http1/{n}"
        )]);
        out.stdout_has(&[&format!(
            "client: HTTP/2.0 200 OK (alpn=h2): hello over HTTP/2.0, you asked for /h2/{n}"
        )]);
    }
    // The count is read at the client and the server counts its handshakes when they
    // finish, so a late HTTP/1.1 handshake may add to it on a loaded machine: the one-
    // handshake property is asserted exactly in the `hyper` module's pool tests.
    out.stdout_has(&["server: 4 HTTP/2 requests over "]);
}

#[test]
fn starttls() {
    run_alone("starttls").stdout_has(&[
        "S: 220 mail.example.test ESMTP ready",
        "C: EHLO client.example.test",
        "S: 250 STARTTLS",
        "C: STARTTLS",
        "S: 220 2.0.0 ready to start TLS",
        "-- TLS: Tls13",
        "C: EHLO client.example.test",
        "S: 250 mail.example.test greets you over TLS",
        "C: QUIT",
        "S: 221 2.0.0 bye",
        "-- closed cleanly on both sides",
    ]);
}

#[test]
fn split() {
    // The writer and the reader print from different threads: the writer's line has
    // no order against the reader's.
    run_alone("split")
        .stdout_has(&[
            "client read: server got #3: fine, thanks",
            "client: reunited: Tls13",
            "client read: server got #4: bye",
            "client read: server: you sent 4 lines and closed; goodbye",
            "client: the server closed its side",
        ])
        .stdout_has(&["client: reunited", "client: write half closed"]);
}

/// Starts the `server` example on a free port with certificate files; returns it and
/// the port it printed.
fn start_server(dir: &TempDir, pki: &common::Pki) -> (Running, u16) {
    let cert = dir.write("server.pem", &pki.server.cert);
    let key = dir.write("server.key", &pki.server.key);
    let mut command = example("server");
    command
        .args(["--port", "0", "--once", "--cert"])
        .arg(cert)
        .arg("--key")
        .arg(key);
    let mut server = Running::spawn("server", command, None);
    let line = server.line();
    let port = line
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("server: unexpected first line {line:?}"));
    (server, port)
}

#[test]
fn client_against_server_with_files() {
    let dir = TempDir::new("files");
    let pki = common::Pki::new();
    let root = dir.write("root.pem", &pki.ca.root_pem);
    let (server, port) = start_server(&dir, &pki);

    let mut command = example("client");
    command
        .args(["localhost", &port.to_string(), "--ca"])
        .arg(&root)
        .args(["--alpn", "h2,http/1.1"]);
    let input = b"first line\nsecond line\n";
    let client = Running::spawn("client", command, Some(input))
        .finish()
        .success();
    // Standard input went to the echo server and came back on standard output.
    assert_eq!(
        client.stdout,
        "first line\nsecond line\n",
        "{}",
        client.dump()
    );
    client.stderr_has(&[
        &format!("CONNECTED to 127.0.0.1:{port}"),
        " 0 s:CN=localhost",
        "   i:CN=tlsport test root",
        "Protocol version:   TLSv1.3",
        // The server example offers no ALPN protocol.
        "ALPN protocol:      (none negotiated)",
        "Server name (SNI):  localhost",
        "DONE: the server closed the connection cleanly",
    ]);

    server
        .finish()
        .success()
        .stdout_has(&["sni=localhost", "echoed 23 bytes, closed"]);
}

#[test]
fn client_refuses_a_wrong_name() {
    let dir = TempDir::new("wrong-name");
    let pki = common::Pki::new();
    let root = dir.write("root.pem", &pki.ca.root_pem);
    let (_server, port) = start_server(&dir, &pki);

    let mut command = example("client");
    command
        .args(["127.0.0.1", &port.to_string(), "--ca"])
        .arg(&root)
        .args(["--servername", "other.example"]);
    let client = Running::spawn("client", command, Some(b"never sent\n")).finish();
    assert!(!client.status.success(), "{}", client.dump());
    assert!(client.stdout.is_empty(), "{}", client.dump());
    client.stderr_has(&["client: ", "other.example"]);
    // `_server` never got a finished handshake: it is killed when dropped.
}

#[test]
fn client_insecure_accepts_an_unknown_root() {
    let dir = TempDir::new("insecure");
    let pki = common::Pki::new();
    let (server, port) = start_server(&dir, &pki);

    let mut command = example("client");
    command.args(["127.0.0.1", &port.to_string(), "--insecure"]);
    let client = Running::spawn("client", command, Some(b"ping\n"))
        .finish()
        .success();
    assert_eq!(client.stdout, "ping\n", "{}", client.dump());
    client.stderr_has(&["Server name (SNI):  (none sent"]);
    server.finish().success();
}

#[test]
fn client_usage_errors() {
    let mut command = example("client");
    command.arg("only-a-host");
    let out = Running::spawn("client", command, None).finish();
    assert!(!out.status.success());
    out.stderr_has(&["usage: client HOST PORT"]);
}

#[test]
fn reload() {
    run_alone("reload").stdout_has(&[
        "listening on 127.0.0.1:",
        "client 1: served with CN=first certificate",
        "renewed the certificate files",
        "reloaded the certificate files",
        "client 2: served with CN=renewed certificate",
    ]);
}

#[test]
fn reload_with_files_renewed_by_hand() {
    let dir = TempDir::new("reload");
    let pki = common::Pki::new();
    let cert = dir.write("cert.pem", &pki.server.cert);
    let key = dir.write("key.pem", &pki.server.key);
    let mut command = example("reload");
    command
        .args(["--port", "0", "--interval-ms", "50", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key);
    let mut server = Running::spawn("reload", command, None);
    let line = server.line();
    let port: u16 = line
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("reload: unexpected first line {line:?}"));
    let connector = pki.connector();
    let leaf = || {
        common::run(10, async {
            let mut tls = connector.connect("127.0.0.1", port).await.unwrap();
            let mut hello = String::new();
            futures_lite::AsyncReadExt::read_to_string(&mut tls, &mut hello)
                .await
                .unwrap();
            assert_eq!(hello, "hello\n");
            tls.info().peer_certificates[0].clone()
        })
    };
    assert_eq!(leaf(), pki.server.cert_der());

    // A half-renewed pair (the new certificate, the old key) is refused and changes
    // nothing; the key arriving completes it.
    // (A write may be seen half done, too: each such sighting is one more failure.)
    let renewed = pki.ca.server();
    std::fs::write(&cert, &renewed.cert).unwrap();
    let line = server.line();
    assert!(line.starts_with("reload failed"), "{line}");
    assert_eq!(leaf(), pki.server.cert_der());
    std::fs::write(&key, &renewed.key).unwrap();
    loop {
        let line = server.line();
        if line == "reloaded the certificate files: new connections get them" {
            break;
        }
        assert!(line.starts_with("reload failed"), "{line}");
    }
    assert_eq!(leaf(), renewed.cert_der());
}

#[test]
fn redirect() {
    run_alone("redirect").stdout_has(&[
        "listening on 127.0.0.1:",
        "http client: HTTP/1.1 301 Moved Permanently, Location: https://localhost:",
        "/docs?page=2",
        "https client: HTTP/1.1 200 OK: hello over TLS, you asked for /docs?page=2",
    ]);
}
