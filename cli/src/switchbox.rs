//! `ferrocom switchbox`: runs a switchbox (reference §17), or manages its service
//! accounts with `ferrocom switchbox accounts add|list|remove`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ferrocom_runtime::net::tls::{load_certs, load_key};
use ferrocom_runtime::switchbox::{
    DEFAULT_SWITCHBOX_PORT, ServiceAccount, ServiceStore, Switchbox, SwitchboxConfig,
};

/// Relay remote devices and UIs to IO network services over TLS (the cloud switchbox).
///
/// An IO network service (a ferrocom server in a local network) connects out to the
/// switchbox and publishes its IO network name; devices connect to the switchbox with the
/// normal IOCOM handshake naming that network and are passed through to the service,
/// which authenticates them. Services authenticate with an account (`accounts add`).
/// TLS only: plain TCP connections are refused.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SwitchboxArgs {
    #[command(subcommand)]
    command: Option<SwitchboxCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (TLS).
    #[arg(long, value_name = "ADDR", default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_SWITCHBOX_PORT)))]
    listen: SocketAddr,
    /// Certificate chain of the switchbox, PEM (its certificate first).
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
    /// Private key of that certificate, PEM.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// SQLite database of service accounts (created if missing).
    #[arg(long, value_name = "FILE", default_value = "switchbox.db")]
    db: PathBuf,
    /// Most clients at once per IO network.
    #[arg(long, value_name = "N", default_value_t = u16::MAX)]
    max_clients: u16,
}

#[derive(Debug, Subcommand)]
enum SwitchboxCommand {
    /// Manage the accounts services publish their IO networks with.
    #[command(subcommand)]
    Accounts(AccountsCommand),
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// Add (or replace) a service account.
    Add {
        /// Account name (the service's `user`).
        user: String,
        /// Password (stored hashed); `*` accepts any password, e.g. for a C service,
        /// which sends none.
        #[arg(long)]
        password: String,
        /// IO network names the account may publish, comma-separated; `*` and `?` are
        /// wildcards.
        #[arg(long, value_delimiter = ',', required = true)]
        networks: Vec<String>,
        /// Accounts database.
        #[arg(long, value_name = "FILE", default_value = "switchbox.db")]
        db: PathBuf,
    },
    /// List the service accounts.
    List {
        /// Accounts database.
        #[arg(long, value_name = "FILE", default_value = "switchbox.db")]
        db: PathBuf,
    },
    /// Remove a service account (a service already connected stays until it reconnects).
    Remove {
        /// Account name.
        user: String,
        /// Accounts database.
        #[arg(long, value_name = "FILE", default_value = "switchbox.db")]
        db: PathBuf,
    },
}

/// Runs the subcommand.
pub fn cmd(args: SwitchboxArgs) -> ExitCode {
    let result = match args.command {
        Some(SwitchboxCommand::Accounts(a)) => accounts(a),
        None => serve(args.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrocom switchbox: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open_store(db: &Path) -> Result<ServiceStore, String> {
    ServiceStore::open(db).map_err(|e| format!("{}: {e}", db.display()))
}

fn accounts(cmd: AccountsCommand) -> Result<(), String> {
    match cmd {
        AccountsCommand::Add {
            user,
            password,
            networks,
            db,
        } => {
            if user.is_empty() || user.len() > 25 {
                return Err(format!(
                    "account name {user:?} must be 1 to 25 bytes (the IOCOM user field)"
                ));
            }
            if password.len() > 45 {
                return Err("password longer than 45 bytes (the IOCOM password field)".into());
            }
            if let Some(n) = networks.iter().find(|n| n.is_empty() || n.len() > 23) {
                return Err(format!("IO network {n:?} must be 1 to 23 bytes"));
            }
            let nets: Vec<&str> = networks.iter().map(String::as_str).collect();
            open_store(&db)?
                .put(&ServiceAccount::new(&user, &password, &nets))
                .map_err(|e| e.to_string())?;
            println!("account {user} may publish {}", networks.join(", "));
            Ok(())
        }
        AccountsCommand::List { db } => {
            let list = open_store(&db)?.list().map_err(|e| e.to_string())?;
            if list.is_empty() {
                println!("no service accounts in {}", db.display());
            }
            for a in list {
                let pw = if a.password_hash == "*" {
                    "any password"
                } else {
                    "password set"
                };
                println!("{}\t{}\t{pw}", a.user, a.networks.join(","));
            }
            Ok(())
        }
        AccountsCommand::Remove { user, db } => {
            if open_store(&db)?.remove(&user).map_err(|e| e.to_string())? {
                println!("account {user} removed");
                Ok(())
            } else {
                Err(format!("no account {user} in {}", db.display()))
            }
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
        return Err("--cert and --key are required: the switchbox speaks TLS only".into());
    };
    let chain = load_certs(cert).map_err(|e| e.to_string())?;
    let key = load_key(key).map_err(|e| e.to_string())?;
    let mut cfg = SwitchboxConfig::new(args.listen, chain, key, &args.db);
    cfg.max_clients_per_network = args.max_clients;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "ferrocom_runtime=info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let sb = Switchbox::start(cfg).await.map_err(|e| e.to_string())?;
        let accounts = sb.accounts().map_err(|e| e.to_string())?;
        if accounts.is_empty() {
            eprintln!(
                "ferrocom switchbox: warning: no service accounts in {}; add one with `ferrocom switchbox accounts add`",
                args.db.display()
            );
        }
        eprintln!("ferrocom switchbox: listening on {} (TLS)", sb.local_addr());
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
        sb.shutdown().await;
        Ok(())
    })
}
