//! tlsport on async-std: its executor, its sockets, tlsport's handshake on top.
//!
//! async-std's `TcpStream` implements `futures-io`'s `AsyncRead + AsyncWrite`, so it goes
//! straight into `Acceptor::accept` and `Connector::connect_with`. A server task serves
//! each connection on a task of its own (`async_std::task::spawn`); three clients connect
//! at once.
//!
//! async-std has been discontinued upstream in favour of smol (see the `smol` example);
//! this example is for programs that still run on it.
//!
//! Run it with `cargo run --example async_std`. It needs no arguments, files or network.

mod support;

use async_std::net::{TcpListener, TcpStream};
use async_std::task;
use futures_lite::StreamExt;
use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use support::{BoxError, Pki, describe};
use tlsport::{Acceptor, CaBundle, Connector, Policy};

fn main() -> Result<(), BoxError> {
    // Certificates and configurations are made once, before any connection.
    let pki = Pki::new()?;
    let acceptor = Acceptor::new(Policy::new().identity(pki.server.clone()))?;
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(pki.root.clone()),
    )?;

    task::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        println!("async-std server on {addr}");

        // The server: one task per connection. `Acceptor` is cheap to clone (an Arc).
        task::spawn(async move {
            let mut incoming = listener.incoming();
            while let Some(tcp) = incoming.next().await {
                let tcp = match tcp {
                    Ok(tcp) => tcp,
                    Err(e) => {
                        eprintln!("server: accept failed: {e}");
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                task::spawn(async move {
                    if let Err(e) = serve(&acceptor, tcp).await {
                        eprintln!("server: {e}");
                    }
                });
            }
        });

        // Three clients at once, each on its own task.
        let clients: Vec<_> = (1..=3)
            .map(|n| {
                let connector = connector.clone();
                task::spawn(async move {
                    let tcp = TcpStream::connect(addr).await?;
                    let tls = connector.connect_with("localhost", tcp).await?;
                    println!("client {n}: {}", describe(&tls.info()));
                    let mut tls = BufReader::new(tls);
                    tls.get_mut()
                        .write_all(format!("hello from client {n}\n").as_bytes())
                        .await?;
                    let mut reply = String::new();
                    tls.read_line(&mut reply).await?;
                    print!("client {n} got: {reply}");
                    tls.get_mut().close().await?; // close_notify, then FIN
                    Ok::<(), BoxError>(())
                })
            })
            .collect();
        for client in clients {
            client.await?;
        }
        Ok(())
    })
}

/// One connection: the TLS handshake, then lines echoed back reversed, until the client
/// closes.
async fn serve(acceptor: &Acceptor, tcp: TcpStream) -> Result<(), BoxError> {
    let peer = tcp.peer_addr()?;
    let tls = acceptor.accept(tcp).await?;
    println!("server: {peer}: {}", describe(&tls.info()));
    let mut tls = BufReader::new(tls);
    let mut line = String::new();
    // read_line returns 0 at the client's close_notify.
    while tls.read_line(&mut line).await? > 0 {
        let reversed: String = line.trim_end().chars().rev().collect();
        tls.get_mut()
            .write_all(format!("{reversed}\n").as_bytes())
            .await?;
        line.clear();
    }
    tls.get_mut().close().await?;
    Ok(())
}
