//! `ferrocom conform`: the conformance suite. Without arguments it starts ferrocom's own
//! server and device in-process on loopback, runs every case against them and writes the
//! reports under `target/conformance/`; with `--target` and `--role` it tests another
//! implementation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ferrocom_conformance::{
    ExpectedFailures, Report, Role, RunConfig, RunOptions, expected_dir, run, run_main_job,
};

/// Exit code when the command line or a file is unusable.
const BAD_INPUT: u8 = 2;

/// Arguments of `ferrocom conform`.
#[derive(Debug, Args)]
#[command(
    about = "Run the conformance suite (no arguments: against ferrocom's own server and device on loopback)",
    after_help = "Examples:\n  ferrocom conform\n  \
ferrocom conform --target tcp://192.168.1.10:6368 --role server\n  \
ferrocom conform --target tcp://0.0.0.0:6368 --role device   (the device must connect here)\n\n\
Exit code 0 when every failure is listed in the expected-failures file and no listed case passes."
)]
pub struct ConformArgs {
    /// The implementation under test: tcp://HOST:PORT (a server, broker or switchbox),
    /// or for --role device the address the suite listens on for the device.
    #[arg(long, value_name = "URL", requires = "role")]
    pub target: Option<String>,

    /// Role of the target: server, device, broker or switchbox.
    #[arg(long, value_name = "ROLE", requires = "target")]
    pub role: Option<String>,

    /// Use TLS (not available yet: the runtime's TLS adapter will be plugged in).
    #[arg(long)]
    pub tls: bool,

    /// Expected-failures file (default: conformance/expected/<name>.toml).
    #[arg(long, value_name = "FILE")]
    pub expected: Option<PathBuf>,

    /// Where to write report.json, junit.xml and report.html.
    #[arg(long, value_name = "DIR", default_value = "target/conformance")]
    pub report_dir: PathBuf,

    /// Name of the target in the reports (default: derived from the address).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// IO network name the suite uses.
    #[arg(long, value_name = "NAME", default_value = "cafenet")]
    pub network: String,

    /// Run only cases whose id starts with this (repeatable).
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,

    /// Leave out the slow timer cases (keep-alive 10 s, silence 20 s).
    #[arg(long)]
    pub quick: bool,
}

/// Runs `ferrocom conform`.
pub fn cmd(args: ConformArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrocom conform: cannot start the async runtime: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let mut options = RunOptions {
        only: args.only.clone(),
        skip_slow: args.quick,
        ..RunOptions::default()
    };
    options.settings.network = args.network.clone();

    let (Some(target), Some(role)) = (&args.target, &args.role) else {
        let reports = rt.block_on(run_main_job(&args.report_dir, &options));
        return exit(&reports);
    };
    let Some(role) = Role::parse(role) else {
        eprintln!("ferrocom conform: unknown role {role:?} (server, device, broker, switchbox)");
        return ExitCode::from(BAD_INPUT);
    };
    if args.tls {
        eprintln!("ferrocom conform: --tls is not available yet");
        return ExitCode::from(BAD_INPUT);
    }
    let address = target
        .strip_prefix("tcp://")
        .unwrap_or(target)
        .trim_end_matches('/')
        .to_string();
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{role}-{}", address.replace([':', '/'], "_")));
    let path = args
        .expected
        .clone()
        .unwrap_or_else(|| expected_dir().join(format!("{name}.toml")));
    let expected = match ExpectedFailures::load(&path) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ferrocom conform: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let report = rt.block_on(run(RunConfig {
        name,
        address,
        role,
        tls: None,
        expected,
        options,
    }));
    print!("{}", report.console_summary());
    let dir = args.report_dir.join(&report.target.name);
    if let Err(e) = report.write_files(&dir) {
        eprintln!("ferrocom conform: cannot write {}: {e}", dir.display());
    } else {
        println!("reports: {}", dir.display());
    }
    exit(std::slice::from_ref(&report))
}

fn exit(reports: &[Report]) -> ExitCode {
    if reports.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
