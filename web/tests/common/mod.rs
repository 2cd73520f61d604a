//! A small IO network for the web tests: a real server on 127.0.0.1:0 with an account,
//! a real runtime device connected over TCP, and the signal browser in front.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferrocom_runtime::device::{Backoff, Connect, Device, DeviceConfig, DeviceHandle};
use ferrocom_runtime::server::{
    DeviceRef, Endpoint, Server, ServerConfig, ServerEvent, ServerHandle,
};
use ferrocom_spec::signals::SignalMap;
use ferrocom_web::{Web, WebConfig, WebHandle};

pub const MAP: &str = r#"{
  "name": "gina",
  "mblk": [
    {"name": "exp", "flags": "up", "groups": [{"name": "state", "signals": [
      {"name": "potentiometer", "type": "float", "unit": "V", "digs": 2},
      {"name": "in_x", "type": "boolean"},
      {"name": "counter", "type": "uint"},
      {"name": "teststr", "type": "str", "array": 10},
      {"name": "testfloat", "type": "float", "array": 3}
    ]}]},
    {"name": "imp", "flags": "down", "groups": [{"name": "controls", "signals": [
      {"name": "myoutput", "type": "boolean"},
      {"name": "setpoint", "type": "ushort"},
      {"name": "label", "type": "str", "array": 8},
      {"name": "gains", "type": "short", "array": 3}
    ]}]}
  ]
}"#;

pub const USER: &str = "operator";
pub const PASSWORD: &str = "s3cret pass";

pub struct Net {
    pub server: Arc<ServerHandle>,
    pub web: WebHandle,
    pub dev: DeviceHandle,
    pub gina: DeviceRef,
    pub base: String,
    db: PathBuf,
}

fn temp_db(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "ferrocom-web-{tag}-{}-{nanos}.db",
        std::process::id()
    ))
}

/// Runs `f` with a deadline; a timeout fails the test with a clear message.
pub async fn within<T>(d: Duration, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(d, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {d:?}"),
    }
}

impl Net {
    pub async fn start(tag: &str) -> Net {
        let db = temp_db(tag);
        let mut cfg = ServerConfig::new("cafenet", &db);
        cfg.endpoints
            .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
        let server = Arc::new(Server::start(cfg).await.unwrap());
        server.accounts().add_user(USER, PASSWORD, &["*"]).unwrap();
        let mut events = server.subscribe();
        let web = Web::start(
            server.clone(),
            WebConfig::new(SocketAddr::from(([127, 0, 0, 1], 0))),
        )
        .await
        .unwrap();

        let map = SignalMap::from_json_str("test map", MAP).unwrap().0;
        let mut dc = DeviceConfig::new(
            "gina",
            "cafenet",
            map,
            Connect::Tcp(server.local_addrs()[0].to_string()),
        );
        dc.backoff = Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        };
        let dev = Device::start(dc).unwrap();
        dev.set("exp", "teststr", "hello").unwrap();
        dev.set("exp", "potentiometer", 1.25f32).unwrap();
        let gina = within(Duration::from_secs(10), async {
            loop {
                if let Some(ServerEvent::SignalMapLearned { device }) = events.recv().await {
                    return device;
                }
            }
        })
        .await;
        let base = format!("http://{}", web.local_addr());
        Net {
            server,
            web,
            dev,
            gina,
            base,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(self) {
        self.dev.shutdown().await;
        self.web.shutdown().await;
        let server = Arc::try_unwrap(self.server)
            .expect("after WebHandle::shutdown the web part holds no server reference");
        server.shutdown().await;
        let _ = std::fs::remove_file(&self.db);
    }
}
