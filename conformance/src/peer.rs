//! Transport to the target and the wire log: every byte both ways, with timestamps.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A byte stream to the target (plain TCP, or TLS from a [`TlsProvider`]).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The future of a TLS wrap.
pub type TlsFuture = Pin<Box<dyn Future<Output = io::Result<Box<dyn Stream>>> + Send>>;

/// Plugs TLS in (the runtime's rustls adapter, later): wraps a connected TCP stream.
pub trait TlsProvider: Send + Sync + fmt::Debug {
    /// Client side (the suite connects to a server).
    fn client(&self, tcp: TcpStream, server_name: &str) -> TlsFuture;
    /// Server side (a device connects to the suite).
    fn server(&self, tcp: TcpStream) -> TlsFuture;
}

/// Where the target is.
#[derive(Debug)]
pub enum Endpoint {
    /// The suite connects to `addr` (target is a server, broker or switchbox).
    Connect {
        /// `host:port`.
        addr: String,
        /// TLS, if any.
        tls: Option<Arc<dyn TlsProvider>>,
    },
    /// The target connects to the suite (a device); cases accept its connections.
    Accept {
        /// The listening socket.
        listener: TcpListener,
        /// TLS, if any.
        tls: Option<Arc<dyn TlsProvider>>,
        /// How long to wait for the device to (re)connect.
        wait: Duration,
    },
}

impl Endpoint {
    /// `true` when TLS is used.
    pub fn is_tls(&self) -> bool {
        match self {
            Endpoint::Connect { tls, .. } | Endpoint::Accept { tls, .. } => tls.is_some(),
        }
    }

    /// Address for reports.
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Connect { addr, tls } => {
                format!("{}://{addr}", if tls.is_some() { "tls" } else { "tcp" })
            }
            Endpoint::Accept { listener, tls, .. } => format!(
                "{}://{} (listening)",
                if tls.is_some() { "tls" } else { "tcp" },
                listener
                    .local_addr()
                    .map_or_else(|_| "?".into(), |a: SocketAddr| a.to_string())
            ),
        }
    }
}

/// Direction of a log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Suite → target.
    Tx,
    /// Target → suite.
    Rx,
    /// A note of the suite (connection opened / closed, what is being checked).
    Note,
}

/// One wire log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Microseconds since the case started.
    pub t_us: u64,
    /// Connection number within the case (1, 2, ...).
    pub conn: u32,
    /// Direction.
    pub dir: Dir,
    /// Bytes in hex (Tx/Rx) or the note text.
    pub data: String,
}

#[derive(Debug)]
struct LogInner {
    start: Instant,
    entries: Vec<LogEntry>,
    conns: u32,
}

/// The wire log of one case (shared by its connections).
#[derive(Debug, Clone)]
pub struct WireLog(Arc<Mutex<LogInner>>);

impl Default for WireLog {
    fn default() -> Self {
        Self::new()
    }
}

impl WireLog {
    /// An empty log starting now.
    pub fn new() -> Self {
        WireLog(Arc::new(Mutex::new(LogInner {
            start: Instant::now(),
            entries: Vec::new(),
            conns: 0,
        })))
    }

    fn with<R>(&self, f: impl FnOnce(&mut LogInner) -> R) -> R {
        let mut g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut g)
    }

    fn push(&self, conn: u32, dir: Dir, data: String) {
        self.with(|l| {
            let t_us = u64::try_from(l.start.elapsed().as_micros()).unwrap_or(u64::MAX);
            l.entries.push(LogEntry {
                t_us,
                conn,
                dir,
                data,
            });
        });
    }

    fn next_conn(&self) -> u32 {
        self.with(|l| {
            l.conns += 1;
            l.conns
        })
    }

    /// Adds a note (connection 0).
    pub fn note(&self, text: impl Into<String>) {
        self.push(0, Dir::Note, text.into());
    }

    /// A copy of the entries.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.with(|l| l.entries.clone())
    }
}

