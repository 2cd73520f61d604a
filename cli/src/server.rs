//! `ferrocom server`: an IOCOM server on TCP, TLS and serial end points, from a config
//! file and flags; `ferrocom server accounts` manages its accounts database.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use ferrocom_runtime::net::tls::{load_certs, load_key};
use ferrocom_runtime::server::store::{Account, Store};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent, ServerHandle};
use ferrocom_web::{Web, WebConfig};
use serde::Deserialize;

use crate::connect::init_logging;

/// Exit code for unusable input (a bad config file or flag).
const BAD_INPUT: u8 = 2;

/// Arguments of `ferrocom server`.
#[derive(Debug, Args)]
#[command(
    about = "Run an IOCOM server (TCP 6368, TLS 6369, serial ports) with accounts in SQLite",
    long_about = "Runs an IOCOM server: devices connect over TCP, TLS or serial lines, are numbered \
automatically (numbers survive restarts), authenticate against the accounts over TLS, and publish their \
signal maps. The server prints one line per device event on standard output (and signal changes with \
--log-signals); logs go to standard error (RUST_LOG=debug for more). Ctrl-C stops it.\n\n\
With --http ADDR it also serves the signal browser, a web page at http://ADDR/: the devices and \
their live signals (values, state colours, recent history), and, after logging in with one of the \
accounts below, writes to downward signals. Scripts use its JSON API under /api (web/API.md). It \
speaks plain HTTP: bind it to 127.0.0.1 or put a TLS proxy in front.\n\n\
Settings come from --config (TOML) and flags; a flag wins over the file. Without any end point \
option it listens on TCP 0.0.0.0:6368, and also on TLS 0.0.0.0:6369 when --cert and --key are given.\n\n\
Config file (every key optional; paths relative to the file):\n\n  \
name = \"ferrocom\"          # the server's device name\n  \
number = 1\n  \
network = \"cafenet\"        # \"*\" adopts the devices' network\n  \
database = \"ferrocom.db\"\n  \
tcp = [\"0.0.0.0:6368\"]\n  \
log_signals = false\n  \
http = \"127.0.0.1:8080\"    # the signal browser (web page and /api); off without it\n  \
[tls]\n  \
listen = \"0.0.0.0:6369\"\n  \
cert = \"certs/server.pem\"\n  \
key = \"certs/server.key\"\n  \
[[serial]]\n  \
port = \"/dev/ttyUSB0\"\n  \
baud = 115200",
    after_help = "Examples:\n  ferrocom server --network cafenet\n  \
ferrocom cert --out certs && ferrocom server --cert certs/server.pem --key certs/server.key\n  \
ferrocom server accounts add gina --password secret --network cafenet\n  \
ferrocom server --config /etc/ferrocom/server.toml --serial /dev/ttyUSB0@115200\n  \
ferrocom server --http 127.0.0.1:8080   # then open http://127.0.0.1:8080/",
    args_conflicts_with_subcommands = true
)]
pub struct ServerArgs {
    #[command(subcommand)]
    sub: Option<ServerSub>,

    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum ServerSub {
    /// Manage the accounts devices authenticate with over TLS.
    Accounts(AccountsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// TOML configuration file (see above).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// IO network name ("*" adopts each device's). Default: cafenet.
    #[arg(long, value_name = "NAME")]
    network: Option<String>,

    /// The server's own device name. Default: ferrocom.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// The server's device number. Default: 1.
    #[arg(long, value_name = "N")]
    number: Option<u32>,

    /// SQLite database with accounts and device numbers (created if missing). Default:
    /// ferrocom.db.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,

    /// Listen on plain TCP at ADDR (repeatable; replaces the config file's list).
    #[arg(long, value_name = "ADDR")]
    tcp: Vec<SocketAddr>,

    /// Do not listen on plain TCP.
    #[arg(long, conflicts_with = "tcp")]
    no_tcp: bool,

    /// Listen on TLS at ADDR (needs --cert and --key). Default with a certificate:
    /// 0.0.0.0:6369.
    #[arg(long, value_name = "ADDR")]
    tls: Option<SocketAddr>,

    /// Server certificate chain, PEM (e.g. server.pem of `ferrocom cert`).
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,

    /// The certificate's private key, PEM.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,

    /// Listen on a serial port, PATH[@BAUD] (repeatable; default speed 115200).
    #[arg(long, value_name = "PATH[@BAUD]")]
    serial: Vec<String>,

    /// Print every signal change on standard output.
    #[arg(long)]
    log_signals: bool,

    /// Serve the signal browser (web page and JSON API under /api) on ADDR, e.g.
    /// 127.0.0.1:8080. Plain HTTP: keep it on loopback or behind a TLS proxy.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,

    /// Ignore unknown system frames as the C library does, instead of dropping the
    /// connection.
    #[arg(long)]
    lenient: bool,
}

#[derive(Debug, Args)]
struct AccountsArgs {
    /// SQLite database (created if missing).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "ferrocom.db",
        global = true
    )]
    db: PathBuf,

