//! `#[derive(Signals)]` gives the same layout as the same blocks written as JSON (gina's
//! `exp` and `imp`, checked against gina's merged signal map), and working accessors.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use ferrocom_macros::Signals;
use ferrocom_wire::signals::State;

/// gina's `exp` block, declared in Rust.
#[derive(Debug, Signals)]
#[signals(block = "exp", device = "gina", flags = "up")]
pub struct Exp {
    frame_rate: f32,
    testfloat: [f32; 5],
    #[signal(str)]
    teststr: [u8; 10],
    testbool: bool,
    in_x: bool,
    potentiometer: f32,
}

/// gina's `imp` block.
#[derive(Debug, Signals)]
#[signals(block = "imp", device = "gina", flags = "down")]
pub struct Imp {
    #[signal(str)]
    strtodevice: [u8; 16],
    seven_segment: [bool; 8],
    dimmer_led: u16,
    myoutput: bool,
}

/// Explicit addresses and type overrides.
#[derive(Debug, Signals)]
#[signals(block = "conf")]
pub struct Conf {
    #[signal(addr = 40, name = "period_ms")]
    period: u32,
    #[signal(type = "long")]
    counter: i64,
    #[signal(type = "dec01")]
    temperature: i16,
}

#[test]
fn layout_equals_the_json_signal_map() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/iocom/gina-signal-map.merged.json");
    let map = ferrocom_spec::signals::SignalMap::from_path(&path)
        .expect("gina's merged map")
        .0;
    for (name, derived) in [("exp", exp::SIGNALS), ("imp", imp::SIGNALS)] {
        let block = map.block(name).unwrap();
        let json: Vec<(String, u32, u32)> = block
            .signals()
            .map(|s| (s.name.clone(), s.addr as u32, s.array as u32))
            .collect();
        let ours: Vec<(String, u32, u32)> = derived
            .iter()
            .map(|s| (s.name.to_string(), s.addr, s.n))
            .collect();
        assert_eq!(ours, json, "block {name}");
    }
    assert_eq!((exp::SIZE, imp::SIZE), (44, 24));
    assert_eq!((exp::POTENTIOMETER.addr, imp::DIMMER_LED.addr), (39, 19));
}

#[test]
fn accessors_read_and_write_the_block() {
    let mut block = exp::Exp::new();
    block.set_potentiometer(41612.0, State::CONNECTED);
    block.set_teststr("gabriel", State::CONNECTED);
    block.set_testfloat(&[1.0, 2.0, 0.0, 4.0, 5.0], State::CONNECTED);
    let v = block.potentiometer();
    assert_eq!(v.value, 41612.0);
    // Scalars set bit 0 when non-zero (reference §13.2): state 0x03.
    assert_eq!(v.state.0, 0x03);
    assert_eq!(block.teststr().unwrap().value, "gabriel");
    // The bytes are the captured key frame's (reference §11.6) for these signals.
    assert_eq!(&block.as_bytes()[39..44], &[0x03, 0x00, 0x8C, 0x22, 0x47]);
    assert_eq!(&block.as_bytes()[26..34], b"\x02gabriel");
}

#[test]
fn overrides_and_explicit_addresses() {
    assert_eq!(conf::PERIOD_MS.addr, 40);
    assert_eq!(conf::COUNTER.addr, 45);
    assert_eq!(conf::TEMPERATURE.addr, 54);
    assert_eq!(conf::SIZE, 57);
    assert!(
        Conf::SIGNAL_MAP_JSON.contains("\"type\": \"long\""),
        "{}",
        Conf::SIGNAL_MAP_JSON
    );
    assert!(Exp::SIGNAL_MAP_JSON.contains("\"name\": \"potentiometer\""));
}
