//! The producer process: an application calling `send()` on a schedule (its workload) over the
//! Kafka client library, here Kafka's `RecordAccumulator` + `Sender` in miniature, with the
//! `TransactionManager` of a transactional producer in [`crate::sim::txn_client`]. Records are
//! grouped into per-partition batches (`linger.ms`, a record-count stand-in for `batch.size`),
//! pipelined up to `max.in.flight.requests.per.connection`, retried after `retry.backoff.ms`
//! until `retries` or `delivery.timeout.ms` run out. With idempotence (KIP-98) every batch
//! carries a producer id and sequence numbers and retries go out in sequence order.
//!
//! A crash takes the client ([`Client`]: the accumulator, the requests in flight, the producer
//! id and epoch, the transaction manager); the application (its workload, where it is in it,
//! its counters) survives, and a restart runs a fresh client for it. A consumer that reads,
//! processes and writes (a processor) or dead-letters records drives a producer embedded in its
//! process: it calls the `pub(crate)` methods below, and the producer answers through
//! [`crate::sim::Local`] notices.
//!
//! Simplifications: the in-flight limit is per partition (Kafka's is per broker connection,
//! which is the same when each broker leads one of the producer's partitions); an idempotent
//! producer's id is assigned locally instead of by an `InitProducerId` round trip; metadata
//! comes from the controller rather than from any broker's metadata cache; a restarted client
//! keeps the leaders and sticky partition its predecessor knew (Kafka's would bootstrap them
//! anew) and refreshes the leaders at once.

use std::collections::VecDeque;

use rand::RngExt;

use crate::sim::chunked::ChunkedVec;
use crate::sim::config::{Acks, KeyDistribution, Partitioner, ProducerConfig};
use crate::sim::ids::*;
use crate::sim::key_table::KeyTable;
use crate::sim::partitioner::partition_for_key;
use crate::sim::shared_log::SharedLog;
use crate::sim::trace::Trace;
use crate::sim::txn_client::TxnClient;
use crate::sim::wire::{Msg, ProduceResult};
use crate::sim::{Cx, Local, MsgInfo, Timer};

/// The producer's timers (wrapped in [`Timer::Producer`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum ProducerTimer {
    /// The application's `n`-th send (from 0) is due.
    Send {
        n: u32,
    },
    Linger {
        part: u32,
    },
    /// Expire produce requests past `request.timeout.ms` (one pending per producer).
    RequestTimeout,
    Retry {
        batch: u32,
    },
    MetadataTimeout {
        part: u32,
        token: u32,
    },
    TxnRetry {
        token: u32,
    },
    /// Expire batches past `delivery.timeout.ms` (one pending per producer).
    DeliveryTimeout,
    /// Try to reconnect to a broker whose connection was refused or reset.
    Reconnect {
        broker: BrokerId,
        token: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchState {
    InFlight,
    /// Waiting out `retry.backoff.ms`.
    Backoff,
    /// Waiting for its turn to be resent.
    Queued,
    Done,
}

/// A batch of consecutive records for one partition.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Index into the producer's partitions.
    pub part: u32,
    /// Index of the first record in that partition's queue.
    pub start: u32,
    pub count: u32,
    pub base_seq: i32,
    /// Sends so far (1 after the first send).
    pub attempt: u32,
    /// When its first record was sent: Kafka creates a batch when the first record is appended,
    /// and `delivery.timeout.ms` counts from then (KIP-91).
    pub created: SimTime,
    pub state: BatchState,
    /// The broker the current attempt went to.
    pub sent_to: Option<BrokerId>,
}

/// Every user of a client's in-order lists of batches (`open`, `deadlines`) skips the entries
/// that `live` rejects, and an entry rejected once is rejected forever (a batch done stays done;
/// a resend takes a new attempt number). So dropping them changes nothing but the memory they
/// hold: without this, a run shorter than `request.timeout.ms` would keep every request it ever
/// sent, and every TUI checkpoint a copy of them. Done when the list's length reaches a power
/// of two, so the cost per push stays constant.
fn compact<T>(list: &mut VecDeque<T>, live: impl Fn(&T) -> bool) {
    let n = list.len();
    if n >= 32 && n.is_power_of_two() {
        list.retain(|x| live(x));
    }
}

/// The batches one client made, by batch number. Numbers go on from where the previous client
/// (before a crash) stopped, so a late answer to a dead client's request (a broker may answer a
/// parked produce request long after) matches no batch of the new one.
#[derive(Clone, Debug)]
pub(crate) struct Batches {
    first: u32,
    list: ChunkedVec<Batch>,
}

impl Batches {
    /// Bytes a clone shares (see [`crate::sim::Sim::shared_bytes`]).
    pub(crate) fn shared_bytes(&self) -> usize {
        self.list.shared_bytes()
    }

    fn new(first: u32) -> Batches {
        Batches {
            first,
            list: ChunkedVec::new(),
        }
    }

    /// The number the next batch gets.
    fn next_id(&self) -> u32 {
        self.first + self.list.len() as u32
    }

    fn push(&mut self, batch: Batch) -> u32 {
        let id = self.next_id();
        self.list.push(batch);
        id
    }

    /// A batch by number, if this client made it.
    fn get(&self, id: u32) -> Option<&Batch> {
        id.checked_sub(self.first)
            .and_then(|i| self.list.get(i as usize))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Batch)> {
        (self.first..).zip(self.list.iter())
    }

    /// Mark every batch done (writing only those that are not, so that shared chunks stay
    /// shared).
    pub(crate) fn finish_all(&mut self) {
        for i in 0..self.list.len() {
            if self.list[i].state != BatchState::Done {
                self.list[i].state = BatchState::Done;
            }
        }
    }
}

impl std::ops::Index<u32> for Batches {
    type Output = Batch;
    fn index(&self, id: u32) -> &Batch {
        &self.list[(id - self.first) as usize]
    }
}

impl std::ops::IndexMut<u32> for Batches {
    fn index_mut(&mut self, id: u32) -> &mut Batch {
        &mut self.list[(id - self.first) as usize]
    }
}

/// `reconnect.backoff.ms` and `reconnect.backoff.max.ms` (Kafka's defaults; not configurable in
/// scenarios).
const RECONNECT_BACKOFF_MS: u64 = 50;
const RECONNECT_BACKOFF_MAX_MS: u64 = 1000;

/// The producer's connection to one broker.
#[derive(Clone, Copy, Debug, Default)]
struct ConnState {
    /// Refused or reset: not ready until a reconnect succeeds.
    down: bool,
    /// When it went down (for `partitioner.availability.timeout.ms`).
    down_since: SimTime,
    /// The backoff before the next reconnect attempt.
    backoff_ms: u64,
    token: u32,
}

/// What the producer knows of one partition of its topic: its metadata cache. It survives a
/// crash (see the module doc).
#[derive(Clone, Debug)]
pub struct KnownPartition {
    pub partition: PartitionId,
    pub leader: Option<BrokerId>,
    /// The last Metadata request's token; kept across a restart so that a late answer to the
    /// dead client's request cannot pass for the new one's.
    metadata_token: u32,
}

/// The accumulator's queue for one partition, and its sequence numbers.
#[derive(Clone, Debug)]
pub(crate) struct PartitionQueue {
    /// Every record this client was given for the partition, in send order.
    /// Shared with checkpoints (see `shared_log.rs`): thousands of these per world.
    pub(crate) records: SharedLog<MsgId>,
    /// Whether each record of `records` was sent without a key (it went where the sticky
    /// partitioner said).
    keyless: SharedLog<bool>,
    /// Records before this index are in batches.
    pub(crate) batched: usize,
    /// When the oldest record not yet batched arrived.
    oldest_queued: SimTime,
    /// When each record not yet in a batch was sent, oldest first (for `delivery.timeout.ms`).
    queued_at: VecDeque<SimTime>,
    /// Batches not yet done, in creation order (so also in `created` order).
    open: VecDeque<u32>,
    linger_armed: bool,
    pub(crate) next_seq: i32,
    /// Highest sequence number acknowledged on this partition (-1: none).
    pub(crate) last_acked_seq: i32,
    pub(crate) in_flight: u32,
    /// Batches waiting to be resent (backing off or ready), in sequence order.
    retry: Vec<u32>,
    metadata_pending: bool,
    /// The sequence number after a batch that was sent and then expired
    /// (`delivery.timeout.ms`): whether the broker has it is unknown until the batches after it
    /// are answered (`TransactionManager.partitionsWithUnresolvedSequences`). No new batch is
    /// drained for the partition meanwhile.
    pub(crate) unresolved: Option<i32>,
}

impl PartitionQueue {
    /// Bytes a clone shares (see [`crate::sim::Sim::shared_bytes`]).
    pub(crate) fn shared_bytes(&self) -> usize {
        self.records.shared_bytes() + self.keyless.shared_bytes()
    }

    fn new() -> PartitionQueue {
        PartitionQueue {
            records: SharedLog::new(),
            keyless: SharedLog::new(),
            batched: 0,
            oldest_queued: SimTime::ZERO,
            queued_at: VecDeque::new(),
            open: VecDeque::new(),
            linger_armed: false,
            next_seq: 0,
            last_acked_seq: -1,
            in_flight: 0,
            retry: Vec::new(),
            metadata_pending: false,
            unresolved: None,
        }
    }
}

/// Where the next sends come from.
#[derive(Clone, Debug)]
pub(crate) enum Workload {
    Stream {
        count: u64,
        every_ms: u64,
        start_ms: u64,
        /// Static, so shared with every checkpoint rather than copied.
        keys: std::rc::Rc<[u32]>,
        distribution: KeyDistribution,
        /// Cumulative Zipf weights over `keys`.
        zipf_cdf: std::rc::Rc<[f64]>,
    },
    Explicit(std::rc::Rc<[(u64, Option<u32>)]>),
}

impl Workload {
    fn len(&self) -> u64 {
        match self {
            Workload::Stream { count, .. } => *count,
            Workload::Explicit(v) => v.len() as u64,
        }
    }

    fn at_ms(&self, n: u64) -> u64 {
        match self {
            Workload::Stream {
                every_ms, start_ms, ..
            } => start_ms + n * every_ms,
            Workload::Explicit(v) => v[n as usize].0,
        }
    }
}

/// A transactional producer's `transactional.id` (its coordinator record) and how many records
/// its application puts in one transaction (`u32::MAX`: a processor decides).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Transactional {
    pub(crate) txn: u32,
    pub(crate) size: u32,
    /// `transaction.timeout.ms`, sent in `InitProducerId`.
    pub(crate) timeout_ms: u64,
}

/// The client library's memory: everything a crash takes.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    /// The idempotent producer id, if idempotence is on.
    pub(crate) producer_id: Option<u32>,
    /// The producer epoch (bumped by KIP-360 recovery, or given by `InitProducerId`).
    pub(crate) epoch: u16,
    /// The transaction manager of a transactional producer.
    pub(crate) txn: Option<TxnClient>,
    /// Per partition, as [`Producer::known`].
    pub(crate) parts: Vec<PartitionQueue>,
    pub(crate) batches: Batches,
    /// Batches not yet `Done`.
    pub(crate) open_batches: u32,
    /// Requests in flight with their `request.timeout.ms` deadlines and their `Sent` events
    /// (the cause of their expiry), in send order.
    deadlines: VecDeque<(u32, u32, SimTime, crate::sim::EventId)>,
    timeout_armed: bool,
    /// When the pending `delivery.timeout.ms` check fires, if one is pending.
    delivery_armed: Option<SimTime>,
    /// KIP-360: a batch failed leaving a gap in its partition's sequence numbers; bump the epoch
    /// and restart sequences once nothing is in flight.
    epoch_bump_pending: bool,
    /// When the application's next send timer fires, if one is set.
    send_due: Option<SimTime>,
    /// Linger deadlines the next send comes at or before, in the order they were set: (deadline,
    /// partition, the cause of the drain). The sender thread wakes when the application appends
    /// (Kafka's `Sender.wakeup`) and drains every expired batch then, so these need no timer of
    /// their own.
    lingering: Vec<(SimTime, u32, Option<crate::sim::EventId>)>,
    /// Per broker: the connection was refused or reset and the producer is backing off before
    /// reconnecting (`NetworkClient.isReady` is false). Indexed by broker, grown on demand.
    conns: Vec<ConnState>,
    /// Partition of each interned key for the current partition count, so murmur2 runs once
    /// per key rather than once per send.
    key_partitions: KeyTable,
    key_partitions_for: usize,
    /// The transaction coordinator, as FindCoordinator would name it. Simplification: the
    /// event loop fills it in before every handler, so it is always current and costs no round
    /// trip.
    pub(crate) coordinator: Option<BrokerId>,
}

