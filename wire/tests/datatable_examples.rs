//! The Data Table encodings of the reference's worked examples (iotellect §6, produced
//! by the Java SDK): each decodes to the values it carries and re-encodes byte for
//! byte, in V3 and V4 where the example shows both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrocom_wire::datatable::{
    Color, DataBlock, DataTable, DecodeOptions, EncodeOptions, ErrorKind, FieldFlags, FieldFormat,
    FieldType, TableFormat, Value, Version, to_visible,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The reference's token notation: `{FS}` `{GS}` `{RS}` `{SUB}` `{ETB}`.
fn tok(s: &str) -> Vec<u8> {
    s.replace("{FS}", "\u{1c}")
        .replace("{GS}", "\u{1d}")
        .replace("{RS}", "\u{1e}")
        .replace("{SUB}", "\u{1a}")
        .replace("{ETB}", "\u{17}")
        .into_bytes()
}

/// The reference's visible notation, for examples whose values hold no `<`, `>`, `=`:
/// the separators, and `␚` for NULL.
fn vis(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '<' => '\u{1c}',
            '>' => '\u{1d}',
            '=' => '\u{1e}',
            '␚' => '\u{1a}',
            c => c,
        })
        .collect::<String>()
        .into_bytes()
}

fn opts(version: Version) -> DecodeOptions<'static> {
    DecodeOptions::new(version)
}

/// Decodes `bytes` (with `known` if given), checks the encoding with the same options
/// gives the same bytes, and returns the table.
#[track_caller]
fn round_trip(bytes: &[u8], known: Option<&TableFormat>, version: Version) -> DataTable {
    let mut d = DecodeOptions::new(version);
    d.known_format = known;
    let table =
        DataTable::decode(bytes, &d).unwrap_or_else(|e| panic!("{e}: {}", to_visible(bytes)));
    let mut e = EncodeOptions::new(version);
    e.include_format = known.is_none();
    let again = table.encode(&e).unwrap();
    assert_eq!(
        to_visible(&again),
        to_visible(bytes),
        "re-encoding differs ({version:?})"
    );
    assert_eq!(again, bytes);
    table
}

fn single(name: &str, t: FieldType) -> TableFormat {
    TableFormat::single(FieldFormat::new(name, t))
}

/// Example 3's string: every byte that needs escaping.
const RAW: &str = "a%b\u{17}c\u{1c}d\u{1d}e\u{1e}f\u{02}g\u{0d}h";

#[test]
fn example_1_one_field_with_its_format() {
    let bytes = hex(
        "1c 46 1e 1c 1c 76 61 6c 75 65 1d 1c 49 1d 1c 41 1e 30 1d 1d 1c 4d 1e 31 1d 1c 58 1e
         31 1d 1d 1c 52 1e 1c 34 32 1d 1d",
    );
    assert_eq!(
        to_visible(&bytes),
        "<F=<<value><I><A=0>><M=1><X=1>><R=<42>>"
    );
    for version in [Version::V3, Version::V4] {
        let t = round_trip(&bytes, None, version);
        assert_eq!(t.format, single("value", FieldType::Integer));
        assert_eq!(t.records.len(), 1);
        assert_eq!(t.get(0, "value"), Some(&Value::Integer(42)));
    }
    // Built from values, it encodes to the same bytes.
    let built = DataTable::new(single("value", FieldType::Integer)).with_record(vec![42.into()]);
    assert_eq!(built.encode(&EncodeOptions::default()).unwrap(), bytes);
}

#[test]
fn example_2_without_format() {
    let bytes = hex("1c 52 1e 1c 34 32 1d 1d");
    let format = single("value", FieldType::Integer);
    let t = round_trip(&bytes, Some(&format), Version::V4);
    assert_eq!(t.format, format);
    assert_eq!(t.records[0].values, [Value::Integer(42)]);
    // Without the format known, the records cannot be read.
    let e = DataTable::decode(&bytes, &opts(Version::V4)).unwrap_err();
    assert_eq!(e.offset(), Some(0));
    assert!(e.to_string().contains("no table format"), "{e}");
}

