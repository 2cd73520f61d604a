//! Criterion benchmarks of the MQTT client against a mosquitto the bench starts on a
//! free loopback port (results and method: BENCHMARKS.md, "MQTT client and bridge"):
//!
//! * `mqtt_throughput/{ferrocom,rumqttc}`: a publisher sends 1000 QoS 1 messages of 64
//!   bytes without waiting per message; timed until a subscriber of the same library has
//!   received all 1000 (publisher → mosquitto → subscriber).
//! * `mqtt_latency/{ferrocom,rumqttc}`: one QoS 1 message, timed until the subscriber has
//!   it (one message in flight at a time).
//! * `bridge/signal_updates`: a Device changes all 100 signals of its map; timed until
//!   an MQTT subscriber has received the bridge's 100 JSON messages (Device → IOCOM
//!   server → bridge → mosquitto → subscriber; QoS 1, retained).
//!
//! Both clients run in the same tokio runtime, against the same broker, in one run.
//! `cargo bench -p ferrocom-runtime --bench mqtt`. Without mosquitto the bench prints
//! why and measures nothing.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/mosquitto/mod.rs"]
mod mosquitto;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrocom_runtime::bridge::{Bridge, BridgeConfig};
use ferrocom_runtime::device::{Connect, Device, DeviceConfig};
use ferrocom_runtime::mqtt::{Options, QoS};
use ferrocom_runtime::mqtt_client::{Broker, ClientConfig, MqttClient, Notification, Wait};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig};
use ferrocom_spec::signals::SignalMap;
use tokio::sync::Notify;

const N: u64 = 1000;
const PAYLOAD: [u8; 64] = [0x5A; 64];

/// Messages a subscriber has received, with a wake-up for waiters.
#[derive(Default)]
struct Counter {
    n: AtomicU64,
    wake: Notify,
}

impl Counter {
    fn add(&self) {
        self.n.fetch_add(1, Ordering::Release);
        self.wake.notify_waiters();
    }

    async fn wait_for(&self, target: u64) {
        loop {
            let notified = self.wake.notified();
            if self.n.load(Ordering::Acquire) >= target {
                return;
            }
            notified.await;
        }
    }
}

/// Publishing side of either library.
enum Pub {
    Ours(MqttClient),
    Theirs(rumqttc::AsyncClient),
}

impl Pub {
    async fn publish(&self, topic: &str) {
        match self {
            Pub::Ours(c) => c
                .publish(topic, PAYLOAD, QoS::AtLeastOnce, false, Wait::Queued)
                .await
                .unwrap(),
            Pub::Theirs(c) => c
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, PAYLOAD.to_vec())
                .await
                .unwrap(),
        }
    }
}

fn ours_cfg(addr: SocketAddr, id: &str) -> ClientConfig {
    let mut o = Options::new(id);
    o.max_inflight = 100;
    ClientConfig::new(Broker::Tcp(addr.to_string()), o)
}

/// Our publisher and subscriber on `topic`; the counter counts received messages.
async fn ours(addr: SocketAddr, topic: &str) -> (Pub, MqttClient, Arc<Counter>) {
    let (sub, mut notes) = MqttClient::start(ours_cfg(addr, "ours-sub")).unwrap();
    sub.subscribe(&[(topic, QoS::AtLeastOnce)]).await.unwrap();
    let count = Arc::new(Counter::default());
    let c = count.clone();
    tokio::spawn(async move {
        while let Some(n) = notes.recv().await {
            if let Notification::Message(_) = n {
                c.add();
            }
        }
    });
    let (publ, _) = MqttClient::start(ours_cfg(addr, "ours-pub")).unwrap();
    (Pub::Ours(publ), sub, count)
}

fn theirs_opts(addr: SocketAddr, id: &str) -> rumqttc::MqttOptions {
    let mut o = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    o.set_inflight(100);
    o
}

/// rumqttc's publisher and subscriber, each with its event loop polled in a task.
async fn theirs(addr: SocketAddr, topic: &str) -> (Pub, rumqttc::AsyncClient, Arc<Counter>) {
    let (sub, mut sub_loop) = rumqttc::AsyncClient::new(theirs_opts(addr, "theirs-sub"), 1000);
    let count = Arc::new(Counter::default());
    let c = count.clone();
    let subscribed = Arc::new(Notify::new());
    let s2 = subscribed.clone();
    tokio::spawn(async move {
        loop {
            match sub_loop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_))) => c.add(),
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => s2.notify_one(),
                Ok(_) => {}
                Err(e) => panic!("rumqttc subscriber: {e}"),
            }
        }
    });
    sub.subscribe(topic, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    subscribed.notified().await;
    let (publ, mut pub_loop) = rumqttc::AsyncClient::new(theirs_opts(addr, "theirs-pub"), 1000);
    tokio::spawn(async move {
        loop {
            if let Err(e) = pub_loop.poll().await {
                panic!("rumqttc publisher: {e}");
            }
        }
    });
    (Pub::Theirs(publ), sub, count)
}

