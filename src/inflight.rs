//! A set of futures that polls only the members that were woken, as `FuturesUnordered`
//! does, for the [`Listener`](crate::Listener)'s handshakes.
//!
//! Polling every handshake in flight on every wake-up costs a failed socket read per
//! pending handshake (about 50 wasted `recvfrom` calls per finished handshake with 64
//! clients); here each member has its own waker that queues its slot and wakes the task
//! that owns the set.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// The slots woken since the owner last looked, and the owner's waker.
#[derive(Default)]
struct Queue {
    ready: Mutex<Vec<usize>>,
    owner: Mutex<Option<Waker>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The waker of one slot.
struct SlotWake {
    slot: usize,
    queued: AtomicBool,
    queue: Arc<Queue>,
}

impl Wake for SlotWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            lock(&self.queue.ready).push(self.slot);
            if let Some(owner) = lock(&self.queue.owner).as_ref() {
                owner.wake_by_ref();
            }
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
    queue: Arc<Queue>,
}

impl<T: Future + Unpin> InFlight<T> {
    pub(crate) fn new() -> Self {
        InFlight {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            queue: Arc::default(),
        }
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
        // Queued for its first poll from the start, without waking the owner, who is
        // the one inserting it.
        let wake = Arc::new(SlotWake {
            slot,
            queued: AtomicBool::new(true),
            queue: self.queue.clone(),
        });
        let waker = Waker::from(wake.clone());
        self.slots[slot] = Some(Member { item, wake, waker });
        self.len += 1;
        lock(&self.queue.ready).push(slot);
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
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<T::Output> {
        {
            let mut owner = lock(&self.queue.owner);
            if !owner.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *owner = Some(cx.waker().clone());
            }
        }
        let ready = std::mem::take(&mut *lock(&self.queue.ready));
        let mut ready = ready.into_iter();
        while let Some(slot) = ready.by_ref().next() {
            let Some(member) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                continue; // removed since it was woken
            };
            member.wake.queued.store(false, Ordering::Release);
            let mut member_cx = Context::from_waker(&member.waker);
            if let Poll::Ready(output) = Pin::new(&mut member.item).poll(&mut member_cx) {
                self.remove(slot);
                // Those not polled yet stay queued for the next call.
                lock(&self.queue.ready).extend(ready);
                return Poll::Ready(output);
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its polls; ready once `open` is set, then woken through its stored waker.
    struct Probe {
        polls: Arc<AtomicUsize>,
        open: Arc<AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
        id: usize,
    }

    impl Future for Probe {
        type Output = usize;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            if self.open.load(Ordering::Relaxed) {
                return Poll::Ready(self.id);
            }
            *lock(&self.waker) = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn only_woken_members_are_polled() {
        let mut set = InFlight::new();
        let probes: Vec<_> = (0..10)
            .map(|id| Probe {
                polls: Arc::default(),
                open: Arc::default(),
                waker: Arc::default(),
                id,
            })
            .collect();
        let handles: Vec<_> = probes
            .iter()
            .map(|p| (p.polls.clone(), p.open.clone(), p.waker.clone()))
            .collect();
        for p in probes {
            set.insert(p);
        }
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(set.poll_next(&mut cx).is_pending());
        assert!(set.poll_next(&mut cx).is_pending());
        for (polls, _, _) in &handles {
            assert_eq!(polls.load(Ordering::Relaxed), 1, "each polled once");
        }
        let (polls, open, waker) = &handles[7];
        open.store(true, Ordering::Relaxed);
        lock(waker).take().unwrap().wake();
        assert_eq!(set.poll_next(&mut cx), Poll::Ready(7));
        assert_eq!(polls.load(Ordering::Relaxed), 2);
        assert_eq!(
            handles[3].0.load(Ordering::Relaxed),
            1,
            "not woken, not polled"
        );
        assert_eq!(set.len(), 9);
        assert_eq!(set.remove_min_by_key(|p| p.id).map(|p| p.id), Some(0));
        assert_eq!(set.min_key(|p| p.id), Some(1));
    }
}
