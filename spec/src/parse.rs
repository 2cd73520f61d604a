//! The parser: spec text → [`Spec`].
//!
//! Built on nom 8 over [`nom_locate::LocatedSpan`], so every node of the model gets the
//! line, column and byte offset it was written at. The grammar is LL(1): after the
//! token that selects a production, every failure is a [`nom::Err::Failure`] (nom's
//! `cut`), so errors point at the offending token instead of backtracking to the start
//! of the item. The first error stops parsing; validation ([`crate::validate`]) then
//! collects all semantic errors of a spec that parsed.

use std::cell::Cell;

use nom::{
    Err as NomErr, IResult, Input, Parser,
    branch::alt,
    bytes::complete::{take_till, take_while, take_while1},
    character::complete::{anychar, multispace1},
    combinator::{cut, recognize, value},
    error::{ErrorKind, ParseError},
    sequence::pair,
};
use nom_locate::LocatedSpan;

use crate::error::{Note, SpecError};
use crate::model::*;

/// Spec text with its position (line, column, offset).
pub type Src<'a> = LocatedSpan<&'a str>;

type R<'a, T> = IResult<Src<'a>, T, PErr<'a>>;

/// Longest nesting of parentheses, unary operators and conditionals in one expression.
const MAX_NESTING: u32 = 32;
/// Most operator, call and literal nodes in one expression.
const MAX_NODES: u32 = 512;
/// Most dimensions of one array type (`T[a][b]...`).
const MAX_DIMS: usize = 8;

/// Words that cannot name a field, parameter, variant, flag or item.
const RESERVED: &[&str] = &[
    "if",
    "where",
    "within",
    "transform",
    "true",
    "false",
    "self",
];

/// Words that end an expression (they follow it in a field).
const EXPR_STOP_WORDS: &[&str] = &["if", "where", "within", "transform"];

/// Built-in type words (cannot be used as bit types or item names).
const BUILTIN_TYPE_WORDS: &[&str] = &[
    "uint",
    "mqtt_varint",
    "intser",
    "bytes",
    "str",
    "cstr",
    "decimal",
    "bool",
];

const EXPECT_TYPE: &str = "a type (u8, u16, ..., i8, ..., uint(..), mqtt_varint, intser, bytes[..], \
bytes(u16), bytes(until 0x0D), str[..], str(u8), cstr, decimal(i64), or a declared type name)";
const EXPECT_INT_TYPE: &str = "an integer type (u8, u16, u24, ..., u64, i8, ..., i64, \
optionally with an `le`/`be` suffix; any width uN inside `bits`)";
const EXPECT_BIT_TYPE: &str = "a bit field type (`bool`, `u1`..`u64`, or an enum or flags name)";
const EXPECT_EXPR: &str =
    "an expression (a number, `true`, `false`, a name, a call, `(`, `!` or `-`)";
const EXPECT_ITEM: &str =
    "an item (`enum`, `flags`, `bits`, `record`, `frame`, `union` or `extern transform`) or `}`";
const EXPECT_PATTERN: &str =
    "a pattern (a number, `true`, `false`, an enum constant, a range `a..=b`, or `_`)";
const EXPECT_PAT_VALUE: &str = "a number, `true`, `false` or an enum constant";
const EXPECT_PREFIX: &str = "an unsigned integer type for the length prefix (u8, u16, u32, ...)";

// ------------------------------------------------------------------------------------
// Public entry points
// ------------------------------------------------------------------------------------

/// Parses one spec file. `file` is the name used in errors and stored in
/// [`Spec::file`]. Stops at the first syntax error; does not validate (see
/// [`crate::parse_str`] for parse + validate).
pub fn parse(file: &str, source: &str) -> Result<Spec, SpecError> {
    let input = Src::new(source);
    match protocol_file(input) {
        Ok((_, protocol)) => Ok(Spec {
            file: file.to_string(),
            protocol,
        }),
        Err(NomErr::Error(e) | NomErr::Failure(e)) => Err(e.into_spec_error(file, source)),
        Err(NomErr::Incomplete(_)) => {
            let mut e = SpecError::new(
                file,
                Span {
                    line: 1,
                    column: 1,
                    offset: 0,
                },
                "incomplete input",
                "end of file",
                "more input",
            );
            e.attach_source(source);
            Err(e)
        }
    }
}

/// Width in characters of the token starting at byte `offset` of `source` (at least
/// 1); used to underline errors.
pub(crate) fn token_width_at(source: &str, offset: usize) -> usize {
    let Some(rest) = source.get(offset..) else {
        return 1;
    };
    let tok = lex(Src::new(rest));
    if tok.at.location_offset() != 0 || tok.kind == Kind::Eof {
        return 1;
    }
    tok.text.chars().count().max(1)
}

/// The [`Span`] of a position in the source.
fn span_of(i: &Src<'_>) -> Span {
    Span {
        line: i.location_line(),
        column: u32::try_from(i.get_utf8_column()).unwrap_or(u32::MAX),
        offset: i.location_offset(),
    }
}

// ------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------

/// The parser's error: a position and what was expected there.
#[derive(Debug, Clone)]
pub(crate) struct PErr<'a> {
    /// Where parsing failed (whitespace and comments before the token are skipped when
    /// reporting).
    at: Src<'a>,
    expected: String,
    message: String,
    /// Set once a caller has described the error; outer callers keep it.
    labelled: bool,
    /// Overrides the `found` text (otherwise the token at `at`).
    found: Option<String>,
    notes: Vec<Note>,
}

impl<'a> PErr<'a> {
    fn new(at: Src<'a>, expected: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at,
            expected: expected.into(),
            message: message.into(),
            labelled: true,
            found: None,
            notes: Vec::new(),
        }
    }

    /// An error that the caller is expected to describe (see [`need`]).
    fn soft(at: Src<'a>, expected: impl Into<String>) -> Self {
        let expected = expected.into();
        Self {
            at,
            message: format!("expected {expected}"),
            expected,
            labelled: false,
            found: None,
            notes: Vec::new(),
        }
    }

    fn note(mut self, span: Span, message: impl Into<String>) -> Self {
        self.notes.push(Note {
            span,
            message: message.into(),
        });
        self
    }

    fn into_spec_error(self, file: &str, source: &str) -> SpecError {
        let tok = lex(self.at);
        let found = self.found.unwrap_or_else(|| tok.describe());
        let width = match tok.kind {
            Kind::Eof => 1,
            _ => tok.text.chars().count().max(1),
        };
        let mut e =
            SpecError::new(file, tok.span(), self.message, found, self.expected).with_width(width);
        e.notes = self.notes;
        e.attach_source(source);
        e
    }
}

impl<'a> ParseError<Src<'a>> for PErr<'a> {
    fn from_error_kind(input: Src<'a>, kind: ErrorKind) -> Self {
        Self::soft(input, format!("valid syntax ({})", kind.description()))
    }

    fn append(_: Src<'a>, _: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        // Keep the error that got further; on a tie, list both expectations.
        let a = lex(self.at).at.location_offset();
        let b = lex(other.at).at.location_offset();
        if a > b {
            self
        } else if b > a || self.labelled || other.labelled {
            other
        } else {
            PErr::soft(other.at, format!("{} or {}", self.expected, other.expected))
        }
    }
}

/// A described, final error (no backtracking).
fn fail<'a, T>(at: Src<'a>, expected: impl Into<String>, message: impl Into<String>) -> R<'a, T> {
    Err(NomErr::Failure(PErr::new(at, expected, message)))
}

/// A recoverable "not here" error; the caller decides what to do or describes it.
fn soft<'a, T>(at: Src<'a>, expected: impl Into<String>) -> R<'a, T> {
    Err(NomErr::Error(PErr::soft(at, expected)))
}

/// Runs `p`, which must succeed: a recoverable error becomes final (`cut`) and, unless a
/// deeper parser already described it, gets `expected` and `message`.
fn need<'a, O>(
    i: Src<'a>,
    p: impl Parser<Src<'a>, Output = O, Error = PErr<'a>>,
    expected: &str,
    message: impl FnOnce() -> String,
) -> R<'a, O> {
    cut(p).parse(i).map_err(|e| {
        e.map(|mut pe| {
            if !pe.labelled {
                pe.labelled = true;
                pe.expected = expected.to_string();
                pe.message = message();
            }
            pe
        })
    })
}

// ------------------------------------------------------------------------------------
// Lexer
// ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Int,
    Str,
    /// A string without its closing quote.
    BadStr,
    Punct,
    Doc,
    Eof,
    Other,
}

