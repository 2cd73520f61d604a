//! Typed access to IOCOM signals in a memory-block buffer (reference §13).
//!
//! IOCOM itself only mirrors bytes; a *signal* is a slot in a memory block: one **state
//! byte** at the signal's address, then the value, little-endian, with no alignment and
//! no padding. This module reads and writes those slots in a plain byte buffer (`&[u8]`
//! / `&mut [u8]`, the memory block's content), exactly as the C library's accessors do,
//! so a Rust device and a C device leave the same bytes for the same calls.
//!
//! ```text
//!  addr         addr+1
//! +-------------+-----------------------------------------------+
//! | state byte  | value: n elements LE | bit-packed booleans | text |
//! +-------------+-----------------------------------------------+
//!  0x01 boolean value   0x02 CONNECTED   0x04 ORANGE   0x08 YELLOW
//! ```
//!
//! * [`Signal<T>`] is a typed, `const`-constructible descriptor (block, name, address,
//!   element count, IOCOM type id). Generated board bindings (`ferrocom-codegen`'s
//!   `Bindings`) declare one constant per signal.
//! * [`State`] is the state byte, [`Value<T>`] a value together with its state.
//! * Element types: `bool` (`boolean`), `i8`/`u8` (`char`/`uchar`), `i16`/`u16`
//!   (`short`/`ushort`), `i32`/`u32` (`int`/`uint`), `i64` (`int64` and `long`), `f32`
//!   (`float`), `f64` (`double`), [`Dec01`]/[`Dec001`] (`dec01`/`dec001`), and `str`
//!   (`str`).
//!
//! ```
//! use ferrocom_core::signals::{Signal, SignalType, State, Value};
//!
//! const POTENTIOMETER: Signal<f32> = Signal::new("exp", "potentiometer", 39, 1, SignalType::FLOAT);
//! const TESTFLOAT: Signal<f32> = Signal::new("exp", "testfloat", 5, 5, SignalType::FLOAT);
//! const TESTSTR: Signal<str> = Signal::new("exp", "teststr", 26, 10, SignalType::STR);
//!
//! let mut exp = [0u8; 44];
//! POTENTIOMETER.set(&mut exp, 41612.0, State::CONNECTED)?;
//! // A non-zero scalar also sets bit 0 of the state byte, as the C writer does.
//! assert_eq!(POTENTIOMETER.get(&exp)?, Value::new(41612.0, State(0x03)));
//!
//! TESTFLOAT.set_array(&mut exp, &[1.0, 2.0, 0.0, 4.0, 5.0], State::CONNECTED)?;
//! let mut values = [0.0; 5];
//! assert_eq!(TESTFLOAT.get_array_into(&exp, &mut values)?, State::CONNECTED);
//!
//! TESTSTR.set(&mut exp, "gabriel", State::CONNECTED)?;
//! TESTSTR.set(&mut exp, "dance", State::CONNECTED)?;
//! assert_eq!(TESTSTR.get(&exp)?.value, "dance");
//! assert_eq!(&exp[27..37], b"dance\0l\0\0\0"); // "gabriel"'s tail stays, as in C
//! # Ok::<(), ferrocom_core::signals::SignalError>(())
//! ```
//!
//! # What the writers do (the C rules, reference §13.2, §13.3, §20)
//!
//! | call | state byte stored | value bytes |
//! |---|---|---|
//! | `set` on a number | the given state, bit 0 set iff the value is non-zero | the value, LE |
//! | `set` on a `bool` | the given state, bit 0 = the value | none |
//! | `set_array` on numbers | the given state **exactly** (bit 0 untouched) | the first `min(len, n)` elements; later elements keep their bytes |
//! | `set_array` on `bool`s | the given state, bit 0 = element 0 | bytes covering the written elements, LSB first; unused bits of the last written byte cleared |
//! | `set` on a `str` | the given state exactly | the text and a NUL if that fits in `n` bytes (bytes after the NUL keep their old content); otherwise the first `n` bytes, no NUL |
//!
//! * "Non-zero" for floats is decided on the raw bits (reference §20 quirk 13): `-0.0` sets
//!   bit 0, `0.0` does not, a NaN does.
//! * The C writer also forces CONNECTED on (or off) depending on whether the block is
//!   currently bound to a connection. A plain buffer has no connections: the state is
//!   stored as given, and deciding CONNECTED is the caller's business.
//! * Readers use bit 0 only for booleans; numbers read it back as stored.
//!
//! # Decisions where C gives no usable answer
//!
//! * **`dec01` / `dec001`** are 2-byte signed fixed-point numbers (eosal: −3276.8..3276.7
//!   and −327.68..327.67). The C accessors do not handle them (they write one byte of the
//!   two, quirk 12); here they are the raw `i16` in [`Dec01`] / [`Dec001`] newtypes
//!   (value × 10, value × 100), with the scalar bit-0 rule of other numbers.
//! * **`long`** is 8 bytes, as on 64-bit C builds; 32-bit-`long` builds (Arduino,
//!   bare-metal eosal) write only the low 4 bytes.
//! * **One element into a boolean array** (`set_array` with a 1-element slice on a signal
//!   with `n > 1`): C stores only bit 0 of the state byte and leaves the packed bit of
//!   element 0 stale, so a C reader of the array does not see it. Here the packed bit is
//!   written too.
//! * **Strings** are UTF-8. `get` on a `Signal<str>` returns the text up to
//!   the first NUL (or `n` bytes); when the C writer's byte truncation cut a multi-byte
//!   character in two, the incomplete character at the end is left out; other invalid
//!   UTF-8 is an error ([`get_bytes`](Signal::get_bytes) returns the raw bytes). A text
//!   containing NUL is written up to the NUL, as C's `strlen` would.
//!
//! # Never panics
//!
//! Every accessor checks that the whole slot (`addr .. addr + slot_len`) lies inside the
//! buffer and returns [`SignalError::OutOfRange`] otherwise; nothing indexes a buffer
//! without a check, for any descriptor and any buffer. `get`/`set` on an array signal is
//! [`SignalError::NotScalar`].

