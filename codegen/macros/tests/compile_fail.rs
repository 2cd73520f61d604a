//! Broken specs stop the build with the spec's line and column (`<inline>:LINE:COL` for
//! `protocol_str!`) and a clear message. Each `tests/ui/*.rs` case has the expected
//! compiler output next to it in a `.stderr` file; regenerate them with
//! `TRYBUILD=overwrite cargo test -p ferrocom-macros --test compile_fail` and review.
//!
//! Only `protocol_str!` is covered: trybuild compiles the cases in its own generated
//! project (`target/tests/trybuild/ferrocom-macros`), which is the `CARGO_MANIFEST_DIR`
//! the macro sees, so a `protocol!("tests/ui/x.wire")` path relative to this crate does
//! not resolve there (checked: "cannot read the spec file").

#[test]
fn broken_specs_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
