//! Automatic questions for any scenario, drawn from its run: before an election (who leads
//! next, and how many acknowledged records above the high watermark survive it), before a
//! truncation, at a rebalance, when a retried batch overtakes nothing but lands after a later
//! one, and the verdict (asked at the first fault, so every scenario gets at least one).
//!
//! Each kind is asked at most once per partition or group, and at most [`MAX_PER_KIND`] times,
//! so a long run does not become a long exam.

use std::collections::BTreeMap;

use super::written::{group_id, leader_at};
use super::{Analysis, AutoKind, Question, Source};
use crate::check::{AnomalyKind, Fate};
use crate::scenario::{Acks, Assignor};
use crate::sim::{
    EventId, GroupId, MsgId, PartitionId, ProducerId, SimTime, Trace, TruncateReason,
};

const MAX_PER_KIND: usize = 2;

/// Every automatic question of the run, in the order they are asked.
pub fn questions(a: &Analysis<'_>) -> Vec<Question> {
    let mut out = Vec::new();
    out.extend(elections(a));
    out.extend(truncation(a));
    out.extend(rebalance(a));
    out.extend(retry_overtakes(a));
    out.extend(verdict(a));
    out.sort_by_key(|q| q.ask_at);
    out
}

/// Just before `t`: the state the learner sees before the event happens.
fn just_before(t: SimTime) -> SimTime {
    SimTime(t.0.saturating_sub(1))
}

/// Up to four numbers from 0 to `max`, ascending, one of them `answer`.
pub fn numeric_choices(answer: u64, max: u64) -> Vec<String> {
    let max = max.max(answer);
    let mut set = std::collections::BTreeSet::from([answer, 0, max]);
    for c in [answer + 1, answer.saturating_sub(1), max / 2, answer + 2] {
        if set.len() >= 4 {
            break;
        }
        if c <= max.max(answer + 2) {
            set.insert(c);
        }
    }
    set.into_iter().map(|n| n.to_string()).collect()
}

/// The first group that reads `p`'s topic.
fn group_reading(a: &Analysis<'_>, m: MsgId) -> Option<GroupId> {
    (0..a.rec.sim.groups().len() as u32)
        .map(GroupId)
        .find(|&g| a.checker.fate(g, m).is_some())
}

fn group_name<'r>(a: &'r Analysis<'_>, g: GroupId) -> &'r str {
    &a.rec.sim.groups()[g.idx()].name
}

/// Before each failover election: which broker leads next; and, when acknowledged records sit
/// above the old leader's high watermark, how many of them a group ends up applying.
fn elections(a: &Analysis<'_>) -> Vec<Question> {
    let sim = &a.rec.sim;
    let mut out = Vec::new();
    let mut hw: BTreeMap<PartitionId, u64> = BTreeMap::new();
    // Per partition: (offset, message) of every acknowledged record.
    let mut acked: BTreeMap<PartitionId, Vec<(u64, MsgId)>> = BTreeMap::new();
    let mut asked: Vec<PartitionId> = Vec::new();
    let mut leaders: BTreeMap<PartitionId, String> = BTreeMap::new();
    for ev in &a.rec.events {
        match &ev.kind {
            Trace::HighWatermark {
                partition, hw: h, ..
            } => {
                hw.insert(*partition, *h);
            }
            Trace::Acked {
                msg,
                partition,
                offset: Some(o),
                ..
            } => acked.entry(*partition).or_default().push((*o, *msg)),
            Trace::LeaderElected {
                partition,
                leader,
                epoch,
                unclean,
                preferred,
                ..
            } => {
                let p = *partition;
                let old = leaders.insert(p, sim.broker_name(*leader).to_string());
                if *epoch == 0 || *preferred || asked.contains(&p) || asked.len() >= MAX_PER_KIND {
                    continue;
                }
                asked.push(p);
                let name = sim.partition_name(p);
                let old = old.unwrap_or_else(|| leader_at(a, p, Some(just_before(ev.time))).0);
                let choices: Vec<String> = sim.partitions()[p.idx()]
                    .assignment
                    .iter()
                    .map(|&b| sim.broker_name(b).to_string())
                    .collect();
                let mut q = Question::new(
                    Source::Auto(AutoKind::Election),
                    just_before(ev.time),
                    format!(
                        "The controller is about to elect a new leader for {name} (its leader was {old}). Which broker leads {name} next?"
                    ),
                    choices,
                )
                .answered(sim.broker_name(*leader).to_string());
                q.explain = if *unclean {
                    format!(
                        "No in-sync replica was left, and unclean.leader.election.enable=true let the controller pick an out-of-sync one (epoch {epoch}): whatever only the ISR had is gone (Kafka docs, Replication: \"Unclean leader election\")."
                    )
                } else {
                    format!(
                        "The controller picks a live replica from the ISR (Kafka docs, Replication: only members of the ISR are eligible for election while unclean.leader.election.enable=false), and bumps the leader epoch to {epoch} (KIP-101)."
                    )
                };
                q.chain = a.chain_lines(ev.id);
                q.reveal_at = a.moment_of(ev.id);
                out.push(q);
                let h = hw.get(&p).copied().unwrap_or(0);
                let above: Vec<MsgId> = acked
                    .get(&p)
                    .into_iter()
                    .flatten()
                    .filter(|(o, _)| *o >= h)
                    .map(|&(_, m)| m)
                    .collect();
                if let Some(q) = above_hw(a, ev.id, ev.time, &name, &old, &above) {
                    out.push(q);
                }
            }
            _ => {}
        }
    }
    out
}

