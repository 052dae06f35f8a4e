//! `Policy::identity_for` (issue 15): a server with 1,000 names must cost no more per
//! handshake than one with a single name. Full handshakes on one thread, both ends, over
//! the in-memory transport, as in the `handshake` section; the client asks for
//! `localhost` every time.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use tlsport::{Acceptor, Connector, Policy};

use crate::contenders::Setup;
use crate::measure::{LoadWatch, median, spread};
use crate::{Better, Params, Report, fmt_num, handshake};

pub fn section(p: &Params, setup: &Arc<Setup>, report: &mut Report) -> io::Result<()> {
    let pki = &setup.pki;
    let identity = pki.server.identity();
    // One certificate for every name (a SAN or wildcard certificate): what matters per
    // handshake is the size of the name tables, not the number of keys.
    let named = |names: usize| {
        let mut policy = Policy::new();
        for i in 1..names {
            policy = policy.identity_for(&format!("host{i}.example.test"), identity.clone());
        }
        policy.identity_for("localhost", identity.clone())
    };
    let build = |policy: Policy| -> io::Result<(Acceptor, f64)> {
        let started = Instant::now();
        let acceptor = Acceptor::new(policy).map_err(io::Error::from)?;
        Ok((acceptor, started.elapsed().as_secs_f64() * 1e6))
    };
    let variants = [
        ("identity() only", build(pki.server_policy())?),
        ("identity_for: 1 name, no default", build(named(1))?),
        ("identity_for: 1,000 names, no default", build(named(1000))?),
        (
            "identity_for: 1,000 names + default",
            build(named(1000).identity(identity.clone()))?,
        ),
    ];
    let connector =
        Connector::new(pki.client_policy().session_cache(0)).map_err(io::Error::from)?;
    println!(
        "\n-- identities by name: one-thread full handshakes, both ends, in-memory ({} per \
         run); the client asks for localhost. Without a default the ClientHello is read \
         first (rustls's Accepted path) so that unknown names get unrecognized_name",
        p.handshakes
    );
    for (name, (_, built_us)) in &variants {
        println!("  Acceptor::new, {name:<40} {built_us:>9.0} µs");
    }
    let watch = LoadWatch::start();
    let mut cpu = vec![Vec::new(); variants.len()];
    for run in 0..=p.runs {
        for k in 0..variants.len() {
            let k = (k + run) % variants.len();
            let n = if run == 0 { 20 } else { p.handshakes };
            let sample = handshake::local_tlsport(&connector, &variants[k].1.0, n)?;
            if run > 0 {
                cpu[k].push(sample.cpu_ns as f64 / 1000.0 / n as f64);
            }
        }
    }
    for (k, (name, _)) in variants.iter().enumerate() {
        let runs: Vec<String> = cpu[k].iter().map(|x| fmt_num(*x)).collect();
        println!(
            "  {name:<40} median {:>7.1} µs CPU per handshake, spread {:>4.1}%  runs [{}]",
            median(&cpu[k]),
            spread(&cpu[k]),
            runs.join(" ")
        );
        report.row(
            format!("handshake CPU, {name}"),
            "µs",
            Better::Lower,
            [Some(median(&cpu[k])), None, None],
            &[],
        );
    }
    let ratio = median(&cpu[2]) / median(&cpu[1]);
    println!(
        "  1,000 names / 1 name: {ratio:.3} (target: within noise of 1.0); no default / \
         identity() only: {:.3}",
        median(&cpu[1]) / median(&cpu[0])
    );
    report.load("sni", &watch);
    Ok(())
}
