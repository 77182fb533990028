//! The written form of event anchors (`[[notes]] after = "election orders/0"`): parsing, and
//! resolving the names in it to core ids. The core type is [`crate::sim::anchor::Anchor`].
//!
//! An anchor is `"<event> <subject>"`; [`ANCHOR_KINDS`] lists the events and what each names.

use std::ops::Range;

use super::error::suggestion;
use super::model::{CommitMode, FaultAction, Scenario};
use super::names::{Target, parse_topic_partition};
use crate::sim::anchor::{Anchor, AnchorKind, AnchorNode, MsgRef};
use crate::sim::{BrokerId, ConsumerId, GroupId, NodeId, PartitionId, ProducerId, SimTime};

/// Every anchor event, with the form of its subject: the list a bad anchor's error shows.
pub const ANCHOR_KINDS: [(&str, &str); 28] = [
    ("election", "TOPIC/P"),
    ("truncation", "broker-N or TOPIC/P"),
    ("crash", "NODE"),
    ("restart", "NODE"),
    ("stop", "broker-N"),
    ("fenced", "broker-N"),
    ("unfenced", "broker-N"),
    ("rebalance", "GROUP"),
    ("rebalance-start", "GROUP"),
    ("leave", "GROUP"),
    ("revoke", "GROUP"),
    ("isr-shrink", "TOPIC/P"),
    ("isr-expand", "TOPIC/P"),
    ("hw", "TOPIC/P [N]"),
    ("offline", "TOPIC/P"),
    ("ack", "PRODUCER#N"),
    ("failed", "PRODUCER#N"),
    ("error", "PRODUCER"),
    ("apply", "PRODUCER#N"),
    ("commit", "GROUP"),
    ("commit-failed", "GROUP"),
    ("dead-letter", "PRODUCER#N"),
    ("deliver", "PRODUCER#N"),
    ("redeliver", "PRODUCER#N"),
    ("lock-expired", "PRODUCER#N"),
    ("stuck", "GROUP"),
    ("txn-commit", "TRANSACTIONAL_ID"),
    ("txn-abort", "TRANSACTIONAL_ID"),
];

/// A bad anchor: what is wrong, what was expected, and where in the anchor text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorError {
    pub message: String,
    pub expected: String,
    pub help: Option<String>,
    /// The offending word, as a byte range of the anchor text.
    pub at: Range<usize>,
}

impl std::fmt::Display for AnchorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (expected {})", self.message, self.expected)
    }
}

/// The list of anchor forms, for "expected" messages: `election TOPIC/P`, ...
pub fn anchor_forms() -> String {
    let forms: Vec<String> = ANCHOR_KINDS
        .iter()
        .map(|(k, s)| format!("`{k} {s}`"))
        .collect();
    forms.join(", ")
}

/// The names an anchor may use, with the ids the core gives them: every broker, topic
/// partition, group member, producer (and its message count) and transactional id of the run,
/// counting what `add-partitions` and `add-consumer` faults create.
#[derive(Debug, Clone)]
pub struct AnchorScope<'a> {
    sc: &'a Scenario,
    /// Per topic (scenario order): its partitions' ids, those added at run time included.
    partitions: Vec<Vec<PartitionId>>,
    /// Per group (scenario order): its members' ids, added ones included.
    consumers: Vec<Vec<ConsumerId>>,
}

