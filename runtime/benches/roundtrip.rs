//! Criterion benchmarks of one device and one server over TCP on 127.0.0.1, in one
//! process (results and method: BENCHMARKS.md, "Runtime"):
//!
//! * `runtime_tcp/update`: the device sets `exp.counter`; timed until the server's
//!   `SignalChanged` event for that value (device → server).
//! * `runtime_tcp/roundtrip`: the device sets `exp.probe = n`; a server task writes
//!   `imp.echo = n` back when it sees it; timed until the device's `Write` event for it
//!   (device → server → device).
//!
//! `cargo bench -p ferrocom-runtime --bench roundtrip`. The load test with thousands of
//! devices is the `load` bench.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ferrocom_runtime::device::{Connect, Device, DeviceConfig, DeviceEvent};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_spec::signals::SignalMap;

const MAP: &str = r#"{"name": "bench", "mblk": [
  {"name": "exp", "flags": "up", "groups": [{"name": "g", "signals": [
    {"name": "counter", "type": "uint"}, {"name": "probe", "type": "uint"}]}]},
  {"name": "imp", "flags": "down", "groups": [{"name": "g", "signals": [
    {"name": "echo", "type": "uint"}]}]}
]}"#;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = std::env::temp_dir().join(format!("ferrocom-bench-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let (server, dev, mut server_events) = rt.block_on(async {
        let mut cfg = ServerConfig::new("cafenet", &db);
        cfg.endpoints
            .push(Endpoint::Tcp("127.0.0.1:0".parse().unwrap()));
        let server = Arc::new(Server::start(cfg).await.unwrap());
        let mut events = server.subscribe();
        let map = SignalMap::from_json_str("bench map", MAP).unwrap().0;
        let addr = server.local_addrs()[0].to_string();
        let dev = Device::start(DeviceConfig::new(
            "bench",
            "cafenet",
            map,
            Connect::Tcp(addr),
        ))
        .unwrap();
        dev.wait_connected().await;
        while !matches!(
            events.recv().await,
            Some(ServerEvent::SignalMapLearned { .. })
        ) {}
        // The echo: every probe value comes back as a downward write.
        let (s2, mut echo_events) = (server.clone(), server.subscribe());
        tokio::spawn(async move {
            while let Some(e) = echo_events.recv().await {
                if let ServerEvent::SignalChanged {
                    device,
                    signal,
                    value,
                    ..
                } = e
                    && signal == "probe"
                {
                    let _ = s2.write_signal(&device, "imp", "echo", value);
                }
            }
        });
        (server, dev, events)
    });
    let mut dev_events = dev.subscribe();
    let mut g = c.benchmark_group("runtime_tcp");
    g.measurement_time(Duration::from_secs(5));
    let mut n: u32 = 0;
    g.bench_function("update", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    n = n.wrapping_add(1);
                    dev.set("exp", "counter", n).unwrap();
                    let want = SignalValue::Int(n.into());
                    loop {
                        match server_events.recv().await {
                            Some(ServerEvent::SignalChanged { signal, value, .. })
                                if signal == "counter" && value == want =>
                            {
                                break;
                            }
                            Some(_) => {}
                            None => panic!("server gone"),
                        }
                    }
                }
                start.elapsed()
            })
        });
    });
    let mut p: u32 = 0;
    g.bench_function("roundtrip", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    p = p.wrapping_add(1);
                    dev.set("exp", "probe", p).unwrap();
                    let want = SignalValue::Int(p.into());
                    loop {
                        match dev_events.recv().await {
                            Some(DeviceEvent::Write { signal, value, .. })
                                if signal == "echo" && value == want =>
                            {
                                break;
                            }
                            Some(_) => {}
                            None => panic!("device gone"),
                        }
                    }
                }
                start.elapsed()
            })
        });
    });
    g.finish();
    rt.block_on(async {
        dev.shutdown().await;
        if let Ok(s) = Arc::try_unwrap(server) {
            s.shutdown().await;
        }
    });
    let _ = std::fs::remove_file(&db);
}

criterion_group!(benches, bench);
criterion_main!(benches);