/// One token: its kind and text, where it starts (after whitespace and comments) and
/// the input after it.
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
    at: Src<'a>,
    rest: Src<'a>,
}

impl<'a> Tok<'a> {
    fn span(&self) -> Span {
        span_of(&self.at)
    }

    fn is(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.text == p
    }

    fn word(&self, w: &str) -> bool {
        self.kind == Kind::Ident && self.text == w
    }

    fn ident(&self) -> Ident {
        Ident::new(self.text, self.span())
    }

    fn describe(&self) -> String {
        match self.kind {
            Kind::Eof => "end of file".to_string(),
            Kind::Doc => "a doc comment (`///`)".to_string(),
            _ => {
                let mut s: String = self.text.chars().take(32).collect();
                if self.text.chars().nth(32).is_some() {
                    s.push_str("...");
                }
                format!("`{s}`")
            }
        }
    }
}

const PUNCTS: &[&str] = &[
    "..=", "..", "=>", "==", "!=", "<=", ">=", "<<", ">>", "&&", "||", "{", "}", "(", ")", "[",
    "]", ";", ":", ",", ".", "=", "<", ">", "+", "-", "*", "/", "%", "&", "|", "!", "?", "@",
];

fn is_doc(s: &str) -> bool {
    s.starts_with("///") && !s.starts_with("////")
}

/// Skips whitespace and `//` comments (but not `///` doc comments).
fn trivia(mut i: Src<'_>) -> Src<'_> {
    loop {
        if let Ok((rest, _)) = multispace1::<_, ()>(i) {
            i = rest;
            continue;
        }
        let s = *i.fragment();
        if s.starts_with("//")
            && !is_doc(s)
            && let Ok((rest, _)) = take_till::<_, _, ()>(|c| c == '\n')(i)
        {
            i = rest;
            continue;
        }
        return i;
    }
}

fn word_chars(i: Src<'_>) -> IResult<Src<'_>, Src<'_>, ()> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

fn number_chars(i: Src<'_>) -> IResult<Src<'_>, Src<'_>, ()> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_digit()),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

/// A character literal `'M'`: one printable ASCII character (not `'` or `\\`) in single
/// quotes, standing for its code (text protocols use one-letter codes).
fn char_chars(i: Src<'_>) -> IResult<Src<'_>, Src<'_>, ()> {
    match i.fragment().as_bytes() {
        [b'\'', c, b'\'', ..] if c.is_ascii_graphic() || *c == b' ' => {
            if *c == b'\'' || *c == b'\\' {
                return Err(NomErr::Error(()));
            }
            Ok(i.take_split(3))
        }
        _ => Err(NomErr::Error(())),
    }
}

/// A string literal with its quotes; `Err` if it is not closed on its line.
fn string_chars(i: Src<'_>) -> IResult<Src<'_>, Src<'_>, ()> {
    let s = *i.fragment();
    if !s.starts_with('"') {
        return Err(NomErr::Error(()));
    }
    let mut escaped = false;
    for (idx, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => return Ok(i.take_split(idx + 1)),
            '\n' => break,
            _ => {}
        }
    }
    Err(NomErr::Error(()))
}

/// The next token after whitespace and comments (maximal munch).
fn lex<'a>(i: Src<'a>) -> Tok<'a> {
    let at = trivia(i);
    let s = *at.fragment();
    let tok = |kind, (rest, text): (Src<'a>, Src<'a>)| Tok {
        kind,
        text: text.into_fragment(),
        at,
        rest,
    };
    if s.is_empty() {
        return Tok {
            kind: Kind::Eof,
            text: "",
            at,
            rest: at,
        };
    }
    if is_doc(s)
        && let Ok(r) = take_till::<_, _, ()>(|c| c == '\n')(at)
    {
        return tok(Kind::Doc, r);
    }
    if let Ok(r) = word_chars(at) {
        return tok(Kind::Ident, r);
    }
    if let Ok(r) = number_chars(at) {
        return tok(Kind::Int, r);
    }
    if let Ok(r) = char_chars(at) {
        return tok(Kind::Int, r);
    }
    if s.starts_with('"') {
        return match string_chars(at) {
            Ok(r) => tok(Kind::Str, r),
            Err(_) => match take_till::<_, _, ()>(|c| c == '\n')(at) {
                Ok(r) => tok(Kind::BadStr, r),
                Err(_) => Tok {
                    kind: Kind::BadStr,
                    text: s,
                    at,
                    rest: at,
                },
            },
        };
    }
    if let Some(p) = PUNCTS.iter().find(|p| s.starts_with(**p)) {
        return tok(Kind::Punct, at.take_split(p.len()));
    }
    match anychar::<_, ()>(at) {
        Ok((rest, c)) => tok(Kind::Other, (rest, at.take(c.len_utf8()))),
        Err(_) => Tok {
            kind: Kind::Eof,
            text: "",
            at,
            rest: at,
        },
    }
}

// ------------------------------------------------------------------------------------
// Token parsers
// ------------------------------------------------------------------------------------

/// The punctuation `p` (recoverable error if absent).
fn punct<'a>(p: &'static str) -> impl Fn(Src<'a>) -> R<'a, Span> {
    move |i| {
        let t = lex(i);
        if t.is(p) {
            Ok((t.rest, t.span()))
        } else {
            soft(t.at, format!("`{p}`"))
        }
    }
}

/// The keyword `w` (recoverable error if absent).
fn kw<'a>(w: &'static str) -> impl Fn(Src<'a>) -> R<'a, Span> {
    move |i| {
        let t = lex(i);
        if t.word(w) {
            Ok((t.rest, t.span()))
        } else {
            soft(t.at, format!("`{w}`"))
        }
    }
}

/// Any identifier-like word (recoverable error if absent).
fn any_ident(i: Src<'_>) -> R<'_, Ident> {
    let t = lex(i);
    if t.kind == Kind::Ident {
        Ok((t.rest, t.ident()))
    } else {
        soft(t.at, "a name")
    }
}

/// A name being declared (field, item, variant, ...): must be there and must not be a
/// keyword.
fn decl_name<'a>(i: Src<'a>, what: &str, message: impl FnOnce() -> String) -> R<'a, Ident> {
    let t = lex(i);
    if t.kind == Kind::Ident && (RESERVED.contains(&t.text) || t.text == "_") {
        let why = if t.text == "_" {
            "`_` alone is not a name (use a name such as `_reserved`)".to_string()
        } else {
            format!("`{}` is a keyword and cannot be used as a name", t.text)
        };
        return fail(t.at, what, why);
    }
    need(i, any_ident, what, message)
}

fn parse_int(text: &str) -> Result<i128, String> {
    if let [b'\'', c, b'\''] = text.as_bytes() {
        return Ok(i128::from(*c));
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let (radix, digits, prefix) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, "0x")
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, "0b")
    } else {
        (10, lower.as_str(), "")
    };
    if digits.is_empty() {
        return Err(format!("missing digits after `{prefix}`"));
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_digit(radix)) {
        let kind = match radix {
            16 => "hexadecimal",
            2 => "binary",
            _ => "decimal",
        };
        return Err(format!("invalid {kind} digit `{bad}` in integer literal"));
    }
    i128::from_str_radix(digits, radix).map_err(|_| "integer literal is too large".to_string())
}

