//! Property tests: round trips of every encoder/decoder pair, and "never panics" on
//! arbitrary input for every reader primitive and for the zero-run receiver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use ferrocom_wire::codec::*;
use ferrocom_wire::transforms::{ZeroRun, delta, zero_run};
use proptest::prelude::*;

/// Bytes with long zero runs and long non-zero runs, the interesting cases for zero-run
/// compression.
fn runs() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            (0usize..600).prop_map(|n| vec![0u8; n]),
            prop::collection::vec(1u8..=255, 0..300),
            prop::collection::vec(any::<u8>(), 0..20),
            Just(vec![0u8]),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn zero_run_round_trip(x in runs()) {
        let mut enc = Vec::new();
        ZeroRun::encode(&x, &mut enc);
        let mut dec = Vec::new();
        ZeroRun::decode(&enc, &mut dec).unwrap();
        prop_assert_eq!(&dec, &x);
        prop_assert!(dec.len() <= zero_run::max_expanded_len(enc.len()));
        // Unlimited compress() agrees with encode() whenever it compresses.
        let mut c = Vec::new();
        if let Some(consumed) = compress_opt(&x, usize::MAX, &mut c) {
            prop_assert_eq!(consumed, x.len());
            prop_assert_eq!(&c, &enc);
        } else {
            prop_assert!(x.len() < 4 || enc.len() >= x.len());
        }
    }

    #[test]
    fn compress_with_room(x in runs(), room in 0usize..400) {
        let mut out = Vec::new();
        match compress_opt(&x, room, &mut out) {
            Some(consumed) => {
                prop_assert!(consumed <= x.len());
                prop_assert!(out.len() < consumed);
                prop_assert!(out.len() <= room);
                let mut dec = Vec::new();
                ZeroRun::decode(&out, &mut dec).unwrap();
                prop_assert_eq!(&dec[..], &x[..consumed]);
                // The receiver writes the same bytes into a block.
                let mut block = vec![0xA5u8; consumed + 3];
                let r = zero_run::apply(&out, false, true, &mut block, 3).unwrap();
                prop_assert_eq!(r.range(), 3..consumed + 3);
                prop_assert_eq!(&block[3..], &x[..consumed]);
            }
            None => prop_assert!(out.is_empty()),
        }
    }

    #[test]
    fn zero_run_decode_any(input in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut out = Vec::new();
        if ZeroRun::decode(&input, &mut out).is_ok() {
            prop_assert!(out.len() <= zero_run::max_expanded_len(input.len()));
        } else {
            prop_assert!(out.is_empty());
        }
    }

    #[test]
    fn apply_any(
        content in prop::collection::vec(any::<u8>(), 0..300),
        size in 0usize..600,
        addr in 0usize..700,
        delta in any::<bool>(),
        compressed in any::<bool>(),
    ) {
        let mut block = vec![0x11u8; size];
        match zero_run::apply(&content, delta, compressed, &mut block, addr) {
            Ok(r) => {
                prop_assert_eq!(r.start, addr);
                prop_assert!(r.end <= size);
                prop_assert!(block[..addr.min(size)].iter().all(|&b| b == 0x11));
                prop_assert!(block[r.end..].iter().all(|&b| b == 0x11));
            }
            Err(_) => prop_assert!(addr > size || compressed),
        }
    }

    #[test]
    fn compressed_delta_apply(old in runs(), seed in any::<u64>()) {
        // new = old with some bytes changed; the sender sends zero-run(delta(new, old)).
        let mut new = old.clone();
        let mut s = seed;
        for b in new.iter_mut() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if (s >> 60) == 0 {
                *b = (s >> 32) as u8;
            }
        }
        let mut d = Vec::new();
        delta::encode(&new, &old, &mut d);
        let mut z = Vec::new();
        ZeroRun::encode(&d, &mut z);
        let mut block = old.clone();
        let r = zero_run::apply(&z, true, true, &mut block, 0).unwrap();
        prop_assert_eq!(&block, &new);
        prop_assert_eq!(r.end, old.len());
    }

    #[test]
    fn delta_round_trip(current in prop::collection::vec(any::<u8>(), 0..200), sync in prop::collection::vec(any::<u8>(), 0..200)) {
        let n = current.len().min(sync.len());
        let mut d = Vec::new();
        delta::encode(&current[..n], &sync[..n], &mut d);
        prop_assert_eq!(d.len(), n);
        let mut target = sync[..n].to_vec();
        delta::apply(&mut target, &d);
        prop_assert_eq!(&target[..], &current[..n]);
        // Bytes past the sync copy are taken relative to zero.
        let mut d = Vec::new();
        delta::encode(&current, &[], &mut d);
        prop_assert_eq!(&d, &current);
    }

    #[test]
    fn intser_round_trip(v in any::<i64>()) {
        let mut out = Vec::new();
        put_intser(&mut out, v);
        prop_assert_eq!(out.len(), intser_len(v));
        out.push(0xEE);
        let mut r = Reader::new(&out);
        prop_assert_eq!(r.intser().unwrap(), v);
        prop_assert_eq!(r.remaining(), 1);
        // Every proper prefix is incomplete.
        for cut in 0..out.len() - 1 {
            prop_assert!(matches!(Reader::new(&out[..cut]).intser(), Err(Fail::Incomplete(_))));
        }
    }

    #[test]
    fn intser_small_values(v in -100_000i64..100_000) {
        let mut out = Vec::new();
        put_intser(&mut out, v);
        prop_assert_eq!(Reader::exact(&out).intser().unwrap(), v);
    }

    #[test]
    fn varint_round_trip(v in 0u32..=MQTT_VARINT_MAX) {
        let mut out = Vec::new();
        put_mqtt_varint(&mut out, v).unwrap();
        prop_assert_eq!(out.len(), mqtt_varint_len(v));
        let mut r = Reader::exact(&out);
        prop_assert_eq!(r.mqtt_varint().unwrap(), v);
        prop_assert!(r.finish().is_ok());
    }

    #[test]
    fn ints_round_trip(v in any::<i64>(), n in 1usize..=8, big in any::<bool>()) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        let bits = 8 * n as u32;
        let mut out = Vec::new();
        put_int(&mut out, v, n, order);
        put_uint(&mut out, v as u64, n, order);
        prop_assert_eq!(out.len(), 2 * n);
        let mut r = Reader::exact(&out);
        let i = r.int(n, order).unwrap();
        let u = r.uint(n, order).unwrap();
        if fits_int(v.into(), bits) {
            prop_assert_eq!(i, v);
        }
        if fits_uint(v.into(), bits) {
            prop_assert_eq!(u as i64, v);
        }
        prop_assert!(fits_int(i.into(), bits));
        prop_assert!(fits_uint(u.into(), bits));
    }

    #[test]
    fn crc_zeroed_equals_manual(mut frame in prop::collection::vec(any::<u8>(), 0..100), off in 0usize..110, w in 0usize..4) {
        let got = crc16_modbus_zeroed(&frame, off, w);
        for b in frame.iter_mut().skip(off).take(w) {
            *b = 0;
        }
        prop_assert_eq!(got, crc16_modbus(&frame));
    }

    /// Every reader primitive, in any order, on any input: never panics, never reads past
    /// its end, and a failure consumes nothing.
    #[test]
    fn reader_never_panics(input in prop::collection::vec(any::<u8>(), 0..64), ops in prop::collection::vec((0u8..12, 0usize..12), 0..24), hard in any::<bool>()) {
        let mut r = if hard { Reader::exact(&input) } else { Reader::new(&input) };
        let mut stack = Vec::new();
        for (op, n) in ops {
            let before = r.pos();
            let res: Result<(), Fail> = match op {
                0 => r.uint(n, ByteOrder::Big).map(drop),
                1 => r.int(n, ByteOrder::Little).map(drop),
                2 => r.bytes(n).map(drop),
                3 => r.mqtt_varint().map(drop),
                4 => r.intser().map(drop),
                5 => r.cstr().map(|s| { let _ = r.utf8(s); }),
                6 => r.region(n).map(|sub| stack.push(sub)),
                7 => { r.rest(); Ok(()) }
                8 => r.finish(),
                9 => match stack.pop() { Some(sub) => { r = sub; Ok(()) } None => Ok(()) },
                10 => r.peek(n).map(drop),
                _ => { let _ = r.slice(n, before); Ok(()) }
            };
            prop_assert!(r.pos() <= r.end());
            prop_assert!(r.end() <= input.len());
            match res {
                Ok(()) => {}
                Err(Fail::Incomplete(k)) => {
                    prop_assert!(k >= 1);
                    prop_assert!(!r.is_hard());
                    prop_assert_eq!(r.pos(), before);
                }
                Err(Fail::Invalid(e)) => {
                    prop_assert_eq!(r.pos(), before);
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}

fn compress_opt(x: &[u8], room: usize, out: &mut Vec<u8>) -> Option<usize> {
    zero_run::compress(x, room, out)
}
