//! The outcome checker (DESIGN.md section 4).
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

pub use expect::{ExpectExtra, check_expect};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::scenario::{Scenario, Verdict};
use crate::sim::ids::{GroupId, MsgId, PartitionId, ProducerId, TopicId};
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
            for _ in 0..scenario.groups.len() {
                match scenario
                    .groups
                    .iter()
                    .find(|up| up.output_topic.as_deref() == Some(origin) && up.topic != origin)
                {
                    Some(up) => origin = up.topic.as_str(),
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
}

/// One message as seen by one group, for the matrix view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgStatus {
    /// Not applied yet, and the run has not drained.
    Pending,
    /// Never applied, and the run has drained.
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

/// The outcome of one group (DESIGN.md section 4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupOutcome {
    /// The group's name (the key of the `groups` map when serialised).
    #[serde(skip)]
    pub name: String,
    /// Distinct messages applied at least once.
    pub applied: u64,
    /// Messages of the group's topic never applied; only counted once the run has drained.
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
    pub verdict: Verdict,
    /// Messages of the group's topic not applied yet (0 once final: they are `lost` then).
    #[serde(skip)]
    pub pending: u64,
}

/// The outcome of the run so far (DESIGN.md section 4). Totals are sums over the groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Whether the run has drained, so that unapplied messages count as lost.
    #[serde(skip)]
    pub final_: bool,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub applied: u64,
    pub lost: u64,
    pub acked_lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub redelivered: u64,
    pub verdict: Verdict,
    /// Sum of the groups' pending counts (0 once final).
    #[serde(skip)]
    pub pending: u64,
    /// Acked messages currently at risk (see [`MsgInfo::at_risk`]).
    #[serde(skip)]
    pub at_risk: u64,
    /// Per group, in scenario order; serialised as a map from group name to its outcome.
    #[serde(serialize_with = "groups_as_map")]
    pub groups: Vec<GroupOutcome>,
}

