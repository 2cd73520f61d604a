//! Malformed input for every spec: truncation, bad constants, rejected tags, bad
//! checksums, oversize lengths, invalid UTF-8, broken constraints. Every error must name
//! the field, the byte offset, the spec clause and what was wrong (`DecodeError` and its
//! `Display`). Ends with "never panics" properties: random bytes and random mutations of
//! valid encodings fed to every decoder (`decode` and `decode_exact`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use std::fmt::Debug;

use ferrocom_wire::codec::{DecodeError, DecodeErrorKind, Decoded};
use ferrocom_wire::{iocom, mqtt311, switchbox};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The error of a streaming decode that must fail.
#[track_caller]
fn stream_err<T: Debug>(r: Result<Decoded<T>, DecodeError>) -> DecodeError {
    match r {
        Err(e) => e,
        Ok(d) => panic!("expected a decode error, got {d:?}"),
    }
}

/// What an error must say.
struct Expect {
    item: &'static str,
    field: &'static str,
    offset: usize,
    clause: Option<&'static str>,
    kind: DecodeErrorKind,
}

/// Checks the fields of `e` and that `Display` names protocol, item, field, offset, kind
/// and clause.
#[track_caller]
fn check(e: &DecodeError, protocol: &str, x: &Expect) {
    let offset = x.offset;
    assert_eq!(
        (
            e.protocol(),
            e.item(),
            e.field(),
            e.offset,
            e.clause(),
            &e.kind
        ),
        (protocol, x.item, x.field, offset, x.clause, &x.kind),
        "{e}"
    );
    let shown = e.to_string();
    let path = format!("{protocol}::{}.{} at byte {offset}: ", x.item, x.field);
    assert!(
        shown.starts_with(&path),
        "`{shown}` should start with `{path}`"
    );
    assert!(shown.contains(&x.kind.to_string()), "{shown}");
    match x.clause {
        Some(c) => assert!(shown.ends_with(&format!(" [{c}]")), "{shown}"),
        None => assert!(!shown.contains('['), "{shown}"),
    }
}

/// Both `decode` and `decode_exact` of `$ty` reject `$bytes` with the same error.
macro_rules! rejects {
    ($ty:ty, $protocol:expr, $bytes:expr, $expect:expr) => {{
        let bytes: Vec<u8> = $bytes;
        let expect: Expect = $expect;
        let e = stream_err(<$ty>::decode(&bytes));
        check(&e, $protocol, &expect);
        let e2 = <$ty>::decode_exact(&bytes).unwrap_err();
        assert_eq!(e2, e, "decode_exact and decode disagree");
        e
    }};
}

// ---------------------------------------------------------------------------------------
// Truncation: every strict prefix of a valid stream frame is `Incomplete` when streaming
// and a `Truncated` error for `decode_exact`.

/// Valid encodings (from `canonical_encodings.rs`) of each stream frame type.
const SOCKET: &[&str] = &[
    "FF AD 05 00",
    "00 28 12 00 70 05 00 | 02 00 05 66 72 61 6E 6B 01 07 63 61 66 65 6E 65 74 00",
    "03 12 06 00 0C 00 | 04 03 FA 00 03 14",
    "05 84 00 00 82 70 11 01 00 2C 01",
    "05 20 05 00 02 00 | 03 10 01 14 25",
];
const SERIAL: &[&str] = &[
    "FF E6 01",
    "F9",
    "00 44 DF 20 12 60 00 | 02 30 04 67 69 6E 61 2C 01 07 63 61 66 65 6E 65 74 00",
    "03 F8 21 12 06 0C 00 | 04 03 FA 00 03 14",
    "C8 98 C6 80 01 83 70 11 01 00 70 11 01 00 AB",
];
const HANDSHAKE: &[&str] = &["53 08 63 61 66 65 6E 65 74 00", "13"];
const CERTIFICATE: &[&str] = &["00 00", "04 00 30 82 01 0A"];
const SWITCHBOX: &[&str] = &[
    "01 00 FF FF FF FF",
    "00 00 FD FF FF FF",
    "FF FF 04 00 00 00 | FF 04 00 00",
];
const MQTT: &[&str] = &[
    "10 36 | 00 04 4D 51 54 54 04 EE 00 3C 00 08 66 65 72 72 6F 63 6F 6D
     00 0B 73 74 61 74 75 73 2F 64 65 76 31 00 07 6F 66 66 6C 69 6E 65
     00 04 75 73 65 72 00 04 70 61 73 73",
    "20 02 01 00",
    "3C 09 | 00 03 61 2F 62 12 34 | 68 69",
    "62 02 12 34",
    "82 0E | 00 01 | 00 03 61 2F 2B 01 | 00 03 62 2F 23 02",
    "90 04 | 00 01 | 01 80",
    "A2 0C | 00 02 | 00 03 61 2F 2B | 00 03 62 2F 23",
    "C0 00",
];

