//! Event anchors: "right after the election of orders/0", "right after broker-1 truncates".
//!
//! A note (or a quiz question) anchored to an event is shown once the state it describes exists,
//! not at a guessed time: a fixed time can run ahead of the state by a few milliseconds of
//! latency, and a live fault can move the event altogether. The simulation emits an anchored
//! note as a `Narration` caused by the matching event, right after it in the same step.
//!
//! Anchors name things by core id; the scenario layer parses the written form
//! (`src/scenario/anchor.rs`).

use super::ids::*;
use super::trace::{ShareStep, Trace, TxnPhase};
use super::{MsgInfo, NodeKind};

/// The event a note waits for, at or after `not_before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub kind: AnchorKind,
    /// The first matching event at or after this time counts (the note's `at_ms`).
    pub not_before: SimTime,
}

/// A node an anchor names: a fixed node, or a consumer (whose node is made at run time when an
/// `add-consumer` fault adds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorNode {
    Node(NodeId),
    Consumer(ConsumerId),
}

/// One application message, `<producer>#<n>` (n from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgRef {
    pub producer: ProducerId,
    pub n: u32,
}

/// What an anchor waits for. Each variant's doc gives its written form and the trace event that
/// matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorKind {
    /// `election T/P`: a leader is elected (`LeaderElected`: failover, unclean or preferred).
    Election(PartitionId),
    /// `truncation broker-N`: that broker cuts a log back (`Truncated`).
    TruncationOn(BrokerId),
    /// `truncation T/P`: a replica of the partition cuts its log back (`Truncated`).
    TruncationOf(PartitionId),
    /// `crash NODE` (`NodeCrashed`).
    Crash(AnchorNode),
    /// `restart NODE` (`NodeRestarted`).
    Restart(AnchorNode),
    /// `stop broker-N`: the broker exits at the end of its controlled shutdown (`NodeStopped`).
    Stop(BrokerId),
    /// `fenced broker-N`: the controller fences the broker (`BrokerFenced`).
    Fenced(BrokerId),
    /// `unfenced broker-N`: the controller lets the broker back in (`BrokerUnfenced`).
    Unfenced(BrokerId),
    /// `rebalance GROUP`: a generation completes with an assignment (`Rebalanced`), or under
    /// KIP-848 the coordinator computes a new target assignment (`TargetAssignment`).
    Rebalance(GroupId),
    /// `rebalance-start GROUP`: the coordinator starts a rebalance (`RebalanceStarted`).
    RebalanceStart(GroupId),
    /// `leave GROUP`: a member leaves or is removed from the group (`MemberRemoved`).
    Leave(GroupId),
    /// `revoke GROUP`: a member gives up some partitions, KIP-429 (`PartitionsRevoked`).
    Revoke(GroupId),
    /// `isr-shrink T/P` (`IsrChanged`, shrinking).
    IsrShrink(PartitionId),
    /// `isr-expand T/P` (`IsrChanged`, expanding).
    IsrExpand(PartitionId),
    /// `hw T/P`: the leader's high watermark moves; `hw T/P N`: it reaches at least N.
    Hw {
        partition: PartitionId,
        at_least: u64,
    },
    /// `offline T/P`: no replica can lead (`PartitionOffline`).
    Offline(PartitionId),
    /// `ack P#N`: the producer saw success for the message (`Acked`).
    Ack(MsgRef),
    /// `failed P#N`: the producer gave up on the message (`Failed`).
    Failed(MsgRef),
    /// `error PRODUCER`: a produce request of the producer came back with an error or timed
    /// out (`ProduceError`).
    ProduceError(ProducerId),
    /// `apply P#N`: a group's sink applied the message (`Applied`).
    Apply(MsgRef),
    /// `commit GROUP`: a member of the group committed an offset (`OffsetCommitted`).
    Commit(GroupId),
    /// `commit-failed GROUP`: a member's offset commit was refused (`CommitFailed`).
    CommitFailed(GroupId),
    /// `dead-letter P#N`: after `max_attempts` failures the message went to the dead-letter
    /// topic (`DeadLettered`), or a queue archived it at its delivery limit (`Share`, archived).
    DeadLetter(MsgRef),
    /// `deliver P#N`: a queue hands the message to a consumer (`Share`, acquired): a share
    /// group's acquisition, a RabbitMQ delivery, an SQS receive, a Redis pop or read.
    Deliver(MsgRef),
    /// `redeliver P#N`: a delivery after the message's first (`Share`, acquired with a delivery
    /// count above 1).
    Redeliver(MsgRef),
    /// `lock-expired P#N`: the message's acquisition lock or visibility timeout ran out and it
    /// is available again or archived (`Share`, lock expired).
    LockExpired(MsgRef),
    /// `stuck GROUP`: a member cannot get past a poison message (`ConsumerStuck`).
    Stuck(GroupId),
    /// `txn-commit ID`: the coordinator completed a commit of that `transactional.id`
    /// (`TxnStateChanged` to CompleteCommit).
    TxnCommit(String),
    /// `txn-abort ID`: the coordinator completed an abort (`TxnStateChanged` to CompleteAbort).
    TxnAbort(String),
}

