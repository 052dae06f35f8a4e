//! `Policy::key_log`: secrets go to the file named by SSLKEYLOGFILE (in a child process,
//! so the environment of other tests stays clean).

mod common;

use common::*;

fn key_log_path() -> std::path::PathBuf {
    openssl_pki().join("keylog.txt")
}

#[test]
fn key_log_writes_sslkeylogfile() {
    let path = key_log_path();
    if !in_child(
        "key_log_writes_sslkeylogfile",
        &[("SSLKEYLOGFILE", path.as_os_str())],
    ) {
        let log = std::fs::read_to_string(&path).expect("the key log file was written");
        // TLS 1.3 labels, one client random per line, both sides' handshake secrets.
        assert!(log.contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET "), "{log}");
        assert!(log.contains("SERVER_TRAFFIC_SECRET_0 "), "{log}");
        return;
    }
    let pki = Pki::new();
    let connector = tlsport::Connector::new(pki.client_policy().key_log(true)).unwrap();
    run(20, async {
        connected_pair(&connector, &pki.acceptor()).await;
    });
}

#[test]
fn key_log_off_writes_nothing_even_with_sslkeylogfile_set() {
    let path = openssl_pki().join("keylog-off.txt");
    if !in_child(
        "key_log_off_writes_nothing_even_with_sslkeylogfile_set",
        &[("SSLKEYLOGFILE", path.as_os_str())],
    ) {
        assert!(!path.exists(), "no key log without Policy::key_log(true)");
        return;
    }
    let pki = Pki::new();
    run(20, async {
        connected_pair(&pki.connector(), &pki.acceptor()).await;
    });
}
