//! tlsport against raw futures-rustls (same `Arc` rustls configs) and OpenSSL (native-tls
//! with one reused context), measured side by side in one run, contenders alternating.
//!
//! ```text
//! cargo bench --bench compare                  # the full run (about a minute on 2 cores)
//! cargo bench --bench compare -- --quick       # a smoke run (a few seconds)
//! cargo bench --bench compare -- --only bulk,handshake --contender tlsport
//! ```
//!
//! Environment: `TLSPORT_BENCH_QUICK=1` (same as `--quick`), `TLSPORT_BENCH_MIB` (MiB per
//! bulk run), `TLSPORT_BENCH_RUNS` (runs per figure), `TLSPORT_BENCH_RSA_BITS` (the `scaling` section's server key, 4096). Sections: `bulk`, `io`,
//! `handshake`, `clients`, `scaling`, `split`, `memory`, `ctor`, `sni`, and the opt-in
//! `diag` (`--only diag`). See BENCHMARKS.md.

use std::env;
use std::io;
use std::process::ExitCode;
use std::sync::Arc;

#[path = "../../tests/common/mod.rs"]
mod common;

mod bulk;
mod contenders;
mod handshake;
mod measure;
mod memory;
mod scaling;
mod sni;

use bulk::Direction;
use contenders::{Contender, Setup};
use measure::{LoadWatch, Worker, median, spread};

#[global_allocator]
static ALLOCATOR: measure::Counting = measure::Counting;

/// How much to measure.
struct Params {
    quick: bool,
    runs: usize,
    bulk_mib: u64,
    bulk_runs: usize,
    local_mib: u64,
    io_mib: u64,
    split_mib: u64,
    handshakes: usize,
    client_handshakes: usize,
    clients: usize,
    scaling_handshakes: usize,
    memory_n: usize,
    memory_runs: usize,
    ctor_n: usize,
    only: Option<Vec<String>>,
    contenders: Vec<Contender>,
    directions: Vec<Direction>,
}

impl Params {
    fn from_args() -> Result<Params, String> {
        let args: Vec<String> = env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick")
            || env::var("TLSPORT_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let env_num = |name: &str| env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let mut only = None;
        let mut contenders = Contender::ALL.to_vec();
        let mut directions = vec![Direction::ClientToServer, Direction::ServerToClient];
        let mut i = 0;
        while i < args.len() {
            match args[i].as_str() {
                "--only" => {
                    let v = args.get(i + 1).ok_or("--only needs a list")?;
                    only = Some(v.split(',').map(str::to_owned).collect());
                    i += 1;
                }
                "--contender" => {
                    let v = args.get(i + 1).ok_or("--contender needs a list")?;
                    contenders = v
                        .split(',')
                        .map(|c| Contender::parse(c).ok_or(format!("unknown contender {c}")))
                        .collect::<Result<_, _>>()?;
                    i += 1;
                }
                "--direction" => {
                    directions = match args.get(i + 1).map(String::as_str) {
                        Some("c2s") => vec![Direction::ClientToServer],
                        Some("s2c") => vec![Direction::ServerToClient],
                        _ => return Err("--direction takes c2s or s2c".to_owned()),
                    };
                    i += 1;
                }
                _ => {} // --bench (from cargo), --quick, filters of other harnesses
            }
            i += 1;
        }
        let runs = env_num("TLSPORT_BENCH_RUNS").map(|r| r.max(1) as usize);
        Ok(if quick {
            Params {
                quick,
                runs: runs.unwrap_or(1),
                bulk_mib: env_num("TLSPORT_BENCH_MIB").unwrap_or(32),
                bulk_runs: runs.unwrap_or(1),
                local_mib: 16,
                io_mib: 16,
                split_mib: 16,
                handshakes: 50,
                client_handshakes: 200,
                clients: 64,
                scaling_handshakes: 60,
                memory_n: 200,
                memory_runs: 1,
                ctor_n: 20,
                only,
                contenders,
                directions,
            }
        } else {
            Params {
                quick,
                runs: runs.unwrap_or(5),
                bulk_mib: env_num("TLSPORT_BENCH_MIB").unwrap_or(256),
                bulk_runs: runs.unwrap_or(7),
                local_mib: 128,
                io_mib: 64,
                split_mib: 128,
                handshakes: 400,
                client_handshakes: 1000,
                clients: 64,
                scaling_handshakes: 300,
                memory_n: 2000,
                memory_runs: 2,
                ctor_n: 200,
                only,
                contenders,
                directions,
            }
        })
    }

    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == section))
    }

    fn has(&self, who: Contender) -> bool {
        self.contenders.contains(&who)
    }

    /// `set` filtered by `--contender`, rotated by `run` so no contender always goes first.
    fn order(&self, set: &[Contender], run: usize) -> Vec<Contender> {
        let mut v: Vec<Contender> = set.iter().copied().filter(|c| self.has(*c)).collect();
        if !v.is_empty() {
            let k = run % v.len();
            v.rotate_left(k);
        }
        v
    }
}

