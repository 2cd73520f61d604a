#![no_main]
// Oracle and what it checks: fuzz/oracles/runtime.rs, `mqtt_session`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::runtime::mqtt_session(data));
