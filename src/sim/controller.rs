//! The KRaft controller process: broker registrations and the state of every partition.
//!
//! It fences a broker that misses `broker.session.timeout.ms` of heartbeats (KIP-631) and
//! unfences it when it heartbeats again; it elects leaders (the first live ISR replica in
//! replica-list order; failing that, with unclean election enabled, the first live replica;
//! or none, leaving the partition offline), validates AlterPartition requests (KIP-497), runs
//! preferred-leader elections and creates partitions. It also answers clients' Metadata
//! requests.
//!
//! Simplified relative to Kafka: one controller node whose metadata survives its own crash (in
//! Kafka a quorum of controllers replicates the metadata log, so the metadata survives the
//! loss of any one); brokers learn partition state from PartitionChange messages the
//! controller sends them rather than by replicating the metadata log.

use crate::sim::Timer;
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::trace::Trace;
use crate::sim::wire::Msg;

/// The controller's own timers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ControllerTimer {
    /// Fence `broker` unless it heartbeated since (its count is still `heartbeats`).
    SessionCheck { broker: BrokerId, heartbeats: u64 },
}

/// A broker as the controller sees it.
#[derive(Clone, Debug, Default)]
pub struct BrokerRegistration {
    pub fenced: bool,
    pub incarnation: u32,
    pub heartbeats: u64,
}

/// The controller's record of one partition's leadership (the metadata log's
/// `PartitionRecord` / `PartitionChangeRecord`).
#[derive(Clone, Copy, Debug)]
pub struct PartitionState {
    pub leader: Option<BrokerId>,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub isr: BrokerSet,
}

/// The static part of a partition's record: its replica list (the first is the preferred
/// leader) and its topic's election setting.
#[derive(Clone, Debug)]
pub struct PartitionAssignment {
    pub topic: TopicId,
    pub replicas: Vec<BrokerId>,
    pub unclean_leader_election: bool,
}

/// The controller. All of its state is the metadata log's content, so all of it is durable.
#[derive(Clone, Debug, Default)]
pub struct Controller {
    pub brokers: Vec<BrokerRegistration>,
    pub parts: Vec<PartitionState>,
    pub assignments: Vec<PartitionAssignment>,
    /// For each broker, the partitions it hosts, in partition order.
    hosted: Vec<Vec<PartitionId>>,
}

impl Controller {
    pub(crate) fn new(brokers: u32) -> Controller {
        Controller {
            brokers: vec![BrokerRegistration::default(); brokers as usize],
            parts: Vec::new(),
            assignments: Vec::new(),
            hosted: vec![Vec::new(); brokers as usize],
        }
    }

    /// Record a new partition (no leader yet); returns its id.
    pub(crate) fn add_partition(
        &mut self,
        topic: TopicId,
        replicas: Vec<BrokerId>,
        unclean_leader_election: bool,
        state: PartitionState,
    ) -> PartitionId {
        let p = PartitionId(self.parts.len() as u32);
        for &b in &replicas {
            self.hosted[b.idx()].push(p);
        }
        self.assignments.push(PartitionAssignment {
            topic,
            replicas,
            unclean_leader_election,
        });
        self.parts.push(state);
        p
    }

    /// The cluster boots with the first replica leading every partition and the whole replica
    /// list in sync.
    pub(crate) fn boot(&mut self) {
        for (st, a) in self.parts.iter_mut().zip(&self.assignments) {
            *st = PartitionState {
                leader: Some(a.replicas[0]),
                leader_epoch: 0,
                partition_epoch: 0,
                isr: a.replicas.iter().copied().collect(),
            };
        }
    }

    /// A (new) active controller gives every broker a fresh session.
    pub(crate) fn on_start(&mut self, cx: &mut Cx) {
        for b in 0..self.brokers.len() {
            let heartbeats = self.brokers[b].heartbeats;
            cx.set_timer_ms(
                cx.settings().broker_session_timeout_ms,
                Timer::Controller(ControllerTimer::SessionCheck {
                    broker: BrokerId(b as u32),
                    heartbeats,
                }),
            );
        }
    }

    /// The controller died. Its metadata survives (see the module doc), and its timers die
    /// with the process, so there is nothing to forget.
    pub(crate) fn crash(&mut self) {}

    pub(crate) fn on_timer(&mut self, timer: ControllerTimer, cx: &mut Cx) {
        match timer {
            ControllerTimer::SessionCheck { broker, heartbeats } => {
                let reg = &self.brokers[broker.idx()];
                if reg.heartbeats == heartbeats && !reg.fenced {
                    self.fence_broker(broker, cx);
                }
            }
        }
    }

