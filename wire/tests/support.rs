//! Tests of the codec support code: CRC, intser, MQTT varints, integer helpers and the
//! `Reader` (stream vs hard behaviour, regions, strings, checksums, error messages).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use ferrocom_wire::codec::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

static F_TOPIC: FieldInfo = FieldInfo {
    protocol: "mqtt311",
    item: "Publish",
    field: "topic",
    clause: Some("MQTT-1.5.3-1"),
    line: 42,
};
static F_CRC: FieldInfo = FieldInfo {
    protocol: "iocom",
    item: "SerialFrame",
    field: "crc",
    clause: Some("IOCOM-4.2"),
    line: 7,
};

fn invalid(f: Fail) -> DecodeError {
    match f {
        Fail::Invalid(e) => e,
        Fail::Incomplete(n) => panic!("expected an error, got Incomplete({n})"),
    }
}

// ---------------------------------------------------------------------------------------
// CRC-16/MODBUS

#[test]
fn crc_check_value() {
    assert_eq!(crc16_modbus(b"123456789"), 0x4B37);
    // Incremental == one shot.
    let c = crc16_modbus_update(CRC16_MODBUS_INIT, b"1234");
    assert_eq!(crc16_modbus_update(c, b"56789"), 0x4B37);
}

/// Serial frames from reference §4.2/§11.5/§11.6/§22.3/§22.5, with the stored CRC
/// (bytes 1–2, low byte first).
const SERIAL_FRAMES: &[(&str, u16)] = &[
    ("03 F8 21 12 06 0C 00 04 03 FA 00 03 14", 0x21F8),
    ("04 BC 54 11 01 0C 01 01", 0x54BC),
    ("06 58 74 12 02 09 00 00 18", 0x7458),
    (
        "11 4C 31 13 0C 17 08 02 80 01 06 02 80 3F 17 03 41 3A 01",
        0x314C,
    ),
    ("18 AB 50 14 01 1D 23 04 39", 0x50AB),
    (
        "00 44 DF 20 12 60 00 02 30 04 67 69 6E 61 2C 01 07 63 61 66 65 6E 65 74 00",
        0xDF44,
    ),
];

#[test]
fn crc_serial_frames_verify() {
    for (h, stored) in SERIAL_FRAMES {
        let frame = hex(h);
        assert_eq!(u16::from_le_bytes([frame[1], frame[2]]), *stored, "{h}");
        assert_eq!(crc16_modbus_zeroed(&frame, 1, 2), *stored, "{h}");
        // Same as zeroing by hand.
        let mut z = frame.clone();
        z[1] = 0;
        z[2] = 0;
        assert_eq!(crc16_modbus(&z), *stored);
    }
}

#[test]
fn patch_crc16_reproduces_serial_frames() {
    for (h, _) in SERIAL_FRAMES {
        let frame = hex(h);
        // Encode side: a buffer with something before the frame, garbage in the CRC slot.
        let mut out = vec![0xAA, 0xBB];
        out.extend_from_slice(&frame);
        out[3] = 0x12;
        out[4] = 0x34;
        patch_crc16(&mut out, 2, 3, ByteOrder::Little);
        assert_eq!(&out[2..], &frame[..], "{h}");
        patch_crc16(&mut out, 2, 3, ByteOrder::Big);
        assert_eq!([out[3], out[4]], [frame[2], frame[1]]);
    }
}

#[test]
fn crc_packed_json_container() {
    // §22.7 derived packed JSON: CRC over all preceding bytes, stored LE.
    let packed = hex(
        "12 02 64 65 6D 6F 00 75 70 00 67 00 74 65 6D 70 00 6F 6E 00 14 06
         13 06 10 05 10 19 00 13 06 11 03 13 3E 15 05 10 03 00 13 06 10 06 10 05
         00 13 06 12 06 13 0A 11 02 01 00 13 06 17 06 13 0A 16 01 01 11 01 01 11 01 01
         11 01 C7 0C",
    );
    assert_eq!(packed.len(), 76);
    let (body, crc) = packed.split_at(74);
    assert_eq!(crc16_modbus(body), u16::from_le_bytes([crc[0], crc[1]]));
    assert_eq!(crc16_modbus(body), 0x0CC7);
}

