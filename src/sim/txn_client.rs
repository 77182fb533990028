//! The producer's transaction manager (Kafka's `TransactionManager`, KIP-98, KIP-447, KIP-588):
//! part of the producer process (see [`crate::sim::producer`]); the coordinator it talks to is
//! in [`crate::sim::txn`].
//!
//! - `initTransactions()` sends `InitProducerId` for the `transactional.id`; `send()` blocks
//!   until it answers (the application's sends wait in `deferred`).
//! - The first record for a partition in a transaction sends `AddPartitionsToTxn`; the
//!   partition's batches wait until it is added. Under Transactions V2 (KIP-890,
//!   `transaction.version = 2`) it sends nothing: the partition's leader adds it, and `EndTxn`
//!   returns the bumped epoch the next transaction writes with.
//! - `commitTransaction()` waits for every record to be acknowledged, sends a processor's
//!   input offsets (`sendOffsetsToTransaction`), then `EndTxn`. An application producer's
//!   `send()` completes on its produce response, as in Kafka (the record is in the log, in a
//!   transaction still open); the commit or abort is reported on its own (`TxnEnded`), and an
//!   abort fails only the sends that had not completed.
//! - INVALID_PRODUCER_EPOCH (the coordinator aborted the transaction, e.g. on
//!   `transaction.timeout.ms`) is abortable (KIP-588): the producer re-initialises with its
//!   current epoch. PRODUCER_FENCED (a newer instance exists) stops the producer for good.
//!
//! Simplification: one backoff (100 ms) for every retried transactional request.

use std::collections::VecDeque;

use crate::sim::Cx;
use crate::sim::Local;
use crate::sim::ids::*;
use crate::sim::producer::{Producer, ProducerTimer};
use crate::sim::trace::Trace;
use crate::sim::wire::{GroupMetadata, Msg, TxnRequest, TxnResponse};

/// `transaction.timeout.ms`
pub const DEFAULT_TRANSACTION_TIMEOUT_MS: u64 = 60_000;

/// Input offsets a processor commits with its transaction (`sendOffsetsToTransaction`):
/// the group, the member, its group metadata (KIP-447) and each partition's next offset.
pub(crate) type TxnOffsets = (
    GroupId,
    ConsumerId,
    GroupMetadata,
    Box<[(PartitionId, u64)]>,
);

/// Backoff before a transactional request is retried.
const TXN_RETRY_BACKOFF_MS: u64 = 100;

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
    /// A fatal error (`initTransactions()` threw): the application stopped.
    Failed,
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
            TxnClientState::Failed => "FATAL ERROR",
        }
    }

    /// Fenced or failed: the producer does nothing more.
    pub fn stopped(self) -> bool {
        matches!(self, TxnClientState::Fenced | TxnClientState::Failed)
    }
}

/// The producer side of transactions (Kafka's `TransactionManager`). Part of the producer's
/// client: a crash loses it.
#[derive(Clone, Debug)]
pub struct TxnClient {
    pub txn: u32,
    pub state: TxnClientState,
    /// Records per transaction; `u32::MAX` when the owner (a processor) decides.
    pub size: u32,
    /// Records in the open transaction, with their partitions.
    pub records: Vec<(MsgId, PartitionId)>,
    /// Per record of `records`: its send completed (the produce response came back).
    acked: Vec<bool>,
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
            acked: Vec::new(),
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

    /// A record's send completed: the produce response came back.
    pub(crate) fn mark_acked(&mut self, msg: MsgId) {
        if let Some(i) = self.records.iter().rposition(|r| r.0 == msg) {
            self.acked[i] = true;
        }
    }

    /// Take the open transaction's records: how many there were, how many of their sends had
    /// completed, and the others (whose sends fail with the transaction).
    fn take_records(&mut self) -> (u32, u32, Vec<MsgId>) {
        let records = std::mem::take(&mut self.records);
        let acked = std::mem::take(&mut self.acked);
        let done = acked.iter().filter(|&&a| a).count() as u32;
        let pending = records
            .iter()
            .zip(&acked)
            .filter(|(_, a)| !**a)
            .map(|(r, _)| r.0)
            .collect();
        (records.len() as u32, done, pending)
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
            TxnClientState::Ready
                | TxnClientState::Fenced
                | TxnClientState::Failed
                | TxnClientState::Initializing
        ) && self.records.is_empty()
    }

    /// The application is blocked (initializing or committing), so `send()` must wait.
    pub(crate) fn blocks_send(&self) -> bool {
        !matches!(self.state, TxnClientState::Ready | TxnClientState::InTxn)
    }
}

