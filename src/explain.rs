//! Why each anomaly happened: one sentence of cause, the Kafka setting that allowed it, and a
//! one-setting change that would have prevented it, verified by re-running the same scenario
//! and seed with that change (the report's `anomalies`).
//!
//! Only the reports (`run`, `run --json`) call this; the re-runs happen once per distinct
//! change, never in the TUI.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::{AnomalyKind, AnomalyRecord, Checker, CheckerSetup, Detail, Fate};
use crate::scenario::{self, Acks, CommitMode, IsolationLevel, OffsetReset, Scenario};
use crate::sim::{GroupId, MsgId, Sim};

/// One step of the chain of trace events from an anomaly's root to its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainStep {
    pub at_ms: u64,
    pub text: String,
}

/// A one-setting change and whether a re-run with it fixed the message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreventedBy {
    /// The change as scenario settings, e.g. `auto_offset_reset = "earliest"`.
    pub change: String,
    /// The same scenario and seed with that change applied this message exactly once (or, for
    /// `reordered` and `aborted_read`, without that anomaly).
    pub verified: bool,
}

/// One anomalous message for one group (an entry of the JSON report's `anomalies`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub message: String,
    pub group: String,
    pub kind: AnomalyKind,
    /// One plain sentence.
    pub cause: String,
    /// The setting that allowed it, in the system's names (Kafka's on Kafka).
    pub config: String,
    pub prevented_by: Option<PreventedBy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ChainStep>,
}

/// A scenario-level change that prevents a kind of anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// `acks = "all"` on every producer and `min_insync_replicas = 2` on every topic.
    Durable,
    /// `unclean_leader_election = false`.
    CleanElection,
    /// Redis: `acks = "all"` on every producer, which waits for every replica (WAIT).
    Wait,
    EnableIdempotence,
    MaxInFlightOne,
    /// `replica_recovery = "leader-epoch"` (KIP-101).
    LeaderEpochRecovery,
    Earliest,
    AfterProcess,
    Dedup,
    ReadCommitted,
}

impl Change {
    pub fn text(self) -> &'static str {
        match self {
            Change::Durable => "acks = \"all\", min_insync_replicas = 2",
            Change::CleanElection => "unclean_leader_election = false",
            Change::Wait => "acks = \"all\" (WAIT for the replicas)",
            Change::EnableIdempotence => "enable_idempotence = true",
            Change::MaxInFlightOne => "max_in_flight = 1",
            Change::LeaderEpochRecovery => "replica_recovery = \"leader-epoch\"",
            Change::Earliest => "auto_offset_reset = \"earliest\"",
            Change::AfterProcess => "commit = \"after-process\"",
            Change::Dedup => "dedup = true",
            Change::ReadCommitted => "isolation_level = \"read_committed\"",
        }
    }

    /// The scenario with this change applied to every producer, topic or group.
    pub fn apply(self, sc: &Scenario) -> Scenario {
        let mut v = sc.clone();
        v.expect = None;
        match self {
            Change::Durable => {
                for p in &mut v.producers {
                    p.acks = Acks::All;
                }
                for t in &mut v.topics {
                    t.min_insync_replicas = t.min_insync_replicas.max(2.min(t.replication_factor));
                }
            }
            Change::Wait => {
                for p in &mut v.producers {
                    p.acks = Acks::All;
                }
            }
            Change::CleanElection => {
                v.cluster.unclean_leader_election = false;
                for t in &mut v.topics {
                    t.unclean_leader_election = Some(false);
                }
            }
            Change::EnableIdempotence => {
                for p in &mut v.producers {
                    p.enable_idempotence = Some(true);
                    p.acks = Acks::All;
                    p.max_in_flight = p.max_in_flight.min(5);
                    if p.retries == 0 {
                        p.retries = i32::MAX as u32;
                    }
                }
            }
            Change::MaxInFlightOne => {
                for p in &mut v.producers {
                    p.max_in_flight = 1;
                }
            }
            Change::LeaderEpochRecovery => {
                v.cluster.replica_recovery = Some(scenario::model::ReplicaRecovery::LeaderEpoch);
            }
            Change::Earliest => {
                for g in &mut v.groups {
                    g.auto_offset_reset = OffsetReset::Earliest;
                }
            }
            Change::AfterProcess => {
                for g in &mut v.groups {
                    if g.commit != CommitMode::Transactional {
                        g.commit = CommitMode::AfterProcess;
                    }
                }
            }
            Change::Dedup => {
                for g in &mut v.groups {
                    g.dedup = true;
                }
            }
            Change::ReadCommitted => {
                for g in &mut v.groups {
                    g.isolation_level = IsolationLevel::ReadCommitted;
                }
            }
        }
        v
    }
}

