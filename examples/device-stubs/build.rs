//! Generates the thermostat's typed stubs from `config/signals.json` into
//! `$OUT_DIR/thermostat_stubs.rs` (included by `src/lib.rs`).

use ferrocom_codegen::Bindings;

fn main() {
    let result = Bindings::from_signal_map("config/signals.json")
        .stubs_file("thermostat_stubs.rs")
        .generate();
    if let Err(e) = result {
        // file:line:col: error: ..., with the offending line.
        eprintln!("{e}");
        std::process::exit(1);
    }
}
