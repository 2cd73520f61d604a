//! Signals read and written by name, with the layout of a signal map learned at run time
//! (a server reads it from a device's `info` block). Typed access goes through
//! `ferrocom_wire::signals`, so the bytes are exactly the C library's (reference §13).

use std::fmt;
use std::prelude::rust_2024::*;
use std::vec;

use ferrocom_spec::signals::{Signal as MapSignal, SignalType as MapType};
use ferrocom_wire::signals::{Dec001, Dec01, Element, Signal, SignalError, SignalType, State};

/// A signal's value, whatever its type. Integers of every width (and `dec01` / `dec001`
/// raw values) are [`SignalValue::Int`], `float` / `double` [`SignalValue::Float`];
/// arrays hold one element value per element.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalValue {
    /// `boolean`.
    Bool(bool),
    /// `char` … `long`, and the raw `i16` of `dec01` / `dec001`.
    Int(i64),
    /// `float`, `double`.
    Float(f64),
    /// `str`.
    Str(String),
    /// An array signal: its elements.
    Array(Vec<SignalValue>),
}

impl fmt::Display for SignalValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalValue::Bool(b) => write!(f, "{b}"),
            SignalValue::Int(i) => write!(f, "{i}"),
            SignalValue::Float(x) => write!(f, "{x}"),
            SignalValue::Str(s) => write!(f, "{s:?}"),
            SignalValue::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl SignalValue {
    /// Reads a value for signal `sig` from text, the way a person types it: numbers
    /// (`41.5`, `-3`, `0x1F`), booleans (`true`/`false`, `on`/`off`, `1`/`0`), strings
    /// as they are (quotes optional), arrays as `[1, 2, 3]` or `1,2,3`. Checks the form
    /// only; whether the value fits the type (300 into a `uchar`) is checked on write.
    pub fn parse(sig: &MapSignal, text: &str) -> Result<SignalValue, String> {
        let text = text.trim();
        if sig.ty == MapType::Str {
            let unquoted = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(text);
            return Ok(SignalValue::Str(unquoted.to_string()));
        }
        if sig.array > 1 {
            let inner = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(text);
            let items = inner
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| parse_scalar(sig.ty, t))
                .collect::<Result<Vec<_>, _>>()?;
            if items.len() > sig.array {
                return Err(std::format!(
                    "{} values for an array of {}",
                    items.len(),
                    sig.array
                ));
            }
            return Ok(SignalValue::Array(items));
        }
        parse_scalar(sig.ty, text)
    }
}

fn parse_scalar(ty: MapType, text: &str) -> Result<SignalValue, String> {
    let bad = || std::format!("{text:?} is not a {ty} value");
    match ty {
        MapType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "on" | "1" | "yes" => Ok(SignalValue::Bool(true)),
            "false" | "off" | "0" | "no" => Ok(SignalValue::Bool(false)),
            _ => Err(bad()),
        },
        MapType::Float | MapType::Double => text
            .parse::<f64>()
            .map(SignalValue::Float)
            .map_err(|_| bad()),
        MapType::Str => Ok(SignalValue::Str(text.to_string())),
        _ => {
            let (neg, digits) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let magnitude = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(hex) => i64::from_str_radix(hex, 16),
                None => digits.parse::<i64>(),
            }
            .map_err(|_| bad())?;
            Ok(SignalValue::Int(if neg { -magnitude } else { magnitude }))
        }
    }
}

/// A Rust type that holds a signal's value: what generated stubs take and return
/// (`f32` for a `float`, `[u16; 3]` for a `ushort` array of 3, `String` for a `str`).
pub trait SignalData: Sized {
    /// The value as a [`SignalValue`].
    fn into_value(self) -> SignalValue;
    /// The value from a [`SignalValue`], if it has this shape.
    fn from_value(v: &SignalValue) -> Option<Self>;
}

macro_rules! data_conv {
    ($($t:ty),*) => {$(
        impl SignalData for $t {
            fn into_value(self) -> SignalValue {
                Conv::to_value(self)
            }
            fn from_value(v: &SignalValue) -> Option<Self> {
                <$t as Conv>::from_value(v)
            }
        }
    )*};
}
data_conv!(
    bool, i8, u8, i16, u16, i32, u32, i64, f32, f64, Dec01, Dec001
);

