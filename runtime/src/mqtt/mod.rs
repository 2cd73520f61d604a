//! The sans-I/O MQTT 3.1.1 client session engine (OASIS MQTT 3.1.1).
//!
//! ```text
//!          bytes from the broker                  bytes to the broker
//!                  │                                      ▲
//!   handle_input(&[u8], now)            poll_transmit(now, &mut Vec<u8>)
//!                  ▼                                      │
//!        ┌──────────────────────────── Session ────────────────────────────┐
//!        │ CONNECT/CONNACK → keep-alive (PINGREQ, PINGRESP deadline)        │
//!        │ outgoing QoS 1/2 in flight (packet ids, limit, DUP on resend)    │
//!        │ incoming QoS 1/2 (PUBACK, PUBREC/PUBREL/PUBCOMP, no duplicates)  │
//!        │ SUBSCRIBE/UNSUBSCRIBE awaiting SUBACK/UNSUBACK                   │
//!        └─────────────────────────────────────────────────────────────────┘
//!        poll_timeout() / handle_timeout(now)                 poll_event()
//! ```
//!
//! The engine never reads a clock and never touches a socket: time is a caller-supplied
//! [`Millis`] count, bytes go in and out through buffers. Every packet is built and parsed
//! by the generated codec `ferrocom_wire::mqtt311`. One [`Session`] lives as long as the
//! client: [`Session::connect`] starts each network connection,
//! [`Session::connection_lost`] ends it, and in-flight state survives in between, so a
//! persistent session re-sends unacknowledged PUBLISH (DUP set) and PUBREL after a
//! reconnect ([MQTT-4.4.0-1]) and never delivers an incoming QoS 2 message twice.
//!
//! Bad input from the broker never panics: [`Session::handle_input`] returns a
//! [`SessionError`] naming what was wrong, after which the caller drops the connection.

mod error;
mod event;
mod options;
mod session;

pub use error::{PublishError, SessionError};
pub use event::{Event, Message, SubscribeOutcome};
pub use options::{Options, QoS, Will};
pub use session::{Session, Token};

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// Checks an MQTT topic name (not a filter): 1..=65535 bytes, no wildcards, no U+0000
/// ([MQTT-4.7.3-1], [MQTT-3.3.2-2], [MQTT-1.5.3-2]).
pub fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && topic.len() <= 65535 && !topic.contains(['+', '#', '\0'])
}

/// Checks an MQTT topic filter: 1..=65535 bytes, no U+0000, `#` only as the last level
/// and `+` only as a whole level ([MQTT-4.7.1-2], [MQTT-4.7.1-3]).
pub fn valid_topic_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.len() > 65535 || filter.contains('\0') {
        return false;
    }
    let levels: alloc::vec::Vec<&str> = filter.split('/').collect();
    let last = levels.len() - 1;
    levels.iter().enumerate().all(|(i, l)| {
        (!l.contains('#') || (*l == "#" && i == last)) && (!l.contains('+') || *l == "+")
    })
}

/// Does topic `name` match `filter` ([MQTT-4.7]): `+` one level, `#` the rest (also the
/// parent level); names starting with `$` do not match filters starting with a wildcard
/// ([MQTT-4.7.2-1]).
pub fn topic_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_names() {
        assert!(valid_topic_name("a/b"));
        assert!(!valid_topic_name("a/+"));
        assert!(!valid_topic_name(""));
        assert!(valid_topic_filter("a/+/c/#"));
        assert!(!valid_topic_filter("a/#/c"));
        assert!(!valid_topic_filter("a/b+"));
        assert!(topic_matches("a/+/c", "a/b/c"));
        assert!(topic_matches("a/#", "a"));
        assert!(topic_matches("a/#", "a/b/c"));
        assert!(!topic_matches("a/+", "a/b/c"));
        assert!(!topic_matches("#", "$SYS/x"));
    }
}
