//! Byte transforms of the IOCOM data path, and Iotellect's escaping and compression.
//!
//! * [`zero_run`] — zero-run compression: the stateless [`ZeroRun`] transform used by the
//!   frame codec (`extern transform iocom_zero_run`), plus the exact C sender
//!   ([`zero_run::compress`]) and receiver ([`zero_run::apply`]) for the connection engine.
//! * [`delta`] — per-byte delta encoding, which needs the receiver's copy of the block and
//!   is therefore applied by the connection engine, not by the frame codec.
//! * [`transfer`] — Iotellect's levelled `%` escaping ([`Transfer`] is one level).
//! * `zlib` (feature `zlib`) — Iotellect's V3/V4 body compression (`Zlib`).

pub mod delta;
pub mod transfer;
pub mod zero_run;
#[cfg(feature = "zlib")]
pub mod zlib;

pub use crate::codec::Transform;
pub use transfer::Transfer;
pub use zero_run::ZeroRun;
#[cfg(feature = "zlib")]
pub use zlib::Zlib;
