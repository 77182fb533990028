//! Kafka version profiles: `[cluster] kafka_version = "0.10" | "2.8" | "3.9" | "4.0" | "4.2"`.
//!
//! A profile is the defaults of one Kafka release. A scenario's settings are resolved once, when
//! it is parsed ([`super::parse`]): the file is read, the settings it writes are noted in
//! [`Explicit`], and every setting of [`DEFAULTS`] it does not write is filled from the profile.
//! The rest of the program sees concrete values. An explicit setting always wins; a setting the
//! release did not have ([`INTRODUCED`]) is refused with a located error naming the release
//! that introduced it.
//!
//! Both tables are data, one row per setting, each with its source (a KIP or the upgrade notes of
//! `docs/upgrade.html` in apache/kafka, checked against `ProducerConfig`/`ConsumerConfig` of
//! each release's tag). The README's "Kafka version profiles" table shows the same rows.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::doc::{Doc, Seg};
use super::model::{
    Acks, Assignor, Cluster, CommitMode, Group, GroupProtocol, IsolationLevel, Partitioner,
    Producer, ReplicaRecovery, Scenario, System,
};

/// The Kafka release whose defaults a scenario uses. Ordered oldest first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize,
)]
pub enum KafkaVersion {
    /// 0.10.2: before idempotence and transactions (KIP-98, 0.11).
    #[serde(rename = "0.10")]
    V0_10,
    /// 2.8: the last release with the 2.x client defaults (`acks=1`, no idempotence).
    #[serde(rename = "2.8")]
    V2_8,
    /// 3.9: the 3.x defaults (KIP-679's `acks=all` and idempotence, KIP-735's 45 s session).
    #[serde(rename = "3.9")]
    V3_9,
    /// 4.0: `linger.ms = 5` (KIP-1030).
    #[serde(rename = "4.0")]
    V4_0,
    /// 4.2, the newest: the default.
    #[default]
    #[serde(rename = "4.2")]
    V4_2,
}

impl KafkaVersion {
    pub const ALL: [KafkaVersion; 5] = [
        KafkaVersion::V0_10,
        KafkaVersion::V2_8,
        KafkaVersion::V3_9,
        KafkaVersion::V4_0,
        KafkaVersion::V4_2,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KafkaVersion::V0_10 => "0.10",
            KafkaVersion::V2_8 => "2.8",
            KafkaVersion::V3_9 => "3.9",
            KafkaVersion::V4_0 => "4.0",
            KafkaVersion::V4_2 => "4.2",
        }
    }

    pub fn release(self) -> Release {
        match self {
            KafkaVersion::V0_10 => Release(0, 10),
            KafkaVersion::V2_8 => Release(2, 8),
            KafkaVersion::V3_9 => Release(3, 9),
            KafkaVersion::V4_0 => Release(4, 0),
            KafkaVersion::V4_2 => Release(4, 2),
        }
    }

    /// `"2.8"` → 2.8; `None` for a release that has no profile.
    pub fn parse(s: &str) -> Option<KafkaVersion> {
        KafkaVersion::ALL.into_iter().find(|v| v.name() == s.trim())
    }

    /// Whether this is the newest profile, the default.
    pub fn is_newest(&self) -> bool {
        *self == KafkaVersion::default()
    }

    /// The profile names, `0.10, 2.8, 3.9, 4.0, 4.2`.
    pub fn names() -> String {
        KafkaVersion::ALL.map(|v| v.name()).join(", ")
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Kafka release, major.minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release(pub u8, pub u8);

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Which table a setting lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Cluster,
    Producer,
    Group,
}

impl Scope {
    fn table(self) -> &'static str {
        match self {
            Scope::Cluster => "cluster",
            Scope::Producer => "producers",
            Scope::Group => "groups",
        }
    }
}

/// The profile-controlled settings a scenario file wrote: (table, index in its array, field).
/// Filled by [`super::parse`]; a scenario built in code has none, and keeps its values unless
/// [`resolve`] is asked for another version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explicit(BTreeSet<(Scope, usize, &'static str)>);

impl Explicit {
    pub fn has(&self, scope: Scope, i: usize, field: &str) -> bool {
        self.0
            .iter()
            .any(|&(s, n, f)| s == scope && n == i && f == field)
    }

    /// Notes the profile-controlled settings `doc` writes.
    pub(crate) fn from_doc(doc: &Doc<'_>, sc: &Scenario) -> Explicit {
        let mut set = BTreeSet::new();
        let fields = DEFAULTS
            .iter()
            .map(|d| (d.scope, d.field))
            .chain(INTRODUCED.iter().map(|g| (g.scope, g.field)));
        for (scope, field) in fields {
            let n = match scope {
                Scope::Cluster => 1,
                Scope::Producer => sc.producers.len(),
                Scope::Group => sc.groups.len(),
            };
            for i in 0..n {
                if doc.has(&segs(scope, i, field)) {
                    set.insert((scope, i, field));
                }
            }
        }
        Explicit(set)
    }
}

