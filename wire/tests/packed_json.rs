//! eosal packed JSON (reference §15): gina's captured `info` block, the §22.7 example,
//! round trips and robustness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ferrocom_wire::codec::crc16_modbus;
use ferrocom_wire::packed_json::*;
use proptest::prelude::*;
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/iocom")
}

fn merged_text() -> String {
    std::fs::read_to_string(vectors().join("gina-signal-map.merged.json")).unwrap()
}

fn info_block() -> Vec<u8> {
    std::fs::read(vectors().join("gina-info-block.packed-json.bin")).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Index of the first differing byte, for a readable failure.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// serde_json's view of a value, with `title` keys removed at every depth.
fn without_titles(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "title")
                .map(|(k, v)| (k.clone(), without_titles(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_titles).collect()),
        other => other.clone(),
    }
}

/// The merged map read by this crate's own tokenizer (key order kept), titles removed.
fn merged_tree_without_titles() -> PackedValue {
    fn strip(v: PackedValue) -> PackedValue {
        match v {
            PackedValue::Object(m) => PackedValue::Object(
                m.into_iter()
                    .filter(|(k, _)| k != "title")
                    .map(|(k, v)| (k, strip(v)))
                    .collect(),
            ),
            PackedValue::Array(a) => PackedValue::Array(a.into_iter().map(strip).collect()),
            other => other,
        }
    }
    strip(parse_json_text(&merged_text()).unwrap())
}

/// Structural comparison (order-independent, serde_json's reading as the oracle) of an unpacked tree with serde_json's reading of the text.
fn assert_same(p: &PackedValue, v: &Value, path: &str) {
    match (p, v) {
        (PackedValue::Object(members), Value::Object(map)) => {
            assert_eq!(members.len(), map.len(), "member count at {path}");
            for (k, pv) in members {
                let jv = map.get(k).unwrap_or_else(|| panic!("no key {k} at {path}"));
                assert_same(pv, jv, &format!("{path}.{k}"));
            }
        }
        (PackedValue::Array(elements), Value::Array(a)) => {
            assert_eq!(elements.len(), a.len(), "element count at {path}");
            for (n, (pv, jv)) in elements.iter().zip(a).enumerate() {
                assert_same(pv, jv, &format!("{path}[{n}]"));
            }
        }
        (PackedValue::String(s), Value::String(js)) => assert_eq!(s, js, "at {path}"),
        (PackedValue::Int(i), Value::Number(n)) => assert_eq!(Some(*i), n.as_i64(), "at {path}"),
        _ => panic!("different kinds at {path}: {p:?} vs {v:?}"),
    }
}

#[test]
fn packing_gina_merged_map_reproduces_the_captured_info_block() {
    let packed = pack_json_text(&merged_text(), &PackOptions::info_block()).unwrap();
    let captured = info_block();
    assert_eq!(captured.len(), 1060);
    if let Some(at) = first_difference(&packed, &captured) {
        panic!(
            "first difference at byte {at}: packed {:02X?} vs captured {:02X?} (lengths {} vs {})",
            packed.get(at..at + 8),
            captured.get(at..at + 8),
            packed.len(),
            captured.len()
        );
    }
    // 2 + 477 + 2 + 577 + 2 (reference §15.2).
    assert_eq!(packed[..2], [0x15, 0x3B]);
    assert_eq!(packed[479..481], [0x11, 0x48]);
    assert_eq!(packed[1058..], [0xED, 0x39]);
}

#[test]
fn unpacking_the_captured_info_block_gives_gina_map_without_titles() {
    let bytes = info_block();
    let (root, len) = unpack_with_len(&bytes).unwrap();
    assert_eq!(len, 1060);
    let expected = without_titles(&serde_json::from_str::<Value>(&merged_text()).unwrap());
    assert_same(&root, &expected, "$");
    // Same tree, same member order.
    assert_eq!(root, merged_tree_without_titles());
    assert_eq!(root.get("name"), Some(&PackedValue::String("gina".into())));
    // The JSON text of the unpacked tree reads back as the same map.
    let text = root.to_json_text();
    let reread: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reread, expected);
    // And packs back to the same bytes.
    assert_eq!(
        pack_json_text(&text, &PackOptions::default()).unwrap(),
        bytes
    );
}

