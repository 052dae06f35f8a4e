#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tlsport_fuzz::run_plaintext_client(data));
