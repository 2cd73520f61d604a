//! Byte transforms of the IOCOM data path.
//!
//! * [`zero_run`] — zero-run compression: the stateless [`ZeroRun`] transform used by the
//!   frame codec (`extern transform iocom_zero_run`), plus the exact C sender
//!   ([`zero_run::compress`]) and receiver ([`zero_run::apply`]) for the connection engine.
//! * [`delta`] — per-byte delta encoding, which needs the receiver's copy of the block and
//!   is therefore applied by the connection engine, not by the frame codec.

pub mod delta;
pub mod zero_run;

pub use crate::codec::Transform;
pub use zero_run::ZeroRun;
