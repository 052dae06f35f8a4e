//! Read and write halves driven from separate tasks on separate threads.

use crate::common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use common::*;
use futures::executor::ThreadPool;
use futures::task::SpawnExt;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use tlsport::{DuplexStream, ReadHalf, TlsStream, WriteHalf};

fn pool() -> ThreadPool {
    ThreadPool::builder().pool_size(2).create().unwrap()
}

/// Writes `data` through `w` and closes it (close_notify).
async fn send_all(mut w: WriteHalf<DuplexStream>, data: Vec<u8>) -> WriteHalf<DuplexStream> {
    for chunk in data.chunks(16 * 1024) {
        w.write_all(chunk).await.unwrap();
    }
    w.close().await.unwrap();
    w
}

/// Reads `r` to a clean end. (futures-lite's `read_to_end` zero-fills the vector's
/// whole spare capacity on every read, which is quadratic for large transfers in small
/// pieces, so this reads in chunks.)
async fn recv_all(mut r: ReadHalf<DuplexStream>) -> (ReadHalf<DuplexStream>, Vec<u8>) {
    let mut got = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    loop {
        match r.read(&mut chunk).await.unwrap() {
            0 => return (r, got),
            n => got.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Both ends split, each half on its own task of a 2-thread pool, `len` bytes each way
/// through a duplex of `buffer` bytes. Checks content and reunites.
fn full_duplex(len: usize, buffer: usize) {
    let pki = Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    let pool = pool();
    run(120, async move {
        let (c, s) = tlsport::duplex(buffer);
        let (c, s) = future::zip(connector.connect_with("localhost", c), acceptor.accept(s)).await;
        let (cr, cw) = c.unwrap().split();
        let (sr, sw) = s.unwrap().split();
        let (up, down) = (pattern(len, 1), pattern(len, 2));
        let tasks = (
            pool.spawn_with_handle(send_all(cw, up.clone())).unwrap(),
            pool.spawn_with_handle(recv_all(sr)).unwrap(),
            pool.spawn_with_handle(send_all(sw, down.clone())).unwrap(),
            pool.spawn_with_handle(recv_all(cr)).unwrap(),
        );
        let (cw, (sr, at_server)) = future::zip(tasks.0, tasks.1).await;
        let (sw, (cr, at_client)) = future::zip(tasks.2, tasks.3).await;
        assert!(at_server == up, "client -> server corrupted");
        assert!(at_client == down, "server -> client corrupted");
        let client: TlsStream<_> = cr.reunite(cw).unwrap();
        let server: TlsStream<_> = sr.reunite(sw).unwrap();
        assert!(client.info().is_client && !server.info().is_client);
    });
}

#[test]
fn full_duplex_32_mib_each_way_on_two_threads() {
    full_duplex(32 << 20, 256 * 1024);
}

#[test]
fn both_peers_write_hard_through_small_buffers() {
    // The deadlock case of tokio-rustls issue 32: 8 MiB each way through 4 KiB of
    // buffering, both writers pushing at once. A half that held the stream while
    // blocked, or a lost wake-up, stalls this until the deadline.
    full_duplex(8 << 20, 4096);
}

#[test]
fn half_close_in_both_orders() {
    for client_first in [true, false] {
        let pki = Pki::new();
        run(20, async {
            let (c, s) = connected_pair(&pki.connector(), &pki.acceptor()).await;
            let (c, s) = if client_first { (c, s) } else { (s, c) };
            // `c` closes its writing side first; `s` keeps sending afterwards.
            let (mut cr, mut cw) = c.split();
            let (mut sr, mut sw) = s.split();
            cw.write_all(b"last words").await.unwrap();
            cw.close().await.unwrap();
            let mut got = Vec::new();
            sr.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"last words");
            assert!(cw.write_all(b"more").await.is_err(), "write after close");
            sw.write_all(b"still talking").await.unwrap();
            sw.close().await.unwrap();
            let mut back = Vec::new();
            cr.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, b"still talking", "client_first={client_first}");
        });
    }
}

#[test]
fn dropping_one_half_leaves_the_other_working() {
    let pki = Pki::new();
    run(20, async {
        let (c, s) = connected_pair(&pki.connector(), &pki.acceptor()).await;
        let (cr, mut cw) = c.split();
        let (mut sr, sw) = s.split();
        drop(cr);
        drop(sw);
        cw.write_all(b"after drop").await.unwrap();
        cw.close().await.unwrap();
        let mut got = Vec::new();
        sr.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"after drop");
    });
}

