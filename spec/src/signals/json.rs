//! A small strict JSON reader (RFC 8259) that remembers where every value and key was
//! written, and a writer in the format of IOCOM's generated files.
//!
//! Signal maps are hand-written JSON, so an error or a warning must point at the line and
//! column of the offending key or value. [`JsonValue`] keeps a [`Pos`] for every value and
//! every key; a [`Pos`] also carries the [`Source`] it came from, so positions stay
//! meaningful after maps from several files have been merged.
//!
//! Strictness, on purpose: no comments, no trailing commas, no single quotes, no leading
//! zeros, no control characters inside strings, no lone UTF-16 surrogates in `\u`
//! escapes, no duplicate keys in one object, numbers whose value overflows a double
//! are rejected, and at most [`MAX_DEPTH`] nested objects and arrays. A leading UTF-8
//! byte-order mark is skipped. Numbers keep their text next to the parsed value
//! ([`JsonNumber`]), so `0.1`, `1e3` and `100` are never confused. The reader never
//! panics.
//!
//! The reader is built from nom 8 primitives for the lexical pieces (whitespace, digits,
//! literals, string runs, hex escapes) and a hand-written recursive descent for objects
//! and arrays, which reports precise messages ("expected `,` or `}` after an object
//! member, found `]`") at the offending character.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use nom::{
    IResult, Parser,
    bytes::complete::{tag, take_while, take_while_m_n},
    character::complete::{char as nom_char, digit1, multispace0, one_of},
    combinator::opt,
    error::{ErrorKind, ParseError},
};

/// Deepest nesting of objects and arrays accepted (the top-level value is depth 1).
pub const MAX_DEPTH: usize = 64;

/// A text a JSON value was read from: a label for messages (usually the file path) and
/// the text itself (for showing the offending line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// File name or other label, as shown in messages.
    pub label: String,
    /// The whole text.
    pub text: String,
}

impl Source {
    /// The text of the line that contains byte `offset`, without its line break.
    pub fn line_at(&self, offset: usize) -> Option<&str> {
        let text = self.text.as_str();
        let before = text.get(..offset)?;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let end = text
            .get(offset..)?
            .find('\n')
            .map_or(text.len(), |i| offset + i);
        let line = text.get(start..end)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    /// The text of line `line` (1-based), without its line break.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        let n = usize::try_from(line.checked_sub(1)?).ok()?;
        self.text
            .split('\n')
            .nth(n)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    }
}

/// Where a value or key was written. `line` and `column` are 1-based; the column counts
/// characters (not bytes). A value built in code (not read from text) has line 0 and no
/// source.
#[derive(Debug, Clone, Default)]
pub struct Pos {
    /// Line, from 1; 0 if unknown.
    pub line: u32,
    /// Column in characters, from 1; 0 if unknown.
    pub column: u32,
    /// Byte offset in the source text.
    pub offset: usize,
    /// The text this position refers to.
    pub source: Option<Arc<Source>>,
}

impl Pos {
    /// True if the position refers to real text.
    pub fn is_known(&self) -> bool {
        self.line > 0
    }

    /// The label of the source, or `default` for values built in code.
    pub fn label_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.source.as_deref().map_or(default, |s| s.label.as_str())
    }
}

/// Positions never make values unequal: `==` on [`JsonValue`] and on the signal-map model
/// compares what was written, not where. Compare `line` and `column` directly to test
/// positions.
impl PartialEq for Pos {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A JSON number: its text as written and its value.
#[derive(Debug, Clone)]
pub struct JsonNumber {
    /// The text as written (`"1e3"`, `"-0.5"`, `"100"`).
    pub text: String,
    /// The value, if the text is an integer literal (no fraction, no exponent) that fits
    /// in an `i64`.
    pub int: Option<i64>,
    /// The value as a double (always finite).
    pub float: f64,
}

impl JsonNumber {
    /// An integer number.
    pub fn from_i64(v: i64) -> Self {
        JsonNumber {
            text: v.to_string(),
            int: Some(v),
            float: v as f64,
        }
    }

