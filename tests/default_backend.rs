//! `set_default_backend` changes process-wide state, so it has a test binary of its own.

mod common;

use common::*;
use tlsport::{Backend, ErrorKind, default_backend, set_default_backend};

#[test]
fn set_default_backend_returns_the_previous_one_and_refuses_missing_ones() {
    let first = Backend::available()[0];
    assert_eq!(default_backend(), first);
    for backend in Backend::available() {
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
