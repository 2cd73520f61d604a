#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `roundtrip_mqtt311`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::roundtrip_mqtt311(data));
