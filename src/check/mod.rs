//! The outcome checker.
//!
//! [`Checker`] keeps a ledger of every message any application sent and every time a consumer
//! group applied one. It is fed the trace stream one event at a time ([`Checker::observe`]),
//! keeps its counters up to date incrementally, and so can report the [`Outcome`] at any moment
//! in O(groups), which lets the TUI show it live.
//!
//! Everything is indexed by the compact ids of [`crate::sim::ids`]: a `Vec` per message, a
//! `Vec` of application counts per group, and a dense "stream" id per `(producer, key)` pair for
//! the reordering check. No hashing, no allocation per event once the tables have grown, and the
//! result depends only on the order of the events.

mod expect;
mod fates;
mod live;

pub use expect::{ExpectExtra, GroupCost, check_expect};
pub use fates::{AnomalyKind, AnomalyRecord, Detail, FailedButWritten, Fate, LossKind, LostByKind};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::scenario::{Scenario, Verdict};
use crate::sim::chunked::ChunkedVec;
use crate::sim::ids::{BrokerId, GroupId, MsgId, PartitionId, ProducerId, TopicId};
use crate::sim::key_table::KeyTable;
use crate::sim::shared_log::SharedLog;
use crate::sim::trace::{Trace, TraceEvent};

/// "No such thing" in the `u32` tables.
const NONE: u32 = u32::MAX;

/// What the checker needs to know about the scenario.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CheckerSetup {
    /// For each partition (index = `PartitionId.0`), its topic.
    pub partition_topic: Vec<TopicId>,
    /// For each group (index = `GroupId.0`): its name, the topic it consumes and whether it has a
    /// dedup sink.
    pub groups: Vec<GroupSetup>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSetup {
    pub name: String,
    pub topic: TopicId,
    pub dedup: bool,
    /// For a group downstream of a processor: the processor group whose output it reads. A
    /// message it never applied has the fate the message had upstream (lost there, failed,
    /// ...), or `unseen` if the processor applied it.
    pub upstream: Option<GroupId>,
}

impl CheckerSetup {
    /// Builds the setup from a scenario, numbering partitions across all topics in declaration
    /// order (as the simulation does). Fails if a group names a topic that is not declared.
    pub fn from_scenario(scenario: &Scenario) -> Result<CheckerSetup, String> {
        let mut partition_topic = Vec::new();
        for (t, topic) in scenario.topics.iter().enumerate() {
            for _ in 0..topic.partitions {
                partition_topic.push(TopicId(t as u32));
            }
        }
        let mut groups = Vec::with_capacity(scenario.groups.len());
        for g in &scenario.groups {
            // A group downstream of a processor (its topic is another group's `output_topic`)
            // sees the pipeline's input messages under their original ids: it is judged on
            // the messages sent to the pipeline's first topic.
            let mut origin = g.topic.as_str();
            let mut upstream = None;
            for _ in 0..scenario.groups.len() {
                match scenario
                    .groups
                    .iter()
                    .position(|up| up.output_topic.as_deref() == Some(origin) && up.topic != origin)
                {
                    Some(u) => {
                        upstream.get_or_insert(GroupId(u as u32));
                        origin = scenario.groups[u].topic.as_str();
                    }
                    None => break,
                }
            }
            let t = scenario
                .topics
                .iter()
                .position(|t| t.name == origin)
                .ok_or_else(|| {
                    format!("group `{}` consumes unknown topic `{}`", g.name, g.topic)
                })?;
            groups.push(GroupSetup {
                name: g.name.clone(),
                topic: TopicId(t as u32),
                dedup: g.dedup,
                upstream,
            });
        }
        Ok(CheckerSetup {
            partition_topic,
            groups,
        })
    }
}

/// Something the checker noticed at the moment it happened, for live display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anomaly {
    /// `group` applied `msg` again (reported on every repeat application; the `duplicated`
    /// count goes up only on the first repeat).
    Duplicate { group: GroupId, msg: MsgId },
    /// `group` applied `msg` for the first time after already having applied `after`, a message
    /// with the same producer and key that was sent later.
    Reordered {
        group: GroupId,
        msg: MsgId,
        after: MsgId,
    },
    /// An acknowledged message was removed from a replica's log by truncation and has not been
    /// applied by every group of its topic: it is at risk of being lost.
    AckedTruncated { msg: MsgId },
    /// `leader` was elected for `partition` without `msg`, which was acknowledged: the new
    /// leader's log will overwrite it, so the loss is certain from this moment (it is truncated
    /// from the replicas that have it when they next fetch).
    ElectedWithout {
        msg: MsgId,
        partition: PartitionId,
        leader: BrokerId,
    },
}

/// One message as seen by one group, for the matrix view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgStatus {
    /// Not applied and not lost: in flight, unseen, failed, aborted or dead-lettered (see
    /// [`Checker::fate`]).
    Pending,
    /// Lost: the group will never apply it.
    Lost,
    /// Applied this many times (saturating at `u16::MAX`).
    Applied(u32),
    /// The message was not produced to this group's topic (or is unknown) and was never applied
    /// by this group.
    Unrelated,
}

/// What the ledger knows about one sent message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MsgInfo {
    pub producer: ProducerId,
    /// The per-producer send number, from 1: the message is `<producer>#<n>`.
    pub n: u32,
    pub partition: PartitionId,
    pub key: Option<u32>,
    /// The producer saw success.
    pub acked: bool,
    /// The producer gave up.
    pub failed: bool,
    /// Acked, truncated away from some log, and not since applied by every group or re-appended.
    pub at_risk: bool,
}