#[test]
fn example_3_string_escapes() {
    let bytes =
        hex("1c 52 1e 1c 61 25 25 62 25 2f 63 25 3c 64 25 3e 65 25 3d 66 25 5e 67 25 24 68 1d 1d");
    assert_eq!(to_visible(&bytes), "<R=<a%%b%/c%<d%>e%=f%^g%$h>>");
    let format = TableFormat::new(vec![FieldFormat::new("s", FieldType::String)]);
    for version in [Version::V2, Version::V3, Version::V4] {
        let t = round_trip(&bytes, Some(&format), version);
        assert_eq!(t.records[0].values, [Value::from(RAW)]);
    }
}

/// Example 3's table inside a `<t><T>` field: re-escaped in V3, raw in V4.
#[test]
fn example_4_nested_table_v3_and_v4() {
    let v3 = tok(
        "{FS}R{RS}{FS}%<F%=%<%<s%>%<S%>%<A%=%>%>%<M%=1%>%<X%=1%>%>%<R%=%<a%%%%b%%/c%%<d%%>e%%=f%%^g%%$h%>%>{GS}{GS}",
    );
    let v4 = tok(
        "{FS}R{RS}{FS}{FS}F{RS}{FS}{FS}s{GS}{FS}S{GS}{FS}A{RS}{GS}{GS}{FS}M{RS}1{GS}{FS}X{RS}1{GS}{GS}{FS}R{RS}{FS}a%%b%/c%<d%>e%=f%^g%$h{GS}{GS}{GS}{GS}",
    );
    let outer = TableFormat::new(vec![FieldFormat::new("t", FieldType::Table)]);
    let inner = TableFormat::single(FieldFormat::new("s", FieldType::String));
    let expected = DataTable::new(inner).with_record(vec![RAW.into()]);
    for (bytes, version) in [(&v3, Version::V3), (&v4, Version::V4)] {
        let t = round_trip(bytes, Some(&outer), version);
        assert_eq!(
            t.records[0].values,
            [Value::from(expected.clone())],
            "{version:?}"
        );
    }
    // V2 escapes as V3; V3 text read as V4 is not a table (the escaped brackets are
    // plain text).
    assert_eq!(
        round_trip(&v3, Some(&outer), Version::V2),
        round_trip(&v3, Some(&outer), Version::V3)
    );
    let e = DataTable::decode(&v3, &opts(Version::V4).with_format(&outer)).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TextOutsideElement);
    assert_eq!(e.offset(), Some(4));
}

/// The format of example 5, as its "with format" form shows the defaults.
fn all_types_format() -> TableFormat {
    use FieldType as T;
    TableFormat::new(vec![
        FieldFormat::new("s", T::String),
        FieldFormat::new("i", T::Integer),
        FieldFormat::new("l", T::Long),
        FieldFormat::new("f", T::Float),
        FieldFormat::new("e", T::Double),
        FieldFormat::new("d", T::Date),
        FieldFormat::new("b", T::Boolean),
        FieldFormat::new("c", T::Color),
        FieldFormat::new("a", T::Data).nullable(),
        FieldFormat::new("t", T::Table),
        FieldFormat::new("n", T::String).nullable(),
    ])
}

