//! Bulk transfer over one loopback TCP connection: each direction alone, both at once
//! (split halves against one task), and the transport calls behind them.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::AsyncWriteExt;

use crate::contenders::{self, Contender, Setup};
use crate::measure::{Counted, IoCounts, Meter, Sample, Worker};

/// Plaintext write size.
pub const WRITE: usize = 16 * 1024;
/// Plaintext read buffer: large enough that a driver returning more than one record per
/// read can show it.
pub const READ: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client->server",
            Direction::ServerToClient => "server->client",
        }
    }
}

/// A connected loopback TCP pair (client end, server end).
pub fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    Ok((client, server))
}

fn chunk() -> Vec<u8> {
    crate::common::pattern(WRITE, 7)
}

/// Writes `total` bytes in `WRITE`-sized writes, then closes (close_notify + FIN).
pub async fn send_all<W: AsyncWrite + Unpin>(w: &mut W, total: u64) -> io::Result<()> {
    let data = chunk();
    let mut left = total;
    while left > 0 {
        let n = left.min(WRITE as u64) as usize;
        w.write_all(&data[..n]).await?;
        left -= n as u64;
    }
    w.close().await
}

/// Reads to the end into a `READ`-sized buffer; returns (bytes, reads that returned data).
pub async fn recv_all<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<(u64, u64)> {
    let mut buf = vec![0u8; READ];
    let (mut total, mut reads) = (0u64, 0u64);
    loop {
        let n = futures_lite::AsyncReadExt::read(r, &mut buf).await?;
        if n == 0 {
            return Ok((total, reads));
        }
        total += n as u64;
        reads += 1;
    }
}

/// Sends `total` bytes and reads to the end at once, from one task, on one stream:
/// every poll tries both directions.
pub struct FullDuplex<'a, S> {
    io: &'a mut S,
    data: Vec<u8>,
    buf: Vec<u8>,
    to_send: u64,
    closed: bool,
    received: u64,
    eof: bool,
}

pub fn full_duplex<S>(io: &mut S, total: u64) -> FullDuplex<'_, S> {
    FullDuplex {
        io,
        data: chunk(),
        buf: vec![0; READ],
        to_send: total,
        closed: false,
        received: 0,
        eof: false,
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for FullDuplex<'_, S> {
    type Output = io::Result<u64>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            let mut progress = false;
            if this.to_send > 0 {
                let n = this.to_send.min(WRITE as u64) as usize;
                if let Poll::Ready(r) = Pin::new(&mut *this.io).poll_write(cx, &this.data[..n]) {
                    this.to_send -= r? as u64;
                    progress = true;
                }
            } else if !this.closed {
                if let Poll::Ready(r) = Pin::new(&mut *this.io).poll_close(cx) {
                    r?;
                    this.closed = true;
                    progress = true;
                }
            }
            if !this.eof {
                if let Poll::Ready(r) = Pin::new(&mut *this.io).poll_read(cx, &mut this.buf) {
                    match r? {
                        0 => this.eof = true,
                        n => this.received += n as u64,
                    }
                    progress = true;
                }
            }
            if this.closed && this.eof {
                return Poll::Ready(Ok(this.received));
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }
}

/// The result of one bulk run.
pub struct BulkRun {
    pub sample: Sample,
    /// Plaintext bytes moved (both directions for full duplex).
    pub bytes: u64,
    /// Receiver's plaintext reads that returned data.
    pub app_reads: u64,
}

/// One transfer of `total` bytes in `dir` over a fresh loopback connection: the client on
/// worker `a`, the server on worker `b`. Only the transfer is timed (after both
/// handshakes).
pub fn one_way(
    setup: &Arc<Setup>,
    workers: &[Worker; 2],
    who: Contender,
    dir: Direction,
    total: u64,
    counts: Option<(Arc<IoCounts>, Arc<IoCounts>)>,
) -> io::Result<BulkRun> {
    let (c_tcp, s_tcp) = tcp_pair()?;
    let barrier = Arc::new(Barrier::new(3));
    let client_sends = dir == Direction::ClientToServer;
    let (c_counts, s_counts) = match counts {
        Some((c, s)) => (Some(c), Some(s)),
        None => (None, None),
    };
    let c = {
        let (setup, barrier) = (setup.clone(), barrier.clone());
        workers[0].run(move || {
            end(
                &setup,
                who,
                true,
                c_tcp,
                client_sends,
                total,
                &barrier,
                c_counts,
            )
        })
    };
    let s = {
        let (setup, barrier) = (setup.clone(), barrier.clone());
        workers[1].run(move || {
            end(
                &setup,
                who,
                false,
                s_tcp,
                !client_sends,
                total,
                &barrier,
                s_counts,
            )
        })
    };
    barrier.wait();
    let meter = Meter::process();
    let c = c.recv().expect("client end")?;
    let s = s.recv().expect("server end")?;
    let sample = meter.stop();
    let (bytes, app_reads) = if client_sends { s } else { c };
    if bytes != total {
        return Err(io::Error::other(format!(
            "{who}: received {bytes} of {total} bytes"
        )));
    }
    Ok(BulkRun {
        sample,
        bytes,
        app_reads,
    })
}

