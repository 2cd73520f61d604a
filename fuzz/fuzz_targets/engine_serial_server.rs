#![no_main]
// Oracle and what it checks: fuzz/oracles/runtime.rs, `engine_serial_server`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::runtime::engine_serial_server(data));
