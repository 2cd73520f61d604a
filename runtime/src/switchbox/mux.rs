//! The sans-I/O switchbox multiplexing layer (reference §17): a streaming decoder for
//! the messages on the service ↔ switchbox connection, and their encoders. Both ends of
//! that connection (the relay and the service end point) use it; neither lays out a
//! byte itself — every message goes through the generated `ferrocom_wire::switchbox`
//! codec.
//!
//! ```text
//!   0      2              6
//!   ┌──────┬──────────────┬──────────────────────────────┐
//!   │client│ code (i32 LE)│ data (code bytes, code > 0)   │
//!   └──────┴──────────────┴──────────────────────────────┘
//!   code: -1 NEW_CONNECTION, -2 CONNECTION_DROPPED, -3 KEEPALIVE (client 0)
//! ```
//!
//! Nothing here can panic on input: the decoder reports a [`MuxError`] naming what was
//! wrong, after which the connection is beyond repair (there is no way to find the next
//! message boundary) and must be closed.

use alloc::vec::Vec;
use core::fmt;

use ferrocom_wire::codec::{DecodeError, Decoded};
use ferrocom_wire::switchbox::{Message, MessageBody};

/// Length of the message header (client id + code).
pub const HEADER_LEN: usize = 6;

/// Data bytes this end puts into one message at most. The C end cuts its streams into
/// messages of about 3000 bytes; larger messages cost fewer headers and wake-ups.
pub const MAX_SEND_CHUNK: usize = 16 * 1024;

/// Default largest data length accepted in one received message. A peer announcing more
/// is refused at once, before its data arrive, so a bogus length cannot make this end
/// buffer gigabytes.
pub const DEFAULT_MAX_DATA: usize = 64 * 1024;

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MuxMessage {
    /// A new client stream with this id (switchbox → service).
    NewConnection(u16),
    /// The client stream with this id is gone (either direction).
    ConnectionDropped(u16),
    /// Keep-alive; carries nothing.
    KeepAlive,
    /// A piece of a client's raw IOCOM stream.
    Data(u16, Vec<u8>),
}

/// The multiplexed stream is broken; the connection must be closed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MuxError {
    /// The codec refused a message (an invalid code such as 0 or -7): field, offset and
    /// clause are in the error.
    Decode(DecodeError),
    /// A data message longer than this end accepts.
    Oversize {
        /// Data length it announced.
        len: usize,
        /// Largest accepted.
        limit: usize,
    },
    /// A client message (new, dropped or data) with id 0, which is reserved for
    /// keep-alives (SWB-17-2).
    ZeroClientId,
}

impl fmt::Display for MuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MuxError::Decode(e) => write!(f, "malformed switchbox message: {e}"),
            MuxError::Oversize { len, limit } => write!(
                f,
                "switchbox data message announces {len} bytes, more than the limit of {limit}"
            ),
            MuxError::ZeroClientId => f.write_str(
                "switchbox message with client id 0, which is reserved for keep-alives (SWB-17-2)",
            ),
        }
    }
}

/// Streaming decoder: feed bytes with [`MuxDecoder::push`], take messages with
/// [`MuxDecoder::next_message`] until it returns `Ok(None)` (more bytes needed).
#[derive(Debug)]
pub struct MuxDecoder {
    buf: Vec<u8>,
    start: usize,
    max_data: usize,
    failed: Option<MuxError>,
}

impl Default for MuxDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_DATA)
    }
}

