//! Fuzz target: `woosmap::fuzzing::msgpack_value` (see src/fuzzing.rs for the input layout and the
//! properties checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| woosmap::fuzzing::msgpack_value(data));
