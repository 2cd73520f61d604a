//! Serial lines (reference §3, §18: 8N1, no flow control, 115200 baud by default).

use tokio_serial::{DataBits, FlowControl, Parity, SerialPortBuilderExt, SerialStream, StopBits};

/// Default IOCOM serial speed.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Opens a serial port as IOCOM uses it: 8 data bits, no parity, 1 stop bit, no flow
/// control.
pub fn open(path: &str, baud: u32) -> tokio_serial::Result<SerialStream> {
    tokio_serial::new(path, baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .open_native_async()
}

/// A connected pseudo-terminal pair (tests and simulators: a serial line without
/// hardware).
pub fn pty_pair() -> tokio_serial::Result<(SerialStream, SerialStream)> {
    SerialStream::pair()
}
