//! The service end of a switchbox connection (reference §17): connects out to the
//! switchbox over TLS, publishes one IO network, and turns every relayed client into a
//! [`MuxStream`] that the server serves like any socket (its driver never knows the
//! difference). Reconnects with exponential back-off.
//!
//! ```text
//!   switchbox ──TLS──► link reader ─ MuxDecoder ─► per-client Vec<u8> channel ─► MuxStream::poll_read ─► drive()
//!   switchbox ◄──TLS── link writer ◄─ LinkOut channel ◄──────────────────────── MuxStream::poll_write ◄─ drive()
//! ```
//!
//! Memory per client is bounded by IOCOM's own flow control (at most MAX_IN_AIR
//! unacknowledged bytes per direction), so the channels need no byte limit of their own.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::string::{String, ToString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use std::vec::Vec;

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::TlsMark;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;

use super::hello;
use super::mux::{self, MuxDecoder, MuxMessage};
use crate::device::Backoff;
use crate::net::tls::Trust;

/// Where and as whom a server publishes its IO network on a switchbox.
#[derive(Debug, Clone)]
pub struct SwitchboxLink {
    /// `host:port` of the switchbox (default port 6362).
    pub addr: String,
    /// DNS name or IP address in the switchbox certificate.
    pub server_name: String,
    /// Which certificates to accept (see [`Trust::FirstUse`] for trust on first use).
    pub trust: Trust,
    /// The IO network to publish (clients name it in their handshake).
    pub network: String,
    /// Service account on the switchbox.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Keep-alive after this long without writing (§17: 10 s).
    pub keepalive: Duration,
    /// The link is dropped (and reconnected) after this long without a byte.
    pub silence_timeout: Duration,
    /// Largest data length accepted in one message from the switchbox.
    pub max_message_data: usize,
}

impl SwitchboxLink {
    /// Publishes `network` on the switchbox at `addr` as `user`, with default timers.
    pub fn new(
        addr: &str,
        server_name: &str,
        trust: Trust,
        network: &str,
        user: &str,
        password: &str,
    ) -> Self {
        SwitchboxLink {
            addr: addr.into(),
            server_name: server_name.into(),
            trust,
            network: network.into(),
            user: user.into(),
            password: password.into(),
            backoff: Backoff::default(),
            keepalive: Duration::from_secs(10),
            silence_timeout: Duration::from_secs(30),
            max_message_data: mux::DEFAULT_MAX_DATA,
        }
    }
}

enum LinkOut {
    Dropped(u16),
    Data(u16, Vec<u8>),
}

struct Slot {
    to_stream: mpsc::UnboundedSender<Vec<u8>>,
    /// Set when the switchbox (not the server) ended the stream, so the stream's drop
    /// does not echo a CONNECTION_DROPPED for an id that may already be reused.
    remote_closed: Arc<AtomicBool>,
}

type Table = Arc<Mutex<HashMap<u16, Slot>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One relayed client's byte stream, as the server's connection driver sees it:
/// reads return the client's bytes, writes go to the switchbox for that client, end of
/// stream means the client (or the whole link) is gone. Dropping it tells the switchbox
/// to close the client.
pub struct MuxStream {
    id: u16,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
    out: mpsc::UnboundedSender<LinkOut>,
    remote_closed: Arc<AtomicBool>,
    table: Table,
}

impl fmt::Debug for MuxStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MuxStream")
            .field("client", &self.id)
            .finish_non_exhaustive()
    }
}

impl MuxStream {
    /// The client id the switchbox gave this stream.
    pub fn client_id(&self) -> u16 {
        self.id
    }
}

