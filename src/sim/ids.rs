//! Compact identifiers. Everything in the core is addressed by `u32` indices into
//! tables owned by [`crate::sim::Sim`]; names only appear at the edges (scenario, report, TUI).

use std::fmt;

/// Simulated time in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);

    pub const fn from_ms(ms: u64) -> SimTime {
        SimTime(ms * 1000)
    }

    pub const fn as_ms(self) -> u64 {
        self.0 / 1000
    }

    pub const fn plus_ms(self, ms: u64) -> SimTime {
        SimTime(self.0 + ms * 1000)
    }

    pub const fn plus_us(self, us: u64) -> SimTime {
        SimTime(self.0 + us)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 / 1000;
        let frac = self.0 % 1000;
        write!(f, "{}.{:03}ms", ms, frac)
    }
}

macro_rules! index_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            pub const fn idx(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_id!(
    /// Any node on the network: brokers first, then the controller, producers and consumers.
    NodeId
);
index_id!(
    /// A broker, `broker-1` is `BrokerId(0)`.
    BrokerId
);
index_id!(
    /// A topic partition, numbered across all topics in declaration order.
    PartitionId
);
/// Where each partition sits in a list of partitions (a topic's, as a client or a coordinator
/// knows it): a lookup by id instead of a scan of the list, which made commit and fetch handling
/// quadratic in partitions.
#[derive(Clone, Debug, Default)]
pub(crate) struct PartitionIndex {
    /// By partition id: its position in the list, or `u32::MAX` if absent.
    position: Vec<u32>,
}

impl PartitionIndex {
    pub(crate) fn new(list: &[PartitionId]) -> PartitionIndex {
        let mut index = PartitionIndex::default();
        for (i, &p) in list.iter().enumerate() {
            index.push(p, i);
        }
        index
    }

    /// `p` is at `position` of the list (a later duplicate keeps the first, like a scan).
    pub(crate) fn push(&mut self, p: PartitionId, position: usize) {
        if self.position.len() <= p.idx() {
            self.position.resize(p.idx() + 1, u32::MAX);
        }
        if self.position[p.idx()] == u32::MAX {
            self.position[p.idx()] = position as u32;
        }
    }

    /// The position of `p` in the list.
    pub(crate) fn get(&self, p: PartitionId) -> Option<usize> {
        match self.position.get(p.idx()) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }
}

index_id!(
    /// One application send: `<producer>#<n>`.
    MsgId
);
index_id!(
    /// A producer, in scenario order.
    ProducerId
);
index_id!(
    /// A consumer group, in scenario order.
    GroupId
);
index_id!(
    /// A consumer instance, numbered across all groups.
    ConsumerId
);
index_id!(
    /// A topic, in scenario order.
    TopicId
);

/// A set of brokers as a bitmask; clusters are limited to 64 brokers so ISRs stay `Copy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BrokerSet(pub u64);

impl BrokerSet {
    pub const EMPTY: BrokerSet = BrokerSet(0);

    pub fn contains(self, b: BrokerId) -> bool {
        self.0 & (1u64 << b.0) != 0
    }

    pub fn insert(&mut self, b: BrokerId) {
        self.0 |= 1u64 << b.0;
    }

    pub fn remove(&mut self, b: BrokerId) {
        self.0 &= !(1u64 << b.0);
    }

    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Members in broker order.
    pub fn iter(self) -> impl Iterator<Item = BrokerId> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let b = bits.trailing_zeros();
            bits &= bits - 1;
            Some(BrokerId(b))
        })
    }
}

impl FromIterator<BrokerId> for BrokerSet {
    fn from_iter<I: IntoIterator<Item = BrokerId>>(iter: I) -> Self {
        let mut s = BrokerSet::EMPTY;
        for b in iter {
            s.insert(b);
        }
        s
    }
}

