//! Malformed and hostile Data Table text: unbalanced brackets, broken escapes, nesting
//! bombs, huge declared lengths, invalid UTF-8, bad numbers, inputs that ask for many
//! copies of a large default. Each gives an error naming what was wrong and where;
//! nothing panics; memory stays bounded. Ends with "never panics" properties over
//! random bytes and mutations of valid encodings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ferrocom_wire::datatable::{
    DataTable, DecodeOptions, EncodeOptions, ErrorKind, FieldFormat, FieldType, TableError,
    TableFormat, Value, Version, to_visible,
};
use proptest::prelude::*;

/// The reference's visible notation: separators and `␚` for NULL.
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

#[track_caller]
fn err(input: &[u8], options: &DecodeOptions<'_>) -> TableError {
    match DataTable::decode(input, options) {
        Err(e) => e,
        Ok(t) => panic!("decoded {t:?} from {}", to_visible(input)),
    }
}

fn int_format() -> TableFormat {
    TableFormat::single(FieldFormat::new("value", FieldType::Integer))
}

#[test]
fn unbalanced_elements() {
    let o = DecodeOptions::default();
    let e = err(&vis("<F=<<value><I>>><R=<42>"), &o);
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::UnclosedElement, Some(16))
    );
    let e = err(&vis("<F=<<value><I>>><R=<42>>>"), &o);
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::UnexpectedElementEnd, Some(24))
    );
    let e = err(&vis("<F=<<value><I>>>x<R=<42>>"), &o);
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::TextOutsideElement, Some(16))
    );
    // Inside a record: the offset points into it.
    let e = err(&vis("<R=<4<2>>"), &o.with_format(&int_format()));
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::UnclosedElement, Some(0))
    );
    assert_eq!(
        e.to_string(),
        "data table: element not closed (unbalanced element) at byte 0"
    );
}

#[test]
fn broken_escapes() {
    // In a string, an escape that means nothing and a lone `%` at the end stay as they
    // are (the SDK's rule), so they decode.
    let s = TableFormat::single(FieldFormat::new("s", FieldType::String));
    let t = DataTable::decode(
        &vis("<R=<100%x%>>"),
        &DecodeOptions::default().with_format(&s),
    )
    .unwrap();
    assert_eq!(t.get(0, "s"), Some(&Value::from("100%x%")));
    // In a V3 nested table, broken escapes break its structure: an error at the
    // nested value (offsets inside escaped text are lost with the escaping).
    let outer = TableFormat::new(vec![FieldFormat::new("t", FieldType::Table)]);
    let mut bad = vis("<R=<");
    bad.extend_from_slice(b"%<F%=%<%<x%>%<I%>%>%>%<R%=%<7%>%>%>");
    bad.extend_from_slice(&vis(">>"));
    let e = err(&bad, &DecodeOptions::new(Version::V3).with_format(&outer));
    assert_eq!(e.kind(), &ErrorKind::UnexpectedElementEnd);
    assert_eq!(e.offset(), Some(4));
    // Escaped brackets missing their partner.
    let mut bad = vis("<R=<");
    bad.extend_from_slice(b"%<F%=%<%<x%>%<I%>%>%<R%=%<7%>%>");
    bad.extend_from_slice(&vis(">>"));
    let e = err(&bad, &DecodeOptions::new(Version::V3).with_format(&outer));
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::UnclosedElement, Some(4))
    );
}

/// `depth` tables, each the only value of the one above: `<F=<<t><T>>><R=<...>>`.
fn nested(depth: usize, version: Version) -> Vec<u8> {
    let mut t = DataTable::new(TableFormat::new(vec![FieldFormat::new(
        "x",
        FieldType::Integer,
    )]))
    .with_record(vec![Value::Integer(7)]);
    for _ in 1..depth {
        let format = TableFormat::new(vec![FieldFormat::new("t", FieldType::Table).nullable()]);
        t = DataTable::new(format).with_record(vec![Value::from(t)]);
    }
    let mut o = EncodeOptions::new(version);
    o.max_depth = depth;
    t.encode(&o).unwrap()
}

