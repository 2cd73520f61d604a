//! The session state machine: one per connection, for either end.

use alloc::borrow::Cow;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iotellect::{
    BinaryFrame, BodyKind, CallFunction, Command, CommandBody, Event as WireEvent, GetVariable,
    Listener, Message, MessageBody, Operation as WireOperation, OperationBody, Reply, SetVariable,
    Start, V2Frame,
};
use ferrocom_wire::transforms::transfer;

use super::error::{RequestError, SessionError};
use super::event::{
    Event, IncomingEvent, ListenerSpec, Operation, Refusal, ReplyCode, Request, Response,
};
use super::{Millis, Version};

/// Frame start.
const STX: u8 = 0x02;
/// V2 frame end.
const CR: u8 = 0x0D;
/// Command part separator.
const SEP: u8 = 0x17;
/// Commands up to this size are never compressed (reference §3, the Java writer's rule).
const COMPRESS_ABOVE: usize = 128;
/// The longest message id read from a malformed message to answer it with `E`.
const MAX_ID_LEN: usize = 64;

/// Which end of the link the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Sends Start (proposing 4, then 3, then 2) and the periodic keep-alive Start: the
    /// Iotellect server that an agent connected to.
    Server,
    /// Answers Start: the agent (device side).
    Agent,
}

/// Session settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Which end.
    pub side: Side,
    /// Highest version proposed (server) or accepted (agent); default 4.
    pub max_version: Version,
    /// Agent: ask for compression in the Start reply (`/C`); the server follows the
    /// agent's choice. Default on.
    pub compression: bool,
    /// Longest command accepted or sent, in bytes (also bounds buffered input); default
    /// 4 MiB. A zlib body is also capped at 16 MiB inflated by the codec.
    pub max_command: usize,
    /// How long a request (and our Start) waits for its reply; default 60 s.
    pub request_timeout: Millis,
    /// Server: send Start as a keep-alive this often once started; default 10 s. The
    /// agent ignores it.
    pub keep_alive: Option<Millis>,
    /// Drop the link after this long without input once keep-alive is in force (the
    /// agent has seen more than one Start, or the server has sent a keep-alive Start);
    /// default 100 s (10 × 10 s).
    pub silence_limit: Millis,
    /// Requests of ours awaiting replies, and of the peer awaiting ours, at most;
    /// default 256. More of the peer's are answered `E`.
    pub max_pending: usize,
}

impl Config {
    /// The server end with the defaults.
    pub fn server() -> Self {
        Config {
            side: Side::Server,
            max_version: Version::V4,
            compression: true,
            max_command: 4 << 20,
            request_timeout: 60_000,
            keep_alive: Some(10_000),
            silence_limit: 100_000,
            max_pending: 256,
        }
    }

    /// The agent end with the defaults.
    pub fn agent() -> Self {
        Config {
            side: Side::Agent,
            keep_alive: None,
            ..Config::server()
        }
    }
}

/// Names one request of ours in its [`Event::Response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// An event to send ([`Session::send_event`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingEvent<'a> {
    /// Context path.
    pub context: &'a str,
    /// Event name.
    pub event: &'a str,
    /// 0 none, 1 notice, 2 info, 3 warning, 4 error, 5 fatal.
    pub level: i32,
    /// Event id.
    pub event_id: &'a str,
    /// The listener code it is for (empty: none).
    pub listener: &'a str,
    /// Event data, an encoded table.
    pub data: &'a [u8],
    /// Creation time, ms since the Unix epoch.
    pub created: i64,
    /// Server id, if any.
    pub server_id: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Our Start proposing this version (V2 framing until the reply).
    Start(Version),
    /// A keep-alive Start.
    Ping,
    /// A request of the user.
    User,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    kind: Kind,
    deadline: Millis,
}

/// One Iotellect link (see the [module docs](super)).
#[derive(Debug)]
pub struct Session {
    cfg: Config,
    /// Received bytes not yet forming a whole frame.
    rx: Vec<u8>,
    /// V2: bytes after the STX at `rx[0]` already searched for CR / STX, so input fed
    /// one byte at a time is scanned once.
    scanned: usize,
    rx_version: Version,
    tx_version: Version,
    compress: bool,
    tx: Vec<u8>,
    started: bool,
    starts_received: u32,
    pings_sent: u32,
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    /// Requests of the peer not yet answered: id → the peer wants a reply.
    open: BTreeMap<String, bool>,
    events: VecDeque<Event>,
    last_rx: Millis,
    next_ping: Option<Millis>,
    failed: Option<SessionError>,
}

