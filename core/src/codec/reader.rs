//! [`Reader`]: the cursor generated decoders read from.

use core::fmt;

use super::ByteOrder;
use super::crc::crc16_modbus_zeroed;
use super::error::{DecodeError, DecodeErrorKind, Fail, FieldInfo};

/// Result of a streaming decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A complete message and the number of bytes it took from the input.
    Complete(T, usize),
    /// The input ends before the message does; at least this many more bytes (≥ 1) are
    /// needed before decoding can succeed. Nothing was consumed.
    Incomplete(usize),
}

impl<T> Decoded<T> {
    /// `true` for [`Decoded::Complete`].
    #[inline]
    pub fn is_complete(&self) -> bool {
        matches!(self, Decoded::Complete(..))
    }

    /// The message and the bytes consumed, if complete.
    #[inline]
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Decoded::Complete(v, n) => Some((v, n)),
            Decoded::Incomplete(_) => None,
        }
    }

    /// Maps the decoded message, keeping the byte count.
    #[inline]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        match self {
            Decoded::Complete(v, n) => Decoded::Complete(f(v), n),
            Decoded::Incomplete(n) => Decoded::Incomplete(n),
        }
    }
}

/// A checksum read from the input whose verification has to wait until the end of the
/// frame it covers is known (IOCOM serial frames carry their CRC near the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingChecksum {
    /// The checksum field (named in the error if verification fails).
    pub info: &'static FieldInfo,
    /// Absolute offset of the checksum bytes in the input.
    pub offset: usize,
    /// Width of the checksum in bytes.
    pub width: usize,
    /// The value stored in the input.
    pub stored: u64,
}

/// A cursor over the input of a decoder.
///
/// A reader is either a *stream* reader ([`Reader::new`]), for which running out of input
/// means "need more bytes" ([`Fail::Incomplete`]), or a *hard* reader ([`Reader::exact`],
/// [`Reader::region`]), for which it is an error ([`DecodeErrorKind::Truncated`]).
///
/// Offsets ([`Reader::pos`], error offsets, [`Reader::slice`]) are always absolute: counted
/// from the start of the top-level buffer, also inside regions.
///
/// No method panics, whatever the input; a failed read consumes nothing.
#[derive(Clone)]
pub struct Reader<'a> {
    /// The whole top-level buffer.
    buf: &'a [u8],
    /// Absolute read position; `pos <= end`.
    pos: usize,
    /// Absolute end of this reader; `end <= buf.len()`.
    end: usize,
    hard: bool,
    /// Transformed fields are checked but kept as they are on the wire.
    keep_transforms: bool,
    info: &'static FieldInfo,
    field_start: usize,
    checksum: Option<PendingChecksum>,
    /// Inside a separated (text) record: another part follows, because the region has
    /// not been entered yet or the last part read ended at a separator.
    part_pending: bool,
}

impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .field("hard", &self.hard)
            .field("field", &self.info.field)
            .field("field_start", &self.field_start)
            .field("checksum", &self.checksum)
            .field("part_pending", &self.part_pending)
            .finish()
    }
}