/// [`one_way`] with both ends on this thread (two futures joined), so the transfer is
/// CPU-bound and its CPU time does not depend on how two threads get scheduled.
pub fn one_way_local(
    setup: &Setup,
    who: Contender,
    dir: Direction,
    total: u64,
) -> io::Result<BulkRun> {
    let (c_tcp, s_tcp) = tcp_pair()?;
    let (c_tcp, s_tcp) = (
        async_net::TcpStream::try_from(c_tcp)?,
        async_net::TcpStream::try_from(s_tcp)?,
    );
    async_io::block_on(async {
        let (c, s) = futures_lite::future::zip(
            contenders::client(setup, who, c_tcp),
            contenders::server(setup, who, s_tcp),
        )
        .await;
        let (mut c, mut s) = (c?, s?);
        let (sender, receiver) = match dir {
            Direction::ClientToServer => (&mut c, &mut s),
            Direction::ServerToClient => (&mut s, &mut c),
        };
        let meter = Meter::process();
        let send = async {
            send_all(sender, total).await?;
            let _ = recv_all(sender).await;
            io::Result::Ok(())
        };
        let recv = async {
            let got = recv_all(receiver).await?;
            receiver.close().await?;
            io::Result::Ok(got)
        };
        let (sent, got) = futures_lite::future::zip(send, recv).await;
        let sample = meter.stop();
        sent?;
        let (bytes, app_reads) = got?;
        if bytes != total {
            return Err(io::Error::other(format!(
                "{who}: received {bytes} of {total} bytes"
            )));
        }
        Ok(BulkRun {
            sample,
            bytes,
            app_reads,
        })
    })
}

/// One end of a one-way transfer; returns (bytes received, reads) for the receiver.
#[allow(clippy::too_many_arguments)]
fn end(
    setup: &Setup,
    who: Contender,
    is_client: bool,
    tcp: TcpStream,
    sends: bool,
    total: u64,
    barrier: &Barrier,
    counts: Option<Arc<IoCounts>>,
) -> io::Result<(u64, u64)> {
    if who == Contender::OpenSsl {
        let mut tls = if is_client {
            setup
                .ossl_connector
                .connect("localhost", tcp)
                .map_err(io::Error::other)?
        } else {
            setup.ossl_acceptor.accept(tcp).map_err(io::Error::other)?
        };
        barrier.wait();
        return if sends {
            let data = chunk();
            let mut left = total;
            while left > 0 {
                let n = left.min(WRITE as u64) as usize;
                tls.write_all(&data[..n])?;
                left -= n as u64;
            }
            tls.shutdown()?;
            // Wait for the peer's close_notify: dropping a socket with unread data (the
            // tickets) resets the connection, which could cut the peer's last reads.
            let mut buf = [0u8; 4096];
            while matches!(tls.read(&mut buf), Ok(n) if n > 0) {}
            Ok((0, 0))
        } else {
            let mut buf = vec![0u8; READ];
            let (mut got, mut reads) = (0u64, 0u64);
            loop {
                match tls.read(&mut buf)? {
                    0 => break,
                    n => {
                        got += n as u64;
                        reads += 1;
                    }
                }
            }
            tls.shutdown()?;
            Ok((got, reads))
        };
    }
    let tcp = async_net::TcpStream::try_from(tcp)?;
    let mut tls = async_io::block_on(async {
        match counts {
            Some(counts) => {
                let io = Counted { io: tcp, counts };
                if is_client {
                    contenders::client(setup, who, io).await
                } else {
                    contenders::server(setup, who, io).await
                }
            }
            None if is_client => contenders::client(setup, who, tcp).await,
            None => contenders::server(setup, who, tcp).await,
        }
    })?;
    barrier.wait();
    async_io::block_on(async {
        if sends {
            send_all(&mut tls, total).await?;
            // Wait for the peer's close_notify: dropping a socket with unread data (the
            // tickets) resets the connection, which could cut the peer's last reads.
            let _ = recv_all(&mut tls).await;
            Ok((0, 0))
        } else {
            let got = recv_all(&mut tls).await?;
            tls.close().await?;
            Ok(got)
        }
    })
}

