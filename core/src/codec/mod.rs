//! The support code every generated codec calls.
//!
//! * Decoding: a [`Reader`] over the input (stream or hard), primitives for integers of any
//!   width and byte order, MQTT varints, eosal intsers, NUL-terminated strings, sized
//!   regions and checksums; failures are [`Fail`] internally and [`DecodeError`] (naming
//!   protocol, item, field, byte offset and spec clause) at the API boundary, with
//!   [`Decoded::Incomplete`] for "need more bytes".
//! * Encoding: `put_*` functions appending to a [`Sink`] (a `Vec<u8>`, a [`SliceSink`] over
//!   a fixed buffer, a [`Counter`]), range checks ([`fits_uint`], [`fits_int`]) and
//!   [`EncodeError`].
//! * [`crc16_modbus`] and friends (IOCOM serial frames, packed JSON).
//! * The [`Transform`] trait for the spec language's `extern transform` escape hatch
//!   (implemented by [`crate::transforms::ZeroRun`]).

mod crc;
mod error;
mod owned;
mod reader;
mod sink;
mod writer;

pub use crc::{
    CRC16_MODBUS_INIT, crc16_modbus, crc16_modbus_update, crc16_modbus_update_zeros,
    crc16_modbus_zeroed,
};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Fail, FieldInfo};
pub use owned::{ARRAY_MAX, Array, BoundedVec, Cow, check, expand, push};
pub use reader::{Decoded, PendingChecksum, Reader, decode_exact, decode_stream};
pub use sink::{Counter, Sink, SliceSink};
pub use writer::{
    MQTT_VARINT_MAX, decimal_len, end_part, fits_int, fits_uint, intser_len, mqtt_varint_len,
    patch_crc16, put_decimal, put_int, put_intser, put_mqtt_varint, put_uint,
};

/// Byte order of a multi-byte integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Most significant byte first (network order; MQTT).
    Big,
    /// Least significant byte first (IOCOM).
    Little,
}

/// A byte transform used by the spec language's `extern transform` (for example IOCOM
/// zero-run compression): the bytes on the wire are `encode(value bytes)`.
///
/// Both directions *append* to `out` (any [`Sink`]: a `Vec<u8>`, a fixed buffer, a
/// [`Counter`] that only measures). `decode` must never panic and must bound its output by
/// a function of the input length that it documents; it reports malformed input as a short
/// static message (surfaced as [`DecodeErrorKind::Transform`]) and then leaves `out` as it
/// was.
pub trait Transform {
    /// Name used in error messages and in specs.
    const NAME: &'static str;
    /// Wire bytes → value bytes, appended to `out`.
    fn decode<S: Sink + ?Sized>(input: &[u8], out: &mut S) -> Result<(), &'static str>;
    /// Value bytes → wire bytes, appended to `out`.
    fn encode<S: Sink + ?Sized>(input: &[u8], out: &mut S);
}

/// The value of a field with a transform, as an encoder sees it: `value` goes on the wire
/// through `T` when `apply` holds, as it is otherwise. Knows its wire length without
/// building the wire bytes (generated encoders need it for a length field written before
/// the content).
#[derive(Debug, Clone, Copy)]
pub struct Transformed<'a, T> {
    value: &'a [u8],
    apply: bool,
    wire_len: usize,
    transform: core::marker::PhantomData<T>,
}

impl<'a, T: Transform> Transformed<'a, T> {
    /// `value`, transformed on the wire iff `apply`.
    #[inline]
    pub fn new(value: &'a [u8], apply: bool) -> Self {
        let wire_len = if apply {
            let mut n = Counter::default();
            T::encode(value, &mut n);
            n.0
        } else {
            value.len()
        };
        Transformed {
            value,
            apply,
            wire_len,
            transform: core::marker::PhantomData,
        }
    }

    /// Length on the wire.
    #[inline]
    pub fn len(&self) -> usize {
        self.wire_len
    }

    /// `true` if nothing goes on the wire.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.wire_len == 0
    }

    /// Appends the wire bytes to `out`.
    #[inline]
    pub fn write<S: Sink + ?Sized>(&self, out: &mut S) {
        if self.apply {
            T::encode(self.value, out);
        } else {
            out.extend_from_slice(self.value);
        }
    }
}
