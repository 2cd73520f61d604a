//! Replay of the captured sessions (../shared/vectors/iocom): the device→server stream is
//! fed, chunk by chunk at its capture times, to a server-role engine whose root mimics
//! the C server `frank`; its output is compared with what frank sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ferrocom_runtime::iocom::{
    BlockId, Connection, ConnectionConfig, Event, Identity, Millis, Root,
};
use ferrocom_wire::iocom::BlockFlags;
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/iocom")
}

/// (time in µs, bytes) per write of the stream: items with the same capture time.
fn chunks(stream: &str) -> Vec<(u64, Vec<u8>)> {
    let text = std::fs::read_to_string(vectors().join(format!("{stream}.jsonl")))
        .unwrap_or_else(|e| panic!("{stream}.jsonl: {e} (is ../shared beside the checkout?)"));
    let bin = std::fs::read(vectors().join(format!("{stream}.bin"))).unwrap();
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let t = (v["t_s"].as_f64().unwrap() * 1e6).round() as u64;
        let off = v["offset"].as_u64().unwrap() as usize;
        let len = v["length"].as_u64().unwrap() as usize;
        let bytes = &bin[off..off + len];
        match out.last_mut() {
            Some((lt, b)) if *lt == t => b.extend_from_slice(bytes),
            _ => out.push((t, bytes.to_vec())),
        }
    }
    out
}

fn frank() -> Root {
    Root::new(Identity::new("frank", "cafenet")).with_first_block_id(23)
}

/// When the engine is asked for output.
enum Polls {
    /// After every input chunk (the engine's natural use).
    AfterEachChunk,
    /// At the times the C server wrote (µs), having been fed every device chunk that
    /// arrived before: reproduces which input the C server had read when it wrote.
    At(Vec<u64>),
}

/// Drives `conn` through the device's chunks; returns everything it wrote with the
/// time (µs) of each write. Timers are served at their deadlines in between.
fn replay(
    root: &mut Root,
    conn: &mut Connection,
    input: &[(u64, Vec<u8>)],
    polls: Polls,
    tail_ms: Millis,
) -> Vec<(u64, Vec<u8>)> {
    replay_with_app(root, conn, input, &[], polls, tail_ms)
}

/// An application write: at `t` µs write the whole block and send a snapshot.
type AppWrite = (u64, BlockId, Vec<u8>);

