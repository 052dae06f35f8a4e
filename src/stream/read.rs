//! The read side of [`TlsStream`]: records in from the transport (through the
//! read-ahead once the handshake is done), plaintext out, and what a transport EOF means
//! under the stream's [`EofPolicy`].

use std::io::{self, Read};
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};

use crate::error::Error;
use crate::policy::EofPolicy;

use super::TlsStream;
use super::sync_io::{SyncIo, to_poll};

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// Reads TLS bytes from the transport into rustls and processes them.
    /// `Ready(Ok(false))` is transport EOF.
    pub(super) fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut io = SyncIo::new(&mut self.io, cx);
        let result = self.conn.read_tls(&mut io);
        let n = ready!(to_poll(result, io.pending))?;
        if n == 0 {
            self.read_eof = true;
        }
        self.process(cx)?;
        Poll::Ready(Ok(n > 0))
    }

    /// Hands rustls the bytes read ahead and processes them. What that makes rustls
    /// send (a KeyUpdate reply, a refusal to renegotiate) goes out now, without waiting
    /// on the transport: a peer may be waiting for it before it sends anything more.
    pub(super) fn feed_readahead(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let mut data = self.readahead.data();
        let n = self.conn.read_tls(&mut data)?;
        self.readahead.consume(n);
        self.process(cx)?;
        self.push_pending(cx);
        Ok(())
    }

    /// Processes what rustls has read; on failure sends rustls's alert without waiting.
    fn process(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Err(err) = self.conn.process_new_packets() {
            // Tell the peer why: rustls has queued an alert.
            self.push_pending(cx);
            self.fatal = Some(err.clone());
            return Err(Error::from_rustls(err).into());
        }
        Ok(())
    }

    /// The session's fatal error, if it has one.
    pub(super) fn check_fatal(&self) -> io::Result<()> {
        match &self.fatal {
            Some(err) => Err(Error::from_rustls(err.clone()).into()),
            None => Ok(()),
        }
    }

    /// `AsyncRead::poll_read`, on `&mut self`: fills as much of `buf` as the bytes
    /// already received allow, and waits on the transport only when it has nothing.
    pub(crate) fn poll_read_plain(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut filled = 0;
        loop {
            match self.conn.reader().read(&mut buf[filled..]) {
                Ok(0) => {
                    self.peer_closed = true;
                    return Poll::Ready(Ok(filled));
                }
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Poll::Ready(Ok(filled));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !self.read_eof => {}
                Err(_) if filled > 0 => return Poll::Ready(Ok(filled)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return Poll::Ready(match self.eof {
                        EofPolicy::Strict => Err(truncated()),
                        EofPolicy::AllowRagged => Ok(0),
                    });
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
            // The plaintext is drained. What is returned already goes first; an error
            // waits for the next call.
            if let Err(e) = self.check_fatal() {
                return Poll::Ready(if filled > 0 { Ok(filled) } else { Err(e) });
            }
            if !self.readahead.is_empty() {
                match self.feed_readahead(cx) {
                    Ok(()) => continue,
                    // Records before the bad one may have left plaintext: deliver it
                    // first; the error comes once it is drained.
                    Err(_) if self.fatal.is_some() => continue,
                    Err(_) if filled > 0 => return Poll::Ready(Ok(filled)),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if filled > 0 {
                return Poll::Ready(Ok(filled));
            }
            // About to wait for the peer: first send what rustls still holds (session
            // tickets, a KeyUpdate reply), which the peer may be waiting for.
            self.push_pending(cx);
            if ready!(self.readahead.poll_fill(&mut self.io, cx))? == 0 {
                // Tell rustls about the EOF, so it can tell truncation from close_notify.
                self.read_eof = true;
                self.conn.read_tls(&mut io::empty())?;
                self.process(cx)?;
            }
        }
    }
}

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the peer closed the connection without close_notify: the data may be truncated",
    )
}