impl<'a> AnchorScope<'a> {
    /// Numbers partitions and consumers as the core creates them: declared ones in scenario
    /// order, then those that `add-partitions` and `add-consumer` faults add, in firing order
    /// (time, then file order); see `lower::lower_faults`. Faults naming an unknown topic or
    /// group are skipped (validation reports them).
    pub fn of(sc: &'a Scenario) -> AnchorScope<'a> {
        let mut partitions = Vec::with_capacity(sc.topics.len());
        let mut next_partition = 0u32;
        // Capped at the limits, so that a file past them (still being validated, as the quiz
        // is before the limits) costs no more than the largest valid one.
        let max_partitions = super::validate::MAX_PARTITIONS as u32;
        let max_consumers = super::validate::MAX_CONSUMERS as u32;
        for t in &sc.topics {
            let first = next_partition;
            next_partition = next_partition.saturating_add(t.partitions.min(max_partitions));
            partitions.push((first..next_partition).map(PartitionId).collect::<Vec<_>>());
        }
        let mut consumers = Vec::with_capacity(sc.groups.len());
        let mut next_consumer = 0u32;
        for g in &sc.groups {
            let first = next_consumer;
            next_consumer = next_consumer.saturating_add(g.consumers.min(max_consumers));
            consumers.push((first..next_consumer).map(ConsumerId).collect::<Vec<_>>());
        }
        let mut order: Vec<usize> = (0..sc.faults.len()).collect();
        order.sort_by_key(|&i| (sc.faults[i].at_ms, i));
        for i in order {
            let f = &sc.faults[i];
            match f.action {
                FaultAction::AddPartitions => {
                    let topic = f
                        .topic
                        .as_deref()
                        .and_then(|t| sc.topics.iter().position(|x| x.name == t));
                    if let (Some(t), Some(count)) = (topic, f.partitions) {
                        let parts = &mut partitions[t];
                        // Bounded: validation limits partitions before anything is run.
                        while (parts.len() as u32)
                            < count.min(super::validate::MAX_PARTITIONS as u32)
                        {
                            parts.push(PartitionId(next_partition));
                            next_partition += 1;
                        }
                    }
                }
                FaultAction::AddConsumer => {
                    let group = f
                        .group
                        .as_deref()
                        .and_then(|g| sc.groups.iter().position(|x| x.name == g));
                    if let Some(g) = group {
                        consumers[g].push(ConsumerId(next_consumer));
                        next_consumer += 1;
                    }
                }
                _ => {}
            }
        }
        AnchorScope {
            sc,
            partitions,
            consumers,
        }
    }

    fn partition(&self, word: &str) -> Result<PartitionId, String> {
        let (topic, p) = parse_topic_partition(word)?;
        let Some(t) = self.sc.topics.iter().position(|t| t.name == topic) else {
            let help = suggestion(topic, self.sc.topics.iter().map(|t| t.name.as_str()))
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            return Err(format!("`{topic}` is not a declared topic{help}"));
        };
        let parts = &self.partitions[t];
        parts
            .get(p as usize)
            .copied()
            .ok_or_else(|| match parts.len() {
                1 => format!("`{topic}` has one partition, {topic}/0, so no {topic}/{p}"),
                n => format!(
                    "`{topic}` has partitions {topic}/0 to {topic}/{}, so no {topic}/{p}",
                    n - 1
                ),
            })
    }

    fn broker(&self, word: &str) -> Result<BrokerId, String> {
        match Target::parse(word) {
            Ok(Target::Broker(n)) if n <= self.sc.cluster.brokers => Ok(BrokerId(n - 1)),
            Ok(Target::Broker(_)) => Err(format!(
                "the cluster has broker-1 to broker-{}, not `{word}`",
                self.sc.cluster.brokers
            )),
            _ => Err(format!("`{word}` is not `broker-N`")),
        }
    }

    fn producer(&self, name: &str) -> Result<ProducerId, String> {
        self.sc
            .producers
            .iter()
            .position(|p| p.name == name)
            .map(|i| ProducerId(i as u32))
            .ok_or_else(|| {
                let help = suggestion(name, self.sc.producers.iter().map(|p| p.name.as_str()))
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                format!("`{name}` is not a declared producer{help}")
            })
    }

    fn group(&self, name: &str) -> Result<GroupId, String> {
        self.sc
            .groups
            .iter()
            .position(|g| g.name == name)
            .map(|i| GroupId(i as u32))
            .ok_or_else(|| {
                let help = suggestion(name, self.sc.groups.iter().map(|g| g.name.as_str()))
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                format!("`{name}` is not a declared group{help}")
            })
    }

    /// Node ids: the brokers, then the controller, then the declared producers (as
    /// `lower::World::named`); consumers by member.
    fn node(&self, word: &str) -> Result<AnchorNode, String> {
        let brokers = self.sc.cluster.brokers;
        match Target::parse(word)? {
            Target::Broker(_) => self.broker(word).map(|b| AnchorNode::Node(NodeId(b.0))),
            Target::Controller => Ok(AnchorNode::Node(NodeId(brokers))),
            Target::Producer(name) => self
                .producer(&name)
                .map(|p| AnchorNode::Node(NodeId(brokers + 1 + p.0))),
            Target::Consumer { group, index } => {
                let g = self.group(&group)?;
                let members = &self.consumers[g.idx()];
                members
                    .get(index as usize - 1)
                    .map(|&c| AnchorNode::Consumer(c))
                    .ok_or_else(|| {
                        format!(
                            "group `{group}` has {} consumer{}, not consumer-{index}",
                            members.len(),
                            if members.len() == 1 { "" } else { "s" }
                        )
                    })
            }
            Target::Leader { .. } => Err(format!(
                "`{word}` names whichever broker leads; an anchor names a fixed node (`broker-N`, `controller`, a producer or `GROUP/consumer-N`)"
            )),
        }
    }

    /// `checkout#7`: a declared producer's message, numbered from 1.
    fn message(&self, word: &str) -> Result<MsgRef, String> {
        let Some((name, n)) = word.rsplit_once('#') else {
            return Err(format!("`{word}` is not a message `PRODUCER#N`"));
        };
        let producer = self.producer(name)?;
        let p = &self.sc.producers[producer.idx()];
        let count = p.send.as_ref().map_or(0, |s| s.count) + p.messages.len() as u64;
        match n.parse::<u32>() {
            Ok(n) if n >= 1 && u64::from(n) <= count => Ok(MsgRef { producer, n }),
            _ => Err(format!(
                "`{name}` sends messages #1 to #{count}, so `{word}` is none of them"
            )),
        }
    }

    /// The transactional ids of the run: the producers' `transactional_id`s and, for a group
    /// that commits transactionally, its members' `GROUP-N` (see `sim::setup`).
    fn transactional_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .sc
            .producers
            .iter()
            .filter_map(|p| p.transactional_id.clone())
            .collect();
        for (g, group) in self.sc.groups.iter().enumerate() {
            if group.commit == CommitMode::Transactional {
                for n in 1..=self.consumers[g].len() {
                    ids.push(format!("{}-{n}", group.name));
                }
            }
        }
        ids
    }

