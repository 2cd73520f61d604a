//! Heap use at run time, counted by a global allocator around the device's calls only (the
//! in-memory server between them is not counted): a board on the device core, over a
//! socket and over a serial line, through setup, connect (handshake, authentication,
//! mbinfo, key frames), 1000 updates up with a write down every 50, and a reconnect; then
//! the same session with the engine on the heap (`Root::new`, as the runtime's device
//! role and a server use it). Run with `--nocapture` for the table (BENCHMARKS.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;

use ferrocom_device_core::{BlockSpec, Board, BoardSpec, Device, Io, Link, Millis};
use ferrocom_heap_check::{Counting, Stats, count, take};
use ferrocom_runtime::iocom::{
    BlockFlags, BlockId, Connection, ConnectionConfig, Event, Identity, Root,
};

#[global_allocator]
static ALLOC: Counting = Counting;

const BLOCKS: &[BlockSpec; 3] = &[
    BlockSpec::up("exp", 16),
    BlockSpec::down("imp", 8),
    BlockSpec::info(b"a packed signal map of 40 bytes stands in"),
];
const SPEC: BoardSpec<'static, 3> = BoardSpec::new("counter", "cafenet", BLOCKS);

const UPDATES: u32 = 1000;
const TURN_MS: Millis = 100;

/// Counts up in `exp` every turn; remembers what the server wrote to `imp`.
#[derive(Debug, Default)]
struct Counter {
    count: u32,
    imp: [u8; 8],
    writes: u32,
}

impl Board for Counter {
    fn poll(&mut self, now: Millis, io: &mut Io<'_>) -> Millis {
        self.count += 1;
        let mut exp = [0u8; 16];
        exp[0] = 0x03;
        exp[1..5].copy_from_slice(&self.count.to_le_bytes());
        exp[8] = (self.count % 7) as u8;
        let _ = io.publish(0, &exp);
        now + TURN_MS
    }

    fn on_write(&mut self, _now: Millis, block: usize, _changed: Range<usize>, io: &mut Io<'_>) {
        if let Some(d) = io.read(block) {
            self.imp.copy_from_slice(&d[..8]);
            self.writes += 1;
        }
    }
}

/// The server end: the engine on the heap, in memory.
struct Server {
    root: Root,
    conn: Connection,
    out: Vec<u8>,
}

impl Server {
    fn new(link: Link, now: Millis) -> Self {
        let mut root = Root::new(Identity::new("frank", "cafenet"));
        let cfg = match link {
            Link::Socket => ConnectionConfig::socket_server(false),
            Link::Serial => ConnectionConfig::serial_server(),
        };
        let conn = Connection::new(&mut root, cfg, now);
        Server {
            root,
            conn,
            out: Vec::new(),
        }
    }

    fn restart(&mut self, now: Millis) {
        self.conn.reset(&mut self.root, now);
        self.out.clear();
    }

    fn input(&mut self, bytes: &[u8], now: Millis) {
        self.conn.handle_input(&mut self.root, bytes, now).unwrap();
        while self.conn.poll_event().is_some() {}
    }

    /// What the server sends now (taken out of `out`).
    fn output(&mut self, now: Millis) -> Vec<u8> {
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(&mut self.root, now).unwrap();
        }
        self.conn.poll_transmit(&mut self.root, now, &mut self.out);
        while self.conn.poll_event().is_some() {}
        std::mem::take(&mut self.out)
    }

    fn mirror(&self, name: &str) -> Option<(BlockId, &[u8])> {
        self.root
            .blocks()
            .find(|b| b.name == name && b.device_name == "counter")
            .map(|b| (b.id, b.data.as_slice()))
    }

    /// Writes `imp` of the device.
    fn write_imp(&mut self, value: u8) {
        if let Some((id, _)) = self.mirror("imp") {
            self.root.write(id, 0, &[0x03, value]);
            self.root.send(id);
        }
    }

    fn exp_count(&self) -> u32 {
        self.mirror("exp")
            .map_or(0, |(_, d)| u32::from_le_bytes(d[1..5].try_into().unwrap()))
    }
}