// ---------------------------------------------------------------- results

#[derive(Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// A target of issue 7, checked against the medians.
#[derive(Clone, Copy)]
enum Target {
    /// tlsport / raw at least this (higher is better) or at most this (lower).
    VsRaw(f64),
    /// tlsport at most raw + this many units.
    RawPlus(f64),
    /// tlsport / OpenSSL at least this (a rate) or OpenSSL / tlsport (a cost).
    VsOpenSsl(f64),
}

struct Row {
    label: String,
    unit: &'static str,
    better: Better,
    /// tlsport, futures-rustls, OpenSSL.
    values: [Option<f64>; 3],
    targets: Vec<Target>,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    busy: Vec<(String, f64)>,
}

impl Report {
    fn row(
        &mut self,
        label: impl Into<String>,
        unit: &'static str,
        better: Better,
        values: [Option<f64>; 3],
        targets: &[Target],
    ) {
        self.rows.push(Row {
            label: label.into(),
            unit,
            better,
            values,
            targets: targets.to_vec(),
        });
    }

    /// Notes the load of other processes over a section; warns when it was high.
    fn load(&mut self, section: &str, watch: &LoadWatch) {
        let cores = watch.other_cores();
        if cores > 0.2 {
            println!(
                "  WARNING: the machine was busy during {section}: other processes used \
                 {cores:.2} cores; figures may be off"
            );
        } else {
            println!("  (other processes used {cores:.2} cores during {section})");
        }
        self.busy.push((section.to_owned(), cores));
    }

    fn print(&self, params: &Params) {
        println!();
        println!(
            "== summary: medians of {} run(s){}; ratio = tlsport / other ==",
            params.runs,
            if params.quick { ", QUICK mode" } else { "" }
        );
        println!(
            "{:<52} {:>9} {:>9} {:>9} {:>7} {:>7}  target",
            "figure", "tlsport", "f-rustls", "openssl", "t/raw", "t/ossl"
        );
        for row in &self.rows {
            let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), fmt_num);
            let ratio = |other: Option<f64>| match (row.values[0], other) {
                (Some(t), Some(o)) if o != 0.0 => fmt_ratio(t / o),
                _ => "-".to_owned(),
            };
            let arrow = match row.better {
                Better::Higher => "↑",
                Better::Lower => "↓",
            };
            let verdicts: Vec<String> = row.targets.iter().map(|t| verdict(row, *t)).collect();
            println!(
                "{:<52} {:>9} {:>9} {:>9} {:>7} {:>7}  {}",
                format!("{} ({}) {arrow}", row.label, row.unit),
                cell(row.values[0]),
                cell(row.values[1]),
                cell(row.values[2]),
                ratio(row.values[1]),
                ratio(row.values[2]),
                verdicts.join("; ")
            );
        }
        let busy: Vec<String> = self
            .busy
            .iter()
            .filter(|(_, c)| *c > 0.2)
            .map(|(s, c)| format!("{s} ({c:.2} cores)"))
            .collect();
        if busy.is_empty() {
            println!("machine quiet: other processes stayed under 0.2 cores in every section");
        } else {
            println!(
                "WARNING: busy machine during {}: treat those figures with care",
                busy.join(", ")
            );
        }
    }
}

fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "-".to_owned()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_ratio(r: f64) -> String {
    if r.abs() >= 0.01 {
        format!("{r:.3}")
    } else {
        format!("{r:.1e}")
    }
}