use core::fmt;
use core::marker::PhantomData;
use core::ops::{BitAnd, BitOr, BitOrAssign};

// ---------------------------------------------------------------------------------------
// Type ids

/// IOCOM's numeric signal type id (reference §13.1): an open enum, so ids this crate does
/// not know survive and print as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignalType(pub u8);

impl SignalType {
    /// `boolean`: the value is bit 0 of the state byte; arrays are bit-packed.
    pub const BOOLEAN: SignalType = SignalType(1);
    /// `char`: signed 8-bit.
    pub const CHAR: SignalType = SignalType(2);
    /// `uchar`: unsigned 8-bit.
    pub const UCHAR: SignalType = SignalType(3);
    /// `short`: signed 16-bit LE.
    pub const SHORT: SignalType = SignalType(4);
    /// `ushort`: unsigned 16-bit LE.
    pub const USHORT: SignalType = SignalType(5);
    /// `int`: signed 32-bit LE.
    pub const INT: SignalType = SignalType(6);
    /// `uint`: unsigned 32-bit LE.
    pub const UINT: SignalType = SignalType(7);
    /// `int64`: signed 64-bit LE.
    pub const INT64: SignalType = SignalType(8);
    /// `long`: signed 64-bit LE (32-bit C builds write only the low 4 bytes).
    pub const LONG: SignalType = SignalType(9);
    /// `float`: IEEE-754 single LE.
    pub const FLOAT: SignalType = SignalType(10);
    /// `double`: IEEE-754 double LE.
    pub const DOUBLE: SignalType = SignalType(11);
    /// `dec01`: signed 16-bit fixed point, one decimal ([`Dec01`]).
    pub const DEC01: SignalType = SignalType(12);
    /// `dec001`: signed 16-bit fixed point, two decimals ([`Dec001`]).
    pub const DEC001: SignalType = SignalType(13);
    /// `str`: text of capacity `n` bytes.
    pub const STR: SignalType = SignalType(14);

