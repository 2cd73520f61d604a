//! The engine in `Fixed` storage (memory given by the caller, no heap) is the engine on the
//! `Heap`: a device end in either storage writes the same bytes through the same session
//! (socket and serial: handshake or link procedure, authentication, mbinfo, key frames,
//! deltas up, writes down, a reconnect). And what only fixed memory has: running out of it
//! is refused cleanly, a full event queue merges and counts, output into a bounded sink
//! never splits a frame.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrocom_runtime::iocom::{
    BlockFlags, BlockId, Connection, ConnectionConfig, Event, Fixed, FixedStr, Heap, Identity,
    Millis, Root, Storage,
};
use ferrocom_wire::codec::{Sink, SliceSink};

type Small<'m> = Fixed<'m, 4>;

fn identity<T: ferrocom_runtime::iocom::Text, P: ferrocom_runtime::iocom::Text>() -> Identity<T, P>
{
    let mut id = Identity::try_new("gina", "cafenet").unwrap();
    id.unique_id = [7; 12];
    id
}

/// A device root with `exp` (up, 44 bytes), `imp` (down, 24) and a static `info`.
fn device<S: Storage>(store: S) -> (Root<S>, BlockId, BlockId) {
    let mut root = Root::with_storage(store, identity());
    let exp = root
        .create_block_from("exp", BlockFlags::UP, 44, &[])
        .unwrap();
    let imp = root
        .create_block_from("imp", BlockFlags::DOWN, 24, &[])
        .unwrap();
    let info = b"\x15 an info block of some bytes";
    let flags = BlockFlags::UP | BlockFlags::STATIC;
    root.create_block_from("info", flags, info.len(), info)
        .unwrap();
    (root, exp, imp)
}

/// Runs the session with the device end in `S`; returns every byte each end wrote.
fn session<S: Storage>(store: S, serial: bool) -> (Vec<u8>, Vec<u8>) {
    let (mut dev_root, exp, imp) = device(store);
    let (dev_cfg, srv_cfg) = if serial {
        (
            ConnectionConfig::serial_client(),
            ConnectionConfig::serial_server(),
        )
    } else {
        (
            ConnectionConfig::socket_client(false),
            ConnectionConfig::socket_server(false),
        )
    };
    let mut dev = Connection::try_new(&mut dev_root, dev_cfg, 0).unwrap();
    let mut srv_root = Root::new(Identity::new("frank", "cafenet"));
    let mut srv = Connection::new(&mut srv_root, srv_cfg, 0);
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let mut now: Millis = 0;
    let mut step = |dev_root: &mut Root<S>,
                    dev: &mut Connection<S>,
                    srv_root: &mut Root,
                    srv: &mut Connection,
                    now: Millis| {
        let mut a = Vec::new();
        if dev.poll_timeout().is_some_and(|t| t <= now) {
            let _ = dev.handle_timeout(dev_root, now);
        }
        dev.poll_transmit(dev_root, now, &mut a);
        while dev.poll_event().is_some() {}
        srv.handle_input(srv_root, &a, now).unwrap();
        up.extend_from_slice(&a);
        let mut b = Vec::new();
        if srv.poll_timeout().is_some_and(|t| t <= now) {
            let _ = srv.handle_timeout(srv_root, now);
        }
        srv.poll_transmit(srv_root, now, &mut b);
        while srv.poll_event().is_some() {}
        // Fed in small pieces, the way a UART delivers them.
        for piece in b.chunks(5) {
            dev.handle_input(dev_root, piece, now).unwrap();
        }
        down.extend_from_slice(&b);
    };
    for round in 0..3 {
        for i in 0..60u32 {
            now += 20;
            if i % 3 == 0 {
                let v = (round * 100 + i) as u8;
                dev_root.write(exp, 4, &[0x03, v, v.wrapping_mul(3), 0, 0, 0, 9]);
                dev_root.send(exp);
            }
            let mirror = srv_root.blocks().find(|b| b.name == "imp").map(|b| b.id);
            if i % 10 == 5
                && let Some(m) = mirror
            {
                srv_root.write(m, 2, &[0x03, i as u8]);
                srv_root.send(m);
            }
            step(&mut dev_root, &mut dev, &mut srv_root, &mut srv, now);
        }
        assert_eq!(dev_root.read(imp).unwrap()[2..4], [0x03, 55]);
        let mirror = srv_root.blocks().find(|b| b.name == "exp").unwrap();
        assert_eq!(
            &mirror.data[4..7],
            dev_root.read(exp).unwrap().get(4..7).unwrap()
        );
        // A new stream: both ends start over, every block goes out as a key frame.
        now += 1000;
        dev.reset(&mut dev_root, now);
        srv.reset(&mut srv_root, now);
    }
    (up, down)
}

