//! Iotellect (AggreGate) command protocol cases (reference
//! `shared/reference/iotellect.md`, clauses in `manifest/iotellect.toml`): the suite as
//! a server against agents ([`agent_cases`], role `icp-agent`) and as an agent against
//! servers ([`server_cases`], role `icp-server`). Frames and commands are built and read
//! by the generated codec `ferrocom_wire::iotellect`; only deliberately malformed input
//! is put together by hand.

pub mod agent_cases;
pub mod link;
pub mod server_cases;
pub mod session;
pub mod targets;
