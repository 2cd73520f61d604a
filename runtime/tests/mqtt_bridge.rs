//! The signal ↔ MQTT bridge end to end: a runtime Device → the bridge's IOCOM server →
//! mosquitto (started by the test) → an MQTT subscriber sees the JSON value, retained;
//! `set` messages reach the device's downward block as `DeviceEvent::Write`; bad `set`
//! messages are reported on the error topic; device and bridge status topics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mosquitto;
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrocom_runtime::bridge::{Bridge, BridgeConfig};
use ferrocom_runtime::device::{Device, DeviceEvent};
use ferrocom_runtime::mqtt::{Message, Options, QoS};
use ferrocom_runtime::mqtt_client::{Broker, ClientConfig, MqttClient, Notification, Wait};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
use ferrocom_runtime::signal::SignalValue;
use mosquitto::{Mosquitto, mosquitto_or_skip};
use serde_json::Value;
use support::*;
use tokio::sync::mpsc::UnboundedReceiver;

fn client_cfg(addr: SocketAddr, id: &str) -> ClientConfig {
    ClientConfig::new(Broker::Tcp(addr.to_string()), Options::new(id))
}

/// The next message on `topic` (others are skipped).
async fn on_topic(notes: &mut UnboundedReceiver<Notification>, topic: &str) -> Message {
    within(Duration::from_secs(10), async {
        loop {
            match notes.recv().await {
                Some(Notification::Message(m)) if m.topic == topic => return m,
                Some(_) => {}
                None => panic!("notifications closed"),
            }
        }
    })
    .await
}

fn json(m: &Message) -> Value {
    serde_json::from_slice(&m.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_to_mqtt_and_set_messages_down() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let _logs = logs();
    let broker = Mosquitto::start(&bin, false);
    let (obs, mut notes) = MqttClient::start(client_cfg(broker.addr, "observer")).unwrap();
    obs.subscribe(&[("fc/#", QoS::AtLeastOnce)]).await.unwrap();

    let mut cfg = ServerConfig::new("cafenet", temp_db("bridge"));
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Arc::new(Server::start(cfg).await.unwrap());
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];
    let mut bcfg = BridgeConfig::new(client_cfg(broker.addr, "bridge1"));
    bcfg.prefix = "fc".into();
    let bridge = Bridge::start(server.clone(), bcfg).unwrap();
    let m = on_topic(&mut notes, "fc/bridge/status").await;
    assert_eq!(m.payload, b"online");

    let dev = Device::start(device_config("gina", tcp(addr))).unwrap();
    let mut dev_events = dev.subscribe();
    wait_server(&mut events, |e| {
        matches!(e, ServerEvent::SignalMapLearned { .. }).then_some(())
    })
    .await;
    let m = on_topic(&mut notes, "fc/cafenet/gina9001/status").await;
    assert_eq!(m.payload, b"online");

    // Up: the device's value reaches the subscriber as JSON.
    dev.set("exp", "potentiometer", 41.5f32).unwrap();
    dev.set("exp", "teststr", "hi").unwrap();
    let v = loop {
        let m = on_topic(&mut notes, "fc/cafenet/gina9001/exp/potentiometer").await;
        let v = json(&m);
        if v["value"] == 41.5 {
            break v;
        }
    };
    assert_eq!(v["connected"], true);
    assert_eq!(v["state"].as_u64().unwrap() & 2, 2);
    let ts = v["ts"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now.abs_diff(ts) < 60_000, "ts {ts} is unix milliseconds");
    loop {
        let m = on_topic(&mut notes, "fc/cafenet/gina9001/exp/teststr").await;
        if json(&m)["value"] == "hi" {
            break;
        }
    }

    // Retained: a late subscriber gets the last value at once.
    let (late, mut late_notes) = MqttClient::start(client_cfg(broker.addr, "late")).unwrap();
    late.subscribe(&[("fc/cafenet/gina9001/exp/potentiometer", QoS::AtMostOnce)])
        .await
        .unwrap();
    let m = on_topic(&mut late_notes, "fc/cafenet/gina9001/exp/potentiometer").await;
    assert!(m.retain);
    assert_eq!(json(&m)["value"], 41.5);

    // Down: set messages in the three payload forms.
    let set = |s: &str| format!("fc/cafenet/gina9001/imp/{s}/set");
    obs.publish(
        &set("setpoint"),
        "1234",
        QoS::AtLeastOnce,
        false,
        Wait::Acknowledged,
    )
    .await
    .unwrap();
    obs.publish(
        &set("myoutput"),
        r#"{"value": true}"#,
        QoS::AtLeastOnce,
        false,
        Wait::Acknowledged,
    )
    .await
    .unwrap();
    obs.publish(
        &set("label"),
        "hello",
        QoS::AtLeastOnce,
        false,
        Wait::Acknowledged,
    )
    .await
    .unwrap();
    let mut want = vec![
        ("setpoint", SignalValue::Int(1234)),
        ("myoutput", SignalValue::Bool(true)),
        ("label", SignalValue::Str("hello".into())),
    ];
    while !want.is_empty() {
        let (sig, value) = wait_device(&mut dev_events, |e| match e {
            DeviceEvent::Write {
                block,
                signal,
                value,
                ..
            } if block == "imp" => Some((signal.clone(), value.clone())),
            _ => None,
        })
        .await;
        want.retain(|(s, v)| !(*s == sig && *v == value));
    }

    // Bad sets: reported on the error topic, the bridge keeps going.
    for (topic, payload, needle) in [
        (set("nosuch"), "1", "no signal imp.nosuch"),
        (
            "fc/cafenet/gina9001/exp/counter/set".to_string(),
            "5",
            "upward",
        ),
        (set("setpoint"), "not a number", "bad value"),
        (
            "fc/cafenet/nobody7/imp/setpoint/set".to_string(),
            "1",
            "unknown device",
        ),
    ] {
        obs.publish(&topic, payload, QoS::AtLeastOnce, false, Wait::Acknowledged)
            .await
            .unwrap();
        let m = on_topic(&mut notes, "fc/bridge/error").await;
        let e = json(&m);
        assert_eq!(e["topic"], topic.as_str());
        let text = e["error"].as_str().unwrap();
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
    obs.publish(
        &set("setpoint"),
        "77",
        QoS::AtLeastOnce,
        false,
        Wait::Acknowledged,
    )
    .await
    .unwrap();
    wait_device(&mut dev_events, |e| {
        matches!(e, DeviceEvent::Write { signal, value: SignalValue::Int(77), .. } if signal == "setpoint")
            .then_some(())
    })
    .await;

    // Device and bridge going away.
    dev.shutdown().await;
    let m = on_topic(&mut notes, "fc/cafenet/gina9001/status").await;
    assert_eq!(m.payload, b"offline");
    bridge.shutdown().await;
    let m = on_topic(&mut notes, "fc/bridge/status").await;
    assert_eq!(m.payload, b"offline");
}
