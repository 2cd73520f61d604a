//! Encoding: tables, formats and values to text (§5), byte for byte as the SDK.

use alloc::vec::Vec;
use core::fmt::Write as _;

use ferrocom_core::transforms::transfer;

use super::elements::{has_top_level_sep, is_balanced};
use super::error::{ErrorKind, TableError};
use super::{
    DataBlock, DataTable, EncodeOptions, FieldFlags, FieldFormat, FieldType, RawElement,
    SelectionValue, Syntax, TableFlags, TableFormat, Value, Version, date, text,
};

type Result<T> = core::result::Result<T, TableError>;

fn unencodable(what: &'static str) -> TableError {
    TableError::encode(ErrorKind::Unencodable(what))
}

/// Appends the decimal text of an integer.
fn push_int(out: &mut Vec<u8>, v: impl core::fmt::Display) {
    struct Out<'a>(&'a mut Vec<u8>);
    impl core::fmt::Write for Out<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let _ = write!(Out(out), "{v}");
}

pub(crate) struct Encoder {
    syntax: Syntax,
    version: Version,
    max_depth: usize,
    field_names: bool,
    max_len: usize,
    /// Where this encoding starts in the output buffer.
    start: usize,
}

/// The limit check on the encoding's length.
pub(crate) fn check_len(len: usize, limit: usize) -> Result<()> {
    if len > limit {
        Err(TableError::encode(ErrorKind::TooLarge { limit }))
    } else {
        Ok(())
    }
}

impl Encoder {
    pub(crate) fn new(options: &EncodeOptions, start: usize) -> Self {
        Encoder {
            syntax: options.syntax,
            version: options.version,
            max_depth: options.max_depth.min(super::MAX_DEPTH_CEILING),
            field_names: options.field_names,
            max_len: options.max_len,
            start,
        }
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > self.max_depth {
            Err(TableError::encode(ErrorKind::TooDeep {
                limit: self.max_depth,
            }))
        } else {
            Ok(())
        }
    }

    fn start(&self, out: &mut Vec<u8>, name: Option<&[u8]>) {
        out.push(self.syntax.start());
        if let Some(n) = name {
            out.extend_from_slice(n);
            out.push(self.syntax.sep());
        }
    }

    fn end(&self, out: &mut Vec<u8>) {
        out.push(self.syntax.end());
    }

    /// Text written as it is (names, ids, expressions). It must keep the element's
    /// shape: brackets balanced, so the element ends where it should, and, where it is
    /// a name or an unnamed value, no name separator outside brackets. (Decoded text
    /// always passes: that is how the decoder found it.)
    fn raw_text(
        &self,
        text: &str,
        unnamed: bool,
        what: &'static str,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let bytes = text.as_bytes();
        if !is_balanced(bytes, self.syntax) || (unnamed && has_top_level_sep(bytes, self.syntax)) {
            return Err(unencodable(what));
        }
        out.extend_from_slice(bytes);
        Ok(())
    }

    /// A named element whose value is plain text.
    fn raw_element(
        &self,
        name: &[u8],
        text: &str,
        what: &'static str,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        self.start(out, Some(name));
        self.raw_text(text, false, what, out)?;
        self.end(out);
        Ok(())
    }

    /// Elements kept as text, written back as they came.
    fn raw_elements(&self, list: &[RawElement], out: &mut Vec<u8>) -> Result<()> {
        for e in list {
            out.push(self.syntax.start());
            if let Some(name) = &e.name {
                self.raw_text(name, true, "element name would not read back", out)?;
                out.push(self.syntax.sep());
            }
            self.raw_text(
                &e.value,
                e.name.is_none(),
                "element value would not read back",
                out,
            )?;
            self.end(out);
        }
        Ok(())
    }

    /// Text escaped once, which must come out different from NULL and, in the visible
    /// syntax, free of its separators (the escaping covers only the invisible ones).
    fn escaped(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let from = out.len();
        transfer::encode_level(bytes, 1, out);
        let written = out.get(from..).unwrap_or_default();
        if written == self.syntax.null() {
            return Err(unencodable("value is the NULL marker"));
        }
        if self.syntax == Syntax::Visible
            && written.iter().any(|&b| matches!(b, b'<' | b'>' | b'='))
        {
            return Err(unencodable("value holds '<', '>' or '=' (visible syntax)"));
        }
        Ok(())
    }

    // ----- tables ------------------------------------------------------------------------

