//! Transactions (KIP-98, KIP-447): the transaction coordinator. The producer's side (its
//! transaction manager) is in [`crate::sim::txn_client`].
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

use crate::sim::ids::*;
use crate::sim::partitioner::partition_for_key;
use crate::sim::trace::{Trace, TxnPhase};
use crate::sim::wire::{Msg, TxnRequest, TxnResponse};
use crate::sim::{Sim, Timer};

/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s in Kafka; the
/// coordinator's housekeeping here also takes over transactions after a failover, so it runs
/// every second.
const TXN_HOUSEKEEPING_MS: u64 = 1000;
/// `transaction.timeout.ms`
pub const DEFAULT_TRANSACTION_TIMEOUT_MS: u64 = 60_000;

/// Input offsets a processor commits with its transaction (`sendOffsetsToTransaction`):
/// the group, the member and each partition's next offset.
pub(crate) type TxnOffsets = (GroupId, ConsumerId, Box<[(PartitionId, u64)]>);

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
}

impl Txn {
    /// KIP-447: the input offsets this transaction carries (`TxnOffsetCommit`) while it is
    /// unresolved, from `sendOffsetsToTransaction` until CompleteCommit or the abort: (group,
    /// offsets). The group coordinator answers `UNSTABLE_OFFSET_COMMIT` for these partitions.
    pub(crate) fn pending_offsets(&self) -> Option<(GroupId, &[(PartitionId, u64)])> {
        self.offsets.as_ref().map(|(g, _, o)| (*g, &o[..]))
    }
}
