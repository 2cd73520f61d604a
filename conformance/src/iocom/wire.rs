//! Frame building (through the generated codec) and an observer that parses the
//! target's IOCOM stream for the checks the engine does not make.

use std::borrow::Cow;

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{
    AuthFlags, Authentication, FrameFlags, InfoFlags, MemoryBlockInfo, SocketAck, SocketBody,
    SocketFrame, SocketItem, SystemBody, SystemMessage,
};

/// Encodes a numbered socket frame with the narrowest header widths.
pub fn frame(nr: u8, flags: FrameFlags, mblk: u32, addr: u32, content: &[u8]) -> Vec<u8> {
    let mut flags = flags;
    flags.set(FrameFlags::MBLK_2, mblk > 0xFF);
    flags.set(FrameFlags::ADDR_2, addr > 0xFF);
    let item = SocketItem {
        body: SocketBody::Numbered(SocketFrame {
            nr,
            flags,
            extra: None,
            mblk,
            addr,
            data: Cow::Borrowed(content),
        }),
    };
    let mut out = Vec::new();
    // Only called with values that fit (ids and addresses < 0x10000, content < 64 KiB).
    let _ = item.encode(&mut out);
    out
}

/// Encodes a socket ACK.
pub fn ack(count: u32) -> Vec<u8> {
    let item = SocketItem {
        body: SocketBody::Ack(SocketAck {
            count: count & 0xFF_FFFF,
        }),
    };
    let mut out = Vec::new();
    let _ = item.encode(&mut out);
    out
}

/// Encodes a system message (content of a system frame).
pub fn system(body: SystemBody<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = SystemMessage { body }.encode(&mut out);
    out
}

/// A fresh unique id per connection of the suite: concurrent cases must not share the
/// device number a server assigns by unique id (§9.5), or they would share blocks.
pub fn unique_id() -> [u8; 12] {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut id = [0xC0, 0x4F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    id[8..].copy_from_slice(&n.to_be_bytes());
    id
}

/// The authentication content of the suite's device (automatic number, connect-up),
/// with `password` (§8.2: sent over TLS only; empty on plain TCP).
pub fn device_auth(user: &str, network: &str, password: &str) -> Vec<u8> {
    let uid = unique_id();
    system(SystemBody::Authentication(Authentication {
        flags: AuthFlags::CONNECT_UP | AuthFlags::UNIQUE_ID,
        user,
        device_nr: 0,
        unique_id: Some(&uid),
        network,
        password,
    }))
}

/// The authentication content of the suite's server.
pub fn server_auth(user: &str, network: &str) -> Vec<u8> {
    system(SystemBody::Authentication(Authentication {
        flags: AuthFlags::empty(),
        user,
        device_nr: 0,
        unique_id: None,
        network,
        password: "",
    }))
}

/// An mbinfo content announcing a block of device `device` (number 9000).
pub fn mbinfo(device: &str, network: &str, block: &str, size: u32, block_flags: u16) -> Vec<u8> {
    let mut info = InfoFlags::HAS_DEVICE_NAME | InfoFlags::HAS_MBLK_NAME | InfoFlags::D_2BYTES;
    if size > 0xFF {
        info |= InfoFlags::N_2BYTES;
    }
    if size > 0xFFFF {
        info = (info | InfoFlags::N_4BYTES).with(InfoFlags::N_2BYTES, false);
    }
    if block_flags > 0xFF {
        info |= InfoFlags::F_2BYTES;
    }
    system(SystemBody::MemoryBlockInfo(MemoryBlockInfo {
        info,
        device_nr: 9000,
        size,
        block_flags: u32::from(block_flags),
        device_name: Some(device),
        network: Some(network),
        block_name: Some(block),
    }))
}

/// The client handshake `53 N name 00`.
pub fn handshake(network: &str) -> Vec<u8> {
    let mut out = vec![0x53, u8::try_from(network.len() + 1).unwrap_or(0)];
    out.extend_from_slice(network.as_bytes());
    out.push(0);
    out
}

/// What the observer saw in one stream item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// An ACK with its count.
    Ack(u32),
    /// A numbered frame.
    Frame(SeenFrame),
}

/// A numbered frame, summarised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenFrame {
    /// FRAME_NR.
    pub nr: u8,
    /// FLAGS.
    pub flags: u8,
    /// MBLK_ID.
    pub mblk: u32,
    /// ADDR.
    pub addr: u32,
    /// Frame length on the wire.
    pub len: usize,
    /// System message type (1 mbinfo, 2 auth, 3 remove), if a system frame.
    pub system: Option<u8>,
    /// For mbinfo: (block name, device number, size, flags); for auth: (user, nr, 0, flags).
    pub info: Option<(String, u32, u32, u32)>,
}

