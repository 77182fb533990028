//! The transaction coordinator (KIP-98, KIP-447): one process per `transactional.id`, run by the
//! broker hosting it.
//!
//! - `InitProducerId` gives a `transactional.id` its producer id and a new epoch, fencing older
//!   instances (`PRODUCER_FENCED` / `INVALID_PRODUCER_EPOCH`) and aborting what they left open.
//! - Partitions join a transaction with `AddPartitionsToTxn`; `sendOffsetsToTransaction` adds a
//!   consumer group's input offsets, which the group's coordinator holds as pending (KIP-447).
//! - KIP-890: a partition leader asks before appending a producer's first transactional batch
//!   (`Verify`): part 1 checks that the partition is in the ongoing transaction, Transactions
//!   V2 adds it. Under V2 every `EndTxn` bumps the epoch, which the markers carry and the
//!   answer returns, so a late write of an ended transaction is fenced.
//! - `EndTxn` moves the transaction to PrepareCommit/PrepareAbort and the coordinator writes a
//!   COMMIT or ABORT marker to every partition in it and, if it carries offsets, to the group's
//!   coordinator (Kafka's marker on the group's `__consumer_offsets` partition), retrying until
//!   each is written. The group's coordinator commits the offsets when its marker arrives.
//! - A transaction older than `transaction.timeout.ms` is aborted by the coordinator, with an
//!   epoch bump. KIP-588: the producer's next request with the old epoch gets
//!   INVALID_PRODUCER_EPOCH (abortable); it fails the aborted transaction's sends and sends
//!   `InitProducerId` with its current epoch, which the coordinator answers with the bumped one.
//!   Only an epoch older than that (a zombie) is PRODUCER_FENCED.
//!
//! Durable state ([`StoredTxn`]) is what Kafka keeps in `__transaction_state`; while a broker has
//! the transaction loaded it also remembers the current round of markers and an
//! `AddOffsetsToTxn` waiting for the group's coordinator. A crash or a move drops that, and the
//! next host finishes what its predecessor left half done.
//!
//! Simplifications: `AddOffsetsToTxn` carries the offsets, and the coordinator forwards them to
//! the group's coordinator (`TxnOffsetCommit`, which Kafka's producer sends itself) and answers
//! once that is answered; the marker to the group carries them again, so it is self-contained.
//! The coordinator keeps which markers are written across a failover (Kafka's new coordinator
//! writes them all again, which changes nothing). `EndTxn` is answered once the transaction is
//! prepared, as in Kafka.

use crate::sim::Timer;
#[cfg(test)]
use crate::sim::coordinator::MetadataCache;
use crate::sim::coordinator::{Hosted, Metadata};
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::trace::{Trace, TxnPhase};
use crate::sim::wire::{GroupMetadata, Msg, TxnRequest, TxnResponse};

/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s in Kafka; the
/// coordinator's housekeeping here also takes over transactions after a failover, so it runs
/// every second. Markers that get no answer are sent again after as long.
pub(crate) const TXN_HOUSEKEEPING_MS: u64 = 1000;

/// Input offsets a processor commits with its transaction (`sendOffsetsToTransaction`).
#[derive(Clone, Debug)]
struct TxnOffsets {
    group: GroupId,
    /// The member that sent them, for the trace.
    consumer: ConsumerId,
    /// Its member id and generation, which the group's coordinator checks (KIP-447).
    member: GroupMetadata,
    offsets: Box<[(PartitionId, u64)]>,
}

/// What `__transaction_state` holds for one `transactional.id`.
#[derive(Clone, Debug)]
pub struct StoredTxn {
    epoch: u16,
    /// `None` while empty.
    phase: Option<TxnPhase>,
    partitions: Vec<PartitionId>,
    started: SimTime,
    /// The epoch a timeout abort bumped away from (Kafka's `TransactionMetadata.lastProducerEpoch`):
    /// its producer may still recover (KIP-588).
    last_epoch: Option<u16>,
    /// Transactions V2: the epoch the last EndTxn bumped away from, and whether it committed
    /// (Kafka's `lastProducerEpoch`), so that a retry of that EndTxn is answered as the first was.
    ended: Option<(u16, bool)>,
    /// How many transactions this transactional id has begun: the current one's number.
    transactions: u32,
    /// Partitions whose marker is not yet written.
    pending: Vec<PartitionId>,
    /// The marker on the group's `__consumer_offsets` partition is not yet written.
    offsets_marker_pending: bool,
    /// The input offsets the open transaction carries, until its marker to the group's
    /// coordinator is written.
    offsets: Option<TxnOffsets>,
}

/// The coordinator's memory while a broker has the transaction loaded.
#[derive(Clone, Debug)]
struct Loaded {
    /// The token of the current round of markers (0: none sent yet).
    marker_round: u32,
    /// An `AddOffsetsToTxn` answered once the group's coordinator has the offsets as pending.
    add_offsets: Option<ParkedAddOffsets>,
}

/// An `AddOffsetsToTxn` waiting for the group coordinator's answer to `TxnOffsetCommit`.
#[derive(Clone, Copy, Debug)]
struct ParkedAddOffsets {
    reply_to: NodeId,
    /// The request's token.
    token: u32,
    /// The `TxnOffsetCommit`'s token.
    forwarded: u32,
}

/// The transaction coordinator's timers, on its host.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TxnTimer {
    /// Per broker: abort the transactions it coordinates that are past `transaction.timeout.ms`,
    /// taking over any a predecessor left.
    Housekeeping,
    /// Send again the markers of round `token` that got no answer.
    MarkerRetry { txn: u32, token: u32 },
}

/// The coordinator of one `transactional.id`.
#[derive(Clone, Debug)]
pub struct TxnCoordinator {
    /// Its index, which requests name it by.
    pub txn: u32,
    /// `transactional.id`
    pub id: String,
    /// The producer id this transactional id always gets.
    pub producer_id: u32,
    /// `transaction.timeout.ms`
    pub timeout_ms: u64,
    stored: StoredTxn,
    loaded: Hosted<Loaded>,
    /// Never reset: each round of markers gets a fresh token, so no answer or timer from before
    /// a reload can match.
    next_token: u32,
}

