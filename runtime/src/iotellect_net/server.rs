//! The server side: listens for agents over TCP or TLS, starts each link (Start, version
//! and compression negotiation, optionally the `login` challenge), then hands the caller
//! a [`RemoteAgent`] to drive from code.

use std::fmt;
use std::format;
use std::net::SocketAddr;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::vec::Vec;

use ferrocom_wire::datatable::{DataTable, FieldFormat, FieldType, TableFormat, Value};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::link::{CallError, Link, LinkState, drive};
use super::tables::{decode_table, encode_table};
use crate::iotellect::{
    Config, Event, IncomingEvent, ListenerSpec, Millis, Refusal, Session, Version, login_response,
};
use crate::net::tls::{self, TlsError};

/// Events kept per agent until read; more are dropped (with a warning), so a caller
/// that does not read cannot make the server grow without bound.
const EVENT_QUEUE: usize = 1024;

/// Where the server listens.
#[derive(Debug)]
#[non_exhaustive]
pub enum Endpoint {
    /// Plain TCP (agents default to port 6480).
    Tcp(SocketAddr),
    /// TLS (agents default to port 6481).
    Tls {
        /// Address to bind.
        addr: SocketAddr,
        /// Certificate chain (server first).
        cert_chain: Vec<CertificateDer<'static>>,
        /// Its private key.
        key: PrivateKeyDer<'static>,
    },
}

/// How to run the server side.
#[derive(Debug)]
pub struct ServerConfig {
    /// End points.
    pub endpoints: Vec<Endpoint>,
    /// Session settings (versions proposed, keep-alive, limits); `side` is forced to
    /// [`Side::Server`](crate::iotellect::Side::Server).
    pub session: Config,
    /// When set, every agent is called `login` with a random challenge and must answer
    /// the hex MD5 of challenge + this password; agents that fail are disconnected.
    pub password: Option<String>,
    /// Time allowed for a TLS handshake, and for Start and login to complete.
    pub handshake_timeout: Duration,
}

impl ServerConfig {
    /// No end points yet, default session, no login check.
    pub fn new() -> Self {
        ServerConfig {
            endpoints: Vec::new(),
            session: Config::server(),
            password: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::new()
    }
}

/// The server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerError {
    /// Binding a listener.
    Io(std::io::Error),
    /// TLS configuration.
    Tls(TlsError),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Io(e) => write!(f, "{e}"),
            ServerError::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// What an agent told about itself when it answered `login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLogin {
    /// The owner (user) the agent belongs to.
    pub owner: String,
    /// The agent's name.
    pub name: String,
}

/// An event from an agent, its data decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEvent {
    /// Context path.
    pub context: String,
    /// Event name.
    pub event: String,
    /// 0 none … 5 fatal.
    pub level: i32,
    /// Event id.
    pub event_id: String,
    /// Listener code it was sent for (`None`: none or not a number).
    pub listener: Option<i32>,
    /// The data; `Err` with the reason if it did not decode.
    pub data: Result<DataTable, String>,
    /// Creation time, ms since the Unix epoch.
    pub created: i64,
}

/// The per-connection state the server role keeps next to the session.
#[derive(Debug)]
pub(crate) struct ServerSide {
    /// `None` once the link ended, so that the receiver sees the end.
    events: Option<mpsc::Sender<IncomingEvent>>,
    started: Option<oneshot::Sender<()>>,
    peer: String,
}

