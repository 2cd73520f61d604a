//! IOCOM signal maps: every real file parses, addresses and block sizes agree with IOCOM
//! (fixture README, gina's captured layout), merging reproduces gina's merged map,
//! malformed maps get precise errors, unknown keys survive with a warning, and gina's
//! captured `info` block reads back as gina's map.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferrocom_spec::signals::*;
use ferrocom_wire::packed_json::{PackOptions, pack_json_text, unpack};
use proptest::prelude::*;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn fixtures() -> PathBuf {
    shared().join("fixtures/iocom-signal-maps")
}

fn vectors() -> PathBuf {
    shared().join("vectors/iocom")
}

fn merged_path() -> PathBuf {
    vectors().join("gina-signal-map.merged.json")
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 33, "fixture count");
    files
}

fn is_merge_list(p: &Path) -> bool {
    p.file_name()
        .unwrap()
        .to_string_lossy()
        .ends_with("merge.json")
}

fn parse_ok(path: &Path) -> SignalMap {
    let (map, warnings) = SignalMap::from_path(path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        warnings.is_empty(),
        "unexpected warnings for {}:\n{}",
        path.display(),
        warnings
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    map
}

fn map(text: &str) -> (SignalMap, Vec<Warning>) {
    SignalMap::from_json_str("t.json", text).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> SignalMapError {
    match SignalMap::from_json_str("t.json", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[track_caller]
fn check(e: &SignalMapError, line: u32, column: u32, message: &str) {
    assert_eq!((e.line, e.column), (line, column), "position of: {e}");
    assert!(
        e.message.contains(message),
        "message of: {e}\nexpected: {message}"
    );
}

/// Block sizes per file from the last column of the fixture README's table.
fn readme_sizes() -> BTreeMap<String, Vec<(String, usize)>> {
    let text = std::fs::read_to_string(fixtures().join("README.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 8 || !cells[1].starts_with('`') || !cells[1].ends_with(".json`") {
            continue;
        }
        let file = cells[1].trim_matches('`').to_string();
        let sizes = cells[6]
            .split(',')
            .filter_map(|kv| kv.trim().split_once('='))
            .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
            .collect();
        out.insert(file, sizes);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Real files

#[test]
fn every_fixture_parses_without_warnings() {
    for path in fixture_files() {
        if is_merge_list(&path) {
            let (list, warnings) = MergeList::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(warnings.is_empty());
            assert!(list.inputs().count() >= 2, "{}", path.display());
            // A merge list is not a signal map, and says so.
            let e = SignalMap::from_path(&path).unwrap_err();
            assert!(e.message.contains("merge list"), "{e}");
        } else {
            parse_ok(&path);
        }
    }
}

#[test]
fn block_sizes_equal_the_fixture_readme() {
    let table = readme_sizes();
    assert_eq!(table.len(), 33, "README rows");
    for path in fixture_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let expected = &table[&file];
        if is_merge_list(&path) {
            assert!(expected.is_empty());
            continue;
        }
        let map = parse_ok(&path);
        let got: Vec<(String, usize)> = map
            .blocks
            .iter()
            .map(|b| (b.name.clone(), b.size))
            .collect();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(got_sorted, expected_sorted, "{file}");
    }
}

#[test]
fn merge_lists_name_output_and_inputs() {
    let (gina, _) = MergeList::from_path(&fixtures().join("gina__merge.json")).unwrap();
    assert_eq!(gina.output_name, "signals");
    let inputs: Vec<&str> = gina.inputs().map(|e| e.name.as_str()).collect();
    assert_eq!(
        inputs,
        [
            "signals.json",
            "device_conf_signals.json",
            "camera_ring8k_signals.json"
        ]
    );
    let (buster, _) = MergeList::from_path(&fixtures().join("buster__merge.json")).unwrap();
    assert_eq!(buster.output_name, "signals");
    assert_eq!(buster.entries[0].name, "signals");
    assert!(!buster.entries[0].is_input());
    assert_eq!(buster.inputs().count(), 8);
    assert_eq!(buster.inputs().next().unwrap().name, "node_conf_wifi.json");
}

/// The layout table of vectors/iocom/README.md: (block, signal) → (addr, type, n, slot),
/// and the block sizes it states.
#[allow(clippy::type_complexity)]
fn gina_layout_table() -> (
    Vec<(String, String, usize, String, usize, Option<usize>)>,
    BTreeMap<String, usize>,
) {
    let text = std::fs::read_to_string(vectors().join("README.md")).unwrap();
    let start = text
        .find("| block | addr | signal | type | n | slot bytes |")
        .unwrap();
    let mut rows = Vec::new();
    let mut sizes = BTreeMap::new();
    for line in text[start..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (block, addr, signal, ty, n, slot) =
            (cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]);
        if let Some(i) = slot.find("size ") {
            let digits: String = slot[i + 5..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            sizes.insert(block.to_string(), digits.parse().unwrap());
        }
        if addr.contains('/') {
            // "tod_state char, tod_err uchar, ..., frd_buf uchar[257]"
            let addrs: Vec<usize> = addr.split('/').map(|a| a.parse().unwrap()).collect();
            let sigs: Vec<&str> = signal.split(", ").collect();
            assert_eq!(addrs.len(), sigs.len(), "{line}");
            for (a, s) in addrs.into_iter().zip(sigs) {
                let (name, ty) = s.split_once(' ').unwrap();
                let (ty, n) = match ty.split_once('[') {
                    Some((t, n)) => (t, n.trim_end_matches(']').parse().unwrap()),
                    None => (ty, 1),
                };
                rows.push((block.into(), name.into(), a, ty.into(), n, None));
            }
        } else {
            let slot_bytes: String = slot.chars().take_while(char::is_ascii_digit).collect();
            rows.push((
                block.into(),
                signal.into(),
                addr.parse().unwrap(),
                ty.into(),
                n.parse().unwrap(),
                Some(slot_bytes.parse().unwrap()),
            ));
        }
    }
    (rows, sizes)
}

fn assert_gina_layout(map: &SignalMap) {
    let (rows, sizes) = gina_layout_table();
    assert_eq!(rows.len(), 34, "signals in the README table");
    for (block, name, addr, ty, n, slot) in &rows {
        let s = map
            .signal(block, name)
            .unwrap_or_else(|| panic!("no {block}.{name}"));
        assert_eq!(s.addr, *addr, "{block}.{name}");
        assert_eq!(s.ty.name(), ty, "{block}.{name}");
        assert_eq!(s.array, *n, "{block}.{name}");
        if let Some(slot) = slot {
            assert_eq!(s.slot_size(), *slot, "{block}.{name}");
        }
    }
    // Every signal of the map is in the table.
    let total: usize = map.blocks.iter().map(|b| b.signals().count()).sum();
    assert_eq!(total, rows.len());
    // Block sizes: those the table states, and all six announced on the wire (§14.3).
    for (block, size) in &sizes {
        assert_eq!(map.block(block).unwrap().size, *size, "{block}");
    }
    let announced = [
        ("exp", 44),
        ("imp", 24),
        ("conf_exp", 279),
        ("conf_imp", 279),
        ("dexp", 8205),
        ("dimp", 24),
    ];
    let got: Vec<(&str, usize)> = map
        .blocks
        .iter()
        .map(|b| (b.name.as_str(), b.size))
        .collect();
    assert_eq!(got, announced);
}

#[test]
fn gina_merged_layout_equals_the_captured_layout() {
    let map = parse_ok(&merged_path());
    assert_eq!(map.name.as_deref(), Some("gina"));
    assert_gina_layout(&map);
    let exp = map.block("exp").unwrap();
    assert!(exp.is_up() && !exp.is_conf());
    assert!(map.block("conf_imp").unwrap().is_down());
    assert!(map.block("conf_imp").unwrap().is_conf());
    assert_eq!(map.assemblies.len(), 1);
    assert_eq!(map.assemblies[0].ty, "cam_ring");
    assert_eq!(map.assemblies[0].exp.as_deref(), Some("dexp.rec_"));
    // Written back, the map is the merged file, byte for byte (Python json.dumps indent=4).
    let text = std::fs::read_to_string(merged_path()).unwrap();
    assert_eq!(map.to_json_text(true), text);
}

#[test]
fn gina_200414_type_carry_over_and_backward_addr() {
    let map = parse_ok(&fixtures().join("gina__200414-signals-with-7-segment.json"));
    let exp = map.block("exp").unwrap();
    let layout: Vec<(&str, usize, SignalType, bool)> = exp
        .signals()
        .map(|s| (s.name.as_str(), s.addr, s.ty, s.type_given))
        .collect();
    use SignalType::*;
    assert_eq!(
        layout,
        [
            ("dip_switch_3", 40, Boolean, true),
            ("dip_switch_4", 41, Boolean, false),
            ("touch_sensor", 42, Boolean, false),
            ("myanalog", 43, Ushort, true),
            ("testfloat", 0, Float, true),
            ("teststr", 21, Str, true),
            ("A", 32, Boolean, true),
            ("B", 33, Boolean, false),
            ("C", 34, Boolean, false),
            ("D", 35, Boolean, false),
            ("E", 36, Boolean, false),
            ("F", 37, Boolean, false),
            ("G", 38, Boolean, false),
            ("H", 39, Boolean, false),
        ]
    );
    assert_eq!(exp.signal("dip_switch_3").unwrap().explicit_addr, Some(40));
    assert_eq!(exp.signal("testfloat").unwrap().explicit_addr, Some(0));
    assert_eq!(exp.size, 46);
    let imp = map.block("imp").unwrap();
    let addrs: Vec<usize> = imp.signals().map(|s| s.addr).collect();
    assert_eq!(addrs, [0, 17, 19, 22, 25]);
    assert_eq!(imp.size, 26);
    // The old assembly form keeps its params.
    let a = &map.assemblies[0];
    assert_eq!((a.name.as_str(), a.ty.as_str()), ("ccd", "linecam"));
    assert_eq!(a.params.as_ref().unwrap().as_array().unwrap().len(), 2);
    assert_eq!(a.exp, None);
}

#[test]
fn layout_rules() {
    let (m, _) = map(r#"{"mblk": [{"name": "b", "groups": [
        {"name": "g1", "signals": [
            {"name": "first"},
            {"name": "bits", "type": "boolean", "array": 9},
            {"name": "one_bit"},
            {"name": "s", "type": "str", "array": 5}]},
        {"name": "g2", "signals": [
            {"name": "carried"},
            {"name": "d", "type": "double", "array": 2, "addr": 20},
            {"name": "zero", "type": "int", "array": 0},
            {"name": "back", "addr": 15, "type": "char"}]}]}]}"#);
    let b = m.block("b").unwrap();
    let got: Vec<(&str, usize, usize, SignalType)> = b
        .signals()
        .map(|s| (s.name.as_str(), s.addr, s.slot_size(), s.ty))
        .collect();
    use SignalType::*;
    assert_eq!(
        got,
        [
            ("first", 0, 3, Ushort),
            ("bits", 3, 3, Boolean),
            ("one_bit", 6, 1, Boolean),
            ("s", 7, 6, Str),
            ("carried", 13, 2, Str),
            ("d", 20, 17, Double),
            ("zero", 37, 5, Int),
            ("back", 15, 2, Char),
        ]
    );
    assert_eq!(b.size, 42);
}

#[test]
fn numbers_keep_their_text() {
    let (m, _) = map(
        r#"{"mblk": [{"name": "b", "groups": [{"name": "g", "signals": [
        {"name": "x", "type": "float", "min": 0.1, "max": 1e3, "digs": 2, "unit": "°C"}]}]}]}"#,
    );
    let s = m.signal("b", "x").unwrap();
    let min = s.min.as_ref().unwrap();
    assert_eq!((min.text.as_str(), min.int, min.float), ("0.1", None, 0.1));
    let max = s.max.as_ref().unwrap();
    assert_eq!(
        (max.text.as_str(), max.int, max.float),
        ("1e3", None, 1000.0)
    );
    assert_eq!(s.digs, Some(2));
    assert_eq!(s.unit.as_deref(), Some("°C"));
    let text = m.to_json_text(true);
    assert!(text.contains("\"min\": 0.1,"), "{text}");
    assert!(text.contains("\"max\": 1e3,"), "{text}");
    assert!(text.contains("\"unit\": \"\\u00b0C\""), "{text}");
    // The text reads back as the same map.
    assert_eq!(SignalMap::from_json_str("again", &text).unwrap().0, m);
}

