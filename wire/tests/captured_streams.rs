//! Every frame of every captured IOCOM stream (../shared/vectors/iocom/) decodes with the
//! generated codec to the fields listed in the matching .jsonl, re-encodes to the same
//! bytes, and each stream parses end to end with no byte left over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{
    ClientHandshake, FrameFlags, SerialBody, SerialItem, SocketBody, SocketItem, SystemBody,
    SystemMessage,
};
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/iocom")
}

fn load(stream: &str) -> (Vec<u8>, Vec<Value>) {
    let dir = vectors();
    let bin = std::fs::read(dir.join(format!("{stream}.bin")))
        .unwrap_or_else(|e| panic!("{stream}.bin: {e} (is ../shared beside the checkout?)"));
    let lines = std::fs::read_to_string(dir.join(format!("{stream}.jsonl"))).unwrap();
    let items = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (bin, items)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn opt_str(v: &Value) -> Option<&str> {
    v.as_str()
}

/// Numbered-frame header and content common to socket and serial frames.
struct Frame<'a> {
    nr: u8,
    flags: FrameFlags,
    mblk: u64,
    addr: u64,
    data: &'a [u8],
}

fn check_numbered(item: &Value, f: &Frame<'_>, ctx: &str) {
    let h = &item["header"];
    assert_eq!(
        u64::from(f.nr),
        h["frame_nr"].as_u64().unwrap(),
        "{ctx}: frame_nr"
    );
    assert_eq!(
        u64::from(f.flags.0),
        h["flags"].as_u64().unwrap(),
        "{ctx}: flags"
    );
    assert_eq!(
        f.mblk,
        h["mblk_field"].as_u64().unwrap(),
        "{ctx}: mblk field"
    );
    assert_eq!(f.addr, h["addr"].as_u64().unwrap(), "{ctx}: addr");
    let fields = &item["fields"];
    match item["kind"].as_str().unwrap() {
        "system-auth" | "system-mbinfo" => {
            assert!(f.flags.contains(FrameFlags::SYSTEM), "{ctx}: SYSTEM flag");
            let msg = SystemMessage::decode_exact(f.data).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            match &msg.body {
                SystemBody::Authentication(a) => {
                    assert_eq!(item["kind"], "system-auth", "{ctx}");
                    assert_eq!(
                        u64::from(a.flags.0),
                        fields["auth_flags"].as_u64().unwrap(),
                        "{ctx}"
                    );
                    assert_eq!(Some(a.user), opt_str(&fields["user_name"]), "{ctx}: user");
                    assert_eq!(
                        u64::from(a.device_nr),
                        fields["device_nr"].as_u64().unwrap(),
                        "{ctx}"
                    );
                    assert_eq!(
                        a.unique_id.map(hex),
                        fields["unique_id"].as_str().map(String::from),
                        "{ctx}"
                    );
                    assert_eq!(
                        Some(a.network),
                        opt_str(&fields["network_name"]),
                        "{ctx}: network"
                    );
                    assert_eq!(
                        Some(a.password),
                        opt_str(&fields["password"]),
                        "{ctx}: password"
                    );
                    assert_eq!(
                        f.mblk,
                        fields["frame_size"].as_u64().unwrap(),
                        "{ctx}: frame size"
                    );
                }
                SystemBody::MemoryBlockInfo(m) => {
                    assert_eq!(item["kind"], "system-mbinfo", "{ctx}");
                    assert_eq!(
                        u64::from(m.info.0),
                        fields["info_flags"].as_u64().unwrap(),
                        "{ctx}"
                    );
                    assert_eq!(
                        u64::from(m.device_nr),
                        fields["device_nr"].as_u64().unwrap(),
                        "{ctx}"
                    );
                    assert_eq!(u64::from(m.size), fields["size"].as_u64().unwrap(), "{ctx}");
                    assert_eq!(
                        u64::from(m.block_flags),
                        fields["mblk_flags"].as_u64().unwrap(),
                        "{ctx}"
                    );
                    assert_eq!(m.device_name, opt_str(&fields["device_name"]), "{ctx}");
                    assert_eq!(m.network, opt_str(&fields["network_name"]), "{ctx}");
                    assert_eq!(m.block_name, opt_str(&fields["mblk_name"]), "{ctx}");
                    assert_eq!(f.mblk, fields["sender_mblk_id"].as_u64().unwrap(), "{ctx}");
                }
                other => panic!("{ctx}: unexpected system message {other:?}"),
            }
            // System messages re-encode byte for byte too.
            let mut again = Vec::new();
            msg.encode(&mut again).unwrap();
            assert_eq!(again, f.data, "{ctx}: system message re-encoding");
        }
        "data" => {
            assert!(
                !f.flags.contains(FrameFlags::SYSTEM),
                "{ctx}: data frame flagged SYSTEM"
            );
            assert_eq!(
                f.flags.contains(FrameFlags::DELTA),
                fields["delta"].as_bool().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                f.flags.contains(FrameFlags::COMPRESSED),
                fields["compressed"].as_bool().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                f.flags.contains(FrameFlags::SYNC),
                fields["sync_complete"].as_bool().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                hex(f.data),
                fields["decoded_hex"].as_str().unwrap(),
                "{ctx}: content"
            );
        }
        k => panic!("{ctx}: numbered frame of kind {k}"),
    }
}

