//! A spy: watches every device of an IO network through its server, the way IOCOM's
//! i-spy does, with nothing but the IOCOM protocol.
//!
//! The spy connects *down* to the server (its authentication frame does not carry
//! CONNECT_UP), so the server is the lower end of the connection and announces every
//! memory block it has — the mirrors of its devices' blocks included (reference §10.3).
//! The spy creates a dynamic mirror of each block whose data flows up to it, reads each
//! device's signal map from its `info` mirror, and keeps the latest values. It never
//! sends block data ([`ConnectionConfig::observe_only`]): a spy must not overwrite the
//! server's downward values with its own zeros. So the downward blocks of devices are not
//! shown; their values are the server's to tell.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrocom_runtime::device::DeviceError> {
//! use ferrocom_runtime::device::Connect;
//! use ferrocom_runtime::spy::{Spy, SpyConfig};
//! let spy = Spy::start(SpyConfig::new("cafenet", Connect::Tcp("127.0.0.1:6368".into())))?;
//! spy.wait_connected().await;
//! for dev in spy.snapshot() {
//!     for block in &dev.blocks {
//!         for s in &block.signals {
//!             println!("{}.{}.{} = {:?}", s.name, block.name, dev.device, s.value);
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::prelude::rust_2024::*;
use std::sync::{Arc, Mutex, MutexGuard};

use ferrocom_spec::signals::SignalMap;
use ferrocom_wire::signals::State;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::device::DeviceError;
use crate::iocom::{BlockFlags, BlockId, ConnectionConfig, ConnectionId, Event, Identity, Root};
use crate::net::client::{Backoff, ClientPlan, Connect, tls_connector};
use crate::net::driver::{DriveEnd, Host};
use crate::server::DeviceRef;
use crate::signal::{self, SignalValue};

/// How to run a spy.
#[derive(Debug, Clone)]
pub struct SpyConfig {
    /// The spy's own device name in its handshake (`spy` by default).
    pub name: String,
    /// Its device number (a fixed one, so the server assigns and stores none).
    pub number: u32,
    /// The IO network to watch (`*`: whatever the server has).
    pub network: String,
    /// Where the server is.
    pub connect: Connect,
    /// Password (sent over TLS only, §9.1).
    pub password: String,
    /// Reconnection delays.
    pub backoff: Backoff,
}

impl SpyConfig {
    /// A spy named `spy`, number 1, without password.
    pub fn new(network: &str, connect: Connect) -> Self {
        SpyConfig {
            name: "spy".into(),
            number: 1,
            network: network.into(),
            connect,
            password: String::new(),
            backoff: Backoff::default(),
        }
    }
}

/// One signal as the spy last saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpySignal {
    /// Signal name.
    pub name: String,
    /// Its value and state byte, or why it cannot be read.
    pub value: Result<(SignalValue, State), String>,
}

/// One memory block of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct SpyBlock {
    /// Block name.
    pub name: String,
    /// Size in bytes.
    pub size: usize,
    /// Its signals (empty until the device's signal map is known).
    pub signals: Vec<SpySignal>,
}

/// A device of the watched network.
#[derive(Debug, Clone, PartialEq)]
pub struct SpyDevice {
    /// Who.
    pub device: DeviceRef,
    /// The signal map was read from the device's `info` block.
    pub has_map: bool,
    /// Blocks whose data reaches the spy, in name order (`info` left out).
    pub blocks: Vec<SpyBlock>,
}

struct Mirror {
    device: DeviceRef,
    name: String,
}

pub(crate) struct SpyState {
    root: Root,
    mirrors: BTreeMap<BlockId, Mirror>,
    maps: BTreeMap<DeviceRef, SignalMap>,
    connected: bool,
    sessions: u64,
    up: watch::Sender<bool>,
    /// Bumped on every change, so a display can wait for one.
    changes: watch::Sender<u64>,
}

pub(crate) struct SpyHost {
    state: Mutex<SpyState>,
    epoch: Instant,
}

impl fmt::Debug for SpyHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpyHost").finish_non_exhaustive()
    }
}

impl SpyState {
    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn learn(&mut self, id: BlockId) {
        let Some(m) = self.mirrors.get(&id) else {
            return;
        };
        let Some(bytes) = self.root.read(id) else {
            return;
        };
        match signal::map_from_info(&std::format!("info block of {}", m.device), bytes) {
            Ok(map) => {
                tracing::debug!(device = %m.device, "signal map learned");
                self.maps.insert(m.device.clone(), map);
            }
            // The info block arrives in several frames on slow links; an incomplete
            // one does not unpack yet.
            Err(e) => tracing::trace!(device = %m.device, "info block not readable yet: {e}"),
        }
    }
}

impl Host for SpyHost {
    type State = SpyState;

    fn state(&self) -> &Mutex<SpyState> {
        &self.state
    }

    fn root(state: &mut SpyState) -> &mut Root {
        &mut state.root
    }

    fn epoch(&self) -> Instant {
        self.epoch
    }

    fn opened(&self, _st: &mut SpyState, _conn: ConnectionId, _wake: Arc<Notify>, _label: &str) {}

