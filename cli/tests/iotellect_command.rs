//! `ferrocom iotellect agent` as a process: its IOCOM server takes a device, its agent
//! connects to an Iotellect server the test runs, answers the login challenge and
//! serves the device's signal; `--help` describes it; bad flags exit with code 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferrocom_runtime::device::{Connect, Device, DeviceConfig};
use ferrocom_runtime::iotellect_net::{Endpoint, IotellectServer, ServerConfig};
use ferrocom_spec::signals::SignalMap;
use ferrocom_wire::datatable::Value;

const MAP: &str = r#"{"name": "gina", "mblk": [
  {"name": "exp", "flags": "up", "groups": [{"name": "g", "signals": [
    {"name": "temp", "type": "float"}]}]}]}"#;

#[test]
fn help_and_bad_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args(["iotellect", "agent", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--server",
        "--device",
        "--owner",
        "--password",
        "--tcp",
        "login",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args([
            "iotellect",
            "agent",
            "--server",
            "http://x",
            "--device",
            "gina",
            "--password",
            "p",
            "--no-tcp",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls://"));
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args([
            "iotellect",
            "agent",
            "--server",
            "tls://x",
            "--device",
            "gina",
            "--password",
            "p",
            "--no-tcp",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "tls:// without --ca");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_command_serves_a_devices_signal() {
    let mut cfg = ServerConfig::new();
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    cfg.password = Some("pw".into());
    let (server, mut agents) = IotellectServer::start(cfg).await.unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let iocom = SocketAddr::from(([127, 0, 0, 1], port));
    let dir = std::env::temp_dir().join(format!(
        "ferrocom-iotellect-cli-{}-{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args(["iotellect", "agent", "--server"])
        .arg(server.local_addrs()[0].to_string())
        .args([
            "--device",
            "gina",
            "--owner",
            "admin",
            "--password",
            "pw",
            "--tcp",
        ])
        .arg(iocom.to_string())
        .arg("--db")
        .arg(dir.join("agent.db"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let remote = tokio::time::timeout(Duration::from_secs(20), agents.recv())
        .await
        .expect("the agent connects")
        .unwrap();
    assert_eq!(remote.login().unwrap().name, "gina");

    let map = SignalMap::from_json_str("map", MAP).unwrap().0;
    let dev = Device::start(DeviceConfig::new(
        "gina",
        "cafenet",
        map,
        Connect::Tcp(iocom.to_string()),
    ))
    .unwrap();
    dev.set("exp", "temp", 21.5f32).unwrap();
    let value = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(t) = remote.get_variable("exp", "temp", None).await
                && t.get(0, "value") == Some(&Value::Float(21.5))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    value.expect("the device's value through the agent");
    drop(dev);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
