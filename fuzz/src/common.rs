//! What every target uses: a cursor over the fuzz input, manual polling with a waker
//! that counts, and the rcgen identities and protocol versions the policies are made of.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use tlsport::{CaBundle, Connector, Identity, Policy, Version};

// ---------------------------------------------------------------------------------------
// Reading the fuzz input

/// A cursor over the fuzz input; reading past its end yields zeros and empty slices.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

// ---------------------------------------------------------------------------------------
// Wakers and manual polling

/// A waker that counts its wake-ups.
#[derive(Default)]
pub struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    pub fn count(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut` once with a waker that does nothing.
pub fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

/// Runs a future over in-memory transports only (nothing outside can wake it) to its
/// end, within `max_polls` polls. A poll that returns `Pending` without waking anything
/// is a deadlock: nothing is left that could ever wake the future.
pub fn complete<F: Future>(fut: F, max_polls: usize, what: &str) -> F::Output {
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    for _ in 0..max_polls {
        let before = counter.count();
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        assert!(
            counter.count() != before,
            "{what}: deadlock, Pending with nothing left to wake it"
        );
    }
    panic!("{what}: not finished after {max_polls} polls");
}

// ---------------------------------------------------------------------------------------
// Identities and versions, made once per process

/// A self-signed certificate and key for `names`, made with rcgen: never a committed key.
pub fn make_identity(names: &[&str]) -> Identity {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).expect("rcgen certificate");
    let cert = made.cert.pem();
    let key = made.signing_key.serialize_pem();
    Identity::from_pem(cert.as_bytes(), key.as_bytes()).expect("rcgen identity")
}

/// The server's identity (localhost, 127.0.0.1, ::1).
pub fn server_identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| make_identity(&["localhost", "127.0.0.1", "::1"]))
}

/// The client's identity, for mutual TLS.
pub fn client_identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| make_identity(&["client.test"]))
}

pub const VERSIONS: [&[Version]; 3] = [
    &[Version::Tls12, Version::Tls13],
    &[Version::Tls13],
    &[Version::Tls12],
];

/// `versions` less TLS 1.2 when this build of tlsport cannot speak it (the `tls12`
/// feature is off), so that every variant still makes a working policy.
pub fn speakable(versions: &[Version]) -> Vec<Version> {
    static TLS12: OnceLock<bool> = OnceLock::new();
    let tls12 = *TLS12.get_or_init(|| {
        let probe = Policy::new()
            .ca_bundle(CaBundle::Empty)
            .danger_accept_invalid_certs(true)
            .protocol_versions(&[Version::Tls12]);
        Connector::new(probe).is_ok()
    });
    let kept: Vec<Version> = versions
        .iter()
        .copied()
        .filter(|v| tls12 || *v != Version::Tls12)
        .collect();
    if kept.is_empty() {
        vec![Version::Tls13]
    } else {
        kept
    }
}
