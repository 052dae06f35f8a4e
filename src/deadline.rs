//! Deadlines for handshakes and connects.
//!
//! An async-io `Timer` per handshake costs a reactor wake-up (an eventfd write, an epoll
//! round and a timerfd update) when it is registered and again when it is dropped: about
//! 8 % of a whole handshake's CPU. Nearly every deadline here is cancelled long before it
//! fires, so they share one sleeping helper thread instead. The thread sleeps until the
//! earliest deadline and wakes the tasks whose time has come.
//!
//! The thread and its timer set are in `ticker`; this module has the futures.

mod budget;
#[cfg(test)]
mod tests;
mod ticker;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

pub(crate) use self::budget::Budget;
use self::ticker::{Entry, Key, Ticker, ticker};

/// Runs `work`, or fails with `expired(limit)` once `limit` has passed. `None` waits
/// forever.
pub(crate) async fn deadline<T>(
    limit: Option<Duration>,
    work: impl Future<Output = Result<T>>,
    expired: impl FnOnce(Duration) -> Error,
) -> Result<T> {
    match limit {
        None => work.await,
        Some(limit) => {
            let timer = async {
                Deadline::after(limit).await;
                Err(expired(limit))
            };
            futures_lite::future::or(work, timer).await
        }
    }
}

/// A future that completes at an instant.
enum Deadline {
    /// Kept by a [`Ticker`]; registered on the first poll.
    Shared {
        at: Instant,
        ticker: &'static Ticker,
        entry: Option<Entry>,
    },
    /// An async-io timer: no ticker could be had, or its thread died.
    Fallback(async_io::Timer),
}

impl Deadline {
    /// A deadline `limit` from now, on this process's ticker when there is one.
    fn after(limit: Duration) -> Deadline {
        Deadline::on(ticker(), limit)
    }

    /// A deadline `limit` from now, kept by `ticker` (an async-io timer if `None`).
    fn on(ticker: Option<&'static Ticker>, limit: Duration) -> Deadline {
        match (Instant::now().checked_add(limit), ticker) {
            (Some(at), Some(ticker)) => Deadline::Shared {
                at,
                ticker,
                entry: None,
            },
            (Some(at), None) => Deadline::Fallback(async_io::Timer::at(at)),
            (None, _) => Deadline::Fallback(async_io::Timer::never()),
        }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let fallback_at = match this {
            Deadline::Fallback(timer) => return Pin::new(timer).poll(cx).map(drop),
            Deadline::Shared { at, ticker, entry } => {
                if Instant::now() >= *at {
                    return Poll::Ready(());
                }
                if entry.is_none() {
                    *entry = ticker.register(*at, cx.waker());
                }
                match entry {
                    // The waker is in place before the checks, so a thread that fires or
                    // dies after them finds it.
                    Some(entry) => {
                        entry.slot.set_waker(cx.waker());
                        if entry.slot.fired.load(Ordering::Acquire) {
                            return Poll::Ready(());
                        }
                        if ticker.alive.load(Ordering::Acquire) {
                            return Poll::Pending;
                        }
                        *at
                    }
                    None => *at, // the thread had died
                }
            }
        };
        // Dropping the shared deadline here takes it out of the dead ticker's map.
        *this = Deadline::Fallback(async_io::Timer::at(fallback_at));
        Pin::new(this).poll(cx)
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Deadline::Shared {
            at,
            ticker,
            entry: Some(entry),
        } = self
        {
            // Let the task go now, even if the thread holds the slot for a moment.
            drop(entry.slot.take_waker());
            if !entry.slot.fired.load(Ordering::Acquire) {
                ticker.cancel(Key {
                    at: *at,
                    id: entry.id,
                });
            }
        }
    }
}