// ---------------------------------------------------------------------------------------
// Unknown keys, warnings

#[test]
fn unknown_keys_are_kept_and_warned_about() {
    let text = r#"{
  "name": "demo",
  "vendor": {"id": 7},
  "mblk": [{
    "name": "exp",
    "bank": 2,
    "groups": [{"name": "g", "colour": "red", "signals": [
      {"name": "a", "typ": "float", "gain": 0.5}
    ]}]
  }]
}"#;
    let (m, warnings) = map(text);
    let shown: Vec<String> = warnings.iter().map(|w| w.location()).collect();
    assert_eq!(
        shown,
        [
            "t.json:3:3",
            "t.json:6:5",
            "t.json:7:30",
            "t.json:8:21",
            "t.json:8:37"
        ]
    );
    assert!(
        warnings[3]
            .message
            .contains("unknown key `typ` in signal `a`")
    );
    assert!(warnings[3].message.contains("did you mean `type`?"));
    assert_eq!(m.extra[0].0, "vendor");
    assert_eq!(m.blocks[0].extra[0].0, "bank");
    assert_eq!(m.blocks[0].groups[0].extra[0].0, "colour");
    let a = m.signal("exp", "a").unwrap();
    assert_eq!(
        a.extra.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["typ", "gain"]
    );
    // `typ` is not read as `type`: the type is the default.
    assert!(!a.type_given);
    assert_eq!(a.ty, SignalType::Ushort);
    // Kept in the JSON written back, and so in packed JSON.
    let out = m.to_json_text(false);
    assert!(out.contains("\"typ\": \"float\""), "{out}");
    assert!(out.contains("\"vendor\": {"), "{out}");
    let packed = pack_json_text(&out, &PackOptions::default()).unwrap();
    let back = unpack(&packed).unwrap().to_json_text();
    let (again, _) = SignalMap::from_json_str("packed", &back).unwrap();
    assert_eq!(again.signal("exp", "a").unwrap().extra, a.extra);
    insta::assert_snapshot!("warning_unknown_key", warnings[3].to_string());
}

