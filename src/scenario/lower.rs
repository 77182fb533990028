//! The lowering: a validated [`Scenario`] becomes the core's [`SimConfig`], with every name
//! resolved to an id and every default applied. This is the only place that knows both the
//! file format and the core's types; [`raise_fault`] goes the other way, so that faults
//! injected live can be saved in a scenario file.

use std::collections::BTreeMap;

use super::model::{self, Scenario};
use super::names::{Target as Named, parse_link, parse_topic_partition};
use crate::sim::config::{
    self as core, ClusterConfig, FaultKind, FaultSpec, GroupConfig, NetworkConfig, Note,
    ProducerConfig, SimConfig, Target, TopicConfig, TransactionConfig, WorkloadConfig,
};
use crate::sim::{
    BrokerId, ConsumerId, GroupId, NodeId, PartitionId, ProducerId, Sim, SimTime, TopicId,
};

/// The core's system for `[cluster] system` and `mode`.
pub fn system_of(c: &model::Cluster) -> core::System {
    match c.system {
        model::System::Kafka => core::System::Kafka,
        model::System::Rabbitmq => core::System::RabbitMq,
        model::System::Sqs => core::System::Sqs,
        model::System::Redis => core::System::Redis(match c.mode.unwrap_or_default() {
            model::RedisMode::List => core::RedisMode::List,
            model::RedisMode::ReliableList => core::RedisMode::ReliableList,
            model::RedisMode::Stream => core::RedisMode::Stream,
        }),
    }
}

/// A producer's acknowledgement level on its system. RabbitMQ: publisher confirms wait for
/// the queue (`all`: a quorum queue confirms at a majority), none is fire-and-forget (`0`).
/// SQS: `SendMessage` returns once the message is stored redundantly (`all`). Redis and
/// Kafka: `acks` as resolved (for Redis, `all` is WAIT on every replica, and an unwritten
/// `acks` is `1`, the primary's reply alone: `profile::resolve`).
pub fn producer_acks(system: core::System, p: &model::Producer) -> core::Acks {
    match system {
        core::System::RabbitMq => {
            if p.confirms.unwrap_or(false) {
                core::Acks::All
            } else {
                core::Acks::None
            }
        }
        core::System::Sqs => core::Acks::All,
        core::System::Kafka | core::System::Redis(_) => p.acks.into(),
    }
}

/// The consuming side of a non-Kafka queue, each field defaulted per system.
pub fn queue_consumer(
    system: core::System,
    sc: &Scenario,
    g: &model::Group,
) -> core::QueueConsumerConfig {
    let quorum = sc
        .topics
        .iter()
        .find(|t| t.name == g.topic)
        .is_some_and(|t| t.replication_factor > 1);
    let d = core::QueueConsumerConfig::defaults(system, quorum);
    core::QueueConsumerConfig {
        ack: match g.ack {
            Some(model::AckMode::Auto) => core::AckMode::Auto,
            Some(model::AckMode::Manual) => core::AckMode::Manual,
            None => d.ack,
        },
        prefetch: g.prefetch.unwrap_or(d.prefetch),
        requeue: g.requeue.unwrap_or(d.requeue),
        batch_size: g.batch_size.unwrap_or(d.batch_size),
        visibility_timeout_ms: g.visibility_timeout_ms.unwrap_or(d.visibility_timeout_ms),
        max_receive_count: g.max_receive_count.or(d.max_receive_count),
        delivery_limit: g.delivery_limit.or(d.delivery_limit),
        min_idle_ms: g.min_idle_ms.unwrap_or(d.min_idle_ms),
        max_deliveries: g.max_deliveries.or(d.max_deliveries),
    }
}

/// Records per transaction when a transactional producer does not say.
pub const DEFAULT_TRANSACTION_SIZE: u32 = 10;

impl From<model::Acks> for core::Acks {
    fn from(a: model::Acks) -> Self {
        match a {
            model::Acks::None => core::Acks::None,
            model::Acks::Leader => core::Acks::Leader,
            model::Acks::All => core::Acks::All,
        }
    }
}

