//! Typed board bindings from signal maps: snapshots of the generated Rust (pretty-printed)
//! and C for real IOCOM maps, gina's packed `info` block byte for byte, the `build.rs`
//! front end (files, merge lists, errors with file:line:col), and the name checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ferrocom_codegen::Bindings;
use ferrocom_codegen::signals::{
    BindingsError, BindingsOptions, c_header_for_map, rust_for_block, rust_for_map,
};
use ferrocom_spec::signals::SignalMap;
use ferrocom_wire::packed_json::{PackOptions, pack_json_text};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn fixture(name: &str) -> PathBuf {
    shared().join("fixtures/iocom-signal-maps").join(name)
}

fn gina_merged() -> PathBuf {
    shared().join("vectors/iocom/gina-signal-map.merged.json")
}

fn captured_info() -> Vec<u8> {
    std::fs::read(shared().join("vectors/iocom/gina-info-block.packed-json.bin")).unwrap()
}

fn pack(json: &str) -> Result<Vec<u8>, ferrocom_wire::packed_json::PackedJsonError> {
    pack_json_text(json, &PackOptions::info_block())
}

/// Generated Rust (pretty) and C for a map file, labelled `label` in the output.
fn generate(path: &Path, label: &str, info: bool) -> (String, String) {
    let (map, _) = SignalMap::from_path(path).unwrap_or_else(|e| panic!("{e}"));
    let opts = BindingsOptions {
        file_label: Some(label.to_string()),
        info: info.then(|| pack(&map.to_json_text(false)).unwrap()),
        ..Default::default()
    };
    let tokens = rust_for_map(&map, &opts).unwrap_or_else(|e| panic!("{e}"));
    let rust = ferrocom_codegen::pretty(&tokens)
        .unwrap_or_else(|e| panic!("generated Rust does not parse: {e}\n{tokens}"));
    let c = c_header_for_map(&map, &opts).unwrap_or_else(|e| panic!("{e}"));
    (rust, c)
}

#[test]
fn gina_merged_snapshots() {
    let (rust, c) = generate(&gina_merged(), "gina-signal-map.merged.json", true);
    insta::assert_snapshot!("gina_rust", rust);
    insta::assert_snapshot!("gina_c", c);
}

#[test]
fn arduino_snapshots() {
    let (rust, c) = generate(
        &fixture("arduino__signals.json"),
        "arduino/signals.json",
        false,
    );
    insta::assert_snapshot!("arduino_rust", rust);
    insta::assert_snapshot!("arduino_c", c);
}

#[test]
fn node_conf_wifi_snapshots() {
    // A fragment: no device name (IOCOM calls it `unnameddevice`), strings and booleans.
    let (rust, c) = generate(
        &fixture("config__node_conf_wifi.json"),
        "config/signals/node_conf_wifi.json",
        false,
    );
    insta::assert_snapshot!("node_conf_wifi_rust", rust);
    insta::assert_snapshot!("node_conf_wifi_c", c);
}

#[test]
fn gina_info_is_the_captured_info_block() {
    let (map, _) = SignalMap::from_path(&gina_merged()).unwrap();
    let info = pack(&map.to_json_text(false)).unwrap();
    assert_eq!(info, captured_info());
    assert_eq!(info.len(), 1060);
    let opts = BindingsOptions {
        info: Some(info.clone()),
        ..Default::default()
    };
    let text = rust_for_map(&map, &opts).unwrap().to_string();
    let literal = proc_macro2::Literal::byte_string(&info).to_string();
    assert!(text.contains(&format!("pub const INFO : & [u8] = {literal}")));
    // Without a packer there is no INFO.
    let text = rust_for_map(&map, &BindingsOptions::default())
        .unwrap()
        .to_string();
    assert!(!text.contains("INFO"));
}

#[test]
fn rust_for_block_is_the_block_module_content() {
    let (map, _) = SignalMap::from_path(&gina_merged()).unwrap();
    let imp = map.block("imp").unwrap();
    let items = rust_for_block(imp, &BindingsOptions::default()).unwrap();
    let file = ferrocom_codegen::pretty(&items).unwrap();
    assert!(file.contains("pub const SIZE: usize = 24;"));
    assert!(file.contains("pub const SEVEN_SEGMENT: Signal<bool>"));
    assert!(file.contains("pub fn seven_segment(&self) -> Value<[bool; 8]>"));
    assert!(file.contains("pub struct Imp<B = [u8; SIZE]>"));
    // And it is what rust_for_map puts into `pub mod imp`.
    let whole = rust_for_map(&map, &BindingsOptions::default())
        .unwrap()
        .to_string();
    assert!(whole.contains(&items.to_string()));
}

