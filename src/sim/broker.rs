//! The broker process: it hosts replicas and serves their requests.
//!
//! A broker heartbeats to the controller (KIP-631), runs the ISR expiration check for the
//! partitions it leads, applies the controller's PartitionChange records, and routes produce,
//! replica fetch, consumer fetch, ListOffsets and WriteTxnMarkers requests to the replica of
//! the partition they name (see [`crate::sim::replica`]).
//!
//! The group and transaction coordinators a broker hosts are separate parts of the same
//! process: the event loop hands them their own requests.
//!
//! Simplified relative to Kafka: brokers learn partition state from PartitionChange messages
//! the controller sends them, not by replaying the metadata log; a restarted broker
//! re-registers with its next heartbeat.

use crate::sim::Timer;
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::replica::{
    ConsumerFetchRequest, MarkerRequest, PartitionChange, ProduceRequest, Replica,
    ReplicaFetchRequest, VerifyRequest,
};
use crate::sim::wire::{
    FetchSession, Msg, ProduceResult, ReplicaFetchResult, TxnRequest, TxnResponse,
};

/// A broker's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BrokerTimer {
    /// `broker.heartbeat.interval.ms`
    Heartbeat,
    /// The quick second heartbeat of a controlled shutdown (one, 50 ms after the first answer:
    /// `BrokerLifecycleManager`'s "a little bit sooner than we usually would").
    ShutdownHeartbeat,
    /// The ISR expiration check, every half `replica.lag.time.max.ms`.
    IsrCheck,
    /// Answer parked fetches whose wait is over (one pending per replica).
    DelayedFetchExpire { partition: PartitionId },
    /// Check a follower's fetch against `replica.socket.timeout.ms` (one pending per replica).
    FollowerFetchTimeout { partition: PartitionId },
    /// Fetch again after `replica.fetch.backoff.ms`, unless the session moved on.
    FollowerFetchRetry {
        partition: PartitionId,
        session: FetchSession,
    },
}

/// Where a broker is in a controlled shutdown (`BrokerLifecycleManager`'s states).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shutdown {
    #[default]
    Running,
    /// Its heartbeats ask to shut down; `answered` once the controller first said "not yet".
    Pending { answered: bool },
}

/// How long after the controller's first "not yet" a shutting-down broker heartbeats again
/// (`BrokerLifecycleManager`, Kafka 3.x/4.x: 50 ms).
const SHUTDOWN_HEARTBEAT_MS: u64 = 50;

/// [`Broker::slot_of`] for a partition the broker hosts no replica of.
const NOT_HOSTED: u32 = u32::MAX;

/// One broker. Its replicas each keep their disk across a crash and lose their memory; the
/// broker itself holds only its metadata copy and, in memory, its shutdown state.
#[derive(Clone, Debug)]
pub struct Broker {
    pub id: BrokerId,
    /// The replicas this broker hosts, in partition order.
    replicas: Vec<Replica>,
    /// Where each partition's replica sits in `replicas`, indexed by partition id
    /// ([`NOT_HOSTED`] if none): every request finds its replica in one read, not a binary
    /// search over a few hundred replicas of several cache lines each.
    slot_of: Vec<u32>,
    /// Its copy of the cluster metadata (durable, like KRaft's local metadata log), which the
    /// coordinators it hosts read.
    pub(crate) metadata: crate::sim::coordinator::MetadataCache,
    /// Volatile: a crash forgets a shutdown under way.
    shutdown: Shutdown,
    /// The share partitions it leads (KIP-932), in memory.
    pub(crate) shares: crate::sim::share_leader::ShareLeader,
}

impl Broker {
    pub(crate) fn new(id: BrokerId) -> Broker {
        Broker {
            id,
            replicas: Vec::new(),
            slot_of: Vec::new(),
            metadata: Default::default(),
            shutdown: Shutdown::Running,
            shares: Default::default(),
        }
    }

    /// Where this broker is in a controlled shutdown.
    pub fn shutdown_state(&self) -> Shutdown {
        self.shutdown
    }