    /// The value as a non-negative integer that fits `usize`.
    pub fn as_usize(&self) -> Option<usize> {
        self.int.and_then(|i| usize::try_from(i).ok())
    }
}

/// Two numbers are equal when both are integer literals of the same value, or both are
/// not and have the same double value (`1.0` = `1.00`, but `1` ≠ `1.0` and `1e3` ≠
/// `1000`: packed JSON stores them differently).
impl PartialEq for JsonNumber {
    fn eq(&self, other: &Self) -> bool {
        match (self.int, other.int) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.float == other.float,
            _ => false,
        }
    }
}

/// One member of an object.
#[derive(Debug, Clone)]
pub struct JsonMember {
    /// The key.
    pub key: String,
    /// Where the key (its opening quote) was written.
    pub key_pos: Pos,
    /// The value.
    pub value: JsonValue,
}

/// What a [`JsonValue`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Number(JsonNumber),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object; members in document order, keys unique.
    Object(Vec<JsonMember>),
}

/// A JSON value and where it was written.
///
/// Equality (`==`) compares the values only, ignoring positions; object members are
/// compared in order.
#[derive(Debug, Clone)]
pub struct JsonValue {
    /// The value.
    pub kind: JsonKind,
    /// Where it starts.
    pub pos: Pos,
}

impl PartialEq for JsonMember {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}

impl PartialEq for JsonValue {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl JsonValue {
    /// A value without a position (built in code).
    pub fn new(kind: JsonKind) -> Self {
        JsonValue {
            kind,
            pos: Pos::default(),
        }
    }

    /// A string value without a position.
    pub fn string(s: impl Into<String>) -> Self {
        Self::new(JsonKind::String(s.into()))
    }

    /// An integer value without a position.
    pub fn int(v: i64) -> Self {
        Self::new(JsonKind::Number(JsonNumber::from_i64(v)))
    }

    /// An object without a position from `(key, value)` pairs.
    pub fn object(members: impl IntoIterator<Item = (String, JsonValue)>) -> Self {
        Self::new(JsonKind::Object(
            members
                .into_iter()
                .map(|(key, value)| JsonMember {
                    key,
                    key_pos: Pos::default(),
                    value,
                })
                .collect(),
        ))
    }