impl<'a> Reader<'a> {
    /// A stream reader over `buf`: running out of input yields [`Fail::Incomplete`].
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
            hard: false,
            keep_transforms: false,
            info: &FieldInfo::UNKNOWN,
            field_start: 0,
            checksum: None,
            part_pending: false,
        }
    }

    /// A hard reader over `buf`: running out of input is a
    /// [`Truncated`](DecodeErrorKind::Truncated) error.
    #[inline]
    pub fn exact(buf: &'a [u8]) -> Self {
        Reader {
            hard: true,
            ..Reader::new(buf)
        }
    }

    /// The same reader, but fields with a transform are only checked (a bad stream is
    /// the same error as when expanding it) and decode to their wire bytes: the caller
    /// applies the transform where the bytes go (an IOCOM engine expands zero runs
    /// straight into a memory block). What the generated `decode_wire` uses; needs no
    /// heap.
    #[inline]
    pub fn keeping_transforms(mut self) -> Self {
        self.keep_transforms = true;
        self
    }

    /// `true` if transformed fields decode to their wire bytes
    /// ([`keeping_transforms`](Self::keeping_transforms)).
    #[inline]
    pub fn keeps_transforms(&self) -> bool {
        self.keep_transforms
    }

    /// Absolute offset of the next byte to read.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Absolute offset of the end of this reader.
    #[inline]
    pub fn end(&self) -> usize {
        self.end
    }

    /// Number of bytes left in this reader.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// `true` for a hard reader (exact input or region), `false` for a stream reader.
    #[inline]
    pub fn is_hard(&self) -> bool {
        self.hard
    }

    /// Sets the error context: errors from now on name `info` and, by default, the
    /// current position as the field's start offset.
    #[inline]
    pub fn field(&mut self, info: &'static FieldInfo) {
        self.info = info;
        self.field_start = self.pos;
    }

    /// The field set by the last [`Reader::field`] call.
    #[inline]
    pub fn current_field(&self) -> &'static FieldInfo {
        self.info
    }

    /// An [`Invalid`](Fail::Invalid) error of `kind` at the current field's start offset.
    #[inline]
    pub fn error(&self, kind: DecodeErrorKind) -> Fail {
        Fail::Invalid(DecodeError::new(self.info, self.field_start, kind))
    }

    /// The failure for a read that lacks `missing` (≥ 1) bytes.
    fn short(&self, missing: usize) -> Fail {
        if self.hard {
            self.error(DecodeErrorKind::Truncated { needed: missing })
        } else {
            Fail::Incomplete(missing.max(1))
        }
    }

    /// The next `n` bytes, without consuming them.
    #[inline]
    pub fn peek(&self, n: usize) -> Result<&'a [u8], Fail> {
        let rem = self.remaining();
        if n > rem {
            return Err(self.short(n - rem));
        }
        self.buf
            .get(self.pos..self.pos + n)
            .ok_or_else(|| self.short(n))
    }

    /// Consumes and returns the next `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Fail> {
        let b = self.peek(n)?;
        self.pos += n;
        Ok(b)
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<(), Fail> {
        self.bytes(n).map(|_| ())
    }

    /// Consumes and returns everything left in this reader.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let b = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        self.pos = self.end;
        b
    }

    /// An unsigned integer of `nbytes` (1..=8) bytes.
    #[inline]
    pub fn uint(&mut self, nbytes: usize, order: ByteOrder) -> Result<u64, Fail> {
        if !(1..=8).contains(&nbytes) {
            return Err(self.error(DecodeErrorKind::InvalidWidth {
                width: nbytes as i128,
            }));
        }
        let b = self.bytes(nbytes)?;
        Ok(match order {
            ByteOrder::Big => b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
            ByteOrder::Little => b
                .iter()
                .rev()
                .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
        })
    }

    /// A two's-complement signed integer of `nbytes` (1..=8) bytes, sign-extended.
    #[inline]
    pub fn int(&mut self, nbytes: usize, order: ByteOrder) -> Result<i64, Fail> {
        let u = self.uint(nbytes, order)?;
        // nbytes is 1..=8 here, so the shift is 0..=56.
        let shift = 64 - 8 * nbytes as u32;
        Ok(((u << shift) as i64) >> shift)
    }

    /// An MQTT variable byte integer ("remaining length"): 1 to 4 bytes, 7 bits each, least
    /// significant group first. A continuation bit on the fourth byte is
    /// [`VarintTooLong`](DecodeErrorKind::VarintTooLong); a stream that ends inside the
    /// integer is [`Incomplete`](Fail::Incomplete).
    #[inline]
    pub fn mqtt_varint(&mut self) -> Result<u32, Fail> {
        let avail = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        let mut value = 0u32;
        for i in 0..4 {
            let Some(&b) = avail.get(i) else {
                return Err(self.short(1));
            };
            value |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(self.error(DecodeErrorKind::VarintTooLong))
    }

    /// An eosal `intser` (reference §15.1): first byte `NNNN S xxx`, then NNNN (0..=8)
    /// bytes holding `magnitude >> 3`, least significant first. The single byte `08`
    /// ("negative zero") is `i64::MIN`.
    ///
    /// NNNN > 8 is [`VarintTooLong`](DecodeErrorKind::VarintTooLong); a magnitude that does
    /// not fit an `i64` (possible with 8 following bytes) is
    /// [`TooLarge`](DecodeErrorKind::TooLarge) (the C reader would silently wrap).
    #[inline]
    pub fn intser(&mut self) -> Result<i64, Fail> {
        let first = *self.peek(1)?.first().ok_or_else(|| self.short(1))?;
        let more = usize::from(first >> 4);
        let negative = first & 0x08 != 0;
        let low = u128::from(first & 0x07);
        if more == 0 {
            self.pos += 1;
            return Ok(match (negative, low) {
                (true, 0) => i64::MIN,
                (true, v) => -(v as i64),
                (false, v) => v as i64,
            });
        }
        if more > 8 {
            return Err(self.error(DecodeErrorKind::VarintTooLong));
        }
        let all = self.peek(1 + more)?;
        let follow = all.get(1..).unwrap_or(&[]);
        // At most 3 + 8 * 8 = 67 bits: fits in u128 and i128.
        let magnitude = follow
            .iter()
            .enumerate()
            .fold(low, |acc, (i, &b)| acc | (u128::from(b) << (3 + 8 * i)));
        let value = if negative {
            -(magnitude as i128)
        } else {
            magnitude as i128
        };
        let v =
            i64::try_from(value).map_err(|_| self.error(DecodeErrorKind::TooLarge { value }))?;
        self.pos += 1 + more;
        Ok(v)
    }

    /// Bytes up to a NUL (the NUL is consumed, not returned). Without a NUL: a stream
    /// reader reports [`Incomplete(1)`](Fail::Incomplete), a hard reader
    /// [`MissingNul`](DecodeErrorKind::MissingNul).
    #[inline]
    pub fn cstr(&mut self) -> Result<&'a [u8], Fail> {
        let avail = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        match avail.iter().position(|&b| b == 0) {
            Some(i) => {
                self.pos += i + 1;
                Ok(avail.get(..i).unwrap_or(&[]))
            }
            None if self.hard => Err(self.error(DecodeErrorKind::MissingNul)),
            None => Err(Fail::Incomplete(1)),
        }
    }

    /// Bytes up to a `terminator` byte (consumed, not returned). Without one: a stream
    /// reader reports [`Incomplete(1)`](Fail::Incomplete), a hard reader
    /// [`MissingTerminator`](DecodeErrorKind::MissingTerminator).
    #[inline]
    pub fn until(&mut self, terminator: u8) -> Result<&'a [u8], Fail> {
        let avail = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        match avail.iter().position(|&b| b == terminator) {
            Some(i) => {
                self.pos += i + 1;
                Ok(avail.get(..i).unwrap_or(&[]))
            }
            None if self.hard => Err(self.error(DecodeErrorKind::MissingTerminator { terminator })),
            None => Err(Fail::Incomplete(1)),
        }
    }

    /// Checks that `b` is UTF-8; [`InvalidUtf8`](DecodeErrorKind::InvalidUtf8) at the
    /// current field otherwise.
    #[inline]
    pub fn utf8(&self, b: &'a [u8]) -> Result<&'a str, Fail> {
        core::str::from_utf8(b).map_err(|_| self.error(DecodeErrorKind::InvalidUtf8))
    }

    /// A hard sub-reader over the next `n` bytes; this reader advances past them.
    ///
    /// If fewer than `n` bytes remain, a stream reader reports
    /// [`Incomplete`](Fail::Incomplete) with the number of missing bytes, a hard reader
    /// [`Truncated`](DecodeErrorKind::Truncated). The sub-reader keeps absolute offsets and
    /// the current field context; it has no pending checksum.
    #[inline]
    pub fn region(&mut self, n: usize) -> Result<Reader<'a>, Fail> {
        self.peek(n)?;
        let sub = Reader {
            buf: self.buf,
            pos: self.pos,
            end: self.pos + n,
            hard: true,
            keep_transforms: self.keep_transforms,
            info: self.info,
            field_start: self.field_start,
            checksum: None,
            part_pending: false,
        };
        self.pos += n;
        Ok(sub)
    }

    /// Starts reading the parts of a separated (text) record that spans the rest of this
    /// reader: the region holds at least one part, possibly empty.
    #[inline]
    pub fn begin_parts(&mut self) {
        self.part_pending = true;
    }

    /// `true` while another part follows: nothing was read yet, or the last part ended at
    /// a separator (so `a/` holds two parts, the second empty).
    #[inline]
    pub fn more_parts(&self) -> bool {
        self.part_pending
    }

    /// A hard sub-reader over the next part: the bytes up to the next `separator` (which
    /// is consumed, not included) or to the end of this reader.
    ///
    /// Without a pending part the result is a
    /// [`MissingPart`](DecodeErrorKind::MissingPart) error.
    #[inline]
    pub fn part(&mut self, separator: u8) -> Result<Reader<'a>, Fail> {
        if !self.part_pending {
            return Err(self.error(DecodeErrorKind::MissingPart { separator }));
        }
        let avail = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        let (len, found) = match avail.iter().position(|&b| b == separator) {
            Some(i) => (i, true),
            None => (avail.len(), false),
        };
        let sub = self.region(len)?;
        if found {
            self.pos += 1;
        }
        self.part_pending = found;
        Ok(sub)
    }

    /// Ends a separated record begun with [`Reader::begin_parts`]: a part still pending is
    /// an [`ExtraParts`](DecodeErrorKind::ExtraParts) error at its offset.
    #[inline]
    pub fn end_parts(&mut self, separator: u8) -> Result<(), Fail> {
        if self.part_pending {
            self.part_pending = false;
            return Err(Fail::Invalid(DecodeError::new(
                self.info,
                self.pos,
                DecodeErrorKind::ExtraParts { separator },
            )));
        }
        Ok(())
    }

    /// The rest of this reader as an ASCII decimal integer (`-` allowed, no `+`, no
    /// spaces, at most 39 digits).
    #[inline]
    pub fn decimal(&mut self) -> Result<i128, Fail> {
        let text = self.buf.get(self.pos..self.end).unwrap_or(&[]);
        let (negative, digits) = match text.split_first() {
            Some((b'-', d)) => (true, d),
            _ => (false, text),
        };
        if digits.is_empty() || digits.len() > 39 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(self.error(DecodeErrorKind::InvalidDecimal));
        }
        let mut v: i128 = 0;
        for &d in digits {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(d - b'0')))
                .ok_or_else(|| self.error(DecodeErrorKind::InvalidDecimal))?;
        }
        self.pos = self.end;
        Ok(if negative { -v } else { v })
    }

    /// Succeeds if nothing is left; otherwise [`Trailing`](DecodeErrorKind::Trailing) at the
    /// offset of the first unread byte, naming the current field.
    #[inline]
    pub fn finish(&self) -> Result<(), Fail> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(Fail::Invalid(DecodeError::new(
                self.info,
                self.pos,
                DecodeErrorKind::Trailing { count },
            ))),
        }
    }

    /// Bytes `start..end` (absolute offsets) of the top-level buffer, clamped to it
    /// (an inverted range gives an empty slice). Used for checksums.
    #[inline]
    pub fn slice(&self, start: usize, end: usize) -> &'a [u8] {
        let end = end.min(self.buf.len());
        let start = start.min(end);
        self.buf.get(start..end).unwrap_or(&[])
    }

    /// Remembers a checksum to verify once the end of the frame is known.
    #[inline]
    pub fn set_checksum(&mut self, c: PendingChecksum) {
        self.checksum = Some(c);
    }

    /// Takes the pending checksum, if any.
    #[inline]
    pub fn take_checksum(&mut self) -> Option<PendingChecksum> {
        self.checksum.take()
    }

    /// Verifies a pending CRC-16/MODBUS checksum over the frame `frame_start..pos()` with
    /// the checksum bytes counted as zero (IOCOM serial frames, reference §4.2).
    ///
    /// Does nothing if no checksum is pending. On mismatch, the error names the checksum
    /// field at its offset, with `expected` = computed and `found` = stored.
    #[inline]
    pub fn verify_crc16(&mut self, frame_start: usize) -> Result<(), Fail> {
        let Some(c) = self.take_checksum() else {
            return Ok(());
        };
        let frame = self.slice(frame_start, self.pos);
        let computed = crc16_modbus_zeroed(frame, c.offset.saturating_sub(frame_start), c.width);
        if u64::from(computed) == c.stored {
            Ok(())
        } else {
            Err(Fail::Invalid(DecodeError::new(
                c.info,
                c.offset,
                DecodeErrorKind::Checksum {
                    expected: u64::from(computed),
                    found: c.stored,
                },
            )))
        }
    }

    /// Runs the decode side of transform `T` over `input`, mapping its failure to
    /// [`DecodeErrorKind::Transform`] at the current field.
    #[cfg(feature = "alloc")]
    #[inline]
    pub fn transform<T: super::Transform>(
        &self,
        input: &[u8],
    ) -> Result<alloc::vec::Vec<u8>, Fail> {
        let mut out = alloc::vec::Vec::new();
        T::decode(input, &mut out).map_err(|message| {
            self.error(DecodeErrorKind::Transform {
                name: T::NAME,
                message,
            })
        })?;
        Ok(out)
    }
}

