//! The connecting end's loop, shared by the device role and the spy: open the transport
//! ([`Connect`]: TCP, TLS or a serial port), run the IOCOM connection over it, and when it
//! ends wait and try again with exponential [`Backoff`].
//!
//! The back-off starts over only after a connection that reached an authenticated
//! session. A server that accepts the socket and then refuses the device (a wrong
//! password, an unknown device) is retried at growing delays like one that cannot be
//! reached, instead of being hammered at the shortest delay.

use std::prelude::rust_2024::*;
use std::time::Duration;

use super::driver::{Host, drive};
use super::tls::{TlsConnector, TlsError, Trust};
use crate::iocom::ConnectionConfig;

/// Where to connect.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Connect {
    /// Plain TCP, `host:port`.
    Tcp(String),
    /// TLS, `host:port`; `server_name` is checked against the certificate.
    Tls {
        /// `host:port`.
        addr: String,
        /// DNS name or IP address in the server certificate.
        server_name: String,
        /// Which certificates to accept.
        trust: Trust,
    },
    /// A serial port.
    Serial {
        /// Device path.
        path: String,
        /// Speed.
        baud: u32,
    },
}

impl Connect {
    /// What log lines call the peer: its address or port path.
    pub fn label(&self) -> &str {
        match self {
            Connect::Tcp(a) | Connect::Tls { addr: a, .. } => a,
            Connect::Serial { path, .. } => path,
        }
    }
}

/// Reconnection delays: `initial`, doubled after every attempt that did not reach an
/// authenticated session, up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 200 ms doubling up to 5 s (the C device waits about 2 s, §7).
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
        }
    }
}

/// How the connecting end sets up each connection.
#[derive(Debug, Clone)]
pub(crate) struct ClientPlan {
    pub connect: Connect,
    pub backoff: Backoff,
    /// Engine settings for a socket (TCP or TLS; `is_tls` is set here).
    pub socket: ConnectionConfig,
    /// Engine settings for a serial port.
    pub serial: ConnectionConfig,
}

/// The TLS connector for `connect`, if it is a TLS connection.
pub(crate) fn tls_connector(connect: &Connect) -> Result<Option<TlsConnector>, TlsError> {
    match connect {
        Connect::Tls { trust, .. } => super::tls::connector(trust).map(Some),
        _ => Ok(None),
    }
}

/// Connects, runs, and reconnects forever (until the task is aborted). `sessions` tells
/// how many authenticated sessions the host has had so far; a connection that did not
/// raise it counts as failed for the back-off.
pub(crate) async fn run<H: Host>(
    host: &H,
    plan: &ClientPlan,
    tls: Option<&TlsConnector>,
    sessions: impl Fn(&H) -> u64,
) {
    let label = plan.connect.label().to_string();
    let mut delay = plan.backoff.initial;
    loop {
        let before = sessions(host);
        match (&plan.connect, tls) {
            (Connect::Tcp(addr), _) => match super::tcp::connect(addr.as_str()).await {
                Ok(s) => {
                    let mut c = plan.socket.clone();
                    c.is_tls = false;
                    let end = drive(host, s, c, &label).await;
                    tracing::debug!(server = %label, "connection ended: {end}");
                }
                Err(e) => tracing::debug!(server = %label, "connect failed: {e}"),
            },
            (
                Connect::Tls {
                    addr, server_name, ..
                },
                Some(connector),
            ) => match super::tcp::connect(addr.as_str()).await {
                Ok(s) => match super::tls::connect(connector, server_name, s).await {
                    Ok(s) => {
                        let mut c = plan.socket.clone();
                        c.is_tls = true;
                        let end = drive(host, s, c, &label).await;
                        tracing::debug!(server = %label, "connection ended: {end}");
                    }
                    Err(e) => tracing::warn!(server = %label, "TLS handshake failed: {e}"),
                },
                Err(e) => tracing::debug!(server = %label, "connect failed: {e}"),
            },
            (Connect::Tls { .. }, None) => {
                tracing::error!(server = %label, "TLS connection without a TLS connector");
                return;
            }
            (Connect::Serial { path, baud }, _) => match super::serial::open(path, *baud) {
                Ok(port) => {
                    let end = drive(host, port, plan.serial.clone(), &label).await;
                    tracing::debug!(port = %label, "serial port closed: {end}");
                }
                Err(e) => tracing::debug!(port = %label, "cannot open: {e}"),
            },
        }
        if sessions(host) > before {
            // A session was established: start the back-off over.
            delay = plan.backoff.initial;
        }
        tracing::debug!(server = %label, "reconnecting in {delay:?}");
        tokio::time::sleep(delay).await;
        if sessions(host) == before {
            delay = (delay * 2).min(plan.backoff.max);
        }
    }
}
