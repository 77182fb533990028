//! Consumer groups: the group coordinator (classic join/sync protocol with generations,
//! heartbeats, `session.timeout.ms`, eager rebalances, static membership, offset commits) and the
//! consumer's poll → process → commit loop.
//!
//! Simplifications: the coordinator computes the assignment itself (in Kafka the group leader
//! member does, with the same assignor, so the result is the same); the coordinator lives on the
//! first unfenced broker from a hash of the group name (standing in for the leader of the
//! group's `__consumer_offsets` partition), and committed offsets survive its failover as they
//! would in that replicated topic; consumers locate it without a FindCoordinator round trip.

use crate::sim::config::{
    Acks, Assignor, CommitMode, GroupConfig, IsolationLevel, OffsetReset, ProducerConfig,
    WorkloadConfig,
};
use crate::sim::ids::*;
use crate::sim::partitioner::partition_for_key;
use crate::sim::replication::EntryKind;
use crate::sim::trace::{LeaveReason, Trace};
use crate::sim::wire::{ConsumerFetchResult, GroupRequest, GroupResponse, Msg};
use crate::sim::{Local, NodeKind, NodeState, Sim, Timer};

/// Backoff before retrying a coordinator request that failed (`retry.backoff.ms`).
const CONSUMER_RETRY_BACKOFF_MS: u64 = 100;
/// `retry.backoff.max.ms`: KIP-580's cap on the exponential retry backoff.
const CONSUMER_RETRY_BACKOFF_MAX_MS: u64 = 1000;
/// `metadata.max.age.ms`: a client refreshes its metadata at least this often.
const METADATA_MAX_AGE_MS: u64 = 300_000;

/// KIP-580: the backoff before the `attempts`-th consecutive retry, in µs: `retry.backoff.ms`
/// doubling per failure up to `retry.backoff.max.ms`. (Simplified: Kafka adds ±20% jitter; the
/// consumer's retries here have none, so they draw nothing from the seeded RNG.)
fn retry_backoff_us(attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(10);
    ((CONSUMER_RETRY_BACKOFF_MS * 1000) << doublings).min(CONSUMER_RETRY_BACKOFF_MAX_MS * 1000)
}
/// Token of the consumer's single fetch-timeout timer (it scans every fetch in flight).
const FETCH_SCAN: u32 = u32::MAX - 1;
/// Token of the consumer's single coordinator-request timeout timer.
const REQUEST_SCAN: u32 = u32::MAX - 1;

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

/// A member as the coordinator sees it. A restarted dynamic consumer is a new member (new
/// incarnation); a static member (`group.instance.id`) keeps its identity.
#[derive(Clone, Debug)]
pub struct Member {
    pub consumer: ConsumerId,
    pub incarnation: u32,
    pub assignment: Vec<PartitionId>,
    joined: bool,
    pending_join: Option<u32>,
    heartbeats: u32,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub spec: GroupConfig,
    pub topic: TopicId,
    pub partitions: Vec<PartitionId>,
    pub state: GroupState,
    pub generation: u32,
    pub members: Vec<Member>,
    /// Committed offset per partition of the topic (index as in `partitions`).
    pub committed: Vec<Option<u64>>,
    /// The broker currently hosting the coordinator.
    pub host: Option<BrokerId>,
    /// The host's process incarnation: a restarted host reloads the group like a new one.
    host_incarnation: u32,
    join_token: u32,
    next_session_token: u32,
    /// While the first rebalance of an empty group waits out `group.initial.rebalance.delay.ms`
    /// (Kafka's InitialDelayedJoin): the latest it may wait until.
    initial_delay_cap: Option<SimTime>,
    /// The dedup sink's memory: message ids already applied.
    applied: Vec<bool>,
    /// Every consumer ever created for this group.
    pub consumers: Vec<ConsumerId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerState {
    /// Not started yet.
    Idle,
    Joining,
    Syncing,
    FetchingOffsets,
    Active,
    Crashed,
    /// Left the group for good (`remove-consumer`).
    Left,
}

impl ConsumerState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerState::Idle => "idle",
            ConsumerState::Joining => "joining",
            ConsumerState::Syncing => "syncing",
            ConsumerState::FetchingOffsets => "fetching offsets",
            ConsumerState::Active => "active",
            ConsumerState::Crashed => "crashed",
            ConsumerState::Left => "left",
        }
    }
}

/// An assigned partition, from the consumer's side.
#[derive(Clone, Debug)]
pub struct ConsumerPartition {
    pub partition: PartitionId,
    /// Offset of the next record poll() hands to the application.
    pub position: Option<u64>,
    /// Offset of the next record to fetch.
    fetch_pos: u64,
    fetching: Option<u32>,
    /// The broker the fetch in flight went to.
    fetching_from: Option<BrokerId>,
    /// Fetched records not yet returned by poll(): (offset, message).
    buffered: std::collections::VecDeque<(u64, MsgId)>,
    /// The leader's high watermark as of the last fetch, for lag.
    pub hw: u64,
    /// After a failed fetch, no new fetch before this (`retry.backoff.ms`).
    retry_at: SimTime,
    /// When the fetch in flight times out.
    fetch_deadline: SimTime,
    /// Consecutive failed ListOffsets attempts (KIP-580 backoff).
    attempts: u32,
}

/// What the consumer does once its synchronous commit is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterCommit {
    Process,
    Poll,
    Rejoin,
    Leave,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outstanding {
    Join,
    Sync,
    OffsetFetch,
    Commit(AfterCommit),
}

#[derive(Clone, Debug)]
pub struct Consumer {
    pub name: String,
    pub node: NodeId,
    pub group: GroupId,
    pub state: ConsumerState,
    pub generation: u32,
    pub parts: Vec<ConsumerPartition>,
    /// The poll batch being processed: (partition, offset, message).
    pub batch: Vec<(PartitionId, u64, MsgId)>,
    pub batch_pos: usize,
    pub processing: bool,
    rejoin_needed: bool,
    /// Leader per partition of the topic, as this consumer last heard.
    leaders: Vec<Option<BrokerId>>,
    metadata_pending: Vec<bool>,
    /// Per partition: the Metadata request in flight, consecutive failed refreshes, and no new
    /// request before this (KIP-580 backoff).
    metadata_token: Vec<u32>,
    metadata_attempts: Vec<u32>,
    metadata_retry_at: Vec<SimTime>,
    next_token: u32,
    outstanding: Option<(u32, Outstanding)>,
    /// The coordinator broker the outstanding request went to.
    outstanding_to: Option<BrokerId>,
    /// The group coordinator as this consumer last found it (see [`coordinator_among`]).
    coordinator: Option<BrokerId>,
    /// The coordinator lookup in flight (its token), consecutive lookups that found nothing
    /// new, and no new lookup before this (KIP-580 backoff).
    coordinator_lookup: Option<u32>,
    lookup_attempts: u32,
    lookup_retry_at: SimTime,
    heartbeat_token: u32,
    process_token: u32,
    fetch_timer_armed: bool,
    request_timer_armed: bool,
    request_deadline: SimTime,
    last_poll: SimTime,
    next_auto_commit: SimTime,
    pub applied: u64,
    /// A processor's (`commit = "transactional"`) transactional producer.
    pub producer: Option<ProducerId>,
    /// Waiting for the processor's transaction to commit.
    pub committing_txn: bool,
    /// Failed attempts at the current record (poison messages).
    pub attempts: u32,
    /// The producer that writes to the group's dead-letter topic.
    pub dead_letter_producer: Option<ProducerId>,
    /// Blocked for good on a poison record that has nowhere to go.
    pub stuck: bool,
}

impl ConsumerPartition {
    /// With nothing buffered, the position moves past whatever was fetched and skipped
    /// (transaction markers, aborted records), as Kafka's fetcher does.
    fn skip_to_fetched(&mut self) {
        if self.buffered.is_empty()
            && let Some(pos) = self.position
            && pos < self.fetch_pos
        {
            self.position = Some(self.fetch_pos);
        }
    }

    pub(crate) fn fetching_from(&self) -> Option<BrokerId> {
        self.fetching.and(self.fetching_from)
    }

    pub(crate) fn fetching_token(&self) -> Option<u32> {
        self.fetching
    }
}

impl Consumer {
    /// The reset a coordinator request in flight to a dead broker gets.
    pub(crate) fn reset_coordinator_reply(&self, b: BrokerId) -> Option<Msg> {
        let (token, kind) = self.outstanding?;
        if self.outstanding_to != Some(b) {
            return None;
        }
        let error = ErrorCode::NotCoordinator;
        let resp = match kind {
            Outstanding::Join => GroupResponse::Join {
                generation: 0,
                token,
                error,
            },
            Outstanding::Sync => GroupResponse::Sync {
                generation: 0,
                assignment: Box::new([]),
                token,
                error,
            },
            Outstanding::OffsetFetch => GroupResponse::OffsetFetch {
                offsets: Box::new([]),
                token,
                error,
            },
            Outstanding::Commit(_) => GroupResponse::Commit { token, error },
        };
        Some(Msg::GroupResponse { resp })
    }

    fn token(&mut self) -> u32 {
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token
    }

    /// Lag per assigned partition: HW − position.
    pub fn lag(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| p.hw.saturating_sub(p.position.unwrap_or(0)))
            .sum()
    }
}

impl Sim {
    pub(crate) fn new_group(&self, spec: &GroupConfig) -> Group {
        let topic = spec.topic;
        let partitions = self.k.topics[topic.idx()].partitions.clone();
        Group {
            name: spec.name.clone(),
            spec: spec.clone(),
            topic,
            committed: vec![None; partitions.len()],
            partitions,
            state: GroupState::Empty,
            generation: 0,
            members: Vec::new(),
            host: None,
            host_incarnation: 0,
            join_token: 0,
            next_session_token: 0,
            initial_delay_cap: None,
            applied: Vec::new(),
            consumers: Vec::new(),
        }
    }