fn replay_with_app(
    root: &mut Root,
    conn: &mut Connection,
    input: &[(u64, Vec<u8>)],
    app: &[AppWrite],
    polls: Polls,
    tail_ms: Millis,
) -> Vec<(u64, Vec<u8>)> {
    fn emit(conn: &mut Connection, root: &mut Root, t_us: u64, writes: &mut Vec<(u64, Vec<u8>)>) {
        let mut out = Vec::new();
        conn.poll_transmit(root, t_us / 1000, &mut out);
        if !out.is_empty() {
            writes.push((t_us, out));
        }
    }
    fn run_timers(
        conn: &mut Connection,
        root: &mut Root,
        until_us: u64,
        writes: &mut Vec<(u64, Vec<u8>)>,
    ) {
        while let Some(d) = conn.poll_timeout() {
            if d * 1000 >= until_us {
                break;
            }
            let _ = conn.handle_timeout(root, d);
            emit(conn, root, d * 1000, writes);
            if conn.poll_timeout() == Some(d) {
                break; // stalled keep-alive; avoid spinning
            }
        }
    }
    let mut writes = Vec::new();
    emit(conn, root, 0, &mut writes);
    let end = input.last().map_or(0, |c| c.0) + tail_ms * 1000;
    let feed = |conn: &mut Connection, root: &mut Root, t: u64, bytes: &[u8]| {
        if let Err(e) = conn.handle_input(root, bytes, t / 1000) {
            panic!("engine rejected the captured stream at {t} µs: {e}");
        }
    };
    match polls {
        Polls::AfterEachChunk => {
            for (t, bytes) in input {
                run_timers(conn, root, *t, &mut writes);
                feed(conn, root, *t, bytes);
                emit(conn, root, *t, &mut writes);
            }
        }
        Polls::At(times) => {
            let (mut next, mut next_app) = (0, 0);
            for t_poll in times.into_iter().chain([end]) {
                loop {
                    let t_in = input.get(next).map(|c| c.0).filter(|&t| t < t_poll);
                    let t_app = app.get(next_app).map(|a| a.0).filter(|&t| t < t_poll);
                    let (t, is_input) = match (t_in, t_app) {
                        (Some(t), Some(a)) if t <= a => (t, true),
                        (Some(t), None) => (t, true),
                        (_, Some(a)) => (a, false),
                        (None, None) => break,
                    };
                    run_timers(conn, root, t, &mut writes);
                    if is_input {
                        feed(conn, root, t, &input[next].1);
                        next += 1;
                    } else {
                        let (_, id, data) = &app[next_app];
                        assert!(root.write(*id, 0, data));
                        root.send(*id);
                        next_app += 1;
                    }
                }
                run_timers(conn, root, t_poll, &mut writes);
                // Snapshots the application took at the very time of a write are applied
                // after that write's first send step (see ENGINE.md, "Replay").
                let mut out = Vec::new();
                conn.poll_transmit_step(root, t_poll / 1000, &mut out);
                while let Some((_, id, data)) = app.get(next_app).filter(|a| a.0 == t_poll) {
                    assert!(root.write(*id, 0, data));
                    root.send(*id);
                    next_app += 1;
                }
                conn.poll_transmit(root, t_poll / 1000, &mut out);
                if !out.is_empty() {
                    writes.push((t_poll, out));
                }
            }
        }
    }
    run_timers(conn, root, end, &mut writes);
    writes
}

