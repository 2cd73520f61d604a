//! The switchbox relay (reference §17), TLS only.
//!
//! ```text
//!  device ──TLS──► client task ─┐                         ┌─► service writer ──TLS──► service
//!  device ──TLS──► client task ─┼─ LinkOut (bounded mpsc) ┘
//!                               │
//!  device ◄──TLS── client writer ◄─ Vec<u8> (per client) ◄─ service reader ◄──TLS── service
//! ```
//!
//! One task per service connection reads and demultiplexes, one writes (so a slow
//! reader on either end can never deadlock both directions). Each client has a reader
//! task that forwards its bytes to the service writer (bounded channel: a client that
//! floods waits, nobody else does) and a writer task fed by the service reader (a
//! client that does not read is dropped once [`SwitchboxConfig::client_queue_limit`]
//! bytes wait for it, so it cannot stall the service's other clients).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::string::{String, ToString};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use std::vec::Vec;

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{CertificateAnswer, ClientHandshake, TlsMark};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

use super::accounts::{ServiceAccount, ServiceStore};
use super::hello::{self, HelloError, PeerAuth};
use super::mux::{self, MuxDecoder, MuxMessage};
use crate::net::tls::TlsError;
use crate::server::store::StoreError;

/// Default switchbox port for IOCOM (§18).
pub const DEFAULT_SWITCHBOX_PORT: u16 = 6362;

type Tls = tokio_rustls::server::TlsStream<TcpStream>;

/// How to run a switchbox.
#[derive(Debug)]
pub struct SwitchboxConfig {
    /// Address to bind (port 0 picks a free one; see [`SwitchboxHandle::local_addr`]).
    pub listen: SocketAddr,
    /// Certificate chain (switchbox first).
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
    /// SQLite database of service accounts (created if missing).
    pub database: PathBuf,
    /// Time allowed for the TLS handshake plus the IOCOM handshake.
    pub handshake_timeout: Duration,
    /// Time a service has to send its authentication frame (§17: 20 s).
    pub auth_timeout: Duration,
    /// Most clients at once per IO network (client ids are 1..=65535).
    pub max_clients_per_network: u16,
    /// Bytes that may wait for one client before it is dropped as not reading.
    pub client_queue_limit: usize,
    /// Largest data length accepted in one message from a service.
    pub max_message_data: usize,
    /// A keep-alive goes to a service after this long without writing (§17: 10 s).
    pub keepalive: Duration,
    /// A service silent for this long is dropped.
    pub silence_timeout: Duration,
}

impl SwitchboxConfig {
    /// A switchbox on `listen` with the defaults of §17.
    pub fn new(
        listen: SocketAddr,
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        database: impl Into<PathBuf>,
    ) -> Self {
        SwitchboxConfig {
            listen,
            cert_chain,
            key,
            database: database.into(),
            handshake_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(20),
            max_clients_per_network: u16::MAX,
            client_queue_limit: 1 << 20,
            max_message_data: mux::DEFAULT_MAX_DATA,
            keepalive: Duration::from_secs(10),
            silence_timeout: Duration::from_secs(30),
        }
    }
}

/// Starting or managing a switchbox failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SwitchboxError {
    /// Binding the listener.
    Io(std::io::Error),
    /// TLS configuration.
    Tls(TlsError),
    /// The accounts database.
    Store(StoreError),
}

impl fmt::Display for SwitchboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchboxError::Io(e) => write!(f, "{e}"),
            SwitchboxError::Tls(e) => write!(f, "{e}"),
            SwitchboxError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SwitchboxError {}

impl From<std::io::Error> for SwitchboxError {
    fn from(e: std::io::Error) -> Self {
        SwitchboxError::Io(e)
    }
}
impl From<TlsError> for SwitchboxError {
    fn from(e: TlsError) -> Self {
        SwitchboxError::Tls(e)
    }
}
impl From<StoreError> for SwitchboxError {
    fn from(e: StoreError) -> Self {
        SwitchboxError::Store(e)
    }
}