    #[command(subcommand)]
    action: AccountAction,
}

#[derive(Debug, Subcommand)]
enum AccountAction {
    /// Add or replace an account.
    Add {
        /// Device name with its number (gina1), without one for automatically numbered
        /// devices (gina), or a pattern with * and ? (gina*).
        user: String,
        /// The password ("*" accepts any). Prefer --password-stdin: a command line can
        /// be seen by other users.
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// IO network the account may join (repeatable; default: any, "*").
        #[arg(long = "network", value_name = "NAME")]
        networks: Vec<String>,
    },
    /// List the accounts (password hashes are not shown).
    List,
    /// Remove an account.
    Remove {
        /// The account's user pattern, exactly as listed.
        user: String,
    },
}

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    name: Option<String>,
    number: Option<u32>,
    network: Option<String>,
    database: Option<PathBuf>,
    tcp: Option<Vec<SocketAddr>>,
    tls: Option<FileTls>,
    #[serde(default)]
    serial: Vec<FileSerial>,
    log_signals: Option<bool>,
    lenient: Option<bool>,
    http: Option<SocketAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    listen: Option<SocketAddr>,
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSerial {
    port: String,
    baud: Option<u32>,
}

/// Everything needed to start, after merging file and flags.
pub(crate) struct Plan {
    pub(crate) config: ServerConfig,
    log_signals: bool,
    http: Option<SocketAddr>,
}

fn load_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn serial_spec(s: &str) -> Result<(String, u32), String> {
    match s.rsplit_once('@') {
        Some((p, b)) => Ok((
            p.to_string(),
            b.parse()
                .map_err(|_| format!("bad serial speed {b:?} in --serial {s}"))?,
        )),
        None => Ok((s.to_string(), 115_200)),
    }
}

pub(crate) fn plan(args: RunArgs) -> Result<Plan, String> {
    let (file, base) = match &args.config {
        Some(p) => (
            load_file(p)?,
            p.parent().map(Path::to_path_buf).unwrap_or_default(),
        ),
        None => (FileConfig::default(), PathBuf::new()),
    };
    let rel = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
    let network = args
        .network
        .or(file.network)
        .unwrap_or_else(|| "cafenet".into());
    let db = args
        .db
        .or_else(|| file.database.map(rel))
        .unwrap_or_else(|| "ferrocom.db".into());
    let mut cfg = ServerConfig::new(&network, db);
    if let Some(n) = args.name.or(file.name) {
        cfg.name = n;
    }
    if let Some(n) = args.number.or(file.number) {
        cfg.number = n;
    }
    cfg.reject_unknown_system_frames = !(args.lenient || file.lenient.unwrap_or(false));

    let tcp = if args.no_tcp {
        Vec::new()
    } else if !args.tcp.is_empty() {
        args.tcp
    } else {
        file.tcp
            .unwrap_or_else(|| vec![SocketAddr::from(([0, 0, 0, 0], 6368))])
    };
    cfg.endpoints.extend(tcp.into_iter().map(Endpoint::Tcp));

    let tls = match (args.cert, args.key, file.tls) {
        (Some(c), Some(k), f) => Some((
            args.tls
                .or(f.and_then(|t| t.listen))
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 6369))),
            c,
            k,
        )),
        (_, _, Some(f)) => Some((
            args.tls
                .or(f.listen)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 6369))),
            rel(f.cert),
            rel(f.key),
        )),
        _ if args.tls.is_some() => {
            return Err("--tls needs --cert and --key (see `ferrocom cert`)".into());
        }
        _ => None,
    };
    if let Some((addr, cert, key)) = tls {
        let cert_chain = load_certs(&cert).map_err(|e| format!("{}: {e}", cert.display()))?;
        let key = load_key(&key).map_err(|e| format!("{}: {e}", key.display()))?;
        cfg.endpoints.push(Endpoint::Tls {
            addr,
            cert_chain,
            key,
        });
    }

    for s in &args.serial {
        let (path, baud) = serial_spec(s)?;
        cfg.endpoints.push(Endpoint::Serial { path, baud });
    }
    if args.serial.is_empty() {
        for s in file.serial {
            cfg.endpoints.push(Endpoint::Serial {
                path: s.port,
                baud: s.baud.unwrap_or(115_200),
            });
        }
    }
    if cfg.endpoints.is_empty() {
        return Err("no end point to listen on (--no-tcp without --tls or --serial)".into());
    }
    Ok(Plan {
        config: cfg,
        log_signals: args.log_signals || file.log_signals.unwrap_or(false),
        http: args.http.or(file.http),
    })
}

