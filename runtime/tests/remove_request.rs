//! The remove-memory-block request (§12): sent by an intermediate server on its
//! connect-up connections when a dynamic block disappears; the receiver deletes it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Pair, device_root, server_root};
use ferrocom_runtime::iocom::{
    Connection, ConnectionConfig, ConnectionError, Event, Identity, Root,
};

/// device → server ← UI: the server (frank) relays gina's blocks up to a UI that
/// connected to it and is the listener there... Simplest topology with a connect-up
/// server connection: the server connects *up* to a cloud server.
struct Chain {
    p: Pair,
    cloud_root: Root,
    up: Connection,    // frank → cloud (connect-up, client)
    cloud: Connection, // cloud side (listener)
}

fn pump2(
    a_root: &mut Root,
    a: &mut Connection,
    b_root: &mut Root,
    b: &mut Connection,
    now: u64,
) -> Vec<ConnectionError> {
    let mut errs = Vec::new();
    for _ in 0..1000 {
        let mut x = Vec::new();
        a.poll_transmit(a_root, now, &mut x);
        let mut y = Vec::new();
        b.poll_transmit(b_root, now, &mut y);
        if x.is_empty() && y.is_empty() {
            return errs;
        }
        if let Err(e) = b.handle_input(b_root, &x, now) {
            errs.push(e);
        }
        if let Err(e) = a.handle_input(a_root, &y, now) {
            errs.push(e);
        }
    }
    panic!("no quiet");
}

fn chain() -> Chain {
    let mut p = Pair::socket();
    p.pump();
    let mut cloud_root = Root::new(Identity::new("cloud", "cafenet"));
    let up = Connection::new(&mut p.srv_root, ConnectionConfig::socket_client(false), 0);
    let cloud = Connection::new(&mut cloud_root, ConnectionConfig::socket_server(false), 0);
    let mut c = Chain {
        p,
        cloud_root,
        up,
        cloud,
    };
    let errs = pump2(
        &mut c.p.srv_root,
        &mut c.up,
        &mut c.cloud_root,
        &mut c.cloud,
        0,
    );
    assert!(errs.is_empty(), "{errs:?}");
    c
}

#[test]
fn dynamic_blocks_of_a_dropped_device_are_removed_upstream() {
    let mut c = chain();
    // The cloud mirrors frank's mirrors of gina's blocks.
    let names: Vec<String> = c.cloud_root.blocks().map(|b| b.name.clone()).collect();
    assert_eq!(names, ["exp", "imp"]);
    // gina's data reach the cloud through frank (relay of §11.4).
    assert!(c.p.dev_root.write(c.p.exp, 0, &[5, 6, 7]));
    c.p.dev_root.send(c.p.exp);
    c.p.pump();
    pump2(
        &mut c.p.srv_root,
        &mut c.up,
        &mut c.cloud_root,
        &mut c.cloud,
        0,
    );
    let cexp = c.cloud_root.blocks().find(|b| b.name == "exp").unwrap();
    assert_eq!(&cexp.data[..3], [5, 6, 7]);
    // gina's connection to frank drops: frank releases the dynamic blocks and sends a
    // remove request up; the cloud deletes its copies.
    let (root, now) = (&mut c.p.srv_root, c.p.now);
    c.p.srv.reset(root, now);
    let before = c.cloud_root.blocks().count();
    assert_eq!(before, 2);
    let mut x = Vec::new();
    c.up.poll_transmit(&mut c.p.srv_root, 0, &mut x);
    // One system frame, type 03, header MBLK_ID = 2 ids.
    let f = x.iter().position(|_| true).unwrap();
    assert_eq!(x[f + 1] & 0x20, 0x20);
    assert_eq!(x[f + 4], 2, "count in MBLK_ID");
    assert_eq!(x[f + 6], 0x03);
    c.cloud.handle_input(&mut c.cloud_root, &x, 0).unwrap();
    assert_eq!(c.cloud_root.blocks().count(), 0);
    let ev: Vec<Event> = std::iter::from_fn(|| c.cloud.poll_event()).collect();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::BlockRemoved { .. }))
            .count(),
        2
    );
}

#[test]
fn remove_request_count_must_match() {
    let (mut droot, _, _) = device_root();
    let mut sroot = server_root();
    let mut dev = Connection::new(&mut droot, ConnectionConfig::socket_client(false), 0);
    let mut srv = Connection::new(&mut sroot, ConnectionConfig::socket_server(false), 0);
    pump2(&mut droot, &mut dev, &mut sroot, &mut srv, 0);
    // Build a remove request with the codec: header says 3 ids, content has 1.
    use ferrocom_wire::iocom::{
        FrameFlags, RemoveRequest, SocketBody, SocketFrame, SocketItem, SystemBody, SystemMessage,
    };
    let mut content = Vec::new();
    SystemMessage {
        body: SystemBody::RemoveRequest(RemoveRequest { ids: vec![8] }),
    }
    .encode(&mut content)
    .unwrap();
    let mut frame = Vec::new();
    // The device has sent frames 0..=3 (auth, 2 mbinfo, key frame of exp).
    SocketItem {
        body: SocketBody::Numbered(SocketFrame {
            nr: 4,
            flags: FrameFlags::SYSTEM,
            extra: None,
            mblk: 3,
            addr: 0,
            data: content.into(),
        }),
    }
    .encode(&mut frame)
    .unwrap();
    let e = srv.handle_input(&mut sroot, &frame, 0).unwrap_err();
    assert_eq!(e, ConnectionError::BadRemoveCount { header: 3, ids: 1 });
}