fn concat(w: &[(u64, Vec<u8>)]) -> Vec<u8> {
    w.iter().flat_map(|(_, b)| b.iter().copied()).collect()
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn tcp_frank_gina_server_output_matches_capture() {
    let input = chunks("tcp-frank-gina.device-to-server");
    let expected = std::fs::read(vectors().join("tcp-frank-gina.server-to-device.bin")).unwrap();
    let mut root = frank();
    let mut conn = Connection::new(&mut root, ConnectionConfig::socket_server(false), 0);
    // No keep-alive / silence tail: the capture ends while gina is still sending.
    let server_writes = chunks("tcp-frank-gina.server-to-device")
        .into_iter()
        .map(|c| c.0)
        .collect();
    let writes = replay(&mut root, &mut conn, &input, Polls::At(server_writes), 0);
    let got = concat(&writes);
    if let Some(at) = first_difference(&got, &expected) {
        panic!(
            "first difference at byte {at} of {}:\n got      {}\n expected {}",
            expected.len(),
            hex(&got[at.saturating_sub(8)..(at + 24).min(got.len())]),
            hex(&expected[at.saturating_sub(8)..(at + 24).min(expected.len())])
        );
    }
    // The blocks frank created, with frank's ids, and gina's data arrived.
    let names: Vec<(u16, String)> = root.blocks().map(|b| (b.id.0, b.name.clone())).collect();
    assert_eq!(
        names,
        [
            (23, "exp"),
            (24, "imp"),
            (25, "dexp"),
            (26, "dimp"),
            (27, "conf_exp"),
            (28, "conf_imp"),
            (29, "info")
        ]
        .map(|(i, n)| (i, n.to_string()))
    );
    let info = root.blocks().find(|b| b.name == "info").unwrap();
    let packed = std::fs::read(vectors().join("gina-info-block.packed-json.bin")).unwrap();
    assert_eq!(
        info.data, packed,
        "info block reassembled from the static frames"
    );
    assert!(
        root.blocks()
            .all(|b| b.device_nr == 9001 && b.device_name == "gina")
    );
    let mut events = Vec::new();
    while let Some(e) = conn.poll_event() {
        events.push(e);
    }
    assert!(events.iter().any(|e| matches!(
        e,
        Event::DeviceNumberAssigned {
            device_nr: 9001,
            unique_id: Some(_)
        }
    )));
}

#[test]
fn serial_frank_gina_server_output_matches_capture() {
    let input = chunks("serial-frank-gina.device-to-server");
    let expected = std::fs::read(vectors().join("serial-frank-gina.server-to-device.bin")).unwrap();
    let mut root = frank();
    let mut conn = Connection::new(&mut root, ConnectionConfig::serial_server(), 0);
    // Run past the end: frank's keep-alive, then the silence timeout and F9.
    let writes = replay(&mut root, &mut conn, &input, Polls::AfterEachChunk, 400);
    let got = concat(&writes);
    if let Some(at) = first_difference(&got, &expected) {
        panic!(
            "first difference at byte {at} of {}:\n got      {}\n expected {}",
            expected.len(),
            hex(&got[at.saturating_sub(8)..(at + 24).min(got.len())]),
            hex(&expected[at.saturating_sub(8)..(at + 24).min(expected.len())])
        );
    }
}

/// The same TCP replay, but asking the engine for output after every input chunk: the only
/// difference from the capture is timing, not logic. Gina's handshake and her first ACK
/// arrived 15 µs apart and the C server's thread had read both before it first wrote, so
/// its first ACK counts gina's 4 ACK bytes (`FF 04 00 00`); an engine polled right after
/// the handshake acknowledges 0 bytes. Everything after that is identical (the ACK
/// thresholds are crossed at the same chunks).
#[test]
fn tcp_replay_polled_per_chunk_differs_only_in_first_ack() {
    let input = chunks("tcp-frank-gina.device-to-server");
    let expected = std::fs::read(vectors().join("tcp-frank-gina.server-to-device.bin")).unwrap();
    let mut root = frank();
    let mut conn = Connection::new(&mut root, ConnectionConfig::socket_server(false), 0);
    let got = concat(&replay(
        &mut root,
        &mut conn,
        &input,
        Polls::AfterEachChunk,
        0,
    ));
    let diffs: Vec<usize> = (0..expected.len().max(got.len()))
        .filter(|&i| got.get(i) != expected.get(i))
        .collect();
    assert_eq!(diffs, [1], "got {}", hex(&got[..8]));
    assert_eq!(&got[..4], [0xFF, 0x00, 0x00, 0x00]);
}

/// Serial, polled at the C server's write times: identical as well.
#[test]
fn serial_replay_polled_at_capture_times_matches() {
    let input = chunks("serial-frank-gina.device-to-server");
    let expected = std::fs::read(vectors().join("serial-frank-gina.server-to-device.bin")).unwrap();
    let mut root = frank();
    let mut conn = Connection::new(&mut root, ConnectionConfig::serial_server(), 0);
    let times = chunks("serial-frank-gina.server-to-device")
        .into_iter()
        .map(|c| c.0)
        .collect();
    let got = concat(&replay(&mut root, &mut conn, &input, Polls::At(times), 400));
    assert_eq!(first_difference(&got, &expected), None);
}

/// Gina as captured: automatic number, unique id, seven blocks in creation order with
/// the captured flags; `exp` and `conf_exp` start with the values of their key frames,
/// `info` holds the packed signal map.
fn gina(stream: &str) -> (Root, BlockId, Vec<AppWrite>) {
    let mut id = Identity::new("gina", "cafenet");
    id.unique_id = [
        0x30, 0x5F, 0x9D, 0xA8, 0xD5, 0xD3, 0xC8, 0x16, 0x00, 0xEC, 0x06, 0xA4,
    ];
    let mut root = Root::new(id);
    let text = std::fs::read_to_string(vectors().join(format!("{stream}.jsonl"))).unwrap();
    let mut first: std::collections::HashMap<String, Vec<u8>> = Default::default();
    let mut snapshots = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let f = &v["fields"];
        let Some(after) = f["block_after_hex"].as_str() else {
            continue;
        };
        let bytes: Vec<u8> = (0..after.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&after[i..i + 2], 16).unwrap())
            .collect();
        let name = f["mblk_name"].as_str().unwrap().to_string();
        let t = (v["t_s"].as_f64().unwrap() * 1e6).round() as u64;
        match first.entry(name.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => snapshots.push((t, name, bytes)),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(bytes);
            }
        }
    }
    let up = BlockFlags::UP | BlockFlags::BIDIRECTIONAL;
    let down = BlockFlags::DOWN | BlockFlags::BIDIRECTIONAL;
    let init = |n: &str, size: usize| first.get(n).cloned().unwrap_or_else(|| vec![0; size]);
    let exp = root.create_block("exp", up, init("exp", 44)).unwrap();
    root.create_block("imp", down, vec![0; 24]).unwrap();
    root.create_block("dexp", up, vec![0; 8205]).unwrap();
    root.create_block("dimp", down, vec![0; 24]).unwrap();
    root.create_block("conf_exp", up, init("conf_exp", 279))
        .unwrap();
    root.create_block("conf_imp", down, vec![0; 279]).unwrap();
    let packed = std::fs::read(vectors().join("gina-info-block.packed-json.bin")).unwrap();
    root.create_block("info", BlockFlags::UP | BlockFlags::STATIC, packed)
        .unwrap();
    let app = snapshots
        .into_iter()
        .map(|(t, n, b)| {
            assert_eq!(n, "exp", "only exp changes after the key frames");
            (t, exp, b)
        })
        .collect();
    (root, exp, app)
}

