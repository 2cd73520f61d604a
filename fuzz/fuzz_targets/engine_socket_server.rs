#![no_main]
// Oracle and what it checks: fuzz/oracles/runtime.rs, `engine_socket_server`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::runtime::engine_socket_server(data));
