//! Decoding: text to tables, formats and values (§5).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use ferrocom_core::transforms::transfer;

use super::elements::{Element, Elements};
use super::error::{ErrorKind, TableError, excerpt};
use super::{
    Color, DataBlock, DataTable, DecodeOptions, FieldFlags, FieldFormat, FieldType, FormatCache,
    RawElement, Record, SelectionValue, Syntax, TableFlags, TableFormat, Value, Version, date,
    text,
};

/// Where a text being decoded sits in the decoder's input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pos {
    base: usize,
    /// `false` once the text went through unescaping: offsets inside it no longer map
    /// to the input, so everything in it reports `base`.
    exact: bool,
}

impl Pos {
    pub(crate) const START: Pos = Pos {
        base: 0,
        exact: true,
    };

    /// The input offset of byte `i` of the text.
    fn at(self, i: usize) -> usize {
        if self.exact { self.base + i } else { self.base }
    }

    /// The position of the part of the text starting at byte `i`.
    fn inner(self, i: usize) -> Pos {
        Pos {
            base: self.at(i),
            exact: self.exact,
        }
    }

    /// The position of the unescaped form of the part starting at byte `i`.
    fn unescaped(self, i: usize) -> Pos {
        Pos {
            base: self.at(i),
            exact: false,
        }
    }
}

/// Decoding state shared by everything nested in one input.
pub(crate) struct Decoder<'o> {
    syntax: Syntax,
    version: Version,
    max_depth: usize,
    cache: Option<&'o dyn FormatCache>,
    /// Formats sent with an id (`<F=..><D=n>`) earlier in this input: a later table may
    /// send `<D=n>` alone.
    learned: Vec<(i32, TableFormat)>,
    /// Bytes that copies of default values and known formats may still take (see
    /// [`Decoder::charge`]).
    budget: usize,
}

type Result<T> = core::result::Result<T, TableError>;

/// Fixed part of the copy budget.
const BUDGET_BASE: usize = 64 * 1024;
/// Bytes of copies allowed per input byte.
const BUDGET_PER_BYTE: usize = 32;

impl<'o> Decoder<'o> {
    pub(crate) fn new(options: &DecodeOptions<'o>, input_len: usize) -> Self {
        Decoder {
            syntax: options.syntax,
            version: options.version,
            max_depth: options.max_depth,
            cache: options.format_cache,
            learned: Vec::new(),
            budget: BUDGET_BASE.saturating_add(input_len.saturating_mul(BUDGET_PER_BYTE)),
        }
    }

