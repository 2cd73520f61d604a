//! Why a session ended, and why a request was refused before anything was sent.
//!
//! Two layers, kept apart: the broker *saying no* (a refused CONNECT) is
//! [`SessionError::Refused`]; the broker *misbehaving* (bytes the codec rejects, a packet
//! out of order, an acknowledgement of nothing) is [`SessionError::Malformed`] or
//! [`SessionError::Protocol`]. A SUBACK failure code is no error at all: it is reported
//! per filter in [`Event::Subscribed`](super::Event::Subscribed).

use alloc::string::String;
use core::fmt;

use ferrocom_wire::codec::DecodeError;
use ferrocom_wire::mqtt311::ConnectReturnCode;

/// The connection must end (the caller closes it; the session may connect again).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionError {
    /// The broker sent bytes the codec rejects.
    Malformed(DecodeError),
    /// The broker sent a well-formed packet that breaks the protocol at this point.
    Protocol {
        /// The clause broken, e.g. `MQTT-3.2.0-1`.
        clause: &'static str,
        /// What happened.
        detail: String,
    },
    /// CONNACK refused the connection with this return code.
    Refused(ConnectReturnCode),
    /// No CONNACK within the response timeout.
    ConnackTimeout,
    /// No PINGRESP within the response timeout ([MQTT-3.1.2-24] from the client side).
    PingTimeout,
    /// The session's own CONNECT could not be encoded (e.g. a field over 65535 bytes).
    Encode(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Malformed(e) => write!(f, "malformed packet from the broker: {e}"),
            SessionError::Protocol { clause, detail } => {
                write!(f, "protocol error by the broker [{clause}]: {detail}")
            }
            SessionError::Refused(c) => {
                let why = match *c {
                    ConnectReturnCode::UNACCEPTABLE_PROTOCOL_VERSION => {
                        "unacceptable protocol version"
                    }
                    ConnectReturnCode::IDENTIFIER_REJECTED => "client identifier rejected",
                    ConnectReturnCode::SERVER_UNAVAILABLE => "server unavailable",
                    ConnectReturnCode::BAD_USER_NAME_OR_PASSWORD => "bad user name or password",
                    ConnectReturnCode::NOT_AUTHORIZED => "not authorized",
                    _ => "reserved return code",
                };
                write!(f, "the broker refused the connection: {why} (code {})", c.0)
            }
            SessionError::ConnackTimeout => f.write_str("no CONNACK from the broker in time"),
            SessionError::PingTimeout => f.write_str("no PINGRESP from the broker in time"),
            SessionError::Encode(e) => write!(f, "cannot encode CONNECT: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SessionError {}

/// A publish, subscribe or unsubscribe request the session refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// Not a valid topic name (empty, wildcards, U+0000, over 65535 bytes).
    InvalidTopic(String),
    /// Not a valid topic filter.
    InvalidFilter(String),
    /// SUBSCRIBE / UNSUBSCRIBE without any filter.
    NoFilters,
    /// The packet would exceed MQTT's 268 435 455-byte limit.
    TooLarge(usize),
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::InvalidTopic(t) => write!(f, "invalid topic name {t:?}"),
            PublishError::InvalidFilter(t) => write!(f, "invalid topic filter {t:?}"),
            PublishError::NoFilters => f.write_str("no topic filter given"),
            PublishError::TooLarge(n) => {
                write!(f, "packet of {n} bytes exceeds MQTT's 268435455-byte limit")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PublishError {}
