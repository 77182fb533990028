//! Building a [`Sim`] from its [`SimConfig`].

use std::rc::Rc;

use crate::sim::broker::Broker;
use crate::sim::config::{
    Acks, CommitMode, KeyDistribution, ProducerConfig, SimConfig, WorkloadConfig,
};
use crate::sim::consumer::{Consumer, ConsumerTimer};
use crate::sim::controller::{Controller, PartitionState};
use crate::sim::group_coordinator::GroupCoordinator;
use crate::sim::ids::*;
use crate::sim::network::Network;
use crate::sim::partitioner::murmur2;
use crate::sim::producer::{Producer, Transactional, Workload};
use crate::sim::queue_policy::QueuePolicy;
use crate::sim::replica::Partition;
use crate::sim::{Event, NodeKind, NodeState, Settings, Sim, Timer, TopicInfo};

/// Extra simulated time the drain may take beyond the slowest client timeout.
const DRAIN_SLACK_MS: u64 = 30_000;

/// Build the world from `config`, run with `seed`.
pub(super) fn build(mut config: SimConfig, seed: u64) -> Sim {
    // A RabbitMQ, SQS or Redis group delivers through the share-partition machinery, with
    // its system's policy standing in for a share group's settings.
    let policies: Vec<Option<QueuePolicy>> = config
        .groups
        .iter()
        .map(|g| {
            g.queue.map(|q| {
                let fifo = config.topics[g.topic.idx()].fifo;
                QueuePolicy::new(
                    config.cluster.system,
                    &q,
                    fifo,
                    g.dead_letter_topic.is_some(),
                )
            })
        })
        .collect();
    for (g, policy) in config.groups.iter_mut().zip(&policies) {
        if let Some(policy) = policy {
            g.share = Some(policy.share);
        }
    }
    let c = &config.cluster;
    let stop_at = config.stop_at;
    let slowest_producer = config
        .producers
        .iter()
        .map(|p| p.delivery_timeout_ms.max(p.request_timeout_ms))
        .max()
        .unwrap_or(0);
    let slowest_group = config
        .groups
        .iter()
        .map(|g| {
            // A share group's drain waits for a dead member's locks to run out.
            let locks = g.share.map_or(0, |s| s.record_lock_duration_ms);
            g.session_timeout_ms + g.request_timeout_ms + locks
        })
        .max()
        .unwrap_or(0);
    let drain_ms = slowest_producer
        .max(slowest_group)
        .max(c.broker_session_timeout_ms)
        + DRAIN_SLACK_MS;
    let settings = Settings {
        seed,
        stop_at,
        drain_limit: stop_at.plus_ms(drain_ms),
        replica_lag_time_max_ms: c.replica_lag_time_max_ms,
        broker_session_timeout_ms: c.broker_session_timeout_ms,
        broker_heartbeat_interval_ms: c.broker_heartbeat_interval_ms,
        replica_fetch_wait_max_ms: c.replica_fetch_wait_max_ms,
        replica_socket_timeout_ms: c.replica_socket_timeout_ms,
        group_initial_rebalance_delay_ms: c.group_initial_rebalance_delay_ms,
        transaction_max_timeout_ms: c.transaction_max_timeout_ms,
        eligible_leader_replicas: c.eligible_leader_replicas,
        replica_recovery: c.replica_recovery,
        transaction_version: c.transaction_version,
        transaction_partition_verification: c.transaction_partition_verification,
        system: c.system,
    };
    let mut sim = Sim::new_empty(settings);
    // Keyed by the configuration's own strings: a sweep builds a world per seed, and copying
    // every name into the index too was a cost of its own with 10 000 keys.
    let listed = config.producers.iter().map(|p| match &p.workload {
        WorkloadConfig::Stream { keys, .. } => keys.len(),
        WorkloadConfig::Messages(messages) => messages.len(),
    });
    let mut key_index = KeyIndex::with_room_for(listed.sum());

    // Nodes: brokers first (NodeId == BrokerId), then the controller, then producers.
    for b in 0..c.brokers {
        add_node(
            &mut sim,
            format!("broker-{}", b + 1),
            NodeKind::Broker(BrokerId(b)),
            None,
        );
    }
    sim.k.controller_node = add_node(
        &mut sim,
        "controller".to_string(),
        NodeKind::Controller,
        None,
    );

    sim.brokers = (0..c.brokers).map(|b| Broker::new(BrokerId(b))).collect();
    sim.controller = Controller::new(c.brokers);

    // Topics and partitions. Without an explicit assignment, replicas are spread
    // round-robin over the brokers, shifted per partition, as Kafka's default does.
    let mut shift = 0u32;
    for (t, topic) in config.topics.iter().enumerate() {
        let tid = TopicId(t as u32);
        let unclean = topic.unclean_leader_election;
        sim.k.topics.push(TopicInfo {
            name: topic.name.clone(),
            partitions: Vec::new(),
            min_insync_replicas: topic.min_insync_replicas,
            unclean_leader_election: unclean,
        });
        for i in 0..topic.partitions {
            let assignment: Vec<BrokerId> = match &topic.assignment {
                Some(a) => a[i as usize].clone(),
                None => (0..topic.replication_factor)
                    .map(|j| BrokerId((shift + i + j) % c.brokers))
                    .collect(),
            };
            // The leader is decided at boot.
            let leaderless = PartitionState::default();
            let min_isr = topic.min_insync_replicas;
            sim.controller
                .add_partition(tid, assignment.clone(), unclean, min_isr, leaderless);
            provision_partition(&mut sim, tid, assignment);
        }
        shift += topic.partitions;
    }

    // Producers.
    for (i, spec) in config.producers.iter().enumerate() {
        let pid = ProducerId(i as u32);
        let node = add_node(&mut sim, spec.name.clone(), NodeKind::Producer(pid), None);
        let topic = spec.topic;
        let workload = match &spec.workload {
            WorkloadConfig::Stream {
                count,
                every_ms,
                start_ms,
                keys,
                distribution,
            } => {
                let keys: Vec<u32> = keys
                    .iter()
                    .map(|k| intern_key(Rc::make_mut(&mut sim.k.keys), &mut key_index, k))
                    .collect();
                // Only a Zipf workload draws from the cumulative distribution.
                let zipf_cdf = if *distribution == KeyDistribution::Zipf {
                    let total: f64 = (1..=keys.len()).map(|k| 1.0 / k as f64).sum();
                    let mut acc = 0.0;
                    (1..=keys.len())
                        .map(|k| {
                            acc += 1.0 / k as f64 / total;
                            acc
                        })
                        .collect()
                } else {
                    Rc::from([])
                };
                Workload::Stream {
                    count: *count,
                    every_ms: *every_ms,
                    start_ms: *start_ms,
                    keys: keys.into(),
                    distribution: *distribution,
                    zipf_cdf,
                }
            }
            WorkloadConfig::Messages(messages) => {
                let mut msgs: Vec<(u64, Option<u32>)> = messages
                    .iter()
                    .map(|(at, key)| {
                        (
                            *at,
                            key.as_deref().map(|k| {
                                intern_key(Rc::make_mut(&mut sim.k.keys), &mut key_index, k)
                            }),
                        )
                    })
                    .collect();
                msgs.sort_by_key(|m| m.0);
                Workload::Explicit(msgs.into())
            }
        };
        let partitions = sim.k.topics[topic.idx()].partitions.clone();
        let mut prod = Producer::new(spec, pid, node, topic, &partitions, workload);
        if let Some(t) = &spec.transactional {
            let txn = sim.txn_index(&t.id, t.timeout_ms);
            prod.set_transactional(Some(Transactional {
                txn,
                size: t.size,
                timeout_ms: t.timeout_ms,
            }));
        }
        sim.producers.push(prod);
    }
    // The message ledger needs no pre-sizing: it grows a fixed-size chunk at a time, never by
    // copying what it holds (`ChunkedVec`).

    // Groups and their consumers.
    for (g, spec) in config.groups.iter().enumerate() {
        let partitions = sim.k.topics[spec.topic.idx()].partitions.clone();
        let group = GroupCoordinator::new(GroupId(g as u32), spec, partitions);
        sim.k.group_names.push(spec.name.clone());
        sim.k
            .share_configs
            .push(spec.share.map(|c| (c, spec.auto_offset_reset)));
        sim.k.queue_policies.push(policies[g]);
        // A queue's consumers have no group coordinator: they all read the one queue.
        if let (Some(share), None) = (spec.share, spec.queue) {
            sim.share_groups
                .push(crate::sim::share_group::ShareGroup::new(
                    GroupId(g as u32),
                    &spec.name,
                    group.partitions.clone(),
                    share,
                ));
        }
        sim.groups.push(group);
    }
    // Brokers and then the controller come first: those are the servers.
    let servers = sim.k.controller_node.idx() + 1;
    sim.k.net = Network::new(
        sim.k.nodes.len(),
        servers,
        config.network.latency_ms,
        config.network.loss,
    );
    for (g, spec) in config.groups.iter().enumerate() {
        for _ in 0..spec.consumers {
            create_consumer(&mut sim, GroupId(g as u32));
        }
    }

    sim.boot_cluster();
    sim.start_coordinators();
    // Every producer starts with what a first Metadata request would return.
    for p in 0..sim.producers.len() {
        let bootstrap = sim.bootstrap_metadata(sim.producers[p].topic);
        sim.with_producer(ProducerId(p as u32), |prod, cx| {
            prod.on_start(&bootstrap, cx)
        });
    }
    start_consumers(&mut sim);
    for (i, f) in config.faults.iter().enumerate() {
        sim.schedule(f.at, Event::Fault(i as u32));
    }
    for (i, n) in config.notes.iter().enumerate() {
        if n.anchor.is_some() {
            // Shown by `emit` right after its event.
            sim.k.waiting_notes.push(i as u32);
        } else {
            sim.schedule(n.at, Event::Note(i as u32));
        }
    }
    sim.k.faults = config.faults;
    sim.k.notes = config.notes;
    sim.schedule(stop_at, Event::Stop);
    sim
}

