//! What the simulation core is built from: the cluster, topics, clients, scripted faults and
//! notes, as core values. The scenario layer lowers its file format into these; nothing here
//! knows about files, names as written in them, or serde.
//!
//! Field docs give Kafka's config names where there is one.

use super::ids::*;

/// `acks`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: fire and forget.
    None,
    /// `acks=1`: the leader's append.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica.
    #[default]
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

/// Where a producer sends keyless records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Partitioner {
    /// Kafka 3.3+ built-in partitioner (KIP-794, `BuiltInPartitioner`): stick to a partition
    /// until `batch.size` has been produced to it, then pick the next one, weighted away from
    /// partitions with longer queues (adaptive partitioning).
    #[default]
    UniformSticky,
    /// KIP-480 (Kafka 2.4-3.2): switch partition whenever a batch is closed.
    Sticky,
    /// Before Kafka 2.4 (`DefaultPartitioner` for keyless records): each record to the next
    /// available partition in turn.
    RoundRobin,
}

/// How a streaming producer picks the key of its n-th send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyDistribution {
    /// `keys[n % keys.len()]`.
    #[default]
    RoundRobin,
    /// Uniformly random over the keys, seeded.
    Uniform,
    /// Zipf-skewed over the keys (the first is hottest), seeded.
    Zipf,
}

/// `partition.assignment.strategy`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Assignor {
    /// `RangeAssignor`
    #[default]
    Range,
    /// `RoundRobinAssignor`
    Roundrobin,
    /// `StickyAssignor`
    Sticky,
    /// `CooperativeStickyAssignor`
    CooperativeSticky,
}

impl Assignor {
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::Roundrobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }
}

/// `group.protocol`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup with client-side assignment.
    #[default]
    Classic,
    /// KIP-848: ConsumerGroupHeartbeat with server-side assignment.
    Consumer,
}

/// `group.remote.assignor` (KIP-848's server-side assignors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteAssignor {
    /// `UniformAssignor`: balanced and sticky.
    #[default]
    Uniform,
    /// `RangeAssignor`
    Range,
}

/// When a consumer commits its offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitMode {
    /// `enable.auto.commit=true`, every `auto.commit.interval.ms`.
    #[default]
    Auto,
    /// `commitSync()` before processing the polled records.
    BeforeProcess,
    /// `commitSync()` after processing them.
    AfterProcess,
    /// `sendOffsetsToTransaction()` with the output in one transaction.
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

/// `isolation.level`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    #[default]
    ReadUncommitted,
    ReadCommitted,
}

/// `auto.offset.reset`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    Earliest,
    #[default]
    Latest,
}

/// Everything a run is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The run's seed (another may be given to [`Sim::with_seed`]).
    pub seed: u64,
    /// When producers stop sending and faults stop firing; the drain follows.
    pub stop_at: SimTime,
    pub cluster: ClusterConfig,
    pub network: NetworkConfig,
    pub topics: Vec<TopicConfig>,
    pub producers: Vec<ProducerConfig>,
    pub groups: Vec<GroupConfig>,
    /// Scripted faults; a fault's index here is its index in [`Trace::FaultInjected`].
    ///
    /// [`Trace::FaultInjected`]: super::Trace::FaultInjected
    pub faults: Vec<FaultSpec>,
    pub notes: Vec<Note>,
}

