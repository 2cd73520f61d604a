//! The switchbox (reference §17): a cloud relay that lets remote devices and UIs reach
//! an IO network service inside a local network. The service keeps one outgoing TLS
//! connection to the switchbox and publishes its IO network name; clients connect to the
//! switchbox with the ordinary IOCOM handshake naming that network, and their byte
//! streams travel unchanged, multiplexed over the service's connection.
//!
//! * [`mux`] and [`hello`]: the sans-I/O parts (message decoder and encoders, the
//!   service handshake and the switchbox authentication frame), `no_std` + `alloc`.
//! * `relay` (feature `tokio`): the switchbox itself ([`Switchbox::start`]).
//! * `service` (feature `tokio`): the service end, used by the server role as one more
//!   end point ([`crate::server::Endpoint::Switchbox`]); every relayed client becomes an
//!   ordinary server connection.
//! * `accounts` (feature `tokio`): the switchbox's service accounts in SQLite.
//!
//! Design, CLI usage and sharding: `runtime/SWITCHBOX.md`.

pub mod hello;
pub mod mux;

#[cfg(feature = "tokio")]
mod accounts;
#[cfg(feature = "tokio")]
mod relay;
#[cfg(feature = "tokio")]
mod service;

#[cfg(feature = "tokio")]
pub use accounts::{ServiceAccount, ServiceStore};
#[cfg(feature = "tokio")]
pub use relay::{
    DEFAULT_SWITCHBOX_PORT, NetworkStatus, Switchbox, SwitchboxConfig, SwitchboxError,
    SwitchboxHandle,
};
#[cfg(feature = "tokio")]
pub(crate) use service::run_link;
#[cfg(feature = "tokio")]
pub use service::{MuxStream, SwitchboxLink};
