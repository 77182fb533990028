//! A persistent chunked vector for the tables that only grow (replica logs, message ledgers,
//! the checker's per-message tables), so that cloning the world for a TUI checkpoint shares
//! them instead of copying them.
//!
//! Elements live in leaves of [`LEAF`] elements, leaves in nodes of [`NODE`] leaves, both behind
//! `Rc`. A clone copies only the root (one pointer per `LEAF * NODE` elements). Changing an
//! element, pushing or truncating copies the one leaf and node involved if a clone still shares
//! them (copy on write), so a checkpoint costs what changed since it was taken, and a table
//! that is only appended to costs at most its last leaf and node.

use std::fmt;
use std::ops::{Index, IndexMut};
use std::rc::Rc;

/// Elements per leaf. 256 rather than 32: a leaf is allocated (and later freed) every LEAF
/// pushes, which the headless run pays for; checkpoints pay a longer plain tail per table.
pub const LEAF: usize = 256;
/// Leaves per node.
pub const NODE: usize = 64;
const LEAF_BITS: u32 = LEAF.trailing_zeros();
const NODE_SPAN: usize = LEAF * NODE;
const NODE_SPAN_BITS: u32 = NODE_SPAN.trailing_zeros();

type Leaf<T> = Rc<Vec<T>>;
type Node<T> = Rc<Vec<Leaf<T>>>;

/// A vector whose clone shares its elements (see the module documentation). Every leaf but
/// the last is full, and every node but the last.
pub struct ChunkedVec<T> {
    root: Vec<Node<T>>,
    /// Elements in the tree: a multiple of [`LEAF`].
    full: usize,
    /// The elements after the tree's (fewer than [`LEAF`]), in a plain vector so that the
    /// hot end (appends, recent writes) pays no sharing checks; a clone copies it.
    tail: Vec<T>,
    len: usize,
}

impl<T: Clone> Clone for ChunkedVec<T> {
    fn clone(&self) -> Self {
        ChunkedVec {
            root: self.root.clone(),
            full: self.full,
            tail: self.tail.clone(),
            len: self.len,
        }
    }
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec {
            root: Vec::new(),
            full: 0,
            tail: Vec::new(),
            len: 0,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for ChunkedVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for ChunkedVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for ChunkedVec<T> {}

/// `a` itself if no clone shares it, else a private copy of it (with room for `capacity`).
#[inline]
fn unique<U: Clone>(a: &mut Rc<Vec<U>>, capacity: usize) -> &mut Vec<U> {
    if Rc::get_mut(a).is_none() {
        let mut copy = Vec::with_capacity(capacity.max(a.len()));
        copy.extend_from_slice(a);
        *a = Rc::new(copy);
    }
    Rc::get_mut(a).expect("just made unique")
}

impl<T> ChunkedVec<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of elements a clone shares instead of copying (the full leaves; the tail is
    /// copied): what the table adds to the state beyond a checkpoint's copy of it.
    pub fn shared_bytes(&self) -> usize {
        self.full * std::mem::size_of::<T>()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.full {
            return self.tail.get(i - self.full);
        }
        Some(&self.root[i >> NODE_SPAN_BITS][(i >> LEAF_BITS) & (NODE - 1)][i & (LEAF - 1)])
    }

    pub fn first(&self) -> Option<&T> {
        self.get(0)
    }

    pub fn last(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            v: self,
            front: 0,
            back: self.len,
        }
    }

    /// The elements of `range` (clamped to the length), in order.
    pub fn range(&self, range: std::ops::Range<usize>) -> Iter<'_, T> {
        let back = range.end.min(self.len);
        Iter {
            v: self,
            front: range.start.min(back),
            back,
        }
    }

    /// Whether element `i` of both is in one leaf they share (a clone and what it was cloned
    /// from, before either wrote to that leaf).
    pub fn shares_leaf_with(&self, other: &Self, i: usize) -> bool {
        i < self.full.min(other.full) && {
            let (n, l) = (i >> NODE_SPAN_BITS, (i >> LEAF_BITS) & (NODE - 1));
            Rc::ptr_eq(&self.root[n][l], &other.root[n][l])
        }
    }