/// A profile's value for a setting: a constant, or a rule of that release that depends on the
/// producer's other settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    Bool(bool),
    Ms(u64),
    Count(u32),
    Acks(Acks),
    /// `enable.idempotence` unset: Kafka 3.x's rule, on unless acks, retries or max.in.flight
    /// conflict ([`Producer::idempotent`]).
    IdempotenceUnlessConflict,
    /// Before 3.0, `enable.idempotence` was false unless `transactional.id` was set
    /// (2.8's `ProducerConfig.maybeOverrideEnableIdempotence`).
    IdempotenceIfTransactional,
    /// Before 3.0, `acks` was `1` unless the producer was idempotent, then `all`
    /// (2.8's `ProducerConfig.maybeOverrideAcksAndRetries`).
    AcksAllIfIdempotent,
    /// Before 2.1 there was no `delivery.timeout.ms`: a record was given up after its last
    /// retry, so the bound is `linger.ms + (retries + 1) × request.timeout.ms`.
    NoDeliveryTimeout,
    /// Before 3.7 (KIP-580) retries backed off by a constant `retry.backoff.ms`.
    ConstantBackoff,
    /// Before 0.11 (KIP-101) a restarting follower truncated to its high watermark.
    HighWatermarkRecovery,
    /// Where keyless records go.
    Partitioner(Partitioner),
    /// Unset: the model's own default for the field (`lower.rs`).
    Unset,
}

/// One default that changed between releases.
pub struct Default_ {
    pub scope: Scope,
    /// The TOML field.
    pub field: &'static str,
    /// Kafka's config name.
    pub kafka: &'static str,
    /// The value from each release on, oldest first (the first from 0.0).
    pub steps: &'static [(Release, Rule)],
    /// Where the change is documented.
    pub source: &'static str,
}

const R0: Release = Release(0, 0);