/// One published IO network, as [`SwitchboxHandle::networks`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkStatus {
    /// IO network name.
    pub network: String,
    /// Account of the service that published it.
    pub owner: String,
    /// Address of the service's connection.
    pub service: SocketAddr,
    /// Client ids in use, ascending.
    pub clients: Vec<u16>,
}

/// Starts switchboxes; see [`Switchbox::start`].
#[derive(Debug)]
pub struct Switchbox;

/// What goes to a service.
enum LinkOut {
    New(u16),
    Dropped(u16),
    Data(u16, Vec<u8>),
}

struct ClientSlot {
    to_client: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
}

struct Service {
    owner: String,
    generation: u64,
    peer: SocketAddr,
    to_service: mpsc::Sender<LinkOut>,
    clients: HashMap<u16, ClientSlot>,
    next_id: u16,
    stop: Arc<Notify>,
}

struct Limits {
    handshake_timeout: Duration,
    auth_timeout: Duration,
    max_clients: u16,
    client_queue_limit: usize,
    max_message_data: usize,
    keepalive: Duration,
    silence_timeout: Duration,
}

struct Shared {
    networks: Mutex<HashMap<String, Service>>,
    store: Mutex<ServiceStore>,
    limits: Limits,
    generation: AtomicU64,
    certificate: Vec<u8>,
    tasks: Mutex<JoinSet<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take every connection down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) {
        let mut set = lock(&self.tasks);
        while set.try_join_next().is_some() {}
        set.spawn(fut);
    }
}

/// A running switchbox. Dropping it does not stop it; call [`SwitchboxHandle::shutdown`].
pub struct SwitchboxHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    listener: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for SwitchboxHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwitchboxHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Switchbox {
    /// Opens the accounts database, binds the TLS listener and starts relaying.
    pub async fn start(cfg: SwitchboxConfig) -> Result<SwitchboxHandle, SwitchboxError> {
        let store = ServiceStore::open(&cfg.database)?;
        let certificate = cfg
            .cert_chain
            .first()
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default();
        let acceptor = crate::net::tls::acceptor(cfg.cert_chain, cfg.key)?;
        let listener = crate::net::tcp::listen(cfg.listen).await?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "switchbox TLS listener");
        let shared = Arc::new(Shared {
            networks: Mutex::new(HashMap::new()),
            store: Mutex::new(store),
            limits: Limits {
                handshake_timeout: cfg.handshake_timeout,
                auth_timeout: cfg.auth_timeout,
                max_clients: cfg.max_clients_per_network.max(1),
                client_queue_limit: cfg.client_queue_limit,
                max_message_data: cfg.max_message_data,
                keepalive: cfg.keepalive,
                silence_timeout: cfg.silence_timeout,
            },
            generation: AtomicU64::new(1),
            certificate,
            tasks: Mutex::new(JoinSet::new()),
        });
        let s = shared.clone();
        let listener = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("switchbox accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let s2 = s.clone();
                let acceptor = acceptor.clone();
                s.spawn(async move { accept(s2, acceptor, tcp, peer).await });
            }
        });
        Ok(SwitchboxHandle {
            shared,
            addr,
            listener,
        })
    }
}

