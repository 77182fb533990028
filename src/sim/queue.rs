//! The event queue: a calendar of time buckets for the near future and a heap for the far one.
//!
//! Almost every event lands a few milliseconds ahead (network latency, linger, fetch waits), and
//! thousands are pending at once, so a binary heap pays a dozen cache-missing comparisons per
//! push and pop. Here an event goes into the bucket of its time (`BUCKET_US` wide) in a ring
//! covering the next `BUCKETS` buckets; reaching a bucket sorts it once. Events beyond the ring
//! wait in a heap and move into the ring as the clock gets near them.
//!
//! The order is exactly `(time, seq)`, the same as a heap of [`QueueKey`]s: the bucket being
//! drained holds every entry at or before its bucket, sorted, and later buckets only hold later
//! times.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::SimTime;

/// One queued event: its time, its insertion number (ties break by it) and where it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueKey {
    pub(crate) time: SimTime,
    pub(crate) seq: u64,
    pub(crate) slot: u32,
}

impl QueueKey {
    /// `(time, seq)` as one number, so that ordering keys is one comparison.
    fn order(&self) -> u128 {
        (u128::from(self.time.0) << 64) | u128::from(self.seq)
    }
}

/// By time, then insertion: `seq` is unique, so `slot` only keeps the order consistent with
/// equality.
impl Ord for QueueKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order()
            .cmp(&other.order())
            .then(self.slot.cmp(&other.slot))
    }
}

impl PartialOrd for QueueKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// log2 of a bucket's width in microseconds (512 µs).
const BUCKET_SHIFT: u32 = 9;
/// Buckets in the ring (a power of two): about 2.1 s of simulated time.
const BUCKETS: u64 = 4096;
const MASK: u64 = BUCKETS - 1;

#[derive(Clone, Debug)]
pub(crate) struct EventQueue {
    /// Every entry whose bucket is `cursor` or earlier, sorted largest first (pop from the end).
    current: Vec<QueueKey>,
    /// The bucket being drained.
    cursor: u64,
    /// Buckets `cursor + 1 .. cursor + BUCKETS`, unsorted, at index `bucket & MASK`.
    ring: Vec<Vec<QueueKey>>,
    /// Entries in `ring`.
    ring_len: usize,
    /// Entries at bucket `cursor + BUCKETS` or later.
    far: BinaryHeap<Reverse<QueueKey>>,
    /// Where a large bucket is sorted into, then swapped with `current`: empty between
    /// sorts, so that cloning the queue for a checkpoint copies nothing of it.
    spare: Vec<QueueKey>,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            current: Vec::new(),
            cursor: 0,
            ring: vec![Vec::new(); BUCKETS as usize],
            ring_len: 0,
            far: BinaryHeap::new(),
            spare: Vec::new(),
        }
    }
}

fn bucket_of(time: SimTime) -> u64 {
    time.0 >> BUCKET_SHIFT
}

