//! Typed trace events: what happened and why. The TUI, the reports, the checker and the
//! snapshot tests all read this one stream.

use crate::sim::ids::*;

/// The kind of a message on the wire, for the trace and the sequence diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireKind {
    ProduceRequest,
    ProduceResponse,
    /// A follower's replication fetch.
    ReplicaFetch,
    ReplicaFetchResponse,
    /// A consumer's fetch.
    ConsumerFetch,
    ConsumerFetchResponse,
    ListOffsets,
    ListOffsetsResponse,
    BrokerHeartbeat,
    /// The controller telling a broker the new leader, epoch and ISR of a partition.
    PartitionChange,
    AlterPartition,
    AlterPartitionResponse,
    MetadataRequest,
    MetadataResponse,
    JoinGroup,
    JoinGroupResponse,
    SyncGroup,
    SyncGroupResponse,
    Heartbeat,
    HeartbeatResponse,
    LeaveGroup,
    OffsetCommit,
    OffsetCommitResponse,
    OffsetFetch,
    OffsetFetchResponse,
    InitProducerId,
    InitProducerIdResponse,
    AddPartitionsToTxn,
    AddPartitionsToTxnResponse,
    AddOffsetsToTxn,
    AddOffsetsToTxnResponse,
    EndTxn,
    EndTxnResponse,
    WriteTxnMarkers,
    WriteTxnMarkersResponse,
    /// The offsets a transaction carries, to the group coordinator (KIP-447).
    TxnOffsetCommit,
    TxnOffsetCommitResponse,
    /// A TCP reset: the peer's process died and its OS closed the connection.
    ConnectionReset,
    /// The controller's metadata change, published to the brokers.
    MetadataUpdate,
    BrokerHeartbeatResponse,
    /// KIP-848's `ConsumerGroupHeartbeat`: membership, epochs and assignment in one request.
    ConsumerGroupHeartbeat,
    ConsumerGroupHeartbeatResponse,
    /// KIP-932: a share group member's heartbeat (membership and assignment).
    ShareGroupHeartbeat,
    ShareGroupHeartbeatResponse,
    /// KIP-932: acquire records of a share partition, carrying acknowledgements.
    ShareFetch,
    ShareFetchResponse,
    /// KIP-932: acknowledgements alone (a share consumer's close).
    ShareAcknowledge,
}