/// An integer literal token (recoverable error if absent).
fn int_lit(i: Src<'_>) -> R<'_, (i128, Span)> {
    let t = lex(i);
    if t.kind != Kind::Int {
        return soft(t.at, "an integer");
    }
    match parse_int(t.text) {
        Ok(v) => Ok((t.rest, (v, t.span()))),
        Err(m) => fail(t.at, "an integer (decimal, 0x hex or 0b binary)", m),
    }
}

/// An integer literal with an optional leading `-`.
fn signed_int(i: Src<'_>) -> R<'_, (i128, Span)> {
    let t = lex(i);
    if t.is("-") {
        let (rest, (v, _)) = need(t.rest, int_lit, "an integer", || {
            "expected an integer after `-`".to_string()
        })?;
        Ok((rest, (-v, t.span())))
    } else {
        int_lit(i)
    }
}

/// A string literal, unescaped (recoverable error if absent).
fn string_lit(i: Src<'_>) -> R<'_, String> {
    let t = lex(i);
    match t.kind {
        Kind::Str => {}
        Kind::BadStr => {
            return fail(
                t.at,
                "a closing `\"` on the same line",
                "unterminated string",
            );
        }
        _ => return soft(t.at, "a string in double quotes"),
    }
    let inner = t
        .text
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or("");
    let mut out = String::new();
    let mut chars = inner.char_indices();
    while let Some((_, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '\\')) => out.push('\\'),
            Some((_, '"')) => out.push('"'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((_, '0')) => out.push('\0'),
            Some((idx, other)) => {
                // +1 for the opening quote, -1 for the backslash.
                let at = t.at.take_from(idx);
                let mut e = PErr::new(
                    at,
                    "an escape (`\\\\`, `\\\"`, `\\n`, `\\t` or `\\0`)",
                    format!("unknown escape `\\{other}` in string"),
                );
                e.found = Some(format!("`\\{other}`"));
                return Err(NomErr::Failure(e));
            }
            None => out.push('\\'),
        }
    }
    Ok((t.rest, out))
}

/// `u8`, `i16le`, `u4`, ...: `None` if `text` does not have that shape.
pub(crate) fn int_type_of(text: &str) -> Option<Result<IntType, String>> {
    let (signed, rest) = if let Some(r) = text.strip_prefix('u') {
        (false, r)
    } else if let Some(r) = text.strip_prefix('i') {
        (true, r)
    } else {
        return None;
    };
    let (digits, order) = if let Some(d) = rest.strip_suffix("le") {
        (d, Some(ByteOrder::Little))
    } else if let Some(d) = rest.strip_suffix("be") {
        (d, Some(ByteOrder::Big))
    } else {
        (rest, None)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match digits.parse::<u8>() {
        Ok(bits @ 1..=64) => Some(Ok(IntType {
            bits,
            signed,
            order,
        })),
        _ => Some(Err(format!(
            "`{text}` has an invalid width: integer types are 1 to 64 bits wide"
        ))),
    }
}

fn int_type_name(t: IntType) -> String {
    let mut s = format!("{}{}", if t.signed { 'i' } else { 'u' }, t.bits);
    match t.order {
        Some(ByteOrder::Little) => s.push_str("le"),
        Some(ByteOrder::Big) => s.push_str("be"),
        None => {}
    }
    s
}

/// An integer type of any width 1..=64 (representation of enum/flags/bits, or a
/// parameter); recoverable error if the token is not an integer type.
fn any_int_type(i: Src<'_>) -> R<'_, IntType> {
    let t = lex(i);
    if t.kind == Kind::Ident {
        match int_type_of(t.text) {
            Some(Ok(it)) => return Ok((t.rest, it)),
            Some(Err(m)) => return fail(t.at, EXPECT_INT_TYPE, m),
            None => {}
        }
    }
    soft(t.at, EXPECT_INT_TYPE)
}

// ------------------------------------------------------------------------------------
// File, settings, docs and annotations
// ------------------------------------------------------------------------------------

/// Docs and annotation before an element.
#[derive(Debug, Default)]
struct MetaParts {
    docs: Vec<String>,
    clause: Option<String>,
    start: Option<Span>,
}

impl MetaParts {
    fn is_empty(&self) -> bool {
        self.start.is_none()
    }

    fn into_meta(self, default: Span) -> Meta {
        Meta {
            docs: self.docs,
            clause: self.clause,
            span: self.start.unwrap_or(default),
        }
    }
}

fn doc_text(line: &str) -> String {
    let s = line.strip_prefix("///").unwrap_or(line);
    let s = s.strip_prefix(' ').unwrap_or(s);
    s.trim_end().to_string()
}

/// `{ /// doc } [ @clause("...") ]`
fn meta(mut i: Src<'_>) -> R<'_, MetaParts> {
    let mut m = MetaParts::default();
    loop {
        let t = lex(i);
        if t.kind != Kind::Doc {
            break;
        }
        m.start.get_or_insert(t.span());
        m.docs.push(doc_text(t.text));
        i = t.rest;
    }
    let t = lex(i);
    if t.is("@") {
        m.start.get_or_insert(t.span());
        let (r, name) = need(t.rest, any_ident, "`clause`", || {
            "expected an annotation name after `@`".to_string()
        })?;
        if name.name != "clause" {
            return fail(
                lex(t.rest).at,
                "`@clause(\"...\")`",
                format!("unknown annotation `@{name}`"),
            );
        }
        let (r, _) = need(r, punct("("), "`(`", || {
            "expected `(` after `@clause`: `@clause(\"ID\")`".to_string()
        })?;
        let (r, clause) = need(
            r,
            string_lit,
            "the clause id as a string, e.g. \"IOCOM-4.1\"",
            || "missing clause id in `@clause(..)`".to_string(),
        )?;
        let (r, _) = need(r, punct(")"), "`)`", || {
            "missing `)` after the clause id".to_string()
        })?;
        m.clause = Some(clause);
        i = r;
        let t = lex(i);
        if t.is("@") {
            return fail(
                t.at,
                "the annotated element",
                "an element can have only one `@clause(..)` annotation",
            );
        }
        if t.kind == Kind::Doc {
            return fail(
                t.at,
                "the annotated element",
                "doc comments must come before the `@clause(..)` annotation",
            );
        }
    }
    Ok((i, m))
}

fn protocol_file(i: Src<'_>) -> R<'_, Protocol> {
    let (i, m) = meta(i)?;
    let (i, _) = need(i, kw("protocol"), "`protocol`", || {
        "a spec file must start with `protocol NAME {`".to_string()
    })?;
    let (i, name) = decl_name(i, "the protocol name", || {
        "expected the protocol name after `protocol`".to_string()
    })?;
    let (mut i, open) = need(i, punct("{"), "`{`", || {
        format!("expected `{{` after `protocol {name}`")
    })?;

    let mut byte_order: Option<(ByteOrder, Span)> = None;
    loop {
        let t = lex(i);
        if !t.word("byte_order") {
            break;
        }
        if let Some((_, first)) = byte_order {
            return Err(NomErr::Failure(
                PErr::new(t.at, EXPECT_ITEM, "`byte_order` is set twice")
                    .note(first, "first set here"),
            ));
        }
        let (r, order) = need(
            t.rest,
            alt((
                value(ByteOrder::Big, kw("big")),
                value(ByteOrder::Little, kw("little")),
            )),
            "`big` or `little`",
            || "unknown byte order".to_string(),
        )?;
        let (r, _) = need(r, punct(";"), "`;`", || {
            "missing `;` after the byte order".to_string()
        })?;
        byte_order = Some((order, t.span()));
        i = r;
    }

    let mut items = Vec::new();
    loop {
        let t = lex(i);
        if t.is("}") {
            i = t.rest;
            break;
        }
        if t.kind == Kind::Eof {
            return Err(NomErr::Failure(
                PErr::new(
                    t.at,
                    EXPECT_ITEM,
                    format!("protocol `{name}` is not closed: missing `}}`"),
                )
                .note(open, "the protocol's `{` is here"),
            ));
        }
        let (r, item) = item(i)?;
        items.push(item);
        i = r;
    }
    let t = lex(i);
    if t.kind != Kind::Eof {
        return fail(
            t.at,
            "end of file",
            format!(
                "unexpected text after the end of protocol `{name}` (a spec file holds one protocol)"
            ),
        );
    }
    Ok((
        t.rest,
        Protocol {
            meta: m.into_meta(name.span),
            name,
            byte_order: byte_order.map_or(ByteOrder::Big, |(o, _)| o),
            items,
        },
    ))
}

// ------------------------------------------------------------------------------------
// Items
// ------------------------------------------------------------------------------------

fn item(i: Src<'_>) -> R<'_, Item> {
    let (i, m) = meta(i)?;
    let t = lex(i);
    if t.kind == Kind::Ident {
        match t.text {
            "enum" => return enum_def(t, m),
            "flags" => return flags_def(t, m),
            "bits" => return bits_def(t, m),
            "record" => return record_def(t, m, false),
            "frame" => return record_def(t, m, true),
            "union" => return union_def(t, m),
            "extern" => return extern_def(t, m),
            "byte_order" => {
                return fail(
                    t.at,
                    EXPECT_ITEM,
                    "`byte_order` must come before the first item",
                );
            }
            _ => {
                return fail(t.at, EXPECT_ITEM, format!("unknown item kind `{}`", t.text));
            }
        }
    }
    if !m.is_empty() {
        return fail(
            t.at,
            EXPECT_ITEM,
            "doc comment or annotation is not followed by an item",
        );
    }
    fail(t.at, EXPECT_ITEM, "expected an item")
}

/// `{ elem , elem , ... [,] }` after the `{` at `open`: at least one element.
fn comma_list<'a, T>(
    mut i: Src<'a>,
    open: Span,
    owner: &str,
    what: &str,
    mut elem: impl FnMut(Src<'a>) -> R<'a, T>,
) -> R<'a, Vec<T>> {
    let mut out = Vec::new();
    loop {
        let t = lex(i);
        if t.is("}") && !out.is_empty() {
            return Ok((t.rest, out));
        }
        let (r, e) = elem(i)?;
        out.push(e);
        let t = lex(r);
        if t.is(",") {
            i = t.rest;
        } else if t.is("}") {
            return Ok((t.rest, out));
        } else if t.kind == Kind::Eof {
            return Err(NomErr::Failure(
                PErr::new(
                    t.at,
                    "`,` or `}`",
                    format!("{owner} is not closed: missing `}}`"),
                )
                .note(open, "opened here"),
            ));
        } else {
            return fail(
                t.at,
                "`,` or `}`",
                format!("missing `,` between {what}s of {owner}"),
            );
        }
    }
}

fn enum_def<'a>(kw: Tok<'a>, m: MetaParts) -> R<'a, Item> {
    let (i, name) = decl_name(kw.rest, "the enum name", || {
        "expected a name after `enum`".to_string()
    })?;
    let (i, _) = need(
        i,
        punct(":"),
        "`:` and the representation, e.g. `enum Kind: u8 { .. }`",
        || format!("enum `{name}` needs a representation type"),
    )?;
    let (i, repr) = need(i, any_int_type, EXPECT_INT_TYPE, || {
        format!("invalid representation type of enum `{name}`")
    })?;
    let (i, open) = need(i, punct("{"), "`{`", || {
        format!("expected `{{` after `enum {name}: {}`", int_type_name(repr))
    })?;
    let owner = format!("enum `{name}`");
    let (i, variants) = comma_list(i, open, &owner, "variant", |i| {
        let (i, vm) = meta(i)?;
        let (i, vname) = decl_name(i, "a variant (`NAME = value`)", || {
            if vm.is_empty() {
                format!("expected a variant of {owner}")
            } else {
                "doc comment or annotation is not followed by a variant".to_string()
            }
        })?;
        let (i, _) = need(i, punct("="), "`=` and the variant's value", || {
            format!("variant `{vname}` needs a value: `{vname} = 1`")
        })?;
        let (i, (value, _)) = need(i, signed_int, "an integer (may be negative)", || {
            format!("invalid value of variant `{vname}`")
        })?;
        Ok((
            i,
            EnumVariant {
                meta: vm.into_meta(vname.span),
                name: vname,
                value,
            },
        ))
    })?;
    Ok((
        i,
        Item::Enum(EnumDef {
            meta: m.into_meta(name.span),
            name,
            repr,
            variants,
        }),
    ))
}

fn flags_def<'a>(kw: Tok<'a>, m: MetaParts) -> R<'a, Item> {
    let (i, name) = decl_name(kw.rest, "the flags type name", || {
        "expected a name after `flags`".to_string()
    })?;
    let (i, _) = need(
        i,
        punct(":"),
        "`:` and the representation, e.g. `flags F: u8 { .. }`",
        || format!("flags `{name}` needs a representation type"),
    )?;
    let (i, repr) = need(i, any_int_type, EXPECT_INT_TYPE, || {
        format!("invalid representation type of flags `{name}`")
    })?;
    let (i, open) = need(i, punct("{"), "`{`", || {
        format!(
            "expected `{{` after `flags {name}: {}`",
            int_type_name(repr)
        )
    })?;
    let owner = format!("flags `{name}`");
    let (i, flags) = comma_list(i, open, &owner, "flag", |i| {
        let (i, fm) = meta(i)?;
        let (i, fname) = decl_name(i, "a flag (`NAME = mask`)", || {
            if fm.is_empty() {
                format!("expected a flag of {owner}")
            } else {
                "doc comment or annotation is not followed by a flag".to_string()
            }
        })?;
        let (i, _) = need(i, punct("="), "`=` and the flag's mask", || {
            format!("flag `{fname}` needs a mask: `{fname} = 0x01`")
        })?;
        let t = lex(i);
        if t.is("-") {
            return fail(
                t.at,
                "a mask (a non-negative integer)",
                "a flag mask cannot be negative",
            );
        }
        let (i, (v, _)) = need(i, int_lit, "a mask (a non-negative integer)", || {
            format!("invalid mask of flag `{fname}`")
        })?;
        let Ok(mask) = u64::try_from(v) else {
            return fail(
                t.at,
                "a mask of at most 64 bits",
                "flag mask does not fit in 64 bits",
            );
        };
        Ok((
            i,
            FlagDef {
                meta: fm.into_meta(fname.span),
                name: fname,
                mask,
            },
        ))
    })?;
    Ok((
        i,
        Item::Flags(FlagsDef {
            meta: m.into_meta(name.span),
            name,
            repr,
            flags,
        }),
    ))
}

fn bit_type(i: Src<'_>) -> R<'_, BitType> {
    let t = lex(i);
    if t.kind != Kind::Ident {
        return soft(t.at, EXPECT_BIT_TYPE);
    }
    if t.text == "bool" {
        return Ok((t.rest, BitType::Bool));
    }
    match int_type_of(t.text) {
        Some(Ok(it)) => {
            if it.signed {
                return fail(
                    t.at,
                    EXPECT_BIT_TYPE,
                    format!("fields of `bits` are unsigned: use `u{}`", it.bits),
                );
            }
            if it.order.is_some() {
                return fail(
                    t.at,
                    EXPECT_BIT_TYPE,
                    "a byte order suffix has no meaning inside `bits`",
                );
            }
            Ok((t.rest, BitType::Uint(it.bits)))
        }
        Some(Err(m)) => fail(t.at, EXPECT_BIT_TYPE, m),
        None if BUILTIN_TYPE_WORDS.contains(&t.text) => fail(
            t.at,
            EXPECT_BIT_TYPE,
            format!("`{}` cannot be used inside `bits`", t.text),
        ),
        None if RESERVED.contains(&t.text) => soft(t.at, EXPECT_BIT_TYPE),
        None => Ok((t.rest, BitType::Named(t.ident()))),
    }
}

fn bits_def<'a>(kw: Tok<'a>, m: MetaParts) -> R<'a, Item> {
    let (i, name) = decl_name(kw.rest, "the bits type name", || {
        "expected a name after `bits`".to_string()
    })?;
    let (i, _) = need(
        i,
        punct(":"),
        "`:` and the representation, e.g. `bits B: u8 { .. }`",
        || format!("bits `{name}` needs a representation type"),
    )?;
    let (i, repr) = need(i, any_int_type, EXPECT_INT_TYPE, || {
        format!("invalid representation type of bits `{name}`")
    })?;
    let (mut i, open) = need(i, punct("{"), "`{`", || {
        format!("expected `{{` after `bits {name}: {}`", int_type_name(repr))
    })?;
    let mut fields = Vec::new();
    loop {
        let t = lex(i);
        if t.is("}") {
            i = t.rest;
            break;
        }
        if t.kind == Kind::Eof {
            return Err(NomErr::Failure(
                PErr::new(
                    t.at,
                    "a bit field or `}`",
                    format!("bits `{name}` is not closed: missing `}}`"),
                )
                .note(open, "opened here"),
            ));
        }
        let (r, fm) = meta(i)?;
        let (r, fname) = decl_name(r, "a bit field (`name: u4;`) or `}`", || {
            if fm.is_empty() {
                format!("expected a field of bits `{name}`")
            } else {
                "doc comment or annotation is not followed by a field".to_string()
            }
        })?;
        let (r, _) = need(r, punct(":"), "`:` and the field's type", || {
            format!("missing `:` after bit field name `{fname}`")
        })?;
        let (r, ty) = need(r, bit_type, EXPECT_BIT_TYPE, || {
            format!("bit field `{fname}` needs a type")
        })?;
        let cx = ExprCx::root();
        let (r, derive) = match lex(r) {
            t if t.is("=") => {
                let (r, e) = need_expr(t.rest, cx, || {
                    format!("missing the value of bit field `{fname}` after `=`")
                })?;
                (r, Some(e))
            }
            _ => (r, None),
        };
        let cx = ExprCx::root();
        let (r, constraint) = match lex(r) {
            t if t.word("where") => {
                let (r, e) = need_expr(t.rest, cx, || {
                    format!("missing the condition of bit field `{fname}` after `where`")
                })?;
                (r, Some(e))
            }
            _ => (r, None),
        };
        let t = lex(r);
        if !t.is(";") {
            let expected = match (&derive, &constraint) {
                (None, None) => "`=`, `where` or `;`",
                (Some(_), None) => "`where` or `;`",
                _ => "`;`",
            };
            return fail(
                t.at,
                expected,
                format!("missing `;` after bit field `{fname}`"),
            );
        }
        fields.push(BitField {
            meta: fm.into_meta(fname.span),
            name: fname,
            ty,
            derive,
            constraint,
        });
        i = t.rest;
    }
    Ok((
        i,
        Item::Bits(BitsDef {
            meta: m.into_meta(name.span),
            name,
            repr,
            fields,
        }),
    ))
}

/// `( name: type, ... )` after the `(`.
fn param_list<'a>(mut i: Src<'a>, owner: &str) -> R<'a, Vec<Param>> {
    let mut params = Vec::new();
    loop {
        let (r, name) = decl_name(i, "a parameter (`name: type`)", || {
            format!("expected a parameter of {owner}")
        })?;
        let (r, _) = need(r, punct(":"), "`:` and the parameter's type", || {
            format!("parameter `{name}` needs a type")
        })?;
        let (r, ty) = need(
            r,
            |x| ty(x, false),
            EXPECT_TYPE,
            || format!("parameter `{name}` needs a type"),
        )?;
        params.push(Param { name, ty });
        let t = lex(r);
        if t.is(",") {
            i = t.rest;
        } else if t.is(")") {
            return Ok((t.rest, params));
        } else {
            return fail(
                t.at,
                "`,` or `)`",
                format!("missing `)` after the parameters of {owner}"),
            );
        }
    }
}