/// Decodes a whole TCP stream; returns the number of items.
fn socket_stream(stream: &str) -> usize {
    let (bin, items) = load(stream);
    let mut pos = 0;
    for (i, item) in items.iter().enumerate() {
        let ctx = format!("{stream} item {i} at {pos}");
        assert_eq!(
            item["offset"].as_u64().unwrap() as usize,
            pos,
            "{ctx}: offset"
        );
        let len = item["length"].as_u64().unwrap() as usize;
        let rest = &bin[pos..];
        let mut again = Vec::new();
        let consumed = if item["kind"] == "handshake" {
            let Decoded::Complete(h, n) = ClientHandshake::decode(rest).unwrap() else {
                panic!("{ctx}: incomplete handshake")
            };
            assert_eq!(h.network, opt_str(&item["fields"]["network_name"]), "{ctx}");
            assert_eq!(u64::from(h.client_type.role), 0x13, "{ctx}");
            h.encode(&mut again).unwrap();
            n
        } else {
            let Decoded::Complete(it, n) =
                SocketItem::decode(rest).unwrap_or_else(|e| panic!("{ctx}: {e}"))
            else {
                panic!("{ctx}: incomplete")
            };
            match &it.body {
                SocketBody::Ack(a) => {
                    assert_eq!(item["kind"], "ack", "{ctx}");
                    assert_eq!(
                        u64::from(a.count),
                        item["fields"]["received_bytes"].as_u64().unwrap(),
                        "{ctx}"
                    );
                }
                SocketBody::Numbered(f) => check_numbered(
                    item,
                    &Frame {
                        nr: f.nr,
                        flags: f.flags,
                        mblk: u64::from(f.mblk),
                        addr: u64::from(f.addr),
                        data: &f.data,
                    },
                    &ctx,
                ),
            }
            it.encode(&mut again).unwrap();
            n
        };
        assert_eq!(consumed, len, "{ctx}: length");
        assert_eq!(hex(&again), hex(&rest[..len]), "{ctx}: re-encoding");
        pos += len;
    }
    assert_eq!(pos, bin.len(), "{stream}: bytes left over");
    items.len()
}

