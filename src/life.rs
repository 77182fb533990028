//! Explanations built on the trace's causes: one message's whole life (`run --explain MSG`), and
//! the chain of events behind any event, from its root (a fault, a note, the end of the run, or
//! the scenario's own workload and settings) to the event itself.
//!
//! Everything here reads the trace of a finished run. The final `Sim` serves only to name
//! things (nodes, partitions, messages).

use crate::report::{describe, fmt_time};
use crate::scenario::Scenario;
use crate::sim::{
    EventId, GroupId, MsgId, PartitionId, ProducerId, Sim, SimTime, Trace, TraceEvent, WireKind,
    cause_chain,
};

/// A run with its whole trace so far (ids are positions in `events`).
pub struct Recording {
    pub sim: Sim,
    pub events: Vec<TraceEvent>,
    /// For each trace event, the simulation step (`Sim::events()`) that emitted it: where a
    /// viewer goes to see that moment.
    pub step_of: Vec<u64>,
}

/// Runs a scenario to the end and keeps every trace event.
pub fn record(scenario: &Scenario, seed: u64) -> Recording {
    let mut rec = Recording::starting(Sim::with_seed(scenario, seed));
    while rec.step() {}
    rec
}

/// One step of an explanation: an event, when it happened, what caused it, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub id: EventId,
    pub time: SimTime,
    pub cause: Option<EventId>,
    pub text: String,
}

impl Recording {
    /// A recording of `sim` from where it stands (its trace so far is not kept).
    pub fn starting(mut sim: Sim) -> Recording {
        let events = sim.drain_trace().collect::<Vec<_>>();
        let step_of = vec![0; events.len()];
        Recording {
            sim,
            events,
            step_of,
        }
    }

    /// One simulation step, keeping what it emitted. False once the run is over.
    pub fn step(&mut self) -> bool {
        let more = self.sim.step();
        let step = self.sim.events();
        self.events.extend(self.sim.drain_trace());
        self.step_of.resize(self.events.len(), step);
        more
    }

    /// What caused `step`, in words: `#87 1.605s: → Produce …`, or what its root stands for.
    pub fn cause_text(&self, step: &Step) -> String {
        match step.cause.and_then(|c| self.event(c)) {
            Some(cause) => format!(
                "{} {}: {}",
                cause.id,
                fmt_time(cause.time).trim(),
                describe_any(&self.sim, cause).trim_start()
            ),
            None => self
                .event(step.id)
                .map_or("a root", |e| root_text(&e.kind))
                .to_string(),
        }
    }

    pub fn event(&self, id: EventId) -> Option<&TraceEvent> {
        self.events.get(id.0 as usize).filter(|e| e.id == id)
    }

    fn step_for(&self, ev: &TraceEvent) -> Step {
        Step {
            id: ev.id,
            time: ev.time,
            cause: ev.cause,
            text: describe_any(&self.sim, ev),
        }
    }

    /// The events that led to `id`, root first, `id` last.
    pub fn chain(&self, id: EventId) -> Vec<Step> {
        let mut ids = cause_chain(&self.events, id);
        ids.reverse();
        ids.iter()
            .filter_map(|&i| self.event(i))
            .map(|ev| self.step_for(ev))
            .collect()
    }

    /// A message by name (`checkout#7`).
    pub fn find_msg(&self, name: &str) -> Option<MsgId> {
        (0..self.sim.msg_count() as u32)
            .map(MsgId)
            .find(|&m| self.sim.msg_name(m) == name)
    }

    /// The decisive steps of `msg`'s life as `group` saw it: the chain from its send through
    /// its appends, copies, acknowledgement, the crashes, elections and truncations that touched
    /// it, to what the group did with it (wire messages and other groups left out). Each step
    /// keeps its cause id, so `run -v` can take any link further back.
    pub fn story(&self, msg: MsgId, group: Option<GroupId>) -> Vec<Step> {
        self.life(msg)
            .into_iter()
            .filter(|st| {
                let Some(ev) = self.event(st.id) else {
                    return false;
                };
                let of_group = |g: &GroupId| group.is_none_or(|want| want == *g);
                match &ev.kind {
                    // A lost request or acknowledgement is decisive; one that arrived is not.
                    Trace::Sent { .. } => false,
                    Trace::Dropped { .. } => true,
                    Trace::Polled { group: g, .. }
                    | Trace::Applied { group: g, .. }
                    | Trace::Redelivered { group: g, .. }
                    | Trace::OffsetCommitted { group: g, .. }
                    | Trace::OffsetReset { group: g, .. }
                    | Trace::ProcessingFailed { group: g, .. }
                    | Trace::DeadLettered { group: g, .. }
                    | Trace::Share { group: g, .. }
                    | Trace::ConsumerStuck { group: g, .. } => of_group(g),
                    _ => true,
                }
            })
            .collect()
    }

