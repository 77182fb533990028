//! Transactions (KIP-98, KIP-447): the transaction coordinator and the producer's transaction
//! manager.
//!
//! - `InitProducerId` gives a `transactional.id` its producer id and a new epoch, fencing older
//!   instances (`PRODUCER_FENCED` / `INVALID_PRODUCER_EPOCH`) and aborting what they left open.
//! - Partitions join a transaction with `AddPartitionsToTxn`; `sendOffsetsToTransaction` adds a
//!   consumer group's input offsets.
//! - `EndTxn` moves the transaction to PrepareCommit/PrepareAbort and the coordinator writes a
//!   COMMIT or ABORT marker to every partition in it; committed offsets become visible with it.
//! - A transaction older than `transaction.timeout.ms` is aborted by the coordinator, with an
//!   epoch bump. KIP-588: the producer's next request with the old epoch gets
//!   INVALID_PRODUCER_EPOCH (abortable); it fails the aborted transaction's sends and sends
//!   `InitProducerId` with its current epoch, which the coordinator answers with the bumped one.
//!   Only an epoch older than that (a zombie) is PRODUCER_FENCED.
//!
//! Simplifications: the coordinator lives on the first unfenced broker from a hash of the
//! `transactional.id` (standing in for the leader of its `__transaction_state` partition) and its
//! state survives its failover, as it would in that replicated topic; the coordinator applies
//! transactional offset commits to the group itself instead of via markers on
//! `__consumer_offsets`; `EndTxn` is answered once the transaction is prepared, as in Kafka.

use std::collections::VecDeque;

use crate::sim::ids::*;
use crate::sim::partitioner::partition_for_key;
use crate::sim::producer::BatchState;
use crate::sim::trace::{Trace, TxnPhase};
use crate::sim::wire::{Msg, TxnRequest, TxnResponse};
use crate::sim::{Sim, Timer};

/// Backoff before a transactional request is retried.
const TXN_RETRY_BACKOFF_MS: u64 = 100;
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s in Kafka; the
/// coordinator's housekeeping here also takes over transactions after a failover, so it runs
/// every second.
const TXN_HOUSEKEEPING_MS: u64 = 1000;
/// `transaction.timeout.ms`
pub const DEFAULT_TRANSACTION_TIMEOUT_MS: u64 = 60_000;

/// Input offsets a processor commits with its transaction (`sendOffsetsToTransaction`):
/// the group, the member and each partition's next offset.
type TxnOffsets = (GroupId, ConsumerId, Box<[(PartitionId, u64)]>);

/// A transaction as its coordinator records it.
#[derive(Clone, Debug)]
pub struct Txn {
    pub id: String,
    pub producer_id: u32,
    pub epoch: u16,
    /// `None` while empty.
    pub phase: Option<TxnPhase>,
    pub partitions: Vec<PartitionId>,
    pub started: SimTime,
    pub timeout_ms: u64,
    /// The epoch a timeout abort bumped away from (Kafka's `TransactionMetadata.lastProducerEpoch`):
    /// its producer may still recover (KIP-588).
    last_epoch: Option<u16>,
    /// Partitions whose marker is not yet written.
    pending: Vec<PartitionId>,
    marker_token: u32,
    offsets: Option<TxnOffsets>,
    pub host: Option<BrokerId>,
    /// The host's process incarnation: a restarted host reloads the transaction.
    host_incarnation: u32,
}

impl Txn {
    /// The answer to a request with an epoch older than the current one: INVALID_PRODUCER_EPOCH
    /// (abortable, KIP-588) for the epoch a timeout abort replaced, PRODUCER_FENCED otherwise.
    fn stale_epoch_error(&self, epoch: u16) -> ErrorCode {
        if Some(epoch) == self.last_epoch {
            ErrorCode::InvalidProducerEpoch
        } else {
            ErrorCode::ProducerFenced
        }
    }
}

/// Where the producer's transaction manager is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnClientState {
    /// Waiting for `InitProducerId`.
    Initializing,
    Ready,
    InTxn,
    Committing,
    Aborting,
    /// A newer instance took over; this one does nothing more.
    Fenced,
}

impl TxnClientState {
    pub fn name(self) -> &'static str {
        match self {
            TxnClientState::Initializing => "initializing",
            TxnClientState::Ready => "ready",
            TxnClientState::InTxn => "in transaction",
            TxnClientState::Committing => "committing",
            TxnClientState::Aborting => "aborting",
            TxnClientState::Fenced => "FENCED",
        }
    }
}

