//! One replica of a partition on one broker: its log, and the partition's leader and follower
//! logic, following Kafka's KRaft-era design:
//! - the leader's HW is the minimum LEO over the (maximal) ISR; ISR changes go to the controller
//!   as KIP-497 AlterPartition requests;
//! - followers fetch with their last fetched epoch and truncate on `DivergingEpoch`
//!   (KIP-101, KIP-279, KIP-320/KIP-595);
//! - `acks=all` produces, transaction markers and consumer fetches wait in purgatory for the HW.
//!
//! The hosting [`crate::sim::broker::Broker`] routes each partition's requests here. A replica
//! is split into what survives a crash ([`ReplicaDisk`]: the log and what Kafka checkpoints or
//! rebuilds from it) and what does not ([`ReplicaMem`]), so a crash forgets all of the second
//! by construction.
//!
//! Simplified relative to Kafka: one segment, no retention or compaction; record counts stand
//! in for bytes; fetch sessions are not incremental. A follower fetches each partition with a
//! request of its own, where Kafka's `ReplicaFetcherThread` sends one fetch per leader broker
//! covering all the partitions it follows there: each partition's records arrive no later, and
//! only the number of requests differs.

use crate::sim::broker::BrokerTimer;
use crate::sim::chunked::ChunkedVec;
use crate::sim::config::Acks;
use crate::sim::config::ReplicaRecovery;
use crate::sim::config::System;
use crate::sim::controller::LogPosition;
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::trace::{Trace, TruncateReason};
use crate::sim::wire::{ConsumerFetchResult, FetchSession, Msg, ProduceResult, ReplicaFetchResult};
use crate::sim::{EventId, Timer};

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

/// How a system's replicas agree on what is stored, which decides when a write is confirmed
/// and who may take over from a failed leader (the controller's election).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replication {
    /// Kafka: the HW is the minimum LEO over the ISR; clean elections pick an ISR member.
    Isr,
    /// Raft, as RabbitMQ quorum queues run it (and as SQS is modelled: "redundantly stores a
    /// message in more than one availability zone before a SendMessage is acknowledged"):
    /// an entry is committed once a majority of members has it, and only a live majority can
    /// elect. A classic queue is the one-member case: it commits alone and never fails over.
    Majority,
    /// Redis: the primary answers writes itself and streams them to its replicas afterwards;
    /// `WAIT` blocks until replicas acknowledge; Sentinel promotes the replica with the
    /// greatest offset.
    Async,
}

impl Replication {
    pub(crate) fn of(system: System) -> Replication {
        match system {
            System::Kafka => Replication::Isr,
            System::RabbitMq | System::Sqs => Replication::Majority,
            System::Redis(_) => Replication::Async,
        }
    }
}

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

/// A follower fetch parked until the leader has new data (`replica.fetch.wait.max.ms`).
#[derive(Clone, Copy, Debug)]
struct DelayedFetch {
    fetch_offset: u64,
    session: FetchSession,
    deadline: SimTime,
    /// The fetch's arrival: the cause of its answer when its wait runs out.
    cause: Option<EventId>,
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

/// A transactional batch held until the transaction coordinator says its partition is in the
/// producer's ongoing transaction (KIP-890, Kafka's `VerificationGuard`).
#[derive(Clone, Copy, Debug)]
struct Unverified {
    from: NodeId,
    /// The request, with a record buffer of its own (the broker frees the one it came in).
    req: ProduceRequest,
    /// The verification it waits for.
    token: u32,
    /// The producer has given up on the request by then (`request.timeout.ms`).
    deadline: SimTime,
}

/// What a leader asks the transaction coordinator before appending (KIP-890): the broker sends
/// it to the coordinator of transaction `txn`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VerifyRequest {
    pub(crate) txn: u32,
    pub(crate) epoch: u16,
    pub(crate) partition: PartitionId,
    /// Transactions V2: add the partition to the transaction, not only check it is there.
    pub(crate) add: bool,
    pub(crate) token: u32,
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
    /// The fetch's arrival: the cause of its answer when its wait runs out.
    cause: Option<EventId>,
}

/// Why a parked consumer fetch is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answered {
    /// The HW (or LSO) passed its offset.
    NewRecords,
    /// `fetch.max.wait.ms` ran out.
    WaitOver,
}

/// A produce request as the broker reads it off the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProduceRequest {
    pub(crate) producer: ProducerId,
    pub(crate) partition: PartitionId,
    pub(crate) batch: u32,
    pub(crate) attempt: u32,
    /// The records: an index into the record-buffer pool.
    pub(crate) records: u32,
    pub(crate) pid: Option<u32>,
    pub(crate) producer_epoch: u16,
    pub(crate) base_seq: i32,
    pub(crate) acks: Acks,
    pub(crate) timeout_ms: u32,
    pub(crate) transactional: bool,
}

impl ProduceRequest {
    /// Answer the producer, unless it asked for no answer (`acks=0`).
    pub(crate) fn respond(&self, to: NodeId, result: ProduceResult, cx: &mut Cx) {
        if self.acks != Acks::None {
            cx.send(
                to,
                Msg::ProduceResponse {
                    partition: self.partition,
                    batch: self.batch,
                    attempt: self.attempt,
                    result,
                },
            );
        }
    }
}

/// A transaction coordinator's WriteTxnMarkers request for one partition.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MarkerRequest {
    pub(crate) partition: PartitionId,
    pub(crate) pid: u32,
    pub(crate) producer_epoch: u16,
    pub(crate) commit: bool,
    pub(crate) txn: u32,
    pub(crate) token: u32,
}

impl MarkerRequest {
    pub(crate) fn respond(&self, to: NodeId, ok: bool, cx: &mut Cx) {
        cx.send(
            to,
            Msg::WriteTxnMarkerResponse {
                partition: self.partition,
                txn: self.txn,
                token: self.token,
                ok,
            },
        );
    }
}

/// A follower's fetch request as the leader reads it off the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReplicaFetchRequest {
    pub(crate) follower: BrokerId,
    pub(crate) fetch_offset: u64,
    pub(crate) last_fetched_epoch: Option<u32>,
    pub(crate) leader_epoch: u32,
    pub(crate) session: FetchSession,
}

/// A consumer's fetch request as the leader reads it off the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConsumerFetchRequest {
    pub(crate) partition: PartitionId,
    pub(crate) offset: u64,
    pub(crate) token: u32,
    pub(crate) max_records: u32,
    pub(crate) max_wait_ms: u32,
    pub(crate) read_committed: bool,
}

impl ConsumerFetchRequest {
    pub(crate) fn fail(&self, to: NodeId, error: ErrorCode, cx: &mut Cx) {
        cx.send(
            to,
            Msg::ConsumerFetchResponse {
                partition: self.partition,
                token: self.token,
                result: ConsumerFetchResult::Err(error),
            },
        );
    }
}

/// The controller's view of a partition, as a PartitionChange carries it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PartitionChange {
    pub(crate) leader: Option<BrokerId>,
    pub(crate) leader_epoch: u32,
    pub(crate) partition_epoch: u32,
    pub(crate) isr: BrokerSet,
}

/// A topic partition's static configuration: its replica list (the first is the preferred
/// leader) and its topic's settings. Its replicas live on the brokers.
#[derive(Clone, Debug)]
pub struct Partition {
    pub topic: TopicId,
    /// Its index within the topic.
    pub index: u32,
    pub assignment: Vec<BrokerId>,
    pub min_insync_replicas: u32,
    pub unclean_leader_election: bool,
}

/// Idempotent producer state on a replica (Kafka's `ProducerStateEntry`).
#[derive(Clone, Debug)]
pub(crate) struct ProducerSeqState {
    pid: u32,
    epoch: u16,
    /// (first seq, last seq, base offset) of the most recent batches, oldest first.
    batches: RecentBatches,
}

/// The last [`PRODUCER_BATCH_CACHE`] batches of one producer, oldest first, held inline: a
/// replica keeps one per producer that wrote to it (thousands per world, each copied into
/// every TUI checkpoint), so none of them allocates.
#[derive(Clone, Copy, Debug, Default)]
struct RecentBatches {
    runs: [(i32, i32, u64); PRODUCER_BATCH_CACHE],
    len: u8,
}