fn record_def<'a>(kw: Tok<'a>, m: MetaParts, is_frame: bool) -> R<'a, Item> {
    let (i, name) = decl_name(kw.rest, "the type name", || {
        format!("expected a name after `{}`", kw.text)
    })?;
    let owner = format!("{} `{name}`", kw.text);
    let t = lex(i);
    let (i, params) = if t.is("(") {
        param_list(t.rest, &owner)?
    } else {
        (i, Vec::new())
    };
    let t = lex(i);
    let (i, separator) = if t.word("separated") {
        let (r, _) = need(t.rest, punct("("), "`(`", || {
            "`separated` needs the separator byte: `separated(0x17)`".to_string()
        })?;
        let value_at = r;
        let (r, (v, _)) = need(r, int_lit, "the separator byte (an integer)", || {
            "`separated(..)` needs the separator byte, e.g. `separated(0x17)`".to_string()
        })?;
        let Ok(byte) = u8::try_from(v) else {
            return fail(
                lex(value_at).at,
                "a byte value 0..=255",
                format!("the separator {v} is not a byte"),
            );
        };
        let (r, _) = need(r, punct(")"), "`)`", || {
            "missing `)` after the separator byte".to_string()
        })?;
        (
            r,
            Some(Separator {
                byte,
                span: t.span(),
            }),
        )
    } else {
        (i, None)
    };
    let (mut i, open) = need(
        i,
        punct("{"),
        "`(` with parameters, `separated(..)` or `{`",
        || format!("expected `{{` to start the fields of {owner}"),
    )?;
    let mut fields = Vec::new();
    loop {
        let t = lex(i);
        if t.is("}") {
            i = t.rest;
            break;
        }
        if t.kind == Kind::Eof {
            return Err(NomErr::Failure(
                PErr::new(
                    t.at,
                    "a field or `}`",
                    format!("{owner} is not closed: missing `}}`"),
                )
                .note(open, "opened here"),
            ));
        }
        let (r, f) = field(i, &owner)?;
        fields.push(f);
        i = r;
    }
    Ok((
        i,
        Item::Record(RecordDef {
            meta: m.into_meta(name.span),
            name,
            is_frame,
            params,
            separator,
            fields,
        }),
    ))
}

