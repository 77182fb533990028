//! The producer: Kafka's `RecordAccumulator` + `Sender` in miniature. Records are grouped into
//! per-partition batches (`linger.ms`, a record-count stand-in for `batch.size`), pipelined up to
//! `max.in.flight.requests.per.connection`, retried after `retry.backoff.ms` until `retries` or
//! `delivery.timeout.ms` run out. With idempotence (KIP-98) every batch carries a producer id and
//! sequence numbers and retries go out in sequence order.
//!
//! Simplifications: the in-flight limit is per partition (Kafka's is per broker connection,
//! which is the same when each broker leads one of the producer's partitions); the producer id
//! is assigned locally instead of by an `InitProducerId` round trip; metadata comes from the
//! controller rather than from any broker's metadata cache.

use rand::RngExt;

use crate::sim::config::{Acks, KeyDistribution, ProducerConfig};
use crate::sim::ids::*;
use crate::sim::partitioner::partition_for_key;
use crate::sim::trace::Trace;
use crate::sim::wire::{Msg, ProduceResult};
use crate::sim::{Phase, Sim, Timer};

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
    /// Index into `Producer::parts`.
    pub part: u32,
    /// Index of the first record in that partition's `records`.
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

/// `reconnect.backoff.ms` and `reconnect.backoff.max.ms` (Kafka's defaults; not configurable in
/// scenarios).
const RECONNECT_BACKOFF_MS: u64 = 50;
const RECONNECT_BACKOFF_MAX_MS: u64 = 1000;

/// The producer's connection to one broker.
#[derive(Clone, Copy, Debug, Default)]
struct ConnState {
    /// Refused or reset: not ready until a reconnect succeeds.
    down: bool,
    /// The backoff before the next reconnect attempt.
    backoff_ms: u64,
    token: u32,
}

/// The producer's view of one partition of its topic.
#[derive(Clone, Debug)]
pub struct ProducerPartition {
    pub partition: PartitionId,
    /// Every record ever sent to this partition, in send order.
    pub records: Vec<MsgId>,
    /// Records before this index are in batches.
    pub batched: usize,
    /// When the oldest record not yet batched arrived.
    oldest_queued: SimTime,
    /// When each record not yet in a batch was sent, oldest first (for `delivery.timeout.ms`).
    queued_at: std::collections::VecDeque<SimTime>,
    /// Batches not yet done, in creation order (so also in `created` order).
    open: std::collections::VecDeque<u32>,
    linger_armed: bool,
    pub next_seq: i32,
    /// Highest sequence number acknowledged on this partition (-1: none).
    pub last_acked_seq: i32,
    pub in_flight: u32,
    /// Batches waiting to be resent (backing off or ready), in sequence order.
    pub retry: Vec<u32>,
    pub leader: Option<BrokerId>,
    metadata_token: u32,
    metadata_pending: bool,
}

impl ProducerPartition {
    fn new(partition: PartitionId, leader: Option<BrokerId>) -> ProducerPartition {
        ProducerPartition {
            partition,
            records: Vec::new(),
            batched: 0,
            oldest_queued: SimTime::ZERO,
            queued_at: Default::default(),
            open: Default::default(),
            linger_armed: false,
            next_seq: 0,
            last_acked_seq: -1,
            in_flight: 0,
            retry: Vec::new(),
            leader,
            metadata_token: 0,
            metadata_pending: false,
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
        keys: Vec<u32>,
        distribution: KeyDistribution,
        /// Cumulative Zipf weights over `keys`.
        zipf_cdf: Vec<f64>,
    },
    Explicit(Vec<(u64, Option<u32>)>),
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

#[derive(Clone, Debug)]
pub struct Producer {
    pub name: String,
    pub node: NodeId,
    pub topic: TopicId,
    pub acks: Acks,
    pub retries: u32,
    pub idempotent: bool,
    /// The idempotent producer id, if idempotence is on.
    pub producer_id: Option<u32>,
    /// The producer epoch (bumped by each `InitProducerId` of a transactional producer).
    pub epoch: u16,
    /// The transaction manager of a transactional producer.
    pub txn: Option<crate::sim::txn::TxnClient>,
    /// A processor's producer lives inside that consumer's process.
    pub embedded_in: Option<ConsumerId>,
    pub max_in_flight: u32,
    pub request_timeout_ms: u64,
    pub delivery_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    pub retry_backoff_max_ms: u64,
    pub linger_ms: u64,
    pub max_batch_records: u32,
    pub parts: Vec<ProducerPartition>,
    pub batches: Vec<Batch>,
    pub(crate) workload: Workload,
    /// Index of the next scheduled send.
    pub next_send: u64,
    sticky: u32,
    /// Partition of each interned key for the current partition count (`u32::MAX`: not yet
    /// hashed), so murmur2 runs once per key rather than once per send.
    key_partitions: Vec<u32>,
    key_partitions_for: usize,
    /// Batches not yet `Done`.
    open_batches: u32,
    /// Requests in flight with their `request.timeout.ms` deadlines, in send order.
    deadlines: std::collections::VecDeque<(u32, u32, SimTime)>,
    timeout_armed: bool,
    /// When the pending `delivery.timeout.ms` check fires, if one is pending.
    delivery_armed: Option<SimTime>,
    /// KIP-360: a batch gave up with its sequence numbers unresolved; bump the epoch and restart
    /// sequences once nothing is in flight.
    epoch_bump_pending: bool,
    /// Per broker: the connection was refused or reset and the producer is backing off before
    /// reconnecting (`NetworkClient.isReady` is false). Indexed by broker, grown on demand.
    conns: Vec<ConnState>,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub retried: u64,
    pub last_error: Option<(SimTime, ErrorCode)>,
}

impl Producer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        spec: &ProducerConfig,
        index: ProducerId,
        node: NodeId,
        topic: TopicId,
        partitions: &[PartitionId],
        workload: Workload,
    ) -> Producer {
        let idempotent = spec.idempotent;
        Producer {
            name: spec.name.clone(),
            node,
            topic,
            acks: spec.acks,
            retries: spec.retries,
            idempotent,
            producer_id: idempotent.then_some(index.0 + 1),
            epoch: 0,
            txn: None,
            embedded_in: None,
            max_in_flight: spec.max_in_flight,
            request_timeout_ms: spec.request_timeout_ms,
            delivery_timeout_ms: spec.delivery_timeout_ms,
            retry_backoff_ms: spec.retry_backoff_ms,
            retry_backoff_max_ms: spec.retry_backoff_max_ms.max(spec.retry_backoff_ms),
            linger_ms: spec.linger_ms,
            max_batch_records: spec.max_batch_records,
            parts: partitions
                .iter()
                .map(|&p| ProducerPartition::new(p, None))
                .collect(),
            batches: Vec::new(),
            workload,
            next_send: 0,
            sticky: 0,
            key_partitions: Vec::new(),
            key_partitions_for: 0,
            open_batches: 0,
            deadlines: Default::default(),
            timeout_armed: false,
            delivery_armed: None,
            epoch_bump_pending: false,
            conns: Vec::new(),
            sent: 0,
            acked: 0,
            failed: 0,
            retried: 0,
            last_error: None,
        }
    }