    /// Parses JSON text. `label` names the text in positions and messages.
    pub fn parse(label: &str, text: &str) -> Result<JsonValue, super::SignalMapError> {
        parse_source(Arc::new(Source {
            label: label.to_string(),
            text: text.to_string(),
        }))
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[JsonMember]> {
        match &self.kind {
            JsonKind::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[JsonValue]> {
        match &self.kind {
            JsonKind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            JsonKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of member `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        self.as_object()?
            .iter()
            .find(|m| m.key == key)
            .map(|m| &m.value)
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, JsonKind::Null)
    }

    /// A short description for messages: `string "5"`, `number 2.5`, `an array`, ...
    pub fn describe(&self) -> String {
        match &self.kind {
            JsonKind::Null => "null".to_string(),
            JsonKind::Bool(b) => b.to_string(),
            JsonKind::Number(n) => format!("number {}", n.text),
            JsonKind::String(s) => {
                let mut shown = String::new();
                write_string(&mut shown, &truncate_chars(s, 40));
                format!("string {shown}")
            }
            JsonKind::Array(_) => "an array".to_string(),
            JsonKind::Object(_) => "an object".to_string(),
        }
    }

    /// The JSON text, pretty-printed like Python's `json.dumps(v, indent=4)`, the format
    /// of IOCOM's merged signal maps: 4-space indentation, `": "` after keys, `[]`/`{}`
    /// for empty containers, numbers as written, non-ASCII characters as `\uXXXX`.
    pub fn to_pretty_string(&self) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out, 0);
        out
    }

    fn write_pretty(&self, out: &mut String, indent: usize) {
        match &self.kind {
            JsonKind::Null => out.push_str("null"),
            JsonKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            JsonKind::Number(n) => out.push_str(&n.text),
            JsonKind::String(s) => write_string(out, s),
            JsonKind::Array(a) if a.is_empty() => out.push_str("[]"),
            JsonKind::Array(a) => {
                out.push('[');
                for (n, v) in a.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    newline(out, indent + 1);
                    v.write_pretty(out, indent + 1);
                }
                newline(out, indent);
                out.push(']');
            }
            JsonKind::Object(m) if m.is_empty() => out.push_str("{}"),
            JsonKind::Object(m) => {
                out.push('{');
                for (n, member) in m.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    newline(out, indent + 1);
                    write_string(out, &member.key);
                    out.push_str(": ");
                    member.value.write_pretty(out, indent + 1);
                }
                newline(out, indent);
                out.push('}');
            }
        }
    }
}

impl fmt::Display for JsonValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_pretty_string())
    }
}

fn truncate_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    for _ in 0..indent {
        out.push_str("    ");
    }
}

/// A JSON string literal with Python's `ensure_ascii` escaping (shared with the packed
/// JSON code, which writes the same text form).
pub(crate) fn write_string(out: &mut String, s: &str) {
    ferrocom_core::packed_json::write_json_string(out, s);
}

// ---------------------------------------------------------------------------------------
// Reader

/// A syntax error: where (as the remaining input length) and what.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    /// Length of the input that was left at the error (offset = text length − this).
    rest_len: usize,
    message: String,
    /// An earlier position that explains the error (the first of two duplicate keys).
    note: Option<(Pos, String)>,
}

impl<'a> ParseError<&'a str> for SyntaxError {
    fn from_error_kind(input: &'a str, kind: ErrorKind) -> Self {
        SyntaxError {
            rest_len: input.len(),
            message: format!("invalid JSON ({kind:?})"),
            note: None,
        }
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = IResult<&'a str, T, SyntaxError>;

fn fail<T>(at: &str, message: impl Into<String>) -> PResult<'_, T> {
    Err(nom::Err::Failure(SyntaxError {
        rest_len: at.len(),
        message: message.into(),
        note: None,
    }))
}

/// What the input starts with, for "found ..." in messages.
fn found(rest: &str) -> String {
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '-')
        .take(20)
        .collect();
    if !word.is_empty() {
        return format!("`{word}`");
    }
    match rest.chars().next() {
        None => "the end of the file".to_string(),
        Some('"') => "a string".to_string(),
        Some(c) if c.is_control() => format!("control character U+{:04X}", u32::from(c)),
        Some(c) => format!("`{c}`"),
    }
}

/// Parser state: the source, and an incremental line/column counter (positions are
/// asked for in increasing order, so computing them is linear in the text length).
struct Ctx<'t> {
    text: &'t str,
    source: Arc<Source>,
    /// (byte offset, line, column) of the last computed position.
    last: Cell<(usize, u32, u32)>,
}

impl Ctx<'_> {
    fn offset_of(&self, rest: &str) -> usize {
        self.text.len().saturating_sub(rest.len())
    }

    fn pos_at(&self, offset: usize) -> Pos {
        let (mut from, mut line, mut column) = self.last.get();
        if offset < from {
            (from, line, column) = (0, 1, 1);
        }
        let between = self.text.get(from..offset).unwrap_or("");
        for c in between.chars() {
            if c == '\n' {
                line = line.saturating_add(1);
                column = 1;
            } else {
                column = column.saturating_add(1);
            }
        }
        self.last.set((offset, line, column));
        Pos {
            line,
            column,
            offset,
            source: Some(self.source.clone()),
        }
    }

    fn pos(&self, rest: &str) -> Pos {
        self.pos_at(self.offset_of(rest))
    }
}

/// Parses the text of `source`.
pub(crate) fn parse_source(source: Arc<Source>) -> Result<JsonValue, super::SignalMapError> {
    let text = source.text.as_str();
    let ctx = Ctx {
        text,
        source: source.clone(),
        last: Cell::new((0, 1, 1)),
    };
    let start = text.strip_prefix('\u{feff}').unwrap_or(text);
    match document(&ctx, start) {
        Ok(v) => Ok(v),
        Err(e) => {
            let pos = ctx.pos_at(text.len().saturating_sub(e.rest_len));
            let mut err = super::SignalMapError::at(&pos, e.message);
            if let Some((p, m)) = e.note {
                err = err.with_note(&p, m);
            }
            Err(err)
        }
    }
}

fn document(ctx: &Ctx<'_>, i: &str) -> Result<JsonValue, SyntaxError> {
    let run = || -> PResult<'_, JsonValue> {
        let (i, _) = ws(i)?;
        if i.is_empty() {
            return fail(i, "expected a JSON value, found the end of the file");
        }
        let (i, v) = value(ctx, i, 1)?;
        let (i, _) = ws(i)?;
        if !i.is_empty() {
            return fail(i, format!("unexpected {} after the JSON value", found(i)));
        }
        Ok((i, v))
    };
    match run() {
        Ok((_, v)) => Ok(v),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(SyntaxError {
            rest_len: 0,
            message: "unexpected end of the file".into(),
            note: None,
        }),
    }
}

/// JSON whitespace: space, tab, line feed, carriage return (exactly nom's multispace).
fn ws(i: &str) -> PResult<'_, &str> {
    multispace0(i)
}

fn value<'a>(ctx: &Ctx<'_>, i: &'a str, depth: usize) -> PResult<'a, JsonValue> {
    let pos = ctx.pos(i);
    let Some(first) = i.chars().next() else {
        return fail(i, "expected a JSON value, found the end of the file");
    };
    match first {
        '{' | '[' if depth > MAX_DEPTH => fail(
            i,
            format!("objects and arrays nest deeper than {MAX_DEPTH} levels"),
        ),
        '{' => object(ctx, i, pos, depth),
        '[' => array(ctx, i, pos, depth),
        '"' => {
            let (i, s) = string(i)?;
            Ok((
                i,
                JsonValue {
                    kind: JsonKind::String(s),
                    pos,
                },
            ))
        }
        '-' | '0'..='9' => {
            let (i, n) = number(i)?;
            Ok((
                i,
                JsonValue {
                    kind: JsonKind::Number(n),
                    pos,
                },
            ))
        }
        _ => {
            for (word, kind) in [
                ("null", JsonKind::Null),
                ("true", JsonKind::Bool(true)),
                ("false", JsonKind::Bool(false)),
            ] {
                if let Ok((rest, _)) = tag::<_, _, SyntaxError>(word)(i) {
                    if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                        break;
                    }
                    return Ok((rest, JsonValue { kind, pos }));
                }
            }
            let hint = if first == '\'' {
                " (JSON strings use double quotes)"
            } else if i.starts_with("//") || i.starts_with("/*") {
                " (JSON has no comments)"
            } else {
                ""
            };
            fail(
                i,
                format!("expected a JSON value, found {}{hint}", found(i)),
            )
        }
    }
}

fn object<'a>(ctx: &Ctx<'_>, i: &'a str, pos: Pos, depth: usize) -> PResult<'a, JsonValue> {
    let (mut i, _) = nom_char('{').parse(i)?;
    let mut members: Vec<JsonMember> = Vec::new();
    let (rest, _) = ws(i)?;
    if let Ok((rest, _)) = nom_char::<_, SyntaxError>('}').parse(rest) {
        return Ok((
            rest,
            JsonValue {
                kind: JsonKind::Object(members),
                pos,
            },
        ));
    }
    let mut comma = i;
    loop {
        let (rest, _) = ws(i)?;
        i = rest;
        if !i.starts_with('"') {
            if i.starts_with('}') && !members.is_empty() {
                return fail(comma, "trailing comma before `}`");
            }
            return fail(i, format!("expected a quoted key, found {}", found(i)));
        }
        let key_pos = ctx.pos(i);
        let key_start = i;
        let (rest, key) = string(i)?;
        if let Some(first) = members.iter().find(|m| m.key == key) {
            return Err(nom::Err::Failure(SyntaxError {
                rest_len: key_start.len(),
                message: format!("duplicate key `{key}` in this object"),
                note: Some((first.key_pos.clone(), format!("`{key}` first defined here"))),
            }));
        }
        let (rest, _) = ws(rest)?;
        let Ok((rest, _)) = nom_char::<_, SyntaxError>(':').parse(rest) else {
            return fail(
                rest,
                format!("expected `:` after the key `{key}`, found {}", found(rest)),
            );
        };
        let (rest, _) = ws(rest)?;
        let (rest, v) = value(ctx, rest, depth + 1)?;
        members.push(JsonMember {
            key,
            key_pos,
            value: v,
        });
        let (rest, _) = ws(rest)?;
        if let Ok((after, _)) = nom_char::<_, SyntaxError>(',').parse(rest) {
            comma = rest;
            i = after;
            continue;
        }
        if let Ok((rest, _)) = nom_char::<_, SyntaxError>('}').parse(rest) {
            return Ok((
                rest,
                JsonValue {
                    kind: JsonKind::Object(members),
                    pos,
                },
            ));
        }
        return fail(
            rest,
            format!(
                "expected `,` or `}}` after an object member, found {}",
                found(rest)
            ),
        );
    }
}

fn array<'a>(ctx: &Ctx<'_>, i: &'a str, pos: Pos, depth: usize) -> PResult<'a, JsonValue> {
    let (mut i, _) = nom_char('[').parse(i)?;
    let mut elements = Vec::new();
    let (rest, _) = ws(i)?;
    if let Ok((rest, _)) = nom_char::<_, SyntaxError>(']').parse(rest) {
        return Ok((
            rest,
            JsonValue {
                kind: JsonKind::Array(elements),
                pos,
            },
        ));
    }
    let mut comma = i;
    loop {
        let (rest, _) = ws(i)?;
        if rest.starts_with(']') && !elements.is_empty() {
            return fail(comma, "trailing comma before `]`");
        }
        let (rest, v) = value(ctx, rest, depth + 1)?;
        elements.push(v);
        let (rest, _) = ws(rest)?;
        if let Ok((after, _)) = nom_char::<_, SyntaxError>(',').parse(rest) {
            comma = rest;
            i = after;
            continue;
        }
        if let Ok((rest, _)) = nom_char::<_, SyntaxError>(']').parse(rest) {
            return Ok((
                rest,
                JsonValue {
                    kind: JsonKind::Array(elements),
                    pos,
                },
            ));
        }
        return fail(
            rest,
            format!(
                "expected `,` or `]` after an array element, found {}",
                found(rest)
            ),
        );
    }
}

fn number(i: &str) -> PResult<'_, JsonNumber> {
    let start = i;
    let (i, _) = opt(nom_char('-')).parse(i)?;
    let Ok((i, int_digits)) = digit1::<_, SyntaxError>(i) else {
        return fail(i, format!("expected a digit after `-`, found {}", found(i)));
    };
    if int_digits.len() > 1 && int_digits.starts_with('0') {
        return fail(start, "leading zeros are not allowed in JSON numbers");
    }
    let mut integer = true;
    let mut i = i;
    if let Ok((rest, _)) = nom_char::<_, SyntaxError>('.').parse(i) {
        let Ok((rest, _)) = digit1::<_, SyntaxError>(rest) else {
            return fail(rest, "expected a digit after the decimal point");
        };
        integer = false;
        i = rest;
    }
    if let Ok((rest, _)) = one_of::<_, _, SyntaxError>("eE").parse(i) {
        let (rest, _) = opt(one_of("+-")).parse(rest)?;
        let Ok((rest, _)) = digit1::<_, SyntaxError>(rest) else {
            return fail(rest, "expected a digit in the exponent");
        };
        integer = false;
        i = rest;
    }
    let text = start.get(..start.len() - i.len()).unwrap_or("");
    let float: f64 = match text.parse() {
        Ok(f) if f64::is_finite(f) => f,
        _ => return fail(start, format!("number {text} is out of range")),
    };
    let int = if integer { text.parse().ok() } else { None };
    Ok((
        i,
        JsonNumber {
            text: text.to_string(),
            int,
            float,
        },
    ))
}

fn hex4(i: &str) -> PResult<'_, u32> {
    match take_while_m_n::<_, _, SyntaxError>(4, 4, |c: char| c.is_ascii_hexdigit())(i) {
        Ok((rest, h)) => Ok((rest, u32::from_str_radix(h, 16).unwrap_or(0))),
        Err(_) => fail(i, "expected 4 hex digits after `\\u`"),
    }
}

/// A string literal, at its opening quote.
fn string(i: &str) -> PResult<'_, String> {
    let open = i;
    let (mut i, _) = nom_char('"').parse(i)?;
    let mut out = String::new();
    loop {
        let (rest, run) = take_while(|c: char| c != '"' && c != '\\' && u32::from(c) >= 0x20)(i)?;
        out.push_str(run);
        i = rest;
        let Some(c) = i.chars().next() else {
            return fail(open, "unterminated string (no closing `\"`)");
        };
        match c {
            '"' => return Ok((&i[1..], out)),
            '\\' => {
                let esc = &i[1..];
                let decoded = match esc.chars().next() {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('/') => '/',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('u') => {
                        let (rest, hi) = hex4(&esc[1..])?;
                        let (rest, cp) = if (0xD800..0xDC00).contains(&hi) {
                            let low = tag::<_, _, SyntaxError>("\\u")(rest)
                                .ok()
                                .and_then(|(r, _)| hex4(r).ok())
                                .filter(|(_, lo)| (0xDC00..0xE000).contains(lo));
                            match low {
                                Some((rest, lo)) => {
                                    (rest, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                }
                                None => {
                                    return fail(
                                        i,
                                        format!(
                                            "lone UTF-16 surrogate `\\u{hi:04X}` (a high surrogate must be followed by a low one)"
                                        ),
                                    );
                                }
                            }
                        } else if (0xDC00..0xE000).contains(&hi) {
                            return fail(i, format!("lone UTF-16 surrogate `\\u{hi:04X}`"));
                        } else {
                            (rest, hi)
                        };
                        match char::from_u32(cp) {
                            Some(ch) => out.push(ch),
                            None => return fail(i, "invalid `\\u` escape"),
                        }
                        i = rest;
                        continue;
                    }
                    Some(other) => {
                        return fail(
                            i,
                            format!(
                                "invalid escape `\\{other}` (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"
                            ),
                        );
                    }
                    None => return fail(open, "unterminated string (no closing `\"`)"),
                };
                out.push(decoded);
                i = &esc[decoded_len(esc)..];
            }
            other => {
                let hint = match other {
                    '\n' => " (a string cannot span lines; write \\n)",
                    '\t' => " (write \\t)",
                    _ => "",
                };
                return fail(
                    i,
                    format!(
                        "control character U+{:04X} in a string{hint}",
                        u32::from(other)
                    ),
                );
            }
        }
    }
}

