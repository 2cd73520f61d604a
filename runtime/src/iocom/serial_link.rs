//! The serial link procedure (§8.3): single control characters before data mode.
//!
//! ```text
//! client (not listening)                     server (listening)
//!   FD CONNECT ───────────────────────────▶  (after F9 DISCONNECT on start / restart)
//!              ◀─────────────────────────── FC CONNECT_REPLY
//!   FB CONFIRM ───────────────────────────▶
//!              ◀─────────────────────────── FA CONFIRM_REPLY   → both in data mode
//! ```

use ferrocom_wire::codec::Sink;
use ferrocom_wire::iocom::SerialBody;

use super::Millis;
use super::frame::encode_control;

/// Step timeout and CONNECT repeat period of the client (§7).
pub(crate) const LINK_STEP_TIMEOUT: Millis = 300;

const CONNECT: u8 = 0xFD;
const CONNECT_REPLY: u8 = 0xFC;
const CONFIRM: u8 = 0xFB;
const CONFIRM_REPLY: u8 = 0xFA;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// Client step 2: CONNECT written, waiting for CONNECT_REPLY as the last byte read.
    ClientAwaitReply { deadline: Millis },
    /// Client step 3: CONFIRM written, waiting for CONFIRM_REPLY.
    ClientAwaitConfirmReply { deadline: Millis },
    /// Server step 3: waiting for CONNECT as the last byte read (no timeout).
    ServerAwaitConnect,
    /// Server step 4: CONNECT_REPLY written, waiting for exactly one CONFIRM.
    ServerAwaitConfirm,
    /// Data mode.
    Up,
}

/// Result of feeding bytes to the link procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkInput {
    /// All bytes consumed by the procedure.
    Consumed,
    /// Data mode entered after consuming this many bytes; the rest are IOCOM frames.
    Up(usize),
}

impl Link {
    /// (Re)start: the client writes CONNECT, the server DISCONNECT (steps 1).
    pub fn start<O: Sink + ?Sized>(listener: bool, now: Millis, out: &mut O) -> Link {
        if listener {
            encode_control(SerialBody::Disconnect, out);
            Link::ServerAwaitConnect
        } else {
            encode_control(SerialBody::Connect, out);
            Link::ClientAwaitReply {
                deadline: now.saturating_add(LINK_STEP_TIMEOUT),
            }
        }
    }

    pub fn deadline(&self) -> Option<Millis> {
        match *self {
            Link::ClientAwaitReply { deadline } | Link::ClientAwaitConfirmReply { deadline } => {
                Some(deadline)
            }
            _ => None,
        }
    }

    /// Client step timeouts go back to step 1 (write CONNECT again).
    pub fn timeout<O: Sink + ?Sized>(&mut self, now: Millis, out: &mut O) {
        if self.deadline().is_some_and(|d| now >= d) {
            *self = Link::start(false, now, out);
        }
    }

    /// Feeds one read (`bytes` non-empty) to the procedure.
    pub fn input<O: Sink + ?Sized>(&mut self, bytes: &[u8], now: Millis, out: &mut O) -> LinkInput {
        let last = bytes.last().copied();
        match *self {
            Link::ClientAwaitReply { .. } => {
                if last == Some(CONNECT_REPLY) {
                    encode_control(SerialBody::Confirm, out);
                    *self = Link::ClientAwaitConfirmReply {
                        deadline: now.saturating_add(LINK_STEP_TIMEOUT),
                    };
                }
                LinkInput::Consumed
            }
            Link::ClientAwaitConfirmReply { .. } => {
                if bytes.first() == Some(&CONFIRM_REPLY) {
                    *self = Link::Up;
                    LinkInput::Up(1)
                } else {
                    // Anything else: start over (C: step 1).
                    *self = Link::start(false, now, out);
                    LinkInput::Consumed
                }
            }
            Link::ServerAwaitConnect => {
                if last == Some(CONNECT) {
                    encode_control(SerialBody::ConnectReply, out);
                    *self = Link::ServerAwaitConfirm;
                }
                LinkInput::Consumed
            }
            Link::ServerAwaitConfirm => {
                if bytes == [CONFIRM] {
                    encode_control(SerialBody::ConfirmReply, out);
                    *self = Link::Up;
                    LinkInput::Up(1)
                } else {
                    // Back to step 3 with this read.
                    *self = Link::ServerAwaitConnect;
                    self.input(bytes, now, out)
                }
            }
            Link::Up => LinkInput::Up(0),
        }
    }
}