impl SignalData for String {
    fn into_value(self) -> SignalValue {
        SignalValue::Str(self)
    }
    fn from_value(v: &SignalValue) -> Option<Self> {
        match v {
            SignalValue::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl<T: SignalData, const N: usize> SignalData for [T; N] {
    fn into_value(self) -> SignalValue {
        SignalValue::Array(self.into_iter().map(SignalData::into_value).collect())
    }
    fn from_value(v: &SignalValue) -> Option<Self> {
        let SignalValue::Array(items) = v else {
            return None;
        };
        let vals: Vec<T> = items.iter().map(T::from_value).collect::<Option<_>>()?;
        vals.try_into().ok()
    }
}

/// Why a signal could not be read or written.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SignalAccessError {
    /// A typed accessor (a generated stub) asked for another Rust type than the signal
    /// holds: the map a device published differs from the one the stub was made from.
    TypeMismatch {
        /// `block.signal`.
        signal: String,
        /// The Rust type asked for.
        rust_type: &'static str,
        /// What the signal holds.
        value: SignalValue,
    },
    /// The slot is outside the block, or the bytes are not valid for the type.
    Layout {
        /// `block.signal`.
        signal: String,
        /// What the typed accessor said.
        error: SignalError,
    },
    /// The value does not fit the signal's type (e.g. 300 into a `uchar`, text into a
    /// number).
    WrongValue {
        /// `block.signal`.
        signal: String,
        /// The signal's type.
        ty: MapType,
        /// The value given.
        value: SignalValue,
    },
}

impl fmt::Display for SignalAccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalAccessError::TypeMismatch {
                signal,
                rust_type,
                value,
            } => write!(
                f,
                "signal {signal} holds {value}, which is not a {rust_type}"
            ),
            SignalAccessError::Layout { signal, error } => write!(f, "signal {signal}: {error}"),
            SignalAccessError::WrongValue { signal, ty, value } => {
                write!(f, "signal {signal} of type {ty} cannot hold {value}")
            }
        }
    }
}

impl std::error::Error for SignalAccessError {}

/// Conversion between an element type and [`SignalValue`].
trait Conv: Element + Sized {
    const ZERO: Self;
    fn to_value(self) -> SignalValue;
    fn from_value(v: &SignalValue) -> Option<Self>;
}

fn as_i64(v: &SignalValue) -> Option<i64> {
    match v {
        SignalValue::Int(i) => Some(*i),
        SignalValue::Bool(b) => Some(i64::from(*b)),
        SignalValue::Float(x) if x.fract() == 0.0 && x.abs() < 9.2e18 => Some(*x as i64),
        _ => None,
    }
}