impl Session {
    /// A session for a new connection; the server end queues its first Start at once.
    pub fn new(cfg: Config, now: Millis) -> Self {
        let mut s = Session {
            cfg,
            rx: Vec::new(),
            scanned: 0,
            rx_version: Version::V2,
            tx_version: Version::V2,
            compress: false,
            tx: Vec::new(),
            started: false,
            starts_received: 0,
            pings_sent: 0,
            next_id: 1,
            pending: BTreeMap::new(),
            open: BTreeMap::new(),
            events: VecDeque::new(),
            last_rx: now,
            next_ping: None,
            failed: None,
        };
        if s.cfg.side == Side::Server {
            let v = s.cfg.max_version;
            s.send_start(v, Kind::Start(v), now);
        }
        s
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Start was accepted: requests and events may be sent.
    pub fn is_started(&self) -> bool {
        self.started && self.failed.is_none()
    }

    /// The version frames are written with now.
    pub fn version(&self) -> Version {
        self.tx_version
    }

    /// Commands over 128 bytes are sent zlib-compressed.
    pub fn compression(&self) -> bool {
        self.compress
    }

    /// Our requests awaiting replies.
    pub fn pending_len(&self) -> usize {
        self.pending
            .values()
            .filter(|p| p.kind == Kind::User)
            .count()
    }

    /// Received bytes held while a frame is incomplete: at most
    /// [`Config::max_command`] + 6 (a V3/V4 header, kind and the body so far).
    pub fn buffered_len(&self) -> usize {
        self.rx.len()
    }

    /// The error that ended the link, if one did.
    pub fn error(&self) -> Option<&SessionError> {
        self.failed.as_ref()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Appends the bytes to send to `out`. Nothing after a [`SessionError`].
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        if self.failed.is_none() {
            out.append(&mut self.tx);
        }
    }

    /// Bytes from the peer. On an error the connection must be closed; events queued
    /// before it stay available, and every later call returns the same error.
    pub fn handle_input(&mut self, bytes: &[u8], now: Millis) -> Result<(), SessionError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if !bytes.is_empty() {
            self.last_rx = now;
        }
        let mut buf = core::mem::take(&mut self.rx);
        buf.extend_from_slice(bytes);
        let r = self.read_frames(&buf, now);
        match r {
            Ok(used) => {
                buf.drain(..used);
                self.rx = buf;
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due next, if ever.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.failed.is_some() {
            return None;
        }
        let pending = self.pending.values().map(|p| p.deadline).min();
        let silence = self
            .keep_alive_in_force()
            .then(|| self.last_rx.saturating_add(self.cfg.silence_limit));
        [pending, silence, self.next_ping]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time passed: requests without reply time out, the keep-alive Start goes out, and
    /// a silent link or an unanswered Start fails.
    pub fn handle_timeout(&mut self, now: Millis) -> Result<(), SessionError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.keep_alive_in_force() {
            let silent_for = now.saturating_sub(self.last_rx);
            if silent_for >= self.cfg.silence_limit {
                return Err(self.fail(SessionError::Silence { silent_for }));
            }
        }
        let expired: Vec<(u64, Kind)> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(id, p)| (*id, p.kind))
            .collect();
        for (id, kind) in expired {
            self.pending.remove(&id);
            match kind {
                Kind::Start(_) => return Err(self.fail(SessionError::StartTimeout)),
                // The silence rule decides whether the link is dead.
                Kind::Ping => {}
                Kind::User => self.events.push_back(Event::Response {
                    id: RequestId(id),
                    response: Response::TimedOut,
                }),
            }
        }
        if let Some(due) = self.next_ping
            && now >= due
        {
            let v = self.tx_version;
            self.send_start(v, Kind::Ping, now);
            self.pings_sent = self.pings_sent.saturating_add(1);
            self.next_ping = self.cfg.keep_alive.map(|k| now.saturating_add(k.max(1)));
        }
        Ok(())
    }

    // ---- requests ------------------------------------------------------------------

    /// Asks for a variable's value (`G`); the reply's first parameter is the table.
    pub fn get_variable(
        &mut self,
        context: &str,
        variable: &str,
        now: Millis,
    ) -> Result<RequestId, RequestError> {
        let (n, id) = self.begin()?;
        let cmd = operation(
            &id,
            OperationBody::GetVariable(GetVariable { context, variable }),
        );
        self.commit(n, &cmd, now)
    }

    /// Writes a variable (`S`) with an encoded table.
    pub fn set_variable(
        &mut self,
        context: &str,
        variable: &str,
        table: &[u8],
        queue: Option<&str>,
        now: Millis,
    ) -> Result<RequestId, RequestError> {
        let (n, id) = self.begin()?;
        let cmd = operation(
            &id,
            OperationBody::SetVariable(SetVariable {
                context,
                variable,
                table,
                queue: queue.map(|q| Cow::Borrowed(q.as_bytes())),
            }),
        );
        self.commit(n, &cmd, now)
    }

    /// Calls a function (`C`) with an encoded input table; the reply's first parameter
    /// is the output table.
    pub fn call_function(
        &mut self,
        context: &str,
        function: &str,
        input: &[u8],
        now: Millis,
    ) -> Result<RequestId, RequestError> {
        let (n, id) = self.begin()?;
        let cmd = operation(
            &id,
            OperationBody::CallFunction(CallFunction {
                context,
                function,
                input,
                queue: None,
                flags: None,
            }),
        );
        self.commit(n, &cmd, now)
    }

    /// Adds a listener (`L`): the peer sends the event to us from now on.
    pub fn add_listener(
        &mut self,
        spec: &ListenerSpec,
        now: Millis,
    ) -> Result<RequestId, RequestError> {
        let code = spec.listener.map(|c| c.to_string()).unwrap_or_default();
        let (n, id) = self.begin()?;
        let cmd = operation(&id, OperationBody::AddListener(wire_listener(spec, &code)));
        self.commit(n, &cmd, now)
    }

    /// Removes a listener (`R`).
    pub fn remove_listener(
        &mut self,
        spec: &ListenerSpec,
        now: Millis,
    ) -> Result<RequestId, RequestError> {
        let code = spec.listener.map(|c| c.to_string()).unwrap_or_default();
        let (n, id) = self.begin()?;
        let cmd = operation(
            &id,
            OperationBody::RemoveListener(wire_listener(spec, &code)),
        );
        self.commit(n, &cmd, now)
    }

    /// Sends an event (no id, never replied to).
    pub fn send_event(&mut self, e: &OutgoingEvent<'_>) -> Result<(), RequestError> {
        if !self.is_started() {
            return Err(RequestError::NotStarted);
        }
        let cmd = Command {
            body: CommandBody::Message(Message {
                id: "",
                body: MessageBody::Event(WireEvent {
                    context: e.context,
                    event: e.event,
                    level: e.level,
                    event_id: e.event_id,
                    listener: e.listener,
                    data: e.data,
                    created: e.created,
                    server_id: e.server_id,
                }),
            }),
        };
        self.put(&cmd, true)
    }

    /// Answers the peer's request `id` with `A` and these parameters (a Get or Call is
    /// answered with one: the encoded table). Answers to a call that asked for no reply
    /// are dropped.
    pub fn reply(&mut self, id: &str, params: &[&[u8]]) -> Result<(), RequestError> {
        let wants = self.take_open(id)?;
        if !wants {
            return Ok(());
        }
        let cmd = Command {
            body: CommandBody::Reply(Reply {
                id,
                code: "A",
                params: params.to_vec(),
            }),
        };
        self.put(&cmd, true)
    }

    /// Answers the peer's request `id` with a refusal (`D`, `E`, ...); message and
    /// details are transfer-encoded.
    pub fn refuse(&mut self, id: &str, refusal: &Refusal) -> Result<(), RequestError> {
        let wants = self.take_open(id)?;
        if !wants {
            return Ok(());
        }
        self.put_refusal(id, refusal)
    }

    // ---- internals -----------------------------------------------------------------

    fn fail(&mut self, e: SessionError) -> SessionError {
        self.tx.clear();
        self.rx = Vec::new();
        self.failed = Some(e.clone());
        e
    }

    fn keep_alive_in_force(&self) -> bool {
        self.starts_received > 1 || self.pings_sent > 0
    }

    fn take_open(&mut self, id: &str) -> Result<bool, RequestError> {
        if self.failed.is_some() {
            return Err(RequestError::NotStarted);
        }
        self.open
            .remove(id)
            .ok_or_else(|| RequestError::UnknownRequest(id.into()))
    }

    fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Checks that a request may be made; returns its id.
    fn begin(&self) -> Result<(u64, String), RequestError> {
        if !self.is_started() {
            return Err(RequestError::NotStarted);
        }
        let n = self.pending_len();
        if n >= self.cfg.max_pending {
            return Err(RequestError::TooManyPending(n));
        }
        Ok((self.next_id, self.next_id.to_string()))
    }

    /// Sends a request built with the id from [`begin`](Self::begin).
    fn commit(
        &mut self,
        id: u64,
        cmd: &Command<'_>,
        now: Millis,
    ) -> Result<RequestId, RequestError> {
        self.put(cmd, true)?;
        self.alloc_id();
        self.pending.insert(
            id,
            Pending {
                kind: Kind::User,
                deadline: now.saturating_add(self.cfg.request_timeout),
            },
        );
        Ok(RequestId(id))
    }

    /// Queues Start proposing `version` in the current framing (never compressed).
    fn send_start(&mut self, version: Version, kind: Kind, now: Millis) {
        let id = self.alloc_id();
        let text = id.to_string();
        let number = version.number().to_string();
        let cmd = Command {
            body: CommandBody::Message(Message {
                id: &text,
                body: MessageBody::Start(Start {
                    version: Some(&number),
                }),
            }),
        };
        // Digits and fixed letters only: encoding cannot fail.
        if self.put(&cmd, false).is_ok() {
            self.pending.insert(
                id,
                Pending {
                    kind,
                    deadline: now.saturating_add(self.cfg.request_timeout),
                },
            );
        }
    }

    /// Encodes a command and frames it for the current writer version.
    fn put(&mut self, cmd: &Command<'_>, may_compress: bool) -> Result<(), RequestError> {
        let mut body = Vec::new();
        cmd.encode(&mut body)
            .map_err(|e| RequestError::Encode(e.to_string()))?;
        if body.len() > self.cfg.max_command {
            return Err(RequestError::TooLong {
                len: body.len(),
                limit: self.cfg.max_command,
            });
        }
        let r = if self.tx_version.is_binary() {
            let kind = if may_compress && self.compress && body.len() > COMPRESS_ABOVE {
                BodyKind::ZLIB
            } else {
                BodyKind::RAW
            };
            BinaryFrame {
                kind,
                body: Cow::Borrowed(&body),
            }
            .encode(&mut self.tx)
        } else {
            // The codec refuses CR inside; STX would restart the peer's parser.
            if body.contains(&STX) {
                return Err(RequestError::Encode(
                    "STX (0x02) inside a V2 command; escape the text".into(),
                ));
            }
            V2Frame { command: &body }.encode(&mut self.tx)
        };
        r.map(|_| ())
            .map_err(|e| RequestError::Encode(e.to_string()))
    }

    fn put_refusal(&mut self, id: &str, refusal: &Refusal) -> Result<(), RequestError> {
        let mut message = Vec::new();
        transfer::encode_level(refusal.message.as_bytes(), 1, &mut message);
        let mut params: Vec<&[u8]> = vec![&message];
        let mut details = Vec::new();
        if let Some(d) = &refusal.details {
            transfer::encode_level(d.as_bytes(), 1, &mut details);
            params.push(&details);
        }
        let cmd = Command {
            body: CommandBody::Reply(Reply {
                id,
                code: refusal.code.as_str(),
                params,
            }),
        };
        self.put(&cmd, true)
    }

    /// Sends a refusal the session decided on by itself and reports it.
    fn refuse_now(&mut self, id: &str, refusal: Refusal) {
        let reason = refusal.message.clone();
        let code = match self.put_refusal(id, &refusal) {
            Ok(()) => Some(refusal.code),
            Err(_) => None,
        };
        self.events.push_back(Event::Refused {
            id: id.into(),
            code,
            reason,
        });
    }

    /// Reads every whole frame of `buf`; returns the bytes consumed.
    fn read_frames(&mut self, buf: &[u8], now: Millis) -> Result<usize, SessionError> {
        let mut at = 0;
        loop {
            // Bytes before an STX are skipped (V2 rule; in V3/V4 the CR after a frame
            // is such a byte for a reader that does not check it).
            let Some(stx) = buf[at..].iter().position(|&b| b == STX) else {
                self.scanned = 0;
                return Ok(buf.len());
            };
            if stx > 0 {
                self.scanned = 0;
            }
            at += stx;
            let rest = &buf[at..];
            if self.rx_version.is_binary() {
                // The length is peeked here, ahead of the codec (which refuses only
                // lengths over 16 MiB), so that a frame announcing more than
                // `max_command` is refused before any of its body is buffered.
                if let Some(len) = rest.get(1..5).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                    let declared = i32::from_be_bytes(len);
                    let body = usize::try_from(declared).unwrap_or(0).saturating_sub(1);
                    if body > self.cfg.max_command {
                        return Err(SessionError::CommandTooLong {
                            len: body,
                            limit: self.cfg.max_command,
                        });
                    }
                }
                match BinaryFrame::decode(rest) {
                    Ok(Decoded::Complete(frame, used)) => {
                        at += used;
                        if frame.body.len() > self.cfg.max_command {
                            return Err(SessionError::CommandTooLong {
                                len: frame.body.len(),
                                limit: self.cfg.max_command,
                            });
                        }
                        self.on_body(&frame.body, now)?;
                    }
                    Ok(Decoded::Incomplete(_)) => return Ok(at),
                    Err(error) => {
                        return Err(SessionError::Malformed {
                            what: "frame",
                            error,
                        });
                    }
                }
            } else {
                // V2: the command ends at CR; a new STX first restarts the frame.
                let from = 1 + self.scanned.min(rest.len().saturating_sub(1));
                match rest[from..].iter().position(|&b| b == CR || b == STX) {
                    Some(i) if rest[from + i] == STX => {
                        at += from + i;
                        self.scanned = 0;
                    }
                    Some(i) => {
                        let end = from + i + 1;
                        self.scanned = 0;
                        let frame = V2Frame::decode_exact(&rest[..end]).map_err(|error| {
                            SessionError::Malformed {
                                what: "frame",
                                error,
                            }
                        })?;
                        at += end;
                        self.on_body(frame.command, now)?;
                    }
                    None => {
                        let len = rest.len() - 1;
                        if len > self.cfg.max_command {
                            return Err(SessionError::CommandTooLong {
                                len,
                                limit: self.cfg.max_command,
                            });
                        }
                        self.scanned = len;
                        return Ok(at);
                    }
                }
            }
        }
    }