    /// Create a consumer node for a group (at build time or for `add-consumer`).
    pub(crate) fn create_consumer(&mut self, g: GroupId) -> ConsumerId {
        let id = ConsumerId(self.consumers.len() as u32);
        let n = self.groups[g.idx()].consumers.len() + 1;
        let name = format!("{}/consumer-{}", self.groups[g.idx()].name, n);
        let node = NodeId(self.k.nodes.len() as u32);
        self.k.nodes.push(NodeState {
            name: name.clone(),
            kind: NodeKind::Consumer(id),
            up: true,
            incarnation: 0,
            paused_until: None,
            host: None,
        });
        self.k.net.ensure_nodes(self.k.nodes.len());
        let nparts = self.groups[g.idx()].partitions.len();
        self.consumers.push(Consumer {
            name,
            node,
            group: g,
            state: ConsumerState::Idle,
            generation: 0,
            parts: Vec::new(),
            batch: Vec::new(),
            batch_pos: 0,
            processing: false,
            rejoin_needed: false,
            leaders: vec![None; nparts],
            metadata_pending: vec![false; nparts],
            metadata_token: vec![0; nparts],
            metadata_attempts: vec![0; nparts],
            metadata_retry_at: vec![SimTime::ZERO; nparts],
            next_token: 0,
            outstanding: None,
            outstanding_to: None,
            coordinator: None,
            coordinator_lookup: None,
            lookup_attempts: 0,
            lookup_retry_at: SimTime::ZERO,
            heartbeat_token: 0,
            process_token: 0,
            fetch_timer_armed: false,
            request_timer_armed: false,
            request_deadline: SimTime::ZERO,
            last_poll: SimTime::ZERO,
            next_auto_commit: SimTime::ZERO,
            applied: 0,
            producer: None,
            committing_txn: false,
            attempts: 0,
            dead_letter_producer: None,
            stuck: false,
        });
        self.groups[g.idx()].consumers.push(id);
        if let Some(output) = self.groups[g.idx()].spec.output_topic {
            let p = self.create_embedded_producer(g, id, n, output, "producer");
            self.consumers[id.idx()].producer = Some(p);
        }
        if let Some(dlt) = self.groups[g.idx()].spec.dead_letter_topic {
            let p = self.create_embedded_producer(g, id, n, dlt, "dead-letter");
            // The dead-letter producer is a plain idempotent producer, never transactional.
            self.producers[p.idx()].txn = None;
            self.consumers[id.idx()].dead_letter_producer = Some(p);
        }
        id
    }

    pub(crate) fn add_consumer(&mut self, g: GroupId) {
        let c = self.create_consumer(g);
        self.consumer_started(c);
    }

    // ----- coordinator ----------------------------------------------------------------------

    /// The broker hosting a group's coordinator right now, by the controller's view.
    pub fn coordinator_host(&self, g: GroupId) -> Option<BrokerId> {
        let n = self.controller.brokers.len() as u32;
        let start = partition_for_key(&self.groups[g.idx()].name, n);
        (0..n)
            .map(|i| BrokerId((start + i) % n))
            .find(|b| !self.controller.brokers[b.idx()].fenced)
    }

    fn group_reply(&mut self, b: BrokerId, c: ConsumerId, g: GroupId, resp: GroupResponse) {
        let from = self.node_of_broker(b);
        let to = self.consumers[c.idx()].node;
        let _ = g;
        self.send(from, to, Msg::GroupResponse { resp });
    }

    fn member_index(&self, g: GroupId, c: ConsumerId, incarnation: u32) -> Option<usize> {
        let group = &self.groups[g.idx()];
        let stat = group.spec.static_membership;
        group
            .members
            .iter()
            .position(|m| m.consumer == c && (stat || m.incarnation == incarnation))
    }