/// The producer side of transactions (Kafka's `TransactionManager`).
#[derive(Clone, Debug)]
pub struct TxnClient {
    pub txn: u32,
    pub state: TxnClientState,
    /// Records per transaction; `u32::MAX` when the owner (a processor) decides.
    pub size: u32,
    /// Records in the open transaction.
    pub records: Vec<MsgId>,
    /// Per producer partition: 0 not added, 1 being added, 2 added to the transaction.
    added: Vec<u8>,
    /// Sends the application makes while it is blocked in `commitTransaction`.
    deferred: VecDeque<u64>,
    /// Input offsets to commit with the transaction (a processor's `sendOffsetsToTransaction`).
    offsets: Option<TxnOffsets>,
    offsets_added: bool,
    /// The request in flight to the coordinator, by token.
    outstanding: Option<(u32, TxnOp)>,
    next_token: u32,
    retry_scheduled: bool,
    abort_error: Option<ErrorCode>,
    /// KIP-588: re-initialising after the coordinator aborted our transaction, with this epoch.
    recover_epoch: Option<u16>,
    pub committed: u64,
    pub aborted: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxnOp {
    Init,
    AddOffsets,
    End,
}

impl TxnClient {
    pub(crate) fn new(txn: u32, size: u32, parts: usize) -> TxnClient {
        TxnClient {
            txn,
            state: TxnClientState::Initializing,
            size,
            records: Vec::new(),
            added: vec![0; parts],
            deferred: VecDeque::new(),
            offsets: None,
            offsets_added: false,
            outstanding: None,
            next_token: 0,
            retry_scheduled: false,
            abort_error: None,
            recover_epoch: None,
            committed: 0,
            aborted: 0,
        }
    }

    fn token(&mut self) -> u32 {
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token
    }

    /// The producer's topic grew by one partition.
    pub(crate) fn add_partition_slot(&mut self) {
        self.added.push(0);
    }

    /// Whether this partition may be sent to (it joined the open transaction).
    pub(crate) fn may_send(&self, part: u32) -> bool {
        self.added[part as usize] == 2
    }

    /// No transaction left open.
    pub(crate) fn settled(&self) -> bool {
        matches!(
            self.state,
            TxnClientState::Ready | TxnClientState::Fenced | TxnClientState::Initializing
        ) && self.records.is_empty()
    }

    /// The application is blocked (initializing or committing), so `send()` must wait.
    pub(crate) fn blocks_send(&self) -> bool {
        !matches!(self.state, TxnClientState::Ready | TxnClientState::InTxn)
    }
}

impl Sim {
    /// The index of a transactional id's coordinator record, created on first use.
    pub(crate) fn txn_index(&mut self, id: &str, timeout_ms: u64) -> u32 {
        if let Some(i) = self.txns.iter().position(|t| t.id == id) {
            return i as u32;
        }
        let i = self.txns.len() as u32;
        self.txns.push(Txn {
            id: id.to_string(),
            // Transactional producer ids live in their own range.
            producer_id: 0x4000_0000 | i,
            epoch: 0,
            phase: None,
            partitions: Vec::new(),
            started: SimTime::ZERO,
            timeout_ms,
            last_epoch: None,
            pending: Vec::new(),
            marker_token: 0,
            offsets: None,
            host: None,
            host_incarnation: 0,
        });
        i
    }

    pub fn txns(&self) -> &[Txn] {
        &self.txns
    }

    /// The `transactional.id` owning a producer id, for naming markers.
    pub fn txn_id_of_producer(&self, pid: u32) -> Option<&str> {
        self.txns
            .iter()
            .find(|t| t.producer_id == pid)
            .map(|t| t.id.as_str())
    }

    /// The broker hosting a transaction's coordinator right now.
    pub fn txn_host(&self, txn: u32) -> Option<BrokerId> {
        let n = self.controller.brokers.len() as u32;
        let start = partition_for_key(&self.txns[txn as usize].id, n);
        (0..n)
            .map(|i| BrokerId((start + i) % n))
            .find(|b| !self.controller.brokers[b.idx()].fenced)
    }

    // ----- coordinator ----------------------------------------------------------------------

    fn txn_reply(&mut self, b: BrokerId, to: NodeId, resp: TxnResponse) {
        let node = self.node_of_broker(b);
        self.send(node, to, Msg::TxnResponse { resp });
    }