#[test]
fn nesting_bombs() {
    // Tables nested 10,000 deep (V4): refused at the limit, on a small stack.
    let mut bomb = Vec::new();
    for _ in 0..10_000 {
        bomb.extend_from_slice(&vis("<F=<<t><T><F=N><A=␚>>><R=<"));
    }
    for _ in 0..10_000 {
        bomb.extend_from_slice(&vis(">>"));
    }
    let result = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || DataTable::decode(&bomb, &DecodeOptions::default()).map(|_| ()))
        .unwrap()
        .join()
        .unwrap();
    let e = result.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 32 });
    // The 33rd table starts after 32 openings of 26 bytes.
    assert_eq!(e.offset(), Some(32 * 26));

    // Formats nested through table defaults, 10,000 deep.
    let mut bomb = Vec::new();
    for _ in 0..10_000 {
        bomb.extend_from_slice(&vis("<F=<<t><T><A="));
    }
    for _ in 0..10_000 {
        bomb.extend_from_slice(&vis(">>>"));
    }
    let e = err(&bomb, &DecodeOptions::default());
    assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 32 });

    // Brackets alone, 10,000 deep: matched by counting, kept as one unknown element.
    let mut brackets = vis("<Z=");
    brackets.extend(std::iter::repeat_n(0x1c, 10_000));
    brackets.extend(std::iter::repeat_n(0x1d, 10_001));
    let t = DataTable::decode(&brackets, &DecodeOptions::default()).unwrap();
    assert_eq!(t.unknown.len(), 1);
    let again = t
        .encode(&EncodeOptions::default().without_format())
        .unwrap();
    assert!(again == brackets);

    // Within the limit it decodes, and at a limit set higher; above the ceiling a
    // setting counts as the ceiling.
    DataTable::decode(&nested(32, Version::V4), &DecodeOptions::default()).unwrap();
    let e = err(&nested(33, Version::V4), &DecodeOptions::default());
    assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 32 });
    let o = DecodeOptions::default().with_max_depth(40);
    DataTable::decode(&nested(40, Version::V4), &o).unwrap();
    let mut o = o.with_max_depth(usize::MAX);
    let mut deep = Vec::new();
    for _ in 0..64 {
        deep.extend_from_slice(&vis("<F=<<t><T><F=N><A=␚>>><R=<"));
    }
    deep.extend_from_slice(&vis("<F=<<x><I><A=0>>><R=<7>>"));
    for _ in 0..64 {
        deep.extend_from_slice(&vis(">>"));
    }
    let e = err(&deep, &o);
    assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 64 });
    o.max_depth = 64;
    let e = err(&deep, &o);
    assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 64 });
    o.max_depth = 65;
    assert!(DataTable::decode(&deep, &o).is_err());

    // V3 escapes every level again: the text doubles per level, so depth is costly
    // for the sender, not for the receiver (unescaping shrinks).
    let v3 = nested(12, Version::V3);
    let shallower = nested(11, Version::V3).len();
    assert!(v3.len() * 10 > shallower * 18, "{} {shallower}", v3.len());
    let t = DataTable::decode(&v3, &DecodeOptions::new(Version::V3)).unwrap();
    // The encoder refuses before it escapes past its length limit.
    let mut o = EncodeOptions::new(Version::V3);
    o.max_len = 30_000;
    let e = t.encode(&o).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TooLarge { limit: 30_000 });
    o.max_len = 40_000;
    assert_eq!(t.encode(&o).unwrap(), v3);
}

#[test]
fn huge_declared_lengths_in_data_blocks() {
    let a = TableFormat::single(FieldFormat::new("a", FieldType::Data));
    let o = DecodeOptions::default().with_format(&a);
    for block in [
        "0/␚/x/-1/999999999/abc",
        "0/␚/x/2147483647/2147483647/abc",
        "0/␚/x/9223372036854775807/9223372036854775807/",
        "0/␚/x/-5/3/abc",
        "0/␚/x/1/1/abc",
        "0/␚/x/-1/3",
        "0/notanumber/x/-1/0/",
        "0/␚/x/-1/x/",
        "0/␚/x/-1/1/\u{100}",
        "justtext",
    ] {
        let e = err(&vis(&format!("<R=<{block}>>")), &o);
        assert!(
            matches!(e.kind(), ErrorKind::BadDataBlock { field, .. } if field == "a"),
            "{block}: {e}"
        );
        assert_eq!(e.offset(), Some(4), "{block}");
    }
    // The well-formed neighbours decode.
    for block in ["0/␚/x/-1/3/abc", "0/5/␚/1/2/abc", "0/␚/␚/-1/-1/", ""] {
        DataTable::decode(&vis(&format!("<R=<{block}>>")), &o).unwrap();
    }
}

#[test]
fn invalid_utf8() {
    let format = int_format();
    let o = DecodeOptions::default().with_format(&format);
    let mut input = vis("<R=<4");
    input.push(0xFF);
    input.extend_from_slice(&vis(">>"));
    let e = err(&input, &o);
    assert_eq!((e.kind(), e.offset()), (&ErrorKind::InvalidUtf8, Some(5)));
    // A sequence cut off at the end.
    let e = err(&[0x1c, b'Z', 0x1e, 0xE2, 0x82], &o);
    assert_eq!((e.kind(), e.offset()), (&ErrorKind::InvalidUtf8, Some(3)));
}