/// The answer to a transaction request that fails with `error` before the coordinator looks
/// at it (NOT_COORDINATOR, or a reset connection).
pub(crate) fn error_response(req: &TxnRequest, error: ErrorCode) -> TxnResponse {
    match *req {
        TxnRequest::InitProducerId { token, .. } => TxnResponse::InitProducerId {
            token,
            result: Err(error),
        },
        TxnRequest::AddPartitions { partition, .. } => {
            TxnResponse::AddPartitions { partition, error }
        }
        TxnRequest::AddOffsets { token, .. } => TxnResponse::AddOffsets { token, error },
        TxnRequest::EndTxn { token, .. } => TxnResponse::EndTxn {
            token,
            error,
            epoch: None,
        },
        TxnRequest::Verify {
            partition, token, ..
        } => TxnResponse::Verify {
            partition,
            token,
            error,
        },
    }
}

/// The transaction (coordinator index) whose producer id is `pid`: each `transactional.id` has
/// its own producer id (see [`TxnCoordinator::new`]). Kafka's produce request names the
/// `transactional.id`; here the producer id does.
pub(crate) fn txn_of_producer_id(pid: u32) -> u32 {
    pid & !TRANSACTIONAL_PRODUCER_IDS
}

/// The bit that puts transactional producer ids in their own range.
const TRANSACTIONAL_PRODUCER_IDS: u32 = 0x4000_0000;

/// Arm broker `cx.me()`'s housekeeping, when it starts.
pub(crate) fn start_housekeeping(cx: &mut Cx) {
    cx.set_timer_ms(
        TXN_HOUSEKEEPING_MS,
        Timer::TxnCoordinator(TxnTimer::Housekeeping),
    );
}

/// Broker `host`'s housekeeping: every transaction it coordinates gets its turn, then the next
/// round is armed.
pub(crate) fn on_housekeeping(
    txns: &mut [TxnCoordinator],
    host: BrokerId,
    meta: &Metadata,
    cx: &mut Cx,
) {
    for t in txns.iter_mut() {
        t.on_timer(host, TxnTimer::Housekeeping, meta, cx);
    }
    start_housekeeping(cx);
}

impl TxnCoordinator {
    pub(crate) fn new(txn: u32, id: &str, timeout_ms: u64) -> Self {
        TxnCoordinator {
            txn,
            id: id.to_string(),
            // Transactional producer ids live in their own range.
            producer_id: TRANSACTIONAL_PRODUCER_IDS | txn,
            timeout_ms,
            stored: StoredTxn {
                epoch: 0,
                phase: None,
                partitions: Vec::new(),
                started: SimTime::ZERO,
                last_epoch: None,
                ended: None,
                transactions: 0,
                pending: Vec::new(),
                offsets_marker_pending: false,
                offsets: None,
            },
            loaded: Hosted::unloaded(),
            next_token: 0,
        }
    }

    // ----- for observers ------------------------------------------------------------------

    pub fn epoch(&self) -> u16 {
        self.stored.epoch
    }

    pub fn phase(&self) -> Option<TxnPhase> {
        self.stored.phase
    }

    /// The partitions in the open transaction.
    pub fn partitions(&self) -> &[PartitionId] {
        &self.stored.partitions
    }

    /// The broker that has the transaction loaded, if any.
    pub fn host(&self) -> Option<BrokerId> {
        self.loaded.host()
    }

    // ----- the host's lifecycle -----------------------------------------------------------

    /// The broker `host` crashed: if it had the transaction loaded, that memory is gone.
    pub(crate) fn host_crashed(&mut self, host: BrokerId) {
        self.loaded.crashed(host);
    }

    /// Load the transaction on `host` unless it is loaded there already, finishing what a
    /// predecessor left half done.
    fn load_on(&mut self, host: BrokerId, meta: &Metadata, cx: &mut Cx) {
        let fresh = || Loaded {
            marker_round: 0,
            add_offsets: None,
        };
        if self.loaded.load_on(host, fresh) && !self.markers_written() {
            self.send_markers(meta, cx);
        }
    }

    // ----- handlers -----------------------------------------------------------------------

    /// A message to this transaction's coordinator, delivered to broker `host`.
    pub(crate) fn on_message(
        &mut self,
        host: BrokerId,
        from: NodeId,
        msg: Msg,
        meta: &Metadata,
        cx: &mut Cx,
    ) {
        match msg {
            // The event loop routes resets to the broker; markers still retry on their timer.
            Msg::ConnectionClosed { .. } | Msg::MetadataUpdate { .. } => {}
            Msg::Txn { req, .. } => self.on_request(host, from, req, meta, cx),
            Msg::WriteTxnMarkerResponse {
                partition,
                token,
                ok,
                ..
            } => {
                let current = self.is_current_round(host, token);
                if current && ok {
                    self.stored.pending.retain(|&p| p != partition);
                    if self.markers_written() {
                        self.complete(cx);
                    }
                }
            }
            Msg::TxnOffsetCommitResponse { token, error, .. } => {
                let parked = self
                    .loaded
                    .on_mut(host)
                    .and_then(|l| l.add_offsets.take_if(|p| p.forwarded == token));
                if let Some(p) = parked {
                    if error != ErrorCode::None {
                        // Not pending at the group's coordinator: no marker carries them.
                        self.stored.offsets = None;
                    }
                    let resp = TxnResponse::AddOffsets {
                        token: p.token,
                        error,
                    };
                    cx.send(p.reply_to, Msg::TxnResponse { resp });
                }
            }
            Msg::TxnOffsetMarkerResponse { token, ok, .. } => {
                let current = self.is_current_round(host, token);
                if current && ok && self.stored.offsets_marker_pending {
                    self.stored.offsets_marker_pending = false;
                    if self.markers_written() {
                        self.complete(cx);
                    }
                }
            }
            Msg::Produce { .. }
            | Msg::ProduceResponse { .. }
            | Msg::ReplicaFetch { .. }
            | Msg::ReplicaFetchResponse { .. }
            | Msg::ConsumerFetch { .. }
            | Msg::ConsumerFetchResponse { .. }
            | Msg::ListOffsets { .. }
            | Msg::ListOffsetsResponse { .. }
            | Msg::BrokerHeartbeat { .. }
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::PartitionChange { .. }
            | Msg::AlterPartition { .. }
            | Msg::AlterPartitionResponse { .. }
            | Msg::WriteTxnMarker { .. }
            | Msg::TxnOffsetCommit { .. }
            | Msg::TxnOffsetMarker { .. }
            | Msg::TxnResponse { .. }
            | Msg::MetadataRequest { .. }
            | Msg::MetadataResponse { .. }
            | Msg::Group { .. }
            | Msg::Share(_)
            | Msg::GroupResponse { .. } => {}
        }
    }

