//! Where the engine keeps its state: on the heap ([`Heap`], a server with any number of
//! connections and dynamic blocks) or in memory sized at build time ([`Fixed`], a device
//! with a fixed signal map and no allocator).
//!
//! The engine itself is the same for both; a [`Storage`] only decides how its byte
//! buffers, names and lists are held, and carries the server-only hooks (authorization,
//! automatic device numbers, presets of dynamic blocks), so that a device links none of
//! their code.

use core::fmt::Debug;
use core::ops::{Deref, DerefMut};

use super::auth::AuthDecision;
use super::block::{BlockId, MemoryBlock};
use super::event::Event;
use super::root::ConnSlot;
use ferrocom_wire::iocom::Authentication;

/// A name the engine keeps: block, device and network names (at most 25 bytes on the
/// wire), or a password (at most 45).
pub trait Text: Default + Clone + Debug + PartialEq + Eq + AsRef<str> {
    /// `s` as a text; `None` if it does not fit.
    fn from_str(s: &str) -> Option<Self>;
}

/// A list the engine keeps (blocks, connections, bindings, ids), growable or with a
/// capacity fixed at build time.
pub trait List<T>: Default + Debug + Deref<Target = [T]> + DerefMut {
    /// Appends `item`; `Err(item)` if the list is full.
    fn push(&mut self, item: T) -> Result<(), T>;

    /// Removes and returns the item at `index` (the later ones move down).
    fn remove(&mut self, index: usize) -> Option<T>;

    /// Keeps the items for which `keep` holds, in order, and hands every other one to
    /// `removed` (so that its buffers can be given back).
    fn retain_or(&mut self, keep: impl FnMut(&mut T) -> bool, removed: impl FnMut(T));

    /// Removes the first `n` items (all if there are fewer).
    fn drop_front(&mut self, n: usize);
}

/// The event queue of a connection.
pub trait Queue<T>: Default + Debug {
    /// Appends `item`; `Err(item)` if the queue is full.
    fn push_back(&mut self, item: T) -> Result<(), T>;

    /// The oldest item.
    fn pop_front(&mut self) -> Option<T>;

    /// The queued items, oldest first.
    fn iter_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
    where
        T: 'a;
}

/// The memory of an IOCOM [`Root`](super::Root) and its connections.
///
/// Implemented by [`Heap`] (`Vec`, `String`, indexes for thousands of connections, the
/// server hooks) and [`Fixed`] (buffers carved from one byte array, lists of fixed
/// capacity, no hooks). Everything else is the one engine.
pub trait Storage: Sized {
    /// A byte buffer: a block's content, a binding's source and target copies, the frame
    /// being reassembled. Always as long as asked for, zero-filled when new.
    type Bytes: AsRef<[u8]> + AsMut<[u8]> + Default + Debug;
    /// Block, device, network and user names.
    type Text: Text;
    /// The password a TLS client sends.
    type Password: Text;
    /// A list with room for as many items as the root has blocks.
    type List<T: Default + Debug>: List<T>;
    /// The root's connections.
    type Conns: List<ConnSlot<Self>>;
    /// A connection's events.
    type Events: Queue<Event<Self::Text>>;

    /// Whether the set of blocks can change: blocks a peer announces created here
    /// (`allow_dynamic`, §10.4), blocks removed (by [`Root::remove_block`](super::Root::remove_block)
    /// or a peer's remove request, §12). On the heap, yes; [`Fixed`] memory is sized for
    /// the blocks its owner creates, which stay.
    const DYNAMIC_BLOCKS: bool = true;

    /// A zero-filled buffer of `len` bytes; `None` when the memory is exhausted.
    fn alloc(&mut self, len: usize) -> Option<Self::Bytes>;

    /// Gives a buffer back.
    fn free(&mut self, bytes: Self::Bytes);

    /// Makes `bytes` `len` bytes long, keeping its first bytes and zero-filling the rest;
    /// `false` (and `bytes` unchanged) when the memory is exhausted.
    fn resize(&mut self, bytes: &mut Self::Bytes, len: usize) -> bool {
        if bytes.as_ref().len() == len {
            return true;
        }
        let Some(mut new) = self.alloc(len) else {
            return false;
        };
        let keep = len.min(bytes.as_ref().len());
        if let (Some(dst), Some(src)) = (new.as_mut().get_mut(..keep), bytes.as_ref().get(..keep)) {
            dst.copy_from_slice(src);
        }
        let old = core::mem::replace(bytes, new);
        self.free(old);
        true
    }

