//! Building a [`Sim`] from a validated scenario.

use crate::scenario::Scenario;
use crate::sim::consumer::Group;
use crate::sim::ids::*;
use crate::sim::network::Network;
use crate::sim::producer::{Producer, Workload};
use crate::sim::replication::{BrokerRegistration, Partition, PartitionState};
use crate::sim::txn::TxnClient;
use crate::sim::{Event, NodeKind, NodeState, Settings, Sim, TopicInfo};

/// Records per transaction when a transactional producer does not say.
const DEFAULT_TRANSACTION_SIZE: u32 = 10;

/// Extra simulated time the drain may take beyond the slowest client timeout.
const DRAIN_SLACK_MS: u64 = 30_000;

impl Sim {
    /// Build the world for a scenario that passed validation, with its own seed.
    pub fn new(scenario: &Scenario) -> Sim {
        Sim::with_seed(scenario, scenario.scenario.seed)
    }

    /// Build the world for a scenario with another seed.
    pub fn with_seed(scenario: &Scenario, seed: u64) -> Sim {
        let c = &scenario.cluster;
        let stop_at = SimTime::from_ms(scenario.scenario.stop_at_ms);
        let slowest_producer = scenario
            .producers
            .iter()
            .map(|p| p.delivery_timeout_ms.max(p.request_timeout_ms))
            .max()
            .unwrap_or(0);
        let slowest_group = scenario
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
            sim.nodes.push(NodeState {
                name: format!("broker-{}", b + 1),
                kind: NodeKind::Broker(BrokerId(b)),
                up: true,
                incarnation: 0,
                paused_until: None,
            });
        }
        sim.controller_node = NodeId(c.brokers);
        sim.nodes.push(NodeState {
            name: "controller".to_string(),
            kind: NodeKind::Controller,
            up: true,
            incarnation: 0,
            paused_until: None,
        });

        // Topics and partitions. Without an explicit assignment, replicas are spread
        // round-robin over the brokers, shifted per partition, as Kafka's default does.
        let mut shift = 0u32;
        for (t, topic) in scenario.topics.iter().enumerate() {
            let tid = TopicId(t as u32);
            let unclean = topic
                .unclean_leader_election
                .unwrap_or(c.unclean_leader_election);
            let mut parts = Vec::new();
            for i in 0..topic.partitions {
                let assignment: Vec<BrokerId> = match &topic.assignment {
                    Some(a) => a[i as usize].iter().map(|&n| BrokerId(n - 1)).collect(),
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
            sim.topics.push(TopicInfo {
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
        for (i, spec) in scenario.producers.iter().enumerate() {
            let pid = ProducerId(i as u32);
            let node = NodeId(sim.nodes.len() as u32);
            sim.nodes.push(NodeState {
                name: spec.name.clone(),
                kind: NodeKind::Producer(pid),
                up: true,
                incarnation: 0,
                paused_until: None,
            });
            let topic = topic_id(&sim, &spec.topic);
            let workload = match &spec.send {
                Some(send) => {
                    let keys: Vec<u32> = send.keys.iter().map(|k| sim.intern_key(k)).collect();
                    let total: f64 = (1..=keys.len()).map(|k| 1.0 / k as f64).sum();
                    let mut acc = 0.0;
                    let zipf_cdf = (1..=keys.len())
                        .map(|k| {
                            acc += 1.0 / k as f64 / total;
                            acc
                        })
                        .collect();
                    Workload::Stream {
                        count: send.count,
                        every_ms: send.every_ms,
                        start_ms: send.start_ms,
                        keys,
                        distribution: send.key_distribution,
                        zipf_cdf,
                    }
                }
                None => {
                    let mut msgs: Vec<(u64, Option<u32>)> = spec
                        .messages
                        .iter()
                        .map(|m| (m.at_ms, m.key.as_deref().map(|k| sim.intern_key(k))))
                        .collect();
                    msgs.sort_by_key(|m| m.0);
                    Workload::Explicit(msgs)
                }
            };
            let partitions = sim.topics[topic.idx()].partitions.clone();
            let mut prod = Producer::new(spec, pid, node, topic, &partitions, workload);
            if let Some(id) = &spec.transactional_id {
                let txn = sim.txn_index(id, spec.transaction_timeout_ms);
                let size = spec.transaction_size.unwrap_or(DEFAULT_TRANSACTION_SIZE);
                prod.txn = Some(TxnClient::new(txn, size, partitions.len()));
            }
            sim.producers.push(prod);
        }

        // Groups and their consumers.
        for spec in &scenario.groups {
            let topic = topic_id(&sim, &spec.topic);
            let group: Group = sim.new_group(spec, topic);
            sim.groups.push(group);
        }
        sim.net = Network::new(
            sim.nodes.len(),
            scenario.network.latency_ms,
            scenario.network.loss,
        );
        for (g, spec) in scenario.groups.iter().enumerate() {
            for _ in 0..spec.consumers {
                sim.create_consumer(GroupId(g as u32));
            }
        }

        sim.faults = scenario.faults.clone();
        sim.notes = scenario.notes.clone();

        sim.boot_cluster();
        sim.start_producers();
        sim.start_consumers();
        for (i, f) in scenario.faults.iter().enumerate() {
            sim.schedule(SimTime::from_ms(f.at_ms), Event::Fault(i as u32));
        }
        for (i, n) in scenario.notes.iter().enumerate() {
            sim.schedule(SimTime::from_ms(n.at_ms), Event::Note(i as u32));
        }
        sim.schedule(stop_at, Event::Stop);
        sim
    }

    fn intern_key(&mut self, k: &str) -> u32 {
        match self.keys.iter().position(|x| x == k) {
            Some(i) => i as u32,
            None => {
                self.keys.push(k.to_string());
                (self.keys.len() - 1) as u32
            }
        }
    }
}

fn topic_id(sim: &Sim, name: &str) -> TopicId {
    TopicId(
        sim.topics
            .iter()
            .position(|t| t.name == name)
            .expect("validated topic") as u32,
    )
}