/// Add a partition of topic `t` to the world: its static configuration, and a replica with
/// an empty log on every broker in `assignment`.
pub(super) fn provision_partition(sim: &mut Sim, t: TopicId, assignment: Vec<BrokerId>) {
    let pid = PartitionId(sim.partitions.len() as u32);
    let topic = &mut sim.k.topics[t.idx()];
    let index = topic.partitions.len() as u32;
    topic.partitions.push(pid);
    let min_isr = topic.min_insync_replicas;
    for &b in &assignment {
        sim.brokers[b.idx()].add_replica(pid, &assignment, min_isr);
    }
    sim.partitions.push(Partition {
        topic: t,
        index,
        assignment,
        min_insync_replicas: min_isr,
        unclean_leader_election: topic.unclean_leader_election,
    });
}

/// Key name to id while the world is built: an open-addressing table on the key's murmur2
/// hash, sized up front for every key the scenario lists (it doubles only if more come). A
/// probe compares hashes, and strings only where two hashes are equal (the same key, or a rare
/// collision, which the string tells apart). Only looked up, never iterated: ids follow first
/// sight, so the table's layout cannot reach the run. The bench lists up to 100 000 distinct
/// keys; an ordered map took 865 instructions a key, and a sweep builds a world per seed.
struct KeyIndex<'a> {
    /// (hash, key, id), or `None` where free; a power of two at least twice the keys.
    slots: Vec<Option<(i32, &'a str, u32)>>,
    /// Keys in it.
    len: usize,
}