    /// Every event in `msg`'s life, in order: its send, the requests that carried it, its
    /// appends and copies on every replica, the HW passing it, its acknowledgement or failure,
    /// the elections and truncations of its partition while it was there, and each group's
    /// polls, applications and commits of it.
    pub fn life(&self, msg: MsgId) -> Vec<Step> {
        let Some((producer, partition)) = self.events.iter().find_map(|ev| match ev.kind {
            Trace::Produced {
                producer,
                msg: m,
                partition,
                ..
            } if m == msg => Some((producer, partition)),
            _ => None,
        }) else {
            return Vec::new();
        };
        let mut life = Life::new(msg, producer, partition, self.sim.broker_count());
        let mut ids: Vec<EventId> = self
            .events
            .iter()
            .filter(|ev| life.concerns(ev))
            .map(|ev| ev.id)
            .collect();
        // A produce response names no records: a lost one belongs to this message's life when
        // it answers a request that carried it (its cause chain reaches that request).
        const DEPTH: usize = 6;
        let lost_answers: Vec<EventId> = self
            .events
            .iter()
            .filter(|ev| {
                matches!(ev.kind, Trace::Dropped { wire, .. }
                    if wire.kind == WireKind::ProduceResponse && wire.partition == Some(partition))
            })
            .filter(|ev| {
                cause_chain(&self.events, ev.id)
                    .iter()
                    .skip(1)
                    .take(DEPTH)
                    .any(|c| ids.binary_search(c).is_ok())
            })
            .map(|ev| ev.id)
            .collect();
        ids.extend(lost_answers);
        ids.sort();
        ids.iter()
            .filter_map(|&id| self.event(id))
            .map(|ev| self.step_for(ev))
            .collect()
    }
}

/// Follows one message through the trace: which batches carry it and where it sits in each
/// replica's log.
struct Life {
    msg: MsgId,
    producer: ProducerId,
    partition: PartitionId,
    /// The producer's sends to the partition, in order: a batch is a run of consecutive ones.
    sends: Vec<MsgId>,
    /// Where the message sits in the current leader's log, once appended.
    offset: Option<u64>,
    /// Replicas known to hold it (bit per broker index).
    holders: u64,
    /// The HW has passed it.
    committed: bool,
    /// It has left the logs (truncated everywhere it was) and not come back.
    gone: bool,
    /// Groups whose position has been shown moving past it.
    passed: Vec<GroupId>,
    /// The current leader does not have it: offsets there now belong to other records.
    orphaned: bool,
    /// Node ids below this are brokers.
    brokers: u32,
}

impl Life {
    fn new(msg: MsgId, producer: ProducerId, partition: PartitionId, brokers: u32) -> Life {
        Life {
            msg,
            producer,
            partition,
            sends: Vec::new(),
            offset: None,
            holders: 0,
            committed: false,
            gone: false,
            passed: Vec::new(),
            orphaned: false,
            brokers,
        }
    }

    /// It sits in the current leader's log at `offset`.
    fn in_leader_log(&self) -> Option<u64> {
        self.offset.filter(|_| !self.gone && !self.orphaned)
    }

    /// Whether the batch that starts at `first` with `count` records carries the message.
    fn in_batch(&self, first: MsgId, count: u32) -> bool {
        if first == self.msg {
            return true;
        }
        // Sends are in increasing id order, so positions come from a binary search.
        match (
            self.sends.binary_search(&first),
            self.sends.binary_search(&self.msg),
        ) {
            (Ok(a), Ok(b)) => b >= a && b < a + count as usize,
            _ => false,
        }
    }

