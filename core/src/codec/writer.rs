//! Encode-side helpers: generated encoders append to a [`Sink`].

use super::ByteOrder;
use super::Sink;
use super::crc::crc16_modbus_zeroed;
use super::error::EncodeErrorKind;

/// Largest value an MQTT variable byte integer can hold (4 bytes of 7 bits).
pub const MQTT_VARINT_MAX: u32 = 268_435_455;

/// Appends `nbytes` bytes produced by `byte(i)` (i = 0 is the least significant byte)
/// in the given order.
fn put_with<S: Sink + ?Sized>(
    out: &mut S,
    nbytes: usize,
    order: ByteOrder,
    byte: impl Fn(usize) -> u8,
) {
    match order {
        ByteOrder::Big => (0..nbytes).rev().for_each(|i| out.push(byte(i))),
        ByteOrder::Little => (0..nbytes).for_each(|i| out.push(byte(i))),
    }
}

/// Appends the low `nbytes` bytes of `v` in the given order.
///
/// Widths above 8 are padded with zero bytes on the most significant side; width 0
/// writes nothing. Range checks are the caller's job ([`fits_uint`]).
#[inline]
pub fn put_uint<S: Sink + ?Sized>(out: &mut S, v: u64, nbytes: usize, order: ByteOrder) {
    // Fast path: the common widths, copied from the integer's byte image at once.
    if nbytes <= 8 {
        match order {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()[..nbytes]),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()[8 - nbytes..]),
        }
        return;
    }
    put_with(out, nbytes, order, |i| {
        if i < 8 { (v >> (8 * i)) as u8 } else { 0 }
    });
}

/// Appends the low `nbytes` bytes of the two's-complement `v` in the given order.
///
/// Widths above 8 are padded with sign bytes on the most significant side; width 0
/// writes nothing. Range checks are the caller's job ([`fits_int`]).
#[inline]
pub fn put_int<S: Sink + ?Sized>(out: &mut S, v: i64, nbytes: usize, order: ByteOrder) {
    let fill = if v < 0 { 0xFF } else { 0x00 };
    put_with(out, nbytes, order, |i| {
        if i < 8 { (v >> (8 * i)) as u8 } else { fill }
    });
}

/// `true` if `0 <= v < 2^bits`.
#[inline]
pub fn fits_uint(v: i128, bits: u32) -> bool {
    if v < 0 {
        false
    } else if bits >= 127 {
        true
    } else {
        v < (1i128 << bits)
    }
}

/// `true` if `-2^(bits-1) <= v < 2^(bits-1)` (`bits == 0` admits only 0).
#[inline]
pub fn fits_int(v: i128, bits: u32) -> bool {
    if bits == 0 {
        v == 0
    } else if bits >= 128 {
        true
    } else {
        let half = 1i128 << (bits - 1);
        -half <= v && v < half
    }
}

/// Appends an MQTT variable byte integer; values above [`MQTT_VARINT_MAX`] are
/// [`OutOfRange`](EncodeErrorKind::OutOfRange) (28 bits).
#[inline]
pub fn put_mqtt_varint<S: Sink + ?Sized>(out: &mut S, v: u32) -> Result<(), EncodeErrorKind> {
    if v > MQTT_VARINT_MAX {
        return Err(EncodeErrorKind::OutOfRange {
            value: i128::from(v),
            bits: 28,
        });
    }
    let mut x = v;
    loop {
        let b = (x & 0x7F) as u8;
        x >>= 7;
        if x == 0 {
            out.push(b);
            return Ok(());
        }
        out.push(b | 0x80);
    }
}

/// Encoded length of an MQTT variable byte integer (1..=4; 5 for values above
/// [`MQTT_VARINT_MAX`], which [`put_mqtt_varint`] rejects).
#[inline]
pub fn mqtt_varint_len(v: u32) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=MQTT_VARINT_MAX => 4,
        _ => 5,
    }
}

/// Number of bytes needed for `m >> 3` in an intser (≥ 1), for `m >= 8`.
fn intser_followers(magnitude: u64) -> usize {
    let rest = magnitude >> 3;
    let bits = 64 - rest.leading_zeros() as usize;
    bits.div_ceil(8).max(1)
}

/// Appends an eosal `intser` (reference §15.1), as the C writer does; `i64::MIN`, which
/// the C writer cannot encode, is written as the "negative zero" byte `08` that the
/// reader decodes to `i64::MIN`.
///
/// ```
/// # use ferrocom_core::codec::put_intser;
/// let mut out = Vec::new();
/// put_intser(&mut out, -300);
/// assert_eq!(out, [0x1C, 0x25]);
/// ```
#[inline]
pub fn put_intser<S: Sink + ?Sized>(out: &mut S, v: i64) {
    if v == i64::MIN {
        out.push(0x08);
        return;
    }
    let sign = if v < 0 { 0x08u8 } else { 0 };
    let magnitude = v.unsigned_abs();
    if magnitude < 8 {
        out.push(magnitude as u8 | sign);
        return;
    }
    let n = intser_followers(magnitude);
    out.push(((n as u8) << 4) | sign | (magnitude & 7) as u8);
    let rest = magnitude >> 3;
    (0..n).for_each(|i| out.push((rest >> (8 * i)) as u8));
}

