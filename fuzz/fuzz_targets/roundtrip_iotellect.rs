#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `roundtrip_iotellect`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::roundtrip_iotellect(data));