/// Every default a profile sets, in the order they are resolved (a rule may read a setting
/// resolved above it).
pub static DEFAULTS: &[Default_] = &[
    Default_ {
        scope: Scope::Cluster,
        field: "unclean_leader_election",
        kafka: "unclean.leader.election.enable",
        steps: &[(R0, Rule::Bool(true)), (Release(0, 11), Rule::Bool(false))],
        source: "0.11.0 upgrade notes (KIP-106): unclean leader election disabled by default",
    },
    Default_ {
        scope: Scope::Cluster,
        field: "replica_lag_time_max_ms",
        kafka: "replica.lag.time.max.ms",
        steps: &[(R0, Rule::Ms(10_000)), (Release(2, 5), Rule::Ms(30_000))],
        source: "2.5.0 upgrade notes (KIP-537): 10 s → 30 s",
    },
    Default_ {
        scope: Scope::Cluster,
        field: "group_initial_rebalance_delay_ms",
        kafka: "group.initial.rebalance.delay.ms",
        steps: &[(R0, Rule::Ms(0)), (Release(0, 11), Rule::Ms(3_000))],
        source: "0.11.0 upgrade notes (KIP-134): new, 3 s; before it a group rebalanced at once",
    },
    Default_ {
        scope: Scope::Cluster,
        field: "replica_recovery",
        kafka: "replica recovery",
        steps: &[
            (R0, Rule::HighWatermarkRecovery),
            (Release(0, 11), Rule::Unset),
        ],
        source: "KIP-101 (0.11): leader epochs; before it a follower truncated to its HW",
    },
    Default_ {
        scope: Scope::Cluster,
        field: "eligible_leader_replicas",
        kafka: "eligible.leader.replicas.version",
        steps: &[(R0, Rule::Bool(false)), (Release(4, 1), Rule::Unset)],
        source: "KIP-966: on by default for new clusters from 4.1",
    },
    Default_ {
        scope: Scope::Cluster,
        field: "transaction_partition_verification_enable",
        kafka: "transaction.partition.verification.enable",
        steps: &[(R0, Rule::Bool(false)), (Release(3, 6), Rule::Unset)],
        source: "KIP-890 part 1 (3.6): new, true; before it a leader appended without asking",
    },
    Default_ {
        scope: Scope::Cluster,
        field: "transaction_version",
        kafka: "transaction.version",
        steps: &[(R0, Rule::Count(1)), (Release(4, 0), Rule::Unset)],
        source: "KIP-890 part 2 / 4.0 docs (Transaction Protocol): Transactions V2 on from 4.0",
    },
    Default_ {
        scope: Scope::Producer,
        field: "retries",
        kafka: "retries",
        steps: &[
            (R0, Rule::Count(0)),
            (Release(2, 1), Rule::Count(i32::MAX as u32)),
        ],
        source: "2.1.0 upgrade notes (KIP-91): 0 → 2147483647, bounded by delivery.timeout.ms",
    },
    Default_ {
        scope: Scope::Producer,
        field: "enable_idempotence",
        kafka: "enable.idempotence",
        steps: &[
            (R0, Rule::Bool(false)),
            (Release(0, 11), Rule::IdempotenceIfTransactional),
            (Release(3, 0), Rule::IdempotenceUnlessConflict),
        ],
        source: "3.0.0 upgrade notes (KIP-679): on by default; before, only with transactional.id",
    },
    Default_ {
        scope: Scope::Producer,
        field: "acks",
        kafka: "acks",
        steps: &[
            (R0, Rule::AcksAllIfIdempotent),
            (Release(3, 0), Rule::Acks(Acks::All)),
        ],
        source: "3.0.0 upgrade notes (KIP-679): 1 → all (all before it only when idempotent)",
    },
    Default_ {
        scope: Scope::Producer,
        field: "linger_ms",
        kafka: "linger.ms",
        steps: &[(R0, Rule::Ms(0)), (Release(4, 0), Rule::Ms(5))],
        source: "4.0.0 upgrade notes (KIP-1030): 0 → 5 ms",
    },
    Default_ {
        scope: Scope::Producer,
        field: "delivery_timeout_ms",
        kafka: "delivery.timeout.ms",
        steps: &[
            (R0, Rule::NoDeliveryTimeout),
            (Release(2, 1), Rule::Ms(120_000)),
        ],
        source: "KIP-91 (2.1): new, 120 s; before it the retries were the only bound",
    },
    Default_ {
        scope: Scope::Producer,
        field: "retry_backoff_max_ms",
        kafka: "retry.backoff.max.ms",
        steps: &[
            (R0, Rule::ConstantBackoff),
            (Release(3, 7), Rule::Ms(1_000)),
        ],
        source: "KIP-580 (3.7): exponential backoff up to 1 s; before it a constant retry.backoff.ms",
    },
    Default_ {
        scope: Scope::Producer,
        field: "partitioner",
        kafka: "partitioner (keyless records)",
        steps: &[
            (R0, Rule::Partitioner(Partitioner::RoundRobin)),
            (Release(2, 4), Rule::Partitioner(Partitioner::Sticky)),
            (Release(3, 3), Rule::Partitioner(Partitioner::UniformSticky)),
        ],
        source: "KIP-480 (2.4): sticky partitioner; KIP-794 (3.3): uniform sticky partitioner",
    },
    Default_ {
        scope: Scope::Group,
        field: "session_timeout_ms",
        kafka: "session.timeout.ms",
        steps: &[(R0, Rule::Ms(10_000)), (Release(3, 0), Rule::Ms(45_000))],
        source: "3.0.0 upgrade notes (KIP-735): 10 s → 45 s",
    },
    Default_ {
        scope: Scope::Group,
        field: "request_timeout_ms",
        kafka: "request.timeout.ms",
        steps: &[(R0, Rule::Ms(305_000)), (Release(2, 0), Rule::Ms(30_000))],
        source: "2.0.0 upgrade notes (KIP-266): the consumer's 305 s → 30 s",
    },
];

/// A setting (or one value of it) a release did not have.
pub struct Introduced {
    pub scope: Scope,
    pub field: &'static str,
    pub kafka: &'static str,
    /// What the scenario uses, e.g. `enable.idempotence = true`.
    pub what: &'static str,
    pub since: Release,
    pub source: &'static str,
    /// Whether an entity uses it: its value differs from what the older release did (so a
    /// saved session, which writes every value, still loads).
    pub uses: Uses,
}

pub enum Uses {
    Producer(fn(&Producer) -> bool),
    Group(fn(&Group) -> bool),
    Cluster(fn(&Cluster) -> bool),
}

