//! A minimal board on the device core, linked for a Cortex-M4F to measure code size:
//! one up block of 8 bytes (a counter), one down block of 8 bytes, a 16-byte info block,
//! serial link over a memory-mapped UART, a tick counter as clock. It is linked, not run:
//! no vector table or startup code (see BENCHMARKS.md).
//!
//! There is no `#[global_allocator]`: linking proves that nothing on the device path uses
//! `alloc` (rustc refuses to link a crate graph that does without one). All memory is the
//! array in `_start`, sized by `BoardSpec::memory_size`.

#![no_std]
#![no_main]

use core::ops::Range;

use ferrocom_device_core::{
    Backoff, BlockSpec, Board, BoardSpec, Clock, Device, Io, Link, Millis, Runner, Transport,
};

const UART_STATUS: *const u32 = 0x4000_0000 as *const u32;
const UART_DATA: *mut u32 = 0x4000_0004 as *mut u32;
const TICKS: *const u32 = 0x4000_1000 as *const u32;

struct Uart;
impl Transport for Uart {
    type Error = ();
    fn open(&mut self) -> Result<(), ()> {
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], _wait: Millis) -> Result<usize, ()> {
        let mut n = 0;
        for b in buf.iter_mut() {
            // SAFETY: fixed MMIO register addresses of the (imaginary) UART.
            if unsafe { UART_STATUS.read_volatile() } & 1 == 0 {
                break;
            }
            *b = unsafe { UART_DATA.read_volatile() } as u8;
            n += 1;
        }
        Ok(n)
    }
    fn write(&mut self, data: &[u8]) -> Result<usize, ()> {
        for &b in data {
            // SAFETY: as above.
            unsafe { UART_DATA.write_volatile(u32::from(b)) };
        }
        Ok(data.len())
    }
    fn close(&mut self) {}
}

struct Tick;
impl Clock for Tick {
    fn now_ms(&self) -> Millis {
        // SAFETY: as above.
        Millis::from(unsafe { TICKS.read_volatile() })
    }
    fn sleep_ms(&self, _ms: Millis) {}
}

struct Counter(u32);
impl Board for Counter {
    fn poll(&mut self, now: Millis, io: &mut Io<'_>) -> Millis {
        self.0 = self.0.wrapping_add(1);
        let mut exp = [0u8; 8];
        exp[0] = 0x03;
        exp[1..5].copy_from_slice(&self.0.to_le_bytes());
        let _ = io.publish(0, &exp);
        now + 100
    }
    fn on_write(&mut self, _now: Millis, block: usize, _c: Range<usize>, io: &mut Io<'_>) {
        if let Some(d) = io.read(block) {
            // SAFETY: as above (an output port).
            unsafe { UART_DATA.add(8).write_volatile(u32::from(d[0])) };
        }
    }
}

const BLOCKS: &[BlockSpec; 3] = &[
    BlockSpec::up("exp", 8),
    BlockSpec::down("imp", 8),
    BlockSpec::info(b"\x15;tiny\0up\0down\0"),
];

const SPEC: BoardSpec<'static, 3> = BoardSpec::new("tiny", "cafenet", BLOCKS);

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    // All the device's memory, sized at build time; `_start` never returns.
    let mut memory = [0u8; SPEC.memory_size(Link::Serial)];
    let Ok(mut dev) = Device::new(&SPEC, Link::Serial, Counter(0), Tick.now_ms(), &mut memory)
    else {
        loop {}
    };
    Runner::new(Backoff::default()).run(&mut dev, &mut Uart, &Tick, |_| {})
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