#[test]
fn crc_captured_info_block() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/iocom/gina-info-block.packed-json.bin"
    );
    let info = std::fs::read(path).expect("captured info block (shared/vectors/iocom)");
    assert_eq!(info.len(), 1060);
    let (body, crc) = info.split_at(1058);
    assert_eq!(crc, [0xED, 0x39]);
    assert_eq!(crc16_modbus(body), 0x39ED);
    // Its header: intser dictionary length 477 = 15 3B.
    let mut r = Reader::exact(body);
    assert_eq!(r.intser().unwrap(), 477);
}

#[test]
fn reader_verify_crc16() {
    let frame = hex("03 F8 21 12 06 0C 00 04 03 FA 00 03 14");
    let check = |frame: &[u8]| -> Result<(), Fail> {
        let mut r = Reader::exact(frame);
        r.uint(1, ByteOrder::Little)?;
        r.field(&F_CRC);
        let offset = r.pos();
        let stored = r.uint(2, ByteOrder::Little)?;
        r.set_checksum(PendingChecksum {
            info: &F_CRC,
            offset,
            width: 2,
            stored,
        });
        r.rest();
        r.verify_crc16(0)
    };
    check(&frame).unwrap();
    let mut bad = frame.clone();
    bad[12] ^= 1;
    let e = invalid(check(&bad).unwrap_err());
    assert_eq!(e.field(), "crc");
    assert_eq!(e.offset, 1);
    assert_eq!(
        e.kind,
        DecodeErrorKind::Checksum {
            expected: u64::from(crc16_modbus_zeroed(&bad, 1, 2)),
            found: 0x21F8
        }
    );
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    // Nothing pending: nothing to check; the checksum is taken only once.
    let mut r = Reader::exact(&frame);
    assert!(r.verify_crc16(0).is_ok());
    assert!(r.take_checksum().is_none());
}

// ---------------------------------------------------------------------------------------
// intser (§15.1)

const INTSER: &[(i64, &str)] = &[
    (0, "00"),
    (7, "07"),
    (-1, "09"),
    (-7, "0F"),
    (8, "10 01"),
    (-8, "18 01"),
    (300, "14 25"),
    (-300, "1C 25"),
    (477, "15 3B"),
    (1392, "10 AE"),
    (65535, "27 FF 1F"),
    (18, "12 02"),
    (52, "14 06"),
    (i64::MIN, "08"),
];

#[test]
fn intser_examples_both_ways() {
    for &(v, h) in INTSER {
        let bytes = hex(h);
        let mut out = Vec::new();
        put_intser(&mut out, v);
        assert_eq!(out, bytes, "encode {v}");
        assert_eq!(intser_len(v), bytes.len(), "len {v}");
        let mut r = Reader::exact(&bytes);
        assert_eq!(r.intser().unwrap(), v, "decode {h}");
        assert_eq!(r.remaining(), 0);
    }
}

#[test]
fn intser_extremes() {
    for v in [
        i64::MAX,
        i64::MIN + 1,
        1 << 60,
        -(1 << 60),
        255 << 3,
        256 << 3,
    ] {
        let mut out = Vec::new();
        put_intser(&mut out, v);
        assert_eq!(out.len(), intser_len(v));
        assert!(out.len() <= 9);
        assert_eq!(Reader::exact(&out).intser().unwrap(), v);
    }
    // i64::MAX: 8 follower bytes.
    assert_eq!(intser_len(i64::MAX), 9);
    // The long form of -2^63 (magnitude 2^63) also decodes.
    let long_min = hex("88 00 00 00 00 00 00 00 10");
    assert_eq!(Reader::exact(&long_min).intser().unwrap(), i64::MIN);
    // Non-minimal encodings decode (the C reader accepts them).
    assert_eq!(Reader::exact(&hex("13 00")).intser().unwrap(), 3);
    // Remove-request content of §22.5: type 03, then ids 8 and 300.
    let body = hex("03 10 01 14 25");
    let mut r = Reader::exact(&body);
    assert_eq!(r.uint(1, ByteOrder::Little).unwrap(), 3);
    assert_eq!(r.intser().unwrap(), 8);
    assert_eq!(r.intser().unwrap(), 300);
    r.finish().unwrap();
}

