#![no_main]
// Oracle and what it checks: fuzz/oracles/runtime.rs, `iotellect_session`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::runtime::iotellect_session(data));