    /// A broker that is (now) the coordinator takes a transaction over, finishing what its
    /// predecessor left half done.
    fn txn_adopt(&mut self, b: BrokerId, txn: u32) {
        let incarnation = self.k.nodes[self.node_of_broker(b).idx()].incarnation;
        let t = &mut self.txns[txn as usize];
        if t.host == Some(b) && t.host_incarnation == incarnation {
            return;
        }
        t.host = Some(b);
        t.host_incarnation = incarnation;
        if !self.txns[txn as usize].pending.is_empty() {
            self.send_markers(txn);
        }
    }

    pub(crate) fn txn_coordinator_receive(
        &mut self,
        b: BrokerId,
        from: NodeId,
        txn: u32,
        req: TxnRequest,
    ) {
        if self.txn_host(txn) != Some(b) {
            let error = ErrorCode::NotCoordinator;
            let resp = match req {
                TxnRequest::InitProducerId { token, .. } => TxnResponse::InitProducerId {
                    token,
                    result: Err(error),
                },
                TxnRequest::AddPartitions { partition, .. } => {
                    TxnResponse::AddPartitions { partition, error }
                }
                TxnRequest::AddOffsets { token, .. } => TxnResponse::AddOffsets { token, error },
                TxnRequest::EndTxn { token, .. } => TxnResponse::EndTxn { token, error },
            };
            self.txn_reply(b, from, resp);
            return;
        }
        self.txn_adopt(b, txn);
        let now = self.k.now;
        let t = &mut self.txns[txn as usize];
        let preparing = matches!(
            t.phase,
            Some(TxnPhase::PrepareCommit | TxnPhase::PrepareAbort)
        );
        match req {
            TxnRequest::InitProducerId {
                token,
                current_epoch: Some(e),
            } => {
                // KIP-588: a producer re-initialising itself after the coordinator aborted its
                // transaction. Its epoch is the current one or the one the abort bumped away
                // from; anything older is a zombie.
                let result = if e != t.epoch && Some(e) != t.last_epoch {
                    Err(ErrorCode::ProducerFenced)
                } else if preparing {
                    Err(ErrorCode::ConcurrentTransactions)
                } else if t.phase == Some(TxnPhase::Ongoing) {
                    t.epoch = t.epoch.wrapping_add(1);
                    t.last_epoch = None;
                    self.txn_end(txn, false, false);
                    Err(ErrorCode::ConcurrentTransactions)
                } else {
                    if e == t.epoch {
                        t.epoch = t.epoch.wrapping_add(1);
                    }
                    // Otherwise the timeout abort's bump is the producer's new epoch.
                    t.last_epoch = None;
                    t.phase = None;
                    t.partitions.clear();
                    Ok((t.producer_id, t.epoch))
                };
                self.txn_reply(b, from, TxnResponse::InitProducerId { token, result });
            }
            TxnRequest::InitProducerId {
                token,
                current_epoch: None,
            } => {
                // A new instance: whatever epoch came before is fenced.
                t.last_epoch = None;
                let result = if preparing {
                    Err(ErrorCode::ConcurrentTransactions)
                } else if t.phase == Some(TxnPhase::Ongoing) {
                    // The previous instance left a transaction open: bump the epoch (fencing
                    // it) and abort; the new instance retries until the abort completes.
                    t.epoch = t.epoch.wrapping_add(1);
                    self.txn_end(txn, false, false);
                    Err(ErrorCode::ConcurrentTransactions)
                } else {
                    t.epoch = t.epoch.wrapping_add(1);
                    t.phase = None;
                    t.partitions.clear();
                    Ok((t.producer_id, t.epoch))
                };
                self.txn_reply(b, from, TxnResponse::InitProducerId { token, result });
            }
            TxnRequest::AddPartitions {
                epoch, partition, ..
            } => {
                let error = if epoch < t.epoch {
                    t.stale_epoch_error(epoch)
                } else if preparing {
                    ErrorCode::ConcurrentTransactions
                } else {
                    if !t.partitions.contains(&partition) {
                        t.partitions.push(partition);
                    }
                    if t.phase != Some(TxnPhase::Ongoing) {
                        t.phase = Some(TxnPhase::Ongoing);
                        t.started = now;
                        let epoch = t.epoch;
                        self.emit(Trace::TxnStateChanged {
                            txn,
                            epoch,
                            phase: TxnPhase::Ongoing,
                            timed_out: false,
                        });
                    }
                    ErrorCode::None
                };
                self.txn_reply(b, from, TxnResponse::AddPartitions { partition, error });
            }
            TxnRequest::AddOffsets {
                epoch,
                group,
                consumer,
                offsets,
                token,
            } => {
                let error = if epoch < t.epoch {
                    t.stale_epoch_error(epoch)
                } else if preparing {
                    ErrorCode::ConcurrentTransactions
                } else {
                    t.offsets = Some((group, consumer, offsets));
                    if t.phase != Some(TxnPhase::Ongoing) {
                        t.phase = Some(TxnPhase::Ongoing);
                        t.started = now;
                    }
                    ErrorCode::None
                };
                self.txn_reply(b, from, TxnResponse::AddOffsets { token, error });
            }
            TxnRequest::EndTxn {
                epoch,
                commit,
                token,
            } => {
                let error = if epoch < t.epoch {
                    t.stale_epoch_error(epoch)
                } else if preparing {
                    ErrorCode::ConcurrentTransactions
                } else if t.phase == Some(TxnPhase::Ongoing) {
                    self.txn_end(txn, commit, false);
                    ErrorCode::None
                } else if commit && t.phase == Some(TxnPhase::CompleteAbort) {
                    // The coordinator aborted it already (timeout or a newer instance).
                    ErrorCode::InvalidTxnState
                } else {
                    ErrorCode::None
                };
                self.txn_reply(b, from, TxnResponse::EndTxn { token, error });
            }
        }
    }

