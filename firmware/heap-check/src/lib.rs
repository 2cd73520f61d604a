//! A counting global allocator for measuring heap use (`tests/heap.rs`, BENCHMARKS.md
//! "Firmware"): it forwards to the system allocator and, while counting is on for the
//! calling thread, counts allocations and the bytes live and at their peak.
//!
//! Counting is per thread, so that the in-memory server a test runs between the device's
//! calls (and the test harness) is not counted.

#![deny(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static STATS: Cell<Stats> = const { Cell::new(Stats::ZERO) };
    static ON: Cell<bool> = const { Cell::new(false) };
}

/// Heap use counted while [`count`] ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Allocations (including growing reallocations).
    pub allocs: u64,
    /// Bytes allocated and not freed.
    pub live: i64,
    /// The most `live` was.
    pub peak: i64,
}

impl Stats {
    const ZERO: Stats = Stats {
        allocs: 0,
        live: 0,
        peak: 0,
    };
}

/// Runs `f` with counting on for this thread; returns its result.
pub fn count<R>(f: impl FnOnce() -> R) -> R {
    ON.with(|on| on.set(true));
    let r = f();
    ON.with(|on| on.set(false));
    r
}

/// What was counted on this thread so far; starts a new count.
pub fn take() -> Stats {
    STATS.with(|s| s.replace(Stats::ZERO))
}

fn note(alloc: i64, freed: i64) {
    // `try_with`: the thread-local may be gone while a thread exits.
    let on = ON.try_with(Cell::get).unwrap_or(false);
    if !on {
        return;
    }
    let _ = STATS.try_with(|s| {
        let mut st = s.get();
        if alloc > 0 {
            st.allocs += 1;
        }
        st.live += alloc - freed;
        st.peak = st.peak.max(st.live);
        s.set(st);
    });
}

/// The counting allocator; install it with `#[global_allocator]`.
#[derive(Debug)]
pub struct Counting;

fn size(layout: Layout) -> i64 {
    i64::try_from(layout.size()).unwrap_or(i64::MAX)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping only touches thread-locals with constant initialisers, which never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(size(layout), 0);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(size(layout), 0);
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, size(layout));
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(i64::try_from(new_size).unwrap_or(i64::MAX), size(layout));
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
