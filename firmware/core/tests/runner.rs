//! The blocking runner against a server engine in memory, on a simulated clock: the
//! transport hands the board's bytes to a `ferrocom_runtime::iocom` server connection and
//! its answers back; waiting for input advances the clock. Covers values up, writes down,
//! reconnecting with back-off after a broken stream and after a protocol error, and the
//! serial link.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::ops::Range;

use ferrocom_device_core::{
    Backoff, BlockSpec, Board, BoardSpec, Clock, Device, Io, Link, Millis, Runner, SetupError,
    Transport,
};
use ferrocom_runtime::iocom::{BlockId, Connection, ConnectionConfig, Event, Identity, Root};

const BLOCKS: &[BlockSpec; 3] = &[
    BlockSpec::up("exp", 10),
    BlockSpec::down("imp", 6),
    BlockSpec::info(b"not a real info block"),
];

/// Counts up in `exp` every 100 ms; copies what arrives in `imp` into `seen`.
#[derive(Debug, Default)]
struct Counter {
    count: u32,
    seen: Vec<(usize, Range<usize>, Vec<u8>)>,
    links: Vec<bool>,
}

impl Board for Counter {
    fn poll(&mut self, now: Millis, io: &mut Io<'_>) -> Millis {
        self.count += 1;
        let mut exp = [0u8; 10];
        exp[0] = 0x03;
        exp[1..5].copy_from_slice(&self.count.to_le_bytes());
        io.publish(0, &exp).unwrap();
        now + 100
    }

    fn on_write(&mut self, _now: Millis, block: usize, changed: Range<usize>, io: &mut Io<'_>) {
        let data = io.read(block).unwrap().to_vec();
        self.seen.push((block, changed, data));
    }

    fn on_link(&mut self, _now: Millis, up: bool) {
        self.links.push(up);
    }
}

#[derive(Debug, Default)]
struct SimClock(Cell<Millis>);

impl Clock for SimClock {
    fn now_ms(&self) -> Millis {
        self.0.get()
    }
    fn sleep_ms(&self, ms: Millis) {
        self.0.set(self.0.get() + ms.max(1));
    }
}

/// A server engine behind a byte-stream interface.
struct MemServer<'c> {
    clock: &'c SimClock,
    root: Root,
    conn: Option<Connection>,
    serial: bool,
    open_fails: u32,
    opens: Vec<Millis>,
    /// Bytes to inject into the stream to the board once (a misbehaving server).
    inject: Vec<u8>,
    /// Fail the next read: the stream ends.
    cut: bool,
    pending: Vec<u8>,
}

impl<'c> MemServer<'c> {
    fn new(clock: &'c SimClock, serial: bool) -> Self {
        MemServer {
            clock,
            root: Root::new(Identity::new("frank", "cafenet")),
            conn: None,
            serial,
            open_fails: 0,
            opens: Vec::new(),
            inject: Vec::new(),
            cut: false,
            pending: Vec::new(),
        }
    }

    fn mirror(&self, name: &str) -> Option<&[u8]> {
        self.root
            .blocks()
            .find(|b| b.name == name && b.device_name == "counter")
            .map(|b| b.data.as_slice())
    }

    fn mirror_id(&self, name: &str) -> BlockId {
        self.root
            .blocks()
            .find(|b| b.name == name && b.device_name == "counter")
            .unwrap()
            .id
    }
}

#[derive(Debug, PartialEq)]
enum SimError {
    Refused,
    Eof,
}

impl Transport for MemServer<'_> {
    type Error = SimError;

    fn open(&mut self) -> Result<(), SimError> {
        self.opens.push(self.clock.now_ms());
        if self.open_fails > 0 {
            self.open_fails -= 1;
            return Err(SimError::Refused);
        }
        let now = self.clock.now_ms();
        let cfg = if self.serial {
            ConnectionConfig::serial_server()
        } else {
            ConnectionConfig::socket_server(false)
        };
        if let Some(old) = self.conn.take() {
            old.close(&mut self.root);
        }
        self.conn = Some(Connection::new(&mut self.root, cfg, now));
        self.pending.clear();
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], wait_ms: Millis) -> Result<usize, SimError> {
        if self.cut {
            self.cut = false;
            return Err(SimError::Eof);
        }
        let now = self.clock.now_ms();
        let conn = self.conn.as_mut().ok_or(SimError::Eof)?;
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            let _ = conn.handle_timeout(&mut self.root, now);
        }
        conn.poll_transmit(&mut self.root, now, &mut self.pending);
        while conn.poll_event().is_some() {}
        self.pending.append(&mut self.inject);
        if self.pending.is_empty() {
            // Nothing to read: the wait passes on the simulated clock.
            self.clock.sleep_ms(wait_ms);
            return Ok(0);
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }

    fn write(&mut self, data: &[u8]) -> Result<usize, SimError> {
        let now = self.clock.now_ms();
        let conn = self.conn.as_mut().ok_or(SimError::Eof)?;
        // Take at most 7 bytes per call: the runner must handle partial writes.
        let n = data.len().min(7);
        // On a socket a server-side protocol error shows as the server closing the
        // stream; on a serial line the server restarts the link procedure.
        let failed = conn.handle_input(&mut self.root, &data[..n], now).is_err();
        let mut dropped = false;
        while let Some(e) = conn.poll_event() {
            dropped |= matches!(e, Event::Disconnected { .. });
        }
        if (failed || dropped) && !self.serial {
            return Err(SimError::Eof);
        }
        Ok(n)
    }

    fn close(&mut self) {
        if let Some(old) = self.conn.take() {
            old.close(&mut self.root);
        }
    }
}