/// The outcome of one group: the fate of every message of its topic.
/// `applied + duplicated + lost + unseen + failed + aborted + dead_lettered (+ pending while
/// running)` is the number of messages sent to the topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupOutcome {
    /// The group's name (the key of the `groups` map when serialised).
    #[serde(skip)]
    pub name: String,
    /// Messages applied exactly once.
    pub applied: u64,
    /// Messages the group will never apply although their producer was not told they failed
    /// (the sum of `lost_by_kind`).
    pub lost: u64,
    /// Lost messages whose producer saw success.
    pub acked_lost: u64,
    /// Messages applied more than once.
    pub duplicated: u64,
    /// Messages first applied after a later-sent message with the same producer and key.
    pub reordered: u64,
    /// Repeats suppressed by the dedup sink.
    pub redelivered: u64,
    /// Poison messages parked on the dead-letter topic instead of applied.
    pub dead_lettered: u64,
    /// In the log and still ahead of the group's position when the run ended: not lost.
    pub unseen: u64,
    /// The producer was told they failed, and they are in no log.
    pub failed: u64,
    /// In an aborted transaction and not applied.
    pub aborted: u64,
    /// Applied although they belong to an aborted transaction.
    pub aborted_read: u64,
    /// `lost` by kind: truncated, never_written, skipped.
    pub lost_by_kind: LostByKind,
    pub verdict: Verdict,
    /// Messages not in a log yet and not failed while the run has not drained (0 once final).
    #[serde(skip)]
    pub pending: u64,
}

/// The outcome of the run so far. Totals are sums over the groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Whether the run has drained, so that unapplied messages count as lost.
    #[serde(skip)]
    pub final_: bool,
    pub sent: u64,
    pub acked: u64,
    /// Messages whose producer gave up.
    pub failed: u64,
    pub applied: u64,
    pub lost: u64,
    pub acked_lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub redelivered: u64,
    pub unseen: u64,
    pub aborted: u64,
    pub aborted_read: u64,
    pub dead_lettered: u64,
    pub lost_by_kind: LostByKind,
    pub verdict: Verdict,
    /// Sum of the groups' pending counts (0 once final).
    #[serde(skip)]
    pub pending: u64,
    /// Acked messages currently at risk (see [`MsgInfo::at_risk`]).
    #[serde(skip)]
    pub at_risk: u64,
    /// Acked messages in a leader's log above its high watermark (on fewer replicas than the
    /// ISR): a leader change can still remove them.
    #[serde(skip)]
    pub above_hw: u64,
    /// Per group, in scenario order; serialised as a map from group name to its outcome.
    #[serde(serialize_with = "groups_as_map")]
    pub groups: Vec<GroupOutcome>,
}

impl Outcome {
    pub fn group(&self, name: &str) -> Option<&GroupOutcome> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The totals as a group row (named `total`, failed = the groups' failed fates).
    pub fn total(&self) -> GroupOutcome {
        GroupOutcome {
            name: "total".to_string(),
            applied: self.applied,
            lost: self.lost,
            acked_lost: self.acked_lost,
            duplicated: self.duplicated,
            reordered: self.reordered,
            redelivered: self.redelivered,
            dead_lettered: self.dead_lettered,
            unseen: self.unseen,
            failed: self.groups.iter().map(|g| g.failed).sum(),
            aborted: self.aborted,
            aborted_read: self.aborted_read,
            lost_by_kind: self.lost_by_kind,
            verdict: self.verdict,
            pending: self.pending,
        }
    }
}

fn groups_as_map<S: Serializer>(groups: &[GroupOutcome], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(groups.len()))?;
    for g in groups {
        map.serialize_entry(&g.name, g)?;
    }
    map.end()
}

/// The verdict for a loss count and a duplicate count.
pub fn verdict(lost: u64, duplicated: u64) -> Verdict {
    match (lost > 0, duplicated > 0) {
        (false, false) => Verdict::ExactlyOnce,
        (false, true) => Verdict::AtLeastOnce,
        (true, false) => Verdict::AtMostOnce,
        (true, true) => Verdict::None,
    }
}

const F_PRODUCED: u8 = 1;
const F_ACKED: u8 = 2;
const F_FAILED: u8 = 4;
const F_AT_RISK: u8 = 8;
/// Some leader appended it at least once.
const F_WRITTEN: u8 = 16;
/// Its copy in the log belongs to an aborted transaction.
const F_ABORTED: u8 = 32;
/// It failed with an error the broker answered (not a timeout or a lost connection).
const F_FAILED_BY_ANSWER: u8 = 64;

/// Ledger entry of one message: its identity and its state, read together.
#[derive(Clone, Copy, Debug)]
struct Msg {
    ident: MsgIdentity,
    state: MsgState,
}

/// What the ledger learns of a message when it is produced, and never changes after.
#[derive(Clone, Copy, Debug)]
struct MsgIdentity {
    producer: u32,
    n: u32,
    partition: u32,
    /// `NONE` until produced, or if the partition's topic is unknown.
    topic: u32,
    /// Interned key, `NONE` for keyless.
    key: u32,
    /// Dense `(producer, key)` id, `NONE` for keyless or unknown.
    stream: u32,
    /// Index in its producer's send list for its partition (to expand a batch from its first
    /// message), `NONE` until produced.
    pidx: u32,
}

/// What the run changes about a message after it is produced. Kept apart from its identity,
/// in a table of 16-byte entries: a message is appended, acked and fated well after a TUI
/// checkpoint may have been taken, and each such write copies the leaf a checkpoint shares.
/// Copying a leaf of states costs a third of copying whole entries.
#[derive(Clone, Copy, Debug)]
struct MsgState {
    /// Its offset in the current leader's log, `NO_OFFSET` if it is in no leader's log.
    offset: u64,
    /// Why it left the log (index into `Checker::removals`), `NONE` if it never did.
    removal: u32,
    flags: u8,
    /// Times a leader appended it (saturating): 2 or more means the producer wrote it twice.
    appends: u8,
}