fn above_hw(
    a: &Analysis<'_>,
    election: EventId,
    at: SimTime,
    partition: &str,
    old: &str,
    above: &[MsgId],
) -> Option<Question> {
    let first = *above.first()?;
    let g = group_reading(a, first)?;
    let n = above.len() as u64;
    let survive = above
        .iter()
        .filter(|&&m| matches!(a.checker.fate(g, m), Some(Fate::Applied | Fate::Duplicated)))
        .count() as u64;
    let mut q = Question::new(
        Source::Auto(AutoKind::AboveHighWatermark),
        just_before(at),
        format!(
            "{n} acknowledged record(s) of {partition} are above the high watermark of {old} (on fewer replicas than the ISR) as the controller elects a new leader. How many of them will group {} end up applying?",
            group_name(a, g)
        ),
        numeric_choices(survive, n),
    )
    .answered(survive.to_string());
    let acks: Vec<&str> = a
        .scenario
        .producers
        .iter()
        .map(|p| match p.acks {
            Acks::All => "acks=all",
            Acks::Leader => "acks=1",
            Acks::None => "acks=0",
        })
        .collect();
    q.explain = format!(
        "The high watermark is the offset every ISR member has copied; a record above it lives on fewer replicas, and a new leader without it wins the election anyway: the old leader later truncates to the new leader's log (KIP-101). Only acks=all makes the producer wait for the whole ISR, so nothing acknowledged sits above the HW (Kafka docs, producer config `acks`); here the producers use {}.",
        acks.join(", ")
    );
    // The first record that did not survive shows why; else the election itself.
    let lost = above
        .iter()
        .copied()
        .find(|&m| !matches!(a.checker.fate(g, m), Some(Fate::Applied | Fate::Duplicated)));
    match lost {
        Some(m) => a.reveal_msg(&mut q, m, Some(g)),
        None => {
            q.chain = a.chain_lines(election);
            q.reveal_at = a.moment_of(election);
        }
    }
    Some(q)
}

/// Before the first truncation that removes messages: how many does it remove?
fn truncation(a: &Analysis<'_>) -> Option<Question> {
    let sim = &a.rec.sim;
    let ev =
        a.rec.events.iter().find(
            |ev| matches!(&ev.kind, Trace::Truncated { removed, .. } if !removed.is_empty()),
        )?;
    let Trace::Truncated {
        partition,
        broker,
        from,
        to,
        removed,
        reason,
    } = &ev.kind
    else {
        return None;
    };
    let n = removed.len() as u64;
    let span = from.saturating_sub(*to).max(n);
    let name = sim.partition_name(*partition);
    let b = sim.broker_name(*broker);
    let mut q = Question::new(
        Source::Auto(AutoKind::Truncation),
        just_before(ev.time),
        format!(
            "{b} is a follower of {name} again and compares its log with the leader's. How many messages does it remove from its log?"
        ),
        numeric_choices(n, span + 1),
    )
    .answered(n.to_string());
    q.explain = match reason {
        TruncateReason::DivergedEpoch => "A follower truncates its log to the end offset of the last leader epoch it shares with the leader (KIP-101, KIP-279: OffsetsForLeaderEpoch): whatever it wrote past that as leader, and the new leader never had, goes.".to_string(),
        TruncateReason::HighWatermark => "Before KIP-101 (Kafka 0.10) a replica becoming a follower cut its log to its own high watermark (ReplicaManager.makeFollowers), then fetched from the leader: records above its HW went, even committed ones.".to_string(),
        TruncateReason::LeaderLogEnd => "Before KIP-101 a follower whose fetch offset is past the leader's log end gets OFFSET_OUT_OF_RANGE and cuts its log to the leader's end (ReplicaFetcherThread.handleOffsetOutOfRange).".to_string(),
    };
    q.chain = a.chain_lines(ev.id);
    q.reveal_at = a.moment_of(ev.id);
    Some(q)
}