fn memory(link: Link) -> Vec<u8> {
    vec![0; spec().memory_size(link)]
}

fn spec() -> BoardSpec<'static, 3> {
    BoardSpec::new("counter", "cafenet", BLOCKS)
}

/// Steps until `done` or the simulated clock passes `limit`; returns the faults seen.
fn run_until(
    runner: &mut Runner,
    dev: &mut Device<'_, Counter, 3>,
    srv: &mut MemServer<'_>,
    clock: &SimClock,
    limit: Millis,
    mut done: impl FnMut(&Device<'_, Counter, 3>, &MemServer<'_>) -> bool,
) -> Vec<String> {
    let mut faults = Vec::new();
    while !done(dev, srv) {
        assert!(
            clock.now_ms() < limit,
            "not done by {limit} ms; faults: {faults:?}"
        );
        if let Err(f) = runner.step(dev, srv, clock) {
            faults.push(f.to_string());
        }
    }
    faults
}

fn count_in(data: &[u8]) -> u32 {
    u32::from_le_bytes(data[1..5].try_into().unwrap())
}

#[test]
fn values_go_up_and_writes_come_down_over_a_socket() {
    let clock = SimClock::default();
    let mut srv = MemServer::new(&clock, false);
    let mut mem = memory(Link::Socket);
    let mut dev = Device::new(&spec(), Link::Socket, Counter::default(), 0, &mut mem).unwrap();
    let mut runner = Runner::new(Backoff::default());

    let faults = run_until(&mut runner, &mut dev, &mut srv, &clock, 5_000, |d, s| {
        d.is_connected() && s.mirror("exp").is_some_and(|m| count_in(m) >= 5)
    });
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(dev.board().links, [true]);
    // The info block arrived whole.
    assert_eq!(srv.mirror("info").unwrap(), b"not a real info block");
    // The server's mirror follows the board's block.
    let before = count_in(srv.mirror("exp").unwrap());
    run_until(&mut runner, &mut dev, &mut srv, &clock, 10_000, |_, s| {
        count_in(s.mirror("exp").unwrap()) >= before + 10
    });

    // A write down: the board hears the changed range and the new content.
    let imp = srv.mirror_id("imp");
    srv.root.write(imp, 2, &[0x03, 0x2A]);
    srv.root.send(imp);
    run_until(&mut runner, &mut dev, &mut srv, &clock, 15_000, |d, _| {
        !d.board().seen.is_empty()
    });
    let (block, range, data) = &dev.board().seen[0];
    assert_eq!(*block, 1);
    assert_eq!(*range, 2..4);
    assert_eq!(data, &[0, 0, 0x03, 0x2A, 0, 0]);
}

#[test]
fn a_broken_stream_is_reopened_with_growing_delays_and_values_resync() {
    let clock = SimClock::default();
    let mut srv = MemServer::new(&clock, false);
    srv.open_fails = 3;
    let mut mem = memory(Link::Socket);
    let mut dev = Device::new(&spec(), Link::Socket, Counter::default(), 0, &mut mem).unwrap();
    let mut runner = Runner::new(Backoff {
        initial: 100,
        max: 1_000,
    });
    let faults = run_until(&mut runner, &mut dev, &mut srv, &clock, 5_000, |d, _| {
        d.is_connected()
    });
    assert_eq!(faults.len(), 3, "{faults:?}");
    assert!(faults[0].contains("Refused"), "{faults:?}");
    // Attempts at 0, +100, +200, +400 (simulated time, sleeps land on the retry time or
    // on the board's next turn before it, never after).
    let gaps: Vec<Millis> = srv.opens.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [100, 200, 400]);

    // The stream ends: the board hears the session go, keeps counting, and the server's
    // mirror gets the current count as a key frame after the reconnect.
    srv.cut = true;
    let faults = run_until(&mut runner, &mut dev, &mut srv, &clock, 10_000, |d, _| {
        !d.is_connected()
    });
    assert!(faults.iter().any(|f| f.contains("Eof")), "{faults:?}");
    assert_eq!(dev.board().links, [true, false]);
    let opens = srv.opens.len();
    run_until(&mut runner, &mut dev, &mut srv, &clock, 20_000, |d, s| {
        d.is_connected()
            && s.mirror("exp")
                .is_some_and(|m| count_in(m) == d.board().count)
    });
    assert_eq!(srv.opens.len(), opens + 1);
    // Back-off starts over after a session that came up: the retry came after 100 ms.
    assert_eq!(dev.board().links, [true, false, true]);
}

