//! A server restart: accounts and automatic device numbers are read back from the
//! SQLite database, the devices reconnect with back-off over TLS (so the accounts are
//! really used) and resync with full key frames.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_runtime::device::{Connect, Device, DeviceEvent};
use ferrocom_runtime::net::tls::{DevCertificates, Trust, generate_dev_certificates};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerHandle};
use ferrocom_runtime::signal::SignalValue;
use support::*;

async fn start(db: &std::path::Path, addr: SocketAddr, certs: &DevCertificates) -> ServerHandle {
    let mut cfg = ServerConfig::new("cafenet", db);
    cfg.endpoints.push(Endpoint::Tls {
        addr,
        cert_chain: certs.server_chain.clone(),
        key: certs.server_key().unwrap(),
    });
    Server::start(cfg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_numbers_survive_a_restart_and_devices_resync() {
    let _logs = logs();
    let db = temp_db("restart");
    let certs = generate_dev_certificates(&["127.0.0.1"]).unwrap();
    let server = start(&db, SocketAddr::from(([127, 0, 0, 1], 0)), &certs).await;
    let addr = server.local_addrs()[0];
    server
        .accounts()
        .add_user("gina", "g-pass", &["cafenet"])
        .unwrap();
    server
        .accounts()
        .add_user("carol*", "c-pass", &["*"])
        .unwrap();
    let mut events = server.subscribe();

    let connect = Connect::Tls {
        addr: addr.to_string(),
        server_name: "127.0.0.1".into(),
        trust: Trust::Roots(vec![certs.ca_cert.clone()]),
    };
    let mut gcfg = device_config("gina", connect.clone());
    gcfg.password = "g-pass".into();
    let mut ccfg = device_config("carol", connect);
    ccfg.password = "c-pass".into();
    let gina = Device::start(gcfg).unwrap();
    let carol = Device::start(ccfg).unwrap();
    within(Duration::from_secs(10), gina.wait_connected()).await;
    within(Duration::from_secs(10), carol.wait_connected()).await;
    gina.set("exp", "counter", 11u32).unwrap();
    carol.set("exp", "counter", 22u32).unwrap();
    let g_ref = wait_signal(&mut events, "gina", "exp", "counter", &SignalValue::Int(11)).await;
    let before = server.devices();
    let numbers = server.device_numbers().unwrap();
    assert_eq!(numbers.len(), 2);
    server
        .write_signal(&g_ref, "imp", "setpoint", 321u16)
        .unwrap();
    within(Duration::from_secs(10), async {
        while gina.get("imp", "setpoint").unwrap().0 != SignalValue::Int(321) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // Restart on the same address and database.
    let mut gina_events = gina.subscribe();
    server.shutdown().await;
    wait_device(&mut gina_events, |e| {
        matches!(e, DeviceEvent::Disconnected { .. }).then_some(())
    })
    .await;
    // While the server is down the device keeps working locally.
    gina.set("exp", "potentiometer", 2.5f32).unwrap();

    let server = start(&db, addr, &certs).await;
    let mut events = server.subscribe();
    let accounts: Vec<String> = server
        .accounts()
        .list()
        .unwrap()
        .into_iter()
        .map(|a| a.user)
        .collect();
    assert_eq!(accounts, ["carol*", "gina"]);
    assert_eq!(server.device_numbers().unwrap(), numbers);

    within(Duration::from_secs(10), gina.wait_connected()).await;
    within(Duration::from_secs(10), carol.wait_connected()).await;

    // Resync: the new server learns the values set before (and during) the restart
    // from the key frames, under the same numbers.
    within(Duration::from_secs(10), async {
        loop {
            let ok = server.devices().len() == 2
                && server
                    .read_signal(&g_ref, "exp", "potentiometer")
                    .is_ok_and(|(v, s)| v == SignalValue::Float(2.5) && s.is_connected())
                && server
                    .read_signal(&g_ref, "exp", "counter")
                    .is_ok_and(|(v, _)| v == SignalValue::Int(11));
            if ok {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let after = server.devices();
    let refs = |l: &[ferrocom_runtime::server::DeviceInfo]| {
        l.iter().map(|d| d.device.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        refs(&after),
        refs(&before),
        "same automatic numbers after the restart"
    );

    // And signals keep flowing both ways.
    carol.set("exp", "counter", 23u32).unwrap();
    wait_signal(
        &mut events,
        "carol",
        "exp",
        "counter",
        &SignalValue::Int(23),
    )
    .await;
    server
        .write_signal(&g_ref, "imp", "setpoint", 654u16)
        .unwrap();
    within(Duration::from_secs(10), async {
        while gina.get("imp", "setpoint").unwrap().0 != SignalValue::Int(654) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    gina.shutdown().await;
    carol.shutdown().await;
    server.shutdown().await;
}
