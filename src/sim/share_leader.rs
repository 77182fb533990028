//! The share-partition leader (KIP-932, Kafka's `SharePartitionManager`): the part of a broker
//! that serves `ShareFetch` / `ShareAcknowledge` for the partitions it leads, keeps their
//! [`SharePartition`]s in memory, runs their acquisition-lock timer and writes their state to
//! the share coordinator.
//!
//! Simplifications: the share coordinator and its `__share_group_state` topic are not
//! processes here. `WriteShareGroupState` and `ReadShareGroupState` are synchronous calls into
//! a durable store that stands for that replicated topic (it survives every crash), and a write
//! never fails. A share partition's memory is tied to the leader epoch it was loaded at: a
//! broker that lost and regained leadership loads it again, and a deposed leader's state is
//! dropped unwritten (Kafka fences it with the state epoch and leader epoch of
//! `WriteShareGroupState`). Locks are kept per record, not per batch.

use crate::sim::Timer;
use crate::sim::broker::Broker;
use crate::sim::config::OffsetReset;
use crate::sim::config::ShareConfig;
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::queue_policy::{self, QueuePolicy};
use crate::sim::share_partition::{
    AckType, Acquire, Change, Fifo, Limits, Persisted, RecordChange, SharePartition,
};
use crate::sim::trace::{ShareStep, Trace};
use crate::sim::wire::{AcquiredRecord, Msg, ShareMsg};

/// The share partitions a broker leads, and its one acquisition-lock timer.
#[derive(Clone, Debug, Default)]
pub struct ShareLeader {
    /// `(group, partition, leader epoch loaded at, state)`, in the order first fetched.
    partitions: Vec<(GroupId, PartitionId, u32, SharePartition)>,
    /// When the armed lock timer fires, if one is armed.
    timer_at: Option<SimTime>,
    /// Scratch for the changes of one request (reused, so serving allocates nothing).
    changes: Vec<RecordChange>,
    /// Queue receives that found nothing, held until a message arrives or the wait ends
    /// (SQS long polling, Redis BRPOP / XREADGROUP BLOCK, a RabbitMQ consumer's subscription).
    parked: Vec<Parked>,
}

/// A receive held open at the leader.
#[derive(Clone, Copy, Debug)]
struct Parked {
    from: NodeId,
    group: GroupId,
    consumer: ConsumerId,
    partition: PartitionId,
    token: u32,
    max_records: u32,
    until: SimTime,
}

/// A ShareFetch (or, with `close`, a ShareAcknowledge) as the leader reads it.
pub(crate) struct ShareFetchRequest<'a> {
    pub group: GroupId,
    pub consumer: ConsumerId,
    pub partition: PartitionId,
    pub token: u32,
    pub max_records: u32,
    pub acks: &'a [(u64, AckType)],
    pub close: bool,
    /// A held queue receive tried again: when its wait ends.
    pub parked_until: Option<SimTime>,
}

impl ShareLeader {
    /// The broker died: the in-flight state and the timer are gone.
    pub(crate) fn crash(&mut self) {
        self.partitions.clear();
        self.timer_at = None;
        self.parked.clear();
    }

    /// Receives are held open here, waiting for messages.
    pub(crate) fn has_parked(&self) -> bool {
        !self.parked.is_empty()
    }

    /// The share partition of `group` on `p`, if this broker has it loaded.
    pub fn get(&self, group: GroupId, p: PartitionId) -> Option<&SharePartition> {
        self.partitions
            .iter()
            .find(|(g, q, _, _)| *g == group && *q == p)
            .map(|(_, _, _, sp)| sp)
    }

    fn arm(&mut self, cx: &mut Cx) {
        let next = self
            .partitions
            .iter()
            .filter_map(|(_, _, _, sp)| sp.next_deadline())
            .chain(self.parked.iter().map(|p| p.until))
            .min();
        if let Some(at) = next
            && self.timer_at.is_none_or(|t| at < t)
        {
            self.timer_at = Some(at);
            cx.set_timer(at.0.saturating_sub(cx.now().0), Timer::ShareLeader);
        }
    }
}