/// Cluster-wide broker and controller settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Brokers `broker-1` to `broker-N` (node ids 0 to N-1); the controller comes next.
    pub brokers: u32,
    /// `replica.lag.time.max.ms`
    pub replica_lag_time_max_ms: u64,
    /// `broker.session.timeout.ms`
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`
    pub broker_heartbeat_interval_ms: u64,
    /// `replica.fetch.wait.max.ms`
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.socket.timeout.ms`
    pub replica_socket_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`
    pub group_initial_rebalance_delay_ms: u64,
    /// `transaction.max.timeout.ms`
    pub transaction_max_timeout_ms: u64,
    /// KIP-966 eligible leader replicas (the `eligible.leader.replicas.version` feature).
    pub eligible_leader_replicas: bool,
    /// How a replica becoming a follower finds where its log stops matching the leader's.
    pub replica_recovery: ReplicaRecovery,
    /// The `transaction.version` feature: 1 or 2 (Transactions V2, KIP-890 part 2).
    pub transaction_version: u8,
    /// `transaction.partition.verification.enable` (KIP-890 part 1).
    pub transaction_partition_verification: bool,
    /// Which queue system the brokers are (`[cluster] system`, with Redis's `mode`).
    pub system: System,
}

/// The queue system a run simulates (`[cluster] system`). Every system runs on the same
/// brokers, network, faults and checker; what differs is how a queue confirms, fails over and
/// delivers (see the README's model of each system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum System {
    /// Apache Kafka: a partitioned log read by consumer groups (or share groups).
    #[default]
    Kafka,
    /// RabbitMQ: each topic is a queue, classic (one replica) or quorum (Raft, majority).
    RabbitMq,
    /// Amazon SQS: a standard (or `fifo`) queue with visibility timeouts.
    Sqs,
    /// Redis, used as a queue in one of three ways (`[cluster] mode`).
    Redis(RedisMode),
}

/// How an application uses Redis as a queue (`[cluster] mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedisMode {
    /// LPUSH / BRPOP: a popped message is gone from Redis.
    #[default]
    List,
    /// LPUSH / LMOVE to a processing list, LREM on success, a reaper that requeues what stays
    /// in the processing list longer than the visibility timeout.
    ReliableList,
    /// XADD / XREADGROUP / XACK with a pending entries list and XAUTOCLAIM.
    Stream,
}

impl System {
    /// The name a scenario file and `compare --systems` use.
    pub fn name(self) -> &'static str {
        match self {
            System::Kafka => "kafka",
            System::RabbitMq => "rabbitmq",
            System::Sqs => "sqs",
            System::Redis(RedisMode::List) => "redis-list",
            System::Redis(RedisMode::ReliableList) => "redis-reliable-list",
            System::Redis(RedisMode::Stream) => "redis-stream",
        }
    }

    pub fn is_kafka(self) -> bool {
        self == System::Kafka
    }
}

/// How a queue consumer acknowledges (`ack`: AMQP's `no_ack` flag on `basic.consume`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// The broker forgets a message as soon as it sends it (RabbitMQ `ack = "auto"`).
    Auto,
    /// The consumer acknowledges each message after processing it.
    #[default]
    Manual,
}

/// The consuming side of a RabbitMQ, SQS or Redis queue: one `[[groups]]` entry's settings,
/// with each system's default filled in. A queue attribute set on the group (SQS's visibility
/// timeout and redrive policy, a quorum queue's delivery limit) applies to the queue it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConsumerConfig {
    /// RabbitMQ `ack`: auto (no_ack) or manual.
    pub ack: AckMode,
    /// RabbitMQ `prefetch` (`basic.qos`): the most unacknowledged messages a consumer holds;
    /// 0 means no limit (RabbitMQ's default).
    pub prefetch: u32,
    /// RabbitMQ: a failed message is nacked with `requeue = true` (back to the queue) or
    /// `false` (dead-lettered, or dropped without a dead-letter exchange).
    pub requeue: bool,
    /// SQS `MaxNumberOfMessages` (1..=10), Redis COUNT: messages per receive.
    pub batch_size: u32,
    /// SQS `VisibilityTimeout`, Redis reliable-list reaper: how long a received message stays
    /// invisible before it is delivered again.
    pub visibility_timeout_ms: u64,
    /// SQS redrive policy `maxReceiveCount`: moved to the dead-letter queue after this many
    /// receives.
    pub max_receive_count: Option<u32>,
    /// RabbitMQ quorum queue `delivery-limit` (20 by default since 4.0).
    pub delivery_limit: Option<u32>,
    /// Redis stream XAUTOCLAIM `min-idle-time`: a pending entry idle this long may be claimed
    /// by another consumer.
    pub min_idle_ms: u64,
    /// Redis stream: after this many deliveries the application moves an entry to the
    /// dead-letter stream.
    pub max_deliveries: Option<u32>,
}

