//! The server handshake in its steps: bytes already read handed to rustls first, the
//! ClientHello read through rustls's `server::Acceptor` when it must be looked at before
//! answering, the refusals and their alerts, then the record driver to the end.

use std::io::{self, Read, Write};

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::poll_fn;
use rustls::server::Accepted;
use rustls::{Connection, ServerConnection};

use crate::deadline::Budget;
use crate::error::{Error, ErrorKind, Result};
use crate::stream::TlsStream;
use crate::stream::sync_io::{SyncIo, to_poll};

use super::state::Compiled;

/// A fatal `unrecognized_name` alert (RFC 6066, 112) in a plaintext record, as sent
/// before any key is agreed.
const UNRECOGNIZED_NAME: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112];

/// The whole server handshake with `compiled`, in what is left of `budget`; `prefix`
/// holds the bytes of the transport already read (sniffed), which rustls gets first.
pub(crate) async fn handshake<S>(
    mut io: S,
    prefix: &[u8],
    compiled: &Compiled,
    budget: &Budget,
) -> Result<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if compiled.refuses_some_names() {
        let accepted = budget.run(read_client_hello(&mut io, prefix)).await?;
        return answer(io, accepted, compiled, budget).await;
    }
    let mut conn = ServerConnection::new(compiled.config.clone()).map_err(Error::from_rustls)?;
    if !prefix.is_empty() {
        feed(prefix, |bytes| conn.read_tls(bytes))?;
        conn.process_new_packets().map_err(Error::from_rustls)?;
    }
    TlsStream::new(io, Connection::Server(conn), compiled.policy.eof, None)
        .handshake_within(budget)
        .await
}

/// Reads the transport until rustls has the whole ClientHello; `prefix` first.
///
/// A refusal by rustls (not TLS, a malformed or unacceptable ClientHello) sends
/// rustls's alert and is a [`ErrorKind::Tls`] error.
pub(crate) async fn read_client_hello<S>(io: &mut S, prefix: &[u8]) -> Result<Accepted>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut acceptor = rustls::server::Acceptor::default();
    feed(prefix, |bytes| acceptor.read_tls(bytes))?;
    loop {
        match acceptor.accept() {
            Ok(Some(accepted)) => return Ok(accepted),
            Ok(None) => {}
            Err((err, mut alert)) => {
                send(io, |w| alert.write(w)).await;
                return Err(Error::from_rustls(err));
            }
        }
        let read = poll_fn(|cx| {
            let mut sync = SyncIo::new(&mut *io, cx);
            let result = acceptor.read_tls(&mut sync);
            to_poll(result, sync.pending)
        })
        .await
        .map_err(|e| Error::from_io(e, "cannot read the ClientHello"))?;
        if read == 0 {
            return Err(Error::with_source(
                ErrorKind::Io,
                "tls handshake failed",
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the TLS handshake",
                ),
            ));
        }
    }
}

/// Answers a ClientHello with `compiled`, or refuses a server name it has no identity
/// for with the `unrecognized_name` alert.
pub(crate) async fn answer<S>(
    mut io: S,
    accepted: Accepted,
    compiled: &Compiled,
    budget: &Budget,
) -> Result<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Err(refusal) = compiled.check_name(accepted.client_hello().server_name()) {
        let mut alert: &[u8] = &UNRECOGNIZED_NAME;
        let _ = budget
            .run(async {
                send(&mut io, |w| write_some(w, &mut alert)).await;
                Ok(())
            })
            .await;
        return Err(refusal);
    }
    let conn = match accepted.into_connection(compiled.config.clone()) {
        Ok(conn) => conn,
        Err((err, mut alert)) => {
            let _ = budget
                .run(async {
                    send(&mut io, |w| alert.write(w)).await;
                    Ok(())
                })
                .await;
            return Err(Error::from_rustls(err));
        }
    };
    TlsStream::new(io, Connection::Server(conn), compiled.policy.eof, None)
        .handshake_within(budget)
        .await
}

/// Hands all of `bytes` to a rustls `read_tls`.
fn feed(
    mut bytes: &[u8],
    mut read_tls: impl FnMut(&mut dyn Read) -> io::Result<usize>,
) -> Result<()> {
    while !bytes.is_empty() {
        let n = read_tls(&mut bytes).map_err(|e| Error::from_io(e, "tls handshake failed"))?;
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// Writes what `next` has for the transport (until it returns `Ok(0)`), then flushes.
/// Best effort: an alert to a peer that has gone is no error of ours.
async fn send<S>(io: &mut S, mut next: impl FnMut(&mut dyn Write) -> io::Result<usize>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = poll_fn(|cx| {
        let mut sync = SyncIo::new(&mut *io, cx);
        let result = loop {
            match next(&mut sync) {
                Ok(0) => break sync.flush(),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        to_poll(result, sync.pending)
    })
    .await;
}

/// Writes some of `rest` to `w`, keeping what is left.
fn write_some(w: &mut dyn Write, rest: &mut &[u8]) -> io::Result<usize> {
    if rest.is_empty() {
        return Ok(0);
    }
    let n = w.write(rest)?;
    *rest = &rest[n..];
    Ok(n)
}
