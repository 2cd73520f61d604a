//! Hostile and broken peers of a switchbox (reference §17), over real TLS on loopback:
//! clients naming no or an unknown IO network, plain TCP, services claiming a network
//! that is taken or with a wrong password, malformed, oversize and out-of-role
//! multiplex messages from a service, a switchbox reusing a client id or sending data
//! for an unknown client, and trust on first use. Each is refused with a log line that
//! names it; the good device of `cafenet` keeps working throughout (asserted after every
//! case).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrocom_runtime::device::{Device, DeviceHandle};
use ferrocom_runtime::net::tls::{self, Trust, certificate_fingerprint};
use ferrocom_runtime::server::{ServerEvents, ServerHandle};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_runtime::switchbox::SwitchboxHandle;
use ferrocom_runtime::switchbox::hello;
use ferrocom_runtime::switchbox::mux::{self, MuxDecoder, MuxMessage};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::ClientHandshake;
use support::switchbox::*;
use support::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

type Client = tokio_rustls::client::TlsStream<TcpStream>;

/// A TLS connection to the switchbox that has read the mark byte.
async fn raw_tls(sb: SocketAddr, certs: &ferrocom_runtime::net::tls::DevCertificates) -> Client {
    let connector = tls::connector(&Trust::Roots(vec![certs.ca_cert.clone()])).unwrap();
    let tcp = TcpStream::connect(sb).await.unwrap();
    let mut s = tls::connect(&connector, "127.0.0.1", tcp).await.unwrap();
    let mut mark = [0u8; 1];
    s.read_exact(&mut mark).await.unwrap();
    assert_eq!(mark, [0x5B]);
    s
}

/// Reads until the peer closes (or fails); panics if it stays open for 10 s.
async fn wait_closed<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut got = Vec::new();
    within(Duration::from_secs(10), async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    got
}

