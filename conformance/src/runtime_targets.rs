//! In-process targets on the runtime's real tokio roles: `ferrocom-server`
//! ([`ferrocom_runtime::server::Server`] on a TCP end point 127.0.0.1:0 with a temporary
//! SQLite database), `ferrocom-device` ([`ferrocom_runtime::device::Device`]
//! connecting to the suite with a small signal map), `ferrocom-mqtt-client` and
//! `ferrocom-switchbox` ([`ferrocom_runtime::switchbox::Switchbox`] on TLS
//! 127.0.0.1:0 with a service account for the suite).
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
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ferrocom_runtime::device::{Backoff, Connect, Device, DeviceConfig};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig};
use ferrocom_spec::signals::SignalMap;
use tokio::sync::oneshot;

use ferrocom_runtime::net::tls::TlsError;

use crate::case::{CaseSettings, Role};
use crate::peer::TlsProvider;
use crate::targets::{InProcessTarget, StartFuture, Started, TaskGuard};
use crate::tls::DevTls;

/// The account `ferrocom-server-tls` holds for the TLS authorization cases.
pub const TLS_USER: &str = "tlsuser";
/// Its password.
pub const TLS_PASSWORD: &str = "s3cret-conform";

/// The service account `ferrocom-switchbox` holds for the suite's service.
pub const SWITCHBOX_USER: &str = "conform-service";
/// Its password.
pub const SWITCHBOX_PASSWORD: &str = "s3cret-switchbox";

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
///
/// With TLS ([`RuntimeServer::tls`]) it listens on a TLS end point with a fresh
/// development certificate and holds two accounts: `conform` with any password (the
/// suite's ordinary device) and [`TLS_USER`] / [`TLS_PASSWORD`]; it runs every server
/// case but the slow timer ones, which the plain TCP variant runs.
#[derive(Debug, Clone)]
pub struct RuntimeServer {
    /// Name in reports.
    pub name: String,
    /// Network served.
    pub network: String,
    /// TLS with this certificate, or plain TCP.
    pub tls: Option<DevTls>,
}

impl Default for RuntimeServer {
    fn default() -> Self {
        RuntimeServer {
            name: "ferrocom-server".into(),
            network: "cafenet".into(),
            tls: None,
        }
    }
}

impl RuntimeServer {
    /// The TLS variant `ferrocom-server-tls`.
    pub fn tls() -> Result<Self, TlsError> {
        Ok(RuntimeServer {
            name: "ferrocom-server-tls".into(),
            tls: Some(DevTls::generate()?),
            ..RuntimeServer::default()
        })
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
            let local = SocketAddr::from(([127, 0, 0, 1], 0));
            cfg.endpoints.push(match &self.tls {
                None => Endpoint::Tcp(local),
                Some(dev) => Endpoint::Tls {
                    addr: local,
                    cert_chain: dev.0.server_chain.clone(),
                    key: dev.0.server_key().map_err(io::Error::other)?,
                },
            });
            let server = match Server::start(cfg).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(io::Error::other(e));
                }
            };
            if self.tls.is_some() {
                let accounts = server.accounts();
                let added = accounts
                    .add_user("conform", "*", &["*"])
                    .and_then(|()| accounts.add_user(TLS_USER, TLS_PASSWORD, &[&self.network]));
                if let Err(e) = added {
                    server.shutdown().await;
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(io::Error::other(e));
                }
            }
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

    fn tls(&self) -> Option<Arc<dyn TlsProvider>> {
        let dev = self.tls.as_ref()?;
        match dev.client_provider() {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                eprintln!("{}: no TLS for the suite: {e}", self.name);
                None
            }
        }
    }

    fn adjust(&self, settings: &mut CaseSettings) {
        if self.tls.is_some() {
            settings.account = Some((TLS_USER.into(), TLS_PASSWORD.into()));
        }
    }

    fn skip_slow(&self) -> bool {
        self.tls.is_some()
    }
}

/// The runtime's tokio IOCOM device (`ferrocom_runtime::device::Device`, `ferrodev`,
/// automatic number, [`DEVICE_MAP`]) connecting to the suite, reconnecting 50 ms after
/// a drop (back-off up to 500 ms).
///
/// With TLS ([`RuntimeDevice::tls`]) it connects over TLS, trusting only the
/// development CA whose certificate the suite's listener presents, and runs every device
/// case.
#[derive(Debug, Clone)]
pub struct RuntimeDevice {
    /// Name in reports.
    pub name: String,
    /// Network.
    pub network: String,
    /// TLS with this certificate on the suite's side, or plain TCP.
    pub tls: Option<DevTls>,
}

impl Default for RuntimeDevice {
    fn default() -> Self {
        RuntimeDevice {
            name: "ferrocom-device".into(),
            network: "cafenet".into(),
            tls: None,
        }
    }
}

impl RuntimeDevice {
    /// The TLS variant `ferrocom-device-tls`.
    pub fn tls() -> Result<Self, TlsError> {
        Ok(RuntimeDevice {
            name: "ferrocom-device-tls".into(),
            tls: Some(DevTls::generate()?),
            ..RuntimeDevice::default()
        })
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
            let connect = match &self.tls {
                None => Connect::Tcp(addr.to_string()),
                Some(dev) => Connect::Tls {
                    addr: addr.to_string(),
                    server_name: "localhost".into(),
                    trust: dev.trust(),
                },
            };
            let mut cfg = DeviceConfig::new("ferrodev", &self.network, map, connect);
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

    fn tls(&self) -> Option<Arc<dyn TlsProvider>> {
        let dev = self.tls.as_ref()?;
        match dev.server_provider() {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                eprintln!("{}: no TLS for the suite: {e}", self.name);
                None
            }
        }
    }