impl AsyncRead for MuxStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos >= this.pending.len() {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(v)) => {
                    this.pending = v;
                    this.pos = 0;
                }
                // End of stream: the switchbox dropped the client or the link ended.
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let avail = this.pending.get(this.pos..).unwrap_or_default();
        let n = avail.len().min(buf.remaining());
        buf.put_slice(avail.get(..n).unwrap_or_default());
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MuxStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.remote_closed.load(Ordering::Relaxed) {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        match self.out.send(LinkOut::Data(self.id, buf.to_vec())) {
            Ok(()) => Poll::Ready(Ok(buf.len())),
            Err(_) => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for MuxStream {
    fn drop(&mut self) {
        if self.remote_closed.swap(true, Ordering::Relaxed) {
            return;
        }
        // The server ended this client (refusal, protocol error, shutdown).
        let mut t = lock(&self.table);
        if t.get(&self.id)
            .is_some_and(|s| Arc::ptr_eq(&s.remote_closed, &self.remote_closed))
        {
            t.remove(&self.id);
        }
        drop(t);
        let _ = self.out.send(LinkOut::Dropped(self.id));
    }
}

/// Why one session with the switchbox ended.
enum SessionEnd {
    /// Never got as far as publishing the network.
    Failed(String),
    /// The network was published, then the link ended.
    Ended(String),
}

/// Keeps the link up forever: connect, publish, relay, and after any failure wait and
/// reconnect. `serve` is given every new client stream and a label for log lines.
pub(crate) async fn run_link<F>(link: SwitchboxLink, serve: F)
where
    F: Fn(MuxStream, String) + Send + Sync + 'static,
{
    let connector = match crate::net::tls::connector(&link.trust) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(switchbox = link.addr, "switchbox link disabled: {e}");
            return;
        }
    };
    let mut delay = link.backoff.initial;
    loop {
        match session(&link, &connector, &serve).await {
            SessionEnd::Failed(e) => {
                tracing::warn!(
                    switchbox = link.addr,
                    network = link.network,
                    "cannot publish the IO network on the switchbox: {e}"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(link.backoff.max);
            }
            SessionEnd::Ended(e) => {
                tracing::warn!(
                    switchbox = link.addr,
                    network = link.network,
                    "switchbox link lost: {e}"
                );
                delay = link.backoff.initial;
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn session<F>(
    link: &SwitchboxLink,
    connector: &tokio_rustls::TlsConnector,
    serve: &F,
) -> SessionEnd
where
    F: Fn(MuxStream, String) + Send + Sync + 'static,
{
    let opened = tokio::time::timeout(Duration::from_secs(20), open(link, connector)).await;
    let (tls, rest) = match opened {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return SessionEnd::Failed(e),
        Err(_) => return SessionEnd::Failed("no answer from the switchbox within 20 s".into()),
    };
    tracing::info!(
        switchbox = link.addr,
        network = link.network,
        "IO network published on the switchbox"
    );
    let (rd, mut wr) = tokio::io::split(tls);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<LinkOut>();
    let keepalive = link.keepalive;
    let writer = tokio::spawn(async move {
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            match tokio::time::timeout(keepalive, out_rx.recv()).await {
                Ok(Some(m)) => {
                    encode_out(&m, &mut out);
                    while out.len() < 64 * 1024 {
                        match out_rx.try_recv() {
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
    });
    let table: Table = Arc::new(Mutex::new(HashMap::new()));
    let reason = relay(link, rd, rest, &table, &out_tx, serve).await;
    writer.abort();
    // Every stream of this link ends now; none of them may answer on a future link.
    for (_, slot) in lock(&table).drain() {
        slot.remote_closed.store(true, Ordering::Relaxed);
    }
    SessionEnd::Ended(reason)
}

type TlsClient = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// TCP, TLS, mark byte, handshake and authentication frames both ways.
async fn open(
    link: &SwitchboxLink,
    connector: &tokio_rustls::TlsConnector,
) -> Result<(TlsClient, Vec<u8>), String> {
    let tcp = crate::net::tcp::connect(link.addr.as_str())
        .await
        .map_err(|e| std::format!("connect: {e}"))?;
    let mut tls = crate::net::tls::connect(connector, &link.server_name, tcp)
        .await
        .map_err(|e| std::format!("TLS handshake failed: {e}"))?;
    let mut rx = Vec::new();
    let mut buf = [0u8; 256];
    // The mark byte first (§8.1).
    loop {
        match TlsMark::decode(&rx) {
            Ok(Decoded::Complete(_, used)) => {
                rx.drain(..used);
                break;
            }
            Ok(Decoded::Incomplete(_)) => {}
            Err(e) => return Err(std::format!("not a switchbox: {e}")),
        }
        let n = tls
            .read(&mut buf)
            .await
            .map_err(|e| std::format!("read: {e}"))?;
        if n == 0 {
            return Err("switchbox closed the connection before its TLS mark".into());
        }
        rx.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let mut out = Vec::new();
    hello::encode_service_handshake(&link.network, &mut out)
        .map_err(|e| std::format!("network name: {e}"))?;
    hello::encode_auth(&link.user, &link.password, &[0; 12], &mut out)
        .map_err(|e| std::format!("user or password: {e}"))?;
    tls.write_all(&out)
        .await
        .map_err(|e| std::format!("write: {e}"))?;
    tls.flush().await.map_err(|e| std::format!("write: {e}"))?;
    loop {
        match hello::decode_auth(&rx) {
            Ok(Decoded::Complete(_, used)) => {
                rx.drain(..used);
                return Ok((tls, rx));
            }
            Ok(Decoded::Incomplete(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        let n = match tls.read(&mut buf).await {
            Ok(n) => n,
            // A peer that closed without close_notify is closed all the same.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(std::format!("read: {e}")),
        };
        if n == 0 {
            return Err(
                "switchbox closed the connection instead of accepting the service (wrong account or password, or the IO network is published by another account; see the switchbox log)"
                    .into(),
            );
        }
        rx.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
}

fn encode_out(m: &LinkOut, out: &mut Vec<u8>) {
    match m {
        LinkOut::Dropped(id) => mux::encode_connection_dropped(*id, out),
        LinkOut::Data(id, d) => mux::encode_data(*id, d, out),
    }
}

/// Reads the switchbox's messages and dispatches them to the client streams; returns
/// why the link ended.
async fn relay<R, F>(
    link: &SwitchboxLink,
    mut rd: R,
    rest: Vec<u8>,
    table: &Table,
    out: &mpsc::UnboundedSender<LinkOut>,
    serve: &F,
) -> String
where
    R: AsyncRead + Unpin,
    F: Fn(MuxStream, String) + Send + Sync + 'static,
{
    let mut dec = MuxDecoder::new(link.max_message_data);
    dec.push(&rest);
    let mut buf = std::vec![0u8; 32 * 1024];
    loop {
        loop {
            let msg = match dec.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => return e.to_string(),
            };
            match msg {
                MuxMessage::KeepAlive => {}
                MuxMessage::NewConnection(id) => {
                    let (to_stream, rx) = mpsc::unbounded_channel();
                    let remote_closed = Arc::new(AtomicBool::new(false));
                    let old = lock(table).insert(
                        id,
                        Slot {
                            to_stream,
                            remote_closed: remote_closed.clone(),
                        },
                    );
                    if let Some(old) = old {
                        old.remote_closed.store(true, Ordering::Relaxed);
                        tracing::warn!(
                            switchbox = link.addr,
                            client = id,
                            "switchbox reused client id {id} while its stream was open (no CONNECTION_DROPPED first); the old stream is closed"
                        );
                    }
                    let stream = MuxStream {
                        id,
                        rx,
                        pending: Vec::new(),
                        pos: 0,
                        out: out.clone(),
                        remote_closed,
                        table: table.clone(),
                    };
                    serve(stream, std::format!("switchbox {} client {id}", link.addr));
                }
                MuxMessage::ConnectionDropped(id) => {
                    if let Some(slot) = lock(table).remove(&id) {
                        slot.remote_closed.store(true, Ordering::Relaxed);
                    }
                }
                MuxMessage::Data(id, data) => {
                    let delivered = lock(table)
                        .get(&id)
                        .is_some_and(|s| s.to_stream.send(data).is_ok());
                    if !delivered {
                        // §17: tell the switchbox we no longer have this stream.
                        tracing::debug!(
                            client = id,
                            "data for a client stream that is gone: CONNECTION_DROPPED sent"
                        );
                        let _ = out.send(LinkOut::Dropped(id));
                    }
                }
            }
        }
        let n = match tokio::time::timeout(link.silence_timeout, rd.read(&mut buf)).await {
            Err(_) => return std::format!("switchbox silent for {:?}", link.silence_timeout),
            Ok(Ok(0)) => return "switchbox closed the connection".into(),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return std::format!("transport error: {e}"),
        };
        dec.push(buf.get(..n).unwrap_or_default());
    }
}
