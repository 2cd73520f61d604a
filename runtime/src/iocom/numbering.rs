//! Automatic device numbers (§9.5). Persistence is the caller's: implement
//! [`DeviceNumbers`] over a database, or use [`MemoryNumbers`] and persist the
//! `Event::DeviceNumberAssigned` events.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;
#[cfg(feature = "alloc")]
use core::fmt;

/// Assigns numbers to peers that announce blocks with the automatic number 9000.
pub trait DeviceNumbers {
    /// A number for a peer. With a unique id the same id should get the same number
    /// (the C server keeps 9001..=39999 persistent per unique id); without one, any number
    /// in 9001..=2³¹−1 for which `in_use` is false (the C server picks a random one).
    fn assign(&mut self, unique_id: Option<&[u8; 12]>, in_use: &dyn Fn(u32) -> bool) -> u32;
}

#[cfg(feature = "alloc")]
/// In-memory numbering like the C server's: unique id → 9001, 9002, … (remembered);
/// without a unique id a pseudo-random number from a caller-seeded xorshift generator
/// (no RNG inside the engine).
#[derive(Clone)]
pub struct MemoryNumbers {
    by_id: Vec<([u8; 12], u32)>,
    next: u32,
    rng: u64,
}

#[cfg(feature = "alloc")]
impl fmt::Debug for MemoryNumbers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryNumbers")
            .field("known", &self.by_id.len())
            .field("next", &self.next)
            .finish()
    }
}

#[cfg(feature = "alloc")]
impl MemoryNumbers {
    /// Empty table; `seed` drives the numbers of peers without a unique id.
    pub fn new(seed: u64) -> Self {
        MemoryNumbers {
            by_id: Vec::new(),
            next: 9001,
            rng: seed | 1,
        }
    }

    /// Pre-load a remembered mapping (e.g. from a database).
    pub fn remember(&mut self, unique_id: [u8; 12], device_nr: u32) {
        self.by_id.push((unique_id, device_nr));
        if device_nr >= self.next && device_nr < 40_000 {
            self.next = device_nr + 1;
        }
    }

    fn random(&mut self) -> u32 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let r = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as u32; // 31 bits
        9001 + r % (0x7FFF_FFFF - 9001)
    }
}

#[cfg(feature = "alloc")]
impl DeviceNumbers for MemoryNumbers {
    fn assign(&mut self, unique_id: Option<&[u8; 12]>, in_use: &dyn Fn(u32) -> bool) -> u32 {
        if let Some(uid) = unique_id {
            if let Some((_, nr)) = self.by_id.iter().find(|(u, _)| u == uid) {
                return *nr;
            }
            while self.next < 40_000 && in_use(self.next) {
                self.next += 1;
            }
            if self.next < 40_000 {
                let nr = self.next;
                self.next += 1;
                self.by_id.push((*uid, nr));
                return nr;
            }
        }
        loop {
            let nr = self.random();
            if !in_use(nr) {
                return nr;
            }
        }
    }
}
