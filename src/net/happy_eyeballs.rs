//! Happy Eyeballs (RFC 8305): racing a host's addresses, under a deadline, and
//! reporting every address tried when none connects.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use async_io::Timer;
use async_net::TcpStream;

use crate::deadline::deadline;
use crate::error::{Error, ErrorKind, Result};

/// How long Happy Eyeballs waits for an attempt before starting the next (RFC 8305's
/// recommended "Connection Attempt Delay").
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

type Attempt = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Connects to one of the addresses `addrs` gives (those of `host` port `number`) by
/// Happy Eyeballs, within `limit`. When none accepts, or the deadline passes, the
/// error's source names every address tried and why it failed.
pub(super) async fn connect_within(
    host: &str,
    number: u16,
    addrs: impl Future<Output = Result<Vec<SocketAddr>>>,
    limit: Option<Duration>,
) -> Result<TcpStream> {
    let tried = Mutex::new(Tried::default());
    let work = async {
        let addrs = interleave(addrs.await?);
        happy_eyeballs(addrs, &tried).await.map_err(|failed| {
            Error::with_source(
                ErrorKind::Connect,
                format!(
                    "cannot connect to {host} port {number} ({})",
                    failed.count()
                ),
                failed,
            )
        })
    };
    deadline(limit, work, |limit| {
        let message = format!("connecting to {host} port {number} did not finish within {limit:?}");
        let failed = lock(&tried).take();
        if failed.0.is_empty() {
            return Error::new(ErrorKind::TimedOut, message);
        }
        Error::with_source(
            ErrorKind::TimedOut,
            format!("{message} ({})", failed.count()),
            failed,
        )
    })
    .await
}

/// The addresses Happy Eyeballs has started, in order, and the errors of those that
/// failed (by their place in that order).
#[derive(Default)]
struct Tried {
    started: Vec<SocketAddr>,
    errors: Vec<(usize, io::Error)>,
}

impl Tried {
    /// Every address started, with its error, or "no answer" for those still pending.
    fn take(&mut self) -> Failed {
        let mut errors: Vec<Option<io::Error>> = self.started.iter().map(|_| None).collect();
        for (order, err) in self.errors.drain(..) {
            errors[order] = Some(err);
        }
        let addrs = std::mem::take(&mut self.started);
        Failed(
            addrs
                .into_iter()
                .zip(errors)
                .map(|(addr, err)| {
                    let err = err.unwrap_or_else(|| {
                        io::Error::new(io::ErrorKind::TimedOut, "no answer before the deadline")
                    });
                    (addr, err)
                })
                .collect(),
        )
    }
}

fn lock(tried: &Mutex<Tried>) -> std::sync::MutexGuard<'_, Tried> {
    tried
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every address Happy Eyeballs tried, in the order tried, and why each failed: the
/// source of an [`ErrorKind::Connect`] or [`ErrorKind::TimedOut`] error (which itself
/// says only what failed).
#[derive(Debug)]
struct Failed(Vec<(SocketAddr, io::Error)>);