#[test]
fn read_half_is_woken_while_the_write_half_waits_on_backpressure() {
    let pki = Pki::new();
    let pool = pool();
    run(30, async move {
        let (c, s) = tlsport::duplex(16 * 1024);
        let (c, s) = future::zip(
            pki.connector().connect_with("localhost", c),
            pki.acceptor().accept(s),
        )
        .await;
        let (mut cr, mut cw) = c.unwrap().split();
        let mut server = s.unwrap();
        let big = pattern(1 << 20, 7);
        // The client's writer blocks: the server is not reading yet.
        let writer = pool
            .spawn_with_handle(async move {
                cw.write_all(&big).await.unwrap();
                cw.flush().await.unwrap();
                cw
            })
            .unwrap();
        let reader = pool
            .spawn_with_handle(async move {
                let mut line = [0; 5];
                cr.read_exact(&mut line).await.unwrap();
                (cr, line)
            })
            .unwrap();
        async_io::Timer::after(Duration::from_millis(200)).await;
        // While the writer is stuck, the server's message must reach the read half.
        server.write_all(b"hello").await.unwrap();
        server.flush().await.unwrap();
        let (_cr, line) = reader.await;
        assert_eq!(&line, b"hello");
        // Now drain, and the writer finishes.
        let mut sink = vec![0; 1 << 20];
        server.read_exact(&mut sink).await.unwrap();
        assert!(sink == pattern(1 << 20, 7));
        writer.await;
    });
}

#[test]
fn idle_split_connection_burns_no_cpu() {
    // Process CPU time is only meaningful with no other test running: own process.
    if !in_child("split::idle_split_connection_burns_no_cpu", &[]) {
        return;
    }
    let pki = Pki::new();
    let pool = pool();
    run(20, async move {
        let (c, _s) = connected_pair(&pki.connector(), &pki.acceptor()).await;
        let (mut cr, cw) = c.split();
        let reader = pool
            .spawn_with_handle(async move {
                let mut buf = [0; 16];
                let _ = cr.read(&mut buf).await;
            })
            .unwrap();
        let before = cpu_time();
        async_io::Timer::after(Duration::from_secs(1)).await;
        let used = cpu_time() - before;
        assert!(
            used < Duration::from_millis(200),
            "an idle split read used {used:?} of CPU"
        );
        drop(cw);
        drop(reader);
    });
}

// ---------------------------------------------------------------------------------------
// Generic splitters (issue 11, item 13): `futures::io::split` and `tokio::io::split` over
// tokio-util's compat layer lock the one `TlsStream` and poll it with each half's own
// waker. The read path writes to the transport too (session tickets, KeyUpdate replies,
// and whatever the writer has queued), so a reader must not take the transport's write
// waker from a writer blocked on it: over a transport that replaces that waker silently
// (async-net's stream, tokio's through compat, `duplex`) the writer was never woken
// again once the reader had sent the writer's records for it (each of these tests failed
// so before the fix); over one that wakes the waker it replaces (async-io's `Async`) the
// halves woke each other back and forth.
// ---------------------------------------------------------------------------------------

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The server side, on its own thread: a byte of application data every 50 ms, reading
/// nothing, until `resume` is set; then it reads and checks `len` bytes of
/// `pattern(len, 9)`, and closes.
fn trickling_peer<S>(
    acceptor: tlsport::Acceptor,
    io: impl Future<Output = S> + Send + 'static,
    len: usize,
    resume: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    std::thread::spawn(move || {
        run(60, async move {
            let mut tls = acceptor.accept(io.await).await.unwrap();
            while !resume.load(SeqCst) {
                tls.write_all(b".").await.unwrap();
                tls.flush().await.unwrap();
                async_io::Timer::after(Duration::from_millis(50)).await;
            }
            let mut got = vec![0; len];
            tls.read_exact(&mut got).await.unwrap();
            assert!(
                got == pattern(len, 9),
                "the writer's data arrived corrupted"
            );
            tls.close().await.unwrap();
        })
    })
}

