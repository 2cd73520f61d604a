//! Zero-run compression and delta encoding against the worked examples of the IOCOM
//! reference (§11.3, §11.4, §11.6) and the C encoder's room cut-off rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use ferrocom_wire::codec::Transform;
use ferrocom_wire::transforms::zero_run::{self, ApplyError, ApplyRange, compress};
use ferrocom_wire::transforms::{ZeroRun, delta};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn expand(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ZeroRun::decode(content, &mut out).unwrap();
    out
}

fn encode(x: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ZeroRun::encode(x, &mut out);
    out
}

/// Frame limit 1392 (socket) minus a 6-byte header.
const ROOM_TCP: usize = 1392 - 6;

/// exp key frame content (§11.6) and the 44-byte block it produces.
const EXP_KEY: &str = "00 05 01 02 02 02 80 3F 03 01 40 06 02 80 40 02
                       0A A0 40 02 67 61 62 72 69 65 6C 04 06 02 03 00 8C 22 47";
const EXP_BLOCK: &str =
    "00 00 00 00 00  02 00 00 80 3F 00 00 00 40 00 00 00 00 00 00 80 40 00 00 A0 40
                         02 67 61 62 72 69 65 6C 00 00 00  00  02  03 00 8C 22 47";

/// Captured key frames: (content, expanded length), all-zero blocks.
const ZERO_KEYS: &[(&str, usize)] = &[
    ("00 18", 24),        // imp, frank → gina
    ("00 FF 00 18", 279), // conf_imp
];

fn dexp_key() -> Vec<u8> {
    let mut c = Vec::new();
    for _ in 0..32 {
        c.extend_from_slice(&[0x00, 0xFF]);
    }
    c.extend_from_slice(&[0x00, 0x2D]);
    c
}

#[test]
fn zero_key_frames() {
    let mut cases: Vec<(Vec<u8>, usize)> = ZERO_KEYS.iter().map(|(h, n)| (hex(h), *n)).collect();
    cases.push((dexp_key(), 8205));
    assert_eq!(cases[2].0.len(), 66, "dexp key frame has 66 content bytes");
    for (content, n) in cases {
        let block = expand(&content);
        assert_eq!(block, vec![0u8; n]);
        // Encoding the expansion reproduces the captured bytes, with and without room.
        assert_eq!(encode(&block), content);
        let mut out = Vec::new();
        assert_eq!(compress(&block, ROOM_TCP, &mut out), Some(n));
        assert_eq!(out, content);
        // The serial room (96 - 7) is enough for the small ones.
        if content.len() < 89 {
            let mut out = Vec::new();
            assert_eq!(compress(&block, 96 - 7, &mut out), Some(n));
            assert_eq!(out, content);
        }
        // The receiver writes the same block.
        let mut b = vec![0x55u8; n];
        let r = zero_run::apply(&content, false, true, &mut b, 0).unwrap();
        assert_eq!(r, ApplyRange { start: 0, end: n });
        assert_eq!(b, vec![0u8; n]);
    }
}

#[test]
fn exp_key_frame() {
    let content = hex(EXP_KEY);
    let block = hex(EXP_BLOCK);
    assert_eq!(content.len(), 0x23);
    assert_eq!(block.len(), 44);
    assert_eq!(expand(&content), block);
    assert_eq!(encode(&block), content);
    let mut out = Vec::new();
    assert_eq!(compress(&block, ROOM_TCP, &mut out), Some(44));
    assert_eq!(out, content);
    // Signals named in §11.6.
    assert_eq!(&block[5..10], &[0x02, 0x00, 0x00, 0x80, 0x3F]); // testfloat state, 1.0
    assert_eq!(&block[26..34], b"\x02gabriel");
    assert_eq!(&block[39..44], &[0x03, 0x00, 0x8C, 0x22, 0x47]); // 41612.0
    assert_eq!(f32::from_le_bytes([0x00, 0x8C, 0x22, 0x47]), 41612.0);
    let mut b = vec![0xEEu8; 44];
    zero_run::apply(&content, false, true, &mut b, 0).unwrap();
    assert_eq!(b, block);
}

