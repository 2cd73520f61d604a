//! The `build.rs` front end of the bindings generator.

use std::fmt;
use std::path::{Path, PathBuf};

use ferrocom_core::packed_json::{PackOptions, pack_json_text};
use ferrocom_spec::signals::{SignalMap, Warning};

use super::{BindingsError, BindingsOptions, c_header_for_map, load_map, rust_for_map};

/// Generates typed board bindings from a signal map in a build script.
///
/// ```no_run
/// // build.rs, in `fn main`:
/// let result = ferrocom_codegen::Bindings::from_signal_map("config/signals/signals.json")
///     .rust_file("gina_signals.rs")
///     .c_header("gina_signals.h")
///     .generate();
/// if let Err(e) = result {
///     eprintln!("{e}"); // file:line:col: error: ...
///     std::process::exit(1);
/// }
/// ```
///
/// ```ignore
/// // src/lib.rs
/// pub mod gina {
///     include!(concat!(env!("OUT_DIR"), "/gina_signals.rs"));
/// }
/// ```
///
/// The map may also be a merge list (`merge.json`); its inputs are looked up in
/// [`search_dirs`](Bindings::search_dirs) (default: the merge list's folder). Cargo is
/// told to re-run the build script when any file read changes, and each warning about the
/// map is shown as a cargo warning.
pub struct Bindings {
    map: PathBuf,
    search_dirs: Vec<PathBuf>,
    rust_file: Option<PathBuf>,
    c_header: Option<PathBuf>,
    stubs_file: Option<PathBuf>,
    runtime: String,
    out_dir: Option<PathBuf>,
    options: BindingsOptions,
    info: bool,
    cargo: bool,
}

impl fmt::Debug for Bindings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bindings")
            .field("map", &self.map)
            .field("search_dirs", &self.search_dirs)
            .field("rust_file", &self.rust_file)
            .field("c_header", &self.c_header)
            .field("stubs_file", &self.stubs_file)
            .field("out_dir", &self.out_dir)
            .field("options", &self.options)
            .field("info", &self.info)
            .finish()
    }
}

/// What [`Bindings::generate`] did.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// Every file read (the map, or the merge list and its inputs).
    pub inputs: Vec<PathBuf>,
    /// Warnings about the map (also printed as cargo warnings).
    pub warnings: Vec<Warning>,
    /// The map the bindings were generated from.
    pub map: SignalMap,
}

impl Bindings {
    /// Bindings of the signal map (or merge list) at `path`; relative paths are relative
    /// to the crate root, as everything in a build script.
    pub fn from_signal_map(path: impl AsRef<Path>) -> Self {
        Bindings {
            map: path.as_ref().to_path_buf(),
            search_dirs: Vec::new(),
            rust_file: None,
            c_header: None,
            stubs_file: None,
            runtime: "::ferrocom_runtime".to_string(),
            out_dir: None,
            options: BindingsOptions::default(),
            info: true,
            cargo: true,
        }
    }

    /// Bindings of the maps a `merge.json` lists, looked up in `search_dirs` in order
    /// (see `ferrocom_spec::signals::search_dirs` for IOCOM's order).
    pub fn from_merge_list(
        path: impl AsRef<Path>,
        search_dirs: impl IntoIterator<Item = impl Into<PathBuf>>,
    ) -> Self {
        Bindings::from_signal_map(path).search_dirs(search_dirs)
    }

