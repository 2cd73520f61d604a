//! The process-level IOCOM object (§2 "root"): local identity, memory blocks, and the
//! per-(connection, block) source and target buffers of every connection.

use core::fmt;
use core::ops::Range;

use ferrocom_wire::iocom::BlockFlags;

use super::block::{BlockId, MemoryBlock};
use super::source::Source;
use super::storage::{List, Storage, Text};
use super::target::Target;
use super::{AUTO_DEVICE_NR, Event};

/// Lowest and highest block id (§10.1, quirk 7).
const FIRST_BLOCK_ID: u16 = 8;
const LAST_BLOCK_ID: u16 = 32767;

/// Who this process is on the IO network.
///
/// `T` holds the names and `P` the password, as the root's storage keeps them
/// (`String` on the [`Heap`](super::Heap)).
#[derive(Clone, PartialEq, Eq)]
pub struct Identity<T = super::DefaultText, P = super::DefaultPassword> {
    /// Device name without number, e.g. `gina` or `frank`.
    pub device_name: T,
    /// Device number; [`AUTO_DEVICE_NR`] (9000) for `*` (automatic).
    pub device_nr: u32,
    /// IO network name, e.g. `cafenet`; `*` or empty adopts the peer's (§9.3).
    pub network: T,
    /// 12-byte unique id, sent with automatic numbering on sockets (§9.1).
    pub unique_id: [u8; 12],
    /// Password sent by a TLS client (§9.1).
    pub password: P,
}

impl<T: fmt::Debug, P> fmt::Debug for Identity<T, P> {
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

#[cfg(feature = "alloc")]
impl Identity {
    /// An identity with automatic device number, zero unique id and no password.
    pub fn new(device_name: &str, network: &str) -> Self {
        Identity {
            device_name: device_name.into(),
            device_nr: AUTO_DEVICE_NR,
            network: network.into(),
            unique_id: [0; 12],
            password: alloc::string::String::new(),
        }
    }
}

impl<T: Text, P: Text> Identity<T, P> {
    /// [`Identity::new`] for any storage's names; `None` if a name does not fit.
    pub fn try_new(device_name: &str, network: &str) -> Option<Self> {
        Some(Identity {
            device_name: T::from_str(device_name)?,
            device_nr: AUTO_DEVICE_NR,
            network: T::from_str(network)?,
            unique_id: [0; 12],
            password: P::default(),
        })
    }
}

/// One (connection, block) binding: a source, a target, or (for a block flagged both UP
/// and DOWN) both. Their copies of the block share one buffer from the storage.
pub(crate) struct Binding<S: Storage> {
    pub block: BlockId,
    /// The peer's id of the block (data frames are addressed to it).
    pub peer_id: u32,
    /// The source's copies `S` and `D` (each `source.size` bytes), then the target's
    /// staging copy (`target.size` bytes).
    pub buf: S::Bytes,
    pub source: Option<Source>,
    pub target: Option<Target>,
    /// An mbinfo reply is due (end that is not connect-up, §10.4 step 5).
    pub reply_pending: bool,
}

impl<S: Storage> Default for Binding<S> {
    fn default() -> Self {
        Binding {
            block: BlockId::default(),
            peer_id: 0,
            buf: S::Bytes::default(),
            source: None,
            target: None,
            reply_pending: false,
        }
    }
}

impl<S: Storage> fmt::Debug for Binding<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding")
            .field("block", &self.block)
            .field("peer_id", &self.peer_id)
            .field("source", &self.source)
            .field("target", &self.target)
            .field("reply_pending", &self.reply_pending)
            .finish_non_exhaustive()
    }
}

/// A binding taken apart: the source's copies and the target's staging copy in its
/// buffer, and the source and target states.
pub(crate) struct Parts<'a> {
    pub sync: &'a mut [u8],
    pub d: &'a mut [u8],
    pub staging: &'a mut [u8],
    pub source: Option<&'a mut Source>,
    pub target: Option<&'a mut Target>,
}

impl<S: Storage> Binding<S> {
    fn sizes(&self) -> (usize, usize) {
        (
            self.source.as_ref().map_or(0, |s| s.size),
            self.target.as_ref().map_or(0, |t| t.size),
        )
    }