impl SwitchboxHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The IO networks published now, by name.
    pub fn networks(&self) -> Vec<NetworkStatus> {
        let nets = lock(&self.shared.networks);
        let mut out: Vec<NetworkStatus> = nets
            .iter()
            .map(|(name, s)| {
                let mut clients: Vec<u16> = s.clients.keys().copied().collect();
                clients.sort_unstable();
                NetworkStatus {
                    network: name.clone(),
                    owner: s.owner.clone(),
                    service: s.peer,
                    clients,
                }
            })
            .collect();
        out.sort_by(|a, b| a.network.cmp(&b.network));
        out
    }

    /// Adds or replaces a service account.
    pub fn add_account(&self, account: &ServiceAccount) -> Result<(), SwitchboxError> {
        Ok(lock(&self.shared.store).put(account)?)
    }

    /// Removes a service account (services already connected stay); `true` if it existed.
    pub fn remove_account(&self, user: &str) -> Result<bool, SwitchboxError> {
        Ok(lock(&self.shared.store).remove(user)?)
    }

    /// All service accounts.
    pub fn accounts(&self) -> Result<Vec<ServiceAccount>, SwitchboxError> {
        Ok(lock(&self.shared.store).list()?)
    }

    /// Stops listening and closes every connection.
    pub async fn shutdown(self) {
        self.listener.abort();
        let _ = self.listener.await;
        let mut tasks = std::mem::take(&mut *lock(&self.shared.tasks));
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        lock(&self.shared.networks).clear();
    }
}

/// TLS handshake, mark byte, IOCOM handshake; then the connection is a service or a
/// client.
async fn accept(
    shared: Arc<Shared>,
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let limits = &shared.limits;
    let opened = tokio::time::timeout(limits.handshake_timeout, async {
        let mut tls = acceptor
            .accept(tcp)
            .await
            .map_err(|e| std::format!("TLS handshake failed: {e}"))?;
        let mut mark = Vec::new();
        let _ = TlsMark {}.encode(&mut mark);
        tls.write_all(&mark)
            .await
            .map_err(|e| std::format!("cannot write the TLS mark: {e}"))?;
        tls.flush()
            .await
            .map_err(|e| std::format!("cannot write the TLS mark: {e}"))?;
        let mut rx = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match ClientHandshake::decode(&rx) {
                Ok(Decoded::Complete(hs, used)) => {
                    let role = hs.client_type.role;
                    let cert_request = hs.client_type.cert_request;
                    let network = hs.network.map(str::to_string);
                    let rest = rx.get(used..).unwrap_or_default().to_vec();
                    return Ok::<_, String>((tls, role, cert_request, network, rest));
                }
                Ok(Decoded::Incomplete(_)) => {}
                Err(e) => return Err(std::format!("malformed IOCOM handshake: {e}")),
            }
            let n = tls
                .read(&mut buf)
                .await
                .map_err(|e| std::format!("reading the handshake: {e}"))?;
            if n == 0 {
                return Err("connection closed before the IOCOM handshake".into());
            }
            rx.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
    })
    .await;
    let (mut tls, role, cert_request, network, rest) = match opened {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            tracing::warn!(%peer, "switchbox connection refused: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "switchbox connection refused: handshake timed out");
            return;
        }
    };
    if cert_request {
        // §8.1 step 4: the certificate the client could not obtain otherwise.
        let mut answer = Vec::new();
        let cert = shared.certificate.as_slice();
        let cert = if cert.len() <= usize::from(u16::MAX) {
            cert
        } else {
            &[]
        };
        let _ = CertificateAnswer { certificate: cert }.encode(&mut answer);
        if tls.write_all(&answer).await.is_err() {
            return;
        }
    }
    let Some(network) = network.filter(|n| !n.is_empty()) else {
        tracing::warn!(%peer, "switchbox connection refused: the IOCOM handshake names no IO network, and a switchbox routes only by that name");
        return close(tls).await;
    };
    match role {
        hello::ROLE_SERVICE => service(shared, tls, peer, network, rest).await,
        hello::ROLE_CLIENT => client(shared, tls, peer, network, rest).await,
        other => {
            // The codec accepts only 0x12 and 0x13; kept for a future third role.
            tracing::warn!(%peer, role = other, "switchbox connection refused: unknown handshake role");
            close(tls).await;
        }
    }
}

/// Ends a refused connection with a TLS close_notify, so the peer sees a clean close.
async fn close(mut tls: Tls) {
    let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
}

// ------------------------------------------------------------------ services

