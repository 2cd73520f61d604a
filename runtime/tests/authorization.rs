//! TLS mark byte, password, and the authorization hook (§8.1, §9.4).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::Pair;
use ferrocom_runtime::iocom::{
    AuthDecision, AuthRequest, ConnectionConfig, ConnectionError, hash_password,
};

// The hook must be `Send` (the tokio roles share the root across tasks).
type Seen = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

fn tls_pair(decision: AuthDecision) -> (Pair, Seen) {
    let mut p = Pair::new(
        ConnectionConfig::socket_client(true),
        ConnectionConfig::socket_server(true),
    );
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    p.srv_root
        .set_authorizer(Box::new(move |r: &AuthRequest<'_>| {
            s2.lock().unwrap().push((
                r.user.to_string(),
                r.network.to_string(),
                r.password_hash.map(String::from),
            ));
            decision
        }));
    (p, seen)
}

#[test]
fn tls_client_waits_for_mark_and_sends_password() {
    let (mut p, seen) = tls_pair(AuthDecision::Allow);
    // Device identity with a password (set before connecting).
    let _ = &mut p;
    let mut out = Vec::new();
    p.dev.poll_transmit(&mut p.dev_root, 0, &mut out);
    assert!(
        out.is_empty(),
        "TLS client says nothing before the mark byte"
    );
    let mut s = Vec::new();
    p.srv.poll_transmit(&mut p.srv_root, 0, &mut s);
    assert_eq!(s, [0x5B]);
    p.deliver_to_dev(&s);
    p.pump();
    assert!(p.srv.is_authenticated() && p.dev.is_authenticated());
    assert_eq!(&p.to_srv[..10], b"\x53\x08cafenet\x00");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "hook consulted once, by the TLS listener");
    assert_eq!(seen[0].0, "gina");
    assert_eq!(seen[0].1, "cafenet");
    assert_eq!(seen[0].2, None, "no password configured");
}

#[test]
fn password_is_hashed_for_the_hook() {
    let (mut p, seen) = tls_pair(AuthDecision::Allow);
    let mut id = p.dev_root.identity().clone();
    id.password = "pass".into();
    // Rebuild the device root with a password.
    let mut root = ferrocom_runtime::iocom::Root::new(id);
    root.create_block("exp", common::UP, vec![0; 44]).unwrap();
    p.dev_root = root;
    let (r, now) = (&mut p.dev_root, p.now);
    p.dev = ferrocom_runtime::iocom::Connection::new(r, ConnectionConfig::socket_client(true), now);
    p.pump();
    assert_eq!(
        seen.lock().unwrap()[0].2.as_deref(),
        Some("!WdjEE1b87DwXX81xJEtDpbQ_Y_ecFo6lPzSonKFoSz8")
    );
    assert_eq!(
        hash_password("pass"),
        "!WdjEE1b87DwXX81xJEtDpbQ_Y_ecFo6lPzSonKFoSz8"
    );
    // The clear-text password travelled in the authentication frame (inside TLS).
    assert!(p.to_srv.windows(5).any(|w| w == b"\x04pass"));
}

#[test]
fn refused_peer_is_dropped_without_a_reject_message() {
    let (mut p, _) = tls_pair(AuthDecision::Deny);
    p.pump();
    assert_eq!(p.srv_errors, [ConnectionError::AuthorizationRefused]);
    assert!(!p.srv.is_connected());
    assert!(p.srv_root.blocks().next().is_none());
}

#[test]
fn bad_tls_mark_fails_the_client() {
    let (mut p, _) = tls_pair(AuthDecision::Allow);
    p.deliver_to_dev(&[0x13]);
    assert_eq!(p.dev_errors, [ConnectionError::BadTlsMark { found: 0x13 }]);
}

#[test]
fn plain_tcp_is_not_authorized() {
    let mut p = Pair::socket();
    let called = Arc::new(Mutex::new(0));
    let c2 = called.clone();
    p.srv_root
        .set_authorizer(Box::new(move |_: &AuthRequest<'_>| {
            *c2.lock().unwrap() += 1;
            AuthDecision::Deny
        }));
    p.pump();
    assert_eq!(*called.lock().unwrap(), 0);
    assert!(p.srv.is_authenticated());
}