    fn on_request(
        &mut self,
        host: BrokerId,
        from: NodeId,
        req: TxnRequest,
        meta: &Metadata,
        cx: &mut Cx,
    ) {
        if meta.coordinator_for(&self.id) != Some(host) {
            let resp = error_response(&req, ErrorCode::NotCoordinator);
            cx.send(from, Msg::TxnResponse { resp });
            return;
        }
        self.load_on(host, meta, cx);
        let preparing = matches!(
            self.stored.phase,
            Some(TxnPhase::PrepareCommit | TxnPhase::PrepareAbort)
        );
        let ongoing = self.stored.phase == Some(TxnPhase::Ongoing);
        let resp = match req {
            // `TransactionCoordinator.handleInitProducerId` checks the timeout first
            // (`TransactionStateManager.validateTransactionTimeoutMs`: above 0 and at most
            // `transaction.max.timeout.ms`): nothing changes, no epoch is bumped.
            TxnRequest::InitProducerId {
                token, timeout_ms, ..
            } if timeout_ms == 0 || timeout_ms > cx.settings().transaction_max_timeout_ms => {
                TxnResponse::InitProducerId {
                    token,
                    result: Err(ErrorCode::InvalidTransactionTimeout),
                }
            }
            TxnRequest::InitProducerId {
                token,
                current_epoch: Some(e),
                ..
            } => {
                // KIP-588: a producer re-initialising itself after the coordinator aborted its
                // transaction. Its epoch is the current one or the one the abort bumped away
                // from; anything older is a zombie.
                let t = &mut self.stored;
                let result = if e != t.epoch && Some(e) != t.last_epoch {
                    Err(ErrorCode::ProducerFenced)
                } else if preparing {
                    Err(ErrorCode::ConcurrentTransactions)
                } else if ongoing {
                    t.epoch = t.epoch.wrapping_add(1);
                    t.last_epoch = None;
                    self.end(false, false, meta, cx);
                    Err(ErrorCode::ConcurrentTransactions)
                } else {
                    if e == t.epoch {
                        t.epoch = t.epoch.wrapping_add(1);
                    }
                    // Otherwise the timeout abort's bump is the producer's new epoch.
                    t.last_epoch = None;
                    t.phase = None;
                    t.partitions.clear();
                    Ok((self.producer_id, t.epoch))
                };
                TxnResponse::InitProducerId { token, result }
            }
            TxnRequest::InitProducerId {
                token,
                current_epoch: None,
                ..
            } => {
                // A new instance: whatever epoch came before is fenced.
                let t = &mut self.stored;
                t.last_epoch = None;
                let result = if preparing {
                    Err(ErrorCode::ConcurrentTransactions)
                } else if ongoing {
                    // The previous instance left a transaction open: bump the epoch (fencing
                    // it) and abort; the new instance retries until the abort completes.
                    t.epoch = t.epoch.wrapping_add(1);
                    self.end(false, false, meta, cx);
                    Err(ErrorCode::ConcurrentTransactions)
                } else {
                    t.epoch = t.epoch.wrapping_add(1);
                    t.phase = None;
                    t.partitions.clear();
                    Ok((self.producer_id, t.epoch))
                };
                TxnResponse::InitProducerId { token, result }
            }
            TxnRequest::AddPartitions { epoch, partition } => {
                let error = if let Some(refused) = self.refusal(epoch, preparing) {
                    refused
                } else {
                    self.add_partition(partition, ongoing, cx);
                    ErrorCode::None
                };
                TxnResponse::AddPartitions { partition, error }
            }
            TxnRequest::Verify {
                epoch,
                partition,
                add,
                token,
            } => {
                // KIP-890: a partition leader asks before appending a producer's first
                // transactional batch. Part 1 only checks that the partition is in the ongoing
                // transaction (the producer added it itself); V2 adds it.
                let error = if let Some(refused) = self.refusal(epoch, preparing) {
                    refused
                } else if add {
                    self.add_partition(partition, ongoing, cx);
                    ErrorCode::None
                } else if ongoing && self.stored.partitions.contains(&partition) {
                    ErrorCode::None
                } else {
                    // The transaction this write belongs to has ended (or never added the
                    // partition): appending it would open a transaction nobody tracks.
                    // Simplification: INVALID_TXN_STATE is what a client before 3.8 sees; Kafka
                    // answers 3.8+ produce requests TRANSACTION_ABORTABLE (KIP-890), which the
                    // model does not have. Either way the late write is refused.
                    ErrorCode::InvalidTxnState
                };
                TxnResponse::Verify {
                    partition,
                    token,
                    error,
                }
            }
            TxnRequest::AddOffsets {
                epoch,
                group,
                consumer,
                member,
                offsets,
                token,
            } => {
                let error = if let Some(refused) = self.refusal(epoch, preparing) {
                    refused
                } else {
                    let t = &mut self.stored;
                    if !ongoing {
                        t.phase = Some(TxnPhase::Ongoing);
                        t.started = cx.now();
                        t.transactions += 1;
                    }
                    let offsets = TxnOffsets {
                        group,
                        consumer,
                        member,
                        offsets,
                    };
                    let forwarded = self.forward_offsets(&offsets, meta, cx);
                    self.stored.offsets = Some(offsets);
                    match forwarded {
                        Some(forwarded) => {
                            // Answered when the group's coordinator has them (see below).
                            self.loaded.get_mut().expect("loaded").add_offsets =
                                Some(ParkedAddOffsets {
                                    reply_to: from,
                                    token,
                                    forwarded,
                                });
                            return;
                        }
                        None => ErrorCode::NotCoordinator,
                    }
                };
                TxnResponse::AddOffsets { token, error }
            }
            TxnRequest::EndTxn {
                epoch,
                commit,
                token,
            } => {
                let v2 = cx.settings().transaction_version >= 2;
                let current = self.stored.epoch;
                let retried = self
                    .stored
                    .ended
                    .filter(|&(old, _)| v2 && epoch == old && current == old.wrapping_add(1));
                let error = if let Some((_, committed)) = retried {
                    // A retry of the EndTxn that bumped the epoch (its answer was lost).
                    if committed == commit {
                        ErrorCode::None
                    } else {
                        ErrorCode::InvalidTxnState
                    }
                } else if let Some(refused) = self.refusal(epoch, preparing) {
                    refused
                } else if commit && !ongoing && self.stored.phase == Some(TxnPhase::CompleteAbort) {
                    // The coordinator aborted it already (timeout or a newer instance).
                    ErrorCode::InvalidTxnState
                } else {
                    if v2 {
                        let t = &mut self.stored;
                        // KIP-890 part 2: every transaction ends with an epoch bump; its
                        // markers carry the new epoch, and the producer's next transaction uses
                        // it, so a late write of this one is fenced.
                        t.ended = Some((t.epoch, commit));
                        t.epoch = t.epoch.wrapping_add(1);
                        t.last_epoch = None;
                    }
                    if ongoing {
                        self.end(commit, false, meta, cx);
                    }
                    ErrorCode::None
                };
                let epoch = (v2 && error == ErrorCode::None).then_some(self.stored.epoch);
                TxnResponse::EndTxn {
                    token,
                    error,
                    epoch,
                }
            }
        };
        cx.send(from, Msg::TxnResponse { resp });
    }

