//! The typed model of a protocol spec: what the parser produces, what validation
//! checks and what code generation consumes.
//!
//! Every node keeps the [`Span`] it came from, so that any later stage (validation,
//! code generation, a generated decoder's error) can point back at the spec text.

use std::fmt;

/// A position in a spec file (1-based line and column, 0-based byte offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
    /// 0-based byte offset into the source text.
    pub offset: usize,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// An identifier with its position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    /// The identifier text.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

impl Ident {
    /// Builds an identifier (mainly for tests and generated models).
    pub fn new(name: impl Into<String>, span: Span) -> Self {
        Self {
            name: name.into(),
            span,
        }
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Documentation and annotations attached to an item, field, variant or arm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// `///` doc comment lines, without the slashes and one leading space.
    pub docs: Vec<String>,
    /// The clause this element implements, from `@clause("...")`.
    pub clause: Option<String>,
    /// Where the element starts (its first doc line or annotation, else its name).
    pub span: Span,
}

/// A whole spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The file name the spec was read from, as given to the parser (used in errors).
    pub file: String,
    /// The protocol the file declares.
    pub protocol: Protocol,
}

/// Byte order of multi-byte integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Most significant byte first.
    Big,
    /// Least significant byte first.
    Little,
}

/// `protocol NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Docs and clause of the protocol.
    pub meta: Meta,
    /// The protocol name; the generated module is named after it.
    pub name: Ident,
    /// Default byte order (`byte_order big|little;`); big if not given.
    pub byte_order: ByteOrder,
    /// Items in declaration order.
    pub items: Vec<Item>,
}

impl Protocol {
    /// Finds an item by name.
    pub fn item(&self, name: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.name().name == name)
    }
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `enum Name: u8 { A = 1, ... }` — an open enum.
    Enum(EnumDef),
    /// `flags Name: u8 { A = 0x01, ... }` — a bit set.
    Flags(FlagsDef),
    /// `bits Name: u8 { a: u4; b: bool; ... }` — sub-byte fields packed MSB first.
    Bits(BitsDef),
    /// `record Name(params) { fields }` or `frame Name(params) { fields }`.
    Record(RecordDef),
    /// `union Name(tag: T, params) { arms }` — a tagged union.
    Union(UnionDef),
    /// `extern transform name = "rust::Path";` — a byte transform written in Rust.
    Extern(ExternDef),
}

impl Item {
    /// The item's name.
    pub fn name(&self) -> &Ident {
        match self {
            Item::Enum(d) => &d.name,
            Item::Flags(d) => &d.name,
            Item::Bits(d) => &d.name,
            Item::Record(d) => &d.name,
            Item::Union(d) => &d.name,
            Item::Extern(d) => &d.name,
        }
    }

    /// The item's docs and clause.
    pub fn meta(&self) -> &Meta {
        match self {
            Item::Enum(d) => &d.meta,
            Item::Flags(d) => &d.meta,
            Item::Bits(d) => &d.meta,
            Item::Record(d) => &d.meta,
            Item::Union(d) => &d.meta,
            Item::Extern(d) => &d.meta,
        }
    }
}

/// A fixed-width integer type: `u8`, `u24`, `i32`, `u16le`, `u4` (in bits), ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntType {
    /// Width in bits. Byte-level fields: a multiple of 8 from 8 to 64. Inside a `bits`
    /// item: 1 to 64.
    pub bits: u8,
    /// `i` types are two's complement signed.
    pub signed: bool,
    /// An explicit `le`/`be` suffix; `None` means the protocol's default.
    pub order: Option<ByteOrder>,
}

/// An open enum: unknown values are kept and round-trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumDef {
    /// Docs and clause.
    pub meta: Meta,
    /// Type name.
    pub name: Ident,
    /// Wire representation.
    pub repr: IntType,
    /// Named values.
    pub variants: Vec<EnumVariant>,
}

/// One named value of an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumVariant {
    /// Docs and clause.
    pub meta: Meta,
    /// Constant name (conventionally UPPER_CASE).
    pub name: Ident,
    /// Its value.
    pub value: i128,
}

/// A set of named bits; unknown bits are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagsDef {
    /// Docs and clause.
    pub meta: Meta,
    /// Type name.
    pub name: Ident,
    /// Wire representation (unsigned).
    pub repr: IntType,
    /// Named masks; validation rejects overlaps.
    pub flags: Vec<FlagDef>,
}