#[test]
fn fixed_storage_writes_what_the_heap_writes() {
    for serial in [false, true] {
        let mut memory = [0u8; 2048];
        let fixed = session(Small::new(&mut memory), serial);
        let heap = session(Heap::default(), serial);
        assert!(
            fixed.0.len() > 500,
            "serial {serial}: {} bytes up",
            fixed.0.len()
        );
        assert_eq!(fixed.0, heap.0, "serial {serial}: device output");
        assert_eq!(fixed.1, heap.1, "serial {serial}: server output");
    }
}

#[test]
fn too_little_memory_is_refused_not_a_panic() {
    // Room for the blocks but not for a connection's receive buffer (one frame).
    let mut memory = [0u8; 120];
    let (mut root, _, _) = device(Small::new(&mut memory));
    assert!(Connection::try_new(&mut root, ConnectionConfig::serial_client(), 0).is_none());
    // A block bigger than what is left.
    assert!(
        root.create_block_from("big", BlockFlags::UP, 1000, &[])
            .is_none()
    );
    // More blocks than the storage lists: the fifth is refused.
    let mut memory = [0u8; 512];
    let (mut root, _, _) = device(Small::new(&mut memory));
    assert!(
        root.create_block_from("four", BlockFlags::UP, 1, &[])
            .is_some()
    );
    assert!(
        root.create_block_from("five", BlockFlags::UP, 1, &[])
            .is_none()
    );
    // Names longer than the wire allows do not fit a fixed name.
    assert!(Identity::<FixedStr<25>, FixedStr<45>>::try_new(&"x".repeat(26), "n").is_none());
}

#[test]
fn a_fixed_block_set_has_no_dynamic_blocks_and_keeps_its_blocks() {
    let mut memory = [0u8; 2048];
    let mut root: Root<Small<'_>> = Root::with_storage(
        Small::new(&mut memory),
        Identity::try_new("frank", "cafenet").unwrap(),
    );
    let own = root
        .create_block_from("own", BlockFlags::DOWN, 4, &[])
        .unwrap();
    let mut srv =
        Connection::try_new(&mut root, ConnectionConfig::socket_server(false), 0).unwrap();
    let (mut dev_root, _, _) = device(Heap::default());
    let mut dev = Connection::new(&mut dev_root, ConnectionConfig::socket_client(false), 0);
    for now in 0..20 {
        let mut a = Vec::new();
        dev.poll_transmit(&mut dev_root, now, &mut a);
        srv.handle_input(&mut root, &a, now).unwrap();
        let mut b = Vec::new();
        srv.poll_transmit(&mut root, now, &mut b);
        dev.handle_input(&mut dev_root, &b, now).unwrap();
    }
    assert!(srv.is_authenticated());
    // `allow_dynamic` asked for mirrors of gina's blocks; fixed memory creates none.
    assert_eq!(root.blocks().count(), 1);
    assert!(root.remove_block(own).is_none());
    assert!(root.block(own).is_some());
}

