//! Memory blocks (§10.1).

use alloc::string::String;
use alloc::vec::Vec;

use ferrocom_wire::iocom::BlockFlags;

/// Local id of a memory block: 8..=32767, allocated by the [`Root`](super::Root) and
/// reused when freed (quirk 7 of §20: the C end keeps ids as signed 16-bit numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub u16);

/// A byte array mirrored between the ends of every connection that binds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBlock {
    /// Local id (8..=32767).
    pub id: BlockId,
    /// Block name, e.g. `exp` (≤ 15 bytes).
    pub name: String,
    /// Device name of the owner, e.g. `gina` (≤ 15 bytes).
    pub device_name: String,
    /// Device number of the owner; 9000 = automatic.
    pub device_nr: u32,
    /// IO network name, e.g. `cafenet` (≤ 23 bytes).
    pub network: String,
    /// Block flags (UP, DOWN, STATIC, DYNAMIC, ...).
    pub flags: BlockFlags,
    /// Current content.
    pub data: Vec<u8>,
    /// Creation serial: distinguishes a block from a later one that reuses its id.
    pub(crate) serial: u64,
    /// Connection whose mbinfo created this block dynamically (§10.4), if any.
    pub(crate) created_by: Option<u32>,
}

impl MemoryBlock {
    /// `true` if the block carries constant content sent raw once per connection.
    pub fn is_static(&self) -> bool {
        self.flags.contains(BlockFlags::STATIC)
    }

    /// `true` if created dynamically from a peer's memory-block-info frame.
    pub fn is_dynamic(&self) -> bool {
        self.flags.contains(BlockFlags::DYNAMIC)
    }
}
