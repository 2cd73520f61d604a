//! One Iotellect connection as the suite sees it: both framings, commands built and
//! read by the generated codec (`ferrocom_wire::iotellect`), every frame the target
//! wrote kept for the verdicts, and the suite's own side of the protocol (answering a
//! server's `login` and keep-alive Start when the suite plays the agent).
//!
//! Deliberately malformed input is written with [`Link::send_raw`]; everything else
//! goes through the codec.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::datatable::{
    self, DataTable, DecodeOptions, EncodeOptions, FieldFormat, FieldType, TableFormat, Value,
};
use ferrocom_wire::iotellect::{
    BinaryFrame, BodyKind, CallFunction, Command, CommandBody, GetVariable, Listener, Message,
    MessageBody, Operation, OperationBody, Reply, SetVariable, Start, V2Frame,
};
use md5::{Digest, Md5};

use crate::case::{Ctx, Failure, Outcome};
use crate::peer::{Peer, PeerError, hex};

/// Frame start.
pub const STX: u8 = 0x02;
/// V2 frame end, and the byte after a V3/V4 body.
pub const CR: u8 = 0x0D;
/// Command part separator.
pub const SEP: u8 = 0x17;
/// Commands longer than this travel compressed once `C` was negotiated (reference §3).
pub const COMPRESS_ABOVE: usize = 128;
/// A variable no target has: getting or setting it is answered `D` (ICP-S-8).
pub const NO_SUCH_VARIABLE: &str = "conformNoSuchVariable";
/// A function no target has.
pub const NO_SUCH_FUNCTION: &str = "conformNoSuchFunction";
/// The owner and name the suite's agent gives in its `login` answer.
pub const SUITE_AGENT: &str = "conform";
/// The longest input kept while waiting for a frame's end; a target writing more
/// without ending a frame is broken (the codec refuses V3/V4 bodies over 16 MiB).
const MAX_PENDING_INPUT: usize = 17 << 20;

/// Which framing a frame was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `02 <command> 0D`.
    V2,
    /// `02 LEN TYPE BODY 0D` (versions 3 and 4).
    Binary,
}

/// A frame the target wrote.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Its framing.
    pub framing: Framing,
    /// Binary frames: the body was zlib-compressed (type byte 1).
    pub zlib: bool,
    /// The command (inflated).
    pub body: Vec<u8>,
}

/// An operation of a message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `G`.
    Get {
        /// Context path.
        context: String,
        /// Variable.
        variable: String,
    },
    /// `S`.
    Set {
        /// Context path.
        context: String,
        /// Variable.
        variable: String,
    },
    /// `C`.
    Call {
        /// Context path.
        context: String,
        /// Function.
        function: String,
        /// Encoded input table.
        input: Vec<u8>,
    },
    /// `L` or `R`.
    Listener {
        /// `true` for add.
        add: bool,
        /// Context path.
        context: String,
        /// Event.
        event: String,
    },
}

/// An event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ev {
    /// The message id (must be empty).
    pub id: String,
    /// Context path.
    pub context: String,
    /// Event name.
    pub event: String,
    /// The listener code it was sent for.
    pub listener: String,
    /// Level.
    pub level: i32,
    /// Creation time, ms since the Unix epoch.
    pub created: i64,
}

/// A reply, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rep {
    /// The message id it answers.
    pub id: String,
    /// `A`, `D`, `E`, ...
    pub code: String,
    /// Parameters as on the wire.
    pub params: Vec<Vec<u8>>,
}

impl Rep {
    /// Parameter `i` as text.
    pub fn param(&self, i: usize) -> Option<String> {
        self.params
            .get(i)
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// `R/id/code/...` for notes and messages.
    pub fn describe(&self) -> String {
        let mut s = format!("R/{}/{}", self.id, self.code);
        for p in &self.params {
            let t = String::from_utf8_lossy(p);
            let t: String = t.chars().take(60).collect();
            s.push('/');
            s.push_str(&datatable::to_visible(t.as_bytes()));
        }
        s
    }
}

/// A command the target wrote, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// Start.
    Start {
        /// Message id.
        id: String,
        /// Proposed version (`None`: no parameter).
        version: Option<String>,
    },
    /// An operation.
    Op {
        /// Message id.
        id: String,
        /// What.
        op: Op,
    },
    /// An event.
    Event(Ev),
    /// A reply.
    Reply(Rep),
}