/// At a group's first rebalance after its first assignment: which partitions does the member
/// whose share changes get?
fn rebalance(a: &Analysis<'_>) -> Option<Question> {
    let sim = &a.rec.sim;
    let mut previous: BTreeMap<GroupId, Vec<(crate::sim::ConsumerId, Vec<PartitionId>)>> =
        BTreeMap::new();
    let mut started: BTreeMap<GroupId, SimTime> = BTreeMap::new();
    for ev in &a.rec.events {
        match &ev.kind {
            Trace::RebalanceStarted { group, .. } => {
                started.insert(*group, ev.time);
            }
            Trace::Rebalanced {
                group,
                generation,
                assignment,
            } => {
                let now: Vec<_> = assignment
                    .iter()
                    .map(|(c, ps)| {
                        let mut ps = ps.to_vec();
                        ps.sort();
                        (*c, ps)
                    })
                    .collect();
                let Some(before) = previous.insert(*group, now.clone()) else {
                    continue;
                };
                let owned_before = |c| {
                    before
                        .iter()
                        .find(|(k, _)| *k == c)
                        .map(|(_, ps)| ps.clone())
                        .unwrap_or_default()
                };
                let Some((consumer, parts)) = now
                    .iter()
                    .find(|(c, ps)| owned_before(*c) != *ps)
                    .or(now.first())
                else {
                    continue;
                };
                let names = |ps: &[PartitionId]| {
                    crate::scenario::quiz::partitions_text(
                        &ps.iter()
                            .map(|&p| sim.partition_name(p))
                            .collect::<Vec<_>>(),
                    )
                };
                let answer = names(parts);
                let mut choices = vec![answer.clone(), names(&owned_before(*consumer))];
                let topic = sim.partitions()[parts
                    .first()
                    .or(before.iter().flat_map(|(_, p)| p).next())?
                    .idx()]
                .topic;
                let all: Vec<PartitionId> = sim.topics()[topic.idx()].partitions.clone();
                choices.push(names(&all));
                choices.extend(now.iter().map(|(_, ps)| names(ps)));
                choices.push("none".into());
                let mut unique: Vec<String> = Vec::new();
                for c in choices {
                    if !unique.contains(&c) && unique.len() < 4 {
                        unique.push(c);
                    }
                }
                unique.sort();
                let cname = &sim.consumers()[consumer.idx()].name;
                let gname = group_name(a, *group);
                let assignor =
                    a.scenario
                        .groups
                        .iter()
                        .find(|g| g.name == gname)
                        .map_or("range", |g| match g.assignor {
                            Assignor::Range => "range",
                            Assignor::Roundrobin => "roundrobin",
                            Assignor::Sticky => "sticky",
                            Assignor::CooperativeSticky => "cooperative-sticky",
                        });
                let at = started.get(group).copied().unwrap_or(just_before(ev.time));
                let mut q = Question::new(
                    Source::Auto(AutoKind::Rebalance),
                    at.min(just_before(ev.time)),
                    format!(
                        "Group {gname} is rebalancing (generation {generation} is forming). Which partitions will {cname} own when it completes?"
                    ),
                    unique,
                )
                .answered(answer);
                q.explain = format!(
                    "The group's leader runs the `{assignor}` assignor (consumer config partition.assignment.strategy) over the members that joined this generation; a member that left or timed out (session.timeout.ms) gets nothing, and its partitions go to the others (Kafka docs, consumer groups; KIP-429 for cooperative rebalancing)."
                );
                q.chain = a.chain_lines(ev.id);
                q.reveal_at = a.moment_of(ev.id);
                return Some(q);
            }
            _ => {}
        }
    }
    None
}

