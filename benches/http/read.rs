//! The cost of filling hyper's `ReadBufCursor` without `unsafe`: bulk plaintext read from a
//! `TlsStream` over the in-memory `duplex` (client and server on this thread, so the
//! figures include encryption and decryption) three ways:
//!
//! - `AsyncRead`: `poll_read` into a 64 KiB slice (one copy out of rustls): the baseline;
//! - `hyper::rt::Read`: what tlsport ships, `put_slice` straight from rustls's buffer (one
//!   copy) into a 64 KiB `ReadBuf`;
//! - scratch: `AsyncRead` into a zeroed 16 KiB stack buffer per call, then `put_slice`
//!   (two copies and a memset): the obvious safe alternative.

use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use hyper::rt::ReadBuf;
use tlsport::{DuplexStream, TlsStream};

use crate::measure::{median, process_cpu_ns, spread};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    AsyncRead,
    HyperRead,
    Scratch,
}

const WAYS: [Way; 3] = [Way::AsyncRead, Way::HyperRead, Way::Scratch];

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::AsyncRead => "AsyncRead into &mut [u8]",
            Way::HyperRead => "hyper::rt::Read (shipped)",
            Way::Scratch => "scratch buffer + put_slice",
        }
    }
}

pub fn section(mib: usize, runs: usize) {
    println!("\n== read: {mib} MiB through one TlsStream over duplex, both sides on one thread");
    let pki = crate::common::Pki::new();
    let (connector, acceptor) = (pki.connector(), pki.acceptor());
    let mut rates = vec![Vec::new(); WAYS.len()];
    let mut costs = vec![Vec::new(); WAYS.len()];
    for run in 0..runs {
        let mut order: Vec<usize> = (0..WAYS.len()).collect();
        order.rotate_left(run % WAYS.len());
        for i in order {
            let (secs, cpu_ns) = futures_lite::future::block_on(async {
                let (client, server) = crate::common::connected_pair(&connector, &acceptor).await;
                transfer(WAYS[i], client, server, mib).await
            });
            rates[i].push(mib as f64 / secs);
            costs[i].push(cpu_ns as f64 / (mib as f64 * 1024.0 * 1024.0));
        }
    }
    println!(
        "{:<28} {:>9} {:>8} {:>11} {:>8} {:>9}",
        "read through", "MiB/s", "spread", "CPU ns/B", "spread", "CPU ratio"
    );
    let base = median(&costs[0]);
    for (i, way) in WAYS.iter().enumerate() {
        println!(
            "{:<28} {:>9.0} {:>7.1}% {:>11.3} {:>7.1}% {:>9.3}",
            way.name(),
            median(&rates[i]),
            spread(&rates[i]),
            median(&costs[i]),
            spread(&costs[i]),
            median(&costs[i]) / base
        );
    }
}

/// The server writes `mib` MiB and closes; the client reads it all `way`. Returns the
/// wall seconds and the CPU time of both.
async fn transfer(
    way: Way,
    mut client: TlsStream<DuplexStream>,
    mut server: TlsStream<DuplexStream>,
    mib: usize,
) -> (f64, u64) {
    let chunk = vec![0x5a; 64 * 1024];
    let total = mib * 1024 * 1024;
    let cpu = process_cpu_ns();
    let start = Instant::now();
    let write = async {
        for _ in 0..total / chunk.len() {
            server.write_all(&chunk).await.unwrap();
        }
        server.close().await.unwrap();
    };
    let read = async {
        let mut got = 0;
        let mut backing = vec![0; 64 * 1024];
        loop {
            let n = match way {
                Way::AsyncRead => client.read(&mut backing).await.unwrap(),
                Way::HyperRead | Way::Scratch => {
                    let mut buf = ReadBuf::new(&mut backing);
                    std::future::poll_fn(|cx| {
                        let cursor = buf.unfilled();
                        let tls = Pin::new(&mut client);
                        if way == Way::HyperRead {
                            return hyper::rt::Read::poll_read(tls, cx, cursor);
                        }
                        let mut cursor = cursor;
                        let mut scratch = [0u8; 16 * 1024];
                        let max = cursor.remaining().min(scratch.len());
                        match futures_io::AsyncRead::poll_read(tls, cx, &mut scratch[..max]) {
                            Poll::Ready(Ok(n)) => {
                                cursor.put_slice(&scratch[..n]);
                                Poll::Ready(Ok(()))
                            }
                            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                            Poll::Pending => Poll::Pending,
                        }
                    })
                    .await
                    .unwrap();
                    buf.filled().len()
                }
            };
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(got, total);
    };
    futures_lite::future::zip(write, read).await;
    (start.elapsed().as_secs_f64(), process_cpu_ns() - cpu)
}