impl RecentBatches {
    fn len(&self) -> usize {
        self.len as usize
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends a batch, dropping the oldest when full (as Kafka's `ProducerStateEntry`).
    fn push(&mut self, run: (i32, i32, u64)) {
        if self.len() == PRODUCER_BATCH_CACHE {
            self.runs.copy_within(1.., 0);
            self.len -= 1;
        }
        self.runs[self.len()] = run;
        self.len += 1;
    }

    fn last(&self) -> Option<&(i32, i32, u64)> {
        self.len().checked_sub(1).map(|i| &self.runs[i])
    }

    fn iter(&self) -> std::slice::Iter<'_, (i32, i32, u64)> {
        self.runs[..self.len()].iter()
    }
}

impl std::ops::Index<usize> for RecentBatches {
    type Output = (i32, i32, u64);
    fn index(&self, i: usize) -> &Self::Output {
        &self.runs[..self.len()][i]
    }
}

impl ProducerSeqState {
    fn last_seq(&self) -> i32 {
        self.batches.last().map_or(-1, |b| b.1)
    }
}

/// A replica's idempotent producer states, one per producer that wrote to it, in the order
/// they first did. Looked up by producer id on every produce request: the ids sit in a compact
/// list of their own, so that finding one reads a few bytes per producer, not a whole entry
/// (with thousands of replicas, most entries are not in the cache when a request comes).
#[derive(Clone, Debug, Default)]
pub(crate) struct ProducerStates {
    /// `states[i].pid`, for every i.
    pids: Vec<u32>,
    states: Vec<ProducerSeqState>,
}

impl ProducerStates {
    fn position(&self, pid: u32) -> Option<usize> {
        self.pids.iter().position(|&p| p == pid)
    }

    fn get(&self, pid: u32) -> Option<&ProducerSeqState> {
        self.position(pid).map(|i| &self.states[i])
    }

    fn get_mut(&mut self, pid: u32) -> Option<&mut ProducerSeqState> {
        self.position(pid).map(|i| &mut self.states[i])
    }

    fn push(&mut self, state: ProducerSeqState) -> &mut ProducerSeqState {
        self.pids.push(state.pid);
        self.states.push(state);
        self.states.last_mut().expect("just pushed")
    }

    fn clear(&mut self) {
        self.pids.clear();
        self.states.clear();
    }
}

impl std::ops::Index<usize> for ProducerStates {
    type Output = ProducerSeqState;
    fn index(&self, i: usize) -> &ProducerSeqState {
        &self.states[i]
    }
}

/// What a replica keeps across a crash: the log, the checkpoints Kafka writes beside it (HW,
/// leader-epoch cache), the partition metadata as last heard (a KRaft broker keeps its copy of
/// the metadata log on disk), and the state Kafka rebuilds from the log (producer snapshots,
/// the transaction index).
#[derive(Clone, Debug)]
pub struct ReplicaDisk {
    log: ChunkedVec<Entry>,
    /// Leader epoch cache: (epoch, start offset), ascending.
    epochs: Vec<(u32, u64)>,
    hw: u64,
    leader_epoch: u32,
    partition_epoch: u32,
    /// The ISR as this replica last heard it (authoritative on the leader).
    isr: BrokerSet,
    producer_states: ProducerStates,
    /// Open transactions: (producer id, first offset).
    ongoing_txns: Vec<(u32, u64)>,
    /// Aborted transactions: (producer id, first offset, marker offset).
    aborted_txns: Vec<(u32, u64, u64)>,
    /// Ended transactions whose marker may not be replicated yet: (first offset, marker offset).
    /// They hold the LSO until the HW passes the marker (Kafka's `unreplicatedTxns`).
    completing_txns: Vec<(u64, u64)>,
}

/// What a replica holds only in memory: its role, the leader's view of its followers, the
/// purgatories and the follower's fetch in flight. A crash replaces all of it.
#[derive(Clone, Debug)]
pub struct ReplicaMem {
    role: Role,
    leader: Option<BrokerId>,
    /// An ISR change sent to the controller and not yet answered.
    pending_isr: Option<(BrokerSet, SimTime)>,
    followers: Vec<FollowerState>,
    purgatory: Vec<PendingAck>,
    consumer_waits: Vec<ConsumerWait>,
    /// Markers waiting for the HW before the coordinator is answered.
    marker_waits: Vec<MarkerWait>,
    /// Transactional batches waiting for the coordinator's verification (KIP-890).
    unverified: Vec<Unverified>,
    /// The last verification token handed out.
    verify_tokens: u32,
    fetch_session: FetchSession,
    fetch_outstanding: Option<SimTime>,
    /// A fetch-timeout timer is pending (one at a time; it re-arms itself for the request in
    /// flight, so no timer is queued per request).
    fetch_timer_armed: bool,
    /// When the parked-fetch expiry timer fires, if one is pending.
    expiry_armed: Option<SimTime>,
}

impl ReplicaMem {
    fn new(broker: BrokerId, assignment: &[BrokerId]) -> ReplicaMem {
        ReplicaMem {
            role: Role::None,
            leader: None,
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
            marker_waits: Vec::new(),
            unverified: Vec::new(),
            verify_tokens: 0,
            fetch_session: FetchSession::default(),
            fetch_outstanding: None,
            fetch_timer_armed: false,
            expiry_armed: None,
        }
    }
}

/// One replica of a partition on one broker.
#[derive(Clone, Debug)]
pub struct Replica {
    pub partition: PartitionId,
    pub broker: BrokerId,
    /// The partition's replica list (static configuration, as the broker learned it).
    assignment: Box<[BrokerId]>,
    /// The topic's `min.insync.replicas` (static configuration).
    min_insync_replicas: u32,
    disk: ReplicaDisk,
    mem: ReplicaMem,
}

impl Replica {
    pub(crate) fn new(
        partition: PartitionId,
        broker: BrokerId,
        assignment: &[BrokerId],
        min_insync_replicas: u32,
    ) -> Replica {
        Replica {
            partition,
            broker,
            assignment: assignment.into(),
            min_insync_replicas,
            disk: ReplicaDisk {
                log: ChunkedVec::new(),
                epochs: Vec::new(),
                hw: 0,
                leader_epoch: 0,
                partition_epoch: 0,
                isr: BrokerSet::EMPTY,
                producer_states: ProducerStates::default(),
                ongoing_txns: Vec::new(),
                aborted_txns: Vec::new(),
                completing_txns: Vec::new(),
            },
            mem: ReplicaMem::new(broker, assignment),
        }
    }

    /// The broker died: everything in memory goes, the disk stays. Returns the record buffers
    /// of the batches that waited for verification, which nothing will answer now.
    pub(crate) fn crash(&mut self) -> Vec<u32> {
        let mem = std::mem::replace(
            &mut self.mem,
            ReplicaMem::new(self.broker, &self.assignment),
        );
        mem.unverified.iter().map(|u| u.req.records).collect()
    }

    // ----- what the TUI, the report and the checks read -----------------------------------

    pub fn log(&self) -> &ChunkedVec<Entry> {
        &self.disk.log
    }

    /// Log end offset (exclusive).
    pub fn leo(&self) -> u64 {
        self.disk.log.len() as u64
    }

    pub fn hw(&self) -> u64 {
        self.disk.hw
    }

    /// Where this replica's log ends, as a heartbeat reports it to the controller.
    pub(crate) fn position(&self) -> LogPosition {
        LogPosition {
            partition: self.partition,
            last_epoch: self.disk.log.last().map_or(0, |e| e.epoch),
            leo: self.leo(),
        }
    }

    /// Leader epoch cache: (epoch, start offset), ascending.
    pub fn epochs(&self) -> &[(u32, u64)] {
        &self.disk.epochs
    }

    pub fn role(&self) -> Role {
        self.mem.role
    }

    pub fn is_leader(&self) -> bool {
        self.mem.role == Role::Leader
    }

    /// The leader this replica follows (or is), as far as it knows.
    pub fn leader(&self) -> Option<BrokerId> {
        self.mem.leader
    }

    pub fn leader_epoch(&self) -> u32 {
        self.disk.leader_epoch
    }

    pub fn partition_epoch(&self) -> u32 {
        self.disk.partition_epoch
    }

    /// The ISR as this replica last heard it (authoritative on the leader).
    pub fn isr(&self) -> BrokerSet {
        self.disk.isr
    }

    /// What the leader knows of each follower.
    pub fn followers(&self) -> &[FollowerState] {
        &self.mem.followers
    }

