//! What users feel, measured from the trace: produce latency, end-to-end latency, consumer lag,
//! partition unavailability, time spent rebalancing and global order.
//!
//! Like the checker, [`Metrics`] observes trace events one at a time and never reads the
//! simulation's state, so every figure can be followed back to the events that made it:
//! - produce latency: a message's `Produced` to its first `Acked`;
//! - end-to-end latency: its `Produced` to the first `Applied` by a group;
//! - consumer lag: per partition, the leader's high watermark minus the group's committed offset
//!   (what `kafka-consumer-groups --describe` shows); before the group's first commit on a
//!   partition, the offset it first polled from stands in for the committed one, and a partition
//!   the group has neither committed nor polled has no lag yet;
//! - unavailability: a partition is unavailable for writes while it has no leader, while its
//!   leader's process is down or paused (until the controller elects another), and, for
//!   `acks=all`, while its ISR is smaller than `min.insync.replicas`;
//! - rebalancing: `RebalanceStarted` to `Rebalanced`, the stop-the-world of an eager rebalance;
//!   under KIP-848's consumer protocol, where nobody stops, a new target assignment
//!   (`TargetAssignment`) to the moment every member owns its whole target at that epoch or later
//!   (`EpochAssigned`): how long the moving partitions are in transit;
//! - global order: applies of a message sent before one the group had already applied, over all
//!   keys and partitions (send order is message-id order).

use serde::Serialize;

use crate::sim::chunked::ChunkedVec;
use crate::sim::{
    BrokerId, GroupId, MsgId, NodeId, PartitionId, SimTime, TopicId, Trace, TraceEvent,
};

/// What the metrics need to know before the first event.
#[derive(Clone, Debug)]
pub struct MetricsSetup {
    /// Per partition: `min.insync.replicas` and the leader at boot.
    pub partitions: Vec<(u32, Option<BrokerId>)>,
    /// Per group: the partitions it reads, and its topic.
    pub group_partitions: Vec<Vec<PartitionId>>,
    pub group_topics: Vec<TopicId>,
    /// Per topic: `min.insync.replicas` (for partitions added during the run).
    pub topic_min_isr: Vec<u32>,
    pub producers: usize,
    /// Brokers are nodes `0..brokers` (a broker's node id equals its broker id).
    pub brokers: u32,
}

impl MetricsSetup {
    pub fn from_sim(sim: &crate::sim::Sim) -> MetricsSetup {
        MetricsSetup {
            partitions: sim
                .partitions()
                .iter()
                .map(|p| (p.min_insync_replicas, p.assignment.first().copied()))
                .collect(),
            group_partitions: sim.groups().iter().map(|g| g.partitions.clone()).collect(),
            group_topics: sim.groups().iter().map(|g| g.topic).collect(),
            topic_min_isr: sim.topics().iter().map(|t| t.min_insync_replicas).collect(),
            producers: sim.producers().len(),
            brokers: sim.broker_count(),
        }
    }
}

/// Why a partition could not take writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    /// No leader at all (offline partition).
    NoLeader,
    /// The leader's process is crashed or paused and no other leader is elected yet.
    LeaderDown,
    /// Fewer in-sync replicas than `min.insync.replicas`: `acks=all` writes are refused.
    UnderMinIsr,
}

impl Unavailable {
    pub fn describe(self) -> &'static str {
        match self {
            Unavailable::NoLeader => "no leader",
            Unavailable::LeaderDown => "leader down",
            Unavailable::UnderMinIsr => "under min ISR",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub partition: PartitionId,
    pub from_us: u64,
    /// `None` while still open at the end of the run.
    pub to_us: Option<u64>,
    pub reason: Unavailable,
}

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Latency {
    fn of(samples: &mut [u64]) -> Latency {
        let n = samples.len();
        if n == 0 {
            return Latency::default();
        }
        // Nearest-rank percentiles: the value at or below which p% of the samples lie. Two
        // selections instead of a sort: a million-message run has a million samples.
        let rank = |p: u64| ((p * n as u64).div_ceil(100).max(1) - 1) as usize;
        let (p50, p99) = (rank(50), rank(99));
        samples.select_nth_unstable(p50);
        if p99 > p50 {
            samples[p50 + 1..].select_nth_unstable(p99 - p50 - 1);
        }
        Latency {
            count: n as u64,
            p50_us: samples[p50],
            p99_us: samples[p99],
            max_us: samples[p99..].iter().copied().max().unwrap_or(samples[p99]),
        }
    }
}

/// A group's lag at one moment: the sum over its partitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LagSample {
    pub at_us: u64,
    pub lag: u64,
}

