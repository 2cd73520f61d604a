//! A blocking poll loop over a caller-provided byte [`Transport`] and [`Clock`]: what a
//! firmware `main` runs, and what the host simulators run with `--runner blocking`.

use core::fmt;

use ferrocom_runtime::iocom::{ConnectionError, Millis};

use crate::board::Board;
use crate::device::{Device, Link};

/// A byte stream to the server: a TCP socket, a UART, a pty.
pub trait Transport {
    /// What went wrong (an I/O error, the stream ended).
    type Error: fmt::Debug;

    /// Opens the stream (connects the socket, opens the port). Called before first use and
    /// again after [`close`](Self::close), when the back-off delay has passed.
    fn open(&mut self) -> Result<(), Self::Error>;

    /// Reads what is available into `buf`, waiting at most `wait_ms` for the first byte
    /// (0: do not wait). `Ok(0)`: nothing came in time. The end of the stream is an `Err`.
    fn read(&mut self, buf: &mut [u8], wait_ms: Millis) -> Result<usize, Self::Error>;

    /// Writes some of `data`; `Ok(n)` is how many bytes were taken (0: try again later).
    fn write(&mut self, data: &[u8]) -> Result<usize, Self::Error>;

    /// Closes the stream after an error.
    fn close(&mut self);
}

/// The caller's monotonic clock.
pub trait Clock {
    /// Milliseconds since some fixed start.
    fn now_ms(&self) -> Millis;

    /// Waits about `ms` milliseconds; used only while the stream is closed (between
    /// connection attempts), otherwise [`Transport::read`] does the waiting.
    fn sleep_ms(&self, ms: Millis);
}

/// Reconnection delays: `initial`, doubled after every failed attempt up to `max`, back to
/// `initial` once a session came up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Millis,
    /// Longest delay.
    pub max: Millis,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: 250,
            max: 8_000,
        }
    }
}

/// Something a [`Runner::step`] reports; the loop goes on after each (log them).
#[derive(Debug)]
#[non_exhaustive]
pub enum Fault<E> {
    /// Opening the stream failed; the next attempt comes after `retry_in` ms.
    Open {
        /// The transport's error.
        error: E,
        /// Delay before the next attempt.
        retry_in: Millis,
    },
    /// Reading or writing failed, or the stream ended; reopened after `retry_in` ms.
    Transport {
        /// The transport's error.
        error: E,
        /// Delay before the next attempt.
        retry_in: Millis,
    },
    /// The server broke the protocol or went silent. On a socket the stream was closed
    /// and is reopened after `retry_in` ms; on a serial line the link restarted at once
    /// (`retry_in` = 0).
    Protocol {
        /// What the server did.
        error: ConnectionError,
        /// Delay before the next attempt (0 on serial).
        retry_in: Millis,
    },
}

impl<E: fmt::Debug> fmt::Display for Fault<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Open { error, retry_in } => {
                write!(
                    f,
                    "cannot open the link: {error:?} (retry in {retry_in} ms)"
                )
            }
            Fault::Transport { error, retry_in } => {
                write!(f, "link failed: {error:?} (reopen in {retry_in} ms)")
            }
            Fault::Protocol { error, retry_in: 0 } => {
                write!(f, "IOCOM session dropped: {error}; link restarted")
            }
            Fault::Protocol { error, retry_in } => {
                write!(
                    f,
                    "IOCOM session dropped: {error} (reconnect in {retry_in} ms)"
                )
            }
        }
    }
}

/// Size of the receive buffer on the runner (on the stack of whoever owns the runner).
pub const RX_CHUNK: usize = 256;

/// The blocking loop: keeps one [`Device`] connected over a [`Transport`], reopening the
/// stream with back-off after errors, and serves the board and the engine's timers.
/// No heap of its own and no async runtime.
#[derive(Debug)]
pub struct Runner {
    backoff: Backoff,
    delay: Millis,
    /// `None` while the stream is open; else when to try to open it.
    retry_at: Option<Millis>,
    rx: [u8; RX_CHUNK],
}