    /// `acks=all` produces waiting for the HW.
    pub fn purgatory(&self) -> &[PendingAck] {
        &self.mem.purgatory
    }

    /// Whether this follower is waiting for a fetch response.
    pub fn fetch_outstanding(&self) -> bool {
        self.mem.fetch_outstanding.is_some()
    }

    /// The follower's current fetch session: a response from any other is stale.
    pub(crate) fn fetch_session(&self) -> FetchSession {
        self.mem.fetch_session
    }

    /// The ISR used for the high watermark: the committed ISR plus any member being added or
    /// removed (KIP-497's "maximal ISR"), so an in-flight change never makes HW optimistic.
    pub fn maximal_isr(&self) -> BrokerSet {
        match self.mem.pending_isr {
            Some((pending, _)) => BrokerSet(self.disk.isr.0 | pending.0),
            None => self.disk.isr,
        }
    }

    pub fn latest_epoch(&self) -> Option<u32> {
        self.disk.epochs.last().map(|e| e.0)
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor`: the largest epoch ≤ `epoch` this replica
    /// knows and the offset where the next epoch starts (its LEO for the latest epoch).
    pub fn end_offset_for_epoch(&self, epoch: u32) -> Option<(u32, u64)> {
        let epochs = &self.disk.epochs;
        let i = epochs.partition_point(|e| e.0 <= epoch);
        if i == 0 {
            return None;
        }
        let found = epochs[i - 1].0;
        let end = epochs.get(i).map_or(self.leo(), |next| next.1);
        Some((found, end))
    }

    /// Last stable offset: the first offset of the oldest transaction that is open or whose
    /// marker the HW has not passed yet, or the HW.
    pub fn lso(&self) -> u64 {
        let hw = self.disk.hw;
        let unstable = self.disk.ongoing_txns.iter().map(|t| t.1).chain(
            self.disk
                .completing_txns
                .iter()
                .filter(|c| c.1 >= hw)
                .map(|c| c.0),
        );
        unstable.min().map_or(hw, |first| first.min(hw))
    }

    /// Open transactions: (producer id, first offset).
    pub fn ongoing_txns(&self) -> &[(u32, u64)] {
        &self.disk.ongoing_txns
    }

    // ----- the log ------------------------------------------------------------------------

    fn assign_epoch(&mut self, epoch: u32, start: u64) {
        if self.latest_epoch().is_none_or(|e| epoch > e) {
            self.disk.epochs.push((epoch, start));
        }
    }

    /// A follower copying a record from its leader. Producer state is rebuilt from the log
    /// when the replica becomes leader, which gives the same result as tracking it here.
    fn append(&mut self, e: Entry) {
        let offset = self.leo();
        self.assign_epoch(e.epoch, offset);
        self.disk.log.push(e);
    }

    /// Remember an appended batch's sequence range; Kafka keeps the last 5 per producer.
    fn record_producer_seq(&mut self, pid: u32, epoch: u16, first: i32, last: i32, base: u64) {
        let states = &mut self.disk.producer_states;
        let state = match states.position(pid) {
            Some(i) => &mut states.states[i],
            None => states.push(ProducerSeqState {
                pid,
                epoch,
                batches: RecentBatches::default(),
            }),
        };
        if epoch != state.epoch {
            // A new epoch starts its sequence numbers afresh.
            state.epoch = epoch;
            state.batches.clear();
        }
        state.batches.push((first, last, base));
    }

    /// Truncate the log to `offset`, returning the application messages removed.
    fn truncate_to(&mut self, offset: u64) -> Vec<MsgId> {
        if offset >= self.leo() {
            return Vec::new();
        }
        let removed: Vec<MsgId> = self
            .disk
            .log
            .range(offset as usize..self.disk.log.len())
            .filter_map(|e| e.message())
            .collect();
        self.disk.log.truncate(offset as usize);
        while self.disk.epochs.last().is_some_and(|e| e.1 >= offset) {
            self.disk.epochs.pop();
        }
        self.disk.hw = self.disk.hw.min(offset);
        self.rebuild_producer_states();
        removed
    }

    /// Rebuild idempotent producer state from the log (as Kafka does from its snapshots and
    /// the log after truncation or on becoming leader).
    fn rebuild_producer_states(&mut self) {
        self.disk.producer_states.clear();
        self.disk.ongoing_txns.clear();
        self.disk.aborted_txns.clear();
        self.disk.completing_txns.clear();
        let mut start = 0;
        for i in 0..self.disk.log.len() {
            let e = self.disk.log[i];
            self.track_txn(&e, i as u64);
            if !e.last_in_batch {
                continue;
            }
            let first = self.disk.log[start];
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
        let disk = &mut self.disk;
        let open = disk.ongoing_txns.iter().position(|t| t.0 == e.producer);
        match e.kind {
            EntryKind::Data => {
                if open.is_none() {
                    disk.ongoing_txns.push((e.producer, offset));
                }
            }
            EntryKind::Commit | EntryKind::Abort => {
                if let Some(i) = open {
                    let (pid, first) = disk.ongoing_txns.remove(i);
                    disk.completing_txns.push((first, offset));
                    if e.kind == EntryKind::Abort {
                        disk.aborted_txns.push((pid, first, offset));
                    }
                }
            }
        }
    }

    fn follower_slot(&self, b: BrokerId) -> Option<usize> {
        self.mem.followers.iter().position(|f| f.broker == b)
    }

    fn new_fetch_session(&mut self, cx: &Cx) {
        self.mem.fetch_session = self.mem.fetch_session.next(cx.incarnation());
    }

    // ----- produce ------------------------------------------------------------------------

    /// A produce request for this partition; the broker frees its record buffer afterwards.
    /// Returns the question to send the transaction coordinator, if the batch must wait for
    /// its answer (KIP-890).
    pub(crate) fn on_produce(
        &mut self,
        from: NodeId,
        req: &ProduceRequest,
        cx: &mut Cx,
    ) -> Option<VerifyRequest> {
        self.produce(from, req, false, cx)
    }

    /// A produce request; `verified` once the coordinator has answered for it.
    fn produce(
        &mut self,
        from: NodeId,
        req: &ProduceRequest,
        verified: bool,
        cx: &mut Cx,
    ) -> Option<VerifyRequest> {
        let count = cx.record_buf(req.records).len() as u32;
        if self.mem.role != Role::Leader {
            req.respond(from, ProduceResult::Err(ErrorCode::NotLeaderOrFollower), cx);
            return None;
        }
        // `min.insync.replicas` is Kafka's; a quorum queue waits for its majority instead, and
        // Redis's `min-replicas-to-write` is not modelled (its default, 0, never refuses).
        if req.acks == Acks::All
            && cx.settings().system.is_kafka()
            && self.disk.isr.len() < self.min_insync_replicas
        {
            req.respond(from, ProduceResult::Err(ErrorCode::NotEnoughReplicas), cx);
            return None;
        }
        let base_seq = req.base_seq;
        let last_seq = base_seq + count as i32 - 1;
        let state = req
            .pid
            .and_then(|pid| self.disk.producer_states.position(pid));
        // A newer epoch has written here: this producer instance was fenced (KIP-98), or, with
        // Transactions V2, this write belongs to a transaction that has ended (KIP-890).
        if let Some(i) = state
            && req.producer_epoch < self.disk.producer_states[i].epoch
        {
            if req.transactional {
                self.trace_refused(req, ErrorCode::InvalidProducerEpoch, cx);
            }
            req.respond(
                from,
                ProduceResult::Err(ErrorCode::InvalidProducerEpoch),
                cx,
            );
            return None;
        }
        if !verified
            && req.transactional
            && let Some(pid) = req.pid
            && self.needs_verification(pid, req.producer_epoch, cx)
        {
            return self.await_verification(from, req, pid, cx);
        }
        if let Some(i) = state {
            let state = &self.disk.producer_states[i];
            // The common case, the next sequence, cannot be a duplicate: skip the cache.
            if req.producer_epoch == state.epoch && base_seq != state.last_seq() + 1 {
                if let Some(&(_, _, base)) = state
                    .batches
                    .iter()
                    .find(|run| run.0 == base_seq && run.1 == last_seq)
                {
                    let first_msg = cx.record_buf(req.records)[0];
                    cx.emit(Trace::DuplicateBatch {
                        partition: self.partition,
                        broker: self.broker,
                        producer: req.producer,
                        first_msg,
                        base_offset: base,
                    });
                    self.ack_or_park(from, req, base, base + count as u64, cx);
                    return None;
                }
                // Neither a duplicate nor the next sequence: a gap.
                req.respond(
                    from,
                    ProduceResult::Err(ErrorCode::OutOfOrderSequenceNumber),
                    cx,
                );
                return None;
            }
        }
        // Append.
        let base = self.leo();
        let epoch = self.disk.leader_epoch;
        let records = cx.record_buf(req.records);
        for (i, &m) in records.iter().enumerate() {
            self.assign_epoch(epoch, self.leo());
            let e = Entry {
                epoch,
                msg: m,
                producer: req.pid.unwrap_or(NO_PRODUCER),
                producer_epoch: req.producer_epoch,
                seq: if req.pid.is_some() {
                    base_seq + i as i32
                } else {
                    -1
                },
                kind: EntryKind::Data,
                last_in_batch: i + 1 == records.len(),
                transactional: req.transactional,
            };
            let offset = self.leo();
            self.track_txn(&e, offset);
            self.disk.log.push(e);
        }
        let first_msg = records[0];
        if let Some(pid) = req.pid {
            self.record_producer_seq(pid, req.producer_epoch, base_seq, last_seq, base);
        }
        cx.emit(Trace::Appended {
            partition: self.partition,
            broker: self.broker,
            base_offset: base,
            count,
            epoch,
            first_msg,
        });
        self.wake_delayed_fetches(cx);
        self.maybe_advance_hw(cx);
        match req.acks {
            Acks::None => {}
            Acks::Leader => req.respond(from, ProduceResult::Ok { base_offset: base }, cx),
            Acks::All => self.ack_or_park(from, req, base, base + count as u64, cx),
        }
        None
    }

    /// Whether a transactional batch of producer `pid` at `epoch` must wait for the coordinator
    /// (KIP-890): with verification or Transactions V2, a producer's first batch in a transaction
    /// on this partition does. A transaction open here at another epoch is not this batch's:
    /// under V2 the previous one's marker may still be on its way (Kafka's
    /// `UnifiedLog.hasOngoingTransaction(producerId, producerEpoch)` compares the epoch too).
    fn needs_verification(&self, pid: u32, epoch: u16, cx: &Cx) -> bool {
        let s = cx.settings();
        let open_at_this_epoch = self.disk.ongoing_txns.iter().any(|t| t.0 == pid)
            && (self.disk.producer_states.get(pid)).is_some_and(|p| p.epoch == epoch);
        (s.transaction_version >= 2 || s.transaction_partition_verification) && !open_at_this_epoch
    }

    /// Hold a transactional batch until the coordinator answers; the question to send it, unless
    /// one for this producer is already out.
    fn await_verification(
        &mut self,
        from: NodeId,
        req: &ProduceRequest,
        pid: u32,
        cx: &mut Cx,
    ) -> Option<VerifyRequest> {
        let now = cx.now();
        // Requests the producer has given up on (no answer in `request.timeout.ms`) are
        // answered and dropped: an unanswered verification cannot hold batches for ever.
        let mut i = 0;
        while i < self.mem.unverified.len() {
            let u = self.mem.unverified[i];
            if u.deadline <= now {
                self.mem.unverified.remove(i);
                u.req
                    .respond(u.from, ProduceResult::Err(ErrorCode::RequestTimedOut), cx);
                cx.free_record_buf(u.req.records);
            } else {
                i += 1;
            }
        }
        let mut held = *req;
        held.records = cx.alloc_record_buf();
        let records = cx.record_buf(req.records).clone();
        cx.record_buf_mut(held.records).extend_from_slice(&records);
        // Batches of the same producer and epoch wait for the same answer.
        let pending = self
            .mem
            .unverified
            .iter()
            .find(|u| u.req.pid == req.pid && u.req.producer_epoch == req.producer_epoch);
        let (token, ask) = match pending {
            Some(u) => (u.token, false),
            None => {
                self.mem.verify_tokens = self.mem.verify_tokens.wrapping_add(1);
                // The incarnation keeps an answer meant for a process before a crash from
                // matching.
                (self.mem.verify_tokens ^ (cx.incarnation() << 24), true)
            }
        };
        self.mem.unverified.push(Unverified {
            from,
            req: held,
            token,
            deadline: now.plus_ms(u64::from(req.timeout_ms)),
        });
        ask.then(|| VerifyRequest {
            txn: crate::sim::txn_coordinator::txn_of_producer_id(pid),
            epoch: req.producer_epoch,
            partition: self.partition,
            add: cx.settings().transaction_version >= 2,
            token,
        })
    }

    fn trace_refused(&self, req: &ProduceRequest, error: ErrorCode, cx: &mut Cx) {
        cx.emit(Trace::TxnWriteRefused {
            partition: self.partition,
            broker: self.broker,
            first_msg: cx.record_buf(req.records)[0],
            error,
        });
    }

    /// The coordinator answered verification `token` (KIP-890): the batches waiting for it are
    /// appended, or refused with its error.
    pub(crate) fn on_verified(&mut self, token: u32, error: ErrorCode, cx: &mut Cx) {
        // The produce response carries errors the client retries: Kafka turns the coordinator's
        // retriable errors into NOT_ENOUGH_REPLICAS (KAFKA-15459, KAFKA-16386), except
        // CONCURRENT_TRANSACTIONS under Transactions V2, whose clients retry it (KAFKA-18662).
        let error = match error {
            ErrorCode::ConcurrentTransactions if cx.settings().transaction_version >= 2 => error,
            ErrorCode::ConcurrentTransactions
            | ErrorCode::NotCoordinator
            | ErrorCode::NetworkException => ErrorCode::NotEnoughReplicas,
            // "Producers expect to handle INVALID_PRODUCER_EPOCH in this scenario"
            // (`AddPartitionsToTxnManager`): a fenced producer learns it as an old epoch.
            ErrorCode::ProducerFenced => ErrorCode::InvalidProducerEpoch,
            other => other,
        };
        let mut i = 0;
        while i < self.mem.unverified.len() {
            let u = self.mem.unverified[i];
            if u.token != token {
                i += 1;
                continue;
            }
            self.mem.unverified.remove(i);
            if error == ErrorCode::None {
                // A verified batch goes through the rest of the checks (a marker with a newer
                // epoch may have come meanwhile) and asks nothing more.
                // Simplification: under the classic protocol Kafka also refuses a batch whose
                // transaction's marker overtook the coordinator's answer (KAFKA-14884's
                // `VerificationGuard`); here such a batch is appended, a race of two messages
                // the scenarios do not stage.
                let _ = self.produce(u.from, &u.req, true, cx);
            } else {
                if !error.is_retriable() {
                    self.trace_refused(&u.req, error, cx);
                }
                u.req.respond(u.from, ProduceResult::Err(error), cx);
            }
            cx.free_record_buf(u.req.records);
        }
    }

    /// A transaction coordinator asks this leader to write a COMMIT or ABORT marker. It is
    /// answered once the marker is replicated to the ISR (the HW passes it).
    pub(crate) fn on_txn_marker(&mut self, from: NodeId, req: &MarkerRequest, cx: &mut Cx) {
        if self.mem.role != Role::Leader {
            req.respond(from, false, cx);
            return;
        }
        let offset = self.leo();
        let epoch = self.disk.leader_epoch;
        self.assign_epoch(epoch, offset);
        let e = Entry {
            epoch,
            msg: MsgId(u32::MAX),
            producer: req.pid,
            producer_epoch: req.producer_epoch,
            seq: -1,
            kind: if req.commit {
                EntryKind::Commit
            } else {
                EntryKind::Abort
            },
            last_in_batch: true,
            transactional: true,
        };
        self.track_txn(&e, offset);
        self.disk.log.push(e);
        self.mem.marker_waits.push(MarkerWait {
            end_offset: offset + 1,
            to: from,
            txn: req.txn,
            token: req.token,
        });
        // A marker also bumps the producer's epoch on this partition, creating its entry if it
        // has none (Kafka's `ProducerAppendInfo.appendEndTxnMarker`): a write of an older epoch
        // is fenced from now on.
        match self.disk.producer_states.get_mut(req.pid) {
            Some(state) if req.producer_epoch > state.epoch => {
                state.epoch = req.producer_epoch;
                state.batches.clear();
            }
            Some(_) => {}
            None => {
                self.disk.producer_states.push(ProducerSeqState {
                    pid: req.pid,
                    epoch: req.producer_epoch,
                    batches: RecentBatches::default(),
                });
            }
        }

        cx.emit(Trace::TxnMarker {
            partition: self.partition,
            broker: self.broker,
            txn: req.txn,
            commit: req.commit,
            offset,
        });
        self.wake_delayed_fetches(cx);
        self.maybe_advance_hw(cx);
        self.complete_marker_waits(cx);
    }

    fn complete_marker_waits(&mut self, cx: &mut Cx) {
        if self.mem.marker_waits.is_empty() {
            return;
        }
        let hw = self.disk.hw;
        let mut i = 0;
        while i < self.mem.marker_waits.len() {
            let w = self.mem.marker_waits[i];
            if w.end_offset <= hw {
                self.mem.marker_waits.remove(i);
                cx.send(
                    w.to,
                    Msg::WriteTxnMarkerResponse {
                        partition: self.partition,
                        txn: w.txn,
                        token: w.token,
                        ok: true,
                    },
                );
            } else {
                i += 1;
            }
        }
    }

    /// For `acks=all`: answer now if the HW already covers the batch, else wait in purgatory.
    fn ack_or_park(
        &mut self,
        from: NodeId,
        req: &ProduceRequest,
        base_offset: u64,
        end_offset: u64,
        cx: &mut Cx,
    ) {
        if req.acks != Acks::All {
            req.respond(from, ProduceResult::Ok { base_offset }, cx);
            return;
        }
        let deadline = cx.now().plus_ms(u64::from(req.timeout_ms));
        self.mem.purgatory.push(PendingAck {
            producer: req.producer,
            client: from,
            batch: req.batch,
            attempt: req.attempt,
            base_offset,
            end_offset,
            deadline,
        });
        self.complete_purgatory(cx);
    }

    /// Answer `acks=all` produces whose records the HW now covers (Kafka's
    /// `Partition.checkEnoughReplicasReachOffset`), and time out stale ones.
    fn complete_purgatory(&mut self, cx: &mut Cx) {
        if self.mem.purgatory.is_empty() || self.mem.role != Role::Leader {
            return;
        }
        let now = cx.now();
        let policy = Replication::of(cx.settings().system);
        let hw = match policy {
            Replication::Isr | Replication::Majority => self.disk.hw,
            Replication::Async => self.wait_offset(),
        };
        let enough = policy != Replication::Isr || self.disk.isr.len() >= self.min_insync_replicas;
        let mut i = 0;
        while i < self.mem.purgatory.len() {
            let pa = self.mem.purgatory[i];
            let result = if pa.end_offset <= hw {
                if enough {
                    ProduceResult::Ok {
                        base_offset: pa.base_offset,
                    }
                } else {
                    ProduceResult::Err(ErrorCode::NotEnoughReplicasAfterAppend)
                }
            } else if pa.deadline <= now {
                ProduceResult::Err(ErrorCode::RequestTimedOut)
            } else {
                i += 1;
                continue;
            };
            self.mem.purgatory.remove(i);
            self.answer_pending_ack(pa, result, cx);
        }
    }

    /// Send the response an `acks=all` produce in purgatory was waiting for.
    fn answer_pending_ack(&self, pa: PendingAck, result: ProduceResult, cx: &mut Cx) {
        cx.send(
            pa.client,
            Msg::ProduceResponse {
                partition: self.partition,
                batch: pa.batch,
                attempt: pa.attempt,
                result,
            },
        );
    }

    /// Leadership is lost: fail every produce and consumer fetch waiting on it.
    fn fail_purgatory(&mut self, error: ErrorCode, cx: &mut Cx) {
        let pending = std::mem::take(&mut self.mem.purgatory);
        let waits = std::mem::take(&mut self.mem.consumer_waits);
        for pa in pending {
            self.answer_pending_ack(pa, ProduceResult::Err(error), cx);
        }
        for w in waits {
            cx.send(
                w.to,
                Msg::ConsumerFetchResponse {
                    partition: self.partition,
                    token: w.request_token,
                    result: ConsumerFetchResult::Err(ErrorCode::NotLeaderOrFollower),
                },
            );
        }
    }

    /// `ListOffsets` LATEST_TIMESTAMP: the HW for read_uncommitted, the LSO for read_committed
    /// (`Partition.fetchOffsetForTimestamp` with `isolationLevel`), so a read_committed
    /// consumer never starts inside an open transaction. `None` unless this replica leads.
    pub(crate) fn latest_offset(&self, read_committed: bool) -> Option<u64> {
        self.is_leader().then(|| {
            if read_committed {
                self.lso()
            } else {
                self.disk.hw
            }
        })
    }

    // ----- high watermark and ISR -----------------------------------------------------------

    /// Redis `WAIT` for every replica: the offset every replica the primary counts as
    /// connected (its ISR) has acknowledged. Simplified: a replica stops counting once it
    /// leaves the ISR (`replica.lag.time.max.ms` standing in for Redis's `repl-timeout`, or
    /// the controller fencing it), so the wait ends when all *live* replicas have the write;
    /// real `WAIT n timeout` returns at its timeout with the count reached so far.
    fn wait_offset(&self) -> u64 {
        let isr = self.maximal_isr();
        self.mem
            .followers
            .iter()
            .filter(|f| isr.contains(f.broker))
            .map(|f| f.leo.unwrap_or(0))
            .fold(self.leo(), u64::min)
    }

    /// Raft's commit index: the highest offset a majority of members (the leader included)
    /// has, counting every member, in sync or not. A member not heard from since the election
    /// counts as having nothing. Simplified: Raft commits an earlier term's entries only once
    /// an entry of the leader's own term is committed (it appends a no-op on election); here
    /// they count at once.
    fn majority_offset(&self) -> u64 {
        let mut leos: Vec<u64> = self
            .mem
            .followers
            .iter()
            .map(|f| f.leo.unwrap_or(0))
            .chain([self.leo()])
            .collect();
        leos.sort_unstable_by(|a, b| b.cmp(a));
        leos[leos.len() / 2]
    }

    /// Leader: advance the HW by the system's rule (see [`Replication`]); it never moves back.
    fn maybe_advance_hw(&mut self, cx: &mut Cx) {
        if self.mem.role != Role::Leader {
            return;
        }
        let hw = match Replication::of(cx.settings().system) {
            Replication::Isr => return self.maybe_advance_isr_hw(cx),
            Replication::Majority => self.majority_offset(),
            // What the primary has is what it serves: readers see a write at once.
            Replication::Async => self.leo(),
        };
        self.raise_hw(hw, cx);
    }

    /// Kafka: HW = min LEO over the maximal ISR. With eligible leader
    /// replicas (KIP-966) it does not move while the ISR is below `min.insync.replicas`
    /// (capped at the replica count), so every ELR member has every record below the HW.
    fn maybe_advance_isr_hw(&mut self, cx: &mut Cx) {
        let min_isr = self.min_insync_replicas.min(self.assignment.len() as u32);
        if cx.settings().eligible_leader_replicas && self.disk.isr.len() < min_isr {
            return;
        }
        let isr = self.maximal_isr();
        let mut min = self.leo();
        for f in &self.mem.followers {
            if isr.contains(f.broker) {
                match f.leo {
                    Some(leo) => min = min.min(leo),
                    None => return,
                }
            }
        }
        self.raise_hw(min, cx);
    }

    /// Move the leader's HW up to `hw` (never back) and complete what waited for it.
    fn raise_hw(&mut self, hw: u64, cx: &mut Cx) {
        if hw > self.disk.hw {
            self.disk.hw = hw;
            self.disk.completing_txns.retain(|c| c.1 >= hw);
            cx.emit(Trace::HighWatermark {
                partition: self.partition,
                broker: self.broker,
                hw,
            });
            self.complete_purgatory(cx);
            self.complete_marker_waits(cx);
            self.wake_consumer_waits(cx);
        }
    }

    /// Kafka's ISR expiration task: drop followers that have not caught up within
    /// `replica.lag.time.max.ms`. A follower whose LEO equals the leader's is never lagging.
    pub(crate) fn isr_shrink_check(&mut self, cx: &mut Cx) {
        if self.mem.role != Role::Leader {
            return;
        }
        let lag_us = cx.settings().replica_lag_time_max_ms * 1000;
        let now = cx.now();
        if let Some((_, sent)) = self.mem.pending_isr {
            if now.0 < sent.0 + ALTER_PARTITION_RETRY_MS * 1000 {
                return;
            }
            self.mem.pending_isr = None;
        }
        let leo = self.leo();
        let isr = self.disk.isr;
        let mut shrunk = isr;
        for f in &self.mem.followers {
            if isr.contains(f.broker) && f.leo != Some(leo) && now.0 > f.last_caught_up.0 + lag_us {
                shrunk.remove(f.broker);
            }
        }
        if shrunk != isr {
            self.send_alter_partition(shrunk, cx);
        }
    }

    fn maybe_expand_isr(&mut self, follower: BrokerId, cx: &mut Cx) {
        if self.disk.isr.contains(follower) {
            return;
        }
        if let Some((_, sent)) = self.mem.pending_isr {
            if cx.now().0 < sent.0 + ALTER_PARTITION_RETRY_MS * 1000 {
                return;
            }
            self.mem.pending_isr = None;
        }
        let Some(slot) = self.follower_slot(follower) else {
            return;
        };
        let Some(leo) = self.mem.followers[slot].leo else {
            return;
        };
        let epoch_start = self.disk.epochs.last().map_or(0, |e| e.1);
        // Kafka's `isFollowerInSync`: caught up to the HW and into the current leader epoch.
        if leo >= self.disk.hw && leo >= epoch_start {
            let mut isr = self.disk.isr;
            isr.insert(follower);
            self.send_alter_partition(isr, cx);
        }
    }

    fn send_alter_partition(&mut self, isr: BrokerSet, cx: &mut Cx) {
        self.mem.pending_isr = Some((isr, cx.now()));
        let msg = Msg::AlterPartition {
            partition: self.partition,
            leader: self.broker,
            leader_epoch: self.disk.leader_epoch,
            partition_epoch: self.disk.partition_epoch,
            isr,
        };
        cx.send(cx.controller_node(), msg);
    }

    /// The controller's answer to this leader's AlterPartition: the committed ISR, or `None`
    /// if it refused the change.
    pub(crate) fn on_alter_partition_response(
        &mut self,
        leader_epoch: u32,
        result: Option<(BrokerSet, u32)>,
        cx: &mut Cx,
    ) {
        if self.mem.role != Role::Leader || self.disk.leader_epoch != leader_epoch {
            return;
        }
        self.mem.pending_isr = None;
        if let Some((isr, pe)) = result
            && pe > self.disk.partition_epoch
        {
            self.disk.isr = isr;
            self.disk.partition_epoch = pe;
        }
        self.maybe_advance_hw(cx);
        self.complete_purgatory(cx);
    }

    // ----- replica fetching: the follower's side --------------------------------------------

    fn send_replica_fetch(&mut self, cx: &mut Cx) {
        let Some(leader) = self.mem.leader.filter(|_| self.mem.role == Role::Follower) else {
            return;
        };
        let arm_timer = !self.mem.fetch_timer_armed;
        self.mem.fetch_timer_armed = true;
        self.mem.fetch_outstanding = Some(cx.now());
        let msg = Msg::ReplicaFetch {
            partition: self.partition,
            follower: self.broker,
            fetch_offset: self.leo(),
            // Pre-KIP-101 fetches carry no epoch.
            last_fetched_epoch: self
                .disk
                .log
                .last()
                .map(|e| e.epoch)
                .filter(|_| !self.hw_recovery(cx)),
            leader_epoch: self.disk.leader_epoch,
            session: self.mem.fetch_session,
        };
        cx.send(cx.broker_node(leader), msg);
        if arm_timer {
            let socket_timeout_us = cx.settings().replica_socket_timeout_ms * 1000;
            cx.set_timer(
                socket_timeout_us,
                Timer::Broker(BrokerTimer::FollowerFetchTimeout {
                    partition: self.partition,
                }),
            );
        }
    }

    /// `replica.socket.timeout.ms`: give up on a fetch that got no answer and fetch again.
    pub(crate) fn on_fetch_timeout(&mut self, cx: &mut Cx) {
        let timeout = cx.settings().replica_socket_timeout_ms * 1000;
        let now = cx.now();
        self.mem.fetch_timer_armed = false;
        if self.mem.role != Role::Follower {
            return;
        }
        match self.mem.fetch_outstanding {
            Some(sent) if now.0 >= sent.0 + timeout => {
                self.new_fetch_session(cx);
                self.mem.fetch_outstanding = None;
                self.send_replica_fetch(cx);
            }
            Some(sent) => {
                self.mem.fetch_timer_armed = true;
                cx.set_timer(
                    sent.0 + timeout - now.0,
                    Timer::Broker(BrokerTimer::FollowerFetchTimeout {
                        partition: self.partition,
                    }),
                );
            }
            None => {}
        }
    }

    /// `replica.fetch.backoff.ms` is over after a failed fetch.
    pub(crate) fn on_fetch_retry(&mut self, session: FetchSession, cx: &mut Cx) {
        if self.mem.fetch_session == session && self.mem.role == Role::Follower {
            self.send_replica_fetch(cx);
        }
    }

    pub(crate) fn on_replica_fetch_response(
        &mut self,
        leader_epoch: u32,
        session: FetchSession,
        result: ReplicaFetchResult,
        cx: &mut Cx,
    ) {
        if self.mem.role != Role::Follower
            || self.mem.fetch_session != session
            || self.disk.leader_epoch != leader_epoch
        {
            if let ReplicaFetchResult::Records { payload, .. } = result {
                cx.free_payload(payload);
            }
            return;
        }
        match result {
            ReplicaFetchResult::Records {
                base_offset,
                payload,
                hw,
            } => {
                self.mem.fetch_outstanding = None;
                let mut appended = false;
                if base_offset == self.leo() {
                    let records = cx.payload(payload);
                    for &e in records {
                        self.append(e);
                    }
                    appended = !records.is_empty();
                }
                self.disk.hw = self.disk.hw.max(hw.min(self.leo()));
                let leo = self.leo();
                cx.free_payload(payload);
                if appended {
                    cx.emit(Trace::Replicated {
                        partition: self.partition,
                        broker: self.broker,
                        leo,
                    });
                }
                self.send_replica_fetch(cx);
            }
            ReplicaFetchResult::Diverging { epoch, end_offset } => {
                self.mem.fetch_outstanding = None;
                let (to, reason) = if self.hw_recovery(cx) {
                    // Pre-KIP-101: OFFSET_OUT_OF_RANGE, the leader's log ends before our
                    // fetch offset; cut to its end (`handleOffsetOutOfRange`).
                    (end_offset.min(self.leo()), TruncateReason::LeaderLogEnd)
                } else {
                    // Truncate to the smaller of the leader's and our own end of that epoch.
                    let own_end = self.end_offset_for_epoch(epoch).map_or(0, |(e, end)| {
                        if e == epoch { end } else { end.min(end_offset) }
                    });
                    let to = end_offset.min(own_end).min(self.leo());
                    (to, TruncateReason::DivergedEpoch)
                };
                self.truncate_traced(to, reason, cx);
                self.send_replica_fetch(cx);
            }
            ReplicaFetchResult::Err(_) => {
                self.mem.fetch_outstanding = None;
                cx.set_timer_ms(
                    REPLICA_FETCH_BACKOFF_MS,
                    Timer::Broker(BrokerTimer::FollowerFetchRetry {
                        partition: self.partition,
                        session: self.mem.fetch_session,
                    }),
                );
            }
        }
    }

    /// `replica_recovery = "high-watermark"`: Kafka 0.10's recovery, without leader epochs.
    fn hw_recovery(&self, cx: &Cx) -> bool {
        cx.settings().replica_recovery == ReplicaRecovery::HighWatermark
    }

    /// Truncate the log to `to`, tracing what was removed.
    fn truncate_traced(&mut self, to: u64, reason: TruncateReason, cx: &mut Cx) {
        let from = self.leo();
        let removed = self.truncate_to(to);
        if from > to {
            cx.emit(Trace::Truncated {
                partition: self.partition,
                broker: self.broker,
                from,
                to,
                removed: removed.into_boxed_slice(),
                reason,
            });
        }
    }

    // ----- replica fetching: the leader's side ----------------------------------------------

    pub(crate) fn on_replica_fetch(&mut self, req: &ReplicaFetchRequest, cx: &mut Cx) {
        let now = cx.now();
        let to = cx.broker_node(req.follower);
        let error = if self.mem.role != Role::Leader {
            Some(ErrorCode::NotLeaderOrFollower)
        } else if req.leader_epoch < self.disk.leader_epoch {
            Some(ErrorCode::FencedLeaderEpoch)
        } else if req.leader_epoch > self.disk.leader_epoch {
            Some(ErrorCode::UnknownLeaderEpoch)
        } else {
            None
        };
        let reply = |result, cx: &mut Cx| {
            cx.send(
                to,
                Msg::ReplicaFetchResponse {
                    partition: self.partition,
                    leader_epoch: req.leader_epoch,
                    session: req.session,
                    result,
                },
            )
        };
        if let Some(e) = error {
            reply(ReplicaFetchResult::Err(e), cx);
            return;
        }
        // Pre-KIP-101 there is no epoch to compare, only offsets: a fetch past the log end gets
        // OFFSET_OUT_OF_RANGE with the leader's end (which the follower learned with a
        // ListOffsets request in 0.10; here the answer carries it).
        if self.hw_recovery(cx) && req.fetch_offset > self.leo() {
            let end_offset = self.leo();
            reply(
                ReplicaFetchResult::Diverging {
                    epoch: self.disk.leader_epoch,
                    end_offset,
                },
                cx,
            );
            return;
        }
        // Divergence check (Kafka's `Partition.validateFetchOffsetAndMaybeGetDivergingEpoch`).
        if let Some(lfe) = req.last_fetched_epoch {
            let (epoch, end) = self.end_offset_for_epoch(lfe).unwrap_or((0, 0));
            if epoch < lfe || end < req.fetch_offset {
                reply(
                    ReplicaFetchResult::Diverging {
                        epoch,
                        end_offset: end,
                    },
                    cx,
                );
                return;
            }
        }
        let leo = self.leo();
        let Some(slot) = self.follower_slot(req.follower) else {
            return;
        };
        // Kafka's `Replica.updateFetchStateOrThrow`.
        let f = &mut self.mem.followers[slot];
        if req.fetch_offset >= leo {
            f.last_caught_up = f.last_caught_up.max(now);
        } else if req.fetch_offset >= f.last_fetch_leader_leo {
            f.last_caught_up = f.last_caught_up.max(f.last_fetch_time);
        }
        f.last_fetch_leader_leo = leo;
        f.last_fetch_time = now;
        f.leo = Some(req.fetch_offset);
        f.delayed = None;
        self.maybe_expand_isr(req.follower, cx);
        self.maybe_advance_hw(cx);
        if Replication::of(cx.settings().system) == Replication::Async {
            // A replica's acknowledgement (REPLCONF ACK) may release a WAIT; the HW does not
            // move for it.
            self.complete_purgatory(cx);
        }
        let deadline = now.plus_ms(cx.settings().replica_fetch_wait_max_ms);
        if req.fetch_offset < self.leo() {
            self.respond_replica_fetch(slot, req.fetch_offset, req.session, cx);
        } else {
            self.mem.followers[slot].delayed = Some(DelayedFetch {
                fetch_offset: req.fetch_offset,
                session: req.session,
                deadline,
                cause: cx.cause(),
            });
            self.arm_fetch_expiry(deadline, cx);
        }
    }

    fn respond_replica_fetch(
        &self,
        slot: usize,
        fetch_offset: u64,
        session: FetchSession,
        cx: &mut Cx,
    ) {
        let payload = cx.alloc_payload();
        let end = self.leo().min(fetch_offset + REPLICA_FETCH_MAX_RECORDS);
        let follower = self.mem.followers[slot].broker;
        self.disk
            .log
            .copy_range_into(fetch_offset as usize..end as usize, cx.payload_mut(payload));
        cx.send(
            cx.broker_node(follower),
            Msg::ReplicaFetchResponse {
                partition: self.partition,
                leader_epoch: self.disk.leader_epoch,
                session,
                result: ReplicaFetchResult::Records {
                    base_offset: fetch_offset,
                    payload,
                    hw: self.disk.hw,
                },
            },
        );
    }

    /// New data on the leader completes parked follower fetches.
    fn wake_delayed_fetches(&mut self, cx: &mut Cx) {
        let leo = self.leo();
        for slot in 0..self.mem.followers.len() {
            if let Some(d) = self.mem.followers[slot].delayed
                && d.fetch_offset < leo
            {
                self.mem.followers[slot].delayed = None;
                self.respond_replica_fetch(slot, d.fetch_offset, d.session, cx);
            }
        }
    }

    /// Make sure a timer fires by `deadline` for this replica's parked fetches. One timer
    /// serves them all (no timer is queued per parked fetch).
    fn arm_fetch_expiry(&mut self, deadline: SimTime, cx: &mut Cx) {
        if self.mem.expiry_armed.is_some_and(|at| at <= deadline) {
            return;
        }
        self.mem.expiry_armed = Some(deadline);
        cx.set_timer(
            deadline.0 - cx.now().0,
            Timer::Broker(BrokerTimer::DelayedFetchExpire {
                partition: self.partition,
            }),
        );
    }

    /// Answer every parked fetch whose wait is over, then wait for the next one. An answer at
    /// the end of its wait is caused by the fetch that waited, not by whatever armed the
    /// timer (one timer serves every parked fetch of the replica).
    pub(crate) fn expire_delayed_fetches(&mut self, cx: &mut Cx) {
        let now = cx.now();
        if self.mem.expiry_armed.is_some_and(|at| at <= now) {
            self.mem.expiry_armed = None;
        }
        for slot in 0..self.mem.followers.len() {
            if let Some(d) = self.mem.followers[slot].delayed
                && d.deadline <= now
            {
                self.mem.followers[slot].delayed = None;
                cx.caused_by_opt(d.cause, |cx| {
                    self.respond_replica_fetch(slot, d.fetch_offset, d.session, cx)
                });
            }
        }
        self.answer_consumer_waits(|w| w.deadline <= now, Answered::WaitOver, cx);
        let next = self
            .mem
            .followers
            .iter()
            .filter_map(|f| f.delayed.map(|d| d.deadline))
            .chain(self.mem.consumer_waits.iter().map(|w| w.deadline))
            .min();
        if let Some(at) = next {
            self.arm_fetch_expiry(at, cx);
        }
    }

    // ----- consumer fetching ------------------------------------------------------------

    pub(crate) fn on_consumer_fetch(
        &mut self,
        from: NodeId,
        req: &ConsumerFetchRequest,
        cx: &mut Cx,
    ) {
        let deadline = cx.now().plus_ms(u64::from(req.max_wait_ms));
        if self.mem.role != Role::Leader {
            req.fail(from, ErrorCode::NotLeaderOrFollower, cx);
            return;
        }
        if req.offset > self.leo() {
            cx.send(
                from,
                Msg::ConsumerFetchResponse {
                    partition: self.partition,
                    token: req.token,
                    result: ConsumerFetchResult::OutOfRange { leo: self.leo() },
                },
            );
            return;
        }
        let wait = ConsumerWait {
            to: from,
            offset: req.offset,
            max_records: req.max_records,
            read_committed: req.read_committed,
            request_token: req.token,
            deadline,
            cause: cx.cause(),
        };
        let limit = if req.read_committed {
            self.lso()
        } else {
            self.disk.hw
        };
        if req.offset < limit {
            self.respond_consumer_fetch(&wait, cx);
        } else {
            self.mem.consumer_waits.push(wait);
            self.arm_fetch_expiry(deadline, cx);
        }
    }

    fn respond_consumer_fetch(&self, w: &ConsumerWait, cx: &mut Cx) {
        let payload = cx.alloc_payload();
        let offset = w.offset;
        let limit = if w.read_committed {
            self.lso()
        } else {
            self.disk.hw
        };
        let end = limit.min(offset + w.max_records as u64).max(offset);
        self.disk
            .log
            .copy_range_into(offset as usize..end as usize, cx.payload_mut(payload));
        // read_committed consumers drop aborted records themselves, from this list.
        let aborted: Box<[(u32, u64, u64)]> = if w.read_committed {
            self.disk
                .aborted_txns
                .iter()
                .copied()
                .filter(|&(_, first, last)| first < end && last >= offset)
                .collect()
        } else {
            Box::new([])
        };
        cx.send(
            w.to,
            Msg::ConsumerFetchResponse {
                partition: self.partition,
                token: w.request_token,
                result: ConsumerFetchResult::Records {
                    base_offset: offset,
                    payload,
                    hw: limit,
                    aborted,
                },
            },
        );
    }

    fn wake_consumer_waits(&mut self, cx: &mut Cx) {
        if self.mem.consumer_waits.is_empty() {
            return;
        }
        let (hw, lso) = (self.disk.hw, self.lso());
        let ready = |w: &ConsumerWait| w.offset < if w.read_committed { lso } else { hw };
        self.answer_consumer_waits(ready, Answered::NewRecords, cx);
    }

    /// Answer the parked consumer fetches that are `ready`: with new records, the answer is
    /// caused by what moved the HW (the running handler); at the end of its wait, by the fetch
    /// that waited.
    fn answer_consumer_waits(
        &mut self,
        ready: impl Fn(&ConsumerWait) -> bool,
        why: Answered,
        cx: &mut Cx,
    ) {
        let mut i = 0;
        while i < self.mem.consumer_waits.len() {
            if ready(&self.mem.consumer_waits[i]) {
                let w = self.mem.consumer_waits.swap_remove(i);
                match why {
                    Answered::NewRecords => self.respond_consumer_fetch(&w, cx),
                    Answered::WaitOver => {
                        cx.caused_by_opt(w.cause, |cx| self.respond_consumer_fetch(&w, cx))
                    }
                }
            } else {
                i += 1;
            }
        }
    }

    // ----- partition state changes from the controller --------------------------------------

    pub(crate) fn on_partition_change(&mut self, change: PartitionChange, cx: &mut Cx) {
        let new_epoch = change.leader_epoch > self.disk.leader_epoch || self.mem.role == Role::None;
        if change.leader_epoch < self.disk.leader_epoch
            || (!new_epoch && change.partition_epoch <= self.disk.partition_epoch)
        {
            return;
        }
        self.disk.isr = change.isr;
        self.disk.partition_epoch = change.partition_epoch;
        if !new_epoch {
            // Same leader, new ISR (e.g. the controller removed a fenced follower).
            self.mem.pending_isr = None;
            self.maybe_advance_hw(cx);
            self.complete_purgatory(cx);
            return;
        }
        let was_leader = self.mem.role == Role::Leader;
        self.disk.leader_epoch = change.leader_epoch;
        self.mem.leader = change.leader;
        if was_leader {
            self.fail_purgatory(ErrorCode::NotLeaderOrFollower, cx);
        }
        match change.leader {
            Some(l) if l == self.broker => self.become_leader(cx),
            Some(_) => self.become_follower(cx),
            None => {
                self.mem.role = Role::None;
                self.new_fetch_session(cx);
            }
        }
    }

    /// The cluster boots with this partition's state already decided (no PartitionChange).
    pub(crate) fn boot(&mut self, leader: BrokerId, isr: BrokerSet, cx: &mut Cx) {
        self.mem.leader = Some(leader);
        self.disk.isr = isr;
        if leader == self.broker {
            self.become_leader(cx);
        } else {
            self.become_follower(cx);
        }
    }

    fn become_leader(&mut self, cx: &mut Cx) {
        let now = cx.now();
        self.mem.role = Role::Leader;
        self.mem.pending_isr = None;
        self.new_fetch_session(cx);
        self.mem.fetch_outstanding = None;
        let epoch = self.disk.leader_epoch;
        let leo = self.leo();
        self.assign_epoch(epoch, leo);
        for f in &mut self.mem.followers {
            f.leo = None;
            f.delayed = None;
            f.last_caught_up = now;
            f.last_fetch_time = now;
            f.last_fetch_leader_leo = leo;
        }
        self.rebuild_producer_states();
        self.maybe_advance_hw(cx);
    }

    fn become_follower(&mut self, cx: &mut Cx) {
        self.mem.role = Role::Follower;
        self.mem.pending_isr = None;
        self.new_fetch_session(cx);
        self.mem.fetch_outstanding = None;
        for f in &mut self.mem.followers {
            f.delayed = None;
        }
        if self.hw_recovery(cx) {
            // Kafka 0.10 (`ReplicaManager.makeFollowers`): "truncate the log to the high
            // watermark" and fetch from there. A follower's HW lags the leader's by a fetch
            // round trip, so this can cut records the leader already counted as committed:
            // the two failures KIP-101 describes.
            let hw = self.disk.hw;
            self.truncate_traced(hw, TruncateReason::HighWatermark, cx);
        }
        self.send_replica_fetch(cx);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const B1: BrokerId = BrokerId(0);
    const B2: BrokerId = BrokerId(1);

    /// A plain record written in `epoch`.
    pub(crate) fn data(epoch: u32, msg: u32) -> Entry {
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
        let mut r = Replica::new(PartitionId(0), B1, &[B1, B2], 1);
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
        assert_eq!(r.disk.epochs, vec![(0, 0), (2, 5)]);
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
        r.disk.hw = 4;
        let removed = r.truncate_to(2);
        assert_eq!(removed, vec![MsgId(12), MsgId(13)], "in offset order");
        assert_eq!(r.leo(), 2);
        assert_eq!(
            r.disk.epochs,
            vec![(0, 0)],
            "epoch 1 started at offset 2: gone"
        );
        assert_eq!(r.hw(), 2);
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
        let s = &r.disk.producer_states[0];
        assert_eq!(s.batches.len(), PRODUCER_BATCH_CACHE);
        assert_eq!(s.batches[0], (4, 5, 4), "the two oldest were dropped");
        assert_eq!(s.last_seq(), 13);
        // A new producer epoch starts its sequences afresh.
        r.record_producer_seq(3, 1, 0, 0, 14);
        let s = &r.disk.producer_states[0];
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
        r.disk.hw = 4;
        assert_eq!(r.lso(), 2, "the open transaction starts at 2");
        let marker = txn(EntryKind::Commit, 5, 0);
        r.append(marker);
        r.track_txn(&marker, 4);
        assert_eq!(r.lso(), 2, "its marker (offset 4) is not below the HW yet");
        r.disk.hw = 5;
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
        assert_eq!(r.disk.aborted_txns, vec![(5, 0, 1)]);
        assert!(r.ongoing_txns().is_empty());
    }

    #[test]
    fn the_maximal_isr_counts_a_pending_change() {
        let mut r = replica_with(&[]);
        r.disk.isr = BrokerSet::EMPTY.with(B1);
        assert_eq!(r.maximal_isr(), r.isr());
        r.mem.pending_isr = Some((BrokerSet::EMPTY.with(B1).with(B2), SimTime::ZERO));
        assert!(
            r.maximal_isr().contains(B2),
            "an expansion in flight already counts"
        );
    }

    /// Ten records on the leader of three members, followers at `leos`.
    fn quorum_leader(leos: [Option<u64>; 2]) -> Replica {
        let b3 = BrokerId(2);
        let mut r = Replica::new(PartitionId(0), B1, &[B1, B2, b3], 1);
        for msg in 0..10 {
            r.append(data(1, msg));
        }
        for (f, leo) in r.mem.followers.iter_mut().zip(leos) {
            f.leo = leo;
        }
        r
    }

    #[test]
    fn a_quorum_commits_what_a_majority_of_members_has() {
        // Leader 10, followers 7 and unknown: only the leader and one follower have 0..7.
        assert_eq!(quorum_leader([Some(7), None]).majority_offset(), 7);
        assert_eq!(quorum_leader([Some(7), Some(9)]).majority_offset(), 9);
        assert_eq!(quorum_leader([None, None]).majority_offset(), 0);
    }

    #[test]
    fn redis_wait_counts_the_replicas_in_sync_only() {
        let mut r = quorum_leader([Some(7), Some(4)]);
        r.disk.isr = [B1, B2].into_iter().collect();
        assert_eq!(r.wait_offset(), 7);
        r.disk.isr = [B1].into_iter().collect();
        assert_eq!(
            r.wait_offset(),
            10,
            "with no replica in sync WAIT has nothing to wait for"
        );
    }
}
