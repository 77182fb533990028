//! Replication (ISR, high watermark, leader epochs, truncation) and the controller (broker
//! fencing, leader election, AlterPartition), following Kafka's KRaft-era design:
//! - HW is the minimum LEO over the (maximal) ISR, KIP-497 AlterPartition for ISR changes;
//! - followers fetch with their last fetched epoch and truncate on `DivergingEpoch`
//!   (KIP-101, KIP-279, KIP-320/KIP-595);
//! - the controller fences brokers that miss `broker.session.timeout.ms` (KIP-631) and elects
//!   the first live ISR replica, or any live replica when unclean election is enabled.

use crate::sim::ids::*;
use crate::sim::trace::Trace;
use crate::sim::wire::{ConsumerFetchResult, Msg, ProduceResult, ReplicaFetchResult};
use crate::sim::{Sim, Timer};

/// Marks log entries that no idempotent producer wrote.
pub const NO_PRODUCER: u32 = u32::MAX;
/// Largest record count in one replica fetch response (stands in for `replica.fetch.max.bytes`).
const REPLICA_FETCH_MAX_RECORDS: u64 = 1000;
/// `replica.fetch.backoff.ms`
const REPLICA_FETCH_BACKOFF_MS: u64 = 1000;
/// How long a leader waits for an AlterPartition answer before it may try again.
const ALTER_PARTITION_RETRY_MS: u64 = 5000;
/// Kafka keeps the metadata of the last 5 batches per producer for duplicate detection.
const PRODUCER_BATCH_CACHE: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Data,
    /// Transaction commit marker.
    Commit,
    /// Transaction abort marker.
    Abort,
}

/// One record in a replica's log; its offset is its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The leader epoch it was written in.
    pub epoch: u32,
    pub msg: MsgId,
    /// Idempotent producer id, or [`NO_PRODUCER`].
    pub producer: u32,
    pub producer_epoch: u16,
    /// Idempotent sequence number, -1 without idempotence.
    pub seq: i32,
    pub kind: EntryKind,
    /// The last record of its producer batch, so producer state can be rebuilt batch by batch.
    pub last_in_batch: bool,
    /// Written by a transactional producer (or a transaction marker).
    pub transactional: bool,
}

impl Entry {
    pub fn message(&self) -> Option<MsgId> {
        (self.kind == EntryKind::Data).then_some(self.msg)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Knows no leader (broker down, just restarted, or partition offline).
    None,
    Leader,
    Follower,
}

/// What a leader knows about one follower (Kafka's `Replica` fetch state).
#[derive(Clone, Debug)]
pub struct FollowerState {
    pub broker: BrokerId,
    /// The follower's LEO as of its last fetch; unknown right after an election.
    pub leo: Option<u64>,
    pub last_caught_up: SimTime,
    last_fetch_time: SimTime,
    last_fetch_leader_leo: u64,
    delayed: Option<DelayedFetch>,
}

#[derive(Clone, Copy, Debug)]
struct DelayedFetch {
    fetch_offset: u64,
    session: u32,
    deadline: SimTime,
}

/// An `acks=all` produce waiting for the HW to pass it (Kafka's produce purgatory).
#[derive(Clone, Copy, Debug)]
pub struct PendingAck {
    pub producer: ProducerId,
    /// The producer's node, which the answer goes back to.
    pub client: NodeId,
    pub batch: u32,
    pub attempt: u32,
    pub base_offset: u64,
    pub end_offset: u64,
    deadline: SimTime,
}

/// A transaction marker appended and not yet replicated to the ISR.
#[derive(Clone, Copy, Debug)]
struct MarkerWait {
    end_offset: u64,
    to: NodeId,
    txn: u32,
    token: u32,
}

/// A consumer fetch parked until data below the HW arrives (`fetch.max.wait.ms`).
#[derive(Clone, Copy, Debug)]
struct ConsumerWait {
    /// The consumer's node, which the answer goes back to.
    to: NodeId,
    offset: u64,
    max_records: u32,
    read_committed: bool,
    request_token: u32,
    deadline: SimTime,
}

/// A produce request as the broker reads it off the wire.
struct ProduceRequest {
    producer: ProducerId,
    partition: PartitionId,
    batch: u32,
    attempt: u32,
    records: u32,
    pid: Option<u32>,
    producer_epoch: u16,
    base_seq: i32,
    acks: crate::sim::config::Acks,
    timeout_ms: u32,
    transactional: bool,
}

/// Idempotent producer state on a replica (Kafka's `ProducerStateEntry`).
#[derive(Clone, Debug)]
pub(crate) struct ProducerSeqState {
    pid: u32,
    epoch: u16,
    /// (first seq, last seq, base offset) of the most recent batches, oldest first.
    batches: Vec<(i32, i32, u64)>,
}

impl ProducerSeqState {
    fn last_seq(&self) -> i32 {
        self.batches.last().map_or(-1, |b| b.1)
    }
}

/// One replica of a partition on one broker.
#[derive(Clone, Debug)]
pub struct Replica {
    pub broker: BrokerId,
    pub log: Vec<Entry>,
    /// Leader epoch cache: (epoch, start offset), ascending.
    pub epochs: Vec<(u32, u64)>,
    pub hw: u64,
    pub role: Role,
    pub leader: Option<BrokerId>,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    /// The ISR as this replica last heard it (authoritative on the leader).
    pub isr: BrokerSet,
    /// An ISR change sent to the controller and not yet answered.
    pub pending_isr: Option<(BrokerSet, SimTime)>,
    pub followers: Vec<FollowerState>,
    pub purgatory: Vec<PendingAck>,
    consumer_waits: Vec<ConsumerWait>,
    pub(crate) producer_states: Vec<ProducerSeqState>,
    /// Open transactions: (producer id, first offset).
    ongoing_txns: Vec<(u32, u64)>,
    /// Aborted transactions: (producer id, first offset, marker offset).
    aborted_txns: Vec<(u32, u64, u64)>,
    /// Ended transactions whose marker may not be replicated yet: (first offset, marker offset).
    /// They hold the LSO until the HW passes the marker (Kafka's `unreplicatedTxns`).
    completing_txns: Vec<(u64, u64)>,
    /// Markers waiting for the HW before the coordinator is answered.
    marker_waits: Vec<MarkerWait>,
    pub(crate) fetch_session: u32,
    fetch_outstanding: Option<SimTime>,
    /// A fetch-timeout timer is pending (one at a time; it re-arms itself for the request in
    /// flight, so no timer is queued per request).
    fetch_timer_armed: bool,
    /// When the parked-fetch expiry timer fires, if one is pending.
    expiry_armed: Option<SimTime>,
}

impl Replica {
    fn new(broker: BrokerId, assignment: &[BrokerId]) -> Replica {
        Replica {
            broker,
            log: Vec::new(),
            epochs: Vec::new(),
            hw: 0,
            role: Role::None,
            leader: None,
            leader_epoch: 0,
            partition_epoch: 0,
            isr: BrokerSet::EMPTY,
            pending_isr: None,
            followers: assignment
                .iter()
                .filter(|&&b| b != broker)
                .map(|&b| FollowerState {
                    broker: b,
                    leo: None,
                    last_caught_up: SimTime::ZERO,
                    last_fetch_time: SimTime::ZERO,
                    last_fetch_leader_leo: 0,
                    delayed: None,
                })
                .collect(),
            purgatory: Vec::new(),
            consumer_waits: Vec::new(),
            producer_states: Vec::new(),
            ongoing_txns: Vec::new(),
            aborted_txns: Vec::new(),
            completing_txns: Vec::new(),
            marker_waits: Vec::new(),
            fetch_session: 0,
            fetch_outstanding: None,
            fetch_timer_armed: false,
            expiry_armed: None,
        }
    }

    /// Whether this follower is waiting for a fetch response.
    pub fn fetch_outstanding(&self) -> bool {
        self.fetch_outstanding.is_some()
    }

    /// Log end offset (exclusive).
    pub fn leo(&self) -> u64 {
        self.log.len() as u64
    }

    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    /// The ISR used for the high watermark: the committed ISR plus any member being added or
    /// removed (KIP-497's "maximal ISR"), so an in-flight change never makes HW optimistic.
    pub fn maximal_isr(&self) -> BrokerSet {
        match self.pending_isr {
            Some((pending, _)) => BrokerSet(self.isr.0 | pending.0),
            None => self.isr,
        }
    }

