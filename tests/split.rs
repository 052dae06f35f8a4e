//! Read and write halves driven from separate tasks on separate threads.

mod common;

use std::time::Duration;

use common::*;
use futures::executor::ThreadPool;
use futures::task::SpawnExt;
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
    if !in_child("idle_split_connection_burns_no_cpu", &[]) {
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
