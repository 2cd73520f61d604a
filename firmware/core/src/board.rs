//! What a board is made of: its identity, its memory blocks, and the application code
//! that reads pins into upward blocks and drives outputs from downward blocks.

use core::ops::Range;

use ferrocom_runtime::iocom::{
    AUTO_DEVICE_NR, BlockFlags, BlockId, ConnectionConfig, Millis, Root, Storage, binding_bytes,
};

use crate::device::Link;

/// Most memory blocks a board may have. The core keeps the board's block ids and the
/// "changed, to send" marks in fixed arrays (no heap), so there is a bound; IOCOM boards
/// have a handful (gina has seven).
pub const MAX_BLOCKS: usize = 32;

/// One memory block of the board, in the order the board creates (and announces) them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpec {
    /// Block name (`exp`, `imp`, `conf_exp`, `info`, ...).
    pub name: &'static str,
    /// Size in bytes.
    pub size: usize,
    /// Flags announced in the block's mbinfo frame (UP or DOWN, STATIC, BIDIRECTIONAL...).
    pub flags: BlockFlags,
    /// Initial content; shorter than `size` means the rest starts as zeros.
    pub init: &'static [u8],
}

impl BlockSpec {
    /// A block the board sends up (`"flags": "up"` in the signal map).
    pub const fn up(name: &'static str, size: usize) -> Self {
        BlockSpec {
            name,
            size,
            flags: BlockFlags::UP,
            init: &[],
        }
    }

    /// A block the server writes down (`"flags": "down"`).
    pub const fn down(name: &'static str, size: usize) -> Self {
        BlockSpec {
            name,
            size,
            flags: BlockFlags::DOWN,
            init: &[],
        }
    }

    /// The static `info` block holding the packed signal map (the generated `INFO`), sent
    /// once per connection so a server learns the board's signals.
    pub const fn info(packed_map: &'static [u8]) -> Self {
        BlockSpec {
            name: "info",
            size: packed_map.len(),
            flags: BlockFlags::UP.with(BlockFlags::STATIC, true),
            init: packed_map,
        }
    }

    /// The same block announced with `flags` instead (for instance with BIDIRECTIONAL
    /// added, as IOCOM's C boards announce their blocks).
    #[must_use]
    pub const fn with_flags(self, flags: BlockFlags) -> Self {
        BlockSpec { flags, ..self }
    }

    /// `true` for a block whose data flow from the server to the board.
    pub const fn is_down(&self) -> bool {
        self.flags.contains(BlockFlags::DOWN) && !self.flags.contains(BlockFlags::UP)
    }
}

/// Who the board is on the IO network, and its `N` blocks.
#[derive(Debug, Clone, Copy)]
pub struct BoardSpec<'a, const N: usize> {
    /// Device name without number (`gina`).
    pub device_name: &'a str,
    /// Device number; [`AUTO_DEVICE_NR`] (9000) lets the server assign one.
    pub device_nr: u32,
    /// IO network name (`cafenet`).
    pub network: &'a str,
    /// 12-byte unique id sent with an automatic number over sockets, so the server gives
    /// the board the same number after every reconnect. A real board uses its chip id.
    pub unique_id: [u8; 12],
    /// The memory blocks, in creation order; [`Io`] addresses them by their index here.
    pub blocks: &'a [BlockSpec; N],
}

impl<'a, const N: usize> BoardSpec<'a, N> {
    /// A board with an automatic device number and a zero unique id.
    pub const fn new(device_name: &'a str, network: &'a str, blocks: &'a [BlockSpec; N]) -> Self {
        BoardSpec {
            device_name,
            device_nr: AUTO_DEVICE_NR,
            network,
            unique_id: [0; 12],
            blocks,
        }
    }

    /// Bytes of memory [`Device::new`](crate::Device::new) needs for this board on
    /// `link`: the transmit buffer (one frame and the link bytes around it), the blocks'
    /// contents, the receive buffer (one frame) and, per block, what its binding to the
    /// server takes at most (two copies of an upward block for the delta encoder, none
    /// for the static `info` block, a staging copy of a downward block). A `const fn`,
    /// so a firmware sizes a static array with it.
    pub const fn memory_size(&self, link: Link) -> usize {
        let frame = link.config().frame_size();
        let mut n = frame + TX_SLACK + frame;
        let mut i = 0;
        while i < N {
            let b = &self.blocks[i];
            n += b.size + binding_bytes(b.size, b.flags, true);
            i += 1;
        }
        n
    }
}