    /// The name used in signal-map JSON (`"float"`), or `None` for an unknown id.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "boolean",
            2 => "char",
            3 => "uchar",
            4 => "short",
            5 => "ushort",
            6 => "int",
            7 => "uint",
            8 => "int64",
            9 => "long",
            10 => "float",
            11 => "double",
            12 => "dec01",
            13 => "dec001",
            14 => "str",
            _ => return None,
        })
    }

    /// Bytes the value of a signal of this type and element count `n` takes after the
    /// state byte (`n` < 1 counts as 1): 0 for a single boolean, `ceil(n / 8)` for a
    /// boolean array, `n` for `str`, `n` × element size otherwise. `None` for an unknown
    /// id or on overflow.
    pub const fn value_len(self, n: u32) -> Option<usize> {
        let n = if n < 1 { 1 } else { n as usize };
        let size = match self.0 {
            1 => return Some(if n == 1 { 0 } else { n.div_ceil(8) }),
            2 | 3 | 14 => 1,
            4 | 5 | 12 | 13 => 2,
            6 | 7 | 10 => 4,
            8 | 9 | 11 => 8,
            _ => return None,
        };
        n.checked_mul(size)
    }
}

impl fmt::Debug for SignalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "SignalType::{name}"),
            None => write!(f, "SignalType({:#04x})", self.0),
        }
    }
}

impl fmt::Display for SignalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "type {:#04x}", self.0),
        }
    }
}

// ---------------------------------------------------------------------------------------
// State byte

/// A signal's state byte (reference §13.2). Unknown bits are kept as they are.
///
/// ```
/// use ferrocom_core::signals::State;
/// let s = State::CONNECTED | State::ORANGE;
/// assert!(s.is_connected() && s.is_orange() && !s.is_red());
/// assert_eq!(format!("{s:?}"), "State(CONNECTED | ORANGE)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct State(pub u8);

impl State {
    /// No bit set: the value is unknown (a fresh all-zero block reads as this).
    pub const NONE: State = State(0);
    /// Bit 0: the value of a boolean (and, written by C, "non-zero" for numbers).
    pub const BOOLEAN_VALUE: State = State(0x01);
    /// The value is valid ("has value").
    pub const CONNECTED: State = State(0x02);
    /// Hardware warning.
    pub const ORANGE: State = State(0x04);
    /// Hardware warning.
    pub const YELLOW: State = State(0x08);
    /// ORANGE and YELLOW together: failure.
    pub const RED: State = State(0x0C);

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The state with these raw bits.
    pub const fn from_bits(bits: u8) -> State {
        State(bits)
    }

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: State) -> bool {
        self.0 & other.0 == other.0
    }

    /// This state with the bits of `other` set.
    pub const fn with(self, other: State) -> State {
        State(self.0 | other.0)
    }

    /// This state with the bits of `other` cleared.
    pub const fn without(self, other: State) -> State {
        State(self.0 & !other.0)
    }

    /// CONNECTED: the value is valid.
    pub const fn is_connected(self) -> bool {
        self.contains(State::CONNECTED)
    }

    /// ORANGE is set (alone or as part of RED).
    pub const fn is_orange(self) -> bool {
        self.contains(State::ORANGE)
    }

    /// YELLOW is set (alone or as part of RED).
    pub const fn is_yellow(self) -> bool {
        self.contains(State::YELLOW)
    }

    /// Both ORANGE and YELLOW: failure.
    pub const fn is_red(self) -> bool {
        self.contains(State::RED)
    }

    /// Bit 0 (the value of a boolean signal).
    pub const fn boolean_value(self) -> bool {
        self.contains(State::BOOLEAN_VALUE)
    }
}

impl BitOr for State {
    type Output = State;
    fn bitor(self, rhs: State) -> State {
        self.with(rhs)
    }
}

impl BitOrAssign for State {
    fn bitor_assign(&mut self, rhs: State) {
        *self = self.with(rhs);
    }
}

impl BitAnd for State {
    type Output = State;
    fn bitand(self, rhs: State) -> State {
        State(self.0 & rhs.0)
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u8, &str); 4] = [
            (0x01, "BOOLEAN_VALUE"),
            (0x02, "CONNECTED"),
            (0x04, "ORANGE"),
            (0x08, "YELLOW"),
        ];
        if self.0 == 0 {
            return f.write_str("State(NONE)");
        }
        f.write_str("State(")?;
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { " | " };
            first = false;
            f.write_str(s)
        };
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                sep(f)?;
                f.write_str(name)?;
            }
        }
        let rest = self.0 & 0xF0;
        if rest != 0 {
            sep(f)?;
            write!(f, "{rest:#04x}")?;
        }
        f.write_str(")")
    }
}

