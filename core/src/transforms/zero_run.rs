//! IOCOM zero-run compression (reference §11.3 encoder, §11.4 receiver).
//!
//! A compressed stream alternates `literal-count, literal bytes, zero-count,
//! literal-count, literal bytes, zero-count, …` and may end after either kind of element.
//! Counts are single bytes (0..=255); counts of 0 are normal (a literal count 0 when the
//! data start with two zeros, a zero count 0 after a 255-byte literal followed by more
//! non-zero data).
//!
//! Three entry points:
//!
//! * [`ZeroRun`] — the [`Transform`] used by frame codecs: expands a stream into absolute
//!   bytes (zero runs become `00`), and encodes with the C algorithm without a size limit.
//! * [`compress`] — the C sender's encoder to the letter, with the frame's `room` limit and
//!   the "not smaller than the input → not compressed" rule; used by the connection engine.
//! * [`apply`] — the C receiver: writes (or, for delta frames, adds) a frame's content into
//!   a memory block at an address, clipping at the block end.
//!
//! # Expansion bound
//!
//! A stream of `k` bytes expands to at most `k + 253·⌊k/2⌋ ≤ 127.5·k` bytes
//! ([`max_expanded_len`]; the worst case is `00 FF 00 FF …`: two input bytes give 255
//! zeros). [`ZeroRun::decode`] therefore never allocates more than about 128 times its
//! input, and [`apply`] never writes outside the block it is given.

use core::fmt;
use core::ops::Range;

use crate::codec::{Sink, Transform};

/// The IOCOM zero-run transform (`iocom_zero_run` in specs). See the [module docs](self).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZeroRun;

impl Transform for ZeroRun {
    const NAME: &'static str = "iocom_zero_run";

    /// Expands a zero-run stream into absolute bytes (zero runs as `00`), appended to
    /// `out`. A literal count running past the end of the input is an error (and leaves
    /// `out` as it was). Output is at most [`max_expanded_len`]`(input.len())` bytes.
    fn decode<S: Sink + ?Sized>(input: &[u8], out: &mut S) -> Result<(), &'static str> {
        expand(input, &mut Dyn(out))
    }

    /// Encodes with the C algorithm of §11.3 with unlimited room and without the
    /// "not smaller than the input" fallback: always produces a stream (empty for empty
    /// input). Whenever [`compress`] with enough room returns a stream for `input`, this
    /// produces the same bytes.
    fn encode<S: Sink + ?Sized>(input: &[u8], out: &mut S) {
        encode_limited(input, usize::MAX, &mut Dyn(out));
    }
}

/// Lends a sink of any type as `dyn Sink`, so that the loops below exist once in a
/// firmware whatever sinks it encodes into (they write whole runs per call, so the
/// indirect call costs nothing that matters).
struct Dyn<'a, S: ?Sized>(&'a mut S);

impl<S: Sink + ?Sized> Sink for Dyn<'_, S> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn push(&mut self, byte: u8) {
        self.0.push(byte);
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn fill(&mut self, byte: u8, n: usize) {
        self.0.fill(byte, n);
    }
    fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }
    fn written_mut(&mut self) -> &mut [u8] {
        self.0.written_mut()
    }
    fn room(&self) -> usize {
        self.0.room()
    }
}

/// The decoding loop of [`ZeroRun::decode`].
fn expand(input: &[u8], out: &mut dyn Sink) -> Result<(), &'static str> {
    let base = out.len();
    let mut i = 0usize;
    while let Some(&n) = input.get(i) {
        i += 1;
        let n = usize::from(n);
        let Some(literal) = input.get(i..i + n) else {
            out.truncate(base);
            return Err("literal run extends past the end of the compressed data");
        };
        out.extend_from_slice(literal);
        i += n;
        let Some(&m) = input.get(i) else {
            break;
        };
        i += 1;
        out.fill(0, usize::from(m));
    }
    Ok(())
}

/// Largest number of bytes a zero-run stream of `compressed_len` bytes can expand to:
/// `compressed_len + 253 · ⌊compressed_len / 2⌋` (≤ 127.5 × `compressed_len`).
pub const fn max_expanded_len(compressed_len: usize) -> usize {
    compressed_len.saturating_add((compressed_len / 2).saturating_mul(253))
}