    fn elements<'a>(&self, text: &'a [u8], pos: Pos) -> Result<Vec<Element<'a>>> {
        Elements::new(text, self.syntax)
            .map(|e| e.map_err(|(kind, at)| TableError::at(kind, pos.at(at))))
            .collect()
    }

    fn check_depth(&self, depth: usize, pos: Pos) -> Result<()> {
        if depth > self.max_depth {
            Err(TableError::at(
                ErrorKind::TooDeep {
                    limit: self.max_depth,
                },
                pos.at(0),
            ))
        } else {
            Ok(())
        }
    }

    /// Takes `weight` bytes from the copy budget.
    ///
    /// Copies are the one place where decoding could allocate more than the input
    /// holds: a record that leaves out a large default value, or a nested table sent
    /// without its format, gets a copy of what the format holds, and the input can ask
    /// for that many times over in a few bytes each. So copies are weighed before they
    /// are made, and all of them together may take at most 64 KiB plus 32 bytes per
    /// input byte.
    fn charge(&mut self, weight: Option<usize>, pos: Pos) -> Result<()> {
        match weight.and_then(|w| self.budget.checked_sub(w)) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(TableError::at(ErrorKind::DefaultsTooLarge, pos.at(0))),
        }
    }

    fn weigh_limit(&self) -> Weigh {
        Weigh {
            left: self.budget,
            depth_left: self.max_depth.saturating_mul(2).saturating_add(8),
        }
    }

    // ----- tables ------------------------------------------------------------------------

    /// A table at nesting `depth` (the outermost is 1). `known` is the format the
    /// receiver knows (a variable's declared format, a nested field's default).
    pub(crate) fn table(
        &mut self,
        text: &[u8],
        pos: Pos,
        known: Option<&TableFormat>,
        depth: usize,
    ) -> Result<DataTable> {
        self.check_depth(depth, pos)?;
        let els = self.elements(text, pos)?;

        let mut table = DataTable::default();
        let mut sent_format = None;
        let mut invalidation_as_format = None;
        let mut seen_record = false;
        for e in &els {
            if e.is(b"F") {
                // The SDK writes the invalidation message as a second `F` after the
                // data (see DataTable::invalidation): the first `F` before any record
                // is the format.
                if sent_format.is_none() && !seen_record {
                    sent_format = Some(self.format(e.value, pos.inner(e.value_at), depth)?);
                } else {
                    invalidation_as_format = Some(utf8(e.value, pos.inner(e.value_at))?);
                }
            } else if e.is(b"D") {
                table.format_id = Some(parse_i32(e.value, "D", pos.inner(e.value_at))?);
            } else if e.is(b"R") {
                seen_record = true;
            }
        }

        let format = match (sent_format, table.format_id) {
            (Some(f), Some(id)) => {
                self.learned.push((id, f.clone()));
                Some(f)
            }
            (Some(f), None) => Some(f),
            (None, Some(id)) => {
                let found = self
                    .learned
                    .iter()
                    .rev()
                    .find(|(i, _)| *i == id)
                    .map(|(_, f)| f)
                    .or_else(|| self.cache.and_then(|c| c.format(id)));
                let Some(found) = found else {
                    return Err(TableError::at(ErrorKind::UnknownFormatId(id), pos.at(0)));
                };
                let w = self.weigh_limit().format(found);
                let copy = found.clone();
                self.charge(w, pos)?;
                Some(copy)
            }
            (None, None) => match known {
                Some(k) => {
                    // The outermost known format is the caller's; copies for nested
                    // tables are charged.
                    if depth > 1 {
                        let w = self.weigh_limit().format(k);
                        self.charge(w, pos)?;
                    }
                    Some(k.clone())
                }
                None => None,
            },
        };
        let has_format = format.is_some();
        table.format = format.unwrap_or_default();

        let names: Vec<&[u8]> = els.iter().filter(|e| e.is(b"N")).map(|e| e.value).collect();
        for e in &els {
            let vpos = pos.inner(e.value_at);
            match e.name {
                Some(b"R") => {
                    if !has_format {
                        return Err(TableError::at(ErrorKind::NoFormat, pos.at(e.at)));
                    }
                    let record = self.record(&table.format, &names, e.value, vpos, depth)?;
                    table.records.push(record);
                }
                // Read above.
                Some(b"F" | b"D" | b"N") => {}
                Some(b"C") => table.id = Some(parse_i64(e.value, "C", vpos)?),
                Some(b"Q") => table.quality = Some(parse_quality(e.value, vpos)?),
                Some(b"T") => {
                    let t = utf8(e.value, vpos)?;
                    match date::parse(&t) {
                        Some(ms) => table.timestamp = Some(ms),
                        None => {
                            return Err(TableError::at(
                                ErrorKind::BadTimestamp {
                                    text: excerpt(e.value),
                                },
                                vpos.at(0),
                            ));
                        }
                    }
                }
                Some(b"I") => table.invalidation = Some(utf8(e.value, vpos)?),
                _ => table.unknown.push(raw(e, pos)?),
            }
        }
        if table.invalidation.is_none() {
            table.invalidation = invalidation_as_format;
        }
        Ok(table)
    }

    fn record(
        &mut self,
        format: &TableFormat,
        names: &[&[u8]],
        text: &[u8],
        pos: Pos,
        depth: usize,
    ) -> Result<Record> {
        let fields = &format.fields;
        let mut record = Record::default();
        let mut set: Vec<(usize, Value)> = Vec::new();
        let mut positional = 0usize;
        for e in Elements::new(text, self.syntax) {
            let e = e.map_err(|(kind, at)| TableError::at(kind, pos.at(at)))?;
            let vpos = pos.inner(e.value_at);
            // The field the value belongs to, and the name to keep it under if the
            // format has no such field.
            let (target, name) = match e.name {
                Some(b"I") => {
                    record.id = Some(utf8(e.value, vpos)?);
                    continue;
                }
                // A value by name: the SDK's compatibility form.
                Some(name) => (
                    fields.iter().position(|f| f.name.as_bytes() == name),
                    Some(name),
                ),
                None => {
                    let i = positional;
                    positional += 1;
                    if names.is_empty() {
                        ((i < fields.len()).then_some(i), None)
                    } else {
                        let name = names.get(i).copied();
                        let target =
                            name.and_then(|n| fields.iter().position(|f| f.name.as_bytes() == n));
                        (target, name)
                    }
                }
            };
            match target.and_then(|i| fields.get(i).map(|f| (i, f))) {
                Some((i, field)) => {
                    let v = self.value(field, e.value, vpos, depth)?;
                    set.push((i, v));
                }
                None => record.unknown.push(RawElement {
                    name: match name {
                        Some(n) => Some(utf8(n, pos.inner(e.at))?),
                        None => None,
                    },
                    value: utf8(e.value, vpos)?,
                }),
            }
        }

        // Fields the record leaves out take their defaults, as for the sender; the
        // copies are charged (what the record sent is paid for by its bytes).
        let mut present = Vec::new();
        present.resize(fields.len(), false);
        for (i, _) in &set {
            if let Some(p) = present.get_mut(*i) {
                *p = true;
            }
        }
        let mut w = self.weigh_limit();
        let mut missing_weight = Some(0usize);
        for (field, here) in fields.iter().zip(&present) {
            if !here {
                let copy = if field.flags.contains(FieldFlags::DEFAULT_OVERRIDE) {
                    Some(core::mem::size_of::<Value>())
                } else {
                    w.value(&field.default)
                };
                missing_weight = missing_weight.zip(copy).map(|(a, b)| a.saturating_add(b));
            }
        }
        self.charge(missing_weight, pos)?;
        let mut values: Vec<Option<Value>> = Vec::new();
        values.resize(fields.len(), None);
        for (i, v) in set {
            if let Some(slot) = values.get_mut(i) {
                *slot = Some(v);
            }
        }
        record.values = values
            .into_iter()
            .zip(fields)
            .map(|(v, f)| match v {
                Some(v) => v,
                None if f.flags.contains(FieldFlags::DEFAULT_OVERRIDE) => Value::Null,
                None => f.default.clone(),
            })
            .collect();
        Ok(record)
    }

    // ----- values ------------------------------------------------------------------------

    /// A value of `field` as it stands in an element (escaped where the type is).
    fn value(&mut self, field: &FieldFormat, text: &[u8], pos: Pos, depth: usize) -> Result<Value> {
        if text == self.syntax.null() {
            return Ok(Value::Null);
        }
        let bad = |text: &[u8]| {
            TableError::at(
                ErrorKind::BadValue {
                    field: field.name.clone(),
                    field_type: field.field_type,
                    text: excerpt(text),
                },
                pos.at(0),
            )
        };
        let plain = || core::str::from_utf8(text).map_err(|_| bad(text));
        Ok(match field.field_type {
            FieldType::String => Value::String(utf8(&unescape(text), pos)?),
            FieldType::Data => {
                let unescaped = unescape(text);
                Value::Data(Box::new(data_block(field, &unescaped, pos)?))
            }
            FieldType::Table => {
                let known = match &field.default {
                    Value::Table(t) => Some(&t.format),
                    _ => None,
                };
                let t = match self.version {
                    Version::V2 | Version::V3 => {
                        let unescaped = unescape(text);
                        self.table(&unescaped, pos.unescaped(0), known, depth + 1)?
                    }
                    Version::V4 => self.table(text, pos, known, depth + 1)?,
                };
                Value::Table(Box::new(t))
            }
            FieldType::Integer => {
                Value::Integer(text::parse_int_field(plain()?).ok_or_else(|| bad(text))?)
            }
            FieldType::Long => {
                Value::Long(text::parse_long_field(plain()?).ok_or_else(|| bad(text))?)
            }
            FieldType::Float => {
                Value::Float(text::parse_float_field(plain()?).ok_or_else(|| bad(text))?)
            }
            FieldType::Double => {
                Value::Double(text::parse_double_field(plain()?).ok_or_else(|| bad(text))?)
            }
            FieldType::Boolean => Value::Boolean(text::parse_bool_field(plain()?)),
            FieldType::Date => Value::Date(date::parse(plain()?).ok_or_else(|| bad(text))?),
            FieldType::Color => Value::Color(parse_color(plain()?).ok_or_else(|| bad(text))?),
        })
    }

    // ----- formats -----------------------------------------------------------------------

    pub(crate) fn format(&mut self, text: &[u8], pos: Pos, depth: usize) -> Result<TableFormat> {
        self.check_depth(depth, pos)?;
        let mut format = TableFormat::default();
        for e in self.elements(text, pos)? {
            let vpos = pos.inner(e.value_at);
            match e.name {
                None => format.fields.push(self.field(e.value, vpos, depth)?),
                Some(b"M") => format.min_records = parse_i32(e.value, "M", vpos)?,
                Some(b"X") => format.max_records = parse_i32(e.value, "X", vpos)?,
                Some(b"F") => {
                    for (flag, letter) in TableFlags::LETTERS {
                        if e.value.contains(&letter) {
                            format.flags = format.flags | flag;
                        }
                    }
                }
                Some(b"V") => format.table_validators = self.raw_list(e.value, vpos)?,
                Some(b"R") => format.record_validators = self.raw_list(e.value, vpos)?,
                Some(b"B") => format.bindings = self.raw_list(e.value, vpos)?,
                Some(b"N") if !e.value.is_empty() => format.naming = Some(utf8(e.value, vpos)?),
                _ => format.unknown.push(raw(&e, pos)?),
            }
        }
        Ok(format)
    }

    pub(crate) fn field(&mut self, text: &[u8], pos: Pos, depth: usize) -> Result<FieldFormat> {
        let els = self.elements(text, pos)?;
        // The SDK takes the first two elements as name and type, named or not.
        let name = match els.first() {
            Some(e) => utf8(e.value, pos.inner(e.value_at))?,
            None => String::new(),
        };
        let Some(type_element) = els.get(1) else {
            return Err(TableError::at(
                ErrorKind::MissingFieldType { field: name },
                pos.at(0),
            ));
        };
        let type_text = utf8(type_element.value, pos.inner(type_element.value_at))?;
        let Some(field_type) = type_text.chars().next().and_then(FieldType::from_code) else {
            return Err(TableError::at(
                if type_text.is_empty() {
                    ErrorKind::MissingFieldType { field: name }
                } else {
                    ErrorKind::UnknownFieldType {
                        field: name,
                        found: type_text.chars().take(8).collect(),
                    }
                },
                pos.at(type_element.value_at),
            ));
        };
        let mut field = FieldFormat::new(name, field_type);
        let rest = els.get(2..).unwrap_or_default();
        let first = |n: &[u8]| rest.iter().position(|e| e.is(n));

        // Flags first: they decide whether the default may be NULL.
        if let Some(e) = first(b"F").and_then(|i| rest.get(i)) {
            for (flag, letter) in FieldFlags::LETTERS {
                if e.value.contains(&letter) {
                    field.flags = field.flags | flag;
                }
            }
        }
        if field.is_nullable() {
            field.default = Value::Null;
        }
        let known_names: [&[u8]; 10] = [b"F", b"A", b"D", b"H", b"S", b"V", b"E", b"O", b"I", b"G"];
        for (i, e) in rest.iter().enumerate() {
            let vpos = pos.inner(e.value_at);
            let is_first = e.name.is_some_and(|n| first(n) == Some(i));
            if !is_first || !known_names.iter().any(|n| e.is(n)) {
                field.unknown.push(raw(e, pos)?);
                continue;
            }
            let decoded = || utf8(&unescape(e.value), vpos);
            match e.name {
                // An empty default leaves the type's default (the SDK skips it).
                Some(b"A") if !e.value.is_empty() => {
                    field.default = self.value(&field, e.value, vpos, depth)?;
                }
                Some(b"D") => field.description = Some(decoded()?),
                Some(b"H") => field.help = Some(decoded()?),
                Some(b"S") => {
                    for s in self.elements(e.value, vpos)? {
                        let value = self.value(&field, s.value, vpos.inner(s.value_at), depth)?;
                        let description = match s.name {
                            Some(n) => Some(utf8(n, vpos.inner(s.at + 1))?),
                            None => None,
                        };
                        field
                            .selection_values
                            .push(SelectionValue { value, description });
                    }
                }
                Some(b"V") => field.validators = self.raw_list(e.value, vpos)?,
                Some(b"E") => field.editor = Some(decoded()?),
                Some(b"O") => field.editor_options = Some(decoded()?),
                Some(b"I") => field.icon = Some(decoded()?),
                Some(b"G") => field.group = Some(decoded()?),
                _ => {}
            }
        }
        Ok(field)
    }

    /// The elements of a value, kept as text (validators, bindings).
    fn raw_list(&self, text: &[u8], pos: Pos) -> Result<Vec<RawElement>> {
        self.elements(text, pos)?
            .iter()
            .map(|e| raw(e, pos))
            .collect()
    }
}

