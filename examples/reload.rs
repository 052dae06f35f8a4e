//! A TLS server that picks up renewed certificate files without a restart: it polls
//! their modification times and calls `Acceptor::reload` when they change.
//!
//! ```text
//! cargo run --example reload -- --cert FILE --key FILE [--host HOST] [--port N] [--interval-ms N]
//! ```
//!
//! Each connection gets `hello` and is closed. Renew the files in place (certbot, a cron
//! job, `cp`) and new connections get the new certificate within the interval (default
//! 1000 ms); connections already open keep theirs. Files caught half-written (a new
//! certificate beside the old key) fail to load: the server keeps the certificate it has
//! and tries again when the files change again. Polling costs one `stat` per file per
//! interval and needs no file-notification crate.
//!
//! With no arguments it runs a self-test: it serves a certificate from a temporary
//! folder, renews the files, and shows a client served first with the old certificate,
//! then with the new one.

mod support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use async_io::Timer;
use futures_lite::future;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use support::{BoxError, Pki};
use tlsport::{Acceptor, CaBundle, Connector, Identity, Listener, Policy};

const USAGE: &str =
    "usage: reload --cert FILE --key FILE [--host HOST] [--port N] [--interval-ms N]";

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
            eprintln!("reload: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    cert: PathBuf,
    key: PathBuf,
    host: String,
    port: u16,
    interval: Duration,
}

impl Args {
    fn parse(argv: &[String]) -> Result<Args, BoxError> {
        let (mut cert, mut key) = (None, None);
        let mut args = Args {
            cert: PathBuf::new(),
            key: PathBuf::new(),
            host: "127.0.0.1".into(),
            port: 8443,
            interval: Duration::from_millis(1000),
        };
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or(format!("{arg} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--cert" => cert = Some(value()?.into()),
                "--key" => key = Some(value()?.into()),
                "--host" => args.host = value()?,
                "--port" => args.port = value()?.parse()?,
                "--interval-ms" => args.interval = Duration::from_millis(value()?.parse()?),
                _ => return Err(format!("unexpected argument {arg}\n{USAGE}").into()),
            }
        }
        match (cert, key) {
            (Some(cert), Some(key)) => (args.cert, args.key) = (cert, key),
            _ => return Err(format!("--cert and --key are needed\n{USAGE}").into()),
        }
        Ok(args)
    }
}

/// The policy of the certificate files: read now, the key checked against the leaf.
fn policy(cert: &Path, key: &Path) -> Result<Policy, BoxError> {
    Ok(Policy::new().identity(Identity::from_pem_files(cert, key)?))
}

fn run(args: Args) -> Result<(), BoxError> {
    let acceptor = Acceptor::new(policy(&args.cert, &args.key)?)?;
    async_io::block_on(async {
        let listener = acceptor.bind(&args.host, args.port).await?;
        println!("listening on {}", listener.local_addr()?);
        let files = [args.cert.clone(), args.key.clone()];
        future::or(watch(&acceptor, &files, args.interval), serve(&listener)).await
    })
}

/// What changes when a file is rewritten: its modification time and length.
type Stamp = Vec<Option<(SystemTime, u64)>>;

fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|file| {
            let meta = std::fs::metadata(file).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// Every `interval`, looks at the files; when they have changed, loads them and
/// reloads `acceptor`, which every connection accepted from then on uses.
async fn watch(
    acceptor: &Acceptor,
    files: &[PathBuf; 2],
    interval: Duration,
) -> Result<(), BoxError> {
    let mut seen = stamp(files);
    loop {
        Timer::after(interval).await;
        let now = stamp(files);
        if now == seen {
            continue;
        }
        seen = now;
        // Reading the files and compiling the policy block: do it on a blocking thread,
        // off the thread that serves connections.
        let (acceptor, [cert, key]) = (acceptor.clone(), files.clone());
        let reloaded = blocking::unblock(move || -> Result<(), BoxError> {
            acceptor.reload(policy(&cert, &key)?)?;
            Ok(())
        })
        .await;
        match reloaded {
            Ok(()) => println!("reloaded the certificate files: new connections get them"),
            Err(e) => println!(
                "reload failed ({e}): keeping the current certificate until the files change"
            ),
        }
    }
}

/// Greets each connection and closes it. (A real server spawns a task per connection;
/// this one only writes six bytes, which never wait.)
async fn serve(listener: &Listener) -> Result<(), BoxError> {
    loop {
        let (mut stream, peer) = listener.accept().await?;
        let served = async {
            stream.write_all(b"hello\n").await?;
            stream.close().await
        };
        if let Err(e) = served.await {
            println!("{peer}: {e}");
        }
    }
}

/// One connection: the subject of the certificate the server presented.
async fn served_with(connector: &Connector, port: u16) -> Result<String, BoxError> {
    let mut stream = connector.connect("127.0.0.1", port).await?;
    let mut greeting = String::new();
    stream.read_to_string(&mut greeting).await?;
    let leaf = stream.info().peer_certificates[0].clone();
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf)?;
    Ok(cert.subject().to_string())
}

/// Writes a certificate and key to their files the way renewal tools do: each to a
/// temporary file, then renamed over the old one.
fn write_files(files: &[PathBuf; 2], (cert, key): &(String, String)) -> std::io::Result<()> {
    for (path, pem) in [(&files[1], key), (&files[0], cert)] {
        let fresh = path.with_extension("new");
        std::fs::write(&fresh, pem)?;
        std::fs::rename(&fresh, path)?;
    }
    Ok(())
}

/// No arguments: serve a certificate from a temporary folder, renew it, and watch a
/// client get the renewed one.
fn self_test() -> Result<(), BoxError> {
    let pki = Pki::new()?;
    let dir = std::env::temp_dir().join(format!("tlsport-reload-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let files = [dir.join("cert.pem"), dir.join("key.pem")];
    write_files(&files, &pki.server_pem("first certificate")?)?;

    let acceptor = Acceptor::new(policy(&files[0], &files[1])?)?;
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(pki.root.clone()),
    )?;
    let result = async_io::block_on(async {
        let listener = acceptor.bind("127.0.0.1", 0).await?;
        let port = listener.local_addr()?.port();
        println!("listening on 127.0.0.1:{port}");
        let server = future::or(
            watch(&acceptor, &files, Duration::from_millis(100)),
            serve(&listener),
        );
        let client = async {
            println!(
                "client 1: served with {}",
                served_with(&connector, port).await?
            );
            write_files(&files, &pki.server_pem("renewed certificate")?)?;
            println!("renewed the certificate files");
            for _ in 0..100 {
                Timer::after(Duration::from_millis(100)).await;
                let subject = served_with(&connector, port).await?;
                if subject.contains("renewed") {
                    println!("client 2: served with {subject}");
                    return Ok(());
                }
            }
            Err("the renewed certificate was never served".into())
        };
        future::or(client, server).await
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}
