//! STARTTLS: a plaintext line protocol (SMTP-like) that upgrades its connection to TLS
//! midway, on the same socket, with `Acceptor::accept` and `Connector::connect_with`.
//!
//! ```text
//! S: 220 mail.example.test ESMTP ready          plaintext
//! C: EHLO client.example.test
//! S: 250-mail.example.test greets you
//! S: 250 STARTTLS
//! C: STARTTLS
//! S: 220 2.0.0 ready to start TLS
//!    ... TLS handshake on the same TCP connection ...
//! C: EHLO client.example.test                   encrypted from here on
//! S: 250 mail.example.test greets you over TLS
//! C: QUIT
//! S: 221 2.0.0 bye
//!    ... the server sends close_notify; the client reads it, then sends its own ...
//! ```
//!
//! Two subtle points. First, each side reads lines through a `BufReader`, and the plaintext
//! buffer must be empty when the upgrade starts. Bytes sent after `STARTTLS` but before
//! the handshake were never encrypted; a server that kept them and read them as part of
//! the TLS session would run commands injected by anyone on the path (CVE-2011-0411,
//! and its client-side twin). Both sides here refuse to upgrade with bytes pending.
//!
//! Second, the end. The server closes first, after its 221 reply; the client reads up
//! to the server's `close_notify` before sending its own, and the server waits for the
//! client's. A socket dropped with data unread makes the kernel reset the connection,
//! and the peer's `close()` can then fail with `NotConnected`.
//!
//! Run it with `cargo run --example starttls`. It prints the client's view of the
//! conversation. It needs no arguments, files or network.

mod support;

use futures_lite::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use smol::net::{TcpListener, TcpStream};
use support::{BoxError, Pki, describe};
use tlsport::{Acceptor, CaBundle, Connector, Policy};

const SERVER: &str = "mail.example.test";

fn main() -> Result<(), BoxError> {
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
        let server = smol::spawn(async move {
            let (tcp, _peer) = listener.accept().await?;
            server_session(&acceptor, tcp).await
        });
        let tcp = TcpStream::connect(addr).await?;
        client_session(&connector, tcp).await?;
        server.await
    })
}

/// The client: plaintext until the server agrees to STARTTLS, then TLS.
async fn client_session(connector: &Connector, tcp: TcpStream) -> Result<(), BoxError> {
    let mut plain = BufReader::new(tcp);
    expect(&hear(&mut plain).await?, "220")?;
    say(plain.get_mut(), "EHLO client.example.test").await?;
    let mut starttls_offered = false;
    loop {
        // A multi-line reply: "250-..." lines, then a last "250 ..." line.
        let line = hear(&mut plain).await?;
        expect(&line, "250")?;
        starttls_offered |= line[4..].eq_ignore_ascii_case("STARTTLS");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    }
    if !starttls_offered {
        return Err("the server does not offer STARTTLS".into());
    }
    say(plain.get_mut(), "STARTTLS").await?;
    expect(&hear(&mut plain).await?, "220")?;
    // Anything already buffered came before the handshake, in plaintext: possibly
    // injected by a man in the middle. Never carry it into the TLS session.
    if !plain.buffer().is_empty() {
        return Err("the server sent data after its STARTTLS reply".into());
    }
    // The upgrade: the same TCP socket, now under TLS. The server's certificate is
    // checked against "localhost", the name it was made for.
    let tls = connector
        .connect_with("localhost", plain.into_inner())
        .await?;
    println!("-- TLS: {}", describe(&tls.info()));

    // Start over, encrypted: after STARTTLS the client must greet again (RFC 3207).
    let mut tls = BufReader::new(tls);
    say(tls.get_mut(), "EHLO client.example.test").await?;
    expect(&hear(&mut tls).await?, "250")?;
    say(tls.get_mut(), "QUIT").await?;
    expect(&hear(&mut tls).await?, "221")?;
    // The server closes after its 221. Read up to its close_notify first (Ok(0): a clean
    // end, not a cut), then send ours. Closing without reading it would leave it unread
    // in our socket, and a socket closed with unread data resets the connection.
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    tls.get_mut().close().await?;
    println!("-- closed cleanly on both sides");
    Ok(())
}

/// The server: refuses mail commands until STARTTLS, then serves them over TLS.
async fn server_session(acceptor: &Acceptor, tcp: TcpStream) -> Result<(), BoxError> {
    let mut plain = BufReader::new(tcp);
    send(plain.get_mut(), &format!("220 {SERVER} ESMTP ready")).await?;
    loop {
        let line = recv(&mut plain).await?;
        match verb(&line).as_str() {
            "EHLO" => {
                send(plain.get_mut(), &format!("250-{SERVER} greets you")).await?;
                send(plain.get_mut(), "250 STARTTLS").await?;
            }
            "STARTTLS" => break,
            "QUIT" => return Ok(send(plain.get_mut(), "221 2.0.0 bye").await?),
            _ => {
                send(
                    plain.get_mut(),
                    "530 5.7.0 must issue a STARTTLS command first",
                )
                .await?
            }
        }
    }
    // Commands pipelined after STARTTLS were sent in plaintext: refuse them rather than
    // run them as if they had come over TLS (CVE-2011-0411).
    if !plain.buffer().is_empty() {
        send(plain.get_mut(), "501 5.5.4 no commands may follow STARTTLS").await?;
        return Err("a client pipelined plaintext after STARTTLS".into());
    }
    send(plain.get_mut(), "220 2.0.0 ready to start TLS").await?;
    let tls = acceptor.accept(plain.into_inner()).await?;

    let mut tls = BufReader::new(tls);
    loop {
        let line = recv(&mut tls).await?;
        match verb(&line).as_str() {
            "EHLO" => send(tls.get_mut(), &format!("250 {SERVER} greets you over TLS")).await?,
            "QUIT" => {
                send(tls.get_mut(), "221 2.0.0 bye").await?;
                break;
            }
            _ => send(tls.get_mut(), "250 2.0.0 ok").await?,
        }
    }
    // The server ends the session: close_notify and FIN, then wait for the client's
    // close_notify, so that neither side drops its socket with data unread.
    tls.get_mut().close().await?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    Ok(())
}

/// The command word of a line, upper-cased.
fn verb(line: &str) -> String {
    line.split(' ').next().unwrap_or("").to_ascii_uppercase()
}

/// Sends one CRLF-terminated line.
async fn send<W: AsyncWrite + Unpin>(w: &mut W, line: &str) -> std::io::Result<()> {
    w.write_all(format!("{line}\r\n").as_bytes()).await?;
    w.flush().await
}

/// Reads one line, without its line ending. The end of the stream is an error here:
/// the protocol always ends with QUIT.
async fn recv<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<String, BoxError> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Err("the connection closed in the middle of the conversation".into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `send`, printed as the client's side of the transcript.
async fn say<W: AsyncWrite + Unpin>(w: &mut W, line: &str) -> std::io::Result<()> {
    println!("C: {line}");
    send(w, line).await
}

/// `recv`, printed as the server's side of the transcript.
async fn hear<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<String, BoxError> {
    let line = recv(r).await?;
    println!("S: {line}");
    Ok(line)
}

fn expect(reply: &str, code: &str) -> Result<(), BoxError> {
    if reply.starts_with(code) {
        Ok(())
    } else {
        Err(format!("expected a {code} reply, got {reply:?}").into())
    }
}
