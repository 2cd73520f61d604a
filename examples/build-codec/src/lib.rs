//! Example: a codec generated from a protocol spec by a **build script**.
//!
//! `ferrocom-macros`' `protocol!("x.wire")` generates a codec inside the crate that
//! invokes it. The alternative shown here generates the code in `build.rs` with
//! [`ferrocom_codegen::Build`](https://docs.rs/ferrocom-codegen) and includes the
//! written file, which keeps proc macros out of the build (handy for firmware crates
//! and for reading the generated code, which lands in `$OUT_DIR/sensor.rs`).
//!
//! The pieces:
//!
//! * `spec/sensor.wire` — the protocol: a telemetry frame with a magic number, a version,
//!   status flags, a length-prefixed name, a reading selected by a type byte, and a
//!   CRC-16/MODBUS checksum;
//! * `build.rs` — `ferrocom_codegen::Build::new().spec("spec/sensor.wire").generate()`,
//!   which writes `$OUT_DIR/<protocol name>.rs` and tells cargo to re-run when the spec
//!   changes (a spec error fails the build with its file, line and column);
//! * this file — `pub mod sensor { include!(concat!(env!("OUT_DIR"), "/sensor.rs")); }`;
//! * `Cargo.toml` — `ferrocom-wire` as a dependency (the generated code calls its
//!   support code), `ferrocom-codegen` as a build dependency, and an `arbitrary` feature
//!   forwarding to `ferrocom-wire/arbitrary` for the generated `Arbitrary` impls.
//!
//! Using the codec:
//!
//! ```
//! use ferrocom_example_build_codec::sensor::{Reading, Status, Telemetry};
//! use ferrocom_wire::codec::Decoded;
//!
//! let frame = Telemetry {
//!     version: 1,
//!     status: Status::CALIBRATED,
//!     name: "t1",
//!     reading: Reading::Temperature(2150), // 21.50 °C
//! };
//! let mut bytes = Vec::new();
//! frame.encode(&mut bytes)?;
//! // magic, version, status, name, kind, reading, then the CRC computed by `encode`.
//! assert_eq!(bytes[..10], [0x53, 0x4E, 0x01, 0x02, 0x02, b't', b'1', 0x01, 0x66, 0x08]);
//!
//! // Streaming decode: the message and the bytes it took, or "need more bytes".
//! assert_eq!(Telemetry::decode(&bytes)?, Decoded::Complete(frame.clone(), bytes.len()));
//! // The name length (2) has arrived, the name has not.
//! assert_eq!(Telemetry::decode(&bytes[..5])?, Decoded::Incomplete(2));
//!
//! // A corrupted frame: the error names the field, byte offset and spec clause.
//! bytes[8] ^= 0x01;
//! let err = Telemetry::decode(&bytes).unwrap_err();
//! assert_eq!((err.field(), err.offset, err.clause()), ("checksum", 10, Some("SENSOR-1.5")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

/// The codec generated from `spec/sensor.wire` by `build.rs`.
pub mod sensor {
    include!(concat!(env!("OUT_DIR"), "/sensor.rs"));
}
