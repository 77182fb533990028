//! Building a [`Sim`] from its [`SimConfig`].

use crate::sim::config::{Acks, CommitMode, ProducerConfig, SimConfig, WorkloadConfig};
use crate::sim::consumer::{Consumer, ConsumerTimer, Group};
use crate::sim::ids::*;
use crate::sim::network::Network;
use crate::sim::producer::{Producer, Workload};
use crate::sim::replication::{BrokerRegistration, Partition, PartitionState};
use crate::sim::txn::TxnClient;
use crate::sim::{Event, NodeKind, NodeState, Settings, Sim, Timer, TopicInfo};

/// Extra simulated time the drain may take beyond the slowest client timeout.
const DRAIN_SLACK_MS: u64 = 30_000;

impl Sim {
    /// Build the world with the config's own seed. A validated scenario lowers into a
    /// config, so `Sim::new(&scenario)` works too.
    pub fn new(config: impl Into<SimConfig>) -> Sim {
        let config = config.into();
        let seed = config.seed;
        Sim::build(config, seed)
    }

    /// Build the world with another seed.
    pub fn with_seed(config: impl Into<SimConfig>, seed: u64) -> Sim {
        Sim::build(config.into(), seed)
    }

    fn build(config: SimConfig, seed: u64) -> Sim {
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
            .map(|g| g.session_timeout_ms + g.request_timeout_ms)
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
        };
        let mut sim = Sim::new_empty(settings);

        // Nodes: brokers first (NodeId == BrokerId), then the controller, then producers.
        for b in 0..c.brokers {
            sim.add_node(
                format!("broker-{}", b + 1),
                NodeKind::Broker(BrokerId(b)),
                None,
            );
        }
        sim.k.controller_node = sim.add_node("controller".to_string(), NodeKind::Controller, None);

        // Topics and partitions. Without an explicit assignment, replicas are spread
        // round-robin over the brokers, shifted per partition, as Kafka's default does.
        let mut shift = 0u32;
        for (t, topic) in config.topics.iter().enumerate() {
            let tid = TopicId(t as u32);
            let unclean = topic.unclean_leader_election;
            let mut parts = Vec::new();
            for i in 0..topic.partitions {
                let assignment: Vec<BrokerId> = match &topic.assignment {
                    Some(a) => a[i as usize].clone(),
                    None => (0..topic.replication_factor)
                        .map(|j| BrokerId((shift + i + j) % c.brokers))
                        .collect(),
                };
                let pid = PartitionId(sim.partitions.len() as u32);
                sim.partitions.push(Partition::new(
                    tid,
                    i,
                    assignment,
                    topic.min_insync_replicas,
                    unclean,
                ));
                parts.push(pid);
            }
            shift += topic.partitions;
            sim.k.topics.push(TopicInfo {
                name: topic.name.clone(),
                partitions: parts,
                min_insync_replicas: topic.min_insync_replicas,
                unclean_leader_election: unclean,
            });
        }

        sim.controller.brokers = vec![BrokerRegistration::default(); c.brokers as usize];
        sim.controller.parts = vec![
            PartitionState {
                leader: None,
                leader_epoch: 0,
                partition_epoch: 0,
                isr: BrokerSet::EMPTY,
            };
            sim.partitions.len()
        ];
        sim.controller.hosted = vec![Vec::new(); c.brokers as usize];
        for (p, part) in sim.partitions.iter().enumerate() {
            for &b in &part.assignment {
                sim.controller.hosted[b.idx()].push(PartitionId(p as u32));
            }
        }

        // Producers.
        for (i, spec) in config.producers.iter().enumerate() {
            let pid = ProducerId(i as u32);
            let node = sim.add_node(spec.name.clone(), NodeKind::Producer(pid), None);
            let topic = spec.topic;
            let workload = match &spec.workload {
                WorkloadConfig::Stream {
                    count,
                    every_ms,
                    start_ms,
                    keys,
                    distribution,
                } => {
                    let keys: Vec<u32> = keys.iter().map(|k| sim.intern_key(k)).collect();
                    let total: f64 = (1..=keys.len()).map(|k| 1.0 / k as f64).sum();
                    let mut acc = 0.0;
                    let zipf_cdf = (1..=keys.len())
                        .map(|k| {
                            acc += 1.0 / k as f64 / total;
                            acc
                        })
                        .collect();
                    Workload::Stream {
                        count: *count,
                        every_ms: *every_ms,
                        start_ms: *start_ms,
                        keys,
                        distribution: *distribution,
                        zipf_cdf,
                    }
                }
                WorkloadConfig::Messages(messages) => {
                    let mut msgs: Vec<(u64, Option<u32>)> = messages
                        .iter()
                        .map(|(at, key)| (*at, key.as_deref().map(|k| sim.intern_key(k))))
                        .collect();
                    msgs.sort_by_key(|m| m.0);
                    Workload::Explicit(msgs)
                }
            };
            let partitions = sim.k.topics[topic.idx()].partitions.clone();
            let mut prod = Producer::new(spec, pid, node, topic, &partitions, workload);
            if let Some(t) = &spec.transactional {
                let txn = sim.txn_index(&t.id, t.timeout_ms);
                prod.txn = Some(TxnClient::new(txn, t.size, partitions.len()));
            }
            sim.producers.push(prod);
        }

