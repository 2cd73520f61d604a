//! Keep-alive and silence timeout (§6.3, §7) on a simulated clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Pair;
use ferrocom_runtime::iocom::{ConnectionError, Event};

#[test]
fn socket_keepalive_after_10_s_without_writing() {
    let mut p = Pair::socket();
    p.pump();
    let (d0, s0) = (p.to_srv.len(), p.to_dev.len());
    assert_eq!(p.dev.poll_timeout(), Some(10_000));
    p.advance_to(9_999);
    assert_eq!(
        (p.to_srv.len(), p.to_dev.len()),
        (d0, s0),
        "nothing before 10 s"
    );
    p.advance_to(10_000);
    // Each end sends one ACK carrying its received count; nothing else.
    assert_eq!(p.to_srv.len(), d0 + 4);
    assert_eq!(p.to_srv[d0], 0xFF);
    assert_eq!(p.to_dev.len(), s0 + 4);
    assert_eq!(p.to_dev[s0], 0xFF);
    // Keep-alives keep both ends alive for as long as we like.
    p.advance_to(100_000);
    assert!(p.dev.is_authenticated() && p.srv.is_authenticated());
    assert!(p.dev_errors.is_empty() && p.srv_errors.is_empty());
    assert_eq!(p.to_srv.len(), d0 + 4 * 10);
}

#[test]
fn socket_silence_timeout_after_20_s() {
    let mut p = Pair::socket();
    p.pump();
    // The device goes silent: its output is no longer delivered.
    let mut t = p.now;
    let mut srv_err = None;
    while srv_err.is_none() && t < 30_000 {
        t = p.srv.poll_timeout().unwrap();
        if let Err(e) = p.srv.handle_timeout(&mut p.srv_root, t) {
            srv_err = Some((t, e));
        }
        let mut out = Vec::new();
        p.srv.poll_transmit(&mut p.srv_root, t, &mut out);
    }
    let (t, e) = srv_err.unwrap();
    assert_eq!(t, 20_000);
    assert_eq!(e, ConnectionError::SilenceTimeout { silent_for: 20_000 });
    assert!(!p.srv.is_connected());
    assert!(p.srv_events().iter().any(|e| matches!(
        e,
        Event::Disconnected {
            error: ConnectionError::SilenceTimeout { .. }
        }
    )));
}

#[test]
fn serial_keepalive_150_ms_and_silence_250_ms() {
    let mut p = Pair::serial();
    p.pump();
    assert!(p.dev.is_authenticated());
    let s0 = p.to_dev.len();
    p.advance_to(p.now + 150);
    assert_eq!(p.to_dev.len(), s0 + 3, "serial keep-alive is a 3-byte ACK");
    // Silence: the server stops hearing the device; 250 ms later it restarts the link with F9.
    let t0 = p.now;
    let mut restarted = None;
    while restarted.is_none() {
        let t = p.srv.poll_timeout().unwrap();
        if let Err(e) = p.srv.handle_timeout(&mut p.srv_root, t) {
            let mut out = Vec::new();
            p.srv.poll_transmit(&mut p.srv_root, t, &mut out);
            restarted = Some((e, out));
        } else {
            let mut out = Vec::new();
            p.srv.poll_transmit(&mut p.srv_root, t, &mut out);
        }
        assert!(t < t0 + 1000);
    }
    let (e, out) = restarted.unwrap();
    assert!(matches!(
        e,
        ConnectionError::SilenceTimeout { silent_for: 250 }
    ));
    assert_eq!(out, [0xF9]);
    assert!(!p.srv.is_connected());
}
