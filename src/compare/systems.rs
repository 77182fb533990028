//! `brokerlab compare --systems`: the same workload, faults and seed on each queue system.
//!
//! [`map`] is the one place that says how a scenario becomes a scenario of another system.
//! It keeps what every system shares (brokers, network, producers' sends, consumers, processing
//! time, poison messages, faults) and translates the intent of the Kafka-shaped settings:
//!
//! | scenario | kafka-share | rabbitmq | sqs, sqs-fifo | redis-list, redis-reliable-list | redis-stream |
//! |---|---|---|---|---|---|
//! | topic | as is | one queue: classic (1 replica) or quorum | one queue (`fifo` for sqs-fifo) | one list: primary + replicas | one stream |
//! | `acks` | as is | `0` → no confirms, else confirms | always stored redundantly | as is (`all` = WAIT) | as is (`all` = WAIT) |
//! | `commit` | share acknowledgement | `auto` / `before-process` → `ack = "auto"`, else manual | delete after processing | BRPOP / LMOVE | XACK after processing |
//! | `max_attempts` with a poison message or a dead-letter topic | `delivery_count_limit` (2 to 10) | quorum `delivery_limit` (attempts − 1: it counts redeliveries) | `max_receive_count` (with a dead-letter topic) | none | `max_deliveries` |
//! | `dead_letter_topic` | dropped (archived instead) | dead-letter exchange | redrive target | dropped | dead-letter stream |
//!
//! Fields of the consumer-group protocol (assignor, protocol, commit, isolation, static
//! membership, auto commit, offset reset), transactions and idempotence are Kafka's and go;
//! faults only Kafka has (`zombie`, `elect-preferred`, `add-partitions`) are dropped and a
//! `leader:TOPIC/P` target names the queue's one leader. Every change that loses some of the
//! scenario's intent is listed in the column's notes.
//!
//! A scenario written for another system is read for the same intent first: RabbitMQ's
//! confirms and `ack`, SQS's and Redis's ways of acknowledging, and each system's delivery
//! limit stand for `acks`, the commit point and `max_attempts`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::report::Report;
use crate::scenario::{
    self, AckMode, Acks, CommitMode, FaultAction, GroupType, RedisMode, Scenario, System, Target,
};
use crate::sim::config as core;

/// One column of `compare --systems`: a queue system and the way the application uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueSystem {
    /// Kafka consumer groups.
    Kafka,
    /// Kafka share groups (KIP-932).
    KafkaShare,
    Rabbitmq,
    /// An SQS standard queue.
    Sqs,
    /// An SQS FIFO queue.
    SqsFifo,
    /// Redis LPUSH / BRPOP.
    RedisList,
    /// Redis LMOVE to a processing list with a reaper.
    RedisReliableList,
    /// Redis streams with a consumer group.
    RedisStream,
}

impl QueueSystem {
    pub const ALL: [QueueSystem; 8] = [
        QueueSystem::Kafka,
        QueueSystem::KafkaShare,
        QueueSystem::Rabbitmq,
        QueueSystem::Sqs,
        QueueSystem::SqsFifo,
        QueueSystem::RedisList,
        QueueSystem::RedisReliableList,
        QueueSystem::RedisStream,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QueueSystem::Kafka => "kafka",
            QueueSystem::KafkaShare => "kafka-share",
            QueueSystem::Rabbitmq => "rabbitmq",
            QueueSystem::Sqs => "sqs",
            QueueSystem::SqsFifo => "sqs-fifo",
            QueueSystem::RedisList => "redis-list",
            QueueSystem::RedisReliableList => "redis-reliable-list",
            QueueSystem::RedisStream => "redis-stream",
        }
    }

    pub fn parse(s: &str) -> Option<QueueSystem> {
        QueueSystem::ALL.into_iter().find(|q| q.name() == s)
    }

    /// `[cluster] system` and `mode`.
    fn cluster(self) -> (System, Option<RedisMode>) {
        match self {
            QueueSystem::Kafka | QueueSystem::KafkaShare => (System::Kafka, None),
            QueueSystem::Rabbitmq => (System::Rabbitmq, None),
            QueueSystem::Sqs | QueueSystem::SqsFifo => (System::Sqs, None),
            QueueSystem::RedisList => (System::Redis, Some(RedisMode::List)),
            QueueSystem::RedisReliableList => (System::Redis, Some(RedisMode::ReliableList)),
            QueueSystem::RedisStream => (System::Redis, Some(RedisMode::Stream)),
        }
    }

    fn is_kafka(self) -> bool {
        self.cluster().0 == System::Kafka
    }

    fn names() -> String {
        let names: Vec<&str> = QueueSystem::ALL.iter().map(|q| q.name()).collect();
        names.join(", ")
    }
}

