//! tlsport on tokio, through `tokio-util`'s compat layer.
//!
//! tokio has I/O traits of its own; tlsport speaks `futures-io`'s. `tokio_util::compat`
//! converts both ways:
//!
//! - `tcp.compat()` (`TokioAsyncReadCompatExt`) turns a tokio socket into a `futures-io`
//!   stream that `Connector::connect_with` and `Acceptor::accept` take;
//! - `tls.compat()` (`FuturesAsyncReadCompatExt`) turns the resulting `TlsStream` back
//!   into a tokio stream, for tokio's `BufReader`, `copy`, codecs, or hyper-util.
//!
//! tokio's `shutdown()` becomes `futures-io`'s `close()`: it sends `close_notify`, then a
//! FIN. tlsport's handshake timeouts run on async-io's timer, which has its own thread,
//! so they work inside a tokio runtime too.
//!
//! Run it with `cargo run --example tokio_compat`. It needs no arguments, files or
//! network.

mod support;

use support::{BoxError, Pki, describe};
use tlsport::{Acceptor, CaBundle, Connector, Policy};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

fn main() -> Result<(), BoxError> {
    // Build the configurations before the runtime: `Connector::new` may block (loading
    // the system store, reading files), which has no place on a tokio worker thread.
    let pki = Pki::new()?;
    let acceptor = Acceptor::new(Policy::new().identity(pki.server.clone()))?;
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(pki.root.clone()),
    )?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        println!("tokio server on {addr}");

        let server: tokio::task::JoinHandle<std::io::Result<()>> = tokio::spawn(async move {
            loop {
                let (tcp, peer) = listener.accept().await?;
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(&acceptor, tcp).await {
                        eprintln!("server: {peer}: {e}");
                    }
                });
            }
        });

        let clients: Vec<_> = (1..=3)
            .map(|n| tokio::spawn(client(connector.clone(), addr, n)))
            .collect();
        for client in clients {
            client.await??;
        }
        server.abort();
        Ok(())
    })
}

async fn client(connector: Connector, addr: std::net::SocketAddr, n: u32) -> Result<(), BoxError> {
    let tcp = TcpStream::connect(addr).await?;
    // tokio socket -> futures-io, for tlsport.
    let tls = connector.connect_with("localhost", tcp.compat()).await?;
    println!("client {n}: {}", describe(&tls.info()));
    // TlsStream -> tokio, for tokio's own helpers.
    let mut tls = BufReader::new(tls.compat());
    tls.get_mut()
        .write_all(format!("hello from tokio client {n}\n").as_bytes())
        .await?;
    let mut reply = String::new();
    tls.read_line(&mut reply).await?;
    print!("client {n} got: {reply}");
    tls.get_mut().shutdown().await?; // close_notify, then FIN
    Ok(())
}

/// One connection: the handshake, then each line answered with its length, until the
/// client closes.
async fn serve(acceptor: &Acceptor, tcp: TcpStream) -> Result<(), BoxError> {
    let tls = acceptor.accept(tcp.compat()).await?;
    let mut tls = BufReader::new(tls.compat());
    let mut line = String::new();
    // read_line returns 0 at the client's close_notify.
    while tls.read_line(&mut line).await? > 0 {
        let answer = format!("{} bytes received: {line}", line.len());
        tls.get_mut().write_all(answer.as_bytes()).await?;
        line.clear();
    }
    tls.get_mut().shutdown().await?;
    Ok(())
}