/// The cause, config and preventing change of one anomaly, before verification.
pub fn describe(
    sc: &Scenario,
    sim: &Sim,
    checker: &Checker,
    a: &AnomalyRecord,
) -> (String, String, Option<Change>) {
    let msg = sim.msg_name(a.msg);
    let group = &sc.groups[a.group.idx()];
    let producer = checker.message(a.msg).and_then(|i| {
        let name = &sim.producers().get(i.producer.idx())?.name;
        sc.producers.iter().find(|p| &p.name == name)
    });
    let acks = producer.map_or(Acks::All, |p| p.acks);
    let idempotent = producer.is_some_and(|p| p.idempotent());
    let durable_config = |acks: Acks| match acks {
        Acks::All => {
            let min = sc
                .topics
                .iter()
                .find(|t| producer.is_some_and(|p| p.topic == t.name))
                .map_or(1, |t| t.min_insync_replicas);
            format!("acks=all, min.insync.replicas={min}")
        }
        a => format!("acks={}", a.name()),
    };
    let hw_recovery =
        sc.cluster.replica_recovery == Some(scenario::model::ReplicaRecovery::HighWatermark);
    match a.detail {
        // Pre-KIP-101, a clean leader change can still lose a record: a replica that became a
        // follower cut its log to its own, stale HW and then led.
        Detail::Truncated(removal)
            if hw_recovery && removal.is_none_or(|r| r.elected.is_none_or(|e| !e.2)) =>
        {
            (
                format!(
                    "{msg} was removed when a replica becoming a follower cut its log to its own high watermark, which lagged the leader's (the pre-KIP-101 recovery), and then led without it"
                ),
                "replica_recovery=high-watermark (Kafka 0.10)".into(),
                Some(Change::LeaderEpochRecovery),
            )
        }
        Detail::Truncated(removal) => match removal {
            Some(r) => {
                let part = sim.partition_name(r.partition);
                let offs = offsets(r.from, r.to);
                match r.elected {
                    Some((leader, epoch, unclean)) => {
                        let cause = format!(
                            "{} lost {part} {offs} when {} was elected leader at epoch {epoch} without them{}",
                            sim.broker_name(r.broker),
                            sim.broker_name(leader),
                            if unclean {
                                " (an unclean election of an out-of-sync replica)"
                            } else {
                                ""
                            }
                        );
                        if sc.cluster.system == scenario::model::System::Redis {
                            // Sentinel promotes the most up-to-date replica, whatever it
                            // lacks: only a write the replicas acknowledged (WAIT) survives.
                            (
                                {
                                    let queue = crate::queue_words::queue_name(sim, r.partition);
                                    let which = match r.to.saturating_sub(r.from) {
                                        0 | 1 => format!("the one write to {queue}"),
                                        n => format!("one of {n} writes to {queue}"),
                                    };
                                    format!(
                                        "{} lost {msg}, {which} that only it had, when Sentinel promoted {}, a replica that never had them (Redis replicates asynchronously)",
                                        sim.broker_name(r.broker),
                                        sim.broker_name(leader),
                                    )
                                },
                                format!("acks={} (no WAIT)", acks.name()),
                                Some(Change::Wait),
                            )
                        } else if unclean {
                            (
                                cause,
                                "unclean.leader.election.enable=true".into(),
                                Some(Change::CleanElection),
                            )
                        } else {
                            (cause, durable_config(acks), Some(Change::Durable))
                        }
                    }
                    None => (
                        format!(
                            "{} appended {msg} to {part} at {offs} after another broker had replaced it as leader, so the records were truncated",
                            sim.broker_name(r.broker)
                        ),
                        durable_config(acks),
                        Some(Change::Durable),
                    ),
                }
            }
            None => (
                format!("{msg} was written and then removed from the log by a leader change"),
                durable_config(acks),
                Some(Change::Durable),
            ),
        },
        Detail::NeverWritten { acked } => {
            let cause = if acks == Acks::None {
                format!(
                    "{} sent {msg} with acks=0 and counted it as sent, but no leader ever appended it",
                    producer.map_or("the producer", |p| p.name.as_str())
                )
            } else if acked {
                format!("{msg} was acknowledged but no leader's log ever held it")
            } else {
                format!("{msg} reached no log and its producer was never told it failed")
            };
            (cause, durable_config(acks), Some(Change::Durable))
        }
        Detail::Skipped {
            partition,
            offset,
            reset,
            committed,
        } => {
            let part = sim.partition_name(partition);
            match (reset, group.auto_offset_reset) {
                (Some(r), OffsetReset::Latest) => (
                    format!(
                        "the group started at offset {r} of {part} because auto.offset.reset=latest and it had no committed offset, so it never read offset {offset}"
                    ),
                    "auto.offset.reset=latest".into(),
                    Some(Change::Earliest),
                ),
                (Some(r), OffsetReset::Earliest) => (
                    format!(
                        "the group's position on {part} was reset to offset {r}, past offset {offset}, after its log was truncated"
                    ),
                    durable_config(acks),
                    Some(Change::Durable),
                ),
                (None, _) => {
                    let c = committed.unwrap_or(offset + 1);
                    let config = match group.commit {
                        CommitMode::Auto => {
                            "enable.auto.commit=true (offsets committed before processing finished)"
                                .to_string()
                        }
                        m => format!("commit={} (offsets committed before processing)", m.name()),
                    };
                    (
                        format!(
                            "the group committed offset {c} on {part} before applying offset {offset}, and the consumer holding it stopped first"
                        ),
                        config,
                        (group.commit != CommitMode::AfterProcess).then_some(Change::AfterProcess),
                    )
                }
            }
        }
        Detail::Duplicated { times, appends } => {
            if appends >= 2 && !idempotent {
                (
                    format!(
                        "{} retried {msg} after its first write had landed (its acknowledgement was lost), so the log holds it {appends} times",
                        producer.map_or("the producer", |p| p.name.as_str())
                    ),
                    "enable.idempotence=false".into(),
                    Some(Change::EnableIdempotence),
                )
            } else if appends >= 2 {
                // An idempotent producer writes a record twice only once its epoch was bumped
                // (KIP-360, `TransactionManager.canRetry`): the broker recognises a retry among
                // the producer's last 5 batches of the current epoch only (`ProducerStateEntry`).
                (
                    format!(
                        "{} resent {msg} under a new producer epoch, bumped to close a gap in its sequence numbers (KIP-360); the broker recognises a retry only within one epoch, so the log holds it {appends} times",
                        producer.map_or("the producer", |p| p.name.as_str())
                    ),
                    "enable.idempotence=true, no deduplication".into(),
                    (!group.dedup).then_some(Change::Dedup),
                )
            } else if sc.cluster.system != scenario::model::System::Kafka {
                // A queue hands a message out again when the consumer holding it did not
                // settle it in time: its channel closed (RabbitMQ), its visibility timeout ran
                // out (SQS), the reaper or XAUTOCLAIM took it back (Redis).
                use crate::sim::config::{AckMode, RedisMode, System};
                let system = sim.settings().system;
                let q = scenario::lower::queue_consumer(system, sc, group);
                // What settles a message, what gave it out again, and the setting that timed it.
                let (settle, again, setting) = match system {
                    System::Sqs => (
                        "its DeleteMessage",
                        "it became visible again when its visibility timeout ran out and was received again",
                        format!("visibility_timeout_ms={}", q.visibility_timeout_ms),
                    ),
                    System::Redis(RedisMode::Stream) => (
                        "its XACK",
                        "XAUTOCLAIM handed it to another consumer once it had been pending that long",
                        format!("min_idle_ms={}", q.min_idle_ms),
                    ),
                    System::Redis(_) => (
                        "its LREM",
                        "the reaper moved it back from the processing list to the queue",
                        format!("visibility_timeout_ms={}", q.visibility_timeout_ms),
                    ),
                    _ => (
                        "its basic.ack",
                        "RabbitMQ requeued it and delivered it again (redelivered set)",
                        match q.ack {
                            AckMode::Manual => "ack=manual".to_string(),
                            AckMode::Auto => "ack=auto".to_string(),
                        },
                    ),
                };
                let config = format!("{setting}, no deduplication");
                (
                    format!(
                        "the group applied {msg} {times} times: a consumer applied it before {settle} reached the queue (it crashed, or was too slow), so {again}"
                    ),
                    config,
                    (!group.dedup).then_some(Change::Dedup),
                )
            } else if group.group_type == crate::scenario::GroupType::Share {
                // KIP-932: a record whose acquisition lock ran out before its acknowledgement
                // reached the share-partition leader is delivered again.
                (
                    format!(
                        "the group applied {msg} {times} times: a consumer applied it and never acknowledged it (it crashed, or its lock ran out first), so the share partition delivered it again after its acquisition lock expired"
                    ),
                    format!(
                        "share group, share.record.lock.duration.ms={}, no deduplication",
                        group.record_lock_duration_ms.unwrap_or(30_000)
                    ),
                    (!group.dedup).then_some(Change::Dedup),
                )
            } else {
                let config = match group.commit {
                    CommitMode::Auto => "enable.auto.commit=true, no deduplication".to_string(),
                    m => format!("commit={}, no deduplication", m.name()),
                };
                (
                    format!(
                        "the group applied {msg} {times} times: it read it again after a consumer crash or rebalance, before its offset was committed"
                    ),
                    config,
                    (!group.dedup).then_some(Change::Dedup),
                )
            }
        }
        Detail::Reordered { after } => {
            let mif = producer.map_or(5, |p| p.max_in_flight);
            if !idempotent && mif > 1 {
                (
                    format!(
                        "retried after {} had landed: retries with max.in.flight.requests.per.connection={mif} and no idempotence",
                        sim.msg_name(after)
                    ),
                    format!(
                        "enable.idempotence=false, max.in.flight.requests.per.connection={mif}"
                    ),
                    Some(Change::MaxInFlightOne),
                )
            } else if group.group_type == crate::scenario::GroupType::Share {
                // KIP-932 makes no ordering promise: a share partition's records go to any
                // member, and are redelivered whenever a lock runs out.
                (
                    format!(
                        "first applied after {}, sent later with the same key: a share group hands one partition's records to several consumers at once and redelivers them out of order (KIP-932 promises no ordering)",
                        sim.msg_name(after)
                    ),
                    "share group".into(),
                    None,
                )
            } else {
                (
                    format!(
                        "first applied after {}, sent later with the same key: the key's records were read from more than one partition",
                        sim.msg_name(after)
                    ),
                    "partitions added (the key moved to another partition)".into(),
                    None,
                )
            }
        }
        Detail::Forgotten { on_send: true } => (
            format!(
                "the queue forgot {msg} as it sent it (RabbitMQ ack = \"auto\" or Redis BRPOP), and the consumer that got it stopped before applying it"
            ),
            "ack = \"auto\" (or a Redis list popped with BRPOP)".into(),
            None,
        ),
        Detail::Forgotten { on_send: false } => (
            format!(
                "the queue dropped {msg}: it was refused or reached its delivery limit with no dead_letter_topic to move it to"
            ),
            "no dead_letter_topic".into(),
            None,
        ),
        Detail::AbortedRead => (
            format!(
                "the group applied {msg} although its transaction was aborted: read_uncommitted returns records of aborted transactions"
            ),
            "isolation.level=read_uncommitted".into(),
            Some(Change::ReadCommitted),
        ),
    }
}

