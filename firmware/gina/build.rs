//! Generates gina's bindings from gina's own merged signal map, the one the captured C
//! gina was built with: `../shared/vectors/iocom/gina-signal-map.merged.json` beside the
//! repository (as in CI). The map is required: a gina without gina's map would not be gina.

use std::path::Path;

use ferrocom_codegen::Bindings;

const MAP: &str = "../../../shared/vectors/iocom/gina-signal-map.merged.json";

fn main() {
    if !Path::new(MAP).is_file() {
        eprintln!(
            "error: gina's signal map {MAP} is missing (firmware/gina reads it from \
             ../shared/vectors/iocom/ beside the repository; check the repository out next \
             to `shared/`)"
        );
        std::process::exit(1);
    }
    let result = Bindings::from_signal_map(MAP)
        .rust_file("gina_signals.rs")
        .generate();
    if let Err(e) = result {
        // file:line:col: error: ..., with the offending line.
        eprintln!("{e}");
        std::process::exit(1);
    }
}
