//! Listener scaling (issue 15): full handshakes per second with one and two server
//! threads, `accept` shared by the threads and `accept_handshake` with each handshake
//! spawned on an executor of that many threads, against clients in this process on a
//! thread of their own.
//!
//! The server certificate is RSA (4096 bits, or `TLSPORT_BENCH_RSA_BITS`; under an ECDSA
//! P-256 root): its signature makes the server's share of a handshake several times the
//! client's, so that on a 2-core machine the clients leave most of the second core to the
//! server and the server's scaling can be seen at all. With 8192 bits the server's share
//! is about 30 times the clients'. Each thread's CPU time is measured, so the figures say
//! how many cores the server used and what a handshake cost each side.

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use futures_lite::{AsyncWriteExt, future};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    PublicKeyData, SignatureAlgorithm,
};
use tlsport::pki_types::ServerName;
use tlsport::rustls::client::Resumption;
use tlsport::rustls::{ClientConfig, RootCertStore};
use tlsport::{Acceptor, Identity, Listener, Policy};

use crate::contenders::provider;
use crate::measure::{LoadWatch, Meter, median, spread, thread_cpu_ns};
use crate::{Better, Params, Report};

/// An RSA public key in PKCS#1 DER (`RSAPublicKey`), as a certificate's subject key.
struct RsaPublicKey(Vec<u8>);

impl PublicKeyData for RsaPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// How the server takes its handshakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `Listener::accept` in a loop on each server thread.
    Accept,
    /// One task looping on `Listener::accept_handshake`, spawning each handshake, on an
    /// executor (smol's `Executor`) run by every server thread.
    Spawn,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Accept => "accept",
            Mode::Spawn => "accept_handshake",
        }
    }
}

/// The server and the clients of every run.
pub struct Scaling {
    acceptor: Acceptor,
    client: futures_rustls::TlsConnector,
    name: ServerName<'static>,
}

/// What one run measured, per handshake where it says so.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    pub rate: f64,
    /// CPU of the server threads, µs per handshake.
    pub server_us: f64,
    /// CPU of the client thread, µs per handshake.
    pub client_us: f64,
    /// CPU of the rest of the process (async-io's reactor thread, the deadline thread),
    /// µs per handshake.
    pub other_us: f64,
    /// Cores the server threads kept busy: their CPU time over the wall time.
    pub server_cores: f64,
}

