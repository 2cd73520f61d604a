//! Fuzz oracles for the text parsers of ferrocom-spec: the IOCOM signal-map JSON reader
//! and the protocol spec language.
//!
//! One public function per fuzz target, named like the target; each takes the raw fuzz
//! input (read as UTF-8, invalid sequences replaced) and panics when a property does not
//! hold. Compiled into the `ferrocom-fuzz` library for the cargo-fuzz targets and into
//! `spec/tests/fuzz_regressions.rs`, which replays the corpora and saved crash inputs.
//! It may only use `ferrocom_spec`, `ferrocom_wire` (a dev-dependency of ferrocom-spec)
//! and `std`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrocom_spec::model::{Item, Span};
use ferrocom_spec::signals::{
    Diagnostic, JsonValue, SignalMap, SignalType, layout::MAX_BLOCK_SIZE, layout::MIN_BLOCK_SIZE,
};
use ferrocom_wire::packed_json::{self, PackOptions, PackedJsonError};

/// A fuzz target: its name and its oracle.
pub type Target = (&'static str, fn(&[u8]));

/// Every target of this file.
pub const TARGETS: &[Target] = &[("signal_map", signal_map), ("spec_parse", spec_parse)];

/// Line and column (1-based, the column in characters) of byte `offset` of `text`.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

/// `span` lies in `text` (on a character boundary) and its line and column agree with
/// its offset.
#[track_caller]
pub fn check_span(text: &str, span: &Span, what: &str) {
    assert!(
        span.offset <= text.len() && text.is_char_boundary(span.offset),
        "{what}: offset {} is not a position in the {}-byte text",
        span.offset,
        text.len()
    );
    assert_eq!(
        (span.line, span.column),
        line_column(text, span.offset),
        "{what}: line/column disagree with offset {}",
        span.offset
    );
}

// ---------------------------------------------------------------------------------------
// Protocol specs

/// `ferrocom_spec::parse_str` (parser and validation). Errors: at least one, each (and
/// each note) at a real position of the text whose line and column match its offset,
/// in the file given, displayable. Accepted specs: the protocol, every item and every
/// record field name sits at its span in the text.
pub fn spec_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match ferrocom_spec::parse_str("fuzz.wire", &text) {
        Err(errors) => {
            assert!(!errors.is_empty(), "rejected without an error");
            for e in errors.iter() {
                assert_eq!(e.file, "fuzz.wire");
                check_span(&text, &e.span, &format!("error `{}`", e.message));
                for n in &e.notes {
                    check_span(&text, &n.span, &format!("note `{}`", n.message));
                }
                assert!(!e.message.is_empty(), "an error without a message");
                let _ = e.to_string();
            }
            let _ = errors.to_string();
        }
        Ok(spec) => {
            assert_eq!(spec.file, "fuzz.wire");
            let name_at = |ident: &ferrocom_spec::model::Ident| {
                check_span(&text, &ident.span, &format!("name `{}`", ident.name));
                assert!(
                    text[ident.span.offset..].starts_with(ident.name.as_str()),
                    "`{}` is not at its span {}",
                    ident.name,
                    ident.span
                );
            };
            name_at(&spec.protocol.name);
            for item in &spec.protocol.items {
                name_at(item.name());
                if let Item::Record(r) = item {
                    for f in &r.fields {
                        name_at(&f.name);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Signal maps

/// A diagnostic on fuzz text points into it.
#[track_caller]
fn check_diagnostic(text: &str, d: &Diagnostic) {
    let lines = text.split('\n').count();
    assert!(
        d.line >= 1 && (d.line as usize) <= lines && d.column >= 1,
        "diagnostic at {}:{} outside the {lines}-line text: {}",
        d.line,
        d.column,
        d.message
    );
    assert!(d.width >= 1, "diagnostic with width 0");
    assert!(!d.message.is_empty(), "diagnostic without a message");
}

/// What a device's layout is: per block its name and size, per signal its name, type,
/// element count and address.
type Layout = Vec<(String, usize, Vec<(String, SignalType, usize, usize)>)>;

fn layout(map: &SignalMap) -> Layout {
    map.blocks
        .iter()
        .map(|b| {
            let signals = b
                .signals()
                .map(|s| (s.name.clone(), s.ty, s.array, s.addr))
                .collect();
            (b.name.clone(), b.size, signals)
        })
        .collect()
}

/// The layout rules that hold for every map the reader accepts: block size at least 24
/// and within 32-bit addresses, every slot inside its block, no two slots overlapping.
fn check_layout(map: &SignalMap) {
    for b in &map.blocks {
        assert!(
            (MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&b.size),
            "block `{}` of size {}",
            b.name,
            b.size
        );
        let mut slots: Vec<(usize, usize, &str)> = b
            .signals()
            .map(|s| (s.addr, s.end(), s.name.as_str()))
            .collect();
        slots.sort_unstable();
        for (start, end, name) in &slots {
            assert!(
                start < end && *end <= b.size,
                "signal `{name}` at {start}..{end} of block `{}` ({} bytes)",
                b.name,
                b.size
            );
        }
        for w in slots.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "signals `{}` and `{}` overlap in block `{}`",
                w[0].2,
                w[1].2,
                b.name
            );
        }
    }
}

/// The JSON reader and `SignalMap::from_json_str`.
///
/// * Any JSON it reads pretty-prints to text that reads back equal and prints the same.
/// * A rejected map has an error that points into the text; warnings do too.
/// * An accepted map keeps the layout rules, writes (`to_json_text`) to text that reads
///   back to an equal map (positions aside) and writes the same again; and the
///   device-to-server path (text without titles → packed JSON as in an `info` block →
///   unpacked → JSON text → `from_json_str`) yields the same layout.
pub fn signal_map(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(value) = JsonValue::parse("fuzz.json", &text) {
        let pretty = value.to_pretty_string();
        let back = JsonValue::parse("pretty.json", &pretty)
            .unwrap_or_else(|e| panic!("pretty-printed JSON does not read back: {e}\n{pretty}"));
        assert_eq!(back, value, "pretty-printed JSON reads back differently");
        assert_eq!(
            back.to_pretty_string(),
            pretty,
            "pretty printing is not a fixpoint"
        );
    }
    let (map, warnings) = match SignalMap::from_json_str("fuzz.json", &text) {
        Ok(r) => r,
        Err(e) => {
            check_diagnostic(&text, &e);
            let _ = e.to_string();
            return;
        }
    };
    for w in &warnings {
        check_diagnostic(&text, w);
        let _ = w.to_string();
    }
    check_layout(&map);

    let written = map.to_json_text(true);
    let (again, _) = SignalMap::from_json_str("written.json", &written)
        .unwrap_or_else(|e| panic!("a map's own JSON does not read back: {e}\n{written}"));
    assert_eq!(
        again, map,
        "the map's JSON reads back differently:\n{written}"
    );
    assert_eq!(
        again.to_json_text(true),
        written,
        "writing is not a fixpoint"
    );

    let device_text = map.to_json_text(false);
    let packed = match packed_json::pack_json_text(&device_text, &PackOptions::info_block()) {
        Ok(p) => p,
        // Maps packed JSON cannot carry: NUL in a string, nesting beyond its limit.
        Err(PackedJsonError::NulInString | PackedJsonError::TooDeep { .. }) => return,
        Err(e) => panic!("a map's JSON does not pack: {e}\n{device_text}"),
    };
    let unpacked = packed_json::unpack(&packed)
        .unwrap_or_else(|e| panic!("a packed map does not unpack: {e}"))
        .to_json_text();
    let (server, _) = SignalMap::from_json_str("info.json", &unpacked).unwrap_or_else(|e| {
        panic!("the unpacked info block is not a signal map: {e}\n{unpacked}\nfrom\n{device_text}")
    });
    assert_eq!(
        layout(&server),
        layout(&map),
        "the server learns a different layout from the packed map:\n{unpacked}"
    );
}