fn offsets(from: u64, to: u64) -> String {
    if to <= from + 1 {
        format!("offset {from}")
    } else {
        format!("offsets {}-{}", from, to - 1)
    }
}

/// Runs a scenario to the end and returns the simulation and its final checker.
fn rerun(sc: &Scenario, seed: u64) -> Option<(Sim, Checker)> {
    let setup = CheckerSetup::from_scenario(sc).ok()?;
    let mut sim = Sim::with_seed(sc, seed);
    let mut checker = Checker::new(setup);
    loop {
        let more = sim.step();
        for ev in sim.drain_trace() {
            checker.observe(&ev);
        }
        if !more {
            break;
        }
    }
    checker.set_final(true);
    Some((sim, checker))
}

/// Whether the re-run fixed this anomaly for this group.
fn fixed(
    checker: &Checker,
    anomalies: &[AnomalyRecord],
    ids: &BTreeMap<String, MsgId>,
    a: &Anomaly,
    g: GroupId,
) -> bool {
    let Some(&m) = ids.get(&a.message) else {
        return false;
    };
    match a.kind {
        AnomalyKind::Reordered | AnomalyKind::AbortedRead => !anomalies
            .iter()
            .any(|x| x.group == g && x.msg == m && x.kind == a.kind),
        _ => checker.fate(g, m) == Some(Fate::Applied),
    }
}

