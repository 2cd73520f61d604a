//! eosal's packed JSON: the binary JSON of an IOCOM device's `info` block (reference §15).
//!
//! An IOCOM device publishes its signal map in a static memory block named `info`, packed
//! with eosal's `osal_compress_json()`. A server that does not know the device unpacks the
//! block and learns the device's memory blocks and signals at run time.
//!
//! ```text
//! +-----------+---------------------+-----------+------------------+---------+
//! | intser(D) | D dictionary bytes  | intser(C) | C content bytes  | CRC16 LE|  [ignored]
//! +-----------+---------------------+-----------+------------------+---------+
//!   dictionary: NUL-terminated UTF-8 strings, referenced as 40 + byte offset
//!   content:    items intser(code + 16 * tag) [payload]; the root object's members
//!   CRC:        CRC-16/MODBUS over every preceding byte, low byte first
//! ```
//!
//! * [`pack`] packs a tree of [`PackedValue`]s exactly as the C packer packs the JSON text
//!   that tree stands for: static dictionary entries for keys and strings that equal one,
//!   every other string appended to the dictionary once (keys and values share it), the
//!   item codes of §15.4, floats as single-precision mantissa/exponent pairs.
//! * [`pack_json_text`] packs JSON text. It reads the text with a strict JSON tokenizer
//!   and classifies every value the way the C packer does (see *Why a text entry point*
//!   below), so `pack_json_text(text, &PackOptions::info_block())` reproduces the bytes
//!   the IOCOM build puts into `info`.
//! * [`unpack`] reads packed JSON back into a [`PackedValue::Object`] (the root).
//!   [`PackedValue::to_json_text`] turns it into JSON text for a signal-map parser.
//!
//! # Why a text entry point
//!
//! The C packer decides on the *text*: a quoted value is always a string (`"5"` stays a
//! string), an unquoted one that parses completely as an integer becomes an integer
//! (`0` and `1` get their own one-byte codes), any other unquoted number becomes a float
//! (`1.0` and `0.0` still get the integer codes, `1e3` is the float 1000), `null`, `true`
//! and `false` become the empty value and the integers 1 and 0 unless "keep quirks" is
//! asked for. A generic JSON value type loses the text (`1e3` vs `1000`), so the tree
//! type here, [`PackedValue`], keeps the distinction the packer needs (`Int` vs `Float`,
//! `String` vs numbers), and [`pack_json_text`] builds that tree from text with the C
//! conversions (`osal_str_to_int`, which wraps outside the 64-bit range, and
//! `osal_str_to_double`, which scales by powers of ten).
//!
//! Deliberate differences from the C packer, all on input the C packer mishandles:
//!
//! * a number directly followed by `]` (`[1,2]`) is packed correctly; the C packer reads
//!   `2]` as the number's text and produces a broken item stream (reference §20 quirk 14);
//! * empty objects (`{}`) are packed as start + end items; the C packer fails on them;
//! * `\uD83D\uDE00` surrogate pairs are combined into one character (the C packer encodes
//!   each half separately); lone surrogates are rejected;
//! * strings containing NUL cannot be packed (the dictionary is NUL-terminated) and are
//!   an error instead of silently corrupting the dictionary;
//! * password hashing for account files (`OSAL_JSON_HASH_PASSWORDS`) is not done.
//!
//! # Unpacking guarantees
//!
//! [`unpack`] never panics. It verifies the CRC before looking at the content, accepts
//! trailing bytes after the CRC (a memory block may be larger than its packed content),
//! nests at most [`MAX_DEPTH`] levels of objects and arrays (the root included), and materialises at most
//! [`MAX_TEXT_EXPANSION`] × the input length bytes of keys and strings (a dictionary
//! string may be referenced many times), so nothing it allocates is out of proportion
//! to the input. Floats are decoded as the C reader decodes them (`osal_ints2float`:
//! single precision, clamped exponent), so a decoded float is always finite.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::codec::{Fail, Reader, crc16_modbus, put_intser};

/// The static dictionary (`osal_static_json_dict`): references 0..=38 name these strings;
/// 39 is unused; 40 and up are dictionary offsets (+ 40).
pub const STATIC_DICTIONARY: [&str; 39] = [
    "-",
    "groups",
    "signals",
    "name",
    "array",
    "type",
    "addr",
    "bank",
    "unit",
    "min",
    "max",
    "digs",
    "mblk",
    "pflag",
    "boolean",
    "char",
    "uchar",
    "short",
    "ushort",
    "int",
    "uint",
    "long",
    "float",
    "double",
    "str",
    "exp",
    "imp",
    "*",
    "network",
    "publish",
    "connect",
    "flags",
    "transport",
    "parameters",
    "device_nr",
    "network_name",
    "password",
    "gateway",
    "subnet",
];

