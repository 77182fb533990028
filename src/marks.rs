//! The run's notable moments, indexed for the TUI's timeline strip: elections, crashes and
//! faults, losses, rebalances, ISR changes, other anomalies and notes, each kind in its own
//! time-ordered list. The session adds to it as events happen (and cuts it back on rewind), so
//! drawing a column asks a binary search per kind, never a scan of the run.

use crate::check::Anomaly;
use crate::sim::{SimTime, Trace};

/// What a timeline mark stands for; the glyph the strip draws and the glossary explains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkKind {
    /// A truncation, or an acknowledged write lost or at risk.
    Loss,
    /// A crash, a pause, a stop or a fault firing.
    Fault,
    /// A leader elected, a partition offline.
    Election,
    /// A duplicate or a reordering.
    Anomaly,
    /// A rebalance started or finished.
    Rebalance,
    /// The ISR shrank or grew.
    Isr,
    /// A scenario note.
    Note,
}

impl MarkKind {
    /// In priority order: when several kinds share a column, the first is drawn.
    pub const ALL: [MarkKind; 7] = [
        MarkKind::Loss,
        MarkKind::Fault,
        MarkKind::Election,
        MarkKind::Anomaly,
        MarkKind::Rebalance,
        MarkKind::Isr,
        MarkKind::Note,
    ];

    pub fn glyph(self) -> char {
        match self {
            MarkKind::Loss => 'L',
            MarkKind::Fault => 'X',
            MarkKind::Election => 'E',
            MarkKind::Anomaly => '!',
            MarkKind::Rebalance => 'R',
            MarkKind::Isr => 'I',
            MarkKind::Note => 'n',
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            MarkKind::Loss => "loss",
            MarkKind::Fault => "crash/fault",
            MarkKind::Election => "election",
            MarkKind::Anomaly => "anomaly",
            MarkKind::Rebalance => "rebalance",
            MarkKind::Isr => "ISR",
            MarkKind::Note => "note",
        }
    }

    /// The mark a trace event makes, if any.
    pub fn of_trace(t: &Trace) -> Option<MarkKind> {
        Some(match t {
            Trace::Truncated { .. } => MarkKind::Loss,
            Trace::NodeCrashed { .. }
            | Trace::NodePaused { .. }
            | Trace::NodeStopped { .. }
            | Trace::FaultInjected { .. } => MarkKind::Fault,
            Trace::LeaderElected { .. } | Trace::PartitionOffline { .. } => MarkKind::Election,
            Trace::RebalanceStarted { .. } | Trace::Rebalanced { .. } => MarkKind::Rebalance,
            Trace::IsrChanged { .. } => MarkKind::Isr,
            Trace::Narration { .. } => MarkKind::Note,
            _ => return None,
        })
    }

    /// The mark an anomaly makes.
    pub fn of_anomaly(a: &Anomaly) -> MarkKind {
        match a {
            Anomaly::AckedTruncated { .. } | Anomaly::ElectedWithout { .. } => MarkKind::Loss,
            Anomaly::Duplicate { .. } | Anomaly::Reordered { .. } => MarkKind::Anomaly,
        }
    }
}

/// At most this many marks of one kind are kept (a run that long shows its first ones); the
/// bound keeps memory fixed however long a run is.
pub const MAX_MARKS_PER_KIND: usize = 100_000;

/// One mark: when it happened and the event count to rewind to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub time: SimTime,
    pub event: u64,
}

/// Every kind's marks, each list in time (and event) order.
#[derive(Clone, Debug, Default)]
pub struct Marks {
    by_kind: [Vec<Mark>; 7],
}

impl Marks {
    pub fn push(&mut self, kind: MarkKind, time: SimTime, event: u64) {
        let list = &mut self.by_kind[kind as usize];
        // One mark per kind per event is enough to draw and to jump to.
        if list.len() < MAX_MARKS_PER_KIND && list.last().is_none_or(|m| m.event != event) {
            list.push(Mark { time, event });
        }
    }

    /// Forget every mark after event `event` (the session stepped back).
    pub fn truncate_after(&mut self, event: u64) {
        for list in &mut self.by_kind {
            let keep = list.partition_point(|m| m.event <= event);
            list.truncate(keep);
        }
    }

    /// The first mark of `kind` at or after `from` and before `to`.
    pub fn first_in(&self, kind: MarkKind, from: SimTime, to: SimTime) -> Option<Mark> {
        let list = &self.by_kind[kind as usize];
        let i = list.partition_point(|m| m.time < from);
        list.get(i).copied().filter(|m| m.time < to)
    }

    /// The most important mark in `[from, to)`: the first of the highest-priority kind there.
    pub fn top_in(&self, from: SimTime, to: SimTime) -> Option<(MarkKind, Mark)> {
        MarkKind::ALL
            .into_iter()
            .find_map(|k| self.first_in(k, from, to).map(|m| (k, m)))
    }

    /// The time of the latest mark of any kind.
    pub fn last_time(&self) -> Option<SimTime> {
        self.by_kind
            .iter()
            .filter_map(|l| l.last().map(|m| m.time))
            .max()
    }

    pub fn is_empty(&self) -> bool {
        self.by_kind.iter().all(|l| l.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_shows_its_most_important_mark_and_rewinding_forgets_later_ones() {
        let mut m = Marks::default();
        m.push(MarkKind::Isr, SimTime(1_000), 5);
        m.push(MarkKind::Election, SimTime(1_500), 7);
        m.push(MarkKind::Isr, SimTime(1_500), 7);
        m.push(MarkKind::Loss, SimTime(9_000), 20);
        let (kind, mark) = m.top_in(SimTime(0), SimTime(2_000)).unwrap();
        assert_eq!((kind, mark.event), (MarkKind::Election, 7));
        assert_eq!(m.top_in(SimTime(2_000), SimTime(8_000)), None);
        assert_eq!(
            m.top_in(SimTime(0), SimTime(10_000)).unwrap().0,
            MarkKind::Loss
        );
        m.truncate_after(7);
        assert_eq!(
            m.top_in(SimTime(0), SimTime(10_000)).unwrap().0,
            MarkKind::Election
        );
        assert_eq!(m.last_time(), Some(SimTime(1_500)));
    }
}
