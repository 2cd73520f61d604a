//! The IOCOM device role: connects up to a server over TCP, TLS or a serial line,
//! publishes the memory blocks of its signal map (and the map itself, packed, in the
//! static `info` block), applies the server's writes to its downward blocks, and
//! reconnects with exponential back-off. After every reconnection the engine binds the
//! blocks anew and sends each one as a full key frame, so the server is in sync again.
//!
//! ```no_run
//! # async fn demo(map: ferrocom_spec::signals::SignalMap) -> Result<(), ferrocom_runtime::device::DeviceError> {
//! use ferrocom_runtime::device::{Connect, Device, DeviceConfig};
//! let dev = Device::start(DeviceConfig::new("gina", "cafenet", map, Connect::Tcp("127.0.0.1:6368".into())))?;
//! dev.set("exp", "potentiometer", 41.5)?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::prelude::rust_2024::*;
use std::sync::{Arc, Mutex, MutexGuard};

use ferrocom_spec::signals::SignalMap;
use ferrocom_wire::packed_json::{PackOptions, pack_json_text};
use ferrocom_wire::signals::State;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::iocom::{
    AUTO_DEVICE_NR, BlockFlags, BlockId, ConnectionConfig, ConnectionId, Event, Identity, Root,
    Transport,
};
pub use crate::net::client::{Backoff, Connect};
use crate::net::client::{ClientPlan, tls_connector};
use crate::net::driver::{DriveEnd, Host, drive};
use crate::net::tls::TlsError;
use crate::signal::{self, SignalAccessError, SignalValue};

/// Starts devices; see [`Device::start`].
#[derive(Debug)]
pub struct Device;

/// The device's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceNumber {
    /// `*`: the server assigns one (§9.5), remembered by the unique id.
    Auto,
    /// A fixed number.
    Fixed(u32),
}

/// How to run a device.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Device name (≤ 15 bytes).
    pub name: String,
    /// Number.
    pub number: DeviceNumber,
    /// IO network.
    pub network: String,
    /// The signal map: its blocks are created, and it is packed into the `info` block.
    pub map: SignalMap,
    /// Where the server is.
    pub connect: Connect,
    /// Password (sent over TLS only, §9.1).
    pub password: String,
    /// 12-byte unique id sent with automatic numbering; `None` derives a stable one from
    /// name and network, so the device keeps its number across restarts.
    pub unique_id: Option<[u8; 12]>,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Own frame size (`None`: 1392 on sockets, 96 on serial).
    pub frame_size: Option<usize>,
}

impl DeviceConfig {
    /// Automatic number, no password, default back-off.
    pub fn new(name: &str, network: &str, map: SignalMap, connect: Connect) -> Self {
        DeviceConfig {
            name: name.into(),
            number: DeviceNumber::Auto,
            network: network.into(),
            map,
            connect,
            password: String::new(),
            unique_id: None,
            backoff: Backoff::default(),
            frame_size: None,
        }
    }
}

/// What a device hears.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// Authenticated with the server.
    Connected,
    /// The connection ended (it will be retried).
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The server wrote a signal of a downward block.
    Write {
        /// Memory block.
        block: String,
        /// Signal.
        signal: String,
        /// New value.
        value: SignalValue,
        /// New state byte.
        state: State,
    },
}

/// A subscription to [`DeviceEvent`]s.
#[derive(Debug)]
pub struct DeviceEvents(broadcast::Receiver<DeviceEvent>);