    /// Prepare to commit or abort, then write the markers.
    fn txn_end(&mut self, txn: u32, commit: bool, timed_out: bool) {
        let t = &mut self.txns[txn as usize];
        let phase = if commit {
            TxnPhase::PrepareCommit
        } else {
            TxnPhase::PrepareAbort
        };
        t.phase = Some(phase);
        t.pending = t.partitions.clone();
        if !commit {
            t.offsets = None;
        }
        let epoch = t.epoch;
        self.emit(Trace::TxnStateChanged {
            txn,
            epoch,
            phase,
            timed_out,
        });
        if self.txns[txn as usize].pending.is_empty() {
            self.txn_complete(txn);
        } else {
            self.send_markers(txn);
        }
    }

    fn send_markers(&mut self, txn: u32) {
        let Some(host) = self.txns[txn as usize].host.or_else(|| self.txn_host(txn)) else {
            return;
        };
        let t = &mut self.txns[txn as usize];
        t.marker_token = t.marker_token.wrapping_add(1);
        let commit = t.phase == Some(TxnPhase::PrepareCommit);
        let (pid, epoch, token) = (t.producer_id, t.epoch, t.marker_token);
        let node = self.node_of_broker(host);
        for i in 0..self.txns[txn as usize].pending.len() {
            let p = self.txns[txn as usize].pending[i];
            if let Some(leader) = self.controller.parts[p.idx()].leader {
                let to = self.node_of_broker(leader);
                self.send(
                    node,
                    to,
                    Msg::WriteTxnMarker {
                        partition: p,
                        producer_id: pid,
                        producer_epoch: epoch,
                        commit,
                        txn,
                        token,
                    },
                );
            }
        }
        // Markers that get no answer (leader moved, offline, cut off) are sent again.
        self.set_timer_ms(
            node,
            TXN_HOUSEKEEPING_MS,
            Timer::TxnMarkerRetry { txn, token },
        );
    }

    pub(crate) fn txn_marker_response(
        &mut self,
        b: BrokerId,
        partition: PartitionId,
        txn: u32,
        token: u32,
        ok: bool,
    ) {
        let t = &mut self.txns[txn as usize];
        if t.host != Some(b) || t.marker_token != token || !ok {
            return;
        }
        t.pending.retain(|&p| p != partition);
        if t.pending.is_empty() {
            self.txn_complete(txn);
        }
    }