/// An element kept as text.
fn raw(e: &Element<'_>, pos: Pos) -> Result<RawElement> {
    Ok(RawElement {
        name: match e.name {
            Some(n) => Some(utf8(n, pos.inner(e.at + 1))?),
            None => None,
        },
        value: utf8(e.value, pos.inner(e.value_at))?,
    })
}

/// One level of transfer escaping removed.
fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    transfer::decode_level(text, &mut out);
    out
}

/// Text as a `String`. The decoder checks the whole input is UTF-8 first, and splits
/// and unescapes only at ASCII bytes, so this fails only on a text that was never
/// checked (an input given to a lower-level entry point).
fn utf8(bytes: &[u8], pos: Pos) -> Result<String> {
    match core::str::from_utf8(bytes) {
        Ok(s) => Ok(String::from(s)),
        Err(e) => Err(TableError::at(
            ErrorKind::InvalidUtf8,
            pos.at(e.valid_up_to()),
        )),
    }
}

pub(crate) fn check_utf8(input: &[u8]) -> Result<()> {
    core::str::from_utf8(input)
        .map(|_| ())
        .map_err(|e| TableError::at(ErrorKind::InvalidUtf8, e.valid_up_to()))
}

fn bad_number(element: &'static str, text: &[u8], pos: Pos) -> TableError {
    TableError::at(
        ErrorKind::BadNumber {
            element,
            text: excerpt(text),
        },
        pos.at(0),
    )
}

