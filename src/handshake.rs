//! Running a handshake to completion under the policy's deadline; shared by
//! [`Connector`](crate::Connector) and [`Acceptor`](crate::Acceptor).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

use crate::deadline::deadline;
use crate::error::{Error, ErrorKind, Result};
use crate::stream::TlsStream;

/// Completes the handshake of `stream` within `limit` (the whole handshake, not each read).
pub(crate) async fn handshake<S>(
    stream: TlsStream<S>,
    limit: Option<Duration>,
) -> Result<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake = async {
        Handshake {
            stream: Some(stream),
        }
        .await
        .map_err(|e| Error::from_io(e, "tls handshake failed"))
    };
    deadline(limit, handshake, |limit| {
        Error::new(
            ErrorKind::TimedOut,
            format!("the TLS handshake did not finish within {limit:?}"),
        )
    })
    .await
}

/// A handshake in progress; yields the stream when it is done.
struct Handshake<S> {
    stream: Option<TlsStream<S>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Handshake<S> {
    type Output = std::io::Result<TlsStream<S>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let stream = self
            .stream
            .as_mut()
            .expect("Handshake polled after completion");
        match stream.poll_handshake(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(self.stream.take().expect("checked above"))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