    /// Position of block `id` in `blocks` (creation order).
    fn block_index(
        &self,
        blocks: &[MemoryBlock<Self::Bytes, Self::Text>],
        id: BlockId,
    ) -> Option<usize> {
        blocks.iter().position(|b| b.id == id)
    }

    /// Block `id` was appended at position `index`.
    fn block_added(&mut self, id: BlockId, index: usize) {
        let _ = (id, index);
    }

    /// Block `id` was removed from position `index` (later blocks moved down).
    fn block_removed(&mut self, id: BlockId, index: usize) {
        let _ = (id, index);
    }

    /// The connections that bind block `id`, if the storage keeps that index; `None`:
    /// look at every connection.
    fn binders(&self, id: BlockId) -> Option<&[u32]> {
        let _ = id;
        None
    }

    /// Connection `conn` bound block `id`.
    fn bound(&mut self, id: BlockId, conn: u32) {
        let _ = (id, conn);
    }

    /// Connection `conn` no longer binds block `id`.
    fn unbound(&mut self, id: BlockId, conn: u32) {
        let _ = (id, conn);
    }

    /// Block `id` is gone: no connection binds it.
    fn forget_binders(&mut self, id: BlockId) {
        let _ = id;
    }

    /// The authorization hook's decision on a TLS peer (§9.4); `None` without a hook.
    fn authorize(&mut self, auth: &Authentication<'_>) -> Option<AuthDecision> {
        let _ = auth;
        None
    }

    /// A device number for a peer announcing blocks with the automatic number (§9.5).
    fn assign_number(&mut self, unique_id: Option<&[u8; 12]>, in_use: &dyn Fn(u32) -> bool) -> u32;

    /// What a dynamically created block starts with instead of zeros, if preset.
    fn take_preset(
        &mut self,
        name: &str,
        device_name: &str,
        device_nr: u32,
        network: &str,
        size: usize,
    ) -> Option<Self::Bytes> {
        let _ = (name, device_name, device_nr, network, size);
        None
    }
}

#[cfg(feature = "alloc")]
pub use heap::Heap;

/// The storage [`Root`](super::Root) and [`Connection`](super::Connection) use unless
/// given another: the [`Heap`] (feature `alloc`), else [`Fixed`] memory.
#[cfg(feature = "alloc")]
pub type DefaultStorage = Heap;
/// See [`DefaultStorage`].
#[cfg(not(feature = "alloc"))]
pub type DefaultStorage = Fixed<'static, 8>;
/// Names in the [`DefaultStorage`] (the default of [`MemoryBlock`], [`Event`] and
/// [`Identity`](super::Identity)).
pub type DefaultText = <DefaultStorage as Storage>::Text;
/// Block contents in the [`DefaultStorage`].
pub type DefaultBytes = <DefaultStorage as Storage>::Bytes;
/// The password in the [`DefaultStorage`].
pub type DefaultPassword = <DefaultStorage as Storage>::Password;

#[cfg(feature = "alloc")]
mod heap {
    use alloc::boxed::Box;
    use alloc::collections::{BTreeMap, VecDeque};
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::fmt;

    use ferrocom_wire::iocom::Authentication;

    use super::super::auth::{AuthRequest, Authorizer, HookDebug, hash_password, user_with_number};
    use super::super::numbering::{DeviceNumbers, MemoryNumbers};
    use super::*;

    impl Text for String {
        fn from_str(s: &str) -> Option<Self> {
            Some(s.into())
        }
    }

    impl<T: Debug> List<T> for Vec<T> {
        fn push(&mut self, item: T) -> Result<(), T> {
            Vec::push(self, item);
            Ok(())
        }

        fn remove(&mut self, index: usize) -> Option<T> {
            (index < self.len()).then(|| Vec::remove(self, index))
        }

        fn retain_or(&mut self, mut keep: impl FnMut(&mut T) -> bool, removed: impl FnMut(T)) {
            self.extract_if(.., |t| !keep(t)).for_each(removed);
        }

        fn drop_front(&mut self, n: usize) {
            self.drain(..n.min(self.len()));
        }
    }

    impl<T: Debug> Queue<T> for VecDeque<T> {
        fn push_back(&mut self, item: T) -> Result<(), T> {
            VecDeque::push_back(self, item);
            Ok(())
        }

        fn pop_front(&mut self) -> Option<T> {
            VecDeque::pop_front(self)
        }

        fn iter_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
        where
            T: 'a,
        {
            VecDeque::iter_mut(self)
        }
    }

    /// Initial content of dynamic blocks to come, by (block, device, number, network).
    type Presets = BTreeMap<(String, String, u32, String), Vec<u8>>;