/// A signal value together with its state byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Value<T> {
    /// The value.
    pub value: T,
    /// The state byte.
    pub state: State,
}

impl<T> Value<T> {
    /// A value with a state.
    pub const fn new(value: T, state: State) -> Self {
        Value { value, state }
    }

    /// CONNECTED is set: the value is valid.
    pub const fn is_connected(&self) -> bool {
        self.state.is_connected()
    }
}

// ---------------------------------------------------------------------------------------
// Fixed point

/// `dec01`: a signed 16-bit fixed-point number with one decimal; the raw value is the
/// number × 10 (−3276.8 ..= 3276.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Dec01(pub i16);

/// `dec001`: a signed 16-bit fixed-point number with two decimals; the raw value is the
/// number × 100 (−327.68 ..= 327.67).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Dec001(pub i16);

macro_rules! fixed_point {
    ($t:ident, $scale:literal) => {
        impl $t {
            /// The number as a double.
            pub fn to_f64(self) -> f64 {
                f64::from(self.0) / $scale
            }

            /// The nearest representable number (halves away from zero), saturating at
            /// the ends of the range; NaN gives 0.
            pub fn from_f64(v: f64) -> Self {
                let scaled = v * $scale;
                // `as` saturates and maps NaN to 0.
                $t(if scaled >= 0.0 {
                    (scaled + 0.5) as i16
                } else {
                    (scaled - 0.5) as i16
                })
            }
        }
    };
}
fixed_point!(Dec01, 10.0);
fixed_point!(Dec001, 100.0);

// ---------------------------------------------------------------------------------------
// Element types

mod sealed {
    pub trait Sealed {}
}

/// What a [`Signal`] can hold: every element type and `str`. Sealed.
pub trait Kind: sealed::Sealed {
    /// The IOCOM types stored in this Rust type (`i64` holds `int64` and `long`).
    const TYPES: &'static [SignalType];
    /// Bytes after the state byte for `n` elements (`n` ≥ 1); `None` on overflow.
    #[doc(hidden)]
    fn value_len(n: usize) -> Option<usize>;
}

/// An element type of numeric, boolean and array signals (every [`Kind`] but `str`).
/// Sealed; its methods are implementation details.
pub trait Element: Kind + Copy {
    /// The zero value (`false`, `0`, `0.0`).
    const ZERO: Self;
    #[doc(hidden)]
    const PACKED_BITS: bool;
    /// Element `index` from the value bytes (`scalar`: the signal has one element).
    #[doc(hidden)]
    fn load(values: &[u8], state: u8, index: usize, scalar: bool) -> Self;
    /// Stores element `index` into the value bytes.
    #[doc(hidden)]
    fn store(self, values: &mut [u8], index: usize, scalar: bool);
    /// The C writer's "non-zero" test (raw bits for floats).
    #[doc(hidden)]
    fn is_nonzero(self) -> bool;
}

impl sealed::Sealed for bool {}
impl Kind for bool {
    const TYPES: &'static [SignalType] = &[SignalType::BOOLEAN];
    fn value_len(n: usize) -> Option<usize> {
        Some(if n <= 1 { 0 } else { n.div_ceil(8) })
    }
}
impl Element for bool {
    const ZERO: Self = false;
    const PACKED_BITS: bool = true;
    fn load(values: &[u8], state: u8, index: usize, scalar: bool) -> Self {
        if scalar {
            state & 0x01 != 0
        } else {
            values
                .get(index / 8)
                .is_some_and(|b| b & (1 << (index % 8)) != 0)
        }
    }
    fn store(self, values: &mut [u8], index: usize, scalar: bool) {
        if scalar {
            return; // the value lives in the state byte
        }
        if let Some(b) = values.get_mut(index / 8) {
            let bit = 1u8 << (index % 8);
            if self {
                *b |= bit;
            } else {
                *b &= !bit;
            }
        }
    }
    fn is_nonzero(self) -> bool {
        self
    }
}