impl From<model::Partitioner> for core::Partitioner {
    fn from(p: model::Partitioner) -> Self {
        match p {
            model::Partitioner::UniformSticky => core::Partitioner::UniformSticky,
            model::Partitioner::Sticky => core::Partitioner::Sticky,
            model::Partitioner::RoundRobin => core::Partitioner::RoundRobin,
        }
    }
}

impl From<model::KeyDistribution> for core::KeyDistribution {
    fn from(k: model::KeyDistribution) -> Self {
        match k {
            model::KeyDistribution::RoundRobin => core::KeyDistribution::RoundRobin,
            model::KeyDistribution::Uniform => core::KeyDistribution::Uniform,
            model::KeyDistribution::Zipf => core::KeyDistribution::Zipf,
        }
    }
}

impl From<model::Assignor> for core::Assignor {
    fn from(a: model::Assignor) -> Self {
        match a {
            model::Assignor::Range => core::Assignor::Range,
            model::Assignor::Roundrobin => core::Assignor::Roundrobin,
            model::Assignor::Sticky => core::Assignor::Sticky,
            model::Assignor::CooperativeSticky => core::Assignor::CooperativeSticky,
        }
    }
}

impl From<model::GroupProtocol> for core::GroupProtocol {
    fn from(p: model::GroupProtocol) -> Self {
        match p {
            model::GroupProtocol::Classic => core::GroupProtocol::Classic,
            model::GroupProtocol::Consumer => core::GroupProtocol::Consumer,
        }
    }
}

impl From<model::RemoteAssignor> for core::RemoteAssignor {
    fn from(a: model::RemoteAssignor) -> Self {
        match a {
            model::RemoteAssignor::Uniform => core::RemoteAssignor::Uniform,
            model::RemoteAssignor::Range => core::RemoteAssignor::Range,
        }
    }
}

impl From<model::CommitMode> for core::CommitMode {
    fn from(c: model::CommitMode) -> Self {
        match c {
            model::CommitMode::Auto => core::CommitMode::Auto,
            model::CommitMode::BeforeProcess => core::CommitMode::BeforeProcess,
            model::CommitMode::AfterProcess => core::CommitMode::AfterProcess,
            model::CommitMode::Transactional => core::CommitMode::Transactional,
        }
    }
}

impl From<model::IsolationLevel> for core::IsolationLevel {
    fn from(i: model::IsolationLevel) -> Self {
        match i {
            model::IsolationLevel::ReadUncommitted => core::IsolationLevel::ReadUncommitted,
            model::IsolationLevel::ReadCommitted => core::IsolationLevel::ReadCommitted,
        }
    }
}

impl From<model::OffsetReset> for core::OffsetReset {
    fn from(o: model::OffsetReset) -> Self {
        match o {
            model::OffsetReset::Earliest => core::OffsetReset::Earliest,
            model::OffsetReset::Latest => core::OffsetReset::Latest,
        }
    }
}

impl From<&Scenario> for SimConfig {
    fn from(sc: &Scenario) -> Self {
        lower(sc)
    }
}

/// Lowers a scenario that passed validation. Panics on a name validation would have rejected.
/// `eligible_leader_replicas` when unset: on, as for a new Kafka 4.1+ cluster (KIP-966's
/// `eligible.leader.replicas.version=1` is the default feature level from 4.1).
pub const DEFAULT_ELIGIBLE_LEADER_REPLICAS: bool = true;

/// `transaction_version` when unset: 2, Transactions V2, as for a new Kafka 4.0+ cluster
/// ("The protocol is automatically enabled on the server since Apache Kafka 4.0", Kafka docs,
/// Operations, Transaction Protocol; `TransactionVersion.TV_2` bootstraps with 4.0-IV2).
pub const DEFAULT_TRANSACTION_VERSION: u8 = 2;

/// `transaction_partition_verification_enable` when unset: true, Kafka's default since 3.6
/// (KIP-890 part 1).
pub const DEFAULT_TRANSACTION_PARTITION_VERIFICATION: bool = true;