const UNKNOWN_MSG: MsgIdentity = MsgIdentity {
    producer: NONE,
    n: 0,
    partition: NONE,
    topic: NONE,
    key: NONE,
    stream: NONE,
    pidx: NONE,
};

const UNWRITTEN: MsgState = MsgState {
    offset: NO_OFFSET,
    removal: NONE,
    flags: 0,
    appends: 0,
};

/// "Not in the log" for [`MsgState::offset`] and "no position" for group positions.
const NO_OFFSET: u64 = u64::MAX;

#[derive(Clone, Debug)]
struct ProducerLedger {
    /// Sends so far.
    sent: u32,
    /// Interned key → stream id, filled when this producer first uses the key.
    stream_by_key: KeyTable,
    /// Per partition, the messages sent to it in send order (a batch is a run of these).
    /// Shared with checkpoints: one per producer and partition.
    parts: Vec<SharedLog<u32>>,
    /// The transaction (`ProducerInitialized`'s `txn`) it belongs to, `NONE` if none.
    txn: u32,
}

#[derive(Clone, Debug)]
struct GroupLedger {
    topic: u32,
    /// Applications per message, indexed by `MsgId`, saturating.
    times: ChunkedVec<u16>,
    /// Per stream: the message with the highest send number first-applied so far (`NONE`),
    /// with that send number.
    max_first: Vec<(u32, u32)>,
    /// Messages of this group's topic.
    belong: u64,
    /// Distinct messages applied (any topic).
    applied: u64,
    /// Distinct messages of this group's topic applied.
    applied_belong: u64,
    /// Acked messages of this group's topic.
    acked_belong: u64,
    /// Acked messages of this group's topic applied.
    acked_applied_belong: u64,
    duplicated: u64,
    reordered: u64,
    redelivered: u64,
    /// Messages sent to the dead-letter topic instead of being applied, by `MsgId`.
    dead: ChunkedVec<bool>,
    dead_lettered: u64,
    /// Messages a queue forgot without this group applying them, by `MsgId`: why
    /// (`FORGOT_*`), or 0.
    forgotten: ChunkedVec<u8>,
    /// Per partition: the group's committed position (`NO_OFFSET` if none).
    committed: Vec<u64>,
    /// Per partition: the highest offset an `auto.offset.reset` (or out-of-range reset) moved
    /// the group to (`NO_OFFSET` if none).
    reset: Vec<u64>,
    /// First applications that came after a later-sent message: `(msg, after)`.
    reorders: Vec<(u32, u32)>,
    /// With live counts: per message, how it is counted in `live` (see `live.rs`).
    counted: ChunkedVec<u8>,
    live: live::LiveCounts,
}

impl Default for ProducerLedger {
    fn default() -> ProducerLedger {
        ProducerLedger {
            sent: 0,
            stream_by_key: Default::default(),
            parts: Vec::new(),
            txn: NONE,
        }
    }
}

/// What the checker knows about one partition's log, from the trace: the current leader's log
/// as message ids by offset, and every replica's log end.
#[derive(Clone, Debug, Default)]
struct PartLedger {
    /// Offset → message in the current leader's log (`NONE` for control records or unknown).
    log: ChunkedVec<u32>,
    /// The current leader (`BrokerId.0`), `NONE` until known.
    leader: u32,
    /// The leader's epoch as last elected.
    epoch: u32,
    /// Log end offset per broker index.
    leo: Vec<u64>,
    /// The leader's high watermark.
    hw: u64,
    /// Transactional records not yet settled by a marker: `(txn, msg, offset)`.
    open_txn: Vec<(u32, u32, u64)>,
    /// With live counts: messages a transaction marker overwrote in this log that still
    /// claim an offset here (see `live.rs`).
    overwritten: Vec<u32>,
}

impl PartLedger {
    fn set_leo(&mut self, broker: u32, leo: u64) {
        let b = broker as usize;
        if self.leo.len() <= b {
            self.leo.resize(b + 1, 0);
        }
        self.leo[b] = leo;
    }
}

/// How a message left the log (or never reached an authoritative one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Removal {
    pub partition: PartitionId,
    /// The broker whose copy was lost (the old leader).
    pub broker: BrokerId,
    /// Offsets `from..to` went.
    pub from: u64,
    pub to: u64,
    /// `Some(new leader, epoch, unclean)` if a leader change cut the log; `None` if the records
    /// were written to a leader that had already been replaced.
    pub elected: Option<(BrokerId, u32, bool)>,
}

impl GroupLedger {
    fn times(&self, msg: usize) -> u16 {
        self.times.get(msg).copied().unwrap_or(0)
    }
}

/// The incremental outcome ledger. `Clone` so the TUI can checkpoint it alongside the `Sim`.
#[derive(Clone, Debug)]
pub struct Checker {
    setup: CheckerSetup,
    /// Topic → the groups that consume it.
    topic_groups: Vec<Vec<u32>>,
    /// Per message (`MsgId`): who sent it where, set once.
    msgs: ChunkedVec<MsgIdentity>,
    /// Per message: what has happened to it, as long as `msgs`.
    states: ChunkedVec<MsgState>,
    producers: Vec<ProducerLedger>,
    /// Stream count (dense `(producer, key)` ids handed out).
    streams: u32,
    groups: Vec<GroupLedger>,
    sent: u64,
    acked: u64,
    failed: u64,
    at_risk: u64,
    final_: bool,
    /// Anomalies revealed by the last observed event (buffer reused across events).
    revealed: Vec<Anomaly>,
    /// Per partition (index = `PartitionId.0`).
    parts: Vec<PartLedger>,
    /// Every time records left the log (rare: leader changes).
    removals: Vec<Removal>,
    /// Whether fate counts are kept as events arrive (`live.rs`).
    live: bool,
    /// With live counts: [`Checker::above_hw`].
    above_hw_live: u64,
}