impl Scaling {
    /// An RSA leaf of `bits` for `localhost` (the key made by the `openssl` command),
    /// under an ECDSA root made here; clients trust that root and never resume.
    pub fn new(bits: u32) -> io::Result<Scaling> {
        let out = Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
            .arg(format!("rsa_keygen_bits:{bits}"))
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other("openssl genpkey failed"));
        }
        let key_pem = String::from_utf8(out.stdout).map_err(io::Error::other)?;
        let rcgen = |e: rcgen::Error| io::Error::other(e.to_string());
        // Only the public half goes into the certificate: rcgen's parser would refuse
        // the private key of an RSA key beyond 4096 bits.
        let mut pubout = Command::new("openssl")
            .args(["rsa", "-RSAPublicKey_out", "-outform", "DER"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        std::io::Write::write_all(&mut pubout.stdin.take().unwrap(), key_pem.as_bytes())?;
        let pubout = pubout.wait_with_output()?;
        let leaf_key = RsaPublicKey(pubout.stdout);
        let root_key = KeyPair::generate().map_err(rcgen)?;
        let mut root = CertificateParams::new(Vec::<String>::new()).map_err(rcgen)?;
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.distinguished_name
            .push(DnType::CommonName, "scaling bench root");
        let root_cert = root.self_signed(&root_key).map_err(rcgen)?;
        let issuer = Issuer::new(root, root_key);
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).map_err(rcgen)?;
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(rcgen)?;

        let identity = Identity::from_pem(leaf_cert.pem().as_bytes(), key_pem.as_bytes())?;
        let acceptor = Acceptor::new(Policy::new().identity(identity))?;
        let mut roots = RootCertStore::empty();
        roots
            .add(root_cert.der().clone())
            .map_err(io::Error::other)?;
        let mut client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.resumption = Resumption::disabled();
        Ok(Scaling {
            acceptor,
            client: futures_rustls::TlsConnector::from(Arc::new(client)),
            name: ServerName::try_from("localhost").map_err(io::Error::other)?,
        })
    }

    /// `total` full handshakes from `clients` concurrent clients (one thread) against a
    /// server of `threads` threads taking them as `mode` says. Timed from the start
    /// (all threads waiting at a barrier) to the server's last finished handshake.
    pub fn run(
        &self,
        mode: Mode,
        threads: usize,
        clients: usize,
        total: usize,
    ) -> io::Result<Figures> {
        let listener = Arc::new(future::block_on(self.acceptor.bind("127.0.0.1", 0))?);
        let addr = listener.local_addr()?;
        let barrier = Arc::new(Barrier::new(threads + 2));
        let done = Arc::new(AtomicUsize::new(0));
        let (all_done, finished) = mpsc::channel::<()>();
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let count = {
            let done = done.clone();
            move || {
                if done.fetch_add(1, Relaxed) + 1 == total {
                    let _ = all_done.send(());
                }
            }
        };

        let executor = Arc::new(smol::Executor::new());
        let accept_loop = (mode == Mode::Spawn).then(|| {
            let (listener, count) = (listener.clone(), count.clone());
            let spawner = Arc::downgrade(&executor);
            executor.spawn(async move {
                loop {
                    let (handshake, _) = listener.accept_handshake().await?;
                    let Some(executor) = spawner.upgrade() else {
                        return io::Result::Ok(());
                    };
                    let count = count.clone();
                    executor
                        .spawn(async move {
                            if let Ok(stream) = handshake.await {
                                drop(stream);
                                count();
                            }
                        })
                        .detach();
                }
            })
        });
        let servers: Vec<thread::JoinHandle<u64>> = (0..threads)
            .map(|_| {
                let (barrier, stopped) = (barrier.clone(), stopped.clone());
                let (listener, executor, count) =
                    (listener.clone(), executor.clone(), count.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let cpu = thread_cpu_ns();
                    let stop = async {
                        let _ = stopped.recv().await;
                    };
                    match mode {
                        Mode::Accept => serve_accept(&listener, count, stop),
                        Mode::Spawn => future::block_on(executor.run(stop)),
                    }
                    thread_cpu_ns() - cpu
                })
            })
            .collect();
        drop(count);
        let client = {
            let (barrier, connector, name) =
                (barrier.clone(), self.client.clone(), self.name.clone());
            thread::spawn(move || -> io::Result<u64> {
                barrier.wait();
                let cpu = thread_cpu_ns();
                let next = AtomicUsize::new(0);
                async_io::block_on(async {
                    let tasks = (0..clients).map(|_| async {
                        while next.fetch_add(1, Relaxed) < total {
                            let tcp = async_net::TcpStream::connect(addr).await?;
                            let mut tls = connector.connect(name.clone(), tcp).await?;
                            let _ = tls.close().await;
                        }
                        io::Result::Ok(())
                    });
                    for r in futures::future::join_all(tasks).await {
                        r?;
                    }
                    io::Result::Ok(())
                })?;
                Ok(thread_cpu_ns() - cpu)
            })
        };
        barrier.wait();
        let meter = Meter::process();
        let timely = finished.recv_timeout(Duration::from_secs(120));
        let sample = meter.stop();
        drop(stop);
        drop(accept_loop);
        let server_ns: u64 = servers
            .into_iter()
            .map(|t| t.join().expect("a server thread panicked"))
            .sum();
        let client_ns = client.join().expect("the client thread panicked")?;
        timely.map_err(|_| {
            io::Error::other(format!(
                "{} of {total} handshakes in 120 s",
                done.load(Relaxed)
            ))
        })?;
        let n = total as f64;
        let wall = sample.wall.as_secs_f64();
        let per = |ns: u64| ns as f64 / 1000.0 / n;
        Ok(Figures {
            rate: n / wall,
            server_us: per(server_ns),
            client_us: per(client_ns),
            other_us: per(sample.cpu_ns.saturating_sub(server_ns + client_ns)),
            server_cores: server_ns as f64 / 1e9 / wall,
        })
    }
}

/// `accept` in a loop until `stop`.
fn serve_accept(listener: &Listener, count: impl Fn(), stop: impl Future<Output = ()>) {
    let serve = async {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
            count();
        }
    };
    future::block_on(future::or(serve, stop));
}