/// Java's `Integer.parseInt`: a sign and decimal digits.
fn parse_i32(text: &[u8], element: &'static str, pos: Pos) -> Result<i32> {
    core::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_number(element, text, pos))
}

fn parse_i64(text: &[u8], element: &'static str, pos: Pos) -> Result<i64> {
    core::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_number(element, text, pos))
}

/// Quality goes through the SDK's lenient number conversion.
fn parse_quality(text: &[u8], pos: Pos) -> Result<i32> {
    core::str::from_utf8(text)
        .ok()
        .filter(|s| !s.is_empty())
        .and_then(text::parse_int_field)
        .ok_or_else(|| bad_number("Q", text, pos))
}

/// `#RRGGBB[AA]` (hex, alpha 255 when left out), or a decimal `0xRRGGBB` integer.
pub(crate) fn parse_color(text: &str) -> Option<Color> {
    if let Some(hex) = text.strip_prefix('#') {
        let byte = |i: usize| {
            hex.get(i..i + 2)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        };
        // Like the SDK: alpha is read when there are at least eight digits, and
        // anything after them is ignored.
        let a = if hex.len() >= 8 { byte(6)? } else { 255 };
        return Some(Color::rgba(byte(0)?, byte(2)?, byte(4)?, a));
    }
    let rgb: i32 = text.parse().ok()?;
    let [_, r, g, b] = rgb.to_be_bytes();
    Some(Color::rgba(r, g, b, 255))
}

