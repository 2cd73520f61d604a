#![no_main]
// Oracle and what it checks: fuzz/oracles/wire.rs, `roundtrip_iocom`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::wire::roundtrip_iocom(data));
