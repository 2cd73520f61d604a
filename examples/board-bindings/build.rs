//! Generates the demo board's bindings from `config/signals/signals.json`: the Rust module
//! `$OUT_DIR/demo_signals.rs` and the C header `$OUT_DIR/demo_signals.h`. When the
//! repository's captured IOCOM vectors are next to it (`../shared`, as in CI), also gina's
//! bindings from gina's merged map, for the tests against captured bytes.

use std::path::Path;

use ferrocom_codegen::Bindings;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ferrocom_vectors)");
    let demo = Bindings::from_signal_map("config/signals/signals.json")
        .rust_file("demo_signals.rs")
        .c_header("demo_signals.h")
        .generate();
    if let Err(e) = demo {
        // file:line:col: error: ..., with the offending line.
        eprintln!("{e}");
        std::process::exit(1);
    }
    let gina = Path::new("../../../shared/vectors/iocom/gina-signal-map.merged.json");
    if gina.is_file() {
        let result = Bindings::from_signal_map(gina)
            .rust_file("gina_signals.rs")
            .c_header("gina_signals.h")
            .generate();
        if let Err(e) = result {
            eprintln!("{e}");
            std::process::exit(1);
        }
        println!("cargo::rustc-cfg=ferrocom_vectors");
    }
}