/// Byte length of the (ASCII) escape character at the start of `s`.
fn decoded_len(s: &str) -> usize {
    s.chars().next().map_or(0, char::len_utf8)
}

/// Width in characters of the token at `offset` of `text`, for the `^^^` marker: a whole
/// string literal, number or word on that line; 1 otherwise.
pub(crate) fn token_width(text: &str, offset: usize) -> usize {
    let Some(rest) = text.get(offset..) else {
        return 1;
    };
    let line = rest.split('\n').next().unwrap_or("");
    let mut chars = line.chars();
    match chars.next() {
        Some('"') => {
            let mut n = 1;
            let mut escaped = false;
            for c in chars {
                n += 1;
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    return n;
                }
            }
            1
        }
        Some(c) if c.is_alphanumeric() || c == '-' || c == '_' => {
            1 + chars
                .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '+' | '.' | '_'))
                .count()
        }
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<JsonValue, crate::signals::SignalMapError> {
        JsonValue::parse("t.json", text)
    }

    #[test]
    fn escapes_and_surrogate_pairs() {
        let v = parse(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#).unwrap();
        assert_eq!(v.as_str(), Some("a\"b\\c/d\u{8}\u{c}\n\r\té😀"));
        // Written back with Python's ensure_ascii escaping, and read again.
        let text = v.to_pretty_string();
        assert_eq!(text, r#""a\"b\\c/d\b\f\n\r\t\u00e9\ud83d\ude00""#);
        assert_eq!(parse(&text).unwrap(), v);
        assert!(parse(r#""\ude00""#).is_err());
        assert!(parse(r#""\ud83dx""#).is_err());
        assert!(parse(r#""\u12""#).is_err());
    }

    #[test]
    fn numbers() {
        let n = |t: &str| match parse(t).unwrap().kind {
            JsonKind::Number(n) => n,
            other => panic!("{other:?}"),
        };
        let x = n("-0");
        assert_eq!((x.int, x.float), (Some(0), 0.0));
        let x = n("9223372036854775808");
        assert_eq!(x.int, None);
        assert_eq!(x.float, 9.223_372_036_854_776e18);
        let x = n("1E+2");
        assert_eq!((x.text.as_str(), x.int, x.float), ("1E+2", None, 100.0));
        assert_eq!(n("1.0"), n("1.00"));
        assert_ne!(n("1"), n("1.0"));
        for bad in [
            "-", "1.", ".5", "1e", "+1", "01", "-01", "0x10", "NaN", "Infinity",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nesting_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = parse(&deep).unwrap_err();
        assert_eq!((e.line, e.column), (1, 65));
    }

    #[test]
    fn positions_of_values_and_keys() {
        let v = parse("\u{feff}{\n  \"é\": [1,\n    true], \"k\": null}").unwrap();
        let m = v.as_object().unwrap();
        assert_eq!((m[0].key_pos.line, m[0].key_pos.column), (2, 3));
        let a = m[0].value.as_array().unwrap();
        assert_eq!((m[0].value.pos.line, m[0].value.pos.column), (2, 8));
        assert_eq!((a[1].pos.line, a[1].pos.column), (3, 5));
        assert_eq!((m[1].key_pos.line, m[1].key_pos.column), (3, 12));
        assert!(m[1].value.is_null());
    }

    #[test]
    fn strictness() {
        for bad in [
            "{} {}",
            "{\"a\" 1}",
            "{\"a\":}",
            "[1 2]",
            "{,}",
            "[,]",
            "'x'",
            "\"a\tb\"",
            "nul",
            "{\"a\":1,\"a\":2}",
            "/* c */ {}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(" \t\r\n{ } \n").is_ok());
    }

    #[test]
    fn token_widths() {
        assert_eq!(token_width(r#"x "ab\"c" y"#, 2), 7);
        assert_eq!(token_width("-12.5e3,", 0), 7);
        assert_eq!(token_width("{", 0), 1);
        assert_eq!(token_width("\"open", 0), 1);
    }
}