#[test]
fn exp_deltas() {
    let mut block = hex(EXP_BLOCK);
    // Compressed delta at address 8 (36 bytes).
    let content = hex("02 80 01 06 02 80 3F 17 03 E4 70 FF");
    let deltas = expand(&content);
    assert_eq!(deltas.len(), 36);
    assert_eq!(encode(&deltas), content);
    let mut out = Vec::new();
    assert_eq!(compress(&deltas, ROOM_TCP, &mut out), Some(36));
    assert_eq!(out, content);

    let before = block.clone();
    let r = zero_run::apply(&content, true, true, &mut block, 8).unwrap();
    assert_eq!(r, ApplyRange { start: 8, end: 44 });
    assert_eq!(r.len(), 36);
    // testfloat[0]: 00 00 80 3F + 00 00 80 01 = 00 00 00 40 (1.0 → 2.0), no carry.
    assert_eq!(&block[6..10], &[0x00, 0x00, 0x00, 0x40]);
    assert_eq!(f32::from_le_bytes(block[6..10].try_into().unwrap()), 2.0);
    // testfloat[2] 0.0 → 1.0.
    assert_eq!(f32::from_le_bytes(block[14..18].try_into().unwrap()), 1.0);
    // 6 and 23 bytes unchanged (zero runs skip in delta mode).
    assert_eq!(&block[10..16], &before[10..16]);
    assert_eq!(&block[18..41], &before[18..41]);
    assert_eq!(
        &block[41..44],
        &[
            0x8Cu8.wrapping_add(0xE4),
            0x22 + 0x70,
            0x47u8.wrapping_add(0xFF)
        ]
    );
    // The same result through the stateless pieces: expand, then delta::apply.
    let mut b2 = before.clone();
    delta::apply(&mut b2[8..], &deltas);
    assert_eq!(b2, block);

    // Raw delta: compression would give 7 bytes for 6, so the C sender sends it raw.
    let raw = hex("01 00 00 B9 E7 01");
    let mut out = vec![0xAB];
    assert_eq!(compress(&raw, ROOM_TCP, &mut out), None);
    assert_eq!(out, vec![0xAB], "None leaves out untouched");
    assert_eq!(encode(&raw).len(), 7);
    let before = block.clone();
    let r = zero_run::apply(&raw, true, false, &mut block, 0x26).unwrap();
    assert_eq!(r, ApplyRange { start: 38, end: 44 });
    assert_eq!(block[38], before[38].wrapping_add(1)); // in_x state +1
    assert_eq!(&block[39..41], &before[39..41]);
}

#[test]
fn pyserver_imp_deltas() {
    // imp (24 bytes) is all zero after frank's/pyserver's key frame.
    let mut imp = vec![0u8; 24];
    let c1 = hex("07 02 68 65 6C 6C 6F 31 0C 04 03 0A 00 03");
    let r = zero_run::apply(&c1, true, true, &mut imp, 0).unwrap();
    assert_eq!(r, ApplyRange { start: 0, end: 23 });
    // strtodevice: state 02, "hello1"; seven_segment untouched; dimmer_led state 03 value
    // 10; myoutput 03 (true); byte 23 unused.
    let mut expected = vec![0u8; 24];
    expected[0] = 0x02;
    expected[1..7].copy_from_slice(b"hello1");
    expected[19] = 0x03;
    expected[20] = 0x0A;
    expected[22] = 0x03;
    assert_eq!(imp, expected);
    assert_eq!(encode(&expand(&c1)), c1);

    // Next change ("hello2", 20, false), range 6..22.
    let c2 = hex("01 01 0D 03 0A 00 FF");
    let r = zero_run::apply(&c2, true, true, &mut imp, 6).unwrap();
    assert_eq!(r.range(), 6..23);
    expected[6] = b'2';
    expected[20] = 20;
    expected[22] = 0x02;
    assert_eq!(imp, expected);
    assert_eq!(&imp[1..7], b"hello2");
    assert_eq!(u16::from_le_bytes([imp[20], imp[21]]), 20);
    assert_eq!(encode(&expand(&c2)), c2);

    // The sender side: delta::encode of the new block against the sync copy, trimmed to
    // the changed range, compresses to exactly the captured content.
    let mut old = vec![0u8; 24];
    zero_run::apply(&c1, true, true, &mut old, 0).unwrap();
    let mut d = Vec::new();
    delta::encode(&imp[6..23], &old[6..23], &mut d);
    let mut out = Vec::new();
    assert_eq!(compress(&d, ROOM_TCP, &mut out), Some(17));
    assert_eq!(out, c2);
}