impl Producer {
    fn txn_mut(&mut self) -> &mut TxnClient {
        self.client.txn.as_mut().expect("transactional producer")
    }

    fn txn_request(
        &mut self,
        op: Option<TxnOp>,
        make: impl FnOnce(u32) -> TxnRequest,
        cx: &mut Cx,
    ) {
        let t = self.txn_mut();
        let token = t.token();
        if let Some(op) = op {
            t.outstanding = Some((token, op));
        }
        let txn = t.txn;
        let req = make(token);
        if let Some(b) = self.client.coordinator {
            cx.send(cx.broker_node(b), Msg::Txn { txn, req });
        }
        cx.set_timer_ms(
            self.request_timeout_ms,
            crate::sim::Timer::Producer(ProducerTimer::TxnRetry { token }),
        );
    }

    /// `initTransactions()`: get the producer id and epoch for the `transactional.id`.
    pub(crate) fn init_transactions(&mut self, cx: &mut Cx) {
        let t = self.txn_mut();
        t.state = TxnClientState::Initializing;
        let current_epoch = t.recover_epoch;
        let timeout_ms = self
            .transactional
            .map_or(DEFAULT_TRANSACTION_TIMEOUT_MS, |t| t.timeout_ms);
        self.txn_request(
            Some(TxnOp::Init),
            |token| TxnRequest::InitProducerId {
                token,
                current_epoch,
                timeout_ms,
            },
            cx,
        );
    }

    /// Whether `send()` must wait (the application is blocked in `initTransactions` or
    /// `commitTransaction`); if so the send is remembered.
    pub(crate) fn txn_defer_send(&mut self, n: u64) -> bool {
        let Some(t) = self.client.txn.as_mut() else {
            return false;
        };
        if t.state.stopped() {
            return true;
        }
        if t.blocks_send() {
            t.deferred.push_back(n);
            return true;
        }
        false
    }

    /// A record joined the open transaction (an application send or a processor's output).
    pub(crate) fn txn_record_added(&mut self, part: u32, msg: MsgId, cx: &mut Cx) {
        let partition = self.known[part as usize].partition;
        let epoch = self.client.epoch;
        let Some(t) = self.client.txn.as_mut() else {
            return;
        };
        t.state = TxnClientState::InTxn;
        t.records.push((msg, partition));
        t.acked.push(false);
        let full = t.records.len() as u32 >= t.size;
        if t.added[part as usize] == 0 {
            if cx.settings().transaction_version >= 2 {
                // KIP-890 part 2: no AddPartitionsToTxn; the partition's leader adds it to the
                // transaction when the first batch arrives.
                t.added[part as usize] = 2;
            } else {
                t.added[part as usize] = 1;
                self.txn_request(None, |_| TxnRequest::AddPartitions { epoch, partition }, cx);
            }
        }
        if full {
            self.txn_begin_end(true, cx);
        }
    }

    /// `commitTransaction()` or `abortTransaction()`: flush, then EndTxn.
    pub(crate) fn txn_begin_end(&mut self, commit: bool, cx: &mut Cx) {
        let Some(t) = self.client.txn.as_mut() else {
            return;
        };
        if t.state.stopped() {
            return;
        }
        t.state = if commit {
            TxnClientState::Committing
        } else {
            TxnClientState::Aborting
        };
        self.txn_maybe_end(cx);
    }

    /// A send failed for good: the transaction has to abort.
    pub(crate) fn txn_abort_after(&mut self, error: ErrorCode, cx: &mut Cx) {
        if let Some(t) = self.client.txn.as_mut() {
            t.abort_error.get_or_insert(error);
        }
        self.txn_begin_end(false, cx);
    }

    /// A processor's `sendOffsetsToTransaction` followed by `commitTransaction`.
    pub(crate) fn commit_with_offsets(
        &mut self,
        group: GroupId,
        consumer: ConsumerId,
        member: GroupMetadata,
        offsets: Box<[(PartitionId, u64)]>,
        cx: &mut Cx,
    ) {
        let Some(t) = self.client.txn.as_mut() else {
            return;
        };
        t.offsets = Some((group, consumer, member, offsets));
        t.offsets_added = false;
        self.txn_begin_end(true, cx);
    }