        // Groups and their consumers.
        for spec in &config.groups {
            let group: Group = sim.new_group(spec);
            sim.groups.push(group);
        }
        sim.k.net = Network::new(
            sim.k.nodes.len(),
            config.network.latency_ms,
            config.network.loss,
        );
        for (g, spec) in config.groups.iter().enumerate() {
            for _ in 0..spec.consumers {
                sim.create_consumer(GroupId(g as u32));
            }
        }

        sim.boot_cluster();
        sim.start_producers();
        sim.start_consumers();
        for (i, f) in config.faults.iter().enumerate() {
            sim.schedule(f.at, Event::Fault(i as u32));
        }
        for (i, n) in config.notes.iter().enumerate() {
            sim.schedule(n.at, Event::Note(i as u32));
        }
        sim.k.faults = config.faults;
        sim.k.notes = config.notes;
        sim.schedule(stop_at, Event::Stop);
        sim
    }

    // ----- consumers ----------------------------------------------------------------------

    /// Create a consumer application for a group (at build time or for `add-consumer`): its
    /// node, its process with its own copy of the group's configuration, and the producers it
    /// embeds.
    pub(crate) fn create_consumer(&mut self, g: GroupId) -> ConsumerId {
        let id = ConsumerId(self.consumers.len() as u32);
        let n = self.groups[g.idx()].consumers.len() + 1;
        let name = format!("{}/consumer-{}", self.groups[g.idx()].name, n);
        let node = self.add_node(name.clone(), NodeKind::Consumer(id), None);
        self.k.net.ensure_nodes(self.k.nodes.len());
        let group = &self.groups[g.idx()];
        let brokers = self.controller.brokers.len() as u32;
        let consumer = Consumer::new(
            id,
            name,
            node,
            g,
            &group.spec,
            group.partitions.clone(),
            brokers,
        );
        self.consumers.push(consumer);
        self.groups[g.idx()].consumers.push(id);
        if let Some(output) = self.groups[g.idx()].spec.output_topic {
            let p = self.create_embedded_producer(g, id, n, output, "producer");
            self.consumers[id.idx()].producer = Some(p);
        }
        if let Some(dlt) = self.groups[g.idx()].spec.dead_letter_topic {
            let p = self.create_embedded_producer(g, id, n, dlt, "dead-letter");
            // The dead-letter producer is a plain idempotent producer, never transactional.
            self.producers[p.idx()].txn = None;
            self.consumers[id.idx()].dead_letter_producer = Some(p);
        }
        id
    }

    /// `add-consumer`: a new application instance starts now.
    pub(crate) fn add_consumer(&mut self, g: GroupId) {
        let c = self.create_consumer(g);
        self.start_consumer(c);
    }

    /// A producer living in the consumer's process: for a processor's `output_topic` or the
    /// group's `dead_letter_topic`.
    fn create_embedded_producer(
        &mut self,
        g: GroupId,
        c: ConsumerId,
        n: usize,
        topic: TopicId,
        role: &str,
    ) -> ProducerId {
        let group = &self.groups[g.idx()];
        let consumer_name = self.consumers[c.idx()].name.clone();
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
            transactional: None,
            workload: WorkloadConfig::Messages(Vec::new()),
        };
        let transactional_id =
            (group.spec.commit == CommitMode::Transactional).then(|| format!("{}-{n}", group.name));
        let partitions = self.k.topics[topic.idx()].partitions.clone();
        let pid = ProducerId(self.producers.len() as u32);
        // The output producer shares the consumer's node (their messages never collide); the
        // dead-letter producer gets a node of its own so replies and timers reach the right
        // producer, hosted by the consumer's. Both live, die and pause with the consumer's
        // process.
        let node = if role == "producer" {
            self.consumers[c.idx()].node
        } else {
            let host = Some(self.consumers[c.idx()].node);
            let node = self.add_node(spec.name.clone(), NodeKind::Producer(pid), host);
            self.k.net.ensure_nodes(self.k.nodes.len());
            node
        };
        let mut prod = Producer::new(
            &spec,
            pid,
            node,
            topic,
            &partitions,
            Workload::Explicit(Vec::new()),
        );
        if let Some(id) = transactional_id.as_deref() {
            let txn = self.txn_index(id, crate::sim::txn::DEFAULT_TRANSACTION_TIMEOUT_MS);
            prod.txn = Some(crate::sim::txn::TxnClient::new(
                txn,
                u32::MAX,
                partitions.len(),
            ));
        }
        prod.embedded_in = Some(c);
        self.producers.push(prod);
        pid
    }

    /// Each consumer application starts at its group's `start_ms`.
    pub(crate) fn start_consumers(&mut self) {
        for c in &self.consumers {
            let start = c.start_ms();
            self.k
                .set_timer_ms(c.node, start, Timer::Consumer(ConsumerTimer::Start));
        }
    }

    /// A new node, up; `host` is the node whose process it is part of.
    fn add_node(&mut self, name: String, kind: NodeKind, host: Option<NodeId>) -> NodeId {
        let node = NodeId(self.k.nodes.len() as u32);
        self.k.nodes.push(NodeState {
            name,
            kind,
            up: true,
            incarnation: 0,
            paused_until: None,
            host,
        });
        node
    }

    fn intern_key(&mut self, k: &str) -> u32 {
        match self.k.keys.iter().position(|x| x == k) {
            Some(i) => i as u32,
            None => {
                self.k.keys.push(k.to_string());
                (self.k.keys.len() - 1) as u32
            }
        }
    }
}
