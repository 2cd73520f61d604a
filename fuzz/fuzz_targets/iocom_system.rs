#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `iocom_system`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::iocom_system(data));
