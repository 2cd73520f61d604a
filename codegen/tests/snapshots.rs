//! Snapshots of the Rust generated for each canonical spec (pretty-printed), so a
//! change to the generator shows up as a reviewable diff.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

fn generated(name: &str) -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../spec/protocols/{name}.wire"));
    let spec = ferrocom_spec::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let options = ferrocom_codegen::Options {
        file_label: format!("spec/protocols/{name}.wire"),
        ..Default::default()
    };
    let tokens =
        ferrocom_codegen::generate_items(&spec, &options).unwrap_or_else(|e| panic!("{e}"));
    ferrocom_codegen::pretty(&tokens)
        .unwrap_or_else(|e| panic!("generated code does not parse: {e}\n{tokens}"))
}

#[test]
fn iocom() {
    insta::assert_snapshot!(generated("iocom"));
}

#[test]
fn switchbox() {
    insta::assert_snapshot!(generated("switchbox"));
}

#[test]
fn mqtt311() {
    insta::assert_snapshot!(generated("mqtt311"));
}

#[test]
fn iotellect() {
    insta::assert_snapshot!(generated("iotellect"));
}