impl SeenFrame {
    /// A data (non-system) frame.
    pub fn is_data(&self) -> bool {
        self.system.is_none()
    }

    /// FLAGS has SYNC_COMPLETE.
    pub fn is_sync(&self) -> bool {
        self.flags & FrameFlags::SYNC.0 != 0
    }

    /// FLAGS has DELTA.
    pub fn is_delta(&self) -> bool {
        self.flags & FrameFlags::DELTA.0 != 0
    }
}

/// One item with its position in the stream.
#[derive(Debug, Clone)]
pub struct Item {
    /// Milliseconds since the observer started.
    pub t_ms: u64,
    /// Stream bytes (after the handshake) up to and including this item.
    pub end: u64,
    /// What it was.
    pub seen: Seen,
}

/// Parses one direction of a socket IOCOM stream.
#[derive(Debug)]
pub struct Observer {
    buf: Vec<u8>,
    skip: usize,
    total: u64,
    /// Everything seen so far.
    pub items: Vec<Item>,
    /// First decode error (with its clause), if the stream broke.
    pub error: Option<String>,
}

impl Observer {
    /// An observer that first skips `skip` bytes (a handshake, a TLS mark).
    pub fn new(skip: usize) -> Self {
        Observer {
            buf: Vec::new(),
            skip,
            total: 0,
            items: Vec::new(),
            error: None,
        }
    }

    /// Bytes of IOCOM stream seen (handshake excluded).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Sets how many leading bytes still to skip (a handshake of unknown length).
    pub fn set_skip(&mut self, n: usize) {
        self.skip = n;
    }

    /// Feeds bytes.
    pub fn feed(&mut self, mut bytes: &[u8], t_ms: u64) {
        if self.skip > 0 {
            let n = self.skip.min(bytes.len());
            self.skip -= n;
            bytes = &bytes[n..];
        }
        if self.error.is_some() {
            return;
        }
        self.buf.extend_from_slice(bytes);
        loop {
            let (seen, used) = match SocketItem::decode(&self.buf) {
                Ok(Decoded::Complete(item, used)) => (summarise(&item, used), used),
                Ok(Decoded::Incomplete(_)) => break,
                Err(e) => {
                    self.error = Some(format!(
                        "{e} (clause {})",
                        e.clause().unwrap_or("IOCOM-3-1")
                    ));
                    break;
                }
            };
            self.total += used as u64;
            self.buf.drain(..used);
            self.items.push(Item {
                t_ms,
                end: self.total,
                seen,
            });
        }
    }

    /// The numbered frames seen.
    pub fn frames(&self) -> impl Iterator<Item = &SeenFrame> {
        self.items.iter().filter_map(|i| match &i.seen {
            Seen::Frame(f) => Some(f),
            Seen::Ack(_) => None,
        })
    }

    /// The ACK counts seen, with the stream position after each.
    pub fn acks(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.items.iter().filter_map(|i| match i.seen {
            Seen::Ack(c) => Some((i.end, c)),
            Seen::Frame(_) => None,
        })
    }

    /// Checks the numbering rule (§5): 0, 1..=200, 1, ...; returns the first violation.
    pub fn numbering_error(&self) -> Option<String> {
        let mut expected = 0u8;
        for (i, f) in self.frames().enumerate() {
            if f.nr != expected {
                return Some(format!(
                    "numbered frame #{i} carries number {}, expected {expected}",
                    f.nr
                ));
            }
            expected = if expected >= 200 { 1 } else { expected + 1 };
        }
        None
    }
}

fn summarise(item: &SocketItem<'_>, used: usize) -> Seen {
    match &item.body {
        SocketBody::Ack(a) => Seen::Ack(a.count),
        SocketBody::Numbered(f) => {
            let mut system = None;
            let mut info = None;
            if f.flags.contains(FrameFlags::SYSTEM) {
                if let Ok(msg) = SystemMessage::decode_exact(&f.data) {
                    match msg.body {
                        SystemBody::MemoryBlockInfo(m) => {
                            system = Some(1);
                            info = Some((
                                m.block_name.unwrap_or("").to_string(),
                                m.device_nr,
                                m.size,
                                m.block_flags,
                            ));
                        }
                        SystemBody::Authentication(a) => {
                            system = Some(2);
                            info = Some((a.user.to_string(), a.device_nr, 0, u32::from(a.flags.0)));
                        }
                        SystemBody::RemoveRequest(_) => system = Some(3),
                        SystemBody::Unknown(u) => system = Some(u.kind),
                    }
                } else {
                    system = Some(f.data.first().copied().unwrap_or(0));
                }
            }
            Seen::Frame(SeenFrame {
                nr: f.nr,
                flags: f.flags.0,
                mblk: f.mblk,
                addr: f.addr,
                len: used,
                system,
                info,
            })
        }
    }
}
