//! The suite's ends of a switchbox: the IO network service and the clients.
//!
//! Every well-formed byte the suite sends is built by a codec: the mark byte and the
//! handshakes by `ferrocom_wire::iocom`, the switchbox authentication frame by
//! `ferrocom_runtime::switchbox::hello`, the multiplexed messages by
//! `ferrocom_runtime::switchbox::mux`. What the switchbox sends the service is parsed by
//! the generated `ferrocom_wire::switchbox::Message` in a [`MuxObserver`], which keeps
//! every message (keep-alives with their client id) and the first violation with its
//! clause.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use ferrocom_runtime::switchbox::{hello, mux};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{
    ClientHandshake, ClientType, SocketBody, SocketItem, SystemBody, SystemMessage, TlsMark,
};
use ferrocom_wire::switchbox::{Message, MessageBody};

use crate::case::{Ctx, Failure, Outcome};
use crate::peer::{Peer, PeerError};

/// Largest data length the suite accepts in one message from the switchbox: far above
/// the ≈3000 bytes of §17 and ferrocom's 16 KiB, so only a bogus length trips it.
pub const SUITE_MAX_DATA: usize = 1 << 20;

/// The unique id in the suite service's authentication frame.
const SERVICE_UID: [u8; 12] = [0xC0, 0x5B, 0x5B, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// One message from the switchbox to the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// NEW_CONNECTION for this client id.
    New(u16),
    /// CONNECTION_DROPPED for this client id.
    Dropped(u16),
    /// KEEPALIVE, with the client id it carried (0 per SWB-17-2).
    KeepAlive(u16),
    /// Data for this client id.
    Data(u16, Vec<u8>),
}

/// A rule the switchbox broke in its multiplexed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The clause.
    pub clause: &'static str,
    /// What was wrong.
    pub message: String,
}

/// Parses the switchbox → service stream.
#[derive(Debug, Default)]
pub struct MuxObserver {
    buf: Vec<u8>,
    /// Every message so far, with milliseconds since the service registered.
    pub msgs: Vec<(u64, Msg)>,
    /// The first violation; nothing is parsed after it.
    pub error: Option<Broken>,
}

impl MuxObserver {
    /// Feeds received bytes.
    pub fn feed(&mut self, bytes: &[u8], t_ms: u64) {
        if self.error.is_some() {
            return;
        }
        self.buf.extend_from_slice(bytes);
        let mut used_total = 0;
        loop {
            let rest = self.buf.get(used_total..).unwrap_or_default();
            match Message::decode(rest) {
                Ok(Decoded::Complete(m, used)) => {
                    let msg = match m.body {
                        MessageBody::NewConnection => Msg::New(m.client),
                        MessageBody::ConnectionDropped => Msg::Dropped(m.client),
                        MessageBody::KeepAlive => Msg::KeepAlive(m.client),
                        MessageBody::Data(d) => Msg::Data(m.client, d.to_vec()),
                    };
                    self.msgs.push((t_ms, msg));
                    used_total += used;
                }
                Ok(Decoded::Incomplete(more)) => {
                    let announced = (rest.len() + more).saturating_sub(mux::HEADER_LEN);
                    if rest.len() >= mux::HEADER_LEN && announced > SUITE_MAX_DATA {
                        self.error = Some(Broken {
                            clause: "SWB-17-12",
                            message: format!(
                                "a message announces {announced} data bytes (the suite accepts {SUITE_MAX_DATA})"
                            ),
                        });
                    }
                    break;
                }
                Err(e) => {
                    self.error = Some(Broken {
                        clause: e.clause().unwrap_or("SWB-17-1"),
                        message: format!("malformed switchbox message: {e}"),
                    });
                    break;
                }
            }
        }
        self.buf.drain(..used_total);
    }

    /// Position after the messages seen so far (for the `*_since` queries).
    pub fn mark(&self) -> usize {
        self.msgs.len()
    }

