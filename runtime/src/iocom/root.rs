//! The process-level IOCOM object (§2 "root"): local identity, memory blocks, and the
//! per-(connection, block) source and target buffers of every connection.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use ferrocom_wire::iocom::BlockFlags;

use super::auth::{Authorizer, HookDebug};
use super::block::{BlockId, MemoryBlock};
use super::numbering::{DeviceNumbers, MemoryNumbers};
use super::source::Source;
use super::target::Target;
use super::{AUTO_DEVICE_NR, Event};

/// Lowest and highest block id (§10.1, quirk 7).
const FIRST_BLOCK_ID: u16 = 8;
const LAST_BLOCK_ID: u16 = 32767;

/// Who this process is on the IO network.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// Device name without number, e.g. `gina` or `frank`.
    pub device_name: String,
    /// Device number; [`AUTO_DEVICE_NR`] (9000) for `*` (automatic).
    pub device_nr: u32,
    /// IO network name, e.g. `cafenet`; `*` or empty adopts the peer's (§9.3).
    pub network: String,
    /// 12-byte unique id, sent with automatic numbering on sockets (§9.1).
    pub unique_id: [u8; 12],
    /// Password sent by a TLS client (§9.1).
    pub password: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("device_name", &self.device_name)
            .field("device_nr", &self.device_nr)
            .field("network", &self.network)
            .field("unique_id", &self.unique_id)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Identity {
    /// An identity with automatic device number, zero unique id and no password.
    pub fn new(device_name: &str, network: &str) -> Self {
        Identity {
            device_name: device_name.into(),
            device_nr: AUTO_DEVICE_NR,
            network: network.into(),
            unique_id: [0; 12],
            password: String::new(),
        }
    }
}

/// One (connection, block) binding: a source buffer, a target buffer, or (for a block
/// flagged both UP and DOWN) both.
#[derive(Debug)]
pub(crate) struct Binding {
    pub block: BlockId,
    /// The peer's id of the block (data frames are addressed to it).
    pub peer_id: u32,
    pub source: Option<Source>,
    pub target: Option<Target>,
    /// An mbinfo reply is due (end that is not connect-up, §10.4 step 5).
    pub reply_pending: bool,
}

/// Root-side state of one connection.
#[derive(Debug)]
pub(crate) struct ConnSlot {
    pub id: u32,
    pub connect_up: bool,
    pub bindings: Vec<Binding>,
    /// Peer ids to list in remove requests (§12).
    pub removes: Vec<u32>,
    /// Serials of blocks announced on this connection (connect-up end, §10.3).
    pub announced: Vec<u64>,
    /// Number assigned to the peer's automatically numbered blocks (§9.5).
    pub assigned_nr: Option<u32>,
}

/// Process-wide IOCOM state shared by all connections.
pub struct Root {
    pub(crate) identity: Identity,
    pub(crate) blocks: Blocks,
    first_id: u16,
    next_id: u16,
    free_ids: Vec<u16>,
    next_serial: u64,
    pub(crate) conns: Vec<ConnSlot>,
    /// For each block (by id), the connections that have it bound, so that a write or a
    /// relay visits those instead of every connection of a busy server.
    pub(crate) binders: BTreeMap<u16, Vec<u32>>,
    next_conn: u32,
    /// Initial content of dynamic blocks yet to be created, by (block name, device name,
    /// device number, network); see [`Root::preset_dynamic_block`].
    presets: BTreeMap<(String, String, u32, String), Vec<u8>>,
    pub(crate) authorizer: Option<Box<dyn Authorizer + Send>>,
    pub(crate) numbers: Box<dyn DeviceNumbers + Send>,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("identity", &self.identity)
            .field("blocks", &self.blocks.len())
            .field("connections", &self.conns.len())
            .field("authorizer", &self.authorizer.as_ref().map(|_| HookDebug))
            .finish()
    }
}

impl Root {
    /// A root with no blocks; block ids start at 8, device numbers for automatically
    /// numbered peers come from [`MemoryNumbers`] seeded with 1.
    pub fn new(identity: Identity) -> Self {
        Root {
            identity,
            blocks: Blocks::default(),
            first_id: FIRST_BLOCK_ID,
            next_id: FIRST_BLOCK_ID,
            free_ids: Vec::new(),
            next_serial: 1,
            conns: Vec::new(),
            binders: BTreeMap::new(),
            next_conn: 1,
            presets: BTreeMap::new(),
            authorizer: None,
            numbers: Box::new(MemoryNumbers::new(1)),
        }
    }

    /// Start allocating block ids at `first` (clamped to 8..=32767); e.g. 23 to mimic the
    /// captured `frank`, which had created other blocks before.
    pub fn with_first_block_id(mut self, first: u16) -> Self {
        let first = first.clamp(FIRST_BLOCK_ID, LAST_BLOCK_ID);
        self.first_id = first;
        if self.blocks.is_empty() {
            self.next_id = first;
        }
        self
    }

