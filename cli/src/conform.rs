//! `ferrocom conform`: the conformance suite. Without arguments it starts ferrocom's own
//! server, device, MQTT client, switchbox and Iotellect agent and server in-process on
//! loopback, runs every case against them and writes the reports under
//! `target/conformance/`; with `--target` and `--role` it tests another implementation
//! (an IOCOM server or device, an MQTT broker or client, a switchbox, an Iotellect agent
//! or server), over TCP or TLS (a switchbox: TLS only).

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
    about = "Run the conformance suite (no arguments: against ferrocom's own server, device, MQTT client, switchbox and Iotellect agent and server on loopback)",
    after_help = "Examples:\n  ferrocom conform\n  \
ferrocom conform --target tcp://192.168.1.10:6368 --role server\n  \
ferrocom conform --target tcp://0.0.0.0:6368 --role device   (the device must connect here)\n  \
ferrocom conform --target tcp://127.0.0.1:1883 --role broker --name mosquitto\n  \
ferrocom conform --target tcp://0.0.0.0:1883 --role client   (the MQTT client must connect here)\n  \
ferrocom conform --target tls://192.168.1.10:6369 --role server --ca ca.pem --user gina --password pw\n  \
ferrocom conform --target tls://0.0.0.0:6369 --role device --cert chain.pem --key key.pem\n  \
ferrocom conform --target tls://sb.example.com:6362 --role switchbox --ca ca.pem --user plant --password pw\n    \
(the suite publishes --network as a service with that account, and connects clients to it)\n  \
ferrocom conform --target tcp://0.0.0.0 --role icp-agent --icp-password pw --icp-event dev1:alarm\n  \
ferrocom conform --target tcp://iotellect.example --role icp-server --icp-password pw\n\n\
Iotellect roles: icp-agent (the agent connects to the suite, which plays the server) and\n\
icp-server (the suite connects as an agent); without a port the target uses 6480, or 6481\n\
with TLS.\n\n\
Exit code 0 when every failure is listed in the expected-failures file and no listed case passes."
)]
pub struct ConformArgs {
    /// The implementation under test: tcp://HOST:PORT or tls://HOST:PORT (a server,
    /// broker, switchbox or Iotellect server; a switchbox only tls://), or for --role
    /// device, client or icp-agent the address the suite listens on for it. The
    /// Iotellect roles default to port 6480 (6481 with TLS).
    #[arg(long, value_name = "URL", requires = "role")]
    pub target: Option<String>,

    /// Role of the target: server, device, broker, client, switchbox, icp-agent or
    /// icp-server.
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

    /// Iotellect: the password of the agent under test (its login answer is checked), or
    /// the one the server under test expects of agents (the suite's agent answers its
    /// login challenge with it). Without it the login cases are unsupported, and a
    /// server that checks login drops the suite's agent, failing other cases.
    #[arg(long, value_name = "PASSWORD")]
    pub icp_password: Option<String>,

    /// Iotellect agent: an event it offers and fires every few seconds at most, as
    /// CONTEXT:EVENT (CONTEXT empty or left out: the root context), for the listener
    /// case. Without it that case is unsupported.
    #[arg(long, value_name = "[CONTEXT:]EVENT")]
    pub icp_event: Option<String>,

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
    options.settings.icp_password = args.icp_password.clone();
    options.settings.icp_event = args.icp_event.as_deref().map(|e| match e.rsplit_once(':') {
        Some((context, event)) => (context.to_string(), event.to_string()),
        None => (String::new(), e.to_string()),
    });

    let (Some(target), Some(role)) = (&args.target, &args.role) else {
        let reports = rt.block_on(run_main_job(&args.report_dir, &options));
        return exit(&reports);
    };
    let Some(role) = Role::parse(role) else {
        eprintln!(
            "ferrocom conform: unknown role {role:?} (server, device, broker, switchbox, client, icp-agent, icp-server)"
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
    let mut address = address.trim_end_matches('/').to_string();
    let use_tls = args.tls || tls_url;
    if role == Role::Switchbox && !use_tls {
        eprintln!(
            "ferrocom conform: a switchbox speaks TLS only: give a tls:// target (with --ca or --insecure)"
        );
        return ExitCode::from(BAD_INPUT);
    }
    if let Some(port) = role.default_port(use_tls) {
        address = with_default_port(&address, port);
    }
    let tls = if use_tls {
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
            return Err(format!(
                "--role {role} over TLS needs --cert FILE and --key FILE"
            ));
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

/// `address` with `port` added when it names no port: `host` → `host:port`,
/// `[v6]` and a bare `v6` → `[v6]:port`; `host:p` and `[v6]:p` stay as they are.
pub(crate) fn with_default_port(address: &str, port: u16) -> String {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = address.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, tail)) if tail.strip_prefix(':').is_some_and(digits) => address.into(),
            Some((v6, _)) => format!("[{v6}]:{port}"),
            None => address.into(),
        };
    }
    match address.matches(':').count() {
        0 => format!("{address}:{port}"),
        1 => address.into(),
        _ => format!("[{address}]:{port}"),
    }
}

fn exit(reports: &[Report]) -> ExitCode {
    if reports.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