    /// Client ids of NEW_CONNECTION messages from position `from` on, in order.
    pub fn news_since(&self, from: usize) -> Vec<u16> {
        self.since(from)
            .filter_map(|m| match m {
                Msg::New(id) => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// The data for `id` from position `from` on, concatenated.
    pub fn data_since(&self, from: usize, id: u16) -> Vec<u8> {
        let mut out = Vec::new();
        for m in self.since(from) {
            if let Msg::Data(c, d) = m
                && *c == id
            {
                out.extend_from_slice(d);
            }
        }
        out
    }

    /// A CONNECTION_DROPPED for `id` from position `from` on.
    pub fn dropped_since(&self, from: usize, id: u16) -> bool {
        self.since(from).any(|m| *m == Msg::Dropped(id))
    }

    /// Client ids that got data from position `from` on before any NEW_CONNECTION for
    /// them in that stretch (ids in `live` were announced earlier and do not count).
    pub fn data_before_new(&self, from: usize, live: &[u16]) -> Vec<u16> {
        let mut announced: Vec<u16> = live.to_vec();
        let mut bad = Vec::new();
        for m in self.since(from) {
            match m {
                Msg::New(id) => announced.push(*id),
                Msg::Dropped(id) => announced.retain(|a| a != id),
                Msg::Data(id, _) if !announced.contains(id) && !bad.contains(id) => bad.push(*id),
                _ => {}
            }
        }
        bad
    }

    /// The keep-alives so far: (milliseconds, client id).
    pub fn keepalives(&self) -> Vec<(u64, u16)> {
        self.msgs
            .iter()
            .filter_map(|(t, m)| match m {
                Msg::KeepAlive(id) => Some((*t, *id)),
                _ => None,
            })
            .collect()
    }

    fn since(&self, from: usize) -> impl Iterator<Item = &Msg> {
        self.msgs.iter().skip(from).map(|(_, m)| m)
    }
}

/// Why waiting on the switchbox did not reach its goal.
#[derive(Debug)]
pub enum WaitError {
    /// Transport: closed, timed out, I/O.
    Peer(PeerError),
    /// The switchbox broke a rule in its stream.
    Broken(Broken),
}

impl WaitError {
    /// A failure of `clause` (or of the clause the switchbox broke), for goal `what`.
    pub fn fail(self, clause: &'static str, what: &str) -> Failure {
        Failure(match self {
            WaitError::Broken(b) => Outcome::fail(
                &[b.clause],
                format!("{what}: the switchbox broke {}: {}", b.clause, b.message),
            ),
            WaitError::Peer(PeerError::Closed) => Outcome::fail(
                &[clause],
                format!("{what}: the switchbox closed the connection"),
            ),
            WaitError::Peer(e) => Outcome::fail(&[clause], format!("{what}: {e}")),
        })
    }
}

impl From<PeerError> for WaitError {
    fn from(e: PeerError) -> Self {
        WaitError::Peer(e)
    }
}

/// The switchbox's authentication frame, as the service saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAuth {
    /// Bytes on the wire.
    pub len: usize,
    /// User field.
    pub user: String,
    /// Network field (`sb` in §17).
    pub network: String,
    /// MBLK_ID and ADDR of the frame header (both 0 in §17).
    pub mblk_addr: (u32, u32),
}

/// Why a service registration did not succeed.
#[derive(Debug)]
pub enum RegisterError {
    /// The TLS connection could not be opened.
    Open(PeerError),
    /// No mark byte 5B first (IOCOM-8.1-1).
    Mark(String),
    /// The switchbox closed the connection before its authentication frame: refused.
    Refused,
    /// Its authentication frame did not arrive in time.
    Timeout,
    /// Its authentication frame is broken.
    BadAuth(String),
    /// The suite could not encode its handshake (a network name over 23 bytes).
    Settings(String),
}

impl RegisterError {
    /// As a failed outcome.
    pub fn fail(self, what: &str) -> Failure {
        Failure(match self {
            RegisterError::Open(e) => Outcome::fail(&["SWB-17-8"], format!("{what}: {e}")),
            RegisterError::Mark(m) => Outcome::fail(&["IOCOM-8.1-1"], format!("{what}: {m}")),
            RegisterError::Refused => Outcome::fail(
                &["SWB-17-8"],
                format!(
                    "{what}: the switchbox closed the connection before its authentication \
                     frame (does the service account allow this network? --user/--password)"
                ),
            ),
            RegisterError::Timeout => Outcome::fail(
                &["SWB-17-8"],
                format!("{what}: no authentication frame from the switchbox"),
            ),
            RegisterError::BadAuth(m) => Outcome::fail(&["SWB-17-8"], format!("{what}: {m}")),
            RegisterError::Settings(m) => Outcome::unsupported(format!("{what}: {m}")),
        })
    }
}

/// Opens a TLS connection and reads the mark byte; returns the connection and whatever
/// arrived after the mark.
pub async fn open_marked(ctx: &Ctx) -> Result<(Peer, Vec<u8>), RegisterError> {
    let mut peer = ctx.open().await.map_err(RegisterError::Open)?;
    let t = ctx.settings().reply_timeout;
    let bytes = match peer.recv(t).await {
        Ok(b) => b,
        Err(PeerError::Timeout) => {
            return Err(RegisterError::Mark(format!(
                "no mark byte 5B within {} ms of the TLS handshake",
                t.as_millis()
            )));
        }
        Err(e) => return Err(RegisterError::Mark(format!("before the mark byte: {e}"))),
    };
    match TlsMark::decode(&bytes) {
        Ok(Decoded::Complete(_, used)) => {
            Ok((peer, bytes.get(used..).unwrap_or_default().to_vec()))
        }
        _ => Err(RegisterError::Mark(format!(
            "first byte after the TLS handshake is {:02X}, not the mark 5B",
            bytes.first().copied().unwrap_or(0)
        ))),
    }
}

/// The service handshake (role 0x12) for `network`, or without a network name.
pub fn service_handshake(network: Option<&str>) -> Result<Vec<u8>, String> {
    handshake(hello::ROLE_SERVICE, network)
}

/// The client handshake (role 0x13) for `network`, or without a network name.
pub fn client_handshake(network: Option<&str>) -> Result<Vec<u8>, String> {
    handshake(hello::ROLE_CLIENT, network)
}

fn handshake(role: u8, network: Option<&str>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    ClientHandshake {
        client_type: ClientType {
            cert_request: false,
            has_network: network.is_some(),
            role,
        },
        network,
    }
    .encode(&mut out)
    .map_err(|e| format!("cannot encode the handshake: {e}"))?;
    Ok(out)
}

/// The switchbox authentication frame of the suite's service.
pub fn service_auth(user: &str, password: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    hello::encode_auth(user, password, &SERVICE_UID, &mut out)
        .map_err(|e| format!("cannot encode the authentication frame: {e}"))?;
    Ok(out)
}

/// A switchbox authentication frame whose content is padded to `content_len` bytes (a
/// frame longer than the 128 bytes §17 allows, for a malformed-input case).
pub fn padded_auth(user: &str, content_len: usize) -> Result<Vec<u8>, String> {
    let mut content = Vec::new();
    SystemMessage {
        body: SystemBody::Authentication(ferrocom_wire::iocom::Authentication {
            flags: ferrocom_wire::iocom::AuthFlags::UNIQUE_ID,
            user,
            device_nr: 0,
            unique_id: Some(&SERVICE_UID[..]),
            network: hello::AUTH_NETWORK,
            password: "",
        }),
    }
    .encode(&mut content)
    .map_err(|e| e.to_string())?;
    content.resize(content_len.max(content.len()), 0);
    numbered_system_frame(content)
}

/// An IOCOM ACK item (an IOCOM item that is no authentication frame).
pub fn ack_item() -> Vec<u8> {
    let mut out = Vec::new();
    let _ = SocketItem {
        body: SocketBody::Ack(ferrocom_wire::iocom::SocketAck { count: 0 }),
    }
    .encode(&mut out);
    out
}

fn numbered_system_frame(content: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    SocketItem {
        body: SocketBody::Numbered(ferrocom_wire::iocom::SocketFrame {
            nr: 0,
            flags: ferrocom_wire::iocom::FrameFlags::SYSTEM,
            extra: None,
            mblk: 0,
            addr: 0,
            data: Cow::Owned(content),
        }),
    }
    .encode(&mut out)
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Reads the header fields and content of a switchbox authentication frame that
/// `hello::decode_auth` accepted.
fn inspect_auth(frame: &[u8]) -> Option<SeenAuth> {
    let Ok(Decoded::Complete(item, used)) = SocketItem::decode(frame) else {
        return None;
    };
    let SocketBody::Numbered(f) = item.body else {
        return None;
    };
    let msg = SystemMessage::decode_exact(&f.data).ok()?;
    let SystemBody::Authentication(a) = msg.body else {
        return None;
    };
    Some(SeenAuth {
        len: used,
        user: a.user.to_string(),
        network: a.network.to_string(),
        mblk_addr: (f.mblk, f.addr),
    })
}

/// The service account the suite registers with: the one given, or the C service's
/// `srv` with an empty password.
pub fn account(ctx: &Ctx) -> (String, String) {
    ctx.settings()
        .account
        .clone()
        .unwrap_or_else(|| (hello::C_SERVICE_USER.into(), String::new()))
}

/// The suite's IO network service, registered on the switchbox.
#[derive(Debug)]
pub struct Service {
    /// Transport.
    pub peer: Peer,
    /// The switchbox's messages.
    pub rx: MuxObserver,
    /// The switchbox's authentication frame.
    pub hello: SeenAuth,
    start: Instant,
}

impl Service {
    /// Registers the network of the settings with the suite's account. While the
    /// switchbox refuses, tries again for up to the reply timeout: it may not have
    /// noticed yet that the network's previous service (of the previous case) is gone.
    pub async fn register(ctx: &Ctx) -> Result<Service, Failure> {
        let (user, password) = account(ctx);
        let network = ctx.settings().network.clone();
        let end = Instant::now() + ctx.settings().reply_timeout;
        loop {
            match Self::register_as(ctx, &network, &user, &password).await {
                Err(RegisterError::Refused) if Instant::now() < end => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                r => {
                    return r
                        .map_err(|e| e.fail(&format!("registering {network} as service {user}")));
                }
            }
        }
    }

    /// Opens a connection and registers `network` as `user` with `password`.
    pub async fn register_as(
        ctx: &Ctx,
        network: &str,
        user: &str,
        password: &str,
    ) -> Result<Service, RegisterError> {
        let mut out = service_handshake(Some(network)).map_err(RegisterError::Settings)?;
        out.extend(service_auth(user, password).map_err(RegisterError::Settings)?);
        let (mut peer, mut buf) = open_marked(ctx).await?;
        peer.note(format!("service: publishing {network} as {user}"));
        match peer.send(&out).await {
            Ok(()) => {}
            Err(PeerError::Closed) => return Err(RegisterError::Refused),
            Err(e) => return Err(RegisterError::Open(e)),
        }
        let end = Instant::now() + ctx.settings().reply_timeout;
        let start = Instant::now();
        loop {
            match hello::decode_auth(&buf) {
                Ok(Decoded::Complete(_, used)) => {
                    let frame = buf.get(..used).unwrap_or_default();
                    let hello = inspect_auth(frame).ok_or_else(|| {
                        RegisterError::BadAuth("its authentication frame does not parse".into())
                    })?;
                    let mut rx = MuxObserver::default();
                    rx.feed(buf.get(used..).unwrap_or_default(), 0);
                    return Ok(Service {
                        peer,
                        rx,
                        hello,
                        start,
                    });
                }
                Ok(Decoded::Incomplete(_)) => {}
                Err(e) => return Err(RegisterError::BadAuth(e.to_string())),
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RegisterError::Timeout);
            }
            match peer.recv(left).await {
                Ok(b) => buf.extend(b),
                Err(PeerError::Closed) => return Err(RegisterError::Refused),
                Err(PeerError::Timeout) => return Err(RegisterError::Timeout),
                Err(e) => return Err(RegisterError::Open(e)),
            }
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Reads until `done` holds on what the switchbox sent.
    pub async fn wait(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&MuxObserver) -> bool,
    ) -> Result<(), WaitError> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(b) = &self.rx.error {
                return Err(WaitError::Broken(b.clone()));
            }
            if done(&self.rx) {
                return Ok(());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WaitError::Peer(PeerError::Timeout));
            }
            let bytes = self.peer.recv(left).await?;
            let t = self.now();
            self.rx.feed(&bytes, t);
        }
    }

