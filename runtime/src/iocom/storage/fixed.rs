//! [`Fixed`]: engine storage in memory sized at build time, and the fixed-capacity list,
//! queue and string it is made of. No heap, no `unsafe`.

use core::fmt;
use core::ops::{Deref, DerefMut};

use super::super::block::BlockId;
use super::super::event::Event;
use super::super::root::ConnSlot;
use super::{List, Queue, Storage, Text};

/// A list of at most `N` items, kept inline. Unused slots hold `T::default()`.
pub struct FixedVec<T, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Default, const N: usize> Default for FixedVec<T, N> {
    fn default() -> Self {
        FixedVec {
            items: core::array::from_fn(|_| T::default()),
            len: 0,
        }
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for FixedVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T, const N: usize> Deref for FixedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

impl<T, const N: usize> DerefMut for FixedVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.items.get_mut(..self.len).unwrap_or_default()
    }
}

impl<T: Default + fmt::Debug, const N: usize> List<T> for FixedVec<T, N> {
    fn push(&mut self, item: T) -> Result<(), T> {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
                Ok(())
            }
            None => Err(item),
        }
    }

    fn remove(&mut self, index: usize) -> Option<T> {
        if index >= self.len {
            return None;
        }
        // Moves each later item down one slot (by value: no overlapping copies, so a
        // firmware links no `memmove` for this).
        let mut carry = core::mem::take(self.items.get_mut(self.len - 1)?);
        for slot in self.items.get_mut(index..self.len - 1)?.iter_mut().rev() {
            carry = core::mem::replace(slot, carry);
        }
        self.len -= 1;
        Some(carry)
    }

    fn retain_or(&mut self, mut keep: impl FnMut(&mut T) -> bool, mut removed: impl FnMut(T)) {
        let mut kept = 0;
        for i in 0..self.len {
            let Some(item) = self.items.get_mut(i) else {
                break;
            };
            if keep(item) {
                // Slots `kept..i` were emptied (taken) already: move the item down.
                if kept != i {
                    let item = core::mem::take(item);
                    if let Some(slot) = self.items.get_mut(kept) {
                        *slot = item;
                    }
                }
                kept += 1;
            } else {
                removed(core::mem::take(item));
            }
        }
        self.len = kept;
    }

    fn drop_front(&mut self, n: usize) {
        let n = n.min(self.len);
        for i in 0..self.len - n {
            let moved = self
                .items
                .get_mut(i + n)
                .map(core::mem::take)
                .unwrap_or_default();
            if let Some(slot) = self.items.get_mut(i) {
                *slot = moved;
            }
        }
        for slot in self
            .items
            .get_mut(self.len - n..self.len)
            .unwrap_or_default()
        {
            *slot = T::default();
        }
        self.len -= n;
    }
}

/// A queue of at most `N` items, kept inline.
pub struct FixedDeque<T, const N: usize> {
    slots: [Option<T>; N],
    head: usize,
    len: usize,
}

impl<T, const N: usize> Default for FixedDeque<T, N> {
    fn default() -> Self {
        FixedDeque {
            slots: core::array::from_fn(|_| None),
            head: 0,
            len: 0,
        }
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for FixedDeque<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedDeque")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<T: fmt::Debug, const N: usize> Queue<T> for FixedDeque<T, N> {
    fn push_back(&mut self, item: T) -> Result<(), T> {
        if self.len >= N {
            return Err(item);
        }
        match self.slots.get_mut((self.head + self.len) % N) {
            Some(slot) => {
                *slot = Some(item);
                self.len += 1;
                Ok(())
            }
            None => Err(item),
        }
    }

    fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = self.slots.get_mut(self.head).and_then(Option::take);
        self.head = (self.head + 1) % N;
        self.len -= 1;
        item
    }

    fn iter_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
    where
        T: 'a,
    {
        let (head, len) = (self.head, self.len);
        self.slots
            .iter_mut()
            .enumerate()
            .filter(move |(i, _)| (i + N - head) % N.max(1) < len)
            .filter_map(|(_, s)| s.as_mut())
    }
}