impl Client {
    fn new(
        first_batch: u32,
        parts: usize,
        transactional: Option<Transactional>,
        producer_id: Option<u32>,
    ) -> Client {
        Client {
            producer_id,
            epoch: 0,
            txn: transactional.map(|t| TxnClient::new(t.txn, t.size, parts)),
            parts: (0..parts).map(|_| PartitionQueue::new()).collect(),
            batches: Batches::new(first_batch),
            open_batches: 0,
            deadlines: VecDeque::new(),
            timeout_armed: false,
            delivery_armed: None,
            epoch_bump_pending: false,
            send_due: None,
            lingering: Vec::new(),
            conns: Vec::new(),
            key_partitions: KeyTable::default(),
            key_partitions_for: 0,
            coordinator: None,
        }
    }

    /// Forget every batch (the producer was fenced, or its transaction aborted under it).
    pub(crate) fn reset_in_flight(&mut self) {
        self.batches.finish_all();
        self.open_batches = 0;
        for pq in &mut self.parts {
            pq.batched = pq.records.len();
            pq.queued_at.clear();
            pq.open.clear();
            pq.in_flight = 0;
            pq.retry.clear();
            pq.unresolved = None;
        }
    }
}

#[derive(Clone, Debug)]
pub struct Producer {
    // ----- static configuration -----
    pub name: String,
    pub node: NodeId,
    /// This producer, as trace events name it.
    pub(crate) id: ProducerId,
    pub topic: TopicId,
    pub acks: Acks,
    pub retries: u32,
    pub idempotent: bool,
    pub max_in_flight: u32,
    pub request_timeout_ms: u64,
    pub delivery_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    pub retry_backoff_max_ms: u64,
    pub linger_ms: u64,
    pub max_batch_records: u32,
    /// Where keyless records go.
    pub partitioner: Partitioner,
    /// `partitioner.adaptive.partitioning.enable`
    pub adaptive_partitioning: bool,
    /// `partitioner.availability.timeout.ms`
    pub availability_timeout_ms: u64,
    pub(crate) transactional: Option<Transactional>,
    /// A processor's output producer or a dead-letter producer lives inside that consumer's
    /// process.
    pub embedded_in: Option<ConsumerId>,
    /// The producer id an idempotent producer's first client gets; a restarted one gets a new
    /// id from it.
    base_producer_id: Option<u32>,

    // ----- the application: survives a crash -----
    pub(crate) workload: Workload,
    /// Index of the next scheduled send.
    pub next_send: u64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub retried: u64,
    pub last_error: Option<(SimTime, ErrorCode)>,
    /// The topic's partitions and their leaders as last learned.
    pub known: Vec<KnownPartition>,
    /// Where keyless records go (the sticky partition), chosen at the first start.
    sticky: Option<u32>,
    /// Keyless records appended to the sticky partition since it was chosen (the uniform sticky
    /// partitioner's `producedBytes`, counted in records).
    sticky_records: u32,
    /// The round-robin partitioner's counter (it starts where the first sticky pick fell, as
    /// the old `DefaultPartitioner`'s started at a random value).
    round_robin: u32,

    // ----- the client library: a crash loses it -----
    pub(crate) client: Client,
}

impl Producer {
    pub(crate) fn new(
        spec: &ProducerConfig,
        id: ProducerId,
        node: NodeId,
        topic: TopicId,
        partitions: &[PartitionId],
        workload: Workload,
    ) -> Producer {
        let idempotent = spec.idempotent;
        let base_producer_id = idempotent.then_some(id.0 + 1);
        Producer {
            name: spec.name.clone(),
            node,
            id,
            topic,
            acks: spec.acks,
            retries: spec.retries,
            idempotent,
            max_in_flight: spec.max_in_flight,
            request_timeout_ms: spec.request_timeout_ms,
            delivery_timeout_ms: spec.delivery_timeout_ms,
            retry_backoff_ms: spec.retry_backoff_ms,
            retry_backoff_max_ms: spec.retry_backoff_max_ms.max(spec.retry_backoff_ms),
            linger_ms: spec.linger_ms,
            max_batch_records: spec.max_batch_records,
            partitioner: spec.partitioner,
            adaptive_partitioning: spec.adaptive_partitioning,
            availability_timeout_ms: spec.availability_timeout_ms,
            transactional: None,
            embedded_in: None,
            base_producer_id,
            workload,
            next_send: 0,
            sent: 0,
            acked: 0,
            failed: 0,
            retried: 0,
            last_error: None,
            known: partitions
                .iter()
                .map(|&partition| KnownPartition {
                    partition,
                    leader: None,
                    metadata_token: 0,
                })
                .collect(),
            sticky: None,
            sticky_records: 0,
            round_robin: 0,
            client: Client::new(0, partitions.len(), None, base_producer_id),
        }
    }

    /// Make this (not yet started) producer transactional, or not.
    pub(crate) fn set_transactional(&mut self, transactional: Option<Transactional>) {
        self.transactional = transactional;
        self.client.txn = transactional.map(|t| TxnClient::new(t.txn, t.size, self.known.len()));
    }

    /// A second instance of this producer (same config and `transactional.id`), on its own
    /// node, that takes over the rest of its workload with a client of its own.
    pub(crate) fn second_instance(&self, name: String, node: NodeId, id: ProducerId) -> Producer {
        Producer {
            name,
            node,
            id,
            sent: 0,
            acked: 0,
            failed: 0,
            retried: 0,
            last_error: None,
            client: Client::new(
                0,
                self.known.len(),
                self.transactional,
                self.client.producer_id,
            ),
            ..self.clone()
        }
    }

    // ----- what others read ---------------------------------------------------------------

    /// The producer epoch.
    pub fn epoch(&self) -> u16 {
        self.client.epoch
    }

    /// The transaction manager, for a transactional producer.
    pub fn txn(&self) -> Option<&TxnClient> {
        self.client.txn.as_ref()
    }

    pub(crate) fn is_transactional(&self) -> bool {
        self.transactional.is_some()
    }

    /// Nothing queued, in flight, waiting to be retried or in an open transaction.
    pub fn is_idle(&self) -> bool {
        self.client.open_batches == 0
            && self
                .client
                .parts
                .iter()
                .all(|p| p.batched == p.records.len())
            && self.client.txn.as_ref().is_none_or(|t| t.settled())
    }

    /// Requests currently in flight.
    pub fn in_flight(&self) -> u32 {
        self.client.parts.iter().map(|p| p.in_flight).sum()
    }

    /// Records accepted by `send()` but not yet in a batch.
    pub fn queued(&self) -> usize {
        self.client
            .parts
            .iter()
            .map(|p| p.records.len() - p.batched)
            .sum()
    }

    /// Batches waiting to be retried: each partition's retry list, so the cost is one length
    /// per partition (the TUI asks on every frame; `open` keeps finished batches until the
    /// next expiry check, so it grows with the run).
    pub fn retrying(&self) -> usize {
        self.client.parts.iter().map(|pq| pq.retry.len()).sum()
    }