impl Checker {
    /// Bytes of the per-message tables a checkpoint shares rather than copies (see
    /// [`crate::sim::Sim::shared_bytes`]).
    pub fn shared_bytes(&self) -> usize {
        let producers: usize = self
            .producers
            .iter()
            .flat_map(|p| &p.parts)
            .map(|t| t.shared_bytes())
            .sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|g| {
                g.times.shared_bytes()
                    + g.dead.shared_bytes()
                    + g.forgotten.shared_bytes()
                    + g.counted.shared_bytes()
            })
            .sum();
        let logs: usize = self.parts.iter().map(|p| p.log.shared_bytes()).sum();
        self.msgs.shared_bytes() + self.states.shared_bytes() + producers + groups + logs
    }

    pub fn new(setup: CheckerSetup) -> Checker {
        let topics = setup
            .partition_topic
            .iter()
            .map(|t| t.idx() + 1)
            .chain(setup.groups.iter().map(|g| g.topic.idx() + 1))
            .max()
            .unwrap_or(0);
        let mut topic_groups = vec![Vec::new(); topics];
        for (g, gs) in setup.groups.iter().enumerate() {
            topic_groups[gs.topic.idx()].push(g as u32);
        }
        let groups = setup
            .groups
            .iter()
            .map(|gs| GroupLedger {
                topic: gs.topic.0,
                times: ChunkedVec::new(),
                max_first: Vec::new(),
                belong: 0,
                applied: 0,
                applied_belong: 0,
                acked_belong: 0,
                acked_applied_belong: 0,
                duplicated: 0,
                reordered: 0,
                redelivered: 0,
                dead: ChunkedVec::new(),
                dead_lettered: 0,
                forgotten: ChunkedVec::new(),
                committed: Vec::new(),
                reset: Vec::new(),
                reorders: Vec::new(),
                counted: ChunkedVec::new(),
                live: live::LiveCounts::default(),
            })
            .collect();
        Checker {
            setup,
            topic_groups,
            msgs: ChunkedVec::new(),
            states: ChunkedVec::new(),
            producers: Vec::new(),
            streams: 0,
            groups,
            sent: 0,
            acked: 0,
            failed: 0,
            at_risk: 0,
            final_: false,
            revealed: Vec::new(),
            parts: Vec::new(),
            removals: Vec::new(),
            live: false,
            above_hw_live: 0,
        }
    }

    pub fn setup(&self) -> &CheckerSetup {
        &self.setup
    }

    /// Records the topic of a partition created after the start (`add-partitions`). Call it
    /// before the first message to that partition is produced; messages to a partition the
    /// checker does not know belong to no group.
    pub fn set_partition_topic(&mut self, partition: PartitionId, topic: TopicId) {
        let p = partition.idx();
        if self.setup.partition_topic.len() <= p {
            // Unknown partitions in between get a topic no group consumes.
            self.setup.partition_topic.resize(p + 1, TopicId(NONE));
        }
        self.setup.partition_topic[p] = topic;
        if self.topic_groups.len() <= topic.idx() {
            self.topic_groups.resize(topic.idx() + 1, Vec::new());
        }
    }

    /// Marks the run as drained (or not, e.g. after rewinding): from then on, messages never
    /// applied count as lost rather than pending.
    pub fn set_final(&mut self, final_: bool) {
        self.final_ = final_;
    }

    pub fn is_final(&self) -> bool {
        self.final_
    }

    /// Feeds one trace event. Returns the anomalies this event revealed (usually none; a
    /// truncation can reveal several). The slice is only valid until the next call.
    pub fn observe(&mut self, ev: &TraceEvent) -> &[Anomaly] {
        self.revealed.clear();
        match &ev.kind {
            Trace::Produced {
                producer,
                msg,
                partition,
                key,
            } => self.on_produced(*producer, *msg, *partition, *key),
            Trace::Acked { msg, .. } => self.on_acked(*msg),
            Trace::Failed { msg, error, .. } if self.entry(*msg).state.flags & F_FAILED == 0 => {
                let m = self.slot(*msg);
                m.flags |= F_FAILED;
                if !error.is_unanswered() {
                    m.flags |= F_FAILED_BY_ANSWER;
                }
                self.failed += 1;
                self.refate(msg.idx());
            }
            Trace::Applied { group, msg, .. } => self.on_applied(*group, *msg),
            Trace::Redelivered { group, .. } => {
                if let Some(g) = self.groups.get_mut(group.idx()) {
                    g.redelivered += 1;
                }
            }
            Trace::DeadLettered { group, msg, .. } => self.on_dead_lettered(*group, *msg),
            // KIP-932: a share group's deliveries after a record's first are `redelivered`, and
            // a record archived (at the delivery count limit, or rejected) is `dead_lettered`,
            // not lost: the share partition parks it as a dead-letter queue would.
            Trace::Share {
                group,
                msg,
                delivery_count,
                step,
                ..
            } => match step {
                crate::sim::ShareStep::Acquired if *delivery_count > 1 => {
                    if let Some(g) = self.groups.get_mut(group.idx()) {
                        g.redelivered += 1;
                    }
                }
                crate::sim::ShareStep::Archived => self.on_dead_lettered(*group, *msg),
                // A queue forgot it: if the group never applies it, it is lost (skipped).
                crate::sim::ShareStep::Settled => {
                    self.on_forgotten(*group, *msg, fates::FORGOT_ON_SEND)
                }
                crate::sim::ShareStep::Dropped => {
                    self.on_forgotten(*group, *msg, fates::FORGOT_DROPPED)
                }
                _ => {}
            },
            Trace::PartitionsAdded {
                topic,
                first,
                count,
            } => {
                for k in 0..*count {
                    self.set_partition_topic(PartitionId(first.0 + k), *topic);
                }
            }
            Trace::Truncated {
                partition,
                broker,
                to,
                removed,
                ..
            } => {
                self.part(*partition).set_leo(broker.0, *to);
                self.on_truncated(removed);
            }
            Trace::Appended {
                partition,
                broker,
                base_offset,
                count,
                first_msg,
                ..
            } => {
                self.on_appended(*partition, *broker, *base_offset, *count, *first_msg);
                if self.at_risk > 0 {
                    self.clear_risk(first_msg.idx());
                }
            }
            Trace::DuplicateBatch { first_msg, .. } if self.at_risk > 0 => {
                self.clear_risk(first_msg.idx());
            }
            Trace::Replicated {
                partition,
                broker,
                leo,
            } => self.part(*partition).set_leo(broker.0, *leo),
            Trace::HighWatermark {
                partition,
                broker,
                hw,
            } => {
                let pl = self.part(*partition);
                if pl.leader == broker.0 {
                    let old = std::mem::replace(&mut pl.hw, *hw);
                    self.refate_above_hw_offsets(partition.idx(), old, *hw);
                }
            }
            Trace::LeaderElected {
                partition,
                leader,
                epoch,
                unclean,
                ..
            } => self.on_elected(*partition, *leader, *epoch, *unclean),
            Trace::TxnMarker {
                partition,
                broker,
                txn,
                commit,
                offset,
            } => self.on_marker(*partition, *broker, *txn, *commit, *offset),
            Trace::ProducerInitialized { producer, txn, .. } => {
                let p = producer.idx();
                if p >= self.producers.len() {
                    self.producers.resize_with(p + 1, ProducerLedger::default);
                }
                self.producers[p].txn = *txn;
            }
            Trace::OffsetCommitted {
                group,
                partition,
                offset,
                ..
            } if group.idx() < self.groups.len() => {
                let (gi, p) = (group.idx(), partition.idx());
                let before = self.skip_below(gi, p);
                set_at(&mut self.groups[gi].committed, p, *offset);
                self.refate_offsets(p, before, self.skip_below(gi, p));
            }
            Trace::OffsetReset {
                group,
                partition,
                offset,
                ..
            } => {
                if let Some(g) = self.groups.get_mut(group.idx()) {
                    let (gi, p) = (group.idx(), partition.idx());
                    let prev = g.reset.get(p).copied().unwrap_or(NO_OFFSET);
                    if prev == NO_OFFSET || prev < *offset {
                        let before = self.skip_below(gi, p);
                        set_at(&mut self.groups[gi].reset, p, *offset);
                        self.refate_offsets(p, before, self.skip_below(gi, p));
                    }
                }
            }
            _ => {}
        }
        &self.revealed
    }

    /// The outcome so far. Unapplied messages count as `lost` only once [`Checker::set_final`]
    /// has been called; before that they are `pending`. O(groups) with live counts
    /// ([`Checker::keep_live_counts`]), else a pass over every message.
    pub fn outcome(&self) -> Outcome {
        if self.live {
            self.outcome_with(self.above_hw_live, |gi| self.live_fate_counts(gi))
        } else {
            self.recount_outcome()
        }
    }

    /// The outcome counted over every message, live counts or not.
    pub fn recount_outcome(&self) -> Outcome {
        self.outcome_with(self.recount_above_hw(), |gi| self.fate_counts(gi))
    }

    fn outcome_with(&self, above_hw: u64, counts: impl Fn(usize) -> fates::FateCounts) -> Outcome {
        let mut o = Outcome {
            final_: self.final_,
            sent: self.sent,
            acked: self.acked,
            failed: self.failed,
            applied: 0,
            lost: 0,
            acked_lost: 0,
            duplicated: 0,
            reordered: 0,
            redelivered: 0,
            unseen: 0,
            aborted: 0,
            aborted_read: 0,
            dead_lettered: 0,
            lost_by_kind: LostByKind::default(),
            verdict: Verdict::ExactlyOnce,
            pending: 0,
            at_risk: self.at_risk,
            above_hw,
            groups: Vec::with_capacity(self.groups.len()),
        };
        for (gi, (gs, g)) in self.setup.groups.iter().zip(&self.groups).enumerate() {
            let c = counts(gi);
            let lost = c.lost.total();
            o.applied += c.applied;
            o.lost += lost;
            o.acked_lost += c.acked_lost;
            o.duplicated += c.duplicated;
            o.reordered += g.reordered;
            o.redelivered += g.redelivered;
            o.unseen += c.unseen;
            o.aborted += c.aborted;
            o.aborted_read += c.aborted_read;
            o.dead_lettered += c.dead_lettered;
            o.lost_by_kind.truncated += c.lost.truncated;
            o.lost_by_kind.never_written += c.lost.never_written;
            o.lost_by_kind.skipped += c.lost.skipped;
            o.pending += c.pending;
            o.groups.push(GroupOutcome {
                name: gs.name.clone(),
                applied: c.applied,
                lost,
                acked_lost: c.acked_lost,
                duplicated: c.duplicated,
                reordered: g.reordered,
                redelivered: g.redelivered,
                dead_lettered: c.dead_lettered,
                unseen: c.unseen,
                failed: c.failed,
                aborted: c.aborted,
                aborted_read: c.aborted_read,
                lost_by_kind: c.lost,
                verdict: verdict(lost, c.duplicated),
                pending: c.pending,
            });
        }
        o.verdict = verdict(o.lost, o.duplicated);
        o
    }

    /// The number of message ids in the ledger (ids are dense: `0..messages()`).
    pub fn messages(&self) -> usize {
        self.msgs.len()
    }

    /// What the ledger knows about a message; `None` if it was never produced.
    pub fn message(&self, msg: MsgId) -> Option<MsgInfo> {
        let m = self.get_msg(msg.idx())?;
        if m.state.flags & F_PRODUCED == 0 {
            return None;
        }
        Some(MsgInfo {
            producer: ProducerId(m.ident.producer),
            n: m.ident.n,
            partition: PartitionId(m.ident.partition),
            key: (m.ident.key != NONE).then_some(m.ident.key),
            acked: m.state.flags & F_ACKED != 0,
            failed: m.state.flags & F_FAILED != 0,
            at_risk: m.state.flags & F_AT_RISK != 0,
        })
    }

    /// One cell of the message × group matrix.
    pub fn message_status(&self, group: GroupId, msg: MsgId) -> MsgStatus {
        let Some(g) = self.groups.get(group.idx()) else {
            return MsgStatus::Unrelated;
        };
        let times = g.times(msg.idx());
        if times > 0 {
            return MsgStatus::Applied(times as u32);
        }
        match self.fate(group, msg) {
            None => MsgStatus::Unrelated,
            Some(Fate::Lost(_)) => MsgStatus::Lost,
            Some(_) => MsgStatus::Pending,
        }
    }

    /// The state of a message, growing the ledger if the id is new. Only to write: writing
    /// copies the table's leaf if a checkpoint shares it, so readers use [`Checker::entry`].
    fn slot(&mut self, msg: MsgId) -> &mut MsgState {
        self.grow_to(msg);
        &mut self.states[msg.idx()]
    }

    /// A copy of a message's ledger entry, growing the ledger if the id is new.
    fn entry(&mut self, msg: MsgId) -> Msg {
        self.grow_to(msg);
        self.msg(msg.idx())
    }

    /// Whether message `i`'s state is in a leaf of the ledger that `other` shares (a
    /// checkpoint and the run it was taken from).
    pub fn shares_state_with(&self, other: &Checker, i: usize) -> bool {
        self.states.shares_leaf_with(&other.states, i)
    }

    /// Message `i`'s ledger entry (`i` below [`Checker::messages`]).
    fn msg(&self, i: usize) -> Msg {
        Msg {
            ident: self.msgs[i],
            state: self.states[i],
        }
    }

    fn get_msg(&self, i: usize) -> Option<Msg> {
        Some(Msg {
            ident: *self.msgs.get(i)?,
            state: *self.states.get(i)?,
        })
    }

    /// Every ledger entry, by message id.
    fn all_msgs(&self) -> impl Iterator<Item = Msg> + '_ {
        // Equally long, so the two tables' leaves and tails line up: a slice at a time.
        debug_assert_eq!(self.msgs.len(), self.states.len());
        self.msgs
            .slices()
            .zip(self.states.slices())
            .flat_map(|(ids, states)| {
                ids.iter()
                    .zip(states)
                    .map(|(&ident, &state)| Msg { ident, state })
            })
    }

    fn grow_to(&mut self, msg: MsgId) {
        let i = msg.idx();
        if i >= self.msgs.len() {
            self.msgs.resize(i + 1, UNKNOWN_MSG);
            self.states.resize(i + 1, UNWRITTEN);
        }
    }

    fn on_produced(
        &mut self,
        producer: ProducerId,
        msg: MsgId,
        partition: PartitionId,
        key: Option<u32>,
    ) {
        let i = msg.idx();
        self.grow_to(msg);
        if self.states[i].flags & F_PRODUCED != 0 {
            return; // a repeated send event for the same id; the first one counts
        }
        self.sent += 1;

        let p = producer.idx();
        if p >= self.producers.len() {
            self.producers.resize_with(p + 1, ProducerLedger::default);
        }
        let pl = &mut self.producers[p];
        pl.sent += 1;
        let n = pl.sent;
        let pp = partition.idx();
        if pl.parts.len() <= pp {
            pl.parts.resize_with(pp + 1, SharedLog::new);
        }
        let pidx = pl.parts[pp].len() as u32;
        pl.parts[pp].push(msg.0);
        let stream = match key {
            None => NONE,
            Some(k) => {
                let streams = &mut self.streams;
                pl.stream_by_key.get_or_fill(k, || {
                    *streams += 1;
                    *streams - 1
                })
            }
        };
        let topic = self
            .setup
            .partition_topic
            .get(partition.idx())
            .map_or(NONE, |t| t.0);

        self.msgs[i] = MsgIdentity {
            producer: producer.0,
            n,
            partition: partition.0,
            topic,
            key: key.unwrap_or(NONE),
            stream,
            pidx,
        };
        let m = &mut self.states[i];
        m.flags |= F_PRODUCED;
        let acked = m.flags & F_ACKED != 0;

        // Attach to the groups of its topic (applications or an ack may already be recorded if
        // the events came out of order).
        if let Some(gs) = self.topic_groups.get(topic as usize) {
            for &g in gs {
                let g = &mut self.groups[g as usize];
                let applied = g.times(i) > 0;
                g.belong += 1;
                g.applied_belong += applied as u64;
                g.acked_belong += acked as u64;
                g.acked_applied_belong += (acked && applied) as u64;
            }
        }
        self.refate(i);
    }

    fn on_acked(&mut self, msg: MsgId) {
        let i = msg.idx();
        let m = self.entry(msg);
        if m.state.flags & F_ACKED != 0 {
            return;
        }
        self.states[i].flags |= F_ACKED;
        let topic = m.ident.topic;
        self.acked += 1;
        if let Some(gs) = self.topic_groups.get(topic as usize) {
            for &g in gs {
                let g = &mut self.groups[g as usize];
                g.acked_belong += 1;
                g.acked_applied_belong += (g.times(i) > 0) as u64;
            }
        }
        self.refate(i);
    }

    /// The group handled the message by parking it on its dead-letter topic: not applied, but
    /// not lost either (an operator can replay it).
    /// A queue forgot `msg` for `group` (settled on send, or dropped): a later delivery (a
    /// duplicate in the log) may still apply it, so only the first reason is kept.
    fn on_forgotten(&mut self, group: GroupId, msg: MsgId, why: u8) {
        let gi = group.idx();
        if gi >= self.groups.len() {
            return;
        }
        let i = msg.idx();
        self.grow_to(msg);
        let g = &mut self.groups[gi];
        if g.forgotten.len() <= i {
            g.forgotten.resize(i + 1, 0);
        }
        if g.forgotten[i] == 0 {
            g.forgotten[i] = why;
            self.refate(i);
        }
    }

    fn on_dead_lettered(&mut self, group: GroupId, msg: MsgId) {
        let gi = group.idx();
        if gi >= self.groups.len() {
            return;
        }
        let i = msg.idx();
        let m = self.entry(msg);
        let g = &mut self.groups[gi];
        if g.dead.len() <= i {
            g.dead.resize(i + 1, false);
        }
        if g.dead[i] || g.times(i) > 0 {
            return;
        }
        g.dead[i] = true;
        g.dead_lettered += 1;
        if m.ident.topic != NONE && m.ident.topic == g.topic {
            g.applied_belong += 1;
            g.acked_applied_belong += (m.state.flags & F_ACKED != 0) as u64;
        }
        self.refate(i);
    }

    fn on_applied(&mut self, group: GroupId, msg: MsgId) {
        let gi = group.idx();
        if gi >= self.groups.len() {
            return;
        }
        let i = msg.idx();
        let m = self.entry(msg);
        let nmsgs = self.msgs.len();
        let g = &mut self.groups[gi];
        if g.times.len() < nmsgs {
            // Grown ahead (to at most twice the messages so far), not by one per message.
            g.times.resize(nmsgs.next_power_of_two(), 0);
        }
        let times = g.times[i];
        g.times[i] = times.saturating_add(1);
        if times > 0 {
            if times == 1 {
                g.duplicated += 1;
            }
            self.revealed.push(Anomaly::Duplicate { group, msg });
            self.refate(i);
            return;
        }

        // First application.
        g.applied += 1;
        let was_dead = g.dead.get(i).copied().unwrap_or(false);
        if m.ident.topic != NONE && m.ident.topic == g.topic && !was_dead {
            g.applied_belong += 1;
            g.acked_applied_belong += (m.state.flags & F_ACKED != 0) as u64;
        }
        if m.ident.stream != NONE {
            let s = m.ident.stream as usize;
            if g.max_first.len() <= s {
                g.max_first.resize(self.streams as usize, (NONE, 0));
            }
            // The send number travels with the id: no look-up in the (large) message table.
            let (prev, prev_n) = g.max_first[s];
            if prev == NONE || prev_n < m.ident.n {
                g.max_first[s] = (msg.0, m.ident.n);
            } else {
                g.reordered += 1;
                g.reorders.push((msg.0, prev));
                self.revealed.push(Anomaly::Reordered {
                    group,
                    msg,
                    after: MsgId(prev),
                });
            }
        }
        if m.state.flags & F_AT_RISK != 0 && self.applied_by_all(i) {
            self.clear_risk(i);
        }
        self.refate(i);
    }

    fn on_truncated(&mut self, removed: &[MsgId]) {
        for &msg in removed {
            let i = msg.idx();
            let Some(m) = self.states.get(i) else {
                continue;
            };
            if m.flags & (F_ACKED | F_AT_RISK) != F_ACKED || self.applied_by_all(i) {
                continue;
            }
            self.states[i].flags |= F_AT_RISK;
            self.at_risk += 1;
            self.revealed.push(Anomaly::AckedTruncated { msg });
        }
    }

    /// Whether every group of the message's topic has applied it (false if no group consumes
    /// the topic: nothing then vouches for the message).
    fn applied_by_all(&self, i: usize) -> bool {
        let topic = self.msgs[i].topic as usize;
        match self.topic_groups.get(topic) {
            Some(gs) if !gs.is_empty() => gs.iter().all(|&g| self.groups[g as usize].times(i) > 0),
            _ => false,
        }
    }

    fn clear_risk(&mut self, i: usize) {
        // Read before writing: a write copies the leaf a checkpoint shares.
        if self.states.get(i).is_some_and(|m| m.flags & F_AT_RISK != 0) {
            self.states[i].flags &= !F_AT_RISK;
            self.at_risk -= 1;
        }
    }
}

