//! `ferrocom gen`: from a signal map to Rust bindings, a C header, the packed `info` block
//! or a table of the layout.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use ferrocom_codegen::signals::{
    BindingsError, BindingsOptions, c_header_for_map, load_map, rust_for_map,
};
use ferrocom_spec::signals::SignalMap;
use ferrocom_wire::packed_json::{PackOptions, pack_json_text};

/// Exit code for input that cannot be used (a bad map, a missing file).
const BAD_INPUT: u8 = 2;
/// Exit code when the output cannot be written.
const CANNOT_WRITE: u8 = 1;

/// Arguments of `ferrocom gen`.
#[derive(Debug, Args)]
#[command(
    about = "Generate typed bindings, a C header, the packed info block or a layout table from an IOCOM signal map",
    long_about = "Reads an IOCOM signal map (signals.json) — or a merge list (merge.json), whose inputs are merged \
as IOCOM's build merges them — assigns addresses as IOCOM does, and writes one of:\n\n  \
--rust   a Rust module: a const Signal<T> per signal and a typed block type per memory block\n  \
--c      a C header with IOCOM's names (<DEVICE>_<BLOCK>_MBLK_SZ, the <device>_t signal struct, ...)\n  \
--info   the packed info block (eosal binary JSON) a device publishes\n  \
--table  a table of blocks, addresses, signals, types, element counts and slot sizes\n  \
--stubs  typed device and server stubs running on ferrocom-runtime\n\n\
Errors name the file, line and column; the exit code is 2 for bad input.",
    after_help = "Examples:\n  ferrocom gen --map config/signals/signals.json --table\n  \
ferrocom gen --map config/signals/signals.json --c -o include/signals.h\n  \
ferrocom gen --map config/signals/merge.json --search-dir config/signals --search-dir ../iocom/config/signals --info -o info.bin"
)]
pub struct GenArgs {
    /// The signal map, or a merge list.
    #[arg(long, value_name = "FILE")]
    map: PathBuf,

    /// Where to look up the inputs of a merge list, in order (repeatable; default: the
    /// merge list's folder).
    #[arg(long = "search-dir", value_name = "DIR")]
    search_dirs: Vec<PathBuf>,

    #[command(flatten)]
    what: What,

    /// Write to FILE instead of standard output. For --c the file name also names the
    /// include guard (gina_signals.h: IOC_GINA_SIGNALS_INCLUDED).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Device name to use instead of the map's `name` (IOCOM's -d).
    #[arg(long, value_name = "NAME")]
    device_name: Option<String>,

    /// Leave the packed info block out of the Rust module and the C header.
    #[arg(long)]
    no_info: bool,

    /// Path of the support crate in generated Rust.
    #[arg(long, value_name = "PATH", default_value = "::ferrocom_wire")]
    support: String,
}

/// What to write: exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct What {
    /// A Rust module (for `include!`).
    #[arg(long)]
    rust: bool,
    /// A C header with IOCOM's names.
    #[arg(long)]
    c: bool,
    /// The packed info block (binary).
    #[arg(long)]
    info: bool,
    /// A table of the layout (Markdown).
    #[arg(long)]
    table: bool,
    /// Typed device and server stubs on ferrocom-runtime (`Gina::connect`,
    /// `server.device::<Gina>("gina1")`).
    #[arg(long)]
    stubs: bool,
}

/// Runs `ferrocom gen`; messages go to standard error.
pub fn run(args: GenArgs) -> ExitCode {
    match generate(&args) {
        Ok(bytes) => match write_output(args.output.as_deref(), &bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("{message}");
                ExitCode::from(CANNOT_WRITE)
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

fn generate(args: &GenArgs) -> Result<Vec<u8>, BindingsError> {
    let loaded = load_map(&args.map, &args.search_dirs)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let map = &loaded.map;
    if args.what.table {
        return Ok(table(map).into_bytes());
    }
    let info = pack_json_text(&map.to_json_text(false), &PackOptions::info_block())
        .map_err(|e| BindingsError::Info(e.to_string()))?;
    if args.what.info {
        return Ok(info);
    }
    let mut opts = BindingsOptions {
        support: args.support.clone(),
        device_name: args.device_name.clone(),
        info: (!args.no_info).then_some(info),
        file_label: Some(args.map.display().to_string()),
        ..Default::default()
    };
    if let Some(name) = args.output.as_deref().and_then(Path::file_name) {
        opts.c_header_name = name.to_string_lossy().into_owned();
    }
    if args.what.c {
        return Ok(c_header_for_map(map, &opts)?.into_bytes());
    }
    let tokens = if args.what.stubs {
        ferrocom_codegen::signals::rust_stubs_for_map(map, &opts, "::ferrocom_runtime")?
    } else {
        rust_for_map(map, &opts)?
    };
    let text =
        ferrocom_codegen::pretty(&tokens).map_err(|e| BindingsError::Internal(e.to_string()))?;
    Ok(text.into_bytes())
}

/// The layout as a Markdown table, signals in address order per block; the last row of a
/// block gives its size.
fn table(map: &SignalMap) -> String {
    let mut t = String::from(
        "| block | addr | signal | type | n | slot bytes |\n|---|---|---|---|---|---|\n",
    );
    for block in &map.blocks {
        let mut signals: Vec<_> = block.signals().collect();
        signals.sort_by_key(|s| s.addr);
        if signals.is_empty() {
            let _ = writeln!(
                t,
                "| {} | | | | | (block size {}) |",
                block.name, block.size
            );
        }
        let last = signals.len().saturating_sub(1);
        for (i, s) in signals.iter().enumerate() {
            let size = if i == last {
                format!(" (block size {})", block.size)
            } else {
                String::new()
            };
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {} | {}{size} |",
                block.name,
                s.addr,
                s.name,
                s.ty,
                s.array,
                s.slot_size()
            );
        }
    }
    t
}

fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<(), String> {
    match path {
        Some(p) => std::fs::write(p, bytes).map_err(|e| format!("{}: error: {e}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|e| format!("<stdout>: error: {e}"))
        }
    }
}