/// One end of the session as the measurement drives it: every call is counted.
trait End {
    fn poll(&mut self, now: Millis);
    fn take_output(&mut self, into: &mut Vec<u8>);
    fn input(&mut self, bytes: &[u8], now: Millis);
}

impl<const N: usize> End for Device<'_, Counter, N> {
    fn poll(&mut self, now: Millis) {
        count(|| Device::poll(self, now)).unwrap();
    }
    fn take_output(&mut self, into: &mut Vec<u8>) {
        // Copying out is the test's doing, not the device's: not counted.
        into.extend_from_slice(self.transmit());
        let n = self.transmit().len();
        count(|| self.transmitted(n));
    }
    fn input(&mut self, bytes: &[u8], now: Millis) {
        count(|| self.handle_input(bytes, now)).unwrap();
    }
}

/// One turn: the device runs and writes, the server takes it in and answers.
fn turn(end: &mut impl End, srv: &mut Server, now: Millis) {
    let mut up = Vec::new();
    end.poll(now);
    end.take_output(&mut up);
    srv.input(&up, now);
    let down = srv.output(now);
    end.input(&down, now);
}

#[derive(Debug)]
struct Phases {
    setup: Stats,
    connect: Stats,
    steady: Stats,
    reconnect: Stats,
}

fn print(what: &str, p: &Phases) {
    println!(
        "{what:<34} setup {:>3} allocs {:>6} B peak | connect {:>4} allocs {:>6} B peak | \
         {UPDATES} updates {:>5} allocs {:>6} B peak | reconnect {:>4} allocs {:>6} B peak",
        p.setup.allocs,
        p.setup.peak,
        p.connect.allocs,
        p.connect.peak,
        p.steady.allocs,
        p.steady.peak,
        p.reconnect.allocs,
        p.reconnect.peak,
    );
}

/// Runs the session of the module docs on the device core; returns the counts.
fn device_core(link: Link) -> Phases {
    let mut memory = vec![0u8; SPEC.memory_size(link)];
    let mut now = 0;
    let _ = take();
    let dev = count(|| Device::new(&SPEC, link, Counter::default(), now, &mut memory));
    let mut dev = dev.unwrap();
    let setup = take();

    let mut srv = Server::new(link, now);
    count(|| dev.connect(now));
    while !(dev.is_connected() && srv.exp_count() > 0) {
        turn(&mut dev, &mut srv, now);
        now += 10;
        assert!(now < 10_000, "no session on {link:?}");
    }
    let connect = take();
    let carved = dev.root().storage().carved();

    for i in 0..UPDATES {
        if i % 50 == 0 {
            srv.write_imp((i / 50) as u8);
        }
        now += TURN_MS;
        turn(&mut dev, &mut srv, now);
    }
    let steady = take();
    let board = dev.board();
    assert_eq!(
        srv.exp_count(),
        board.count,
        "{link:?}: the last value went up"
    );
    assert!(board.writes >= UPDATES / 50, "{link:?}: writes came down");
    assert_eq!(
        board.imp[1],
        ((UPDATES - 1) / 50) as u8,
        "{link:?}: the last write"
    );

    count(|| dev.disconnect(now));
    srv.restart(now);
    count(|| dev.connect(now));
    for _ in 0..100 {
        now += TURN_MS;
        turn(&mut dev, &mut srv, now);
    }
    let reconnect = take();
    assert!(dev.is_connected(), "{link:?}: back after the reconnect");
    assert_eq!(srv.exp_count(), dev.board().count);
    // A session takes back what the last one gave up: no memory is lost.
    assert_eq!(dev.root().storage().carved(), carved, "{link:?}");
    assert_eq!(dev.events_lost(), 0);
    Phases {
        setup,
        connect,
        steady,
        reconnect,
    }
}

/// The device end with the engine on the heap (what `ferrocom_runtime::device` runs).
struct HeapDevice {
    root: Root,
    conn: Connection,
    exp: BlockId,
    imp: BlockId,
    out: Vec<u8>,
    count: u32,
    writes: u32,
}