#[test]
fn intser_errors() {
    // NNNN > 8.
    let e = invalid(
        Reader::exact(&hex("90 00 00 00 00 00 00 00 00 00"))
            .intser()
            .unwrap_err(),
    );
    assert_eq!(e.kind, DecodeErrorKind::VarintTooLong);
    let e = invalid(Reader::new(&hex("F0")).intser().unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::VarintTooLong);
    // Magnitude beyond i64.
    let too_big = hex("80 00 00 00 00 00 00 00 10"); // +2^63
    let e = invalid(Reader::exact(&too_big).intser().unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::TooLarge { value: 1 << 63 });
    let huge = hex("8F FF FF FF FF FF FF FF FF");
    let e = invalid(Reader::exact(&huge).intser().unwrap_err());
    assert_eq!(
        e.kind,
        DecodeErrorKind::TooLarge {
            value: -((1i128 << 67) - 1)
        }
    );
    // Incomplete / truncated, nothing consumed.
    let mut r = Reader::new(&[0x27, 0xFF]);
    assert_eq!(r.intser(), Err(Fail::Incomplete(1)));
    assert_eq!(r.pos(), 0);
    assert_eq!(Reader::new(&[]).intser(), Err(Fail::Incomplete(1)));
    let e = invalid(Reader::exact(&[0x27, 0xFF]).intser().unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 1 });
}

// ---------------------------------------------------------------------------------------
// MQTT variable byte integer

const VARINTS: &[(u32, &str)] = &[
    (0, "00"),
    (127, "7F"),
    (128, "80 01"),
    (16_383, "FF 7F"),
    (16_384, "80 80 01"),
    (2_097_151, "FF FF 7F"),
    (2_097_152, "80 80 80 01"),
    (268_435_455, "FF FF FF 7F"),
];

#[test]
fn mqtt_varint_boundaries() {
    for &(v, h) in VARINTS {
        let bytes = hex(h);
        let mut out = Vec::new();
        put_mqtt_varint(&mut out, v).unwrap();
        assert_eq!(out, bytes, "encode {v}");
        assert_eq!(mqtt_varint_len(v), bytes.len());
        let mut with_tail = bytes.clone();
        with_tail.push(0x55);
        let mut r = Reader::new(&with_tail);
        assert_eq!(r.mqtt_varint().unwrap(), v, "decode {h}");
        assert_eq!(r.pos(), bytes.len());
        // Every proper prefix is incomplete in a stream, truncated in a hard reader.
        for cut in 0..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            assert_eq!(r.mqtt_varint(), Err(Fail::Incomplete(1)), "{h} cut {cut}");
            assert_eq!(r.pos(), 0);
            let e = invalid(Reader::exact(&bytes[..cut]).mqtt_varint().unwrap_err());
            assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 1 });
        }
    }
    let mut out = Vec::new();
    assert_eq!(
        put_mqtt_varint(&mut out, 268_435_456),
        Err(EncodeErrorKind::OutOfRange {
            value: 268_435_456,
            bits: 28
        })
    );
    assert!(out.is_empty());
    assert_eq!(mqtt_varint_len(u32::MAX), 5);
}

#[test]
fn mqtt_varint_five_bytes_rejected() {
    for h in ["FF FF FF FF 7F", "80 80 80 80 01", "FF FF FF 80"] {
        let bytes = hex(h);
        let e = invalid(Reader::new(&bytes).mqtt_varint().unwrap_err());
        assert_eq!(e.kind, DecodeErrorKind::VarintTooLong, "{h}");
    }
}

// ---------------------------------------------------------------------------------------
// Integers