    /// One command's bytes.
    fn on_body(&mut self, body: &[u8], now: Millis) -> Result<(), SessionError> {
        match Command::decode_exact(body) {
            Ok(cmd) => self.on_command(cmd, now),
            Err(error) => match readable_message_id(body) {
                Some(id) => {
                    self.refuse_now(
                        id,
                        Refusal {
                            code: ReplyCode::Error,
                            message: format!("malformed command: {error}"),
                            details: None,
                        },
                    );
                    Ok(())
                }
                None => Err(SessionError::Malformed {
                    what: "command",
                    error,
                }),
            },
        }
    }

    fn on_command(&mut self, cmd: Command<'_>, now: Millis) -> Result<(), SessionError> {
        match cmd.body {
            CommandBody::Reply(r) => self.on_reply(r, now),
            CommandBody::Message(m) => {
                let id = m.id;
                match m.body {
                    MessageBody::Start(s) => {
                        self.on_start(id, s.version);
                        Ok(())
                    }
                    MessageBody::Event(e) if self.started => {
                        self.events.push_back(Event::Event(IncomingEvent {
                            context: e.context.into(),
                            event: e.event.into(),
                            level: e.level,
                            event_id: e.event_id.into(),
                            listener: e.listener.into(),
                            data: e.data.to_vec(),
                            created: e.created,
                            server_id: e.server_id.map(Into::into),
                        }));
                        Ok(())
                    }
                    MessageBody::Event(_) => {
                        self.events.push_back(Event::Refused {
                            id: id.into(),
                            code: None,
                            reason: "event before Start; dropped".into(),
                        });
                        Ok(())
                    }
                    MessageBody::Operation(op) => {
                        self.on_operation(id, op);
                        Ok(())
                    }
                }
            }
        }
    }

