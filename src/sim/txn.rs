//! Transactions, the producer's side (Kafka's `TransactionManager`): `initTransactions`,
//! `AddPartitionsToTxn` as records join the transaction, `sendOffsetsToTransaction`,
//! `commitTransaction` / `abortTransaction`, and KIP-588 recovery from an aborted transaction.
//! The coordinator's side is in [`crate::sim::txn_coordinator`].

use std::collections::VecDeque;

use crate::sim::ids::*;
use crate::sim::producer::BatchState;
use crate::sim::trace::Trace;
use crate::sim::wire::{Msg, TxnRequest, TxnResponse};
use crate::sim::{Sim, Timer};

/// Backoff before a transactional request is retried.
const TXN_RETRY_BACKOFF_MS: u64 = 100;
/// `transaction.timeout.ms`
pub const DEFAULT_TRANSACTION_TIMEOUT_MS: u64 = 60_000;

/// Input offsets a processor commits with its transaction (`sendOffsetsToTransaction`):
/// the group, the member and each partition's next offset.
type TxnOffsets = (GroupId, ConsumerId, Box<[(PartitionId, u64)]>);

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
