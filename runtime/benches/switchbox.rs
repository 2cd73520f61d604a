//! Signal updates through a switchbox vs over a direct TLS connection, measured in one
//! run (results and method: BENCHMARKS.md, "Switchbox").
//!
//! Two identical pairs run in the same process on loopback: a `Server` with a TLS end
//! point and a `Device` connected to it directly, and a `Server` publishing its network on
//! a `Switchbox` with a `Device` connected to the switchbox (device → TLS → switchbox →
//! the service's TLS connection → server). Every update is a `DeviceHandle::set` of the
//! `exp.counter` signal to the next integer; it counts as delivered when the server emits
//! `SignalChanged` with that value (or a later one: IOCOM may merge snapshots).
//!
//! * `latency/{direct,switchbox}`: one update at a time, the next only after the server
//!   has seen the previous one; the time per iteration is the one-way latency device →
//!   server, engines included.
//! * `throughput/{direct,switchbox}`: the device writes a new value after every
//!   scheduler turn, never waiting for the server; an element is one change the server
//!   reports (snapshots the engine merged count once), so the time per element is the
//!   inverse of the rate at which updates make it through the path.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrocom_runtime::device::{Backoff, Connect, Device, DeviceConfig, DeviceHandle};
use ferrocom_runtime::net::tls::{DevCertificates, Trust, generate_dev_certificates};
use ferrocom_runtime::server::{
    Endpoint, Server, ServerConfig, ServerEvent, ServerEvents, ServerHandle,
};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_runtime::switchbox::{
    ServiceAccount, Switchbox, SwitchboxConfig, SwitchboxHandle, SwitchboxLink,
};
use ferrocom_spec::signals::SignalMap;

const MAP: &str = r#"{
  "name": "bench",
  "mblk": [
    {"name": "exp", "flags": "up", "groups": [{"name": "state", "signals": [
      {"name": "counter", "type": "uint"},
      {"name": "payload", "type": "uint", "array": 8}
    ]}]},
    {"name": "imp", "flags": "down", "groups": [{"name": "controls", "signals": [
      {"name": "setpoint", "type": "ushort"}
    ]}]}
  ]
}"#;

struct Pair {
    server: ServerHandle,
    events: ServerEvents,
    device: Arc<DeviceHandle>,
    next: u64,
}

fn temp_db(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrocom-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("server.db")
}

fn device_cfg(connect: Connect) -> DeviceConfig {
    let map = SignalMap::from_json_str("bench map", MAP).unwrap().0;
    let mut cfg = DeviceConfig::new("bench", "cafenet", map, connect);
    cfg.password = "secret".into();
    cfg.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
    };
    cfg
}

fn tls_to(addr: SocketAddr, certs: &DevCertificates) -> Connect {
    Connect::Tls {
        addr: addr.to_string(),
        server_name: "127.0.0.1".into(),
        trust: Trust::Roots(vec![certs.ca_cert.clone()]),
    }
}