    pub(crate) fn on_message(&mut self, from: NodeId, msg: Msg, cx: &mut Cx) {
        match msg {
            Msg::BrokerHeartbeat {
                broker,
                incarnation,
            } => {
                let reg = &mut self.brokers[broker.idx()];
                reg.heartbeats += 1;
                let heartbeats = reg.heartbeats;
                let restarted = reg.incarnation != incarnation;
                let fenced = reg.fenced;
                reg.incarnation = incarnation;
                if restarted && !fenced {
                    // A broker that re-registers has lost its in-memory state: treat it as
                    // fenced and unfenced again, which moves its leaderships away.
                    self.fence_broker(broker, cx);
                }
                if restarted || fenced {
                    self.unfence_broker(broker, cx);
                }
                cx.set_timer_ms(
                    cx.settings().broker_session_timeout_ms,
                    Timer::Controller(ControllerTimer::SessionCheck { broker, heartbeats }),
                );
            }
            Msg::AlterPartition {
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                let result =
                    self.alter_partition(partition, leader, leader_epoch, partition_epoch, isr, cx);
                cx.send(
                    from,
                    Msg::AlterPartitionResponse {
                        partition,
                        leader_epoch,
                        result,
                    },
                );
            }
            Msg::MetadataRequest { partition, token } => {
                let st = self.parts[partition.idx()];
                cx.send(
                    from,
                    Msg::MetadataResponse {
                        partition,
                        leader: st.leader,
                        token,
                    },
                );
            }
            // Requests for brokers and answers for clients: never addressed to the controller.
            Msg::Produce { .. }
            | Msg::ProduceResponse { .. }
            | Msg::ReplicaFetch { .. }
            | Msg::ReplicaFetchResponse { .. }
            | Msg::ConsumerFetch { .. }
            | Msg::ConsumerFetchResponse { .. }
            | Msg::ListOffsets { .. }
            | Msg::ListOffsetsResponse { .. }
            | Msg::PartitionChange { .. }
            | Msg::AlterPartitionResponse { .. }
            | Msg::WriteTxnMarker { .. }
            | Msg::WriteTxnMarkerResponse { .. }
            | Msg::Txn { .. }
            | Msg::TxnResponse { .. }
            | Msg::MetadataResponse { .. }
            | Msg::Group { .. }
            | Msg::GroupResponse { .. } => {}
        }
    }

    /// Validate a leader's ISR change: it must come from the current leader at the current
    /// epochs, and may not add a fenced broker (KRaft's INELIGIBLE_REPLICA). Returns the
    /// committed ISR and partition epoch, or `None` if refused.
    fn alter_partition(
        &mut self,
        partition: PartitionId,
        leader: BrokerId,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: BrokerSet,
        cx: &mut Cx,
    ) -> Option<(BrokerSet, u32)> {
        let st = self.parts[partition.idx()];
        let valid = !self.brokers[leader.idx()].fenced
            && st.leader == Some(leader)
            && st.leader_epoch == leader_epoch
            && st.partition_epoch == partition_epoch;
        let isr: BrokerSet = isr
            .iter()
            .filter(|&x| !self.brokers[x.idx()].fenced || st.isr.contains(x))
            .collect();
        if !valid || !isr.contains(leader) {
            return None;
        }
        let old = st.isr;
        let st = &mut self.parts[partition.idx()];
        st.isr = isr;
        st.partition_epoch += 1;
        let pe = st.partition_epoch;
        // One IsrChanged per broker that left or joined: an AlterPartition may remove several
        // followers at once, and each is named.
        for changed in BrokerSet(old.0 ^ isr.0).iter() {
            cx.emit(Trace::IsrChanged {
                partition,
                leader,
                isr,
                changed,
                expanded: isr.contains(changed),
            });
        }
        Some((isr, pe))
    }

    fn fence_broker(&mut self, b: BrokerId, cx: &mut Cx) {
        self.brokers[b.idx()].fenced = true;
        let fenced = cx.emit(Trace::BrokerFenced { broker: b });
        // The elections and ISR changes that follow are caused by the fencing.
        cx.caused_by(fenced, |cx| {
            for i in 0..self.hosted[b.idx()].len() {
                let p = self.hosted[b.idx()][i];
                let st = self.parts[p.idx()];
                if st.leader == Some(b) {
                    self.elect_leader(p, false, cx);
                } else if st.isr.contains(b) && st.isr.len() > 1 {
                    let st = &mut self.parts[p.idx()];
                    st.isr.remove(b);
                    st.partition_epoch += 1;
                    let (isr, leader) = (st.isr, st.leader);
                    if let Some(leader) = leader {
                        cx.emit(Trace::IsrChanged {
                            partition: p,
                            leader,
                            isr,
                            changed: b,
                            expanded: false,
                        });
                    }
                    self.publish_partition(p, cx);
                }
            }
        });
    }

    fn unfence_broker(&mut self, b: BrokerId, cx: &mut Cx) {
        self.brokers[b.idx()].fenced = false;
        cx.emit(Trace::BrokerUnfenced { broker: b });
        for i in 0..self.hosted[b.idx()].len() {
            let p = self.hosted[b.idx()][i];
            if self.parts[p.idx()].leader.is_none() {
                self.elect_leader(p, false, cx);
            } else {
                self.send_partition_state(p, b, cx);
            }
        }
    }