    fn here(&self, p: &PartitionId) -> bool {
        self.partition == *p
    }

    fn concerns(&mut self, ev: &TraceEvent) -> bool {
        match &ev.kind {
            Trace::Produced {
                producer,
                msg,
                partition,
                ..
            } => {
                if self.producer == *producer && self.here(partition) {
                    self.sends.push(*msg);
                }
                *msg == self.msg
            }
            Trace::Sent { wire, .. } | Trace::Dropped { wire, .. } => {
                let Some(first) = wire
                    .first_msg
                    .filter(|_| wire.partition == Some(self.partition))
                else {
                    return false;
                };
                if wire.kind == WireKind::ProduceRequest {
                    self.in_batch(first, wire.records)
                } else {
                    // Fetch responses carry log ranges, not batches: the one that starts with
                    // it is shown; the rest of its travels show as copies and polls.
                    first == self.msg && self.in_leader_log().is_some()
                }
            }
            Trace::Appended {
                partition,
                broker,
                base_offset,
                count,
                first_msg,
                ..
            } => {
                if !self.here(partition) || !self.in_batch(*first_msg, *count) {
                    return false;
                }
                let start = self.sends.binary_search(first_msg).unwrap_or(0);
                let at = self.sends.binary_search(&self.msg).unwrap_or(start);
                self.offset = Some(base_offset + (at - start) as u64);
                self.holders = 1 << broker.0;
                self.committed = false;
                self.gone = false;
                self.orphaned = false;
                true
            }
            Trace::DuplicateBatch {
                partition,
                first_msg,
                ..
            }
            | Trace::TxnWriteRefused {
                partition,
                first_msg,
                ..
            }
            | Trace::ProduceError {
                partition,
                first_msg,
                ..
            }
            | Trace::Retried {
                partition,
                first_msg,
                ..
            } => {
                let count = match &ev.kind {
                    Trace::ProduceError { count, .. } | Trace::Retried { count, .. } => *count,
                    _ => u32::MAX / 2,
                };
                self.here(partition) && self.in_batch(*first_msg, count)
            }
            Trace::Replicated {
                partition,
                broker,
                leo,
            } => {
                let copied = self.here(partition)
                    && self.in_leader_log().is_some_and(|o| *leo > o)
                    && self.holders & (1 << broker.0) == 0;
                if copied {
                    self.holders |= 1 << broker.0;
                }
                copied
            }
            Trace::HighWatermark { partition, hw, .. } => {
                let passes = self.here(partition)
                    && !self.committed
                    && self.in_leader_log().is_some_and(|o| *hw > o);
                if passes {
                    self.committed = true;
                }
                passes
            }
            Trace::Acked { msg, .. }
            | Trace::Failed { msg, .. }
            | Trace::Applied { msg, .. }
            | Trace::Redelivered { msg, .. }
            | Trace::ProcessingFailed { msg, .. }
            | Trace::DeadLettered { msg, .. }
            | Trace::Share { msg, .. }
            | Trace::ConsumerStuck { msg, .. } => *msg == self.msg,
            Trace::LeaderElected {
                partition, leader, ..
            } => {
                let shown = self.here(partition) && self.offset.is_some() && !self.gone;
                if shown {
                    // A leader without it: the offsets it serves are other records now.
                    self.orphaned = self.holders & (1 << leader.0) == 0;
                }
                shown
            }
            Trace::PartitionOffline { partition, .. } => {
                self.here(partition) && self.offset.is_some() && !self.gone
            }
            Trace::NodeCrashed { node } | Trace::NodeStopped { node } => {
                // A broker holding it crashed or stopped (its log survives on disk).
                node.0 < self.brokers && self.holders & (1 << node.0) != 0 && !self.gone
            }
            Trace::Truncated {
                partition,
                broker,
                removed,
                ..
            } => {
                let hit = self.here(partition) && removed.contains(&self.msg);
                if hit {
                    self.holders &= !(1 << broker.0);
                    if self.holders == 0 {
                        self.gone = true;
                    }
                }
                hit
            }
            Trace::Polled {
                partition,
                from,
                count,
                ..
            } => {
                self.here(partition)
                    && self
                        .in_leader_log()
                        .is_some_and(|o| o >= *from && o < from + *count as u64)
            }
            Trace::OffsetCommitted {
                group,
                partition,
                offset,
                ..
            }
            | Trace::OffsetReset {
                group,
                partition,
                offset,
                ..
            } => {
                // The commit or reset that first moves each group's position past it.
                let past = self.here(partition)
                    && self.offset.is_some_and(|o| *offset > o)
                    && !self.orphaned
                    && !self.passed.contains(group);
                if past {
                    self.passed.push(*group);
                }
                past
            }
            Trace::NodeRestarted { .. }
            | Trace::NodePaused { .. }
            | Trace::NodeResumed { .. }
            | Trace::IsrChanged { .. }
            | Trace::BrokerFenced { .. }
            | Trace::BrokerUnfenced { .. }
            | Trace::ShutdownRequested { .. }
            | Trace::ElrChanged { .. }
            | Trace::ControlledShutdown { .. }
            | Trace::MemberJoined { .. }
            | Trace::PartitionsWithheld { .. }
            | Trace::PartitionsRevoked { .. }
            | Trace::MemberJoinedEpoch { .. }
            | Trace::TargetAssignment { .. }
            | Trace::RevokeAsked { .. }
            | Trace::EpochAssigned { .. }
            | Trace::MemberRemoved { .. }
            | Trace::RebalanceStarted { .. }
            | Trace::Rebalanced { .. }
            | Trace::CommitFailed { .. }
            | Trace::FaultInjected { .. }
            | Trace::Narration { .. }
            | Trace::ProducerInitialized { .. }
            | Trace::ProducerFenced { .. }
            | Trace::TxnStateChanged { .. }
            | Trace::TxnEnded { .. }
            | Trace::TxnFatalError { .. }
            | Trace::PartitionsAdded { .. }
            | Trace::TxnMarker { .. }
            | Trace::Draining => false,
        }
    }
}

