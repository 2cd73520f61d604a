//! The value model: tables, formats, fields and values.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The date every non-nullable date field defaults to: 2000-02-01 12:00:00.000 UTC, in
/// milliseconds since the epoch.
pub const DEFAULT_DATE: i64 = 949_406_400_000;

static NULL: Value = Value::Null;

/// A Data Table: a format and records, with the table-level elements of §5.2.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataTable {
    /// The fields of every record (the `F` element, or the format the receiver knew).
    pub format: TableFormat,
    /// The records (`R` elements).
    pub records: Vec<Record>,
    /// The format id for format caching (`D`). Sent with the format (`<F=..><D=n>`) it
    /// tells the receiver to cache the format under `n`; an outermost table encoded
    /// without its format sends `<D=n>` alone, for a format the receiver cached before.
    /// A nested table whose format is left out (its field's default has it) sends no id.
    pub format_id: Option<i32>,
    /// The table id (`C`) of a table kept on the sender's side.
    pub id: Option<i64>,
    /// The timestamp (`T`), milliseconds since the epoch, UTC.
    pub timestamp: Option<i64>,
    /// The quality (`Q`).
    pub quality: Option<i32>,
    /// The invalidation message (`I`): the table is not valid.
    pub invalidation: Option<String>,
    /// Elements this implementation does not know, kept so they are sent on.
    pub unknown: Vec<RawElement>,
}

impl DataTable {
    /// An empty table of `format`.
    pub fn new(format: TableFormat) -> Self {
        DataTable {
            format,
            ..DataTable::default()
        }
    }

    /// Appends a record with these values, in field order.
    pub fn push(&mut self, values: Vec<Value>) -> &mut Self {
        self.records.push(Record::new(values));
        self
    }

    /// Appends a record with these values, builder style.
    #[must_use]
    pub fn with_record(mut self, values: Vec<Value>) -> Self {
        self.push(values);
        self
    }

    /// The value of field `field` in record `row`; a value the record leaves out is its
    /// field's default, as for the sender.
    pub fn get(&self, row: usize, field: &str) -> Option<&Value> {
        let index = self.format.field_index(field)?;
        let record = self.records.get(row)?;
        if let Some(v) = record.values.get(index) {
            return Some(v);
        }
        let field = self.format.fields.get(index)?;
        if field.flags.contains(FieldFlags::DEFAULT_OVERRIDE) {
            Some(&NULL)
        } else {
            Some(&field.default)
        }
    }
}

/// One record: a value per field, in field order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// The record id (`<I=id>`), if it has one.
    pub id: Option<String>,
    /// The values, one per field. Fewer values than fields are encoded with the field
    /// defaults for the rest; the decoder always fills every field.
    pub values: Vec<Value>,
    /// Values for names the format does not have and values beyond its last field,
    /// kept so they are sent on.
    pub unknown: Vec<RawElement>,
}

impl Record {
    /// A record of these values.
    pub fn new(values: Vec<Value>) -> Self {
        Record {
            values,
            ..Record::default()
        }
    }
}

/// An element kept as text: a name (if it has one) and the value as it was in the
/// input (separators and escapes included), written back exactly so.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawElement {
    /// The element name.
    pub name: Option<String>,
    /// The value, as it stood between the separators.
    pub value: String,
}

impl RawElement {
    /// A named element.
    pub fn named(name: impl Into<String>, value: impl Into<String>) -> Self {
        RawElement {
            name: Some(name.into()),
            value: value.into(),
        }
    }
}

/// The format of a table: its fields and table-wide options (§5.3).
#[derive(Debug, Clone, PartialEq)]
pub struct TableFormat {
    /// The fields, in record order.
    pub fields: Vec<FieldFormat>,
    /// Least number of records (`M`, default 0).
    pub min_records: i32,
    /// Greatest number of records (`X`, default `i32::MAX`).
    pub max_records: i32,
    /// Table flags (`F`).
    pub flags: TableFlags,
    /// Table validators (`V`: `<K=key fields>`, `<E=expression>`), as text.
    pub table_validators: Vec<RawElement>,
    /// Record validators (`R`: `<K=key fields>`), as text.
    pub record_validators: Vec<RawElement>,
    /// Bindings (`B`: `<target=expression>`), as text.
    pub bindings: Vec<RawElement>,
    /// Naming expression (`N`).
    pub naming: Option<String>,
    /// Named elements this implementation does not know.
    pub unknown: Vec<RawElement>,
}

impl Default for TableFormat {
    fn default() -> Self {
        TableFormat {
            fields: Vec::new(),
            min_records: 0,
            max_records: i32::MAX,
            flags: TableFlags::default(),
            table_validators: Vec::new(),
            record_validators: Vec::new(),
            bindings: Vec::new(),
            naming: None,
            unknown: Vec::new(),
        }
    }
}

