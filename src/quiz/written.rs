//! The scenario's `[[quiz]]` questions: each answer is computed from the run by its check
//! (`count`, `fate`, `verdict`, `leader`, `partitions`), never written down.

use super::{Analysis, Question, Source};
use crate::check::{AnomalyKind, Fate, LossKind};
use crate::scenario::QuizCheck;
use crate::scenario::quiz::{
    CheckKind, MessageRange, consumer_node_name, group_of, partitions_text,
};
use crate::sim::{ConsumerId, EventId, GroupId, MsgId, PartitionId, SimTime, Trace};

/// The written questions, in file order.
pub fn questions(a: &Analysis<'_>) -> Vec<Question> {
    a.scenario
        .quiz
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let (answer, decided_by) = answer(a, &entry.answer);
            let ask_at = match entry.after.as_deref() {
                None => Some(SimTime::from_ms(entry.at_ms)),
                Some(after) => anchored_at(a, after, SimTime::from_ms(entry.at_ms)),
            };
            let mut q = Question::new(
                Source::Written(i),
                ask_at.unwrap_or(SimTime(u64::MAX)),
                entry.question.clone(),
                entry.choices.clone(),
            )
            .answered(answer);
            if ask_at.is_none() {
                // Its event never happens in this run: it is never asked.
                q.correct = None;
                q.answer = format!(
                    "(never asked: `{}` does not happen in this run)",
                    entry.after.as_deref().unwrap_or("")
                );
            }
            q.explain = entry.explain.clone();
            decided_by.reveal(a, &mut q);
            q
        })
        .collect()
}

/// When a question anchored to an event is asked: the time of the first matching event at or
/// after `not_before` (the state right after it is on screen), if there is one.
fn anchored_at(a: &Analysis<'_>, after: &str, not_before: SimTime) -> Option<SimTime> {
    let scope = crate::scenario::anchor::AnchorScope::of(a.scenario);
    let anchor = crate::scenario::anchor::parse_anchor(after, not_before, &scope).ok()?;
    a.rec
        .events
        .iter()
        .find(|ev| anchor.matches(ev.time, &ev.kind, &a.rec.sim))
        .map(|ev| ev.time)
}

/// What decided an answer, for the reveal.
pub enum DecidedBy {
    Nothing,
    /// An event: its cause chain.
    Event(EventId),
    /// A message's fate: its story as the group saw it.
    Message(MsgId, Option<GroupId>),
}

impl DecidedBy {
    pub fn reveal(self, a: &Analysis<'_>, q: &mut Question) {
        match self {
            DecidedBy::Nothing => {}
            DecidedBy::Event(id) => {
                q.chain = a.chain_lines(id);
                q.reveal_at = a.moment_of(id);
            }
            DecidedBy::Message(m, g) => a.reveal_msg(q, m, g),
        }
    }
}

