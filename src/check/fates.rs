//! Fates: for each group that reads a message's topic, the one thing that
//! became of the message, and the anomalies (lost by kind, duplicated, reordered, aborted-read)
//! with the facts a report needs to explain them.
//!
//! Fates are derived from the ledger the checker keeps incrementally (applications, the current
//! leader's log as message ids, group positions, transaction markers); classifying is one pass
//! over the messages per group and allocates only the result.

use serde::Serialize;

use super::{
    Checker, F_ABORTED, F_ACKED, F_FAILED, F_FAILED_BY_ANSWER, F_PRODUCED, F_WRITTEN, Msg,
    NO_OFFSET, NONE, Removal,
};
use crate::sim::ids::{GroupId, MsgId, PartitionId};

/// Why a message the group will never apply is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Written, then removed from the log by a leader change.
    Truncated,
    /// The producer believed it sent it, and it reached no log.
    NeverWritten,
    /// In the log, but the group's position moved past it.
    Skipped,
}

impl LossKind {
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Truncated => "truncated",
            LossKind::NeverWritten => "never_written",
            LossKind::Skipped => "skipped",
        }
    }
}

/// What became of one message for one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fate {
    /// Applied exactly once.
    Applied,
    /// Applied more than once.
    Duplicated,
    Lost(LossKind),
    /// In the log, still ahead of the group's position: a longer run could apply it.
    Unseen,
    /// The producer was told it failed, and it is in no log.
    Failed,
    /// In an aborted transaction, not applied.
    Aborted,
    DeadLettered,
    /// The run has not drained: not in a log yet and not failed (in flight).
    Pending,
}

impl Fate {
    pub fn name(self) -> &'static str {
        match self {
            Fate::Applied => "applied",
            Fate::Duplicated => "duplicated",
            Fate::Lost(k) => k.name(),
            Fate::Unseen => "unseen",
            Fate::Failed => "failed",
            Fate::Aborted => "aborted",
            Fate::DeadLettered => "dead_lettered",
            Fate::Pending => "pending",
        }
    }
}

/// Per-group counts of every fate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LostByKind {
    pub truncated: u64,
    pub never_written: u64,
    pub skipped: u64,
}

impl LostByKind {
    pub fn total(&self) -> u64 {
        self.truncated + self.never_written + self.skipped
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct FateCounts {
    pub applied: u64,
    pub duplicated: u64,
    pub lost: LostByKind,
    pub acked_lost: u64,
    pub unseen: u64,
    pub failed: u64,
    pub aborted: u64,
    pub aborted_read: u64,
    pub dead_lettered: u64,
    pub pending: u64,
}

/// The kind of an anomaly (the `kind` of an entry of the report's `anomalies`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    Truncated,
    NeverWritten,
    Skipped,
    Duplicated,
    Reordered,
    AbortedRead,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 6] = [
        AnomalyKind::Truncated,
        AnomalyKind::NeverWritten,
        AnomalyKind::Skipped,
        AnomalyKind::Duplicated,
        AnomalyKind::Reordered,
        AnomalyKind::AbortedRead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Truncated => "truncated",
            AnomalyKind::NeverWritten => "never_written",
            AnomalyKind::Skipped => "skipped",
            AnomalyKind::Duplicated => "duplicated",
            AnomalyKind::Reordered => "reordered",
            AnomalyKind::AbortedRead => "aborted_read",
        }
    }

    pub fn is_loss(self) -> bool {
        matches!(
            self,
            AnomalyKind::Truncated | AnomalyKind::NeverWritten | AnomalyKind::Skipped
        )
    }
}

/// The facts behind one anomaly, for a report to phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// How it left the log, if known.
    Truncated(Option<Removal>),
    /// Whether the producer saw success.
    NeverWritten {
        acked: bool,
    },
    /// It sits at `offset` of `partition`; the group was reset to `reset` (when that jumped
    /// past it) and has committed `committed`.
    Skipped {
        partition: PartitionId,
        offset: u64,
        reset: Option<u64>,
        committed: Option<u64>,
    },
    /// Applied `times` times; the leaders appended it `appends` times.
    Duplicated {
        times: u16,
        appends: u8,
    },
    /// First applied after `after`, sent later by the same producer with the same key.
    Reordered {
        after: MsgId,
    },
    AbortedRead,
    /// A queue forgot it before the group applied it: settled as it was sent (RabbitMQ
    /// auto-ack, Redis BRPOP) and its consumer stopped, or refused with nowhere to
    /// dead-letter it.
    Forgotten {
        on_send: bool,
    },
}

/// Why a queue forgot a message ([`Detail::Forgotten`]).
pub(super) const FORGOT_ON_SEND: u8 = 1;
pub(super) const FORGOT_DROPPED: u8 = 2;

/// One anomalous message for one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnomalyRecord {
    pub group: GroupId,
    pub msg: MsgId,
    pub kind: AnomalyKind,
    pub acked: bool,
    pub detail: Detail,
}

