//! Measures the signal browser on loopback: how long a device's change takes to reach a
//! page's event stream, how long the device view takes to read, and how long a write
//! from the API takes to reach the device. `cargo run --release -p ferrocom-web
//! --example latency`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrocom_runtime::device::{Connect, Device, DeviceConfig, DeviceEvent};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
use ferrocom_spec::signals::SignalMap;
use ferrocom_web::{Web, WebConfig};

const MAP: &str = r#"{"name": "gina", "mblk": [
  {"name": "exp", "flags": "up", "groups": [{"name": "g", "signals": [
    {"name": "counter", "type": "uint"}, {"name": "pot", "type": "float"}]}]},
  {"name": "imp", "flags": "down", "groups": [{"name": "h", "signals": [
    {"name": "setpoint", "type": "ushort"}]}]}]}"#;

fn summary(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize];
    println!(
        "{name}: n={} p50={:?} p95={:?} max={:?}",
        d.len(),
        at(0.5),
        at(0.95),
        d[d.len() - 1]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = std::env::temp_dir().join(format!("ferrocom-web-latency-{}.db", std::process::id()));
    let mut cfg = ServerConfig::new("cafenet", &db);
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Arc::new(Server::start(cfg).await.unwrap());
    server.accounts().add_user("op", "pw", &["*"]).unwrap();
    let mut events = server.subscribe();
    let web = Web::start(
        server.clone(),
        WebConfig::new(SocketAddr::from(([127, 0, 0, 1], 0))),
    )
    .await
    .unwrap();
    let base = format!("http://{}", web.local_addr());
    let map = SignalMap::from_json_str("map", MAP).unwrap().0;
    let dev = Device::start(DeviceConfig::new(
        "gina",
        "cafenet",
        map,
        Connect::Tcp(server.local_addrs()[0].to_string()),
    ))
    .unwrap();
    while !matches!(
        events.recv().await,
        Some(ServerEvent::SignalMapLearned { .. })
    ) {}
    let http = reqwest::Client::new();

    // Device change -> SSE event.
    let mut sse = http.get(format!("{base}/api/events")).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut buf = String::new();
    let mut lat = Vec::new();
    for i in 1..=500u32 {
        let needle = format!("\"text\":\"{i}\"");
        let t0 = Instant::now();
        dev.set("exp", "counter", i).unwrap();
        while !buf.contains(&needle) {
            let c = sse.chunk().await.unwrap().unwrap();
            buf.push_str(&String::from_utf8_lossy(&c));
        }
        lat.push(t0.elapsed());
        buf.clear();
    }
    summary("device change -> page event stream", lat);

    // Reading the device view.
    let mut lat = Vec::new();
    for _ in 0..300 {
        let t0 = Instant::now();
        let r = http
            .get(format!("{base}/api/devices/gina"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let _ = r.bytes().await.unwrap();
        lat.push(t0.elapsed());
    }
    summary("GET /api/devices/gina", lat);

    // API write -> device.
    let login = http
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"user": "op", "password": "pw"}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut dev_events = dev.subscribe();
    let mut lat = Vec::new();
    for i in 1..=300u16 {
        let t0 = Instant::now();
        let r = http
            .put(format!("{base}/api/devices/gina/signals/imp/setpoint"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({ "value": i }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        loop {
            if let Some(DeviceEvent::Write { value, .. }) = dev_events.recv().await
                && value == i64::from(i).into()
            {
                break;
            }
        }
        lat.push(t0.elapsed());
    }
    summary("PUT signal -> device receives it", lat);

    drop(sse);
    dev.shutdown().await;
    web.shutdown().await;
    if let Ok(s) = Arc::try_unwrap(server) {
        s.shutdown().await;
    }
    let _ = std::fs::remove_file(&db);
}
