//! The group coordinator: one process per consumer group, run by the broker hosting it (Kafka's
//! `GroupCoordinator`, classic protocol). It runs join/sync generations, tracks sessions by
//! heartbeat (`session.timeout.ms`), bounds a rebalance by the rebalance timeout
//! (`max.poll.interval.ms`), delays a new group's first rebalance
//! (`group.initial.rebalance.delay.ms`), keeps static members' assignments across restarts
//! (`group.instance.id`), and stores committed offsets, including those a transaction carries:
//! pending from the transaction coordinator's `TxnOffsetCommit` until its marker (KIP-447).
//!
//! Durable state ([`StoredGroup`]) is what Kafka keeps in `__consumer_offsets`: the group's
//! metadata and its committed offsets. Volatile state exists only while a broker has the group
//! loaded: session and join timers and the JoinGroup requests parked until a rebalance completes.
//! A crash of the host or a move to another broker drops it; the next host loads the group from
//! its durable state and gives every member a fresh session.
//!
//! Simplifications: the coordinator computes the assignment itself (in Kafka the group leader
//! member does, with the same assignor, so the result is the same); the group's configuration
//! ([`GroupConfig`]: session and rebalance timeouts, static membership, assignor) is the
//! coordinator's, where Kafka's members send theirs in JoinGroup; a member's id is its consumer
//! and process incarnation, which its requests carry.

use crate::sim::Timer;
use crate::sim::config::{Assignor, GroupConfig, GroupProtocol, RemoteAssignor};
#[cfg(test)]
use crate::sim::coordinator::MetadataCache;
use crate::sim::coordinator::{Hosted, Metadata};
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::trace::{LeaveReason, Trace};
use crate::sim::wire::{GroupMetadata, GroupRequest, GroupResponse, Msg};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// A member as the coordinator records it. A restarted dynamic consumer is a new member (new
/// incarnation); a static member (`group.instance.id`) keeps its identity.
#[derive(Clone, Debug)]
pub struct Member {
    pub consumer: ConsumerId,
    pub incarnation: u32,
    pub assignment: Vec<PartitionId>,
    /// The partitions it owned when it last sent JoinGroup (KIP-429 `ownedPartitions`): the
    /// cooperative assignor starts from these, and withholds any that move to another member.
    owned: Vec<PartitionId>,
    /// Joined (again) in the rebalance under way.
    joined: bool,
    /// KIP-848 only (the fields below): the member epoch, and the one before it (a heartbeat
    /// may carry either: `throwIfMemberEpochIsInvalid`).
    pub epoch: u32,
    previous_epoch: u32,
    /// Its share of the target assignment (of the group epoch).
    pub target: Vec<PartitionId>,
    /// Partitions it was asked to revoke and has not yet reported gone.
    pub revoking: Vec<PartitionId>,
}

impl Member {
    fn new(consumer: ConsumerId, incarnation: u32) -> Member {
        Member {
            consumer,
            incarnation,
            assignment: Vec::new(),
            owned: Vec::new(),
            joined: false,
            epoch: 0,
            previous_epoch: 0,
            target: Vec::new(),
            revoking: Vec::new(),
        }
    }
}

/// What `__consumer_offsets` holds for the group: its metadata and its committed offsets. It
/// survives the host's crash and the group's move to another broker.
#[derive(Clone, Debug)]
pub struct StoredGroup {
    state: GroupState,
    generation: u32,
    members: Vec<Member>,
    /// Committed offset per partition (index as in [`GroupCoordinator::partitions`]).
    committed: Vec<Option<u64>>,
    /// While the first rebalance of an empty group waits out `group.initial.rebalance.delay.ms`
    /// (Kafka's InitialDelayedJoin): the latest it may wait until.
    initial_delay_cap: Option<SimTime>,
    /// Per transactional id that sent this group offsets: KIP-447's pending `TxnOffsetCommit`s
    /// and which transactions' markers are applied.
    txn_offsets: Vec<TxnOffsets>,
}

/// One transactional id's offsets for the group.
#[derive(Clone, Debug)]
struct TxnOffsets {
    txn: u32,
    /// The latest of its transactions whose marker is applied: anything about an earlier one
    /// is stale (a marker sent again, a late `TxnOffsetCommit`).
    resolved: u32,
    /// The offsets its open transaction carries, until the marker: OffsetFetch with
    /// `require_stable` is answered UNSTABLE_OFFSET_COMMIT for these partitions.
    pending: Option<PendingOffsets>,
}

#[derive(Clone, Debug)]
struct PendingOffsets {
    transaction: u32,
    offsets: Box<[(PartitionId, u64)]>,
}

/// The coordinator's memory while a broker has the group loaded.
#[derive(Clone, Debug)]
struct Loaded {
    /// The token of the pending join deadline (rebalance timeout or initial delay), if any.
    join_deadline: Option<u32>,
    /// Per member, as in [`StoredGroup::members`].
    sessions: Vec<Session>,
}

/// A member's session on the loaded coordinator.
#[derive(Clone, Copy, Debug, Default)]
struct Session {
    /// The token of its session check: the check expires it unless it was re-armed since.
    timer: u32,
    /// Its JoinGroup request, parked until the rebalance completes: (reply to, token).
    pending_join: Option<(NodeId, u32)>,
}

/// The coordinator's timers, on its host.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GroupTimer {
    /// The rebalance timeout, or the end of the initial delay: complete the join with whoever
    /// has joined.
    JoinDeadline { group: GroupId, token: u32 },
    /// A member's session expires unless it was heard from since.
    SessionCheck {
        group: GroupId,
        consumer: ConsumerId,
        token: u32,
    },
}

impl GroupTimer {
    pub(crate) fn group(self) -> GroupId {
        match self {
            GroupTimer::JoinDeadline { group, .. } | GroupTimer::SessionCheck { group, .. } => {
                group
            }
        }
    }
}

/// One consumer group's coordinator.
#[derive(Clone, Debug)]
pub struct GroupCoordinator {
    pub id: GroupId,
    /// `group.id`
    pub name: String,
    /// The group's configuration, which is the coordinator's.
    pub spec: GroupConfig,
    pub topic: TopicId,
    /// The topic's partitions, as the coordinator knows them.
    pub partitions: Vec<PartitionId>,
    /// Where each of `partitions` is in it.
    partition_index: PartitionIndex,
    /// Not the coordinator's: every consumer ever created for this group, for observers and the
    /// consumers' names. The coordinator never reads it.
    pub consumers: Vec<ConsumerId>,
    stored: StoredGroup,
    loaded: Hosted<Loaded>,
    /// Never reset: each timer gets a fresh token, so none armed before a reload can match.
    next_token: u32,
}

/// `group.consumer.heartbeat.interval.ms`, Kafka's default: the broker sets the member's
/// heartbeat interval (KIP-848). Simplified: a constant, not a scenario field.
pub(crate) const CONSUMER_HEARTBEAT_INTERVAL_MS: u64 = 5_000;
/// `group.consumer.session.timeout.ms`, Kafka's default: the broker-side session of a
/// consumer-protocol member. Simplified: a constant, not a scenario field.
pub(crate) const CONSUMER_SESSION_TIMEOUT_MS: u64 = 45_000;

/// The answer to a group request that fails with `error` before the coordinator looks at it
/// (NOT_COORDINATOR, or a reset connection); LeaveGroup gets none.
pub(crate) fn error_response(req: &GroupRequest, error: ErrorCode) -> Option<GroupResponse> {
    Some(match *req {
        GroupRequest::Join { token, .. } => GroupResponse::Join {
            generation: 0,
            token,
            error,
        },
        GroupRequest::Sync { token, .. } => GroupResponse::Sync {
            generation: 0,
            assignment: Box::new([]),
            token,
            error,
        },
        GroupRequest::Heartbeat { .. } => GroupResponse::Heartbeat { error },
        GroupRequest::Commit { token, .. } => GroupResponse::Commit { token, error },
        GroupRequest::OffsetFetch { token, .. } => GroupResponse::OffsetFetch {
            offsets: Box::new([]),
            token,
            error,
        },
        GroupRequest::ConsumerHeartbeat {
            member_epoch: -1, ..
        } => return None,
        GroupRequest::ConsumerHeartbeat { token, .. } => GroupResponse::ConsumerHeartbeat {
            member_epoch: 0,
            assignment: Box::new([]),
            heartbeat_interval_ms: CONSUMER_HEARTBEAT_INTERVAL_MS,
            token,
            error,
        },
        GroupRequest::Leave { .. } => return None,
    })
}

impl GroupCoordinator {
    pub(crate) fn new(id: GroupId, spec: &GroupConfig, partitions: Vec<PartitionId>) -> Self {
        GroupCoordinator {
            id,
            name: spec.name.clone(),
            spec: spec.clone(),
            topic: spec.topic,
            stored: StoredGroup {
                state: GroupState::Empty,
                generation: 0,
                members: Vec::new(),
                committed: vec![None; partitions.len()],
                initial_delay_cap: None,
                txn_offsets: Vec::new(),
            },
            partition_index: PartitionIndex::new(&partitions),
            partitions,
            consumers: Vec::new(),
            loaded: Hosted::unloaded(),
            next_token: 0,
        }
    }

