//! Number text as Java writes and reads it: `Float.toString`, `Double.toString` and the
//! parsers the SDK falls back on when decoding field values.
//!
//! # Writing
//!
//! [`float_to_string`] and [`double_to_string`] follow the specification of
//! `Double.toString(double)` as Java defines it since JDK 19:
//!
//! * NaN is `NaN`, the infinities `Infinity` and `-Infinity`, zero `0.0` or `-0.0`;
//! * otherwise the decimal chosen is the one with the fewest significant digits that
//!   reads back as the same value; of several such, the one closest to the value (the
//!   even one on a tie). When a single digit is enough, two-digit decimals compete
//!   too, so the smallest float subnormal is `1.4E-45`, not `1.0E-45`;
//! * a decimal `d` with `10^-3 <= |d| < 10^7` is written plainly with at least one digit
//!   after the point (`100.0`, `0.001`, `1234567.5`), any other in computerized
//!   scientific notation with one digit before the point and at least one after
//!   (`1.0E7`, `1.0E-4`, `-1.2345E-10`).
//!
//! JDK 18 and older print some values with more digits than needed (a float that is a
//! large integer, for example `1.59071454E13` instead of `1.5907145E13`). Both texts
//! read back as the same value, so the difference never changes what a peer receives.
//!
//! # Reading
//!
//! [`parse_float`] and [`parse_double`] accept Java's decimal syntax: surrounding
//! whitespace, a sign, digits with an optional point and exponent, an optional `f`,
//! `F`, `d` or `D` suffix, `NaN` and `Infinity`. Hexadecimal floats are not accepted.
//! The field parsers ([`parse_int_field`] and friends) add the SDK's fallbacks: an
//! empty text is 0, an integer field takes a decimal (cut towards zero, as Java's
//! `intValue`), and `true`/`false` read as 1/0.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

/// A small stack buffer for `core::fmt` output (float texts are at most ~30 bytes).
struct Stack {
    buf: [u8; 64],
    len: usize,
}

impl Stack {
    fn new() -> Self {
        Stack {
            buf: [0; 64],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(self.bytes()).unwrap_or_default()
    }
}

impl fmt::Write for Stack {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The two binary float widths, for the shared formatting code.
trait JavaFloat: Copy + PartialOrd + fmt::LowerExp + core::str::FromStr {
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn is_zero(self) -> bool;
    fn is_negative(self) -> bool;
    fn abs(self) -> Self;
}

macro_rules! java_float {
    ($t:ty) => {
        impl JavaFloat for $t {
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            fn is_zero(self) -> bool {
                self == 0.0
            }
            fn is_negative(self) -> bool {
                self.is_sign_negative()
            }
            fn abs(self) -> Self {
                if self.is_sign_negative() { -self } else { self }
            }
        }
    };
}
java_float!(f32);
java_float!(f64);

/// Significant digits (no leading or trailing zeros) and the decimal exponent of the
/// first digit: the value is `0.d1d2d3... * 10^(exp + 1)`, i.e. `d1.d2d3... * 10^exp`.
struct Decimal {
    digits: [u8; 24],
    len: usize,
    exp: i32,
}

impl Decimal {
    /// Reads `D.DDDe[-]N` as `core::fmt` writes it with `{:e}`.
    fn from_exp_text(text: &[u8]) -> Option<Decimal> {
        let mut d = Decimal {
            digits: [0; 24],
            len: 0,
            exp: 0,
        };
        let e = text.iter().position(|&b| b == b'e')?;
        for &b in text.get(..e)? {
            if b.is_ascii_digit() {
                *d.digits.get_mut(d.len)? = b;
                d.len += 1;
            }
        }
        let exp = core::str::from_utf8(text.get(e + 1..)?).ok()?;
        d.exp = exp.parse().ok()?;
        while d.len > 1 && d.digits.get(d.len - 1) == Some(&b'0') {
            d.len -= 1;
        }
        Some(d)
    }