/// First dictionary reference that is an offset into the packed dictionary
/// (`OSAL_JSON_DICT_N_STATIC`).
pub const FIRST_DYNAMIC_REFERENCE: i64 = 40;

/// Deepest nesting of objects and arrays that [`pack`], [`pack_json_text`] and [`unpack`]
/// accept, the root object included (as ferrocom-spec's JSON reader counts).
pub const MAX_DEPTH: usize = 64;

/// [`unpack`] materialises at most this many bytes of keys and strings per input byte.
pub const MAX_TEXT_EXPANSION: usize = 32;

/// Item codes of the content stream (`osalJsonElementCode`, reference §15.4).
pub mod code {
    /// Start of an object.
    pub const START_OBJECT: i64 = 0;
    /// End of an object (tag 0).
    pub const END_OBJECT: i64 = 1;
    /// Empty value: `""`, and unquoted `null` unless keeping quirks.
    pub const EMPTY: i64 = 2;
    /// String: followed by intser(dictionary reference).
    pub const STRING: i64 = 3;
    /// Integer 0 (also `false`, and a float equal to 0.0).
    pub const ZERO: i64 = 4;
    /// Integer 1 (also `true`, and a float equal to 1.0).
    pub const ONE: i64 = 5;
    /// Integer: followed by intser(value).
    pub const INTEGER: i64 = 6;
    /// Float: followed by intser(mantissa), then intser(exponent) if the mantissa ≠ 0.
    pub const FLOAT: i64 = 7;
    /// Start of an array; elements follow with tag 0.
    pub const START_ARRAY: i64 = 8;
    /// End of an array (tag 0).
    pub const END_ARRAY: i64 = 9;
    /// `null`, only when packed with "keep quirks".
    pub const NULL: i64 = 10;
    /// `true`, only when packed with "keep quirks".
    pub const TRUE: i64 = 11;
    /// `false`, only when packed with "keep quirks".
    pub const FALSE: i64 = 12;
}

/// A JSON value as packed JSON stores it.
///
/// The variants are what the packer distinguishes; see the module docs. Unpacking yields
/// `Int` for codes 4, 5 and 6 (so `true` packed without quirks comes back as `Int(1)`),
/// `Empty` for code 2, and `Null`/`Bool` only for the "keep quirks" codes 10–12.
#[derive(Debug, Clone, PartialEq)]
pub enum PackedValue {
    /// An object: members in document order (duplicate keys are kept as they are).
    Object(Vec<(String, PackedValue)>),
    /// An array.
    Array(Vec<PackedValue>),
    /// A string (quoted in the JSON text). Packed as [`PackedValue::Empty`] when empty.
    String(String),
    /// An integer (unquoted text that is an integer).
    Int(i64),
    /// A number with a fraction or exponent. Packed as a single-precision float.
    Float(f64),
    /// `null` (packed as `Empty` unless keeping quirks).
    Null,
    /// `true` / `false` (packed as 1 / 0 unless keeping quirks).
    Bool(bool),
    /// The empty value (`""` or unquoted `null`).
    Empty,
}

/// Options of [`pack`] and [`pack_json_text`] (the `skip_tags` and `flags` arguments of
/// `osal_compress_json()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackOptions {
    /// Members with one of these keys are left out, with their whole value, at any depth.
    pub skip_keys: Vec<String>,
    /// `OSAL_JSON_KEEP_QUIRKS`: keep `null`, `true` and `false` as codes 10, 11 and 12.
    pub keep_quirks: bool,
}

impl PackOptions {
    /// What the IOCOM build uses for the `info` block: `title` keys removed, no quirks.
    pub fn info_block() -> Self {
        PackOptions {
            skip_keys: alloc::vec![String::from("title")],
            keep_quirks: false,
        }
    }
}

/// What went wrong while packing or unpacking.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PackedJsonError {
    /// The input ended inside the named part.
    Truncated {
        /// Byte offset where the part began.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// An intser used more than 8 following bytes or did not fit 64 bits.
    BadIntser {
        /// Byte offset of the intser.
        offset: usize,
    },
    /// A length field was negative or larger than the input.
    BadLength {
        /// Byte offset of the length.
        offset: usize,
        /// Which length.
        what: &'static str,
        /// The value found.
        value: i64,
    },
    /// The stored CRC does not match the bytes before it.
    Checksum {
        /// CRC-16/MODBUS computed over the preceding bytes.
        computed: u16,
        /// CRC stored in the input.
        stored: u16,
    },
    /// A key or string referenced something that is neither a static dictionary entry nor
    /// the start of text inside the dictionary.
    BadReference {
        /// Byte offset of the item.
        offset: usize,
        /// The reference.
        reference: i64,
    },
    /// A dictionary string is not UTF-8 or has no terminating NUL.
    BadDictionaryString {
        /// Byte offset of the item that referenced it.
        offset: usize,
    },
    /// An item code outside 0..=12.
    UnknownCode {
        /// Byte offset of the item.
        offset: usize,
        /// The code (low 4 bits of the item).
        code: i64,
    },
    /// An item that does not fit where it is: an end of object or array that closes
    /// nothing, or an element of an array with a key.
    Misplaced {
        /// Byte offset of the item.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// The content ended while an object or array was still open.
    Unclosed {
        /// Byte offset of the end of the content.
        offset: usize,
    },
    /// Objects and arrays nest deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Byte offset where the limit was exceeded.
        offset: usize,
    },
    /// The keys and strings would need more than [`MAX_TEXT_EXPANSION`] × input bytes.
    TooMuchText {
        /// Byte offset of the item that exceeded the budget.
        offset: usize,
    },
    /// Packing: a key or string contains a NUL character.
    NulInString,
    /// Packing text: the JSON text is not valid JSON.
    Json {
        /// Byte offset in the text.
        offset: usize,
        /// What was wrong.
        message: &'static str,
    },
    /// Packing text: the top-level value is not an object (the packer requires one).
    RootNotObject,
}