/// One line for any trace event: the narration where there is one, else the wire-level line
/// that `run -v` prints.
pub fn describe_any(sim: &Sim, ev: &TraceEvent) -> String {
    describe(sim, ev)
        .or_else(|| wire_line(sim, ev))
        .unwrap_or_else(|| format!("{:?}", ev.kind))
}

/// The wire messages, replication progress and polls that the narration leaves out.
pub fn wire_line(sim: &Sim, ev: &TraceEvent) -> Option<String> {
    if let Some(line) = crate::queue_words::wire_line(sim, ev) {
        return Some(line);
    }
    match &ev.kind {
        Trace::Sent {
            from,
            to,
            wire,
            arrive_at,
            ..
        } => {
            let carries = match wire.first_msg {
                Some(m) if wire.records > 1 => {
                    format!(" [{} +{} more]", sim.msg_name(m), wire.records - 1)
                }
                Some(m) => format!(" [{}]", sim.msg_name(m)),
                None => String::new(),
            };
            Some(format!(
                "  → {}{carries} {} → {} (arrives {})",
                crate::queue_words::wire_kind_name(sim, wire.kind),
                sim.node_name(*from),
                sim.node_name(*to),
                fmt_time(*arrive_at).trim()
            ))
        }
        Trace::Dropped {
            from,
            to,
            wire,
            reason,
            ..
        } => Some(format!(
            "  ✗ {} {} → {} dropped: {}",
            crate::queue_words::wire_kind_name(sim, wire.kind),
            sim.node_name(*from),
            sim.node_name(*to),
            reason.name()
        )),
        Trace::Replicated {
            partition,
            broker,
            leo,
        } => Some(format!(
            "  {} replicates {} up to offset {}",
            sim.broker_name(*broker),
            sim.partition_name(*partition),
            leo
        )),
        Trace::Polled {
            consumer,
            partition,
            from,
            count,
            ..
        } => Some(format!(
            "  {} polls {} records of {} from offset {}",
            sim.consumers()[consumer.idx()].name,
            count,
            sim.partition_name(*partition),
            from
        )),
        _ => None,
    }
}

