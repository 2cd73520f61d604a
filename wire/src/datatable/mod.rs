//! Iotellect (AggreGate) Data Tables in their classic text encoding (reference
//! iotellect §5): the values every variable, function input and output, and event
//! carries.
//!
//! A table is a sequence of *elements* `START [name SEP] value END` — bytes 0x1C, 0x1E,
//! 0x1D on the wire, shown here as `<`, `=`, `>` — found by counting depth, so values
//! nest:
//!
//! ```text
//! <F=<<value><I><A=0>><M=1><X=1>><R=<42>>
//!  │  └ field "value", type I, default 0  │
//!  │                  min 1, max 1 record └ one record, value 42
//!  └ the table format (left out when the receiver knows it)
//! ```
//!
//! * [`DataTable`], [`TableFormat`], [`FieldFormat`], [`Value`] are the value model; the
//!   ten field types are [`FieldType`]. Elements this implementation does not know are
//!   kept as [`RawElement`]s and sent on.
//! * [`DataTable::decode`] and [`DataTable::encode`] convert, given the negotiated
//!   protocol [`Version`] (which decides how nested tables travel: escaped again in V2
//!   and V3, as they are in V4) and, for decoding, the format the receiver already
//!   knows. [`TableFormat`] and [`FieldFormat`] have the same pair, for format strings
//!   sent as values (the `G variables` reply) and for writing formats the way the SDK's
//!   code does, with visible separators ([`TableFormat::from_visible`]).
//! * [`text`] and [`date`] are the value texts: Java's `Float.toString` and
//!   `Double.toString`, and `yyyy-MM-dd HH:mm:ss.SSS` dates in UTC.
//!
//! What is encoded is what the Java SDK sends, byte for byte: defaults are always in a
//! field format, `M`/`X` only when not the defaults, strings and data blocks escaped
//! once ([`transfer`](crate::transforms::transfer)), a nested table's format left out
//! when its field's default is a table of the same format.
//!
//! # Limits
//!
//! Decoding never panics and never recurses without bound: tables nest at most
//! [`DecodeOptions::max_depth`] deep (default [`MAX_DEPTH`]), and element brackets are
//! matched by counting, not by recursion. Memory is bounded by the input: what is
//! decoded comes from the input's bytes, and copies the decoder makes of defaults and
//! known formats (for records that leave values out, for nested tables sent without
//! their format) may take at most 64 KiB plus 32 bytes per input byte, or decoding
//! fails with [`ErrorKind::DefaultsTooLarge`].
//!
//! # Example
//!
//! ```
//! use ferrocom_wire::datatable::{
//!     to_visible, DataTable, DecodeOptions, EncodeOptions, FieldFormat, FieldType,
//!     TableFormat, Value,
//! };
//!
//! let format = TableFormat::single(FieldFormat::new("value", FieldType::Integer));
//! let table = DataTable::new(format.clone()).with_record(vec![Value::Integer(42)]);
//!
//! let bytes = table.encode(&EncodeOptions::default())?;
//! assert_eq!(to_visible(&bytes), "<F=<<value><I><A=0>><M=1><X=1>><R=<42>>");
//!
//! // A receiver that knows the format is sent the records alone.
//! let short = table.encode(&EncodeOptions::default().without_format())?;
//! assert_eq!(short, b"\x1cR\x1e\x1c42\x1d\x1d");
//! let back = DataTable::decode(&short, &DecodeOptions::default().with_format(&format))?;
//! assert_eq!(back, table);
//! assert_eq!(back.get(0, "value"), Some(&Value::Integer(42)));
//! # Ok::<(), ferrocom_wire::datatable::TableError>(())
//! ```

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub mod date;
mod decode;
mod elements;
mod encode;
mod error;
mod model;
pub mod text;

pub use error::{ErrorKind, TableError};
pub use model::{
    Color, DEFAULT_DATE, DataBlock, DataTable, FieldFlags, FieldFormat, FieldType, RawElement,
    Record, SelectionValue, TableFlags, TableFormat, Value,
};

/// Element start on the wire (FS).
pub const ELEMENT_START: u8 = 0x1C;
/// Element end on the wire (GS).
pub const ELEMENT_END: u8 = 0x1D;
/// Name/value separator on the wire (RS).
pub const NAME_SEPARATOR: u8 = 0x1E;
/// A NULL value on the wire (SUB), the whole value of its element.
pub const NULL: u8 = 0x1A;

/// Default limit on how deep tables nest (the outermost table is level 1).
pub const MAX_DEPTH: usize = 32;

/// Default for [`EncodeOptions::max_len`]: 16 MiB, the most a peer inflates from a
/// compressed frame.
pub const MAX_LEN: usize = 16 << 20;

