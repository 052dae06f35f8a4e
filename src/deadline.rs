//! Deadlines for handshakes and connects.
//!
//! An async-io `Timer` per handshake costs a reactor wake-up (an eventfd write, an epoll
//! round and a timerfd update) when it is registered and again when it is dropped: about
//! 8 % of a whole handshake's CPU. Nearly every deadline here is cancelled long before it
//! fires, so they share one sleeping helper thread instead. The thread sleeps until the
//! earliest deadline and wakes the tasks whose time has come.
//!
//! # The timer set
//!
//! Live deadlines sit in a `BTreeMap` keyed by `(instant, id)` under one mutex. Registering
//! is an insertion and dropping a deadline is a removal, both O(log n) however many are
//! live, so a server holding 16,000 silent clients (a slowloris) starts the next handshake
//! as cheaply as an idle one. Registration wakes the thread only when the new deadline is
//! earlier than the instant the thread already means to wake at; dropping never wakes it.
//! So one handshake at a time, each deadline cancelled long before its time, costs a
//! thread wake-up only about once per timeout period: the thread wakes at the dropped
//! deadline's time, finds nothing due and sleeps until told of a new one. Removal on drop
//! also lets the task's `Waker`, and with it the task, go at once rather than at the
//! deadline's time.
//!
//! Chosen over the alternative, a heap with cancelled flags swept out when they exceed
//! half of it: that keeps a drop off the shared lock but holds up to twice the live
//! entries, wakes the thread for cancelled ones, and needs a shared count of cancelled
//! entries kept right across racing drops and sweeps. Eager removal keeps the map exactly
//! the live deadlines for one more uncontended lock and a tree removal per deadline: about
//! 930 instructions to make, register and drop a deadline against the heap's 640
//! (callgrind, release build), plus the fork check below (a `getpid` system call per new
//! deadline, 0.15 to 0.5 µs on a loaded 2-core VM), where a handshake takes hundreds of
//! µs.
//!
//! # When the thread is gone
//!
//! A waker that panics is caught (and logged); the thread goes on. Should the thread still
//! die (a bug), it wakes every task waiting on it as it goes; their deadlines move to
//! async-io timers, as do deadlines made afterwards: a thread that died in this process is
//! not restarted, since the same fault would likely kill the next one. After `fork()` the
//! child has no thread: each ticker records its process id, and the first deadline made in
//! a new process starts that process's own thread (the fast path stays). A deadline made
//! before the fork and still pending in the child waits on the parent's thread and does not
//! fire there (checking the process id on every poll costs a system call); dropping it is
//! safe: it never waits for the parent's lock in the child. If no thread can be started,
//! deadlines fall back to async-io timers.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
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
    /// Kept by a [`Ticker`]; registered on the first poll.
    Shared {
        at: Instant,
        ticker: &'static Ticker,
        entry: Option<Entry>,
    },
    /// An async-io timer: no ticker could be had, or its thread died.
    Fallback(async_io::Timer),
}

