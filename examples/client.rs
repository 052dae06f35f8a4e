//! A small `openssl s_client`: connect to a TLS server, show what was negotiated and the
//! certificate chain the server sent, then relay standard input to the server and the
//! server's output to standard output.
//!
//! ```text
//! cargo run --example client -- HOST PORT [--ca FILE] [--alpn h2,http/1.1] [--insecure]
//!                                         [--cert FILE --key FILE] [--servername NAME]
//! ```
//!
//! - `PORT` is a number or a service name (`https`).
//! - `--ca FILE`: trust the roots of this PEM bundle instead of the system's.
//! - `--alpn LIST`: protocols to offer, most preferred first.
//! - `--insecure`: accept any server certificate (the handshake is still checked).
//! - `--cert FILE --key FILE`: a client certificate, for servers asking for one.
//! - `--servername NAME`: verify the certificate against NAME and send it as SNI,
//!   instead of HOST.
//!
//! The session report goes to standard error and the server's bytes to standard output,
//! so `client example.com https < request > response` saves just the response. When
//! standard input ends, the client sends `close_notify` (a half close) and keeps
//! printing until the server closes.
//!
//! With no arguments it generates a certificate, starts a local echo server with it,
//! connects to that server and sends one line: `cargo run --example client`.

mod support;

use std::path::PathBuf;
use std::process::ExitCode;

use futures_lite::future;
use futures_lite::io::{self, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use support::{BoxError, Pki};
use tlsport::pki_types::CertificateDer;
use tlsport::{Acceptor, CaBundle, Connector, Identity, Policy, Port, SessionInfo, TlsStream};
use x509_parser::prelude::{ASN1Time, FromDer, GeneralName, X509Certificate};

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
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line.
#[derive(Debug, Default)]
struct Args {
    host: String,
    port: String,
    ca: Option<PathBuf>,
    alpn: Vec<String>,
    insecure: bool,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    servername: Option<String>,
}

const USAGE: &str = "usage: client HOST PORT [--ca FILE] [--alpn h2,http/1.1] [--insecure] \
                     [--cert FILE --key FILE] [--servername NAME]";

impl Args {
    fn parse(argv: &[String]) -> Result<Args, BoxError> {
        let mut args = Args::default();
        let mut positional = Vec::new();
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or(format!("{arg} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--ca" => args.ca = Some(value()?.into()),
                "--alpn" => args.alpn = value()?.split(',').map(str::to_owned).collect(),
                "--insecure" => args.insecure = true,
                "--cert" => args.cert = Some(value()?.into()),
                "--key" => args.key = Some(value()?.into()),
                "--servername" => args.servername = Some(value()?),
                "-h" | "--help" => return Err(USAGE.into()),
                flag if flag.starts_with("--") => {
                    return Err(format!("unknown option {flag}\n{USAGE}").into());
                }
                _ => positional.push(arg.clone()),
            }
        }
        let [host, port] = <[String; 2]>::try_from(positional).map_err(|_| USAGE)?;
        (args.host, args.port) = (host, port);
        Ok(args)
    }

    /// The client policy the options describe.
    fn policy(&self) -> Result<Policy, BoxError> {
        let mut policy = Policy::new().alpn_protocols(&self.alpn);
        if let Some(bundle) = &self.ca {
            // Only the roots of this file, not the system's.
            policy = policy.ca_bundle(CaBundle::File(bundle.clone()));
        } else if self.insecure {
            // Nothing will be verified, so there is no need to load the system store.
            policy = policy.ca_bundle(CaBundle::Empty);
        }
        if self.insecure {
            policy = policy.danger_accept_invalid_certs(true);
        }
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                policy = policy.identity(Identity::from_pem_files(cert, key)?)
            }
            (None, None) => {}
            _ => return Err("--cert and --key go together".into()),
        }
        if let Some(name) = &self.servername {
            policy = policy.server_name(name);
        }
        Ok(policy)
    }
}

/// The tool: connect, report, relay standard input and output.
fn run(args: Args) -> Result<(), BoxError> {
    // Building the connector may block (it reads files, or loads the system store):
    // do it once, before entering async code.
    let connector = Connector::new(args.policy()?)?;
    smol::block_on(async {
        // smol's `Unblock` moves the blocking standard streams to a thread pool.
        let stdin = smol::Unblock::new(std::io::stdin());
        let stdout = smol::Unblock::new(std::io::stdout());
        session(&connector, &args.host, args.port.as_str(), stdin, stdout).await
    })
}

/// Connects, prints the report, then relays `input` to the server and the server's
/// output to `output`, until the server closes.
async fn session(
    connector: &Connector,
    host: &str,
    port: impl Into<Port>,
    input: impl AsyncRead + Unpin,
    output: impl AsyncWrite + Unpin,
) -> Result<(), BoxError> {
    // TCP (with Happy Eyeballs over the resolved addresses), then the TLS handshake; both
    // under the policy's timeouts. Certificate errors say what was expected and found.
    let stream = connector.connect(host, port).await?;
    eprintln!("CONNECTED to {}", stream.get_ref().peer_addr()?);
    eprint!("{}", report(&stream.info()));
    relay(stream, input, output).await?;
    eprintln!("DONE: the server closed the connection cleanly (close_notify)");
    Ok(())
}

