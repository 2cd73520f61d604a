//! Shared helpers of the tokio integration tests: a signal map, log capture, waiting for
//! events with a deadline, temporary databases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ferrocom_runtime::device::{Backoff, Connect, DeviceConfig, DeviceEvent, DeviceEvents};
use ferrocom_runtime::server::{DeviceRef, ServerEvent, ServerEvents};
use ferrocom_spec::signals::SignalMap;

pub const MAP: &str = r#"{
  "name": "gina",
  "mblk": [
    {"name": "exp", "flags": "up", "groups": [{"name": "state", "signals": [
      {"name": "potentiometer", "type": "float"},
      {"name": "in_x", "type": "boolean"},
      {"name": "counter", "type": "uint"},
      {"name": "teststr", "type": "str", "array": 10},
      {"name": "testfloat", "type": "float", "array": 3}
    ]}]},
    {"name": "imp", "flags": "down", "groups": [{"name": "controls", "signals": [
      {"name": "myoutput", "type": "boolean"},
      {"name": "setpoint", "type": "ushort"},
      {"name": "label", "type": "str", "array": 8}
    ]}]}
  ]
}"#;

pub fn map() -> SignalMap {
    SignalMap::from_json_str("test map", MAP).unwrap().0
}

pub fn device_config(name: &str, connect: Connect) -> DeviceConfig {
    let mut cfg = DeviceConfig::new(name, "cafenet", map(), connect);
    cfg.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
    };
    cfg
}

/// Log lines written by `tracing`, for assertions.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits until a line contains every one of `needles`; returns that line.
    pub async fn wait_line(&self, needles: &[&str]) -> String {
        within(Duration::from_secs(10), async {
            loop {
                if let Some(l) = self
                    .text()
                    .lines()
                    .find(|l| needles.iter().all(|n| l.contains(n)))
                {
                    return l.to_string();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a global subscriber once per test binary; returns the captured logs.
pub fn logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let w = logs.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "ferrocom_runtime=info".into()),
            )
            .with_writer(move || w.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(sub);
        logs
    })
    .clone()
}

/// Runs `f` with a deadline; panics (fails the test) with a clear message on timeout.
pub async fn within<T>(d: Duration, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(d, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {d:?}"),
    }
}

/// Waits for the first server event matching `pred`.
pub async fn wait_server<T>(
    ev: &mut ServerEvents,
    mut pred: impl FnMut(&ServerEvent) -> Option<T>,
) -> T {
    within(Duration::from_secs(10), async {
        loop {
            let e = ev.recv().await.expect("server gone");
            if std::env::var_os("SHOW_EVENTS").is_some() {
                eprintln!("EVENT {e:?}");
            }
            if let Some(v) = pred(&e) {
                return v;
            }
        }
    })
    .await
}

/// Waits for the first device event matching `pred`.
pub async fn wait_device<T>(
    ev: &mut DeviceEvents,
    mut pred: impl FnMut(&DeviceEvent) -> Option<T>,
) -> T {
    within(Duration::from_secs(10), async {
        loop {
            let e = ev.recv().await.expect("device gone");
            if let Some(v) = pred(&e) {
                return v;
            }
        }
    })
    .await
}

/// Waits until the server saw `signal` of `device_name` change to `want`.
pub async fn wait_signal(
    ev: &mut ServerEvents,
    device_name: &str,
    block: &str,
    signal: &str,
    want: &ferrocom_runtime::signal::SignalValue,
) -> DeviceRef {
    wait_server(ev, |e| match e {
        ServerEvent::SignalChanged {
            device,
            block: b,
            signal: s,
            value,
            state,
        } if device.name == device_name
            && b == block
            && s == signal
            && value == want
            && state.is_connected() =>
        {
            Some(device.clone())
        }
        _ => None,
    })
    .await
}

/// A fresh database path under the system temp directory.
pub fn temp_db(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "ferrocom-test-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("server.db")
}

pub fn tcp(addr: std::net::SocketAddr) -> Connect {
    Connect::Tcp(addr.to_string())
}

pub mod switchbox;