    /// The copies in the buffer.
    pub fn parts(&mut self) -> Parts<'_> {
        let (src, _) = self.sizes();
        let buf = self.buf.as_mut();
        let (sync, rest) = buf.split_at_mut(src.min(buf.len()));
        let (d, staging) = rest.split_at_mut(src.min(rest.len()));
        Parts {
            sync,
            d,
            staging,
            source: self.source.as_mut(),
            target: self.target.as_mut(),
        }
    }

    /// Gives the copies new sizes (a block grew, §10.4 step 3), keeping what they held;
    /// `false` if the storage has no room (the binding is left as it was).
    pub fn refit(&mut self, store: &mut S, src: usize, tgt: usize) -> bool {
        let (old_src, old_tgt) = self.sizes();
        if (src, tgt) == (old_src, old_tgt) {
            return true;
        }
        let Some(mut buf) = store.alloc(2 * src + tgt) else {
            return false;
        };
        {
            let old = self.parts();
            let new = buf.as_mut();
            let (sync, rest) = new.split_at_mut((2 * src).min(new.len()) / 2);
            let (d, staging) = rest.split_at_mut(src.min(rest.len()));
            for (dst, from) in [(sync, &*old.sync), (d, &*old.d), (staging, &*old.staging)] {
                let n = dst.len().min(from.len());
                if let (Some(dst), Some(from)) = (dst.get_mut(..n), from.get(..n)) {
                    dst.copy_from_slice(from);
                }
            }
        }
        let old = core::mem::replace(&mut self.buf, buf);
        store.free(old);
        if let Some(s) = &mut self.source {
            s.size = src;
        }
        if let Some(t) = &mut self.target {
            t.size = tgt;
        }
        true
    }
}

/// Root-side state of one connection.
pub struct ConnSlot<S: Storage> {
    pub(crate) id: u32,
    pub(crate) connect_up: bool,
    pub(crate) bindings: S::List<Binding<S>>,
    /// Peer ids to list in remove requests (§12).
    pub(crate) removes: S::List<u32>,
    /// Serials of blocks announced on this connection (connect-up end, §10.3).
    pub(crate) announced: S::List<u64>,
    /// Number assigned to the peer's automatically numbered blocks (§9.5).
    pub(crate) assigned_nr: Option<u32>,
}

impl<S: Storage> Default for ConnSlot<S> {
    fn default() -> Self {
        ConnSlot {
            id: 0,
            connect_up: false,
            bindings: Default::default(),
            removes: Default::default(),
            announced: Default::default(),
            assigned_nr: None,
        }
    }
}

impl<S: Storage> fmt::Debug for ConnSlot<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnSlot")
            .field("id", &self.id)
            .field("connect_up", &self.connect_up)
            .field("bindings", &self.bindings.len())
            .finish_non_exhaustive()
    }
}

/// A memory block as the storage `S` keeps it.
pub type BlockOf<S> = MemoryBlock<<S as Storage>::Bytes, <S as Storage>::Text>;

/// Process-wide IOCOM state shared by all connections, in storage `S`: the
/// [`Heap`](super::Heap) (a server, the default) or [`Fixed`](super::Fixed) memory
/// sized at build time (a device without an allocator).
pub struct Root<S: Storage = super::DefaultStorage> {
    pub(crate) store: S,
    pub(crate) identity: Identity<S::Text, S::Password>,
    /// In creation order (announcements follow it, §10.3).
    pub(crate) blocks: S::List<BlockOf<S>>,
    first_id: u16,
    next_id: u16,
    free_ids: S::List<u16>,
    next_serial: u64,
    pub(crate) conns: S::Conns,
    next_conn: u32,
}

impl<S: Storage + fmt::Debug> fmt::Debug for Root<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("identity", &self.identity)
            .field("blocks", &self.blocks.len())
            .field("connections", &self.conns.len())
            .field("storage", &self.store)
            .finish()
    }
}

#[cfg(feature = "alloc")]
impl Root {
    /// A root on the heap with no blocks; block ids start at 8, device numbers for
    /// automatically numbered peers come from [`MemoryNumbers`](super::MemoryNumbers)
    /// seeded with 1.
    pub fn new(identity: Identity) -> Self {
        Root::with_storage(super::Heap::default(), identity)
    }

    /// The authorization hook, consulted on the listening end of TLS connections (§9.4).
    pub fn set_authorizer(&mut self, hook: alloc::boxed::Box<dyn super::Authorizer + Send>) {
        self.store.authorizer = Some(hook);
    }