    fn txn_complete(&mut self, txn: u32) {
        let t = &mut self.txns[txn as usize];
        let commit = t.phase == Some(TxnPhase::PrepareCommit);
        let phase = if commit {
            TxnPhase::CompleteCommit
        } else {
            TxnPhase::CompleteAbort
        };
        t.phase = Some(phase);
        t.partitions.clear();
        let offsets = t.offsets.take();
        let epoch = t.epoch;
        self.emit(Trace::TxnStateChanged {
            txn,
            epoch,
            phase,
            timed_out: false,
        });
        // sendOffsetsToTransaction: the input offsets become committed with the transaction.
        if commit && let Some((g, c, offsets)) = offsets {
            for &(p, offset) in offsets.iter() {
                let group = &mut self.groups[g.idx()];
                if let Some(i) = group.partitions.iter().position(|&x| x == p) {
                    group.committed[i] = Some(offset);
                    self.emit(Trace::OffsetCommitted {
                        group: g,
                        consumer: c,
                        partition: p,
                        offset,
                    });
                }
            }
        }
    }

    pub(crate) fn txn_timer(&mut self, b: BrokerId, timer: Timer) {
        match timer {
            Timer::TxnHousekeeping => {
                let now = self.k.now;
                for txn in 0..self.txns.len() as u32 {
                    if self.txn_host(txn) != Some(b) {
                        continue;
                    }
                    self.txn_adopt(b, txn);
                    let t = &mut self.txns[txn as usize];
                    if t.phase == Some(TxnPhase::Ongoing)
                        && now.0 > t.started.0 + t.timeout_ms * 1000
                    {
                        // transaction.timeout.ms: abort and bump the epoch. The producer with
                        // the old epoch may recover (KIP-588); only older epochs are fenced.
                        t.last_epoch = Some(t.epoch);
                        t.epoch = t.epoch.wrapping_add(1);
                        self.txn_end(txn, false, true);
                    }
                }
                let node = self.node_of_broker(b);
                self.set_timer_ms(node, TXN_HOUSEKEEPING_MS, Timer::TxnHousekeeping);
            }
            Timer::TxnMarkerRetry { txn, token } => {
                let t = &self.txns[txn as usize];
                if t.host == Some(b) && t.marker_token == token && !t.pending.is_empty() {
                    self.send_markers(txn);
                }
            }
            _ => {}
        }
    }

    // ----- the producer's transaction manager -------------------------------------------------

    fn txn_request(
        &mut self,
        p: ProducerId,
        op: Option<TxnOp>,
        make: impl FnOnce(u32) -> TxnRequest,
    ) {
        let prod = &mut self.producers[p.idx()];
        let node = prod.node;
        let t = prod.txn.as_mut().expect("transactional producer");
        let token = t.token();
        if let Some(op) = op {
            t.outstanding = Some((token, op));
        }
        let txn = t.txn;
        let req = make(token);
        if let Some(b) = self.txn_host(txn) {
            let to = self.node_of_broker(b);
            self.send(node, to, Msg::Txn { txn, req });
        }
        let timeout = self.producers[p.idx()].request_timeout_ms;
        self.set_timer_ms(node, timeout, Timer::ProducerTxnRetry { token });
    }

    pub(crate) fn txn_init(&mut self, p: ProducerId) {
        let t = self.producers[p.idx()].txn.as_mut().expect("transactional");
        t.state = TxnClientState::Initializing;
        let current_epoch = t.recover_epoch;
        self.txn_request(p, Some(TxnOp::Init), |token| TxnRequest::InitProducerId {
            token,
            current_epoch,
        });
    }

    /// Whether `send()` must wait (the application is blocked in `initTransactions` or
    /// `commitTransaction`); if so the send is remembered.
    pub(crate) fn txn_defer_send(&mut self, p: ProducerId, n: u64) -> bool {
        let Some(t) = self.producers[p.idx()].txn.as_mut() else {
            return false;
        };
        if t.state == TxnClientState::Fenced {
            return true;
        }
        if t.blocks_send() {
            t.deferred.push_back(n);
            return true;
        }
        false
    }

    /// A record joined the open transaction (an application send or a processor's output).
    pub(crate) fn txn_record_added(&mut self, p: ProducerId, part: u32, msg: MsgId) {
        let prod = &mut self.producers[p.idx()];
        let Some(t) = prod.txn.as_mut() else {
            return;
        };
        t.state = TxnClientState::InTxn;
        t.records.push(msg);
        let full = t.records.len() as u32 >= t.size;
        if t.added[part as usize] == 0 {
            t.added[part as usize] = 1;
            let partition = prod.parts[part as usize].partition;
            let epoch = prod.epoch;
            self.txn_request(p, None, |_| TxnRequest::AddPartitions { epoch, partition });
        }
        if full {
            self.txn_begin_end(p, true);
        }
    }

