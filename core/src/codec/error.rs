//! Error types shared by every generated codec: decode errors that name the field, the
//! byte offset and the spec clause that was broken, and encode errors that name the field
//! whose value cannot be represented.

use core::fmt;

/// Static description of a field, emitted by the code generator as one `const` per field.
///
/// Decode and encode errors carry these names so a message can say exactly which field of
/// which message of which protocol was wrong, and which spec clause it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldInfo {
    /// Protocol (spec module) name, e.g. `mqtt311`.
    pub protocol: &'static str,
    /// Message or record name, e.g. `Publish`.
    pub item: &'static str,
    /// Field name, e.g. `topic`.
    pub field: &'static str,
    /// Spec clause id attached to the field, e.g. `MQTT-1.5.3-1`.
    pub clause: Option<&'static str>,
    /// Line of the field in its spec file (for tooling; not shown in messages).
    pub line: u32,
}

impl FieldInfo {
    /// A placeholder used before any field has been announced to a [`Reader`](super::Reader).
    pub const UNKNOWN: FieldInfo = FieldInfo {
        protocol: "",
        item: "",
        field: "",
        clause: None,
        line: 0,
    };
}

/// Writes `protocol::item.field`, leaving out the parts that are empty.
fn write_path(
    f: &mut fmt::Formatter<'_>,
    protocol: &str,
    item: &str,
    field: &str,
) -> Result<bool, fmt::Error> {
    let mut any = false;
    if !protocol.is_empty() {
        f.write_str(protocol)?;
        any = true;
    }
    if !item.is_empty() {
        if any {
            f.write_str("::")?;
        }
        f.write_str(item)?;
        any = true;
    }
    if !field.is_empty() {
        if any {
            f.write_str(".")?;
        }
        f.write_str(field)?;
        any = true;
    }
    Ok(any)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A decode error: what was wrong, in which field, at which byte offset.
///
/// `Display` gives a one-line human message such as
/// `mqtt311::Publish.topic at byte 5: invalid UTF-8 [MQTT-1.5.3-1]`.
///
/// The names come from a `&'static` [`FieldInfo`], so the error is small (64 bytes):
/// decoders return `Result<_, DecodeError>` through every level of a message, and a
/// large error type would be copied on the success path too.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeError {
    /// The field that was wrong: protocol, item, field names and clause.
    pub info: &'static FieldInfo,
    /// Absolute byte offset (from the start of the decoded buffer) where the field starts,
    /// or for [`DecodeErrorKind::Trailing`] where the unexpected bytes start.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// An error in the field described by `info`, at absolute byte `offset`.
    #[inline]
    pub fn new(info: &'static FieldInfo, offset: usize, kind: DecodeErrorKind) -> Self {
        DecodeError { info, offset, kind }
    }

    /// Protocol (spec module) name.
    pub fn protocol(&self) -> &'static str {
        self.info.protocol
    }

    /// Message or record name.
    pub fn item(&self) -> &'static str {
        self.info.item
    }

    /// Field name.
    pub fn field(&self) -> &'static str {
        self.info.field
    }

    /// Spec clause id broken by the input, if the spec names one.
    pub fn clause(&self) -> Option<&'static str> {
        self.info.clause
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if write_path(f, self.info.protocol, self.info.item, self.info.field)? {
            f.write_str(" at byte ")?;
        } else {
            f.write_str("at byte ")?;
        }
        write!(f, "{}: {}", self.offset, self.kind)?;
        if let Some(clause) = self.info.clause {
            write!(f, " [{clause}]")?;
        }
        Ok(())
    }
}

impl core::error::Error for DecodeError {}