    /// Storage on the heap: `Vec<u8>` buffers, `String` names, lists that grow, indexes by
    /// block id for a server with thousands of connections, and the server hooks
    /// ([`Root::set_authorizer`](super::super::Root::set_authorizer),
    /// [`Root::set_device_numbers`](super::super::Root::set_device_numbers),
    /// [`Root::preset_dynamic_block`](super::super::Root::preset_dynamic_block)).
    pub struct Heap {
        /// Block id → position in the root's block list.
        pos: BTreeMap<u16, usize>,
        /// Block id → connections that bind it, so that a write or a relay visits those
        /// instead of every connection of a busy server.
        binders: BTreeMap<u16, Vec<u32>>,
        pub(crate) presets: Presets,
        pub(crate) authorizer: Option<Box<dyn Authorizer + Send>>,
        pub(crate) numbers: Box<dyn DeviceNumbers + Send>,
    }

    impl Default for Heap {
        /// No hooks; automatic device numbers from [`MemoryNumbers`] seeded with 1.
        fn default() -> Self {
            Heap {
                pos: BTreeMap::new(),
                binders: BTreeMap::new(),
                presets: BTreeMap::new(),
                authorizer: None,
                numbers: Box::new(MemoryNumbers::new(1)),
            }
        }
    }

    impl fmt::Debug for Heap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Heap")
                .field("authorizer", &self.authorizer.as_ref().map(|_| HookDebug))
                .finish_non_exhaustive()
        }
    }

    impl Storage for Heap {
        type Bytes = Vec<u8>;
        type Text = String;
        type Password = String;
        type List<T: Default + Debug> = Vec<T>;
        type Conns = Vec<ConnSlot<Self>>;
        type Events = VecDeque<Event<String>>;

        fn alloc(&mut self, len: usize) -> Option<Vec<u8>> {
            Some(alloc::vec![0; len])
        }

        fn free(&mut self, _bytes: Vec<u8>) {}

        fn resize(&mut self, bytes: &mut Vec<u8>, len: usize) -> bool {
            bytes.resize(len, 0);
            true
        }

        fn block_index(
            &self,
            blocks: &[MemoryBlock<Vec<u8>, String>],
            id: BlockId,
        ) -> Option<usize> {
            let i = *self.pos.get(&id.0)?;
            (i < blocks.len()).then_some(i)
        }

        fn block_added(&mut self, id: BlockId, index: usize) {
            self.pos.insert(id.0, index);
        }

        fn block_removed(&mut self, id: BlockId, index: usize) {
            self.pos.remove(&id.0);
            for p in self.pos.values_mut() {
                if *p > index {
                    *p -= 1;
                }
            }
        }

        fn binders(&self, id: BlockId) -> Option<&[u32]> {
            Some(
                self.binders
                    .get(&id.0)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            )
        }

        fn bound(&mut self, id: BlockId, conn: u32) {
            let list = self.binders.entry(id.0).or_default();
            if !list.contains(&conn) {
                list.push(conn);
            }
        }

        fn unbound(&mut self, id: BlockId, conn: u32) {
            if let Some(list) = self.binders.get_mut(&id.0) {
                list.retain(|c| *c != conn);
                if list.is_empty() {
                    self.binders.remove(&id.0);
                }
            }
        }

        fn forget_binders(&mut self, id: BlockId) {
            self.binders.remove(&id.0);
        }

        fn authorize(&mut self, a: &Authentication<'_>) -> Option<AuthDecision> {
            let hook = self.authorizer.as_mut()?;
            let user = user_with_number(a.user, a.device_nr);
            let hash = (!a.password.is_empty()).then(|| hash_password(a.password));
            let req = AuthRequest {
                user: &user,
                network: a.network,
                password_hash: hash.as_deref(),
                unique_id: a.unique_id,
                flags: a.flags,
            };
            Some(hook.authorize(&req))
        }

        fn assign_number(
            &mut self,
            unique_id: Option<&[u8; 12]>,
            in_use: &dyn Fn(u32) -> bool,
        ) -> u32 {
            self.numbers.assign(unique_id, in_use)
        }

        fn take_preset(
            &mut self,
            name: &str,
            device_name: &str,
            device_nr: u32,
            network: &str,
            size: usize,
        ) -> Option<Vec<u8>> {
            if self.presets.is_empty() {
                return None;
            }
            let key = (name.into(), device_name.into(), device_nr, network.into());
            let data = self.presets.remove(&key)?;
            (data.len() == size).then_some(data)
        }
    }
}

pub use fixed::{Fixed, FixedDeque, FixedStr, FixedVec};

mod fixed;
