//! The Iotellect roles over tokio (features `iotellect` and `tokio`): the [`Agent`]
//! (device side, connects out, serves variables, functions and events through a
//! [`Handler`]), the server side that drives agents from code ([`IotellectServer`],
//! [`RemoteAgent`]), and [`SignalAgent`], which serves the signals of a device known to
//! a ferrocom IOCOM server. All of them run the sans-I/O
//! [`Session`](crate::iotellect::Session) over TCP or TLS (rustls); tables are
//! `ferrocom_wire::datatable` values, encoded for the version each link negotiated.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::net::SocketAddr;
//! use ferrocom_runtime::iotellect::ListenerSpec;
//! use ferrocom_runtime::iotellect_net::{Endpoint, IotellectServer, ServerConfig};
//!
//! let mut cfg = ServerConfig::new();
//! cfg.endpoints.push(Endpoint::Tcp(SocketAddr::from(([0, 0, 0, 0], 6480))));
//! cfg.password = Some("secret".into()); // agents must answer the login challenge
//! let (server, mut agents) = IotellectServer::start(cfg).await?;
//! while let Some(mut agent) = agents.recv().await {
//!     let t = agent.get_variable("exp", "potentiometer", None).await?;
//!     println!("{:?}", t.get(0, "value"));
//!     agent
//!         .add_listener(&ListenerSpec {
//!             context: "exp".into(),
//!             event: "potentiometer".into(),
//!             listener: Some(1),
//!             filter: None,
//!             fingerprint: None,
//!         })
//!         .await?;
//!     while let Some(e) = agent.next_event(None).await {
//!         println!("{} {:?}", e.event, e.data);
//!     }
//! }
//! # drop(server);
//! # Ok(()) }
//! ```

mod agent;
mod link;
mod server;
mod signals;
mod tables;

pub use agent::{Agent, AgentConfig, AgentError, AgentNote, ConnectTo, Handler};
pub use link::CallError;
pub use server::{
    AgentEvent, AgentLogin, Endpoint, IotellectServer, RemoteAgent, ServerConfig, ServerError,
};
pub use signals::{
    DeviceSignals, SignalAgent, field_type, signal_format, signal_table, table_value,
};
