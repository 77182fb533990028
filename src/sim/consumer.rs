//! Consumer groups, the consumer's side: a process that is a Kafka consumer client and the
//! application's poll → process → commit loop around it (see [`Consumer`]), speaking the group
//! protocol as a member. The coordinator is in [`crate::sim::group_coordinator`]; its
//! simplifications are described there.
//!
//! Simplifications: a consumer finds its coordinator without FindCoordinator, from the unfenced
//! brokers a Metadata response lists. The consumer's retry backoffs have no jitter; it asks for
//! metadata per partition; it learns of new partitions at once. It fetches each partition with
//! a request of its own, where Kafka's `Fetcher` sends one fetch per broker covering every
//! partition that broker leads: a partition's records arrive no later, and only the number of
//! requests differs.

use crate::sim::config::{
    Assignor, CommitMode, GroupConfig, GroupProtocol, IsolationLevel, OffsetReset,
};
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::partitioner::partition_for_key;
use crate::sim::replica::EntryKind;
use crate::sim::trace::{LeaveReason, Trace};
use crate::sim::wire::{ConsumerFetchResult, GroupMetadata, GroupRequest, GroupResponse, Msg};
use crate::sim::{Local, Timer};

/// Backoff before retrying a coordinator request or a fetch that failed (`retry.backoff.ms`).
const CONSUMER_RETRY_BACKOFF_MS: u64 = 100;
/// `retry.backoff.max.ms`: KIP-580's cap on the exponential retry backoff.
const CONSUMER_RETRY_BACKOFF_MAX_MS: u64 = 1000;
/// `metadata.max.age.ms`: a client refreshes its metadata at least this often.
const METADATA_MAX_AGE_MS: u64 = 300_000;

/// KIP-580: the backoff before the `attempts`-th consecutive retry, in µs: `retry.backoff.ms`
/// doubling per failure up to `retry.backoff.max.ms`. (Simplified: Kafka adds ±20% jitter; the
/// consumer's retries here have none, so they draw nothing from the seeded RNG.)
fn retry_backoff_us(attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(10);
    ((CONSUMER_RETRY_BACKOFF_MS * 1000) << doublings).min(CONSUMER_RETRY_BACKOFF_MAX_MS * 1000)
}

// ----- consumer -------------------------------------------------------------------------------

/// What a consumer's process is doing, for the TUI and the checker's drain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerState {
    /// Not started yet.
    Idle,
    Joining,
    Syncing,
    FetchingOffsets,
    Active,
    Crashed,
    /// Left the group for good (`remove-consumer`).
    Left,
}

impl ConsumerState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerState::Idle => "idle",
            ConsumerState::Joining => "joining",
            ConsumerState::Syncing => "syncing",
            ConsumerState::FetchingOffsets => "fetching offsets",
            ConsumerState::Active => "active",
            ConsumerState::Crashed => "crashed",
            ConsumerState::Left => "left",
        }
    }
}

/// A consumer's timers (wrapped in [`Timer::Consumer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConsumerTimer {
    /// The application starts at the group's `start_ms`. The event loop handles it: a start
    /// brings the bootstrap metadata.
    Start,
    Heartbeat {
        token: u32,
    },
    /// The one timeout timer for coordinator requests: it fires at the deadline of the request
    /// in flight, or re-arms for a later one.
    RequestTimeoutScan,
    /// Send the coordinator request `token` again (its backoff is over, or it timed out).
    RetryRequest {
        token: u32,
    },
    /// The record being processed is done (`processing_ms`).
    Process {
        token: u32,
    },
    /// The one timeout timer for fetches: expire those past `request.timeout.ms` and re-arm
    /// for the earliest still in flight.
    FetchTimeoutScan,
    /// A backoff is over: send the fetches and metadata requests that waited for it.
    RetryFetches,
    /// The Metadata request for the topic's `part`-th partition got no answer within
    /// `request.timeout.ms`.
    MetadataTimeout {
        part: u32,
        token: u32,
    },
    /// The coordinator lookup `token` got no answer within `request.timeout.ms`.
    CoordinatorLookupTimeout {
        token: u32,
    },
    /// `metadata.max.age.ms`: refresh the metadata even without an error.
    MetadataMaxAge,
}

/// What a consumer knows of the cluster when it starts: what a first Metadata request would
/// return. The event loop hands it to [`Consumer::on_start`].
#[derive(Clone, Debug)]
pub(crate) struct BootstrapMetadata {
    /// The leader of each of the topic's partitions (in [`Consumer::partitions`] order).
    pub(crate) leaders: Vec<Option<BrokerId>>,
    /// The brokers the controller has not fenced.
    pub(crate) unfenced: BrokerSet,
}

/// An assigned partition, from the consumer's side.
#[derive(Clone, Debug)]
pub struct ConsumerPartition {
    pub partition: PartitionId,
    /// Offset of the next record poll() hands to the application.
    pub position: Option<u64>,
    /// Offset of the next record to fetch.
    fetch_pos: u64,
    fetching: Option<u32>,
    /// The broker the fetch in flight went to.
    fetching_from: Option<BrokerId>,
    /// Fetched records not yet returned by poll(): (offset, message).
    buffered: std::collections::VecDeque<(u64, MsgId)>,
    /// The leader's high watermark as of the last fetch, for lag.
    pub hw: u64,
    /// After a failed fetch, no new fetch before this (`retry.backoff.ms`).
    retry_at: SimTime,
    /// When the fetch in flight times out.
    fetch_deadline: SimTime,
    /// Consecutive failed ListOffsets attempts (KIP-580 backoff).
    attempts: u32,
    /// Newly assigned: its committed offset is not known yet (OffsetFetch).
    fresh: bool,
}

impl ConsumerPartition {
    fn new(partition: PartitionId) -> ConsumerPartition {
        ConsumerPartition {
            partition,
            position: None,
            fetch_pos: 0,
            fetching: None,
            fetching_from: None,
            buffered: Default::default(),
            hw: 0,
            retry_at: SimTime::ZERO,
            fetch_deadline: SimTime::ZERO,
            attempts: 0,
            fresh: true,
        }
    }

    /// With nothing buffered, the position moves past whatever was fetched and skipped
    /// (transaction markers, aborted records), as Kafka's fetcher does.
    fn skip_to_fetched(&mut self) {
        if self.buffered.is_empty()
            && let Some(pos) = self.position
            && pos < self.fetch_pos
        {
            self.position = Some(self.fetch_pos);
        }
    }
}

/// [`ConsumerMem::part_of`] for a partition not assigned to this consumer.
const NO_PART: u32 = u32::MAX;

/// The part indices a walk visits, in `parts` order: every part of `len` after a change,
/// else the listed ones, once each.
fn parts_to_visit(list: &mut Vec<u32>, len: usize, all: bool) {
    if all {
        list.clear();
        list.extend(0..len as u32);
    } else {
        list.sort_unstable();
        list.dedup();
    }
}

/// Keeps the larger allocation of a visited list and the list that replaced it, with the
/// latter's entries: the lists are taken and rebuilt on every fetch response.
fn recycle(mut visited: Vec<u32>, list: &mut Vec<u32>) {
    if visited.capacity() > list.capacity() {
        visited.clear();
        visited.append(list);
        *list = visited;
    }
}

/// What the consumer does once its synchronous commit is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterCommit {
    Process,
    Poll,
    Rejoin,
    Leave,
    /// KIP-429: the revoked partitions' offsets are committed; now take the new assignment.
    Assign,
}

/// The coordinator request the consumer waits on (one at a time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outstanding {
    Join,
    Sync,
    OffsetFetch,
    Commit(AfterCommit),
}

/// A consumer application's static configuration, copied in when it is created: the group's
/// settings and the topic it reads.
#[derive(Clone, Debug)]
struct ConsumerConfig {
    group_name: String,
    spec: GroupConfig,
    /// The topic's partitions (they only grow, with `add-partitions`).
    partitions: Vec<PartitionId>,
    /// Where each of `partitions` is in it.
    partition_index: PartitionIndex,
    /// The cluster's size: the coordinator is found among brokers `0..brokers`.
    brokers: u32,
}

/// A consumer application's process: a Kafka consumer client (group membership, fetching,
/// commits, metadata) and the application's poll → process → commit loop around it. A
/// processor's output producer and the dead-letter producer live in the same process; the
/// consumer calls them through [`Local`] and they answer through the `on_*` notices.
///
/// A crash loses everything but the configuration: the application restarts as a fresh client.
/// What it wrote outside Kafka (a dedup sink) lives outside the process, in the kernel.
#[derive(Clone, Debug)]
pub struct Consumer {
    pub id: ConsumerId,
    pub name: String,
    pub node: NodeId,
    pub group: GroupId,
    config: ConsumerConfig,
    /// A processor's (`output_topic`) producer. It shares this consumer's node.
    pub producer: Option<ProducerId>,
    /// The producer that writes to the group's dead-letter topic (its own node, hosted by this
    /// one).
    pub dead_letter_producer: Option<ProducerId>,
    /// Correlation ids stay unique across restarts: the simulated network does not tear down
    /// connections, so an answer to the previous incarnation must match no request of this one.
    next_token: u32,
    /// Records handled (applied, redelivered or dead-lettered) over every incarnation.
    pub applied: u64,
    /// A share group's member (KIP-932): the share consumer that runs this process instead.
    pub share: Option<Box<crate::sim::share_consumer::ShareClient>>,
    /// Everything else: lost in a crash.
    mem: ConsumerMem,
}

/// The volatile part of a consumer: a crash or a restart replaces it whole.
#[derive(Clone, Debug)]
struct ConsumerMem {
    state: ConsumerState,
    generation: u32,
    parts: Vec<ConsumerPartition>,
    /// Indices into `parts` that spare poll() and send_fetches() a walk over every assigned
    /// partition (hundreds of them at 1000 partitions); both still visit in `parts` order.
    /// The parts that may hold buffered records (only a fetch response buffers them).
    buffered_parts: Vec<u32>,
    /// The parts that may be idle: no fetch in flight and nothing buffered.
    idle_parts: Vec<u32>,
    /// `parts` changed since: the next poll() and the next send_fetches() visit every part.
    poll_all: bool,
    fetch_all: bool,
    /// Each partition's index in `parts`, by the partition's index in the topic
    /// ([`NO_PART`] if not assigned), for the fetch responses.
    part_of: Vec<u32>,
    /// The poll batch being processed: (partition, offset, message).
    batch: Vec<(PartitionId, u64, MsgId)>,
    batch_pos: usize,
    processing: bool,
    rejoin_needed: bool,
    /// The generation was lost (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, `max.poll.interval.ms`):
    /// even a cooperative member gives up every partition before rejoining
    /// (`ConsumerCoordinator.onJoinPrepare`, `onPartitionsLost`).
    lost: bool,
    /// The partitions the last JoinGroup said this member owns (KIP-429 `ownedPartitions`).
    claimed: Vec<PartitionId>,
    /// A cooperative assignment that arrived with SyncGroup, applied at the next poll() (Kafka
    /// runs `onJoinComplete` inside poll(), between batches), or waiting for the revoked
    /// partitions' commit.
    assigned: Option<Box<[PartitionId]>>,
    /// Leader per partition of the topic, as this consumer last heard.
    leaders: Vec<Option<BrokerId>>,
    /// Per partition: a Metadata request in flight, its token, consecutive failed refreshes,
    /// and no new request before this (KIP-580 backoff).
    metadata_pending: Vec<bool>,
    metadata_token: Vec<u32>,
    metadata_attempts: Vec<u32>,
    metadata_retry_at: Vec<SimTime>,
    outstanding: Option<(u32, Outstanding)>,
    /// The coordinator broker the outstanding request went to.
    outstanding_to: Option<BrokerId>,
    /// The group coordinator as this consumer last found it (see [`coordinator_among`]).
    coordinator: Option<BrokerId>,
    /// The coordinator lookup in flight (its token), consecutive lookups that found nothing
    /// new, and no new lookup before this (KIP-580 backoff).
    coordinator_lookup: Option<u32>,
    lookup_attempts: u32,
    lookup_retry_at: SimTime,
    heartbeat_token: u32,
    process_token: u32,
    fetch_timer_armed: bool,
    request_timer_armed: bool,
    request_deadline: SimTime,
    last_poll: SimTime,
    next_auto_commit: SimTime,
    /// Waiting for the processor's outputs: its transaction's commit, or `flush()`.
    committing_txn: bool,
    /// A transactional output producer has its producer id (`initTransactions()` returned).
    producer_ready: bool,
    /// Failed attempts at the current record (poison messages).
    attempts: u32,
    /// Blocked for good on a poison record that has nowhere to go.
    stuck: bool,
    /// KIP-848: the heartbeat interval the coordinator set (`group.consumer.heartbeat.interval.ms`).
    heartbeat_interval_ms: u64,
}