impl DeviceEvents {
    /// The next event; `None` once the device is gone (missed events are skipped).
    pub async fn recv(&mut self) -> Option<DeviceEvent> {
        loop {
            match self.0.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("device event subscriber lagged, {n} events skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// A device call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeviceError {
    /// The map has no such block or signal.
    UnknownSignal(String),
    /// The block is downward: the server writes it.
    NotUpward(String),
    /// The value does not fit.
    Signal(SignalAccessError),
    /// The map cannot be packed into an `info` block or has an invalid block.
    Map(String),
    /// TLS configuration.
    Tls(TlsError),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::UnknownSignal(s) => write!(f, "no signal {s} in the map"),
            DeviceError::NotUpward(s) => write!(f, "signal {s} is in a downward block"),
            DeviceError::Signal(e) => write!(f, "{e}"),
            DeviceError::Map(e) => write!(f, "signal map: {e}"),
            DeviceError::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DeviceError {}

impl From<SignalAccessError> for DeviceError {
    fn from(e: SignalAccessError) -> Self {
        DeviceError::Signal(e)
    }
}

pub(crate) struct DeviceState {
    root: Root,
    map: SignalMap,
    blocks: HashMap<String, BlockId>,
    names: HashMap<BlockId, String>,
    down: BTreeSet<BlockId>,
    seen: HashMap<BlockId, Vec<u8>>,
    conn: Option<(u32, Arc<Notify>)>,
    connected: bool,
    /// Authenticated sessions so far (the reconnect loop's back-off reads it).
    sessions: u64,
    up: watch::Sender<bool>,
    dirty: BTreeSet<BlockId>,
    events: broadcast::Sender<DeviceEvent>,
}

pub(crate) struct DeviceHost {
    state: Mutex<DeviceState>,
    epoch: Instant,
}

impl fmt::Debug for DeviceHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceHost").finish_non_exhaustive()
    }
}

impl DeviceState {
    fn lost(&mut self, reason: &str) {
        if self.connected {
            self.connected = false;
            self.up.send_replace(false);
            let _ = self.events.send(DeviceEvent::Disconnected {
                reason: reason.into(),
            });
        }
    }
}

impl Host for DeviceHost {
    type State = DeviceState;

    fn state(&self) -> &Mutex<DeviceState> {
        &self.state
    }

    fn root(state: &mut DeviceState) -> &mut Root {
        &mut state.root
    }

    fn epoch(&self) -> Instant {
        self.epoch
    }

    fn opened(&self, st: &mut DeviceState, conn: ConnectionId, wake: Arc<Notify>, _label: &str) {
        st.conn = Some((conn.0, wake));
    }

    fn event(&self, st: &mut DeviceState, conn: ConnectionId, event: Event) -> Result<(), String> {
        tracing::trace!(conn = conn.0, ?event, "device event");
        match event {
            Event::PeerAuthenticated { .. } => {
                st.connected = true;
                st.sessions += 1;
                st.up.send_replace(true);
                let _ = st.events.send(DeviceEvent::Connected);
            }
            Event::DataReceived { block, range } if st.down.contains(&block) => {
                let Some(name) = st.names.get(&block).cloned() else {
                    return Ok(());
                };
                let Some(new) = st.root.read(block).map(<[u8]>::to_vec) else {
                    return Ok(());
                };
                // Only `range` is taken from the root (see the server's `data_received`).
                let old = st
                    .seen
                    .get(&block)
                    .cloned()
                    .unwrap_or_else(|| std::vec![0; new.len()]);
                let mut cur = old.clone();
                if cur.len() == new.len() {
                    let r = range.start.min(new.len())..range.end.min(new.len());
                    if let (Some(dst), Some(src)) = (cur.get_mut(r.clone()), new.get(r)) {
                        dst.copy_from_slice(src);
                    }
                } else {
                    cur.clone_from(&new);
                }
                st.seen.insert(block, cur.clone());
                let new = cur;
                if let Some(b) = st.map.block(&name) {
                    for sig in b.signals() {
                        let slot = signal::slot(sig);
                        if slot.start < range.end
                            && range.start < slot.end
                            && old.get(slot.clone()) != new.get(slot.clone())
                            && let Ok((value, state)) = signal::read(&name, sig, &new)
                        {
                            let _ = st.events.send(DeviceEvent::Write {
                                block: name.clone(),
                                signal: sig.name.clone(),
                                value,
                                state,
                            });
                        }
                    }
                }
            }
            Event::Disconnected { error } => st.lost(&error.to_string()),
            _ => {}
        }
        Ok(())
    }

    fn before_transmit(&self, st: &mut DeviceState) {
        st.root.send_dirty(&mut st.dirty);
    }

    fn closed(&self, st: &mut DeviceState, conn: ConnectionId, reason: &DriveEnd) {
        if st.conn.as_ref().is_some_and(|(c, _)| *c == conn.0) {
            st.conn = None;
        }
        st.lost(&reason.to_string());
    }
}

/// A running device. Dropping it does not stop it; call [`DeviceHandle::shutdown`].
#[derive(Debug)]
pub struct DeviceHandle {
    host: Arc<DeviceHost>,
    task: JoinHandle<()>,
    /// Subscribed before the connection task started, for the first [`subscribe`]: on
    /// loopback a device can be connected before its starter gets to subscribe, and
    /// would otherwise never hear `Connected`.
    ///
    /// [`subscribe`]: DeviceHandle::subscribe
    first: Mutex<Option<broadcast::Receiver<DeviceEvent>>>,
}

fn derive_unique_id(name: &str, network: &str) -> [u8; 12] {
    let mut h = Sha256::new();
    h.update(b"ferrocom device\0");
    h.update(name.as_bytes());
    h.update([0]);
    h.update(network.as_bytes());
    let d = h.finalize();
    let mut id = [0u8; 12];
    for (o, i) in id.iter_mut().zip(d.iter()) {
        *o = *i;
    }
    id
}

fn build_host(cfg: &DeviceConfig) -> Result<Arc<DeviceHost>, DeviceError> {
    let mut identity = Identity::new(&cfg.name, &cfg.network);
    identity.device_nr = match cfg.number {
        DeviceNumber::Auto => AUTO_DEVICE_NR,
        DeviceNumber::Fixed(n) => n,
    };
    identity.unique_id = cfg
        .unique_id
        .unwrap_or_else(|| derive_unique_id(&cfg.name, &cfg.network));
    identity.password = cfg.password.clone();
    let mut root = Root::new(identity);
    let mut map = cfg.map.clone();
    map.name = Some(cfg.name.clone());
    let (mut blocks, mut names, mut down) = (HashMap::new(), HashMap::new(), BTreeSet::new());
    for b in &map.blocks {
        let flags = if b.is_down() {
            BlockFlags::DOWN
        } else {
            BlockFlags::UP
        };
        let id = root
            .create_block(&b.name, flags, std::vec![0; b.size])
            .ok_or_else(|| DeviceError::Map("too many memory blocks".into()))?;
        blocks.insert(b.name.clone(), id);
        names.insert(id, b.name.clone());
        if b.is_down() {
            down.insert(id);
        }
    }
    let info = pack_json_text(&map.to_json_text(false), &PackOptions::info_block())
        .map_err(|e| DeviceError::Map(e.to_string()))?;
    root.create_block("info", BlockFlags::UP | BlockFlags::STATIC, info)
        .ok_or_else(|| DeviceError::Map("too many memory blocks".into()))?;
    let (events, _) = broadcast::channel(1024);
    Ok(Arc::new(DeviceHost {
        state: Mutex::new(DeviceState {
            root,
            map,
            blocks,
            names,
            down,
            seen: HashMap::new(),
            conn: None,
            connected: false,
            sessions: 0,
            up: watch::channel(false).0,
            dirty: BTreeSet::new(),
            events,
        }),
        epoch: Instant::now(),
    }))
}

impl Device {
    /// Creates the device's blocks and starts connecting (and reconnecting) in the
    /// background.
    pub fn start(cfg: DeviceConfig) -> Result<DeviceHandle, DeviceError> {
        let host = build_host(&cfg)?;
        let tls = tls_connector(&cfg.connect).map_err(DeviceError::Tls)?;
        let mut socket = ConnectionConfig::socket_client(false);
        socket.frame_size = cfg.frame_size;
        let mut serial = ConnectionConfig::serial_client();
        serial.frame_size = cfg.frame_size;
        let plan = ClientPlan {
            connect: cfg.connect.clone(),
            backoff: cfg.backoff,
            socket,
            serial,
        };
        let first = host
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .subscribe();
        let h = host.clone();
        let task = tokio::spawn(async move {
            crate::net::client::run(&*h, &plan, tls.as_ref(), |h: &DeviceHost| {
                h.state.lock().unwrap_or_else(|p| p.into_inner()).sessions
            })
            .await;
        });
        Ok(DeviceHandle {
            host,
            task,
            first: Mutex::new(Some(first)),
        })
    }

    /// Runs the device over one already open stream (a serial pseudo-terminal, a port
    /// opened by the caller): no reconnection, the serial link procedure restarts by
    /// itself after errors.
    pub fn start_on_stream<S>(
        cfg: DeviceConfig,
        stream: S,
        transport: Transport,
    ) -> Result<DeviceHandle, DeviceError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let host = build_host(&cfg)?;
        let first = host
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .subscribe();
        let h = host.clone();
        let task = tokio::spawn(async move {
            let mut c = match transport {
                Transport::Serial => ConnectionConfig::serial_client(),
                Transport::Socket => ConnectionConfig::socket_client(false),
            };
            c.frame_size = cfg.frame_size;
            drive(&*h, stream, c, "stream").await;
        });
        Ok(DeviceHandle {
            host,
            task,
            first: Mutex::new(Some(first)),
        })
    }
}

impl DeviceHandle {
    fn state(&self) -> MutexGuard<'_, DeviceState> {
        self.host.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes a signal of an upward block (state CONNECTED) and sends it.
    pub fn set(
        &self,
        block: &str,
        signal: &str,
        value: impl Into<SignalValue>,
    ) -> Result<(), DeviceError> {
        self.set_with_state(block, signal, value, State::CONNECTED)
    }