/// Hex with spaces: `53 08 63`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// Why a transport operation did not deliver what was asked.
#[derive(Debug)]
pub enum PeerError {
    /// Could not connect / no connection arrived in time.
    Open(String),
    /// The target closed the connection (EOF or reset).
    Closed,
    /// Nothing arrived in time.
    Timeout,
    /// Another I/O error.
    Io(io::Error),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Open(s) => write!(f, "cannot open a connection: {s}"),
            PeerError::Closed => f.write_str("the target closed the connection"),
            PeerError::Timeout => f.write_str("timed out"),
            PeerError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

/// One connection to the target, logging every byte.
pub struct Peer {
    stream: Box<dyn Stream>,
    log: WireLog,
    conn: u32,
    closed: bool,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer").field("conn", &self.conn).finish()
    }
}

impl Peer {
    /// Opens a connection per the endpoint.
    pub async fn open(endpoint: &Endpoint, log: WireLog) -> Result<Peer, PeerError> {
        let conn = log.next_conn();
        let stream: Box<dyn Stream> = match endpoint {
            Endpoint::Connect { addr, tls } => {
                let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
                    .await
                    .map_err(|_| PeerError::Open(format!("connect to {addr} timed out")))?
                    .map_err(|e| PeerError::Open(format!("connect to {addr}: {e}")))?;
                let _ = tcp.set_nodelay(true);
                match tls {
                    Some(t) => {
                        let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                        t.client(tcp, host)
                            .await
                            .map_err(|e| PeerError::Open(format!("TLS: {e}")))?
                    }
                    None => Box::new(tcp),
                }
            }
            Endpoint::Accept {
                listener,
                tls,
                wait,
            } => {
                let (tcp, _) = tokio::time::timeout(*wait, listener.accept())
                    .await
                    .map_err(|_| {
                        PeerError::Open(format!(
                            "the device did not connect within {} ms",
                            wait.as_millis()
                        ))
                    })?
                    .map_err(|e| PeerError::Open(format!("accept: {e}")))?;
                let _ = tcp.set_nodelay(true);
                match tls {
                    Some(t) => t
                        .server(tcp)
                        .await
                        .map_err(|e| PeerError::Open(format!("TLS: {e}")))?,
                    None => Box::new(tcp),
                }
            }
        };
        log.push(conn, Dir::Note, "connection opened".into());
        Ok(Peer {
            stream,
            log,
            conn,
            closed: false,
        })
    }

    /// Connection number within the case.
    pub fn conn(&self) -> u32 {
        self.conn
    }

    /// Adds a note tagged with this connection.
    pub fn note(&self, text: impl Into<String>) {
        self.log.push(self.conn, Dir::Note, text.into());
    }

    /// Writes all bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), PeerError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.log.push(self.conn, Dir::Tx, hex(bytes));
        match self.stream.write_all(bytes).await {
            Ok(()) => {
                let _ = self.stream.flush().await;
                Ok(())
            }
            Err(e) if is_closed(&e) => {
                self.closed = true;
                Err(PeerError::Closed)
            }
            Err(e) => Err(PeerError::Io(e)),
        }
    }

    /// Reads what arrives within `timeout` (at least one byte).
    pub async fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, PeerError> {
        if self.closed {
            return Err(PeerError::Closed);
        }
        let mut buf = vec![0u8; 16 * 1024];
        match tokio::time::timeout(timeout, self.stream.read(&mut buf)).await {
            Err(_) => Err(PeerError::Timeout),
            Ok(Ok(0)) => {
                self.closed = true;
                self.note("closed by the target");
                Err(PeerError::Closed)
            }
            Ok(Ok(n)) => {
                buf.truncate(n);
                self.log.push(self.conn, Dir::Rx, hex(&buf));
                Ok(buf)
            }
            Ok(Err(e)) if is_closed(&e) => {
                self.closed = true;
                self.note(format!("connection reset by the target ({e})"));
                Err(PeerError::Closed)
            }
            Ok(Err(e)) => Err(PeerError::Io(e)),
        }
    }

    /// Reads (and logs) until the target closes the connection; `true` if it did within
    /// `within`.
    pub async fn expect_close(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.note(format!(
                    "still open {} ms after the offending input",
                    within.as_millis()
                ));
                return false;
            }
            match self.recv(left).await {
                Ok(_) => {}
                Err(PeerError::Closed) => return true,
                Err(PeerError::Timeout) => {}
                Err(PeerError::Io(_)) | Err(PeerError::Open(_)) => return true,
            }
        }
    }

    /// Closes our side.
    pub async fn close(mut self) {
        self.note("closed by the suite");
        let _ = self.stream.shutdown().await;
    }
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}