impl ConsumerMem {
    fn new(partitions: usize, state: ConsumerState) -> ConsumerMem {
        ConsumerMem {
            state,
            generation: 0,
            parts: Vec::new(),
            buffered_parts: Vec::new(),
            idle_parts: Vec::new(),
            poll_all: false,
            fetch_all: false,
            part_of: Vec::new(),
            batch: Vec::new(),
            batch_pos: 0,
            processing: false,
            rejoin_needed: false,
            lost: false,
            claimed: Vec::new(),
            assigned: None,
            leaders: vec![None; partitions],
            metadata_pending: vec![false; partitions],
            metadata_token: vec![0; partitions],
            metadata_attempts: vec![0; partitions],
            metadata_retry_at: vec![SimTime::ZERO; partitions],
            outstanding: None,
            outstanding_to: None,
            coordinator: None,
            coordinator_lookup: None,
            lookup_attempts: 0,
            lookup_retry_at: SimTime::ZERO,
            heartbeat_token: 0,
            process_token: 0,
            fetch_timer_armed: false,
            request_timer_armed: false,
            request_deadline: SimTime::ZERO,
            last_poll: SimTime::ZERO,
            next_auto_commit: SimTime::ZERO,
            committing_txn: false,
            producer_ready: true,
            attempts: 0,
            stuck: false,
            heartbeat_interval_ms: 0,
        }
    }
}

fn set_timer_ms(cx: &mut Cx, ms: u64, timer: ConsumerTimer) {
    cx.set_timer_ms(ms, Timer::Consumer(timer));
}

fn set_timer_us(cx: &mut Cx, us: u64, timer: ConsumerTimer) {
    cx.set_timer(us, Timer::Consumer(timer));
}

/// Brokers are nodes `0..brokers`.
fn broker_node(b: BrokerId) -> NodeId {
    NodeId(b.0)
}

impl Consumer {
    /// A consumer of group `group`, not started yet.
    pub(crate) fn new(
        id: ConsumerId,
        name: String,
        node: NodeId,
        group: GroupId,
        spec: &GroupConfig,
        partitions: Vec<PartitionId>,
        brokers: u32,
    ) -> Consumer {
        let n = partitions.len();
        let share = spec.share.map(|share| {
            Box::new(crate::sim::share_consumer::ShareClient::new(
                id,
                group,
                spec,
                share,
                partitions.clone(),
                brokers,
            ))
        });
        Consumer {
            id,
            name,
            node,
            group,
            config: ConsumerConfig {
                group_name: spec.name.clone(),
                spec: spec.clone(),
                partition_index: PartitionIndex::new(&partitions),
                partitions,
                brokers,
            },
            producer: None,
            dead_letter_producer: None,
            next_token: 0,
            applied: 0,
            share,
            mem: ConsumerMem::new(n, ConsumerState::Idle),
        }
    }

    // ----- what observers read ------------------------------------------------------------

    pub fn state(&self) -> ConsumerState {
        match &self.share {
            Some(s) => s.state(),
            None => self.mem.state,
        }
    }

    /// The assigned partitions.
    pub fn parts(&self) -> &[ConsumerPartition] {
        &self.mem.parts
    }

    /// Partitions this member owns but its latest assignment no longer holds: it is revoking
    /// them (KIP-429), still consuming them until the current poll batch ends.
    pub fn revoking(&self) -> Vec<PartitionId> {
        let Some(next) = &self.mem.assigned else {
            return Vec::new();
        };
        self.mem
            .parts
            .iter()
            .map(|cp| cp.partition)
            .filter(|p| !next.contains(p))
            .collect()
    }

    /// Whether the group uses KIP-429's cooperative protocol (`cooperative-sticky`).
    fn cooperative(&self) -> bool {
        self.config.spec.assignor == Assignor::CooperativeSticky && !self.consumer_protocol()
    }

    /// Whether the group speaks KIP-848's consumer group protocol (`group.protocol=consumer`).
    fn consumer_protocol(&self) -> bool {
        self.config.spec.protocol == GroupProtocol::Consumer
    }

    /// KIP-429: a cooperative member keeps consuming the partitions it owns while its
    /// JoinGroup and SyncGroup are in flight.
    fn consuming_while_rejoining(&self) -> bool {
        self.cooperative()
            && !self.mem.parts.is_empty()
            && matches!(
                self.mem.outstanding,
                Some((_, Outstanding::Join | Outstanding::Sync))
            )
    }

    /// When the application starts (the group's `start_ms`).
    pub(crate) fn start_ms(&self) -> u64 {
        self.config.spec.start_ms
    }

    /// The topic's partitions, as this consumer knows them.
    pub(crate) fn partitions(&self) -> &[PartitionId] {
        &self.config.partitions
    }

    /// Whether `p` is a partition of the topic this consumer reads (and not, say, of its output
    /// producer's topic).
    pub(crate) fn reads(&self, p: PartitionId) -> bool {
        self.config.partition_index.get(p).is_some()
    }

    /// Processing a batch, or waiting on the coordinator: not settled.
    pub(crate) fn busy(&self) -> bool {
        self.mem.processing || self.mem.outstanding.is_some()
    }

    /// Lag per assigned partition: HW − position.
    pub fn lag(&self) -> u64 {
        self.mem
            .parts
            .iter()
            .map(|p| p.hw.saturating_sub(p.position.unwrap_or(0)))
            .sum()
    }

    /// The fetches and ListOffsets in flight to broker `b`: (partition, token).
    pub(crate) fn fetches_to(&self, b: BrokerId) -> impl Iterator<Item = (PartitionId, u32)> {
        self.mem.parts.iter().filter_map(move |cp| {
            let token = cp.fetching?;
            (cp.fetching_from == Some(b)).then_some((cp.partition, token))
        })
    }

    /// The reset a coordinator request in flight to a dead broker gets.
    pub(crate) fn reset_coordinator_reply(&self, b: BrokerId) -> Option<Msg> {
        let (token, kind) = self.mem.outstanding?;
        if self.mem.outstanding_to != Some(b) {
            return None;
        }
        let error = ErrorCode::NotCoordinator;
        let resp = match kind {
            Outstanding::Join if self.consumer_protocol() => GroupResponse::ConsumerHeartbeat {
                member_epoch: 0,
                assignment: Box::new([]),
                heartbeat_interval_ms: 0,
                token,
                error,
            },
            Outstanding::Join => GroupResponse::Join {
                generation: 0,
                token,
                error,
            },
            Outstanding::Sync => GroupResponse::Sync {
                generation: 0,
                assignment: Box::new([]),
                token,
                error,
            },
            Outstanding::OffsetFetch => GroupResponse::OffsetFetch {
                offsets: Box::new([]),
                token,
                error,
            },
            Outstanding::Commit(_) => GroupResponse::Commit { token, error },
        };
        Some(Msg::GroupResponse { resp })
    }

    // ----- lifecycle ----------------------------------------------------------------------

    /// The process starts (or restarts) as a fresh client.
    pub(crate) fn on_start(&mut self, metadata: BootstrapMetadata, cx: &mut Cx) {
        let n = self.config.partitions.len();
        self.mem = ConsumerMem::new(n, ConsumerState::Joining);
        self.mem.leaders = metadata.leaders;
        if let Some(producer) = self.producer {
            // A transactional processor polls once initTransactions() returns.
            self.mem.producer_ready = self.config.spec.commit != CommitMode::Transactional;
            cx.local(Local::StartOutputProducer { producer });
        }
        self.mem.coordinator = coordinator_among(
            &self.config.group_name,
            self.config.brokers,
            metadata.unfenced,
        );
        set_timer_ms(cx, METADATA_MAX_AGE_MS, ConsumerTimer::MetadataMaxAge);
        self.send_join(cx);
    }

    /// The process died: only the configuration survives.
    pub(crate) fn crash(&mut self) {
        if let Some(s) = self.share.as_mut() {
            s.crash();
        }
        self.mem = ConsumerMem::new(self.config.partitions.len(), ConsumerState::Crashed);
    }

    /// `remove-consumer`: the application calls close(). With auto-commit it commits the
    /// consumed positions first; then a dynamic member sends LeaveGroup (a static one does not).
    pub(crate) fn close(&mut self, cx: &mut Cx) {
        if !matches!(
            self.mem.state,
            ConsumerState::Active
                | ConsumerState::Joining
                | ConsumerState::Syncing
                | ConsumerState::FetchingOffsets
        ) {
            return;
        }
        self.mem.processing = false;
        self.mem.batch.clear();
        if self.config.spec.commit == CommitMode::Auto && self.mem.state == ConsumerState::Active {
            self.commit_sync(AfterCommit::Leave, cx);
        } else {
            self.finish_leave(cx);
        }
    }

    fn finish_leave(&mut self, cx: &mut Cx) {
        // KIP-345: a static member (`group.instance.id`) never sends LeaveGroup on close; the
        // coordinator keeps its assignment until `session.timeout.ms` expires, so a restart
        // within it causes no rebalance.
        if !self.config.spec.static_membership {
            self.send_leave(LeaveReason::Left, cx);
        }
        self.mem.state = ConsumerState::Left;
        self.mem.parts.clear();
        self.parts_changed();
        cx.exit();
    }

    /// The topic grew: the consumer learns of the new partitions and their leaders (Kafka's
    /// consumer notices at its next metadata refresh; here at once).
    pub(crate) fn partitions_added(&mut self, added: &[(PartitionId, Option<BrokerId>)]) {
        if let Some(s) = self.share.as_mut() {
            s.partitions_added(added);
        }
        for &(p, leader) in added {
            let position = self.config.partitions.len();
            self.config.partition_index.push(p, position);
            self.config.partitions.push(p);
            let mem = &mut self.mem;
            mem.leaders.push(leader);
            mem.metadata_pending.push(false);
            mem.metadata_token.push(0);
            mem.metadata_attempts.push(0);
            mem.metadata_retry_at.push(SimTime::ZERO);
        }
    }

    // ----- notices from the embedded producers ---------------------------------------------

    /// The processor's producer got its producer id: processing may start.
    pub(crate) fn on_producer_ready(&mut self, cx: &mut Cx) {
        self.mem.producer_ready = true;
        self.poll(cx);
    }

    /// A processor waiting in `flush()`: every output is acknowledged, so it commits its input
    /// offsets.
    pub(crate) fn on_outputs_flushed(&mut self, cx: &mut Cx) {
        if !self.mem.committing_txn {
            return;
        }
        self.mem.committing_txn = false;
        self.commit_sync(AfterCommit::Poll, cx);
    }

    /// The processor's transaction finished.
    pub(crate) fn on_txn_done(&mut self, committed: bool, cx: &mut Cx) {
        if !self.mem.committing_txn {
            return;
        }
        self.mem.committing_txn = false;
        if committed {
            self.poll(cx);
        } else {
            // Aborted: rewind to the committed offsets and process again.
            for cp in &mut self.mem.parts {
                cp.buffered.clear();
                cp.fetching = None;
                cp.fresh = true;
            }
            self.parts_changed();
            if self.consuming_while_rejoining() {
                // A cooperative rejoin holds the coordinator connection: let the partitions
                // go for now. The JoinGroup in flight claimed them, so the coordinator gives
                // them back (read again from their committed offsets) or they are revoked.
                self.mem.parts.clear();
                self.parts_changed();
                return;
            }
            self.mem.state = ConsumerState::FetchingOffsets;
            self.resend(Outstanding::OffsetFetch, cx);
        }
    }

    /// The processor's producer was fenced by a newer instance: the application shuts down.
    pub(crate) fn on_producer_fenced(&mut self, cx: &mut Cx) {
        self.mem.committing_txn = false;
        self.mem.processing = false;
        self.mem.batch.clear();
        self.finish_leave(cx);
    }

    // ----- handlers -----------------------------------------------------------------------

    pub(crate) fn on_message(&mut self, from: NodeId, msg: Msg, cx: &mut Cx) {
        let _ = from;
        match msg {
            Msg::MetadataUpdate { .. } => {}
            // A broker this consumer has requests in flight to died: its fetches fail with
            // NETWORK_EXCEPTION, and a coordinator request gets NOT_COORDINATOR (look it up
            // again), as a disconnect does in Kafka's client.
            Msg::ConnectionClosed { peer } => {
                let dead = BrokerId(peer.0);
                let fetches: Vec<(PartitionId, u32)> = self.fetches_to(dead).collect();
                for (partition, token) in fetches {
                    let reset = ConsumerFetchResult::Err(ErrorCode::NetworkException);
                    self.on_fetch_response(partition, token, reset, cx);
                }
                if let Some(Msg::GroupResponse { resp }) = self.reset_coordinator_reply(dead) {
                    self.on_group_response(resp, cx);
                }
            }
            Msg::GroupResponse { resp } => self.on_group_response(resp, cx),
            Msg::ConsumerFetchResponse {
                partition,
                token,
                result,
            } => self.on_fetch_response(partition, token, result, cx),
            Msg::ListOffsetsResponse {
                partition,
                token,
                offset,
            } => self.on_list_offsets_response(partition, token, offset, cx),
            Msg::MetadataResponse {
                partition,
                leader,
                token,
                unfenced,
            } => self.on_metadata_response(partition, leader, token, unfenced, cx),
            // Requests and the other nodes' answers never reach a consumer (its output
            // producer's are routed to it by the event loop).
            Msg::Produce { .. }
            | Msg::ProduceResponse { .. }
            | Msg::ReplicaFetch { .. }
            | Msg::ReplicaFetchResponse { .. }
            | Msg::ConsumerFetch { .. }
            | Msg::ListOffsets { .. }
            | Msg::BrokerHeartbeat { .. }
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::PartitionChange { .. }
            | Msg::AlterPartition { .. }
            | Msg::AlterPartitionResponse { .. }
            | Msg::WriteTxnMarker { .. }
            | Msg::WriteTxnMarkerResponse { .. }
            | Msg::Txn { .. }
            | Msg::TxnResponse { .. }
            | Msg::MetadataRequest { .. }
            | Msg::Group { .. }
            | Msg::TxnOffsetCommit { .. }
            | Msg::TxnOffsetCommitResponse { .. }
            | Msg::TxnOffsetMarker { .. }
            | Msg::TxnOffsetMarkerResponse { .. }
            | Msg::Share(_) => {}
        }
    }

