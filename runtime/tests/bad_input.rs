//! Bad input drops only the connection that sent it, with a log line naming the
//! problem, and never a panic: garbage before the handshake, a truncated frame, a wrong
//! frame number, an oversize length, an unknown system frame (TCP) and a bad CRC
//! (serial). A well-behaved device stays connected throughout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrocom_runtime::device::Device;
use ferrocom_runtime::iocom::{Connection, ConnectionConfig, Event, Identity, Root, Transport};
use ferrocom_runtime::net::serial::pty_pair;
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig};
use ferrocom_runtime::signal::SignalValue;
use support::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const HANDSHAKE: &[u8] = b"\x53\x08cafenet\x00";

/// Sends `bytes` (closing the write side if `close`), waits for the server to close the
/// connection, and returns the client's address (the server's label for it).
async fn send_bad(addr: SocketAddr, bytes: &[u8], close: bool) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let me = s.local_addr().unwrap().to_string();
    s.write_all(bytes).await.unwrap();
    if close {
        s.shutdown().await.unwrap();
    }
    within(Duration::from_secs(10), async {
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // ACKs, the server's auth frame, ...
            }
        }
    })
    .await;
    me
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_over_tcp_drops_only_that_connection() {
    let logs = logs();
    let mut cfg = ServerConfig::new("cafenet", temp_db("bad"));
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Server::start(cfg).await.unwrap();
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];
    let good = Device::start(device_config("good", tcp(addr))).unwrap();
    within(Duration::from_secs(10), good.wait_connected()).await;

    let with_hs = |frame: &[u8]| [HANDSHAKE, frame].concat();
    let cases: Vec<(&str, Vec<u8>, bool, Vec<&str>)> = vec![
        (
            "garbage before the handshake",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            false,
            vec!["protocol error", "undecodable"],
        ),
        (
            "truncated frame",
            with_hs(&[0, 0x00, 10, 0, 8]),
            true,
            vec!["truncated frame", "5 bytes"],
        ),
        (
            "wrong frame number",
            with_hs(&[5, 0x00, 1, 0, 8, 0, 0]),
            false,
            vec!["protocol error", "frame number 5"],
        ),
        (
            "oversize length",
            with_hs(&[0, 0x00, 0xFF, 0x7F, 8, 0]),
            false,
            vec!["protocol error", "byte frame, own frame size is 1392"],
        ),
        (
            "unknown system frame",
            with_hs(&[0, 0x20, 4, 0, 0, 0, 9, 1, 2, 3]),
            false,
            vec!["refused", "unknown type 0x09"],
        ),
    ];
    for (i, (what, bytes, close, needles)) in cases.into_iter().enumerate() {
        let peer = send_bad(addr, &bytes, close).await;
        let mut all = vec!["IOCOM connection dropped", peer.as_str()];
        all.extend(needles);
        let line = logs.wait_line(&all).await;
        eprintln!("{what}: {line}");

        // The good device is unaffected.
        assert!(good.connected(), "after {what}");
        let v = u32::try_from(i).unwrap() + 100;
        good.set("exp", "counter", v).unwrap();
        wait_signal(
            &mut events,
            "good",
            "exp",
            "counter",
            &SignalValue::Int(i64::from(v)),
        )
        .await;
    }
    assert_eq!(server.devices().len(), 1, "no bad peer became a device");
    good.shutdown().await;
    server.shutdown().await;
}

async fn pump_serial<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection,
    root: &mut Root,
    port: &mut S,
    t0: Instant,
) -> bool {
    let now = || u64::try_from(t0.elapsed().as_millis()).unwrap();
    let mut buf = [0u8; 512];
    let mut out = Vec::new();
    if conn.poll_timeout().is_some_and(|t| t <= now()) {
        let _ = conn.handle_timeout(root, now());
    }
    conn.poll_transmit(root, now(), &mut out);
    if !out.is_empty() {
        port.write_all(&out).await.unwrap();
    }
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(20), port.read(&mut buf)).await {
        let _ = conn.handle_input(root, &buf[..n], now());
    }
    let mut connected = false;
    while let Some(e) = conn.poll_event() {
        connected |= matches!(e, Event::Connected { .. });
    }
    connected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_crc_on_serial_restarts_only_that_link() {
    let logs = logs();
    let server = Server::start(ServerConfig::new("cafenet", temp_db("crc")))
        .await
        .unwrap();
    let (server_end, mut port) = pty_pair().unwrap();
    server.serve_stream(server_end, Transport::Serial, "pty-crc");

    // Link procedure by the engine, then a frame with a wrong checksum by hand.
    let mut root = Root::new(Identity::new("crc", "cafenet"));
    let t0 = Instant::now();
    let mut conn = Connection::new(&mut root, ConnectionConfig::serial_client(), 0);
    within(Duration::from_secs(10), async {
        while !pump_serial(&mut conn, &mut root, &mut port, t0).await {}
    })
    .await;
    port.write_all(&[0, 0x00, 0x00, 0x20, 4, 0, 0, 9, 1, 2, 3])
        .await
        .unwrap();
    let line = logs
        .wait_line(&[
            "IOCOM serial link restarted",
            "pty-crc",
            "has CRC 0x0000",
            "IOCOM-4.2",
        ])
        .await;
    eprintln!("bad CRC: {line}");

    // The link comes back: the same port serves again.
    let mut root = Root::new(Identity::new("crc", "cafenet"));
    let mut conn = Connection::new(&mut root, ConnectionConfig::serial_client(), 0);
    let t0 = Instant::now();
    within(Duration::from_secs(10), async {
        while !pump_serial(&mut conn, &mut root, &mut port, t0).await {}
    })
    .await;
    server.shutdown().await;
}
