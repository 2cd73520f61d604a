//! The connection state machine: one per TCP/TLS socket or serial port.

use ferrocom_wire::codec::{
    DecodeError, DecodeErrorKind, Decoded, EncodeError, EncodeErrorKind, FieldInfo, Sink,
    SliceSink, Transform as _,
};
use ferrocom_wire::iocom::{
    AuthFlags, Authentication, BlockFlags, CertificateAnswer, ClientHandshake, ClientType,
    FrameFlags, InfoFlags, MemoryBlockInfo, RemoveRequest, SerialBody, SerialItem, SocketBody,
    SocketItem, SystemBody, SystemMessage, TlsMark,
};
use ferrocom_wire::transforms::ZeroRun;
use ferrocom_wire::transforms::zero_run::ApplyError;

use super::auth::AuthDecision;
use super::block::BlockId;
use super::event::{BindDirection, Event};
use super::flow::{Flow, Params};
use super::frame::{Outgoing, encode_ack, header_len, next_nr};
use super::root::{Binding, Root, slot_in, slot_index};
use super::serial_link::{Link, LinkInput};
use super::source::Source;
use super::storage::{List, Queue, Storage, Text};
use super::target::Target;
use super::{AUTO_DEVICE_NR, ConnectionError, Millis, TO_AUTO_DEVICE_NR};

/// Serial link control characters (§8.3).
const LINK_CONTROL: core::ops::RangeInclusive<u8> = 0xF9..=0xFD;
/// The C sender lists at most 12 ids per remove request (§12).
const REMOVE_IDS_PER_FRAME: usize = 12;

/// Transport of a connection: decides headers, CRC, ACK width, timers and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP or TLS (§4.1): socket handshake, 24-bit ACKs, 1392-byte frames.
    Socket,
    /// Serial line (§4.2): link procedure, CRC, 16-bit ACKs, 96-byte frames.
    Serial,
}

/// The transports built into the engine (features `socket` and `serial`): a firmware
/// leaves out the code of the one it does not use.
pub(crate) const SOCKET: bool = cfg!(feature = "socket");
/// See [`SOCKET`].
pub(crate) const SERIAL: bool = cfg!(feature = "serial");

impl Transport {
    /// `true` if the engine was built with this transport (features `socket`, `serial`).
    pub const fn is_built(self) -> bool {
        match self {
            Transport::Socket => SOCKET,
            Transport::Serial => SERIAL,
        }
    }

    /// Frame size unless configured otherwise: 1392 on a socket (the C library's PC
    /// builds), 96 on a serial line.
    pub const fn default_frame_size(self) -> usize {
        match self {
            Transport::Socket => 1392,
            Transport::Serial => 96,
        }
    }
}

/// How a connection is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Socket or serial.
    pub transport: Transport,
    /// This end accepted the socket / is the listening end of the serial line.
    pub listener: bool,
    /// This end points up (a device towards its server). A listener adopts the opposite
    /// of the peer's CONNECT_UP flag (§9.3).
    pub connect_up: bool,
    /// Create blocks announced by the peer that do not exist locally (§10.4).
    pub allow_dynamic: bool,
    /// Own frame size; `None` = 1392 (socket) / 96 (serial).
    pub frame_size: Option<usize>,
    /// The socket is TLS: mark byte 5B, password, authorization (§8.1, §9.4).
    pub is_tls: bool,
    /// This end only watches (a spy, a monitor): it binds announced blocks only as a
    /// target, creates dynamic blocks only for data flowing to it, and so never sends
    /// block data. Without it, an upper end that mirrors a device's downward blocks would
    /// send its own (zero) key frame of them on binding and overwrite the real values.
    pub observe_only: bool,
    /// A socket starts with the TLS mark and the client handshake (§8.1). `false` for a
    /// client stream relayed by a switchbox (§17): the switchbox wrote the mark and
    /// consumed the handshake, so the stream begins with IOCOM frames.
    pub socket_handshake: bool,
}

impl ConnectionConfig {
    /// A device connecting up over TCP/TLS.
    pub const fn socket_client(is_tls: bool) -> Self {
        ConnectionConfig {
            transport: Transport::Socket,
            listener: false,
            connect_up: true,
            allow_dynamic: false,
            frame_size: None,
            is_tls,
            observe_only: false,
            socket_handshake: true,
        }
    }

    /// A watcher (spy, monitor) connecting *down* to a server over TCP/TLS: the server
    /// announces every block it has, including its devices' mirrors, and this end mirrors
    /// those whose data flows up to it, never sending any block data
    /// ([`observe_only`](Self::observe_only)).
    pub const fn socket_observer(is_tls: bool) -> Self {
        ConnectionConfig {
            connect_up: false,
            allow_dynamic: true,
            observe_only: true,
            ..Self::socket_client(is_tls)
        }
    }

    /// A server accepting devices over TCP/TLS, with dynamic blocks.
    pub const fn socket_server(is_tls: bool) -> Self {
        ConnectionConfig {
            transport: Transport::Socket,
            listener: true,
            connect_up: false,
            allow_dynamic: true,
            frame_size: None,
            is_tls,
            observe_only: false,
            socket_handshake: true,
        }
    }

    /// The service end of one client stream relayed by a switchbox (§17): a TLS server
    /// connection (the client sends its password, the service authorizes it) whose
    /// stream starts after the handshake.
    pub const fn switchbox_stream() -> Self {
        ConnectionConfig {
            socket_handshake: false,
            ..Self::socket_server(true)
        }
    }

    /// A device on a serial line (client end of the link procedure).
    pub const fn serial_client() -> Self {
        ConnectionConfig {
            transport: Transport::Serial,
            ..Self::socket_client(false)
        }
    }

    /// A server on a serial line (listening end), with dynamic blocks.
    pub const fn serial_server() -> Self {
        ConnectionConfig {
            transport: Transport::Serial,
            ..Self::socket_server(false)
        }
    }

    fn params(&self) -> Params {
        let size = self.frame_size();
        match self.transport {
            Transport::Socket => Params::socket(size),
            Transport::Serial => Params::serial(size),
        }
    }

    /// Own frame size: `frame_size`, or the transport's default.
    pub const fn frame_size(&self) -> usize {
        match self.frame_size {
            Some(n) => n,
            None => self.transport.default_frame_size(),
        }
    }
}

/// Bytes of storage a binding of a block of `size` bytes with `flags` takes at most,
/// on a connection that points up (`connect_up`) or down: the source's two copies
/// (none for a static block) if the block goes out that way, and a staging copy if
/// it comes in.
pub const fn binding_bytes(size: usize, flags: BlockFlags, connect_up: bool) -> usize {
    let (src, tgt) = if connect_up {
        (BlockFlags::UP, BlockFlags::DOWN)
    } else {
        (BlockFlags::DOWN, BlockFlags::UP)
    };
    let mut n = 0;
    if flags.contains(src) {
        n += Source::bytes_for(size, flags.contains(BlockFlags::STATIC));
    }
    if flags.contains(tgt) {
        n += size;
    }
    n
}

/// Identifies a connection within its [`Root`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// TLS client: waiting for the server's mark byte.
    AwaitTlsMark,
    /// Socket server: waiting for the client handshake.
    AwaitHandshake,
    /// Serial link procedure.
    Link(Link),
    /// IOCOM frames.
    Data,
    /// Socket connection dropped; call `reset` for a new socket.
    Closed,
}