/// KIP-848: a member's share of a target assignment, and whether it holds it yet.
type TargetShare = (crate::sim::ConsumerId, Box<[PartitionId]>, bool);

impl GroupState {
    /// A rebalance (or a KIP-848 reconciliation) under way ended at `at`; the group's first is
    /// its formation, not a rebalance.
    fn rebalance_done(&mut self, at: SimTime) {
        if let Some(start) = self.rebalance_started.take() {
            let us = at.0 - start.0;
            if self.formation_us.is_none() {
                self.formation_us = Some(us);
                return;
            }
            self.rebalances += 1;
            self.rebalancing_us += us;
            self.longest_rebalance_us = self.longest_rebalance_us.max(us);
        }
    }
}

#[derive(Clone, Debug, Default)]
struct GroupState {
    /// Per partition the group reads (index as in `group_partitions`): committed offset, or the
    /// first polled offset until the first commit.
    committed: Vec<Option<u64>>,
    has_commit: Vec<bool>,
    /// Message ids applied at least once.
    applied: ChunkedVec<bool>,
    e2e_us: ChunkedVec<u64>,
    /// Highest message id applied so far (send order).
    max_applied: Option<MsgId>,
    out_of_order: u64,
    rebalance_started: Option<SimTime>,
    /// KIP-848: the target assignment being reconciled (its epoch and each member's share), and
    /// which members hold their share.
    target: Option<(u32, Vec<TargetShare>)>,
    /// The group's first generation (from its first join): startup, not a stop.
    formation_us: Option<u64>,
    rebalances: u64,
    rebalancing_us: u64,
    longest_rebalance_us: u64,
    /// The group's lag: the sum of `part_lag`.
    lag: u64,
    /// Per partition read: its lag now (0 before a position is known), so that one partition's
    /// change updates the sum without summing every partition again.
    part_lag: Vec<u64>,
    /// Per partition read: its own highest lag.
    part_max: Vec<u64>,
    lag_samples: Vec<LagSample>,
    max_lag: LagSample,
}

#[derive(Clone, Debug)]
struct PartitionState {
    min_isr: u32,
    leader: Option<BrokerId>,
    /// Created during the run (`add-partitions`) and no election seen yet: the controller
    /// picked a leader without one, so the highest high watermark reported stands for it.
    leader_unknown: bool,
    leader_up: bool,
    isr_len: u32,
    hw: u64,
    open: Option<(SimTime, Unavailable)>,
}

/// Incremental metrics over a trace.
#[derive(Clone, Debug)]
pub struct Metrics {
    brokers: u32,
    parts: Vec<PartitionState>,
    group_partitions: Vec<Vec<PartitionId>>,
    group_topics: Vec<TopicId>,
    topic_min_isr: Vec<u32>,
    /// Partition -> groups reading it, with the partition's index in each group's list.
    readers: Vec<Vec<(GroupId, u32)>>,
    groups: Vec<GroupState>,
    /// Send time of each message (by id), and whether its first ack was seen.
    sent_at: ChunkedVec<SimTime>,
    acked: ChunkedVec<bool>,
    producer_of: ChunkedVec<u32>,
    produce_us: Vec<ChunkedVec<u64>>,
    /// Per producer, the slowest acknowledgement so far, so the TUI need not scan.
    produce_max_us: Vec<u64>,
    node_up: Vec<bool>,
    windows: Vec<Window>,
    now: SimTime,
}

/// At most this many lag samples per group: later ones replace the closest earlier pair, so
/// a sparkline of any run length stays cheap and still shows the peaks.
const MAX_LAG_SAMPLES: usize = 4096;