impl EventQueue {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.ring_len + self.far.len()
    }

    pub(crate) fn push(&mut self, key: QueueKey) {
        let bucket = bucket_of(key.time);
        if bucket <= self.cursor {
            // Now (or, if a caller schedules into the past, earlier): into the sorted bucket.
            let at = self.current.partition_point(|e| *e > key);
            self.current.insert(at, key);
        } else if bucket - self.cursor < BUCKETS {
            self.ring[(bucket & MASK) as usize].push(key);
            self.ring_len += 1;
        } else {
            self.far.push(Reverse(key));
        }
    }

    pub(crate) fn pop(&mut self) -> Option<QueueKey> {
        if self.current.is_empty() && !self.advance() {
            return None;
        }
        self.current.pop()
    }

    /// The time of the earliest entry.
    pub(crate) fn peek_time(&self) -> Option<SimTime> {
        if let Some(key) = self.current.last() {
            return Some(key.time);
        }
        if self.ring_len > 0 {
            for ahead in 1..BUCKETS {
                let bucket = &self.ring[((self.cursor + ahead) & MASK) as usize];
                if let Some(min) = bucket.iter().min() {
                    return Some(min.time);
                }
            }
        }
        self.far.peek().map(|Reverse(key)| key.time)
    }

    /// Move the cursor to the next bucket holding entries and sort it into `current`.
    /// False if the queue is empty.
    fn advance(&mut self) -> bool {
        if self.ring_len == 0 {
            let Some(Reverse(next)) = self.far.peek() else {
                return false;
            };
            // Nothing near: jump to just before the earliest far entry.
            self.cursor = self.cursor.max(bucket_of(next.time) - 1);
        }
        loop {
            self.cursor += 1;
            // Keep `far` beyond the ring: the bucket that just came into reach takes the slot
            // the old cursor left empty.
            while let Some(Reverse(next)) = self.far.peek() {
                let bucket = bucket_of(next.time);
                if bucket - self.cursor >= BUCKETS {
                    break;
                }
                let Some(Reverse(key)) = self.far.pop() else {
                    break;
                };
                if bucket == self.cursor {
                    self.current.push(key);
                } else {
                    self.ring[(bucket & MASK) as usize].push(key);
                    self.ring_len += 1;
                }
            }
            let slot = &mut self.ring[(self.cursor & MASK) as usize];
            self.ring_len -= slot.len();
            if self.current.is_empty() {
                // Swap so that both vectors keep their allocations.
                std::mem::swap(&mut self.current, slot);
            } else {
                self.current.append(slot);
            }
            if !self.current.is_empty() {
                // Every entry here is in bucket `cursor` (an entry pushed into an earlier one
                // goes straight into the sorted `current`, which is empty here), so the time
                // within the bucket and `seq` make a one-word key in the order of
                // [`QueueKey::cmp`] (`seq` is unique). `seq` fits in the low 55 bits for
                // 3.6·10^16 events: centuries of simulation at any speed.
                debug_assert!(self.current.iter().all(|k| {
                    bucket_of(k.time) == self.cursor && k.seq < 1 << (64 - BUCKET_SHIFT)
                }));
                if self.current.len() < COUNTING_SORT_FROM {
                    self.current.sort_unstable_by_key(|k| {
                        std::cmp::Reverse((offset_in_bucket(k.time) << (64 - BUCKET_SHIFT)) | k.seq)
                    });
                } else {
                    self.sort_current_by_offset();
                }
                return true;
            }
        }
    }

    /// Sort `current` (one bucket's entries) largest first by a stable counting sort on the
    /// time within the bucket: linear, where comparing sorts pay about log2(n) comparisons per
    /// entry. Stable is enough for the exact `(time, seq)` order, because entries of one
    /// time already stand in `seq` order: a bucket holds first what came in from `far` when
    /// it came into the ring's reach (popped in `(time, seq)` order, all of it at once), then
    /// what was pushed into it directly, later and so with larger `seq`s.
    fn sort_current_by_offset(&mut self) {
        let mut ends = [0u32; 1 << BUCKET_SHIFT];
        for k in &self.current {
            ends[offset_in_bucket(k.time) as usize] += 1;
        }
        // Largest first: the entries at offset `t` end where the entries at offsets `t` and
        // above end.
        let mut running = 0;
        for end in ends.iter_mut().rev() {
            running += *end;
            *end = running;
        }
        let n = self.current.len();
        self.spare.clear();
        self.spare.resize(n, self.current[0]);
        // Each offset's entries fill their stretch from its end, so the smallest `seq` comes
        // last, where `pop` takes it first.
        for &k in &self.current {
            let end = &mut ends[offset_in_bucket(k.time) as usize];
            *end -= 1;
            self.spare[*end as usize] = k;
        }
        std::mem::swap(&mut self.current, &mut self.spare);
        self.spare.clear();
    }
}

/// From how many entries a bucket is counting-sorted rather than comparison-sorted: below it,
/// clearing and summing the 512 counters costs more than the comparisons it saves.
const COUNTING_SORT_FROM: usize = 48;