fn assert_same(got: &[u8], expected: &[u8]) {
    if let Some(at) = first_difference(got, expected) {
        panic!(
            "first difference at byte {at} of {} (got {}):\n got      {}\n expected {}",
            expected.len(),
            got.len(),
            hex(&got[at.saturating_sub(8)..(at + 24).min(got.len())]),
            hex(&expected[at.saturating_sub(8)..(at + 24).min(expected.len())])
        );
    }
}

/// Device role: gina's engine fed frank's stream (and gina's application writes of
/// `exp` at their capture times) reproduces gina's whole TCP stream: handshake, ACK,
/// authentication with unique id, mbinfo in creation order, key frames (compressed
/// `exp`, `dexp`, `conf_exp`; raw static `info`), then 1101 delta snapshots.
#[test]
fn tcp_gina_device_output_matches_capture() {
    let (mut root, _, app) = gina("tcp-frank-gina.device-to-server");
    let input = chunks("tcp-frank-gina.server-to-device");
    let expected = std::fs::read(vectors().join("tcp-frank-gina.device-to-server.bin")).unwrap();
    let mut conn = Connection::new(&mut root, ConnectionConfig::socket_client(false), 0);
    let times = chunks("tcp-frank-gina.device-to-server")
        .into_iter()
        .map(|c| c.0)
        .collect();
    let writes = replay_with_app(&mut root, &mut conn, &input, &app, Polls::At(times), 0);
    assert_same(&concat(&writes), &expected);
}