#[test]
fn names_iocom_would_reject_are_warned_about() {
    let (_, w) = map(
        r#"{"name": "dev1", "mblk": [{"name": "a very long block name", "groups": [
        {"name": "g", "signals": [{"name": "bad-name"}]}]}]}"#,
    );
    let messages: Vec<&str> = w.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].contains("device name `dev1`"));
    assert!(messages[1].contains("memory block name"));
    assert!(messages[2].contains("signal name `bad-name`"));
}

// ---------------------------------------------------------------------------------------
// Errors

const SYNTAX_MISSING_COMMA: &str = r#"{
  "name": "demo",
  "mblk": [
    {"name": "exp" "groups": []}
  ]
}"#;

const WRONG_TYPE: &str = r#"{
  "mblk": [{"name": "exp", "groups": [{"name": "g", "signals": [
    {"name": "testfloat", "type": "float", "array": "5"}
  ]}]}]
}"#;

const UNKNOWN_TYPE: &str = r#"{
  "mblk": [{"name": "exp", "groups": [{"name": "g", "signals": [
    {"name": "x", "type": "flaot"}
  ]}]}]
}"#;

const NEGATIVE_ARRAY: &str = r#"{
  "mblk": [{"name": "exp", "groups": [{"name": "g", "signals": [
    {"name": "x", "type": "int", "array": -3}
  ]}]}]
}"#;

