//! The signal ↔ MQTT bridge: an IOCOM server's signals published to an MQTT broker, and
//! `set` messages from the broker written down to the devices.
//!
//! Topic scheme (`<prefix>` defaults to `ferrocom`; `<device>` is name and number, the
//! IOCOM way, e.g. `gina1`):
//!
//! | topic | direction | payload | retained |
//! |---|---|---|---|
//! | `<prefix>/<network>/<device>/<block>/<signal>` | to MQTT | `{"value": v, "state": n, "connected": b, "ts": unix_ms}` | yes |
//! | `<prefix>/<network>/<device>/<block>/<signal>/set` | from MQTT | a JSON value, `{"value": v}`, or plain text (`41.5`, `on`, `hello`) | — |
//! | `<prefix>/<network>/<device>/status` | to MQTT | `online` / `offline` | yes |
//! | `<prefix>/bridge/status` | to MQTT | `online`; `offline` (the will, or a clean stop) | yes |
//! | `<prefix>/bridge/error` | to MQTT | `{"topic": t, "error": text}` for a `set` that failed | no |
//!
//! `value` is a number, boolean, string or array as the signal's type says; `state` is
//! the IOCOM state byte (bit 1 = connected, bits 2-3 = orange/yellow/red); `connected`
//! repeats bit 1 for convenience. A `set` for an unknown device or signal, an upward
//! signal, or a value that does not fit is logged and reported on the error topic; it
//! never stops the bridge.

use std::format;
use std::string::{String, ToString};
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use ferrocom_spec::signals::Signal as MapSignal;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::mqtt::{Message, QoS, SubscribeOutcome, Will};
use crate::mqtt_client::{ClientConfig, ClientError, MqttClient, Notification, Wait};
use crate::server::{DeviceRef, ServerEvent, ServerHandle};
use crate::signal::SignalValue;

/// How to run a bridge.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Topic prefix (no trailing `/`).
    pub prefix: String,
    /// QoS of signal and status messages.
    pub qos: QoS,
    /// The MQTT connection. Its will is replaced by the bridge's own (`offline` on
    /// `<prefix>/bridge/status`).
    pub mqtt: ClientConfig,
}

impl BridgeConfig {
    /// Prefix `ferrocom`, QoS 1.
    pub fn new(mqtt: ClientConfig) -> Self {
        BridgeConfig {
            prefix: "ferrocom".into(),
            qos: QoS::AtLeastOnce,
            mqtt,
        }
    }
}

/// Starts bridges; see [`Bridge::start`].
#[derive(Debug)]
pub struct Bridge;

/// A running bridge; [`BridgeHandle::shutdown`] stops it cleanly.
#[derive(Debug)]
pub struct BridgeHandle {
    task: JoinHandle<()>,
    client: Arc<MqttClient>,
    prefix: String,
}

impl Bridge {
    /// Connects to the broker and bridges `server`'s signals until shut down.
    pub fn start(
        server: Arc<ServerHandle>,
        mut cfg: BridgeConfig,
    ) -> Result<BridgeHandle, ClientError> {
        let prefix = cfg.prefix.trim_end_matches('/').to_string();
        cfg.mqtt.session.will = Some(Will {
            topic: format!("{prefix}/bridge/status"),
            payload: b"offline".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: true,
        });
        // Subscribe before connecting, so no change after start is missed.
        let events = server.subscribe();
        let (client, notes) = MqttClient::start(cfg.mqtt)?;
        let client = Arc::new(client);
        let ctx = Ctx {
            server,
            client: client.clone(),
            prefix: prefix.clone(),
            qos: cfg.qos,
        };
        let task = tokio::spawn(ctx.run(events, notes));
        Ok(BridgeHandle {
            task,
            client,
            prefix,
        })
    }
}

impl BridgeHandle {
    /// Publishes `offline` on the bridge status topic, disconnects, and stops.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
        let topic = format!("{}/bridge/status", self.prefix);
        let done = self.client.publish(
            &topic,
            "offline",
            QoS::AtLeastOnce,
            true,
            Wait::Acknowledged,
        );
        let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
        if let Ok(client) = Arc::try_unwrap(self.client) {
            client.disconnect().await;
        }
    }
}

struct Ctx {
    server: Arc<ServerHandle>,
    client: Arc<MqttClient>,
    prefix: String,
    qos: QoS,
}

/// The JSON of a signal value (non-finite floats become `null`).
pub fn value_json(v: &SignalValue) -> Value {
    match v {
        SignalValue::Bool(b) => Value::Bool(*b),
        SignalValue::Int(i) => Value::from(*i),
        SignalValue::Float(x) => {
            serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number)
        }
        SignalValue::Str(s) => Value::String(s.clone()),
        SignalValue::Array(a) => Value::Array(a.iter().map(value_json).collect()),
    }
}