fn serial_stream(stream: &str) -> usize {
    let (bin, items) = load(stream);
    let mut pos = 0;
    for (i, item) in items.iter().enumerate() {
        let ctx = format!("{stream} item {i} at {pos}");
        let len = item["length"].as_u64().unwrap() as usize;
        let rest = &bin[pos..];
        let Decoded::Complete(it, n) =
            SerialItem::decode(rest).unwrap_or_else(|e| panic!("{ctx}: {e}"))
        else {
            panic!("{ctx}: incomplete")
        };
        assert_eq!(n, len, "{ctx}: length");
        match &it.body {
            SerialBody::Ack(a) => {
                assert_eq!(item["kind"], "ack", "{ctx}");
                assert_eq!(
                    u64::from(a.count),
                    item["fields"]["received_bytes"].as_u64().unwrap(),
                    "{ctx}"
                );
            }
            SerialBody::Numbered(f) => {
                assert_eq!(item["header"]["crc_ok"], true, "{ctx}");
                check_numbered(
                    item,
                    &Frame {
                        nr: f.nr,
                        flags: f.flags,
                        mblk: u64::from(f.mblk),
                        addr: u64::from(f.addr),
                        data: &f.data,
                    },
                    &ctx,
                );
            }
            control => {
                assert_eq!(item["kind"], "serial-control", "{ctx}");
                let name = match control {
                    SerialBody::Disconnect => "DISCONNECT",
                    SerialBody::ConfirmReply => "CONFIRM_REPLY",
                    SerialBody::Confirm => "CONFIRM",
                    SerialBody::ConnectReply => "CONNECT_REPLY",
                    SerialBody::Connect => "CONNECT",
                    _ => unreachable!(),
                };
                assert_eq!(item["fields"]["control"], name, "{ctx}");
            }
        }
        let mut again = Vec::new();
        it.encode(&mut again).unwrap();
        assert_eq!(
            hex(&again),
            hex(&rest[..len]),
            "{ctx}: re-encoding (CRC recomputed)"
        );
        pos += len;
    }
    assert_eq!(pos, bin.len(), "{stream}: bytes left over");
    items.len()
}

#[test]
fn tcp_frank_gina_device_to_server() {
    assert_eq!(
        socket_stream("tcp-frank-gina.device-to-server"),
        1 + 1 + 1 + 7 + 1105
    );
}

#[test]
fn tcp_frank_gina_server_to_device() {
    assert_eq!(
        socket_stream("tcp-frank-gina.server-to-device"),
        31 + 1 + 7 + 3
    );
}

#[test]
fn tcp_pyserver_gina_device_to_server() {
    assert_eq!(
        socket_stream("tcp-pyserver-gina.device-to-server"),
        1 + 2 + 1 + 7 + 603
    );
}

#[test]
fn tcp_pyserver_gina_server_to_device() {
    assert_eq!(
        socket_stream("tcp-pyserver-gina.server-to-device"),
        18 + 1 + 7 + 15
    );
}

#[test]
fn serial_frank_gina_device_to_server() {
    assert_eq!(
        serial_stream("serial-frank-gina.device-to-server"),
        2 + 26 + 1 + 7 + 1016
    );
}

#[test]
fn serial_frank_gina_server_to_device() {
    assert_eq!(
        serial_stream("serial-frank-gina.server-to-device"),
        4 + 333 + 1 + 7 + 3
    );
}

/// A serial frame whose CRC is wrong is rejected with an error naming the checksum field.
#[test]
fn serial_bad_crc_is_named() {
    // Derived vector of the reference (§22.5): frame 3, CRC 0x21F8.
    let good = [
        0x03, 0xF8, 0x21, 0x12, 0x06, 0x0C, 0x00, 0x04, 0x03, 0xFA, 0x00, 0x03, 0x14,
    ];
    assert!(matches!(
        SerialItem::decode(&good),
        Ok(Decoded::Complete(_, 13))
    ));
    let mut bad = good;
    bad[9] ^= 0x01;
    let err = SerialItem::decode(&bad).unwrap_err();
    assert_eq!(err.field(), "checksum");
    assert_eq!(err.offset, 1);
    assert_eq!(err.clause(), Some("IOCOM-4.2-2"));
    assert!(err.to_string().contains("checksum"), "{err}");
}