impl WireKind {
    pub fn name(self) -> &'static str {
        match self {
            WireKind::ProduceRequest => "Produce",
            WireKind::ProduceResponse => "ProduceResponse",
            WireKind::ReplicaFetch => "Fetch(replica)",
            WireKind::ReplicaFetchResponse => "FetchResponse(replica)",
            WireKind::ConsumerFetch => "Fetch",
            WireKind::ConsumerFetchResponse => "FetchResponse",
            WireKind::ListOffsets => "ListOffsets",
            WireKind::ListOffsetsResponse => "ListOffsetsResponse",
            WireKind::BrokerHeartbeat => "BrokerHeartbeat",
            WireKind::PartitionChange => "PartitionChange",
            WireKind::AlterPartition => "AlterPartition",
            WireKind::AlterPartitionResponse => "AlterPartitionResponse",
            WireKind::MetadataRequest => "Metadata",
            WireKind::MetadataResponse => "MetadataResponse",
            WireKind::JoinGroup => "JoinGroup",
            WireKind::JoinGroupResponse => "JoinGroupResponse",
            WireKind::SyncGroup => "SyncGroup",
            WireKind::SyncGroupResponse => "SyncGroupResponse",
            WireKind::Heartbeat => "Heartbeat",
            WireKind::HeartbeatResponse => "HeartbeatResponse",
            WireKind::LeaveGroup => "LeaveGroup",
            WireKind::OffsetCommit => "OffsetCommit",
            WireKind::OffsetCommitResponse => "OffsetCommitResponse",
            WireKind::OffsetFetch => "OffsetFetch",
            WireKind::OffsetFetchResponse => "OffsetFetchResponse",
            WireKind::InitProducerId => "InitProducerId",
            WireKind::InitProducerIdResponse => "InitProducerIdResponse",
            WireKind::AddPartitionsToTxn => "AddPartitionsToTxn",
            WireKind::AddPartitionsToTxnResponse => "AddPartitionsToTxnResponse",
            WireKind::AddOffsetsToTxn => "AddOffsetsToTxn",
            WireKind::AddOffsetsToTxnResponse => "AddOffsetsToTxnResponse",
            WireKind::EndTxn => "EndTxn",
            WireKind::EndTxnResponse => "EndTxnResponse",
            WireKind::WriteTxnMarkers => "WriteTxnMarkers",
            WireKind::WriteTxnMarkersResponse => "WriteTxnMarkersResponse",
            WireKind::TxnOffsetCommit => "TxnOffsetCommit",
            WireKind::TxnOffsetCommitResponse => "TxnOffsetCommitResponse",
            WireKind::ConnectionReset => "ConnectionReset",
            WireKind::MetadataUpdate => "MetadataUpdate",
            WireKind::BrokerHeartbeatResponse => "BrokerHeartbeatResponse",
            WireKind::ConsumerGroupHeartbeat => "ConsumerGroupHeartbeat",
            WireKind::ConsumerGroupHeartbeatResponse => "ConsumerGroupHeartbeatResponse",
            WireKind::ShareGroupHeartbeat => "ShareGroupHeartbeat",
            WireKind::ShareGroupHeartbeatResponse => "ShareGroupHeartbeatResponse",
            WireKind::ShareFetch => "ShareFetch",
            WireKind::ShareFetchResponse => "ShareFetchResponse",
            WireKind::ShareAcknowledge => "ShareAcknowledge",
        }
    }

    /// Background chatter (heartbeats, idle fetches) that views may hide by default.
    pub fn is_chatter(self) -> bool {
        matches!(
            self,
            WireKind::BrokerHeartbeat
                | WireKind::BrokerHeartbeatResponse
                | WireKind::Heartbeat
                | WireKind::HeartbeatResponse
                | WireKind::ConsumerGroupHeartbeat
                | WireKind::ConsumerGroupHeartbeatResponse
                | WireKind::ShareGroupHeartbeat
                | WireKind::ShareGroupHeartbeatResponse
        )
    }
}

/// Why a replica truncated its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TruncateReason {
    /// Its log diverged from the leader's at an epoch boundary (KIP-101/KIP-279).
    DivergedEpoch,
    /// Pre-KIP-101 (`replica_recovery = "high-watermark"`): a replica becoming a follower cut
    /// its log to its own high watermark (Kafka 0.10's `ReplicaManager.makeFollowers`).
    HighWatermark,
    /// Pre-KIP-101: its fetch offset was past the leader's log end (OFFSET_OUT_OF_RANGE), so it
    /// cut its log to the leader's end (`ReplicaFetcherThread.handleOffsetOutOfRange`).
    LeaderLogEnd,
}

/// Why a message on the wire never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The link was cut (isolate, partition).
    Cut,
    /// A `drop` or `drop-acks` fault ate it.
    Injected,
    /// Random loss from `network.loss`.
    Loss,
    /// The receiver was down when it arrived.
    NodeDown,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Cut => "link cut",
            DropReason::Injected => "dropped by fault",
            DropReason::Loss => "random loss",
            DropReason::NodeDown => "receiver down",
        }
    }
}

/// A summary of one network message, enough to draw an arrow and label it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Wire {
    pub kind: WireKind,
    /// The partition it concerns, if any.
    pub partition: Option<PartitionId>,
    /// The first application message it carries, if any.
    pub first_msg: Option<MsgId>,
    /// How many records it carries.
    pub records: u32,
    pub error: ErrorCode,
}

/// Why a member left or was removed from its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaveReason {
    /// A graceful `LeaveGroup`.
    Left,
    /// No heartbeat within `session.timeout.ms`.
    SessionTimeout,
    /// Processing exceeded `max.poll.interval.ms`.
    PollTimeout,
    /// It did not rejoin within the rebalance timeout.
    RebalanceTimeout,
    /// KIP-848: no ConsumerGroupHeartbeat within `group.consumer.session.timeout.ms`; the
    /// coordinator fences the member.
    Fenced,
}