/// Transmit buffer room beyond one frame: link control bytes, the handshake, an ACK.
pub(crate) const TX_SLACK: usize = 40;

/// The application of a board. The same code runs under any runner: the blocking
/// [`Runner`](crate::Runner) loop, the host crate's tokio runner, or a firmware main loop.
pub trait Board {
    /// Samples the inputs and writes the upward blocks through `io`; called when the time
    /// it returned last has come (and once at start). Returns when to be called next.
    fn poll(&mut self, now: Millis, io: &mut Io<'_>) -> Millis;

    /// The server wrote downward block `block` (index into [`BoardSpec::blocks`]):
    /// `changed` are the bytes that changed; read the block with [`Io::read`].
    fn on_write(&mut self, now: Millis, block: usize, changed: Range<usize>, io: &mut Io<'_>) {
        let _ = (now, block, changed, io);
    }

    /// The session with the server came up (`true`: both ends authenticated) or went down.
    fn on_link(&mut self, now: Millis, up: bool) {
        let _ = (now, up);
    }
}

/// The board's view of its memory blocks, by index into [`BoardSpec::blocks`].
pub struct Io<'a> {
    pub(crate) root: &'a mut dyn Blocks,
    pub(crate) ids: &'a [BlockId],
    pub(crate) dirty: &'a mut u32,
}

impl core::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Io")
            .field("ids", &self.ids)
            .finish_non_exhaustive()
    }
}

/// The engine root as [`Io`] sees it, whatever its storage (so that [`Board`] needs no
/// type parameters).
pub(crate) trait Blocks {
    fn read(&self, id: BlockId) -> Option<&[u8]>;
    fn write(&mut self, id: BlockId, addr: usize, bytes: &[u8]) -> bool;
}

impl<S: Storage> Blocks for Root<S> {
    fn read(&self, id: BlockId) -> Option<&[u8]> {
        Root::read(self, id)
    }
    fn write(&mut self, id: BlockId, addr: usize, bytes: &[u8]) -> bool {
        Root::write(self, id, addr, bytes)
    }
}

impl Link {
    /// The engine's configuration of the board's connection.
    pub(crate) const fn config(self) -> ConnectionConfig {
        match self {
            Link::Socket => ConnectionConfig::socket_client(false),
            Link::Serial => ConnectionConfig::serial_client(),
        }
    }
}

impl Io<'_> {
    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// `true` if the board has no blocks.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Current content of block `block` (`None` for an index past the last block).
    pub fn read(&self, block: usize) -> Option<&[u8]> {
        self.root.read(*self.ids.get(block)?)
    }

    /// Stores `data` as the new content of block `block` and, if any byte changed, queues
    /// it to be sent (the C library's `ioc_send`): only the span from the first to the last
    /// changed byte is marked, so a typed block buffer can be published whole every turn.
    /// `Err` if the index is past the last block or `data` is not exactly the block's size.
    pub fn publish(&mut self, block: usize, data: &[u8]) -> Result<bool, IoError> {
        let id = *self.ids.get(block).ok_or(IoError::NoSuchBlock { block })?;
        let current = self.root.read(id).ok_or(IoError::NoSuchBlock { block })?;
        if current.len() != data.len() {
            return Err(IoError::WrongSize {
                block,
                expected: current.len(),
                found: data.len(),
            });
        }
        let Some(first) = current.iter().zip(data).position(|(a, b)| a != b) else {
            return Ok(false);
        };
        let last = current
            .iter()
            .zip(data)
            .rposition(|(a, b)| a != b)
            .unwrap_or(first);
        let span = first..last + 1;
        if let Some(bytes) = data.get(span.clone()) {
            self.root.write(id, span.start, bytes);
        }
        *self.dirty |= 1 << block;
        Ok(true)
    }
}

/// A board addressed a block wrongly through [`Io`] (a programming error of the board,
/// reported instead of panicking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoError {
    /// No block with this index.
    NoSuchBlock {
        /// The index given.
        block: usize,
    },
    /// The data given are not the block's size.
    WrongSize {
        /// The index given.
        block: usize,
        /// The block's size.
        expected: usize,
        /// The length given.
        found: usize,
    },
}

impl core::fmt::Display for IoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IoError::NoSuchBlock { block } => write!(f, "the board has no block number {block}"),
            IoError::WrongSize {
                block,
                expected,
                found,
            } => write!(
                f,
                "block number {block} has {expected} bytes, {found} were given"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for IoError {}