/// Runs `ferrocom server`.
pub fn run(args: ServerArgs) -> ExitCode {
    if let Some(ServerSub::Accounts(a)) = args.sub {
        return accounts(a);
    }
    init_logging("info");
    let plan = match plan(args.run) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    crate::connect::block_on(serve(plan))
}

/// Starts the IOCOM server of a command (`server`, `bridge`, `iotellect agent`); a
/// failure is printed and becomes the command's exit code.
pub(crate) async fn start_server(config: ServerConfig) -> Result<Arc<ServerHandle>, ExitCode> {
    match Server::start(config).await {
        Ok(s) => Ok(Arc::new(s)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

async fn serve(plan: Plan) -> ExitCode {
    let db = plan.config.database.display().to_string();
    let network = plan.config.network.clone();
    let serial: Vec<String> = plan
        .config
        .endpoints
        .iter()
        .filter_map(|e| match e {
            Endpoint::Serial { path, baud } => Some(format!("{path}@{baud}")),
            _ => None,
        })
        .collect();
    let server = match start_server(plan.config).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut events = server.subscribe();
    let web = match plan.http {
        Some(addr) => match Web::start(server.clone(), WebConfig::new(addr)).await {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("error: --http {addr}: {e}");
                stop_server(server).await;
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    println!("ferrocom server: network {network}, database {db}");
    for a in server.local_addrs() {
        println!("listening on {a}");
    }
    for s in serial {
        println!("listening on serial {s}");
    }
    if let Some(w) = &web {
        println!("signal browser on http://{}/", w.local_addr());
    }
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(e) => print_event(&server, &e, plan.log_signals),
                None => break,
            },
            _ = stop_signal() => {
                println!("stopping");
                break;
            }
        }
    }
    if let Some(w) = web {
        w.shutdown().await;
    }
    stop_server(server).await;
    ExitCode::SUCCESS
}

/// Shuts the server down once the web part has let go of it.
async fn stop_server(server: Arc<ServerHandle>) {
    match Arc::try_unwrap(server) {
        Ok(s) => s.shutdown().await,
        // Cannot happen after `WebHandle::shutdown`; the process ends right after anyway.
        Err(_) => tracing::warn!("server still shared at exit; not waiting for its tasks"),
    }
}

/// Ctrl-C, or SIGTERM on Unix (what service managers send).
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_event(server: &ServerHandle, e: &ServerEvent, log_signals: bool) {
    match e {
        ServerEvent::DeviceConnected { device } => println!("connected {device}"),
        ServerEvent::SignalMapLearned { device } => {
            let n = server
                .signal_map(device)
                .map_or(0, |m| m.blocks.iter().map(|b| b.signals().count()).sum());
            println!("map {device}: {n} signals");
        }
        ServerEvent::DeviceDisconnected { device, reason } => {
            println!("disconnected {device}: {reason}");
        }
        ServerEvent::SignalChanged {
            device,
            block,
            signal,
            value,
            state,
        } if log_signals => {
            println!(
                "signal {signal}.{block}.{device} = {value} (state {:#04x})",
                state.bits()
            );
        }
        _ => {}
    }
}

fn accounts(args: AccountsArgs) -> ExitCode {
    let store = match Store::open(&args.db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", args.db.display());
            return ExitCode::FAILURE;
        }
    };
    let result = match args.action {
        AccountAction::Add {
            user,
            password,
            password_stdin,
            networks,
        } => {
            let password = match (password, password_stdin) {
                (Some(p), _) => p,
                (None, true) => {
                    let mut line = String::new();
                    if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
                        eprintln!("error: cannot read the password: {e}");
                        return ExitCode::FAILURE;
                    }
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
                (None, false) => {
                    eprintln!("error: give --password PASSWORD or --password-stdin");
                    return ExitCode::from(BAD_INPUT);
                }
            };
            let nets: Vec<&str> = if networks.is_empty() {
                vec!["*"]
            } else {
                networks.iter().map(String::as_str).collect()
            };
            store
                .put_account(&Account::new(&user, &password, &nets))
                .map(|()| println!("account {user} saved (networks: {})", nets.join(", ")))
        }
        AccountAction::List => store.accounts().map(|list| {
            if list.is_empty() {
                println!("no accounts");
            }
            for a in list {
                println!(
                    "{}\tnetworks: {}\tpassword: {}",
                    a.user,
                    a.networks.join(","),
                    if a.password_hash == "*" { "any" } else { "set" }
                );
            }
        }),
        AccountAction::Remove { user } => match store.remove_account(&user) {
            Ok(true) => {
                println!("account {user} removed");
                Ok(())
            }
            Ok(false) => {
                eprintln!("error: no account {user}");
                return ExitCode::FAILURE;
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {e}", args.db.display());
            ExitCode::FAILURE
        }
    }
}