impl LeaveReason {
    pub fn name(self) -> &'static str {
        match self {
            LeaveReason::Left => "left the group",
            LeaveReason::SessionTimeout => "session.timeout.ms expired",
            LeaveReason::PollTimeout => "max.poll.interval.ms exceeded",
            LeaveReason::RebalanceTimeout => "did not rejoin in time",
            LeaveReason::Fenced => "fenced: no heartbeat within group.consumer.session.timeout.ms",
        }
    }
}

/// A transaction's state at its coordinator (Kafka's `TransactionState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxnPhase {
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

impl TxnPhase {
    pub fn name(self) -> &'static str {
        match self {
            TxnPhase::Ongoing => "Ongoing",
            TxnPhase::PrepareCommit => "PrepareCommit",
            TxnPhase::PrepareAbort => "PrepareAbort",
            TxnPhase::CompleteCommit => "CompleteCommit",
            TxnPhase::CompleteAbort => "CompleteAbort",
        }
    }
}

/// One thing that happened. Every variant is cheap to build except the rare ones that carry a
/// list (truncations, rebalances).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trace {
    /// A message left `from`; it arrives at `arrive_at` unless a `Dropped` with the same id follows.
    Sent {
        id: u64,
        from: NodeId,
        to: NodeId,
        wire: Wire,
        arrive_at: SimTime,
    },
    Dropped {
        id: u64,
        from: NodeId,
        to: NodeId,
        wire: Wire,
        reason: DropReason,
    },
    /// An application called `send()`.
    Produced {
        producer: ProducerId,
        msg: MsgId,
        partition: PartitionId,
        /// Interned key (`Sim::key_name`); `None` for keyless records.
        key: Option<u32>,
    },
    /// A leader appended a producer batch.
    Appended {
        partition: PartitionId,
        broker: BrokerId,
        base_offset: u64,
        count: u32,
        epoch: u32,
        first_msg: MsgId,
    },
    /// A leader recognised a retried batch (idempotence) and answered with the original offset.
    DuplicateBatch {
        partition: PartitionId,
        broker: BrokerId,
        producer: ProducerId,
        first_msg: MsgId,
        base_offset: u64,
    },
    /// A follower copied records from its leader.
    Replicated {
        partition: PartitionId,
        broker: BrokerId,
        leo: u64,
    },
    /// The leader's high watermark moved.
    HighWatermark {
        partition: PartitionId,
        broker: BrokerId,
        hw: u64,
    },
    IsrChanged {
        partition: PartitionId,
        leader: BrokerId,
        isr: BrokerSet,
        /// The broker that left or joined.
        changed: BrokerId,
        expanded: bool,
    },
    LeaderElected {
        partition: PartitionId,
        leader: BrokerId,
        epoch: u32,
        isr: BrokerSet,
        unclean: bool,
        /// Preferred-leader election rather than failover.
        preferred: bool,
        /// Elected from the ELR, the ISR being empty (KIP-966): a clean election.
        from_elr: bool,
    },
    /// No live replica can lead: the partition is offline.
    PartitionOffline {
        partition: PartitionId,
        epoch: u32,
    },
    /// A replica cut its log back: to a shared epoch's end (KIP-101/KIP-279), or, with the
    /// pre-KIP-101 recovery, to its own HW or the leader's log end.
    Truncated {
        partition: PartitionId,
        broker: BrokerId,
        from: u64,
        to: u64,
        /// The application messages removed, in offset order (control records omitted).
        removed: Box<[MsgId]>,
        reason: TruncateReason,
    },
    BrokerFenced {
        broker: BrokerId,
    },
    BrokerUnfenced {
        broker: BrokerId,
    },
    NodeCrashed {
        node: NodeId,
    },
    NodeRestarted {
        node: NodeId,
    },
    NodePaused {
        node: NodeId,
        until: SimTime,
    },
    NodeResumed {
        node: NodeId,
    },
    /// `stop`: a broker begins a controlled shutdown (KIP-631, `BrokerLifecycleManager`): its
    /// heartbeats ask the controller to move its leaderships away before it exits.
    ShutdownRequested {
        broker: BrokerId,
    },
    /// The controller acts on a broker's controlled shutdown (`ReplicationControlManager`):
    /// first (`granted = false`) it moves the broker's leaderships to other in-sync replicas
    /// and removes it from every ISR; then (`granted = true`), once it leads nothing, it fences
    /// it and tells it to go.
    ControlledShutdown {
        broker: BrokerId,
        granted: bool,
    },
    /// A partition's eligible leader replicas changed (KIP-966): `elr` may lead cleanly when
    /// the ISR is empty; `last_known_elr` lost that right (an unclean shutdown).
    ElrChanged {
        partition: PartitionId,
        elr: BrokerSet,
        last_known_elr: BrokerSet,
    },
    /// A broker's process exits cleanly at the end of its controlled shutdown.
    NodeStopped {
        node: NodeId,
    },
    /// The producer saw success for this message (for `acks=0`, at send time).
    Acked {
        producer: ProducerId,
        msg: MsgId,
        partition: PartitionId,
        offset: Option<u64>,
    },
    /// A produce request came back with an error (or timed out).
    ProduceError {
        producer: ProducerId,
        partition: PartitionId,
        first_msg: MsgId,
        count: u32,
        error: ErrorCode,
        will_retry: bool,
    },
    /// A batch was sent again.
    Retried {
        producer: ProducerId,
        partition: PartitionId,
        first_msg: MsgId,
        count: u32,
        attempt: u32,
    },
    /// The producer gave up on this message.
    Failed {
        producer: ProducerId,
        msg: MsgId,
        error: ErrorCode,
    },
    MemberJoined {
        group: GroupId,
        consumer: ConsumerId,
    },
    MemberRemoved {
        group: GroupId,
        consumer: ConsumerId,
        reason: LeaveReason,
    },
    RebalanceStarted {
        group: GroupId,
        generation: u32,
    },
    /// A generation completed with this assignment.
    Rebalanced {
        group: GroupId,
        generation: u32,
        assignment: Box<[(ConsumerId, Box<[PartitionId]>)]>,
    },
    /// KIP-429, cooperative rebalancing: the generation's assignment holds back partitions
    /// whose previous owner must revoke them first; a second rebalance assigns them.
    PartitionsWithheld {
        group: GroupId,
        generation: u32,
        partitions: Box<[PartitionId]>,
    },
    /// KIP-429: a member gives up only the partitions its new assignment no longer holds
    /// (`onPartitionsRevoked` of just those, after committing their offsets) and rejoins; it
    /// keeps consuming the rest.
    PartitionsRevoked {
        group: GroupId,
        consumer: ConsumerId,
        partitions: Box<[PartitionId]>,
    },
    /// KIP-848: a member joined a consumer-protocol group (heartbeat with member epoch 0); the
    /// group epoch is bumped to `group_epoch`.
    MemberJoinedEpoch {
        group: GroupId,
        consumer: ConsumerId,
        group_epoch: u32,
    },
    /// KIP-848: the coordinator's assignor computed the target assignment for group epoch
    /// `epoch`; members reconcile toward it one heartbeat at a time.
    TargetAssignment {
        group: GroupId,
        epoch: u32,
        assignment: Box<[(ConsumerId, Box<[PartitionId]>)]>,
    },
    /// KIP-848: the coordinator asks a member to revoke partitions its target no longer holds;
    /// its member epoch stays `member_epoch` until it reports them gone.
    RevokeAsked {
        group: GroupId,
        consumer: ConsumerId,
        member_epoch: u32,
        partitions: Box<[PartitionId]>,
    },
    /// KIP-848: a member reached member epoch `member_epoch` owning `partitions` (those still
    /// pending revocation by another member come later).
    EpochAssigned {
        group: GroupId,
        consumer: ConsumerId,
        member_epoch: u32,
        partitions: Box<[PartitionId]>,
    },
    /// A consumer got records from a poll.
    Polled {
        group: GroupId,
        consumer: ConsumerId,
        partition: PartitionId,
        from: u64,
        count: u32,
    },
    /// The group's sink applied a message's effect.
    Applied {
        group: GroupId,
        consumer: ConsumerId,
        msg: MsgId,
        partition: PartitionId,
        offset: u64,
    },
    /// Processing a record failed (a poison message); it will be tried again up to
    /// `max_attempts` times.
    ProcessingFailed {
        group: GroupId,
        consumer: ConsumerId,
        msg: MsgId,
        attempt: u32,
    },
    /// After `max_attempts` failures the record went to the group's dead-letter topic.
    DeadLettered {
        group: GroupId,
        consumer: ConsumerId,
        msg: MsgId,
        attempts: u32,
    },
    /// After `max_attempts` failures with no dead-letter topic the consumer cannot get past the
    /// record: its partitions are stuck.
    ConsumerStuck {
        group: GroupId,
        consumer: ConsumerId,
        msg: MsgId,
    },
    /// A dedup sink saw a message it had already applied.
    Redelivered {
        group: GroupId,
        consumer: ConsumerId,
        msg: MsgId,
        partition: PartitionId,
        offset: u64,
    },
    OffsetCommitted {
        group: GroupId,
        consumer: ConsumerId,
        partition: PartitionId,
        offset: u64,
    },
    CommitFailed {
        group: GroupId,
        consumer: ConsumerId,
        error: ErrorCode,
    },
    /// The consumer had no valid position and reset by `auto.offset.reset`.
    OffsetReset {
        group: GroupId,
        consumer: ConsumerId,
        partition: PartitionId,
        offset: u64,
    },
    /// A scripted or live fault fired; the index is into `Sim::faults()`.
    FaultInjected {
        index: u32,
    },
    /// A narration note; the index is into `Sim::notes()`.
    Narration {
        index: u32,
    },
    /// A transactional producer got its producer id and a new epoch (`InitProducerId`), which
    /// fences every older instance with the same `transactional.id`.
    ProducerInitialized {
        producer: ProducerId,
        txn: u32,
        epoch: u16,
    },
    /// A transactional producer met a fatal error (INVALID_TRANSACTION_TIMEOUT from
    /// `initTransactions()`, STALE_MEMBER_EPOCH for its transaction's offsets) and stopped.
    TxnFatalError {
        producer: ProducerId,
        txn: u32,
        error: ErrorCode,
    },
    /// A transactional producer learnt it was fenced by a newer instance and stopped.
    ProducerFenced {
        producer: ProducerId,
        txn: u32,
    },
    /// A transactional application producer's `commitTransaction()` returned (the EndTxn
    /// response), or its transaction aborted. Its records' sends completed earlier, on their
    /// produce responses (`Acked`); `acked` of the `records` had.
    TxnEnded {
        producer: ProducerId,
        txn: u32,
        committed: bool,
        records: u32,
        acked: u32,
    },
    /// A transaction changed state at its coordinator.
    TxnStateChanged {
        txn: u32,
        epoch: u16,
        phase: TxnPhase,
        /// Aborted because it outlived `transaction.timeout.ms`.
        timed_out: bool,
    },
    /// `add-partitions`: the topic grew; partitions `first..first+count` are new.
    PartitionsAdded {
        topic: TopicId,
        first: PartitionId,
        count: u32,
    },
    /// A partition leader wrote a COMMIT or ABORT marker.
    TxnMarker {
        partition: PartitionId,
        broker: BrokerId,
        txn: u32,
        commit: bool,
        offset: u64,
    },
    /// The run reached `stop_at_ms`: no new sends or faults; in-flight work drains.
    Draining,
    /// A leader refused a transactional batch (KIP-890): its transaction has ended, so
    /// appending it would open a transaction no coordinator tracks. `error` says how it knew:
    /// INVALID_PRODUCER_EPOCH (a newer epoch has written here: with Transactions V2 every
    /// transaction ends with a bump; or a zombie) or INVALID_TXN_STATE (the coordinator said
    /// the partition is not in an ongoing transaction).
    TxnWriteRefused {
        partition: PartitionId,
        broker: BrokerId,
        first_msg: MsgId,
        error: ErrorCode,
    },
    /// KIP-932: a share partition's leader changed the state of one record of share group
    /// `group` (see [`ShareStep`]); `consumer` is the member that acquired, acknowledged or
    /// held the lock, and `delivery_count` the record's deliveries so far.
    Share {
        group: GroupId,
        consumer: ConsumerId,
        partition: PartitionId,
        offset: u64,
        msg: MsgId,
        delivery_count: u32,
        step: ShareStep,
    },
}