impl<'a> KeyIndex<'a> {
    fn with_room_for(keys: usize) -> KeyIndex<'a> {
        KeyIndex {
            slots: vec![None; (keys * 2).max(1).next_power_of_two()],
            len: 0,
        }
    }

    /// Put `key` (hash `hash`, id `id`) in the free slot `free` that [`Self::find`] gave.
    fn insert(&mut self, free: usize, hash: i32, key: &'a str, id: u32) {
        self.slots[free] = Some((hash, key, id));
        self.len += 1;
        if self.len * 2 > self.slots.len() {
            // More keys than the scenario listed (not expected): keep half the table free.
            let bigger = vec![None; self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, bigger);
            for (hash, key, id) in old.into_iter().flatten() {
                if let Err(at) = self.find(hash, key) {
                    self.slots[at] = Some((hash, key, id));
                }
            }
        }
    }

    /// The id of `key` (hash `hash`), or where it goes: the first free slot of its probe.
    fn find(&self, hash: i32, key: &str) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let mut at = hash as u32 as usize & mask;
        loop {
            match self.slots[at] {
                None => return Err(at),
                Some((h, k, id)) if h == hash && k == key => return Ok(id),
                Some(_) => at = (at + 1) & mask,
            }
        }
    }
}

/// The id of key `k`, interning it on first sight.
fn intern_key<'a>(keys: &mut Vec<String>, index: &mut KeyIndex<'a>, k: &'a str) -> u32 {
    let hash = murmur2(k.as_bytes());
    match index.find(hash, k) {
        Ok(id) => id,
        Err(free) => {
            let id = keys.len() as u32;
            index.insert(free, hash, k, id);
            keys.push(k.to_string());
            id
        }
    }
}

// ----- consumers ----------------------------------------------------------------------------

/// Create a consumer application for a group (at build time or for `add-consumer`): its node,
/// its process with its own copy of the group's configuration, and the producers it embeds.
pub(super) fn create_consumer(sim: &mut Sim, g: GroupId) -> ConsumerId {
    let id = ConsumerId(sim.consumers.len() as u32);
    let n = sim.groups[g.idx()].consumers.len() + 1;
    let name = format!("{}/consumer-{}", sim.groups[g.idx()].name, n);
    let node = add_node(sim, name.clone(), NodeKind::Consumer(id), None);
    sim.k.net.ensure_nodes(sim.k.nodes.len());
    let group = &sim.groups[g.idx()];
    let brokers = sim.controller.brokers.len() as u32;
    let consumer = Consumer::new(
        id,
        name,
        node,
        g,
        &group.spec,
        group.partitions.clone(),
        brokers,
    );
    sim.consumers.push(consumer);
    sim.groups[g.idx()].consumers.push(id);
    if let Some(output) = sim.groups[g.idx()].spec.output_topic {
        let p = create_embedded_producer(sim, g, id, n, output, "producer");
        sim.consumers[id.idx()].producer = Some(p);
    }
    if let Some(dlt) = sim.groups[g.idx()].spec.dead_letter_topic {
        let p = create_embedded_producer(sim, g, id, n, dlt, "dead-letter");
        // The dead-letter producer is a plain idempotent producer, never transactional.
        sim.producers[p.idx()].set_transactional(None);
        sim.consumers[id.idx()].dead_letter_producer = Some(p);
    }
    id
}