/// Device role on the serial line, from gina's CONNECT on (frank's first `F9` was
/// written before gina's port was open).
#[test]
fn serial_gina_device_output_matches_capture() {
    let (mut root, _, app) = gina("serial-frank-gina.device-to-server");
    let mut input = chunks("serial-frank-gina.server-to-device");
    input.retain(|c| c.0 > 0);
    let expected = std::fs::read(vectors().join("serial-frank-gina.device-to-server.bin")).unwrap();
    let dev = chunks("serial-frank-gina.device-to-server");
    let start = dev[0].0;
    // Gina was stopped after her last write; frank's keep-alive and F9 came later.
    let last = dev.last().unwrap().0;
    input.retain(|c| c.0 <= last);
    let mut conn = Connection::new(&mut root, ConnectionConfig::serial_client(), start / 1000);
    let times = dev.into_iter().map(|c| c.0).collect();
    let writes = replay_with_app(&mut root, &mut conn, &input, &app, Polls::At(times), 0);
    if std::env::var("REPLAY_DEBUG").is_ok() {
        for (t, w) in &writes[..40] {
            eprintln!("{t} {}", hex(&w[..w.len().min(16)]));
        }
        eprintln!(
            "app {:?}",
            app.iter().take(3).map(|a| a.0).collect::<Vec<_>>()
        );
    }
    assert_same(&concat(&writes), &expected);
}

/// The Python server of the capture (`pyserver1.cafenet`, C library underneath): number
/// 1 in its authentication frame, dynamic ids from 8, and every 0.5 s a snapshot of
/// `imp` (strtodevice, dimmer_led, myoutput). The engine in its place, with the same
/// application writes at the same times, sends the same bytes.
#[test]
fn tcp_pyserver_server_output_matches_capture() {
    let input = chunks("tcp-pyserver-gina.device-to-server");
    let expected = std::fs::read(vectors().join("tcp-pyserver-gina.server-to-device.bin")).unwrap();
    let mut id = Identity::new("pyserver", "cafenet");
    id.device_nr = 1;
    let mut root = Root::new(id);
    let text = std::fs::read_to_string(vectors().join("tcp-pyserver-gina.server-to-device.jsonl"))
        .unwrap();
    let mut app = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let f = &v["fields"];
        if f["mblk_name"] != "imp" {
            continue;
        }
        let Some(after) = f["block_after_hex"].as_str() else {
            continue;
        };
        let bytes: Vec<u8> = (0..after.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&after[i..i + 2], 16).unwrap())
            .collect();
        if bytes.iter().any(|&b| b != 0) {
            let t = (v["t_s"].as_f64().unwrap() * 1e6).round() as u64;
            app.push((t, BlockId(9), bytes)); // gina's imp is the second block created
        }
    }
    assert_eq!(app.len(), 12, "hello1 … hello12");
    let mut conn = Connection::new(&mut root, ConnectionConfig::socket_server(false), 0);
    let times = chunks("tcp-pyserver-gina.server-to-device")
        .into_iter()
        .map(|c| c.0)
        .collect();
    let got = concat(&replay_with_app(
        &mut root,
        &mut conn,
        &input,
        &app,
        Polls::At(times),
        0,
    ));
    assert_same(&got, &expected);
    assert_eq!(root.block(BlockId(9)).unwrap().name, "imp");
}

/// Gina's side of the pyserver session: she receives the imp snapshots and answers each
/// `myoutput` toggle by changing `exp` (captured as application writes).
#[test]
fn tcp_gina_device_output_matches_pyserver_capture() {
    let (mut root, _, app) = gina("tcp-pyserver-gina.device-to-server");
    let input = chunks("tcp-pyserver-gina.server-to-device");
    let expected = std::fs::read(vectors().join("tcp-pyserver-gina.device-to-server.bin")).unwrap();
    let mut conn = Connection::new(&mut root, ConnectionConfig::socket_client(false), 0);
    let times = chunks("tcp-pyserver-gina.device-to-server")
        .into_iter()
        .map(|c| c.0)
        .collect();
    let got = concat(&replay_with_app(
        &mut root,
        &mut conn,
        &input,
        &app,
        Polls::At(times),
        0,
    ));
    assert_same(&got, &expected);
    // And she holds what pyserver wrote last.
    let imp = root.blocks().find(|b| b.name == "imp").unwrap();
    assert_eq!(&imp.data[1..8], b"hello12");
}