/// Settings a release did not have, oldest first.
pub static INTRODUCED: &[Introduced] = &[
    Introduced {
        scope: Scope::Producer,
        field: "enable_idempotence",
        kafka: "enable.idempotence",
        what: "`enable_idempotence = true` (the idempotent producer)",
        since: Release(0, 11),
        source: "KIP-98",
        uses: Uses::Producer(|p| p.enable_idempotence == Some(true)),
    },
    Introduced {
        scope: Scope::Producer,
        field: "transactional_id",
        kafka: "transactional.id",
        what: "`transactional_id` (transactions)",
        since: Release(0, 11),
        source: "KIP-98",
        uses: Uses::Producer(|p| p.transactional_id.is_some()),
    },
    Introduced {
        scope: Scope::Producer,
        field: "transaction_timeout_ms",
        kafka: "transaction.timeout.ms",
        what: "`transaction_timeout_ms` (transactions)",
        since: Release(0, 11),
        source: "KIP-98",
        uses: Uses::Producer(|p| p.transaction_timeout_ms != 60_000),
    },
    Introduced {
        scope: Scope::Group,
        field: "isolation_level",
        kafka: "isolation.level",
        what: "`isolation_level = \"read_committed\"`",
        since: Release(0, 11),
        source: "KIP-98",
        uses: Uses::Group(|g| g.isolation_level == IsolationLevel::ReadCommitted),
    },
    Introduced {
        scope: Scope::Group,
        field: "commit",
        kafka: "sendOffsetsToTransaction",
        what: "`commit = \"transactional\"` (offsets committed in a transaction)",
        since: Release(0, 11),
        source: "KIP-98",
        uses: Uses::Group(|g| g.commit == CommitMode::Transactional),
    },
    Introduced {
        scope: Scope::Cluster,
        field: "group_initial_rebalance_delay_ms",
        kafka: "group.initial.rebalance.delay.ms",
        what: "`group_initial_rebalance_delay_ms` above 0",
        since: Release(0, 11),
        source: "KIP-134",
        uses: Uses::Cluster(|c| c.group_initial_rebalance_delay_ms != 0),
    },
    Introduced {
        scope: Scope::Group,
        field: "assignor",
        kafka: "partition.assignment.strategy",
        what: "`assignor = \"sticky\"` (the StickyAssignor)",
        since: Release(0, 11),
        source: "KIP-54",
        uses: Uses::Group(|g| g.assignor == Assignor::Sticky),
    },
    Introduced {
        scope: Scope::Producer,
        field: "delivery_timeout_ms",
        kafka: "delivery.timeout.ms",
        what: "`delivery_timeout_ms`",
        since: Release(2, 1),
        source: "KIP-91",
        uses: Uses::Producer(|p| p.delivery_timeout_ms != no_delivery_timeout(p)),
    },
    Introduced {
        scope: Scope::Group,
        field: "static_membership",
        kafka: "group.instance.id",
        what: "`static_membership = true` (`group.instance.id`)",
        since: Release(2, 3),
        source: "KIP-345",
        uses: Uses::Group(|g| g.static_membership),
    },
    Introduced {
        scope: Scope::Group,
        field: "assignor",
        kafka: "partition.assignment.strategy",
        what: "`assignor = \"cooperative-sticky\"` (incremental cooperative rebalancing)",
        since: Release(2, 4),
        source: "KIP-429",
        uses: Uses::Group(|g| g.assignor == Assignor::CooperativeSticky),
    },
    Introduced {
        scope: Scope::Producer,
        field: "retry_backoff_max_ms",
        kafka: "retry.backoff.max.ms",
        what: "`retry_backoff_max_ms` (exponential retry backoff)",
        since: Release(3, 7),
        source: "KIP-580",
        uses: Uses::Producer(|p| p.retry_backoff_max_ms != p.retry_backoff_ms),
    },
    Introduced {
        scope: Scope::Group,
        field: "group_protocol",
        kafka: "group.protocol",
        what: "`group_protocol = \"consumer\"` (the KIP-848 consumer group protocol)",
        since: Release(4, 0),
        source: "KIP-848",
        uses: Uses::Group(|g| g.group_protocol == GroupProtocol::Consumer),
    },
    Introduced {
        scope: Scope::Cluster,
        field: "transaction_partition_verification_enable",
        kafka: "transaction.partition.verification.enable",
        what: "`transaction_partition_verification_enable = true` (KIP-890 part 1)",
        since: Release(3, 6),
        source: "KIP-890",
        uses: Uses::Cluster(|c| c.transaction_partition_verification_enable == Some(true)),
    },
    Introduced {
        scope: Scope::Cluster,
        field: "transaction_version",
        kafka: "transaction.version=2",
        what: "`transaction_version = 2` (Transactions V2)",
        since: Release(4, 0),
        source: "KIP-890",
        uses: Uses::Cluster(|c| c.transaction_version == Some(2)),
    },
];

/// Pre-2.1's effective bound on a record: linger, then one request timeout per attempt.
/// Simplification: Kafka 0.10 also expired a batch waiting in the accumulator after
/// `request.timeout.ms`; the model gives the record the whole budget.
fn no_delivery_timeout(p: &Producer) -> u64 {
    let attempts = u64::from(p.retries).saturating_add(1);
    p.linger_ms
        .saturating_add(p.request_timeout_ms.saturating_mul(attempts))
        .min(i32::MAX as u64)
}