/// `kafka,rabbitmq,sqs` → the systems, in the order given. An unknown name or one given
/// twice is an error that lists the valid names.
pub fn parse_systems(list: &str) -> Result<Vec<QueueSystem>, String> {
    let expected = || {
        format!(
            "\n  = expected a comma-separated list of {}",
            QueueSystem::names()
        )
    };
    let mut out: Vec<QueueSystem> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(q) = QueueSystem::parse(item) else {
            return Err(format!(
                "error: --systems: no queue system `{item}`{}",
                expected()
            ));
        };
        if out.contains(&q) {
            return Err(format!(
                "error: --systems: `{item}` is given twice{}",
                expected()
            ));
        }
        out.push(q);
    }
    if out.is_empty() {
        return Err(format!("error: --systems: no system given{}", expected()));
    }
    Ok(out)
}

/// The scenario on one system, with what the mapping could not carry over.
#[derive(Clone, Debug)]
pub struct SystemScenario {
    pub system: QueueSystem,
    pub scenario: Scenario,
    pub notes: Vec<String>,
}

/// The brokers' bounds on `share.delivery.count.limit`.
const SHARE_DELIVERY_COUNT_BOUNDS: (u32, u32) = (2, 10);

/// `sc` on `system` (see the module's table). Drops `[expect]` and `[compare]` (written for the
/// original settings); the result is not validated ([`system_variants`] does that).
pub fn map(sc: &Scenario, system: QueueSystem) -> SystemScenario {
    let mut v = sc.clone();
    let mut notes = Vec::new();
    v.expect = None;
    v.compare = None;
    let (cluster_system, mode) = system.cluster();
    v.cluster.system = cluster_system;
    v.cluster.mode = mode;
    let kafka = system.is_kafka();
    if !kafka {
        // Kafka's own replication features; each system's confirm and failover rule applies.
        v.cluster.eligible_leader_replicas = None;
        v.cluster.replica_recovery = None;
        v.cluster.transaction_version = None;
        v.cluster.transaction_partition_verification_enable = None;
    }

    for t in &mut v.topics {
        t.fifo = system == QueueSystem::SqsFifo;
        if kafka {
            continue;
        }
        if t.partitions > 1 {
            notes.push(format!(
                "{}: one queue instead of {} partitions",
                t.name, t.partitions
            ));
        }
        t.partitions = 1;
        if let Some(a) = &mut t.assignment {
            a.truncate(1);
        }
        t.unclean_leader_election = None;
        // `min.insync.replicas` is Kafka's; each system's own confirm rule replaces it.
        t.min_insync_replicas = 1;
    }

    for p in &mut v.producers {
        p.acks = acks_intent(sc.cluster.system, p);
        p.confirms = None;
        if kafka {
            continue;
        }
        match system {
            QueueSystem::Rabbitmq => {
                p.confirms = Some(p.acks != Acks::None);
                p.acks = Acks::default();
            }
            QueueSystem::Sqs | QueueSystem::SqsFifo => {
                if p.acks != Acks::All {
                    notes.push(format!(
                        "{}: acks={} not kept: SendMessage returns once the message is stored",
                        p.name,
                        p.acks.name()
                    ));
                }
                p.acks = Acks::default();
            }
            _ => {}
        }
        if p.transactional_id.is_some() {
            notes.push(format!("{}: not transactional (Kafka only)", p.name));
        }
        p.transactional_id = None;
        p.transaction_size = None;
        // No idempotent producer outside Kafka: a retried publish can store a second copy.
        p.enable_idempotence = Some(false);
        p.partitioner = None;
    }

    let from_consumer_group = |g: &scenario::Group| {
        sc.cluster.system == System::Kafka && g.group_type == GroupType::Consumer
    };
    for g in &mut v.groups {
        let was_share = sc.cluster.system == System::Kafka && g.group_type == GroupType::Share;
        let (ack_before, attempts) = group_intent(sc, g);
        let poison =
            !g.fail_keys.is_empty() || g.fail_every.is_some() || g.dead_letter_topic.is_some();
        let dead_letter = g.dead_letter_topic.clone();
        let quorum = v
            .topics
            .iter()
            .find(|t| t.name == g.topic)
            .is_some_and(|t| t.replication_factor > 1);
        let commit = g.commit.name();
        let defaults = default_group();
        // The queue systems' own fields start unset on every system.
        g.ack = None;
        g.prefetch = None;
        g.requeue = None;
        g.batch_size = None;
        g.visibility_timeout_ms = None;
        g.max_receive_count = None;
        g.delivery_limit = None;
        g.min_idle_ms = None;
        g.max_deliveries = None;
        if system == QueueSystem::Kafka {
            if was_share {
                notes.push(format!("{}: a consumer group, not a share group", g.name));
            }
            if !from_consumer_group(g) {
                g.commit = if ack_before {
                    CommitMode::BeforeProcess
                } else {
                    CommitMode::AfterProcess
                };
                if poison {
                    g.max_attempts = attempts;
                }
            }
            g.group_type = GroupType::Consumer;
            g.record_lock_duration_ms = None;
            g.delivery_count_limit = None;
            g.partition_max_record_locks = None;
            continue;
        }
        // What a share group or a queue's consumers do not have: the consumer-group protocol,
        // offsets, transactions.
        if g.output_topic.is_some() {
            notes.push(format!(
                "{}: no output topic (read-process-write needs Kafka's transactions)",
                g.name
            ));
        }
        g.assignor = defaults.assignor;
        g.group_protocol = defaults.group_protocol;
        g.group_remote_assignor = defaults.group_remote_assignor;
        g.commit = defaults.commit;
        g.isolation_level = defaults.isolation_level;
        g.static_membership = defaults.static_membership;
        g.output_topic = None;
        g.auto_commit_interval_ms = defaults.auto_commit_interval_ms;
        g.max_attempts = defaults.max_attempts;
        if system == QueueSystem::KafkaShare {
            // Validation refuses these on a share group: the brokers' share settings apply.
            g.session_timeout_ms = defaults.session_timeout_ms;
            g.heartbeat_interval_ms = defaults.heartbeat_interval_ms;
            g.max_poll_interval_ms = defaults.max_poll_interval_ms;
            g.dead_letter_topic = None;
            g.group_type = GroupType::Share;
            if poison {
                let (lo, hi) = SHARE_DELIVERY_COUNT_BOUNDS;
                let limit = attempts.clamp(lo, hi);
                if limit != attempts {
                    notes.push(format!(
                        "{}: delivery_count_limit {limit} (the brokers allow {lo} to {hi}), not {attempts}",
                        g.name
                    ));
                }
                g.delivery_count_limit = Some(limit);
            }
            if let Some(d) = dead_letter {
                notes.push(format!(
                    "{}: no dead-letter topic {d}: a record at the delivery count limit is archived",
                    g.name
                ));
            }
            continue;
        }
        // A queue: the share settings go, and where a consumer starts is the queue's head.
        g.group_type = GroupType::Consumer;
        g.record_lock_duration_ms = None;
        g.delivery_count_limit = None;
        g.partition_max_record_locks = None;
        g.auto_offset_reset = defaults.auto_offset_reset;
        match system {
            QueueSystem::Rabbitmq => {
                g.ack = Some(if ack_before {
                    AckMode::Auto
                } else {
                    AckMode::Manual
                });
                if poison && quorum {
                    // The limit counts redeliveries: `attempts` deliveries are the first and
                    // `attempts - 1` more (a quorum queue allows at least one).
                    g.delivery_limit = Some(attempts.saturating_sub(1).max(1));
                } else if poison {
                    notes.push(format!(
                        "{}: a classic queue has no delivery limit: a failing message is requeued again and again",
                        g.name
                    ));
                }
            }
            QueueSystem::Sqs | QueueSystem::SqsFifo => {
                if ack_before {
                    notes.push(format!(
                        "{}: deletes each message after processing (commit {commit} not kept)",
                        g.name
                    ));
                }
                if dead_letter.is_some() {
                    g.max_receive_count = Some(attempts);
                }
            }
            QueueSystem::RedisStream if poison && dead_letter.is_some() => {
                g.max_deliveries = Some(attempts);
            }
            _ => {}
        }
        let keeps_dead_letter = matches!(
            system,
            QueueSystem::Rabbitmq
                | QueueSystem::Sqs
                | QueueSystem::SqsFifo
                | QueueSystem::RedisStream
        );
        if !keeps_dead_letter && let Some(d) = g.dead_letter_topic.take() {
            notes.push(format!(
                "{}: no dead-letter topic {d} (a Redis list has no delivery count)",
                g.name
            ));
        }
    }

    if !kafka {
        let before = v.faults.len();
        v.faults.retain(|f| {
            !matches!(
                f.action,
                FaultAction::Zombie | FaultAction::ElectPreferred | FaultAction::AddPartitions
            )
        });
        let dropped = before - v.faults.len();
        if dropped > 0 {
            notes.push(format!(
                "{dropped} Kafka-only fault{} dropped (zombie, elect-preferred, add-partitions)",
                if dropped == 1 { "" } else { "s" }
            ));
        }
        for f in &mut v.faults {
            if let Some(Ok(Target::Leader { topic, partition })) =
                f.target.as_deref().map(Target::parse)
                && partition > 0
            {
                notes.push(format!(
                    "a fault on leader:{topic}/{partition} hits the queue's leader"
                ));
                f.target = Some(format!("leader:{topic}/0"));
            }
        }
    }

    // Notes and quiz questions narrate the scenario's own system and group kinds.
    let same_kind = v.cluster.system == sc.cluster.system
        && v.cluster.mode == sc.cluster.mode
        && v.groups
            .iter()
            .zip(&sc.groups)
            .all(|(a, b)| a.group_type == b.group_type);
    if !same_kind {
        v.notes.clear();
        v.quiz.clear();
    } else {
        super::drop_notes_of_missing_transactions(&mut v);
    }
    SystemScenario {
        system,
        scenario: v,
        notes,
    }
}