/// The `info` block as the captured TCP stream carried it: reassembled from gina's data
/// frames for block `info` (absolute bytes, key frames).
#[test]
fn info_block_from_the_captured_stream_unpacks_to_gina_map() {
    let text =
        std::fs::read_to_string(vectors().join("tcp-frank-gina.device-to-server.jsonl")).unwrap();
    let mut block = vec![0u8; 1060];
    let mut frames = 0;
    for line in text.lines() {
        let item: Value = serde_json::from_str(line).unwrap();
        let fields = &item["fields"];
        if item["kind"] != "data" || fields["mblk_name"] != "info" {
            continue;
        }
        assert_eq!(
            fields["delta"], false,
            "the static info block is sent as is"
        );
        let addr = fields["addr"].as_u64().unwrap() as usize;
        let data = hex(fields["decoded_hex"].as_str().unwrap());
        block[addr..addr + data.len()].copy_from_slice(&data);
        frames += 1;
    }
    assert!(frames >= 1);
    assert_eq!(block, info_block());
    let root = unpack(&block).unwrap();
    let expected = without_titles(&serde_json::from_str::<Value>(&merged_text()).unwrap());
    assert_same(&root, &expected, "$");
    assert_eq!(root, merged_tree_without_titles());
}

#[test]
fn derived_example_of_reference_22_7() {
    let src = r#"{"name":"demo","mblk":[{"name":"exp","title":"x","flags":"up","groups":[{"name":"g","signals":[{"name":"temp","type":"short"},{"name":"on","type":"boolean"}]}]}]}"#;
    let expected = hex("12 02
         64 65 6D 6F 00 75 70 00 67 00 74 65 6D 70 00 6F 6E 00
         14 06
         13 06 10 05
         10 19
         00
         13 06 11 03
         13 3E 15 05
         10 03
         00 13 06 10 06
         10 05
         00 13 06 12 06 13 0A 11 02 01
         00 13 06 17 06 13 0A 16 01 01
         11 01
         01
         11 01
         01
         11 01
         C7 0C");
    assert_eq!(expected.len(), 76);
    let packed = pack_json_text(src, &PackOptions::info_block()).unwrap();
    assert_eq!(packed, expected);
    assert_eq!(crc16_modbus(&packed[..74]), 0x0CC7);
}

#[test]
fn value_classification_follows_the_c_packer() {
    let src = r#"{"a": "5", "b": 5, "c": 0, "d": 1, "e": 1.0, "f": 0.0, "g": 1e3, "h": -2,
                  "i": "", "j": null, "k": true, "l": false, "m": 0.1, "n": [], "o": {}}"#;
    let root = unpack(&pack_json_text(src, &PackOptions::default()).unwrap()).unwrap();
    let get = |k: &str| root.get(k).cloned().unwrap();
    assert_eq!(get("a"), PackedValue::String("5".into()));
    assert_eq!(get("b"), PackedValue::Int(5));
    assert_eq!(get("c"), PackedValue::Int(0));
    assert_eq!(get("d"), PackedValue::Int(1));
    assert_eq!(get("e"), PackedValue::Int(1));
    assert_eq!(get("f"), PackedValue::Int(0));
    assert_eq!(get("g"), PackedValue::Float(1000.0));
    assert_eq!(get("h"), PackedValue::Int(-2));
    assert_eq!(get("i"), PackedValue::Empty);
    assert_eq!(get("j"), PackedValue::Empty);
    assert_eq!(get("k"), PackedValue::Int(1));
    assert_eq!(get("l"), PackedValue::Int(0));
    assert_eq!(get("m"), PackedValue::Float(f64::from(0.1f32)));
    assert_eq!(get("n"), PackedValue::Array(vec![]));
    assert_eq!(get("o"), PackedValue::Object(vec![]));

    let quirks = PackOptions {
        keep_quirks: true,
        ..PackOptions::default()
    };
    let root = unpack(&pack_json_text(src, &quirks).unwrap()).unwrap();
    assert_eq!(root.get("j"), Some(&PackedValue::Null));
    assert_eq!(root.get("k"), Some(&PackedValue::Bool(true)));
    assert_eq!(root.get("l"), Some(&PackedValue::Bool(false)));
}