impl Default_ {
    /// The rule of `version`.
    pub fn rule(&self, version: KafkaVersion) -> Rule {
        let r = version.release();
        self.steps
            .iter()
            .rev()
            .find(|(from, _)| *from <= r)
            .map(|&(_, rule)| rule)
            .unwrap_or(self.steps[0].1)
    }
}

fn set_cluster(c: &mut Cluster, field: &str, rule: Rule) {
    match (field, rule) {
        ("unclean_leader_election", Rule::Bool(b)) => c.unclean_leader_election = b,
        ("replica_lag_time_max_ms", Rule::Ms(ms)) => c.replica_lag_time_max_ms = ms,
        ("group_initial_rebalance_delay_ms", Rule::Ms(ms)) => {
            c.group_initial_rebalance_delay_ms = ms
        }
        ("replica_recovery", Rule::HighWatermarkRecovery) => {
            c.replica_recovery = Some(ReplicaRecovery::HighWatermark)
        }
        ("replica_recovery", Rule::Unset) => c.replica_recovery = None,
        ("eligible_leader_replicas", Rule::Bool(b)) => c.eligible_leader_replicas = Some(b),
        ("eligible_leader_replicas", Rule::Unset) => c.eligible_leader_replicas = None,
        ("transaction_partition_verification_enable", Rule::Bool(b)) => {
            c.transaction_partition_verification_enable = Some(b)
        }
        ("transaction_partition_verification_enable", Rule::Unset) => {
            c.transaction_partition_verification_enable = None
        }
        ("transaction_version", Rule::Count(n)) => c.transaction_version = Some(n as u8),
        ("transaction_version", Rule::Unset) => c.transaction_version = None,
        _ => unreachable!("profile row cluster.{field} = {rule:?} has no setter"),
    }
}

fn set_producer(p: &mut Producer, field: &str, rule: Rule) {
    match (field, rule) {
        ("retries", Rule::Count(n)) => p.retries = n,
        ("enable_idempotence", Rule::Bool(b)) => p.enable_idempotence = Some(b),
        ("enable_idempotence", Rule::IdempotenceUnlessConflict) => p.enable_idempotence = None,
        ("enable_idempotence", Rule::IdempotenceIfTransactional) => {
            p.enable_idempotence = Some(p.transactional_id.is_some())
        }
        ("acks", Rule::Acks(a)) => p.acks = a,
        ("acks", Rule::AcksAllIfIdempotent) => {
            p.acks = if p.enable_idempotence == Some(true) {
                Acks::All
            } else {
                Acks::Leader
            }
        }
        ("linger_ms", Rule::Ms(ms)) => p.linger_ms = ms,
        ("delivery_timeout_ms", Rule::Ms(ms)) => p.delivery_timeout_ms = ms,
        ("delivery_timeout_ms", Rule::NoDeliveryTimeout) => {
            p.delivery_timeout_ms = no_delivery_timeout(p)
        }
        ("retry_backoff_max_ms", Rule::Ms(ms)) => p.retry_backoff_max_ms = ms,
        ("retry_backoff_max_ms", Rule::ConstantBackoff) => {
            p.retry_backoff_max_ms = p.retry_backoff_ms
        }
        ("partitioner", Rule::Partitioner(x)) => p.partitioner = Some(x),
        _ => unreachable!("profile row producers.{field} = {rule:?} has no setter"),
    }
}

fn set_group(g: &mut Group, field: &str, rule: Rule) {
    match (field, rule) {
        ("session_timeout_ms", Rule::Ms(ms)) => g.session_timeout_ms = ms,
        ("request_timeout_ms", Rule::Ms(ms)) => g.request_timeout_ms = ms,
        _ => unreachable!("profile row groups.{field} = {rule:?} has no setter"),
    }
}

