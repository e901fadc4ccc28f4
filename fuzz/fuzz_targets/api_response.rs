//! Fuzz target: `woosmap::fuzzing::api_response` (see src/fuzzing.rs for the input layout and the
//! properties checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| woosmap::fuzzing::api_response(data));