/// A group with every field at its default (what a `[[groups]]` table without them gets).
fn default_group() -> scenario::Group {
    serde_json::from_value(serde_json::json!({"name": "", "topic": ""}))
        .expect("a group needs only its name and topic")
}

/// A producer's `acks` in Kafka's terms, whatever system the scenario was written for.
fn acks_intent(system: System, p: &scenario::Producer) -> Acks {
    match system {
        System::Rabbitmq if p.confirms.unwrap_or(false) => Acks::All,
        System::Rabbitmq => Acks::None,
        System::Sqs => Acks::All,
        System::Kafka | System::Redis => p.acks,
    }
}

/// What a group of `sc` means, whatever system the scenario was written for: whether it
/// acknowledges before processing (at most once), and how many deliveries a failing message
/// gets.
fn group_intent(sc: &Scenario, g: &scenario::Group) -> (bool, u32) {
    let limit = |l: Option<u32>| l.unwrap_or(g.max_attempts);
    match sc.cluster.system {
        System::Kafka if g.group_type == GroupType::Share => (
            false,
            g.delivery_count_limit
                .unwrap_or(core::ShareConfig::default().delivery_count_limit),
        ),
        System::Kafka => (
            matches!(g.commit, CommitMode::Auto | CommitMode::BeforeProcess),
            g.max_attempts,
        ),
        System::Rabbitmq => (
            g.ack == Some(AckMode::Auto),
            g.delivery_limit
                .map_or(g.max_attempts, |n| n.saturating_add(1)),
        ),
        System::Sqs => (false, limit(g.max_receive_count)),
        // BRPOP takes the message off the list before the application processes it.
        System::Redis => (
            sc.cluster.mode.unwrap_or_default() == RedisMode::List,
            limit(g.max_deliveries),
        ),
    }
}