    fn on_start(&mut self, id: &str, version: Option<&str>) {
        self.starts_received = self.starts_received.saturating_add(1);
        let text = version.unwrap_or("");
        let Some(v) = Version::parse(text).filter(|v| *v <= self.cfg.max_version) else {
            self.refuse_now(
                id,
                Refusal::denied(format!("unsupported protocol version {text:?}")),
            );
            return;
        };
        // The parser switches at once: the peer frames its next command in `v`.
        self.rx_version = v;
        let compress = self.cfg.compression && v.is_binary();
        let number = v.number().to_string();
        let mut params: Vec<&[u8]> = vec![number.as_bytes()];
        if compress {
            params.push(b"C");
        }
        let reply = Command {
            body: CommandBody::Reply(Reply {
                id,
                code: "A",
                params,
            }),
        };
        // The reply goes out in the old framing, uncompressed; the writer switches after.
        if let Err(e) = self.put(&reply, false) {
            self.events.push_back(Event::Refused {
                id: id.into(),
                code: None,
                reason: format!("cannot answer Start: {e}"),
            });
            return;
        }
        let changed = !self.started || self.tx_version != v || self.compress != compress;
        self.tx_version = v;
        self.compress = compress;
        self.started = true;
        if changed {
            self.events.push_back(Event::Started {
                version: v,
                compression: compress,
            });
        }
    }

