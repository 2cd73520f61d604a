//! A device that loses its connection and comes back gets the server's downward values in
//! its very first key frame — also values written while it was away — and never sees
//! them drop to zero in between. The connection is cut by a TCP relay in the middle,
//! so the same device (with its own copy of the values) reconnects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_runtime::device::{Device, DeviceEvent};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
use ferrocom_runtime::signal::SignalValue;
use support::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Forwards every accepted connection to `target`; `cut()` drops the live ones.
struct Relay {
    addr: SocketAddr,
    links: std::sync::Arc<std::sync::Mutex<JoinSet<()>>>,
    _accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let links = std::sync::Arc::new(std::sync::Mutex::new(JoinSet::new()));
        let l2 = links.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut a, _)) = l.accept().await {
                let Ok(mut b) = TcpStream::connect(target).await else {
                    continue;
                };
                l2.lock().unwrap().spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                });
            }
        });
        Relay {
            addr,
            links,
            _accept: accept,
        }
    }

    fn cut(&self) {
        self.links.lock().unwrap().abort_all();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_device_never_sees_zeros_for_downward_values() {
    let _logs = logs();
    let mut cfg = ServerConfig::new("cafenet", temp_db("resync"));
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Server::start(cfg).await.unwrap();
    let mut events = server.subscribe();
    let relay = Relay::start(server.local_addrs()[0]).await;

    let dev = Device::start(device_config("gina", tcp(relay.addr))).unwrap();
    let mut dev_events = dev.subscribe();
    let gina = wait_server(&mut events, |e| match e {
        ServerEvent::SignalMapLearned { device } => Some(device.clone()),
        _ => None,
    })
    .await;
    server
        .write_signal(&gina, "imp", "setpoint", 777u16)
        .unwrap();
    server.write_signal(&gina, "imp", "label", "first").unwrap();
    wait_device(&mut dev_events, |e| match e {
        DeviceEvent::Write { signal, value, .. }
            if signal == "label" && *value == SignalValue::Str("first".into()) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;

    relay.cut();
    wait_server(&mut events, |e| match e {
        ServerEvent::DeviceDisconnected { device, .. } if *device == gina => Some(()),
        _ => None,
    })
    .await;
    // Written while the device is away: delivered on its return.
    server
        .write_signal(&gina, "imp", "label", "second")
        .unwrap();

    let mut writes = Vec::new();
    within(Duration::from_secs(10), async {
        loop {
            if let DeviceEvent::Write {
                signal,
                value,
                state,
                ..
            } = dev_events.recv().await.expect("device gone")
            {
                let done = signal == "label" && value == SignalValue::Str("second".into());
                writes.push((signal, value, state));
                if done {
                    return;
                }
            }
        }
    })
    .await;
    // Give a late zero key frame the chance to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(10), dev_events.recv()).await
    {
        if let DeviceEvent::Write {
            signal,
            value,
            state,
            ..
        } = e
        {
            writes.push((signal, value, state));
        }
    }
    assert!(
        writes.iter().all(|(s, v, st)| {
            *v != SignalValue::Int(0)
                && *v != SignalValue::Str(String::new())
                && st.is_connected()
                && s != "setpoint"
        }),
        "after reconnecting, only the offline write arrives (with CONNECTED): {writes:?}"
    );
    assert_eq!(dev.get("imp", "setpoint").unwrap().0, SignalValue::Int(777));
    let (v, st) = server.read_signal(&gina, "imp", "setpoint").unwrap();
    assert_eq!(v, SignalValue::Int(777));
    assert!(
        st.is_connected(),
        "the server's own view is connected again"
    );

    dev.shutdown().await;
    server.shutdown().await;
}
