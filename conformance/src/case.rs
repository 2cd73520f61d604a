//! Cases, roles, verdicts and the per-case context.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::peer::{Endpoint, Peer, PeerError, WireLog};

/// The role of the implementation under test; the suite plays the opposite one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An IOCOM server (the suite acts as a device connecting to it).
    Server,
    /// An IOCOM device (the suite acts as a server; the device connects to the suite).
    Device,
    /// An MQTT 3.1.1 broker (the suite acts as clients).
    Broker,
    /// A switchbox (the suite acts as an IO network service and as clients).
    Switchbox,
    /// An MQTT 3.1.1 client (the suite acts as the broker; the client connects to the
    /// suite).
    Client,
    /// An Iotellect agent (the suite acts as the server; the agent connects to the
    /// suite, by default on port 6480, 6481 with TLS).
    #[serde(rename = "icp-agent")]
    IcpAgent,
    /// An Iotellect server (the suite connects to it as an agent; default ports 6480,
    /// 6481 with TLS).
    #[serde(rename = "icp-server")]
    IcpServer,
}

impl Role {
    /// The target connects to the suite (it listens), rather than the other way round.
    pub fn connects_to_suite(self) -> bool {
        matches!(self, Role::Device | Role::Client | Role::IcpAgent)
    }

    /// The protocol's default port for a target address given without one, plain and
    /// TLS (Iotellect: 6480 / 6481).
    pub fn default_port(self, tls: bool) -> Option<u16> {
        match self {
            Role::IcpAgent | Role::IcpServer => Some(if tls { 6481 } else { 6480 }),
            _ => None,
        }
    }

    /// Its cases run one after the other: a device, client or Iotellect agent under
    /// test has one connection at a time, and on a switchbox one IO network is
    /// published by one service at a time (every switchbox case publishes the same
    /// network).
    pub fn one_case_at_a_time(self) -> bool {
        matches!(
            self,
            Role::Device | Role::Client | Role::Switchbox | Role::IcpAgent
        )
    }
}

impl Role {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Device => "device",
            Role::Broker => "broker",
            Role::Switchbox => "switchbox",
            Role::Client => "client",
            Role::IcpAgent => "icp-agent",
            Role::IcpServer => "icp-server",
        }
    }

    /// Parses a command-line role name.
    pub fn parse(s: &str) -> Option<Role> {
        [
            Role::Server,
            Role::Device,
            Role::Broker,
            Role::Switchbox,
            Role::Client,
            Role::IcpAgent,
            Role::IcpServer,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Normal behaviour or malformed input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The target is driven the way the protocol intends.
    Normal,
    /// The target receives input that breaks a rule; it must drop that connection and
    /// keep serving others.
    Malformed,
}

/// The result of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The target did what the clause requires.
    Pass,
    /// The target stayed within the protocol but did not behave like the reference
    /// implementation (e.g. no ACK first after a reset).
    NonStrict,
    /// The target violated the clause.
    Fail,
    /// The target does not offer what the case needs (e.g. no reflection of the
    /// conformance device map); not a failure.
    Unsupported,
    /// The case observes and reports but does not judge.
    Informational,
}

impl Verdict {
    /// Name as in the reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NonStrict => "non-strict",
            Verdict::Fail => "fail",
            Verdict::Unsupported => "unsupported",
            Verdict::Informational => "informational",
        }
    }

    /// All verdicts, in report order.
    pub const ALL: [Verdict; 5] = [
        Verdict::Pass,
        Verdict::NonStrict,
        Verdict::Fail,
        Verdict::Unsupported,
        Verdict::Informational,
    ];
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a case found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// One line for humans.
    pub message: String,
    /// For `fail` / `non-strict`: the clauses the target violated (a subset of the
    /// case's clauses; empty = all of them).
    pub violated: Vec<&'static str>,
}

impl Outcome {
    /// A pass.
    pub fn pass(message: impl Into<String>) -> Self {
        Self::new(Verdict::Pass, message, &[])
    }