#[test]
fn garbage_from_the_server_drops_the_session_and_it_comes_back() {
    let clock = SimClock::default();
    let mut srv = MemServer::new(&clock, false);
    let mut mem = memory(Link::Socket);
    let mut dev = Device::new(&spec(), Link::Socket, Counter::default(), 0, &mut mem).unwrap();
    let mut runner = Runner::new(Backoff::default());
    run_until(&mut runner, &mut dev, &mut srv, &clock, 5_000, |d, _| {
        d.is_connected()
    });
    // A frame number the board does not expect.
    srv.inject = vec![0x77, 0x00, 0x01];
    let faults = run_until(&mut runner, &mut dev, &mut srv, &clock, 10_000, |d, _| {
        !d.is_connected()
    });
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(
        faults[0].contains("IOCOM session dropped") && faults[0].contains("frame number"),
        "{faults:?}"
    );
    run_until(&mut runner, &mut dev, &mut srv, &clock, 20_000, |d, _| {
        d.is_connected()
    });
    assert_eq!(srv.opens.len(), 2);
}

#[test]
fn serial_link_carries_values_and_restarts_in_place_after_an_error() {
    let clock = SimClock::default();
    let mut srv = MemServer::new(&clock, true);
    let mut mem = memory(Link::Serial);
    let mut dev = Device::new(&spec(), Link::Serial, Counter::default(), 0, &mut mem).unwrap();
    let mut runner = Runner::new(Backoff::default());
    let faults = run_until(&mut runner, &mut dev, &mut srv, &clock, 10_000, |d, s| {
        d.is_connected() && s.mirror("exp").is_some_and(|m| count_in(m) >= 3)
    });
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(srv.mirror("info").unwrap(), b"not a real info block");
    // A frame with a bad CRC: the engine restarts the link procedure on the same line.
    srv.inject = vec![0x7E, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55];
    let faults = run_until(&mut runner, &mut dev, &mut srv, &clock, 20_000, |d, _| {
        !d.is_connected()
    });
    assert!(
        faults.iter().any(|f| f.contains("link restarted")),
        "{faults:?}"
    );
    let faults = run_until(&mut runner, &mut dev, &mut srv, &clock, 30_000, |d, _| {
        d.is_connected()
    });
    assert!(faults.is_empty(), "{faults:?}");
    // The port was never reopened.
    assert_eq!(srv.opens.len(), 1);
}

#[test]
fn board_mistakes_are_errors_not_panics() {
    const WRONG: &[BlockSpec; 1] = &[BlockSpec {
        init: b"0123456789",
        ..BlockSpec::up("exp", 4)
    }];
    let wrong = BoardSpec::new("x", "cafenet", WRONG);
    let mut mem = vec![0; wrong.memory_size(Link::Socket)];
    let err = Device::new(&wrong, Link::Socket, Counter::default(), 0, &mut mem).unwrap_err();
    assert_eq!(
        err.to_string(),
        "block `exp` has 4 bytes but its initial content has 10"
    );
    // One byte short of what the board needs is refused up front.
    let mut short = memory(Link::Serial);
    short.pop();
    let err = Device::new(&spec(), Link::Serial, Counter::default(), 0, &mut short).unwrap_err();
    assert_eq!(
        err,
        SetupError::OutOfMemory {
            needed: spec().memory_size(Link::Serial),
            given: spec().memory_size(Link::Serial) - 1
        }
    );

    struct Careless(Vec<String>);
    impl Board for Careless {
        fn poll(&mut self, now: Millis, io: &mut Io<'_>) -> Millis {
            self.0
                .push(io.publish(0, &[1, 2, 3]).unwrap_err().to_string());
            self.0
                .push(io.publish(7, &[0; 10]).unwrap_err().to_string());
            now + 1000
        }
    }
    let mut mem = memory(Link::Socket);
    let mut dev = Device::new(&spec(), Link::Socket, Careless(Vec::new()), 0, &mut mem).unwrap();
    dev.poll(0).unwrap();
    assert_eq!(
        dev.board().0,
        [
            "block number 0 has 10 bytes, 3 were given",
            "the board has no block number 7"
        ]
    );
}
