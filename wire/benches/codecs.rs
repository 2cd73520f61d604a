//! Codec benchmarks (results and method: BENCHMARKS.md, "Codecs").
//!
//! * `mqtt_publish_qos1/{decode,encode}/{ours,rumqttc}/{16B,1KiB}`: one MQTT 3.1.1
//!   PUBLISH, QoS 1, topic `ferrocom/bench/temperature` (26 bytes), packet id 42, with a
//!   16-byte and a 1 KiB payload. The generated codec (`ferrocom_wire::mqtt311`) and
//!   rumqttc's hand-written `mqttbytes::v4` in the same run, on the same bytes (asserted
//!   equal before measuring).
//!   - decode: a receive buffer holding 1000 copies of the packet back to back is decoded
//!     packet by packet, as a connection does; the time is per packet. Ours:
//!     `Packet::decode(&buf[at..])` (borrows topic and payload from the input), advancing
//!     by the bytes consumed. rumqttc: `v4::Packet::read(&mut buf, max)` on a reused
//!     `BytesMut`, which splits each packet off the buffer. Filling the buffer is not
//!     timed (a socket reader has the bytes there already); dropping each decoded packet
//!     is (rumqttc's owns a `String` topic and a shared `Bytes` payload).
//!   - encode: into a reused buffer, cleared before each call (`Vec` for ours, `BytesMut`
//!     for rumqttc), from a packet built beforehand.
//! * `iocom_data_frame/{decode,encode}/{key44,delta1KiB}/{plain,compressed}`: one IOCOM
//!   socket data frame (`iocom::SocketItem`), a 44-byte memory block key frame and a
//!   1 KiB block delta frame, without and with zero-run compression (FLAGS 0x10/0x12 and
//!   0x11/0x13, the values the C library sends; the compressed content is asserted equal to
//!   what the C encoder produces).
//!   Decoding a compressed frame expands the content into an owned buffer; encoding
//!   compresses it.
//!
//! Throughput is bytes of the encoded packet/frame per second.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{FrameFlags, SocketBody, SocketFrame, SocketItem};
use ferrocom_wire::mqtt311::{Packet, PacketBody, Publish, PublishHeader};
use ferrocom_wire::transforms::zero_run::compress;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4;

const TOPIC: &str = "ferrocom/bench/temperature";

/// Packets per decoded stream (see `mqtt`).
const STREAM: usize = 1000;

/// Deterministic payload bytes (no zero runs, nothing special).
fn payload(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

fn mqtt(c: &mut Criterion) {
    let mut g = c.benchmark_group("mqtt_publish_qos1");
    for (label, size) in [("16B", 16usize), ("1KiB", 1024)] {
        let body = payload(size);
        let ours = Packet {
            body: PacketBody::Publish(Publish {
                header: PublishHeader {
                    dup: false,
                    qos: 1,
                    retain: false,
                },
                topic: TOPIC,
                packet_id: Some(42),
                payload: &body,
            }),
        };
        let theirs = v4::Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: TOPIC.to_owned(),
            pkid: 42,
            payload: Bytes::copy_from_slice(&body),
        };

        // Same inputs: both encoders produce the same bytes, both decoders read them back.
        let mut bytes = Vec::new();
        ours.encode(&mut bytes).unwrap();
        let mut theirs_bytes = BytesMut::new();
        theirs.write(&mut theirs_bytes).unwrap();
        assert_eq!(bytes, &theirs_bytes[..], "the two encoders disagree");
        assert_eq!(
            v4::Packet::read(&mut BytesMut::from(&bytes[..]), usize::MAX).unwrap(),
            v4::Packet::Publish(theirs.clone())
        );
        assert!(
            matches!(Packet::decode(&bytes), Ok(Decoded::Complete(ref p, n)) if *p == ours && n == bytes.len())
        );

        g.throughput(Throughput::Bytes(bytes.len() as u64));
        // Decoding: a stream of STREAM copies of the packet back to back, read packet by
        // packet, as a connection's receive buffer is; per-packet time.
        let stream = bytes.repeat(STREAM);
        g.bench_function(format!("decode/ours/{label}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(STREAM as u64) as usize;
                    let input = &stream[..n * bytes.len()];
                    let start = Instant::now();
                    let mut at = 0;
                    while at < input.len() {
                        match Packet::decode(black_box(&input[at..])) {
                            Ok(Decoded::Complete(p, used)) => {
                                black_box(&p);
                                at += used;
                            }
                            _ => unreachable!(),
                        }
                    }
                    total += start.elapsed();
                    left -= n as u64;
                }
                total
            })
        });
        let mut buf = BytesMut::with_capacity(stream.len());
        g.bench_function(format!("decode/rumqttc/{label}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(STREAM as u64) as usize;
                    // Refill the reused receive buffer (not timed).
                    buf.clear();
                    buf.extend_from_slice(&stream[..n * bytes.len()]);
                    let start = Instant::now();
                    while !buf.is_empty() {
                        let p = v4::Packet::read(black_box(&mut buf), usize::MAX).unwrap();
                        black_box(&p);
                    }
                    total += start.elapsed();
                    left -= n as u64;
                }
                total
            })
        });
        let mut out = Vec::with_capacity(2048);
        g.bench_function(format!("encode/ours/{label}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(&ours).encode(&mut out).unwrap();
                black_box(out.len())
            })
        });
        let mut buf = BytesMut::with_capacity(2048);
        g.bench_function(format!("encode/rumqttc/{label}"), |b| {
            b.iter(|| {
                buf.clear();
                black_box(&theirs).write(&mut buf).unwrap();
                black_box(buf.len())
            })
        });
    }
    g.finish();
}