/// `replica_recovery` when unset: leader epochs, as every Kafka since 0.11 (KIP-101).
pub const DEFAULT_REPLICA_RECOVERY: model::ReplicaRecovery = model::ReplicaRecovery::LeaderEpoch;

impl From<model::ReplicaRecovery> for core::ReplicaRecovery {
    fn from(r: model::ReplicaRecovery) -> Self {
        match r {
            model::ReplicaRecovery::LeaderEpoch => core::ReplicaRecovery::LeaderEpoch,
            model::ReplicaRecovery::HighWatermark => core::ReplicaRecovery::HighWatermark,
        }
    }
}

pub fn lower(sc: &Scenario) -> SimConfig {
    let c = &sc.cluster;
    let system = system_of(c);
    let topic_id = |name: &str| -> TopicId {
        TopicId(
            sc.topics
                .iter()
                .position(|t| t.name == name)
                .unwrap_or_else(|| panic!("validated scenario: unknown topic `{name}`"))
                as u32,
        )
    };
    let topics = sc
        .topics
        .iter()
        .map(|t| TopicConfig {
            name: t.name.clone(),
            partitions: t.partitions,
            replication_factor: t.replication_factor,
            min_insync_replicas: t.min_insync_replicas,
            unclean_leader_election: t
                .unclean_leader_election
                .unwrap_or(c.unclean_leader_election),
            assignment: t.assignment.as_ref().map(|a| {
                a.iter()
                    .map(|r| r.iter().map(|&n| BrokerId(n - 1)).collect())
                    .collect()
            }),
            fifo: t.fifo,
        })
        .collect();
    let producers = sc
        .producers
        .iter()
        .map(|p| ProducerConfig {
            name: p.name.clone(),
            topic: topic_id(&p.topic),
            acks: producer_acks(system, p),
            retries: p.retries,
            // Idempotence (KIP-98) is Kafka's: another system's publisher resends as a plain
            // retry, so a lost confirm can duplicate a message. An SQS FIFO queue deduplicates
            // a resend by its MessageDeduplicationId (the message id) within 5 minutes: it is
            // accepted and not stored again. The leader's idempotent-producer check does that
            // for a retried send, which comes well within 5 minutes.
            idempotent: match system {
                core::System::Kafka => p.idempotent(),
                core::System::Sqs => sc.topics.iter().any(|t| t.name == p.topic && t.fifo),
                _ => false,
            },
            max_in_flight: p.max_in_flight,
            request_timeout_ms: p.request_timeout_ms,
            delivery_timeout_ms: p.delivery_timeout_ms,
            retry_backoff_ms: p.retry_backoff_ms,
            retry_backoff_max_ms: p.retry_backoff_max_ms,
            linger_ms: p.linger_ms,
            max_batch_records: p.max_batch_records,
            partitioner: p.partitioner().into(),
            adaptive_partitioning: p.partitioner_adaptive_partitioning_enable,
            availability_timeout_ms: p.partitioner_availability_timeout_ms,
            transactional: p.transactional_id.as_ref().map(|id| TransactionConfig {
                id: id.clone(),
                size: p.transaction_size.unwrap_or(DEFAULT_TRANSACTION_SIZE),
                timeout_ms: p.transaction_timeout_ms,
            }),
            workload: match &p.send {
                Some(s) => WorkloadConfig::Stream {
                    count: s.count,
                    every_ms: s.every_ms,
                    start_ms: s.start_ms,
                    keys: s.keys.clone(),
                    distribution: s.key_distribution.into(),
                },
                None => WorkloadConfig::Messages(
                    p.messages
                        .iter()
                        .map(|m| (m.at_ms, m.key.clone()))
                        .collect(),
                ),
            },
        })
        .collect();
    let groups = sc
        .groups
        .iter()
        .map(|g| GroupConfig {
            name: g.name.clone(),
            topic: topic_id(&g.topic),
            consumers: g.consumers,
            assignor: g.assignor.into(),
            protocol: g.group_protocol.into(),
            remote_assignor: g.group_remote_assignor.into(),
            commit: g.commit.into(),
            processing_ms: g.processing_ms,
            isolation_level: g.isolation_level.into(),
            dedup: g.dedup,
            static_membership: g.static_membership,
            output_topic: g.output_topic.as_deref().map(topic_id),
            dead_letter_topic: g.dead_letter_topic.as_deref().map(topic_id),
            max_attempts: g.max_attempts,
            fail_keys: g.fail_keys.clone(),
            fail_every: g.fail_every,
            max_poll_records: g.max_poll_records,
            session_timeout_ms: g.session_timeout_ms,
            heartbeat_interval_ms: g.heartbeat_interval_ms,
            max_poll_interval_ms: g.max_poll_interval_ms,
            auto_commit_interval_ms: g.auto_commit_interval_ms,
            auto_offset_reset: g.auto_offset_reset.into(),
            request_timeout_ms: g.request_timeout_ms,
            fetch_max_wait_ms: g.fetch_max_wait_ms,
            start_ms: g.start_ms,
            share: (g.group_type == model::GroupType::Share).then(|| {
                let d = crate::sim::config::ShareConfig::default();
                crate::sim::config::ShareConfig {
                    record_lock_duration_ms: g
                        .record_lock_duration_ms
                        .unwrap_or(d.record_lock_duration_ms),
                    delivery_count_limit: g.delivery_count_limit.unwrap_or(d.delivery_count_limit),
                    partition_max_record_locks: g
                        .partition_max_record_locks
                        .unwrap_or(d.partition_max_record_locks),
                    ..d
                }
            }),
            queue: (!system.is_kafka()).then(|| queue_consumer(system, sc, g)),
        })
        .collect();
    SimConfig {
        seed: sc.scenario.seed,
        stop_at: SimTime::from_ms(sc.scenario.stop_at_ms),
        cluster: ClusterConfig {
            brokers: c.brokers,
            replica_lag_time_max_ms: c.replica_lag_time_max_ms,
            broker_session_timeout_ms: c.broker_session_timeout_ms,
            broker_heartbeat_interval_ms: c.broker_heartbeat_interval_ms,
            replica_fetch_wait_max_ms: c.replica_fetch_wait_max_ms,
            replica_socket_timeout_ms: c.replica_socket_timeout_ms,
            group_initial_rebalance_delay_ms: c.group_initial_rebalance_delay_ms,
            transaction_max_timeout_ms: c.transaction_max_timeout_ms,
            eligible_leader_replicas: c
                .eligible_leader_replicas
                .unwrap_or(DEFAULT_ELIGIBLE_LEADER_REPLICAS),
            replica_recovery: c
                .replica_recovery
                .unwrap_or(DEFAULT_REPLICA_RECOVERY)
                .into(),
            transaction_version: c.transaction_version.unwrap_or(DEFAULT_TRANSACTION_VERSION),
            transaction_partition_verification: c
                .transaction_partition_verification_enable
                .unwrap_or(DEFAULT_TRANSACTION_PARTITION_VERIFICATION),
            system,
        },
        network: NetworkConfig {
            latency_ms: sc.network.latency_ms,
            loss: sc.network.loss,
        },
        topics,
        producers,
        groups,
        faults: lower_faults(sc),
        notes: lower_notes(sc),
    }
}