    fn skip_slow(&self) -> bool {
        self.tls.is_some()
    }
}

/// The runtime's tokio MQTT client (`ferrocom_runtime::mqtt_client::MqttClient`,
/// `ferrocom-mqtt-client`) connecting to the suite, which plays the broker: Clean
/// Session 0, keep-alive 1 s, reconnecting 50 ms after a drop, and publishing one QoS 1
/// message (`ferrocom/conform/hello`) after every accepted connection, as the client
/// cases expect of a client under test.
#[derive(Debug, Clone)]
pub struct RuntimeMqttClient {
    /// Name in reports.
    pub name: String,
}

impl Default for RuntimeMqttClient {
    fn default() -> Self {
        RuntimeMqttClient {
            name: "ferrocom-mqtt-client".into(),
        }
    }
}

impl InProcessTarget for RuntimeMqttClient {
    fn role(&self) -> Role {
        Role::Client
    }

    fn start(&self, suite: Option<SocketAddr>) -> StartFuture<'_> {
        use ferrocom_runtime::mqtt::{Options, QoS};
        use ferrocom_runtime::mqtt_client::{Broker, ClientConfig, MqttClient, Notification, Wait};
        Box::pin(async move {
            let addr =
                suite.ok_or_else(|| io::Error::other("a client needs the suite's address"))?;
            let mut o = Options::new("ferrocomconform");
            o.clean_session = false;
            o.keep_alive_secs = 1;
            let mut cfg = ClientConfig::new(Broker::Tcp(addr.to_string()), o);
            cfg.backoff = Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_millis(500),
            };
            let (client, mut notes) = MqttClient::start(cfg).map_err(io::Error::other)?;
            let (stop, mut stopped) = oneshot::channel::<()>();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        n = notes.recv() => match n {
                            Some(Notification::Connected { .. }) => {
                                let _ = client
                                    .publish("ferrocom/conform/hello", "hello", QoS::AtLeastOnce, false, Wait::Queued)
                                    .await;
                            }
                            Some(_) => {}
                            None => break,
                        },
                        _ = &mut stopped => break,
                    }
                }
                client.disconnect().await;
            });
            Ok(Started {
                addr,
                role: Role::Client,
                name: self.name.clone(),
                guard: TaskGuard::default().stop_with(stop),
            })
        })
    }
}

/// The runtime's switchbox (`ferrocom_runtime::switchbox::Switchbox`,
/// `ferrocom-switchbox`) on TLS 127.0.0.1:0 with a fresh development certificate and a
/// service-accounts database under the system temp directory (removed when the target
/// stops), holding the account [`SWITCHBOX_USER`] / [`SWITCHBOX_PASSWORD`] for the
/// network of the cases (`cafenet`), with its default configuration otherwise.
#[derive(Debug, Clone)]
pub struct RuntimeSwitchbox {
    /// Name in reports.
    pub name: String,
    /// The network the service account may publish.
    pub network: String,
    /// Its certificate.
    pub tls: DevTls,
}

impl RuntimeSwitchbox {
    /// `ferrocom-switchbox` with a fresh development certificate.
    pub fn new() -> Result<Self, TlsError> {
        Ok(RuntimeSwitchbox {
            name: "ferrocom-switchbox".into(),
            network: "cafenet".into(),
            tls: DevTls::generate()?,
        })
    }
}

impl InProcessTarget for RuntimeSwitchbox {
    fn role(&self) -> Role {
        Role::Switchbox
    }

    fn start(&self, _suite: Option<SocketAddr>) -> StartFuture<'_> {
        use ferrocom_runtime::switchbox::{ServiceAccount, Switchbox, SwitchboxConfig};
        Box::pin(async move {
            let dir = temp_dir("switchbox")?;
            let cfg = SwitchboxConfig::new(
                SocketAddr::from(([127, 0, 0, 1], 0)),
                self.tls.0.server_chain.clone(),
                self.tls.0.server_key().map_err(io::Error::other)?,
                dir.join("switchbox.db"),
            );
            let sb = match Switchbox::start(cfg).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(io::Error::other(e));
                }
            };
            let account = ServiceAccount::new(SWITCHBOX_USER, SWITCHBOX_PASSWORD, &[&self.network]);
            if let Err(e) = sb.add_account(&account) {
                sb.shutdown().await;
                let _ = std::fs::remove_dir_all(&dir);
                return Err(io::Error::other(e));
            }
            let addr = sb.local_addr();
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(async move {
                let _ = stopped.await;
                sb.shutdown().await;
                let _ = std::fs::remove_dir_all(&dir);
            });
            Ok(Started {
                addr,
                role: Role::Switchbox,
                name: self.name.clone(),
                guard: TaskGuard::default().stop_with(stop),
            })
        })
    }

    fn tls(&self) -> Option<Arc<dyn TlsProvider>> {
        match self.tls.client_provider() {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                eprintln!("{}: no TLS for the suite: {e}", self.name);
                None
            }
        }
    }

    fn adjust(&self, settings: &mut CaseSettings) {
        settings.network = self.network.clone();
        settings.account = Some((SWITCHBOX_USER.into(), SWITCHBOX_PASSWORD.into()));
    }
}
