#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod error;
pub mod model;
pub mod parse;
pub mod signals;
pub mod validate;

use std::path::Path;

pub use error::{SpecError, SpecErrors};
pub use model::Spec;

/// Parses and validates a spec. `file` is the name used in errors and stored in
/// [`Spec::file`]. Returns the syntax error, or every validation error, with the
/// source lines filled in for display.
pub fn parse_str(file: &str, src: &str) -> Result<Spec, SpecErrors> {
    let spec = parse::parse(file, src)?;
    match validate::validate(&spec) {
        Ok(()) => Ok(spec),
        Err(mut errors) => {
            errors.attach_source(src);
            Err(errors)
        }
    }
}

/// Reads, parses and validates a spec file. The file name in errors is `path` as
/// given. An I/O error is reported as an error at 1:1.
pub fn parse_file(path: &Path) -> Result<Spec, SpecErrors> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(src) => parse_str(&name, &src),
        Err(e) => Err(SpecError::new(
            name,
            model::Span {
                line: 1,
                column: 1,
                offset: 0,
            },
            format!("cannot read the spec file: {e}"),
            "an unreadable file",
            "a readable UTF-8 spec file",
        )
        .into()),
    }
}