#[test]
fn a_full_event_queue_merges_data_events_and_counts_the_rest() {
    let mut memory = [0u8; 2048];
    let (mut dev_root, _, imp) = device(Fixed::<'_, 4, 1, 1>::new(&mut memory));
    let mut dev =
        Connection::try_new(&mut dev_root, ConnectionConfig::socket_client(false), 0).unwrap();
    let mut srv_root = Root::new(Identity::new("frank", "cafenet"));
    let mut srv = Connection::new(&mut srv_root, ConnectionConfig::socket_server(false), 0);
    let mut lost_before_data = None;
    let mut data_events = Vec::new();
    for now in 0..40 {
        let mut a = Vec::new();
        dev.poll_transmit(&mut dev_root, now, &mut a);
        srv.handle_input(&mut srv_root, &a, now).unwrap();
        if now == 20 {
            // Two writes down, sent as two snapshots and read in one go: with a queue of
            // one, their `DataReceived` events become one covering both ranges.
            lost_before_data = Some(dev.events_lost());
            while dev.poll_event().is_some() {}
            let m = srv_root.blocks().find(|b| b.name == "imp").unwrap().id;
            srv_root.write(m, 1, &[5]);
            srv_root.send(m);
            let mut b = Vec::new();
            srv.poll_transmit(&mut srv_root, now, &mut b);
            srv_root.write(m, 20, &[6]);
            srv_root.send(m);
            srv.poll_transmit(&mut srv_root, now, &mut b);
            dev.handle_input(&mut dev_root, &b, now).unwrap();
            while let Some(e) = dev.poll_event() {
                if let Event::DataReceived { block, range } = e {
                    data_events.push((block, range));
                }
            }
            continue;
        }
        let mut b = Vec::new();
        srv.poll_transmit(&mut srv_root, now, &mut b);
        dev.handle_input(&mut dev_root, &b, now).unwrap();
        // Never drained before `now == 20`: the queue of one fills up at once.
        if now > 20 {
            while dev.poll_event().is_some() {}
        }
    }
    assert!(
        lost_before_data.unwrap() > 0,
        "the undrained session start overflowed"
    );
    assert_eq!(dev_root.read(imp).unwrap()[1], 5);
    assert_eq!(dev_root.read(imp).unwrap()[20], 6);
    let covering: Vec<_> = data_events.iter().filter(|(b, _)| *b == imp).collect();
    assert!(
        covering
            .iter()
            .any(|(_, r)| r.contains(&1) && r.contains(&20)),
        "{data_events:?}"
    );
}

#[test]
fn a_bounded_sink_gets_whole_frames_only() {
    let mut memory = [0u8; 2048];
    let (mut root, exp, _) = device(Small::new(&mut memory));
    let mut dev =
        Connection::try_new(&mut root, ConnectionConfig::socket_client(false), 0).unwrap();
    let mut srv_root = Root::new(Identity::new("frank", "cafenet"));
    let mut srv = Connection::new(&mut srv_root, ConnectionConfig::socket_server(false), 0);
    root.write(exp, 0, &[1; 44]);
    root.send(exp);
    // Only 64 bytes of room per poll (the longest frame here, the authentication, has
    // 40): frames come one or two at a time, and everything arrives intact.
    let mut buf = [0u8; 64];
    let mut polls_with_output = 0;
    for now in 0..200 {
        let mut out = SliceSink::new(&mut buf);
        dev.poll_transmit(&mut root, now, &mut out);
        assert!(!out.overflowed());
        polls_with_output += usize::from(!out.is_empty());
        srv.handle_input(&mut srv_root, out.written(), now).unwrap();
        let mut b = Vec::new();
        srv.poll_transmit(&mut srv_root, now, &mut b);
        dev.handle_input(&mut root, &b, now).unwrap();
        while dev.poll_event().is_some() {}
        while srv.poll_event().is_some() {}
    }
    let mirror = srv_root.blocks().find(|b| b.name == "exp").unwrap();
    assert_eq!(mirror.data, vec![1; 44]);
    assert!(polls_with_output > 3, "{polls_with_output}");
    let mut tiny = [0u8; 3];
    let mut out = SliceSink::new(&mut tiny);
    root.write(exp, 0, &[2; 44]);
    root.send(exp);
    assert_eq!(dev.poll_transmit(&mut root, 300, &mut out), 0);
    assert_eq!(out.len(), 0);
}
