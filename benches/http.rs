//! HTTP clients over TLS: hyper-util's pooled client through `tlsport::hyper::HttpsConnector`
//! on smol, against the same client through hyper-rustls on tokio (the connector everyone
//! uses), with the same rustls `ClientConfig` (`Connector::rustls_config`), the same
//! server and the same machine, contenders alternating in one run. Also the cost of
//! filling hyper's `ReadBufCursor` without `unsafe`.
//!
//! ```text
//! cargo bench --bench http --features hyper               # about 2 minutes on 2 cores
//! cargo bench --bench http --features hyper -- --quick    # a smoke run
//! cargo bench --bench http --features hyper -- --only read
//! ```
//!
//! Sections: `http` (requests per second and client CPU per request, HTTP/1.1 and HTTP/2,
//! small and 64 KiB responses) and `read` (bulk reads through `hyper::rt::Read` against
//! `AsyncRead` and a scratch-buffer copy). Environment: `TLSPORT_BENCH_SECS` (seconds per
//! figure), `TLSPORT_BENCH_RUNS` (runs per figure). See BENCHMARKS.md.
//!
//! The server is this program run again with `--server` in a child process: a hyper
//! server over tlsport on one thread, so it is the same for every client and its CPU is
//! not counted as the client's. Each client runs on one thread (smol's executor on the
//! main thread; tokio's current-thread runtime); the client's CPU is its whole process's.

use std::env;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "compare/measure.rs"]
#[allow(dead_code)]
mod measure;

#[path = "http/clients.rs"]
mod clients;
#[path = "http/futures_rustls.rs"]
mod futures_rustls;
#[path = "http/read.rs"]
mod read;
#[path = "http/server.rs"]
mod server;

use clients::{Contender, Workload};
use measure::{LoadWatch, median, spread};

struct Params {
    secs: f64,
    runs: usize,
    read_mib: usize,
    only: Option<Vec<String>>,
    /// `--client SUBSTRING`, `--workload SUBSTRING`: run only the matching ones.
    client: Option<String>,
    workload: Option<String>,
}

impl Params {
    fn from_args() -> Params {
        let args: Vec<String> = env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let only = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(|v| v.split(',').map(str::to_owned).collect());
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let env_f64 = |name: &str| env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
        Params {
            secs: env_f64("TLSPORT_BENCH_SECS").unwrap_or(if quick { 0.5 } else { 2.0 }),
            runs: env_f64("TLSPORT_BENCH_RUNS").map_or(if quick { 1 } else { 3 }, |r| r as usize),
            read_mib: if quick { 64 } else { 512 },
            only,
            client: value("--client"),
            workload: value("--workload"),
        }
    }

    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == section))
    }
}

fn main() {
    if env::args().any(|a| a == "--server") {
        return server::run();
    }
    let params = Params::from_args();
    println!(
        "tlsport http bench: {} s per figure, median of {} runs",
        params.secs, params.runs
    );
    if params.wants("read") {
        read::section(params.read_mib, params.runs.max(3));
    }
    if params.wants("http") {
        http_section(&params);
    }
}

/// The server child, killed (by its PID, through `Child`) when dropped.
struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    fn start(pki: &common::Pki) -> ServerProcess {
        let mut child = Command::new(env::current_exe().unwrap())
            .arg("--server")
            .env("TLSPORT_BENCH_CERT", &pki.server.cert)
            .env("TLSPORT_BENCH_KEY", &pki.server.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server's port");
        ServerProcess { child, port }
    }
}