/// The value of a profile-controlled setting, as Kafka would print it (for `enable.idempotence`,
/// the effective value).
fn get(sc: &Scenario, scope: Scope, i: usize, field: &str) -> String {
    match scope {
        Scope::Cluster => {
            let c = &sc.cluster;
            match field {
                "unclean_leader_election" => c.unclean_leader_election.to_string(),
                "replica_lag_time_max_ms" => c.replica_lag_time_max_ms.to_string(),
                "group_initial_rebalance_delay_ms" => {
                    c.group_initial_rebalance_delay_ms.to_string()
                }
                "replica_recovery" => match c
                    .replica_recovery
                    .unwrap_or(super::lower::DEFAULT_REPLICA_RECOVERY)
                {
                    ReplicaRecovery::LeaderEpoch => "leader-epoch".to_string(),
                    ReplicaRecovery::HighWatermark => "high-watermark".to_string(),
                },
                "eligible_leader_replicas" => c
                    .eligible_leader_replicas
                    .unwrap_or(super::lower::DEFAULT_ELIGIBLE_LEADER_REPLICAS)
                    .to_string(),
                "transaction_partition_verification_enable" => c
                    .transaction_partition_verification_enable
                    .unwrap_or(super::lower::DEFAULT_TRANSACTION_PARTITION_VERIFICATION)
                    .to_string(),
                "transaction_version" => c
                    .transaction_version
                    .unwrap_or(super::lower::DEFAULT_TRANSACTION_VERSION)
                    .to_string(),
                _ => unreachable!("profile row cluster.{field} has no getter"),
            }
        }
        Scope::Producer => {
            let p = &sc.producers[i];
            match field {
                "retries" => p.retries.to_string(),
                "enable_idempotence" => p.idempotent().to_string(),
                "acks" => p.acks.name().to_string(),
                "linger_ms" => p.linger_ms.to_string(),
                "delivery_timeout_ms" => p.delivery_timeout_ms.to_string(),
                "retry_backoff_max_ms" => p.retry_backoff_max_ms.to_string(),
                "partitioner" => p.partitioner().name().to_string(),
                _ => unreachable!("profile row producers.{field} has no getter"),
            }
        }
        Scope::Group => {
            let g = &sc.groups[i];
            match field {
                "session_timeout_ms" => g.session_timeout_ms.to_string(),
                "request_timeout_ms" => g.request_timeout_ms.to_string(),
                _ => unreachable!("profile row groups.{field} has no getter"),
            }
        }
    }
}

/// Fills every profile-controlled setting the file did not write with `version`'s default, and
/// records `version` in `cluster.kafka_version`. Explicit settings are kept.
pub fn resolve(sc: &mut Scenario, version: KafkaVersion) {
    sc.cluster.kafka_version = version;
    for d in DEFAULTS {
        let rule = d.rule(version);
        match d.scope {
            Scope::Cluster => {
                if !sc.explicit.has(Scope::Cluster, 0, d.field) {
                    set_cluster(&mut sc.cluster, d.field, rule);
                }
            }
            Scope::Producer => {
                // A Redis client does not wait for replicas unless it sends WAIT: its
                // unwritten `acks` is the primary's reply alone, whatever the Kafka release.
                let rule = if d.field == "acks" && sc.cluster.system == System::Redis {
                    Rule::Acks(Acks::Leader)
                } else {
                    rule
                };
                for (i, p) in sc.producers.iter_mut().enumerate() {
                    if !sc.explicit.has(Scope::Producer, i, d.field) {
                        set_producer(p, d.field, rule);
                    }
                }
            }
            Scope::Group => {
                for (i, g) in sc.groups.iter_mut().enumerate() {
                    if !sc.explicit.has(Scope::Group, i, d.field) {
                        set_group(g, d.field, rule);
                    }
                }
            }
        }
    }
}

/// A setting the scenario's release did not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Where it is: the table, the index in its array, the field.
    pub scope: Scope,
    pub index: usize,
    pub field: &'static str,
    pub message: String,
    pub expected: String,
    pub help: String,
}

impl Refusal {
    /// `producers[0].enable_idempotence`
    pub fn path(&self) -> String {
        match self.scope {
            Scope::Cluster => format!("cluster.{}", self.field),
            s => format!("{}[{}].{}", s.table(), self.index, self.field),
        }
    }

    pub(crate) fn segs(&self) -> Vec<Seg<'static>> {
        segs(self.scope, self.index, self.field)
    }
}

/// The path of a setting in the document: `cluster.FIELD` or `TABLE[i].FIELD`.
fn segs(scope: Scope, i: usize, field: &str) -> Vec<Seg<'_>> {
    match scope {
        Scope::Cluster => vec![Seg::Key("cluster"), Seg::Key(field)],
        s => vec![Seg::Key(s.table()), Seg::Idx(i), Seg::Key(field)],
    }
}

