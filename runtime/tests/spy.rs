//! The spy over real TCP: it connects down to a server, sees every device's upward
//! signals live through the server's mirrors, never disturbs the downward values the
//! server owns, and forgets a device that goes away.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_runtime::device::{Device, DeviceEvent};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_runtime::spy::{Spy, SpyConfig, SpyDevice, SpyHandle};
use support::*;

/// Waits until the spy's snapshot satisfies `pred`.
async fn wait_spy(spy: &SpyHandle, what: &str, pred: impl Fn(&[SpyDevice]) -> bool) {
    let mut changes = spy.changes();
    let r = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if pred(&spy.snapshot()) {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), changes.changed()).await;
        }
    })
    .await;
    if r.is_err() {
        panic!("spy never saw {what}; it shows {:#?}", spy.snapshot());
    }
}

fn value_of(devs: &[SpyDevice], device: &str, block: &str, signal: &str) -> Option<SignalValue> {
    devs.iter()
        .find(|d| d.device.name == device)?
        .blocks
        .iter()
        .find(|b| b.name == block)?
        .signals
        .iter()
        .find(|s| s.name == signal)?
        .value
        .as_ref()
        .ok()
        .map(|(v, _)| v.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spy_sees_live_signals_of_every_device_and_writes_nothing() {
    let _logs = logs();
    let mut cfg = ServerConfig::new("cafenet", temp_db("spy"));
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Server::start(cfg).await.unwrap();
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];

    let gina = Device::start(device_config("gina", tcp(addr))).unwrap();
    let mut gina_events = gina.subscribe();
    let gina_ref = wait_server(&mut events, |e| match e {
        ServerEvent::SignalMapLearned { device } if device.name == "gina" => Some(device.clone()),
        _ => None,
    })
    .await;
    gina.set("exp", "potentiometer", 12.5f32).unwrap();
    wait_signal(
        &mut events,
        "gina",
        "exp",
        "potentiometer",
        &SignalValue::Float(12.5),
    )
    .await;
    // The server owns the downward value before the spy arrives.
    server
        .write_signal(&gina_ref, "imp", "setpoint", 777u16)
        .unwrap();
    wait_device(&mut gina_events, |e| match e {
        DeviceEvent::Write { signal, value, .. }
            if signal == "setpoint" && *value == SignalValue::Int(777) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;

    let spy = Spy::start(SpyConfig::new("cafenet", tcp(addr))).unwrap();
    within(Duration::from_secs(10), spy.wait_connected()).await;
    wait_spy(&spy, "gina's potentiometer", |d| {
        value_of(d, "gina", "exp", "potentiometer") == Some(SignalValue::Float(12.5))
    })
    .await;
    let snap = spy.snapshot();
    let g = snap.iter().find(|d| d.device.name == "gina").unwrap();
    assert!(g.has_map, "the map comes from gina's info mirror");
    assert_eq!(g.device.number, gina_ref.number);
    let names: Vec<&str> = g.blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["exp"], "only upward blocks reach the spy");

    // Live: a second device, and changes of the first.
    let other = Device::start(device_config("other", tcp(addr))).unwrap();
    other.set("exp", "counter", 5u32).unwrap();
    gina.set("exp", "teststr", "spied").unwrap();
    wait_spy(&spy, "both devices' changes", |d| {
        value_of(d, "other", "exp", "counter") == Some(SignalValue::Int(5))
            && value_of(d, "gina", "exp", "teststr") == Some(SignalValue::Str("spied".into()))
    })
    .await;

    // The spy wrote nothing: the downward value is still the server's, on both ends.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        gina.get("imp", "setpoint").unwrap().0,
        SignalValue::Int(777)
    );
    assert_eq!(
        server.read_signal(&gina_ref, "imp", "setpoint").unwrap().0,
        SignalValue::Int(777)
    );
    assert_eq!(
        server.devices().len(),
        2,
        "the spy is not listed as a device"
    );

    // A device that goes away disappears from the spy (remove request, §12).
    other.shutdown().await;
    wait_spy(&spy, "`other` gone", |d| {
        d.iter().all(|x| x.device.name != "other")
    })
    .await;

    spy.shutdown().await;
    gina.shutdown().await;
    server.shutdown().await;
}
