//! Switchbox test rig: a switchbox with a development CA, servers that publish their IO
//! network on it, devices that reach them through it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ferrocom_runtime::device::{Backoff, Connect, Device, DeviceConfig, DeviceHandle};
use ferrocom_runtime::net::tls::{DevCertificates, Trust, generate_dev_certificates};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerHandle};
use ferrocom_runtime::switchbox::{
    ServiceAccount, Switchbox, SwitchboxConfig, SwitchboxHandle, SwitchboxLink,
};

use super::{device_config, temp_db, within};

pub fn certs() -> DevCertificates {
    generate_dev_certificates(&["localhost", "127.0.0.1"]).unwrap()
}

/// A switchbox on a free loopback port with service account `plant`/`pw` for
/// `cafenet` and `othernet`, and `intruder`/`pw2` also allowed on `cafenet`.
pub async fn start_switchbox(tag: &str, certs: &DevCertificates) -> SwitchboxHandle {
    start_switchbox_on(tag, certs, SocketAddr::from(([127, 0, 0, 1], 0)), |_| {}).await
}

pub async fn start_switchbox_on(
    tag: &str,
    certs: &DevCertificates,
    addr: SocketAddr,
    tune: impl FnOnce(&mut SwitchboxConfig),
) -> SwitchboxHandle {
    let mut cfg = SwitchboxConfig::new(
        addr,
        certs.server_chain.clone(),
        certs.server_key().unwrap(),
        temp_db(tag).with_file_name("switchbox.db"),
    );
    tune(&mut cfg);
    let sb = Switchbox::start(cfg).await.unwrap();
    sb.add_account(&ServiceAccount::new(
        "plant",
        "pw",
        &["cafenet", "othernet"],
    ))
    .unwrap();
    sb.add_account(&ServiceAccount::new("intruder", "pw2", &["cafenet"]))
        .unwrap();
    sb
}

pub fn link(
    sb: SocketAddr,
    certs: &DevCertificates,
    network: &str,
    user: &str,
    pw: &str,
) -> SwitchboxLink {
    let mut l = SwitchboxLink::new(
        &sb.to_string(),
        "127.0.0.1",
        Trust::Roots(vec![certs.ca_cert.clone()]),
        network,
        user,
        pw,
    );
    l.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
    };
    l
}

/// A server on `network` (database `db`) published on the switchbox, with account
/// `*`/`secret` for its devices.
pub async fn start_service(db: &Path, network: &str, l: SwitchboxLink) -> ServerHandle {
    let mut cfg = ServerConfig::new(network, db);
    cfg.endpoints.push(Endpoint::Switchbox(l));
    let server = Server::start(cfg).await.unwrap();
    server
        .accounts()
        .add_user("*", "secret", &[network])
        .unwrap();
    server
}

/// Waits until the switchbox lists `network` as published.
pub async fn wait_published(sb: &SwitchboxHandle, network: &str) {
    within(Duration::from_secs(10), async {
        while !sb.networks().iter().any(|n| n.network == network) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

pub fn via(sb: SocketAddr, trust: Trust) -> Connect {
    Connect::Tls {
        addr: sb.to_string(),
        server_name: "127.0.0.1".into(),
        trust,
    }
}

/// A device on `network` reaching its server through the switchbox.
pub fn device_cfg(
    name: &str,
    network: &str,
    sb: SocketAddr,
    certs: &DevCertificates,
) -> DeviceConfig {
    let mut cfg = device_config(name, via(sb, Trust::Roots(vec![certs.ca_cert.clone()])));
    cfg.network = network.into();
    cfg.password = "secret".into();
    cfg
}

pub fn device(name: &str, network: &str, sb: SocketAddr, certs: &DevCertificates) -> DeviceHandle {
    Device::start(device_cfg(name, network, sb, certs)).unwrap()
}
