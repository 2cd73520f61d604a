//! Typed board bindings from an IOCOM signal map: a Rust module and a C header.
//!
//! The user documentation follows the overview below; it is also `codegen/BINDINGS.md`.
//!
//! * [`rust_for_map`] — Rust tokens (pretty-print them with [`crate::pretty`]): the device
//!   name, the packed `info` block when one is supplied ([`BindingsOptions::info`]), and
//!   one module per memory block with a `const` `ferrocom_wire::signals::Signal<T>` per
//!   signal, the block size and a block type with typed getters and setters over a byte
//!   buffer. The generated code calls `ferrocom_wire::signals` and works without `std`.
//! * [`rust_for_block`] — the items of one block's module (what `#[derive(Signals)]` needs
//!   for one struct = one block).
//! * [`c_header_for_map`] — a C header with the names IOCOM's own generator
//!   (`scripts/signals_to_c.py`) uses: the `<device>_t` struct of `iocSignal`s with its
//!   initialisers, `<DEVICE>_<BLOCK>_MBLK_SZ`, `<DEVICE>_<BLOCK>_<SIGNAL>_ARRAY_SZ`, the
//!   `#ifdef` markers, `IOBOARD_DEVICE_NAME`; plus addresses, type ids and element
//!   counts as plain `#define`s that need no IOCOM headers.
//! * [`Bindings`] — the `build.rs` front end: reads a map or a `merge.json`, writes the
//!   requested files to `OUT_DIR`, and tells cargo when to re-run.
//!
//! Every error names the file, line and column of the offending part of the map.
//!
//! ---
//!
#![doc = include_str!("../../BINDINGS.md")]

mod build;
mod c;
mod names;
mod rust;
mod stubs;

use std::fmt;
use std::path::{Path, PathBuf};

use ferrocom_spec::signals::{
    Block, JsonValue, MergeList, Signal, SignalMap, SignalMapError, Warning,
};

pub use build::{Bindings, Generated};
pub use c::c_header_for_map;
pub use rust::{rust_for_block, rust_for_map};
pub use stubs::rust_stubs_for_map;

/// Options of [`rust_for_map`], [`rust_for_block`] and [`c_header_for_map`].
#[derive(Debug, Clone)]
pub struct BindingsOptions {
    /// Path of the support crate the generated Rust calls (default `::ferrocom_wire`).
    pub support: String,
    /// Device name to use instead of the map's `name` (IOCOM's generator takes it with
    /// `-d`). A map without a name (a fragment) and without this option is named
    /// `unnameddevice`, as IOCOM does.
    pub device_name: Option<String>,
    /// The packed `info` block of the device (the map packed as eosal binary JSON, see
    /// `ferrocom_core::packed_json`). When given, the Rust output has `INFO` and the C
    /// header defines `ioapp_signals_config`. [`Bindings`] fills it in unless told not to
    /// ([`Bindings::info`]).
    pub info: Option<Vec<u8>>,
    /// File name of the C header; its stem names the include guard
    /// (`IOC_<STEM>_INCLUDED`, as IOCOM does) and the implementation switch
    /// (`IOC_<STEM>_IMPLEMENTATION`). Default `signals.h`.
    pub c_header_name: String,
    /// The map's file as shown in generated comments; default: the path the map was read
    /// from.
    pub file_label: Option<String>,
}

impl Default for BindingsOptions {
    fn default() -> Self {
        BindingsOptions {
            support: "::ferrocom_wire".to_string(),
            device_name: None,
            info: None,
            c_header_name: "signals.h".to_string(),
            file_label: None,
        }
    }
}

/// Why bindings could not be generated. `Display` shows `file:line:col: error: ...` with
/// the offending line where there is a position.
#[derive(Debug)]
#[non_exhaustive]
pub enum BindingsError {
    /// The signal map or merge list could not be read, parsed or laid out.
    Map(SignalMapError),
    /// The map is valid but cannot become bindings: a name that is no identifier in the
    /// target language, two signals that would get the same generated name, an assembly
    /// naming a signal the map does not have.
    Invalid(SignalMapError),
    /// The `info` packer failed.
    Info(String),
    /// Reading or writing a file failed.
    Io(PathBuf, std::io::Error),
    /// `OUT_DIR` is not set and no output directory was given.
    NoOutDir,
    /// Nothing to generate: neither a Rust file nor a C header was asked for.
    NothingToGenerate,
    /// The generated Rust did not parse (a bug in the generator).
    Internal(String),
}

