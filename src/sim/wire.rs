//! Messages on the wire between nodes. Record data travels in pooled buffers (`payload`) so the
//! hot path does not allocate.

use crate::sim::ids::*;
use crate::sim::trace::{Wire, WireKind};

/// The answer to a produce request.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ProduceResult {
    Ok { base_offset: u64 },
    Err(ErrorCode),
}

/// A follower's fetch session: a response for any other session is stale. A session belongs
/// to one incarnation of the follower, as its connections die with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FetchSession {
    incarnation: u32,
    n: u32,
}

impl FetchSession {
    /// The session after this one, in the follower's current incarnation.
    pub(crate) fn next(self, incarnation: u32) -> FetchSession {
        FetchSession {
            incarnation,
            n: self.n.wrapping_add(1),
        }
    }
}

/// The answer to a replica fetch.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ReplicaFetchResult {
    /// Records from `base_offset` (possibly none) and the leader's high watermark.
    Records {
        base_offset: u64,
        payload: u32,
        hw: u64,
    },
    /// The follower's log diverged from the leader's (KIP-320/KIP-595 `DivergingEpoch`): the
    /// leader's end offset for the largest epoch not above the follower's last fetched epoch.
    Diverging {
        epoch: u32,
        end_offset: u64,
    },
    Err(ErrorCode),
}

#[derive(Clone, Debug)]
pub(crate) enum ConsumerFetchResult {
    Records {
        base_offset: u64,
        payload: u32,
        /// The HW, or the LSO for `read_committed`.
        hw: u64,
        /// Aborted transactions overlapping the records: (producer id, first offset, marker
        /// offset), for the consumer to filter (Kafka's `AbortedTransactions`).
        aborted: Box<[(u32, u64, u64)]>,
    },
    /// The position is past the leader's log end (its log was truncated); `leo` is that end.
    OutOfRange {
        leo: u64,
    },
    Err(ErrorCode),
}