/// A `set` payload as a value of `sig`: a JSON value, `{"value": ...}`, or plain text.
pub fn parse_set(sig: &MapSignal, payload: &[u8]) -> Result<SignalValue, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8".to_string())?;
    let text = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut o)) => match o.remove("value") {
            Some(Value::String(s)) => s,
            Some(v) => v.to_string(),
            None => return Err("JSON object without a \"value\" key".into()),
        },
        Ok(Value::String(s)) => s,
        Ok(v) => v.to_string(),
        // Not JSON: plain text the way a person types it.
        Err(_) => text.to_string(),
    };
    SignalValue::parse(sig, &text)
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Ctx {
    fn device_topic(&self, d: &DeviceRef) -> String {
        format!("{}/{}/{}{}", self.prefix, d.network, d.name, d.number)
    }

    async fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        // Queued: the session keeps order and delivers after reconnects; waiting here
        // would hold up the server's events.
        if let Err(e) = self
            .client
            .publish(topic, payload, self.qos, retain, Wait::Queued)
            .await
        {
            tracing::warn!(topic, "cannot publish: {e}");
        }
    }

    async fn run(
        self,
        mut events: crate::server::ServerEvents,
        mut notes: mpsc::UnboundedReceiver<Notification>,
    ) {
        loop {
            tokio::select! {
                n = notes.recv() => match n {
                    Some(Notification::Connected { .. }) => self.on_connected().await,
                    Some(Notification::Message(m)) => self.on_set(m).await,
                    Some(Notification::Disconnected { reason }) => {
                        tracing::warn!("MQTT broker connection lost: {reason}");
                    }
                    None => return,
                },
                e = events.recv() => match e {
                    Some(e) => self.on_server_event(e).await,
                    None => return,
                },
            }
        }
    }

    async fn on_connected(&self) {
        tracing::info!("connected to the MQTT broker");
        let status = format!("{}/bridge/status", self.prefix);
        self.publish(&status, b"online".to_vec(), true).await;
        for d in self.server.devices() {
            let t = format!("{}/status", self.device_topic(&d.device));
            let s: &[u8] = if d.connected { b"online" } else { b"offline" };
            self.publish(&t, s.to_vec(), true).await;
        }
        let filter = format!("{}/+/+/+/+/set", self.prefix);
        match self
            .client
            .subscribe(&[(filter.as_str(), QoS::AtLeastOnce)])
            .await
        {
            Ok(o) if o.first() == Some(&SubscribeOutcome::Failed) => {
                tracing::error!(filter, "the broker refused the subscription to set topics");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(filter, "cannot subscribe: {e}"),
        }
    }

    async fn on_server_event(&self, e: ServerEvent) {
        match e {
            ServerEvent::SignalChanged {
                device,
                block,
                signal,
                value,
                state,
            } => {
                let topic = format!("{}/{block}/{signal}", self.device_topic(&device));
                let body = json!({
                    "value": value_json(&value),
                    "state": state.0,
                    "connected": state.0 & 0x02 != 0,
                    "ts": unix_ms(),
                });
                self.publish(&topic, body.to_string().into_bytes(), true)
                    .await;
            }
            ServerEvent::DeviceConnected { device } => {
                let t = format!("{}/status", self.device_topic(&device));
                self.publish(&t, b"online".to_vec(), true).await;
            }
            ServerEvent::DeviceDisconnected { device, .. } => {
                let t = format!("{}/status", self.device_topic(&device));
                self.publish(&t, b"offline".to_vec(), true).await;
            }
            _ => {}
        }
    }

    async fn on_set(&self, m: Message) {
        if let Err(e) = self.apply_set(&m) {
            tracing::warn!(topic = m.topic, "set failed: {e}");
            let t = format!("{}/bridge/error", self.prefix);
            let body = json!({ "topic": m.topic, "error": e });
            if let Err(e) = self
                .client
                .publish(&t, body.to_string(), QoS::AtLeastOnce, false, Wait::Queued)
                .await
            {
                tracing::warn!("cannot publish the error: {e}");
            }
        }
    }

    fn apply_set(&self, m: &Message) -> Result<(), String> {
        let rest = m
            .topic
            .strip_prefix(&self.prefix)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or("topic outside the bridge's prefix")?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [network, device, block, signal, "set"] = parts.as_slice() else {
            return Err("expected <network>/<device>/<block>/<signal>/set".into());
        };
        let dev = self
            .server
            .devices()
            .into_iter()
            .map(|d| d.device)
            .find(|d| d.network == *network && format!("{}{}", d.name, d.number) == *device)
            .ok_or_else(|| format!("unknown device {device}.{network}"))?;
        let map = self
            .server
            .signal_map(&dev)
            .ok_or_else(|| format!("signal map of {dev} not known yet"))?;
        let sig = map
            .signal(block, signal)
            .ok_or_else(|| format!("device {dev} has no signal {block}.{signal}"))?;
        let value = parse_set(sig, &m.payload)
            .map_err(|e| format!("bad value for {block}.{signal}: {e}"))?;
        self.server
            .write_signal(&dev, block, signal, value)
            .map_err(|e| e.to_string())
    }
}
