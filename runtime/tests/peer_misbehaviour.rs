//! What a C receiver rejects (§11.7) and tolerates (§10.4, §11.8), fed to a server engine
//! by a hand-driven device built from the generated codec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::server_root;
use ferrocom_runtime::iocom::{Connection, ConnectionConfig, ConnectionError, Root};
use ferrocom_wire::iocom::{
    AuthFlags, Authentication, FrameFlags, InfoFlags, MemoryBlockInfo, SocketBody, SocketFrame,
    SocketItem, SystemBody, SystemMessage, UnknownSystem,
};

struct Fake {
    root: Root,
    srv: Connection,
    nr: u8,
    out: Vec<u8>,
}

impl Fake {
    /// A server that has accepted a device which authenticated with `auth_flags`.
    fn new(auth_flags: AuthFlags) -> Self {
        let mut root = server_root();
        let mut srv = Connection::new(&mut root, ConnectionConfig::socket_server(false), 0);
        srv.handle_input(&mut root, b"\x53\x08cafenet\x00\xFF\x00\x00\x00", 0)
            .unwrap();
        let mut f = Fake {
            root,
            srv,
            nr: 0,
            out: Vec::new(),
        };
        f.flush();
        f.system(
            SystemBody::Authentication(Authentication {
                flags: auth_flags | AuthFlags::CONNECT_UP,
                user: "tool",
                device_nr: 5,
                unique_id: None,
                network: "cafenet",
                password: "",
            }),
            1392,
        )
        .unwrap();
        f
    }

    fn flush(&mut self) {
        self.srv.poll_transmit(&mut self.root, 0, &mut self.out);
    }

    fn frame(
        &mut self,
        flags: FrameFlags,
        mblk: u32,
        addr: u32,
        data: &[u8],
    ) -> Result<(), ConnectionError> {
        let mut b = Vec::new();
        SocketItem {
            body: SocketBody::Numbered(SocketFrame {
                nr: self.nr,
                flags,
                extra: None,
                mblk,
                addr,
                data: data.to_vec().into(),
            }),
        }
        .encode(&mut b)
        .unwrap();
        self.nr = if self.nr >= 200 { 1 } else { self.nr + 1 };
        let r = self.srv.handle_input(&mut self.root, &b, 0);
        self.flush();
        r
    }

    fn system(&mut self, body: SystemBody<'_>, mblk: u32) -> Result<(), ConnectionError> {
        let mut c = Vec::new();
        SystemMessage { body }.encode(&mut c).unwrap();
        let flags = if mblk >= 256 {
            FrameFlags::SYSTEM | FrameFlags::MBLK_2
        } else {
            FrameFlags::SYSTEM
        };
        self.frame(flags, mblk, 0, &c)
    }

    /// Announce an up block `name` of `size` bytes with id `id`.
    fn announce(&mut self, id: u32, name: &str, size: u32, flags: u16) {
        self.system(
            SystemBody::MemoryBlockInfo(MemoryBlockInfo {
                info: InfoFlags::HAS_DEVICE_NAME | InfoFlags::HAS_MBLK_NAME,
                device_nr: 5,
                size,
                block_flags: u32::from(flags),
                device_name: Some("tool"),
                network: Some("cafenet"),
                block_name: Some(name),
            }),
            id,
        )
        .unwrap();
    }
}

#[test]
fn address_beyond_the_block_is_rejected() {
    let mut f = Fake::new(AuthFlags::empty());
    f.announce(8, "exp", 24, 0x0A);
    let id = f.root.blocks().next().unwrap().id.0;
    // Address 24 = block size: accepted (nothing to write); 25: rejected.
    f.frame(FrameFlags::SYNC, u32::from(id), 24, &[1]).unwrap();
    let e = f
        .frame(FrameFlags::SYNC, u32::from(id), 25, &[1])
        .unwrap_err();
    assert_eq!(
        e,
        ConnectionError::AddressBeyondBlock {
            addr: 25,
            block_size: 24
        }
    );
}

#[test]
fn writes_past_the_end_are_clipped() {
    let mut f = Fake::new(AuthFlags::empty());
    f.announce(8, "exp", 24, 0x0A);
    let id = f.root.blocks().next().unwrap().id;
    f.frame(
        FrameFlags::SYNC,
        u32::from(id.0),
        20,
        &[1, 2, 3, 4, 5, 6, 7, 8],
    )
    .unwrap();
    assert_eq!(&f.root.read(id).unwrap()[20..], [1, 2, 3, 4]);
}