/// Runs a decoder over `buf` with a stream reader and reports the bytes it consumed.
///
/// `Ok(Decoded::Incomplete(n))` when the input ends early, `Err` when it is invalid.
#[inline]
pub fn decode_stream<'a, T>(
    buf: &'a [u8],
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, Fail>,
) -> Result<Decoded<T>, DecodeError> {
    let mut r = Reader::new(buf);
    match f(&mut r) {
        Ok(v) => Ok(Decoded::Complete(v, r.pos())),
        Err(Fail::Incomplete(n)) => Ok(Decoded::Incomplete(n.max(1))),
        Err(Fail::Invalid(e)) => Err(e),
    }
}

/// Runs a decoder over exactly `buf` with a hard reader: running out of input is
/// [`Truncated`](DecodeErrorKind::Truncated), bytes left over are
/// [`Trailing`](DecodeErrorKind::Trailing).
#[inline]
pub fn decode_exact<'a, T>(
    buf: &'a [u8],
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, Fail>,
) -> Result<T, DecodeError> {
    let mut r = Reader::exact(buf);
    let res = f(&mut r).and_then(|v| r.finish().map(|()| v));
    match res {
        Ok(v) => Ok(v),
        Err(Fail::Invalid(e)) => Err(e),
        // A hard reader never reports Incomplete itself; a decoder that does anyway
        // (e.g. hand-written) ran out of the exact input.
        Err(Fail::Incomplete(n)) => Err(DecodeError::new(
            r.current_field(),
            r.pos(),
            DecodeErrorKind::Truncated { needed: n.max(1) },
        )),
    }
}