async fn ready(server: ServerHandle, device: DeviceHandle) -> Pair {
    server
        .accounts()
        .add_user("*", "secret", &["cafenet"])
        .unwrap();
    let events = server.subscribe();
    tokio::time::timeout(Duration::from_secs(20), device.wait_connected())
        .await
        .expect("device connects");
    // Wait for the signal map, so every later update produces an event.
    tokio::time::timeout(Duration::from_secs(20), async {
        while !server.devices().iter().any(|d| d.has_map) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("signal map learned");
    Pair {
        server,
        events,
        device: Arc::new(device),
        next: 0,
    }
}

async fn direct(certs: &DevCertificates) -> Pair {
    let mut cfg = ServerConfig::new("cafenet", temp_db("direct"));
    cfg.endpoints.push(Endpoint::Tls {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        cert_chain: certs.server_chain.clone(),
        key: certs.server_key().unwrap(),
    });
    let server = Server::start(cfg).await.unwrap();
    server
        .accounts()
        .add_user("*", "secret", &["cafenet"])
        .unwrap();
    let device = Device::start(device_cfg(tls_to(server.local_addrs()[0], certs))).unwrap();
    ready(server, device).await
}

async fn via_switchbox(certs: &DevCertificates) -> (SwitchboxHandle, Pair) {
    let sb = Switchbox::start(SwitchboxConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        certs.server_chain.clone(),
        certs.server_key().unwrap(),
        temp_db("switchbox").with_file_name("switchbox.db"),
    ))
    .await
    .unwrap();
    sb.add_account(&ServiceAccount::new("plant", "pw", &["cafenet"]))
        .unwrap();
    let link = SwitchboxLink::new(
        &sb.local_addr().to_string(),
        "127.0.0.1",
        Trust::Roots(vec![certs.ca_cert.clone()]),
        "cafenet",
        "plant",
        "pw",
    );
    let mut cfg = ServerConfig::new("cafenet", temp_db("service"));
    cfg.endpoints.push(Endpoint::Switchbox(link));
    let server = Server::start(cfg).await.unwrap();
    server
        .accounts()
        .add_user("*", "secret", &["cafenet"])
        .unwrap();
    while sb.networks().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let device = Device::start(device_cfg(tls_to(sb.local_addr(), certs))).unwrap();
    let pair = ready(server, device).await;
    (sb, pair)
}

impl Pair {
    /// Waits for the server event that shows `value` (or later) arrived; returns the
    /// highest value seen.
    async fn seen(&mut self, at_least: u64) -> u64 {
        loop {
            let e = self.events.recv().await.expect("server running");
            if let ServerEvent::SignalChanged {
                signal,
                value: SignalValue::Int(v),
                ..
            } = e
                && signal == "counter"
                && u64::try_from(v).unwrap_or(0) >= at_least
            {
                return u64::try_from(v).unwrap_or(0);
            }
        }
    }

    fn set(&mut self) -> u64 {
        self.next += 1;
        let v = u32::try_from(self.next % u64::from(u32::MAX)).unwrap();
        self.device.set("exp", "counter", v).unwrap();
        self.next
    }

    async fn latency(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            let v = self.set();
            self.seen(v).await;
        }
        start.elapsed()
    }

    /// The device writes a new value after every scheduler turn (never waiting for
    /// the server); the time until the server has reported `iters` changes.
    async fn throughput(&mut self, iters: u64) -> Duration {
        let stop = Arc::new(AtomicBool::new(false));
        let device = self.device.clone();
        let flag = stop.clone();
        let mut v = u32::try_from(self.next % u64::from(u32::MAX)).unwrap();
        let producer = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                v = v.wrapping_add(1);
                device.set("exp", "counter", v).unwrap();
                tokio::task::yield_now().await;
            }
            v
        });
        let start = Instant::now();
        let (mut seen, mut last) = (0, 0);
        while seen < iters {
            let e = self.events.recv().await.expect("server running");
            if let ServerEvent::SignalChanged {
                signal,
                value: SignalValue::Int(v),
                ..
            } = &e
                && signal == "counter"
            {
                seen += 1;
                last = u64::try_from(*v).unwrap_or(0);
            }
        }
        let took = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        self.next = u64::from(producer.await.unwrap());
        // Let the last updates arrive, so the next sample starts from a quiet pipe.
        if last < self.next {
            self.seen(self.next).await;
        }
        took
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let certs = generate_dev_certificates(&["localhost", "127.0.0.1"]).unwrap();
    let mut direct = rt.block_on(direct(&certs));
    let (sb, mut relayed) = rt.block_on(via_switchbox(&certs));

    let mut g = c.benchmark_group("latency");
    g.measurement_time(Duration::from_secs(5)).sample_size(30);
    g.bench_function("direct", |b| {
        b.iter_custom(|n| rt.block_on(direct.latency(n)))
    });
    g.bench_function("switchbox", |b| {
        b.iter_custom(|n| rt.block_on(relayed.latency(n)))
    });
    g.finish();

    let mut g = c.benchmark_group("throughput");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5)).sample_size(30);
    g.bench_function("direct", |b| {
        b.iter_custom(|n| rt.block_on(direct.throughput(n)))
    });
    g.bench_function("switchbox", |b| {
        b.iter_custom(|n| rt.block_on(relayed.throughput(n)))
    });
    g.finish();

    rt.block_on(async {
        for p in [direct, relayed] {
            if let Ok(d) = Arc::try_unwrap(p.device) {
                d.shutdown().await;
            }
            p.server.shutdown().await;
        }
        sb.shutdown().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
