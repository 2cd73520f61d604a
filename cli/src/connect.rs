//! Where a connecting command (`device`, `spy`) goes: `tcp://HOST:PORT`,
//! `tls://HOST:PORT` or `serial:PATH[@BAUD]`, with the TLS trust options, and logging
//! set-up shared by the long-running commands.

use std::path::PathBuf;

use clap::Args;
use ferrocom_runtime::device::Connect;
use ferrocom_runtime::net::tls::{Trust, load_certs};

/// IOCOM's default TCP port.
const TCP_PORT: u16 = 6368;
/// IOCOM's default TLS port.
const TLS_PORT: u16 = 6369;
/// IOCOM's default serial speed.
const BAUD: u32 = 115_200;

/// Connection options of a connecting command.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The server: tcp://HOST[:PORT] (default port 6368), tls://HOST[:PORT] (6369), or
    /// serial:PATH[@BAUD] (115200). A bare HOST:PORT means TCP.
    #[arg(long, value_name = "ADDRESS", default_value = "tcp://127.0.0.1:6368")]
    pub connect: String,

    #[command(flatten)]
    pub tls: TlsArgs,
}

impl ConnectArgs {
    /// The runtime's [`Connect`], or a message saying what is wrong.
    pub fn to_connect(&self) -> Result<Connect, String> {
        self.tls.to_connect(&self.connect)
    }
}

/// TLS trust options for a tls:// address.
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// TLS: trust the certificates in this PEM file (e.g. the ca.pem of `ferrocom cert`).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// TLS: the name to check in the server certificate (default: the host of the
    /// address).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,

    /// TLS: accept any server certificate. For development only: anyone can then
    /// pretend to be the server.
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
}

impl TlsArgs {
    /// The runtime's [`Connect`] for `address`, or a message saying what is wrong.
    pub fn to_connect(&self, address: &str) -> Result<Connect, String> {
        parse(
            address,
            self.ca.as_ref(),
            self.server_name.as_deref(),
            self.insecure,
        )
    }
}

fn with_port(hostport: &str, default: u16) -> (String, String) {
    // `[::1]:6368`, `host:6368`, `host` (an IPv6 address needs brackets with a port).
    let host = if let Some(rest) = hostport.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest).to_string()
    } else {
        hostport.split(':').next().unwrap_or(hostport).to_string()
    };
    let has_port = match hostport.rfind(']') {
        Some(i) => hostport.get(i + 1..).is_some_and(|r| r.starts_with(':')),
        None => hostport.contains(':'),
    };
    let addr = if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:{default}")
    };
    (addr, host)
}

fn parse(
    address: &str,
    ca: Option<&PathBuf>,
    server_name: Option<&str>,
    insecure: bool,
) -> Result<Connect, String> {
    let tls_only = || {
        if ca.is_some() || insecure || server_name.is_some() {
            Err(format!(
                "--ca, --server-name and --insecure are for tls:// addresses, not {address}"
            ))
        } else {
            Ok(())
        }
    };
    if let Some(rest) = address.strip_prefix("tls://") {
        if rest.is_empty() {
            return Err("tls:// needs a host".into());
        }
        let (addr, host) = with_port(rest, TLS_PORT);
        let trust = match (ca, insecure) {
            (Some(path), _) => {
                Trust::Roots(load_certs(path).map_err(|e| format!("--ca {}: {e}", path.display()))?)
            }
            (None, true) => Trust::InsecureAnyCertificate,
            (None, false) => {
                return Err(
                    "a tls:// address needs --ca FILE (the CA that signed the server certificate) \
                     or, for development only, --insecure"
                        .into(),
                );
            }
        };
        return Ok(Connect::Tls {
            addr,
            server_name: server_name.map_or(host, str::to_string),
            trust,
        });
    }
    if let Some(rest) = address.strip_prefix("serial:") {
        tls_only()?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, baud) = match rest.rsplit_once('@') {
            Some((p, b)) => (
                p,
                b.parse::<u32>()
                    .map_err(|_| format!("bad serial speed {b:?} in {address}"))?,
            ),
            None => (rest, BAUD),
        };
        if path.is_empty() {
            return Err(format!("no serial port path in {address}"));
        }
        return Ok(Connect::Serial {
            path: path.to_string(),
            baud,
        });
    }
    let rest = address.strip_prefix("tcp://").unwrap_or(address);
    if rest.is_empty() || rest.contains("://") {
        return Err(format!(
            "cannot read address {address:?}: use tcp://HOST:PORT, tls://HOST:PORT or serial:PATH@BAUD"
        ));
    }
    tls_only()?;
    Ok(Connect::Tcp(with_port(rest, TCP_PORT).0))
}

/// Runs a command's async body on a new tokio runtime; a runtime that cannot start is
/// reported and exits with failure.
pub fn block_on(
    body: impl std::future::Future<Output = std::process::ExitCode>,
) -> std::process::ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(body),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to standard error; `RUST_LOG` overrides `default` (e.g. `info`).
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(a: &str) -> Result<Connect, String> {
        parse(a, None, None, false)
    }

    #[test]
    fn addresses() {
        assert!(matches!(p("tcp://10.0.0.5"), Ok(Connect::Tcp(a)) if a == "10.0.0.5:6368"));
        assert!(matches!(p("localhost:7000"), Ok(Connect::Tcp(a)) if a == "localhost:7000"));
        assert!(matches!(p("tcp://[::1]:7"), Ok(Connect::Tcp(a)) if a == "[::1]:7"));
        assert!(matches!(
            p("serial:/dev/ttyUSB0@9600"),
            Ok(Connect::Serial { path, baud: 9600 }) if path == "/dev/ttyUSB0"
        ));
        assert!(matches!(
            p("serial:///dev/ttyS1"),
            Ok(Connect::Serial { path, baud: 115_200 }) if path == "/dev/ttyS1"
        ));
        assert!(matches!(
            parse("tls://example.org", None, None, true),
            Ok(Connect::Tls { addr, server_name, trust: Trust::InsecureAnyCertificate })
                if addr == "example.org:6369" && server_name == "example.org"
        ));
        assert!(p("tls://example.org").unwrap_err().contains("--ca"));
        assert!(p("http://x").unwrap_err().contains("cannot read address"));
        assert!(
            p("serial:/dev/x@fast")
                .unwrap_err()
                .contains("serial speed")
        );
        assert!(
            parse("tcp://h", None, None, true)
                .unwrap_err()
                .contains("for tls://")
        );
    }
}
