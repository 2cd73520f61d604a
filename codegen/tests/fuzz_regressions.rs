//! The `spec_codegen` fuzz target replayed in `cargo test`: every seed of
//! `fuzz/corpus/spec_codegen/` and every saved crash input of
//! `fuzz/regressions/spec_codegen/` goes through the same oracle the cargo-fuzz target
//! runs (`fuzz/oracles/codegen.rs`, included by path). See `fuzz/README.md`.

#[path = "../../fuzz/oracles/codegen.rs"]
mod oracles;
#[path = "../../fuzz/oracles/replay.rs"]
mod replay;

#[test]
fn corpus_and_regressions_pass_the_fuzz_oracles() {
    replay::replay("codegen", oracles::TARGETS);
}

#[test]
fn every_codegen_fuzz_target_is_replayed() {
    replay::all_targets_listed("codegen", oracles::TARGETS);
}