/// The most a `max_depth` option can allow: larger settings count as this, so the
/// decoder's recursion stays far from the stack's end on any thread.
pub const MAX_DEPTH_CEILING: usize = 64;

/// The protocol version a connection negotiated (Start); it decides how a nested
/// table travels inside its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// V2: nested tables escaped again, like strings.
    V2,
    /// V3: as V2.
    V3,
    /// V4: nested tables as they are, found by bracket counting. Also the rule of a
    /// plain `DataTable.encode()` in the SDK, with no version set.
    #[default]
    V4,
}

/// Which bytes separate elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// 0x1C, 0x1D, 0x1E and 0x1A for NULL: the wire.
    #[default]
    Invisible,
    /// `<`, `>`, `=` and `<NULL>` for NULL: the form the SDK's code writes formats in
    /// (and its `toString`). Strings in it cannot hold these characters.
    Visible,
}

impl Syntax {
    /// Element start.
    pub fn start(self) -> u8 {
        match self {
            Syntax::Invisible => ELEMENT_START,
            Syntax::Visible => b'<',
        }
    }

    /// Element end.
    pub fn end(self) -> u8 {
        match self {
            Syntax::Invisible => ELEMENT_END,
            Syntax::Visible => b'>',
        }
    }

    /// Name/value separator.
    pub fn sep(self) -> u8 {
        match self {
            Syntax::Invisible => NAME_SEPARATOR,
            Syntax::Visible => b'=',
        }
    }

    /// The whole value of an element holding NULL.
    pub fn null(self) -> &'static [u8] {
        match self {
            Syntax::Invisible => &[NULL],
            Syntax::Visible => b"<NULL>",
        }
    }
}

/// Formats a receiver cached under the ids senders gave them (`<F=..><D=n>` once, then
/// `<D=n>` alone).
pub trait FormatCache {
    /// The format cached under `id`.
    fn format(&self, id: i32) -> Option<&TableFormat>;
}

impl FormatCache for BTreeMap<i32, TableFormat> {
    fn format(&self, id: i32) -> Option<&TableFormat> {
        self.get(&id)
    }
}

/// How to decode.
#[derive(Clone, Copy)]
pub struct DecodeOptions<'a> {
    /// The negotiated protocol version (default V4).
    pub version: Version,
    /// The separators (default invisible, the wire).
    pub syntax: Syntax,
    /// The format the receiver knows (a variable's or function's declared format), used
    /// when the input does not carry one.
    pub known_format: Option<&'a TableFormat>,
    /// Formats cached by id, for `<D=n>` without a format. (`Sync`, so that options
    /// can travel between threads with the task that decodes.)
    pub format_cache: Option<&'a (dyn FormatCache + Sync)>,
    /// How deep tables may nest; deeper input is an error. At most
    /// [`MAX_DEPTH_CEILING`].
    pub max_depth: usize,
}

impl Default for DecodeOptions<'_> {
    fn default() -> Self {
        DecodeOptions::new(Version::V4)
    }
}

impl fmt::Debug for DecodeOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeOptions")
            .field("version", &self.version)
            .field("syntax", &self.syntax)
            .field("known_format", &self.known_format)
            .field("format_cache", &self.format_cache.map(|_| "..."))
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

impl<'a> DecodeOptions<'a> {
    /// Options for `version`, nothing known, invisible separators, [`MAX_DEPTH`].
    pub const fn new(version: Version) -> Self {
        DecodeOptions {
            version,
            syntax: Syntax::Invisible,
            known_format: None,
            format_cache: None,
            max_depth: MAX_DEPTH,
        }
    }

    /// With the format the receiver knows.
    #[must_use]
    pub fn with_format(mut self, format: &'a TableFormat) -> Self {
        self.known_format = Some(format);
        self
    }

    /// With a format cache.
    #[must_use]
    pub fn with_cache(mut self, cache: &'a (dyn FormatCache + Sync)) -> Self {
        self.format_cache = Some(cache);
        self
    }

    /// With visible separators.
    #[must_use]
    pub fn visible(mut self) -> Self {
        self.syntax = Syntax::Visible;
        self
    }

    /// With another nesting limit.
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }
}

/// How to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// The negotiated protocol version (default V4).
    pub version: Version,
    /// The separators (default invisible, the wire).
    pub syntax: Syntax,
    /// Send the table's format (`F`; default true). Leave it out when the receiver
    /// knows it: a variable or function with a declared format. Nested tables decide
    /// for themselves (by their field's default).
    pub include_format: bool,
    /// Send the field names (`N`) before the records (default false).
    pub field_names: bool,
    /// How deep tables may nest; deeper values are an error. At most
    /// [`MAX_DEPTH_CEILING`].
    pub max_depth: usize,
    /// The longest encoding to produce (default [`MAX_LEN`]). In V2 and V3 every
    /// level of nesting escapes the nested text again, doubling its escapes, so a
    /// deep table can encode to very many times its size; the encoder checks before
    /// it escapes and stops with [`ErrorKind::TooLarge`].
    pub max_len: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions::new(Version::V4)
    }
}