impl Broker {
    /// ShareFetch / ShareAcknowledge for a partition this broker should lead.
    pub(crate) fn on_share_fetch(&mut self, from: NodeId, req: ShareFetchRequest, cx: &mut Cx) {
        let reply = |cx: &mut Cx, error: ErrorCode, records: Box<[AcquiredRecord]>| {
            cx.send(
                from,
                Msg::Share(ShareMsg::FetchResponse {
                    partition: req.partition,
                    token: req.token,
                    error,
                    records,
                }),
            )
        };
        let (replica, shares) = self.replica_and_shares(req.partition);
        let Some(replica) = replica.filter(|r| r.is_leader()) else {
            reply(cx, ErrorCode::NotLeaderOrFollower, Box::new([]));
            return;
        };
        let Some((config, reset)) = cx.share_config(req.group) else {
            // Not a share group: no member of it can have sent this.
            reply(cx, ErrorCode::UnknownMemberId, Box::new([]));
            return;
        };
        let limits = limits_of(&config);
        let policy = cx.queue_policy(req.group);
        let heartbeat_frame = req.max_records == 0 && !req.close && req.acks.is_empty();
        if !heartbeat_frame {
            // A newer receive from the same consumer replaces one held open.
            shares.parked.retain(|p| {
                !(p.group == req.group
                    && p.consumer == req.consumer
                    && p.partition == req.partition)
            });
        }
        let epoch = replica.leader_epoch();
        let hw = replica.hw();
        let log = replica.log();
        let msg_at = |o: u64| log.get(o as usize).and_then(|e| e.message());
        let slot = shares
            .partitions
            .iter()
            .position(|(g, p, _, _)| *g == req.group && *p == req.partition);
        let slot = match slot {
            Some(i) if shares.partitions[i].2 == epoch => i,
            stale => {
                if let Some(i) = stale {
                    shares.partitions.remove(i);
                }
                // ReadShareGroupState, or a share partition never seen: its SPSO by
                // `share.auto.offset.reset` (the log's start, or the high watermark).
                let sp = match cx.share_state(req.group, req.partition) {
                    Some(state) => SharePartition::load(state, msg_at),
                    None => {
                        // A queue holds every message sent to it until one is consumed:
                        // its consumers start at the beginning whatever `auto.offset.reset`.
                        let spso = match reset {
                            _ if policy.is_some() => 0,
                            OffsetReset::Earliest => 0,
                            OffsetReset::Latest => hw,
                        };
                        cx.emit(Trace::OffsetReset {
                            group: req.group,
                            consumer: req.consumer,
                            partition: req.partition,
                            offset: spso,
                        });
                        SharePartition::new(spso)
                    }
                };
                shares
                    .partitions
                    .push((req.group, req.partition, epoch, sp));
                shares.partitions.len() - 1
            }
        };
        let mut changes = std::mem::take(&mut shares.changes);
        changes.clear();
        let sp = &mut shares.partitions[slot].3;
        if policy.is_some_and(|p| p.channel) {
            // Any frame from a live channel keeps its unacked messages.
            sp.renew(req.consumer, cx.now().plus_us(limits.lock_duration_us));
            if heartbeat_frame {
                // A heartbeat frame: nothing to answer.
                shares.arm(cx);
                return;
            }
        }
        for &(offset, ack) in req.acks {
            sp.acknowledge(req.consumer, offset, ack, limits, &mut changes);
        }
        let mut records = Vec::new();
        if req.close {
            // close(): whatever the member still holds is released.
            let held: Vec<u64> = sp
                .in_flight()
                .filter(|r| {
                    matches!(r.state, crate::sim::share_partition::RecordState::Acquired { member, .. } if member == req.consumer)
                })
                .map(|r| r.offset)
                .collect();
            for offset in held {
                sp.acknowledge(req.consumer, offset, AckType::Release, limits, &mut changes);
            }
        } else {
            let first = changes.len();
            let acquire = Acquire {
                member: req.consumer,
                max_records: req.max_records,
                now: cx.now(),
            };
            let fifo_queue = policy.is_some_and(|p| p.fifo);
            let group_of = |m: MsgId| cx.msg_info(m).key;
            let fifo = Fifo {
                group_of: &group_of,
            };
            let fifo = fifo_queue.then_some(&fifo);
            sp.acquire_with(acquire, hw, msg_at, fifo, limits, &mut changes);
            records.extend(changes[first..].iter().map(|c| AcquiredRecord {
                offset: c.offset,
                msg: c.msg,
                delivery_count: c.delivery_count,
            }));
            if policy.is_some_and(|p| p.settle_on_send) {
                // auto-ack / BRPOP: the queue forgets the message as it sends it.
                let acquired: Vec<u64> = records.iter().map(|r| r.offset).collect();
                for offset in acquired {
                    sp.acknowledge(req.consumer, offset, AckType::Accept, limits, &mut changes);
                }
            }
        }
        emit_changes(req.group, req.partition, &changes, policy, cx);
        cx.write_share_state(req.group, req.partition, |state| sp.persist_into(state));
        shares.changes = changes;
        if records.is_empty() && !req.close && req.max_records > 0 && policy.is_some() {
            let until = req
                .parked_until
                .unwrap_or(cx.now().plus_ms(queue_policy::LONG_POLL_MS));
            if cx.now() < until {
                shares.parked.push(Parked {
                    from,
                    group: req.group,
                    consumer: req.consumer,
                    partition: req.partition,
                    token: req.token,
                    max_records: req.max_records,
                    until,
                });
                shares.arm(cx);
                return;
            }
        }
        shares.arm(cx);
        reply(cx, ErrorCode::None, records.into_boxed_slice());
    }