/// One named mask of a flags type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagDef {
    /// Docs and clause.
    pub meta: Meta,
    /// Constant name.
    pub name: Ident,
    /// The mask (one or more bits).
    pub mask: u64,
}

/// Fields packed into one unsigned integer, most significant bits first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitsDef {
    /// Docs and clause.
    pub meta: Meta,
    /// Type name.
    pub name: Ident,
    /// The integer the fields are packed into; the widths must add up to it.
    pub repr: IntType,
    /// Fields, most significant first.
    pub fields: Vec<BitField>,
}

/// A field of a `bits` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitField {
    /// Docs and clause.
    pub meta: Meta,
    /// Field name.
    pub name: Ident,
    /// Its type.
    pub ty: BitType,
    /// `= expr`: a constant the field must hold; not stored, checked on decode.
    pub derive: Option<Expr>,
    /// `where expr`: a condition the decoded value must satisfy.
    pub constraint: Option<Expr>,
}

/// Types allowed inside a `bits` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BitType {
    /// One bit.
    Bool,
    /// An unsigned integer of `bits` bits (`u1`..`u64`).
    Uint(u8),
    /// An enum or flags type whose width fits here (its repr is reinterpreted with the
    /// field's width, e.g. `kind: PacketType` where `enum PacketType: u4`).
    Named(Ident),
}

/// `record` or `frame`: a sequence of fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDef {
    /// Docs and clause.
    pub meta: Meta,
    /// Type name.
    pub name: Ident,
    /// `frame` marks a top-level message of a byte stream: it is the scope of
    /// checksums and gets the streaming decode entry point. Records nest in frames.
    pub is_frame: bool,
    /// Parameters: values supplied by the enclosing record (or by the caller of
    /// `decode`). Parameters are stored in the generated struct like fields.
    pub params: Vec<Param>,
    /// `separated(0x17)`: a text record whose fields are parts separated by this byte
    /// instead of a binary layout. `None` for binary records.
    pub separator: Option<Separator>,
    /// Fields in wire order.
    pub fields: Vec<Field>,
}

/// The separator of a text record (`record Name separated(0x17) { .. }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Separator {
    /// The byte between parts.
    pub byte: u8,
    /// Where `separated(..)` was written.
    pub span: Span,
}

/// A parameter of a record or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Parameter name.
    pub name: Ident,
    /// Its type: an integer or a named enum, flags or bits type.
    pub ty: Type,
}

/// A field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Docs and clause.
    pub meta: Meta,
    /// Field name (`_` prefix allowed for padding or reserved fields).
    pub name: Ident,
    /// Its wire type.
    pub ty: Type,
    /// `if expr`: present only when the condition (over earlier fields) holds;
    /// generated as `Option<T>`.
    pub condition: Option<Expr>,
    /// `= expr`: the field is computed when encoding (a length, count, union tag,
    /// checksum or constant) and is not stored in the generated struct. When decoding
    /// its value is read, checked where it is a constant or checksum, and usable by
    /// later fields.
    pub derive: Option<Expr>,
    /// `where expr`: a condition on the decoded value; violations are decode errors
    /// naming the field, offset and clause.
    pub constraint: Option<Expr>,
    /// `transform(name [if expr])`: the wire bytes are the named transform's
    /// encoding of the field's value.
    pub transform: Option<TransformRef>,
}

/// Use of an extern transform on a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformRef {
    /// Name of an `extern transform` item.
    pub name: Ident,
    /// Applies only when this holds (otherwise the bytes are taken as they are).
    pub condition: Option<Expr>,
}

/// How many bytes or elements a field spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Size {
    /// An expression over earlier fields and parameters.
    Expr(Expr),
    /// `..`: to the end of the enclosing region (the `within` size, or at top level
    /// everything available). Only the last field of a record may use it.
    Rest,
}

