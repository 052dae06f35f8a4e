//! tlsport on smol: smol's executor, smol's sockets, tlsport's handshake on top.
//!
//! A server accepts TCP connections with `smol::net::TcpListener` and upgrades each one
//! with `Acceptor::accept` on a task of its own (`smol::spawn`); three clients connect
//! at once with `smol::net::TcpStream` and `Connector::connect_with`. Any socket that
//! implements `futures-io`'s `AsyncRead + AsyncWrite` works the same way.
//!
//! Run it with `cargo run --example smol`. It needs no arguments, files or network.

mod support;

use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::net::{TcpListener, TcpStream};
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

    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        println!("smol server on {addr}");

        // The server: one task per connection. `Acceptor` is cheap to clone (an Arc).
        let server: smol::Task<std::io::Result<()>> = smol::spawn(async move {
            loop {
                let (tcp, peer) = listener.accept().await?;
                let acceptor = acceptor.clone();
                smol::spawn(async move {
                    if let Err(e) = serve(&acceptor, tcp).await {
                        eprintln!("server: {peer}: {e}");
                    }
                })
                .detach();
            }
        });

        // Three clients at once, each on its own task.
        let clients: Vec<_> = (1..=3)
            .map(|n| {
                let connector = connector.clone();
                smol::spawn(async move {
                    let tcp = TcpStream::connect(addr).await?;
                    // "localhost" is the name the server's certificate is checked against
                    // and the SNI sent; the socket is already connected.
                    let tls = connector.connect_with("localhost", tcp).await?;
                    println!("client {n}: {}", describe(&tls.info()));
                    let mut tls = BufReader::new(tls);
                    tls.get_mut()
                        .write_all(format!("hello from client {n}\n").as_bytes())
                        .await?;
                    let mut reply = String::new();
                    tls.read_line(&mut reply).await?;
                    print!("client {n} got: {reply}");
                    // close_notify, then FIN: the server's next read sees a clean end.
                    tls.get_mut().close().await?;
                    Ok::<(), BoxError>(())
                })
            })
            .collect();
        for client in clients {
            client.await?;
        }
        drop(server); // dropping a smol task cancels it
        Ok(())
    })
}

/// One connection: the TLS handshake, then a line echoed back in upper case, until the
/// client closes.
async fn serve(acceptor: &Acceptor, tcp: TcpStream) -> Result<(), BoxError> {
    let tls = acceptor.accept(tcp).await?;
    let mut tls = BufReader::new(tls);
    let mut line = String::new();
    // read_line returns 0 at the client's close_notify.
    while tls.read_line(&mut line).await? > 0 {
        tls.get_mut()
            .write_all(line.to_uppercase().as_bytes())
            .await?;
        line.clear();
    }
    tls.get_mut().close().await?;
    Ok(())
}
