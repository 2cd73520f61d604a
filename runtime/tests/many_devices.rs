//! 200 devices connected to one server at once over TCP, each with its own automatic
//! number, signals up and down for every one of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_runtime::device::{Device, DeviceHandle};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig};
use ferrocom_runtime::signal::SignalValue;
use support::*;

const DEVICES: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_devices_at_once() {
    let _logs = logs();
    let mut cfg = ServerConfig::new("cafenet", temp_db("many"));
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Server::start(cfg).await.unwrap();
    let addr = server.local_addrs()[0];

    let devices: Vec<DeviceHandle> = (0..DEVICES)
        .map(|i| Device::start(device_config(&format!("dev{i}"), tcp(addr))).unwrap())
        .collect();
    within(Duration::from_secs(60), async {
        for d in &devices {
            d.wait_connected().await;
        }
    })
    .await;
    for (i, d) in devices.iter().enumerate() {
        d.set("exp", "counter", u32::try_from(i).unwrap() + 1000)
            .unwrap();
    }

    // Every device's value arrives and every device has a distinct number.
    let refs = within(Duration::from_secs(60), async {
        loop {
            let list = server.devices();
            let mut seen = BTreeMap::new();
            for info in list.iter().filter(|d| d.connected && d.has_map) {
                if let Ok((v, s)) = server.read_signal(&info.device, "exp", "counter")
                    && s.is_connected()
                {
                    seen.insert(info.device.name.clone(), (info.device.clone(), v));
                }
            }
            if seen.len() == DEVICES {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mut numbers: Vec<u32> = refs.values().map(|(d, _)| d.number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), DEVICES, "distinct automatic numbers");
    for i in 0..DEVICES {
        let (_, v) = &refs[&format!("dev{i}")];
        assert_eq!(*v, SignalValue::Int(i as i64 + 1000));
    }

    // Down to every device.
    for (name, (dev, _)) in &refs {
        let i: u16 = name.trim_start_matches("dev").parse().unwrap();
        server.write_signal(dev, "imp", "setpoint", i + 1).unwrap();
    }
    within(Duration::from_secs(60), async {
        loop {
            let done = devices.iter().enumerate().all(|(i, d)| {
                d.get("imp", "setpoint").unwrap().0 == SignalValue::Int(i as i64 + 1)
            });
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    for d in devices {
        d.shutdown().await;
    }
    server.shutdown().await;
}
