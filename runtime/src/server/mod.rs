//! The IOCOM server role: listens on TCP, TLS and serial end points, accepts many
//! devices, authorizes TLS devices against the accounts of its SQLite database, gives
//! automatically numbered devices numbers that survive restarts, learns each device's
//! signal map from its `info` block, and lets code list devices, read and write signals
//! and subscribe to changes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrocom_runtime::server::ServerError> {
//! use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
//! let mut cfg = ServerConfig::new("cafenet", "/var/lib/ferrocom/server.db");
//! cfg.endpoints.push(Endpoint::tcp_default());
//! let server = Server::start(cfg).await?;
//! let mut events = server.subscribe();
//! while let Some(ev) = events.recv().await {
//!     if let ServerEvent::SignalChanged { device, block, signal, value, .. } = ev {
//!         println!("{signal}.{block}.{device} = {value}");
//!     }
//! }
//! # Ok(()) }
//! ```

mod api;
pub mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::prelude::rust_2024::*;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use ferrocom_spec::signals::SignalMap;
use ferrocom_wire::signals::State;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use api::{
    BlockInfo, DeviceInfo, DeviceRef, Endpoint, ServerConfig, ServerError, ServerEvent,
    ServerEvents,
};
use store::{Account, Store};

use crate::iocom::{
    AuthDecision, AuthRequest, BlockFlags, BlockId, ConnectionConfig, ConnectionId, DeviceNumbers,
    Event, Identity, MemoryNumbers, Root, Transport,
};
use crate::net::driver::{DriveEnd, Host, drive};
use crate::signal::{self, SignalValue};

/// Starts servers; see [`Server::start`].
#[derive(Debug)]
pub struct Server;

struct BlockRecord {
    id: Option<BlockId>,
    flags: BlockFlags,
    /// The block as the server shows it (state bytes lose CONNECTED while the device is
    /// away).
    data: Vec<u8>,
    /// Downward blocks only: the content the server owns, as last written by it, never
    /// marked disconnected. A reconnecting device gets exactly this.
    owned: Vec<u8>,
}

#[derive(Default)]
struct DeviceRecord {
    conn: Option<u32>,
    map: Option<SignalMap>,
    blocks: BTreeMap<String, BlockRecord>,
}

struct ConnInfo {
    wake: Arc<Notify>,
}

pub(crate) struct ServerState {
    root: Root,
    conns: HashMap<u32, ConnInfo>,
    devices: BTreeMap<DeviceRef, DeviceRecord>,
    by_block: HashMap<BlockId, (DeviceRef, String)>,
    dirty: BTreeSet<BlockId>,
    events: broadcast::Sender<ServerEvent>,
    strict: bool,
    /// Connections on which this server is the lower end (spies, UIs, upper servers):
    /// woken when another connection brings something to relay to them.
    observers: BTreeSet<u32>,
}

pub(crate) struct ServerHost {
    state: Mutex<ServerState>,
    epoch: Instant,
    store: Arc<Mutex<Store>>,
    accounts: Arc<RwLock<Vec<Account>>>,
    frame_size: Option<usize>,
    tls_timeout: Duration,
    connections: Mutex<JoinSet<()>>,
}

impl ServerState {
    fn emit(&self, e: ServerEvent) {
        // No subscriber is fine.
        let _ = self.events.send(e);
    }