    fn on_reply(&mut self, r: Reply<'_>, now: Millis) -> Result<(), SessionError> {
        let pending =
            r.id.parse::<u64>()
                .ok()
                .and_then(|n| self.pending.remove(&n).map(|p| (n, p)));
        let Some((n, p)) = pending else {
            self.events.push_back(Event::Refused {
                id: r.id.into(),
                code: None,
                reason: "reply to no request of ours; dropped".into(),
            });
            return Ok(());
        };
        let code = ReplyCode::parse(r.code);
        match p.kind {
            Kind::User => {
                let response = if code == ReplyCode::Ok {
                    Response::Ok(r.params.iter().map(|p| p.to_vec()).collect())
                } else {
                    Response::Refused(refusal(code, &r.params))
                };
                self.events.push_back(Event::Response {
                    id: RequestId(n),
                    response,
                });
                Ok(())
            }
            Kind::Ping if code == ReplyCode::Ok => Ok(()),
            Kind::Ping => Err(SessionError::StartRefused {
                version: self.tx_version,
                reason: refusal(code, &r.params).to_string(),
            }),
            Kind::Start(proposed) if code == ReplyCode::Ok => {
                let v = match r.params.first() {
                    None => proposed,
                    Some(t) => core::str::from_utf8(t)
                        .ok()
                        .and_then(Version::parse)
                        .filter(|v| *v <= proposed)
                        .ok_or_else(|| {
                            SessionError::BadStartReply(format!(
                                "version {:?} accepted for a proposed {proposed}",
                                String::from_utf8_lossy(t)
                            ))
                        })?,
                };
                let compress = v.is_binary() && r.params.get(1).is_some_and(|c| *c == b"C");
                self.rx_version = v;
                self.tx_version = v;
                self.compress = compress;
                self.started = true;
                self.next_ping = self.cfg.keep_alive.map(|k| now.saturating_add(k.max(1)));
                self.events.push_back(Event::Started {
                    version: v,
                    compression: compress,
                });
                Ok(())
            }
            Kind::Start(proposed) => match proposed.lower() {
                Some(lower) => {
                    self.send_start(lower, Kind::Start(lower), now);
                    Ok(())
                }
                None => Err(SessionError::StartRefused {
                    version: proposed,
                    reason: refusal(code, &r.params).to_string(),
                }),
            },
        }
    }