    /// The elements as contiguous slices, in order.
    pub fn slices(&self) -> impl Iterator<Item = &[T]> {
        self.root
            .iter()
            .flat_map(|n| n.iter())
            .map(|l| l.as_slice())
            .chain(std::iter::once(self.tail.as_slice()))
    }

    /// The first index whose element does not satisfy `pred` (the elements must be
    /// partitioned by it), as [`slice::partition_point`].
    pub fn partition_point(&self, mut pred: impl FnMut(&T) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(&self[mid]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

impl<T: Clone> ChunkedVec<T> {
    #[inline]
    pub fn push(&mut self, value: T) {
        self.tail.push(value);
        self.len += 1;
        if self.tail.len() == LEAF {
            let leaf = std::mem::replace(&mut self.tail, Vec::with_capacity(LEAF));
            self.push_leaf(leaf);
        }
    }

    /// Appends a full leaf to the tree.
    fn push_leaf(&mut self, leaf: Vec<T>) {
        let i = self.full;
        let r = i >> NODE_SPAN_BITS;
        if r == self.root.len() {
            self.root.push(Rc::new(Vec::with_capacity(NODE)));
        }
        let node = unique(&mut self.root[r], NODE);
        node.push(Rc::new(leaf));
        self.full += LEAF;
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.full {
            return self.tail.get_mut(i - self.full);
        }
        let node = unique(&mut self.root[i >> NODE_SPAN_BITS], NODE);
        let leaf = unique(&mut node[(i >> LEAF_BITS) & (NODE - 1)], LEAF);
        Some(&mut leaf[i & (LEAF - 1)])
    }

    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.len.checked_sub(1).and_then(|i| self.get_mut(i))
    }

    pub fn pop(&mut self) -> Option<T> {
        let last = self.last()?.clone();
        self.truncate(self.len - 1);
        Some(last)
    }

    /// Keep the first `len` elements.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        if len >= self.full {
            self.tail.truncate(len - self.full);
            self.len = len;
            return;
        }
        // The leaf that `len` cuts becomes the tail.
        let full = len - len % LEAF;
        let mut tail = Vec::with_capacity(LEAF);
        self.copy_range_into(full..len, &mut tail);
        self.tail = tail;
        self.full = full;
        self.len = len;
        self.root.truncate(full.div_ceil(NODE_SPAN));
        if !full.is_multiple_of(NODE_SPAN) {
            let node = unique(self.root.last_mut().expect("full > 0"), NODE);
            node.truncate((full % NODE_SPAN) / LEAF);
        }
    }

    pub fn clear(&mut self) {
        self.root.clear();
        self.tail.clear();
        self.full = 0;
        self.len = 0;
    }

    /// Grow or shrink to `len` elements, filling with `value`.
    pub fn resize(&mut self, len: usize, value: T) {
        self.truncate(len);
        while self.len < len {
            self.push(value.clone());
        }
    }

    pub fn extend_from_slice(&mut self, values: &[T]) {
        for v in values {
            self.push(v.clone());
        }
    }

    /// Appends the elements of `range` to `out`, a slice at a time.
    pub fn copy_range_into(&self, range: std::ops::Range<usize>, out: &mut Vec<T>) {
        let end = range.end.min(self.len);
        let mut i = range.start.min(end);
        while i < end {
            if i >= self.full {
                out.extend_from_slice(&self.tail[i - self.full..end - self.full]);
                return;
            }
            let leaf = &self.root[i >> NODE_SPAN_BITS][(i >> LEAF_BITS) & (NODE - 1)];
            let from = i & (LEAF - 1);
            let to = (from + (end - i)).min(leaf.len());
            out.extend_from_slice(&leaf[from..to]);
            i += to - from;
        }
    }

    pub fn to_vec(&self) -> Vec<T> {
        let mut v = Vec::with_capacity(self.len);
        self.copy_range_into(0..self.len, &mut v);
        v
    }
}

impl<T> Index<usize> for ChunkedVec<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(v) => v,
            None => panic!("index {i} out of range for a ChunkedVec of {}", self.len),
        }
    }
}