async fn read_auth(tls: &mut Tls, mut rx: Vec<u8>) -> Result<(PeerAuth, Vec<u8>), String> {
    let mut buf = [0u8; 256];
    loop {
        match hello::decode_auth(&rx) {
            Ok(Decoded::Complete(a, used)) => {
                return Ok((a, rx.get(used..).unwrap_or_default().to_vec()));
            }
            Ok(Decoded::Incomplete(_)) => {}
            Err(e @ (HelloError::Decode(_) | HelloError::TooLong { .. })) => {
                return Err(e.to_string());
            }
            Err(e) => return Err(e.to_string()),
        }
        let n = tls
            .read(&mut buf)
            .await
            .map_err(|e| std::format!("reading the authentication frame: {e}"))?;
        if n == 0 {
            return Err("connection closed before the authentication frame".into());
        }
        rx.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
}

async fn service(
    shared: Arc<Shared>,
    mut tls: Tls,
    peer: SocketAddr,
    network: String,
    rest: Vec<u8>,
) {
    let limits = &shared.limits;
    let auth = match tokio::time::timeout(limits.auth_timeout, read_auth(&mut tls, rest)).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            tracing::warn!(%peer, %network, "service refused: {e}");
            return close(tls).await;
        }
        Err(_) => {
            tracing::warn!(%peer, %network, "service refused: no authentication frame within {:?}", limits.auth_timeout);
            return close(tls).await;
        }
    };
    let (PeerAuth { user, password }, early) = auth;
    let account = lock(&shared.store).authenticate(&user, &password, &network);
    let account = match account {
        Ok(Some(a)) => a,
        Ok(None) => {
            tracing::warn!(%peer, %network, user, "service refused: no service account lets this user publish this IO network with this password");
            return close(tls).await;
        }
        Err(e) => {
            tracing::error!(%peer, %network, "service refused: accounts database: {e}");
            return close(tls).await;
        }
    };
    let generation = shared.generation.fetch_add(1, Ordering::Relaxed);
    let (to_service, from_clients) = mpsc::channel(1024);
    let stop = Arc::new(Notify::new());
    // Check and register under one lock, so two services cannot both win.
    let taken = {
        let mut nets = lock(&shared.networks);
        match nets.get(&network) {
            Some(old) if old.owner != account.user => Some(old.owner.clone()),
            old => {
                if let Some(old) = old {
                    // The owner again (e.g. its old connection died without us noticing
                    // yet): the new connection wins, the old one and its clients close.
                    tracing::warn!(%peer, %network, old = %old.peer,
                        "IO network taken over by a new connection of its owner; old service connection closed");
                    old.stop.notify_one();
                }
                nets.insert(
                    network.clone(),
                    Service {
                        owner: account.user.clone(),
                        generation,
                        peer,
                        to_service: to_service.clone(),
                        clients: HashMap::new(),
                        next_id: 1,
                        stop: stop.clone(),
                    },
                );
                None
            }
        }
    };
    if let Some(owner) = taken {
        tracing::warn!(%peer, %network, user = account.user, owner,
            "service refused: IO network is already published by another account");
        return close(tls).await;
    }
    let mut hello_out = Vec::new();
    let _ = hello::encode_auth("switchbox", "", &[0; 12], &mut hello_out);
    let ok = tls.write_all(&hello_out).await.is_ok() && tls.flush().await.is_ok();
    let reason = if ok {
        tracing::info!(%peer, %network, owner = account.user, "IO network published");
        let (rd, wr) = tokio::io::split(tls);
        let writer = tokio::spawn(write_service(wr, from_clients, limits.keepalive));
        let reason = tokio::select! {
            r = read_service(&shared, rd, early, &network, generation, &to_service) => r,
            () = stop.notified() => "replaced by a new connection of its owner".to_string(),
        };
        writer.abort();
        reason
    } else {
        "cannot send the authentication frame".to_string()
    };
    let closed = {
        let mut nets = lock(&shared.networks);
        match nets.get(&network) {
            Some(s) if s.generation == generation => nets.remove(&network).map(|s| s.clients.len()),
            _ => None,
        }
    };
    tracing::warn!(%peer, %network, clients_closed = closed.unwrap_or(0), "service connection ended: {reason}");
}