    pub(crate) fn on_timer(&mut self, timer: ConsumerTimer, cx: &mut Cx) {
        match timer {
            // Handled by the event loop, which brings the bootstrap metadata to on_start.
            ConsumerTimer::Start => {}
            ConsumerTimer::RequestTimeoutScan => {
                // One timer for coordinator requests: it re-arms for the one in flight.
                self.mem.request_timer_armed = false;
                if let Some((token, _)) = self.mem.outstanding {
                    if self.mem.request_deadline > cx.now() {
                        self.mem.request_timer_armed = true;
                        let wait = self.mem.request_deadline.0 - cx.now().0;
                        set_timer_us(cx, wait, ConsumerTimer::RequestTimeoutScan);
                    } else {
                        // No answer: the coordinator may have moved.
                        self.find_coordinator(cx);
                        self.retry_request(token, cx);
                    }
                }
            }
            ConsumerTimer::RetryRequest { token } => self.retry_request(token, cx),
            ConsumerTimer::Heartbeat { token } => self.heartbeat(token, cx),
            ConsumerTimer::MetadataTimeout { part, token } => {
                let i = part as usize;
                if self.mem.metadata_pending.get(i) == Some(&true)
                    && self.mem.metadata_token[i] == token
                {
                    self.mem.leaders[i] = None;
                    self.metadata_failed(i, cx);
                }
            }
            ConsumerTimer::CoordinatorLookupTimeout { token } => {
                if self.mem.coordinator_lookup == Some(token) {
                    // The next failed coordinator request looks again, after the backoff.
                    self.mem.coordinator_lookup = None;
                    self.lookup_found_nothing(cx);
                }
            }
            ConsumerTimer::MetadataMaxAge => {
                // metadata.max.age.ms: refresh the assigned partitions' leaders, so a consumer
                // still fetching from a deposed leader that answers without error moves on.
                set_timer_ms(cx, METADATA_MAX_AGE_MS, ConsumerTimer::MetadataMaxAge);
                for k in 0..self.mem.parts.len() {
                    let p = self.mem.parts[k].partition;
                    self.refresh_metadata(p, cx);
                }
            }
            ConsumerTimer::Process { token } => {
                if self.mem.processing && self.mem.process_token == token {
                    self.process_next(cx);
                }
            }
            ConsumerTimer::FetchTimeoutScan => {
                // One timer for fetches: expire those past request.timeout.ms, re-arm for the
                // earliest still in flight.
                let now = cx.now();
                self.mem.fetch_timer_armed = false;
                let mut expired = Vec::new();
                let mut next: Option<SimTime> = None;
                for (i, cp) in self.mem.parts.iter_mut().enumerate() {
                    if cp.fetching.is_some() {
                        if cp.fetch_deadline <= now {
                            cp.fetching = None;
                            self.mem.idle_parts.push(i as u32);
                            expired.push(cp.partition);
                        } else {
                            next =
                                Some(next.map_or(cp.fetch_deadline, |n| n.min(cp.fetch_deadline)));
                        }
                    }
                }
                for p in expired {
                    self.forget_leader(p);
                    self.refresh_metadata(p, cx);
                }
                if let Some(at) = next {
                    self.mem.fetch_timer_armed = true;
                    set_timer_us(cx, at.0 - now.0, ConsumerTimer::FetchTimeoutScan);
                }
                self.send_fetches(cx);
            }
            ConsumerTimer::RetryFetches => self.send_fetches(cx),
        }
    }

    // ----- the group protocol --------------------------------------------------------------

    fn token(&mut self) -> u32 {
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token
    }

    fn send_to_coordinator(&mut self, req: GroupRequest, cx: &mut Cx) -> Option<BrokerId> {
        let b = self.mem.coordinator?;
        // The member id the coordinator knows this instance by: its process incarnation.
        let msg = Msg::Group {
            group: self.group,
            consumer: self.id,
            incarnation: cx.incarnation(),
            req,
        };
        cx.send(broker_node(b), msg);
        Some(b)
    }

    fn coordinator_request(
        &mut self,
        kind: Outstanding,
        make: impl FnOnce(u32) -> GroupRequest,
        cx: &mut Cx,
    ) {
        let token = self.token();
        self.mem.outstanding = Some((token, kind));
        self.mem.outstanding_to = self.send_to_coordinator(make(token), cx);
        let timeout = self.config.spec.request_timeout_ms;
        self.mem.request_deadline = cx.now().plus_ms(timeout);
        if !self.mem.request_timer_armed {
            self.mem.request_timer_armed = true;
            set_timer_ms(cx, timeout, ConsumerTimer::RequestTimeoutScan);
        }
    }

    /// LeaveGroup; under KIP-848 a heartbeat with member epoch -1 (`LEAVE_GROUP_MEMBER_EPOCH`).
    fn send_leave(&mut self, reason: LeaveReason, cx: &mut Cx) {
        let req = if self.consumer_protocol() {
            GroupRequest::ConsumerHeartbeat {
                member_epoch: -1,
                owned: Box::new([]),
                token: 0,
            }
        } else {
            GroupRequest::Leave { reason }
        };
        self.send_to_coordinator(req, cx);
    }

    /// KIP-848: a `ConsumerGroupHeartbeat` with this member's epoch and the partitions it owns
    /// now (`ConsumerMembershipManager`; sent every interval, and at once after revoking).
    fn send_consumer_heartbeat(&mut self, cx: &mut Cx) {
        let owned: Box<[PartitionId]> = self.mem.parts.iter().map(|cp| cp.partition).collect();
        let member_epoch = self.mem.generation as i32;
        self.send_to_coordinator(
            GroupRequest::ConsumerHeartbeat {
                member_epoch,
                owned,
                token: 0,
            },
            cx,
        );
    }

    fn send_join(&mut self, cx: &mut Cx) {
        self.mem.state = ConsumerState::Joining;
        if self.consumer_protocol() {
            // KIP-848: join with member epoch 0, owning nothing; the coordinator assigns.
            self.mem.claimed.clear();
            self.coordinator_request(
                Outstanding::Join,
                |token| GroupRequest::ConsumerHeartbeat {
                    member_epoch: 0,
                    owned: Box::new([]),
                    token,
                },
                cx,
            );
            return;
        }
        let owned: Vec<PartitionId> = self.mem.parts.iter().map(|cp| cp.partition).collect();
        self.mem.claimed = owned.clone();
        let owned: Box<[PartitionId]> = owned.into();
        self.coordinator_request(
            Outstanding::Join,
            |token| GroupRequest::Join { token, owned },
            cx,
        );
    }

    /// Re-send the same kind of request after a short backoff, via [`ConsumerTimer::RetryRequest`].
    fn retry_later(&mut self, kind: Outstanding, cx: &mut Cx) {
        let token = self.token();
        self.mem.outstanding = Some((token, kind));
        set_timer_ms(
            cx,
            CONSUMER_RETRY_BACKOFF_MS,
            ConsumerTimer::RetryRequest { token },
        );
    }

    /// The request `token` is still outstanding after its backoff or its timeout: send it again
    /// (a commit that got no answer counts as failed instead).
    fn retry_request(&mut self, token: u32, cx: &mut Cx) {
        let Some((t, kind)) = self.mem.outstanding else {
            return;
        };
        if t != token {
            return;
        }
        self.mem.outstanding = None;
        if let Outstanding::Commit(then) = kind {
            cx.emit(Trace::CommitFailed {
                group: self.group,
                consumer: self.id,
                error: ErrorCode::RequestTimedOut,
            });
            self.after_commit(then, cx);
        } else {
            self.resend(kind, cx);
        }
    }

    fn resend(&mut self, kind: Outstanding, cx: &mut Cx) {
        match kind {
            Outstanding::Join => self.send_join(cx),
            Outstanding::Sync => {
                let generation = self.mem.generation;
                self.coordinator_request(
                    Outstanding::Sync,
                    |token| GroupRequest::Sync { generation, token },
                    cx,
                );
            }
            Outstanding::OffsetFetch => {
                // The Java consumer sets require_stable under read_committed (KIP-447).
                let require_stable =
                    self.config.spec.isolation_level == IsolationLevel::ReadCommitted;
                self.coordinator_request(
                    Outstanding::OffsetFetch,
                    |token| GroupRequest::OffsetFetch {
                        token,
                        require_stable,
                    },
                    cx,
                );
            }
            Outstanding::Commit(then) => self.commit_sync(then, cx),
        }
    }

    fn heartbeat(&mut self, token: u32, cx: &mut Cx) {
        if self.mem.heartbeat_token != token
            || !matches!(
                self.mem.state,
                ConsumerState::Syncing | ConsumerState::FetchingOffsets | ConsumerState::Active
            )
        {
            return;
        }
        let spec = &self.config.spec;
        let (interval, max_poll) = (spec.heartbeat_interval_ms, spec.max_poll_interval_ms);
        // KIP-62: the heartbeat thread leaves the group when poll() is not called within
        // max.poll.interval.ms (`AbstractCoordinator.maybeLeaveGroup`). Only a dynamic member
        // sends LeaveGroup; a static one (KIP-345) just stops heartbeating and stays a member
        // until its session expires. Both reset their generation, so a commit from the stale
        // batch fails and the next poll() rejoins. (Simplified: the stale commit is sent and the
        // coordinator rejects it; Kafka's client fails it locally.)
        if self.mem.processing && cx.now().0 > self.mem.last_poll.0 + max_poll * 1000 {
            if !self.config.spec.static_membership {
                self.send_leave(LeaveReason::PollTimeout, cx);
            }
            self.mem.rejoin_needed = true;
            self.mem.lost = true;
            self.mem.generation = 0;
            self.mem.heartbeat_token += 1;
            return;
        }
        if self.consumer_protocol() {
            self.send_consumer_heartbeat(cx);
            let interval = self.mem.heartbeat_interval_ms;
            set_timer_ms(cx, interval, ConsumerTimer::Heartbeat { token });
            return;
        }
        let generation = self.mem.generation;
        self.send_to_coordinator(GroupRequest::Heartbeat { generation }, cx);
        set_timer_ms(cx, interval, ConsumerTimer::Heartbeat { token });
    }

    fn start_heartbeats(&mut self, cx: &mut Cx) {
        self.mem.heartbeat_token += 1;
        let token = self.mem.heartbeat_token;
        let interval = if self.consumer_protocol() {
            self.mem.heartbeat_interval_ms
        } else {
            self.config.spec.heartbeat_interval_ms
        };
        set_timer_ms(cx, interval, ConsumerTimer::Heartbeat { token });
    }

    /// KIP-848: the coordinator's answer to a `ConsumerGroupHeartbeat`: the member epoch and
    /// the partitions to own now. The member revokes what is gone (committing first) and says
    /// so at once in another heartbeat, and fetches the offsets of what is new; it keeps
    /// consuming the rest (`ConsumerMembershipManager`, simplified: one reconciliation at a
    /// time, the next assignment waits for the current one to be applied).
    fn on_consumer_heartbeat(
        &mut self,
        member_epoch: u32,
        assignment: Box<[PartitionId]>,
        interval_ms: u64,
        token: u32,
        error: ErrorCode,
        cx: &mut Cx,
    ) {
        let joining = token != 0;
        if joining {
            if self.mem.outstanding.map(|o| o.0) != Some(token) {
                return;
            }
            self.mem.outstanding = None;
        }
        if self.mem.state == ConsumerState::Left || self.mem.state == ConsumerState::Crashed {
            return;
        }
        match error {
            ErrorCode::None => {}
            ErrorCode::FencedMemberEpoch | ErrorCode::UnknownMemberId if !joining => {
                // Fenced: the member gives its partitions up as lost (no commit) and rejoins
                // with epoch 0 (`AbstractMembershipManager.transitionToFenced`).
                self.mem.heartbeat_token += 1;
                self.mem.rejoin_needed = true;
                self.mem.lost = true;
                if !self.mem.processing && self.mem.outstanding.is_none() {
                    self.poll(cx);
                }
                return;
            }
            _ if joining => {
                self.retry_later(Outstanding::Join, cx);
                return;
            }
            // NOT_COORDINATOR (looked up again above) and the like: the next heartbeat retries.
            _ => return,
        }
        self.mem.generation = member_epoch;
        self.mem.heartbeat_interval_ms = interval_ms;
        if joining {
            self.mem.state = ConsumerState::Active;
            self.mem.last_poll = cx.now();
            self.mem.next_auto_commit = cx.now().plus_ms(self.config.spec.auto_commit_interval_ms);
            self.start_heartbeats(cx);
        }
        let pending = self.mem.assigned.as_deref();
        let owned: Vec<PartitionId> = self.mem.parts.iter().map(|cp| cp.partition).collect();
        let same = |a: &[PartitionId]| {
            a.len() == assignment.len() && a.iter().all(|p| assignment.contains(p))
        };
        if pending.is_some_and(same) || (pending.is_none() && same(&owned)) {
            return;
        }
        self.mem.assigned = Some(assignment);
        if !self.mem.processing && self.mem.outstanding.is_none() {
            self.poll(cx);
        }
    }

