//! The `plc` simulator binary, run as a process with each runner (`--runner blocking`:
//! std::net and std::time, no async runtime; `--runner tokio`), against the ferrocom
//! server: the server learns the map, sees the scanning inputs, and its writes to `imp`
//! and `conf` come back in `dout_state` (output requested, interlock forcing another).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferrocom_runtime::server::{DeviceRef, Endpoint, Server, ServerConfig, ServerHandle};
use ferrocom_runtime::signal::SignalValue;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn bools(server: &ServerHandle, plc: &DeviceRef, signal: &str) -> Vec<bool> {
    match server.read_signal(plc, "exp", signal) {
        Ok((SignalValue::Array(a), _)) => a
            .into_iter()
            .map(|v| matches!(v, SignalValue::Bool(true)))
            .collect(),
        other => panic!("{signal}: {other:?}"),
    }
}

async fn run(runner: &str) {
    let dir = std::env::temp_dir().join(format!(
        "ferrocom-plc-{runner}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = ServerConfig::new("cafenet", dir.join("server.db"));
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let server = Server::start(cfg).await.unwrap();
    let addr = server.local_addrs()[0];
    let _child = Kill(
        Command::new(env!("CARGO_BIN_EXE_plc"))
            .args(["--runner", runner, "--connect", &format!("tcp://{addr}")])
            .args(["--seconds", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let plc = wait_for("the plc and its map", || {
        server
            .devices()
            .into_iter()
            .find(|d| d.device.name == "plc" && d.has_map && d.connected)
            .map(|d| d.device)
    })
    .await;
    let scans = |s: &ServerHandle| match s.read_signal(&plc, "exp", "scans") {
        Ok((SignalValue::Int(n), _)) => n,
        other => panic!("scans: {other:?}"),
    };
    let first = scans(&server);
    wait_for("scans to advance", || {
        (scans(&server) > first + 3).then_some(())
    })
    .await;

    // An output requested by the server; the interlock configured to force output 7 while
    // ai[0] (a sine over 0..4095) is above 1: the board drives both.
    let mut dout = vec![SignalValue::Bool(false); 8];
    dout[2] = SignalValue::Bool(true);
    server
        .write_signal(&plc, "imp", "dout", SignalValue::Array(dout))
        .unwrap();
    server.write_signal(&plc, "conf", "alarm_ai", 1u16).unwrap();
    server.write_signal(&plc, "conf", "alarm_do", 7u8).unwrap();
    wait_for("the outputs", || {
        let d = bools(&server, &plc, "dout_state");
        (d[2] && d[7] && !d[0]).then_some(())
    })
    .await;
    assert_eq!(
        server.read_signal(&plc, "exp", "alarm").unwrap().0,
        SignalValue::Bool(true)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_runner_process() {
    run("blocking").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_runner_process() {
    run("tokio").await;
}

#[test]
fn bad_options_are_refused_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_plc"))
        .args(["--runner", "threads"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--runner takes `tokio` or `blocking`, not `threads`"),
        "{err}"
    );
}
