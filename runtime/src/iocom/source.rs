//! Sender model, one per (connection, block) (§11.2), with the exact C zero-run encoder
//! (§11.3, `ferrocom_wire::transforms::zero_run::compress`).

use alloc::vec::Vec;
use core::ops::Range;

use ferrocom_wire::codec::Transform;
use ferrocom_wire::iocom::FrameFlags;
use ferrocom_wire::transforms::ZeroRun;
use ferrocom_wire::transforms::zero_run::compress;

/// The snapshot in transmission (`snap` of §11.2); `start..end`, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snap {
    pub start: usize,
    pub end: usize,
    pub is_key: bool,
}

/// Source buffer: what this end sends of one block on one connection.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// `S`: the sender's copy of what the receiver holds.
    sync: Vec<u8>,
    /// `D`: bytes of the current snapshot (absolute for a key frame, deltas otherwise).
    d: Vec<u8>,
    /// Union of ranges written since the last snapshot.
    changed: Option<Range<usize>>,
    snap: Option<Snap>,
    make_key: bool,
}

/// One frame planned from a busy snapshot; committed only if it passes flow control.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub addr: usize,
    /// DELTA / COMPRESSED / SYNC (width bits are added by the frame encoder).
    pub flags: FrameFlags,
    /// Uncompressed bytes the frame carries (the codec compresses them iff COMPRESSED).
    pub data: Vec<u8>,
    /// Content length on the wire (after compression).
    pub wire_len: usize,
    consumed: usize,
}

impl Source {
    /// A new binding: a key frame is due (§10.4 step 4).
    pub fn new(size: usize) -> Self {
        Source {
            sync: alloc::vec![0; size],
            d: alloc::vec![0; size],
            changed: None,
            snap: None,
            make_key: true,
        }
    }

    /// Marks `range` as written by the application.
    pub fn mark_changed(&mut self, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.changed = Some(match self.changed.take() {
            Some(c) => c.start.min(range.start)..c.end.max(range.end),
            None => range,
        });
    }

    /// `true` if written ranges wait for the next snapshot.
    pub fn has_changes(&self) -> bool {
        self.changed.is_some()
    }

    /// `true` while a snapshot is being transmitted.
    pub fn busy(&self) -> bool {
        self.snap.is_some()
    }

    /// Address of the next frame of the busy snapshot.
    pub fn next_addr(&self) -> Option<usize> {
        self.snap.map(|s| s.start)
    }

    /// `take_snapshot()` of §11.2.
    pub fn take_snapshot(&mut self, block: &[u8], is_static: bool) {
        if self.snap.is_some() {
            return;
        }
        let size = block.len();
        if self.sync.len() != size {
            self.sync.resize(size, 0);
            self.d.resize(size, 0);
        }
        let (start, end, is_key) = if self.make_key {
            self.d.copy_from_slice(block);
            self.make_key = false;
            (0, size, true)
        } else if is_static {
            let Some(c) = self.changed.clone() else {
                return;
            };
            (c.start.min(size), c.end.min(size), false)
        } else {
            let Some(c) = self.changed.clone() else {
                return;
            };
            let (mut start, mut end) = (c.start.min(size), c.end.min(size));
            while start < end && block.get(start) == self.sync.get(start) {
                start += 1;
            }
            while end > start && block.get(end - 1) == self.sync.get(end - 1) {
                end -= 1;
            }
            if end <= start {
                self.changed = None;
                return;
            }
            for i in start..end {
                if let (Some(d), Some(&b), Some(&s)) =
                    (self.d.get_mut(i), block.get(i), self.sync.get(i))
                {
                    *d = b.wrapping_sub(s);
                }
            }
            (start, end, false)
        };
        if let (Some(dst), Some(src)) = (self.sync.get_mut(start..end), block.get(start..end)) {
            dst.copy_from_slice(src);
        }
        self.changed = None;
        if start < end {
            self.snap = Some(Snap { start, end, is_key });
        }
    }

    /// `make_frame()` of §11.2 up to the flow-control test: what the next frame would be,
    /// given `room` content bytes. `None` if no snapshot is busy.
    pub fn plan(&self, block: &[u8], is_static: bool, room: usize) -> Option<Plan> {
        let snap = self.snap?;
        let mut flags = FrameFlags::empty();
        let remaining = snap.end.saturating_sub(snap.start);
        if is_static {
            let n = remaining.min(room);
            let data = block.get(snap.start..snap.start + n)?.to_vec();
            return Some(self.finish(snap, flags, data, n, n));
        }
        if !snap.is_key {
            flags |= FrameFlags::DELTA;
        }
        let src = self.d.get(snap.start..snap.end)?;
        let mut packed = Vec::new();
        if let Some(consumed) = compress(src, room, &mut packed) {
            let data = src.get(..consumed)?.to_vec();
            // The frame codec compresses `data` itself (unlimited room); for a consumed
            // prefix that is the same stream. Guard it anyway: never send a frame whose
            // length differs from the one flow control approved.
            let mut check = Vec::new();
            ZeroRun::encode(&data, &mut check);
            if check == packed {
                flags |= FrameFlags::COMPRESSED;
                return Some(self.finish(snap, flags, data, packed.len(), consumed));
            }
        }
        let n = remaining.min(room);
        let data = src.get(..n)?.to_vec();
        Some(self.finish(snap, flags, data, n, n))
    }

    fn finish(
        &self,
        snap: Snap,
        mut flags: FrameFlags,
        data: Vec<u8>,
        wire_len: usize,
        consumed: usize,
    ) -> Plan {
        if snap.start + consumed >= snap.end {
            flags |= FrameFlags::SYNC;
        }
        Plan {
            addr: snap.start,
            flags,
            data,
            wire_len,
            consumed,
        }
    }

    /// The planned frame was sent: advance the snapshot.
    pub fn commit(&mut self, plan: &Plan) {
        if let Some(snap) = &mut self.snap {
            snap.start += plan.consumed;
            if snap.start >= snap.end {
                self.snap = None;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_then_trimmed_delta() {
        let mut block = alloc::vec![0u8; 44];
        let mut s = Source::new(44);
        s.take_snapshot(&block, false);
        let p = s.plan(&block, false, 1000).unwrap();
        assert_eq!(p.flags, FrameFlags::COMPRESSED | FrameFlags::SYNC);
        assert_eq!(p.wire_len, 2); // 00 2C
        s.commit(&p);
        assert!(!s.busy());
        block[8] = 0x80;
        block[9] = 1;
        s.mark_changed(0..20);
        s.take_snapshot(&block, false);
        let p = s.plan(&block, false, 1000).unwrap();
        assert_eq!(p.addr, 8);
        assert_eq!(p.data, [0x80, 1]); // < 4 bytes: raw delta
        assert_eq!(p.flags, FrameFlags::DELTA | FrameFlags::SYNC);
    }
}