impl QueueConsumerConfig {
    /// Each system's defaults: RabbitMQ manual acks with no prefetch limit and requeue on
    /// nack, a quorum queue's delivery limit of 20 (RabbitMQ 4.0); SQS one message per
    /// receive and a 30 s visibility timeout; Redis one entry per read, 30 s before a
    /// reaper or XAUTOCLAIM takes a message back.
    pub fn defaults(system: System, quorum: bool) -> QueueConsumerConfig {
        QueueConsumerConfig {
            ack: AckMode::Manual,
            prefetch: 0,
            requeue: true,
            batch_size: 1,
            visibility_timeout_ms: 30_000,
            max_receive_count: None,
            delivery_limit: (system == System::RabbitMq && quorum).then_some(20),
            min_idle_ms: 30_000,
            max_deliveries: None,
        }
    }
}

/// A follower's log recovery (`replica_recovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicaRecovery {
    /// KIP-101/KIP-279/KIP-595 (Kafka 0.11+): it fetches with its last fetched epoch and
    /// truncates where the leader says that epoch ended.
    #[default]
    LeaderEpoch,
    /// Kafka 0.10 and earlier: it truncates to its own high watermark, then fetches.
    HighWatermark,
}

/// The simulated network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// One-way latency per message, uniform in `[min, max]` milliseconds, seeded.
    pub latency_ms: [u64; 2],
    /// Probability that any one message is lost.
    pub loss: f64,
}

/// One topic. Its index in [`SimConfig::topics`] is its [`TopicId`].
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    pub name: String,
    /// `num.partitions`
    pub partitions: u32,
    /// `replication.factor`, used when there is no explicit assignment.
    pub replication_factor: u32,
    /// `min.insync.replicas`
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable` for this topic (the cluster default applied).
    pub unclean_leader_election: bool,
    /// Explicit replica lists, one per partition, preferred leader first. `None`: spread
    /// round-robin over the brokers, shifted per partition, as Kafka's default does.
    pub assignment: Option<Vec<Vec<BrokerId>>>,
    /// SQS `FifoQueue`: ordered per message group (the key), deduplicated by message id
    /// within 5 minutes, one message of a group in flight at a time.
    pub fifo: bool,
}

/// One producer. Its index in [`SimConfig::producers`] is its [`ProducerId`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerConfig {
    pub name: String,
    pub topic: TopicId,
    /// `acks`
    pub acks: Acks,
    /// `retries`
    pub retries: u32,
    /// The effective `enable.idempotence`.
    pub idempotent: bool,
    /// `max.in.flight.requests.per.connection`
    pub max_in_flight: u32,
    /// `request.timeout.ms`
    pub request_timeout_ms: u64,
    /// `delivery.timeout.ms`
    pub delivery_timeout_ms: u64,
    /// `retry.backoff.ms`
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms`
    pub retry_backoff_max_ms: u64,
    /// `linger.ms`
    pub linger_ms: u64,
    /// Records per batch; stands in for `batch.size`.
    pub max_batch_records: u32,
    /// Where keyless records go.
    pub partitioner: Partitioner,
    /// `partitioner.adaptive.partitioning.enable`
    pub adaptive_partitioning: bool,
    /// `partitioner.availability.timeout.ms` (0: off)
    pub availability_timeout_ms: u64,
    /// `transactional.id`, with the transaction's size and timeout.
    pub transactional: Option<TransactionConfig>,
    pub workload: WorkloadConfig,
}

/// A transactional producer's transactions.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionConfig {
    /// `transactional.id`
    pub id: String,
    /// Records per transaction.
    pub size: u32,
    /// `transaction.timeout.ms`
    pub timeout_ms: u64,
}