    /// Folders where the inputs of a merge list are looked up, in order.
    pub fn search_dirs(mut self, dirs: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        self.search_dirs = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// Writes the Rust bindings to this file (in the output directory).
    pub fn rust_file(mut self, name: impl AsRef<Path>) -> Self {
        self.rust_file = Some(name.as_ref().to_path_buf());
        self
    }

    /// Writes the C header to this file (in the output directory); its name sets the
    /// include guard (`gina_signals.h` → `IOC_GINA_SIGNALS_INCLUDED`).
    pub fn c_header(mut self, name: impl AsRef<Path>) -> Self {
        self.c_header = Some(name.as_ref().to_path_buf());
        self
    }

    /// Writes typed device and server stubs (on `ferrocom-runtime`) to this file: see
    /// [`rust_stubs_for_map`](super::rust_stubs_for_map).
    pub fn stubs_file(mut self, name: impl AsRef<Path>) -> Self {
        self.stubs_file = Some(name.as_ref().to_path_buf());
        self
    }

    /// Path of the runtime crate in generated stubs (default `::ferrocom_runtime`).
    pub fn runtime_crate(mut self, path: &str) -> Self {
        self.runtime = path.to_string();
        self
    }

    /// Writes to this directory instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Path of the support crate in generated Rust (default `::ferrocom_wire`).
    pub fn support_crate(mut self, path: &str) -> Self {
        self.options.support = path.to_string();
        self
    }

    /// Uses this device name instead of the map's `name`.
    pub fn device_name(mut self, name: &str) -> Self {
        self.options.device_name = Some(name.to_string());
        self
    }

    /// Whether to generate the packed `info` block (`INFO`, and `ioapp_signals_config` in
    /// C): the map without `title` keys in eosal's packed JSON, as a device publishes it.
    /// On by default.
    pub fn info(mut self, on: bool) -> Self {
        self.info = on;
        self
    }

    /// Whether to print `cargo:` instructions (default true; turn off outside build
    /// scripts).
    pub fn cargo_instructions(mut self, on: bool) -> Self {
        self.cargo = on;
        self
    }

    /// Reads the map, generates and writes the requested files.
    pub fn generate(self) -> Result<Generated, BindingsError> {
        if self.rust_file.is_none() && self.c_header.is_none() && self.stubs_file.is_none() {
            return Err(BindingsError::NothingToGenerate);
        }
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or(BindingsError::NoOutDir)?),
        };
        if self.cargo {
            // Before reading, so that a broken map is re-read once it is fixed.
            println!("cargo:rerun-if-changed={}", self.map.display());
        }
        let loaded = load_map(&self.map, &self.search_dirs)?;
        if self.cargo {
            for f in loaded.files.iter().skip(1) {
                println!("cargo:rerun-if-changed={}", f.display());
            }
            for w in &loaded.warnings {
                for line in w.to_string().lines() {
                    println!("cargo:warning={line}");
                }
            }
        }
        let mut options = self.options.clone();
        if options.file_label.is_none() {
            options.file_label = Some(self.map.display().to_string());
        }
        if self.info {
            let json = loaded.map.to_json_text(false);
            let packed = pack_json_text(&json, &PackOptions::info_block())
                .map_err(|e| BindingsError::Info(e.to_string()))?;
            options.info = Some(packed);
        }
        let mut files = Vec::new();
        if let Some(name) = &self.rust_file {
            let tokens = rust_for_map(&loaded.map, &options)?;
            let text =
                crate::pretty(&tokens).map_err(|e| BindingsError::Internal(e.to_string()))?;
            let path = out_dir.join(name);
            write(&path, &text)?;
            files.push(path);
        }
        if let Some(name) = &self.c_header {
            if let Some(file) = name.file_name() {
                options.c_header_name = file.to_string_lossy().into_owned();
            }
            let text = c_header_for_map(&loaded.map, &options)?;
            let path = out_dir.join(name);
            write(&path, &text)?;
            files.push(path);
        }
        if let Some(name) = &self.stubs_file {
            let tokens = super::rust_stubs_for_map(&loaded.map, &options, &self.runtime)?;
            let text =
                crate::pretty(&tokens).map_err(|e| BindingsError::Internal(e.to_string()))?;
            let path = out_dir.join(name);
            write(&path, &text)?;
            files.push(path);
        }
        Ok(Generated {
            files,
            inputs: loaded.files,
            warnings: loaded.warnings,
            map: loaded.map,
        })
    }
}

/// Writes a file unless it already has this content (so that dependents are not rebuilt).
fn write(path: &Path, text: &str) -> Result<(), BindingsError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| BindingsError::Io(dir.to_path_buf(), e))?;
    }
    std::fs::write(path, text).map_err(|e| BindingsError::Io(path.to_path_buf(), e))
}