impl Metrics {
    /// Bytes of the per-message tables a checkpoint shares rather than copies (see
    /// [`crate::sim::Sim::shared_bytes`]).
    pub fn shared_bytes(&self) -> usize {
        let groups: usize = self
            .groups
            .iter()
            .map(|g| g.applied.shared_bytes() + g.e2e_us.shared_bytes())
            .sum();
        let produce: usize = self.produce_us.iter().map(|t| t.shared_bytes()).sum();
        groups
            + produce
            + self.sent_at.shared_bytes()
            + self.acked.shared_bytes()
            + self.producer_of.shared_bytes()
    }

    pub fn new(setup: MetricsSetup) -> Metrics {
        let mut readers = vec![Vec::new(); setup.partitions.len()];
        for (g, parts) in setup.group_partitions.iter().enumerate() {
            for (i, p) in parts.iter().enumerate() {
                if let Some(r) = readers.get_mut(p.idx()) {
                    r.push((GroupId(g as u32), i as u32));
                }
            }
        }
        Metrics {
            brokers: setup.brokers,
            parts: setup
                .partitions
                .iter()
                .map(|&(min_isr, leader)| PartitionState {
                    min_isr,
                    leader,
                    leader_unknown: false,
                    leader_up: true,
                    isr_len: u32::MAX,
                    hw: 0,
                    open: None,
                })
                .collect(),
            groups: setup
                .group_partitions
                .iter()
                .map(|parts| GroupState {
                    committed: vec![None; parts.len()],
                    has_commit: vec![false; parts.len()],
                    part_lag: vec![0; parts.len()],
                    part_max: vec![0; parts.len()],
                    ..GroupState::default()
                })
                .collect(),
            group_partitions: setup.group_partitions,
            group_topics: setup.group_topics,
            topic_min_isr: setup.topic_min_isr,
            readers,
            sent_at: ChunkedVec::new(),
            acked: ChunkedVec::new(),
            producer_of: ChunkedVec::new(),
            produce_us: vec![ChunkedVec::new(); setup.producers],
            produce_max_us: vec![0; setup.producers],
            node_up: vec![true; setup.brokers as usize],
            windows: Vec::new(),
            now: SimTime::ZERO,
        }
    }