    /// Whether the run has a transaction with this `transactional.id`.
    pub fn has_transactional_id(&self, id: &str) -> bool {
        self.transactional_ids().iter().any(|i| i == id)
    }

    fn transactional_id(&self, word: &str) -> Result<String, String> {
        let ids = self.transactional_ids();
        if ids.iter().any(|i| i == word) {
            return Ok(word.to_string());
        }
        if ids.is_empty() {
            return Err(format!(
                "`{word}` is not a transactional id: no producer or group here is transactional"
            ));
        }
        let help = suggestion(word, ids.iter().map(String::as_str))
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        Err(format!(
            "`{word}` is not a transactional id of this run (they are {}){help}",
            ids.iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// The transactional id an `after` anchor waits on (`txn-commit ID`, `txn-abort ID`), if any: a
/// setting that makes the run non-transactional (a `compare` preset) removes what it names.
pub fn transaction_named(after: &str) -> Option<&str> {
    let mut words = after.split(' ').filter(|w| !w.is_empty());
    match (words.next(), words.next()) {
        (Some("txn-commit" | "txn-abort"), id) => id,
        _ => None,
    }
}

/// Parses `"<event> <subject>"` and resolves the subject; `not_before` is the note's `at_ms`.
pub fn parse_anchor(
    text: &str,
    not_before: SimTime,
    scope: &AnchorScope<'_>,
) -> Result<Anchor, AnchorError> {
    // Words with their byte ranges, for pointing at the offending one.
    let words: Vec<(&str, Range<usize>)> = text
        .split(' ')
        .scan(0usize, |pos, w| {
            let start = *pos;
            *pos += w.len() + 1;
            Some((w, start..start + w.len()))
        })
        .filter(|(w, _)| !w.is_empty())
        .collect();
    let kinds = || ANCHOR_KINDS.iter().map(|(k, _)| *k);
    let Some((event, event_at)) = words.first().cloned() else {
        return Err(AnchorError {
            message: "the anchor is empty".into(),
            expected: format!("\"EVENT SUBJECT\", one of {}", anchor_forms()),
            help: Some("for example `after = \"election orders/0\"`".into()),
            at: 0..text.len(),
        });
    };
    let Some(&(_, form)) = ANCHOR_KINDS.iter().find(|(k, _)| *k == event) else {
        return Err(AnchorError {
            message: format!("`{event}` is not an event an anchor can name"),
            expected: format!("one of {}", anchor_forms()),
            help: suggestion(event, kinds()),
            at: event_at,
        });
    };
    let max_words = if event == "hw" { 3 } else { 2 };
    if words.len() < 2 {
        return Err(AnchorError {
            message: format!("`{event}` needs a subject"),
            expected: format!("`{event} {form}`"),
            help: None,
            at: event_at,
        });
    }
    if words.len() > max_words {
        let (extra, at) = words[max_words].clone();
        return Err(AnchorError {
            message: format!("`{extra}` is one word too many"),
            expected: format!("`{event} {form}`"),
            help: None,
            at,
        });
    }
    let (subject, at) = words[1].clone();
    let fail = |message: String| AnchorError {
        message,
        expected: format!("`{event} {form}`"),
        help: None,
        at: at.clone(),
    };
    let kind = match event {
        "election" => AnchorKind::Election(scope.partition(subject).map_err(fail)?),
        "truncation" if subject.starts_with("broker-") && !subject.contains('/') => {
            AnchorKind::TruncationOn(scope.broker(subject).map_err(fail)?)
        }
        "truncation" => AnchorKind::TruncationOf(scope.partition(subject).map_err(fail)?),
        "crash" => AnchorKind::Crash(scope.node(subject).map_err(fail)?),
        "restart" => AnchorKind::Restart(scope.node(subject).map_err(fail)?),
        "stop" => AnchorKind::Stop(scope.broker(subject).map_err(fail)?),
        "fenced" => AnchorKind::Fenced(scope.broker(subject).map_err(fail)?),
        "unfenced" => AnchorKind::Unfenced(scope.broker(subject).map_err(fail)?),
        "rebalance" => AnchorKind::Rebalance(scope.group(subject).map_err(fail)?),
        "rebalance-start" => AnchorKind::RebalanceStart(scope.group(subject).map_err(fail)?),
        "leave" => AnchorKind::Leave(scope.group(subject).map_err(fail)?),
        "revoke" => AnchorKind::Revoke(scope.group(subject).map_err(fail)?),
        "isr-shrink" => AnchorKind::IsrShrink(scope.partition(subject).map_err(fail)?),
        "isr-expand" => AnchorKind::IsrExpand(scope.partition(subject).map_err(fail)?),
        "hw" => {
            let partition = scope.partition(subject).map_err(fail)?;
            let at_least = match words.get(2) {
                None => 0,
                Some((n, at)) => n.parse::<u64>().map_err(|_| AnchorError {
                    message: format!("`{n}` is not an offset"),
                    expected: "`hw TOPIC/P N`: the HW reaches N (a number)".into(),
                    help: None,
                    at: at.clone(),
                })?,
            };
            AnchorKind::Hw {
                partition,
                at_least,
            }
        }
        "offline" => AnchorKind::Offline(scope.partition(subject).map_err(fail)?),
        "ack" => AnchorKind::Ack(scope.message(subject).map_err(fail)?),
        "failed" => AnchorKind::Failed(scope.message(subject).map_err(fail)?),
        "error" => AnchorKind::ProduceError(scope.producer(subject).map_err(fail)?),
        "apply" => AnchorKind::Apply(scope.message(subject).map_err(fail)?),
        "commit" => AnchorKind::Commit(scope.group(subject).map_err(fail)?),
        "commit-failed" => AnchorKind::CommitFailed(scope.group(subject).map_err(fail)?),
        "dead-letter" => AnchorKind::DeadLetter(scope.message(subject).map_err(fail)?),
        "deliver" => AnchorKind::Deliver(scope.message(subject).map_err(fail)?),
        "redeliver" => AnchorKind::Redeliver(scope.message(subject).map_err(fail)?),
        "lock-expired" => AnchorKind::LockExpired(scope.message(subject).map_err(fail)?),
        "stuck" => AnchorKind::Stuck(scope.group(subject).map_err(fail)?),
        "txn-commit" => AnchorKind::TxnCommit(scope.transactional_id(subject).map_err(fail)?),
        "txn-abort" => AnchorKind::TxnAbort(scope.transactional_id(subject).map_err(fail)?),
        _ => return Err(fail(format!("`{event}` has no parser yet"))),
    };
    Ok(Anchor { kind, not_before })
}