#[test]
fn bad_numbers_types_and_format_ids() {
    let o = DecodeOptions::default();
    let e = err(&vis("<F=<<value><I>>><R=<4x2>>"), &o);
    assert_eq!(
        e.kind(),
        &ErrorKind::BadValue {
            field: "value".into(),
            field_type: FieldType::Integer,
            text: "4x2".into()
        }
    );
    assert_eq!(e.offset(), Some(20));
    assert_eq!(
        e.to_string(),
        "data table: bad integer value \"4x2\" for field \"value\" at byte 20"
    );
    for (input, kind, offset) in [
        (
            "<F=<<v><Z>>>",
            ErrorKind::UnknownFieldType {
                field: "v".into(),
                found: "Z".into(),
            },
            8,
        ),
        (
            "<F=<<v>>>",
            ErrorKind::MissingFieldType { field: "v".into() },
            4,
        ),
        (
            "<F=<<v><I>><M=one>>",
            ErrorKind::BadNumber {
                element: "M",
                text: "one".into(),
            },
            14,
        ),
        (
            "<F=<<v><I>>><D=x>",
            ErrorKind::BadNumber {
                element: "D",
                text: "x".into(),
            },
            15,
        ),
        ("<D=5><R=<1>>", ErrorKind::UnknownFormatId(5), 0),
        (
            "<F=<<v><D>>><R=<yesterday>>",
            ErrorKind::BadValue {
                field: "v".into(),
                field_type: FieldType::Date,
                text: "yesterday".into(),
            },
            16,
        ),
        (
            "<F=<<v><C>>><R=<#12>>",
            ErrorKind::BadValue {
                field: "v".into(),
                field_type: FieldType::Color,
                text: "#12".into(),
            },
            16,
        ),
        (
            "<F=<<v><I>>><T=noon>",
            ErrorKind::BadTimestamp {
                text: "noon".into(),
            },
            15,
        ),
        (
            "<F=<<v=x><I>>>",
            ErrorKind::BadFieldFormat("the field name element has a name"),
            4,
        ),
    ] {
        let e = err(&vis(input), &o);
        assert_eq!((e.kind(), e.offset()), (&kind, Some(offset)), "{input}");
    }
    // A format id the cache holds decodes.
    let cache = BTreeMap::from([(5, int_format())]);
    let t = DataTable::decode(&vis("<D=5><R=<1>>"), &o.with_cache(&cache)).unwrap();
    assert_eq!(t.get(0, "value"), Some(&Value::Integer(1)));
    assert_eq!(t.format_id, Some(5));
}

#[test]
fn many_copies_of_a_large_default_are_refused() {
    // A 100 KB default and 10,000 records that leave it out: 1 GB of copies asked for
    // by 140 KB of input.
    let big = "x".repeat(100_000);
    let mut input = vis(&format!("<F=<<s><S><A={big}>>>"));
    for _ in 0..10_000 {
        input.extend_from_slice(&vis("<R=>"));
    }
    let e = err(&input, &DecodeOptions::default());
    assert_eq!(e.kind(), &ErrorKind::DefaultsTooLarge);

    // The same for a nested table's format: each `<>` would copy the field default's
    // 50-field format.
    let fields: String = (0..50)
        .map(|i| format!("<<f{i}><S><D={}>>", "d".repeat(1000)))
        .collect();
    let mut input = vis(&format!("<F=<<t><T><A=<F={fields}>>>>"));
    for _ in 0..10_000 {
        input.extend_from_slice(&vis("<R=<>>"));
    }
    let e = err(&input, &DecodeOptions::default());
    assert_eq!(e.kind(), &ErrorKind::DefaultsTooLarge);

    // A few copies are what defaults are for.
    let mut input = vis(&format!("<F=<<s><S><A={}>><<i><I>>>", "y".repeat(1000)));
    for _ in 0..20 {
        input.extend_from_slice(&vis("<R=<␚><5>>"));
        input.extend_from_slice(&vis("<R=<i=6>>"));
    }
    let t = DataTable::decode(&input, &DecodeOptions::default()).unwrap();
    assert_eq!(t.records.len(), 40);
    assert_eq!(t.get(1, "s"), Some(&Value::String("y".repeat(1000))));
    assert_eq!(t.get(1, "i"), Some(&Value::Integer(6)));
}

