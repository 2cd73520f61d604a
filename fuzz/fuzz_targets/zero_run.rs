#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `zero_run`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::zero_run(data));
