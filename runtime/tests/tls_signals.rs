//! Device ↔ server over real TLS (rustls, rcgen development CA): the device
//! authenticates with its password against the accounts database (§9.4).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_runtime::device::{Connect, Device, DeviceEvent};
use ferrocom_runtime::net::tls::{Trust, generate_dev_certificates};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerHandle};
use ferrocom_runtime::signal::SignalValue;
use support::*;

async fn tls_server(tag: &str) -> (ServerHandle, ferrocom_runtime::net::tls::DevCertificates) {
    let certs = generate_dev_certificates(&["localhost", "127.0.0.1"]).unwrap();
    let mut cfg = ServerConfig::new("cafenet", temp_db(tag));
    cfg.endpoints.push(Endpoint::Tls {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        cert_chain: certs.server_chain.clone(),
        key: certs.server_key().unwrap(),
    });
    let server = Server::start(cfg).await.unwrap();
    server
        .accounts()
        .add_user("gina", "secret", &["cafenet"])
        .unwrap();
    (server, certs)
}

fn tls(addr: SocketAddr, trust: Trust) -> Connect {
    Connect::Tls {
        addr: addr.to_string(),
        server_name: "127.0.0.1".into(),
        trust,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_flow_both_ways_over_tls_with_password() {
    let _logs = logs();
    let (server, certs) = tls_server("tls-ok").await;
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];
    let mut cfg = device_config("gina", tls(addr, Trust::Roots(vec![certs.ca_cert.clone()])));
    cfg.password = "secret".into();
    let dev = Device::start(cfg).unwrap();
    let mut dev_events = dev.subscribe();
    within(Duration::from_secs(10), dev.wait_connected()).await;

    dev.set("exp", "potentiometer", -12.25f32).unwrap();
    let gina = wait_signal(
        &mut events,
        "gina",
        "exp",
        "potentiometer",
        &SignalValue::Float(-12.25),
    )
    .await;
    assert_eq!(gina.number, 9001);

    server
        .write_signal(&gina, "imp", "setpoint", 4242u16)
        .unwrap();
    wait_device(&mut dev_events, |e| match e {
        DeviceEvent::Write { signal, value, .. }
            if signal == "setpoint" && *value == SignalValue::Int(4242) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    dev.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_and_logged() {
    let logs = logs();
    let (server, certs) = tls_server("tls-bad").await;
    let addr = server.local_addrs()[0];
    let mut cfg = device_config("gina", tls(addr, Trust::Roots(vec![certs.ca_cert.clone()])));
    cfg.password = "wrong".into();
    let dev = Device::start(cfg).unwrap();
    let line = logs
        .wait_line(&["authorization refused", "user=\"gina\""])
        .await;
    assert!(line.contains("cafenet"), "{line}");
    logs.wait_line(&["IOCOM connection dropped", "not authorized"])
        .await;
    assert!(!dev.connected());
    assert!(
        server.devices().is_empty(),
        "a refused device gets no blocks"
    );
    dev.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_server_certificate_is_refused_by_the_device() {
    let logs = logs();
    let (server, _certs) = tls_server("tls-ca").await;
    let other = generate_dev_certificates(&["127.0.0.1"]).unwrap();
    let addr = server.local_addrs()[0];
    let mut cfg = device_config("gina", tls(addr, Trust::Roots(vec![other.ca_cert.clone()])));
    cfg.password = "secret".into();
    let dev = Device::start(cfg).unwrap();
    logs.wait_line(&["TLS handshake failed", &addr.to_string()])
        .await;
    assert!(!dev.connected());
    dev.shutdown().await;
    server.shutdown().await;
}
