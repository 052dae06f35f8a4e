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

type Handle = (Arc<AtomicUsize>, Arc<AtomicBool>, Arc<Mutex<Option<Waker>>>);

fn probes(set: &mut InFlight<Probe>, n: usize) -> Vec<Handle> {
    (0..n)
        .map(|id| {
            let p = Probe {
                polls: Arc::default(),
                open: Arc::default(),
                waker: Arc::default(),
                id,
            };
            let handle = (p.polls.clone(), p.open.clone(), p.waker.clone());
            set.insert(p);
            handle
        })
        .collect()
}

/// Finishes probe `h`: opens it and wakes it.
fn finish(h: &Handle) {
    h.1.store(true, Ordering::Relaxed);
    lock(&h.2).take().unwrap().wake();
}

/// A task waker that counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn task() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

fn wakes(c: &Count) -> usize {
    c.0.load(Ordering::Relaxed)
}

#[test]
fn only_woken_members_are_polled() {
    let mut set = InFlight::new();
    let handles = probes(&mut set, 10);
    assert!(set.poll_next().is_pending());
    assert!(set.poll_next().is_pending());
    for (polls, _, _) in &handles {
        assert_eq!(polls.load(Ordering::Relaxed), 1, "each polled once");
    }
    finish(&handles[7]);
    assert_eq!(set.poll_next(), Poll::Ready(7));
    assert_eq!(handles[7].0.load(Ordering::Relaxed), 2);
    assert_eq!(
        handles[3].0.load(Ordering::Relaxed),
        1,
        "not woken, not polled"
    );
    assert_eq!(set.len(), 9);
    assert_eq!(set.remove_min_by_key(|p| p.id).map(|p| p.id), Some(0));
    assert_eq!(set.min_key(|p| p.id), Some(1));
}

#[test]
fn a_member_wakes_one_waiter_and_wake_ups_go_round() {
    let mut set = InFlight::new();
    let waiters = set.waiters();
    let handles = probes(&mut set, 4);
    let (a, b) = (task(), task());
    let (mut ia, mut ib) = (None, None);
    waiters.enter(&mut ia, &a.1);
    waiters.enter(&mut ib, &b.1);
    assert!(set.poll_next().is_pending());

    // Two wake-ups before anyone looks: one waiter woken, once.
    handles[0].2.lock().unwrap().take().unwrap().wake();
    handles[1].2.lock().unwrap().take().unwrap().wake();
    assert_eq!((wakes(&a.0), wakes(&b.0)), (1, 0));
    // `a` looks; the next wake-up goes to `b`.
    waiters.enter(&mut ia, &a.1);
    assert!(set.poll_next().is_pending());
    handles[2].2.lock().unwrap().take().unwrap().wake();
    assert_eq!((wakes(&a.0), wakes(&b.0)), (1, 1));
    // The set's own waker behaves the same: `b` is on its way, nobody else woken.
    waiters.waker().wake_by_ref();
    assert_eq!((wakes(&a.0), wakes(&b.0)), (1, 1));
    waiters.leave(&mut ia);
    waiters.leave(&mut ib);
}

#[test]
fn a_waiter_leaving_with_a_wake_up_hands_it_on() {
    let mut set = InFlight::new();
    let waiters = set.waiters();
    let handles = probes(&mut set, 2);
    let (a, b) = (task(), task());
    let (mut ia, mut ib) = (None, None);
    waiters.enter(&mut ia, &a.1);
    waiters.enter(&mut ib, &b.1);
    assert!(set.poll_next().is_pending());
    finish(&handles[0]);
    assert_eq!((wakes(&a.0), wakes(&b.0)), (1, 0));
    // `a` is cancelled before it looks: `b` gets the wake-up.
    waiters.leave(&mut ia);
    assert_eq!((wakes(&a.0), wakes(&b.0)), (1, 1));
    waiters.enter(&mut ib, &b.1);
    assert_eq!(set.poll_next(), Poll::Ready(0));
    // Leaving without a wake-up wakes nobody.
    waiters.leave(&mut ib);
    assert_eq!((wakes(&a.0), wakes(&b.0)), (1, 1));
}

#[test]
fn an_output_taken_with_others_ready_wakes_another_waiter() {
    let mut set = InFlight::new();
    let waiters = set.waiters();
    let handles = probes(&mut set, 3);
    let (a, b) = (task(), task());
    let (mut ia, mut ib) = (None, None);
    waiters.enter(&mut ia, &a.1);
    waiters.enter(&mut ib, &b.1);
    assert!(set.poll_next().is_pending());
    finish(&handles[0]);
    finish(&handles[1]);
    assert_eq!((wakes(&a.0), wakes(&b.0)), (1, 0));
    // `a` takes one output and leaves; the other finished member is still queued.
    waiters.enter(&mut ia, &a.1);
    assert!(set.poll_next().is_ready());
    waiters.leave(&mut ia);
    assert_eq!((wakes(&a.0), wakes(&b.0)), (1, 1), "b woken for the rest");
    waiters.enter(&mut ib, &b.1);
    assert!(set.poll_next().is_ready());
    assert!(set.poll_next().is_pending());
    waiters.leave(&mut ib);
    assert_eq!(set.len(), 1);
}
