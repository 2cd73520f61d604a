//! Address assignment (reference §14.3), exactly as IOCOM's generator and its dynamic
//! C consumers compute it.
//!
//! Per memory block, over all groups in document order:
//!
//! ```text
//! addr = 0; type = ushort; size = 24
//! for each signal s:
//!     if s has "addr": addr = s.addr          (may go backwards)
//!     if s has "type": type = s.type          (else the previous signal's type is reused)
//!     s.address = addr
//!     addr += slot size of s                  (state byte + value bytes, no padding)
//!     size = max(size, addr)
//! ```
//!
//! Slots that overlap (possible only with explicit `addr`) are an error naming both
//! signals; no real IOCOM map has them (every file in the IOCOM repository lays out
//! without overlap). A block must end within 32-bit addresses (the widest address an
//! IOCOM data frame carries).

use super::SignalMapError;
use super::model::{Signal, SignalMap, SignalType};

/// The smallest block size IOCOM uses.
pub const MIN_BLOCK_SIZE: usize = 24;

/// The largest block size: addresses in data frames are at most 32 bits.
pub const MAX_BLOCK_SIZE: usize = u32::MAX as usize;

impl SignalMap {
    /// (Re)computes every signal's `addr` and type carry-over and every block's `size`
    /// after the model was changed in code. Maps read with `from_json_*` already have
    /// their addresses.
    pub fn assign_addresses(&mut self) -> Result<(), SignalMapError> {
        assign_addresses(self)
    }
}

pub(crate) fn assign_addresses(map: &mut SignalMap) -> Result<(), SignalMapError> {
    for block in &mut map.blocks {
        let mut addr: usize = 0;
        let mut ty = SignalType::Ushort;
        let mut size = MIN_BLOCK_SIZE;
        for s in block.groups.iter_mut().flat_map(|g| g.signals.iter_mut()) {
            if let Some(a) = s.explicit_addr {
                addr = a;
            }
            if s.type_given {
                ty = s.ty;
            } else {
                s.ty = ty;
            }
            s.addr = addr;
            let end = s
                .checked_slot_size()
                .and_then(|slot| addr.checked_add(slot))
                .filter(|end| *end <= MAX_BLOCK_SIZE)
                .ok_or_else(|| {
                    SignalMapError::at(
                        &s.pos,
                        format!(
                            "signal `{}` ends beyond the largest block IOCOM can address ({MAX_BLOCK_SIZE} bytes)",
                            s.name
                        ),
                    )
                })?;
            addr = end;
            size = size.max(end);
        }
        block.size = size;
        check_overlaps(&block.name, block.signals())?;
    }
    Ok(())
}

/// A signal and its index in document order.
type Indexed<'s> = (usize, &'s Signal);

/// Reports the first pair of overlapping slots: the signal written later in the map, at
/// its position, with a note at the other one.
fn check_overlaps<'s>(
    block: &str,
    signals: impl Iterator<Item = &'s Signal>,
) -> Result<(), SignalMapError> {
    let mut slots: Vec<(usize, &Signal)> = signals.enumerate().collect();
    slots.sort_by_key(|(index, s)| (s.addr, *index));
    // The slot reaching furthest so far, among those already passed in address order.
    let mut furthest: Option<(usize, &Signal)> = None;
    let mut clash: Option<(Indexed<'_>, Indexed<'_>)> = None;
    for &(index, s) in &slots {
        if let Some((f_index, f)) = furthest {
            if s.addr < f.end() {
                let pair = if index > f_index {
                    ((index, s), (f_index, f))
                } else {
                    ((f_index, f), (index, s))
                };
                // Keep the clash whose later signal comes first in the document.
                if clash.is_none_or(|((c, _), _)| pair.0.0 < c) {
                    clash = Some(pair);
                }
            }
            if s.end() > f.end() {
                furthest = Some((index, s));
            }
        } else {
            furthest = Some((index, s));
        }
    }
    match clash {
        None => Ok(()),
        Some(((_, later), (_, earlier))) => Err(SignalMapError::at(
            &later.pos,
            format!(
                "signal `{}` (bytes {}..{}) overlaps signal `{}` (bytes {}..{}) in memory block `{block}`",
                later.name,
                later.addr,
                later.end(),
                earlier.name,
                earlier.addr,
                earlier.end()
            ),
        )
        .with_note(&earlier.pos, format!("`{}` is defined here", earlier.name))),
    }
}