    /// Writes a signal with an explicit state byte (ORANGE, YELLOW, ...).
    pub fn set_with_state(
        &self,
        block: &str,
        signal: &str,
        value: impl Into<SignalValue>,
        state: State,
    ) -> Result<(), DeviceError> {
        let value = value.into();
        let mut guard = self.state();
        let st = &mut *guard;
        let label = || std::format!("{block}.{signal}");
        let sig = st
            .map
            .signal(block, signal)
            .ok_or_else(|| DeviceError::UnknownSignal(label()))?
            .clone();
        let id = *st
            .blocks
            .get(block)
            .ok_or_else(|| DeviceError::UnknownSignal(label()))?;
        if st.down.contains(&id) {
            return Err(DeviceError::NotUpward(label()));
        }
        let mut data = st.root.read(id).map(<[u8]>::to_vec).unwrap_or_default();
        signal::write(block, &sig, &mut data, &value, state)?;
        let slot = signal::slot(&sig);
        if let Some(bytes) = data.get(slot.clone()) {
            st.root.write(id, slot.start, bytes);
        }
        st.root.send(id);
        st.dirty.insert(id);
        if let Some((_, wake)) = &st.conn {
            wake.notify_one();
        }
        Ok(())
    }

    /// A signal's current value in the device's own copy.
    pub fn get(&self, block: &str, signal: &str) -> Result<(SignalValue, State), DeviceError> {
        let st = self.state();
        let label = || std::format!("{block}.{signal}");
        let sig = st
            .map
            .signal(block, signal)
            .ok_or_else(|| DeviceError::UnknownSignal(label()))?;
        let id = st
            .blocks
            .get(block)
            .ok_or_else(|| DeviceError::UnknownSignal(label()))?;
        let data = st.root.read(*id).unwrap_or_default();
        Ok(signal::read(block, sig, data)?)
    }

    /// `true` while authenticated with the server.
    pub fn connected(&self) -> bool {
        self.state().connected
    }

    /// Waits until the device is authenticated with the server (at once if it is).
    pub async fn wait_connected(&self) {
        let mut rx = self.state().up.subscribe();
        let _ = rx.wait_for(|up| *up).await;
    }

    /// Subscribes to connection events and downward writes. The first call gets every
    /// event since the device started (its first `Connected` included); later calls get
    /// events from the moment they subscribe.
    pub fn subscribe(&self) -> DeviceEvents {
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
        DeviceEvents(first.unwrap_or_else(|| self.state().events.subscribe()))
    }

    /// Stops the device (its connection is closed).
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