#[test]
fn serial_delta_same_as_tcp() {
    // §11.6 serial frame: 11 4C 31 13 0C 17 08 | content.
    let frame = hex("11 4C 31 13 0C 17 08 02 80 01 06 02 80 3F 17 03 41 3A 01");
    let content = &frame[7..];
    assert_eq!(content.len(), 0x0C);
    let d = expand(content);
    assert_eq!(d.len(), 36);
    assert_eq!(encode(&d), content);
}

#[test]
fn compress_room_cutoffs() {
    let zeros = vec![0u8; 8205];

    // room 10: five (00 FF) pairs fill it exactly; the next literal count does not fit.
    let mut out = Vec::new();
    assert_eq!(compress(&zeros, 10, &mut out), Some(5 * 255));
    assert_eq!(out, [0x00, 0xFF].repeat(5));

    // room 11: the literal count 0 fits, the zero count after it does not: the stream
    // ends after a literal element.
    let mut out = Vec::new();
    assert_eq!(compress(&zeros, 11, &mut out), Some(5 * 255));
    let mut expected = [0x00, 0xFF].repeat(5);
    expected.push(0x00);
    assert_eq!(out, expected);

    // Too little room for anything useful.
    for room in [0, 1] {
        let mut out = Vec::new();
        assert_eq!(compress(&zeros, room, &mut out), None, "room {room}");
        assert!(out.is_empty());
    }
    let mut out = Vec::new();
    assert_eq!(compress(&zeros[..24], 2, &mut out), Some(24));
    assert_eq!(out, [0x00, 0x18]);

    // The exp key frame cut at room 8 and 7 (stops at element boundaries).
    let block = hex(EXP_BLOCK);
    let mut out = Vec::new();
    assert_eq!(compress(&block, 8, &mut out), Some(10));
    assert_eq!(out, hex("00 05 01 02 02 02 80 3F"));
    let mut out = Vec::new();
    assert_eq!(compress(&block, 7, &mut out), Some(8));
    assert_eq!(out, hex("00 05 01 02 02"));
    // Continuing in following frames reproduces the block.
    let mut rebuilt = vec![0xEEu8; 44];
    let mut addr = 0;
    let mut frames = 0;
    while addr < block.len() {
        let mut out = Vec::new();
        let (consumed, compressed) = match compress(&block[addr..], 7, &mut out) {
            Some(consumed) => (consumed, true),
            None => {
                // Raw fallback, as the C sender does.
                out = block[addr..].iter().copied().take(7).collect();
                (out.len(), false)
            }
        };
        zero_run::apply(&out, false, compressed, &mut rebuilt, addr).unwrap();
        addr += consumed;
        frames += 1;
        assert!(out.len() <= 7);
    }
    assert_eq!(rebuilt, block);
    assert!(frames > 1);

    // A cut that leaves the output not smaller than what it consumed: None.
    let src = hex("01 02 03 04 05 00 00 00 00 00 00 00 00 00 00");
    let mut out = Vec::new();
    assert_eq!(compress(&src, 6, &mut out), None);
    let mut out = Vec::new();
    assert_eq!(compress(&src, 7, &mut out), Some(15));
    assert_eq!(out, hex("05 01 02 03 04 05 0A"));

    // Ranges shorter than 4 bytes are never compressed, even all-zero ones.
    for n in 0..4 {
        let mut out = Vec::new();
        assert_eq!(compress(&zeros[..n], 100, &mut out), None);
    }
    // Incompressible data is not compressed.
    let mut out = Vec::new();
    assert_eq!(compress(b"abcdefgh", 100, &mut out), None);
}