/// A deadline's place in its ticker's map.
struct Entry {
    id: u64,
    slot: Arc<Slot>,
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

/// One registered deadline, shared by its future and the helper thread.
struct Slot {
    waker: Mutex<Option<Waker>>,
    /// Set by the thread when the deadline's time has come.
    fired: AtomicBool,
}

impl Slot {
    fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn take_waker(&self) -> Option<Waker> {
        self.waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Orders the map: by instant, then by registration.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    at: Instant,
    id: u64,
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        #[cfg(test)]
        tests::VISITED.with(|c| c.set(c.get() + 1)); // a comparison looks at an entry
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The live deadlines of one ticker.
struct Timers {
    map: BTreeMap<Key, Arc<Slot>>,
    next_id: u64,
    /// What the thread is doing, so that registration wakes it only when it must.
    thread: Sleep,
    /// The deadline of the last registration that woke the thread. The thread sleeps no
    /// later than this even if that deadline is gone by the time it looks, so the next
    /// registrations (later ones, as a rule) need not wake it again.
    hint: Option<Instant>,
}

/// The helper thread's state, as last recorded under the lock.
#[derive(Clone, Copy)]
enum Sleep {
    /// Working, or notified: it reads the map again before it sleeps.
    Awake,
    /// Waiting until this instant (the earliest deadline when it went to sleep).
    Until(Instant),
    /// Waiting for a notification: the map was empty.
    Forever,
}

/// A helper thread and the deadlines it keeps.
struct Ticker {
    timers: Mutex<Timers>,
    changed: Condvar,
    /// The process the thread runs in.
    pid: u32,
    /// Cleared, under the `timers` lock, when the thread ends.
    alive: AtomicBool,
    /// The ticker of a process forked from this one, which has no thread of its own.
    successor: OnceLock<Option<&'static Ticker>>,
    /// Makes the thread panic outside any `catch_unwind`, to test what follows.
    #[cfg(test)]
    kill: AtomicBool,
    /// Notifications sent to the thread.
    #[cfg(test)]
    notified: std::sync::atomic::AtomicUsize,
}

impl Ticker {
    /// A ticker for process `pid`, with no thread yet.
    fn new(pid: u32) -> &'static Ticker {
        Box::leak(Box::new(Ticker {
            timers: Mutex::new(Timers {
                map: BTreeMap::new(),
                next_id: 0,
                thread: Sleep::Awake,
                hint: None,
            }),
            changed: Condvar::new(),
            pid,
            alive: AtomicBool::new(true),
            successor: OnceLock::new(),
            #[cfg(test)]
            kill: AtomicBool::new(false),
            #[cfg(test)]
            notified: std::sync::atomic::AtomicUsize::new(0),
        }))
    }

    /// A ticker for this process with its thread running; `None` if no thread could be
    /// started.
    fn start() -> Option<&'static Ticker> {
        let ticker = Ticker::new(std::process::id());
        std::thread::Builder::new()
            .name("tlsport-deadlines".to_owned())
            .spawn(move || ticker.run())
            .ok()
            .map(|_| ticker)
    }

    /// Adds a deadline at `at` that wakes `waker`; `None` if the thread has died.
    fn register(&self, at: Instant, waker: &Waker) -> Option<Entry> {
        let slot = Arc::new(Slot {
            waker: Mutex::new(Some(waker.clone())),
            fired: AtomicBool::new(false),
        });
        let mut timers = self.lock();
        if !self.alive.load(Ordering::Acquire) {
            return None;
        }
        let id = timers.next_id;
        timers.next_id = id.wrapping_add(1);
        let key = Key { at, id };
        timers.map.insert(key, slot.clone());
        // Not merely "the earliest in the map": a deadline dropped since the thread went
        // to sleep leaves it waking early, so most new deadlines need no notification.
        let notify = match timers.thread {
            Sleep::Awake => false,
            Sleep::Until(wake) => at < wake,
            Sleep::Forever => true,
        };
        if notify {
            timers.thread = Sleep::Awake;
            timers.hint = Some(timers.hint.map_or(at, |hint| hint.min(at)));
        }
        drop(timers);
        if notify {
            #[cfg(test)]
            self.notified.fetch_add(1, Ordering::Relaxed);
            self.changed.notify_one();
        }
        Some(Entry { id, slot })
    }

    /// Removes a deadline that has not fired.
    fn cancel(&self, key: Key) {
        let mut timers = match self.timers.try_lock() {
            Ok(timers) => timers,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // In a forked child the parent's lock may be held forever (by a thread that
            // is not there): leave its map alone. Asked only when the lock is busy, since
            // the process id costs a system call.
            Err(TryLockError::WouldBlock) if self.pid != std::process::id() => return,
            Err(TryLockError::WouldBlock) => self.lock(),
        };
        let removed = timers.map.remove(&key);
        drop(timers);
        drop(removed); // after the lock is released
    }