/// A raw service that publishes `network` as `user`/`pw`; returns the connection after
/// the switchbox's authentication frame.
async fn raw_service(
    sb: SocketAddr,
    certs: &ferrocom_runtime::net::tls::DevCertificates,
    network: &str,
    user: &str,
    pw: &str,
) -> Client {
    let mut s = raw_tls(sb, certs).await;
    let mut out = Vec::new();
    hello::encode_service_handshake(network, &mut out).unwrap();
    hello::encode_auth(user, pw, &[3; 12], &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    let mut rx = Vec::new();
    within(Duration::from_secs(10), async {
        let mut buf = [0u8; 256];
        loop {
            if let Ok(Decoded::Complete(_, n)) = hello::decode_auth(&rx) {
                assert_eq!(n, rx.len(), "nothing after the switchbox's auth frame yet");
                return;
            }
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "switchbox refused the raw service");
            rx.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    s
}

struct Rig {
    sb: SwitchboxHandle,
    certs: ferrocom_runtime::net::tls::DevCertificates,
    server: ServerHandle,
    events: ServerEvents,
    good: DeviceHandle,
    value: u32,
}

impl Rig {
    async fn new(tag: &str) -> Rig {
        let certs = certs();
        let sb = start_switchbox(tag, &certs).await;
        let server = start_service(
            &temp_db(tag),
            "cafenet",
            link(sb.local_addr(), &certs, "cafenet", "plant", "pw"),
        )
        .await;
        let events = server.subscribe();
        wait_published(&sb, "cafenet").await;
        let good = device("good", "cafenet", sb.local_addr(), &certs);
        within(Duration::from_secs(10), good.wait_connected()).await;
        let mut rig = Rig {
            sb,
            certs,
            server,
            events,
            good,
            value: 0,
        };
        rig.good_still_works().await;
        rig
    }

    /// The good device's next value reaches the server.
    async fn good_still_works(&mut self) {
        self.value += 1;
        assert!(self.good.connected(), "the good device lost its connection");
        self.good.set("exp", "counter", self.value).unwrap();
        wait_signal(
            &mut self.events,
            "good",
            "exp",
            "counter",
            &SignalValue::Int(i64::from(self.value)),
        )
        .await;
        let nets = self.sb.networks();
        let cafe = nets
            .iter()
            .find(|n| n.network == "cafenet")
            .expect("cafenet published");
        assert_eq!(cafe.owner, "plant");
        assert_eq!(cafe.clients, vec![1], "the good device keeps client id 1");
    }

    async fn shutdown(self) {
        self.good.shutdown().await;
        self.server.shutdown().await;
        self.sb.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clients_are_dropped_with_a_reason() {
    let logs = logs();
    let mut rig = Rig::new("sbh-clients").await;
    let sb = rig.sb.local_addr();

    // A network nobody published.
    let mut c = raw_tls(sb, &rig.certs).await;
    let me = c.get_ref().0.local_addr().unwrap().to_string();
    c.write_all(b"\x53\x07nosuch\x00\xFF\x00\x00\x00")
        .await
        .unwrap();
    wait_closed(&mut c).await;
    let line = logs
        .wait_line(&[
            "client refused",
            "no service has published this IO network",
            &me,
        ])
        .await;
    assert!(line.contains("nosuch"), "{line}");
    rig.good_still_works().await;

    // No network name at all.
    let mut c = raw_tls(sb, &rig.certs).await;
    let me = c.get_ref().0.local_addr().unwrap().to_string();
    c.write_all(b"\x13").await.unwrap();
    wait_closed(&mut c).await;
    logs.wait_line(&["names no IO network", &me]).await;
    rig.good_still_works().await;

    // A handshake with a role that is neither service nor client.
    let mut c = raw_tls(sb, &rig.certs).await;
    let me = c.get_ref().0.local_addr().unwrap().to_string();
    c.write_all(b"\x45\x08cafenet\x00").await.unwrap();
    wait_closed(&mut c).await;
    logs.wait_line(&["malformed IOCOM handshake", &me]).await;
    rig.good_still_works().await;

    // Plain TCP: no TLS, no switchbox.
    let mut t = TcpStream::connect(sb).await.unwrap();
    let me = t.local_addr().unwrap().to_string();
    t.write_all(b"\x53\x08cafenet\x00").await.unwrap();
    let got = wait_closed(&mut t).await;
    assert!(
        !got.contains(&0x5B) || got.len() > 1,
        "no TLS mark on plain TCP"
    );
    logs.wait_line(&["TLS handshake failed", &me]).await;
    rig.good_still_works().await;

    // A client that names cafenet but sends garbage instead of IOCOM: relayed, and the
    // service (which authenticates clients end to end) drops it.
    let mut c = raw_tls(sb, &rig.certs).await;
    c.write_all(b"\x53\x08cafenet\x00\xC9garbage")
        .await
        .unwrap();
    wait_closed(&mut c).await;
    logs.wait_line(&["IOCOM connection dropped", "client 2"])
        .await;
    rig.good_still_works().await;
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_in_use_cannot_be_taken_by_another_account() {
    let logs = logs();
    let mut rig = Rig::new("sbh-claim").await;
    let sb = rig.sb.local_addr();

    // Another account allowed on cafenet: refused, the owner stays.
    let intruder = start_service(
        &temp_db("sbh-intruder"),
        "cafenet",
        link(sb, &rig.certs, "cafenet", "intruder", "pw2"),
    )
    .await;
    logs.wait_line(&[
        "service refused",
        "already published by another account",
        "intruder",
    ])
    .await;
    logs.wait_line(&[
        "cannot publish the IO network",
        "instead of accepting the service",
    ])
    .await;
    rig.good_still_works().await;
    intruder.shutdown().await;

    // The owner's account with a wrong password.
    let mut s = raw_tls(sb, &rig.certs).await;
    let mut out = Vec::new();
    hello::encode_service_handshake("cafenet", &mut out).unwrap();
    hello::encode_auth("plant", "wrong", &[0; 12], &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    assert!(
        wait_closed(&mut s).await.is_empty(),
        "no authentication frame for a refused service"
    );
    logs.wait_line(&[
        "service refused",
        "no service account lets this user publish",
        "user=\"plant\"",
    ])
    .await;
    rig.good_still_works().await;

    // The owner itself may take its network over (its old connection may be dead):
    // shown on othernet with two raw connections of the owner.
    let mut first = raw_service(sb, &rig.certs, "othernet", "plant", "pw").await;
    let first_addr = first.get_ref().0.local_addr().unwrap();
    wait_published(&rig.sb, "othernet").await;
    let second = raw_service(sb, &rig.certs, "othernet", "plant", "pw").await;
    let second_addr = second.get_ref().0.local_addr().unwrap();
    wait_closed(&mut first).await;
    logs.wait_line(&[
        "taken over by a new connection of its owner",
        &first_addr.to_string(),
    ])
    .await;
    let nets = rig.sb.networks();
    let other = nets.iter().find(|n| n.network == "othernet").unwrap();
    assert_eq!(other.service, second_addr);
    rig.good_still_works().await;
    drop(second);
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_multiplex_messages_drop_only_that_service() {
    let logs = logs();
    let mut rig = Rig::new("sbh-mux").await;
    let sb = rig.sb.local_addr();

    let cases: [(&str, &[u8], &[&str]); 4] = [
        (
            "code 0",
            &[0x01, 0x00, 0x00, 0x00, 0x00, 0x00],
            &["malformed switchbox message", "SWB-17-7"],
        ),
        (
            "code -9",
            &[0x01, 0x00, 0xF7, 0xFF, 0xFF, 0xFF],
            &["malformed switchbox message"],
        ),
        // 16 MiB announced for client 1: refused from the header alone.
        (
            "oversize",
            &[0x01, 0x00, 0x00, 0x00, 0x00, 0x01],
            &["announces 16777216 bytes", "more than the limit of 65536"],
        ),
        // Data for client id 0 (reserved for keep-alives).
        (
            "client 0",
            &[0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xFF, 0xFF],
            &["client id 0"],
        ),
    ];
    for (what, bytes, needles) in cases {
        let mut s = raw_service(sb, &rig.certs, "othernet", "plant", "pw").await;
        wait_published(&rig.sb, "othernet").await;
        s.write_all(bytes).await.unwrap();
        wait_closed(&mut s).await;
        let mut n = vec!["service connection ended", "othernet"];
        n.extend_from_slice(needles);
        let line = logs.wait_line(&n).await;
        eprintln!("{what}: {line}");
        assert!(
            !rig.sb.networks().iter().any(|n| n.network == "othernet"),
            "{what}: othernet unpublished"
        );
        rig.good_still_works().await;
    }

    // NEW_CONNECTION comes only from the switchbox.
    let mut s = raw_service(sb, &rig.certs, "othernet", "plant", "pw").await;
    let mut out = Vec::new();
    mux::encode_new_connection(4, &mut out);
    s.write_all(&out).await.unwrap();
    wait_closed(&mut s).await;
    logs.wait_line(&[
        "service connection ended",
        "only the switchbox opens client streams",
    ])
    .await;
    rig.good_still_works().await;

    // Data for a client the switchbox does not have: CONNECTION_DROPPED comes back and
    // the service stays.
    let mut s = raw_service(sb, &rig.certs, "othernet", "plant", "pw").await;
    let mut out = Vec::new();
    mux::encode_data(77, b"late bytes", &mut out);
    s.write_all(&out).await.unwrap();
    let mut dec = MuxDecoder::default();
    let msg = within(Duration::from_secs(10), async {
        let mut buf = [0u8; 256];
        loop {
            if let Some(m) = dec.next_message().unwrap() {
                return m;
            }
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0);
            dec.push(&buf[..n]);
        }
    })
    .await;
    assert_eq!(msg, MuxMessage::ConnectionDropped(77));
    assert!(rig.sb.networks().iter().any(|n| n.network == "othernet"));
    rig.good_still_works().await;
    drop(s);
    rig.shutdown().await;
}

/// A fake switchbox: accepts one service connection and returns it after the hello.
async fn fake_switchbox_accept(
    l: &tokio::net::TcpListener,
    acceptor: &tokio_rustls::TlsAcceptor,
) -> tokio_rustls::server::TlsStream<TcpStream> {
    let (tcp, _) = l.accept().await.unwrap();
    let mut s = acceptor.accept(tcp).await.unwrap();
    s.write_all(&[0x5B]).await.unwrap();
    let mut rx = Vec::new();
    let mut buf = [0u8; 256];
    let used = loop {
        if let Ok(Decoded::Complete(hs, used)) = ClientHandshake::decode(&rx) {
            assert_eq!(hs.client_type.role, hello::ROLE_SERVICE);
            assert_eq!(hs.network, Some("cafenet"));
            break used;
        }
        let n = s.read(&mut buf).await.unwrap();
        rx.extend_from_slice(&buf[..n]);
    };
    rx.drain(..used);
    loop {
        if let Ok(Decoded::Complete(a, _)) = hello::decode_auth(&rx) {
            assert_eq!((a.user.as_str(), a.password.as_str()), ("plant", "pw"));
            break;
        }
        let n = s.read(&mut buf).await.unwrap();
        rx.extend_from_slice(&buf[..n]);
    }
    let mut out = Vec::new();
    hello::encode_auth("switchbox", "", &[0; 12], &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    s
}

/// Collects the messages the service sends for `d`.
async fn collect<S: AsyncRead + Unpin>(
    s: &mut S,
    dec: &mut MuxDecoder,
    d: Duration,
) -> Vec<MuxMessage> {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(d, async {
        let mut buf = [0u8; 4096];
        loop {
            while let Some(m) = dec.next_message().unwrap() {
                got.push(m);
            }
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            dec.push(&buf[..n]);
        }
    })
    .await;
    got
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, f: impl FnOnce(&mut Vec<u8>)) {
    let mut out = Vec::new();
    f(&mut out);
    s.write_all(&out).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_end_survives_a_misbehaving_switchbox() {
    let logs = logs();
    let certs = certs();
    let acceptor = tls::acceptor(certs.server_chain.clone(), certs.server_key().unwrap()).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = start_service(
        &temp_db("sbh-fake"),
        "cafenet",
        link(addr, &certs, "cafenet", "plant", "pw"),
    )
    .await;
    let mut s = within(
        Duration::from_secs(10),
        fake_switchbox_accept(&l, &acceptor),
    )
    .await;
    let mut dec = MuxDecoder::default();

    // A new client: the server's connection starts at once (ACK, then its auth frame).
    send(&mut s, |o| mux::encode_new_connection(1, o)).await;
    let got = collect(&mut s, &mut dec, Duration::from_millis(500)).await;
    let first: Vec<u8> = got
        .iter()
        .filter_map(|m| match m {
            MuxMessage::Data(1, d) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        first.starts_with(&[0xFF, 0x00, 0x00, 0x00]),
        "ACK first: {first:02X?}"
    );
    assert!(first.len() > 4, "then the server's authentication frame");

    // The same id again without CONNECTION_DROPPED: the old stream is closed quietly
    // (no CONNECTION_DROPPED that would hit the new client) and a new one starts.
    send(&mut s, |o| mux::encode_new_connection(1, o)).await;
    let got = collect(&mut s, &mut dec, Duration::from_millis(500)).await;
    logs.wait_line(&["reused client id 1"]).await;
    assert!(!got.contains(&MuxMessage::ConnectionDropped(1)), "{got:?}");
    let again: Vec<u8> = got
        .iter()
        .filter_map(|m| match m {
            MuxMessage::Data(1, d) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(again, first, "a fresh connection for the reused id");

    // Data for a client the service does not have: CONNECTION_DROPPED back (§17).
    send(&mut s, |o| mux::encode_data(9, b"??", o)).await;
    let got = collect(&mut s, &mut dec, Duration::from_millis(500)).await;
    assert!(got.contains(&MuxMessage::ConnectionDropped(9)), "{got:?}");

    // The link still carries other clients.
    send(&mut s, |o| mux::encode_new_connection(2, o)).await;
    let got = collect(&mut s, &mut dec, Duration::from_millis(500)).await;
    assert!(
        got.iter().any(|m| matches!(m, MuxMessage::Data(2, _))),
        "{got:?}"
    );

    // An oversize length breaks the link: it is dropped with a reason and re-established.
    s.write_all(&[0x02, 0x00, 0xFF, 0xFF, 0xFF, 0x7F])
        .await
        .unwrap();
    logs.wait_line(&["switchbox link lost", "more than the limit"])
        .await;
    let _again = within(
        Duration::from_secs(10),
        fake_switchbox_accept(&l, &acceptor),
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_on_first_use_pins_and_refuses_a_changed_certificate() {
    let logs = logs();
    let a = certs();
    let sb = start_switchbox("sbh-tofu-a", &a).await;
    let sb_addr = sb.local_addr();
    let server = start_service(
        &temp_db("sbh-tofu"),
        "cafenet",
        link(sb_addr, &a, "cafenet", "plant", "pw"),
    )
    .await;
    wait_published(&sb, "cafenet").await;

    let pin_file = temp_db("sbh-tofu-pin").with_file_name("switchbox.pin");
    let trust = Trust::FirstUse {
        roots: vec![],
        pin_file: pin_file.clone(),
    };
    let mut cfg = device_cfg("gina", "cafenet", sb_addr, &a);
    cfg.connect = via(sb_addr, trust.clone());
    let dev = Device::start(cfg.clone()).unwrap();
    within(Duration::from_secs(10), dev.wait_connected()).await;
    let pinned = std::fs::read_to_string(&pin_file).unwrap();
    assert_eq!(pinned.trim(), certificate_fingerprint(&a.server_chain[0]));
    logs.wait_line(&["trusted on first use and pinned"]).await;
    dev.shutdown().await;

    // The same pin, the same certificate: accepted again.
    let dev = Device::start(cfg.clone()).unwrap();
    within(Duration::from_secs(10), dev.wait_connected()).await;
    dev.shutdown().await;
    server.shutdown().await;
    sb.shutdown().await;

    // Another certificate at the same address: refused.
    let b = certs();
    let sb = start_switchbox_on("sbh-tofu-b", &b, sb_addr, |_| {}).await;
    let server = start_service(
        &temp_db("sbh-tofu2"),
        "cafenet",
        link(sb_addr, &b, "cafenet", "plant", "pw"),
    )
    .await;
    wait_published(&sb, "cafenet").await;
    let dev = Device::start(cfg).unwrap();
    let line = logs
        .wait_line(&[
            "certificate changed",
            &certificate_fingerprint(&b.server_chain[0]),
        ])
        .await;
    assert!(line.contains(pinned.trim()), "{line}");
    logs.wait_line(&["TLS handshake failed", &sb_addr.to_string()])
        .await;
    assert!(!dev.connected());
    assert_eq!(
        std::fs::read_to_string(&pin_file).unwrap(),
        pinned,
        "the pin is not replaced"
    );
    let _ = Arc::new(());
    dev.shutdown().await;
    server.shutdown().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_dropped_alone() {
    let logs = logs();
    let certs = certs();
    let sb = start_switchbox_on("sbh-slow", &certs, "127.0.0.1:0".parse().unwrap(), |c| {
        c.client_queue_limit = 256 * 1024;
    })
    .await;
    let addr = sb.local_addr();
    let mut service = raw_service(addr, &certs, "othernet", "plant", "pw").await;
    // Two clients: one never reads, one does.
    let mut stuck = raw_tls(addr, &certs).await;
    stuck.write_all(b"\x53\x09othernet\x00").await.unwrap();
    let mut reader = raw_tls(addr, &certs).await;
    reader.write_all(b"\x53\x09othernet\x00").await.unwrap();
    let mut dec = MuxDecoder::default();
    let got = collect(&mut service, &mut dec, Duration::from_millis(500)).await;
    assert_eq!(
        got,
        vec![MuxMessage::NewConnection(1), MuxMessage::NewConnection(2)]
    );

    // 32 MiB for the stuck client: more than the socket buffers hold, so its queue
    // grows past the limit and it is dropped; the other client still gets its bytes.
    let chunk = vec![0x55u8; 16 * 1024];
    let mut dropped = false;
    for _ in 0..2048 {
        send(&mut service, |o| mux::encode_data(1, &chunk, o)).await;
        let got = collect(&mut service, &mut dec, Duration::from_millis(1)).await;
        if got.contains(&MuxMessage::ConnectionDropped(1)) {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the stuck client was never dropped");
    logs.wait_line(&["client dropped: it does not read", "client=1"])
        .await;
    send(&mut service, |o| mux::encode_data(2, b"still here", o)).await;
    let mut buf = [0u8; 10];
    within(Duration::from_secs(10), reader.read_exact(&mut buf))
        .await
        .unwrap();
    assert_eq!(&buf, b"still here");
    assert_eq!(sb.networks()[0].clients, vec![2]);
    drop(stuck);
    sb.shutdown().await;
}