    /// Send EndTxn once every record of the transaction is acknowledged.
    pub(crate) fn txn_maybe_end(&mut self, cx: &mut Cx) {
        let Some(t) = self.client.txn.as_ref() else {
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
        if commit && (self.queued() > 0 || self.client.open_batches > 0 || t.added.contains(&1)) {
            return;
        }
        if !commit && self.in_flight() > 0 {
            return;
        }
        let epoch = self.client.epoch;
        if commit
            && !t.offsets_added
            && let Some((group, consumer, member, offsets)) = t.offsets.clone()
        {
            self.txn_request(
                Some(TxnOp::AddOffsets),
                |token| TxnRequest::AddOffsets {
                    epoch,
                    group,
                    consumer,
                    member,
                    offsets,
                    token,
                },
                cx,
            );
            return;
        }
        self.txn_request(
            Some(TxnOp::End),
            |token| TxnRequest::EndTxn {
                epoch,
                commit,
                token,
            },
            cx,
        );
    }

    pub(crate) fn txn_response(&mut self, resp: TxnResponse, cx: &mut Cx) {
        let Some(t) = self.client.txn.as_mut() else {
            return;
        };
        if t.state.stopped() {
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
                    Ok((pid, epoch)) => self.txn_initialized(pid, epoch, cx),
                    Err(ErrorCode::ProducerFenced) => self.txn_fenced(cx),
                    Err(e @ ErrorCode::InvalidTransactionTimeout) => self.txn_fatal(e, cx),
                    Err(_) => self.txn_retry_later(cx),
                }
            }
            TxnResponse::AddPartitions { partition, error } => {
                let Some(part) = self.known.iter().position(|x| x.partition == partition) else {
                    return;
                };
                if t.added[part] != 1 {
                    return;
                }
                if error == ErrorCode::None {
                    t.added[part] = 2;
                    self.drain(part as u32, cx);
                    self.txn_maybe_end(cx);
                } else if fenced(error) {
                    self.txn_stale_epoch(error, cx);
                } else {
                    t.added[part] = 0;
                    self.txn_retry_later(cx);
                }
            }
            // For partition leaders (KIP-890), never a producer.
            TxnResponse::Verify { .. } => {}
            TxnResponse::AddOffsets { token, error } => {
                if t.outstanding != Some((token, TxnOp::AddOffsets)) {
                    return;
                }
                t.outstanding = None;
                if error == ErrorCode::None {
                    t.offsets_added = true;
                    self.txn_maybe_end(cx);
                } else if matches!(
                    error,
                    ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId
                ) {
                    // KIP-447: the group's coordinator fenced the offsets of a member that is
                    // no longer in that generation (a zombie): `sendOffsetsToTransaction` throws
                    // CommitFailedException and the application aborts the transaction.
                    t.offsets = None;
                    t.offsets_added = false;
                    self.txn_abort_after(error, cx);
                } else if error == ErrorCode::StaleMemberEpoch {
                    // A KIP-848 member's offsets at an old member epoch. The Java client's
                    // `TxnOffsetCommitHandler` knows no recovery for it (only the two above are
                    // abortable): a fatal error, not a retry that would be refused for ever.
                    t.offsets = None;
                    self.txn_fatal(error, cx);
                } else if fenced(error) {
                    self.txn_stale_epoch(error, cx);
                } else {
                    self.txn_retry_later(cx);
                }
            }
            TxnResponse::EndTxn {
                token,
                error,
                epoch,
            } => {
                if t.outstanding != Some((token, TxnOp::End)) {
                    return;
                }
                t.outstanding = None;
                if let Some(epoch) = epoch {
                    // Transactions V2: the next transaction writes with the bumped epoch, its
                    // sequences starting afresh.
                    self.client.epoch = epoch;
                    self.reset_sequences();
                }
                let t = self.txn_mut();
                if fenced(error) {
                    self.txn_stale_epoch(error, cx);
                } else if error == ErrorCode::InvalidTxnState {
                    // The coordinator had already aborted it.
                    t.abort_error = Some(ErrorCode::InvalidTxnState);
                    t.state = TxnClientState::Aborting;
                    self.txn_finished(false, cx);
                } else if error != ErrorCode::None {
                    self.txn_retry_later(cx);
                } else {
                    let commit = t.state == TxnClientState::Committing;
                    self.txn_finished(commit, cx);
                }
            }
        }
    }

    /// `InitProducerId` answered: the producer id and epoch to write with.
    fn txn_initialized(&mut self, pid: u32, epoch: u16, cx: &mut Cx) {
        let t = self.txn_mut();
        t.state = TxnClientState::Ready;
        if t.recover_epoch.take().is_some() {
            // KIP-588: the coordinator aborted the transaction; its sends fail.
            t.aborted += 1;
            let txn = t.txn;
            let (records, acked, pending) = t.take_records();
            self.txn_aborted(
                txn,
                records,
                acked,
                pending,
                ErrorCode::InvalidProducerEpoch,
                cx,
            );
        }
        let txn = self.txn_mut().txn;
        self.client.producer_id = Some(pid);
        self.client.epoch = epoch;
        self.reset_sequences();
        cx.emit(Trace::ProducerInitialized {
            producer: self.id,
            txn,
            epoch,
        });
        match self.embedded_in {
            Some(consumer) => cx.local(Local::ProducerReady {
                consumer,
                producer: self.id,
            }),
            None => self.txn_replay_deferred(cx),
        }
    }

    /// A new epoch: every partition's sequence numbers start at 0.
    fn reset_sequences(&mut self) {
        for pq in &mut self.client.parts {
            pq.next_seq = 0;
            pq.last_acked_seq = -1;
        }
    }

    fn txn_retry_later(&mut self, cx: &mut Cx) {
        let t = self.txn_mut();
        // One retry loop at a time, however many requests failed.
        if t.retry_scheduled {
            return;
        }
        t.retry_scheduled = true;
        let token = t.token();
        cx.set_timer_ms(
            TXN_RETRY_BACKOFF_MS,
            crate::sim::Timer::Producer(ProducerTimer::TxnRetry { token }),
        );
    }

    /// A request timed out or a retry is due: redo whatever is still pending.
    pub(crate) fn txn_retry(&mut self, token: u32, cx: &mut Cx) {
        let epoch = self.client.epoch;
        let Some(t) = self.client.txn.as_mut() else {
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
            TxnClientState::Fenced | TxnClientState::Failed => {}
            TxnClientState::Initializing => self.init_transactions(cx),
            _ => {
                let parts = &self.client.parts;
                // Under Transactions V2 the leaders add partitions (see `txn_record_added`).
                let v1 = cx.settings().transaction_version < 2;
                let missing: Vec<u32> = (0..parts.len() as u32)
                    .filter(|&i| {
                        let pq = &parts[i as usize];
                        v1 && t.added[i as usize] == 0 && pq.batched < pq.records.len()
                    })
                    .collect();
                for part in missing {
                    self.txn_mut().added[part as usize] = 1;
                    let partition = self.known[part as usize].partition;
                    self.txn_request(None, |_| TxnRequest::AddPartitions { epoch, partition }, cx);
                }
                self.txn_maybe_end(cx);
            }
        }
    }

    /// The transaction committed or aborted: report it and start the next one.
    fn txn_finished(&mut self, committed: bool, cx: &mut Cx) {
        let t = self.txn_mut();
        let txn = t.txn;
        let (records, acked, pending) = t.take_records();
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
        match self.embedded_in {
            Some(consumer) => cx.local(Local::TxnFinished {
                consumer,
                producer: self.id,
                committed,
            }),
            None => {
                if committed {
                    // Every send completed before EndTxn went out (`commitTransaction()`
                    // flushes first); the commit is reported on its own.
                    cx.emit(Trace::TxnEnded {
                        producer: self.id,
                        txn,
                        committed,
                        records,
                        acked,
                    });
                } else {
                    self.txn_aborted(txn, records, acked, pending, error, cx);
                }
                self.txn_replay_deferred(cx);
            }
        }
    }

    /// An application producer's transaction aborted: report it; the sends that had not
    /// completed fail with `error` (Kafka fails the batches still in the accumulator or in
    /// flight). Those that had completed stay acknowledged: the records are in the log, and
    /// read_committed consumers skip them.
    fn txn_aborted(
        &mut self,
        txn: u32,
        records: u32,
        acked: u32,
        pending: Vec<MsgId>,
        error: ErrorCode,
        cx: &mut Cx,
    ) {
        cx.emit(Trace::TxnEnded {
            producer: self.id,
            txn,
            committed: false,
            records,
            acked,
        });
        self.failed += pending.len() as u64;
        for msg in pending {
            cx.emit(Trace::Failed {
                producer: self.id,
                msg,
                error,
            });
        }
    }

    /// The application's `send()` calls that waited for the commit go through now.
    fn txn_replay_deferred(&mut self, cx: &mut Cx) {
        while let Some(t) = self.client.txn.as_mut()
            && !t.blocks_send()
            && let Some(n) = t.deferred.pop_front()
        {
            self.app_send(n, cx);
        }
    }

    /// A request was refused for its epoch: PRODUCER_FENCED is fatal; INVALID_PRODUCER_EPOCH is
    /// abortable (KIP-588, Kafka 2.7+): the coordinator or a newer instance bumped the epoch.
    pub(crate) fn txn_stale_epoch(&mut self, error: ErrorCode, cx: &mut Cx) {
        match error {
            // Simplification: a processor's embedded producer still stops here; recovering
            // would also need its consumer to rewind its input mid-transaction.
            ErrorCode::InvalidProducerEpoch if self.embedded_in.is_none() => self.txn_recover(cx),
            _ => self.txn_fenced(cx),
        }
    }

    /// KIP-588: the transaction was aborted under us (most likely by `transaction.timeout.ms`).
    /// The producer re-initialises with its current producer id and epoch
    /// (`TransactionManager`'s epoch bump on abort): the coordinator answers with the bumped
    /// epoch, and the aborted transaction's sends fail with the abortable error; or with
    /// PRODUCER_FENCED if a newer instance exists, and they fail with that.
    fn txn_recover(&mut self, cx: &mut Cx) {
        let epoch = self.client.epoch;
        let t = self.txn_mut();
        if matches!(
            t.state,
            TxnClientState::Fenced | TxnClientState::Failed | TxnClientState::Initializing
        ) {
            return;
        }
        t.added.iter_mut().for_each(|a| *a = 0);
        t.offsets = None;
        t.offsets_added = false;
        t.abort_error = None;
        t.outstanding = None;
        t.recover_epoch = Some(epoch);
        self.client.reset_in_flight();
        // The open transaction's records are reported when InitProducerId answers.
        self.init_transactions(cx);
    }

    /// `InitProducerId` failed with a fatal error (INVALID_TRANSACTION_TIMEOUT: the producer's
    /// `transaction.timeout.ms` is above the brokers' `transaction.max.timeout.ms`).
    /// `TransactionManager.InitProducerIdHandler` makes any unexpected error fatal, so
    /// `KafkaProducer.initTransactions()` throws and the application, which cannot send
    /// transactionally, stops: its sends never happen.
    fn txn_fatal(&mut self, error: ErrorCode, cx: &mut Cx) {
        let t = self.txn_mut();
        t.state = TxnClientState::Failed;
        t.deferred.clear();
        let txn = t.txn;
        self.last_error = Some((cx.now(), error));
        cx.emit(Trace::TxnFatalError {
            producer: self.id,
            txn,
            error,
        });
        if let Some(consumer) = self.embedded_in {
            // A processor cannot go on without its producer: it stops as when fenced.
            cx.local(Local::ProducerFenced {
                consumer,
                producer: self.id,
            });
        }
    }

    /// A newer instance with the same transactional.id exists: this one stops for good.
    pub(crate) fn txn_fenced(&mut self, cx: &mut Cx) {
        let t = self.txn_mut();
        if t.state.stopped() {
            return;
        }
        t.state = TxnClientState::Fenced;
        let txn = t.txn;
        let (_, _, pending) = t.take_records();
        t.deferred.clear();
        self.client.reset_in_flight();
        cx.emit(Trace::ProducerFenced {
            producer: self.id,
            txn,
        });
        match self.embedded_in {
            Some(consumer) => cx.local(Local::ProducerFenced {
                consumer,
                producer: self.id,
            }),
            None => {
                // The sends that had completed stay acknowledged; the new instance's
                // InitProducerId aborts their transaction.
                self.failed += pending.len() as u64;
                for msg in pending {
                    cx.emit(Trace::Failed {
                        producer: self.id,
                        msg,
                        error: ErrorCode::ProducerFenced,
                    });
                }
            }
        }
    }
}
