//! `ferrocom conform`: the conformance suite. Without arguments it starts ferrocom's own
//! server, device, MQTT client and switchbox in-process on loopback, runs every case
//! against them and writes the reports under `target/conformance/`; with `--target` and
//! `--role` it tests another implementation (an IOCOM server or device, an MQTT broker
//! or client, a switchbox), over TCP or TLS (a switchbox: TLS only).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use ferrocom_conformance::{
    ExpectedFailures, Report, Role, RunConfig, RunOptions, RustlsProvider, TlsProvider,
    expected_dir, run, run_main_job,
};

/// Exit code when the command line or a file is unusable.
const BAD_INPUT: u8 = 2;

/// Arguments of `ferrocom conform`.
#[derive(Debug, Args)]
#[command(
    about = "Run the conformance suite (no arguments: against ferrocom's own server, device, MQTT client and switchbox on loopback)",
    after_help = "Examples:\n  ferrocom conform\n  \
ferrocom conform --target tcp://192.168.1.10:6368 --role server\n  \
ferrocom conform --target tcp://0.0.0.0:6368 --role device   (the device must connect here)\n  \
ferrocom conform --target tcp://127.0.0.1:1883 --role broker --name mosquitto\n  \
ferrocom conform --target tcp://0.0.0.0:1883 --role client   (the MQTT client must connect here)\n  \
ferrocom conform --target tls://192.168.1.10:6369 --role server --ca ca.pem --user gina --password pw\n  \
ferrocom conform --target tls://0.0.0.0:6369 --role device --cert chain.pem --key key.pem\n  \
ferrocom conform --target tls://sb.example.com:6362 --role switchbox --ca ca.pem --user plant --password pw\n    \
(the suite publishes --network as a service with that account, and connects clients to it)\n\n\
Exit code 0 when every failure is listed in the expected-failures file and no listed case passes."
)]
pub struct ConformArgs {
    /// The implementation under test: tcp://HOST:PORT or tls://HOST:PORT (a server,
    /// broker or switchbox; a switchbox only tls://), or for --role device or client the
    /// address the suite listens on for it.
    #[arg(long, value_name = "URL", requires = "role")]
    pub target: Option<String>,

    /// Role of the target: server, device, broker, client or switchbox.
    #[arg(long, value_name = "ROLE", requires = "target")]
    pub role: Option<String>,

    /// Use TLS (implied by a tls:// target). Against a server, broker or switchbox give
    /// --ca (or --insecure); for --role device or client give --cert and --key.
    #[arg(long)]
    pub tls: bool,

    /// CA certificate(s), PEM, that the target's certificate must chain to.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Accept any certificate from the target (no --ca): tests the protocol, not the
    /// target's identity.
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,

    /// Name checked against the target's certificate (default: the host of --target).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,

    /// Certificate chain, PEM, the suite presents when it listens (--role device or
    /// client).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// Private key, PEM, for --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// An account of the IOCOM server under test, for the TLS authorization cases
    /// (IOCOM-9.4-4): its user (device name); or the service account on the switchbox
    /// under test that may publish --network (without one the suite registers as the C
    /// service does: user srv, empty password, and SWB-17-13 is unsupported) ...
    #[arg(long, value_name = "NAME", requires = "password")]
    pub user: Option<String>,

    /// ... and its password.
    #[arg(long, value_name = "PASSWORD", requires = "user")]
    pub password: Option<String>,

    /// Expected-failures file (default: conformance/expected/<name>.toml).
    #[arg(long, value_name = "FILE")]
    pub expected: Option<PathBuf>,

    /// Where to write report.json, junit.xml and report.html.
    #[arg(long, value_name = "DIR", default_value = "target/conformance")]
    pub report_dir: PathBuf,

    /// Name of the target in the reports (default: derived from the address).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// IO network name the suite uses (against a switchbox: the network it publishes).
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
    if let (Some(u), Some(p)) = (&args.user, &args.password) {
        options.settings.account = Some((u.clone(), p.clone()));
    }

    let (Some(target), Some(role)) = (&args.target, &args.role) else {
        let reports = rt.block_on(run_main_job(&args.report_dir, &options));
        return exit(&reports);
    };
    let Some(role) = Role::parse(role) else {
        eprintln!(
            "ferrocom conform: unknown role {role:?} (server, device, broker, switchbox, client)"
        );
        return ExitCode::from(BAD_INPUT);
    };
    let (address, tls_url) = match target.split_once("://") {
        Some(("tcp", rest)) => (rest, false),
        Some(("tls", rest)) => (rest, true),
        Some((scheme, _)) => {
            eprintln!("ferrocom conform: unknown scheme {scheme}:// (tcp or tls)");
            return ExitCode::from(BAD_INPUT);
        }
        None => (target.as_str(), false),
    };
    let address = address.trim_end_matches('/').to_string();
    if role == Role::Switchbox && !(args.tls || tls_url) {
        eprintln!(
            "ferrocom conform: a switchbox speaks TLS only: give a tls:// target (with --ca or --insecure)"
        );
        return ExitCode::from(BAD_INPUT);
    }
    let tls = if args.tls || tls_url {
        match tls_provider(&args, role) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("ferrocom conform: TLS: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        }
    } else {
        None
    };
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
        tls,
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

/// The suite's TLS end: server side (with --cert/--key) when the device connects to the
/// suite, client side (checking the target against --ca, or --insecure) otherwise.
fn tls_provider(args: &ConformArgs, role: Role) -> Result<Arc<dyn TlsProvider>, String> {
    let p = if role.connects_to_suite() {
        let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
            return Err("--role device or client over TLS needs --cert FILE and --key FILE".into());
        };
        RustlsProvider::server_from_files(cert, key)
    } else {
        RustlsProvider::client_from_files(
            args.ca.as_deref(),
            args.insecure,
            args.server_name.clone(),
        )
    };
    p.map(|p| Arc::new(p) as Arc<dyn TlsProvider>)
        .map_err(|e| e.to_string())
}

fn exit(reports: &[Report]) -> ExitCode {
    if reports.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
