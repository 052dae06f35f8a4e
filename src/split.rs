//! [`ReadHalf`] and [`WriteHalf`]: one TLS stream driven from two tasks (Gauche's
//! `tls-input-port` and `tls-output-port`).
//!
//! Both halves share the stream behind a mutex taken only inside each `poll_*` call,
//! never held across `Pending`. A TLS connection is one state machine (a read may have to
//! write an alert, and both directions share the transport), so the transport only keeps
//! one waker per direction; whichever half polls it registers a waker that wakes *both*
//! halves, so neither can lose its wake-up to the other. A half woken for the other's
//! event polls once, finds nothing, and sleeps again: no spinning.

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_io::{AsyncRead, AsyncWrite};

use crate::stream::SessionInfo;
use crate::stream::TlsStream;

struct Shared<S> {
    stream: Mutex<TlsStream<S>>,
    wakers: Arc<Wakers>,
    /// Wakes both halves; handed to the transport.
    both: Waker,
}

/// The last waker of each half.
#[derive(Default)]
struct Wakers {
    read: Mutex<Option<Waker>>,
    write: Mutex<Option<Waker>>,
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.read, &self.write] {
            if let Some(waker) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                waker.wake();
            }
        }
    }
}

impl<S> Shared<S> {
    fn new(stream: TlsStream<S>) -> Arc<Shared<S>> {
        let wakers = Arc::new(Wakers::default());
        Arc::new(Shared {
            stream: Mutex::new(stream),
            both: Waker::from(wakers.clone()),
            wakers,
        })
    }

    /// Registers `cx`'s waker in `slot`, then runs `f` on the stream with the waker that
    /// wakes both halves.
    fn poll<T>(
        &self,
        slot: &Mutex<Option<Waker>>,
        cx: &Context<'_>,
        f: impl FnOnce(&mut TlsStream<S>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        {
            let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        let mut both = Context::from_waker(&self.both);
        f(&mut self.lock(), &mut both)
    }

    fn lock(&self) -> MutexGuard<'_, TlsStream<S>> {
        self.stream.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S> TlsStream<S> {
    /// Splits the stream into a read half and a write half that separate tasks, on
    /// separate threads, can drive at once.
    ///
    /// Closing the [`WriteHalf`] sends `close_notify` (and a FIN on TCP) while the
    /// [`ReadHalf`] keeps reading until the peer closes. Dropping one half leaves the
    /// other working. [`ReadHalf::reunite`] puts them back together.
    ///
    /// # Examples
    ///
    /// Echo in one task while another sends, here joined in one future:
    ///
    /// ```
    /// # fn main() -> tlsport::Result<()> {
    /// # let cert = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    /// # let id = tlsport::Identity::from_pem(cert.cert.pem().as_bytes(), cert.signing_key.serialize_pem().as_bytes())?;
    /// # let acceptor = tlsport::Acceptor::new(tlsport::Policy::new().identity(id.clone()))?;
    /// # let connector = tlsport::Connector::new(tlsport::Policy::new().ca_bundle(tlsport::CaBundle::Empty).add_root_certificate(id.chain()[0].clone()))?;
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
    ///
    /// future::block_on(async {
    ///     let (a, b) = tlsport::duplex(16 * 1024);
    ///     let (client, server) =
    ///         future::zip(connector.connect_with("localhost", a), acceptor.accept(b)).await;
    ///     let (mut read, mut write) = client?.split();
    ///     let mut server = server?;
    ///     let sender = async {
    ///         write.write_all(b"ping").await?;
    ///         write.close().await // close_notify; `read` keeps working
    ///     };
    ///     let receiver = async {
    ///         let mut reply = [0; 4];
    ///         read.read_exact(&mut reply).await.map(|()| reply)
    ///     };
    ///     let echo = async {
    ///         let mut got = [0; 4];
    ///         server.read_exact(&mut got).await?;
    ///         server.write_all(&got).await?;
    ///         server.flush().await
    ///     };
    ///     let ((sent, reply), echoed) = future::zip(future::zip(sender, receiver), echo).await;
    ///     sent?;
    ///     echoed?;
    ///     assert_eq!(&reply?, b"ping");
    ///     assert!(read.reunite(write).is_ok());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        let shared = Shared::new(self);
        (
            ReadHalf {
                shared: shared.clone(),
            },
            WriteHalf { shared },
        )
    }
}

/// The reading half of a [`TlsStream`], from [`TlsStream::split`].
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a [`TlsStream`], from [`TlsStream::split`].
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

impl<S> ReadHalf<S> {
    /// Joins the halves back into the stream they came from.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`], giving both halves back, when they are not a pair.
    pub fn reunite(self, write: WriteHalf<S>) -> Result<TlsStream<S>, ReuniteError<S>> {
        if !self.is_pair_of(&write) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => Ok(shared
                .stream
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)),
            Err(shared) => Err(ReuniteError(
                ReadHalf {
                    shared: shared.clone(),
                },
                WriteHalf { shared },
            )),
        }
    }

    /// Whether `write` came from the same [`TlsStream::split`] call.
    pub fn is_pair_of(&self, write: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &write.shared)
    }

    /// What the handshake negotiated.
    pub fn info(&self) -> SessionInfo {
        self.shared.lock().info()
    }
}

impl<S> WriteHalf<S> {
    /// Whether `read` came from the same [`TlsStream::split`] call.
    pub fn is_pair_of(&self, read: &ReadHalf<S>) -> bool {
        read.is_pair_of(self)
    }

    /// What the handshake negotiated.
    pub fn info(&self) -> SessionInfo {
        self.shared.lock().info()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for ReadHalf<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let shared = &self.shared;
        shared.poll(&shared.wakers.read, cx, |s, cx| s.poll_read_plain(cx, buf))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WriteHalf<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let shared = &self.shared;
        shared.poll(&shared.wakers.write, cx, |s, cx| s.poll_write_buf(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let shared = &self.shared;
        shared.poll(&shared.wakers.write, cx, |s, cx| {
            s.poll_write_bufs(cx, bufs)
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let shared = &self.shared;
        shared.poll(&shared.wakers.write, cx, TlsStream::poll_flush_plain)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let shared = &self.shared;
        shared.poll(&shared.wakers.write, cx, TlsStream::poll_close_plain)
    }
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// The halves given to [`ReadHalf::reunite`] were not a pair; both are given back.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReuniteError")
            .field(&self.0)
            .field(&self.1)
            .finish()
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of two different TLS streams")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}