/// The value the run gives a check, and what decided it (for the reveal).
pub fn answer(a: &Analysis<'_>, c: &QuizCheck) -> (String, DecidedBy) {
    let sim = &a.rec.sim;
    let group = group_of(a.scenario, c).and_then(|g| group_id(a, g));
    match CheckKind::written(c).first() {
        Some(CheckKind::Count) => {
            let what = c.count.as_deref().unwrap_or("");
            let range = c
                .messages
                .as_deref()
                .and_then(|m| MessageRange::parse(m).ok());
            let mut n = 0u64;
            let mut first: Option<MsgId> = None;
            let reordered: Vec<MsgId> = a
                .checker
                .anomalies()
                .into_iter()
                .filter(|r| r.kind == AnomalyKind::Reordered && Some(r.group) == group)
                .map(|r| r.msg)
                .collect();
            for m in (0..sim.msg_count() as u32).map(MsgId) {
                let info = sim.msg(m);
                if let Some(r) = &range
                    && !r.contains(&sim.producers()[info.producer.idx()].name, info.n)
                {
                    continue;
                }
                let hit = match what {
                    "acked" => a.checker.message(m).is_some_and(|i| i.acked),
                    "reordered" => reordered.contains(&m),
                    _ => {
                        let Some(fate) = group.and_then(|g| a.checker.fate(g, m)) else {
                            continue;
                        };
                        fate_counts(what, fate, a.checker.message(m).is_some_and(|i| i.acked))
                    }
                };
                if hit {
                    n += 1;
                    first.get_or_insert(m);
                }
            }
            // None counted: the life of a message the faults touched shows why.
            let shown = first.or_else(|| {
                troubled_msg(a, |m| {
                    let info = sim.msg(m);
                    range.as_ref().is_none_or(|r| {
                        r.contains(&sim.producers()[info.producer.idx()].name, info.n)
                    })
                })
            });
            let by = shown.map_or(DecidedBy::Nothing, |m| DecidedBy::Message(m, group));
            (n.to_string(), by)
        }
        Some(CheckKind::Fate) => {
            let m = c.fate.as_deref().and_then(|name| a.rec.find_msg(name));
            let fate = m
                .zip(group)
                .and_then(|(m, g)| a.checker.fate(g, m))
                .map_or("not sent", |f| f.name());
            let by = m.map_or(DecidedBy::Nothing, |m| DecidedBy::Message(m, group));
            (fate.to_string(), by)
        }
        Some(CheckKind::Verdict) => {
            let outcome = a.checker.outcome();
            let name = c.verdict.as_deref().unwrap_or("all");
            let verdict = if name == "all" {
                Some(outcome.verdict)
            } else {
                outcome.group(name).map(|g| g.verdict)
            };
            // The first anomaly that spoiled the verdict, if any, decided it.
            let spoiler = a
                .checker
                .anomalies()
                .into_iter()
                .find(|r| {
                    (r.kind.is_loss() || r.kind == AnomalyKind::Duplicated)
                        && (name == "all" || Some(r.group) == group_id(a, name))
                })
                .map(|r| DecidedBy::Message(r.msg, Some(r.group)))
                .or_else(|| troubled_msg(a, |_| true).map(|m| DecidedBy::Message(m, group)))
                .unwrap_or(DecidedBy::Nothing);
            (verdict.map_or("none", |v| v.name()).to_string(), spoiler)
        }
        Some(CheckKind::Leader) => {
            let p = c.leader.as_deref().and_then(|s| partition_id(a, s));
            let until = c.at_ms.map(SimTime::from_ms);
            match p {
                Some(p) => {
                    let (leader, id) = leader_at(a, p, until);
                    (leader, id.map_or(DecidedBy::Nothing, DecidedBy::Event))
                }
                None => ("none".into(), DecidedBy::Nothing),
            }
        }
        Some(CheckKind::Partitions) => {
            let until = c.at_ms.map(SimTime::from_ms);
            let consumer = c
                .partitions
                .as_deref()
                .and_then(|s| consumer_node_name(a.scenario, c, s))
                .and_then(|name| sim.consumers().iter().position(|k| k.name == name))
                .map(|i| ConsumerId(i as u32));
            match consumer {
                Some(k) => {
                    let (parts, id) = owned_at(a, k, until);
                    let names: Vec<String> = parts.iter().map(|&p| sim.partition_name(p)).collect();
                    (
                        partitions_text(&names),
                        id.map_or(DecidedBy::Nothing, DecidedBy::Event),
                    )
                }
                None => ("none".into(), DecidedBy::Nothing),
            }
        }
        None => (String::new(), DecidedBy::Nothing),
    }
}

