//! HelloRetryRequest seeds for the fuzzing-mode targets, made by editing recorded TLS 1.3
//! flights, which only the fuzzing mode allows: its transcript hash is a constant, so an
//! edited handshake still finishes.
//!
//! - Server side: a first ClientHello with an empty `key_share` list (the server must ask
//!   again for its group), then the recorded flight, whose ClientHello carries the share.
//! - Client side: a HelloRetryRequest that asks only for a cookie (the client has one key
//!   exchange group, so a retry for another group cannot exist), then the recorded flight.

/// The bytes of the first record of `flight` (with its header).
pub(crate) fn first_record(flight: &[u8]) -> &[u8] {
    &flight[..5 + u16_at(flight, 3)]
}

/// A handshake record of `msg_type` around `body`.
fn handshake_record(legacy_version: u8, msg_type: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len();
    let mut record = vec![0x16, 0x03, legacy_version];
    record.extend_from_slice(
        &u16::try_from(len + 4)
            .expect("a small message")
            .to_be_bytes(),
    );
    record.extend_from_slice(&[msg_type, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    record.extend_from_slice(body);
    record
}

fn u16_at(bytes: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]))
}

/// The recorded client `flight` preceded by its own ClientHello with no key shares.
pub fn client_flight_with_retry(flight: &[u8]) -> Vec<u8> {
    let hello = &first_record(flight)[9..];
    // version, random, session id, cipher suites, compression methods, then extensions.
    let mut at = 2 + 32;
    at += 1 + usize::from(hello[at]);
    at += 2 + u16_at(hello, at);
    at += 1 + usize::from(hello[at]);
    let mut extensions = Vec::new();
    let mut ext = at + 2;
    while ext + 4 <= hello.len() {
        let len = u16_at(hello, ext + 2);
        if hello[ext..ext + 2] == [0x00, 0x33] {
            extensions.extend_from_slice(&[0x00, 0x33, 0x00, 0x02, 0x00, 0x00]);
        } else {
            extensions.extend_from_slice(&hello[ext..ext + 4 + len]);
        }
        ext += 4 + len;
    }
    let mut body = hello[..at].to_vec();
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    [&handshake_record(0x01, 0x01, &body)[..], flight].concat()
}

/// The random that marks a ServerHello as a HelloRetryRequest (RFC 8446, 4.1.3).
const RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// The recorded server `flight` (TLS 1.3) preceded by a HelloRetryRequest asking for a
/// cookie, with the session id echo and cipher suite of the flight's ServerHello.
pub fn server_flight_with_retry(flight: &[u8]) -> Vec<u8> {
    let hello = &first_record(flight)[9..];
    let echo_end = 35 + usize::from(hello[34]);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&RETRY_RANDOM);
    body.extend_from_slice(&hello[34..echo_end + 2]); // session id echo, cipher suite
    body.push(0); // compression
    let extensions: &[u8] = &[
        0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, // supported_versions: TLS 1.3
        0x00, 0x2c, 0x00, 0x06, 0x00, 0x04, b'f', b'u', b'z', b'z', // cookie
    ];
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(extensions);
    [&handshake_record(0x03, 0x02, &body)[..], flight].concat()
}
