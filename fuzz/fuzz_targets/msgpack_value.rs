//! Fuzz target: `woosmap_import::fuzzing::msgpack_value` (see src/fuzzing.rs for the input layout and the
//! properties checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| woosmap_import::fuzzing::msgpack_value(data));