// ---------------------------------------------------------------------------------------
// The build.rs front end

/// A scratch folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("bindings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn put(&self, rel: &str, from: &Path) -> PathBuf {
        let to = self.0.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, &to).unwrap();
        to
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let to = self.0.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, text).unwrap();
        to
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn build_api_writes_rust_and_c_to_the_out_dir() {
    let tmp = TempDir::new("files");
    let out = tmp.0.join("out");
    let generated = Bindings::from_signal_map(gina_merged())
        .rust_file("gina_signals.rs")
        .c_header("gina_signals.h")
        .out_dir(&out)
        .cargo_instructions(false)
        .generate()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        generated.files,
        [out.join("gina_signals.rs"), out.join("gina_signals.h")]
    );
    assert_eq!(generated.inputs, [gina_merged()]);
    let rust = std::fs::read_to_string(out.join("gina_signals.rs")).unwrap();
    assert!(rust.contains("pub const INFO: &[u8] = b\""));
    assert!(rust.contains("pub mod dexp {"));
    let c = std::fs::read_to_string(out.join("gina_signals.h")).unwrap();
    assert!(c.starts_with("/* Generated by ferrocom-codegen from "));
    assert!(c.contains("#ifndef IOC_GINA_SIGNALS_INCLUDED"));
    assert!(c.contains("#ifdef IOC_GINA_SIGNALS_IMPLEMENTATION"));
    assert!(c.contains("OS_FLASH_MEM os_char ioapp_signals_config[1060] ="));
}

#[test]
fn build_api_reads_merge_lists_like_iocom() {
    // gina's application folder and iocom's library folder, hardware `carol`.
    let tmp = TempDir::new("merge");
    let list = tmp.put(
        "gina/config/signals/merge.json",
        &fixture("gina__merge.json"),
    );
    tmp.put(
        "gina/config/signals/signals.json",
        &fixture("gina__signals.json"),
    );
    tmp.put(
        "iocom/config/signals/device_conf_signals.json",
        &fixture("config__device_conf_signals.json"),
    );
    tmp.put(
        "iocom/config/signals/camera_ring8k_signals.json",
        &fixture("config__camera_ring8k_signals.json"),
    );
    let dirs = ferrocom_spec::signals::search_dirs(
        &tmp.0.join("gina/config/signals"),
        Some(&tmp.0.join("iocom/config/signals")),
        Some("carol"),
        None,
    );
    let out = tmp.0.join("out");
    let generated = Bindings::from_merge_list(&list, dirs)
        .rust_file("signals.rs")
        .out_dir(&out)
        .cargo_instructions(false)
        .generate()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(generated.inputs.len(), 4); // the list and three inputs
    let (merged, _) = SignalMap::from_path(&gina_merged()).unwrap();
    assert_eq!(generated.map, merged);
    // The same INFO as from the merged file: the captured block.
    let rust = std::fs::read_to_string(out.join("signals.rs")).unwrap();
    let literal = proc_macro2::Literal::byte_string(&captured_info()).to_string();
    assert!(rust.contains(&literal));

    // A missing input names the list element and the folders searched.
    let e = Bindings::from_merge_list(&list, [tmp.0.join("nowhere")])
        .rust_file("x.rs")
        .out_dir(&out)
        .cargo_instructions(false)
        .generate()
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("merge.json:1:12: error: `signals.json` not found"),
        "{text}"
    );
}

