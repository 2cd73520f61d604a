//! A whole session between two engines: handshake, authentication both ways, mbinfo and
//! binding, key frames, deltas in both directions, reconnect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Pair;
use ferrocom_runtime::iocom::{BindDirection, Event};

#[test]
fn device_and_server_bind_and_exchange_data_both_ways() {
    let mut p = Pair::socket();
    assert!(
        p.dev.is_connected(),
        "plain TCP client is in data mode at once"
    );
    assert!(!p.srv.is_connected(), "server waits for the handshake");
    // Device initial values are carried by the key frame.
    assert!(p.dev_root.write(p.exp, 5, &[2, 0, 0, 0x80, 0x3F]));
    p.pump();
    assert!(p.srv.is_connected() && p.dev.is_authenticated() && p.srv.is_authenticated());
    // Handshake first, then the ACK (§8.1, §6.3).
    assert_eq!(&p.to_srv[..10], b"\x53\x08cafenet\x00");
    assert_eq!(&p.to_srv[10..14], [0xFF, 0, 0, 0]);
    // The server speaks first after its ACK: its authentication frame is frame 0.
    assert_eq!(p.to_dev[4], 0);
    assert_eq!(p.to_dev[5], 0x28);

    let ev = p.srv_events();
    assert!(matches!(ev.first(), Some(Event::Connected { network: Some(n) }) if n == "cafenet"));
    assert!(ev.iter().any(|e| matches!(e, Event::PeerAuthenticated { user, device_nr: 0, unique_id: Some(_), .. } if user == "gina")));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::DeviceNumberAssigned {
            device_nr: 9001,
            ..
        }
    )));
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::BlockCreated { .. }))
            .count(),
        2
    );
    let dev_ev = p.dev_events();
    assert!(dev_ev.iter().any(|e| matches!(
        e,
        Event::BlockBound {
            direction: BindDirection::Source,
            ..
        }
    )));
    assert!(dev_ev.iter().any(|e| matches!(
        e,
        Event::BlockBound {
            direction: BindDirection::Target,
            ..
        }
    )));
    assert!(
        !p.srv.is_connect_up(),
        "listener adopted the opposite of CONNECT_UP"
    );

    let sexp = p.srv_block("exp").unwrap();
    let simp = p.srv_block("imp").unwrap();
    let mirror = p.srv_root.block(sexp).unwrap();
    assert_eq!(
        (
            mirror.device_name.as_str(),
            mirror.device_nr,
            mirror.data.len()
        ),
        ("gina", 9001, 44)
    );
    assert_eq!(
        &mirror.data[5..10],
        [2, 0, 0, 0x80, 0x3F],
        "key frame arrived"
    );

    // Device writes exp: the server sees it, with the changed range.
    assert!(p.dev_root.write(p.exp, 38, &[3, 3, 0, 0x8C, 0x22]));
    p.dev_root.send(p.exp);
    p.pump();
    assert_eq!(
        &p.srv_root.read(sexp).unwrap()[38..43],
        [3, 3, 0, 0x8C, 0x22]
    );
    let ev = p.srv_events();
    assert!(
        ev.contains(&Event::DataReceived {
            block: sexp,
            range: 38..43
        }),
        "{ev:?}"
    );

    // Server writes imp: the device sees it.
    assert!(p.srv_root.write(simp, 0, b"\x02hello1"));
    p.srv_root.send(simp);
    p.pump();
    assert_eq!(&p.dev_root.read(p.imp).unwrap()[..7], b"\x02hello1");
    assert!(p.dev_events().contains(&Event::DataReceived {
        block: p.imp,
        range: 0..7
    }));

    // A second change is sent as a delta of the changed bytes only.
    let before = p.to_dev.len();
    assert!(p.srv_root.write(simp, 0, b"\x02hello2"));
    p.srv_root.send(simp);
    p.pump();
    let frame = &p.to_dev[before..];
    assert_eq!(frame[1] & 0x01, 0x01, "DELTA flag");
    assert_eq!(frame[5], 6, "starts at the changed byte");
    assert_eq!(&frame[6..], [1], "'1' + 1 = '2'");
    assert_eq!(&p.dev_root.read(p.imp).unwrap()[..7], b"\x02hello2");

    // Writing the same value again sends nothing.
    let before = (p.to_dev.len(), p.to_srv.len());
    assert!(p.srv_root.write(simp, 0, b"\x02hello2"));
    p.srv_root.send(simp);
    p.pump();
    assert_eq!((p.to_dev.len(), p.to_srv.len()), before);
    assert!(p.dev_errors.is_empty() && p.srv_errors.is_empty());
}

