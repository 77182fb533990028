//! The scenario file format (the reference is `docs/scenarios.md`). Field names follow Kafka's
//! config names with dots replaced by underscores; Kafka's dotted names are accepted too, in
//! quotes, as serde aliases (listed in [`super::kafka::KAFKA_NAMES`]). Every field but the names
//! has Kafka's default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Meta,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub topics: Vec<Topic>,
    #[serde(default)]
    pub producers: Vec<Producer>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub notes: Vec<Note>,
    /// Questions asked at moments of the run (`brokerlab quiz`, the TUI's quiz).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quiz: Vec<QuizEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Overrides of the `brokerlab compare` presets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<Compare>,
    /// Which settings of the `kafka_version` profile the file wrote (the rest came from the
    /// profile); filled by [`super::parse`].
    #[serde(skip)]
    pub explicit: super::profile::Explicit,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub guarantee: Guarantee,
    #[serde(default = "d_seed")]
    pub seed: u64,
    #[serde(default = "d_stop_at_ms")]
    pub stop_at_ms: u64,
    /// Free-form labels shown in the picker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    AtMostOnce,
    AtLeastOnce,
    ExactlyOnce,
    Ordering,
    #[default]
    Availability,
}

impl Guarantee {
    /// The teaching order the picker and `list` use: losses first, then duplicates, the cure,
    /// ordering, availability.
    pub fn rank(self) -> u8 {
        match self {
            Guarantee::AtMostOnce => 0,
            Guarantee::AtLeastOnce => 1,
            Guarantee::ExactlyOnce => 2,
            Guarantee::Ordering => 3,
            Guarantee::Availability => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Guarantee::AtMostOnce => "at-most-once",
            Guarantee::AtLeastOnce => "at-least-once",
            Guarantee::ExactlyOnce => "exactly-once",
            Guarantee::Ordering => "ordering",
            Guarantee::Availability => "availability",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    /// The Kafka release whose defaults apply (see `profile.rs`); default the newest.
    pub kafka_version: super::profile::KafkaVersion,
    pub brokers: u32,
    /// `unclean.leader.election.enable`, cluster-wide; a topic may override it.
    #[serde(alias = "unclean.leader.election.enable")]
    pub unclean_leader_election: bool,
    /// `replica.lag.time.max.ms`
    #[serde(alias = "replica.lag.time.max.ms")]
    pub replica_lag_time_max_ms: u64,
    /// `broker.session.timeout.ms`
    #[serde(alias = "broker.session.timeout.ms")]
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`
    #[serde(alias = "broker.heartbeat.interval.ms")]
    pub broker_heartbeat_interval_ms: u64,
    /// `replica.fetch.wait.max.ms`
    #[serde(alias = "replica.fetch.wait.max.ms")]
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.socket.timeout.ms`: how long a follower waits for a fetch response.
    #[serde(alias = "replica.socket.timeout.ms")]
    pub replica_socket_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`
    #[serde(alias = "group.initial.rebalance.delay.ms")]
    pub group_initial_rebalance_delay_ms: u64,
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` the transaction
    /// coordinators accept.
    #[serde(alias = "transaction.max.timeout.ms")]
    pub transaction_max_timeout_ms: u64,
    /// KIP-966 eligible leader replicas (Kafka's feature `eligible.leader.replicas.version`);
    /// unset means [`crate::scenario::lower::DEFAULT_ELIGIBLE_LEADER_REPLICAS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_leader_replicas: Option<bool>,
    /// How a restarting follower recovers its log: `"leader-epoch"` (KIP-101, Kafka 0.11+) or
    /// `"high-watermark"` (Kafka 0.10); unset means
    /// [`crate::scenario::lower::DEFAULT_REPLICA_RECOVERY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_recovery: Option<ReplicaRecovery>,
    /// The `transaction.version` feature: 1, the classic protocol (KIP-98), or 2, Transactions
    /// V2 (KIP-890 part 2: an epoch bump at every EndTxn, partitions added by their leaders);
    /// unset means [`crate::scenario::lower::DEFAULT_TRANSACTION_VERSION`].
    #[serde(
        default,
        alias = "transaction.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_version: Option<u8>,
    /// `transaction.partition.verification.enable` (KIP-890 part 1, Kafka 3.6+): a partition
    /// leader asks the transaction coordinator before it appends a producer's first
    /// transactional batch; unset means
    /// [`crate::scenario::lower::DEFAULT_TRANSACTION_PARTITION_VERIFICATION`].
    #[serde(
        default,
        alias = "transaction.partition.verification.enable",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_partition_verification_enable: Option<bool>,
    /// Which queue system the brokers are: `"kafka"` (the default), `"rabbitmq"`, `"sqs"` or
    /// `"redis"`.
    #[serde(skip_serializing_if = "System::is_kafka")]
    pub system: System,
    /// Redis only: how the application uses Redis as a queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RedisMode>,
}

/// `[cluster] system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    #[default]
    Kafka,
    Rabbitmq,
    Sqs,
    Redis,
}

impl System {
    pub fn is_kafka(&self) -> bool {
        *self == System::Kafka
    }

