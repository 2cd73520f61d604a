//! Fuzz oracle for ferrocom-codegen: every spec that parses and validates either
//! generates Rust that parses as a Rust file, or is refused with a `CodegenError` at a
//! real position of the spec. Never a panic.
//!
//! Compiled into the `ferrocom-fuzz` library for the cargo-fuzz target and into
//! `codegen/tests/fuzz_regressions.rs`, which replays the corpus and saved crash inputs.
//! It may only use `ferrocom_codegen`, `ferrocom_spec` and `std`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// A fuzz target: its name and its oracle.
pub type Target = (&'static str, fn(&[u8]));

/// Every target of this file.
pub const TARGETS: &[Target] = &[("spec_codegen", spec_codegen)];

/// Parse and validate (already checked by `spec_parse`), then generate the module and
/// parse the generated tokens as a Rust file (`ferrocom_codegen::pretty`).
pub fn spec_codegen(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(spec) = ferrocom_spec::parse_str("fuzz.wire", &text) else {
        return;
    };
    let options = ferrocom_codegen::Options::default();
    match ferrocom_codegen::generate_module(&spec, &options) {
        Err(e) => {
            let s = &e.span;
            assert!(
                s.offset <= text.len() && s.line >= 1 && s.column >= 1,
                "codegen error at {}:{} (offset {}) outside the spec: {e}",
                s.line,
                s.column,
                s.offset
            );
            assert!(!e.message.is_empty(), "codegen error without a message");
            let _ = e.to_string();
        }
        Ok(tokens) => {
            if let Err(e) = ferrocom_codegen::pretty(&tokens) {
                panic!(
                    "generated code does not parse: {e}\n--- spec ---\n{text}\n--- code ---\n{tokens}"
                );
            }
        }
    }
}