    fn block_created(&mut self, conn: u32, id: BlockId) {
        let Some(b) = self.root.block(id) else {
            return;
        };
        let key = DeviceRef {
            name: b.device_name.clone(),
            number: b.device_nr,
            network: b.network.clone(),
        };
        let (name, flags, fresh) = (b.name.clone(), b.flags, b.data.clone());
        let rec = self.devices.entry(key.clone()).or_default();
        let newly = rec.conn != Some(conn);
        rec.conn = Some(conn);
        let downward = flags.contains(BlockFlags::DOWN);
        let mut restore = None;
        match rec.blocks.get_mut(&name) {
            Some(br) if br.data.len() == fresh.len() => {
                br.id = Some(id);
                br.flags = flags;
                if downward {
                    // The mirror normally starts from the owned values already (preset
                    // in `connection_lost`); if it did not (the block came back with
                    // another size first), they are written and sent now.
                    if fresh != br.owned {
                        restore = Some(br.owned.clone());
                    }
                    br.data.clone_from(&br.owned);
                }
            }
            _ => {
                rec.blocks.insert(
                    name.clone(),
                    BlockRecord {
                        id: Some(id),
                        flags,
                        owned: if downward { fresh.clone() } else { Vec::new() },
                        data: fresh,
                    },
                );
            }
        }
        self.by_block.insert(id, (key.clone(), name));
        if let Some(data) = restore {
            self.root.write(id, 0, &data);
            self.root.send(id);
            self.dirty.insert(id);
        }
        if newly {
            tracing::info!(device = %key, "device connected");
            self.emit(ServerEvent::DeviceConnected { device: key });
        }
    }

    fn data_received(&mut self, id: BlockId, range: core::ops::Range<usize>) {
        let Some((key, name)) = self.by_block.get(&id).cloned() else {
            return;
        };
        let Some(new) = self.root.read(id).map(<[u8]>::to_vec) else {
            return;
        };
        let Some(rec) = self.devices.get_mut(&key) else {
            return;
        };
        let Some(br) = rec.blocks.get_mut(&name) else {
            return;
        };
        // Only `range` is taken from the root: when several snapshots arrived in one
        // read, the root already holds the later ones, and their own events follow.
        let old = br.data.clone();
        if br.data.len() == new.len() {
            let r = range.start.min(new.len())..range.end.min(new.len());
            if let (Some(dst), Some(src)) = (br.data.get_mut(r.clone()), new.get(r)) {
                dst.copy_from_slice(src);
            }
        } else {
            br.data.clone_from(&new);
        }
        let new = br.data.clone();
        let mut events = Vec::new();
        if let Some(map_block) = rec.map.as_ref().and_then(|m| m.block(&name)) {
            for sig in map_block.signals() {
                let slot = signal::slot(sig);
                let overlaps = slot.start < range.end && range.start < slot.end;
                if overlaps && old.get(slot.clone()) != new.get(slot.clone()) {
                    match signal::read(&name, sig, &new) {
                        Ok((value, state)) => events.push(ServerEvent::SignalChanged {
                            device: key.clone(),
                            block: name.clone(),
                            signal: sig.name.clone(),
                            value,
                            state,
                        }),
                        Err(e) => tracing::debug!(device = %key, "unreadable signal: {e}"),
                    }
                }
            }
        }
        if name == "info" {
            self.learn_map(&key, &new);
        }
        for e in events {
            self.emit(e);
        }
    }

    fn learn_map(&mut self, key: &DeviceRef, info: &[u8]) {
        let map = match signal::map_from_info(&std::format!("info block of {key}"), info) {
            Ok(map) => map,
            Err(e) => {
                tracing::warn!(device = %key, "cannot read the signal map in the info block: {e}");
                return;
            }
        };
        let Some(rec) = self.devices.get_mut(key) else {
            return;
        };
        let mut events = Vec::new();
        for b in &map.blocks {
            let Some(br) = rec.blocks.get(&b.name) else {
                continue;
            };
            for sig in b.signals() {
                if let Ok((value, state)) = signal::read(&b.name, sig, &br.data)
                    && state.is_connected()
                {
                    events.push(ServerEvent::SignalChanged {
                        device: key.clone(),
                        block: b.name.clone(),
                        signal: sig.name.clone(),
                        value,
                        state,
                    });
                }
            }
        }
        rec.map = Some(map);
        tracing::info!(device = %key, "signal map learned from the info block");
        self.emit(ServerEvent::SignalMapLearned {
            device: key.clone(),
        });
        for e in events {
            self.emit(e);
        }
    }

    /// Wakes the connections on which this server is the lower end (spies, UIs, an upper
    /// server): the engine relayed what `from` brought (new blocks to announce, data,
    /// removals) into their send queues.
    fn wake_observers(&self, from: u32) {
        for id in self.observers.iter().filter(|id| **id != from) {
            if let Some(c) = self.conns.get(id) {
                c.wake.notify_one();
            }
        }
    }

