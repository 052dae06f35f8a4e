//! Reads for a caller that lends no initialised buffer (hyper's `ReadBufCursor`, which
//! can only be filled safely with `put_slice`): the plaintext goes from rustls's own
//! buffer into the caller's sink, copied once, as `AsyncRead::poll_read` copies it into a
//! slice. Reading into a scratch buffer first would copy everything twice.

use std::io::{self, BufRead};
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};

use super::TlsStream;

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// `poll_read_plain` into a sink: `put` is handed the plaintext rustls holds, as it
    /// stands in rustls's buffer, at most `max` bytes in all. `Ready(Ok(0))` is the
    /// end of the stream (or `max == 0`); errors, EOF and truncation are those of
    /// `poll_read_plain`, which does all the waiting: this reads its first byte through
    /// it, then takes what rustls has decrypted and what the read-ahead holds, without
    /// waiting on the transport again.
    pub(crate) fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
        mut put: impl FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        if max == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut first = [0; 1];
        if ready!(self.poll_read_plain(cx, &mut first))? == 0 {
            return Poll::Ready(Ok(0));
        }
        put(&first);
        let mut total = 1;
        loop {
            let mut reader = self.conn.reader();
            while total < max {
                // An error here (nothing decrypted yet, EOF, a closed session) is for the
                // next call's `poll_read_plain` to report: this call has data already.
                let chunk = match reader.fill_buf() {
                    Ok(chunk) if !chunk.is_empty() => chunk,
                    _ => break,
                };
                let n = chunk.len().min(max - total);
                put(&chunk[..n]);
                reader.consume(n);
                total += n;
            }
            // More records may wait in the read-ahead: decrypt them too, as
            // `poll_read_plain` would, but never wait on the transport with data in hand.
            if total == max || self.readahead.is_empty() || self.fatal.is_some() {
                return Poll::Ready(Ok(total));
            }
            if self.feed_readahead(cx).is_err() && self.fatal.is_none() {
                // Reported by the next call, which has no data in hand.
                return Poll::Ready(Ok(total));
            }
            // (After a bad record the plaintext of the records before it is taken
            // first; `poll_read_plain` reports the session's error once it is drained.)
        }
    }
}