/// Writes messages to the service, batching what is queued; a keep-alive after
/// `keepalive` without writing.
async fn write_service(
    mut wr: WriteHalf<Tls>,
    mut rx: mpsc::Receiver<LinkOut>,
    keepalive: Duration,
) {
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        match tokio::time::timeout(keepalive, rx.recv()).await {
            Ok(Some(m)) => {
                encode_out(&m, &mut out);
                while out.len() < 64 * 1024 {
                    match rx.try_recv() {
                        Ok(m) => encode_out(&m, &mut out),
                        Err(_) => break,
                    }
                }
            }
            Ok(None) => return,
            Err(_) => mux::encode_keepalive(&mut out),
        }
        if wr.write_all(&out).await.is_err() || wr.flush().await.is_err() {
            return;
        }
        out.clear();
    }
}

fn encode_out(m: &LinkOut, out: &mut Vec<u8>) {
    match m {
        LinkOut::New(id) => mux::encode_new_connection(*id, out),
        LinkOut::Dropped(id) => mux::encode_connection_dropped(*id, out),
        LinkOut::Data(id, d) => mux::encode_data(*id, d, out),
    }
}

/// Reads and dispatches the service's messages until the connection ends; returns why.
async fn read_service(
    shared: &Shared,
    mut rd: ReadHalf<Tls>,
    early: Vec<u8>,
    network: &str,
    generation: u64,
    to_service: &mpsc::Sender<LinkOut>,
) -> String {
    let limits = &shared.limits;
    let mut dec = MuxDecoder::new(limits.max_message_data);
    // Messages that arrived together with the authentication frame.
    dec.push(&early);
    let mut buf = std::vec![0u8; 32 * 1024];
    let mut first = true;
    loop {
        if !std::mem::take(&mut first) {
            let n = match tokio::time::timeout(limits.silence_timeout, rd.read(&mut buf)).await {
                Err(_) => return std::format!("silent for {:?}", limits.silence_timeout),
                Ok(Ok(0)) => return "service closed the connection".into(),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return std::format!("transport error: {e}"),
            };
            dec.push(buf.get(..n).unwrap_or_default());
        }
        loop {
            let msg = match dec.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => return std::format!("{e}"),
            };
            let reply = match msg {
                MuxMessage::KeepAlive => None,
                MuxMessage::NewConnection(id) => {
                    return std::format!(
                        "service sent NEW_CONNECTION for client {id}; only the switchbox opens client streams (SWB-17-3)"
                    );
                }
                MuxMessage::ConnectionDropped(id) => {
                    let mut nets = lock(&shared.networks);
                    if let Some(s) = nets.get_mut(network).filter(|s| s.generation == generation)
                        && s.clients.remove(&id).is_some()
                    {
                        tracing::info!(network, client = id, "service closed client stream");
                    }
                    None
                }
                MuxMessage::Data(id, data) => deliver(shared, network, generation, id, data),
            };
            if let Some(r) = reply
                && to_service.send(r).await.is_err()
            {
                return "service writer ended".into();
            }
        }
    }
}

/// Queues `data` for client `id`; a reply for the service if the client is unknown or
/// had to be dropped.
fn deliver(
    shared: &Shared,
    network: &str,
    generation: u64,
    id: u16,
    data: Vec<u8>,
) -> Option<LinkOut> {
    let mut nets = lock(&shared.networks);
    let s = nets
        .get_mut(network)
        .filter(|s| s.generation == generation)?;
    let Some(slot) = s.clients.get(&id) else {
        tracing::debug!(
            network,
            client = id,
            "data from the service for an unknown client: CONNECTION_DROPPED sent back"
        );
        return Some(LinkOut::Dropped(id));
    };
    let len = data.len();
    let queued = slot.queued.fetch_add(len, Ordering::Relaxed) + len;
    if queued > shared.limits.client_queue_limit || slot.to_client.send(data).is_err() {
        s.clients.remove(&id);
        tracing::warn!(
            network,
            client = id,
            queued,
            "client dropped: it does not read what its service sends"
        );
        return Some(LinkOut::Dropped(id));
    }
    None
}