/// `v[i] = x`, growing `v` with `NO_OFFSET`.
fn set_at(v: &mut Vec<u64>, i: usize, x: u64) {
    if v.len() <= i {
        v.resize(i + 1, NO_OFFSET);
    }
    v[i] = x;
}

impl Checker {
    fn part(&mut self, p: PartitionId) -> &mut PartLedger {
        let i = p.idx();
        if i >= self.parts.len() {
            self.parts.resize_with(i + 1, || PartLedger {
                leader: NONE,
                ..PartLedger::default()
            });
        }
        &mut self.parts[i]
    }

    /// A leader appended `count` records of one producer batch starting with `first_msg`.
    fn on_appended(
        &mut self,
        partition: PartitionId,
        broker: BrokerId,
        base: u64,
        count: u32,
        first_msg: MsgId,
    ) {
        self.part(partition);
        let first = self.entry(first_msg);
        let pi = partition.idx();
        let pl = &mut self.parts[pi];
        pl.set_leo(broker.0, base + count as u64);
        if pl.leader == NONE {
            pl.leader = broker.0;
        }
        let current = pl.leader == broker.0;
        if current && (base as usize) < pl.log.len() {
            // The leader wrote over records we thought it had: they left its log.
            self.remove_tail(pi, base, NONE);
        }
        let pl = &mut self.parts[pi];
        if current {
            while (pl.log.len() as u64) < base {
                pl.log.push(NONE);
            }
        }
        // Records appended by a deposed leader are in no authoritative log: they will be
        // truncated when it learns of the new leader.
        let removal = if current {
            NONE
        } else {
            self.removals.push(Removal {
                partition,
                broker,
                from: base,
                to: base + count as u64,
                elected: None,
            });
            (self.removals.len() - 1) as u32
        };
        // The batch: the producer's next `count` records to this partition from `first_msg`.
        let (txn, list, start, n) = match self.producers.get(first.ident.producer as usize) {
            Some(pr) if first.ident.pidx != NONE => match pr.parts.get(pi) {
                Some(list) => {
                    let start = first.ident.pidx as usize;
                    let n = (count as usize).min(list.len().saturating_sub(start));
                    (pr.txn, Some(list), start, n)
                }
                None => (pr.txn, None, 0, 0),
            },
            _ => (NONE, None, 0, 0),
        };
        let batch_is_empty = n == 0;
        let pl = &mut self.parts[pi];
        for k in 0..n {
            let m = list.map_or(NONE, |l| l.at(start + k));
            let off = base + k as u64;
            let msg = &mut self.states[m as usize];
            msg.flags |= F_WRITTEN;
            msg.appends = msg.appends.saturating_add(1);
            if current {
                msg.offset = off;
                msg.flags &= !F_ABORTED;
                pl.log.push(m);
                if txn != NONE {
                    pl.open_txn.push((txn, m, off));
                }
            } else if msg.offset == NO_OFFSET {
                msg.removal = removal;
            }
        }
        if current && batch_is_empty {
            // Unknown producer: keep the offsets aligned.
            for _ in 0..count {
                pl.log.push(NONE);
            }
        }
        if self.live && first.ident.pidx != NONE {
            let (p, start) = (first.ident.producer as usize, first.ident.pidx as usize);
            for k in start..start + count as usize {
                let list = self.producers.get(p).and_then(|pr| pr.parts.get(pi));
                let Some(m) = list.filter(|l| k < l.len()).map(|l| l.at(k)) else {
                    break;
                };
                self.refate(m as usize);
            }
        }
    }