impl ServerProcess {
    /// The server's CPU time so far (user + system), from /proc/PID/stat.
    fn cpu_secs(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let Some(close) = stat.rfind(')') else {
            return 0.0;
        };
        let fields: Vec<f64> = stat[close + 2..]
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        // utime and stime: fields 14 and 15 of the line, 11 and 12 after the name.
        fields
            .get(11)
            .zip(fields.get(12))
            .map_or(0.0, |(u, s)| (u + s) / 100.0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Closing its standard input ends the server; kill it if it lingers.
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.flush();
        }
        std::thread::sleep(Duration::from_millis(100));
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn http_section(params: &Params) {
    let pki = common::Pki::new();
    let server = ServerProcess::start(&pki);
    println!(
        "\n== http: pooled hyper-util client, {} concurrent requests; server: hyper over tlsport, 1 thread, another process",
        clients::CONCURRENCY
    );
    println!(
        "{:<28} {:<24} {:>10} {:>8} {:>12} {:>8} {:>9} {:>9}",
        "workload", "client", "req/s", "spread", "CPU µs/req", "spread", "vs h-r", "vs f-r"
    );
    let picked = |name: String, filter: &Option<String>| {
        filter.as_ref().is_none_or(|f| name.contains(f.as_str()))
    };
    for workload in Workload::ALL {
        if !picked(workload.name(), &params.workload) {
            continue;
        }
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); Contender::ALL.len()];
        let mut costs: Vec<Vec<f64>> = vec![Vec::new(); Contender::ALL.len()];
        let load = LoadWatch::start();
        let server_cpu = server.cpu_secs();
        let started = std::time::Instant::now();
        for run in 0..params.runs {
            // Alternate the order from run to run, so no contender always goes first.
            let mut order: Vec<usize> = (0..Contender::ALL.len()).collect();
            if run % 2 == 1 {
                order.reverse();
            }
            for i in order {
                if !picked(Contender::ALL[i].name().to_owned(), &params.client) {
                    continue;
                }
                let r = clients::measure(
                    Contender::ALL[i],
                    workload,
                    &pki,
                    server.port,
                    Duration::from_secs_f64(params.secs),
                );
                rates[i].push(r.requests as f64 / r.wall.as_secs_f64());
                costs[i].push(r.cpu_ns as f64 / 1e3 / r.requests.max(1) as f64);
            }
        }
        // Ratios are paired: each run's contenders ran back to back, so a run's ratio
        // cancels what the machine did during that run; the median of the runs' ratios.
        let paired = |i: usize, base: usize, of: &[Vec<f64>]| {
            let ratios: Vec<f64> = of[i].iter().zip(&of[base]).map(|(a, b)| a / b).collect();
            if ratios.is_empty() {
                f64::NAN
            } else {
                median(&ratios)
            }
        };
        let versus = |i: usize, base: usize| {
            format!(
                "{:.2}/{:.2}",
                paired(i, base, &rates),
                paired(i, base, &costs)
            )
        };
        let index = |c: Contender| Contender::ALL.iter().position(|x| *x == c).unwrap();
        let (hr, fr) = (
            index(Contender::HyperRustlsTokio),
            index(Contender::FuturesRustlsSmol),
        );
        for (i, contender) in Contender::ALL.iter().enumerate() {
            if rates[i].is_empty() {
                continue;
            }
            let vs_fr = if matches!(
                contender,
                Contender::TlsportSmol | Contender::TlsportSmolNoInfo
            ) {
                versus(i, fr)
            } else {
                String::new()
            };
            println!(
                "{:<28} {:<24} {:>10.0} {:>7.1}% {:>12.1} {:>7.1}% {:>9} {:>9}",
                workload.name(),
                contender.name(),
                median(&rates[i]),
                spread(&rates[i]),
                median(&costs[i]),
                spread(&costs[i]),
                versus(i, hr),
                vs_fr
            );
        }
        let server_cores = (server.cpu_secs() - server_cpu) / started.elapsed().as_secs_f64();
        println!(
            "{:<28} (the server used {:.2} cores, other processes {:.2})",
            "",
            server_cores,
            (load.other_cores() - server_cores).max(0.0)
        );
    }
    println!(
        "vs h-r, vs f-r: (req/s ratio)/(CPU per request ratio) against hyper-rustls on tokio, \
         and against futures-rustls on smol; medians of the runs' paired ratios"
    );
}