/// What was wrong with the input. See [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// A sized region (or an input decoded as exact) ended inside the field.
    Truncated {
        /// At least this many more bytes would have been needed.
        needed: usize,
    },
    /// A `where` condition of the spec failed.
    Constraint {
        /// The condition as written in the spec.
        condition: &'static str,
        /// The value that failed it.
        value: i128,
    },
    /// A field with a fixed value held something else.
    Constant {
        /// The value the spec requires.
        expected: i128,
        /// The value on the wire.
        found: i128,
    },
    /// A checksum did not match.
    Checksum {
        /// The checksum computed over the received bytes.
        expected: u64,
        /// The checksum stored in the input.
        found: u64,
    },
    /// Text that must be UTF-8 was not.
    InvalidUtf8,
    /// A NUL-terminated string had no terminator before the end of its region.
    MissingNul,
    /// A tagged union has no arm for this tag.
    NoArm {
        /// The tag value.
        tag: i128,
    },
    /// The tag is known but not allowed in this position.
    Rejected {
        /// The tag value.
        tag: i128,
    },
    /// Bytes were left over at the end of a region or after an exact decode.
    Trailing {
        /// Number of unexpected bytes.
        count: usize,
    },
    /// A variable-length integer used more bytes than its format allows.
    VarintTooLong,
    /// An integer width outside what the format or the runtime supports.
    InvalidWidth {
        /// The width asked for, in bytes.
        width: i128,
    },
    /// A value does not fit the type it is decoded into.
    TooLarge {
        /// The value (as far as it could be represented).
        value: i128,
    },
    /// A byte transform (an `extern transform` of the spec) rejected its input.
    Transform {
        /// Transform name.
        name: &'static str,
        /// What the transform reported.
        message: &'static str,
    },
    /// A separated (text) record ended before this field's part.
    MissingPart {
        /// The separator byte between parts.
        separator: u8,
    },
    /// A separated (text) record has parts left after its last field.
    ExtraParts {
        /// The separator byte between parts.
        separator: u8,
    },
    /// A `decimal(..)` field does not hold a decimal integer.
    InvalidDecimal,
    /// A `bytes(until ..)` run has no terminator before the end of its region.
    MissingTerminator {
        /// The terminator byte.
        terminator: u8,
    },
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::Truncated { needed } => write!(
                f,
                "input ends inside the field ({needed} more byte{} needed)",
                plural(*needed)
            ),
            DecodeErrorKind::Constraint { condition, value } => {
                write!(f, "value {value} violates `{condition}`")
            }
            DecodeErrorKind::Constant { expected, found } => {
                write!(f, "expected the constant {expected}, found {found}")
            }
            DecodeErrorKind::Checksum { expected, found } => write!(
                f,
                "checksum mismatch: computed 0x{expected:04X}, received 0x{found:04X}"
            ),
            DecodeErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            DecodeErrorKind::MissingNul => f.write_str("string has no NUL terminator"),
            DecodeErrorKind::NoArm { tag } => write!(f, "unknown tag {tag} (no matching variant)"),
            DecodeErrorKind::Rejected { tag } => write!(f, "tag {tag} is not allowed here"),
            DecodeErrorKind::Trailing { count } => {
                write!(f, "{count} unexpected trailing byte{}", plural(*count))
            }
            DecodeErrorKind::VarintTooLong => f.write_str("variable-length integer is too long"),
            DecodeErrorKind::InvalidWidth { width } => {
                write!(f, "invalid integer width of {width} bytes")
            }
            DecodeErrorKind::TooLarge { value } => write!(f, "value {value} is too large"),
            DecodeErrorKind::Transform { name, message } => {
                write!(f, "transform `{name}` failed: {message}")
            }
            DecodeErrorKind::MissingPart { separator } => write!(
                f,
                "the message ends before this part (parts are separated by 0x{separator:02X})"
            ),
            DecodeErrorKind::ExtraParts { separator } => write!(
                f,
                "unexpected parts after the last field (parts are separated by 0x{separator:02X})"
            ),
            DecodeErrorKind::InvalidDecimal => f.write_str("not a decimal integer"),
            DecodeErrorKind::MissingTerminator { terminator } => {
                write!(f, "no terminator byte 0x{terminator:02X} before the end")
            }
        }
    }
}

