//! The agent (device side): connects to an Iotellect server, answers Start, serves
//! variables and functions through a [`Handler`], answers the `login` challenge, keeps
//! the server's listeners and sends them events; reconnects with back-off.

use std::boxed::Box;
use std::collections::BTreeSet;
use std::fmt;
use std::format;
use std::string::{String, ToString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::vec::Vec;

use ferrocom_wire::datatable::{DataTable, TableFormat, Value};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::link::{Link, LinkState, drive};
use super::server::{login_input_format, login_output_format};
use super::tables::{decode_table, encode_table};
use crate::iotellect::{
    Config, Event, ListenerSpec, Millis, Operation, OutgoingEvent, Refusal, Request, Session, Side,
    Version, login_response,
};
use crate::net::client::Backoff;
use crate::net::tls::{self, TlsConnector, TlsError, Trust};

/// Listeners one connection may hold; more are refused with `E`.
const MAX_LISTENERS: usize = 1024;

/// Where the Iotellect server is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectTo {
    /// Plain TCP, `host:port` (the server's agent port is 6480 by default).
    Tcp(String),
    /// TLS, `host:port` (6481 by default).
    Tls {
        /// `host:port`.
        addr: String,
        /// DNS name or IP address checked against the server's certificate.
        server_name: String,
        /// Which certificates to accept.
        trust: Trust,
    },
}

impl ConnectTo {
    /// What log lines call the server.
    pub fn label(&self) -> &str {
        match self {
            ConnectTo::Tcp(a) | ConnectTo::Tls { addr: a, .. } => a,
        }
    }
}

/// How to run an agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The server.
    pub connect: ConnectTo,
    /// The agent's name (reported by `login`).
    pub name: String,
    /// The user the agent belongs to (reported by `login`).
    pub owner: String,
    /// The password the `login` answer proves.
    pub password: String,
    /// Session settings; `side` is forced to [`Side::Agent`].
    pub session: Config,
    /// Reconnection delays (reset after a connection that got started).
    pub backoff: Backoff,
}

impl AgentConfig {
    /// An agent `name` of `owner` with `password`, default session and back-off.
    pub fn new(connect: ConnectTo, name: &str, owner: &str, password: &str) -> Self {
        AgentConfig {
            connect,
            name: name.into(),
            owner: owner.into(),
            password: password.into(),
            session: Config::agent(),
            backoff: Backoff::default(),
        }
    }
}

/// What the agent serves: its variables, functions and events. Called while a request
/// is being answered, so keep it quick (no blocking I/O).
///
/// Refuse with [`Refusal::denied`] for what does not exist (the SDK says `D`,
/// "Variable not available: name") and [`Refusal::error`] for what failed.
pub trait Handler: Send + 'static {
    /// A variable's value. It is sent with its format.
    fn get_variable(&mut self, context: &str, variable: &str) -> Result<DataTable, Refusal>;

    /// Writes a variable.
    fn set_variable(
        &mut self,
        context: &str,
        variable: &str,
        value: DataTable,
    ) -> Result<(), Refusal>;

    /// Calls a function (`login` at the root context is answered by the agent itself).
    fn call_function(
        &mut self,
        context: &str,
        function: &str,
        input: DataTable,
    ) -> Result<DataTable, Refusal> {
        let _ = (context, input);
        Err(Refusal::denied(format!(
            "Function not available: {function}"
        )))
    }

    /// A variable's format, used to read a value sent without it.
    fn variable_format(&self, context: &str, variable: &str) -> Option<TableFormat> {
        let _ = (context, variable);
        None
    }

    /// A function's input format, used to read an input sent without it.
    fn function_input_format(&self, context: &str, function: &str) -> Option<TableFormat> {
        let _ = (context, function);
        None
    }

    /// Whether a listener may be added for this event.
    fn has_event(&self, context: &str, event: &str) -> bool {
        let _ = (context, event);
        true
    }
}

/// What an agent reports on its notification channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentNote {
    /// The server started the session.
    Started {
        /// Negotiated version.
        version: Version,
        /// Compression in use.
        compression: bool,
    },
    /// The connection ended or could not be made; the agent retries after a delay.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The server added a listener.
    ListenerAdded(ListenerSpec),
    /// The server removed a listener.
    ListenerRemoved(ListenerSpec),
}

/// An agent could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentError {
    /// TLS configuration.
    Tls(TlsError),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AgentError {}

struct Shared {
    cfg: AgentConfig,
    handler: Mutex<Box<dyn Handler>>,
    link: Mutex<Option<Arc<Link<AgentSide>>>>,
    notes: mpsc::UnboundedSender<AgentNote>,
    closing: Mutex<bool>,
    wake: Notify,
    next_event_id: AtomicU64,
}