/// The time within its bucket, in microseconds.
fn offset_in_bucket(time: SimTime) -> u64 {
    time.0 & ((1 << BUCKET_SHIFT) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt as _, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Random schedules (bursts at one time, delays within a bucket, across the ring, beyond it,
    /// and into the past), pushes and pops interleaved: the calendar pops exactly what a heap of
    /// the same keys pops.
    #[test]
    fn pops_in_the_same_order_as_a_binary_heap() {
        for seed in 0..200 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut calendar = EventQueue::default();
            let mut heap = BinaryHeap::new();
            let mut now = 0u64;
            let mut seq = 0u64;
            let steps = rng.random_range(1..3_000);
            for _ in 0..steps {
                let pushes = rng.random_range(0..4);
                for _ in 0..pushes {
                    let delay = match rng.random_range(0..10) {
                        0 => 0,
                        1 => rng.random_range(0..1 << BUCKET_SHIFT),
                        2..=6 => rng.random_range(1_000..5_000),
                        7 => rng.random_range(0..(BUCKETS << BUCKET_SHIFT) * 3),
                        8 => (BUCKETS << BUCKET_SHIFT) + rng.random_range(0..3),
                        _ => rng.random_range(0..100_000_000),
                    };
                    let time = if rng.random_range(0..50) == 0 {
                        now.saturating_sub(rng.random_range(0..5_000))
                    } else {
                        now + delay
                    };
                    let key = QueueKey {
                        time: SimTime(time),
                        seq,
                        slot: rng.random_range(0..100),
                    };
                    seq += 1;
                    calendar.push(key);
                    heap.push(Reverse(key));
                }
                assert_eq!(calendar.len(), heap.len());
                assert_eq!(
                    calendar.peek_time(),
                    heap.peek().map(|Reverse(k)| k.time),
                    "seed {seed}"
                );
                if rng.random_range(0..3) > 0 {
                    let got = calendar.pop();
                    let want = heap.pop().map(|Reverse(k)| k);
                    assert_eq!(got, want, "seed {seed}");
                    if let Some(k) = got {
                        now = now.max(k.time.0);
                    }
                }
            }
            while let Some(Reverse(want)) = heap.pop() {
                assert_eq!(calendar.pop(), Some(want), "seed {seed}");
            }
            assert_eq!(calendar.pop(), None);
            assert_eq!(calendar.len(), 0);
        }
    }

    /// Crowded buckets, sorted by counting: many entries at a few times each, some pushed
    /// while their bucket was beyond the ring (they come in from the heap) and more pushed at
    /// the same times once it is within reach. The calendar pops what a heap pops.
    #[test]
    fn crowded_buckets_pop_in_the_same_order_as_a_binary_heap() {
        let span = BUCKETS << BUCKET_SHIFT;
        for seed in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut calendar = EventQueue::default();
            let mut heap = BinaryHeap::new();
            let mut now = 0u64;
            let mut seq = 0u64;
            let mut crowded = 0;
            for _ in 0..200 {
                // A burst onto a few times of one bucket, near or beyond the ring.
                let base =
                    now + rng.random_range(0..2) * span + rng.random_range(0..4 << BUCKET_SHIFT);
                let base = base & !((1 << BUCKET_SHIFT) - 1);
                for _ in 0..rng.random_range(0..150) {
                    let key = QueueKey {
                        time: SimTime(base + rng.random_range(0..4) * 100),
                        seq,
                        slot: rng.random_range(0..100),
                    };
                    seq += 1;
                    calendar.push(key);
                    heap.push(Reverse(key));
                }
                for _ in 0..rng.random_range(0..200) {
                    let got = calendar.pop();
                    assert_eq!(got, heap.pop().map(|Reverse(k)| k), "seed {seed}");
                    let Some(k) = got else { break };
                    now = now.max(k.time.0);
                }
                crowded = crowded.max(calendar.current.len());
            }
            assert!(
                crowded >= COUNTING_SORT_FROM,
                "seed {seed}: no crowded bucket"
            );
            while let Some(Reverse(want)) = heap.pop() {
                assert_eq!(calendar.pop(), Some(want), "seed {seed}");
            }
            assert_eq!(calendar.pop(), None);
        }
    }

    #[test]
    fn an_empty_queue_pops_nothing_and_a_lone_far_event_comes_back() {
        let mut q = EventQueue::default();
        assert_eq!(q.pop(), None);
        assert_eq!(q.peek_time(), None);
        let key = QueueKey {
            time: SimTime(u64::MAX / 2),
            seq: 0,
            slot: 7,
        };
        q.push(key);
        assert_eq!(q.peek_time(), Some(key.time));
        assert_eq!(q.pop(), Some(key));
        assert_eq!(q.pop(), None);
    }
}
