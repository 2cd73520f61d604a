//! `decode_wire` (the heap-free decode a device uses): every item of every captured IOCOM
//! stream decodes to the same item as with `decode`, except that compressed content keeps
//! its wire bytes, which expand to what `decode` gives; a bad zero-run stream is the same
//! error either way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ferrocom_wire::codec::{Decoded, Transform};
use ferrocom_wire::iocom::{
    ClientHandshake, FrameFlags, SerialBody, SerialItem, SocketBody, SocketItem,
};
use ferrocom_wire::transforms::ZeroRun;

fn stream(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors/iocom")
        .join(format!("{name}.bin"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expand(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ZeroRun::decode(wire, &mut out).unwrap();
    out
}

/// Compares content decoded both ways; returns whether it was compressed.
fn same_content(flags: FrameFlags, expanded: &[u8], wire: &[u8], ctx: &str) -> bool {
    if flags.contains(FrameFlags::COMPRESSED) {
        assert_eq!(expand(wire), expanded, "{ctx}");
        true
    } else {
        assert_eq!(wire, expanded, "{ctx}");
        false
    }
}

#[test]
fn socket_streams_decode_alike() {
    let mut compressed = 0;
    for name in [
        "tcp-frank-gina.device-to-server",
        "tcp-frank-gina.server-to-device",
        "tcp-pyserver-gina.device-to-server",
        "tcp-pyserver-gina.server-to-device",
    ] {
        let bin = stream(name);
        let mut pos = 0;
        if name.ends_with("device-to-server") {
            let Decoded::Complete(_, n) = ClientHandshake::decode(&bin).unwrap() else {
                panic!("{name}: handshake");
            };
            pos = n;
        }
        while pos < bin.len() {
            let buf = &bin[pos..];
            let ctx = format!("{name} at {pos}");
            let (Decoded::Complete(a, n), Decoded::Complete(b, m)) = (
                SocketItem::decode(buf).unwrap(),
                SocketItem::decode_wire(buf).unwrap(),
            ) else {
                panic!("{ctx}: incomplete");
            };
            assert_eq!(n, m, "{ctx}");
            match (a.body, b.body) {
                (SocketBody::Numbered(a), SocketBody::Numbered(b)) => {
                    assert_eq!(
                        (a.nr, a.flags, a.extra, a.mblk, a.addr),
                        (b.nr, b.flags, b.extra, b.mblk, b.addr),
                        "{ctx}"
                    );
                    compressed += usize::from(same_content(a.flags, &a.data, &b.data, &ctx));
                }
                (a, b) => assert_eq!(a, b, "{ctx}"),
            }
            pos += n;
        }
    }
    assert!(compressed > 100, "only {compressed} compressed frames");
}

#[test]
fn serial_streams_decode_alike() {
    let mut compressed = 0;
    for name in [
        "serial-frank-gina.device-to-server",
        "serial-frank-gina.server-to-device",
    ] {
        let bin = stream(name);
        let mut pos = 0;
        while pos < bin.len() {
            let buf = &bin[pos..];
            let ctx = format!("{name} at {pos}");
            let (Decoded::Complete(a, n), Decoded::Complete(b, m)) = (
                SerialItem::decode(buf).unwrap(),
                SerialItem::decode_wire(buf).unwrap(),
            ) else {
                panic!("{ctx}: incomplete");
            };
            assert_eq!(n, m, "{ctx}");
            match (a.body, b.body) {
                (SerialBody::Numbered(a), SerialBody::Numbered(b)) => {
                    assert_eq!(
                        (a.nr, a.flags, a.mblk, a.addr),
                        (b.nr, b.flags, b.mblk, b.addr)
                    );
                    compressed += usize::from(same_content(a.flags, &a.data, &b.data, &ctx));
                }
                (a, b) => assert_eq!(a, b, "{ctx}"),
            }
            pos += n;
        }
    }
    assert!(compressed > 10, "only {compressed} compressed frames");
}

#[test]
fn a_bad_zero_run_stream_is_the_same_error() {
    // Frame 0, COMPRESSED | SYNC, 3 content bytes, block 23, address 0: a literal of 5
    // bytes with 2 present.
    let frame = [0x00, 0x12, 3, 0, 23, 0, 5, 1, 2];
    let a = SocketItem::decode(&frame).unwrap_err();
    let b = SocketItem::decode_wire(&frame).unwrap_err();
    assert_eq!(a, b);
    assert!(a.to_string().contains("literal run"), "{a}");
    // Incomplete is reported alike too.
    assert_eq!(
        SocketItem::decode_wire(&frame[..5]).unwrap(),
        SocketItem::decode(&frame[..5]).unwrap()
    );
}
