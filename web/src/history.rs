//! Recent values of every signal, for the page's plots, and the live event stream: one
//! task takes the server's events, stamps them, keeps them and passes them on.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use ferrocom_runtime::server::{DeviceRef, ServerEvent, ServerEvents};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_wire::signals::State;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::AppState;
use crate::json;

/// One recorded value.
#[derive(Debug, Clone)]
pub struct Point {
    /// Milliseconds since the Unix epoch.
    pub t: u64,
    pub value: SignalValue,
    pub state: State,
}

type Key = (DeviceRef, String, String);

/// The last `len` values of each signal.
pub struct History {
    len: usize,
    signals: Mutex<HashMap<Key, VecDeque<Point>>>,
}

impl History {
    pub fn new(len: usize) -> Self {
        History {
            len: len.max(1),
            signals: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, VecDeque<Point>>> {
        self.signals.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, key: Key, p: Point) {
        let mut map = self.lock();
        let q = map.entry(key).or_default();
        if q.len() >= self.len {
            q.pop_front();
        }
        q.push_back(p);
    }

    /// The recorded values of one signal, oldest first.
    pub fn points(&self, device: &DeviceRef, block: &str, signal: &str) -> Vec<Point> {
        let key = (device.clone(), block.to_string(), signal.to_string());
        self.lock()
            .get(&key)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// An event for the page: the SSE event name and its JSON data.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub name: &'static str,
    pub data: Value,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Records and forwards server events until the server is gone or the web part stops.
pub async fn record(
    state: Arc<AppState>,
    mut events: ServerEvents,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(ev) = ev else { return };
        let t = now_ms();
        let live = match ev {
            ServerEvent::SignalChanged {
                device,
                block,
                signal,
                value,
                state: st,
            } => {
                let data = json!({
                    "device": device.to_string(),
                    "block": block,
                    "signal": signal,
                    "value": json::value(&value),
                    "text": value.to_string(),
                    "state": json::state(st),
                    "t": t,
                });
                state.history.push(
                    (device, block, signal),
                    Point {
                        t,
                        value,
                        state: st,
                    },
                );
                LiveEvent {
                    name: "signal",
                    data,
                }
            }
            ServerEvent::DeviceConnected { device } => device_event(&device, "connected", None, t),
            ServerEvent::SignalMapLearned { device } => device_event(&device, "map", None, t),
            ServerEvent::DeviceDisconnected { device, reason } => {
                device_event(&device, "disconnected", Some(reason), t)
            }
            _ => continue,
        };
        // No page listening is fine: the history above is kept regardless.
        let _ = state.live.send(live);
    }
}

fn device_event(device: &DeviceRef, what: &str, reason: Option<String>, t: u64) -> LiveEvent {
    LiveEvent {
        name: "device",
        data: json!({
            "device": device.to_string(),
            "event": what,
            "reason": reason,
            "t": t,
        }),
    }
}