    // ----- for observers ------------------------------------------------------------------

    pub fn state(&self) -> GroupState {
        self.stored.state
    }

    pub fn generation(&self) -> u32 {
        self.stored.generation
    }

    pub fn members(&self) -> &[Member] {
        &self.stored.members
    }

    /// Committed offset per partition (index as in `partitions`).
    pub fn committed(&self) -> &[Option<u64>] {
        &self.stored.committed
    }

    /// The broker that has the group loaded, if any.
    pub fn host(&self) -> Option<BrokerId> {
        self.loaded.host()
    }

    // ----- the host's lifecycle -----------------------------------------------------------

    /// The broker `host` crashed: if it had the group loaded, that memory is gone.
    pub(crate) fn host_crashed(&mut self, host: BrokerId) {
        self.loaded.crashed(host);
    }

    /// Load the group on `host` unless it is loaded there already (the first request after a
    /// crash or a move): every member gets a fresh session, and a rebalance under way a fresh
    /// deadline.
    fn load_on(&mut self, host: BrokerId, cx: &mut Cx) {
        let members = self.stored.members.len();
        let fresh = || Loaded {
            join_deadline: None,
            sessions: vec![Session::default(); members],
        };
        if !self.loaded.load_on(host, fresh) {
            return;
        }
        for i in 0..self.stored.members.len() {
            self.arm_session_check(i, cx);
        }
        if self.stored.state == GroupState::PreparingRebalance {
            let wait = if self.stored.initial_delay_cap.is_some() {
                cx.settings().group_initial_rebalance_delay_ms
            } else {
                self.spec.max_poll_interval_ms
            };
            self.arm_join_deadline(wait, cx);
        }
    }

    /// Whether broker `host` coordinates the group, by its metadata.
    fn coordinates_at(&self, host: BrokerId, meta: &Metadata) -> bool {
        meta.coordinator_for(&self.name) == Some(host)
    }

    fn token(&mut self) -> u32 {
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token
    }

    // ----- handlers -----------------------------------------------------------------------