    fn on_group_response(&mut self, resp: GroupResponse, cx: &mut Cx) {
        match response_error(&resp) {
            // The coordinator answered: the lookups' backoff starts afresh.
            ErrorCode::None => self.mem.lookup_attempts = 0,
            // Gone (a reset connection) or moved: look it up again.
            ErrorCode::NotCoordinator => self.find_coordinator(cx),
            _ => {}
        }
        let outstanding = self.mem.outstanding.map(|o| o.0);
        match resp {
            GroupResponse::ConsumerHeartbeat {
                member_epoch,
                assignment,
                heartbeat_interval_ms,
                token,
                error,
            } => self.on_consumer_heartbeat(
                member_epoch,
                assignment,
                heartbeat_interval_ms,
                token,
                error,
                cx,
            ),
            GroupResponse::Heartbeat { error } => {
                if matches!(
                    error,
                    ErrorCode::RebalanceInProgress
                        | ErrorCode::IllegalGeneration
                        | ErrorCode::UnknownMemberId
                ) && self.mem.state == ConsumerState::Active
                {
                    self.mem.rejoin_needed = true;
                    self.mem.lost |= error != ErrorCode::RebalanceInProgress;
                    if !self.mem.processing && self.mem.outstanding.is_none() {
                        self.poll(cx);
                    }
                }
            }
            GroupResponse::Join {
                generation,
                token,
                error,
            } => {
                if outstanding != Some(token) {
                    return;
                }
                self.mem.outstanding = None;
                if error != ErrorCode::None {
                    self.retry_later(Outstanding::Join, cx);
                    return;
                }
                self.mem.generation = generation;
                self.mem.state = ConsumerState::Syncing;
                self.start_heartbeats(cx);
                self.resend(Outstanding::Sync, cx);
            }
            GroupResponse::Sync {
                generation,
                assignment,
                token,
                error,
            } => {
                if outstanding != Some(token) {
                    return;
                }
                self.mem.outstanding = None;
                match error {
                    ErrorCode::None => {}
                    ErrorCode::NotCoordinator => {
                        self.retry_later(Outstanding::Sync, cx);
                        return;
                    }
                    _ if self.cooperative() && !self.mem.parts.is_empty() => {
                        // KIP-429: rejoin at the next poll(), keeping the partitions unless
                        // the generation was lost.
                        self.mem.rejoin_needed = true;
                        self.mem.lost |= error != ErrorCode::RebalanceInProgress;
                        self.mem.state = ConsumerState::Active;
                        self.poll(cx);
                        return;
                    }
                    _ => {
                        self.send_join(cx);
                        return;
                    }
                }
                self.mem.generation = generation;
                if self.cooperative() {
                    // KIP-429 (`ConsumerCoordinator.onJoinComplete`): the member compares the
                    // assignment with what it owns at its next poll().
                    self.mem.state = ConsumerState::Active;
                    self.mem.assigned = Some(assignment);
                    self.poll(cx);
                    return;
                }
                self.mem.parts = assignment
                    .iter()
                    .map(|&p| ConsumerPartition::new(p))
                    .collect();
                self.parts_changed();
                self.mem.state = ConsumerState::FetchingOffsets;
                self.resend(Outstanding::OffsetFetch, cx);
            }
            GroupResponse::OffsetFetch {
                offsets,
                token,
                error,
            } => {
                if outstanding != Some(token) {
                    return;
                }
                self.mem.outstanding = None;
                if error != ErrorCode::None || offsets.is_empty() {
                    // NOT_COORDINATOR, or UNSTABLE_OFFSET_COMMIT (KIP-447): retry after
                    // retry.backoff.ms.
                    self.retry_later(Outstanding::OffsetFetch, cx);
                    return;
                }
                self.resume_from(&offsets, cx);
            }
            GroupResponse::Commit { token, error } => {
                let Some((t, kind)) = self.mem.outstanding else {
                    return;
                };
                if t != token {
                    return;
                }
                self.mem.outstanding = None;
                let then = match kind {
                    Outstanding::Commit(then) => then,
                    Outstanding::Join | Outstanding::Sync | Outstanding::OffsetFetch => {
                        AfterCommit::Poll
                    }
                };
                if matches!(
                    error,
                    ErrorCode::NotCoordinator
                        | ErrorCode::NetworkException
                        | ErrorCode::StaleMemberEpoch
                ) {
                    // STALE_MEMBER_EPOCH (KIP-848): the epoch moved on; the retry carries the
                    // member's latest epoch (`CommitRequestManager`).
                    // commitSync retries while the coordinator moves.
                    self.retry_later(Outstanding::Commit(then), cx);
                    return;
                }
                if error != ErrorCode::None {
                    cx.emit(Trace::CommitFailed {
                        group: self.group,
                        consumer: self.id,
                        error: ErrorCode::CommitFailed,
                    });
                    self.mem.rejoin_needed = true;
                    self.mem.lost = true;
                }
                self.after_commit(then, cx);
            }
        }
    }

    /// The committed offsets arrived: every assigned partition starts there, or where
    /// `auto.offset.reset` says; the consumer becomes active.
    fn resume_from(&mut self, offsets: &[(PartitionId, Option<u64>)], cx: &mut Cx) {
        let reset = self.config.spec.auto_offset_reset;
        let now = cx.now();
        let interval = self.config.spec.auto_commit_interval_ms;
        let mut resets = Vec::new();
        // Only newly assigned partitions start over; a cooperative member's others go on.
        for cp in self.mem.parts.iter_mut().filter(|cp| cp.fresh) {
            cp.fresh = false;
            let committed = offsets
                .iter()
                .find(|o| o.0 == cp.partition)
                .and_then(|o| o.1);
            match (committed, reset) {
                (Some(o), _) => {
                    cp.position = Some(o);
                    cp.fetch_pos = o;
                }
                (None, OffsetReset::Earliest) => {
                    cp.position = Some(0);
                    cp.fetch_pos = 0;
                    resets.push(cp.partition);
                }
                // ListOffsets asks the leader for the end of the log at the next fetch.
                (None, OffsetReset::Latest) => cp.position = None,
            }
        }
        self.mem.state = ConsumerState::Active;
        self.mem.last_poll = now;
        self.mem.next_auto_commit = now.plus_ms(interval);
        for partition in resets {
            cx.emit(Trace::OffsetReset {
                group: self.group,
                consumer: self.id,
                partition,
                offset: 0,
            });
        }
        self.poll(cx);
    }

    fn after_commit(&mut self, then: AfterCommit, cx: &mut Cx) {
        match then {
            AfterCommit::Process => self.start_processing(cx),
            AfterCommit::Poll => self.poll(cx),
            AfterCommit::Rejoin => self.revoke_and_rejoin(cx),
            AfterCommit::Leave => self.finish_leave(cx),
            AfterCommit::Assign => self.take_assignment(cx),
        }
    }

    /// Current positions of all assigned partitions that have one: the offsets to commit.
    /// Sized for every assigned partition up front (a commit after each batch collected through
    /// a growing vector reallocated four or five times).
    fn positions(&self) -> Box<[(PartitionId, u64)]> {
        let mut offsets = Vec::with_capacity(self.mem.parts.len());
        offsets.extend(
            self.mem
                .parts
                .iter()
                .filter_map(|p| p.position.map(|o| (p.partition, o))),
        );
        offsets.into_boxed_slice()
    }

    fn commit_sync(&mut self, then: AfterCommit, cx: &mut Cx) {
        if self.consuming_while_rejoining() {
            // KIP-429: while its JoinGroup/SyncGroup is in flight the client has no stable
            // generation, and `commitSync` fails at once with RebalanceInProgressException
            // (`ConsumerCoordinator.sendOffsetCommitRequest`, `generationIfStable`); the
            // application goes on polling and a later commit covers these positions.
            cx.emit(Trace::CommitFailed {
                group: self.group,
                consumer: self.id,
                error: ErrorCode::RebalanceInProgress,
            });
            self.after_commit(then, cx);
            return;
        }
        let offsets = self.positions();
        let generation = self.mem.generation;
        self.coordinator_request(
            Outstanding::Commit(then),
            |token| GroupRequest::Commit {
                generation,
                offsets,
                token,
            },
            cx,
        );
    }

    fn commit_async(&mut self, cx: &mut Cx) {
        if self.consuming_while_rejoining() {
            // As for commitSync: no stable generation, the auto-commit fails locally.
            return;
        }
        let offsets = self.positions();
        let generation = self.mem.generation;
        let token = self.token();
        self.send_to_coordinator(
            GroupRequest::Commit {
                generation,
                offsets,
                token,
            },
            cx,
        );
    }

    fn revoke_and_rejoin(&mut self, cx: &mut Cx) {
        self.mem.rejoin_needed = false;
        if self.cooperative() && !self.mem.lost {
            // KIP-429 (`ConsumerCoordinator.onJoinPrepare`): a cooperative member revokes
            // nothing before it rejoins and goes on consuming while the rebalance runs.
            self.send_join(cx);
            self.poll(cx);
            return;
        }
        self.mem.lost = false;
        self.mem.parts.clear();
        self.parts_changed();
        self.mem.batch.clear();
        self.mem.batch_pos = 0;
        self.send_join(cx);
    }

    /// KIP-429 (`ConsumerCoordinator.onJoinComplete`): a cooperative member's new assignment.
    /// It revokes only the partitions the assignment no longer holds, committing their
    /// offsets first (the usual `onPartitionsRevoked`), and rejoins at once so that the next
    /// rebalance can give them to their new owners; it keeps consuming the others.
    fn on_assignment(&mut self, assignment: Box<[PartitionId]>, cx: &mut Cx) {
        let revoked: Box<[PartitionId]> = self
            .mem
            .parts
            .iter()
            .map(|cp| cp.partition)
            .filter(|p| !assignment.contains(p))
            .collect();
        // The coordinator withheld what the JoinGroup claimed and the assignment moves, and
        // waits for this member to rejoin without it.
        if self.mem.claimed.iter().any(|p| !assignment.contains(p)) {
            self.mem.rejoin_needed = true;
        }
        self.mem.claimed.retain(|p| assignment.contains(p));
        self.mem.assigned = Some(assignment);
        if revoked.is_empty() {
            self.take_assignment(cx);
            return;
        }
        cx.emit(Trace::PartitionsRevoked {
            group: self.group,
            consumer: self.id,
            partitions: revoked,
        });
        if self.config.spec.commit == CommitMode::Transactional {
            // Their offsets went with the last committed transaction.
            self.take_assignment(cx);
        } else {
            self.commit_sync(AfterCommit::Assign, cx);
        }
    }

    /// Take the pending assignment: drop the revoked partitions, add the new ones (which need
    /// their committed offsets), keep the rest as they are.
    fn take_assignment(&mut self, cx: &mut Cx) {
        let Some(assignment) = self.mem.assigned.take() else {
            return;
        };
        let mut old = std::mem::take(&mut self.mem.parts);
        self.mem.parts = assignment
            .iter()
            .map(|&p| match old.iter().position(|cp| cp.partition == p) {
                Some(k) => old.swap_remove(k),
                None => ConsumerPartition::new(p),
            })
            .collect();
        self.parts_changed();
        if self.consumer_protocol() && !old.is_empty() {
            // KIP-848: the revoked partitions are gone; tell the coordinator at once, so it
            // can move this member to its new epoch and hand them to their new owners.
            self.send_consumer_heartbeat(cx);
        }
        if self.mem.parts.iter().any(|cp| cp.fresh) {
            self.mem.state = ConsumerState::FetchingOffsets;
            self.resend(Outstanding::OffsetFetch, cx);
        } else {
            self.mem.state = ConsumerState::Active;
            self.poll(cx);
        }
    }

    // ----- poll, process, commit ------------------------------------------------------------