macro_rules! int_conv {
    ($($t:ty),*) => {$(
        impl Conv for $t {
            const ZERO: Self = 0;
            fn to_value(self) -> SignalValue {
                SignalValue::Int(i64::from(self))
            }
            fn from_value(v: &SignalValue) -> Option<Self> {
                as_i64(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}
int_conv!(i8, u8, i16, u16, i32, u32, i64);

impl Conv for f32 {
    const ZERO: Self = 0.0;
    fn to_value(self) -> SignalValue {
        SignalValue::Float(f64::from(self))
    }
    fn from_value(v: &SignalValue) -> Option<Self> {
        <f64 as Conv>::from_value(v).map(|x| x as f32)
    }
}

impl Conv for f64 {
    const ZERO: Self = 0.0;
    fn to_value(self) -> SignalValue {
        SignalValue::Float(self)
    }
    fn from_value(v: &SignalValue) -> Option<Self> {
        match v {
            SignalValue::Float(x) => Some(*x),
            SignalValue::Int(i) => Some(*i as f64),
            SignalValue::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }
}

impl Conv for bool {
    const ZERO: Self = false;
    fn to_value(self) -> SignalValue {
        SignalValue::Bool(self)
    }
    fn from_value(v: &SignalValue) -> Option<Self> {
        match v {
            SignalValue::Bool(b) => Some(*b),
            SignalValue::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

macro_rules! fixed_conv {
    ($($t:ident),*) => {$(
        impl Conv for $t {
            const ZERO: Self = $t(0);
            fn to_value(self) -> SignalValue {
                SignalValue::Int(i64::from(self.0))
            }
            fn from_value(v: &SignalValue) -> Option<Self> {
                as_i64(v).and_then(|i| i16::try_from(i).ok()).map($t)
            }
        }
    )*};
}
fixed_conv!(Dec01, Dec001);

fn label(block: &str, sig: &MapSignal) -> String {
    std::format!("{block}.{}", sig.name)
}

fn descriptor<T: ?Sized + ferrocom_wire::signals::Kind>(
    block: &str,
    sig: &MapSignal,
) -> Result<Signal<T>, SignalAccessError> {
    let addr = u32::try_from(sig.addr).unwrap_or(u32::MAX);
    let n = u32::try_from(sig.array).unwrap_or(u32::MAX);
    // Names are `&'static str` in the typed descriptors (made for generated constants);
    // errors are labelled here instead.
    Signal::try_new("", "", addr, n, SignalType(sig.ty.id())).ok_or_else(|| {
        SignalAccessError::Layout {
            signal: label(block, sig),
            error: SignalError::OutOfRange {
                block: "",
                signal: "",
                addr,
                slot_len: 0,
                buf_len: 0,
            },
        }
    })
}

fn read_typed<T: Conv>(
    block: &str,
    sig: &MapSignal,
    buf: &[u8],
) -> Result<(SignalValue, State), SignalAccessError> {
    let d = descriptor::<T>(block, sig)?;
    let layout = |error| SignalAccessError::Layout {
        signal: label(block, sig),
        error,
    };
    if sig.array > 1 {
        let mut out = vec![<T as Conv>::ZERO; sig.array];
        let state = d.get_array_into(buf, &mut out).map_err(layout)?;
        Ok((
            SignalValue::Array(out.into_iter().map(Conv::to_value).collect()),
            state,
        ))
    } else {
        let v = d.get(buf).map_err(layout)?;
        Ok((v.value.to_value(), v.state))
    }
}

fn write_typed<T: Conv>(
    block: &str,
    sig: &MapSignal,
    buf: &mut [u8],
    value: &SignalValue,
    state: State,
) -> Result<(), SignalAccessError> {
    let d = descriptor::<T>(block, sig)?;
    let wrong = || SignalAccessError::WrongValue {
        signal: label(block, sig),
        ty: sig.ty,
        value: value.clone(),
    };
    let layout = |error| SignalAccessError::Layout {
        signal: label(block, sig),
        error,
    };
    if sig.array > 1 {
        let values: Vec<T> = match value {
            SignalValue::Array(items) => items
                .iter()
                .map(|v| T::from_value(v).ok_or_else(wrong))
                .collect::<Result<_, _>>()?,
            single => vec![T::from_value(single).ok_or_else(wrong)?],
        };
        d.set_array(buf, &values, state).map_err(layout)?;
    } else {
        let v = T::from_value(value).ok_or_else(wrong)?;
        d.set(buf, v, state).map_err(layout)?;
    }
    Ok(())
}

/// Reads signal `sig` of block `block` from the block's bytes.
pub fn read(
    block: &str,
    sig: &MapSignal,
    buf: &[u8],
) -> Result<(SignalValue, State), SignalAccessError> {
    match sig.ty {
        MapType::Boolean => read_typed::<bool>(block, sig, buf),
        MapType::Char => read_typed::<i8>(block, sig, buf),
        MapType::Uchar => read_typed::<u8>(block, sig, buf),
        MapType::Short => read_typed::<i16>(block, sig, buf),
        MapType::Ushort => read_typed::<u16>(block, sig, buf),
        MapType::Int => read_typed::<i32>(block, sig, buf),
        MapType::Uint => read_typed::<u32>(block, sig, buf),
        MapType::Int64 | MapType::Long => read_typed::<i64>(block, sig, buf),
        MapType::Float => read_typed::<f32>(block, sig, buf),
        MapType::Double => read_typed::<f64>(block, sig, buf),
        MapType::Dec01 => read_typed::<Dec01>(block, sig, buf),
        MapType::Dec001 => read_typed::<Dec001>(block, sig, buf),
        MapType::Str => {
            let d = descriptor::<str>(block, sig)?;
            let v = d.get(buf).map_err(|error| SignalAccessError::Layout {
                signal: label(block, sig),
                error,
            })?;
            Ok((SignalValue::Str(v.value.to_string()), v.state))
        }
    }
}

/// Writes `value` with `state` into signal `sig` of block `block`, as the C writer does
/// (reference §13.2: bit 0 of a scalar's state follows the value).
pub fn write(
    block: &str,
    sig: &MapSignal,
    buf: &mut [u8],
    value: &SignalValue,
    state: State,
) -> Result<(), SignalAccessError> {
    match sig.ty {
        MapType::Boolean => write_typed::<bool>(block, sig, buf, value, state),
        MapType::Char => write_typed::<i8>(block, sig, buf, value, state),
        MapType::Uchar => write_typed::<u8>(block, sig, buf, value, state),
        MapType::Short => write_typed::<i16>(block, sig, buf, value, state),
        MapType::Ushort => write_typed::<u16>(block, sig, buf, value, state),
        MapType::Int => write_typed::<i32>(block, sig, buf, value, state),
        MapType::Uint => write_typed::<u32>(block, sig, buf, value, state),
        MapType::Int64 | MapType::Long => write_typed::<i64>(block, sig, buf, value, state),
        MapType::Float => write_typed::<f32>(block, sig, buf, value, state),
        MapType::Double => write_typed::<f64>(block, sig, buf, value, state),
        MapType::Dec01 => write_typed::<Dec01>(block, sig, buf, value, state),
        MapType::Dec001 => write_typed::<Dec001>(block, sig, buf, value, state),
        MapType::Str => {
            let SignalValue::Str(text) = value else {
                return Err(SignalAccessError::WrongValue {
                    signal: label(block, sig),
                    ty: sig.ty,
                    value: value.clone(),
                });
            };
            let d = descriptor::<str>(block, sig)?;
            d.set(buf, text, state)
                .map_err(|error| SignalAccessError::Layout {
                    signal: label(block, sig),
                    error,
                })?;
            Ok(())
        }
    }
}

/// The signal map a device publishes in its static `info` block (packed JSON, §14);
/// `origin` names it in errors (e.g. `info block of gina1.cafenet`). Unknown keys are
/// accepted (the parser's warnings are dropped).
pub fn map_from_info(
    origin: &str,
    info: &[u8],
) -> Result<ferrocom_spec::signals::SignalMap, String> {
    let tree =
        ferrocom_wire::packed_json::unpack(info).map_err(|e| std::format!("{origin}: {e}"))?;
    ferrocom_spec::signals::SignalMap::from_json_str(origin, &tree.to_json_text())
        .map(|(map, _warnings)| map)
        .map_err(|e| e.to_string())
}

/// The byte range of a signal's slot (state byte and value).
pub fn slot(sig: &MapSignal) -> core::ops::Range<usize> {
    sig.addr..sig.end()
}

/// Clears CONNECTED in the state byte of every signal of a block; returns the signals
/// whose state changed. This is what a server does when a device goes away.
pub fn mark_disconnected<'m>(
    signals: impl Iterator<Item = &'m MapSignal>,
    buf: &mut [u8],
) -> Vec<&'m MapSignal> {
    let mut changed = Vec::new();
    for sig in signals {
        if let Some(b) = buf.get_mut(sig.addr)
            && *b & State::CONNECTED.bits() != 0
        {
            *b &= !State::CONNECTED.bits();
            changed.push(sig);
        }
    }
    changed
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for SignalValue {
            fn from(v: $t) -> Self {
                SignalValue::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, u8, i16, u16, i32, u32, i64);

impl From<f32> for SignalValue {
    fn from(v: f32) -> Self {
        SignalValue::Float(f64::from(v))
    }
}

impl From<f64> for SignalValue {
    fn from(v: f64) -> Self {
        SignalValue::Float(v)
    }
}

impl From<bool> for SignalValue {
    fn from(v: bool) -> Self {
        SignalValue::Bool(v)
    }
}

impl From<&str> for SignalValue {
    fn from(v: &str) -> Self {
        SignalValue::Str(v.to_string())
    }
}

impl From<String> for SignalValue {
    fn from(v: String) -> Self {
        SignalValue::Str(v)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sig(ty: MapType, array: usize) -> MapSignal {
        let mut s = MapSignal::new("x", ty);
        s.array = array;
        s
    }

    #[test]
    fn parses_what_people_type() {
        let p = |ty, n, t| SignalValue::parse(&sig(ty, n), t);
        assert_eq!(p(MapType::Float, 1, " 41.5 "), Ok(SignalValue::Float(41.5)));
        assert_eq!(p(MapType::Int, 1, "-0x10"), Ok(SignalValue::Int(-16)));
        assert_eq!(p(MapType::Uchar, 1, "300"), Ok(SignalValue::Int(300)));
        assert_eq!(p(MapType::Boolean, 1, "ON"), Ok(SignalValue::Bool(true)));
        assert_eq!(
            p(MapType::Str, 10, "\"hi there\""),
            Ok(SignalValue::Str("hi there".into()))
        );
        assert_eq!(
            p(MapType::Ushort, 3, "[1, 2,3]"),
            Ok(SignalValue::Array(vec![
                SignalValue::Int(1),
                SignalValue::Int(2),
                SignalValue::Int(3)
            ]))
        );
        assert!(
            p(MapType::Ushort, 2, "1,2,3")
                .unwrap_err()
                .contains("3 values")
        );
        assert!(
            p(MapType::Float, 1, "fast")
                .unwrap_err()
                .contains("not a float")
        );
        assert!(p(MapType::Boolean, 1, "maybe").is_err());
    }
}
