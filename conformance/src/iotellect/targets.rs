//! In-process Iotellect targets for the main job, on the runtime's tokio roles
//! (`ferrocom_runtime::iotellect_net`): `ferrocom-icp-agent` ([`RuntimeIcpAgent`], an
//! [`Agent`] connecting to the suite) and `ferrocom-icp-server` ([`RuntimeIcpServer`],
//! an [`IotellectServer`] on 127.0.0.1:0 that checks `login`).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_runtime::iotellect::Refusal;
use ferrocom_runtime::iotellect_net::{
    Agent, AgentConfig, ConnectTo, Endpoint, Handler, IotellectServer, ServerConfig,
};
use ferrocom_runtime::net::client::Backoff;
use ferrocom_wire::datatable::{DataTable, FieldFormat, FieldType, TableFormat, Value};
use tokio::sync::oneshot;

use crate::case::{CaseSettings, Role};
use crate::targets::{InProcessTarget, StartFuture, Started, TaskGuard};

/// The password of `ferrocom-icp-agent`, and the one `ferrocom-icp-server` expects of
/// agents; the main job gives it to the suite.
pub const ICP_PASSWORD: &str = "conform-icp";
/// The event `ferrocom-icp-agent` fires (root context) every [`EVENT_PERIOD`].
pub const ICP_EVENT: &str = "conformEvent";
/// How often.
pub const EVENT_PERIOD: Duration = Duration::from_millis(100);

/// The handler of `ferrocom-icp-agent`: no variables or functions (so every Get, Set
/// and Call is refused `D`, as the suite's probes expect), one event.
struct ConformAgent;

impl Handler for ConformAgent {
    fn get_variable(&mut self, _context: &str, variable: &str) -> Result<DataTable, Refusal> {
        Err(Refusal::denied(format!(
            "Variable not available: {variable}"
        )))
    }

    fn set_variable(
        &mut self,
        _context: &str,
        variable: &str,
        _value: DataTable,
    ) -> Result<(), Refusal> {
        Err(Refusal::denied(format!(
            "Variable not available: {variable}"
        )))
    }

    fn has_event(&self, context: &str, event: &str) -> bool {
        context.is_empty() && event == ICP_EVENT
    }
}

/// The runtime's Iotellect agent (`ferrocom-icp-agent`, agent `ferroagent` of owner
/// `admin`, password [`ICP_PASSWORD`]) connecting to the suite, reconnecting 50 ms
/// after a drop (back-off up to 500 ms), firing [`ICP_EVENT`] every 100 ms to whatever
/// listeners the suite added.
#[derive(Debug, Clone)]
pub struct RuntimeIcpAgent {
    /// Name in reports.
    pub name: String,
}

impl Default for RuntimeIcpAgent {
    fn default() -> Self {
        RuntimeIcpAgent {
            name: "ferrocom-icp-agent".into(),
        }
    }
}

impl InProcessTarget for RuntimeIcpAgent {
    fn role(&self) -> Role {
        Role::IcpAgent
    }

    fn start(&self, suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let addr =
                suite.ok_or_else(|| io::Error::other("an agent needs the suite's address"))?;
            let mut cfg = AgentConfig::new(
                ConnectTo::Tcp(addr.to_string()),
                "ferroagent",
                "admin",
                ICP_PASSWORD,
            );
            cfg.backoff = Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_millis(500),
            };
            let (agent, notes) = Agent::start(cfg, ConformAgent).map_err(io::Error::other)?;
            // Nobody reads the notifications; the cases look at the wire.
            drop(notes);
            let (stop, mut stopped) = oneshot::channel::<()>();
            tokio::spawn(async move {
                let format = TableFormat::single(FieldFormat::new("counter", FieldType::Integer));
                let mut n = 0i32;
                let mut tick = tokio::time::interval(EVENT_PERIOD);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            n = n.wrapping_add(1);
                            let data = DataTable::new(format.clone())
                                .with_record(vec![Value::Integer(n)]);
                            let _ = agent.fire_event("", ICP_EVENT, 1, &data);
                        }
                        _ = &mut stopped => break,
                    }
                }
                agent.shutdown().await;
            });
            Ok(Started {
                addr,
                role: Role::IcpAgent,
                name: self.name.clone(),
                guard: TaskGuard::default().stop_with(stop),
            })
        })
    }

    fn adjust(&self, settings: &mut CaseSettings) {
        settings.icp_password = Some(ICP_PASSWORD.into());
        settings.icp_event = Some((String::new(), ICP_EVENT.into()));
    }
}

/// The runtime's Iotellect server side (`ferrocom-icp-server`) on 127.0.0.1:0,
/// calling `login` on every agent with password [`ICP_PASSWORD`]. Each agent that
/// completes Start and login is then sent a Set of `conformText` whose table (with its
/// format) is over 128 bytes, so that the compression case sees a long command of the
/// server's; the suite's agent refuses it.
#[derive(Debug, Clone)]
pub struct RuntimeIcpServer {
    /// Name in reports.
    pub name: String,
}

impl Default for RuntimeIcpServer {
    fn default() -> Self {
        RuntimeIcpServer {
            name: "ferrocom-icp-server".into(),
        }
    }
}

impl InProcessTarget for RuntimeIcpServer {
    fn role(&self) -> Role {
        Role::IcpServer
    }

    fn start(&self, _suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let mut cfg = ServerConfig::new();
            cfg.endpoints
                .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
            cfg.password = Some(ICP_PASSWORD.into());
            let (server, mut agents) = IotellectServer::start(cfg)
                .await
                .map_err(io::Error::other)?;
            let Some(addr) = server.local_addrs().first().copied() else {
                return Err(io::Error::other("the server reports no bound address"));
            };
            let (stop, mut stopped) = oneshot::channel::<()>();
            tokio::spawn(async move {
                let text = DataTable::new(TableFormat::single(FieldFormat::new(
                    "text",
                    FieldType::String,
                )))
                .with_record(vec![Value::String("conformance ".repeat(12))]);
                loop {
                    tokio::select! {
                        a = agents.recv() => match a {
                            Some(agent) => {
                                let text = text.clone();
                                tokio::spawn(async move {
                                    let _ = agent.set_variable("", "conformText", &text).await;
                                    agent.wait_closed().await;
                                });
                            }
                            None => break,
                        },
                        _ = &mut stopped => break,
                    }
                }
                server.shutdown().await;
            });
            Ok(Started {
                addr,
                role: Role::IcpServer,
                name: self.name.clone(),
                guard: TaskGuard::default().stop_with(stop),
            })
        })
    }

    fn adjust(&self, settings: &mut CaseSettings) {
        settings.icp_password = Some(ICP_PASSWORD.into());
    }
}
