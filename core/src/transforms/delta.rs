//! IOCOM delta encoding (reference §4.3 `DELTA_ENCODED`, §11.2): per-byte differences,
//! modulo 256, with no carry between bytes.
//!
//! Delta encoding is *stateful*: a delta frame only means something relative to the bytes
//! the receiver currently holds, and the sender must keep a copy of them (the "sync copy").
//! It is therefore not a frame-level [`Transform`](crate::codec::Transform): the frame codec
//! decodes a data frame's content as plain bytes (expanding zero runs with
//! [`ZeroRun`](super::ZeroRun) if compressed), and the connection engine, which owns the
//! memory blocks and the sync copies, applies the deltas with [`apply`] (or, for compressed
//! frames straight from the wire, [`zero_run::apply`](super::zero_run::apply)).
//!
//! ```
//! use ferrocom_core::transforms::delta;
//! let old = [0x00, 0x00, 0x80, 0x3F];
//! let new = [0x00, 0x00, 0x00, 0x40];
//! let mut d = Vec::new();
//! delta::encode(&new, &old, &mut d);
//! assert_eq!(d, [0x00, 0x00, 0x80, 0x01]); // per byte, no carry
//! let mut block = old;
//! delta::apply(&mut block, &d);
//! assert_eq!(block, new);
//! ```

use crate::codec::Sink;

/// Appends `(current[i] - sync_copy[i]) mod 256` for every byte of `current`.
///
/// Bytes of `current` beyond the end of `sync_copy` are taken relative to zero (they are
/// written as they are).
pub fn encode<S: Sink + ?Sized>(current: &[u8], sync_copy: &[u8], out: &mut S) {
    for (i, &c) in current.iter().enumerate() {
        out.push(c.wrapping_sub(sync_copy.get(i).copied().unwrap_or(0)));
    }
}

/// Adds `deltas[i]` to `target[i]` modulo 256, per byte, no carry.
///
/// Deltas beyond the end of `target` are ignored (clipped, as the C receiver clips at the
/// block end).
pub fn apply(target: &mut [u8], deltas: &[u8]) {
    for (t, d) in target.iter_mut().zip(deltas) {
        *t = t.wrapping_add(*d);
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn shorter_sync_copy_counts_as_zero() {
        let mut d = Vec::new();
        encode(&[5, 6, 7], &[1], &mut d);
        assert_eq!(d, vec![4, 6, 7]);
    }

    #[test]
    fn apply_clips() {
        let mut t = [1u8, 2];
        apply(&mut t, &[0xFF, 0xFF, 0xFF]);
        assert_eq!(t, [0, 1]);
        apply(&mut t, &[1]);
        assert_eq!(t, [1, 1]);
    }
}