#[test]
fn literal_overrun_is_a_decode_error() {
    let mut f = Fake::new(AuthFlags::empty());
    f.announce(8, "exp", 24, 0x0A);
    // Compressed content whose literal count (5) runs past the content: the codec
    // refuses it while decoding (§11.7).
    let mut b = Vec::new();
    let raw = [f.nr, 0x12, 3, 0, 23, 0, 5, 1, 2];
    b.extend_from_slice(&raw);
    let e = f.srv.handle_input(&mut f.root, &b, 0).unwrap_err();
    assert!(matches!(e, ConnectionError::Decode(_)), "{e}");
}

#[test]
fn unknown_system_frames_and_unbound_ids_are_ignored() {
    let mut f = Fake::new(AuthFlags::empty());
    f.system(
        SystemBody::Unknown(UnknownSystem {
            kind: 9,
            data: &[1, 2, 3],
        }),
        0,
    )
    .unwrap();
    f.frame(FrameFlags::SYNC, 77, 0, &[1, 2, 3]).unwrap();
    assert!(f.srv.is_authenticated());
}

#[test]
fn lead_byte_above_200_is_rejected() {
    let mut f = Fake::new(AuthFlags::empty());
    let e = f.srv.handle_input(&mut f.root, &[201], 0).unwrap_err();
    assert!(matches!(
        e,
        ConnectionError::UnexpectedFrameNumber { found: 201, .. }
    ));
}

fn reply_flags(out: &[u8]) -> Vec<u32> {
    use ferrocom_wire::codec::Decoded;
    let mut s = out;
    let mut v = Vec::new();
    while let Ok(Decoded::Complete(item, n)) = SocketItem::decode(s) {
        s = &s[n..];
        let SocketBody::Numbered(fr) = item.body else {
            continue;
        };
        if let Ok(SystemMessage {
            body: SystemBody::MemoryBlockInfo(m),
        }) = SystemMessage::decode_exact(&fr.data)
        {
            v.push(m.block_flags);
        }
    }
    v
}

#[test]
fn bidirectional_is_cleared_in_replies_to_a_bidirectional_peer() {
    // i-spy style client: auth flag 0x80 and blocks with BIDIRECTIONAL.
    let mut f = Fake::new(AuthFlags::BIDIRECTIONAL);
    f.announce(9, "imp", 24, 0x09);
    assert_eq!(
        reply_flags(&f.out),
        [0x31],
        "DOWN|DYNAMIC|ALLOW_RESIZE, no 0x08"
    );
    // A peer without 0x80 gets the C server's 0x39.
    let mut g = Fake::new(AuthFlags::empty());
    g.announce(9, "imp", 24, 0x09);
    assert_eq!(reply_flags(&g.out), [0x39]);
    // And the engine never asks for bidirectional mode itself.
    assert!(!g.out.windows(2).any(|w| w == [0x02, 0x80]));
}

#[test]
fn compressed_system_messages_are_expanded() {
    use ferrocom_runtime::iocom::Event;
    // The C end never compresses system messages; a peer that does (the codec compresses
    // the content of a frame flagged COMPRESSED) is understood as long as the message
    // could be valid: an unknown type 9 followed by 300 zeros (longer than any known
    // message) is ignored like any unknown system frame...
    let mut f = Fake::new(AuthFlags::empty());
    while f.srv.poll_event().is_some() {}
    let flags = FrameFlags::SYSTEM | FrameFlags::COMPRESSED;
    let mut unknown = vec![0u8; 301];
    unknown[0] = 9;
    f.frame(flags, 0, 0, &unknown).unwrap();
    assert_eq!(
        f.srv.poll_event(),
        Some(Event::UnknownSystemFrame { kind: 9 })
    );
    // ... a compressed mbinfo is bound as if it came raw ...
    let mut info = Vec::new();
    SystemMessage {
        body: SystemBody::MemoryBlockInfo(MemoryBlockInfo {
            info: InfoFlags::HAS_DEVICE_NAME | InfoFlags::HAS_MBLK_NAME,
            device_nr: 0,
            size: 24,
            block_flags: 0x0A,
            device_name: Some("tool"),
            network: Some("cafenet"),
            block_name: Some("exp"),
        }),
    }
    .encode(&mut info)
    .unwrap();
    f.frame(flags, 8, 0, &info).unwrap();
    assert!(f.root.blocks().any(|b| b.name == "exp"));
    // ... and an mbinfo that expands to 300 bytes is refused.
    let mut long = vec![0u8; 300];
    long[0] = 1;
    let e = f.frame(flags, 0, 0, &long).unwrap_err();
    assert!(matches!(e, ConnectionError::Decode(_)), "{e}");
}