impl Shared {
    fn handler(&self) -> MutexGuard<'_, Box<dyn Handler>> {
        self.handler.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn current(&self) -> Option<Arc<Link<AgentSide>>> {
        self.link.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn closing(&self) -> bool {
        *self.closing.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the agent role keeps next to each connection's session.
pub(crate) struct AgentSide {
    shared: Arc<Shared>,
    listeners: BTreeSet<ListenerSpec>,
    /// The server started this connection (the back-off starts over after it).
    started: bool,
}

impl fmt::Debug for AgentSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentSide")
            .field("listeners", &self.listeners)
            .finish_non_exhaustive()
    }
}

/// A running agent. Dropping it stops it at once; [`Agent::shutdown`] closes the
/// connection first.
pub struct Agent {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("name", &self.shared.cfg.name)
            .field("server", &self.shared.cfg.connect.label())
            .finish_non_exhaustive()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Agent {
    /// Starts connecting (in a tokio task); returns the agent and its notification
    /// channel (unbounded: read it, or drop it).
    pub fn start(
        mut cfg: AgentConfig,
        handler: impl Handler,
    ) -> Result<(Agent, mpsc::UnboundedReceiver<AgentNote>), AgentError> {
        cfg.session.side = Side::Agent;
        let connector = match &cfg.connect {
            ConnectTo::Tls { trust, .. } => Some(tls::connector(trust).map_err(AgentError::Tls)?),
            ConnectTo::Tcp(_) => None,
        };
        let (notes, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            cfg,
            handler: Mutex::new(Box::new(handler)),
            link: Mutex::new(None),
            notes,
            closing: Mutex::new(false),
            wake: Notify::new(),
            next_event_id: AtomicU64::new(1),
        });
        let task = tokio::spawn(run(shared.clone(), connector));
        Ok((
            Agent {
                shared,
                task: Some(task),
            },
            rx,
        ))
    }

    /// Sends an event to every listener the server added for `(context, event)`;
    /// returns how many it went to (0 while disconnected or unheard). `data` is sent
    /// with its format.
    pub fn fire_event(
        &self,
        context: &str,
        event: &str,
        level: i32,
        data: &DataTable,
    ) -> Result<usize, String> {
        let Some(link) = self.shared.current() else {
            return Ok(0);
        };
        let created = unix_ms();
        let event_id = self
            .shared
            .next_event_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        let sent = {
            let mut g = link.lock();
            if !g.session.is_started() {
                return Ok(0);
            }
            let codes: Vec<String> = g
                .ext
                .listeners
                .iter()
                .filter(|l| l.context == context && l.event == event)
                .map(|l| l.listener.map(|c| c.to_string()).unwrap_or_default())
                .collect();
            if codes.is_empty() {
                return Ok(0);
            }
            let bytes = encode_table(data, g.session.version(), true).map_err(|e| e.to_string())?;
            for code in &codes {
                g.session
                    .send_event(&OutgoingEvent {
                        context,
                        event,
                        level,
                        event_id: &event_id,
                        listener: code,
                        data: &bytes,
                        created,
                        server_id: None,
                    })
                    .map_err(|e| e.to_string())?;
            }
            codes.len()
        };
        link.flush();
        Ok(sent)
    }

