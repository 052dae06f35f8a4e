//! The `plaintext_server` target: a tlsport server in the fuzzing mode against a
//! scripted client.

use super::common::Input;
use super::plaintext::{SERVER_VARIANTS, acceptors, echo_then_close};
use super::scripted::{Driver, Scripted, budget};

/// `plaintext_server`: input = `[variant, schedule length, schedule.., client bytes..]`,
/// as `server_handshake`, with the server on `Backend::InsecureFuzzing` (see
/// `run_plaintext_client`).
pub fn run_plaintext_server(data: &[u8]) {
    let mut input = Input::new(data);
    let variant = usize::from(input.byte());
    let schedule_len = usize::from(input.byte());
    let schedule = input.take(schedule_len);
    let peer = input.rest();
    let acceptor = &acceptors()[variant % SERVER_VARIANTS];

    let (io, parked) = Scripted::new(peer, schedule);
    let mut driver = Driver::new(parked, budget(data));
    let Some(Ok(mut stream)) = driver.run(acceptor.accept(io)) else {
        return;
    };
    echo_then_close(&mut driver, &mut stream, false);
}
