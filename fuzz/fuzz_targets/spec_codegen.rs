#![no_main]
// Oracle and what it checks: fuzz/oracles/codegen.rs, `spec_codegen`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrocom_fuzz::codegen::spec_codegen(data));