impl fmt::Display for PackedJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PackedJsonError::*;
        match self {
            Truncated { offset, what } => {
                write!(
                    f,
                    "packed JSON at byte {offset}: input ends inside the {what}"
                )
            }
            BadIntser { offset } => write!(f, "packed JSON at byte {offset}: invalid intser"),
            BadLength {
                offset,
                what,
                value,
            } => write!(
                f,
                "packed JSON at byte {offset}: {what} {value} does not fit the input"
            ),
            Checksum { computed, stored } => write!(
                f,
                "packed JSON: CRC mismatch (stored 0x{stored:04X}, computed 0x{computed:04X})"
            ),
            BadReference { offset, reference } => write!(
                f,
                "packed JSON at byte {offset}: dictionary reference {reference} names no string"
            ),
            BadDictionaryString { offset } => write!(
                f,
                "packed JSON at byte {offset}: referenced dictionary string is not NUL-terminated UTF-8"
            ),
            UnknownCode { offset, code } => {
                write!(f, "packed JSON at byte {offset}: unknown item code {code}")
            }
            Misplaced { offset, what } => write!(f, "packed JSON at byte {offset}: {what}"),
            Unclosed { offset } => write!(
                f,
                "packed JSON at byte {offset}: content ends inside an object or array"
            ),
            TooDeep { offset } => write!(
                f,
                "packed JSON at byte {offset}: nesting deeper than {MAX_DEPTH} levels"
            ),
            TooMuchText { offset } => write!(
                f,
                "packed JSON at byte {offset}: strings expand beyond {MAX_TEXT_EXPANSION} times the input size"
            ),
            NulInString => f.write_str("packed JSON: a key or string contains NUL"),
            Json { offset, message } => write!(f, "JSON text at byte {offset}: {message}"),
            RootNotObject => f.write_str("packed JSON: the top-level JSON value must be an object"),
        }
    }
}

impl core::error::Error for PackedJsonError {}

// ---------------------------------------------------------------------------------------
// Floats

/// `osal_float2ints`: splits a single-precision float into an integer mantissa (implicit
/// leading 1 included, trailing zero bits removed, sign applied) and a binary exponent,
/// value = m / 2^(bitlength(|m|) − 1) × 2^e. Zero (+0.0 only) is (0, 0). Like the C code,
/// subnormals, infinities and NaNs are split with the same formula (exponent −127 or 128).
pub fn float_to_ints(x: f32) -> (i64, i64) {
    let bits = x.to_bits();
    if bits == 0 {
        return (0, 0);
    }
    let negative = bits & 0x8000_0000 != 0;
    let magnitude = bits & 0x7FFF_FFFF;
    let e = i64::from(magnitude >> 23) - 127;
    let mut m = (magnitude & 0x007F_FFFF) | 0x0080_0000;
    m >>= m.trailing_zeros();
    let m = i64::from(m);
    (if negative { -m } else { m }, e)
}

/// `osal_ints2float` as the C reader calls it (exponent cast to 16 bits): the inverse of
/// [`float_to_ints`] for normal floats. Mantissas wider than 24 bits are truncated,
/// exponents below −126 give the smallest normal float, above 127 the largest finite one.
pub fn ints_to_float(m: i64, e: i64) -> f32 {
    if m == 0 {
        return 0.0;
    }
    let sign = if m < 0 { 0x8000_0000u32 } else { 0 };
    let mut m = m.unsigned_abs();
    let mut e = i32::from(e as i16);
    if e < -126 {
        e = -126;
        m = 0x80_0000;
    }
    if e > 127 {
        e = 127;
        m = 0xFF_FFFF;
    }
    while m >= 0x100_0000 {
        m >>= 1;
    }
    while m < 0x80_0000 {
        m <<= 1;
    }
    m &= !0x80_0000;
    // e + 127 is in 1..=254 here.
    let biased = (e + 127) as u32;
    f32::from_bits((m as u32) | (biased << 23) | sign)
}