/// The first message (of those `wanted`) whose send met trouble: an error, a retry, a resent
/// batch the leader recognised, a truncation; else the first one wanted.
pub(super) fn troubled_msg(a: &Analysis<'_>, wanted: impl Fn(MsgId) -> bool) -> Option<MsgId> {
    let troubled = a.rec.events.iter().find_map(|ev| {
        let m = match &ev.kind {
            Trace::ProduceError { first_msg, .. }
            | Trace::Retried { first_msg, .. }
            | Trace::DuplicateBatch { first_msg, .. } => *first_msg,
            Trace::Truncated { removed, .. } => *removed.first()?,
            _ => return None,
        };
        wanted(m).then_some(m)
    });
    troubled.or_else(|| {
        (0..a.rec.sim.msg_count() as u32)
            .map(MsgId)
            .find(|&m| wanted(m))
    })
}

/// Whether a message with `fate` counts as `what`.
fn fate_counts(what: &str, fate: Fate, acked: bool) -> bool {
    match (what, fate) {
        ("lost", Fate::Lost(_)) => true,
        ("acked-lost", Fate::Lost(_)) => acked,
        ("truncated", Fate::Lost(LossKind::Truncated))
        | ("never_written", Fate::Lost(LossKind::NeverWritten))
        | ("skipped", Fate::Lost(LossKind::Skipped)) => true,
        (w, f) => w == f.name() && !matches!(f, Fate::Lost(_)),
    }
}

pub(super) fn group_id(a: &Analysis<'_>, name: &str) -> Option<GroupId> {
    a.rec
        .sim
        .groups()
        .iter()
        .position(|g| g.name == name)
        .map(|i| GroupId(i as u32))
}

fn partition_id(a: &Analysis<'_>, name: &str) -> Option<PartitionId> {
    (0..a.rec.sim.partitions().len() as u32)
        .map(PartitionId)
        .find(|&p| a.rec.sim.partition_name(p) == name)
}

/// The leader of `p` once every event up to `until` (default: the end) has happened, and the
/// election that made it.
pub(super) fn leader_at(
    a: &Analysis<'_>,
    p: PartitionId,
    until: Option<SimTime>,
) -> (String, Option<EventId>) {
    let sim = &a.rec.sim;
    let mut leader: Option<(String, EventId)> = None;
    for ev in &a.rec.events {
        if until.is_some_and(|t| ev.time > t) {
            break;
        }
        match &ev.kind {
            Trace::LeaderElected {
                partition,
                leader: b,
                ..
            } if *partition == p => leader = Some((sim.broker_name(*b).to_string(), ev.id)),
            Trace::PartitionOffline { partition, .. } if *partition == p => {
                leader = Some(("none".into(), ev.id))
            }
            _ => {}
        }
    }
    match leader {
        Some((name, id)) => (name, Some(id)),
        // No election yet: the first replica of the assignment leads from the start.
        None => (
            sim.partitions()[p.idx()]
                .assignment
                .first()
                .map_or("none".into(), |&b| sim.broker_name(b).to_string()),
            None,
        ),
    }
}

/// The partitions consumer `k` owns once every event up to `until` has happened (classic
/// generations, KIP-848 epochs), and the event that gave them.
pub(super) fn owned_at(
    a: &Analysis<'_>,
    k: ConsumerId,
    until: Option<SimTime>,
) -> (Vec<PartitionId>, Option<EventId>) {
    let mut owned: Vec<PartitionId> = Vec::new();
    let mut by: Option<EventId> = None;
    for ev in &a.rec.events {
        if until.is_some_and(|t| ev.time > t) {
            break;
        }
        match &ev.kind {
            Trace::Rebalanced {
                group, assignment, ..
            } if a.rec.sim.consumers()[k.idx()].group == *group => {
                owned = assignment
                    .iter()
                    .find(|(c, _)| *c == k)
                    .map(|(_, ps)| ps.to_vec())
                    .unwrap_or_default();
                by = Some(ev.id);
            }
            Trace::EpochAssigned {
                consumer,
                partitions,
                ..
            } if *consumer == k => {
                owned = partitions.to_vec();
                by = Some(ev.id);
            }
            Trace::MemberRemoved { consumer, .. } if *consumer == k => {
                owned.clear();
                by = Some(ev.id);
            }
            _ => {}
        }
    }
    owned.sort();
    (owned, by)
}