/// What a share-partition leader did to one record (KIP-932, Kafka's `SharePartition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShareStep {
    /// Acquired for the member under an acquisition lock; its delivery count rose.
    Acquired,
    /// The member acknowledged it: ACCEPT, RELEASE or REJECT.
    Acknowledged(crate::sim::share_partition::AckType),
    /// Its acquisition lock (`share.record.lock.duration.ms`) ran out: available again.
    LockExpired,
    /// Archived: rejected, or released or timed out at `share.delivery.count.limit`. It will
    /// never be delivered again. On a queue with a dead-letter target (RabbitMQ's dead-letter
    /// exchange, SQS's redrive policy, a Redis dead-letter stream): moved there.
    Archived,
    /// A queue forgot it as it sent it (RabbitMQ `ack = "auto"`, Redis BRPOP): whatever
    /// happens to the consumer now, it is never delivered again.
    Settled,
    /// Refused or at its delivery limit with nowhere to dead-letter it: the queue dropped it.
    Dropped,
    /// The consumer's RabbitMQ channel closed (its connection was reset, or its heartbeats
    /// stopped): the message is back in the queue, to be delivered with `redelivered` set.
    Requeued,
}

impl ShareStep {
    pub fn code(self) -> u64 {
        use crate::sim::share_partition::AckType;
        match self {
            ShareStep::Acquired => 0,
            ShareStep::Acknowledged(AckType::Accept) => 1,
            ShareStep::Acknowledged(AckType::Release) => 2,
            ShareStep::Acknowledged(AckType::Reject) => 3,
            ShareStep::LockExpired => 4,
            ShareStep::Archived => 5,
            ShareStep::Settled => 6,
            ShareStep::Dropped => 7,
            ShareStep::Requeued => 8,
        }
    }
}