fn verdict(row: &Row, target: Target) -> String {
    let [t, r, o] = row.values;
    let ok = |b: bool| if b { "ok" } else { "MISSED" };
    match target {
        Target::VsRaw(x) => match (t, r) {
            (Some(t), Some(r)) => match row.better {
                Better::Higher => format!("≥{x}x raw {}", ok(t / r >= x)),
                Better::Lower => format!("≤{x}x raw {}", ok(t / r <= x)),
            },
            _ => format!("{x}x raw ?"),
        },
        Target::RawPlus(d) => match (t, r) {
            (Some(t), Some(r)) => format!("≤raw+{d} {}", ok(t <= r + d)),
            _ => format!("≤raw+{d} ?"),
        },
        Target::VsOpenSsl(x) => match (t, o) {
            (Some(t), Some(o)) => {
                let factor = match row.better {
                    Better::Higher => t / o,
                    Better::Lower => o / t,
                };
                format!("≥{x}x openssl {} ({factor:.2}x)", ok(factor >= x))
            }
            _ => format!("≥{x}x openssl ?"),
        },
    }
}

/// Median per contender of `samples[contender]`, printing the runs.
fn summarize(what: &str, unit: &str, set: &[Contender], values: &[Vec<f64>]) -> [Option<f64>; 3] {
    let mut out = [None; 3];
    for (who, v) in set.iter().zip(values) {
        if v.is_empty() {
            continue;
        }
        let m = median(v);
        let runs: Vec<String> = v.iter().map(|x| fmt_num(*x)).collect();
        println!(
            "  {what:<34} {:<15} median {:>9} {unit:<8} spread {:>5.1}%  runs [{}]",
            who.name(),
            fmt_num(m),
            spread(v),
            runs.join(" ")
        );
        out[index(*who)] = Some(m);
    }
    out
}