fn owned(c: Command<'_>) -> Cmd {
    match c.body {
        CommandBody::Reply(r) => Cmd::Reply(Rep {
            id: r.id.into(),
            code: r.code.into(),
            params: r.params.iter().map(|p| p.to_vec()).collect(),
        }),
        CommandBody::Message(m) => {
            let id = m.id.to_string();
            match m.body {
                MessageBody::Start(s) => Cmd::Start {
                    id,
                    version: s.version.map(Into::into),
                },
                MessageBody::Event(e) => Cmd::Event(Ev {
                    id,
                    context: e.context.into(),
                    event: e.event.into(),
                    listener: e.listener.into(),
                    level: e.level,
                    created: e.created,
                }),
                MessageBody::Operation(o) => {
                    let op = match o.body {
                        OperationBody::GetVariable(g) => Op::Get {
                            context: g.context.into(),
                            variable: g.variable.into(),
                        },
                        OperationBody::SetVariable(s) => Op::Set {
                            context: s.context.into(),
                            variable: s.variable.into(),
                        },
                        OperationBody::CallFunction(c) => Op::Call {
                            context: c.context.into(),
                            function: c.function.into(),
                            input: c.input.to_vec(),
                        },
                        OperationBody::AddListener(l) => Op::Listener {
                            add: true,
                            context: l.context.into(),
                            event: l.event.into(),
                        },
                        OperationBody::RemoveListener(l) => Op::Listener {
                            add: false,
                            context: l.context.into(),
                            event: l.event.into(),
                        },
                    };
                    Cmd::Op { id, op }
                }
            }
        }
    }
}

// ---- commands the suite sends -------------------------------------------------------

/// `M/id/S[/version]`.
pub fn start<'a>(id: &'a str, version: Option<&'a str>) -> Command<'a> {
    message(id, MessageBody::Start(Start { version }))
}

/// `M/id/O/G/context/variable`.
pub fn get<'a>(id: &'a str, context: &'a str, variable: &'a str) -> Command<'a> {
    operation(
        id,
        OperationBody::GetVariable(GetVariable { context, variable }),
    )
}

/// `M/id/O/S/context/variable/table`.
pub fn set<'a>(id: &'a str, context: &'a str, variable: &'a str, table: &'a [u8]) -> Command<'a> {
    operation(
        id,
        OperationBody::SetVariable(SetVariable {
            context,
            variable,
            table,
            queue: None,
        }),
    )
}

/// `M/id/O/C/context/function/input[/queue]`.
pub fn call<'a>(
    id: &'a str,
    context: &'a str,
    function: &'a str,
    input: &'a [u8],
    queue: Option<&'a [u8]>,
) -> Command<'a> {
    operation(
        id,
        OperationBody::CallFunction(CallFunction {
            context,
            function,
            input,
            queue: queue.map(Cow::Borrowed),
            flags: None,
        }),
    )
}

/// `M/id/O/L/...` (add) or `M/id/O/R/...` (remove).
pub fn listener<'a>(
    id: &'a str,
    add: bool,
    context: &'a str,
    event: &'a str,
    code: &'a str,
) -> Command<'a> {
    let l = Listener {
        context,
        event,
        listener: code,
        filter: None,
        fingerprint: None,
    };
    operation(
        id,
        if add {
            OperationBody::AddListener(l)
        } else {
            OperationBody::RemoveListener(l)
        },
    )
}

/// `R/id/code/params...`.
pub fn reply<'a>(id: &'a str, code: &'a str, params: Vec<&'a [u8]>) -> Command<'a> {
    Command {
        body: CommandBody::Reply(Reply { id, code, params }),
    }
}

fn message<'a>(id: &'a str, body: MessageBody<'a>) -> Command<'a> {
    Command {
        body: CommandBody::Message(Message { id, body }),
    }
}

fn operation<'a>(id: &'a str, body: OperationBody<'a>) -> Command<'a> {
    message(id, MessageBody::Operation(Operation { body }))
}

/// The bytes of a command (the codec's encoding, no framing).
pub fn body(c: &Command<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    // Every command the suite builds holds only separator-free text; an encoding
    // failure would be a bug of the suite, which the target then sees as an empty
    // command and the case reports.
    let _ = c.encode(&mut out);
    out
}

