//! `ferrocom iotellect agent`: an IOCOM server whose device's signals are served to an
//! Iotellect (AggreGate) server by an agent (mapping in runtime/IOTELLECT.md and
//! `ferrocom_runtime::iotellect_net::SignalAgent`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use ferrocom_runtime::iotellect::{DEFAULT_PORT, DEFAULT_TLS_PORT};
use ferrocom_runtime::iotellect_net::{AgentConfig, AgentNote, ConnectTo, SignalAgent};
use ferrocom_runtime::net::tls::{Trust, load_certs};

use crate::bridge::host_port;
use crate::connect::init_logging;
use crate::server::{RunArgs, plan, start_server, stop_signal};

/// Exit code for unusable input (a bad flag or file).
const BAD_INPUT: u8 = 2;

/// Arguments of `ferrocom iotellect`.
#[derive(Debug, Args)]
#[command(about = "Iotellect (AggreGate) agents for ferrocom devices")]
pub struct IotellectArgs {
    #[command(subcommand)]
    command: IotellectCommand,
}

#[derive(Debug, Subcommand)]
enum IotellectCommand {
    Agent(AgentArgs),
}

/// Arguments of `ferrocom iotellect agent`.
#[derive(Debug, Args)]
#[command(
    about = "Run an IOCOM server and serve one device's signals to an Iotellect server as an agent",
    long_about = "Runs an IOCOM server (the options of `ferrocom server`) and an Iotellect \
agent that connects to an Iotellect (AggreGate) server and serves the signals of the device \
--device: each memory block is a context, each signal a variable of it (one field `value` of \
the signal's type; an array has one record per element) and an event of the same name, sent \
to the server's listeners whenever the signal changes. Writes go to downward signals only. \
The agent answers the server's login challenge with --owner, --agent-name and --password, and \
reconnects with back-off.",
    after_help = "Examples:\n  ferrocom iotellect agent --server 10.0.0.5 --device gina --owner admin --password admin\n  \
ferrocom iotellect agent --server tls://iot.example.com --ca ca.pem --device gina1 --owner plant --password secret --tcp 0.0.0.0:6368"
)]
pub struct AgentArgs {
    /// The Iotellect server: host[:6480], tcp://host[:6480] or tls://host[:6481].
    #[arg(long, value_name = "URL")]
    server: String,

    /// CA certificates (PEM) that the server's certificate must chain to (tls:// only).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,

    /// Accept any server certificate (tests only: the server is not authenticated).
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,

    /// Name checked against the server's certificate. Default: the URL's host.
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,

    /// The device whose signals are served: gina, gina1 or gina1.cafenet.
    #[arg(long, value_name = "NAME")]
    device: String,

    /// The agent's name reported to the server. Default: the device name.
    #[arg(long, value_name = "NAME")]
    agent_name: Option<String>,

    /// The user the agent belongs to on the Iotellect server.
    #[arg(long, value_name = "USER", default_value = "admin")]
    owner: String,

    /// The password the login answer proves. Prefer --password-stdin.
    #[arg(long, value_name = "SECRET", conflicts_with = "password_stdin")]
    password: Option<String>,

    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,

    #[command(flatten)]
    iocom: RunArgs,
}

fn connect_to(a: &AgentArgs) -> Result<ConnectTo, String> {
    let tcp = a
        .server
        .strip_prefix("tcp://")
        .or_else(|| (!a.server.contains("://")).then_some(a.server.as_str()));
    if let Some(rest) = tcp {
        if a.ca.is_some() || a.insecure {
            return Err("--ca and --insecure need a tls:// server".into());
        }
        return Ok(ConnectTo::Tcp(host_port(rest, DEFAULT_PORT)?.0));
    }
    let rest = a.server.strip_prefix("tls://").ok_or_else(|| {
        format!(
            "server URL {:?} must be host[:port], tcp://… or tls://…",
            a.server
        )
    })?;
    let (addr, host) = host_port(rest, DEFAULT_TLS_PORT)?;
    let trust = match (&a.ca, a.insecure) {
        (Some(ca), _) => {
            Trust::Roots(load_certs(ca).map_err(|e| format!("{}: {e}", ca.display()))?)
        }
        (None, true) => Trust::InsecureAnyCertificate,
        (None, false) => {
            return Err("a tls:// server needs --ca FILE (or --insecure for tests)".into());
        }
    };
    Ok(ConnectTo::Tls {
        addr,
        server_name: a.server_name.clone().unwrap_or(host),
        trust,
    })
}

fn password(a: &AgentArgs) -> Result<String, String> {
    if a.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    a.password
        .clone()
        .ok_or_else(|| "--password or --password-stdin is required".to_string())
}

/// Runs `ferrocom iotellect ...`.
pub fn run(args: IotellectArgs) -> ExitCode {
    match args.command {
        IotellectCommand::Agent(a) => agent(a),
    }
}

fn agent(args: AgentArgs) -> ExitCode {
    init_logging("info");
    let device = args.device.clone();
    let setup = || -> Result<_, String> {
        let connect = connect_to(&args)?;
        let pw = password(&args)?;
        let name = args
            .agent_name
            .clone()
            .unwrap_or_else(|| args.device.clone());
        let cfg = AgentConfig::new(connect, &name, &args.owner, &pw);
        Ok((cfg, plan(args.iocom)?))
    };
    let (acfg, plan) = match setup() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    crate::connect::block_on(async move {
        let network = plan.config.network.clone();
        let server = match start_server(plan.config).await {
            Ok(s) => s,
            Err(code) => return code,
        };
        println!("ferrocom iotellect agent: network {network}, device {device}");
        for a in server.local_addrs() {
            println!("listening on {a}");
        }
        println!("Iotellect server {}", acfg.connect.label());
        let (agent, mut notes) = match SignalAgent::start(server.clone(), &device, acfg) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let report = tokio::spawn(async move {
            while let Some(n) = notes.recv().await {
                match n {
                    AgentNote::Started {
                        version,
                        compression,
                    } => println!("started: version {version}, compression {compression}"),
                    AgentNote::Disconnected { reason } => println!("disconnected: {reason}"),
                    AgentNote::ListenerAdded(l) => {
                        println!("listener added: {}.{}", l.context, l.event)
                    }
                    AgentNote::ListenerRemoved(l) => {
                        println!("listener removed: {}.{}", l.context, l.event)
                    }
                    _ => {}
                }
            }
        });
        stop_signal().await;
        println!("stopping");
        agent.shutdown().await;
        report.abort();
        // The agent's tasks held the other references; gone once shutdown returns.
        let mut server = server;
        for _ in 0..50 {
            match Arc::try_unwrap(server) {
                Ok(s) => {
                    s.shutdown().await;
                    return ExitCode::SUCCESS;
                }
                Err(s) => server = s,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ExitCode::SUCCESS
    })
}
