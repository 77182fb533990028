//! Live fate counts: the per-group counts of [`Checker::outcome`] kept up to date as events
//! arrive, so that a view showing the outcome after every step pays O(groups), not a pass over
//! every message (which is what [`Checker::recount_outcome`] does, and what these counts must
//! always equal).
//!
//! Each group remembers, per message, the fate it counted the message under (one byte). When
//! anything a fate depends on changes for a message, [`Checker::refate`] classifies the message
//! again for every group of its topic and moves it between counts. What a fate depends on:
//! the message's own flags and offset (one message per event), a group's applications of it
//! (one message), and, for many messages at once, a group's reset or committed position and a
//! partition's high watermark: when those move, only the offsets between the old and the new
//! position are classified again, so the cost follows how far they move.
//!
//! Counts are kept as if the run had not drained (`pending` rather than `never_written`): the
//! drained view differs only in naming those, so [`Checker::set_final`] stays O(1).

use super::fates::{FateCounts, LossKind};
use super::{Checker, F_ACKED, F_PRODUCED, Fate, NO_OFFSET, NONE};

/// A message not counted for a group (not produced yet, or of another topic).
const UNCOUNTED: u8 = 0;
/// Low bits of a counted byte: the fate. High bits: what else the counts need.
const FATE_MASK: u8 = 0x0f;
const COUNTED_ACKED: u8 = 0x10;
const COUNTED_ABORTED_READ: u8 = 0x20;
/// The message is counted in the checker's `above_hw` (kept in `Msg::flags`).
pub(super) const F_ABOVE_HW: u8 = 128;

fn fate_code(f: Fate) -> u8 {
    match f {
        Fate::Applied => 1,
        Fate::Duplicated => 2,
        Fate::Lost(LossKind::Truncated) => 3,
        Fate::Lost(LossKind::NeverWritten) => 4,
        Fate::Lost(LossKind::Skipped) => 5,
        Fate::Unseen => 6,
        Fate::Failed => 7,
        Fate::Aborted => 8,
        Fate::DeadLettered => 9,
        Fate::Pending => 10,
    }
}

/// Adds (`add`) or removes the message counted as `code` to or from `c`.
fn count(c: &mut LiveCounts, code: u8, add: bool) {
    if code == UNCOUNTED {
        return;
    }
    let step = |n: &mut u64| {
        if add { *n += 1 } else { *n -= 1 }
    };
    let f = &mut c.fates;
    match code & FATE_MASK {
        1 => step(&mut f.applied),
        2 => step(&mut f.duplicated),
        3 => step(&mut f.lost.truncated),
        4 => step(&mut f.lost.never_written),
        5 => step(&mut f.lost.skipped),
        6 => step(&mut f.unseen),
        7 => step(&mut f.failed),
        8 => step(&mut f.aborted),
        9 => step(&mut f.dead_lettered),
        _ => step(&mut f.pending),
    }
    let lost = matches!(code & FATE_MASK, 3..=5);
    if code & COUNTED_ACKED != 0 {
        if lost {
            step(&mut f.acked_lost);
        } else if code & FATE_MASK == 10 {
            step(&mut c.pending_acked);
        }
    }
    if code & COUNTED_ABORTED_READ != 0 {
        step(&mut f.aborted_read);
    }
}

/// One group's live counts.
#[derive(Clone, Debug, Default)]
pub(super) struct LiveCounts {
    /// As [`Checker::fate_counts`] gives them before the run drains.
    pub fates: FateCounts,
    /// Pending messages whose producer saw success: acked and lost once the run drains.
    pub pending_acked: u64,
}

impl LiveCounts {
    /// The counts as the checker reports them, drained (`final_`) or not.
    pub fn as_reported(&self, final_: bool) -> FateCounts {
        let mut c = self.fates;
        if final_ {
            c.lost.never_written += c.pending;
            c.acked_lost += self.pending_acked;
            c.pending = 0;
        }
        c
    }
}

impl Checker {
    /// Keep the fate counts live from now on (call it before the first event): a session that
    /// shows the outcome after every step wants this; a headless run, which asks once at the
    /// end, does not pay for it.
    pub fn keep_live_counts(&mut self) {
        debug_assert_eq!(self.msgs.len(), 0, "live counts start with the run");
        self.live = true;
    }

    /// Whether the fate counts are kept live.
    pub fn live_counts(&self) -> bool {
        self.live
    }