    /// A failure of the given clauses.
    pub fn fail(clauses: &[&'static str], message: impl Into<String>) -> Self {
        Self::new(Verdict::Fail, message, clauses)
    }

    /// Within the protocol but unlike the reference implementation.
    pub fn non_strict(clauses: &[&'static str], message: impl Into<String>) -> Self {
        Self::new(Verdict::NonStrict, message, clauses)
    }

    /// The target does not support what the case needs.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(Verdict::Unsupported, message, &[])
    }

    /// Observation only.
    pub fn info(message: impl Into<String>) -> Self {
        Self::new(Verdict::Informational, message, &[])
    }

    fn new(verdict: Verdict, message: impl Into<String>, clauses: &[&'static str]) -> Self {
        Outcome {
            verdict,
            message: message.into(),
            violated: clauses.to_vec(),
        }
    }
}

/// A failed check inside a case, turned into an [`Outcome`] by `?`.
#[derive(Debug)]
pub struct Failure(pub Outcome);

impl From<Outcome> for Failure {
    fn from(o: Outcome) -> Self {
        Failure(o)
    }
}

/// What the run function of a case returns.
pub type CaseResult = Result<Outcome, Failure>;

/// The future of a running case.
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// A numbered conformance case.
#[derive(Clone, Copy)]
pub struct Case {
    /// Stable id: `<primary clause>#<role letter><n>`, e.g. `IOCOM-5-3#s1`.
    pub id: &'static str,
    /// The clauses the case checks (the first is the primary one).
    pub clauses: &'static [&'static str],
    /// Role of the target.
    pub role: Role,
    /// One line.
    pub title: &'static str,
    /// Normal or malformed input.
    pub kind: Kind,
    /// Takes longer than a few seconds (protocol timers); started first.
    pub slow: bool,
    /// Runs the case.
    pub run: fn(Ctx) -> CaseFuture,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("clauses", &self.clauses)
            .field("role", &self.role)
            .field("kind", &self.kind)
            .finish()
    }
}

/// Settings a case may need besides the endpoint.
#[derive(Debug, Clone)]
pub struct CaseSettings {
    /// IO network name the suite uses (handshake, authentication, mbinfo).
    pub network: String,
    /// How long to wait for an expected reaction of the target.
    pub reply_timeout: Duration,
    /// Password of the suite's device (sent over TLS only; empty = none).
    pub password: String,
    /// An account the server under test holds (device name, password), for the TLS
    /// authorization cases; `None` makes them `unsupported`.
    pub account: Option<(String, String)>,
    /// Iotellect: the password of the agent under test (its `login` answer is checked
    /// against it), or the password the server under test expects of agents (the
    /// suite's agent answers `login` with it); `None` makes the login cases
    /// `unsupported`.
    pub icp_password: Option<String>,
    /// Iotellect: an event the agent under test offers and fires (context path, event
    /// name), for the listener case; `None` makes it `unsupported`.
    pub icp_event: Option<(String, String)>,
}

impl Default for CaseSettings {
    fn default() -> Self {
        CaseSettings {
            network: "cafenet".into(),
            reply_timeout: Duration::from_secs(3),
            password: String::new(),
            account: None,
            icp_password: None,
            icp_event: None,
        }
    }
}

/// Everything a running case has: where the target is, the wire log, settings.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) log: WireLog,
    pub(crate) settings: Arc<CaseSettings>,
}

impl Ctx {
    /// Opens a new connection to the target (connects to a server/broker/switchbox,
    /// accepts the next connection of a device).
    pub async fn open(&self) -> Result<Peer, PeerError> {
        Peer::open(&self.endpoint, self.log.clone()).await
    }

    /// `true` when the connections to the target use TLS.
    pub fn is_tls(&self) -> bool {
        self.endpoint.is_tls()
    }

    /// The wire log of this case.
    pub fn log(&self) -> &WireLog {
        &self.log
    }

    /// Settings.
    pub fn settings(&self) -> &CaseSettings {
        &self.settings
    }

    /// Adds a note to the wire log.
    pub fn note(&self, text: impl Into<String>) {
        self.log.note(text);
    }
}