    /// Produce requests in flight to `broker`: (partition, batch, attempt). The event loop fails
    /// them when the broker's process dies and resets the connections.
    pub(crate) fn requests_in_flight_to(
        &self,
        broker: BrokerId,
    ) -> impl Iterator<Item = (PartitionId, u32, u32)> + '_ {
        self.client
            .batches
            .iter()
            .filter(move |(_, b)| b.state == BatchState::InFlight && b.sent_to == Some(broker))
            .map(|(id, b)| (self.known[b.part as usize].partition, id, b.attempt))
    }

    // ----- lifecycle ----------------------------------------------------------------------

    /// Start (or restart) the application. `bootstrap` is the topic's partitions and leaders,
    /// what a first Metadata request would return.
    pub(crate) fn on_start(&mut self, bootstrap: &[(PartitionId, Option<BrokerId>)], cx: &mut Cx) {
        if cx.incarnation() > 0 {
            self.restart(cx);
            return;
        }
        self.learn_leaders(bootstrap);
        if self.sticky.is_none() {
            let n = self.known.len() as u32;
            let first = if n > 1 { cx.random_range(0..n) } else { 0 };
            self.sticky = Some(first);
            self.round_robin = first;
        }
        if self.embedded_in.is_some() {
            // Its consumer starts it (`start_embedded`).
            return;
        }
        if self.transactional.is_some() {
            self.init_transactions(cx);
        }
        self.schedule_next_send(cx);
    }

    /// A new process for the application after a crash: a fresh client (`crash` made it).
    fn restart(&mut self, cx: &mut Cx) {
        if self.transactional.is_some() {
            // A new instance with the same transactional.id: InitProducerId fences the old one.
            for part in 0..self.known.len() as u32 {
                self.request_metadata(part, cx);
            }
            self.init_transactions(cx);
            if self.embedded_in.is_none() {
                self.schedule_next_send(cx);
            }
            return;
        }
        // A new process gets a new producer id and starts its sequences at 0.
        self.client.producer_id = self.new_producer_id(cx);
        for part in 0..self.known.len() as u32 {
            self.request_metadata(part, cx);
        }
        self.schedule_next_send(cx);
    }

    fn new_producer_id(&self, cx: &Cx) -> Option<u32> {
        let incarnation = cx.incarnation();
        self.base_producer_id
            .map(|pid| (pid & 0xffff) | (incarnation << 16))
    }

    /// The consumer process this producer lives in has started: its producer client starts
    /// with the bootstrap metadata and, if transactional, `initTransactions()`.
    pub(crate) fn start_embedded(
        &mut self,
        bootstrap: &[(PartitionId, Option<BrokerId>)],
        cx: &mut Cx,
    ) {
        self.learn_leaders(bootstrap);
        self.client.producer_id = self.new_producer_id(cx);
        if self.transactional.is_some() {
            self.init_transactions(cx);
        }
    }

    /// The process died: the client and everything in it are gone.
    pub(crate) fn crash(&mut self) {
        let next_batch = self.client.batches.next_id();
        self.client = Client::new(next_batch, self.known.len(), self.transactional, None);
    }

    fn learn_leaders(&mut self, metadata: &[(PartitionId, Option<BrokerId>)]) {
        // Metadata lists a topic's partitions in id order (partitions added later get higher
        // ids): a binary search, not a scan of a thousand partitions for each of a thousand.
        debug_assert!(metadata.is_sorted_by_key(|(p, _)| *p));
        for kp in &mut self.known {
            let found = metadata
                .binary_search_by_key(&kp.partition, |(p, _)| *p)
                .ok()
                .map(|i| metadata[i]);
            if let Some((_, leader)) = found {
                kp.leader = leader;
            }
        }
    }

    /// New partitions of the topic, with their leaders: keys now hash over more partitions.
    pub(crate) fn topic_grew(&mut self, added: &[(PartitionId, Option<BrokerId>)]) {
        for &(partition, leader) in added {
            self.known.push(KnownPartition {
                partition,
                leader,
                metadata_token: 0,
            });
            self.client.parts.push(PartitionQueue::new());
            if let Some(txn) = self.client.txn.as_mut() {
                txn.add_partition_slot();
            }
        }
    }

    fn set_timer(&self, delay_us: u64, timer: ProducerTimer, cx: &mut Cx) {
        cx.set_timer(delay_us, Timer::Producer(timer));
    }

    fn set_timer_ms(&self, delay_ms: u64, timer: ProducerTimer, cx: &mut Cx) {
        cx.set_timer_ms(delay_ms, Timer::Producer(timer));
    }

    pub(crate) fn schedule_next_send(&mut self, cx: &mut Cx) {
        let now_ms = cx.now().as_ms();
        // Sends that fell while the producer was down never happened.
        while self.next_send < self.workload.len() && self.workload.at_ms(self.next_send) < now_ms {
            self.next_send += 1;
        }
        self.client.send_due = None;
        if self.next_send >= self.workload.len() {
            return;
        }
        let at = SimTime::from_ms(self.workload.at_ms(self.next_send));
        if at > cx.settings().stop_at {
            return;
        }
        let n = self.next_send as u32;
        self.client.send_due = Some(at);
        self.set_timer(at.0 - cx.now().0, ProducerTimer::Send { n }, cx);
    }

    /// The sender thread is awake: drain every partition whose linger deadline has passed,
    /// earliest deadline first (ties in the order they were set, as their timers would fire).
    fn drain_lingered(&mut self, cx: &mut Cx) {
        let now = cx.now();
        loop {
            let due = self
                .client
                .lingering
                .iter()
                .enumerate()
                .filter(|(_, e)| e.0 <= now)
                .min_by_key(|(i, e)| (e.0, *i))
                .map(|(i, _)| i);
            let Some(i) = due else {
                return;
            };
            let (_, part, cause) = self.client.lingering.remove(i);
            self.client.parts[part as usize].linger_armed = false;
            cx.caused_by_opt(cause, |cx| self.drain(part, cx));
        }
    }

    /// Linger deadlines that the next send does not come soon enough for get their own timers.
    fn arm_lingers_before_next_send(&mut self, cx: &mut Cx) {
        let next = self.client.send_due;
        let now = cx.now();
        let mut i = 0;
        while i < self.client.lingering.len() {
            let (deadline, part, cause) = self.client.lingering[i];
            if next.is_some_and(|at| at <= deadline) {
                i += 1;
                continue;
            }
            self.client.lingering.remove(i);
            cx.caused_by_opt(cause, |cx| {
                self.set_timer(
                    deadline.0.saturating_sub(now.0),
                    ProducerTimer::Linger { part },
                    cx,
                )
            });
        }
    }

    // ----- handlers -----------------------------------------------------------------------

    pub(crate) fn on_timer(&mut self, timer: ProducerTimer, cx: &mut Cx) {
        match timer {
            ProducerTimer::Send { n } => {
                if n as u64 != self.next_send {
                    // A stale timer.
                    return;
                }
                self.client.send_due = None;
                self.drain_lingered(cx);
                if !cx.running() {
                    // Finished: no more sends, so the lingering batches need timers.
                    self.arm_lingers_before_next_send(cx);
                    return;
                }
                // Every send due at this instant goes in one step.
                let now_ms = cx.now().as_ms();
                let mut n = n as u64;
                // The send after this step's: linger deadlines it comes in time for need no
                // timer (`schedule_next_send` sets that very timer after the loop).
                let mut after = n;
                while after < self.workload.len() && self.workload.at_ms(after) == now_ms {
                    after += 1;
                }
                self.client.send_due = (after < self.workload.len())
                    .then(|| SimTime::from_ms(self.workload.at_ms(after)))
                    .filter(|&at| at <= cx.settings().stop_at);
                loop {
                    self.app_send(n, cx);
                    n += 1;
                    self.next_send = n;
                    if n >= self.workload.len() || self.workload.at_ms(n) != now_ms {
                        break;
                    }
                }
                self.schedule_next_send(cx);
                self.arm_lingers_before_next_send(cx);
            }
            ProducerTimer::Linger { part } => {
                self.client.parts[part as usize].linger_armed = false;
                self.drain(part, cx);
            }
            ProducerTimer::Retry { batch } => {
                let Some(b) = self.client.batches.get(batch) else {
                    return;
                };
                if b.state != BatchState::Backoff {
                    return;
                }
                let part = b.part;
                self.client.batches[batch].state = BatchState::Queued;
                self.drain(part, cx);
            }
            ProducerTimer::RequestTimeout => {
                // Like NetworkClient.poll: expire every request whose request.timeout.ms has
                // passed, then wait for the next deadline. One timer per producer.
                self.client.timeout_armed = false;
                loop {
                    let c = &mut self.client;
                    let Some(&(batch, attempt, deadline, sent)) = c.deadlines.front() else {
                        break;
                    };
                    let b = &c.batches[batch];
                    if b.state != BatchState::InFlight || b.attempt != attempt {
                        c.deadlines.pop_front();
                        continue;
                    }
                    if deadline > cx.now() {
                        c.timeout_armed = true;
                        let wait = deadline.0 - cx.now().0;
                        self.set_timer(wait, ProducerTimer::RequestTimeout, cx);
                        break;
                    }
                    c.deadlines.pop_front();
                    let part = b.part;
                    c.parts[part as usize].in_flight -= 1;
                    // The expiry is caused by the request that got no answer, not by whatever
                    // first armed this shared timer.
                    cx.caused_by(sent, |cx| {
                        self.batch_failed(batch, ErrorCode::RequestTimedOut, cx);
                        self.drain(part, cx);
                    });
                }
            }
            ProducerTimer::TxnRetry { token } => self.txn_retry(token, cx),
            ProducerTimer::DeliveryTimeout => {
                if self.client.delivery_armed == Some(cx.now()) {
                    self.client.delivery_armed = None;
                    self.expire_batches(cx);
                }
                // Otherwise a superseded check.
            }
            ProducerTimer::Reconnect { broker, token } => self.reconnect(broker, token, cx),
            ProducerTimer::MetadataTimeout { part, token } => {
                let pq = &mut self.client.parts[part as usize];
                if pq.metadata_pending && self.known[part as usize].metadata_token == token {
                    pq.metadata_pending = false;
                    self.request_metadata(part, cx);
                }
            }
        }
    }

    pub(crate) fn on_message(&mut self, _from: NodeId, msg: Msg, cx: &mut Cx) {
        match msg {
            Msg::ProduceResponse {
                batch,
                attempt,
                result,
                ..
            } => self.produce_response(batch, attempt, result, cx),
            Msg::MetadataUpdate { .. } => {}
            // A broker this producer has requests in flight to died: each fails with
            // NETWORK_EXCEPTION, as on a disconnect in Kafka's NetworkClient.
            Msg::ConnectionClosed { peer } => {
                let dead = BrokerId(peer.0);
                // Rare (a crash), so collecting allocates off the hot path.
                let failed: Vec<(u32, u32)> = self
                    .requests_in_flight_to(dead)
                    .map(|(_, batch, attempt)| (batch, attempt))
                    .collect();
                for (batch, attempt) in failed {
                    let reset = ProduceResult::Err(ErrorCode::NetworkException);
                    self.produce_response(batch, attempt, reset, cx);
                }
            }
            Msg::TxnResponse { resp } => self.txn_response(resp, cx),
            Msg::MetadataResponse {
                partition,
                leader,
                token,
                ..
            } => self.metadata_response(partition, leader, token, cx),
            // Requests and responses for brokers, the controller and consumers.
            Msg::Produce { .. }
            | Msg::ReplicaFetch { .. }
            | Msg::ReplicaFetchResponse { .. }
            | Msg::ConsumerFetch { .. }
            | Msg::ListOffsets { .. }
            | Msg::ListOffsetsResponse { .. }
            | Msg::ConsumerFetchResponse { .. }
            | Msg::BrokerHeartbeat { .. }
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::PartitionChange { .. }
            | Msg::AlterPartition { .. }
            | Msg::AlterPartitionResponse { .. }
            | Msg::WriteTxnMarker { .. }
            | Msg::WriteTxnMarkerResponse { .. }
            | Msg::Txn { .. }
            | Msg::MetadataRequest { .. }
            | Msg::Group { .. }
            | Msg::TxnOffsetCommit { .. }
            | Msg::TxnOffsetCommitResponse { .. }
            | Msg::TxnOffsetMarker { .. }
            | Msg::TxnOffsetMarkerResponse { .. }
            | Msg::Share(_)
            | Msg::GroupResponse { .. } => {}
        }
    }

    fn produce_response(&mut self, batch: u32, attempt: u32, result: ProduceResult, cx: &mut Cx) {
        let Some(b) = self.client.batches.get(batch) else {
            // A request of the client that died before this one.
            return;
        };
        if let (ProduceResult::Err(ErrorCode::NetworkException), Some(broker)) =
            (&result, b.sent_to)
        {
            // The connection was reset (the broker's process is gone): the node is not ready
            // until a reconnect succeeds, and metadata is refreshed
            // (NetworkClient.processDisconnection). acks=0 learns only this.
            let part = b.part;
            self.connection_failed(broker, cx);
            self.request_metadata(part, cx);
        }
        let c = &mut self.client;
        let b = &c.batches[batch];
        if b.state != BatchState::InFlight || b.attempt != attempt {
            return;
        }
        let part = b.part;
        c.parts[part as usize].in_flight -= 1;
        match result {
            ProduceResult::Ok { base_offset } => {
                let b = &mut c.batches[batch];
                b.state = BatchState::Done;
                let last = b.base_seq + b.count as i32 - 1;
                let pq = &mut c.parts[part as usize];
                pq.last_acked_seq = pq.last_acked_seq.max(last);
                let (start, count) = (b.start as usize, b.count as usize);
                c.open_batches -= 1;
                if self.transactional.is_some() && self.embedded_in.is_some() {
                    // A processor's output: its consumer learns of the transaction's end.
                    self.drain(part, cx);
                    self.txn_maybe_end(cx);
                    return;
                }
                if let Some(consumer) = self.embedded_in {
                    // A processor's output or a dead letter, not an application send.
                    self.drain(part, cx);
                    cx.local(Local::SendCompleted {
                        consumer,
                        producer: self.id,
                    });
                    return;
                }
                self.acked += count as u64;
                let partition = self.known[part as usize].partition;
                for i in 0..count {
                    let msg = self.client.parts[part as usize].records.at(start + i);
                    // A transactional send completes here too (`KafkaProducer.send`'s future
                    // completes on the produce response); its record is in the log, in a
                    // transaction still open.
                    if let Some(t) = self.client.txn.as_mut() {
                        t.mark_acked(msg);
                    }
                    cx.emit(Trace::Acked {
                        producer: self.id,
                        msg,
                        partition,
                        offset: Some(base_offset + i as u64),
                    });
                }
                if self.transactional.is_some() {
                    self.drain(part, cx);
                    self.txn_maybe_end(cx);
                    return;
                }
            }
            ProduceResult::Err(e) => self.batch_failed(batch, e, cx),
        }
        self.drain(part, cx);
    }

    fn metadata_response(
        &mut self,
        partition: PartitionId,
        leader: Option<BrokerId>,
        token: u32,
        cx: &mut Cx,
    ) {
        let Some(part) = self.known.iter().position(|x| x.partition == partition) else {
            return;
        };
        let kp = &mut self.known[part];
        let pq = &mut self.client.parts[part];
        if !pq.metadata_pending || kp.metadata_token != token {
            return;
        }
        pq.metadata_pending = false;
        kp.leader = leader;
        if leader.is_none() {
            // Offline partition: ask again after the backoff.
            pq.metadata_pending = true;
            kp.metadata_token += 1;
            let token = kp.metadata_token;
            let part = part as u32;
            self.set_timer_ms(
                self.retry_backoff_ms,
                ProducerTimer::MetadataTimeout { part, token },
                cx,
            );
            return;
        }
        self.drain(part as u32, cx);
    }

    // ----- the application's sends --------------------------------------------------------

    /// The application calls `send()` for its n-th message.
    pub(crate) fn app_send(&mut self, n: u64, cx: &mut Cx) {
        if self.txn_defer_send(n) {
            return;
        }
        let key = match &self.workload {
            Workload::Explicit(v) => v[n as usize].1,
            Workload::Stream {
                keys,
                distribution,
                zipf_cdf,
                ..
            } => {
                if keys.is_empty() {
                    None
                } else {
                    let i = match distribution {
                        KeyDistribution::RoundRobin => (n % keys.len() as u64) as usize,
                        KeyDistribution::Uniform => cx.random_range(0..keys.len() as u32) as usize,
                        KeyDistribution::Zipf => {
                            let x: f64 = cx.rng().random();
                            zipf_cdf.partition_point(|&c| c < x).min(keys.len() - 1)
                        }
                    };
                    Some(keys[i])
                }
            }
        };
        let nparts = self.known.len() as u32;
        let local = match key {
            Some(k) => {
                let c = &mut self.client;
                if c.key_partitions_for != nparts as usize {
                    c.key_partitions = KeyTable::default();
                    c.key_partitions_for = nparts as usize;
                }
                c.key_partitions
                    .get_or_fill(k, || partition_for_key(cx.key_name(k), nparts))
            }
            None => self.keyless_partition(cx),
        };
        let partition = self.known[local as usize].partition;
        let msg = cx.register_msg(MsgInfo {
            producer: self.id,
            n: (n + 1) as u32,
            key,
            partition,
        });
        let now = cx.now();
        self.sent += 1;
        self.enqueue(local, msg, key.is_none(), now);
        if key.is_none() {
            self.keyless_appended(local, cx);
        }
        let produced = cx.emit(Trace::Produced {
            producer: self.id,
            msg,
            partition,
            key,
        });
        // What the send sets off (a batch going out now, or its linger deadline) is caused by
        // the application's `send()`.
        cx.caused_by(produced, |cx| {
            self.arm_delivery_timeout(now, cx);
            self.txn_record_added(local, msg, cx);
            self.drain(local, cx);
            if self.transactional.is_some() && n + 1 == self.workload.len() {
                // The application's last send: it commits what is left before it exits.
                self.txn_begin_end(true, cx);
            }
        });
    }

    /// A record a consumer hands its embedded producer: a processor's output (the input's
    /// message id, written to the output topic, in the processor's transaction if it has one),
    /// or a dead letter. `key` is the input record's key.
    pub(crate) fn send_output(&mut self, msg: MsgId, key: Option<u32>, cx: &mut Cx) {
        let now = cx.now();
        let nparts = self.known.len() as u32;
        let local = match key {
            Some(k) => partition_for_key(cx.key_name(k), nparts),
            None => self.keyless_partition(cx),
        };
        self.enqueue(local, msg, key.is_none(), now);
        if key.is_none() {
            self.keyless_appended(local, cx);
        }
        self.arm_delivery_timeout(now, cx);
        self.txn_record_added(local, msg, cx);
        self.drain(local, cx);
    }

    fn sticky(&self) -> u32 {
        self.sticky.unwrap_or(0)
    }

    /// The partition for a keyless record.
    fn keyless_partition(&mut self, cx: &mut Cx) -> u32 {
        match self.partitioner {
            Partitioner::Sticky => self.sticky(),
            Partitioner::UniformSticky => {
                // `RecordAccumulator.append`: a switch held back while the partition's batch
                // was not full happens at the next append once it is (`allBatchesFull`).
                if self.sticky_records >= self.max_batch_records && self.batch_full(self.sticky()) {
                    self.next_sticky(cx);
                }
                self.sticky()
            }
            Partitioner::RoundRobin => {
                // The pre-2.4 `DefaultPartitioner`: the next of the partitions with a leader
                // (`availablePartitionsForTopic`), or of all if none has one.
                let n = self.known.len() as u32;
                let counter = self.round_robin;
                self.round_robin = counter.wrapping_add(1);
                let available: Vec<u32> = (0..n)
                    .filter(|&p| self.known[p as usize].leader.is_some())
                    .collect();
                if available.is_empty() {
                    counter % n
                } else {
                    available[(counter % available.len() as u32) as usize]
                }
            }
        }
    }

    /// A keyless record was appended to `part`. The uniform sticky partitioner
    /// (`BuiltInPartitioner.updatePartitionInfo`, KIP-794) switches once `batch.size` has been
    /// produced to the partition and its batches are full, or once twice `batch.size` has
    /// been, whatever the batches. Simplification: records have one size, so `batch.size` is
    /// `max_batch_records` records.
    fn keyless_appended(&mut self, part: u32, cx: &mut Cx) {
        if self.partitioner != Partitioner::UniformSticky || part != self.sticky() {
            return;
        }
        self.sticky_records += 1;
        let batch = self.max_batch_records;
        if (self.sticky_records >= batch && self.batch_full(part))
            || self.sticky_records >= batch.saturating_mul(2)
        {
            self.next_sticky(cx);
        }
    }

    /// `RecordAccumulator.allBatchesFull`: the partition's queue holds only full batches.
    fn batch_full(&self, part: u32) -> bool {
        let pq = &self.client.parts[part as usize];
        pq.records.len() - pq.batched >= self.max_batch_records as usize
    }

    /// `BuiltInPartitioner.nextPartition`: a new sticky partition. With adaptive partitioning
    /// (`updatePartitionLoadStats`) each partition with a leader is weighted by the longest
    /// queue + 1 minus its own queue (batches waiting in the accumulator), and partitions whose
    /// leader has been unreachable for `partitioner.availability.timeout.ms` are left out;
    /// when every queue is equal and none is left out, or adaptive partitioning is off, the
    /// pick is uniform over the partitions with a leader. The pick may be the same partition.
    ///
    /// Simplification: "unreachable" is the producer's connection to the leader being down
    /// (Kafka measures how long the leader's node has had data it could not send).
    fn next_sticky(&mut self, cx: &mut Cx) {
        self.sticky_records = 0;
        let n = self.known.len() as u32;
        if n < 2 {
            return;
        }
        let now = cx.now();
        let batch = self.max_batch_records as usize;
        let mut ids: Vec<u32> = Vec::new();
        let mut sizes: Vec<u32> = Vec::new();
        for p in 0..n {
            let Some(leader) = self.known[p as usize].leader else {
                continue;
            };
            if self.adaptive_partitioning && self.availability_timeout_ms > 0 {
                let stuck = self.client.conns.get(leader.idx()).is_some_and(|c| {
                    c.down
                        && now.0.saturating_sub(c.down_since.0)
                            > self.availability_timeout_ms * 1000
                });
                if stuck {
                    continue;
                }
            }
            let pq = &self.client.parts[p as usize];
            let waiting = (pq.records.len() - pq.batched).div_ceil(batch) + pq.retry.len();
            ids.push(p);
            sizes.push(waiting as u32);
        }
        let all_equal = sizes.windows(2).all(|w| w[0] == w[1]);
        let next = if !self.adaptive_partitioning
            || ids.is_empty()
            || (all_equal && ids.len() == n as usize)
        {
            // Uniform over the available partitions (or all, if none has a leader).
            let available: Vec<u32> = (0..n)
                .filter(|&p| self.known[p as usize].leader.is_some())
                .collect();
            if available.is_empty() {
                cx.random_range(0..n)
            } else {
                available[cx.random_range(0..available.len() as u32) as usize]
            }
        } else {
            // The cumulative frequency table of the inverted queue sizes.
            let max_plus_1 = sizes.iter().copied().max().unwrap_or(0) + 1;
            let mut cft = Vec::with_capacity(sizes.len());
            let mut sum = 0;
            for s in &sizes {
                sum += max_plus_1 - s;
                cft.push(sum);
            }
            let r = cx.random_range(0..sum);
            ids[cft.partition_point(|&c| c <= r)]
        };
        self.sticky = Some(next);
    }

    /// Put a record in its partition's queue.
    fn enqueue(&mut self, part: u32, msg: MsgId, keyless: bool, now: SimTime) {
        let pq = &mut self.client.parts[part as usize];
        if pq.batched == pq.records.len() {
            pq.oldest_queued = now;
        }
        pq.records.push(msg);
        pq.keyless.push(keyless);
        pq.queued_at.push_back(now);
    }

    // ----- the sender ---------------------------------------------------------------------

    /// Send whatever this partition may send now: retries first, then new batches that are
    /// full or have lingered long enough.
    pub(crate) fn drain(&mut self, part: u32, cx: &mut Cx) {
        self.maybe_resolve_sequence(part);
        if self.client.epoch_bump_pending && !self.bump_idempotent_epoch(cx) {
            return;
        }
        loop {
            let now = cx.now();
            let max_in_flight = self.max_in_flight;
            let idempotent = self.idempotent;
            let linger_us = self.linger_ms * 1000;
            let max_batch = self.max_batch_records as usize;
            let c = &mut self.client;
            if c.txn.as_ref().is_some_and(|t| !t.may_send(part)) {
                // Wait until the partition has joined the transaction (AddPartitionsToTxn).
                return;
            }
            let Some(leader) = self.known[part as usize].leader else {
                self.request_metadata(part, cx);
                return;
            };
            if c.conns.get(leader.idx()).is_some_and(|c| c.down) {
                // NetworkClient.isReady is false: batches wait in the accumulator until the
                // connection comes back or metadata names another leader.
                return;
            }
            let pq = &mut c.parts[part as usize];
            if pq.in_flight >= max_in_flight {
                return;
            }
            if !pq.retry.is_empty() {
                // An idempotent producer resends one batch at a time, in sequence order, and
                // holds later batches back, so the broker sees sequences without gaps (Kafka's
                // RecordAccumulator stops draining a partition that has an earlier retry
                // pending).
                if idempotent {
                    let first = pq.retry[0];
                    if pq.in_flight > 0 || c.batches[first].state != BatchState::Queued {
                        return;
                    }
                    pq.retry.remove(0);
                    self.send_batch(first, cx);
                    continue;
                }
                // Kafka re-enqueues a failed batch at the head of the partition's queue and does
                // not drain the partition while that head is backing off: nothing unsent
                // overtakes it, only batches already in flight can.
                let head = pq.retry[0];
                if c.batches[head].state != BatchState::Queued {
                    return;
                }
                pq.retry.remove(0);
                self.send_batch(head, cx);
                continue;
            }
            let queued = pq.records.len() - pq.batched;
            if queued == 0 {
                return;
            }
            if pq.unresolved.is_some() {
                // `RecordAccumulator.shouldStopDrainBatchesForPartition`: no new batch takes
                // sequence numbers while earlier ones are of unknown fate.
                return;
            }
            let lingered = now.0 >= pq.oldest_queued.0 + linger_us;
            if queued < max_batch && !lingered {
                if !pq.linger_armed {
                    pq.linger_armed = true;
                    let deadline = SimTime(pq.oldest_queued.0 + linger_us);
                    if c.send_due.is_some_and(|at| at <= deadline) {
                        // The application's next send wakes the sender in time.
                        c.lingering.push((deadline, part, cx.cause()));
                    } else {
                        let wait = deadline.0 - now.0;
                        self.set_timer(wait, ProducerTimer::Linger { part }, cx);
                    }
                }
                return;
            }
            let count = queued.min(max_batch) as u32;
            let start = pq.batched as u32;
            pq.batched += count as usize;
            pq.oldest_queued = now;
            let created = pq.queued_at.front().copied().unwrap_or(now);
            pq.queued_at.drain(..count as usize);
            let base_seq = pq.next_seq;
            pq.next_seq = pq.next_seq.wrapping_add(count as i32);
            let batch = c.batches.push(Batch {
                part,
                start,
                count,
                base_seq,
                attempt: 0,
                created,
                state: BatchState::Queued,
                sent_to: None,
            });
            c.parts[part as usize].open.push_back(batch);
            let batches = &c.batches;
            compact(&mut c.parts[part as usize].open, |&b| {
                batches[b].state != BatchState::Done
            });
            c.open_batches += 1;
            // KIP-480's sticky partitioner (`Partitioner::Sticky`) moves on once a batch of
            // keyless records is closed (`StickyPartitionCache.nextPartition`). A batch holding
            // only keyed records never used the sticky partition, and a draw for it would
            // decide nothing: it leaves the sticky partition and the random stream alone.
            // Simplification: Java's `onNewBatch` also moves on when a keyed record opens a
            // batch on the sticky partition; that differs only for a producer that mixes keyed
            // and keyless records.
            let keyless = c.parts[part as usize]
                .keyless
                .any_in(start as usize..(start + count) as usize, |&k| k);
            if self.partitioner == Partitioner::Sticky
                && keyless
                && self.sticky() == part
                && self.known.len() > 1
            {
                let n = self.known.len() as u32;
                let r = cx.random_range(0..n - 1);
                self.sticky = Some(if r >= part { r + 1 } else { r });
            }
            self.send_batch(batch, cx);
        }
    }

    fn send_batch(&mut self, batch: u32, cx: &mut Cx) {
        let b = &mut self.client.batches[batch];
        b.attempt += 1;
        let (attempt, part, count) = (b.attempt, b.part, b.count);
        let (start, base_seq) = (b.start as usize, b.base_seq);
        let partition = self.known[part as usize].partition;
        let leader = self.known[part as usize]
            .leader
            .expect("leader known before sending");
        let first_msg = self.client.parts[part as usize].records.at(start);
        let (producer_id, producer_epoch) = (self.client.producer_id, self.client.epoch);
        let transactional = self.transactional.is_some();
        if attempt > 1 {
            self.retried += 1;
            cx.emit(Trace::Retried {
                producer: self.id,
                partition,
                first_msg,
                count,
                attempt,
            });
        }
        let records = cx.alloc_record_buf();
        self.client.parts[part as usize]
            .records
            .copy_range_into(start..start + count as usize, cx.record_buf_mut(records));
        let to = cx.broker_node(leader);
        let sent = cx.send_request(
            to,
            Msg::Produce {
                producer: self.id,
                partition,
                batch,
                attempt,
                records,
                producer_id,
                producer_epoch,
                base_seq: if producer_id.is_some() { base_seq } else { -1 },
                acks: self.acks,
                timeout_ms: self.request_timeout_ms as u32,
                transactional,
            },
        );
        let c = &mut self.client;
        c.batches[batch].sent_to = Some(leader);
        if self.acks == Acks::None {
            // Fire and forget: success the moment it is on the wire.
            c.batches[batch].state = BatchState::Done;
            c.open_batches -= 1;
            self.acked += count as u64;
            for i in 0..count as usize {
                let msg = self.client.parts[part as usize].records.at(start + i);
                cx.emit(Trace::Acked {
                    producer: self.id,
                    msg,
                    partition,
                    offset: None,
                });
            }
            return;
        }
        c.batches[batch].state = BatchState::InFlight;
        c.parts[part as usize].in_flight += 1;
        let deadline = cx.now().plus_ms(self.request_timeout_ms);
        c.deadlines.push_back((batch, attempt, deadline, sent));
        let batches = &c.batches;
        compact(&mut c.deadlines, |&(b, attempt, _, _)| {
            batches[b].state == BatchState::InFlight && batches[b].attempt == attempt
        });
        if !c.timeout_armed {
            c.timeout_armed = true;
            self.set_timer_ms(self.request_timeout_ms, ProducerTimer::RequestTimeout, cx);
        }
    }

    /// A send attempt failed: retry after the backoff if allowed, else give up on its records.
    fn batch_failed(&mut self, batch: u32, error: ErrorCode, cx: &mut Cx) {
        let now = cx.now();
        self.last_error = Some((now, error));
        let b = &self.client.batches[batch];
        let part = b.part;
        let partition = self.known[part as usize].partition;
        let first_msg = self.client.parts[part as usize]
            .records
            .at(b.start as usize);
        let expired = now.0 >= b.created.0 + self.delivery_timeout_ms * 1000;
        let will_retry = error.is_retriable() && b.attempt <= self.retries && !expired;
        let count = b.count;
        let transactional = self.transactional.is_some();
        cx.emit(Trace::ProduceError {
            producer: self.id,
            partition,
            first_msg,
            count,
            error,
            will_retry: will_retry && !(transactional && error == ErrorCode::InvalidProducerEpoch),
        });
        if transactional && error == ErrorCode::InvalidProducerEpoch {
            // Abortable (KIP-588): recover with an InitProducerId, or learn we were fenced.
            self.txn_stale_epoch(error, cx);
            return;
        }
        if error == ErrorCode::OutOfOrderSequenceNumber && !transactional {
            self.maybe_reset_sequences(batch);
        }
        if matches!(
            error,
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::RequestTimedOut
                | ErrorCode::NetworkException
        ) {
            self.request_metadata(part, cx);
        }
        if will_retry {
            let c = &mut self.client;
            c.batches[batch].state = BatchState::Backoff;
            let seq = c.batches[batch].base_seq;
            let pq = &mut c.parts[part as usize];
            // Idempotent retries go back in sequence order; otherwise at the head (addFirst).
            let pos = if self.idempotent {
                pq.retry.partition_point(|&x| c.batches[x].base_seq < seq)
            } else {
                0
            };
            pq.retry.insert(pos, batch);
            // KIP-580: retry.backoff.ms doubles per attempt up to retry.backoff.max.ms, ±20%.
            let attempt = c.batches[batch].attempt.min(20);
            let base = (self.retry_backoff_ms * 1000)
                .saturating_mul(1 << (attempt - 1))
                .min(self.retry_backoff_max_ms * 1000);
            let jitter = cx.random_range(0..=base / 5 * 2);
            let backoff = base - base / 5 + jitter;
            self.set_timer(backoff, ProducerTimer::Retry { batch }, cx);
            return;
        }
        let final_error = if expired {
            ErrorCode::DeliveryTimeout
        } else {
            error
        };
        self.give_up_batch(batch, final_error, cx);
    }

    /// The batch will not be sent again: complete its records' sends with `final_error`.
    fn give_up_batch(&mut self, batch: u32, final_error: ErrorCode, cx: &mut Cx) {
        let c = &mut self.client;
        let b = &mut c.batches[batch];
        b.state = BatchState::Done;
        let (part, start, count) = (b.part as usize, b.start as usize, b.count as usize);
        let (attempt, next_seq) = (b.attempt, b.base_seq + b.count as i32);
        c.open_batches -= 1;
        if attempt > 0 && self.idempotent && self.transactional.is_none() {
            if final_error == ErrorCode::DeliveryTimeout {
                // The batch was sent, so the broker may or may not have its sequence numbers:
                // a timeout proves nothing. Kafka fails it without touching sequences
                // (`Sender.sendProducerData` expires it with `adjustSequenceNumbers = false`)
                // and marks the partition unresolved (`markSequenceUnresolved`): the batches
                // after it keep their epoch and sequences and are retried (the broker answers
                // a retry of one of its last 5 batches with the original offset), and
                // `maybeResolveSequences` decides once they are answered.
                let pq = &mut c.parts[part];
                pq.unresolved = Some(pq.unresolved.map_or(next_seq, |u| u.max(next_seq)));
            } else {
                // KIP-360 (Kafka 2.5+, `TransactionManager.handleFailedBatch`): an error that
                // ends the batch leaves a gap in its sequences; later batches would hit
                // OUT_OF_ORDER_SEQUENCE_NUMBER forever, so the producer bumps its epoch and
                // restarts its sequences. Simplification: Kafka bumps at once only for
                // non-retriable errors and leaves a batch that ran out of `retries` to the next
                // batch's OUT_OF_ORDER_SEQUENCE_NUMBER, which bumps too; the model bumps in both
                // cases.
                c.epoch_bump_pending = true;
            }
        }
        if self.transactional.is_some() {
            // The transaction cannot commit with a failed send: abort it; its records are
            // reported when the abort completes.
            self.txn_abort_after(final_error, cx);
            return;
        }
        if let Some(consumer) = self.embedded_in {
            // A processor's output was lost: the application carries on (at-least-once
            // pipelines without flush error handling lose it downstream).
            cx.local(Local::SendCompleted {
                consumer,
                producer: self.id,
            });
            return;
        }
        self.failed += count as u64;
        for i in 0..count {
            let msg = self.client.parts[part].records.at(start + i);
            cx.emit(Trace::Failed {
                producer: self.id,
                msg,
                error: final_error,
            });
        }
    }

    /// Make sure a `delivery.timeout.ms` check is pending for a record or batch created at
    /// `created`. One timer per producer: it fires at the earliest deadline and re-arms itself.
    fn arm_delivery_timeout(&mut self, created: SimTime, cx: &mut Cx) {
        let deadline = created.plus_ms(self.delivery_timeout_ms);
        if self.client.delivery_armed.is_some_and(|t| t <= deadline) {
            return;
        }
        self.client.delivery_armed = Some(deadline);
        let wait = deadline.0.saturating_sub(cx.now().0);
        self.set_timer(wait, ProducerTimer::DeliveryTimeout, cx);
    }

    /// KIP-91: `delivery.timeout.ms` bounds the time from `send()` to its callback. Like the
    /// Java client's `Sender` (`RecordAccumulator.expiredBatches` for batches waiting in the
    /// accumulator, whether or not their partition has a leader, and
    /// `Sender.getExpiredInflightBatches` for batches on the wire), expire every batch whose
    /// deadline has passed and fail its records with DELIVERY_TIMEOUT. A response that arrives
    /// for an expired in-flight batch is ignored.
    ///
    /// Simplification: records wait unbatched until their partition can send (the model forms
    /// a batch when it is drained); an expired run of them is failed as one batch created when
    /// its oldest record was sent, which is when Kafka would have created it.
    fn expire_batches(&mut self, cx: &mut Cx) {
        let now = cx.now();
        let dt = self.delivery_timeout_ms * 1000;
        let expired_at = |t: SimTime| t.0 + dt <= now.0;
        for part in 0..self.client.parts.len() {
            let mut freed = false;
            loop {
                let c = &mut self.client;
                let pq = &mut c.parts[part];
                let Some(&batch) = pq.open.front() else {
                    break;
                };
                let b = &c.batches[batch];
                match b.state {
                    BatchState::Done => {
                        pq.open.pop_front();
                        continue;
                    }
                    _ if !expired_at(b.created) => break,
                    BatchState::InFlight => pq.in_flight -= 1,
                    BatchState::Backoff | BatchState::Queued => pq.retry.retain(|&x| x != batch),
                }
                pq.open.pop_front();
                freed = true;
                self.give_up_batch(batch, ErrorCode::DeliveryTimeout, cx);
            }
            let c = &mut self.client;
            let pq = &mut c.parts[part];
            let count = pq.queued_at.iter().take_while(|&&t| expired_at(t)).count();
            if count > 0 {
                let created = pq.queued_at[0];
                let start = pq.batched as u32;
                pq.batched += count;
                pq.queued_at.drain(..count);
                pq.oldest_queued = pq.queued_at.front().copied().unwrap_or(now);
                let batch = c.batches.push(Batch {
                    part: part as u32,
                    start,
                    count: count as u32,
                    // Never drained, so it never took sequence numbers.
                    base_seq: -1,
                    attempt: 0,
                    created,
                    state: BatchState::Queued,
                    sent_to: None,
                });
                c.open_batches += 1;
                self.give_up_batch(batch, ErrorCode::DeliveryTimeout, cx);
            }
            if freed {
                self.drain(part as u32, cx);
            }
        }
        // The next deadline.
        let c = &self.client;
        let next = c
            .parts
            .iter()
            .flat_map(|pq| {
                let batch = pq
                    .open
                    .iter()
                    .map(|&b| &c.batches[b])
                    .find(|b| b.state != BatchState::Done)
                    .map(|b| b.created);
                batch.into_iter().chain(pq.queued_at.front().copied())
            })
            .min();
        if let Some(created) = next {
            self.arm_delivery_timeout(created, cx);
        }
    }

    /// A connection to `broker` was refused or reset: back off `reconnect.backoff.ms`, doubling
    /// up to `reconnect.backoff.max.ms` with ±20% jitter (`ClusterConnectionStates`).
    fn connection_failed(&mut self, broker: BrokerId, cx: &mut Cx) {
        let conns = &mut self.client.conns;
        if conns.len() <= broker.idx() {
            conns.resize(broker.idx() + 1, ConnState::default());
        }
        let c = &mut conns[broker.idx()];
        c.backoff_ms = if c.down {
            (c.backoff_ms * 2).min(RECONNECT_BACKOFF_MAX_MS)
        } else {
            RECONNECT_BACKOFF_MS
        };
        if !c.down {
            c.down_since = cx.now();
        }
        c.down = true;
        c.token = c.token.wrapping_add(1);
        let (token, base) = (c.token, c.backoff_ms * 1000);
        let jitter = cx.random_range(0..=base / 5 * 2);
        let wait = base - base / 5 + jitter;
        self.set_timer(wait, ProducerTimer::Reconnect { broker, token }, cx);
    }

    /// A reconnect attempt. Simplification: its outcome is known at once (the broker's process
    /// is up or not), without modelling the TCP handshake.
    fn reconnect(&mut self, broker: BrokerId, token: u32, cx: &mut Cx) {
        let Some(c) = self.client.conns.get(broker.idx()) else {
            return;
        };
        if !c.down || c.token != token {
            return;
        }
        if !cx.can_connect(cx.broker_node(broker)) {
            // Refused again; every failed attempt also asks for fresh metadata.
            self.connection_failed(broker, cx);
            for part in 0..self.known.len() as u32 {
                if self.known[part as usize].leader == Some(broker) {
                    self.request_metadata(part, cx);
                }
            }
            return;
        }
        self.client.conns[broker.idx()].down = false;
        for part in 0..self.known.len() as u32 {
            if self.known[part as usize].leader == Some(broker) {
                self.drain(part, cx);
            }
        }
    }

    fn request_metadata(&mut self, part: u32, cx: &mut Cx) {
        let pq = &mut self.client.parts[part as usize];
        if pq.metadata_pending {
            return;
        }
        pq.metadata_pending = true;
        let kp = &mut self.known[part as usize];
        kp.metadata_token += 1;
        let (partition, token) = (kp.partition, kp.metadata_token);
        cx.send(
            cx.controller_node(),
            Msg::MetadataRequest { partition, token },
        );
        self.set_timer_ms(
            self.request_timeout_ms,
            ProducerTimer::MetadataTimeout { part, token },
            cx,
        );
    }

    /// KIP-360 (`TransactionManager.bumpIdempotentEpochAndResetIdIfNeeded`): once no request
    /// is in flight, bump the producer epoch and renumber every unacknowledged batch from 0 on
    /// each partition; a broker accepts sequence 0 of a newer epoch. Returns false while
    /// requests are still in flight (nothing is sent meanwhile).
    ///
    /// Simplifications: the epoch is bumped locally, not by an `InitProducerId` round trip (like
    /// the producer id itself), and the producer waits for all its partitions, not just the one
    /// with the unresolved sequence.
    fn bump_idempotent_epoch(&mut self, cx: &mut Cx) -> bool {
        let c = &mut self.client;
        if c.parts.iter().any(|pq| pq.in_flight > 0) {
            return false;
        }
        c.epoch_bump_pending = false;
        c.epoch = c.epoch.wrapping_add(1);
        for part in 0..c.parts.len() {
            let open: Vec<u32> = c.parts[part]
                .open
                .iter()
                .copied()
                .filter(|&b| c.batches[b].state != BatchState::Done)
                .collect();
            let next = renumber(&mut c.batches, open);
            let pq = &mut c.parts[part];
            pq.next_seq = next;
            pq.last_acked_seq = -1;
            pq.unresolved = None;
        }
        for part in 0..self.client.parts.len() as u32 {
            self.drain(part, cx);
        }
        true
    }

    /// `TransactionManager.maybeResolveSequences`: once no batch with sequence numbers is
    /// outstanding on a partition whose sequence is unresolved, the partition is resolved if the
    /// last acknowledged sequence is the one before the next sequence (later batches were
    /// acknowledged, so the broker had the expired one); otherwise the idempotent producer bumps
    /// its epoch (KIP-360). A transactional producer never gets here: any failed batch already
    /// aborts its transaction (an abortable error, `maybeTransitionToErrorState`).
    fn maybe_resolve_sequence(&mut self, part: u32) {
        let c = &mut self.client;
        let pq = &c.parts[part as usize];
        if pq.unresolved.is_none()
            || pq
                .open
                .iter()
                .any(|&b| c.batches[b].state != BatchState::Done)
        {
            return;
        }
        if pq.last_acked_seq.wrapping_add(1) != pq.next_seq {
            c.epoch_bump_pending = true;
        }
        c.parts[part as usize].unresolved = None;
    }

    /// KIP-360 (`TransactionManager.canRetry`): an idempotent producer that gets
    /// OUT_OF_ORDER_SEQUENCE_NUMBER for the batch that should come next knows there is a gap:
    /// with no unresolved sequence, the batch after the last acknowledged one with nothing
    /// earlier outstanding (the broker lost its state, e.g. an unclean election truncated the
    /// log); with an unresolved sequence, the batch right after the expired one (the broker never
    /// had it). It bumps its epoch and renumbers the partition's unacknowledged batches from 0,
    /// as Kafka 2.5+ does. Any other OUT_OF_ORDER_SEQUENCE_NUMBER is retried as it is.
    fn maybe_reset_sequences(&mut self, batch: u32) {
        let c = &mut self.client;
        let part = c.batches[batch].part;
        let seq = c.batches[batch].base_seq;
        let pq = &c.parts[part as usize];
        if let Some(next) = pq.unresolved {
            if seq != next {
                return;
            }
        } else {
            if seq != pq.last_acked_seq.wrapping_add(1) {
                return;
            }
            let earlier_pending = pq.in_flight > 0
                || pq
                    .retry
                    .iter()
                    .any(|&b| b != batch && c.batches[b].base_seq < seq);
            if earlier_pending {
                return;
            }
        }
        c.epoch = c.epoch.wrapping_add(1);
        let open: Vec<u32> = c
            .batches
            .iter()
            .filter(|(_, b)| b.part == part && b.state != BatchState::Done)
            .map(|(id, _)| id)
            .collect();
        let next = renumber(&mut c.batches, open);
        let pq = &mut c.parts[part as usize];
        pq.next_seq = next;
        pq.last_acked_seq = -1;
        pq.unresolved = None;
    }
}