impl TableFormat {
    /// A format of these fields, any number of records.
    pub fn new(fields: Vec<FieldFormat>) -> Self {
        TableFormat {
            fields,
            ..TableFormat::default()
        }
    }

    /// A format of one field and exactly one record: the shape of a single-value
    /// variable.
    pub fn single(field: FieldFormat) -> Self {
        TableFormat::new(alloc::vec![field]).with_records(1, 1)
    }

    /// Sets the least and greatest number of records.
    #[must_use]
    pub fn with_records(mut self, min: i32, max: i32) -> Self {
        self.min_records = min;
        self.max_records = max;
        self
    }

    /// The index of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldFormat> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The format of one field (§5.3).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFormat {
    /// The field name.
    pub name: String,
    /// The field type.
    pub field_type: FieldType,
    /// Field flags (`F`).
    pub flags: FieldFlags,
    /// The default value (`A`, always sent): [`Value::Null`] or a value of
    /// `field_type`.
    pub default: Value,
    /// Description (`D`); an empty one is not sent.
    pub description: Option<String>,
    /// Help text (`H`); an empty one is not sent.
    pub help: Option<String>,
    /// Selection values (`S`): the values the field may take, with descriptions.
    pub selection_values: Vec<SelectionValue>,
    /// Validators (`V`: `<L=min max>`, `<R=regex>`, `<N=...>`, `<I=>`, `<E=expr>`), as
    /// text.
    pub validators: Vec<RawElement>,
    /// Editor (`E`).
    pub editor: Option<String>,
    /// Editor options (`O`); unlike the other texts, an empty one is sent.
    pub editor_options: Option<String>,
    /// Icon (`I`).
    pub icon: Option<String>,
    /// Group (`G`).
    pub group: Option<String>,
    /// Elements this implementation does not know, after name and type. (Repeats of
    /// the known ones are dropped: the SDK reads only the first of each.)
    pub unknown: Vec<RawElement>,
}

impl FieldFormat {
    /// A field of this name and type; its default is the type's non-null default.
    pub fn new(name: impl Into<String>, field_type: FieldType) -> Self {
        FieldFormat {
            name: name.into(),
            field_type,
            flags: FieldFlags::NONE,
            default: field_type.default_value(),
            description: None,
            help: None,
            selection_values: Vec::new(),
            validators: Vec::new(),
            editor: None,
            editor_options: None,
            icon: None,
            group: None,
            unknown: Vec::new(),
        }
    }

    /// Makes the field nullable, with NULL as its default (as the SDK gives a nullable
    /// field without a default of its own).
    #[must_use]
    pub fn nullable(mut self) -> Self {
        self.flags = self.flags | FieldFlags::NULLABLE;
        self.default = Value::Null;
        self
    }

    /// Sets the default value.
    #[must_use]
    pub fn with_default(mut self, value: Value) -> Self {
        self.default = value;
        self
    }

    /// Adds flags.
    #[must_use]
    pub fn with_flags(mut self, flags: FieldFlags) -> Self {
        self.flags = self.flags | flags;
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// `true` if the field may hold NULL.
    pub fn is_nullable(&self) -> bool {
        self.flags.contains(FieldFlags::NULLABLE)
    }
}

/// A selection value of a field: a value and its description.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionValue {
    /// The value.
    pub value: Value,
    /// Its description; without one the element is sent unnamed (the SDK then shows
    /// the value itself).
    pub description: Option<String>,
}

/// The ten field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `S`: text.
    String,
    /// `I`: 32-bit integer.
    Integer,
    /// `L`: 64-bit integer.
    Long,
    /// `F`: 32-bit float.
    Float,
    /// `E`: 64-bit float.
    Double,
    /// `D`: date and time, milliseconds since the epoch (UTC).
    Date,
    /// `B`: boolean.
    Boolean,
    /// `T`: a nested Data Table.
    Table,
    /// `C`: colour, RGBA.
    Color,
    /// `A`: data block (binary data with id, name and preview).
    Data,
}

impl FieldType {
    /// All ten, in the order of §5.4.
    pub const ALL: [FieldType; 10] = [
        FieldType::String,
        FieldType::Integer,
        FieldType::Long,
        FieldType::Float,
        FieldType::Double,
        FieldType::Date,
        FieldType::Boolean,
        FieldType::Table,
        FieldType::Color,
        FieldType::Data,
    ];

    /// The type letter on the wire.
    pub fn code(self) -> char {
        match self {
            FieldType::String => 'S',
            FieldType::Integer => 'I',
            FieldType::Long => 'L',
            FieldType::Float => 'F',
            FieldType::Double => 'E',
            FieldType::Date => 'D',
            FieldType::Boolean => 'B',
            FieldType::Table => 'T',
            FieldType::Color => 'C',
            FieldType::Data => 'A',
        }
    }