impl End for HeapDevice {
    fn poll(&mut self, now: Millis) {
        count(|| {
            self.count += 1;
            let mut exp = [0u8; 16];
            exp[0] = 0x03;
            exp[1..5].copy_from_slice(&self.count.to_le_bytes());
            exp[8] = (self.count % 7) as u8;
            self.root.write(self.exp, 0, &exp);
            self.root.send(self.exp);
            if self.conn.poll_timeout().is_some_and(|t| t <= now) {
                self.conn.handle_timeout(&mut self.root, now).unwrap();
            }
            self.conn.poll_transmit(&mut self.root, now, &mut self.out);
            self.drain();
        });
    }
    fn take_output(&mut self, into: &mut Vec<u8>) {
        into.extend_from_slice(&self.out);
        count(|| self.out.clear());
    }
    fn input(&mut self, bytes: &[u8], now: Millis) {
        count(|| {
            self.conn.handle_input(&mut self.root, bytes, now).unwrap();
            self.drain();
        });
    }
}

impl HeapDevice {
    fn drain(&mut self) {
        while let Some(e) = self.conn.poll_event() {
            if matches!(e, Event::DataReceived { block, .. } if block == self.imp) {
                self.writes += 1;
            }
        }
    }
}

fn heap_engine() -> Phases {
    let mut now = 0;
    let _ = take();
    let mut dev = count(|| {
        let mut root = Root::new(Identity::new("counter", "cafenet"));
        let exp = root
            .create_block("exp", BlockFlags::UP, vec![0; 16])
            .unwrap();
        let imp = root
            .create_block("imp", BlockFlags::DOWN, vec![0; 8])
            .unwrap();
        let info = BLOCKS[2].init.to_vec();
        root.create_block("info", BlockFlags::UP | BlockFlags::STATIC, info);
        let conn = Connection::new(&mut root, ConnectionConfig::socket_client(false), now);
        HeapDevice {
            root,
            conn,
            exp,
            imp,
            out: Vec::new(),
            count: 0,
            writes: 0,
        }
    });
    let setup = take();
    let mut srv = Server::new(Link::Socket, now);
    while !(dev.conn.is_authenticated() && srv.exp_count() > 0) {
        turn(&mut dev, &mut srv, now);
        now += 10;
        assert!(now < 10_000, "no session");
    }
    let connect = take();
    for i in 0..UPDATES {
        if i % 50 == 0 {
            srv.write_imp((i / 50) as u8);
        }
        now += TURN_MS;
        turn(&mut dev, &mut srv, now);
    }
    let steady = take();
    assert_eq!(srv.exp_count(), dev.count);
    assert!(dev.writes >= UPDATES / 50);
    srv.restart(now);
    count(|| dev.conn.reset(&mut dev.root, now));
    for _ in 0..100 {
        now += TURN_MS;
        turn(&mut dev, &mut srv, now);
    }
    let reconnect = take();
    assert_eq!(srv.exp_count(), dev.count);
    Phases {
        setup,
        connect,
        steady,
        reconnect,
    }
}

#[test]
fn heap_use_at_run_time() {
    let socket = device_core(Link::Socket);
    let serial = device_core(Link::Serial);
    let heap = heap_engine();
    print("device core, socket", &socket);
    print("device core, serial", &serial);
    print("engine on the heap (device role)", &heap);
    println!(
        "device core memory: socket {} B, serial {} B (BoardSpec::memory_size)",
        SPEC.memory_size(Link::Socket),
        SPEC.memory_size(Link::Serial)
    );
    // The device core allocates nothing, ever.
    for p in [&socket, &serial] {
        for s in [p.setup, p.connect, p.steady, p.reconnect] {
            assert_eq!(s, Stats::default(), "{p:?}");
        }
    }
    // The engine on the heap allocates while a session is set up (which also shows that
    // the allocator counts), not per update.
    assert!(heap.setup.allocs > 0 && heap.connect.allocs > 0, "{heap:?}");
    assert_eq!(heap.steady.allocs, 0, "{heap:?}");
}
