//! A live IOCOM device's signals through Iotellect: a runtime Device → a ferrocom IOCOM
//! server → a `SignalAgent` → ferrocom's Iotellect server, all on loopback. Get returns
//! the current value in a table of the signal's type, Set writes a downward signal
//! (the device sees the write), upward signals are read-only, and every change reaches
//! a listener as an event.
#![cfg(all(feature = "iotellect", feature = "tokio"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrocom_runtime::device::{Device, DeviceEvent};
use ferrocom_runtime::iotellect::{ListenerSpec, ReplyCode};
use ferrocom_runtime::iotellect_net::{
    AgentConfig, AgentNote, CallError, ConnectTo, Endpoint, IotellectServer, RemoteAgent,
    ServerConfig, SignalAgent,
};
use ferrocom_runtime::net::client::Backoff;
use ferrocom_runtime::server::{
    Endpoint as IocomEndpoint, Server, ServerConfig as IocomConfig, ServerEvent,
};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_wire::datatable::{DataTable, FieldFormat, FieldType, TableFormat, Value};
use support::*;

fn value_table(ty: FieldType, v: Value) -> DataTable {
    DataTable::new(TableFormat::single(FieldFormat::new("value", ty))).with_record(vec![v])
}

async fn next_value(remote: &mut RemoteAgent, event: &str) -> Value {
    within(Duration::from_secs(10), async {
        loop {
            let e = remote.next_event(None).await.expect("agent gone");
            if e.event == event {
                return e.data.unwrap().get(0, "value").cloned().unwrap();
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devices_signals_as_variables_and_events() {
    let _logs = logs();
    // The IOCOM side: a server and gina.
    let mut cfg = IocomConfig::new("cafenet", temp_db("iotellect"));
    cfg.endpoints
        .push(IocomEndpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let iocom = Arc::new(Server::start(cfg).await.unwrap());
    let mut iocom_events = iocom.subscribe();
    let dev = Device::start(device_config("gina", tcp(iocom.local_addrs()[0]))).unwrap();
    let mut dev_events = dev.subscribe();
    wait_server(&mut iocom_events, |e| {
        matches!(e, ServerEvent::SignalMapLearned { .. }).then_some(())
    })
    .await;
    dev.set("exp", "potentiometer", 41.5f32).unwrap();
    dev.set("exp", "counter", 7u32).unwrap();
    dev.set("exp", "teststr", "hi").unwrap();
    dev.set(
        "exp",
        "testfloat",
        SignalValue::Array(vec![
            SignalValue::Float(1.5),
            SignalValue::Float(2.5),
            SignalValue::Float(3.5),
        ]),
    )
    .unwrap();
    wait_signal(
        &mut iocom_events,
        "gina",
        "exp",
        "testfloat",
        &SignalValue::Array(vec![
            SignalValue::Float(1.5),
            SignalValue::Float(2.5),
            SignalValue::Float(3.5),
        ]),
    )
    .await;

    // The Iotellect side.
    let mut scfg = ServerConfig::new();
    scfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    scfg.password = Some("pw".into());
    let (server, mut agents) = IotellectServer::start(scfg).await.unwrap();
    let mut acfg = AgentConfig::new(
        ConnectTo::Tcp(server.local_addrs()[0].to_string()),
        "gina-agent",
        "admin",
        "pw",
    );
    acfg.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    let (agent, mut notes) = SignalAgent::start(iocom.clone(), "gina", acfg).unwrap();
    let mut remote = within(Duration::from_secs(10), agents.recv())
        .await
        .unwrap();
    assert_eq!(remote.login().unwrap().name, "gina-agent");

    // Get: the current value in a table of the right type.
    let t = remote
        .get_variable("exp", "potentiometer", None)
        .await
        .unwrap();
    assert_eq!(t.format.fields[0].field_type, FieldType::Float);
    assert_eq!((t.format.min_records, t.format.max_records), (1, 1));
    assert_eq!(t.get(0, "value"), Some(&Value::Float(41.5)));
    let t = remote.get_variable("exp", "counter", None).await.unwrap();
    assert_eq!(t.get(0, "value"), Some(&Value::Long(7)), "uint is a long");
    let t = remote.get_variable("exp", "in_x", None).await.unwrap();
    assert_eq!(t.get(0, "value"), Some(&Value::Boolean(false)));
    let t = remote.get_variable("exp", "teststr", None).await.unwrap();
    assert_eq!(t.get(0, "value"), Some(&Value::String("hi".into())));
    let t = remote.get_variable("exp", "testfloat", None).await.unwrap();
    assert_eq!(t.records.len(), 3, "an array is one record per element");
    assert_eq!(t.get(2, "value"), Some(&Value::Float(3.5)));
    match remote.get_variable("exp", "nosuch", None).await {
        Err(CallError::Refused(r)) => {
            assert_eq!(r.code, ReplyCode::Denied);
            assert!(r.message.contains("exp.nosuch"), "{}", r.message);
        }
        other => panic!("{other:?}"),
    }

    // Set: a downward signal reaches the device; an upward one is read-only.
    remote
        .set_variable(
            "imp",
            "setpoint",
            &value_table(FieldType::Integer, Value::Integer(1234)),
        )
        .await
        .unwrap();
    remote
        .set_variable(
            "imp",
            "label",
            &value_table(FieldType::String, Value::String("hello".into())),
        )
        .await
        .unwrap();
    let mut want = vec![
        ("setpoint", SignalValue::Int(1234)),
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
    let t = remote.get_variable("imp", "setpoint", None).await.unwrap();
    assert_eq!(t.get(0, "value"), Some(&Value::Integer(1234)));
    match remote
        .set_variable(
            "exp",
            "potentiometer",
            &value_table(FieldType::Float, Value::Float(1.0)),
        )
        .await
    {
        Err(CallError::Refused(r)) => {
            assert_eq!(r.code, ReplyCode::Denied);
            assert!(r.message.contains("read-only"), "{}", r.message);
        }
        other => panic!("{other:?}"),
    }
    match remote
        .set_variable(
            "imp",
            "setpoint",
            &value_table(FieldType::String, Value::String("x".into())),
        )
        .await
    {
        Err(CallError::Refused(r)) => assert_eq!(r.code, ReplyCode::Error, "{r}"),
        other => panic!("{other:?}"),
    }
    match remote
        .set_variable(
            "imp",
            "setpoint",
            &value_table(FieldType::Integer, Value::Integer(70000)),
        )
        .await
    {
        Err(CallError::Refused(r)) => assert!(r.message.contains("setpoint"), "{r}"),
        other => panic!("{other:?}"),
    }

    // Listeners: changes of the signal arrive as events carrying the live value.
    let listen = |event: &str| ListenerSpec {
        context: "exp".into(),
        event: event.into(),
        listener: Some(11),
        filter: None,
        fingerprint: None,
    };
    remote.add_listener(&listen("potentiometer")).await.unwrap();
    assert!(matches!(
        remote.add_listener(&listen("nosuch")).await,
        Err(CallError::Refused(_))
    ));
    within(Duration::from_secs(10), async {
        loop {
            if let Some(AgentNote::ListenerAdded(l)) = notes.recv().await {
                assert_eq!(l.event, "potentiometer");
                return;
            }
        }
    })
    .await;
    for v in [1.25f32, 2.5, 99.0] {
        dev.set("exp", "potentiometer", v).unwrap();
        assert_eq!(
            next_value(&mut remote, "potentiometer").await,
            Value::Float(v)
        );
    }
    // Other signals are not listened to.
    dev.set("exp", "counter", 8u32).unwrap();
    dev.set("exp", "potentiometer", 5.0f32).unwrap();
    let e = within(Duration::from_secs(10), remote.next_event(None))
        .await
        .unwrap();
    assert_eq!(e.event, "potentiometer");
    assert_eq!(e.listener, Some(11));

    remote
        .remove_listener(&listen("potentiometer"))
        .await
        .unwrap();
    assert!(agent.agent().listeners().is_empty());

    agent.shutdown().await;
    server.shutdown().await;
    drop(dev);
}