    /// The device(s) on `conn` are gone: clear CONNECTED in every signal's state byte.
    fn connection_lost(&mut self, conn: u32, reason: &str) {
        let mut events = Vec::new();
        for (key, rec) in self
            .devices
            .iter_mut()
            .filter(|(_, r)| r.conn == Some(conn))
        {
            rec.conn = None;
            for (name, br) in rec.blocks.iter_mut() {
                if let Some(id) = br.id.take() {
                    self.by_block.remove(&id);
                }
                if br.flags.contains(BlockFlags::DOWN) {
                    // When the device is back, its new mirror starts from the values the
                    // server owns, so the first key frame does not carry zeros.
                    self.root.preset_dynamic_block(
                        name,
                        &key.name,
                        key.number,
                        &key.network,
                        br.owned.clone(),
                    );
                }
                let Some(mb) = rec.map.as_ref().and_then(|m| m.block(name)) else {
                    continue;
                };
                for sig in signal::mark_disconnected(mb.signals(), &mut br.data) {
                    if let Ok((value, state)) = signal::read(name, sig, &br.data) {
                        events.push(ServerEvent::SignalChanged {
                            device: key.clone(),
                            block: name.clone(),
                            signal: sig.name.clone(),
                            value,
                            state,
                        });
                    }
                }
            }
            tracing::info!(device = %key, "device disconnected: {reason}");
            events.push(ServerEvent::DeviceDisconnected {
                device: key.clone(),
                reason: reason.into(),
            });
        }
        for e in events {
            self.emit(e);
        }
    }
}

impl Host for ServerHost {
    type State = ServerState;

    fn state(&self) -> &Mutex<ServerState> {
        &self.state
    }

    fn root(state: &mut ServerState) -> &mut Root {
        &mut state.root
    }

    fn epoch(&self) -> Instant {
        self.epoch
    }

    fn opened(&self, st: &mut ServerState, conn: ConnectionId, wake: Arc<Notify>, label: &str) {
        tracing::debug!(peer = label, conn = conn.0, "IOCOM connection opened");
        st.conns.insert(conn.0, ConnInfo { wake });
    }

    fn event(&self, st: &mut ServerState, conn: ConnectionId, event: Event) -> Result<(), String> {
        tracing::trace!(conn = conn.0, ?event, "server event");
        match event {
            Event::PeerAuthenticated {
                user,
                device_nr,
                network,
                ..
            } => {
                tracing::debug!(
                    conn = conn.0,
                    user,
                    device_nr,
                    network,
                    "peer authenticated"
                );
                if st.root.is_connect_up(conn.0) {
                    st.observers.insert(conn.0);
                }
            }
            Event::BlockCreated { block } => {
                st.block_created(conn.0, block);
                st.wake_observers(conn.0);
            }
            Event::DataReceived { block, range } => {
                st.data_received(block, range);
                st.wake_observers(conn.0);
            }
            Event::BlockRemoved { block, .. } => {
                st.wake_observers(conn.0);
                if let Some((key, name)) = st.by_block.remove(&block)
                    && let Some(br) = st
                        .devices
                        .get_mut(&key)
                        .and_then(|r| r.blocks.get_mut(&name))
                {
                    br.id = None;
                }
            }
            Event::Disconnected { error } => st.connection_lost(conn.0, &error.to_string()),
            Event::UnknownSystemFrame { kind } => {
                if st.strict {
                    return Err(std::format!(
                        "peer sent a system frame of unknown type {kind:#04x} (IOCOM-10.4)"
                    ));
                }
                tracing::debug!(conn = conn.0, kind, "unknown system frame ignored");
            }
            _ => {}
        }
        Ok(())
    }

    fn before_transmit(&self, st: &mut ServerState) {
        st.root.send_dirty(&mut st.dirty);
    }

    fn closed(&self, st: &mut ServerState, conn: ConnectionId, reason: &DriveEnd) {
        st.connection_lost(conn.0, &reason.to_string());
        st.conns.remove(&conn.0);
        st.observers.remove(&conn.0);
    }
}

