#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod codec;
#[cfg(feature = "alloc")]
pub mod packed_json;
pub mod signals;
pub mod transforms;