/// The client's halves, each on its own task (`spawn`): the writer pushes `len` bytes at
/// the peer, which reads nothing at first, so the writer blocks; the reader reads the
/// peer's trickle, woken every 50 ms. While both wait: little CPU (no spin), and the
/// reader does get the trickle. Once the peer reads again: the writer finishes (no lost
/// wake-up).
async fn blocked_writer_and_woken_reader<R, W>(
    mut read: R,
    mut write: W,
    spawn: impl Fn(Task) -> Task,
    len: usize,
    resume: Arc<AtomicBool>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let data = pattern(len, 9);
    let done = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicUsize::new(0));
    let writer = spawn({
        let done = done.clone();
        Box::pin(async move {
            write.write_all(&data).await.unwrap();
            write.flush().await.unwrap();
            done.store(true, SeqCst);
        })
    });
    let reader = spawn({
        let received = received.clone();
        Box::pin(async move {
            let mut buf = [0; 1024];
            loop {
                match read.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => received.fetch_add(n, SeqCst),
                };
            }
        })
    });
    // Let the writer fill every buffer on the way and block: wait for a quiet 200 ms (at
    // most 5 s: a spin is never quiet, and is caught below).
    let settle = Instant::now() + Duration::from_secs(5);
    loop {
        let cpu = cpu_time();
        async_io::Timer::after(Duration::from_millis(200)).await;
        if cpu_time() - cpu < Duration::from_millis(40) || Instant::now() > settle {
            break;
        }
    }
    let (cpu, trickle) = (cpu_time(), received.load(SeqCst));
    async_io::Timer::after(Duration::from_millis(1500)).await;
    let used = cpu_time() - cpu;
    let woken = received.load(SeqCst) - trickle;
    assert!(!done.load(SeqCst), "the writer never blocked: raise `len`");
    assert!(woken > 0, "the reader never got the peer's trickle");
    assert!(
        used < Duration::from_millis(300),
        "a blocked writer and a reader woken {woken} times used {used:?} of CPU in 1.5 s"
    );
    resume.store(true, SeqCst);
    within(Duration::from_secs(20), writer)
        .await
        .expect("the peer reads again, yet the blocked writer is never woken");
    within(Duration::from_secs(10), reader)
        .await
        .expect("the reader never saw the peer's close_notify");
}

/// `tokio::io::split` over tokio-util's compat layer, back to futures-io halves.
fn tokio_split<T>(
    tls: TlsStream<T>,
) -> (
    impl AsyncRead + Unpin + Send + 'static,
    impl AsyncWrite + Unpin + Send + 'static,
)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use tokio_util::compat::{
        FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt,
    };
    let (read, write) = tokio::io::split(tls.compat());
    (read.compat(), write.compat_write())
}

/// The scenario over an in-memory pair with 16 KiB of buffering, halves on the 2-thread
/// pool, split by `split`.
fn over_duplex<R, W>(split: impl FnOnce(TlsStream<DuplexStream>) -> (R, W))
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let pki = Pki::new();
    let pool = pool();
    let resume = Arc::new(AtomicBool::new(false));
    let len = 4 << 20;
    let (c, s) = tlsport::duplex(16 * 1024);
    let peer = trickling_peer(pki.acceptor(), async { s }, len, resume.clone());
    run(60, async move {
        let client = pki.connector().connect_with("localhost", c).await.unwrap();
        let (read, write) = split(client);
        let spawn = |task: Task| -> Task { Box::pin(pool.spawn_with_handle(task).unwrap()) };
        blocked_writer_and_woken_reader(read, write, spawn, len, resume).await;
    });
    peer.join().unwrap();
}

/// Bytes the writer sends over loopback TCP: more than the socket buffers hold.
const TCP_BACKLOG: usize = 32 << 20;

/// A loopback listener for the peer, and the future of its first connection.
fn tcp_peer_end() -> (
    std::net::SocketAddr,
    impl Future<Output = tlsport::TcpStream> + Send + 'static,
) {
    let listener = future::block_on(async_net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, async move { listener.accept().await.unwrap().0 })
}

