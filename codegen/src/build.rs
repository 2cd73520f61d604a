//! The `build.rs` front end: generate codecs into `OUT_DIR`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Options, generate_items, pretty};

/// Generates codecs from spec files in a build script.
///
/// ```no_run
/// // build.rs
/// ferrocom_codegen::Build::new()
///     .spec("spec/my_protocol.wire")
///     .generate()
///     .unwrap_or_else(|e| panic!("{e}"));
/// ```
/// and in the crate, for a spec declaring `protocol my_protocol`:
/// ```ignore
/// pub mod my_protocol {
///     include!(concat!(env!("OUT_DIR"), "/my_protocol.rs"));
/// }
/// ```
/// The including crate depends on `ferrocom-wire` (and declares an `arbitrary` feature
/// forwarding to `ferrocom-wire/arbitrary` if it wants `Arbitrary` impls).
#[derive(Debug, Default, Clone)]
pub struct Build {
    specs: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    options: Options,
}

/// Why generation failed; `Display` shows every error with file, line and column.
#[derive(Debug)]
pub enum BuildError {
    /// The spec did not parse or validate.
    Spec(ferrocom_spec::error::SpecErrors),
    /// The generator could not handle a construct.
    Codegen(crate::CodegenError),
    /// Reading or writing a file failed.
    Io(PathBuf, std::io::Error),
    /// `OUT_DIR` is not set and no output directory was given.
    NoOutDir,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Spec(e) => write!(f, "{e}"),
            BuildError::Codegen(e) => write!(f, "{e}"),
            BuildError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            BuildError::NoOutDir => {
                f.write_str("OUT_DIR is not set; call out_dir() outside build scripts")
            }
        }
    }
}

impl std::error::Error for BuildError {}

impl Build {
    /// A build with no specs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a spec file (relative paths are relative to the crate root, as in build.rs).
    pub fn spec(mut self, path: impl AsRef<Path>) -> Self {
        self.specs.push(path.as_ref().to_path_buf());
        self
    }

    /// Writes to this directory instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Path of the support crate in generated code (default `::ferrocom_wire`).
    pub fn support_crate(mut self, path: &str) -> Self {
        self.options.support = path.to_string();
        self
    }

    /// Parses, validates and generates every spec; returns the files written
    /// (`<protocol>.rs` each). Tells cargo to re-run when a spec changes.
    pub fn generate(self) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = match self.out_dir {
            Some(d) => d,
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or(BuildError::NoOutDir)?),
        };
        let mut written = Vec::new();
        for path in &self.specs {
            println!("cargo:rerun-if-changed={}", path.display());
            let spec = ferrocom_spec::parse_file(path).map_err(BuildError::Spec)?;
            let mut options = self.options.clone();
            options.file_label = path.display().to_string();
            let tokens = generate_items(&spec, &options).map_err(BuildError::Codegen)?;
            let text = pretty(&tokens).map_err(|e| {
                BuildError::Codegen(crate::CodegenError {
                    file: path.display().to_string(),
                    span: Default::default(),
                    message: format!("generated code does not parse: {e}"),
                })
            })?;
            let out = out_dir.join(format!("{}.rs", spec.protocol.name.name));
            std::fs::write(&out, text).map_err(|e| BuildError::Io(out.clone(), e))?;
            written.push(out);
        }
        Ok(written)
    }
}
