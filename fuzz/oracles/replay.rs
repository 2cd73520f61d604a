//! Replays fuzz inputs through the oracles, for the regression tests of the main
//! workspace (`wire/tests/fuzz_regressions.rs`, `spec/tests/fuzz_regressions.rs`,
//! `codegen/tests/fuzz_regressions.rs`, which include this file and the oracle file of
//! their crate by path). Not part of the fuzz targets.
//!
//! For every target of an oracle table:
//!
//! * every seed of `fuzz/corpus/<target>/` must pass (and there must be seeds);
//! * every saved crash input in `fuzz/regressions/<target>/` must pass, except one whose
//!   name ends in `.open`: a reported, not yet fixed bug, which must still fail (when it
//!   stops failing, the test says so: drop the `.open` suffix to keep it as a plain
//!   regression test);
//! * the target is wired: `fuzz/fuzz_targets/<target>.rs` calls this oracle and
//!   `fuzz/Cargo.toml` declares the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// A fuzz target: its name and its oracle (as in the oracle files).
pub type Target = (&'static str, fn(&[u8]));

/// `fuzz/` of the repository (the test crates sit one level below the root).
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The input files of `dir`, sorted; none if it does not exist. Names starting with `.`
/// and `README*` are not inputs.
pub fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with('.') && !name.starts_with("README")
        })
        .collect();
    files.sort();
    files
}

/// The panic message of `oracle(data)`, if it panics.
fn failure(oracle: fn(&[u8]), data: &[u8]) -> Option<String> {
    let r = catch_unwind(AssertUnwindSafe(|| oracle(data)));
    r.err().map(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(non-string panic)".to_string())
    })
}

/// Replays corpus and regression inputs of every target in `targets` (see the module
/// docs); `module` is the oracle module's name in the `ferrocom-fuzz` library.
pub fn replay(module: &str, targets: &[Target]) {
    let fuzz = fuzz_dir();
    let manifest = fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    let mut problems = Vec::new();
    let mut replayed = 0;
    for (target, oracle) in targets {
        let source = fuzz.join("fuzz_targets").join(format!("{target}.rs"));
        match fs::read_to_string(&source) {
            Ok(s) if s.contains(&format!("ferrocom_fuzz::{module}::{target}(")) => {}
            _ => problems.push(format!(
                "{}: missing, or does not call ferrocom_fuzz::{module}::{target}",
                source.display()
            )),
        }
        if !manifest.contains(&format!("name = \"{target}\"")) {
            problems.push(format!("fuzz/Cargo.toml: no [[bin]] {target}"));
        }
        let seeds = inputs(&fuzz.join("corpus").join(target));
        if seeds.len() < 5 {
            problems.push(format!(
                "fuzz/corpus/{target}: {} seeds, want at least 5",
                seeds.len()
            ));
        }
        for file in seeds
            .iter()
            .chain(&inputs(&fuzz.join("regressions").join(target)))
        {
            let data = fs::read(file).unwrap();
            let open = file.extension().is_some_and(|x| x == "open");
            replayed += 1;
            match (failure(*oracle, &data), open) {
                (None, false) | (Some(_), true) => {}
                (Some(msg), false) => problems.push(format!("{}: {msg}", file.display())),
                (None, true) => problems.push(format!(
                    "{}: passes now; drop the .open suffix to keep it as a regression test",
                    file.display()
                )),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) over {replayed} inputs:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// Every `fuzz/fuzz_targets/*.rs` that calls into `module` is in `targets` (so no
/// target goes without its regression replay).
pub fn all_targets_listed(module: &str, targets: &[Target]) {
    let dir = fuzz_dir().join("fuzz_targets");
    for file in inputs(&dir) {
        let text = fs::read_to_string(&file).unwrap();
        if text.contains(&format!("ferrocom_fuzz::{module}::")) {
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                targets.iter().any(|(t, _)| *t == stem),
                "{} calls ferrocom_fuzz::{module} but `{stem}` is not in its TARGETS",
                file.display()
            );
        }
    }
}