/// What a producer sends.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkloadConfig {
    /// `count` sends, one every `every_ms` from `start_ms`, keys picked from `keys` (none:
    /// keyless records, sticky partitioner).
    Stream {
        count: u64,
        every_ms: u64,
        start_ms: u64,
        keys: Vec<String>,
        distribution: KeyDistribution,
    },
    /// Explicit sends: (time in ms, key).
    Messages(Vec<(u64, Option<String>)>),
}

/// One consumer group. Its index in [`SimConfig::groups`] is its [`GroupId`].
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// `group.id`
    pub name: String,
    pub topic: TopicId,
    /// Consumers started with the group.
    pub consumers: u32,
    /// `partition.assignment.strategy`
    pub assignor: Assignor,
    /// `group.protocol`
    pub protocol: GroupProtocol,
    /// `group.remote.assignor` (consumer protocol only)
    pub remote_assignor: RemoteAssignor,
    pub commit: CommitMode,
    /// Application processing time per record.
    pub processing_ms: u64,
    /// `isolation.level`
    pub isolation_level: IsolationLevel,
    /// An idempotent sink keyed on message id.
    pub dedup: bool,
    /// `group.instance.id` set on every member.
    pub static_membership: bool,
    /// A processor's output topic (read-process-write).
    pub output_topic: Option<TopicId>,
    /// Where records that keep failing go.
    pub dead_letter_topic: Option<TopicId>,
    /// Attempts per record before it is dead-lettered (or the consumer is stuck).
    pub max_attempts: u32,
    /// Records with these keys fail processing.
    pub fail_keys: Vec<String>,
    /// Every n-th record fails processing.
    pub fail_every: Option<u64>,
    /// `max.poll.records`
    pub max_poll_records: u32,
    /// `session.timeout.ms`
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms`
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`
    pub max_poll_interval_ms: u64,
    /// `auto.commit.interval.ms`
    pub auto_commit_interval_ms: u64,
    /// `auto.offset.reset`
    pub auto_offset_reset: OffsetReset,
    /// `request.timeout.ms`
    pub request_timeout_ms: u64,
    /// `fetch.max.wait.ms`
    pub fetch_max_wait_ms: u64,
    /// When the consumers start, in ms.
    pub start_ms: u64,
    /// `group.type = share` (KIP-932): a share group's settings; `None` for a consumer group.
    pub share: Option<ShareConfig>,
    /// The consumers of a RabbitMQ, SQS or Redis queue; `None` on Kafka.
    pub queue: Option<QueueConsumerConfig>,
}

/// A share group's settings (KIP-932), in the names of Kafka's group configuration
/// (`GroupConfig`: `share.*`, defaulting to the brokers' `group.share.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareConfig {
    /// `share.record.lock.duration.ms` (broker default `group.share.record.lock.duration.ms`,
    /// 30000): how long an acquired record stays locked to its consumer.
    pub record_lock_duration_ms: u64,
    /// `share.delivery.count.limit` (broker default `group.share.delivery.count.limit`, 5):
    /// a record released or timed out after this many deliveries is archived.
    pub delivery_count_limit: u32,
    /// `group.share.partition.max.record.locks` (2000): the most records a share partition
    /// holds in flight (from the SPSO to the SPEO).
    pub partition_max_record_locks: u32,
    /// `group.share.session.timeout.ms` (45000): a member whose heartbeats stop this long is
    /// removed.
    pub session_timeout_ms: u64,
    /// `group.share.heartbeat.interval.ms` (5000).
    pub heartbeat_interval_ms: u64,
}

impl Default for ShareConfig {
    fn default() -> ShareConfig {
        ShareConfig {
            record_lock_duration_ms: 30_000,
            delivery_count_limit: 5,
            partition_max_record_locks: 2000,
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
        }
    }
}

