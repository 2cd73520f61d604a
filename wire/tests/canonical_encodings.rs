//! Canonical encodings: messages built FROM FIELDS with the generated types encode, byte
//! for byte, to the reference vectors of `shared/reference/iocom-wire.md` (§22 test
//! vectors, the captured mbinfo frames of §10.2, the captured authentication frames of
//! §9.2 and the worked data-frame examples of §11.6), and decoding those bytes gives back
//! the same value (streaming `decode`, consuming every byte, and `decode_exact`).
//!
//! MQTT 3.1.1 packets have no vectors in the reference; their expected bytes below were
//! worked out by hand from the OASIS standard (sections 2 and 3).
//!
//! Finally `canonical_table` snapshots a `name | hex` table of one canonical encoding of
//! every message type of every spec (`snapshots/canonical_encodings__canonical_table.snap`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;

use ferrocom_wire::codec::{Decoded, EncodeErrorKind};
use ferrocom_wire::iocom::{
    AuthFlags, Authentication, CertificateAnswer, ClientHandshake, ClientType, ExtraFlags,
    FrameFlags, InfoFlags, MemoryBlockInfo, RemoveRequest, SerialAck, SerialBody, SerialFrame,
    SerialItem, SocketAck, SocketBody, SocketFrame, SocketItem, SystemBody, SystemMessage, TlsMark,
    UnknownSystem,
};
use ferrocom_wire::mqtt311::{
    Connack, ConnackFlags, Connect, ConnectFlags, ConnectReturnCode, Packet, PacketBody, PacketId,
    Publish, PublishHeader, SubAckCode, Suback, Subscribe, Subscription, Unsubscribe,
};
use ferrocom_wire::switchbox::{Message, MessageBody};

// ---------------------------------------------------------------------------------------
// Helpers

/// `"53 08 63"` → bytes (whitespace and `|` separators ignored).
fn hex(s: &str) -> Vec<u8> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .collect();
    assert!(s.len().is_multiple_of(2), "odd hex string {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Bytes → `"53 08 63"`.
fn spaced(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rows `name | hex` of the snapshot table.
#[derive(Default)]
struct Table(Vec<(String, String)>);

impl Table {
    fn push(&mut self, name: &str, bytes: &[u8]) {
        self.0.push((name.to_owned(), spaced(bytes)));
    }

    fn render(&self) -> String {
        let width = self.0.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut s = format!("{:width$} | hex\n", "name");
        for (n, h) in &self.0 {
            s.push_str(&format!("{n:width$} | {h}\n"));
        }
        s
    }
}

/// Encodes `$msg` (of type `$ty`), asserts the bytes equal `$expected`, that `encode`'s
/// return value and `encoded_len` agree, that `decode` gives back the same value using
/// every byte and that `decode_exact` does too; adds a table row and returns the bytes.
macro_rules! canonical {
    ($table:expr, $name:expr, $ty:ty, $msg:expr, $expected:expr) => {{
        // A `match` keeps temporaries of `$msg` (e.g. `&zeros(24)`) alive to the end.
        match $msg {
            msg => {
                let name: &str = $name;
                let msg: $ty = msg;
                let expected: Vec<u8> = hex($expected);
                let mut out = Vec::new();
                let n = msg
                    .encode(&mut out)
                    .unwrap_or_else(|e| panic!("{name}: encode failed: {e}"));
                assert_eq!(spaced(&out), spaced(&expected), "{name}: encoding");
                assert_eq!(n, out.len(), "{name}: length returned by encode");
                assert_eq!(msg.encoded_len(), n, "{name}: encoded_len");
                match <$ty>::decode(&out) {
                    Ok(Decoded::Complete(back, used)) => {
                        assert_eq!(used, n, "{name}: bytes consumed by decode");
                        assert_eq!(back, msg, "{name}: decode");
                    }
                    other => panic!("{name}: decode gave {other:?}"),
                }
                assert_eq!(
                    <$ty>::decode_exact(&out).as_ref(),
                    Ok(&msg),
                    "{name}: decode_exact"
                );
                $table.push(name, &out);
                out
            }
        }
    }};
}

/// A numbered socket frame.
fn socket(nr: u8, flags: FrameFlags, mblk: u32, addr: u32, data: &[u8]) -> SocketItem<'_> {
    SocketItem {
        body: SocketBody::Numbered(SocketFrame {
            nr,
            flags,
            extra: None,
            mblk,
            addr,
            data: Cow::Borrowed(data),
        }),
    }
}

/// A numbered serial frame (the CRC is computed by the encoder).
fn serial(nr: u8, flags: FrameFlags, mblk: u32, addr: u32, data: &[u8]) -> SerialItem<'_> {
    SerialItem {
        body: SerialBody::Numbered(SerialFrame {
            nr,
            flags,
            extra: None,
            mblk,
            addr,
            data: Cow::Borrowed(data),
        }),
    }
}

const SYSTEM: FrameFlags = FrameFlags::SYSTEM;
const SYSTEM_MBLK_2: FrameFlags = FrameFlags(FrameFlags::SYSTEM.0 | FrameFlags::MBLK_2.0);
/// Key frame: COMPRESSED | SYNC (0x12).
const KEY: FrameFlags = FrameFlags(FrameFlags::COMPRESSED.0 | FrameFlags::SYNC.0);
/// Compressed delta: DELTA | COMPRESSED | SYNC (0x13).
const COMPRESSED_DELTA: FrameFlags =
    FrameFlags(FrameFlags::DELTA.0 | FrameFlags::COMPRESSED.0 | FrameFlags::SYNC.0);
