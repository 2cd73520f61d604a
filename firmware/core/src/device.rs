//! [`Device`]: a board, its IOCOM root and its one connection up to a server, driven
//! sans-I/O — bytes and time in, bytes and a wake-up time out.

use core::fmt;

use ferrocom_runtime::iocom::{
    BlockId, Connection, ConnectionError, Event, Fixed, FixedStr, Identity, Millis, Root,
};
use ferrocom_wire::codec::{Sink, SliceSink};

use crate::board::{Board, BoardSpec, Io, MAX_BLOCKS, TX_SLACK};

/// The kind of byte stream the board talks over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// TCP (the socket handshake, 1392-byte frames, 24-bit ACKs). After a protocol error
    /// or silence the stream must be closed and a new one opened.
    Socket,
    /// A serial line (link procedure, CRC, 96-byte frames). After an error the engine
    /// restarts the link procedure on the same line; the port stays open.
    Serial,
}

impl Link {
    fn name(self) -> &'static str {
        match self {
            Link::Socket => "socket",
            Link::Serial => "serial",
        }
    }
}

/// What is wrong with a [`BoardSpec`] or the memory given for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupError {
    /// More than [`MAX_BLOCKS`] blocks.
    TooManyBlocks {
        /// Blocks given.
        count: usize,
    },
    /// A block's initial content is longer than the block.
    InitTooLong {
        /// Block name.
        block: &'static str,
        /// Block size.
        size: usize,
        /// Length of the initial content.
        init: usize,
    },
    /// The engine refused the block (no free block id, or a name longer than 25 bytes).
    NoBlockId {
        /// Block name.
        block: &'static str,
    },
    /// A device or network name longer than the wire allows (15 / 23 bytes).
    NameTooLong,
    /// The device core was built without this link (features `socket`, `serial`).
    LinkNotBuilt {
        /// The link asked for.
        link: Link,
    },
    /// The memory given is smaller than [`BoardSpec::memory_size`].
    OutOfMemory {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::TooManyBlocks { count } => write!(
                f,
                "the board has {count} memory blocks, the device core takes at most {MAX_BLOCKS}"
            ),
            SetupError::InitTooLong { block, size, init } => write!(
                f,
                "block `{block}` has {size} bytes but its initial content has {init}"
            ),
            SetupError::NoBlockId { block } => write!(f, "no block id left for block `{block}`"),
            SetupError::NameTooLong => f.write_str("device or network name too long"),
            SetupError::LinkNotBuilt { link } => write!(
                f,
                "the device core was built without the {} link (feature `{}`)",
                link.name(),
                link.name()
            ),
            SetupError::OutOfMemory { needed, given } => write!(
                f,
                "the board needs {needed} bytes of memory, {given} were given"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SetupError {}

/// Most events the engine holds between two drains. The device feeds input to the
/// engine in pieces of [`INPUT_PIECE`] bytes and drains after each: a piece completes
/// at most three frames (the shortest that makes an event has 6 bytes), each making at
/// most two events (an mbinfo binding both ways), besides `Connected` and a device
/// number; `DataReceived` of one block merge when the queue is full.
const EVENTS: usize = 8;
/// See [`EVENTS`].
const INPUT_PIECE: usize = 16;

/// The engine storage of a board with `N` blocks: buffers carved from the memory given
/// to [`Device::new`], one connection.
pub type BoardStorage<'m, const N: usize> = Fixed<'m, N, 1, EVENTS>;

/// A board with its IOCOM state: one [`Root`] holding the board's memory blocks and one
/// [`Connection`] up to the server, all in memory the caller gives
/// ([`BoardSpec::memory_size`] bytes: no heap).
///
/// Sans-I/O: the caller moves bytes and reads the clock. A runner calls, in a loop,
/// [`poll`](Self::poll) (board, timers, output), writes [`transmit`](Self::transmit) to the
/// transport and reports it with [`transmitted`](Self::transmitted), reads the transport
/// until [`next_wake`](Self::next_wake) and feeds what came with
/// [`handle_input`](Self::handle_input); [`connect`](Self::connect) /
/// [`disconnect`](Self::disconnect) when a stream opens / ends.
pub struct Device<'m, B, const N: usize> {
    board: B,
    root: Root<BoardStorage<'m, N>>,
    conn: Connection<BoardStorage<'m, N>>,
    link: Link,
    ids: [BlockId; N],
    /// Bit `i`: block `i` has changes not yet in a snapshot ([`Root::send`] again).
    dirty: u32,
    tx: SliceSink<'m>,
    tx_done: usize,
    online: bool,
    session_up: bool,
    board_wake: Millis,
}

impl<B: fmt::Debug, const N: usize> fmt::Debug for Device<'_, B, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("board", &self.board)
            .field("link", &self.link)
            .field("online", &self.online)
            .field("session_up", &self.session_up)
            .field("memory", self.root.storage())
            .finish_non_exhaustive()
    }
}

