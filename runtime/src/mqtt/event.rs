//! What the session reports to its user.

use alloc::string::String;
use alloc::vec::Vec;

use super::options::QoS;
use super::session::Token;

/// An application message received from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS it was delivered with.
    pub qos: QoS,
    /// RETAIN: a retained message sent on subscribing ([MQTT-3.3.1-8]).
    pub retain: bool,
    /// DUP: the broker may have sent it before (QoS 1 may repeat; QoS 2 repeats are
    /// filtered by the session and never reported twice).
    pub dup: bool,
}

/// The broker's answer to one topic filter of a SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// Subscribed with at most this QoS.
    Granted(QoS),
    /// Return code 0x80: the broker refused this filter.
    Failed,
}

/// Something that happened in the session; see [`Session::poll_event`](super::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CONNACK accepted the connection.
    Connected {
        /// The broker resumed a stored session.
        session_present: bool,
    },
    /// A message arrived.
    Message(Message),
    /// The PUBLISH of this token went into the transmit buffer (see
    /// [`Session::poll_transmit`](super::Session::poll_transmit)).
    Written(Token),
    /// The message of this token is done: PUBACK (QoS 1), PUBCOMP (QoS 2), or written
    /// (QoS 0).
    Acknowledged(Token),
    /// SUBACK for the SUBSCRIBE with this packet id: one outcome per filter, in order.
    Subscribed {
        /// Packet identifier returned by [`Session::subscribe`](super::Session::subscribe).
        packet_id: u16,
        /// Per filter.
        outcomes: Vec<SubscribeOutcome>,
    },
    /// UNSUBACK for the UNSUBSCRIBE with this packet id.
    Unsubscribed {
        /// Packet identifier returned by [`Session::unsubscribe`](super::Session::unsubscribe).
        packet_id: u16,
    },
}