/// The §11.3 encoding loop. Appends to `out` and returns the number of input bytes
/// consumed (`p`). `room` limits the bytes written by this call.
fn encode_limited(src: &[u8], room: usize, out: &mut dyn Sink) -> usize {
    let base = out.len();
    let nonzero = |i: usize| src.get(i).is_some_and(|&b| b != 0);
    let mut p = 0usize;
    let mut left = src.len();
    while left > 0 {
        // Literal run: non-zero bytes; a single zero followed by a non-zero byte stays
        // inside the run.
        let run = p;
        let mut n = 0usize;
        let max = left.min(255);
        while n < max && (nonzero(p) || (n < max - 1 && nonzero(p + 1))) {
            n += 1;
            p += 1;
        }
        left -= n;
        if (out.len() - base).saturating_add(n) >= room {
            // The literal with its count byte does not fit.
            p = run;
            break;
        }
        out.push(n as u8);
        out.extend_from_slice(src.get(run..p).unwrap_or(&[]));
        if left == 0 {
            break;
        }
        // Zero run.
        let run = p;
        let mut m = 0usize;
        let max = left.min(255);
        while m < max && src.get(p) == Some(&0) {
            m += 1;
            p += 1;
        }
        left -= m;
        if out.len() - base >= room {
            // Its count byte does not fit.
            p = run;
            break;
        }
        out.push(m as u8);
    }
    p
}

/// The C sender's zero-run encoder (`ioc_compress`, reference §11.3) to the letter.
///
/// `src` is the remaining snapshot range, `room` the bytes available for content in this
/// frame. Returns `Some(consumed)` with the compressed bytes appended to `out`, or `None`
/// ("not compressible": send raw bytes instead) with `out` unchanged, when
///
/// * `src` is shorter than 4 bytes, or
/// * the compressed output is not strictly shorter than the input it consumed (this
///   includes `room` too small for anything).
///
/// When `room` runs out the encoder stops at an element boundary; `consumed` then is less
/// than `src.len()` and the next frame continues at the next address.
pub fn compress<S: Sink + ?Sized>(src: &[u8], room: usize, out: &mut S) -> Option<usize> {
    if src.len() < 4 {
        return None;
    }
    let base = out.len();
    let consumed = encode_limited(src, room, &mut Dyn(out));
    if out.len() - base < consumed {
        Some(consumed)
    } else {
        out.truncate(base);
        None
    }
}

/// The part of a memory block covered by one applied frame (`start..end`, end exclusive):
/// bytes written, zeroed, added to or (delta zero runs) skipped. The C receiver marks this
/// range as touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplyRange {
    /// First block offset covered (the frame's address).
    pub start: usize,
    /// One past the last block offset covered.
    pub end: usize,
}

impl ApplyRange {
    /// Number of block bytes covered.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// `true` if the frame covered no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// As a `Range`.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// A data frame the C receiver would reject (reference §11.7); the connection is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplyError {
    /// The frame's address lies beyond the end of the block.
    AddressBeyondBlock {
        /// The frame's address.
        addr: usize,
        /// The block size.
        block_size: usize,
    },
    /// A literal count runs past the end of the frame content.
    LiteralOverrun {
        /// Offset of the count byte in the content.
        at: usize,
        /// The literal count.
        count: usize,
        /// Content bytes left after the count byte.
        available: usize,
    },
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::AddressBeyondBlock { addr, block_size } => write!(
                f,
                "data frame address {addr} is beyond the end of the {block_size}-byte memory block"
            ),
            ApplyError::LiteralOverrun {
                at,
                count,
                available,
            } => write!(
                f,
                "zero-run literal count {count} at content byte {at} runs past the content \
                 ({available} bytes left)"
            ),
        }
    }
}

impl core::error::Error for ApplyError {}

