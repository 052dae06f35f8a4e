//! A TLS echo server on a `Listener`: each connection is served on a task of its own, on
//! a `futures` thread pool, and gets back every byte it sends.
//!
//! ```text
//! cargo run --example server -- [--cert FILE --key FILE] [--host HOST] [--port N] [--once]
//! ```
//!
//! - `--cert FILE --key FILE`: the certificate chain (leaf first) and its private key, as
//!   PEM. Without them the server generates a certificate for `localhost` at start-up.
//! - `--host HOST`: the address to listen on (default `127.0.0.1`; `""` is every address).
//! - `--port N`: the port (default 8443; 0 picks a free one, printed at start-up).
//! - `--once`: serve one connection, then exit.
//!
//! Try it with the client example:
//!
//! ```text
//! cargo run --example server -- --port 8443
//! cargo run --example client -- localhost 8443 --insecure
//! ```
//!
//! With no arguments it runs a self-test: it serves one connection from a client of its
//! own, then exits.

mod support;

use std::path::PathBuf;
use std::process::ExitCode;

use futures::executor::{ThreadPool, block_on};
use futures::task::SpawnExt;
use futures_lite::future;
use futures_lite::io::{self, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use support::{BoxError, Pki, describe};
use tlsport::{Acceptor, CaBundle, Connector, Identity, Listener, Policy, TlsStream};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.is_empty() {
        self_test()
    } else {
        Args::parse(&args).and_then(run)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    host: String,
    port: u16,
    once: bool,
}

const USAGE: &str = "usage: server [--cert FILE --key FILE] [--host HOST] [--port N] [--once]";

impl Args {
    fn parse(argv: &[String]) -> Result<Args, BoxError> {
        let mut args = Args {
            cert: None,
            key: None,
            host: "127.0.0.1".into(),
            port: 8443,
            once: false,
        };
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or(format!("{arg} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--cert" => args.cert = Some(value()?.into()),
                "--key" => args.key = Some(value()?.into()),
                "--host" => args.host = value()?,
                "--port" => args.port = value()?.parse()?,
                "--once" => args.once = true,
                _ => return Err(format!("unexpected argument {arg}\n{USAGE}").into()),
            }
        }
        Ok(args)
    }
}

fn run(args: Args) -> Result<(), BoxError> {
    // Who the server is. Files are read here, once, and the key is checked against the
    // certificate: a mismatch is reported now, not at the first handshake.
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)?,
        (None, None) => {
            eprintln!(
                "server: no --cert/--key: using a certificate generated for localhost, which \
                 no client trusts (connect with the client example's --insecure)"
            );
            Pki::new()?.server
        }
        _ => return Err("--cert and --key go together".into()),
    };
    let acceptor = Acceptor::new(Policy::new().identity(identity))?;
    let pool = ThreadPool::new()?;
    block_on(async {
        let listener = acceptor.bind(&args.host, args.port).await?;
        // Tests and scripts read this line to learn the port picked for `--port 0`.
        println!("listening on {}", listener.local_addr()?);
        serve(&listener, &pool, args.once).await
    })
}

/// The accept loop. `Listener::accept` runs the TLS handshakes of new connections
/// concurrently inside its own future and yields only the finished ones: a client that
/// connects and says nothing delays nobody, and a failed or timed-out handshake is
/// logged (with the `log` crate) and skipped. Each connection then gets its own task.
async fn serve(listener: &Listener, pool: &ThreadPool, once: bool) -> Result<(), BoxError> {
    loop {
        let (stream, peer) = listener.accept().await?;
        println!("{peer}: {}", describe(&stream.info()));
        let task = pool.spawn_with_handle(async move {
            match echo(stream).await {
                Ok(bytes) => println!("{peer}: echoed {bytes} bytes, closed"),
                Err(e) => println!("{peer}: {e}"),
            }
        })?;
        if once {
            task.await;
            return Ok(());
        }
        task.forget(); // let it run on its own
    }
}

/// Sends back every byte until the client closes, then closes too. Returns the count.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: TlsStream<S>) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        // Ok(0) only after the client's close_notify; a connection cut without one is
        // an error (EofPolicy::Strict), so a truncated upload is never taken as whole.
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
    // close_notify, flush, then a FIN. Dropping the stream instead would send nothing.
    stream.close().await?;
    Ok(total)
}

/// No arguments: a server with a generated certificate on a free port, and one client
/// of our own that trusts its root.
fn self_test() -> Result<(), BoxError> {
    let pki = Pki::new()?;
    let acceptor = Acceptor::new(Policy::new().identity(pki.server.clone()))?;
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(pki.root.clone()),
    )?;
    let pool = ThreadPool::new()?;
    block_on(async {
        let listener = acceptor.bind("127.0.0.1", 0).await?;
        let port = listener.local_addr()?.port();
        println!("listening on 127.0.0.1:{port} (self-test: one connection)");
        let client = async {
            let mut stream = connector.connect("127.0.0.1", port).await?;
            stream.write_all(b"hello, echo server\n").await?;
            // close() sends close_notify and a FIN: the server sees the end of our data.
            // Reading still works until the server closes its side.
            stream.close().await?;
            let mut echoed = String::new();
            stream.read_to_string(&mut echoed).await?;
            print!("self-test client got back: {echoed}");
            Ok::<_, BoxError>(())
        };
        let (served, client) = future::zip(serve(&listener, &pool, true), client).await;
        served.and(client)
    })
}
