//! Generates `$OUT_DIR/sensor.rs` from `spec/sensor.wire` (and re-runs when it changes).

fn main() {
    if let Err(e) = ferrocom_codegen::Build::new()
        .spec("spec/sensor.wire")
        .generate()
    {
        // Spec errors name the file, line and column, with the offending line shown.
        eprintln!("{e}");
        std::process::exit(1);
    }
}
