//! Real peers as child processes: `openssl s_server`, `openssl s_client`, `curl` or a
//! script, each in a [`Peer`] guard that captures its stdout and stderr (for assertion
//! messages) and kills and reaps it by PID when dropped, panics included. Also free
//! loopback ports and readiness polling. Every wait is bounded.
//!
//! File names given to the launchers here are relative to the folder of the OpenSSL test
//! PKI ([`openssl_pki`]), where they run.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use async_io::Timer;

use super::openssl_pki;

type Buffer = Arc<Mutex<Vec<u8>>>;

fn text(buf: &Buffer) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}

/// Copies everything `from` yields into `into`, on a thread of its own, until EOF.
fn drain(mut from: impl Read + Send + 'static, into: Buffer) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// A child process with captured output, killed and reaped (by PID) when dropped.
pub struct Peer {
    command: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Buffer,
    stderr: Buffer,
    readers: Vec<JoinHandle<()>>,
}

impl Peer {
    /// Starts `program args` in the PKI folder (so file names are relative to it), with
    /// its stdin piped (see [`Peer::send`]) or closed.
    pub fn spawn(program: &str, args: &[impl AsRef<str>], piped_stdin: bool) -> Peer {
        Peer::spawn_in(openssl_pki(), program, args, piped_stdin)
    }

    /// Starts `program args` in `dir`, with its stdin piped or closed.
    pub fn spawn_in(
        dir: &Path,
        program: &str,
        args: &[impl AsRef<str>],
        piped_stdin: bool,
    ) -> Peer {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let command = format!("{program} {}", args.join(" "));
        let mut child = Command::new(program)
            .args(&args)
            .current_dir(dir)
            .stdin(if piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        let (stdout, stderr) = (Buffer::default(), Buffer::default());
        let readers = vec![
            drain(child.stdout.take().unwrap(), stdout.clone()),
            drain(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Peer {
            command,
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn stdout(&self) -> String {
        text(&self.stdout)
    }

    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }

    /// Whether `needle` has appeared on the peer's stdout or stderr.
    pub fn printed(&self, needle: &str) -> bool {
        self.stdout().contains(needle) || self.stderr().contains(needle)
    }

    /// Everything known about the process, for assertion messages (without the hex dumps
    /// of s_server's -msg trace).
    pub fn output(&self) -> String {
        let out = self.stdout();
        let stdout: Vec<&str> = out.lines().filter(|l| !is_hex_dump(l)).collect();
        format!(
            "\n$ {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
            self.command,
            stdout.join("\n"),
            self.stderr()
        )
    }

    /// Writes `bytes` to the peer's stdin; a failure fails the test.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("cannot write to the peer's stdin: {e}{}", self.output()));
    }

    /// Writes `bytes` to the peer's stdin, which may have gone away meanwhile.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stdin = self.stdin.as_mut().expect("stdin is piped and open");
        stdin.write_all(bytes).and_then(|()| stdin.flush())
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits for the output the readers have not taken in yet (the process has exited).
    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// Waits at most `limit` for the process to exit, then for its output to be read.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                self.join_readers();
                return status;
            }
            if start.elapsed() > limit {
                panic!("the peer did not exit within {limit:?}{}", self.output());
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits at most `limit` until `needle` has been printed (stdout or stderr). False if
    /// the process exited without printing it, or time ran out.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.printed(needle) {
                return true;
            }
            if self.exited().is_some() {
                self.join_readers();
                return self.printed(needle);
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Waits (asynchronously, at most `limit`) until `needle` has appeared `n` times on the
    /// peer's stdout.
    pub async fn until_count(&self, needle: &str, n: usize, limit: Duration) {
        let start = Instant::now();
        while self.stdout().matches(needle).count() < n {
            if start.elapsed() > limit {
                panic!(
                    "{needle:?} not seen {n} times within {limit:?}{}",
                    self.output()
                );
            }
            Timer::after(Duration::from_millis(10)).await;
        }
    }

    /// Waits (asynchronously, at most `limit`) until the peer's stdout contains `needle`.
    pub async fn until_stdout(&self, needle: &str, limit: Duration) {
        let start = Instant::now();
        while !self.stdout().contains(needle) {
            if start.elapsed() > limit {
                panic!(
                    "{needle:?} not seen on the peer's stdout within {limit:?}{}",
                    self.output()
                );
            }
            Timer::after(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line of hex bytes, as s_server -msg prints under each message.
fn is_hex_dump(line: &str) -> bool {
    line.starts_with("    ")
        && line
            .split_whitespace()
            .all(|w| w.len() == 2 && w.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A port on `ip` that was free a moment ago.
pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("bind port 0")
        .port()
}

/// Waits (at most 10 s) until `server` has printed ACCEPT and takes TCP connections on
/// `addr`. False if it exited first (its port taken meanwhile, say).
pub fn ready(server: &mut Peer, addr: SocketAddr) -> bool {
    let start = Instant::now();
    loop {
        if server.exited().is_some() {
            return false;
        }
        if server.stdout().contains("ACCEPT")
            && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        {
            return true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server not ready within 10 s{}",
            server.output()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// `openssl s_server -accept IP:PORT args...` on a free port of loopback `ip`, ready for
/// connections (the readiness probe is one connection that fails its handshake).
pub fn s_server_on(ip: &str, args: &[&str], piped_stdin: bool) -> (Peer, u16) {
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port(ip);
        let addr = SocketAddr::new(ip.parse().unwrap(), port);
        let accept = addr.to_string();
        let mut full = vec!["s_server", "-accept", &accept];
        full.extend_from_slice(args);
        let mut server = Peer::spawn("openssl", &full, piped_stdin);
        if ready(&mut server, addr) {
            return (server, port);
        }
        last = server.output();
    }
    panic!("s_server exited before it was ready, three times{last}");
}

/// [`s_server_on`] 127.0.0.1.
pub fn s_server(args: &[&str], piped_stdin: bool) -> (Peer, u16) {
    s_server_on("127.0.0.1", args, piped_stdin)
}

/// `openssl s_client` to 127.0.0.1:`port` as localhost, verifying against `root-ca.pem`
/// and failing on a verification error, with `extra` flags; started in `dir`.
pub fn s_client_in(dir: &Path, port: u16, extra: &[&str], piped_stdin: bool) -> Peer {
    let connect = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_client",
        "-connect",
        &connect,
        "-servername",
        "localhost",
        "-CAfile",
        "root-ca.pem",
        "-verify_return_error",
    ];
    args.extend_from_slice(extra);
    Peer::spawn_in(dir, "openssl", &args, piped_stdin)
}

/// [`s_client_in`] the PKI folder, against the PKI's root.
pub fn s_client(port: u16, extra: &[&str], piped_stdin: bool) -> Peer {
    s_client_in(openssl_pki(), port, extra, piped_stdin)
}

/// Runs curl against `https://localhost:PORT/` (pinned to 127.0.0.1); returns its exit
/// code and the finished process.
pub fn curl(port: u16, extra: &[&str]) -> (i32, Peer) {
    curl_host(port, "localhost", extra)
}

/// Runs curl against `https://HOST:PORT/`, HOST resolving to 127.0.0.1, trusting the
/// PKI's root.
pub fn curl_host(port: u16, host: &str, extra: &[&str]) -> (i32, Peer) {
    let resolve = format!("{host}:{port}:127.0.0.1");
    let url = format!("https://{host}:{port}/");
    let mut args = vec![
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        "root-ca.pem",
        "--resolve",
        &resolve,
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    let mut peer = Peer::spawn("curl", &args, false);
    let status = peer.wait(Duration::from_secs(15));
    let code = status
        .code()
        .unwrap_or_else(|| panic!("curl killed by a signal{}", peer.output()));
    (code, peer)
}