    /// Try the receives held open again: something happened here (a write, an
    /// acknowledgement, a lock running out) that may have made messages ready, or a wait ended.
    pub(crate) fn serve_parked(&mut self, cx: &mut Cx) {
        let parked = std::mem::take(&mut self.shares.parked);
        for p in parked {
            let req = ShareFetchRequest {
                group: p.group,
                consumer: p.consumer,
                partition: p.partition,
                token: p.token,
                max_records: p.max_records,
                acks: &[],
                close: false,
                parked_until: Some(p.until),
            };
            self.on_share_fetch(p.from, req, cx);
        }
    }

    /// A queue consumer's connection was reset (it crashed): its held receives end, and on a
    /// RabbitMQ channel its unacked messages are requeued.
    pub(crate) fn on_queue_consumer_gone(&mut self, consumer: ConsumerId, cx: &mut Cx) {
        self.shares.parked.retain(|p| p.consumer != consumer);
        let mut changes = std::mem::take(&mut self.shares.changes);
        for i in 0..self.shares.partitions.len() {
            let (g, p, _, _) = self.shares.partitions[i];
            let Some(policy) = cx.queue_policy(g).filter(|q| q.channel) else {
                continue;
            };
            let limits = limits_of(&policy.share);
            changes.clear();
            let sp = &mut self.shares.partitions[i].3;
            sp.release_member(consumer, limits, &mut changes);
            if !changes.is_empty() {
                emit_changes(g, p, &changes, Some(policy), cx);
                cx.write_share_state(g, p, |state| sp.persist_into(state));
            }
        }
        self.shares.changes = changes;
        self.shares.arm(cx);
    }