    pub fn observe(&mut self, ev: &TraceEvent) {
        self.now = ev.time;
        match &ev.kind {
            Trace::Produced { producer, msg, .. } => {
                let i = msg.idx();
                if self.sent_at.len() < i {
                    self.sent_at.resize(i, SimTime::ZERO);
                    self.acked.resize(i, false);
                    self.producer_of.resize(i, 0);
                }
                if self.sent_at.len() == i {
                    // Messages are numbered as they are produced: the usual case appends.
                    self.sent_at.push(ev.time);
                    self.acked.push(false);
                    self.producer_of.push(producer.0);
                } else {
                    self.sent_at[i] = ev.time;
                    self.producer_of[i] = producer.0;
                }
            }
            Trace::Acked { producer, msg, .. } => {
                let i = msg.idx();
                if i < self.acked.len() && !self.acked[i] {
                    self.acked[i] = true;
                    let us = ev.time.0 - self.sent_at[i].0;
                    if let Some(v) = self.produce_us.get_mut(producer.idx()) {
                        v.push(us);
                        self.produce_max_us[producer.idx()] =
                            self.produce_max_us[producer.idx()].max(us);
                    }
                }
            }
            Trace::Applied { group, msg, .. } => self.applied(*group, *msg, ev.time),
            Trace::Polled {
                group,
                partition,
                from,
                ..
            } => {
                if let Some(slot) = self.slot(*group, *partition) {
                    let g = &mut self.groups[group.idx()];
                    if !g.has_commit[slot] && g.committed[slot].is_none() {
                        g.committed[slot] = Some(*from);
                        self.update_lag(*group, slot, ev.time);
                    }
                }
            }
            Trace::OffsetCommitted {
                group,
                partition,
                offset,
                ..
            } => {
                if let Some(slot) = self.slot(*group, *partition) {
                    let g = &mut self.groups[group.idx()];
                    g.committed[slot] = Some(*offset);
                    g.has_commit[slot] = true;
                    self.update_lag(*group, slot, ev.time);
                }
            }
            Trace::HighWatermark {
                partition,
                broker,
                hw,
            } => {
                let p = partition.idx();
                let st = &self.parts[p];
                let from_leader = st.leader == Some(*broker) || (st.leader_unknown && *hw > st.hw);
                if from_leader && st.hw != *hw {
                    self.parts[p].hw = *hw;
                    for i in 0..self.readers[p].len() {
                        let (g, slot) = self.readers[p][i];
                        self.update_lag(g, slot as usize, ev.time);
                    }
                }
            }
            Trace::PartitionsAdded {
                topic,
                first,
                count,
            } => self.partitions_added(*topic, *first, *count),
            Trace::RebalanceStarted { group, .. } => {
                let g = &mut self.groups[group.idx()];
                g.rebalance_started.get_or_insert(ev.time);
            }
            Trace::TargetAssignment {
                group,
                epoch,
                assignment,
            } => {
                let g = &mut self.groups[group.idx()];
                g.rebalance_started.get_or_insert(ev.time);
                let shares = assignment
                    .iter()
                    .map(|(c, ps)| (*c, ps.clone(), false))
                    .collect();
                g.target = Some((*epoch, shares));
            }
            Trace::EpochAssigned {
                group,
                consumer,
                member_epoch,
                partitions,
            } => {
                let g = &mut self.groups[group.idx()];
                let Some((epoch, shares)) = &mut g.target else {
                    return;
                };
                if *member_epoch < *epoch {
                    return;
                }
                for (c, ps, reached) in shares.iter_mut() {
                    if c == consumer && ps.iter().all(|p| partitions.contains(p)) {
                        *reached = true;
                    }
                }
                if shares.iter().all(|s| s.2) {
                    g.target = None;
                    g.rebalance_done(ev.time);
                }
            }
            Trace::Rebalanced { group, .. } => self.groups[group.idx()].rebalance_done(ev.time),
            Trace::LeaderElected {
                partition,
                leader,
                isr,
                ..
            } => {
                let up = self.broker_up(*leader);
                let st = &mut self.parts[partition.idx()];
                st.leader = Some(*leader);
                st.leader_unknown = false;
                st.leader_up = up;
                st.isr_len = isr.len();
                self.reassess(*partition, ev.time);
            }
            Trace::PartitionOffline { partition, .. } => {
                self.parts[partition.idx()].leader = None;
                self.parts[partition.idx()].leader_unknown = false;
                self.reassess(*partition, ev.time);
            }
            Trace::IsrChanged { partition, isr, .. } => {
                self.parts[partition.idx()].isr_len = isr.len();
                self.reassess(*partition, ev.time);
            }
            Trace::NodeCrashed { node }
            | Trace::NodeStopped { node }
            | Trace::NodePaused { node, .. } => self.node_changed(*node, false, ev.time),
            Trace::NodeRestarted { node } | Trace::NodeResumed { node } => {
                self.node_changed(*node, true, ev.time)
            }
            _ => {}
        }
    }

    fn partitions_added(&mut self, topic: TopicId, first: PartitionId, count: u32) {
        let min_isr = self.topic_min_isr.get(topic.idx()).copied().unwrap_or(1);
        for k in 0..count {
            let p = PartitionId(first.0 + k);
            while self.parts.len() <= p.idx() {
                self.parts.push(PartitionState {
                    min_isr,
                    leader: None,
                    leader_unknown: true,
                    leader_up: true,
                    isr_len: u32::MAX,
                    hw: 0,
                    open: None,
                });
                self.readers.push(Vec::new());
            }
            for g in 0..self.group_topics.len() {
                if self.group_topics[g] != topic {
                    continue;
                }
                let slot = self.group_partitions[g].len() as u32;
                self.group_partitions[g].push(p);
                self.groups[g].committed.push(None);
                self.groups[g].has_commit.push(false);
                self.groups[g].part_lag.push(0);
                self.groups[g].part_max.push(0);
                self.readers[p.idx()].push((GroupId(g as u32), slot));
            }
        }
    }