#[test]
fn build_api_errors_name_file_line_and_column() {
    let tmp = TempDir::new("errors");
    let out = tmp.0.join("out");
    let run = |path: &Path| {
        Bindings::from_signal_map(path)
            .rust_file("x.rs")
            .c_header("x.h")
            .out_dir(&out)
            .cargo_instructions(false)
            .generate()
    };
    // A map that does not parse.
    let bad = tmp.write(
        "bad.json",
        "{\"mblk\": [{\"name\": \"exp\", \"groups\": [{\"name\": \"g\", \"signals\": [\n  {\"name\": \"a\", \"type\": \"flaot\"}]}]}]}",
    );
    let e = run(&bad).unwrap_err();
    assert!(matches!(e, BindingsError::Map(_)));
    assert!(
        e.to_string()
            .contains("bad.json:2:25: error: unknown signal type `flaot`"),
        "{e}"
    );
    // Two signals whose generated names clash.
    let clash = tmp.write(
        "clash.json",
        "{\"name\": \"dev\", \"mblk\": [{\"name\": \"exp\", \"groups\": [{\"name\": \"g\", \"signals\": [\n  {\"name\": \"led\", \"type\": \"boolean\"},\n  {\"name\": \"LED\", \"type\": \"boolean\"}]}]}]}",
    );
    let e = run(&clash).unwrap_err();
    assert!(matches!(e, BindingsError::Invalid(_)));
    insta::assert_snapshot!(
        "error_clash",
        e.to_string().replace(&tmp.0.display().to_string(), "<tmp>")
    );
    // A file that is not there.
    let e = run(&tmp.0.join("missing.json")).unwrap_err();
    assert!(
        e.to_string()
            .contains("missing.json: error: cannot read the file"),
        "{e}"
    );
    // Nothing asked for; no OUT_DIR.
    let e = Bindings::from_signal_map(gina_merged())
        .generate()
        .unwrap_err();
    assert!(matches!(e, BindingsError::NothingToGenerate));
    if std::env::var_os("OUT_DIR").is_none() {
        let e = Bindings::from_signal_map(gina_merged())
            .rust_file("x.rs")
            .cargo_instructions(false)
            .generate()
            .unwrap_err();
        assert!(matches!(e, BindingsError::NoOutDir));
    }
}

fn error_of(json: &str) -> String {
    let (map, _) = SignalMap::from_json_str("m.json", json).unwrap_or_else(|e| panic!("{e}"));
    let opts = BindingsOptions::default();
    match (rust_for_map(&map, &opts), c_header_for_map(&map, &opts)) {
        (Err(e), _) | (_, Err(e)) => e.to_string(),
        _ => panic!("no error for {json}"),
    }
}

fn one_block(signals: &str) -> String {
    format!(
        r#"{{"name": "dev", "mblk": [{{"name": "exp", "groups": [{{"name": "g", "signals": [{signals}]}}]}}]}}"#
    )
}

#[test]
fn names_that_cannot_become_bindings() {
    let cases = [
        (one_block(r#"{"name": "size"}"#), "m.json:1:79: error: signal `size` would generate the constant `SIZE`, already used by the block size constant"),
        (one_block(r#"{"name": "x"}, {"name": "set_x"}"#), "signal `set_x` would generate the getter `set_x`, already used by signal `x`"),
        (one_block(r#"{"name": "9lives"}"#), "signal name `9lives` cannot be a Rust identifier"),
        (one_block(r#"{"name": "new"}"#), "signal `new` would generate the getter `new`, already used by a method of the block type"),
        (one_block(r#"{"name": "hdr"}"#), "signal `exp.hdr` would generate the struct member `hdr`, already used by the block header member `hdr`"),
        (one_block(r#"{"name": "int"}"#), "signal name `int` cannot be a C identifier"),
        (one_block(r#"{"name": "a_addr"}, {"name": "a"}"#), "signal `exp.a` would generate the define `DEV_EXP_A_ADDR`, already used by signal `exp.a_addr`"),
        (
            r#"{"name": "dev", "mblk": [{"name": "exp", "groups": []}], "assembly": [{"name": "cam", "type": "cam_ring", "exp": "exp.rec_", "imp": "imp.rec_"}]}"#.to_string(),
            "assembly `cam` (cam_ring) needs signal `imp.rec_cmd`, which the map does not have",
        ),
        (
            r#"{"name": "dev", "mblk": [{"name": "exp", "groups": []}, {"name": "EXP", "groups": []}]}"#.to_string(),
            "memory block `EXP` would generate the module `exp`, already used by memory block `exp`",
        ),
    ];
    for (json, message) in cases {
        let e = error_of(&json);
        assert!(e.contains(message), "expected `{message}` in:\n{e}");
    }
    // Keywords become raw identifiers; a block named like an imported type gets a suffix.
    let (map, _) = SignalMap::from_json_str(
        "m.json",
        r#"{"name": "dev", "mblk": [{"name": "state", "groups": [{"name": "g", "signals": [{"name": "type"}, {"name": "loop", "type": "dec01"}]}]}]}"#,
    )
    .unwrap();
    let rust = ferrocom_codegen::pretty(&rust_for_map(&map, &BindingsOptions::default()).unwrap())
        .unwrap();
    assert!(
        rust.contains("pub fn r#type(&self) -> Value<u16>"),
        "{rust}"
    );
    assert!(
        rust.contains("pub fn set_loop(&mut self, value: Dec01, state: State)"),
        "{rust}"
    );
    assert!(
        rust.contains("pub struct StateBlock<B = [u8; SIZE]>"),
        "{rust}"
    );
}
