//! The generated sensor codec: encoding, decoding, streaming, and the errors a receiver
//! gets for a bad checksum, a bad magic number, an unsupported version and an unknown
//! reading type.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrocom_example_build_codec::sensor::{Reading, Status, Telemetry};
use ferrocom_wire::codec::{DecodeErrorKind, Decoded, crc16_modbus};

fn frame() -> Telemetry<'static> {
    Telemetry {
        version: 1,
        status: Status::CALIBRATED | Status::ALARM,
        name: "boiler",
        reading: Reading::Temperature(-1250), // -12.50 °C
    }
}

/// The bytes of `frame()`, written out by hand from the spec.
fn expected() -> Vec<u8> {
    let mut b = vec![0x53, 0x4E, 0x01, 0x06, 0x06];
    b.extend_from_slice(b"boiler");
    b.push(0x01);
    b.extend_from_slice(&(-1250i16).to_le_bytes());
    // CRC-16/MODBUS over the frame with the checksum bytes as zeros, low byte first.
    b.extend_from_slice(&[0, 0]);
    let crc = crc16_modbus(&b);
    let n = b.len();
    b[n - 2..].copy_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn encodes_and_decodes() {
    let mut out = Vec::new();
    let n = frame().encode(&mut out).unwrap();
    assert_eq!(out, expected());
    assert_eq!(n, 16);
    assert_eq!(frame().encoded_len(), n);
    assert_eq!(
        Telemetry::decode(&out).unwrap(),
        Decoded::Complete(frame(), 16)
    );
    assert_eq!(Telemetry::decode_exact(&out).unwrap(), frame());

    for reading in [Reading::Humidity(4550), Reading::Counter(70_000)] {
        let t = Telemetry { reading, ..frame() };
        let mut out = Vec::new();
        t.encode(&mut out).unwrap();
        assert_eq!(Telemetry::decode_exact(&out).unwrap(), t);
    }
}

#[test]
fn streams_frame_by_frame() {
    let mut stream = expected();
    stream.extend_from_slice(&expected());
    let mut rest = &stream[..];
    let mut frames = 0;
    while !rest.is_empty() {
        // Every strict prefix asks for more bytes.
        for cut in 0..16 {
            assert!(matches!(
                Telemetry::decode(&rest[..cut]),
                Ok(Decoded::Incomplete(k)) if k >= 1 && k <= 16 - cut
            ));
        }
        let Decoded::Complete(t, used) = Telemetry::decode(rest).unwrap() else {
            panic!("incomplete")
        };
        assert_eq!(t, frame());
        rest = &rest[used..];
        frames += 1;
    }
    assert_eq!(frames, 2);
}

#[test]
fn bad_checksum_is_reported() {
    let mut bytes = expected();
    bytes[12] ^= 0x40; // inside the reading
    let e = Telemetry::decode(&bytes).unwrap_err();
    assert_eq!(
        (e.item(), e.field(), e.offset, e.clause()),
        ("Telemetry", "checksum", 14, Some("SENSOR-1.5"))
    );
    let stored = u64::from(u16::from_le_bytes([bytes[14], bytes[15]]));
    assert!(matches!(e.kind, DecodeErrorKind::Checksum { found, .. } if found == stored));
    assert!(
        e.to_string()
            .starts_with("sensor::Telemetry.checksum at byte 14: checksum mismatch"),
        "{e}"
    );
}

#[test]
fn other_errors_name_field_and_clause() {
    let mut bad_magic = expected();
    bad_magic[0] = 0x54;
    let e = Telemetry::decode(&bad_magic).unwrap_err();
    assert_eq!(
        (e.field(), e.offset, e.clause()),
        ("magic", 0, Some("SENSOR-1.2"))
    );
    assert_eq!(
        e.kind,
        DecodeErrorKind::Constant {
            expected: 0x534E,
            found: 0x544E
        }
    );

    let mut version_2 = expected();
    version_2[2] = 2;
    let e = Telemetry::decode(&version_2).unwrap_err();
    assert_eq!(
        (e.field(), e.offset, e.clause()),
        ("version", 2, Some("SENSOR-1.3"))
    );

    let mut kind_9 = expected();
    kind_9[11] = 9;
    let e = Telemetry::decode(&kind_9).unwrap_err();
    assert_eq!(e.clause(), Some("SENSOR-1.6"), "{e}");
    assert_eq!(e.kind, DecodeErrorKind::Rejected { tag: 9 });

    // The encoder refuses a name the decoder would reject.
    let long = Telemetry {
        name: "a-name-longer-than-16",
        ..frame()
    };
    let e = long.encode(&mut Vec::new()).unwrap_err();
    assert_eq!((e.field(), e.clause()), ("name", Some("SENSOR-1.4")));
}
