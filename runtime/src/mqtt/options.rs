//! How a session connects: client id, clean or persistent session, credentials, will,
//! keep-alive and limits.

use alloc::string::String;
use alloc::vec::Vec;

use super::Millis;

/// Quality of service of a PUBLISH or subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QoS {
    /// At most once: no acknowledgement.
    AtMostOnce = 0,
    /// At least once: PUBACK.
    AtLeastOnce = 1,
    /// Exactly once: PUBREC, PUBREL, PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// From the two wire bits; `None` for 3.
    pub fn from_u8(q: u8) -> Option<QoS> {
        match q {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// The message the broker publishes when the connection ends without DISCONNECT
/// ([MQTT-3.1.2-8]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS.
    pub qos: QoS,
    /// Publish it retained.
    pub retain: bool,
}

/// Session settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Client identifier (1 to 23 characters of `[0-9a-zA-Z]` are accepted by every
    /// broker, [MQTT-3.1.3-5]; empty asks the broker to assign one and needs
    /// `clean_session`).
    pub client_id: String,
    /// Start a new session on every connection; `false` resumes the broker's session
    /// (subscriptions and queued messages) and re-sends unacknowledged messages.
    pub clean_session: bool,
    /// Keep-alive interval in seconds; 0 switches PINGREQ off.
    pub keep_alive_secs: u16,
    /// How long to wait for PINGRESP (and for CONNACK) before giving up on the
    /// connection.
    pub response_timeout: Millis,
    /// User name.
    pub username: Option<String>,
    /// Password (needs a user name, [MQTT-3.1.2-22]).
    pub password: Option<Vec<u8>>,
    /// Last will.
    pub will: Option<Will>,
    /// Most outgoing QoS 1 and 2 messages awaiting acknowledgement at once; more wait in
    /// a queue. At least 1.
    pub max_inflight: usize,
}

impl Options {
    /// A clean session, keep-alive 30 s, response timeout 10 s, 100 messages in flight.
    pub fn new(client_id: &str) -> Self {
        Options {
            client_id: client_id.into(),
            clean_session: true,
            keep_alive_secs: 30,
            response_timeout: 10_000,
            username: None,
            password: None,
            will: None,
            max_inflight: 100,
        }
    }
}