    fn on_elected(&mut self, partition: PartitionId, leader: BrokerId, epoch: u32, unclean: bool) {
        let pi = partition.idx();
        let pl = self.part(partition);
        let old = pl.leader;
        pl.leader = leader.0;
        pl.epoch = epoch;
        let new_leo = pl.leo.get(leader.idx()).copied().unwrap_or(0);
        let len = pl.log.len() as u64;
        if old == NONE || old == leader.0 || new_leo >= len {
            return;
        }
        for off in new_leo..len {
            let m = self.parts[pi].log[off as usize];
            if m != NONE && self.states[m as usize].flags & F_ACKED != 0 {
                self.revealed.push(Anomaly::ElectedWithout {
                    msg: MsgId(m),
                    partition,
                    leader,
                });
            }
        }
        self.removals.push(Removal {
            partition,
            broker: BrokerId(old),
            from: new_leo,
            to: len,
            elected: Some((leader, epoch, unclean)),
        });
        let r = (self.removals.len() - 1) as u32;
        self.remove_tail(pi, new_leo, r);
    }

    /// The current leader's log no longer has offsets `from..`.
    fn remove_tail(&mut self, pi: usize, from: u64, removal: u32) {
        for off in from..self.parts[pi].log.len() as u64 {
            let m = self.parts[pi].log[off as usize];
            if m == NONE {
                continue;
            }
            // Read before writing: a write copies the leaf a checkpoint shares.
            if self.states[m as usize].offset == off {
                let msg = &mut self.states[m as usize];
                msg.offset = NO_OFFSET;
                msg.removal = removal;
                self.refate(m as usize);
            }
        }
        let pl = &mut self.parts[pi];
        pl.log.truncate(from as usize);
        pl.open_txn.retain(|&(_, _, o)| o < from);
    }

