//! The suite's own IOCOM end, built on the sans-I/O engine, driving one connection to
//! the target while observing both directions.

use std::time::{Duration, Instant};

use ferrocom_runtime::iocom::{
    BlockFlags, BlockId, Connection, ConnectionConfig, ConnectionError, Event, Identity, Root,
};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{SocketBody, SocketItem};

use super::wire::Observer;
use crate::case::{Ctx, Failure, Outcome};
use crate::peer::{Peer, PeerError};

/// Device name of the suite's device (the conformance device map).
pub const DEVICE: &str = "conform";
/// Size of both blocks of the conformance device map.
pub const BLOCK_SIZE: usize = 1024;
/// `exp`: up block (device → server), flags UP | BIDIRECTIONAL like a C device.
pub const EXP_FLAGS: BlockFlags = BlockFlags(BlockFlags::UP.0 | BlockFlags::BIDIRECTIONAL.0);
/// `imp`: down block (server → device).
pub const IMP_FLAGS: BlockFlags = BlockFlags(BlockFlags::DOWN.0 | BlockFlags::BIDIRECTIONAL.0);

/// Why a session step did not reach its goal.
#[derive(Debug)]
pub enum SessionError {
    /// The engine rejected the target's bytes.
    Protocol(ConnectionError),
    /// The target closed the connection.
    Closed,
    /// The goal was not reached in time.
    Timeout,
    /// Transport trouble.
    Io(String),
}

impl SessionError {
    /// Turns the error into a failed outcome; `clause` / `what` describe the goal.
    pub fn fail(self, clause: &'static str, what: &str) -> Failure {
        Failure(match self {
            SessionError::Protocol(e) => {
                let c = protocol_clause(&e);
                Outcome::fail(&[c], format!("{what}: the target broke {c}: {e}"))
            }
            SessionError::Closed => Outcome::fail(
                &[clause],
                format!("{what}: the target closed the connection"),
            ),
            SessionError::Timeout => Outcome::fail(&[clause], format!("{what}: timed out")),
            SessionError::Io(s) => Outcome::fail(&[clause], format!("{what}: {s}")),
        })
    }
}

/// The clause a connection error of the engine (as receiver of the target's bytes)
/// says the target broke.
pub fn protocol_clause(e: &ConnectionError) -> &'static str {
    match e {
        ConnectionError::UnexpectedFrameNumber { .. } => "IOCOM-5-3",
        ConnectionError::Decode(d) => d.clause().unwrap_or("IOCOM-3-1"),
        ConnectionError::OversizeFrame { .. } => "IOCOM-4.6-2",
        ConnectionError::AddressBeyondBlock { .. } => "IOCOM-11.1-1",
        ConnectionError::BadRemoveCount { .. } => "IOCOM-12-2",
        ConnectionError::SilenceTimeout { .. } => "IOCOM-7-1",
        ConnectionError::BadTlsMark { .. } => "IOCOM-8.1-1",
        _ => "IOCOM-4.7-2",
    }
}

/// One engine-driven connection.
#[derive(Debug)]
pub struct Session {
    /// The transport.
    pub peer: Peer,
    /// The suite's root.
    pub root: Root,
    /// The engine connection.
    pub conn: Connection,
    /// The target's stream.
    pub rx: Observer,
    /// The suite's stream.
    pub tx: Observer,
    /// Events of the engine, in order.
    pub events: Vec<Event>,
    /// `exp` (suite device) — or `None` when the suite is the server.
    pub exp: Option<BlockId>,
    /// `imp` (suite device).
    pub imp: Option<BlockId>,
    /// Strip ACKs from what the suite sends (flow-control cases).
    pub drop_acks: bool,
    /// Send nothing for now.
    pub hold: bool,
    /// Client handshake the device sent (suite as server).
    pub handshake: Option<Vec<u8>>,
    hs_buf: Option<Vec<u8>>,
    tx_skip: usize,
    start: Instant,
}

impl Session {
    /// Connects as the conformance device (`conform`, automatic number, `exp` + `imp`).
    pub async fn device(ctx: &Ctx) -> Result<Session, Failure> {
        Self::device_with(ctx, None).await
    }

    /// Like [`Session::device`] with an own frame size.
    pub async fn device_with(ctx: &Ctx, frame_size: Option<usize>) -> Result<Session, Failure> {
        let password = ctx.settings().password.clone();
        Self::device_as(ctx, DEVICE, &password, frame_size).await
    }

