//! Events the engine reports to its caller.

use core::ops::Range;

use ferrocom_wire::iocom::AuthFlags;

use super::{BlockId, ConnectionError};

/// Which way a binding carries data on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindDirection {
    /// This end sends the block (source buffer).
    Source,
    /// This end receives the block (target buffer).
    Target,
}

/// Something the caller may want to know; drain with `Connection::poll_event`.
///
/// `T` is how names are held: `String` on the [`Heap`](super::Heap), a
/// [`FixedStr`](super::FixedStr) in [`Fixed`](super::Fixed) storage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<T = super::DefaultText> {
    /// The transport is up: socket handshake done or serial link procedure finished;
    /// counters are reset (§8.4). `network` is the client's handshake network name
    /// (server side of a socket).
    Connected {
        /// Network name from the client handshake, if any.
        network: Option<T>,
    },
    /// The peer's authentication frame was accepted (§9).
    PeerAuthenticated {
        /// User (device) name.
        user: T,
        /// Device number as sent (0 = none or automatic).
        device_nr: u32,
        /// Network name.
        network: T,
        /// Authentication flags.
        flags: AuthFlags,
        /// 12-byte unique id, if sent.
        unique_id: Option<[u8; 12]>,
    },
    /// A device number was assigned to an automatically numbered peer (§9.5). Persist the
    /// mapping if `unique_id` is set (see [`DeviceNumbers`](super::DeviceNumbers)).
    DeviceNumberAssigned {
        /// The peer's unique id, if it sent one.
        unique_id: Option<[u8; 12]>,
        /// The number now used for the peer's blocks.
        device_nr: u32,
    },
    /// A block was created dynamically from the peer's mbinfo (§10.4).
    BlockCreated {
        /// Its local id.
        block: BlockId,
    },
    /// A block was bound on this connection.
    BlockBound {
        /// Local id.
        block: BlockId,
        /// The peer's id of the block.
        peer_id: u32,
        /// Direction of the binding.
        direction: BindDirection,
    },
    /// A snapshot from the peer was published into the block; `range` = bytes that changed.
    DataReceived {
        /// Local id.
        block: BlockId,
        /// Changed bytes.
        range: Range<usize>,
    },
    /// A block was deleted (peer's remove request, or a dynamic block whose connection
    /// went away).
    BlockRemoved {
        /// Its former local id.
        block: BlockId,
        /// Its name.
        name: T,
    },
    /// The peer sent a system frame of a type this end does not know; it was ignored,
    /// as the C end does (§10.4). A stricter caller may drop the connection.
    UnknownSystemFrame {
        /// The system frame type byte.
        kind: u8,
    },
    /// The connection was dropped (also returned as an `Err`).
    Disconnected {
        /// Why.
        error: ConnectionError,
    },
}