impl MuxDecoder {
    /// A decoder accepting data messages of up to `max_data` bytes.
    pub fn new(max_data: usize) -> Self {
        MuxDecoder {
            buf: Vec::new(),
            start: 0,
            max_data,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            // Move the unread tail to the front so the buffer does not grow forever.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// The next complete message, `Ok(None)` if more bytes are needed. After an error
    /// every later call returns the same error: the stream cannot be resynchronised.
    pub fn next_message(&mut self) -> Result<Option<MuxMessage>, MuxError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.decode_one();
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn decode_one(&mut self) -> Result<Option<MuxMessage>, MuxError> {
        let input = self.buf.get(self.start..).unwrap_or_default();
        let (msg, used) = match Message::decode(input).map_err(MuxError::Decode)? {
            Decoded::Complete(m, used) => (m, used),
            Decoded::Incomplete(more) => {
                // With the header in, `more` is what is missing of the data: check the
                // announced length now rather than after buffering it.
                if input.len() >= HEADER_LEN {
                    let len = input.len() - HEADER_LEN + more;
                    if len > self.max_data {
                        return Err(MuxError::Oversize {
                            len,
                            limit: self.max_data,
                        });
                    }
                }
                return Ok(None);
            }
        };
        let out = match msg.body {
            MessageBody::KeepAlive => MuxMessage::KeepAlive,
            _ if msg.client == 0 => return Err(MuxError::ZeroClientId),
            MessageBody::NewConnection => MuxMessage::NewConnection(msg.client),
            MessageBody::ConnectionDropped => MuxMessage::ConnectionDropped(msg.client),
            MessageBody::Data(d) if d.len() > self.max_data => {
                return Err(MuxError::Oversize {
                    len: d.len(),
                    limit: self.max_data,
                });
            }
            MessageBody::Data(d) => MuxMessage::Data(msg.client, d.to_vec()),
        };
        self.start += used;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(out))
    }
}

/// Appends NEW_CONNECTION for `client`.
pub fn encode_new_connection(client: u16, out: &mut Vec<u8>) {
    encode(client, MessageBody::NewConnection, out);
}

/// Appends CONNECTION_DROPPED for `client`.
pub fn encode_connection_dropped(client: u16, out: &mut Vec<u8>) {
    encode(client, MessageBody::ConnectionDropped, out);
}

/// Appends a keep-alive (client id 0).
pub fn encode_keepalive(out: &mut Vec<u8>) {
    encode(0, MessageBody::KeepAlive, out);
}

/// Appends `data` for `client`, cut into messages of at most [`MAX_SEND_CHUNK`] bytes.
/// Empty data append nothing (a zero code would be invalid, SWB-17-7).
pub fn encode_data(client: u16, data: &[u8], out: &mut Vec<u8>) {
    for chunk in data.chunks(MAX_SEND_CHUNK) {
        encode(client, MessageBody::Data(chunk), out);
    }
}

fn encode(client: u16, body: MessageBody<'_>, out: &mut Vec<u8>) {
    // Cannot fail: the chunk length is far below i32::MAX and the codes are valid.
    let _ = Message { client, body }.encode(out);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn reference_examples_encode_exactly() {
        let mut out = Vec::new();
        encode_new_connection(1, &mut out);
        assert_eq!(out, [0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF]);
        out.clear();
        encode_connection_dropped(1, &mut out);
        assert_eq!(out, [0x01, 0x00, 0xFE, 0xFF, 0xFF, 0xFF]);
        out.clear();
        encode_keepalive(&mut out);
        assert_eq!(out, [0x00, 0x00, 0xFD, 0xFF, 0xFF, 0xFF]);
        out.clear();
        encode_data(1, &[7; 24], &mut out);
        assert_eq!(out.get(..6).unwrap(), [0x01, 0x00, 0x18, 0x00, 0x00, 0x00]);
        assert_eq!(out.len(), 30);
    }

    #[test]
    fn decodes_byte_by_byte_and_in_bulk() {
        let mut wire = Vec::new();
        encode_new_connection(3, &mut wire);
        encode_data(3, b"hello", &mut wire);
        encode_keepalive(&mut wire);
        encode_data(3, &vec![9; MAX_SEND_CHUNK + 10], &mut wire);
        encode_connection_dropped(3, &mut wire);
        let want = vec![
            MuxMessage::NewConnection(3),
            MuxMessage::Data(3, b"hello".to_vec()),
            MuxMessage::KeepAlive,
            MuxMessage::Data(3, vec![9; MAX_SEND_CHUNK]),
            MuxMessage::Data(3, vec![9; 10]),
            MuxMessage::ConnectionDropped(3),
        ];
        for step in [1, 7, wire.len()] {
            let mut d = MuxDecoder::default();
            let mut got = Vec::new();
            for piece in wire.chunks(step) {
                d.push(piece);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, want, "step {step}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn oversize_length_is_refused_from_the_header() {
        let mut d = MuxDecoder::new(1000);
        // Client 5 announces 1001 bytes; only the header has arrived.
        d.push(&[0x05, 0x00, 0xE9, 0x03, 0x00, 0x00]);
        assert_eq!(
            d.next_message(),
            Err(MuxError::Oversize {
                len: 1001,
                limit: 1000
            })
        );
        assert!(d.next_message().is_err(), "the stream stays failed");
    }

    #[test]
    fn invalid_codes_and_zero_ids_are_errors() {
        let mut d = MuxDecoder::default();
        d.push(&[0x01, 0x00, 0x00, 0x00, 0x00, 0x00]);
        let e = d.next_message().unwrap_err();
        assert!(matches!(e, MuxError::Decode(_)), "{e}");
        assert!(e.to_string().contains("SWB-17-7"), "{e}");

        let mut d = MuxDecoder::default();
        d.push(&[0x01, 0x00, 0xF9, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(d.next_message(), Err(MuxError::Decode(_))));

        let mut d = MuxDecoder::default();
        encode_new_connection(0, &mut d.buf);
        assert_eq!(d.next_message(), Err(MuxError::ZeroClientId));
    }
}
