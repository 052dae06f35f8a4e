//! Idle memory per established connection, measured in a fresh child process (so the
//! RSS of earlier benches, kept by the allocator, does not hide anything).
//!
//! The child opens `n` loopback TCP pairs, notes RSS and live heap, runs the `n`
//! handshakes (both ends in the child, one at a time on one thread), keeps every stream
//! open and idle, and notes RSS and heap again; then it drops the server ends to tell the
//! server's heap from the client's.

use std::io;
use std::net::TcpListener;
use std::process::Command;

use crate::contenders::{self, BoxIo, Contender, Setup};
use crate::measure::{Allocs, rss_bytes};

/// Per connection and per side (bytes).
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// RSS delta / (2 n).
    pub rss_per_side: f64,
    /// Live heap delta / (2 n).
    pub heap_per_side: f64,
    pub heap_client: f64,
    pub heap_server: f64,
}

/// Runs the child for `who` and parses its answer.
pub fn measure(who: Contender, n: usize) -> io::Result<Memory> {
    let out = Command::new(std::env::current_exe()?)
        .arg("--memory-child")
        .arg(who.name())
        .arg(n.to_string())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("MEMORY "))
        .ok_or_else(|| {
            io::Error::other(format!(
                "memory child for {who} failed: {}{}",
                stdout,
                String::from_utf8_lossy(&out.stderr)
            ))
        })?;
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(f64::NAN))
        .collect();
    if v.len() != 4 {
        return Err(io::Error::other(format!("bad memory line {line:?}")));
    }
    Ok(Memory {
        rss_per_side: v[0],
        heap_per_side: v[1],
        heap_client: v[2],
        heap_server: v[3],
    })
}

/// The child's work; prints `MEMORY rss_per_side heap_per_side heap_client heap_server`.
pub fn child(who: Contender, n: usize) -> io::Result<()> {
    let setup = Setup::new();
    // Warm up everything lazily initialised (the reactor, the crypto library).
    let mut warm = Vec::new();
    for _ in 0..2 {
        warm.push(pair(&setup, who)?);
    }
    drop(warm);

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut tcp = Vec::with_capacity(n);
    for _ in 0..n {
        let c = std::net::TcpStream::connect(addr)?;
        let (s, _) = listener.accept()?;
        tcp.push((c, s));
    }
    let mut clients: Vec<Held> = Vec::with_capacity(n);
    let mut servers: Vec<Held> = Vec::with_capacity(n);
    // Register the sockets with the reactor before the baseline (that is transport cost,
    // the same for everybody); OpenSSL gets non-blocking std sockets.
    let mut registered = Vec::with_capacity(n);
    for (c, s) in tcp.drain(..) {
        registered.push(match who {
            Contender::OpenSsl => {
                c.set_nonblocking(true)?;
                s.set_nonblocking(true)?;
                Transport::Std(c, s)
            }
            _ => Transport::Async(
                async_net::TcpStream::try_from(c)?,
                async_net::TcpStream::try_from(s)?,
            ),
        });
    }
    let rss0 = rss_bytes();
    let heap0 = Allocs::now();
    for t in registered.drain(..) {
        let (c, s) = establish(&setup, who, t)?;
        clients.push(c);
        servers.push(s);
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let rss1 = rss_bytes();
    let heap1 = Allocs::now();
    drop(servers);
    let heap2 = Allocs::now();
    let sides = 2.0 * n as f64;
    let heap_server = (heap1.live - heap2.live) as f64 / n as f64;
    let heap_total = (heap1.live - heap0.live) as f64;
    println!(
        "MEMORY {} {} {} {}",
        (rss1 as f64 - rss0 as f64) / sides,
        heap_total / sides,
        heap_total / n as f64 - heap_server,
        heap_server,
    );
    drop(clients);
    Ok(())
}

// Held only before the baseline; boxing would not change the figures.
#[allow(clippy::large_enum_variant)]
enum Transport {
    Std(std::net::TcpStream, std::net::TcpStream),
    Async(async_net::TcpStream, async_net::TcpStream),
}

/// An established, idle stream (boxed: its size is part of the cost).
#[allow(dead_code)]
enum Held {
    Async(BoxIo),
    Ssl(Box<native_tls::TlsStream<std::net::TcpStream>>),
}

fn pair(setup: &Setup, who: Contender) -> io::Result<(Held, Held)> {
    let (c, s) = crate::bulk::tcp_pair()?;
    let t = match who {
        Contender::OpenSsl => {
            c.set_nonblocking(true)?;
            s.set_nonblocking(true)?;
            Transport::Std(c, s)
        }
        _ => Transport::Async(
            async_net::TcpStream::try_from(c)?,
            async_net::TcpStream::try_from(s)?,
        ),
    };
    establish(setup, who, t)
}

/// Both handshakes of one pair, on this thread; the streams are then left idle.
fn establish(setup: &Setup, who: Contender, t: Transport) -> io::Result<(Held, Held)> {
    match t {
        Transport::Std(c, s) => {
            let (c, s) = contenders::openssl_pair(setup, c, s, false)?;
            Ok((Held::Ssl(Box::new(c)), Held::Ssl(Box::new(s))))
        }
        Transport::Async(c, s) => async_io::block_on(async {
            let (c, s) = futures_lite::future::zip(
                contenders::client(setup, who, c),
                contenders::server(setup, who, s),
            )
            .await;
            Ok((Held::Async(c?), Held::Async(s?)))
        }),
    }
}