    /// Reads whatever arrives within `d` (a quiet period; errors other than a timeout
    /// are returned).
    pub async fn settle(&mut self, d: Duration) -> Result<(), WaitError> {
        match self.wait(d, |_| false).await {
            Err(WaitError::Peer(PeerError::Timeout)) => Ok(()),
            other => other,
        }
    }

    /// Sends `data` for client `id` (cut into messages by the mux encoder).
    pub async fn data(&mut self, id: u16, data: &[u8]) -> Result<(), PeerError> {
        let mut out = Vec::new();
        mux::encode_data(id, data, &mut out);
        self.peer.send(&out).await
    }

    /// Sends CONNECTION_DROPPED for client `id`.
    pub async fn drop_client(&mut self, id: u16) -> Result<(), PeerError> {
        let mut out = Vec::new();
        mux::encode_connection_dropped(id, &mut out);
        self.peer.send(&out).await
    }
}

/// A client of the switchbox.
#[derive(Debug)]
pub struct Client {
    /// Transport.
    pub peer: Peer,
    /// Everything received after the mark byte.
    pub rx: Vec<u8>,
}

impl Client {
    /// Opens a TLS connection and reads the mark byte; nothing sent yet.
    pub async fn raw(ctx: &Ctx) -> Result<Client, Failure> {
        let (peer, rx) = open_marked(ctx)
            .await
            .map_err(|e| e.fail("opening a client connection"))?;
        Ok(Client { peer, rx })
    }

