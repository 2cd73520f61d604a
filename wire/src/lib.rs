#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
// Generated code names this crate by its absolute path, also from inside the crate.
#[allow(unused_extern_crates)]
extern crate self as ferrocom_wire;

// The support code generated codecs call, and the other no_std building blocks, live in
// ferrocom-core (see its README for why); they are re-exported here so that generated
// code and users need one dependency.
#[cfg(feature = "alloc")]
pub use ferrocom_core::packed_json;
pub use ferrocom_core::{codec, signals, transforms};

// Iotellect Data Tables: a value encoding with escaping by nesting level, hand-written
// because it is not a frame layout the spec language describes (see its module docs).
#[cfg(feature = "alloc")]
pub mod datatable;

// The canonical codecs, generated at compile time from the specs in ../spec/protocols.
ferrocom_macros::protocol!("../spec/protocols/iocom.wire");
#[cfg(feature = "alloc")]
ferrocom_macros::protocol!("../spec/protocols/switchbox.wire");
#[cfg(feature = "alloc")]
ferrocom_macros::protocol!("../spec/protocols/mqtt311.wire");
#[cfg(feature = "iotellect")]
ferrocom_macros::protocol!("../spec/protocols/iotellect.wire");

/// Re-exports for generated code. Not a public API: may change without notice.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "alloc")]
    pub use alloc::{boxed::Box, string::String};
    // `alloc`'s `Cow` and `Vec`, or their heap-free stand-ins (ferrocom-core, codec).
    #[cfg(feature = "arbitrary")]
    pub use arbitrary;
    pub use ferrocom_core::codec::{Array as Vec, Cow};
}
