//! gina: the IO board of IOCOM's examples, on the ferrocom no_std device core.
//!
//! A server that knows IOCOM's gina cannot tell this one apart on the wire: device name
//! `gina`, automatic device number, the seven memory blocks in gina's order with gina's
//! sizes and flags (`exp` 44, `imp` 24, `dexp` 8205, `dimp` 24, `conf_exp` 279, `conf_imp`
//! 279, up blocks `UP|BIDIRECTIONAL`, down blocks `DOWN|BIDIRECTIONAL`, as the captured
//! C gina announces them) and the same 1060-byte packed `info` block, all generated at
//! build time from gina's merged signal map (`build.rs`).
//!
//! The application ([`Gina`]) is written against the generated typed block (`signals::exp::Exp`)
//! and a pin trait ([`GinaPins`]); the crate is `no_std` without the `sim` feature. With
//! `sim` (default), [`sim::SimPins`] simulates the pins on a host: a potentiometer that
//! follows a sine, a digital input toggling every two seconds, outputs that are logged.
//!
//! Not simulated: the camera and file-transfer streams of `dexp`/`dimp` and
//! `conf_exp`/`conf_imp` (IOCOM's streamer); those blocks exist, are announced and stay
//! idle, as on a gina without camera.

#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "sim")]
extern crate std;

use core::ops::Range;

use ferrocom_device_core::{BlockFlags, BlockSpec, Board, BoardSpec, Io, Millis};
use ferrocom_wire::signals::State;

/// The bindings generated from gina's signal map.
#[allow(missing_docs)]
pub mod signals {
    include!(concat!(env!("OUT_DIR"), "/gina_signals.rs"));
}

use signals::{conf_exp, conf_imp, dexp, dimp, exp, imp};

const UP: BlockFlags = BlockFlags::UP.with(BlockFlags::BIDIRECTIONAL, true);
const DOWN: BlockFlags = BlockFlags::DOWN.with(BlockFlags::BIDIRECTIONAL, true);

/// Index of `exp` in [`BLOCKS`].
pub const EXP: usize = 0;
/// Index of `imp` in [`BLOCKS`].
pub const IMP: usize = 1;

/// gina's memory blocks, in the C gina's creation order (ids 8..14).
pub const BLOCKS: &[BlockSpec; 7] = &[
    BlockSpec::up(exp::NAME, exp::SIZE).with_flags(UP),
    BlockSpec::down(imp::NAME, imp::SIZE).with_flags(DOWN),
    BlockSpec::up(dexp::NAME, dexp::SIZE).with_flags(UP),
    BlockSpec::down(dimp::NAME, dimp::SIZE).with_flags(DOWN),
    BlockSpec::up(conf_exp::NAME, conf_exp::SIZE).with_flags(UP),
    BlockSpec::down(conf_imp::NAME, conf_imp::SIZE).with_flags(DOWN),
    BlockSpec::info(signals::INFO),
];

/// gina on network `network`, automatic device number, with `unique_id` (a real board
/// uses its chip id; the server keeps the number it assigns per unique id).
pub const fn spec(network: &str, unique_id: [u8; 12]) -> BoardSpec<'_, 7> {
    let mut s = BoardSpec::new(signals::DEVICE_NAME, network, BLOCKS);
    s.unique_id = unique_id;
    s
}

/// gina's IO: what the application reads and drives.
pub trait GinaPins {
    /// The potentiometer's analog input (ADC counts).
    fn potentiometer(&mut self, now: Millis) -> f32;
    /// Digital input `in_x`.
    fn in_x(&mut self, now: Millis) -> bool;
    /// The LED switched by `myoutput`.
    fn set_led(&mut self, on: bool);
    /// The dimmed LED's PWM duty (`dimmer_led`).
    fn set_dimmer(&mut self, duty: u16);
    /// The seven-segment display's segments (a..g and the dot).
    fn set_segments(&mut self, segments: [bool; 8]);
    /// Text sent to the device (`strtodevice`), e.g. shown on a display.
    fn show_text(&mut self, text: &str);
}

/// Sampling period of the inputs.
pub const PERIOD_MS: Millis = 50;

/// The gina application: samples the inputs every [`PERIOD_MS`] into `exp`, drives the
/// outputs from `imp`.
#[derive(Debug)]
pub struct Gina<P> {
    pins: P,
    exp: exp::Exp,
    turns: u32,
    window_start: Millis,
    window_turns: u32,
}

