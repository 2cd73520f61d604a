#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `ferrocom_wire::codec::DecodeError` is large (see ferrocom-wire); connection errors carry
// it by value on purpose (no allocation on the error path).
#![allow(clippy::result_large_err)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod iocom;
#[cfg(feature = "iotellect")]
pub mod iotellect;
#[cfg(feature = "alloc")]
pub mod mqtt;
#[cfg(feature = "alloc")]
pub mod switchbox;

#[cfg(feature = "tokio")]
pub mod bridge;
#[cfg(feature = "tokio")]
pub mod device;
#[cfg(all(feature = "iotellect", feature = "tokio"))]
pub mod iotellect_net;
#[cfg(feature = "tokio")]
pub mod mqtt_client;
#[cfg(feature = "tokio")]
pub mod net;
#[cfg(feature = "tokio")]
pub mod server;
#[cfg(feature = "tokio")]
pub mod signal;
#[cfg(feature = "tokio")]
pub mod spy;
#[cfg(feature = "tokio")]
pub mod typed;
