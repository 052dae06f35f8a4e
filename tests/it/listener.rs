//! One `Listener` shared by several tasks on several threads (`Arc<Listener>`, `accept`
//! from each): no busy loop, every client served, no lost wake-up.

use crate::common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::{Connector, Listener, TcpStream, TlsStream};

fn bind(pki: &Pki) -> Arc<Listener> {
    Arc::new(run(10, pki.acceptor().bind("127.0.0.1", 0)).expect("bind"))
}

/// `accept` once on a thread of its own; the peer address comes back on `done`.
fn accept_on_a_thread(
    listener: &Arc<Listener>,
    done: &mpsc::Sender<tlsport::Result<SocketAddr>>,
) -> thread::JoinHandle<()> {
    let (listener, done) = (listener.clone(), done.clone());
    thread::spawn(move || {
        let got = future::block_on(listener.accept()).map(|(_, peer)| peer);
        let _ = done.send(got);
    })
}

#[test]
fn a_listener_shared_by_idle_threads_burns_no_cpu() {
    // Process CPU time is only meaningful with no other test running: own process.
    if !in_child(
        "listener::a_listener_shared_by_idle_threads_burns_no_cpu",
        &[],
    ) {
        return;
    }
    let pki = Pki::new();
    let listener = bind(&pki);
    let port = listener.local_addr().unwrap().port();
    let (done, results) = mpsc::channel();
    let threads: Vec<_> = (0..3)
        .map(|_| accept_on_a_thread(&listener, &done))
        .collect();
    thread::sleep(ms(300));

    let before = cpu_time();
    thread::sleep(secs(1));
    let used = cpu_time() - before;
    println!("three threads idle in accept for 1 s used {used:?} of CPU");

    // Every waiting thread still gets a client.
    let connector = pki.connector();
    let clients: Vec<_> = (0..3)
        .map(|_| run(20, connector.connect("127.0.0.1", port)).expect("client"))
        .collect();
    for _ in 0..3 {
        let got = results
            .recv_timeout(secs(20))
            .expect("a waiting accept got no client");
        got.expect("accept failed");
    }
    for t in threads {
        t.join().unwrap();
    }
    drop(clients);
    assert!(
        used < ms(100),
        "three threads waiting in accept on one idle Listener used {used:?} of CPU in 1 s"
    );
}

