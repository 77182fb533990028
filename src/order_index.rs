//! The per-key order index a session keeps for the order view (`o`): for each group, its
//! `(producer, key)` streams in the order they were first applied, each with its cells in
//! application order, marked as they arrive. It grows by one cell per application and is undone
//! cell by cell when stepping back, so the view only formats the rows on screen whatever the
//! length of the run.

use std::collections::BTreeMap;

use crate::sim::ProducerId;

/// How a cell of a stream came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// First applied, after every earlier-sent message of its stream that was applied.
    InOrder,
    /// Applied again.
    Duplicate,
    /// First applied after a later-sent message of the same stream.
    Reordered,
    /// Never applied (listed once the run has drained).
    Lost,
}

/// One application (or, once drained, one message never applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The message's send number in its producer (`producer#n`).
    pub n: u32,
    pub mark: Mark,
    /// The stream's highest send number applied before this cell, to undo it.
    prev_max: u32,
}

/// One `(producer, key)` stream of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    pub producer: ProducerId,
    pub key: Option<u32>,
    pub cells: Vec<Cell>,
    /// The highest send number applied so far (0 before any).
    max_n: u32,
}

/// "No key" in the look-up table.
const NO_KEY: u32 = u32::MAX;

/// One group's streams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupOrder {
    /// In the order of their first cell.
    pub streams: Vec<Stream>,
    /// `(producer, key)` → index in `streams`.
    by_key: BTreeMap<(u32, u32), u32>,
    /// The streams given a `Lost` cell when the run drained, in order (undone first).
    lost: Vec<u32>,
}

impl GroupOrder {
    fn stream(&mut self, producer: ProducerId, key: Option<u32>) -> usize {
        let next = self.streams.len() as u32;
        let i = *self
            .by_key
            .entry((producer.0, key.unwrap_or(NO_KEY)))
            .or_insert(next);
        if i == next {
            self.streams.push(Stream {
                producer,
                key,
                cells: Vec::new(),
                max_n: 0,
            });
        }
        i as usize
    }

    /// The group applied `producer#n` (with `key`); `again` if it had applied it before.
    pub fn push_applied(&mut self, producer: ProducerId, key: Option<u32>, n: u32, again: bool) {
        let i = self.stream(producer, key);
        let st = &mut self.streams[i];
        let mark = if again {
            Mark::Duplicate
        } else if n < st.max_n {
            Mark::Reordered
        } else {
            Mark::InOrder
        };
        st.cells.push(Cell {
            n,
            mark,
            prev_max: st.max_n,
        });
        st.max_n = st.max_n.max(n);
    }

    /// The run drained and the group never applied `producer#n`.
    pub fn push_lost(&mut self, producer: ProducerId, key: Option<u32>, n: u32) {
        let i = self.stream(producer, key);
        let st = &mut self.streams[i];
        st.cells.push(Cell {
            n,
            mark: Mark::Lost,
            prev_max: st.max_n,
        });
        self.lost.push(i as u32);
    }

    /// Undo the newest application of `(producer, key)`'s stream: the caller undoes
    /// applications newest first, after [`GroupOrder::undo_lost`].
    pub fn pop_applied(&mut self, producer: ProducerId, key: Option<u32>) {
        let k = (producer.0, key.unwrap_or(NO_KEY));
        if let Some(&i) = self.by_key.get(&k) {
            self.pop_cell(i as usize);
        }
    }

    /// Undo the `Lost` cells (the run is no longer drained).
    pub fn undo_lost(&mut self) {
        while let Some(i) = self.lost.pop() {
            self.pop_cell(i as usize);
        }
    }

    fn pop_cell(&mut self, i: usize) {
        let st = &mut self.streams[i];
        if let Some(c) = st.cells.pop() {
            st.max_n = c.prev_max;
        }
        if st.cells.is_empty() {
            // Its first cell was the newest first cell of any stream: it is the last stream.
            debug_assert_eq!(i + 1, self.streams.len());
            let st = self.streams.remove(i);
            self.by_key
                .remove(&(st.producer.0, st.key.unwrap_or(NO_KEY)));
        }
    }
}
