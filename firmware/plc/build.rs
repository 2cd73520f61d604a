//! Generates the plc board's bindings (Rust module and C header) from
//! `config/signals.json`.

use ferrocom_codegen::Bindings;

fn main() {
    let result = Bindings::from_signal_map("config/signals.json")
        .rust_file("plc_signals.rs")
        .c_header("plc_signals.h")
        .generate();
    if let Err(e) = result {
        // file:line:col: error: ..., with the offending line.
        eprintln!("{e}");
        std::process::exit(1);
    }
}