/// `osal_str_to_int` on a JSON integer literal: decimal digits with an optional `-`,
/// accumulated with 64-bit wrap-around like the C code.
fn c_str_to_int(text: &str) -> i64 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let x = digits.bytes().fold(0i64, |x, d| {
        x.wrapping_mul(10)
            .wrapping_add(i64::from(d.wrapping_sub(b'0')))
    });
    if negative { x.wrapping_neg() } else { x }
}

/// `osal_str_to_double` on a JSON number literal: digits accumulated in a double, then
/// scaled by powers of ten computed by repeated squaring (not correctly rounded; the
/// packer rounds the result to single precision anyway).
fn c_str_to_double(text: &str) -> f64 {
    let b = text.as_bytes();
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let mut number = 0.0f64;
    let mut exponent: i32 = 0;
    while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        number = number * 10.0 + f64::from(d - b'0');
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut decimals: i32 = 0;
        while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            number = number * 10.0 + f64::from(d - b'0');
            i += 1;
            decimals = decimals.wrapping_add(1);
        }
        exponent = exponent.wrapping_sub(decimals);
    }
    if negative {
        number = -number;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let mut exp_negative = false;
        match b.get(i) {
            Some(b'-') => {
                exp_negative = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let mut n: i32 = 0;
        while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            n = n.wrapping_mul(10).wrapping_add(i32::from(d - b'0'));
            i += 1;
        }
        exponent = if exp_negative {
            exponent.wrapping_sub(n)
        } else {
            exponent.wrapping_add(n)
        };
    }
    let mut p10 = 10.0f64;
    let mut n = exponent.unsigned_abs();
    while n != 0 {
        if n & 1 != 0 {
            if exponent < 0 {
                number /= p10;
            } else {
                number *= p10;
            }
        }
        n >>= 1;
        p10 *= p10;
    }
    number
}

// ---------------------------------------------------------------------------------------
// Packing

struct Packer<'o> {
    opts: &'o PackOptions,
    dictionary: Vec<u8>,
    /// Dictionary offset of every string added so far.
    index: BTreeMap<String, usize>,
    content: Vec<u8>,
}

