#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `mqtt311`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::mqtt311(data));
