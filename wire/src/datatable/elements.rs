//! Splitting text into elements `START [name SEP] value END` by counting depth.
//!
//! One pass over the bytes, no recursion: an element ends at the END that brings the
//! depth back to zero, and its name is what precedes the first SEP at depth one. Nested
//! elements stay inside the value, to be split again by whoever reads the value.

use super::Syntax;
use super::error::ErrorKind;

/// One element of a sequence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'a> {
    /// The name, if the element has a SEP at depth one.
    pub name: Option<&'a [u8]>,
    /// The value: everything after the name's SEP (or the START) up to the END.
    pub value: &'a [u8],
    /// Offset of the START in the text that was split.
    pub at: usize,
    /// Offset of the value in the text that was split.
    pub value_at: usize,
}

impl Element<'_> {
    /// `true` if the element's name is `name`.
    pub fn is(&self, name: &[u8]) -> bool {
        self.name == Some(name)
    }
}

/// The elements of a text, in order; an error (with its offset) ends the sequence.
pub(crate) struct Elements<'a> {
    text: &'a [u8],
    pos: usize,
    syntax: Syntax,
    done: bool,
}

impl<'a> Elements<'a> {
    pub fn new(text: &'a [u8], syntax: Syntax) -> Self {
        Elements {
            text,
            pos: 0,
            syntax,
            done: false,
        }
    }

    fn scan(&mut self) -> Result<Option<Element<'a>>, (ErrorKind, usize)> {
        let (start, end, sep) = (self.syntax.start(), self.syntax.end(), self.syntax.sep());
        let at = self.pos;
        match self.text.get(at) {
            None => return Ok(None),
            Some(&b) if b == start => {}
            Some(&b) if b == end => return Err((ErrorKind::UnexpectedElementEnd, at)),
            Some(_) => return Err((ErrorKind::TextOutsideElement, at)),
        }
        let body = self.text.get(at + 1..).unwrap_or_default();
        let mut depth = 1usize;
        let mut name_end = None;
        for (i, &b) in body.iter().enumerate() {
            if b == start {
                depth += 1;
            } else if b == end {
                depth -= 1;
                if depth == 0 {
                    let value_start = name_end.map_or(0, |n| n + 1);
                    let element = Element {
                        name: name_end.and_then(|n| body.get(..n)),
                        value: body.get(value_start..i).unwrap_or_default(),
                        at,
                        value_at: at + 1 + value_start,
                    };
                    self.pos = at + 1 + i + 1;
                    return Ok(Some(element));
                }
            } else if b == sep && depth == 1 && name_end.is_none() {
                name_end = Some(i);
            }
        }
        Err((ErrorKind::UnclosedElement, at))
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Element<'a>, (ErrorKind, usize)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.scan();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r.transpose()
    }
}

/// `true` if every START in `text` has its END and no END comes first, so that the text
/// can stand inside an element without changing where it ends.
pub(crate) fn is_balanced(text: &[u8], syntax: Syntax) -> bool {
    let mut depth = 0usize;
    for &b in text {
        if b == syntax.start() {
            depth += 1;
        } else if b == syntax.end() {
            match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            }
        }
    }
    depth == 0
}

/// `true` if `text` has a SEP outside any element: written as an element's name or
/// unnamed value, it would end the name there.
pub(crate) fn has_top_level_sep(text: &[u8], syntax: Syntax) -> bool {
    let mut depth = 0usize;
    for &b in text {
        if b == syntax.start() {
            depth += 1;
        } else if b == syntax.end() {
            depth = depth.saturating_sub(1);
        } else if b == syntax.sep() && depth == 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    type Split<'a> = Result<Vec<(Option<&'a [u8]>, &'a [u8])>, (ErrorKind, usize)>;

    fn split(text: &[u8]) -> Split<'_> {
        Elements::new(text, Syntax::Visible)
            .map(|e| e.map(|e| (e.name, e.value)))
            .collect()
    }

    #[test]
    fn names_values_and_nesting() {
        let els = split(b"<F=<<a><I>>><R=<1><x=y>><>").unwrap();
        assert_eq!(
            els,
            [
                (Some(&b"F"[..]), &b"<<a><I>>"[..]),
                (Some(&b"R"[..]), &b"<1><x=y>"[..]),
                (None, &b""[..]),
            ]
        );
        // The first SEP at depth one names the element; later ones belong to the value.
        assert_eq!(split(b"<a=b=c>").unwrap(), [(Some(&b"a"[..]), &b"b=c"[..])]);
        assert_eq!(
            split(b"<<x=1>=2>").unwrap(),
            [(Some(&b"<x=1>"[..]), &b"2"[..])]
        );
    }

    #[test]
    fn offsets_point_into_the_text() {
        let e: Vec<Element<'_>> = Elements::new(b"<a=bc><d>", Syntax::Visible)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            (e[0].at, e[0].value_at, e[1].at, e[1].value_at),
            (0, 3, 6, 7)
        );
    }

    #[test]
    fn unbalanced_text_is_an_error_at_its_offset() {
        assert_eq!(split(b"<a><b"), Err((ErrorKind::UnclosedElement, 3)));
        assert_eq!(split(b"<a>>"), Err((ErrorKind::UnexpectedElementEnd, 3)));
        assert_eq!(split(b"<a>x"), Err((ErrorKind::TextOutsideElement, 3)));
        assert!(split(b"").unwrap().is_empty());
    }
}
