//! What the session reports to its user, and the shapes of requests and replies.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::Version;
use super::session::RequestId;

/// A reply code (reference §4): `A` accepted, `D` denied, `E` error, `L` locked, `M`
/// maintenance, or a long `DOMAIN-NUMBER` code such as `AG-10001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplyCode {
    /// `A`: accepted.
    Ok,
    /// `D`: denied (not available, Start not received yet, unsupported version).
    Denied,
    /// `E`: error.
    Error,
    /// `L`: locked.
    Locked,
    /// `M`: maintenance.
    Maintenance,
    /// Any other code, as it was on the wire.
    Other(String),
}

impl ReplyCode {
    /// The code as the wire carries it.
    pub fn as_str(&self) -> &str {
        match self {
            ReplyCode::Ok => "A",
            ReplyCode::Denied => "D",
            ReplyCode::Error => "E",
            ReplyCode::Locked => "L",
            ReplyCode::Maintenance => "M",
            ReplyCode::Other(s) => s,
        }
    }

    /// The code for the wire text `s`.
    pub fn parse(s: &str) -> ReplyCode {
        match s {
            "A" => ReplyCode::Ok,
            "D" => ReplyCode::Denied,
            "E" => ReplyCode::Error,
            "L" => ReplyCode::Locked,
            "M" => ReplyCode::Maintenance,
            other => ReplyCode::Other(other.into()),
        }
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reply that says no: its code, message and details (transfer encoding removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Anything but [`ReplyCode::Ok`].
    pub code: ReplyCode,
    /// The message (may be empty).
    pub message: String,
    /// Details, if the reply had a second parameter.
    pub details: Option<String>,
}

impl Refusal {
    /// A refusal with code `code` and `message`, without details.
    pub fn new(code: ReplyCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// `D` with `message`.
    pub fn denied(message: impl Into<String>) -> Self {
        Refusal::new(ReplyCode::Denied, message)
    }

    /// `E` with `message`.
    pub fn error(message: impl Into<String>) -> Self {
        Refusal::new(ReplyCode::Error, message)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if let Some(d) = &self.details {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

/// How one of our requests ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `A`, with the reply's parameters as they were on the wire (a Get or Call reply
    /// holds the encoded table in the first; `R/id/A/` has one empty parameter, `R/id/A`
    /// none).
    Ok(Vec<Vec<u8>>),
    /// Any other code.
    Refused(Refusal),
    /// No reply within [`Config::request_timeout`](super::Config::request_timeout).
    TimedOut,
}

/// The listener part of an add / remove listener operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerSpec {
    /// Context path (`""` is the root).
    pub context: String,
    /// Event name.
    pub event: String,
    /// Listener code (`None`: empty on the wire).
    pub listener: Option<i32>,
    /// Filter expression, if given.
    pub filter: Option<String>,
    /// Fingerprint (V4), if given.
    pub fingerprint: Option<String>,
}

/// An operation the peer asks us to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `G`: read a variable; answer with its value as an encoded table.
    GetVariable {
        /// Context path.
        context: String,
        /// Variable name.
        variable: String,
    },
    /// `S`: write a variable; answer with no parameter.
    SetVariable {
        /// Context path.
        context: String,
        /// Variable name.
        variable: String,
        /// The new value, an encoded table.
        table: Vec<u8>,
        /// Queue name, if given.
        queue: Option<String>,
    },
    /// `C`: call a function; answer with its output as an encoded table.
    CallFunction {
        /// Context path.
        context: String,
        /// Function name.
        function: String,
        /// Input, an encoded table.
        input: Vec<u8>,
        /// Queue name, if given.
        queue: Option<String>,
        /// Flags as sent (`N`: no reply wanted; the session then drops the answer).
        flags: Option<String>,
    },
    /// `L`: add a listener.
    AddListener(ListenerSpec),
    /// `R`: remove a listener.
    RemoveListener(ListenerSpec),
}

/// An operation from the peer, to be answered with [`Session::reply`](super::Session::reply)
/// or [`Session::refuse`](super::Session::refuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The message id to answer.
    pub id: String,
    /// What is asked.
    pub operation: Operation,
}

/// An event from the peer (never replied to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingEvent {
    /// Context path.
    pub context: String,
    /// Event name.
    pub event: String,
    /// 0 none, 1 notice, 2 info, 3 warning, 4 error, 5 fatal.
    pub level: i32,
    /// Event id as sent.
    pub event_id: String,
    /// Listener code as sent (empty: none).
    pub listener: String,
    /// Event data, an encoded table.
    pub data: Vec<u8>,
    /// Creation time, ms since the Unix epoch.
    pub created: i64,
    /// Server id, if sent.
    pub server_id: Option<String>,
}

/// Something that happened on the link; see [`Session::poll_event`](super::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Start was accepted (ours by the peer, or the peer's by us): requests may flow.
    /// Repeated Starts (keep-alive) that keep version and compression report nothing.
    Started {
        /// The version both ends now frame with.
        version: Version,
        /// Commands over 128 bytes are zlib-compressed (V3/V4 only).
        compression: bool,
    },
    /// The peer asks for an operation.
    Request(Request),
    /// The peer sent an event.
    Event(IncomingEvent),
    /// One of our requests ended.
    Response {
        /// The id returned when it was made.
        id: RequestId,
        /// How.
        response: Response,
    },
    /// The session refused a message of the peer by itself (before Start, unknown
    /// version, malformed but with a readable id, too many open requests) and sent this
    /// reply; or dropped a message that cannot be replied to (an event before Start, a
    /// reply to nothing), then `code` is `None`.
    Refused {
        /// The message id (empty for events).
        id: String,
        /// The reply code sent, if any.
        code: Option<ReplyCode>,
        /// What was wrong.
        reason: String,
    },
}
