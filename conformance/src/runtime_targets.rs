//! In-process targets on the runtime's real tokio roles: `ferrocom-server`
//! ([`ferrocom_runtime::server::Server`] on a TCP end point 127.0.0.1:0 with a temporary
//! SQLite database) and `ferrocom-device` ([`ferrocom_runtime::device::Device`]
//! connecting to the suite with a small signal map).
//!
//! Reflection (the conformance device map: `exp` copied into `imp`) is not offered by
//! [`RuntimeServer`]: the runtime server reads and writes signals only through a signal
//! map learned from a device's `info` block, and the suite's device `conform` announces
//! `exp` and `imp` without one, so `SignalChanged` never fires for it and
//! `write_signal` answers `NoSignalMap`. The cases that need reflection report
//! `unsupported` against this target.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ferrocom_runtime::device::{Backoff, Connect, Device, DeviceConfig};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig};
use ferrocom_spec::signals::SignalMap;
use tokio::sync::oneshot;

use crate::case::Role;
use crate::targets::{InProcessTarget, StartFuture, Started, TaskGuard};

/// Signal map of the `ferrocom-device` target: an up block `exp` and a down block `imp`.
pub const DEVICE_MAP: &str = r#"{
  "name": "ferrodev",
  "mblk": [
    {"name": "exp", "flags": "up", "groups": [{"name": "state", "signals": [
      {"name": "potentiometer", "type": "float"},
      {"name": "in_x", "type": "boolean"},
      {"name": "counter", "type": "uint"},
      {"name": "teststr", "type": "str", "array": 10}
    ]}]},
    {"name": "imp", "flags": "down", "groups": [{"name": "controls", "signals": [
      {"name": "myoutput", "type": "boolean"},
      {"name": "setpoint", "type": "ushort"}
    ]}]}
  ]
}"#;

/// The runtime's tokio IOCOM server (`ferrocom_runtime::server::Server`) on
/// 127.0.0.1:0 with a fresh SQLite database under the system temp directory (removed
/// when the target stops).
#[derive(Debug, Clone)]
pub struct RuntimeServer {
    /// Name in reports.
    pub name: String,
    /// Network served.
    pub network: String,
}

impl Default for RuntimeServer {
    fn default() -> Self {
        RuntimeServer {
            name: "ferrocom-server".into(),
            network: "cafenet".into(),
        }
    }
}

/// A fresh directory for one target's files.
fn temp_dir(tag: &str) -> io::Result<PathBuf> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "ferrocom-conformance-{tag}-{}-{nanos}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

impl InProcessTarget for RuntimeServer {
    fn role(&self) -> Role {
        Role::Server
    }

    fn start(&self, _suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let dir = temp_dir("server")?;
            let mut cfg = ServerConfig::new(&self.network, dir.join("server.db"));
            cfg.endpoints
                .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
            let server = match Server::start(cfg).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(io::Error::other(e));
                }
            };
            let Some(addr) = server.local_addrs().first().copied() else {
                server.shutdown().await;
                let _ = std::fs::remove_dir_all(&dir);
                return Err(io::Error::other("the server reports no bound address"));
            };
            // Dropping the guard drops `stop`: the server shuts down, then its database
            // goes.
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(async move {
                let _ = stopped.await;
                server.shutdown().await;
                let _ = std::fs::remove_dir_all(&dir);
            });
            Ok(Started {
                addr,
                role: Role::Server,
                name: self.name.clone(),
                guard: TaskGuard::default().stop_with(stop),
            })
        })
    }
}

/// The runtime's tokio IOCOM device (`ferrocom_runtime::device::Device`, `ferrodev`,
/// automatic number, [`DEVICE_MAP`]) connecting to the suite, reconnecting 50 ms after
/// a drop (back-off up to 500 ms).
#[derive(Debug, Clone)]
pub struct RuntimeDevice {
    /// Name in reports.
    pub name: String,
    /// Network.
    pub network: String,
}

impl Default for RuntimeDevice {
    fn default() -> Self {
        RuntimeDevice {
            name: "ferrocom-device".into(),
            network: "cafenet".into(),
        }
    }
}

impl InProcessTarget for RuntimeDevice {
    fn role(&self) -> Role {
        Role::Device
    }

    fn start(&self, suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let addr =
                suite.ok_or_else(|| io::Error::other("a device needs the suite's address"))?;
            let (map, _warnings) = SignalMap::from_json_str("ferrocom-device map", DEVICE_MAP)
                .map_err(io::Error::other)?;
            let mut cfg = DeviceConfig::new(
                "ferrodev",
                &self.network,
                map,
                Connect::Tcp(addr.to_string()),
            );
            cfg.backoff = Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_millis(500),
            };
            let device = Device::start(cfg).map_err(io::Error::other)?;
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(async move {
                let _ = stopped.await;
                device.shutdown().await;
            });
            Ok(Started {
                addr,
                role: Role::Device,
                name: self.name.clone(),
                guard: TaskGuard::default().stop_with(stop),
            })
        })
    }
}
