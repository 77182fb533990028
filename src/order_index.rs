//! The per-key order index a session keeps for the order view (`o`): for each group, its
//! `(producer, key)` streams in the order they were first applied, each with its cells in
//! application order, marked as they arrive. It grows by one cell per application and is undone
//! cell by cell when stepping back, so the view only formats the rows on screen whatever the
//! length of the run.

use std::collections::BTreeMap;

use crate::sim::{ProducerId, Sim};

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
    /// For each stream, the widest label (`producer · key`, in terminal cells) of it and the
    /// streams before it: streams come and go only at the end, so the last entry is always the
    /// widest label of all, and the order view need not measure every stream in every frame.
    widest_label: Vec<u16>,
}

/// How the order view names a stream of keyless records.
const NO_KEY_LABEL: &str = "(no key)";

/// A stream's name in the order view: its producer's and its key's.
pub fn stream_name(sim: &Sim, producer: ProducerId, key: Option<u32>) -> (&str, &str) {
    let p = sim.producers()[producer.idx()].name.as_str();
    (p, key.map_or(NO_KEY_LABEL, |k| sim.key_name(k)))
}

/// The terminal width of a stream's label in the order view: `producer · key`.
pub fn label_width(producer: &str, key: &str) -> usize {
    crate::tui::theme::width(producer) + crate::tui::theme::width(key) + 3
}

/// The width of `(producer, key)`'s label ([`label_width`] of its [`stream_name`]).
pub fn stream_label_width(sim: &Sim, producer: ProducerId, key: Option<u32>) -> usize {
    let (p, k) = stream_name(sim, producer, key);
    label_width(p, k)
}

impl GroupOrder {
    /// The stream of `(producer, key)`, new at the end if it has none yet, its label
    /// `label_width()` cells wide (measured only then).
    fn stream(
        &mut self,
        producer: ProducerId,
        key: Option<u32>,
        label_width: impl FnOnce() -> usize,
    ) -> usize {
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
            let width = label_width().min(u16::MAX as usize) as u16;
            let widest = self.widest_label.last().map_or(width, |&w| w.max(width));
            self.widest_label.push(widest);
        }
        i as usize
    }

    /// The widest stream label ([`label_width`]), if there is a stream.
    pub fn widest_label(&self) -> Option<usize> {
        self.widest_label.last().map(|&w| usize::from(w))
    }

    /// The group applied `producer#n` (with `key`, the stream's label `label_width()` cells
    /// wide); `again` if it had applied it before.
    pub fn push_applied(
        &mut self,
        producer: ProducerId,
        key: Option<u32>,
        n: u32,
        again: bool,
        label_width: impl FnOnce() -> usize,
    ) {
        let i = self.stream(producer, key, label_width);
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
    pub fn push_lost(
        &mut self,
        producer: ProducerId,
        key: Option<u32>,
        n: u32,
        label_width: impl FnOnce() -> usize,
    ) {
        let i = self.stream(producer, key, label_width);
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
            self.widest_label.pop();
            self.by_key
                .remove(&(st.producer.0, st.key.unwrap_or(NO_KEY)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The widest label is the widest of the streams there are, also after stepping back
    /// removed the widest; a label is measured once, when its stream first appears.
    #[test]
    fn the_widest_label_follows_the_streams_back_and_forth() {
        let mut g = GroupOrder::default();
        assert_eq!(g.widest_label(), None);
        let p = ProducerId;
        g.push_applied(p(0), Some(1), 1, false, || 5);
        g.push_applied(p(1), Some(1), 1, false, || 9);
        g.push_applied(p(2), None, 1, false, || 7);
        assert_eq!(g.widest_label(), Some(9));
        // A stream seen before is not measured again.
        g.push_applied(p(1), Some(1), 2, false, || unreachable!("measured twice"));
        g.push_applied(p(2), None, 2, false, || unreachable!("measured twice"));
        // Undone newest first: the last stream goes with its first cell.
        g.pop_applied(p(2), None);
        g.pop_applied(p(1), Some(1));
        assert_eq!(
            g.widest_label(),
            Some(9),
            "producer 2's stream still has a cell"
        );
        g.pop_applied(p(2), None);
        assert_eq!(g.streams.len(), 2);
        assert_eq!(g.widest_label(), Some(9));
        g.pop_applied(p(1), Some(1));
        assert_eq!(g.widest_label(), Some(5), "the widest stream is gone");
        g.push_lost(p(3), Some(2), 4, || 12);
        assert_eq!(g.widest_label(), Some(12));
        g.undo_lost();
        assert_eq!(g.widest_label(), Some(5));
    }

    #[test]
    fn a_label_is_producer_dot_key_in_terminal_cells() {
        assert_eq!(label_width("producer-1", "alice"), 10 + 3 + 5);
        assert_eq!(label_width("p", NO_KEY_LABEL), 1 + 3 + 8);
        // A wide character takes two cells.
        assert_eq!(label_width("p", "鍵"), 1 + 3 + 2);
    }
}
