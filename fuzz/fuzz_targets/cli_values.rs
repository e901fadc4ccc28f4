//! Fuzz target: `woosmap::fuzzing::cli_values` (see src/fuzzing.rs for the input layout and the
//! properties checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| woosmap::fuzzing::cli_values(data));