    /// Elect a leader for `p` among unfenced replicas: the first in the replica list that is in
    /// the ISR; failing that, with unclean election enabled, the first live replica at all.
    fn elect_leader(&mut self, p: PartitionId, preferred_only: bool, cx: &mut Cx) {
        let a = &self.assignments[p.idx()];
        let st = self.parts[p.idx()];
        let live = |b: BrokerId| !self.brokers[b.idx()].fenced;
        let mut clean = a
            .replicas
            .iter()
            .copied()
            .find(|&b| st.isr.contains(b) && live(b));
        if preferred_only {
            clean = Some(a.replicas[0]).filter(|&b| st.isr.contains(b) && live(b));
            if clean.is_none() || clean == st.leader {
                return;
            }
        }
        let (leader, unclean) = match clean {
            Some(l) => (Some(l), false),
            None if a.unclean_leader_election => {
                (a.replicas.iter().copied().find(|&b| live(b)), true)
            }
            None => (None, false),
        };
        let live_isr: BrokerSet = st.isr.iter().filter(|&b| live(b)).collect();
        let st = &mut self.parts[p.idx()];
        match leader {
            Some(l) => {
                st.leader = Some(l);
                st.leader_epoch += 1;
                st.partition_epoch += 1;
                st.isr = if unclean {
                    BrokerSet::EMPTY.with(l)
                } else {
                    live_isr
                };
                let (epoch, isr) = (st.leader_epoch, st.isr);
                cx.emit(Trace::LeaderElected {
                    partition: p,
                    leader: l,
                    epoch,
                    isr,
                    unclean,
                    preferred: preferred_only,
                });
            }
            None => {
                if st.leader.is_none() {
                    return;
                }
                // KRaft keeps the last ISR member in the ISR of an offline partition.
                st.leader = None;
                st.leader_epoch += 1;
                st.partition_epoch += 1;
                if !live_isr.is_empty() {
                    st.isr = live_isr;
                }
                let epoch = st.leader_epoch;
                cx.emit(Trace::PartitionOffline {
                    partition: p,
                    epoch,
                });
            }
        }
        self.publish_partition(p, cx);
    }

    /// `kafka-leader-election --election-type preferred` for one partition.
    pub(crate) fn elect_preferred(&mut self, p: PartitionId, cx: &mut Cx) {
        self.elect_leader(p, true, cx);
    }

    /// `kafka-topics --alter --partitions total`: create the topic's new partitions, their
    /// replicas spread like the first ones, each led by its first unfenced replica, and tell
    /// their brokers. Returns the first new partition and how many were created.
    pub(crate) fn create_partitions(
        &mut self,
        t: TopicId,
        total: u32,
        cx: &mut Cx,
    ) -> Option<(PartitionId, u32)> {
        let old = self.assignments.iter().filter(|a| a.topic == t).count() as u32;
        let model = self.assignments.iter().find(|a| a.topic == t)?;
        if total <= old {
            return None;
        }
        let (rf, unclean) = (model.replicas.len() as u32, model.unclean_leader_election);
        let brokers = self.brokers.len() as u32;
        let first = PartitionId(self.parts.len() as u32);
        for _ in old..total {
            let start = self.parts.len() as u32;
            let replicas: Vec<BrokerId> =
                (0..rf).map(|j| BrokerId((start + j) % brokers)).collect();
            let live: BrokerSet = replicas
                .iter()
                .copied()
                .filter(|b| !self.brokers[b.idx()].fenced)
                .collect();
            let leader = replicas.iter().copied().find(|&b| live.contains(b));
            let isr = if live.is_empty() {
                replicas.iter().copied().collect()
            } else {
                live
            };
            let state = PartitionState {
                leader,
                leader_epoch: 0,
                partition_epoch: 0,
                isr,
            };
            let p = self.add_partition(t, replicas, unclean, state);
            self.publish_partition(p, cx);
        }
        cx.emit(Trace::PartitionsAdded {
            topic: t,
            first,
            count: total - old,
        });
        Some((first, total - old))
    }

    /// Tell every unfenced replica of `p` its new state (brokers learn through the metadata
    /// log in KRaft; here the controller sends it directly).
    fn publish_partition(&mut self, p: PartitionId, cx: &mut Cx) {
        for i in 0..self.assignments[p.idx()].replicas.len() {
            let b = self.assignments[p.idx()].replicas[i];
            if !self.brokers[b.idx()].fenced {
                self.send_partition_state(p, b, cx);
            }
        }
    }

    fn send_partition_state(&self, p: PartitionId, b: BrokerId, cx: &mut Cx) {
        let st = self.parts[p.idx()];
        cx.send(
            cx.broker_node(b),
            Msg::PartitionChange {
                partition: p,
                leader: st.leader,
                leader_epoch: st.leader_epoch,
                partition_epoch: st.partition_epoch,
                isr: st.isr,
            },
        );
    }
}

impl BrokerSet {
    pub fn with(mut self, b: BrokerId) -> BrokerSet {
        self.insert(b);
        self
    }
}
