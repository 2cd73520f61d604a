#![no_main]
// Oracle and what it checks: fuzz/oracles/spec.rs, `signal_map`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::spec::signal_map(data));
