//! The support code every generated codec calls.
//!
//! * Decoding: a [`Reader`] over the input (stream or hard), primitives for integers of any
//!   width and byte order, MQTT varints, eosal intsers, NUL-terminated strings, sized
//!   regions and checksums; failures are [`Fail`] internally and [`DecodeError`] (naming
//!   protocol, item, field, byte offset and spec clause) at the API boundary, with
//!   [`Decoded::Incomplete`] for "need more bytes".
//! * Encoding: `put_*` functions appending to a `Vec<u8>`, range checks ([`fits_uint`],
//!   [`fits_int`]) and [`EncodeError`].
//! * [`crc16_modbus`] and friends (IOCOM serial frames, packed JSON).
//! * The [`Transform`] trait for the spec language's `extern transform` escape hatch
//!   (implemented by [`crate::transforms::ZeroRun`]).

use alloc::vec::Vec;

mod crc;
mod error;
mod reader;
mod writer;

pub use crc::{
    CRC16_MODBUS_INIT, crc16_modbus, crc16_modbus_update, crc16_modbus_update_zeros,
    crc16_modbus_zeroed,
};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Fail, FieldInfo};
pub use reader::{Decoded, PendingChecksum, Reader, decode_exact, decode_stream};
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
/// Both directions *append* to `out`. `decode` must never panic and must bound its
/// output by a function of the input length that it documents; it reports malformed input
/// as a short static message (surfaced as [`DecodeErrorKind::Transform`]).
pub trait Transform {
    /// Name used in error messages and in specs.
    const NAME: &'static str;
    /// Wire bytes → value bytes, appended to `out`.
    fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str>;
    /// Value bytes → wire bytes, appended to `out`.
    fn encode(input: &[u8], out: &mut Vec<u8>);
}
