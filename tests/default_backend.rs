//! `set_default_backend` changes process-wide state, so its tests have a binary of their
//! own, and take turns in it ([`one_at_a_time`]): each expects the default it finds to
//! stay put while it runs.

mod common;

use std::sync::{Mutex, MutexGuard, PoisonError};

use common::*;
use tlsport::{Backend, ErrorKind, default_backend, set_default_backend};

/// Held by every test of this binary while it runs.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn set_default_backend_returns_the_previous_one_and_refuses_missing_ones() {
    let _turn = one_at_a_time();
    let first = Backend::available()[0];
    assert_eq!(default_backend(), first);
    for backend in Backend::available()
        .into_iter()
        .filter(|b| !b.is_insecure())
    {
        let before = default_backend();
        assert_eq!(set_default_backend(backend).unwrap(), before);
        assert_eq!(default_backend(), backend);
        // New connectors and acceptors use it and still work end to end.
        let pki = Pki::new();
        run(20, async {
            connected_pair(&pki.connector(), &pki.acceptor()).await;
        });
    }
    for backend in [Backend::AwsLcRs, Backend::Ring] {
        if !backend.is_available() {
            let before = default_backend();
            let err = set_default_backend(backend).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
            assert_eq!(
                default_backend(),
                before,
                "a refused backend changes nothing"
            );
        }
    }
    let last = default_backend();
    assert_eq!(set_default_backend(first).unwrap(), last);
    assert_eq!(default_backend(), first);
}

#[test]
fn set_default_backend_returns_the_previous_one() {
    let _turn = one_at_a_time();
    let available = Backend::available();
    assert!(!available.is_empty());
    let before = tlsport::default_backend();
    assert!(
        available.contains(&before),
        "{before:?} not in {available:?}"
    );
    assert!(before.is_available());

    let previous = tlsport::set_default_backend(before).unwrap();
    assert_eq!(previous, before);
    assert_eq!(tlsport::default_backend(), before);

    #[cfg(all(feature = "ring", feature = "aws-lc-rs"))]
    {
        let other = if before == Backend::Ring {
            Backend::AwsLcRs
        } else {
            Backend::Ring
        };
        assert_eq!(tlsport::set_default_backend(other).unwrap(), before);
        assert_eq!(tlsport::default_backend(), other);
        assert_eq!(tlsport::set_default_backend(before).unwrap(), other);
        assert_eq!(tlsport::default_backend(), before);
    }
}