fn field<'a>(i: Src<'a>, owner: &str) -> R<'a, Field> {
    let (i, fm) = meta(i)?;
    let (i, name) = decl_name(i, "a field (`name: type;`) or `}`", || {
        if fm.is_empty() {
            format!("expected a field of {owner}")
        } else {
            "doc comment or annotation is not followed by a field".to_string()
        }
    })?;
    let (i, _) = need(i, punct(":"), "`:` and the field's type", || {
        format!("missing `:` after field name `{name}`")
    })?;
    let (mut i, ty) = need(
        i,
        |x| ty(x, true),
        EXPECT_TYPE,
        || format!("field `{name}` needs a type"),
    )?;

    // Modifiers, in this order: if, =, where, transform.
    const MODS: [&str; 4] = ["`if`", "`=`", "`where`", "`transform(..)`"];
    let mut stage = 0;
    let mut condition = None;
    let mut derive = None;
    let mut constraint = None;
    let mut transform = None;
    loop {
        let t = lex(i);
        let this = if t.word("if") {
            1
        } else if t.is("=") {
            2
        } else if t.word("where") {
            3
        } else if t.word("transform") {
            4
        } else if t.is(";") {
            i = t.rest;
            break;
        } else {
            let rest: Vec<&str> = MODS.iter().skip(stage).copied().collect();
            let expected = if rest.is_empty() {
                "`;`".to_string()
            } else {
                format!("`;` or a field modifier ({})", rest.join(", "))
            };
            let message = if t.word("within") {
                format!(
                    "`within` belongs to the type of field `{name}` and must come before its modifiers"
                )
            } else if t.kind == Kind::Eof {
                format!("missing `;` after field `{name}`")
            } else {
                format!("expected `;` after field `{name}`")
            };
            return fail(t.at, expected, message);
        };
        if this <= stage {
            let rest: Vec<&str> = MODS.iter().skip(stage).copied().collect();
            let expected = if rest.is_empty() {
                "`;`".to_string()
            } else {
                format!("`;` or {}", rest.join(", "))
            };
            return fail(
                t.at,
                expected,
                format!(
                    "`{}` is repeated or out of order: field modifiers come in the order `if`, `=`, `where`, `transform(..)`",
                    t.text
                ),
            );
        }
        stage = this;
        let cx = ExprCx::root();
        match this {
            1 => {
                let (r, e) = need_expr(t.rest, cx, || {
                    format!("missing the condition of field `{name}` after `if`")
                })?;
                condition = Some(e);
                i = r;
            }
            2 => {
                let (r, e) = need_expr(t.rest, cx, || {
                    format!("missing the derived value of field `{name}` after `=`")
                })?;
                derive = Some(e);
                i = r;
            }
            3 => {
                let (r, e) = need_expr(t.rest, cx, || {
                    format!("missing the condition of field `{name}` after `where`")
                })?;
                constraint = Some(e);
                i = r;
            }
            _ => {
                let (r, tr) = transform_ref(t.rest, &name)?;
                transform = Some(tr);
                i = r;
            }
        }
    }
    Ok((
        i,
        Field {
            meta: fm.into_meta(name.span),
            name,
            ty,
            condition,
            derive,
            constraint,
            transform,
        },
    ))
}

/// `( name [ if expr ] )` after `transform`.
fn transform_ref<'a>(i: Src<'a>, field: &Ident) -> R<'a, TransformRef> {
    let (i, _) = need(i, punct("("), "`(`", || {
        format!("expected `(` after `transform` of field `{field}`: `transform(name)`")
    })?;
    let (i, name) = need(i, any_ident, "the name of an `extern transform`", || {
        format!("missing transform name in `transform(..)` of field `{field}`")
    })?;
    let t = lex(i);
    let (i, condition) = if t.word("if") {
        let (r, e) = need_expr(t.rest, ExprCx::root(), || {
            format!("missing the condition of transform `{name}` after `if`")
        })?;
        (r, Some(e))
    } else {
        (i, None)
    };
    let (i, _) = need(
        i,
        punct(")"),
        if condition.is_some() {
            "`)`"
        } else {
            "`if` or `)`"
        },
        || format!("missing `)` after `transform({name}..`"),
    )?;
    Ok((i, TransformRef { name, condition }))
}

