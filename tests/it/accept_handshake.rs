//! `Listener::accept_handshake`: returns at the TCP accept with a `Handshake` future that
//! is `Send + 'static`, carries the deadline from the accept, runs on any thread; many
//! callers on many threads, alone or beside `accept`, serve every client without a busy
//! loop.

use crate::common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use futures::executor::ThreadPool;
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::{
    Acceptor, DuplexStream, ErrorKind, Handshake, HandshakeFailure, Listener, ListenerStats,
    TcpStream,
};

fn bind_with(acceptor: &Acceptor) -> Arc<Listener> {
    Arc::new(run(10, acceptor.bind("127.0.0.1", 0)).expect("bind"))
}

fn bind_timeout(pki: &Pki, limit: Duration) -> Arc<Listener> {
    let acceptor = Acceptor::new(pki.server_policy().handshake_timeout(Some(limit))).unwrap();
    bind_with(&acceptor)
}

/// Compile-time: what a caller spawns, and what it reads, may cross threads.
#[test]
fn the_new_public_types_are_send_sync_and_static() {
    fn spawnable<T: Send + Sync + Unpin + 'static>() {}
    fn send_sync<T: Send + Sync>() {}
    spawnable::<Handshake<TcpStream>>();
    spawnable::<Handshake<DuplexStream>>();
    spawnable::<ListenerStats>();
    send_sync::<HandshakeFailure<'static>>();
    // And the future it is: its output is the stream.
    fn handshake_of<F: std::future::Future<Output = tlsport::Result<tlsport::TlsStream<S>>>, S>() {}
    handshake_of::<Handshake<TcpStream>, TcpStream>();
}

#[test]
fn accept_handshake_returns_at_once_for_a_silent_client_whose_handshake_times_out_from_the_accept()
{
    const LIMIT: Duration = Duration::from_millis(1000);
    const LATE: Duration = Duration::from_millis(800);
    let pki = Pki::new();
    let listener = bind_timeout(&pki, LIMIT);
    let addr = listener.local_addr().unwrap();
    // Connected, and never a byte.
    let silent = run(10, TcpStream::connect(addr)).unwrap();
    let asked = Instant::now();
    let (handshake, peer) = run(10, listener.accept_handshake()).expect("accept_handshake");
    let accepted = Instant::now();
    assert!(
        accepted - asked < ms(500),
        "accept_handshake took {:?} for a connected client",
        accepted - asked
    );
    assert_eq!(peer, silent.local_addr().unwrap());
    println!("{handshake:?}");
    // Spawned late, in a busy executor: its deadline still runs from the accept.
    thread::sleep(LATE);
    let polled = Instant::now();
    let err = run(10, handshake).expect_err("a silent client finished a handshake");
    let done = Instant::now();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(
        done - accepted >= LIMIT - ms(50),
        "timed out {:?} after the accept, before the {LIMIT:?} limit",
        done - accepted
    );
    assert!(
        done - polled < LIMIT - ms(300),
        "timed out {:?} after its first poll: the deadline ran from the poll, not the accept",
        done - polled
    );
    drop(silent);
    let stats = listener.stats();
    assert_eq!(
        (stats.accepted, stats.timed_out, stats.in_flight),
        (1, 1, 0)
    );
}

#[test]
fn a_handshake_spawned_on_another_thread_completes_there() {
    let pki = Pki::new();
    let listener = bind_with(&pki.acceptor());
    let port = listener.local_addr().unwrap().port();
    let connector = pki.connector();
    let client = thread::spawn(move || {
        run(20, async {
            let mut s = connector.connect("127.0.0.1", port).await?;
            s.write_all(b"ping").await?;
            let mut back = [0; 4];
            s.read_exact(&mut back).await?;
            s.close().await?;
            std::io::Result::Ok(back)
        })
    });
    let (handshake, peer) = run(10, listener.accept_handshake()).expect("accept_handshake");
    let server = thread::spawn(move || {
        run(20, async move {
            let mut s = handshake.await?;
            let mut buf = [0; 4];
            s.read_exact(&mut buf).await?;
            s.write_all(&buf).await?;
            s.close().await?;
            std::io::Result::Ok(s.info().protocol_version)
        })
    });
    let version = server.join().unwrap().expect("the spawned handshake");
    assert!(version.is_some());
    assert_eq!(&client.join().unwrap().expect("client"), b"ping");
    println!("served {peer} on another thread");
    let stats = listener.stats();
    assert_eq!((stats.accepted, stats.succeeded, stats.failed), (1, 1, 0));
    assert_eq!(stats.in_flight, 0);
}

/// Four threads each loop on `accept_handshake`, handing each handshake (and a one-byte
/// echo) to a two-thread pool, beside `accept_threads` threads in `accept`.
struct Server {
    stop: smol::channel::Sender<()>,
    threads: Vec<thread::JoinHandle<()>>,
    served: Arc<AtomicUsize>,
    by_accept: Arc<AtomicUsize>,
}