/// Every setting of `sc` its `kafka_version` did not have, in table order.
pub fn refusals(sc: &Scenario) -> Vec<Refusal> {
    let version = sc.cluster.kafka_version;
    let mut out = Vec::new();
    for g in INTRODUCED {
        if version.release() >= g.since {
            continue;
        }
        let hits: Vec<usize> = match &g.uses {
            Uses::Cluster(f) => Vec::from_iter(f(&sc.cluster).then_some(0)),
            Uses::Producer(f) => (0..sc.producers.len())
                .filter(|&i| f(&sc.producers[i]))
                .collect(),
            Uses::Group(f) => (0..sc.groups.len()).filter(|&i| f(&sc.groups[i])).collect(),
        };
        for index in hits {
            out.push(Refusal {
                scope: g.scope,
                index,
                field: g.field,
                message: format!(
                    "{} did not exist in Kafka {version}: `{}` came in Kafka {} ({})",
                    g.what, g.kafka, g.since, g.source
                ),
                expected: format!(
                    "a setting Kafka {version} had, or `kafka_version` {} or later",
                    later_profile(g.since).map_or("(no profile yet)".to_string(), |v| format!(
                        "\"{v}\""
                    ))
                ),
                help: format!(
                    "`kafka_version = \"{version}\"` models that release; remove the setting, or pick a newer profile"
                ),
            });
        }
    }
    out.sort_by_key(|r| (r.scope, r.index));
    out
}

/// The oldest profile that has `release`'s features.
fn later_profile(release: Release) -> Option<KafkaVersion> {
    KafkaVersion::ALL
        .into_iter()
        .find(|v| v.release() >= release)
}

/// One profile-controlled setting of a scenario and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub scope: Scope,
    pub index: usize,
    pub field: &'static str,
    /// `cluster`, the producer's or the group's name.
    pub who: String,
    pub kafka: &'static str,
    /// As Kafka prints it (for `enable.idempotence`, the effective value).
    pub value: String,
}

/// Every profile-controlled setting of `sc` with its value, in [`DEFAULTS`] order.
pub fn settings(sc: &Scenario) -> Vec<Setting> {
    let mut out = Vec::new();
    for d in DEFAULTS {
        let who: Vec<String> = match d.scope {
            Scope::Cluster => vec!["cluster".to_string()],
            Scope::Producer => sc.producers.iter().map(|p| p.name.clone()).collect(),
            Scope::Group => sc.groups.iter().map(|g| g.name.clone()).collect(),
        };
        for (index, who) in who.into_iter().enumerate() {
            out.push(Setting {
                scope: d.scope,
                index,
                field: d.field,
                who,
                kafka: d.kafka,
                value: get(sc, d.scope, index, d.field),
            });
        }
    }
    out
}

