//! Device ↔ server over real TCP on 127.0.0.1: signals up and down, the server learns
//! the map from the `info` block and numbers the device automatically.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;

use ferrocom_runtime::device::{Device, DeviceEvent};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerError, ServerEvent};
use ferrocom_runtime::signal::SignalValue;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_flow_both_ways_over_tcp() {
    let _logs = logs();
    let mut cfg = ServerConfig::new("cafenet", temp_db("tcp"));
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Server::start(cfg).await.unwrap();
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];

    let dev = Device::start(device_config("gina", tcp(addr))).unwrap();
    let mut dev_events = dev.subscribe();
    within(std::time::Duration::from_secs(10), dev.wait_connected()).await;
    let gina = wait_server(&mut events, |e| match e {
        ServerEvent::SignalMapLearned { device } => Some(device.clone()),
        _ => None,
    })
    .await;
    assert_eq!(gina.name, "gina");
    assert_eq!(
        gina.number, 9001,
        "automatic number from the unique id (§9.5)"
    );
    assert_eq!(gina.network, "cafenet");

    // Up: every kind of signal.
    dev.set("exp", "potentiometer", 41.5f32).unwrap();
    dev.set("exp", "in_x", true).unwrap();
    dev.set("exp", "counter", 123_456u32).unwrap();
    dev.set("exp", "teststr", "hello").unwrap();
    dev.set(
        "exp",
        "testfloat",
        SignalValue::Array(vec![1.0.into(), 2.5.into(), (-3.0).into()]),
    )
    .unwrap();
    wait_signal(
        &mut events,
        "gina",
        "exp",
        "testfloat",
        &SignalValue::Array(vec![
            SignalValue::Float(1.0),
            SignalValue::Float(2.5),
            SignalValue::Float(-3.0),
        ]),
    )
    .await;
    let (v, s) = server.read_signal(&gina, "exp", "potentiometer").unwrap();
    assert_eq!(v, SignalValue::Float(41.5));
    assert!(s.is_connected());
    assert_eq!(
        server.read_signal(&gina, "exp", "in_x").unwrap().0,
        SignalValue::Bool(true)
    );
    assert_eq!(
        server.read_signal(&gina, "exp", "counter").unwrap().0,
        SignalValue::Int(123_456)
    );
    assert_eq!(
        server.read_signal(&gina, "exp", "teststr").unwrap().0,
        SignalValue::Str("hello".into())
    );

    // A later change arrives as a delta.
    dev.set("exp", "counter", 7u32).unwrap();
    wait_signal(&mut events, "gina", "exp", "counter", &SignalValue::Int(7)).await;

    // Down.
    server
        .write_signal(&gina, "imp", "setpoint", 500u16)
        .unwrap();
    server.write_signal(&gina, "imp", "myoutput", true).unwrap();
    server.write_signal(&gina, "imp", "label", "go").unwrap();
    wait_device(&mut dev_events, |e| match e {
        DeviceEvent::Write { signal, value, .. }
            if signal == "label" && *value == SignalValue::Str("go".into()) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    assert_eq!(dev.get("imp", "setpoint").unwrap().0, SignalValue::Int(500));
    assert_eq!(
        dev.get("imp", "myoutput").unwrap().0,
        SignalValue::Bool(true)
    );

    // Wrong use is an error, not a panic.
    assert!(matches!(
        server.write_signal(&gina, "exp", "counter", 1u32),
        Err(ServerError::NotDownward { .. })
    ));
    assert!(matches!(
        server.write_signal(&gina, "imp", "setpoint", 70_000u32),
        Err(ServerError::Signal(_))
    ));
    assert!(dev.set("imp", "setpoint", 1u16).is_err());

    let list = server.devices();
    assert_eq!(list.len(), 1);
    assert!(list[0].connected && list[0].has_map);
    let names: Vec<_> = list[0].blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["exp", "imp", "info"]);

    dev.shutdown().await;
    wait_server(&mut events, |e| {
        matches!(e, ServerEvent::DeviceDisconnected { .. }).then_some(())
    })
    .await;
    let (_, s) = server.read_signal(&gina, "exp", "potentiometer").unwrap();
    assert!(!s.is_connected(), "CONNECTED cleared when the device drops");
    server.shutdown().await;
}