/// Raw delta: DELTA | SYNC (0x11).
const RAW_DELTA: FrameFlags = FrameFlags(FrameFlags::DELTA.0 | FrameFlags::SYNC.0);

const UNIQUE_ID: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

fn auth<'a>(
    flags: u8,
    user: &'a str,
    device_nr: u32,
    unique_id: Option<&'a [u8]>,
    network: &'a str,
    password: &'a str,
) -> SystemMessage<'a> {
    SystemMessage {
        body: SystemBody::Authentication(Authentication {
            flags: AuthFlags(flags),
            user,
            device_nr,
            unique_id,
            network,
            password,
        }),
    }
}

/// A memory-block-info message with device and network name "cafenet".
fn mbinfo<'a>(
    info: u8,
    device_nr: u32,
    size: u32,
    block_flags: u32,
    device: &'a str,
    block: &'a str,
) -> SystemMessage<'a> {
    SystemMessage {
        body: SystemBody::MemoryBlockInfo(MemoryBlockInfo {
            info: InfoFlags(info),
            device_nr,
            size,
            block_flags,
            device_name: Some(device),
            network: Some("cafenet"),
            block_name: Some(block),
        }),
    }
}

/// A serial frame given with `00 00` in the CRC slot, with its CRC-16/MODBUS filled in
/// (the CRC function itself is checked against the reference vectors in `support.rs`).
fn with_crc(h: &str) -> String {
    let mut b = hex(h);
    let crc = ferrocom_wire::codec::crc16_modbus(&b);
    b[1..3].copy_from_slice(&crc.to_le_bytes());
    spaced(&b)
}