    pub(crate) fn table(
        &self,
        table: &DataTable,
        include_format: bool,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        self.check_depth(depth)?;
        if include_format {
            self.start(out, Some(b"F"));
            self.format(&table.format, depth, out)?;
            self.end(out);
        }
        // With its format the id defines it for the receiver; alone (the outermost
        // table, sent without its format) it names a format the receiver cached. A
        // nested table whose format is left out needs neither: the receiver takes its
        // field's default.
        if let Some(id) = table.format_id.filter(|_| include_format || depth == 1) {
            self.start(out, Some(b"D"));
            push_int(out, id);
            self.end(out);
        }
        if self.field_names {
            for f in &table.format.fields {
                self.raw_element(b"N", &f.name, "field name would not read back", out)?;
            }
        }
        for record in &table.records {
            self.start(out, Some(b"R"));
            if let Some(id) = &record.id {
                self.raw_element(b"I", id, "record id would not read back", out)?;
            }
            let fields = &table.format.fields;
            if record.values.len() > fields.len() {
                return Err(TableError::encode(ErrorKind::TooManyValues {
                    fields: fields.len(),
                    values: record.values.len(),
                }));
            }
            for (i, field) in fields.iter().enumerate() {
                // A value the record leaves out is sent as the sender's SDK would: the
                // default, or NULL under the default-override flag.
                let value = match record.values.get(i) {
                    Some(v) => v,
                    None if field.flags.contains(FieldFlags::DEFAULT_OVERRIDE) => &Value::Null,
                    None => &field.default,
                };
                self.start(out, None);
                self.value(field, value, false, depth, out)?;
                self.end(out);
            }
            self.raw_elements(&record.unknown, out)?;
            self.end(out);
        }
        if let Some(id) = table.id {
            self.start(out, Some(b"C"));
            push_int(out, id);
            self.end(out);
        }
        if let Some(q) = table.quality {
            self.start(out, Some(b"Q"));
            push_int(out, q);
            self.end(out);
        }
        if let Some(ts) = table.timestamp {
            self.start(out, Some(b"T"));
            date::format(ts, out);
            self.end(out);
        }
        if let Some(msg) = &table.invalidation {
            self.raw_element(b"I", msg, "invalidation message would not read back", out)?;
        }
        self.raw_elements(&table.unknown, out)
    }

    // ----- values ------------------------------------------------------------------------

    /// A value of `field` as it stands in an element. `in_format`: the value is a
    /// default or selection value inside a format, where a nested table always carries
    /// its own format.
    fn value(
        &self,
        field: &FieldFormat,
        value: &Value,
        in_format: bool,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match (field.field_type, value) {
            (_, Value::Null) => out.extend_from_slice(self.syntax.null()),
            (FieldType::String, Value::String(s)) => self.escaped(s.as_bytes(), out)?,
            (FieldType::Integer, Value::Integer(v)) => push_int(out, v),
            (FieldType::Long, Value::Long(v)) => push_int(out, v),
            (FieldType::Float, Value::Float(v)) => text::write_float(*v, out),
            (FieldType::Double, Value::Double(v)) => text::write_double(*v, out),
            (FieldType::Date, Value::Date(ms)) => date::format(*ms, out),
            (FieldType::Boolean, Value::Boolean(b)) => out.push(if *b { b'1' } else { b'0' }),
            (FieldType::Color, Value::Color(c)) => {
                out.push(b'#');
                for byte in [c.r, c.g, c.b, c.a] {
                    out.push(HEX[usize::from(byte >> 4)]);
                    out.push(HEX[usize::from(byte & 15)]);
                }
            }
            (FieldType::Data, Value::Data(block)) => self.data_block(block, out)?,
            (FieldType::Table, Value::Table(t)) => {
                // The format goes along unless the receiver has it: the field's default
                // is a table of the very same format.
                let include = in_format
                    || match &field.default {
                        Value::Table(d) => d.format.fields.is_empty() || d.format != t.format,
                        _ => true,
                    };
                match self.version {
                    Version::V4 => self.table(t, include, depth + 1, out)?,
                    Version::V2 | Version::V3 => {
                        let mut nested = Vec::new();
                        self.table(t, include, depth + 1, &mut nested)?;
                        // Escaping again is where the size can run away: check first.
                        let so_far = out.len().saturating_sub(self.start);
                        check_len(
                            so_far.saturating_add(transfer::encoded_len(&nested)),
                            self.max_len,
                        )?;
                        transfer::encode_level(&nested, 1, out);
                    }
                }
            }
            _ => {
                return Err(TableError::encode(ErrorKind::WrongValueType {
                    field: field.name.clone(),
                    expected: field.field_type,
                }));
            }
        }
        Ok(())
    }

    /// `0/<id or SUB>/<name or SUB>/<preview length or -1>/<data length or -1>/` and the
    /// bytes as the characters U+0000 to U+00FF, all escaped once.
    fn data_block(&self, block: &DataBlock, out: &mut Vec<u8>) -> Result<()> {
        let mut text = Vec::new();
        text.extend_from_slice(b"0/");
        match block.id {
            Some(id) => push_int(&mut text, id),
            None => text.push(0x1A),
        }
        text.push(b'/');
        match &block.name {
            Some(n) if n.contains('/') => {
                return Err(unencodable("data block name holds '/'"));
            }
            Some(n) if n == "\u{1a}" => {
                return Err(unencodable("data block name is the NULL marker"));
            }
            Some(n) => text.extend_from_slice(n.as_bytes()),
            None => text.push(0x1A),
        }
        for part in [&block.preview, &block.data] {
            text.push(b'/');
            match part {
                Some(bytes) => push_int(&mut text, bytes.len()),
                None => text.extend_from_slice(b"-1"),
            }
        }
        text.push(b'/');
        for bytes in [&block.preview, &block.data].into_iter().flatten() {
            for &b in bytes {
                if b < 0x80 {
                    text.push(b);
                } else {
                    // The byte as the character U+0080..U+00FF, in UTF-8.
                    text.push(0xC0 | (b >> 6));
                    text.push(0x80 | (b & 0x3F));
                }
            }
        }
        self.escaped(&text, out)
    }