impl Checker {
    /// The fate of `msg` for `group`; `None` if the message was never produced or does not
    /// belong to the group's topic.
    pub fn fate(&self, group: GroupId, msg: MsgId) -> Option<Fate> {
        let g = self.groups.get(group.idx())?;
        let m = self.get_msg(msg.idx())?;
        if m.state.flags & F_PRODUCED == 0 || m.ident.topic == NONE || m.ident.topic != g.topic {
            return None;
        }
        Some(self.fate_of(group.idx(), msg.idx()))
    }

    fn fate_of(&self, gi: usize, i: usize) -> Fate {
        self.fate_with(gi, i, self.final_)
    }

    /// The fate as it is once the run has drained (`final_`) or before.
    pub(super) fn fate_with(&self, gi: usize, i: usize, final_: bool) -> Fate {
        self.fate_from(gi, i, final_, || self.msg(i))
    }

    /// [`Checker::fate_of`] of message `i`, for a scan that holds its entry `m` already.
    fn fate_of_entry(&self, gi: usize, i: usize, m: &Msg) -> Fate {
        self.fate_from(gi, i, self.final_, || *m)
    }

    /// The fate from how many times the group applied the message, which decides it for
    /// almost every message; only an unapplied one needs its ledger entry (`entry`).
    fn fate_from(&self, gi: usize, i: usize, final_: bool, entry: impl FnOnce() -> Msg) -> Fate {
        match self.groups[gi].times(i) {
            0 => self.fate_unapplied(gi, i, &entry(), final_),
            1 => Fate::Applied,
            _ => Fate::Duplicated,
        }
    }

    /// The fate of message `i` (entry `m`), which group `gi` has not applied.
    fn fate_unapplied(&self, gi: usize, i: usize, m: &Msg, final_: bool) -> Fate {
        let g = &self.groups[gi];
        if g.dead.get(i).copied().unwrap_or(false) {
            return Fate::DeadLettered;
        }
        if g.forgotten.get(i).is_some_and(|&why| why != 0) {
            return Fate::Lost(LossKind::Skipped);
        }
        if let Some(up) = self.setup.groups[gi].upstream
            && up.idx() != gi
            && up.idx() < self.groups.len()
        {
            // The group reads a processor's output: what it never applied either never got
            // there (the fate upstream) or is in the output topic ahead of it.
            return match self.fate_with(up.idx(), i, final_) {
                Fate::Applied | Fate::Duplicated => Fate::Unseen,
                f => f,
            };
        }
        if m.state.offset != NO_OFFSET {
            if m.state.flags & F_ABORTED != 0 {
                return Fate::Aborted;
            }
            let (reset, committed) = self.positions(gi, m.ident.partition as usize);
            if reset.is_some_and(|r| m.state.offset < r)
                || committed.is_some_and(|c| m.state.offset < c)
            {
                return Fate::Lost(LossKind::Skipped);
            }
            return Fate::Unseen;
        }
        if m.state.flags & F_FAILED != 0 {
            return Fate::Failed;
        }
        if m.state.flags & F_WRITTEN != 0 {
            return Fate::Lost(LossKind::Truncated);
        }
        if final_ {
            Fate::Lost(LossKind::NeverWritten)
        } else {
            Fate::Pending
        }
    }

    /// The group's reset and committed positions on a partition.
    pub(super) fn positions(&self, gi: usize, p: usize) -> (Option<u64>, Option<u64>) {
        let g = &self.groups[gi];
        let get = |v: &Vec<u64>| v.get(p).copied().filter(|&o| o != NO_OFFSET);
        (get(&g.reset), get(&g.committed))
    }

    /// Counts the fates of the messages of group `gi`'s topic. O(messages).
    pub(super) fn fate_counts(&self, gi: usize) -> FateCounts {
        let mut c = FateCounts::default();
        let topic = self.groups[gi].topic;
        for (i, m) in self.all_msgs().enumerate() {
            if m.state.flags & F_PRODUCED == 0 || m.ident.topic != topic || topic == NONE {
                continue;
            }
            let fate = self.fate_of_entry(gi, i, &m);
            match fate {
                Fate::Applied => c.applied += 1,
                Fate::Duplicated => c.duplicated += 1,
                Fate::Lost(k) => {
                    match k {
                        LossKind::Truncated => c.lost.truncated += 1,
                        LossKind::NeverWritten => c.lost.never_written += 1,
                        LossKind::Skipped => c.lost.skipped += 1,
                    }
                    c.acked_lost += (m.state.flags & F_ACKED != 0) as u64;
                }
                Fate::Unseen => c.unseen += 1,
                Fate::Failed => c.failed += 1,
                Fate::Aborted => c.aborted += 1,
                Fate::DeadLettered => c.dead_lettered += 1,
                Fate::Pending => c.pending += 1,
            }
            if Self::is_aborted_read(fate, &m) {
                c.aborted_read += 1;
            }
        }
        c
    }