impl sealed::Sealed for str {}
impl Kind for str {
    const TYPES: &'static [SignalType] = &[SignalType::STR];
    fn value_len(n: usize) -> Option<usize> {
        Some(n)
    }
}

macro_rules! number {
    ($t:ty, $size:literal, $zero:expr, [$($ty:ident),+], |$v:ident| $nonzero:expr,
     $from:expr, $to:expr) => {
        impl sealed::Sealed for $t {}
        impl Kind for $t {
            const TYPES: &'static [SignalType] = &[$(SignalType::$ty),+];
            fn value_len(n: usize) -> Option<usize> {
                n.checked_mul($size)
            }
        }
        impl Element for $t {
            const ZERO: Self = $zero;
            const PACKED_BITS: bool = false;
            fn load(values: &[u8], _state: u8, index: usize, _scalar: bool) -> Self {
                let from: fn([u8; $size]) -> $t = $from;
                index
                    .checked_mul($size)
                    .and_then(|at| values.get(at..)?.get(..$size))
                    .and_then(|b| <[u8; $size]>::try_from(b).ok())
                    .map_or(Self::ZERO, from)
            }
            fn store(self, values: &mut [u8], index: usize, _scalar: bool) {
                let to: fn($t) -> [u8; $size] = $to;
                if let Some(out) = index
                    .checked_mul($size)
                    .and_then(|at| values.get_mut(at..)?.get_mut(..$size))
                {
                    out.copy_from_slice(&to(self));
                }
            }
            fn is_nonzero(self) -> bool {
                let $v = self;
                $nonzero
            }
        }
    };
}

number!(
    i8,
    1,
    0,
    [CHAR],
    |v| v != 0,
    i8::from_le_bytes,
    i8::to_le_bytes
);
number!(
    u8,
    1,
    0,
    [UCHAR],
    |v| v != 0,
    u8::from_le_bytes,
    u8::to_le_bytes
);
number!(
    i16,
    2,
    0,
    [SHORT],
    |v| v != 0,
    i16::from_le_bytes,
    i16::to_le_bytes
);
number!(
    u16,
    2,
    0,
    [USHORT],
    |v| v != 0,
    u16::from_le_bytes,
    u16::to_le_bytes
);
number!(
    i32,
    4,
    0,
    [INT],
    |v| v != 0,
    i32::from_le_bytes,
    i32::to_le_bytes
);
number!(
    u32,
    4,
    0,
    [UINT],
    |v| v != 0,
    u32::from_le_bytes,
    u32::to_le_bytes
);
number!(
    i64,
    8,
    0,
    [INT64, LONG],
    |v| v != 0,
    i64::from_le_bytes,
    i64::to_le_bytes
);
number!(
    f32,
    4,
    0.0,
    [FLOAT],
    |v| v.to_bits() != 0,
    f32::from_le_bytes,
    f32::to_le_bytes
);
number!(
    f64,
    8,
    0.0,
    [DOUBLE],
    |v| v.to_bits() != 0,
    f64::from_le_bytes,
    f64::to_le_bytes
);
number!(
    Dec01,
    2,
    Dec01(0),
    [DEC01],
    |v| v.0 != 0,
    |b| Dec01(i16::from_le_bytes(b)),
    |v| v.0.to_le_bytes()
);
number!(
    Dec001,
    2,
    Dec001(0),
    [DEC001],
    |v| v.0 != 0,
    |b| Dec001(i16::from_le_bytes(b)),
    |v| v.0.to_le_bytes()
);

// ---------------------------------------------------------------------------------------
// Errors

