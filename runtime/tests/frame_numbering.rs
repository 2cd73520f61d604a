//! Frame numbers: 0 first, then 1..=200 wrapping to 1 (§5); a wrong number drops the
//! connection (§4.7).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Pair;
use ferrocom_runtime::iocom::{ConnectionError, Event};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{SocketBody, SocketItem};

fn numbers(mut s: &[u8]) -> Vec<u8> {
    s = &s[10..]; // handshake
    let mut out = Vec::new();
    while let Ok(Decoded::Complete(item, n)) = SocketItem::decode(s) {
        if let SocketBody::Numbered(f) = item.body {
            out.push(f.nr);
        }
        s = &s[n..];
    }
    out
}

#[test]
fn numbers_wrap_past_200_to_1() {
    let mut p = Pair::socket();
    p.pump();
    for i in 0..450u32 {
        assert!(p.dev_root.write(p.exp, 0, &i.to_le_bytes()));
        p.dev_root.send(p.exp);
        p.pump();
    }
    let nrs = numbers(&p.to_srv);
    assert!(nrs.len() > 450);
    assert_eq!(nrs[0], 0);
    for w in nrs.windows(2) {
        let expected = if w[0] == 200 { 1 } else { w[0] + 1 };
        assert_eq!(w[1], expected, "{w:?}");
    }
    assert_eq!(nrs.iter().filter(|&&n| n == 0).count(), 1, "0 never recurs");
    assert!(
        nrs.iter().filter(|&&n| n == 200).count() >= 2,
        "wrapped at least twice"
    );
    assert!(p.srv_errors.is_empty() && p.dev_errors.is_empty());
    let sexp = p.srv_block("exp").unwrap();
    assert_eq!(&p.srv_root.read(sexp).unwrap()[..4], 449u32.to_le_bytes());
}

#[test]
fn wrong_frame_number_drops_the_connection() {
    let mut p = Pair::socket();
    p.pump();
    // Frame 1 again where the server expects a later number.
    let bogus = [0x01, 0x10, 0x01, 0x00, 0x17, 0x00, 0xAA];
    p.deliver_to_srv(&bogus);
    assert!(matches!(
        p.srv_errors.as_slice(),
        [ConnectionError::UnexpectedFrameNumber { found: 1, .. }]
    ));
    assert!(!p.srv.is_connected());
    assert!(
        p.srv_events()
            .iter()
            .any(|e| matches!(e, Event::Disconnected { .. }))
    );
    assert!(
        p.srv_root.blocks().next().is_none(),
        "dynamic blocks released"
    );
    // Nothing more is sent on the dead socket.
    let mut out = Vec::new();
    p.srv.poll_transmit(&mut p.srv_root, p.now, &mut out);
    assert!(out.is_empty());
    assert_eq!(p.srv.poll_timeout(), None);
}

#[test]
fn the_lead_byte_is_checked_before_the_frame_is_complete() {
    let mut p = Pair::socket();
    p.pump();
    p.deliver_to_srv(&[0x07]);
    assert!(matches!(
        p.srv_errors.as_slice(),
        [ConnectionError::UnexpectedFrameNumber { found: 7, .. }]
    ));
}

#[test]
fn a_frame_split_anywhere_is_reassembled() {
    let mut p = Pair::socket();
    // Deliver the device's whole opening byte by byte.
    let mut a = Vec::new();
    p.dev.poll_transmit(&mut p.dev_root, 0, &mut a);
    for b in &a {
        p.deliver_to_srv(std::slice::from_ref(b));
    }
    p.pump();
    assert!(p.srv.is_authenticated() && p.srv_errors.is_empty());
    assert!(p.srv_block("exp").is_some());
}
