//! Handshakes: CPU per connection on one thread, a 64-client run on two threads, and
//! what building a `Connector`/`Acceptor` costs.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use futures_lite::AsyncWriteExt;
use tlsport::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tlsport::{Acceptor, CaBundle, Connector, Policy};

use crate::contenders::{self, Contender, Setup, mem_pair};
use crate::measure::{Meter, Sample, Worker, thread_cpu_ns};

/// `n` complete connections (handshake, tickets, close) with both ends on this thread
/// over an in-memory transport. Returns the sample, how many of the checked connections
/// were resumed, and how many were checked.
/// Process CPU is measured, not only this thread's: work a contender causes on other
/// threads (async-io's reactor thread, woken to arm a timer) belongs to it.
pub fn local(
    setup: &Setup,
    who: Contender,
    resume: bool,
    n: usize,
) -> io::Result<(Sample, usize, usize)> {
    let mut scratch = Vec::with_capacity(4096);
    let mut resumed = 0;
    if resume && who != Contender::OpenSsl {
        // The server's session cache may have evicted the stored tickets (a full run fills
        // it): one untimed connection gets fresh ones.
        let (c, s) = tlsport::duplex(64 * 1024);
        futures_lite::future::block_on(contenders::connection_pair(
            setup,
            who,
            true,
            false,
            c,
            s,
            &mut scratch,
        ))?;
    }
    let mut checked = 0;
    let meter = Meter::process();
    for i in 0..n {
        let check = i < 2 || i + 1 == n;
        checked += usize::from(check);
        let was_resumed = match who {
            Contender::OpenSsl => {
                let (c, s) = mem_pair();
                contenders::openssl_pair(setup, c, s, true)?;
                false
            }
            _ => {
                let (c, s) = tlsport::duplex(64 * 1024);
                futures_lite::future::block_on(contenders::connection_pair(
                    setup,
                    who,
                    resume,
                    check,
                    c,
                    s,
                    &mut scratch,
                ))?
            }
        };
        resumed += usize::from(was_resumed);
    }
    Ok((meter.stop(), resumed, checked))
}

/// The server of a many-client run.
#[derive(Clone)]
pub enum Server {
    /// tlsport's `Listener` (`Acceptor::bind`).
    Listener(Acceptor),
    /// `Acceptor::accept` run in the hand-written accept loop of [`Server::RawLoop`].
    TlsportLoop(Acceptor),
    /// async-net's `TcpListener` and futures-rustls accepts run concurrently in a
    /// `FuturesUnordered`, on one task.
    RawLoop,
}

/// `n` full handshakes (as [`local`]) between a tlsport connector and acceptor.
pub fn local_tlsport(connector: &Connector, acceptor: &Acceptor, n: usize) -> io::Result<Sample> {
    let mut scratch = Vec::with_capacity(4096);
    let meter = Meter::process();
    for _ in 0..n {
        let (c, s) = tlsport::duplex(64 * 1024);
        futures_lite::future::block_on(contenders::tlsport_pair(
            connector,
            acceptor,
            false,
            c,
            s,
            &mut scratch,
        ))?;
    }
    Ok(meter.stop())
}

