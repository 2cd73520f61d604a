//! Connection errors: who misbehaved, and how (rustls style).

use core::fmt;

use ferrocom_wire::codec::{DecodeError, EncodeError};

use super::Millis;

/// Why a connection was dropped. Every variant except [`ConnectionError::Local`] names
/// something the peer did (or failed to do); the C peer drops the connection in the same
/// situations (§4.7, §11.7, §9.4). On a serial line the engine has already restarted the
/// link procedure (§8.3) when it returns one of these; on a socket the connection is
/// closed and the caller should close the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionError {
    /// A frame started with the wrong frame number (§5).
    UnexpectedFrameNumber {
        /// The number this end expected.
        expected: u8,
        /// The lead byte received.
        found: u8,
    },
    /// The bytes do not decode (the codec names item, field, offset and clause).
    Decode(DecodeError),
    /// Serial frame with a wrong CRC-16/MODBUS (§4.2).
    Crc {
        /// Frame number of the damaged frame.
        frame_nr: u8,
        /// CRC computed over the received frame.
        computed: u16,
        /// CRC stored in the frame.
        stored: u16,
    },
    /// A frame longer than this end's own frame size (§4.6).
    OversizeFrame {
        /// The frame length (at least this long).
        len: usize,
        /// This end's frame size.
        limit: usize,
    },
    /// A serial link control character in data mode (quirk 16): the peer restarted.
    LinkControl {
        /// The control character (F9..FD).
        byte: u8,
    },
    /// TLS client: the server's first byte was not the mark byte 5B (§8.1).
    BadTlsMark {
        /// The byte received.
        found: u8,
    },
    /// A data frame addressed beyond the end of the block (§11.7).
    AddressBeyondBlock {
        /// Frame address.
        addr: u32,
        /// Size of the local block.
        block_size: usize,
    },
    /// A remove request whose header count is outside 1..=16 or disagrees with its ids (§12).
    BadRemoveCount {
        /// Count in the header's MBLK_ID field.
        header: u32,
        /// Ids in the content.
        ids: usize,
    },
    /// Nothing received for the silence period (§7).
    SilenceTimeout {
        /// How long the peer was silent.
        silent_for: Millis,
    },
    /// The authorization hook refused the peer (§9.4); closed without a reject message.
    AuthorizationRefused,
    /// This end failed to encode a frame (a bug or an impossible local configuration,
    /// e.g. a name longer than the wire allows). Not the peer's fault.
    Local(EncodeError),
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedFrameNumber { expected, found } => write!(
                f,
                "peer sent frame number {found}, expected {expected} (IOCOM-5)"
            ),
            Self::Decode(e) => write!(f, "peer sent undecodable bytes: {e}"),
            Self::Crc {
                frame_nr,
                computed,
                stored,
            } => write!(
                f,
                "peer's serial frame {frame_nr} has CRC {stored:#06x}, computed {computed:#06x} (IOCOM-4.2)"
            ),
            Self::OversizeFrame { len, limit } => write!(
                f,
                "peer sent a {len}-byte frame, own frame size is {limit} (IOCOM-4.6)"
            ),
            Self::LinkControl { byte } => write!(
                f,
                "peer sent serial link control byte {byte:#04x} in data mode (IOCOM-8.3)"
            ),
            Self::BadTlsMark { found } => {
                write!(
                    f,
                    "server sent {found:#04x} instead of the TLS mark 0x5b (IOCOM-8.1)"
                )
            }
            Self::AddressBeyondBlock { addr, block_size } => write!(
                f,
                "peer wrote at address {addr} of a {block_size}-byte block (IOCOM-11.7)"
            ),
            Self::BadRemoveCount { header, ids } => write!(
                f,
                "peer's remove request announces {header} ids and carries {ids} (IOCOM-12)"
            ),
            Self::SilenceTimeout { silent_for } => {
                write!(f, "peer silent for {silent_for} ms (IOCOM-7)")
            }
            Self::AuthorizationRefused => f.write_str("peer not authorized (IOCOM-9.4)"),
            Self::Local(e) => write!(f, "local encoding failure: {e}"),
        }
    }
}

impl core::error::Error for ConnectionError {}

impl From<DecodeError> for ConnectionError {
    fn from(e: DecodeError) -> Self {
        ConnectionError::Decode(e)
    }
}

impl From<EncodeError> for ConnectionError {
    fn from(e: EncodeError) -> Self {
        ConnectionError::Local(e)
    }
}