fn index(who: Contender) -> usize {
    match who {
        Contender::Tlsport => 0,
        Contender::Rustls => 1,
        Contender::OpenSsl => 2,
    }
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

// ---------------------------------------------------------------- sections

fn bulk_section(
    p: &Params,
    setup: &Arc<Setup>,
    workers: &[Worker; 2],
    report: &mut Report,
) -> io::Result<()> {
    let total = p.bulk_mib << 20;
    println!(
        "\n-- bulk: one connection over loopback TCP, {} MiB per run, {} runs, {} B writes, {} B \
         reads, client and server on two threads",
        p.bulk_mib,
        p.bulk_runs,
        bulk::WRITE,
        bulk::READ
    );
    for who in p.order(&Contender::ALL, 0) {
        for dir in &p.directions {
            bulk::one_way(setup, workers, who, *dir, total.min(16 << 20), None)?;
        }
    }
    let watch = LoadWatch::start();
    let dirs = [Direction::ClientToServer, Direction::ServerToClient];
    // [dir][contender] -> (MB/s, CPU µs per MiB, allocs per MiB, alloc bytes per MiB)
    let mut rate = vec![vec![Vec::new(); 3]; 2];
    let mut cpu = vec![vec![Vec::new(); 3]; 2];
    let mut allocs = vec![vec![Vec::new(); 3]; 2];
    for run in 0..p.bulk_runs {
        for (d, dir) in dirs.iter().enumerate() {
            if !p.directions.contains(dir) {
                continue;
            }
            for who in p.order(&Contender::ALL, run + d) {
                let r = bulk::one_way(setup, workers, who, *dir, total, None)?;
                let mib = r.bytes as f64 / (1 << 20) as f64;
                let i = index(who);
                rate[d][i].push(mb_per_s(r.bytes, r.sample.wall.as_secs_f64()));
                cpu[d][i].push(r.sample.cpu_ns as f64 / 1000.0 / mib);
                allocs[d][i].push(r.sample.allocs.count as f64 / mib);
            }
        }
    }
    let all = Contender::ALL;
    for (d, dir) in dirs.iter().enumerate() {
        if !p.directions.contains(dir) {
            continue;
        }
        let label = format!("bulk {}", dir.label());
        let m = summarize(&format!("{label} wall"), "MB/s", &all, &rate[d]);
        report.row(
            format!("{label} throughput"),
            "MB/s",
            Better::Higher,
            m,
            &[Target::VsRaw(1.0), Target::VsOpenSsl(1.6)],
        );
        let m = summarize(&format!("{label} CPU"), "µs/MiB", &all, &cpu[d]);
        report.row(
            format!("{label} CPU, both ends"),
            "µs/MiB",
            Better::Lower,
            m,
            &[Target::VsRaw(1.0)],
        );
        if d == 0 || p.directions.len() == 1 {
            let mut m = summarize(&format!("{label} allocations"), "/MiB", &all, &allocs[d]);
            m[2] = None; // OpenSSL allocates through libc, not the Rust allocator
            report.row(
                "allocations per MiB, both ends",
                "/MiB",
                Better::Lower,
                m,
                &[],
            );
        }
    }
    report.load("bulk", &watch);

    let total = p.local_mib << 20;
    println!(
        "\n-- bulk on one thread: the same loopback transfer with both ends as two futures on \
         one thread ({} MiB per run): CPU-bound, so its CPU time is the steadiest figure",
        p.local_mib
    );
    let watch = LoadWatch::start();
    let mut cpu = vec![vec![Vec::new(); 3]; 2];
    for who in p.order(&Contender::RUSTLS_BASED, 0) {
        bulk::one_way_local(setup, who, Direction::ClientToServer, total.min(16 << 20))?;
    }
    for run in 0..p.runs {
        for (d, dir) in dirs.iter().enumerate() {
            if !p.directions.contains(dir) {
                continue;
            }
            for who in p.order(&Contender::RUSTLS_BASED, run + d) {
                let r = bulk::one_way_local(setup, who, *dir, total)?;
                let mib = r.bytes as f64 / (1 << 20) as f64;
                cpu[d][index(who)].push(r.sample.cpu_ns as f64 / 1000.0 / mib);
            }
        }
    }
    for (d, dir) in dirs.iter().enumerate() {
        if !p.directions.contains(dir) {
            continue;
        }
        let label = format!("bulk {}, one thread", dir.label());
        let m = summarize(&format!("{label} CPU"), "µs/MiB", &all, &cpu[d]);
        report.row(
            format!("{label}: CPU"),
            "µs/MiB",
            Better::Lower,
            m,
            &[Target::VsRaw(1.0)],
        );
    }
    report.load("bulk, one thread", &watch);
    Ok(())
}

fn io_section(p: &Params, setup: &Arc<Setup>, workers: &[Worker; 2]) -> io::Result<()> {
    let total = p.io_mib << 20;
    println!(
        "\n-- transport calls behind one bulk run ({} MiB, counted by a wrapper around the \
         TcpStream that forwards vectored writes; handshake included)",
        p.io_mib
    );
    println!(
        "  {:<15} {:<15} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10} {:>9}",
        "contender",
        "direction",
        "rd/MiB",
        "B/read",
        "rdPend/MiB",
        "app rd/MiB",
        "wr/MiB",
        "B/write",
        "vectored",
        "wrPend/MiB",
        "flush/MiB"
    );
    for who in p.order(&Contender::RUSTLS_BASED, 0) {
        for dir in p.directions.iter().copied() {
            let pat = bulk::io_pattern(setup, workers, who, dir, total)?;
            let (r, s) = (pat.receiver, pat.sender);
            println!(
                "  {:<15} {:<15} {:>10.1} {:>10.0} {:>10.1} {:>10.1} {:>10.1} {:>10.0} {:>8.0}% {:>10.1} {:>9.2}",
                who.name(),
                dir.label(),
                r.reads as f64 / pat.mib,
                r.read_bytes as f64 / r.reads.max(1) as f64,
                r.read_pending as f64 / pat.mib,
                pat.app_reads as f64 / pat.mib,
                s.writes as f64 / pat.mib,
                s.write_bytes as f64 / s.writes.max(1) as f64,
                s.vectored_writes as f64 * 100.0 / s.writes.max(1) as f64,
                s.write_pending as f64 / pat.mib,
                s.flushes as f64 / pat.mib,
            );
        }
    }
    Ok(())
}

fn handshake_section(p: &Params, setup: &Arc<Setup>, report: &mut Report) -> io::Result<()> {
    println!(
        "\n-- handshakes on one thread, both ends, in-memory transport ({} per run; TLS 1.3, \
         ECDSA P-256; then the server closes and the client reads its tickets)",
        p.handshakes
    );
    for who in p.order(&Contender::ALL, 0) {
        handshake::local(setup, who, false, 20)?;
        if who != Contender::OpenSsl {
            handshake::local(setup, who, true, 20)?;
        }
    }
    let watch = LoadWatch::start();
    let mut full = vec![Vec::new(); 3];
    let mut resumed = vec![Vec::new(); 3];
    let mut allocs = vec![Vec::new(); 3];
    let mut alloc_bytes = vec![Vec::new(); 3];
    for run in 0..p.runs {
        for who in p.order(&Contender::ALL, run) {
            let i = index(who);
            let n = p.handshakes as f64;
            let (s, r, _) = handshake::local(setup, who, false, p.handshakes)?;
            assert_eq!(r, 0, "{who}: a full handshake was resumed");
            full[i].push(s.cpu_ns as f64 / 1000.0 / n);
            allocs[i].push(s.allocs.count as f64 / n);
            alloc_bytes[i].push(s.allocs.bytes as f64 / n);
            if who != Contender::OpenSsl {
                let (s, r, checked) = handshake::local(setup, who, true, p.handshakes)?;
                if r != checked {
                    println!("  note: {who}: only {r} of {checked} checked were resumed");
                }
                resumed[i].push(s.cpu_ns as f64 / 1000.0 / n);
            }
        }
    }
    let all = Contender::ALL;
    let m = summarize("full handshake CPU", "µs", &all, &full);
    report.row(
        "full handshake CPU, both ends",
        "µs",
        Better::Lower,
        m,
        &[Target::VsRaw(1.03)],
    );
    let rate = m.map(|v| v.map(|us| 1e6 / us));
    report.row(
        "full handshakes per CPU-second",
        "1/s",
        Better::Higher,
        rate,
        &[Target::VsOpenSsl(1.8)],
    );
    let m = summarize("resumed handshake CPU", "µs", &all, &resumed);
    report.row(
        "resumed handshake CPU, both ends",
        "µs",
        Better::Lower,
        m,
        &[Target::VsRaw(1.03)],
    );
    let mut m = summarize("allocations per full handshake", "", &all, &allocs);
    m[2] = None;
    report.row(
        "allocations per full handshake, both ends",
        "",
        Better::Lower,
        m,
        &[],
    );
    let mut m = summarize(
        "bytes allocated per full handshake",
        "B",
        &all,
        &alloc_bytes,
    );
    m[2] = None;
    report.row(
        "bytes allocated per full handshake",
        "B",
        Better::Lower,
        m,
        &[],
    );
    report.load("handshake", &watch);
    Ok(())
}

fn clients_section(
    p: &Params,
    setup: &Arc<Setup>,
    workers: &[Worker; 2],
    report: &mut Report,
) -> io::Result<()> {
    println!(
        "\n-- {} clients (raw futures-rustls, one thread) against one server thread: tlsport \
         Listener vs a hand-written futures-rustls accept loop; {} full handshakes per run",
        p.clients, p.client_handshakes
    );
    let server = |who| match who {
        Contender::Tlsport => handshake::Server::Listener(setup.tls_acceptor.clone()),
        _ => handshake::Server::RawLoop,
    };
    for who in p.order(&Contender::RUSTLS_BASED, 0) {
        handshake::many_clients(setup, workers, server(who), p.clients, 100)?;
    }
    let watch = LoadWatch::start();
    let mut rate = vec![Vec::new(); 3];
    let mut cpu = vec![Vec::new(); 3];
    for run in 0..p.runs {
        for who in p.order(&Contender::RUSTLS_BASED, run) {
            let s = handshake::many_clients(
                setup,
                workers,
                server(who),
                p.clients,
                p.client_handshakes,
            )?;
            let n = p.client_handshakes as f64;
            rate[index(who)].push(n / s.wall.as_secs_f64());
            cpu[index(who)].push(s.cpu_ns as f64 / 1000.0 / n);
        }
    }
    let all = Contender::ALL;
    let m = summarize("64-client handshakes", "1/s", &all, &rate);
    report.row(
        format!("{} clients: handshakes/s (2 threads)", p.clients),
        "1/s",
        Better::Higher,
        m,
        &[Target::VsRaw(0.95)],
    );
    let m = summarize("64-client CPU per handshake", "µs", &all, &cpu);
    report.row(
        format!("{} clients: CPU per handshake", p.clients),
        "µs",
        Better::Lower,
        m,
        &[],
    );
    report.load("clients", &watch);
    Ok(())
}

fn split_section(
    p: &Params,
    setup: &Arc<Setup>,
    workers: &[Worker; 2],
    report: &mut Report,
) -> io::Result<()> {
    let total = p.split_mib << 20;
    println!(
        "\n-- full duplex over loopback TCP, {} MiB each way: client split into halves (two \
         futures on one thread) vs unsplit (one task polling both ways); server unsplit",
        p.split_mib
    );
    for who in p.order(&Contender::RUSTLS_BASED, 0) {
        bulk::both_ways(setup, workers, who, true, 8 << 20)?;
    }
    let watch = LoadWatch::start();
    let mut split = vec![Vec::new(); 3];
    let mut unsplit = vec![Vec::new(); 3];
    for run in 0..p.runs {
        for who in p.order(&Contender::RUSTLS_BASED, run) {
            for is_split in [run % 2 == 0, run % 2 == 1] {
                let r = bulk::both_ways(setup, workers, who, is_split, total)?;
                let v = if is_split { &mut split } else { &mut unsplit };
                v[index(who)].push(mb_per_s(r.bytes, r.sample.wall.as_secs_f64()));
            }
        }
    }
    let all = Contender::ALL;
    let s = summarize("full duplex, split halves", "MB/s", &all, &split);
    report.row(
        "full duplex, split halves (sum of both ways)",
        "MB/s",
        Better::Higher,
        s,
        &[Target::VsRaw(1.0)],
    );
    let u = summarize("full duplex, unsplit", "MB/s", &all, &unsplit);
    report.row(
        "full duplex, unsplit (sum of both ways)",
        "MB/s",
        Better::Higher,
        u,
        &[],
    );
    let ratio = [0, 1, 2].map(|i| match (s[i], u[i]) {
        (Some(s), Some(u)) => Some(s / u),
        _ => None,
    });
    report.row("split / unsplit", "x", Better::Higher, ratio, &[]);
    report.load("split", &watch);
    Ok(())
}

fn memory_section(p: &Params, report: &mut Report) -> io::Result<()> {
    let mut n = p.memory_n;
    if let Some(limit) = measure::open_files_limit() {
        let fit = (limit.saturating_sub(64) / 2) as usize;
        if fit < n {
            println!("  note: the open-files limit is {limit}: N lowered from {n} to {fit}");
            n = fit;
        }
    }
    println!(
        "\n-- idle memory per established connection: N = {n} loopback TCP pairs, both ends in \
         a fresh child process, per side = delta / 2N"
    );
    println!(
        "  struct sizes: tlsport TlsStream<TcpStream> {} B; futures-rustls client {} B, server \
         {} B (the rest is heap: rustls buffers, session state)",
        std::mem::size_of::<tlsport::TlsStream<tlsport::TcpStream>>(),
        std::mem::size_of::<futures_rustls::client::TlsStream<tlsport::TcpStream>>(),
        std::mem::size_of::<futures_rustls::server::TlsStream<tlsport::TcpStream>>(),
    );
    let watch = LoadWatch::start();
    let mut rss = vec![Vec::new(); 3];
    let mut heap = vec![Vec::new(); 3];
    let mut heap_c = vec![Vec::new(); 3];
    let mut heap_s = vec![Vec::new(); 3];
    for run in 0..p.memory_runs {
        for who in p.order(&Contender::ALL, run) {
            let m = memory::measure(who, n)?;
            let i = index(who);
            rss[i].push(m.rss_per_side);
            heap[i].push(m.heap_per_side);
            heap_c[i].push(m.heap_client);
            heap_s[i].push(m.heap_server);
        }
    }
    let all = Contender::ALL;
    let m = summarize("idle RSS per side", "B", &all, &rss);
    report.row(
        format!("idle memory per side, RSS (N = {n})"),
        "B",
        Better::Lower,
        m,
        &[Target::RawPlus(512.0)],
    );
    let mut m = summarize("idle heap per side", "B", &all, &heap);
    m[2] = None;
    report.row(
        "idle memory per side, Rust heap",
        "B",
        Better::Lower,
        m,
        &[Target::RawPlus(512.0)],
    );
    let mut c = summarize("idle heap, client", "B", &all, &heap_c);
    let mut s = summarize("idle heap, server", "B", &all, &heap_s);
    c[2] = None;
    s[2] = None;
    report.row("  of which client side", "B", Better::Lower, c, &[]);
    report.row("  of which server side", "B", Better::Lower, s, &[]);
    println!("  (OpenSSL allocates through libc: only its RSS is meaningful)");
    report.load("memory", &watch);
    Ok(())
}

fn ctor_section(p: &Params, setup: &Arc<Setup>, report: &mut Report) {
    println!(
        "\n-- building a client / server context, CPU per call (median of {}): tlsport \
         Connector::new / Acceptor::new from a Policy; raw: a hand-built rustls config; \
         openssl: native-tls TlsConnector / TlsAcceptor",
        p.ctor_n
    );
    let watch = LoadWatch::start();
    let costs = handshake::ctor_costs(setup, p.ctor_n);
    let mut client = [None; 3];
    let mut server = [None; 3];
    for (who, c, s) in &costs.rows {
        println!(
            "  {:<15} client {:>9.1} µs   server {:>9.1} µs",
            who.name(),
            c,
            s
        );
        client[index(*who)] = Some(*c);
        server[index(*who)] = Some(*s);
    }
    if let Some(us) = costs.system_connector_us {
        println!("  tlsport Connector::new with CaBundle::System: {us:.1} µs");
    }
    report.row(
        "Connector::new (client context)",
        "µs",
        Better::Lower,
        client,
        &[],
    );
    report.row(
        "Acceptor::new (server context)",
        "µs",
        Better::Lower,
        server,
        &[],
    );
    report.load("ctor", &watch);
}

/// Opt-in experiments that tell where tlsport's handshake overhead comes from.
fn diag_section(
    p: &Params,
    setup: &Arc<Setup>,
    workers: &[Worker; 2],
    report: &mut Report,
) -> io::Result<()> {
    let watch = LoadWatch::start();
    use tlsport::{Acceptor, Connector};
    let pki = &setup.pki;
    let pair = |timeout| -> io::Result<(Connector, Acceptor)> {
        Ok((
            Connector::new(
                pki.client_policy()
                    .session_cache(0)
                    .handshake_timeout(timeout),
            )
            .map_err(io::Error::from)?,
            Acceptor::new(pki.server_policy().handshake_timeout(timeout))
                .map_err(io::Error::from)?,
        ))
    };
    let with_timer = pair(Some(std::time::Duration::from_secs(10)))?;
    let without = pair(None)?;
    println!(
        "\n-- diag: one-thread full handshakes, tlsport from a Policy with the default 10 s \
         handshake_timeout vs handshake_timeout(None); raw futures-rustls for reference"
    );
    let variants: [(&str, Option<&(Connector, Acceptor)>); 3] = [
        ("tlsport, 10 s timeout", Some(&with_timer)),
        ("tlsport, no timeout", Some(&without)),
        ("futures-rustls", None),
    ];
    let mut cpu = vec![Vec::new(); variants.len()];
    let mut allocs = vec![Vec::new(); variants.len()];
    for run in 0..=p.runs {
        for k in 0..variants.len() {
            let k = (k + run) % variants.len();
            let n = if run == 0 { 20 } else { p.handshakes };
            let sample = match variants[k].1 {
                Some((c, a)) => handshake::local_tlsport(c, a, n)?,
                None => handshake::local(setup, Contender::Rustls, false, n)?.0,
            };
            if run > 0 {
                cpu[k].push(sample.cpu_ns as f64 / 1000.0 / n as f64);
                allocs[k].push(sample.allocs.count as f64 / n as f64);
            }
        }
    }
    let base = median(&cpu[2]);
    for (k, (name, _)) in variants.iter().enumerate() {
        println!(
            "  {name:<24} {:>7.1} µs CPU per handshake, both ends ({:.3}x raw), {:>6.1} allocations  runs [{}]",
            median(&cpu[k]),
            median(&cpu[k]) / base,
            median(&allocs[k]),
            cpu[k]
                .iter()
                .map(|x| fmt_num(*x))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }

    println!(
        "\n-- diag: {} clients, server variants: Listener (From<Arc>), Listener with \
         handshake_timeout(None), Acceptor::accept in the hand-written loop, raw loop",
        p.clients
    );
    let servers = [
        (
            "tlsport Listener",
            handshake::Server::Listener(setup.tls_acceptor.clone()),
        ),
        (
            "tlsport Listener, no timeout",
            handshake::Server::Listener(without.1.clone()),
        ),
        (
            "tlsport Acceptor in raw loop",
            handshake::Server::TlsportLoop(setup.tls_acceptor.clone()),
        ),
        ("futures-rustls raw loop", handshake::Server::RawLoop),
    ];
    // TLSPORT_BENCH_DIAG_SERVER=k runs only variant k (0-3), e.g. under `perf stat`.
    let only: Option<usize> = env::var("TLSPORT_BENCH_DIAG_SERVER")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut rate = vec![Vec::new(); servers.len()];
    let mut cpu = vec![Vec::new(); servers.len()];
    for run in 0..=p.runs {
        for k in 0..servers.len() {
            let k = (k + run) % servers.len();
            if only.is_some_and(|o| o != k) {
                continue;
            }
            let n = if run == 0 { 100 } else { p.client_handshakes };
            let s = handshake::many_clients(setup, workers, servers[k].1.clone(), p.clients, n)?;
            if run > 0 {
                rate[k].push(n as f64 / s.wall.as_secs_f64());
                cpu[k].push(s.cpu_ns as f64 / 1000.0 / n as f64);
            }
        }
    }
    let (base_rate, base_cpu) = (median(&rate[3]), median(&cpu[3]));
    for (k, (name, _)) in servers.iter().enumerate() {
        if rate[k].is_empty() {
            continue;
        }
        println!(
            "  {name:<30} {:>7.0} handshakes/s ({:.3}x raw)   {:>6.1} µs CPU each ({:.3}x raw)",
            median(&rate[k]),
            median(&rate[k]) / base_rate,
            median(&cpu[k]),
            median(&cpu[k]) / base_cpu,
        );
    }
    report.load("diag", &watch);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        let who = args.get(i + 1).and_then(|c| Contender::parse(c));
        let n = args.get(i + 2).and_then(|n| n.parse().ok());
        let (Some(who), Some(n)) = (who, n) else {
            eprintln!("usage: --memory-child CONTENDER N");
            return ExitCode::FAILURE;
        };
        return match memory::child(who, n) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("memory child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let params = match Params::from_args() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&params) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(p: &Params) -> io::Result<()> {
    let start = std::time::Instant::now();
    println!(
        "tlsport comparison bench{}: {} run(s) per figure, contenders alternate; CPU time is \
         process user+sys (clock_gettime CPU clocks, ns resolution); MB = 10^6 bytes",
        if p.quick { " (quick mode)" } else { "" },
        p.runs
    );
    let setup = Arc::new(Setup::new());
    {
        let (c, s) = tlsport::duplex(64 * 1024);
        let (c, s) = futures_lite::future::block_on(futures_lite::future::zip(
            setup.tls_full.connect_with("localhost", c),
            setup.tls_acceptor.accept(s),
        ));
        let (info, _s) = (
            c.map_err(io::Error::from)?.info(),
            s.map_err(io::Error::from)?,
        );
        println!(
            "negotiated (rustls contenders): {:?}, {}, {}; ECDSA P-256 server certificate",
            info.protocol_version.expect("version"),
            info.cipher_suite.as_deref().unwrap_or("?"),
            info.key_exchange_group.as_deref().unwrap_or("?"),
        );
    }
    let workers = [Worker::new("bench-a"), Worker::new("bench-b")];
    let mut report = Report::default();
    let overall = LoadWatch::start();
    let section = |name: &str, t: std::time::Instant| {
        println!("  [{name}: {:.1} s]", t.elapsed().as_secs_f64());
    };
    if p.wants("bulk") {
        let t = std::time::Instant::now();
        bulk_section(p, &setup, &workers, &mut report)?;
        section("bulk", t);
    }
    if p.wants("io") {
        let t = std::time::Instant::now();
        io_section(p, &setup, &workers)?;
        section("io", t);
    }
    if p.wants("handshake") {
        let t = std::time::Instant::now();
        handshake_section(p, &setup, &mut report)?;
        section("handshake", t);
    }
    if p.wants("clients") {
        let t = std::time::Instant::now();
        clients_section(p, &setup, &workers, &mut report)?;
        section("clients", t);
    }
    if p.wants("scaling") {
        let t = std::time::Instant::now();
        scaling::section(p, &mut report)?;
        section("scaling", t);
    }
    if p.wants("split") {
        let t = std::time::Instant::now();
        split_section(p, &setup, &workers, &mut report)?;
        section("split", t);
    }
    if p.wants("memory") {
        let t = std::time::Instant::now();
        memory_section(p, &mut report)?;
        section("memory", t);
    }
    if p.wants("ctor") {
        let t = std::time::Instant::now();
        ctor_section(p, &setup, &mut report);
        section("ctor", t);
    }
    if p.wants("sni") {
        let t = std::time::Instant::now();
        sni::section(p, &setup, &mut report)?;
        section("sni", t);
    }
    if p.only
        .as_ref()
        .is_some_and(|o| o.iter().any(|s| s == "diag"))
    {
        let t = std::time::Instant::now();
        diag_section(p, &setup, &workers, &mut report)?;
        section("diag", t);
    }
    report.print(p);
    println!(
        "total {:.1} s wall; other processes used {:.2} cores on average",
        start.elapsed().as_secs_f64(),
        overall.other_cores()
    );
    Ok(())
}