/// A UTF-8 string of at most `N` bytes, kept inline (`N` ≤ 255).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixedStr<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> FixedStr<N> {
    /// `s`, or `None` if it is longer than `N` bytes.
    pub fn new(s: &str) -> Option<Self> {
        let mut bytes = [0u8; N];
        bytes.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
        Some(FixedStr {
            bytes,
            len: u8::try_from(s.len()).ok()?,
        })
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // Always a whole `&str` copied in `new`.
        core::str::from_utf8(self.bytes.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        FixedStr {
            bytes: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> AsRef<str> for FixedStr<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> Deref for FixedStr<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> PartialEq<str> for FixedStr<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for FixedStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> Text for FixedStr<N> {
    fn from_str(s: &str) -> Option<Self> {
        FixedStr::new(s)
    }
}

/// Longest name on the wire: a user name (§9.4; block and device names ≤ 15, networks
/// ≤ 23).
pub const NAME_LEN: usize = 25;
/// Longest password on the wire (§9.4).
pub const PASSWORD_LEN: usize = 45;

/// Engine storage in one byte array given by the caller, for a device whose blocks are
/// known at build time: no allocator is needed.
///
/// * `BLOCKS`: most memory blocks (and bindings per connection); `CONNS`: most
///   connections; `EVENTS`: most events a connection holds before they are drained
///   (see [`Connection::events_lost`](super::super::Connection::events_lost)).
/// * Byte buffers are carved from `memory` in the order they are asked for: the blocks'
///   contents when created, a connection's receive buffer (one frame) when it is
///   created, and per binding one buffer holding the source copies (two block sizes,
///   none for a static block) and the target copy (one block size). A binding's buffer
///   comes back when the connection resets and is reused by the next binding of the
///   same size, so a fixed map needs the same memory in every session:
///   [`carved`](Self::carved) after the first session is what the board needs
///   (`ferrocom-device-core` computes it beforehand).
/// * Names are [`FixedStr`]s. No block is created from a peer's announcement (its
///   memory is sized for the owner's blocks; `allow_dynamic` has no effect), so there is
///   no preset of dynamic blocks and no removal on a peer's request either; there is no
///   authorization hook; peers announcing the automatic device number get 9001, 9002, …
///   (not kept per unique id).
pub struct Fixed<'m, const BLOCKS: usize, const CONNS: usize = 1, const EVENTS: usize = 16> {
    rest: &'m mut [u8],
    total: usize,
    /// Buffers given back, for reuse; per connection room for one per block.
    free: [FixedVec<&'m mut [u8], BLOCKS>; CONNS],
    in_use: usize,
    lost: usize,
    next_nr: u32,
}

impl<'m, const BLOCKS: usize, const CONNS: usize, const EVENTS: usize>
    Fixed<'m, BLOCKS, CONNS, EVENTS>
{
    /// Storage carving its buffers from `memory`.
    pub fn new(memory: &'m mut [u8]) -> Self {
        Fixed {
            total: memory.len(),
            rest: memory,
            free: core::array::from_fn(|_| FixedVec::default()),
            in_use: 0,
            lost: 0,
            next_nr: 9001,
        }
    }

    /// Bytes of the memory handed out so far (the high-water mark of what is needed).
    pub fn carved(&self) -> usize {
        self.total - self.rest.len()
    }

    /// Bytes in buffers currently in use.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// Bytes of the memory left.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Bytes given back that could not be kept for reuse (the free list was full; only
    /// with more bindings than `BLOCKS × CONNS`, or removed dynamic blocks).
    pub fn lost(&self) -> usize {
        self.lost
    }

    fn reuse(&mut self, len: usize) -> Option<&'m mut [u8]> {
        // Exact sizes only: a fixed map asks for the same sizes every session, and
        // without splitting, the memory carved never exceeds one buffer per block and
        // binding kind (what `ferrocom-device-core` computes beforehand).
        for list in self.free.iter_mut() {
            if let Some(i) = list.iter().position(|b| b.len() == len) {
                return list.remove(i);
            }
        }
        None
    }

    fn keep(&mut self, buf: &'m mut [u8]) {
        let mut buf = Some(buf);
        for list in self.free.iter_mut() {
            if let Some(b) = buf.take() {
                match list.push(b) {
                    Ok(()) => return,
                    Err(b) => buf = Some(b),
                }
            }
        }
        self.lost += buf.map_or(0, |b| b.len());
    }
}

impl<const BLOCKS: usize, const CONNS: usize, const EVENTS: usize> fmt::Debug
    for Fixed<'_, BLOCKS, CONNS, EVENTS>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fixed")
            .field("total", &self.total)
            .field("carved", &self.carved())
            .field("in_use", &self.in_use)
            .field("lost", &self.lost)
            .finish()
    }
}

