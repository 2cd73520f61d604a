//! Writes the seed corpora `fuzz/corpus/<target>/` (tens of files per target, not
//! thousands) from the captured IOCOM streams and fixtures in `../shared` and from
//! canonical encodings of generated messages. Deterministic; fetches nothing.
//!
//! ```sh
//! cd fuzz && cargo +nightly run --example make_corpus
//! ```
//!
//! The seeds are committed; rerun this only to change them. It replaces the files of
//! every corpus directory it writes (and only those directories).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::packed_json::{self, PackOptions};
use ferrocom_wire::{iocom, mqtt311, switchbox};

/// Seeds of one target: file name → bytes.
#[derive(Default)]
struct Seeds(BTreeMap<String, Vec<u8>>);

impl Seeds {
    /// Adds a seed unless the same bytes are already there.
    fn add(&mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        let bytes = bytes.into();
        if !self.0.values().any(|b| *b == bytes) {
            self.0.insert(name.into(), bytes);
        }
    }

    fn write(&self, dir: &Path) {
        if dir.exists() {
            fs::remove_dir_all(dir).unwrap();
        }
        fs::create_dir_all(dir).unwrap();
        for (name, bytes) in &self.0 {
            fs::write(dir.join(name), bytes).unwrap();
        }
        println!("{:>4} seeds  {}", self.0.len(), dir.display());
    }
}

/// One item of a captured stream (a line of the `.jsonl` file).
struct CapturedItem {
    offset: usize,
    length: usize,
    kind: String,
}

/// The value of `"key":` in a flat JSON line (numbers and plain strings only).
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let at = line
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + pat.len();
    let rest = &line[at..];
    if let Some(s) = rest.strip_prefix('"') {
        &s[..s.find('"').unwrap()]
    } else {
        &rest[..rest.find([',', '}']).unwrap()]
    }
}

/// A captured stream and its items.
fn stream(shared: &Path, name: &str) -> (Vec<u8>, Vec<CapturedItem>) {
    let dir = shared.join("vectors/iocom");
    let bytes = fs::read(dir.join(format!("{name}.bin"))).unwrap();
    let items = fs::read_to_string(dir.join(format!("{name}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| CapturedItem {
            offset: field(l, "offset").parse().unwrap(),
            length: field(l, "length").parse().unwrap(),
            kind: field(l, "kind").to_string(),
        })
        .collect();
    (bytes, items)
}

/// Deterministic pseudo-random bytes (xorshift64).
struct Rng(u64);

impl Rng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 >> 32) as u8
            })
            .collect()
    }

    fn below(&mut self, n: usize) -> usize {
        let b = self.bytes(4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize % n
    }
}

/// Canonical encodings of generated messages, one per distinct `shape` (at most `per`
/// each), searched over deterministic random inputs.
fn generated<T, S: Ord>(
    rng: &mut Rng,
    want: usize,
    per: usize,
    make: impl Fn(&mut Unstructured<'_>) -> Option<(T, Vec<u8>)>,
    shape: impl Fn(&T, &[u8]) -> S,
) -> Vec<Vec<u8>> {
    let mut seen: BTreeMap<S, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for _ in 0..20_000 {
        if out.len() >= want {
            break;
        }
        let len = 16 + rng.below(400);
        let raw = rng.bytes(len);
        if let Some((msg, bytes)) = make(&mut Unstructured::new(&raw)) {
            let n = seen.entry(shape(&msg, &bytes)).or_default();
            if *n < per && bytes.len() <= 2048 {
                *n += 1;
                out.push(bytes);
            }
        }
    }
    out
}

macro_rules! encodings {
    ($ty:ty, $rng:expr, $want:expr, $per:expr, $shape:expr) => {
        generated(
            $rng,
            $want,
            $per,
            |u| {
                let m = <$ty>::arbitrary(u).ok()?;
                let mut b = Vec::new();
                m.encode(&mut b).ok()?;
                Some(((), b))
            },
            $shape,
        )
    };
}

/// Random fuzz inputs for a round-trip target on which `ok` holds, one per distinct
/// `shape` (the first input byte, say), at most `want` in all.
fn round_trip_inputs<S: Ord>(
    rng: &mut Rng,
    want: usize,
    accept: impl Fn(&[u8]) -> Option<S>,
) -> Vec<Vec<u8>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for _ in 0..50_000 {
        if out.len() >= want {
            break;
        }
        let len = 32 + rng.below(480);
        let raw = rng.bytes(len);
        if let Some(s) = accept(&raw)
            && seen.insert(s)
        {
            out.push(raw);
        }
    }
    out
}