#[test]
fn uint_and_int() {
    let b = hex("01 02 03 04 05 06 07 08 FF");
    let mut r = Reader::exact(&b);
    assert_eq!(r.uint(2, ByteOrder::Big).unwrap(), 0x0102);
    assert_eq!(r.uint(2, ByteOrder::Little).unwrap(), 0x0403);
    assert_eq!(r.uint(3, ByteOrder::Little).unwrap(), 0x070605);
    assert_eq!(r.int(2, ByteOrder::Big).unwrap(), 0x08FF);
    let mut r = Reader::exact(&b);
    assert_eq!(r.uint(8, ByteOrder::Big).unwrap(), 0x0102_0304_0506_0708);
    assert_eq!(r.int(1, ByteOrder::Big).unwrap(), -1);

    let neg = hex("FE FF FF 80 00 00 00 00 00 00 00 80");
    let mut r = Reader::exact(&neg);
    assert_eq!(r.int(3, ByteOrder::Little).unwrap(), -2);
    assert_eq!(r.int(1, ByteOrder::Little).unwrap(), -128);
    assert_eq!(r.int(8, ByteOrder::Little).unwrap(), i64::MIN);

    for w in [0usize, 9, usize::MAX] {
        let mut r = Reader::exact(&b);
        let e = invalid(r.uint(w, ByteOrder::Big).unwrap_err());
        assert_eq!(e.kind, DecodeErrorKind::InvalidWidth { width: w as i128 });
        let e = invalid(r.int(w, ByteOrder::Big).unwrap_err());
        assert!(matches!(e.kind, DecodeErrorKind::InvalidWidth { .. }));
        assert_eq!(r.pos(), 0);
    }

    // Round trip through put_uint / put_int.
    for order in [ByteOrder::Big, ByteOrder::Little] {
        for n in 1..=8usize {
            let mut out = Vec::new();
            let v = 0x8877_6655_4433_2211u64 >> (64 - 8 * n);
            put_uint(&mut out, v, n, order);
            put_int(&mut out, -5, n, order);
            let mut r = Reader::exact(&out);
            assert_eq!(r.uint(n, order).unwrap(), v);
            assert_eq!(r.int(n, order).unwrap(), -5);
            r.finish().unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reader: stream vs hard, regions, strings

#[test]
fn stream_reports_incomplete_hard_reports_truncated() {
    let b = [1u8, 2, 3];
    let mut r = Reader::new(&b);
    r.field(&F_TOPIC);
    assert_eq!(r.bytes(5), Err(Fail::Incomplete(2)));
    assert_eq!(r.uint(4, ByteOrder::Big), Err(Fail::Incomplete(1)));
    assert_eq!(r.pos(), 0, "a failed read consumes nothing");
    assert_eq!(r.bytes(3).unwrap(), &b);
    assert_eq!(r.bytes(1), Err(Fail::Incomplete(1)));
    assert_eq!(r.bytes(0).unwrap(), &[] as &[u8]);

    let mut r = Reader::exact(&b);
    r.skip(1).unwrap();
    r.field(&F_TOPIC);
    let e = invalid(r.bytes(usize::MAX).unwrap_err());
    assert_eq!(
        e.kind,
        DecodeErrorKind::Truncated {
            needed: usize::MAX - 2
        }
    );
    assert_eq!(
        (e.protocol(), e.item(), e.field(), e.offset),
        ("mqtt311", "Publish", "topic", 1)
    );
    assert_eq!(e.clause(), Some("MQTT-1.5.3-1"));
    assert!(r.is_hard() && !Reader::new(&b).is_hard());
}

#[test]
fn regions_are_hard_and_absolute() {
    let b = hex("02 AA BB 05 01 02 03 04 05 FF");
    let mut r = Reader::new(&b);
    let n = r.uint(1, ByteOrder::Big).unwrap() as usize;
    let mut sub = r.region(n).unwrap();
    assert_eq!(r.pos(), 3, "parent advanced past the region");
    assert_eq!(sub.pos(), 1, "sub-reader offsets stay absolute");
    assert_eq!(sub.end(), 3);
    assert_eq!(sub.remaining(), 2);
    assert_eq!(sub.uint(1, ByteOrder::Big).unwrap(), 0xAA);
    sub.field(&F_TOPIC);
    let e = invalid(sub.bytes(2).unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 1 });
    assert_eq!(e.offset, 2);
    let e = invalid(sub.finish().unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::Trailing { count: 1 });
    assert_eq!(e.offset, 2);
    assert_eq!(sub.rest(), &[0xBB]);
    sub.finish().unwrap();
    assert_eq!(sub.rest(), &[] as &[u8]);

    let n = r.uint(1, ByteOrder::Big).unwrap() as usize;
    let mut sub = r.region(n).unwrap();
    assert_eq!(sub.rest(), &[1, 2, 3, 4, 5]);
    // Checksums may cover any absolute range of the top-level buffer.
    assert_eq!(sub.slice(0, 3), &[2, 0xAA, 0xBB]);
    assert_eq!(sub.slice(8, 100), &[5, 0xFF]);
    assert_eq!(sub.slice(5, 2), &[] as &[u8]);
    assert_eq!(sub.slice(usize::MAX, usize::MAX), &[] as &[u8]);

    // Region larger than what is left: incomplete on a stream, truncated when hard.
    assert_eq!(r.region(3).unwrap_err(), Fail::Incomplete(2));
    let e = invalid(Reader::exact(&b).region(12).unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 2 });
    // A region inside a region.
    let mut outer = Reader::new(&b).region(9).unwrap();
    outer.skip(3).unwrap();
    let mut inner = outer.region(2).unwrap();
    assert_eq!(inner.pos(), 3);
    assert_eq!(inner.rest(), &[5, 1]);
    let e = invalid(outer.region(5).unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 1 });
}

