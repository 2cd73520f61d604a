//! The fuzz targets of ferrocom-wire's decoders, replayed in `cargo test`: every seed of
//! `fuzz/corpus/<target>/` and every saved crash input of `fuzz/regressions/<target>/`
//! goes through the same oracle the cargo-fuzz target runs (`fuzz/oracles/wire.rs`,
//! included by path, so there is one copy of each check). See `fuzz/README.md`.
// The fuzz crate builds every codec, so its target list includes Iotellect's.
#![cfg(all(feature = "arbitrary", feature = "iotellect"))]

#[path = "../../fuzz/oracles/wire.rs"]
mod oracles;
#[path = "../../fuzz/oracles/replay.rs"]
mod replay;

#[test]
fn corpus_and_regressions_pass_the_fuzz_oracles() {
    replay::replay("wire", oracles::TARGETS);
}

#[test]
fn every_wire_fuzz_target_is_replayed() {
    replay::all_targets_listed("wire", oracles::TARGETS);
}