const DUPLICATE_KEY: &str = r#"{
  "mblk": [{"name": "exp", "groups": [{"name": "g", "signals": [
    {"name": "x", "type": "int",
     "type": "float"}
  ]}]}]
}"#;

const OVERLAP: &str = r#"{
  "mblk": [{"name": "exp", "groups": [{"name": "g", "signals": [
    {"name": "counter", "type": "int"},
    {"name": "flag", "type": "boolean", "addr": 3}
  ]}]}]
}"#;

const TRAILING_COMMA: &str = r#"{
  "mblk": [{"name": "exp", "groups": [{"name": "g", "signals": [
    {"name": "x"},
  ]}]}]
}"#;

const UNTERMINATED: &str = "{\n  \"mblk\": [],\n  \"name\": \"demo";

const MISSING_NAME: &str = r#"{
  "mblk": [{"name": "exp", "groups": [{"name": "g", "signals": [
    {"type": "int"}
  ]}]}]
}"#;

const DUPLICATE_SIGNAL: &str = r#"{
  "mblk": [{"name": "exp", "groups": [
    {"name": "g1", "signals": [{"name": "x"}]},
    {"name": "g2", "signals": [{"name": "x"}]}
  ]}]
}"#;

#[test]
fn malformed_maps_get_line_column_and_message() {
    check(
        &error(SYNTAX_MISSING_COMMA),
        4,
        20,
        "expected `,` or `}` after an object member, found a string",
    );
    check(
        &error(WRONG_TYPE),
        3,
        53,
        "`array` must be a non-negative integer, found string \"5\"",
    );
    check(
        &error(UNKNOWN_TYPE),
        3,
        27,
        "unknown signal type `flaot`; did you mean `float`?",
    );
    check(
        &error(NEGATIVE_ARRAY),
        3,
        43,
        "`array` must be a non-negative integer, found -3",
    );
    let dup = error(DUPLICATE_KEY);
    check(&dup, 4, 6, "duplicate key `type` in this object");
    assert_eq!((dup.notes[0].line, dup.notes[0].column), (3, 19));
    let overlap = error(OVERLAP);
    check(
        &overlap,
        4,
        5,
        "signal `flag` (bytes 3..4) overlaps signal `counter` (bytes 0..5) in memory block `exp`",
    );
    assert_eq!((overlap.notes[0].line, overlap.notes[0].column), (3, 5));
    check(&error(TRAILING_COMMA), 3, 18, "trailing comma before `]`");
    check(&error(UNTERMINATED), 3, 11, "unterminated string");
    check(
        &error("{\n  \"name\": \"demo,\n  \"mblk\": []\n}"),
        2,
        17,
        "control character U+000A in a string (a string cannot span lines; write \\n)",
    );
    check(&error(MISSING_NAME), 3, 5, "signal without `name`");
    check(
        &error(DUPLICATE_SIGNAL),
        4,
        32,
        "duplicate signal `x` in memory block `exp`",
    );
    check(
        &error(""),
        1,
        1,
        "expected a JSON value, found the end of the file",
    );
    check(
        &error("[]"),
        1,
        1,
        "a signal map must be an object, found an array",
    );
    check(
        &error("{\"mblk\": {}}"),
        1,
        10,
        "`mblk` must be a list (JSON array), found an object",
    );
    check(
        &error("{\"mblk\": [1]}"),
        1,
        11,
        "a memory block (`mblk` element) must be an object",
    );
    check(
        &error("{\"mblk\": []} x"),
        1,
        14,
        "unexpected `x` after the JSON value",
    );
    check(&error("{'a': 1}"), 1, 2, "expected a quoted key, found `'`");
    check(&error("{\"a\": 1,}"), 1, 8, "trailing comma before `}`");
    check(&error("{\"a\": 01}"), 1, 7, "leading zeros are not allowed");
    check(
        &error("{\"a\": 1e999}"),
        1,
        7,
        "number 1e999 is out of range",
    );
    check(&error("{\"a\": \"\\x\"}"), 1, 8, "invalid escape `\\x`");
    check(
        &error("{\"a\": \"\\ud800\"}"),
        1,
        8,
        "lone UTF-16 surrogate",
    );
    check(
        &error("{\"a\": tru}"),
        1,
        7,
        "expected a JSON value, found `tru`",
    );
    check(&error("{\"a\": // c\n1}"), 1, 7, "JSON has no comments");
    check(
        &error("{\"a\": \"x\ny\"}"),
        1,
        9,
        "control character U+000A in a string",
    );
    check(
        &error(
            r#"{"mblk": [{"name": "b", "groups": [{"name": "g", "signals": [{"name": "x", "type": "object"}]}]}]}"#,
        ),
        1,
        84,
        "type `object` cannot be used for a signal",
    );
    check(
        &error(
            r#"{"mblk": [{"name": "b", "groups": [{"name": "g", "signals": [{"name": "x", "addr": 4294967295, "type": "int"}]}]}]}"#,
        ),
        1,
        62,
        "ends beyond the largest block",
    );
    let deep = format!("{{\"a\": {}1{}}}", "[".repeat(70), "]".repeat(70));
    check(&error(&deep), 1, 70, "nest deeper than 64 levels");
}