    /// `poll()`: join if needed, auto-commit, hand the application the next batch.
    fn poll(&mut self, cx: &mut Cx) {
        let rejoining = self.consuming_while_rejoining();
        let mem = &self.mem;
        if !mem.processing
            && !mem.committing_txn
            && mem.outstanding.is_none()
            && let Some(assignment) = self.mem.assigned.take()
        {
            self.on_assignment(assignment, cx);
            return;
        }
        let mem = &self.mem;
        if (mem.state != ConsumerState::Active && !rejoining)
            || mem.processing
            || (mem.outstanding.is_some() && !rejoining)
            || mem.committing_txn
            || !mem.producer_ready
        {
            return;
        }
        let spec = &self.config.spec;
        let (mode, max_records, interval) = (
            spec.commit,
            spec.max_poll_records as usize,
            spec.auto_commit_interval_ms,
        );
        if mem.rejoin_needed && !rejoining {
            // Eager protocol: give up every partition before rejoining; with auto-commit the
            // consumer commits what it has consumed first (ConsumerCoordinator.onJoinPrepare).
            // A cooperative member commits the same way but keeps its partitions.
            // A fenced KIP-848 member's partitions are lost: nothing to commit with its epoch.
            if mode == CommitMode::Auto && !(self.consumer_protocol() && self.mem.lost) {
                self.commit_sync(AfterCommit::Rejoin, cx);
            } else {
                self.revoke_and_rejoin(cx);
            }
            return;
        }
        let now = cx.now();
        self.mem.last_poll = now;
        if mode == CommitMode::Auto && now >= self.mem.next_auto_commit {
            // Auto-commit commits the positions returned by the previous poll.
            self.mem.next_auto_commit = now.plus_ms(interval);
            self.commit_async(cx);
        }
        let mem = &mut self.mem;
        mem.batch.clear();
        mem.batch_pos = 0;
        let mut visit = std::mem::take(&mut mem.buffered_parts);
        parts_to_visit(
            &mut visit,
            mem.parts.len(),
            std::mem::take(&mut mem.poll_all),
        );
        for &i in &visit {
            let Some(cp) = mem.parts.get_mut(i as usize) else {
                continue;
            };
            let from = cp.position.unwrap_or(0);
            let mut count = 0u32;
            while mem.batch.len() < max_records {
                let Some((offset, msg)) = cp.buffered.pop_front() else {
                    break;
                };
                mem.batch.push((cp.partition, offset, msg));
                cp.position = Some(offset + 1);
                count += 1;
            }
            cp.skip_to_fetched();
            if count > 0 {
                cx.emit(Trace::Polled {
                    group: self.group,
                    consumer: self.id,
                    partition: cp.partition,
                    from,
                    count,
                });
            }
            if !cp.buffered.is_empty() {
                mem.buffered_parts.push(i);
            } else if count > 0 {
                mem.idle_parts.push(i);
            }
        }
        recycle(visit, &mut mem.buffered_parts);
        debug_assert!(
            mem.parts
                .iter()
                .enumerate()
                .all(|(i, cp)| cp.buffered.is_empty() || mem.buffered_parts.contains(&(i as u32))),
            "a part with buffered records is not in the poll list"
        );
        self.send_fetches(cx);
        if self.mem.batch.is_empty() {
            return;
        }
        if mode == CommitMode::BeforeProcess {
            // At-most-once: commit the batch's end before touching any record.
            self.commit_sync(AfterCommit::Process, cx);
        } else {
            self.start_processing(cx);
        }
    }

    fn start_processing(&mut self, cx: &mut Cx) {
        if self.mem.batch.is_empty() {
            self.poll(cx);
            return;
        }
        self.mem.processing = true;
        self.schedule_process(cx);
    }

    fn schedule_process(&mut self, cx: &mut Cx) {
        let ms = self.config.spec.processing_ms;
        if ms == 0 {
            while self.mem.processing && !self.mem.stuck {
                self.process_next(cx);
            }
            return;
        }
        self.mem.process_token = self.mem.process_token.wrapping_add(1);
        let token = self.mem.process_token;
        set_timer_ms(cx, ms, ConsumerTimer::Process { token });
    }

    /// Whether processing this record fails (`fail_keys` / `fail_every`).
    fn is_poison(&self, msg: MsgId, cx: &Cx) -> bool {
        let spec = &self.config.spec;
        let info = cx.msg_info(msg);
        let by_key = !spec.fail_keys.is_empty()
            && info
                .key
                .is_some_and(|k| spec.fail_keys.iter().any(|f| f == cx.key_name(k)));
        let by_count = spec
            .fail_every
            .is_some_and(|n| n > 0 && (info.n as u64).is_multiple_of(n));
        by_key || by_count
    }

    /// One record's processing finished: apply its effect to the group's sink, or fail.
    fn process_next(&mut self, cx: &mut Cx) {
        let (partition, offset, msg) = self.mem.batch[self.mem.batch_pos];
        let (group, consumer) = (self.group, self.id);
        if self.is_poison(msg, cx) {
            self.mem.attempts += 1;
            let attempt = self.mem.attempts;
            cx.emit(Trace::ProcessingFailed {
                group,
                consumer,
                msg,
                attempt,
            });
            if attempt < self.config.spec.max_attempts {
                // Try the same record again after another processing_ms.
                if self.config.spec.processing_ms > 0 {
                    self.schedule_process(cx);
                }
                return;
            }
            match self.dead_letter_producer {
                Some(producer) => {
                    cx.emit(Trace::DeadLettered {
                        group,
                        consumer,
                        msg,
                        attempts: attempt,
                    });
                    cx.local(Local::SendOutput { producer, msg });
                }
                None => {
                    // Nowhere to put it: the consumer keeps failing on this record and its
                    // partitions make no progress (until max.poll.interval.ms removes it).
                    self.mem.stuck = true;
                    cx.emit(Trace::ConsumerStuck {
                        group,
                        consumer,
                        msg,
                    });
                    return;
                }
            }
        }
        let poisoned = self.mem.attempts > 0;
        self.mem.attempts = 0;
        self.mem.batch_pos += 1;
        self.applied += 1;
        let done = self.mem.batch_pos == self.mem.batch.len();
        if poisoned {
            // Dead-lettered: the record's effect is not applied to the sink.
            self.after_record(done, cx);
            return;
        }
        let seen = self.config.spec.dedup && cx.sink_apply(group, msg);
        if seen {
            cx.emit(Trace::Redelivered {
                group,
                consumer,
                msg,
                partition,
                offset,
            });
        } else {
            cx.emit(Trace::Applied {
                group,
                consumer,
                msg,
                partition,
                offset,
            });
        }
        if let Some(producer) = self.producer {
            // Read-process-write: the output record carries the input's message id.
            cx.local(Local::SendOutput { producer, msg });
        }
        self.after_record(done, cx);
    }

    /// A record was handled: finish the batch or go on with the next record.
    fn after_record(&mut self, done: bool, cx: &mut Cx) {
        if !done {
            if self.config.spec.processing_ms > 0 {
                self.schedule_process(cx);
            }
            return;
        }
        self.mem.processing = false;
        self.mem.batch.clear();
        self.mem.batch_pos = 0;
        match (self.config.spec.commit, self.producer) {
            (CommitMode::AfterProcess, Some(producer)) => {
                // At-least-once read-process-write: flush() the outputs, then commit.
                self.mem.committing_txn = true;
                cx.local(Local::FlushOutputs {
                    producer,
                    consumer: self.id,
                });
            }
            (CommitMode::AfterProcess, None) => self.commit_sync(AfterCommit::Poll, cx),
            (CommitMode::Transactional, producer) => {
                // sendOffsetsToTransaction + commitTransaction: the outputs and the input
                // offsets commit together or not at all.
                let producer = producer.expect("a transactional group has an output producer");
                let offsets = self.positions();
                self.mem.committing_txn = true;
                // `consumer.groupMetadata()`: KIP-447's fencing of a zombie's offsets.
                let member = GroupMetadata {
                    incarnation: cx.incarnation(),
                    generation: self.mem.generation,
                };
                cx.local(Local::CommitWithOffsets {
                    producer,
                    group: self.group,
                    consumer: self.id,
                    member,
                    offsets,
                });
            }
            (CommitMode::Auto | CommitMode::BeforeProcess, _) => self.poll(cx),
        }
    }

    // ----- fetching -----------------------------------------------------------------------

    /// The index of `p` in the topic's partitions.
    fn local(&self, p: PartitionId) -> Option<usize> {
        self.config.partition_index.get(p)
    }

    /// `parts` was replaced, reordered or emptied, or every part's fetch ended: index it again,
    /// and have the next poll() and send_fetches() look at every part.
    fn parts_changed(&mut self) {
        let mem = &mut self.mem;
        mem.poll_all = true;
        mem.fetch_all = true;
        mem.part_of.clear();
        mem.part_of.resize(self.config.partitions.len(), NO_PART);
        for (i, cp) in mem.parts.iter().enumerate() {
            if let Some(local) = self.config.partition_index.get(cp.partition) {
                mem.part_of[local] = i as u32;
            }
        }
    }

    /// Where `p` is in `parts`, if assigned.
    fn part_index(&self, p: PartitionId) -> Option<usize> {
        let indexed = self
            .local(p)
            .and_then(|local| self.mem.part_of.get(local))
            .map(|&i| i as usize)
            .filter(|&i| self.mem.parts.get(i).is_some_and(|cp| cp.partition == p));
        debug_assert_eq!(
            indexed,
            self.mem.parts.iter().position(|cp| cp.partition == p),
            "the part index is stale"
        );
        indexed
    }

    /// Forget `p`'s leader, so the next fetch waits for fresh metadata.
    fn forget_leader(&mut self, p: PartitionId) {
        if let Some(i) = self.local(p) {
            self.mem.leaders[i] = None;
        }
    }

    /// Send a fetch for every assigned partition that has none in flight and nothing buffered
    /// (a ListOffsets where there is no position yet).
    fn send_fetches(&mut self, cx: &mut Cx) {
        if self.mem.state != ConsumerState::Active && !self.consuming_while_rejoining() {
            return;
        }
        let spec = &self.config.spec;
        let (max_records, timeout) = (spec.max_poll_records, spec.request_timeout_ms);
        let max_wait_ms = spec.fetch_max_wait_ms as u32;
        let read_committed = spec.isolation_level == IsolationLevel::ReadCommitted;
        let mut visit = std::mem::take(&mut self.mem.idle_parts);
        let all = std::mem::take(&mut self.mem.fetch_all);
        parts_to_visit(&mut visit, self.mem.parts.len(), all);
        for &i in &visit {
            let i = i as usize;
            let Some(cp) = self.mem.parts.get(i) else {
                continue;
            };
            if cp.fetching.is_some() || !cp.buffered.is_empty() {
                // Busy: it comes back to the list when its fetch ends or its records are polled.
                continue;
            }
            if cx.now() < cp.retry_at {
                self.mem.idle_parts.push(i as u32);
                continue;
            }
            let p = cp.partition;
            let local = self
                .local(p)
                .expect("assigned partition of the group's topic");
            let Some(leader) = self.mem.leaders[local] else {
                self.mem.idle_parts.push(i as u32);
                self.refresh_metadata(p, cx);
                continue;
            };
            let (position, fetch_pos) = (cp.position, cp.fetch_pos);
            let token = self.token();
            let cp = &mut self.mem.parts[i];
            cp.fetching = Some(token);
            cp.fetching_from = Some(leader);
            let msg = match position {
                None => Msg::ListOffsets {
                    partition: p,
                    token,
                    read_committed,
                },
                Some(_) => Msg::ConsumerFetch {
                    partition: p,
                    offset: fetch_pos,
                    token,
                    max_records,
                    max_wait_ms,
                    read_committed,
                },
            };
            cx.send(broker_node(leader), msg);
            self.mem.parts[i].fetch_deadline = cx.now().plus_ms(timeout);
            if !self.mem.fetch_timer_armed {
                self.mem.fetch_timer_armed = true;
                set_timer_ms(cx, timeout, ConsumerTimer::FetchTimeoutScan);
            }
        }
        recycle(visit, &mut self.mem.idle_parts);
        debug_assert!(
            self.mem
                .parts
                .iter()
                .enumerate()
                .all(|(i, cp)| cp.fetching.is_some()
                    || !cp.buffered.is_empty()
                    || self.mem.idle_parts.contains(&(i as u32))),
            "an idle part is not in the fetch list"
        );
    }

    fn on_fetch_response(
        &mut self,
        partition: PartitionId,
        token: u32,
        result: ConsumerFetchResult,
        cx: &mut Cx,
    ) {
        let Some(i) = self
            .part_index(partition)
            .filter(|&i| self.mem.parts[i].fetching == Some(token))
        else {
            if let ConsumerFetchResult::Records { payload, .. } = result {
                cx.free_payload(payload);
            }
            return;
        };
        self.mem.parts[i].fetching = None;
        self.mem.idle_parts.push(i as u32);
        match result {
            ConsumerFetchResult::Records {
                base_offset,
                payload,
                hw,
                aborted,
            } => {
                let cp = &mut self.mem.parts[i];
                cp.hw = hw;
                let mut got = false;
                if base_offset == cp.fetch_pos {
                    let records = cx.payload(payload);
                    for (k, e) in records.iter().enumerate() {
                        let offset = base_offset + k as u64;
                        // read_committed: skip records of aborted transactions; markers never
                        // reach the application.
                        let was_aborted = e.transactional
                            && aborted.iter().any(|&(pid, first, last)| {
                                pid == e.producer && offset >= first && offset < last
                            });
                        if e.kind == EntryKind::Data && !was_aborted {
                            cp.buffered.push_back((offset, e.msg));
                            got = true;
                        }
                    }
                    cp.fetch_pos = base_offset + records.len() as u64;
                    cp.skip_to_fetched();
                }
                if got {
                    self.mem.buffered_parts.push(i as u32);
                }
                cx.free_payload(payload);
                if !got {
                    // Long poll came back empty: fetch again.
                    self.send_fetches(cx);
                } else if !self.mem.processing {
                    self.poll(cx);
                }
            }
            ConsumerFetchResult::OutOfRange { leo } => {
                // The position is past the leader's log end: the log was truncated under us
                // (an unclean election). KIP-320: detect the truncation and resume at the
                // leader's end instead of applying auto.offset.reset.
                let cp = &mut self.mem.parts[i];
                cp.position = Some(leo);
                cp.fetch_pos = leo;
                cp.buffered.clear();
                cx.emit(Trace::OffsetReset {
                    group: self.group,
                    consumer: self.id,
                    partition,
                    offset: leo,
                });
                self.send_fetches(cx);
            }
            ConsumerFetchResult::Err(_) => {
                self.mem.parts[i].retry_at = cx.now().plus_ms(CONSUMER_RETRY_BACKOFF_MS);
                self.forget_leader(partition);
                self.refresh_metadata(partition, cx);
                set_timer_ms(cx, CONSUMER_RETRY_BACKOFF_MS, ConsumerTimer::RetryFetches);
            }
        }
    }