/// Checks every strict prefix of every vector; returns the number of prefixes checked.
macro_rules! truncations {
    ($ty:ty, $vectors:expr) => {{
        let mut n = 0usize;
        for h in $vectors {
            let full = hex(h);
            assert!(
                matches!(<$ty>::decode(&full), Ok(Decoded::Complete(_, k)) if k == full.len()),
                "{h} must decode"
            );
            for cut in 0..full.len() {
                let part = &full[..cut];
                match <$ty>::decode(part) {
                    Ok(Decoded::Incomplete(k)) => assert!(
                        k >= 1 && k <= full.len() - cut,
                        "{h} cut at {cut}: asks for {k} more bytes"
                    ),
                    other => panic!("{h} cut at {cut}: {other:?}"),
                }
                let e = <$ty>::decode_exact(part).unwrap_err();
                match e.kind {
                    DecodeErrorKind::Truncated { needed } => {
                        assert!(needed >= 1 && needed <= full.len() - cut, "{h} cut at {cut}: {e}")
                    }
                    _ => panic!("{h} cut at {cut}: {e}"),
                }
                assert!(e.offset <= cut, "{h} cut at {cut}: {e}");
                assert!(e.to_string().contains("input ends inside"), "{e}");
                n += 1;
            }
        }
        n
    }};
}