    /// An applied message whose copy in the log belongs to an aborted transaction.
    pub(super) fn is_aborted_read(fate: Fate, m: &Msg) -> bool {
        matches!(fate, Fate::Applied | Fate::Duplicated)
            && m.state.flags & F_ABORTED != 0
            && m.state.offset != NO_OFFSET
    }

    /// Acknowledged messages in the leader's log above its high watermark: not yet on every
    /// in-sync replica, so a leader change can still remove them.
    pub fn above_hw(&self) -> u64 {
        if self.live {
            return self.above_hw_live;
        }
        self.recount_above_hw()
    }

    /// [`Checker::above_hw`] counted over every message.
    pub fn recount_above_hw(&self) -> u64 {
        self.all_msgs()
            .filter(|m| {
                m.state.flags & F_ACKED != 0
                    && m.state.offset != NO_OFFSET
                    && self
                        .parts
                        .get(m.ident.partition as usize)
                        .is_some_and(|p| m.state.offset >= p.hw)
            })
            .count() as u64
    }

    /// Messages whose producer gave up on them (a `Failed` event) that are nevertheless in a
    /// leader's log, outside any aborted transaction, in message order. A send that fails with
    /// a timeout may have been written (KIP-91); one answered with an error may have been too
    /// (NOT_ENOUGH_REPLICAS_AFTER_APPEND is sent after the append).
    pub fn failed_but_written(&self) -> Vec<FailedButWritten> {
        self.all_msgs()
            .enumerate()
            .filter(|(_, m)| {
                m.state.flags & F_FAILED != 0
                    && m.state.flags & F_ABORTED == 0
                    && m.state.offset != NO_OFFSET
            })
            .map(|(i, m)| FailedButWritten {
                msg: MsgId(i as u32),
                partition: PartitionId(m.ident.partition),
                offset: m.state.offset,
                answered: m.state.flags & F_FAILED_BY_ANSWER != 0,
            })
            .collect()
    }

    /// Every anomaly, by group in scenario order, then by kind, then by message id.
    pub fn anomalies(&self) -> Vec<AnomalyRecord> {
        let mut out = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            let group = GroupId(gi as u32);
            let start = out.len();
            for (i, m) in self.all_msgs().enumerate() {
                if m.state.flags & F_PRODUCED == 0 || m.ident.topic != g.topic || g.topic == NONE {
                    continue;
                }
                let msg = MsgId(i as u32);
                let acked = m.state.flags & F_ACKED != 0;
                let rec = |kind, detail| AnomalyRecord {
                    group,
                    msg,
                    kind,
                    acked,
                    detail,
                };
                let fate = self.fate_of_entry(gi, i, &m);
                match fate {
                    Fate::Lost(LossKind::Truncated) => out.push(rec(
                        AnomalyKind::Truncated,
                        Detail::Truncated(self.removals.get(m.state.removal as usize).copied()),
                    )),
                    Fate::Lost(LossKind::NeverWritten) => out.push(rec(
                        AnomalyKind::NeverWritten,
                        Detail::NeverWritten { acked },
                    )),
                    Fate::Lost(LossKind::Skipped)
                        if g.forgotten.get(i).is_some_and(|&why| why != 0) =>
                    {
                        out.push(rec(
                            AnomalyKind::Skipped,
                            Detail::Forgotten {
                                on_send: g.forgotten[i] == FORGOT_ON_SEND,
                            },
                        ))
                    }
                    Fate::Lost(LossKind::Skipped) => {
                        let (reset, committed) = self.positions(gi, m.ident.partition as usize);
                        out.push(rec(
                            AnomalyKind::Skipped,
                            Detail::Skipped {
                                partition: PartitionId(m.ident.partition),
                                offset: m.state.offset,
                                reset: reset.filter(|&r| m.state.offset < r),
                                committed,
                            },
                        ))
                    }
                    Fate::Duplicated => out.push(rec(
                        AnomalyKind::Duplicated,
                        Detail::Duplicated {
                            times: g.times(i),
                            appends: m.state.appends,
                        },
                    )),
                    _ => {}
                }
                if Self::is_aborted_read(fate, &m) {
                    out.push(rec(AnomalyKind::AbortedRead, Detail::AbortedRead));
                }
            }
            for &(m, after) in &g.reorders {
                out.push(AnomalyRecord {
                    group,
                    msg: MsgId(m),
                    kind: AnomalyKind::Reordered,
                    acked: self.states[m as usize].flags & F_ACKED != 0,
                    detail: Detail::Reordered {
                        after: MsgId(after),
                    },
                });
            }
            out[start..].sort_by_key(|a| (a.kind, a.msg.0));
        }
        out
    }
}

/// A send reported failed whose record is in a leader's log anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailedButWritten {
    pub msg: MsgId,
    pub partition: PartitionId,
    pub offset: u64,
    /// The broker answered with the error (not a timeout or a lost connection).
    pub answered: bool,
}