#[test]
fn cstr_behaviour() {
    let b = b"gina\0cafenet\0xy";
    let mut r = Reader::new(b);
    assert_eq!(r.cstr().unwrap(), b"gina");
    assert_eq!(r.pos(), 5);
    assert_eq!(r.cstr().unwrap(), b"cafenet");
    assert_eq!(r.cstr(), Err(Fail::Incomplete(1)));
    assert_eq!(r.pos(), 13);
    let mut r = Reader::exact(b"\0");
    assert_eq!(r.cstr().unwrap(), b"");
    let mut r = Reader::exact(b"xy");
    r.field(&F_TOPIC);
    let e = invalid(r.cstr().unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::MissingNul);
    // In a region the NUL must lie inside the region.
    let mut outer = Reader::new(b"ab\0");
    let mut sub = outer.region(2).unwrap();
    assert_eq!(
        invalid(sub.cstr().unwrap_err()).kind,
        DecodeErrorKind::MissingNul
    );
}

#[test]
fn utf8_and_display() {
    let b = [0x00, 0x03, b'a', 0xC3, 0x28];
    let mut r = Reader::new(&b);
    r.skip(2).unwrap();
    r.field(&F_TOPIC);
    let s = r.bytes(3).unwrap();
    let e = invalid(r.utf8(s).unwrap_err());
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8);
    assert_eq!(e.offset, 2);
    assert_eq!(
        e.to_string(),
        "mqtt311::Publish.topic at byte 2: invalid UTF-8 [MQTT-1.5.3-1]"
    );
    assert_eq!(r.utf8(b"caf\xC3\xA9").unwrap(), "café");
    let err: &dyn core::error::Error = &e;
    assert!(!err.to_string().is_empty());

    // Without any field announced.
    let e = invalid(Reader::exact(&[]).bytes(1).unwrap_err());
    assert_eq!(
        e.to_string(),
        "at byte 0: input ends inside the field (1 more byte needed)"
    );
}

