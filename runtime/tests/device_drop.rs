//! A device killed in the middle of a frame: the server drops that connection (log line
//! naming the truncated frame), marks the device's signals disconnected in their state
//! bytes, and the other devices carry on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_runtime::device::Device;
use ferrocom_runtime::iocom::{BlockFlags, Connection, ConnectionConfig, Identity, Root};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
use ferrocom_runtime::signal::{self, SignalValue};
use ferrocom_wire::packed_json::{PackOptions, pack_json_text};
use ferrocom_wire::signals::State;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Moves bytes between the hand-driven engine and the socket until nothing is pending.
async fn pump(conn: &mut Connection, root: &mut Root, sock: &mut TcpStream, now: u64) {
    let mut buf = vec![0u8; 8192];
    for _ in 0..20 {
        let mut out = Vec::new();
        conn.poll_transmit(root, now, &mut out);
        if !out.is_empty() {
            sock.write_all(&out).await.unwrap();
        }
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(30), sock.read(&mut buf)).await
        {
            assert!(n > 0, "server closed on a well-behaved device");
            conn.handle_input(root, &buf[..n], now).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_killed_mid_frame_is_marked_disconnected() {
    let logs = logs();
    let mut cfg = ServerConfig::new("cafenet", temp_db("drop"));
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Server::start(cfg).await.unwrap();
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];

    // Two ordinary devices.
    let a = Device::start(device_config("alice", tcp(addr))).unwrap();
    let b = Device::start(device_config("bob", tcp(addr))).unwrap();

    // The victim, driven by hand so it can stop in the middle of a frame.
    let map = map();
    let mut id = Identity::new("victim", "cafenet");
    id.unique_id = [9; 12];
    let mut root = Root::new(id);
    let exp_size = map.block("exp").unwrap().size;
    let exp = root
        .create_block("exp", BlockFlags::UP, vec![0; exp_size])
        .unwrap();
    let mut m = map.clone();
    m.name = Some("victim".into());
    let info = pack_json_text(&m.to_json_text(false), &PackOptions::info_block()).unwrap();
    root.create_block("info", BlockFlags::UP | BlockFlags::STATIC, info)
        .unwrap();
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let victim_addr = sock.local_addr().unwrap().to_string();
    let mut conn = Connection::new(&mut root, ConnectionConfig::socket_client(false), 0);

    let counter = map.signal("exp", "counter").unwrap().clone();
    let mut data = vec![0u8; exp_size];
    signal::write(
        "exp",
        &counter,
        &mut data,
        &SignalValue::Int(5),
        State::CONNECTED,
    )
    .unwrap();
    root.write(exp, 0, &data);
    root.send(exp);
    pump(&mut conn, &mut root, &mut sock, 1).await;
    let victim = wait_signal(
        &mut events,
        "victim",
        "exp",
        "counter",
        &SignalValue::Int(5),
    )
    .await;
    within(Duration::from_secs(10), a.wait_connected()).await;
    within(Duration::from_secs(10), b.wait_connected()).await;

    // A new value: write only the first 3 bytes of its frame, then die.
    signal::write(
        "exp",
        &counter,
        &mut data,
        &SignalValue::Int(6),
        State::CONNECTED,
    )
    .unwrap();
    root.write(exp, 0, &data);
    root.send(exp);
    let mut out = Vec::new();
    conn.poll_transmit(&mut root, 2, &mut out);
    assert!(out.len() > 3);
    sock.write_all(&out[..3]).await.unwrap();
    drop(sock);

    let reason = wait_server(&mut events, |e| match e {
        ServerEvent::DeviceDisconnected { device, reason } if *device == victim => {
            Some(reason.clone())
        }
        _ => None,
    })
    .await;
    assert!(reason.contains("truncated frame"), "{reason}");
    logs.wait_line(&["IOCOM connection dropped", "truncated frame", &victim_addr])
        .await;

    let (v, s) = server.read_signal(&victim, "exp", "counter").unwrap();
    assert_eq!(v, SignalValue::Int(5), "the last complete value stays");
    assert!(!s.is_connected(), "state byte marked disconnected: {s:?}");
    let info = server
        .devices()
        .into_iter()
        .find(|d| d.device == victim)
        .unwrap();
    assert!(!info.connected);

    // The others carry on.
    a.set("exp", "counter", 77u32).unwrap();
    b.set("exp", "counter", 88u32).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let who = wait_server(&mut events, |e| match e {
            ServerEvent::SignalChanged {
                device,
                signal,
                value,
                ..
            } if signal == "counter"
                && ((device.name == "alice" && *value == SignalValue::Int(77))
                    || (device.name == "bob" && *value == SignalValue::Int(88))) =>
            {
                Some(device.name.clone())
            }
            _ => None,
        })
        .await;
        seen.insert(who);
    }
    assert!(a.connected() && b.connected());

    a.shutdown().await;
    b.shutdown().await;
    server.shutdown().await;
}
