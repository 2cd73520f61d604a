//! Builds only if the device core, the engine under it and a board's application need
//! no std: `#![no_std]`, the core with default features off, the plc board without its
//! `sim` feature, and a transport and clock of the kind a microcontroller has (a UART
//! that is polled, a tick counter). `cargo build -p ferrocom-nostd-check --target
//! thumbv7em-none-eabihf` builds it for a Cortex-M4F.

#![no_std]

use ferrocom_board_plc::{Plc, PlcPins, spec};
use ferrocom_device_core::{
    Backoff, BoardSpec, Clock, Device, Link, Millis, Runner, SetupError, Transport,
};

/// Pins that a HAL would read: here fixed values.
#[derive(Debug, Default)]
pub struct FixedPins {
    /// Last outputs driven.
    pub outputs: [bool; 8],
}

impl PlcPins for FixedPins {
    fn read_di(&mut self, _now: Millis) -> [bool; 8] {
        [true, false, true, false, false, false, false, false]
    }
    fn read_ai(&mut self, _now: Millis) -> [u16; 4] {
        [100, 200, 300, 400]
    }
    fn read_temperature(&mut self, _now: Millis) -> f64 {
        21.5
    }
    fn write_do(&mut self, outputs: [bool; 8]) {
        self.outputs = outputs;
    }
    fn write_ao(&mut self, _outputs: [u16; 2]) {}
}

/// A UART that delivers the bytes of a slice and swallows what is written.
#[derive(Debug)]
pub struct SliceUart<'a> {
    /// Bytes still to be received.
    pub input: &'a [u8],
    /// Bytes written so far.
    pub written: usize,
}

/// The UART has no errors.
#[derive(Debug)]
pub enum Never {}

impl Transport for SliceUart<'_> {
    type Error = Never;
    fn open(&mut self) -> Result<(), Never> {
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], _wait_ms: Millis) -> Result<usize, Never> {
        let n = buf.len().min(self.input.len());
        let (head, rest) = self.input.split_at(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(head);
        }
        self.input = rest;
        Ok(n)
    }
    fn write(&mut self, data: &[u8]) -> Result<usize, Never> {
        self.written += data.len();
        Ok(data.len())
    }
    fn close(&mut self) {}
}

/// A tick counter advanced by every sleep.
#[derive(Debug, Default)]
pub struct Ticks(core::cell::Cell<Millis>);

impl Clock for Ticks {
    fn now_ms(&self) -> Millis {
        self.0.get()
    }
    fn sleep_ms(&self, ms: Millis) {
        self.0.set(self.0.get() + ms);
    }
}

/// Runs the plc board over a serial link for `steps` turns; returns the bytes it wrote.
pub fn run_plc(input: &[u8], steps: usize) -> Result<usize, SetupError> {
    const SPEC: BoardSpec<'static, 4> = spec("cafenet", [0; 12]);
    // Sized at build time; on a microcontroller a `static` or a local of `main`.
    let mut memory = [0u8; SPEC.memory_size(Link::Serial)];
    let clock = Ticks::default();
    let mut dev = Device::new(
        &SPEC,
        Link::Serial,
        Plc::new(FixedPins::default()),
        0,
        &mut memory,
    )?;
    let mut uart = SliceUart { input, written: 0 };
    let mut runner = Runner::new(Backoff::default());
    for _ in 0..steps {
        let _ = runner.step(&mut dev, &mut uart, &clock);
        clock.sleep_ms(10);
    }
    Ok(uart.written)
}