fn client_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime, addr: SocketAddr) {
    for lib in ["ferrocom", "rumqttc"] {
        let topic = format!("bench/{lib}");
        let (publ, _sub_ours, _sub_theirs, count) = rt.block_on(async {
            if lib == "ferrocom" {
                let (p, s, n) = ours(addr, &topic).await;
                (p, Some(s), None, n)
            } else {
                let (p, s, n) = theirs(addr, &topic).await;
                (p, None, Some(s), n)
            }
        });
        // Both sides connected and the subscription in place: one message through.
        rt.block_on(async {
            publ.publish(&topic).await;
            tokio::time::timeout(Duration::from_secs(10), count.wait_for(1))
                .await
                .expect("warm-up message not received");
        });

        let mut g = c.benchmark_group("mqtt_throughput");
        g.throughput(Throughput::Elements(N));
        g.sample_size(20);
        g.bench_function(lib, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        let target = count.n.load(Ordering::Acquire) + N;
                        for _ in 0..N {
                            publ.publish(&topic).await;
                        }
                        count.wait_for(target).await;
                    }
                    t0.elapsed()
                })
            });
        });
        g.finish();

        let mut g = c.benchmark_group("mqtt_latency");
        g.bench_function(lib, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        let target = count.n.load(Ordering::Acquire) + 1;
                        publ.publish(&topic).await;
                        count.wait_for(target).await;
                    }
                    t0.elapsed()
                })
            });
        });
        g.finish();
    }
}

/// 100 `uint` signals `s0` … `s99` in the up block `exp`.
fn bridge_map() -> String {
    let signals: Vec<String> = (0..SIGNALS)
        .map(|i| format!(r#"{{"name": "s{i}", "type": "uint"}}"#))
        .collect();
    format!(
        r#"{{"name": "bench", "mblk": [{{"name": "exp", "flags": "up", "groups": [{{"name": "g", "signals": [{}]}}]}}]}}"#,
        signals.join(", ")
    )
}

const SIGNALS: u64 = 100;

fn bridge_bench(c: &mut Criterion, rt: &tokio::runtime::Runtime, broker: SocketAddr) {
    let db = std::env::temp_dir().join(format!("ferrocom-mqtt-bench-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let (dev, _server, _bridge, _sub, seen) = rt.block_on(async {
        let mut cfg = ServerConfig::new("cafenet", &db);
        cfg.endpoints
            .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
        let server = Arc::new(Server::start(cfg).await.unwrap());
        let iocom = server.local_addrs()[0];
        let mut bcfg = BridgeConfig::new(ours_cfg(broker, "bench-bridge"));
        bcfg.prefix = "fcbench".into();
        let bridge = Bridge::start(server.clone(), bcfg).unwrap();
        let (sub, mut notes) = MqttClient::start(ours_cfg(broker, "bench-obs")).unwrap();
        sub.subscribe(&[("fcbench/cafenet/+/exp/+", QoS::AtLeastOnce)])
            .await
            .unwrap();
        // Signal messages the subscriber has received.
        let seen = Arc::new(Counter::default());
        let s2 = seen.clone();
        tokio::spawn(async move {
            while let Some(n) = notes.recv().await {
                if let Notification::Message(m) = n {
                    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                    if v["value"].as_u64().is_some_and(|x| x > 0) {
                        s2.add();
                    }
                }
            }
        });
        let map = SignalMap::from_json_str("bench", &bridge_map()).unwrap().0;
        let dev = Device::start(DeviceConfig::new(
            "bench",
            "cafenet",
            map,
            Connect::Tcp(iocom.to_string()),
        ))
        .unwrap();
        tokio::time::timeout(Duration::from_secs(10), dev.wait_connected())
            .await
            .unwrap();
        for i in 0..SIGNALS {
            dev.set("exp", &format!("s{i}"), 1u32).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(10), seen.wait_for(SIGNALS))
            .await
            .expect("bridge warm-up values not received");
        (dev, server, bridge, sub, seen)
    });
    let names: Vec<String> = (0..SIGNALS).map(|i| format!("s{i}")).collect();
    let mut value = 2u32;
    let mut g = c.benchmark_group("bridge");
    g.throughput(Throughput::Elements(SIGNALS));
    g.sample_size(20);
    g.bench_function("signal_updates", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t0 = Instant::now();
                for _ in 0..iters {
                    // Every signal changes once: 100 SignalChanged events, 100 MQTT
                    // messages, each counted when the subscriber has it.
                    let target = seen.n.load(Ordering::Acquire) + SIGNALS;
                    for n in &names {
                        dev.set("exp", n, value).unwrap();
                    }
                    value += 1;
                    seen.wait_for(target).await;
                }
                t0.elapsed()
            })
        });
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let Some(bin) = mosquitto::mosquitto_or_skip() else {
        return;
    };
    let broker = mosquitto::Mosquitto::start(&bin, false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client_benches(c, &rt, broker.addr);
    bridge_bench(c, &rt, broker.addr);
}

criterion_group!(benches, bench);
criterion_main!(benches);