    fn slot(&self, g: GroupId, p: PartitionId) -> Option<usize> {
        self.readers
            .get(p.idx())?
            .iter()
            .find(|(x, _)| *x == g)
            .map(|&(_, i)| i as usize)
    }

    fn applied(&mut self, group: GroupId, msg: MsgId, at: SimTime) {
        let g = &mut self.groups[group.idx()];
        let i = msg.idx();
        if g.applied.len() <= i {
            g.applied.resize(i + 1, false);
        }
        if !g.applied[i] {
            g.applied[i] = true;
            if let Some(sent) = self.sent_at.get(i) {
                g.e2e_us.push(at.0 - sent.0);
            }
        }
        match g.max_applied {
            Some(max) if msg < max => g.out_of_order += 1,
            _ => g.max_applied = Some(msg),
        }
    }

    /// The high watermark or the position of the group's partition `slot` changed: its lag
    /// and the group's are updated (every such change comes through here, so the others'
    /// lags still hold).
    fn update_lag(&mut self, group: GroupId, slot: usize, at: SimTime) {
        let p = self.group_partitions[group.idx()][slot];
        let g = &mut self.groups[group.idx()];
        let part_lag = match g.committed[slot] {
            Some(c) => {
                let l = self.parts[p.idx()].hw.saturating_sub(c);
                g.part_max[slot] = g.part_max[slot].max(l);
                l
            }
            None => 0,
        };
        let lag = g.lag - g.part_lag[slot] + part_lag;
        g.part_lag[slot] = part_lag;
        if lag == g.lag && !g.lag_samples.is_empty() {
            return;
        }
        g.lag = lag;
        let sample = LagSample { at_us: at.0, lag };
        if lag > g.max_lag.lag {
            g.max_lag = sample;
        }
        match g.lag_samples.last_mut() {
            // Several changes at one instant: keep the last.
            Some(last) if last.at_us == at.0 => last.lag = lag,
            _ => g.lag_samples.push(sample),
        }
        if g.lag_samples.len() > MAX_LAG_SAMPLES {
            thin(&mut g.lag_samples);
        }
    }

    fn broker_up(&self, b: BrokerId) -> bool {
        self.node_up.get(b.idx()).copied().unwrap_or(true)
    }

    fn node_changed(&mut self, node: NodeId, up: bool, at: SimTime) {
        if node.0 >= self.brokers {
            return;
        }
        self.node_up[node.idx()] = up;
        let b = BrokerId(node.0);
        for p in 0..self.parts.len() {
            if self.parts[p].leader == Some(b) {
                self.parts[p].leader_up = up;
                self.reassess(PartitionId(p as u32), at);
            }
        }
    }

    fn reassess(&mut self, p: PartitionId, at: SimTime) {
        let st = &self.parts[p.idx()];
        let now = match st.leader {
            None if st.leader_unknown => None,
            None => Some(Unavailable::NoLeader),
            Some(_) if !st.leader_up => Some(Unavailable::LeaderDown),
            Some(_) if st.isr_len < st.min_isr => Some(Unavailable::UnderMinIsr),
            Some(_) => None,
        };
        let open = st.open;
        if open.map(|(_, r)| r) == now {
            return;
        }
        if let Some((from, reason)) = open {
            self.windows.push(Window {
                partition: p,
                from_us: from.0,
                to_us: Some(at.0),
                reason,
            });
        }
        self.parts[p.idx()].open = now.map(|r| (at, r));
    }

