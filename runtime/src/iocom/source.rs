//! Sender model, one per (connection, block) (§11.2), with the exact C zero-run encoder
//! (§11.3, `ferrocom_wire::transforms::zero_run::compress`).
//!
//! The sender's two copies of the block (`S`, the receiver's bytes, and `D`, the snapshot
//! in transmission) live in the binding's buffer; a [`Source`] holds the state and is
//! handed the copies by its binding.

use core::ops::Range;

use ferrocom_wire::codec::{Counter, Sink, Transform};
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

/// Source buffer state: what this end sends of one block on one connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Source {
    /// Length of each copy (`S` and `D`); 0 for a static block, which is sent from the
    /// block itself and never as deltas.
    pub size: usize,
    /// Union of ranges written since the last snapshot.
    changed: Option<Range<usize>>,
    snap: Option<Snap>,
    make_key: bool,
}

/// Where a planned frame's content comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum From {
    /// The block (static blocks are sent raw from the block).
    Block,
    /// The snapshot copy `D`.
    Snapshot,
}

/// One frame planned from a busy snapshot; committed only if it passes flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub addr: usize,
    /// DELTA / COMPRESSED / SYNC (width bits are added by the frame encoder).
    pub flags: FrameFlags,
    /// The uncompressed bytes the frame carries: `len` bytes at `addr` of `from` (the
    /// codec compresses them iff COMPRESSED).
    pub from: From,
    pub len: usize,
    /// Content length on the wire (after compression).
    pub wire_len: usize,
    consumed: usize,
}

impl Plan {
    /// The frame's content, from the block or the snapshot copy.
    pub fn data<'a>(&self, block: &'a [u8], d: &'a [u8]) -> &'a [u8] {
        let src = match self.from {
            From::Block => block,
            From::Snapshot => d,
        };
        src.get(self.addr..self.addr + self.len).unwrap_or_default()
    }
}

impl Source {
    /// A new binding of a block of `size` bytes: a key frame is due (§10.4 step 4).
    pub fn new(size: usize, is_static: bool) -> Self {
        Source {
            size: if is_static { 0 } else { size },
            changed: None,
            snap: None,
            make_key: true,
        }
    }