    pub(crate) fn coordinator_receive(
        &mut self,
        b: BrokerId,
        from: NodeId,
        g: GroupId,
        c: ConsumerId,
        req: GroupRequest,
    ) {
        let _ = from;
        let incarnation = self.k.nodes[self.consumers[c.idx()].node.idx()].incarnation;
        if self.coordinator_host(g) != Some(b) {
            let resp = match req {
                GroupRequest::Join { token } => GroupResponse::Join {
                    generation: 0,
                    token,
                    error: ErrorCode::NotCoordinator,
                },
                GroupRequest::Sync { token, .. } => GroupResponse::Sync {
                    generation: 0,
                    assignment: Box::new([]),
                    token,
                    error: ErrorCode::NotCoordinator,
                },
                GroupRequest::Heartbeat { .. } => GroupResponse::Heartbeat {
                    error: ErrorCode::NotCoordinator,
                },
                GroupRequest::Commit { token, .. } => GroupResponse::Commit {
                    token,
                    error: ErrorCode::NotCoordinator,
                },
                GroupRequest::OffsetFetch { token, .. } => GroupResponse::OffsetFetch {
                    offsets: Box::new([]),
                    token,
                    error: ErrorCode::NotCoordinator,
                },
                GroupRequest::Leave { .. } => return,
            };
            self.group_reply(b, c, g, resp);
            return;
        }
        let incarnation_b = self.k.nodes[self.node_of_broker(b).idx()].incarnation;
        if self.groups[g.idx()].host != Some(b)
            || self.groups[g.idx()].host_incarnation != incarnation_b
        {
            self.groups[g.idx()].host_incarnation = incarnation_b;
            // A new coordinator loads the group and gives every member a fresh session.
            self.groups[g.idx()].host = Some(b);
            for i in 0..self.groups[g.idx()].members.len() {
                self.arm_session_check(g, i);
            }
            if self.groups[g.idx()].state == GroupState::PreparingRebalance {
                let wait = if self.groups[g.idx()].initial_delay_cap.is_some() {
                    self.k.settings.group_initial_rebalance_delay_ms
                } else {
                    self.groups[g.idx()].spec.max_poll_interval_ms
                };
                self.arm_join_deadline(g, wait);
            }
        }
        let member = self.member_index(g, c, incarnation);
        match req {
            GroupRequest::Join { token } => self.coordinator_join(g, c, incarnation, token),
            GroupRequest::Sync { generation, token } => {
                let group = &self.groups[g.idx()];
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
                self.group_reply(
                    b,
                    c,
                    g,
                    GroupResponse::Sync {
                        generation,
                        assignment,
                        token,
                        error,
                    },
                );
            }
            GroupRequest::Heartbeat { generation } => {
                let group = &self.groups[g.idx()];
                let error = match member {
                    None => ErrorCode::UnknownMemberId,
                    Some(_) if group.state == GroupState::PreparingRebalance => {
                        ErrorCode::RebalanceInProgress
                    }
                    Some(_) if generation != group.generation => ErrorCode::IllegalGeneration,
                    Some(_) => ErrorCode::None,
                };
                if let Some(i) = member {
                    self.groups[g.idx()].members[i].heartbeats += 1;
                    self.arm_session_check(g, i);
                }
                self.group_reply(b, c, g, GroupResponse::Heartbeat { error });
            }
            GroupRequest::Leave { reason } => {
                // The leaving process may already be gone (remove-consumer), so match the
                // consumer's newest member rather than its current incarnation.
                let latest = member.or_else(|| {
                    self.groups[g.idx()]
                        .members
                        .iter()
                        .rposition(|m| m.consumer == c)
                });
                if let Some(i) = latest {
                    self.remove_member(g, i, reason);
                }
            }
            GroupRequest::Commit {
                generation,
                offsets,
                token,
            } => {
                let group = &self.groups[g.idx()];
                // Kafka accepts commits from the current generation even while a rebalance is
                // being prepared; a member that was removed or is a generation behind fails.
                let error = match member {
                    None => ErrorCode::UnknownMemberId,
                    Some(_) if generation != group.generation => ErrorCode::IllegalGeneration,
                    Some(_) => ErrorCode::None,
                };
                if error == ErrorCode::None {
                    for &(p, offset) in offsets.iter() {
                        let group = &mut self.groups[g.idx()];
                        if let Some(i) = group.partitions.iter().position(|&x| x == p)
                            && group.committed[i] != Some(offset)
                        {
                            // Only a changed offset is news; re-committing the same is silent.
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
                self.group_reply(b, c, g, GroupResponse::Commit { token, error });
            }
            GroupRequest::OffsetFetch {
                token,
                require_stable,
            } => {
                // KIP-447: with require_stable, a partition whose offsets a transaction still
                // holds (sent with TxnOffsetCommit, not yet completed or aborted) is answered
                // UNSTABLE_OFFSET_COMMIT. The partitions asked about are the member's
                // assignment (simplified: Kafka's request lists them).
                let unstable = require_stable
                    && member.is_some_and(|i| {
                        let assigned = &self.groups[g.idx()].members[i].assignment;
                        self.txns.iter().any(|t| {
                            t.pending_offsets().is_some_and(|(tg, offsets)| {
                                tg == g && offsets.iter().any(|(p, _)| assigned.contains(p))
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
                    let group = &self.groups[g.idx()];
                    let offsets: Box<[(PartitionId, Option<u64>)]> = group
                        .partitions
                        .iter()
                        .copied()
                        .zip(group.committed.iter().copied())
                        .collect();
                    GroupResponse::OffsetFetch {
                        offsets,
                        token,
                        error: ErrorCode::None,
                    }
                };
                self.group_reply(b, c, g, resp);
            }
        }
    }

    fn coordinator_join(&mut self, g: GroupId, c: ConsumerId, incarnation: u32, token: u32) {
        let now_stable = self.groups[g.idx()].state == GroupState::Stable;
        let is_static = self.groups[g.idx()].spec.static_membership;
        let existing = self.member_index(g, c, incarnation);
        if let (Some(i), true, true) = (existing, is_static, now_stable) {
            // A static member coming back within its session: same assignment, no rebalance.
            let group = &mut self.groups[g.idx()];
            group.members[i].incarnation = incarnation;
            group.members[i].heartbeats += 1;
            let generation = group.generation;
            self.arm_session_check(g, i);
            let b = self.groups[g.idx()].host.expect("coordinator host");
            self.group_reply(
                b,
                c,
                g,
                GroupResponse::Join {
                    generation,
                    token,
                    error: ErrorCode::None,
                },
            );
            return;
        }
        let i = match existing {
            Some(i) => i,
            None => {
                let group = &mut self.groups[g.idx()];
                group.members.push(Member {
                    consumer: c,
                    incarnation,
                    assignment: Vec::new(),
                    joined: false,
                    pending_join: None,
                    heartbeats: 0,
                });
                self.emit(Trace::MemberJoined {
                    group: g,
                    consumer: c,
                });
                self.groups[g.idx()].members.len() - 1
            }
        };
        {
            let m = &mut self.groups[g.idx()].members[i];
            m.joined = true;
            m.pending_join = Some(token);
            m.heartbeats += 1;
        }
        self.arm_session_check(g, i);
        match self.groups[g.idx()].state {
            GroupState::Empty => {
                let delay = self.k.settings.group_initial_rebalance_delay_ms;
                self.prepare_rebalance(g, delay);
            }
            GroupState::Stable => {
                let timeout = self.groups[g.idx()].spec.max_poll_interval_ms;
                self.prepare_rebalance(g, timeout);
            }
            GroupState::PreparingRebalance => match self.groups[g.idx()].initial_delay_cap {
                // Each new member extends the initial delay, up to the rebalance timeout.
                Some(cap) if existing.is_none() => {
                    let delay = self.k.settings.group_initial_rebalance_delay_ms * 1000;
                    let wait = delay.min(cap.0.saturating_sub(self.k.now.0));
                    let group = &mut self.groups[g.idx()];
                    group.join_token += 1;
                    let token = group.join_token;
                    if let Some(b) = group.host {
                        let node = self.node_of_broker(b);
                        self.set_timer(
                            node,
                            wait,
                            Timer::CoordinatorJoinDeadline { group: g, token },
                        );
                    }
                }
                Some(_) => {}
                None => self.maybe_complete_join(g),
            },
        }
    }

    fn prepare_rebalance(&mut self, g: GroupId, deadline_ms: u64) {
        let now = self.k.now;
        let group = &mut self.groups[g.idx()];
        let initial = group.state == GroupState::Empty;
        group.state = GroupState::PreparingRebalance;
        if initial {
            group.initial_delay_cap = Some(now.plus_ms(group.spec.max_poll_interval_ms));
        }
        if !initial {
            for m in &mut group.members {
                if m.pending_join.is_none() {
                    m.joined = false;
                }
            }
        }
        let generation = group.generation + 1;
        self.emit(Trace::RebalanceStarted {
            group: g,
            generation,
        });
        self.arm_join_deadline(g, deadline_ms);
        if !initial {
            self.maybe_complete_join(g);
        }
    }

    fn arm_join_deadline(&mut self, g: GroupId, ms: u64) {
        let group = &mut self.groups[g.idx()];
        group.join_token += 1;
        let token = group.join_token;
        if let Some(b) = group.host {
            let node = self.node_of_broker(b);
            self.set_timer_ms(node, ms, Timer::CoordinatorJoinDeadline { group: g, token });
        }
    }

    fn maybe_complete_join(&mut self, g: GroupId) {
        let group = &self.groups[g.idx()];
        if group.state == GroupState::PreparingRebalance && group.members.iter().all(|m| m.joined) {
            self.complete_join(g);
        }
    }

    fn complete_join(&mut self, g: GroupId) {
        // Members that did not rejoin in time are dropped.
        let mut i = 0;
        while i < self.groups[g.idx()].members.len() {
            if !self.groups[g.idx()].members[i].joined {
                let c = self.groups[g.idx()].members.remove(i).consumer;
                self.emit(Trace::MemberRemoved {
                    group: g,
                    consumer: c,
                    reason: LeaveReason::RebalanceTimeout,
                });
            } else {
                i += 1;
            }
        }
        let group = &mut self.groups[g.idx()];
        group.join_token += 1;
        group.initial_delay_cap = None;
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            return;
        }
        group.generation += 1;
        group.state = GroupState::Stable;
        assign(group);
        let generation = group.generation;
        let assignment: Box<[(ConsumerId, Box<[PartitionId]>)]> = group
            .members
            .iter()
            .map(|m| (m.consumer, m.assignment.clone().into_boxed_slice()))
            .collect();
        self.emit(Trace::Rebalanced {
            group: g,
            generation,
            assignment,
        });
        let b = self.groups[g.idx()].host.expect("coordinator host");
        for i in 0..self.groups[g.idx()].members.len() {
            // Completing the join starts every member's session afresh.
            self.arm_session_check(g, i);
            let m = &mut self.groups[g.idx()].members[i];
            m.joined = false;
            if let Some(token) = m.pending_join.take() {
                let c = m.consumer;
                self.group_reply(
                    b,
                    c,
                    g,
                    GroupResponse::Join {
                        generation,
                        token,
                        error: ErrorCode::None,
                    },
                );
            }
        }
    }

    /// (Re)start a member's session: it expires unless the member is heard from again within
    /// `session.timeout.ms`. Every arming gets a group-unique token, so a check armed for an
    /// earlier session (or an earlier member with the same consumer) never matches.
    fn arm_session_check(&mut self, g: GroupId, i: usize) {
        let group = &mut self.groups[g.idx()];
        let Some(b) = group.host else {
            return;
        };
        group.next_session_token = group.next_session_token.wrapping_add(1);
        let token = group.next_session_token;
        let m = &mut group.members[i];
        m.heartbeats = token;
        let consumer = m.consumer;
        let timeout = group.spec.session_timeout_ms;
        let node = self.node_of_broker(b);
        self.set_timer_ms(
            node,
            timeout,
            Timer::CoordinatorSessionCheck {
                group: g,
                consumer,
                token,
            },
        );
    }

    fn remove_member(&mut self, g: GroupId, i: usize, reason: LeaveReason) {
        let m = self.groups[g.idx()].members.remove(i);
        self.emit(Trace::MemberRemoved {
            group: g,
            consumer: m.consumer,
            reason,
        });
        let group = &self.groups[g.idx()];
        match group.state {
            GroupState::Stable if group.members.is_empty() => {
                self.groups[g.idx()].state = GroupState::Empty;
            }
            GroupState::Stable => {
                let timeout = group.spec.max_poll_interval_ms;
                self.prepare_rebalance(g, timeout);
            }
            GroupState::PreparingRebalance => {
                if group.members.is_empty() {
                    self.groups[g.idx()].state = GroupState::Empty;
                    self.groups[g.idx()].join_token += 1;
                } else {
                    self.maybe_complete_join(g);
                }
            }
            GroupState::Empty => {}
        }
    }

    pub(crate) fn coordinator_timer(&mut self, b: BrokerId, timer: Timer) {
        match timer {
            Timer::CoordinatorJoinDeadline { group, token } => {
                let grp = &self.groups[group.idx()];
                if grp.host == Some(b)
                    && grp.join_token == token
                    && grp.state == GroupState::PreparingRebalance
                {
                    self.complete_join(group);
                }
            }
            Timer::CoordinatorSessionCheck {
                group,
                consumer,
                token,
            } => {
                let grp = &self.groups[group.idx()];
                if grp.host != Some(b) {
                    return;
                }
                if let Some(i) = grp
                    .members
                    .iter()
                    .position(|m| m.consumer == consumer && m.heartbeats == token)
                {
                    if grp.members[i].pending_join.is_some() {
                        // A member waiting in JoinGroup is kept alive (Kafka's
                        // `shouldKeepAlive` for members awaiting join).
                        self.arm_session_check(group, i);
                    } else {
                        self.remove_member(group, i, LeaveReason::SessionTimeout);
                    }
                }
            }
            _ => {}
        }
    }

    // ----- consumer -------------------------------------------------------------------------

    pub(crate) fn start_consumers(&mut self) {
        for c in 0..self.consumers.len() {
            let c = ConsumerId(c as u32);
            let g = self.consumers[c.idx()].group;
            let start = self.groups[g.idx()].spec.start_ms;
            let node = self.consumers[c.idx()].node;
            self.set_timer_ms(node, start, Timer::ConsumerStart);
        }
    }

    pub(crate) fn consumer_started(&mut self, c: ConsumerId) {
        self.consumers[c.idx()].stuck = false;
        self.consumers[c.idx()].attempts = 0;
        let g = self.consumers[c.idx()].group;
        for i in 0..self.groups[g.idx()].partitions.len() {
            let p = self.groups[g.idx()].partitions[i];
            self.consumers[c.idx()].leaders[i] = self.controller.parts[p.idx()].leader;
        }
        if let Some(producer) = self.consumers[c.idx()].producer {
            self.k
                .locals
                .push_back(Local::StartOutputProducer { producer });
        }
        // Bootstrap: what a first Metadata request would name as the coordinator.
        let coordinator = coordinator_among(
            &self.groups[g.idx()].name,
            self.controller.brokers.len() as u32,
            self.unfenced_brokers(),
        );
        let cons = &mut self.consumers[c.idx()];
        cons.coordinator = coordinator;
        cons.committing_txn = false;
        cons.state = ConsumerState::Joining;
        cons.parts.clear();
        cons.batch.clear();
        cons.batch_pos = 0;
        cons.processing = false;
        cons.rejoin_needed = false;
        cons.outstanding = None;
        let node = cons.node;
        self.set_timer_ms(node, METADATA_MAX_AGE_MS, Timer::ConsumerMetadataMaxAge);
        self.send_join(c);
    }

    fn send_to_coordinator(&mut self, c: ConsumerId, req: GroupRequest) -> Option<BrokerId> {
        let g = self.consumers[c.idx()].group;
        let node = self.consumers[c.idx()].node;
        match self.consumers[c.idx()].coordinator {
            Some(b) => {
                let to = self.node_of_broker(b);
                self.send(
                    node,
                    to,
                    Msg::Group {
                        group: g,
                        consumer: c,
                        req,
                    },
                );
                Some(b)
            }
            None => None,
        }
    }

    fn coordinator_request(
        &mut self,
        c: ConsumerId,
        kind: Outstanding,
        make: impl FnOnce(u32) -> GroupRequest,
    ) {
        let token = self.consumers[c.idx()].token();
        self.consumers[c.idx()].outstanding = Some((token, kind));
        let req = make(token);
        let to = self.send_to_coordinator(c, req);
        self.consumers[c.idx()].outstanding_to = to;
        let g = self.consumers[c.idx()].group;
        let timeout = self.groups[g.idx()].spec.request_timeout_ms;
        let cons = &mut self.consumers[c.idx()];
        cons.request_deadline = self.k.now.plus_ms(timeout);
        if !cons.request_timer_armed {
            cons.request_timer_armed = true;
            let node = cons.node;
            self.set_timer_ms(
                node,
                timeout,
                Timer::ConsumerRequestTimeout {
                    token: REQUEST_SCAN,
                },
            );
        }
    }

    fn send_join(&mut self, c: ConsumerId) {
        self.consumers[c.idx()].state = ConsumerState::Joining;
        self.coordinator_request(c, Outstanding::Join, |token| GroupRequest::Join { token });
    }

    fn retry_later(&mut self, c: ConsumerId, kind: Outstanding) {
        // Re-send the same kind of request after a short backoff, via the timeout path.
        let token = self.consumers[c.idx()].token();
        self.consumers[c.idx()].outstanding = Some((token, kind));
        let node = self.consumers[c.idx()].node;
        self.set_timer_ms(
            node,
            CONSUMER_RETRY_BACKOFF_MS,
            Timer::ConsumerRequestTimeout { token },
        );
    }

    fn resend(&mut self, c: ConsumerId, kind: Outstanding) {
        match kind {
            Outstanding::Join => self.send_join(c),
            Outstanding::Sync => {
                let generation = self.consumers[c.idx()].generation;
                self.coordinator_request(c, Outstanding::Sync, |token| GroupRequest::Sync {
                    generation,
                    token,
                });
            }
            Outstanding::OffsetFetch => {
                // The Java consumer sets require_stable under read_committed (KIP-447).
                let g = self.consumers[c.idx()].group;
                let require_stable =
                    self.groups[g.idx()].spec.isolation_level == IsolationLevel::ReadCommitted;
                self.coordinator_request(c, Outstanding::OffsetFetch, |token| {
                    GroupRequest::OffsetFetch {
                        token,
                        require_stable,
                    }
                });
            }
            Outstanding::Commit(then) => self.commit_sync(c, then),
        }
    }

    pub(crate) fn consumer_timer(&mut self, c: ConsumerId, timer: Timer) {
        if let Some(p) = self.consumers[c.idx()].producer
            && matches!(
                timer,
                Timer::ProducerLinger { .. }
                    | Timer::ProducerRetry { .. }
                    | Timer::ProducerRequestTimeout
                    | Timer::ProducerMetadataTimeout { .. }
                    | Timer::ProducerTxnRetry { .. }
            )
        {
            self.producer_timer(p, timer);
            return;
        }
        match timer {
            Timer::ConsumerStart if self.consumers[c.idx()].state == ConsumerState::Idle => {
                self.consumer_started(c);
            }
            Timer::ConsumerRequestTimeout {
                token: REQUEST_SCAN,
            } => {
                // One timer for coordinator requests: it re-arms for the one in flight.
                let cons = &mut self.consumers[c.idx()];
                cons.request_timer_armed = false;
                if let Some((t, _)) = cons.outstanding {
                    if cons.request_deadline > self.k.now {
                        cons.request_timer_armed = true;
                        let (node, wait) = (cons.node, cons.request_deadline.0 - self.k.now.0);
                        self.set_timer(
                            node,
                            wait,
                            Timer::ConsumerRequestTimeout {
                                token: REQUEST_SCAN,
                            },
                        );
                    } else {
                        // No answer: the coordinator may have moved.
                        self.find_coordinator(c);
                        self.consumer_timer(c, Timer::ConsumerRequestTimeout { token: t });
                    }
                }
            }
            Timer::ConsumerRequestTimeout { token } => {
                if let Some((t, kind)) = self.consumers[c.idx()].outstanding
                    && t == token
                {
                    self.consumers[c.idx()].outstanding = None;
                    if let Outstanding::Commit(then) = kind {
                        // A commit that got no answer counts as failed; carry on.
                        self.emit(Trace::CommitFailed {
                            group: self.consumers[c.idx()].group,
                            consumer: c,
                            error: ErrorCode::RequestTimedOut,
                        });
                        self.after_commit(c, then);
                    } else {
                        self.resend(c, kind);
                    }
                }
            }
            Timer::ConsumerHeartbeat { token } => {
                let cons = &self.consumers[c.idx()];
                if cons.heartbeat_token != token
                    || !matches!(
                        cons.state,
                        ConsumerState::Syncing
                            | ConsumerState::FetchingOffsets
                            | ConsumerState::Active
                    )
                {
                    return;
                }
                let g = cons.group;
                let spec = &self.groups[g.idx()].spec;
                let (interval, max_poll) = (spec.heartbeat_interval_ms, spec.max_poll_interval_ms);
                // KIP-62: the heartbeat thread leaves the group when poll() is not called within
                // max.poll.interval.ms (`AbstractCoordinator.maybeLeaveGroup`). Only a dynamic
                // member sends LeaveGroup; a static one (KIP-345) just stops heartbeating and
                // stays a member until its session expires. Both reset their generation, so a
                // commit from the stale batch fails and the next poll() rejoins. (Simplified: the
                // stale commit is sent and the coordinator rejects it; Kafka's client fails it
                // locally.)
                if cons.processing && self.k.now.0 > cons.last_poll.0 + max_poll * 1000 {
                    if !self.groups[g.idx()].spec.static_membership {
                        self.send_to_coordinator(
                            c,
                            GroupRequest::Leave {
                                reason: LeaveReason::PollTimeout,
                            },
                        );
                    }
                    let cons = &mut self.consumers[c.idx()];
                    cons.rejoin_needed = true;
                    cons.generation = 0;
                    cons.heartbeat_token += 1;
                    return;
                }
                let generation = cons.generation;
                self.send_to_coordinator(c, GroupRequest::Heartbeat { generation });
                let node = self.consumers[c.idx()].node;
                self.set_timer_ms(node, interval, Timer::ConsumerHeartbeat { token });
            }
            Timer::ConsumerMetadataTimeout { part, token } => {
                let i = part as usize;
                let cons = &self.consumers[c.idx()];
                if cons.metadata_pending.get(i) == Some(&true) && cons.metadata_token[i] == token {
                    self.consumers[c.idx()].leaders[i] = None;
                    self.metadata_failed(c, i);
                }
            }
            Timer::ConsumerCoordinatorLookupTimeout { token } => {
                let cons = &mut self.consumers[c.idx()];
                if cons.coordinator_lookup == Some(token) {
                    // The next failed coordinator request looks again, after the backoff.
                    cons.coordinator_lookup = None;
                    cons.lookup_attempts += 1;
                    let backoff = retry_backoff_us(cons.lookup_attempts);
                    cons.lookup_retry_at = self.k.now.plus_us(backoff);
                }
            }
            Timer::ConsumerMetadataMaxAge => {
                // metadata.max.age.ms: refresh the assigned partitions' leaders, so a consumer
                // still fetching from a deposed leader that answers without error moves on.
                let node = self.consumers[c.idx()].node;
                self.set_timer_ms(node, METADATA_MAX_AGE_MS, Timer::ConsumerMetadataMaxAge);
                for k in 0..self.consumers[c.idx()].parts.len() {
                    let p = self.consumers[c.idx()].parts[k].partition;
                    self.consumer_refresh_metadata(c, p);
                }
            }
            Timer::ConsumerProcess { token } => {
                let cons = &self.consumers[c.idx()];
                if cons.processing && cons.process_token == token {
                    self.process_next(c);
                }
            }
            Timer::ConsumerPoll { token: FETCH_SCAN } => {
                // One timer for fetches: expire those past request.timeout.ms, re-arm for the
                // earliest still in flight.
                let now = self.k.now;
                let g = self.consumers[c.idx()].group;
                self.consumers[c.idx()].fetch_timer_armed = false;
                let mut expired = Vec::new();
                let mut next: Option<SimTime> = None;
                for cp in &mut self.consumers[c.idx()].parts {
                    if cp.fetching.is_some() {
                        if cp.fetch_deadline <= now {
                            cp.fetching = None;
                            expired.push(cp.partition);
                        } else {
                            next =
                                Some(next.map_or(cp.fetch_deadline, |n| n.min(cp.fetch_deadline)));
                        }
                    }
                }
                for p in expired {
                    if let Some(local) =
                        self.groups[g.idx()].partitions.iter().position(|&x| x == p)
                    {
                        self.consumers[c.idx()].leaders[local] = None;
                    }
                    self.consumer_refresh_metadata(c, p);
                }
                if let Some(at) = next {
                    let cons = &mut self.consumers[c.idx()];
                    cons.fetch_timer_armed = true;
                    let node = cons.node;
                    self.set_timer(
                        node,
                        at.0 - now.0,
                        Timer::ConsumerPoll { token: FETCH_SCAN },
                    );
                }
                self.send_fetches(c);
            }
            Timer::ConsumerPoll { token } => {
                // A fetch that got no answer: refresh metadata and fetch again.
                let cons = &mut self.consumers[c.idx()];
                if let Some(i) = cons.parts.iter().position(|p| p.fetching == Some(token)) {
                    cons.parts[i].fetching = None;
                    let p = cons.parts[i].partition;
                    let g = cons.group;
                    if let Some(local) =
                        self.groups[g.idx()].partitions.iter().position(|&x| x == p)
                    {
                        self.consumers[c.idx()].leaders[local] = None;
                    }
                    self.consumer_refresh_metadata(c, p);
                }
                self.send_fetches(c);
            }
            _ => {}
        }
    }

    fn start_heartbeats(&mut self, c: ConsumerId) {
        let cons = &mut self.consumers[c.idx()];
        cons.heartbeat_token += 1;
        let token = cons.heartbeat_token;
        let interval = self.groups[cons.group.idx()].spec.heartbeat_interval_ms;
        let node = cons.node;
        self.set_timer_ms(node, interval, Timer::ConsumerHeartbeat { token });
    }

    pub(crate) fn consumer_receive(&mut self, c: ConsumerId, msg: Msg) {
        // A processor's producer shares the consumer's process.
        if let Some(p) = self.consumers[c.idx()].producer {
            let for_producer = match &msg {
                Msg::ProduceResponse { .. } | Msg::TxnResponse { .. } => true,
                Msg::MetadataResponse { partition, .. } => {
                    let g = self.consumers[c.idx()].group;
                    !self.groups[g.idx()].partitions.contains(partition)
                }
                _ => false,
            };
            if for_producer {
                self.producer_receive(p, msg);
                return;
            }
        }
        match msg {
            Msg::GroupResponse { resp, .. } => self.consumer_group_response(c, resp),
            Msg::ConsumerFetchResponse {
                partition,
                token,
                result,
            } => self.consumer_fetch_response(c, partition, token, result),
            Msg::ListOffsetsResponse {
                partition,
                token,
                offset,
            } => {
                let cons = &mut self.consumers[c.idx()];
                let Some(i) = cons.parts.iter().position(|p| p.partition == partition) else {
                    return;
                };
                if cons.parts[i].fetching != Some(token) {
                    return;
                }
                cons.parts[i].fetching = None;
                match offset {
                    Some(o) => {
                        let cp = &mut cons.parts[i];
                        cp.position = Some(o);
                        cp.fetch_pos = o;
                        cp.attempts = 0;
                        let g = cons.group;
                        self.emit(Trace::OffsetReset {
                            group: g,
                            consumer: c,
                            partition,
                            offset: o,
                        });
                    }
                    None => {
                        // NOT_LEADER_OR_FOLLOWER or no answer: refresh metadata and retry after
                        // the KIP-580 backoff (Kafka's OffsetFetcher `requestFailed`).
                        let cp = &mut cons.parts[i];
                        cp.attempts += 1;
                        let backoff = retry_backoff_us(cp.attempts);
                        cp.retry_at = self.k.now.plus_us(backoff);
                        let (g, node) = (cons.group, cons.node);
                        if let Some(local) = self.groups[g.idx()]
                            .partitions
                            .iter()
                            .position(|&x| x == partition)
                        {
                            self.consumers[c.idx()].leaders[local] = None;
                        }
                        self.consumer_refresh_metadata(c, partition);
                        self.set_timer(node, backoff, Timer::ConsumerPoll { token: u32::MAX });
                    }
                }
                self.send_fetches(c);
            }
            Msg::MetadataResponse {
                partition,
                leader,
                token,
                unfenced,
            } => {
                let g = self.consumers[c.idx()].group;
                if self.consumers[c.idx()].coordinator_lookup == Some(token) {
                    let found = coordinator_among(
                        &self.groups[g.idx()].name,
                        self.controller.brokers.len() as u32,
                        unfenced,
                    );
                    let cons = &mut self.consumers[c.idx()];
                    cons.coordinator_lookup = None;
                    if found.is_none() || found == cons.coordinator {
                        // Nothing new (with every broker fenced there is none to go to): the
                        // next failure looks again, after the backoff.
                        cons.lookup_attempts += 1;
                        let backoff = retry_backoff_us(cons.lookup_attempts);
                        cons.lookup_retry_at = self.k.now.plus_us(backoff);
                    } else {
                        cons.coordinator = found;
                        cons.lookup_attempts = 0;
                    }
                    return;
                }
                if let Some(i) = self.groups[g.idx()]
                    .partitions
                    .iter()
                    .position(|&x| x == partition)
                {
                    let cons = &mut self.consumers[c.idx()];
                    if !cons.metadata_pending[i] || cons.metadata_token[i] != token {
                        // A late answer to a request that already timed out.
                        return;
                    }
                    cons.metadata_pending[i] = false;
                    cons.leaders[i] = leader;
                    if leader.is_none() {
                        self.metadata_failed(c, i);
                        return;
                    }
                    cons.metadata_attempts[i] = 0;
                }
                self.send_fetches(c);
            }
            _ => {}
        }
    }

    fn consumer_group_response(&mut self, c: ConsumerId, resp: GroupResponse) {
        match response_error(&resp) {
            // The coordinator answered: the lookups' backoff starts afresh.
            ErrorCode::None => self.consumers[c.idx()].lookup_attempts = 0,
            // Gone (a reset connection) or moved: look it up again.
            ErrorCode::NotCoordinator => self.find_coordinator(c),
            _ => {}
        }
        let cons = &self.consumers[c.idx()];
        match resp {
            GroupResponse::Heartbeat { error } => {
                let active = cons.state == ConsumerState::Active;
                if matches!(
                    error,
                    ErrorCode::RebalanceInProgress
                        | ErrorCode::IllegalGeneration
                        | ErrorCode::UnknownMemberId
                ) && active
                {
                    self.consumers[c.idx()].rejoin_needed = true;
                    if !self.consumers[c.idx()].processing
                        && self.consumers[c.idx()].outstanding.is_none()
                    {
                        self.poll(c);
                    }
                }
            }
            GroupResponse::Join {
                generation,
                token,
                error,
            } => {
                if cons.outstanding.map(|o| o.0) != Some(token) {
                    return;
                }
                self.consumers[c.idx()].outstanding = None;
                if error != ErrorCode::None {
                    self.retry_later(c, Outstanding::Join);
                    return;
                }
                let cons = &mut self.consumers[c.idx()];
                cons.generation = generation;
                cons.state = ConsumerState::Syncing;
                self.start_heartbeats(c);
                self.resend(c, Outstanding::Sync);
            }
            GroupResponse::Sync {
                generation,
                assignment,
                token,
                error,
            } => {
                if cons.outstanding.map(|o| o.0) != Some(token) {
                    return;
                }
                self.consumers[c.idx()].outstanding = None;
                match error {
                    ErrorCode::None => {}
                    ErrorCode::NotCoordinator => {
                        self.retry_later(c, Outstanding::Sync);
                        return;
                    }
                    _ => {
                        self.send_join(c);
                        return;
                    }
                }
                let cons = &mut self.consumers[c.idx()];
                cons.generation = generation;
                cons.parts = assignment
                    .iter()
                    .map(|&p| ConsumerPartition {
                        partition: p,
                        position: None,
                        fetch_pos: 0,
                        fetching: None,
                        fetching_from: None,
                        buffered: Default::default(),
                        hw: 0,
                        retry_at: SimTime::ZERO,
                        fetch_deadline: SimTime::ZERO,
                        attempts: 0,
                    })
                    .collect();
                cons.state = ConsumerState::FetchingOffsets;
                self.resend(c, Outstanding::OffsetFetch);
            }
            GroupResponse::OffsetFetch {
                offsets,
                token,
                error,
            } => {
                if cons.outstanding.map(|o| o.0) != Some(token) {
                    return;
                }
                self.consumers[c.idx()].outstanding = None;
                if error != ErrorCode::None || offsets.is_empty() {
                    // NOT_COORDINATOR, or UNSTABLE_OFFSET_COMMIT (KIP-447): retry after
                    // retry.backoff.ms.
                    self.retry_later(c, Outstanding::OffsetFetch);
                    return;
                }
                let g = self.consumers[c.idx()].group;
                let reset = self.groups[g.idx()].spec.auto_offset_reset;
                let now = self.k.now;
                let interval = self.groups[g.idx()].spec.auto_commit_interval_ms;
                let cons = &mut self.consumers[c.idx()];
                let mut resets = Vec::new();
                for cp in &mut cons.parts {
                    let committed = offsets
                        .iter()
                        .find(|o| o.0 == cp.partition)
                        .and_then(|o| o.1);
                    match (committed, reset) {
                        (Some(o), _) => {
                            cp.position = Some(o);
                            cp.fetch_pos = o;
                        }
                        (None, OffsetReset::Earliest) => {
                            cp.position = Some(0);
                            cp.fetch_pos = 0;
                            resets.push(cp.partition);
                        }
                        (None, OffsetReset::Latest) => cp.position = None,
                    }
                }
                cons.state = ConsumerState::Active;
                cons.last_poll = now;
                cons.next_auto_commit = now.plus_ms(interval);
                for p in resets {
                    self.emit(Trace::OffsetReset {
                        group: g,
                        consumer: c,
                        partition: p,
                        offset: 0,
                    });
                }
                self.poll(c);
            }
            GroupResponse::Commit { token, error } => {
                if let Some((t, kind)) = cons.outstanding
                    && t == token
                {
                    self.consumers[c.idx()].outstanding = None;
                    let then = match kind {
                        Outstanding::Commit(then) => then,
                        _ => AfterCommit::Poll,
                    };
                    if matches!(
                        error,
                        ErrorCode::NotCoordinator | ErrorCode::NetworkException
                    ) {
                        // commitSync retries while the coordinator moves.
                        self.retry_later(c, Outstanding::Commit(then));
                        return;
                    }
                    if error != ErrorCode::None {
                        let g = self.consumers[c.idx()].group;
                        self.emit(Trace::CommitFailed {
                            group: g,
                            consumer: c,
                            error: ErrorCode::CommitFailed,
                        });
                        self.consumers[c.idx()].rejoin_needed = true;
                    }
                    self.after_commit(c, then);
                }
            }
        }
    }

    fn after_commit(&mut self, c: ConsumerId, then: AfterCommit) {
        match then {
            AfterCommit::Process => self.start_processing(c),
            AfterCommit::Poll => self.poll(c),
            AfterCommit::Rejoin => self.revoke_and_rejoin(c),
            AfterCommit::Leave => self.finish_leave(c),
        }
    }

    /// Current positions of all assigned partitions that have one.
    fn positions(&self, c: ConsumerId) -> Box<[(PartitionId, u64)]> {
        self.consumers[c.idx()]
            .parts
            .iter()
            .filter_map(|p| p.position.map(|o| (p.partition, o)))
            .collect()
    }

    fn commit_sync(&mut self, c: ConsumerId, then: AfterCommit) {
        let offsets = self.positions(c);
        let generation = self.consumers[c.idx()].generation;
        self.coordinator_request(c, Outstanding::Commit(then), |token| GroupRequest::Commit {
            generation,
            offsets,
            token,
        });
    }

    fn commit_async(&mut self, c: ConsumerId) {
        let offsets = self.positions(c);
        let generation = self.consumers[c.idx()].generation;
        let token = self.consumers[c.idx()].token();
        self.send_to_coordinator(
            c,
            GroupRequest::Commit {
                generation,
                offsets,
                token,
            },
        );
    }

    /// `poll()`: join if needed, auto-commit, hand the application the next batch.
    fn poll(&mut self, c: ConsumerId) {
        let cons = &self.consumers[c.idx()];
        if cons.state != ConsumerState::Active
            || cons.processing
            || cons.outstanding.is_some()
            || cons.committing_txn
        {
            return;
        }
        if let Some(p) = cons.producer
            && self.producers[p.idx()]
                .txn
                .as_ref()
                .is_some_and(|t| t.blocks_send())
        {
            // The processor's producer is still initializing (or fenced).
            return;
        }
        let g = cons.group;
        let spec = &self.groups[g.idx()].spec;
        let (mode, max_records, interval) = (
            spec.commit,
            spec.max_poll_records as usize,
            spec.auto_commit_interval_ms,
        );
        if cons.rejoin_needed {
            // Eager protocol: give up every partition before rejoining; with auto-commit the
            // consumer commits what it has consumed first (ConsumerCoordinator.onJoinPrepare).
            if mode == CommitMode::Auto {
                self.commit_sync(c, AfterCommit::Rejoin);
            } else {
                self.revoke_and_rejoin(c);
            }
            return;
        }
        let now = self.k.now;
        self.consumers[c.idx()].last_poll = now;
        if mode == CommitMode::Auto && now >= self.consumers[c.idx()].next_auto_commit {
            // Auto-commit commits the positions returned by the previous poll.
            self.consumers[c.idx()].next_auto_commit = now.plus_ms(interval);
            self.commit_async(c);
        }
        let cons = &mut self.consumers[c.idx()];
        cons.batch.clear();
        cons.batch_pos = 0;
        let mut taken = Vec::new();
        for cp in &mut cons.parts {
            let from = cp.position.unwrap_or(0);
            let mut count = 0u32;
            while cons.batch.len() < max_records {
                let Some((offset, msg)) = cp.buffered.pop_front() else {
                    break;
                };
                cons.batch.push((cp.partition, offset, msg));
                cp.position = Some(offset + 1);
                count += 1;
            }
            cp.skip_to_fetched();
            if count > 0 {
                taken.push((cp.partition, from, count));
            }
        }
        for (partition, from, count) in taken {
            self.emit(Trace::Polled {
                group: g,
                consumer: c,
                partition,
                from,
                count,
            });
        }
        self.send_fetches(c);
        if self.consumers[c.idx()].batch.is_empty() {
            return;
        }
        if mode == CommitMode::BeforeProcess {
            // At-most-once: commit the batch's end before touching any record.
            self.commit_sync(c, AfterCommit::Process);
        } else {
            self.start_processing(c);
        }
    }

    fn start_processing(&mut self, c: ConsumerId) {
        if self.consumers[c.idx()].batch.is_empty() {
            self.poll(c);
            return;
        }
        self.consumers[c.idx()].processing = true;
        self.schedule_process(c);
    }

    fn schedule_process(&mut self, c: ConsumerId) {
        let g = self.consumers[c.idx()].group;
        let ms = self.groups[g.idx()].spec.processing_ms;
        if ms == 0 {
            while self.consumers[c.idx()].processing && !self.consumers[c.idx()].stuck {
                self.process_next(c);
            }
            return;
        }
        let cons = &mut self.consumers[c.idx()];
        cons.process_token = cons.process_token.wrapping_add(1);
        let token = cons.process_token;
        let node = cons.node;
        self.set_timer_ms(node, ms, Timer::ConsumerProcess { token });
    }

    /// One record's processing finished: apply its effect to the group's sink.
    /// Whether processing this record fails (`fail_keys` / `fail_every`).
    fn is_poison(&self, g: GroupId, msg: MsgId) -> bool {
        let spec = &self.groups[g.idx()].spec;
        let info = &self.k.msgs[msg.idx()];
        let by_key = !spec.fail_keys.is_empty()
            && info
                .key
                .is_some_and(|k| spec.fail_keys.iter().any(|f| *f == self.k.keys[k as usize]));
        let by_count = spec
            .fail_every
            .is_some_and(|n| n > 0 && (info.n as u64).is_multiple_of(n));
        by_key || by_count
    }

    fn process_next(&mut self, c: ConsumerId) {
        let cons = &self.consumers[c.idx()];
        let (partition, offset, msg) = cons.batch[cons.batch_pos];
        let g = cons.group;
        if self.is_poison(g, msg) {
            let max_attempts = self.groups[g.idx()].spec.max_attempts;
            let cons = &mut self.consumers[c.idx()];
            cons.attempts += 1;
            let attempt = cons.attempts;
            self.emit(Trace::ProcessingFailed {
                group: g,
                consumer: c,
                msg,
                attempt,
            });
            if attempt < max_attempts {
                // Try the same record again after another processing_ms.
                if self.groups[g.idx()].spec.processing_ms > 0 {
                    self.schedule_process(c);
                }
                return;
            }
            match self.consumers[c.idx()].dead_letter_producer {
                Some(dlq) => {
                    self.emit(Trace::DeadLettered {
                        group: g,
                        consumer: c,
                        msg,
                        attempts: attempt,
                    });
                    self.k
                        .locals
                        .push_back(Local::SendOutput { producer: dlq, msg });
                }
                None => {
                    // Nowhere to put it: the consumer keeps failing on this record and its
                    // partitions make no progress (until max.poll.interval.ms removes it).
                    let cons = &mut self.consumers[c.idx()];
                    cons.stuck = true;
                    self.emit(Trace::ConsumerStuck {
                        group: g,
                        consumer: c,
                        msg,
                    });
                    return;
                }
            }
        }
        let cons = &mut self.consumers[c.idx()];
        let poisoned = cons.attempts > 0;
        cons.attempts = 0;
        cons.batch_pos += 1;
        cons.applied += 1;
        let done = cons.batch_pos == cons.batch.len();
        if poisoned {
            // Dead-lettered: the record's effect is not applied to the sink.
            self.after_record(c, g, done);
            return;
        }
        let group = &mut self.groups[g.idx()];
        let dedup = group.spec.dedup;
        let seen = if dedup {
            if group.applied.len() <= msg.idx() {
                group.applied.resize(msg.idx() + 1, false);
            }
            std::mem::replace(&mut group.applied[msg.idx()], true)
        } else {
            false
        };
        if seen {
            self.emit(Trace::Redelivered {
                group: g,
                consumer: c,
                msg,
                partition,
                offset,
            });
        } else {
            self.emit(Trace::Applied {
                group: g,
                consumer: c,
                msg,
                partition,
                offset,
            });
        }
        if let Some(producer) = self.consumers[c.idx()].producer {
            // Read-process-write: the output record carries the input's message id.
            self.k.locals.push_back(Local::SendOutput { producer, msg });
        }
        self.after_record(c, g, done);
    }

    /// A record was handled: finish the batch or go on with the next record.
    fn after_record(&mut self, c: ConsumerId, g: GroupId, done: bool) {
        if done {
            let cons = &mut self.consumers[c.idx()];
            cons.processing = false;
            cons.batch.clear();
            cons.batch_pos = 0;
            match self.groups[g.idx()].spec.commit {
                CommitMode::AfterProcess
                    if let Some(producer) = self.consumers[c.idx()].producer =>
                {
                    // At-least-once read-process-write: flush() the outputs, then commit.
                    self.consumers[c.idx()].committing_txn = true;
                    self.k.locals.push_back(Local::FlushOutputs {
                        producer,
                        consumer: c,
                    });
                }
                CommitMode::AfterProcess => self.commit_sync(c, AfterCommit::Poll),
                CommitMode::Transactional => {
                    // sendOffsetsToTransaction + commitTransaction: the outputs and the input
                    // offsets commit together or not at all.
                    let offsets = self.positions(c);
                    let producer = self.consumers[c.idx()]
                        .producer
                        .expect("processor producer");
                    self.consumers[c.idx()].committing_txn = true;
                    self.k.locals.push_back(Local::CommitWithOffsets {
                        producer,
                        group: g,
                        consumer: c,
                        offsets,
                    });
                }
                _ => self.poll(c),
            }
        } else if self.groups[g.idx()].spec.processing_ms > 0 {
            self.schedule_process(c);
        }
    }

    fn revoke_and_rejoin(&mut self, c: ConsumerId) {
        let cons = &mut self.consumers[c.idx()];
        cons.parts.clear();
        cons.batch.clear();
        cons.batch_pos = 0;
        cons.rejoin_needed = false;
        self.send_join(c);
    }

    /// Send a fetch for every assigned partition that has none in flight and nothing buffered.
    fn send_fetches(&mut self, c: ConsumerId) {
        if self.consumers[c.idx()].state != ConsumerState::Active {
            return;
        }
        let g = self.consumers[c.idx()].group;
        let spec = &self.groups[g.idx()].spec;
        let (max_records, timeout) = (spec.max_poll_records, spec.request_timeout_ms);
        let max_wait_ms = spec.fetch_max_wait_ms as u32;
        let read_committed = spec.isolation_level == IsolationLevel::ReadCommitted;
        for i in 0..self.consumers[c.idx()].parts.len() {
            let cons = &self.consumers[c.idx()];
            let cp = &cons.parts[i];
            if cp.fetching.is_some() || !cp.buffered.is_empty() || self.k.now < cp.retry_at {
                continue;
            }
            let p = cp.partition;
            let local = self.groups[g.idx()]
                .partitions
                .iter()
                .position(|&x| x == p)
                .expect("assigned partition of the group's topic");
            let Some(leader) = cons.leaders[local] else {
                self.consumer_refresh_metadata(c, p);
                continue;
            };
            let to = self.node_of_broker(leader);
            let node = cons.node;
            let position = cp.position;
            let fetch_pos = cp.fetch_pos;
            let token = self.consumers[c.idx()].token();
            self.consumers[c.idx()].parts[i].fetching = Some(token);
            self.consumers[c.idx()].parts[i].fetching_from = Some(leader);
            let msg = match position {
                None => Msg::ListOffsets {
                    partition: p,
                    token,
                    read_committed,
                },
                Some(_) => Msg::ConsumerFetch {
                    partition: p,
                    offset: fetch_pos,
                    token,
                    max_records,
                    max_wait_ms,
                    read_committed,
                },
            };
            self.send(node, to, msg);
            let cons = &mut self.consumers[c.idx()];
            cons.parts[i].fetch_deadline = self.k.now.plus_ms(timeout);
            if !cons.fetch_timer_armed {
                cons.fetch_timer_armed = true;
                self.set_timer_ms(node, timeout, Timer::ConsumerPoll { token: FETCH_SCAN });
            }
        }
    }

    /// The coordinator failed or did not answer: look it up again (one lookup in flight), so
    /// the next request goes wherever the group lives now. Kafka's client sends
    /// FindCoordinator; here the lookup is a Metadata request for the group's first partition
    /// whose answer lists the unfenced brokers (see [`coordinator_among`]).
    fn find_coordinator(&mut self, c: ConsumerId) {
        let g = self.consumers[c.idx()].group;
        let cons = &mut self.consumers[c.idx()];
        if cons.coordinator_lookup.is_some() || self.k.now < cons.lookup_retry_at {
            return;
        }
        let token = cons.token();
        cons.coordinator_lookup = Some(token);
        let node = cons.node;
        let partition = self.groups[g.idx()].partitions[0];
        let controller = self.k.controller_node;
        self.send(node, controller, Msg::MetadataRequest { partition, token });
        let timeout = self.groups[g.idx()].spec.request_timeout_ms;
        self.set_timer_ms(
            node,
            timeout,
            Timer::ConsumerCoordinatorLookupTimeout { token },
        );
    }

    fn consumer_refresh_metadata(&mut self, c: ConsumerId, p: PartitionId) {
        let g = self.consumers[c.idx()].group;
        let Some(i) = self.groups[g.idx()].partitions.iter().position(|&x| x == p) else {
            return;
        };
        let cons = &mut self.consumers[c.idx()];
        // One request in flight per partition; after a failure, none before the backoff (a
        // timer set with the backoff asks again).
        if cons.metadata_pending[i] || self.k.now < cons.metadata_retry_at[i] {
            return;
        }
        cons.metadata_pending[i] = true;
        let token = cons.token();
        cons.metadata_token[i] = token;
        let node = cons.node;
        let controller = self.k.controller_node;
        self.send(
            node,
            controller,
            Msg::MetadataRequest {
                partition: p,
                token,
            },
        );
        // A request that gets no answer fails after request.timeout.ms and is retried.
        let timeout = self.groups[g.idx()].spec.request_timeout_ms;
        self.set_timer_ms(
            node,
            timeout,
            Timer::ConsumerMetadataTimeout {
                part: i as u32,
                token,
            },
        );
    }

    /// A metadata refresh for the group's `i`-th partition failed (no leader, or no answer):
    /// ask again after the KIP-580 backoff.
    fn metadata_failed(&mut self, c: ConsumerId, i: usize) {
        let cons = &mut self.consumers[c.idx()];
        cons.metadata_pending[i] = false;
        cons.metadata_attempts[i] += 1;
        let backoff = retry_backoff_us(cons.metadata_attempts[i]);
        cons.metadata_retry_at[i] = self.k.now.plus_us(backoff);
        let node = cons.node;
        self.set_timer(node, backoff, Timer::ConsumerPoll { token: u32::MAX });
    }

    fn consumer_fetch_response(
        &mut self,
        c: ConsumerId,
        partition: PartitionId,
        token: u32,
        result: ConsumerFetchResult,
    ) {
        let cons = &mut self.consumers[c.idx()];
        let Some(i) = cons
            .parts
            .iter()
            .position(|p| p.partition == partition && p.fetching == Some(token))
        else {
            if let ConsumerFetchResult::Records { payload, .. } = result {
                self.free_payload(payload);
            }
            return;
        };
        cons.parts[i].fetching = None;
        let g = cons.group;
        match result {
            ConsumerFetchResult::Records {
                base_offset,
                payload,
                hw,
                aborted,
            } => {
                let cp = &mut cons.parts[i];
                cp.hw = hw;
                let mut got = false;
                if base_offset == cp.fetch_pos {
                    let records = &self.k.payloads[payload as usize];
                    for (k, e) in records.iter().enumerate() {
                        let offset = base_offset + k as u64;
                        // read_committed: skip records of aborted transactions; markers never
                        // reach the application.
                        let was_aborted = e.transactional
                            && aborted.iter().any(|&(pid, first, last)| {
                                pid == e.producer && offset >= first && offset < last
                            });
                        if e.kind == EntryKind::Data && !was_aborted {
                            cp.buffered.push_back((offset, e.msg));
                            got = true;
                        }
                    }
                    cp.fetch_pos = base_offset + records.len() as u64;
                    cp.skip_to_fetched();
                }
                self.free_payload(payload);
                if !got {
                    // Long poll came back empty: fetch again.
                    self.send_fetches(c);
                } else if !self.consumers[c.idx()].processing {
                    self.poll(c);
                }
            }
            ConsumerFetchResult::OutOfRange { leo } => {
                // The position is past the leader's log end: the log was truncated under us
                // (an unclean election). KIP-320: detect the truncation and resume at the
                // leader's end instead of applying auto.offset.reset.
                let offset = leo;
                let cp = &mut cons.parts[i];
                cp.position = Some(offset);
                cp.fetch_pos = offset;
                cp.buffered.clear();
                self.emit(Trace::OffsetReset {
                    group: g,
                    consumer: c,
                    partition,
                    offset,
                });
                self.send_fetches(c);
            }
            ConsumerFetchResult::Err(_) => {
                self.consumers[c.idx()].parts[i].retry_at =
                    self.k.now.plus_ms(CONSUMER_RETRY_BACKOFF_MS);
                if let Some(local) = self.groups[g.idx()]
                    .partitions
                    .iter()
                    .position(|&x| x == partition)
                {
                    // Forget the leader so the next fetch waits for fresh metadata.
                    self.consumers[c.idx()].leaders[local] = None;
                }
                self.consumer_refresh_metadata(c, partition);
                let node = self.consumers[c.idx()].node;
                self.set_timer_ms(
                    node,
                    CONSUMER_RETRY_BACKOFF_MS,
                    Timer::ConsumerPoll { token: u32::MAX },
                );
            }
        }
    }

    /// The group's topic grew: the new partitions need owners, so the group rebalances (Kafka's
    /// consumers notice the new partition count at their next metadata refresh and rejoin).
    pub(crate) fn groups_topic_grew(&mut self, t: TopicId, first: PartitionId, count: u32) {
        for g in 0..self.groups.len() {
            let gid = GroupId(g as u32);
            if self.groups[g].topic != t {
                continue;
            }
            for k in 0..count {
                let p = PartitionId(first.0 + k);
                self.groups[g].partitions.push(p);
                self.groups[g].committed.push(None);
            }
            for i in 0..self.groups[g].consumers.len() {
                let c = self.groups[g].consumers[i];
                let cons = &mut self.consumers[c.idx()];
                for k in 0..count {
                    let p = PartitionId(first.0 + k);
                    cons.leaders.push(self.controller.parts[p.idx()].leader);
                    cons.metadata_pending.push(false);
                    cons.metadata_token.push(0);
                    cons.metadata_attempts.push(0);
                    cons.metadata_retry_at.push(SimTime::ZERO);
                }
            }
            if self.groups[g].state == GroupState::Stable && self.groups[g].host.is_some() {
                let timeout = self.groups[g].spec.max_poll_interval_ms;
                self.prepare_rebalance(gid, timeout);
            }
        }
    }

    /// The processor's transaction finished.
    pub(crate) fn consumer_txn_done(&mut self, c: ConsumerId, committed: bool) {
        let cons = &mut self.consumers[c.idx()];
        if !cons.committing_txn {
            return;
        }
        cons.committing_txn = false;
        if committed {
            self.poll(c);
        } else {
            // Aborted: rewind to the committed offsets and process again.
            let cons = &mut self.consumers[c.idx()];
            for cp in &mut cons.parts {
                cp.buffered.clear();
                cp.fetching = None;
            }
            cons.state = ConsumerState::FetchingOffsets;
            self.resend(c, Outstanding::OffsetFetch);
        }
    }

    /// A non-transactional processor waiting in `flush()`: once every output is acknowledged it
    /// commits its input offsets.
    pub(crate) fn processor_flushed(&mut self, c: ConsumerId) {
        let cons = &self.consumers[c.idx()];
        let Some(p) = cons.producer else {
            return;
        };
        if !cons.committing_txn || self.producers[p.idx()].txn.is_some() {
            return;
        }
        if self.producers[p.idx()].idle() {
            self.consumers[c.idx()].committing_txn = false;
            self.commit_sync(c, AfterCommit::Poll);
        }
    }

    /// The processor's producer was fenced by a newer instance: the application shuts down.
    pub(crate) fn consumer_fenced(&mut self, c: ConsumerId) {
        let cons = &mut self.consumers[c.idx()];
        cons.committing_txn = false;
        cons.processing = false;
        cons.batch.clear();
        self.finish_leave(c);
    }

    /// The processor's producer got its producer id: processing may start.
    pub(crate) fn consumer_producer_ready(&mut self, c: ConsumerId) {
        self.poll(c);
    }

    /// A producer living in the consumer's process: for a processor's `output_topic` or the
    /// group's `dead_letter_topic`.
    fn create_embedded_producer(
        &mut self,
        g: GroupId,
        c: ConsumerId,
        n: usize,
        topic: TopicId,
        role: &str,
    ) -> ProducerId {
        let group = &self.groups[g.idx()];
        let consumer_name = self.consumers[c.idx()].name.clone();
        let spec = ProducerConfig {
            name: format!("{consumer_name}/{role}"),
            topic,
            acks: Acks::All,
            retries: i32::MAX as u32,
            idempotent: true,
            max_in_flight: 5,
            request_timeout_ms: group.spec.request_timeout_ms,
            delivery_timeout_ms: 120_000,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1000,
            linger_ms: 0,
            max_batch_records: group.spec.max_poll_records,
            transactional: None,
            workload: WorkloadConfig::Messages(Vec::new()),
        };
        let transactional_id =
            (group.spec.commit == CommitMode::Transactional).then(|| format!("{}-{n}", group.name));
        let partitions = self.k.topics[topic.idx()].partitions.clone();
        let pid = ProducerId(self.producers.len() as u32);
        // The output producer shares the consumer's node (their messages never collide); the
        // dead-letter producer gets a node of its own so replies and timers reach the right
        // producer, hosted by the consumer's. Both live, die and pause with the consumer's
        // process.
        let node = if role == "producer" {
            self.consumers[c.idx()].node
        } else {
            let node = NodeId(self.k.nodes.len() as u32);
            self.k.nodes.push(NodeState {
                name: spec.name.clone(),
                kind: NodeKind::Producer(pid),
                up: true,
                incarnation: 0,
                paused_until: None,
                host: Some(self.consumers[c.idx()].node),
            });
            self.k.net.ensure_nodes(self.k.nodes.len());
            node
        };
        let mut prod = crate::sim::producer::Producer::new(
            &spec,
            pid,
            node,
            topic,
            &partitions,
            crate::sim::producer::Workload::Explicit(Vec::new()),
        );
        if let Some(id) = transactional_id.as_deref() {
            let txn = self.txn_index(id, crate::sim::txn::DEFAULT_TRANSACTION_TIMEOUT_MS);
            prod.txn = Some(crate::sim::txn::TxnClient::new(
                txn,
                u32::MAX,
                partitions.len(),
            ));
        }
        prod.embedded_in = Some(c);
        self.producers.push(prod);
        pid
    }

    pub(crate) fn consumer_crashed(&mut self, c: ConsumerId) {
        if let Some(p) = self.consumers[c.idx()].producer {
            self.producer_crashed(p);
        }
        self.consumers[c.idx()].fetch_timer_armed = false;
        self.consumers[c.idx()].request_timer_armed = false;
        self.consumers[c.idx()].committing_txn = false;
        let cons = &mut self.consumers[c.idx()];
        cons.state = ConsumerState::Crashed;
        cons.parts.clear();
        cons.batch.clear();
        cons.batch_pos = 0;
        cons.processing = false;
        cons.outstanding = None;
        cons.coordinator_lookup = None;
        cons.lookup_attempts = 0;
        cons.lookup_retry_at = SimTime::ZERO;
        cons.metadata_pending.iter_mut().for_each(|m| *m = false);
        cons.metadata_attempts.iter_mut().for_each(|m| *m = 0);
        cons.metadata_retry_at
            .iter_mut()
            .for_each(|m| *m = SimTime::ZERO);
    }

    /// `remove-consumer`: a graceful close. With auto-commit, close() commits the consumed
    /// positions first; then a dynamic member sends LeaveGroup (a static one does not).
    pub(crate) fn consumer_leave(&mut self, c: ConsumerId) {
        let cons = &self.consumers[c.idx()];
        if !matches!(
            cons.state,
            ConsumerState::Active
                | ConsumerState::Joining
                | ConsumerState::Syncing
                | ConsumerState::FetchingOffsets
        ) {
            return;
        }
        let g = cons.group;
        let cons = &mut self.consumers[c.idx()];
        cons.processing = false;
        cons.batch.clear();
        if self.groups[g.idx()].spec.commit == CommitMode::Auto
            && self.consumers[c.idx()].state == ConsumerState::Active
        {
            self.commit_sync(c, AfterCommit::Leave);
        } else {
            self.finish_leave(c);
        }
    }

    fn finish_leave(&mut self, c: ConsumerId) {
        // KIP-345: a static member (`group.instance.id`) never sends LeaveGroup on close; the
        // coordinator keeps its assignment until `session.timeout.ms` expires, so a restart
        // within it causes no rebalance.
        let g = self.consumers[c.idx()].group;
        if !self.groups[g.idx()].spec.static_membership {
            self.send_to_coordinator(
                c,
                GroupRequest::Leave {
                    reason: LeaveReason::Left,
                },
            );
        }
        let cons = &mut self.consumers[c.idx()];
        cons.state = ConsumerState::Left;
        cons.parts.clear();
        let node = cons.node;
        // The process exits: nothing more runs on this node.
        self.k.nodes[node.idx()].up = false;
        self.k.nodes[node.idx()].incarnation += 1;
    }

    /// For the drain: has this group consumed everything it can?
    pub(crate) fn group_caught_up(&self, g: GroupId) -> bool {
        let group = &self.groups[g.idx()];
        let live: Vec<ConsumerId> = group
            .consumers
            .iter()
            .copied()
            .filter(|&c| {
                !matches!(
                    self.consumers[c.idx()].state,
                    ConsumerState::Crashed | ConsumerState::Left
                )
            })
            .collect();
        if live.is_empty() {
            // Nobody left to make progress.
            return group.members.is_empty();
        }
        if group.state != GroupState::Stable {
            return false;
        }
        for &p in &group.partitions {
            let st = self.controller.parts[p.idx()];
            let Some(leader) = st.leader else {
                continue;
            };
            let hw = self.partitions[p.idx()].replica(leader).map_or(0, |r| r.hw);
            let owner = group
                .members
                .iter()
                .find(|m| m.assignment.contains(&p))
                .map(|m| m.consumer);
            let Some(owner) = owner else {
                return false;
            };
            let cons = &self.consumers[owner.idx()];
            if cons.state != ConsumerState::Active || cons.processing || cons.outstanding.is_some()
            {
                return false;
            }
            let pos = cons
                .parts
                .iter()
                .find(|cp| cp.partition == p)
                .and_then(|cp| cp.position);
            if pos.is_none_or(|pos| pos < hw) {
                return false;
            }
        }
        true
    }
}

fn response_error(resp: &GroupResponse) -> ErrorCode {
    match resp {
        GroupResponse::Join { error, .. }
        | GroupResponse::Sync { error, .. }
        | GroupResponse::Heartbeat { error }
        | GroupResponse::Commit { error, .. }
        | GroupResponse::OffsetFetch { error, .. } => *error,
    }
}

/// Where a group's coordinator lives, given the unfenced brokers: the first of them from a hash
/// of the group name (standing in for the leader of the group's `__consumer_offsets`
/// partition). A simplification of FindCoordinator: the answer is computed from the broker list
/// a Metadata response carries, as the broker side computes it.
fn coordinator_among(group: &str, brokers: u32, unfenced: BrokerSet) -> Option<BrokerId> {
    let start = partition_for_key(group, brokers);
    (0..brokers)
        .map(|i| BrokerId((start + i) % brokers))
        .find(|&b| unfenced.contains(b))
}

/// Compute the assignment for the group's current members.
fn assign(group: &mut Group) {
    let mut order: Vec<usize> = (0..group.members.len()).collect();
    order.sort_by_key(|&i| (group.members[i].consumer, group.members[i].incarnation));
    let n = order.len();
    let parts = &group.partitions;
    let previous: Vec<Vec<PartitionId>> =
        group.members.iter().map(|m| m.assignment.clone()).collect();
    for m in &mut group.members {
        m.assignment.clear();
    }
    match group.spec.assignor {
        Assignor::Range => {
            // RangeAssignor: contiguous ranges, the first members get one extra.
            let per = parts.len() / n;
            let extra = parts.len() % n;
            let mut next = 0;
            for (k, &i) in order.iter().enumerate() {
                let take = per + usize::from(k < extra);
                group.members[i].assignment = parts[next..next + take].to_vec();
                next += take;
            }
        }
        Assignor::Roundrobin => {
            for (j, &p) in parts.iter().enumerate() {
                group.members[order[j % n]].assignment.push(p);
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
                        && group.members[i].assignment.len() < quota
                    {
                        owned[j] = true;
                        group.members[i].assignment.push(p);
                    }
                }
            }
            for (j, &p) in parts.iter().enumerate() {
                if !owned[j] {
                    let &i = order
                        .iter()
                        .min_by_key(|&&i| group.members[i].assignment.len())
                        .expect("members");
                    group.members[i].assignment.push(p);
                }
            }
            for m in &mut group.members {
                m.assignment.sort();
            }
        }
    }
}