#[test]
fn every_kind_displays() {
    let kinds = [
        DecodeErrorKind::Truncated { needed: 2 },
        DecodeErrorKind::Constraint {
            condition: "nr <= 200",
            value: 201,
        },
        DecodeErrorKind::Constant {
            expected: 4,
            found: 3,
        },
        DecodeErrorKind::Checksum {
            expected: 0x21F8,
            found: 0x21F9,
        },
        DecodeErrorKind::InvalidUtf8,
        DecodeErrorKind::MissingNul,
        DecodeErrorKind::NoArm { tag: 15 },
        DecodeErrorKind::Rejected { tag: 0 },
        DecodeErrorKind::Trailing { count: 1 },
        DecodeErrorKind::VarintTooLong,
        DecodeErrorKind::InvalidWidth { width: 3 },
        DecodeErrorKind::TooLarge { value: 1 << 70 },
        DecodeErrorKind::Transform {
            name: "iocom_zero_run",
            message: "boom",
        },
    ];
    let mut seen = std::collections::HashSet::new();
    for k in kinds {
        let e = DecodeError::new(&F_CRC, 9, k.clone());
        let s = e.to_string();
        assert!(s.starts_with("iocom::SerialFrame.crc at byte 9: "), "{s}");
        assert!(s.ends_with(" [IOCOM-4.2]"), "{s}");
        assert!(seen.insert(k.to_string()), "duplicate message {k}");
    }
    assert!(
        DecodeErrorKind::Constraint {
            condition: "nr <= 200",
            value: 201
        }
        .to_string()
        .contains("nr <= 200")
    );

    let ee = EncodeError::new(&F_TOPIC, EncodeErrorKind::ContainsNul);
    assert_eq!(
        ee.to_string(),
        "cannot encode mqtt311::Publish.topic: string contains a NUL byte [MQTT-1.5.3-1]"
    );
    for k in [
        EncodeErrorKind::OutOfRange {
            value: 256,
            bits: 8,
        },
        EncodeErrorKind::TooLong {
            len: 70000,
            max: 65535,
        },
        EncodeErrorKind::Constraint {
            condition: "x < 3",
            value: 3,
        },
        EncodeErrorKind::ContainsNul,
        EncodeErrorKind::Inconsistent {
            message: "len != data.len()",
        },
        EncodeErrorKind::InvalidWidth { width: 9 },
    ] {
        assert!(!EncodeError::new(&F_CRC, k).to_string().is_empty());
    }
    assert_eq!(
        Fail::Incomplete(2).to_string(),
        "incomplete input: 2 more bytes needed"
    );
}

#[test]
fn decode_stream_and_exact() {
    let frame = |r: &mut Reader<'_>| -> Result<(u64, Vec<u8>), Fail> {
        r.field(&F_TOPIC);
        let n = r.uint(2, ByteOrder::Little)?;
        let mut body = r.region(n as usize)?;
        let s = body.cstr()?.to_vec();
        body.finish()?;
        Ok((n, s))
    };
    let good = hex("03 00 61 62 00 99");
    assert_eq!(
        decode_stream(&good, frame),
        Ok(Decoded::Complete((3, b"ab".to_vec()), 5))
    );
    assert_eq!(decode_stream(&good[..3], frame), Ok(Decoded::Incomplete(2)));
    assert_eq!(decode_stream(&good[..0], frame), Ok(Decoded::Incomplete(2)));
    let e = decode_exact(&good, frame).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Trailing { count: 1 });
    assert_eq!(e.offset, 5);
    assert_eq!(
        decode_exact(&good[..5], frame).unwrap(),
        (3, b"ab".to_vec())
    );
    let e = decode_exact(&good[..4], frame).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 1 });
    // Trailing bytes inside the region.
    let e = decode_stream(&hex("03 00 61 00 62"), frame).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Trailing { count: 1 });
    assert_eq!(e.offset, 4);

    let d: Decoded<u8> = Decoded::Complete(1, 1);
    assert!(d.is_complete());
    assert_eq!(d.clone().map(|x| x + 1), Decoded::Complete(2, 1));
    assert_eq!(d.complete(), Some((1, 1)));
    assert_eq!(Decoded::<u8>::Incomplete(3).complete(), None);
}

#[test]
fn reader_transform_maps_errors() {
    use ferrocom_wire::transforms::ZeroRun;
    let mut r = Reader::new(&[0, 0]);
    r.field(&F_TOPIC);
    assert_eq!(
        r.transform::<ZeroRun>(&[0x00, 0x03]).unwrap(),
        vec![0, 0, 0]
    );
    let e = invalid(r.transform::<ZeroRun>(&[0x05, 0x01]).unwrap_err());
    assert!(matches!(
        e.kind,
        DecodeErrorKind::Transform {
            name: "iocom_zero_run",
            ..
        }
    ));
}

#[test]
fn reader_debug_does_not_dump_buffer() {
    let big = vec![0xABu8; 10_000];
    let r = Reader::new(&big);
    let s = format!("{r:?}");
    assert!(s.len() < 300, "{s}");
    assert!(s.contains("pos"));
}