/// The `scaling` section: each mode with one and two server threads, alternating, then
/// the medians and the scaling from one thread to two.
pub fn section(p: &Params, report: &mut Report) -> io::Result<()> {
    let total = p.scaling_handshakes;
    let bits = std::env::var("TLSPORT_BENCH_RSA_BITS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(4096);
    println!(
        "\n-- Listener scaling: {total} full handshakes per run (TLS 1.3, RSA-{bits} server \
         certificate) from {} concurrent raw futures-rustls clients on one thread of this \
         process; the server on 1 or 2 threads: `accept` looping on each (shared), or one \
         `accept_handshake` task spawning each handshake on a smol Executor run by each",
        p.clients
    );
    let scaling = Scaling::new(bits)?;
    let configs = [
        (Mode::Accept, 1),
        (Mode::Accept, 2),
        (Mode::Spawn, 1),
        (Mode::Spawn, 2),
    ];
    for (mode, threads) in configs {
        scaling.run(mode, threads, p.clients, total.min(40))?;
    }
    let watch = LoadWatch::start();
    let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); configs.len()];
    for run in 0..p.runs {
        for k in 0..configs.len() {
            let k = (k + run) % configs.len();
            let (mode, threads) = configs[k];
            let f = scaling.run(mode, threads, p.clients, total)?;
            println!(
                "  {:<17} {threads} thread(s): {:>7.1} handshakes/s; CPU per handshake: \
                 server {:>6.0} µs, clients {:>5.0} µs, rest {:>4.0} µs; server used {:.2} cores",
                mode.name(),
                f.rate,
                f.server_us,
                f.client_us,
                f.other_us,
                f.server_cores
            );
            runs[k].push(f);
        }
    }
    let med = |k: usize, f: fn(&Figures) -> f64| median(&runs[k].iter().map(f).collect::<Vec<_>>());
    println!("  medians:");
    for (k, (mode, threads)) in configs.iter().enumerate() {
        let (rate, server, client, other, cores) = (
            med(k, |f| f.rate),
            med(k, |f| f.server_us),
            med(k, |f| f.client_us),
            med(k, |f| f.other_us),
            med(k, |f| f.server_cores),
        );
        let rates: Vec<String> = runs[k].iter().map(|f| format!("{:.0}", f.rate)).collect();
        println!(
            "  {:<17} {threads} thread(s): {rate:>7.1}/s (spread {:.1}%, runs [{}]); \
             server {server:.0} µs, clients {client:.0} µs, rest {other:.0} µs per \
             handshake; server {cores:.2} cores",
            mode.name(),
            spread(&runs[k].iter().map(|f| f.rate).collect::<Vec<_>>()),
            rates.join(" ")
        );
        report.row(
            format!("Listener {}, {threads} thr: handshakes/s", mode.name()),
            "1/s",
            Better::Higher,
            [Some(rate), None, None],
            &[],
        );
    }
    for (mode, one, two) in [(Mode::Accept, 0, 1), (Mode::Spawn, 2, 3)] {
        let scaling = med(two, |f| f.rate) / med(one, |f| f.rate);
        // On a shared machine the best run of each is the one least disturbed.
        let best = |k: usize| runs[k].iter().map(|f| f.rate).fold(0.0, f64::max);
        let best_scaling = best(two) / best(one);
        // What two cores allow at best with the clients' and the rest's CPU on them
        // too, against one server thread (at most one core).
        let (server, client, other) = (
            med(two, |f| f.server_us),
            med(two, |f| f.client_us),
            med(two, |f| f.other_us),
        );
        let two_cores = 2e6 / (server + client + other);
        let one_thread = (1e6 / med(one, |f| f.server_us)).min(two_cores);
        println!(
            "  {}: 2 threads / 1 thread = {scaling:.2}x in medians, {best_scaling:.2}x in \
             best runs ({:.0}/s and {:.0}/s); the ceiling with the clients on the same 2 \
             cores: {:.2}x",
            mode.name(),
            best(one),
            best(two),
            two_cores / one_thread
        );
        report.row(
            format!("Listener {}: 2 thr / 1 thr", mode.name()),
            "x",
            Better::Higher,
            [Some(scaling), None, None],
            &[],
        );
    }
    report.load("scaling", &watch);
    Ok(())
}