/// Why a signal could not be read or written. Every variant names the signal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalError {
    /// The signal's slot does not lie inside the buffer.
    OutOfRange {
        /// Memory block name.
        block: &'static str,
        /// Signal name.
        signal: &'static str,
        /// Address of the state byte.
        addr: u32,
        /// Bytes of the slot (state byte + value); `usize::MAX` if that overflows.
        slot_len: usize,
        /// Length of the buffer given.
        buf_len: usize,
    },
    /// `get` / `set` on an array signal: use `get_array_into` / `set_array`.
    NotScalar {
        /// Memory block name.
        block: &'static str,
        /// Signal name.
        signal: &'static str,
        /// Its element count.
        n: u32,
    },
    /// A `str` signal holds bytes that are not UTF-8.
    InvalidUtf8 {
        /// Memory block name.
        block: &'static str,
        /// Signal name.
        signal: &'static str,
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// A buffer handed to a generated block type is shorter than the block.
    BufferTooShort {
        /// Memory block name.
        block: &'static str,
        /// Length of the buffer given.
        len: usize,
        /// The block size.
        size: usize,
    },
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::OutOfRange {
                block,
                signal,
                addr,
                slot_len,
                buf_len,
            } => write!(
                f,
                "signal `{block}.{signal}` (address {addr}, {slot_len} bytes) does not fit in a buffer of {buf_len} bytes"
            ),
            SignalError::NotScalar { block, signal, n } => write!(
                f,
                "signal `{block}.{signal}` is an array of {n}; use get_array_into / set_array"
            ),
            SignalError::InvalidUtf8 {
                block,
                signal,
                valid_up_to,
            } => write!(
                f,
                "string signal `{block}.{signal}` is not UTF-8 after byte {valid_up_to}"
            ),
            SignalError::BufferTooShort { block, len, size } => write!(
                f,
                "a buffer of {len} bytes is too short for memory block `{block}` ({size} bytes)"
            ),
        }
    }
}

impl core::error::Error for SignalError {}

// ---------------------------------------------------------------------------------------
// Descriptors

/// A signal without its Rust type: what a table of a block's signals holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalInfo {
    /// Memory block name.
    pub block: &'static str,
    /// Signal name.
    pub name: &'static str,
    /// Address of the state byte in the block.
    pub addr: u32,
    /// Element count (for `str` the capacity in bytes); 0 and 1 both mean one element.
    pub n: u32,
    /// IOCOM type id.
    pub ty: SignalType,
}

impl SignalInfo {
    /// Bytes of the slot: the state byte and the value (`None` for an unknown type or on
    /// overflow).
    pub const fn slot_len(&self) -> Option<usize> {
        match self.ty.value_len(self.n) {
            Some(v) => v.checked_add(1),
            None => None,
        }
    }
}

/// A typed signal: where it is in which memory block, how many elements, which IOCOM
/// type. `T` is the element type (`f32`, `bool`, ...) or `str`; the same descriptor serves
/// a scalar (`n` = 1: `get` / `set`) and an array
/// (`n` > 1: [`get_array_into`](Signal::get_array_into) /
/// [`set_array`](Signal::set_array)).
///
/// Build one with [`Signal::new`] (in a `const`, a type that `T` cannot hold is a compile
/// error) or [`Signal::try_new`].
pub struct Signal<T: ?Sized> {
    /// Memory block name.
    pub block: &'static str,
    /// Signal name.
    pub name: &'static str,
    /// Address of the state byte in the block.
    pub addr: u32,
    /// Element count (for `str` the capacity in bytes); 0 and 1 both mean one element.
    pub n: u32,
    /// IOCOM type id; one of `T`'s [`Kind::TYPES`].
    pub ty: SignalType,
    _t: PhantomData<fn() -> *const T>,
}

impl<T: ?Sized> Clone for Signal<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Signal<T> {}

impl<T: ?Sized> PartialEq for Signal<T> {
    fn eq(&self, other: &Self) -> bool {
        self.info() == other.info()
    }
}

impl<T: ?Sized> Eq for Signal<T> {}

impl<T: ?Sized> fmt::Debug for Signal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("block", &self.block)
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("n", &self.n)
            .field("ty", &self.ty)
            .finish()
    }
}

const fn type_in(types: &[SignalType], ty: SignalType) -> bool {
    let mut i = 0;
    while i < types.len() {
        if types[i].0 == ty.0 {
            return true;
        }
        i += 1;
    }
    false
}

impl<T: ?Sized> Signal<T> {
    /// The descriptor without its Rust type.
    pub const fn info(&self) -> SignalInfo {
        SignalInfo {
            block: self.block,
            name: self.name,
            addr: self.addr,
            n: self.n,
            ty: self.ty,
        }
    }

    /// More than one element.
    pub const fn is_array(&self) -> bool {
        self.n > 1
    }