impl Trace {
    /// Events a viewer jumps between with `[` and `]`.
    pub fn is_notable(&self) -> bool {
        matches!(
            self,
            Trace::LeaderElected { .. }
                | Trace::PartitionOffline { .. }
                | Trace::IsrChanged { .. }
                | Trace::Truncated { .. }
                | Trace::Rebalanced { .. }
                | Trace::BrokerFenced { .. }
                | Trace::NodeCrashed { .. }
                | Trace::NodeRestarted { .. }
                | Trace::ControlledShutdown { .. }
                | Trace::NodeStopped { .. }
                | Trace::FaultInjected { .. }
                | Trace::Narration { .. }
                | Trace::Failed { .. }
                | Trace::TxnFatalError { .. }
        )
    }
}

/// The id of a trace event: its position in the run's trace, counting from 0. The same
/// scenario and seed always number their events the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u64);

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A trace event with its time, its id and the event that caused it.
///
/// `cause` is what ran the handler that emitted it: for a message delivery, the `Sent` event of
/// that message; for a timer, the cause of the handler that set the timer; for a fault's effects,
/// the `FaultInjected` event. `None` marks a root: a fault, a narration note, the end of the
/// scripted run, or the scenario itself (its workload and settings, for events that the setup or a
/// timer armed at setup emitted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    pub id: EventId,
    pub time: SimTime,
    pub cause: Option<EventId>,
    pub kind: Trace,
}

/// Walks `id`'s causes back to its root: the returned ids start at `id` and end at the root.
///
/// `events` is the run's trace, or any contiguous stretch of it in order (ids ascend by one); a
/// cause outside the stretch ends the walk there.
pub fn cause_chain(events: &[TraceEvent], id: EventId) -> Vec<EventId> {
    let Some(first) = events.first().map(|e| e.id.0) else {
        return Vec::new();
    };
    let at = |id: EventId| {
        id.0.checked_sub(first)
            .and_then(|i| events.get(i as usize))
            .filter(|e| e.id == id)
    };
    let mut chain = Vec::new();
    let mut next = Some(id);
    while let Some(id) = next {
        let Some(ev) = at(id) else { break };
        chain.push(id);
        // Causes always point backwards, so the walk ends.
        next = ev.cause.filter(|c| *c < id);
    }
    chain
}
