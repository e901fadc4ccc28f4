//! Fuzz target: `woosmap::fuzzing::state_json` (see src/fuzzing.rs for the input layout and the
//! properties checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| woosmap::fuzzing::state_json(data));