impl Outcome {
    pub fn group(&self, name: &str) -> Option<&GroupOutcome> {
        self.groups.iter().find(|g| g.name == name)
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

/// Ledger entry of one message.
#[derive(Clone, Copy, Debug)]
struct Msg {
    producer: u32,
    n: u32,
    partition: u32,
    /// `NONE` until produced, or if the partition's topic is unknown.
    topic: u32,
    /// Interned key, `NONE` for keyless.
    key: u32,
    /// Dense `(producer, key)` id, `NONE` for keyless or unknown.
    stream: u32,
    flags: u8,
}

const UNKNOWN_MSG: Msg = Msg {
    producer: NONE,
    n: 0,
    partition: NONE,
    topic: NONE,
    key: NONE,
    stream: NONE,
    flags: 0,
};

#[derive(Clone, Debug, Default)]
struct ProducerLedger {
    /// Sends so far.
    sent: u32,
    /// Interned key → stream id (`NONE` if this producer never used the key).
    stream_by_key: Vec<u32>,
}

#[derive(Clone, Debug)]
struct GroupLedger {
    topic: u32,
    /// Applications per message, indexed by `MsgId`, saturating.
    times: Vec<u16>,
    /// Per stream: the message with the highest send number first-applied so far (`NONE`).
    max_first: Vec<u32>,
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
    dead: Vec<bool>,
    dead_lettered: u64,
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
    msgs: Vec<Msg>,
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
}

impl Checker {
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
                times: Vec::new(),
                max_first: Vec::new(),
                belong: 0,
                applied: 0,
                applied_belong: 0,
                acked_belong: 0,
                acked_applied_belong: 0,
                duplicated: 0,
                reordered: 0,
                redelivered: 0,
                dead: Vec::new(),
                dead_lettered: 0,
            })
            .collect();
        Checker {
            setup,
            topic_groups,
            msgs: Vec::new(),
            producers: Vec::new(),
            streams: 0,
            groups,
            sent: 0,
            acked: 0,
            failed: 0,
            at_risk: 0,
            final_: false,
            revealed: Vec::new(),
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
            Trace::Failed { msg, .. } => {
                let m = self.slot(*msg);
                if m.flags & F_FAILED == 0 {
                    m.flags |= F_FAILED;
                    self.failed += 1;
                }
            }
            Trace::Applied { group, msg, .. } => self.on_applied(*group, *msg),
            Trace::Redelivered { group, .. } => {
                if let Some(g) = self.groups.get_mut(group.idx()) {
                    g.redelivered += 1;
                }
            }
            Trace::DeadLettered { group, msg, .. } => self.on_dead_lettered(*group, *msg),
            Trace::PartitionsAdded {
                topic,
                first,
                count,
            } => {
                for k in 0..*count {
                    self.set_partition_topic(PartitionId(first.0 + k), *topic);
                }
            }
            Trace::Truncated { removed, .. } => self.on_truncated(removed),
            Trace::Appended { first_msg, .. } | Trace::DuplicateBatch { first_msg, .. }
                if self.at_risk > 0 =>
            {
                self.clear_risk(first_msg.idx());
            }
            _ => {}
        }
        &self.revealed
    }

    /// The outcome so far. Unapplied messages count as `lost` only once [`Checker::set_final`]
    /// has been called; before that they are `pending`.
    pub fn outcome(&self) -> Outcome {
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
            verdict: Verdict::ExactlyOnce,
            pending: 0,
            at_risk: self.at_risk,
            groups: Vec::with_capacity(self.groups.len()),
        };
        for (gs, g) in self.setup.groups.iter().zip(&self.groups) {
            let unapplied = g.belong - g.applied_belong;
            let (lost, pending, acked_lost) = if self.final_ {
                (unapplied, 0, g.acked_belong - g.acked_applied_belong)
            } else {
                (0, unapplied, 0)
            };
            o.applied += g.applied;
            o.lost += lost;
            o.acked_lost += acked_lost;
            o.duplicated += g.duplicated;
            o.reordered += g.reordered;
            o.redelivered += g.redelivered;
            o.pending += pending;
            o.groups.push(GroupOutcome {
                name: gs.name.clone(),
                applied: g.applied,
                lost,
                acked_lost,
                duplicated: g.duplicated,
                reordered: g.reordered,
                redelivered: g.redelivered,
                dead_lettered: g.dead_lettered,
                verdict: verdict(lost, g.duplicated),
                pending,
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
        let m = self.msgs.get(msg.idx())?;
        if m.flags & F_PRODUCED == 0 {
            return None;
        }
        Some(MsgInfo {
            producer: ProducerId(m.producer),
            n: m.n,
            partition: PartitionId(m.partition),
            key: (m.key != NONE).then_some(m.key),
            acked: m.flags & F_ACKED != 0,
            failed: m.flags & F_FAILED != 0,
            at_risk: m.flags & F_AT_RISK != 0,
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
        let belongs = self
            .msgs
            .get(msg.idx())
            .is_some_and(|m| m.topic != NONE && m.topic == g.topic);
        match (belongs, self.final_) {
            (false, _) => MsgStatus::Unrelated,
            (true, false) => MsgStatus::Pending,
            (true, true) => MsgStatus::Lost,
        }
    }

    /// The ledger slot of a message, growing the ledger if the id is new.
    fn slot(&mut self, msg: MsgId) -> &mut Msg {
        let i = msg.idx();
        if i >= self.msgs.len() {
            self.msgs.resize(i + 1, UNKNOWN_MSG);
        }
        &mut self.msgs[i]
    }

    fn on_produced(
        &mut self,
        producer: ProducerId,
        msg: MsgId,
        partition: PartitionId,
        key: Option<u32>,
    ) {
        let i = msg.idx();
        if self.slot(msg).flags & F_PRODUCED != 0 {
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
        let stream = match key {
            None => NONE,
            Some(k) => {
                let k = k as usize;
                if k >= pl.stream_by_key.len() {
                    pl.stream_by_key.resize(k + 1, NONE);
                }
                if pl.stream_by_key[k] == NONE {
                    pl.stream_by_key[k] = self.streams;
                    self.streams += 1;
                }
                pl.stream_by_key[k]
            }
        };
        let topic = self
            .setup
            .partition_topic
            .get(partition.idx())
            .map_or(NONE, |t| t.0);

        let m = &mut self.msgs[i];
        m.producer = producer.0;
        m.n = n;
        m.partition = partition.0;
        m.topic = topic;
        m.key = key.unwrap_or(NONE);
        m.stream = stream;
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
    }

    fn on_acked(&mut self, msg: MsgId) {
        let i = msg.idx();
        let m = self.slot(msg);
        if m.flags & F_ACKED != 0 {
            return;
        }
        m.flags |= F_ACKED;
        let topic = m.topic;
        self.acked += 1;
        if let Some(gs) = self.topic_groups.get(topic as usize) {
            for &g in gs {
                let g = &mut self.groups[g as usize];
                g.acked_belong += 1;
                g.acked_applied_belong += (g.times(i) > 0) as u64;
            }
        }
    }

    /// The group handled the message by parking it on its dead-letter topic: not applied, but
    /// not lost either (an operator can replay it).
    fn on_dead_lettered(&mut self, group: GroupId, msg: MsgId) {
        let gi = group.idx();
        if gi >= self.groups.len() {
            return;
        }
        let i = msg.idx();
        let m = *self.slot(msg);
        let g = &mut self.groups[gi];
        if g.dead.len() <= i {
            g.dead.resize(i + 1, false);
        }
        if g.dead[i] || g.times(i) > 0 {
            return;
        }
        g.dead[i] = true;
        g.dead_lettered += 1;
        if m.topic != NONE && m.topic == g.topic {
            g.applied_belong += 1;
            g.acked_applied_belong += (m.flags & F_ACKED != 0) as u64;
        }
    }

    fn on_applied(&mut self, group: GroupId, msg: MsgId) {
        let gi = group.idx();
        if gi >= self.groups.len() {
            return;
        }
        let i = msg.idx();
        let m = *self.slot(msg);
        let nmsgs = self.msgs.len();
        let g = &mut self.groups[gi];
        if g.times.len() < nmsgs {
            g.times.resize(nmsgs, 0);
        }
        let times = g.times[i];
        g.times[i] = times.saturating_add(1);
        if times > 0 {
            if times == 1 {
                g.duplicated += 1;
            }
            self.revealed.push(Anomaly::Duplicate { group, msg });
            return;
        }

        // First application.
        g.applied += 1;
        let was_dead = g.dead.get(i).copied().unwrap_or(false);
        if m.topic != NONE && m.topic == g.topic && !was_dead {
            g.applied_belong += 1;
            g.acked_applied_belong += (m.flags & F_ACKED != 0) as u64;
        }
        if m.stream != NONE {
            let s = m.stream as usize;
            if g.max_first.len() <= s {
                g.max_first.resize(self.streams as usize, NONE);
            }
            let prev = g.max_first[s];
            if prev == NONE || self.msgs[prev as usize].n < m.n {
                g.max_first[s] = msg.0;
            } else {
                g.reordered += 1;
                self.revealed.push(Anomaly::Reordered {
                    group,
                    msg,
                    after: MsgId(prev),
                });
            }
        }
        if m.flags & F_AT_RISK != 0 && self.applied_by_all(i) {
            self.clear_risk(i);
        }
    }

    fn on_truncated(&mut self, removed: &[MsgId]) {
        for &msg in removed {
            let i = msg.idx();
            let Some(m) = self.msgs.get(i) else { continue };
            if m.flags & (F_ACKED | F_AT_RISK) != F_ACKED || self.applied_by_all(i) {
                continue;
            }
            self.msgs[i].flags |= F_AT_RISK;
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
        if let Some(m) = self.msgs.get_mut(i)
            && m.flags & F_AT_RISK != 0
        {
            m.flags &= !F_AT_RISK;
            self.at_risk -= 1;
        }
    }
}

#[cfg(test)]
mod tests;