fn zeros(n: usize) -> Vec<u8> {
    vec![0; n]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------------------------------
// IOCOM §22.2: handshake, TLS mark, certificate answer, ACKs, serial link

fn iocom_handshake_ack_link(t: &mut Table) {
    canonical!(
        t,
        "iocom ClientHandshake client, network cafenet (22.2)",
        ClientHandshake<'_>,
        ClientHandshake {
            client_type: ClientType {
                cert_request: false,
                has_network: true,
                role: 0x13
            },
            network: Some("cafenet"),
        },
        "53 08 63 61 66 65 6E 65 74 00"
    );
    canonical!(
        t,
        "iocom ClientHandshake client, no network (22.2)",
        ClientHandshake<'_>,
        ClientHandshake {
            client_type: ClientType {
                cert_request: false,
                has_network: false,
                role: 0x13
            },
            network: None,
        },
        "13"
    );
    canonical!(
        t,
        "iocom ClientHandshake switchbox service (22.2)",
        ClientHandshake<'_>,
        ClientHandshake {
            client_type: ClientType {
                cert_request: false,
                has_network: true,
                role: 0x12
            },
            network: Some("cafenet"),
        },
        "52 08 63 61 66 65 6E 65 74 00"
    );
    canonical!(
        t,
        "iocom ClientHandshake certificate request (8.1)",
        ClientHandshake<'_>,
        ClientHandshake {
            client_type: ClientType {
                cert_request: true,
                has_network: true,
                role: 0x13
            },
            network: Some("cafenet"),
        },
        "D3 08 63 61 66 65 6E 65 74 00"
    );
    canonical!(t, "iocom TlsMark (22.2)", TlsMark, TlsMark {}, "5B");
    canonical!(
        t,
        "iocom CertificateAnswer none (8.1)",
        CertificateAnswer<'_>,
        CertificateAnswer { certificate: &[] },
        "00 00"
    );
    canonical!(
        t,
        "iocom CertificateAnswer 4 bytes (8.1)",
        CertificateAnswer<'_>,
        CertificateAnswer {
            certificate: &[0x30, 0x82, 0x01, 0x0A]
        },
        "04 00 30 82 01 0A"
    );
    for (name, count, bytes) in [
        (
            "iocom SocketItem ACK first, device (22.2)",
            0,
            "FF 00 00 00",
        ),
        (
            "iocom SocketItem ACK first, server (22.2)",
            4,
            "FF 04 00 00",
        ),
        ("iocom SocketItem ACK 1453 (22.2)", 1453, "FF AD 05 00"),
        (
            "iocom SocketItem ACK 2^24-1 (6.1)",
            0xFF_FFFF,
            "FF FF FF FF",
        ),
    ] {
        canonical!(
            t,
            name,
            SocketItem<'_>,
            SocketItem {
                body: SocketBody::Ack(SocketAck { count })
            },
            bytes
        );
    }
    for (name, count, bytes) in [
        ("iocom SerialItem ACK first, server (22.2)", 0, "FF 00 00"),
        (
            "iocom SerialItem ACK first, device (22.2)",
            0x1C,
            "FF 1C 00",
        ),
        ("iocom SerialItem ACK 486 (22.2)", 486, "FF E6 01"),
    ] {
        canonical!(
            t,
            name,
            SerialItem<'_>,
            SerialItem {
                body: SerialBody::Ack(SerialAck { count })
            },
            bytes
        );
    }
    for (name, body, bytes) in [
        (
            "iocom SerialItem DISCONNECT (22.2)",
            SerialBody::Disconnect,
            "F9",
        ),
        ("iocom SerialItem CONNECT (22.2)", SerialBody::Connect, "FD"),
        (
            "iocom SerialItem CONNECT_REPLY (22.2)",
            SerialBody::ConnectReply,
            "FC",
        ),
        ("iocom SerialItem CONFIRM (22.2)", SerialBody::Confirm, "FB"),
        (
            "iocom SerialItem CONFIRM_REPLY (22.2)",
            SerialBody::ConfirmReply,
            "FA",
        ),
    ] {
        canonical!(t, name, SerialItem<'_>, SerialItem { body }, bytes);
    }
}

#[test]
fn iocom_handshake_ack_and_serial_link() {
    iocom_handshake_ack_link(&mut Table::default());
}

// ---------------------------------------------------------------------------------------
// IOCOM §22.3 / §9.2: authentication frames

/// The content (a system message) and the whole frame around it.
fn auth_socket(t: &mut Table, name: &str, msg: SystemMessage<'_>, content: &str, frame: &str) {
    let data = canonical!(
        t,
        &format!("{name}: content"),
        SystemMessage<'_>,
        msg,
        content
    );
    // MBLK_ID = the sender's frame size 1392 (2 bytes, so FLAGS SYSTEM | MBLK_2 = 0x28).
    canonical!(
        t,
        &format!("{name}: frame"),
        SocketItem<'_>,
        socket(0, SYSTEM_MBLK_2, 1392, 0, &data),
        frame
    );
}

fn iocom_authentication(t: &mut Table) {
    // §22.3 derived.
    auth_socket(
        t,
        "iocom auth frank nr 1 listener TCP (22.3)",
        auth(0x00, "frank", 1, None, "cafenet", ""),
        "02 00 05 66 72 61 6E 6B 01 07 63 61 66 65 6E 65 74 00",
        "00 28 12 00 70 05 00 | 02 00 05 66 72 61 6E 6B 01 07 63 61 66 65 6E 65 74 00",
    );
    auth_socket(
        t,
        "iocom auth gina nr 1 connect-up TCP (22.3)",
        auth(0x10, "gina", 1, None, "cafenet", ""),
        "02 10 04 67 69 6E 61 01 07 63 61 66 65 6E 65 74 00",
        "00 28 11 00 70 05 00 | 02 10 04 67 69 6E 61 01 07 63 61 66 65 6E 65 74 00",
    );
    auth_socket(
        t,
        "iocom auth gina auto nr TLS unique id password (22.3)",
        auth(0x12, "gina", 0, Some(&UNIQUE_ID), "cafenet", "pass"),
        "02 12 04 67 69 6E 61 00 01 02 03 04 05 06 07 08 09 0A 0B 0C
         07 63 61 66 65 6E 65 74 04 70 61 73 73",
        "00 28 21 00 70 05 00 | 02 12 04 67 69 6E 61 00 01 02 03 04 05 06 07 08 09 0A 0B 0C
                                07 63 61 66 65 6E 65 74 04 70 61 73 73",
    );
    // Serial, 2-byte device number 300, frame size 96 in a 1-byte MBLK_ID, CRC 0xDF44.
    let data = canonical!(
        t,
        "iocom auth gina nr 300 serial (22.3): content",
        SystemMessage<'_>,
        auth(0x30, "gina", 300, None, "cafenet", ""),
        "02 30 04 67 69 6E 61 2C 01 07 63 61 66 65 6E 65 74 00"
    );
    canonical!(
        t,
        "iocom auth gina nr 300 serial (22.3): frame",
        SerialItem<'_>,
        serial(0, SYSTEM, 96, 0, &data),
        "00 44 DF 20 12 60 00 | 02 30 04 67 69 6E 61 2C 01 07 63 61 66 65 6E 65 74 00"
    );
    // Switchbox service authentication: frame size field 0, no MBLK_2.
    let data = canonical!(
        t,
        "iocom auth switchbox service srv (22.3): content",
        SystemMessage<'_>,
        auth(0x02, "srv", 0, Some(&UNIQUE_ID), "sb", ""),
        "02 02 03 73 72 76 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 02 73 62 00"
    );
    canonical!(
        t,
        "iocom auth switchbox service srv (22.3): frame",
        SocketItem<'_>,
        socket(0, SYSTEM, 0, 0, &data),
        "00 20 17 00 00 00 | 02 02 03 73 72 76 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 02 73 62 00"
    );

    // §9.2 captured.
    auth_socket(
        t,
        "iocom auth frank TCP captured (9.2)",
        auth(0x00, "frank", 0, None, "cafenet", ""),
        "02 00 05 66 72 61 6E 6B 00 07 63 61 66 65 6E 65 74 00",
        "00 28 12 00 70 05 00 | 02 00 05 66 72 61 6E 6B 00 07 63 61 66 65 6E 65 74 00",
    );
    auth_socket(
        t,
        "iocom auth pyserver TCP captured (9.2)",
        auth(0x00, "pyserver", 1, None, "cafenet", ""),
        "02 00 08 70 79 73 65 72 76 65 72 01 07 63 61 66 65 6E 65 74 00",
        "00 28 15 00 70 05 00 | 02 00 08 70 79 73 65 72 76 65 72 01 07 63 61 66 65 6E 65 74 00",
    );
    let gina_uid = hex("30 5F 9D A8 D5 D3 C8 16 00 EC 06 A4");
    auth_socket(
        t,
        "iocom auth gina TCP captured (9.2)",
        auth(0x12, "gina", 0, Some(&gina_uid), "cafenet", ""),
        "02 12 04 67 69 6E 61 00 30 5F 9D A8 D5 D3 C8 16 00 EC 06 A4 07 63 61 66 65 6E 65 74 00",
        "00 28 1D 00 70 05 00 | 02 12 04 67 69 6E 61 00 30 5F 9D A8 D5 D3 C8 16 00 EC 06 A4
                                07 63 61 66 65 6E 65 74 00",
    );
    let data = canonical!(
        t,
        "iocom auth frank serial captured (9.2): content",
        SystemMessage<'_>,
        auth(0x00, "frank", 0, None, "cafenet", ""),
        "02 00 05 66 72 61 6E 6B 00 07 63 61 66 65 6E 65 74 00"
    );
    canonical!(
        t,
        "iocom auth frank serial captured (9.2): frame",
        SerialItem<'_>,
        serial(0, SYSTEM, 96, 0, &data),
        "00 55 30 20 12 60 00 | 02 00 05 66 72 61 6E 6B 00 07 63 61 66 65 6E 65 74 00"
    );
    let data = canonical!(
        t,
        "iocom auth gina serial captured (9.2): content",
        SystemMessage<'_>,
        auth(0x10, "gina", 0, None, "cafenet", ""),
        "02 10 04 67 69 6E 61 00 07 63 61 66 65 6E 65 74 00"
    );
    canonical!(
        t,
        "iocom auth gina serial captured (9.2): frame",
        SerialItem<'_>,
        serial(0, SYSTEM, 96, 0, &data),
        "00 83 E6 20 11 60 00 | 02 10 04 67 69 6E 61 00 07 63 61 66 65 6E 65 74 00"
    );
    // The record alone (without the system message type byte).
    canonical!(
        t,
        "iocom Authentication record, 4-byte device nr",
        Authentication<'_>,
        Authentication {
            flags: AuthFlags::DEVICE_NR_4 | AuthFlags::CONNECT_UP | AuthFlags::BIDIRECTIONAL,
            user: "gina",
            device_nr: 0x0001_0000,
            unique_id: None,
            network: "cafenet",
            password: "",
        },
        "D0 04 67 69 6E 61 00 00 01 00 07 63 61 66 65 6E 65 74 00"
    );
}

#[test]
fn iocom_authentication_frames() {
    iocom_authentication(&mut Table::default());
}

// ---------------------------------------------------------------------------------------
// IOCOM §22.4 / §10.2: memory block info

fn iocom_mbinfo(t: &mut Table) {
    // (name, frame nr, sender's block id, message, content, socket frame)
    let cases = [
        (
            "iocom mbinfo gina1 exp derived (22.4)",
            1,
            8,
            mbinfo(0xC0, 1, 24, 0x0A, "gina", "exp"),
            "01 C0 01 18 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 65 78 70",
            "01 20 16 00 08 00 | 01 C0 01 18 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 65 78 70",
        ),
        (
            "iocom mbinfo gina exp captured (10.2)",
            1,
            8,
            mbinfo(0xC2, 9000, 44, 0x0A, "gina", "exp"),
            "01 C2 28 23 2C 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 65 78 70",
            "01 20 17 00 08 00 | 01 C2 28 23 2C 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 65 78 70",
        ),
        (
            "iocom mbinfo gina dexp captured (10.2)",
            3,
            10,
            mbinfo(0xCA, 9000, 8205, 0x0A, "gina", "dexp"),
            "01 CA 28 23 0D 20 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 04 64 65 78 70",
            "03 20 19 00 0A 00 | 01 CA 28 23 0D 20 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 04 64 65 78 70",
        ),
        (
            "iocom mbinfo gina info captured (10.2)",
            7,
            14,
            mbinfo(0xCA, 9000, 1060, 0x42, "gina", "info"),
            "01 CA 28 23 24 04 42 04 67 69 6E 61 07 63 61 66 65 6E 65 74 04 69 6E 66 6F",
            "07 20 19 00 0E 00 | 01 CA 28 23 24 04 42 04 67 69 6E 61 07 63 61 66 65 6E 65 74 04 69 6E 66 6F",
        ),
        (
            "iocom mbinfo frank imp reply captured (10.2)",
            1,
            24,
            mbinfo(0xC2, 8999, 24, 0x39, "gina", "imp"),
            "01 C2 27 23 18 39 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 69 6D 70",
            "01 20 17 00 18 00 | 01 C2 27 23 18 39 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 69 6D 70",
        ),
        (
            "iocom mbinfo frank info reply captured (10.2)",
            7,
            29,
            mbinfo(0xCA, 8999, 1060, 0x3A, "gina", "info"),
            "01 CA 27 23 24 04 3A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 04 69 6E 66 6F",
            "07 20 19 00 1D 00 | 01 CA 27 23 24 04 3A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 04 69 6E 66 6F",
        ),
    ];
    for (name, nr, id, msg, content, frame) in cases {
        let data = canonical!(
            t,
            &format!("{name}: content"),
            SystemMessage<'_>,
            msg,
            content
        );
        canonical!(
            t,
            &format!("{name}: frame"),
            SocketItem<'_>,
            socket(nr, SYSTEM, id, 0, &data),
            frame
        );
    }
    let data = canonical!(
        t,
        "iocom mbinfo gina exp serial captured (10.2): content",
        SystemMessage<'_>,
        mbinfo(0xC2, 9000, 44, 0x0A, "gina", "exp"),
        "01 C2 28 23 2C 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 65 78 70"
    );
    canonical!(
        t,
        "iocom mbinfo gina exp serial captured (10.2): frame",
        SerialItem<'_>,
        serial(1, SYSTEM, 8, 0, &data),
        "01 DF 5C 20 17 08 00 | 01 C2 28 23 2C 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 65 78 70"
    );
    // The record alone: no names, 4-byte device number and size, 2-byte block flags.
    canonical!(
        t,
        "iocom MemoryBlockInfo record, no names, wide fields",
        MemoryBlockInfo<'_>,
        MemoryBlockInfo {
            info: InfoFlags::D_4BYTES | InfoFlags::N_4BYTES | InfoFlags::F_2BYTES,
            device_nr: 70_000,
            size: 0x0102_0304,
            block_flags: 0x0102,
            device_name: None,
            network: None,
            block_name: None,
        },
        "34 70 11 01 00 04 03 02 01 02 01"
    );
}

#[test]
fn iocom_memory_block_info() {
    iocom_mbinfo(&mut Table::default());
}

// ---------------------------------------------------------------------------------------
// IOCOM §22.5 / §11.6: data frames, remove request

fn iocom_data_frames(t: &mut Table) {
    // Block exp (24 bytes): short "temp" @0 = 250 (state 03), boolean "on" @3 = true.
    let exp = cat(&[&[0x03, 0xFA, 0x00, 0x03], &zeros(20)]);
    canonical!(
        t,
        "iocom data key frame compressed (22.5)",
        SocketItem<'_>,
        socket(3, KEY, 12, 0, &exp),
        "03 12 06 00 0C 00 | 04 03 FA 00 03 14"
    );
    canonical!(
        t,
        "iocom data raw delta (22.5)",
        SocketItem<'_>,
        socket(4, RAW_DELTA, 12, 1, &[0x01]),
        "04 11 01 00 0C 01 | 01"
    );
    canonical!(
        t,
        "iocom data key frame compressed, serial (22.5)",
        SerialItem<'_>,
        serial(3, KEY, 12, 0, &exp),
        "03 F8 21 12 06 0C 00 | 04 03 FA 00 03 14"
    );
    canonical!(
        t,
        "iocom data raw delta, serial (22.5)",
        SerialItem<'_>,
        serial(4, RAW_DELTA, 12, 1, &[0x01]),
        "04 BC 54 11 01 0C 01 | 01"
    );
    canonical!(
        t,
        "iocom header mblk 70000 (4 bytes) addr 300 (2 bytes) (22.5)",
        SocketItem<'_>,
        SocketItem {
            body: SocketBody::Numbered(SocketFrame {
                nr: 5,
                flags: FrameFlags::EXTRA | FrameFlags::ADDR_2,
                extra: Some(ExtraFlags::MARK | ExtraFlags::MBLK_4),
                mblk: 70_000,
                addr: 300,
                data: Cow::Borrowed(&[]),
            }),
        },
        "05 84 00 00 82 70 11 01 00 2C 01"
    );
    canonical!(
        t,
        "iocom header mblk 70000 addr 70000 (4 bytes each), serial (4.3)",
        SerialItem<'_>,
        SerialItem {
            body: SerialBody::Numbered(SerialFrame {
                nr: 200,
                flags: FrameFlags::EXTRA,
                extra: Some(ExtraFlags::MARK | ExtraFlags::MBLK_4 | ExtraFlags::ADDR_4),
                mblk: 70_000,
                addr: 70_000,
                data: Cow::Borrowed(&[0xAB]),
            }),
        },
        &with_crc("C8 00 00 80 01 83 70 11 01 00 70 11 01 00 AB")
    );

    // §11.6 worked examples (captured).
    canonical!(
        t,
        "iocom data frank key frame imp, 24 zeros (11.6)",
        SocketItem<'_>,
        socket(8, KEY, 9, 0, &zeros(24)),
        "08 12 02 00 09 00 | 00 18"
    );
    canonical!(
        t,
        "iocom data frank key frame imp, serial (11.6)",
        SerialItem<'_>,
        serial(6, KEY, 9, 0, &zeros(24)),
        "06 58 74 12 02 09 00 | 00 18"
    );
    canonical!(
        t,
        "iocom data frank key frame conf_imp, 279 zeros (11.6)",
        SocketItem<'_>,
        socket(10, KEY, 13, 0, &zeros(279)),
        "0A 12 04 00 0D 00 | 00 FF 00 18"
    );
    let dexp = format!("09 12 42 00 19 00 | {} 00 2D", "00 FF ".repeat(32));
    canonical!(
        t,
        "iocom data gina key frame dexp, 8205 zeros (11.6)",
        SocketItem<'_>,
        socket(9, KEY, 25, 0, &zeros(8205)),
        &dexp
    );
    let exp44 = cat(&[
        &zeros(5),
        &[
            0x02, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00,
        ],
        &[0x00, 0x00, 0x00, 0x80, 0x40, 0x00, 0x00, 0xA0, 0x40],
        &[0x02],
        b"gabriel",
        &[0x00, 0x00, 0x00],
        &[0x00],
        &[0x02],
        &[0x03, 0x00, 0x8C, 0x22, 0x47],
    ]);
    assert_eq!(exp44.len(), 44);
    canonical!(
        t,
        "iocom data gina key frame exp, 44 bytes (11.6)",
        SocketItem<'_>,
        socket(8, KEY, 23, 0, &exp44),
        "08 12 23 00 17 00 | 00 05 01 02 02 02 80 3F 03 01 40 06 02 80 40 02
         0A A0 40 02 67 61 62 72 69 65 6C 04 06 02 03 00 8C 22 47"
    );
    let delta36 = cat(&[
        &[0x80, 0x01],
        &zeros(6),
        &[0x80, 0x3F],
        &zeros(23),
        &[0xE4, 0x70, 0xFF],
    ]);
    canonical!(
        t,
        "iocom data gina compressed delta exp @8 (11.6)",
        SocketItem<'_>,
        socket(12, COMPRESSED_DELTA, 23, 8, &delta36),
        "0C 13 0C 00 17 08 | 02 80 01 06 02 80 3F 17 03 E4 70 FF"
    );
    canonical!(
        t,
        "iocom data gina raw delta exp @38 (11.6)",
        SocketItem<'_>,
        socket(13, RAW_DELTA, 23, 38, &hex("01 00 00 B9 E7 01")),
        "0D 11 06 00 17 26 | 01 00 00 B9 E7 01"
    );
    let hello1 = cat(&[&[0x02], b"hello1", &zeros(12), &[0x03, 0x0A, 0x00, 0x03]]);
    canonical!(
        t,
        "iocom data pyserver compressed delta imp @0 (11.6)",
        SocketItem<'_>,
        socket(11, COMPRESSED_DELTA, 9, 0, &hello1),
        "0B 13 0E 00 09 00 | 07 02 68 65 6C 6C 6F 31 0C 04 03 0A 00 03"
    );
    let hello2 = cat(&[&[0x01], &zeros(13), &[0x0A, 0x00, 0xFF]]);
    canonical!(
        t,
        "iocom data pyserver compressed delta imp @6 (11.6)",
        SocketItem<'_>,
        socket(12, COMPRESSED_DELTA, 9, 6, &hello2),
        "0C 13 07 00 09 06 | 01 01 0D 03 0A 00 FF"
    );
    let serial_delta = cat(&[
        &[0x80, 0x01],
        &zeros(6),
        &[0x80, 0x3F],
        &zeros(23),
        &[0x41, 0x3A, 0x01],
    ]);
    canonical!(
        t,
        "iocom data compressed delta, serial (11.6)",
        SerialItem<'_>,
        serial(17, COMPRESSED_DELTA, 23, 8, &serial_delta),
        "11 4C 31 13 0C 17 08 | 02 80 01 06 02 80 3F 17 03 41 3A 01"
    );
}

#[test]
fn iocom_data_frames_and_worked_examples() {
    iocom_data_frames(&mut Table::default());
}

fn iocom_remove_request(t: &mut Table) {
    let data = canonical!(
        t,
        "iocom remove request ids 8, 300 (22.5): content",
        SystemMessage<'_>,
        SystemMessage {
            body: SystemBody::RemoveRequest(RemoveRequest { ids: vec![8, 300] })
        },
        "03 10 01 14 25"
    );
    canonical!(
        t,
        "iocom remove request ids 8, 300 (22.5): frame",
        SocketItem<'_>,
        socket(5, SYSTEM, 2, 0, &data),
        "05 20 05 00 02 00 | 03 10 01 14 25"
    );
    canonical!(
        t,
        "iocom RemoveRequest record, ids -300 477 (15.1)",
        RemoveRequest,
        RemoveRequest {
            ids: vec![-300, 477]
        },
        "1C 25 15 3B"
    );
    // An unknown system message type is kept verbatim (10.4).
    canonical!(
        t,
        "iocom SystemMessage unknown type 07 (10.4)",
        SystemMessage<'_>,
        SystemMessage {
            body: SystemBody::Unknown(UnknownSystem {
                kind: 7,
                data: &[0xAA, 0xBB]
            })
        },
        "07 AA BB"
    );
}

#[test]
fn iocom_remove_request_and_unknown_system_message() {
    iocom_remove_request(&mut Table::default());
}

/// The encoder does not pick widths: the flags say how wide MBLK_ID, ADDR and the device
/// number are, and a value that does not fit is refused with the field named.
#[test]
fn iocom_inconsistent_widths_are_refused() {
    let item = socket(0, SYSTEM, 1392, 0, &[]);
    let mut out = vec![0xEE];
    let e = item.encode(&mut out).unwrap_err();
    assert_eq!((e.item(), e.field()), ("SocketFrame", "mblk"), "{e}");
    assert!(
        matches!(e.kind, EncodeErrorKind::OutOfRange { value: 1392, .. }),
        "{e}"
    );
    assert_eq!(out, [0xEE], "nothing appended on error");
    assert!(e.to_string().contains("iocom::SocketFrame.mblk"), "{e}");

    let msg = auth(0x00, "gina", 300, None, "cafenet", "");
    let e = msg.encode(&mut Vec::new()).unwrap_err();
    assert_eq!(
        (e.item(), e.field()),
        ("Authentication", "device_nr"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Switchbox §22.6

fn switchbox_messages(t: &mut Table) {
    canonical!(
        t,
        "switchbox NEW_CONNECTION client 1 (22.6)",
        Message<'_>,
        Message {
            client: 1,
            body: MessageBody::NewConnection
        },
        "01 00 FF FF FF FF"
    );
    let data: Vec<u8> = (1..=24).collect();
    let expected = format!("01 00 18 00 00 00 | {}", spaced(&data));
    canonical!(
        t,
        "switchbox Data 24 bytes client 1 (22.6)",
        Message<'_>,
        Message {
            client: 1,
            body: MessageBody::Data(&data)
        },
        &expected
    );
    canonical!(
        t,
        "switchbox CONNECTION_DROPPED client 1 (22.6)",
        Message<'_>,
        Message {
            client: 1,
            body: MessageBody::ConnectionDropped
        },
        "01 00 FE FF FF FF"
    );
    canonical!(
        t,
        "switchbox KEEPALIVE (22.6)",
        Message<'_>,
        Message {
            client: 0,
            body: MessageBody::KeepAlive
        },
        "00 00 FD FF FF FF"
    );
    // A client's raw IOCOM stream inside Data: its first ACK, client 65535.
    canonical!(
        t,
        "switchbox Data carrying an IOCOM ACK, client 65535 (17)",
        Message<'_>,
        Message {
            client: 0xFFFF,
            body: MessageBody::Data(&[0xFF, 0x04, 0x00, 0x00])
        },
        "FF FF 04 00 00 00 | FF 04 00 00"
    );
}

#[test]
fn switchbox_reference_messages() {
    switchbox_messages(&mut Table::default());
}

/// A Data message cannot be empty: code 0 is reserved (SWB-17-7).
#[test]
fn switchbox_empty_data_is_refused() {
    let m = Message {
        client: 1,
        body: MessageBody::Data(&[]),
    };
    let e = m.encode(&mut Vec::new()).unwrap_err();
    assert_eq!(e.protocol(), "switchbox", "{e}");
}

// ---------------------------------------------------------------------------------------
// MQTT 3.1.1: the 14 control packets (expected bytes from the standard, by hand)

fn publish<'a>(
    dup: bool,
    qos: u8,
    retain: bool,
    topic: &'a str,
    packet_id: Option<u16>,
    payload: &'a [u8],
) -> Packet<'a> {
    Packet {
        body: PacketBody::Publish(Publish {
            header: PublishHeader { dup, qos, retain },
            topic,
            packet_id,
            payload,
        }),
    }
}

fn mqtt_packets(t: &mut Table) {
    // 3.1 CONNECT: protocol name 00 04 "MQTT", level 4, flags, keep alive, payload in the
    // order client id, will topic, will message, user name, password.
    canonical!(
        t,
        "mqtt CONNECT will QoS1 retain, user, password, clean (3.1)",
        Packet<'_>,
        Packet {
            body: PacketBody::Connect(Connect {
                level: 4,
                flags: ConnectFlags {
                    username: true,
                    password: true,
                    will_retain: true,
                    will_qos: 1,
                    will: true,
                    clean_session: true,
                },
                keep_alive: 60,
                client_id: "ferrocom",
                will_topic: Some("status/dev1"),
                will_message: Some(b"offline"),
                username: Some("user"),
                password: Some(b"pass"),
            }),
        },
        "10 36 | 00 04 4D 51 54 54 04 EE 00 3C
         00 08 66 65 72 72 6F 63 6F 6D
         00 0B 73 74 61 74 75 73 2F 64 65 76 31
         00 07 6F 66 66 6C 69 6E 65
         00 04 75 73 65 72
         00 04 70 61 73 73"
    );
    canonical!(
        t,
        "mqtt CONNECT minimal, empty client id, clean (3.1)",
        Packet<'_>,
        Packet {
            body: PacketBody::Connect(Connect {
                level: 4,
                flags: ConnectFlags {
                    clean_session: true,
                    ..ConnectFlags::default()
                },
                keep_alive: 0,
                client_id: "",
                will_topic: None,
                will_message: None,
                username: None,
                password: None,
            }),
        },
        "10 0C | 00 04 4D 51 54 54 04 02 00 00 00 00"
    );
    canonical!(
        t,
        "mqtt CONNACK session present, accepted (3.2)",
        Packet<'_>,
        Packet {
            body: PacketBody::Connack(Connack {
                flags: ConnackFlags {
                    session_present: true
                },
                return_code: ConnectReturnCode::ACCEPTED,
            }),
        },
        "20 02 01 00"
    );
    canonical!(
        t,
        "mqtt CONNACK not authorized (3.2)",
        Packet<'_>,
        Packet {
            body: PacketBody::Connack(Connack {
                flags: ConnackFlags {
                    session_present: false
                },
                return_code: ConnectReturnCode::NOT_AUTHORIZED,
            }),
        },
        "20 02 00 05"
    );
    canonical!(
        t,
        "mqtt PUBLISH QoS0 (3.3)",
        Packet<'_>,
        publish(false, 0, false, "a/b", None, b"hi"),
        "30 07 | 00 03 61 2F 62 | 68 69"
    );
    canonical!(
        t,
        "mqtt PUBLISH QoS1 retain (3.3)",
        Packet<'_>,
        publish(false, 1, true, "a/b", Some(10), b"hi"),
        "33 09 | 00 03 61 2F 62 00 0A | 68 69"
    );
    canonical!(
        t,
        "mqtt PUBLISH QoS2 dup (3.3)",
        Packet<'_>,
        publish(true, 2, false, "a/b", Some(0x1234), b"hi"),
        "3C 09 | 00 03 61 2F 62 12 34 | 68 69"
    );
    canonical!(
        t,
        "mqtt PUBLISH QoS0 retain, empty payload (3.3)",
        Packet<'_>,
        publish(false, 0, true, "a/b", None, b""),
        "31 05 | 00 03 61 2F 62"
    );
    // Remaining length 128: the first two-byte varint (80 01).
    let payload = [0x78u8; 123];
    let expected = format!("30 80 01 | 00 03 61 2F 62 | {}", spaced(&payload));
    canonical!(
        t,
        "mqtt PUBLISH remaining length 128 (2.2.3)",
        Packet<'_>,
        publish(false, 0, false, "a/b", None, &payload),
        &expected
    );
    canonical!(
        t,
        "mqtt PUBACK (3.4)",
        Packet<'_>,
        Packet {
            body: PacketBody::Puback(PacketId { id: 10 })
        },
        "40 02 00 0A"
    );
    canonical!(
        t,
        "mqtt PUBREC (3.5)",
        Packet<'_>,
        Packet {
            body: PacketBody::Pubrec(PacketId { id: 0x1234 })
        },
        "50 02 12 34"
    );
    canonical!(
        t,
        "mqtt PUBREL (3.6)",
        Packet<'_>,
        Packet {
            body: PacketBody::Pubrel(PacketId { id: 0x1234 })
        },
        "62 02 12 34"
    );
    canonical!(
        t,
        "mqtt PUBCOMP (3.7)",
        Packet<'_>,
        Packet {
            body: PacketBody::Pubcomp(PacketId { id: 0x1234 })
        },
        "70 02 12 34"
    );
    canonical!(
        t,
        "mqtt SUBSCRIBE 2 filters (3.8)",
        Packet<'_>,
        Packet {
            body: PacketBody::Subscribe(Subscribe {
                packet_id: 1,
                filters: vec![
                    Subscription {
                        topic: "a/+",
                        qos: 1
                    },
                    Subscription {
                        topic: "b/#",
                        qos: 2
                    },
                ],
            }),
        },
        "82 0E | 00 01 | 00 03 61 2F 2B 01 | 00 03 62 2F 23 02"
    );
    canonical!(
        t,
        "mqtt SUBACK QoS1 and failure 0x80 (3.9)",
        Packet<'_>,
        Packet {
            body: PacketBody::Suback(Suback {
                packet_id: 1,
                return_codes: vec![SubAckCode::SUCCESS_QOS1, SubAckCode::FAILURE],
            }),
        },
        "90 04 | 00 01 | 01 80"
    );
    canonical!(
        t,
        "mqtt UNSUBSCRIBE 2 filters (3.10)",
        Packet<'_>,
        Packet {
            body: PacketBody::Unsubscribe(Unsubscribe {
                packet_id: 2,
                filters: vec!["a/+", "b/#"]
            }),
        },
        "A2 0C | 00 02 | 00 03 61 2F 2B | 00 03 62 2F 23"
    );
    canonical!(
        t,
        "mqtt UNSUBACK (3.11)",
        Packet<'_>,
        Packet {
            body: PacketBody::Unsuback(PacketId { id: 2 })
        },
        "B0 02 00 02"
    );
    canonical!(
        t,
        "mqtt PINGREQ (3.12)",
        Packet<'_>,
        Packet {
            body: PacketBody::Pingreq
        },
        "C0 00"
    );
    canonical!(
        t,
        "mqtt PINGRESP (3.13)",
        Packet<'_>,
        Packet {
            body: PacketBody::Pingresp
        },
        "D0 00"
    );
    canonical!(
        t,
        "mqtt DISCONNECT (3.14)",
        Packet<'_>,
        Packet {
            body: PacketBody::Disconnect
        },
        "E0 00"
    );
}

#[test]
fn mqtt_all_fourteen_packets() {
    mqtt_packets(&mut Table::default());
}

/// Values the standard forbids are refused by the encoder too, naming the field.
#[test]
fn mqtt_encoder_refuses_what_the_decoder_rejects() {
    let mut out = Vec::new();
    let e = publish(false, 1, false, "a", Some(0), b"")
        .encode(&mut out)
        .unwrap_err();
    assert_eq!((e.item(), e.field()), ("Publish", "packet_id"), "{e}");
    assert_eq!(e.clause(), Some("MQTT-2.3.1-1"), "{e}");
    assert!(out.is_empty());
    let e = Packet {
        body: PacketBody::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![],
        }),
    }
    .encode(&mut out)
    .unwrap_err();
    assert_eq!((e.item(), e.field()), ("Subscribe", "filters"), "{e}");
    assert_eq!(e.clause(), Some("MQTT-3.8.3-3"), "{e}");
    assert!(
        e.to_string()
            .starts_with("cannot encode mqtt311::Subscribe.filters: value 0 violates"),
        "{e}"
    );
    assert!(out.is_empty());
}

/// Regression (a bug found writing these tests): a `bits` value used as a union tag
/// (`0x30..=0x3F => Publish(Publish(header)) = self.header`) is written without the
/// `where` checks of its bit fields, so QoS 3 encodes to `36 05 00 01 61 00 01`, which
/// the same codec then rejects ([MQTT-3.3.1-4]).
#[test]
fn mqtt_encoder_refuses_publish_qos_3() {
    let mut out = Vec::new();
    let r = publish(false, 3, false, "a", Some(1), b"").encode(&mut out);
    let e = r.expect_err("PUBLISH with QoS 3 must not encode");
    assert_eq!((e.item(), e.field()), ("PublishHeader", "qos"), "{e}");
    assert_eq!(e.clause(), Some("MQTT-3.3.1-4"), "{e}");
    assert!(out.is_empty());
}

// ---------------------------------------------------------------------------------------
// The table of every message type of every spec

#[test]
fn canonical_table() {
    let mut t = Table::default();
    iocom_handshake_ack_link(&mut t);
    iocom_authentication(&mut t);
    iocom_mbinfo(&mut t);
    iocom_data_frames(&mut t);
    iocom_remove_request(&mut t);
    switchbox_messages(&mut t);
    mqtt_packets(&mut t);
    // Every packet type of MQTT (1..=14) appears.
    let kinds: std::collections::BTreeSet<u8> =
        t.0.iter()
            .filter(|(n, _)| n.starts_with("mqtt "))
            .map(|(_, h)| u8::from_str_radix(&h[..1], 16).unwrap())
            .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        (1..=14).collect::<Vec<u8>>()
    );
    insta::assert_snapshot!(t.render());
}
