//! `ferrocom bridge` as a process: it connects to a mosquitto the test starts, says
//! `online` on its retained status topic, bridges a device's signal, and says `offline`
//! when stopped with SIGTERM; bad flags exit with code 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../runtime/tests/mosquitto/mod.rs"]
mod mosquitto;

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferrocom_runtime::device::{Connect, Device, DeviceConfig};
use ferrocom_runtime::mqtt::{Message, Options, QoS};
use ferrocom_runtime::mqtt_client::{Broker, ClientConfig, MqttClient, Notification};
use ferrocom_spec::signals::SignalMap;
use mosquitto::{Mosquitto, mosquitto_or_skip};
use tokio::sync::mpsc::UnboundedReceiver;

const MAP: &str = r#"{"name": "gina", "mblk": [
  {"name": "exp", "flags": "up", "groups": [{"name": "g", "signals": [
    {"name": "temp", "type": "float"}]}]}]}"#;

async fn on_topic(notes: &mut UnboundedReceiver<Notification>, topic: &str) -> Message {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match notes.recv().await {
                Some(Notification::Message(m)) if m.topic == topic => return m,
                Some(_) => {}
                None => panic!("notifications closed"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("nothing on {topic}"))
}

#[test]
fn bad_broker_url_is_bad_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args(["bridge", "--broker", "http://x", "--no-tcp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcp:// or tls://"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_command_publishes_status_and_signals() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin, false);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let iocom = SocketAddr::from(([127, 0, 0, 1], port));
    let (obs, mut notes) = MqttClient::start(ClientConfig::new(
        Broker::Tcp(broker.addr.to_string()),
        Options::new("cli-observer"),
    ))
    .unwrap();
    obs.subscribe(&[("cli/#", QoS::AtLeastOnce)]).await.unwrap();

    let db = broker.dir.join("bridge.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocom"))
        .args(["bridge", "--broker"])
        .arg(format!("tcp://{}", broker.addr))
        .args(["--prefix", "cli", "--tcp"])
        .arg(iocom.to_string())
        .arg("--db")
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let m = on_topic(&mut notes, "cli/bridge/status").await;
    assert_eq!(m.payload, b"online");

    let map = SignalMap::from_json_str("map", MAP).unwrap().0;
    let dev = Device::start(DeviceConfig::new(
        "gina",
        "cafenet",
        map,
        Connect::Tcp(iocom.to_string()),
    ))
    .unwrap();
    dev.set("exp", "temp", 21.5f32).unwrap();
    loop {
        let m = on_topic(&mut notes, "cli/cafenet/gina9001/exp/temp").await;
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        if v["value"] == 21.5 {
            break;
        }
    }

    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let m = on_topic(&mut notes, "cli/bridge/status").await;
    assert_eq!(m.payload, b"offline");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    dev.shutdown().await;
}