#[test]
fn float_item_bytes() {
    // "m": 0.1 → code 7 + 16 * 9 = 151 → 17 12; m = 13421773, e = −4.
    let packed = pack_json_text(r#"{"min": 0.1}"#, &PackOptions::default()).unwrap();
    let mut expected = vec![0x00, 0x00];
    let content = [0x17, 0x12, 0x35, 0x99, 0x99, 0x19, 0x0C];
    expected[1] = content.len() as u8;
    expected.extend_from_slice(&content);
    assert_eq!(packed[..packed.len() - 2], expected[..]);
}

#[test]
fn string_dictionary_is_shared_and_static_entries_are_used() {
    let packed = pack_json_text(
        r#"{"x": "ab", "ab": "x", "type": "float", "list": ["ab", "x", "-"]}"#,
        &PackOptions::default(),
    )
    .unwrap();
    // Dictionary: "x"@0 "ab"@2 "list"@5 (each string once; "type"/"float"/"-" static).
    assert_eq!(packed[..2], [0x12, 0x01]);
    assert_eq!(&packed[2..12], b"x\0ab\0list\0");
}

#[test]
fn unpack_rejects_bad_input_with_clear_errors() {
    let good = pack_json_text(r#"{"name": "gina"}"#, &PackOptions::default()).unwrap();
    // Trailing bytes are accepted.
    let mut padded = good.clone();
    padded.extend_from_slice(&[0u8; 10]);
    assert_eq!(unpack(&padded).unwrap(), unpack(&good).unwrap());
    // Flipped bit: CRC error.
    let mut bad = good.clone();
    bad[2] ^= 1;
    assert!(matches!(
        unpack(&bad),
        Err(PackedJsonError::Checksum { .. })
    ));
    // Truncated.
    for n in 0..good.len() {
        assert!(unpack(&good[..n]).is_err(), "prefix of {n} bytes");
    }
    // Unclosed array, key in an array, reference 39, unknown code: build with a valid CRC.
    let with_crc = |content: &[u8]| {
        let mut out = vec![0x00, content.len() as u8];
        out.extend_from_slice(content);
        let crc = crc16_modbus(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    };
    assert!(matches!(
        unpack(&with_crc(&[0x10, 0x19])),
        Err(PackedJsonError::Unclosed { .. })
    ));
    assert!(matches!(
        unpack(&with_crc(&[0x10, 0x19, 0x14, 0x06])),
        Err(PackedJsonError::Misplaced { .. })
    ));
    assert!(matches!(
        unpack(&with_crc(&[0x14, 0x4E])),
        Err(PackedJsonError::BadReference { reference: 39, .. })
    ));
    assert!(matches!(
        unpack(&with_crc(&[0x15, 0x07])),
        Err(PackedJsonError::UnknownCode { code: 13, .. })
    ));
    assert!(matches!(
        unpack(&with_crc(&[0x01])),
        Err(PackedJsonError::Misplaced { .. })
    ));
    let msg = unpack(&with_crc(&[0x14, 0x4E])).unwrap_err().to_string();
    assert_eq!(
        msg,
        "packed JSON at byte 2: dictionary reference 39 names no string"
    );
}

#[test]
fn nesting_and_expansion_are_bounded() {
    // The root and 64 nested arrays: too deep (start of array, tag 0 = intser(8) = 10 01).
    let mut content = vec![0x10, 0x19];
    for _ in 0..63 {
        content.extend_from_slice(&[0x10, 0x01]);
    }
    let mut out = vec![0x00];
    let mut len = Vec::new();
    ferrocom_wire::codec::put_intser(&mut len, content.len() as i64);
    out.extend_from_slice(&len);
    out.extend_from_slice(&content);
    let crc = crc16_modbus(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let r = unpack(&out);
    assert!(matches!(r, Err(PackedJsonError::TooDeep { .. })), "{r:?}");

    // 64 levels (the root, its member array and 62 nested arrays), closed: accepted.
    let mut content = vec![0x10, 0x19];
    for _ in 0..62 {
        content.extend_from_slice(&[0x10, 0x01]);
    }
    for _ in 0..63 {
        content.extend_from_slice(&[0x11, 0x01]);
    }
    let mut out = vec![0x00];
    ferrocom_wire::codec::put_intser(&mut out, content.len() as i64);
    out.extend_from_slice(&content);
    let crc = crc16_modbus(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    fn depth(v: &PackedValue) -> usize {
        match v {
            PackedValue::Object(m) => 1 + m.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
            PackedValue::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let v = unpack(&out).unwrap();
    assert_eq!(depth(&v), 64);
    // The same depth survives JSON text and packing again.
    assert!(pack_json_text(&v.to_json_text(), &PackOptions::default()).is_ok());

    // One 200-byte dictionary string referenced 300 times: more text than the budget.
    let mut dict = vec![b'a'; 200];
    dict.push(0);
    let mut content = vec![0x10, 0x19];
    for _ in 0..300 {
        content.extend_from_slice(&[0x03, 0x10, 0x05]);
    }
    content.extend_from_slice(&[0x11, 0x01]);
    let mut out = Vec::new();
    ferrocom_wire::codec::put_intser(&mut out, dict.len() as i64);
    out.extend_from_slice(&dict);
    ferrocom_wire::codec::put_intser(&mut out, content.len() as i64);
    out.extend_from_slice(&content);
    let crc = crc16_modbus(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        unpack(&out),
        Err(PackedJsonError::TooMuchText { .. })
    ));
}

#[test]
fn pack_errors() {
    assert_eq!(
        pack_json_text("[1]", &PackOptions::default()),
        Err(PackedJsonError::RootNotObject)
    );
    assert!(matches!(
        pack_json_text(r#"{"a": 01}"#, &PackOptions::default()),
        Err(PackedJsonError::Json { offset: 6, .. })
    ));
    assert_eq!(
        pack_json_text(r#"{"a": "x\u0000y"}"#, &PackOptions::default()),
        Err(PackedJsonError::NulInString)
    );
    let ok = format!("{{\"a\": {}{}}}", "[".repeat(63), "]".repeat(63));
    assert!(pack_json_text(&ok, &PackOptions::default()).is_ok());
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(64), "]".repeat(64));
    assert!(matches!(
        pack_json_text(&deep, &PackOptions::default()),
        Err(PackedJsonError::Json { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Properties

/// Trees that survive pack → unpack unchanged: no `Null`/`Bool` (they become `Empty` and
/// integers without quirks), non-empty strings (empty ones are `Empty`), floats that are
/// normal single-precision values other than 0 and 1.
fn canonical_value() -> impl Strategy<Value = PackedValue> {
    let key = "[a-z_]{0,8}|name|type|signals|-|title2";
    let leaf = prop_oneof![
        "[a-z]{1,6}|exp|imp|ushort|\u{e9}t\u{e9}|\u{1F600}".prop_map(PackedValue::String),
        any::<i64>().prop_map(PackedValue::Int),
        any::<f32>()
            .prop_filter("normal, not 0 or 1", |x| x.is_normal() && *x != 1.0)
            .prop_map(|x| PackedValue::Float(f64::from(x))),
        Just(PackedValue::Empty),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(PackedValue::Array),
            prop::collection::vec((key, inner), 0..6).prop_map(PackedValue::Object),
        ]
    })
}

fn root() -> impl Strategy<Value = Vec<(String, PackedValue)>> {
    prop::collection::vec(("[a-z]{1,5}|name|mblk", canonical_value()), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn pack_unpack_round_trip(members in root()) {
        let bytes = pack(&members, &PackOptions::default()).unwrap();
        let back = unpack(&bytes).unwrap();
        prop_assert_eq!(&back, &PackedValue::Object(members.clone()));
        // Through JSON text and back: the same bytes.
        let again = pack_json_text(&back.to_json_text(), &PackOptions::default()).unwrap();
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn quirks_round_trip_null_and_bool(b in any::<bool>(), n in 0usize..4) {
        let members: Vec<(String, PackedValue)> = (0..n)
            .map(|i| (format!("k{i}"), if i % 2 == 0 { PackedValue::Null } else { PackedValue::Bool(b) }))
            .collect();
        let opts = PackOptions { keep_quirks: true, ..PackOptions::default() };
        let back = unpack(&pack(&members, &opts).unwrap()).unwrap();
        prop_assert_eq!(back, PackedValue::Object(members));
    }

    #[test]
    fn unpack_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = unpack(&bytes);
    }

    /// Random bytes with a valid header and CRC, so the content parser is exercised.
    #[test]
    fn unpack_never_panics_on_valid_crc(
        dict in prop::collection::vec(any::<u8>(), 0..40),
        content in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut out = Vec::new();
        ferrocom_wire::codec::put_intser(&mut out, dict.len() as i64);
        out.extend_from_slice(&dict);
        ferrocom_wire::codec::put_intser(&mut out, content.len() as i64);
        out.extend_from_slice(&content);
        let crc = crc16_modbus(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        if let Ok(v) = unpack(&out) {
            let _ = v.to_json_text();
        }
    }

    #[test]
    fn pack_json_text_never_panics(text in "\\PC{0,64}") {
        let _ = pack_json_text(&text, &PackOptions::default());
    }

    #[test]
    fn mutated_gina_block_never_panics(at in 0usize..1060, byte in any::<u8>()) {
        let mut bytes = info_block();
        bytes[at] = byte;
        // Keep the CRC valid so the content parser sees the mutation.
        let crc = crc16_modbus(&bytes[..1058]);
        bytes[1058..].copy_from_slice(&crc.to_le_bytes());
        let _ = unpack(&bytes);
    }
}