impl Packer<'_> {
    /// `osal_add_string_to_json_dict`: a static entry if one matches, else the offset of the
    /// string in the dictionary (+ 40), appending it the first time.
    fn reference(&mut self, s: &str) -> Result<i64, PackedJsonError> {
        if s.contains('\0') {
            return Err(PackedJsonError::NulInString);
        }
        if let Some(ix) = STATIC_DICTIONARY.iter().position(|e| *e == s) {
            return Ok(ix as i64);
        }
        let offset = match self.index.get(s) {
            Some(&o) => o,
            None => {
                let o = self.dictionary.len();
                self.dictionary.extend_from_slice(s.as_bytes());
                self.dictionary.push(0);
                self.index.insert(String::from(s), o);
                o
            }
        };
        Ok(FIRST_DYNAMIC_REFERENCE + offset as i64)
    }

    fn item(&mut self, code: i64, tag: i64) {
        put_intser(&mut self.content, code + (tag << 4));
    }

    fn members(
        &mut self,
        members: &[(String, PackedValue)],
        depth: usize,
    ) -> Result<(), PackedJsonError> {
        for (key, value) in members {
            if self.opts.skip_keys.iter().any(|k| k == key) {
                continue;
            }
            let tag = self.reference(key)?;
            self.value(value, tag, depth)?;
        }
        Ok(())
    }

    fn value(&mut self, v: &PackedValue, tag: i64, depth: usize) -> Result<(), PackedJsonError> {
        match v {
            PackedValue::Object(members) => {
                // Members of the root are at depth 0: this container is level depth + 2.
                if depth + 2 > MAX_DEPTH {
                    return Err(PackedJsonError::TooDeep { offset: 0 });
                }
                self.item(code::START_OBJECT, tag);
                self.members(members, depth + 1)?;
                self.item(code::END_OBJECT, 0);
            }
            PackedValue::Array(elements) => {
                // Members of the root are at depth 0: this container is level depth + 2.
                if depth + 2 > MAX_DEPTH {
                    return Err(PackedJsonError::TooDeep { offset: 0 });
                }
                self.item(code::START_ARRAY, tag);
                for e in elements {
                    self.value(e, 0, depth + 1)?;
                }
                self.item(code::END_ARRAY, 0);
            }
            PackedValue::String(s) if s.is_empty() => self.item(code::EMPTY, tag),
            PackedValue::String(s) => {
                self.item(code::STRING, tag);
                let r = self.reference(s)?;
                put_intser(&mut self.content, r);
            }
            PackedValue::Empty => self.item(code::EMPTY, tag),
            PackedValue::Int(0) => self.item(code::ZERO, tag),
            PackedValue::Int(1) => self.item(code::ONE, tag),
            PackedValue::Int(i) => {
                self.item(code::INTEGER, tag);
                put_intser(&mut self.content, *i);
            }
            PackedValue::Float(x) if *x == 0.0 => self.item(code::ZERO, tag),
            PackedValue::Float(x) if *x == 1.0 => self.item(code::ONE, tag),
            PackedValue::Float(x) => {
                self.item(code::FLOAT, tag);
                let (m, e) = float_to_ints(*x as f32);
                put_intser(&mut self.content, m);
                if m != 0 {
                    put_intser(&mut self.content, e);
                }
            }
            PackedValue::Null if self.opts.keep_quirks => self.item(code::NULL, tag),
            PackedValue::Null => self.item(code::EMPTY, tag),
            PackedValue::Bool(b) => {
                let c = match (self.opts.keep_quirks, b) {
                    (true, true) => code::TRUE,
                    (true, false) => code::FALSE,
                    (false, true) => code::ONE,
                    (false, false) => code::ZERO,
                };
                self.item(c, tag);
            }
        }
        Ok(())
    }

    fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.dictionary.len() + self.content.len() + 20);
        put_intser(&mut out, self.dictionary.len() as i64);
        out.extend_from_slice(&self.dictionary);
        put_intser(&mut out, self.content.len() as i64);
        out.extend_from_slice(&self.content);
        let crc = crc16_modbus(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// Packs the members of a root object (the root has no start/end items).
///
/// Errors: a key or string containing NUL, or nesting deeper than [`MAX_DEPTH`].
///
/// ```
/// use ferrocom_core::packed_json::{pack, unpack, PackOptions, PackedValue};
/// let root = vec![("name".to_string(), PackedValue::String("gina".into()))];
/// let bytes = pack(&root, &PackOptions::default())?;
/// assert_eq!(bytes[..7], [0x05, b'g', b'i', b'n', b'a', 0, 0x04]);
/// assert_eq!(unpack(&bytes)?, PackedValue::Object(root));
/// # Ok::<(), ferrocom_core::packed_json::PackedJsonError>(())
/// ```
pub fn pack(
    root_members: &[(String, PackedValue)],
    opts: &PackOptions,
) -> Result<Vec<u8>, PackedJsonError> {
    let mut p = Packer {
        opts,
        dictionary: Vec::new(),
        index: BTreeMap::new(),
        content: Vec::new(),
    };
    p.members(root_members, 0)?;
    Ok(p.finish())
}

/// Packs JSON text (RFC 8259; the top level must be an object) as `osal_compress_json()`
/// packs it; see the module docs for how values are classified and where the result
/// deliberately differs from the C packer.
pub fn pack_json_text(text: &str, opts: &PackOptions) -> Result<Vec<u8>, PackedJsonError> {
    match parse_json_text(text)? {
        PackedValue::Object(members) => pack(&members, opts),
        _ => Err(PackedJsonError::RootNotObject),
    }
}

/// Reads JSON text (RFC 8259) into the tree [`pack`] takes: quoted values become
/// `String`, integer literals `Int` (wrapping like `osal_str_to_int`), other numbers
/// `Float` (converted like `osal_str_to_double`), `null` `Null`, `true`/`false` `Bool`.
pub fn parse_json_text(text: &str) -> Result<PackedValue, PackedJsonError> {
    let mut t = Tokenizer {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    t.ws();
    let v = t.value(0)?;
    t.ws();
    if t.pos != t.s.len() {
        return Err(t.err("unexpected text after the top-level value"));
    }
    Ok(v)
}

/// A strict JSON reader producing [`PackedValue`]s.
struct Tokenizer<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Tokenizer<'_> {
    fn err(&self, message: &'static str) -> PackedJsonError {
        PackedJsonError::Json {
            offset: self.pos,
            message,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<PackedValue, PackedJsonError> {
        match self.peek() {
            None => Err(self.err("expected a value, found the end of the text")),
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.err("objects and arrays nest too deeply"));
                }
                self.pos += 1;
                let mut members = Vec::new();
                self.ws();
                if self.eat(b'}') {
                    return Ok(PackedValue::Object(members));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a quoted key"));
                    }
                    let key = self.string()?;
                    self.ws();
                    if !self.eat(b':') {
                        return Err(self.err("expected `:` after a key"));
                    }
                    self.ws();
                    let v = self.value(depth + 1)?;
                    members.push((key, v));
                    self.ws();
                    if self.eat(b',') {
                        continue;
                    }
                    if self.eat(b'}') {
                        return Ok(PackedValue::Object(members));
                    }
                    return Err(self.err("expected `,` or `}` after an object member"));
                }
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.err("objects and arrays nest too deeply"));
                }
                self.pos += 1;
                let mut elements = Vec::new();
                self.ws();
                if self.eat(b']') {
                    return Ok(PackedValue::Array(elements));
                }
                loop {
                    self.ws();
                    elements.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(b',') {
                        continue;
                    }
                    if self.eat(b']') {
                        return Ok(PackedValue::Array(elements));
                    }
                    return Err(self.err("expected `,` or `]` after an array element"));
                }
            }
            Some(b'"') => Ok(PackedValue::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                for (word, v) in [
                    ("null", PackedValue::Null),
                    ("true", PackedValue::Bool(true)),
                    ("false", PackedValue::Bool(false)),
                ] {
                    if self.s.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
                        self.pos += word.len();
                        return Ok(v);
                    }
                }
                Err(self.err("expected a value"))
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<PackedValue, PackedJsonError> {
        let start = self.pos;
        self.eat(b'-');
        let int_start = self.pos;
        match self.digits() {
            0 => return Err(self.err("expected a digit")),
            n if n > 1 && self.s.get(int_start) == Some(&b'0') => {
                self.pos = int_start;
                return Err(self.err("leading zeros are not allowed"));
            }
            _ => {}
        }
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            if self.digits() == 0 {
                return Err(self.err("expected a digit after `.`"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return Err(self.err("expected a digit in the exponent"));
            }
        }
        let text = self.text.get(start..self.pos).unwrap_or("");
        Ok(if integer {
            PackedValue::Int(c_str_to_int(text))
        } else {
            PackedValue::Float(c_str_to_double(text))
        })
    }

    fn hex4(&mut self) -> Result<u32, PackedJsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("expected 4 hex digits after `\\u`")),
            };
            v = (v << 4) | u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, PackedJsonError> {
        // At the opening quote.
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while matches!(self.peek(), Some(c) if c != b'"' && c != b'\\' && c >= 0x20) {
                self.pos += 1;
            }
            // The run is whole UTF-8 characters: it ends before an ASCII byte or the end.
            out.push_str(self.text.get(run_start..self.pos).unwrap_or(""));
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if !(self.eat(b'\\') && self.eat(b'u')) {
                                    return Err(self.err("lone high surrogate in `\\u` escape"));
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("invalid low surrogate in `\\u` escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.err("lone low surrogate in `\\u` escape"));
                            } else {
                                hi
                            };
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                            continue;
                        }
                        _ => return Err(self.err("invalid escape in string")),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Unpacking

/// Unpacks packed JSON; returns the root as a [`PackedValue::Object`]. Bytes after the CRC
/// are ignored. See the module docs for the guarantees.
pub fn unpack(bytes: &[u8]) -> Result<PackedValue, PackedJsonError> {
    unpack_with_len(bytes).map(|(v, _)| v)
}

/// Like [`unpack`], also returning the packed length (up to and including the CRC).
pub fn unpack_with_len(bytes: &[u8]) -> Result<(PackedValue, usize), PackedJsonError> {
    let mut r = Reader::exact(bytes);
    let dict_len = length(&mut r, "dictionary length")?;
    let dict_start = r.pos();
    let dictionary = r.bytes(dict_len).map_err(|_| PackedJsonError::Truncated {
        offset: dict_start,
        what: "dictionary",
    })?;
    let content_len = length(&mut r, "content length")?;
    let content_start = r.pos();
    r.skip(content_len)
        .map_err(|_| PackedJsonError::Truncated {
            offset: content_start,
            what: "content",
        })?;
    let content_end = r.pos();
    let stored = r.bytes(2).map_err(|_| PackedJsonError::Truncated {
        offset: content_end,
        what: "CRC",
    })?;
    let stored = u16::from_le_bytes([
        stored.first().copied().unwrap_or(0),
        stored.get(1).copied().unwrap_or(0),
    ]);
    let computed = crc16_modbus(bytes.get(..content_end).unwrap_or(&[]));
    if computed != stored {
        return Err(PackedJsonError::Checksum { computed, stored });
    }
    let mut u = Unpacker {
        r: Reader::exact(bytes.get(..content_end).unwrap_or(&[])),
        dictionary,
        budget: bytes.len().saturating_mul(MAX_TEXT_EXPANSION),
    };
    u.r.skip(content_start)
        .map_err(|_| PackedJsonError::Truncated {
            offset: content_start,
            what: "content",
        })?;
    let root = u.object_members(0, true)?;
    Ok((PackedValue::Object(root), content_end + 2))
}

/// Reads a non-negative intser length that fits in the rest of the input.
fn length(r: &mut Reader<'_>, what: &'static str) -> Result<usize, PackedJsonError> {
    let offset = r.pos();
    let v = intser(r)?;
    match usize::try_from(v) {
        Ok(n) if n <= r.remaining() => Ok(n),
        _ => Err(PackedJsonError::BadLength {
            offset,
            what,
            value: v,
        }),
    }
}

fn intser(r: &mut Reader<'_>) -> Result<i64, PackedJsonError> {
    let offset = r.pos();
    r.intser().map_err(|f| match f {
        Fail::Incomplete(_) => PackedJsonError::Truncated {
            offset,
            what: "intser",
        },
        Fail::Invalid(e) => match e.kind {
            crate::codec::DecodeErrorKind::Truncated { .. } => PackedJsonError::Truncated {
                offset,
                what: "intser",
            },
            _ => PackedJsonError::BadIntser { offset },
        },
    })
}

struct Unpacker<'a> {
    /// Reader over everything up to the end of the content, positioned in the content.
    r: Reader<'a>,
    dictionary: &'a [u8],
    /// Bytes of keys and strings that may still be materialised.
    budget: usize,
}