    /// Where automatic device numbers come from (§9.5).
    pub fn set_device_numbers(
        &mut self,
        numbers: alloc::boxed::Box<dyn super::DeviceNumbers + Send>,
    ) {
        self.store.numbers = numbers;
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
        data: alloc::vec::Vec<u8>,
    ) {
        self.store.presets.insert(
            (name.into(), device_name.into(), device_nr, network.into()),
            data,
        );
    }

    /// [`Root::send`] for every block in `dirty`, keeping in the set only the blocks whose
    /// changes could not all go into a snapshot yet (to be sent again on the next turn).
    pub fn send_dirty(&mut self, dirty: &mut alloc::collections::BTreeSet<BlockId>) {
        dirty.retain(|&id| {
            self.send(id);
            self.has_unsent_changes(id)
        });
    }
}

impl<S: Storage> Root<S> {
    /// A root with no blocks in `store`; block ids start at 8.
    pub fn with_storage(store: S, identity: Identity<S::Text, S::Password>) -> Self {
        Root {
            store,
            identity,
            blocks: Default::default(),
            first_id: FIRST_BLOCK_ID,
            next_id: FIRST_BLOCK_ID,
            free_ids: Default::default(),
            next_serial: 1,
            conns: Default::default(),
            next_conn: 1,
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

    /// The local identity.
    pub fn identity(&self) -> &Identity<S::Text, S::Password> {
        &self.identity
    }

    /// The storage (with [`Fixed`](super::Fixed) storage: how much memory is used).
    pub fn storage(&self) -> &S {
        &self.store
    }

    /// All blocks, in creation order.
    pub fn blocks(&self) -> impl Iterator<Item = &BlockOf<S>> {
        self.blocks.iter()
    }

    /// A block by id.
    pub fn block(&self, id: BlockId) -> Option<&BlockOf<S>> {
        self.blocks.get(self.store.block_index(&self.blocks, id)?)
    }

    pub(crate) fn block_mut(&mut self, id: BlockId) -> Option<&mut BlockOf<S>> {
        let i = self.store.block_index(&self.blocks, id)?;
        self.blocks.get_mut(i)
    }

    /// A block by its wire identity.
    pub fn find_block(
        &self,
        name: &str,
        device_name: &str,
        device_nr: u32,
        network: &str,
    ) -> Option<&BlockOf<S>> {
        self.blocks.iter().find(|b| {
            b.name.as_ref() == name
                && b.device_name.as_ref() == device_name
                && b.device_nr == device_nr
                && b.network.as_ref() == network
        })
    }

    /// Creates a block of this device (owner = the root identity) with `data` as its
    /// initial content. `None` when all ids 8..=32767 are in use or the storage is full.
    pub fn create_block(
        &mut self,
        name: &str,
        flags: BlockFlags,
        data: S::Bytes,
    ) -> Option<BlockId> {
        let (dn, nr, net) = (
            self.identity.device_name.clone(),
            self.identity.device_nr,
            self.identity.network.clone(),
        );
        self.insert_block(name, dn.as_ref(), nr, net.as_ref(), flags, data, None)
    }

    /// [`Root::create_block`] of `size` bytes starting with `init` (zeros after it), the
    /// buffer taken from the storage. `None` also if `init` is longer than `size`.
    pub fn create_block_from(
        &mut self,
        name: &str,
        flags: BlockFlags,
        size: usize,
        init: &[u8],
    ) -> Option<BlockId> {
        if init.len() > size {
            return None;
        }
        let mut data = self.store.alloc(size)?;
        if let Some(head) = data.as_mut().get_mut(..init.len()) {
            head.copy_from_slice(init);
        }
        self.create_block(name, flags, data)
    }

    /// A buffer of `len` zero bytes from the storage (for [`Root::create_block`]).
    pub fn alloc(&mut self, len: usize) -> Option<S::Bytes> {
        self.store.alloc(len)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_block(
        &mut self,
        name: &str,
        device_name: &str,
        device_nr: u32,
        network: &str,
        flags: BlockFlags,
        data: S::Bytes,
        created_by: Option<u32>,
    ) -> Option<BlockId> {
        let names = (
            S::Text::from_str(name),
            S::Text::from_str(device_name),
            S::Text::from_str(network),
        );
        let (Some(name), Some(device_name), Some(network)) = names else {
            self.store.free(data);
            return None;
        };
        let Some(id) = self.alloc_id() else {
            self.store.free(data);
            return None;
        };
        let block = MemoryBlock {
            id,
            name,
            device_name,
            device_nr,
            network,
            flags,
            data,
            serial: self.next_serial,
            created_by,
        };
        if let Err(block) = self.blocks.push(block) {
            self.store.free(block.data);
            let _ = self.free_ids.push(id.0);
            return None;
        }
        self.next_serial += 1;
        self.store.block_added(id, self.blocks.len() - 1);
        Some(id)
    }

    fn alloc_id(&mut self) -> Option<BlockId> {
        if let Some(&id) = self.free_ids.last() {
            self.free_ids.remove(self.free_ids.len() - 1);
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
        let Some(block) = self.block_mut(id) else {
            return false;
        };
        let Some(dst) = block
            .data
            .as_mut()
            .get_mut(addr..addr.saturating_add(bytes.len()))
        else {
            return false;
        };
        dst.copy_from_slice(bytes);
        self.mark_changed(id, addr..addr + bytes.len(), None);
        true
    }

    /// Content of a block.
    pub fn read(&self, id: BlockId) -> Option<&[u8]> {
        self.block(id).map(|b| b.data.as_ref())
    }

    /// Takes a snapshot of the block's changes on every connection that sends it
    /// (the C application's "send" call, §11.2).
    pub fn send(&mut self, id: BlockId) {
        self.snapshot(id, None);
    }

    /// Snapshots of block `id` on every connection sending it, except `except`.
    fn snapshot(&mut self, id: BlockId, except: Option<u32>) {
        let Some(i) = self.store.block_index(&self.blocks, id) else {
            return;
        };
        let Root {
            store,
            blocks,
            conns,
            ..
        } = self;
        let Some(block) = blocks.get(i) else {
            return;
        };
        let is_static = block.is_static();
        let data = block.data.as_ref();
        let visit = |store: &mut S, slot: &mut ConnSlot<S>| {
            if Some(slot.id) == except {
                return;
            }
            for b in slot.bindings.iter_mut().filter(|b| b.block == id) {
                if b.source.is_none() {
                    continue;
                }
                let src = Source::bytes_for(data.len(), is_static) / 2;
                let tgt = b.target.as_ref().map_or(0, |t| t.size);
                if !b.refit(store, src, tgt) {
                    continue;
                }
                let p = b.parts();
                if let Some(s) = p.source {
                    s.take_snapshot(data, p.sync, p.d, is_static);
                }
            }
        };
        if store.binders(id).is_some() {
            let mut k = 0;
            while let Some(conn) = store.binders(id).and_then(|l| l.get(k)).copied() {
                k += 1;
                if let Some(slot) = slot_in(conns, conn) {
                    visit(store, slot);
                }
            }
        } else {
            for slot in conns.iter_mut() {
                visit(store, slot);
            }
        }
    }

    /// `true` if some connection sending the block holds changes that are not yet in a
    /// snapshot: [`Root::send`] came while the previous snapshot was still being
    /// transmitted (departure 9 in ENGINE.md). Call [`Root::send`] again later.
    pub fn has_unsent_changes(&self, id: BlockId) -> bool {
        let pending = |slot: &ConnSlot<S>| {
            slot.bindings
                .iter()
                .filter(|b| b.block == id)
                .any(|b| b.source.as_ref().is_some_and(Source::has_changes))
        };
        match self.store.binders(id) {
            Some(list) => list.iter().any(|&conn| {
                slot_index(&self.conns, conn)
                    .and_then(|i| self.conns.get(i))
                    .is_some_and(pending)
            }),
            None => self.conns.iter().any(pending),
        }
    }

    fn mark_changed(&mut self, id: BlockId, range: Range<usize>, except: Option<u32>) {
        let Root { store, conns, .. } = self;
        let visit = |slot: &mut ConnSlot<S>| {
            if Some(slot.id) == except {
                return;
            }
            for b in slot.bindings.iter_mut().filter(|b| b.block == id) {
                if let Some(s) = &mut b.source {
                    s.mark_changed(range.clone());
                }
            }
        };
        match store.binders(id) {
            Some(list) => {
                for &conn in list {
                    if let Some(slot) = slot_in(conns, conn) {
                        visit(slot);
                    }
                }
            }
            None => conns.iter_mut().for_each(visit),
        }
    }

    /// Relays a snapshot received on connection `from` to the block's senders on the
    /// other connections (§11.4, how a server passes data up or down).
    pub(crate) fn relay(&mut self, id: BlockId, range: Range<usize>, from: u32) {
        self.mark_changed(id, range, Some(from));
        self.snapshot(id, Some(from));
    }

    /// Deletes a block. Connections that are connect-up and had it bound queue a remove
    /// request for the peer's id (§12). Returns the removed block (its buffer is no longer
    /// the storage's). `None` with storage that keeps a fixed set of blocks
    /// ([`Fixed`](super::Fixed), see [`Storage::DYNAMIC_BLOCKS`]).
    pub fn remove_block(&mut self, id: BlockId) -> Option<BlockOf<S>> {
        if !S::DYNAMIC_BLOCKS {
            return None;
        }
        self.remove_block_from(id, None)
    }

    pub(crate) fn remove_block_from(
        &mut self,
        id: BlockId,
        from: Option<u32>,
    ) -> Option<BlockOf<S>> {
        let i = self.store.block_index(&self.blocks, id)?;
        let block = self.blocks.remove(i)?;
        self.store.block_removed(id, i);
        let Root { store, conns, .. } = self;
        for slot in conns.iter_mut() {
            if store.binders(id).is_some_and(|l| !l.contains(&slot.id)) {
                continue;
            }
            let mut peer = None;
            slot.bindings.retain_or(
                |b| b.block != id,
                |b| {
                    peer = Some(b.peer_id);
                    store.free(b.buf);
                },
            );
            if let Some(peer) = peer
                && slot.connect_up
                && Some(slot.id) != from
            {
                let _ = slot.removes.push(peer);
            }
        }
        store.forget_binders(id);
        let _ = self.free_ids.push(id.0);
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

    /// A slot for a new connection; `None` if the storage has no room for another.
    pub(crate) fn attach(&mut self, connect_up: bool) -> Option<u32> {
        let id = self.next_conn;
        let slot = ConnSlot {
            id,
            connect_up,
            ..ConnSlot::default()
        };
        self.conns.push(slot).ok()?;
        self.next_conn = self.next_conn.wrapping_add(1);
        Some(id)
    }

    pub(crate) fn slot(&mut self, conn: u32) -> Option<&mut ConnSlot<S>> {
        slot_in(&mut self.conns, conn)
    }

    /// Connection state reset (§8.4): bindings discarded, dynamic blocks the connection
    /// created released (with remove requests upward), pending requests forgotten.
    pub(crate) fn reset_conn(
        &mut self,
        conn: u32,
        connect_up: bool,
        events: &mut impl FnMut(Event<S::Text>),
    ) {
        let Root { store, conns, .. } = self;
        if let Some(slot) = slot_in(conns, conn) {
            // Given back in reverse order of binding, so that buffers carved last come
            // back first.
            while let Some(b) = slot
                .bindings
                .len()
                .checked_sub(1)
                .and_then(|i| slot.bindings.remove(i))
            {
                store.unbound(b.block, conn);
                store.free(b.buf);
            }
            slot.removes.drop_front(usize::MAX);
            slot.announced.drop_front(usize::MAX);
            slot.assigned_nr = None;
            slot.connect_up = connect_up;
        }
        while let Some(id) = self
            .blocks
            .iter()
            .find(|b| S::DYNAMIC_BLOCKS && b.created_by == Some(conn))
            .map(|b| b.id)
        {
            if let Some(b) = self.remove_block_from(id, Some(conn)) {
                events(Event::BlockRemoved {
                    block: b.id,
                    name: b.name,
                });
                self.store.free(b.data);
            }
        }
    }

    /// Forgets a connection entirely (call when it is gone for good).
    pub(crate) fn detach(&mut self, conn: u32, events: &mut impl FnMut(Event<S::Text>)) {
        self.reset_conn(conn, false, events);
        if let Some(i) = slot_index(&self.conns, conn) {
            self.conns.remove(i);
        }
    }
}

/// Index of connection `conn` in `conns`. Connection ids are handed out in increasing
/// order and slots are appended, so the list is sorted, unless the 32-bit id counter
/// wrapped; then a linear search finds it. A server with thousands of connections looks
/// its slot up for every frame.
pub(crate) fn slot_index<S: Storage>(conns: &[ConnSlot<S>], conn: u32) -> Option<usize> {
    conns
        .binary_search_by_key(&conn, |s| s.id)
        .ok()
        .or_else(|| conns.iter().position(|s| s.id == conn))
}

/// The slot of connection `conn`; see [`slot_index`].
pub(crate) fn slot_in<S: Storage>(
    conns: &mut [ConnSlot<S>],
    conn: u32,
) -> Option<&mut ConnSlot<S>> {
    let i = slot_index(conns, conn)?;
    conns.get_mut(i)
}
