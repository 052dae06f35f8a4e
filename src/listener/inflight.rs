//! A set of futures that polls only the members that were woken, as `FuturesUnordered`
//! does, for the [`Listener`](super::Listener)'s handshakes, and the tasks waiting on it.
//!
//! Polling every handshake in flight on every wake-up costs a failed socket read per
//! pending handshake (about 50 wasted `recvfrom` calls per finished handshake with 64
//! clients); here each member has its own waker that queues its slot and wakes a task
//! waiting on the set.
//!
//! Any number of tasks may wait on the set at once (one `accept` future each): they are
//! [`Waiters`]. A wake-up of the set (a member, or any other source polled with
//! [`Waiters::waker`]) wakes one waiter that is not already on its way, so two waiters
//! never wake each other in turn, and a waiter that leaves with a wake-up it has not
//! acted upon hands it on to another: nothing is lost when a waiter is cancelled.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the wakers share: the slots woken since the set was last polled, and the tasks
/// waiting on the set.
#[derive(Default)]
struct Shared {
    ready: Mutex<Vec<usize>>,
    waiters: Mutex<WaiterSlab>,
}

impl Shared {
    /// Wakes one waiter, unless one is already on its way (it will see this wake-up's
    /// work too, or hand it on when it leaves).
    fn notify(&self) {
        let waker = lock(&self.waiters).pick();
        // Woken outside the lock: a waker may do anything, even poll at once.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The set's own waker: any source polled with it wakes one waiter.
impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.notify();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notify();
    }
}

/// The tasks waiting on the set, in a slab.
#[derive(Default)]
struct WaiterSlab {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    /// How many entries were woken and have not polled since.
    woken: usize,
    /// Where the search for the next waiter to wake starts, so that wake-ups go round.
    cursor: usize,
}

struct Entry {
    waker: Waker,
    woken: bool,
}

impl WaiterSlab {
    /// Marks one waiter woken and returns its waker, unless a waiter is woken already.
    fn pick(&mut self) -> Option<Waker> {
        if self.woken > 0 {
            return None;
        }
        let n = self.entries.len();
        for k in 0..n {
            let i = (self.cursor + k) % n;
            if let Some(entry) = self.entries[i].as_mut() {
                entry.woken = true;
                self.woken += 1;
                self.cursor = i + 1;
                return Some(entry.waker.clone());
            }
        }
        None
    }
}

/// A waiter's place among the [`Waiters`], held by one `accept` future. Give it back
/// with [`Waiters::leave`].
#[derive(Debug)]
pub(crate) struct WaiterId(usize);

/// The tasks waiting on an [`InFlight`] set; a cheap handle, cloned from
/// [`InFlight::waiters`].
#[derive(Clone)]
pub(crate) struct Waiters {
    shared: Arc<Shared>,
    waker: Waker,
}

impl Waiters {
    /// Waiters of no set, for tasks that wait on other sources only (polled with
    /// [`Waiters::waker`]).
    pub(crate) fn new() -> Waiters {
        Waiters::of(Arc::default())
    }

    fn of(shared: Arc<Shared>) -> Waiters {
        Waiters {
            waker: Waker::from(shared.clone()),
            shared,
        }
    }

    /// The set's waker: waking it wakes one waiter. Poll every source of work for the
    /// waiters (sockets, timers) with it, so that each source keeps one waker however
    /// many tasks wait.
    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Joins the waiters with `waker` (or refreshes it), as one about to look at the
    /// set: a wake-up from now on wakes a waiter again.
    pub(crate) fn enter(&self, id: &mut Option<WaiterId>, waker: &Waker) {
        let mut slab = lock(&self.shared.waiters);
        let slab = &mut *slab;
        if let Some(entry) = id.as_ref().and_then(|id| slab.entries.get_mut(id.0)) {
            if let Some(entry) = entry.as_mut() {
                if !entry.waker.will_wake(waker) {
                    entry.waker = waker.clone();
                }
                if std::mem::take(&mut entry.woken) {
                    slab.woken -= 1;
                }
                return;
            }
        }
        let entry = Entry {
            waker: waker.clone(),
            woken: false,
        };
        let i = match slab.free.pop() {
            Some(i) => {
                slab.entries[i] = Some(entry);
                i
            }
            None => {
                slab.entries.push(Some(entry));
                slab.entries.len() - 1
            }
        };
        *id = Some(WaiterId(i));
    }