/// The settings that came from a non-default profile and differ from the newest release's,
/// as `kafka.name=value`, each once: what a reader should know the release changed.
pub fn from_profile(sc: &Scenario) -> Vec<String> {
    if sc.cluster.kafka_version == KafkaVersion::default() {
        return Vec::new();
    }
    let mut newest = sc.clone();
    resolve(&mut newest, KafkaVersion::default());
    let mut out: Vec<String> = Vec::new();
    for (s, n) in settings(sc).into_iter().zip(settings(&newest)) {
        let item = format!("{}={}", s.kafka, s.value);
        if !sc.explicit.has(s.scope, s.index, s.field) && s.value != n.value && !out.contains(&item)
        {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Scenario {
        crate::scenario::parse("t.toml", text).expect("valid")
    }

    const BASE: &str = "[scenario]\ntitle = \"t\"\n\n[[topics]]\nname = \"t\"\n\n\
                        [[producers]]\nname = \"p\"\ntopic = \"t\"\nsend = { count = 1 }\n\n\
                        [[groups]]\nname = \"g\"\ntopic = \"t\"\n";

    fn with_version(v: &str, extra_cluster: &str) -> String {
        format!("[cluster]\nkafka_version = \"{v}\"\n{extra_cluster}\n{BASE}")
    }

    #[test]
    fn every_row_has_a_setter_and_a_getter() {
        let mut sc = parse(BASE);
        for v in KafkaVersion::ALL {
            resolve(&mut sc, v);
            assert_eq!(settings(&sc).len(), DEFAULTS.len());
        }
    }

    #[test]
    fn the_newest_profile_is_the_models_defaults() {
        let plain = parse(BASE);
        let mut resolved = plain.clone();
        resolve(&mut resolved, KafkaVersion::V4_2);
        assert_eq!(plain, resolved);
        assert_eq!(plain.cluster.kafka_version, KafkaVersion::V4_2);
    }

    #[test]
    fn a_profile_sets_the_defaults_of_its_release() {
        let sc = parse(&with_version("2.8", ""));
        let p = &sc.producers[0];
        assert_eq!(p.acks, Acks::Leader);
        assert!(!p.idempotent());
        assert_eq!(p.retries, i32::MAX as u32);
        assert_eq!(p.linger_ms, 0);
        assert_eq!(p.retry_backoff_max_ms, p.retry_backoff_ms);
        assert_eq!(sc.groups[0].session_timeout_ms, 10_000);
        assert!(!sc.cluster.unclean_leader_election);

        let sc = parse(&with_version("0.10", ""));
        let p = &sc.producers[0];
        assert_eq!(p.retries, 0);
        assert_eq!(
            p.delivery_timeout_ms, 30_000,
            "linger 0 + one request timeout"
        );
        assert!(sc.cluster.unclean_leader_election);
        assert_eq!(sc.cluster.group_initial_rebalance_delay_ms, 0);
        assert_eq!(sc.cluster.replica_lag_time_max_ms, 10_000);
        assert_eq!(sc.groups[0].request_timeout_ms, 305_000);
    }

    #[test]
    fn historical_protocols_follow_the_release() {
        use crate::scenario::lower::{DEFAULT_ELIGIBLE_LEADER_REPLICAS, DEFAULT_REPLICA_RECOVERY};
        let sc = parse(&with_version("0.10", ""));
        assert_eq!(
            sc.cluster.replica_recovery,
            Some(ReplicaRecovery::HighWatermark)
        );
        assert_eq!(sc.cluster.eligible_leader_replicas, Some(false));
        let sc = parse(&with_version("4.0", ""));
        assert_eq!(sc.cluster.replica_recovery, None);
        assert_eq!(DEFAULT_REPLICA_RECOVERY, ReplicaRecovery::LeaderEpoch);
        assert_eq!(sc.cluster.eligible_leader_replicas, Some(false));
        let sc = parse(&with_version("4.2", ""));
        assert_eq!(sc.cluster.eligible_leader_replicas, None);
        const { assert!(DEFAULT_ELIGIBLE_LEADER_REPLICAS) };
        // An explicit historical mode wins under the newest profile.
        let sc = parse(&with_version(
            "4.2",
            "replica_recovery = \"high-watermark\"",
        ));
        assert_eq!(
            sc.cluster.replica_recovery,
            Some(ReplicaRecovery::HighWatermark)
        );
        // The KIP-848 protocol did not exist before 4.0.
        let text = with_version("3.9", "").replace(
            "name = \"g\"\ntopic = \"t\"\n",
            "name = \"g\"\ntopic = \"t\"\ngroup_protocol = \"consumer\"\n",
        );
        let e = crate::scenario::parse("t.toml", &text).unwrap_err();
        assert!(
            e.message().contains("came in Kafka 4.0 (KIP-848)"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn an_explicit_setting_wins() {
        let text = with_version("2.8", "unclean_leader_election = false").replace(
            "name = \"p\"\n",
            "name = \"p\"\nacks = \"all\"\nlinger_ms = 7\n",
        );
        let sc = parse(&text);
        assert_eq!(sc.producers[0].acks, Acks::All);
        assert_eq!(sc.producers[0].linger_ms, 7);
        assert!(!sc.producers[0].idempotent(), "2.8: idempotence stays off");
        let text = with_version("0.10", "unclean_leader_election = false");
        assert!(!parse(&text).cluster.unclean_leader_election);
    }

    #[test]
    fn a_transactional_producer_before_3_0_is_idempotent_with_acks_all() {
        let text = with_version("2.8", "").replace(
            "name = \"p\"\n",
            "name = \"p\"\ntransactional_id = \"tx\"\n",
        );
        let p = &parse(&text).producers[0];
        assert_eq!(p.enable_idempotence, Some(true));
        assert_eq!(p.acks, Acks::All);
    }

    #[test]
    fn re_resolving_keeps_explicit_settings_and_refuses_what_a_release_lacked() {
        let text = BASE.replace(
            "name = \"p\"\n",
            "name = \"p\"\nretries = 3\nenable_idempotence = true\n",
        );
        let mut sc = parse(&text);
        resolve(&mut sc, KafkaVersion::V0_10);
        assert_eq!(sc.producers[0].retries, 3);
        let r = refusals(&sc);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].path(), "producers[0].enable_idempotence");
        assert!(
            r[0].message.contains("came in Kafka 0.11 (KIP-98)"),
            "{}",
            r[0].message
        );
        resolve(&mut sc, KafkaVersion::V2_8);
        assert!(refusals(&sc).is_empty());
    }

    #[test]
    fn from_profile_names_what_the_release_changed() {
        let sc = parse(&with_version("2.8", ""));
        let got = from_profile(&sc);
        assert!(got.contains(&"acks=1".to_string()), "{got:?}");
        assert!(
            got.contains(&"enable.idempotence=false".to_string()),
            "{got:?}"
        );
        assert!(
            got.contains(&"session.timeout.ms=10000".to_string()),
            "{got:?}"
        );
        assert!(from_profile(&parse(BASE)).is_empty());
    }
}