/// The first retry of a batch after a later batch of the same producer landed on the
/// partition: what does the group see of the retried message?
fn retry_overtakes(a: &Analysis<'_>) -> Option<Question> {
    let sim = &a.rec.sim;
    let mut landed: BTreeMap<(ProducerId, PartitionId), u32> = BTreeMap::new();
    for ev in &a.rec.events {
        match &ev.kind {
            Trace::Appended {
                partition,
                first_msg,
                count,
                ..
            } => {
                let info = sim.msg(*first_msg);
                let last = info.n + count.saturating_sub(1);
                let e = landed.entry((info.producer, *partition)).or_insert(0);
                *e = (*e).max(last);
            }
            Trace::Retried {
                producer,
                partition,
                first_msg,
                count,
                ..
            } => {
                let info = sim.msg(*first_msg);
                let later = landed.get(&(*producer, *partition)).copied().unwrap_or(0);
                if later <= info.n + count.saturating_sub(1) {
                    continue;
                }
                let g = group_reading(a, *first_msg)?;
                let reordered = a.checker.anomalies().into_iter().any(|r| {
                    r.kind == AnomalyKind::Reordered && r.group == g && r.msg == *first_msg
                });
                let answer = match a.checker.fate(g, *first_msg)? {
                    Fate::Duplicated => "applied twice",
                    Fate::Applied if reordered => "applied after a later message",
                    Fate::Applied => "applied in order",
                    Fate::Lost(_) | Fate::Failed => "never applied",
                    _ => "not applied by the end of the run",
                };
                let mut choices: Vec<String> = [
                    "applied in order",
                    "applied after a later message",
                    "applied twice",
                    "never applied",
                ]
                .map(String::from)
                .to_vec();
                if !choices.iter().any(|c| c == answer) {
                    choices.push(answer.to_string());
                }
                let m = sim.msg_name(*first_msg);
                let producer_name = &sim.producers()[producer.idx()].name;
                let gname = group_name(a, g);
                let pname = sim.partition_name(*partition);
                let mut q = Question::new(
                    Source::Auto(AutoKind::RetryOvertakes),
                    just_before(ev.time),
                    format!(
                        "{producer_name} retries the batch starting at {m} on {pname}, after {producer_name}#{later}, sent later, already landed there. What does group {gname} see of {m}?"
                    ),
                    choices,
                )
                .answered(answer.to_string());
                let sc_p = a
                    .scenario
                    .producers
                    .iter()
                    .find(|p| &p.name == producer_name);
                let idempotent = sc_p.and_then(|p| p.enable_idempotence).unwrap_or(false);
                let in_flight = sc_p.map_or(5, |p| p.max_in_flight);
                q.explain = format!(
                    "With retries and max.in.flight.requests.per.connection={in_flight} > 1, a failed batch can be retried after later batches landed (Kafka docs, producer config `retries`: \"may change the ordering of records\"). An idempotent producer (KIP-98, enable.idempotence) numbers its batches, so the leader keeps them in order and recognises a resent one; here enable.idempotence={idempotent}. The checker calls a message reordered when it is first applied after a later message with the same key."
                );
                a.reveal_msg(&mut q, *first_msg, Some(g));
                return Some(q);
            }
            _ => {}
        }
    }
    None
}

/// The verdict of the run (or its only group), asked at the first fault (at the first send
/// when there is none): every scenario has at least this question.
fn verdict(a: &Analysis<'_>) -> Option<Question> {
    let at = a
        .rec
        .events
        .iter()
        .find(|ev| matches!(ev.kind, Trace::FaultInjected { .. }))
        .or_else(|| {
            a.rec
                .events
                .iter()
                .find(|ev| matches!(ev.kind, Trace::Produced { .. }))
        })
        .map_or(SimTime::ZERO, |ev| just_before(ev.time));
    let outcome = a.checker.outcome();
    let (who, verdict, group) = match outcome.groups.as_slice() {
        [only] => (
            format!("group {}", only.name),
            only.verdict,
            group_id(a, &only.name),
        ),
        _ => (
            "the run, over all its groups,".to_string(),
            outcome.verdict,
            None,
        ),
    };
    let choices = ["exactly-once", "at-least-once", "at-most-once", "none"]
        .map(String::from)
        .to_vec();
    let mut q = Question::new(
        Source::Auto(AutoKind::Verdict),
        at,
        format!("Predict the end of this run: what verdict will {who} get?"),
        choices,
    )
    .answered(verdict.name().to_string());
    let counts = match group.and_then(|g| outcome.groups.get(g.idx())) {
        Some(g) => format!(
            "{} applied, {} lost, {} duplicated",
            g.applied, g.lost, g.duplicated
        ),
        None => format!(
            "{} applied, {} lost, {} duplicated",
            outcome.applied, outcome.lost, outcome.duplicated
        ),
    };
    q.explain = format!(
        "The verdict comes from the fates alone: exactly-once when nothing is lost or duplicated, at-least-once with duplicates only, at-most-once with losses only, none with both. Here: {counts}. Scenario: {}",
        a.scenario.scenario.summary
    );
    let spoiler = a.checker.anomalies().into_iter().find(|r| {
        (r.kind.is_loss() || r.kind == AnomalyKind::Duplicated)
            && group.is_none_or(|g| g == r.group)
    });
    match spoiler {
        Some(r) => a.reveal_msg(&mut q, r.msg, Some(r.group)),
        None => {
            if let Some(m) = super::written::troubled_msg(a, |_| true) {
                a.reveal_msg(&mut q, m, group);
            }
        }
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::numeric_choices;

    #[test]
    fn numeric_choices_hold_the_answer() {
        for max in 0..8 {
            for answer in 0..=max {
                let c = numeric_choices(answer, max);
                assert!(c.contains(&answer.to_string()), "{answer} of {max}: {c:?}");
                assert!((2..=4).contains(&c.len()) || max == 0, "{c:?}");
                let mut sorted: Vec<u64> = c.iter().map(|s| s.parse().unwrap()).collect();
                sorted.sort();
                sorted.dedup();
                assert_eq!(sorted.len(), c.len());
            }
        }
    }
}
