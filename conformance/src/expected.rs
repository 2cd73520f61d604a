//! Expected-failures lists (`conformance/expected/<target>.toml`): each entry a case id
//! and the reason. A run fails on a failure not listed, and on a listed case that now
//! passes (the list may only shrink).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One listed case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ExpectedFailure {
    /// Case id.
    pub id: String,
    /// Why it fails.
    pub reason: String,
}

/// The list of one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ExpectedFailures {
    /// Entries.
    #[serde(default, rename = "case")]
    pub cases: Vec<ExpectedFailure>,
}

impl ExpectedFailures {
    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads a file; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(t) => Self::parse(&t).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// The reason a case is listed, if it is.
    pub fn reason(&self, id: &str) -> Option<&str> {
        self.cases
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.reason.as_str())
    }
}