#[test]
fn truncated_iocom_frames() {
    let n = truncations!(iocom::SocketItem<'_>, SOCKET)
        + truncations!(iocom::SerialItem<'_>, SERIAL)
        + truncations!(iocom::ClientHandshake<'_>, HANDSHAKE)
        + truncations!(iocom::CertificateAnswer<'_>, CERTIFICATE)
        + truncations!(iocom::TlsMark, ["5B"]);
    assert!(n > 100);
}

#[test]
fn truncated_switchbox_messages() {
    assert!(truncations!(switchbox::Message<'_>, SWITCHBOX) >= 16);
}

#[test]
fn truncated_mqtt_packets() {
    assert!(truncations!(mqtt311::Packet<'_>, MQTT) > 100);
}

/// Records without a rest-of-region field: a prefix is `Truncated` when decoded exactly.
#[test]
fn truncated_records() {
    fn each_prefix(full: &[u8], f: impl Fn(&[u8]) -> Option<DecodeError>) {
        for cut in 0..full.len() {
            let e = f(&full[..cut]).unwrap_or_else(|| panic!("cut {cut} decoded"));
            assert!(
                matches!(e.kind, DecodeErrorKind::Truncated { .. }),
                "cut {cut}: {e}"
            );
        }
    }
    each_prefix(
        &hex(
            "02 12 04 67 69 6E 61 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 07 63 61 66 65 6E 65 74 04 70 61 73 73",
        ),
        |b| iocom::SystemMessage::decode_exact(b).err(),
    );
    each_prefix(
        &hex("C0 01 18 0A 04 67 69 6E 61 07 63 61 66 65 6E 65 74 03 65 78 70"),
        |b| iocom::MemoryBlockInfo::decode_exact(b).err(),
    );
    each_prefix(
        &hex(
            "00 04 4D 51 54 54 04 EE 00 3C 00 08 66 65 72 72 6F 63 6F 6D 00 0B 73 74 61 74 75 73 2F 64 65 76 31 00 07 6F 66 66 6C 69 6E 65 00 04 75 73 65 72 00 04 70 61 73 73",
        ),
        |b| mqtt311::Connect::decode_exact(b).err(),
    );
    each_prefix(&hex("01 00"), |b| mqtt311::Connack::decode_exact(b).err());
    each_prefix(&hex("12 34"), |b| mqtt311::PacketId::decode_exact(b).err());
}

// ---------------------------------------------------------------------------------------
// MQTT 3.1.1

const MQTT311: &str = "mqtt311";

#[test]
fn mqtt_protocol_name_is_checked() {
    // "MQTS" instead of "MQTT".
    rejects!(
        mqtt311::Packet<'_>,
        MQTT311,
        hex("10 0C | 00 04 4D 51 54 53 04 02 00 00 00 00"),
        Expect {
            item: "Connect",
            field: "protocol_name",
            offset: 4,
            clause: Some("MQTT-3.1.2-1"),
            kind: DecodeErrorKind::Constant {
                expected: 0x4D51_5454,
                found: 0x4D51_5453,
            },
        }
    );
    // MQTT 3.1 ("MQIsdp", level 3): the name length is already wrong.
    rejects!(
        mqtt311::Packet<'_>,
        MQTT311,
        hex("10 0E | 00 06 4D 51 49 73 64 70 03 02 00 00 00 00"),
        Expect {
            item: "Connect",
            field: "protocol_name_len",
            offset: 2,
            clause: Some("MQTT-3.1.2-1"),
            kind: DecodeErrorKind::Constant {
                expected: 4,
                found: 6,
            },
        }
    );
    // Level 3 with the 3.1.1 name.
    rejects!(
        mqtt311::Packet<'_>,
        MQTT311,
        hex("10 0C | 00 04 4D 51 54 54 03 02 00 00 00 00"),
        Expect {
            item: "Connect",
            field: "level",
            offset: 8,
            clause: Some("MQTT-3.1.2-2"),
            kind: DecodeErrorKind::Constraint {
                condition: "level == 4",
                value: 3,
            },
        }
    );
}

#[test]
fn mqtt_connect_flags_are_checked() {
    // Reserved bit 0 set.
    rejects!(
        mqtt311::Packet<'_>,
        MQTT311,
        hex("10 0C | 00 04 4D 51 54 54 04 03 00 00 00 00"),
        Expect {
            item: "ConnectFlags",
            field: "reserved",
            offset: 9,
            clause: Some("MQTT-3.1.2-3"),
            kind: DecodeErrorKind::Constant {
                expected: 0,
                found: 1,
            },
        }
    );
    // Password without user name.
    let e = stream_err(mqtt311::Packet::decode(&hex(
        "10 12 | 00 04 4D 51 54 54 04 42 00 00 00 00 | 00 04 70 61 73 73",
    )));
    assert_eq!(
        (e.item(), e.field(), e.offset, e.clause()),
        ("ConnectFlags", "password", 9, Some("MQTT-3.1.2-22")),
        "{e}"
    );
    // Will QoS 3.
    let e = stream_err(mqtt311::Packet::decode(&hex(
        "10 10 | 00 04 4D 51 54 54 04 1C 00 00 00 00 | 00 00 00 00",
    )));
    assert_eq!(
        (e.item(), e.field(), e.offset, e.clause()),
        ("ConnectFlags", "will_qos", 9, Some("MQTT-3.1.2-14")),
        "{e}"
    );
    // Will QoS 1 without the will flag.
    let e = stream_err(mqtt311::Packet::decode(&hex(
        "10 0C | 00 04 4D 51 54 54 04 08 00 00 00 00",
    )));
    assert_eq!(
        (e.item(), e.field(), e.offset, e.clause()),
        ("ConnectFlags", "will", 9, Some("MQTT-3.1.2-11")),
        "{e}"
    );
}

#[test]
fn mqtt_connack_reserved_bits() {
    rejects!(
        mqtt311::Packet<'_>,
        MQTT311,
        hex("20 02 02 00"),
        Expect {
            item: "ConnackFlags",
            field: "reserved",
            offset: 2,
            clause: Some("MQTT-3.2.2.1"),
            kind: DecodeErrorKind::Constant {
                expected: 0,
                found: 1,
            },
        }
    );
    // Session present with a refusal.
    let e = stream_err(mqtt311::Packet::decode(&hex("20 02 01 05")));
    assert_eq!(
        (e.item(), e.field(), e.offset, e.clause()),
        ("Connack", "return_code", 3, Some("MQTT-3.2.2-4")),
        "{e}"
    );
}

#[test]
fn mqtt_fixed_header_flags_are_checked() {
    for (first, clause) in [
        (0x60u8, "MQTT-3.6.1-1"), // PUBREL with flags 0000
        (0x6F, "MQTT-3.6.1-1"),   // PUBREL with flags 1111
        (0x80, "MQTT-3.8.1-1"),   // SUBSCRIBE with flags 0000
        (0xA0, "MQTT-3.10.1-1"),  // UNSUBSCRIBE with flags 0000
        (0xE1, "MQTT-3.14.1-1"),  // DISCONNECT with a reserved bit
        (0x41, "MQTT-2.2.2-2"),   // PUBACK with a reserved bit
        (0xC8, "MQTT-2.2.2-2"),   // PINGREQ with a reserved bit
        (0x00, "MQTT-2.2.1"),     // packet type 0
        (0xF0, "MQTT-2.2.1"),     // packet type 15
    ] {
        let bytes = [first, 0x02, 0x00, 0x01];
        let e = stream_err(mqtt311::Packet::decode(&bytes));
        check(
            &e,
            MQTT311,
            &Expect {
                item: "PacketBody",
                field: "header",
                offset: 0, // the tag byte
                clause: Some(clause),
                kind: DecodeErrorKind::Rejected {
                    tag: i128::from(first),
                },
            },
        );
        assert_eq!(mqtt311::Packet::decode_exact(&bytes).unwrap_err(), e);
    }
}

#[test]
fn mqtt_publish_qos_3() {
    rejects!(
        mqtt311::Packet<'_>,
        MQTT311,
        hex("36 05 | 00 01 61 00 01"),
        Expect {
            item: "PublishHeader",
            field: "qos",
            offset: 0, // the tag byte
            clause: Some("MQTT-3.3.1-4"),
            kind: DecodeErrorKind::Constraint {
                condition: "qos != 3",
                value: 3,
            },
        }
    );
}

#[test]
fn mqtt_publish_packet_id_zero() {
    rejects!(
        mqtt311::Packet<'_>,
        MQTT311,
        hex("32 05 | 00 01 61 00 00"),
        Expect {
            item: "Publish",
            field: "packet_id",
            offset: 5,
            clause: Some("MQTT-2.3.1-1"),
            kind: DecodeErrorKind::Constraint {
                condition: "packet_id != 0",
                value: 0,
            },
        }
    );
}

#[test]
fn mqtt_remaining_length_five_bytes() {
    for h in [
        "30 FF FF FF FF 7F",
        "30 80 80 80 80 01 00",
        "C0 80 80 80 80",
    ] {
        rejects!(
            mqtt311::Packet<'_>,
            MQTT311,
            hex(h),
            Expect {
                item: "Packet",
                field: "remaining",
                offset: 1,
                clause: Some("MQTT-2.2.3"),
                kind: DecodeErrorKind::VarintTooLong,
            }
        );
    }
    // Four bytes is the maximum and still a stream waiting for data.
    assert_eq!(
        mqtt311::Packet::decode(&hex("30 FF FF FF 7F 00 00")).unwrap(),
        Decoded::Incomplete(268_435_455 - 2)
    );
}

#[test]
fn mqtt_remaining_length_beyond_input() {
    // Remaining length 10, only 5 bytes follow: wait for 5 more.
    let b = hex("30 0A | 00 03 61 2F 62");
    assert_eq!(mqtt311::Packet::decode(&b).unwrap(), Decoded::Incomplete(5));
    let e = mqtt311::Packet::decode_exact(&b).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 5 }, "{e}");
    assert_eq!((e.item(), e.field()), ("Packet", "body"), "{e}");
    // With the 5 bytes it decodes, the payload being the rest of the region.
    let mut b = b;
    b.extend_from_slice(b"hello");
    let Decoded::Complete(p, 12) = mqtt311::Packet::decode(&b).unwrap() else {
        panic!()
    };
    let mqtt311::PacketBody::Publish(p) = p.body else {
        panic!()
    };
    assert_eq!((p.topic, p.payload), ("a/b", &b"hello"[..]));
}

#[test]
fn mqtt_string_length_past_region_end() {
    // Topic length 9 inside a 5-byte body: an error even when more bytes follow (the next
    // packet), never a read into them and never `Incomplete`.
    for h in [
        "30 05 | 00 09 61 62 63",
        "30 05 | 00 09 61 62 63 | C0 00 C0 00 C0 00",
    ] {
        rejects_stream(h);
    }
    fn rejects_stream(h: &str) {
        let e = stream_err(mqtt311::Packet::decode(&hex(h)));
        check(
            &e,
            MQTT311,
            &Expect {
                item: "Publish",
                field: "topic",
                offset: 2,
                clause: Some("MQTT-3.3.2-1"),
                kind: DecodeErrorKind::Truncated { needed: 6 },
            },
        );
    }
    // The same inside a SUBSCRIBE filter list.
    let e = stream_err(mqtt311::Packet::decode(&hex("82 06 | 00 01 | 00 05 61 2F")));
    assert_eq!(
        (e.item(), e.field(), e.offset, &e.kind),
        (
            "Subscription",
            "topic",
            4,
            &DecodeErrorKind::Truncated { needed: 3 }
        ),
        "{e}"
    );
}

#[test]
fn mqtt_invalid_utf8_topic() {
    let e = rejects!(
        mqtt311::Packet<'_>,
        MQTT311,
        hex("30 05 | 00 03 61 C3 28"),
        Expect {
            item: "Publish",
            field: "topic",
            offset: 2,
            clause: Some("MQTT-3.3.2-1"),
            kind: DecodeErrorKind::InvalidUtf8,
        }
    );
    assert_eq!(
        e.to_string(),
        "mqtt311::Publish.topic at byte 2: invalid UTF-8 [MQTT-3.3.2-1]"
    );
    // Client id, subscription filter and unsubscribe filter too.
    let e = stream_err(mqtt311::Packet::decode(&hex(
        "10 0D | 00 04 4D 51 54 54 04 02 00 00 00 01 FF",
    )));
    assert_eq!(
        (e.field(), e.kind),
        ("client_id", DecodeErrorKind::InvalidUtf8)
    );
    let e = stream_err(mqtt311::Packet::decode(&hex("82 06 | 00 01 | 00 01 FE 00")));
    assert_eq!(
        (e.item(), e.field(), e.offset, e.kind),
        ("Subscription", "topic", 4, DecodeErrorKind::InvalidUtf8)
    );
    let e = stream_err(mqtt311::Packet::decode(&hex("A2 05 | 00 01 | 00 01 80")));
    assert_eq!(
        (e.item(), e.field(), e.offset, e.kind),
        ("Unsubscribe", "filters", 4, DecodeErrorKind::InvalidUtf8)
    );
}

#[test]
fn mqtt_subscribe_rules() {
    // Requested QoS 3.
    let e = stream_err(mqtt311::Packet::decode(&hex("82 06 | 00 01 | 00 01 61 03")));
    assert_eq!(
        (e.item(), e.field(), e.offset, e.clause()),
        ("Subscription", "qos", 7, Some("MQTT-3-8.3-4")),
        "{e}"
    );
    // No filter at all.
    let e = stream_err(mqtt311::Packet::decode(&hex("82 02 | 00 01")));
    assert_eq!(
        (e.item(), e.field(), e.clause()),
        ("Subscribe", "filters", Some("MQTT-3.8.3-3")),
        "{e}"
    );
    let e = stream_err(mqtt311::Packet::decode(&hex("A2 02 | 00 01")));
    assert_eq!(
        (e.item(), e.field(), e.clause()),
        ("Unsubscribe", "filters", Some("MQTT-3.10.3-2")),
        "{e}"
    );
}

#[test]
fn mqtt_trailing_bytes_in_packet() {
    // PINGREQ / PUBACK with a longer remaining length: bytes left over in the region.
    for (h, offset) in [("C0 01 | 00", 2), ("40 03 | 00 01 FF", 4)] {
        let e = stream_err(mqtt311::Packet::decode(&hex(h)));
        assert_eq!(e.kind, DecodeErrorKind::Trailing { count: 1 }, "{h}: {e}");
        assert_eq!(e.offset, offset, "{h}: {e}");
        assert!(e.to_string().contains("1 unexpected trailing byte"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------
// IOCOM

const IOCOM: &str = "iocom";

#[test]
fn iocom_frame_number_201() {
    for lead in [201u8, 0xF0, 0xFE] {
        let bytes = [lead, 0x20, 0x00, 0x00, 0x00, 0x00];
        let e = rejects!(
            iocom::SocketItem<'_>,
            IOCOM,
            bytes.to_vec(),
            Expect {
                item: "SocketBody",
                field: "lead",
                offset: 0, // the tag byte
                clause: Some("IOCOM-5-2"),
                kind: DecodeErrorKind::Rejected {
                    tag: i128::from(lead),
                },
            }
        );
        // Decided on the lead byte alone: the rest of the frame is not awaited.
        assert_eq!(stream_err(iocom::SocketItem::decode(&[lead])), e);
    }
    // Serial: 201..=248 and 254 are rejected; F9..FD are link control characters.
    for lead in [201u8, 0xF8, 0xFE] {
        let e = stream_err(iocom::SerialItem::decode(&[lead]));
        assert_eq!(
            (e.item(), e.field(), e.clause(), &e.kind),
            (
                "SerialBody",
                "lead",
                Some("IOCOM-5-2"),
                &DecodeErrorKind::Rejected {
                    tag: i128::from(lead)
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn iocom_bad_serial_crc() {
    let good = hex("03 F8 21 12 06 0C 00 | 04 03 FA 00 03 14");
    for at in [0, 3, 4, 5, 6, 7, 12] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let Err(e) = iocom::SerialItem::decode(&bad) else {
            continue; // a changed header may make the frame longer (Incomplete)
        };
        let computed = ferrocom_wire::codec::crc16_modbus_zeroed(&bad, 1, 2);
        check(
            &e,
            IOCOM,
            &Expect {
                item: "SerialFrame",
                field: "checksum",
                offset: 1,
                clause: Some("IOCOM-4.2-2"),
                kind: DecodeErrorKind::Checksum {
                    expected: u64::from(computed),
                    found: 0x21F8,
                },
            },
        );
        assert!(e.to_string().contains("received 0x21F8"), "byte {at}: {e}");
    }
    // A wrong stored CRC.
    let mut bad = good.clone();
    bad[1] = 0x00;
    let e = iocom::SerialItem::decode_exact(&bad).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::Checksum {
            expected: 0x21F8,
            found: 0x2100
        }
    );
    assert_eq!(
        e.to_string(),
        "iocom::SerialFrame.checksum at byte 1: checksum mismatch: computed 0x21F8, received 0x2100 [IOCOM-4.2-2]"
    );
}

#[test]
fn iocom_extra_flags_without_mark() {
    rejects!(
        iocom::SocketItem<'_>,
        IOCOM,
        hex("05 80 00 00 02 70 11 01 00 00"),
        Expect {
            item: "SocketFrame",
            field: "extra",
            offset: 4,
            clause: Some("IOCOM-4.3-3"),
            kind: DecodeErrorKind::Constraint {
                condition: "extra.MARK",
                value: 2,
            },
        }
    );
}

#[test]
fn iocom_oversize_frame_waits_without_allocating() {
    // DATA_SZ 65535 with 3 content bytes: the codec asks for the rest (the frame-size
    // limit of 4.6 is the connection engine's job).
    let b = hex("01 00 FF FF 00 00 | 01 02 03");
    assert_eq!(
        iocom::SocketItem::decode(&b).unwrap(),
        Decoded::Incomplete(65_535 - 3)
    );
    // A compressed frame expands at most ~128 times its content (zero-run bound).
    let mut b = hex("01 12 00 10 00 00");
    for _ in 0..(0x1000 / 2) {
        b.extend_from_slice(&[0x00, 0xFF]);
    }
    let Decoded::Complete(item, _) = iocom::SocketItem::decode(&b).unwrap() else {
        panic!()
    };
    let iocom::SocketBody::Numbered(f) = item.body else {
        panic!()
    };
    assert_eq!(f.data.len(), 0x1000 / 2 * 255);
}

#[test]
fn iocom_zero_run_overrun() {
    // Literal count 5 with one byte behind it.
    let e = rejects!(
        iocom::SocketItem<'_>,
        IOCOM,
        hex("03 12 02 00 0C 00 | 05 01"),
        Expect {
            item: "SocketFrame",
            field: "data",
            offset: 6,
            clause: Some("IOCOM-11.4-1"),
            kind: DecodeErrorKind::Transform {
                // The transform's own name (`Transform::NAME`).
                name: "iocom_zero_run",
                message: "literal run extends past the end of the compressed data",
            },
        }
    );
    assert!(
        e.to_string().contains("transform `iocom_zero_run` failed"),
        "{e}"
    );
}

#[test]
fn iocom_handshake_errors() {
    // Role 0x14.
    rejects!(
        iocom::ClientHandshake<'_>,
        IOCOM,
        hex("14"),
        Expect {
            item: "ClientType",
            field: "role",
            offset: 0,
            clause: Some("IOCOM-8.1-3"),
            kind: DecodeErrorKind::Constraint {
                condition: "(role == 18) || (role == 19)",
                value: 0x14,
            },
        }
    );
    // A 24-byte name (length byte 25 with the NUL).
    let mut b = vec![0x53, 25];
    b.extend_from_slice(&[b'n'; 24]);
    b.push(0);
    let e = stream_err(iocom::ClientHandshake::decode(&b));
    assert_eq!(
        (e.item(), e.field(), e.offset, e.clause()),
        ("ClientHandshake", "network", 1, Some("IOCOM-8.1-5")),
        "{e}"
    );
    // The value reported is the length that broke the limit.
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::Constraint {
                condition: "len(network) <= 23",
                value: 24,
            }
        ),
        "{e}"
    );
    // The last byte counted by the length must be the NUL.
    let e = stream_err(iocom::ClientHandshake::decode(&hex("53 03 61 62 63")));
    assert_eq!(
        (e.item(), e.field(), e.offset, &e.kind),
        (
            "ClientHandshake",
            "network",
            1,
            &DecodeErrorKind::MissingNul
        ),
        "{e}"
    );
}

#[test]
fn iocom_system_message_errors() {
    // User name of 26 bytes.
    let mut b = vec![0x02, 0x00, 26];
    b.extend_from_slice(&[b'u'; 26]);
    b.extend_from_slice(&hex("00 07 63 61 66 65 6E 65 74 00"));
    let e = iocom::SystemMessage::decode_exact(&b).unwrap_err();
    assert_eq!(
        (e.item(), e.field(), e.offset, e.clause()),
        ("Authentication", "user", 2, Some("IOCOM-9.4-1")),
        "{e}"
    );
    // The value reported is the length that broke the limit.
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::Constraint {
                condition: "len(user) <= 25",
                value: 26,
            }
        ),
        "{e}"
    );
    // Remove request without ids / with 17 ids.
    let e = iocom::SystemMessage::decode_exact(&[0x03]).unwrap_err();
    assert_eq!(
        (e.item(), e.field(), e.clause()),
        ("RemoveRequest", "ids", Some("IOCOM-12-2")),
        "{e}"
    );
    let mut b = vec![0x03];
    b.extend_from_slice(&[0x01; 17]);
    let e = iocom::SystemMessage::decode_exact(&b).unwrap_err();
    // The value reported is the length that broke the limit.
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::Constraint {
                condition: "(count(ids) >= 1) && (count(ids) <= 16)",
                value: 17,
            }
        ),
        "{e}"
    );
    // Unknown system message types are kept, not rejected (10.4).
    let m = iocom::SystemMessage::decode_exact(&[0x09, 0x01]).unwrap();
    assert!(matches!(m.body, iocom::SystemBody::Unknown(ref u) if u.kind == 9));
}

// ---------------------------------------------------------------------------------------
// Switchbox

#[test]
fn switchbox_invalid_codes() {
    for (code, h) in [
        (0i128, "00 00 00 00"),
        (-4, "FC FF FF FF"),
        (i128::from(i32::MIN), "00 00 00 80"),
    ] {
        rejects!(
            switchbox::Message<'_>,
            "switchbox",
            hex(&format!("01 00 {h}")),
            Expect {
                item: "MessageBody",
                field: "code",
                offset: 2, // the tag byte
                clause: Some("SWB-17-7"),
                kind: DecodeErrorKind::Rejected { tag: code },
            }
        );
    }
}

#[test]
fn switchbox_data_waits_for_its_bytes() {
    assert_eq!(
        switchbox::Message::decode(&hex("01 00 05 00 00 00 AA")).unwrap(),
        Decoded::Incomplete(4)
    );
    // The largest code: the codec just asks for the bytes, it allocates nothing.
    assert_eq!(
        switchbox::Message::decode(&hex("01 00 FF FF FF 7F")).unwrap(),
        Decoded::Incomplete(0x7FFF_FFFF)
    );
}

// ---------------------------------------------------------------------------------------
// Regressions: bugs of the code generator found by these tests

/// Was a bug: an error about a union tag (a rejected tag, a bits-typed tag failing its
/// `where`) is reported at the position where the reader stood when the union was
/// read, i.e. *after* the tag (and, in MQTT, after the remaining length), not where
/// the tag field starts.
#[test]
fn tag_errors_point_at_the_tag() {
    let e = stream_err(iocom::SocketItem::decode(&[201, 0x20, 0, 0, 0, 0]));
    assert_eq!((e.field(), e.offset), ("lead", 0), "{e}");
    let e = stream_err(iocom::SerialItem::decode(&[201]));
    assert_eq!((e.field(), e.offset), ("lead", 0), "{e}");
    let e = stream_err(mqtt311::Packet::decode(&hex("60 02 00 01")));
    assert_eq!((e.field(), e.offset), ("header", 0), "{e}");
    let e = stream_err(mqtt311::Packet::decode(&hex("36 05 | 00 01 61 00 01")));
    assert_eq!((e.field(), e.offset), ("qos", 0), "{e}");
    let e = stream_err(switchbox::Message::decode(&hex("01 00 00 00 00 00")));
    assert_eq!((e.field(), e.offset), ("code", 2), "{e}");
}

/// Was a bug: a `where` condition over `len(field)` or `count(field)` of a text, byte or
/// array field reports `value 0` instead of the length or count that broke it
/// (`value 0 violates `(len(user) <= 25)``).
#[test]
fn len_and_count_constraints_report_the_value() {
    let mut b = vec![0x03];
    b.extend_from_slice(&[0x01; 17]);
    let e = iocom::SystemMessage::decode_exact(&b).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::Constraint { value: 17, .. }),
        "{e}"
    );
    let mut b = vec![0x02, 0x00, 26];
    b.extend_from_slice(&[b'u'; 26]);
    b.extend_from_slice(&hex("00 07 63 61 66 65 6E 65 74 00"));
    let e = iocom::SystemMessage::decode_exact(&b).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::Constraint { value: 26, .. }),
        "{e}"
    );
    let mut b = vec![0x53, 25];
    b.extend_from_slice(&[b'n'; 24]);
    b.push(0);
    let e = stream_err(iocom::ClientHandshake::decode(&b));
    assert!(
        matches!(e.kind, DecodeErrorKind::Constraint { value: 24, .. }),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Never panics

/// Feeds `b` to `decode` and `decode_exact` of a type; whatever decodes must re-encode
/// to bytes that decode to the same value, with `encoded_len` right.
macro_rules! probe {
    ($ty:ty, $b:expr $(, $arg:expr)*) => {{
        let b: &[u8] = $b;
        match <$ty>::decode(b $(, $arg)*) {
            Ok(Decoded::Complete(v, used)) => {
                assert!(used <= b.len());
                reencode!($ty, v $(, $arg)*);
            }
            Ok(Decoded::Incomplete(n)) => assert!(n >= 1),
            Err(e) => {
                assert!(e.offset <= b.len(), "{e}");
                assert!(!e.to_string().is_empty());
            }
        }
        match <$ty>::decode_exact(b $(, $arg)*) {
            Ok(v) => reencode!($ty, v $(, $arg)*),
            Err(e) => {
                assert!(e.offset <= b.len(), "{e}");
                assert!(!e.to_string().is_empty());
            }
        }
    }};
}

macro_rules! reencode {
    ($ty:ty, $v:expr $(, $arg:expr)*) => {{
        let v = $v;
        let mut out = Vec::new();
        if let Ok(n) = v.encode(&mut out) {
            assert_eq!(v.encoded_len(), n, "{v:?}");
            let back = <$ty>::decode_exact(&out $(, $arg)*);
            assert_eq!(back.as_ref(), Ok(&v), "re-encoding {out:02X?}");
        }
    }};
}

fn decode_everything(b: &[u8]) {
    let p = b.first().copied().unwrap_or(0);
    probe!(iocom::SocketItem<'_>, b);
    probe!(iocom::SerialItem<'_>, b);
    probe!(iocom::SocketAck, b);
    probe!(iocom::SerialAck, b);
    probe!(iocom::SocketFrame<'_>, b, p);
    probe!(iocom::SerialFrame<'_>, b, p);
    probe!(iocom::TlsMark, b);
    probe!(iocom::ClientHandshake<'_>, b);
    probe!(iocom::CertificateAnswer<'_>, b);
    probe!(iocom::SystemMessage<'_>, b);
    probe!(iocom::UnknownSystem<'_>, b, p);
    probe!(iocom::Authentication<'_>, b);
    probe!(iocom::MemoryBlockInfo<'_>, b);
    probe!(iocom::RemoveRequest, b);
    probe!(switchbox::Message<'_>, b);
    probe!(mqtt311::Packet<'_>, b);
    probe!(mqtt311::PacketId, b);
    probe!(mqtt311::Connect<'_>, b);
    probe!(mqtt311::Connack, b);
    let header = mqtt311::PublishHeader {
        dup: p & 8 != 0,
        qos: (p >> 1) & 3,
        retain: p & 1 != 0,
    };
    probe!(mqtt311::Publish<'_>, b, header);
    probe!(mqtt311::Subscribe<'_>, b);
    probe!(mqtt311::Subscription<'_>, b);
    probe!(mqtt311::Suback, b);
    probe!(mqtt311::Unsubscribe<'_>, b);
}

/// Every valid vector of this file, as seeds for mutation.
fn seeds() -> Vec<Vec<u8>> {
    [SOCKET, SERIAL, HANDSHAKE, CERTIFICATE, SWITCHBOX, MQTT]
        .iter()
        .flat_map(|v| v.iter().map(|h| hex(h)))
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *m {
        Mutation::Set(i, v) if !b.is_empty() => {
            let i = at(i, b.len());
            b[i] = v;
        }
        Mutation::Flip(i, bit) if !b.is_empty() => {
            let i = at(i, b.len());
            b[i] ^= 1 << bit;
        }
        Mutation::Insert(i, v) => {
            let i = at(i, b.len() + 1);
            b.insert(i, v);
        }
        Mutation::Remove(i) if !b.is_empty() => {
            let i = at(i, b.len());
            b.remove(i);
        }
        Mutation::Truncate(i) => {
            let n = at(i, b.len() + 1);
            b.truncate(n);
        }
        _ => {}
    }
}

#[test]
fn seeds_decode_and_survive_the_probe() {
    for s in seeds() {
        decode_everything(&s);
    }
    decode_everything(&[]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_everything(&b);
    }

    #[test]
    fn mutated_encodings_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let mut b = seeds[seed.index(seeds.len())].clone();
        for m in &mutations {
            apply(&mut b, m);
        }
        decode_everything(&b);
    }
}