impl Server {
    fn start(listener: &Arc<Listener>, takers: usize, accepters: usize) -> Server {
        let pool = ThreadPool::builder()
            .pool_size(2)
            .create()
            .expect("a thread pool");
        let served = Arc::new(AtomicUsize::new(0));
        let by_accept = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let mut threads = Vec::new();
        for i in 0..takers + accepters {
            let (listener, pool, stopped) = (listener.clone(), pool.clone(), stopped.clone());
            let (served, by_accept) = (served.clone(), by_accept.clone());
            threads.push(thread::spawn(move || {
                let serve = async {
                    loop {
                        if i < takers {
                            let (handshake, _) = listener
                                .accept_handshake()
                                .await
                                .expect("the listener failed");
                            let served = served.clone();
                            pool.spawn_ok(async move {
                                if let Ok(s) = handshake.await {
                                    served.fetch_add(1, Ordering::Relaxed);
                                    echo_one(s).await;
                                }
                            });
                        } else {
                            let (s, _) = listener.accept().await.expect("the listener failed");
                            served.fetch_add(1, Ordering::Relaxed);
                            by_accept.fetch_add(1, Ordering::Relaxed);
                            echo_one(s).await;
                        }
                    }
                };
                future::block_on(future::or(serve, async {
                    let _ = stopped.recv().await;
                }));
            }));
        }
        Server {
            stop,
            threads,
            served,
            by_accept,
        }
    }

    fn stop(self) -> (usize, usize) {
        drop(self.stop);
        for t in self.threads {
            t.join().expect("a server thread panicked");
        }
        (
            self.served.load(Ordering::Relaxed),
            self.by_accept.load(Ordering::Relaxed),
        )
    }
}

async fn echo_one(mut s: tlsport::TlsStream<TcpStream>) {
    let mut byte = [0; 1];
    if s.read_exact(&mut byte).await.is_ok() {
        let _ = s.write_all(&byte).await;
        let _ = s.close().await;
    }
}

/// Idle CPU of the server threads for a second, then `clients` clients in bursts of 10,
/// each echoed; returns (idle CPU, CPU of the bursts).
fn idle_then_bursts(listener: &Arc<Listener>, pki: &Pki, clients: usize) -> (Duration, Duration) {
    let addr: SocketAddr = listener.local_addr().unwrap();
    thread::sleep(ms(300));
    let before = cpu_time();
    thread::sleep(secs(1));
    let idle = cpu_time() - before;

    let connector = pki.connector();
    let cpu = cpu_time();
    let outcomes = run(
        60,
        futures::future::join_all((0..clients).map(|i| {
            let connector = connector.clone();
            async move {
                async_io::Timer::after(ms(300) * (i / 10) as u32).await;
                let started = Instant::now();
                let served = within(secs(10), async {
                    let mut s = connector.connect("127.0.0.1", addr.port()).await?;
                    s.write_all(&[i as u8]).await?;
                    let mut back = [0; 1];
                    s.read_exact(&mut back).await?;
                    assert_eq!(back[0], i as u8, "client {i} got another's echo");
                    std::io::Result::Ok(())
                })
                .await;
                (served, started.elapsed())
            }
        })),
    );
    let busy = cpu_time() - cpu;
    let slowest = outcomes.iter().map(|(_, t)| *t).max().unwrap();
    for (i, (outcome, _)) in outcomes.into_iter().enumerate() {
        match outcome {
            Some(Ok(())) => {}
            Some(Err(e)) => panic!("client {i} failed: {e}"),
            None => panic!("client {i} was not served within 10 s"),
        }
    }
    assert!(
        slowest < secs(3),
        "a client waited {slowest:?} for its handshake and echo"
    );
    (idle, busy)
}

#[test]
fn many_threads_in_accept_handshake_serve_every_client_without_a_busy_loop() {
    // Process CPU time is only meaningful with no other test running: own process.
    if !in_child(
        "accept_handshake::many_threads_in_accept_handshake_serve_every_client_without_a_busy_loop",
        &[],
    ) {
        return;
    }
    const CLIENTS: usize = 50;
    let pki = Pki::new();
    let listener = bind_with(&pki.acceptor());
    let server = Server::start(&listener, 4, 0);
    let (idle, busy) = idle_then_bursts(&listener, &pki, CLIENTS);
    let (served, _) = server.stop();
    println!(
        "4 threads in accept_handshake: idle 1 s used {idle:?}; {CLIENTS} clients used {busy:?}"
    );
    assert_eq!(served, CLIENTS);
    let stats = listener.stats();
    assert_eq!(
        (stats.accepted, stats.succeeded),
        (CLIENTS as u64, CLIENTS as u64)
    );
    assert!(
        idle < ms(100),
        "four threads waiting in accept_handshake used {idle:?} of CPU in 1 s"
    );
    // About 2 ms of CPU per client (both ends); waiting callers must add no busy loop.
    assert!(busy < ms(500), "{CLIENTS} clients used {busy:?} of CPU");
}

#[test]
fn accept_and_accept_handshake_share_a_listener_without_a_busy_loop() {
    if !in_child(
        "accept_handshake::accept_and_accept_handshake_share_a_listener_without_a_busy_loop",
        &[],
    ) {
        return;
    }
    const CLIENTS: usize = 50;
    let pki = Pki::new();
    let listener = bind_with(&pki.acceptor());
    let server = Server::start(&listener, 2, 2);
    let (idle, busy) = idle_then_bursts(&listener, &pki, CLIENTS);
    let (served, by_accept) = server.stop();
    println!(
        "2 threads in accept, 2 in accept_handshake: idle 1 s used {idle:?}; {CLIENTS} \
         clients ({by_accept} through accept) used {busy:?}"
    );
    assert_eq!(served, CLIENTS);
    assert_eq!(listener.stats().succeeded, CLIENTS as u64);
    assert!(
        idle < ms(100),
        "threads waiting in accept and accept_handshake used {idle:?} of CPU in 1 s"
    );
    assert!(busy < ms(500), "{CLIENTS} clients used {busy:?} of CPU");
}
