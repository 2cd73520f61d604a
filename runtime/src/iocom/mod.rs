//! The sans-I/O IOCOM connection engine (reference `iocom-wire.md` §3–§12, §19–§20).
//!
//! ```text
//!            bytes from the peer            bytes to the peer
//!                  │                               ▲
//!   handle_input(root, &[u8], now)   poll_transmit(root, now, &mut Vec<u8>)
//!                  ▼                               │
//!        ┌───────────────────────── Connection ──────────────────────────┐
//!        │ socket handshake | serial link (§8) → frames (§4) → flow (§6) │
//!        │ auth (§9) → mbinfo/binding (§10) → source/target buffers (§11)│
//!        └───────────────────────────────────────────────────────────────┘
//!      poll_timeout() / handle_timeout(root, now)      poll_event()
//!                  shared by all connections: Root (identity, memory blocks, bindings)
//! ```
//!
//! Time is a caller-supplied [`Millis`] count; the engine never reads a clock. One
//! [`Root`] is shared by all connections of a process; the application writes blocks with
//! [`Root::write`] and publishes a snapshot with [`Root::send`].
//!
//! The state lives in a [`Storage`]: the [`Heap`] (the default: a server, any number of
//! connections and dynamic blocks) or [`Fixed`] memory given by the caller (a device with
//! a signal map known at build time, no allocator needed). It is the same engine either
//! way.

mod auth;
mod block;
mod connection;
mod error;
mod event;
mod flow;
mod frame;
mod numbering;
mod root;
mod serial_link;
mod source;
mod storage;
mod target;

#[cfg(feature = "alloc")]
pub use auth::hash_password;
pub use auth::{AuthDecision, AuthRequest, Authorizer};
pub use block::{BlockId, MemoryBlock};
pub use connection::{Connection, ConnectionConfig, ConnectionId, Transport, binding_bytes};
pub use error::ConnectionError;
pub use event::{BindDirection, Event};
/// Flag types of the wire format used in this API (from the generated codec).
pub use ferrocom_wire::iocom::{AuthFlags, BlockFlags};
pub use flow::Params;
pub use numbering::DeviceNumbers;
#[cfg(feature = "alloc")]
pub use numbering::MemoryNumbers;
pub use root::{BlockOf, ConnSlot, Identity, Root};
#[cfg(feature = "alloc")]
pub use storage::Heap;
pub use storage::{
    DefaultBytes, DefaultPassword, DefaultStorage, DefaultText, Fixed, FixedDeque, FixedStr,
    FixedVec, List, Queue, Storage, Text,
};

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// Device number meaning "automatic" (§9.5): a device configured with `*` uses it
/// internally and in its mbinfo frames.
pub const AUTO_DEVICE_NR: u32 = 9000;
/// Device number a server writes in mbinfo frames "to the automatically numbered device".
pub const TO_AUTO_DEVICE_NR: u32 = 8999;
