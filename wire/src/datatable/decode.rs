//! Decoding: text to tables, formats and values (§5).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use ferrocom_core::transforms::transfer;

use super::elements::{Element, Elements, has_top_level_sep};
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
    cache: Option<&'o (dyn FormatCache + Sync)>,
    /// Formats sent with an id (`<F=..><D=n>`) earlier in this input: a later table may
    /// send `<D=n>` alone.
    learned: BTreeMap<i32, TableFormat>,
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
            max_depth: options.max_depth.min(super::MAX_DEPTH_CEILING),
            cache: options.format_cache,
            learned: BTreeMap::new(),
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
        charge(&mut self.budget, weight, pos)
    }

    fn weigh_limit(&self) -> Weigh {
        Weigh {
            left: self.budget,
            depth_left: self.max_depth.saturating_mul(2).saturating_add(8),
        }
    }

    // ----- tables ------------------------------------------------------------------------
    //
    // Nesting recurses table -> record -> value -> nested_table -> table, and through
    // defaults table -> table_format -> format -> field -> value -> ... These functions
    // keep only what the recursion needs; the rest is in helpers that return before
    // the next level starts, so that each level takes little stack (a few hundred bytes
    // optimised, a few KiB in debug builds).

    /// A table at nesting `depth` (the outermost is 1). `known` is the format the
    /// receiver knows (a variable's declared format, a nested field's default).
    pub(crate) fn table(
        &mut self,
        text: &[u8],
        pos: Pos,
        known: Option<&TableFormat>,
        depth: usize,
    ) -> Result<Box<DataTable>> {
        self.check_depth(depth, pos)?;
        let els = self.elements(text, pos)?;
        // On the heap from the start: moving it up the levels is then a pointer copy.
        let mut table = Box::<DataTable>::default();
        let has_format = self.table_format(&mut table, &els, pos, known, depth)?;
        let names: Vec<&[u8]> = els.iter().filter(|e| e.is(b"N")).map(|e| e.value).collect();
        let format = core::mem::take(&mut table.format);
        let mut lookup = FieldLookup::new(&format.fields);
        for e in &els {
            if e.is(b"R") {
                if !has_format {
                    return Err(TableError::at(ErrorKind::NoFormat, pos.at(e.at)));
                }
                let record =
                    self.record(&mut lookup, &names, e.value, pos.inner(e.value_at), depth)?;
                table.records.push(record);
            } else {
                table_element(&mut table, e, pos)?;
            }
        }
        table.format = format;
        Ok(table)
    }

    /// Sets the table's format (sent, cached by id, or known) and format id; `false` if
    /// there is none.
    fn table_format(
        &mut self,
        table: &mut DataTable,
        els: &[Element<'_>],
        pos: Pos,
        known: Option<&TableFormat>,
        depth: usize,
    ) -> Result<bool> {
        let mut sent_format = None;
        let mut seen_record = false;
        for e in els {
            if e.is(b"F") {
                // The SDK writes the invalidation message as a second `F` after the
                // data (see DataTable::invalidation): the first `F` before any record
                // is the format.
                if sent_format.is_none() && !seen_record {
                    sent_format = Some(self.format(e.value, pos.inner(e.value_at), depth)?);
                } else {
                    table.invalidation = Some(utf8(e.value, pos.inner(e.value_at))?);
                }
            } else if e.is(b"D") {
                table.format_id = Some(parse_i32(e.value, "D", pos.inner(e.value_at))?);
            } else if e.is(b"R") {
                seen_record = true;
            }
        }
        let format = match (sent_format, table.format_id) {
            (Some(f), Some(id)) => {
                self.learned.insert(id, f.clone());
                f
            }
            (Some(f), None) => f,
            (None, Some(id)) => {
                let found = self
                    .learned
                    .get(&id)
                    .or_else(|| self.cache.and_then(|c| c.format(id)));
                let Some(found) = found else {
                    return Err(TableError::at(ErrorKind::UnknownFormatId(id), pos.at(0)));
                };
                let w = self.weigh_limit().format(found);
                charge(&mut self.budget, w, pos)?;
                found.clone()
            }
            (None, None) => match known {
                Some(k) => {
                    // The outermost known format is the caller's; copies for nested
                    // tables are charged.
                    if depth > 1 {
                        let w = self.weigh_limit().format(k);
                        self.charge(w, pos)?;
                    }
                    k.clone()
                }
                None => return Ok(false),
            },
        };
        table.format = format;
        Ok(true)
    }

    fn record(
        &mut self,
        lookup: &mut FieldLookup<'_>,
        names: &[&[u8]],
        text: &[u8],
        pos: Pos,
        depth: usize,
    ) -> Result<Record> {
        let mut record = Record::default();
        let mut set: Vec<(usize, Value)> = Vec::new();
        let mut positional = 0usize;
        for e in Elements::new(text, self.syntax) {
            let e = e.map_err(|(kind, at)| TableError::at(kind, pos.at(at)))?;
            let target = record_target(
                self.syntax,
                &mut record,
                lookup,
                names,
                &mut positional,
                &e,
                pos,
            )?;
            if let Some((i, field)) = target.and_then(|i| lookup.fields.get(i).map(|f| (i, f))) {
                let v = self.value(field, e.value, pos.inner(e.value_at), depth)?;
                set.push((i, v));
            }
        }
        record.values = self.fill_defaults(lookup.fields, set, pos)?;
        Ok(record)
    }

    /// The record's values in field order, with the defaults of those it left out, as
    /// for the sender; the copies are charged (what the record sent is paid for by its
    /// bytes).
    fn fill_defaults(
        &mut self,
        fields: &[FieldFormat],
        set: Vec<(usize, Value)>,
        pos: Pos,
    ) -> Result<Vec<Value>> {
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
        Ok(values
            .into_iter()
            .zip(fields)
            .map(|(v, f)| match v {
                Some(v) => v,
                None if f.flags.contains(FieldFlags::DEFAULT_OVERRIDE) => Value::Null,
                None => f.default.clone(),
            })
            .collect())
    }

    // ----- values ------------------------------------------------------------------------

    /// A value of `field` as it stands in an element (escaped where the type is).
    fn value(&mut self, field: &FieldFormat, text: &[u8], pos: Pos, depth: usize) -> Result<Value> {
        if text == self.syntax.null() {
            Ok(Value::Null)
        } else if field.field_type == FieldType::Table {
            self.nested_table(field, text, pos, depth)
        } else {
            scalar(field, text, pos)
        }
    }

    fn nested_table(
        &mut self,
        field: &FieldFormat,
        text: &[u8],
        pos: Pos,
        depth: usize,
    ) -> Result<Value> {
        let known = match &field.default {
            Value::Table(t) => Some(&t.format),
            _ => None,
        };
        let table = match self.version {
            Version::V2 | Version::V3 => {
                let unescaped = unescape(text);
                self.table(&unescaped, pos.unescaped(0), known, depth + 1)?
            }
            Version::V4 => self.table(text, pos, known, depth + 1)?,
        };
        Ok(Value::Table(table))
    }

    // ----- formats -----------------------------------------------------------------------

    pub(crate) fn format(&mut self, text: &[u8], pos: Pos, depth: usize) -> Result<TableFormat> {
        self.check_depth(depth, pos)?;
        let mut format = TableFormat::default();
        for e in self.elements(text, pos)? {
            if e.name.is_none() {
                let field = self.field(e.value, pos.inner(e.value_at), depth)?;
                format.fields.push(field);
            } else {
                self.format_element(&mut format, &e, pos)?;
            }
        }
        Ok(format)
    }

    /// A named element of a table format.
    fn format_element(&self, format: &mut TableFormat, e: &Element<'_>, pos: Pos) -> Result<()> {
        let vpos = pos.inner(e.value_at);
        match e.name {
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
            _ => format.unknown.push(raw(e, pos)?),
        }
        Ok(())
    }

    pub(crate) fn field(&mut self, text: &[u8], pos: Pos, depth: usize) -> Result<FieldFormat> {
        let els = self.elements(text, pos)?;
        let mut field = field_head(&els, pos)?;
        let rest = els.get(2..).unwrap_or_default();
        let firsts = first_of_each(rest);
        for (i, e) in rest.iter().enumerate() {
            let vpos = pos.inner(e.value_at);
            let Some(known) = known_field_element(e) else {
                field.unknown.push(raw(e, pos)?);
                continue;
            };
            if firsts.get(known).copied().flatten() != Some(i) {
                // A repeat: the SDK reads only the first, and sending it on would make
                // it the first wherever the first is not sent (flags or texts empty).
                continue;
            }
            if e.is(b"A") {
                // An empty default leaves the type's default (the SDK skips it).
                if !e.value.is_empty() {
                    field.default = self.value(&field, e.value, vpos, depth)?;
                }
            } else if e.is(b"S") {
                self.selection_values(&mut field, e.value, vpos, depth)?;
            } else if e.is(b"V") {
                field.validators = self.raw_list(e.value, vpos)?;
            } else {
                field_text(&mut field, e, vpos)?;
            }
        }
        Ok(field)
    }

    fn selection_values(
        &mut self,
        field: &mut FieldFormat,
        text: &[u8],
        pos: Pos,
        depth: usize,
    ) -> Result<()> {
        for s in self.elements(text, pos)? {
            let value = self.value(field, s.value, pos.inner(s.value_at), depth)?;
            let description = match s.name {
                Some(n) => Some(utf8(n, pos.inner(s.at + 1))?),
                None => None,
            };
            field
                .selection_values
                .push(SelectionValue { value, description });
        }
        Ok(())
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

/// Takes `weight` (`None`: more than is left) from `budget`.
fn charge(budget: &mut usize, weight: Option<usize>, pos: Pos) -> Result<()> {
    match weight.and_then(|w| budget.checked_sub(w)) {
        Some(left) => {
            *budget = left;
            Ok(())
        }
        None => Err(TableError::at(ErrorKind::DefaultsTooLarge, pos.at(0))),
    }
}

/// Field indexes by name, built on first use (most tables never look a name up).
struct FieldLookup<'f> {
    fields: &'f [FieldFormat],
    map: Option<BTreeMap<&'f [u8], usize>>,
}

impl<'f> FieldLookup<'f> {
    fn new(fields: &'f [FieldFormat]) -> Self {
        FieldLookup { fields, map: None }
    }

    /// The index of the field called `name` (the first, if several are).
    fn get(&mut self, name: &[u8]) -> Option<usize> {
        let fields = self.fields;
        let map = self.map.get_or_insert_with(|| {
            let mut map = BTreeMap::new();
            for (i, f) in fields.iter().enumerate() {
                map.entry(f.name.as_bytes()).or_insert(i);
            }
            map
        });
        map.get(name).copied()
    }
}

/// A table element other than a record.
fn table_element(table: &mut DataTable, e: &Element<'_>, pos: Pos) -> Result<()> {
    let vpos = pos.inner(e.value_at);
    match e.name {
        // Read with the format.
        Some(b"F" | b"D" | b"N") => {}
        Some(b"C") => table.id = Some(parse_i64(e.value, "C", vpos)?),
        Some(b"Q") => table.quality = Some(parse_quality(e.value, vpos)?),
        Some(b"T") => {
            let ms = core::str::from_utf8(e.value).ok().and_then(date::parse);
            let Some(ms) = ms else {
                return Err(TableError::at(
                    ErrorKind::BadTimestamp {
                        text: excerpt(e.value),
                    },
                    vpos.at(0),
                ));
            };
            table.timestamp = Some(ms);
        }
        Some(b"I") => table.invalidation = Some(utf8(e.value, vpos)?),
        _ => table.unknown.push(raw(e, pos)?),
    }
    Ok(())
}

/// Which field a record element's value belongs to (`None`: none, and the element is
/// kept as unknown, under the name it was sent with; or it was the record id).
fn record_target(
    syntax: Syntax,
    record: &mut Record,
    lookup: &mut FieldLookup<'_>,
    names: &[&[u8]],
    positional: &mut usize,
    e: &Element<'_>,
    pos: Pos,
) -> Result<Option<usize>> {
    let (target, name) = match e.name {
        Some(b"I") => {
            record.id = Some(utf8(e.value, pos.inner(e.value_at))?);
            return Ok(None);
        }
        // A value by name: the SDK's compatibility form.
        Some(name) => (lookup.get(name), Some(name)),
        None => {
            let i = *positional;
            *positional += 1;
            if names.is_empty() {
                ((i < lookup.fields.len()).then_some(i), None)
            } else {
                let name = names.get(i).copied();
                (name.and_then(|n| lookup.get(n)), name)
            }
        }
    };
    if target.is_none() {
        record.unknown.push(RawElement {
            // A name from `N` can hold a name separator (it was an element's value);
            // such a value is kept without it.
            name: match name {
                Some(n) if !has_top_level_sep(n, syntax) => Some(utf8(n, pos.inner(e.at))?),
                _ => None,
            },
            value: utf8(e.value, pos.inner(e.value_at))?,
        });
    }
    Ok(target)
}

/// A value of any type but `T` (not NULL).
fn scalar(field: &FieldFormat, text: &[u8], pos: Pos) -> Result<Value> {
    let bad = || {
        TableError::at(
            ErrorKind::BadValue {
                field: field.name.clone(),
                field_type: field.field_type,
                text: excerpt(text),
            },
            pos.at(0),
        )
    };
    let plain = || core::str::from_utf8(text).map_err(|_| bad());
    Ok(match field.field_type {
        FieldType::String => Value::String(utf8(&unescape(text), pos)?),
        FieldType::Data => Value::Data(Box::new(data_block(field, &unescape(text), pos)?)),
        FieldType::Integer => Value::Integer(text::parse_int_field(plain()?).ok_or_else(bad)?),
        FieldType::Long => Value::Long(text::parse_long_field(plain()?).ok_or_else(bad)?),
        FieldType::Float => Value::Float(text::parse_float_field(plain()?).ok_or_else(bad)?),
        FieldType::Double => Value::Double(text::parse_double_field(plain()?).ok_or_else(bad)?),
        FieldType::Boolean => Value::Boolean(text::parse_bool_field(plain()?)),
        FieldType::Date => Value::Date(date::parse(plain()?).ok_or_else(bad)?),
        FieldType::Color => Value::Color(parse_color(plain()?).ok_or_else(bad)?),
        // Decoder::value sends tables elsewhere.
        FieldType::Table => Value::Null,
    })
}

/// Named elements of a field format the SDK reads (each only its first occurrence).
const FIELD_ELEMENTS: [&[u8]; 10] = [b"F", b"A", b"D", b"H", b"S", b"V", b"E", b"O", b"I", b"G"];

fn known_field_element(e: &Element<'_>) -> Option<usize> {
    FIELD_ELEMENTS.iter().position(|n| e.is(n))
}

/// The index of the first element of each of [`FIELD_ELEMENTS`].
fn first_of_each(els: &[Element<'_>]) -> [Option<usize>; 10] {
    let mut firsts = [None; 10];
    for (i, e) in els.iter().enumerate() {
        if let Some(slot @ None) = known_field_element(e).and_then(|k| firsts.get_mut(k)) {
            *slot = Some(i);
        }
    }
    firsts
}

/// A field's name, type and flags (flags first: they decide whether the default may
/// be NULL).
fn field_head(els: &[Element<'_>], pos: Pos) -> Result<FieldFormat> {
    // The first two elements are name and type.
    let name = match els.first() {
        // The SDK would take the value of a named one; no SDK writes one, and its name
        // would be lost.
        Some(e) if e.name.is_some() => {
            return Err(TableError::at(
                ErrorKind::BadFieldFormat("the field name element has a name"),
                pos.at(e.at),
            ));
        }
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
    if let Some(flags) = rest.iter().find(|e| e.is(b"F")) {
        for (flag, letter) in FieldFlags::LETTERS {
            if flags.value.contains(&letter) {
                field.flags = field.flags | flag;
            }
        }
    }
    if field.is_nullable() {
        field.default = Value::Null;
    }
    Ok(field)
}

/// A text property of a field (escaped once on the wire).
fn field_text(field: &mut FieldFormat, e: &Element<'_>, pos: Pos) -> Result<()> {
    let slot = match e.name {
        Some(b"D") => &mut field.description,
        Some(b"H") => &mut field.help,
        Some(b"E") => &mut field.editor,
        Some(b"O") => &mut field.editor_options,
        Some(b"I") => &mut field.icon,
        Some(b"G") => &mut field.group,
        // Flags: read with the name and type.
        _ => return Ok(()),
    };
    *slot = Some(utf8(&unescape(e.value), pos)?);
    Ok(())
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