    /// The type of a type letter.
    pub fn from_code(c: char) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.code() == c)
    }

    /// A readable name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Long => "long",
            FieldType::Float => "float",
            FieldType::Double => "double",
            FieldType::Date => "date",
            FieldType::Boolean => "boolean",
            FieldType::Table => "data table",
            FieldType::Color => "color",
            FieldType::Data => "data block",
        }
    }

    /// The default of a non-nullable field of this type without a default of its own
    /// (§5.4): `""`, 0, 0.0, 2000-02-01 12:00:00.000, false, an empty table, black, an
    /// empty data block.
    pub fn default_value(self) -> Value {
        match self {
            FieldType::String => Value::String(String::new()),
            FieldType::Integer => Value::Integer(0),
            FieldType::Long => Value::Long(0),
            FieldType::Float => Value::Float(0.0),
            FieldType::Double => Value::Double(0.0),
            FieldType::Date => Value::Date(DEFAULT_DATE),
            FieldType::Boolean => Value::Boolean(false),
            FieldType::Table => Value::Table(Box::default()),
            FieldType::Color => Value::Color(Color::BLACK),
            FieldType::Data => Value::Data(Box::default()),
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field value.
///
/// Equality follows Java's `equals`: floats are equal when their bits are, except that
/// every NaN equals every NaN (so `0.0 != -0.0`, and a table holding NaN equals itself).
#[derive(Debug, Clone)]
pub enum Value {
    /// NULL, of any type.
    Null,
    /// `S`.
    String(String),
    /// `I`.
    Integer(i32),
    /// `L`.
    Long(i64),
    /// `F`.
    Float(f32),
    /// `E`.
    Double(f64),
    /// `D`: milliseconds since 1970-01-01 00:00:00 UTC.
    Date(i64),
    /// `B`.
    Boolean(bool),
    /// `T`.
    Table(Box<DataTable>),
    /// `C`.
    Color(Color),
    /// `A` (boxed: a block is four times the size of the other variants).
    Data(Box<DataBlock>),
}

impl Value {
    /// The type of the value; `None` for NULL.
    pub fn field_type(&self) -> Option<FieldType> {
        Some(match self {
            Value::Null => return None,
            Value::String(_) => FieldType::String,
            Value::Integer(_) => FieldType::Integer,
            Value::Long(_) => FieldType::Long,
            Value::Float(_) => FieldType::Float,
            Value::Double(_) => FieldType::Double,
            Value::Date(_) => FieldType::Date,
            Value::Boolean(_) => FieldType::Boolean,
            Value::Table(_) => FieldType::Table,
            Value::Color(_) => FieldType::Color,
            Value::Data(_) => FieldType::Data,
        })
    }

    /// `true` for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A numeric value (`I`, `L`, `F`, `E`) as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Integer(v) => Some(f64::from(v)),
            // Precision loss above 2^53 is what a caller asking for f64 accepts.
            #[allow(clippy::cast_precision_loss)]
            Value::Long(v) => Some(v as f64),
            Value::Float(v) => Some(f64::from(v)),
            Value::Double(v) => Some(v),
            _ => None,
        }
    }

    /// The nested table of a `T` value.
    pub fn as_table(&self) -> Option<&DataTable> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Long(a), Value::Long(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            (Value::Double(a), Value::Double(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::Table(a), Value::Table(b)) => a == b,
            (Value::Color(a), Value::Color(b)) => a == b,
            (Value::Data(a), Value::Data(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Integer(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Long(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<DataTable> for Value {
    fn from(t: DataTable) -> Self {
        Value::Table(Box::new(t))
    }
}

impl From<Color> for Value {
    fn from(c: Color) -> Self {
        Value::Color(c)
    }
}

impl From<DataBlock> for Value {
    fn from(d: DataBlock) -> Self {
        Value::Data(Box::new(d))
    }
}

/// An RGBA colour (`#RRGGBBAA` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Color {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Alpha (255 = opaque).
    pub a: u8,
}

impl Color {
    /// Opaque black, the default of a colour field.
    pub const BLACK: Color = Color::rgba(0, 0, 0, 255);

    /// A colour from its components.
    pub const fn rgba(r: u8, g: u8, b: u8, a: u8) -> Color {
        Color { r, g, b, a }
    }
}

/// A data block (`A` value): binary data with an optional id, name and preview.
///
/// `None` and an empty vector differ on the wire (`-1` versus `0` as the length).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DataBlock {
    /// The block's id on the server (for data kept there and fetched on demand).
    pub id: Option<i64>,
    /// A name (a file name, say). Must not contain `/`.
    pub name: Option<String>,
    /// Preview bytes (a thumbnail, say).
    pub preview: Option<Vec<u8>>,
    /// The data.
    pub data: Option<Vec<u8>>,
}

impl DataBlock {
    /// A block holding `data`.
    pub fn new(data: Vec<u8>) -> Self {
        DataBlock {
            data: Some(data),
            ..DataBlock::default()
        }
    }
}

/// Field flags (`F` element of a field format), a set of the letters of §5.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldFlags(u16);

impl FieldFlags {
    /// No flags.
    pub const NONE: FieldFlags = FieldFlags(0);
    /// `N`: may hold NULL.
    pub const NULLABLE: FieldFlags = FieldFlags(1 << 0);
    /// `O`: optional.
    pub const OPTIONAL: FieldFlags = FieldFlags(1 << 1);
    /// `R`: read-only.
    pub const READ_ONLY: FieldFlags = FieldFlags(1 << 2);
    /// `C`: not replicated.
    pub const NOT_REPLICATED: FieldFlags = FieldFlags(1 << 3);
    /// `E`: selection values may be extended.
    pub const EXTENDABLE_SELECTION_VALUES: FieldFlags = FieldFlags(1 << 4);
    /// `H`: hidden.
    pub const HIDDEN: FieldFlags = FieldFlags(1 << 5);
    /// `K`: key field.
    pub const KEY_FIELD: FieldFlags = FieldFlags(1 << 6);
    /// `I`: inline data.
    pub const INLINE_DATA: FieldFlags = FieldFlags(1 << 7);
    /// `A`: advanced.
    pub const ADVANCED: FieldFlags = FieldFlags(1 << 8);
    /// `D`: default override (a value left out of a record is NULL, not the default).
    pub const DEFAULT_OVERRIDE: FieldFlags = FieldFlags(1 << 9);
    /// `S`: shallow.
    pub const SHALLOW: FieldFlags = FieldFlags(1 << 10);
    /// `Y`: encrypted.
    pub const ENCRYPTED: FieldFlags = FieldFlags(1 << 11);

    /// Each flag with its letter, in the order the SDK writes them.
    pub const LETTERS: [(FieldFlags, u8); 12] = [
        (FieldFlags::NULLABLE, b'N'),
        (FieldFlags::OPTIONAL, b'O'),
        (FieldFlags::READ_ONLY, b'R'),
        (FieldFlags::NOT_REPLICATED, b'C'),
        (FieldFlags::EXTENDABLE_SELECTION_VALUES, b'E'),
        (FieldFlags::HIDDEN, b'H'),
        (FieldFlags::KEY_FIELD, b'K'),
        (FieldFlags::INLINE_DATA, b'I'),
        (FieldFlags::ADVANCED, b'A'),
        (FieldFlags::DEFAULT_OVERRIDE, b'D'),
        (FieldFlags::SHALLOW, b'S'),
        (FieldFlags::ENCRYPTED, b'Y'),
    ];

    /// `true` if every flag of `other` is set.
    pub fn contains(self, other: FieldFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw bits.
    pub fn bits(self) -> u16 {
        self.0
    }

    /// Flags from raw bits (unknown bits dropped).
    pub fn from_bits(bits: u16) -> Self {
        FieldFlags(bits & 0x0FFF)
    }
}

impl core::ops::BitOr for FieldFlags {
    type Output = FieldFlags;
    fn bitor(self, rhs: FieldFlags) -> FieldFlags {
        FieldFlags(self.0 | rhs.0)
    }
}

/// Table flags (`F` element of a table format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TableFlags(u8);

impl TableFlags {
    /// No flags.
    pub const NONE: TableFlags = TableFlags(0);
    /// `R`: records may be reordered.
    pub const REORDERABLE: TableFlags = TableFlags(1 << 0);
    /// `U`: records may not be added or removed.
    pub const UNRESIZABLE: TableFlags = TableFlags(1 << 1);
    /// `B`: bindings may be edited.
    pub const BINDINGS_EDITABLE: TableFlags = TableFlags(1 << 2);

    /// Each flag with its letter, in the order the SDK writes them.
    pub const LETTERS: [(TableFlags, u8); 3] = [
        (TableFlags::REORDERABLE, b'R'),
        (TableFlags::UNRESIZABLE, b'U'),
        (TableFlags::BINDINGS_EDITABLE, b'B'),
    ];

    /// `true` if every flag of `other` is set.
    pub fn contains(self, other: TableFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Flags from raw bits (unknown bits dropped).
    pub fn from_bits(bits: u8) -> Self {
        TableFlags(bits & 0x07)
    }
}

impl core::ops::BitOr for TableFlags {
    type Output = TableFlags;
    fn bitor(self, rhs: TableFlags) -> TableFlags {
        TableFlags(self.0 | rhs.0)
    }
}