#[test]
fn mbinfo_replies_are_source_blocks_first() {
    let mut p = Pair::socket();
    p.pump();
    // Device announces exp (8) then imp (9); server replies imp (its source) first.
    let frames = system_frames(&p.to_dev);
    let replies: Vec<&str> = frames
        .iter()
        .filter_map(|(k, name)| (*k == 1).then_some(name.as_str()))
        .collect();
    assert_eq!(replies, ["imp", "exp"]);
    let announced: Vec<String> = system_frames(&p.to_srv)
        .into_iter()
        .filter(|(k, _)| *k == 1)
        .map(|(_, n)| n)
        .collect();
    assert_eq!(announced, ["exp", "imp"]);
}

/// (system type, block name) of every system frame in a socket stream.
fn system_frames(mut s: &[u8]) -> Vec<(u8, String)> {
    use ferrocom_wire::codec::Decoded;
    use ferrocom_wire::iocom::{
        ClientHandshake, FrameFlags, SocketBody, SocketItem, SystemBody, SystemMessage,
    };
    if s.first() == Some(&0x53)
        && let Ok(Decoded::Complete(_, n)) = ClientHandshake::decode(s)
    {
        s = &s[n..];
    }
    let mut out = Vec::new();
    while let Ok(Decoded::Complete(item, n)) = SocketItem::decode(s) {
        s = &s[n..];
        let SocketBody::Numbered(f) = item.body else {
            continue;
        };
        if !f.flags.contains(FrameFlags::SYSTEM) {
            continue;
        }
        match SystemMessage::decode_exact(&f.data).unwrap().body {
            SystemBody::MemoryBlockInfo(i) => out.push((1, i.block_name.unwrap_or("").to_string())),
            SystemBody::Authentication(_) => out.push((2, String::new())),
            SystemBody::RemoveRequest(_) => out.push((3, String::new())),
            _ => {}
        }
    }
    out
}

#[test]
fn reconnect_sends_key_frames_again() {
    let mut p = Pair::socket();
    assert!(p.dev_root.write(p.exp, 0, &[9; 44]));
    p.pump();
    let sexp = p.srv_block("exp").unwrap();
    assert_eq!(p.srv_root.read(sexp).unwrap(), [9; 44]);
    // The socket drops: both ends reset on a new socket (§8.4).
    let (dev_root, srv_root) = (&mut p.dev_root, &mut p.srv_root);
    p.dev.reset(dev_root, p.now);
    p.srv.reset(srv_root, p.now);
    let ev = p.srv_events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::BlockRemoved { name, .. } if name == "exp")),
        "dynamic blocks released"
    );
    assert!(p.srv_root.blocks().next().is_none());
    let before = p.to_srv.len();
    p.pump();
    // Handshake, ACK 0, auth frame 0, mbinfo 1.. and a key frame of exp again.
    let again = &p.to_srv[before..];
    assert_eq!(&again[..10], b"\x53\x08cafenet\x00");
    assert_eq!(&again[10..14], [0xFF, 0, 0, 0]);
    assert_eq!(again[14], 0, "frame numbers restart at 0");
    let sexp = p.srv_block("exp").unwrap();
    assert_eq!(
        p.srv_root.read(sexp).unwrap(),
        [9; 44],
        "key frame after reconnect"
    );
    assert!(
        p.srv_events()
            .iter()
            .any(|e| matches!(e, Event::DataReceived { .. }))
    );
}

#[test]
fn listener_clears_bidirectional_only_for_a_bidirectional_peer() {
    // Gina-style peer (no auth flag 0x80): replies keep 0x08 like the C server (0x39).
    let mut p = Pair::socket();
    p.pump();
    let reply = find_mbinfo_flags(&p.to_dev, "imp");
    assert_eq!(reply, 0x39);
}

fn find_mbinfo_flags(mut s: &[u8], name: &str) -> u32 {
    use ferrocom_wire::codec::Decoded;
    use ferrocom_wire::iocom::{SocketBody, SocketItem, SystemBody, SystemMessage};
    while let Ok(Decoded::Complete(item, n)) = SocketItem::decode(s) {
        s = &s[n..];
        let SocketBody::Numbered(f) = item.body else {
            continue;
        };
        if let Ok(SystemMessage {
            body: SystemBody::MemoryBlockInfo(i),
        }) = SystemMessage::decode_exact(&f.data)
            && i.block_name == Some(name)
        {
            return i.block_flags;
        }
    }
    panic!("no mbinfo for {name}");
}