    fn lock(&self) -> MutexGuard<'_, Timers> {
        self.timers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&'static self) {
        // Declared before the lock guard, so dropped after it when unwinding.
        let _exit = OnExit(self);
        let mut due = Vec::new();
        let mut timers = self.lock();
        loop {
            let now = Instant::now();
            while let Some(first) = timers.map.first_entry() {
                if first.key().at > now {
                    break;
                }
                due.push(first.remove());
            }
            if !due.is_empty() {
                drop(timers);
                for slot in due.drain(..) {
                    wake(slot, true);
                }
                timers = self.lock();
                continue;
            }
            let first = timers.map.first_key_value().map(|(k, _)| k.at);
            timers = match first.into_iter().chain(timers.hint.take()).min() {
                Some(at) => {
                    timers.thread = Sleep::Until(at);
                    let wait = at.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(timers, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => {
                    timers.thread = Sleep::Forever;
                    self.changed
                        .wait(timers)
                        .unwrap_or_else(PoisonError::into_inner)
                }
            };
            timers.thread = Sleep::Awake;
            #[cfg(test)]
            if self.kill.load(Ordering::Acquire) {
                panic!("deadline thread killed by a test");
            }
        }
    }
}

/// Marks its ticker dead when the thread ends, however it ends, and wakes every task
/// still waiting on it so that their deadlines move to async-io timers.
struct OnExit(&'static Ticker);

impl Drop for OnExit {
    fn drop(&mut self) {
        let waiting = {
            let mut timers = self.0.lock();
            self.0.alive.store(false, Ordering::Release);
            std::mem::take(&mut timers.map)
        };
        log::error!(
            "the tlsport deadline thread has stopped; deadlines use async-io timers from now on"
        );
        for slot in waiting.into_values() {
            wake(slot, false);
        }
    }
}

/// Wakes the task waiting on `slot`, marking it fired if `due`. A panic from the waker is
/// caught and logged, so the thread survives it.
fn wake(slot: Arc<Slot>, due: bool) {
    let woken = catch_unwind(AssertUnwindSafe(move || {
        if due {
            slot.fired.store(true, Ordering::Release);
        }
        let waker = slot.take_waker();
        drop(slot);
        if let Some(waker) = waker {
            waker.wake();
        }
    }));
    if let Err(payload) = woken {
        log::error!("a task's waker panicked when its deadline fired; the panic was caught");
        // A payload whose drop panics too is leaked rather than allowed to unwind.
        if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            std::mem::forget(again);
        }
    }
}

/// This process's ticker, started on first use; `None` if its thread could not be
/// started or has died.
fn ticker() -> Option<&'static Ticker> {
    static FIRST: OnceLock<Option<&'static Ticker>> = OnceLock::new();
    let first = (*FIRST.get_or_init(Ticker::start))?;
    current(first, std::process::id(), Ticker::start)
}

/// The last ticker in the chain that starts at `first`, if it belongs to process `pid`
/// and its thread is alive. A ticker of another process (this one was forked from it)
/// gets a successor from `start`.
fn current(
    first: &'static Ticker,
    pid: u32,
    start: impl FnOnce() -> Option<&'static Ticker>,
) -> Option<&'static Ticker> {
    let mut ticker = first;
    while let Some(next) = ticker.successor.get() {
        ticker = (*next)?;
    }
    if ticker.pid != pid {
        ticker = (*ticker.successor.get_or_init(start))?;
    }
    ticker.alive.load(Ordering::Acquire).then_some(ticker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::pin::pin;
    use std::sync::mpsc;
    use std::task::Wake;

    thread_local! {
        /// Entries of a timer map looked at on this thread: key comparisons, so far. A
        /// scan over the map added later must count each entry it looks at here too.
        pub(super) static VISITED: Cell<u64> = const { Cell::new(0) };
    }

    /// Polls `deadline` once with `waker`; true if it is still pending.
    fn poll_with(deadline: &mut Pin<&mut Deadline>, waker: &Waker) -> bool {
        deadline
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending()
    }

    /// Runs `deadline` to completion unless `limit` passes first; true if it completed.
    fn completes_within(deadline: Pin<&mut Deadline>, limit: Duration) -> bool {
        futures_lite::future::block_on(futures_lite::future::or(
            async {
                deadline.await;
                true
            },
            async {
                async_io::Timer::after(limit).await;
                false
            },
        ))
    }

    fn map_len(ticker: &Ticker) -> usize {
        ticker.lock().map.len()
    }

    /// Counts the references to itself, so a test can see whether a waker was let go.
    struct Counted;
    impl Wake for Counted {
        fn wake(self: Arc<Self>) {}
    }

    /// A waker that panics when woken.
    struct Panics;
    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a waker that panics (expected by a test)");
        }
    }

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

    /// Issue 11: a dropped deadline kept its waker (and so its task) in the heap until
    /// the deadline's time.
    #[test]
    fn a_dropped_deadline_lets_its_waker_go() {
        let ticker = Ticker::new(std::process::id());
        let counted = Arc::new(Counted);
        let waker = Waker::from(counted.clone());
        let mut deadline = Box::pin(Deadline::on(Some(ticker), Duration::from_secs(60)));
        assert!(poll_with(&mut deadline.as_mut(), &waker));
        drop(waker);
        assert_eq!(Arc::strong_count(&counted), 2, "the ticker holds the waker");
        assert_eq!(map_len(ticker), 1);
        drop(deadline);
        assert_eq!(
            Arc::strong_count(&counted),
            1,
            "the waker outlived its deadline"
        );
        assert_eq!(map_len(ticker), 0);
    }

    /// Issue 11: with 4,096 or more live deadlines every registration scanned and
    /// rebuilt the whole heap (16,000 entries visited per registration here). Counts the
    /// entries visited while registering and dropping 4,000 deadlines beside 16,000 live
    /// ones: a handful per level of the tree (57 per deadline when written), and the map
    /// holds exactly the live ones.
    #[test]
    fn registration_stays_logarithmic_with_many_live() {
        let ticker = Ticker::new(std::process::id());
        let noop = Waker::noop();
        let live: Vec<Pin<Box<Deadline>>> = (0..16_000)
            .map(|i| {
                let mut d = Box::pin(Deadline::on(
                    Some(ticker),
                    Duration::from_secs(60) + Duration::from_micros(i),
                ));
                assert!(poll_with(&mut d.as_mut(), noop));
                d
            })
            .collect();
        assert_eq!(map_len(ticker), 16_000);

        let before = VISITED.with(Cell::get);
        let mut kept = Vec::new();
        for i in 0..4_000u64 {
            let mut d = Box::pin(Deadline::on(Some(ticker), Duration::from_secs(61)));
            assert!(poll_with(&mut d.as_mut(), noop));
            if i % 2 == 0 {
                kept.push(d); // half stay live, half are dropped at once
            }
        }
        let per_deadline = (VISITED.with(Cell::get) - before) / 4_000;
        assert!(
            per_deadline < 200,
            "{per_deadline} entries visited per registration and drop"
        );
        assert_eq!(map_len(ticker), 16_000 + kept.len(), "dropped ones stay");
        drop(kept);
        drop(live);
        assert_eq!(map_len(ticker), 0);
    }

    /// The fast path: a server taking one handshake at a time registers deadlines that
    /// are never the earliest the thread knows of, except the first; only that one may
    /// wake the thread (a wake-up costs more than all the rest of a registration).
    #[test]
    fn deadlines_one_at_a_time_wake_the_thread_at_most_once() {
        let ticker = Ticker::start().expect("a thread");
        for _ in 0..1_000 {
            let mut d = Box::pin(Deadline::on(Some(ticker), Duration::from_secs(60)));
            assert!(poll_with(&mut d.as_mut(), Waker::noop()));
        }
        let notified = ticker.notified.load(Ordering::Relaxed);
        assert!(notified <= 1, "{notified} wake-ups for 1,000 deadlines");
        assert_eq!(map_len(ticker), 0);
    }

    /// Issue 11: a waker that panicked killed the thread silently; no deadline fired
    /// after it.
    #[test]
    fn a_panicking_waker_does_not_stop_the_thread() {
        let ticker = Ticker::start().expect("a thread");
        let mut bad = Box::pin(Deadline::on(Some(ticker), Duration::from_millis(10)));
        assert!(poll_with(&mut bad.as_mut(), &Waker::from(Arc::new(Panics))));
        let mut later = pin!(Deadline::on(Some(ticker), Duration::from_millis(100)));
        assert!(completes_within(later.as_mut(), Duration::from_secs(10)));
        assert!(
            ticker.alive.load(Ordering::Acquire),
            "the thread died of a panicking waker"
        );
        assert!(matches!(*later, Deadline::Shared { .. }));
        // And the thread still keeps new deadlines.
        let mut next = pin!(Deadline::on(Some(ticker), Duration::from_millis(20)));
        assert!(completes_within(next.as_mut(), Duration::from_secs(10)));
        assert!(matches!(*next, Deadline::Shared { .. }));
        drop(bad);
    }

    /// Issue 11: once the thread was gone no deadline ever fired. If it dies anyway, the
    /// deadlines waiting on it and those made afterwards fire on async-io timers.
    #[test]
    fn deadlines_outlive_a_dead_thread() {
        let ticker = Ticker::start().expect("a thread");
        let mut waiting = pin!(Deadline::on(Some(ticker), Duration::from_millis(400)));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            ticker.kill.store(true, Ordering::Release);
            // A deadline earlier than any other wakes the thread.
            let mut nudge = Box::pin(Deadline::on(Some(ticker), Duration::from_millis(1)));
            poll_with(&mut nudge.as_mut(), Waker::noop());
        });
        assert!(completes_within(waiting.as_mut(), Duration::from_secs(10)));
        killer.join().expect("the killer thread");
        assert!(!ticker.alive.load(Ordering::Acquire));
        assert!(matches!(*waiting, Deadline::Fallback(_)));

        // Deadlines made afterwards, from a stale handle or through `current`, fall back.
        let mut stale = pin!(Deadline::on(Some(ticker), Duration::from_millis(20)));
        assert!(completes_within(stale.as_mut(), Duration::from_secs(10)));
        assert!(matches!(*stale, Deadline::Fallback(_)));
        assert!(current(ticker, std::process::id(), || unreachable!()).is_none());
        let mut made = pin!(Deadline::on(
            current(ticker, std::process::id(), || unreachable!()),
            Duration::from_millis(20)
        ));
        assert!(matches!(*made, Deadline::Fallback(_)));
        assert!(completes_within(made.as_mut(), Duration::from_secs(10)));
    }

    /// Issue 11: after `fork()` the child has no thread. A ticker of another process (a
    /// parent) gets a successor for this one, which fires deadlines.
    #[test]
    fn a_forked_child_gets_its_own_thread() {
        let pid = std::process::id();
        let parents = Ticker::new(pid.wrapping_add(1)); // no thread here, as after fork
        let child = current(parents, pid, Ticker::start).expect("a new ticker");
        assert!(!std::ptr::eq(child, parents));
        assert_eq!(child.pid, pid);
        assert!(std::ptr::eq(
            current(parents, pid, || unreachable!()).expect("the same ticker"),
            child
        ));
        let mut deadline = pin!(Deadline::on(Some(child), Duration::from_millis(20)));
        assert!(completes_within(deadline.as_mut(), Duration::from_secs(10)));
        assert!(matches!(*deadline, Deadline::Shared { .. }));
    }

    /// A deadline made before a fork and dropped in the child must not lock the parent's
    /// map, which another thread of the parent may have held when it forked.
    #[test]
    fn dropping_a_parents_deadline_does_not_touch_its_lock() {
        let parents = Ticker::new(std::process::id().wrapping_add(1));
        let mut deadline = Box::pin(Deadline::on(Some(parents), Duration::from_secs(60)));
        assert!(poll_with(&mut deadline.as_mut(), Waker::noop()));
        let held = parents.lock();
        let (done, dropped) = mpsc::channel();
        std::thread::spawn(move || {
            drop(deadline);
            let _ = done.send(());
        });
        let result = dropped.recv_timeout(Duration::from_secs(10));
        drop(held);
        assert!(result.is_ok(), "dropping the deadline waited on the lock");
    }

    /// Not a check: prints how long registering 4,000 deadlines takes with 0 and with
    /// 16,000 others live (the slowloris of issue 11). `cargo test --release --lib
    /// registration_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn registration_cost() {
        fn start(n: usize) -> Vec<Pin<Box<dyn Future<Output = Result<()>>>>> {
            let mut cx = Context::from_waker(Waker::noop());
            (0..n)
                .map(|_| {
                    let mut f: Pin<Box<dyn Future<Output = Result<()>>>> = Box::pin(deadline(
                        Some(Duration::from_secs(60)),
                        std::future::pending::<Result<()>>(),
                        |_| crate::Error::new(crate::error::ErrorKind::TimedOut, "late"),
                    ));
                    assert!(f.as_mut().poll(&mut cx).is_pending());
                    f
                })
                .collect()
        }
        for live in [0, 16_000, 0, 16_000] {
            let others = start(live);
            let started = Instant::now();
            let new = start(4_000);
            let took = started.elapsed();
            drop(new);
            drop(others);
            println!("4,000 deadlines with {live} live: {took:?}");
        }
    }
}