/// Give `open` (one partition's unacknowledged batches) sequence numbers from 0, in their
/// current sequence order; returns the next sequence number.
fn renumber(batches: &mut Batches, mut open: Vec<u32>) -> i32 {
    open.sort_by_key(|&b| batches[b].base_seq);
    let mut next = 0i32;
    for b in open {
        batches[b].base_seq = next;
        next += batches[b].count as i32;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::WorkloadConfig;
    use crate::sim::cx::testkit::{advance_to, kernel, take_sent, take_trace, timers};
    use crate::sim::wire::{TxnRequest, TxnResponse};
    use crate::sim::{Kernel, NodeKind};

    const LEADER: BrokerId = BrokerId(0);
    /// Brokers 0 and 1, the controller, then the producer.
    const ME: NodeId = NodeId(3);

    fn config() -> ProducerConfig {
        ProducerConfig {
            name: "app".to_string(),
            topic: TopicId(0),
            acks: Acks::All,
            retries: 10,
            idempotent: true,
            max_in_flight: 5,
            request_timeout_ms: 30_000,
            delivery_timeout_ms: 120_000,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1000,
            linger_ms: 0,
            max_batch_records: 1,
            partitioner: Partitioner::Sticky,
            adaptive_partitioning: true,
            availability_timeout_ms: 0,
            transactional: None,
            workload: WorkloadConfig::Messages(Vec::new()),
        }
    }

    /// A started producer on `partitions` partitions (all led by broker 0) whose application
    /// sends `sends` keyless records at time 0.
    /// A producer on `partitions` partitions (all led by broker 1) with `workload`, not started.
    fn built(spec: &ProducerConfig, partitions: u32, workload: Workload) -> (Kernel, Producer) {
        let k = kernel(&[
            NodeKind::Broker(BrokerId(0)),
            NodeKind::Broker(BrokerId(1)),
            NodeKind::Controller,
            NodeKind::Producer(ProducerId(0)),
        ]);
        let parts: Vec<PartitionId> = (0..partitions).map(PartitionId).collect();
        let p = Producer::new(spec, ProducerId(0), ME, TopicId(0), &parts, workload);
        (k, p)
    }

    fn start(k: &mut Kernel, p: &mut Producer) {
        let bootstrap: Vec<_> = (0..p.known.len() as u32)
            .map(|q| (PartitionId(q), Some(LEADER)))
            .collect();
        p.on_start(&bootstrap, &mut Cx::new(k, ME));
    }

    fn started(spec: &ProducerConfig, partitions: u32, sends: usize) -> (Kernel, Producer) {
        let (mut k, mut p) = built(
            spec,
            partitions,
            Workload::Explicit(vec![(0, None); sends].into()),
        );
        start(&mut k, &mut p);
        (k, p)
    }

    /// Fire the application's due sends (as the event loop would at time 0).
    fn send_all(k: &mut Kernel, p: &mut Producer) {
        p.on_timer(ProducerTimer::Send { n: 0 }, &mut Cx::new(k, ME));
    }

    /// A produce request as the producer sent it.
    #[derive(Debug, PartialEq)]
    struct Sent {
        partition: PartitionId,
        batch: u32,
        attempt: u32,
        base_seq: i32,
        epoch: u16,
        records: usize,
    }

    fn produces(k: &mut Kernel) -> Vec<Sent> {
        take_sent(k)
            .into_iter()
            .filter_map(|(_, _, msg)| as_sent(k, &msg))
            .collect()
    }

    /// A produce request as the tests look at it.
    fn as_sent(k: &Kernel, msg: &Msg) -> Option<Sent> {
        match *msg {
            Msg::Produce {
                partition,
                batch,
                attempt,
                base_seq,
                producer_epoch,
                records,
                ..
            } => Some(Sent {
                partition,
                batch,
                attempt,
                base_seq,
                epoch: producer_epoch,
                records: k.record_bufs[records as usize].len(),
            }),
            _ => None,
        }
    }

    fn respond(k: &mut Kernel, p: &mut Producer, s: &Sent, result: ProduceResult) {
        let msg = Msg::ProduceResponse {
            partition: s.partition,
            batch: s.batch,
            attempt: s.attempt,
            result,
        };
        p.on_message(NodeId(LEADER.0), msg, &mut Cx::new(k, ME));
    }

    fn fire(k: &mut Kernel, p: &mut Producer, at: SimTime, timer: ProducerTimer) {
        advance_to(k, at);
        p.on_timer(timer, &mut Cx::new(k, ME));
    }

    /// The producer timers that match `want` and are still to fire (`fire` runs a timer
    /// without taking it from the queue), with when they fire.
    fn pending(k: &mut Kernel, want: fn(&ProducerTimer) -> bool) -> Vec<(SimTime, ProducerTimer)> {
        let now = k.now;
        timers(k)
            .into_iter()
            .filter_map(|(at, _, t)| match t {
                Timer::Producer(t) if at > now && want(&t) => Some((at, t)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_idempotent_producer_numbers_each_partition_from_zero_and_a_resend_keeps_its_sequence() {
        let (mut k, mut p) = started(&config(), 2, 0);
        let mut cx = Cx::new(&mut k, ME);
        // One batch per record (max_batch_records = 1); the sticky partitioner moves to the
        // other partition after each, so both get some.
        for _ in 0..3 {
            p.send_output(MsgId(0), None, &mut cx);
        }
        let sent = produces(&mut k);
        assert_eq!(sent.len(), 3);
        for q in [PartitionId(0), PartitionId(1)] {
            assert!(
                sent.iter().any(|s| s.partition == q),
                "nothing sent to {q:?}"
            );
            let seqs: Vec<i32> = sent
                .iter()
                .filter(|s| s.partition == q)
                .map(|s| s.base_seq)
                .collect();
            let expected: Vec<i32> = (0..seqs.len() as i32).collect();
            assert_eq!(seqs, expected, "sequences on {q:?}");
        }
        // The first batch fails with a retriable error and goes again with its sequence.
        let first = &sent[0];
        respond(
            &mut k,
            &mut p,
            first,
            ProduceResult::Err(ErrorCode::NotEnoughReplicas),
        );
        for s in &sent[1..] {
            respond(&mut k, &mut p, s, ProduceResult::Ok { base_offset: 0 });
        }
        let retry = pending(&mut k, |t| matches!(t, ProducerTimer::Retry { .. }));
        assert_eq!(retry.len(), 1);
        fire(&mut k, &mut p, retry[0].0, retry[0].1);
        let again = produces(&mut k);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].batch, first.batch);
        assert_eq!(again[0].base_seq, first.base_seq);
        assert_eq!(again[0].attempt, first.attempt + 1);
    }

    #[test]
    fn a_batch_of_keyed_records_leaves_the_sticky_partition_and_the_random_stream_alone() {
        let (mut k, mut p) = started(&config(), 3, 0);
        k.keys = std::rc::Rc::new((0..6).map(|i| format!("key-{i}")).collect());
        let sticky = p.sticky;
        let rng_before = k.rng.clone();
        let mut cx = Cx::new(&mut k, ME);
        // One batch per record (max_batch_records = 1); six keyed records close six batches,
        // some of them on the sticky partition.
        for key in 0..6 {
            p.send_output(MsgId(key), Some(key), &mut cx);
        }
        let sent = produces(&mut k);
        assert_eq!(sent.len(), 6);
        let sticky_partition = PartitionId(sticky.unwrap());
        assert!(sent.iter().any(|s| s.partition == sticky_partition));
        assert_eq!(p.sticky, sticky, "a keyed batch moved the sticky partition");
        assert_eq!(k.rng, rng_before, "a keyed batch drew a random number");
        // A keyless record's batch closes on the sticky partition and moves it on.
        let mut cx = Cx::new(&mut k, ME);
        p.send_output(MsgId(6), None, &mut cx);
        assert_ne!(
            p.sticky, sticky,
            "a keyless batch did not move the sticky partition"
        );
    }

    /// The partitions of the produce requests sent so far, in order.
    fn sent_partitions(k: &mut Kernel) -> Vec<u32> {
        produces(k).iter().map(|s| s.partition.0).collect()
    }

    fn keyless(p: &mut Producer, k: &mut Kernel, records: u32) {
        let mut cx = Cx::new(k, ME);
        for m in 0..records {
            p.send_output(MsgId(m), None, &mut cx);
        }
    }

    #[test]
    fn uniform_sticky_stays_on_a_partition_until_a_batch_size_has_been_produced_to_it() {
        // linger.ms = 0: every record goes out in a batch of its own, never a full one. KIP-480
        // would move after each; KIP-794 stays until twice batch.size (3 records) has been
        // produced, as no batch was full when a record was appended.
        let spec = ProducerConfig {
            max_batch_records: 3,
            partitioner: Partitioner::UniformSticky,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 3, 0);
        keyless(&mut p, &mut k, 6);
        let counts: Vec<usize> = p.client.parts.iter().map(|q| q.records.len()).collect();
        assert!(counts.contains(&6), "{counts:?}");
        assert!(sent_partitions(&mut k).len() > 1, "one batch per record");
        assert_eq!(
            p.sticky_records, 0,
            "the sixth record did not end the stint"
        );

        // With a long linger the records wait and the third fills the batch: the switch comes
        // after batch.size records.
        let spec = ProducerConfig {
            linger_ms: 60_000,
            ..spec
        };
        let (mut k, mut p) = started(&spec, 3, 0);
        keyless(&mut p, &mut k, 2);
        assert_eq!(p.sticky_records, 2);
        assert!(sent_partitions(&mut k).is_empty());
        keyless(&mut p, &mut k, 1);
        assert_eq!(sent_partitions(&mut k).len(), 1, "the full batch went out");
        assert_eq!(p.sticky_records, 0, "a full batch did not end the stint");
    }

    #[test]
    fn adaptive_partitioning_steers_away_from_the_partition_with_the_longer_queue() {
        let spec = ProducerConfig {
            max_batch_records: 3,
            linger_ms: 60_000,
            partitioner: Partitioner::UniformSticky,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 2, 0);
        // Ten batches wait for partition 1, none for partition 0.
        let pq = &mut p.client.parts[1];
        for m in 0..30 {
            pq.records.push(MsgId(m));
            pq.keyless.push(true);
            pq.queued_at.push_back(SimTime::ZERO);
        }
        let mut cx = Cx::new(&mut k, ME);
        let mut on_0 = 0;
        for _ in 0..200 {
            p.next_sticky(&mut cx);
            on_0 += u32::from(p.sticky == Some(0));
        }
        // Weights 11 : 1 (longest queue + 1 minus each queue).
        assert!(on_0 > 170, "partition 0 picked {on_0} of 200 times");

        // Without adaptive partitioning the pick is uniform.
        p.adaptive_partitioning = false;
        let mut on_0 = 0;
        for _ in 0..200 {
            p.next_sticky(&mut cx);
            on_0 += u32::from(p.sticky == Some(0));
        }
        assert!(
            (60..140).contains(&on_0),
            "partition 0 picked {on_0} of 200 times"
        );
    }

    #[test]
    fn round_robin_sends_each_keyless_record_to_the_next_partition() {
        let spec = ProducerConfig {
            partitioner: Partitioner::RoundRobin,
            max_batch_records: 10,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 3, 0);
        keyless(&mut p, &mut k, 7);
        let parts = sent_partitions(&mut k);
        assert_eq!(parts.len(), 7);
        for w in parts.windows(2) {
            assert_eq!(w[1], (w[0] + 1) % 3, "{parts:?}");
        }
    }

    #[test]
    fn sticky_moves_to_another_partition_after_every_batch_of_keyless_records() {
        // KIP-480: with one record per batch, each record goes elsewhere than the last.
        let spec = ProducerConfig {
            partitioner: Partitioner::Sticky,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 3, 0);
        keyless(&mut p, &mut k, 8);
        let parts = sent_partitions(&mut k);
        assert_eq!(parts.len(), 8);
        for w in parts.windows(2) {
            assert_ne!(w[0], w[1], "{parts:?}");
        }
    }

    #[test]
    fn out_of_order_sequence_on_the_next_expected_batch_bumps_the_epoch_and_restarts_sequences() {
        let (mut k, mut p) = started(&config(), 1, 2);
        send_all(&mut k, &mut p);
        let sent = produces(&mut k);
        assert_eq!(sent.iter().map(|s| s.base_seq).collect::<Vec<_>>(), [0, 1]);
        respond(
            &mut k,
            &mut p,
            &sent[0],
            ProduceResult::Ok { base_offset: 0 },
        );
        // The broker lost the producer's state (say, an unclean election truncated the log).
        respond(
            &mut k,
            &mut p,
            &sent[1],
            ProduceResult::Err(ErrorCode::OutOfOrderSequenceNumber),
        );
        let retry = pending(&mut k, |t| matches!(t, ProducerTimer::Retry { .. }));
        fire(&mut k, &mut p, retry[0].0, retry[0].1);
        let again = produces(&mut k);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].batch, sent[1].batch);
        assert_eq!(again[0].epoch, sent[1].epoch + 1, "KIP-360 bumps the epoch");
        assert_eq!(again[0].base_seq, 0, "and renumbers from 0");
    }

    /// An idempotent producer on one partition whose application sends one record at 0 and
    /// two at 100 ms (three batches in flight, sequences 0 to 2) and a fourth at 2.05 s, after
    /// the first batch's `delivery.timeout.ms` (2 s) ran out with no answer.
    fn first_batch_expired() -> (Kernel, Producer, Vec<Sent>) {
        let spec = ProducerConfig {
            delivery_timeout_ms: 2_000,
            ..config()
        };
        let workload =
            Workload::Explicit(vec![(0, None), (100, None), (100, None), (2050, None)].into());
        let (mut k, mut p) = built(&spec, 1, workload);
        start(&mut k, &mut p);
        send_all(&mut k, &mut p);
        fire(
            &mut k,
            &mut p,
            SimTime::from_ms(100),
            ProducerTimer::Send { n: 1 },
        );
        let sent = produces(&mut k);
        assert_eq!(
            sent.iter().map(|s| s.base_seq).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        let check = pending(&mut k, |t| matches!(t, ProducerTimer::DeliveryTimeout));
        assert_eq!(check[0].0, SimTime::from_ms(2_000));
        fire(&mut k, &mut p, check[0].0, check[0].1);
        assert_eq!(p.failed, 1);
        fire(
            &mut k,
            &mut p,
            SimTime::from_ms(2050),
            ProducerTimer::Send { n: 3 },
        );
        (k, p, sent)
    }

    #[test]
    fn an_expired_sent_batch_leaves_its_sequence_unresolved_until_later_acks_resolve_it() {
        let (mut k, mut p, sent) = first_batch_expired();
        // `shouldStopDrainBatchesForPartition`: no new batch while the sequence is unresolved.
        assert!(produces(&mut k).is_empty(), "the fourth record waits");
        assert_eq!(p.queued(), 1);
        // The later batches are acknowledged: the broker had sequence 0 after all.
        respond(
            &mut k,
            &mut p,
            &sent[1],
            ProduceResult::Ok { base_offset: 1 },
        );
        assert!(
            produces(&mut k).is_empty(),
            "sequence 2 is still outstanding"
        );
        respond(
            &mut k,
            &mut p,
            &sent[2],
            ProduceResult::Ok { base_offset: 2 },
        );
        let next = produces(&mut k);
        assert_eq!(next.len(), 1);
        assert_eq!(
            (next[0].epoch, next[0].base_seq),
            (sent[0].epoch, 3),
            "resolved with no epoch bump: the sequences go on"
        );
    }

    #[test]
    fn out_of_order_sequence_right_after_an_unresolved_one_bumps_the_epoch() {
        let (mut k, mut p, sent) = first_batch_expired();
        // The broker never had sequence 0: the batch after it is refused.
        respond(
            &mut k,
            &mut p,
            &sent[1],
            ProduceResult::Err(ErrorCode::OutOfOrderSequenceNumber),
        );
        respond(
            &mut k,
            &mut p,
            &sent[2],
            ProduceResult::Err(ErrorCode::OutOfOrderSequenceNumber),
        );
        let retry = pending(&mut k, |t| matches!(t, ProducerTimer::Retry { .. }));
        let first = retry.iter().min_by_key(|r| r.0).expect("a retry");
        fire(&mut k, &mut p, first.0, first.1);
        let again = produces(&mut k);
        assert_eq!(again[0].batch, sent[1].batch);
        assert_eq!(
            (again[0].epoch, again[0].base_seq),
            (sent[1].epoch + 1, 0),
            "KIP-360: a new epoch, sequences from 0"
        );
    }

    #[test]
    fn delivery_timeout_fails_a_batch_in_flight_and_its_late_ack_is_ignored() {
        let spec = ProducerConfig {
            delivery_timeout_ms: 2_000,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 1, 1);
        send_all(&mut k, &mut p);
        let sent = produces(&mut k);
        take_trace(&mut k);
        let check = pending(&mut k, |t| matches!(t, ProducerTimer::DeliveryTimeout));
        assert_eq!(check[0].0, SimTime::from_ms(spec.delivery_timeout_ms));
        fire(&mut k, &mut p, check[0].0, check[0].1);
        let trace = take_trace(&mut k);
        assert!(
            trace.iter().any(|t| matches!(
                t,
                Trace::Failed {
                    error: ErrorCode::DeliveryTimeout,
                    ..
                }
            )),
            "{trace:?}"
        );
        assert_eq!(p.failed, 1);
        respond(
            &mut k,
            &mut p,
            &sent[0],
            ProduceResult::Ok { base_offset: 0 },
        );
        assert!(
            !take_trace(&mut k)
                .iter()
                .any(|t| matches!(t, Trace::Acked { .. }))
        );
        assert_eq!(p.acked, 0);
    }

    #[test]
    fn request_timeout_expires_the_request_refreshes_metadata_and_resends() {
        let spec = ProducerConfig {
            request_timeout_ms: 500,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 1, 1);
        send_all(&mut k, &mut p);
        let sent = produces(&mut k);
        let expire = pending(&mut k, |t| matches!(t, ProducerTimer::RequestTimeout));
        assert_eq!(expire[0].0, SimTime::from_ms(spec.request_timeout_ms));
        fire(&mut k, &mut p, expire[0].0, expire[0].1);
        let asked: Vec<_> = take_sent(&mut k)
            .into_iter()
            .filter(|(_, to, m)| {
                *to == k.controller_node && matches!(m, Msg::MetadataRequest { .. })
            })
            .collect();
        assert_eq!(asked.len(), 1, "a timed-out request refreshes metadata");
        assert_eq!(p.in_flight(), 0);
        let retry = pending(&mut k, |t| matches!(t, ProducerTimer::Retry { .. }));
        fire(&mut k, &mut p, retry[0].0, retry[0].1);
        let again = produces(&mut k);
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].batch, again[0].attempt), (sent[0].batch, 2));
        // The first attempt's late answer no longer counts.
        respond(
            &mut k,
            &mut p,
            &sent[0],
            ProduceResult::Ok { base_offset: 0 },
        );
        assert_eq!((p.acked, p.in_flight()), (0, 1));
    }

    #[test]
    fn acks_zero_counts_as_sent_with_no_response_and_no_request_timeout() {
        let spec = ProducerConfig {
            acks: Acks::None,
            idempotent: false,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 1, 3);
        send_all(&mut k, &mut p);
        assert_eq!(produces(&mut k).len(), 3);
        let acked: Vec<_> = take_trace(&mut k)
            .into_iter()
            .filter(|t| matches!(t, Trace::Acked { offset: None, .. }))
            .collect();
        assert_eq!(acked.len(), 3);
        assert_eq!(p.acked, 3);
        assert!(p.is_idle());
        assert!(pending(&mut k, |t| matches!(t, ProducerTimer::RequestTimeout)).is_empty());
    }

    #[test]
    fn linger_holds_a_partial_batch_until_it_expires() {
        let spec = ProducerConfig {
            linger_ms: 50,
            max_batch_records: 10,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 1, 3);
        send_all(&mut k, &mut p);
        assert!(
            produces(&mut k).is_empty(),
            "3 of 10 records wait for linger.ms"
        );
        let linger = pending(&mut k, |t| matches!(t, ProducerTimer::Linger { .. }));
        assert_eq!(linger.len(), 1);
        assert_eq!(linger[0].0, SimTime::from_ms(spec.linger_ms));
        fire(&mut k, &mut p, linger[0].0, linger[0].1);
        let sent = produces(&mut k);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].records, 3);
    }

    #[test]
    fn the_next_send_wakes_the_sender_for_a_linger_deadline_and_only_the_last_needs_a_timer() {
        let spec = ProducerConfig {
            linger_ms: 5,
            max_batch_records: 10,
            ..config()
        };
        // One keyless record every millisecond, 0 to 6 ms.
        let sends = (0..7).map(|ms| (ms, None)).collect();
        let (mut k, mut p) = built(&spec, 1, Workload::Explicit(sends));
        start(&mut k, &mut p);
        let lingers = |k: &mut Kernel| pending(k, |t| matches!(t, ProducerTimer::Linger { .. }));
        for n in 0..5 {
            fire(
                &mut k,
                &mut p,
                SimTime::from_ms(n),
                ProducerTimer::Send { n: n as u32 },
            );
            assert!(
                lingers(&mut k).is_empty(),
                "the send at {} ms comes first",
                n + 1
            );
        }
        assert!(produces(&mut k).is_empty(), "5 of 10 records linger");
        // At 5 ms the deadline of the first record has come: the batch goes before the new send.
        fire(
            &mut k,
            &mut p,
            SimTime::from_ms(5),
            ProducerTimer::Send { n: 5 },
        );
        let sent = produces(&mut k);
        assert_eq!(sent.iter().map(|s| s.records).collect::<Vec<_>>(), [5]);
        // The last send: no send follows, so its batch's deadline (5 + 5 ms) gets a timer.
        fire(
            &mut k,
            &mut p,
            SimTime::from_ms(6),
            ProducerTimer::Send { n: 6 },
        );
        let timers = lingers(&mut k);
        assert_eq!(timers.len(), 1, "{timers:?}");
        assert_eq!(timers[0].0, SimTime::from_ms(10));
        fire(&mut k, &mut p, timers[0].0, timers[0].1);
        assert_eq!(
            produces(&mut k)
                .iter()
                .map(|s| s.records)
                .collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn max_in_flight_limits_requests_per_partition() {
        let spec = ProducerConfig {
            max_in_flight: 2,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 1, 5);
        send_all(&mut k, &mut p);
        let sent = produces(&mut k);
        assert_eq!(sent.len(), spec.max_in_flight as usize);
        assert_eq!(p.queued(), 5 - spec.max_in_flight as usize);
        respond(
            &mut k,
            &mut p,
            &sent[0],
            ProduceResult::Ok { base_offset: 0 },
        );
        let next = produces(&mut k);
        assert_eq!(next.len(), 1, "one answer frees one slot");
        assert_eq!(next[0].base_seq, sent[1].base_seq + 1);
    }

    #[test]
    fn retry_backoff_doubles_per_attempt_up_to_the_max_with_jitter() {
        let spec = ProducerConfig {
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 700,
            ..config()
        };
        let (mut k, mut p) = started(&spec, 1, 1);
        send_all(&mut k, &mut p);
        let mut sent = produces(&mut k).remove(0);
        for attempt in 1..=5u32 {
            let now = k.now;
            respond(
                &mut k,
                &mut p,
                &sent,
                ProduceResult::Err(ErrorCode::NotEnoughReplicas),
            );
            let retry = pending(&mut k, |t| matches!(t, ProducerTimer::Retry { .. }));
            assert_eq!(retry.len(), 1);
            let wait_us = retry[0].0.0 - now.0;
            let base_us = ((spec.retry_backoff_ms * 1000) << (attempt - 1))
                .min(spec.retry_backoff_max_ms * 1000);
            assert!(
                (base_us - base_us / 5..=base_us + base_us / 5).contains(&wait_us),
                "attempt {attempt}: waited {wait_us} µs, base {base_us} µs"
            );
            fire(&mut k, &mut p, retry[0].0, retry[0].1);
            sent = produces(&mut k).remove(0);
            assert_eq!(sent.attempt, attempt + 1);
        }
    }

    /// A started transactional producer (two records per transaction) under
    /// `transaction_version`, whose application has sent `records` records; and its coordinator.
    fn transactional_sent(records: usize, transaction_version: u8) -> (Kernel, Producer, BrokerId) {
        let spec = ProducerConfig {
            max_batch_records: 10,
            ..config()
        };
        let (mut k, mut p) = built(
            &spec,
            1,
            Workload::Explicit(vec![(0, None); records].into()),
        );
        k.settings.transaction_version = transaction_version;
        p.set_transactional(Some(Transactional {
            txn: 0,
            size: 2,
            timeout_ms: 60_000,
        }));
        // The event loop's stand-in for FindCoordinator.
        let coordinator = BrokerId(1);
        p.client.coordinator = Some(coordinator);
        start(&mut k, &mut p);
        send_all(&mut k, &mut p);
        (k, p, coordinator)
    }

    #[test]
    fn a_transactional_producer_inits_first_and_adds_a_partition_before_producing_to_it() {
        let (mut k, mut p, coordinator) = transactional_sent(2, 1);
        let txn_requests = |k: &mut Kernel| -> Vec<TxnRequest> {
            take_sent(k)
                .into_iter()
                .filter_map(|(_, to, m)| match m {
                    Msg::Txn { req, .. } if to == NodeId(coordinator.0) => Some(req),
                    Msg::Produce { .. } => panic!("produced before the partition was added"),
                    _ => None,
                })
                .collect()
        };
        let init = txn_requests(&mut k);
        let [TxnRequest::InitProducerId { token, .. }] = init[..] else {
            panic!("expected only InitProducerId, got {init:?}");
        };
        assert_eq!(
            p.queued(),
            0,
            "send() blocks until initTransactions() returns"
        );
        let epoch = 3;
        let resp = TxnResponse::InitProducerId {
            token,
            result: Ok((77, epoch)),
        };
        let from = NodeId(coordinator.0);
        p.on_message(from, Msg::TxnResponse { resp }, &mut Cx::new(&mut k, ME));
        let add = txn_requests(&mut k);
        assert!(
            matches!(add[..], [TxnRequest::AddPartitions { partition: PartitionId(0), epoch: e }] if e == epoch),
            "{add:?}"
        );
        let resp = TxnResponse::AddPartitions {
            partition: PartitionId(0),
            error: ErrorCode::None,
        };
        p.on_message(from, Msg::TxnResponse { resp }, &mut Cx::new(&mut k, ME));
        let sent = produces(&mut k);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0].records, sent[0].epoch, sent[0].base_seq),
            (2, epoch, 0)
        );
    }

    #[test]
    fn with_transactions_v2_the_producer_adds_no_partition_and_takes_the_epoch_end_txn_returns() {
        let (mut k, mut p, coordinator) = transactional_sent(4, 2);
        let from = NodeId(coordinator.0);
        // What the producer sent: its transactional requests and its produce requests.
        let txn_requests = |k: &mut Kernel| -> (Vec<TxnRequest>, Vec<Sent>) {
            let mut reqs = Vec::new();
            let mut sent = Vec::new();
            for (_, _, m) in take_sent(k) {
                match m {
                    Msg::Txn { req, .. } => reqs.push(req),
                    m => sent.extend(as_sent(k, &m)),
                }
            }
            (reqs, sent)
        };
        let (init, _) = txn_requests(&mut k);
        let [TxnRequest::InitProducerId { token, .. }] = init[..] else {
            panic!("expected only InitProducerId, got {init:?}");
        };
        let resp = TxnResponse::InitProducerId {
            token,
            result: Ok((77, 3)),
        };
        p.on_message(from, Msg::TxnResponse { resp }, &mut Cx::new(&mut k, ME));
        let (reqs, sent) = txn_requests(&mut k);
        assert!(reqs.is_empty(), "no AddPartitionsToTxn: {reqs:?}");
        let written: Vec<_> = sent.iter().map(|s| (s.epoch, s.base_seq)).collect();
        assert_eq!(written, [(3, 0), (3, 1)], "produced at once");
        for (i, s) in sent.iter().enumerate() {
            let base_offset = i as u64;
            respond(&mut k, &mut p, s, ProduceResult::Ok { base_offset });
        }
        let (reqs, _) = txn_requests(&mut k);
        let [
            TxnRequest::EndTxn {
                epoch: 3,
                commit: true,
                token,
            },
        ] = reqs[..]
        else {
            panic!("expected EndTxn, got {reqs:?}");
        };
        let resp = TxnResponse::EndTxn {
            token,
            error: ErrorCode::None,
            epoch: Some(4),
        };
        p.on_message(from, Msg::TxnResponse { resp }, &mut Cx::new(&mut k, ME));
        let (_, sent) = txn_requests(&mut k);
        assert_eq!(
            (sent[0].epoch, sent[0].base_seq),
            (4, 0),
            "the next transaction writes with the bumped epoch, sequences from 0"
        );
    }

    /// A processor's transaction whose offsets the group coordinator refuses with `error`: the
    /// transactional requests sent after the refusal.
    fn offsets_refused_with(error: ErrorCode) -> (Producer, Vec<TxnRequest>) {
        let (mut k, mut p, coordinator) = transactional_sent(1, 2);
        let from = NodeId(coordinator.0);
        // The transactional requests sent; produce requests are acknowledged at once.
        let txn_requests = |k: &mut Kernel, p: &mut Producer| -> Vec<TxnRequest> {
            let mut reqs = Vec::new();
            for (_, _, m) in take_sent(k) {
                match m {
                    Msg::Txn { req, .. } => reqs.push(req),
                    m => {
                        if let Some(s) = as_sent(k, &m) {
                            respond(k, p, &s, ProduceResult::Ok { base_offset: 0 });
                        }
                    }
                }
            }
            reqs
        };
        let [TxnRequest::InitProducerId { token, .. }] = txn_requests(&mut k, &mut p)[..] else {
            panic!("InitProducerId first");
        };
        let resp = TxnResponse::InitProducerId {
            token,
            result: Ok((77, 3)),
        };
        p.on_message(from, Msg::TxnResponse { resp }, &mut Cx::new(&mut k, ME));
        assert!(
            txn_requests(&mut k, &mut p).is_empty(),
            "the record is written"
        );
        // The workload's last send commits its transaction.
        let [TxnRequest::EndTxn { token, .. }] = txn_requests(&mut k, &mut p)[..] else {
            panic!("the record is written and its transaction commits");
        };
        let resp = TxnResponse::EndTxn {
            token,
            error: ErrorCode::None,
            epoch: Some(4),
        };
        p.on_message(from, Msg::TxnResponse { resp }, &mut Cx::new(&mut k, ME));
        // Then a processor's sendOffsetsToTransaction and commitTransaction.
        let member = crate::sim::wire::GroupMetadata {
            incarnation: 0,
            generation: 1,
        };
        let offsets = Box::new([(PartitionId(0), 8)]);
        let cx = &mut Cx::new(&mut k, ME);
        p.commit_with_offsets(GroupId(0), ConsumerId(0), member, offsets, cx);
        let reqs = txn_requests(&mut k, &mut p);
        let [
            TxnRequest::AddOffsets {
                token, member: m, ..
            },
        ] = reqs[..]
        else {
            panic!(
                "sendOffsetsToTransaction, not {reqs:?} ({:?})",
                p.client.txn
            );
        };
        assert_eq!(m, member, "the group metadata goes with the offsets");
        let resp = TxnResponse::AddOffsets { token, error };
        p.on_message(from, Msg::TxnResponse { resp }, &mut Cx::new(&mut k, ME));
        let reqs = txn_requests(&mut k, &mut p);
        (p, reqs)
    }

    #[test]
    fn offsets_fenced_for_an_old_generation_abort_the_transaction() {
        let (_, reqs) = offsets_refused_with(ErrorCode::IllegalGeneration);
        assert!(
            matches!(reqs[..], [TxnRequest::EndTxn { commit: false, .. }]),
            "KIP-447: the zombie's transaction aborts: {reqs:?}"
        );
    }

    #[test]
    fn offsets_at_a_stale_member_epoch_are_a_fatal_error_not_a_retry() {
        let (p, reqs) = offsets_refused_with(ErrorCode::StaleMemberEpoch);
        assert!(reqs.is_empty(), "no retry of the refused offsets: {reqs:?}");
        assert_eq!(
            p.client.txn.as_ref().map(|t| t.state),
            Some(crate::sim::txn_client::TxnClientState::Failed),
            "the transaction manager stops for good"
        );
        assert_eq!(
            p.last_error.map(|(_, e)| e),
            Some(ErrorCode::StaleMemberEpoch)
        );
    }

    #[test]
    fn a_crash_takes_the_client_and_a_restart_gets_a_new_producer_id() {
        let (mut k, mut p) = started(&config(), 1, 1);
        send_all(&mut k, &mut p);
        let sent = produces(&mut k);
        let before = p.client.producer_id;
        p.crash();
        assert!(p.is_idle(), "nothing queued or in flight survives");
        assert_eq!(p.sent, 1, "the application's counters do");
        k.nodes[ME.idx()].incarnation += 1;
        p.on_start(&[], &mut Cx::new(&mut k, ME));
        assert!(p.client.producer_id.is_some());
        assert_ne!(p.client.producer_id, before);
        let asked = take_sent(&mut k)
            .into_iter()
            .filter(|(_, _, m)| matches!(m, Msg::MetadataRequest { .. }))
            .count();
        assert_eq!(asked, 1, "the new client refreshes its metadata");
        // The dead client's request is answered late: it matches nothing.
        respond(
            &mut k,
            &mut p,
            &sent[0],
            ProduceResult::Ok { base_offset: 0 },
        );
        assert_eq!(p.acked, 0);
    }

    #[test]
    fn an_embedded_producer_tells_its_consumer_when_a_send_completes() {
        let (mut k, mut p) = started(&config(), 1, 0);
        p.embedded_in = Some(ConsumerId(4));
        p.send_output(MsgId(0), None, &mut Cx::new(&mut k, ME));
        let sent = produces(&mut k);
        assert!(k.locals.is_empty());
        respond(
            &mut k,
            &mut p,
            &sent[0],
            ProduceResult::Ok { base_offset: 0 },
        );
        assert!(matches!(
            k.locals.pop_front(),
            Some(Local::SendCompleted {
                consumer: ConsumerId(4),
                producer: ProducerId(0)
            })
        ));
        assert_eq!(p.acked, 0, "an output record is not an application send");
    }
}
