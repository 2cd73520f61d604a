#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `switchbox`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::switchbox(data));