    pub fn name(self) -> &'static str {
        match self {
            System::Kafka => "kafka",
            System::Rabbitmq => "rabbitmq",
            System::Sqs => "sqs",
            System::Redis => "redis",
        }
    }
}

/// `[cluster] mode` (Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisMode {
    /// LPUSH / BRPOP.
    #[default]
    List,
    /// LPUSH / LMOVE into a processing list, with a reaper.
    ReliableList,
    /// XADD / XREADGROUP / XACK / XAUTOCLAIM.
    Stream,
}

/// `ack` on a RabbitMQ group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AckMode {
    Auto,
    #[default]
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicaRecovery {
    LeaderEpoch,
    HighWatermark,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            kafka_version: super::profile::KafkaVersion::default(),
            brokers: 3,
            unclean_leader_election: false,
            replica_lag_time_max_ms: 30_000,
            broker_session_timeout_ms: 9_000,
            broker_heartbeat_interval_ms: 2_000,
            replica_fetch_wait_max_ms: 500,
            replica_socket_timeout_ms: 30_000,
            group_initial_rebalance_delay_ms: 3_000,
            transaction_max_timeout_ms: 900_000,
            eligible_leader_replicas: None,
            replica_recovery: None,
            transaction_version: None,
            transaction_partition_verification_enable: None,
            system: System::Kafka,
            mode: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// One-way latency per message, uniform in `[min, max]` milliseconds, seeded.
    pub latency_ms: [u64; 2],
    /// Probability that any one message is lost.
    pub loss: f64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_ms: [1, 5],
            loss: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub name: String,
    #[serde(default = "d_one")]
    #[serde(alias = "num.partitions")]
    pub partitions: u32,
    /// `default.replication.factor` is 1 in Kafka.
    #[serde(default = "d_one")]
    #[serde(alias = "replication.factor")]
    pub replication_factor: u32,
    /// `min.insync.replicas`
    #[serde(default = "d_one")]
    #[serde(alias = "min.insync.replicas")]
    pub min_insync_replicas: u32,
    /// Optional replica lists, one per partition, with 1-based broker numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Vec<Vec<u32>>>,
    /// Per-topic `unclean.leader.election.enable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "unclean.leader.election.enable")]
    pub unclean_leader_election: Option<bool>,
    /// SQS: a FIFO queue (ordered per message group, deduplicated within 5 minutes).
    #[serde(default, skip_serializing_if = "is_false")]
    pub fifo: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum Acks {
    #[serde(rename = "0")]
    None,
    #[serde(rename = "1")]
    Leader,
    #[default]
    #[serde(rename = "all", alias = "-1")]
    All,
}

impl Acks {
    pub fn name(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    pub name: String,
    pub topic: String,
    #[serde(default)]
    pub acks: Acks,
    /// RabbitMQ publisher confirms (`confirm.select`): the publisher waits for the queue to
    /// confirm each message (a quorum queue confirms once a majority has it) and republishes
    /// on a timeout. Without confirms a publish is fire-and-forget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<bool>,
    #[serde(default = "d_retries")]
    pub retries: u32,
    /// `enable.idempotence`. Unset means Kafka 3.x's default: on, unless acks, retries or
    /// max.in.flight conflict with it, in which case it is silently off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "enable.idempotence")]
    pub enable_idempotence: Option<bool>,
    /// `max.in.flight.requests.per.connection`
    #[serde(default = "d_max_in_flight")]
    #[serde(alias = "max.in.flight.requests.per.connection")]
    pub max_in_flight: u32,
    #[serde(default = "d_request_timeout_ms")]
    #[serde(alias = "request.timeout.ms")]
    pub request_timeout_ms: u64,
    #[serde(default = "d_delivery_timeout_ms")]
    #[serde(alias = "delivery.timeout.ms")]
    pub delivery_timeout_ms: u64,
    #[serde(default = "d_retry_backoff_ms")]
    #[serde(alias = "retry.backoff.ms")]
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms` (KIP-580): retries back off exponentially up to this.
    #[serde(default = "d_retry_backoff_max_ms")]
    #[serde(alias = "retry.backoff.max.ms")]
    pub retry_backoff_max_ms: u64,
    /// `linger.ms` (5 since Kafka 4.0, KIP-1030).
    #[serde(default = "d_linger_ms")]
    #[serde(alias = "linger.ms")]
    pub linger_ms: u64,
    /// Records per batch; stands in for `batch.size`, which Kafka counts in bytes.
    #[serde(default = "d_max_batch_records")]
    pub max_batch_records: u32,
    /// Where keyless records go; unset means [`Partitioner::default`] (see
    /// [`Producer::partitioner`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioner: Option<Partitioner>,
    /// `partitioner.adaptive.partitioning.enable` (KIP-794).
    #[serde(default = "d_true")]
    #[serde(alias = "partitioner.adaptive.partitioning.enable")]
    pub partitioner_adaptive_partitioning_enable: bool,
    /// `partitioner.availability.timeout.ms` (KIP-794; 0 turns it off).
    #[serde(default)]
    #[serde(alias = "partitioner.availability.timeout.ms")]
    pub partitioner_availability_timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "transactional.id")]
    pub transactional_id: Option<String>,
    /// Records per transaction for a transactional producer (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_size: Option<u32>,
    /// `transaction.timeout.ms`: the coordinator aborts a transaction open longer than this.
    #[serde(default = "d_transaction_timeout_ms")]
    #[serde(alias = "transaction.timeout.ms")]
    pub transaction_timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<Send>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageSpec>,
}

/// Where a producer sends keyless records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Partitioner {
    /// Kafka 3.3+ built-in uniform sticky partitioner (KIP-794): the default, the one place
    /// the unset value is decided.
    #[default]
    UniformSticky,
    /// KIP-480's sticky partitioner (Kafka 2.4-3.2).
    Sticky,
    /// The pre-2.4 `DefaultPartitioner` for keyless records.
    RoundRobin,
}

impl Partitioner {
    /// As written in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Partitioner::UniformSticky => "uniform-sticky",
            Partitioner::Sticky => "sticky",
            Partitioner::RoundRobin => "round-robin",
        }
    }
}

impl Producer {
    /// The effective partitioner for keyless records.
    pub fn partitioner(&self) -> Partitioner {
        self.partitioner.unwrap_or_default()
    }

    /// The effective `enable.idempotence`, following Kafka 3.x: explicit value wins; unset
    /// means on unless `acks != all`, `retries == 0` or `max.in.flight > 5`.
    pub fn idempotent(&self) -> bool {
        match self.enable_idempotence {
            Some(v) => v,
            None => self.acks == Acks::All && self.retries > 0 && self.max_in_flight <= 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Send {
    pub count: u64,
    #[serde(default = "d_every_ms")]
    pub every_ms: u64,
    #[serde(default)]
    pub start_ms: u64,
    /// Keys to cycle through; empty means keyless records (sticky partitioner).
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub key_distribution: KeyDistribution,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDistribution {
    /// `keys[n % keys.len()]` for the n-th send.
    #[default]
    RoundRobin,
    /// Uniformly random over `keys`, seeded.
    Uniform,
    /// Zipf-skewed over `keys` (the first key is hottest), seeded.
    Zipf,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    pub at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assignor {
    #[default]
    Range,
    Roundrobin,
    Sticky,
    CooperativeSticky,
}

/// `group.protocol`: the classic JoinGroup/SyncGroup protocol, or KIP-848's consumer group
/// protocol (GA in Kafka 4.0; `"classic"` stays the 4.x client default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupProtocol {
    #[default]
    Classic,
    Consumer,
}

/// `group.remote.assignor`: KIP-848's server-side assignor for `group_protocol = "consumer"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteAssignor {
    #[default]
    Uniform,
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitMode {
    /// `enable.auto.commit=true`, Kafka's default.
    #[default]
    Auto,
    BeforeProcess,
    AfterProcess,
    Transactional,
}

impl CommitMode {
    pub fn name(self) -> &'static str {
        match self {
            CommitMode::Auto => "auto",
            CommitMode::BeforeProcess => "before-process",
            CommitMode::AfterProcess => "after-process",
            CommitMode::Transactional => "transactional",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IsolationLevel {
    #[default]
    ReadUncommitted,
    ReadCommitted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    Earliest,
    #[default]
    Latest,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    #[serde(alias = "group.id")]
    pub name: String,
    pub topic: String,
    #[serde(default = "d_one")]
    pub consumers: u32,
    #[serde(default)]
    #[serde(alias = "partition.assignment.strategy")]
    pub assignor: Assignor,
    /// `group.protocol`: `"classic"` or KIP-848's `"consumer"`.
    #[serde(default)]
    #[serde(alias = "group.protocol")]
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor`: the coordinator's assignor under `group_protocol = "consumer"`.
    #[serde(default)]
    #[serde(alias = "group.remote.assignor")]
    pub group_remote_assignor: RemoteAssignor,
    #[serde(default)]
    pub commit: CommitMode,
    /// Application processing time per record.
    #[serde(default = "d_processing_ms")]
    pub processing_ms: u64,
    #[serde(default)]
    #[serde(alias = "isolation.level")]
    pub isolation_level: IsolationLevel,
    /// An idempotent sink keyed on message id.
    #[serde(default)]
    pub dedup: bool,
    /// `group.instance.id` set on every member.
    #[serde(default)]
    pub static_membership: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,
    #[serde(default = "d_max_attempts")]
    pub max_attempts: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fail_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_every: Option<u64>,
    #[serde(default = "d_max_poll_records")]
    #[serde(alias = "max.poll.records")]
    pub max_poll_records: u32,
    #[serde(default = "d_session_timeout_ms")]
    #[serde(alias = "session.timeout.ms")]
    pub session_timeout_ms: u64,
    #[serde(default = "d_heartbeat_interval_ms")]
    #[serde(alias = "heartbeat.interval.ms")]
    pub heartbeat_interval_ms: u64,
    #[serde(default = "d_max_poll_interval_ms")]
    #[serde(alias = "max.poll.interval.ms")]
    pub max_poll_interval_ms: u64,
    #[serde(default = "d_auto_commit_interval_ms")]
    #[serde(alias = "auto.commit.interval.ms")]
    pub auto_commit_interval_ms: u64,
    #[serde(default)]
    #[serde(alias = "auto.offset.reset")]
    pub auto_offset_reset: OffsetReset,
    #[serde(default = "d_request_timeout_ms")]
    #[serde(alias = "request.timeout.ms")]
    pub request_timeout_ms: u64,
    /// `fetch.max.wait.ms`
    #[serde(default = "d_fetch_max_wait_ms")]
    #[serde(alias = "fetch.max.wait.ms")]
    pub fetch_max_wait_ms: u64,
    /// When the consumers start.
    #[serde(default)]
    pub start_ms: u64,
    /// `group.type`: a consumer group (`"consumer"`) or a KIP-932 share group (`"share"`).
    #[serde(
        default,
        rename = "type",
        skip_serializing_if = "GroupType::is_consumer"
    )]
    pub group_type: GroupType,
    /// `share.record.lock.duration.ms` (share groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "share.record.lock.duration.ms")]
    pub record_lock_duration_ms: Option<u64>,
    /// `share.delivery.count.limit` (share groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "share.delivery.count.limit")]
    pub delivery_count_limit: Option<u32>,
    /// `group.share.partition.max.record.locks` (share groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "group.share.partition.max.record.locks")]
    pub partition_max_record_locks: Option<u32>,
    /// RabbitMQ: `"manual"` (the default) or `"auto"` acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<AckMode>,
    /// RabbitMQ `basic.qos` prefetch count; 0 (the default) means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefetch: Option<u32>,
    /// RabbitMQ: whether a failed message is nacked back into the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue: Option<bool>,
    /// SQS `MaxNumberOfMessages` (1 to 10), Redis COUNT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// SQS `VisibilityTimeout` (30000), Redis reliable-list reaper timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_timeout_ms: Option<u64>,
    /// SQS redrive policy `maxReceiveCount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_receive_count: Option<u32>,
    /// RabbitMQ quorum queue `delivery-limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_limit: Option<u32>,
    /// Redis stream XAUTOCLAIM `min-idle-time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_idle_ms: Option<u64>,
    /// Redis stream: deliveries before the application dead-letters an entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deliveries: Option<u32>,
}

/// `group.type`: what kind of group a `[[groups]]` entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupType {
    #[default]
    Consumer,
    /// KIP-932: records are acquired under a lock and acknowledged one by one.
    Share,
}

impl GroupType {
    pub fn is_consumer(&self) -> bool {
        *self == GroupType::Consumer
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultAction {
    Crash,
    Restart,
    /// A broker's controlled shutdown.
    Stop,
    Pause,
    Isolate,
    Partition,
    Heal,
    Drop,
    DropAcks,
    Delay,
    AddConsumer,
    RemoveConsumer,
    ElectPreferred,
    Zombie,
    AddPartitions,
}

impl FaultAction {
    pub fn name(self) -> &'static str {
        match self {
            FaultAction::Crash => "crash",
            FaultAction::Restart => "restart",
            FaultAction::Stop => "stop",
            FaultAction::Pause => "pause",
            FaultAction::Isolate => "isolate",
            FaultAction::Partition => "partition",
            FaultAction::Heal => "heal",
            FaultAction::Drop => "drop",
            FaultAction::DropAcks => "drop-acks",
            FaultAction::Delay => "delay",
            FaultAction::AddConsumer => "add-consumer",
            FaultAction::RemoveConsumer => "remove-consumer",
            FaultAction::ElectPreferred => "elect-preferred",
            FaultAction::Zombie => "zombie",
            FaultAction::AddPartitions => "add-partitions",
        }
    }
}

/// One scripted fault. Which of the optional fields are required depends on `action`;
/// validation checks that and points at the table when one is missing.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub at_ms: u64,
    pub action: FaultAction,
    /// `broker-N`, `leader:topic/P`, `controller`, a producer name or `group/consumer-N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// For `partition`: the groups of nodes that can still talk among themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sides: Option<Vec<Vec<String>>>,
    /// For `drop` and `delay`: `"from->to"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_ms: Option<u64>,
    /// For `add-consumer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// For `elect-preferred`: `"topic/P"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// For `add-partitions`: the topic and its new partition count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u32>,
}

impl Fault {
    pub fn new(at_ms: u64, action: FaultAction) -> Fault {
        Fault {
            at_ms,
            action,
            target: None,
            duration_ms: None,
            sides: None,
            link: None,
            count: None,
            extra_ms: None,
            group: None,
            partition: None,
            topic: None,
            partitions: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// When the note is shown; with `after`, the earliest time its event counts (default 0).
    #[serde(default)]
    pub at_ms: u64,
    /// The event the note waits for, e.g. `"election orders/0"` (see `scenario::anchor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    ExactlyOnce,
    AtLeastOnce,
    AtMostOnce,
    None,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::ExactlyOnce => "exactly-once",
            Verdict::AtLeastOnce => "at-least-once",
            Verdict::AtMostOnce => "at-most-once",
            Verdict::None => "none",
        }
    }
}

/// Expected results; every field is optional and only the ones given are checked.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_lost: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicated: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reordered: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Messages in the log but still ahead of their group's position (not lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen: Option<u64>,
    /// Messages of aborted transactions that their group did not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<u64>,
    /// Messages applied although their transaction was aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_read: Option<u64>,
    /// Messages parked on a dead-letter topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered: Option<u64>,
    /// Lost because the group's position moved past them (`auto.offset.reset`, a commit before processing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u64>,
    /// Lost because no log ever held them (e.g. `acks=0` to a dead leader).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_written: Option<u64>,
    /// Lost because a leader change removed them from the log (not `truncated`, which counts records removed from any replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_truncated: Option<u64>,
    /// Number of leader elections that were unclean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unclean_elections: Option<u64>,
    /// Records removed from logs by truncation, over all replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<u64>,
    /// Produce errors by Kafka error name, e.g. `NOT_ENOUGH_REPLICAS = 3`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// Bounds on the time partitions could not take writes, summed over partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_ms_at_least: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_ms_at_most: Option<u64>,
    /// Per-group expectations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, GroupExpect>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupExpect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_lost: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicated: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reordered: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivered: Option<u64>,
    /// In the log but still ahead of the group's position (not lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen: Option<u64>,
    /// The producer was told they failed and no log holds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// In aborted transactions and not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<u64>,
    /// Applied although their transaction was aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_read: Option<u64>,
    /// Parked on the dead-letter topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered: Option<u64>,
    /// Lost: the group's position moved past them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u64>,
    /// Lost: removed from the log by a leader change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<u64>,
    /// Lost: no log ever held them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_written: Option<u64>,
    /// Bounds on the group's peak lag (records above its committed offsets, summed over its
    /// partitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag_at_least: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag_at_most: Option<u64>,
    /// The partition whose own lag peaked highest, e.g. `"orders/1"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag_partition: Option<String>,
    /// Bounds on the longest rebalance after the group first formed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_rebalance_ms_at_least: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_rebalance_ms_at_most: Option<u64>,
    /// Bound on the group's lag at the end of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_lag_at_most: Option<u64>,
    /// Bounds on applies of a message sent before one the group had already applied, over all
    /// keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_global_order_at_least: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_global_order_at_most: Option<u64>,
}

/// `[compare]`: per-preset overrides for `brokerlab compare`, e.g.
/// `[compare.at-most-once] acks = "0"`. Each override applies to every producer (producer
/// fields) or every group (group fields) of the scenario.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    #[serde(
        default,
        rename = "at-most-once",
        skip_serializing_if = "Option::is_none"
    )]
    pub at_most_once: Option<PresetOverride>,
    #[serde(
        default,
        rename = "at-least-once",
        skip_serializing_if = "Option::is_none"
    )]
    pub at_least_once: Option<PresetOverride>,
    #[serde(
        default,
        rename = "exactly-once",
        skip_serializing_if = "Option::is_none"
    )]
    pub exactly_once: Option<PresetOverride>,
}

