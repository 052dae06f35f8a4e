//! Deadlines for handshakes and connects.
//!
//! An async-io `Timer` per handshake costs a reactor wake-up (an eventfd write, an epoll
//! round and a timerfd update) when it is registered and again when it is dropped: about
//! 8 % of a whole handshake's CPU. Nearly every deadline here is cancelled long before it
//! fires, so they share one sleeping helper thread instead: registering a deadline is a
//! push onto a heap under a mutex, and wakes the thread only when the new deadline is the
//! earliest; cancelling is a flag. The thread sleeps until the earliest deadline, wakes
//! the tasks whose time has come, and skips the cancelled ones.
//!
//! If the thread cannot be started, deadlines fall back to async-io timers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::Result;

/// Runs `work`, or fails with `expired(limit)` once `limit` has passed. `None` waits
/// forever.
pub(crate) async fn deadline<T>(
    limit: Option<Duration>,
    work: impl Future<Output = Result<T>>,
    expired: impl FnOnce(Duration) -> crate::Error,
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
    Shared {
        at: Instant,
        slot: Option<Arc<Slot>>,
    },
    Fallback(async_io::Timer),
}

impl Deadline {
    fn after(limit: Duration) -> Deadline {
        match Instant::now().checked_add(limit) {
            Some(at) if ticker().is_some() => Deadline::Shared { at, slot: None },
            Some(at) => Deadline::Fallback(async_io::Timer::at(at)),
            None => Deadline::Fallback(async_io::Timer::never()),
        }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut() {
            Deadline::Fallback(timer) => Pin::new(timer).poll(cx).map(drop),
            Deadline::Shared { at, slot } => {
                if Instant::now() >= *at {
                    return Poll::Ready(());
                }
                let Some(ticker) = ticker() else {
                    return Poll::Pending; // unreachable: checked when made
                };
                let slot = slot.get_or_insert_with(|| ticker.register(*at));
                slot.set_waker(cx.waker());
                if slot.fired.load(Ordering::Acquire) && Instant::now() >= *at {
                    return Poll::Ready(());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Deadline::Shared {
            slot: Some(slot), ..
        } = self
        {
            slot.cancelled.store(true, Ordering::Release);
        }
    }
}

/// One registered deadline, shared by its future and the helper thread.
#[derive(Default)]
struct Slot {
    waker: Mutex<Option<Waker>>,
    fired: AtomicBool,
    cancelled: AtomicBool,
}

impl Slot {
    fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

struct Entry {
    at: Instant,
    slot: Arc<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.at == other.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

/// The helper thread's state.
struct Ticker {
    heap: Mutex<BinaryHeap<Reverse<Entry>>>,
    changed: Condvar,
}

/// Entries kept before cancelled ones are swept out on registration.
const SWEEP_ABOVE: usize = 4096;

impl Ticker {
    fn register(&self, at: Instant) -> Arc<Slot> {
        let slot = Arc::new(Slot::default());
        let mut heap = self.lock();
        if heap.len() >= SWEEP_ABOVE {
            heap.retain(|Reverse(e)| !e.slot.cancelled.load(Ordering::Acquire));
        }
        let earliest = heap.peek().is_none_or(|Reverse(e)| at < e.at);
        heap.push(Reverse(Entry {
            at,
            slot: slot.clone(),
        }));
        drop(heap);
        if earliest {
            self.changed.notify_one();
        }
        slot
    }

    fn lock(&self) -> MutexGuard<'_, BinaryHeap<Reverse<Entry>>> {
        self.heap.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        let mut heap = self.lock();
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
                if let Some(Reverse(entry)) = heap.pop() {
                    due.push(entry.slot);
                }
            }
            if !due.is_empty() {
                drop(heap);
                for slot in due {
                    slot.fired.store(true, Ordering::Release);
                    if !slot.cancelled.load(Ordering::Acquire) {
                        let waker = slot
                            .waker
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .take();
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                    }
                }
                heap = self.lock();
                continue;
            }
            heap = match heap.peek().map(|Reverse(e)| e.at) {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(heap, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(heap)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// The shared helper, started on first use; `None` if no thread could be started.
fn ticker() -> Option<&'static Ticker> {
    static TICKER: OnceLock<Option<&'static Ticker>> = OnceLock::new();
    *TICKER.get_or_init(|| {
        let ticker: &'static Ticker = Box::leak(Box::new(Ticker {
            heap: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("tlsport-deadlines".to_owned())
            .spawn(move || ticker.run())
            .ok()
            .map(|_| ticker)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_fire_in_order_and_cancelled_ones_do_not_wake() {
        futures_lite::future::block_on(async {
            let started = Instant::now();
            let cancelled = Deadline::after(Duration::from_millis(50));
            let mut cancelled = Box::pin(cancelled);
            assert!(
                futures_lite::future::poll_once(&mut cancelled)
                    .await
                    .is_none()
            );
            drop(cancelled);
            let long = Deadline::after(Duration::from_millis(300));
            let short = Deadline::after(Duration::from_millis(100));
            futures_lite::future::zip(long, async {
                short.await;
                let at = started.elapsed();
                assert!(at >= Duration::from_millis(100) && at < Duration::from_millis(280));
            })
            .await;
            assert!(started.elapsed() >= Duration::from_millis(300));
        });
    }

    #[test]
    fn a_later_earlier_deadline_wakes_the_thread() {
        futures_lite::future::block_on(async {
            // A far deadline first, then a near one: the thread must not sleep through it.
            let _far = Box::pin(Deadline::after(Duration::from_secs(30)));
            let mut far = _far;
            assert!(futures_lite::future::poll_once(&mut far).await.is_none());
            let started = Instant::now();
            Deadline::after(Duration::from_millis(50)).await;
            assert!(started.elapsed() < Duration::from_secs(5));
        });
    }
}
