//! Frame-size negotiation and the oversize rule (§4.6, quirk 9).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Pair;
use ferrocom_runtime::iocom::{ConnectionConfig, ConnectionError};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{SocketBody, SocketItem};

fn max_frame(mut s: &[u8]) -> usize {
    let mut m = 0;
    while let Ok(Decoded::Complete(item, n)) = SocketItem::decode(s) {
        if let SocketBody::Numbered(_) = item.body {
            m = m.max(n);
        }
        s = &s[n..];
    }
    m
}

#[test]
fn sender_uses_min_of_own_and_peer_frame_size() {
    let mut srv_cfg = ConnectionConfig::socket_server(false);
    srv_cfg.frame_size = Some(464); // a microcontroller-sized server
    let mut p = Pair::new(ConnectionConfig::socket_client(false), srv_cfg);
    p.pump();
    assert_eq!(p.dev.frame_limit(), 464);
    assert_eq!(
        p.srv.frame_limit(),
        464,
        "a larger announcement is not adopted"
    );
    // A 2000-byte incompressible block goes in frames of at most 464 bytes.
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 255) as u8 + 1).collect();
    let id = p
        .dev_root
        .create_block("big", common::UP, data.clone())
        .unwrap();
    p.pump();
    let _ = id;
    let sbig = p.srv_block("big").unwrap();
    assert_eq!(p.srv_root.read(sbig).unwrap(), data.as_slice());
    assert_eq!(max_frame(&p.to_srv[10..]), 464);
    assert!(p.srv_errors.is_empty());
}

#[test]
fn announcements_outside_96_to_16384_are_ignored() {
    let mut dev_cfg = ConnectionConfig::socket_client(false);
    dev_cfg.frame_size = Some(64);
    let mut p = Pair::new(dev_cfg, ConnectionConfig::socket_server(false));
    p.pump();
    assert_eq!(p.srv.frame_limit(), 1392);
}

#[test]
fn oversize_frame_is_rejected_before_it_is_complete() {
    let mut srv_cfg = ConnectionConfig::socket_server(false);
    srv_cfg.frame_size = Some(464);
    let mut p = Pair::new(ConnectionConfig::socket_client(false), srv_cfg);
    p.pump();
    let nr = {
        // The next frame number the server expects: count the device's numbered frames.
        let mut s = &p.to_srv[10..];
        let mut last = 0u8;
        while let Ok(Decoded::Complete(item, n)) = SocketItem::decode(s) {
            if let SocketBody::Numbered(f) = item.body {
                last = f.nr;
            }
            s = &s[n..];
        }
        if last == 200 { 1 } else { last + 1 }
    };
    // Header of a 600-byte data frame; only the header is delivered.
    let size: u16 = 600;
    let hdr = [nr, 0x10, size as u8, (size >> 8) as u8, 23, 0];
    p.deliver_to_srv(&hdr);
    assert!(
        matches!(
            p.srv_errors.as_slice(),
            [ConnectionError::OversizeFrame {
                len: 606,
                limit: 464
            }]
        ),
        "{:?}",
        p.srv_errors
    );
}
