//! IOCOM signal maps: the JSON that describes a device's memory blocks and signals,
//! read exactly as IOCOM users write it, with addresses assigned by IOCOM's algorithm.
//!
//! The user documentation (accepted keys, layout rules with a worked example, merging,
//! warnings and errors, packed JSON) follows the overview below; it is also
//! `spec/SIGNALS.md`.
//!
//! * [`SignalMap::from_json_str`] / [`SignalMap::from_path`] — parse a map (or a
//!   fragment), check it, assign addresses; returns the map and the warnings.
//! * [`json`] — the strict JSON reader behind it: every value and key with its line and
//!   column; numbers keep their text; pretty printing in IOCOM's format.
//! * [`model`] — [`SignalMap`], [`Block`], [`Group`], [`Signal`], [`SignalType`],
//!   [`Assembly`]; unknown keys are kept in `extra` fields (and warned about), never
//!   dropped or misread.
//! * [`layout`] — the address assignment of reference §14.3 (state byte then value,
//!   no padding, bit-packed boolean arrays, `str` capacity + 1, type carry-over within a
//!   block, explicit `addr`, block size at least 24); overlapping slots are an error.
//! * [`merge`] — merging several maps (§14.4) and `merge.json` lists.
//!
//! A device publishes its map as packed JSON in its `info` block; ferrocom-wire's
//! `packed_json` module packs and unpacks that binary form. The two meet in JSON text:
//! [`SignalMap::to_json_text`]`(false)` is what a device packs, and a server parses the
//! text of an unpacked `info` block with [`SignalMap::from_json_str`].
//!
//! ```
//! use ferrocom_spec::signals::{SignalMap, SignalType};
//! let (map, warnings) = SignalMap::from_json_str("demo.json", r#"{
//!   "name": "demo",
//!   "mblk": [{"name": "exp", "flags": "up", "groups": [{"name": "g", "signals": [
//!     {"name": "temp", "type": "short"},
//!     {"name": "leds", "type": "boolean", "array": 12},
//!     {"name": "label", "type": "str", "array": 10},
//!     {"name": "count"}
//!   ]}]}]}"#)?;
//! assert!(warnings.is_empty());
//! let exp = map.block("exp").unwrap();
//! let addrs: Vec<_> = exp.signals().map(|s| (s.name.as_str(), s.addr)).collect();
//! assert_eq!(addrs, [("temp", 0), ("leds", 3), ("label", 6), ("count", 17)]);
//! assert_eq!(exp.signal("count").unwrap().ty, SignalType::Str); // carried over
//! assert_eq!(exp.signal("count").unwrap().end(), 19);
//! assert_eq!(exp.size, 24); // never below 24
//! # Ok::<(), ferrocom_spec::signals::SignalMapError>(())
//! ```
//!
//! ---
//!
#![doc = include_str!("../../SIGNALS.md")]

pub mod json;
pub mod layout;
pub mod merge;
pub mod model;

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

pub use json::{JsonKind, JsonMember, JsonNumber, JsonValue, Pos, Source};
pub use merge::{MergeEntry, MergeList, merge_files, merge_json, search_dirs};
pub use model::{Assembly, Block, Group, Signal, SignalMap, SignalType};

/// A secondary position that helps explain a diagnostic ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// File label.
    pub file: String,
    /// Line, from 1 (0 if unknown).
    pub line: u32,
    /// Column in characters, from 1 (0 if unknown).
    pub column: u32,
    /// What is there.
    pub message: String,
}

/// Where and what: the common part of [`SignalMapError`] and [`Warning`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File label (the path as given, or the label passed to `from_json_str`).
    pub file: String,
    /// Line, from 1 (0 if the position is unknown, e.g. a value built in code).
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
    /// Width of the marked token in characters (at least 1).
    pub width: usize,
    /// What is wrong, in a sentence.
    pub message: String,
    /// The text of the line, when the source is known.
    pub source_line: Option<String>,
    /// Related positions.
    pub notes: Vec<Note>,
}

impl Diagnostic {
    fn at(pos: &Pos, message: String) -> Diagnostic {
        let source = pos.source.as_deref();
        let source_line = source
            .filter(|_| pos.is_known())
            .and_then(|s| s.line_at(pos.offset))
            .map(str::to_string);
        let width = source.map_or(1, |s| json::token_width(&s.text, pos.offset));
        Diagnostic {
            file: pos.label_or("<signal map>").to_string(),
            line: pos.line,
            column: pos.column,
            width,
            message,
            source_line,
            notes: Vec::new(),
        }
    }

