//! The serial link procedure (§8.3), CRC errors (§4.2) and restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Pair, device_root, server_root};
use ferrocom_runtime::iocom::{Connection, ConnectionConfig, ConnectionError, Event};

#[test]
fn link_procedure_then_ack_and_auth() {
    let (mut droot, _, _) = device_root();
    let mut sroot = server_root();
    let mut dev = Connection::new(&mut droot, ConnectionConfig::serial_client(), 0);
    let mut srv = Connection::new(&mut sroot, ConnectionConfig::serial_server(), 0);
    let mut out = Vec::new();
    srv.poll_transmit(&mut sroot, 0, &mut out);
    assert_eq!(out, [0xF9], "listener starts with DISCONNECT");
    // The device is not running yet; the F9 is lost. The device starts with CONNECT.
    let mut d = Vec::new();
    dev.poll_transmit(&mut droot, 0, &mut d);
    assert_eq!(d, [0xFD]);
    srv.handle_input(&mut sroot, &d, 1).unwrap();
    let mut s = Vec::new();
    srv.poll_transmit(&mut sroot, 1, &mut s);
    assert_eq!(s, [0xFC]);
    dev.handle_input(&mut droot, &s, 2).unwrap();
    d.clear();
    dev.poll_transmit(&mut droot, 2, &mut d);
    assert_eq!(d, [0xFB]);
    assert!(!srv.is_connected());
    srv.handle_input(&mut sroot, &d, 3).unwrap();
    assert!(srv.is_connected());
    s.clear();
    srv.poll_transmit(&mut sroot, 3, &mut s);
    // FA, ACK 0 (16-bit), then the authentication frame (frame 0, serial header) — one write.
    assert_eq!(&s[..4], [0xFA, 0xFF, 0x00, 0x00]);
    assert_eq!(s[4], 0x00);
    assert_eq!(
        &s[7..10],
        [0x20, 0x12, 0x60],
        "SYSTEM, 18 bytes, frame size 96"
    );
    dev.handle_input(&mut droot, &s, 4).unwrap();
    assert!(dev.is_connected());
    d.clear();
    dev.poll_transmit(&mut droot, 4, &mut d);
    // Device ACKs 3 + auth bytes, then its auth without unique id (serial), flags CONNECT_UP.
    assert_eq!(&d[..3], [0xFF, (s.len() - 1) as u8, 0x00]);
    assert_eq!(&d[6..9], [0x20, 0x11, 0x60]);
    assert_eq!(d[11], 0x10, "CONNECT_UP only: no unique id on serial");
}

#[test]
fn client_repeats_connect_every_300_ms() {
    let (mut droot, _, _) = device_root();
    let mut dev = Connection::new(&mut droot, ConnectionConfig::serial_client(), 0);
    let mut d = Vec::new();
    dev.poll_transmit(&mut droot, 0, &mut d);
    assert_eq!(dev.poll_timeout(), Some(300));
    dev.handle_timeout(&mut droot, 300).unwrap();
    dev.poll_transmit(&mut droot, 300, &mut d);
    assert_eq!(d, [0xFD, 0xFD]);
    // A CONNECT_REPLY that is not the last byte read does not count.
    dev.handle_input(&mut droot, &[0xFC, 0x00], 310).unwrap();
    dev.poll_transmit(&mut droot, 310, &mut d);
    assert_eq!(d, [0xFD, 0xFD]);
    dev.handle_input(&mut droot, &[0x00, 0xFC], 320).unwrap();
    dev.poll_transmit(&mut droot, 320, &mut d);
    assert_eq!(d, [0xFD, 0xFD, 0xFB]);
    // No CONFIRM_REPLY within 300 ms: back to CONNECT.
    dev.handle_timeout(&mut droot, 620).unwrap();
    dev.poll_transmit(&mut droot, 620, &mut d);
    assert_eq!(d, [0xFD, 0xFD, 0xFB, 0xFD]);
}

#[test]
fn crc_error_drops_and_restarts_the_link() {
    let mut p = Pair::serial();
    p.pump();
    assert!(p.srv.is_authenticated());
    // Corrupt one content byte of the device's next data frame.
    assert!(p.dev_root.write(p.exp, 3, &[1, 2, 3, 4, 5]));
    p.dev_root.send(p.exp);
    let mut a = Vec::new();
    p.dev.poll_transmit(&mut p.dev_root, p.now, &mut a);
    let last = a.len() - 1;
    a[last] ^= 0x40;
    p.deliver_to_srv(&a);
    assert!(
        matches!(p.srv_errors.as_slice(), [ConnectionError::Crc { .. }]),
        "{:?}",
        p.srv_errors
    );
    assert!(p.srv_events().iter().any(|e| matches!(
        e,
        Event::Disconnected {
            error: ConnectionError::Crc { .. }
        }
    )));
    // The server restarts with F9; the device sees a control character mid-stream
    // (quirk 16), drops and reconnects; the data arrive after the new key frame.
    p.pump();
    assert!(matches!(
        p.dev_errors.as_slice(),
        [ConnectionError::LinkControl { byte: 0xF9 }]
    ));
    assert!(p.srv.is_authenticated() && p.dev.is_authenticated());
    let sexp = p.srv_block("exp").unwrap();
    assert_eq!(&p.srv_root.read(sexp).unwrap()[3..8], [1, 2, 3, 4, 5]);
}

#[test]
fn static_info_block_is_sent_raw_in_chunks() {
    use ferrocom_wire::iocom::BlockFlags;
    let mut p = Pair::serial();
    let info: Vec<u8> = (0..1060u32).map(|i| (i % 251) as u8 + 1).collect();
    let id = p
        .dev_root
        .create_block("info", BlockFlags::UP | BlockFlags::STATIC, info.clone())
        .unwrap();
    assert!(p.dev_root.block(id).unwrap().is_static());
    p.pump();
    let sinfo = p.srv_block("info").unwrap();
    assert_eq!(p.srv_root.read(sinfo).unwrap(), info.as_slice());
    // Frames of 96 bytes: 89 content bytes while the address fits one byte, then 88.
    let s = &p.to_srv;
    let mut frames = Vec::new();
    // Skip the link procedure: start at the device's first ACK.
    let mut i = s.iter().position(|&b| b == 0xFF).unwrap();
    while i < s.len() {
        if s[i] == 0xFF {
            i += 3;
            continue;
        }
        if (0xF9..=0xFD).contains(&s[i]) {
            i += 1;
            continue;
        }
        let flags = s[i + 3];
        let size = s[i + 4] as usize;
        let hdr = 7 + usize::from(flags & 0x04 != 0) + usize::from(flags & 0x08 != 0);
        frames.push((flags, size, s[i + 5]));
        i += hdr + size;
    }
    let info_frames: Vec<_> = frames
        .iter()
        .filter(|f| f.0 & 0x20 == 0 && f.2 != 0 && f.1 >= 88 || (f.0 == 0x14 && f.1 == 1))
        .collect();
    assert!(
        info_frames.iter().take(3).all(|f| f.0 == 0x00 && f.1 == 89),
        "{info_frames:?}"
    );
    assert!(
        info_frames
            .iter()
            .skip(3)
            .take(9)
            .all(|f| f.0 == 0x04 && f.1 == 88),
        "{info_frames:?}"
    );
    assert_eq!(info_frames.last().map(|f| (f.0, f.1)), Some((0x14, 1)));
}