/// A V2 frame around `body`.
pub fn v2_frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if (V2Frame { command: body }).encode(&mut out).is_err() {
        // A CR inside: frame it by hand, as a deliberately broken frame would be.
        out = [&[STX][..], body, &[CR]].concat();
    }
    out
}

/// A V3/V4 frame around `body`, zlib-compressed when `zlib`.
pub fn binary_frame(body: &[u8], zlib: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let frame = BinaryFrame {
        kind: if zlib { BodyKind::ZLIB } else { BodyKind::RAW },
        body: Cow::Borrowed(body),
    };
    let _ = frame.encode(&mut out);
    out
}

/// The upper-case hex MD5 of `challenge` followed by `password` (reference §6.8).
pub fn login_response(challenge: &str, password: &str) -> String {
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(password.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02X}")).collect()
}

/// `login` input: one record with the challenge.
pub fn login_input_format() -> TableFormat {
    TableFormat::single(FieldFormat::new("challenge", FieldType::String))
}

/// `login` output: owner, name, response.
pub fn login_output_format() -> TableFormat {
    TableFormat::new(vec![
        FieldFormat::new("owner", FieldType::String),
        FieldFormat::new("name", FieldType::String),
        FieldFormat::new("response", FieldType::String),
    ])
    .with_records(1, 1)
}

/// The data-table version of a protocol version number.
pub fn table_version(v: u8) -> datatable::Version {
    match v {
        3 => datatable::Version::V3,
        4 => datatable::Version::V4,
        _ => datatable::Version::V2,
    }
}

/// Field `field` of the first record of an encoded table as text; `known` is the format
/// used when the table came without one.
pub fn read_field(table: &[u8], version: u8, known: &TableFormat, field: &str) -> Option<String> {
    let mut o = DecodeOptions::new(table_version(version));
    o.known_format = Some(known);
    DataTable::decode(table, &o)
        .ok()
        .and_then(|t| t.get(0, field).and_then(Value::as_str).map(String::from))
}

/// One record of one string field, encoded with its format when `with_format` (as a
/// value for a variable or function whose format the receiver may not know).
pub fn string_table(field: &str, value: &str, version: u8, with_format: bool) -> Vec<u8> {
    let t = DataTable::new(TableFormat::single(FieldFormat::new(
        field,
        FieldType::String,
    )))
    .with_record(vec![Value::String(value.into())]);
    let mut o = EncodeOptions::new(table_version(version));
    o.include_format = with_format;
    t.encode(&o).unwrap_or_default()
}

// ---- the connection -----------------------------------------------------------------

/// The part the suite plays on this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuiteSide {
    /// The suite is the server (sends Start); the target is an agent.
    Server,
    /// The suite is an agent (answers Start, `login`); the target is a server. The
    /// password proves the suite's agent in `login` answers.
    Agent {
        /// Password for `login` answers (empty when none was given).
        password: String,
    },
}

/// Why the connection did not deliver what a case waited for.
#[derive(Debug)]
pub enum LinkError {
    /// Transport: closed, timed out, could not open.
    Peer(PeerError),
    /// The target wrote something that breaks a clause.
    Bad {
        /// The clause.
        clause: &'static str,
        /// What.
        what: String,
    },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Peer(e) => write!(f, "{e}"),
            LinkError::Bad { clause, what } => write!(f, "{what} [{clause}]"),
        }
    }
}

impl From<PeerError> for LinkError {
    fn from(e: PeerError) -> Self {
        LinkError::Peer(e)
    }
}

impl LinkError {
    /// A case failure: a clause the target broke is blamed as such; a transport problem
    /// while `doing` blames `clause`.
    pub fn fail(self, clause: &'static str, doing: &str) -> Failure {
        Failure(match self {
            LinkError::Bad { clause: c, what } => Outcome::fail(&[c], format!("{doing}: {what}")),
            LinkError::Peer(PeerError::Timeout) => {
                Outcome::fail(&[clause], format!("{doing}: no answer in time"))
            }
            LinkError::Peer(e) => Outcome::fail(&[clause], format!("{doing}: {e}")),
        })
    }

    /// `true` when the target closed the connection.
    pub fn is_closed(&self) -> bool {
        matches!(self, LinkError::Peer(PeerError::Closed))
    }
}

