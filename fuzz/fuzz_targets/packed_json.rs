#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `packed_json`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::packed_json(data));