    /// A second instance of this producer (same config and `transactional.id`) that takes over
    /// the rest of its workload.
    pub(crate) fn second_instance(&self, name: String, node: NodeId) -> Producer {
        let mut p = self.clone();
        p.name = name;
        p.node = node;
        p.batches.clear();
        p.open_batches = 0;
        p.deadlines.clear();
        p.timeout_armed = false;
        p.delivery_armed = None;
        p.epoch_bump_pending = false;
        p.conns.clear();
        p.sent = 0;
        p.acked = 0;
        p.failed = 0;
        p.retried = 0;
        p.last_error = None;
        p.epoch = 0;
        for pp in &mut p.parts {
            pp.records.clear();
            pp.batched = 0;
            pp.queued_at.clear();
            pp.open.clear();
            pp.linger_armed = false;
            pp.next_seq = 0;
            pp.last_acked_seq = -1;
            pp.in_flight = 0;
            pp.retry.clear();
            pp.metadata_pending = false;
        }
        if let Some(t) = &self.txn {
            p.txn = Some(crate::sim::txn::TxnClient::new(
                t.txn,
                t.size,
                self.parts.len(),
            ));
        }
        p
    }

    /// First message and record count of a batch.
    pub fn batch_span(&self, batch: u32) -> (MsgId, u32) {
        let b = &self.batches[batch as usize];
        (
            self.parts[b.part as usize].records[b.start as usize],
            b.count,
        )
    }

    pub fn batch_seq(&self, batch: u32) -> (i32, u32) {
        let b = &self.batches[batch as usize];
        (b.base_seq, b.count)
    }

    pub fn batch_records(&self, batch: u32) -> &[MsgId] {
        let b = &self.batches[batch as usize];
        &self.parts[b.part as usize].records[b.start as usize..(b.start + b.count) as usize]
    }

    /// Nothing queued, in flight, waiting to be retried or in an open transaction.
    pub fn idle(&self) -> bool {
        self.open_batches == 0
            && self.parts.iter().all(|p| p.batched == p.records.len())
            && self.txn.as_ref().is_none_or(|t| t.settled())
    }

    pub(crate) fn has_open_batches(&self) -> bool {
        self.open_batches > 0
    }

    /// Forget every batch (the producer was fenced).
    pub(crate) fn reset_in_flight(&mut self) {
        self.open_batches = 0;
        for pp in &mut self.parts {
            pp.batched = pp.records.len();
            pp.queued_at.clear();
            pp.open.clear();
            pp.in_flight = 0;
            pp.retry.clear();
        }
    }

    /// Requests currently in flight.
    pub fn in_flight(&self) -> u32 {
        self.parts.iter().map(|p| p.in_flight).sum()
    }

    /// Records accepted by `send()` but not yet in a batch.
    pub fn queued(&self) -> usize {
        self.parts.iter().map(|p| p.records.len() - p.batched).sum()
    }

    /// Batches waiting to be retried.
    pub fn retrying(&self) -> usize {
        self.batches
            .iter()
            .filter(|b| matches!(b.state, BatchState::Backoff | BatchState::Queued))
            .count()
    }
}

impl Sim {
    /// Schedule the first send of every producer.
    pub(crate) fn start_producers(&mut self) {
        for i in 0..self.producers.len() {
            let p = ProducerId(i as u32);
            for local in 0..self.producers[i].parts.len() {
                let partition = self.producers[i].parts[local].partition;
                let leader = self.controller.parts[partition.idx()].leader;
                self.producers[i].parts[local].leader = leader;
            }
            let n = self.producers[i].parts.len() as u32;
            if n > 1 {
                self.producers[i].sticky = self.k.rng.random_range(0..n);
            }
            if self.producers[i].embedded_in.is_some() {
                continue;
            }
            if self.producers[i].txn.is_some() {
                self.txn_init(p);
            }
            self.schedule_next_send(p);
        }
    }