    /// The figures so far (at the end of the run, the final ones).
    pub fn summary(&self) -> MetricsSummary {
        let produce = self
            .produce_us
            .iter()
            .map(|v| Latency::of(&mut v.to_vec()))
            .collect();
        let groups = self
            .groups
            .iter()
            .zip(&self.group_partitions)
            .map(|(g, parts)| GroupMetrics {
                max_lag_partition: g
                    .part_max
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| **l > 0)
                    // The highest; the first of equals.
                    .max_by_key(|(i, l)| (**l, std::cmp::Reverse(*i)))
                    .map(|(i, _)| parts[i]),
                end_to_end: Latency::of(&mut g.e2e_us.to_vec()),
                first_join_us: g.formation_us,
                max_lag: g.max_lag,
                final_lag: g.lag,
                rebalances: g.rebalances,
                rebalancing_us: g.rebalancing_us
                    + g.rebalance_started.map_or(0, |s| self.now.0 - s.0),
                longest_rebalance_us: g
                    .longest_rebalance_us
                    .max(g.rebalance_started.map_or(0, |s| self.now.0 - s.0)),
                out_of_global_order: g.out_of_order,
            })
            .collect();
        let mut windows = self.windows.clone();
        for (p, st) in self.parts.iter().enumerate() {
            if let Some((from, reason)) = st.open {
                windows.push(Window {
                    partition: PartitionId(p as u32),
                    from_us: from.0,
                    to_us: None,
                    reason,
                });
            }
        }
        windows.sort_by_key(|w| (w.partition, w.from_us));
        MetricsSummary {
            produce,
            groups,
            unavailable: windows,
            end_us: self.now.0,
        }
    }

    /// A producer's latest and slowest send→ack so far, in µs (None before its first ack).
    pub fn produce_latency_now(&self, producer: usize) -> Option<(u64, u64)> {
        let last = *self.produce_us.get(producer)?.last()?;
        Some((last, self.produce_max_us[producer]))
    }

    /// A group's lag over time, for sparklines.
    pub fn lag_samples(&self, g: GroupId) -> &[LagSample] {
        &self.groups[g.idx()].lag_samples
    }

    /// A group's lag right now.
    pub fn lag(&self, g: GroupId) -> u64 {
        self.groups[g.idx()].lag
    }

    /// The partition's open unavailability, if any.
    pub fn unavailable_now(&self, p: PartitionId) -> Option<(SimTime, Unavailable)> {
        self.parts.get(p.idx()).and_then(|st| st.open)
    }
}

