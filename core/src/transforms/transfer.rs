//! Iotellect "transfer encoding": the `%` escaping that keeps the protocol's control
//! bytes out of text fields (reference iotellect §5.5).
//!
//! Seven bytes are escaped, each as `%` followed by a visible stand-in:
//!
//! | byte | meaning | escaped |
//! |---|---|---|
//! | `%` | the escape itself | `%%` |
//! | 0x17 | command part separator | `%/` |
//! | 0x1C | data-table element start | `%<` |
//! | 0x1D | data-table element end | `%>` |
//! | 0x1E | data-table name/value separator | `%=` |
//! | 0x02 | frame start (STX) | `%^` |
//! | 0x0D | frame end (CR) | `%$` |
//!
//! Escaping is *levelled*: text nested `n` levels deep is escaped `n` times, which is the
//! same as writing each escaped byte with `2^(n-1)` `%` signs and each literal `%` with
//! `2^n`. Decoding removes exactly one level: `%X` with `X` a stand-in becomes the
//! original byte and any other `%X` (and a lone `%` at the end) is kept as it is, so a
//! decoder can peel nested text one level at a time.
//!
//! All escaped bytes are ASCII, so escaping never splits a UTF-8 sequence: escaped UTF-8
//! text is UTF-8, and so is decoded text.

use crate::codec::{Sink, Transform};

/// The escape byte.
pub const ESCAPE: u8 = b'%';

/// The bytes that are escaped, paired with their stand-ins.
pub const ESCAPED: [(u8, u8); 7] = [
    (b'%', b'%'),
    (0x17, b'/'),
    (0x1C, b'<'),
    (0x1D, b'>'),
    (0x1E, b'='),
    (0x02, b'^'),
    (0x0D, b'$'),
];

/// The stand-in for `b`, if `b` is escaped.
#[inline]
fn stand_in(b: u8) -> Option<u8> {
    ESCAPED.iter().find(|(raw, _)| *raw == b).map(|(_, s)| *s)
}

/// The byte a stand-in stands for.
#[inline]
fn original(s: u8) -> Option<u8> {
    ESCAPED.iter().find(|(_, st)| *st == s).map(|(raw, _)| *raw)
}

/// `true` if `b` must be escaped.
#[inline]
pub fn needs_escape(b: u8) -> bool {
    stand_in(b).is_some()
}

/// Appends `input` escaped `level` times (level 0 copies it unchanged).
///
/// Levels above 30 would need more than 2^30 `%` signs per byte; they are clamped to
/// 30, far beyond any nesting a peer accepts.
pub fn encode_level<S: Sink + ?Sized>(input: &[u8], level: u32, out: &mut S) {
    if level == 0 {
        out.extend_from_slice(input);
        return;
    }
    let level = level.min(30);
    let escapes_for_special = 1usize << (level - 1);
    let escapes_for_percent = 1usize << level;
    for &b in input {
        match stand_in(b) {
            Some(b'%') => out.fill(ESCAPE, escapes_for_percent),
            Some(s) => {
                out.fill(ESCAPE, escapes_for_special);
                out.push(s);
            }
            None => out.push(b),
        }
    }
}

/// Appends `input` with one level of escaping removed.
pub fn decode_level<S: Sink + ?Sized>(input: &[u8], out: &mut S) {
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == ESCAPE
            && let Some(orig) = input.get(i + 1).and_then(|&s| original(s))
        {
            out.push(orig);
            i += 2;
            continue;
        }
        out.push(b);
        i += 1;
    }
}

/// Length of `input` escaped once, without building it.
pub fn encoded_len(input: &[u8]) -> usize {
    input.len() + input.iter().filter(|&&b| needs_escape(b)).count()
}

/// One level of transfer encoding as a spec transform (`extern transform transfer`):
/// the escaping of command parameters such as error messages, filters and queue names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transfer;

impl Transform for Transfer {
    const NAME: &'static str = "transfer";

    fn decode<S: Sink + ?Sized>(input: &[u8], out: &mut S) -> Result<(), &'static str> {
        decode_level(input, out);
        Ok(())
    }

    fn encode<S: Sink + ?Sized>(input: &[u8], out: &mut S) {
        encode_level(input, 1, out);
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn enc(input: &[u8], level: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode_level(input, level, &mut out);
        out
    }

    fn dec(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        decode_level(input, &mut out);
        out
    }

    /// Reference §6 example 3: a value holding every escaped byte.
    const RAW: &[u8] = b"a%b\x17c\x1cd\x1de\x1ef\x02g\x0dh";

    #[test]
    fn level_one_matches_the_reference_example() {
        assert_eq!(enc(RAW, 1), b"a%%b%/c%<d%>e%=f%^g%$h");
        assert_eq!(dec(b"a%%b%/c%<d%>e%=f%^g%$h"), RAW);
        assert_eq!(encoded_len(RAW), 22);
    }

    #[test]
    fn level_two_is_level_one_twice() {
        assert_eq!(enc(RAW, 2), enc(&enc(RAW, 1), 1));
        assert_eq!(enc(RAW, 2), b"a%%%%b%%/c%%<d%%>e%%=f%%^g%%$h");
        assert_eq!(dec(&dec(&enc(RAW, 2))), RAW);
        assert_eq!(enc(RAW, 3), enc(&enc(&enc(RAW, 1), 1), 1));
    }

    #[test]
    fn unknown_escapes_and_a_trailing_percent_are_kept() {
        assert_eq!(dec(b"100%x%"), b"100%x%");
        assert_eq!(dec(b"%%%"), b"%%");
    }

    #[test]
    fn round_trips_every_byte_at_every_level() {
        let all: Vec<u8> = (0..=255).collect();
        for level in 0..5 {
            let mut back = enc(&all, level);
            for _ in 0..level {
                back = dec(&back);
            }
            assert_eq!(back, all, "level {level}");
        }
    }
}