fn union_def<'a>(kw: Tok<'a>, m: MetaParts) -> R<'a, Item> {
    let (i, name) = decl_name(kw.rest, "the union name", || {
        "expected a name after `union`".to_string()
    })?;
    let owner = format!("union `{name}`");
    let (i, _) = need(i, punct("("), "`(` and the tag parameter", || {
        format!("union `{name}` needs its tag parameter: `union {name}(tag: u8) {{ .. }}`")
    })?;
    let (i, params) = param_list(i, &owner)?;
    let (mut i, open) = need(i, punct("{"), "`{`", || {
        format!("expected `{{` to start the arms of {owner}")
    })?;
    let mut arms = Vec::new();
    loop {
        let t = lex(i);
        if t.is("}") {
            i = t.rest;
            break;
        }
        if t.kind == Kind::Eof {
            return Err(NomErr::Failure(
                PErr::new(
                    t.at,
                    "an arm or `}`",
                    format!("{owner} is not closed: missing `}}`"),
                )
                .note(open, "opened here"),
            ));
        }
        let (r, arm) = arm(i, &owner)?;
        arms.push(arm);
        i = r;
    }
    Ok((
        i,
        Item::Union(UnionDef {
            meta: m.into_meta(name.span),
            name,
            params,
            arms,
        }),
    ))
}

fn arm<'a>(i: Src<'a>, owner: &str) -> R<'a, Arm> {
    let (i, am) = meta(i)?;
    let start = lex(i).span();
    let (i, pattern) = need(i, pattern, EXPECT_PATTERN, || {
        if am.is_empty() {
            format!("expected an arm of {owner} (`pattern => Variant(Type);`)")
        } else {
            "doc comment or annotation is not followed by an arm".to_string()
        }
    })?;
    let (i, _) = need(i, punct("=>"), "`=>`", || {
        "expected `=>` after the arm's pattern".to_string()
    })?;
    let t = lex(i);
    let (i, body) = if t.word("reject") {
        (t.rest, ArmBody::Reject)
    } else {
        let (i, name) = decl_name(i, "a variant name or `reject`", || {
            "expected the arm's variant name or `reject` after `=>`".to_string()
        })?;
        let t = lex(i);
        let (i, payload) = if t.is("(") {
            let (r, ty) = need(
                t.rest,
                |x| ty(x, true),
                EXPECT_TYPE,
                || format!("variant `{name}` needs a payload type inside `(..)`"),
            )?;
            let (r, _) = need(r, punct(")"), "`)`", || {
                format!("missing `)` after the payload type of variant `{name}`")
            })?;
            (r, Some(ty))
        } else {
            (i, None)
        };
        let t = lex(i);
        let (i, tag) = if t.is("=") {
            let (r, e) = need_expr(t.rest, ExprCx::root(), || {
                format!("missing the tag expression of variant `{name}` after `=`")
            })?;
            (r, Some(e))
        } else {
            (i, None)
        };
        let t = lex(i);
        if !t.is(";") {
            let expected = match (&payload, &tag) {
                (None, None) => "`(` payload type `)`, `= tag` or `;`",
                (Some(_), None) => "`= tag` or `;`",
                _ => "`;`",
            };
            return fail(t.at, expected, format!("expected `;` after arm `{name}`"));
        }
        (i, ArmBody::Variant { name, payload, tag })
    };
    let (i, _) = need(i, punct(";"), "`;`", || {
        "expected `;` after the arm".to_string()
    })?;
    Ok((
        i,
        Arm {
            meta: am.into_meta(start),
            pattern,
            body,
        },
    ))
}

fn pattern(i: Src<'_>) -> R<'_, Pattern> {
    let t = lex(i);
    if t.word("_") {
        return Ok((t.rest, Pattern::Wildcard(t.span())));
    }
    let (i, a) = pat_value(i)?;
    let t = lex(i);
    if t.is("..=") {
        let (i, b) = need(t.rest, pat_value, EXPECT_PAT_VALUE, || {
            "missing the end of the range after `..=`".to_string()
        })?;
        Ok((i, Pattern::Range(a, b)))
    } else if t.is("..") {
        fail(
            t.at,
            "`..=`",
            "ranges in patterns are inclusive: write `a..=b`",
        )
    } else {
        Ok((i, Pattern::Value(a)))
    }
}

fn pat_value(i: Src<'_>) -> R<'_, PatValue> {
    let t = lex(i);
    match t.kind {
        Kind::Int => {
            let (r, (v, span)) = int_lit(i)?;
            Ok((r, PatValue::Int(v, span)))
        }
        Kind::Punct if t.is("-") => {
            let (r, (v, span)) = signed_int(i)?;
            Ok((r, PatValue::Int(v, span)))
        }
        Kind::Ident if t.text == "true" => Ok((t.rest, PatValue::Int(1, t.span()))),
        Kind::Ident if t.text == "false" => Ok((t.rest, PatValue::Int(0, t.span()))),
        Kind::Ident if t.text == "_" || RESERVED.contains(&t.text) => soft(t.at, EXPECT_PAT_VALUE),
        Kind::Ident => Ok((t.rest, PatValue::Const(t.ident()))),
        _ => soft(t.at, EXPECT_PAT_VALUE),
    }
}

fn extern_def<'a>(kw: Tok<'a>, m: MetaParts) -> R<'a, Item> {
    let (i, _) = need(kw.rest, self::kw("transform"), "`transform`", || {
        "unknown kind of extern item (the only kind is `extern transform`)".to_string()
    })?;
    let (i, name) = decl_name(i, "the transform's name", || {
        "expected a name after `extern transform`".to_string()
    })?;
    let (i, _) = need(
        i,
        punct("="),
        "`=` and the Rust path of the implementation",
        || format!("expected `= \"path::to::Type\"` after `extern transform {name}`"),
    )?;
    let (i, rust_path) = need(
        i,
        string_lit,
        "the Rust path of the implementation as a string, e.g. \"my_crate::ZeroRun\"",
        || format!("missing the Rust path of transform `{name}`"),
    )?;
    let (i, _) = need(i, punct(";"), "`;`", || {
        format!("missing `;` after `extern transform {name}`")
    })?;
    Ok((
        i,
        Item::Extern(ExternDef {
            meta: m.into_meta(name.span),
            name,
            kind: ExternKind::Transform,
            rust_path,
        }),
    ))
}

// ------------------------------------------------------------------------------------
// Types
// ------------------------------------------------------------------------------------

/// `base_type { [size] } [ within expr ]`. `wire`: a type that is read from bytes
/// (integers must then be whole bytes). Recoverable error if the first token cannot
/// start a type.
fn ty(i: Src<'_>, wire: bool) -> R<'_, Type> {
    let (mut i, mut t) = base_type(i, wire)?;
    let mut dims = 0;
    loop {
        let tok = lex(i);
        if !tok.is("[") {
            break;
        }
        dims += 1;
        if dims > MAX_DIMS {
            return fail(
                tok.at,
                "at most 8 array dimensions",
                "too many array dimensions",
            );
        }
        let (r, count) = size(tok.rest, "the array length (an expression or `..`)")?;
        let (r, _) = need(r, punct("]"), "`]`", || {
            "missing `]` after the array length".to_string()
        })?;
        t = Type::Array {
            elem: Box::new(t),
            count,
        };
        i = r;
    }
    let tok = lex(i);
    if tok.word("within") {
        let (r, size) = need_expr(tok.rest, ExprCx::root(), || {
            "missing the region size in bytes after `within`".to_string()
        })?;
        t = Type::Within {
            inner: Box::new(t),
            size,
        };
        i = r;
    }
    Ok((i, t))
}

/// An expression or `..`.
fn size<'a>(i: Src<'a>, what: &str) -> R<'a, Size> {
    let t = lex(i);
    if t.is("..") {
        return Ok((t.rest, Size::Rest));
    }
    let (i, e) = need(
        i,
        |x| expr(x, ExprCx::root()),
        what,
        || format!("expected {what}"),
    )?;
    Ok((i, Size::Expr(e)))
}