/// Kafka protocol error codes that the simulation produces, named as in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCode {
    None,
    NotEnoughReplicas,
    NotEnoughReplicasAfterAppend,
    NotLeaderOrFollower,
    OutOfOrderSequenceNumber,
    RequestTimedOut,
    /// The connection broke (the peer's process died): Kafka's `NetworkException`.
    NetworkException,
    /// Client-side: the producer gave up on a batch after `delivery.timeout.ms`.
    DeliveryTimeout,
    FencedLeaderEpoch,
    UnknownLeaderEpoch,
    OffsetOutOfRange,
    RebalanceInProgress,
    UnknownMemberId,
    IllegalGeneration,
    CommitFailed,
    NotCoordinator,
    ProducerFenced,
    InvalidProducerEpoch,
    InvalidTxnState,
    ConcurrentTransactions,
    /// KIP-447: OffsetFetch with `require_stable` while a transaction holding offsets for the
    /// partition is unresolved.
    UnstableOffsetCommit,
    /// `InitProducerId` with a `transaction.timeout.ms` above the brokers'
    /// `transaction.max.timeout.ms` (`TransactionCoordinator.handleInitProducerId`).
    InvalidTransactionTimeout,
    /// KIP-848: a ConsumerGroupHeartbeat whose member epoch is not the member's current (or
    /// previous) epoch: the member was fenced and must rejoin with epoch 0.
    FencedMemberEpoch,
    /// KIP-848: an OffsetCommit carrying a member epoch other than the member's current one.
    StaleMemberEpoch,
}

impl ErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::None => "NONE",
            ErrorCode::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            ErrorCode::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            ErrorCode::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            ErrorCode::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::NetworkException => "NETWORK_EXCEPTION",
            ErrorCode::DeliveryTimeout => "DELIVERY_TIMEOUT",
            ErrorCode::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::CommitFailed => "COMMIT_FAILED",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::ProducerFenced => "PRODUCER_FENCED",
            ErrorCode::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            ErrorCode::InvalidTxnState => "INVALID_TXN_STATE",
            ErrorCode::ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
            ErrorCode::UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
            ErrorCode::InvalidTransactionTimeout => "INVALID_TRANSACTION_TIMEOUT",
            ErrorCode::FencedMemberEpoch => "FENCED_MEMBER_EPOCH",
            ErrorCode::StaleMemberEpoch => "STALE_MEMBER_EPOCH",
        }
    }

    /// Whether the client gave up without an answer from the broker (a timeout, a lost
    /// connection): the broker may have done what was asked.
    pub fn is_unanswered(self) -> bool {
        matches!(
            self,
            ErrorCode::DeliveryTimeout | ErrorCode::RequestTimedOut | ErrorCode::NetworkException
        )
    }

    /// Whether a producer retries after this error (Kafka's `RetriableException` family).
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorCode::NotEnoughReplicas
                | ErrorCode::NotEnoughReplicasAfterAppend
                | ErrorCode::NotLeaderOrFollower
                | ErrorCode::OutOfOrderSequenceNumber
                | ErrorCode::RequestTimedOut
                | ErrorCode::NetworkException
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
                | ErrorCode::NotCoordinator
                | ErrorCode::ConcurrentTransactions
                | ErrorCode::UnstableOffsetCommit
        )
    }
}

/// The errors a scenario's `expect.errors` may count, by Kafka name.
const EXPECTABLE_ERRORS: [ErrorCode; 19] = [
    ErrorCode::NotEnoughReplicas,
    ErrorCode::NotEnoughReplicasAfterAppend,
    ErrorCode::NotLeaderOrFollower,
    ErrorCode::OutOfOrderSequenceNumber,
    ErrorCode::RequestTimedOut,
    ErrorCode::DeliveryTimeout,
    ErrorCode::ProducerFenced,
    ErrorCode::InvalidProducerEpoch,
    ErrorCode::CommitFailed,
    ErrorCode::FencedLeaderEpoch,
    ErrorCode::UnknownLeaderEpoch,
    ErrorCode::OffsetOutOfRange,
    ErrorCode::RebalanceInProgress,
    ErrorCode::UnknownMemberId,
    ErrorCode::IllegalGeneration,
    ErrorCode::NotCoordinator,
    ErrorCode::InvalidTxnState,
    ErrorCode::ConcurrentTransactions,
    ErrorCode::InvalidTransactionTimeout,
];

/// The Kafka names of the errors the simulation reports to clients and counts in its outcome
/// (what a scenario's `expect.errors` may name).
pub fn expectable_error_names() -> impl Iterator<Item = &'static str> {
    EXPECTABLE_ERRORS.iter().map(|c| c.name())
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod partition_index_tests {
    use super::*;

    #[test]
    fn finds_what_a_scan_finds() {
        let mut list = vec![
            PartitionId(7),
            PartitionId(2),
            PartitionId(9),
            PartitionId(2),
        ];
        let mut index = PartitionIndex::new(&list);
        list.push(PartitionId(40));
        index.push(PartitionId(40), 4);
        for p in (0..50).map(PartitionId) {
            assert_eq!(index.get(p), list.iter().position(|&x| x == p), "{p:?}");
        }
    }
}