/// A field's wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// Fixed-width integer.
    Int(IntType),
    /// `uint(expr)`: unsigned integer whose width in bytes (1..=8) is computed from
    /// earlier fields, in the protocol's byte order.
    DynUint {
        /// Width in bytes.
        width: Expr,
        /// Where it was written.
        span: Span,
    },
    /// `mqtt_varint`: MQTT's 1-4 byte base-128 length.
    MqttVarint,
    /// `intser`: IOCOM/eosal's signed self-describing integer.
    Intser,
    /// `bytes[size]`: a byte run.
    Bytes(Size),
    /// `bytes(u16)`: a byte run preceded by its length.
    BytesPrefixed(IntType),
    /// `str[size]`: UTF-8 text of a computed length.
    Str(Size),
    /// `str(u8)`: UTF-8 text preceded by its length; with `nul` (`str(u8, nul)`) the
    /// length counts a terminating NUL that follows the text.
    StrPrefixed {
        /// Type of the length prefix.
        prefix: IntType,
        /// The prefix counts a terminating NUL byte.
        nul: bool,
    },
    /// `cstr`: UTF-8 text terminated by a NUL byte.
    CStr,
    /// `bytes(until 0x0D)`: a byte run ended by a terminator byte (consumed, not part
    /// of the value); the value cannot contain it.
    BytesUntil(u8),
    /// `decimal(i64)`: an integer written as ASCII decimal text that fills its region
    /// (in a separated record: its part).
    Decimal(IntType),
    /// An enum, flags, bits, record or union, with arguments for its parameters.
    Named {
        /// The item's name.
        name: Ident,
        /// Argument expressions, one per parameter.
        args: Vec<Expr>,
    },
    /// `T[size]`: a sequence of elements (count, or `..` until the region ends).
    Array {
        /// Element type.
        elem: Box<Type>,
        /// Element count.
        count: Size,
    },
    /// `T within expr`: `T` occupies exactly `expr` bytes.
    Within {
        /// The inner type.
        inner: Box<Type>,
        /// Size of the region in bytes.
        size: Expr,
    },
}

/// A tagged union: the first parameter is the tag that selects an arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnionDef {
    /// Docs and clause.
    pub meta: Meta,
    /// Type name.
    pub name: Ident,
    /// Parameters; the first one is the tag.
    pub params: Vec<Param>,
    /// Arms, tried in order.
    pub arms: Vec<Arm>,
}

/// One arm of a union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    /// Docs and clause (the clause is reported when a `reject` arm matches).
    pub meta: Meta,
    /// What tag values select this arm.
    pub pattern: Pattern,
    /// What the arm decodes to.
    pub body: ArmBody,
}

/// The right-hand side of an arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // `Reject` is rare; boxing would burden every user.
pub enum ArmBody {
    /// A variant of the generated enum.
    Variant {
        /// Variant name.
        name: Ident,
        /// Payload type decoded after the tag; `None` for a unit variant.
        payload: Option<Type>,
        /// `= expr`: how to compute the tag from the payload (`self`) when encoding.
        /// Required when the pattern is not a single value.
        tag: Option<Expr>,
    },
    /// `reject`: these tag values are a decode error (the arm's clause is reported).
    Reject,
}

/// A tag pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// A single value.
    Value(PatValue),
    /// An inclusive range `a..=b`.
    Range(PatValue, PatValue),
    /// `_`: everything not matched by an earlier arm.
    Wildcard(Span),
}

/// A value in a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatValue {
    /// An integer literal (may be negative) or `true`/`false` (1/0).
    Int(i128, Span),
    /// A constant of the tag's enum type.
    Const(Ident),
}

/// `extern transform name = "path::to::Type";`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternDef {
    /// Docs and clause.
    pub meta: Meta,
    /// The name used in `transform(name)`.
    pub name: Ident,
    /// What kind of extern it is.
    pub kind: ExternKind,
    /// Rust path of the type implementing it (e.g. `ferrocom_wire::transforms::ZeroRun`).
    pub rust_path: String,
}

/// Kinds of extern items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternKind {
    /// A byte transform (`ferrocom_wire::codec::Transform`).
    Transform,
}

/// An expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it starts.
    pub span: Span,
}

/// Expression forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// Integer literal.
    Int(i128),
    /// `true` / `false`.
    Bool(bool),
    /// `a`, `a.b`: a field or parameter, a flag of a flags value, a field of a bits
    /// value, an enum constant (`CONNECT`, resolved against the compared type), or
    /// `self` inside an arm's tag expression.
    Path(Vec<Ident>),
    /// `len(f)`, `count(f)`, `tag(f)`, `crc16_modbus(frame)`, `more()`.
    Call {
        /// Function name.
        func: Ident,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// Unary operator.
    Unary(UnOp, Box<Expr>),
    /// Binary operator.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `!`
    Not,
    /// `-`
    Neg,
}

/// Binary operators, lowest precedence first: `||`; `&&`; comparisons; `|`; `&`;
/// `<<` `>>`; `+` `-`; `*` `/` `%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `|`
    BitOr,
    /// `&`
    BitAnd,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::BitOr => "|",
            BinOp::BitAnd => "&",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}