/// Internal decode outcome used by generated code: either more input is needed, or the
/// input is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fail {
    /// The input ended early; at least this many more bytes (always ≥ 1) are needed.
    Incomplete(usize),
    /// The input is invalid.
    Invalid(DecodeError),
}

impl From<DecodeError> for Fail {
    fn from(e: DecodeError) -> Self {
        Fail::Invalid(e)
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Incomplete(n) => {
                write!(f, "incomplete input: {n} more byte{} needed", plural(*n))
            }
            Fail::Invalid(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// An encode error: a value that cannot be represented on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodeError {
    /// The field whose value cannot be encoded.
    pub info: &'static FieldInfo,
    /// What was wrong.
    pub kind: EncodeErrorKind,
}

impl EncodeError {
    /// An error in the field described by `info`.
    #[inline]
    pub fn new(info: &'static FieldInfo, kind: EncodeErrorKind) -> Self {
        EncodeError { info, kind }
    }

    /// Protocol (spec module) name.
    pub fn protocol(&self) -> &'static str {
        self.info.protocol
    }

    /// Message or record name.
    pub fn item(&self) -> &'static str {
        self.info.item
    }

    /// Field name.
    pub fn field(&self) -> &'static str {
        self.info.field
    }

    /// Spec clause id attached to the field, if any.
    pub fn clause(&self) -> Option<&'static str> {
        self.info.clause
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot encode ")?;
        if !write_path(f, self.info.protocol, self.info.item, self.info.field)? {
            f.write_str("value")?;
        }
        write!(f, ": {}", self.kind)?;
        if let Some(clause) = self.info.clause {
            write!(f, " [{clause}]")?;
        }
        Ok(())
    }
}

impl core::error::Error for EncodeError {}

/// Why a value cannot be encoded. See [`EncodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeErrorKind {
    /// The value does not fit the field's width.
    OutOfRange {
        /// The value.
        value: i128,
        /// Width of the field in bits.
        bits: u32,
    },
    /// A byte string or list is longer than its length prefix can express.
    TooLong {
        /// Actual length.
        len: usize,
        /// Largest length the field allows.
        max: u64,
    },
    /// A `where` condition of the spec does not hold for the value.
    Constraint {
        /// The condition as written in the spec.
        condition: &'static str,
        /// The value that failed it.
        value: i128,
    },
    /// A NUL-terminated string contains a NUL byte.
    ContainsNul,
    /// Fields of the message contradict each other.
    Inconsistent {
        /// What is inconsistent.
        message: &'static str,
    },
    /// An integer width the encoder cannot produce.
    InvalidWidth {
        /// The width asked for, in bytes.
        width: i128,
    },
    /// A part of a separated (text) record contains the separator byte, which would
    /// split it in two on the wire (escape it with a transform).
    ContainsSeparator {
        /// The separator byte.
        separator: u8,
    },
}

impl fmt::Display for EncodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeErrorKind::OutOfRange { value, bits } => {
                write!(f, "value {value} does not fit in {bits} bits")
            }
            EncodeErrorKind::TooLong { len, max } => {
                write!(f, "length {len} exceeds the maximum of {max}")
            }
            EncodeErrorKind::Constraint { condition, value } => {
                write!(f, "value {value} violates `{condition}`")
            }
            EncodeErrorKind::ContainsNul => f.write_str("string contains a NUL byte"),
            EncodeErrorKind::Inconsistent { message } => {
                write!(f, "inconsistent fields: {message}")
            }
            EncodeErrorKind::InvalidWidth { width } => {
                write!(f, "invalid integer width of {width} bytes")
            }
            EncodeErrorKind::ContainsSeparator { separator } => {
                write!(f, "the value contains the separator byte 0x{separator:02X}")
            }
        }
    }
}