/// An Iotellect connection to the target.
#[derive(Debug)]
pub struct Link {
    /// Transport and wire log.
    pub peer: Peer,
    rx: Vec<u8>,
    /// The framing the target writes in now.
    pub rx_framing: Framing,
    /// The framing the suite writes in now.
    pub tx_framing: Framing,
    /// The suite compresses commands over 128 bytes.
    pub tx_compress: bool,
    /// The negotiated version (2 until Start was answered).
    pub version: u8,
    /// Every frame the target wrote, in order.
    pub frames: Vec<Frame>,
    /// Every event the target sent.
    pub events: Vec<Ev>,
    /// Replies that answered none of the suite's messages.
    sent_ids: BTreeSet<String>,
    next_id: u64,
    side: SuiteSide,
    /// `login` calls the suite's agent answered.
    pub logins: u32,
    /// Whether the suite's agent answers `login` with a wrong response (ICP-S-9 cases).
    pub wrong_login: bool,
    timeout: Duration,
}

impl Link {
    /// Opens a connection (connects to a server, accepts an agent's next connection).
    pub async fn open(ctx: &Ctx, side: SuiteSide) -> Result<Link, LinkError> {
        let peer = ctx.open().await?;
        Ok(Link {
            peer,
            rx: Vec::new(),
            rx_framing: Framing::V2,
            tx_framing: Framing::V2,
            tx_compress: false,
            version: 2,
            frames: Vec::new(),
            events: Vec::new(),
            sent_ids: BTreeSet::new(),
            next_id: 1,
            side,
            logins: 0,
            wrong_login: false,
            timeout: ctx.settings().reply_timeout,
        })
    }

    /// The reply timeout of the run.
    pub fn t(&self) -> Duration {
        self.timeout
    }

    /// A fresh message id (a decimal counter, as the SDK's).
    pub fn id(&mut self) -> String {
        let id = self.next_id.to_string();
        self.next_id += 1;
        id
    }

    /// Adds a note to the wire log.
    pub fn note(&self, text: impl Into<String>) {
        self.peer.note(text);
    }

    /// Frames `body` for the suite's writer now (compressed when negotiated and
    /// longer than 128 bytes).
    pub fn frame(&self, body: &[u8]) -> Vec<u8> {
        match self.tx_framing {
            Framing::V2 => v2_frame(body),
            Framing::Binary => binary_frame(body, self.tx_compress && body.len() > COMPRESS_ABOVE),
        }
    }

    /// Sends a command in the current framing.
    pub async fn send(&mut self, c: &Command<'_>) -> Result<(), LinkError> {
        if let CommandBody::Message(m) = &c.body
            && !m.id.is_empty()
        {
            self.sent_ids.insert(m.id.to_string());
        }
        let bytes = self.frame(&body(c));
        self.peer.send(&bytes).await?;
        Ok(())
    }

    /// Remembers `id` as one of the suite's message ids (for messages sent raw).
    pub fn sent_id(&mut self, id: &str) {
        self.sent_ids.insert(id.to_string());
    }

    /// `true` if `id` is the id of a message the suite sent on this link.
    pub fn is_ours(&self, id: &str) -> bool {
        self.sent_ids.contains(id)
    }

