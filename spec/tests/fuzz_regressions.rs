//! The fuzz targets of ferrocom-spec's parsers (signal-map JSON, protocol specs),
//! replayed in `cargo test`: every seed of `fuzz/corpus/<target>/` and every saved crash
//! input of `fuzz/regressions/<target>/` goes through the same oracle the cargo-fuzz
//! target runs (`fuzz/oracles/spec.rs`, included by path). See `fuzz/README.md`.

#[path = "../../fuzz/oracles/spec.rs"]
mod oracles;
#[path = "../../fuzz/oracles/replay.rs"]
mod replay;

#[test]
fn corpus_and_regressions_pass_the_fuzz_oracles() {
    replay::replay("spec", oracles::TARGETS);
}

#[test]
fn every_spec_fuzz_target_is_replayed() {
    replay::all_targets_listed("spec", oracles::TARGETS);
}