    fn on_list_offsets_response(
        &mut self,
        partition: PartitionId,
        token: u32,
        offset: Option<u64>,
        cx: &mut Cx,
    ) {
        let Some(i) = self.part_index(partition) else {
            return;
        };
        if self.mem.parts[i].fetching != Some(token) {
            return;
        }
        self.mem.idle_parts.push(i as u32);
        let cp = &mut self.mem.parts[i];
        cp.fetching = None;
        match offset {
            Some(o) => {
                cp.position = Some(o);
                cp.fetch_pos = o;
                cp.attempts = 0;
                cx.emit(Trace::OffsetReset {
                    group: self.group,
                    consumer: self.id,
                    partition,
                    offset: o,
                });
            }
            None => {
                // NOT_LEADER_OR_FOLLOWER or no answer: refresh metadata and retry after the
                // KIP-580 backoff (Kafka's OffsetFetcher `requestFailed`).
                cp.attempts += 1;
                let backoff = retry_backoff_us(cp.attempts);
                cp.retry_at = cx.now().plus_us(backoff);
                self.forget_leader(partition);
                self.refresh_metadata(partition, cx);
                set_timer_us(cx, backoff, ConsumerTimer::RetryFetches);
            }
        }
        self.send_fetches(cx);
    }

    // ----- metadata -----------------------------------------------------------------------

    /// Ask the controller for `p`'s leader: one request in flight per partition; after a
    /// failure none before the backoff (a timer set with the backoff asks again).
    fn refresh_metadata(&mut self, p: PartitionId, cx: &mut Cx) {
        let Some(i) = self.local(p) else {
            return;
        };
        if self.mem.metadata_pending[i] || cx.now() < self.mem.metadata_retry_at[i] {
            return;
        }
        self.mem.metadata_pending[i] = true;
        let token = self.token();
        self.mem.metadata_token[i] = token;
        let controller = cx.controller_node();
        cx.send(
            controller,
            Msg::MetadataRequest {
                partition: p,
                token,
            },
        );
        // A request that gets no answer fails after request.timeout.ms and is retried.
        set_timer_ms(
            cx,
            self.config.spec.request_timeout_ms,
            ConsumerTimer::MetadataTimeout {
                part: i as u32,
                token,
            },
        );
    }

    /// A metadata refresh for the topic's `i`-th partition failed (no leader, or no answer):
    /// ask again after the KIP-580 backoff.
    fn metadata_failed(&mut self, i: usize, cx: &mut Cx) {
        let mem = &mut self.mem;
        mem.metadata_pending[i] = false;
        mem.metadata_attempts[i] += 1;
        let backoff = retry_backoff_us(mem.metadata_attempts[i]);
        mem.metadata_retry_at[i] = cx.now().plus_us(backoff);
        set_timer_us(cx, backoff, ConsumerTimer::RetryFetches);
    }

    /// The coordinator failed or did not answer: look it up again (one lookup in flight), so
    /// the next request goes wherever the group lives now. Kafka's client sends
    /// FindCoordinator; here the lookup is a Metadata request for the topic's first partition
    /// whose answer lists the unfenced brokers (see [`coordinator_among`]).
    fn find_coordinator(&mut self, cx: &mut Cx) {
        if self.mem.coordinator_lookup.is_some() || cx.now() < self.mem.lookup_retry_at {
            return;
        }
        let token = self.token();
        self.mem.coordinator_lookup = Some(token);
        let partition = self.config.partitions[0];
        let controller = cx.controller_node();
        cx.send(controller, Msg::MetadataRequest { partition, token });
        set_timer_ms(
            cx,
            self.config.spec.request_timeout_ms,
            ConsumerTimer::CoordinatorLookupTimeout { token },
        );
    }

    /// A lookup found no other coordinator: the next one waits for the KIP-580 backoff.
    fn lookup_found_nothing(&mut self, cx: &mut Cx) {
        self.mem.lookup_attempts += 1;
        let backoff = retry_backoff_us(self.mem.lookup_attempts);
        self.mem.lookup_retry_at = cx.now().plus_us(backoff);
    }

    fn on_metadata_response(
        &mut self,
        partition: PartitionId,
        leader: Option<BrokerId>,
        token: u32,
        unfenced: BrokerSet,
        cx: &mut Cx,
    ) {
        if self.mem.coordinator_lookup == Some(token) {
            self.mem.coordinator_lookup = None;
            let found = coordinator_among(&self.config.group_name, self.config.brokers, unfenced);
            if found.is_none() || found == self.mem.coordinator {
                // Nothing new (with every broker fenced there is none to go to).
                self.lookup_found_nothing(cx);
            } else {
                self.mem.coordinator = found;
                self.mem.lookup_attempts = 0;
            }
            return;
        }
        if let Some(i) = self.local(partition) {
            if !self.mem.metadata_pending[i] || self.mem.metadata_token[i] != token {
                // A late answer to a request that already timed out.
                return;
            }
            self.mem.metadata_pending[i] = false;
            self.mem.leaders[i] = leader;
            if leader.is_none() {
                self.metadata_failed(i, cx);
                return;
            }
            self.mem.metadata_attempts[i] = 0;
        }
        self.send_fetches(cx);
    }
}

fn response_error(resp: &GroupResponse) -> ErrorCode {
    match resp {
        GroupResponse::Join { error, .. }
        | GroupResponse::Sync { error, .. }
        | GroupResponse::Heartbeat { error }
        | GroupResponse::Commit { error, .. }
        | GroupResponse::OffsetFetch { error, .. }
        | GroupResponse::ConsumerHeartbeat { error, .. } => *error,
    }
}

/// Where a group's coordinator lives, given the unfenced brokers: the first of them from a hash
/// of the group name (standing in for the leader of the group's `__consumer_offsets`
/// partition). A simplification of FindCoordinator: the answer is computed from the broker list
/// a Metadata response carries, as the broker side computes it.
fn coordinator_among(group: &str, brokers: u32, unfenced: BrokerSet) -> Option<BrokerId> {
    let start = partition_for_key(group, brokers);
    (0..brokers)
        .map(|i| BrokerId((start + i) % brokers))
        .find(|&b| unfenced.contains(b))
}

#[cfg(test)]
mod tests {
    //! The consumer alone, driven with hand-made responses: brokers are nodes 0-2, the
    //! controller node 3, the consumer node 4 (a second consumer, node 5, shares its sink).
    //! The topic has two partitions: orders/0 led by broker 1, orders/1 by broker 2.

    use super::*;
    use crate::sim::config::Assignor;
    use crate::sim::cx::testkit::{self, advance_to, take_sent, take_trace};
    use crate::sim::replica::{Entry, NO_PRODUCER};
    use crate::sim::{Event, Kernel, MsgInfo, NodeKind};

    const ME: NodeId = NodeId(4);
    const CONTROLLER: NodeId = NodeId(3);
    const P0: PartitionId = PartitionId(0);
    const P1: PartitionId = PartitionId(1);

    fn spec() -> GroupConfig {
        GroupConfig::for_tests()
    }

    fn kernel() -> Kernel {
        testkit::kernel(&[
            NodeKind::Broker(BrokerId(0)),
            NodeKind::Broker(BrokerId(1)),
            NodeKind::Broker(BrokerId(2)),
            NodeKind::Controller,
            NodeKind::Consumer(ConsumerId(0)),
            NodeKind::Consumer(ConsumerId(1)),
        ])
    }

    fn consumer(spec: &GroupConfig) -> Consumer {
        Consumer::new(
            ConsumerId(0),
            "billing/consumer-1".to_string(),
            ME,
            GroupId(0),
            spec,
            vec![P0, P1],
            3,
        )
    }

    fn all_brokers() -> BrokerSet {
        (0..3).map(BrokerId).collect()
    }

    fn bootstrap(unfenced: BrokerSet) -> BootstrapMetadata {
        BootstrapMetadata {
            leaders: vec![Some(BrokerId(1)), Some(BrokerId(2))],
            unfenced,
        }
    }

    fn start(k: &mut Kernel, c: &mut Consumer) {
        c.on_start(bootstrap(all_brokers()), &mut Cx::new(k, c.node));
    }

    fn deliver(k: &mut Kernel, c: &mut Consumer, from: NodeId, msg: Msg) {
        c.on_message(from, msg, &mut Cx::new(k, c.node));
    }

    /// A group response from the coordinator the consumer knows.
    fn respond(k: &mut Kernel, c: &mut Consumer, resp: GroupResponse) {
        let from = broker_node(c.mem.coordinator.expect("a coordinator"));
        deliver(k, c, from, Msg::GroupResponse { resp });
    }

    /// What `pick` finds among the messages sent since the last look (all are taken).
    fn sent<T>(k: &mut Kernel, pick: impl Fn(NodeId, Msg) -> Option<T>) -> Vec<T> {
        take_sent(k)
            .into_iter()
            .filter_map(|(_, to, msg)| pick(to, msg))
            .collect()
    }

    /// The group requests sent since the last look: (to, request).
    fn group_requests(k: &mut Kernel) -> Vec<(NodeId, GroupRequest)> {
        sent(k, |to, msg| match msg {
            Msg::Group { req, .. } => Some((to, req)),
            _ => None,
        })
    }

    /// The Metadata requests sent since the last look: (to, partition, token).
    fn metadata_requests(k: &mut Kernel) -> Vec<(NodeId, PartitionId, u32)> {
        sent(k, |to, msg| match msg {
            Msg::MetadataRequest { partition, token } => Some((to, partition, token)),
            _ => None,
        })
    }

    fn token_of(req: &GroupRequest) -> u32 {
        match req {
            GroupRequest::Join { token, .. }
            | GroupRequest::Sync { token, .. }
            | GroupRequest::Commit { token, .. }
            | GroupRequest::OffsetFetch { token, .. }
            | GroupRequest::ConsumerHeartbeat { token, .. } => *token,
            GroupRequest::Heartbeat { .. } | GroupRequest::Leave { .. } => {
                panic!("no token: {req:?}")
            }
        }
    }

    /// The one group request sent since the last look.
    fn one_request(k: &mut Kernel) -> (NodeId, GroupRequest) {
        let mut sent = group_requests(k);
        assert_eq!(sent.len(), 1, "{sent:?}");
        sent.pop().unwrap()
    }

    /// Start, join, sync with `assignment` and fetch `committed`: the consumer is active.
    fn activate(
        k: &mut Kernel,
        c: &mut Consumer,
        assignment: &[PartitionId],
        committed: &[(PartitionId, Option<u64>)],
    ) {
        start(k, c);
        let token = token_of(&one_request(k).1);
        let error = ErrorCode::None;
        respond(
            k,
            c,
            GroupResponse::Join {
                generation: 1,
                token,
                error,
            },
        );
        let token = token_of(&one_request(k).1);
        let assignment = assignment.into();
        respond(
            k,
            c,
            GroupResponse::Sync {
                generation: 1,
                assignment,
                token,
                error,
            },
        );
        let token = token_of(&one_request(k).1);
        let offsets = committed.into();
        respond(
            k,
            c,
            GroupResponse::OffsetFetch {
                offsets,
                token,
                error,
            },
        );
        assert_eq!(c.state(), ConsumerState::Active);
    }

    /// Fetches sent since the last look: (to, partition, offset, token).
    fn fetches(k: &mut Kernel) -> Vec<(NodeId, PartitionId, u64, u32)> {
        sent(k, |to, msg| match msg {
            Msg::ConsumerFetch {
                partition,
                offset,
                token,
                ..
            } => Some((to, partition, offset, token)),
            _ => None,
        })
    }

    /// Messages `1..=n` of one application, with `key` (interned as key 0) if any.
    fn messages(k: &mut Kernel, n: u32, key: Option<&str>) -> Vec<MsgId> {
        if let Some(key) = key {
            std::rc::Rc::make_mut(&mut k.keys).push(key.to_string());
        }
        (1..=n)
            .map(|n| {
                let mut cx = Cx::new(k, CONTROLLER);
                cx.register_msg(MsgInfo {
                    producer: ProducerId(0),
                    n,
                    key: key.map(|_| 0),
                    partition: P0,
                })
            })
            .collect()
    }

    fn records(k: &mut Kernel, token: u32, base_offset: u64, msgs: &[MsgId]) -> Msg {
        let payload = k.alloc_payload();
        for &msg in msgs {
            k.payloads[payload as usize].push(Entry {
                epoch: 0,
                msg,
                producer: NO_PRODUCER,
                producer_epoch: 0,
                seq: -1,
                kind: EntryKind::Data,
                last_in_batch: true,
                transactional: false,
            });
        }
        Msg::ConsumerFetchResponse {
            partition: P0,
            token,
            result: ConsumerFetchResult::Records {
                base_offset,
                payload,
                hw: base_offset + msgs.len() as u64,
                aborted: Box::new([]),
            },
        }
    }

