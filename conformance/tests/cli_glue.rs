//! `cli/src/conform.rs` is compiled here too, so that its use of this crate's API is
//! checked with the crate (the CLI crate wires it into `ferrocom conform`).
#![allow(clippy::unwrap_used, dead_code)]

#[path = "../../cli/src/conform.rs"]
mod conform;

use clap::Parser;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: conform::ConformArgs,
}

#[test]
fn arguments_parse() {
    let c = Cli::try_parse_from(["conform"]).unwrap();
    assert!(c.args.target.is_none());
    let c = Cli::try_parse_from([
        "conform",
        "--target",
        "tcp://127.0.0.1:6368",
        "--role",
        "server",
        "--quick",
    ])
    .unwrap();
    assert_eq!(c.args.role.as_deref(), Some("server"));
    assert!(
        Cli::try_parse_from(["conform", "--target", "tcp://x:1"]).is_err(),
        "--role required"
    );
}

#[test]
fn an_unreachable_server_fails_without_panicking() {
    let dir = std::env::temp_dir().join(format!("ferrocom-conform-cli-{}", std::process::id()));
    let c = Cli::try_parse_from([
        "conform",
        "--target",
        "tcp://127.0.0.1:1",
        "--role",
        "server",
        "--only",
        "IOCOM-8.5-1#s1",
        "--report-dir",
        dir.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(conform::cmd(c.args), std::process::ExitCode::FAILURE);
    assert!(dir.join("server-127.0.0.1_1").join("report.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
