//! In-process targets for the main job: an IOCOM server and an IOCOM device built on
//! the sans-I/O engine with tokio, on loopback. Both can take a [`Filter`] on their
//! byte streams, which is how test doubles inject faults. The runtime's real tokio
//! roles are the targets of [`crate::runtime_targets`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferrocom_runtime::iocom::{
    BlockFlags, Connection, ConnectionConfig, Event, Identity, MemoryNumbers, Root,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::case::Role;

/// A started in-process target.
#[derive(Debug)]
pub struct Started {
    /// Server: where it listens. Device: the suite's listening address it connects to.
    pub addr: SocketAddr,
    /// Its role.
    pub role: Role,
    /// Name for reports and the expected-failures file.
    pub name: String,
    /// Stops it when dropped.
    pub guard: TaskGuard,
}

/// Stops the target when dropped: aborts its tasks and drops its stop senders (the
/// tasks awaiting them shut their roles down gracefully).
#[derive(Debug, Default)]
pub struct TaskGuard {
    tasks: Vec<JoinHandle<()>>,
    stops: Vec<oneshot::Sender<()>>,
}

impl TaskGuard {
    /// A guard that aborts `tasks`.
    pub fn new(tasks: Vec<JoinHandle<()>>) -> Self {
        TaskGuard {
            tasks,
            stops: Vec::new(),
        }
    }

    /// Also signals `stop` (by dropping it) when the guard is dropped: a task awaiting
    /// the receiver can shut its target down gracefully.
    pub fn stop_with(mut self, stop: oneshot::Sender<()>) -> Self {
        self.stops.push(stop);
        self
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.stops.clear();
    }
}

/// The future of [`InProcessTarget::start`].
pub type StartFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Started>> + Send + 'a>>;

/// A target the main job starts in-process on loopback.
pub trait InProcessTarget: Send + Sync {
    /// Its role.
    fn role(&self) -> Role;
    /// Starts it. A device is given the address of the suite's listener (`suite`).
    fn start(&self, suite: Option<SocketAddr>) -> StartFuture<'_>;
    /// TLS for the suite's end (client side against a server, server side for a
    /// device); `None` = plain TCP.
    fn tls(&self) -> Option<Arc<dyn crate::peer::TlsProvider>> {
        None
    }
    /// Adjusts the case settings for this target (e.g. an account it holds).
    fn adjust(&self, _settings: &mut crate::case::CaseSettings) {}
    /// Leaves out the slow timer cases (keep-alive, silence: 10 to 24 s each), e.g. for
    /// a TLS variant whose plain TCP twin runs them: timers do not depend on the
    /// transport.
    fn skip_slow(&self) -> bool {
        false
    }
}

/// Rewrites one direction of a connection's byte stream (test doubles inject faults
/// here). `None` from [`Filter::incoming`] drops the connection.
pub trait Filter: Send {
    /// Bytes the engine wants to send.
    fn outgoing(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        bytes
    }
    /// Bytes received from the peer, before the engine sees them.
    fn incoming(&mut self, bytes: Vec<u8>) -> Option<Vec<u8>> {
        Some(bytes)
    }
}

/// Makes one filter per connection.
pub type FilterFactory = Arc<dyn Fn() -> Box<dyn Filter> + Send + Sync>;

struct NoFilter;
impl Filter for NoFilter {}

fn no_filter() -> FilterFactory {
    Arc::new(|| Box::new(NoFilter))
}

/// An IOCOM server on the engine: dynamic blocks, and reflection of the conformance
/// device map (`exp` of a device is copied into its `imp`).
#[derive(Clone)]
pub struct EngineServer {
    /// Name in reports.
    pub name: String,
    /// Network served.
    pub network: String,
    /// Copy `exp` into `imp` (conformance device map).
    pub reflect: bool,
    /// Stream filter (faults).
    pub filter: FilterFactory,
}

impl std::fmt::Debug for EngineServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineServer")
            .field("name", &self.name)
            .finish()
    }
}

impl Default for EngineServer {
    fn default() -> Self {
        EngineServer {
            name: "ferrocom-engine-server".into(),
            network: "cafenet".into(),
            reflect: true,
            filter: no_filter(),
        }
    }
}

impl InProcessTarget for EngineServer {
    fn role(&self) -> Role {
        Role::Server
    }

    fn start(&self, _suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let mut root = Root::new(Identity::new("ferrosrv", &self.network));
            root.set_device_numbers(Box::new(MemoryNumbers::new(1)));
            let shared = Arc::new(Shared {
                root: Mutex::new(root),
                changed: watch::channel(0u64).0,
                start: Instant::now(),
            });
            let me = self.clone();
            let task = tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let _ = tcp.set_nodelay(true);
                    let shared = shared.clone();
                    let filter = (me.filter)();
                    let reflect = me.reflect;
                    tokio::spawn(async move {
                        run_conn(
                            tcp,
                            shared,
                            ConnectionConfig::socket_server(false),
                            filter,
                            reflect,
                        )
                        .await;
                    });
                }
            });
            Ok(Started {
                addr,
                role: Role::Server,
                name: self.name.clone(),
                guard: TaskGuard::new(vec![task]),
            })
        })
    }
}

/// An IOCOM device on the engine (`ferrodev`, automatic number, `exp` and `imp` of the
/// conformance map) that connects to the suite and reconnects 50 ms after a drop.
#[derive(Clone)]
pub struct EngineDevice {
    /// Name in reports.
    pub name: String,
    /// Network.
    pub network: String,
    /// Stream filter (faults).
    pub filter: FilterFactory,
}