/// One preset's overrides in `[compare]`; unset fields keep the preset's value.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PresetOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acks: Option<Acks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "enable.idempotence")]
    pub enable_idempotence: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "max.in.flight.requests.per.connection")]
    pub max_in_flight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "isolation.level")]
    pub isolation_level: Option<IsolationLevel>,
}

fn d_seed() -> u64 {
    1
}
fn d_stop_at_ms() -> u64 {
    30_000
}
fn d_one() -> u32 {
    1
}
fn d_retries() -> u32 {
    i32::MAX as u32
}
fn d_max_in_flight() -> u32 {
    5
}
fn d_request_timeout_ms() -> u64 {
    30_000
}
fn d_delivery_timeout_ms() -> u64 {
    120_000
}
fn d_retry_backoff_ms() -> u64 {
    100
}
fn d_retry_backoff_max_ms() -> u64 {
    1_000
}
fn d_transaction_timeout_ms() -> u64 {
    60_000
}
fn d_true() -> bool {
    true
}
fn d_linger_ms() -> u64 {
    5
}
fn d_max_batch_records() -> u32 {
    100
}
fn d_every_ms() -> u64 {
    100
}
fn d_processing_ms() -> u64 {
    10
}
fn d_max_attempts() -> u32 {
    3
}
fn d_max_poll_records() -> u32 {
    500
}
pub(crate) fn d_session_timeout_ms() -> u64 {
    45_000
}
pub(crate) fn d_heartbeat_interval_ms() -> u64 {
    3_000
}
fn d_max_poll_interval_ms() -> u64 {
    300_000
}
fn d_auto_commit_interval_ms() -> u64 {
    5_000
}
fn d_fetch_max_wait_ms() -> u64 {
    500
}