impl EncodeOptions {
    /// Options for `version`: format included, no field names, invisible separators.
    pub const fn new(version: Version) -> Self {
        EncodeOptions {
            version,
            syntax: Syntax::Invisible,
            include_format: true,
            field_names: false,
            max_depth: MAX_DEPTH,
            max_len: MAX_LEN,
        }
    }

    /// Without the table's format.
    #[must_use]
    pub fn without_format(mut self) -> Self {
        self.include_format = false;
        self
    }

    /// With field names.
    #[must_use]
    pub fn with_field_names(mut self) -> Self {
        self.field_names = true;
        self
    }

    /// With another nesting limit.
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// With another length limit.
    #[must_use]
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// With visible separators.
    #[must_use]
    pub fn visible(mut self) -> Self {
        self.syntax = Syntax::Visible;
        self
    }
}

impl DataTable {
    /// Decodes a table from its text (a command parameter).
    pub fn decode(input: &[u8], options: &DecodeOptions<'_>) -> Result<DataTable, TableError> {
        decode::check_utf8(input)?;
        let table = decode::Decoder::new(options, input.len()).table(
            input,
            decode::Pos::START,
            options.known_format,
            1,
        )?;
        Ok(*table)
    }

    /// Encodes the table.
    pub fn encode(&self, options: &EncodeOptions) -> Result<Vec<u8>, TableError> {
        let mut out = Vec::new();
        self.encode_into(options, &mut out)?;
        Ok(out)
    }

    /// Appends the table's encoding to `out`; on error `out` is left as it was.
    pub fn encode_into(
        &self,
        options: &EncodeOptions,
        out: &mut Vec<u8>,
    ) -> Result<(), TableError> {
        let len = out.len();
        let r = encode::Encoder::new(options, len).table(self, options.include_format, 1, out);
        let r = r.and_then(|()| encode::check_len(out.len() - len, options.max_len));
        if r.is_err() {
            out.truncate(len);
        }
        r
    }
}

impl TableFormat {
    /// Decodes a table format string (the value of an `F` element).
    /// `options.known_format` plays no part.
    pub fn decode(input: &[u8], options: &DecodeOptions<'_>) -> Result<TableFormat, TableError> {
        decode::check_utf8(input)?;
        decode::Decoder::new(options, input.len()).format(input, decode::Pos::START, 1)
    }

    /// Encodes the format string.
    pub fn encode(&self, options: &EncodeOptions) -> Result<Vec<u8>, TableError> {
        let mut out = Vec::new();
        encode::Encoder::new(options, 0).format(self, 1, &mut out)?;
        encode::check_len(out.len(), options.max_len)?;
        Ok(out)
    }

    /// Reads a format written with visible separators, as in the SDK's code:
    /// `<<value><E><A=0.0>><M=1><X=1>`.
    pub fn from_visible(text: &str) -> Result<TableFormat, TableError> {
        TableFormat::decode(text.as_bytes(), &DecodeOptions::default().visible())
    }
}

impl FieldFormat {
    /// Decodes a field format string (`<name><T>` and its named elements).
    pub fn decode(input: &[u8], options: &DecodeOptions<'_>) -> Result<FieldFormat, TableError> {
        decode::check_utf8(input)?;
        decode::Decoder::new(options, input.len()).field(input, decode::Pos::START, 1)
    }

    /// Encodes the field format string.
    pub fn encode(&self, options: &EncodeOptions) -> Result<Vec<u8>, TableError> {
        let mut out = Vec::new();
        encode::Encoder::new(options, 0).field(self, 1, &mut out)?;
        encode::check_len(out.len(), options.max_len)?;
        Ok(out)
    }

    /// Reads a field format written with visible separators: `<temp><E><A=0.0>`.
    pub fn from_visible(text: &str) -> Result<FieldFormat, TableError> {
        FieldFormat::decode(text.as_bytes(), &DecodeOptions::default().visible())
    }
}

/// Encoded text made readable, for logs, tests and documentation: the separators as
/// `<`, `>`, `=`, NULL as `␚`, the command separator 0x17 as `␗`, STX and CR as `␂` and
/// `␍`. Not an encoding: text holding `<` reads the same as an element start.
pub fn to_visible(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.chars()
        .map(|c| match c {
            '\u{1c}' => '<',
            '\u{1d}' => '>',
            '\u{1e}' => '=',
            '\u{1a}' => '␚',
            '\u{17}' => '␗',
            '\u{02}' => '␂',
            '\u{0d}' => '␍',
            c => c,
        })
        .collect()
}
