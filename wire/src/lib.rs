#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `DecodeError` carries protocol/item/field/clause names and i128 values, so `Fail` and
// `DecodeError` are 128 bytes; generated decoders return them by value on purpose
// (no allocation on the error path, `no_std`).
#![allow(clippy::result_large_err)]

extern crate alloc;
// Generated code names this crate by its absolute path, also from inside the crate.
#[allow(unused_extern_crates)]
extern crate self as ferrocom_wire;

pub mod codec;
pub mod packed_json;
pub mod signals;
pub mod transforms;

// The canonical codecs, generated at compile time from the specs in ../spec/protocols.
ferrocom_macros::protocol!("../spec/protocols/iocom.wire");
ferrocom_macros::protocol!("../spec/protocols/switchbox.wire");
ferrocom_macros::protocol!("../spec/protocols/mqtt311.wire");

/// Re-exports for generated code. Not a public API: may change without notice.
#[doc(hidden)]
pub mod __private {
    pub use alloc::{borrow::Cow, boxed::Box, string::String, vec::Vec};
    #[cfg(feature = "arbitrary")]
    pub use arbitrary;
}
