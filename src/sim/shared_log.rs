//! A grow-only table whose clones share one store, for the per-partition tables a checkpoint
//! would otherwise copy thousands of times (a producer's queue of records per partition).
//!
//! Every clone sees the store's first `len` elements, and no holder ever changes an element
//! another holder can see: a push at the store's end appends; a push by a clone behind the end
//! (a checkpoint restored and replaying the same events) finds the element already there and
//! only moves its length on; a push that differs (the replay diverged, e.g. a fault injected
//! live) first copies the clone's prefix into a store of its own. So a clone costs two words
//! and a restore plus replay stays exact.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

pub struct SharedLog<T> {
    store: Rc<RefCell<Vec<T>>>,
    len: usize,
}

impl<T> Clone for SharedLog<T> {
    fn clone(&self) -> Self {
        SharedLog {
            store: Rc::clone(&self.store),
            len: self.len,
        }
    }
}

impl<T> Default for SharedLog<T> {
    fn default() -> Self {
        SharedLog {
            store: Rc::new(RefCell::new(Vec::new())),
            len: 0,
        }
    }
}

impl<T: Copy + fmt::Debug> fmt::Debug for SharedLog<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(&self.store.borrow()[..self.len])
            .finish()
    }
}

impl<T: Copy + PartialEq> SharedLog<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of the elements this holder sees, which its clones share.
    pub fn shared_bytes(&self) -> usize {
        self.len * std::mem::size_of::<T>()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element `i`; panics past the end, as indexing a slice does.
    #[inline]
    pub fn at(&self, i: usize) -> T {
        assert!(i < self.len, "index {i} out of a log of {}", self.len);
        self.store.borrow()[i]
    }

    #[inline]
    pub fn push(&mut self, value: T) {
        let mut store = self.store.borrow_mut();
        if store.len() == self.len {
            store.push(value);
        } else if store[self.len] != value {
            // Diverged from the other holders: continue in a store of our own.
            let mut own = Vec::with_capacity(self.len + 1);
            own.extend_from_slice(&store[..self.len]);
            own.push(value);
            drop(store);
            self.store = Rc::new(RefCell::new(own));
        }
        self.len += 1;
    }

    /// Whether any of the elements `range` (clamped to the length) satisfies `pred`.
    pub fn any_in(&self, range: std::ops::Range<usize>, pred: impl FnMut(&T) -> bool) -> bool {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        self.store.borrow()[start..end].iter().any(pred)
    }

    /// Appends the elements `range` (clamped to the length) to `out`.
    pub fn copy_range_into(&self, range: std::ops::Range<usize>, out: &mut Vec<T>) {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        out.extend_from_slice(&self.store.borrow()[start..end]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_store_and_see_only_their_own_prefix() {
        let mut live = SharedLog::new();
        for i in 0..10u32 {
            live.push(i);
        }
        let checkpoint = live.clone();
        live.push(10);
        assert_eq!(checkpoint.len(), 10);
        assert_eq!(live.len(), 11);
        assert!(Rc::ptr_eq(&live.store, &checkpoint.store), "shared");
        // Restored and replayed the same way: still shared, no copy.
        let mut restored = checkpoint.clone();
        restored.push(10);
        assert!(Rc::ptr_eq(&restored.store, &live.store));
        assert_eq!(restored.at(10), 10);
    }

    #[test]
    fn a_diverging_push_copies_the_prefix_and_leaves_the_others_alone() {
        let mut live = SharedLog::new();
        for i in 0..5u32 {
            live.push(i);
        }
        let checkpoint = live.clone();
        live.push(5);
        live.push(6);
        let mut restored = checkpoint.clone();
        restored.push(50);
        assert!(!Rc::ptr_eq(&restored.store, &live.store));
        let mut got = Vec::new();
        restored.copy_range_into(0..10, &mut got);
        assert_eq!(got, [0, 1, 2, 3, 4, 50]);
        got.clear();
        live.copy_range_into(0..10, &mut got);
        assert_eq!(got, [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(checkpoint.len(), 5);
        assert_eq!(checkpoint.at(4), 4);
        assert!(live.any_in(5..7, |&x| x == 6));
        assert!(!checkpoint.any_in(0..100, |&x| x == 5));
    }
}
