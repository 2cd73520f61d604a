#![no_main]
// Oracle and what it checks: fuzz/oracles/spec.rs, `spec_parse`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::spec::spec_parse(data));