    /// A timer on broker `host`.
    pub(crate) fn on_timer(
        &mut self,
        host: BrokerId,
        timer: TxnTimer,
        meta: &Metadata,
        cx: &mut Cx,
    ) {
        match timer {
            TxnTimer::Housekeeping => {
                if meta.coordinator_for(&self.id) != Some(host) {
                    return;
                }
                self.load_on(host, meta, cx);
                let t = &mut self.stored;
                if t.phase == Some(TxnPhase::Ongoing)
                    && cx.now().0 > t.started.0 + self.timeout_ms * 1000
                {
                    // transaction.timeout.ms: abort and bump the epoch. The producer with the
                    // old epoch may recover (KIP-588); only older epochs are fenced.
                    t.last_epoch = Some(t.epoch);
                    t.epoch = t.epoch.wrapping_add(1);
                    self.end(false, true, meta, cx);
                }
            }
            TxnTimer::MarkerRetry { token, .. } => {
                let current = self.is_current_round(host, token);
                if current && !self.markers_written() {
                    self.send_markers(meta, cx);
                }
            }
        }
    }

    /// Put `partition` in the open transaction, beginning it if none is (`ongoing`).
    fn add_partition(&mut self, partition: PartitionId, ongoing: bool, cx: &mut Cx) {
        let t = &mut self.stored;
        if !t.partitions.contains(&partition) {
            t.partitions.push(partition);
        }
        if !ongoing {
            t.phase = Some(TxnPhase::Ongoing);
            t.started = cx.now();
            t.transactions += 1;
            cx.emit(Trace::TxnStateChanged {
                txn: self.txn,
                epoch: t.epoch,
                phase: TxnPhase::Ongoing,
                timed_out: false,
            });
        }
    }

    // ----- ending a transaction -----------------------------------------------------------

    /// Hand a transaction's offsets to the group's coordinator, which holds them as pending
    /// until the marker (KIP-447); the token of the `TxnOffsetCommit`, if there is a
    /// coordinator to send it to. Kafka's producer sends it itself after `AddOffsetsToTxn` and
    /// waits for its answer before `EndTxn`; here `AddOffsetsToTxn` is answered with its answer.
    fn forward_offsets(&mut self, o: &TxnOffsets, meta: &Metadata, cx: &mut Cx) -> Option<u32> {
        let coordinator = meta.coordinator_for(cx.group_name(o.group))?;
        self.next_token = self.next_token.wrapping_add(1);
        let msg = Msg::TxnOffsetCommit {
            group: o.group,
            txn: self.txn,
            transaction: self.stored.transactions,
            consumer: o.consumer,
            member: o.member,
            offsets: o.offsets.clone(),
            token: self.next_token,
        };
        cx.send(meta.node_of(coordinator), msg);
        Some(self.next_token)
    }

    /// Why a request within a transaction (AddPartitions, AddOffsets, EndTxn) with `epoch`
    /// is refused, if it is. An epoch older than the current one gets INVALID_PRODUCER_EPOCH
    /// (abortable, KIP-588) if a timeout abort replaced it, PRODUCER_FENCED otherwise; while
    /// the transaction is being prepared, CONCURRENT_TRANSACTIONS.
    fn refusal(&self, epoch: u16, preparing: bool) -> Option<ErrorCode> {
        if epoch < self.stored.epoch {
            Some(if Some(epoch) == self.stored.last_epoch {
                ErrorCode::InvalidProducerEpoch
            } else {
                ErrorCode::ProducerFenced
            })
        } else if preparing {
            Some(ErrorCode::ConcurrentTransactions)
        } else {
            None
        }
    }

    /// Prepare to commit or abort, then write the markers.
    fn end(&mut self, commit: bool, timed_out: bool, meta: &Metadata, cx: &mut Cx) {
        let t = &mut self.stored;
        let phase = if commit {
            TxnPhase::PrepareCommit
        } else {
            TxnPhase::PrepareAbort
        };
        t.phase = Some(phase);
        t.pending.clone_from(&t.partitions);
        // Input offsets are committed, or dropped, by a marker to the group's coordinator.
        t.offsets_marker_pending = t.offsets.is_some();
        cx.emit(Trace::TxnStateChanged {
            txn: self.txn,
            epoch: self.stored.epoch,
            phase,
            timed_out,
        });
        if self.markers_written() {
            self.complete(cx);
        } else {
            self.send_markers(meta, cx);
        }
    }

    /// Whether an answer or a retry timer with `token`, on broker `host`, belongs to the
    /// current round of markers.
    fn is_current_round(&self, host: BrokerId, token: u32) -> bool {
        self.loaded
            .on(host)
            .is_some_and(|l| l.marker_round == token)
    }

    fn markers_written(&self) -> bool {
        self.stored.pending.is_empty() && !self.stored.offsets_marker_pending
    }