#[test]
fn futures_split_over_tcp_blocked_writer_neither_spins_nor_loses_its_wakeup() {
    if !in_child(
        "split::futures_split_over_tcp_blocked_writer_neither_spins_nor_loses_its_wakeup",
        &[],
    ) {
        return;
    }
    let pki = Pki::new();
    let pool = pool();
    let resume = Arc::new(AtomicBool::new(false));
    let (addr, accepted) = tcp_peer_end();
    let peer = trickling_peer(pki.acceptor(), accepted, TCP_BACKLOG, resume.clone());
    run(60, async move {
        let tcp = tlsport::TcpStream::connect(addr).await.unwrap();
        let client = pki
            .connector()
            .connect_with("localhost", tcp)
            .await
            .unwrap();
        let (read, write) = futures::io::AsyncReadExt::split(client);
        let spawn = |task: Task| -> Task { Box::pin(pool.spawn_with_handle(task).unwrap()) };
        blocked_writer_and_woken_reader(read, write, spawn, TCP_BACKLOG, resume).await;
    });
    peer.join().unwrap();
}

// The same over async-io's `Async<TcpStream>`, which (unlike async-net's stream) wakes
// the write waker it replaces: a reader that registered its own waker there woke the
// writer, which took the registration back and woke the reader, and so on. (Before the
// fix that only cost a burst of polls per wake-up, so this one passed; it guards against
// a fix that would turn it into a loop, such as a waker waking both halves.)
#[test]
fn futures_split_over_async_io_blocked_writer_neither_spins_nor_loses_its_wakeup() {
    if !in_child(
        "split::futures_split_over_async_io_blocked_writer_neither_spins_nor_loses_its_wakeup",
        &[],
    ) {
        return;
    }
    let pki = Pki::new();
    let pool = pool();
    let resume = Arc::new(AtomicBool::new(false));
    let (addr, accepted) = tcp_peer_end();
    let peer = trickling_peer(pki.acceptor(), accepted, TCP_BACKLOG, resume.clone());
    run(60, async move {
        let tcp = async_io::Async::<std::net::TcpStream>::connect(addr)
            .await
            .unwrap();
        let client = pki
            .connector()
            .connect_with("localhost", tcp)
            .await
            .unwrap();
        let (read, write) = futures::io::AsyncReadExt::split(client);
        let spawn = |task: Task| -> Task { Box::pin(pool.spawn_with_handle(task).unwrap()) };
        blocked_writer_and_woken_reader(read, write, spawn, TCP_BACKLOG, resume).await;
    });
    peer.join().unwrap();
}

#[test]
fn futures_split_over_duplex_blocked_writer_neither_spins_nor_loses_its_wakeup() {
    if !in_child(
        "split::futures_split_over_duplex_blocked_writer_neither_spins_nor_loses_its_wakeup",
        &[],
    ) {
        return;
    }
    over_duplex(futures::io::AsyncReadExt::split);
}

#[test]
fn tokio_split_over_tokio_tcp_blocked_writer_neither_spins_nor_loses_its_wakeup() {
    if !in_child(
        "split::tokio_split_over_tokio_tcp_blocked_writer_neither_spins_nor_loses_its_wakeup",
        &[],
    ) {
        return;
    }
    use tokio_util::compat::TokioAsyncReadCompatExt;
    let pki = Pki::new();
    let resume = Arc::new(AtomicBool::new(false));
    let (addr, accepted) = tcp_peer_end();
    let peer = trickling_peer(pki.acceptor(), accepted, TCP_BACKLOG, resume.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let scenario = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let client = pki
                .connector()
                .connect_with("localhost", tcp.compat())
                .await
                .unwrap();
            let (read, write) = tokio_split(client);
            let spawn = |task: Task| -> Task {
                let handle = tokio::spawn(task);
                Box::pin(async move { handle.await.unwrap() })
            };
            blocked_writer_and_woken_reader(read, write, spawn, TCP_BACKLOG, resume).await;
        };
        within(Duration::from_secs(60), scenario)
            .await
            .expect("test deadline of 60 s passed: something hangs");
    });
    peer.join().unwrap();
}

#[test]
fn tokio_split_over_duplex_blocked_writer_neither_spins_nor_loses_its_wakeup() {
    if !in_child(
        "split::tokio_split_over_duplex_blocked_writer_neither_spins_nor_loses_its_wakeup",
        &[],
    ) {
        return;
    }
    over_duplex(tokio_split);
}