    /// The acquisition-lock timer: expire the locks that ran out, in every share partition
    /// this broker still leads at the epoch it loaded it at (a deposed leader's are dropped).
    pub(crate) fn on_share_lock_timer(&mut self, cx: &mut Cx) {
        let now = cx.now();
        if self.shares.timer_at.is_some_and(|t| t <= now) {
            self.shares.timer_at = None;
        }
        let mut changes = std::mem::take(&mut self.shares.changes);
        let mut i = 0;
        while i < self.shares.partitions.len() {
            let (g, p, epoch, _) = self.shares.partitions[i];
            let leads = self
                .replica(p)
                .is_some_and(|r| r.is_leader() && r.leader_epoch() == epoch);
            if !leads {
                self.shares.partitions.remove(i);
                continue;
            }
            let Some((config, _)) = cx.share_config(g) else {
                i += 1;
                continue;
            };
            let limits = limits_of(&config);
            changes.clear();
            let sp = &mut self.shares.partitions[i].3;
            sp.expire_locks(now, limits, &mut changes);
            if !changes.is_empty() {
                let policy = cx.queue_policy(g);
                emit_changes(g, p, &changes, policy, cx);
                cx.write_share_state(g, p, |state| sp.persist_into(state));
            }
            i += 1;
        }
        self.shares.changes = changes;
        self.shares.arm(cx);
    }
}

/// A share partition's limits from a group's share settings.
fn limits_of(config: &ShareConfig) -> Limits {
    Limits {
        lock_duration_us: config.record_lock_duration_ms * 1000,
        delivery_count_limit: config.delivery_count_limit,
        max_record_locks: config.partition_max_record_locks,
    }
}

/// One trace event per record change, and an `Archived` one after a change that archived.
/// On a queue (`policy`), an acceptance at send is `Settled`, a channel's lost lock is
/// `Requeued`, and an archive with no dead-letter target is `Dropped`.
fn emit_changes(
    group: GroupId,
    partition: PartitionId,
    changes: &[RecordChange],
    policy: Option<QueuePolicy>,
    cx: &mut Cx,
) {
    let settle_on_send = policy.is_some_and(|p| p.settle_on_send);
    let channel = policy.is_some_and(|p| p.channel);
    let archive_step = match policy {
        Some(p) if !p.dead_letter => ShareStep::Dropped,
        _ => ShareStep::Archived,
    };
    for c in changes {
        let (consumer, step, archived) = match c.change {
            Change::Acquired { member } => (member, ShareStep::Acquired, false),
            Change::Acknowledged {
                member,
                ack: AckType::Accept,
                ..
            } if settle_on_send => (member, ShareStep::Settled, false),
            Change::LockExpired { member, archived } if channel => {
                (member, ShareStep::Requeued, archived)
            }
            Change::Acknowledged {
                member,
                ack,
                archived,
            } => (
                member,
                ShareStep::Acknowledged(ack),
                archived || ack == AckType::Reject,
            ),
            Change::LockExpired { member, archived } => (member, ShareStep::LockExpired, archived),
        };
        let ev = |step| Trace::Share {
            group,
            consumer,
            partition,
            offset: c.offset,
            msg: c.msg,
            delivery_count: c.delivery_count,
            step,
        };
        cx.emit(ev(step));
        if archived {
            cx.emit(ev(archive_step));
        }
    }
}

/// The durable store of share-partition state (`__share_group_state`, see the module notes).
#[derive(Clone, Debug, Default)]
pub(crate) struct ShareStore {
    states: Vec<(GroupId, PartitionId, Persisted)>,
}

impl ShareStore {
    pub(crate) fn get(&self, g: GroupId, p: PartitionId) -> Option<&Persisted> {
        self.states
            .iter()
            .find(|(x, q, _)| *x == g && *q == p)
            .map(|(_, _, s)| s)
    }

    pub(crate) fn write(&mut self, g: GroupId, p: PartitionId, f: impl FnOnce(&mut Persisted)) {
        let i = match self.states.iter().position(|(x, q, _)| *x == g && *q == p) {
            Some(i) => i,
            None => {
                self.states.push((g, p, Persisted::default()));
                self.states.len() - 1
            }
        };
        f(&mut self.states[i].2);
    }
}