/// A data block from its unescaped text:
/// `version/id/name/previewLength/dataLength/previewAndDataChars`.
fn data_block(field: &FieldFormat, text: &[u8], pos: Pos) -> Result<DataBlock> {
    let bad = |problem: &'static str| {
        TableError::at(
            ErrorKind::BadDataBlock {
                field: field.name.clone(),
                problem,
            },
            pos.at(0),
        )
    };
    if text.is_empty() {
        // The SDK reads an empty text as a block with nothing set.
        return Ok(DataBlock::default());
    }
    let text = core::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
    let mut parts = text.splitn(6, '/');
    let mut part = || {
        parts
            .next()
            .ok_or_else(|| bad("fewer than five '/' separators"))
    };
    let _transcoder_version = part()?;
    let id = part()?;
    let name = part()?;
    let preview_len = part()?;
    let data_len = part()?;
    let bytes = parts.next().unwrap_or("");
    let sub = "\u{1a}";
    let id = if id == sub {
        None
    } else {
        Some(id.parse::<i64>().map_err(|_| bad("id is not a number"))?)
    };
    let name = (name != sub).then(|| String::from(name));
    let length = |t: &str| -> Result<Option<usize>> {
        match t.parse::<i64>() {
            Ok(-1) => Ok(None),
            Ok(n) => usize::try_from(n)
                .map(Some)
                .map_err(|_| bad("negative length")),
            Err(_) => Err(bad("length is not a number")),
        }
    };
    let preview_len = length(preview_len)?;
    let data_len = length(data_len)?;
    // Check the declared lengths against the characters present before allocating.
    let chars = bytes.chars().count();
    let declared = preview_len
        .unwrap_or(0)
        .checked_add(data_len.unwrap_or(0))
        .ok_or_else(|| bad("declared lengths overflow"))?;
    if declared != chars {
        return Err(bad("declared lengths do not match the bytes present"));
    }
    let mut latin1 = bytes.chars().map(|c| u8::try_from(u32::from(c)).ok());
    let mut take = |n: Option<usize>| -> Result<Option<Vec<u8>>> {
        match n {
            None => Ok(None),
            Some(n) => (&mut latin1)
                .take(n)
                .collect::<Option<Vec<u8>>>()
                .map(Some)
                .ok_or_else(|| bad("a character above U+00FF (bytes are Latin-1)")),
        }
    };
    let preview = take(preview_len)?;
    let data = take(data_len)?;
    Ok(DataBlock {
        id,
        name,
        preview,
        data,
    })
}