    /// The authorization hook, consulted on the listening end of TLS connections (§9.4).
    pub fn set_authorizer(&mut self, hook: Box<dyn Authorizer + Send>) {
        self.authorizer = Some(hook);
    }

    /// Where automatic device numbers come from (§9.5).
    pub fn set_device_numbers(&mut self, numbers: Box<dyn DeviceNumbers + Send>) {
        self.numbers = numbers;
    }

    /// The local identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// All blocks, in creation order.
    pub fn blocks(&self) -> impl Iterator<Item = &MemoryBlock> {
        self.blocks.iter()
    }

    /// A block by id.
    pub fn block(&self, id: BlockId) -> Option<&MemoryBlock> {
        self.blocks.by_id(id)
    }

    /// A block by its wire identity.
    pub fn find_block(
        &self,
        name: &str,
        device_name: &str,
        device_nr: u32,
        network: &str,
    ) -> Option<&MemoryBlock> {
        self.blocks.iter().find(|b| {
            b.name == name
                && b.device_name == device_name
                && b.device_nr == device_nr
                && b.network == network
        })
    }

    /// Creates a block of this device (owner = the root identity) with `data` as its
    /// initial content. `None` when all ids 8..=32767 are in use.
    pub fn create_block(
        &mut self,
        name: &str,
        flags: BlockFlags,
        data: Vec<u8>,
    ) -> Option<BlockId> {
        let (dn, nr, net) = (
            self.identity.device_name.clone(),
            self.identity.device_nr,
            self.identity.network.clone(),
        );
        self.insert_block(name, &dn, nr, &net, flags, data, None)
    }

    /// Sets what a dynamically created block starts with instead of zeros: the next
    /// time a peer announces block `name` of `device_name` `device_nr` on `network` with
    /// this size, the mirror holds `data` from the start, so the key frame that a new
    /// source binding takes at once already carries it. A server uses this for the
    /// downward values it owns when a device reconnects. Used once, then forgotten.
    pub fn preset_dynamic_block(
        &mut self,
        name: &str,
        device_name: &str,
        device_nr: u32,
        network: &str,
        data: Vec<u8>,
    ) {
        self.presets.insert(
            (name.into(), device_name.into(), device_nr, network.into()),
            data,
        );
    }

