//! Receiver model, one per (connection, block) (§11.4).

use alloc::vec::Vec;
use core::ops::Range;

use ferrocom_wire::transforms::delta;

/// Target buffer: frames are applied to a staging copy; SYNC_COMPLETE publishes it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    staging: Vec<u8>,
    touched: Option<Range<usize>>,
}

impl Target {
    pub fn new(block: &[u8]) -> Self {
        Target {
            staging: block.to_vec(),
            touched: None,
        }
    }

    /// Applies the (already zero-run expanded) content of one data frame at `addr`,
    /// clipping at the block end. `Err(block size)` if `addr` lies beyond the block.
    pub fn apply(&mut self, addr: usize, content: &[u8], is_delta: bool) -> Result<(), usize> {
        let size = self.staging.len();
        if addr > size {
            return Err(size);
        }
        let n = content.len().min(size - addr);
        let (Some(dst), Some(src)) = (self.staging.get_mut(addr..addr + n), content.get(..n))
        else {
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

    /// SYNC_COMPLETE: copies the touched range into `block` and returns the range of
    /// bytes that actually changed (like the C receiver, which shrinks it before
    /// raising its callbacks).
    pub fn publish(&mut self, block: &mut Vec<u8>) -> Option<Range<usize>> {
        // Blocks only grow (§10.4 step 3); keep both views the same size.
        if block.len() < self.staging.len() {
            block.resize(self.staging.len(), 0);
        } else if self.staging.len() < block.len() {
            self.staging.resize(block.len(), 0);
        }
        let t = self.touched.take()?;
        let (Some(src), Some(dst)) = (self.staging.get(t.clone()), block.get_mut(t.clone())) else {
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