/// `run --explain MSG`: the message's life, each step with what caused it.
pub fn explain_text(rec: &Recording, msg: MsgId) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let name = rec.sim.msg_name(msg);
    let _ = writeln!(out, "The life of {name}, each step with its cause:\n");
    for step in rec.life(msg) {
        let _ = writeln!(
            out,
            "{:>9}  {:>7}  {}",
            fmt_time(step.time),
            step.id.to_string(),
            step.text.trim_start()
        );
        let because = match step.cause {
            Some(_) => format!("because {}", rec.cause_text(&step)),
            None => rec.cause_text(&step),
        };
        let _ = writeln!(out, "{:>20}└ {because}", "");
    }
    out
}

/// What a root event stands for.
pub fn root_text(kind: &Trace) -> &'static str {
    match kind {
        Trace::Produced { .. } => "a root: the application's send() (the scenario's workload)",
        Trace::FaultInjected { .. } => "a root: a fault, scripted or injected live",
        Trace::Narration { .. } => "a root: a narration note",
        Trace::Draining => "a root: the scripted run ends (stop_at_ms)",
        _ => "a root: the scenario's setup and settings (a node starting, a periodic timer)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(name: &str) -> Recording {
        let (_, sc) = crate::scenario::load(name).unwrap();
        record(&sc, sc.scenario.seed)
    }

    #[test]
    fn an_acked_then_truncated_message_has_its_whole_story() {
        let rec = recording("acks1-leader-failover");
        let m = rec.find_msg("checkout#7").expect("checkout#7 exists");
        let life = rec.life(m);
        let kinds: Vec<&Trace> = life
            .iter()
            .map(|s| &rec.event(s.id).unwrap().kind)
            .collect();
        let first = |f: fn(&Trace) -> bool| kinds.iter().position(|k| f(k));
        let produced = first(|k| matches!(k, Trace::Produced { .. })).expect("sent");
        let appended = first(|k| matches!(k, Trace::Appended { .. })).expect("appended");
        let acked = first(|k| matches!(k, Trace::Acked { .. })).expect("acked");
        let elected = first(|k| matches!(k, Trace::LeaderElected { .. })).expect("election");
        let truncated = first(|k| matches!(k, Trace::Truncated { .. })).expect("truncated");
        assert!(produced < appended && appended < acked && acked < elected);
        assert!(elected < truncated);
        // acks=1 with paused followers: acknowledged before any copy or HW passed it.
        assert!(
            !kinds[..acked]
                .iter()
                .any(|k| matches!(k, Trace::HighWatermark { .. })),
            "{life:#?}"
        );
        // It is never applied: no group reads it after the truncation.
        assert!(!kinds.iter().any(|k| matches!(k, Trace::Applied { .. })));
        // Every step's cause is an earlier event.
        for s in &life {
            if let Some(c) = s.cause {
                assert!(c < s.id);
            }
        }
    }

    #[test]
    fn a_delivered_message_is_polled_applied_and_committed() {
        let rec = recording("acks1-leader-failover");
        let m = rec.find_msg("checkout#1").unwrap();
        let text: Vec<String> = rec.life(m).into_iter().map(|s| s.text).collect();
        let joined = text.join("\n");
        assert!(joined.contains("appends checkout#1"), "{joined}");
        assert!(joined.contains("polls"), "{joined}");
        assert!(joined.contains("applies checkout#1"), "{joined}");
        assert!(joined.contains("commits"), "{joined}");
    }

    #[test]
    fn a_chain_starts_at_a_root_and_ends_at_the_event() {
        let rec = recording("acks1-leader-failover");
        let truncation = rec
            .events
            .iter()
            .find(|e| matches!(e.kind, Trace::Truncated { .. }))
            .unwrap();
        let chain = rec.chain(truncation.id);
        assert_eq!(chain.last().unwrap().id, truncation.id);
        assert_eq!(chain[0].cause, None);
        assert!(chain[0].text.contains("restart"), "{chain:#?}");
        assert!(chain.windows(2).all(|w| w[1].cause == Some(w[0].id)));
    }

    #[test]
    fn unknown_names_find_nothing() {
        let rec = recording("acks1-leader-failover");
        assert!(rec.find_msg("checkout#999").is_none());
        assert!(rec.find_msg("nobody#1").is_none());
    }
}
