//! The `plaintext_client` target: a tlsport client in the fuzzing mode against a
//! scripted server.

use super::common::Input;
use super::plaintext::{CLIENT_VARIANTS, connectors, echo_then_close};
use super::scripted::{Driver, Scripted, budget};

/// `plaintext_client`: input = `[variant, schedule length, schedule.., server bytes..]`,
/// as `client_handshake`, with the client on `Backend::InsecureFuzzing`: records carry
/// their plaintext and a fixed tag, the key exchange and the signatures are fixed, so a
/// recorded server flight replays, and mutations of it reach the later handshake states
/// and the application data (echoed back) instead of failing the first tag check.
pub fn run_plaintext_client(data: &[u8]) {
    let mut input = Input::new(data);
    let variant = usize::from(input.byte());
    let schedule_len = usize::from(input.byte());
    let schedule = input.take(schedule_len);
    let peer = input.rest();
    let connector = &connectors()[variant % CLIENT_VARIANTS];

    let (io, parked) = Scripted::new(peer, schedule);
    let mut driver = Driver::new(parked, budget(data));
    let Some(Ok(mut stream)) = driver.run(connector.connect_with("localhost", io)) else {
        return;
    };
    echo_then_close(&mut driver, &mut stream, true);
}
