//! `ferrocom bridge`: an IOCOM server whose signals are bridged to an MQTT broker (topic
//! scheme in runtime/MQTT.md and `ferrocom_runtime::bridge`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use ferrocom_runtime::bridge::{Bridge, BridgeConfig};
use ferrocom_runtime::mqtt::{Options, QoS};
use ferrocom_runtime::mqtt_client::{Broker, ClientConfig};
use ferrocom_runtime::net::tls::{Trust, load_certs};

use crate::connect::init_logging;
use crate::server::{RunArgs, plan, start_server, stop_signal};

/// Exit code for unusable input (a bad flag or file).
const BAD_INPUT: u8 = 2;

/// Arguments of `ferrocom bridge`.
#[derive(Debug, Args)]
#[command(
    about = "Run an IOCOM server and bridge its signals to an MQTT 3.1.1 broker",
    long_about = "Runs an IOCOM server (the options of `ferrocom server`) and publishes every \
signal change of its devices to an MQTT broker, retained, as JSON \
{\"value\": v, \"state\": n, \"connected\": b, \"ts\": unix_ms} on \
<prefix>/<network>/<device>/<block>/<signal> (device = name and number, e.g. gina1). \
Messages on .../<signal>/set (a JSON value, {\"value\": v}, or plain text) write downward \
signals; failures are logged and published on <prefix>/bridge/error. Device status goes to \
the retained <prefix>/<network>/<device>/status (online/offline), the bridge's own to \
<prefix>/bridge/status (its will says offline).",
    after_help = "Examples:\n  ferrocom bridge --broker tcp://127.0.0.1:1883 --network cafenet\n  \
ferrocom bridge --broker tls://broker.example.com:8883 --ca ca.pem --username gw --password secret\n  \
ferrocom bridge --broker tls://xxxx.iot.eu-west-1.amazonaws.com:443 --ca AmazonRootCA1.pem --alpn x-amzn-mqtt-ca"
)]
pub struct BridgeArgs {
    /// The MQTT broker: tcp://host[:1883] or tls://host[:8883].
    #[arg(long, value_name = "URL")]
    broker: String,

    /// CA certificates (PEM) that the broker's certificate must chain to.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,

    /// Accept any broker certificate (tests only: the broker is not authenticated).
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,

    /// Name checked against the broker's certificate. Default: the URL's host.
    #[arg(long, value_name = "NAME")]
    broker_name: Option<String>,

    /// ALPN protocol to offer over TLS (repeatable), e.g. x-amzn-mqtt-ca for port 443.
    #[arg(long, value_name = "PROTOCOL")]
    alpn: Vec<String>,

    /// MQTT user name.
    #[arg(long, value_name = "NAME")]
    username: Option<String>,

    /// MQTT password (needs --username).
    #[arg(long, value_name = "SECRET", requires = "username")]
    password: Option<String>,

    /// MQTT client id. Default: ferrocom-bridge.
    #[arg(long, value_name = "ID", default_value = "ferrocom-bridge")]
    client_id: String,

    /// Topic prefix.
    #[arg(long, value_name = "PREFIX", default_value = "ferrocom")]
    prefix: String,

    /// QoS of published signal and status messages (0, 1 or 2).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,

    /// MQTT keep-alive in seconds (0: off).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    keep_alive: u16,

    #[command(flatten)]
    server: RunArgs,
}

/// `host[:port]` of a broker URL with `default_port` filled in, and the host alone.
pub(crate) fn host_port(rest: &str, default_port: u16) -> Result<(String, String), String> {
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Err("broker URL without a host".into());
    }
    // [v6]:port, host:port, or host alone.
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, p) = v6
            .split_once(']')
            .ok_or_else(|| format!("bad IPv6 address in {rest:?}"))?;
        (h.to_string(), p.strip_prefix(':').map(str::to_string))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (rest.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("bad port {p:?} in broker URL"))?,
        None => default_port,
    };
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok((addr, host))
}

fn broker(a: &BridgeArgs) -> Result<Broker, String> {
    if let Some(rest) = a
        .broker
        .strip_prefix("tcp://")
        .or(a.broker.strip_prefix("mqtt://"))
    {
        if a.ca.is_some() || a.insecure || !a.alpn.is_empty() {
            return Err("--ca, --insecure and --alpn need a tls:// broker".into());
        }
        return Ok(Broker::Tcp(host_port(rest, 1883)?.0));
    }
    let rest = a
        .broker
        .strip_prefix("tls://")
        .or(a.broker.strip_prefix("mqtts://"))
        .ok_or_else(|| format!("broker URL {:?} must start with tcp:// or tls://", a.broker))?;
    let (addr, host) = host_port(rest, 8883)?;
    let trust = match (&a.ca, a.insecure) {
        (Some(ca), _) => {
            Trust::Roots(load_certs(ca).map_err(|e| format!("{}: {e}", ca.display()))?)
        }
        (None, true) => Trust::InsecureAnyCertificate,
        (None, false) => {
            return Err("a tls:// broker needs --ca FILE (or --insecure for tests)".into());
        }
    };
    Ok(Broker::Tls {
        addr,
        server_name: a.broker_name.clone().unwrap_or(host),
        trust,
        alpn: a.alpn.iter().map(|p| p.as_bytes().to_vec()).collect(),
    })
}

fn config(a: &BridgeArgs) -> Result<BridgeConfig, String> {
    let mut o = Options::new(&a.client_id);
    o.keep_alive_secs = a.keep_alive;
    o.username.clone_from(&a.username);
    o.password = a.password.as_ref().map(|p| p.as_bytes().to_vec());
    let mut c = BridgeConfig::new(ClientConfig::new(broker(a)?, o));
    c.prefix.clone_from(&a.prefix);
    c.qos = QoS::from_u8(a.qos).ok_or("--qos must be 0, 1 or 2")?;
    if c.prefix.is_empty() || c.prefix.contains(['+', '#']) {
        return Err(format!(
            "bad --prefix {:?}: no wildcards, not empty",
            c.prefix
        ));
    }
    Ok(c)
}

/// Runs `ferrocom bridge`.
pub fn run(args: BridgeArgs) -> ExitCode {
    init_logging("info");
    let (bcfg, plan) = match config(&args).and_then(|c| Ok((c, plan(args.server)?))) {
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
        println!("ferrocom bridge: network {network}, prefix {}", bcfg.prefix);
        for a in server.local_addrs() {
            println!("listening on {a}");
        }
        println!("broker {}", bcfg.mqtt.broker.label());
        let bridge = match Bridge::start(server.clone(), bcfg) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        stop_signal().await;
        println!("stopping");
        bridge.shutdown().await;
        // The bridge task held the other reference; it is gone once shutdown returns.
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(host_port("h", 1883).unwrap(), ("h:1883".into(), "h".into()));
        assert_eq!(
            host_port("10.0.0.1:1884", 1883).unwrap(),
            ("10.0.0.1:1884".into(), "10.0.0.1".into())
        );
        assert_eq!(
            host_port("[::1]:8883", 1).unwrap(),
            ("[::1]:8883".into(), "::1".into())
        );
        assert!(host_port("h:x", 1).is_err());
        assert!(host_port("", 1).is_err());
    }
}