/// Both directions at once, `total` bytes each way. The server runs [`full_duplex`] on
/// one task; the client either the same (`split == false`) or its split halves, a
/// writer and a reader future joined on one thread.
pub fn both_ways(
    setup: &Arc<Setup>,
    workers: &[Worker; 2],
    who: Contender,
    split: bool,
    total: u64,
) -> io::Result<BulkRun> {
    let (c_tcp, s_tcp) = tcp_pair()?;
    let barrier = Arc::new(Barrier::new(3));
    let c = {
        let (setup, barrier) = (setup.clone(), barrier.clone());
        workers[0].run(move || -> io::Result<u64> {
            let tcp = async_net::TcpStream::try_from(c_tcp)?;
            async_io::block_on(async {
                match (who, split) {
                    (Contender::Tlsport, true) => {
                        let tls = setup.tls_full.connect_with("localhost", tcp).await?;
                        barrier.wait();
                        let (mut r, mut w) = tls.split();
                        let (sent, got) =
                            futures_lite::future::zip(send_all(&mut w, total), recv_all(&mut r))
                                .await;
                        sent?;
                        Ok(got?.0)
                    }
                    (Contender::Rustls, true) => {
                        let tls = setup.raw_full.connect(setup.name.clone(), tcp).await?;
                        barrier.wait();
                        let (mut r, mut w) = futures::io::AsyncReadExt::split(tls);
                        let (sent, got) =
                            futures_lite::future::zip(send_all(&mut w, total), recv_all(&mut r))
                                .await;
                        sent?;
                        Ok(got?.0)
                    }
                    (_, false) => {
                        let mut tls = contenders::client(&setup, who, tcp).await?;
                        barrier.wait();
                        full_duplex(&mut tls, total).await
                    }
                    (Contender::OpenSsl, true) => unreachable!(),
                }
            })
        })
    };
    let s = {
        let (setup, barrier) = (setup.clone(), barrier.clone());
        workers[1].run(move || -> io::Result<u64> {
            let tcp = async_net::TcpStream::try_from(s_tcp)?;
            async_io::block_on(async {
                let mut tls = contenders::server(&setup, who, tcp).await?;
                barrier.wait();
                full_duplex(&mut tls, total).await
            })
        })
    };
    barrier.wait();
    let meter = Meter::process();
    let c = c.recv().expect("client end")?;
    let s = s.recv().expect("server end")?;
    let sample = meter.stop();
    if c != total || s != total {
        return Err(io::Error::other(format!(
            "{who}: full duplex moved {c} and {s} of {total} bytes"
        )));
    }
    Ok(BulkRun {
        sample,
        bytes: 2 * total,
        app_reads: 0,
    })
}

/// Transport calls per MiB of one one-way transfer, both ends counted.
pub struct IoPattern {
    pub mib: f64,
    pub app_reads: u64,
    pub receiver: Snapshot,
    pub sender: Snapshot,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Snapshot {
    pub reads: u64,
    pub read_pending: u64,
    pub read_bytes: u64,
    pub writes: u64,
    pub vectored_writes: u64,
    pub write_pending: u64,
    pub write_bytes: u64,
    pub flushes: u64,
}

impl Snapshot {
    fn of(c: &IoCounts) -> Snapshot {
        Snapshot {
            reads: c.reads.load(Relaxed),
            read_pending: c.read_pending.load(Relaxed),
            read_bytes: c.read_bytes.load(Relaxed),
            writes: c.writes.load(Relaxed),
            vectored_writes: c.vectored_writes.load(Relaxed),
            write_pending: c.write_pending.load(Relaxed),
            write_bytes: c.write_bytes.load(Relaxed),
            flushes: c.flushes.load(Relaxed),
        }
    }
}

pub fn io_pattern(
    setup: &Arc<Setup>,
    workers: &[Worker; 2],
    who: Contender,
    dir: Direction,
    total: u64,
) -> io::Result<IoPattern> {
    let (c, s) = (Arc::new(IoCounts::default()), Arc::new(IoCounts::default()));
    let run = one_way(
        setup,
        workers,
        who,
        dir,
        total,
        Some((c.clone(), s.clone())),
    )?;
    let (c, s) = (Snapshot::of(&c), Snapshot::of(&s));
    let (sender, receiver) = match dir {
        Direction::ClientToServer => (c, s),
        Direction::ServerToClient => (s, c),
    };
    Ok(IoPattern {
        mib: total as f64 / (1 << 20) as f64,
        app_reads: run.app_reads,
        receiver,
        sender,
    })
}
