//! The tokio MQTT 3.1.1 client: the sans-I/O [`Session`](crate::mqtt::Session) driven
//! over TCP or TLS (rustls, with a configurable ALPN list), reconnecting with exponential
//! back-off. In-flight state lives in the session, which outlives connections: a
//! persistent session re-sends unacknowledged messages (DUP set) after every reconnect,
//! for as long as this client object lives.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrocom_runtime::mqtt_client::ClientError> {
//! use ferrocom_runtime::mqtt::{Options, QoS};
//! use ferrocom_runtime::mqtt_client::{Broker, ClientConfig, MqttClient, Notification, Wait};
//!
//! let cfg = ClientConfig::new(Broker::Tcp("127.0.0.1:1883".into()), Options::new("demo1"));
//! let (client, mut notes) = MqttClient::start(cfg)?;
//! client.subscribe(&[("sensors/#", QoS::AtLeastOnce)]).await?;
//! client.publish("sensors/t1", b"21.5", QoS::ExactlyOnce, true, Wait::Acknowledged).await?;
//! while let Some(n) = notes.recv().await {
//!     if let Notification::Message(m) = n {
//!         println!("{}: {:?}", m.topic, m.payload);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::format;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use std::vec;
use std::vec::Vec;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::mqtt::{
    Event, Message, Millis, Options, PublishError, QoS, Session, SubscribeOutcome, Token,
};
pub use crate::net::client::Backoff;
use crate::net::tls::{self, TlsConnector, TlsError, Trust};

/// Where the broker is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Broker {
    /// Plain TCP, `host:port` (MQTT's port is 1883).
    Tcp(String),
    /// TLS, `host:port` (usually 8883, or 443 with ALPN).
    Tls {
        /// `host:port`.
        addr: String,
        /// DNS name or IP address checked against the broker's certificate.
        server_name: String,
        /// Which certificates to accept.
        trust: Trust,
        /// ALPN protocols to offer, e.g. `x-amzn-mqtt-ca`; empty: no ALPN extension.
        alpn: Vec<Vec<u8>>,
    },
}

impl Broker {
    /// What log lines call the broker.
    pub fn label(&self) -> &str {
        match self {
            Broker::Tcp(a) | Broker::Tls { addr: a, .. } => a,
        }
    }
}

/// How to run a client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The broker.
    pub broker: Broker,
    /// Session settings: client id, clean session, credentials, will, keep-alive,
    /// in-flight limit.
    pub session: Options,
    /// Reconnection delays (reset after every accepted connection).
    pub backoff: Backoff,
}

impl ClientConfig {
    /// Default back-off (200 ms doubling to 5 s).
    pub fn new(broker: Broker, session: Options) -> Self {
        ClientConfig {
            broker,
            session,
            backoff: Backoff::default(),
        }
    }
}

/// How long [`MqttClient::publish`] waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Until the message is in the session's queue (it goes out when connected).
    Queued,
    /// Until its PUBLISH was written to the socket.
    Written,
    /// Until PUBACK (QoS 1) or PUBCOMP (QoS 2); for QoS 0 until written.
    Acknowledged,
}

/// What the client reports on its notification channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notification {
    /// The broker accepted a connection.
    Connected {
        /// It resumed a stored session.
        session_present: bool,
    },
    /// A connection ended or could not be made; the client retries after a delay.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A message arrived.
    Message(Message),
}

/// A client call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The request itself is invalid (topic, filter, size).
    Request(PublishError),
    /// TLS configuration.
    Tls(String),
    /// The client was shut down before the request completed.
    Closed,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Request(e) => write!(f, "{e}"),
            ClientError::Tls(e) => write!(f, "{e}"),
            ClientError::Closed => f.write_str("the MQTT client is shut down"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<PublishError> for ClientError {
    fn from(e: PublishError) -> Self {
        ClientError::Request(e)
    }
}

impl From<TlsError> for ClientError {
    fn from(e: TlsError) -> Self {
        ClientError::Tls(e.to_string())
    }
}

struct Inner {
    session: Session,
    publish_waiters: HashMap<Token, (Wait, oneshot::Sender<()>)>,
    sub_waiters: HashMap<u16, oneshot::Sender<Vec<SubscribeOutcome>>>,
    unsub_waiters: HashMap<u16, oneshot::Sender<()>>,
    closing: bool,
    notes: mpsc::UnboundedSender<Notification>,
}

impl Inner {
    /// Hands session events to waiters and the notification channel.
    fn dispatch(&mut self) {
        while let Some(e) = self.session.poll_event() {
            match e {
                Event::Connected { session_present } => {
                    let _ = self.notes.send(Notification::Connected { session_present });
                }
                Event::Message(m) => {
                    let _ = self.notes.send(Notification::Message(m));
                }
                Event::Written(t) => {
                    if self
                        .publish_waiters
                        .get(&t)
                        .is_some_and(|(w, _)| *w == Wait::Written)
                        && let Some((_, tx)) = self.publish_waiters.remove(&t)
                    {
                        let _ = tx.send(());
                    }
                }
                Event::Acknowledged(t) => {
                    if let Some((_, tx)) = self.publish_waiters.remove(&t) {
                        let _ = tx.send(());
                    }
                }
                Event::Subscribed {
                    packet_id,
                    outcomes,
                } => {
                    if let Some(tx) = self.sub_waiters.remove(&packet_id) {
                        let _ = tx.send(outcomes);
                    }
                }
                Event::Unsubscribed { packet_id } => {
                    if let Some(tx) = self.unsub_waiters.remove(&packet_id) {
                        let _ = tx.send(());
                    }
                }
            }
        }
    }
}

struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
    epoch: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> Millis {
        self.epoch.elapsed().as_millis() as Millis
    }
}