/// 44-byte block, as an IOCOM memory block typically looks: signals of a state byte and a
/// 4-byte little-endian value whose high bytes are zero (8 of them, then a 3-byte one).
/// The C sender compresses it (36 content bytes instead of 44).
fn key_block() -> Vec<u8> {
    let mut b: Vec<u8> = (0..8u8).flat_map(|i| [0x01, 20 + i * 9, 0, 0, 0]).collect();
    b.extend_from_slice(&[0x01, 0x64, 0, 0]);
    b
}

/// 1 KiB delta: the per-byte difference to the previous block content, zero except for
/// 24 changed bytes spread over the block.
fn delta_block() -> Vec<u8> {
    let mut d = vec![0u8; 1024];
    for i in 0..24usize {
        d[i * 41 + 5] = (i as u8).wrapping_mul(37) | 1;
    }
    d
}

fn iocom(c: &mut Criterion) {
    let mut g = c.benchmark_group("iocom_data_frame");
    // FLAGS as the C library sends these frames (reference §4.3, captured): a whole block in
    // one frame has SYNC, so 0x10 / 0x12 (compressed) key frames, 0x11 / 0x13 delta frames.
    let blocks = [
        ("key44", key_block(), FrameFlags::SYNC),
        (
            "delta1KiB",
            delta_block(),
            FrameFlags(FrameFlags::SYNC.0 | FrameFlags::DELTA.0),
        ),
    ];
    for (label, data, kind) in &blocks {
        for (mode, extra) in [
            ("plain", FrameFlags(0)),
            ("compressed", FrameFlags::COMPRESSED),
        ] {
            let item = SocketItem {
                body: SocketBody::Numbered(SocketFrame {
                    nr: 17,
                    flags: FrameFlags(kind.0 | extra.0),
                    extra: None,
                    mblk: 3,
                    addr: 0,
                    data: Cow::Borrowed(&data[..]),
                }),
            };
            let mut bytes = Vec::new();
            item.encode(&mut bytes).unwrap();
            if extra.0 != 0 {
                // The content is what the C sender would send: its encoder compresses the
                // whole block into exactly these bytes (the header here is 6 bytes).
                let mut c = Vec::new();
                assert_eq!(compress(data, usize::MAX, &mut c), Some(data.len()));
                assert_eq!(&bytes[6..], &c[..]);
            }
            match SocketItem::decode(&bytes) {
                Ok(Decoded::Complete(back, n)) => assert!(back == item && n == bytes.len()),
                other => panic!("{other:?}"),
            }

            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_function(format!("decode/{label}/{mode}"), |b| {
                b.iter(|| SocketItem::decode(black_box(&bytes)).unwrap())
            });
            let mut out = Vec::with_capacity(2048);
            g.bench_function(format!("encode/{label}/{mode}"), |b| {
                b.iter(|| {
                    out.clear();
                    black_box(&item).encode(&mut out).unwrap();
                    black_box(out.len())
                })
            });
        }
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30)
}

criterion_group! {
    name = codecs;
    config = config();
    targets = mqtt, iocom
}
criterion_main!(codecs);