/// Encoded length of [`put_intser`]`(v)`: 1..=9 bytes.
#[inline]
pub fn intser_len(v: i64) -> usize {
    if v == i64::MIN {
        return 1;
    }
    let magnitude = v.unsigned_abs();
    if magnitude < 8 {
        1
    } else {
        1 + intser_followers(magnitude)
    }
}

/// Fills in a CRC-16/MODBUS checksum: computes it over `out[frame_start..]` with the two
/// bytes at `offset` counted as zero, and writes it at `offset` in the given byte order
/// (IOCOM: [`ByteOrder::Little`]).
///
/// `frame_start` and `offset` are indices into `out` (not relative to each other). If the
/// two checksum bytes do not lie inside `out[frame_start..]` nothing is written; that is a
/// bug of the caller, never a property of input data.
#[inline]
pub fn patch_crc16(out: &mut [u8], frame_start: usize, offset: usize, order: ByteOrder) {
    if offset < frame_start || offset.saturating_add(2) > out.len() {
        return;
    }
    let Some(frame) = out.get(frame_start..) else {
        return;
    };
    let crc = crc16_modbus_zeroed(frame, offset - frame_start, 2);
    let bytes = match order {
        ByteOrder::Big => crc.to_be_bytes(),
        ByteOrder::Little => crc.to_le_bytes(),
    };
    if let Some(slot) = out.get_mut(offset..offset + 2) {
        slot.copy_from_slice(&bytes);
    }
}

/// Appends `v` as ASCII decimal text (`decimal(..)` fields of separated records).
pub fn put_decimal<S: Sink + ?Sized>(out: &mut S, v: i128) {
    if v < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 40];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(i..).unwrap_or(&[]));
}

/// Length of `v` as ASCII decimal text.
pub fn decimal_len(v: i128) -> usize {
    let mut n = v.unsigned_abs();
    let mut len = usize::from(v < 0) + 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Ends a part of a separated (text) record written from `start`: fails if the part
/// contains the separator, else appends the separator. (The outermost record removes
/// the separator after its last part.)
pub fn end_part<S: Sink + ?Sized>(
    out: &mut S,
    start: usize,
    separator: u8,
) -> Result<(), EncodeErrorKind> {
    // A sink that keeps nothing (a `Counter`) has nothing to check.
    if out
        .written_mut()
        .get(start..)
        .unwrap_or(&[])
        .contains(&separator)
    {
        return Err(EncodeErrorKind::ContainsSeparator { separator });
    }
    out.push(separator);
    Ok(())
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn uint_orders() {
        let mut out = Vec::new();
        put_uint(&mut out, 0x0102_0304, 4, ByteOrder::Big);
        put_uint(&mut out, 0x0102_0304, 3, ByteOrder::Little);
        put_uint(&mut out, 0xAB, 0, ByteOrder::Little);
        put_uint(&mut out, 0xAB, 9, ByteOrder::Big);
        assert_eq!(out, vec![1, 2, 3, 4, 4, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xAB]);
    }

    #[test]
    fn int_sign_fill() {
        let mut out = Vec::new();
        put_int(&mut out, -2, 2, ByteOrder::Little);
        put_int(&mut out, -2, 9, ByteOrder::Big);
        assert_eq!(
            out,
            vec![
                0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE
            ]
        );
    }

    #[test]
    fn fits() {
        assert!(fits_uint(255, 8) && !fits_uint(256, 8) && !fits_uint(-1, 8));
        assert!(fits_uint(0, 0) && !fits_uint(1, 0));
        assert!(fits_uint(i128::MAX, 127) && fits_uint(i128::MAX, 200));
        assert!(fits_uint(u64::MAX.into(), 64) && !fits_uint(i128::from(u64::MAX) + 1, 64));
        assert!(fits_int(127, 8) && fits_int(-128, 8) && !fits_int(128, 8) && !fits_int(-129, 8));
        assert!(fits_int(0, 0) && !fits_int(-1, 0));
        assert!(fits_int(-1, 1) && fits_int(0, 1) && !fits_int(1, 1));
        assert!(fits_int(i128::MIN, 128) && fits_int(i128::MAX, 128));
        assert!(!fits_int(i128::MIN, 127));
    }

    #[test]
    fn patch_out_of_range_is_noop() {
        let mut f = [1u8, 2, 3];
        patch_crc16(&mut f, 0, 2, ByteOrder::Little);
        patch_crc16(&mut f, 2, 1, ByteOrder::Little);
        patch_crc16(&mut f, 5, 5, ByteOrder::Little);
        patch_crc16(&mut f, 0, usize::MAX, ByteOrder::Little);
        assert_eq!(f, [1, 2, 3]);
    }

    #[test]
    fn decimal_text() {
        for v in [
            0i128,
            7,
            -7,
            10,
            99,
            100,
            -1_700_000_000_123,
            i128::MAX,
            i128::MIN,
        ] {
            let mut out = Vec::new();
            put_decimal(&mut out, v);
            assert_eq!(out, alloc::format!("{v}").into_bytes());
            assert_eq!(decimal_len(v), out.len());
        }
    }
}