impl std::fmt::Debug for EngineDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineDevice")
            .field("name", &self.name)
            .finish()
    }
}

impl Default for EngineDevice {
    fn default() -> Self {
        EngineDevice {
            name: "ferrocom-engine-device".into(),
            network: "cafenet".into(),
            filter: no_filter(),
        }
    }
}

impl InProcessTarget for EngineDevice {
    fn role(&self) -> Role {
        Role::Device
    }

    fn start(&self, suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let addr =
                suite.ok_or_else(|| io::Error::other("a device needs the suite's address"))?;
            let mut id = Identity::new("ferrodev", &self.network);
            id.unique_id = [0xFE, 0xD0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
            let mut root = Root::new(id);
            let up = BlockFlags(BlockFlags::UP.0 | BlockFlags::BIDIRECTIONAL.0);
            let down = BlockFlags(BlockFlags::DOWN.0 | BlockFlags::BIDIRECTIONAL.0);
            let mut exp_init = vec![0u8; 64];
            exp_init[..8].copy_from_slice(&[2, 1, 2, 3, 4, 5, 6, 7]);
            root.create_block("exp", up, exp_init);
            root.create_block("imp", down, vec![0; 64]);
            let shared = Arc::new(Shared {
                root: Mutex::new(root),
                changed: watch::channel(0u64).0,
                start: Instant::now(),
            });
            let filter = self.filter.clone();
            let task = tokio::spawn(async move {
                loop {
                    if let Ok(tcp) = TcpStream::connect(addr).await {
                        let _ = tcp.set_nodelay(true);
                        run_conn(
                            tcp,
                            shared.clone(),
                            ConnectionConfig::socket_client(false),
                            filter(),
                            false,
                        )
                        .await;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
            Ok(Started {
                addr,
                role: Role::Device,
                name: self.name.clone(),
                guard: TaskGuard::new(vec![task]),
            })
        })
    }
}

struct Shared {
    root: Mutex<Root>,
    /// Bumped whenever a connection changed a block other connections may send.
    changed: watch::Sender<u64>,
    start: Instant,
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Drives one connection until it fails or the peer closes.
async fn run_conn(
    mut tcp: TcpStream,
    shared: Arc<Shared>,
    cfg: ConnectionConfig,
    mut filter: Box<dyn Filter>,
    reflect: bool,
) {
    let mut changed = shared.changed.subscribe();
    let mut conn = {
        let mut root = shared.root.lock().unwrap_or_else(PoisonError::into_inner);
        Connection::new(&mut root, cfg, shared.now())
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut ok = true;
    while ok {
        let (out, timeout) = {
            let mut root = shared.root.lock().unwrap_or_else(PoisonError::into_inner);
            let now = shared.now();
            if reflect {
                // A write made while the previous snapshot was still in transmission
                // waits for another `send` (engine departure 9).
                let imps: Vec<_> = root
                    .blocks()
                    .filter(|b| b.name == "imp")
                    .map(|b| b.id)
                    .collect();
                for id in imps {
                    root.send(id);
                }
            }
            let mut out = Vec::new();
            conn.poll_transmit(&mut root, now, &mut out);
            let mut bump = false;
            while let Some(ev) = conn.poll_event() {
                match ev {
                    Event::DataReceived { block, .. } if reflect => {
                        bump |= reflect_block(&mut root, block);
                    }
                    Event::DataReceived { .. } | Event::BlockCreated { .. } => bump = true,
                    Event::Disconnected { .. } => ok = false,
                    _ => {}
                }
            }
            if bump {
                shared.changed.send_modify(|g| *g += 1);
            }
            (out, conn.poll_timeout())
        };
        if !out.is_empty() {
            let out = filter.outgoing(out);
            if tcp.write_all(&out).await.is_err() {
                break;
            }
        }
        if !ok {
            break;
        }
        let wait = timeout.map_or(Duration::from_secs(3600), |t| {
            Duration::from_millis(t.saturating_sub(shared.now()).max(1))
        });
        tokio::select! {
            r = tcp.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let Some(bytes) = filter.incoming(buf[..n].to_vec()) else { break };
                    let mut root = shared.root.lock().unwrap_or_else(PoisonError::into_inner);
                    let now = shared.now();
                    if conn.handle_input(&mut root, &bytes, now).is_err() {
                        // Flush what the engine still wants to say? A C end just closes.
                        break;
                    }
                }
            },
            _ = tokio::time::sleep(wait) => {
                let mut root = shared.root.lock().unwrap_or_else(PoisonError::into_inner);
                let now = shared.now();
                if conn.handle_timeout(&mut root, now).is_err() {
                    break;
                }
            }
            _ = changed.changed() => {}
        }
    }
    let _ = tcp.shutdown().await;
    let mut root = shared.root.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = conn.close(&mut root);
    drop(root);
    shared.changed.send_modify(|g| *g += 1);
}

/// Conformance device map: a snapshot received in `exp` is copied into the same
/// device's `imp` and sent. Returns `true` if it wrote.
fn reflect_block(root: &mut Root, block: ferrocom_runtime::iocom::BlockId) -> bool {
    let Some(b) = root.block(block) else {
        return false;
    };
    if b.name != "exp" {
        return true;
    }
    let (dn, nr, net, data) = (
        b.device_name.clone(),
        b.device_nr,
        b.network.clone(),
        b.data.clone(),
    );
    let Some(imp) = root.find_block("imp", &dn, nr, &net).map(|b| b.id) else {
        return true;
    };
    let n = data.len().min(root.block(imp).map_or(0, |b| b.data.len()));
    root.write(imp, 0, &data[..n]);
    root.send(imp);
    true
}