/// Weighs values and formats (approximate heap bytes) to charge copies against the
/// budget, giving up once the weight passes what is left or the nesting passes a
/// bound (caller-made formats can nest without limit; decoded ones cannot).
struct Weigh {
    left: usize,
    depth_left: usize,
}

impl Weigh {
    fn take(&mut self, n: usize) -> Option<usize> {
        self.left = self.left.checked_sub(n)?;
        Some(n)
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        self.depth_left = self.depth_left.checked_sub(1)?;
        let r = f(self);
        self.depth_left += 1;
        r
    }

    fn value(&mut self, v: &Value) -> Option<usize> {
        let heap = match v {
            Value::String(s) => self.take(s.len())?,
            Value::Table(t) => self.nested(|w| w.table(t))?,
            Value::Data(d) => self.take(
                core::mem::size_of::<DataBlock>()
                    + d.name.as_ref().map_or(0, String::len)
                    + d.preview.as_ref().map_or(0, Vec::len)
                    + d.data.as_ref().map_or(0, Vec::len),
            )?,
            _ => 0,
        };
        Some(heap + self.take(core::mem::size_of::<Value>())?)
    }

    fn raw(&mut self, r: &[RawElement]) -> Option<usize> {
        let n = r.iter().map(|e| {
            core::mem::size_of::<RawElement>()
                + e.value.len()
                + e.name.as_ref().map_or(0, String::len)
        });
        self.take(n.sum())
    }

    fn text(&mut self, t: &Option<String>) -> Option<usize> {
        self.take(t.as_ref().map_or(0, String::len))
    }

    fn table(&mut self, t: &DataTable) -> Option<usize> {
        let mut w = self.take(core::mem::size_of::<DataTable>())?;
        w += self.format(&t.format)?;
        for r in &t.records {
            w += self.take(core::mem::size_of::<Record>())?
                + self.text(&r.id)?
                + self.raw(&r.unknown)?;
            for v in &r.values {
                w += self.value(v)?;
            }
        }
        Some(w + self.text(&t.invalidation)? + self.raw(&t.unknown)?)
    }

    fn format(&mut self, f: &TableFormat) -> Option<usize> {
        let mut w = self.take(core::mem::size_of::<TableFormat>())?;
        for field in &f.fields {
            w += self.take(core::mem::size_of::<FieldFormat>() + field.name.len())?;
            w += self.value(&field.default)?;
            for t in [
                &field.description,
                &field.help,
                &field.editor,
                &field.editor_options,
                &field.icon,
                &field.group,
            ] {
                w += self.text(t)?;
            }
            for s in &field.selection_values {
                w += self.value(&s.value)? + self.text(&s.description)?;
            }
            w += self.raw(&field.validators)? + self.raw(&field.unknown)?;
        }
        w += self.raw(&f.table_validators)? + self.raw(&f.record_validators)?;
        Some(w + self.raw(&f.bindings)? + self.text(&f.naming)? + self.raw(&f.unknown)?)
    }
}