    /// Host a replica of a new partition (its partition id is above every hosted one).
    pub(crate) fn add_replica(
        &mut self,
        partition: PartitionId,
        assignment: &[BrokerId],
        min_insync_replicas: u32,
    ) {
        debug_assert!(self.replicas.last().is_none_or(|r| r.partition < partition));
        if self.slot_of.len() <= partition.idx() {
            self.slot_of.resize(partition.idx() + 1, NOT_HOSTED);
        }
        self.slot_of[partition.idx()] = self.replicas.len() as u32;
        self.replicas.push(Replica::new(
            partition,
            self.id,
            assignment,
            min_insync_replicas,
        ));
    }

    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }

    pub fn replica(&self, p: PartitionId) -> Option<&Replica> {
        self.slot(p).map(|i| &self.replicas[i])
    }

    /// A hosted replica and the share partitions, borrowed together (the share-partition
    /// leader reads the log while it changes its own state).
    pub(crate) fn replica_and_shares(
        &mut self,
        p: PartitionId,
    ) -> (Option<&Replica>, &mut crate::sim::share_leader::ShareLeader) {
        let slot = self.slot(p);
        (slot.map(|i| &self.replicas[i]), &mut self.shares)
    }

    fn slot(&self, p: PartitionId) -> Option<usize> {
        match self.slot_of.get(p.idx()) {
            Some(&slot) if slot != NOT_HOSTED => Some(slot as usize),
            _ => None,
        }
    }

    fn replica_mut(&mut self, p: PartitionId) -> Option<&mut Replica> {
        self.slot(p).map(|i| &mut self.replicas[i])
    }

    // ----- lifecycle ----------------------------------------------------------------------

    /// The cluster boots as if this broker had already registered: its first heartbeat is
    /// one interval away.
    pub(crate) fn boot(&mut self, cx: &mut Cx) {
        cx.set_timer_ms(
            cx.settings().broker_heartbeat_interval_ms,
            Timer::Broker(BrokerTimer::Heartbeat),
        );
        self.arm_isr_check(cx);
    }

    /// Boot-time state of one hosted partition (see [`Replica::boot`]).
    pub(crate) fn boot_replica(
        &mut self,
        p: PartitionId,
        leader: BrokerId,
        isr: BrokerSet,
        cx: &mut Cx,
    ) {
        self.replica_mut(p)
            .expect("hosted replica")
            .boot(leader, isr, cx);
    }

    /// A (re)started broker registers with the controller at once.
    pub(crate) fn on_start(&mut self, cx: &mut Cx) {
        self.send_heartbeat(cx);
        self.arm_isr_check(cx);
    }

    /// The process died: each replica keeps its disk and loses its memory.
    /// Send a leader's verification question (KIP-890) to the transaction's coordinator, as
    /// this broker's metadata knows it; with none known, the waiting batches get
    /// COORDINATOR_NOT_AVAILABLE's stand-in, NOT_COORDINATOR (retriable), at once.
    fn ask_coordinator(&mut self, v: VerifyRequest, cx: &mut Cx) {
        let meta = crate::sim::coordinator::Metadata::new(&self.metadata);
        match meta.coordinator_for(cx.txn_name(v.txn)) {
            Some(b) => {
                let req = TxnRequest::Verify {
                    epoch: v.epoch,
                    partition: v.partition,
                    add: v.add,
                    token: v.token,
                };
                cx.send(meta.node_of(b), Msg::Txn { txn: v.txn, req });
            }
            None => {
                if let Some(r) = self.replica_mut(v.partition) {
                    r.on_verified(v.token, ErrorCode::NotCoordinator, cx);
                }
            }
        }
    }

    /// The broker died: its replicas forget what they held in memory. Returns the record
    /// buffers of the produce requests they held, for the event loop to free.
    pub(crate) fn crash(&mut self) -> Vec<u32> {
        let held = self.replicas.iter_mut().flat_map(|r| r.crash()).collect();
        self.shutdown = Shutdown::Running;
        self.shares.crash();
        held
    }

    /// The `stop` fault: a controlled shutdown begins (`controlled.shutdown.enable`, true by
    /// default; KIP-631, `BrokerLifecycleManager.beginControlledShutdown`). The broker keeps
    /// serving while its heartbeats, the first one at once, ask the controller to move its
    /// leaderships away; it exits when the controller says it may.
    pub(crate) fn begin_controlled_shutdown(&mut self, cx: &mut Cx) {
        if self.shutdown != Shutdown::Running {
            return;
        }
        self.shutdown = Shutdown::Pending { answered: false };
        cx.emit(crate::sim::trace::Trace::ShutdownRequested { broker: self.id });
        self.heartbeat_now(cx);
    }

    /// The controller's answer to a heartbeat that asked to shut down.
    fn on_heartbeat_response(&mut self, should_shut_down: bool, cx: &mut Cx) {
        let Shutdown::Pending { answered } = self.shutdown else {
            return;
        };
        if should_shut_down {
            // The controller moved every leadership away and fenced this broker: it stops
            // taking requests, flushes its logs and exits. Its replicas keep their disk.
            cx.emit(crate::sim::trace::Trace::NodeStopped {
                node: cx.broker_node(self.id),
            });
            cx.local(crate::sim::Local::BrokerShutDown { broker: self.id });
        } else if !answered {
            self.shutdown = Shutdown::Pending { answered: true };
            cx.set_timer_ms(
                SHUTDOWN_HEARTBEAT_MS,
                Timer::Broker(BrokerTimer::ShutdownHeartbeat),
            );
        }
    }

    /// Send one heartbeat, outside the regular schedule.
    fn heartbeat_now(&mut self, cx: &mut Cx) {
        let incarnation = cx.incarnation();
        // Kafka's controller elects from the ISR and needs no positions; a queue system's
        // election compares logs (a Raft vote, Sentinel's INFO replication offsets).
        let positions = if cx.settings().system.is_kafka() {
            Box::default()
        } else {
            self.replicas.iter().map(Replica::position).collect()
        };
        cx.send(
            cx.controller_node(),
            Msg::BrokerHeartbeat {
                broker: self.id,
                incarnation,
                want_shut_down: self.shutdown != Shutdown::Running,
                positions,
            },
        );
    }

    fn send_heartbeat(&mut self, cx: &mut Cx) {
        self.heartbeat_now(cx);
        cx.set_timer_ms(
            cx.settings().broker_heartbeat_interval_ms,
            Timer::Broker(BrokerTimer::Heartbeat),
        );
    }

    fn arm_isr_check(&mut self, cx: &mut Cx) {
        cx.set_timer_ms(
            cx.settings().replica_lag_time_max_ms / 2,
            Timer::Broker(BrokerTimer::IsrCheck),
        );
    }

    pub(crate) fn on_timer(&mut self, timer: BrokerTimer, cx: &mut Cx) {
        match timer {
            BrokerTimer::Heartbeat => self.send_heartbeat(cx),
            BrokerTimer::ShutdownHeartbeat => self.heartbeat_now(cx),
            BrokerTimer::IsrCheck => {
                for r in &mut self.replicas {
                    r.isr_shrink_check(cx);
                }
                self.arm_isr_check(cx);
            }
            BrokerTimer::DelayedFetchExpire { partition } => {
                if let Some(r) = self.replica_mut(partition) {
                    r.expire_delayed_fetches(cx);
                }
            }
            BrokerTimer::FollowerFetchTimeout { partition } => {
                if let Some(r) = self.replica_mut(partition) {
                    r.on_fetch_timeout(cx);
                }
            }
            BrokerTimer::FollowerFetchRetry { partition, session } => {
                if let Some(r) = self.replica_mut(partition) {
                    r.on_fetch_retry(session, cx);
                }
            }
        }
    }

    pub(crate) fn on_message(&mut self, from: NodeId, msg: Msg, cx: &mut Cx) {
        match msg {
            Msg::MetadataUpdate {
                unfenced,
                partition,
            } => self.metadata.update(unfenced, partition),
            Msg::BrokerHeartbeatResponse { should_shut_down } => {
                self.on_heartbeat_response(should_shut_down, cx)
            }
            // A leader this broker's followers fetch from died: each follower with a fetch in
            // flight to it fails that fetch, and retries after its backoff.
            Msg::ConnectionClosed { peer } => {
                let dead = BrokerId(peer.0);
                for i in 0..self.replicas.len() {
                    let r = &self.replicas[i];
                    if r.role() == crate::sim::replica::Role::Follower
                        && r.leader() == Some(dead)
                        && r.fetch_outstanding()
                    {
                        let (epoch, session) = (r.leader_epoch(), r.fetch_session());
                        self.replicas[i].on_replica_fetch_response(
                            epoch,
                            session,
                            ReplicaFetchResult::Err(ErrorCode::NetworkException),
                            cx,
                        );
                    }
                }
            }
            Msg::Produce {
                producer,
                partition,
                batch,
                attempt,
                records,
                producer_id,
                producer_epoch,
                base_seq,
                acks,
                timeout_ms,
                transactional,
            } => {
                let req = ProduceRequest {
                    producer,
                    partition,
                    batch,
                    attempt,
                    records,
                    pid: producer_id,
                    producer_epoch,
                    base_seq,
                    acks,
                    timeout_ms,
                    transactional,
                };
                let verify = match self.replica_mut(partition) {
                    Some(r) => r.on_produce(from, &req, cx),
                    None => {
                        req.respond(from, ProduceResult::Err(ErrorCode::NotLeaderOrFollower), cx);
                        None
                    }
                };
                cx.free_record_buf(records);
                if let Some(v) = verify {
                    self.ask_coordinator(v, cx);
                }
            }
            Msg::WriteTxnMarker {
                partition,
                producer_id,
                producer_epoch,
                commit,
                txn,
                token,
            } => {
                let req = MarkerRequest {
                    partition,
                    pid: producer_id,
                    producer_epoch,
                    commit,
                    txn,
                    token,
                };
                match self.replica_mut(partition) {
                    Some(r) => r.on_txn_marker(from, &req, cx),
                    None => req.respond(from, false, cx),
                }
            }
            Msg::ReplicaFetch {
                partition,
                follower,
                fetch_offset,
                last_fetched_epoch,
                leader_epoch,
                session,
            } => {
                if let Some(r) = self.replica_mut(partition) {
                    let req = ReplicaFetchRequest {
                        follower,
                        fetch_offset,
                        last_fetched_epoch,
                        leader_epoch,
                        session,
                    };
                    r.on_replica_fetch(&req, cx);
                }
            }
            Msg::ReplicaFetchResponse {
                partition,
                leader_epoch,
                session,
                result,
            } => match self.replica_mut(partition) {
                Some(r) => r.on_replica_fetch_response(leader_epoch, session, result, cx),
                None => {
                    if let ReplicaFetchResult::Records { payload, .. } = result {
                        cx.free_payload(payload);
                    }
                }
            },
            Msg::ConsumerFetch {
                partition,
                offset,
                token,
                max_records,
                max_wait_ms,
                read_committed,
            } => {
                let req = ConsumerFetchRequest {
                    partition,
                    offset,
                    token,
                    max_records,
                    max_wait_ms,
                    read_committed,
                };
                match self.replica_mut(partition) {
                    Some(r) => r.on_consumer_fetch(from, &req, cx),
                    None => req.fail(from, ErrorCode::NotLeaderOrFollower, cx),
                }
            }
            Msg::PartitionChange {
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                if let Some(r) = self.replica_mut(partition) {
                    let change = PartitionChange {
                        leader,
                        leader_epoch,
                        partition_epoch,
                        isr,
                    };
                    r.on_partition_change(change, cx);
                }
            }
            Msg::AlterPartitionResponse {
                partition,
                leader_epoch,
                result,
            } => {
                if let Some(r) = self.replica_mut(partition) {
                    r.on_alter_partition_response(leader_epoch, result, cx);
                }
            }
            Msg::ListOffsets {
                partition,
                token,
                read_committed,
            } => {
                let offset = self
                    .replica(partition)
                    .and_then(|r| r.latest_offset(read_committed));
                cx.send(
                    from,
                    Msg::ListOffsetsResponse {
                        partition,
                        token,
                        offset,
                    },
                );
            }
            // A transaction coordinator's answer to a leader's verification (KIP-890).
            Msg::TxnResponse {
                resp:
                    TxnResponse::Verify {
                        partition,
                        token,
                        error,
                    },
            } => {
                if let Some(r) = self.replica_mut(partition) {
                    r.on_verified(token, error, cx);
                }
            }
            Msg::TxnResponse { .. } => {}
            // For the group and transaction coordinators this broker hosts: the event loop
            // hands these to them, never to the broker.
            Msg::Group { .. }
            | Msg::Txn { .. }
            | Msg::WriteTxnMarkerResponse { .. }
            | Msg::TxnOffsetCommit { .. }
            | Msg::TxnOffsetCommitResponse { .. }
            | Msg::TxnOffsetMarker { .. }
            | Msg::TxnOffsetMarkerResponse { .. }
            | Msg::Share(_) => {}
            // Addressed to clients or to the controller: a broker never receives them.
            Msg::ProduceResponse { .. }
            | Msg::ConsumerFetchResponse { .. }
            | Msg::ListOffsetsResponse { .. }
            | Msg::BrokerHeartbeat { .. }
            | Msg::AlterPartition { .. }
            | Msg::MetadataRequest { .. }
            | Msg::MetadataResponse { .. }
            | Msg::GroupResponse { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::Acks;
    use crate::sim::cx::testkit::{self, advance_to, take_sent, take_trace, timers};
    use crate::sim::replica::tests::data;
    use crate::sim::replica::{EntryKind, Role};
    use crate::sim::trace::Trace;
    use crate::sim::wire::ConsumerFetchResult;
    use crate::sim::{Kernel, NodeKind, SimTime};

    const B1: BrokerId = BrokerId(0);
    const B2: BrokerId = BrokerId(1);
    const B3: BrokerId = BrokerId(2);
    const P: PartitionId = PartitionId(0);
    const CONTROLLER: NodeId = NodeId(3);
    const PRODUCER: NodeId = NodeId(4);
    const CONSUMER: NodeId = NodeId(5);
    /// The transaction coordinator's broker.
    const COORDINATOR: NodeId = NodeId(2);

    /// broker-1 cuts messages 11 and 12 (offsets 1 and 2) of partition 0.
    fn cut_to_1(reason: crate::sim::TruncateReason) -> Trace {
        Trace::Truncated {
            partition: P,
            broker: B1,
            from: 3,
            to: 1,
            removed: Box::new([MsgId(11), MsgId(12)]),
            reason,
        }
    }

    /// broker-1 alone, hosting partition 0 (replicas on all three brokers,
    /// `min.insync.replicas = 2`), with hand-made messages in and the sent ones read back.
    struct World {
        k: Kernel,
        broker: Broker,
        partition_epoch: u32,
        /// The leader epoch of the last PartitionChange.
        leader_epoch: u32,
    }

    impl World {
        fn new() -> World {
            let k = testkit::kernel(&[
                NodeKind::Broker(B1),
                NodeKind::Broker(B2),
                NodeKind::Broker(B3),
                NodeKind::Controller,
                NodeKind::Producer(ProducerId(0)),
                NodeKind::Consumer(ConsumerId(0)),
            ]);
            let mut broker = Broker::new(B1);
            broker.add_replica(P, &[B1, B2, B3], 2);
            World {
                k,
                broker,
                partition_epoch: 0,
                leader_epoch: 0,
            }
        }

        fn deliver(&mut self, from: NodeId, msg: Msg) {
            self.broker
                .on_message(from, msg, &mut Cx::new(&mut self.k, NodeId(0)));
        }

        fn fire(&mut self, timer: BrokerTimer) {
            self.broker
                .on_timer(timer, &mut Cx::new(&mut self.k, NodeId(0)));
        }

        fn at_ms(&mut self, ms: u64) {
            advance_to(&mut self.k, SimTime::from_ms(ms));
        }

        /// The controller's PartitionChange for partition 0.
        fn change(&mut self, leader: Option<BrokerId>, leader_epoch: u32, isr: &[BrokerId]) {
            self.partition_epoch += 1;
            self.leader_epoch = leader_epoch;
            let msg = Msg::PartitionChange {
                partition: P,
                leader,
                leader_epoch,
                partition_epoch: self.partition_epoch,
                isr: isr.iter().copied().collect(),
            };
            self.deliver(CONTROLLER, msg);
        }

        /// broker-1 leads at epoch 1 with `isr`; what that sent is discarded.
        fn lead(&mut self, isr: &[BrokerId]) {
            self.change(Some(B1), 1, isr);
            self.sent();
        }

        /// `count` records from `first_msg` on; `idempotent` is (producer id, base sequence).
        fn produce(
            &mut self,
            acks: Acks,
            first_msg: u32,
            count: u32,
            idempotent: Option<(u32, i32)>,
        ) {
            let (producer_id, base_seq) =
                idempotent.map_or((None, -1), |(pid, seq)| (Some(pid), seq));
            self.produce_as(acks, first_msg, count, producer_id, (0, base_seq), false);
        }

        /// A produce request of `count` records from `first_msg` on, with the producer id,
        /// (epoch, base sequence) and transactional flag given.
        fn produce_as(
            &mut self,
            acks: Acks,
            first_msg: u32,
            count: u32,
            producer_id: Option<u32>,
            (producer_epoch, base_seq): (u16, i32),
            transactional: bool,
        ) {
            let records = self.k.alloc_record_buf();
            self.k.record_bufs[records as usize].extend((0..count).map(|i| MsgId(first_msg + i)));
            self.deliver(
                PRODUCER,
                Msg::Produce {
                    producer: ProducerId(0),
                    partition: P,
                    batch: first_msg,
                    attempt: 0,
                    records,
                    producer_id,
                    producer_epoch,
                    base_seq,
                    acks,
                    timeout_ms: 30_000,
                    transactional,
                },
            );
        }

        fn follower_fetch(&mut self, follower: BrokerId, offset: u64, last_epoch: Option<u32>) {
            self.deliver(
                NodeId(follower.0),
                Msg::ReplicaFetch {
                    partition: P,
                    follower,
                    fetch_offset: offset,
                    last_fetched_epoch: last_epoch,
                    leader_epoch: self.leader_epoch,
                    session: FetchSession::default(),
                },
            );
        }

        fn consumer_fetch(&mut self, offset: u64, max_wait_ms: u32) {
            self.deliver(
                CONSUMER,
                Msg::ConsumerFetch {
                    partition: P,
                    offset,
                    token: 1,
                    max_records: 100,
                    max_wait_ms,
                    read_committed: false,
                },
            );
        }

        /// Messages sent since the last call: (to, msg).
        /// As a follower of broker-2 at epoch 1: copy three records of epoch 1 (messages 10 to
        /// 12) with the leader's HW at 1.
        fn copy_three_records_hw_1(&mut self, session: FetchSession) {
            let payload = self.k.alloc_payload();
            self.k.payloads[payload as usize].extend([data(1, 10), data(1, 11), data(1, 12)]);
            let reply = Msg::ReplicaFetchResponse {
                partition: P,
                leader_epoch: 1,
                session,
                result: ReplicaFetchResult::Records {
                    base_offset: 0,
                    payload,
                    hw: 1,
                },
            };
            self.deliver(NodeId(1), reply);
            assert_eq!((self.replica().leo(), self.replica().hw()), (3, 1));
        }

        fn sent(&mut self) -> Vec<(NodeId, Msg)> {
            take_sent(&mut self.k)
                .into_iter()
                .map(|(_, to, msg)| (to, msg))
                .collect()
        }

        fn produce_results(&mut self) -> Vec<ProduceResult> {
            self.sent()
                .into_iter()
                .filter_map(|(to, msg)| match msg {
                    Msg::ProduceResponse { result, .. } => {
                        assert_eq!(to, PRODUCER);
                        Some(result)
                    }
                    _ => None,
                })
                .collect()
        }

        /// Trace events other than the network's.
        fn trace(&mut self) -> Vec<Trace> {
            take_trace(&mut self.k)
                .into_iter()
                .filter(|t| !matches!(t, Trace::Sent { .. } | Trace::Dropped { .. }))
                .collect()
        }

        fn replica(&self) -> &Replica {
            self.broker.replica(P).expect("broker-1 hosts partition 0")
        }
    }

    fn is_ok(r: &ProduceResult, base: u64) -> bool {
        matches!(r, ProduceResult::Ok { base_offset } if *base_offset == base)
    }

    fn is_err(r: &ProduceResult, e: ErrorCode) -> bool {
        matches!(r, ProduceResult::Err(x) if *x == e)
    }

    #[test]
    fn acks_all_waits_until_the_hw_covers_the_batch() {
        let mut w = World::new();
        w.lead(&[B1, B2, B3]);
        w.produce(Acks::All, 0, 2, None);
        assert!(w.produce_results().is_empty(), "parked in purgatory");
        assert_eq!(w.replica().purgatory().len(), 1);
        w.follower_fetch(B2, 2, Some(1));
        assert!(w.produce_results().is_empty(), "broker-3 is in the ISR too");
        w.follower_fetch(B3, 1, Some(1));
        assert!(
            w.produce_results().is_empty(),
            "the HW covers only the first record"
        );
        assert_eq!(w.replica().hw(), 1);
        w.follower_fetch(B3, 2, Some(1));
        let results = w.produce_results();
        assert!(results.len() == 1 && is_ok(&results[0], 0), "{results:?}");
        assert!(w.replica().purgatory().is_empty());
    }

    #[test]
    fn acks_1_is_answered_on_the_leaders_append() {
        let mut w = World::new();
        w.lead(&[B1, B2, B3]);
        w.produce(Acks::Leader, 0, 1, None);
        w.produce(Acks::Leader, 1, 1, None);
        let results = w.produce_results();
        assert!(results.len() == 2 && is_ok(&results[0], 0) && is_ok(&results[1], 1));
        assert_eq!(w.replica().hw(), 0, "no follower has the records yet");
        w.produce(Acks::None, 2, 1, None);
        assert!(w.produce_results().is_empty(), "acks=0 gets no answer");
        assert_eq!(w.replica().leo(), 3);
    }

    #[test]
    fn a_follower_fetch_gets_records_and_advances_the_hw() {
        let mut w = World::new();
        w.lead(&[B1, B2]);
        w.produce(Acks::Leader, 0, 3, None);
        w.sent();
        w.trace();
        w.follower_fetch(B2, 0, None);
        let sent = w.sent();
        let [(to, Msg::ReplicaFetchResponse { result, .. })] = &sent[..] else {
            panic!("{sent:?}");
        };
        assert_eq!(*to, NodeId(1));
        let ReplicaFetchResult::Records {
            base_offset,
            payload,
            hw,
        } = *result
        else {
            panic!("{result:?}");
        };
        assert_eq!((base_offset, hw), (0, 0));
        assert_eq!(w.k.payloads[payload as usize].len(), 3);
        assert_eq!(w.replica().hw(), 0, "broker-2 had nothing yet");
        w.follower_fetch(B2, 3, Some(1));
        assert_eq!(w.replica().hw(), 3);
        assert!(w.trace().contains(&Trace::HighWatermark {
            partition: P,
            broker: B1,
            hw: 3
        }));
    }

    #[test]
    fn a_follower_whose_epoch_diverged_truncates_and_fetches_again() {
        let mut w = World::new();
        w.change(Some(B2), 1, &[B1, B2, B3]);
        let sent = w.sent();
        let [
            (
                to,
                Msg::ReplicaFetch {
                    session,
                    fetch_offset: 0,
                    ..
                },
            ),
        ] = &sent[..]
        else {
            panic!("{sent:?}");
        };
        assert_eq!(*to, NodeId(1), "it fetches from broker-2");
        w.copy_three_records_hw_1(*session);
        // broker-3 takes over at epoch 2 having only the first record of epoch 1.
        w.change(Some(B3), 2, &[B1, B3]);
        w.trace();
        let sent = w.sent();
        let Some((
            to,
            Msg::ReplicaFetch {
                session,
                fetch_offset: 3,
                last_fetched_epoch: Some(1),
                ..
            },
        )) = sent.last()
        else {
            panic!("{sent:?}");
        };
        assert_eq!(*to, NodeId(2));
        let reply = Msg::ReplicaFetchResponse {
            partition: P,
            leader_epoch: 2,
            session: *session,
            result: ReplicaFetchResult::Diverging {
                epoch: 1,
                end_offset: 1,
            },
        };
        w.deliver(NodeId(2), reply);
        assert_eq!(w.replica().leo(), 1);
        assert_eq!(
            w.trace(),
            vec![cut_to_1(crate::sim::TruncateReason::DivergedEpoch)]
        );
        let sent = w.sent();
        assert!(
            matches!(
                sent[..],
                [(
                    _,
                    Msg::ReplicaFetch {
                        fetch_offset: 1,
                        ..
                    }
                )]
            ),
            "{sent:?}"
        );
    }

    #[test]
    fn the_isr_shrinks_after_replica_lag_time_max_ms() {
        let mut w = World::new();
        w.lead(&[B1, B2, B3]);
        w.produce(Acks::Leader, 0, 1, None);
        w.at_ms(1000);
        w.follower_fetch(B2, 1, Some(1));
        w.sent();
        // broker-3 has not caught up since the election at 0; the lag limit is 30 s.
        w.at_ms(20_000);
        w.fire(BrokerTimer::IsrCheck);
        assert!(
            !w.sent()
                .iter()
                .any(|(_, m)| matches!(m, Msg::AlterPartition { .. }))
        );
        w.at_ms(30_001);
        w.fire(BrokerTimer::IsrCheck);
        let sent = w.sent();
        let [(to, Msg::AlterPartition { leader, isr, .. })] = &sent[..] else {
            panic!("{sent:?}");
        };
        assert_eq!(*to, CONTROLLER);
        assert_eq!(*leader, B1);
        assert_eq!(
            *isr,
            [B1, B2].into_iter().collect(),
            "broker-2 is caught up"
        );
        assert!(
            timers(&mut w.k).iter().any(|(at, _, t)| matches!(
                t,
                Timer::Broker(BrokerTimer::IsrCheck)
            ) && *at == SimTime::from_ms(45_001)),
            "the check runs again in half the lag time"
        );
    }

    #[test]
    fn requests_to_a_non_leader_get_not_leader_or_follower() {
        let mut w = World::new();
        w.change(Some(B2), 1, &[B1, B2, B3]);
        w.sent();
        w.consumer_fetch(0, 500);
        w.follower_fetch(B3, 0, None);
        w.produce(Acks::Leader, 0, 1, None);
        // A partition broker-1 does not host at all.
        w.deliver(
            CONSUMER,
            Msg::ConsumerFetch {
                partition: PartitionId(9),
                offset: 0,
                token: 2,
                max_records: 1,
                max_wait_ms: 500,
                read_committed: false,
            },
        );
        let not_leader = ErrorCode::NotLeaderOrFollower;
        let sent = w.sent();
        assert_eq!(sent.len(), 4, "{sent:?}");
        for (_, msg) in &sent {
            let error = match msg {
                Msg::ConsumerFetchResponse {
                    result: ConsumerFetchResult::Err(e),
                    ..
                }
                | Msg::ReplicaFetchResponse {
                    result: ReplicaFetchResult::Err(e),
                    ..
                }
                | Msg::ProduceResponse {
                    result: ProduceResult::Err(e),
                    ..
                } => *e,
                other => panic!("{other:?}"),
            };
            assert_eq!(error, not_leader);
        }
        assert_eq!(w.replica().leo(), 0);
    }

    #[test]
    fn below_min_insync_replicas_acks_all_gets_not_enough_replicas() {
        let mut w = World::new();
        w.lead(&[B1]);
        w.produce(Acks::All, 0, 1, None);
        let results = w.produce_results();
        assert!(
            results.len() == 1 && is_err(&results[0], ErrorCode::NotEnoughReplicas),
            "{results:?}"
        );
        assert_eq!(w.replica().leo(), 0, "nothing was appended");
        w.produce(Acks::Leader, 1, 1, None);
        let results = w.produce_results();
        assert!(is_ok(&results[0], 0), "acks=1 does not need the ISR");
    }

    #[test]
    fn an_idempotent_duplicate_is_answered_with_its_original_offset() {
        let mut w = World::new();
        w.lead(&[B1]);
        w.produce(Acks::Leader, 0, 2, Some((7, 0)));
        w.produce(Acks::Leader, 2, 1, None);
        w.produce(Acks::Leader, 3, 1, Some((7, 2)));
        w.trace();
        // The first batch again (its acknowledgement was lost, say).
        w.produce(Acks::Leader, 0, 2, Some((7, 0)));
        let results = w.produce_results();
        assert!(is_ok(&results[3], 0), "{results:?}");
        assert_eq!(w.replica().leo(), 4, "not appended twice");
        assert_eq!(
            w.trace(),
            vec![Trace::DuplicateBatch {
                partition: P,
                broker: B1,
                producer: ProducerId(0),
                first_msg: MsgId(0),
                base_offset: 0,
            }]
        );
        // A sequence that is neither the next one nor a cached batch is a gap.
        w.produce(Acks::Leader, 9, 1, Some((7, 9)));
        let results = w.produce_results();
        assert!(is_err(&results[0], ErrorCode::OutOfOrderSequenceNumber));
    }

    #[test]
    fn a_crash_keeps_the_log_and_forgets_what_waited_in_memory() {
        let mut w = World::new();
        w.lead(&[B1, B2]);
        w.produce(Acks::All, 0, 1, None);
        w.deliver(
            COORDINATOR,
            Msg::WriteTxnMarker {
                partition: P,
                producer_id: 3,
                producer_epoch: 0,
                commit: true,
                txn: 0,
                token: 1,
            },
        );
        w.consumer_fetch(0, 500);
        assert!(w.sent().is_empty(), "all three wait for the HW");
        w.broker.crash();
        w.k.nodes[0].incarnation += 1;
        let r = w.replica();
        assert_eq!((r.leo(), r.role(), r.leader()), (2, Role::None, None));
        assert!(r.purgatory().is_empty());
        assert_eq!(r.leader_epoch(), 1, "the metadata as last heard is on disk");
        w.broker.on_start(&mut Cx::new(&mut w.k, NodeId(0)));
        let sent = w.sent();
        assert!(
            matches!(
                sent[..],
                [(
                    CONTROLLER,
                    Msg::BrokerHeartbeat {
                        broker: B1,
                        incarnation: 1,
                        want_shut_down: false,
                        ..
                    }
                )]
            ),
            "{sent:?}"
        );
        // Leading again, with the HW past both records: nobody from before is answered.
        w.change(Some(B1), 2, &[B1, B2]);
        w.follower_fetch(B2, 2, Some(1));
        assert_eq!(w.replica().hw(), 2);
        let sent = w.sent();
        assert!(
            !sent
                .iter()
                .any(|(to, _)| *to == PRODUCER || *to == CONSUMER || *to == COORDINATOR),
            "{sent:?}"
        );
    }

    #[test]
    fn a_delayed_consumer_fetch_is_answered_at_fetch_max_wait_ms() {
        let mut w = World::new();
        w.lead(&[B1, B2]);
        w.consumer_fetch(0, 500);
        assert!(w.sent().is_empty(), "nothing below the HW: the fetch waits");
        let expiry = BrokerTimer::DelayedFetchExpire { partition: P };
        assert!(
            timers(&mut w.k)
                .iter()
                .any(|(at, _, t)| *at == SimTime::from_ms(500)
                    && matches!(t, Timer::Broker(x) if *x == expiry))
        );
        w.at_ms(400);
        w.fire(BrokerTimer::DelayedFetchExpire { partition: P });
        assert!(w.sent().is_empty(), "not yet");
        w.at_ms(500);
        w.fire(BrokerTimer::DelayedFetchExpire { partition: P });
        let sent = w.sent();
        let [(CONSUMER, Msg::ConsumerFetchResponse { result, .. })] = &sent[..] else {
            panic!("{sent:?}");
        };
        let ConsumerFetchResult::Records {
            base_offset: 0,
            payload,
            hw: 0,
            ..
        } = *result
        else {
            panic!("{result:?}");
        };
        assert!(w.k.payloads[payload as usize].is_empty());
    }

    #[test]
    fn an_answer_at_the_end_of_a_wait_is_caused_by_the_fetch_that_waited() {
        use crate::sim::EventId;
        let mut w = World::new();
        w.lead(&[B1, B2, B3]);
        // Three fetches wait, each delivered by its own Sent event; one timer serves them all,
        // armed by the first.
        w.k.cause = Some(EventId(7));
        w.follower_fetch(B2, 0, None);
        w.k.cause = Some(EventId(8));
        w.consumer_fetch(0, 500);
        w.k.cause = Some(EventId(9));
        w.follower_fetch(B3, 0, None);
        assert!(w.sent().is_empty());
        w.k.trace.clear();
        w.at_ms(500);
        w.k.cause = Some(EventId(7));
        w.fire(BrokerTimer::DelayedFetchExpire { partition: P });
        let mut answers: Vec<(NodeId, Option<EventId>)> =
            w.k.trace
                .iter()
                .filter_map(|ev| match ev.kind {
                    Trace::Sent { to, .. } => Some((to, ev.cause)),
                    _ => None,
                })
                .collect();
        answers.sort();
        assert_eq!(
            answers,
            [
                (NodeId(1), Some(EventId(7))),
                (NodeId(2), Some(EventId(9))),
                (CONSUMER, Some(EventId(8))),
            ]
        );
    }

    #[test]
    fn a_parked_consumer_fetch_is_answered_when_the_hw_moves() {
        let mut w = World::new();
        w.lead(&[B1, B2]);
        w.consumer_fetch(0, 500);
        w.produce(Acks::Leader, 0, 1, None);
        w.sent();
        w.follower_fetch(B2, 1, Some(1));
        let sent = w.sent();
        let Some((_, Msg::ConsumerFetchResponse { result, .. })) =
            sent.iter().find(|(to, _)| *to == CONSUMER)
        else {
            panic!("{sent:?}");
        };
        let ConsumerFetchResult::Records { payload, hw: 1, .. } = *result else {
            panic!("{result:?}");
        };
        assert_eq!(w.k.payloads[payload as usize].len(), 1);
    }

    #[test]
    fn a_transaction_marker_is_answered_once_replicated() {
        let mut w = World::new();
        w.lead(&[B1, B2]);
        let marker = Msg::WriteTxnMarker {
            partition: P,
            producer_id: 3,
            producer_epoch: 0,
            commit: false,
            txn: 4,
            token: 9,
        };
        w.deliver(COORDINATOR, marker);
        assert!(w.sent().is_empty());
        assert_eq!(w.replica().log()[0].kind, EntryKind::Abort);
        w.follower_fetch(B2, 1, Some(1));
        let sent = w.sent();
        assert!(
            sent.iter().any(|(to, m)| *to == COORDINATOR
                && matches!(
                    m,
                    Msg::WriteTxnMarkerResponse {
                        txn: 4,
                        token: 9,
                        ok: true,
                        ..
                    }
                )),
            "{sent:?}"
        );
    }

    /// Transactional producer `ledger-tx` (transaction 0): its producer id.
    const LEDGER_PID: u32 = 0x4000_0000;

    impl World {
        /// With `transaction_version` and verification as given; the broker knows three
        /// unfenced brokers, one of which coordinates `ledger-tx`.
        fn with_transactions(version: u8, verification: bool) -> World {
            let mut w = World::new();
            w.k.settings.transaction_version = version;
            w.k.settings.transaction_partition_verification = verification;
            w.k.txn_names.push("ledger-tx".into());
            let controller = crate::sim::controller::Controller::new(3);
            w.broker.metadata = crate::sim::coordinator::MetadataCache::of(&controller);
            w.lead(&[B1]);
            w
        }

        /// A transactional batch of ledger-tx with `epoch` and base sequence `seq`.
        fn produce_txn(&mut self, first_msg: u32, epoch: u16, seq: i32) {
            let pid = Some(LEDGER_PID);
            self.produce_as(Acks::Leader, first_msg, 1, pid, (epoch, seq), true);
        }

        /// The verification questions sent: (to, epoch, add, token).
        fn verifications(&mut self) -> Vec<(NodeId, u16, bool, u32)> {
            self.sent()
                .into_iter()
                .filter_map(|(to, m)| match m {
                    Msg::Txn {
                        txn: 0,
                        req:
                            TxnRequest::Verify {
                                epoch,
                                partition: P,
                                add,
                                token,
                            },
                    } => Some((to, epoch, add, token)),
                    _ => None,
                })
                .collect()
        }

        fn verified(&mut self, from: NodeId, token: u32, error: ErrorCode) {
            let resp = TxnResponse::Verify {
                partition: P,
                token,
                error,
            };
            self.deliver(from, Msg::TxnResponse { resp });
        }

        fn marker(&mut self, epoch: u16, commit: bool) {
            let marker = Msg::WriteTxnMarker {
                partition: P,
                producer_id: LEDGER_PID,
                producer_epoch: epoch,
                commit,
                txn: 0,
                token: 1,
            };
            self.deliver(COORDINATOR, marker);
        }
    }

    #[test]
    fn classic_transactions_append_a_late_write_after_its_transactions_marker() {
        let mut w = World::with_transactions(1, false);
        w.produce_txn(10, 1, 0);
        assert!(is_ok(&w.produce_results()[0], 0));
        w.marker(1, false);
        // The late write of the aborted transaction: same epoch, next sequence.
        w.produce_txn(11, 1, 1);
        assert!(is_ok(&w.produce_results()[0], 2), "appended: the hole");
        assert_eq!(w.replica().ongoing_txns(), [(LEDGER_PID, 2)]);
    }

    #[test]
    fn with_verification_a_producers_first_batch_waits_for_the_coordinator() {
        let mut w = World::with_transactions(1, true);
        w.produce_txn(10, 1, 0);
        let asked = w.verifications();
        let [(coordinator, 1, false, token)] = asked[..] else {
            panic!("one verify-only question: {asked:?}");
        };
        assert_eq!(w.replica().leo(), 0, "nothing appended before the answer");
        // A second batch of the same producer waits for the same answer.
        w.produce_txn(11, 1, 1);
        assert!(w.verifications().is_empty());
        w.verified(coordinator, token, ErrorCode::None);
        let results = w.produce_results();
        assert!(
            is_ok(&results[0], 0) && is_ok(&results[1], 1),
            "{results:?}"
        );
        // In the transaction now: the next batch needs no question, it is appended at once.
        w.produce_txn(12, 1, 2);
        assert!(is_ok(&w.produce_results()[0], 2));
    }

    #[test]
    fn a_crash_hands_back_the_buffers_of_batches_waiting_for_verification() {
        let mut w = World::with_transactions(1, true);
        w.produce_txn(10, 1, 0);
        assert_eq!(w.verifications().len(), 1);
        let held = w.broker.crash();
        assert_eq!(held.len(), 1);
        assert_eq!(w.k.record_bufs[held[0] as usize], [MsgId(10)]);
    }

    #[test]
    fn with_verification_a_late_write_is_refused_with_invalid_txn_state() {
        let mut w = World::with_transactions(1, true);
        w.produce_txn(10, 1, 0);
        let (coordinator, _, _, token) = w.verifications()[0];
        w.verified(coordinator, token, ErrorCode::None);
        w.sent();
        w.marker(1, false);
        w.trace();
        w.produce_txn(11, 1, 1);
        let (coordinator, _, _, token) = w.verifications()[0];
        w.verified(coordinator, token, ErrorCode::InvalidTxnState);
        assert!(is_err(&w.produce_results()[0], ErrorCode::InvalidTxnState));
        assert_eq!(w.replica().leo(), 2, "the late write is not appended");
        assert!(w.replica().ongoing_txns().is_empty());
        assert!(w.trace().iter().any(|t| matches!(
            t,
            Trace::TxnWriteRefused {
                first_msg: MsgId(11),
                error: ErrorCode::InvalidTxnState,
                ..
            }
        )));
    }

    #[test]
    fn transactions_v2_add_the_partition_and_fence_a_late_write_by_the_markers_epoch() {
        let mut w = World::with_transactions(2, false);
        w.produce_txn(10, 1, 0);
        let asked = w.verifications();
        let [(coordinator, 1, true, token)] = asked[..] else {
            panic!("one AddPartitionsToTxn from the leader: {asked:?}");
        };
        w.verified(coordinator, token, ErrorCode::None);
        assert!(is_ok(&w.produce_results()[0], 0));
        // The abort's marker carries the bumped epoch.
        w.marker(2, false);
        w.trace();
        w.produce_txn(11, 1, 1);
        assert!(is_err(
            &w.produce_results()[0],
            ErrorCode::InvalidProducerEpoch
        ));
        assert!(w.verifications().is_empty(), "refused before asking");
        assert_eq!(w.replica().leo(), 2);
        // The next transaction, with the new epoch, starts its sequences at 0.
        w.produce_txn(12, 2, 0);
        let (coordinator, _, _, token) = w.verifications()[0];
        w.verified(coordinator, token, ErrorCode::None);
        assert!(is_ok(&w.produce_results()[0], 2));
    }

    #[test]
    fn v2_a_next_transactions_batch_ahead_of_the_last_marker_is_verified() {
        let mut w = World::with_transactions(2, false);
        w.produce_txn(10, 1, 0);
        let (coordinator, _, _, token) = w.verifications()[0];
        w.verified(coordinator, token, ErrorCode::None);
        assert!(is_ok(&w.produce_results()[0], 0));
        // EndTxn answered with epoch 2 before the marker of epoch 1's transaction arrived: the
        // open transaction here is not this batch's, so the leader asks the coordinator.
        w.produce_txn(11, 2, 0);
        let asked = w.verifications();
        assert!(
            matches!(asked[..], [(_, 2, true, _)]),
            "the new epoch's first batch is verified: {asked:?}"
        );
        assert_eq!(
            w.replica().leo(),
            1,
            "held, not appended inside the old span"
        );
    }

    #[test]
    fn a_fenced_verification_reaches_the_producer_as_invalid_producer_epoch() {
        let mut w = World::with_transactions(1, true);
        w.produce_txn(10, 1, 0);
        let (coordinator, _, _, token) = w.verifications()[0];
        w.verified(coordinator, token, ErrorCode::ProducerFenced);
        assert!(is_err(
            &w.produce_results()[0],
            ErrorCode::InvalidProducerEpoch
        ));
    }

    #[test]
    fn a_marker_fences_older_epochs_even_where_the_producer_never_wrote() {
        let mut w = World::with_transactions(2, false);
        w.marker(2, false);
        w.produce_txn(11, 1, 0);
        assert!(is_err(
            &w.produce_results()[0],
            ErrorCode::InvalidProducerEpoch
        ));
        assert_eq!(w.replica().leo(), 1, "only the marker");
    }

    #[test]
    fn a_controlled_shutdown_asks_the_controller_and_exits_when_told() {
        let mut w = World::new();
        let me = NodeId(0);
        w.broker
            .begin_controlled_shutdown(&mut Cx::new(&mut w.k, me));
        let sent = w.sent();
        assert!(
            matches!(
                sent[..],
                [(
                    CONTROLLER,
                    Msg::BrokerHeartbeat {
                        want_shut_down: true,
                        ..
                    }
                )]
            ),
            "{sent:?}"
        );
        assert_eq!(w.trace(), vec![Trace::ShutdownRequested { broker: B1 }]);
        let not_yet = Msg::BrokerHeartbeatResponse {
            should_shut_down: false,
        };
        w.deliver(CONTROLLER, not_yet);
        assert!(
            timers(&mut w.k)
                .iter()
                .any(|(at, _, t)| *at == SimTime::from_ms(50)
                    && matches!(t, Timer::Broker(BrokerTimer::ShutdownHeartbeat))),
            "it asks again soon"
        );
        w.fire(BrokerTimer::ShutdownHeartbeat);
        w.fire(BrokerTimer::Heartbeat);
        let sent = w.sent();
        assert_eq!(sent.len(), 2);
        assert!(sent.iter().all(|(_, m)| matches!(
            m,
            Msg::BrokerHeartbeat {
                want_shut_down: true,
                ..
            }
        )));
        let go = Msg::BrokerHeartbeatResponse {
            should_shut_down: true,
        };
        w.deliver(CONTROLLER, go);
        assert_eq!(w.trace(), vec![Trace::NodeStopped { node: me }]);
        assert!(matches!(
            w.k.locals.pop_front(),
            Some(crate::sim::Local::BrokerShutDown { broker: B1 })
        ));
        // A crash forgets the shutdown: the restarted broker heartbeats as usual.
        w.broker.crash();
        w.broker.on_start(&mut Cx::new(&mut w.k, me));
        assert!(matches!(
            w.sent()[..],
            [(
                _,
                Msg::BrokerHeartbeat {
                    want_shut_down: false,
                    ..
                }
            )]
        ));
    }

    #[test]
    fn pre_kip101_a_new_follower_truncates_to_its_own_hw_and_fetches_without_an_epoch() {
        let mut w = World::new();
        w.k.settings.replica_recovery = crate::sim::ReplicaRecovery::HighWatermark;
        w.change(Some(B2), 1, &[B1, B2, B3]);
        let sent = w.sent();
        let [(_, Msg::ReplicaFetch { session, .. })] = &sent[..] else {
            panic!("{sent:?}");
        };
        w.copy_three_records_hw_1(*session);
        w.trace();
        // A new leader: Kafka 0.10 cuts the log to the follower's own HW at once.
        w.change(Some(B3), 2, &[B1, B3]);
        assert_eq!(
            w.trace(),
            vec![cut_to_1(crate::sim::TruncateReason::HighWatermark)]
        );
        let sent = w.sent();
        assert!(
            matches!(
                sent.last(),
                Some((
                    NodeId(2),
                    Msg::ReplicaFetch {
                        fetch_offset: 1,
                        last_fetched_epoch: None,
                        ..
                    }
                ))
            ),
            "{sent:?}"
        );
    }

    #[test]
    fn pre_kip101_a_fetch_past_the_leaders_end_gets_the_leaders_end() {
        let mut w = World::new();
        w.k.settings.replica_recovery = crate::sim::ReplicaRecovery::HighWatermark;
        w.lead(&[B1, B2]);
        w.produce(Acks::Leader, 0, 2, None);
        w.sent();
        w.follower_fetch(B2, 5, None);
        let sent = w.sent();
        assert!(
            matches!(
                sent[..],
                [(
                    NodeId(1),
                    Msg::ReplicaFetchResponse {
                        result: ReplicaFetchResult::Diverging { end_offset: 2, .. },
                        ..
                    }
                )]
            ),
            "{sent:?}"
        );
    }

    #[test]
    fn with_eligible_leader_replicas_the_hw_holds_while_the_isr_is_below_min_isr() {
        for elr in [false, true] {
            let mut w = World::new();
            w.k.settings.eligible_leader_replicas = elr;
            // The ISR is broker-1 alone; min.insync.replicas is 2.
            w.lead(&[B1]);
            w.produce(Acks::Leader, 0, 1, None);
            assert_eq!(w.replica().leo(), 1);
            assert_eq!(
                w.replica().hw(),
                if elr { 0 } else { 1 },
                "KIP-966: the HW moves only with min.insync.replicas in sync (elr={elr})"
            );
        }
        // Back to two in sync: the HW moves.
        let mut w = World::new();
        w.k.settings.eligible_leader_replicas = true;
        w.lead(&[B1, B2]);
        w.produce(Acks::Leader, 0, 1, None);
        w.follower_fetch(B2, 1, Some(1));
        assert_eq!(w.replica().hw(), 1);
    }

    #[test]
    fn a_fetch_response_from_before_a_crash_is_stale() {
        let mut w = World::new();
        w.change(Some(B2), 1, &[B1, B2, B3]);
        let sent = w.sent();
        let [(_, Msg::ReplicaFetch { session: old, .. })] = &sent[..] else {
            panic!("{sent:?}");
        };
        let old = *old;
        w.broker.crash();
        w.k.nodes[0].incarnation += 1;
        w.broker.on_start(&mut Cx::new(&mut w.k, NodeId(0)));
        w.change(Some(B2), 1, &[B1, B2, B3]);
        let sent = w.sent();
        let Some((_, Msg::ReplicaFetch { session: new, .. })) = sent.last() else {
            panic!("{sent:?}");
        };
        assert_ne!(old, *new);
        let new = *new;
        let response = |w: &mut World, session| {
            let payload = w.k.alloc_payload();
            w.k.payloads[payload as usize].push(data(1, 10));
            Msg::ReplicaFetchResponse {
                partition: P,
                leader_epoch: 1,
                session,
                result: ReplicaFetchResult::Records {
                    base_offset: 0,
                    payload,
                    hw: 0,
                },
            }
        };
        let stale = response(&mut w, old);
        w.deliver(NodeId(1), stale);
        assert_eq!(
            w.replica().leo(),
            0,
            "the old connection's answer is dropped"
        );
        let fresh = response(&mut w, new);
        w.deliver(NodeId(1), fresh);
        assert_eq!(w.replica().leo(), 1);
    }
}