/// Device numbers from the database: the same unique id gets the same number after a
/// restart (§9.5); devices without a unique id (serial) get a random free number.
struct StoreNumbers {
    store: Arc<Mutex<Store>>,
    random: MemoryNumbers,
}

impl DeviceNumbers for StoreNumbers {
    fn assign(&mut self, unique_id: Option<&[u8; 12]>, in_use: &dyn Fn(u32) -> bool) -> u32 {
        if let Some(uid) = unique_id {
            let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
            match store.assign_device_number(uid, in_use) {
                Ok(Some(nr)) => return nr,
                Ok(None) => tracing::warn!("device numbers 9001..39999 exhausted"),
                Err(e) => tracing::error!("cannot persist device number: {e}"),
            }
        }
        self.random.assign(None, in_use)
    }
}

/// A running server. Dropping it does not stop it; call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    host: Arc<ServerHost>,
    listeners: JoinSet<()>,
    addrs: Vec<SocketAddr>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Server {
    /// Opens the database, binds every end point and starts accepting devices.
    pub async fn start(cfg: ServerConfig) -> Result<ServerHandle, ServerError> {
        let store = Store::open(&cfg.database)?;
        let accounts = Arc::new(RwLock::new(store.accounts()?));
        let store = Arc::new(Mutex::new(store));
        let mut identity = Identity::new(&cfg.name, &cfg.network);
        identity.device_nr = cfg.number;
        let mut root = Root::new(identity);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        root.set_device_numbers(Box::new(StoreNumbers {
            store: store.clone(),
            random: MemoryNumbers::new(seed),
        }));
        let acc = accounts.clone();
        root.set_authorizer(Box::new(move |r: &AuthRequest<'_>| {
            let list = acc.read().unwrap_or_else(|p| p.into_inner());
            if list
                .iter()
                .any(|a| a.allows(r.user, r.network, r.password_hash))
            {
                AuthDecision::Allow
            } else {
                tracing::warn!(
                    user = r.user,
                    network = r.network,
                    "authorization refused: no account matches this user, network and password"
                );
                AuthDecision::Deny
            }
        }));
        let (events, _) = broadcast::channel(4096);
        let host = Arc::new(ServerHost {
            state: Mutex::new(ServerState {
                root,
                conns: HashMap::new(),
                devices: BTreeMap::new(),
                by_block: HashMap::new(),
                dirty: BTreeSet::new(),
                events,
                strict: cfg.reject_unknown_system_frames,
                observers: BTreeSet::new(),
            }),
            epoch: Instant::now(),
            store,
            accounts,
            frame_size: cfg.frame_size,
            tls_timeout: cfg.tls_handshake_timeout,
            connections: Mutex::new(JoinSet::new()),
        });
        let mut listeners = JoinSet::new();
        let mut addrs = Vec::new();
        for ep in cfg.endpoints {
            match ep {
                Endpoint::Tcp(addr) => {
                    let l = crate::net::tcp::listen(addr).await?;
                    let local = l.local_addr()?;
                    addrs.push(local);
                    tracing::info!(%local, "IOCOM TCP listener");
                    listeners.spawn(accept_loop(host.clone(), l, None));
                }
                Endpoint::Tls {
                    addr,
                    cert_chain,
                    key,
                } => {
                    let acceptor = crate::net::tls::acceptor(cert_chain, key)?;
                    let l = crate::net::tcp::listen(addr).await?;
                    let local = l.local_addr()?;
                    addrs.push(local);
                    tracing::info!(%local, "IOCOM TLS listener");
                    listeners.spawn(accept_loop(host.clone(), l, Some(acceptor)));
                }
                Endpoint::Serial { path, baud } => {
                    listeners.spawn(serial_loop(host.clone(), path, baud));
                }
                Endpoint::Switchbox(link) => {
                    let h = host.clone();
                    listeners.spawn(crate::switchbox::run_link(link, move |stream, label| {
                        let h2 = h.clone();
                        spawn_connection(&h, async move {
                            let mut cfg = ConnectionConfig::switchbox_stream();
                            cfg.frame_size = h2.frame_size;
                            drive(&*h2, stream, cfg, &label).await;
                        });
                    }));
                }
            }
        }
        Ok(ServerHandle {
            host,
            listeners,
            addrs,
        })
    }
}