impl fmt::Display for BindingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindingsError::Map(e) | BindingsError::Invalid(e) => write!(f, "{e}"),
            BindingsError::Info(e) => write!(f, "error: cannot pack the info block: {e}"),
            BindingsError::Io(p, e) => write!(f, "{}: error: {e}", p.display()),
            BindingsError::NoOutDir => {
                f.write_str("error: OUT_DIR is not set; call out_dir() outside build scripts")
            }
            BindingsError::NothingToGenerate => {
                f.write_str("error: nothing to generate; ask for rust_file() and/or c_header()")
            }
            BindingsError::Internal(e) => write!(f, "error: internal: {e}"),
        }
    }
}

impl std::error::Error for BindingsError {}

impl From<SignalMapError> for BindingsError {
    fn from(e: SignalMapError) -> Self {
        BindingsError::Map(e)
    }
}

/// An error at a position of the map ([`BindingsError::Invalid`]).
pub(crate) fn invalid(pos: &ferrocom_spec::signals::Pos, message: String) -> BindingsError {
    BindingsError::Invalid(SignalMapError::at(pos, message))
}

/// A map read by [`load_map`], with what it was read from.
#[derive(Debug, Clone)]
pub struct LoadedMap {
    /// The map, addresses assigned.
    pub map: SignalMap,
    /// Warnings of reading and merging.
    pub warnings: Vec<Warning>,
    /// Every file read (the map, or the merge list and each merged input).
    pub files: Vec<PathBuf>,
}

/// Reads a signal map, or a merge list (`{"merge": [...]}`) whose inputs are looked up
/// in `search_dirs` (IOCOM's order, see `ferrocom_spec::signals::search_dirs`; when
/// empty: the merge list's own folder).
pub fn load_map(path: &Path, search_dirs: &[PathBuf]) -> Result<LoadedMap, BindingsError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SignalMapError::io(&label, &e))?;
    let value = JsonValue::parse(&label, &text)?;
    let is_merge_list = value.get("merge").is_some() && value.get("mblk").is_none();
    if !is_merge_list {
        let (map, warnings) = SignalMap::from_json_value(value)?;
        return Ok(LoadedMap {
            map,
            warnings,
            files: vec![path.to_path_buf()],
        });
    }
    let (list, mut warnings) = MergeList::from_json_value(value)?;
    let dirs = if search_dirs.is_empty() {
        vec![path.parent().map_or_else(PathBuf::new, Path::to_path_buf)]
    } else {
        search_dirs.to_vec()
    };
    let inputs = list.resolve(&dirs)?;
    let (merged, more) = ferrocom_spec::signals::merge_files(&inputs)?;
    warnings.extend(more);
    let (map, more) = SignalMap::from_json_value(merged)?;
    warnings.extend(more);
    let mut files = vec![path.to_path_buf()];
    files.extend(inputs);
    Ok(LoadedMap {
        map,
        warnings,
        files,
    })
}

/// The device name the generators use: the option, the map's name, or `unnameddevice`.
pub(crate) fn device_name(map: &SignalMap, opts: &BindingsOptions) -> String {
    opts.device_name
        .clone()
        .or_else(|| map.name.clone())
        .unwrap_or_else(|| "unnameddevice".to_string())
}

/// The label of the map's file for generated comments.
pub(crate) fn file_label(map: &SignalMap, opts: &BindingsOptions) -> String {
    opts.file_label
        .clone()
        .unwrap_or_else(|| map.pos.label_or("<signal map>").to_string())
}

/// A block's signals sorted by address (IOCOM's generator emits them in this order; the
/// layout guarantees no two overlap, so the order is total).
pub(crate) fn by_address(block: &Block) -> Vec<&Signal> {
    let mut signals: Vec<&Signal> = block.signals().collect();
    signals.sort_by_key(|s| s.addr);
    signals
}