/// The notes, each anchor resolved to the ids of the things it names.
fn lower_notes(sc: &Scenario) -> Vec<Note> {
    let scope = super::anchor::AnchorScope::of(sc);
    sc.notes
        .iter()
        .map(|n| {
            let at = SimTime::from_ms(n.at_ms);
            Note {
                at,
                text: n.text.clone(),
                anchor: n.after.as_deref().map(|a| {
                    super::anchor::parse_anchor(a, at, &scope)
                        .unwrap_or_else(|e| panic!("validated scenario: {e}"))
                }),
            }
        })
        .collect()
}

/// The ids things get in the core as faults fire: partitions and consumers are numbered in
/// creation order, and `add-partitions` and `add-consumer` faults create them at run time.
struct World<'a> {
    sc: &'a Scenario,
    /// Partition ids of each topic, by index.
    partitions: Vec<Vec<PartitionId>>,
    next_partition: u32,
    /// Consumer ids of each group, by member number.
    consumers: Vec<Vec<ConsumerId>>,
    next_consumer: u32,
}

impl World<'_> {
    fn topic(&self, name: &str) -> TopicId {
        TopicId(
            self.sc
                .topics
                .iter()
                .position(|t| t.name == name)
                .unwrap_or_else(|| panic!("validated scenario: unknown topic `{name}`"))
                as u32,
        )
    }

    fn group(&self, name: &str) -> GroupId {
        GroupId(
            self.sc
                .groups
                .iter()
                .position(|g| g.name == name)
                .unwrap_or_else(|| panic!("validated scenario: unknown group `{name}`"))
                as u32,
        )
    }

    fn producer(&self, name: &str) -> ProducerId {
        ProducerId(
            self.sc
                .producers
                .iter()
                .position(|p| p.name == name)
                .unwrap_or_else(|| panic!("validated scenario: unknown producer `{name}`"))
                as u32,
        )
    }

    fn partition(&self, topic: &str, p: u32) -> PartitionId {
        self.partitions[self.topic(topic).idx()]
            .get(p as usize)
            .copied()
            .unwrap_or_else(|| panic!("validated scenario: no partition {topic}/{p} yet"))
    }

    fn target(&self, s: &str) -> Target {
        let t = Named::parse(s).unwrap_or_else(|e| panic!("validated scenario: {e}"));
        self.named(&t)
    }

    fn named(&self, t: &Named) -> Target {
        // Node ids: the brokers, then the controller, then the declared producers.
        let brokers = self.sc.cluster.brokers;
        match t {
            Named::Broker(n) => Target::Node(NodeId(n - 1)),
            Named::Controller => Target::Node(NodeId(brokers)),
            Named::Producer(name) => Target::Node(NodeId(brokers + 1 + self.producer(name).0)),
            Named::Leader { topic, partition } => {
                Target::LeaderOf(self.partition(topic, *partition))
            }
            Named::Consumer { group, index } => Target::Consumer(
                self.consumers[self.group(group).idx()]
                    .get(*index as usize - 1)
                    .copied()
                    .unwrap_or_else(|| panic!("validated scenario: no {t} yet")),
            ),
        }
    }

    fn link(&self, s: &str) -> (Target, Target) {
        let (a, b) = parse_link(s).unwrap_or_else(|e| panic!("validated scenario: {e}"));
        (self.named(&a), self.named(&b))
    }

    fn lower(&mut self, f: &model::Fault) -> FaultKind {
        use model::FaultAction as A;
        let need = |field: &str| -> ! {
            panic!(
                "validated scenario: a `{}` fault needs `{field}`",
                f.action.name()
            )
        };
        let target = || self.target(f.target.as_deref().unwrap_or_else(|| need("target")));
        let duration = || f.duration_ms.unwrap_or_else(|| need("duration_ms"));
        let count = || f.count.unwrap_or_else(|| need("count"));
        let link = || self.link(f.link.as_deref().unwrap_or_else(|| need("link")));
        match f.action {
            A::Crash => FaultKind::Crash(target()),
            A::Restart => FaultKind::Restart(target()),
            A::Stop => FaultKind::Stop(target()),
            A::Pause => FaultKind::Pause {
                target: target(),
                duration_ms: duration(),
            },
            A::Isolate => FaultKind::Isolate {
                target: target(),
                duration_ms: f.duration_ms,
            },
            A::Partition => FaultKind::Partition {
                sides: f
                    .sides
                    .as_ref()
                    .unwrap_or_else(|| need("sides"))
                    .iter()
                    .map(|side| side.iter().map(|n| self.target(n)).collect())
                    .collect(),
                duration_ms: f.duration_ms,
            },
            A::Heal => FaultKind::Heal,
            A::Drop => {
                let (from, to) = link();
                FaultKind::Drop {
                    from,
                    to,
                    count: count(),
                }
            }
            A::DropAcks => FaultKind::DropAcks {
                producer: self.producer(f.target.as_deref().unwrap_or_else(|| need("target"))),
                count: count(),
            },
            A::Delay => {
                let (from, to) = link();
                FaultKind::Delay {
                    from,
                    to,
                    extra_ms: f.extra_ms.unwrap_or_else(|| need("extra_ms")),
                    duration_ms: duration(),
                }
            }
            A::AddConsumer => {
                let g = self.group(f.group.as_deref().unwrap_or_else(|| need("group")));
                self.consumers[g.idx()].push(ConsumerId(self.next_consumer));
                self.next_consumer += 1;
                FaultKind::AddConsumer(g)
            }
            A::RemoveConsumer => match target() {
                Target::Consumer(c) => FaultKind::RemoveConsumer(c),
                t => panic!("validated scenario: `remove-consumer` of {t:?}"),
            },
            A::ElectPreferred => {
                let s = f.partition.as_deref().unwrap_or_else(|| need("partition"));
                let (topic, p) =
                    parse_topic_partition(s).unwrap_or_else(|e| panic!("validated scenario: {e}"));
                FaultKind::ElectPreferred(self.partition(topic, p))
            }
            A::Zombie => FaultKind::Zombie(
                self.producer(f.target.as_deref().unwrap_or_else(|| need("target"))),
            ),
            A::AddPartitions => {
                let topic = self.topic(f.topic.as_deref().unwrap_or_else(|| need("topic")));
                let count = f.partitions.unwrap_or_else(|| need("partitions"));
                let parts = &mut self.partitions[topic.idx()];
                while (parts.len() as u32) < count {
                    parts.push(PartitionId(self.next_partition));
                    self.next_partition += 1;
                }
                FaultKind::AddPartitions { topic, count }
            }
        }
    }
}