/// What matching needs beyond the event: who sent a message, which process a node runs, the
/// name of a transaction. [`crate::sim::Sim`] provides it.
pub trait AnchorWorld {
    fn msg_info(&self, m: MsgId) -> MsgInfo;
    fn node_kind(&self, n: NodeId) -> NodeKind;
    fn txn_name(&self, txn: u32) -> &str;
}

impl Anchor {
    /// Whether `trace`, at `time`, is the event this anchor waits for.
    pub fn matches(&self, time: SimTime, trace: &Trace, world: &impl AnchorWorld) -> bool {
        time >= self.not_before && self.kind.matches(trace, world)
    }
}

impl AnchorKind {
    /// Whether `trace` is an event of this kind about this subject (whatever its time).
    pub fn matches(&self, trace: &Trace, world: &impl AnchorWorld) -> bool {
        let node_is = |want: AnchorNode, node: NodeId| match want {
            AnchorNode::Node(n) => n == node,
            AnchorNode::Consumer(c) => world.node_kind(node) == NodeKind::Consumer(c),
        };
        let msg_is = |want: MsgRef, m: MsgId| {
            let info = world.msg_info(m);
            info.producer == want.producer && info.n == want.n
        };
        match (self, trace) {
            (AnchorKind::Election(p), Trace::LeaderElected { partition, .. }) => p == partition,
            (AnchorKind::TruncationOn(b), Trace::Truncated { broker, .. }) => b == broker,
            (AnchorKind::TruncationOf(p), Trace::Truncated { partition, .. }) => p == partition,
            (AnchorKind::Crash(n), Trace::NodeCrashed { node }) => node_is(*n, *node),
            (AnchorKind::Restart(n), Trace::NodeRestarted { node }) => node_is(*n, *node),
            (AnchorKind::Stop(b), Trace::NodeStopped { node }) => node.0 == b.0,
            (AnchorKind::Fenced(b), Trace::BrokerFenced { broker }) => b == broker,
            (AnchorKind::Unfenced(b), Trace::BrokerUnfenced { broker }) => b == broker,
            (AnchorKind::Rebalance(g), Trace::Rebalanced { group, .. })
            | (AnchorKind::Rebalance(g), Trace::TargetAssignment { group, .. }) => g == group,
            (
                AnchorKind::IsrShrink(p),
                Trace::IsrChanged {
                    partition,
                    expanded: false,
                    ..
                },
            )
            | (
                AnchorKind::IsrExpand(p),
                Trace::IsrChanged {
                    partition,
                    expanded: true,
                    ..
                },
            ) => p == partition,
            (
                AnchorKind::Hw {
                    partition: p,
                    at_least,
                },
                Trace::HighWatermark { partition, hw, .. },
            ) => p == partition && hw >= at_least,
            (AnchorKind::Offline(p), Trace::PartitionOffline { partition, .. }) => p == partition,
            (AnchorKind::Ack(want), Trace::Acked { msg, .. })
            | (AnchorKind::Failed(want), Trace::Failed { msg, .. })
            | (AnchorKind::Apply(want), Trace::Applied { msg, .. })
            | (AnchorKind::DeadLetter(want), Trace::DeadLettered { msg, .. }) => {
                msg_is(*want, *msg)
            }
            (
                AnchorKind::Deliver(want),
                Trace::Share {
                    msg,
                    step: ShareStep::Acquired,
                    ..
                },
            )
            | (
                AnchorKind::LockExpired(want),
                Trace::Share {
                    msg,
                    step: ShareStep::LockExpired,
                    ..
                },
            )
            | (
                AnchorKind::DeadLetter(want),
                Trace::Share {
                    msg,
                    step: ShareStep::Archived,
                    ..
                },
            ) => msg_is(*want, *msg),
            (
                AnchorKind::Redeliver(want),
                Trace::Share {
                    msg,
                    step: ShareStep::Acquired,
                    delivery_count,
                    ..
                },
            ) => *delivery_count > 1 && msg_is(*want, *msg),
            (AnchorKind::ProduceError(want), Trace::ProduceError { producer, .. }) => {
                want == producer
            }
            (AnchorKind::Commit(g), Trace::OffsetCommitted { group, .. })
            | (AnchorKind::CommitFailed(g), Trace::CommitFailed { group, .. })
            | (AnchorKind::Stuck(g), Trace::ConsumerStuck { group, .. })
            | (AnchorKind::RebalanceStart(g), Trace::RebalanceStarted { group, .. })
            | (AnchorKind::Leave(g), Trace::MemberRemoved { group, .. })
            | (AnchorKind::Revoke(g), Trace::PartitionsRevoked { group, .. }) => g == group,
            (
                AnchorKind::TxnCommit(id),
                Trace::TxnStateChanged {
                    txn,
                    phase: TxnPhase::CompleteCommit,
                    ..
                },
            )
            | (
                AnchorKind::TxnAbort(id),
                Trace::TxnStateChanged {
                    txn,
                    phase: TxnPhase::CompleteAbort,
                    ..
                },
            ) => world.txn_name(*txn) == id,
            _ => false,
        }
    }
}