#[test]
fn fifty_clients_in_bursts_are_all_served_promptly_by_four_threads_sharing_a_listener() {
    // Checks the process's CPU time too: own process.
    if !in_child(
        "listener::fifty_clients_in_bursts_are_all_served_promptly_by_four_threads_sharing_a_listener",
        &[],
    ) {
        return;
    }
    const BURSTS: usize = 5;
    const PER_BURST: usize = 10;
    const CLIENTS: usize = BURSTS * PER_BURST;
    let pki = Pki::new();
    let listener = bind(&pki);
    // Fewer slots than a burst: the listener fills up, and waiting tasks must be woken
    // when slots free up.
    listener.set_max_handshakes(4);
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    let servers: Vec<_> = (0..4)
        .map(|_| {
            let (listener, served, stopped) = (listener.clone(), served.clone(), stopped.clone());
            thread::spawn(move || {
                let serve = async {
                    loop {
                        let (mut s, _) = listener.accept().await.expect("the listener failed");
                        served.fetch_add(1, Ordering::Relaxed);
                        // Echo one byte, inline: this task is away from `accept` meanwhile.
                        let mut byte = [0; 1];
                        if s.read_exact(&mut byte).await.is_ok() {
                            let _ = s.write_all(&byte).await;
                            let _ = s.close().await;
                        }
                    }
                };
                future::block_on(future::or(serve, async {
                    let _ = stopped.recv().await;
                }));
            })
        })
        .collect();

    let connector = pki.connector();
    // The tasks wait a second for the first burst, then 300 ms between bursts.
    let start = Instant::now();
    let cpu = cpu_time();
    let outcomes = run(
        60,
        futures::future::join_all((0..CLIENTS).map(|i| {
            let connector = connector.clone();
            async move {
                let burst = (i / PER_BURST) as u32;
                async_io::Timer::after(secs(1) + ms(300) * burst).await;
                let started = Instant::now();
                let served = within(secs(10), async {
                    let mut s = connector.connect("127.0.0.1", port).await?;
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
    let took = start.elapsed();
    let cpu = cpu_time() - cpu;
    drop(stop);
    for t in servers {
        t.join().expect("a server thread panicked");
    }
    let slowest = outcomes.iter().map(|(_, t)| *t).max().unwrap();
    println!(
        "{CLIENTS} clients in {BURSTS} bursts served by 4 threads in {took:?} (slowest \
         {slowest:?}), using {cpu:?} of CPU"
    );
    for (i, (outcome, _)) in outcomes.into_iter().enumerate() {
        match outcome {
            Some(Ok(())) => {}
            Some(Err(e)) => panic!("client {i} failed: {e}"),
            None => panic!("client {i} was not served within 10 s"),
        }
    }
    assert_eq!(served.load(Ordering::Relaxed), CLIENTS);
    assert!(
        slowest < secs(2),
        "a client waited {slowest:?} for its handshake and echo"
    );
    // About 2 ms of CPU per client (both ends) here; tasks waiting in `accept` before
    // and between bursts must not add a busy loop on top.
    assert!(
        cpu < ms(400),
        "{CLIENTS} clients over {took:?} used {cpu:?} of CPU"
    );
}

/// Runs `connector.connect_with("localhost", tcp)` on a thread of its own (so that its
/// wake-ups never poll an `accept` of the test's task), within 5 s.
fn handshake_on_a_thread(
    connector: &Connector,
    tcp: TcpStream,
) -> thread::JoinHandle<Option<tlsport::Result<TlsStream<TcpStream>>>> {
    let connector = connector.clone();
    thread::spawn(move || {
        future::block_on(within(secs(5), connector.connect_with("localhost", tcp)))
    })
}

/// A future that reports its first poll.
struct ReportFirstPoll<F> {
    inner: Pin<Box<F>>,
    polled: Option<mpsc::Sender<()>>,
}

impl<F: Future> Future for ReportFirstPoll<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = self.inner.as_mut().poll(cx);
        if let Some(polled) = self.polled.take() {
            let _ = polled.send(());
        }
        out
    }
}

/// `accept` on a thread of its own, given up after `limit`; returns once it has been
/// polled for the first time (and not again since, unless woken). The peer address
/// comes back on `done`.
fn accept_polled_once_on_a_thread(
    listener: &Arc<Listener>,
    limit: Duration,
    done: &mpsc::Sender<Option<tlsport::Result<SocketAddr>>>,
) -> thread::JoinHandle<()> {
    let (listener, done) = (listener.clone(), done.clone());
    let (polled, first_poll) = mpsc::channel();
    let thread = thread::spawn(move || {
        let accept = ReportFirstPoll {
            inner: Box::pin(within(limit, listener.accept())),
            polled: Some(polled),
        };
        let got = future::block_on(accept);
        let _ = done.send(got.map(|r| r.map(|(_, peer)| peer)));
    });
    first_poll
        .recv_timeout(secs(10))
        .expect("the accept thread never polled");
    thread
}

#[test]
fn a_handshake_finishing_after_the_accept_that_last_polled_it_was_dropped_is_delivered() {
    let pki = Pki::new();
    let listener = bind(&pki);
    // Full with one handshake: a second accept only waits.
    listener.set_max_handshakes(1);
    let addr = listener.local_addr().unwrap();
    let connector = pki.connector();
    // A client connected but silent: its handshake starts in `a` and waits.
    let tcp = run(10, TcpStream::connect(addr)).unwrap();
    let local = tcp.local_addr().unwrap();
    let (done, results) = mpsc::channel();
    let a = accept_polled_once_on_a_thread(&listener, secs(5), &done);
    // Another task looks at the listener last, then goes away (cancelled).
    {
        let mut b = Box::pin(listener.accept());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(b.as_mut().poll(&mut cx).is_pending());
    }
    // Now the client speaks: its finished handshake must reach `a`.
    let client = handshake_on_a_thread(&connector, tcp).join().unwrap();
    let server = results.recv_timeout(secs(10)).unwrap();
    a.join().unwrap();
    let server = server.expect("the finished handshake never reached the remaining accept");
    assert_eq!(server.expect("accept"), local);
    client
        .expect("client handshake hangs")
        .expect("client handshake");
}

#[test]
fn a_handshake_finishing_after_the_accept_that_last_polled_it_returned_is_delivered() {
    let pki = Pki::new();
    let listener = bind(&pki);
    // Full with two handshakes: later accepts only wait.
    listener.set_max_handshakes(2);
    let addr = listener.local_addr().unwrap();
    let connector = pki.connector();
    // Two clients connected but silent; `a` takes both in, then `b` looks last.
    let x = run(10, TcpStream::connect(addr)).unwrap();
    let y = run(10, TcpStream::connect(addr)).unwrap();
    let (x_local, y_local) = (x.local_addr().unwrap(), y.local_addr().unwrap());
    let (done, results) = mpsc::channel();
    let a = accept_polled_once_on_a_thread(&listener, secs(10), &done);
    let b = accept_polled_once_on_a_thread(&listener, secs(10), &done);
    // `x` speaks; one accept returns it and is gone.
    let x = handshake_on_a_thread(&connector, x).join().unwrap();
    let _x = x
        .expect("the first handshake hangs")
        .expect("first handshake");
    let first = results
        .recv_timeout(secs(5))
        .unwrap()
        .expect("the first finished handshake was not delivered")
        .expect("accept");
    assert_eq!(first, x_local);
    // Then `y` speaks: the accept still waiting must get it.
    let y = handshake_on_a_thread(&connector, y).join().unwrap();
    let second = results
        .recv_timeout(secs(10))
        .unwrap()
        .expect("the second finished handshake never reached the accept still waiting");
    assert_eq!(second.expect("accept"), y_local);
    y.expect("the second handshake hangs")
        .expect("second handshake");
    a.join().unwrap();
    b.join().unwrap();
}
