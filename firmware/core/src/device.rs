//! [`Device`]: a board, its IOCOM root and its one connection up to a server, driven
//! sans-I/O — bytes and time in, bytes and a wake-up time out.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use ferrocom_runtime::iocom::{
    BlockId, Connection, ConnectionConfig, ConnectionError, Event, Identity, Millis, Root,
};

use crate::board::{Board, BoardSpec, Io, MAX_BLOCKS};

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

/// What is wrong with a [`BoardSpec`].
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
    /// The engine refused the block (no free block id).
    NoBlockId {
        /// Block name.
        block: &'static str,
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
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SetupError {}

/// A board with its IOCOM state: one [`Root`] holding the board's memory blocks and one
/// [`Connection`] up to the server.
///
/// Sans-I/O: the caller moves bytes and reads the clock. A runner calls, in a loop,
/// [`poll`](Self::poll) (board, timers, output), writes [`transmit`](Self::transmit) to the
/// transport and reports it with [`transmitted`](Self::transmitted), reads the transport
/// until [`next_wake`](Self::next_wake) and feeds what came with
/// [`handle_input`](Self::handle_input); [`connect`](Self::connect) /
/// [`disconnect`](Self::disconnect) when a stream opens / ends.
#[derive(Debug)]
pub struct Device<B> {
    board: B,
    root: Root,
    conn: Connection,
    link: Link,
    ids: [BlockId; MAX_BLOCKS],
    count: usize,
    /// Bit `i`: block `i` has changes not yet in a snapshot ([`Root::send`] again).
    dirty: u32,
    tx: Vec<u8>,
    tx_done: usize,
    online: bool,
    session_up: bool,
    board_wake: Millis,
}

impl<B: Board> Device<B> {
    /// Creates the board's blocks (in `spec.blocks` order, so they get ids 8, 9, ... and
    /// are announced in that order, as a C board does). The stream is not open yet: call
    /// [`connect`](Self::connect) when it is.
    pub fn new(
        spec: &BoardSpec<'_>,
        link: Link,
        board: B,
        now: Millis,
    ) -> Result<Self, SetupError> {
        if spec.blocks.len() > MAX_BLOCKS {
            return Err(SetupError::TooManyBlocks {
                count: spec.blocks.len(),
            });
        }
        let mut identity = Identity::new(spec.device_name, spec.network);
        identity.device_nr = spec.device_nr;
        identity.unique_id = spec.unique_id;
        let mut root = Root::new(identity);
        let mut ids = [BlockId(0); MAX_BLOCKS];
        for (slot, b) in ids.iter_mut().zip(spec.blocks) {
            let mut data = vec![0; b.size];
            let Some(head) = data.get_mut(..b.init.len()) else {
                return Err(SetupError::InitTooLong {
                    block: b.name,
                    size: b.size,
                    init: b.init.len(),
                });
            };
            head.copy_from_slice(b.init);
            *slot = root
                .create_block(b.name, b.flags, data)
                .ok_or(SetupError::NoBlockId { block: b.name })?;
        }
        let cfg = match link {
            Link::Socket => ConnectionConfig::socket_client(false),
            Link::Serial => ConnectionConfig::serial_client(),
        };
        let conn = Connection::new(&mut root, cfg, now);
        Ok(Device {
            board,
            root,
            conn,
            link,
            ids,
            count: spec.blocks.len(),
            dirty: 0,
            tx: Vec::new(),
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
        self.root.read(*self.ids[..self.count].get(block)?)
    }

    /// The engine's root (blocks, identity), read-only.
    pub fn root(&self) -> &Root {
        &self.root
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
        if !self.online {
            return Ok(());
        }
        let r = self.conn.handle_input(&mut self.root, bytes, now);
        self.drain_events(now);
        r.map_err(|e| self.protocol_error(e, now))
    }

    /// Runs the board if its time has come, queues changed blocks, serves the engine's
    /// timers and collects the output due now (read it with [`transmit`](Self::transmit)).
    pub fn poll(&mut self, now: Millis) -> Result<(), ConnectionError> {
        if now >= self.board_wake {
            let mut io = Io {
                root: &mut self.root,
                ids: &self.ids[..self.count],
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
        self.tx.get(self.tx_done..).unwrap_or_default()
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
        for (i, &id) in self.ids[..self.count].iter().enumerate() {
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
                    let ids = &self.ids[..self.count];
                    if let Some(index) = ids.iter().position(|&id| id == block) {
                        let mut io = Io {
                            root: &mut self.root,
                            ids,
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