    pub fn latest_epoch(&self) -> Option<u32> {
        self.epochs.last().map(|e| e.0)
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor`: the largest epoch ≤ `epoch` this replica
    /// knows and the offset where the next epoch starts (its LEO for the latest epoch).
    pub fn end_offset_for_epoch(&self, epoch: u32) -> Option<(u32, u64)> {
        let i = self.epochs.partition_point(|e| e.0 <= epoch);
        if i == 0 {
            return None;
        }
        let found = self.epochs[i - 1].0;
        let end = self.epochs.get(i).map_or(self.leo(), |next| next.1);
        Some((found, end))
    }

    fn assign_epoch(&mut self, epoch: u32, start: u64) {
        if self.latest_epoch().is_none_or(|e| epoch > e) {
            self.epochs.push((epoch, start));
        }
    }

    /// A follower copying a record from its leader. Producer state is rebuilt from the log
    /// when the replica becomes leader, which gives the same result as tracking it here.
    fn append(&mut self, e: Entry) {
        let offset = self.leo();
        self.assign_epoch(e.epoch, offset);
        self.log.push(e);
    }

    /// Remember an appended batch's sequence range; Kafka keeps the last 5 per producer.
    fn record_producer_seq(&mut self, pid: u32, epoch: u16, first: i32, last: i32, base: u64) {
        let state = match self.producer_states.iter().position(|s| s.pid == pid) {
            Some(i) => &mut self.producer_states[i],
            None => {
                self.producer_states.push(ProducerSeqState {
                    pid,
                    epoch,
                    batches: Vec::with_capacity(PRODUCER_BATCH_CACHE),
                });
                self.producer_states.last_mut().expect("just pushed")
            }
        };
        if epoch != state.epoch {
            // A new epoch starts its sequence numbers afresh.
            state.epoch = epoch;
            state.batches.clear();
        }
        if state.batches.len() == PRODUCER_BATCH_CACHE {
            state.batches.remove(0);
        }
        state.batches.push((first, last, base));
    }

    /// Truncate the log to `offset`, returning the application messages removed.
    fn truncate_to(&mut self, offset: u64) -> Vec<MsgId> {
        if offset >= self.leo() {
            return Vec::new();
        }
        let removed: Vec<MsgId> = self.log[offset as usize..]
            .iter()
            .filter_map(|e| e.message())
            .collect();
        self.log.truncate(offset as usize);
        while self.epochs.last().is_some_and(|e| e.1 >= offset) {
            self.epochs.pop();
        }
        self.hw = self.hw.min(offset);
        self.rebuild_producer_states();
        removed
    }

    /// Rebuild idempotent producer state from the log (as Kafka does from its snapshots and
    /// the log after truncation or on becoming leader).
    fn rebuild_producer_states(&mut self) {
        self.producer_states.clear();
        self.ongoing_txns.clear();
        self.aborted_txns.clear();
        self.completing_txns.clear();
        let mut start = 0;
        for i in 0..self.log.len() {
            let e = self.log[i];
            self.track_txn(&e, i as u64);
            if !e.last_in_batch {
                continue;
            }
            let first = self.log[start];
            if e.producer != NO_PRODUCER && e.kind == EntryKind::Data {
                self.record_producer_seq(
                    e.producer,
                    e.producer_epoch,
                    first.seq,
                    e.seq,
                    start as u64,
                );
            }
            start = i + 1;
        }
    }

    /// Keep the open-transaction list and the aborted-transaction index up to date.
    fn track_txn(&mut self, e: &Entry, offset: u64) {
        if !e.transactional {
            return;
        }
        let open = self.ongoing_txns.iter().position(|t| t.0 == e.producer);
        match e.kind {
            EntryKind::Data => {
                if open.is_none() {
                    self.ongoing_txns.push((e.producer, offset));
                }
            }
            EntryKind::Commit | EntryKind::Abort => {
                if let Some(i) = open {
                    let (pid, first) = self.ongoing_txns.remove(i);
                    self.completing_txns.push((first, offset));
                    if e.kind == EntryKind::Abort {
                        self.aborted_txns.push((pid, first, offset));
                    }
                }
            }
        }
    }

    /// Last stable offset: the first offset of the oldest transaction that is open or whose
    /// marker the HW has not passed yet, or the HW.
    pub fn lso(&self) -> u64 {
        let unstable = self.ongoing_txns.iter().map(|t| t.1).chain(
            self.completing_txns
                .iter()
                .filter(|c| c.1 >= self.hw)
                .map(|c| c.0),
        );
        unstable.min().map_or(self.hw, |first| first.min(self.hw))
    }

    /// Open transactions: (producer id, first offset).
    pub fn ongoing_txns(&self) -> &[(u32, u64)] {
        &self.ongoing_txns
    }

    fn follower_slot(&self, b: BrokerId) -> Option<usize> {
        self.followers.iter().position(|f| f.broker == b)
    }
}

/// A topic partition: its replica list (first is the preferred leader) and every replica.
#[derive(Clone, Debug)]
pub struct Partition {
    pub topic: TopicId,
    pub index: u32,
    pub assignment: Vec<BrokerId>,
    pub replicas: Vec<Replica>,
    pub min_insync_replicas: u32,
    pub unclean_leader_election: bool,
}

impl Partition {
    pub fn new(
        topic: TopicId,
        index: u32,
        assignment: Vec<BrokerId>,
        min_isr: u32,
        unclean: bool,
    ) -> Self {
        let replicas = assignment
            .iter()
            .map(|&b| Replica::new(b, &assignment))
            .collect();
        Partition {
            topic,
            index,
            assignment,
            replicas,
            min_insync_replicas: min_isr,
            unclean_leader_election: unclean,
        }
    }

    pub fn replica(&self, b: BrokerId) -> Option<&Replica> {
        self.replicas.iter().find(|r| r.broker == b)
    }

    fn slot(&self, b: BrokerId) -> Option<usize> {
        self.assignment.iter().position(|&x| x == b)
    }
}

/// A broker as the controller sees it.
#[derive(Clone, Debug, Default)]
pub struct BrokerRegistration {
    pub fenced: bool,
    pub incarnation: u32,
    pub heartbeats: u64,
}

/// The controller's record of one partition (the metadata log's `PartitionRecord`).
#[derive(Clone, Copy, Debug)]
pub struct PartitionState {
    pub leader: Option<BrokerId>,
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub isr: BrokerSet,
}

/// The KRaft controller, simplified to one node whose metadata survives its own crash (in
/// Kafka a quorum of controllers replicates the metadata log).
#[derive(Clone, Debug, Default)]
pub struct Controller {
    pub brokers: Vec<BrokerRegistration>,
    pub parts: Vec<PartitionState>,
    /// For each broker, the partitions it hosts and its index in their replica lists.
    pub hosted: Vec<Vec<PartitionId>>,
}

impl Sim {
    fn replica_mut(&mut self, p: PartitionId, b: BrokerId) -> Option<&mut Replica> {
        let part = &mut self.partitions[p.idx()];
        let slot = part.slot(b)?;
        Some(&mut part.replicas[slot])
    }

    // ----- broker lifecycle ---------------------------------------------------------------

    pub(crate) fn broker_started(&mut self, b: BrokerId) {
        let node = self.node_of_broker(b);
        self.send_broker_heartbeat(b);
        self.set_timer_ms(
            node,
            self.k.settings.replica_lag_time_max_ms / 2,
            Timer::IsrCheck,
        );
        self.set_timer_ms(node, 1000, Timer::TxnHousekeeping);
    }

    pub(crate) fn broker_crashed(&mut self, b: BrokerId) {
        // The log (and the HW and leader-epoch checkpoints) survive; everything in memory goes.
        for p in self.controller.hosted[b.idx()].clone() {
            let r = self.replica_mut(p, b).expect("hosted replica");
            r.role = Role::None;
            r.leader = None;
            r.purgatory.clear();
            r.consumer_waits.clear();
            r.pending_isr = None;
            r.fetch_session = r.fetch_session.wrapping_add(1);
            r.fetch_outstanding = None;
            r.fetch_timer_armed = false;
            r.expiry_armed = None;
            for f in &mut r.followers {
                f.delayed = None;
                f.leo = None;
            }
        }
    }

    fn send_broker_heartbeat(&mut self, b: BrokerId) {
        let node = self.node_of_broker(b);
        let incarnation = self.k.nodes[node.idx()].incarnation;
        self.send(
            node,
            self.k.controller_node,
            Msg::BrokerHeartbeat {
                broker: b,
                incarnation,
            },
        );
        self.set_timer_ms(
            node,
            self.k.settings.broker_heartbeat_interval_ms,
            Timer::BrokerHeartbeat,
        );
    }

    pub(crate) fn broker_timer(&mut self, b: BrokerId, timer: Timer) {
        match timer {
            Timer::BrokerHeartbeat => self.send_broker_heartbeat(b),
            Timer::IsrCheck => {
                self.isr_shrink_check(b);
                let node = self.node_of_broker(b);
                self.set_timer_ms(
                    node,
                    self.k.settings.replica_lag_time_max_ms / 2,
                    Timer::IsrCheck,
                );
            }
            Timer::DelayedFetchExpire { partition } => self.expire_delayed_fetches(partition, b),
            Timer::FollowerFetchTimeout { partition } => {
                let timeout = self.k.settings.replica_socket_timeout_ms * 1000;
                let now = self.k.now;
                let Some(r) = self.replica_mut(partition, b) else {
                    return;
                };
                r.fetch_timer_armed = false;
                if r.role != Role::Follower {
                    return;
                }
                match r.fetch_outstanding {
                    Some(sent) if now.0 >= sent.0 + timeout => {
                        // No answer: give up on this request and fetch again.
                        r.fetch_session = r.fetch_session.wrapping_add(1);
                        r.fetch_outstanding = None;
                        self.send_replica_fetch(partition, b);
                    }
                    Some(sent) => {
                        r.fetch_timer_armed = true;
                        let node = self.node_of_broker(b);
                        self.set_timer(
                            node,
                            sent.0 + timeout - now.0,
                            Timer::FollowerFetchTimeout { partition },
                        );
                    }
                    None => {}
                }
            }
            Timer::FollowerFetchRetry { partition, session } => {
                let Some(r) = self.replica_mut(partition, b) else {
                    return;
                };
                if r.fetch_session == session && r.role == Role::Follower {
                    self.send_replica_fetch(partition, b);
                }
            }
            Timer::CoordinatorJoinDeadline { .. } | Timer::CoordinatorSessionCheck { .. } => {
                self.coordinator_timer(b, timer)
            }
            Timer::TxnHousekeeping | Timer::TxnMarkerRetry { .. } => self.txn_timer(b, timer),
            _ => {}
        }
    }

    pub(crate) fn broker_receive(&mut self, b: BrokerId, from: NodeId, msg: Msg) {
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
                self.handle_produce(
                    b,
                    from,
                    ProduceRequest {
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
                    },
                );
                self.free_record_buf(records);
            }
            Msg::WriteTxnMarker {
                partition,
                producer_id,
                producer_epoch,
                commit,
                txn,
                token,
            } => self.handle_txn_marker(
                b,
                from,
                partition,
                producer_id,
                producer_epoch,
                commit,
                txn,
                token,
            ),
            Msg::Txn { txn, req } => self.txn_coordinator_receive(b, from, txn, req),
            Msg::WriteTxnMarkerResponse {
                partition,
                txn,
                token,
                ok,
            } => self.txn_marker_response(b, partition, txn, token, ok),
            Msg::ReplicaFetch {
                partition,
                follower,
                fetch_offset,
                last_fetched_epoch,
                leader_epoch,
                session,
            } => self.handle_replica_fetch(
                b,
                partition,
                follower,
                fetch_offset,
                last_fetched_epoch,
                leader_epoch,
                session,
            ),
            Msg::ReplicaFetchResponse {
                partition,
                leader_epoch,
                session,
                result,
            } => self.handle_replica_fetch_response(b, partition, leader_epoch, session, result),
            Msg::ConsumerFetch {
                partition,
                offset,
                token,
                max_records,
                max_wait_ms,
                read_committed,
            } => self.handle_consumer_fetch(
                b,
                from,
                partition,
                offset,
                token,
                (max_records, max_wait_ms),
                read_committed,
            ),
            Msg::PartitionChange {
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            } => self.handle_partition_change(
                b,
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            ),
            Msg::AlterPartitionResponse {
                partition,
                leader_epoch,
                result,
            } => {
                let Some(r) = self.replica_mut(partition, b) else {
                    return;
                };
                if r.role != Role::Leader || r.leader_epoch != leader_epoch {
                    return;
                }
                r.pending_isr = None;
                if let Some((isr, pe)) = result
                    && pe > r.partition_epoch
                {
                    r.isr = isr;
                    r.partition_epoch = pe;
                }
                self.maybe_advance_hw(partition, b);
                self.complete_purgatory(partition, b);
            }
            Msg::ListOffsets {
                partition,
                token,
                read_committed,
            } => {
                // LATEST_TIMESTAMP: the HW for read_uncommitted, the LSO for read_committed
                // (`Partition.fetchOffsetForTimestamp` with `isolationLevel`), so a
                // read_committed consumer never starts inside an open transaction.
                let offset = self.partitions[partition.idx()]
                    .replica(b)
                    .filter(|r| r.is_leader())
                    .map(|r| if read_committed { r.lso() } else { r.hw });
                let node = self.node_of_broker(b);
                self.send(
                    node,
                    from,
                    Msg::ListOffsetsResponse {
                        partition,
                        token,
                        offset,
                    },
                );
            }
            Msg::Group {
                group,
                consumer,
                req,
            } => self.coordinator_receive(b, from, group, consumer, req),
            _ => {}
        }
    }

    // ----- produce ------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn handle_produce(&mut self, b: BrokerId, from: NodeId, req: ProduceRequest) {
        let ProduceRequest {
            producer,
            partition: p,
            batch,
            attempt,
            records: buf,
            pid,
            producer_epoch,
            base_seq,
            acks,
            timeout_ms,
            transactional,
        } = req;
        let count = self.k.record_bufs[buf as usize].len() as u32;
        let respond = |sim: &mut Sim, result: ProduceResult| {
            if acks != crate::sim::config::Acks::None {
                let node = sim.node_of_broker(b);
                sim.send(
                    node,
                    from,
                    Msg::ProduceResponse {
                        partition: p,
                        batch,
                        attempt,
                        result,
                    },
                );
            }
        };
        let min_isr = self.partitions[p.idx()].min_insync_replicas;
        let Some(r) = self.replica_mut(p, b).filter(|r| r.role == Role::Leader) else {
            respond(self, ProduceResult::Err(ErrorCode::NotLeaderOrFollower));
            return;
        };
        if acks == crate::sim::config::Acks::All && r.isr.len() < min_isr {
            respond(self, ProduceResult::Err(ErrorCode::NotEnoughReplicas));
            return;
        }
        let last_seq = base_seq + count as i32 - 1;
        if let Some(pid) = pid
            && let Some(state) = r.producer_states.iter().find(|s| s.pid == pid)
        {
            // A newer epoch has written here: this producer instance was fenced (KIP-98).
            if producer_epoch < state.epoch {
                respond(self, ProduceResult::Err(ErrorCode::InvalidProducerEpoch));
                return;
            }
            // The common case, the next sequence, cannot be a duplicate: skip the cache.
            if producer_epoch == state.epoch && base_seq != state.last_seq() + 1 {
                if let Some(&(_, _, base)) = state
                    .batches
                    .iter()
                    .find(|run| run.0 == base_seq && run.1 == last_seq)
                {
                    let first_msg = self.k.record_bufs[buf as usize][0];
                    self.emit(Trace::DuplicateBatch {
                        partition: p,
                        broker: b,
                        producer,
                        first_msg,
                        base_offset: base,
                    });
                    self.ack_or_park(
                        p,
                        b,
                        from,
                        (producer, batch, attempt),
                        (acks, timeout_ms),
                        base,
                        base + count as u64,
                    );
                    return;
                }
                // Neither a duplicate nor the next sequence: a gap.
                respond(
                    self,
                    ProduceResult::Err(ErrorCode::OutOfOrderSequenceNumber),
                );
                return;
            }
        }
        // Append.
        let r = self.replica_mut(p, b).expect("leader replica");
        let base = r.leo();
        let epoch = r.leader_epoch;
        let records = &self.k.record_bufs[buf as usize];
        let part = &mut self.partitions[p.idx()];
        let slot = part.slot(b).expect("leader slot");
        let r = &mut part.replicas[slot];
        for (i, &m) in records.iter().enumerate() {
            r.assign_epoch(epoch, r.leo());
            let e = Entry {
                epoch,
                msg: m,
                producer: pid.unwrap_or(NO_PRODUCER),
                producer_epoch,
                seq: if pid.is_some() {
                    base_seq + i as i32
                } else {
                    -1
                },
                kind: EntryKind::Data,
                last_in_batch: i + 1 == records.len(),
                transactional,
            };
            let offset = r.leo();
            r.track_txn(&e, offset);
            r.log.push(e);
        }
        if let Some(pid) = pid {
            r.record_producer_seq(pid, producer_epoch, base_seq, last_seq, base);
        }
        let first_msg = records[0];
        self.emit(Trace::Appended {
            partition: p,
            broker: b,
            base_offset: base,
            count,
            epoch,
            first_msg,
        });
        self.wake_delayed_fetches(p, b);
        self.maybe_advance_hw(p, b);
        match acks {
            crate::sim::config::Acks::None => {}
            crate::sim::config::Acks::Leader => {
                respond(self, ProduceResult::Ok { base_offset: base })
            }
            crate::sim::config::Acks::All => self.ack_or_park(
                p,
                b,
                from,
                (producer, batch, attempt),
                (acks, timeout_ms),
                base,
                base + count as u64,
            ),
        }
    }

    /// A transaction coordinator asks this leader to write a COMMIT or ABORT marker. It is
    /// answered once the marker is replicated to the ISR (the HW passes it).
    #[allow(clippy::too_many_arguments)]
    fn handle_txn_marker(
        &mut self,
        b: BrokerId,
        from: NodeId,
        p: PartitionId,
        pid: u32,
        producer_epoch: u16,
        commit: bool,
        txn: u32,
        token: u32,
    ) {
        let node = self.node_of_broker(b);
        let Some(r) = self.replica_mut(p, b).filter(|r| r.role == Role::Leader) else {
            self.send(
                node,
                from,
                Msg::WriteTxnMarkerResponse {
                    partition: p,
                    txn,
                    token,
                    ok: false,
                },
            );
            return;
        };
        let offset = r.leo();
        let epoch = r.leader_epoch;
        r.assign_epoch(epoch, offset);
        let e = Entry {
            epoch,
            msg: MsgId(u32::MAX),
            producer: pid,
            producer_epoch,
            seq: -1,
            kind: if commit {
                EntryKind::Commit
            } else {
                EntryKind::Abort
            },
            last_in_batch: true,
            transactional: true,
        };
        r.track_txn(&e, offset);
        r.log.push(e);
        r.marker_waits.push(MarkerWait {
            end_offset: offset + 1,
            to: from,
            txn,
            token,
        });
        // A marker also bumps the producer's epoch on this partition.
        if let Some(state) = r.producer_states.iter_mut().find(|s| s.pid == pid)
            && producer_epoch > state.epoch
        {
            state.epoch = producer_epoch;
            state.batches.clear();
        }
        self.emit(Trace::TxnMarker {
            partition: p,
            broker: b,
            txn,
            commit,
            offset,
        });
        self.wake_delayed_fetches(p, b);
        self.maybe_advance_hw(p, b);
        self.complete_marker_waits(p, b);
    }

    fn complete_marker_waits(&mut self, p: PartitionId, b: BrokerId) {
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        if r.marker_waits.is_empty() {
            return;
        }
        let hw = r.hw;
        let mut done = Vec::new();
        r.marker_waits.retain(|w| {
            if w.end_offset <= hw {
                done.push(*w);
                false
            } else {
                true
            }
        });
        let node = self.node_of_broker(b);
        for w in done {
            self.send(
                node,
                w.to,
                Msg::WriteTxnMarkerResponse {
                    partition: p,
                    txn: w.txn,
                    token: w.token,
                    ok: true,
                },
            );
        }
    }

    /// For `acks=all`: answer now if the HW already covers the batch, else wait in purgatory.
    #[allow(clippy::too_many_arguments)]
    fn ack_or_park(
        &mut self,
        p: PartitionId,
        b: BrokerId,
        from: NodeId,
        (producer, batch, attempt): (ProducerId, u32, u32),
        (acks, timeout): (crate::sim::config::Acks, u32),
        base_offset: u64,
        end_offset: u64,
    ) {
        let timeout = u64::from(timeout);
        if acks != crate::sim::config::Acks::All {
            if acks == crate::sim::config::Acks::Leader {
                let node = self.node_of_broker(b);
                self.send(
                    node,
                    from,
                    Msg::ProduceResponse {
                        partition: p,
                        batch,
                        attempt,
                        result: ProduceResult::Ok { base_offset },
                    },
                );
            }
            return;
        }
        let deadline = self.k.now.plus_ms(timeout);
        let r = self.replica_mut(p, b).expect("leader replica");
        r.purgatory.push(PendingAck {
            producer,
            client: from,
            batch,
            attempt,
            base_offset,
            end_offset,
            deadline,
        });
        self.complete_purgatory(p, b);
    }

    /// Answer `acks=all` produces whose records the HW now covers (Kafka's
    /// `Partition.checkEnoughReplicasReachOffset`), and time out stale ones.
    fn complete_purgatory(&mut self, p: PartitionId, b: BrokerId) {
        let min_isr = self.partitions[p.idx()].min_insync_replicas;
        let now = self.k.now;
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        if r.purgatory.is_empty() || r.role != Role::Leader {
            return;
        }
        let hw = r.hw;
        let isr_len = r.isr.len();
        let mut done: Vec<(PendingAck, ProduceResult)> = Vec::new();
        r.purgatory.retain(|pa| {
            if pa.end_offset <= hw {
                let result = if isr_len >= min_isr {
                    ProduceResult::Ok {
                        base_offset: pa.base_offset,
                    }
                } else {
                    ProduceResult::Err(ErrorCode::NotEnoughReplicasAfterAppend)
                };
                done.push((*pa, result));
                false
            } else if pa.deadline <= now {
                done.push((*pa, ProduceResult::Err(ErrorCode::RequestTimedOut)));
                false
            } else {
                true
            }
        });
        for (pa, result) in done {
            self.answer_pending_ack(p, b, pa, result);
        }
    }

    /// Send the response an `acks=all` produce in purgatory was waiting for.
    fn answer_pending_ack(
        &mut self,
        p: PartitionId,
        b: BrokerId,
        pa: PendingAck,
        result: ProduceResult,
    ) {
        let node = self.node_of_broker(b);
        self.send(
            node,
            pa.client,
            Msg::ProduceResponse {
                partition: p,
                batch: pa.batch,
                attempt: pa.attempt,
                result,
            },
        );
    }

    fn fail_purgatory(&mut self, p: PartitionId, b: BrokerId, error: ErrorCode) {
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        let pending = std::mem::take(&mut r.purgatory);
        let waits = std::mem::take(&mut r.consumer_waits);
        let node = self.node_of_broker(b);
        for pa in pending {
            self.answer_pending_ack(p, b, pa, ProduceResult::Err(error));
        }
        for w in waits {
            self.send(
                node,
                w.to,
                Msg::ConsumerFetchResponse {
                    partition: p,
                    token: w.request_token,
                    result: ConsumerFetchResult::Err(ErrorCode::NotLeaderOrFollower),
                },
            );
        }
    }

    // ----- high watermark and ISR -----------------------------------------------------------

    /// Leader: HW = min LEO over the maximal ISR; it never moves back.
    pub(crate) fn maybe_advance_hw(&mut self, p: PartitionId, b: BrokerId) {
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        if r.role != Role::Leader {
            return;
        }
        let isr = r.maximal_isr();
        let mut min = r.leo();
        for f in &r.followers {
            if isr.contains(f.broker) {
                match f.leo {
                    Some(leo) => min = min.min(leo),
                    None => return,
                }
            }
        }
        if min > r.hw {
            r.hw = min;
            r.completing_txns.retain(|c| c.1 >= min);
            self.emit(Trace::HighWatermark {
                partition: p,
                broker: b,
                hw: min,
            });
            self.complete_purgatory(p, b);
            self.complete_marker_waits(p, b);
            self.wake_consumer_waits(p, b);
        }
    }

    /// Kafka's ISR expiration task: drop followers that have not caught up within
    /// `replica.lag.time.max.ms`. A follower whose LEO equals the leader's is never lagging.
    fn isr_shrink_check(&mut self, b: BrokerId) {
        let lag_us = self.k.settings.replica_lag_time_max_ms * 1000;
        let now = self.k.now;
        for i in 0..self.controller.hosted[b.idx()].len() {
            let p = self.controller.hosted[b.idx()][i];
            let Some(r) = self.replica_mut(p, b) else {
                continue;
            };
            if r.role != Role::Leader {
                continue;
            }
            if let Some((_, sent)) = r.pending_isr {
                if now.0 < sent.0 + ALTER_PARTITION_RETRY_MS * 1000 {
                    continue;
                }
                r.pending_isr = None;
            }
            let leo = r.leo();
            let mut shrunk = r.isr;
            for f in &r.followers {
                if r.isr.contains(f.broker)
                    && f.leo != Some(leo)
                    && now.0 > f.last_caught_up.0 + lag_us
                {
                    shrunk.remove(f.broker);
                }
            }
            if shrunk != r.isr {
                self.send_alter_partition(p, b, shrunk);
            }
        }
    }

    fn maybe_expand_isr(&mut self, p: PartitionId, b: BrokerId, follower: BrokerId) {
        let now = self.k.now;
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        if r.isr.contains(follower) {
            return;
        }
        if let Some((_, sent)) = r.pending_isr {
            if now.0 < sent.0 + ALTER_PARTITION_RETRY_MS * 1000 {
                return;
            }
            r.pending_isr = None;
        }
        let Some(slot) = r.follower_slot(follower) else {
            return;
        };
        let Some(leo) = r.followers[slot].leo else {
            return;
        };
        let epoch_start = r.epochs.last().map_or(0, |e| e.1);
        // Kafka's `isFollowerInSync`: caught up to the HW and into the current leader epoch.
        if leo >= r.hw && leo >= epoch_start {
            let mut isr = r.isr;
            isr.insert(follower);
            self.send_alter_partition(p, b, isr);
        }
    }

    fn send_alter_partition(&mut self, p: PartitionId, b: BrokerId, isr: BrokerSet) {
        let now = self.k.now;
        let r = self.replica_mut(p, b).expect("leader replica");
        r.pending_isr = Some((isr, now));
        let msg = Msg::AlterPartition {
            partition: p,
            leader: b,
            leader_epoch: r.leader_epoch,
            partition_epoch: r.partition_epoch,
            isr,
        };
        let node = self.node_of_broker(b);
        self.send(node, self.k.controller_node, msg);
    }

    // ----- replica fetching ---------------------------------------------------------------

    pub(crate) fn send_replica_fetch(&mut self, p: PartitionId, b: BrokerId) {
        let now = self.k.now;
        let socket_timeout_us = self.k.settings.replica_socket_timeout_ms * 1000;
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        let Some(leader) = r.leader.filter(|_| r.role == Role::Follower) else {
            return;
        };
        let arm_timer = !r.fetch_timer_armed;
        r.fetch_timer_armed = true;
        r.fetch_outstanding = Some(now);
        let msg = Msg::ReplicaFetch {
            partition: p,
            follower: b,
            fetch_offset: r.leo(),
            last_fetched_epoch: r.log.last().map(|e| e.epoch),
            leader_epoch: r.leader_epoch,
            session: r.fetch_session,
        };
        let node = self.node_of_broker(b);
        let to = self.node_of_broker(leader);
        self.send(node, to, msg);
        if arm_timer {
            self.set_timer(
                node,
                socket_timeout_us,
                Timer::FollowerFetchTimeout { partition: p },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_replica_fetch(
        &mut self,
        b: BrokerId,
        p: PartitionId,
        follower: BrokerId,
        fetch_offset: u64,
        last_fetched_epoch: Option<u32>,
        leader_epoch: u32,
        session: u32,
    ) {
        let now = self.k.now;
        let node = self.node_of_broker(b);
        let to = self.node_of_broker(follower);
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        let error = if r.role != Role::Leader {
            Some(ErrorCode::NotLeaderOrFollower)
        } else if leader_epoch < r.leader_epoch {
            Some(ErrorCode::FencedLeaderEpoch)
        } else if leader_epoch > r.leader_epoch {
            Some(ErrorCode::UnknownLeaderEpoch)
        } else {
            None
        };
        if let Some(e) = error {
            self.send(
                node,
                to,
                Msg::ReplicaFetchResponse {
                    partition: p,
                    leader_epoch,
                    session,
                    result: ReplicaFetchResult::Err(e),
                },
            );
            return;
        }
        // Divergence check (Kafka's `Partition.validateFetchOffsetAndMaybeGetDivergingEpoch`).
        if let Some(lfe) = last_fetched_epoch {
            let (epoch, end) = r.end_offset_for_epoch(lfe).unwrap_or((0, 0));
            if epoch < lfe || end < fetch_offset {
                self.send(
                    node,
                    to,
                    Msg::ReplicaFetchResponse {
                        partition: p,
                        leader_epoch,
                        session,
                        result: ReplicaFetchResult::Diverging {
                            epoch,
                            end_offset: end,
                        },
                    },
                );
                return;
            }
        }
        let leo = r.leo();
        let Some(slot) = r.follower_slot(follower) else {
            return;
        };
        // Kafka's `Replica.updateFetchStateOrThrow`.
        let f = &mut r.followers[slot];
        if fetch_offset >= leo {
            f.last_caught_up = f.last_caught_up.max(now);
        } else if fetch_offset >= f.last_fetch_leader_leo {
            f.last_caught_up = f.last_caught_up.max(f.last_fetch_time);
        }
        f.last_fetch_leader_leo = leo;
        f.last_fetch_time = now;
        f.leo = Some(fetch_offset);
        f.delayed = None;
        self.maybe_expand_isr(p, b, follower);
        self.maybe_advance_hw(p, b);
        let deadline = self
            .k
            .now
            .plus_ms(self.k.settings.replica_fetch_wait_max_ms);
        let r = self.replica_mut(p, b).expect("leader replica");
        if fetch_offset < r.leo() {
            self.respond_replica_fetch(p, b, slot, fetch_offset, session);
        } else {
            r.followers[slot].delayed = Some(DelayedFetch {
                fetch_offset,
                session,
                deadline,
            });
            let _ = node;
            self.arm_fetch_expiry(p, b, deadline);
        }
    }

    fn respond_replica_fetch(
        &mut self,
        p: PartitionId,
        b: BrokerId,
        slot: usize,
        fetch_offset: u64,
        session: u32,
    ) {
        let payload = self.alloc_payload();
        let part = &self.partitions[p.idx()];
        let r = &part.replicas[part.slot(b).expect("leader slot")];
        let end = r.leo().min(fetch_offset + REPLICA_FETCH_MAX_RECORDS);
        let follower = r.followers[slot].broker;
        let hw = r.hw;
        let leader_epoch = r.leader_epoch;
        let (log, buf) = (
            &self.partitions[p.idx()],
            &mut self.k.payloads[payload as usize],
        );
        let r = &log.replicas[log.slot(b).expect("leader slot")];
        buf.extend_from_slice(&r.log[fetch_offset as usize..end as usize]);
        let node = self.node_of_broker(b);
        let to = self.node_of_broker(follower);
        self.send(
            node,
            to,
            Msg::ReplicaFetchResponse {
                partition: p,
                leader_epoch,
                session,
                result: ReplicaFetchResult::Records {
                    base_offset: fetch_offset,
                    payload,
                    hw,
                },
            },
        );
    }

    /// New data on the leader completes parked follower fetches.
    fn wake_delayed_fetches(&mut self, p: PartitionId, b: BrokerId) {
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        let leo = r.leo();
        for slot in 0..r.followers.len() {
            let r = self.replica_mut(p, b).expect("leader replica");
            if let Some(d) = r.followers[slot].delayed
                && d.fetch_offset < leo
            {
                r.followers[slot].delayed = None;
                self.respond_replica_fetch(p, b, slot, d.fetch_offset, d.session);
            }
        }
    }

    /// Make sure a timer fires by `deadline` for this replica's parked fetches. One timer
    /// serves them all (no timer is queued per parked fetch).
    fn arm_fetch_expiry(&mut self, p: PartitionId, b: BrokerId, deadline: SimTime) {
        let now = self.k.now;
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        if r.expiry_armed.is_some_and(|at| at <= deadline) {
            return;
        }
        r.expiry_armed = Some(deadline);
        let node = self.node_of_broker(b);
        self.set_timer(
            node,
            deadline.0 - now.0,
            Timer::DelayedFetchExpire { partition: p },
        );
    }

    /// Answer every parked fetch whose wait is over, then wait for the next one.
    fn expire_delayed_fetches(&mut self, p: PartitionId, b: BrokerId) {
        let now = self.k.now;
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        if r.expiry_armed.is_some_and(|at| at <= now) {
            r.expiry_armed = None;
        }
        for slot in 0..r.followers.len() {
            let r = self.replica_mut(p, b).expect("replica");
            if let Some(d) = r.followers[slot].delayed
                && d.deadline <= now
            {
                r.followers[slot].delayed = None;
                self.respond_replica_fetch(p, b, slot, d.fetch_offset, d.session);
            }
        }
        self.answer_consumer_waits(p, b, |w| w.deadline <= now);
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        let next = r
            .followers
            .iter()
            .filter_map(|f| f.delayed.map(|d| d.deadline))
            .chain(r.consumer_waits.iter().map(|w| w.deadline))
            .min();
        if let Some(at) = next {
            self.arm_fetch_expiry(p, b, at);
        }
    }

    fn handle_replica_fetch_response(
        &mut self,
        b: BrokerId,
        p: PartitionId,
        leader_epoch: u32,
        session: u32,
        result: ReplicaFetchResult,
    ) {
        let payload = match result {
            ReplicaFetchResult::Records { payload, .. } => Some(payload),
            _ => None,
        };
        let stale = match self.partitions[p.idx()].replica(b) {
            Some(r) => {
                r.role != Role::Follower
                    || r.fetch_session != session
                    || r.leader_epoch != leader_epoch
            }
            None => true,
        };
        if stale {
            if let Some(pl) = payload {
                self.free_payload(pl);
            }
            return;
        }
        let node = self.node_of_broker(b);
        match result {
            ReplicaFetchResult::Records {
                base_offset,
                payload,
                hw,
            } => {
                let records = std::mem::take(&mut self.k.payloads[payload as usize]);
                let r = self.replica_mut(p, b).expect("follower replica");
                r.fetch_outstanding = None;
                let mut appended = false;
                if base_offset == r.leo() {
                    for &e in &records {
                        r.append(e);
                    }
                    appended = !records.is_empty();
                }
                r.hw = r.hw.max(hw.min(r.leo()));
                let leo = r.leo();
                self.k.payloads[payload as usize] = records;
                self.free_payload(payload);
                if appended {
                    self.emit(Trace::Replicated {
                        partition: p,
                        broker: b,
                        leo,
                    });
                }
                self.send_replica_fetch(p, b);
            }
            ReplicaFetchResult::Diverging { epoch, end_offset } => {
                let r = self.replica_mut(p, b).expect("follower replica");
                r.fetch_outstanding = None;
                // Truncate to the smaller of the leader's and our own end of that epoch.
                let own_end = r.end_offset_for_epoch(epoch).map_or(0, |(e, end)| {
                    if e == epoch { end } else { end.min(end_offset) }
                });
                let to = end_offset.min(own_end).min(r.leo());
                let from = r.leo();
                let removed = r.truncate_to(to);
                if from > to {
                    self.emit(Trace::Truncated {
                        partition: p,
                        broker: b,
                        from,
                        to,
                        removed: removed.into_boxed_slice(),
                    });
                }
                self.send_replica_fetch(p, b);
            }
            ReplicaFetchResult::Err(_) => {
                let r = self.replica_mut(p, b).expect("follower replica");
                r.fetch_outstanding = None;
                let session = r.fetch_session;
                self.set_timer_ms(
                    node,
                    REPLICA_FETCH_BACKOFF_MS,
                    Timer::FollowerFetchRetry {
                        partition: p,
                        session,
                    },
                );
            }
        }
    }

    // ----- consumer fetching ------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn handle_consumer_fetch(
        &mut self,
        b: BrokerId,
        from: NodeId,
        p: PartitionId,
        offset: u64,
        request_token: u32,
        (max_records, max_wait_ms): (u32, u32),
        read_committed: bool,
    ) {
        let node = self.node_of_broker(b);
        let deadline = self.k.now.plus_ms(u64::from(max_wait_ms));
        let Some(r) = self.replica_mut(p, b).filter(|r| r.role == Role::Leader) else {
            self.send(
                node,
                from,
                Msg::ConsumerFetchResponse {
                    partition: p,
                    token: request_token,
                    result: ConsumerFetchResult::Err(ErrorCode::NotLeaderOrFollower),
                },
            );
            return;
        };
        if offset > r.leo() {
            let leo = r.leo();
            self.send(
                node,
                from,
                Msg::ConsumerFetchResponse {
                    partition: p,
                    token: request_token,
                    result: ConsumerFetchResult::OutOfRange { leo },
                },
            );
            return;
        }
        let limit = if read_committed { r.lso() } else { r.hw };
        if offset < limit {
            self.respond_consumer_fetch(
                p,
                b,
                from,
                offset,
                request_token,
                max_records,
                read_committed,
            );
        } else {
            r.consumer_waits.push(ConsumerWait {
                to: from,
                offset,
                max_records,
                read_committed,
                request_token,
                deadline,
            });
            self.arm_fetch_expiry(p, b, deadline);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn respond_consumer_fetch(
        &mut self,
        p: PartitionId,
        b: BrokerId,
        to: NodeId,
        offset: u64,
        request_token: u32,
        max_records: u32,
        read_committed: bool,
    ) {
        let payload = self.alloc_payload();
        let part = &self.partitions[p.idx()];
        let r = &part.replicas[part.slot(b).expect("leader slot")];
        let limit = if read_committed { r.lso() } else { r.hw };
        let end = limit.min(offset + max_records as u64).max(offset);
        self.k.payloads[payload as usize].extend_from_slice(&r.log[offset as usize..end as usize]);
        // read_committed consumers drop aborted records themselves, from this list.
        let aborted: Box<[(u32, u64, u64)]> = if read_committed {
            r.aborted_txns
                .iter()
                .copied()
                .filter(|&(_, first, last)| first < end && last >= offset)
                .collect()
        } else {
            Box::new([])
        };
        let node = self.node_of_broker(b);
        self.send(
            node,
            to,
            Msg::ConsumerFetchResponse {
                partition: p,
                token: request_token,
                result: ConsumerFetchResult::Records {
                    base_offset: offset,
                    payload,
                    hw: limit,
                    aborted,
                },
            },
        );
    }

    fn wake_consumer_waits(&mut self, p: PartitionId, b: BrokerId) {
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        if r.consumer_waits.is_empty() {
            return;
        }
        let (hw, lso) = (r.hw, r.lso());
        self.answer_consumer_waits(p, b, |w| w.offset < if w.read_committed { lso } else { hw });
    }

    /// Answer the parked consumer fetches for which `ready` holds.
    fn answer_consumer_waits(
        &mut self,
        p: PartitionId,
        b: BrokerId,
        ready: impl Fn(&ConsumerWait) -> bool,
    ) {
        let mut i = 0;
        while let Some(r) = self.replica_mut(p, b)
            && i < r.consumer_waits.len()
        {
            if ready(&r.consumer_waits[i]) {
                let w = r.consumer_waits.swap_remove(i);
                self.respond_consumer_fetch(
                    p,
                    b,
                    w.to,
                    w.offset,
                    w.request_token,
                    w.max_records,
                    w.read_committed,
                );
            } else {
                i += 1;
            }
        }
    }

    // ----- partition state changes from the controller --------------------------------------

    fn handle_partition_change(
        &mut self,
        b: BrokerId,
        p: PartitionId,
        leader: Option<BrokerId>,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: BrokerSet,
    ) {
        let Some(r) = self.replica_mut(p, b) else {
            return;
        };
        let new_epoch = leader_epoch > r.leader_epoch || r.role == Role::None;
        if leader_epoch < r.leader_epoch || (!new_epoch && partition_epoch <= r.partition_epoch) {
            return;
        }
        r.isr = isr;
        r.partition_epoch = partition_epoch;
        if !new_epoch {
            // Same leader, new ISR (e.g. the controller removed a fenced follower).
            r.pending_isr = None;
            self.maybe_advance_hw(p, b);
            self.complete_purgatory(p, b);
            return;
        }
        let was_leader = r.role == Role::Leader;
        r.leader_epoch = leader_epoch;
        r.leader = leader;
        if was_leader {
            self.fail_purgatory(p, b, ErrorCode::NotLeaderOrFollower);
        }
        match leader {
            Some(l) if l == b => self.become_leader(p, b),
            Some(_) => self.become_follower(p, b),
            None => {
                let r = self.replica_mut(p, b).expect("replica");
                r.role = Role::None;
                r.fetch_session = r.fetch_session.wrapping_add(1);
            }
        }
    }

    fn become_leader(&mut self, p: PartitionId, b: BrokerId) {
        let now = self.k.now;
        let r = self.replica_mut(p, b).expect("replica");
        r.role = Role::Leader;
        r.pending_isr = None;
        r.fetch_session = r.fetch_session.wrapping_add(1);
        r.fetch_outstanding = None;
        let epoch = r.leader_epoch;
        let leo = r.leo();
        r.assign_epoch(epoch, leo);
        for f in &mut r.followers {
            f.leo = None;
            f.delayed = None;
            f.last_caught_up = now;
            f.last_fetch_time = now;
            f.last_fetch_leader_leo = leo;
        }
        r.rebuild_producer_states();
        self.maybe_advance_hw(p, b);
    }

    fn become_follower(&mut self, p: PartitionId, b: BrokerId) {
        let r = self.replica_mut(p, b).expect("replica");
        r.role = Role::Follower;
        r.pending_isr = None;
        r.fetch_session = r.fetch_session.wrapping_add(1);
        r.fetch_outstanding = None;
        for f in &mut r.followers {
            f.delayed = None;
        }
        self.send_replica_fetch(p, b);
    }

    // ----- the controller -----------------------------------------------------------------

    pub(crate) fn controller_crashed(&mut self) {}

    pub(crate) fn controller_started(&mut self) {
        // A new active controller gives every broker a fresh session.
        for b in 0..self.controller.brokers.len() {
            let heartbeats = self.controller.brokers[b].heartbeats;
            self.set_timer_ms(
                self.k.controller_node,
                self.k.settings.broker_session_timeout_ms,
                Timer::ControllerSessionCheck {
                    broker: BrokerId(b as u32),
                    heartbeats,
                },
            );
        }
    }

    pub(crate) fn controller_timer(&mut self, timer: Timer) {
        if let Timer::ControllerSessionCheck { broker, heartbeats } = timer {
            let reg = &self.controller.brokers[broker.idx()];
            if reg.heartbeats == heartbeats && !reg.fenced {
                self.fence_broker(broker);
            }
        }
    }

    pub(crate) fn controller_receive(&mut self, from: NodeId, msg: Msg) {
        match msg {
            Msg::BrokerHeartbeat {
                broker,
                incarnation,
            } => {
                let reg = &mut self.controller.brokers[broker.idx()];
                reg.heartbeats += 1;
                let heartbeats = reg.heartbeats;
                let restarted = reg.incarnation != incarnation;
                let fenced = reg.fenced;
                reg.incarnation = incarnation;
                if restarted && !fenced {
                    // A broker that re-registers has lost its in-memory state: treat it as
                    // fenced and unfenced again, which moves its leaderships away.
                    self.fence_broker(broker);
                }
                if restarted || fenced {
                    self.unfence_broker(broker);
                }
                self.set_timer_ms(
                    self.k.controller_node,
                    self.k.settings.broker_session_timeout_ms,
                    Timer::ControllerSessionCheck { broker, heartbeats },
                );
            }
            Msg::AlterPartition {
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                let st = self.controller.parts[partition.idx()];
                let valid = !self.controller.brokers[leader.idx()].fenced
                    && st.leader == Some(leader)
                    && st.leader_epoch == leader_epoch
                    && st.partition_epoch == partition_epoch;
                // KRaft refuses to add fenced brokers to the ISR (INELIGIBLE_REPLICA).
                let isr: BrokerSet = isr
                    .iter()
                    .filter(|&x| !self.controller.brokers[x.idx()].fenced || st.isr.contains(x))
                    .collect();
                let result = if valid && isr.contains(leader) {
                    let old = st.isr;
                    let st = &mut self.controller.parts[partition.idx()];
                    st.isr = isr;
                    st.partition_epoch += 1;
                    let pe = st.partition_epoch;
                    // One IsrChanged per broker that left or joined: an AlterPartition may
                    // remove several followers at once, and each is named.
                    for changed in BrokerSet(old.0 ^ isr.0).iter() {
                        self.emit(Trace::IsrChanged {
                            partition,
                            leader,
                            isr,
                            changed,
                            expanded: isr.contains(changed),
                        });
                    }
                    Some((isr, pe))
                } else {
                    None
                };
                self.send(
                    self.k.controller_node,
                    from,
                    Msg::AlterPartitionResponse {
                        partition,
                        leader_epoch,
                        result,
                    },
                );
            }
            Msg::MetadataRequest { partition, token } => {
                let st = self.controller.parts[partition.idx()];
                let unfenced = self.unfenced_brokers();
                self.send(
                    self.k.controller_node,
                    from,
                    Msg::MetadataResponse {
                        partition,
                        leader: st.leader,
                        token,
                        unfenced,
                    },
                );
            }
            _ => {}
        }
    }

    fn fence_broker(&mut self, b: BrokerId) {
        self.controller.brokers[b.idx()].fenced = true;
        let fenced = self.emit(Trace::BrokerFenced { broker: b });
        // The elections and ISR changes that follow are caused by the fencing.
        let cause = self.k.cause.replace(fenced);
        for i in 0..self.controller.hosted[b.idx()].len() {
            let p = self.controller.hosted[b.idx()][i];
            let st = self.controller.parts[p.idx()];
            if st.leader == Some(b) {
                self.elect_leader(p, false);
            } else if st.isr.contains(b) && st.isr.len() > 1 {
                let st = &mut self.controller.parts[p.idx()];
                st.isr.remove(b);
                st.partition_epoch += 1;
                let (isr, leader) = (st.isr, st.leader);
                if let Some(leader) = leader {
                    self.emit(Trace::IsrChanged {
                        partition: p,
                        leader,
                        isr,
                        changed: b,
                        expanded: false,
                    });
                }
                self.publish_partition(p);
            }
        }
        self.k.cause = cause;
    }

    fn unfence_broker(&mut self, b: BrokerId) {
        self.controller.brokers[b.idx()].fenced = false;
        self.emit(Trace::BrokerUnfenced { broker: b });
        for i in 0..self.controller.hosted[b.idx()].len() {
            let p = self.controller.hosted[b.idx()][i];
            if self.controller.parts[p.idx()].leader.is_none() {
                self.elect_leader(p, false);
            } else {
                self.send_partition_state(p, b);
            }
        }
    }

    /// Elect a leader for `p` among unfenced replicas: the first in the replica list that is in
    /// the ISR; failing that, with unclean election enabled, the first live replica at all.
    fn elect_leader(&mut self, p: PartitionId, preferred_only: bool) {
        let part = &self.partitions[p.idx()];
        let st = self.controller.parts[p.idx()];
        let live = |b: BrokerId| !self.controller.brokers[b.idx()].fenced;
        let mut clean = part
            .assignment
            .iter()
            .copied()
            .find(|&b| st.isr.contains(b) && live(b));
        if preferred_only {
            clean = Some(part.assignment[0]).filter(|&b| st.isr.contains(b) && live(b));
            if clean.is_none() || clean == st.leader {
                return;
            }
        }
        let (leader, unclean) = match clean {
            Some(l) => (Some(l), false),
            None if part.unclean_leader_election => {
                (part.assignment.iter().copied().find(|&b| live(b)), true)
            }
            None => (None, false),
        };
        let live_isr: BrokerSet = st.isr.iter().filter(|&b| live(b)).collect();
        let st = &mut self.controller.parts[p.idx()];
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
                self.emit(Trace::LeaderElected {
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
                self.emit(Trace::PartitionOffline {
                    partition: p,
                    epoch,
                });
            }
        }
        self.publish_partition(p);
    }

    /// `add-partitions`: the controller creates the new partitions (replicas spread like the
    /// first ones), their live replicas start leading and following, producers see the new
    /// partition count at once (in Kafka, at their next metadata refresh) and so remap keys,
    /// and every group on the topic rebalances to take the new partitions.
    pub(crate) fn add_partitions(&mut self, t: TopicId, total: u32) {
        let old = self.k.topics[t.idx()].partitions.len() as u32;
        if total <= old {
            return;
        }
        let brokers = self.controller.brokers.len() as u32;
        let rf = self.partitions[self.k.topics[t.idx()].partitions[0].idx()]
            .assignment
            .len() as u32;
        let first = PartitionId(self.partitions.len() as u32);
        let (min_isr, unclean) = (
            self.k.topics[t.idx()].min_insync_replicas,
            self.k.topics[t.idx()].unclean_leader_election,
        );
        for i in old..total {
            let start = self.partitions.len() as u32;
            let assignment: Vec<BrokerId> =
                (0..rf).map(|j| BrokerId((start + j) % brokers)).collect();
            let pid = PartitionId(self.partitions.len() as u32);
            self.partitions
                .push(Partition::new(t, i, assignment.clone(), min_isr, unclean));
            self.k.topics[t.idx()].partitions.push(pid);
            for &b in &assignment {
                self.controller.hosted[b.idx()].push(pid);
            }
            let live: BrokerSet = assignment
                .iter()
                .copied()
                .filter(|b| !self.controller.brokers[b.idx()].fenced)
                .collect();
            let leader = assignment.iter().copied().find(|&b| live.contains(b));
            self.controller.parts.push(PartitionState {
                leader,
                leader_epoch: 0,
                partition_epoch: 0,
                isr: if live.is_empty() {
                    assignment.iter().copied().collect()
                } else {
                    live
                },
            });
            self.publish_partition(pid);
        }
        self.emit(Trace::PartitionsAdded {
            topic: t,
            first,
            count: total - old,
        });
        self.topic_grew(t, first, total - old);
    }

    pub(crate) fn controller_elect_preferred(&mut self, p: PartitionId) {
        if self.k.nodes[self.k.controller_node.idx()].up {
            self.elect_leader(p, true);
        }
    }

    /// Tell every unfenced replica of `p` its new state (brokers learn through the metadata
    /// log in KRaft; here the controller sends it directly).
    fn publish_partition(&mut self, p: PartitionId) {
        for i in 0..self.partitions[p.idx()].assignment.len() {
            let b = self.partitions[p.idx()].assignment[i];
            if !self.controller.brokers[b.idx()].fenced {
                self.send_partition_state(p, b);
            }
        }
    }

    fn send_partition_state(&mut self, p: PartitionId, b: BrokerId) {
        let st = self.controller.parts[p.idx()];
        let to = self.node_of_broker(b);
        self.send(
            self.k.controller_node,
            to,
            Msg::PartitionChange {
                partition: p,
                leader: st.leader,
                leader_epoch: st.leader_epoch,
                partition_epoch: st.partition_epoch,
                isr: st.isr,
            },
        );
    }

    /// Set up the cluster as if it had booted: the first replica leads every partition with
    /// the full replica list in the ISR, and followers start fetching.
    pub(crate) fn boot_cluster(&mut self) {
        for p in 0..self.partitions.len() {
            let pid = PartitionId(p as u32);
            let assignment = self.partitions[p].assignment.clone();
            let isr: BrokerSet = assignment.iter().copied().collect();
            self.controller.parts[p] = PartitionState {
                leader: Some(assignment[0]),
                leader_epoch: 0,
                partition_epoch: 0,
                isr,
            };
            for &b in &assignment {
                let r = self.replica_mut(pid, b).expect("replica");
                r.leader = Some(assignment[0]);
                r.isr = isr;
            }
            self.become_leader(pid, assignment[0]);
            for &b in &assignment[1..] {
                self.become_follower(pid, b);
            }
        }
        for b in 0..self.controller.brokers.len() {
            let b = BrokerId(b as u32);
            let node = self.node_of_broker(b);
            self.set_timer_ms(
                node,
                self.k.settings.broker_heartbeat_interval_ms,
                Timer::BrokerHeartbeat,
            );
            self.set_timer_ms(
                node,
                self.k.settings.replica_lag_time_max_ms / 2,
                Timer::IsrCheck,
            );
            self.set_timer_ms(node, 1000, Timer::TxnHousekeeping);
        }
        self.controller_started();
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

    const B1: BrokerId = BrokerId(0);
    const B2: BrokerId = BrokerId(1);

    fn data(epoch: u32, msg: u32) -> Entry {
        Entry {
            epoch,
            msg: MsgId(msg),
            producer: NO_PRODUCER,
            producer_epoch: 0,
            seq: -1,
            kind: EntryKind::Data,
            last_in_batch: true,
            transactional: false,
        }
    }

    fn txn(kind: EntryKind, pid: u32, msg: u32) -> Entry {
        Entry {
            producer: pid,
            kind,
            transactional: true,
            ..data(0, msg)
        }
    }

    fn replica_with(epochs_and_msgs: &[(u32, u32)]) -> Replica {
        let mut r = Replica::new(B1, &[B1, B2]);
        for &(epoch, msg) in epochs_and_msgs {
            r.append(data(epoch, msg));
        }
        r
    }

    #[test]
    fn the_epoch_cache_answers_end_offsets_like_kafka() {
        // Epoch 0 wrote offsets 0-4, epoch 2 wrote 5-7.
        let r = replica_with(&[
            (0, 0),
            (0, 1),
            (0, 2),
            (0, 3),
            (0, 4),
            (2, 5),
            (2, 6),
            (2, 7),
        ]);
        assert_eq!(r.epochs, vec![(0, 0), (2, 5)]);
        assert_eq!(r.end_offset_for_epoch(0), Some((0, 5)));
        // An epoch it never saw: the largest below it, ending where the next begins.
        assert_eq!(r.end_offset_for_epoch(1), Some((0, 5)));
        assert_eq!(
            r.end_offset_for_epoch(2),
            Some((2, 8)),
            "the latest epoch ends at the LEO"
        );
        assert_eq!(r.end_offset_for_epoch(9), Some((2, 8)));
        assert_eq!(replica_with(&[]).end_offset_for_epoch(0), None);
    }

    #[test]
    fn truncation_removes_the_tail_its_epochs_and_lowers_the_hw() {
        let mut r = replica_with(&[(0, 10), (0, 11), (1, 12), (1, 13)]);
        r.hw = 4;
        let removed = r.truncate_to(2);
        assert_eq!(removed, vec![MsgId(12), MsgId(13)], "in offset order");
        assert_eq!(r.leo(), 2);
        assert_eq!(r.epochs, vec![(0, 0)], "epoch 1 started at offset 2: gone");
        assert_eq!(r.hw, 2);
        assert!(r.truncate_to(5).is_empty(), "past the end: nothing to do");
        assert_eq!(r.leo(), 2);
    }

    #[test]
    fn markers_are_not_messages() {
        let mut r = replica_with(&[]);
        r.append(txn(EntryKind::Data, 7, 1));
        r.append(txn(EntryKind::Abort, 7, 0));
        assert_eq!(r.truncate_to(0), vec![MsgId(1)]);
    }

    #[test]
    fn the_producer_state_keeps_the_last_five_batches_per_epoch() {
        let mut r = replica_with(&[]);
        for b in 0..7 {
            r.record_producer_seq(3, 0, b * 2, b * 2 + 1, b as u64 * 2);
        }
        let s = &r.producer_states[0];
        assert_eq!(s.batches.len(), PRODUCER_BATCH_CACHE);
        assert_eq!(s.batches[0], (4, 5, 4), "the two oldest were dropped");
        assert_eq!(s.last_seq(), 13);
        // A new producer epoch starts its sequences afresh.
        r.record_producer_seq(3, 1, 0, 0, 14);
        let s = &r.producer_states[0];
        assert_eq!((s.epoch, s.batches.len(), s.last_seq()), (1, 1, 0));
    }

    #[test]
    fn an_open_transaction_holds_the_lso_until_its_marker_is_below_the_hw() {
        let mut r = replica_with(&[(0, 0), (0, 1)]);
        for e in [txn(EntryKind::Data, 5, 2), txn(EntryKind::Data, 5, 3)] {
            let at = r.leo();
            r.append(e);
            r.track_txn(&e, at);
        }
        r.hw = 4;
        assert_eq!(r.lso(), 2, "the open transaction starts at 2");
        let marker = txn(EntryKind::Commit, 5, 0);
        r.append(marker);
        r.track_txn(&marker, 4);
        assert_eq!(r.lso(), 2, "its marker (offset 4) is not below the HW yet");
        r.hw = 5;
        assert_eq!(r.lso(), 5);
        assert!(r.ongoing_txns().is_empty());
    }

    #[test]
    fn rebuilding_from_the_log_restores_aborted_transactions() {
        let mut r = replica_with(&[]);
        r.append(txn(EntryKind::Data, 5, 0));
        r.append(txn(EntryKind::Abort, 5, 0));
        r.append(data(0, 1));
        r.rebuild_producer_states();
        assert_eq!(r.aborted_txns, vec![(5, 0, 1)]);
        assert!(r.ongoing_txns.is_empty());
    }

    #[test]
    fn the_maximal_isr_counts_a_pending_change() {
        let mut r = replica_with(&[]);
        r.isr = BrokerSet::EMPTY.with(B1);
        assert_eq!(r.maximal_isr(), r.isr);
        r.pending_isr = Some((BrokerSet::EMPTY.with(B1).with(B2), SimTime::ZERO));
        assert!(
            r.maximal_isr().contains(B2),
            "an expansion in flight already counts"
        );
    }
}