    /// `commitTransaction()` or `abortTransaction()`: flush, then EndTxn.
    pub(crate) fn txn_begin_end(&mut self, p: ProducerId, commit: bool) {
        let Some(t) = self.producers[p.idx()].txn.as_mut() else {
            return;
        };
        if t.state == TxnClientState::Fenced {
            return;
        }
        t.state = if commit {
            TxnClientState::Committing
        } else {
            TxnClientState::Aborting
        };
        self.txn_maybe_end(p);
    }

    /// A send failed for good: the transaction has to abort.
    pub(crate) fn txn_abort_after(&mut self, p: ProducerId, error: ErrorCode) {
        if let Some(t) = self.producers[p.idx()].txn.as_mut() {
            t.abort_error.get_or_insert(error);
        }
        self.txn_begin_end(p, false);
    }

    /// A processor's `sendOffsetsToTransaction` followed by `commitTransaction`.
    pub(crate) fn txn_commit_with_offsets(
        &mut self,
        p: ProducerId,
        group: GroupId,
        consumer: ConsumerId,
        offsets: Box<[(PartitionId, u64)]>,
    ) {
        let Some(t) = self.producers[p.idx()].txn.as_mut() else {
            return;
        };
        t.offsets = Some((group, consumer, offsets));
        t.offsets_added = false;
        self.txn_begin_end(p, true);
    }

    /// Send EndTxn once every record of the transaction is acknowledged.
    pub(crate) fn txn_maybe_end(&mut self, p: ProducerId) {
        let prod = &self.producers[p.idx()];
        let Some(t) = prod.txn.as_ref() else {
            return;
        };
        if !matches!(
            t.state,
            TxnClientState::Committing | TxnClientState::Aborting
        ) || t.outstanding.is_some()
        {
            return;
        }
        let commit = t.state == TxnClientState::Committing;
        if commit && (prod.queued() > 0 || prod.has_open_batches() || t.added.contains(&1)) {
            return;
        }
        if !commit && prod.in_flight() > 0 {
            return;
        }
        let epoch = prod.epoch;
        if commit
            && !t.offsets_added
            && let Some((group, consumer, offsets)) = t.offsets.clone()
        {
            self.txn_request(p, Some(TxnOp::AddOffsets), |token| TxnRequest::AddOffsets {
                epoch,
                group,
                consumer,
                offsets,
                token,
            });
            return;
        }
        self.txn_request(p, Some(TxnOp::End), |token| TxnRequest::EndTxn {
            epoch,
            commit,
            token,
        });
    }