    /// Element count, at least 1 (for `str`: capacity in bytes).
    pub const fn count(&self) -> usize {
        if self.n < 1 { 1 } else { self.n as usize }
    }
}

impl<T: ?Sized + Kind> Signal<T> {
    /// A descriptor; `ty` must be one of `T`'s [`Kind::TYPES`].
    ///
    /// # Panics
    ///
    /// If `T` cannot hold `ty` (in a `const` item this is a compile-time error, which is
    /// how generated bindings use it). [`Signal::try_new`] returns `None` instead.
    pub const fn new(
        block: &'static str,
        name: &'static str,
        addr: u32,
        n: u32,
        ty: SignalType,
    ) -> Self {
        match Self::try_new(block, name, addr, n, ty) {
            Some(s) => s,
            None => panic!("the Rust type of this signal cannot hold its IOCOM type"),
        }
    }

    /// A descriptor, or `None` if `T` cannot hold `ty`.
    pub const fn try_new(
        block: &'static str,
        name: &'static str,
        addr: u32,
        n: u32,
        ty: SignalType,
    ) -> Option<Self> {
        if !type_in(T::TYPES, ty) {
            return None;
        }
        Some(Signal {
            block,
            name,
            addr,
            n,
            ty,
            _t: PhantomData,
        })
    }

    /// Bytes of the slot: the state byte and the value (saturates at `usize::MAX`).
    pub fn slot_len(&self) -> usize {
        T::value_len(self.count())
            .and_then(|v| v.checked_add(1))
            .unwrap_or(usize::MAX)
    }

    /// The byte range of the slot in the block, if it does not overflow.
    fn range(&self) -> Option<(usize, usize)> {
        let start = usize::try_from(self.addr).ok()?;
        let len = T::value_len(self.count())?.checked_add(1)?;
        Some((start, start.checked_add(len)?))
    }

    fn out_of_range(&self, buf_len: usize) -> SignalError {
        SignalError::OutOfRange {
            block: self.block,
            signal: self.name,
            addr: self.addr,
            slot_len: self.slot_len(),
            buf_len,
        }
    }

    fn slot<'b>(&self, buf: &'b [u8]) -> Result<(u8, &'b [u8]), SignalError> {
        self.range()
            .and_then(|(start, end)| buf.get(start..end))
            .and_then(|slot| slot.split_first())
            .map(|(state, values)| (*state, values))
            .ok_or_else(|| self.out_of_range(buf.len()))
    }

    fn slot_mut<'b>(&self, buf: &'b mut [u8]) -> Result<(&'b mut u8, &'b mut [u8]), SignalError> {
        let len = buf.len();
        match self.range() {
            Some((start, end)) => buf
                .get_mut(start..end)
                .and_then(|slot| slot.split_first_mut())
                .ok_or_else(|| self.out_of_range(len)),
            None => Err(self.out_of_range(len)),
        }
    }

    fn scalar(&self) -> Result<(), SignalError> {
        if self.is_array() {
            return Err(SignalError::NotScalar {
                block: self.block,
                signal: self.name,
                n: self.n,
            });
        }
        Ok(())
    }

    /// The state byte alone.
    pub fn state(&self, buf: &[u8]) -> Result<State, SignalError> {
        self.slot(buf).map(|(state, _)| State(state))
    }
}

impl<T: Element> Signal<T> {
    /// Reads a scalar signal: its value and state byte. For a boolean the value is bit 0
    /// of the state byte.
    pub fn get(&self, buf: &[u8]) -> Result<Value<T>, SignalError> {
        self.scalar()?;
        let (state, values) = self.slot(buf)?;
        Ok(Value::new(T::load(values, state, 0, true), State(state)))
    }

    /// Writes a scalar signal as the C writer does: the state byte as given, with bit 0
    /// set iff the value is non-zero (for floats: iff its raw bits are; for a boolean:
    /// iff it is true), then the value.
    pub fn set(&self, buf: &mut [u8], value: T, state: State) -> Result<(), SignalError> {
        self.scalar()?;
        let (st, values) = self.slot_mut(buf)?;
        *st = (state.0 & !0x01) | u8::from(value.is_nonzero());
        value.store(values, 0, true);
        Ok(())
    }