#[test]
fn encode_without_fallback() {
    // ZeroRun::encode always produces a stream, also where compress() says "None".
    assert_eq!(encode(&[]), Vec::<u8>::new());
    assert_eq!(encode(&[0, 0, 0]), vec![0x00, 0x03]);
    assert_eq!(encode(b"abc"), b"\x03abc".to_vec());
    assert_eq!(expand(&encode(b"abcdefgh")), b"abcdefgh");
    // Long literal: 255 + count-0 zero run + rest.
    let x = vec![1u8; 600];
    let e = encode(&x);
    assert_eq!(e.len(), 600 + 5);
    assert_eq!(expand(&e), x);
    // Long zero runs: 255 at a time, separated by literal count 0.
    let z = vec![0u8; 600];
    assert_eq!(encode(&z), hex("00 FF 00 FF 00 5A"));
}

#[test]
fn decode_malformed() {
    for bad in ["01", "05 01 02", "00 03 02 01", "00 FF 00 FF 03"] {
        let mut out = vec![7];
        assert!(ZeroRun::decode(&hex(bad), &mut out).is_err(), "{bad}");
        assert_eq!(out, vec![7]);
    }
    // Ending after either kind of element is fine; empty input is empty output.
    assert_eq!(expand(&[]), Vec::<u8>::new());
    assert_eq!(expand(&hex("00")), Vec::<u8>::new());
    assert_eq!(expand(&hex("02 01 02")), vec![1, 2]);
    assert_eq!(expand(&hex("02 01 02 03")), vec![1, 2, 0, 0, 0]);
    assert_eq!(expand(&hex("02 01 02 03 00")), vec![1, 2, 0, 0, 0]);
    // Appends to what is there.
    let mut out = vec![9];
    ZeroRun::decode(&hex("01 05 01"), &mut out).unwrap();
    assert_eq!(out, vec![9, 5, 0]);
}

#[test]
fn apply_errors_and_clipping() {
    let mut block = vec![0xAAu8; 10];
    // Address beyond the block.
    assert_eq!(
        zero_run::apply(&[1], false, false, &mut block, 11),
        Err(ApplyError::AddressBeyondBlock {
            addr: 11,
            block_size: 10
        })
    );
    assert_eq!(
        zero_run::apply(&[], false, true, &mut block, usize::MAX),
        Err(ApplyError::AddressBeyondBlock {
            addr: usize::MAX,
            block_size: 10
        })
    );
    // Literal overrun.
    let e = zero_run::apply(&hex("02 01 00 04 05 01"), false, true, &mut block, 0).unwrap_err();
    assert_eq!(
        e,
        ApplyError::LiteralOverrun {
            at: 4,
            count: 5,
            available: 1
        }
    );
    assert!(e.to_string().contains("literal"));
    // Output beyond the block end is clipped, not an error.
    let mut block = vec![0xAAu8; 10];
    let r = zero_run::apply(&hex("00 FF"), false, true, &mut block, 4).unwrap();
    assert_eq!(r, ApplyRange { start: 4, end: 10 });
    assert_eq!(block, [0xAA, 0xAA, 0xAA, 0xAA, 0, 0, 0, 0, 0, 0]);
    let r = zero_run::apply(&hex("04 01 02 03 04"), false, true, &mut block, 8).unwrap();
    assert_eq!(r.range(), 8..10);
    assert_eq!(&block[8..], &[1, 2]);
    // Once the block end is reached, the rest of the content is not examined (C).
    let mut block = vec![0u8; 2];
    let r = zero_run::apply(&hex("02 01 02 09"), false, true, &mut block, 0).unwrap();
    assert_eq!(r.range(), 0..2);
    // Raw frames clip too.
    let mut block = vec![1u8; 4];
    let r = zero_run::apply(&[5, 5, 5], true, false, &mut block, 2).unwrap();
    assert_eq!(r.range(), 2..4);
    assert_eq!(block, [1, 1, 6, 6]);
    // Address == block size: allowed, nothing covered.
    assert!(
        zero_run::apply(&[1, 2], false, false, &mut block, 4)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn expansion_bound() {
    assert_eq!(zero_run::max_expanded_len(0), 0);
    assert_eq!(zero_run::max_expanded_len(2), 255);
    assert_eq!(zero_run::max_expanded_len(66), 33 * 253 + 66);
    assert!(8205 <= zero_run::max_expanded_len(66));
    assert!(zero_run::max_expanded_len(usize::MAX) == usize::MAX);
}
