//! Heap accounting: a global allocator that counts, per thread, the bytes currently allocated,
//! so that `brokerlab bench --step-back` reports checkpoint memory as measured rather than
//! estimated, and a session can keep its checkpoints within a share of the simulation state
//! (see `session.rs`). The binary installs it (`src/main.rs`), as do the test builds; counting
//! is off on a thread until [`start_counting`] or [`keep_counting`] is called there, so every
//! other thread pays one thread-local read per allocation and nothing more. Library users
//! without it run as before, and [`counting`] then says so.
//!
//! Counting is per thread: the tests run many sessions at once, one per thread, and each must
//! see only its own allocations. A session lives on one thread, as the TUI's does.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

thread_local! {
    /// Whether this thread counts its allocations.
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread allocated minus bytes it freed since it started counting (frees of
    /// memory allocated before that can make it drift below zero by as much as was then
    /// allocated; readers only take differences).
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

/// The system allocator, counting live bytes on the threads that asked for it.
pub struct CountingAlloc;

impl CountingAlloc {
    fn add(bytes: i64) {
        // `try_with`: an allocation made while the thread's locals are torn down is not counted.
        let _ = ENABLED.try_with(|on| {
            if on.get() {
                let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
            }
        });
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes, and
// the thread-locals they use are constant-initialised without destructors (no allocation).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::add(layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::add(layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::add(-(layout.size() as i64));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::add(new_size as i64 - layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// 0: not probed yet, 1: not installed, 2: installed.
static INSTALLED: AtomicU8 = AtomicU8::new(0);

/// Whether heap bytes can be measured in this process: whether [`CountingAlloc`] is the global
/// allocator. Found out once, by counting one allocation.
pub fn counting() -> bool {
    match INSTALLED.load(Ordering::Relaxed) {
        0 => {
            let was = ENABLED.with(Cell::get);
            ENABLED.with(|on| on.set(true));
            let before = live_bytes();
            let probe = std::hint::black_box(Box::new(0u64));
            let installed = live_bytes() != before;
            drop(probe);
            ENABLED.with(|on| on.set(was));
            INSTALLED.store(if installed { 2 } else { 1 }, Ordering::Relaxed);
            installed
        }
        state => state == 2,
    }
}

/// Start counting this thread's live heap bytes, from zero.
pub fn start_counting() {
    LIVE.with(|live| live.set(0));
    ENABLED.with(|on| on.set(true));
}

/// Count this thread's live heap bytes from now on, without resetting the count (readers
/// that started before still take valid differences). Returns whether counting works here.
pub fn keep_counting() -> bool {
    if !counting() {
        return false;
    }
    ENABLED.with(|on| on.set(true));
    true
}

/// This thread's live heap bytes since it started counting (0 if the allocator is not
/// installed or the thread does not count).
pub fn live_bytes() -> i64 {
    LIVE.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test build installs the counting allocator (`lib.rs`): a thread that counts sees
    /// its own allocation and its free, and another thread's allocations do not reach it.
    #[test]
    fn a_thread_counts_its_own_allocations() {
        assert!(counting(), "the test build installs CountingAlloc");
        assert!(keep_counting());
        let before = live_bytes();
        let block = std::hint::black_box(vec![0u8; 10_000]);
        assert_eq!(live_bytes() - before, 10_000);
        // Spawning and joining allocates a little here (the thread's handle); the other
        // thread's megabyte is not counted here.
        std::thread::spawn(|| std::hint::black_box(vec![0u8; 1 << 20]).len())
            .join()
            .unwrap();
        let counted = live_bytes() - before;
        assert!(
            (10_000..12_000).contains(&counted),
            "another thread's bytes are its own: {counted}"
        );
        let at = live_bytes();
        drop(block);
        assert_eq!(at - live_bytes(), 10_000);
    }
}