    fn on_operation(&mut self, id: &str, op: WireOperation<'_>) {
        if id.is_empty() {
            self.events.push_back(Event::Refused {
                id: String::new(),
                code: None,
                reason: "operation without a message id; dropped".into(),
            });
            return;
        }
        if !self.started {
            self.refuse_now(id, Refusal::denied("Start not received yet"));
            return;
        }
        if self.open.contains_key(id) {
            self.refuse_now(
                id,
                Refusal::error(format!("message id {id:?} is already in use")),
            );
            return;
        }
        if self.open.len() >= self.cfg.max_pending {
            self.refuse_now(
                id,
                Refusal::error(format!(
                    "{} requests in progress; try again later",
                    self.open.len()
                )),
            );
            return;
        }
        let (operation, wants_reply) = match convert_operation(op.body) {
            Ok(x) => x,
            Err(why) => {
                self.refuse_now(id, Refusal::error(why));
                return;
            }
        };
        self.open.insert(id.into(), wants_reply);
        self.events.push_back(Event::Request(Request {
            id: id.into(),
            operation,
        }));
    }
}

fn operation<'a>(id: &'a str, body: OperationBody<'a>) -> Command<'a> {
    Command {
        body: CommandBody::Message(Message {
            id,
            body: MessageBody::Operation(WireOperation { body }),
        }),
    }
}

