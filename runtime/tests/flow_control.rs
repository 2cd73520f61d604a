//! ACK every UNACK_LIMIT bytes, the bytes-in-flight limit, stall and release (§6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Pair;
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{SocketBody, SocketItem};

/// ACK counts in a socket stream (server side: no handshake).
fn acks(mut s: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    while let Ok(Decoded::Complete(item, n)) = SocketItem::decode(s) {
        if let SocketBody::Ack(a) = item.body {
            out.push(a.count);
        }
        s = &s[n..];
    }
    out
}

#[test]
fn first_ack_then_one_every_500_received_bytes() {
    let mut p = Pair::socket();
    p.pump();
    for i in 0..200u32 {
        assert!(p.dev_root.write(p.exp, 0, &(i * 7919).to_le_bytes()));
        p.dev_root.send(p.exp);
        p.pump();
    }
    let a = acks(&p.to_dev);
    assert_eq!(a[0], 4, "first ACK counts the device's 4-byte ACK");
    for w in a.windows(2) {
        assert!(w[1] - w[0] >= 500, "{w:?}");
    }
    let received = (p.to_srv.len() - 10) as u32; // handshake not counted
    assert!(received - a.last().unwrap() < 500 + 20);
}

#[test]
fn sender_stalls_at_max_in_air_and_resumes_on_ack() {
    let mut p = Pair::socket();
    p.pump();
    // Cut the wire back to the device: it never sees the server's ACKs.
    let max_in_air = 44 * 1392;
    let mut sent_frames = 0;
    for i in 0..20_000u32 {
        assert!(p.dev_root.write(p.exp, 0, &(i + 1).to_le_bytes()));
        p.dev_root.send(p.exp);
        let mut a = Vec::new();
        p.dev.poll_transmit(&mut p.dev_root, p.now, &mut a);
        if a.is_empty() {
            break;
        }
        sent_frames += 1;
        p.deliver_to_srv(&a);
        let mut b = Vec::new();
        p.srv.poll_transmit(&mut p.srv_root, p.now, &mut b); // dropped
    }
    let in_flight = p.dev.bytes_in_flight();
    assert!(
        in_flight <= max_in_air && in_flight > max_in_air - 20,
        "{in_flight}"
    );
    // Stalled: a new snapshot produces nothing (and consumes no frame number).
    assert!(p.dev_root.write(p.exp, 0, &[0xEE; 4]));
    p.dev_root.send(p.exp);
    let mut a = Vec::new();
    p.dev.poll_transmit(&mut p.dev_root, p.now, &mut a);
    assert!(a.is_empty());
    assert!(sent_frames > 100);
    // Restore the wire: the server's next ACK releases the device.
    // The server's ACKs were all lost; its next keep-alive carries the full count.
    let t = p.now + 10_000;
    p.advance_to(t);
    // The withheld snapshot went out; the 0xEE change accumulated meanwhile (a snapshot
    // is never taken while one is in transmission, §11.2) and goes with the next send.
    p.dev_root.send(p.exp);
    p.pump();
    let sexp = p.srv_block("exp").unwrap();
    assert_eq!(
        &p.srv_root.read(sexp).unwrap()[..4],
        [0xEE; 4],
        "released after the ACK"
    );
    assert!(p.dev.bytes_in_flight() < 1000);
    assert!(p.srv_errors.is_empty() && p.dev_errors.is_empty());
}

#[test]
fn serial_in_flight_limit_is_200_bytes() {
    let mut p = Pair::serial();
    p.pump();
    assert!(p.dev.is_authenticated());
    for i in 0..100u32 {
        let v = (i + 1) as u8;
        assert!(
            p.dev_root
                .write(p.exp, 0, &[v, v, v, v, v, v, v, v, v, v, v])
        );
        p.dev_root.send(p.exp);
        let mut a = Vec::new();
        p.dev.poll_transmit(&mut p.dev_root, p.now, &mut a);
        if a.is_empty() {
            break;
        }
        p.deliver_to_srv(&a);
    }
    let f = p.dev.bytes_in_flight();
    assert!(f <= 200 && f > 200 - 20, "{f}");
    p.pump();
    assert!(p.dev.bytes_in_flight() < 40);
}