/// Both directions at once: `split` gives halves that two futures can drive together.
async fn relay<S>(
    stream: TlsStream<S>,
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut from_server, mut to_server) = stream.split();
    let upload = async {
        io::copy(input, &mut to_server).await?;
        // End of input: send close_notify and a TCP FIN. The read half keeps working,
        // so the server can still answer what it has received.
        to_server.close().await?;
        // Then let the download decide when we are done.
        future::pending::<io::Result<()>>().await
    };
    let download = async {
        // Ends at the server's close_notify. A connection cut without one is an
        // `UnexpectedEof` error (`EofPolicy::Strict`): the data may be truncated.
        io::copy(&mut from_server, &mut output).await?;
        output.flush().await
    };
    // Whichever ends first: the server closing, or an error on either side.
    future::or(download, upload).await
}

/// What `openssl s_client` shows: the chain the server sent, then the session.
fn report(info: &SessionInfo) -> String {
    let mut out = String::from("---\nCertificate chain (as sent by the server, leaf first)\n");
    for (depth, cert) in info.peer_certificates.iter().enumerate() {
        out += &describe_certificate(depth, cert);
    }
    if info.peer_certificates.is_empty() {
        out += " (none: a resumed TLS 1.2 session carries no certificates)\n";
    }
    let version = match info.protocol_version {
        Some(tlsport::Version::Tls13) => "TLSv1.3",
        Some(tlsport::Version::Tls12) => "TLSv1.2",
        _ => "unknown",
    };
    let alpn = info.alpn_protocol.as_deref().map(String::from_utf8_lossy);
    out += &format!(
        "---\n\
         Protocol version:   {version} ({:?})\n\
         Cipher suite:       {}\n\
         Key exchange group: {}\n\
         ALPN protocol:      {}\n\
         Server name (SNI):  {}\n\
         Session resumed:    {}\n\
         ---\n",
        info.protocol_version
            .expect("a finished handshake has a version"),
        info.cipher_suite.as_deref().unwrap_or("-"),
        info.key_exchange_group.as_deref().unwrap_or("-"),
        alpn.as_deref().unwrap_or("(none negotiated)"),
        info.server_name
            .as_deref()
            .unwrap_or("(none sent: an IP address, or SNI off)"),
        if info.resumed { "yes" } else { "no" },
    );
    out
}

/// Subject, issuer, validity and fingerprint of one certificate. rustls hands
/// certificates over as DER and does not parse them for display: x509-parser reads the
/// fields shown here (for display only: verification is rustls's job).
fn describe_certificate(depth: usize, cert: &CertificateDer<'_>) -> String {
    let mut out = match X509Certificate::from_der(cert) {
        Ok((_, c)) => {
            let validity = c.validity();
            let mut s = format!(
                "{depth:2} s:{}\n   i:{}\n   v:NotBefore: {}; NotAfter: {}\n   serial: {}\n",
                c.subject(),
                c.issuer(),
                utc(&validity.not_before),
                utc(&validity.not_after),
                hex(c.raw_serial(), ":"),
            );
            let alt_names = alt_names(&c);
            if !alt_names.is_empty() {
                s += &format!("   alt names: {}\n", alt_names.join(", "));
            }
            s
        }
        Err(_) => format!("{depth:2} (a certificate this example cannot parse)\n"),
    };
    out += &format!("   DER: {} bytes\n", cert.len());
    out += &format!("   SHA-256 fingerprint: {}\n", hex(&sha256(cert), ":"));
    out
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
fn utc(time: &ASN1Time) -> String {
    let t = time.to_datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The DNS names and IP addresses of the subjectAltName extension.
fn alt_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(format!("DNS:{dns}")),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => <[u8; 4]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                16 => <[u8; 16]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                _ => None,
            }
            .map(|ip| format!("IP:{ip}")),
            _ => None,
        })
        .collect()
}

/// Bytes as upper-case hex, separated by `sep`.
fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// SHA-256 with the hash of the crypto backend tlsport was built with: rustls exposes
/// it through its cipher suites, so no hashing crate is needed.
fn sha256(data: &[u8]) -> Vec<u8> {
    #[cfg(feature = "aws-lc-rs")]
    use tlsport::rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256 as SUITE;
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    use tlsport::rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256 as SUITE;
    let suite = SUITE.tls13().expect("a TLS 1.3 suite");
    suite.common.hash_provider.hash(data).as_ref().to_vec()
}

/// No arguments: a local echo server with a fresh certificate, and one client session
/// against it, as `client 127.0.0.1 PORT --ca ROOT --alpn h2,http/1.1 --servername
/// localhost` would run with the line below as its input.
fn self_test() -> Result<(), BoxError> {
    let pki = Pki::new()?;
    let acceptor = Acceptor::new(
        Policy::new()
            .identity(pki.server.clone())
            .alpn_protocols(["h2", "http/1.1"]),
    )?;
    let connector = Connector::new(
        Policy::new()
            .ca_bundle(CaBundle::Empty)
            .add_root_certificate(pki.root.clone())
            .alpn_protocols(["h2", "http/1.1"])
            .server_name("localhost"),
    )?;
    smol::block_on(async {
        let listener = acceptor.bind("127.0.0.1", 0).await?;
        let port = listener.local_addr()?.port();
        eprintln!("self-test: echo server on 127.0.0.1:{port}");
        let server = smol::spawn(async move {
            let (stream, _peer) = listener.accept().await?;
            echo(stream).await
        });
        let input: &[u8] = b"hello from the tlsport client example\n";
        let stdout = smol::Unblock::new(std::io::stdout());
        session(&connector, "127.0.0.1", port, input, stdout).await?;
        server.await?;
        Ok(())
    })
}

/// The self-test server: sends back what it reads, then closes when the client does.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: TlsStream<S>) -> io::Result<()> {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break; // the client's close_notify
        }
        stream.write_all(&buf[..n]).await?;
    }
    stream.close().await
}
