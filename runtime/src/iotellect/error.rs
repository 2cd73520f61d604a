//! Why a link must end, and why a request was refused before anything was sent.

use alloc::string::String;
use core::fmt;

use ferrocom_wire::codec::DecodeError;

use super::{Millis, Version};

/// The link must end: the caller closes the connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionError {
    /// A frame the codec rejects (bad V3/V4 length, unknown body kind, no CR where the
    /// length says the frame ends, bad zlib), or a reply or event that does not decode
    /// (neither can be answered with an error reply).
    Malformed {
        /// What was being read: `frame` or `command`.
        what: &'static str,
        /// The codec's error: field, offset, clause.
        error: DecodeError,
    },
    /// A command longer than [`Config::max_command`](super::Config::max_command): a V2
    /// frame without CR in time, or a V3/V4 header announcing more.
    CommandTooLong {
        /// Bytes announced or collected so far.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The peer refused every version we proposed (4, 3, 2).
    StartRefused {
        /// The last version proposed.
        version: Version,
        /// The peer's code and message.
        reason: String,
    },
    /// The peer accepted Start with a version we did not propose or do not speak.
    BadStartReply(String),
    /// No reply to our Start in time.
    StartTimeout,
    /// Nothing arrived for this long while keep-alive was in force (reference §3: more
    /// than one Start seen and 10 × 10 s of silence).
    Silence {
        /// How long nothing arrived.
        silent_for: Millis,
    },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Malformed { what, error } => {
                write!(f, "malformed {what} from the peer: {error}")
            }
            SessionError::CommandTooLong { len, limit } => write!(
                f,
                "command of {len} bytes from the peer exceeds the limit of {limit} bytes"
            ),
            SessionError::StartRefused { version, reason } => write!(
                f,
                "the peer refused Start down to version {version}: {reason}"
            ),
            SessionError::BadStartReply(why) => write!(f, "bad reply to Start: {why}"),
            SessionError::StartTimeout => f.write_str("no reply to Start in time"),
            SessionError::Silence { silent_for } => write!(
                f,
                "nothing received for {silent_for} ms while keep-alive was in force"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SessionError {}

/// A request, reply or event the session refused to send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// Start has not been accepted yet (or the link is down).
    NotStarted,
    /// [`Config::max_pending`](super::Config::max_pending) requests await replies already.
    TooManyPending(usize),
    /// The command cannot be encoded (a name holding the separator 0x17, STX or CR
    /// inside a V2 command, ...).
    Encode(String),
    /// The command would exceed [`Config::max_command`](super::Config::max_command).
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// No open request of the peer has this id (already answered, or never asked).
    UnknownRequest(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::NotStarted => f.write_str("the session is not started"),
            RequestError::TooManyPending(n) => write!(f, "{n} requests await replies already"),
            RequestError::Encode(e) => write!(f, "cannot encode the command: {e}"),
            RequestError::TooLong { len, limit } => {
                write!(
                    f,
                    "command of {len} bytes exceeds the limit of {limit} bytes"
                )
            }
            RequestError::UnknownRequest(id) => write!(f, "no open request with id {id:?}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RequestError {}