/// One decoded item header.
struct Item {
    offset: usize,
    code: i64,
    tag: i64,
}

impl Unpacker<'_> {
    fn item(&mut self) -> Result<Item, PackedJsonError> {
        let offset = self.r.pos();
        let raw = intser(&mut self.r)?;
        if raw < 0 {
            return Err(PackedJsonError::UnknownCode { offset, code: raw });
        }
        Ok(Item {
            offset,
            code: raw & 15,
            tag: raw >> 4,
        })
    }

    /// The string a dictionary reference names.
    fn text(&mut self, reference: i64, offset: usize) -> Result<String, PackedJsonError> {
        let bad = PackedJsonError::BadReference { offset, reference };
        let s = if reference < FIRST_DYNAMIC_REFERENCE {
            let ix = usize::try_from(reference).map_err(|_| bad.clone())?;
            *STATIC_DICTIONARY.get(ix).ok_or(bad)?
        } else {
            let start =
                usize::try_from(reference - FIRST_DYNAMIC_REFERENCE).map_err(|_| bad.clone())?;
            let tail = self.dictionary.get(start..).filter(|t| !t.is_empty());
            let tail = tail.ok_or(bad)?;
            let end = tail
                .iter()
                .position(|&b| b == 0)
                .ok_or(PackedJsonError::BadDictionaryString { offset })?;
            let raw = tail.get(..end).unwrap_or(&[]);
            core::str::from_utf8(raw)
                .map_err(|_| PackedJsonError::BadDictionaryString { offset })?
        };
        self.budget = self
            .budget
            .checked_sub(s.len())
            .ok_or(PackedJsonError::TooMuchText { offset })?;
        Ok(String::from(s))
    }

    /// Members of an object up to its end item (or, for the root, the end of the content).
    fn object_members(
        &mut self,
        depth: usize,
        root: bool,
    ) -> Result<Vec<(String, PackedValue)>, PackedJsonError> {
        let mut members = Vec::new();
        loop {
            if self.r.remaining() == 0 {
                if root {
                    return Ok(members);
                }
                return Err(PackedJsonError::Unclosed {
                    offset: self.r.pos(),
                });
            }
            let item = self.item()?;
            match item.code {
                code::END_OBJECT if root => {
                    return Err(PackedJsonError::Misplaced {
                        offset: item.offset,
                        what: "end of object at the top level",
                    });
                }
                code::END_OBJECT => return Ok(members),
                code::END_ARRAY => {
                    return Err(PackedJsonError::Misplaced {
                        offset: item.offset,
                        what: "end of array inside an object",
                    });
                }
                _ => {
                    let key = self.text(item.tag, item.offset)?;
                    let value = self.value(&item, depth)?;
                    members.push((key, value));
                }
            }
        }
    }

    fn array_elements(&mut self, depth: usize) -> Result<Vec<PackedValue>, PackedJsonError> {
        let mut elements = Vec::new();
        loop {
            if self.r.remaining() == 0 {
                return Err(PackedJsonError::Unclosed {
                    offset: self.r.pos(),
                });
            }
            let item = self.item()?;
            match item.code {
                code::END_ARRAY => return Ok(elements),
                code::END_OBJECT => {
                    return Err(PackedJsonError::Misplaced {
                        offset: item.offset,
                        what: "end of object inside an array",
                    });
                }
                _ if item.tag != 0 => {
                    return Err(PackedJsonError::Misplaced {
                        offset: item.offset,
                        what: "array element with a key",
                    });
                }
                _ => elements.push(self.value(&item, depth)?),
            }
        }
    }

    /// The value of an item whose header has been read (not an end item).
    fn value(&mut self, item: &Item, depth: usize) -> Result<PackedValue, PackedJsonError> {
        Ok(match item.code {
            // Members of the root are at depth 0: this container is level depth + 2.
            code::START_OBJECT | code::START_ARRAY if depth + 2 > MAX_DEPTH => {
                return Err(PackedJsonError::TooDeep {
                    offset: item.offset,
                });
            }
            code::START_OBJECT => PackedValue::Object(self.object_members(depth + 1, false)?),
            code::START_ARRAY => PackedValue::Array(self.array_elements(depth + 1)?),
            code::EMPTY => PackedValue::Empty,
            code::STRING => {
                let reference = intser(&mut self.r)?;
                PackedValue::String(self.text(reference, item.offset)?)
            }
            code::ZERO => PackedValue::Int(0),
            code::ONE => PackedValue::Int(1),
            code::INTEGER => PackedValue::Int(intser(&mut self.r)?),
            code::FLOAT => {
                let m = intser(&mut self.r)?;
                let e = if m != 0 { intser(&mut self.r)? } else { 0 };
                PackedValue::Float(f64::from(ints_to_float(m, e)))
            }
            code::NULL => PackedValue::Null,
            code::TRUE => PackedValue::Bool(true),
            code::FALSE => PackedValue::Bool(false),
            other => {
                return Err(PackedJsonError::UnknownCode {
                    offset: item.offset,
                    code: other,
                });
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// JSON text output

impl PackedValue {
    /// JSON text of this value, pretty-printed like Python's `json.dumps(v, indent=4)`
    /// (the format of IOCOM's merged signal maps): 4-space indentation, `": "` after
    /// keys, non-ASCII characters as `\uXXXX`. `Empty` is `""`; a float is written with
    /// the fewest digits that the packer reads back as the same single-precision value
    /// when it is one (every unpacked float is), otherwise exactly, so packing the text
    /// again always reproduces the float's bytes; a non-finite float is written as
    /// `null`.
    pub fn to_json_text(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out, 0);
        out
    }

    fn write_json(&self, out: &mut String, indent: usize) {
        use core::fmt::Write as _;
        match self {
            PackedValue::Object(members) if members.is_empty() => out.push_str("{}"),
            PackedValue::Object(members) => {
                out.push('{');
                for (n, (k, v)) in members.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    newline(out, indent + 1);
                    write_json_string(out, k);
                    out.push_str(": ");
                    v.write_json(out, indent + 1);
                }
                newline(out, indent);
                out.push('}');
            }
            PackedValue::Array(elements) if elements.is_empty() => out.push_str("[]"),
            PackedValue::Array(elements) => {
                out.push('[');
                for (n, v) in elements.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    newline(out, indent + 1);
                    v.write_json(out, indent + 1);
                }
                newline(out, indent);
                out.push(']');
            }
            PackedValue::String(s) => write_json_string(out, s),
            PackedValue::Empty => out.push_str("\"\""),
            PackedValue::Int(i) => {
                let _ = write!(out, "{i}");
            }
            PackedValue::Float(x) if !x.is_finite() => out.push_str("null"),
            PackedValue::Float(x) => {
                let single = *x as f32;
                let short = alloc::format!("{single:?}");
                // The shortest text, if the C packer's (not correctly rounded) decimal
                // conversion reads it back as the same single; else the exact value.
                if f64::from(single) == *x && c_str_to_double(&short) as f32 == single {
                    out.push_str(&short);
                } else {
                    let _ = write!(out, "{x:?}");
                }
            }
            PackedValue::Null => out.push_str("null"),
            PackedValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }

    /// The members if this is an object.
    pub fn as_object(&self) -> Option<&[(String, PackedValue)]> {
        match self {
            PackedValue::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The value of the first member named `key`, if this is an object.
    pub fn get(&self, key: &str) -> Option<&PackedValue> {
        self.as_object()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    for _ in 0..indent {
        out.push_str("    ");
    }
}

/// Appends `s` as a JSON string literal with Python's `ensure_ascii` escaping (the form
/// IOCOM's tools write, so text written back reads the same as the originals).
pub fn write_json_string(out: &mut String, s: &str) {
    use core::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_examples_of_the_reference() {
        assert_eq!(float_to_ints(1.5), (3, 0));
        assert_eq!(float_to_ints(100.0), (25, 6));
        assert_eq!(float_to_ints(-2.0), (-1, 1));
        assert_eq!(float_to_ints(0.1), (13_421_773, -4));
        for x in [1.5f32, 100.0, -2.0, 0.1, 3.25e-20, -7.0e30] {
            let (m, e) = float_to_ints(x);
            assert_eq!(ints_to_float(m, e), x);
        }
    }

    #[test]
    fn c_number_conversions() {
        assert_eq!(c_str_to_int("-0"), 0);
        assert_eq!(c_str_to_int("9223372036854775808"), i64::MIN);
        assert_eq!(c_str_to_double("1e3"), 1000.0);
        assert_eq!(c_str_to_double("-2.5E-1"), -0.25);
        assert_eq!(c_str_to_double("0.1") as f32, 0.1f32);
    }
}