    /// Bytes of binding buffer the two copies need for a block of `size` bytes.
    pub const fn bytes_for(size: usize, is_static: bool) -> usize {
        if is_static { 0 } else { 2 * size }
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

    /// `take_snapshot()` of §11.2. `sync` and `d` are the copies, as long as `block`
    /// (empty for a static block).
    pub fn take_snapshot(&mut self, block: &[u8], sync: &mut [u8], d: &mut [u8], is_static: bool) {
        if self.snap.is_some() {
            return;
        }
        let size = block.len();
        let (start, end, is_key) = if self.make_key {
            if !is_static && let Some(d) = d.get_mut(..size) {
                d.copy_from_slice(block);
            }
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
            while start < end && block.get(start) == sync.get(start) {
                start += 1;
            }
            while end > start && block.get(end - 1) == sync.get(end - 1) {
                end -= 1;
            }
            if end <= start {
                self.changed = None;
                return;
            }
            for i in start..end {
                if let (Some(d), Some(&b), Some(&s)) = (d.get_mut(i), block.get(i), sync.get(i)) {
                    *d = b.wrapping_sub(s);
                }
            }
            (start, end, false)
        };
        if !is_static
            && let (Some(dst), Some(src)) = (sync.get_mut(start..end), block.get(start..end))
        {
            dst.copy_from_slice(src);
        }
        self.changed = None;
        if start < end {
            self.snap = Some(Snap { start, end, is_key });
        }
    }

    /// `make_frame()` of §11.2 up to the flow-control test: what the next frame would be,
    /// given `room` content bytes. `None` if no snapshot is busy.
    pub fn plan(&self, block: &[u8], d: &[u8], is_static: bool, room: usize) -> Option<Plan> {
        let snap = self.snap?;
        let mut flags = FrameFlags::empty();
        let remaining = snap.end.saturating_sub(snap.start);
        if is_static {
            let n = remaining.min(room);
            block.get(snap.start..snap.start + n)?;
            return Some(self.finish(snap, flags, From::Block, n, n, n));
        }
        if !snap.is_key {
            flags |= FrameFlags::DELTA;
        }
        let src = d.get(snap.start..snap.end)?;
        let mut packed = Counter::default();
        if let Some(consumed) = compress(src, room, &mut packed) {
            // The frame codec compresses the consumed prefix itself (unlimited room);
            // send it compressed only if that is the C encoder's stream, so that no frame
            // differs from what flow control approved (or from the C sender).
            let data = src.get(..consumed)?;
            if consumed == src.len() || same_stream(src, room, data) {
                flags |= FrameFlags::COMPRESSED;
                return Some(self.finish(
                    snap,
                    flags,
                    From::Snapshot,
                    consumed,
                    packed.0,
                    consumed,
                ));
            }
        }
        let n = remaining.min(room);
        Some(self.finish(snap, flags, From::Snapshot, n, n, n))
    }

    fn finish(
        &self,
        snap: Snap,
        mut flags: FrameFlags,
        from: From,
        len: usize,
        wire_len: usize,
        consumed: usize,
    ) -> Plan {
        if snap.start + consumed >= snap.end {
            flags |= FrameFlags::SYNC;
        }
        Plan {
            addr: snap.start,
            flags,
            from,
            len,
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

/// `true` if the C encoder limited to `room` over `src` writes exactly what the
/// unlimited encoder writes for its consumed prefix `prefix` (they can differ where the
/// literal run reaches 255 bytes at the cut). Compared in windows, without a buffer the
/// size of a frame.
fn same_stream(src: &[u8], room: usize, prefix: &[u8]) -> bool {
    const W: usize = 64;
    let (mut a, mut b) = (Counter::default(), Counter::default());
    compress(src, room, &mut a);
    ZeroRun::encode(prefix, &mut b);
    if a.0 != b.0 {
        return false;
    }
    let mut from = 0;
    while from < a.0 {
        let mut wa = Window::new(from);
        let mut wb = Window::new(from);
        compress(src, room, &mut wa);
        ZeroRun::encode(prefix, &mut wb);
        if wa.buf != wb.buf {
            return false;
        }
        from += W;
    }
    return true;

    /// Keeps the bytes written at positions `from..from + W`.
    struct Window {
        from: usize,
        pos: usize,
        buf: [u8; W],
    }
    impl Window {
        fn new(from: usize) -> Self {
            Window {
                from,
                pos: 0,
                buf: [0; W],
            }
        }
    }
    impl Sink for Window {
        fn len(&self) -> usize {
            self.pos
        }
        fn push(&mut self, byte: u8) {
            if let Some(slot) = self
                .pos
                .checked_sub(self.from)
                .and_then(|i| self.buf.get_mut(i))
            {
                *slot = byte;
            }
            self.pos += 1;
        }
        fn extend_from_slice(&mut self, bytes: &[u8]) {
            bytes.iter().for_each(|&b| self.push(b));
        }
        fn truncate(&mut self, len: usize) {
            self.pos = self.pos.min(len);
        }
        fn written_mut(&mut self) -> &mut [u8] {
            &mut []
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_then_trimmed_delta() {
        let mut block = [0u8; 44];
        let (mut sync, mut d) = ([0u8; 44], [0u8; 44]);
        let mut s = Source::new(44, false);
        s.take_snapshot(&block, &mut sync, &mut d, false);
        let p = s.plan(&block, &d, false, 1000).unwrap();
        assert_eq!(p.flags, FrameFlags::COMPRESSED | FrameFlags::SYNC);
        assert_eq!(p.wire_len, 2); // 00 2C
        s.commit(&p);
        assert!(!s.busy());
        block[8] = 0x80;
        block[9] = 1;
        s.mark_changed(0..20);
        s.take_snapshot(&block, &mut sync, &mut d, false);
        let p = s.plan(&block, &d, false, 1000).unwrap();
        assert_eq!(p.addr, 8);
        assert_eq!(p.data(&block, &d), [0x80, 1]); // < 4 bytes: raw delta
        assert_eq!(p.flags, FrameFlags::DELTA | FrameFlags::SYNC);
    }

    #[test]
    fn a_cut_255_byte_literal_goes_raw() {
        // 254 non-zero bytes, a zero, then non-zero: the limited encoder keeps the zero in
        // a 255-byte literal; the unlimited one over the prefix ends it with a zero run.
        let mut src = [7u8; 300];
        src[254] = 0;
        assert!(!same_stream(&src, 256, &src[..255]));
        let mut d = src;
        let mut sync = [0u8; 300];
        let mut s = Source::new(300, false);
        s.take_snapshot(&src, &mut sync, &mut d, false);
        let p = s.plan(&src, &d, false, 256).unwrap();
        assert!(!p.flags.contains(FrameFlags::COMPRESSED));
        // Without the cut the streams agree.
        let mut z = [0u8; 100];
        z[50] = 9;
        assert!(same_stream(&z, 1000, &z));
    }
}
