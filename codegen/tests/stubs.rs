//! Typed device and server stubs: a snapshot of gina's (the map of IOCOM's example
//! board), the naming rule for signals whose names repeat across blocks, and the clash
//! error for a signal named like a stub method. The stubs compile and run against the
//! runtime in `examples/device-stubs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ferrocom_codegen::signals::{BindingsOptions, load_map, rust_stubs_for_map};
use ferrocom_spec::signals::SignalMap;

/// Without whitespace: the pretty-printer breaks long signatures over lines.
fn flat(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn stubs_of(map: &SignalMap) -> String {
    let tokens =
        rust_stubs_for_map(map, &BindingsOptions::default(), "::ferrocom_runtime").unwrap();
    ferrocom_codegen::pretty(&tokens).unwrap()
}

#[test]
fn gina_stubs_snapshot() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors/iocom/gina-signal-map.merged.json");
    let map = load_map(&path, &[]).unwrap().map;
    let text = stubs_of(&map);
    // The parts a user calls, as the issue names them.
    for needle in [
        "pub struct Gina;",
        "pub fn connect(",
        "pub fn set_potentiometer(&self, value: f32",
        "pub struct GinaRemote<'s>",
        "pub enum GinaWrite",
        "pub enum GinaChange",
    ] {
        assert!(flat(&text).contains(&flat(needle)), "missing {needle}");
    }
    insta::assert_snapshot!("gina_stubs", text);
}

#[test]
fn repeated_signal_names_are_qualified_by_block() {
    let json = r#"{"name": "twin", "mblk": [
      {"name": "exp", "flags": "up", "groups": [{"name": "g", "signals": [
        {"name": "level", "type": "float"}, {"name": "only_up", "type": "int"}]}]},
      {"name": "imp", "flags": "down", "groups": [{"name": "g", "signals": [
        {"name": "level", "type": "float"}, {"name": "mode", "type": "str", "array": 8}]}]}
    ]}"#;
    let map = SignalMap::from_json_str("twin.json", json).unwrap().0;
    let text = stubs_of(&map);
    for needle in [
        "pub fn exp_level(&self",
        "pub fn set_exp_level(&self, value: f32",
        "pub fn imp_level(&self",
        "pub fn set_only_up(&self, value: i32",
        "pub fn set_mode(&self, value: ::std::string::String",
        "ImpLevel {",
        "ExpLevel {",
    ] {
        assert!(
            flat(&text).contains(&flat(needle)),
            "missing {needle} in\n{text}"
        );
    }
    // Upward signals have no server-side setter; downward ones no device-side setter.
    let remote = &text[text.find("impl TwinRemote<'_>").unwrap()..];
    assert!(!remote.contains("fn set_only_up("));
    assert!(remote.contains("fn set_mode("));
}

#[test]
fn a_signal_named_like_a_stub_method_is_an_error_at_its_position() {
    let json = "{\"name\": \"x\", \"mblk\": [{\"name\": \"exp\", \"groups\": [{\"name\": \"g\", \"signals\": [\n  {\"name\": \"changes\", \"type\": \"int\"}]}]}]}";
    let map = SignalMap::from_json_str("x.json", json).unwrap().0;
    let err = rust_stubs_for_map(&map, &BindingsOptions::default(), "::ferrocom_runtime")
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.json:2:3"), "{err}");
    assert!(err.contains("`changes`"), "{err}");
}
