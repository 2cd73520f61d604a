//! The server's public types: configuration, end points, devices, events, errors.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::prelude::rust_2024::*;
use std::time::Duration;

use ferrocom_wire::signals::State;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::broadcast;

use super::store::StoreError;
use crate::net::tls::TlsError;
use crate::signal::{SignalAccessError, SignalValue};

/// Where the server listens.
#[derive(Debug)]
#[non_exhaustive]
pub enum Endpoint {
    /// Plain TCP (default port 6368). Devices are not authorized (as in C, §9.4).
    Tcp(SocketAddr),
    /// TLS (default port 6369): devices authenticate against the accounts.
    Tls {
        /// Address to bind.
        addr: SocketAddr,
        /// Server certificate chain (server first).
        cert_chain: Vec<CertificateDer<'static>>,
        /// Its private key.
        key: PrivateKeyDer<'static>,
    },
    /// A serial port (listening end of the link procedure). Reopened every 2 s when it
    /// cannot be opened or fails.
    Serial {
        /// Device path, e.g. `/dev/ttyUSB0`.
        path: String,
        /// Speed (115200 by default in IOCOM).
        baud: u32,
    },
    /// Publish the server's IO network on a switchbox (§17): the server connects out
    /// over TLS (reconnecting with back-off) and every client relayed by the switchbox
    /// is served like a TLS device, authenticated against the server's own accounts.
    Switchbox(crate::switchbox::SwitchboxLink),
}

impl Endpoint {
    /// Plain TCP on the default port 6368 of all interfaces.
    pub fn tcp_default() -> Self {
        Endpoint::Tcp(SocketAddr::from((
            [0, 0, 0, 0],
            crate::net::tcp::DEFAULT_TCP_PORT,
        )))
    }

    /// TLS on the default port 6369 of all interfaces.
    pub fn tls_default(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        Endpoint::Tls {
            addr: SocketAddr::from(([0, 0, 0, 0], crate::net::tcp::DEFAULT_TLS_PORT)),
            cert_chain,
            key,
        }
    }
}

/// How to run a server.
#[derive(Debug)]
pub struct ServerConfig {
    /// The server's device name (in its mbinfo frames).
    pub name: String,
    /// The server's device number.
    pub number: u32,
    /// IO network name (`*` adopts each device's).
    pub network: String,
    /// End points to listen on.
    pub endpoints: Vec<Endpoint>,
    /// SQLite database (created if missing): accounts and device numbers.
    pub database: PathBuf,
    /// Own frame size (`None`: 1392 on sockets, 96 on serial lines).
    pub frame_size: Option<usize>,
    /// Drop a connection that sends an unknown system frame type. The C end ignores such
    /// frames (§10.4); a server facing untrusted devices is stricter by default.
    pub reject_unknown_system_frames: bool,
    /// Time allowed for a TLS handshake.
    pub tls_handshake_timeout: Duration,
}

impl ServerConfig {
    /// A server named `ferrocom`, number 1, on `network`, with no end points yet.
    pub fn new(network: &str, database: impl Into<PathBuf>) -> Self {
        ServerConfig {
            name: "ferrocom".into(),
            number: 1,
            network: network.into(),
            endpoints: Vec::new(),
            database: database.into(),
            frame_size: None,
            reject_unknown_system_frames: true,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// A device as the server knows it: name, number (assigned automatically or fixed) and
/// network. Displayed the IOCOM way: `gina9001.cafenet`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceRef {
    /// Device name.
    pub name: String,
    /// Device number.
    pub number: u32,
    /// IO network.
    pub network: String,
}

impl fmt::Display for DeviceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}.{}", self.name, self.number, self.network)
    }
}

/// One memory block of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// Block name.
    pub name: String,
    /// Size in bytes.
    pub size: usize,
    /// The server writes it (the device's `down` block).
    pub downward: bool,
}

/// What [`ServerHandle::devices`](super::ServerHandle::devices) lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Who.
    pub device: DeviceRef,
    /// Connected now.
    pub connected: bool,
    /// The signal map was learned from the device's `info` block.
    pub has_map: bool,
    /// Its memory blocks (also while disconnected: the last known ones).
    pub blocks: Vec<BlockInfo>,
}

/// Something that happened on the server; see [`ServerHandle::subscribe`](super::ServerHandle::subscribe).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A device's first memory block arrived on a connection.
    DeviceConnected {
        /// Who.
        device: DeviceRef,
    },
    /// The device's signal map was read from its `info` block.
    SignalMapLearned {
        /// Who.
        device: DeviceRef,
    },
    /// A device's connection ended; its signals are marked disconnected.
    DeviceDisconnected {
        /// Who.
        device: DeviceRef,
        /// Why (the connection's error).
        reason: String,
    },
    /// A signal changed (value or state byte).
    SignalChanged {
        /// Whose.
        device: DeviceRef,
        /// Memory block.
        block: String,
        /// Signal name.
        signal: String,
        /// New value.
        value: SignalValue,
        /// New state byte.
        state: State,
    },
}

/// A subscription to [`ServerEvent`]s (a tokio broadcast receiver).
#[derive(Debug)]
pub struct ServerEvents(pub(crate) broadcast::Receiver<ServerEvent>);

impl ServerEvents {
    /// The next event; `None` once the server is gone. If this subscriber fell behind,
    /// the events it missed are skipped (a warning is logged).
    pub async fn recv(&mut self) -> Option<ServerEvent> {
        loop {
            match self.0.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("server event subscriber lagged, {n} events skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The underlying receiver (e.g. for `tokio_stream::wrappers::BroadcastStream`).
    pub fn into_inner(self) -> broadcast::Receiver<ServerEvent> {
        self.0
    }
}

/// A server call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerError {
    /// Binding or opening an end point failed.
    Io(std::io::Error),
    /// TLS configuration.
    Tls(TlsError),
    /// The database.
    Store(StoreError),
    /// No such device.
    UnknownDevice(DeviceRef),
    /// The device's signal map is not known (yet).
    NoSignalMap(DeviceRef),
    /// No such block or signal in the device's map.
    UnknownSignal {
        /// Device.
        device: DeviceRef,
        /// `block.signal`.
        signal: String,
    },
    /// The block flows up (the device writes it), so the server cannot write it.
    NotDownward {
        /// `block.signal`.
        signal: String,
    },
    /// The value does not fit the signal.
    Signal(SignalAccessError),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Io(e) => write!(f, "{e}"),
            ServerError::Tls(e) => write!(f, "{e}"),
            ServerError::Store(e) => write!(f, "{e}"),
            ServerError::UnknownDevice(d) => write!(f, "unknown device {d}"),
            ServerError::NoSignalMap(d) => write!(f, "signal map of {d} not known yet"),
            ServerError::UnknownSignal { device, signal } => {
                write!(f, "device {device} has no signal {signal}")
            }
            ServerError::NotDownward { signal } => {
                write!(
                    f,
                    "signal {signal} is in an upward block; only the device writes it"
                )
            }
            ServerError::Signal(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServerError {}

impl From<std::io::Error> for ServerError {
    fn from(e: std::io::Error) -> Self {
        ServerError::Io(e)
    }
}
impl From<TlsError> for ServerError {
    fn from(e: TlsError) -> Self {
        ServerError::Tls(e)
    }
}
impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> Self {
        ServerError::Store(e)
    }
}
impl From<SignalAccessError> for ServerError {
    fn from(e: SignalAccessError) -> Self {
        ServerError::Signal(e)
    }
}
