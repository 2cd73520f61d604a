//! [`Sink`]: where encoders and transforms write.
//!
//! Generated encoders, the `put_*` helpers and [`Transform`](super::Transform)s write
//! through this trait instead of into a `Vec<u8>`, so that the same codec serves a server
//! (a growing `Vec<u8>`) and a firmware without a heap (a [`SliceSink`] over a buffer sized
//! at build time). [`Counter`] measures what would be written without writing it.

/// An append-only byte buffer that encoders write into.
///
/// Positions ([`len`](Self::len), [`truncate`](Self::truncate)) count every byte written
/// since the sink was created or cleared, so an encoder can record where a checksum goes
/// and patch it through [`written_mut`](Self::written_mut) when the frame is complete.
///
/// A bounded sink that runs out of room must not panic: it keeps counting, drops the bytes
/// and remembers that it overflowed (see [`SliceSink::overflowed`]); its user checks that
/// after encoding, or makes sure beforehand that the frame fits (`encoded_len`).
pub trait Sink {
    /// Bytes written so far.
    fn len(&self) -> usize;

    /// `true` if nothing was written.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one byte.
    fn push(&mut self, byte: u8);

    /// Appends `bytes`.
    fn extend_from_slice(&mut self, bytes: &[u8]);

    /// Appends `n` copies of `byte`.
    fn fill(&mut self, byte: u8, n: usize) {
        for _ in 0..n {
            self.push(byte);
        }
    }

    /// Forgets everything written after the first `len` bytes.
    fn truncate(&mut self, len: usize);

    /// The bytes written so far that the sink still holds, for patching (a checksum).
    /// A sink that keeps nothing ([`Counter`]) returns an empty slice.
    fn written_mut(&mut self) -> &mut [u8];

    /// Bytes that can still be written without overflowing (`usize::MAX`: no limit).
    /// A writer that must not split a frame checks it before encoding the frame.
    fn room(&self) -> usize {
        usize::MAX
    }
}

#[cfg(feature = "alloc")]
impl Sink for alloc::vec::Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        alloc::vec::Vec::len(self)
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        alloc::vec::Vec::push(self, byte);
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        alloc::vec::Vec::extend_from_slice(self, bytes);
    }

    #[inline]
    fn fill(&mut self, byte: u8, n: usize) {
        let len = alloc::vec::Vec::len(self);
        self.resize(len.saturating_add(n), byte);
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        alloc::vec::Vec::truncate(self, len);
    }

    #[inline]
    fn written_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

/// A sink over a caller's buffer (a firmware's transmit buffer, sized at build time).
///
/// Writing past the end of the buffer keeps nothing of the excess and sets
/// [`overflowed`](Self::overflowed); [`len`](Sink::len) then stays at the capacity, so
/// offsets recorded by an encoder never point outside the buffer.
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflowed: bool,
}

impl<'a> SliceSink<'a> {
    /// An empty sink writing into `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceSink {
            buf,
            len: 0,
            overflowed: false,
        }
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes that still fit.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// `true` once a write did not fit (its bytes were dropped).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The bytes written.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Empties the sink (and forgets an overflow).
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = byte;
                self.len += 1;
            }
            None => self.overflowed = true,
        }
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
            }
            None => self.overflowed = true,
        }
    }

    #[inline]
    fn fill(&mut self, byte: u8, n: usize) {
        let end = self.len.saturating_add(n);
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.fill(byte);
                self.len = end;
            }
            None => self.overflowed = true,
        }
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    #[inline]
    fn written_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.len).unwrap_or_default()
    }

    #[inline]
    fn room(&self) -> usize {
        self.remaining()
    }
}

/// A sink that only counts: the length an encoder or transform would produce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter(pub usize);

impl Sink for Counter {
    #[inline]
    fn len(&self) -> usize {
        self.0
    }

    #[inline]
    fn push(&mut self, _byte: u8) {
        self.0 = self.0.saturating_add(1);
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }

    #[inline]
    fn fill(&mut self, _byte: u8, n: usize) {
        self.0 = self.0.saturating_add(n);
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        self.0 = self.0.min(len);
    }

    #[inline]
    fn written_mut(&mut self) -> &mut [u8] {
        &mut []
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_sink_drops_what_does_not_fit() {
        let mut buf = [0u8; 4];
        let mut s = SliceSink::new(&mut buf);
        s.extend_from_slice(&[1, 2, 3]);
        assert!(!s.overflowed());
        s.extend_from_slice(&[4, 5]);
        assert!(s.overflowed());
        assert_eq!(s.written(), &[1, 2, 3]);
        s.push(4);
        assert_eq!(s.written(), &[1, 2, 3, 4]);
        s.fill(0, 1);
        assert_eq!(s.len(), 4);
        s.truncate(1);
        assert_eq!(s.written(), &[1]);
        s.clear();
        assert!(s.is_empty() && !s.overflowed());
    }

    #[test]
    fn counter_counts() {
        let mut c = Counter::default();
        c.extend_from_slice(&[1, 2, 3]);
        c.push(1);
        c.fill(0, 10);
        assert_eq!(c.len(), 14);
        assert!(c.written_mut().is_empty());
    }
}