/// `total` handshakes from `clients` concurrent raw futures-rustls clients (worker `a`)
/// against one server task (worker `b`). Returns the sample (wall: first connect to last
/// accept).
pub fn many_clients(
    setup: &Arc<Setup>,
    workers: &[Worker; 2],
    server: Server,
    clients: usize,
    total: usize,
) -> io::Result<Sample> {
    let barrier = Arc::new(Barrier::new(3));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let server = {
        let (setup, barrier) = (setup.clone(), barrier.clone());
        workers[1].run(move || -> io::Result<()> {
            async_io::block_on(async {
                if let Server::Listener(acceptor) = &server {
                    let listener = acceptor.bind("127.0.0.1", 0).await?;
                    addr_tx.send(listener.local_addr()?).expect("main waits");
                    barrier.wait();
                    for _ in 0..total {
                        drop(listener.accept().await?);
                    }
                    return Ok(());
                }
                let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).expect("main waits");
                barrier.wait();
                let mut incoming = listener.incoming();
                let mut handshakes = FuturesUnordered::new();
                let mut done = 0;
                futures_lite::future::poll_fn(|cx| {
                    loop {
                        let mut progress = false;
                        while let Poll::Ready(Some(tcp)) = incoming.poll_next_unpin(cx) {
                            let tcp = tcp?;
                            let (setup, server) = (setup.clone(), server.clone());
                            handshakes.push(async move {
                                match server {
                                    Server::TlsportLoop(acceptor) => {
                                        acceptor.accept(tcp).await.map(drop).is_ok()
                                    }
                                    _ => setup.raw_acceptor.accept(tcp).await.map(drop).is_ok(),
                                }
                            });
                            progress = true;
                        }
                        while let Poll::Ready(Some(ok)) = handshakes.poll_next_unpin(cx) {
                            if ok {
                                done += 1;
                                if done == total {
                                    return Poll::Ready(io::Result::Ok(()));
                                }
                            }
                            progress = true;
                        }
                        if !progress {
                            return Poll::Pending;
                        }
                    }
                })
                .await
            })
        })
    };
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(io::Error::other)?;
    let client = {
        let (setup, barrier) = (setup.clone(), barrier.clone());
        workers[0].run(move || -> io::Result<()> {
            barrier.wait();
            let next = Cell::new(0);
            async_io::block_on(async {
                let tasks = (0..clients).map(|_| async {
                    while next.get() < total {
                        next.set(next.get() + 1);
                        let tcp = async_net::TcpStream::connect(addr).await?;
                        let mut tls = setup.raw_full.connect(setup.name.clone(), tcp).await?;
                        let _ = tls.close().await;
                    }
                    io::Result::Ok(())
                });
                for r in futures::future::join_all(tasks).await {
                    r?;
                }
                Ok(())
            })
        })
    };
    barrier.wait();
    let meter = Meter::process();
    client
        .recv_timeout(Duration::from_secs(60))
        .map_err(io::Error::other)??;
    server
        .recv_timeout(Duration::from_secs(60))
        .map_err(io::Error::other)??;
    Ok(meter.stop())
}

/// What building one client or server context costs, per call (median over `n`), for
/// each contender: tlsport's `Connector::new`/`Acceptor::new` from a `Policy`, a
/// hand-built rustls config (what a raw futures-rustls user writes), and native-tls's
/// `TlsConnector`/`TlsAcceptor`.
pub struct CtorCosts {
    /// (contender, client µs, server µs)
    pub rows: Vec<(Contender, f64, f64)>,
    /// `Connector::new` with `CaBundle::System`, when the system store exists.
    pub system_connector_us: Option<f64>,
}

fn per_call_us(n: usize, mut f: impl FnMut()) -> f64 {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let cpu = thread_cpu_ns();
        f();
        samples.push((thread_cpu_ns() - cpu) as f64 / 1000.0);
    }
    crate::measure::median(&samples)
}

pub fn ctor_costs(setup: &Setup, n: usize) -> CtorCosts {
    let pki = &setup.pki;
    let client_policy = pki.client_policy();
    let server_policy = pki.server_policy();
    let tls_client = per_call_us(n, || {
        std::hint::black_box(Connector::new(client_policy.clone()).expect("connector"));
    });
    let tls_server = per_call_us(n, || {
        std::hint::black_box(Acceptor::new(server_policy.clone()).expect("acceptor"));
    });
    let (root, cert, key) = (
        pki.ca.root.clone(),
        pki.server.cert_der(),
        pki.server.key_der(),
    );
    let raw_client = per_call_us(n, || {
        let provider = contenders::provider();
        let mut roots = RootCertStore::empty();
        roots.add(root.clone()).expect("root");
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        std::hint::black_box(futures_rustls::TlsConnector::from(Arc::new(config)));
    });
    let raw_server = per_call_us(n, || {
        let provider = contenders::provider();
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key.clone_key())
            .expect("certificate");
        std::hint::black_box(futures_rustls::TlsAcceptor::from(Arc::new(config)));
    });
    let ossl_n = n.div_ceil(20).max(3);
    let ossl_client = per_call_us(ossl_n, || {
        let c = native_tls::TlsConnector::builder()
            .add_root_certificate(native_tls::Certificate::from_der(&root).expect("root"))
            .build()
            .expect("connector");
        std::hint::black_box(c);
    });
    let ossl_server = per_call_us(ossl_n, || {
        let id =
            native_tls::Identity::from_pkcs8(pki.server.cert.as_bytes(), pki.server.key.as_bytes())
                .expect("identity");
        std::hint::black_box(native_tls::TlsAcceptor::new(id).expect("acceptor"));
    });
    let system_connector_us = tlsport::system_ca_available().then(|| {
        let policy = Policy::new().ca_bundle(CaBundle::System);
        per_call_us(ossl_n, || {
            std::hint::black_box(Connector::new(policy.clone()).expect("system connector"));
        })
    });
    CtorCosts {
        rows: vec![
            (Contender::Tlsport, tls_client, tls_server),
            (Contender::Rustls, raw_client, raw_server),
            (Contender::OpenSsl, ossl_client, ossl_server),
        ],
        system_connector_us,
    }
}