    /// Connects and sends the client handshake naming `network` followed, in the same
    /// write, by `first`.
    pub async fn connect(ctx: &Ctx, network: &str, first: &[u8]) -> Result<Client, Failure> {
        let mut c = Self::raw(ctx).await?;
        let mut out = client_handshake(Some(network))
            .map_err(|e| Failure(Outcome::unsupported(format!("network {network:?}: {e}"))))?;
        out.extend_from_slice(first);
        c.peer.note(format!("client: handshake for {network}"));
        c.send(&out)
            .await
            .map_err(|e| fail("SWB-17-11", format!("sending the client handshake: {e}")))?;
        Ok(c)
    }

    /// Sends bytes as they are.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), PeerError> {
        self.peer.send(bytes).await
    }

    /// Reads until at least `n` bytes were received in all.
    pub async fn wait_len(&mut self, n: usize, timeout: Duration) -> Result<(), PeerError> {
        let end = Instant::now() + timeout;
        while self.rx.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PeerError::Timeout);
            }
            let b = self.peer.recv(left).await?;
            self.rx.extend(b);
        }
        Ok(())
    }

    /// Reads whatever arrives within `d`; `Err` if the connection closed.
    pub async fn settle(&mut self, d: Duration) -> Result<(), PeerError> {
        match self.wait_len(usize::MAX, d).await {
            Err(PeerError::Timeout) => Ok(()),
            other => other,
        }
    }
}

/// A failed outcome of `clause`.
pub fn fail(clause: &'static str, message: impl Into<String>) -> Failure {
    Failure(Outcome::fail(&[clause], message))
}

/// Deterministic pseudo-random bytes (every value occurs, 0x5B and 0xFF included).
pub fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Where two byte strings first differ (or the shorter length).
pub fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}
