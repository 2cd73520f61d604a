//! 1,000 devices reach one server through one switchbox at once (1,000 client TLS
//! connections multiplexed over the service's single TLS connection), each with its own
//! automatic number, a value up from and down to every one of them.
//!
//! File descriptors: each device holds one socket and the switchbox one per client, so
//! the test process needs a little over 2,000. It checks the soft limit first and fails
//! with advice (`ulimit -n 4096`) instead of a confusing accept error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrocom_runtime::device::DeviceHandle;
use ferrocom_runtime::signal::SignalValue;
use support::switchbox::*;
use support::*;

const CLIENTS: usize = 1000;

/// The soft limit on open files, from /proc (Linux); `None` elsewhere.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_through_one_switchbox() {
    let _logs = logs();
    if let Some(limit) = open_files_limit() {
        assert!(
            limit >= 2 * CLIENTS as u64 + 100,
            "this test needs about {} open files, the soft limit is {limit}: run `ulimit -n 4096` first",
            2 * CLIENTS + 100
        );
    }
    let certs = certs();
    let sb = start_switchbox("sb-many", &certs).await;
    let sb_addr = sb.local_addr();
    let server = start_service(
        &temp_db("sb-many-srv"),
        "cafenet",
        link(sb_addr, &certs, "cafenet", "plant", "pw"),
    )
    .await;
    wait_published(&sb, "cafenet").await;

    let started = Instant::now();
    let mut devices: Vec<DeviceHandle> = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let mut cfg = device_cfg(&format!("d{i}"), "cafenet", sb_addr, &certs);
        // Many TLS handshakes at once on two cores: retry calmly.
        cfg.backoff.max = Duration::from_secs(2);
        devices.push(ferrocom_runtime::device::Device::start(cfg).unwrap());
    }
    within(Duration::from_secs(240), async {
        for d in &devices {
            d.wait_connected().await;
        }
    })
    .await;
    let connected = started.elapsed();
    let nets = sb.networks();
    assert_eq!(nets[0].clients.len(), CLIENTS, "one client id per device");

    for (i, d) in devices.iter().enumerate() {
        d.set("exp", "counter", u32::try_from(i).unwrap() + 5000)
            .unwrap();
    }
    let refs = within(Duration::from_secs(120), async {
        loop {
            let mut seen = BTreeMap::new();
            for info in server.devices().iter().filter(|d| d.connected && d.has_map) {
                if let Ok((v, s)) = server.read_signal(&info.device, "exp", "counter")
                    && s.is_connected()
                    && v != SignalValue::Int(0)
                {
                    seen.insert(info.device.name.clone(), (info.device.clone(), v));
                }
            }
            if seen.len() == CLIENTS {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let mut numbers: Vec<u32> = refs.values().map(|(d, _)| d.number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), CLIENTS, "distinct automatic numbers");
    for i in 0..CLIENTS {
        assert_eq!(refs[&format!("d{i}")].1, SignalValue::Int(i as i64 + 5000));
    }

    for (name, (dev, _)) in &refs {
        let i: u16 = name.trim_start_matches('d').parse().unwrap();
        server.write_signal(dev, "imp", "setpoint", i + 1).unwrap();
    }
    within(Duration::from_secs(120), async {
        loop {
            let done = devices.iter().enumerate().all(|(i, d)| {
                d.get("imp", "setpoint").unwrap().0 == SignalValue::Int(i as i64 + 1)
            });
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    eprintln!(
        "{CLIENTS} clients: all connected after {connected:?}, values both ways after {:?}",
        started.elapsed()
    );
    for d in devices {
        d.shutdown().await;
    }
    server.shutdown().await;
    sb.shutdown().await;
}