fn main() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = fuzz.join("../../shared");
    let main_repo = fuzz.join("..");
    let corpus = fuzz.join("corpus");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // ----- captured IOCOM streams -------------------------------------------------------
    let tcp = [
        "tcp-frank-gina.device-to-server",
        "tcp-frank-gina.server-to-device",
        "tcp-pyserver-gina.device-to-server",
        "tcp-pyserver-gina.server-to-device",
    ];
    let serial = [
        "serial-frank-gina.device-to-server",
        "serial-frank-gina.server-to-device",
    ];
    let mut socket = Seeds::default();
    let mut serial_seeds = Seeds::default();
    let mut system = Seeds::default();
    let mut handshake = Seeds::default();
    let mut zero_run = Seeds::default();

    for (names, is_serial) in [(&tcp[..], false), (&serial[..], true)] {
        for name in names {
            let (bytes, items) = stream(&shared, name);
            let short = name
                .replace("device-to-server", "d2s")
                .replace("server-to-device", "s2d");
            // Data frames: one per (flags, content size bucket), a few per stream.
            let mut shapes = BTreeSet::new();
            let mut acks = 0;
            for it in &items {
                let frame = &bytes[it.offset..it.offset + it.length];
                let file = format!("{short}.{:05}.{}", it.offset, it.kind);
                let keep = match it.kind.as_str() {
                    "handshake" => {
                        handshake.add(file.clone(), frame);
                        false
                    }
                    "ack" => {
                        acks += 1;
                        acks <= 2
                    }
                    "data" => {
                        let flags = frame[if is_serial { 3 } else { 1 }];
                        shapes.len() < 7 && shapes.insert((flags, it.length.ilog2()))
                    }
                    _ => true,
                };
                if !keep {
                    continue;
                }
                let target = if is_serial {
                    &mut serial_seeds
                } else {
                    &mut socket
                };
                target.add(file.clone(), frame);
                // System frame contents and compressed data frame contents.
                let decoded = if is_serial {
                    iocom::SerialItem::decode(frame).ok().and_then(|d| match d {
                        Decoded::Complete(
                            iocom::SerialItem {
                                body: iocom::SerialBody::Numbered(f),
                            },
                            _,
                        ) => Some((f.flags, f.data.len(), f.mblk)),
                        _ => None,
                    })
                } else {
                    iocom::SocketItem::decode(frame).ok().and_then(|d| match d {
                        Decoded::Complete(
                            iocom::SocketItem {
                                body: iocom::SocketBody::Numbered(f),
                            },
                            _,
                        ) => Some((f.flags, f.data.len(), f.mblk)),
                        _ => None,
                    })
                };
                let Some((flags, _, _)) = decoded else {
                    continue;
                };
                // The content as sent: the bytes after the header.
                let size = if is_serial {
                    usize::from(frame[4])
                } else {
                    usize::from(u16::from_le_bytes([frame[2], frame[3]]))
                };
                let content = &frame[frame.len() - size..];
                if flags.contains(iocom::FrameFlags::SYSTEM) {
                    system.add(format!("{file}.content"), content);
                } else if flags.contains(iocom::FrameFlags::COMPRESSED) {
                    // zero_run: flags, block size (LE), address byte, then the content.
                    let mode = u8::from(flags.contains(iocom::FrameFlags::DELTA)) | 2;
                    let seed: Vec<u8> = [mode, 0x17, 0x01, 0x10]
                        .into_iter()
                        .chain(content.iter().copied())
                        .collect();
                    zero_run.add(format!("{file}.content"), seed);
                }
            }
            // A piece of the stream with several items back to back.
            let start = items.iter().map(|i| i.offset).nth(3).unwrap_or(0);
            let end = (start + 200).min(bytes.len());
            let target = if is_serial {
                &mut serial_seeds
            } else {
                &mut socket
            };
            target.add(
                format!("{short}.{start:05}.stream-piece"),
                &bytes[start..end],
            );
        }
    }

    for (i, b) in encodings!(iocom::SocketItem<'_>, &mut rng, 10, 2, |_, b: &[u8]| (
        b[0] == 0xFF,
        b.get(1).map(|f| f & 0xA6)
    ))
    .into_iter()
    .enumerate()
    {
        socket.add(format!("generated.{i:02}"), b);
    }
    for (i, b) in encodings!(iocom::SerialItem<'_>, &mut rng, 10, 1, |_, b: &[u8]| (
        b[0].min(0xF0),
        b.get(3).map(|f| f & 0xA6)
    ))
    .into_iter()
    .enumerate()
    {
        serial_seeds.add(format!("generated.{i:02}"), b);
    }
    for (i, b) in encodings!(iocom::SystemMessage<'_>, &mut rng, 8, 2, |_, b: &[u8]| b[0]
        .min(4))
    .into_iter()
    .enumerate()
    {
        system.add(format!("generated.{i:02}"), b);
    }
    handshake.add("tls-mark", [0x5B]);
    handshake.add("certificate-answer.none", [0x00, 0x00]);
    handshake.add(
        "client-handshake.switchbox-service",
        *b"\x52\x08cafenet\x00",
    );
    for (i, b) in encodings!(iocom::ClientHandshake<'_>, &mut rng, 4, 2, |_, b: &[u8]| b
        [0])
    .into_iter()
    .enumerate()
    {
        handshake.add(format!("generated.client-handshake.{i:02}"), b);
    }
    for (i, b) in encodings!(
        iocom::CertificateAnswer<'_>,
        &mut rng,
        3,
        1,
        |_, b: &[u8]| b.len().min(40) / 20
    )
    .into_iter()
    .enumerate()
    {
        handshake.add(format!("generated.certificate-answer.{i:02}"), b);
    }
    for (i, hand) in [
        &[0x00, 0xFF, 0x00, 0xFF][..],
        &[0x03, 1, 0, 2, 0x05, 0x02, 9, 9][..],
        &[0xFF][..],
        &[][..],
    ]
    .into_iter()
    .enumerate()
    {
        let seed: Vec<u8> = [3u8, 0x30, 0x00, 0x80]
            .into_iter()
            .chain(hand.iter().copied())
            .collect();
        zero_run.add(format!("hand.{i:02}"), seed);
    }

    socket.write(&corpus.join("iocom_socket"));
    serial_seeds.write(&corpus.join("iocom_serial"));
    system.write(&corpus.join("iocom_system"));
    handshake.write(&corpus.join("iocom_handshake"));
    zero_run.write(&corpus.join("zero_run"));

    // ----- switchbox ---------------------------------------------------------------------
    let mut sb = Seeds::default();
    sb.add("keepalive", [0, 0, 0xFD, 0xFF, 0xFF, 0xFF]);
    sb.add("new-connection", [1, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
    sb.add("connection-dropped", [1, 0, 0xFE, 0xFF, 0xFF, 0xFF]);
    {
        // A Data message carrying the start of a captured IOCOM stream.
        let (bytes, items) = stream(&shared, "tcp-frank-gina.device-to-server");
        let piece = &bytes[items[1].offset..items[1].offset + 60];
        let mut m = vec![2, 0];
        m.extend_from_slice(&(piece.len() as i32).to_le_bytes());
        m.extend_from_slice(piece);
        sb.add("data.iocom-stream", m);
    }
    for (i, b) in encodings!(switchbox::Message<'_>, &mut rng, 10, 3, |_, b: &[u8]| b[2]
        .min(4))
    .into_iter()
    .enumerate()
    {
        sb.add(format!("generated.{i:02}"), b);
    }
    sb.write(&corpus.join("switchbox"));

    // ----- MQTT --------------------------------------------------------------------------
    let mut mqtt = Seeds::default();
    mqtt.add(
        "readme.publish",
        [0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i'],
    );
    for (i, b) in encodings!(mqtt311::Packet<'_>, &mut rng, 30, 2, |_, b: &[u8]| b[0]
        >> 4)
    .into_iter()
    .enumerate()
    {
        mqtt.add(format!("generated.type{:02}.{i:02}", b[0] >> 4), b);
    }
    mqtt.write(&corpus.join("mqtt311"));

    // ----- round-trip targets ------------------------------------------------------------
    let mut rt = Seeds::default();
    for (i, b) in round_trip_inputs(&mut rng, 27, |raw| {
        // Up to three inputs per message type (the first byte chooses it, mod 9) that
        // build a message.
        let which = raw[0] % 9;
        let mut u = Unstructured::new(&raw[1..]);
        let ok = match which {
            0 => iocom::SocketItem::arbitrary(&mut u).is_ok(),
            1 => iocom::SerialItem::arbitrary(&mut u).is_ok(),
            2 => iocom::ClientHandshake::arbitrary(&mut u).is_ok(),
            3 => iocom::TlsMark::arbitrary(&mut u).is_ok(),
            4 => iocom::CertificateAnswer::arbitrary(&mut u).is_ok(),
            5 => iocom::SystemMessage::arbitrary(&mut u).is_ok(),
            6 => iocom::Authentication::arbitrary(&mut u).is_ok(),
            7 => iocom::MemoryBlockInfo::arbitrary(&mut u).is_ok(),
            _ => iocom::RemoveRequest::arbitrary(&mut u).is_ok(),
        };
        ok.then_some((which, raw[1] % 3))
    })
    .into_iter()
    .enumerate()
    {
        rt.add(format!("type{}.{i:02}", b[0] % 9), b);
    }
    rt.write(&corpus.join("roundtrip_iocom"));

    let mut rt = Seeds::default();
    for (i, b) in round_trip_inputs(&mut rng, 12, |raw| {
        let m = switchbox::Message::arbitrary(&mut Unstructured::new(raw)).ok()?;
        let mut e = Vec::new();
        m.encode(&mut e).ok()?;
        Some((e[2].min(4), raw[0] % 3))
    })
    .into_iter()
    .enumerate()
    {
        rt.add(format!("input.{i:02}"), b);
    }
    rt.write(&corpus.join("roundtrip_switchbox"));

    let mut rt = Seeds::default();
    for (i, b) in round_trip_inputs(&mut rng, 28, |raw| {
        let m = mqtt311::Packet::arbitrary(&mut Unstructured::new(raw)).ok()?;
        let mut e = Vec::new();
        m.encode(&mut e).ok()?;
        Some((e[0] >> 4, raw[0] % 2))
    })
    .into_iter()
    .enumerate()
    {
        rt.add(format!("input.{i:02}"), b);
    }
    rt.write(&corpus.join("roundtrip_mqtt311"));

    let mut rt = Seeds::default();
    for i in 0..20 {
        let len = 16 + rng.below(600);
        rt.add(format!("input.{i:02}"), rng.bytes(len));
    }
    rt.write(&corpus.join("roundtrip_packed_json"));

    // ----- packed JSON and signal maps ---------------------------------------------------
    let maps_dir = shared.join("fixtures/iocom-signal-maps");
    let mut maps: Vec<(String, String)> = fs::read_dir(&maps_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    maps.push((
        "gina-signal-map.merged.json".to_string(),
        fs::read_to_string(shared.join("vectors/iocom/gina-signal-map.merged.json")).unwrap(),
    ));
    maps.sort();

    let mut signal = Seeds::default();
    let mut packed = Seeds::default();
    packed.add(
        "gina-info-block.packed-json.bin",
        fs::read(shared.join("vectors/iocom/gina-info-block.packed-json.bin")).unwrap(),
    );
    for (name, text) in &maps {
        signal.add(name.clone(), text.as_bytes());
        if let Ok(b) = packed_json::pack_json_text(text, &PackOptions::info_block()) {
            packed.add(format!("{name}.packed"), b);
        }
    }
    let quirks = PackOptions {
        skip_keys: Vec::new(),
        keep_quirks: true,
    };
    packed.add(
        "quirks.packed",
        packed_json::pack_json_text(
            r#"{"a": null, "b": true, "c": false, "d": 1e3, "e": [1, 2.5, "", {}], "name": "x"}"#,
            &quirks,
        )
        .unwrap(),
    );
    signal.write(&corpus.join("signal_map"));
    packed.write(&corpus.join("packed_json"));

    // ----- protocol specs ----------------------------------------------------------------
    let mut specs: Vec<(String, String)> = ["iocom", "switchbox", "mqtt311"]
        .iter()
        .map(|n| {
            let p = main_repo.join(format!("spec/protocols/{n}.wire"));
            (format!("{n}.wire"), fs::read_to_string(p).unwrap())
        })
        .collect();
    specs.push((
        "sensor.wire".to_string(),
        fs::read_to_string(main_repo.join("examples/build-codec/spec/sensor.wire")).unwrap(),
    ));
    let mut spec_seeds = Seeds::default();
    let mut codegen_seeds = Seeds::default();
    for (name, text) in &specs {
        spec_seeds.add(name.clone(), text.as_bytes());
        codegen_seeds.add(name.clone(), text.as_bytes());
        // Each item on its own (items that name others fail validation: error seeds).
        let spec = ferrocom_spec::parse_str(name, text).unwrap();
        let header_end = text.find('{').unwrap() + 1;
        let starts: Vec<usize> = spec
            .protocol
            .items
            .iter()
            .map(|i| i.meta().span.offset.max(header_end))
            .collect();
        let mut cut = Vec::new();
        for (k, &s) in starts.iter().enumerate() {
            let end = starts
                .get(k + 1)
                .copied()
                .unwrap_or(text.rfind('}').unwrap());
            cut.push(&text[s..end]);
        }
        for (k, body) in cut.iter().enumerate().step_by(3) {
            let one = format!("protocol p {{\n  byte_order big;\n{body}\n}}\n");
            let file = format!("{name}.item{k:02}");
            if ferrocom_spec::parse_str("x.wire", &one).is_ok() {
                codegen_seeds.add(file.clone(), one.as_bytes());
            }
            spec_seeds.add(file, one.into_bytes());
        }
    }
    spec_seeds.write(&corpus.join("spec_parse"));
    codegen_seeds.write(&corpus.join("spec_codegen"));
}