    /// Sends bytes as they are (malformed input).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.peer.send(bytes).await?;
        Ok(())
    }

    /// Switches both directions to `version`'s framing.
    pub fn switch(&mut self, version: u8, compress: bool) {
        self.version = version;
        let f = if version >= 3 {
            Framing::Binary
        } else {
            Framing::V2
        };
        self.rx_framing = f;
        self.tx_framing = f;
        self.tx_compress = compress && version >= 3;
    }

    /// The next frame of the target, within `within`.
    pub async fn recv_frame(&mut self, within: Duration) -> Result<Frame, LinkError> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(f) = self.parse_frame()? {
                self.frames.push(f.clone());
                return Ok(f);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LinkError::Peer(PeerError::Timeout));
            }
            let more = self.peer.recv(left).await?;
            self.rx.extend_from_slice(&more);
            if self.rx.len() > MAX_PENDING_INPUT {
                return Err(LinkError::Bad {
                    clause: "ICP-3.1-2",
                    what: format!("{} bytes without the end of a frame", self.rx.len()),
                });
            }
        }
    }

    fn parse_frame(&mut self) -> Result<Option<Frame>, LinkError> {
        match self.rx_framing {
            Framing::V2 => {
                let Some(stx) = self.rx.iter().position(|&b| b == STX) else {
                    if !self.rx.is_empty() {
                        self.note(format!(
                            "{} bytes outside a frame skipped (ICP-3.1-1)",
                            self.rx.len()
                        ));
                        self.rx.clear();
                    }
                    return Ok(None);
                };
                if stx > 0 {
                    self.note(format!(
                        "{stx} bytes before STX skipped (ICP-3.1-1): {}",
                        hex(&self.rx[..stx])
                    ));
                    self.rx.drain(..stx);
                }
                if self.rx.get(1) == Some(&0) {
                    return Err(LinkError::Bad {
                        clause: "ICP-S-4",
                        what: format!(
                            "a V3/V4 frame where V2 framing was still due: {}",
                            hex(&self.rx[..self.rx.len().min(16)])
                        ),
                    });
                }
                match self.rx[1..].iter().position(|&b| b == CR || b == STX) {
                    None => Ok(None),
                    Some(i) if self.rx[1 + i] == STX => {
                        self.note("a new STX before CR: the frame restarts (ICP-3.1-1)");
                        self.rx.drain(..=i);
                        self.parse_frame()
                    }
                    Some(i) => {
                        let end = i + 2;
                        let frame = V2Frame::decode_exact(&self.rx[..end])
                            .map(|f| f.command.to_vec())
                            .map_err(|e| LinkError::Bad {
                                clause: e.clause().unwrap_or("ICP-3.1"),
                                what: format!("V2 frame: {e}"),
                            })?;
                        self.rx.drain(..end);
                        Ok(Some(Frame {
                            framing: Framing::V2,
                            zlib: false,
                            body: frame,
                        }))
                    }
                }
            }
            Framing::Binary => {
                if self.rx.is_empty() {
                    return Ok(None);
                }
                match BinaryFrame::decode(&self.rx) {
                    Ok(Decoded::Complete(f, used)) => {
                        let frame = Frame {
                            framing: Framing::Binary,
                            zlib: f.kind == BodyKind::ZLIB,
                            body: f.body.to_vec(),
                        };
                        self.rx.drain(..used);
                        Ok(Some(frame))
                    }
                    Ok(Decoded::Incomplete(_)) => Ok(None),
                    Err(e) => {
                        let looks_v2 = self.rx.len() > 2
                            && matches!(self.rx[1], b'M' | b'R')
                            && self.rx[2] == SEP;
                        let shown = hex(&self.rx[..self.rx.len().min(16)]);
                        Err(if looks_v2 {
                            LinkError::Bad {
                                clause: "ICP-S-4",
                                what: format!("a V2 frame after the switch to V3/V4: {shown}"),
                            }
                        } else {
                            LinkError::Bad {
                                clause: e.clause().unwrap_or("ICP-3.2"),
                                what: format!("V3/V4 frame {shown}…: {e}"),
                            }
                        })
                    }
                }
            }
        }
    }

    /// The next command of the target with the frame it came in.
    pub async fn recv(&mut self, within: Duration) -> Result<(Frame, Cmd), LinkError> {
        let f = self.recv_frame(within).await?;
        match Command::decode_exact(&f.body) {
            Ok(c) => {
                let c = owned(c);
                if let Cmd::Event(e) = &c {
                    self.events.push(e.clone());
                }
                Ok((f, c))
            }
            Err(e) => Err(LinkError::Bad {
                clause: e.clause().unwrap_or("ICP-4"),
                what: format!(
                    "the target's command {} does not decode: {e}",
                    datatable::to_visible(&f.body[..f.body.len().min(80)])
                ),
            }),
        }
    }

    /// Waits for the reply to message `id`, answering what the target asks meanwhile
    /// and keeping its events. A reply to none of the suite's messages breaks ICP-S-7.
    pub async fn wait_reply(
        &mut self,
        id: &str,
        within: Duration,
    ) -> Result<(Frame, Rep), LinkError> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (f, c) = self.recv(left).await?;
            match c {
                Cmd::Reply(r) if r.id == id => return Ok((f, r)),
                Cmd::Reply(r) if self.sent_ids.contains(&r.id) => {
                    self.note(format!("reply to an earlier message: {}", r.describe()));
                }
                Cmd::Reply(r) => {
                    return Err(LinkError::Bad {
                        clause: "ICP-S-7",
                        what: format!(
                            "reply {} echoes no message id of the suite (waiting for {id})",
                            r.describe()
                        ),
                    });
                }
                other => self.respond(&other).await?,
            }
        }
    }

    /// Sends `c` and waits for its reply.
    pub async fn request(&mut self, c: &Command<'_>) -> Result<(Frame, Rep), LinkError> {
        let id = match &c.body {
            CommandBody::Message(m) => m.id.to_string(),
            CommandBody::Reply(r) => r.id.to_string(),
        };
        self.send(c).await?;
        let t = self.timeout;
        self.wait_reply(&id, t).await
    }

    /// Gets [`NO_SUCH_VARIABLE`] with a fresh id and waits for the reply: a probe that
    /// the target still reads and answers.
    pub async fn probe(&mut self) -> Result<(Frame, Rep), LinkError> {
        let id = self.id();
        self.request(&get(&id, "", NO_SUCH_VARIABLE)).await
    }

    /// Reacts to a message of the target that no case asked for: the suite's agent
    /// answers a keep-alive Start and `login`, and refuses other operations with `D`;
    /// events are kept.
    pub async fn respond(&mut self, c: &Cmd) -> Result<(), LinkError> {
        match (c, self.side.clone()) {
            (Cmd::Event(e), _) => {
                self.note(format!(
                    "event {}/{} for listener {:?}",
                    e.context, e.event, e.listener
                ));
                Ok(())
            }
            (Cmd::Start { id, version }, SuiteSide::Agent { .. }) => {
                // A keep-alive Start of the negotiated version: accepted as it is.
                let v = self.version.to_string();
                let ok = version.as_deref().unwrap_or("2") == v
                    || (version.as_deref() == Some("") && self.version == 2);
                let code = if ok { "A" } else { "D" };
                let r = reply(id, code, vec![v.as_bytes()]);
                self.send(&r).await
            }
            (Cmd::Op { id, op }, SuiteSide::Agent { password }) => match op {
                Op::Call {
                    context,
                    function,
                    input,
                } if context.is_empty() && function == "login" => {
                    self.answer_login(id, input, &password).await
                }
                _ => self.refuse(id, "not available in the suite's agent").await,
            },
            (Cmd::Op { id, .. }, SuiteSide::Server) => {
                self.note("the agent sent an operation to the server");
                self.refuse(id, "the suite's server serves no operations")
                    .await
            }
            (Cmd::Start { id, .. }, SuiteSide::Server) => {
                self.note("the agent sent Start to the server");
                self.refuse(id, "the suite's server sends Start itself")
                    .await
            }
            (Cmd::Reply(_), _) => Ok(()),
        }
    }

    async fn refuse(&mut self, id: &str, why: &str) -> Result<(), LinkError> {
        if id.is_empty() {
            return Ok(());
        }
        let r = reply(id, "D", vec![why.as_bytes()]);
        self.send(&r).await
    }

    async fn answer_login(
        &mut self,
        id: &str,
        input: &[u8],
        password: &str,
    ) -> Result<(), LinkError> {
        let Some(challenge) = read_field(input, self.version, &login_input_format(), "challenge")
        else {
            self.note("login without a readable challenge");
            let r = reply(id, "E", vec![&b"no challenge"[..]]);
            return self.send(&r).await;
        };
        let pw = if self.wrong_login {
            format!("{password}-wrong")
        } else {
            password.to_string()
        };
        let response = login_response(&challenge, &pw);
        self.note(format!(
            "login challenge {challenge:?} answered {response}{}",
            if self.wrong_login {
                " (deliberately wrong)"
            } else {
                ""
            }
        ));
        let t = DataTable::new(login_output_format()).with_record(vec![
            Value::String(SUITE_AGENT.into()),
            Value::String(SUITE_AGENT.into()),
            Value::String(response),
        ]);
        let mut eo = EncodeOptions::new(table_version(self.version));
        eo.include_format = false;
        let table = t.encode(&eo).unwrap_or_default();
        self.logins += 1;
        let r = reply(id, "A", vec![&table]);
        self.send(&r).await
    }

    /// Reads for `within`, answering and keeping what arrives; returns at the end or
    /// when the target closes (`Err(Closed)`).
    pub async fn idle(&mut self, within: Duration) -> Result<(), LinkError> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            match self.recv(left).await {
                Ok((_, c)) => self.respond(&c).await?,
                Err(LinkError::Peer(PeerError::Timeout)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the suite's end.
    pub async fn close(self) {
        self.peer.close().await;
    }
}