/// Halve the samples, keeping the larger of each neighbouring pair so peaks survive.
fn thin(samples: &mut Vec<LagSample>) {
    let mut out = Vec::with_capacity(samples.len() / 2 + 1);
    for pair in samples.chunks(2) {
        let keep = pair.iter().max_by_key(|s| s.lag).expect("non-empty chunk");
        out.push(*keep);
    }
    *samples = out;
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupMetrics {
    pub end_to_end: Latency,
    /// The partition whose own lag peaked highest.
    pub max_lag_partition: Option<PartitionId>,
    /// From the first join to the first assignment (`group.initial.rebalance.delay.ms` included).
    pub first_join_us: Option<u64>,
    pub max_lag: LagSample,
    pub final_lag: u64,
    pub rebalances: u64,
    pub rebalancing_us: u64,
    pub longest_rebalance_us: u64,
    pub out_of_global_order: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSummary {
    /// Per producer (index = producer id).
    pub produce: Vec<Latency>,
    /// Per group (index = group id).
    pub groups: Vec<GroupMetrics>,
    pub unavailable: Vec<Window>,
    pub end_us: u64,
}

impl MetricsSummary {
    /// Total time partition `p` was unavailable, in microseconds.
    pub fn unavailable_us(&self, p: PartitionId) -> u64 {
        self.unavailable
            .iter()
            .filter(|w| w.partition == p)
            .map(|w| w.to_us.unwrap_or(self.end_us) - w.from_us)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{BrokerSet, ConsumerId, EventId, ProducerId};

    #[test]
    fn latency_ranks_are_the_sorted_samples_nearest_ranks() {
        let mut x = 17u64;
        for n in [1usize, 2, 3, 99, 100, 101, 1000, 4321] {
            let samples: Vec<u64> = (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 40) % 500
                })
                .collect();
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            let at = |p: usize| sorted[(p * n).div_ceil(100).max(1) - 1];
            let got = Latency::of(&mut samples.clone());
            assert_eq!(
                (got.count, got.p50_us, got.p99_us, got.max_us),
                (n as u64, at(50), at(99), sorted[n - 1]),
                "{n} samples"
            );
        }
        assert_eq!(Latency::of(&mut []).count, 0);
    }

    fn setup() -> MetricsSetup {
        MetricsSetup {
            partitions: vec![(2, Some(BrokerId(0))), (2, Some(BrokerId(1)))],
            group_partitions: vec![vec![PartitionId(0), PartitionId(1)]],
            group_topics: vec![TopicId(0)],
            topic_min_isr: vec![2],
            producers: 1,
            brokers: 3,
        }
    }

    fn ev(ms: u64, kind: Trace) -> TraceEvent {
        TraceEvent {
            id: EventId(0),
            time: SimTime::from_ms(ms),
            cause: None,
            kind,
        }
    }

    fn produced(ms: u64, n: u32) -> TraceEvent {
        ev(
            ms,
            Trace::Produced {
                producer: ProducerId(0),
                msg: MsgId(n),
                partition: PartitionId(0),
                key: None,
            },
        )
    }

    fn acked(ms: u64, n: u32) -> TraceEvent {
        ev(
            ms,
            Trace::Acked {
                producer: ProducerId(0),
                msg: MsgId(n),
                partition: PartitionId(0),
                offset: Some(u64::from(n)),
            },
        )
    }

    fn applied(ms: u64, n: u32, p: u32) -> TraceEvent {
        ev(
            ms,
            Trace::Applied {
                group: GroupId(0),
                consumer: ConsumerId(0),
                msg: MsgId(n),
                partition: PartitionId(p),
                offset: u64::from(n),
            },
        )
    }

    #[test]
    fn produce_latency_counts_the_first_ack_only() {
        let mut m = Metrics::new(setup());
        for n in 0..4 {
            m.observe(&produced(10, n));
        }
        m.observe(&acked(12, 0));
        m.observe(&acked(14, 1));
        m.observe(&acked(30, 2));
        assert_eq!(m.produce_latency_now(0), Some((20_000, 20_000)));
        m.observe(&acked(40, 2)); // a duplicate ack of a retried batch
        assert_eq!(m.produce_latency_now(0), Some((20_000, 20_000)));
        m.observe(&acked(15, 3));
        // The TUI's live figures: the latest, and the slowest so far.
        assert_eq!(m.produce_latency_now(0), Some((5_000, 20_000)));
        let s = m.summary();
        assert_eq!(s.produce[0].count, 4);
        assert_eq!(s.produce[0].p50_us, 4_000);
        assert_eq!(s.produce[0].max_us, 20_000);
    }

    #[test]
    fn global_order_counts_applies_of_earlier_sends() {
        let mut m = Metrics::new(setup());
        for n in 0..4 {
            m.observe(&produced(1, n));
        }
        // Partition 1 holds message 1 and 3, partition 0 holds 0 and 2; the group reads
        // partition 1 first.
        m.observe(&applied(5, 1, 1));
        m.observe(&applied(6, 3, 1));
        m.observe(&applied(7, 0, 0));
        m.observe(&applied(8, 2, 0));
        let s = m.summary();
        assert_eq!(s.groups[0].out_of_global_order, 2);
        assert_eq!(s.groups[0].end_to_end.count, 4);
        assert_eq!(s.groups[0].end_to_end.max_us, 7_000);
    }

    #[test]
    fn lag_is_the_high_watermark_above_the_committed_offset() {
        let mut m = Metrics::new(setup());
        let hw = |ms, p: u32, b: u32, hw| {
            ev(
                ms,
                Trace::HighWatermark {
                    partition: PartitionId(p),
                    broker: BrokerId(b),
                    hw,
                },
            )
        };
        let commit = |ms, p: u32, offset| {
            ev(
                ms,
                Trace::OffsetCommitted {
                    group: GroupId(0),
                    consumer: ConsumerId(0),
                    partition: PartitionId(p),
                    offset,
                },
            )
        };
        m.observe(&hw(1, 0, 0, 10));
        // A follower's high watermark is not the partition's.
        m.observe(&hw(1, 1, 0, 99));
        m.observe(&hw(1, 1, 1, 5));
        assert_eq!(m.lag(GroupId(0)), 0, "no commit or poll yet: no lag");
        m.observe(&commit(2, 0, 4));
        assert_eq!(m.lag(GroupId(0)), 6);
        m.observe(&commit(3, 1, 0));
        assert_eq!(m.lag(GroupId(0)), 11);
        m.observe(&commit(4, 0, 10));
        m.observe(&commit(4, 1, 5));
        let s = m.summary();
        assert_eq!(s.groups[0].max_lag_partition, Some(PartitionId(0)));
        assert_eq!(s.groups[0].max_lag.lag, 11);
        assert_eq!(s.groups[0].max_lag.at_us, 3_000);
        assert_eq!(s.groups[0].final_lag, 0);
    }

    #[test]
    fn a_crashed_leader_makes_its_partitions_unavailable_until_an_election() {
        let mut m = Metrics::new(setup());
        m.observe(&ev(100, Trace::NodeCrashed { node: NodeId(0) }));
        assert_eq!(
            m.unavailable_now(PartitionId(0)).map(|(_, r)| r),
            Some(Unavailable::LeaderDown)
        );
        assert_eq!(m.unavailable_now(PartitionId(1)), None);
        m.observe(&ev(
            9_100,
            Trace::LeaderElected {
                partition: PartitionId(0),
                leader: BrokerId(2),
                epoch: 1,
                isr: BrokerSet::EMPTY.with(BrokerId(2)),
                unclean: false,
                preferred: false,
                from_elr: false,
            },
        ));
        // Elected with an ISR of one, below min.insync.replicas = 2.
        assert_eq!(
            m.unavailable_now(PartitionId(0)).map(|(_, r)| r),
            Some(Unavailable::UnderMinIsr)
        );
        m.observe(&ev(
            9_500,
            Trace::IsrChanged {
                partition: PartitionId(0),
                leader: BrokerId(2),
                isr: BrokerSet::EMPTY.with(BrokerId(2)).with(BrokerId(1)),
                changed: BrokerId(1),
                expanded: true,
            },
        ));
        let s = m.summary();
        assert_eq!(s.unavailable.len(), 2);
        assert_eq!(s.unavailable[0].reason, Unavailable::LeaderDown);
        assert_eq!(s.unavailable_us(PartitionId(0)), 9_400_000);
        assert_eq!(s.unavailable_us(PartitionId(1)), 0);
    }

    #[test]
    fn rebalance_time_runs_from_start_to_assignment() {
        let mut m = Metrics::new(setup());
        let start = |ms, generation| {
            ev(
                ms,
                Trace::RebalanceStarted {
                    group: GroupId(0),
                    generation,
                },
            )
        };
        let done = |ms, generation| {
            ev(
                ms,
                Trace::Rebalanced {
                    group: GroupId(0),
                    generation,
                    assignment: Box::new([]),
                },
            )
        };
        // The group forms: the first join is startup, not a rebalance.
        m.observe(&start(0, 0));
        m.observe(&done(500, 0));
        m.observe(&ev(
            1_000,
            Trace::RebalanceStarted {
                group: GroupId(0),
                generation: 1,
            },
        ));
        m.observe(&ev(
            4_000,
            Trace::Rebalanced {
                group: GroupId(0),
                generation: 1,
                assignment: Box::new([]),
            },
        ));
        let s = m.summary();
        assert_eq!(s.groups[0].first_join_us, Some(500_000));
        assert_eq!(s.groups[0].rebalances, 1);
        assert_eq!(s.groups[0].rebalancing_us, 3_000_000);
    }

    #[test]
    fn thinning_keeps_peaks() {
        let mut v: Vec<LagSample> = (0..10)
            .map(|i| LagSample {
                at_us: i,
                lag: if i == 7 { 100 } else { i },
            })
            .collect();
        thin(&mut v);
        assert_eq!(v.len(), 5);
        assert!(v.iter().any(|s| s.lag == 100));
    }
}