    /// Leaves the waiters. A wake-up this waiter got and has not acted upon goes to
    /// another waiter.
    pub(crate) fn leave(&self, id: &mut Option<WaiterId>) {
        let Some(WaiterId(i)) = id.take() else {
            return;
        };
        let handed_on = {
            let mut slab = lock(&self.shared.waiters);
            match slab.entries.get_mut(i).and_then(Option::take) {
                Some(entry) => {
                    slab.free.push(i);
                    if entry.woken {
                        slab.woken -= 1;
                        slab.pick()
                    } else {
                        None
                    }
                }
                None => None,
            }
        };
        if let Some(waker) = handed_on {
            waker.wake();
        }
    }

    /// Wakes one waiter, unless one is already on its way: for work that a waiter left
    /// behind for the others.
    pub(crate) fn notify(&self) {
        self.shared.notify();
    }
}

impl fmt::Debug for Waiters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slab = lock(&self.shared.waiters);
        f.debug_struct("Waiters")
            .field("waiting", &(slab.entries.len() - slab.free.len()))
            .field("woken", &slab.woken)
            .finish()
    }
}

/// The waker of one slot.
struct SlotWake {
    slot: usize,
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for SlotWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            lock(&self.shared.ready).push(self.slot);
            self.shared.notify();
        }
    }
}

struct Member<T> {
    item: T,
    wake: Arc<SlotWake>,
    waker: Waker,
}

/// Futures in flight, polled when woken.
pub(crate) struct InFlight<T> {
    slots: Vec<Option<Member<T>>>,
    free: Vec<usize>,
    len: usize,
    shared: Arc<Shared>,
}

impl<T: Future + Unpin> InFlight<T> {
    pub(crate) fn new() -> Self {
        InFlight {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            shared: Arc::default(),
        }
    }

    /// The tasks waiting on this set: woken when a member is.
    pub(crate) fn waiters(&self) -> Waiters {
        Waiters::of(self.shared.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds a future; it is polled at the next [`InFlight::poll_next`].
    pub(crate) fn insert(&mut self, item: T) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        // Queued for its first poll from the start, without waking a waiter: the one
        // inserting it is looking at the set.
        let wake = Arc::new(SlotWake {
            slot,
            queued: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(wake.clone());
        self.slots[slot] = Some(Member { item, wake, waker });
        self.len += 1;
        lock(&self.shared.ready).push(slot);
    }

    /// Removes and returns the member for which `key` is least.
    pub(crate) fn remove_min_by_key<K: Ord>(&mut self, key: impl Fn(&T) -> K) -> Option<T> {
        let (slot, _) = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.as_ref().map(|m| (i, key(&m.item))))
            .min_by(|a, b| a.1.cmp(&b.1))?;
        self.remove(slot)
    }

    /// The least `key` over the members.
    pub(crate) fn min_key<K: Ord>(&self, key: impl Fn(&T) -> K) -> Option<K> {
        self.slots.iter().flatten().map(|m| key(&m.item)).min()
    }

    fn remove(&mut self, slot: usize) -> Option<T> {
        let member = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        self.len -= 1;
        Some(member.item)
    }

    /// Polls the members woken since the last call; returns the first output.
    ///
    /// Members woken from now on wake a waiter (see [`Waiters::enter`]). When an output
    /// is returned and woken members are left unpolled, another waiter is woken for them.
    pub(crate) fn poll_next(&mut self) -> Poll<T::Output> {
        let ready = std::mem::take(&mut *lock(&self.shared.ready));
        let mut ready = ready.into_iter();
        while let Some(slot) = ready.by_ref().next() {
            let Some(member) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                continue; // removed since it was woken
            };
            member.wake.queued.store(false, Ordering::Release);
            let mut member_cx = Context::from_waker(&member.waker);
            if let Poll::Ready(output) = Pin::new(&mut member.item).poll(&mut member_cx) {
                self.remove(slot);
                // Those not polled yet stay queued, for whichever waiter comes next.
                let left = {
                    let mut queue = lock(&self.shared.ready);
                    queue.extend(ready);
                    !queue.is_empty()
                };
                if left {
                    self.shared.notify();
                }
                return Poll::Ready(output);
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
