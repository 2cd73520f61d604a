//! End-to-end checks against the captured IOCOM sessions in `shared/vectors/iocom/`
//! (C server `frank` / Python `pyserver` ↔ C device `gina`, TCP and serial).
//!
//! * every compressed data frame: `ZeroRun::decode(content) == decoded_hex` and
//!   `ZeroRun::encode(decoded) == content`;
//! * every data frame replayed through `zero_run::apply` into the receiver's blocks
//!   reproduces `block_after_hex` at each snapshot end, and the static `info` block;
//! * every serial frame's CRC verifies with `crc16_modbus_zeroed`.
//!
//! The directory can be overridden with `FERROCOM_IOCOM_VECTORS`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use std::collections::HashMap;
use std::path::PathBuf;

use ferrocom_wire::codec::{Transform, crc16_modbus_zeroed};
use ferrocom_wire::transforms::{ZeroRun, zero_run};
use serde_json::Value;

const SESSIONS: &[&str] = &["tcp-frank-gina", "tcp-pyserver-gina", "serial-frank-gina"];
const DIRECTIONS: &[&str] = &["device-to-server", "server-to-device"];

fn dir() -> PathBuf {
    match std::env::var_os("FERROCOM_IOCOM_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/iocom"
        )),
    }
}

fn load(session: &str, direction: &str) -> Vec<Value> {
    let path = dir().join(format!("{session}.{direction}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("captured vectors {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_of(v: &Value, key: &str) -> Vec<u8> {
    hex(v[key].as_str().unwrap_or_else(|| panic!("missing {key}")))
}

fn uint(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap_or_else(|| panic!("missing {key}")) as usize
}

/// (whole frame, content) of a numbered frame item.
fn content(item: &Value) -> (Vec<u8>, Vec<u8>) {
    let frame = hex_of(item, "hex");
    let header_len = uint(&item["header"], "header_len");
    let data_sz = uint(&item["header"], "data_sz");
    assert_eq!(
        frame.len(),
        header_len + data_sz,
        "frame at {}",
        item["offset"]
    );
    let body = frame[header_len..].to_vec();
    (frame, body)
}

#[test]
fn captured_compressed_frames_round_trip() {
    let mut total = 0usize;
    let mut decode_ok = 0usize;
    let mut encode_ok = 0usize;
    let mut failures = Vec::new();
    for session in SESSIONS {
        for direction in DIRECTIONS {
            let (mut t, mut d, mut e) = (0, 0, 0);
            for item in load(session, direction) {
                if item["kind"] != "data" || item["fields"]["compressed"] != true {
                    continue;
                }
                t += 1;
                let (_, body) = content(&item);
                let expected = hex_of(&item["fields"], "decoded_hex");
                assert_eq!(expected.len(), uint(&item["fields"], "decoded_len"));
                let mut decoded = Vec::new();
                match ZeroRun::decode(&body, &mut decoded) {
                    Ok(()) if decoded == expected => d += 1,
                    other => failures.push(format!(
                        "{session}.{direction} @{}: decode {other:?}, {} vs {} bytes",
                        item["offset"],
                        decoded.len(),
                        expected.len()
                    )),
                }
                let mut encoded = Vec::new();
                ZeroRun::encode(&expected, &mut encoded);
                if encoded == body {
                    e += 1;
                } else {
                    failures.push(format!(
                        "{session}.{direction} @{}: encode gave {} bytes, captured {}",
                        item["offset"],
                        encoded.len(),
                        body.len()
                    ));
                }
            }
            eprintln!(
                "{session}.{direction}: {t} compressed frames, decode matches {d}, encode matches {e}"
            );
            total += t;
            decode_ok += d;
            encode_ok += e;
        }
    }
    eprintln!(
        "all sessions: {total} compressed frames, decode matches {decode_ok}, encode matches {encode_ok}"
    );
    for f in failures.iter().take(20) {
        eprintln!("  {f}");
    }
    assert_eq!(
        total, 2277,
        "number of compressed data frames in the captures"
    );
    assert!(failures.is_empty(), "{} mismatches", failures.len());
}

/// Replays every data frame of a stream into the receiver's memory blocks with
/// `zero_run::apply`, comparing `block_after_hex` wherever the capture gives it.
#[test]
fn captured_streams_replay_into_blocks() {
    let info_block = std::fs::read(dir().join("gina-info-block.packed-json.bin")).unwrap();
    let mut compared = 0usize;
    for session in SESSIONS {
        for (i, direction) in DIRECTIONS.iter().enumerate() {
            // The receiver announced its blocks (its own ids and sizes) in its mbinfo frames.
            let peer = load(session, DIRECTIONS[1 - i]);
            let sizes: HashMap<u64, usize> = peer
                .iter()
                .filter(|it| it["kind"] == "system-mbinfo")
                .map(|it| {
                    (
                        it["fields"]["sender_mblk_id"].as_u64().unwrap(),
                        uint(&it["fields"], "size"),
                    )
                })
                .collect();
            let mut blocks: HashMap<u64, Vec<u8>> = HashMap::new();
            let mut names: HashMap<u64, String> = HashMap::new();
            for item in load(session, direction) {
                if item["kind"] != "data" {
                    continue;
                }
                let f = &item["fields"];
                let id = f["mblk_id"].as_u64().unwrap();
                let size = sizes[&id];
                names.insert(id, f["mblk_name"].as_str().unwrap().to_owned());
                let block = blocks.entry(id).or_insert_with(|| vec![0; size]);
                let (_, body) = content(&item);
                let addr = uint(f, "addr");
                let delta = f["delta"] == true;
                let compressed = f["compressed"] == true;
                let range = zero_run::apply(&body, delta, compressed, block, addr)
                    .unwrap_or_else(|e| panic!("{session}.{direction} @{}: {e}", item["offset"]));
                assert_eq!(range.start, addr);
                assert_eq!(
                    range.len(),
                    uint(f, "decoded_len").min(size - addr),
                    "{session}.{direction} @{}",
                    item["offset"]
                );
                if let Some(after) = f.get("block_after_hex").and_then(Value::as_str) {
                    assert_eq!(
                        *block,
                        hex(after),
                        "{session}.{direction} @{}: block {id} after frame",
                        item["offset"]
                    );
                    compared += 1;
                }
            }
            // gina's static info block arrives complete in every device stream.
            if *direction == "device-to-server" {
                let (id, _) = names.iter().find(|(_, n)| *n == "info").unwrap();
                assert_eq!(blocks[id], info_block, "{session}: info block");
            }
        }
    }
    eprintln!("replay: {compared} snapshot ends compared with block_after_hex");
    assert!(compared > 1000);
}

#[test]
fn captured_serial_crcs() {
    let mut n = 0;
    for direction in DIRECTIONS {
        for item in load("serial-frank-gina", direction) {
            let Some(crc) = item["header"].get("crc").and_then(Value::as_u64) else {
                continue;
            };
            let frame = hex_of(&item, "hex");
            assert_eq!(item["header"]["crc_ok"], true);
            assert_eq!(
                u64::from(crc16_modbus_zeroed(&frame, 1, 2)),
                crc,
                "@{}",
                item["offset"]
            );
            n += 1;
        }
    }
    assert_eq!(n, 1035, "all serial frames of the capture");
}
