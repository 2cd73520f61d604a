//! What can go wrong when decoding or encoding a Data Table.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use super::FieldType;

/// A Data Table that could not be decoded or encoded.
///
/// Decoding errors carry the byte offset of the problem in the input given to the
/// decoder. Inside a nested table that travelled escaped (V2/V3) the exact position is
/// lost with the escaping, so the offset is that of the escaped value in the enclosing
/// input. Encoding errors have no offset; their kind names the field or element.
// Boxed: errors are rare, and a small `Result` keeps the decoder's recursion frames
// small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError(Box<Inner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    offset: Option<usize>,
}

impl TableError {
    pub(crate) fn at(kind: ErrorKind, offset: usize) -> Self {
        TableError(Box::new(Inner {
            kind,
            offset: Some(offset),
        }))
    }

    pub(crate) fn encode(kind: ErrorKind) -> Self {
        TableError(Box::new(Inner { kind, offset: None }))
    }

    /// What was wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The byte offset in the decoder's input; `None` for encoding errors.
    pub fn offset(&self) -> Option<usize> {
        self.0.offset
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.offset {
            Some(at) => write!(f, "data table: {} at byte {at}", self.0.kind),
            None => write!(f, "data table: cannot encode: {}", self.0.kind),
        }
    }
}

impl core::error::Error for TableError {}

/// The kinds of [`TableError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not UTF-8 (every Data Table is UTF-8 text).
    InvalidUtf8,
    /// An element start with no matching element end before the input ends.
    UnclosedElement,
    /// An element end with no element open.
    UnexpectedElementEnd,
    /// Bytes between elements, where only elements may stand.
    TextOutsideElement,
    /// Tables nested deeper than the configured limit.
    TooDeep {
        /// The limit ([`DecodeOptions::max_depth`](super::DecodeOptions) or its encode
        /// counterpart).
        limit: usize,
    },
    /// A field format without its type element (`<name><T>`).
    MissingFieldType {
        /// The field.
        field: String,
    },
    /// A field format whose shape is wrong (says how).
    BadFieldFormat(&'static str),
    /// A field type letter that is none of `S I L F E D B T C A`.
    UnknownFieldType {
        /// The field.
        field: String,
        /// The type text found.
        found: String,
    },
    /// A number where the table or format needs one (`M`, `X`, `D`, `C`, `Q`) is not one.
    BadNumber {
        /// The element's name.
        element: &'static str,
        /// The text found (at most 40 characters of it).
        text: String,
    },
    /// A field value that is not valid text for its type.
    BadValue {
        /// The field.
        field: String,
        /// Its type.
        field_type: FieldType,
        /// The text found (at most 40 characters of it).
        text: String,
    },
    /// A data block (`A` value) that does not follow
    /// `version/id/name/previewLength/dataLength/bytes`.
    BadDataBlock {
        /// The field.
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A timestamp (`T` element) that is not `yyyy-MM-dd HH:mm:ss.SSS`.
    BadTimestamp {
        /// The text found (at most 40 characters of it).
        text: String,
    },
    /// Records, but no format: none in the input and none known to the decoder.
    NoFormat,
    /// A format id (`<D=n>`) that names no format in the input or the format cache.
    UnknownFormatId(i32),
    /// Decoding would clone more default values than the input's size justifies (a
    /// large default value and many records that leave it out).
    DefaultsTooLarge,
    /// Encoding: the encoding would be longer than
    /// [`EncodeOptions::max_len`](super::EncodeOptions) (nested tables escaped again at
    /// every level, in V2 and V3, double their escapes per level).
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Encoding: a value whose type is not its field's type.
    WrongValueType {
        /// The field.
        field: String,
        /// The field's type.
        expected: FieldType,
    },
    /// Encoding: a record with more values than its table has fields.
    TooManyValues {
        /// Fields of the table.
        fields: usize,
        /// Values in the record.
        values: usize,
    },
    /// Encoding: text written as it is (names, ids, expressions) that would not read
    /// back the same (unbalanced element brackets, or a name separator where it would
    /// start a name), or a value that would read as NULL or holds the separators of the
    /// visible syntax. Says which.
    Unencodable(&'static str),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            ErrorKind::UnclosedElement => f.write_str("element not closed (unbalanced element)"),
            ErrorKind::UnexpectedElementEnd => {
                f.write_str("element end without a start (unbalanced element)")
            }
            ErrorKind::TextOutsideElement => f.write_str("text outside an element"),
            ErrorKind::TooDeep { limit } => {
                write!(f, "tables nested too deep (more than {limit} levels)")
            }
            ErrorKind::MissingFieldType { field } => {
                write!(f, "field format of {field:?} has no type")
            }
            ErrorKind::BadFieldFormat(problem) => write!(f, "bad field format: {problem}"),
            ErrorKind::UnknownFieldType { field, found } => {
                write!(f, "unknown field type {found:?} for field {field:?}")
            }
            ErrorKind::BadNumber { element, text } => {
                write!(f, "bad number {text:?} in element {element}")
            }
            ErrorKind::BadValue {
                field,
                field_type,
                text,
            } => write!(
                f,
                "bad {} value {text:?} for field {field:?}",
                field_type.name()
            ),
            ErrorKind::BadDataBlock { field, problem } => {
                write!(f, "bad data block for field {field:?}: {problem}")
            }
            ErrorKind::BadTimestamp { text } => write!(f, "bad table timestamp {text:?}"),
            ErrorKind::NoFormat => {
                f.write_str("records but no table format (none sent and none known)")
            }
            ErrorKind::UnknownFormatId(id) => write!(f, "unknown format id {id}"),
            ErrorKind::DefaultsTooLarge => {
                f.write_str("default values to fill in exceed what the input size justifies")
            }
            ErrorKind::TooLarge { limit } => {
                write!(f, "encoding longer than the limit of {limit} bytes")
            }
            ErrorKind::WrongValueType { field, expected } => write!(
                f,
                "value of field {field:?} is not of its type {}",
                expected.name()
            ),
            ErrorKind::TooManyValues { fields, values } => {
                write!(f, "record has {values} values for {fields} fields")
            }
            ErrorKind::Unencodable(what) => f.write_str(what),
        }
    }
}

/// At most 40 characters of `text`, for error messages.
pub(crate) fn excerpt(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(text);
    s.chars().take(40).collect()
}