// ------------------------------------------------------------------ clients

async fn client(shared: Arc<Shared>, tls: Tls, peer: SocketAddr, network: String, rest: Vec<u8>) {
    let (to_client, from_service) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let registered = {
        let mut nets = lock(&shared.networks);
        match nets.get_mut(&network) {
            None => Err("no service has published this IO network".to_string()),
            Some(s) if s.clients.len() >= usize::from(shared.limits.max_clients) => {
                Err(std::format!(
                    "the IO network has its maximum of {} clients",
                    shared.limits.max_clients
                ))
            }
            Some(s) => {
                // Round-robin ids: a freed id is reused as late as possible, so bytes
                // the service still had in flight for it cannot reach a newcomer.
                let mut id = s.next_id;
                while id == 0 || s.clients.contains_key(&id) {
                    id = id.wrapping_add(1);
                }
                s.next_id = id.wrapping_add(1);
                s.clients.insert(
                    id,
                    ClientSlot {
                        to_client,
                        queued: queued.clone(),
                    },
                );
                Ok((id, s.generation, s.to_service.clone()))
            }
        }
    };
    let (id, generation, to_service) = match registered {
        Ok(x) => x,
        Err(reason) => {
            tracing::warn!(%peer, %network, "client refused: {reason}");
            return close(tls).await;
        }
    };
    tracing::info!(%peer, %network, client = id, "client connected");
    let mut ok = to_service.send(LinkOut::New(id)).await.is_ok();
    if ok && !rest.is_empty() {
        ok = to_service.send(LinkOut::Data(id, rest)).await.is_ok();
    }
    let (mut rd, wr) = tokio::io::split(tls);
    let mut writer = tokio::spawn(write_client(wr, from_service, queued.clone()));
    let reason = if ok {
        let mut buf = std::vec![0u8; 16 * 1024];
        loop {
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) => break "client closed the connection".to_string(),
                    Ok(n) => {
                        let data = buf.get(..n).unwrap_or_default().to_vec();
                        if to_service.send(LinkOut::Data(id, data)).await.is_err() {
                            break "service connection ended".to_string();
                        }
                    }
                    Err(e) => break std::format!("transport error: {e}"),
                },
                _ = &mut writer => break "closed by the service or the switchbox".to_string(),
            }
        }
    } else {
        "service connection ended".to_string()
    };
    writer.abort();
    // Free the id and tell the service, unless it was the service that closed it.
    let ours = {
        let mut nets = lock(&shared.networks);
        nets.get_mut(&network)
            .filter(|s| s.generation == generation)
            .and_then(|s| match s.clients.get(&id) {
                Some(slot) if Arc::ptr_eq(&slot.queued, &queued) => s.clients.remove(&id),
                _ => None,
            })
            .is_some()
    };
    if ours {
        let _ = to_service.send(LinkOut::Dropped(id)).await;
    }
    tracing::info!(%peer, %network, client = id, "client disconnected: {reason}");
}

async fn write_client<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
) {
    while let Some(first) = rx.recv().await {
        queued.fetch_sub(first.len(), Ordering::Relaxed);
        let mut out = first;
        while out.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(more) => {
                    queued.fetch_sub(more.len(), Ordering::Relaxed);
                    out.extend_from_slice(&more);
                }
                Err(_) => break,
            }
        }
        if wr.write_all(&out).await.is_err() || wr.flush().await.is_err() {
            return;
        }
    }
    // The service or the switchbox closed this client: TLS close_notify.
    let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
}
