//! Device ↔ server over a serial line: a pseudo-terminal pair, the link procedure,
//! CRC-checked frames of 96 bytes (§4.2, §8.3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ferrocom_runtime::device::{Connect, Device, DeviceEvent};
use ferrocom_runtime::iocom::Transport;
use ferrocom_runtime::net::serial::pty_pair;
use ferrocom_runtime::server::{Server, ServerConfig, ServerEvent};
use ferrocom_runtime::signal::SignalValue;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_flow_both_ways_over_a_serial_pty_pair() {
    let _logs = logs();
    let server = Server::start(ServerConfig::new("cafenet", temp_db("serial")))
        .await
        .unwrap();
    let mut events = server.subscribe();
    let (server_end, device_end) = pty_pair().unwrap();
    server.serve_stream(server_end, Transport::Serial, "pty");
    let dev = Device::start_on_stream(
        // `connect` is not used by `start_on_stream`; it documents what the stream is.
        device_config(
            "gina",
            Connect::Serial {
                path: "pty".into(),
                baud: 115_200,
            },
        ),
        device_end,
        Transport::Serial,
    )
    .unwrap();
    let mut dev_events = dev.subscribe();
    within(Duration::from_secs(10), dev.wait_connected()).await;
    let gina = wait_server(&mut events, |e| match e {
        ServerEvent::SignalMapLearned { device } => Some(device.clone()),
        _ => None,
    })
    .await;
    // No unique id on serial lines: a random free number (§9.5).
    assert!(gina.number > 9000, "{gina}");

    dev.set("exp", "teststr", "serial").unwrap();
    dev.set("exp", "counter", 99u32).unwrap();
    wait_signal(&mut events, "gina", "exp", "counter", &SignalValue::Int(99)).await;
    assert_eq!(
        server.read_signal(&gina, "exp", "teststr").unwrap().0,
        SignalValue::Str("serial".into())
    );

    server.write_signal(&gina, "imp", "myoutput", true).unwrap();
    wait_device(&mut dev_events, |e| match e {
        DeviceEvent::Write { signal, value, .. }
            if signal == "myoutput" && *value == SignalValue::Bool(true) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    dev.shutdown().await;
    server.shutdown().await;
}