/// Copies (`delta == false`) or adds mod 256 (`delta == true`) `src` onto `dst`
/// (equal lengths).
fn put(dst: &mut [u8], src: &[u8], delta: bool) {
    if delta {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = d.wrapping_add(*s);
        }
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

/// The C receiver (`ioc_uncompress`, reference §11.4): applies a data frame's `content` to
/// `block` starting at `addr`.
///
/// * `compressed == false`: the content bytes are copied (or, with `delta`, added mod 256
///   per byte, no carry) from `addr` on.
/// * `compressed == true`: literal runs are copied / added; zero runs write zeros, or with
///   `delta` leave the bytes unchanged (adding zero).
///
/// Anything beyond the block end is clipped silently (not an error), and once the block
/// end is reached the rest of the content is not examined, as in C. Errors: `addr` greater
/// than the block size, and a literal count running past the content. On error the block
/// may already have been partly written (the C receiver works on a staging copy and drops
/// the connection).
pub fn apply(
    content: &[u8],
    delta: bool,
    compressed: bool,
    block: &mut [u8],
    addr: usize,
) -> Result<ApplyRange, ApplyError> {
    let size = block.len();
    if addr > size {
        return Err(ApplyError::AddressBeyondBlock {
            addr,
            block_size: size,
        });
    }
    let mut dst = addr;
    if !compressed {
        let n = content.len().min(size - dst);
        if let (Some(d), Some(s)) = (block.get_mut(dst..dst + n), content.get(..n)) {
            put(d, s, delta);
        }
        return Ok(ApplyRange {
            start: addr,
            end: dst + n,
        });
    }
    let mut i = 0usize;
    while dst < size {
        let Some(&n) = content.get(i) else {
            break;
        };
        let n = usize::from(n);
        let at = i;
        i += 1;
        let Some(literal) = content.get(i..i + n) else {
            return Err(ApplyError::LiteralOverrun {
                at,
                count: n,
                available: content.len() - i,
            });
        };
        let k = n.min(size - dst);
        if let (Some(d), Some(s)) = (block.get_mut(dst..dst + k), literal.get(..k)) {
            put(d, s, delta);
        }
        i += n;
        dst += k;
        if dst >= size {
            break;
        }
        let Some(&m) = content.get(i) else {
            break;
        };
        i += 1;
        let k = usize::from(m).min(size - dst);
        if !delta && let Some(d) = block.get_mut(dst..dst + k) {
            d.fill(0);
        }
        dst += k;
    }
    Ok(ApplyRange {
        start: addr,
        end: dst,
    })
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn enc(x: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        ZeroRun::encode(x, &mut v);
        v
    }

    #[test]
    fn encode_basics() {
        assert_eq!(enc(&[]), Vec::<u8>::new());
        assert_eq!(enc(&[0]), vec![0, 1]);
        assert_eq!(enc(&[5]), vec![1, 5]);
        assert_eq!(enc(&[0, 0, 0]), vec![0, 3]);
        // A single zero between non-zero bytes stays inside the literal.
        assert_eq!(enc(&[1, 0, 2]), vec![3, 1, 0, 2]);
        // A trailing single zero ends the literal.
        assert_eq!(enc(&[1, 2, 3, 0]), vec![3, 1, 2, 3, 1]);
        // 255-byte literal followed by non-zero data: zero count 0.
        let x: Vec<u8> = vec![7; 300];
        let e = enc(&x);
        assert_eq!(e.len(), 1 + 255 + 1 + 1 + 45);
        assert_eq!((e[0], e[256], e[257]), (255, 0, 45));
    }

    #[test]
    fn decode_errors_leave_out_unchanged() {
        let mut out = vec![9];
        assert!(ZeroRun::decode(&[2, 1], &mut out).is_err());
        assert_eq!(out, vec![9]);
        assert!(ZeroRun::decode(&[0, 3, 5, 1], &mut out).is_err());
        assert_eq!(out, vec![9]);
    }

    #[test]
    fn expansion_bound_is_tight() {
        for k in 0..10 {
            let worst: Vec<u8> = (0..k).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect();
            let mut out = Vec::new();
            ZeroRun::decode(&worst, &mut out).ok();
            assert!(out.len() <= max_expanded_len(k));
            if k % 2 == 0 {
                assert_eq!(out.len(), max_expanded_len(k));
            }
        }
    }

    #[test]
    fn compress_leaves_out_on_none() {
        let mut out = vec![1, 2];
        assert_eq!(compress(&[1, 2, 3, 4], 100, &mut out), None);
        assert_eq!(out, vec![1, 2]);
        assert_eq!(compress(&[0, 0, 0], 100, &mut out), None);
        assert_eq!(compress(&[0, 0, 0, 0], 100, &mut out), Some(4));
        assert_eq!(out, vec![1, 2, 0, 4]);
    }

    #[test]
    fn apply_addr_at_end_is_empty() {
        let mut b = [1u8; 4];
        let r = apply(&[0xFF], false, true, &mut b, 4);
        assert_eq!(r, Ok(ApplyRange { start: 4, end: 4 }));
        assert!(apply(&[], false, false, &mut b, 5).is_err());
    }
}