    /// `file:line:col` (just `file` when the position is unknown).
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.clone()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.column)
        }
    }

    fn render(&self, f: &mut fmt::Formatter<'_>, severity: &str) -> fmt::Result {
        write!(f, "{}: {severity}: {}", self.location(), self.message)?;
        if let Some(line) = &self.source_line {
            let number = self.line.to_string();
            let gutter = " ".repeat(number.len());
            write!(f, "\n  {number} | {line}")?;
            let column = usize::try_from(self.column.saturating_sub(1)).unwrap_or(0);
            // Keep tabs so the caret lines up with the text above.
            let pad: String = line
                .chars()
                .chain(std::iter::repeat(' '))
                .take(column)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let rest = line.chars().count().saturating_sub(column).max(1);
            let width = self.width.clamp(1, rest);
            write!(f, "\n  {gutter} | {pad}{}", "^".repeat(width))?;
        }
        for n in &self.notes {
            if n.line == 0 {
                write!(f, "\n  note: {}: {}", n.file, n.message)?;
            } else {
                write!(
                    f,
                    "\n  note: {}:{}:{}: {}",
                    n.file, n.line, n.column, n.message
                )?;
            }
        }
        Ok(())
    }
}

/// An error in a signal map (or merge list): file, line, column, message, and the
/// offending line with a caret. Displays like a compiler diagnostic:
///
/// ```text
/// gina.json:12:46: error: `array` must be a non-negative integer, found string "5"
///   12 |           {"name": "testfloat", "type": "float", "array": "5"}
///      |                                                           ^^^
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalMapError(pub Diagnostic);

/// Something in a signal map that is accepted but deserves attention (an unknown key,
/// a name IOCOM would not accept, an element dropped while merging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub Diagnostic);

impl SignalMapError {
    /// An error at `pos`.
    pub fn at(pos: &Pos, message: impl Into<String>) -> Self {
        SignalMapError(Diagnostic::at(pos, message.into()))
    }

    /// Adds a note pointing at `pos`.
    pub fn with_note(mut self, pos: &Pos, message: impl Into<String>) -> Self {
        self.0.notes.push(Note {
            file: pos.label_or("<signal map>").to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
        self
    }

    /// A file that could not be read.
    pub fn io(file: &str, e: &std::io::Error) -> Self {
        SignalMapError(Diagnostic {
            file: file.to_string(),
            line: 0,
            column: 0,
            width: 1,
            message: format!("cannot read the file: {e}"),
            source_line: None,
            notes: Vec::new(),
        })
    }
}

impl Warning {
    /// A warning at `pos`.
    pub fn at(pos: &Pos, message: impl Into<String>) -> Self {
        Warning(Diagnostic::at(pos, message.into()))
    }
}

impl Deref for SignalMapError {
    type Target = Diagnostic;
    fn deref(&self) -> &Diagnostic {
        &self.0
    }
}

impl Deref for Warning {
    type Target = Diagnostic;
    fn deref(&self) -> &Diagnostic {
        &self.0
    }
}

impl fmt::Display for SignalMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f, "error")
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f, "warning")
    }
}

impl std::error::Error for SignalMapError {}

impl SignalMap {
    /// Parses a signal map (or fragment) from JSON text, checks it and assigns addresses.
    /// `file_label` names the text in diagnostics. Returns the map and its warnings.
    pub fn from_json_str(
        file_label: &str,
        text: &str,
    ) -> Result<(SignalMap, Vec<Warning>), SignalMapError> {
        let value = json::parse_source(Arc::new(Source {
            label: file_label.to_string(),
            text: text.to_string(),
        }))?;
        SignalMap::from_json_value(value)
    }

    /// Reads a signal-map file (see [`SignalMap::from_json_str`]); the path as given is
    /// the label in diagnostics.
    pub fn from_path(path: &Path) -> Result<(SignalMap, Vec<Warning>), SignalMapError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SignalMapError::io(&label, &e))?;
        SignalMap::from_json_str(&label, &text)
    }
}