/// Bytes outside the IOCOM frame stream waiting to go out (TLS mark, handshake,
/// certificate answer, serial link control): at most a handshake (26 bytes) at a time.
#[derive(Debug, Default)]
struct RawOut {
    buf: [u8; RAW_OUT],
    len: usize,
}

const RAW_OUT: usize = 32;

impl RawOut {
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends what `f` writes, through the same kind of sink a device transmits with
    /// (one copy of each encoder in a firmware). What does not fit is dropped: link
    /// control bytes repeated by a caller that does not poll are repeated by the procedure
    /// anyway.
    fn write<R>(&mut self, f: impl FnOnce(&mut SliceSink<'_>) -> R) -> R {
        let mut sink = SliceSink::new(self.buf.get_mut(self.len..).unwrap_or_default());
        let r = f(&mut sink);
        if !sink.overflowed() {
            self.len += sink.len();
        }
        r
    }
}

/// Longest system message this end sends: an authentication frame with a 25-byte user,
/// a 4-byte number, a unique id, a 23-byte network and a 45-byte password is 114 bytes.
const SYSTEM_MAX: usize = 128;

/// Longest valid system message this end receives: a remove request of 16 ids of 9
/// bytes each and its type byte is 145 bytes (only a compressed one needs a buffer).
const SYSTEM_IN_MAX: usize = 160;

/// Names a system message this end could not encode or expand into [`SYSTEM_MAX`]
/// bytes.
const SYSTEM_INFO: FieldInfo = FieldInfo {
    protocol: "iocom",
    item: "SystemMessage",
    field: "",
    clause: Some("IOCOM-4.3-4"),
    line: 0,
};

/// What parsing the start of the input found.
enum Item {
    /// An item of this many bytes was handled.
    Done(usize),
    /// The item is incomplete: at least this many more bytes are needed.
    Need(usize),
}

/// One IOCOM connection (sans-I/O), with its state in storage `S` (the
/// [`Heap`](super::Heap) by default, or [`Fixed`](super::Fixed) memory).
pub struct Connection<S: Storage = super::DefaultStorage> {
    id: u32,
    cfg: ConnectionConfig,
    /// Own limits (frame size as announced).
    own: Params,
    /// Limits in use (may shrink after the peer's frame-size announcement).
    params: Params,
    /// min(own, peer) frame size: longest frame this end sends.
    frame_limit: usize,
    phase: Phase,
    /// An item (frame, ACK, handshake) whose start arrived in an earlier read: its first
    /// `rx_len` bytes. One own frame size long; an item never is longer.
    rx: S::Bytes,
    rx_len: usize,
    /// Bytes outside the IOCOM frame stream (handshake, link control): not counted.
    raw_out: RawOut,
    flow: Flow,
    tx_nr: u8,
    rx_nr: u8,
    connect_up: bool,
    own_auth_sent: bool,
    peer_auth: bool,
    peer_bidirectional: bool,
    peer_unique_id: Option<[u8; 12]>,
    last_write: Millis,
    last_receive: Millis,
    rr: usize,
    events: S::Events,
    events_lost: u32,
}

impl<S: Storage> core::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("cfg", &self.cfg)
            .field("phase", &self.phase)
            .field("frame_limit", &self.frame_limit)
            .field("flow", &self.flow)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "alloc")]
impl Connection {
    /// A new connection registered in `root`, started at `now`: a socket client queues
    /// its handshake (after the TLS mark), a socket server waits for it (TLS: queues the
    /// mark), a serial end starts the link procedure.
    pub fn new(root: &mut Root, cfg: ConnectionConfig, now: Millis) -> Self {
        let id = root.attach(cfg.connect_up).unwrap_or_default();
        let rx = alloc::vec![0; cfg.params().frame_size];
        Self::build(root, id, cfg, rx, now)
    }
}

impl<S: Storage> Connection<S> {
    /// [`Connection::new`] in any storage; `None` if the storage has no room for another
    /// connection or for its receive buffer (one own frame size), or if the engine was
    /// built without the transport ([`Transport::is_built`]).
    pub fn try_new(root: &mut Root<S>, cfg: ConnectionConfig, now: Millis) -> Option<Self> {
        if !cfg.transport.is_built() {
            return None;
        }
        let rx = root.store.alloc(cfg.params().frame_size)?;
        let Some(id) = root.attach(cfg.connect_up) else {
            root.store.free(rx);
            return None;
        };
        Some(Self::build(root, id, cfg, rx, now))
    }

    /// Bytes of storage a connection with `cfg` takes for itself (its receive buffer).
    pub const fn storage_bytes(cfg: &ConnectionConfig) -> usize {
        cfg.frame_size()
    }

    fn build(
        root: &mut Root<S>,
        id: u32,
        cfg: ConnectionConfig,
        rx: S::Bytes,
        now: Millis,
    ) -> Self {
        let own = cfg.params();
        let mut c = Connection {
            id,
            frame_limit: own.frame_size,
            own,
            params: own,
            phase: Phase::Closed,
            rx,
            rx_len: 0,
            raw_out: RawOut::default(),
            flow: Flow::new(),
            tx_nr: 0,
            rx_nr: 0,
            connect_up: cfg.connect_up,
            own_auth_sent: false,
            peer_auth: false,
            peer_bidirectional: false,
            peer_unique_id: None,
            last_write: now,
            last_receive: now,
            rr: 0,
            events: Default::default(),
            events_lost: 0,
            cfg,
        };
        c.start(root, now);
        c
    }

    /// This connection's id in its root.
    pub fn id(&self) -> ConnectionId {
        ConnectionId(self.id)
    }

    /// The configuration.
    pub fn config(&self) -> &ConnectionConfig {
        &self.cfg
    }

