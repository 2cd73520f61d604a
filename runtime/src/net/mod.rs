//! tokio adapters: one IOCOM [`Connection`](crate::iocom::Connection) driven over any
//! byte stream ([`driver`]), and the transports that produce those streams: TCP
//! ([`tcp`]), TLS with rustls ([`tls`]) and serial lines with tokio-serial ([`serial`]);
//! the connecting end's reconnect loop ([`client`]).

pub mod client;
pub mod driver;
pub mod serial;
pub mod tcp;
pub mod tls;

pub use driver::{DriveEnd, Host, drive};
