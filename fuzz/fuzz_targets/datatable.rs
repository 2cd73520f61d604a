#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `datatable`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::datatable(data));
