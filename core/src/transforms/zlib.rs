//! zlib (RFC 1950) as a spec transform: the body compression of Iotellect V3/V4 frames
//! (reference iotellect §3), which is `java.util.zip.Deflater` with its defaults.
//!
//! Compression goes through the system zlib (flate2's `zlib` back end) rather than a
//! Rust deflate: zlib's level-6 output is what a Java peer sends, so frames encode to
//! the same bytes as the reference's captures. Any correct inflater reads either.
//!
//! Inflating stops at [`MAX_INFLATED`] bytes: a 16 KiB "zip bomb" cannot make a
//! connection allocate gigabytes.

extern crate std;

use std::io::{Read, Write};

use alloc::vec::Vec;

use crate::codec::{Sink, Transform};

/// The most bytes one compressed body may inflate to (16 MiB).
pub const MAX_INFLATED: usize = 16 << 20;

/// zlib with Java's `Deflater` defaults (level 6); see the [module docs](self).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Zlib;

impl Transform for Zlib {
    const NAME: &'static str = "zlib";

    fn decode<S: Sink + ?Sized>(input: &[u8], out: &mut S) -> Result<(), &'static str> {
        let mut inflated = Vec::new();
        let mut inflater = flate2::read::ZlibDecoder::new(input).take(MAX_INFLATED as u64 + 1);
        inflater
            .read_to_end(&mut inflated)
            .map_err(|_| "not a valid zlib stream")?;
        if inflated.len() > MAX_INFLATED {
            return Err("inflates to more than 16 MiB");
        }
        out.extend_from_slice(&inflated);
        Ok(())
    }

    fn encode<S: Sink + ?Sized>(input: &[u8], out: &mut S) {
        let mut deflated = Vec::new();
        let mut deflater =
            flate2::write::ZlibEncoder::new(&mut deflated, flate2::Compression::new(6));
        // Writing into a Vec cannot fail.
        let _ = deflater.write_all(input);
        let _ = deflater.finish();
        out.extend_from_slice(&deflated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut packed = Vec::new();
        Zlib::encode(&data, &mut packed);
        assert_eq!(&packed[..2], &[0x78, 0x9C]);
        let mut back = Vec::new();
        assert_eq!(Zlib::decode(&packed, &mut back), Ok(()));
        assert_eq!(back, data);
        let mut out = Vec::new();
        assert_eq!(
            Zlib::decode(b"\x78\x9cnot deflate", &mut out),
            Err("not a valid zlib stream")
        );
    }

    #[test]
    fn a_bomb_is_refused_without_inflating_it_all() {
        let zeros = std::vec![0u8; MAX_INFLATED + 1024];
        let mut packed = Vec::new();
        Zlib::encode(&zeros, &mut packed);
        assert!(packed.len() < 64 * 1024, "{}", packed.len());
        let mut out = Vec::new();
        assert_eq!(
            Zlib::decode(&packed, &mut out),
            Err("inflates to more than 16 MiB")
        );
        assert!(out.is_empty());
    }
}