#[derive(Clone, Debug)]
pub(crate) enum Msg {
    /// The connection to `peer` was reset: its process died, and its operating system answers
    /// the client's socket with a reset. The client fails every request it has in flight to
    /// `peer` with NETWORK_EXCEPTION, as Kafka's `NetworkClient` does on a disconnect.
    ConnectionClosed {
        peer: NodeId,
    },
    /// The controller publishes a metadata change to every unfenced broker (in KRaft, brokers
    /// replicate the metadata log): the unfenced brokers and, for a partition change, its leader.
    MetadataUpdate {
        unfenced: BrokerSet,
        partition: Option<(PartitionId, Option<BrokerId>)>,
    },
    Produce {
        producer: ProducerId,
        partition: PartitionId,
        batch: u32,
        attempt: u32,
        /// The records (message ids): an index into `Sim::record_bufs`, freed by whoever
        /// consumes or drops the request. The request is self-contained, as on Kafka's wire:
        /// the broker reads the records, sequence numbers and acks from it, never from the
        /// producer's memory.
        records: u32,
        /// Idempotent producer id and epoch as of sending (KIP-98).
        producer_id: Option<u32>,
        producer_epoch: u16,
        /// Sequence number of the first record (idempotent producers; -1 otherwise).
        base_seq: i32,
        acks: crate::sim::config::Acks,
        /// The request's timeout (`request.timeout.ms`), which bounds its wait in purgatory.
        timeout_ms: u32,
        transactional: bool,
    },
    ProduceResponse {
        partition: PartitionId,
        batch: u32,
        attempt: u32,
        result: ProduceResult,
    },
    ReplicaFetch {
        partition: PartitionId,
        follower: BrokerId,
        fetch_offset: u64,
        last_fetched_epoch: Option<u32>,
        leader_epoch: u32,
        session: FetchSession,
    },
    ReplicaFetchResponse {
        partition: PartitionId,
        leader_epoch: u32,
        session: FetchSession,
        result: ReplicaFetchResult,
    },
    ConsumerFetch {
        partition: PartitionId,
        offset: u64,
        token: u32,
        max_records: u32,
        /// `fetch.max.wait.ms`: how long the leader may hold the fetch for data.
        max_wait_ms: u32,
        /// `isolation.level=read_committed`: read only below the LSO.
        read_committed: bool,
    },
    /// `ListOffsets` for `auto.offset.reset = latest`: the partition's HW, or its LSO under
    /// `isolation_level=read_committed` (the request carries the isolation level).
    ListOffsets {
        partition: PartitionId,
        token: u32,
        read_committed: bool,
    },
    ListOffsetsResponse {
        partition: PartitionId,
        token: u32,
        offset: Option<u64>,
    },
    ConsumerFetchResponse {
        partition: PartitionId,
        token: u32,
        result: ConsumerFetchResult,
    },
    /// KIP-631's BrokerHeartbeat; `want_shut_down` asks for a controlled shutdown. On the
    /// queue systems it also reports each hosted replica's log position, which the controller
    /// compares when it elects (Kafka's controller never needs them: empty there).
    BrokerHeartbeat {
        broker: BrokerId,
        incarnation: u32,
        want_shut_down: bool,
        positions: Box<[crate::sim::controller::LogPosition]>,
    },
    /// The controller's answer to a heartbeat that asked to shut down (other heartbeat
    /// responses carry nothing the model uses, so they are not sent): `should_shut_down` once
    /// the broker leads nothing (`BrokerHeartbeatManager`'s SHUTDOWN_NOW).
    BrokerHeartbeatResponse {
        should_shut_down: bool,
    },
    PartitionChange {
        partition: PartitionId,
        leader: Option<BrokerId>,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: BrokerSet,
    },
    AlterPartition {
        partition: PartitionId,
        leader: BrokerId,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: BrokerSet,
    },
    AlterPartitionResponse {
        partition: PartitionId,
        leader_epoch: u32,
        /// The committed ISR and partition epoch, or `None` if the update was rejected.
        result: Option<(BrokerSet, u32)>,
    },
    /// Transaction coordinator → partition leader: write a COMMIT or ABORT marker.
    WriteTxnMarker {
        partition: PartitionId,
        producer_id: u32,
        producer_epoch: u16,
        commit: bool,
        txn: u32,
        token: u32,
    },
    WriteTxnMarkerResponse {
        partition: PartitionId,
        txn: u32,
        token: u32,
        ok: bool,
    },
    /// Transaction coordinator → group coordinator: the offsets a transaction carries
    /// (`sendOffsetsToTransaction`), pending until its marker (KIP-447). Stands in for the
    /// producer's `TxnOffsetCommit`, which the model folds into `AddOffsetsToTxn`: the
    /// transaction coordinator answers `AddOffsetsToTxn` once this is answered.
    TxnOffsetCommit {
        group: GroupId,
        txn: u32,
        /// Which of the transactional id's transactions (they are numbered from 1).
        transaction: u32,
        /// The member whose offsets they are, as of its `groupMetadata()` (KIP-447).
        consumer: ConsumerId,
        member: GroupMetadata,
        offsets: Box<[(PartitionId, u64)]>,
        token: u32,
    },
    TxnOffsetCommitResponse {
        txn: u32,
        token: u32,
        error: ErrorCode,
    },
    /// Transaction coordinator → group coordinator: a transaction's COMMIT or ABORT marker on
    /// the group's `__consumer_offsets` partition. A commit carries the offsets, so it commits
    /// them even if the `TxnOffsetCommit` was lost.
    TxnOffsetMarker {
        group: GroupId,
        txn: u32,
        transaction: u32,
        /// The member that sent the offsets, for the trace.
        consumer: ConsumerId,
        commit: bool,
        offsets: Box<[(PartitionId, u64)]>,
        token: u32,
    },
    TxnOffsetMarkerResponse {
        txn: u32,
        token: u32,
        ok: bool,
    },
    /// Transactional producer → transaction coordinator.
    Txn {
        txn: u32,
        req: TxnRequest,
    },
    TxnResponse {
        resp: TxnResponse,
    },
    /// A client asking where a partition's leader is (and, for groups, the coordinator).
    MetadataRequest {
        partition: PartitionId,
        token: u32,
    },
    MetadataResponse {
        partition: PartitionId,
        leader: Option<BrokerId>,
        token: u32,
        /// The brokers the controller has not fenced: a consumer finds its group coordinator
        /// among them.
        unfenced: BrokerSet,
    },
    /// Group protocol, consumer → coordinator.
    Group {
        group: GroupId,
        consumer: ConsumerId,
        /// The sender's process incarnation: with `consumer`, its member id (a restarted
        /// dynamic consumer is a new member).
        incarnation: u32,
        req: GroupRequest,
    },
    /// Group protocol, coordinator → consumer.
    GroupResponse {
        resp: GroupResponse,
    },
    /// KIP-932's share group requests and their answers.
    Share(ShareMsg),
}