/// A running server side; dropping it stops listening and drops every agent.
#[derive(Debug)]
pub struct IotellectServer {
    addrs: Vec<SocketAddr>,
    tasks: JoinSet<()>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl IotellectServer {
    /// Binds the end points and starts accepting agents. Each agent that completed Start
    /// (and login, if configured) arrives on the returned channel.
    pub async fn start(
        cfg: ServerConfig,
    ) -> Result<(IotellectServer, mpsc::UnboundedReceiver<RemoteAgent>), ServerError> {
        let (agents_tx, agents_rx) = mpsc::unbounded_channel();
        let mut session = cfg.session;
        session.side = crate::iotellect::Side::Server;
        let shared = Arc::new(Accepting {
            session,
            password: cfg.password,
            handshake_timeout: cfg.handshake_timeout,
            agents: agents_tx,
        });
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let mut tasks = JoinSet::new();
        let mut addrs = Vec::new();
        for ep in cfg.endpoints {
            let (addr, acceptor) = match ep {
                Endpoint::Tcp(addr) => (addr, None),
                Endpoint::Tls {
                    addr,
                    cert_chain,
                    key,
                } => (
                    addr,
                    Some(tls::acceptor(cert_chain, key).map_err(ServerError::Tls)?),
                ),
            };
            let listener = TcpListener::bind(addr).await.map_err(ServerError::Io)?;
            addrs.push(listener.local_addr().map_err(ServerError::Io)?);
            tasks.spawn(accept_loop(
                listener,
                acceptor,
                shared.clone(),
                connections.clone(),
            ));
        }
        Ok((
            IotellectServer {
                addrs,
                tasks,
                connections,
            },
            agents_rx,
        ))
    }

    /// The bound addresses, in end point order (port 0 resolved).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stops listening and drops every connection.
    pub async fn shutdown(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        let mut conns =
            std::mem::take(&mut *self.connections.lock().unwrap_or_else(|p| p.into_inner()));
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

struct Accepting {
    session: Config,
    password: Option<String>,
    handshake_timeout: Duration,
    agents: mpsc::UnboundedSender<RemoteAgent>,
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tls::TlsAcceptor>,
    shared: Arc<Accepting>,
    connections: Arc<Mutex<JoinSet<()>>>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Iotellect accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        let mut set = connections.lock().unwrap_or_else(|p| p.into_inner());
        // Finished connections are reaped here so the set does not grow.
        while set.try_join_next().is_some() {}
        set.spawn(async move {
            let label = peer.to_string();
            match acceptor {
                None => serve(tcp, label, shared).await,
                Some(a) => {
                    match tokio::time::timeout(shared.handshake_timeout, a.accept(tcp)).await {
                        Ok(Ok(s)) => serve(s, label, shared).await,
                        Ok(Err(e)) => tracing::warn!(peer = %label, "TLS handshake failed: {e}"),
                        Err(_) => tracing::warn!(peer = %label, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Runs one agent connection.
async fn serve<S>(stream: S, peer: String, shared: Arc<Accepting>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let (started_tx, started_rx) = oneshot::channel();
    let cfg = shared.session.clone();
    let link = Arc::new(Link::new(
        |now| Session::new(cfg, now),
        ServerSide {
            events: Some(events_tx),
            started: Some(started_tx),
            peer: peer.clone(),
        },
    ));
    let handshake = {
        let link = link.clone();
        let shared = shared.clone();
        let peer = peer.clone();
        async move {
            let r = tokio::time::timeout(shared.handshake_timeout, async {
                started_rx
                    .await
                    .map_err(|_| "the connection ended before Start".to_string())?;
                let login = match &shared.password {
                    Some(pw) => Some(check_login(&link, pw).await?),
                    None => None,
                };
                Ok::<_, String>(login)
            })
            .await;
            match r {
                Ok(Ok(login)) => {
                    let (version, compression) = {
                        let g = link.lock();
                        (g.session.version(), g.session.compression())
                    };
                    tracing::info!(peer = %peer, %version, compression, "Iotellect agent started");
                    let agent = RemoteAgent {
                        link: link.clone(),
                        peer: peer.clone(),
                        version,
                        compression,
                        login,
                        events: events_rx,
                    };
                    if shared.agents.send(agent).is_err() {
                        link.close();
                    }
                }
                Ok(Err(why)) => {
                    tracing::warn!(peer = %peer, "agent refused: {why}");
                    link.close();
                }
                Err(_) => {
                    tracing::warn!(peer = %peer, "agent did not complete Start/login in time");
                    link.close();
                }
            }
        }
    };
    let handshake = tokio::spawn(handshake);
    let why = drive(&link, stream, on_event).await;
    link.lock().ext.events = None;
    tracing::info!(peer = %peer, "Iotellect agent connection ended: {why}");
    handshake.abort();
}

fn on_event(g: &mut LinkState<ServerSide>, e: Event, _now: Millis) {
    match e {
        Event::Started { .. } => {
            if let Some(tx) = g.ext.started.take() {
                let _ = tx.send(());
            }
        }
        Event::Event(ev) => forward_event(&g.ext, ev),
        Event::Request(r) => {
            // Agents do not call the server here; say so rather than leave them waiting.
            let _ = g.session.refuse(
                &r.id,
                &Refusal::denied("this server does not serve operations"),
            );
        }
        Event::Refused { id, reason, .. } => {
            tracing::warn!(peer = %g.ext.peer, id, "refused a message of the agent: {reason}");
        }
        _ => {}
    }
}

/// Queues an agent's event for its `RemoteAgent`; a full queue drops it.
fn forward_event(side: &ServerSide, ev: IncomingEvent) {
    let Some(tx) = &side.events else {
        return;
    };
    if tx.try_send(ev).is_err() {
        tracing::warn!(peer = %side.peer, "agent event dropped: nobody reads them");
    }
}

/// The `login` challenge: a random challenge, the agent's MD5 answer compared.
async fn check_login(link: &Link<ServerSide>, password: &str) -> Result<AgentLogin, String> {
    let challenge = random_challenge()?;
    let version = link.lock().session.version();
    let input = DataTable::new(login_input_format())
        .with_record(std::vec![Value::String(challenge.clone())]);
    let input = encode_table(&input, version, false).map_err(|e| e.to_string())?;
    let params = link
        .request(|s, now| s.call_function("", "login", &input, now))
        .await
        .map_err(|e| format!("login: {e}"))?;
    let out = decode_table(
        params.first().map_or(&[][..], |p| p),
        version,
        Some(&login_output_format()),
    )
    .map_err(|e| format!("login reply: {e}"))?;
    let text = |field: &str| {
        out.get(0, field)
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| format!("login reply without {field}"))
    };
    let response = text("response")?;
    if !response.eq_ignore_ascii_case(&login_response(&challenge, password)) {
        return Err("login: wrong response to the challenge (password mismatch)".into());
    }
    Ok(AgentLogin {
        owner: text("owner")?,
        name: text("name")?,
    })
}

/// `login` input: `<challenge><S>`, one record.
pub(crate) fn login_input_format() -> TableFormat {
    TableFormat::single(FieldFormat::new("challenge", FieldType::String))
}

/// `login` output: owner, name, response, one record.
pub(crate) fn login_output_format() -> TableFormat {
    TableFormat::new(std::vec![
        FieldFormat::new("owner", FieldType::String),
        FieldFormat::new("name", FieldType::String),
        FieldFormat::new("response", FieldType::String),
    ])
    .with_records(1, 1)
}

fn random_challenge() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| "no random numbers for the login challenge".to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One connected agent, driven from code. Dropping it closes the connection.
#[derive(Debug)]
pub struct RemoteAgent {
    link: Arc<Link<ServerSide>>,
    peer: String,
    version: Version,
    compression: bool,
    login: Option<AgentLogin>,
    events: mpsc::Receiver<IncomingEvent>,
}

impl Drop for RemoteAgent {
    fn drop(&mut self) {
        self.link.close();
    }
}

impl RemoteAgent {
    /// The agent's address.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The version Start settled on.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Commands over 128 bytes travel zlib-compressed.
    pub fn compression(&self) -> bool {
        self.compression
    }

    /// Owner and name from `login`, if the server checked it.
    pub fn login(&self) -> Option<&AgentLogin> {
        self.login.as_ref()
    }

    /// Reads a variable. `format`: the variable's format if the agent may leave it
    /// out of its reply (ferrocom agents always send it).
    pub async fn get_variable(
        &self,
        context: &str,
        variable: &str,
        format: Option<&TableFormat>,
    ) -> Result<DataTable, CallError> {
        let params = self
            .link
            .request(|s, now| s.get_variable(context, variable, now))
            .await?;
        decode_table(params.first().map_or(&[][..], |p| p), self.version, format)
            .map_err(|e| CallError::Table(e.to_string()))
    }

    /// Writes a variable (the table is sent with its format).
    pub async fn set_variable(
        &self,
        context: &str,
        variable: &str,
        value: &DataTable,
    ) -> Result<(), CallError> {
        let table =
            encode_table(value, self.version, true).map_err(|e| CallError::Table(e.to_string()))?;
        self.link
            .request(|s, now| s.set_variable(context, variable, &table, None, now))
            .await
            .map(|_| ())
    }

    /// Calls a function; returns its output. `format`: the output's format if the
    /// agent may leave it out.
    pub async fn call_function(
        &self,
        context: &str,
        function: &str,
        input: &DataTable,
        format: Option<&TableFormat>,
    ) -> Result<DataTable, CallError> {
        let input =
            encode_table(input, self.version, true).map_err(|e| CallError::Table(e.to_string()))?;
        let params = self
            .link
            .request(|s, now| s.call_function(context, function, &input, now))
            .await?;
        decode_table(params.first().map_or(&[][..], |p| p), self.version, format)
            .map_err(|e| CallError::Table(e.to_string()))
    }

    /// Subscribes to an event of a context; it then arrives through
    /// [`next_event`](Self::next_event).
    pub async fn add_listener(&self, listener: &ListenerSpec) -> Result<(), CallError> {
        self.link
            .request(|s, now| s.add_listener(listener, now))
            .await
            .map(|_| ())
    }

    /// Ends a subscription.
    pub async fn remove_listener(&self, listener: &ListenerSpec) -> Result<(), CallError> {
        self.link
            .request(|s, now| s.remove_listener(listener, now))
            .await
            .map(|_| ())
    }

    /// The next event from the agent; `None` once the connection has ended and every
    /// event was read. `format`: the data's format if the agent may leave it out.
    pub async fn next_event(&mut self, format: Option<&TableFormat>) -> Option<AgentEvent> {
        let e = tokio::select! {
            biased;
            e = self.events.recv() => e?,
            // The connection task may be gone without closing the channel (a server
            // shut down): what was queued is still read, then the end.
            _ = self.link.wait_closed() => self.events.try_recv().ok()?,
        };
        Some(AgentEvent {
            data: decode_table(&e.data, self.version, format).map_err(|e| e.to_string()),
            listener: e.listener.parse().ok(),
            context: e.context,
            event: e.event,
            level: e.level,
            event_id: e.event_id,
            created: e.created,
        })
    }

    /// Why the connection ended, once it has.
    pub fn closed(&self) -> Option<String> {
        self.link.closed_reason()
    }

    /// Waits until the connection ends; returns why.
    pub async fn wait_closed(&self) -> String {
        self.link.wait_closed().await
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.link.close();
    }
}