impl<'m, const BLOCKS: usize, const CONNS: usize, const EVENTS: usize> Storage
    for Fixed<'m, BLOCKS, CONNS, EVENTS>
{
    type Bytes = &'m mut [u8];
    type Text = FixedStr<NAME_LEN>;
    type Password = FixedStr<PASSWORD_LEN>;
    type List<T: Default + fmt::Debug> = FixedVec<T, BLOCKS>;
    type Conns = FixedVec<ConnSlot<Self>, CONNS>;
    type Events = FixedDeque<Event<FixedStr<NAME_LEN>>, EVENTS>;

    const DYNAMIC_BLOCKS: bool = false;

    fn alloc(&mut self, len: usize) -> Option<&'m mut [u8]> {
        if len == 0 {
            return Some(Default::default());
        }
        let buf = match self.reuse(len) {
            Some(b) => b,
            None => {
                if self.rest.len() < len {
                    return None;
                }
                let (head, tail) = core::mem::take(&mut self.rest).split_at_mut(len);
                self.rest = tail;
                head
            }
        };
        buf.fill(0);
        self.in_use += len;
        Some(buf)
    }

    fn free(&mut self, bytes: &'m mut [u8]) {
        if bytes.is_empty() {
            return;
        }
        self.in_use = self.in_use.saturating_sub(bytes.len());
        self.keep(bytes);
    }

    fn assign_number(
        &mut self,
        _unique_id: Option<&[u8; 12]>,
        in_use: &dyn Fn(u32) -> bool,
    ) -> u32 {
        while in_use(self.next_nr) {
            self.next_nr = self.next_nr.checked_add(1).unwrap_or(9001);
        }
        let nr = self.next_nr;
        self.next_nr = self.next_nr.checked_add(1).unwrap_or(9001);
        nr
    }

    fn block_index(
        &self,
        blocks: &[super::super::block::MemoryBlock<&'m mut [u8], FixedStr<NAME_LEN>>],
        id: BlockId,
    ) -> Option<usize> {
        blocks.iter().position(|b| b.id == id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fixed_vec_keeps_order_and_capacity() {
        let mut v: FixedVec<u32, 4> = FixedVec::default();
        for i in 1..=4 {
            v.push(i).unwrap();
        }
        assert_eq!(v.push(5), Err(5));
        assert_eq!(List::remove(&mut v, 1), Some(2));
        assert_eq!(&v[..], &[1, 3, 4]);
        let mut gone = [0u32; 4];
        let mut k = 0;
        v.retain_or(
            |x| *x != 3,
            |x| {
                gone[k] = x;
                k += 1;
            },
        );
        assert_eq!((&v[..], &gone[..k]), (&[1u32, 4][..], &[3u32][..]));
        v.push(7).unwrap();
        v.drop_front(2);
        assert_eq!(&v[..], &[7]);
        assert_eq!(List::remove(&mut v, 3), None);
    }

    #[test]
    fn fixed_deque_wraps() {
        let mut q: FixedDeque<u8, 2> = FixedDeque::default();
        q.push_back(1).unwrap();
        q.push_back(2).unwrap();
        assert_eq!(q.push_back(3), Err(3));
        assert_eq!(q.pop_front(), Some(1));
        q.push_back(3).unwrap();
        assert_eq!(q.iter_mut().map(|x| *x).sum::<u8>(), 5);
        assert_eq!(
            (q.pop_front(), q.pop_front(), q.pop_front()),
            (Some(2), Some(3), None)
        );
    }

    #[test]
    fn fixed_str_bounds() {
        assert_eq!(FixedStr::<4>::new("gina").unwrap().as_str(), "gina");
        assert!(FixedStr::<3>::new("gina").is_none());
    }

    #[test]
    fn fixed_storage_reuses_what_comes_back() {
        let mut mem = [0xAAu8; 64];
        let mut s: Fixed<'_, 4> = Fixed::new(&mut mem);
        let a = s.alloc(16).unwrap();
        assert!(a.iter().all(|&b| b == 0));
        a.fill(1);
        let b = s.alloc(8).unwrap();
        assert_eq!(s.carved(), 24);
        s.free(a);
        s.free(b);
        assert_eq!(s.in_use(), 0);
        let c = s.alloc(16).unwrap();
        assert!(c.iter().all(|&b| b == 0));
        let d = s.alloc(8).unwrap();
        assert_eq!((s.carved(), s.in_use()), (24, 24));
        // Another size is carved, not split off a free buffer.
        s.free(d);
        let e = s.alloc(4).unwrap();
        assert_eq!(s.carved(), 28);
        assert!(s.alloc(37).is_none());
        let mut f = s.alloc(0).unwrap();
        assert!(s.resize(&mut f, 36));
        assert_eq!((s.carved(), s.remaining()), (64, 0));
        // Buffers in use stay what they were given.
        assert_eq!((c.len(), e.len(), f.len()), (16, 4, 36));
    }
}