fn spawn_connection<F>(host: &ServerHost, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut set = lock(&host.connections);
    while set.try_join_next().is_some() {}
    set.spawn(fut);
}

async fn accept_loop(
    host: Arc<ServerHost>,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let h = host.clone();
        let tls = tls.clone();
        spawn_connection(&host, async move {
            let label = peer.to_string();
            let mut cfg = ConnectionConfig::socket_server(tls.is_some());
            cfg.frame_size = h.frame_size;
            match tls {
                None => {
                    drive(&*h, tcp, cfg, &label).await;
                }
                Some(acceptor) => {
                    match tokio::time::timeout(h.tls_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            drive(&*h, stream, cfg, &label).await;
                        }
                        Ok(Err(e)) => tracing::warn!(peer = %label, "TLS handshake failed: {e}"),
                        Err(_) => tracing::warn!(peer = %label, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn serial_loop(host: Arc<ServerHost>, path: String, baud: u32) {
    loop {
        match crate::net::serial::open(&path, baud) {
            Ok(port) => {
                let mut cfg = ConnectionConfig::serial_server();
                cfg.frame_size = host.frame_size;
                drive(&*host, port, cfg, &path).await;
            }
            Err(e) => tracing::warn!(port = %path, "cannot open serial port: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

impl ServerHandle {
    /// Bound addresses of the TCP and TLS end points, in the order they were configured
    /// (port 0 resolved to the port the system picked).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Serves one already open byte stream, e.g. one end of a serial pseudo-terminal pair
    /// or a port opened by the caller. `transport` says which framing it carries.
    pub fn serve_stream<S>(&self, stream: S, transport: Transport, label: &str)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let h = self.host.clone();
        let label = label.to_string();
        spawn_connection(&self.host, async move {
            let mut cfg = match transport {
                Transport::Serial => ConnectionConfig::serial_server(),
                Transport::Socket => ConnectionConfig::socket_server(false),
            };
            cfg.frame_size = h.frame_size;
            drive(&*h, stream, cfg, &label).await;
        });
    }

    fn state(&self) -> MutexGuard<'_, ServerState> {
        lock(&self.host.state)
    }

    /// Every device seen since the server started, connected or not.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        let st = self.state();
        st.devices
            .iter()
            .map(|(k, r)| DeviceInfo {
                device: k.clone(),
                connected: r.conn.is_some(),
                has_map: r.map.is_some(),
                blocks: r
                    .blocks
                    .iter()
                    .map(|(n, b)| BlockInfo {
                        name: n.clone(),
                        size: b.data.len(),
                        downward: b.flags.contains(BlockFlags::DOWN),
                    })
                    .collect(),
            })
            .collect()
    }

    /// A device's signal map, once learned.
    pub fn signal_map(&self, device: &DeviceRef) -> Option<SignalMap> {
        self.state().devices.get(device)?.map.clone()
    }

    /// A signal's last known value and state byte (CONNECTED is clear while the device
    /// is disconnected).
    pub fn read_signal(
        &self,
        device: &DeviceRef,
        block: &str,
        signal: &str,
    ) -> Result<(SignalValue, State), ServerError> {
        let st = self.state();
        let rec = st
            .devices
            .get(device)
            .ok_or_else(|| ServerError::UnknownDevice(device.clone()))?;
        let map = rec
            .map
            .as_ref()
            .ok_or_else(|| ServerError::NoSignalMap(device.clone()))?;
        let unknown = || ServerError::UnknownSignal {
            device: device.clone(),
            signal: std::format!("{block}.{signal}"),
        };
        let sig = map.signal(block, signal).ok_or_else(unknown)?;
        let br = rec.blocks.get(block).ok_or_else(unknown)?;
        Ok(signal::read(block, sig, &br.data)?)
    }

    /// Writes a signal of a downward block (state CONNECTED) and sends it to the device.
    /// While the device is disconnected the value is kept and sent when it reconnects.
    pub fn write_signal(
        &self,
        device: &DeviceRef,
        block: &str,
        signal: &str,
        value: impl Into<SignalValue>,
    ) -> Result<(), ServerError> {
        let value = value.into();
        let mut guard = self.state();
        let st = &mut *guard;
        let rec = st
            .devices
            .get_mut(device)
            .ok_or_else(|| ServerError::UnknownDevice(device.clone()))?;
        let map = rec
            .map
            .as_ref()
            .ok_or_else(|| ServerError::NoSignalMap(device.clone()))?;
        let unknown = || ServerError::UnknownSignal {
            device: device.clone(),
            signal: std::format!("{block}.{signal}"),
        };
        let sig = map.signal(block, signal).ok_or_else(unknown)?.clone();
        let br = rec.blocks.get_mut(block).ok_or_else(unknown)?;
        if !br.flags.contains(BlockFlags::DOWN) {
            return Err(ServerError::NotDownward {
                signal: std::format!("{block}.{signal}"),
            });
        }
        signal::write(block, &sig, &mut br.owned, &value, State::CONNECTED)?;
        signal::write(block, &sig, &mut br.data, &value, State::CONNECTED)?;
        let slot = signal::slot(&sig);
        let bytes = br.owned.get(slot.clone()).map(<[u8]>::to_vec);
        let id = br.id;
        let conn = rec.conn;
        if id.is_none() {
            // Offline: the reconnecting device's mirror will start from this.
            st.root.preset_dynamic_block(
                block,
                &device.name,
                device.number,
                &device.network,
                br.owned.clone(),
            );
        }
        if let (Some(id), Some(bytes)) = (id, bytes) {
            st.root.write(id, slot.start, &bytes);
            st.root.send(id);
            st.dirty.insert(id);
            if let Some(c) = conn.and_then(|c| st.conns.get(&c)) {
                c.wake.notify_one();
            }
        }
        Ok(())
    }

    /// Subscribes to device and signal events from now on.
    pub fn subscribe(&self) -> ServerEvents {
        ServerEvents(self.state().events.subscribe())
    }

    /// The accounts database.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { host: &self.host }
    }

    /// The remembered (unique id, device number) pairs.
    pub fn device_numbers(&self) -> Result<Vec<([u8; 12], u32)>, ServerError> {
        Ok(lock(&self.host.store).device_numbers()?)
    }

    /// Stops listening, drops every connection and waits until all tasks are gone.
    pub async fn shutdown(mut self) {
        self.listeners.abort_all();
        while self.listeners.join_next().await.is_some() {}
        let mut conns = std::mem::take(&mut *lock(&self.host.connections));
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

/// Account management (§9.4); changes apply to the next authentication.
#[derive(Debug)]
pub struct Accounts<'a> {
    host: &'a ServerHost,
}

impl std::fmt::Debug for ServerHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHost").finish_non_exhaustive()
    }
}

impl Accounts<'_> {
    /// Adds or replaces an account.
    pub fn put(&self, account: &Account) -> Result<(), ServerError> {
        let store = lock(&self.host.store);
        store.put_account(account)?;
        *self
            .host
            .accounts
            .write()
            .unwrap_or_else(|p| p.into_inner()) = store.accounts()?;
        Ok(())
    }

    /// Adds a user (device name, with its number if fixed, or a wildcard pattern) with a
    /// password, allowed on `networks`.
    pub fn add_user(
        &self,
        user: &str,
        password: &str,
        networks: &[&str],
    ) -> Result<(), ServerError> {
        self.put(&Account::new(user, password, networks))
    }

    /// Removes an account; `true` if it existed.
    pub fn remove(&self, user: &str) -> Result<bool, ServerError> {
        let store = lock(&self.host.store);
        let existed = store.remove_account(user)?;
        *self
            .host
            .accounts
            .write()
            .unwrap_or_else(|p| p.into_inner()) = store.accounts()?;
        Ok(existed)
    }

    /// All accounts.
    pub fn list(&self) -> Result<Vec<Account>, ServerError> {
        Ok(lock(&self.host.store).accounts()?)
    }
}