impl Failed {
    /// "1 address tried", "2 addresses tried".
    fn count(&self) -> String {
        match self.0.len() {
            1 => "1 address tried".to_owned(),
            n => format!("{n} addresses tried"),
        }
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no address to connect to");
        }
        for (i, (addr, err)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{addr}: {err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failed {}

/// Orders addresses for Happy Eyeballs: the resolver's first choice first, then the
/// two families alternating.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_is_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (mut first, mut other): (VecDeque<_>, VecDeque<_>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == first_is_v6);
    let mut out = Vec::with_capacity(first.len() + other.len());
    while !first.is_empty() || !other.is_empty() {
        out.extend(first.pop_front());
        out.extend(other.pop_front());
    }
    out
}

/// RFC 8305 connection racing, without spawning: an attempt starts every
/// [`ATTEMPT_DELAY`] (or at once when one fails) while earlier ones carry on; the first
/// to connect wins and the rest are dropped. Each address started and each failure is
/// recorded in `tried` as it happens (for a deadline's error); when all fail, the error
/// reports each address with its error, in the order tried.
async fn happy_eyeballs(addrs: Vec<SocketAddr>, tried: &Mutex<Tried>) -> Result<TcpStream, Failed> {
    let mut queue = addrs.into_iter();
    // Each attempt with its place in the order tried.
    let mut attempts: Vec<(usize, Attempt)> = Vec::new();
    let mut next_start: Option<Timer> = None;
    let mut start_now = true;
    futures_lite::future::poll_fn(move |cx| {
        loop {
            if !start_now {
                if let Some(timer) = next_start.as_mut() {
                    start_now = Pin::new(timer).poll(cx).is_ready();
                }
            }
            let started = start_now;
            if std::mem::take(&mut start_now) {
                next_start = None;
                if let Some(addr) = queue.next() {
                    let mut tried = lock(tried);
                    attempts.push((tried.started.len(), Box::pin(TcpStream::connect(addr))));
                    tried.started.push(addr);
                    next_start = Some(Timer::after(ATTEMPT_DELAY));
                }
            }
            let mut i = 0;
            while i < attempts.len() {
                match attempts[i].1.as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => return Poll::Ready(Ok(stream)),
                    Poll::Ready(Err(e)) => {
                        let (order, _) = attempts.swap_remove(i);
                        lock(tried).errors.push((order, e));
                        start_now = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            if attempts.is_empty() && queue.len() == 0 {
                return Poll::Ready(Err(lock(tried).take()));
            }
            // Go round again after a failure (start the next attempt now) or after
            // starting one (to register the new timer and attempt with the waker).
            if !start_now && !started {
                return Poll::Pending;
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    #[test]
    fn interleave_alternates_families_starting_with_the_first() {
        let a: Vec<SocketAddr> = [
            "[::1]:1",
            "[::2]:1",
            "[::3]:1",
            "127.0.0.1:1",
            "127.0.0.2:1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let got: Vec<String> = interleave(a).iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "[::1]:1",
                "127.0.0.1:1",
                "[::2]:1",
                "127.0.0.2:1",
                "[::3]:1"
            ]
        );
    }

    fn race(addrs: Vec<SocketAddr>) -> Result<TcpStream, Failed> {
        futures_lite::future::block_on(happy_eyeballs(addrs, &Mutex::default()))
    }

    /// A listener whose accept queue is full: connections to it hang (the kernel drops
    /// their SYNs) until the queue drains.
    fn black_hole() -> (TcpListener, Vec<std::net::TcpStream>, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        // The queue holds backlog + 1 (std binds with 128); fill it and then some.
        while fillers.len() < 200 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(s) => fillers.push(s),
                Err(_) => break,
            }
        }
        (listener, fillers, addr)
    }

    #[test]
    fn a_hanging_first_address_does_not_delay_past_the_attempt_delay() {
        let (_hole, _fillers, hanging) = black_hole();
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let good_addr = good.local_addr().unwrap();
        let started = Instant::now();
        let stream = race(vec![hanging, good_addr]).expect("the second address connects");
        let took = started.elapsed();
        assert_eq!(stream.peer_addr().unwrap(), good_addr);
        assert!(took >= ATTEMPT_DELAY, "the second attempt waited {took:?}");
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }

    #[test]
    fn a_refused_first_address_starts_the_next_at_once() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = closed.local_addr().unwrap();
        drop(closed);
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let started = Instant::now();
        let stream = race(vec![refused, good.local_addr().unwrap()]).unwrap();
        assert_eq!(stream.peer_addr().unwrap(), good.local_addr().unwrap());
        assert!(started.elapsed() < ATTEMPT_DELAY, "{:?}", started.elapsed());
    }

    /// Two loopback addresses where nothing listens.
    fn two_refused() -> [SocketAddr; 2] {
        let closed = [
            TcpListener::bind("127.0.0.1:0").unwrap(),
            TcpListener::bind("127.0.0.1:0").unwrap(),
        ];
        closed.map(|l| l.local_addr().unwrap())
    }

    #[test]
    fn all_refused_reports_every_address_in_order() {
        let [a, b] = two_refused();
        let failed = race(vec![a, b]).unwrap_err();
        let addrs: Vec<SocketAddr> = failed.0.iter().map(|(addr, _)| *addr).collect();
        assert_eq!(addrs, [a, b]);
        for (_, err) in &failed.0 {
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        }
    }

    #[test]
    fn connect_error_names_every_address_once_in_its_source() {
        let [a, b] = two_refused();
        let addrs = async { Ok(vec![a, b]) };
        let err = futures_lite::future::block_on(connect_within("example.test", 443, addrs, None))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect);
        assert_eq!(
            err.to_string(),
            "cannot connect to example.test port 443 (2 addresses tried)"
        );
        let source = std::error::Error::source(&err).expect("the causes are the source");
        let causes = source.to_string();
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let refused = std::net::TcpStream::connect(a).err().unwrap_or(refused);
        for addr in [a, b] {
            let line = format!("{addr}: {refused}");
            assert_eq!(causes.matches(&line[..]).count(), 1, "{causes}");
        }
        assert!(std::error::Error::source(source).is_none());
    }

    #[test]
    fn a_deadline_error_names_the_failed_and_the_unanswered_addresses() {
        let (_hole, _fillers, hanging) = black_hole();
        let [refused, _] = two_refused();
        let addrs = async { Ok(vec![hanging, refused]) };
        let limit = ATTEMPT_DELAY * 3;
        let err =
            futures_lite::future::block_on(connect_within("example.test", 443, addrs, Some(limit)))
                .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "connecting to example.test port 443 did not finish within {limit:?} \
                 (2 addresses tried)"
            )
        );
        let causes = std::error::Error::source(&err).unwrap().to_string();
        let refusal = std::net::TcpStream::connect(refused).unwrap_err();
        assert_eq!(
            causes,
            format!("{hanging}: no answer before the deadline; {refused}: {refusal}")
        );
    }
}