    /// The listeners the server holds on the current connection.
    pub fn listeners(&self) -> Vec<ListenerSpec> {
        self.shared
            .current()
            .map(|l| l.lock().ext.listeners.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Started by a server now.
    pub fn is_started(&self) -> bool {
        self.shared
            .current()
            .is_some_and(|l| l.lock().session.is_started())
    }

    /// Closes the connection and stops.
    pub async fn shutdown(mut self) {
        *self
            .shared
            .closing
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        if let Some(l) = self.shared.current() {
            l.close();
        }
        self.shared.wake.notify_one();
        if let Some(t) = self.task.take() {
            // A connection attempt that hangs must not hold shutdown up.
            let abort = t.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Connects, runs, reconnects until shut down.
async fn run(shared: Arc<Shared>, connector: Option<TlsConnector>) {
    let label = shared.cfg.connect.label().to_string();
    let backoff = shared.cfg.backoff;
    let mut delay = backoff.initial;
    loop {
        let cfg = shared.cfg.session.clone();
        let link = Arc::new(Link::new(
            |now| Session::new(cfg, now),
            AgentSide {
                shared: shared.clone(),
                listeners: BTreeSet::new(),
                started: false,
            },
        ));
        *shared.link.lock().unwrap_or_else(|p| p.into_inner()) = Some(link.clone());
        let reason = match (&shared.cfg.connect, &connector) {
            (ConnectTo::Tcp(addr), _) => match crate::net::tcp::connect(addr.as_str()).await {
                Ok(s) => drive(&link, s, on_event).await,
                Err(e) => format!("cannot connect to {label}: {e}"),
            },
            (
                ConnectTo::Tls {
                    addr, server_name, ..
                },
                Some(c),
            ) => match crate::net::tcp::connect(addr.as_str()).await {
                Ok(s) => match tls::connect(c, server_name, s).await {
                    Ok(s) => drive(&link, s, on_event).await,
                    Err(e) => format!("TLS handshake with {label} failed: {e}"),
                },
                Err(e) => format!("cannot connect to {label}: {e}"),
            },
            (ConnectTo::Tls { .. }, None) => "TLS server without a TLS connector".to_string(),
        };
        let started = link.lock().ext.started;
        *shared.link.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if shared.closing() {
            return;
        }
        tracing::info!(server = %label, "Iotellect connection ended: {reason}");
        let _ = shared.notes.send(AgentNote::Disconnected { reason });
        if started {
            delay = backoff.initial;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shared.wake.notified() => {}
        }
        if shared.closing() {
            return;
        }
        if !started {
            delay = (delay * 2).min(backoff.max);
        }
    }
}

fn on_event(g: &mut LinkState<AgentSide>, e: Event, _now: Millis) {
    match e {
        Event::Started {
            version,
            compression,
        } => {
            tracing::info!(%version, compression, "Iotellect session started");
            g.ext.started = true;
            let _ = g.ext.shared.notes.send(AgentNote::Started {
                version,
                compression,
            });
        }
        Event::Request(r) => answer(g, r),
        Event::Refused { id, reason, .. } => {
            tracing::warn!(id, "refused a message of the server: {reason}");
        }
        _ => {}
    }
}

/// Answers one request of the server.
fn answer(g: &mut LinkState<AgentSide>, r: Request) {
    let version = g.session.version();
    let shared = g.ext.shared.clone();
    let result: Result<Option<Vec<u8>>, Refusal> = match r.operation {
        Operation::GetVariable { context, variable } => shared
            .handler()
            .get_variable(&context, &variable)
            .and_then(|t| {
                encode_table(&t, version, true)
                    .map(Some)
                    .map_err(|e| Refusal::error(e.to_string()))
            }),
        Operation::SetVariable {
            context,
            variable,
            table,
            ..
        } => {
            let mut h = shared.handler();
            let known = h.variable_format(&context, &variable);
            match decode_table(&table, version, known.as_ref()) {
                Ok(t) => h.set_variable(&context, &variable, t).map(|()| None),
                Err(e) => Err(Refusal::error(format!("bad value for {variable}: {e}"))),
            }
        }
        Operation::CallFunction {
            context,
            function,
            input,
            ..
        } if context.is_empty() && function == "login" => login(&shared.cfg, &input, version),
        Operation::CallFunction {
            context,
            function,
            input,
            ..
        } => {
            let mut h = shared.handler();
            let known = h.function_input_format(&context, &function);
            match decode_table(&input, version, known.as_ref()) {
                Ok(t) => h.call_function(&context, &function, t).and_then(|out| {
                    encode_table(&out, version, true)
                        .map(Some)
                        .map_err(|e| Refusal::error(e.to_string()))
                }),
                Err(e) => Err(Refusal::error(format!("bad input for {function}: {e}"))),
            }
        }
        Operation::AddListener(spec) => {
            if !shared.handler().has_event(&spec.context, &spec.event) {
                Err(Refusal::denied(format!(
                    "Event not available: {}",
                    spec.event
                )))
            } else if g.ext.listeners.len() >= MAX_LISTENERS && !g.ext.listeners.contains(&spec) {
                Err(Refusal::error(format!(
                    "more than {MAX_LISTENERS} listeners"
                )))
            } else {
                g.ext.listeners.insert(spec.clone());
                let _ = shared.notes.send(AgentNote::ListenerAdded(spec));
                Ok(None)
            }
        }
        Operation::RemoveListener(spec) => {
            // Filter and fingerprint may differ from the add; context, event and code
            // name the listener.
            let before = g.ext.listeners.len();
            g.ext.listeners.retain(|l| {
                !(l.context == spec.context && l.event == spec.event && l.listener == spec.listener)
            });
            if g.ext.listeners.len() != before {
                let _ = shared.notes.send(AgentNote::ListenerRemoved(spec));
            }
            Ok(None)
        }
    };
    let sent = match result {
        Ok(Some(table)) => g.session.reply(&r.id, &[&table]),
        Ok(None) => g.session.reply(&r.id, &[]),
        Err(refusal) => g.session.refuse(&r.id, &refusal),
    };
    if let Err(e) = sent {
        tracing::warn!(id = r.id, "cannot answer the server: {e}");
    }
}

/// The `login` challenge: upper-case hex MD5 of challenge + password, with owner and
/// name, sent without its format as the SDK's agent does.
fn login(cfg: &AgentConfig, input: &[u8], version: Version) -> Result<Option<Vec<u8>>, Refusal> {
    let input = decode_table(input, version, Some(&login_input_format()))
        .map_err(|e| Refusal::error(format!("bad login input: {e}")))?;
    let challenge = input
        .get(0, "challenge")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::error("login input without a challenge"))?;
    let out = DataTable::new(login_output_format()).with_record(std::vec![
        Value::String(cfg.owner.clone()),
        Value::String(cfg.name.clone()),
        Value::String(login_response(challenge, &cfg.password)),
    ]);
    encode_table(&out, version, false)
        .map(Some)
        .map_err(|e| Refusal::error(e.to_string()))
}
