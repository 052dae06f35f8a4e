//! The helper thread that keeps the deadlines.
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
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::task::Waker;
use std::time::Instant;

/// A deadline's place in its ticker's map.
pub(super) struct Entry {
    pub(super) id: u64,
    pub(super) slot: Arc<Slot>,
}

/// One registered deadline, shared by its future and the helper thread.
pub(super) struct Slot {
    waker: Mutex<Option<Waker>>,
    /// Set by the thread when the deadline's time has come.
    pub(super) fired: AtomicBool,
}

impl Slot {
    pub(super) fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    pub(super) fn take_waker(&self) -> Option<Waker> {
        self.waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Orders the map: by instant, then by registration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    pub(super) at: Instant,
    pub(super) id: u64,
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        #[cfg(test)]
        super::tests::VISITED.with(|c| c.set(c.get() + 1)); // a comparison looks at an entry
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The live deadlines of one ticker.
pub(super) struct Timers {
    pub(super) map: BTreeMap<Key, Arc<Slot>>,
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
pub(super) struct Ticker {
    timers: Mutex<Timers>,
    changed: Condvar,
    /// The process the thread runs in.
    pub(super) pid: u32,
    /// Cleared, under the `timers` lock, when the thread ends.
    pub(super) alive: AtomicBool,
    /// The ticker of a process forked from this one, which has no thread of its own.
    successor: OnceLock<Option<&'static Ticker>>,
    /// Makes the thread panic outside any `catch_unwind`, to test what follows.
    #[cfg(test)]
    pub(super) kill: AtomicBool,
    /// Notifications sent to the thread.
    #[cfg(test)]
    pub(super) notified: std::sync::atomic::AtomicUsize,
}

impl Ticker {
    /// A ticker for process `pid`, with no thread yet.
    pub(super) fn new(pid: u32) -> &'static Ticker {
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
    pub(super) fn start() -> Option<&'static Ticker> {
        let ticker = Ticker::new(std::process::id());
        std::thread::Builder::new()
            .name("tlsport-deadlines".to_owned())
            .spawn(move || ticker.run())
            .ok()
            .map(|_| ticker)
    }

    /// Adds a deadline at `at` that wakes `waker`; `None` if the thread has died.
    pub(super) fn register(&self, at: Instant, waker: &Waker) -> Option<Entry> {
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
    pub(super) fn cancel(&self, key: Key) {
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

    pub(super) fn lock(&self) -> MutexGuard<'_, Timers> {
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
pub(super) fn ticker() -> Option<&'static Ticker> {
    static FIRST: OnceLock<Option<&'static Ticker>> = OnceLock::new();
    let first = (*FIRST.get_or_init(Ticker::start))?;
    current(first, std::process::id(), Ticker::start)
}

/// The last ticker in the chain that starts at `first`, if it belongs to process `pid`
/// and its thread is alive. A ticker of another process (this one was forked from it)
/// gets a successor from `start`.
pub(super) fn current(
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
