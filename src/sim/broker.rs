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
    ReplicaFetchRequest,
};
use crate::sim::wire::{FetchSession, Msg, ProduceResult, ReplicaFetchResult};

/// A broker's own timers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BrokerTimer {
    /// `broker.heartbeat.interval.ms`
    Heartbeat,
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

/// One broker. Its replicas each keep their disk across a crash and lose their memory; the
/// broker itself holds nothing else.
#[derive(Clone, Debug)]
pub struct Broker {
    pub id: BrokerId,
    /// The replicas this broker hosts, in partition order.
    replicas: Vec<Replica>,
}

impl Broker {
    pub(crate) fn new(id: BrokerId) -> Broker {
        Broker {
            id,
            replicas: Vec::new(),
        }
    }

    /// Host a replica of a new partition (its partition id is above every hosted one).
    pub(crate) fn add_replica(
        &mut self,
        partition: PartitionId,
        assignment: &[BrokerId],
        min_insync_replicas: u32,
    ) {
        debug_assert!(self.replicas.last().is_none_or(|r| r.partition < partition));
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

    fn slot(&self, p: PartitionId) -> Option<usize> {
        self.replicas.binary_search_by_key(&p, |r| r.partition).ok()
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
    pub(crate) fn crash(&mut self) {
        for r in &mut self.replicas {
            r.crash();
        }
    }

    fn send_heartbeat(&mut self, cx: &mut Cx) {
        let incarnation = cx.incarnation();
        cx.send(
            cx.controller_node(),
            Msg::BrokerHeartbeat {
                broker: self.id,
                incarnation,
            },
        );
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
                match self.replica_mut(partition) {
                    Some(r) => r.on_produce(from, &req, cx),
                    None => {
                        req.respond(from, ProduceResult::Err(ErrorCode::NotLeaderOrFollower), cx)
                    }
                }
                cx.free_record_buf(records);
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
            // For the group and transaction coordinators this broker hosts: the event loop
            // hands these to them, never to the broker.
            Msg::Group { .. } | Msg::Txn { .. } | Msg::WriteTxnMarkerResponse { .. } => {}
            // Addressed to clients or to the controller: a broker never receives them.
            Msg::ProduceResponse { .. }
            | Msg::ConsumerFetchResponse { .. }
            | Msg::ListOffsetsResponse { .. }
            | Msg::BrokerHeartbeat { .. }
            | Msg::AlterPartition { .. }
            | Msg::TxnResponse { .. }
            | Msg::MetadataRequest { .. }
            | Msg::MetadataResponse { .. }
            | Msg::GroupResponse { .. } => {}
        }
    }
}