/// An unsigned whole-byte integer type for a length prefix.
fn prefix_type(i: Src<'_>) -> R<'_, IntType> {
    let t = lex(i);
    if t.kind == Kind::Ident {
        match int_type_of(t.text) {
            Some(Ok(it)) if !it.signed && it.bits.is_multiple_of(8) => return Ok((t.rest, it)),
            Some(Ok(it)) if it.signed => {
                return fail(t.at, EXPECT_PREFIX, "a length prefix must be unsigned");
            }
            Some(Ok(_)) => {
                return fail(
                    t.at,
                    EXPECT_PREFIX,
                    "a length prefix must be a whole number of bytes",
                );
            }
            Some(Err(m)) => return fail(t.at, EXPECT_PREFIX, m),
            None => {}
        }
    }
    soft(t.at, EXPECT_PREFIX)
}

fn base_type(i: Src<'_>, wire: bool) -> R<'_, Type> {
    let t = lex(i);
    if t.kind != Kind::Ident {
        return soft(t.at, EXPECT_TYPE);
    }
    match t.text {
        "uint" => {
            let (r, _) = need(t.rest, punct("("), "`(`", || {
                "`uint` needs its width in bytes: `uint(expr)`".to_string()
            })?;
            let (r, width) = need_expr(r, ExprCx::root(), || {
                "missing the width in bytes inside `uint(..)`".to_string()
            })?;
            let (r, _) = need(r, punct(")"), "`)`", || {
                "missing `)` after the width of `uint(..)`".to_string()
            })?;
            Ok((
                r,
                Type::DynUint {
                    width,
                    span: t.span(),
                },
            ))
        }
        "mqtt_varint" => Ok((t.rest, Type::MqttVarint)),
        "intser" => Ok((t.rest, Type::Intser)),
        "cstr" => Ok((t.rest, Type::CStr)),
        "decimal" => {
            let (r, _) = need(t.rest, punct("("), "`(`", || {
                "`decimal` needs its integer type: `decimal(i64)`".to_string()
            })?;
            let (r, it) = need(r, any_int_type, "an integer type such as `i32`", || {
                "`decimal(..)` needs the integer type of its value, e.g. `decimal(i64)`".to_string()
            })?;
            let (r, _) = need(r, punct(")"), "`)`", || {
                "missing `)` after the type of `decimal(..)`".to_string()
            })?;
            Ok((r, Type::Decimal(it)))
        }
        "bytes" | "str" => {
            let what = t.text;
            let n = lex(t.rest);
            if n.is("[") {
                let (r, sz) = size(
                    n.rest,
                    &format!(
                        "the {} (an expression or `..`)",
                        if what == "str" {
                            "text length in bytes"
                        } else {
                            "byte count"
                        }
                    ),
                )?;
                let (r, _) = need(r, punct("]"), "`]`", || {
                    format!("missing `]` after the size of `{what}[..]`")
                })?;
                return Ok((
                    r,
                    if what == "str" {
                        Type::Str(sz)
                    } else {
                        Type::Bytes(sz)
                    },
                ));
            }
            if n.is("(") && what == "bytes" && lex(n.rest).word("until") {
                let u = lex(n.rest);
                let value_at = lex(u.rest).at;
                let (r, (v, _)) =
                    need(u.rest, int_lit, "the terminator byte (an integer)", || {
                        "`bytes(until ..)` needs the terminator byte, e.g. `bytes(until 0x0D)`"
                            .to_string()
                    })?;
                let Ok(byte) = u8::try_from(v) else {
                    return fail(
                        value_at,
                        "a byte value 0..=255",
                        format!("the terminator {v} is not a byte"),
                    );
                };
                let (r, _) = need(r, punct(")"), "`)`", || {
                    "missing `)` after the terminator of `bytes(until ..)`".to_string()
                })?;
                return Ok((r, Type::BytesUntil(byte)));
            }
            if n.is("(") {
                let (r, prefix) = need(n.rest, prefix_type, EXPECT_PREFIX, || {
                    format!("`{what}(..)` needs the type of its length prefix, e.g. `{what}(u16)`")
                })?;
                if what == "bytes" {
                    let (r, _) = need(r, punct(")"), "`)`", || {
                        "missing `)` after the length prefix of `bytes(..)`".to_string()
                    })?;
                    return Ok((r, Type::BytesPrefixed(prefix)));
                }
                let c = lex(r);
                let (r, nul) = if c.is(",") {
                    let (r, _) = need(c.rest, kw("nul"), "`nul`", || {
                        "the only option of `str(..)` is `nul`: `str(u8, nul)`".to_string()
                    })?;
                    (r, true)
                } else {
                    (r, false)
                };
                let (r, _) = need(
                    r,
                    punct(")"),
                    if nul { "`)`" } else { "`, nul` or `)`" },
                    || "missing `)` after the length prefix of `str(..)`".to_string(),
                )?;
                return Ok((r, Type::StrPrefixed { prefix, nul }));
            }
            fail(
                n.at,
                "`[size]` or a length prefix `(u8)`, `(u16)`, ...",
                format!(
                    "`{what}` needs a size: `{what}[size]`, `{what}[..]` or a length prefix such as `{what}(u16)`"
                ),
            )
        }
        "bool" => fail(
            t.at,
            EXPECT_TYPE,
            "`bool` is only allowed inside `bits`; use a flags type, or an integer with a `where` constraint",
        ),
        w if RESERVED.contains(&w) => soft(t.at, EXPECT_TYPE),
        w => match int_type_of(w) {
            Some(Ok(it)) => {
                if wire && !it.bits.is_multiple_of(8) {
                    return fail(
                        t.at,
                        "a whole-byte integer type (u8, u16, u24, ..., u64, i8, ..., i64)",
                        format!(
                            "`{w}` is not a whole number of bytes; integers of other widths are only allowed inside `bits`"
                        ),
                    );
                }
                Ok((t.rest, Type::Int(it)))
            }
            Some(Err(m)) => fail(t.at, EXPECT_TYPE, m),
            None => {
                let name = t.ident();
                let n = lex(t.rest);
                if !n.is("(") {
                    return Ok((
                        t.rest,
                        Type::Named {
                            name,
                            args: Vec::new(),
                        },
                    ));
                }
                let (r, args) = call_args(n.rest, ExprCx::root(), &format!("type `{name}`"))?;
                Ok((r, Type::Named { name, args }))
            }
        },
    }
}

// ------------------------------------------------------------------------------------
// Expressions
// ------------------------------------------------------------------------------------

/// Expression nesting depth and the node budget shared by one whole expression.
#[derive(Clone, Copy)]
struct ExprCx<'c> {
    depth: u32,
    nodes: Option<&'c Cell<u32>>,
}

impl<'c> ExprCx<'c> {
    fn root() -> Self {
        Self {
            depth: 0,
            nodes: None,
        }
    }

    fn deeper(self) -> Self {
        Self {
            depth: self.depth + 1,
            nodes: self.nodes,
        }
    }

    /// Charges one node; false when the expression is too large.
    fn charge(self) -> bool {
        match self.nodes {
            Some(n) => {
                let left = n.get();
                n.set(left.saturating_sub(1));
                left > 0
            }
            None => true,
        }
    }
}

/// A whole expression (recoverable error if the first token cannot start one).
fn expr<'a>(i: Src<'a>, cx: ExprCx<'_>) -> R<'a, Expr> {
    match cx.nodes {
        Some(_) => ternary(i, cx),
        None => {
            let budget = Cell::new(MAX_NODES);
            ternary(
                i,
                ExprCx {
                    depth: cx.depth,
                    nodes: Some(&budget),
                },
            )
        }
    }
}

/// An expression that must be there.
fn need_expr<'a>(i: Src<'a>, cx: ExprCx<'_>, message: impl FnOnce() -> String) -> R<'a, Expr> {
    must(expr(i, cx), EXPECT_EXPR, message)
}

/// Like [`need`] for a result already computed: a recoverable error becomes final and
/// is described. Used on the recursive expression paths, where the extra closure and
/// `cut` layers of [`need`] would cost stack per nesting level.
fn must<'a, T>(r: R<'a, T>, expected: &str, message: impl FnOnce() -> String) -> R<'a, T> {
    match r {
        Err(NomErr::Error(mut e)) => {
            if !e.labelled {
                e.labelled = true;
                e.expected = expected.to_string();
                e.message = message();
            }
            Err(NomErr::Failure(e))
        }
        other => other,
    }
}

fn too_complex<'a, T>(at: Src<'a>) -> R<'a, T> {
    fail(
        at,
        "a simpler expression",
        format!(
            "expression is too complex (more than {MAX_NESTING} levels of nesting or {MAX_NODES} operators and operands)"
        ),
    )
}

fn ternary<'a>(i: Src<'a>, cx: ExprCx<'_>) -> R<'a, Expr> {
    if cx.depth > MAX_NESTING {
        return too_complex(i);
    }
    let (i, cond) = binary(i, cx, 1)?;
    let t = lex(i);
    if !t.is("?") {
        return Ok((i, cond));
    }
    ternary_rest(t, cond, cx)
}

/// `? a : b` after the condition.
fn ternary_rest<'a>(q: Tok<'a>, cond: Expr, cx: ExprCx<'_>) -> R<'a, Expr> {
    let (i, a) = must(ternary(q.rest, cx.deeper()), EXPECT_EXPR, || {
        "missing the value after `?` (`cond ? a : b`)".to_string()
    })?;
    let (i, _) = need(i, punct(":"), "`:`", || {
        "missing `:` of `cond ? a : b`".to_string()
    })?;
    let (i, b) = must(ternary(i, cx.deeper()), EXPECT_EXPR, || {
        "missing the value after `:` (`cond ? a : b`)".to_string()
    })?;
    if !cx.charge() {
        return too_complex(q.at);
    }
    let span = cond.span;
    Ok((
        i,
        Expr {
            kind: ExprKind::Ternary(Box::new(cond), Box::new(a), Box::new(b)),
            span,
        },
    ))
}