    /// Classify message `i` again for every group of its topic and for `above_hw`.
    pub(super) fn refate(&mut self, i: usize) {
        if !self.live {
            return;
        }
        self.refate_above_hw(i);
        let m = self.msg(i);
        if m.state.flags & F_PRODUCED == 0 || m.ident.topic == NONE {
            return;
        }
        let topic = m.ident.topic as usize;
        let groups = self.topic_groups.get(topic).map_or(0, Vec::len);
        for k in 0..groups {
            let gi = self.topic_groups[topic][k] as usize;
            let fate = self.fate_with(gi, i, false);
            let mut code = fate_code(fate);
            if m.state.flags & F_ACKED != 0 {
                code |= COUNTED_ACKED;
            }
            if Self::is_aborted_read(fate, &m) {
                code |= COUNTED_ABORTED_READ;
            }
            let g = &mut self.groups[gi];
            let old = g.counted.get(i).copied().unwrap_or(UNCOUNTED);
            if old == code {
                continue;
            }
            if g.counted.len() <= i {
                g.counted.resize(self.msgs.len().max(i + 1), UNCOUNTED);
            }
            g.counted[i] = code;
            count(&mut g.live, old, false);
            count(&mut g.live, code, true);
        }
    }

    /// Keep message `i`'s share of `above_hw` right.
    fn refate_above_hw(&mut self, i: usize) {
        let m = self.msg(i);
        let above = m.state.flags & F_ACKED != 0
            && m.state.offset != NO_OFFSET
            && self
                .parts
                .get(m.ident.partition as usize)
                .is_some_and(|p| m.state.offset >= p.hw);
        if above != (m.state.flags & F_ABOVE_HW != 0) {
            self.states[i].flags ^= F_ABOVE_HW;
            if above {
                self.above_hw_live += 1;
            } else {
                self.above_hw_live -= 1;
            }
        }
    }

    /// Partition `pi`'s offsets `a..b` (either order) may have changed fate: classify the
    /// messages that sit there again.
    pub(super) fn refate_offsets(&mut self, pi: usize, a: u64, b: u64) {
        self.for_offsets(pi, a, b, Checker::refate);
    }

    /// Partition `pi`'s high watermark moved from `a` to `b`.
    pub(super) fn refate_above_hw_offsets(&mut self, pi: usize, a: u64, b: u64) {
        self.for_offsets(pi, a, b, Checker::refate_above_hw);
    }

    /// Calls `f` on every message whose offset in partition `pi` lies between `a` and `b`:
    /// those in the current leader's log there, and those a marker overwrote.
    fn for_offsets(&mut self, pi: usize, a: u64, b: u64, f: fn(&mut Checker, usize)) {
        if !self.live || a == b {
            return;
        }
        let Some(pl) = self.parts.get(pi) else { return };
        let (lo, hi) = (a.min(b), a.max(b));
        let len = pl.log.len() as u64;
        for off in lo.min(len)..hi.min(len) {
            let m = self.parts[pi].log[off as usize];
            if m != NONE && self.states[m as usize].offset == off {
                f(self, m as usize);
            }
        }
        for k in 0..self.parts[pi].overwritten.len() {
            let m = self.parts[pi].overwritten[k] as usize;
            if (lo..hi).contains(&self.states[m].offset) {
                f(self, m);
            }
        }
    }

    /// A transaction marker at `offset` cuts partition `pi`'s ledger log: remember the
    /// messages there that still claim their offset.
    pub(super) fn keep_overwritten(&mut self, pi: usize, offset: u64) {
        let len = self.parts[pi].log.len() as u64;
        for off in offset..len {
            let m = self.parts[pi].log[off as usize];
            if m != NONE && self.states[m as usize].offset == off {
                self.parts[pi].overwritten.push(m);
            }
        }
    }

    /// Group `gi`'s position below which unapplied records are skipped, on partition `p`.
    pub(super) fn skip_below(&self, gi: usize, p: usize) -> u64 {
        let (reset, committed) = self.positions(gi, p);
        reset.unwrap_or(0).max(committed.unwrap_or(0))
    }

    /// The live counts of group `gi` as reported.
    pub(super) fn live_fate_counts(&self, gi: usize) -> FateCounts {
        self.groups[gi].live.as_reported(self.final_)
    }
}