    /// Send a new round of markers to the leaders of the partitions still without one, and to
    /// the group's coordinator if its marker is not written yet.
    fn send_markers(&mut self, meta: &Metadata, cx: &mut Cx) {
        if self.loaded.get().is_none() {
            return;
        }
        self.next_token = self.next_token.wrapping_add(1);
        let token = self.next_token;
        self.loaded.get_mut().expect("loaded").marker_round = token;
        let t = &self.stored;
        let commit = t.phase == Some(TxnPhase::PrepareCommit);
        for &partition in &t.pending {
            // TODO(metadata): the leader as the hosting broker's metadata knows it.
            if let Some(leader) = meta.leader(partition) {
                cx.send(
                    meta.node_of(leader),
                    Msg::WriteTxnMarker {
                        partition,
                        producer_id: self.producer_id,
                        producer_epoch: t.epoch,
                        commit,
                        txn: self.txn,
                        token,
                    },
                );
            }
        }
        if t.offsets_marker_pending
            && let Some(o) = &t.offsets
            && let Some(coordinator) = meta.coordinator_for(cx.group_name(o.group))
        {
            let msg = Msg::TxnOffsetMarker {
                group: o.group,
                txn: self.txn,
                transaction: t.transactions,
                consumer: o.consumer,
                commit,
                // An abort only drops the pending offsets.
                offsets: if commit {
                    o.offsets.clone()
                } else {
                    Box::new([])
                },
                token,
            };
            cx.send(meta.node_of(coordinator), msg);
        }
        // Markers that get no answer (leader moved, offline, cut off) are sent again.
        let txn = self.txn;
        cx.set_timer_ms(
            TXN_HOUSEKEEPING_MS,
            Timer::TxnCoordinator(TxnTimer::MarkerRetry { txn, token }),
        );
    }