impl<P: GinaPins> Gina<P> {
    /// gina on these pins.
    pub fn new(pins: P) -> Self {
        let mut exp = exp::Exp::new();
        // Fixed test values, as IOCOM's gina publishes test signals next to its IO.
        exp.set_testfloat(&[1.0, 2.0, 5.0, 5.0, 2.5], State::CONNECTED);
        exp.set_teststr("gina", State::CONNECTED);
        Gina {
            pins,
            exp,
            turns: 0,
            window_start: 0,
            window_turns: 0,
        }
    }

    /// The pins.
    pub fn pins(&self) -> &P {
        &self.pins
    }

    /// The `exp` block as last published.
    pub fn exp(&self) -> &exp::Exp {
        &self.exp
    }
}

impl<P: GinaPins> Board for Gina<P> {
    fn poll(&mut self, now: Millis, io: &mut Io<'_>) -> Millis {
        self.turns = self.turns.wrapping_add(1);
        self.window_turns += 1;
        // `frame_rate`: how many input samples per second the board managed (gina reports
        // its camera's frame rate there; without camera, its own loop rate).
        let elapsed = now.saturating_sub(self.window_start);
        if elapsed >= 1000 {
            let rate = self.window_turns as f32 * 1000.0 / elapsed as f32;
            self.exp.set_frame_rate(rate, State::CONNECTED);
            self.window_start = now;
            self.window_turns = 0;
        }
        let pot = self.pins.potentiometer(now);
        self.exp.set_potentiometer(pot, State::CONNECTED);
        let in_x = self.pins.in_x(now);
        self.exp.set_in_x(in_x, State::CONNECTED);
        // `testbool` blinks once a second.
        self.exp
            .set_testbool((now / 1000) % 2 == 1, State::CONNECTED);
        // The block size is right by construction; publish only fails for a wrong index.
        let _ = io.publish(EXP, self.exp.as_bytes());
        now + PERIOD_MS
    }

    fn on_write(&mut self, _now: Millis, block: usize, _changed: Range<usize>, io: &mut Io<'_>) {
        if block != IMP {
            return;
        }
        let Some(Ok(imp)) = io.read(IMP).map(imp::Imp::from_buf) else {
            return;
        };
        self.pins.set_led(imp.myoutput().value);
        self.pins.set_dimmer(imp.dimmer_led().value);
        self.pins.set_segments(imp.seven_segment().value);
        // A string that is not UTF-8 is ignored rather than shown garbled.
        if let Ok(text) = imp.strtodevice() {
            self.pins.show_text(text.value);
        }
    }
}

/// Simulated pins for the host simulator.
#[cfg(feature = "sim")]
pub mod sim {
    use std::string::String;

    use super::{GinaPins, Millis};

    /// A potentiometer following a 10 s sine over 0..4095 ADC counts, `in_x` toggling
    /// every 2 s, and the outputs remembered (and logged).
    #[derive(Debug, Default, Clone, PartialEq)]
    pub struct SimPins {
        /// `myoutput`.
        pub led: bool,
        /// `dimmer_led`.
        pub dimmer: u16,
        /// `seven_segment`.
        pub segments: [bool; 8],
        /// `strtodevice`.
        pub text: String,
    }

    impl GinaPins for SimPins {
        fn potentiometer(&mut self, now: Millis) -> f32 {
            let phase = (now % 10_000) as f64 / 10_000.0 * core::f64::consts::TAU;
            (2047.5 + 2047.5 * phase.sin()).round() as f32
        }

        fn in_x(&mut self, now: Millis) -> bool {
            (now / 2000) % 2 == 1
        }

        fn set_led(&mut self, on: bool) {
            if on != self.led {
                tracing::info!("LED {}", if on { "on" } else { "off" });
            }
            self.led = on;
        }

        fn set_dimmer(&mut self, duty: u16) {
            if duty != self.dimmer {
                tracing::info!("dimmer LED duty {duty}");
            }
            self.dimmer = duty;
        }

        fn set_segments(&mut self, segments: [bool; 8]) {
            if segments != self.segments {
                tracing::info!("seven-segment display {segments:?}");
            }
            self.segments = segments;
        }

        fn show_text(&mut self, text: &str) {
            if text != self.text {
                tracing::info!("text from the server: {text:?}");
            }
            self.text = text.into();
        }
    }
}