    /// Run the first pending consumer timer `want` accepts, at its time.
    fn fire(k: &mut Kernel, c: &mut Consumer, want: impl Fn(ConsumerTimer) -> bool) -> SimTime {
        let mut fired = None;
        for (at, event) in k.drain_queue() {
            match event {
                Event::Timer {
                    timer: Timer::Consumer(t),
                    ..
                } if fired.is_none() && want(t) => fired = Some((at, t)),
                other => k.schedule(at, other),
            }
        }
        let (at, timer) = fired.expect("the timer is set");
        advance_to(k, at);
        c.on_timer(timer, &mut Cx::new(k, c.node));
        at
    }

    /// Trace events since the last look, but for the network's.
    fn effects(k: &mut Kernel) -> Vec<Trace> {
        take_trace(k)
            .into_iter()
            .filter(|t| !matches!(t, Trace::Sent { .. } | Trace::Dropped { .. }))
            .collect()
    }

    fn polled(trace: &[Trace]) -> Vec<(u64, u32)> {
        trace
            .iter()
            .filter_map(|t| match t {
                Trace::Polled { from, count, .. } => Some((*from, *count)),
                _ => None,
            })
            .collect()
    }

    fn applied(trace: &[Trace]) -> usize {
        trace
            .iter()
            .filter(|t| matches!(t, Trace::Applied { .. }))
            .count()
    }

    #[test]
    fn on_start_joins_the_coordinator_its_metadata_names() {
        let mut k = kernel();
        let mut c = consumer(&spec());
        start(&mut k, &mut c);
        let home = coordinator_among("billing", 3, all_brokers()).unwrap();
        let (to, req) = one_request(&mut k);
        assert_eq!(to, broker_node(home));
        assert!(matches!(req, GroupRequest::Join { .. }));

        // With that broker fenced, the group lives on the next one.
        let mut unfenced = all_brokers();
        unfenced.remove(home);
        let mut c = consumer(&spec());
        c.on_start(bootstrap(unfenced), &mut Cx::new(&mut k, ME));
        let (to, _) = one_request(&mut k);
        assert_eq!(to, broker_node(BrokerId((home.0 + 1) % 3)));
    }

    #[test]
    fn after_sync_it_fetches_each_assigned_partition_from_its_leader() {
        let mut k = kernel();
        let mut c = consumer(&spec());
        activate(&mut k, &mut c, &[P0, P1], &[(P0, Some(7)), (P1, Some(3))]);
        let mut sent: Vec<_> = fetches(&mut k).iter().map(|f| (f.0, f.1, f.2)).collect();
        sent.sort();
        assert_eq!(sent, [(NodeId(1), P0, 7), (NodeId(2), P1, 3)]);
    }

    #[test]
    fn without_a_committed_offset_latest_asks_the_leader_for_the_log_end() {
        let mut k = kernel();
        let mut c = consumer(&spec());
        activate(&mut k, &mut c, &[P0], &[(P0, None)]);
        let list = sent(&mut k, |to, msg| match msg {
            Msg::ListOffsets {
                partition: P0,
                token,
                ..
            } => Some((to, token)),
            _ => None,
        });
        let [(to, token)] = list[..] else {
            panic!("one ListOffsets: {list:?}")
        };
        assert_eq!(to, NodeId(1));
        take_trace(&mut k);
        let answer = Msg::ListOffsetsResponse {
            partition: P0,
            token,
            offset: Some(42),
        };
        deliver(&mut k, &mut c, to, answer);
        assert!(
            take_trace(&mut k)
                .iter()
                .any(|t| matches!(t, Trace::OffsetReset { offset: 42, .. }))
        );
        let sent: Vec<_> = fetches(&mut k).iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(sent, [(NodeId(1), 42)]);
    }

    #[test]
    fn earliest_starts_at_offset_zero_without_asking() {
        let mut k = kernel();
        let mut s = spec();
        s.auto_offset_reset = OffsetReset::Earliest;
        let mut c = consumer(&s);
        activate(&mut k, &mut c, &[P0], &[(P0, None)]);
        let sent: Vec<_> = fetches(&mut k).iter().map(|f| (f.1, f.2)).collect();
        assert_eq!(sent, [(P0, 0)]);
    }

    #[test]
    fn records_are_polled_max_poll_records_at_a_time() {
        let mut k = kernel();
        let mut s = spec();
        s.max_poll_records = 2;
        let mut c = consumer(&s);
        activate(&mut k, &mut c, &[P0], &[(P0, Some(0))]);
        let token = fetches(&mut k)[0].3;
        let msgs = messages(&mut k, 5, None);
        take_trace(&mut k);
        let answer = records(&mut k, token, 0, &msgs);
        deliver(&mut k, &mut c, NodeId(1), answer);
        let trace = take_trace(&mut k);
        assert_eq!(polled(&trace), [(0, 2)]);
        assert_eq!(applied(&trace), 2);
        // after-process: the batch's end is committed before the next poll.
        let (_, commit) = one_request(&mut k);
        let GroupRequest::Commit { offsets, token, .. } = commit else {
            panic!("{commit:?}")
        };
        assert_eq!(offsets[..], [(P0, 2)]);
        let error = ErrorCode::None;
        respond(&mut k, &mut c, GroupResponse::Commit { token, error });
        let trace = take_trace(&mut k);
        assert_eq!(polled(&trace), [(2, 2)]);
        assert_eq!(applied(&trace), 2);
    }

    #[test]
    fn auto_commit_commits_the_previous_positions_at_its_interval() {
        let mut k = kernel();
        let mut s = spec();
        s.commit = CommitMode::Auto;
        let mut c = consumer(&s);
        activate(&mut k, &mut c, &[P0], &[(P0, Some(0))]);
        let msgs = messages(&mut k, 2, None);
        let token = fetches(&mut k)[0].3;
        advance_to(&mut k, SimTime::from_ms(1_000));
        let answer = records(&mut k, token, 0, &msgs[..1]);
        deliver(&mut k, &mut c, NodeId(1), answer);
        let sent = take_sent(&mut k);
        assert!(
            !sent.iter().any(|(_, _, m)| matches!(m, Msg::Group { .. })),
            "no commit before auto.commit.interval.ms: {sent:?}"
        );
        let token = sent
            .iter()
            .find_map(|(_, _, m)| match m {
                Msg::ConsumerFetch {
                    offset: 1, token, ..
                } => Some(*token),
                _ => None,
            })
            .expect("the next fetch");
        advance_to(&mut k, SimTime::from_ms(s.auto_commit_interval_ms + 1));
        let answer = records(&mut k, token, 1, &msgs[1..]);
        deliver(&mut k, &mut c, NodeId(1), answer);
        let commits: Vec<_> = group_requests(&mut k)
            .into_iter()
            .filter_map(|(_, r)| match r {
                GroupRequest::Commit { offsets, .. } => Some(offsets),
                _ => None,
            })
            .collect();
        assert_eq!(commits.len(), 1, "{commits:?}");
        assert_eq!(commits[0][..], [(P0, 1)]);
    }

    #[test]
    fn not_leader_refreshes_metadata_then_fetches_from_the_new_leader() {
        let mut k = kernel();
        let mut c = consumer(&spec());
        activate(&mut k, &mut c, &[P0], &[(P0, Some(5))]);
        let token = fetches(&mut k)[0].3;
        let error = ConsumerFetchResult::Err(ErrorCode::NotLeaderOrFollower);
        let answer = Msg::ConsumerFetchResponse {
            partition: P0,
            token,
            result: error,
        };
        deliver(&mut k, &mut c, NodeId(1), answer);
        let asked = metadata_requests(&mut k);
        let [(to, P0, token)] = asked[..] else {
            panic!("one Metadata request: {asked:?}")
        };
        assert_eq!(to, CONTROLLER);
        let answer = Msg::MetadataResponse {
            partition: P0,
            leader: Some(BrokerId(0)),
            token,
            unfenced: all_brokers(),
        };
        deliver(&mut k, &mut c, CONTROLLER, answer);
        assert!(
            fetches(&mut k).is_empty(),
            "no fetch during retry.backoff.ms"
        );
        fire(&mut k, &mut c, |t| t == ConsumerTimer::RetryFetches);
        let sent: Vec<_> = fetches(&mut k).iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(sent, [(NodeId(0), 5)]);
    }

    #[test]
    fn a_heartbeat_answered_rebalance_in_progress_rejoins() {
        let mut k = kernel();
        let mut c = consumer(&spec());
        activate(&mut k, &mut c, &[P0], &[(P0, Some(0))]);
        fire(&mut k, &mut c, |t| {
            matches!(t, ConsumerTimer::Heartbeat { .. })
        });
        let (_, hb) = one_request(&mut k);
        assert!(matches!(hb, GroupRequest::Heartbeat { generation: 1 }));
        let error = ErrorCode::RebalanceInProgress;
        respond(&mut k, &mut c, GroupResponse::Heartbeat { error });
        let (_, join) = one_request(&mut k);
        assert!(matches!(join, GroupRequest::Join { .. }), "{join:?}");
        assert_eq!(c.state(), ConsumerState::Joining);
        assert!(c.parts().is_empty(), "eager: every partition is revoked");
    }

    /// KIP-429: a cooperative member rejoins without giving anything up and goes on reading
    /// (its commits fail locally meanwhile); its new assignment makes it revoke only what moves,
    /// after committing, and rejoin at once, listing what it still owns.
    #[test]
    fn a_cooperative_member_keeps_reading_and_revokes_only_what_moves() {
        let mut k = kernel();
        let mut s = spec();
        s.assignor = Assignor::CooperativeSticky;
        let mut c = consumer(&s);
        activate(&mut k, &mut c, &[P0, P1], &[(P0, Some(0)), (P1, Some(5))]);
        let fetch0 = fetches(&mut k)
            .into_iter()
            .find(|f| f.1 == P0)
            .expect("a fetch");
        let error = ErrorCode::RebalanceInProgress;
        respond(&mut k, &mut c, GroupResponse::Heartbeat { error });
        let (_, join) = one_request(&mut k);
        let GroupRequest::Join { token, owned } = join else {
            panic!("{join:?}")
        };
        assert_eq!(
            owned[..],
            [P0, P1],
            "JoinGroup lists the partitions it owns"
        );
        assert_eq!(c.state(), ConsumerState::Joining);
        assert_eq!(c.parts().len(), 2, "nothing is revoked to rejoin");
        // Records of orders/0 arrive during the rebalance: they are applied.
        effects(&mut k);
        let msgs = messages(&mut k, 2, None);
        let resp = records(&mut k, fetch0.3, 0, &msgs);
        deliver(&mut k, &mut c, NodeId(1), resp);
        let trace = effects(&mut k);
        assert_eq!(applied(&trace), 2, "{trace:?}");
        assert!(trace.contains(&Trace::CommitFailed {
            group: GroupId(0),
            consumer: ConsumerId(0),
            error: ErrorCode::RebalanceInProgress,
        }));
        // Generation 2 keeps orders/0 and moves orders/1.
        let error = ErrorCode::None;
        respond(
            &mut k,
            &mut c,
            GroupResponse::Join {
                generation: 2,
                token,
                error,
            },
        );
        let token = token_of(&one_request(&mut k).1);
        respond(
            &mut k,
            &mut c,
            GroupResponse::Sync {
                generation: 2,
                assignment: Box::new([P0]),
                token,
                error,
            },
        );
        assert!(effects(&mut k).contains(&Trace::PartitionsRevoked {
            group: GroupId(0),
            consumer: ConsumerId(0),
            partitions: Box::new([P1]),
        }));
        let (_, commit) = one_request(&mut k);
        let GroupRequest::Commit {
            offsets,
            token,
            generation: 2,
        } = commit
        else {
            panic!("{commit:?}")
        };
        assert_eq!(offsets[..], [(P0, 2), (P1, 5)], "commits before revoking");
        assert_eq!(c.parts().len(), 2);
        respond(&mut k, &mut c, GroupResponse::Commit { token, error });
        let parts: Vec<PartitionId> = c.parts().iter().map(|cp| cp.partition).collect();
        assert_eq!(parts, [P0]);
        assert_eq!(
            c.parts()[0].position,
            Some(2),
            "orders/0 goes on where it was"
        );
        let (_, join) = one_request(&mut k);
        assert!(
            matches!(&join, GroupRequest::Join { owned, .. } if owned[..] == [P0]),
            "it rejoins at once: {join:?}"
        );
    }

    /// A cooperative member whose generation is lost gives up every partition before rejoining
    /// (`onPartitionsLost`), so it never claims what another member may own by now.
    #[test]
    fn a_cooperative_member_that_lost_its_generation_rejoins_owning_nothing() {
        let mut k = kernel();
        let mut s = spec();
        s.assignor = Assignor::CooperativeSticky;
        let mut c = consumer(&s);
        activate(&mut k, &mut c, &[P0, P1], &[(P0, Some(0)), (P1, Some(5))]);
        let error = ErrorCode::UnknownMemberId;
        respond(&mut k, &mut c, GroupResponse::Heartbeat { error });
        let (_, join) = one_request(&mut k);
        assert!(
            matches!(&join, GroupRequest::Join { owned, .. } if owned.is_empty()),
            "{join:?}"
        );
        assert!(c.parts().is_empty());
    }

