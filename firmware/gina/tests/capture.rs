//! The board is gina to a server: its blocks, its info block and the bytes it sends until
//! its data start are those of the captured C gina (`shared/vectors/iocom/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ferrocom_board_gina::{BLOCKS, Gina, GinaPins, signals, spec};
use ferrocom_device_core::{Device, Link, Millis};
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/iocom")
}

fn items(stream: &str) -> Vec<Value> {
    std::fs::read_to_string(vectors().join(format!("{stream}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Pins that read constants: the test looks at frames, not at values.
struct Still;
impl GinaPins for Still {
    fn potentiometer(&mut self, _: Millis) -> f32 {
        0.0
    }
    fn in_x(&mut self, _: Millis) -> bool {
        false
    }
    fn set_led(&mut self, _: bool) {}
    fn set_dimmer(&mut self, _: u16) {}
    fn set_segments(&mut self, _: [bool; 8]) {}
    fn show_text(&mut self, _: &str) {}
}

#[test]
fn info_block_is_the_captured_one() {
    let captured = std::fs::read(vectors().join("gina-info-block.packed-json.bin")).unwrap();
    assert_eq!(signals::INFO, captured.as_slice());
    assert_eq!(BLOCKS.last().unwrap().init, captured.as_slice());
    assert_eq!(signals::DEVICE_NAME, "gina");
}

#[test]
fn blocks_are_announced_as_the_captured_gina_announces_them() {
    let announced: Vec<(String, u64, u64)> = items("tcp-frank-gina.device-to-server")
        .iter()
        .filter(|i| i["kind"] == "system-mbinfo")
        .map(|i| {
            let f = &i["fields"];
            (
                f["mblk_name"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
                f["mblk_flags"].as_u64().unwrap(),
            )
        })
        .collect();
    let ours: Vec<(String, u64, u64)> = BLOCKS
        .iter()
        .map(|b| (b.name.to_string(), b.size as u64, u64::from(b.flags.bits())))
        .collect();
    assert_eq!(ours, announced);
}

/// Fed the captured server's first answer (its ACK and authentication frame), the board
/// writes exactly the captured gina's first 270 bytes: handshake, ACK, authentication
/// (with the capture's unique id) and the seven mbinfo frames.
#[test]
fn first_bytes_are_the_captured_gina_bytes() {
    let dev_items = items("tcp-frank-gina.device-to-server");
    let first_data = dev_items.iter().find(|i| i["kind"] == "data").unwrap();
    let prefix_len = first_data["offset"].as_u64().unwrap() as usize;
    let expected = std::fs::read(vectors().join("tcp-frank-gina.device-to-server.bin")).unwrap();
    let expected = &expected[..prefix_len];

    let auth = dev_items
        .iter()
        .find(|i| i["kind"] == "system-auth")
        .unwrap();
    let hex = auth["hex"].as_str().unwrap();
    let auth_bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    // The unique id sits right after the user name `gina\0` in the captured frame.
    let at = auth_bytes.windows(5).position(|w| w == b"gina\0").unwrap() + 5;
    let unique_id: [u8; 12] = auth_bytes[at..at + 12].try_into().unwrap();

    let server = items("tcp-frank-gina.server-to-device");
    let answer_len = server
        .iter()
        .find(|i| i["kind"] == "system-mbinfo")
        .unwrap()["offset"]
        .as_u64()
        .unwrap() as usize;
    let server_bytes =
        std::fs::read(vectors().join("tcp-frank-gina.server-to-device.bin")).unwrap();

    let spec = spec("cafenet", unique_id);
    let mut mem = vec![0u8; spec.memory_size(Link::Socket)];
    let mut dev = Device::new(&spec, Link::Socket, Gina::new(Still), 0, &mut mem).unwrap();
    dev.connect(0);
    let mut out = Vec::new();
    let mut pump = |dev: &mut Device<'_, Gina<Still>, 7>, now| {
        dev.poll(now).unwrap();
        out.extend_from_slice(dev.transmit());
        let n = dev.transmit().len();
        dev.transmitted(n);
    };
    pump(&mut dev, 0);
    dev.handle_input(&server_bytes[..answer_len], 1).unwrap();
    pump(&mut dev, 2);
    assert!(dev.is_connected());
    assert!(out.len() >= prefix_len, "only {} bytes out", out.len());
    assert_eq!(&out[..prefix_len], expected);
}
