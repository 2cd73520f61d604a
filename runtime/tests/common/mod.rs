//! A device and a server engine wired together in memory, with a simulated clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ferrocom_runtime::iocom::{
    BlockId, Connection, ConnectionConfig, ConnectionError, Event, Identity, Millis, Root,
};
use ferrocom_wire::iocom::BlockFlags;

pub const UP: BlockFlags = BlockFlags(BlockFlags::UP.0 | BlockFlags::BIDIRECTIONAL.0);
pub const DOWN: BlockFlags = BlockFlags(BlockFlags::DOWN.0 | BlockFlags::BIDIRECTIONAL.0);

pub fn device_root() -> (Root, BlockId, BlockId) {
    let mut id = Identity::new("gina", "cafenet");
    id.unique_id = [7; 12];
    let mut root = Root::new(id);
    let exp = root.create_block("exp", UP, vec![0; 44]).unwrap();
    let imp = root.create_block("imp", DOWN, vec![0; 24]).unwrap();
    (root, exp, imp)
}

pub fn server_root() -> Root {
    Root::new(Identity::new("frank", "cafenet")).with_first_block_id(23)
}

/// Both ends and the wire between them.
pub struct Pair {
    pub now: Millis,
    pub dev_root: Root,
    pub dev: Connection,
    pub srv_root: Root,
    pub srv: Connection,
    pub exp: BlockId,
    pub imp: BlockId,
    /// Every byte written, per direction.
    pub to_srv: Vec<u8>,
    pub to_dev: Vec<u8>,
    pub dev_errors: Vec<ConnectionError>,
    pub srv_errors: Vec<ConnectionError>,
}

impl Pair {
    pub fn new(dev_cfg: ConnectionConfig, srv_cfg: ConnectionConfig) -> Self {
        let (mut dev_root, exp, imp) = device_root();
        let mut srv_root = server_root();
        let dev = Connection::new(&mut dev_root, dev_cfg, 0);
        let srv = Connection::new(&mut srv_root, srv_cfg, 0);
        Pair {
            now: 0,
            dev_root,
            dev,
            srv_root,
            srv,
            exp,
            imp,
            to_srv: Vec::new(),
            to_dev: Vec::new(),
            dev_errors: Vec::new(),
            srv_errors: Vec::new(),
        }
    }

    pub fn socket() -> Self {
        Self::new(
            ConnectionConfig::socket_client(false),
            ConnectionConfig::socket_server(false),
        )
    }

    pub fn serial() -> Self {
        Self::new(
            ConnectionConfig::serial_client(),
            ConnectionConfig::serial_server(),
        )
    }

    /// One exchange: each end writes what it has, the other reads it.
    pub fn exchange(&mut self) -> usize {
        let mut a = Vec::new();
        self.dev.poll_transmit(&mut self.dev_root, self.now, &mut a);
        let mut b = Vec::new();
        self.srv.poll_transmit(&mut self.srv_root, self.now, &mut b);
        self.deliver_to_srv(&a);
        self.deliver_to_dev(&b);
        a.len() + b.len()
    }

    pub fn deliver_to_srv(&mut self, bytes: &[u8]) {
        self.to_srv.extend_from_slice(bytes);
        if !bytes.is_empty()
            && let Err(e) = self.srv.handle_input(&mut self.srv_root, bytes, self.now)
        {
            self.srv_errors.push(e);
        }
    }

    pub fn deliver_to_dev(&mut self, bytes: &[u8]) {
        self.to_dev.extend_from_slice(bytes);
        if !bytes.is_empty()
            && let Err(e) = self.dev.handle_input(&mut self.dev_root, bytes, self.now)
        {
            self.dev_errors.push(e);
        }
    }

    /// Exchanges until neither end has anything to say (bounded).
    pub fn pump(&mut self) {
        for _ in 0..1000 {
            if self.exchange() == 0 {
                return;
            }
        }
        panic!("pair never went quiet");
    }

    /// Advances the clock to `t`, serving both ends' timers at their deadlines.
    pub fn advance_to(&mut self, t: Millis) {
        loop {
            let next = [self.dev.poll_timeout(), self.srv.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|&d| d <= t)
                .min();
            let Some(d) = next else { break };
            self.now = self.now.max(d);
            if let Err(e) = self.dev.handle_timeout(&mut self.dev_root, self.now) {
                self.dev_errors.push(e);
            }
            if let Err(e) = self.srv.handle_timeout(&mut self.srv_root, self.now) {
                self.srv_errors.push(e);
            }
            self.pump();
            if [self.dev.poll_timeout(), self.srv.poll_timeout()]
                .into_iter()
                .flatten()
                .all(|d| d <= self.now)
            {
                break;
            }
        }
        self.now = t;
        self.pump();
    }

    pub fn dev_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.dev.poll_event()).collect()
    }

    pub fn srv_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.srv.poll_event()).collect()
    }

    /// The server's mirror of a device block.
    pub fn srv_block(&self, name: &str) -> Option<BlockId> {
        self.srv_root
            .blocks()
            .find(|b| b.name == name)
            .map(|b| b.id)
    }
}
