//! The fuzz targets of the IOCOM connection engine, replayed in `cargo test`: every seed
//! of `fuzz/corpus/<target>/` and every saved crash input of `fuzz/regressions/<target>/`
//! goes through the same oracle the cargo-fuzz target runs (`fuzz/oracles/runtime.rs`,
//! included by path). See `fuzz/README.md`.

#[path = "../../fuzz/oracles/runtime.rs"]
mod oracles;
#[path = "../../fuzz/oracles/replay.rs"]
mod replay;

#[test]
fn corpus_and_regressions_pass_the_fuzz_oracles() {
    replay::replay("runtime", oracles::TARGETS);
}

// The fuzz crate builds the Iotellect session engine, so its target list (and the
// listing check) includes it only with the feature.
#[cfg(feature = "iotellect")]
#[test]
fn every_engine_fuzz_target_is_replayed() {
    replay::all_targets_listed("runtime", oracles::TARGETS);
}