    pub(crate) fn schedule_next_send(&mut self, p: ProducerId) {
        let prod = &mut self.producers[p.idx()];
        let now_ms = self.k.now.as_ms();
        // Sends that fell while the producer was down never happened.
        while prod.next_send < prod.workload.len() && prod.workload.at_ms(prod.next_send) < now_ms {
            prod.next_send += 1;
        }
        if prod.next_send >= prod.workload.len() {
            return;
        }
        let at = SimTime::from_ms(prod.workload.at_ms(prod.next_send));
        if at > self.k.settings.stop_at {
            return;
        }
        let node = prod.node;
        let n = prod.next_send as u32;
        self.set_timer(node, at.0 - self.k.now.0, Timer::ProducerSend { n });
    }

    pub(crate) fn producer_timer(&mut self, p: ProducerId, timer: Timer) {
        match timer {
            Timer::ProducerSend { n } => {
                if self.k.phase != Phase::Running || n as u64 != self.producers[p.idx()].next_send {
                    // Finished, or a stale timer.
                    return;
                }
                // Every send due at this instant goes in one step.
                let now_ms = self.k.now.as_ms();
                let mut n = n as u64;
                loop {
                    self.app_send(p, n);
                    n += 1;
                    let prod = &mut self.producers[p.idx()];
                    prod.next_send = n;
                    if n >= prod.workload.len() || prod.workload.at_ms(n) != now_ms {
                        break;
                    }
                }
                self.schedule_next_send(p);
            }
            Timer::ProducerLinger { part } => {
                self.producers[p.idx()].parts[part as usize].linger_armed = false;
                self.producer_drain(p, part);
            }
            Timer::ProducerRetry { batch } => {
                let prod = &mut self.producers[p.idx()];
                let b = &mut prod.batches[batch as usize];
                if b.state != BatchState::Backoff {
                    return;
                }
                b.state = BatchState::Queued;
                let part = b.part;
                self.producer_drain(p, part);
            }
            Timer::ProducerRequestTimeout => {
                // Like NetworkClient.poll: expire every request whose request.timeout.ms has
                // passed, then wait for the next deadline. One timer per producer.
                self.producers[p.idx()].timeout_armed = false;
                loop {
                    let prod = &mut self.producers[p.idx()];
                    let Some(&(batch, attempt, deadline)) = prod.deadlines.front() else {
                        break;
                    };
                    let b = &prod.batches[batch as usize];
                    if b.state != BatchState::InFlight || b.attempt != attempt {
                        prod.deadlines.pop_front();
                        continue;
                    }
                    if deadline > self.k.now {
                        prod.timeout_armed = true;
                        let node = prod.node;
                        let wait = deadline.0 - self.k.now.0;
                        self.set_timer(node, wait, Timer::ProducerRequestTimeout);
                        break;
                    }
                    prod.deadlines.pop_front();
                    let part = b.part;
                    prod.parts[part as usize].in_flight -= 1;
                    self.batch_failed(p, batch, ErrorCode::RequestTimedOut);
                    self.producer_drain(p, part);
                }
            }
            Timer::ProducerTxnRetry { token } => self.txn_retry(p, token),
            Timer::ProducerDeliveryTimeout
                if self.producers[p.idx()].delivery_armed == Some(self.k.now) =>
            {
                self.producers[p.idx()].delivery_armed = None;
                self.expire_batches(p);
            }
            // A superseded delivery-timeout check.
            Timer::ProducerDeliveryTimeout => {}
            Timer::ProducerReconnect { broker, token } => self.producer_reconnect(p, broker, token),
            Timer::ProducerMetadataTimeout { part, token } => {
                let pp = &mut self.producers[p.idx()].parts[part as usize];
                if pp.metadata_pending && pp.metadata_token == token {
                    pp.metadata_pending = false;
                    self.request_metadata(p, part);
                }
            }
            _ => {}
        }
    }