    /// The preset content for a dynamic block of `size` bytes, if one was set (and
    /// forgets it); see [`Root::preset_dynamic_block`].
    pub(crate) fn take_preset(
        &mut self,
        name: &str,
        device_name: &str,
        device_nr: u32,
        network: &str,
        size: usize,
    ) -> Option<Vec<u8>> {
        let key = (name.into(), device_name.into(), device_nr, network.into());
        let data = self.presets.remove(&key)?;
        (data.len() == size).then_some(data)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_block(
        &mut self,
        name: &str,
        device_name: &str,
        device_nr: u32,
        network: &str,
        flags: BlockFlags,
        data: Vec<u8>,
        created_by: Option<u32>,
    ) -> Option<BlockId> {
        let id = self.alloc_id()?;
        let serial = self.next_serial;
        self.next_serial += 1;
        self.blocks.push(MemoryBlock {
            id,
            name: name.into(),
            device_name: device_name.into(),
            device_nr,
            network: network.into(),
            flags,
            data,
            serial,
            created_by,
        });
        Some(id)
    }

    fn alloc_id(&mut self) -> Option<BlockId> {
        if let Some(id) = self.free_ids.pop() {
            return Some(BlockId(id));
        }
        if self.next_id > LAST_BLOCK_ID {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        Some(BlockId(id))
    }

    /// Writes `bytes` at `addr` and marks the range changed for every connection that
    /// sends the block. Returns `false` (and writes nothing) if the block does not exist
    /// or the range does not fit. Call [`Root::send`] to publish the snapshot.
    pub fn write(&mut self, id: BlockId, addr: usize, bytes: &[u8]) -> bool {
        let Some(block) = self.blocks.by_id_mut(id) else {
            return false;
        };
        let Some(dst) = block.data.get_mut(addr..addr.saturating_add(bytes.len())) else {
            return false;
        };
        dst.copy_from_slice(bytes);
        self.mark_changed(id, addr..addr + bytes.len(), None);
        true
    }

    /// Content of a block.
    pub fn read(&self, id: BlockId) -> Option<&[u8]> {
        self.block(id).map(|b| b.data.as_slice())
    }

    /// Takes a snapshot of the block's changes on every connection that sends it
    /// (the C application's "send" call, §11.2).
    pub fn send(&mut self, id: BlockId) {
        let Root {
            blocks,
            conns,
            binders,
            ..
        } = self;
        let Some(block) = blocks.by_id(id) else {
            return;
        };
        let is_static = block.is_static();
        for &conn in binders.get(&id.0).map(Vec::as_slice).unwrap_or_default() {
            for b in bound(conns, conn, id) {
                if let Some(s) = &mut b.source {
                    s.take_snapshot(&block.data, is_static);
                }
            }
        }
    }

    /// `true` if some connection sending the block holds changes that are not yet in a
    /// snapshot: [`Root::send`] came while the previous snapshot was still being
    /// transmitted (departure 9 in ENGINE.md). Call [`Root::send`] again later.
    pub fn has_unsent_changes(&self, id: BlockId) -> bool {
        let conns = self
            .binders
            .get(&id.0)
            .map(Vec::as_slice)
            .unwrap_or_default();
        conns.iter().any(|&conn| {
            slot_index(&self.conns, conn)
                .and_then(|i| self.conns.get(i))
                .is_some_and(|slot| {
                    slot.bindings
                        .iter()
                        .filter(|b| b.block == id)
                        .any(|b| b.source.as_ref().is_some_and(Source::has_changes))
                })
        })
    }

    /// [`Root::send`] for every block in `dirty`, keeping in the set only the blocks whose
    /// changes could not all go into a snapshot yet (to be sent again on the next turn).
    pub fn send_dirty(&mut self, dirty: &mut alloc::collections::BTreeSet<BlockId>) {
        dirty.retain(|&id| {
            self.send(id);
            self.has_unsent_changes(id)
        });
    }

    fn mark_changed(&mut self, id: BlockId, range: Range<usize>, except: Option<u32>) {
        let Root { conns, binders, .. } = self;
        for &conn in binders.get(&id.0).map(Vec::as_slice).unwrap_or_default() {
            if Some(conn) == except {
                continue;
            }
            for b in bound(conns, conn, id) {
                if let Some(s) = &mut b.source {
                    s.mark_changed(range.clone());
                }
            }
        }
    }

    /// Relays a snapshot received on connection `from` to the block's senders on the
    /// other connections (§11.4, how a server passes data up or down).
    pub(crate) fn relay(&mut self, id: BlockId, range: Range<usize>, from: u32) {
        self.mark_changed(id, range, Some(from));
        let Root {
            blocks,
            conns,
            binders,
            ..
        } = self;
        let Some(block) = blocks.by_id(id) else {
            return;
        };
        let is_static = block.is_static();
        for &conn in binders.get(&id.0).map(Vec::as_slice).unwrap_or_default() {
            if conn == from {
                continue;
            }
            for b in bound(conns, conn, id) {
                if let Some(s) = &mut b.source {
                    s.take_snapshot(&block.data, is_static);
                }
            }
        }
    }

    /// Records that connection `conn` bound block `id` (see [`Root::binders`]).
    pub(crate) fn note_bound(&mut self, id: BlockId, conn: u32) {
        let list = self.binders.entry(id.0).or_default();
        if !list.contains(&conn) {
            list.push(conn);
        }
    }

    /// Records that connection `conn` no longer binds block `id`.
    pub(crate) fn note_unbound(&mut self, id: BlockId, conn: u32) {
        if let Some(list) = self.binders.get_mut(&id.0) {
            list.retain(|c| *c != conn);
            if list.is_empty() {
                self.binders.remove(&id.0);
            }
        }
    }

    /// Deletes a block. Connections that are connect-up and had it bound queue a remove
    /// request for the peer's id (§12). Returns the removed block.
    pub fn remove_block(&mut self, id: BlockId) -> Option<MemoryBlock> {
        self.remove_block_from(id, None)
    }

    pub(crate) fn remove_block_from(
        &mut self,
        id: BlockId,
        from: Option<u32>,
    ) -> Option<MemoryBlock> {
        let block = self.blocks.remove(id)?;
        let binders = self.binders.remove(&id.0).unwrap_or_default();
        for slot in self.conns.iter_mut().filter(|s| binders.contains(&s.id)) {
            let mut peer = None;
            slot.bindings.retain(|b| {
                if b.block == id {
                    peer = Some(b.peer_id);
                    false
                } else {
                    true
                }
            });
            if let Some(peer) = peer
                && slot.connect_up
                && Some(slot.id) != from
            {
                slot.removes.push(peer);
            }
        }
        self.free_ids.push(id.0);
        Some(block)
    }

    /// `true` when this end is the lower one on connection `conn` (it announces its
    /// blocks there, and relays what its other connections receive).
    #[cfg(feature = "tokio")]
    pub(crate) fn is_connect_up(&self, conn: u32) -> bool {
        let i = slot_index(&self.conns, conn);
        i.and_then(|i| self.conns.get(i))
            .is_some_and(|s| s.connect_up)
    }

    pub(crate) fn attach(&mut self, connect_up: bool) -> u32 {
        let id = self.next_conn;
        self.next_conn = self.next_conn.wrapping_add(1);
        self.conns.push(ConnSlot {
            id,
            connect_up,
            bindings: Vec::new(),
            removes: Vec::new(),
            announced: Vec::new(),
            assigned_nr: None,
        });
        id
    }

    pub(crate) fn slot(&mut self, conn: u32) -> Option<&mut ConnSlot> {
        slot_in(&mut self.conns, conn)
    }

    /// Connection state reset (§8.4): bindings discarded, dynamic blocks the connection
    /// created released (with remove requests upward), pending requests forgotten.
    pub(crate) fn reset_conn(
        &mut self,
        conn: u32,
        connect_up: bool,
        events: &mut impl Extend<Event>,
    ) {
        let unbound: Vec<BlockId> = self
            .slot(conn)
            .map(|slot| slot.bindings.iter().map(|b| b.block).collect())
            .unwrap_or_default();
        for id in unbound {
            self.note_unbound(id, conn);
        }
        if let Some(slot) = self.slot(conn) {
            slot.bindings.clear();
            slot.removes.clear();
            slot.announced.clear();
            slot.assigned_nr = None;
            slot.connect_up = connect_up;
        }
        let dynamic: Vec<BlockId> = self
            .blocks
            .iter()
            .filter(|b| b.created_by == Some(conn))
            .map(|b| b.id)
            .collect();
        for id in dynamic {
            if let Some(b) = self.remove_block_from(id, Some(conn)) {
                events.extend([Event::BlockRemoved {
                    block: b.id,
                    name: b.name,
                }]);
            }
        }
    }

    /// Forgets a connection entirely (call when it is gone for good).
    pub(crate) fn detach(&mut self, conn: u32, events: &mut impl Extend<Event>) {
        self.reset_conn(conn, false, events);
        self.conns.retain(|s| s.id != conn);
    }
}

/// Index of connection `conn` in `conns`. Connection ids are handed out in increasing
/// order and slots are appended, so the list is sorted, unless the 32-bit id counter
/// wrapped; then a linear search finds it. A server with thousands of connections looks
/// its slot up for every frame.
pub(crate) fn slot_index(conns: &[ConnSlot], conn: u32) -> Option<usize> {
    conns
        .binary_search_by_key(&conn, |s| s.id)
        .ok()
        .or_else(|| conns.iter().position(|s| s.id == conn))
}

/// The slot of connection `conn`; see [`slot_index`].
pub(crate) fn slot_in(conns: &mut [ConnSlot], conn: u32) -> Option<&mut ConnSlot> {
    let i = slot_index(conns, conn)?;
    conns.get_mut(i)
}

/// The root's memory blocks in creation order (announcements follow it, §10.3), with an
/// index by id: a server with thousands of devices looks a block up for every frame.
#[derive(Debug, Default)]
pub(crate) struct Blocks {
    list: Vec<MemoryBlock>,
    pos: BTreeMap<u16, usize>,
}

impl Blocks {
    pub(crate) fn iter(&self) -> core::slice::Iter<'_, MemoryBlock> {
        self.list.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The block at creation position `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&MemoryBlock> {
        self.list.get(i)
    }

    pub(crate) fn index_of(&self, id: BlockId) -> Option<usize> {
        self.pos.get(&id.0).copied()
    }

    pub(crate) fn by_id(&self, id: BlockId) -> Option<&MemoryBlock> {
        self.list.get(self.index_of(id)?)
    }

    pub(crate) fn by_id_mut(&mut self, id: BlockId) -> Option<&mut MemoryBlock> {
        let i = self.index_of(id)?;
        self.list.get_mut(i)
    }

    pub(crate) fn push(&mut self, block: MemoryBlock) {
        self.pos.insert(block.id.0, self.list.len());
        self.list.push(block);
    }

    pub(crate) fn remove(&mut self, id: BlockId) -> Option<MemoryBlock> {
        let i = self.pos.remove(&id.0)?;
        if i >= self.list.len() {
            return None;
        }
        let block = self.list.remove(i);
        for p in self.pos.values_mut() {
            if *p > i {
                *p -= 1;
            }
        }
        Some(block)
    }
}

/// The bindings of block `id` on connection `conn` (at most one).
fn bound(conns: &mut [ConnSlot], conn: u32, id: BlockId) -> impl Iterator<Item = &mut Binding> {
    slot_in(conns, conn)
        .into_iter()
        .flat_map(move |s| s.bindings.iter_mut().filter(move |b| b.block == id))
}
