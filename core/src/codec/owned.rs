//! What decoded values own, with and without a heap.
//!
//! Generated codecs keep two kinds of decoded data that may not be a plain borrow of the
//! input: the value bytes of a field with a transform (`Cow<[u8]>`: borrowed when the
//! transform does not apply or is kept, owned when it was expanded) and arrays (`Vec`).
//! With the `alloc` feature these are `alloc`'s `Cow` and `Vec`. Without it:
//!
//! * [`Cow`] only borrows: a transform is either not applied on the wire, or kept and
//!   checked but not expanded ([`Reader::keeping_transforms`](super::Reader::keeping_transforms),
//!   the generated `decode_wire`); expanding needs a heap ([`expand`] says so).
//! * [`BoundedVec`] holds at most [`ARRAY_MAX`] elements inline (IOCOM's remove request,
//!   the one array a device decodes, lists at most 16 ids); more is a
//!   [`TooLarge`](super::DecodeErrorKind::TooLarge) error.

use super::{Counter, Transform};

#[cfg(feature = "alloc")]
pub use alloc::borrow::Cow;

/// Without `alloc`: a borrow only, the stand-in for `alloc::borrow::Cow`.
#[cfg(not(feature = "alloc"))]
pub enum Cow<'a, B: ?Sized> {
    /// Borrowed data.
    Borrowed(&'a B),
}

#[cfg(not(feature = "alloc"))]
mod borrowed {
    use core::fmt;
    use core::ops::Deref;

    use super::Cow;

    impl<B: ?Sized> Deref for Cow<'_, B> {
        type Target = B;
        fn deref(&self) -> &B {
            match self {
                Cow::Borrowed(b) => b,
            }
        }
    }

    impl<B: ?Sized> Clone for Cow<'_, B> {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl<B: ?Sized> Copy for Cow<'_, B> {}

    impl<B: ?Sized + PartialEq> PartialEq for Cow<'_, B> {
        fn eq(&self, other: &Self) -> bool {
            **self == **other
        }
    }

    impl<B: ?Sized + Eq> Eq for Cow<'_, B> {}

    impl<B: ?Sized + fmt::Debug> fmt::Debug for Cow<'_, B> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&**self, f)
        }
    }
}

/// Most elements an array holds without `alloc` ([`BoundedVec`]).
pub const ARRAY_MAX: usize = 16;

/// Without `alloc`: an array of at most [`ARRAY_MAX`] elements kept inline, the
/// stand-in for `Vec` in decoded messages.
pub struct BoundedVec<T> {
    items: [Option<T>; ARRAY_MAX],
    len: usize,
}

impl<T> BoundedVec<T> {
    /// An empty array.
    pub const fn new() -> Self {
        BoundedVec {
            items: [const { None }; ARRAY_MAX],
            len: 0,
        }
    }

    /// An empty array (the capacity is always [`ARRAY_MAX`]).
    pub const fn with_capacity(_capacity: usize) -> Self {
        Self::new()
    }

    /// Appends `item`; `Err(item)` when [`ARRAY_MAX`] elements are held.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(item);
                self.len += 1;
                Ok(())
            }
            None => Err(item),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter().filter_map(Option::as_ref)
    }
}

impl<T> Default for BoundedVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> Clone for BoundedVec<T> {
    fn clone(&self) -> Self {
        BoundedVec {
            items: self.items.clone(),
            len: self.len,
        }
    }
}

impl<T: PartialEq> PartialEq for BoundedVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for BoundedVec<T> {}

impl<T: core::fmt::Debug> core::fmt::Debug for BoundedVec<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, T> IntoIterator for &'a BoundedVec<T> {
    type Item = &'a T;
    type IntoIter =
        core::iter::FilterMap<core::slice::Iter<'a, Option<T>>, fn(&'a Option<T>) -> Option<&'a T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter().filter_map(Option::as_ref)
    }
}

impl<T> FromIterator<T> for BoundedVec<T> {
    /// Collects the first [`ARRAY_MAX`] items (an encoder checks counts with the spec's
    /// `where` clauses; more than fit is a caller's error, not input data).
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = BoundedVec::new();
        for item in iter.into_iter().take(ARRAY_MAX) {
            let _ = v.push(item);
        }
        v
    }
}

/// The array type of decoded messages: `Vec` with `alloc`, else [`BoundedVec`].
#[cfg(feature = "alloc")]
pub type Array<T> = alloc::vec::Vec<T>;
/// The array type of decoded messages: `Vec` with `alloc`, else [`BoundedVec`].
#[cfg(not(feature = "alloc"))]
pub type Array<T> = BoundedVec<T>;

/// Appends a decoded element to an array; `Err(count)` if a [`BoundedVec`] is full.
#[inline]
pub fn push<T>(array: &mut Array<T>, item: T) -> Result<(), usize> {
    #[cfg(feature = "alloc")]
    {
        array.push(item);
        Ok(())
    }
    #[cfg(not(feature = "alloc"))]
    {
        array.push(item).map_err(|_| ARRAY_MAX + 1)
    }
}

/// Expands the wire bytes of a transformed field into its value bytes (owned). Without
/// `alloc` there is nowhere to put them: an error that says to keep the transform
/// (decode with `decode_wire` and apply it where the bytes go).
#[inline]
pub fn expand<'a, T: Transform>(wire: &'a [u8]) -> Result<Cow<'a, [u8]>, &'static str> {
    #[cfg(feature = "alloc")]
    {
        // Expanded content is normally longer than the wire bytes.
        let mut buf = alloc::vec::Vec::with_capacity(wire.len().saturating_mul(2));
        T::decode(wire, &mut buf)?;
        Ok(Cow::Owned(buf))
    }
    #[cfg(not(feature = "alloc"))]
    {
        let _ = wire;
        Err("expanding needs the `alloc` feature: decode with `decode_wire`")
    }
}

/// Checks the wire bytes of a transformed field without expanding them (what
/// `decode_wire` keeps); the same error as [`expand`] for bad input.
#[inline]
pub fn check<T: Transform>(wire: &[u8]) -> Result<(), &'static str> {
    T::decode(wire, &mut Counter::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_vec_holds_array_max() {
        let mut v = BoundedVec::new();
        for i in 0..ARRAY_MAX {
            assert_eq!(v.push(i), Ok(()));
        }
        assert_eq!(v.push(99), Err(99));
        assert_eq!(v.len(), ARRAY_MAX);
        assert_eq!((&v).into_iter().sum::<usize>(), (0..ARRAY_MAX).sum());
        let w: BoundedVec<u8> = (0..40).collect();
        assert_eq!(w.len(), ARRAY_MAX);
        assert_eq!(w.clone(), w);
    }
}