/// Binary operators with their precedence (higher binds tighter).
const BINOPS: &[(&str, BinOp, u8)] = &[
    ("||", BinOp::Or, 1),
    ("&&", BinOp::And, 2),
    ("==", BinOp::Eq, 3),
    ("!=", BinOp::Ne, 3),
    ("<", BinOp::Lt, 3),
    ("<=", BinOp::Le, 3),
    (">", BinOp::Gt, 3),
    (">=", BinOp::Ge, 3),
    ("|", BinOp::BitOr, 4),
    ("&", BinOp::BitAnd, 5),
    ("<<", BinOp::Shl, 6),
    (">>", BinOp::Shr, 6),
    ("+", BinOp::Add, 7),
    ("-", BinOp::Sub, 7),
    ("*", BinOp::Mul, 8),
    ("/", BinOp::Div, 8),
    ("%", BinOp::Rem, 8),
];
/// Comparisons do not associate (`a < b < c` is an error).
const CMP_PREC: u8 = 3;

fn binop_of(t: &Tok<'_>) -> Option<(&'static str, BinOp, u8)> {
    BINOPS.iter().copied().find(|(s, _, _)| t.is(s))
}

/// Binary operators by precedence climbing: operators binding at least as tightly as
/// `min`, left-associative.
fn binary<'a>(i: Src<'a>, cx: ExprCx<'_>, min: u8) -> R<'a, Expr> {
    let (mut i, mut left) = unary(i, cx)?;
    loop {
        let t = lex(i);
        let Some((sym, op, prec)) = binop_of(&t).filter(|(_, _, p)| *p >= min) else {
            return Ok((i, left));
        };
        let (r, right) = must(binary(t.rest, cx, prec + 1), EXPECT_EXPR, || {
            format!("missing the right operand of `{sym}`")
        })?;
        if !cx.charge() {
            return too_complex(t.at);
        }
        let span = left.span;
        left = Expr {
            kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
            span,
        };
        i = r;
        if prec == CMP_PREC {
            let n = lex(i);
            if binop_of(&n).is_some_and(|(_, _, p)| p == CMP_PREC) {
                return fail(
                    n.at,
                    "`&&`, `||`, `)` or the end of the expression",
                    "comparison operators cannot be chained; use `&&` or parentheses",
                );
            }
        }
    }
}

fn unary<'a>(i: Src<'a>, cx: ExprCx<'_>) -> R<'a, Expr> {
    if cx.depth > MAX_NESTING {
        return too_complex(i);
    }
    let t = lex(i);
    let op = if t.is("!") {
        UnOp::Not
    } else if t.is("-") {
        UnOp::Neg
    } else {
        return primary(t, cx);
    };
    let (r, e) = must(unary(t.rest, cx.deeper()), EXPECT_EXPR, || {
        format!("missing the operand of `{}`", t.text)
    })?;
    if !cx.charge() {
        return too_complex(t.at);
    }
    Ok((
        r,
        Expr {
            kind: ExprKind::Unary(op, Box::new(e)),
            span: t.span(),
        },
    ))
}

/// `( expr, ... )` after the `(`; at least one argument.
fn call_args<'a>(mut i: Src<'a>, cx: ExprCx<'_>, owner: &str) -> R<'a, Vec<Expr>> {
    let mut args = Vec::new();
    loop {
        let (r, e) = must(expr(i, cx.deeper()), EXPECT_EXPR, || {
            format!("expected an argument of {owner}")
        })?;
        args.push(e);
        let t = lex(r);
        if t.is(",") {
            i = t.rest;
        } else if t.is(")") {
            return Ok((t.rest, args));
        } else {
            return fail(
                t.at,
                "`,` or `)`",
                format!("missing `)` after the arguments of {owner}"),
            );
        }
    }
}

/// The operand starting with token `t`.
fn primary<'a>(t: Tok<'a>, cx: ExprCx<'_>) -> R<'a, Expr> {
    if !cx.charge() {
        return too_complex(t.at);
    }
    match t.kind {
        Kind::Int => match parse_int(t.text) {
            Ok(v) => Ok((
                t.rest,
                Expr {
                    kind: ExprKind::Int(v),
                    span: t.span(),
                },
            )),
            Err(m) => fail(t.at, "an integer (decimal, 0x hex or 0b binary)", m),
        },
        Kind::Ident if t.text == "true" || t.text == "false" => Ok((
            t.rest,
            Expr {
                kind: ExprKind::Bool(t.text == "true"),
                span: t.span(),
            },
        )),
        Kind::Ident if EXPR_STOP_WORDS.contains(&t.text) => soft(t.at, EXPECT_EXPR),
        Kind::Ident => name_operand(t, cx),
        Kind::Punct if t.is("(") => paren(t, cx),
        _ => soft(t.at, EXPECT_EXPR),
    }
}

/// `( expr )` starting at the `(` token.
fn paren<'a>(open: Tok<'a>, cx: ExprCx<'_>) -> R<'a, Expr> {
    let (r, e) = must(ternary(open.rest, cx.deeper()), EXPECT_EXPR, || {
        "expected an expression after `(`".to_string()
    })?;
    let t = lex(r);
    if !t.is(")") {
        return Err(NomErr::Failure(
            PErr::new(t.at, "`)` or an operator", "missing `)`")
                .note(open.span(), "the `(` is here"),
        ));
    }
    Ok((t.rest, e))
}

/// A call `f(..)` or a path `a.b.c` starting with the identifier token `t`.
fn name_operand<'a>(t: Tok<'a>, cx: ExprCx<'_>) -> R<'a, Expr> {
    let first = t.ident();
    let n = lex(t.rest);
    if n.is("(") {
        let after = lex(n.rest);
        let (r, args) = if after.is(")") {
            (after.rest, Vec::new())
        } else {
            call_args(n.rest, cx, &format!("`{first}(..)`"))?
        };
        return Ok((
            r,
            Expr {
                span: first.span,
                kind: ExprKind::Call { func: first, args },
            },
        ));
    }
    let span = first.span;
    let mut segs = vec![first];
    let mut r = t.rest;
    loop {
        let d = lex(r);
        if !d.is(".") {
            break;
        }
        let (r2, seg) = need(d.rest, any_ident, "a member name", || {
            "expected a name after `.`".to_string()
        })?;
        segs.push(seg);
        r = r2;
    }
    Ok((
        r,
        Expr {
            kind: ExprKind::Path(segs),
            span,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        let mut out = Vec::new();
        let mut i = Src::new(src);
        loop {
            let t = lex(i);
            if t.kind == Kind::Eof {
                return out;
            }
            out.push((t.kind, t.text.to_string()));
            i = t.rest;
        }
    }

    #[test]
    fn maximal_munch() {
        let k = kinds("a..=b .. || | <= << < //x\n /// doc\n 0x_FF \"s\\\"\" é");
        let texts: Vec<&str> = k.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "a",
                "..=",
                "b",
                "..",
                "||",
                "|",
                "<=",
                "<<",
                "<",
                "/// doc",
                "0x_FF",
                "\"s\\\"\"",
                "é"
            ]
        );
        assert_eq!(k.last().map(|x| x.0), Some(Kind::Other));
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0xFF"), Ok(255));
        assert_eq!(parse_int("0b1010_0000"), Ok(160));
        assert!(parse_int("0x").is_err());
        assert!(parse_int("12ab").is_err());
        assert!(parse_int("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF").is_err());
    }

    #[test]
    fn int_types() {
        assert!(matches!(
            int_type_of("u16le"),
            Some(Ok(IntType {
                bits: 16,
                signed: false,
                order: Some(ByteOrder::Little)
            }))
        ));
        assert!(matches!(
            int_type_of("i64"),
            Some(Ok(IntType {
                bits: 64,
                signed: true,
                order: None
            }))
        ));
        assert!(int_type_of("uint").is_none());
        assert!(int_type_of("u").is_none());
        assert!(matches!(int_type_of("u0"), Some(Err(_))));
        assert!(matches!(int_type_of("u65"), Some(Err(_))));
        assert!(matches!(int_type_of("u99999999999"), Some(Err(_))));
    }
}