/// One record a ShareFetch acquired: its offset, message and delivery count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AcquiredRecord {
    pub(crate) offset: u64,
    pub(crate) msg: MsgId,
    pub(crate) delivery_count: u32,
}

/// KIP-932's RPCs: `ShareGroupHeartbeat` to the group coordinator, `ShareFetch` and
/// `ShareAcknowledge` to the share-partition leader.
#[derive(Clone, Debug)]
pub(crate) enum ShareMsg {
    /// Join (member epoch 0), stay (its epoch) or leave (-1).
    Heartbeat {
        group: GroupId,
        consumer: ConsumerId,
        member_epoch: i32,
        token: u32,
    },
    /// The member's epoch and its assignment (every partition it may fetch from).
    HeartbeatResponse {
        token: u32,
        error: ErrorCode,
        member_epoch: i32,
        heartbeat_interval_ms: u64,
        assignment: Box<[PartitionId]>,
    },
    /// Acknowledge the member's earlier records of this partition, then (unless `close`)
    /// acquire up to `max_records` more. With `close` (ShareAcknowledge at `close()`), every
    /// record the member still holds is released.
    Fetch {
        group: GroupId,
        consumer: ConsumerId,
        partition: PartitionId,
        token: u32,
        max_records: u32,
        acks: Box<[(u64, crate::sim::share_partition::AckType)]>,
        close: bool,
    },
    FetchResponse {
        partition: PartitionId,
        token: u32,
        error: ErrorCode,
        records: Box<[AcquiredRecord]>,
    },
}

impl ShareMsg {
    fn is_request(&self) -> bool {
        matches!(self, ShareMsg::Heartbeat { .. } | ShareMsg::Fetch { .. })
    }

    /// A reset connection's answer to a request (NETWORK_EXCEPTION), for the client.
    pub(crate) fn reset_reply(&self) -> Option<ShareMsg> {
        let error = ErrorCode::NetworkException;
        match self {
            ShareMsg::Heartbeat { token, .. } => Some(ShareMsg::HeartbeatResponse {
                token: *token,
                error,
                member_epoch: -1,
                heartbeat_interval_ms: 0,
                assignment: Box::new([]),
            }),
            ShareMsg::Fetch {
                partition, token, ..
            } => Some(ShareMsg::FetchResponse {
                partition: *partition,
                token: *token,
                error,
                records: Box::new([]),
            }),
            _ => None,
        }
    }
}