/// A producer living in the consumer's process: for a processor's `output_topic` or the group's
/// `dead_letter_topic`.
fn create_embedded_producer(
    sim: &mut Sim,
    g: GroupId,
    c: ConsumerId,
    n: usize,
    topic: TopicId,
    role: &str,
) -> ProducerId {
    let group = &sim.groups[g.idx()];
    let consumer_name = sim.consumers[c.idx()].name.clone();
    let spec = ProducerConfig {
        name: format!("{consumer_name}/{role}"),
        topic,
        acks: Acks::All,
        retries: i32::MAX as u32,
        idempotent: true,
        max_in_flight: 5,
        request_timeout_ms: group.spec.request_timeout_ms,
        delivery_timeout_ms: 120_000,
        retry_backoff_ms: 100,
        retry_backoff_max_ms: 1000,
        linger_ms: 0,
        max_batch_records: group.spec.max_poll_records,
        partitioner: Default::default(),
        adaptive_partitioning: true,
        availability_timeout_ms: 0,
        transactional: None,
        workload: WorkloadConfig::Messages(Vec::new()),
    };
    let transactional_id =
        (group.spec.commit == CommitMode::Transactional).then(|| format!("{}-{n}", group.name));
    let partitions = sim.k.topics[topic.idx()].partitions.clone();
    let pid = ProducerId(sim.producers.len() as u32);
    // The output producer shares the consumer's node (their messages never collide); the
    // dead-letter producer gets a node of its own so replies and timers reach the right
    // producer, hosted by the consumer's. Both live, die and pause with the consumer's process.
    let node = if role == "producer" {
        sim.consumers[c.idx()].node
    } else {
        let host = Some(sim.consumers[c.idx()].node);
        let node = add_node(sim, spec.name.clone(), NodeKind::Producer(pid), host);
        sim.k.net.ensure_nodes(sim.k.nodes.len());
        node
    };
    let mut prod = Producer::new(
        &spec,
        pid,
        node,
        topic,
        &partitions,
        Workload::Explicit(Rc::from([])),
    );
    if let Some(id) = transactional_id.as_deref() {
        let txn = sim.txn_index(id, crate::sim::txn_client::DEFAULT_TRANSACTION_TIMEOUT_MS);
        prod.set_transactional(Some(Transactional {
            txn,
            size: u32::MAX,
            timeout_ms: crate::sim::txn_client::DEFAULT_TRANSACTION_TIMEOUT_MS,
        }));
    }
    prod.embedded_in = Some(c);
    sim.producers.push(prod);
    pid
}

/// Each consumer application starts at its group's `start_ms`.
pub(super) fn start_consumers(sim: &mut Sim) {
    for c in &sim.consumers {
        let start = c.start_ms();
        sim.k
            .set_timer_ms(c.node, start, Timer::Consumer(ConsumerTimer::Start));
    }
}

/// A new node, up; `host` is the node whose process it is part of.
pub(super) fn add_node(
    sim: &mut Sim,
    name: String,
    kind: NodeKind,
    host: Option<NodeId>,
) -> NodeId {
    let node = NodeId(sim.k.nodes.len() as u32);
    sim.k.nodes.push(NodeState {
        name,
        kind,
        up: true,
        incarnation: 0,
        paused_until: None,
        host,
    });
    node
}

#[cfg(test)]
mod key_index_tests {
    use super::*;

    #[test]
    fn keys_get_ids_in_order_of_first_sight_past_the_room_made_for_them() {
        let names: Vec<String> = (0..100).map(|i| format!("k{}", i % 37)).collect();
        let mut keys = Vec::new();
        // Room for 3: the table grows, and every id stays where it was given.
        let mut index = KeyIndex::with_room_for(3);
        let ids: Vec<u32> = names
            .iter()
            .map(|k| intern_key(&mut keys, &mut index, k))
            .collect();
        let expected: Vec<u32> = (0..100).map(|i| (i % 37) as u32).collect();
        assert_eq!(ids, expected);
        assert_eq!(keys.len(), 37);
        assert_eq!(keys[36], "k36");
        assert!(index.slots.len() >= 74, "half the table stays free");
    }
}