    /// `true` once in data mode (handshake / link procedure done).
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Data
    }

    /// `true` when both authentication frames have been exchanged.
    pub fn is_authenticated(&self) -> bool {
        self.phase == Phase::Data && self.peer_auth && self.own_auth_sent
    }

    /// `true` if this end currently points up (a listener adopts it from the peer).
    pub fn is_connect_up(&self) -> bool {
        self.connect_up
    }

    /// Bytes currently in flight (sent but not acknowledged by the peer).
    pub fn bytes_in_flight(&self) -> u32 {
        self.flow.in_flight(&self.params)
    }

    /// Bytes received but not yet processed: the start of an incomplete frame (or
    /// handshake). Non-zero when the transport ends means the peer stopped mid-frame.
    pub fn buffered_input(&self) -> usize {
        self.rx_len
    }

    /// Frame size used for sending: min(own, peer's announcement) (§4.6).
    pub fn frame_limit(&self) -> usize {
        self.frame_limit
    }

    /// Events that did not fit into a full event queue and were dropped (never with the
    /// [`Heap`](super::Heap); with [`Fixed`](super::Fixed) storage when more events came
    /// than `EVENTS` between two drains; `DataReceived` of a block already queued is
    /// merged into that one instead).
    pub fn events_lost(&self) -> u32 {
        self.events_lost
    }

    /// Starts over on a new socket or after the serial port was reopened (§8.4):
    /// bindings discarded, dynamic blocks created by this connection released.
    pub fn reset(&mut self, root: &mut Root<S>, now: Millis) {
        let (events, lost) = (&mut self.events, &mut self.events_lost);
        root.reset_conn(self.id, self.cfg.connect_up, &mut |e| {
            push_event(events, lost, e)
        });
        self.start(root, now);
    }

    /// Removes the connection from `root` for good (releasing its dynamic blocks and its
    /// buffers); returns the events not yet drained (oldest first).
    pub fn close(mut self, root: &mut Root<S>) -> S::Events {
        let (events, lost) = (&mut self.events, &mut self.events_lost);
        root.detach(self.id, &mut |e| push_event(events, lost, e));
        root.store.free(core::mem::take(&mut self.rx));
        self.events
    }

    /// Next event, if any.
    pub fn poll_event(&mut self) -> Option<Event<S::Text>> {
        self.events.pop_front()
    }

    fn event(&mut self, e: Event<S::Text>) {
        push_event(&mut self.events, &mut self.events_lost, e);
    }

    fn start(&mut self, root: &mut Root<S>, now: Millis) {
        self.rx_len = 0;
        self.raw_out.clear();
        self.last_receive = now;
        self.last_write = now;
        match (self.cfg.transport, self.cfg.listener, self.cfg.is_tls) {
            (Transport::Socket, ..) if !SOCKET => self.phase = Phase::Closed,
            (Transport::Serial, ..) if !SERIAL => self.phase = Phase::Closed,
            (Transport::Socket, false, false) => {
                self.queue_handshake(root);
                self.enter_data(root, now, None);
            }
            (Transport::Socket, false, true) => self.phase = Phase::AwaitTlsMark,
            (Transport::Socket, true, _) if !self.cfg.socket_handshake => {
                self.enter_data(root, now, None);
            }
            (Transport::Socket, true, tls) => {
                if tls {
                    let _ = self.raw_out.write(|o| TlsMark {}.encode(o));
                }
                self.phase = Phase::AwaitHandshake;
            }
            (Transport::Serial, listener, _) => {
                self.phase = Phase::Link(self.raw_out.write(|o| Link::start(listener, now, o)));
            }
        }
    }

    fn queue_handshake(&mut self, root: &Root<S>) {
        let net = root.identity.network.as_ref();
        let hs = ClientHandshake {
            client_type: ClientType {
                cert_request: false,
                has_network: !net.is_empty(),
                role: 0x13,
            },
            network: (!net.is_empty()).then_some(net),
        };
        if let Err(e) = self.raw_out.write(|o| hs.encode(o)) {
            self.event(Event::Disconnected {
                error: ConnectionError::Local(e),
            });
        }
    }

    /// §8.4: counters and numbers to zero, ACK sentinel, authentication forgotten.
    fn enter_data(&mut self, root: &mut Root<S>, now: Millis, network: Option<S::Text>) {
        let (events, lost) = (&mut self.events, &mut self.events_lost);
        root.reset_conn(self.id, self.cfg.connect_up, &mut |e| {
            push_event(events, lost, e)
        });
        self.phase = Phase::Data;
        self.params = self.own;
        self.frame_limit = self.own.frame_size;
        self.flow = Flow::new();
        self.tx_nr = 0;
        self.rx_nr = 0;
        self.connect_up = self.cfg.connect_up;
        self.own_auth_sent = false;
        self.peer_auth = false;
        self.peer_bidirectional = false;
        self.peer_unique_id = None;
        self.last_receive = now;
        self.last_write = now;
        self.rr = 0;
        self.event(Event::Connected { network });
    }

    /// Drops the connection: on serial the link procedure starts over at once, on a
    /// socket the connection stays closed until [`Connection::reset`].
    fn fail(&mut self, root: &mut Root<S>, error: ConnectionError, now: Millis) -> ConnectionError {
        let (events, lost) = (&mut self.events, &mut self.events_lost);
        root.reset_conn(self.id, self.cfg.connect_up, &mut |e| {
            push_event(events, lost, e)
        });
        self.rx_len = 0;
        self.raw_out.clear();
        self.event(Event::Disconnected {
            error: error.clone(),
        });
        self.phase = match self.cfg.transport {
            Transport::Serial if SERIAL => {
                let listener = self.cfg.listener;
                Phase::Link(self.raw_out.write(|o| Link::start(listener, now, o)))
            }
            _ => Phase::Closed,
        };
        self.last_write = now;
        self.last_receive = now;
        error
    }

    // ---------------------------------------------------------------- input

    /// Feeds bytes read from the transport. On `Err` the connection was dropped (serial:
    /// and the link procedure restarted; keep feeding it).
    pub fn handle_input(
        &mut self,
        root: &mut Root<S>,
        data: &[u8],
        now: Millis,
    ) -> Result<(), ConnectionError> {
        let mut data = data;
        loop {
            if data.is_empty() {
                return Ok(());
            }
            match self.phase {
                Phase::Closed => return Ok(()),
                Phase::AwaitTlsMark | Phase::AwaitHandshake if !SOCKET => return Ok(()),
                Phase::Link(_) if !SERIAL => return Ok(()),
                Phase::AwaitTlsMark => {
                    let Some((&first, rest)) = data.split_first() else {
                        return Ok(());
                    };
                    if first != 0x5B {
                        return Err(self.fail(
                            root,
                            ConnectionError::BadTlsMark { found: first },
                            now,
                        ));
                    }
                    self.queue_handshake(root);
                    self.enter_data(root, now, None);
                    data = rest;
                }
                Phase::AwaitHandshake => {
                    self.last_receive = now;
                    // Take only the bytes the handshake needs; the rest are frames.
                    let mut rx = core::mem::take(&mut self.rx);
                    let r = loop {
                        let buf = rx.as_ref().get(..self.rx_len).unwrap_or_default();
                        match ClientHandshake::decode(buf) {
                            Ok(Decoded::Incomplete(k)) => {
                                if data.is_empty() {
                                    break Ok(None);
                                }
                                let k = k.min(data.len());
                                let (head, rest) = data.split_at(k);
                                let end = self.rx_len + k;
                                let Some(dst) = rx.as_mut().get_mut(self.rx_len..end) else {
                                    // A handshake is at most 26 bytes; never longer than
                                    // a frame.
                                    break Err(ConnectionError::OversizeFrame {
                                        len: end,
                                        limit: self.own.frame_size,
                                    });
                                };
                                dst.copy_from_slice(head);
                                self.rx_len = end;
                                data = rest;
                            }
                            Ok(Decoded::Complete(hs, _)) => {
                                let network = match hs.network {
                                    Some(n) => S::Text::from_str(n),
                                    None => None,
                                };
                                break Ok(Some((hs.client_type.cert_request, network)));
                            }
                            Err(e) => break Err(ConnectionError::Decode(e)),
                        }
                    };
                    self.rx = rx;
                    match r {
                        Ok(None) => return Ok(()),
                        Ok(Some((cert_request, network))) => {
                            self.rx_len = 0;
                            if cert_request {
                                // §8.1 step 4: "no certificate" (the C server's answer).
                                let _ = self
                                    .raw_out
                                    .write(|o| CertificateAnswer { certificate: &[] }.encode(o));
                            }
                            self.enter_data(root, now, network);
                            return self.data_input(root, data, now);
                        }
                        Err(e) => return Err(self.fail(root, e, now)),
                    }
                }
                Phase::Link(mut link) => {
                    let r = self.raw_out.write(|o| link.input(data, now, o));
                    self.phase = Phase::Link(link);
                    match r {
                        LinkInput::Consumed => return Ok(()),
                        LinkInput::Up(k) => {
                            self.enter_data(root, now, None);
                            data = data.get(k..).unwrap_or(&[]);
                        }
                    }
                }
                Phase::Data => return self.data_input(root, data, now),
            }
        }
    }

    fn data_input(
        &mut self,
        root: &mut Root<S>,
        data: &[u8],
        now: Millis,
    ) -> Result<(), ConnectionError> {
        if data.is_empty() {
            return Ok(());
        }
        self.flow.received = self
            .flow
            .received
            .wrapping_add(u32::try_from(data.len()).unwrap_or(u32::MAX));
        self.last_receive = now;
        let mut data = data;
        if self.rx_len > 0 {
            // Complete the item begun in an earlier read, taking only the bytes it needs.
            let mut rx = core::mem::take(&mut self.rx);
            let r = self.complete_buffered(root, &mut rx, &mut data);
            self.rx = rx;
            if let Err(e) = r {
                return Err(self.fail(root, e, now));
            }
            if self.rx_len > 0 {
                return Ok(());
            }
        }
        // Items straight from the input; an incomplete one at the end is kept.
        loop {
            match self.one_item(root, data) {
                Ok(Item::Done(n)) => data = data.get(n..).unwrap_or(&[]),
                Ok(Item::Need(_)) => break,
                Err(e) => return Err(self.fail(root, e, now)),
            }
        }
        match self.rx.as_mut().get_mut(..data.len()) {
            Some(dst) => {
                dst.copy_from_slice(data);
                self.rx_len = data.len();
                Ok(())
            }
            None => {
                let e = ConnectionError::OversizeFrame {
                    len: data.len(),
                    limit: self.own.frame_size,
                };
                Err(self.fail(root, e, now))
            }
        }
    }

    /// Feeds bytes of `data` to the item buffered in `rx` until it is complete (and
    /// handled) or `data` runs out.
    fn complete_buffered(
        &mut self,
        root: &mut Root<S>,
        rx: &mut S::Bytes,
        data: &mut &[u8],
    ) -> Result<(), ConnectionError> {
        // `data` before the last bytes were taken from it, and how many were taken.
        let mut last: (&[u8], usize) = (data, 0);
        while self.rx_len > 0 {
            let buf = rx.as_ref().get(..self.rx_len).unwrap_or_default();
            match self.one_item(root, buf)? {
                Item::Done(n) => {
                    // `rx` held the start of one item and only the bytes it said it
                    // needed were added, so the item is all of `rx`; should the codec
                    // have asked for more than it used, the extra bytes go back.
                    let extra = self.rx_len.saturating_sub(n).min(last.1);
                    *data = last.0.get(last.1 - extra..).unwrap_or_default();
                    self.rx_len = 0;
                }
                Item::Need(k) => {
                    if data.is_empty() {
                        return Ok(());
                    }
                    let k = k.min(data.len());
                    let (head, rest) = data.split_at(k);
                    let end = self.rx_len + k;
                    let Some(dst) = rx.as_mut().get_mut(self.rx_len..end) else {
                        return Err(ConnectionError::OversizeFrame {
                            len: end,
                            limit: self.own.frame_size,
                        });
                    };
                    dst.copy_from_slice(head);
                    self.rx_len = end;
                    last = (data, k);
                    *data = rest;
                }
            }
        }
        Ok(())
    }

    /// Parses and handles one item at the start of `buf`.
    fn one_item(&mut self, root: &mut Root<S>, buf: &[u8]) -> Result<Item, ConnectionError> {
        let Some(&lead) = buf.first() else {
            return Ok(Item::Need(1));
        };
        let serial = match self.cfg.transport {
            Transport::Serial if SERIAL => true,
            Transport::Socket if SOCKET => false,
            // Never created (`try_new`).
            _ => return Ok(Item::Need(1)),
        };
        if serial && LINK_CONTROL.contains(&lead) {
            return Err(ConnectionError::LinkControl { byte: lead });
        }
        // §4.7: the first byte is checked as soon as it arrives.
        if lead != 0xFF && lead != self.rx_nr {
            return Err(ConnectionError::UnexpectedFrameNumber {
                expected: self.rx_nr,
                found: lead,
            });
        }
        let limit = self.own.frame_size;
        let incomplete = |k: usize| {
            if lead != 0xFF && buf.len().saturating_add(k) > limit {
                Err(ConnectionError::OversizeFrame {
                    len: buf.len().saturating_add(k),
                    limit,
                })
            } else {
                Ok(Item::Need(k))
            }
        };
        if serial {
            match SerialItem::decode_wire(buf) {
                Ok(Decoded::Incomplete(k)) => incomplete(k),
                Ok(Decoded::Complete(item, n)) => {
                    match item.body {
                        SerialBody::Ack(a) => self.flow.processed = u32::from(a.count),
                        SerialBody::Numbered(f) => {
                            self.check_len(n)?;
                            self.rx_nr = next_nr(self.rx_nr);
                            self.on_frame(root, f.flags, f.mblk, f.addr, &f.data)?;
                        }
                        _ => return Err(ConnectionError::LinkControl { byte: lead }),
                    }
                    Ok(Item::Done(n))
                }
                Err(e) => Err(match e.kind {
                    DecodeErrorKind::Checksum { expected, found } => ConnectionError::Crc {
                        frame_nr: lead,
                        computed: u16::try_from(expected).unwrap_or(0),
                        stored: u16::try_from(found).unwrap_or(0),
                    },
                    _ => ConnectionError::Decode(e),
                }),
            }
        } else {
            match SocketItem::decode_wire(buf) {
                Ok(Decoded::Incomplete(k)) => incomplete(k),
                Ok(Decoded::Complete(item, n)) => {
                    match item.body {
                        SocketBody::Ack(a) => self.flow.processed = a.count,
                        SocketBody::Numbered(f) => {
                            self.check_len(n)?;
                            self.rx_nr = next_nr(self.rx_nr);
                            self.on_frame(root, f.flags, f.mblk, f.addr, &f.data)?;
                        }
                    }
                    Ok(Item::Done(n))
                }
                Err(e) => Err(ConnectionError::Decode(e)),
            }
        }
    }
    fn check_len(&self, n: usize) -> Result<(), ConnectionError> {
        if n > self.own.frame_size {
            return Err(ConnectionError::OversizeFrame {
                len: n,
                limit: self.own.frame_size,
            });
        }
        Ok(())
    }

    fn on_frame(
        &mut self,
        root: &mut Root<S>,
        flags: FrameFlags,
        mblk: u32,
        addr: u32,
        data: &[u8],
    ) -> Result<(), ConnectionError> {
        if !flags.contains(FrameFlags::SYSTEM) {
            return self.on_data(root, flags, mblk, addr, data);
        }
        // Content arrives as on the wire (`decode_wire`). System messages are never
        // compressed by the C end (§4.3); one that is anyway is expanded here.
        let mut expanded = [0u8; SYSTEM_IN_MAX];
        let mut sink = SliceSink::new(&mut expanded);
        let data = if flags.contains(FrameFlags::COMPRESSED) {
            // Checked by the codec already: expanding cannot fail, only overflow.
            let _ = ZeroRun::decode(data, &mut sink);
            if sink.overflowed() {
                return match sink.written().first() {
                    // Longer than any message of a known type can be.
                    Some(1..=3) | None => Err(ConnectionError::Decode(DecodeError::new(
                        &SYSTEM_INFO,
                        0,
                        DecodeErrorKind::Transform {
                            name: ZeroRun::NAME,
                            message: "system message longer than 160 bytes",
                        },
                    ))),
                    Some(&kind) => {
                        self.event(Event::UnknownSystemFrame { kind });
                        Ok(())
                    }
                };
            }
            sink.written()
        } else {
            data
        };
        let msg = SystemMessage::decode_exact(data)?;
        match msg.body {
            SystemBody::Authentication(a) => self.on_auth(root, mblk, &a),
            SystemBody::MemoryBlockInfo(m) => {
                self.on_mbinfo(root, mblk, &m);
                Ok(())
            }
            SystemBody::RemoveRequest(r) => self.on_remove(root, mblk, &r),
            // Unknown system frame types are ignored (§10.4); the caller is told.
            SystemBody::Unknown(u) => {
                self.event(Event::UnknownSystemFrame { kind: u.kind });
                Ok(())
            }
        }
    }

    fn on_auth(
        &mut self,
        root: &mut Root<S>,
        frame_size: u32,
        a: &Authentication<'_>,
    ) -> Result<(), ConnectionError> {
        if self.cfg.listener
            && self.cfg.is_tls
            && root.store.authorize(a) == Some(AuthDecision::Deny)
        {
            return Err(ConnectionError::AuthorizationRefused);
        }
        if self.cfg.listener {
            self.connect_up = !a.flags.contains(AuthFlags::CONNECT_UP);
            self.peer_bidirectional = a.flags.contains(AuthFlags::BIDIRECTIONAL);
            let up = self.connect_up;
            if let Some(slot) = root.slot(self.id) {
                slot.connect_up = up;
            }
        }
        let net = root.identity.network.as_ref();
        if (net.is_empty() || net == "*")
            && !a.network.is_empty()
            && let Some(n) = S::Text::from_str(a.network)
        {
            root.identity.network = n;
        }
        if let Some(fs) = self.params.peer_frame_size(frame_size) {
            self.frame_limit = fs;
        }
        self.peer_auth = true;
        let unique_id = a.unique_id.and_then(|u| <[u8; 12]>::try_from(u).ok());
        self.peer_unique_id = unique_id;
        self.event(Event::PeerAuthenticated {
            user: S::Text::from_str(a.user).unwrap_or_default(),
            device_nr: a.device_nr,
            network: S::Text::from_str(a.network).unwrap_or_default(),
            flags: a.flags,
            unique_id,
        });
        Ok(())
    }

    fn assigned_nr(&mut self, root: &mut Root<S>) -> u32 {
        if let Some(nr) = root.slot(self.id).and_then(|s| s.assigned_nr) {
            return nr;
        }
        let uid = self.peer_unique_id;
        let nr = {
            let Root {
                store,
                conns,
                identity,
                blocks,
                ..
            } = &mut *root;
            let in_use = |nr: u32| {
                nr == identity.device_nr
                    || conns.iter().any(|s| s.assigned_nr == Some(nr))
                    || blocks.iter().any(|b| b.device_nr == nr)
            };
            store.assign_number(uid.as_ref(), &in_use)
        };
        if let Some(slot) = root.slot(self.id) {
            slot.assigned_nr = Some(nr);
        }
        self.event(Event::DeviceNumberAssigned {
            unique_id: uid,
            device_nr: nr,
        });
        nr
    }

    /// Binding rule of §10.4.
    fn on_mbinfo(&mut self, root: &mut Root<S>, peer_id: u32, m: &MemoryBlockInfo<'_>) {
        let device_nr = match m.device_nr {
            AUTO_DEVICE_NR => self.assigned_nr(root),
            TO_AUTO_DEVICE_NR if root.identity.device_nr == AUTO_DEVICE_NR => AUTO_DEVICE_NR,
            nr => nr,
        };
        let own;
        let (device_name, network): (&str, &str) = match (m.device_name, m.network) {
            (Some(d), Some(n)) => (d, n),
            _ => {
                own = (
                    root.identity.device_name.clone(),
                    root.identity.network.clone(),
                );
                (own.0.as_ref(), own.1.as_ref())
            }
        };
        let name = m.block_name.unwrap_or("");
        let recv = BlockFlags(u16::try_from(m.block_flags & 0xFFFF).unwrap_or(0));
        let size = usize::try_from(m.size).unwrap_or(usize::MAX);
        let (src, tgt) = if self.connect_up {
            (BlockFlags::UP, BlockFlags::DOWN)
        } else {
            (BlockFlags::DOWN, BlockFlags::UP)
        };
        if self.cfg.observe_only && !recv.contains(tgt) {
            return;
        }
        let id = match root.find_block(name, device_name, device_nr, network) {
            Some(b) => b.id,
            None if S::DYNAMIC_BLOCKS && self.cfg.allow_dynamic => {
                let flags = BlockFlags(recv.0 & (BlockFlags::UP.0 | BlockFlags::DOWN.0))
                    | BlockFlags::ALLOW_RESIZE
                    | BlockFlags::DYNAMIC
                    | BlockFlags::BIDIRECTIONAL;
                // Never trust a peer's size for an allocation beyond what a frame stream
                // could sensibly fill: the C end allocates it as given; we do the same but
                // refuse absurd sizes (> 16 MiB).
                if size > 16 << 20 {
                    return;
                }
                let data = match root
                    .store
                    .take_preset(name, device_name, device_nr, network, size)
                {
                    Some(d) => d,
                    None => match root.store.alloc(size) {
                        Some(d) => d,
                        None => return,
                    },
                };
                let Some(id) = root.insert_block(
                    name,
                    device_name,
                    device_nr,
                    network,
                    flags,
                    data,
                    Some(self.id),
                ) else {
                    return;
                };
                self.event(Event::BlockCreated { block: id });
                id
            }
            None => return,
        };
        let me = self.id;
        let reply = !self.connect_up;
        let Some(i) = root.store.block_index(&root.blocks, id) else {
            return;
        };
        let Root {
            store,
            blocks,
            conns,
            ..
        } = &mut *root;
        let Some(block) = blocks.get_mut(i) else {
            return;
        };
        if block.flags.contains(BlockFlags::ALLOW_RESIZE)
            && block.data.as_ref().len() < size
            && size <= 16 << 20
        {
            store.resize(&mut block.data, size);
        }
        let as_source = !self.cfg.observe_only && block.flags.contains(src) && recv.contains(src);
        let as_target = block.flags.contains(tgt) && recv.contains(tgt);
        if !as_source && !as_target {
            return;
        }
        let is_static = block.is_static();
        let data = block.data.as_ref();
        let Some(slot) = slot_in(conns, me) else {
            return;
        };
        if slot.bindings.iter().any(|b| b.block == id) {
            return; // bound at most once per connection
        }
        let len = data.len();
        let copies = if as_source {
            Source::bytes_for(len, is_static)
        } else {
            0
        };
        let staging = if as_target { len } else { 0 };
        let Some(buf) = store.alloc(copies + staging) else {
            return; // no memory left for the binding: the block stays unbound
        };
        let mut binding = Binding::<S> {
            block: id,
            peer_id,
            buf,
            source: as_source.then(|| Source::new(len, is_static)),
            target: as_target.then(|| Target::new(len)),
            reply_pending: reply,
        };
        {
            let p = binding.parts();
            if let Some(s) = p.source {
                s.take_snapshot(data, p.sync, p.d, is_static);
            }
            if p.target.is_some()
                && let Some(dst) = p.staging.get_mut(..len)
            {
                dst.copy_from_slice(data);
            }
        }
        if let Err(b) = slot.bindings.push(binding) {
            store.free(b.buf);
            return;
        }
        store.bound(id, me);
        if as_source {
            self.event(Event::BlockBound {
                block: id,
                peer_id,
                direction: BindDirection::Source,
            });
        }
        if as_target {
            self.event(Event::BlockBound {
                block: id,
                peer_id,
                direction: BindDirection::Target,
            });
        }
        if as_target && !recv.contains(BlockFlags::BIDIRECTIONAL) {
            // One upstream source at a time (§10.4 step 4).
            for other in conns.iter_mut() {
                if other.id == me || store.binders(id).is_some_and(|l| !l.contains(&other.id)) {
                    continue;
                }
                for b in other.bindings.iter_mut().filter(|b| b.block == id) {
                    b.target = None;
                }
                other.bindings.retain_or(
                    |b| b.source.is_some() || b.target.is_some(),
                    |b| store.free(b.buf),
                );
                if !other.bindings.iter().any(|b| b.block == id) {
                    store.unbound(id, other.id);
                }
            }
        }
    }

    fn on_remove(
        &mut self,
        root: &mut Root<S>,
        count: u32,
        r: &RemoveRequest,
    ) -> Result<(), ConnectionError> {
        if !(1..=16).contains(&count) || usize::try_from(count).ok() != Some(r.ids.len()) {
            return Err(ConnectionError::BadRemoveCount {
                header: count,
                ids: r.ids.len(),
            });
        }
        if !S::DYNAMIC_BLOCKS {
            // Only dynamic blocks are removed, and this storage has none.
            return Ok(());
        }
        for &raw in &r.ids {
            let Ok(id) = u16::try_from(raw) else { continue };
            let id = BlockId(id);
            let bound_here = root
                .slot(self.id)
                .is_some_and(|s| s.bindings.iter().any(|b| b.block == id));
            let dynamic = root.block(id).is_some_and(|b| b.is_dynamic());
            if bound_here
                && dynamic
                && let Some(b) = root.remove_block_from(id, Some(self.id))
            {
                self.event(Event::BlockRemoved {
                    block: b.id,
                    name: b.name,
                });
                root.store.free(b.data);
            }
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        root: &mut Root<S>,
        flags: FrameFlags,
        mblk: u32,
        addr: u32,
        data: &[u8],
    ) -> Result<(), ConnectionError> {
        let Ok(id) = u16::try_from(mblk) else {
            return Ok(());
        };
        let id = BlockId(id);
        let me = self.id;
        let index = root.store.block_index(&root.blocks, id);
        let Root {
            store,
            blocks,
            conns,
            ..
        } = &mut *root;
        let Some(binding) =
            slot_in(conns, me).and_then(|s| s.bindings.iter_mut().find(|b| b.block == id))
        else {
            return Ok(()); // unbound ids are ignored (§10.4)
        };
        let at = usize::try_from(addr).unwrap_or(usize::MAX);
        {
            let p = binding.parts();
            let Some(target) = p.target else {
                return Ok(()); // not a target here: ignored (§10.4)
            };
            let staging = p.staging.get_mut(..target.size).unwrap_or_default();
            let delta = flags.contains(FrameFlags::DELTA);
            let compressed = flags.contains(FrameFlags::COMPRESSED);
            target
                .apply(staging, at, data, delta, compressed)
                .map_err(|e| match e {
                    ApplyError::AddressBeyondBlock { block_size, .. } => {
                        ConnectionError::AddressBeyondBlock { addr, block_size }
                    }
                    // The codec checked the stream; kept for completeness.
                    _ => ConnectionError::Decode(DecodeError::new(
                        &SYSTEM_INFO,
                        0,
                        DecodeErrorKind::Transform {
                            name: ZeroRun::NAME,
                            message: "literal run extends past the end of the compressed data",
                        },
                    )),
                })?;
        }
        if !flags.contains(FrameFlags::SYNC) {
            return Ok(());
        }
        let Some(block) = index.and_then(|i| blocks.get_mut(i)) else {
            return Ok(());
        };
        // Blocks only grow (§10.4 step 3); keep both views the same size.
        let (block_len, staged) = (
            block.data.as_ref().len(),
            binding.target.as_ref().map_or(0, |t| t.size),
        );
        if block_len < staged && !store.resize(&mut block.data, staged) {
            return Ok(());
        }
        if staged < block_len {
            let src = binding.source.as_ref().map_or(0, |s| s.size);
            if !binding.refit(store, src, block_len) {
                return Ok(());
            }
        }
        let p = binding.parts();
        let Some(target) = p.target else {
            return Ok(());
        };
        let staging = p.staging.get(..target.size).unwrap_or_default();
        let Some(range) = target.publish(staging, block.data.as_mut()) else {
            return Ok(());
        };
        self.event(Event::DataReceived {
            block: id,
            range: range.clone(),
        });
        root.relay(id, range, me);
        Ok(())
    }

    // ---------------------------------------------------------------- output

    /// Appends all bytes to send now to `out` and returns how many were appended:
    /// [`Connection::poll_transmit_step`] repeated until it has nothing more (or `out`
    /// has no room for the next item: a bounded sink never gets part of a frame).
    pub fn poll_transmit<O: Sink + ?Sized>(
        &mut self,
        root: &mut Root<S>,
        now: Millis,
        out: &mut O,
    ) -> usize {
        let start = out.len();
        while self.poll_transmit_step(root, now, out) > 0 {}
        out.len() - start
    }

    /// One send step of the C connection (§10.3): pending handshake / link bytes, an ACK
    /// if due, then at most one numbered frame by priority (authentication → remove
    /// requests → mbinfo → data, round-robin one frame per block per turn), withheld at
    /// the in-flight limit (§6.3) or when `out` has no room for it; a keep-alive ACK
    /// after KEEPALIVE ms without writing. Returns the bytes appended (0 = nothing to
    /// send now).
    pub fn poll_transmit_step<O: Sink + ?Sized>(
        &mut self,
        root: &mut Root<S>,
        now: Millis,
        out: &mut O,
    ) -> usize {
        let start = out.len();
        if !self.raw_out.is_empty() && out.room() >= self.raw_out.len() {
            out.extend_from_slice(self.raw_out.bytes());
            self.raw_out.clear();
        }
        if self.phase == Phase::Data {
            let before = out.len();
            let ack_size = usize::try_from(self.params.ack_size).unwrap_or(usize::MAX);
            let step = (|| {
                if self.flow.ack_due(&self.params) && self.flow.ack_fits(&self.params) {
                    if out.room() < ack_size {
                        return Ok(false);
                    }
                    self.send_ack(out)?;
                }
                self.send_one(root, out)
            })();
            if let Err(e) = step {
                let _ = self.fail(root, e, now);
                if out.room() >= self.raw_out.len() {
                    out.extend_from_slice(self.raw_out.bytes());
                    self.raw_out.clear();
                }
                return out.len() - start;
            }
            if out.len() == before
                && now.saturating_sub(self.last_write) >= self.params.keepalive
                && self.flow.ack_fits(&self.params)
                && out.room() >= ack_size
            {
                let _ = self.send_ack(out);
            }
            if out.len() > before {
                self.last_write = now;
            }
        }
        out.len() - start
    }

    fn send_ack<O: Sink + ?Sized>(&mut self, out: &mut O) -> Result<(), ConnectionError> {
        let count = self.flow.ack_count(&self.params);
        let n = encode_ack(self.cfg.transport, count, out)?;
        self.flow.acknowledged = self.flow.received;
        self.flow.sent = self.flow.sent.wrapping_add(u32::try_from(n).unwrap_or(0));
        Ok(())
    }

    /// Sends `f` if it passes flow control and fits into `out`; assigns the frame number
    /// only then (§5).
    fn try_send<O: Sink + ?Sized>(
        &mut self,
        f: &Outgoing<'_>,
        len: usize,
        out: &mut O,
    ) -> Result<bool, ConnectionError> {
        if !self.flow.fits(&self.params, len) || out.room() < len {
            return Ok(false);
        }
        let n = f.encode(self.cfg.transport, self.tx_nr, out)?;
        self.tx_nr = next_nr(self.tx_nr);
        self.flow.sent = self.flow.sent.wrapping_add(u32::try_from(n).unwrap_or(0));
        Ok(true)
    }

    fn send_system<O: Sink + ?Sized>(
        &mut self,
        msg: &SystemMessage<'_>,
        mblk: u32,
        out: &mut O,
    ) -> Result<bool, ConnectionError> {
        let mut buf = [0u8; SYSTEM_MAX];
        let mut content = SliceSink::new(&mut buf);
        msg.encode(&mut content)?;
        if content.overflowed() {
            return Err(ConnectionError::Local(EncodeError::new(
                &SYSTEM_INFO,
                EncodeErrorKind::Inconsistent {
                    message: "system message longer than 128 bytes",
                },
            )));
        }
        let f = Outgoing {
            flags: FrameFlags::SYSTEM,
            mblk,
            addr: 0,
            data: content.written(),
        };
        let len = f.len(self.cfg.transport);
        self.try_send(&f, len, out)
    }

    /// One numbered frame by priority; `false` if nothing to send or flow control stalls.
    fn send_one<O: Sink + ?Sized>(
        &mut self,
        root: &mut Root<S>,
        out: &mut O,
    ) -> Result<bool, ConnectionError> {
        if !self.own_auth_sent {
            if self.connect_up && !self.peer_auth {
                return Ok(false);
            }
            let sent = self.send_auth(root, out)?;
            self.own_auth_sent |= sent;
            return Ok(sent);
        }
        if !self.peer_auth {
            return Ok(false);
        }
        let me = self.id;
        // Remove requests.
        let mut removes = [0u32; REMOVE_IDS_PER_FRAME];
        let count = match root.slot(me) {
            Some(s) => {
                let n = s.removes.len().min(REMOVE_IDS_PER_FRAME);
                if let (Some(dst), Some(src)) = (removes.get_mut(..n), s.removes.get(..n)) {
                    dst.copy_from_slice(src);
                }
                n
            }
            None => 0,
        };
        // Only removed blocks queue remove requests; a fixed set of blocks has none.
        if S::DYNAMIC_BLOCKS && count > 0 {
            let sent = self.send_remove_request(removes.get(..count).unwrap_or_default(), out)?;
            if sent && let Some(s) = root.slot(me) {
                s.removes.drop_front(count);
            }
            return Ok(sent);
        }
        // Memory block info.
        if let Some(sent) = self.send_mbinfo(root, out)? {
            return Ok(sent);
        }
        self.send_data(root, out)
    }

    fn send_remove_request<O: Sink + ?Sized>(
        &mut self,
        ids: &[u32],
        out: &mut O,
    ) -> Result<bool, ConnectionError> {
        let msg = SystemMessage {
            body: SystemBody::RemoveRequest(RemoveRequest {
                ids: ids.iter().map(|&i| i64::from(i)).collect(),
            }),
        };
        let count = u32::try_from(ids.len()).unwrap_or(0);
        self.send_system(&msg, count, out)
    }

    fn send_auth<O: Sink + ?Sized>(
        &mut self,
        root: &Root<S>,
        out: &mut O,
    ) -> Result<bool, ConnectionError> {
        let id = &root.identity;
        let nr = if id.device_nr >= AUTO_DEVICE_NR {
            0
        } else {
            id.device_nr
        };
        let mut flags = AuthFlags::empty();
        if self.connect_up {
            flags |= AuthFlags::CONNECT_UP;
        }
        if nr >= 0x1_0000 {
            flags |= AuthFlags::DEVICE_NR_4;
        } else if nr >= 0x100 {
            flags |= AuthFlags::DEVICE_NR_2;
        }
        let unique = nr == 0 && self.cfg.transport == Transport::Socket && self.connect_up;
        if unique {
            flags |= AuthFlags::UNIQUE_ID;
        }
        let password = if self.cfg.is_tls && !self.cfg.listener {
            id.password.as_ref()
        } else {
            ""
        };
        let msg = SystemMessage {
            body: SystemBody::Authentication(Authentication {
                flags,
                user: id.device_name.as_ref(),
                device_nr: nr,
                unique_id: unique.then_some(&id.unique_id[..]),
                network: id.network.as_ref(),
                password,
            }),
        };
        let fs = u32::try_from(self.own.frame_size).unwrap_or(u32::MAX);
        self.send_system(&msg, fs, out)
    }

    /// Pending mbinfo: announcements (connect-up end, creation order) or replies
    /// (other end: source bindings first, then targets, each in binding order; §10.3).
    /// `None` if there is none.
    fn send_mbinfo<O: Sink + ?Sized>(
        &mut self,
        root: &mut Root<S>,
        out: &mut O,
    ) -> Result<Option<bool>, ConnectionError> {
        let me = self.id;
        let Some(slot) = slot_index(&root.conns, me).and_then(|i| root.conns.get(i)) else {
            return Ok(None);
        };
        let assigned = slot.assigned_nr;
        let (block_idx, binding_idx) = if self.connect_up {
            let announced = &slot.announced;
            let Some(i) = root
                .blocks
                .iter()
                .position(|b| b.created_by != Some(me) && !announced.contains(&b.serial))
            else {
                return Ok(None);
            };
            (i, None)
        } else {
            let pick = slot
                .bindings
                .iter()
                .position(|b| b.reply_pending && b.source.is_some())
                .or_else(|| slot.bindings.iter().position(|b| b.reply_pending));
            let Some(j) = pick else {
                return Ok(None);
            };
            let block = slot.bindings.get(j).map(|b| b.block);
            let Some(i) = block.and_then(|id| root.store.block_index(&root.blocks, id)) else {
                if let Some(b) = root.slot(me).and_then(|s| s.bindings.get_mut(j)) {
                    b.reply_pending = false;
                }
                return Ok(Some(true));
            };
            (i, Some(j))
        };
        let Some(block) = root.blocks.get(block_idx) else {
            return Ok(None);
        };
        let serial = block.serial;
        if binding_idx.is_some() && block.flags.contains(BlockFlags::FLOOR) {
            // Never described downward (§10.3).
            if let Some(b) = root
                .slot(me)
                .and_then(|s| binding_idx.and_then(|j| s.bindings.get_mut(j)))
            {
                b.reply_pending = false;
            }
            return Ok(Some(true));
        }
        let device_nr = if Some(block.device_nr) == assigned {
            TO_AUTO_DEVICE_NR
        } else {
            block.device_nr
        };
        let mut bflags = block.flags;
        if self.cfg.listener && self.peer_bidirectional {
            // Bidirectional mode (§11.8) is not implemented: keep it off.
            bflags.set(BlockFlags::BIDIRECTIONAL, false);
        }
        let size = u32::try_from(block.data.as_ref().len()).unwrap_or(u32::MAX);
        let (block_name, device_name, network) = (
            block.name.as_ref(),
            block.device_name.as_ref(),
            block.network.as_ref(),
        );
        let has_dev = !device_name.is_empty();
        let mut info = InfoFlags::empty();
        if device_nr >= 0x1_0000 {
            info |= InfoFlags::D_4BYTES;
        } else if device_nr >= 0x100 {
            info |= InfoFlags::D_2BYTES;
        }
        if size >= 0x1_0000 {
            info |= InfoFlags::N_4BYTES;
        } else if size >= 0x100 {
            info |= InfoFlags::N_2BYTES;
        }
        if bflags.0 >= 0x100 {
            info |= InfoFlags::F_2BYTES;
        }
        if has_dev {
            info |= InfoFlags::HAS_DEVICE_NAME;
        }
        if !block_name.is_empty() {
            info |= InfoFlags::HAS_MBLK_NAME;
        }
        let msg = SystemMessage {
            body: SystemBody::MemoryBlockInfo(MemoryBlockInfo {
                info,
                device_nr,
                size,
                block_flags: u32::from(bflags.0),
                device_name: has_dev.then_some(device_name),
                network: has_dev.then_some(network),
                block_name: (!block_name.is_empty()).then_some(block_name),
            }),
        };
        let own_id = u32::from(block.id.0);
        let sent = self.send_system(&msg, own_id, out)?;
        if sent && let Some(slot) = root.slot(me) {
            match binding_idx {
                None => {
                    let _ = slot.announced.push(serial);
                }
                Some(j) => {
                    if let Some(b) = slot.bindings.get_mut(j) {
                        b.reply_pending = false;
                    }
                }
            }
        }
        Ok(Some(sent))
    }

    /// One data frame, round-robin over the busy source buffers (§11.2 scheduling).
    fn send_data<O: Sink + ?Sized>(
        &mut self,
        root: &mut Root<S>,
        out: &mut O,
    ) -> Result<bool, ConnectionError> {
        let me = self.id;
        let transport = self.cfg.transport;
        let frame_limit = self.frame_limit;
        let Root {
            store,
            conns,
            blocks,
            ..
        } = &mut *root;
        let Some(slot) = slot_in(conns, me) else {
            return Ok(false);
        };
        let n = slot.bindings.len();
        for k in 0..n {
            let j = (self.rr + k) % n;
            let Some(b) = slot.bindings.get_mut(j) else {
                continue;
            };
            let peer_id = b.peer_id;
            if !b.source.as_ref().is_some_and(Source::busy) {
                continue;
            }
            let Some(block) = store
                .block_index(blocks, b.block)
                .and_then(|i| blocks.get(i))
            else {
                continue;
            };
            let p = b.parts();
            let Some(src) = p.source else {
                continue;
            };
            let Some(addr) = src.next_addr() else {
                continue;
            };
            let hdr = header_len(transport, peer_id, u32::try_from(addr).unwrap_or(u32::MAX));
            let room = frame_limit.saturating_sub(hdr);
            let is_static = block.is_static();
            let data = block.data.as_ref();
            let Some(plan) = src.plan(data, p.d, is_static, room) else {
                continue;
            };
            let f = Outgoing {
                flags: plan.flags,
                mblk: peer_id,
                addr: u32::try_from(plan.addr).unwrap_or(u32::MAX),
                data: plan.data(data, p.d),
            };
            let len = hdr + plan.wire_len;
            if !self.flow.fits(&self.params, len) || out.room() < len {
                return Ok(false);
            }
            let written = f.encode(transport, self.tx_nr, out)?;
            self.tx_nr = next_nr(self.tx_nr);
            self.flow.sent = self
                .flow
                .sent
                .wrapping_add(u32::try_from(written).unwrap_or(0));
            src.commit(&plan);
            self.rr = j + 1;
            return Ok(true);
        }
        Ok(false)
    }

    // ---------------------------------------------------------------- time

    /// When [`Connection::handle_timeout`] (and then `poll_transmit`) should be called
    /// next: keep-alive, silence timeout, serial link step timeout.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.phase {
            Phase::Closed => None,
            Phase::Link(l) => l.deadline(),
            Phase::AwaitTlsMark | Phase::AwaitHandshake => {
                Some(self.last_receive.saturating_add(self.params.silence))
            }
            Phase::Data => {
                let silence = self.last_receive.saturating_add(self.params.silence);
                // A keep-alive withheld by MAX_ACK_IN_AIR waits for the peer's ACK (input),
                // not for a timer: leave it out so callers do not spin.
                if self.flow.ack_fits(&self.params) {
                    Some(silence.min(self.last_write.saturating_add(self.params.keepalive)))
                } else {
                    Some(silence)
                }
            }
        }
    }

    /// Handles expired timers: silence drops the connection (`Err`); a serial client
    /// repeats CONNECT. Keep-alives are written by the next `poll_transmit`.
    pub fn handle_timeout(
        &mut self,
        root: &mut Root<S>,
        now: Millis,
    ) -> Result<(), ConnectionError> {
        match self.phase {
            Phase::Closed => Ok(()),
            Phase::Link(mut l) if SERIAL => {
                self.raw_out.write(|o| l.timeout(now, o));
                self.phase = Phase::Link(l);
                Ok(())
            }
            Phase::Link(_) => Ok(()),
            Phase::AwaitTlsMark | Phase::AwaitHandshake | Phase::Data => {
                let silent_for = now.saturating_sub(self.last_receive);
                if silent_for >= self.params.silence {
                    Err(self.fail(root, ConnectionError::SilenceTimeout { silent_for }, now))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Queues `e`; when the queue is full, a `DataReceived` joins the one already queued for
/// its block (the board reads the whole block anyway) and anything else is counted lost.
fn push_event<T, Q: Queue<Event<T>>>(queue: &mut Q, lost: &mut u32, e: Event<T>) {
    let Err(e) = queue.push_back(e) else {
        return;
    };
    if let Event::DataReceived { block, range } = &e
        && let Some(Event::DataReceived { range: r, .. }) = queue
            .iter_mut()
            .find(|q| matches!(q, Event::DataReceived { block: b, .. } if b == block))
    {
        *r = r.start.min(range.start)..r.end.max(range.end);
        return;
    }
    *lost = lost.saturating_add(1);
}