    /// A message to the group's coordinator, delivered to broker `host`.
    pub(crate) fn on_message(
        &mut self,
        host: BrokerId,
        from: NodeId,
        msg: Msg,
        meta: &Metadata,
        cx: &mut Cx,
    ) {
        match msg {
            // Resets reach clients, and a coordinator is not one.
            Msg::ConnectionClosed { .. } | Msg::MetadataUpdate { .. } => {}
            Msg::Group {
                consumer,
                incarnation,
                req,
                ..
            } => self.on_request(host, from, consumer, incarnation, req, meta, cx),
            Msg::TxnOffsetCommit {
                txn,
                transaction,
                consumer,
                member,
                offsets,
                token,
                ..
            } => {
                let error = if self.coordinates_at(host, meta) {
                    self.load_on(host, cx);
                    let error = self.txn_offsets_fence(consumer, member);
                    if error == ErrorCode::None {
                        self.txn_offsets_pending(txn, transaction, offsets);
                    }
                    error
                } else {
                    ErrorCode::NotCoordinator
                };
                cx.send(from, Msg::TxnOffsetCommitResponse { txn, token, error });
            }
            Msg::TxnOffsetMarker {
                txn,
                transaction,
                consumer,
                commit,
                offsets,
                token,
                ..
            } => {
                let ok = self.coordinates_at(host, meta);
                if ok {
                    self.load_on(host, cx);
                    self.txn_offsets_marker(txn, transaction, consumer, commit, &offsets, cx);
                }
                cx.send(from, Msg::TxnOffsetMarkerResponse { txn, token, ok });
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
            | Msg::WriteTxnMarkerResponse { .. }
            | Msg::TxnOffsetCommitResponse { .. }
            | Msg::TxnOffsetMarkerResponse { .. }
            | Msg::Share(_)
            | Msg::Txn { .. }
            | Msg::TxnResponse { .. }
            | Msg::MetadataRequest { .. }
            | Msg::MetadataResponse { .. }
            | Msg::GroupResponse { .. } => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_request(
        &mut self,
        host: BrokerId,
        from: NodeId,
        c: ConsumerId,
        incarnation: u32,
        req: GroupRequest,
        meta: &Metadata,
        cx: &mut Cx,
    ) {
        if !self.coordinates_at(host, meta) {
            if let Some(resp) = error_response(&req, ErrorCode::NotCoordinator) {
                cx.send(from, Msg::GroupResponse { resp });
            }
            return;
        }
        self.load_on(host, cx);
        let member = self.member_index(c, incarnation);
        let g = self.id;
        match req {
            GroupRequest::Join { token, owned } => {
                self.join(from, c, incarnation, token, owned.into_vec(), cx)
            }
            GroupRequest::Sync { generation, token } => {
                let group = &self.stored;
                let (error, assignment) = match member {
                    None => (ErrorCode::UnknownMemberId, Box::from([])),
                    Some(_) if group.state == GroupState::PreparingRebalance => {
                        (ErrorCode::RebalanceInProgress, Box::from([]))
                    }
                    Some(_) if generation != group.generation => {
                        (ErrorCode::IllegalGeneration, Box::from([]))
                    }
                    Some(i) => (
                        ErrorCode::None,
                        group.members[i].assignment.clone().into_boxed_slice(),
                    ),
                };
                let generation = group.generation;
                let resp = GroupResponse::Sync {
                    generation,
                    assignment,
                    token,
                    error,
                };
                cx.send(from, Msg::GroupResponse { resp });
            }
            GroupRequest::Heartbeat { generation } => {
                let group = &self.stored;
                let error = match member {
                    None => ErrorCode::UnknownMemberId,
                    Some(_) if group.state == GroupState::PreparingRebalance => {
                        ErrorCode::RebalanceInProgress
                    }
                    Some(_) if generation != group.generation => ErrorCode::IllegalGeneration,
                    Some(_) => ErrorCode::None,
                };
                if let Some(i) = member {
                    self.arm_session_check(i, cx);
                }
                let resp = GroupResponse::Heartbeat { error };
                cx.send(from, Msg::GroupResponse { resp });
            }
            GroupRequest::Leave { reason } => {
                // The leaving process may already be gone (remove-consumer), so match the
                // consumer's newest member rather than the request's incarnation.
                let latest =
                    member.or_else(|| self.stored.members.iter().rposition(|m| m.consumer == c));
                if let Some(i) = latest {
                    self.remove_member(i, reason, cx);
                }
            }
            GroupRequest::Commit {
                generation,
                offsets,
                token,
            } => {
                // Kafka accepts commits from the current generation even while a rebalance is
                // being prepared; a member that was removed or is a generation behind fails.
                let consumer_protocol = self.spec.protocol == GroupProtocol::Consumer;
                let error = match member {
                    None => ErrorCode::UnknownMemberId,
                    // KIP-848 (`ConsumerGroup.validateOffsetCommit`): the commit carries the
                    // member epoch, which must be the member's current one.
                    Some(i) if consumer_protocol && generation != self.stored.members[i].epoch => {
                        ErrorCode::StaleMemberEpoch
                    }
                    Some(_) if consumer_protocol => ErrorCode::None,
                    Some(_) if generation != self.stored.generation => ErrorCode::IllegalGeneration,
                    Some(_) => ErrorCode::None,
                };
                if error == ErrorCode::None {
                    for &(p, offset) in offsets.iter() {
                        if let Some(i) = self.partition_index.get(p)
                            && self.stored.committed[i] != Some(offset)
                        {
                            // Only a changed offset is news; re-committing the same is silent.
                            self.stored.committed[i] = Some(offset);
                            cx.emit(Trace::OffsetCommitted {
                                group: g,
                                consumer: c,
                                partition: p,
                                offset,
                            });
                        }
                    }
                }
                let resp = GroupResponse::Commit { token, error };
                cx.send(from, Msg::GroupResponse { resp });
            }
            GroupRequest::ConsumerHeartbeat {
                member_epoch,
                owned,
                token,
            } => self.consumer_heartbeat(from, c, incarnation, member_epoch, owned, token, cx),
            GroupRequest::OffsetFetch {
                token,
                require_stable,
            } => {
                // KIP-447: with require_stable, a partition whose offsets a transaction still
                // holds (sent with TxnOffsetCommit, not yet committed or aborted) is answered
                // UNSTABLE_OFFSET_COMMIT. The partitions asked about are the member's
                // assignment (simplified: Kafka's request lists them).
                let unstable = require_stable
                    && member.is_some_and(|i| {
                        let assigned = &self.stored.members[i].assignment;
                        self.stored.txn_offsets.iter().any(|t| {
                            t.pending.as_ref().is_some_and(|pending| {
                                pending.offsets.iter().any(|(p, _)| assigned.contains(p))
                            })
                        })
                    });
                let resp = if unstable {
                    GroupResponse::OffsetFetch {
                        offsets: Box::new([]),
                        token,
                        error: ErrorCode::UnstableOffsetCommit,
                    }
                } else {
                    let offsets: Box<[(PartitionId, Option<u64>)]> = self
                        .partitions
                        .iter()
                        .copied()
                        .zip(self.stored.committed.iter().copied())
                        .collect();
                    GroupResponse::OffsetFetch {
                        offsets,
                        token,
                        error: ErrorCode::None,
                    }
                };
                cx.send(from, Msg::GroupResponse { resp });
            }
        }
    }

    /// A timer on broker `host`: it acts only if the group is still loaded there.
    pub(crate) fn on_timer(&mut self, host: BrokerId, timer: GroupTimer, cx: &mut Cx) {
        let Some(loaded) = self.loaded.on(host) else {
            return;
        };
        match timer {
            GroupTimer::JoinDeadline { token, .. } => {
                if loaded.join_deadline == Some(token)
                    && self.stored.state == GroupState::PreparingRebalance
                {
                    self.complete_join(cx);
                }
            }
            GroupTimer::SessionCheck {
                consumer, token, ..
            } => {
                let expired = self
                    .stored
                    .members
                    .iter()
                    .zip(&loaded.sessions)
                    .position(|(m, s)| m.consumer == consumer && s.timer == token);
                if let Some(i) = expired {
                    if self.spec.protocol == GroupProtocol::Consumer {
                        // KIP-848: the broker-side session expired; the member is fenced.
                        self.remove_member(i, LeaveReason::Fenced, cx);
                    } else if loaded.sessions[i].pending_join.is_some() {
                        // A member waiting in JoinGroup is kept alive (Kafka's
                        // `shouldKeepAlive` for members awaiting join).
                        self.arm_session_check(i, cx);
                    } else {
                        self.remove_member(i, LeaveReason::SessionTimeout, cx);
                    }
                }
            }
        }
    }

    /// The group's topic grew: the new partitions need owners, so a stable group rebalances
    /// (Kafka's consumers notice the new partition count at their next metadata refresh and
    /// rejoin).
    pub(crate) fn partitions_added(&mut self, added: &[PartitionId], cx: &mut Cx) {
        for &p in added {
            self.partition_index.push(p, self.partitions.len());
            self.partitions.push(p);
            self.stored.committed.push(None);
        }
        if self.spec.protocol == GroupProtocol::Consumer {
            if !self.stored.members.is_empty() {
                self.bump_group_epoch(cx);
            }
        } else if self.stored.state == GroupState::Stable {
            self.prepare_rebalance(self.spec.max_poll_interval_ms, cx);
        }
    }

    // ----- membership and rebalances ------------------------------------------------------

    fn member_index(&self, c: ConsumerId, incarnation: u32) -> Option<usize> {
        let stat = self.spec.static_membership;
        self.stored
            .members
            .iter()
            .position(|m| m.consumer == c && (stat || m.incarnation == incarnation))
    }

    fn join(
        &mut self,
        from: NodeId,
        c: ConsumerId,
        incarnation: u32,
        token: u32,
        owned: Vec<PartitionId>,
        cx: &mut Cx,
    ) {
        let now_stable = self.stored.state == GroupState::Stable;
        let existing = self.member_index(c, incarnation);
        if let (Some(i), true, true) = (existing, self.spec.static_membership, now_stable) {
            // A static member coming back within its session: same assignment, no rebalance.
            self.stored.members[i].incarnation = incarnation;
            let generation = self.stored.generation;
            self.arm_session_check(i, cx);
            let resp = GroupResponse::Join {
                generation,
                token,
                error: ErrorCode::None,
            };
            cx.send(from, Msg::GroupResponse { resp });
            return;
        }
        let i = match existing {
            Some(i) => i,
            None => {
                self.stored.members.push(Member::new(c, incarnation));
                if let Some(l) = self.loaded.get_mut() {
                    l.sessions.push(Session::default());
                }
                cx.emit(Trace::MemberJoined {
                    group: self.id,
                    consumer: c,
                });
                self.stored.members.len() - 1
            }
        };
        self.stored.members[i].joined = true;
        self.stored.members[i].owned = owned;
        if let Some(l) = self.loaded.get_mut() {
            l.sessions[i].pending_join = Some((from, token));
        }
        self.arm_session_check(i, cx);
        match self.stored.state {
            GroupState::Empty => {
                let delay = cx.settings().group_initial_rebalance_delay_ms;
                self.prepare_rebalance(delay, cx);
            }
            GroupState::Stable => self.prepare_rebalance(self.spec.max_poll_interval_ms, cx),
            GroupState::PreparingRebalance => match self.stored.initial_delay_cap {
                // Each new member extends the initial delay, up to the rebalance timeout.
                Some(cap) if existing.is_none() => {
                    let delay = cx.settings().group_initial_rebalance_delay_ms * 1000;
                    let wait = delay.min(cap.0.saturating_sub(cx.now().0));
                    self.arm_join_deadline_us(wait, cx);
                }
                Some(_) => {}
                None => self.maybe_complete_join(cx),
            },
        }
    }

    fn prepare_rebalance(&mut self, deadline_ms: u64, cx: &mut Cx) {
        let initial = self.stored.state == GroupState::Empty;
        self.stored.state = GroupState::PreparingRebalance;
        if initial {
            self.stored.initial_delay_cap = Some(cx.now().plus_ms(self.spec.max_poll_interval_ms));
        } else {
            // Everyone must rejoin, except members whose JoinGroup is already parked.
            for (i, m) in self.stored.members.iter_mut().enumerate() {
                let parked = self
                    .loaded
                    .get()
                    .is_some_and(|l| l.sessions[i].pending_join.is_some());
                if !parked {
                    m.joined = false;
                }
            }
        }
        cx.emit(Trace::RebalanceStarted {
            group: self.id,
            generation: self.stored.generation + 1,
        });
        self.arm_join_deadline(deadline_ms, cx);
        if !initial {
            self.maybe_complete_join(cx);
        }
    }

    fn arm_join_deadline(&mut self, ms: u64, cx: &mut Cx) {
        self.arm_join_deadline_us(ms * 1000, cx);
    }

    /// Replace the pending join deadline (if the group is loaded; otherwise its next host arms
    /// one when it loads it).
    fn arm_join_deadline_us(&mut self, us: u64, cx: &mut Cx) {
        if self.loaded.get().is_none() {
            return;
        }
        let token = self.token();
        let loaded = self.loaded.get_mut().expect("loaded");
        loaded.join_deadline = Some(token);
        let group = self.id;
        cx.set_timer(
            us,
            Timer::GroupCoordinator(GroupTimer::JoinDeadline { group, token }),
        );
    }

    fn maybe_complete_join(&mut self, cx: &mut Cx) {
        if self.stored.state == GroupState::PreparingRebalance
            && self.stored.members.iter().all(|m| m.joined)
        {
            self.complete_join(cx);
        }
    }

    fn complete_join(&mut self, cx: &mut Cx) {
        let g = self.id;
        // Members that did not rejoin in time are dropped.
        let mut i = 0;
        while i < self.stored.members.len() {
            if !self.stored.members[i].joined {
                let c = self.remove_member_at(i).consumer;
                cx.emit(Trace::MemberRemoved {
                    group: g,
                    consumer: c,
                    reason: LeaveReason::RebalanceTimeout,
                });
            } else {
                i += 1;
            }
        }
        if let Some(l) = self.loaded.get_mut() {
            l.join_deadline = None;
        }
        self.stored.initial_delay_cap = None;
        if self.stored.members.is_empty() {
            self.stored.state = GroupState::Empty;
            return;
        }
        self.stored.generation += 1;
        self.stored.state = GroupState::Stable;
        let cooperative = self.spec.assignor == Assignor::CooperativeSticky;
        if cooperative {
            // KIP-429: the CooperativeStickyAssignor starts from what each member says it owns
            // in its JoinGroup subscription, not from the last assignment sent.
            claim_owned(&mut self.stored.members);
        }
        assign(
            self.spec.assignor,
            &self.partitions,
            &mut self.stored.members,
        );
        let withheld = if cooperative {
            withhold_moving(&mut self.stored.members)
        } else {
            Vec::new()
        };
        let generation = self.stored.generation;
        let assignment: Box<[(ConsumerId, Box<[PartitionId]>)]> = self
            .stored
            .members
            .iter()
            .map(|m| (m.consumer, m.assignment.clone().into_boxed_slice()))
            .collect();
        cx.emit(Trace::Rebalanced {
            group: g,
            generation,
            assignment,
        });
        if !withheld.is_empty() {
            cx.emit(Trace::PartitionsWithheld {
                group: g,
                generation,
                partitions: withheld.into_boxed_slice(),
            });
        }
        for i in 0..self.stored.members.len() {
            // Completing the join starts every member's session afresh.
            self.arm_session_check(i, cx);
            self.stored.members[i].joined = false;
            let parked = self
                .loaded
                .get_mut()
                .and_then(|l| l.sessions[i].pending_join.take());
            if let Some((to, token)) = parked {
                let resp = GroupResponse::Join {
                    generation,
                    token,
                    error: ErrorCode::None,
                };
                cx.send(to, Msg::GroupResponse { resp });
            }
        }
    }

    /// (Re)start a member's session: it expires unless the member is heard from again within
    /// `session.timeout.ms`.
    fn arm_session_check(&mut self, i: usize, cx: &mut Cx) {
        if self.loaded.get().is_none() {
            return;
        }
        let token = self.token();
        let loaded = self.loaded.get_mut().expect("loaded");
        loaded.sessions[i].timer = token;
        let timer = GroupTimer::SessionCheck {
            group: self.id,
            consumer: self.stored.members[i].consumer,
            token,
        };
        let session = match self.spec.protocol {
            GroupProtocol::Classic => self.spec.session_timeout_ms,
            GroupProtocol::Consumer => CONSUMER_SESSION_TIMEOUT_MS,
        };
        cx.set_timer_ms(session, Timer::GroupCoordinator(timer));
    }

    /// Drop member `i` and its session.
    fn remove_member_at(&mut self, i: usize) -> Member {
        if let Some(l) = self.loaded.get_mut() {
            l.sessions.remove(i);
        }
        self.stored.members.remove(i)
    }

    fn remove_member(&mut self, i: usize, reason: LeaveReason, cx: &mut Cx) {
        let m = self.remove_member_at(i);
        cx.emit(Trace::MemberRemoved {
            group: self.id,
            consumer: m.consumer,
            reason,
        });
        let empty = self.stored.members.is_empty();
        if self.spec.protocol == GroupProtocol::Consumer {
            if empty {
                self.stored.state = GroupState::Empty;
            } else {
                self.bump_group_epoch(cx);
            }
            return;
        }
        match self.stored.state {
            GroupState::Stable if empty => self.stored.state = GroupState::Empty,
            GroupState::Stable => self.prepare_rebalance(self.spec.max_poll_interval_ms, cx),
            GroupState::PreparingRebalance if empty => {
                self.stored.state = GroupState::Empty;
                if let Some(l) = self.loaded.get_mut() {
                    l.join_deadline = None;
                }
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(cx),
            GroupState::Empty => {}
        }
    }

    // ----- the consumer group protocol (KIP-848) -----------------------------------------
    //
    // `GroupMetadataManager.consumerGroupHeartbeat` and `CurrentAssignmentBuilder`, simplified:
    // the target assignment is computed at once on every group epoch bump (Kafka may compute
    // it asynchronously, and its assignment epoch can trail the group epoch); members always
    // send their owned partitions (Kafka's client sends them only when they changed); a member
    // is one topic's subscriber (the group's topic), with no regex subscriptions or rack
    // awareness.

    /// A `ConsumerGroupHeartbeat` from consumer `c`.
    #[allow(clippy::too_many_arguments)]
    fn consumer_heartbeat(
        &mut self,
        from: NodeId,
        c: ConsumerId,
        incarnation: u32,
        member_epoch: i32,
        owned: Box<[PartitionId]>,
        token: u32,
        cx: &mut Cx,
    ) {
        let member = self.member_index(c, incarnation);
        let respond = |epoch: u32, assignment: Vec<PartitionId>, error, cx: &mut Cx| {
            let resp = GroupResponse::ConsumerHeartbeat {
                member_epoch: epoch,
                assignment: assignment.into_boxed_slice(),
                heartbeat_interval_ms: CONSUMER_HEARTBEAT_INTERVAL_MS,
                token,
                error,
            };
            cx.send(from, Msg::GroupResponse { resp });
        };
        let i = match (member_epoch, member) {
            // Epoch -1 leaves the group (`LEAVE_GROUP_MEMBER_EPOCH`); no answer is awaited.
            (-1, Some(i)) => {
                self.remove_member(i, LeaveReason::Left, cx);
                return;
            }
            (-1, None) => return,
            // Epoch 0 joins (or re-sends a join whose answer was lost).
            (0, Some(i)) => i,
            (0, None) => {
                self.stored.members.push(Member {
                    joined: true,
                    ..Member::new(c, incarnation)
                });
                if let Some(l) = self.loaded.get_mut() {
                    l.sessions.push(Session::default());
                }
                self.stored.state = GroupState::Stable;
                let i = self.stored.members.len() - 1;
                self.bump_group_epoch_quietly();
                cx.emit(Trace::MemberJoinedEpoch {
                    group: self.id,
                    consumer: c,
                    group_epoch: self.stored.generation,
                });
                self.emit_target(cx);
                i
            }
            (_, None) => return respond(0, Vec::new(), ErrorCode::UnknownMemberId, cx),
            (e, Some(i)) => {
                let m = &self.stored.members[i];
                // Simplification: the previous epoch is accepted as is. Kafka's
                // `throwIfMemberEpochIsInvalid` accepts it only if the owned partitions are a
                // subset of the member's assignment (a lost response), else fences the member.
                if e as u32 != m.epoch && e as u32 != m.previous_epoch {
                    return respond(0, Vec::new(), ErrorCode::FencedMemberEpoch, cx);
                }
                i
            }
        };
        self.arm_session_check(i, cx);
        self.stored.members[i].owned = owned.into_vec();
        self.reconcile(i, cx);
        let m = &self.stored.members[i];
        respond(m.epoch, m.assignment.clone(), ErrorCode::None, cx);
    }

    /// Bump the group epoch and compute the target assignment for it (membership changed).
    fn bump_group_epoch(&mut self, cx: &mut Cx) {
        self.bump_group_epoch_quietly();
        self.emit_target(cx);
    }

    fn bump_group_epoch_quietly(&mut self) {
        self.stored.generation += 1;
        let assignor = match self.spec.remote_assignor {
            // The UniformAssignor (KIP-848) is balanced and sticky, as the sticky assignor is.
            RemoteAssignor::Uniform => Assignor::Sticky,
            RemoteAssignor::Range => Assignor::Range,
        };
        let mut targets: Vec<Member> = self.stored.members.clone();
        for t in &mut targets {
            t.assignment = std::mem::take(&mut t.target);
        }
        assign(assignor, &self.partitions, &mut targets);
        for (m, t) in self.stored.members.iter_mut().zip(targets) {
            m.target = t.assignment;
        }
    }

    fn emit_target(&self, cx: &mut Cx) {
        let assignment = self
            .stored
            .members
            .iter()
            .map(|m| (m.consumer, m.target.clone().into_boxed_slice()))
            .collect();
        cx.emit(Trace::TargetAssignment {
            group: self.id,
            epoch: self.stored.generation,
            assignment,
        });
    }

    /// Move member `i` one step toward its target (`CurrentAssignmentBuilder`): first revoke
    /// what it must give up, keeping its epoch; once its heartbeat no longer lists them, move
    /// it to the group epoch with its target, less the partitions another member has not
    /// released yet (those follow at a later heartbeat, once free).
    fn reconcile(&mut self, i: usize, cx: &mut Cx) {
        let group_epoch = self.stored.generation;
        let m = &mut self.stored.members[i];
        if !m.revoking.is_empty() {
            if m.owned.iter().any(|p| m.revoking.contains(p)) {
                return; // UNREVOKED_PARTITIONS: still waiting for the member.
            }
            m.revoking.clear();
        }
        if m.epoch != group_epoch {
            let revoke: Vec<PartitionId> = m
                .assignment
                .iter()
                .copied()
                .filter(|p| !m.target.contains(p))
                .collect();
            if !revoke.is_empty() {
                m.assignment.retain(|p| m.target.contains(p));
                m.revoking = revoke.clone();
                cx.emit(Trace::RevokeAsked {
                    group: self.id,
                    consumer: m.consumer,
                    member_epoch: m.epoch,
                    partitions: revoke.into_boxed_slice(),
                });
                return;
            }
        }
        // Give it every target partition no other member still holds or is revoking.
        let held = |p: PartitionId, members: &[Member]| {
            members
                .iter()
                .enumerate()
                .any(|(j, o)| j != i && (o.assignment.contains(&p) || o.revoking.contains(&p)))
        };
        let free: Vec<PartitionId> = self.stored.members[i]
            .target
            .iter()
            .copied()
            .filter(|&p| !held(p, &self.stored.members))
            .collect();
        let m = &mut self.stored.members[i];
        let new_epoch = m.epoch != group_epoch;
        let grew = free.iter().any(|p| !m.assignment.contains(p));
        if new_epoch {
            m.previous_epoch = m.epoch;
            m.epoch = group_epoch;
        }
        if new_epoch || grew {
            m.assignment = free;
            cx.emit(Trace::EpochAssigned {
                group: self.id,
                consumer: m.consumer,
                member_epoch: m.epoch,
                partitions: m.assignment.clone().into_boxed_slice(),
            });
        }
    }

    // ----- transactional offsets (KIP-447) ------------------------------------------------

    fn txn_offsets_of(&mut self, txn: u32) -> &mut TxnOffsets {
        let all = &mut self.stored.txn_offsets;
        let i = match all.iter().position(|t| t.txn == txn) {
            Some(i) => i,
            None => {
                all.push(TxnOffsets {
                    txn,
                    resolved: 0,
                    pending: None,
                });
                all.len() - 1
            }
        };
        &mut all[i]
    }

    /// A transaction carries offsets for this group (`sendOffsetsToTransaction`): they are
    /// pending until its marker.
    /// KIP-447 (`GroupMetadata.validateOffsetCommit` for TxnOffsetCommit v3+): offsets sent with
    /// a transaction by a member that has left the group (UNKNOWN_MEMBER_ID) or by a generation
    /// the group has moved past (ILLEGAL_GENERATION) are refused: a zombie cannot commit the
    /// input of partitions a new owner now reads. KIP-848 groups check the member epoch
    /// (STALE_MEMBER_EPOCH). Simplification: a static member fenced by its replacement gets
    /// UNKNOWN_MEMBER_ID here rather than FENCED_INSTANCE_ID.
    fn txn_offsets_fence(&self, consumer: ConsumerId, member: GroupMetadata) -> ErrorCode {
        let Some(i) = self.member_index(consumer, member.incarnation) else {
            return ErrorCode::UnknownMemberId;
        };
        if self.spec.protocol == GroupProtocol::Consumer {
            if member.generation != self.stored.members[i].epoch {
                return ErrorCode::StaleMemberEpoch;
            }
        } else if member.generation != self.stored.generation {
            return ErrorCode::IllegalGeneration;
        }
        ErrorCode::None
    }

    fn txn_offsets_pending(
        &mut self,
        txn: u32,
        transaction: u32,
        offsets: Box<[(PartitionId, u64)]>,
    ) {
        let t = self.txn_offsets_of(txn);
        if transaction > t.resolved {
            t.pending = Some(PendingOffsets {
                transaction,
                offsets,
            });
        }
    }

    /// A transaction's marker: its offsets become committed (COMMIT) or its pending ones are
    /// dropped (ABORT). A marker sent again is applied once.
    fn txn_offsets_marker(
        &mut self,
        txn: u32,
        transaction: u32,
        consumer: ConsumerId,
        commit: bool,
        offsets: &[(PartitionId, u64)],
        cx: &mut Cx,
    ) {
        let t = self.txn_offsets_of(txn);
        if transaction <= t.resolved {
            return;
        }
        t.resolved = transaction;
        if t.pending
            .as_ref()
            .is_some_and(|p| p.transaction <= transaction)
        {
            t.pending = None;
        }
        if !commit {
            return;
        }
        for &(p, offset) in offsets {
            if let Some(i) = self.partition_index.get(p) {
                self.stored.committed[i] = Some(offset);
                cx.emit(Trace::OffsetCommitted {
                    group: self.id,
                    consumer,
                    partition: p,
                    offset,
                });
            }
        }
    }
}

/// KIP-429: each member's previous assignment, for the assignor, is what it owned when it
/// joined. A partition two members claim (which the client's revocation before a rejoin after a
/// lost generation prevents) stays with the first claimant, in member order: simplified, Kafka's
/// `AbstractStickyAssignor` keeps it with the claimant of the highest generation.
fn claim_owned(members: &mut [Member]) {
    let mut claimed: Vec<PartitionId> = Vec::new();
    for m in members.iter_mut() {
        m.assignment.clear();
        for &p in &m.owned {
            if !claimed.contains(&p) {
                claimed.push(p);
                m.assignment.push(p);
            }
        }
    }
}

/// KIP-429 (`CooperativeStickyAssignor`, `AbstractStickyAssignor`): a partition the balanced
/// target gives to a member other than the one that owns it now is withheld from this
/// generation's assignment, so its owner revokes it first; the owner then rejoins and the next
/// rebalance assigns it. Returns the withheld partitions, sorted.
fn withhold_moving(members: &mut [Member]) -> Vec<PartitionId> {
    let owner =
        |p: PartitionId, members: &[Member]| members.iter().position(|m| m.owned.contains(&p));
    let mut withheld = Vec::new();
    for i in 0..members.len() {
        let target = std::mem::take(&mut members[i].assignment);
        let (keep, moving): (Vec<PartitionId>, Vec<PartitionId>) = target
            .into_iter()
            .partition(|&p| owner(p, members).is_none_or(|o| o == i));
        members[i].assignment = keep;
        withheld.extend(moving);
    }
    withheld.sort();
    withheld
}

/// Compute the assignment for the group's current members.
fn assign(assignor: Assignor, parts: &[PartitionId], members: &mut [Member]) {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| (members[i].consumer, members[i].incarnation));
    let n = order.len();
    let previous: Vec<Vec<PartitionId>> = members.iter().map(|m| m.assignment.clone()).collect();
    for m in members.iter_mut() {
        m.assignment.clear();
    }
    match assignor {
        Assignor::Range => {
            // RangeAssignor: contiguous ranges, the first members get one extra.
            let per = parts.len() / n;
            let extra = parts.len() % n;
            let mut next = 0;
            for (k, &i) in order.iter().enumerate() {
                let take = per + usize::from(k < extra);
                members[i].assignment = parts[next..next + take].to_vec();
                next += take;
            }
        }
        Assignor::Roundrobin => {
            for (j, &p) in parts.iter().enumerate() {
                members[order[j % n]].assignment.push(p);
            }
        }
        Assignor::Sticky | Assignor::CooperativeSticky => {
            // AbstractStickyAssignor (KIP-54, KIP-429), every member subscribed to the topic:
            // balance first (counts differ by at most one: `min` or `min + 1`, the latter for
            // exactly `len % n` members), then stickiness. Each member keeps up to its quota of
            // what it owned, in member order; the rest go to the least loaded member.
            let min = parts.len() / n;
            let mut max_slots = parts.len() % n;
            let mut owned = vec![false; parts.len()];
            for &i in &order {
                let quota = if max_slots > 0 && previous[i].len() > min {
                    max_slots -= 1;
                    min + 1
                } else {
                    min
                };
                for &p in &previous[i] {
                    if let Some(j) = parts.iter().position(|&x| x == p)
                        && !owned[j]
                        && members[i].assignment.len() < quota
                    {
                        owned[j] = true;
                        members[i].assignment.push(p);
                    }
                }
            }
            for (j, &p) in parts.iter().enumerate() {
                if !owned[j] {
                    let &i = order
                        .iter()
                        .min_by_key(|&&i| members[i].assignment.len())
                        .expect("members");
                    members[i].assignment.push(p);
                }
            }
            for m in members.iter_mut() {
                m.assignment.sort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::controller::Controller;
    use crate::sim::coordinator::coordinator_for;
    use crate::sim::cx::testkit::{advance_to, kernel, pop_timer, take_sent, take_trace, timers};
    use crate::sim::{Kernel, NodeKind};

    const G: GroupId = GroupId(0);
    const C1: ConsumerId = ConsumerId(0);
    const C2: ConsumerId = ConsumerId(1);
    const P0: PartitionId = PartitionId(0);
    const P1: PartitionId = PartitionId(1);
    /// Consumers' nodes: three brokers and the controller come first.
    const N1: NodeId = NodeId(4);
    const N2: NodeId = NodeId(5);

    fn spec() -> GroupConfig {
        GroupConfig {
            consumers: 2,
            max_attempts: 1,
            session_timeout_ms: 10_000,
            ..GroupConfig::for_tests()
        }
    }

    /// A partition's committed offset, as OffsetFetch answers it.
    type Offset = (PartitionId, Option<u64>);

    /// One group coordinator on a three-broker cluster, and the two consumers' nodes.
    struct World {
        k: Kernel,
        controller: Controller,
        g: GroupCoordinator,
        host: BrokerId,
        tokens: u32,
    }

    fn world(configure: impl FnOnce(&mut GroupConfig)) -> World {
        let k = kernel(&[
            NodeKind::Broker(BrokerId(0)),
            NodeKind::Broker(BrokerId(1)),
            NodeKind::Broker(BrokerId(2)),
            NodeKind::Controller,
            NodeKind::Consumer(C1),
            NodeKind::Consumer(C2),
        ]);
        let controller = Controller::new(3);
        let mut spec = spec();
        configure(&mut spec);
        let host = coordinator_for(&spec.name, &controller.brokers).expect("a coordinator");
        let g = GroupCoordinator::new(G, &spec, vec![P0, P1]);
        World {
            k,
            controller,
            g,
            host,
            tokens: 0,
        }
    }

    fn node(c: ConsumerId) -> NodeId {
        if c == C1 { N1 } else { N2 }
    }

    impl World {
        /// Deliver `msg` from `from` to broker `at`.
        fn deliver_at(&mut self, at: BrokerId, from: NodeId, msg: Msg) {
            let cache = MetadataCache::of(&self.controller);
            let meta = Metadata::new(&cache);
            let cx = &mut Cx::new(&mut self.k, NodeId(at.0));
            self.g.on_message(at, from, msg, &meta, cx);
        }

        /// A request from consumer `c` (process incarnation `incarnation`) to the coordinator.
        fn request_as(&mut self, c: ConsumerId, incarnation: u32, req: GroupRequest) {
            let msg = Msg::Group {
                group: G,
                consumer: c,
                incarnation,
                req,
            };
            self.deliver_at(self.host, node(c), msg);
        }

        fn request(&mut self, c: ConsumerId, req: GroupRequest) {
            self.request_as(c, 0, req);
        }

        fn join(&mut self, c: ConsumerId) {
            self.tokens += 1;
            let token = self.tokens;
            self.request(
                c,
                GroupRequest::Join {
                    token,
                    owned: Box::new([]),
                },
            );
        }

        /// Run the coordinator's timers due by `t`, then move the clock to `t`.
        fn run_until(&mut self, t: SimTime) {
            while let Some((node, timer)) = pop_timer(&mut self.k, t) {
                let Timer::GroupCoordinator(timer) = timer else {
                    panic!("not a coordinator timer: {timer:?}");
                };
                let cx = &mut Cx::new(&mut self.k, node);
                self.g.on_timer(BrokerId(node.0), timer, cx);
            }
            advance_to(&mut self.k, t);
        }

        /// What happened since the last call, leaving out the messages sent.
        fn events(&mut self) -> Vec<Trace> {
            take_trace(&mut self.k)
                .into_iter()
                .filter(|t| !matches!(t, Trace::Sent { .. }))
                .collect()
        }

        /// The responses sent so far, with where they went.
        fn responses(&mut self) -> Vec<(NodeId, GroupResponse)> {
            take_sent(&mut self.k)
                .into_iter()
                .filter_map(|(_, to, msg)| match msg {
                    Msg::GroupResponse { resp } => Some((to, resp)),
                    _ => None,
                })
                .collect()
        }

        /// C1 and C2 join and the first generation completes.
        fn form_generation(&mut self) {
            self.join(C1);
            self.join(C2);
            let delay = self.k.settings.group_initial_rebalance_delay_ms;
            self.run_until(SimTime::from_ms(delay + 1));
            assert_eq!(self.g.state(), GroupState::Stable);
            self.responses();
            self.events();
        }

        fn assignment(&self, c: ConsumerId) -> Vec<PartitionId> {
            let m = self.g.members().iter().find(|m| m.consumer == c);
            m.expect("a member").assignment.clone()
        }

        fn sync(&mut self, c: ConsumerId, generation: u32) -> (Box<[PartitionId]>, ErrorCode) {
            self.request(
                c,
                GroupRequest::Sync {
                    generation,
                    token: 99,
                },
            );
            match self.responses().pop() {
                Some((
                    _,
                    GroupResponse::Sync {
                        assignment, error, ..
                    },
                )) => (assignment, error),
                other => panic!("no SyncGroup answer: {other:?}"),
            }
        }

        fn heartbeat(&mut self, c: ConsumerId, generation: u32) -> ErrorCode {
            self.request(c, GroupRequest::Heartbeat { generation });
            match self.responses().pop() {
                Some((_, GroupResponse::Heartbeat { error })) => error,
                other => panic!("no Heartbeat answer: {other:?}"),
            }
        }

        fn commit(
            &mut self,
            c: ConsumerId,
            generation: u32,
            offsets: &[(PartitionId, u64)],
        ) -> ErrorCode {
            self.request(
                c,
                GroupRequest::Commit {
                    generation,
                    offsets: offsets.into(),
                    token: 7,
                },
            );
            match self.responses().pop() {
                Some((_, GroupResponse::Commit { error, .. })) => error,
                other => panic!("no OffsetCommit answer: {other:?}"),
            }
        }

        fn offset_fetch(
            &mut self,
            c: ConsumerId,
            require_stable: bool,
        ) -> (Box<[Offset]>, ErrorCode) {
            self.request(
                c,
                GroupRequest::OffsetFetch {
                    token: 8,
                    require_stable,
                },
            );
            match self.responses().pop() {
                Some((_, GroupResponse::OffsetFetch { offsets, error, .. })) => (offsets, error),
                other => panic!("no OffsetFetch answer: {other:?}"),
            }
        }
    }

    #[test]
    fn two_joins_complete_one_generation_with_both_assigned() {
        let mut w = world(|_| {});
        w.join(C1);
        w.join(C2);
        assert!(
            w.responses().is_empty(),
            "the join waits for the initial delay"
        );
        w.run_until(SimTime::from_ms(10_000));
        let joined: Vec<(NodeId, u32, ErrorCode)> = w
            .responses()
            .into_iter()
            .map(|(to, r)| match r {
                GroupResponse::Join {
                    generation, error, ..
                } => (to, generation, error),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(joined, [(N1, 1, ErrorCode::None), (N2, 1, ErrorCode::None)]);
        let (a1, e1) = w.sync(C1, 1);
        let (a2, e2) = w.sync(C2, 1);
        assert_eq!((e1, e2), (ErrorCode::None, ErrorCode::None));
        assert_eq!(a1.len(), 1);
        assert_eq!(a2.len(), 1);
        let mut all: Vec<PartitionId> = a1.iter().chain(a2.iter()).copied().collect();
        all.sort();
        assert_eq!(all, [P0, P1], "every partition has exactly one owner");
        let rebalanced = w
            .events()
            .into_iter()
            .filter(|t| matches!(t, Trace::Rebalanced { generation: 1, .. }))
            .count();
        assert_eq!(rebalanced, 1);
    }

    #[test]
    fn the_first_join_of_an_empty_group_waits_the_initial_rebalance_delay() {
        let mut w = world(|_| {});
        w.k.settings.group_initial_rebalance_delay_ms = 1234;
        w.join(C1);
        let deadlines: Vec<SimTime> = timers(&mut w.k)
            .into_iter()
            .filter(|(_, _, t)| {
                matches!(t, Timer::GroupCoordinator(GroupTimer::JoinDeadline { .. }))
            })
            .map(|(at, _, _)| at)
            .collect();
        assert_eq!(deadlines, [SimTime::from_ms(1234)]);
        w.run_until(SimTime::from_ms(1233));
        assert!(w.responses().is_empty());
        assert_eq!(w.g.state(), GroupState::PreparingRebalance);
        w.run_until(SimTime::from_ms(1234));
        assert!(matches!(
            w.responses()[..],
            [(
                N1,
                GroupResponse::Join {
                    generation: 1,
                    error: ErrorCode::None,
                    ..
                }
            )]
        ));
        assert_eq!(w.g.state(), GroupState::Stable);
    }

    #[test]
    fn a_silent_member_is_removed_after_the_session_timeout_and_a_rebalance_starts() {
        let mut w = world(|s| s.session_timeout_ms = 10_000);
        w.form_generation();
        // The generation formed when the initial delay ended.
        let formed = SimTime::from_ms(w.k.settings.group_initial_rebalance_delay_ms);
        // C1 heartbeats every 3 s; C2 is never heard from again.
        for i in 1..=3 {
            w.run_until(formed.plus_ms(3_000 * i));
            assert_eq!(w.heartbeat(C1, 1), ErrorCode::None);
        }
        w.run_until(formed.plus_ms(9_999));
        assert_eq!(w.g.members().len(), 2, "C2's session has not expired yet");
        w.run_until(formed.plus_ms(10_000));
        let trace = w.events();
        assert!(trace.contains(&Trace::MemberRemoved {
            group: G,
            consumer: C2,
            reason: LeaveReason::SessionTimeout,
        }));
        assert!(trace.contains(&Trace::RebalanceStarted {
            group: G,
            generation: 2,
        }));
        assert_eq!(w.g.state(), GroupState::PreparingRebalance);
        let members: Vec<ConsumerId> = w.g.members().iter().map(|m| m.consumer).collect();
        assert_eq!(members, [C1]);
    }

    /// KIP-429: the cooperative assignor withholds a partition that moves until its owner has
    /// rejoined without it; the eager sticky assignor hands it over at once.
    #[test]
    fn a_cooperative_rebalance_withholds_a_moving_partition_until_it_is_revoked() {
        for assignor in [Assignor::CooperativeSticky, Assignor::Sticky] {
            let mut w = world(|s| s.assignor = assignor);
            let join = |w: &mut World, c: ConsumerId, owned: &[PartitionId]| {
                w.request(
                    c,
                    GroupRequest::Join {
                        token: 1,
                        owned: owned.into(),
                    },
                )
            };
            join(&mut w, C1, &[]);
            let delay = w.k.settings.group_initial_rebalance_delay_ms;
            w.run_until(SimTime::from_ms(delay + 1));
            assert_eq!(w.assignment(C1), [P0, P1]);
            w.events();
            // C2 joins; C1 rejoins owning both.
            join(&mut w, C2, &[]);
            join(&mut w, C1, &[P0, P1]);
            assert_eq!(w.g.generation(), 2);
            let withheld: Vec<Trace> = w
                .events()
                .into_iter()
                .filter(|t| matches!(t, Trace::PartitionsWithheld { .. }))
                .collect();
            if assignor == Assignor::Sticky {
                assert_eq!((w.assignment(C1), w.assignment(C2)), (vec![P0], vec![P1]));
                assert!(withheld.is_empty());
                continue;
            }
            assert_eq!((w.assignment(C1), w.assignment(C2)), (vec![P0], vec![]));
            assert_eq!(
                withheld,
                [Trace::PartitionsWithheld {
                    group: G,
                    generation: 2,
                    partitions: Box::new([P1]),
                }]
            );
            // C1 revoked orders/1 and rejoins; C2 follows: generation 3 hands orders/1 over.
            join(&mut w, C1, &[P0]);
            assert_eq!(w.g.state(), GroupState::PreparingRebalance);
            join(&mut w, C2, &[]);
            assert_eq!(w.g.generation(), 3);
            assert_eq!((w.assignment(C1), w.assignment(C2)), (vec![P0], vec![P1]));
        }
    }

    /// KIP-429: a partition whose owner has left the group has no owner to revoke it, so the
    /// cooperative assignor gives it out in the same rebalance.
    #[test]
    fn a_cooperative_rebalance_assigns_a_departed_members_partition_at_once() {
        let mut w = world(|s| s.assignor = Assignor::CooperativeSticky);
        w.form_generation();
        let (a1, a2) = (w.assignment(C1), w.assignment(C2));
        assert_eq!((a1.len(), a2.len()), (1, 1));
        w.request(
            C2,
            GroupRequest::Leave {
                reason: LeaveReason::Left,
            },
        );
        w.request(
            C1,
            GroupRequest::Join {
                token: 5,
                owned: a1.into(),
            },
        );
        assert_eq!(w.g.generation(), 2);
        assert_eq!(w.assignment(C1), [P0, P1]);
        assert!(
            !w.events()
                .iter()
                .any(|t| matches!(t, Trace::PartitionsWithheld { .. }))
        );
    }

    #[test]
    fn a_static_member_that_rejoins_keeps_its_assignment() {
        let mut w = world(|s| s.static_membership = true);
        w.form_generation();
        let before = w.assignment(C1);
        // C1's process restarts (a new incarnation) and joins again within its session.
        w.request_as(
            C1,
            1,
            GroupRequest::Join {
                token: 50,
                owned: Box::new([]),
            },
        );
        assert!(matches!(
            w.responses()[..],
            [(
                N1,
                GroupResponse::Join {
                    generation: 1,
                    error: ErrorCode::None,
                    token: 50
                }
            )]
        ));
        assert_eq!(w.g.state(), GroupState::Stable);
        assert!(
            !w.events()
                .iter()
                .any(|t| matches!(t, Trace::RebalanceStarted { .. })),
            "no rebalance"
        );
        let (after, error) = w.sync(C1, 1);
        assert_eq!(error, ErrorCode::None);
        assert_eq!(after[..], before[..]);
    }

    #[test]
    fn a_restarted_dynamic_member_is_a_new_member_and_causes_a_rebalance() {
        let mut w = world(|_| {});
        w.form_generation();
        w.request_as(
            C1,
            1,
            GroupRequest::Join {
                token: 50,
                owned: Box::new([]),
            },
        );
        assert_eq!(w.g.state(), GroupState::PreparingRebalance);
        assert!(w.events().contains(&Trace::MemberJoined {
            group: G,
            consumer: C1,
        }));
    }

    #[test]
    fn a_commit_with_a_stale_generation_is_refused() {
        let mut w = world(|_| {});
        w.form_generation();
        // C2 leaves; C1 rejoins and generation 2 forms without it.
        w.request(
            C2,
            GroupRequest::Leave {
                reason: LeaveReason::Left,
            },
        );
        w.join(C1);
        assert_eq!(w.g.generation(), 2);
        assert_eq!(w.commit(C1, 1, &[(P0, 5)]), ErrorCode::IllegalGeneration);
        assert_eq!(w.g.committed(), [None, None]);
        assert_eq!(w.commit(C1, 2, &[(P0, 5)]), ErrorCode::None);
        assert_eq!(w.g.committed(), [Some(5), None]);
        // The member that left is unknown.
        assert_eq!(w.commit(C2, 2, &[(P1, 5)]), ErrorCode::UnknownMemberId);
    }

    #[test]
    fn offset_fetch_returns_the_committed_offsets() {
        let mut w = world(|_| {});
        w.form_generation();
        assert_eq!(
            w.offset_fetch(C1, false),
            (Box::from([(P0, None), (P1, None)]), ErrorCode::None)
        );
        assert_eq!(w.commit(C1, 1, &[(P0, 5), (P1, 7)]), ErrorCode::None);
        assert_eq!(
            w.offset_fetch(C2, false),
            (Box::from([(P0, Some(5)), (P1, Some(7))]), ErrorCode::None)
        );
        let committed = w
            .events()
            .into_iter()
            .filter(|t| matches!(t, Trace::OffsetCommitted { .. }))
            .count();
        assert_eq!(committed, 2);
        // The same offsets again are not news.
        assert_eq!(w.commit(C1, 1, &[(P0, 5)]), ErrorCode::None);
        assert!(w.events().is_empty());
    }

    #[test]
    fn a_heartbeat_during_a_rebalance_gets_rebalance_in_progress() {
        let mut w = world(|_| {});
        w.join(C1);
        w.run_until(SimTime::from_ms(5_000));
        assert_eq!(w.g.state(), GroupState::Stable);
        assert_eq!(w.heartbeat(C1, 1), ErrorCode::None);
        w.join(C2);
        assert_eq!(w.g.state(), GroupState::PreparingRebalance);
        assert_eq!(w.heartbeat(C1, 1), ErrorCode::RebalanceInProgress);
        // C1 rejoins: the rebalance completes and its heartbeats are fine again.
        w.join(C1);
        assert_eq!(w.g.state(), GroupState::Stable);
        assert_eq!(w.heartbeat(C1, 2), ErrorCode::None);
        assert_eq!(w.heartbeat(C1, 1), ErrorCode::IllegalGeneration);
    }

    #[test]
    fn a_broker_that_does_not_coordinate_the_group_answers_not_coordinator() {
        let mut w = world(|_| {});
        let other = BrokerId((w.host.0 + 1) % 3);
        w.deliver_at(
            other,
            N1,
            Msg::Group {
                group: G,
                consumer: C1,
                incarnation: 0,
                req: GroupRequest::Join {
                    token: 3,
                    owned: Box::new([]),
                },
            },
        );
        assert!(matches!(
            w.responses()[..],
            [(
                N1,
                GroupResponse::Join {
                    error: ErrorCode::NotCoordinator,
                    token: 3,
                    ..
                }
            )]
        ));
        assert!(w.g.members().is_empty());
        assert_eq!(w.g.host(), None);
    }

    #[test]
    fn transactional_offsets_of_a_zombie_are_fenced_by_generation_and_member() {
        let mut w = world(|_| {});
        w.form_generation();
        let txn_host = NodeId(2);
        let send = |w: &mut World, incarnation: u32, generation: u32| {
            let member = GroupMetadata {
                incarnation,
                generation,
            };
            let msg = Msg::TxnOffsetCommit {
                group: G,
                txn: 0,
                transaction: 1,
                consumer: C1,
                member,
                offsets: Box::new([(P0, 4)]),
                token: 11,
            };
            w.deliver_at(w.host, txn_host, msg);
            match take_sent(&mut w.k)[..] {
                [(_, _, Msg::TxnOffsetCommitResponse { error, .. })] => error,
                ref other => panic!("{other:?}"),
            }
        };
        // KIP-447: a generation the group has left, or a member it no longer has.
        assert_eq!(send(&mut w, 0, 0), ErrorCode::IllegalGeneration);
        assert_eq!(send(&mut w, 5, 1), ErrorCode::UnknownMemberId);
        let owner = if w.assignment(C1).contains(&P0) {
            C1
        } else {
            C2
        };
        assert_eq!(
            w.offset_fetch(owner, true).1,
            ErrorCode::None,
            "nothing was left pending"
        );
        assert_eq!(send(&mut w, 0, 1), ErrorCode::None);
        assert_eq!(
            w.offset_fetch(owner, true).1,
            ErrorCode::UnstableOffsetCommit
        );
    }

    #[test]
    fn a_restarted_host_reloads_the_group_and_gives_every_member_a_fresh_session() {
        let mut w = world(|_| {});
        w.form_generation();
        assert_eq!(w.commit(C1, 1, &[(P1, 3)]), ErrorCode::None);
        w.g.host_crashed(w.host);
        assert_eq!(w.g.host(), None);
        // The crash took the host's timers with it.
        while pop_timer(&mut w.k, SimTime(u64::MAX)).is_some() {}
        w.run_until(w.k.now.plus_ms(1_000));
        assert_eq!(w.heartbeat(C1, 1), ErrorCode::None);
        assert_eq!(w.g.host(), Some(w.host));
        let sessions: Vec<ConsumerId> = timers(&mut w.k)
            .into_iter()
            .filter_map(|(_, _, t)| match t {
                Timer::GroupCoordinator(GroupTimer::SessionCheck { consumer, .. }) => {
                    Some(consumer)
                }
                _ => None,
            })
            .collect();
        assert!(sessions.contains(&C2), "C2 gets a session: {sessions:?}");
        assert_eq!((w.g.generation(), w.g.state()), (1, GroupState::Stable));
        assert_eq!(w.g.committed(), [None, Some(3)]);
    }

    #[test]
    fn transactional_offsets_are_unstable_until_their_marker_commits_them() {
        let mut w = world(|_| {});
        w.form_generation();
        let txn_host = NodeId(2);
        w.deliver_at(
            w.host,
            txn_host,
            Msg::TxnOffsetCommit {
                group: G,
                txn: 0,
                transaction: 1,
                consumer: C1,
                member: GroupMetadata {
                    incarnation: 0,
                    generation: 1,
                },
                offsets: Box::new([(P0, 4)]),
                token: 11,
            },
        );
        let sent = take_sent(&mut w.k);
        assert!(matches!(
            sent[..],
            [(_, to, Msg::TxnOffsetCommitResponse { token: 11, error: ErrorCode::None, .. })]
                if to == txn_host
        ));
        let owner = if w.assignment(C1).contains(&P0) {
            C1
        } else {
            C2
        };
        assert_eq!(
            w.offset_fetch(owner, true).1,
            ErrorCode::UnstableOffsetCommit
        );
        assert_eq!(w.offset_fetch(owner, false).1, ErrorCode::None);
        let marker = Msg::TxnOffsetMarker {
            group: G,
            txn: 0,
            transaction: 1,
            consumer: C1,
            commit: true,
            offsets: Box::new([(P0, 4)]),
            token: 12,
        };
        w.deliver_at(w.host, txn_host, marker.clone());
        assert_eq!(w.g.committed(), [Some(4), None]);
        assert_eq!(
            w.offset_fetch(owner, true),
            (Box::from([(P0, Some(4)), (P1, None)]), ErrorCode::None)
        );
        // The marker sent again is acknowledged and not applied twice.
        w.events();
        w.deliver_at(w.host, txn_host, marker);
        assert!(w.events().is_empty());
        assert!(matches!(
            take_sent(&mut w.k)[..],
            [(
                _,
                _,
                Msg::TxnOffsetMarkerResponse {
                    token: 12,
                    ok: true,
                    ..
                }
            )]
        ));
    }

    // ----- KIP-848: the consumer group protocol ------------------------------------------

    fn consumer_world() -> World {
        world(|s| s.protocol = GroupProtocol::Consumer)
    }

    impl World {
        /// A ConsumerGroupHeartbeat from `c`: its answer (member epoch, assignment, error).
        fn cg_heartbeat(
            &mut self,
            c: ConsumerId,
            member_epoch: i32,
            owned: &[PartitionId],
        ) -> (u32, Vec<PartitionId>, ErrorCode) {
            let req = GroupRequest::ConsumerHeartbeat {
                member_epoch,
                owned: owned.into(),
                token: 1,
            };
            self.request(c, req);
            match self.responses().pop() {
                Some((
                    _,
                    GroupResponse::ConsumerHeartbeat {
                        member_epoch,
                        assignment,
                        error,
                        ..
                    },
                )) => (member_epoch, assignment.into_vec(), error),
                other => panic!("no ConsumerGroupHeartbeat answer: {other:?}"),
            }
        }
    }

    #[test]
    fn a_consumer_group_join_bumps_the_group_epoch_and_computes_the_target() {
        let mut w = consumer_world();
        assert_eq!(
            w.cg_heartbeat(C1, 0, &[]),
            (1, vec![P0, P1], ErrorCode::None)
        );
        let ev = w.events();
        assert!(ev.iter().any(|t| matches!(
            t,
            Trace::MemberJoinedEpoch {
                consumer: C1,
                group_epoch: 1,
                ..
            }
        )));
        // C2 joins: group epoch 2, the uniform target is one partition each. P1 is still C1's,
        // so C2 gets nothing yet, at the new epoch.
        assert_eq!(w.cg_heartbeat(C2, 0, &[]), (2, vec![], ErrorCode::None));
        let ev = w.events();
        let target = ev.iter().find_map(|t| match t {
            Trace::TargetAssignment {
                epoch: 2,
                assignment,
                ..
            } => Some(assignment.clone()),
            _ => None,
        });
        let target = target.expect("a target at group epoch 2");
        assert_eq!(target.len(), 2);
        assert!(target.iter().all(|(_, ps)| ps.len() == 1), "{target:?}");
        // No JoinGroup round: nobody was asked to stop, no rebalance started.
        assert!(
            !ev.iter()
                .any(|t| matches!(t, Trace::RebalanceStarted { .. }))
        );
    }

    #[test]
    fn a_partition_goes_to_its_new_owner_only_after_the_old_one_revokes_it() {
        let mut w = consumer_world();
        w.cg_heartbeat(C1, 0, &[]);
        w.cg_heartbeat(C2, 0, &[]);
        w.events();
        // C1 heartbeats owning both: asked to revoke P1, keeps P0, stays at epoch 1.
        assert_eq!(
            w.cg_heartbeat(C1, 1, &[P0, P1]),
            (1, vec![P0], ErrorCode::None)
        );
        assert!(w.events().iter().any(|t| matches!(
            t,
            Trace::RevokeAsked { consumer: C1, member_epoch: 1, partitions, .. } if **partitions == [P1]
        )));
        // C2 asks again: P1 is pending revocation, still not its own.
        assert_eq!(w.cg_heartbeat(C2, 2, &[]), (2, vec![], ErrorCode::None));
        // C1 reports P1 gone: it moves to epoch 2.
        assert_eq!(w.cg_heartbeat(C1, 1, &[P0]), (2, vec![P0], ErrorCode::None));
        // Now C2 gets P1.
        assert_eq!(w.cg_heartbeat(C2, 2, &[]), (2, vec![P1], ErrorCode::None));
        assert!(w.events().iter().any(|t| matches!(
            t,
            Trace::EpochAssigned { consumer: C2, member_epoch: 2, partitions, .. } if **partitions == [P1]
        )));
    }

    #[test]
    fn a_silent_consumer_group_member_is_fenced_after_the_broker_session_timeout() {
        let mut w = consumer_world();
        w.cg_heartbeat(C1, 0, &[]);
        w.cg_heartbeat(C2, 0, &[]);
        w.cg_heartbeat(C1, 1, &[P0, P1]);
        w.cg_heartbeat(C1, 1, &[P0]);
        w.cg_heartbeat(C2, 2, &[]);
        w.events();
        // C1 keeps heartbeating; C2 falls silent.
        for t in (5_000..=40_000).step_by(5_000) {
            w.run_until(SimTime::from_ms(t));
            w.cg_heartbeat(C1, 2, &[P0]);
        }
        assert!(
            !w.events()
                .iter()
                .any(|t| matches!(t, Trace::MemberRemoved { .. }))
        );
        w.run_until(SimTime::from_ms(CONSUMER_SESSION_TIMEOUT_MS + 1));
        let ev = w.events();
        assert!(ev.iter().any(|t| matches!(
            t,
            Trace::MemberRemoved {
                consumer: C2,
                reason: LeaveReason::Fenced,
                ..
            }
        )));
        // Group epoch 3: C1 gets P1 back at its next heartbeat, and C2's old epoch is fenced.
        assert_eq!(
            w.cg_heartbeat(C1, 2, &[P0]),
            (3, vec![P0, P1], ErrorCode::None)
        );
        assert_eq!(w.cg_heartbeat(C2, 2, &[P1]).2, ErrorCode::UnknownMemberId);
    }

    #[test]
    fn a_commit_with_a_stale_member_epoch_fails() {
        let mut w = consumer_world();
        w.cg_heartbeat(C1, 0, &[]);
        assert_eq!(w.commit(C1, 1, &[(P0, 3)]), ErrorCode::None);
        assert_eq!(w.commit(C1, 0, &[(P0, 4)]), ErrorCode::StaleMemberEpoch);
        // A heartbeat with an epoch the member never had is fenced.
        assert_eq!(
            w.cg_heartbeat(C1, 7, &[P0, P1]).2,
            ErrorCode::FencedMemberEpoch
        );
    }
}