    /// Connects as device `name` (automatic number) with `password` (sent over TLS).
    pub async fn device_as(
        ctx: &Ctx,
        name: &str,
        password: &str,
        frame_size: Option<usize>,
    ) -> Result<Session, Failure> {
        let peer = ctx.open().await.map_err(open_failed)?;
        let network = ctx.settings().network.clone();
        let tls = ctx.is_tls();
        let mut id = Identity::new(name, &network);
        id.unique_id = super::wire::unique_id();
        if tls {
            id.password = password.to_string();
        }
        let mut root = Root::new(id);
        let exp = root.create_block("exp", EXP_FLAGS, vec![0; BLOCK_SIZE]);
        let imp = root.create_block("imp", IMP_FLAGS, vec![0; BLOCK_SIZE]);
        let mut cfg = ConnectionConfig::socket_client(tls);
        cfg.frame_size = frame_size;
        let conn = Connection::new(&mut root, cfg, 0);
        Ok(Session {
            peer,
            root,
            conn,
            // Over TLS the server's stream starts with the mark byte (§8.1).
            rx: Observer::new(usize::from(tls)),
            tx: Observer::new(network.len() + 3),
            events: Vec::new(),
            exp,
            imp,
            drop_acks: false,
            hold: false,
            handshake: None,
            hs_buf: None,
            tx_skip: network.len() + 3,
            start: Instant::now(),
        })
    }

    /// Accepts the device's connection as the suite's server (`conformsrv`, dynamic
    /// blocks).
    pub async fn server(ctx: &Ctx) -> Result<Session, Failure> {
        let peer = ctx.open().await.map_err(open_failed)?;
        let network = ctx.settings().network.clone();
        let mut root = Root::new(Identity::new("conformsrv", &network));
        let tls = ctx.is_tls();
        let conn = Connection::new(&mut root, ConnectionConfig::socket_server(tls), 0);
        Ok(Session {
            peer,
            root,
            conn,
            rx: Observer::new(0),
            // Over TLS the suite's stream starts with the mark byte (§8.1).
            tx: Observer::new(usize::from(tls)),
            events: Vec::new(),
            exp: None,
            imp: None,
            drop_acks: false,
            hold: false,
            handshake: None,
            hs_buf: Some(Vec::new()),
            tx_skip: usize::from(tls),
            start: Instant::now(),
        })
    }