    fn event(&self, st: &mut SpyState, _conn: ConnectionId, event: Event) -> Result<(), String> {
        match event {
            Event::PeerAuthenticated { .. } => {
                st.connected = true;
                st.sessions += 1;
                st.up.send_replace(true);
            }
            Event::BlockCreated { block } => {
                if let Some(b) = st.root.block(block) {
                    let device = DeviceRef {
                        name: b.device_name.clone(),
                        number: b.device_nr,
                        network: b.network.clone(),
                    };
                    st.mirrors.insert(
                        block,
                        Mirror {
                            device,
                            name: b.name.clone(),
                        },
                    );
                }
            }
            Event::DataReceived { block, .. } => {
                if st.mirrors.get(&block).is_some_and(|m| m.name == "info") {
                    st.learn(block);
                }
            }
            Event::BlockRemoved { block, .. } => {
                if let Some(m) = st.mirrors.remove(&block)
                    && !st.mirrors.values().any(|o| o.device == m.device)
                {
                    st.maps.remove(&m.device);
                }
            }
            Event::Disconnected { .. } => {
                st.connected = false;
                st.up.send_replace(false);
            }
            _ => return Ok(()),
        }
        st.changed();
        Ok(())
    }

    fn closed(&self, st: &mut SpyState, _conn: ConnectionId, _reason: &DriveEnd) {
        // The engine removed the connection's dynamic blocks; forget them all.
        st.mirrors.clear();
        st.maps.clear();
        st.connected = false;
        st.up.send_replace(false);
        st.changed();
    }
}

/// Starts spies; see [`Spy::start`].
#[derive(Debug)]
pub struct Spy;

/// A running spy. Dropping it does not stop it; call [`SpyHandle::shutdown`].
#[derive(Debug)]
pub struct SpyHandle {
    host: Arc<SpyHost>,
    task: JoinHandle<()>,
}

impl Spy {
    /// Starts connecting (and reconnecting) in the background.
    pub fn start(cfg: SpyConfig) -> Result<SpyHandle, DeviceError> {
        let mut identity = Identity::new(&cfg.name, &cfg.network);
        identity.device_nr = cfg.number;
        identity.password = cfg.password.clone();
        let host = Arc::new(SpyHost {
            state: Mutex::new(SpyState {
                root: Root::new(identity),
                mirrors: BTreeMap::new(),
                maps: BTreeMap::new(),
                connected: false,
                sessions: 0,
                up: watch::channel(false).0,
                changes: watch::channel(0).0,
            }),
            epoch: Instant::now(),
        });
        let tls = tls_connector(&cfg.connect).map_err(DeviceError::Tls)?;
        let mut serial = ConnectionConfig::serial_client();
        serial.connect_up = false;
        serial.allow_dynamic = true;
        serial.observe_only = true;
        let plan = ClientPlan {
            connect: cfg.connect.clone(),
            backoff: cfg.backoff,
            socket: ConnectionConfig::socket_observer(false),
            serial,
        };
        let h = host.clone();
        let task = tokio::spawn(async move {
            crate::net::client::run(&*h, &plan, tls.as_ref(), |h: &SpyHost| {
                h.state.lock().unwrap_or_else(|p| p.into_inner()).sessions
            })
            .await;
        });
        Ok(SpyHandle { host, task })
    }
}

impl SpyHandle {
    fn state(&self) -> MutexGuard<'_, SpyState> {
        self.host.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every device seen, with the current values of the blocks that reach the spy.
    pub fn snapshot(&self) -> Vec<SpyDevice> {
        let st = self.state();
        let mut out: BTreeMap<DeviceRef, SpyDevice> = BTreeMap::new();
        for (id, m) in &st.mirrors {
            let dev = out.entry(m.device.clone()).or_insert_with(|| SpyDevice {
                device: m.device.clone(),
                has_map: st.maps.contains_key(&m.device),
                blocks: Vec::new(),
            });
            let Some(block) = st.root.block(*id) else {
                continue;
            };
            if m.name == "info" || !block.flags.contains(BlockFlags::UP) {
                continue;
            }
            let signals = st
                .maps
                .get(&m.device)
                .and_then(|map| map.block(&m.name))
                .map(|mb| {
                    mb.signals()
                        .map(|sig| SpySignal {
                            name: sig.name.clone(),
                            value: signal::read(&m.name, sig, &block.data)
                                .map_err(|e| e.to_string()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            dev.blocks.push(SpyBlock {
                name: m.name.clone(),
                size: block.data.len(),
                signals,
            });
        }
        let mut devices: Vec<SpyDevice> = out.into_values().collect();
        for d in &mut devices {
            d.blocks.sort_by(|a, b| a.name.cmp(&b.name));
        }
        devices
    }

    /// `true` while connected to the server.
    pub fn connected(&self) -> bool {
        self.state().connected
    }

    /// Waits until the spy is connected (at once if it is).
    pub async fn wait_connected(&self) {
        let mut rx = self.state().up.subscribe();
        let _ = rx.wait_for(|up| *up).await;
    }

    /// A receiver that changes whenever something the spy shows changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.state().changes.subscribe()
    }

    /// Stops the spy (its connection is closed).
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