// ----- settings ------------------------------------------------------------------------------

/// `30 s`, `1500 ms`.
fn duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One phrase per item; a single phrase when every item has the same, else each prefixed with
/// its name.
fn phrases(items: Vec<(&str, String)>) -> Option<String> {
    let first = items.first()?.1.clone();
    if items.iter().all(|(_, p)| *p == first) {
        return (!first.is_empty()).then_some(first);
    }
    let named: Vec<String> = items
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(n, p)| format!("{n}: {p}"))
        .collect();
    Some(named.join("; "))
}

/// What `sc` (mapped to `q`) runs with, in the system's own words: its queues, its producers'
/// confirmation and its consumers' acknowledgement, limits and dead-letter target, with each
/// system's defaults filled in (as `lower` fills them).
pub fn settings_line(q: QueueSystem, sc: &Scenario) -> String {
    let system = scenario::lower::system_of(&sc.cluster);
    let topics = sc
        .topics
        .iter()
        .map(|t| {
            let rf = t.replication_factor;
            let phrase = match q {
                QueueSystem::Kafka | QueueSystem::KafkaShare => format!(
                    "{} × {}",
                    plural(t.partitions, "partition", "partitions"),
                    plural(rf, "replica", "replicas")
                ),
                QueueSystem::Rabbitmq if rf == 1 => "classic queue".to_string(),
                QueueSystem::Rabbitmq => format!("quorum queue ({rf} members)"),
                QueueSystem::Sqs => "standard queue".to_string(),
                QueueSystem::SqsFifo => "FIFO queue".to_string(),
                QueueSystem::RedisList
                | QueueSystem::RedisReliableList
                | QueueSystem::RedisStream => {
                    let kind = if q == QueueSystem::RedisStream {
                        "stream"
                    } else {
                        "list"
                    };
                    match rf {
                        1 => format!("{kind} on one server"),
                        _ => format!(
                            "{kind} on a primary + {}",
                            plural(rf - 1, "replica", "replicas")
                        ),
                    }
                }
            };
            (t.name.as_str(), phrase)
        })
        .collect();
    let producers = sc
        .producers
        .iter()
        .map(|p| {
            let acks = scenario::lower::producer_acks(system, p);
            let phrase = match q {
                QueueSystem::Kafka | QueueSystem::KafkaShare => {
                    let mut s = format!("acks={}", p.acks.name());
                    if p.idempotent() {
                        s.push_str(" idempotent");
                    }
                    if p.transactional_id.is_some() {
                        s.push_str(" transactional");
                    }
                    s
                }
                QueueSystem::Rabbitmq if acks == core::Acks::None => "confirms off".to_string(),
                QueueSystem::Rabbitmq => "confirms on".to_string(),
                QueueSystem::Sqs | QueueSystem::SqsFifo => String::new(),
                _ if acks == core::Acks::All => "WAIT for every replica".to_string(),
                _ => "no WAIT".to_string(),
            };
            (p.name.as_str(), phrase)
        })
        .collect();
    let groups = sc
        .groups
        .iter()
        .map(|g| {
            let c = scenario::lower::queue_consumer(system, sc, g);
            let dead_letter = |s: &mut String| {
                if let Some(d) = &g.dead_letter_topic {
                    let _ = write!(s, " → {d}");
                }
            };
            let mut s = String::new();
            match q {
                QueueSystem::Kafka => {
                    let _ = write!(s, "commit {}", g.commit.name());
                    if g.dead_letter_topic.is_some() {
                        let _ = write!(s, ", dead-letter after {} attempts", g.max_attempts);
                        dead_letter(&mut s);
                    }
                }
                QueueSystem::KafkaShare => {
                    let d = core::ShareConfig::default();
                    let _ = write!(
                        s,
                        "share group, lock {}, delivery count limit {}",
                        duration(
                            g.record_lock_duration_ms
                                .unwrap_or(d.record_lock_duration_ms)
                        ),
                        g.delivery_count_limit.unwrap_or(d.delivery_count_limit)
                    );
                }
                QueueSystem::Rabbitmq => {
                    let _ = write!(
                        s,
                        "{} ack, prefetch {}, {}",
                        match c.ack {
                            core::AckMode::Auto => "auto",
                            core::AckMode::Manual => "manual",
                        },
                        match c.prefetch {
                            0 => "unlimited".to_string(),
                            n => n.to_string(),
                        },
                        if c.requeue {
                            "nack requeues"
                        } else {
                            "nack drops"
                        }
                    );
                    if let Some(n) = c.delivery_limit {
                        let _ = write!(s, ", delivery-limit {n}");
                    }
                    if g.dead_letter_topic.is_some() {
                        s.push_str(", dead-letter exchange");
                        dead_letter(&mut s);
                    }
                }
                QueueSystem::Sqs | QueueSystem::SqsFifo => {
                    let _ = write!(
                        s,
                        "batch {}, visibility timeout {}, delete after processing",
                        c.batch_size,
                        duration(c.visibility_timeout_ms)
                    );
                    if let Some(n) = c.max_receive_count {
                        let _ = write!(s, ", maxReceiveCount {n}");
                        dead_letter(&mut s);
                    }
                }
                QueueSystem::RedisList => s.push_str("BRPOP (a popped message is gone)"),
                QueueSystem::RedisReliableList => {
                    let _ = write!(
                        s,
                        "LMOVE to a processing list, reaper after {}",
                        duration(c.visibility_timeout_ms)
                    );
                }
                QueueSystem::RedisStream => {
                    let _ = write!(
                        s,
                        "XREADGROUP + XACK, XAUTOCLAIM after {}",
                        duration(c.min_idle_ms)
                    );
                    if let Some(n) = c.max_deliveries {
                        let _ = write!(s, ", dead-letter after {n} deliveries");
                        dead_letter(&mut s);
                    }
                }
            }
            (g.name.as_str(), s)
        })
        .collect();
    [phrases(topics), phrases(producers), phrases(groups)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
}

// ----- runs and the report -------------------------------------------------------------------

/// The scenario on one system, validated, or why it does not run there.
#[derive(Clone, Debug)]
pub struct SystemVariant {
    pub system: QueueSystem,
    pub settings: String,
    pub notes: Vec<String>,
    pub scenario: Result<Scenario, String>,
}

/// `sc` mapped to each of `systems`, each validated like a scenario file.
pub fn system_variants(label: &str, sc: &Scenario, systems: &[QueueSystem]) -> Vec<SystemVariant> {
    systems
        .iter()
        .map(|&system| {
            let m = map(sc, system);
            let scenario = match scenario::validate(label, "", &m.scenario) {
                Ok(()) => Ok(m.scenario.clone()),
                Err(e) => Err(e.message().to_string()),
            };
            SystemVariant {
                system,
                settings: settings_line(system, &m.scenario),
                notes: m.notes,
                scenario,
            }
        })
        .collect()
}

/// `compare --systems --json`: per system, keyed by its name in the order asked.
#[derive(Clone, Debug, Serialize)]
pub struct SystemsReport {
    pub scenario: String,
    pub title: String,
    pub seed: u64,
    #[serde(serialize_with = "super::ordered_map")]
    pub systems: Vec<(String, SystemColumn)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SystemColumn {
    /// What the system ran with, in its own words.
    pub settings: String,
    /// What the mapping could not carry over from the scenario.
    pub notes: Vec<String>,
    /// Why the scenario does not run on this system (then there is no `report`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The run, as `brokerlab run --json` reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

impl SystemsReport {
    /// Whether at least one system ran.
    pub fn any_ran(&self) -> bool {
        self.systems.iter().any(|(_, c)| c.report.is_some())
    }
}

/// Runs `sc` on each of `systems` with `seed`.
pub fn compare_systems(
    label: &str,
    sc: &Scenario,
    systems: &[QueueSystem],
    seed: u64,
) -> SystemsReport {
    let columns = system_variants(label, sc, systems)
        .into_iter()
        .map(|v| {
            let (refused, report) = match &v.scenario {
                Ok(s) => (
                    None,
                    Some(crate::report::run_headless(label, s, seed, |_, _| {})),
                ),
                Err(e) => (Some(e.clone()), None),
            };
            (
                v.system.name().to_string(),
                SystemColumn {
                    settings: v.settings,
                    notes: v.notes,
                    refused,
                    report,
                },
            )
        })
        .collect();
    SystemsReport {
        scenario: label.to_string(),
        title: sc.scenario.title.clone(),
        seed,
        systems: columns,
    }
}

/// A row of the text table: its label and the count it shows.
type CountRow = (&'static str, fn(&Report) -> u64);

/// The text report: each system's settings, then the outcome table, one column per system.
pub fn text(r: &SystemsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Compare queue systems: {}", r.title);
    let _ = writeln!(
        s,
        "{}, seed {}: the same workload, faults and seed on each system",
        r.scenario, r.seed
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Settings");
    let name_w = r
        .systems
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    for (name, c) in &r.systems {
        let _ = writeln!(s, "  {name:<name_w$}  {}", c.settings);
        for n in &c.notes {
            let _ = writeln!(s, "  {:<name_w$}  note: {n}", "");
        }
        if let Some(why) = &c.refused {
            let _ = writeln!(s, "  {:<name_w$}  does not run: {why}", "");
        }
    }

    let col = name_w.max(super::COL);
    let label_w = "send→apply p99".chars().count() + 2;
    let line = |label: &str, cells: Vec<String>| {
        let mut l = format!("  {label:<label_w$}");
        for c in cells {
            let _ = write!(l, "  {c:<col$}");
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{}",
        line("", r.systems.iter().map(|(n, _)| n.clone()).collect())
    );
    let outcomes: Vec<Option<&Report>> = r.systems.iter().map(|(_, c)| c.report.as_ref()).collect();
    let mut row = |label: &str, f: &dyn Fn(&Report) -> String| {
        let cells = outcomes
            .iter()
            .map(|o| match o {
                Some(rep) => f(rep),
                None if label == "sent" => "does not run".to_string(),
                None => "-".to_string(),
            })
            .collect();
        let _ = writeln!(s, "{}", line(label, cells));
    };
    let any = |f: &dyn Fn(&Report) -> u64| outcomes.iter().flatten().any(|o| f(o) > 0);
    row("sent", &|o| o.outcome.sent.to_string());
    row("acked", &|o| o.outcome.acked.to_string());
    row("applied", &|o| o.outcome.applied.to_string());
    row("lost", &|o| o.outcome.lost.to_string());
    let kinds: [CountRow; 3] = [
        ("  truncated", |o| o.outcome.lost_by_kind.truncated),
        ("  never written", |o| o.outcome.lost_by_kind.never_written),
        ("  skipped", |o| o.outcome.lost_by_kind.skipped),
    ];
    for (label, f) in kinds {
        if any(&f) {
            row(label, &|o| f(o).to_string());
        }
    }
    row("duplicated", &|o| o.outcome.duplicated.to_string());
    row("redelivered", &|o| o.outcome.redelivered.to_string());
    row("reordered", &|o| o.outcome.reordered.to_string());
    row("dead-lettered", &|o| o.outcome.dead_lettered.to_string());
    row("unseen", &|o| o.outcome.unseen.to_string());
    row("verdict", &|o| o.outcome.verdict.name().to_string());
    row("send→apply p99", &|o| {
        super::worst(o.metrics.groups.values().map(|g| g.end_to_end.p99_ms))
    });
    s
}