fn wire_listener<'a>(spec: &'a ListenerSpec, code: &'a str) -> Listener<'a> {
    // A fingerprint needs a filter before it (parts are positional).
    let filter = spec
        .filter
        .as_deref()
        .or(spec.fingerprint.as_ref().map(|_| ""));
    Listener {
        context: &spec.context,
        event: &spec.event,
        listener: code,
        filter: filter.map(|f| Cow::Borrowed(f.as_bytes())),
        fingerprint: spec
            .fingerprint
            .as_deref()
            .map(|f| Cow::Borrowed(f.as_bytes())),
    }
}

/// A refusal from a reply's code and parameters (message and details escaped once).
fn refusal(code: ReplyCode, params: &[&[u8]]) -> Refusal {
    let text = |p: &[u8]| {
        let mut out = Vec::new();
        transfer::decode_level(p, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    Refusal {
        code,
        message: params.first().map(|p| text(p)).unwrap_or_default(),
        details: params.get(1).map(|p| text(p)),
    }
}

fn utf8(what: &str, bytes: Option<Cow<'_, [u8]>>) -> Result<Option<String>, String> {
    bytes
        .map(|b| {
            String::from_utf8(b.into_owned()).map_err(|_| format!("{what} is not valid UTF-8"))
        })
        .transpose()
}

fn convert_listener(l: Listener<'_>) -> Result<ListenerSpec, String> {
    let listener = if l.listener.is_empty() {
        None
    } else {
        Some(
            l.listener
                .parse::<i32>()
                .map_err(|_| format!("listener code {:?} is not a 32-bit integer", l.listener))?,
        )
    };
    Ok(ListenerSpec {
        context: l.context.into(),
        event: l.event.into(),
        listener,
        filter: utf8("the filter", l.filter)?,
        fingerprint: utf8("the fingerprint", l.fingerprint)?,
    })
}

/// The operation in owned form, and whether the peer wants a reply.
fn convert_operation(op: OperationBody<'_>) -> Result<(Operation, bool), String> {
    Ok(match op {
        OperationBody::GetVariable(g) => (
            Operation::GetVariable {
                context: g.context.into(),
                variable: g.variable.into(),
            },
            true,
        ),
        OperationBody::SetVariable(s) => (
            Operation::SetVariable {
                context: s.context.into(),
                variable: s.variable.into(),
                table: s.table.to_vec(),
                queue: utf8("the queue name", s.queue)?,
            },
            true,
        ),
        OperationBody::CallFunction(c) => {
            let flags = utf8("the flags", c.flags)?;
            let no_reply = flags.as_deref().is_some_and(|f| f.contains('N'));
            (
                Operation::CallFunction {
                    context: c.context.into(),
                    function: c.function.into(),
                    input: c.input.to_vec(),
                    queue: utf8("the queue name", c.queue)?,
                    flags,
                },
                !no_reply,
            )
        }
        OperationBody::AddListener(l) => (Operation::AddListener(convert_listener(l)?), true),
        OperationBody::RemoveListener(l) => (Operation::RemoveListener(convert_listener(l)?), true),
    })
}

/// The id of a command that starts like a message (`M`, separator, id, separator) with
/// a printable id: a malformed message that can still be answered with `E`.
fn readable_message_id(body: &[u8]) -> Option<&str> {
    let rest = body.strip_prefix(&[b'M', SEP][..])?;
    let end = rest.iter().position(|&b| b == SEP)?;
    let id = core::str::from_utf8(&rest[..end]).ok()?;
    (!id.is_empty() && id.len() <= MAX_ID_LEN && !id.chars().any(char::is_control)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_only_from_message_prefixes() {
        assert_eq!(readable_message_id(b"M\x1712\x17Q"), Some("12"));
        assert_eq!(readable_message_id(b"M\x17\x17E"), None);
        assert_eq!(readable_message_id(b"R\x171\x17A"), None);
        assert_eq!(readable_message_id(b"M\x17a\nb\x17O"), None);
        assert_eq!(readable_message_id(b"M\x1712"), None);
    }
}
