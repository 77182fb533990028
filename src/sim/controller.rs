//! The KRaft controller process: broker registrations and the state of every partition.
//!
//! It fences a broker that misses `broker.session.timeout.ms` of heartbeats (KIP-631) and
//! unfences it when it heartbeats again; it elects leaders (the first live ISR replica in
//! replica-list order; failing that, with unclean election enabled, the first live replica;
//! or none, leaving the partition offline), validates AlterPartition requests (KIP-497), runs
//! preferred-leader elections, runs brokers' controlled shutdowns (KIP-631) and creates
//! partitions. It also answers clients' Metadata requests.
//!
//! Simplified relative to Kafka: one controller node whose metadata survives its own crash (in
//! Kafka a quorum of controllers replicates the metadata log, so the metadata survives the
//! loss of any one); brokers learn partition state from PartitionChange messages the
//! controller sends them rather than by replicating the metadata log.

use crate::sim::Timer;
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::replica::Replication;
use crate::sim::trace::Trace;
use crate::sim::wire::Msg;

/// The controller's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ControllerTimer {
    /// Fence `broker` unless it heartbeated since (its count is still `heartbeats`).
    SessionCheck { broker: BrokerId, heartbeats: u64 },
}

/// A broker as the controller sees it.
#[derive(Clone, Debug, Default)]
pub struct BrokerRegistration {
    pub fenced: bool,
    /// In controlled shutdown (KIP-631): not eligible to lead or to join an ISR.
    pub in_controlled_shutdown: bool,
    /// Its last incarnation ended with a granted controlled shutdown: the next registration is
    /// a clean restart (KIP-966 keeps it in the ELR). Kafka learns this from the broker epoch
    /// the broker wrote in its clean-shutdown file; here the controller remembers its grant.
    pub clean_shutdown: bool,
    pub incarnation: u32,
    pub heartbeats: u64,
}

/// The controller's record of one partition's leadership (the metadata log's
/// `PartitionRecord` / `PartitionChangeRecord`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PartitionState {
    pub leader: Option<BrokerId>,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub isr: BrokerSet,
    /// KIP-966's eligible leader replicas: out of the ISR, but known to have every record up
    /// to the HW (the HW stopped when the ISR fell below `min.insync.replicas`).
    pub elr: BrokerSet,
    /// KIP-966's last known ELR: former ISR or ELR members that lost that guarantee (an unclean
    /// shutdown), kept for an operator's recovery.
    pub last_known_elr: BrokerSet,
}

/// The static part of a partition's record: its replica list (the first is the preferred
/// leader) and its topic's election setting.
#[derive(Clone, Debug)]
pub struct PartitionAssignment {
    pub topic: TopicId,
    pub replicas: Vec<BrokerId>,
    pub unclean_leader_election: bool,
    /// The topic's `min.insync.replicas` (the controller reads topic configs for KIP-966).
    pub min_insync_replicas: u32,
}

/// Where one replica's log ends, as its broker last reported it in a heartbeat (queue systems
/// only): the epoch of its last entry, then its log end offset. Ordered like Raft's
/// "at least as up-to-date" by [`LogPosition::rank`] (last term first, then length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPosition {
    pub partition: PartitionId,
    pub last_epoch: u32,
    pub leo: u64,
}

impl LogPosition {
    /// The part that ranks logs: (last epoch, log end offset).
    fn rank(self) -> (u32, u64) {
        (self.last_epoch, self.leo)
    }
}

/// The controller. All of its state is the metadata log's content, so all of it is durable.
#[derive(Clone, Debug, Default)]
pub struct Controller {
    pub brokers: Vec<BrokerRegistration>,
    pub parts: Vec<PartitionState>,
    pub assignments: Vec<PartitionAssignment>,
    /// Queue systems: each partition's replicas' last reported positions, in replica-list
    /// order (empty for Kafka, whose brokers report none).
    positions: Vec<Vec<Option<LogPosition>>>,
    /// For each broker, the partitions it hosts, in partition order.
    hosted: Vec<Vec<PartitionId>>,
}