impl<'m, B: Board, const N: usize> Device<'m, B, N> {
    /// Creates the board's blocks (in `spec.blocks` order, so they get ids 8, 9, ... and
    /// are announced in that order, as a C board does) in `memory`, which must have at
    /// least [`BoardSpec::memory_size`] bytes. The stream is not open yet: call
    /// [`connect`](Self::connect) when it is.
    pub fn new(
        spec: &BoardSpec<'_, N>,
        link: Link,
        board: B,
        now: Millis,
        memory: &'m mut [u8],
    ) -> Result<Self, SetupError> {
        if N > MAX_BLOCKS {
            return Err(SetupError::TooManyBlocks { count: N });
        }
        let cfg = link.config();
        if !cfg.transport.is_built() {
            return Err(SetupError::LinkNotBuilt { link });
        }
        let needed = spec.memory_size(link);
        if memory.len() < needed {
            return Err(SetupError::OutOfMemory {
                needed,
                given: memory.len(),
            });
        }
        let (tx, rest) = memory.split_at_mut(cfg.frame_size() + TX_SLACK);
        let mut identity: Identity<FixedStr<25>, FixedStr<45>> =
            Identity::try_new(spec.device_name, spec.network).ok_or(SetupError::NameTooLong)?;
        identity.device_nr = spec.device_nr;
        identity.unique_id = spec.unique_id;
        let mut root = Root::with_storage(Fixed::new(rest), identity);
        let mut ids = [BlockId(0); N];
        for (slot, b) in ids.iter_mut().zip(spec.blocks) {
            if b.init.len() > b.size {
                return Err(SetupError::InitTooLong {
                    block: b.name,
                    size: b.size,
                    init: b.init.len(),
                });
            }
            *slot = root
                .create_block_from(b.name, b.flags, b.size, b.init)
                .ok_or(SetupError::NoBlockId { block: b.name })?;
        }
        let conn = Connection::try_new(&mut root, cfg, now).ok_or(SetupError::OutOfMemory {
            needed,
            given: needed,
        })?;
        Ok(Device {
            board,
            root,
            conn,
            link,
            ids,
            dirty: 0,
            tx: SliceSink::new(tx),
            tx_done: 0,
            online: false,
            session_up: false,
            board_wake: now,
        })
    }

    /// The board.
    pub fn board(&self) -> &B {
        &self.board
    }

    /// The board, mutably (to change its simulated pins, for instance).
    pub fn board_mut(&mut self) -> &mut B {
        &mut self.board
    }

    /// The board, giving up the device.
    pub fn into_board(self) -> B {
        self.board
    }

    /// The link kind given to [`new`](Self::new).
    pub fn link(&self) -> Link {
        self.link
    }

    /// Current content of block `block` (index into the board's block list).
    pub fn block(&self, block: usize) -> Option<&[u8]> {
        self.root.read(*self.ids.get(block)?)
    }