impl Runner {
    /// A runner whose first attempt to open the stream is immediate.
    pub fn new(backoff: Backoff) -> Self {
        Runner {
            backoff,
            delay: backoff.initial,
            retry_at: Some(0),
            rx: [0; RX_CHUNK],
        }
    }

    /// `true` while the stream is open.
    pub fn is_open(&self) -> bool {
        self.retry_at.is_none()
    }

    /// Runs forever; `report` hears every [`Fault`] (log it or ignore it).
    pub fn run<B: Board, const N: usize, T: Transport, C: Clock>(
        &mut self,
        device: &mut Device<'_, B, N>,
        transport: &mut T,
        clock: &C,
        mut report: impl FnMut(Fault<T::Error>),
    ) -> ! {
        loop {
            if let Err(fault) = self.step(device, transport, clock) {
                report(fault);
            }
        }
    }

    /// One turn: open the stream if it is time, run the board and timers, write what is
    /// due, then wait for input until the next deadline (in [`Transport::read`], or in
    /// [`Clock::sleep_ms`] while closed) and feed it. Never panics on what the stream
    /// brings; every failure is returned and handled (reopen, back-off) already.
    pub fn step<B: Board, const N: usize, T: Transport, C: Clock>(
        &mut self,
        device: &mut Device<'_, B, N>,
        transport: &mut T,
        clock: &C,
    ) -> Result<(), Fault<T::Error>> {
        let now = clock.now_ms();
        if let Some(at) = self.retry_at {
            if now < at {
                // Closed: the board keeps running; sleep to its next turn or the retry.
                device
                    .poll(now)
                    .map_err(|e| self.protocol(device, transport, e, now))?;
                let wake = device.next_wake().min(at);
                clock.sleep_ms(wake.saturating_sub(now));
                return Ok(());
            }
            if let Err(error) = transport.open() {
                let retry_in = self.schedule(now);
                return Err(Fault::Open { error, retry_in });
            }
            self.retry_at = None;
            device.connect(now);
        }
        device
            .poll(now)
            .map_err(|e| self.protocol(device, transport, e, now))?;
        while !device.transmit().is_empty() {
            match transport.write(device.transmit()) {
                Ok(0) => break,
                Ok(n) => device.transmitted(n),
                Err(error) => return Err(self.transport_failed(device, transport, error, now)),
            }
        }
        if device.is_connected() {
            self.delay = self.backoff.initial;
        }
        let wait = if device.transmit().is_empty() {
            device.next_wake().saturating_sub(clock.now_ms())
        } else {
            // The transport took only part of the output: come back soon to write more.
            1
        };
        match transport.read(&mut self.rx, wait) {
            Ok(0) => Ok(()),
            Ok(n) => {
                let bytes = self.rx.get(..n).unwrap_or(&self.rx);
                let now = clock.now_ms();
                match device.handle_input(bytes, now) {
                    Ok(()) => Ok(()),
                    Err(e) => Err(self.protocol(device, transport, e, now)),
                }
            }
            Err(error) => Err(self.transport_failed(device, transport, error, now)),
        }
    }

    fn schedule(&mut self, now: Millis) -> Millis {
        let retry_in = self.delay;
        self.retry_at = Some(now.saturating_add(retry_in));
        self.delay = self.delay.saturating_mul(2).min(self.backoff.max);
        retry_in
    }

    fn transport_failed<B: Board, const N: usize, T: Transport>(
        &mut self,
        device: &mut Device<'_, B, N>,
        transport: &mut T,
        error: T::Error,
        now: Millis,
    ) -> Fault<T::Error> {
        transport.close();
        device.disconnect(now);
        let retry_in = self.schedule(now);
        Fault::Transport { error, retry_in }
    }

    fn protocol<B: Board, const N: usize, T: Transport>(
        &mut self,
        device: &mut Device<'_, B, N>,
        transport: &mut T,
        error: ConnectionError,
        now: Millis,
    ) -> Fault<T::Error> {
        if device.link() == Link::Serial {
            return Fault::Protocol { error, retry_in: 0 };
        }
        transport.close();
        device.disconnect(now);
        let retry_in = self.schedule(now);
        Fault::Protocol { error, retry_in }
    }
}