#[test]
fn encoding_refuses_what_would_not_read_back() {
    let f = TableFormat::single(FieldFormat::new("s", FieldType::String));
    let e = DataTable::new(f.clone())
        .with_record(vec![Value::from("\u{1a}")])
        .encode(&EncodeOptions::default())
        .unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Unencodable("value is the NULL marker")
    );
    assert_eq!(e.offset(), None);
    let e = DataTable::new(f.clone())
        .with_record(vec![Value::Integer(1)])
        .encode(&EncodeOptions::default())
        .unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::WrongValueType {
            field: "s".into(),
            expected: FieldType::String
        }
    );
    let e = DataTable::new(f.clone())
        .with_record(vec![Value::from("a"), Value::from("b")])
        .encode(&EncodeOptions::default())
        .unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::TooManyValues {
            fields: 1,
            values: 2
        }
    );
    let bad_name = TableFormat::single(FieldFormat::new("a\u{1e}b", FieldType::String));
    assert!(
        DataTable::new(bad_name)
            .encode(&EncodeOptions::default())
            .is_err()
    );
    // Brackets in a name are fine when they balance: the name reads back.
    let odd = TableFormat::single(FieldFormat::new("a\u{1c}b\u{1d}", FieldType::String));
    let bytes = DataTable::new(odd.clone())
        .encode(&EncodeOptions::default())
        .unwrap();
    assert_eq!(
        DataTable::decode(&bytes, &DecodeOptions::default())
            .unwrap()
            .format,
        odd
    );
    // Encoding into a buffer leaves it as it was on error.
    let mut out = b"keep".to_vec();
    let t = DataTable::new(f).with_record(vec![Value::Integer(1)]);
    assert!(t.encode_into(&EncodeOptions::default(), &mut out).is_err());
    assert_eq!(out, b"keep");
}

/// Decoding never panics; what decodes encodes, and that encoding decodes to a table
/// that encodes the same again (one pass settles lenient input: `true` read as 1, a
/// date in month 13).
fn never_panics(input: &[u8], version: Version, known: Option<&TableFormat>) {
    let mut o = DecodeOptions::new(version);
    o.known_format = known;
    let Ok(t) = DataTable::decode(input, &o) else {
        return;
    };
    let mut e = EncodeOptions::new(version);
    // The format goes along unless it is the one the receiver knows.
    e.include_format = known != Some(&t.format) || t.format_id.is_some();
    let once = t
        .encode(&e)
        .unwrap_or_else(|err| panic!("{err}: {}", to_visible(input)));
    let t2 =
        DataTable::decode(&once, &o).unwrap_or_else(|err| panic!("{err}: {}", to_visible(&once)));
    let twice = t2.encode(&e).unwrap_or_else(|err| {
        panic!(
            "{err}: {}\n{}\n{t:?}\n{t2:?}",
            to_visible(input),
            to_visible(&once)
        )
    });
    assert_eq!(to_visible(&twice), to_visible(&once));
    assert_eq!(DataTable::decode(&twice, &o).unwrap(), t2);
}

fn seeds() -> Vec<(Vec<u8>, TableFormat)> {
    let all = TableFormat::new(
        FieldType::ALL
            .iter()
            .enumerate()
            .map(|(i, t)| FieldFormat::new(format!("f{i}"), *t).nullable())
            .collect(),
    );
    let nested = DataTable::new(int_format()).with_record(vec![Value::Integer(7)]);
    let table = DataTable::new(all.clone()).with_record(vec![
        "a%b\u{1c}".into(),
        Value::Integer(-5),
        Value::Long(1 << 40),
        Value::Float(1.5),
        Value::Double(-2.5e-7),
        Value::Date(1_700_000_000_123),
        Value::Boolean(true),
        nested.into(),
        Value::Color(ferrocom_wire::datatable::Color::rgba(1, 2, 3, 4)),
        ferrocom_wire::datatable::DataBlock::new(vec![0, 0x41, 0xFF]).into(),
    ]);
    let mut seeds = vec![];
    for v in [Version::V3, Version::V4] {
        seeds.push((table.encode(&EncodeOptions::new(v)).unwrap(), all.clone()));
    }
    seeds.push((vis("<F=<<value><I><A=0>><M=1><X=1>><R=<42>>"), int_format()));
    seeds
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes_never_panic(
        bytes in prop::collection::vec(
            prop_oneof![
                4 => Just(0x1cu8), 4 => Just(0x1d), 3 => Just(0x1e), 1 => Just(0x1a),
                2 => Just(b'%'), 2 => Just(b'F'), 2 => Just(b'R'),
                6 => any::<u8>(),
            ],
            0..200,
        ),
        v3 in any::<bool>(),
    ) {
        let version = if v3 { Version::V3 } else { Version::V4 };
        never_panics(&bytes, version, None);
        never_panics(&bytes, version, Some(&int_format()));
    }

    #[test]
    fn mutated_tables_never_panic(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let (mut bytes, format) = seeds().swap_remove(which);
        for (at, b, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 if i < bytes.len() => bytes[i] = b,
                1 => bytes.insert(i.min(bytes.len()), b),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        for version in [Version::V3, Version::V4] {
            never_panics(&bytes, version, None);
            never_panics(&bytes, version, Some(&format));
        }
    }
}