impl Controller {
    /// The brokers not fenced: those a Metadata response lists as live.
    pub(crate) fn unfenced_brokers(&self) -> BrokerSet {
        self.brokers
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.fenced)
            .map(|(b, _)| BrokerId(b as u32))
            .collect()
    }

    pub(crate) fn new(brokers: u32) -> Controller {
        Controller {
            brokers: vec![BrokerRegistration::default(); brokers as usize],
            parts: Vec::new(),
            assignments: Vec::new(),
            positions: Vec::new(),
            hosted: vec![Vec::new(); brokers as usize],
        }
    }

    /// Record a new partition (no leader yet); returns its id.
    pub(crate) fn add_partition(
        &mut self,
        topic: TopicId,
        replicas: Vec<BrokerId>,
        unclean_leader_election: bool,
        min_insync_replicas: u32,
        state: PartitionState,
    ) -> PartitionId {
        let p = PartitionId(self.parts.len() as u32);
        for &b in &replicas {
            self.hosted[b.idx()].push(p);
        }
        self.positions.push(vec![None; replicas.len()]);
        self.assignments.push(PartitionAssignment {
            topic,
            replicas,
            unclean_leader_election,
            min_insync_replicas,
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
                isr: a.replicas.iter().copied().collect(),
                ..PartitionState::default()
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
            // The controller is a server here; resets of its own pushes change nothing.
            Msg::ConnectionClosed { .. } | Msg::MetadataUpdate { .. } => {}
            Msg::BrokerHeartbeat {
                broker,
                incarnation,
                want_shut_down,
                positions,
            } => {
                self.record_positions(broker, &positions);
                let reg = &mut self.brokers[broker.idx()];
                reg.heartbeats += 1;
                let heartbeats = reg.heartbeats;
                let restarted = reg.incarnation != incarnation;
                let fenced = reg.fenced;
                let clean = std::mem::take(&mut reg.clean_shutdown);
                reg.incarnation = incarnation;
                if restarted && !fenced {
                    // A broker that re-registers has lost its in-memory state: treat it as
                    // fenced and unfenced again, which moves its leaderships away.
                    self.fence_broker(broker, cx);
                }
                if restarted && !clean && cx.settings().eligible_leader_replicas {
                    self.unclean_shutdown(broker, cx);
                }
                if want_shut_down {
                    let should_shut_down = self.controlled_shutdown(broker, cx);
                    cx.send(from, Msg::BrokerHeartbeatResponse { should_shut_down });
                } else if restarted || fenced {
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
                let unfenced = self.unfenced_brokers();
                cx.send(
                    from,
                    Msg::MetadataResponse {
                        partition,
                        leader: st.leader,
                        unfenced,
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
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::WriteTxnMarker { .. }
            | Msg::WriteTxnMarkerResponse { .. }
            | Msg::Txn { .. }
            | Msg::TxnResponse { .. }
            | Msg::MetadataResponse { .. }
            | Msg::Group { .. }
            | Msg::TxnOffsetCommit { .. }
            | Msg::TxnOffsetCommitResponse { .. }
            | Msg::TxnOffsetMarker { .. }
            | Msg::TxnOffsetMarkerResponse { .. }
            | Msg::Share(_)
            | Msg::GroupResponse { .. } => {}
        }
    }

    /// A heartbeat asks to shut down (`ReplicationControlManager.processBrokerHeartbeat` with
    /// `BrokerHeartbeatManager.calculateNextBrokerState`). The first such heartbeat puts the
    /// broker in controlled shutdown (`handleBrokerInControlledShutdown`): every partition it
    /// leads gets a new leader from the rest of its ISR (a clean election, the leader epoch
    /// bumps) and it leaves every ISR it is not the last member of. A later heartbeat is granted
    /// (SHUTDOWN_NOW) once it leads nothing: the controller fences it and answers
    /// ShouldShutDown. A fenced broker may go at once. Returns ShouldShutDown.
    ///
    /// Simplified: Kafka grants the shutdown only once every active broker has replayed the
    /// metadata records that moved the leaderships (`lowestActiveOffset`); here the broker's
    /// next heartbeat, 50 ms later, stands in for that (the links are FIFO, so the stopping
    /// broker itself has applied them).
    fn controlled_shutdown(&mut self, b: BrokerId, cx: &mut Cx) -> bool {
        let reg = &mut self.brokers[b.idx()];
        if reg.fenced {
            return true;
        }
        if !reg.in_controlled_shutdown {
            reg.in_controlled_shutdown = true;
            let ev = cx.emit(Trace::ControlledShutdown {
                broker: b,
                granted: false,
            });
            cx.caused_by(ev, |cx| self.deactivate(b, cx));
            return false;
        }
        if self.parts.iter().any(|st| st.leader == Some(b)) {
            return false;
        }
        self.brokers[b.idx()].fenced = true;
        self.brokers[b.idx()].clean_shutdown = true;
        let ev = cx.emit(Trace::ControlledShutdown {
            broker: b,
            granted: true,
        });
        cx.caused_by(ev, |cx| self.publish_metadata(None, cx));
        true
    }

    /// Validate a leader's ISR change: it must come from the current leader at the current
    /// epochs, and may not add a fenced broker or one in controlled shutdown (KRaft's
    /// INELIGIBLE_REPLICA, KIP-841). Returns the committed ISR and partition epoch, or `None`
    /// if refused.
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
            .filter(|&x| self.is_active(x) || st.isr.contains(x))
            .collect();
        if !valid || !isr.contains(leader) {
            return None;
        }
        let old = st.isr;
        let elr = self.target_elr(partition, old, isr, None, cx);
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
        self.set_elr(partition, elr, cx);
        Some((isr, pe))
    }

    /// Kafka's `ClusterControlManager.isActive`: unfenced and not shutting down, so it may
    /// lead or join an ISR.
    fn is_active(&self, b: BrokerId) -> bool {
        let reg = &self.brokers[b.idx()];
        !reg.fenced && !reg.in_controlled_shutdown
    }

    fn fence_broker(&mut self, b: BrokerId, cx: &mut Cx) {
        self.brokers[b.idx()].fenced = true;
        let fenced = cx.emit(Trace::BrokerFenced { broker: b });
        // The elections and ISR changes that follow are caused by the fencing.
        cx.caused_by(fenced, |cx| {
            self.publish_metadata(None, cx);
            self.deactivate(b, cx);
        });
    }

    /// `b` may no longer lead or be in sync: elect new leaders for the partitions it leads
    /// and take it out of every ISR it is not the last member of.
    fn deactivate(&mut self, b: BrokerId, cx: &mut Cx) {
        for i in 0..self.hosted[b.idx()].len() {
            let p = self.hosted[b.idx()][i];
            let st = self.parts[p.idx()];
            if st.leader == Some(b) {
                self.elect_leader(p, false, cx);
            } else if st.isr.contains(b)
                && (st.isr.len() > 1 || cx.settings().eligible_leader_replicas)
            {
                // Without ELR, KRaft keeps the last member in the ISR; with it (KIP-966) the
                // ISR may become empty and the member moves to the ELR.
                self.remove_from_isr(p, b, None, cx);
            }
        }
    }

    /// Take `b` out of `p`'s ISR (and, after an unclean shutdown, out of its ELR), updating
    /// the ELR.
    fn remove_from_isr(
        &mut self,
        p: PartitionId,
        b: BrokerId,
        unclean_shutdown: Option<BrokerId>,
        cx: &mut Cx,
    ) {
        let old = self.parts[p.idx()].isr;
        let mut isr = old;
        isr.remove(b);
        let elr = self.target_elr(p, old, isr, unclean_shutdown, cx);
        let st = &mut self.parts[p.idx()];
        st.isr = isr;
        st.partition_epoch += 1;
        if let Some(leader) = st.leader
            && old != isr
        {
            cx.emit(Trace::IsrChanged {
                partition: p,
                leader,
                isr,
                changed: b,
                expanded: false,
            });
        }
        self.set_elr(p, elr, cx);
        self.publish_partition(p, cx);
    }

    /// KIP-966 (`PartitionChangeBuilder.maybePopulateTargetElr`): the (ELR, last known ELR)
    /// after `p`'s ISR goes from `old_isr` to `target_isr`. While the ISR is at least
    /// `min.insync.replicas` both are empty; below it, the members leaving the ISR join the
    /// ELR, except a broker back from an unclean shutdown, which goes to the last known ELR.
    /// Without ELR, both stay empty.
    fn target_elr(
        &self,
        p: PartitionId,
        old_isr: BrokerSet,
        target_isr: BrokerSet,
        unclean_shutdown: Option<BrokerId>,
        cx: &Cx,
    ) -> (BrokerSet, BrokerSet) {
        let st = &self.parts[p.idx()];
        let a = &self.assignments[p.idx()];
        // `getTopicEffectiveMinIsr`: at most the replica count.
        let min_isr = a.min_insync_replicas.min(a.replicas.len() as u32);
        if !cx.settings().eligible_leader_replicas || target_isr.len() >= min_isr {
            return (BrokerSet::EMPTY, BrokerSet::EMPTY);
        }
        let candidates = BrokerSet(st.elr.0 | old_isr.0);
        let mut elr = BrokerSet(candidates.0 & !target_isr.0);
        if let Some(u) = unclean_shutdown {
            elr.remove(u);
        }
        let last_known = BrokerSet((candidates.0 | st.last_known_elr.0) & !target_isr.0 & !elr.0);
        (elr, last_known)
    }

    /// Record `p`'s new (ELR, last known ELR), tracing a change.
    fn set_elr(
        &mut self,
        p: PartitionId,
        (elr, last_known_elr): (BrokerSet, BrokerSet),
        cx: &mut Cx,
    ) {
        let st = &mut self.parts[p.idx()];
        if (st.elr, st.last_known_elr) == (elr, last_known_elr) {
            return;
        }
        st.elr = elr;
        st.last_known_elr = last_known_elr;
        cx.emit(Trace::ElrChanged {
            partition: p,
            elr,
            last_known_elr,
        });
    }

    /// A broker registers again after an unclean shutdown (a crash): its log may have lost
    /// records it acknowledged, so KIP-966 takes it out of every ISR and ELR
    /// (`ReplicationControlManager.handleBrokerUncleanShutdown`, KAFKA-15586).
    fn unclean_shutdown(&mut self, b: BrokerId, cx: &mut Cx) {
        for i in 0..self.hosted[b.idx()].len() {
            let p = self.hosted[b.idx()][i];
            let st = self.parts[p.idx()];
            if st.isr.contains(b) || st.elr.contains(b) {
                self.remove_from_isr(p, b, Some(b), cx);
            }
        }
    }

    fn unfence_broker(&mut self, b: BrokerId, cx: &mut Cx) {
        self.brokers[b.idx()].fenced = false;
        self.brokers[b.idx()].in_controlled_shutdown = false;
        cx.emit(Trace::BrokerUnfenced { broker: b });
        self.publish_metadata(None, cx);
        // The returning broker catches up on every partition's leader.
        for p in 0..self.parts.len() {
            cx.send(
                cx.broker_node(b),
                Msg::MetadataUpdate {
                    unfenced: self.unfenced_brokers(),
                    partition: Some((PartitionId(p as u32), self.parts[p].leader)),
                },
            );
        }
        for i in 0..self.hosted[b.idx()].len() {
            let p = self.hosted[b.idx()][i];
            if self.parts[p.idx()].leader.is_none() {
                self.elect_leader(p, false, cx);
            } else {
                self.send_partition_state(p, b, cx);
            }
        }
    }

    /// A heartbeat's report of where `b`'s replicas end.
    fn record_positions(&mut self, b: BrokerId, positions: &[LogPosition]) {
        for pos in positions {
            let p = pos.partition.idx();
            let (Some(slots), Some(a)) = (self.positions.get_mut(p), self.assignments.get(p))
            else {
                continue;
            };
            if let Some(i) = a.replicas.iter().position(|&r| r == b) {
                slots[i] = Some(*pos);
            }
        }
    }

    /// A queue system's failover for `p` (see [`Replication`]). Quorum queues and SQS: Raft,
    /// where a candidate needs the votes of a majority of members and a member votes only for
    /// a log at least as up-to-date as its own, so the winner is the live member with the most
    /// up-to-date log, and without a live majority nobody leads (the minority side is
    /// unavailable). Redis: Sentinel, after `down-after-milliseconds`, promotes the replica
    /// with the greatest replication offset, however few are left, and never checks that it
    /// has what the old primary acknowledged: an unclean election in Kafka's words.
    ///
    /// Simplified: the controller stands in for the votes (Raft) and for the Sentinels'
    /// agreement; it compares the positions brokers last reported in their heartbeats (at most
    /// `broker.heartbeat.interval.ms` old, as Sentinel's INFO polling is), not the logs at
    /// the moment of the election. Queue systems have no preferred-leader election here.
    fn elect_queue_leader(&mut self, p: PartitionId, preferred_only: bool, cx: &mut Cx) {
        if preferred_only {
            return;
        }
        let policy = Replication::of(cx.settings().system);
        let a = &self.assignments[p.idx()];
        let live: Vec<usize> = (0..a.replicas.len())
            .filter(|&i| self.is_active(a.replicas[i]))
            .collect();
        let majority = a.replicas.len() / 2 + 1;
        let enough = policy != Replication::Majority || live.len() >= majority;
        // The most up-to-date live member; on a tie, the first in the replica list.
        let mut best: Option<(usize, (u32, u64))> = None;
        for &i in &live {
            let rank = self.positions[p.idx()][i].map_or((0, 0), LogPosition::rank);
            if best.is_none_or(|(_, r)| rank > r) {
                best = Some((i, rank));
            }
        }
        let leader = best.filter(|_| enough).map(|(i, _)| a.replicas[i]);
        let unclean = policy == Replication::Async;
        match leader {
            Some(l) => {
                // A promoted Redis replica starts with no replica in sync; a Raft leader keeps
                // the live members that were in sync.
                let isr = match policy {
                    Replication::Async => BrokerSet::EMPTY.with(l),
                    _ => live
                        .iter()
                        .map(|&i| a.replicas[i])
                        .filter(|&b| self.parts[p.idx()].isr.contains(b))
                        .collect::<BrokerSet>()
                        .with(l),
                };
                self.record_leader(p, l, isr, (unclean, false, false), cx);
            }
            None => {
                if !self.record_offline(p, None, cx) {
                    return;
                }
            }
        }
        self.publish_partition(p, cx);
    }

    /// `l` leads `p` from a new leader epoch with `isr`; trace the election, `how` being
    /// (unclean, preferred, from the ELR).
    fn record_leader(
        &mut self,
        p: PartitionId,
        l: BrokerId,
        isr: BrokerSet,
        (unclean, preferred, from_elr): (bool, bool, bool),
        cx: &mut Cx,
    ) {
        let st = &mut self.parts[p.idx()];
        st.leader = Some(l);
        st.leader_epoch += 1;
        st.partition_epoch += 1;
        st.isr = isr;
        cx.emit(Trace::LeaderElected {
            partition: p,
            leader: l,
            epoch: st.leader_epoch,
            isr,
            unclean,
            preferred,
            from_elr,
        });
    }

    /// `p` has no leader from a new leader epoch (its ISR becomes `isr` if given); trace it.
    /// False, changing nothing, if it had none already.
    fn record_offline(&mut self, p: PartitionId, isr: Option<BrokerSet>, cx: &mut Cx) -> bool {
        let st = &mut self.parts[p.idx()];
        if st.leader.is_none() {
            return false;
        }
        st.leader = None;
        st.leader_epoch += 1;
        st.partition_epoch += 1;
        if let Some(isr) = isr {
            st.isr = isr;
        }
        cx.emit(Trace::PartitionOffline {
            partition: p,
            epoch: st.leader_epoch,
        });
        true
    }

    /// Elect a leader for `p` among active replicas (`PartitionChangeBuilder.electAnyLeader`):
    /// the first in the replica list that is in the ISR; with ELR (KIP-966), when no ISR
    /// member is left, the first active ELR member (a clean election: it has every record up
    /// to the HW); failing that, with unclean election enabled, the first active replica at
    /// all; else none, and the partition is offline.
    fn elect_leader(&mut self, p: PartitionId, preferred_only: bool, cx: &mut Cx) {
        if !cx.settings().system.is_kafka() {
            return self.elect_queue_leader(p, preferred_only, cx);
        }
        let elr_on = cx.settings().eligible_leader_replicas;
        let a = &self.assignments[p.idx()];
        let st = self.parts[p.idx()];
        let live = |b: BrokerId| self.is_active(b);
        let live_isr: BrokerSet = st.isr.iter().filter(|&b| live(b)).collect();
        let mut clean = a
            .replicas
            .iter()
            .copied()
            .find(|&b| st.isr.contains(b) && live(b));
        // KIP-966: the ELR is updated for the new ISR before the election.
        let (mut elr, last_known) = self.target_elr(p, st.isr, live_isr, None, cx);
        let mut from_elr = false;
        if clean.is_none() && elr_on && live_isr.is_empty() {
            clean = a
                .replicas
                .iter()
                .copied()
                .find(|&b| elr.contains(b) && live(b));
            from_elr = clean.is_some();
        }
        if preferred_only {
            clean = Some(a.replicas[0]).filter(|&b| st.isr.contains(b) && live(b));
            from_elr = false;
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
        match leader {
            Some(l) => {
                let isr = if unclean || from_elr {
                    BrokerSet::EMPTY.with(l)
                } else {
                    live_isr
                };
                elr.remove(l);
                self.record_leader(p, l, isr, (unclean, preferred_only, from_elr), cx);
                // An unclean election clears the ELR (`maybeUpdateRecordElr`).
                let elr = if unclean {
                    (BrokerSet::EMPTY, BrokerSet::EMPTY)
                } else {
                    (elr, last_known)
                };
                self.set_elr(p, elr, cx);
            }
            None => {
                // With ELR the ISR may be empty: its last members wait in the ELR. Without,
                // KRaft keeps the last ISR member in the ISR of an offline partition.
                let isr = (elr_on || !live_isr.is_empty()).then_some(live_isr);
                if !self.record_offline(p, isr, cx) {
                    return;
                }
                self.set_elr(p, (elr, last_known), cx);
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
        let min_isr = model.min_insync_replicas;
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
                isr,
                ..PartitionState::default()
            };
            let p = self.add_partition(t, replicas, unclean, min_isr, state);
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
        self.publish_metadata(Some((p, self.parts[p.idx()].leader)), cx);
    }

    /// Every unfenced broker learns the change (a partition's new leader, or who is fenced), as
    /// KRaft brokers do by replicating the metadata log.
    fn publish_metadata(&self, partition: Option<(PartitionId, Option<BrokerId>)>, cx: &mut Cx) {
        let unfenced = self.unfenced_brokers();
        for b in unfenced.iter() {
            cx.send(
                cx.broker_node(b),
                Msg::MetadataUpdate {
                    unfenced,
                    partition,
                },
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::cx::testkit::{self, advance_to, take_sent, take_trace, timers};
    use crate::sim::{Kernel, NodeKind, SimTime};

    const B1: BrokerId = BrokerId(0);
    const B2: BrokerId = BrokerId(1);
    const B3: BrokerId = BrokerId(2);
    const P: PartitionId = PartitionId(0);
    const ME: NodeId = NodeId(3);

    fn set(brokers: &[BrokerId]) -> BrokerSet {
        brokers.iter().copied().collect()
    }

    fn elected(
        leader: BrokerId,
        epoch: u32,
        isr: &[BrokerId],
        unclean: bool,
        preferred: bool,
    ) -> Trace {
        Trace::LeaderElected {
            partition: P,
            leader,
            epoch,
            isr: set(isr),
            unclean,
            preferred,
            from_elr: false,
        }
    }

    /// The controller alone, with partition 0 on all three brokers, booted (broker-1 leads).
    struct World {
        k: Kernel,
        c: Controller,
    }

    impl World {
        fn new(unclean: bool) -> World {
            let k = testkit::kernel(&[
                NodeKind::Broker(B1),
                NodeKind::Broker(B2),
                NodeKind::Broker(B3),
                NodeKind::Controller,
            ]);
            let mut c = Controller::new(3);
            let leaderless = PartitionState::default();
            c.add_partition(TopicId(0), vec![B1, B2, B3], unclean, 2, leaderless);
            c.boot();
            World { k, c }
        }

        fn deliver(&mut self, from: NodeId, msg: Msg) {
            self.c.on_message(from, msg, &mut Cx::new(&mut self.k, ME));
        }

        fn heartbeat(&mut self, b: BrokerId, incarnation: u32) {
            let msg = Msg::BrokerHeartbeat {
                broker: b,
                incarnation,
                want_shut_down: false,
                positions: Box::default(),
            };
            self.deliver(NodeId(b.0), msg);
        }

        /// `b`'s session expires without a heartbeat.
        fn expire(&mut self, b: BrokerId) {
            let heartbeats = self.c.brokers[b.idx()].heartbeats;
            let timer = ControllerTimer::SessionCheck {
                broker: b,
                heartbeats,
            };
            self.c.on_timer(timer, &mut Cx::new(&mut self.k, ME));
        }

        /// An AlterPartition from `leader`; the controller's answer.
        fn alter(
            &mut self,
            leader: BrokerId,
            epochs: (u32, u32),
            isr: &[BrokerId],
        ) -> Option<(BrokerSet, u32)> {
            let msg = Msg::AlterPartition {
                partition: P,
                leader,
                leader_epoch: epochs.0,
                partition_epoch: epochs.1,
                isr: set(isr),
            };
            self.deliver(NodeId(leader.0), msg);
            match self.sent().pop() {
                Some((to, Msg::AlterPartitionResponse { result, .. })) => {
                    assert_eq!(to, NodeId(leader.0));
                    result
                }
                other => panic!("{other:?}"),
            }
        }

        fn sent(&mut self) -> Vec<(NodeId, Msg)> {
            take_sent(&mut self.k)
                .into_iter()
                .map(|(_, to, msg)| (to, msg))
                .collect()
        }

        /// The PartitionChanges sent: (to, leader, leader epoch).
        fn changes(&mut self) -> Vec<(NodeId, Option<BrokerId>, u32)> {
            self.sent()
                .into_iter()
                .filter_map(|(to, msg)| match msg {
                    Msg::PartitionChange {
                        leader,
                        leader_epoch,
                        ..
                    } => Some((to, leader, leader_epoch)),
                    _ => None,
                })
                .collect()
        }

        fn trace(&mut self) -> Vec<Trace> {
            take_trace(&mut self.k)
                .into_iter()
                .filter(|t| !matches!(t, Trace::Sent { .. } | Trace::Dropped { .. }))
                .collect()
        }

        fn state(&self) -> PartitionState {
            self.c.parts[P.idx()]
        }
    }

    #[test]
    fn a_clean_election_picks_the_first_live_isr_replica() {
        let mut w = World::new(false);
        w.expire(B1);
        assert_eq!(
            w.trace(),
            vec![
                Trace::BrokerFenced { broker: B1 },
                elected(B2, 1, &[B2, B3], false, false),
            ]
        );
        assert_eq!(
            w.changes(),
            vec![(NodeId(1), Some(B2), 1), (NodeId(2), Some(B2), 1)],
            "the fenced broker is not told"
        );
        // broker-2 goes too: broker-3 is the last in-sync replica and takes over.
        w.expire(B2);
        let st = w.state();
        assert_eq!(
            (st.leader, st.leader_epoch, st.isr),
            (Some(B3), 2, set(&[B3]))
        );
    }

    #[test]
    fn an_unclean_election_happens_only_when_enabled() {
        for unclean in [false, true] {
            let mut w = World::new(unclean);
            assert!(
                w.alter(B1, (0, 0), &[B1]).is_some(),
                "the followers fall behind"
            );
            w.trace();
            w.expire(B1);
            let trace = w.trace();
            if unclean {
                assert!(trace.contains(&elected(B2, 1, &[B2], true, false)));
            } else {
                assert!(trace.contains(&Trace::PartitionOffline {
                    partition: P,
                    epoch: 1
                }));
            }
        }
    }

    #[test]
    fn an_offline_partition_keeps_its_last_isr_member_and_it_leads_again() {
        let mut w = World::new(false);
        w.alter(B1, (0, 0), &[B1]);
        w.expire(B1);
        let st = w.state();
        assert_eq!((st.leader, st.isr), (None, set(&[B1])));
        w.sent();
        w.trace();
        // broker-1 comes back: it is the only replica known to have every record.
        w.heartbeat(B1, 0);
        let st = w.state();
        assert_eq!((st.leader, st.leader_epoch), (Some(B1), 2));
        assert_eq!(
            w.trace(),
            vec![
                Trace::BrokerUnfenced { broker: B1 },
                elected(B1, 2, &[B1], false, false),
            ]
        );
    }

    #[test]
    fn a_broker_is_fenced_after_the_session_timeout_without_heartbeats() {
        let mut w = World::new(false);
        w.c.on_start(&mut Cx::new(&mut w.k, ME));
        advance_to(&mut w.k, SimTime::from_ms(5000));
        w.heartbeat(B2, 0);
        let checks: Vec<(SimTime, ControllerTimer)> = timers(&mut w.k)
            .into_iter()
            .filter_map(|(at, _, t)| match t {
                Timer::Controller(c) => Some((at, c)),
                _ => None,
            })
            .collect();
        assert_eq!(checks.len(), 4, "{checks:?}");
        assert!(
            checks[..3]
                .iter()
                .all(|(at, _)| *at == SimTime::from_ms(9000)),
            "broker.session.timeout.ms after the start"
        );
        assert_eq!(
            checks[3].0,
            SimTime::from_ms(14_000),
            "and after the heartbeat"
        );
        advance_to(&mut w.k, SimTime::from_ms(9000));
        for (_, timer) in &checks[..3] {
            w.c.on_timer(*timer, &mut Cx::new(&mut w.k, ME));
        }
        let fenced: Vec<bool> = w.c.brokers.iter().map(|r| r.fenced).collect();
        assert_eq!(fenced, vec![true, false, true]);
        assert!(
            w.trace()
                .iter()
                .all(|t| *t != Trace::BrokerFenced { broker: B2 })
        );
    }

    #[test]
    fn alter_partition_refuses_stale_epochs_and_fenced_brokers() {
        let mut w = World::new(false);
        assert_eq!(w.alter(B1, (0, 0), &[B1, B2]), Some((set(&[B1, B2]), 1)));
        assert_eq!(
            w.trace(),
            vec![Trace::IsrChanged {
                partition: P,
                leader: B1,
                isr: set(&[B1, B2]),
                changed: B3,
                expanded: false,
            }]
        );
        assert_eq!(w.alter(B1, (0, 0), &[B1]), None, "a stale partition epoch");
        assert_eq!(w.alter(B2, (0, 1), &[B2]), None, "not from the leader");
        w.expire(B3);
        let (isr, epoch) = w.alter(B1, (0, 1), &[B1, B2, B3]).expect("valid");
        assert_eq!(
            (isr, epoch),
            (set(&[B1, B2]), 2),
            "a fenced broker is not added"
        );
        assert_eq!(w.state().isr, set(&[B1, B2]));
    }

    #[test]
    fn a_preferred_election_moves_leadership_back_to_the_first_replica() {
        let mut w = World::new(false);
        w.expire(B1);
        w.heartbeat(B1, 0);
        // broker-2 leads (epochs 1, 1); broker-1 caught up and rejoined the ISR.
        assert_eq!(
            w.alter(B2, (1, 1), &[B1, B2, B3]),
            Some((set(&[B1, B2, B3]), 2))
        );
        w.sent();
        w.trace();
        w.c.elect_preferred(P, &mut Cx::new(&mut w.k, ME));
        assert_eq!(w.trace(), vec![elected(B1, 2, &[B1, B2, B3], false, true)]);
        assert_eq!(w.changes().len(), 3, "every replica hears of it");
        w.c.elect_preferred(P, &mut Cx::new(&mut w.k, ME));
        assert!(w.trace().is_empty(), "already the leader: nothing to do");
    }

    #[test]
    fn a_restarted_brokers_heartbeat_fences_and_unfences_it() {
        let mut w = World::new(false);
        w.heartbeat(B1, 0);
        assert!(
            w.trace().is_empty(),
            "the same incarnation: a plain heartbeat"
        );
        w.heartbeat(B1, 1);
        assert_eq!(
            w.trace(),
            vec![
                Trace::BrokerFenced { broker: B1 },
                elected(B2, 1, &[B2, B3], false, false),
                Trace::BrokerUnfenced { broker: B1 },
            ]
        );
        assert_eq!(
            w.changes(),
            vec![
                (NodeId(1), Some(B2), 1),
                (NodeId(2), Some(B2), 1),
                (NodeId(0), Some(B2), 1),
            ],
            "the restarted broker learns who leads now"
        );
        assert!(!w.c.brokers[B1.idx()].fenced);
    }

    #[test]
    fn a_controlled_shutdown_moves_leadership_first_and_then_lets_the_broker_go() {
        let mut w = World::new(false);
        let ask = |w: &mut World| {
            let msg = Msg::BrokerHeartbeat {
                broker: B1,
                incarnation: 0,
                want_shut_down: true,
                positions: Box::default(),
            };
            w.deliver(NodeId(0), msg);
            let sent = w.sent();
            match sent.last() {
                Some((NodeId(0), Msg::BrokerHeartbeatResponse { should_shut_down })) => {
                    *should_shut_down
                }
                other => panic!("{other:?}"),
            }
        };
        assert!(!ask(&mut w), "not yet: it led a partition");
        assert_eq!(
            w.trace(),
            vec![
                Trace::ControlledShutdown {
                    broker: B1,
                    granted: false
                },
                elected(B2, 1, &[B2, B3], false, false),
            ]
        );
        assert!(
            !w.c.brokers[B1.idx()].fenced,
            "still registered and heartbeating"
        );
        // KIP-841: a broker in controlled shutdown may not rejoin the ISR.
        let (isr, _) = w.alter(B2, (1, 1), &[B1, B2, B3]).expect("valid request");
        assert_eq!(isr, set(&[B2, B3]));
        assert!(ask(&mut w), "it leads nothing now");
        assert_eq!(
            w.trace(),
            vec![Trace::ControlledShutdown {
                broker: B1,
                granted: true
            }]
        );
        assert!(w.c.brokers[B1.idx()].fenced);
        // It comes back: a new incarnation is unfenced and may rejoin.
        w.heartbeat(B1, 1);
        assert!(w.trace().contains(&Trace::BrokerUnfenced { broker: B1 }));
        assert!(!w.c.brokers[B1.idx()].in_controlled_shutdown);
        let (isr, _) = w.alter(B2, (1, 2), &[B1, B2, B3]).expect("valid request");
        assert_eq!(isr, set(&[B1, B2, B3]));
    }

    #[test]
    fn a_controlled_shutdown_of_the_last_in_sync_replica_leaves_the_partition_offline() {
        let mut w = World::new(false);
        w.alter(B1, (0, 0), &[B1]);
        w.trace();
        let msg = Msg::BrokerHeartbeat {
            broker: B1,
            incarnation: 0,
            want_shut_down: true,
            positions: Box::default(),
        };
        w.deliver(NodeId(0), msg);
        let st = w.state();
        assert_eq!((st.leader, st.isr), (None, set(&[B1])));
        assert!(w.trace().contains(&Trace::PartitionOffline {
            partition: P,
            epoch: 1
        }));
    }

    fn elr_world() -> World {
        let mut w = World::new(false);
        w.k.settings.eligible_leader_replicas = true;
        w
    }

    #[test]
    fn below_min_isr_the_replicas_leaving_the_isr_become_eligible_leaders() {
        let mut w = elr_world();
        assert!(w.alter(B1, (0, 0), &[B1, B2]).is_some());
        assert_eq!(
            w.state().elr,
            BrokerSet::EMPTY,
            "two in sync: min.insync.replicas holds"
        );
        w.trace();
        assert!(w.alter(B1, (0, 1), &[B1]).is_some());
        let st = w.state();
        assert_eq!((st.isr, st.elr), (set(&[B1]), set(&[B2])));
        assert!(w.trace().contains(&Trace::ElrChanged {
            partition: P,
            elr: set(&[B2]),
            last_known_elr: BrokerSet::EMPTY,
        }));
        // broker-2 catches up: the ISR is back at min.insync.replicas and the ELR is cleared.
        assert!(w.alter(B1, (0, 2), &[B1, B2]).is_some());
        assert_eq!(w.state().elr, BrokerSet::EMPTY);
    }

    #[test]
    fn when_the_isr_empties_an_active_elr_member_is_elected_cleanly() {
        for elr_on in [false, true] {
            let mut w = World::new(false);
            w.k.settings.eligible_leader_replicas = elr_on;
            w.alter(B1, (0, 0), &[B1]);
            w.trace();
            // The last in-sync replica dies.
            w.expire(B1);
            let st = w.state();
            if elr_on {
                assert_eq!((st.leader, st.isr), (Some(B2), set(&[B2])));
                assert_eq!(
                    st.elr,
                    set(&[B1, B3]),
                    "broker-1 joins the ELR in its place"
                );
                let trace = w.trace();
                assert!(trace.contains(&Trace::LeaderElected {
                    partition: P,
                    leader: B2,
                    epoch: 1,
                    isr: set(&[B2]),
                    unclean: false,
                    preferred: false,
                    from_elr: true,
                }));
            } else {
                assert_eq!((st.leader, st.isr), (None, set(&[B1])), "offline");
            }
        }
    }

    #[test]
    fn a_broker_back_from_an_unclean_shutdown_leaves_the_elr() {
        let mut w = elr_world();
        w.alter(B1, (0, 0), &[B1]);
        w.expire(B2);
        w.expire(B3);
        w.expire(B1);
        let st = w.state();
        assert_eq!(
            (st.leader, st.isr, st.elr),
            (None, BrokerSet::EMPTY, set(&[B1, B2, B3]))
        );
        w.trace();
        // broker-2 crashed: its restart is an unclean shutdown.
        w.heartbeat(B2, 1);
        let st = w.state();
        assert_eq!(st.elr, set(&[B1, B3]));
        assert_eq!(st.last_known_elr, set(&[B2]));
        assert_eq!(st.leader, None, "not eligible to lead");
        // broker-3 shut down cleanly (a granted controlled shutdown): it stays and leads.
        w.c.brokers[B3.idx()].clean_shutdown = true;
        w.heartbeat(B3, 1);
        let st = w.state();
        assert_eq!((st.leader, st.isr), (Some(B3), set(&[B3])));
        assert_eq!(st.elr, set(&[B1]));
    }

    #[test]
    fn metadata_requests_are_answered_with_the_leader() {
        let mut w = World::new(false);
        w.expire(B1);
        w.sent();
        let client = NodeId(2);
        w.deliver(
            client,
            Msg::MetadataRequest {
                partition: P,
                token: 5,
            },
        );
        let sent = w.sent();
        assert!(
            matches!(
                sent[..],
                [(
                    NodeId(2),
                    Msg::MetadataResponse {
                        leader: Some(B2),
                        token: 5,
                        ..
                    }
                )]
            ),
            "{sent:?}"
        );
    }

    #[test]
    fn new_partitions_are_spread_and_led_by_a_live_replica() {
        let mut w = World::new(false);
        w.expire(B2);
        w.sent();
        w.trace();
        let created =
            w.c.create_partitions(TopicId(0), 3, &mut Cx::new(&mut w.k, ME));
        assert_eq!(created, Some((PartitionId(1), 2)));
        assert_eq!(w.c.assignments[1].replicas, vec![B2, B3, B1]);
        assert_eq!(w.c.assignments[2].replicas, vec![B3, B1, B2]);
        let p1 = w.c.parts[1];
        assert_eq!(
            (p1.leader, p1.isr),
            (Some(B3), set(&[B1, B3])),
            "broker-2 is fenced"
        );
        assert_eq!(w.c.parts[2].leader, Some(B3));
        assert_eq!(
            w.trace(),
            vec![Trace::PartitionsAdded {
                topic: TopicId(0),
                first: PartitionId(1),
                count: 2
            }]
        );
        assert!(
            w.changes().iter().all(|(to, _, _)| *to != NodeId(1)),
            "the fenced broker is not told"
        );
        assert_eq!(
            w.c.create_partitions(TopicId(0), 3, &mut Cx::new(&mut w.k, ME)),
            None,
            "already 3"
        );
    }
}