    pub(crate) fn txn_response(&mut self, p: ProducerId, resp: TxnResponse) {
        let prod = &mut self.producers[p.idx()];
        let Some(t) = prod.txn.as_mut() else {
            return;
        };
        if t.state == TxnClientState::Fenced {
            return;
        }
        let fenced = |e: ErrorCode| {
            matches!(
                e,
                ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch
            )
        };
        match resp {
            TxnResponse::InitProducerId { token, result } => {
                if t.outstanding != Some((token, TxnOp::Init)) {
                    return;
                }
                t.outstanding = None;
                match result {
                    Ok((pid, epoch)) => {
                        t.state = TxnClientState::Ready;
                        if t.recover_epoch.take().is_some() {
                            // KIP-588: the coordinator aborted the transaction; its sends fail.
                            t.aborted += 1;
                            let records = std::mem::take(&mut t.records);
                            prod.failed += records.len() as u64;
                            for msg in records {
                                self.emit(Trace::Failed {
                                    producer: p,
                                    msg,
                                    error: ErrorCode::InvalidProducerEpoch,
                                });
                            }
                        }
                        let prod = &mut self.producers[p.idx()];
                        let t = prod.txn.as_mut().expect("transactional");
                        let txn = t.txn;
                        prod.producer_id = Some(pid);
                        prod.epoch = epoch;
                        for pp in &mut prod.parts {
                            pp.next_seq = 0;
                            pp.last_acked_seq = -1;
                        }
                        self.emit(Trace::ProducerInitialized {
                            producer: p,
                            txn,
                            epoch,
                        });
                        match self.producers[p.idx()].embedded_in {
                            Some(c) => self.consumer_producer_ready(c),
                            None => self.txn_replay_deferred(p),
                        }
                    }
                    Err(ErrorCode::ProducerFenced) => self.txn_fenced(p),
                    Err(_) => self.txn_retry_later(p),
                }
            }
            TxnResponse::AddPartitions { partition, error } => {
                let Some(part) = prod.parts.iter().position(|x| x.partition == partition) else {
                    return;
                };
                if t.added[part] != 1 {
                    return;
                }
                if error == ErrorCode::None {
                    t.added[part] = 2;
                    self.producer_drain_part(p, part as u32);
                    self.txn_maybe_end(p);
                } else if fenced(error) {
                    self.txn_stale_epoch(p, error);
                } else {
                    t.added[part] = 0;
                    self.txn_retry_later(p);
                }
            }
            TxnResponse::AddOffsets { token, error } => {
                if t.outstanding != Some((token, TxnOp::AddOffsets)) {
                    return;
                }
                t.outstanding = None;
                if error == ErrorCode::None {
                    t.offsets_added = true;
                    self.txn_maybe_end(p);
                } else if fenced(error) {
                    self.txn_stale_epoch(p, error);
                } else {
                    self.txn_retry_later(p);
                }
            }
            TxnResponse::EndTxn { token, error } => {
                if t.outstanding != Some((token, TxnOp::End)) {
                    return;
                }
                t.outstanding = None;
                if fenced(error) {
                    self.txn_stale_epoch(p, error);
                } else if error == ErrorCode::InvalidTxnState {
                    // The coordinator had already aborted it.
                    t.abort_error = Some(ErrorCode::InvalidTxnState);
                    t.state = TxnClientState::Aborting;
                    self.txn_finished(p, false);
                } else if error != ErrorCode::None {
                    self.txn_retry_later(p);
                } else {
                    let commit = t.state == TxnClientState::Committing;
                    self.txn_finished(p, commit);
                }
            }
        }
    }

    fn txn_retry_later(&mut self, p: ProducerId) {
        let prod = &mut self.producers[p.idx()];
        let node = prod.node;
        let t = prod.txn.as_mut().expect("transactional");
        // One retry loop at a time, however many requests failed.
        if t.retry_scheduled {
            return;
        }
        t.retry_scheduled = true;
        let token = t.token();
        self.set_timer_ms(
            node,
            TXN_RETRY_BACKOFF_MS,
            Timer::ProducerTxnRetry { token },
        );
    }

    /// A request timed out or a retry is due: redo whatever is still pending.
    pub(crate) fn txn_retry(&mut self, p: ProducerId, token: u32) {
        let prod = &mut self.producers[p.idx()];
        let Some(t) = prod.txn.as_mut() else {
            return;
        };
        t.retry_scheduled = false;
        if let Some((tok, _)) = t.outstanding {
            if tok != token {
                return;
            }
            t.outstanding = None;
        }
        match t.state {
            TxnClientState::Fenced => {}
            TxnClientState::Initializing => self.txn_init(p),
            _ => {
                let epoch = prod.epoch;
                let missing: Vec<u32> = (0..prod.parts.len() as u32)
                    .filter(|&i| {
                        let pp = &prod.parts[i as usize];
                        t.added[i as usize] == 0 && pp.batched < pp.records.len()
                    })
                    .collect();
                for part in missing {
                    let t = self.producers[p.idx()].txn.as_mut().expect("txn");
                    t.added[part as usize] = 1;
                    let partition = self.producers[p.idx()].parts[part as usize].partition;
                    self.txn_request(p, None, |_| TxnRequest::AddPartitions { epoch, partition });
                }
                self.txn_maybe_end(p);
            }
        }
    }

    /// The transaction committed or aborted: report its records and start the next one.
    fn txn_finished(&mut self, p: ProducerId, committed: bool) {
        let prod = &mut self.producers[p.idx()];
        let t = prod.txn.as_mut().expect("transactional");
        let records = std::mem::take(&mut t.records);
        let error = t.abort_error.take().unwrap_or(ErrorCode::InvalidTxnState);
        t.added.iter_mut().for_each(|a| *a = 0);
        t.offsets = None;
        t.offsets_added = false;
        t.state = TxnClientState::Ready;
        if committed {
            t.committed += 1;
        } else {
            t.aborted += 1;
        }
        let embedded = prod.embedded_in;
        if embedded.is_none() {
            // For an application producer, success is the commit.
            let prod = &mut self.producers[p.idx()];
            if committed {
                prod.acked += records.len() as u64;
            } else {
                prod.failed += records.len() as u64;
            }
            for &msg in &records {
                let partition = self.k.msgs[msg.idx()].partition;
                if committed {
                    self.emit(Trace::Acked {
                        producer: p,
                        msg,
                        partition,
                        offset: None,
                    });
                } else {
                    self.emit(Trace::Failed {
                        producer: p,
                        msg,
                        error,
                    });
                }
            }
        }
        match embedded {
            Some(c) => self.consumer_txn_done(c, committed),
            None => self.txn_replay_deferred(p),
        }
    }

