//! Memory blocks (§10.1).

use ferrocom_wire::iocom::BlockFlags;

/// Local id of a memory block: 8..=32767, allocated by the [`Root`](super::Root) and
/// reused when freed (quirk 7 of §20: the C end keeps ids as signed 16-bit numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlockId(pub u16);

/// A byte array mirrored between the ends of every connection that binds it.
///
/// `D` holds the content and `T` the names, as the root's
/// [`Storage`](super::Storage) keeps them: `Vec<u8>` and `String` on the [`Heap`](super::Heap).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryBlock<D = super::DefaultBytes, T = super::DefaultText> {
    /// Local id (8..=32767).
    pub id: BlockId,
    /// Block name, e.g. `exp` (≤ 15 bytes).
    pub name: T,
    /// Device name of the owner, e.g. `gina` (≤ 15 bytes).
    pub device_name: T,
    /// Device number of the owner; 9000 = automatic.
    pub device_nr: u32,
    /// IO network name, e.g. `cafenet` (≤ 23 bytes).
    pub network: T,
    /// Block flags (UP, DOWN, STATIC, DYNAMIC, ...).
    pub flags: BlockFlags,
    /// Current content.
    pub data: D,
    /// Creation serial: distinguishes a block from a later one that reuses its id.
    pub(crate) serial: u64,
    /// Connection whose mbinfo created this block dynamically (§10.4), if any.
    pub(crate) created_by: Option<u32>,
}

impl<D: AsRef<[u8]>, T> MemoryBlock<D, T> {
    /// `true` if the block carries constant content sent raw once per connection.
    pub fn is_static(&self) -> bool {
        self.flags.contains(BlockFlags::STATIC)
    }

    /// `true` if created dynamically from a peer's memory-block-info frame.
    pub fn is_dynamic(&self) -> bool {
        self.flags.contains(BlockFlags::DYNAMIC)
    }

    /// The content.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_ref()
    }
}
