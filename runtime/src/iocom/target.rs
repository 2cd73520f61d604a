//! Receiver model, one per (connection, block) (§11.4). The staging copy lives in the
//! binding's buffer; a [`Target`] holds the state and is handed the copy by its binding.

use core::ops::Range;

use ferrocom_wire::transforms::zero_run::{self, ApplyError};

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

    /// Applies the content of one data frame, as it came on the wire, at `addr` of
    /// `staging`: copied, or added per byte for a delta frame, zero runs expanded in place
    /// for a compressed one, clipped at the block end (the C receiver,
    /// `zero_run::apply`). Fails if `addr` lies beyond the block.
    pub fn apply(
        &mut self,
        staging: &mut [u8],
        addr: usize,
        content: &[u8],
        is_delta: bool,
        compressed: bool,
    ) -> Result<(), ApplyError> {
        let r = zero_run::apply(content, is_delta, compressed, staging, addr)?.range();
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
