//! The sans-I/O Iotellect (formerly AggreGate) session engine, both ends of one link
//! (reference `iotellect.md` §2–§4).
//!
//! ```text
//!          bytes from the peer                        bytes to the peer
//!                  │                                          ▲
//!   handle_input(&[u8], now)                poll_transmit(&mut Vec<u8>)
//!                  ▼                                          │
//!      ┌────────────────────────────── Session ─────────────────────────────┐
//!      │ framing: V2 (STX … CR) until Start is answered, then V3/V4         │
//!      │          (STX, length, raw | zlib, body, CR)                       │
//!      │ Start: propose 4, 3, 2 (server) / answer A or D (agent), `C` flag  │
//!      │ message ids, requests awaiting replies, per-request deadlines      │
//!      │ keep-alive: periodic Start, drop after 10 × 10 s of silence        │
//!      └────────────────────────────────────────────────────────────────────┘
//!   get_variable / set_variable / call_function /        poll_event() -> Event
//!   add_listener / remove_listener / send_event / reply   poll_timeout() / handle_timeout(now)
//! ```
//!
//! The engine never reads a clock and never touches a socket: time is a caller-supplied
//! [`Millis`] count; bytes go in and out through buffers. Frames and commands are built
//! and parsed by the generated codec `ferrocom_wire::iotellect`
//! (`spec/protocols/iotellect.wire`); data tables travel through the engine as encoded
//! bytes, untouched (the roles above it encode and decode them).
//!
//! **Two layers of errors.** The peer *saying no* to a request (reply code `D`, `E`, `L`,
//! `M`, `AG-…`) is a [`Response::Refused`] for that request. The peer *misbehaving* in a
//! way that breaks the link (a frame the codec rejects, a command longer than allowed,
//! bad zlib, a refused or unanswered Start, silence) is a [`SessionError`] from
//! [`Session::handle_input`] or [`Session::handle_timeout`], after which the caller closes
//! the connection. A malformed *message* whose id can still be read is answered with an
//! error reply `E` naming what was wrong, and the link stays up. Nothing panics on any
//! input, and buffered input is bounded by [`Config::max_command`].

mod error;
mod event;
mod login;
mod session;

pub use error::{RequestError, SessionError};
pub use event::{
    Event, IncomingEvent, ListenerSpec, Operation, Refusal, ReplyCode, Request, Response,
};
pub use login::login_response;
pub use session::{Config, OutgoingEvent, RequestId, Session, Side};

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// Default port an agent connects to on a server, plain TCP (`Agent.DEFAULT_PORT`).
pub const DEFAULT_PORT: u16 = 6480;
/// Default port an agent connects to on a server, TLS.
pub const DEFAULT_TLS_PORT: u16 = 6481;

/// A protocol version, as negotiated by Start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Text framing only (STX … CR); nested tables escaped again.
    V2 = 2,
    /// Binary framing with optional zlib; nested tables escaped again.
    V3 = 3,
    /// Binary framing with optional zlib; nested tables inserted raw.
    V4 = 4,
}

impl Version {
    /// The version's number as Start carries it.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The version a Start proposes (`""` and no parameter mean 2); `None` for one this
    /// engine does not speak.
    pub fn parse(text: &str) -> Option<Version> {
        match text {
            "" | "2" => Some(Version::V2),
            "3" => Some(Version::V3),
            "4" => Some(Version::V4),
            _ => None,
        }
    }

    /// The next lower version, which a refused Start tries next.
    pub fn lower(self) -> Option<Version> {
        match self {
            Version::V4 => Some(Version::V3),
            Version::V3 => Some(Version::V2),
            Version::V2 => None,
        }
    }

    /// Frames carry a binary header (V3 and V4).
    pub fn is_binary(self) -> bool {
        self != Version::V2
    }
}

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.number())
    }
}