/// A `[[quiz]]` question: asked at a moment of the run, answered by a check on the run's own
/// state or outcome (never by a written-down index), so the answer stays true to the model.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuizEntry {
    /// When the question is asked (the run pauses there); with `after`, the earliest time its
    /// event counts (default 0).
    #[serde(default)]
    pub at_ms: u64,
    /// The event the question waits for, e.g. `"election orders/0"` (see `scenario::anchor`):
    /// asked right after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    pub question: String,
    /// 2-6 answers to choose from; the right one is the choice whose text equals the value the
    /// run computes for `answer`.
    pub choices: Vec<String>,
    pub answer: QuizCheck,
    /// Shown after the answer: why, citing the Kafka rule.
    #[serde(default)]
    pub explain: String,
}

/// What a quiz answer is computed from: exactly one of `count`, `fate`, `verdict`, `leader`
/// and `partitions`, with the qualifiers that check takes.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuizCheck {
    /// How many messages end with this fate (or `acked-lost`, `reordered`, `acked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<String>,
    /// The fate of one message (`checkout#7`) for `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fate: Option<String>,
    /// The verdict of a group, or `all` for the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The leader of a partition (`orders/0`) at `at_ms` (default: the end of the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// The partitions a consumer (`consumer-2`, or `billing/consumer-2`) owns at `at_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<String>,
    /// The group `count`, `fate` and `partitions` are about (needed when there are several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// For `count`: only these messages (`checkout#6-#8`, `checkout#7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<String>,
    /// For `leader` and `partitions`: the moment whose state answers (default: the run's end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
}
