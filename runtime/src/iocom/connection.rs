//! The connection state machine: one per TCP/TLS socket or serial port.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use ferrocom_wire::codec::{DecodeErrorKind, Decoded};
use ferrocom_wire::iocom::{
    AuthFlags, Authentication, BlockFlags, CertificateAnswer, ClientHandshake, ClientType,
    FrameFlags, InfoFlags, MemoryBlockInfo, RemoveRequest, SerialBody, SerialItem, SocketBody,
    SocketItem, SystemBody, SystemMessage, TlsMark,
};

use super::auth::{AuthDecision, AuthRequest, hash_password, user_with_number};
use super::block::BlockId;
use super::event::{BindDirection, Event};
use super::flow::{Flow, Params};
use super::frame::{Outgoing, encode_ack, header_len, next_nr};
use super::root::{Binding, Root};
use super::serial_link::{Link, LinkInput};
use super::source::Source;
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
    pub fn socket_client(is_tls: bool) -> Self {
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
    pub fn socket_observer(is_tls: bool) -> Self {
        ConnectionConfig {
            connect_up: false,
            allow_dynamic: true,
            observe_only: true,
            ..Self::socket_client(is_tls)
        }
    }

    /// A server accepting devices over TCP/TLS, with dynamic blocks.
    pub fn socket_server(is_tls: bool) -> Self {
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
    pub fn switchbox_stream() -> Self {
        ConnectionConfig {
            socket_handshake: false,
            ..Self::socket_server(true)
        }
    }

    /// A device on a serial line (client end of the link procedure).
    pub fn serial_client() -> Self {
        ConnectionConfig {
            transport: Transport::Serial,
            ..Self::socket_client(false)
        }
    }

    /// A server on a serial line (listening end), with dynamic blocks.
    pub fn serial_server() -> Self {
        ConnectionConfig {
            transport: Transport::Serial,
            ..Self::socket_server(false)
        }
    }

    fn params(&self) -> Params {
        match self.transport {
            Transport::Socket => Params::socket(self.frame_size.unwrap_or(1392)),
            Transport::Serial => Params::serial(self.frame_size.unwrap_or(96)),
        }
    }
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

/// One IOCOM connection (sans-I/O).
#[derive(Debug)]
pub struct Connection {
    id: u32,
    cfg: ConnectionConfig,
    /// Own limits (frame size as announced).
    own: Params,
    /// Limits in use (may shrink after the peer's frame-size announcement).
    params: Params,
    /// min(own, peer) frame size: longest frame this end sends.
    frame_limit: usize,
    phase: Phase,
    rx: Vec<u8>,
    /// Bytes outside the IOCOM frame stream (handshake, link control): not counted.
    raw_out: Vec<u8>,
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
    events: VecDeque<Event>,
}

impl Connection {
    /// A new connection registered in `root`, started at `now`: a socket client queues
    /// its handshake (after the TLS mark), a socket server waits for it (TLS: queues the
    /// mark), a serial end starts the link procedure.
    pub fn new(root: &mut Root, cfg: ConnectionConfig, now: Millis) -> Self {
        let id = root.attach(cfg.connect_up);
        let own = cfg.params();
        let mut c = Connection {
            id,
            frame_limit: own.frame_size,
            own,
            params: own,
            phase: Phase::Closed,
            rx: Vec::new(),
            raw_out: Vec::new(),
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
            events: VecDeque::new(),
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
        self.rx.len()
    }

    /// Frame size used for sending: min(own, peer's announcement) (§4.6).
    pub fn frame_limit(&self) -> usize {
        self.frame_limit
    }

    /// Starts over on a new socket or after the serial port was reopened (§8.4):
    /// bindings discarded, dynamic blocks created by this connection released.
    pub fn reset(&mut self, root: &mut Root, now: Millis) {
        root.reset_conn(self.id, self.cfg.connect_up, &mut self.events);
        self.start(root, now);
    }

    /// Removes the connection from `root` for good (releasing its dynamic blocks).
    pub fn close(mut self, root: &mut Root) -> Vec<Event> {
        root.detach(self.id, &mut self.events);
        self.events.into_iter().collect()
    }

    /// Next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn start(&mut self, root: &mut Root, now: Millis) {
        self.rx.clear();
        self.raw_out.clear();
        self.last_receive = now;
        self.last_write = now;
        match (self.cfg.transport, self.cfg.listener, self.cfg.is_tls) {
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
                    let _ = TlsMark {}.encode(&mut self.raw_out);
                }
                self.phase = Phase::AwaitHandshake;
            }
            (Transport::Serial, listener, _) => {
                self.phase = Phase::Link(Link::start(listener, now, &mut self.raw_out));
            }
        }
    }

    fn queue_handshake(&mut self, root: &Root) {
        let net = root.identity.network.as_str();
        let hs = ClientHandshake {
            client_type: ClientType {
                cert_request: false,
                has_network: !net.is_empty(),
                role: 0x13,
            },
            network: (!net.is_empty()).then_some(net),
        };
        if let Err(e) = hs.encode(&mut self.raw_out) {
            self.events.push_back(Event::Disconnected {
                error: ConnectionError::Local(e),
            });
        }
    }

    /// §8.4: counters and numbers to zero, ACK sentinel, authentication forgotten.
    fn enter_data(&mut self, root: &mut Root, now: Millis, network: Option<String>) {
        root.reset_conn(self.id, self.cfg.connect_up, &mut self.events);
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
        self.events.push_back(Event::Connected { network });
    }

    /// Drops the connection: on serial the link procedure starts over at once, on a
    /// socket the connection stays closed until [`Connection::reset`].
    fn fail(&mut self, root: &mut Root, error: ConnectionError, now: Millis) -> ConnectionError {
        root.reset_conn(self.id, self.cfg.connect_up, &mut self.events);
        self.rx.clear();
        self.raw_out.clear();
        self.events.push_back(Event::Disconnected {
            error: error.clone(),
        });
        self.phase = match self.cfg.transport {
            Transport::Serial => {
                Phase::Link(Link::start(self.cfg.listener, now, &mut self.raw_out))
            }
            Transport::Socket => Phase::Closed,
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
        root: &mut Root,
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
                    self.rx.extend_from_slice(data);
                    let rx = core::mem::take(&mut self.rx);
                    return match ClientHandshake::decode(&rx) {
                        Ok(Decoded::Incomplete(_)) => {
                            self.rx = rx;
                            Ok(())
                        }
                        Ok(Decoded::Complete(hs, n)) => {
                            if hs.client_type.cert_request {
                                // §8.1 step 4: "no certificate" (the C server's answer).
                                let _ = CertificateAnswer { certificate: &[] }
                                    .encode(&mut self.raw_out);
                            }
                            let network = hs.network.map(String::from);
                            self.enter_data(root, now, network);
                            self.data_input(root, rx.get(n..).unwrap_or(&[]), now)
                        }
                        Err(e) => Err(self.fail(root, ConnectionError::Decode(e), now)),
                    };
                }
                Phase::Link(mut link) => {
                    let r = link.input(data, now, &mut self.raw_out);
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
        root: &mut Root,
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
        self.rx.extend_from_slice(data);
        let rx = core::mem::take(&mut self.rx);
        let mut pos = 0;
        let result = loop {
            let buf = rx.get(pos..).unwrap_or(&[]);
            match self.one_item(root, buf) {
                Ok(Some(n)) => pos += n,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => {
                self.rx = rx.get(pos..).unwrap_or(&[]).to_vec();
                Ok(())
            }
            Err(e) => Err(self.fail(root, e, now)),
        }
    }

    /// Parses and handles one item at the start of `buf`; `Ok(None)` = need more bytes.
    fn one_item(&mut self, root: &mut Root, buf: &[u8]) -> Result<Option<usize>, ConnectionError> {
        let Some(&lead) = buf.first() else {
            return Ok(None);
        };
        let serial = self.cfg.transport == Transport::Serial;
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
                Ok(None)
            }
        };
        if serial {
            match SerialItem::decode(buf) {
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
                    Ok(Some(n))
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
            match SocketItem::decode(buf) {
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
                    Ok(Some(n))
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
        root: &mut Root,
        flags: FrameFlags,
        mblk: u32,
        addr: u32,
        data: &[u8],
    ) -> Result<(), ConnectionError> {
        if !flags.contains(FrameFlags::SYSTEM) {
            return self.on_data(root, flags, mblk, addr, data);
        }
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
                self.events
                    .push_back(Event::UnknownSystemFrame { kind: u.kind });
                Ok(())
            }
        }
    }

    fn on_auth(
        &mut self,
        root: &mut Root,
        frame_size: u32,
        a: &Authentication<'_>,
    ) -> Result<(), ConnectionError> {
        if self.cfg.listener
            && self.cfg.is_tls
            && let Some(hook) = root.authorizer.as_mut()
        {
            let user = user_with_number(a.user, a.device_nr);
            let hash = (!a.password.is_empty()).then(|| hash_password(a.password));
            let req = AuthRequest {
                user: &user,
                network: a.network,
                password_hash: hash.as_deref(),
                unique_id: a.unique_id,
                flags: a.flags,
            };
            if hook.authorize(&req) == AuthDecision::Deny {
                return Err(ConnectionError::AuthorizationRefused);
            }
        }
        if self.cfg.listener {
            self.connect_up = !a.flags.contains(AuthFlags::CONNECT_UP);
            self.peer_bidirectional = a.flags.contains(AuthFlags::BIDIRECTIONAL);
            let up = self.connect_up;
            if let Some(slot) = root.slot(self.id) {
                slot.connect_up = up;
            }
        }
        let net = root.identity.network.as_str();
        if (net.is_empty() || net == "*") && !a.network.is_empty() {
            root.identity.network = a.network.into();
        }
        if let Some(fs) = self.params.peer_frame_size(frame_size) {
            self.frame_limit = fs;
        }
        self.peer_auth = true;
        let unique_id = a.unique_id.and_then(|u| <[u8; 12]>::try_from(u).ok());
        self.peer_unique_id = unique_id;
        self.events.push_back(Event::PeerAuthenticated {
            user: a.user.into(),
            device_nr: a.device_nr,
            network: a.network.into(),
            flags: a.flags,
            unique_id,
        });
        Ok(())
    }

    fn assigned_nr(&mut self, root: &mut Root) -> u32 {
        if let Some(nr) = root.slot(self.id).and_then(|s| s.assigned_nr) {
            return nr;
        }
        let uid = self.peer_unique_id;
        let nr = {
            let Root {
                numbers,
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
            numbers.assign(uid.as_ref(), &in_use)
        };
        if let Some(slot) = root.slot(self.id) {
            slot.assigned_nr = Some(nr);
        }
        self.events.push_back(Event::DeviceNumberAssigned {
            unique_id: uid,
            device_nr: nr,
        });
        nr
    }

    /// Binding rule of §10.4.
    fn on_mbinfo(&mut self, root: &mut Root, peer_id: u32, m: &MemoryBlockInfo<'_>) {
        let device_nr = match m.device_nr {
            AUTO_DEVICE_NR => self.assigned_nr(root),
            TO_AUTO_DEVICE_NR if root.identity.device_nr == AUTO_DEVICE_NR => AUTO_DEVICE_NR,
            nr => nr,
        };
        let (device_name, network) = match (m.device_name, m.network) {
            (Some(d), Some(n)) => (String::from(d), String::from(n)),
            _ => (
                root.identity.device_name.clone(),
                root.identity.network.clone(),
            ),
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
        let id = match root.find_block(name, &device_name, device_nr, &network) {
            Some(b) => b.id,
            None if self.cfg.allow_dynamic => {
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
                let data = root
                    .take_preset(name, &device_name, device_nr, &network, size)
                    .unwrap_or_else(|| alloc::vec![0; size]);
                let Some(id) = root.insert_block(
                    name,
                    &device_name,
                    device_nr,
                    &network,
                    flags,
                    data,
                    Some(self.id),
                ) else {
                    return;
                };
                self.events.push_back(Event::BlockCreated { block: id });
                id
            }
            None => return,
        };
        let Some(block) = root.blocks.by_id_mut(id) else {
            return;
        };
        if block.flags.contains(BlockFlags::ALLOW_RESIZE)
            && block.data.len() < size
            && size <= 16 << 20
        {
            block.data.resize(size, 0);
        }
        let as_source = !self.cfg.observe_only && block.flags.contains(src) && recv.contains(src);
        let as_target = block.flags.contains(tgt) && recv.contains(tgt);
        if !as_source && !as_target {
            return;
        }
        let is_static = block.is_static();
        let data = block.data.clone();
        let reply = !self.connect_up;
        let me = self.id;
        let Some(slot) = root.slot(me) else {
            return;
        };
        if slot.bindings.iter().any(|b| b.block == id) {
            return; // bound at most once per connection
        }
        let mut binding = Binding {
            block: id,
            peer_id,
            source: None,
            target: None,
            reply_pending: reply,
        };
        if as_source {
            let mut s = Source::new(data.len());
            s.take_snapshot(&data, is_static);
            binding.source = Some(s);
            self.events.push_back(Event::BlockBound {
                block: id,
                peer_id,
                direction: BindDirection::Source,
            });
        }
        if as_target {
            binding.target = Some(Target::new(&data));
            self.events.push_back(Event::BlockBound {
                block: id,
                peer_id,
                direction: BindDirection::Target,
            });
        }
        slot.bindings.push(binding);
        root.note_bound(id, me);
        if as_target && !recv.contains(BlockFlags::BIDIRECTIONAL) {
            // One upstream source at a time (§10.4 step 4).
            let others: Vec<u32> = root
                .binders
                .get(&id.0)
                .map(|l| l.iter().copied().filter(|c| *c != me).collect())
                .unwrap_or_default();
            for conn in others {
                let Some(other) = super::root::slot_in(&mut root.conns, conn) else {
                    continue;
                };
                for b in other.bindings.iter_mut().filter(|b| b.block == id) {
                    b.target = None;
                }
                other
                    .bindings
                    .retain(|b| b.source.is_some() || b.target.is_some());
                if !other.bindings.iter().any(|b| b.block == id) {
                    root.note_unbound(id, conn);
                }
            }
        }
    }

    fn on_remove(
        &mut self,
        root: &mut Root,
        count: u32,
        r: &RemoveRequest,
    ) -> Result<(), ConnectionError> {
        if !(1..=16).contains(&count) || usize::try_from(count).ok() != Some(r.ids.len()) {
            return Err(ConnectionError::BadRemoveCount {
                header: count,
                ids: r.ids.len(),
            });
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
                self.events.push_back(Event::BlockRemoved {
                    block: b.id,
                    name: b.name,
                });
            }
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        root: &mut Root,
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
        let Root { conns, blocks, .. } = &mut *root;
        let Some(target) = super::root::slot_in(conns, me)
            .and_then(|s| s.bindings.iter_mut().find(|b| b.block == id))
            .and_then(|b| b.target.as_mut())
        else {
            return Ok(()); // unbound ids are ignored (§10.4)
        };
        let at = usize::try_from(addr).unwrap_or(usize::MAX);
        target
            .apply(at, data, flags.contains(FrameFlags::DELTA))
            .map_err(|block_size| ConnectionError::AddressBeyondBlock { addr, block_size })?;
        if flags.contains(FrameFlags::SYNC) {
            let Some(block) = blocks.by_id_mut(id) else {
                return Ok(());
            };
            if let Some(range) = target.publish(&mut block.data) {
                self.events.push_back(Event::DataReceived {
                    block: id,
                    range: range.clone(),
                });
                root.relay(id, range, me);
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- output

    /// Appends all bytes to send now to `out` and returns how many were appended:
    /// [`Connection::poll_transmit_step`] repeated until it has nothing more.
    pub fn poll_transmit(&mut self, root: &mut Root, now: Millis, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        while self.poll_transmit_step(root, now, out) > 0 {}
        out.len() - start
    }

    /// One send step of the C connection (§10.3): pending handshake / link bytes, an ACK
    /// if due, then at most one numbered frame by priority (authentication → remove
    /// requests → mbinfo → data, round-robin one frame per block per turn), withheld at
    /// the in-flight limit (§6.3); a keep-alive ACK after KEEPALIVE ms without writing.
    /// Returns the bytes appended (0 = nothing to send now).
    pub fn poll_transmit_step(&mut self, root: &mut Root, now: Millis, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.append(&mut self.raw_out);
        if self.phase == Phase::Data {
            let before = out.len();
            let step = (|| {
                if self.flow.ack_due(&self.params) && self.flow.ack_fits(&self.params) {
                    self.send_ack(out)?;
                }
                self.send_one(root, out)
            })();
            if let Err(e) = step {
                let _ = self.fail(root, e, now);
                out.append(&mut self.raw_out);
                return out.len() - start;
            }
            if out.len() == before
                && now.saturating_sub(self.last_write) >= self.params.keepalive
                && self.flow.ack_fits(&self.params)
            {
                let _ = self.send_ack(out);
            }
            if out.len() > before {
                self.last_write = now;
            }
        }
        out.len() - start
    }

    fn send_ack(&mut self, out: &mut Vec<u8>) -> Result<(), ConnectionError> {
        let count = self.flow.ack_count(&self.params);
        let n = encode_ack(self.cfg.transport, count, out)?;
        self.flow.acknowledged = self.flow.received;
        self.flow.sent = self.flow.sent.wrapping_add(u32::try_from(n).unwrap_or(0));
        Ok(())
    }

    /// Sends `f` if it passes flow control; assigns the frame number only then (§5).
    fn try_send(
        &mut self,
        f: &Outgoing<'_>,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConnectionError> {
        if !self.flow.fits(&self.params, len) {
            return Ok(false);
        }
        let n = f.encode(self.cfg.transport, self.tx_nr, out)?;
        self.tx_nr = next_nr(self.tx_nr);
        self.flow.sent = self.flow.sent.wrapping_add(u32::try_from(n).unwrap_or(0));
        Ok(true)
    }

    fn send_system(
        &mut self,
        msg: &SystemMessage<'_>,
        mblk: u32,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConnectionError> {
        let mut content = Vec::new();
        msg.encode(&mut content)?;
        let f = Outgoing {
            flags: FrameFlags::SYSTEM,
            mblk,
            addr: 0,
            data: &content,
        };
        let len = f.len(self.cfg.transport);
        self.try_send(&f, len, out)
    }

    /// One numbered frame by priority; `false` if nothing to send or flow control stalls.
    fn send_one(&mut self, root: &mut Root, out: &mut Vec<u8>) -> Result<bool, ConnectionError> {
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
        let removes: Vec<u32> = match root.slot(me) {
            Some(s) if !s.removes.is_empty() => s
                .removes
                .iter()
                .take(REMOVE_IDS_PER_FRAME)
                .copied()
                .collect(),
            _ => Vec::new(),
        };
        if !removes.is_empty() {
            let msg = SystemMessage {
                body: SystemBody::RemoveRequest(RemoveRequest {
                    ids: removes.iter().map(|&i| i64::from(i)).collect(),
                }),
            };
            let count = u32::try_from(removes.len()).unwrap_or(0);
            let sent = self.send_system(&msg, count, out)?;
            if sent && let Some(s) = root.slot(me) {
                s.removes.drain(..removes.len().min(s.removes.len()));
            }
            return Ok(sent);
        }
        // Memory block info.
        if let Some(sent) = self.send_mbinfo(root, out)? {
            return Ok(sent);
        }
        self.send_data(root, out)
    }

    fn send_auth(&mut self, root: &Root, out: &mut Vec<u8>) -> Result<bool, ConnectionError> {
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
            id.password.as_str()
        } else {
            ""
        };
        let msg = SystemMessage {
            body: SystemBody::Authentication(Authentication {
                flags,
                user: &id.device_name,
                device_nr: nr,
                unique_id: unique.then_some(&id.unique_id[..]),
                network: &id.network,
                password,
            }),
        };
        let fs = u32::try_from(self.own.frame_size).unwrap_or(u32::MAX);
        self.send_system(&msg, fs, out)
    }

    /// Pending mbinfo: announcements (connect-up end, creation order) or replies
    /// (other end: source bindings first, then targets, each in binding order; §10.3).
    /// `None` if there is none.
    fn send_mbinfo(
        &mut self,
        root: &mut Root,
        out: &mut Vec<u8>,
    ) -> Result<Option<bool>, ConnectionError> {
        let me = self.id;
        let Some(slot) = super::root::slot_index(&root.conns, me).and_then(|i| root.conns.get(i))
        else {
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
            let Some(i) = block.and_then(|id| root.blocks.index_of(id)) else {
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
        let size = u32::try_from(block.data.len()).unwrap_or(u32::MAX);
        let has_dev = !block.device_name.is_empty();
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
        if !block.name.is_empty() {
            info |= InfoFlags::HAS_MBLK_NAME;
        }
        let msg = SystemMessage {
            body: SystemBody::MemoryBlockInfo(MemoryBlockInfo {
                info,
                device_nr,
                size,
                block_flags: u32::from(bflags.0),
                device_name: has_dev.then_some(block.device_name.as_str()),
                network: has_dev.then_some(block.network.as_str()),
                block_name: (!block.name.is_empty()).then_some(block.name.as_str()),
            }),
        };
        let own_id = u32::from(block.id.0);
        let mut content = Vec::new();
        msg.encode(&mut content)?;
        let f = Outgoing {
            flags: FrameFlags::SYSTEM,
            mblk: own_id,
            addr: 0,
            data: &content,
        };
        let len = f.len(self.cfg.transport);
        let sent = self.try_send(&f, len, out)?;
        if sent && let Some(slot) = root.slot(me) {
            match binding_idx {
                None => slot.announced.push(serial),
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
    fn send_data(&mut self, root: &mut Root, out: &mut Vec<u8>) -> Result<bool, ConnectionError> {
        let me = self.id;
        let transport = self.cfg.transport;
        let frame_limit = self.frame_limit;
        let Root { conns, blocks, .. } = &mut *root;
        let Some(slot) = super::root::slot_in(conns, me) else {
            return Ok(false);
        };
        let n = slot.bindings.len();
        for k in 0..n {
            let j = (self.rr + k) % n;
            let Some(b) = slot.bindings.get_mut(j) else {
                continue;
            };
            let peer_id = b.peer_id;
            let Some(src) = b.source.as_mut().filter(|s| s.busy()) else {
                continue;
            };
            let Some(block) = blocks.by_id(b.block) else {
                continue;
            };
            let Some(addr) = src.next_addr() else {
                continue;
            };
            let hdr = header_len(transport, peer_id, u32::try_from(addr).unwrap_or(u32::MAX));
            let room = frame_limit.saturating_sub(hdr);
            let Some(plan) = src.plan(&block.data, block.is_static(), room) else {
                continue;
            };
            let f = Outgoing {
                flags: plan.flags,
                mblk: peer_id,
                addr: u32::try_from(plan.addr).unwrap_or(u32::MAX),
                data: &plan.data,
            };
            if !self.flow.fits(&self.params, hdr + plan.wire_len) {
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
    pub fn handle_timeout(&mut self, root: &mut Root, now: Millis) -> Result<(), ConnectionError> {
        match self.phase {
            Phase::Closed => Ok(()),
            Phase::Link(mut l) => {
                l.timeout(now, &mut self.raw_out);
                self.phase = Phase::Link(l);
                Ok(())
            }
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