#[test]
fn error_snapshots() {
    for (name, text) in [
        ("syntax_missing_comma", SYNTAX_MISSING_COMMA),
        ("wrong_type_array", WRONG_TYPE),
        ("unknown_type", UNKNOWN_TYPE),
        ("negative_array", NEGATIVE_ARRAY),
        ("duplicate_key", DUPLICATE_KEY),
        ("overlapping_addresses", OVERLAP),
        ("trailing_comma", TRAILING_COMMA),
        ("unterminated_string", UNTERMINATED),
        ("missing_name", MISSING_NAME),
    ] {
        insta::assert_snapshot!(name, error(text).to_string());
    }
}

#[test]
fn unreadable_file_is_an_error_without_position() {
    let e = SignalMap::from_path(Path::new("/nonexistent/signals.json")).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/signals.json: error: cannot read the file")
    );
}

// ---------------------------------------------------------------------------------------
// Merging

/// A temporary folder tree for the search-path rule.
struct TempTree(PathBuf);

impl TempTree {
    fn new(name: &str) -> TempTree {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("signal-maps-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempTree(dir)
    }

    fn put(&self, rel: &str, fixture: &str) {
        let to = self.0.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixtures().join(fixture), to).unwrap();
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn gina_merge_list_reproduces_the_merged_map() {
    let tree = TempTree::new("gina");
    // Application folder: gina's own signals.json (and its merge.json).
    tree.put("gina/config/signals/signals.json", "gina__signals.json");
    tree.put("gina/config/signals/merge.json", "gina__merge.json");
    // Library folder: iocom's config/signals. The hardware subfolder `carol/` is searched
    // before the folder itself, so the decoy in the folder itself must not be used.
    tree.put(
        "iocom/config/signals/device_conf_signals.json",
        "config__device_conf_signals.json",
    );
    tree.put(
        "iocom/config/signals/carol/camera_ring8k_signals.json",
        "config__camera_ring8k_signals.json",
    );
    tree.put(
        "iocom/config/signals/camera_ring8k_signals.json",
        "config__camera_flat8k_signals.json",
    );

    let dirs = search_dirs(
        &tree.0.join("gina/config/signals"),
        Some(&tree.0.join("iocom/config/signals")),
        Some("carol"),
        Some(&tree.0.join("gina/config/intermediate")),
    );
    assert_eq!(dirs.len(), 5);
    let (list, _) = MergeList::from_path(&tree.0.join("gina/config/signals/merge.json")).unwrap();
    let files = list.resolve(&dirs).unwrap();
    assert!(
        files[2].ends_with("carol/camera_ring8k_signals.json"),
        "{files:?}"
    );

    let (merged, warnings) = list.merge(&dirs).unwrap();
    assert!(warnings.is_empty());
    let expected =
        JsonValue::parse("merged", &std::fs::read_to_string(merged_path()).unwrap()).unwrap();
    assert_eq!(merged, expected);
    assert_eq!(
        merged.to_pretty_string(),
        std::fs::read_to_string(merged_path()).unwrap()
    );
    // Positions in the merged value still name the file each part came from.
    let dexp = &merged.get("mblk").unwrap().as_array().unwrap()[4];
    assert!(
        dexp.pos
            .label_or("")
            .ends_with("carol/camera_ring8k_signals.json")
    );
    assert_eq!(dexp.pos.line, 12);

    let (map, _) = list.load(&dirs).unwrap();
    assert_gina_layout(&map);

    // Without the hardware folder the decoy (flat camera) is found instead.
    let dirs = search_dirs(
        &tree.0.join("gina/config/signals"),
        Some(&tree.0.join("iocom/config/signals")),
        None,
        None,
    );
    let (map, _) = list.load(&dirs).unwrap();
    assert_eq!(map.block("dexp").unwrap().size, 8206);

    // A missing input is an error at its list element.
    let e = list.resolve(&dirs[..1]).unwrap_err();
    assert_eq!((e.line, e.column), (1, 29));
    assert!(
        e.message.contains("`device_conf_signals.json` not found"),
        "{e}"
    );
}

#[test]
fn merge_semantics() {
    let a = JsonValue::parse(
        "a.json",
        r#"{"name": "a", "x": null, "mblk": [
        {"name": "exp", "title": "first", "groups": [{"name": "g", "signals": [{"name": "s1"}]}]},
        {"title": "unnamed in the first file is kept"}]}"#,
    )
    .unwrap();
    let b = JsonValue::parse("b.json", r#"{"name": "b", "x": 5, "extra": [1, 2], "mblk": [
        {"name": "exp", "title": "second", "flags": "up", "groups": [{"name": "g", "signals": [{"name": "s2"}]}]},
        {"name": "imp"},
        {"title": "unnamed later is dropped"}]}"#).unwrap();
    let (m, warnings) = merge_json([a, b]).unwrap();
    assert_eq!(m.get("name").unwrap().as_str(), Some("a"));
    assert_eq!(m.get("x").unwrap(), &JsonValue::int(5));
    let mblk = m.get("mblk").unwrap().as_array().unwrap();
    assert_eq!(mblk.len(), 3);
    assert_eq!(mblk[0].get("title").unwrap().as_str(), Some("first"));
    assert_eq!(mblk[0].get("flags").unwrap().as_str(), Some("up"));
    let signals = mblk[0].get("groups").unwrap().as_array().unwrap()[0]
        .get("signals")
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(signals.len(), 2);
    assert!(mblk[1].get("name").is_none());
    assert_eq!(mblk[2].get("name").unwrap().as_str(), Some("imp"));
    let keys: Vec<&str> = m
        .as_object()
        .unwrap()
        .iter()
        .map(|x| x.key.as_str())
        .collect();
    // `"x": null` in the first file is never inserted (merge_json.py skips nulls), so
    // `x` comes after `mblk`.
    assert_eq!(keys, ["name", "mblk", "x", "extra"]);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].location(), "b.json:4:9");
    assert!(warnings[0].message.contains("without `name` dropped"));

    // Kind mismatch: an error at the later value, noting the earlier one.
    let a = JsonValue::parse("a.json", r#"{"mblk": []}"#).unwrap();
    let b = JsonValue::parse("b.json", r#"{"mblk": "x"}"#).unwrap();
    let e = merge_json([a, b]).unwrap_err();
    assert_eq!(e.location(), "b.json:1:10");
    assert_eq!(e.notes[0].file, "a.json");
    assert!(
        e.message
            .contains("cannot merge `mblk`: it is a string here but a list"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Packed JSON: the info block of a device

#[test]
fn gina_info_block_reads_back_as_gina_map() {
    let bytes = std::fs::read(vectors().join("gina-info-block.packed-json.bin")).unwrap();
    let text = unpack(&bytes).unwrap().to_json_text();
    let (from_device, warnings) = SignalMap::from_json_str("gina info block", &text).unwrap();
    assert!(warnings.is_empty());
    assert_gina_layout(&from_device);
    let merged = parse_ok(&merged_path());
    assert_eq!(from_device.blocks.len(), merged.blocks.len());
    for (a, b) in from_device.blocks.iter().zip(&merged.blocks) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.size, b.size);
        assert_eq!(a.flags, b.flags);
        assert_eq!(a.title, None);
        let sa: Vec<_> = a
            .signals()
            .map(|s| (&s.name, s.addr, s.ty, s.array))
            .collect();
        let sb: Vec<_> = b
            .signals()
            .map(|s| (&s.name, s.addr, s.ty, s.array))
            .collect();
        assert_eq!(sa, sb);
    }
    // Apart from titles, the maps are equal.
    let mut untitled = merged.clone();
    for b in &mut untitled.blocks {
        b.title = None;
    }
    assert_eq!(from_device, untitled);
}

#[test]
fn gina_map_packs_into_the_captured_info_block() {
    let merged = parse_ok(&merged_path());
    let packed = pack_json_text(&merged.to_json_text(false), &PackOptions::default()).unwrap();
    let captured = std::fs::read(vectors().join("gina-info-block.packed-json.bin")).unwrap();
    assert_eq!(packed, captured);
}

// ---------------------------------------------------------------------------------------
// Properties

fn fixture_texts() -> Vec<String> {
    fixture_files()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Random JSON values (object keys unique), built in code.
fn json_value() -> impl Strategy<Value = JsonValue> {
    let leaf = prop_oneof![
        Just(JsonValue::new(JsonKind::Null)),
        any::<bool>().prop_map(|b| JsonValue::new(JsonKind::Bool(b))),
        any::<i64>().prop_map(JsonValue::int),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| JsonValue::new(JsonKind::Number(JsonNumber {
                text: format!("{x:?}"),
                int: None,
                float: x,
            }))),
        "(\\PC|[\\x00-\\x1f\"\\\\])*".prop_map(JsonValue::string),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6)
                .prop_map(|a| JsonValue::new(JsonKind::Array(a))),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..6).prop_map(JsonValue::object),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_json_round_trips(v in json_value()) {
        let text = v.to_pretty_string();
        let again = JsonValue::parse("g.json", &text).unwrap();
        prop_assert_eq!(again, v);
    }

    #[test]
    fn parsing_never_panics(text in "\\PC{0,80}") {
        let _ = SignalMap::from_json_str("p.json", &text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..33,
        at in any::<prop::sample::Index>(),
        edit in prop_oneof![
            Just(None),
            prop::sample::select(vec!['{', '}', '[', ']', '"', ',', ':', '\\', '-', '0', 'e', '\n', 'é'])
                .prop_map(Some),
        ],
    ) {
        let texts = fixture_texts();
        let mut text = texts[which].clone();
        let mut cut = at.index(text.len() + 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        match edit {
            None if cut < text.len() => {
                let c = text[cut..].chars().next().unwrap();
                text.replace_range(cut..cut + c.len_utf8(), "");
            }
            None => {}
            Some(c) => text.insert(cut, c),
        }
        if let Err(e) = SignalMap::from_json_str("m.json", &text) {
            // Every error has a position inside the text.
            prop_assert!(e.line >= 1 && e.column >= 1, "{}", e);
            let _ = e.to_string();
        }
    }

    #[test]
    fn json_text_round_trips(which in 0usize..33) {
        let texts = fixture_texts();
        let v = JsonValue::parse("f.json", &texts[which]).unwrap();
        let again = JsonValue::parse("again", &v.to_pretty_string()).unwrap();
        prop_assert_eq!(again, v);
    }
}
