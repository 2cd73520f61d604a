//! The oracles of ferrocom's fuzz targets, one module per crate under test.
//!
//! The modules are the files in `fuzz/oracles/`, shared by path with the regression
//! tests of the main workspace (`wire/tests/fuzz_regressions.rs`,
//! `spec/tests/fuzz_regressions.rs`, `codegen/tests/fuzz_regressions.rs`), so a fuzz
//! target and the replay of its corpus and crash inputs in `cargo test` run the same
//! checks. Each `fuzz_targets/<name>.rs` calls `<module>::<name>`.

#[path = "../oracles/wire.rs"]
pub mod wire;

#[path = "../oracles/spec.rs"]
pub mod spec;

#[path = "../oracles/codegen.rs"]
pub mod codegen;

#[path = "../oracles/runtime.rs"]
pub mod runtime;