#[test]
fn example_5_all_types_in_one_record() {
    let visible = "<R=<hi><1><2><1.5><2.25><2023-11-14 22:13:20.123><1><#FF0010FF><0/␚/blob/-1/3/A\0ÿ><<F=<<x><I><A=0>><M=1><X=1>><R=<7>>><␚>>";
    let bytes = vis(visible);
    // The data block's byte 0xFF is the character U+00FF, C3 BF in UTF-8.
    assert!(bytes.windows(4).any(|w| w == [0x41, 0x00, 0xC3, 0xBF]));
    let format = all_types_format();
    let t = round_trip(&bytes, Some(&format), Version::V4);
    let nested = DataTable::new(single("x", FieldType::Integer)).with_record(vec![7.into()]);
    assert_eq!(
        t.records[0].values,
        [
            Value::from("hi"),
            Value::Integer(1),
            Value::Long(2),
            Value::Float(1.5),
            Value::Double(2.25),
            Value::Date(1_700_000_000_123),
            Value::Boolean(true),
            Value::Color(Color::rgba(0xFF, 0x00, 0x10, 0xFF)),
            Value::from(DataBlock {
                name: Some("blob".into()),
                ..DataBlock::new(vec![0x41, 0x00, 0xFF])
            }),
            Value::from(nested),
            Value::Null,
        ]
    );
    // The format with its defaults, in the SDK's visible syntax.
    let text =
        String::from_utf8(format.encode(&EncodeOptions::default().visible()).unwrap()).unwrap();
    for part in [
        "<<f><F><A=0.0>>",
        "<<d><D><A=2000-02-01 12:00:00.000>>",
        "<<c><C><A=#000000FF>>",
        "<<a><A><F=N><A=<NULL>>>",
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
    assert_eq!(TableFormat::from_visible(&text).unwrap(), format);
    // With the format included it decodes alone, to the same table.
    let full = t.encode(&EncodeOptions::default()).unwrap();
    assert_eq!(round_trip(&full, None, Version::V4), t);
}

/// The table parameter of a V2 command: the bytes after the `n`-th 0x17, up to CR.
fn parameter(frame: &[u8], n: usize) -> Vec<u8> {
    assert_eq!((frame[0], frame[frame.len() - 1]), (0x02, 0x0D));
    let body = &frame[1..frame.len() - 1];
    body.split(|&b| b == 0x17).nth(n).unwrap().to_vec()
}

#[test]
fn example_7_get_variable_reply() {
    let frame = hex("02 52 17 32 17 41 17 1c 52 1e 1c 34 32 1d 1d 0d");
    let table = parameter(&frame, 3);
    let t = round_trip(
        &table,
        Some(&single("value", FieldType::Integer)),
        Version::V4,
    );
    assert_eq!(t.get(0, "value"), Some(&Value::Integer(42)));
}

#[test]
fn example_8_login_call_and_answer() {
    let frame =
        hex("02 4d 17 34 17 4f 17 43 17 17 6c 6f 67 69 6e 17 1c 52 1e 1c 61 62 63 1d 1d 0d");
    let input = parameter(&frame, 6);
    let challenge = single("challenge", FieldType::String);
    let t = round_trip(&input, Some(&challenge), Version::V4);
    assert_eq!(t.get(0, "challenge"), Some(&Value::from("abc")));

    let answer = vis("<R=<admin><rustpeer><7D61F71F34B0305AABC5D1CDD9D2A777>>");
    let format = TableFormat::new(vec![
        FieldFormat::new("username", FieldType::String),
        FieldFormat::new("name", FieldType::String),
        FieldFormat::new("response", FieldType::String),
    ]);
    let t = round_trip(&answer, Some(&format), Version::V4);
    assert_eq!(
        t.get(0, "response"),
        Some(&Value::from("7D61F71F34B0305AABC5D1CDD9D2A777"))
    );
}

#[test]
fn example_11_event_data() {
    let frame = hex(
        "02 4d 17 17 45 17 17 65 76 65 6e 74 43 6f 6e 66 69 72 6d 65 64 17 31 17 35 17 31 32 33
         34 35 17 1c 52 1e 1c 39 39 1d 1d 17 31 37 30 30 30 30 30 30 30 30 31 32 33 0d",
    );
    let data = parameter(&frame, 8);
    let t = round_trip(&data, Some(&single("id", FieldType::Long)), Version::V4);
    assert_eq!(t.get(0, "id"), Some(&Value::Long(99)));
}

#[test]
fn example_14_agent_replies() {
    let temp = TableFormat::single(FieldFormat::new("value", FieldType::Double));
    let t = round_trip(&vis("<R=<0.0>>"), Some(&temp), Version::V4);
    assert_eq!(t.get(0, "value"), Some(&Value::Double(0.0)));
    let t = round_trip(&vis("<R=<21.5>>"), Some(&temp), Version::V4);
    assert_eq!(t.get(0, "value"), Some(&Value::Double(21.5)));

    let t = round_trip(
        &vis("<R=<21.5>><T=2026-11-21 09:30:26.357>"),
        Some(&temp),
        Version::V4,
    );
    assert_eq!(t.timestamp, Some(1_795_253_426_357));

    let register = TableFormat::new(vec![
        FieldFormat::new("username", FieldType::String),
        FieldFormat::new("timeout", FieldType::Long),
    ]);
    let t = round_trip(&vis("<R=<admin><3600000>>"), Some(&register), Version::V4);
    assert_eq!(t.get(0, "timeout"), Some(&Value::Long(3_600_000)));

    // `G children` with no children: an empty parameter is a table without records.
    let children = single("name", FieldType::String);
    let t = round_trip(b"", Some(&children), Version::V4);
    assert!(t.records.is_empty());
    assert_eq!(t.format, children);
}

/// `G variables`: each record's format column is a string holding a format with
/// invisible separators, which the string escaping turns into `%<`, `%>`, `%=`.
#[test]
fn example_14_variables_format_column() {
    let escaped = "%<%<value%>%<E%>%<A%=0.0%>%>%<M%=1%>%<X%=1%>";
    let mut bytes = vis("<R=<temp><");
    bytes.extend_from_slice(escaped.as_bytes());
    bytes.extend_from_slice(&vis(">>"));
    let variables = TableFormat::new(vec![
        FieldFormat::new("name", FieldType::String),
        FieldFormat::new("format", FieldType::String).nullable(),
    ]);
    for version in [Version::V3, Version::V4] {
        let t = round_trip(&bytes, Some(&variables), version);
        let Some(Value::String(format_text)) = t.get(0, "format") else {
            panic!("no format column");
        };
        let format = TableFormat::decode(format_text.as_bytes(), &opts(version)).unwrap();
        assert_eq!(
            format,
            TableFormat::single(FieldFormat::new("value", FieldType::Double))
        );
        assert_eq!(
            format.encode(&EncodeOptions::new(version)).unwrap(),
            format_text.as_bytes()
        );
        // The same table built from a format value encodes to the same bytes.
        let built = DataTable::new(variables.clone()).with_record(vec![
            "temp".into(),
            Value::String(
                String::from_utf8(format.encode(&EncodeOptions::new(version)).unwrap()).unwrap(),
            ),
        ]);
        assert_eq!(
            built
                .encode(&EncodeOptions::new(version).without_format())
                .unwrap(),
            bytes
        );
    }
}

/// The flags and defaults of the example field formats, read back from text.
#[test]
fn visible_field_formats_read_as_the_sdk_writes_them() {
    let a = FieldFormat::from_visible("<a><A><F=N><A=<NULL>>").unwrap();
    assert_eq!(a.field_type, FieldType::Data);
    assert!(a.flags.contains(FieldFlags::NULLABLE));
    assert_eq!(a.default, Value::Null);
    let d = FieldFormat::from_visible("<d><D><A=2000-02-01 12:00:00.000>").unwrap();
    assert_eq!(d.default, Value::Date(949_406_400_000));
    let c = FieldFormat::from_visible("<c><C><A=#000000FF>").unwrap();
    assert_eq!(c.default, Value::Color(Color::BLACK));
}

/// The seeds of the `datatable` fuzz target (fuzz/corpus/datatable/): the examples
/// above behind the oracle's selector byte (bits 0-1 the known format: none, one
/// integer, all ten types, one table; bit 2 V3; bit 3 visible separators). Kept equal to
/// these encodings by this test; `UPDATE_SEEDS=1` rewrites them.
#[test]
fn fuzz_seeds_are_the_examples() {
    let v4 = EncodeOptions::new(Version::V4);
    let v3 = EncodeOptions::new(Version::V3);
    let example_1 = vis("<F=<<value><I><A=0>><M=1><X=1>><R=<42>>");
    let strings = DataTable::new(TableFormat::new(vec![FieldFormat::new(
        "s",
        FieldType::String,
    )]))
    .with_record(vec![RAW.into()]);
    let nested = DataTable::new(TableFormat::new(vec![FieldFormat::new(
        "t",
        FieldType::Table,
    )]))
    .with_record(vec![
        DataTable::new(TableFormat::single(FieldFormat::new(
            "s",
            FieldType::String,
        )))
        .with_record(vec![RAW.into()])
        .into(),
    ]);
    let all = DataTable::decode(
        &vis("<R=<hi><1><2><1.5><2.25><2023-11-14 22:13:20.123><1><#FF0010FF><0/␚/blob/-1/3/A\0ÿ><<F=<<x><I><A=0>><M=1><X=1>><R=<7>>><␚>>"),
        &DecodeOptions::default().with_format(&all_types_format()),
    )
    .unwrap();
    let mut stamped = DataTable::new(TableFormat::single(FieldFormat::new(
        "value",
        FieldType::Double,
    )))
    .with_record(vec![21.5.into()]);
    stamped.timestamp = Some(1_795_253_426_357);
    stamped.quality = Some(192);
    let mut cached = DataTable::new(TableFormat::single(FieldFormat::new(
        "v",
        FieldType::Integer,
    )))
    .with_record(vec![1.into()]);
    cached.format_id = Some(5);
    let variables = {
        let mut b = vis("<F=<<name><S><A=>><<format><S><F=N><A=␚>>><R=<temp><");
        b.extend_from_slice(b"%<%<value%>%<E%>%<A%=0.0%>%>%<M%=1%>%<X%=1%>");
        b.extend_from_slice(&vis(">>"));
        b
    };
    let mut known_all = vis(
        "<R=<s><1><2><3.5><4.5><2000-02-01 12:00:00.000><0><<R=<9>>><#000000FF><0/␚/␚/-1/1/x>>",
    );
    known_all.extend_from_slice(&vis("<R=<␚><␚><␚><␚><␚><␚><␚><␚><␚><␚>>"));
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        ("example-1-v4", 0, example_1.clone()),
        ("example-1-v3", 4, example_1),
        ("example-2-known", 1, vis("<R=<42>>")),
        ("example-3-escapes", 0, strings.encode(&v4).unwrap()),
        ("example-4-v3", 4, nested.encode(&v3).unwrap()),
        ("example-4-v4", 0, nested.encode(&v4).unwrap()),
        (
            "example-4-known-v3",
            7,
            nested.encode(&v3.without_format()).unwrap(),
        ),
        ("example-5-v4", 0, all.encode(&v4).unwrap()),
        ("example-5-v3", 4, all.encode(&v3).unwrap()),
        ("known-all-types", 2, known_all),
        ("example-14-timestamp", 0, stamped.encode(&v4).unwrap()),
        ("example-14-variables", 0, variables),
        ("format-id", 0, cached.encode(&v4).unwrap()),
        (
            "visible",
            8,
            b"<F=<<value><I><A=0>><M=1><X=1>><R=<42>>".to_vec(),
        ),
        ("empty-known", 1, Vec::new()),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/datatable");
    for (name, selector, text) in seeds {
        let mut want = vec![selector];
        want.extend_from_slice(&text);
        let path = dir.join(name);
        if std::env::var_os("UPDATE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            want,
            "{name}: UPDATE_SEEDS=1 rewrites it"
        );
    }
}

/// A readable picture of the nesting rules, for review: the same table in V3 (nested
/// text escaped again) and V4 (raw), a nested format left out where it equals the
/// field default's and sent where it differs.
#[test]
fn snapshot_of_nesting_in_v3_and_v4() {
    let point = TableFormat::new(vec![
        FieldFormat::new("x", FieldType::Integer),
        FieldFormat::new("y", FieldType::Integer),
    ]);
    let format = TableFormat::new(vec![
        FieldFormat::new("name", FieldType::String),
        FieldFormat::new("at", FieldType::Table).with_default(DataTable::new(point.clone()).into()),
        FieldFormat::new("note", FieldType::String).nullable(),
    ]);
    let other = TableFormat::single(FieldFormat::new("z", FieldType::Double));
    let table = DataTable::new(format)
        .with_record(vec![
            "ab".into(),
            DataTable::new(point)
                .with_record(vec![1.into(), 2.into()])
                .into(),
            Value::Null,
        ])
        .with_record(vec![
            "50%".into(),
            DataTable::new(other).with_record(vec![0.5.into()]).into(),
            "\u{1c}".into(),
        ]);
    let mut text = String::new();
    for version in [Version::V3, Version::V4] {
        let bytes = table.encode(&EncodeOptions::new(version)).unwrap();
        text += &format!("{version:?}:\n{}\n", to_visible(&bytes));
        assert_eq!(round_trip(&bytes, None, version), table);
    }
    insta::assert_snapshot!(text);
}