    fn on_marker(
        &mut self,
        partition: PartitionId,
        broker: BrokerId,
        txn: u32,
        commit: bool,
        offset: u64,
    ) {
        self.part(partition);
        let pl = &mut self.parts[partition.idx()];
        pl.set_leo(broker.0, offset + 1);
        if pl.leader != broker.0 {
            return;
        }
        while (pl.log.len() as u64) < offset {
            pl.log.push(NONE);
        }
        if self.live && (pl.log.len() as u64) > offset {
            // The marker overwrites records the ledger had there, which keep their offset
            // (this ledger's simplification): live counts must still find them.
            self.keep_overwritten(partition.idx(), offset);
        }
        let pl = &mut self.parts[partition.idx()];
        pl.log.truncate(offset as usize);
        pl.log.push(NONE);
        let pi = partition.idx();
        for k in 0..self.parts[pi].open_txn.len() {
            let (t, m, o) = self.parts[pi].open_txn[k];
            let msg = &mut self.states[m as usize];
            if t == txn && o <= offset && !commit && msg.offset == o {
                msg.flags |= F_ABORTED;
                self.refate(m as usize);
            }
        }
        self.parts[pi]
            .open_txn
            .retain(|&(t, _, o)| t != txn || o > offset);
    }
}

#[cfg(test)]
mod tests;
