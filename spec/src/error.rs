//! Errors in spec files: where (file, line, column), what was found, what was
//! expected, and why.
//!
//! A [`SpecError`] displays like a compiler diagnostic:
//!
//! ```text
//! demo.wire:4:11: error: unknown type `Flgs` (found `Flgs`, expected a type ...)
//!     4 |     flags: Flgs;
//!       |            ^^^^
//! ```

use std::fmt;

use crate::model::Span;

/// A secondary position that helps explain an error ("first declared here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Where the related element is.
    pub span: Span,
    /// What it is.
    pub message: String,
}

/// One error in a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file name as given to the parser.
    pub file: String,
    /// The offending token or element.
    pub span: Span,
    /// Width of the offending token in characters (for the `^^^` marker; 0 = unknown,
    /// shown as one caret).
    pub width: usize,
    /// What was found there: a token in backticks (`` `foo` ``) or a description
    /// ("end of file").
    pub found: String,
    /// What would have been valid there.
    pub expected: String,
    /// What is wrong, in a sentence.
    pub message: String,
    /// Related positions (earlier declarations, arms that already cover a value, ...).
    pub notes: Vec<Note>,
    /// The text of the source line at `span.line`, if the source is known; shown under
    /// the message with a caret.
    pub source_line: Option<String>,
}

impl SpecError {
    /// Builds an error without source text (see [`SpecError::attach_source`]).
    pub fn new(
        file: impl Into<String>,
        span: Span,
        message: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            span,
            width: 0,
            found: found.into(),
            expected: expected.into(),
            message: message.into(),
            notes: Vec::new(),
            source_line: None,
        }
    }

    /// Sets the width of the marked token.
    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width;
        self
    }

    /// Adds a note pointing at a related position.
    pub fn with_note(mut self, span: Span, message: impl Into<String>) -> Self {
        self.notes.push(Note {
            span,
            message: message.into(),
        });
        self
    }

    /// Fills in the source line (and, if unknown, the token width) from the spec text
    /// the error refers to.
    pub fn attach_source(&mut self, source: &str) {
        let line_index = usize::try_from(self.span.line.saturating_sub(1)).unwrap_or(0);
        if let Some(line) = source.lines().nth(line_index) {
            self.source_line = Some(line.trim_end_matches('\r').to_string());
        } else if self.span.offset >= source.len() && self.span.column == 1 {
            // End of file after a final newline: an empty last line.
            self.source_line = Some(String::new());
        }
        if self.width == 0 {
            self.width = crate::parse::token_width_at(source, self.span.offset);
        }
    }

    /// `file:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.span.line, self.span.column)
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: error: {} (found {}, expected {})",
            self.location(),
            self.message,
            self.found,
            self.expected
        )?;
        if let Some(line) = &self.source_line {
            let number = self.span.line.to_string();
            let gutter = " ".repeat(number.len());
            write!(f, "\n  {number} | {line}")?;
            // Marker line: keep tabs so the caret lines up with the text above.
            let column = usize::try_from(self.span.column.saturating_sub(1)).unwrap_or(0);
            let mut pad = String::new();
            let mut chars = line.chars();
            for _ in 0..column {
                match chars.next() {
                    Some('\t') => pad.push('\t'),
                    Some(_) | None => pad.push(' '),
                }
            }
            let rest = line.chars().count().saturating_sub(column);
            let width = self.width.clamp(1, rest.max(1));
            write!(f, "\n  {gutter} | {pad}{}", "^".repeat(width))?;
        }
        for note in &self.notes {
            write!(
                f,
                "\n  note: {}:{}:{}: {}",
                self.file, note.span.line, note.span.column, note.message
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// All errors found in a spec (validation reports every error, not just the first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpecErrors(pub Vec<SpecError>);

impl SpecErrors {
    /// The errors, in source order.
    pub fn errors(&self) -> &[SpecError] {
        &self.0
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the errors.
    pub fn iter(&self) -> std::slice::Iter<'_, SpecError> {
        self.0.iter()
    }

    /// Fills in source lines for every error (see [`SpecError::attach_source`]).
    pub fn attach_source(&mut self, source: &str) {
        for e in &mut self.0 {
            e.attach_source(source);
        }
    }
}

impl From<SpecError> for SpecErrors {
    fn from(e: SpecError) -> Self {
        Self(vec![e])
    }
}

impl IntoIterator for SpecErrors {
    type Item = SpecError;
    type IntoIter = std::vec::IntoIter<SpecError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a SpecErrors {
    type Item = &'a SpecError;
    type IntoIter = std::slice::Iter<'a, SpecError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, e) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str("\n")?;
            }
            writeln!(f, "{e}")?;
        }
        match self.0.len() {
            0 => Ok(()),
            1 => f.write_str("1 error"),
            n => write!(f, "{n} errors"),
        }
    }
}

impl std::error::Error for SpecErrors {}