    /// The application calls `send()` for its n-th message.
    pub(crate) fn app_send(&mut self, p: ProducerId, n: u64) {
        if self.txn_defer_send(p, n) {
            return;
        }
        let prod = &mut self.producers[p.idx()];
        let key = match &prod.workload {
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
                        KeyDistribution::Uniform => {
                            self.k.rng.random_range(0..keys.len() as u32) as usize
                        }
                        KeyDistribution::Zipf => {
                            let x: f64 = self.k.rng.random();
                            zipf_cdf.partition_point(|&c| c < x).min(keys.len() - 1)
                        }
                    };
                    Some(keys[i])
                }
            }
        };
        let nparts = prod.parts.len() as u32;
        let local = match key {
            Some(k) => {
                if prod.key_partitions_for != nparts as usize {
                    prod.key_partitions.clear();
                    prod.key_partitions_for = nparts as usize;
                }
                let k = k as usize;
                if prod.key_partitions.len() <= k {
                    prod.key_partitions.resize(k + 1, u32::MAX);
                }
                if prod.key_partitions[k] == u32::MAX {
                    prod.key_partitions[k] = partition_for_key(&self.k.keys[k], nparts);
                }
                prod.key_partitions[k]
            }
            None => prod.sticky,
        };
        let partition = prod.parts[local as usize].partition;
        let msg = MsgId(self.k.msgs.len() as u32);
        self.k.msgs.push(crate::sim::MsgInfo {
            producer: p,
            n: (n + 1) as u32,
            key,
            partition,
        });
        let now = self.k.now;
        let prod = &mut self.producers[p.idx()];
        prod.sent += 1;
        let pp = &mut prod.parts[local as usize];
        if pp.batched == pp.records.len() {
            pp.oldest_queued = now;
        }
        pp.records.push(msg);
        pp.queued_at.push_back(now);
        let produced = self.emit(Trace::Produced {
            producer: p,
            msg,
            partition,
            key,
        });
        // What the send sets off (a batch going out now, or its linger deadline) is caused by
        // the application's `send()`.
        let tick = self.k.cause.replace(produced);
        self.arm_delivery_timeout(p, now);
        self.txn_record_added(p, local, msg);
        self.producer_drain(p, local);
        let prod = &self.producers[p.idx()];
        if prod.txn.is_some() && n + 1 == prod.workload.len() {
            // The application's last send: it commits what is left before it exits.
            self.txn_begin_end(p, true);
        }
        self.k.cause = tick;
    }

    /// A processor's output record: the input's message id, written to the output topic in the
    /// processor's transaction.
    pub(crate) fn forward_record(&mut self, p: ProducerId, msg: MsgId) {
        let now = self.k.now;
        let key = self.k.msgs[msg.idx()].key;
        let prod = &self.producers[p.idx()];
        let nparts = prod.parts.len() as u32;
        let local = match key {
            Some(k) => partition_for_key(&self.k.keys[k as usize], nparts),
            None => prod.sticky,
        };
        let pp = &mut self.producers[p.idx()].parts[local as usize];
        if pp.batched == pp.records.len() {
            pp.oldest_queued = now;
        }
        pp.records.push(msg);
        pp.queued_at.push_back(now);
        self.arm_delivery_timeout(p, now);
        self.txn_record_added(p, local, msg);
        self.producer_drain(p, local);
    }

    /// New partitions of `t`: producers on it add them (keys now hash over more partitions) and
    /// groups on it rebalance.
    pub(crate) fn topic_grew(&mut self, t: TopicId, first: PartitionId, count: u32) {
        for i in 0..self.producers.len() {
            if self.producers[i].topic != t {
                continue;
            }
            for k in 0..count {
                let partition = PartitionId(first.0 + k);
                let leader = self.controller.parts[partition.idx()].leader;
                let prod = &mut self.producers[i];
                prod.parts.push(ProducerPartition::new(partition, leader));
                if let Some(txn) = prod.txn.as_mut() {
                    txn.add_partition_slot();
                }
            }
        }
        self.groups_topic_grew(t, first, count);
    }

    pub(crate) fn producer_drain_part(&mut self, p: ProducerId, part: u32) {
        self.producer_drain(p, part);
    }

    /// Send whatever this partition may send now: retries first, then new batches that are
    /// full or have lingered long enough.
    fn producer_drain(&mut self, p: ProducerId, part: u32) {
        if self.producers[p.idx()].epoch_bump_pending && !self.bump_idempotent_epoch(p) {
            return;
        }
        loop {
            let now = self.k.now;
            let prod = &mut self.producers[p.idx()];
            let max_in_flight = prod.max_in_flight;
            let idempotent = prod.idempotent;
            let linger_us = prod.linger_ms * 1000;
            let max_batch = prod.max_batch_records as usize;
            if prod.txn.as_ref().is_some_and(|t| !t.may_send(part)) {
                // Wait until the partition has joined the transaction (AddPartitionsToTxn).
                return;
            }
            let pp = &mut prod.parts[part as usize];
            let Some(leader) = pp.leader else {
                self.request_metadata(p, part);
                return;
            };
            if prod.conns.get(leader.idx()).is_some_and(|c| c.down) {
                // NetworkClient.isReady is false: batches wait in the accumulator until the
                // connection comes back or metadata names another leader.
                return;
            }
            if pp.in_flight >= max_in_flight {
                return;
            }
            if !pp.retry.is_empty() {
                // An idempotent producer resends one batch at a time, in sequence order, and holds
                // later batches back, so the broker sees sequences without gaps (Kafka's
                // RecordAccumulator stops draining a partition that has an earlier retry pending).
                if idempotent {
                    let first = pp.retry[0];
                    if pp.in_flight > 0 || prod.batches[first as usize].state != BatchState::Queued
                    {
                        return;
                    }
                    pp.retry.remove(0);
                    self.send_batch(p, first);
                    continue;
                }
                // Kafka re-enqueues a failed batch at the head of the partition's queue and does
                // not drain the partition while that head is backing off: nothing unsent
                // overtakes it, only batches already in flight can.
                let head = pp.retry[0];
                if prod.batches[head as usize].state != BatchState::Queued {
                    return;
                }
                pp.retry.remove(0);
                self.send_batch(p, head);
                continue;
            }
            let queued = pp.records.len() - pp.batched;
            if queued == 0 {
                return;
            }
            let lingered = now.0 >= pp.oldest_queued.0 + linger_us;
            if queued < max_batch && !lingered {
                if !pp.linger_armed {
                    pp.linger_armed = true;
                    let wait = pp.oldest_queued.0 + linger_us - now.0;
                    let node = prod.node;
                    self.set_timer(node, wait, Timer::ProducerLinger { part });
                }
                return;
            }
            let count = queued.min(max_batch) as u32;
            let start = pp.batched as u32;
            pp.batched += count as usize;
            pp.oldest_queued = now;
            let created = pp.queued_at.front().copied().unwrap_or(now);
            pp.queued_at.drain(..count as usize);
            let batch = prod.batches.len() as u32;
            pp.open.push_back(batch);
            let base_seq = pp.next_seq;
            pp.next_seq = pp.next_seq.wrapping_add(count as i32);
            prod.batches.push(Batch {
                part,
                start,
                count,
                base_seq,
                attempt: 0,
                created,
                state: BatchState::Queued,
                sent_to: None,
            });
            prod.open_batches += 1;
            // The sticky partitioner moves on once a batch is closed (KIP-480).
            if prod.sticky == part && prod.parts.len() > 1 {
                let n = prod.parts.len() as u32;
                let r = self.k.rng.random_range(0..n - 1);
                let prod = &mut self.producers[p.idx()];
                prod.sticky = if r >= part { r + 1 } else { r };
            }
            self.send_batch(p, batch);
        }
    }

    fn send_batch(&mut self, p: ProducerId, batch: u32) {
        let prod = &mut self.producers[p.idx()];
        let b = &mut prod.batches[batch as usize];
        b.attempt += 1;
        let attempt = b.attempt;
        let part = b.part;
        let count = b.count;
        let pp = &mut prod.parts[part as usize];
        let partition = pp.partition;
        let leader = pp.leader.expect("leader known before sending");
        let node = prod.node;
        let first_msg = pp.records[b.start as usize];
        let (producer_id, producer_epoch) = (prod.producer_id, prod.epoch);
        let transactional = prod.txn.is_some();
        if attempt > 1 {
            prod.retried += 1;
            self.emit(Trace::Retried {
                producer: p,
                partition,
                first_msg,
                count,
                attempt,
            });
        }
        let to = self.node_of_broker(leader);
        let records = self.alloc_record_buf();
        let prod = &self.producers[p.idx()];
        let b = &prod.batches[batch as usize];
        let (start, base_seq) = (b.start as usize, b.base_seq);
        let (acks, timeout_ms) = (prod.acks, prod.request_timeout_ms as u32);
        self.k.record_bufs[records as usize]
            .extend_from_slice(&prod.parts[part as usize].records[start..start + count as usize]);
        self.send(
            node,
            to,
            Msg::Produce {
                producer: p,
                partition,
                batch,
                attempt,
                records,
                producer_id,
                producer_epoch,
                base_seq: if producer_id.is_some() { base_seq } else { -1 },
                acks,
                timeout_ms,
                transactional,
            },
        );
        let prod = &mut self.producers[p.idx()];
        if prod.acks == Acks::None {
            // Fire and forget: success the moment it is on the wire.
            prod.batches[batch as usize].state = BatchState::Done;
            prod.batches[batch as usize].sent_to = Some(leader);
            prod.open_batches -= 1;
            prod.acked += count as u64;
            let start = prod.batches[batch as usize].start as usize;
            for i in 0..count as usize {
                let msg = self.producers[p.idx()].parts[part as usize].records[start + i];
                self.emit(Trace::Acked {
                    producer: p,
                    msg,
                    partition,
                    offset: None,
                });
            }
            return;
        }
        prod.batches[batch as usize].state = BatchState::InFlight;
        prod.batches[batch as usize].sent_to = Some(leader);
        prod.parts[part as usize].in_flight += 1;
        let deadline = self.k.now.plus_ms(prod.request_timeout_ms);
        prod.deadlines.push_back((batch, attempt, deadline));
        if !prod.timeout_armed {
            prod.timeout_armed = true;
            let timeout = prod.request_timeout_ms;
            self.set_timer_ms(node, timeout, Timer::ProducerRequestTimeout);
        }
    }

    pub(crate) fn producer_receive(&mut self, p: ProducerId, msg: Msg) {
        match msg {
            Msg::ProduceResponse {
                batch,
                attempt,
                result,
                ..
            } => {
                let prod = &self.producers[p.idx()];
                let b = &prod.batches[batch as usize];
                if let (ProduceResult::Err(ErrorCode::NetworkException), Some(broker)) =
                    (&result, b.sent_to)
                {
                    // The connection was reset (the broker's process is gone): the node is not
                    // ready until a reconnect succeeds, and metadata is refreshed
                    // (NetworkClient.processDisconnection). acks=0 learns only this.
                    let part = b.part;
                    self.connection_failed(p, broker);
                    self.request_metadata(p, part);
                }
                let prod = &mut self.producers[p.idx()];
                let b = &prod.batches[batch as usize];
                if b.state != BatchState::InFlight || b.attempt != attempt {
                    return;
                }
                let part = b.part;
                prod.parts[part as usize].in_flight -= 1;
                match result {
                    ProduceResult::Ok { base_offset } => {
                        let b = &mut prod.batches[batch as usize];
                        b.state = BatchState::Done;
                        let last = b.base_seq + b.count as i32 - 1;
                        let pp = &mut prod.parts[part as usize];
                        pp.last_acked_seq = pp.last_acked_seq.max(last);
                        let (start, count) = (b.start as usize, b.count as usize);
                        prod.open_batches -= 1;
                        if prod.txn.is_some() {
                            // A transactional send succeeds when its transaction commits.
                            self.producer_drain(p, part);
                            self.txn_maybe_end(p);
                            return;
                        }
                        if let Some(c) = prod.embedded_in {
                            // A processor's output, not an application send.
                            self.producer_drain(p, part);
                            self.processor_flushed(c);
                            return;
                        }
                        prod.acked += count as u64;
                        let partition = prod.parts[part as usize].partition;
                        for i in 0..count {
                            let msg =
                                self.producers[p.idx()].parts[part as usize].records[start + i];
                            self.emit(Trace::Acked {
                                producer: p,
                                msg,
                                partition,
                                offset: Some(base_offset + i as u64),
                            });
                        }
                    }
                    ProduceResult::Err(e) => self.batch_failed(p, batch, e),
                }
                self.producer_drain(p, part);
            }
            Msg::TxnResponse { resp } => self.txn_response(p, resp),
            Msg::MetadataResponse {
                partition,
                leader,
                token,
                ..
            } => {
                let prod = &mut self.producers[p.idx()];
                let Some(part) = prod.parts.iter().position(|x| x.partition == partition) else {
                    return;
                };
                let pp = &mut prod.parts[part];
                if !pp.metadata_pending || pp.metadata_token != token {
                    return;
                }
                pp.metadata_pending = false;
                pp.leader = leader;
                if leader.is_none() {
                    // Offline partition: ask again after the backoff.
                    pp.metadata_pending = true;
                    pp.metadata_token += 1;
                    let token = pp.metadata_token;
                    let (node, backoff) = (prod.node, prod.retry_backoff_ms);
                    self.set_timer_ms(
                        node,
                        backoff,
                        Timer::ProducerMetadataTimeout {
                            part: part as u32,
                            token,
                        },
                    );
                    return;
                }
                self.producer_drain(p, part as u32);
            }
            _ => {}
        }
    }

    /// A send attempt failed: retry after the backoff if allowed, else give up on its records.
    fn batch_failed(&mut self, p: ProducerId, batch: u32, error: ErrorCode) {
        let now = self.k.now;
        let prod = &mut self.producers[p.idx()];
        prod.last_error = Some((now, error));
        let b = &prod.batches[batch as usize];
        let part = b.part;
        let partition = prod.parts[part as usize].partition;
        let first_msg = prod.parts[part as usize].records[b.start as usize];
        let expired = now.0 >= b.created.0 + prod.delivery_timeout_ms * 1000;
        let will_retry = error.is_retriable() && b.attempt <= prod.retries && !expired;
        let count = b.count;
        let transactional = prod.txn.is_some();
        self.emit(Trace::ProduceError {
            producer: p,
            partition,
            first_msg,
            count,
            error,
            will_retry: will_retry && !(transactional && error == ErrorCode::InvalidProducerEpoch),
        });
        if transactional && error == ErrorCode::InvalidProducerEpoch {
            // Abortable (KIP-588): recover with an InitProducerId, or learn we were fenced.
            self.txn_stale_epoch(p, error);
            return;
        }
        if error == ErrorCode::OutOfOrderSequenceNumber && !transactional {
            self.maybe_reset_sequences(p, batch);
        }
        if matches!(
            error,
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::RequestTimedOut
                | ErrorCode::NetworkException
        ) {
            self.request_metadata(p, part);
        }
        let prod = &mut self.producers[p.idx()];
        if will_retry {
            prod.batches[batch as usize].state = BatchState::Backoff;
            let seq = prod.batches[batch as usize].base_seq;
            let idempotent = prod.idempotent;
            let pp = &mut prod.parts[part as usize];
            // Idempotent retries go back in sequence order; otherwise at the head (addFirst).
            let pos = if idempotent {
                pp.retry
                    .partition_point(|&x| prod.batches[x as usize].base_seq < seq)
            } else {
                0
            };
            pp.retry.insert(pos, batch);
            // KIP-580: retry.backoff.ms doubles per attempt up to retry.backoff.max.ms, ±20%.
            let attempt = prod.batches[batch as usize].attempt.min(20);
            let base = (prod.retry_backoff_ms * 1000)
                .saturating_mul(1 << (attempt - 1))
                .min(prod.retry_backoff_max_ms * 1000);
            let node = prod.node;
            let jitter = self.k.rng.random_range(0..=base / 5 * 2);
            let backoff = base - base / 5 + jitter;
            self.set_timer(node, backoff, Timer::ProducerRetry { batch });
            return;
        }
        let final_error = if expired {
            ErrorCode::DeliveryTimeout
        } else {
            error
        };
        self.give_up_batch(p, batch, final_error);
    }

    /// The batch will not be sent again: complete its records' sends with `final_error`.
    fn give_up_batch(&mut self, p: ProducerId, batch: u32, final_error: ErrorCode) {
        let prod = &mut self.producers[p.idx()];
        let part = prod.batches[batch as usize].part;
        let b = &mut prod.batches[batch as usize];
        b.state = BatchState::Done;
        let (start, count) = (b.start as usize, b.count as usize);
        prod.open_batches -= 1;
        if b.attempt > 0 && prod.idempotent && prod.txn.is_none() {
            // KIP-360 (Kafka 2.5+, `TransactionManager.handleFailedBatch`): the batch was sent,
            // so the broker may or may not have its sequence numbers. Later batches would hit
            // OUT_OF_ORDER_SEQUENCE_NUMBER forever; the producer bumps its epoch and restarts
            // its sequences instead. Simplification: Kafka first checks whether later
            // acknowledgements resolved the sequence and only lowers later sequences for errors
            // that prove the batch was not written; the model always bumps.
            prod.epoch_bump_pending = true;
        }
        if prod.txn.is_some() {
            // The transaction cannot commit with a failed send: abort it; its records are
            // reported when the abort completes.
            self.txn_abort_after(p, final_error);
            return;
        }
        if let Some(c) = prod.embedded_in {
            // A processor's output was lost: the application carries on (at-least-once
            // pipelines without flush error handling lose it downstream).
            self.processor_flushed(c);
            return;
        }
        prod.failed += count as u64;
        for i in 0..count {
            let msg = self.producers[p.idx()].parts[part as usize].records[start + i];
            self.emit(Trace::Failed {
                producer: p,
                msg,
                error: final_error,
            });
        }
    }

    /// Make sure a `delivery.timeout.ms` check is pending for a record or batch created at
    /// `created`. One timer per producer: it fires at the earliest deadline and re-arms itself.
    fn arm_delivery_timeout(&mut self, p: ProducerId, created: SimTime) {
        let prod = &mut self.producers[p.idx()];
        let deadline = created.plus_ms(prod.delivery_timeout_ms);
        if prod.delivery_armed.is_some_and(|t| t <= deadline) {
            return;
        }
        prod.delivery_armed = Some(deadline);
        let node = prod.node;
        let wait = deadline.0.saturating_sub(self.k.now.0);
        self.set_timer(node, wait, Timer::ProducerDeliveryTimeout);
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
    fn expire_batches(&mut self, p: ProducerId) {
        let now = self.k.now;
        let dt = self.producers[p.idx()].delivery_timeout_ms * 1000;
        let expired_at = |t: SimTime| t.0 + dt <= now.0;
        for part in 0..self.producers[p.idx()].parts.len() {
            let mut freed = false;
            loop {
                let prod = &mut self.producers[p.idx()];
                let pp = &mut prod.parts[part];
                let Some(&batch) = pp.open.front() else {
                    break;
                };
                let b = &prod.batches[batch as usize];
                match b.state {
                    BatchState::Done => {
                        pp.open.pop_front();
                        continue;
                    }
                    _ if !expired_at(b.created) => break,
                    BatchState::InFlight => pp.in_flight -= 1,
                    BatchState::Backoff | BatchState::Queued => pp.retry.retain(|&x| x != batch),
                }
                pp.open.pop_front();
                freed = true;
                self.give_up_batch(p, batch, ErrorCode::DeliveryTimeout);
            }
            let prod = &mut self.producers[p.idx()];
            let pp = &mut prod.parts[part];
            let count = pp.queued_at.iter().take_while(|&&t| expired_at(t)).count();
            if count > 0 {
                let created = pp.queued_at[0];
                let start = pp.batched as u32;
                pp.batched += count;
                pp.queued_at.drain(..count);
                pp.oldest_queued = pp.queued_at.front().copied().unwrap_or(now);
                let batch = prod.batches.len() as u32;
                prod.batches.push(Batch {
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
                prod.open_batches += 1;
                self.give_up_batch(p, batch, ErrorCode::DeliveryTimeout);
            }
            if freed {
                self.producer_drain(p, part as u32);
            }
        }
        // The next deadline.
        let prod = &self.producers[p.idx()];
        let next = prod
            .parts
            .iter()
            .flat_map(|pp| {
                let batch = pp
                    .open
                    .iter()
                    .map(|&b| &prod.batches[b as usize])
                    .find(|b| b.state != BatchState::Done)
                    .map(|b| b.created);
                batch.into_iter().chain(pp.queued_at.front().copied())
            })
            .min();
        if let Some(created) = next {
            self.arm_delivery_timeout(p, created);
        }
    }

    /// A connection to `broker` was refused or reset: back off `reconnect.backoff.ms`, doubling
    /// up to `reconnect.backoff.max.ms` with ±20% jitter (`ClusterConnectionStates`).
    fn connection_failed(&mut self, p: ProducerId, broker: BrokerId) {
        let prod = &mut self.producers[p.idx()];
        if prod.conns.len() <= broker.idx() {
            prod.conns.resize(broker.idx() + 1, ConnState::default());
        }
        let c = &mut prod.conns[broker.idx()];
        c.backoff_ms = if c.down {
            (c.backoff_ms * 2).min(RECONNECT_BACKOFF_MAX_MS)
        } else {
            RECONNECT_BACKOFF_MS
        };
        c.down = true;
        c.token = c.token.wrapping_add(1);
        let (token, base) = (c.token, c.backoff_ms * 1000);
        let node = prod.node;
        let jitter = self.k.rng.random_range(0..=base / 5 * 2);
        let wait = base - base / 5 + jitter;
        self.set_timer(node, wait, Timer::ProducerReconnect { broker, token });
    }

    /// A reconnect attempt. Simplification: its outcome is known at once (the broker's process
    /// is up or not), without modelling the TCP handshake.
    fn producer_reconnect(&mut self, p: ProducerId, broker: BrokerId, token: u32) {
        let prod = &self.producers[p.idx()];
        let Some(c) = prod.conns.get(broker.idx()) else {
            return;
        };
        if !c.down || c.token != token {
            return;
        }
        let up = self.k.nodes[self.node_of_broker(broker).idx()].up;
        if !up {
            // Refused again; every failed attempt also asks for fresh metadata.
            self.connection_failed(p, broker);
            for part in 0..self.producers[p.idx()].parts.len() as u32 {
                if self.producers[p.idx()].parts[part as usize].leader == Some(broker) {
                    self.request_metadata(p, part);
                }
            }
            return;
        }
        self.producers[p.idx()].conns[broker.idx()].down = false;
        for part in 0..self.producers[p.idx()].parts.len() as u32 {
            if self.producers[p.idx()].parts[part as usize].leader == Some(broker) {
                self.producer_drain(p, part);
            }
        }
    }

    fn request_metadata(&mut self, p: ProducerId, part: u32) {
        let prod = &mut self.producers[p.idx()];
        let pp = &mut prod.parts[part as usize];
        if pp.metadata_pending {
            return;
        }
        pp.metadata_pending = true;
        pp.metadata_token += 1;
        let token = pp.metadata_token;
        let partition = pp.partition;
        let (node, timeout) = (prod.node, prod.request_timeout_ms);
        let controller = self.k.controller_node;
        self.send(node, controller, Msg::MetadataRequest { partition, token });
        self.set_timer_ms(
            node,
            timeout,
            Timer::ProducerMetadataTimeout { part, token },
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
    fn bump_idempotent_epoch(&mut self, p: ProducerId) -> bool {
        let prod = &mut self.producers[p.idx()];
        if prod.parts.iter().any(|pp| pp.in_flight > 0) {
            return false;
        }
        prod.epoch_bump_pending = false;
        prod.epoch = prod.epoch.wrapping_add(1);
        for part in 0..prod.parts.len() {
            let pp = &mut prod.parts[part];
            let mut open: Vec<u32> = pp
                .open
                .iter()
                .copied()
                .filter(|&b| prod.batches[b as usize].state != BatchState::Done)
                .collect();
            open.sort_by_key(|&b| prod.batches[b as usize].base_seq);
            let mut next = 0i32;
            for b in open {
                prod.batches[b as usize].base_seq = next;
                next += prod.batches[b as usize].count as i32;
            }
            pp.next_seq = next;
            pp.last_acked_seq = -1;
        }
        for part in 0..self.producers[p.idx()].parts.len() as u32 {
            self.producer_drain(p, part);
        }
        true
    }

    /// KIP-360: an idempotent producer whose next expected batch (last acknowledged sequence + 1)
    /// is answered with OUT_OF_ORDER_SEQUENCE_NUMBER, with nothing earlier outstanding, knows the
    /// broker lost its sequence state (the log was truncated, e.g. by an unclean election). It
    /// bumps its epoch and renumbers the partition's unacknowledged batches from 0, as Kafka 2.5+
    /// does (`TransactionManager.canRetry`). Any other OUT_OF_ORDER_SEQUENCE_NUMBER is retried.
    fn maybe_reset_sequences(&mut self, p: ProducerId, batch: u32) {
        let prod = &mut self.producers[p.idx()];
        let part = prod.batches[batch as usize].part as usize;
        let seq = prod.batches[batch as usize].base_seq;
        let pp = &prod.parts[part];
        if seq != pp.last_acked_seq.wrapping_add(1) {
            return;
        }
        let earlier_pending = pp.in_flight > 0
            || pp
                .retry
                .iter()
                .any(|&b| b != batch && prod.batches[b as usize].base_seq < seq);
        if earlier_pending {
            return;
        }
        prod.epoch = prod.epoch.wrapping_add(1);
        let mut open: Vec<u32> = prod
            .batches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.part as usize == part && b.state != BatchState::Done)
            .map(|(i, _)| i as u32)
            .collect();
        open.sort_by_key(|&b| prod.batches[b as usize].base_seq);
        let mut next = 0i32;
        for b in open {
            prod.batches[b as usize].base_seq = next;
            next += prod.batches[b as usize].count as i32;
        }
        prod.parts[part].next_seq = next;
        prod.parts[part].last_acked_seq = -1;
    }

    pub(crate) fn producer_crashed(&mut self, p: ProducerId) {
        // Everything in the accumulator and in flight is gone with the process.
        let prod = &mut self.producers[p.idx()];
        if let Some(t) = prod.txn.as_mut() {
            // The open transaction is left to the coordinator (timeout) or the next instance.
            let txn = t.txn;
            let size = t.size;
            let parts = prod.parts.len();
            *t = crate::sim::txn::TxnClient::new(txn, size, parts);
        }
        for b in &mut prod.batches {
            b.state = BatchState::Done;
        }
        prod.open_batches = 0;
        prod.deadlines.clear();
        prod.timeout_armed = false;
        prod.delivery_armed = None;
        prod.epoch_bump_pending = false;
        prod.conns.clear();
        for pp in &mut prod.parts {
            pp.batched = pp.records.len();
            pp.queued_at.clear();
            pp.open.clear();
            pp.in_flight = 0;
            pp.retry.clear();
            pp.linger_armed = false;
            pp.metadata_pending = false;
        }
    }

    pub(crate) fn producer_restarted(&mut self, p: ProducerId) {
        if self.producers[p.idx()].txn.is_some() {
            // A new instance with the same transactional.id: InitProducerId fences the old one.
            for part in 0..self.producers[p.idx()].parts.len() {
                self.request_metadata(p, part as u32);
            }
            self.txn_init(p);
            if self.producers[p.idx()].embedded_in.is_none() {
                self.schedule_next_send(p);
            }
            return;
        }
        let incarnation = self.k.nodes[self.producers[p.idx()].node.idx()].incarnation;
        let prod = &mut self.producers[p.idx()];
        // A new process gets a new producer id and starts its sequences at 0.
        if let Some(pid) = prod.producer_id.as_mut() {
            *pid = (*pid & 0xffff) | (incarnation << 16);
        }
        for pp in &mut prod.parts {
            pp.next_seq = 0;
            pp.last_acked_seq = -1;
        }
        for part in 0..prod.parts.len() {
            self.request_metadata(p, part as u32);
        }
        self.schedule_next_send(p);
    }
}
