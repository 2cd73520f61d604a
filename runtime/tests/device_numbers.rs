//! Automatic device numbers (§9.5): 9000 from the device, 8999 back, unique id only on
//! sockets from the connect-up end; persistent numbers per unique id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Pair;
use ferrocom_runtime::iocom::{ConnectionConfig, Event, MemoryNumbers};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{SocketBody, SocketItem, SystemBody, SystemMessage};

fn mbinfo_numbers(mut s: &[u8]) -> Vec<u32> {
    if s.first() == Some(&0x53) {
        s = &s[10..];
    }
    let mut out = Vec::new();
    while let Ok(Decoded::Complete(item, n)) = SocketItem::decode(s) {
        s = &s[n..];
        let SocketBody::Numbered(f) = item.body else {
            continue;
        };
        if let Ok(SystemMessage {
            body: SystemBody::MemoryBlockInfo(m),
        }) = SystemMessage::decode_exact(&f.data)
        {
            out.push(m.device_nr);
        }
    }
    out
}

#[test]
fn nine_thousand_up_eight_nine_nine_nine_down() {
    let mut p = Pair::socket();
    p.pump();
    assert_eq!(mbinfo_numbers(&p.to_srv), [9000, 9000]);
    assert_eq!(mbinfo_numbers(&p.to_dev), [8999, 8999]);
    // The device matched the replies (8999 → 9000) and bound both blocks.
    assert!(p.dev_root.blocks().all(|b| b.device_nr == 9000));
    assert!(p.srv_root.blocks().all(|b| b.device_nr == 9001));
}

#[test]
fn same_unique_id_gets_the_same_number_after_reconnect() {
    let mut p = Pair::socket();
    p.pump();
    let (r, now) = (&mut p.dev_root, p.now);
    p.dev.reset(r, now);
    let (r, now) = (&mut p.srv_root, p.now);
    p.srv.reset(r, now);
    p.pump();
    let ev = p.srv_events();
    let nrs: Vec<u32> = ev
        .iter()
        .filter_map(|e| match e {
            Event::DeviceNumberAssigned { device_nr, .. } => Some(*device_nr),
            _ => None,
        })
        .collect();
    assert_eq!(nrs, [9001, 9001]);
}

#[test]
fn serial_peer_without_unique_id_gets_a_random_number() {
    let mut p = Pair::serial();
    p.srv_root
        .set_device_numbers(Box::new(MemoryNumbers::new(42)));
    p.pump();
    let nr = p.srv_root.blocks().next().unwrap().device_nr;
    assert!(nr > 9000 && nr < 0x8000_0000, "{nr}");
    assert!(p.srv_events().iter().any(|e| matches!(
        e,
        Event::DeviceNumberAssigned {
            unique_id: None,
            ..
        }
    )));
}

#[test]
fn fixed_number_is_sent_as_is_and_without_unique_id() {
    let mut p = Pair::new(
        ConnectionConfig::socket_client(false),
        ConnectionConfig::socket_server(false),
    );
    let mut id = p.dev_root.identity().clone();
    id.device_nr = 3;
    let mut root = ferrocom_runtime::iocom::Root::new(id);
    root.create_block("exp", common::UP, vec![0; 44]).unwrap();
    p.dev_root = root;
    let (r, now) = (&mut p.dev_root, p.now);
    p.dev =
        ferrocom_runtime::iocom::Connection::new(r, ConnectionConfig::socket_client(false), now);
    p.pump();
    assert!(p.srv_events().iter().any(|e| matches!(
        e,
        Event::PeerAuthenticated {
            device_nr: 3,
            unique_id: None,
            ..
        }
    )));
    assert_eq!(p.srv_root.blocks().next().unwrap().device_nr, 3);
    assert_eq!(mbinfo_numbers(&p.to_dev), [3]);
}
