//! Thin glue over the generated codecs (`ferrocom_wire::iocom`): building the frames this
//! end sends. No byte is laid out by hand here; widths are chosen as the C sender does.

use ferrocom_wire::codec::{Cow, EncodeError, Sink};
use ferrocom_wire::iocom::{
    ExtraFlags, FrameFlags, SerialAck, SerialBody, SerialFrame, SerialItem, SocketAck, SocketBody,
    SocketFrame, SocketItem,
};

use super::Transport;
use super::connection::{SERIAL, SOCKET};

/// FLAGS width bits and EXTRA_FLAGS for a header with these MBLK_ID and ADDR values
/// (§4.3, §4.4: 1 byte below 0x100, 2 below 0x10000, else 4 with EXTRA_FLAGS | 0x80).
pub(crate) fn width_flags(mblk: u32, addr: u32) -> (FrameFlags, Option<ExtraFlags>) {
    let mut flags = FrameFlags::empty();
    let mut extra = ExtraFlags::MARK;
    if mblk >= 0x1_0000 {
        extra |= ExtraFlags::MBLK_4;
    } else if mblk >= 0x100 {
        flags |= FrameFlags::MBLK_2;
    }
    if addr >= 0x1_0000 {
        extra |= ExtraFlags::ADDR_4;
    } else if addr >= 0x100 {
        flags |= FrameFlags::ADDR_2;
    }
    if extra == ExtraFlags::MARK {
        (flags, None)
    } else {
        (flags | FrameFlags::EXTRA, Some(extra))
    }
}

/// A numbered frame to send, before its number is assigned.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing<'a> {
    /// DELTA / COMPRESSED / SYNC / SYSTEM (width bits are added here).
    pub flags: FrameFlags,
    pub mblk: u32,
    pub addr: u32,
    /// Uncompressed content (the codec compresses it iff COMPRESSED).
    pub data: &'a [u8],
}

impl Outgoing<'_> {
    fn parts(&self) -> (FrameFlags, Option<ExtraFlags>) {
        let (w, extra) = width_flags(self.mblk, self.addr);
        (self.flags | w, extra)
    }

    /// Encoded length of the frame (header + content on the wire).
    pub fn len(&self, transport: Transport) -> usize {
        let (flags, extra) = self.parts();
        let data = Cow::Borrowed(self.data);
        match transport {
            Transport::Socket if SOCKET => SocketFrame {
                nr: 0,
                flags,
                extra,
                mblk: self.mblk,
                addr: self.addr,
                data,
            }
            .encoded_len()
            .saturating_add(1),
            Transport::Serial if SERIAL => SerialFrame {
                nr: 0,
                flags,
                extra,
                mblk: self.mblk,
                addr: self.addr,
                data,
            }
            .encoded_len()
            .saturating_add(1),
            // A transport the engine was built without: no connection uses it.
            _ => 0,
        }
    }

    /// Appends the frame with number `nr` (and, on serial, its CRC) to `out`.
    pub fn encode<O: Sink + ?Sized>(
        &self,
        transport: Transport,
        nr: u8,
        out: &mut O,
    ) -> Result<usize, EncodeError> {
        let (flags, extra) = self.parts();
        let data = Cow::Borrowed(self.data);
        match transport {
            Transport::Socket if SOCKET => SocketItem {
                body: SocketBody::Numbered(SocketFrame {
                    nr,
                    flags,
                    extra,
                    mblk: self.mblk,
                    addr: self.addr,
                    data,
                }),
            }
            .encode(out),
            Transport::Serial if SERIAL => SerialItem {
                body: SerialBody::Numbered(SerialFrame {
                    nr,
                    flags,
                    extra,
                    mblk: self.mblk,
                    addr: self.addr,
                    data,
                }),
            }
            .encode(out),
            _ => Ok(0),
        }
    }
}

/// Header length of a data frame with no content.
pub(crate) fn header_len(transport: Transport, mblk: u32, addr: u32) -> usize {
    Outgoing {
        flags: FrameFlags::empty(),
        mblk,
        addr,
        data: &[],
    }
    .len(transport)
}

/// Appends an ACK / keep-alive carrying `count` (already masked).
pub(crate) fn encode_ack<O: Sink + ?Sized>(
    transport: Transport,
    count: u32,
    out: &mut O,
) -> Result<usize, EncodeError> {
    match transport {
        Transport::Socket if SOCKET => SocketItem {
            body: SocketBody::Ack(SocketAck { count }),
        }
        .encode(out),
        Transport::Serial if SERIAL => SerialItem {
            body: SerialBody::Ack(SerialAck {
                count: u16::try_from(count & 0xFFFF).unwrap_or(0),
            }),
        }
        .encode(out),
        _ => Ok(0),
    }
}

/// Appends one serial link control character (§8.3).
pub(crate) fn encode_control<O: Sink + ?Sized>(body: SerialBody<'static>, out: &mut O) {
    // Control items have no fields; encoding cannot fail.
    let _ = SerialItem { body }.encode(out);
}

/// Next frame number: 0, 1, …, 200, 1, … (§5).
pub(crate) fn next_nr(nr: u8) -> u8 {
    if nr >= 200 { 1 } else { nr + 1 }
}

#[cfg(all(test, feature = "socket", feature = "serial"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbering_wraps_to_one() {
        assert_eq!(next_nr(0), 1);
        assert_eq!(next_nr(199), 200);
        assert_eq!(next_nr(200), 1);
    }

    #[test]
    fn header_lengths() {
        assert_eq!(header_len(Transport::Socket, 0x1D, 0), 6);
        assert_eq!(header_len(Transport::Socket, 0x1D, 267), 7);
        assert_eq!(header_len(Transport::Serial, 0x1D, 0), 7);
        assert_eq!(header_len(Transport::Serial, 0x1D, 267), 8);
        assert_eq!(header_len(Transport::Socket, 0x1_0000, 0), 10);
    }
}