    #[test]
    fn with_auto_commit_a_rebalance_commits_before_rejoining() {
        let mut k = kernel();
        let mut s = spec();
        s.commit = CommitMode::Auto;
        let mut c = consumer(&s);
        activate(&mut k, &mut c, &[P0], &[(P0, Some(9))]);
        let error = ErrorCode::RebalanceInProgress;
        respond(&mut k, &mut c, GroupResponse::Heartbeat { error });
        let (_, commit) = one_request(&mut k);
        let GroupRequest::Commit { offsets, token, .. } = commit else {
            panic!("{commit:?}")
        };
        assert_eq!(offsets[..], [(P0, 9)]);
        let error = ErrorCode::None;
        respond(&mut k, &mut c, GroupResponse::Commit { token, error });
        assert!(matches!(one_request(&mut k).1, GroupRequest::Join { .. }));
    }

    #[test]
    fn exceeding_max_poll_interval_leaves_the_group() {
        for static_membership in [false, true] {
            let mut k = kernel();
            let mut s = spec();
            s.processing_ms = 20_000;
            s.max_poll_interval_ms = 10_000;
            s.static_membership = static_membership;
            let mut c = consumer(&s);
            activate(&mut k, &mut c, &[P0], &[(P0, Some(0))]);
            let token = fetches(&mut k)[0].3;
            let msgs = messages(&mut k, 1, None);
            let answer = records(&mut k, token, 0, &msgs);
            deliver(&mut k, &mut c, NodeId(1), answer);
            let mut heartbeats = 0;
            let left = loop {
                let at = fire(&mut k, &mut c, |t| {
                    matches!(t, ConsumerTimer::Heartbeat { .. })
                });
                match group_requests(&mut k).pop() {
                    Some((_, GroupRequest::Heartbeat { .. })) => heartbeats += 1,
                    Some((_, GroupRequest::Leave { reason })) => break Some((at, reason)),
                    Some(other) => panic!("{other:?}"),
                    None => break None,
                }
            };
            // Heartbeats at 3, 6 and 9 s; at 12 s the poll is 2 s overdue.
            assert_eq!(heartbeats, 3, "static: {static_membership}");
            if static_membership {
                assert_eq!(left, None, "a static member sends no LeaveGroup");
            } else {
                assert_eq!(
                    left,
                    Some((SimTime::from_ms(12_000), LeaveReason::PollTimeout))
                );
            }
            assert!(
                !k.drain_queue().iter().any(|(_, e)| matches!(
                    e,
                    Event::Timer {
                        timer: Timer::Consumer(ConsumerTimer::Heartbeat { .. }),
                        ..
                    }
                )),
                "heartbeats stop"
            );
        }
    }

    #[test]
    fn out_of_range_resumes_at_the_leaders_log_end() {
        let mut k = kernel();
        let mut c = consumer(&spec());
        activate(&mut k, &mut c, &[P0], &[(P0, Some(10))]);
        let token = fetches(&mut k)[0].3;
        take_trace(&mut k);
        let answer = Msg::ConsumerFetchResponse {
            partition: P0,
            token,
            result: ConsumerFetchResult::OutOfRange { leo: 6 },
        };
        deliver(&mut k, &mut c, NodeId(1), answer);
        assert!(
            take_trace(&mut k)
                .iter()
                .any(|t| matches!(t, Trace::OffsetReset { offset: 6, .. }))
        );
        let sent: Vec<_> = fetches(&mut k).iter().map(|f| f.2).collect();
        assert_eq!(sent, [6]);
        assert_eq!(c.parts()[0].position, Some(6));
    }

    #[test]
    fn a_restarted_consumer_is_a_fresh_client_that_ignores_old_answers() {
        let mut k = kernel();
        let mut c = consumer(&spec());
        start(&mut k, &mut c);
        let old = token_of(&one_request(&mut k).1);
        c.crash();
        assert_eq!(c.state(), ConsumerState::Crashed);
        start(&mut k, &mut c);
        let new = token_of(&one_request(&mut k).1);
        assert_ne!(old, new);
        let error = ErrorCode::None;
        let late = GroupResponse::Join {
            generation: 1,
            token: old,
            error,
        };
        respond(&mut k, &mut c, late);
        assert!(
            group_requests(&mut k).is_empty(),
            "no SyncGroup for the old join"
        );
        assert_eq!(c.state(), ConsumerState::Joining);
    }

    #[test]
    fn not_coordinator_looks_the_coordinator_up_again() {
        let mut k = kernel();
        let mut c = consumer(&spec());
        start(&mut k, &mut c);
        let (first, join) = one_request(&mut k);
        let error = ErrorCode::NotCoordinator;
        let token = token_of(&join);
        respond(
            &mut k,
            &mut c,
            GroupResponse::Join {
                generation: 0,
                token,
                error,
            },
        );
        let lookups = metadata_requests(&mut k);
        let [(CONTROLLER, _, lookup)] = lookups[..] else {
            panic!("one lookup: {lookups:?}")
        };
        let mut unfenced = all_brokers();
        unfenced.remove(BrokerId(first.0));
        let answer = Msg::MetadataResponse {
            partition: P0,
            leader: Some(BrokerId(1)),
            token: lookup,
            unfenced,
        };
        deliver(&mut k, &mut c, CONTROLLER, answer);
        fire(&mut k, &mut c, |t| {
            matches!(t, ConsumerTimer::RetryRequest { .. })
        });
        let (to, join) = one_request(&mut k);
        assert!(matches!(join, GroupRequest::Join { .. }));
        assert_eq!(to, NodeId((first.0 + 1) % 3), "the next unfenced broker");
    }

    #[test]
    fn a_transactional_processor_polls_once_its_producer_is_ready() {
        let mut k = kernel();
        let mut s = spec();
        s.commit = CommitMode::Transactional;
        let mut c = consumer(&s);
        c.producer = Some(ProducerId(5));
        activate(&mut k, &mut c, &[P0], &[(P0, Some(0))]);
        assert!(matches!(
            k.locals.pop_front(),
            Some(Local::StartOutputProducer {
                producer: ProducerId(5)
            })
        ));
        assert!(
            fetches(&mut k).is_empty(),
            "initTransactions() has not returned"
        );
        c.on_producer_ready(&mut Cx::new(&mut k, ME));
        let token = fetches(&mut k)[0].3;
        let msgs = messages(&mut k, 3, None);
        let answer = records(&mut k, token, 0, &msgs[..2]);
        deliver(&mut k, &mut c, NodeId(1), answer);
        let calls: Vec<Local> = k.locals.drain(..).collect();
        assert!(
            matches!(
                &calls[..],
                [
                    Local::SendOutput { msg: a, .. },
                    Local::SendOutput { msg: b, .. },
                    Local::CommitWithOffsets { offsets, .. },
                ] if [*a, *b] == msgs[..2] && offsets[..] == [(P0, 2)]
            ),
            "{calls:?}"
        );
        // Records fetched meanwhile wait until the transaction is done.
        let token = fetches(&mut k)[0].3;
        let answer = records(&mut k, token, 2, &msgs[2..]);
        take_trace(&mut k);
        deliver(&mut k, &mut c, NodeId(1), answer);
        assert!(polled(&take_trace(&mut k)).is_empty());
        c.on_txn_done(true, &mut Cx::new(&mut k, ME));
        assert_eq!(polled(&take_trace(&mut k)), [(2, 1)]);
    }

    #[test]
    fn a_poison_record_is_dead_lettered_after_max_attempts() {
        let mut k = kernel();
        let mut s = spec();
        s.processing_ms = 10;
        s.max_attempts = 2;
        s.fail_keys = vec!["bad".to_string()];
        let mut c = consumer(&s);
        c.dead_letter_producer = Some(ProducerId(6));
        activate(&mut k, &mut c, &[P0], &[(P0, Some(0))]);
        let token = fetches(&mut k)[0].3;
        let msgs = messages(&mut k, 1, Some("bad"));
        let answer = records(&mut k, token, 0, &msgs);
        deliver(&mut k, &mut c, NodeId(1), answer);
        take_trace(&mut k);
        fire(&mut k, &mut c, |t| {
            matches!(t, ConsumerTimer::Process { .. })
        });
        let trace = effects(&mut k);
        assert!(matches!(
            trace[..],
            [Trace::ProcessingFailed { attempt: 1, .. }]
        ));
        assert!(k.locals.is_empty());
        fire(&mut k, &mut c, |t| {
            matches!(t, ConsumerTimer::Process { .. })
        });
        let trace = effects(&mut k);
        assert!(
            matches!(
                trace[..],
                [
                    Trace::ProcessingFailed { attempt: 2, .. },
                    Trace::DeadLettered { attempts: 2, .. },
                ]
            ),
            "{trace:?}"
        );
        assert!(matches!(
            k.locals.pop_front(),
            Some(Local::SendOutput { producer: ProducerId(6), msg }) if msg == msgs[0]
        ));
    }

    #[test]
    fn a_dedup_sink_is_shared_by_the_groups_instances() {
        let mut k = kernel();
        let mut s = spec();
        s.dedup = true;
        let msgs = messages(&mut k, 1, None);
        let mut first = consumer(&s);
        let mut second = Consumer::new(
            ConsumerId(1),
            "billing/consumer-2".to_string(),
            NodeId(5),
            GroupId(0),
            &s,
            vec![P0, P1],
            3,
        );
        for c in [&mut first, &mut second] {
            take_sent(&mut k);
            activate(&mut k, c, &[P0], &[(P0, Some(0))]);
            let token = fetches(&mut k)[0].3;
            let answer = records(&mut k, token, 0, &msgs);
            deliver(&mut k, c, NodeId(1), answer);
        }
        let trace = take_trace(&mut k);
        let effects: Vec<(ConsumerId, bool)> = trace
            .iter()
            .filter_map(|t| match t {
                Trace::Applied { consumer, .. } => Some((*consumer, true)),
                Trace::Redelivered { consumer, .. } => Some((*consumer, false)),
                _ => None,
            })
            .collect();
        assert_eq!(effects, [(ConsumerId(0), true), (ConsumerId(1), false)]);
    }

    /// A KIP-848 answer to the consumer's ConsumerGroupHeartbeat.
    fn cg_answer(
        k: &mut Kernel,
        c: &mut Consumer,
        epoch: u32,
        assignment: &[PartitionId],
        token: u32,
    ) {
        let resp = GroupResponse::ConsumerHeartbeat {
            member_epoch: epoch,
            assignment: assignment.into(),
            heartbeat_interval_ms: 5_000,
            token,
            error: ErrorCode::None,
        };
        respond(k, c, resp);
    }

    /// The ConsumerGroupHeartbeats sent since the last look: (member epoch, owned, token).
    fn cg_heartbeats(k: &mut Kernel) -> Vec<(i32, Vec<PartitionId>, u32)> {
        sent(k, |_, msg| match msg {
            Msg::Group {
                req:
                    GroupRequest::ConsumerHeartbeat {
                        member_epoch,
                        owned,
                        token,
                    },
                ..
            } => Some((member_epoch, owned.into_vec(), token)),
            _ => None,
        })
    }

    #[test]
    fn a_consumer_protocol_member_heartbeats_at_the_broker_interval_and_acknowledges_a_revoke() {
        let spec = GroupConfig {
            protocol: GroupProtocol::Consumer,
            ..spec()
        };
        let mut k = kernel();
        let mut c = consumer(&spec);
        start(&mut k, &mut c);
        // It joins with member epoch 0, owning nothing: no JoinGroup.
        let joins = cg_heartbeats(&mut k);
        assert_eq!(joins.len(), 1, "{joins:?}");
        let (epoch, owned, token) = joins[0].clone();
        assert_eq!((epoch, owned.len()), (0, 0));
        cg_answer(&mut k, &mut c, 1, &[P0, P1], token);
        let token = token_of(&one_request(&mut k).1); // OffsetFetch for the new partitions
        let offsets = [(P0, Some(0)), (P1, Some(0))].into();
        let error = ErrorCode::None;
        respond(
            &mut k,
            &mut c,
            GroupResponse::OffsetFetch {
                offsets,
                token,
                error,
            },
        );
        assert_eq!(c.state(), ConsumerState::Active);
        take_sent(&mut k);
        // Heartbeats follow at the interval the broker set, with the epoch and what it owns.
        let at = fire(&mut k, &mut c, |t| {
            matches!(t, ConsumerTimer::Heartbeat { .. })
        });
        assert_eq!(at, SimTime::from_ms(5_000));
        assert_eq!(cg_heartbeats(&mut k), vec![(1, vec![P0, P1], 0)]);
        // The coordinator keeps P0 only (same epoch): the member revokes P1, committing first,
        // and says so at once, before its next interval.
        cg_answer(&mut k, &mut c, 1, &[P0], 0);
        assert!(effects(&mut k).iter().any(|t| matches!(
            t,
            Trace::PartitionsRevoked { partitions, .. } if **partitions == [P1]
        )));
        let (_, commit) = one_request(&mut k);
        assert!(
            matches!(commit, GroupRequest::Commit { generation: 1, .. }),
            "{commit:?}"
        );
        let token = token_of(&commit);
        respond(&mut k, &mut c, GroupResponse::Commit { token, error });
        assert_eq!(cg_heartbeats(&mut k), vec![(1, vec![P0], 0)]);
        // Its new epoch comes back; it keeps reading P0 throughout.
        cg_answer(&mut k, &mut c, 2, &[P0], 0);
        let parts: Vec<PartitionId> = c.parts().iter().map(|cp| cp.partition).collect();
        assert_eq!(parts, vec![P0]);
        assert_eq!(c.state(), ConsumerState::Active);
    }
}
