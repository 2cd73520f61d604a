//! `ferrocom gen`, run as a program: each output kind for gina's map (the table is the
//! one in the captured vectors' README, the info block is the captured one), merge lists,
//! and errors that name file, line and column with exit code 2, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn gina() -> PathBuf {
    shared().join("vectors/iocom/gina-signal-map.merged.json")
}

fn fixture(name: &str) -> PathBuf {
    shared().join("fixtures/iocom-signal-maps").join(name)
}

fn ferrocom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A scratch folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cli-gen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn help_describes_the_commands() {
    let o = ferrocom(&["--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("Usage: ferrocom <COMMAND>"), "{text}");
    assert!(text.contains("gen "), "{text}");
    let o = ferrocom(&["gen", "--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for word in [
        "--map",
        "--rust",
        "--c",
        "--info",
        "--table",
        "--search-dir",
        "-o",
    ] {
        assert!(text.contains(word), "`{word}` missing from:\n{text}");
    }
    // No output kind, or two: a usage error (exit 2), not a panic.
    let o = ferrocom(&["gen", "--map", path(&gina())]);
    assert_eq!(o.status.code(), Some(2));
    let o = ferrocom(&["gen", "--map", path(&gina()), "--rust", "--c"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn table_matches_the_captured_layout() {
    let o = ferrocom(&["gen", "--map", path(&gina()), "--table"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    // The exp and imp rows of the table in ../shared/vectors/iocom/README.md.
    let expected = "\
| block | addr | signal | type | n | slot bytes |
|---|---|---|---|---|---|
| exp | 0 | frame_rate | float | 1 | 5 |
| exp | 5 | testfloat | float | 5 | 21 |
| exp | 26 | teststr | str | 10 | 11 |
| exp | 37 | testbool | boolean | 1 | 1 |
| exp | 38 | in_x | boolean | 1 | 1 |
| exp | 39 | potentiometer | float | 1 | 5 (block size 44) |
| imp | 0 | strtodevice | str | 16 | 17 |
| imp | 17 | seven_segment | boolean | 8 | 2 |
| imp | 19 | dimmer_led | ushort | 1 | 3 |
| imp | 22 | myoutput | boolean | 1 | 1 (block size 24) |
";
    assert!(table.starts_with(expected), "{table}");
    for row in [
        "| conf_exp | 21 | frd_buf | uchar | 257 | 258 (block size 279) |",
        "| dexp | 12 | rec_buf | uchar | 8192 | 8193 (block size 8205) |",
        "| dimp | 4 | rec_tail | int | 1 | 5 (block size 24) |",
    ] {
        assert!(table.contains(row), "`{row}` missing from:\n{table}");
    }
}

#[test]
fn info_is_the_captured_info_block() {
    let tmp = TempDir::new("info");
    let out = tmp.0.join("info.bin");
    let o = ferrocom(&["gen", "--map", path(&gina()), "--info", "-o", path(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let captured =
        std::fs::read(shared().join("vectors/iocom/gina-info-block.packed-json.bin")).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), captured);
    // To standard output, the same bytes.
    let o = ferrocom(&["gen", "--map", path(&gina()), "--info"]);
    assert_eq!(o.stdout, captured);
}

#[test]
fn rust_and_c_outputs() {
    let o = ferrocom(&["gen", "--map", path(&gina()), "--rust"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rust = stdout(&o);
    assert!(rust.contains("pub const DEVICE_NAME: &str = \"gina\";"));
    assert!(rust.contains("pub const INFO: &[u8] = b\""));
    assert!(rust.contains("pub fn potentiometer(&self) -> Value<f32>"));
    let o = ferrocom(&["gen", "--map", path(&gina()), "--rust", "--no-info"]);
    assert!(!stdout(&o).contains("INFO"));

    let tmp = TempDir::new("c");
    let header = tmp.0.join("gina_signals.h");
    let o = ferrocom(&["gen", "--map", path(&gina()), "--c", "-o", path(&header)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c = std::fs::read_to_string(&header).unwrap();
    assert!(c.contains("#ifndef IOC_GINA_SIGNALS_INCLUDED"));
    assert!(c.contains("#define GINA_EXP_POTENTIOMETER_ADDR 39\n"));
    assert!(c.contains("    iocSignal potentiometer;\n"));
    // --device-name renames the C names as IOCOM's -d does.
    let o = ferrocom(&[
        "gen",
        "--map",
        path(&gina()),
        "--c",
        "--device-name",
        "tina",
    ]);
    assert!(stdout(&o).contains("typedef struct tina_t"));
}

#[test]
fn merge_lists_with_search_dirs() {
    let tmp = TempDir::new("merge");
    let app = tmp.0.join("app");
    let lib = tmp.0.join("lib");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::copy(fixture("gina__merge.json"), app.join("merge.json")).unwrap();
    std::fs::copy(fixture("gina__signals.json"), app.join("signals.json")).unwrap();
    std::fs::copy(
        fixture("config__device_conf_signals.json"),
        lib.join("device_conf_signals.json"),
    )
    .unwrap();
    std::fs::copy(
        fixture("config__camera_ring8k_signals.json"),
        lib.join("camera_ring8k_signals.json"),
    )
    .unwrap();
    let list = app.join("merge.json");
    let o = ferrocom(&[
        "gen",
        "--map",
        path(&list),
        "--search-dir",
        path(&app),
        "--search-dir",
        path(&lib),
        "--info",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let captured =
        std::fs::read(shared().join("vectors/iocom/gina-info-block.packed-json.bin")).unwrap();
    assert_eq!(o.stdout, captured);
    // Without the library folder an input is missing: named with its position.
    let o = ferrocom(&["gen", "--map", path(&list), "--table"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("merge.json:1:29: error: `device_conf_signals.json` not found"),
        "{err}"
    );
}

#[test]
fn bad_input_is_a_message_with_position_and_exit_code_2() {
    let tmp = TempDir::new("bad");
    let cases = [
        (
            "syntax.json",
            "{\"mblk\": [\n  {\"name\": \"exp\",}\n]}",
            "syntax.json:2:17: error: trailing comma",
        ),
        (
            "type.json",
            "{\"mblk\": [{\"name\": \"exp\", \"groups\": [{\"name\": \"g\", \"signals\": [\n  {\"name\": \"x\", \"array\": \"5\"}]}]}]}",
            "type.json:2:26: error: `array` must be a non-negative integer",
        ),
        (
            "clash.json",
            "{\"name\": \"d\", \"mblk\": [{\"name\": \"exp\", \"groups\": [{\"name\": \"g\", \"signals\": [\n  {\"name\": \"x\"},\n  {\"name\": \"X\"}]}]}]}",
            "clash.json:3:3: error: signal `", // `X` (Rust) or `exp.X` (C): clashes with `x`
        ),
    ];
    for (name, text, message) in cases {
        let file = tmp.0.join(name);
        std::fs::write(&file, text).unwrap();
        for kind in ["--rust", "--c"] {
            let o = ferrocom(&["gen", "--map", path(&file), kind]);
            assert_eq!(o.status.code(), Some(2), "{name} {kind}");
            let err = stderr(&o);
            assert!(err.contains(message), "{name} {kind}: {err}");
            assert!(
                err.lines().count() >= 3,
                "the offending line is shown: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
            assert!(o.stdout.is_empty());
        }
    }
    let o = ferrocom(&["gen", "--map", path(&tmp.0.join("nope.json")), "--table"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.json: error: cannot read the file"));
    // Warnings go to standard error and do not fail.
    let warn = tmp.0.join("warn.json");
    std::fs::write(
        &warn,
        "{\"name\": \"d\", \"mblk\": [{\"name\": \"exp\", \"groups\": [{\"name\": \"g\", \"signals\": [{\"name\": \"x\", \"typ\": \"int\"}]}]}]}",
    )
    .unwrap();
    let o = ferrocom(&["gen", "--map", path(&warn), "--table"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("warning: unknown key `typ`"));
    // Output that cannot be written: exit code 1 and the path.
    let o = ferrocom(&[
        "gen",
        "--map",
        path(&gina()),
        "--table",
        "-o",
        path(&tmp.0.join("no/such/dir/t.md")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("t.md: error:"));
}