    /// The engine's root (blocks, identity, memory use), read-only.
    pub fn root(&self) -> &Root<BoardStorage<'m, N>> {
        &self.root
    }

    /// Engine events dropped because more came between two drains than the device
    /// holds (0 unless the engine misbehaves; see `Connection::events_lost`).
    pub fn events_lost(&self) -> u32 {
        self.conn.events_lost()
    }

    /// `true` while a session with the server is up (both ends authenticated).
    pub fn is_connected(&self) -> bool {
        self.session_up
    }

    /// A new stream to the server is open: the engine starts over (handshake or link
    /// procedure, then every block is announced and sent as a key frame).
    pub fn connect(&mut self, now: Millis) {
        self.conn.reset(&mut self.root, now);
        self.tx.clear();
        self.tx_done = 0;
        self.online = true;
        self.drain_events(now);
    }

    /// The stream ended or failed: output is dropped and the board hears `on_link(false)`
    /// if a session was up. The board keeps running ([`poll`](Self::poll)); its blocks
    /// keep the latest values and go out as key frames after the next
    /// [`connect`](Self::connect).
    pub fn disconnect(&mut self, now: Millis) {
        self.online = false;
        self.tx.clear();
        self.tx_done = 0;
        self.set_session(now, false);
    }

    /// Feeds bytes read from the stream. `Err`: the server misbehaved (the error names
    /// what it did); socket:
    /// the session is over (close the stream, [`disconnect`](Self::disconnect), open a new
    /// one later); serial: the link procedure restarted by itself, keep going.
    pub fn handle_input(&mut self, bytes: &[u8], now: Millis) -> Result<(), ConnectionError> {
        for piece in bytes.chunks(INPUT_PIECE) {
            if !self.online {
                return Ok(());
            }
            let r = self.conn.handle_input(&mut self.root, piece, now);
            self.drain_events(now);
            r.map_err(|e| self.protocol_error(e, now))?;
        }
        Ok(())
    }

    /// Runs the board if its time has come, queues changed blocks, serves the engine's
    /// timers and collects the output due now (read it with [`transmit`](Self::transmit)).
    pub fn poll(&mut self, now: Millis) -> Result<(), ConnectionError> {
        if now >= self.board_wake {
            let mut io = Io {
                root: &mut self.root,
                ids: &self.ids,
                dirty: &mut self.dirty,
            };
            self.board_wake = self.board.poll(now, &mut io).max(now.saturating_add(1));
        }
        self.send_dirty();
        if !self.online {
            return Ok(());
        }
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            let r = self.conn.handle_timeout(&mut self.root, now);
            self.drain_events(now);
            r.map_err(|e| self.protocol_error(e, now))?;
        }
        if self.tx_done == self.tx.len() {
            self.tx.clear();
            self.tx_done = 0;
        }
        self.conn.poll_transmit(&mut self.root, now, &mut self.tx);
        self.drain_events(now);
        Ok(())
    }

    /// Bytes waiting to be written to the stream.
    pub fn transmit(&self) -> &[u8] {
        self.tx.written().get(self.tx_done..).unwrap_or_default()
    }

    /// `n` bytes of [`transmit`](Self::transmit) were written.
    pub fn transmitted(&mut self, n: usize) {
        self.tx_done = self.tx_done.saturating_add(n).min(self.tx.len());
    }

    /// When [`poll`](Self::poll) must run next at the latest: the board's next turn or an
    /// engine timer (keep-alive, silence, serial link step), whichever comes first. Input
    /// may come earlier; feed it when it does.
    pub fn next_wake(&self) -> Millis {
        let engine = if self.online {
            self.conn.poll_timeout()
        } else {
            None
        };
        engine.map_or(self.board_wake, |t| t.min(self.board_wake))
    }

    fn send_dirty(&mut self) {
        if self.dirty == 0 {
            return;
        }
        for (i, &id) in self.ids.iter().enumerate() {
            if self.dirty & (1 << i) != 0 {
                self.root.send(id);
                if !self.root.has_unsent_changes(id) {
                    self.dirty &= !(1 << i);
                }
            }
        }
    }

    fn protocol_error(&mut self, e: ConnectionError, now: Millis) -> ConnectionError {
        self.set_session(now, false);
        if self.link == Link::Socket {
            // The engine has closed the session; nothing more may go out on this stream.
            self.online = false;
            self.tx.clear();
            self.tx_done = 0;
        }
        e
    }

    fn set_session(&mut self, now: Millis, up: bool) {
        if self.session_up != up {
            self.session_up = up;
            self.board.on_link(now, up);
        }
    }

    fn drain_events(&mut self, now: Millis) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::PeerAuthenticated { .. } => self.set_session(now, true),
                Event::Disconnected { .. } => self.set_session(now, false),
                Event::DataReceived { block, range } => {
                    if let Some(index) = self.ids.iter().position(|&id| id == block) {
                        let mut io = Io {
                            root: &mut self.root,
                            ids: &self.ids,
                            dirty: &mut self.dirty,
                        };
                        self.board.on_write(now, index, range, &mut io);
                    }
                }
                _ => {}
            }
        }
    }
}