/// A running MQTT client. Dropping it stops it at once without DISCONNECT (the broker
/// then publishes the will); [`MqttClient::disconnect`] ends it cleanly.
pub struct MqttClient {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for MqttClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttClient")
            .field("client_id", &self.shared.lock().session.options().client_id)
            .finish_non_exhaustive()
    }
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl MqttClient {
    /// Starts connecting (in a tokio task) and returns the client and its notification
    /// channel (messages, connection changes). The channel is unbounded: keep reading
    /// it, or drop it if only publishing.
    pub fn start(
        cfg: ClientConfig,
    ) -> Result<(MqttClient, mpsc::UnboundedReceiver<Notification>), ClientError> {
        let connector = match &cfg.broker {
            Broker::Tls { trust, alpn, .. } => Some(tls::connector_with_alpn(trust, alpn)?),
            Broker::Tcp(_) => None,
        };
        let (notes, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                session: Session::new(cfg.session.clone()),
                publish_waiters: HashMap::new(),
                sub_waiters: HashMap::new(),
                unsub_waiters: HashMap::new(),
                closing: false,
                notes,
            }),
            wake: Notify::new(),
            epoch: Instant::now(),
        });
        let task = tokio::spawn(run(shared.clone(), cfg, connector));
        Ok((
            MqttClient {
                shared,
                task: Some(task),
            },
            rx,
        ))
    }

    /// Publishes a message and waits as `wait` says. Messages keep their order; while
    /// disconnected they wait in the session.
    pub async fn publish(
        &self,
        topic: &str,
        payload: impl AsRef<[u8]>,
        qos: QoS,
        retain: bool,
        wait: Wait,
    ) -> Result<(), ClientError> {
        let rx = {
            let mut g = self.shared.lock();
            if g.closing {
                return Err(ClientError::Closed);
            }
            let token = g.session.publish(topic, payload.as_ref(), qos, retain)?;
            if wait == Wait::Queued {
                None
            } else {
                let (tx, rx) = oneshot::channel();
                g.publish_waiters.insert(token, (wait, tx));
                Some(rx)
            }
        };
        self.shared.wake.notify_one();
        match rx {
            None => Ok(()),
            Some(rx) => rx.await.map_err(|_| ClientError::Closed),
        }
    }

    /// Subscribes and waits for SUBACK: one outcome per filter, in order
    /// ([`SubscribeOutcome::Failed`] for return code 0x80).
    pub async fn subscribe(
        &self,
        filters: &[(&str, QoS)],
    ) -> Result<Vec<SubscribeOutcome>, ClientError> {
        let rx = {
            let mut g = self.shared.lock();
            if g.closing {
                return Err(ClientError::Closed);
            }
            let id = g.session.subscribe(filters)?;
            let (tx, rx) = oneshot::channel();
            g.sub_waiters.insert(id, tx);
            rx
        };
        self.shared.wake.notify_one();
        rx.await.map_err(|_| ClientError::Closed)
    }

    /// Unsubscribes and waits for UNSUBACK.
    pub async fn unsubscribe(&self, filters: &[&str]) -> Result<(), ClientError> {
        let rx = {
            let mut g = self.shared.lock();
            if g.closing {
                return Err(ClientError::Closed);
            }
            let id = g.session.unsubscribe(filters)?;
            let (tx, rx) = oneshot::channel();
            g.unsub_waiters.insert(id, tx);
            rx
        };
        self.shared.wake.notify_one();
        rx.await.map_err(|_| ClientError::Closed)
    }

    /// Connected to the broker now (CONNACK accepted).
    pub fn is_connected(&self) -> bool {
        self.shared.lock().session.is_connected()
    }

    /// Outgoing QoS 1 / 2 messages awaiting acknowledgement, and messages queued
    /// behind them.
    pub fn pending(&self) -> (usize, usize) {
        let g = self.shared.lock();
        (g.session.inflight_len(), g.session.queued_len())
    }

    /// Sends DISCONNECT (the broker discards the will), closes the connection and stops.
    /// Requests still waiting fail with [`ClientError::Closed`].
    pub async fn disconnect(mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.task.take() {
            // A broker that does not read any more must not hold shutdown up.
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// Connects, runs, reconnects until the client closes.
async fn run(shared: Arc<Shared>, cfg: ClientConfig, connector: Option<TlsConnector>) {
    let label = cfg.broker.label().to_string();
    let mut delay = cfg.backoff.initial;
    loop {
        let mut accepted = false;
        let reason = match (&cfg.broker, &connector) {
            (Broker::Tcp(addr), _) => match crate::net::tcp::connect(addr.as_str()).await {
                Ok(s) => drive(&shared, s, &mut accepted).await,
                Err(e) => format!("cannot connect to {label}: {e}"),
            },
            (
                Broker::Tls {
                    addr, server_name, ..
                },
                Some(c),
            ) => match crate::net::tcp::connect(addr.as_str()).await {
                Ok(s) => match tls::connect(c, server_name, s).await {
                    Ok(s) => drive(&shared, s, &mut accepted).await,
                    Err(e) => format!("TLS handshake with {label} failed: {e}"),
                },
                Err(e) => format!("cannot connect to {label}: {e}"),
            },
            (Broker::Tls { .. }, None) => "TLS broker without a TLS connector".to_string(),
        };
        let closing = {
            let mut g = shared.lock();
            g.session.connection_lost();
            if !g.closing {
                let _ = g.notes.send(Notification::Disconnected {
                    reason: reason.clone(),
                });
            }
            g.closing
        };
        if closing {
            break;
        }
        tracing::debug!(broker = %label, "MQTT connection ended: {reason}");
        if accepted {
            delay = cfg.backoff.initial;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = wait_closing(&shared) => break,
        }
        if !accepted {
            delay = (delay * 2).min(cfg.backoff.max);
        }
    }
    // Waiters still pending learn that the client is gone from their dropped senders.
    let mut g = shared.lock();
    g.publish_waiters.clear();
    g.sub_waiters.clear();
    g.unsub_waiters.clear();
}

async fn wait_closing(shared: &Shared) {
    loop {
        if shared.lock().closing {
            return;
        }
        shared.wake.notified().await;
    }
}

/// Runs one connection until it ends; returns why.
async fn drive<S>(shared: &Shared, stream: S, accepted: &mut bool) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    if let Err(e) = shared.lock().session.connect(shared.now()) {
        return e.to_string();
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let (deadline, closing) = {
            let mut g = shared.lock();
            let closing = g.closing;
            if closing {
                g.session.disconnect();
            }
            g.session.poll_transmit(shared.now(), &mut out);
            (g.session.poll_timeout(), closing)
        };
        if !out.is_empty() {
            if let Err(e) = wr.write_all(&out).await {
                return format!("write failed: {e}");
            }
            out.clear();
        }
        {
            // Written / Acknowledged (QoS 0) events are due now that the bytes are out.
            let mut g = shared.lock();
            *accepted |= g.session.is_connected();
            g.dispatch();
        }
        if closing {
            let _ = wr.shutdown().await;
            return "closed by the client".into();
        }
        let sleep = async {
            match deadline {
                Some(d) => {
                    let at = shared.epoch + Duration::from_millis(d);
                    tokio::time::sleep_until(at).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r {
                    Ok(0) => return "the broker closed the connection".into(),
                    Ok(n) => n,
                    Err(e) => return format!("read failed: {e}"),
                };
                let mut g = shared.lock();
                let r = g.session.handle_input(&buf[..n], shared.now());
                g.dispatch();
                if let Err(e) = r {
                    tracing::warn!("MQTT session error: {e}");
                    return e.to_string();
                }
            }
            _ = shared.wake.notified() => {}
            _ = sleep => {
                let mut g = shared.lock();
                if let Err(e) = g.session.handle_timeout(shared.now()) {
                    return e.to_string();
                }
            }
        }
    }
}
