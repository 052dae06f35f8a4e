//! Failed handshakes are visible: `Listener::on_handshake_error` sees the peer, the
//! error's kind and the time since the accept, and `Listener::stats` counts them, for
//! handshakes run by `accept`, evicted from a full listener, or spawned from
//! `accept_handshake`; a hook that panics harms nothing.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use futures_lite::{AsyncWriteExt, future};
use tlsport::{Acceptor, ErrorKind, Listener, TcpStream};

/// What the hook saw of one failure.
#[derive(Clone, Debug)]
struct Seen {
    peer: SocketAddr,
    kind: ErrorKind,
    elapsed: Duration,
    evicted: bool,
    error_kind: ErrorKind,
}

fn bind_timeout(pki: &Pki, limit: Duration) -> Arc<Listener> {
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(limit))).unwrap();
    Arc::new(run(10, acceptor.bind("127.0.0.1", 0)).expect("bind"))
}

/// Installs a hook that records every failure.
fn record(listener: &Listener) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    listener.on_handshake_error(move |f| {
        log.lock().unwrap().push(Seen {
            peer: f.peer,
            kind: f.kind,
            elapsed: f.elapsed,
            evicted: f.evicted,
            error_kind: f.error.kind(),
        });
    });
    seen
}

/// The failures seen once there are `n`, or after 10 s.
fn wait_for(seen: &Mutex<Vec<Seen>>, n: usize) -> Vec<Seen> {
    let until = Instant::now() + secs(10);
    loop {
        let now = seen.lock().unwrap().clone();
        if now.len() >= n || Instant::now() > until {
            return now;
        }
        thread::sleep(ms(10));
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    run(10, TcpStream::connect(addr)).expect("tcp connect")
}

/// A client that does not speak TLS: an HTTP request on the TLS port.
fn garbage(addr: SocketAddr) -> TcpStream {
    let mut tcp = connect(addr);
    run(
        10,
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    )
    .unwrap();
    tcp
}

/// `accept` once on a thread of its own; the peer comes back on the channel.
fn accept_on_a_thread(listener: &Arc<Listener>) -> mpsc::Receiver<tlsport::Result<SocketAddr>> {
    let (done, result) = mpsc::channel();
    let listener = listener.clone();
    thread::spawn(move || {
        let got = future::block_on(within(secs(20), listener.accept()));
        let _ = done.send(got.expect("accept hangs").map(|(_, peer)| peer));
    });
    result
}

fn client_on_a_thread(pki: &Pki, addr: SocketAddr) -> thread::JoinHandle<tlsport::Result<()>> {
    let connector = pki.connector();
    thread::spawn(move || {
        let mut s = run(20, connector.connect("127.0.0.1", addr.port()))?;
        run(10, s.close())?;
        Ok(())
    })
}

fn check_two_failures(seen: &[Seen], silent: SocketAddr, junk: SocketAddr, limit: Duration) {
    assert_eq!(seen.len(), 2, "{seen:?}");
    let t = seen
        .iter()
        .find(|s| s.peer == silent)
        .expect("no failure for the silent client");
    assert_eq!(t.kind, ErrorKind::TimedOut, "{t:?}");
    assert_eq!(t.error_kind, t.kind);
    assert!(!t.evicted);
    assert!(
        t.elapsed >= limit - ms(20) && t.elapsed < limit + secs(2),
        "the silent client failed after {:?} with a {limit:?} limit",
        t.elapsed
    );
    let g = seen
        .iter()
        .find(|s| s.peer == junk)
        .expect("no failure for the garbage client");
    assert_eq!(g.kind, ErrorKind::Tls, "{g:?}");
    assert!(!g.evicted);
    assert!(g.elapsed < limit, "garbage took {:?} to refuse", g.elapsed);
}

#[test]
fn the_hook_and_stats_see_failures_of_handshakes_run_by_accept() {
    const LIMIT: Duration = Duration::from_millis(400);
    let pki = Pki::new();
    let listener = bind_timeout(&pki, LIMIT);
    let addr = listener.local_addr().unwrap();
    let seen = record(&listener);
    let accepted = accept_on_a_thread(&listener);
    let silent = connect(addr);
    let junk = garbage(addr);
    let failures = wait_for(&seen, 2);
    check_two_failures(
        &failures,
        silent.local_addr().unwrap(),
        junk.local_addr().unwrap(),
        LIMIT,
    );
    // The failures stopped nothing: the next good client is served.
    let client = client_on_a_thread(&pki, addr);
    accepted.recv().unwrap().expect("accept after the failures");
    client.join().unwrap().expect("client");
    let stats = listener.stats();
    println!("{stats:?}");
    assert_eq!(
        (
            stats.accepted,
            stats.succeeded,
            stats.failed,
            stats.timed_out,
            stats.evicted
        ),
        (3, 1, 2, 1, 0)
    );
    assert_eq!(stats.in_flight, 0);
}

#[test]
fn the_hook_and_stats_see_failures_of_spawned_handshakes() {
    const LIMIT: Duration = Duration::from_millis(400);
    let pki = Pki::new();
    let listener = bind_timeout(&pki, LIMIT);
    let addr = listener.local_addr().unwrap();
    let seen = record(&listener);
    let silent = connect(addr);
    let junk = garbage(addr);
    let (silent_addr, junk_addr) = (silent.local_addr().unwrap(), junk.local_addr().unwrap());
    let (a, a_peer) = run(10, listener.accept_handshake()).unwrap();
    let (b, b_peer) = run(10, listener.accept_handshake()).unwrap();
    assert_eq!(listener.stats().in_flight, 2);
    // Each spawned on a thread of its own; each owner gets its error too.
    let spawn = |h: tlsport::Handshake<TcpStream>| thread::spawn(move || run(10, h).map(drop));
    let (a, b) = (spawn(a), spawn(b));
    let mut got = [(a_peer, a.join().unwrap()), (b_peer, b.join().unwrap())]
        .map(|(peer, r)| (peer, r.expect_err("a bad client was served").kind()));
    got.sort_by_key(|(peer, _)| *peer == junk_addr);
    assert_eq!(
        got,
        [
            (silent_addr, ErrorKind::TimedOut),
            (junk_addr, ErrorKind::Tls)
        ]
    );
    check_two_failures(&wait_for(&seen, 2), silent_addr, junk_addr, LIMIT);
    let stats = listener.stats();
    assert_eq!(
        (
            stats.accepted,
            stats.succeeded,
            stats.failed,
            stats.timed_out,
            stats.in_flight
        ),
        (2, 0, 2, 1, 0)
    );
}

#[test]
fn a_handshake_dropped_unfinished_is_counted_out_but_not_as_failed() {
    let pki = Pki::new();
    let listener = bind_timeout(&pki, secs(10));
    let seen = record(&listener);
    let _silent = connect(listener.local_addr().unwrap());
    let (handshake, _) = run(10, listener.accept_handshake()).unwrap();
    assert_eq!(listener.stats().in_flight, 1);
    drop(handshake);
    let stats = listener.stats();
    assert_eq!((stats.accepted, stats.failed, stats.in_flight), (1, 0, 0));
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn a_handshake_evicted_from_a_full_listener_is_reported_as_evicted() {
    let pki = Pki::new();
    let listener = bind_timeout(&pki, secs(10));
    listener.set_max_handshakes(1);
    let addr = listener.local_addr().unwrap();
    let seen = record(&listener);
    let accepted = accept_on_a_thread(&listener);
    // Holds the only slot, silent; after a second a newcomer may take its place.
    let silent = connect(addr);
    thread::sleep(ms(200));
    let client = client_on_a_thread(&pki, addr);
    let served = accepted.recv().unwrap().expect("accept");
    client.join().unwrap().expect("the newcomer");
    let seen = wait_for(&seen, 1);
    assert_eq!(seen.len(), 1, "{seen:?}");
    let e = &seen[0];
    assert_ne!(served, silent.local_addr().unwrap());
    assert_eq!(e.peer, silent.local_addr().unwrap());
    assert!(e.evicted);
    assert_eq!(e.kind, ErrorKind::TimedOut);
    assert!(e.elapsed >= secs(1), "evicted after {:?}", e.elapsed);
    let stats = listener.stats();
    assert_eq!(
        (
            stats.accepted,
            stats.succeeded,
            stats.failed,
            stats.evicted,
            stats.timed_out
        ),
        (2, 1, 1, 1, 0)
    );
}

#[test]
fn a_hook_that_panics_breaks_neither_accept_nor_a_spawned_handshake() {
    let pki = Pki::new();
    let listener = bind_timeout(&pki, secs(10));
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    listener.on_handshake_error(move |f| {
        *counted.lock().unwrap() += 1;
        panic!("a hook that panics on {}", f.peer);
    });
    // Inside accept: the failure panics the hook, and accept goes on to serve.
    let accepted = accept_on_a_thread(&listener);
    let _junk = garbage(addr);
    let until = Instant::now() + secs(10);
    while *calls.lock().unwrap() == 0 && Instant::now() < until {
        thread::sleep(ms(10));
    }
    assert_eq!(*calls.lock().unwrap(), 1);
    let client = client_on_a_thread(&pki, addr);
    accepted
        .recv()
        .unwrap()
        .expect("accept after a panicking hook");
    client.join().unwrap().expect("client");
    // A spawned handshake: its owner gets the error, not the panic.
    let _junk = garbage(addr);
    let (handshake, _) = run(10, listener.accept_handshake()).unwrap();
    let err = thread::spawn(move || run(10, handshake))
        .join()
        .expect("the hook's panic reached the handshake's thread")
        .expect_err("garbage was served");
    assert_eq!(err.kind(), ErrorKind::Tls);
    assert_eq!(*calls.lock().unwrap(), 2);
    // And the listener still serves.
    let client = client_on_a_thread(&pki, addr);
    let (handshake, _) = run(10, listener.accept_handshake()).unwrap();
    run(10, handshake).expect("a handshake after the panics");
    client.join().unwrap().expect("client");
    let stats = listener.stats();
    assert_eq!((stats.succeeded, stats.failed, stats.in_flight), (2, 2, 0));
}