    /// Milliseconds since the session started.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs the connection until `done` holds or `timeout` passes.
    pub async fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Session) -> bool,
    ) -> Result<(), SessionError> {
        let end = Instant::now() + timeout;
        loop {
            if done(self) {
                return Ok(());
            }
            self.transmit().await?;
            if done(self) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= end {
                return Err(SessionError::Timeout);
            }
            // Poll the engine at least every 20 ms: a snapshot taken by `send` between
            // two transmits must not wait for the next input.
            let mut wait = (end - now).min(Duration::from_millis(20));
            if let Some(t) = self.conn.poll_timeout() {
                let in_ms = t.saturating_sub(self.now());
                wait = wait.min(Duration::from_millis(in_ms.max(1)));
            }
            match self.peer.recv(wait).await {
                Ok(bytes) => self.input(&bytes)?,
                Err(PeerError::Timeout) => {
                    let now = self.now();
                    if let Err(e) = self.conn.handle_timeout(&mut self.root, now) {
                        self.drain_events();
                        return Err(SessionError::Protocol(e));
                    }
                }
                Err(PeerError::Closed) => return Err(SessionError::Closed),
                Err(e) => return Err(SessionError::Io(e.to_string())),
            }
            self.drain_events();
        }
    }

    /// Runs for `d`, whatever happens (except errors).
    pub async fn run_for(&mut self, d: Duration) -> Result<(), SessionError> {
        match self.run_until(d, |_| false).await {
            Err(SessionError::Timeout) => Ok(()),
            other => other,
        }
    }

    fn input(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let t = self.now();
        let mut rest = bytes;
        if let Some(buf) = &mut self.hs_buf {
            buf.extend_from_slice(bytes);
            let need = match buf.first() {
                None => None,
                Some(&t) if t & 0x40 != 0 => buf.get(1).map(|&n| 2 + usize::from(n)),
                Some(_) => Some(1),
            };
            match need {
                Some(n) if buf.len() >= n => {
                    let tail = buf.split_off(n);
                    self.handshake = Some(std::mem::take(buf));
                    self.hs_buf = None;
                    self.rx.feed(&tail, t);
                }
                _ => {}
            }
            rest = &[];
        }
        if !rest.is_empty() {
            self.rx.feed(rest, t);
        }
        if let Err(e) = self.conn.handle_input(&mut self.root, bytes, t) {
            self.drain_events();
            return Err(SessionError::Protocol(e));
        }
        Ok(())
    }

    async fn transmit(&mut self) -> Result<(), SessionError> {
        if self.hold {
            return Ok(());
        }
        let now = self.now();
        // A write made while the previous snapshot was still in transmission needs
        // another `send` (engine departure 9); a send without changes does nothing.
        for b in [self.exp, self.imp].into_iter().flatten() {
            self.root.send(b);
        }
        let mut out = Vec::new();
        self.conn.poll_transmit(&mut self.root, now, &mut out);
        self.drain_events();
        if out.is_empty() {
            return Ok(());
        }
        if self.drop_acks {
            out = strip_acks(&out, self.tx_skip);
        }
        self.tx_skip = self.tx_skip.saturating_sub(out.len());
        self.tx.feed(&out, now);
        match self.peer.send(&out).await {
            Ok(()) => Ok(()),
            Err(PeerError::Closed) => Err(SessionError::Closed),
            Err(e) => Err(SessionError::Io(e.to_string())),
        }
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.conn.poll_event() {
            self.events.push(e);
        }
    }

    /// Connection is authenticated both ways.
    pub fn authenticated(&self) -> bool {
        self.conn.is_authenticated()
    }

    /// Number of bindings made so far.
    pub fn bound(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::BlockBound { .. }))
            .count()
    }

    /// Snapshots received so far into `block`.
    pub fn received(&self, block: Option<BlockId>) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::DataReceived { block: b, .. } if Some(*b) == block))
            .count()
    }

    /// A complete snapshot (a frame with SYNC_COMPLETE) of `block` arrived from the
    /// target (the engine reports only snapshots that change bytes).
    pub fn snapshot_seen(&self, block: Option<BlockId>) -> bool {
        let id = block.map_or(u32::MAX, |b| u32::from(b.0));
        self.rx
            .frames()
            .any(|f| f.is_data() && f.mblk == id && f.is_sync())
    }

    /// Content of the suite's block.
    pub fn block(&self, block: Option<BlockId>) -> Vec<u8> {
        block
            .and_then(|b| self.root.read(b))
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    }

    /// Writes into the suite's block and publishes a snapshot.
    pub fn write(&mut self, block: Option<BlockId>, addr: usize, bytes: &[u8]) {
        if let Some(b) = block {
            self.root.write(b, addr, bytes);
            self.root.send(b);
        }
    }

    /// Sends raw bytes outside the engine (after this, the engine's stream no longer
    /// matches what the target saw: only for cases that expect the target to drop).
    pub async fn inject(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        self.peer.note("injecting crafted bytes");
        match self.peer.send(bytes).await {
            Ok(()) => Ok(()),
            Err(PeerError::Closed) => Err(SessionError::Closed),
            Err(e) => Err(SessionError::Io(e.to_string())),
        }
    }

    /// Sends an ACK of everything received, outside the engine (after withholding ACKs:
    /// the engine believes it acknowledged already). The target then counts 4 bytes the
    /// engine does not know of, so the engine sends little afterwards.
    pub async fn inject_ack(&mut self) -> Result<(), SessionError> {
        let total = u32::try_from(self.rx.total() & 0xFF_FFFF).unwrap_or(0);
        let a = super::wire::ack(total);
        let now = self.now();
        self.tx.feed(&a, now);
        self.inject(&a).await
    }

    /// The next frame number the suite's engine would use (from what it sent).
    pub fn next_tx_nr(&self) -> u8 {
        match self.tx.frames().last() {
            None => 0,
            Some(f) if f.nr >= 200 => 1,
            Some(f) => f.nr + 1,
        }
    }
}

fn open_failed(e: PeerError) -> Failure {
    Failure(Outcome::fail(
        &["IOCOM-4.7-4"],
        format!("cannot open a connection to the target: {e}"),
    ))
}

/// Removes ACK items from complete IOCOM output (after `skip` handshake bytes).
fn strip_acks(out: &[u8], skip: usize) -> Vec<u8> {
    let skip = skip.min(out.len());
    let mut kept = out[..skip].to_vec();
    let mut rest = &out[skip..];
    while !rest.is_empty() {
        match SocketItem::decode(rest) {
            Ok(Decoded::Complete(item, used)) => {
                if !matches!(item.body, SocketBody::Ack(_)) {
                    kept.extend_from_slice(&rest[..used]);
                }
                rest = &rest[used..];
            }
            _ => {
                kept.extend_from_slice(rest);
                break;
            }
        }
    }
    kept
}