impl<T: Clone> IndexMut<usize> for ChunkedVec<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len;
        match self.get_mut(i) {
            Some(v) => v,
            None => panic!("index {i} out of range for a ChunkedVec of {len}"),
        }
    }
}

impl<T: Clone> FromIterator<T> for ChunkedVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = ChunkedVec::new();
        v.extend(iter);
        v
    }
}

impl<T: Clone> Extend<T> for ChunkedVec<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for x in iter {
            self.push(x);
        }
    }
}

impl<T: Clone> From<Vec<T>> for ChunkedVec<T> {
    fn from(v: Vec<T>) -> Self {
        v.into_iter().collect()
    }
}

impl<'a, T> IntoIterator for &'a ChunkedVec<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// The elements of a [`ChunkedVec`] by reference, from either end.
#[derive(Clone)]
pub struct Iter<'a, T> {
    v: &'a ChunkedVec<T>,
    front: usize,
    back: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        (self.front < self.back).then(|| {
            self.front += 1;
            &self.v[self.front - 1]
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }

    fn nth(&mut self, n: usize) -> Option<&'a T> {
        self.front = self.front.saturating_add(n).min(self.back);
        self.next()
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            &self.v[self.back]
        })
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_through_pushes_truncations_and_writes() {
        let mut v = ChunkedVec::new();
        let mut model = Vec::new();
        // A deterministic walk over lengths that cross leaf and node boundaries.
        let mut x = 7u64;
        for step in 0..20_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match (x >> 33) % 10 {
                0 => {
                    let to = (x >> 40) as usize % (model.len() + 1);
                    v.truncate(to);
                    model.truncate(to);
                }
                1 if !model.is_empty() => {
                    let i = (x >> 20) as usize % model.len();
                    v[i] = step;
                    model[i] = step;
                }
                _ => {
                    v.push(step);
                    model.push(step);
                }
            }
            assert_eq!(v.len(), model.len());
        }
        assert_eq!(v.to_vec(), model);
        assert!(v.iter().copied().eq(model.iter().copied()));
        assert!(v.iter().rev().copied().eq(model.iter().rev().copied()));
        let (a, b) = (model.len() / 3, model.len() / 2);
        let mut out = Vec::new();
        v.copy_range_into(a..b, &mut out);
        assert_eq!(out, &model[a..b]);
        assert!(v.range(a..b).copied().eq(model[a..b].iter().copied()));
        assert_eq!(v.slices().flatten().count(), model.len());
    }

    #[test]
    fn a_clone_keeps_its_elements_whatever_the_original_does_next() {
        let mut v: ChunkedVec<u32> = (0..5000).collect();
        let snapshot = v.clone();
        v[10] = 99;
        v.truncate(1500);
        v.extend(7000..9000);
        assert!(snapshot.iter().copied().eq(0..5000));
        assert_eq!(v[10], 99);
        assert_eq!(v[1500], 7000);
        assert_eq!(v.len(), 3500);
        // The untouched leaves (the last whole one below the cut, for one) are still shared.
        let leaf = 1500 / LEAF - 1;
        assert!(leaf > 10 / LEAF, "a leaf that no write touched");
        assert!(v.shares_leaf_with(&snapshot, leaf * LEAF));
        assert!(
            !v.shares_leaf_with(&snapshot, 10),
            "the written leaf was copied"
        );
        assert!(
            !v.shares_leaf_with(&snapshot, 1500),
            "past the cut: no longer shared"
        );
    }

    #[test]
    fn partition_point_and_ends() {
        let v: ChunkedVec<u32> = (0..3000).map(|i| i * 2).collect();
        assert_eq!(v.partition_point(|&x| x < 1001), 501);
        assert_eq!(v.first(), Some(&0));
        assert_eq!(v.last(), Some(&5998));
        assert_eq!(v.get(3000), None);
        let mut e: ChunkedVec<u32> = ChunkedVec::new();
        assert_eq!(e.pop(), None);
        e.resize(40, 1);
        assert_eq!(e.pop(), Some(1));
        assert_eq!(e.len(), 39);
    }
}
