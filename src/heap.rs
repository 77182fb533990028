//! Heap accounting for `brokerlab bench --step-back`: a global allocator that counts the bytes
//! currently allocated, so the bench can report checkpoint memory as measured rather than
//! estimated. The binary installs it (`src/main.rs`); counting is off until [`start_counting`]
//! is called, so every other command pays one relaxed load per allocation and nothing more.
//! Tests and library users run without it, and [`counting`] then says so.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting started (frees of memory allocated before
/// that can make it drift below zero by as much as was then allocated; the bench starts
/// counting before it builds anything and only reads differences).
static LIVE: AtomicI64 = AtomicI64::new(0);

/// The system allocator, counting live bytes once [`start_counting`] has been called.
pub struct CountingAlloc;

impl CountingAlloc {
    fn add(bytes: usize) {
        if ENABLED.load(Ordering::Relaxed) {
            LIVE.fetch_add(bytes as i64, Ordering::Relaxed);
        }
    }

    fn sub(bytes: usize) {
        if ENABLED.load(Ordering::Relaxed) {
            LIVE.fetch_sub(bytes as i64, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::add(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::add(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::sub(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::sub(layout.size());
        Self::add(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Called by the binary that installs [`CountingAlloc`] as its global allocator.
pub fn mark_installed() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Whether heap bytes can be measured in this process.
pub fn counting() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Start counting live heap bytes (from zero).
pub fn start_counting() {
    LIVE.store(0, Ordering::Relaxed);
    ENABLED.store(true, Ordering::Relaxed);
}

/// Live heap bytes since [`start_counting`] (0 if the allocator is not installed).
pub fn live_bytes() -> i64 {
    LIVE.load(Ordering::Relaxed)
}