/// Every anomaly of a finished run, explained, with each preventing change verified by one
/// re-run per distinct change.
pub fn explain(sc: &Scenario, seed: u64, sim: &Sim, checker: &Checker) -> Vec<Anomaly> {
    let records = checker.anomalies();
    let mut out = Vec::with_capacity(records.len());
    let mut changes = Vec::with_capacity(records.len());
    for r in &records {
        let (cause, config, change) = describe(sc, sim, checker, r);
        changes.push(change);
        out.push(Anomaly {
            message: sim.msg_name(r.msg),
            group: sc.groups[r.group.idx()].name.clone(),
            kind: r.kind,
            cause,
            config,
            prevented_by: change.map(|c| PreventedBy {
                change: c.text().to_string(),
                verified: false,
            }),
            chain: Vec::new(),
        });
    }
    let mut distinct: Vec<Change> = changes.iter().flatten().copied().collect();
    distinct.sort();
    distinct.dedup();
    for change in distinct {
        let v = change.apply(sc);
        if scenario::validate("", "", &v).is_err() {
            continue;
        }
        let Some((rsim, rchecker)) = rerun(&v, seed) else {
            continue;
        };
        let ids: BTreeMap<String, MsgId> = (0..rchecker.messages())
            .map(|i| MsgId(i as u32))
            .filter(|&m| rchecker.message(m).is_some())
            .map(|m| (rsim.msg_name(m), m))
            .collect();
        let ranom = rchecker.anomalies();
        for (k, a) in out.iter_mut().enumerate() {
            if changes[k] != Some(change) {
                continue;
            }
            let ok = fixed(&rchecker, &ranom, &ids, a, records[k].group);
            if let Some(p) = &mut a.prevented_by {
                p.verified = ok;
            }
        }
    }
    out
}