    /// Reads up to `min(out.len(), n)` elements into `out` (the rest of `out` is left as
    /// it is) and returns the shared state byte. On a scalar signal this reads its one
    /// value.
    pub fn get_array_into(&self, buf: &[u8], out: &mut [T]) -> Result<State, SignalError> {
        let (state, values) = self.slot(buf)?;
        let scalar = !self.is_array();
        for (i, o) in out.iter_mut().take(self.count()).enumerate() {
            *o = T::load(values, state, i, scalar);
        }
        Ok(State(state))
    }

    /// Writes the first `min(values.len(), n)` elements (later elements keep their bytes)
    /// and the state byte, as the C array writer does: numbers store the state exactly as
    /// given (bit 0 is not touched); booleans set bit 0 to element 0 (false for an empty
    /// slice) and write whole bytes of packed bits. Returns the number of elements
    /// written.
    pub fn set_array(
        &self,
        buf: &mut [u8],
        values: &[T],
        state: State,
    ) -> Result<usize, SignalError> {
        let (st, bytes) = self.slot_mut(buf)?;
        let scalar = !self.is_array();
        let count = values.len().min(self.count());
        let mut s = state.0;
        if T::PACKED_BITS {
            let first = values.first().is_some_and(|v| v.is_nonzero());
            s = (s & !0x01) | u8::from(first);
            if !scalar {
                for b in bytes.iter_mut().take(count.div_ceil(8)) {
                    *b = 0;
                }
            }
        }
        *st = s;
        for (i, v) in values.iter().take(count).enumerate() {
            v.store(bytes, i, scalar);
        }
        Ok(count)
    }
}

impl Signal<str> {
    /// The text bytes: up to the first NUL, at most `n` bytes, and the state byte.
    pub fn get_bytes<'b>(&self, buf: &'b [u8]) -> Result<Value<&'b [u8]>, SignalError> {
        let (state, bytes) = self.slot(buf)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let text = bytes.get(..end).unwrap_or_default();
        Ok(Value::new(text, State(state)))
    }

    /// The text (see [`Signal::get_bytes`]) as UTF-8. An incomplete character at the very
    /// end (the C writer truncates to `n` bytes, possibly inside a character) is left
    /// out; other invalid UTF-8 is [`SignalError::InvalidUtf8`].
    pub fn get<'b>(&self, buf: &'b [u8]) -> Result<Value<&'b str>, SignalError> {
        let Value { value, state } = self.get_bytes(buf)?;
        let text = match core::str::from_utf8(value) {
            Ok(text) => text,
            Err(e) if e.error_len().is_none() => value
                .get(..e.valid_up_to())
                .and_then(|v| core::str::from_utf8(v).ok())
                .unwrap_or_default(),
            Err(e) => {
                return Err(SignalError::InvalidUtf8 {
                    block: self.block,
                    signal: self.name,
                    valid_up_to: e.valid_up_to(),
                });
            }
        };
        Ok(Value::new(text, state))
    }

    /// Writes text as the C writer does: the state byte exactly as given; the text and
    /// its terminating NUL if they fit in `n` bytes (bytes after the NUL keep their old
    /// content), else the first `n` bytes of the text without a NUL. The text ends at its
    /// first NUL, if it has one. Returns the number of text bytes written (without the
    /// NUL).
    pub fn set(&self, buf: &mut [u8], text: &str, state: State) -> Result<usize, SignalError> {
        self.set_bytes(buf, text.as_bytes(), state)
    }

    /// `set` for text that is not (known to be) UTF-8.
    pub fn set_bytes(
        &self,
        buf: &mut [u8],
        text: &[u8],
        state: State,
    ) -> Result<usize, SignalError> {
        let (st, bytes) = self.slot_mut(buf)?;
        *st = state.0;
        let text = match text.iter().position(|&b| b == 0) {
            Some(nul) => text.get(..nul).unwrap_or_default(),
            None => text,
        };
        let written = text.len().min(bytes.len());
        for (out, b) in bytes.iter_mut().zip(text) {
            *out = *b;
        }
        if let Some(nul) = bytes.get_mut(text.len()) {
            *nul = 0;
        }
        Ok(written)
    }
}