/// The scenario's faults in file order. They are resolved in the order they fire (by time,
/// then file order), since earlier ones may create the partitions and consumers later ones name.
fn lower_faults(sc: &Scenario) -> Vec<FaultSpec> {
    let mut w = World {
        sc,
        partitions: Vec::new(),
        next_partition: 0,
        consumers: Vec::new(),
        next_consumer: 0,
    };
    for t in &sc.topics {
        let first = w.next_partition;
        w.next_partition += t.partitions;
        w.partitions
            .push((first..w.next_partition).map(PartitionId).collect());
    }
    for g in &sc.groups {
        let first = w.next_consumer;
        w.next_consumer += g.consumers;
        w.consumers
            .push((first..w.next_consumer).map(ConsumerId).collect());
    }
    let mut order: Vec<usize> = (0..sc.faults.len()).collect();
    order.sort_by_key(|&i| (sc.faults[i].at_ms, i));
    let mut lowered: BTreeMap<usize, FaultSpec> = BTreeMap::new();
    for i in order {
        let f = &sc.faults[i];
        let kind = w.lower(f);
        lowered.insert(
            i,
            FaultSpec {
                at: SimTime::from_ms(f.at_ms),
                kind,
            },
        );
    }
    lowered.into_values().collect()
}

/// A fault as a scenario file writes it, named as `sim` names things now: for saving a fault
/// injected live.
pub fn raise_fault(spec: &FaultSpec, sim: &Sim) -> model::Fault {
    use model::FaultAction as A;
    let name = |t: Target| Some(sim.target_name(t));
    let link =
        |a: Target, b: Target| Some(format!("{}->{}", sim.target_name(a), sim.target_name(b)));
    let action = match &spec.kind {
        FaultKind::Crash(_) => A::Crash,
        FaultKind::Restart(_) => A::Restart,
        FaultKind::Stop(_) => A::Stop,
        FaultKind::Pause { .. } => A::Pause,
        FaultKind::Isolate { .. } => A::Isolate,
        FaultKind::Partition { .. } => A::Partition,
        FaultKind::Heal => A::Heal,
        FaultKind::Drop { .. } => A::Drop,
        FaultKind::DropAcks { .. } => A::DropAcks,
        FaultKind::Delay { .. } => A::Delay,
        FaultKind::AddConsumer(_) => A::AddConsumer,
        FaultKind::RemoveConsumer(_) => A::RemoveConsumer,
        FaultKind::ElectPreferred(_) => A::ElectPreferred,
        FaultKind::Zombie(_) => A::Zombie,
        FaultKind::AddPartitions { .. } => A::AddPartitions,
    };
    let mut f = model::Fault::new(spec.at.as_ms(), action);
    match &spec.kind {
        FaultKind::Crash(t) | FaultKind::Restart(t) | FaultKind::Stop(t) => f.target = name(*t),
        FaultKind::Pause {
            target,
            duration_ms,
        } => {
            f.target = name(*target);
            f.duration_ms = Some(*duration_ms);
        }
        FaultKind::Isolate {
            target,
            duration_ms,
        } => {
            f.target = name(*target);
            f.duration_ms = *duration_ms;
        }
        FaultKind::Partition { sides, duration_ms } => {
            f.sides = Some(
                sides
                    .iter()
                    .map(|s| s.iter().map(|&t| sim.target_name(t)).collect())
                    .collect(),
            );
            f.duration_ms = *duration_ms;
        }
        FaultKind::Heal => {}
        FaultKind::Drop { from, to, count } => {
            f.link = link(*from, *to);
            f.count = Some(*count);
        }
        FaultKind::DropAcks { producer, count } => {
            f.target = Some(sim.producers()[producer.idx()].name.clone());
            f.count = Some(*count);
        }
        FaultKind::Delay {
            from,
            to,
            extra_ms,
            duration_ms,
        } => {
            f.link = link(*from, *to);
            f.extra_ms = Some(*extra_ms);
            f.duration_ms = Some(*duration_ms);
        }
        FaultKind::AddConsumer(g) => f.group = Some(sim.groups()[g.idx()].name.clone()),
        FaultKind::RemoveConsumer(c) => f.target = name(Target::Consumer(*c)),
        FaultKind::ElectPreferred(p) => f.partition = Some(sim.partition_name(*p)),
        FaultKind::Zombie(p) => f.target = Some(sim.producers()[p.idx()].name.clone()),
        FaultKind::AddPartitions { topic, count } => {
            f.topic = Some(sim.topics()[topic.idx()].name.clone());
            f.partitions = Some(*count);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Target::{Consumer, LeaderOf, Node};
    use crate::sim::anchor::{AnchorKind, AnchorNode};

    const FULL: &str = include_str!("../../tests/fixtures/valid/full.toml");

    fn full() -> Scenario {
        crate::scenario::parse("full.toml", FULL).expect("full.toml is valid")
    }

    #[test]
    fn every_fault_kind_lowers_to_resolved_ids() {
        let config = lower(&full());
        // Nodes: broker-1..5 are 0..4, the controller 5, then checkout 6 and legacy 7.
        // Partitions: orders/0..2 are 0..2, invoices 3..4, orders.dlq 5, orders/3 (added) 6.
        // Consumers: billing 0..1, audit 2, billing/consumer-3 (added) 3.
        let (n, p) = (NodeId, PartitionId);
        let expected = vec![
            (3000, FaultKind::Crash(LeaderOf(p(0)))),
            (9000, FaultKind::Restart(Node(n(0)))),
            (
                4000,
                FaultKind::Pause {
                    target: Consumer(ConsumerId(0)),
                    duration_ms: 2000,
                },
            ),
            (
                5000,
                FaultKind::Isolate {
                    target: Node(n(5)),
                    duration_ms: Some(1000),
                },
            ),
            (
                6000,
                FaultKind::Partition {
                    sides: vec![
                        vec![Node(n(0)), Node(n(1))],
                        vec![Node(n(2)), Node(n(3)), Node(n(4))],
                    ],
                    duration_ms: Some(3000),
                },
            ),
            (9500, FaultKind::Heal),
            (
                10000,
                FaultKind::Drop {
                    from: Node(n(1)),
                    to: Node(n(0)),
                    count: 3,
                },
            ),
            (
                11000,
                FaultKind::DropAcks {
                    producer: ProducerId(0),
                    count: 2,
                },
            ),
            (
                12000,
                FaultKind::Delay {
                    from: Node(n(6)),
                    to: LeaderOf(p(1)),
                    extra_ms: 500,
                    duration_ms: 4000,
                },
            ),
            (13000, FaultKind::AddConsumer(GroupId(0))),
            (14000, FaultKind::RemoveConsumer(ConsumerId(3))),
            (15000, FaultKind::ElectPreferred(p(2))),
            (16000, FaultKind::Zombie(ProducerId(0))),
            (
                17000,
                FaultKind::AddPartitions {
                    topic: TopicId(0),
                    count: 4,
                },
            ),
            (18000, FaultKind::Crash(LeaderOf(p(6)))),
        ];
        let expected: Vec<FaultSpec> = expected
            .into_iter()
            .map(|(at, kind)| FaultSpec {
                at: SimTime::from_ms(at),
                kind,
            })
            .collect();
        assert_eq!(config.faults, expected);
        // Anchors name what faults create with the ids the faults give them: orders/3 is the
        // partition the crash at 18 s targets, billing/consumer-3 the one removed at 14 s.
        let anchors: Vec<(SimTime, Option<AnchorKind>)> = config
            .notes
            .iter()
            .map(|n| (n.at, n.anchor.as_ref().map(|a| a.kind.clone())))
            .collect();
        assert_eq!(
            anchors,
            vec![
                (SimTime::from_ms(3000), None),
                (SimTime::from_ms(17000), Some(AnchorKind::Election(p(6)))),
                (
                    SimTime::ZERO,
                    Some(AnchorKind::Crash(AnchorNode::Consumer(ConsumerId(3))))
                ),
            ]
        );
        assert_eq!(config.notes[0].text, "The leader of orders/0 crashes.");
        assert_eq!(
            config.notes[1].anchor.as_ref().unwrap().not_before,
            SimTime::from_ms(17000)
        );
        // Defaults and names are applied too.
        assert_eq!(
            config.topics[0].assignment.as_ref().unwrap()[1][0],
            BrokerId(1)
        );
        assert!(!config.topics[0].unclean_leader_election);
        assert!(config.topics[1].unclean_leader_election);
        assert_eq!(config.groups[0].dead_letter_topic, Some(TopicId(2)));
        assert_eq!(config.groups[0].output_topic, Some(TopicId(1)));
        assert_eq!(config.producers[0].transactional.as_ref().unwrap().size, 5);
        assert!(!config.producers[1].idempotent);
    }

    #[test]
    fn faults_resolve_in_firing_order() {
        // `add-partitions` faults number new partitions in the order they fire, not file order.
        let text = r#"
[scenario]
title = "t"
[[topics]]
name = "a"
[[topics]]
name = "b"
[[faults]]
at_ms = 500
action = "elect-preferred"
partition = "b/1"
[[faults]]
at_ms = 300
action = "add-partitions"
topic = "b"
partitions = 2
[[faults]]
at_ms = 200
action = "add-partitions"
topic = "a"
partitions = 2
[[faults]]
at_ms = 600
action = "crash"
target = "leader:a/1"
"#;
        let sc = crate::scenario::parse("t.toml", text).expect("valid");
        let kinds: Vec<FaultKind> = lower(&sc).faults.into_iter().map(|f| f.kind).collect();
        assert_eq!(kinds[0], FaultKind::ElectPreferred(PartitionId(3)));
        assert_eq!(kinds[3], FaultKind::Crash(LeaderOf(PartitionId(2))));
    }

    #[test]
    fn raised_faults_name_what_the_scenario_named() {
        // Lower, run (so that added consumers and partitions exist), and raise back: the ids
        // the lowering chose are the ones the simulation gave those names.
        let sc = full();
        let mut sim = Sim::new(&sc);
        sim.run_to_end();
        for (i, f) in sc.faults.iter().enumerate() {
            let mut want = f.clone();
            if let Some(link) = &mut want.link {
                *link = link.replace(" -> ", "->");
            }
            assert_eq!(raise_fault(&sim.faults()[i], &sim), want, "fault {i}");
        }
        assert_eq!(sim.fault_label(0), "crash target=leader:orders/0");
        assert_eq!(
            sim.fault_label(8),
            "delay link=checkout->leader:orders/1 duration_ms=4000"
        );
    }
}