#[cfg(test)]
impl GroupConfig {
    /// A classic `range` group `billing` on topic 0 with one consumer and Kafka's defaults, for
    /// unit tests of one process (tests change what they need with `..`).
    pub(crate) fn for_tests() -> GroupConfig {
        GroupConfig {
            name: "billing".to_string(),
            topic: TopicId(0),
            consumers: 1,
            assignor: Assignor::Range,
            protocol: GroupProtocol::Classic,
            remote_assignor: RemoteAssignor::Uniform,
            commit: CommitMode::AfterProcess,
            processing_ms: 0,
            isolation_level: IsolationLevel::ReadUncommitted,
            dedup: false,
            static_membership: false,
            output_topic: None,
            dead_letter_topic: None,
            max_attempts: 3,
            fail_keys: Vec::new(),
            fail_every: None,
            max_poll_records: 500,
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            max_poll_interval_ms: 300_000,
            auto_commit_interval_ms: 5_000,
            auto_offset_reset: OffsetReset::Latest,
            request_timeout_ms: 30_000,
            fetch_max_wait_ms: 500,
            start_ms: 0,
            share: None,
            queue: None,
        }
    }
}

/// What a fault acts on. Only `LeaderOf` depends on the moment the fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A broker, the controller or a producer.
    Node(NodeId),
    /// A consumer (its node is known once it exists).
    Consumer(ConsumerId),
    /// The current leader of a partition, by the controller's view when the fault fires
    /// (nothing happens if it has none).
    LeaderOf(PartitionId),
}

/// One fault, with everything it needs resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub at: SimTime,
    pub kind: FaultKind,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    Crash(Target),
    Restart(Target),
    /// A broker's controlled shutdown: its leaderships move away, then it exits.
    Stop(Target),
    /// A stop-the-world pause (say, GC): the node does nothing for `duration_ms`.
    Pause {
        target: Target,
        duration_ms: u64,
    },
    /// Cut the node off from everyone, for `duration_ms` or until healed.
    Isolate {
        target: Target,
        duration_ms: Option<u64>,
    },
    /// Nodes on different sides cannot talk, for `duration_ms` or until healed.
    Partition {
        sides: Vec<Vec<Target>>,
        duration_ms: Option<u64>,
    },
    /// End every isolation, partition and delay.
    Heal,
    /// Lose the next `count` messages from `from` to `to`.
    Drop {
        from: Target,
        to: Target,
        count: u32,
    },
    /// Lose the next `count` produce responses to a producer.
    DropAcks {
        producer: ProducerId,
        count: u32,
    },
    /// Add `extra_ms` to every message from `from` to `to` for `duration_ms`.
    Delay {
        from: Target,
        to: Target,
        extra_ms: u64,
        duration_ms: u64,
    },
    AddConsumer(GroupId),
    /// The consumer leaves its group for good (LeaveGroup).
    RemoveConsumer(ConsumerId),
    /// Move leadership back to the preferred replica.
    ElectPreferred(PartitionId),
    /// A second instance of a transactional producer starts while the first keeps running.
    Zombie(ProducerId),
    /// Grow a topic to `count` partitions.
    AddPartitions {
        topic: TopicId,
        count: u32,
    },
}

impl FaultKind {
    /// The name a scenario file uses for this kind of fault.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Crash(_) => "crash",
            FaultKind::Restart(_) => "restart",
            FaultKind::Stop(_) => "stop",
            FaultKind::Pause { .. } => "pause",
            FaultKind::Isolate { .. } => "isolate",
            FaultKind::Partition { .. } => "partition",
            FaultKind::Heal => "heal",
            FaultKind::Drop { .. } => "drop",
            FaultKind::DropAcks { .. } => "drop-acks",
            FaultKind::Delay { .. } => "delay",
            FaultKind::AddConsumer(_) => "add-consumer",
            FaultKind::RemoveConsumer(_) => "remove-consumer",
            FaultKind::ElectPreferred(_) => "elect-preferred",
            FaultKind::Zombie(_) => "zombie",
            FaultKind::AddPartitions { .. } => "add-partitions",
        }
    }
}

/// A line of narration shown at a moment of the run, or right after an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// When it is shown; with an anchor, the earliest time its event counts.
    pub at: SimTime,
    pub text: String,
    /// The event it waits for: it is shown right after the first match at or after `at`.
    pub anchor: Option<super::anchor::Anchor>,
}