    /// Every marker is written.
    fn complete(&mut self, cx: &mut Cx) {
        let t = &mut self.stored;
        let commit = t.phase == Some(TxnPhase::PrepareCommit);
        let phase = if commit {
            TxnPhase::CompleteCommit
        } else {
            TxnPhase::CompleteAbort
        };
        t.phase = Some(phase);
        t.partitions.clear();
        t.offsets = None;
        cx.emit(Trace::TxnStateChanged {
            txn: self.txn,
            epoch: t.epoch,
            phase,
            timed_out: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::controller::{Controller, PartitionState};
    use crate::sim::coordinator::coordinator_for;
    use crate::sim::cx::testkit::{advance_to, kernel, pop_timer, take_sent, take_trace, timers};
    use crate::sim::{Kernel, NodeKind};

    /// Producers' nodes: three brokers and the controller come first.
    const PRODUCER: NodeId = NodeId(4);
    const ZOMBIE: NodeId = NodeId(5);
    const P0: PartitionId = PartitionId(0);
    const P1: PartitionId = PartitionId(1);
    const P2: PartitionId = PartitionId(2);

    /// One transaction coordinator on a three-broker cluster where broker `i` leads partition
    /// `i`.
    struct World {
        k: Kernel,
        controller: Controller,
        t: TxnCoordinator,
        host: BrokerId,
        tokens: u32,
        /// Messages sent and not yet looked at: (to, message).
        outbox: Vec<(NodeId, Msg)>,
    }

    fn world(timeout_ms: u64) -> World {
        let mut k = kernel(&[
            NodeKind::Broker(BrokerId(0)),
            NodeKind::Broker(BrokerId(1)),
            NodeKind::Broker(BrokerId(2)),
            NodeKind::Controller,
            NodeKind::Producer(ProducerId(0)),
            NodeKind::Producer(ProducerId(1)),
            NodeKind::Consumer(ConsumerId(0)),
        ]);
        k.group_names.push("billing".into());
        let mut controller = Controller::new(3);
        for i in 0..3 {
            controller.add_partition(
                TopicId(0),
                vec![BrokerId(i)],
                false,
                1,
                PartitionState {
                    leader: Some(BrokerId(i)),
                    ..PartitionState::default()
                },
            );
        }
        let t = TxnCoordinator::new(0, "checkout-tx", timeout_ms);
        let host = coordinator_for(&t.id, &controller.brokers).expect("a coordinator");
        World {
            k,
            controller,
            t,
            host,
            tokens: 0,
            outbox: Vec::new(),
        }
    }

    impl World {
        fn deliver(&mut self, from: NodeId, msg: Msg) {
            let cache = MetadataCache::of(&self.controller);
            let meta = Metadata::new(&cache);
            let cx = &mut Cx::new(&mut self.k, NodeId(self.host.0));
            self.t.on_message(self.host, from, msg, &meta, cx);
        }

        /// A request from `from`; the coordinator's answer to it, if it answered at once.
        fn request(&mut self, from: NodeId, req: TxnRequest) -> Option<TxnResponse> {
            self.deliver(from, Msg::Txn { txn: 0, req });
            self.answer()
        }

        /// Take the messages sent so far that `pick` maps to something.
        fn take<T>(&mut self, mut pick: impl FnMut(NodeId, &Msg) -> Option<T>) -> Vec<T> {
            let sent = take_sent(&mut self.k);
            self.outbox
                .extend(sent.into_iter().map(|(_, to, m)| (to, m)));
            let mut out = Vec::new();
            self.outbox.retain(|(to, m)| match pick(*to, m) {
                Some(x) => {
                    out.push(x);
                    false
                }
                None => true,
            });
            out
        }

        fn answer(&mut self) -> Option<TxnResponse> {
            let mut answers = self.take(|_, m| match m {
                Msg::TxnResponse { resp } => Some(resp.clone()),
                _ => None,
            });
            assert!(answers.len() <= 1, "{answers:?}");
            answers.pop()
        }

        fn init(
            &mut self,
            from: NodeId,
            current_epoch: Option<u16>,
        ) -> Result<(u32, u16), ErrorCode> {
            self.tokens += 1;
            let token = self.tokens;
            match self.request(
                from,
                TxnRequest::InitProducerId {
                    token,
                    current_epoch,
                    timeout_ms: 60_000,
                },
            ) {
                Some(TxnResponse::InitProducerId { result, .. }) => result,
                other => panic!("{other:?}"),
            }
        }

        fn add_partition(&mut self, epoch: u16, partition: PartitionId) -> ErrorCode {
            match self.request(PRODUCER, TxnRequest::AddPartitions { epoch, partition }) {
                Some(TxnResponse::AddPartitions { error, .. }) => error,
                other => panic!("{other:?}"),
            }
        }

        fn end_txn(&mut self, from: NodeId, epoch: u16, commit: bool) -> ErrorCode {
            match self.request(
                from,
                TxnRequest::EndTxn {
                    epoch,
                    commit,
                    token: 9,
                },
            ) {
                Some(TxnResponse::EndTxn { error, .. }) => error,
                other => panic!("{other:?}"),
            }
        }

        /// The markers sent so far: (to, partition, commit, token).
        fn markers(&mut self) -> Vec<(NodeId, PartitionId, bool, u32)> {
            self.take(|to, m| match *m {
                Msg::WriteTxnMarker {
                    partition,
                    commit,
                    token,
                    ..
                } => Some((to, partition, commit, token)),
                _ => None,
            })
        }

        fn marker_written(&mut self, partition: PartitionId, token: u32, ok: bool) {
            let leader = NodeId(partition.0);
            self.deliver(
                leader,
                Msg::WriteTxnMarkerResponse {
                    partition,
                    txn: 0,
                    token,
                    ok,
                },
            );
        }

        /// Run the coordinator's timers due by `t`, then move the clock to `t`.
        fn run_until(&mut self, t: SimTime) {
            while let Some((node, timer)) = pop_timer(&mut self.k, t) {
                let Timer::TxnCoordinator(timer) = timer else {
                    panic!("not a coordinator timer: {timer:?}");
                };
                let cache = MetadataCache::of(&self.controller);
                let meta = Metadata::new(&cache);
                let cx = &mut Cx::new(&mut self.k, node);
                match timer {
                    TxnTimer::Housekeeping => on_housekeeping(
                        std::slice::from_mut(&mut self.t),
                        BrokerId(node.0),
                        &meta,
                        cx,
                    ),
                    TxnTimer::MarkerRetry { .. } => {
                        self.t.on_timer(BrokerId(node.0), timer, &meta, cx)
                    }
                }
            }
            advance_to(&mut self.k, t);
        }

        fn phases(&mut self) -> Vec<(TxnPhase, u16, bool)> {
            take_trace(&mut self.k)
                .into_iter()
                .filter_map(|t| match t {
                    Trace::TxnStateChanged {
                        phase,
                        epoch,
                        timed_out,
                        ..
                    } => Some((phase, epoch, timed_out)),
                    _ => None,
                })
                .collect()
        }
    }

    impl World {
        /// EndTxn: its error and, under Transactions V2, the epoch it returns.
        fn end_txn_with_epoch(&mut self, epoch: u16, commit: bool) -> (ErrorCode, Option<u16>) {
            let req = TxnRequest::EndTxn {
                epoch,
                commit,
                token: 9,
            };
            match self.request(PRODUCER, req) {
                Some(TxnResponse::EndTxn { error, epoch, .. }) => (error, epoch),
                other => panic!("{other:?}"),
            }
        }

        /// A partition leader's verification (KIP-890).
        fn verify(&mut self, epoch: u16, partition: PartitionId, add: bool) -> ErrorCode {
            let leader = NodeId(partition.0);
            let req = TxnRequest::Verify {
                epoch,
                partition,
                add,
                token: 5,
            };
            match self.request(leader, req) {
                Some(TxnResponse::Verify {
                    error,
                    partition: p,
                    token: 5,
                }) if p == partition => error,
                other => panic!("{other:?}"),
            }
        }

        /// The markers sent so far: (the epoch they carry, token).
        fn marker_epochs(&mut self) -> Vec<(u16, u32)> {
            self.take(|_, m| match *m {
                Msg::WriteTxnMarker {
                    producer_epoch,
                    token,
                    ..
                } => Some((producer_epoch, token)),
                _ => None,
            })
        }
    }

    #[test]
    fn verification_says_whether_the_partition_is_in_the_ongoing_transaction() {
        let mut w = world(60_000);
        let (_, epoch) = w.init(PRODUCER, None).expect("initialised");
        assert_eq!(w.verify(epoch, P0, false), ErrorCode::InvalidTxnState);
        assert_eq!(w.add_partition(epoch, P0), ErrorCode::None);
        assert_eq!(w.verify(epoch, P0, false), ErrorCode::None);
        assert_eq!(w.verify(epoch, P1, false), ErrorCode::InvalidTxnState);
        assert_eq!(w.t.partitions(), [P0], "verify-only adds nothing");
        assert_eq!(w.end_txn(PRODUCER, epoch, false), ErrorCode::None);
        let token = w.markers()[0].3;
        w.marker_written(P0, token, true);
        // A late write of the aborted transaction: the classic protocol kept the epoch.
        assert_eq!(w.t.epoch(), epoch);
        assert_eq!(w.verify(epoch, P0, false), ErrorCode::InvalidTxnState);
    }

    #[test]
    fn classic_end_txn_keeps_the_epoch() {
        let mut w = world(60_000);
        let (_, epoch) = w.init(PRODUCER, None).expect("initialised");
        assert_eq!(w.add_partition(epoch, P0), ErrorCode::None);
        assert_eq!(w.end_txn_with_epoch(epoch, true), (ErrorCode::None, None));
        assert_eq!(w.marker_epochs()[0].0, epoch);
        assert_eq!(w.t.epoch(), epoch);
    }

    #[test]
    fn transactions_v2_bump_the_epoch_at_every_end_txn_and_markers_carry_it() {
        let mut w = world(60_000);
        w.k.settings.transaction_version = 2;
        let (_, epoch) = w.init(PRODUCER, None).expect("initialised");
        // The leader adds the partition: the transaction begins.
        assert_eq!(w.verify(epoch, P0, true), ErrorCode::None);
        assert_eq!(w.t.phase(), Some(TxnPhase::Ongoing));
        assert_eq!(w.t.partitions(), [P0]);
        assert_eq!(
            w.end_txn_with_epoch(epoch, false),
            (ErrorCode::None, Some(epoch + 1))
        );
        let markers = w.marker_epochs();
        let [(marker_epoch, token)] = markers[..] else {
            panic!("one marker: {markers:?}");
        };
        assert_eq!(marker_epoch, epoch + 1, "the abort marker fences");
        assert_eq!(
            w.phases().last(),
            Some(&(TxnPhase::PrepareAbort, epoch + 1, false))
        );
        // A retry of that EndTxn (its answer lost) gets the same answer; a commit with the old
        // epoch does not.
        assert_eq!(
            w.end_txn_with_epoch(epoch, false),
            (ErrorCode::None, Some(epoch + 1))
        );
        assert_eq!(w.t.epoch(), epoch + 1, "bumped once");
        assert_eq!(
            w.end_txn_with_epoch(epoch, true).0,
            ErrorCode::InvalidTxnState
        );
        // A late write of the ended transaction asks with the old epoch: fenced.
        assert_eq!(w.verify(epoch, P0, true), ErrorCode::ProducerFenced);
        // The next transaction, with the returned epoch, commits and bumps again.
        w.marker_written(P0, token, true);
        assert_eq!(w.t.phase(), Some(TxnPhase::CompleteAbort));
        assert_eq!(w.verify(epoch + 1, P1, true), ErrorCode::None);
        assert_eq!(
            w.end_txn_with_epoch(epoch + 1, true),
            (ErrorCode::None, Some(epoch + 2))
        );
    }

    #[test]
    fn init_producer_id_bumps_the_epoch_and_fences_the_old_one() {
        let mut w = world(60_000);
        let pid = w.t.producer_id;
        assert_eq!(w.init(PRODUCER, None), Ok((pid, 1)));
        assert_eq!(w.add_partition(1, P0), ErrorCode::None);
        // A second instance: the open transaction is aborted under a new epoch first.
        assert_eq!(w.init(ZOMBIE, None), Err(ErrorCode::ConcurrentTransactions));
        assert_eq!(w.t.epoch(), 2);
        let abort = w.markers();
        assert_eq!(abort, [(NodeId(0), P0, false, abort[0].3)]);
        w.marker_written(P0, abort[0].3, true);
        assert_eq!(w.t.phase(), Some(TxnPhase::CompleteAbort));
        assert_eq!(w.init(ZOMBIE, None), Ok((pid, 3)));
        // The first instance is fenced.
        assert_eq!(w.add_partition(1, P1), ErrorCode::ProducerFenced);
        assert_eq!(w.end_txn(PRODUCER, 1, true), ErrorCode::ProducerFenced);
        assert_eq!(w.add_partition(3, P1), ErrorCode::None);
    }

    #[test]
    fn init_producer_id_above_transaction_max_timeout_is_refused_and_changes_nothing() {
        let mut w = world(60_000);
        let max = w.k.settings.transaction_max_timeout_ms;
        let init = |w: &mut World, token: u32, timeout_ms: u64| {
            let req = TxnRequest::InitProducerId {
                token,
                current_epoch: None,
                timeout_ms,
            };
            match w.request(PRODUCER, req) {
                Some(TxnResponse::InitProducerId { result, .. }) => result,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            init(&mut w, 1, max + 1),
            Err(ErrorCode::InvalidTransactionTimeout)
        );
        assert_eq!(
            init(&mut w, 2, 0),
            Err(ErrorCode::InvalidTransactionTimeout)
        );
        assert_eq!(w.t.epoch(), 0, "no epoch was bumped");
        let pid = w.t.producer_id;
        assert_eq!(init(&mut w, 3, max), Ok((pid, 1)));
    }

    #[test]
    fn end_txn_commit_writes_a_marker_to_every_partition_added() {
        let mut w = world(60_000);
        let (_, epoch) = w.init(PRODUCER, None).expect("initialised");
        for p in [P2, P0, P2] {
            assert_eq!(w.add_partition(epoch, p), ErrorCode::None);
        }
        assert!(w.markers().is_empty());
        assert_eq!(w.end_txn(PRODUCER, epoch, true), ErrorCode::None);
        let markers = w.markers();
        let token = markers[0].3;
        assert_eq!(
            markers,
            [(NodeId(2), P2, true, token), (NodeId(0), P0, true, token)],
            "one COMMIT marker per partition, to its leader"
        );
        w.marker_written(P2, token, true);
        assert_eq!(w.t.phase(), Some(TxnPhase::PrepareCommit));
        w.marker_written(P0, token, true);
        assert_eq!(w.t.phase(), Some(TxnPhase::CompleteCommit));
        assert_eq!(
            w.phases(),
            [
                (TxnPhase::Ongoing, epoch, false),
                (TxnPhase::PrepareCommit, epoch, false),
                (TxnPhase::CompleteCommit, epoch, false),
            ]
        );
    }

    #[test]
    fn a_transaction_past_its_timeout_is_aborted_with_an_epoch_bump() {
        let mut w = world(5_000);
        start_housekeeping(&mut Cx::new(&mut w.k, NodeId(w.host.0)));
        let (_, epoch) = w.init(PRODUCER, None).expect("initialised");
        assert_eq!(w.add_partition(epoch, P1), ErrorCode::None);
        w.phases();
        w.run_until(SimTime::from_ms(5_000));
        assert_eq!(
            w.t.phase(),
            Some(TxnPhase::Ongoing),
            "not past the timeout yet"
        );
        w.run_until(SimTime::from_ms(6_000));
        assert_eq!(w.phases(), [(TxnPhase::PrepareAbort, epoch + 1, true)]);
        assert_eq!(w.t.epoch(), epoch + 1);
        let markers = w.markers();
        assert!(
            matches!(markers[..], [(NodeId(1), P1, false, _)]),
            "{markers:?}"
        );
        // Housekeeping goes on.
        let next = timers(&mut w.k)
            .into_iter()
            .any(|(_, _, t)| matches!(t, Timer::TxnCoordinator(TxnTimer::Housekeeping)));
        assert!(next);
    }

    #[test]
    fn a_stale_epoch_end_txn_is_refused_as_todays_coordinator_decides() {
        let mut w = world(1_000);
        let (pid, epoch) = w.init(PRODUCER, None).expect("initialised");
        assert_eq!(w.add_partition(epoch, P0), ErrorCode::None);
        advance_to(&mut w.k, SimTime::from_ms(2_000));
        on_housekeeping(
            std::slice::from_mut(&mut w.t),
            w.host,
            &Metadata::new(&MetadataCache::of(&w.controller)),
            &mut Cx::new(&mut w.k, NodeId(w.host.0)),
        );
        assert_eq!(w.t.epoch(), epoch + 1, "the timeout abort bumped the epoch");
        // KIP-588: the epoch the abort bumped away from may recover.
        assert_eq!(
            w.end_txn(PRODUCER, epoch, true),
            ErrorCode::InvalidProducerEpoch
        );
        let token = w.markers()[0].3;
        w.marker_written(P0, token, true);
        assert_eq!(w.init(PRODUCER, Some(epoch)), Ok((pid, epoch + 1)));
        // A new instance fences every older epoch: now the same request is PRODUCER_FENCED.
        assert_eq!(w.init(ZOMBIE, None), Ok((pid, epoch + 2)));
        assert_eq!(
            w.end_txn(PRODUCER, epoch + 1, true),
            ErrorCode::ProducerFenced
        );
        assert_eq!(w.end_txn(PRODUCER, epoch, true), ErrorCode::ProducerFenced);
    }

    #[test]
    fn a_failed_marker_is_sent_again() {
        let mut w = world(60_000);
        let (_, epoch) = w.init(PRODUCER, None).expect("initialised");
        assert_eq!(w.add_partition(epoch, P0), ErrorCode::None);
        assert_eq!(w.add_partition(epoch, P1), ErrorCode::None);
        assert_eq!(w.end_txn(PRODUCER, epoch, true), ErrorCode::None);
        let first = w.markers();
        let token = first[0].3;
        w.marker_written(P0, token, true);
        // P1's leader could not write it (say, it is no longer the leader).
        w.marker_written(P1, token, false);
        assert_eq!(w.t.phase(), Some(TxnPhase::PrepareCommit));
        w.run_until(SimTime::from_ms(TXN_HOUSEKEEPING_MS));
        let again = w.markers();
        assert_eq!(again.len(), 1, "only the unwritten marker: {again:?}");
        let (to, partition, commit, retry) = again[0];
        assert_eq!((to, partition, commit), (NodeId(1), P1, true));
        assert_ne!(retry, token);
        // An answer to the first round no longer counts.
        w.marker_written(P1, token, true);
        assert_eq!(w.t.phase(), Some(TxnPhase::PrepareCommit));
        w.marker_written(P1, retry, true);
        assert_eq!(w.t.phase(), Some(TxnPhase::CompleteCommit));
    }

    #[test]
    fn a_new_host_sends_the_markers_its_predecessor_did_not_get_written() {
        let mut w = world(60_000);
        let (_, epoch) = w.init(PRODUCER, None).expect("initialised");
        assert_eq!(w.add_partition(epoch, P2), ErrorCode::None);
        assert_eq!(w.end_txn(PRODUCER, epoch, false), ErrorCode::None);
        assert_eq!(w.markers().len(), 1);
        w.t.host_crashed(w.host);
        assert_eq!(w.t.host(), None);
        // The host restarts; its housekeeping takes the transaction over.
        on_housekeeping(
            std::slice::from_mut(&mut w.t),
            w.host,
            &Metadata::new(&MetadataCache::of(&w.controller)),
            &mut Cx::new(&mut w.k, NodeId(w.host.0)),
        );
        assert!(matches!(w.markers()[..], [(NodeId(2), P2, false, _)]));
    }

    #[test]
    fn offsets_go_to_the_group_coordinator_and_its_marker_completes_the_commit() {
        let mut w = world(60_000);
        let group_host = NodeId(
            coordinator_for("billing", &w.controller.brokers)
                .expect("a coordinator")
                .0,
        );
        let (_, epoch) = w.init(PRODUCER, None).expect("initialised");
        assert_eq!(w.add_partition(epoch, P0), ErrorCode::None);
        w.deliver(
            PRODUCER,
            Msg::Txn {
                txn: 0,
                req: TxnRequest::AddOffsets {
                    epoch,
                    group: GroupId(0),
                    consumer: ConsumerId(0),
                    member: GroupMetadata {
                        incarnation: 0,
                        generation: 1,
                    },
                    offsets: Box::new([(P1, 8)]),
                    token: 21,
                },
            },
        );
        // Answered only once the group's coordinator holds the offsets.
        assert!(w.answer().is_none());
        let forwarded = w.take(|to, m| match m {
            Msg::TxnOffsetCommit { offsets, token, .. } if to == group_host => {
                assert_eq!(offsets[..], [(P1, 8)]);
                Some(*token)
            }
            _ => None,
        });
        let [forwarded] = forwarded[..] else {
            panic!("one TxnOffsetCommit: {forwarded:?}");
        };
        w.deliver(
            group_host,
            Msg::TxnOffsetCommitResponse {
                txn: 0,
                token: forwarded,
                error: ErrorCode::None,
            },
        );
        assert!(matches!(
            w.answer(),
            Some(TxnResponse::AddOffsets {
                token: 21,
                error: ErrorCode::None
            })
        ));
        assert_eq!(w.end_txn(PRODUCER, epoch, true), ErrorCode::None);
        let group_marker = w.take(|to, m| match m {
            Msg::TxnOffsetMarker {
                commit: true,
                offsets,
                token,
                ..
            } if to == group_host => Some((offsets.clone(), *token)),
            _ => None,
        });
        let [(offsets, token)] = &group_marker[..] else {
            panic!("one marker to the group coordinator: {group_marker:?}");
        };
        let token = *token;
        assert_eq!(offsets[..], [(P1, 8)]);
        w.marker_written(P0, token, true);
        assert_eq!(
            w.t.phase(),
            Some(TxnPhase::PrepareCommit),
            "the group's marker is not written yet"
        );
        w.deliver(
            group_host,
            Msg::TxnOffsetMarkerResponse {
                txn: 0,
                token,
                ok: true,
            },
        );
        assert_eq!(w.t.phase(), Some(TxnPhase::CompleteCommit));
    }

    #[test]
    fn a_broker_that_does_not_coordinate_the_id_answers_not_coordinator() {
        let mut w = world(60_000);
        let other = BrokerId((w.host.0 + 1) % 3);
        let cache = MetadataCache::of(&w.controller);
        let meta = Metadata::new(&cache);
        let req = TxnRequest::InitProducerId {
            token: 4,
            current_epoch: None,
            timeout_ms: 60_000,
        };
        let cx = &mut Cx::new(&mut w.k, NodeId(other.0));
        w.t.on_message(other, PRODUCER, Msg::Txn { txn: 0, req }, &meta, cx);
        assert!(matches!(
            w.answer(),
            Some(TxnResponse::InitProducerId {
                token: 4,
                result: Err(ErrorCode::NotCoordinator)
            })
        ));
        assert_eq!(w.t.epoch(), 0);
    }
}
