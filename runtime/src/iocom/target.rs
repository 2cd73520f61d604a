//! Receiver model, one per (connection, block) (§11.4). The staging copy lives in the
//! binding's buffer; a [`Target`] holds the state and is handed the copy by its binding.

use core::ops::Range;

use ferrocom_wire::transforms::delta;

/// Target buffer state: frames are applied to a staging copy; SYNC_COMPLETE publishes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    /// Length of the staging copy.
    pub size: usize,
    touched: Option<Range<usize>>,
}

impl Target {
    /// A target for a block of `size` bytes (its staging copy starts as the block).
    pub fn new(size: usize) -> Self {
        Target {
            size,
            touched: None,
        }
    }

    /// Applies the (already zero-run expanded) content of one data frame at `addr` to
    /// `staging`, clipping at the block end. `Err(block size)` if `addr` lies beyond it.
    pub fn apply(
        &mut self,
        staging: &mut [u8],
        addr: usize,
        content: &[u8],
        is_delta: bool,
    ) -> Result<(), usize> {
        let size = staging.len();
        if addr > size {
            return Err(size);
        }
        let n = content.len().min(size - addr);
        let (Some(dst), Some(src)) = (staging.get_mut(addr..addr + n), content.get(..n)) else {
            return Err(size);
        };
        if is_delta {
            delta::apply(dst, src);
        } else {
            dst.copy_from_slice(src);
        }
        let r = addr..addr + n;
        self.touched = Some(match self.touched.take() {
            Some(t) => t.start.min(r.start)..t.end.max(r.end),
            None => r,
        });
        Ok(())
    }

    /// SYNC_COMPLETE: copies the touched range of `staging` into `block` (both the same
    /// size) and returns the range of bytes that actually changed (like the C receiver,
    /// which shrinks it before raising its callbacks).
    pub fn publish(&mut self, staging: &[u8], block: &mut [u8]) -> Option<Range<usize>> {
        let t = self.touched.take()?;
        let (Some(src), Some(dst)) = (staging.get(t.clone()), block.get_mut(t.clone())) else {
            return None;
        };
        let first = src.iter().zip(dst.iter()).position(|(a, b)| a != b);
        let last = src.iter().zip(dst.iter()).rposition(|(a, b)| a != b);
        dst.copy_from_slice(src);
        match (first, last) {
            (Some(f), Some(l)) => Some(t.start + f..t.start + l + 1),
            _ => None,
        }
    }
}