    // ----- formats -----------------------------------------------------------------------

    pub(crate) fn format(
        &self,
        format: &TableFormat,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        self.check_depth(depth)?;
        for field in &format.fields {
            self.start(out, None);
            self.field(field, depth, out)?;
            self.end(out);
        }
        if format.min_records != 0 {
            self.start(out, Some(b"M"));
            push_int(out, format.min_records);
            self.end(out);
        }
        if format.max_records != i32::MAX {
            self.start(out, Some(b"X"));
            push_int(out, format.max_records);
            self.end(out);
        }
        for (name, list) in [
            (b"V", &format.table_validators),
            (b"R", &format.record_validators),
            (b"B", &format.bindings),
        ] {
            if !list.is_empty() {
                self.start(out, Some(name));
                self.raw_elements(list, out)?;
                self.end(out);
            }
        }
        if let Some(naming) = format.naming.as_deref().filter(|n| !n.is_empty()) {
            self.raw_element(b"N", naming, "naming expression would not read back", out)?;
        }
        if format.unknown.iter().any(|e| e.name.is_none()) {
            return Err(unencodable(
                "unnamed element in a table format reads as a field",
            ));
        }
        let mut flags = Vec::new();
        for (flag, letter) in TableFlags::LETTERS {
            if format.flags.contains(flag) {
                flags.push(letter);
            }
        }
        if !flags.is_empty() {
            self.start(out, Some(b"F"));
            out.extend_from_slice(&flags);
            self.end(out);
        }
        self.raw_elements(&format.unknown, out)
    }

    pub(crate) fn field(&self, field: &FieldFormat, depth: usize, out: &mut Vec<u8>) -> Result<()> {
        self.start(out, None);
        self.raw_text(&field.name, true, "field name would not read back", out)?;
        self.end(out);
        self.start(out, None);
        let mut code = [0u8; 4];
        out.extend_from_slice(field.field_type.code().encode_utf8(&mut code).as_bytes());
        self.end(out);

        let mut flags = Vec::new();
        for (flag, letter) in FieldFlags::LETTERS {
            if field.flags.contains(flag) {
                flags.push(letter);
            }
        }
        if !flags.is_empty() {
            self.start(out, Some(b"F"));
            out.extend_from_slice(&flags);
            self.end(out);
        }

        // The SDK always sends the default.
        self.start(out, Some(b"A"));
        self.value(field, &field.default, true, depth, out)?;
        self.end(out);

        self.text_element(b"D", field.description.as_deref(), false, out)?;
        self.text_element(b"H", field.help.as_deref(), false, out)?;
        if !field.selection_values.is_empty() {
            self.start(out, Some(b"S"));
            for SelectionValue { value, description } in &field.selection_values {
                out.push(self.syntax.start());
                if let Some(d) = description {
                    self.raw_text(
                        d,
                        true,
                        "selection value description would not read back",
                        out,
                    )?;
                    out.push(self.syntax.sep());
                }
                self.value(field, value, true, depth, out)?;
                self.end(out);
            }
            self.end(out);
        }
        if !field.validators.is_empty() {
            self.start(out, Some(b"V"));
            self.raw_elements(&field.validators, out)?;
            self.end(out);
        }
        self.text_element(b"E", field.editor.as_deref(), false, out)?;
        self.text_element(b"O", field.editor_options.as_deref(), true, out)?;
        self.text_element(b"I", field.icon.as_deref(), false, out)?;
        self.text_element(b"G", field.group.as_deref(), false, out)?;
        self.raw_elements(&field.unknown, out)
    }

    /// A text property of a field, escaped once; empty ones are left out unless
    /// `send_empty`.
    fn text_element(
        &self,
        name: &[u8],
        text: Option<&str>,
        send_empty: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match text {
            Some(t) if send_empty || !t.is_empty() => {
                self.start(out, Some(name));
                let from = out.len();
                transfer::encode_level(t.as_bytes(), 1, out);
                // The escapes of the invisible separators are `%<`, `%>`, `%=`: visible
                // separators too.
                if self.syntax == Syntax::Visible
                    && out
                        .get(from..)
                        .is_some_and(|w| w.iter().any(|&b| matches!(b, b'<' | b'>' | b'=')))
                {
                    return Err(unencodable("text holds '<', '>' or '=' (visible syntax)"));
                }
                self.end(out);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";