    fn digits(&self) -> &[u8] {
        self.digits.get(..self.len).unwrap_or_default()
    }
}

/// `x` (finite, positive) as `core::fmt` writes it: shortest (`{:e}`) without a
/// precision, else correctly rounded (ties to even) to `1 + precision` digits.
fn decimal_of<T: JavaFloat>(x: T, precision: Option<usize>) -> Option<Decimal> {
    let mut s = Stack::new();
    let r = match precision {
        None => write!(s, "{x:e}"),
        Some(p) => write!(s, "{x:.p$e}"),
    };
    r.ok()?;
    Decimal::from_exp_text(s.bytes())
}

/// The value a decimal reads back as.
fn read_back<T: JavaFloat>(digits: &[u8], exp: i32) -> Option<T> {
    let mut s = Stack::new();
    let (first, rest) = digits.split_first()?;
    s.write_char(char::from(*first)).ok()?;
    s.write_char('.').ok()?;
    for &d in rest {
        s.write_char(char::from(d)).ok()?;
    }
    write!(s, "0e{exp}").ok()?;
    s.as_str().parse().ok()
}

/// The decimal Java writes for `x` (finite, positive): the shortest that reads back,
/// with two-digit decimals competing when one digit would do (see the module docs).
fn java_decimal<T: JavaFloat>(x: T) -> Option<Decimal> {
    let shortest = decimal_of(x, None)?;
    if shortest.len != 1 {
        // core::fmt finds the fewest digits but settles a tie between two equally close
        // decimals of that length upwards; Java takes the even one. The correctly
        // rounded decimal of that length is the closest (even on a tie): it wins when
        // it reads back as `x`.
        let rounded = decimal_of(x, Some(shortest.len - 1))?;
        return Some(if read_back::<T>(rounded.digits(), rounded.exp)? == x {
            rounded
        } else {
            shortest
        });
    }
    // `{:.1e}` rounds correctly to two digits: the closest two-digit decimal. If it
    // reads back as `x` it wins (a one-digit decimal is a two-digit one ending in 0, no
    // closer). If not, it lies outside the rounding interval on one side, and the
    // closest candidate is the next two-digit decimal on the other side.
    let two = decimal_of(x, Some(1))?;
    let mut pair = [b'0'; 2];
    for (slot, d) in pair.iter_mut().zip(two.digits()) {
        *slot = *d;
    }
    let value = i32::from(pair[0] - b'0') * 10 + i32::from(pair[1] - b'0');
    let back: T = read_back(&pair, two.exp)?;
    let (value, exp) = if back == x {
        (value, two.exp)
    } else {
        match (back > x, value) {
            (true, 10) => (99, two.exp - 1),
            (true, v) => (v - 1, two.exp),
            (false, 99) => (10, two.exp + 1),
            (false, v) => (v + 1, two.exp),
        }
    };
    let candidate = [
        b'0' + u8::try_from(value / 10).ok()?,
        b'0' + u8::try_from(value % 10).ok()?,
    ];
    if read_back::<T>(&candidate, exp)? != x {
        return Some(shortest);
    }
    let mut d = Decimal {
        digits: [0; 24],
        len: 2,
        exp,
    };
    d.digits[0] = candidate[0];
    d.digits[1] = candidate[1];
    if d.digits[1] == b'0' {
        d.len = 1;
    }
    Some(d)
}

fn write_java<T: JavaFloat>(x: T, out: &mut Vec<u8>) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if x.is_negative() {
        out.push(b'-');
    }
    if x.is_infinite() {
        out.extend_from_slice(b"Infinity");
        return;
    }
    if x.is_zero() {
        out.extend_from_slice(b"0.0");
        return;
    }
    let Some(d) = java_decimal(x.abs()) else {
        // Unreachable for finite values (core::fmt always writes `D.De N`); write the
        // plain Rust text rather than nothing.
        let mut s = Stack::new();
        let _ = write!(s, "{:e}", x.abs());
        out.extend_from_slice(s.bytes());
        return;
    };
    let digits = d.digits();
    if (-3..7).contains(&d.exp) {
        if d.exp >= 0 {
            let int_len = usize::try_from(d.exp).unwrap_or(0) + 1;
            for i in 0..int_len {
                out.push(digits.get(i).copied().unwrap_or(b'0'));
            }
            out.push(b'.');
            match digits.get(int_len..) {
                Some(frac) if !frac.is_empty() => out.extend_from_slice(frac),
                _ => out.push(b'0'),
            }
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-d.exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(digits);
        }
    } else {
        let (first, rest) = digits.split_first().unwrap_or((&b'0', &[]));
        out.push(*first);
        out.push(b'.');
        if rest.is_empty() {
            out.push(b'0');
        } else {
            out.extend_from_slice(rest);
        }
        out.push(b'E');
        let mut s = Stack::new();
        let _ = write!(s, "{}", d.exp);
        out.extend_from_slice(s.bytes());
    }
}

/// Appends Java's `Float.toString(x)`.
pub fn write_float(x: f32, out: &mut Vec<u8>) {
    write_java(x, out);
}

/// Appends Java's `Double.toString(x)`.
pub fn write_double(x: f64, out: &mut Vec<u8>) {
    write_java(x, out);
}

/// Java's `Float.toString(x)`: `1.5`, `0.0`, `1.0E10`, `1.0E-4`, `NaN`, `-Infinity`.
pub fn float_to_string(x: f32) -> String {
    let mut out = Vec::new();
    write_float(x, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Java's `Double.toString(x)`.
pub fn double_to_string(x: f64) -> String {
    let mut out = Vec::new();
    write_double(x, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// The part of `text` that Java's decimal float syntax accepts, ready for Rust's
/// parser, or the special value it names.
enum JavaNumber<'a> {
    Decimal(&'a str),
    NaN,
    Infinity { negative: bool },
}

fn java_number(text: &str) -> Option<JavaNumber<'_>> {
    // Java's String.trim: every char up to U+0020 counts as white space.
    let t = text.trim_matches(|c: char| c <= ' ');
    let (negative, unsigned) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..)?),
        Some(b'+') => (false, t.get(1..)?),
        _ => (false, t),
    };
    match unsigned {
        "NaN" => return Some(JavaNumber::NaN),
        "Infinity" => return Some(JavaNumber::Infinity { negative }),
        _ => {}
    }
    let body = match unsigned.as_bytes().last() {
        Some(b'f' | b'F' | b'd' | b'D') => t.get(..t.len() - 1)?,
        _ => t,
    };
    // Digits, an optional point, an optional exponent: checked here because Rust's
    // parser also takes `inf`, `nan` and `infinity`, which Java does not.
    let b = body.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let mut mantissa_digits = 0;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
        mantissa_digits += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    (i == b.len()).then_some(JavaNumber::Decimal(body))
}

/// Java's `Float.parseFloat`.
pub fn parse_float(text: &str) -> Option<f32> {
    match java_number(text)? {
        JavaNumber::NaN => Some(f32::NAN),
        JavaNumber::Infinity { negative: false } => Some(f32::INFINITY),
        JavaNumber::Infinity { negative: true } => Some(f32::NEG_INFINITY),
        JavaNumber::Decimal(d) => d.parse().ok(),
    }
}

/// Java's `Double.parseDouble`.
pub fn parse_double(text: &str) -> Option<f64> {
    match java_number(text)? {
        JavaNumber::NaN => Some(f64::NAN),
        JavaNumber::Infinity { negative: false } => Some(f64::INFINITY),
        JavaNumber::Infinity { negative: true } => Some(f64::NEG_INFINITY),
        JavaNumber::Decimal(d) => d.parse().ok(),
    }
}

/// The SDK's last resort for number text that is not a number: `true`/`false` (any
/// case) and `null` read as 1, 0 and 0.
fn word_number(text: &str) -> Option<i64> {
    if text.eq_ignore_ascii_case("true") {
        Some(1)
    } else if text.eq_ignore_ascii_case("false") || text.eq_ignore_ascii_case("null") {
        Some(0)
    } else {
        None
    }
}

/// An `I` field value: decimal, else a long cut to 32 bits, else a decimal fraction cut
/// towards zero (saturating, NaN as 0, as Java's casts), else `true`/`false`; empty is 0.
pub fn parse_int_field(text: &str) -> Option<i32> {
    if text.is_empty() {
        return Some(0);
    }
    if let Ok(v) = text.parse::<i32>() {
        return Some(v);
    }
    if let Ok(v) = text.parse::<i64>() {
        // Java's Long.intValue keeps the low 32 bits.
        #[allow(clippy::cast_possible_truncation)]
        return Some(v as i32);
    }
    if let Some(v) = parse_double(text) {
        // Java's (int) cast of a double: saturating, NaN to 0, as Rust's `as`.
        #[allow(clippy::cast_possible_truncation)]
        return Some(v as i32);
    }
    word_number(text).and_then(|v| i32::try_from(v).ok())
}

/// An `L` field value, with the fallbacks of [`parse_int_field`].
pub fn parse_long_field(text: &str) -> Option<i64> {
    if text.is_empty() {
        return Some(0);
    }
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    if let Some(v) = parse_double(text) {
        #[allow(clippy::cast_possible_truncation)]
        return Some(v as i64);
    }
    word_number(text)
}

/// An `F` field value: Java's float syntax, `true`/`false`; empty is 0.
pub fn parse_float_field(text: &str) -> Option<f32> {
    if text.is_empty() {
        return Some(0.0);
    }
    parse_float(text).or_else(|| word_number(text).map(|v| if v == 0 { 0.0 } else { 1.0 }))
}

/// An `E` field value: Java's double syntax, `true`/`false`; empty is 0.
pub fn parse_double_field(text: &str) -> Option<f64> {
    if text.is_empty() {
        return Some(0.0);
    }
    parse_double(text).or_else(|| word_number(text).map(|v| if v == 0 { 0.0 } else { 1.0 }))
}

/// A `B` field value: `1` or `true` (any case) is true, anything else false.
pub fn parse_bool_field(text: &str) -> bool {
    text == "1" || text.eq_ignore_ascii_case("true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_examples() {
        assert_eq!(float_to_string(1.5), "1.5");
        assert_eq!(float_to_string(0.0), "0.0");
        assert_eq!(double_to_string(2.25), "2.25");
        assert_eq!(double_to_string(1.0e10), "1.0E10");
        assert_eq!(double_to_string(1.0e-4), "1.0E-4");
        assert_eq!(double_to_string(f64::NAN), "NaN");
        assert_eq!(double_to_string(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(float_to_string(-0.0), "-0.0");
    }

    #[test]
    fn plain_range_edges() {
        assert_eq!(double_to_string(0.001), "0.001");
        assert_eq!(double_to_string(1.0e7), "1.0E7");
        assert_eq!(double_to_string(9_999_999.0), "9999999.0");
        assert_eq!(double_to_string(100.0), "100.0");
        assert_eq!(double_to_string(123.456), "123.456");
        assert_eq!(double_to_string(0.000_999), "9.99E-4");
    }

    /// Java 19+ texts (Java 18 and older print `1.0E-323` for the second).
    #[test]
    fn two_digit_rule_for_subnormals() {
        assert_eq!(float_to_string(f32::from_bits(1)), "1.4E-45");
        assert_eq!(float_to_string(f32::from_bits(5)), "7.0E-45");
        assert_eq!(double_to_string(f64::from_bits(1)), "4.9E-324");
        assert_eq!(double_to_string(f64::from_bits(2)), "9.9E-324");
        assert_eq!(double_to_string(f64::from_bits(3)), "1.5E-323");
        assert_eq!(double_to_string(f64::from_bits(100)), "4.94E-322");
    }

    #[test]
    fn java_syntax_only() {
        assert_eq!(parse_double(" 1.5d "), Some(1.5));
        assert_eq!(parse_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double("1."), Some(1.0));
        assert_eq!(parse_double(".5"), Some(0.5));
        assert_eq!(parse_double("inf"), None);
        assert_eq!(parse_double("nan"), None);
        assert_eq!(parse_double("."), None);
        assert_eq!(parse_double("1e"), None);
        assert_eq!(parse_double("0x1p3"), None);
        assert!(parse_float("NaN").is_some_and(f32::is_nan));
    }

    #[test]
    fn field_fallbacks() {
        assert_eq!(parse_int_field(""), Some(0));
        assert_eq!(parse_int_field("1.9"), Some(1));
        assert_eq!(parse_int_field("-1.9"), Some(-1));
        assert_eq!(parse_int_field("4294967297"), Some(1));
        assert_eq!(parse_int_field("1e20"), Some(i32::MAX));
        assert_eq!(parse_int_field("TRUE"), Some(1));
        assert_eq!(parse_int_field("x"), None);
        assert_eq!(parse_long_field("NaN"), Some(0));
        assert_eq!(parse_float_field("false"), Some(0.0));
        assert!(parse_bool_field("True"));
        assert!(!parse_bool_field("yes"));
    }
}