/// KIP-447's `ConsumerGroupMetadata`, which `sendOffsetsToTransaction` takes: the member (its
/// process incarnation stands for its member id) and the generation it was in, so that the
/// group's coordinator fences a zombie's offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GroupMetadata {
    pub(crate) incarnation: u32,
    pub(crate) generation: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum TxnRequest {
    InitProducerId {
        token: u32,
        /// KIP-588: the epoch of a producer re-initialising itself (its producer id is the
        /// transactional id's); `None` for a new instance.
        current_epoch: Option<u16>,
        /// The producer's `transaction.timeout.ms`.
        timeout_ms: u64,
    },
    AddPartitions {
        epoch: u16,
        partition: PartitionId,
    },
    /// `sendOffsetsToTransaction`: input offsets committed with the transaction.
    AddOffsets {
        epoch: u16,
        group: GroupId,
        consumer: ConsumerId,
        member: GroupMetadata,
        offsets: Box<[(PartitionId, u64)]>,
        token: u32,
    },
    EndTxn {
        epoch: u16,
        commit: bool,
        token: u32,
    },
    /// KIP-890, partition leader → coordinator (`AddPartitionsToTxn` v4+, sent by a broker):
    /// before appending a producer's first transactional batch, the leader checks that
    /// `partition` is in the producer's ongoing transaction (`add = false`, part 1,
    /// `verifyOnly`) or, with Transactions V2, adds it there (`add = true`).
    Verify {
        epoch: u16,
        partition: PartitionId,
        add: bool,
        token: u32,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum TxnResponse {
    InitProducerId {
        token: u32,
        result: Result<(u32, u16), ErrorCode>,
    },
    AddPartitions {
        partition: PartitionId,
        error: ErrorCode,
    },
    AddOffsets {
        token: u32,
        error: ErrorCode,
    },
    EndTxn {
        token: u32,
        error: ErrorCode,
        /// Transactions V2 (KIP-890): the epoch the coordinator bumped to, for the producer's
        /// next transaction; `None` under the classic protocol.
        epoch: Option<u16>,
    },
    Verify {
        partition: PartitionId,
        token: u32,
        error: ErrorCode,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum GroupRequest {
    Join {
        token: u32,
        /// The partitions the member owns as it joins: KIP-429's `ownedPartitions` in the
        /// subscription. Only the cooperative protocol reads them.
        owned: Box<[PartitionId]>,
    },
    Sync {
        generation: u32,
        token: u32,
    },
    Heartbeat {
        generation: u32,
    },
    Leave {
        reason: crate::sim::trace::LeaveReason,
    },
    /// Commit offsets.
    Commit {
        generation: u32,
        offsets: Box<[(PartitionId, u64)]>,
        token: u32,
    },
    /// KIP-848 `ConsumerGroupHeartbeat`: member epoch 0 joins, -1 leaves; `owned` is what the
    /// member owns now (its `TopicPartitions`). Joins and acknowledgements carry a token.
    ConsumerHeartbeat {
        member_epoch: i32,
        owned: Box<[PartitionId]>,
        token: u32,
    },
    OffsetFetch {
        token: u32,
        /// KIP-447 `require_stable` (the Java consumer sets it under read_committed).
        require_stable: bool,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum GroupResponse {
    Join {
        generation: u32,
        token: u32,
        error: ErrorCode,
    },
    Sync {
        generation: u32,
        assignment: Box<[PartitionId]>,
        token: u32,
        error: ErrorCode,
    },
    Heartbeat {
        error: ErrorCode,
    },
    Commit {
        token: u32,
        error: ErrorCode,
    },
    /// KIP-848: the member's epoch, the partitions it should own now, and the heartbeat
    /// interval the broker sets (`group.consumer.heartbeat.interval.ms`).
    ConsumerHeartbeat {
        member_epoch: u32,
        assignment: Box<[PartitionId]>,
        heartbeat_interval_ms: u64,
        token: u32,
        error: ErrorCode,
    },
    /// `offsets` is empty when `error` is set.
    OffsetFetch {
        offsets: Box<[(PartitionId, Option<u64>)]>,
        token: u32,
        error: ErrorCode,
    },
}

impl Msg {
    /// A request opens (or uses) a connection from its sender to its receiver; a reset of the
    /// receiver's process reaches every such client.
    pub(crate) fn is_request(&self) -> bool {
        match self {
            Msg::Produce { .. }
            | Msg::ReplicaFetch { .. }
            | Msg::ConsumerFetch { .. }
            | Msg::ListOffsets { .. }
            | Msg::BrokerHeartbeat { .. }
            | Msg::PartitionChange { .. }
            | Msg::MetadataUpdate { .. }
            | Msg::AlterPartition { .. }
            | Msg::WriteTxnMarker { .. }
            | Msg::TxnOffsetCommit { .. }
            | Msg::TxnOffsetMarker { .. }
            | Msg::Txn { .. }
            | Msg::MetadataRequest { .. }
            | Msg::Group { .. } => true,
            Msg::Share(m) => m.is_request(),
            Msg::ConnectionClosed { .. }
            | Msg::ProduceResponse { .. }
            | Msg::ReplicaFetchResponse { .. }
            | Msg::ListOffsetsResponse { .. }
            | Msg::ConsumerFetchResponse { .. }
            | Msg::AlterPartitionResponse { .. }
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::WriteTxnMarkerResponse { .. }
            | Msg::TxnOffsetCommitResponse { .. }
            | Msg::TxnOffsetMarkerResponse { .. }
            | Msg::TxnResponse { .. }
            | Msg::MetadataResponse { .. }
            | Msg::GroupResponse { .. } => false,
        }
    }
    pub(crate) fn payload(&self) -> Option<u32> {
        match self {
            Msg::ReplicaFetchResponse {
                result: ReplicaFetchResult::Records { payload, .. },
                ..
            }
            | Msg::ConsumerFetchResponse {
                result: ConsumerFetchResult::Records { payload, .. },
                ..
            } => Some(*payload),
            _ => None,
        }
    }
}

impl crate::sim::Kernel {
    /// What a message looks like in the trace.
    pub(crate) fn wire_summary(&self, msg: &Msg) -> Wire {
        let mut w = Wire {
            kind: WireKind::MetadataRequest,
            partition: None,
            first_msg: None,
            records: 0,
            error: ErrorCode::None,
        };
        match msg {
            Msg::Produce {
                partition, records, ..
            } => {
                w.kind = WireKind::ProduceRequest;
                w.partition = Some(*partition);
                let recs = &self.record_bufs[*records as usize];
                w.first_msg = recs.first().copied();
                w.records = recs.len() as u32;
            }
            Msg::ProduceResponse {
                partition, result, ..
            } => {
                w.kind = WireKind::ProduceResponse;
                w.partition = Some(*partition);
                if let ProduceResult::Err(e) = result {
                    w.error = *e;
                }
            }
            Msg::ReplicaFetch { partition, .. } => {
                w.kind = WireKind::ReplicaFetch;
                w.partition = Some(*partition);
            }
            Msg::ReplicaFetchResponse {
                partition, result, ..
            } => {
                w.kind = WireKind::ReplicaFetchResponse;
                w.partition = Some(*partition);
                match result {
                    ReplicaFetchResult::Records { payload, .. } => {
                        let recs = &self.payloads[*payload as usize];
                        w.records = recs.len() as u32;
                        w.first_msg = recs.iter().find_map(|e| e.message());
                    }
                    ReplicaFetchResult::Diverging { .. } => {}
                    ReplicaFetchResult::Err(e) => w.error = *e,
                }
            }
            Msg::ConsumerFetch { partition, .. } => {
                w.kind = WireKind::ConsumerFetch;
                w.partition = Some(*partition);
            }
            Msg::ConsumerFetchResponse {
                partition, result, ..
            } => {
                w.kind = WireKind::ConsumerFetchResponse;
                w.partition = Some(*partition);
                match result {
                    ConsumerFetchResult::Records { payload, .. } => {
                        let recs = &self.payloads[*payload as usize];
                        w.records = recs.len() as u32;
                        w.first_msg = recs.iter().find_map(|e| e.message());
                    }
                    ConsumerFetchResult::OutOfRange { .. } => w.error = ErrorCode::OffsetOutOfRange,
                    ConsumerFetchResult::Err(e) => w.error = *e,
                }
            }
            Msg::ListOffsets { partition, .. } => {
                w.kind = WireKind::ListOffsets;
                w.partition = Some(*partition);
            }
            Msg::ListOffsetsResponse { partition, .. } => {
                w.kind = WireKind::ListOffsetsResponse;
                w.partition = Some(*partition);
            }
            Msg::WriteTxnMarker { partition, .. } => {
                w.kind = WireKind::WriteTxnMarkers;
                w.partition = Some(*partition);
            }
            Msg::WriteTxnMarkerResponse { partition, .. } => {
                w.kind = WireKind::WriteTxnMarkersResponse;
                w.partition = Some(*partition);
            }
            Msg::TxnOffsetCommit { .. } => w.kind = WireKind::TxnOffsetCommit,
            Msg::TxnOffsetCommitResponse { error, .. } => {
                w.kind = WireKind::TxnOffsetCommitResponse;
                w.error = *error;
            }
            Msg::TxnOffsetMarker { .. } => w.kind = WireKind::WriteTxnMarkers,
            Msg::TxnOffsetMarkerResponse { .. } => w.kind = WireKind::WriteTxnMarkersResponse,
            Msg::ConnectionClosed { .. } => w.kind = WireKind::ConnectionReset,
            Msg::MetadataUpdate { .. } => w.kind = WireKind::MetadataUpdate,
            Msg::Txn { req, .. } => match req {
                TxnRequest::InitProducerId { .. } => w.kind = WireKind::InitProducerId,
                TxnRequest::AddPartitions { partition, .. } => {
                    w.kind = WireKind::AddPartitionsToTxn;
                    w.partition = Some(*partition);
                }
                TxnRequest::AddOffsets { .. } => w.kind = WireKind::AddOffsetsToTxn,
                TxnRequest::EndTxn { .. } => w.kind = WireKind::EndTxn,
                TxnRequest::Verify { partition, .. } => {
                    w.kind = WireKind::AddPartitionsToTxn;
                    w.partition = Some(*partition);
                }
            },
            Msg::TxnResponse { resp } => {
                let (kind, error) = match resp {
                    TxnResponse::InitProducerId { result, .. } => (
                        WireKind::InitProducerIdResponse,
                        result.err().unwrap_or(ErrorCode::None),
                    ),
                    TxnResponse::AddPartitions { error, .. } => {
                        (WireKind::AddPartitionsToTxnResponse, *error)
                    }
                    TxnResponse::AddOffsets { error, .. } => {
                        (WireKind::AddOffsetsToTxnResponse, *error)
                    }
                    TxnResponse::EndTxn { error, .. } => (WireKind::EndTxnResponse, *error),
                    TxnResponse::Verify { error, .. } => {
                        (WireKind::AddPartitionsToTxnResponse, *error)
                    }
                };
                w.kind = kind;
                w.error = error;
            }
            Msg::BrokerHeartbeat { .. } => w.kind = WireKind::BrokerHeartbeat,
            Msg::BrokerHeartbeatResponse { .. } => w.kind = WireKind::BrokerHeartbeatResponse,
            Msg::PartitionChange { partition, .. } => {
                w.kind = WireKind::PartitionChange;
                w.partition = Some(*partition);
            }
            Msg::AlterPartition { partition, .. } => {
                w.kind = WireKind::AlterPartition;
                w.partition = Some(*partition);
            }
            Msg::AlterPartitionResponse { partition, .. } => {
                w.kind = WireKind::AlterPartitionResponse;
                w.partition = Some(*partition);
            }
            Msg::MetadataRequest { partition, .. } => {
                w.kind = WireKind::MetadataRequest;
                w.partition = Some(*partition);
            }
            Msg::MetadataResponse { partition, .. } => {
                w.kind = WireKind::MetadataResponse;
                w.partition = Some(*partition);
            }
            Msg::Group { req, .. } => {
                w.kind = match req {
                    GroupRequest::Join { .. } => WireKind::JoinGroup,
                    GroupRequest::Sync { .. } => WireKind::SyncGroup,
                    GroupRequest::Heartbeat { .. } => WireKind::Heartbeat,
                    GroupRequest::Leave { .. } => WireKind::LeaveGroup,
                    GroupRequest::Commit { .. } => WireKind::OffsetCommit,
                    GroupRequest::OffsetFetch { .. } => WireKind::OffsetFetch,
                    GroupRequest::ConsumerHeartbeat { .. } => WireKind::ConsumerGroupHeartbeat,
                };
            }
            Msg::GroupResponse { resp, .. } => {
                let (kind, error) = match resp {
                    GroupResponse::Join { error, .. } => (WireKind::JoinGroupResponse, *error),
                    GroupResponse::Sync { error, .. } => (WireKind::SyncGroupResponse, *error),
                    GroupResponse::Heartbeat { error } => (WireKind::HeartbeatResponse, *error),
                    GroupResponse::Commit { error, .. } => (WireKind::OffsetCommitResponse, *error),
                    GroupResponse::OffsetFetch { error, .. } => {
                        (WireKind::OffsetFetchResponse, *error)
                    }
                    GroupResponse::ConsumerHeartbeat { error, .. } => {
                        (WireKind::ConsumerGroupHeartbeatResponse, *error)
                    }
                };
                w.kind = kind;
                w.error = error;
            }
            Msg::Share(m) => match m {
                ShareMsg::Heartbeat { .. } => w.kind = WireKind::ShareGroupHeartbeat,
                ShareMsg::HeartbeatResponse { error, .. } => {
                    w.kind = WireKind::ShareGroupHeartbeatResponse;
                    w.error = *error;
                }
                ShareMsg::Fetch {
                    partition,
                    acks,
                    close,
                    ..
                } => {
                    w.kind = if *close {
                        WireKind::ShareAcknowledge
                    } else {
                        WireKind::ShareFetch
                    };
                    w.partition = Some(*partition);
                    w.records = acks.len() as u32;
                }
                ShareMsg::FetchResponse {
                    partition,
                    error,
                    records,
                    ..
                } => {
                    w.kind = WireKind::ShareFetchResponse;
                    w.partition = Some(*partition);
                    w.error = *error;
                    w.first_msg = records.first().map(|r| r.msg);
                    w.records = records.len() as u32;
                }
            },
        }
        w
    }
}