    /// The application's `send()` calls that waited for the commit go through now.
    fn txn_replay_deferred(&mut self, p: ProducerId) {
        while let Some(t) = self.producers[p.idx()].txn.as_mut()
            && !t.blocks_send()
            && let Some(n) = t.deferred.pop_front()
        {
            self.app_send(p, n);
        }
    }

    /// A request was refused for its epoch: PRODUCER_FENCED is fatal; INVALID_PRODUCER_EPOCH is
    /// abortable (KIP-588, Kafka 2.7+): the coordinator or a newer instance bumped the epoch.
    pub(crate) fn txn_stale_epoch(&mut self, p: ProducerId, error: ErrorCode) {
        match error {
            // Simplification: a processor's embedded producer still stops here; recovering
            // would also need its consumer to rewind its input mid-transaction.
            ErrorCode::InvalidProducerEpoch if self.producers[p.idx()].embedded_in.is_none() => {
                self.txn_recover(p)
            }
            _ => self.txn_fenced(p),
        }
    }

    /// KIP-588: the transaction was aborted under us (most likely by `transaction.timeout.ms`).
    /// The producer re-initialises with its current producer id and epoch
    /// (`TransactionManager`'s epoch bump on abort): the coordinator answers with the bumped
    /// epoch, and the aborted transaction's sends fail with the abortable error; or with
    /// PRODUCER_FENCED if a newer instance exists, and they fail with that.
    fn txn_recover(&mut self, p: ProducerId) {
        let prod = &mut self.producers[p.idx()];
        let epoch = prod.epoch;
        let t = prod.txn.as_mut().expect("transactional");
        if matches!(
            t.state,
            TxnClientState::Fenced | TxnClientState::Initializing
        ) {
            return;
        }
        t.added.iter_mut().for_each(|a| *a = 0);
        t.offsets = None;
        t.offsets_added = false;
        t.abort_error = None;
        t.outstanding = None;
        t.recover_epoch = Some(epoch);
        for b in &mut prod.batches {
            b.state = BatchState::Done;
        }
        prod.reset_in_flight();
        // The open transaction's records are reported when InitProducerId answers.
        self.txn_init(p);
    }

    /// A newer instance with the same transactional.id exists: this one stops for good.
    pub(crate) fn txn_fenced(&mut self, p: ProducerId) {
        let prod = &mut self.producers[p.idx()];
        let t = prod.txn.as_mut().expect("transactional");
        if t.state == TxnClientState::Fenced {
            return;
        }
        t.state = TxnClientState::Fenced;
        let txn = t.txn;
        let records = std::mem::take(&mut t.records);
        t.deferred.clear();
        for b in &mut prod.batches {
            if b.state != BatchState::Done {
                b.state = BatchState::Done;
            }
        }
        prod.reset_in_flight();
        self.emit(Trace::ProducerFenced { producer: p, txn });
        if self.producers[p.idx()].embedded_in.is_none() {
            self.producers[p.idx()].failed += records.len() as u64;
            for msg in records {
                self.emit(Trace::Failed {
                    producer: p,
                    msg,
                    error: ErrorCode::ProducerFenced,
                });
            }
        }
        if let Some(c) = self.producers[p.idx()].embedded_in {
            self.consumer_fenced(c);
        }
    }
}

impl Txn {
    /// KIP-447: the input offsets this transaction carries (`TxnOffsetCommit`) while it is
    /// unresolved, from `sendOffsetsToTransaction` until CompleteCommit or the abort: (group,
    /// offsets). The group coordinator answers `UNSTABLE_OFFSET_COMMIT` for these partitions.
    pub(crate) fn pending_offsets(&self) -> Option<(GroupId, &[(PartitionId, u64)])> {
        self.offsets.as_ref().map(|(g, _, o)| (*g, &o[..]))
    }
}
