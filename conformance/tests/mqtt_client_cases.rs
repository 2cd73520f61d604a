//! The client-role MQTT cases (the suite is the broker) against ferrocom's own tokio
//! MQTT client: every case passes — the malformed-input ones included, where the client
//! must close the connection — and a client that ignores the rules fails them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_conformance::mqtt::client_cases::CASES;
use ferrocom_conformance::targets::{InProcessTarget, StartFuture, Started, TaskGuard};
use ferrocom_conformance::{Role, RunOptions, RuntimeMqttClient, Verdict, run_in_process};
use ferrocom_wire::mqtt311::{Connect, ConnectFlags, Packet, PacketBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn opts() -> RunOptions {
    RunOptions {
        progress: false,
        ..RunOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrocom_mqtt_client_passes_every_client_case() {
    let r = run_in_process(&RuntimeMqttClient::default(), &opts()).await;
    let summary = r.console_summary();
    assert!(r.ok, "{summary}");
    assert_eq!(r.summary.total, CASES.len(), "{summary}");
    for c in &r.cases {
        assert_eq!(c.verdict, Verdict::Pass, "{}: {}", c.id, c.message);
    }
    // The re-delivery case really saw a DUP re-send on a second connection.
    let redelivery = r.cases.iter().find(|c| c.id == "MQTT-4.4.0-1#c1").unwrap();
    assert!(
        redelivery.message.contains("DUP 1"),
        "{}",
        redelivery.message
    );
}

/// A careless client: CONNECT (clean session, no keep-alive), then it reads and ignores
/// everything, never acknowledging and never closing; reconnects when the suite closes.
#[derive(Debug)]
struct DeafClient;

impl InProcessTarget for DeafClient {
    fn role(&self) -> Role {
        Role::Client
    }

    fn start(&self, suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let addr = suite.unwrap();
            let mut connect = Vec::new();
            Packet {
                body: PacketBody::Connect(Connect {
                    level: 4,
                    flags: ConnectFlags {
                        username: false,
                        password: false,
                        will_retain: false,
                        will_qos: 0,
                        will: false,
                        clean_session: true,
                    },
                    keep_alive: 0,
                    client_id: "deaf",
                    will_topic: None,
                    will_message: None,
                    username: None,
                    password: None,
                }),
            }
            .encode(&mut connect)
            .unwrap();
            let task = tokio::spawn(async move {
                loop {
                    if let Ok(mut s) = TcpStream::connect(addr).await {
                        let _ = s.write_all(&connect).await;
                        let mut buf = [0u8; 1024];
                        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
            Ok(Started {
                addr,
                role: Role::Client,
                name: "deaf-client".into(),
                guard: TaskGuard::new(vec![task]),
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deaf_client_fails_the_cases_it_breaks() {
    let mut o = opts();
    o.settings.reply_timeout = Duration::from_millis(500);
    let r = run_in_process(&DeafClient, &o).await;
    let verdict = |id: &str| {
        r.cases
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.verdict)
            .unwrap()
    };
    assert!(!r.ok);
    assert_eq!(verdict("MQTT-3.1.0-1#c1"), Verdict::Pass);
    assert_eq!(verdict("MQTT-3.1.2-23#c1"), Verdict::Unsupported);
    assert_eq!(verdict("MQTT-4.4.0-1#c1"), Verdict::Unsupported);
    for id in [
        "MQTT-4.3.2-2#c1",
        "MQTT-4.3.3-2#c1",
        "MQTT-3.2.2.1#c1",
        "MQTT-3.2.0-1#c1",
        "MQTT-3.3.1-4#c1",
    ] {
        assert_eq!(verdict(id), Verdict::Fail, "{id}");
    }
}
