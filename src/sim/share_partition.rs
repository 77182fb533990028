//! A share partition (KIP-932): one share group's view of one topic partition, kept by the
//! share-partition leader (the broker leading the topic partition).
//!
//! It follows Kafka's `SharePartition` (`core/src/main/java/kafka/server/share/`): the records
//! from the share-partition start offset (SPSO) up to the end offset (SPEO) are *in flight*,
//! each `Available`, `Acquired` (locked to one member until its acquisition lock times out),
//! `Acknowledged` or `Archived`, with a delivery count that rises on every acquisition.
//! Below the SPSO every record is done; from the SPEO on, none has been delivered yet.
//!
//! - ShareFetch acquires the available in-flight records first, then reads on from the SPEO
//!   up to the high watermark, keeping at most `group.share.partition.max.record.locks`
//!   records in flight; each acquisition takes a lock of `share.record.lock.duration.ms`.
//! - An acknowledgement from the member holding the lock: ACCEPT acknowledges, RELEASE makes
//!   the record available again, REJECT archives it (`AcknowledgeType`).
//! - A released or timed-out record whose delivery count has reached
//!   `share.delivery.count.limit` is archived instead of made available
//!   (`SharePartition.releaseAcquisitionLockOnTimeout`, `updateRecordState`).
//! - The SPSO moves past every leading record that is acknowledged or archived.
//!
//! Durability (KIP-932, "Managing durable share-partition state"): the leader writes its state
//! to the share coordinator (`WriteShareGroupState`) as `[first, last, state, delivery count]`
//! batches. The acquired state is transient and never written: an acquired record is written
//! as available with the delivery count it had before this acquisition, so a new leader
//! forgets the deliveries in flight and delivers those records again.

use std::collections::VecDeque;

use crate::sim::ids::SimTime;
use crate::sim::ids::{ConsumerId, MsgId};

/// The state of one in-flight record (Kafka's `RecordState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordState {
    Available,
    /// Locked to `member` until `deadline` (the acquisition lock).
    Acquired {
        member: ConsumerId,
        deadline: SimTime,
    },
    Acknowledged,
    Archived,
}

impl RecordState {
    /// One word, for the trace and the TUI.
    pub fn name(self) -> &'static str {
        match self {
            RecordState::Available => "available",
            RecordState::Acquired { .. } => "acquired",
            RecordState::Acknowledged => "acked",
            RecordState::Archived => "archived",
        }
    }

    /// The glyph the TUI shows next to the word (colour is never the only signal).
    pub fn glyph(self) -> char {
        match self {
            RecordState::Available => '○',
            RecordState::Acquired { .. } => '◐',
            RecordState::Acknowledged => '✓',
            RecordState::Archived => '☠',
        }
    }

    fn done(self) -> bool {
        matches!(self, RecordState::Acknowledged | RecordState::Archived)
    }
}

/// How a consumer acknowledges a record (Kafka's `AcknowledgeType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AckType {
    /// Processed: never deliver it again.
    Accept,
    /// Not processed: deliver it again (to any member).
    Release,
    /// Unprocessable: archive it.
    Reject,
}

impl AckType {
    pub fn name(self) -> &'static str {
        match self {
            AckType::Accept => "ACCEPT",
            AckType::Release => "RELEASE",
            AckType::Reject => "REJECT",
        }
    }
}

/// One in-flight record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub offset: u64,
    /// The application message at this offset; `None` for a control record (a transaction
    /// marker), which is never delivered.
    pub msg: Option<MsgId>,
    pub state: RecordState,
    pub delivery_count: u32,
}

/// What happened to one record, for the trace: the broker turns each into a trace event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Acquired by `member` (its `delivery_count`-th delivery).
    Acquired { member: ConsumerId },
    /// Acknowledged by `member` with `ack`; `archived` if a release hit the delivery limit.
    Acknowledged {
        member: ConsumerId,
        ack: AckType,
        archived: bool,
    },
    /// The acquisition lock of `member` timed out; `archived` if the delivery limit was hit.
    LockExpired { member: ConsumerId, archived: bool },
}

/// One change to one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordChange {
    pub offset: u64,
    pub msg: MsgId,
    pub delivery_count: u32,
    pub change: Change,
}

/// A ShareFetch's acquisition: who acquires, how many records at most, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acquire {
    pub member: ConsumerId,
    pub max_records: u32,
    pub now: SimTime,
}

/// The settings a share partition enforces (the group's `share.*` configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub lock_duration_us: u64,
    pub delivery_count_limit: u32,
    pub max_record_locks: u32,
}

/// The durable state the share coordinator keeps for one share partition
/// (`ShareSnapshot`: the start offset and `[state, delivery count]` per in-flight record).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Persisted {
    pub spso: u64,
    /// From the SPSO on: each record's state (never `Acquired`) and delivery count.
    pub records: Vec<(RecordState, u32)>,
}

/// An SQS FIFO queue's rules, as closures over what the leader knows.
pub struct Fifo<'a> {
    /// The message group (`MessageGroupId`: the key; `None` for a keyless message, one group).
    pub group_of: &'a dyn Fn(MsgId) -> Option<u32>,
}

/// One share group's share partition on its leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharePartition {
    spso: u64,
    /// The in-flight records, offsets `spso..spso + records.len()` (the SPEO).
    records: VecDeque<InFlight>,
}

impl SharePartition {
    /// A share partition seen for the first time, starting at `spso` (`share.auto.offset.reset`:
    /// the log start for `earliest`, the high watermark for `latest`).
    pub fn new(spso: u64) -> SharePartition {
        SharePartition {
            spso,
            records: VecDeque::new(),
        }
    }

    /// A new leader's share partition, loaded from the share coordinator
    /// (`ReadShareGroupState`). `msg_at` reads the message at an offset from the local log.
    pub fn load(state: &Persisted, msg_at: impl Fn(u64) -> Option<MsgId>) -> SharePartition {
        let records = state
            .records
            .iter()
            .enumerate()
            .map(|(i, &(st, count))| {
                let offset = state.spso + i as u64;
                InFlight {
                    offset,
                    msg: msg_at(offset),
                    state: st,
                    delivery_count: count,
                }
            })
            .collect();
        SharePartition {
            spso: state.spso,
            records,
        }
    }

    /// The share-partition start offset.
    pub fn spso(&self) -> u64 {
        self.spso
    }

    /// The share-partition end offset: the next offset to read from the log.
    pub fn speo(&self) -> u64 {
        self.spso + self.records.len() as u64
    }

    pub fn in_flight(&self) -> impl Iterator<Item = &InFlight> {
        self.records.iter()
    }

    /// The earliest acquisition-lock deadline, for the broker's lock timer.
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.records
            .iter()
            .filter_map(|r| match r.state {
                RecordState::Acquired { deadline, .. } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// What the share coordinator keeps: acquired records as available, with the delivery
    /// count they had before (KIP-932: "an Acquired record with a delivery count of 1 is
    /// recorded as Available with a delivery count of 0"). Reuses `out`'s allocation.
    pub fn persist_into(&self, out: &mut Persisted) {
        out.spso = self.spso;
        out.records.clear();
        out.records
            .extend(self.records.iter().map(|r| match r.state {
                RecordState::Acquired { .. } => {
                    (RecordState::Available, r.delivery_count.saturating_sub(1))
                }
                st => (st, r.delivery_count),
            }));
    }

    /// ShareFetch: acquire up to `req.max_records` records for `req.member`, the available in-flight
    /// ones first (lowest offset first), then new ones read from the log below `hw`
    /// (`msg_at` gives the message at an offset, `None` for a control record). Appends what it
    /// acquired to `out`.
    pub fn acquire(
        &mut self,
        req: Acquire,
        hw: u64,
        msg_at: impl Fn(u64) -> Option<MsgId>,
        limits: Limits,
        out: &mut Vec<RecordChange>,
    ) {
        self.acquire_with(req, hw, msg_at, None, limits, out)
    }

    /// [`Self::acquire`] for a queue with `fifo` rules (SQS FIFO): a message group with a
    /// message in flight gets nothing more until that one is done, and a send repeated with
    /// the same deduplication id is never delivered (see [`Fifo`]).
    pub fn acquire_with(
        &mut self,
        req: Acquire,
        hw: u64,
        msg_at: impl Fn(u64) -> Option<MsgId>,
        fifo: Option<&Fifo>,
        limits: Limits,
        out: &mut Vec<RecordChange>,
    ) {
        let member = req.member;
        let deadline = req.now.plus_us(limits.lock_duration_us);
        let mut left = req.max_records;
        // The message groups with a message in flight before this receive.
        let held: Vec<Option<u32>> = match fifo {
            Some(f) => self
                .records
                .iter()
                .filter(|r| matches!(r.state, RecordState::Acquired { .. }))
                .filter_map(|r| r.msg.map(|m| (f.group_of)(m)))
                .collect(),
            None => Vec::new(),
        };
        let blocked = |m: MsgId| fifo.is_some_and(|f| held.contains(&(f.group_of)(m)));
        for r in self.records.iter_mut() {
            if left == 0 {
                break;
            }
            if r.state == RecordState::Available
                && let Some(msg) = r.msg
                && !blocked(msg)
            {
                r.state = RecordState::Acquired { member, deadline };
                r.delivery_count += 1;
                left -= 1;
                out.push(RecordChange {
                    offset: r.offset,
                    msg,
                    delivery_count: r.delivery_count,
                    change: Change::Acquired { member },
                });
            }
        }
        // Read on from the SPEO, holding at most `max_record_locks` records in flight.
        while left > 0
            && self.speo() < hw
            && (self.records.len() as u64) < limits.max_record_locks as u64
        {
            let offset = self.speo();
            let msg = msg_at(offset);
            let record = match msg {
                Some(msg) if blocked(msg) => InFlight {
                    offset,
                    msg: Some(msg),
                    state: RecordState::Available,
                    delivery_count: 0,
                },
                Some(msg) => {
                    left -= 1;
                    out.push(RecordChange {
                        offset,
                        msg,
                        delivery_count: 1,
                        change: Change::Acquired { member },
                    });
                    InFlight {
                        offset,
                        msg: Some(msg),
                        state: RecordState::Acquired { member, deadline },
                        delivery_count: 1,
                    }
                }
                // A control record is not delivered: it is done as soon as it is read.
                None => InFlight {
                    offset,
                    msg: None,
                    state: RecordState::Acknowledged,
                    delivery_count: 0,
                },
            };
            self.records.push_back(record);
        }
        self.advance_spso();
    }

    /// Every record `member` holds gets its lock extended to `deadline` (a RabbitMQ channel
    /// that is alive keeps its unacked messages).
    pub fn renew(&mut self, member: ConsumerId, deadline: SimTime) {
        for r in self.records.iter_mut() {
            if let RecordState::Acquired { member: m, .. } = r.state
                && m == member
            {
                r.state = RecordState::Acquired { member, deadline };
            }
        }
    }

    /// `member` is gone (its channel closed): every record it holds is released as if its
    /// lock ran out (available again, or archived at the delivery limit).
    pub fn release_member(
        &mut self,
        member: ConsumerId,
        limits: Limits,
        out: &mut Vec<RecordChange>,
    ) {
        self.expire_where(|m, _| m == member, limits, out);
    }

    /// An acknowledgement from `member`. Only a record acquired by `member` can be
    /// acknowledged; anything else (its lock timed out, it was never this member's) is
    /// refused, as Kafka's `InvalidRecordStateException`, and changes nothing.
    pub fn acknowledge(
        &mut self,
        member: ConsumerId,
        offset: u64,
        ack: AckType,
        limits: Limits,
        out: &mut Vec<RecordChange>,
    ) -> bool {
        let Some(i) = offset.checked_sub(self.spso) else {
            return false;
        };
        let Some(r) = self.records.get_mut(i as usize) else {
            return false;
        };
        match r.state {
            RecordState::Acquired { member: m, .. } if m == member => {}
            _ => return false,
        }
        let (state, archived) = match ack {
            AckType::Accept => (RecordState::Acknowledged, false),
            AckType::Reject => (RecordState::Archived, false),
            AckType::Release => release_state(r.delivery_count, limits),
        };
        r.state = state;
        if let Some(msg) = r.msg {
            out.push(RecordChange {
                offset,
                msg,
                delivery_count: r.delivery_count,
                change: Change::Acknowledged {
                    member,
                    ack,
                    archived,
                },
            });
        }
        self.advance_spso();
        true
    }

    /// The acquisition-lock timer: every record whose lock ran out by `now` becomes available
    /// again, or archived at the delivery count limit.
    pub fn expire_locks(&mut self, now: SimTime, limits: Limits, out: &mut Vec<RecordChange>) {
        self.expire_where(|_, deadline| deadline <= now, limits, out);
    }

    fn expire_where(
        &mut self,
        expired: impl Fn(ConsumerId, SimTime) -> bool,
        limits: Limits,
        out: &mut Vec<RecordChange>,
    ) {
        for r in self.records.iter_mut() {
            if let RecordState::Acquired { member, deadline } = r.state
                && expired(member, deadline)
            {
                let (state, archived) = release_state(r.delivery_count, limits);
                r.state = state;
                if let Some(msg) = r.msg {
                    out.push(RecordChange {
                        offset: r.offset,
                        msg,
                        delivery_count: r.delivery_count,
                        change: Change::LockExpired { member, archived },
                    });
                }
            }
        }
        self.advance_spso();
    }

    /// Moves the SPSO past the leading records that are done, dropping them.
    fn advance_spso(&mut self) {
        while self.records.front().is_some_and(|r| r.state.done()) {
            self.records.pop_front();
            self.spso += 1;
        }
    }
}

/// Where a released or timed-out record goes: available again, or archived once its
/// deliveries reached `share.delivery.count.limit`.
fn release_state(delivery_count: u32, limits: Limits) -> (RecordState, bool) {
    if delivery_count >= limits.delivery_count_limit {
        (RecordState::Archived, true)
    } else {
        (RecordState::Available, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ConsumerId = ConsumerId(0);
    const B: ConsumerId = ConsumerId(1);
    const LIMITS: Limits = Limits {
        lock_duration_us: 30_000_000,
        delivery_count_limit: 3,
        max_record_locks: 4,
    };

    /// Offset `o` holds message `100 + o`; offset 5 is a control record.
    fn msg_at(o: u64) -> Option<MsgId> {
        (o != 5).then_some(MsgId(100 + o as u32))
    }

    fn t(ms: u64) -> SimTime {
        SimTime::from_ms(ms)
    }

    fn acquire(sp: &mut SharePartition, m: ConsumerId, n: u32, hw: u64, at: u64) -> Vec<u64> {
        let mut out = Vec::new();
        sp.acquire(
            Acquire {
                member: m,
                max_records: n,
                now: t(at),
            },
            hw,
            msg_at,
            LIMITS,
            &mut out,
        );
        out.iter().map(|c| c.offset).collect()
    }

    fn states(sp: &SharePartition) -> Vec<(u64, &'static str, u32)> {
        sp.in_flight()
            .map(|r| (r.offset, r.state.name(), r.delivery_count))
            .collect()
    }

    #[test]
    fn acquisition_reads_from_the_speo_up_to_the_high_watermark_and_locks() {
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, A, 2, 10, 0), [0, 1]);
        assert_eq!((sp.spso(), sp.speo()), (0, 2));
        assert_eq!(acquire(&mut sp, B, 10, 3, 0), [2], "only below the HW");
        assert_eq!(
            states(&sp),
            [(0, "acquired", 1), (1, "acquired", 1), (2, "acquired", 1)]
        );
        assert_eq!(sp.next_deadline(), Some(t(30_000)));
        // Nobody gets a record another member holds.
        assert!(acquire(&mut sp, B, 10, 3, 1).is_empty());
    }

    #[test]
    fn the_in_flight_window_is_bounded_by_max_record_locks() {
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, A, 100, 100, 0), [0, 1, 2, 3]);
        assert_eq!(sp.speo(), 4);
        let mut out = Vec::new();
        assert!(sp.acknowledge(A, 0, AckType::Accept, LIMITS, &mut out));
        // The SPSO moved, so one more record may be in flight.
        assert_eq!(sp.spso(), 1);
        assert_eq!(acquire(&mut sp, B, 100, 100, 0), [4]);
    }

    #[test]
    fn accept_advances_the_spso_only_over_a_done_prefix() {
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, A, 3, 10, 0);
        let mut out = Vec::new();
        assert!(sp.acknowledge(A, 1, AckType::Accept, LIMITS, &mut out));
        assert_eq!(sp.spso(), 0, "offset 0 is still acquired");
        assert!(sp.acknowledge(A, 0, AckType::Accept, LIMITS, &mut out));
        assert_eq!(sp.spso(), 2);
        assert_eq!(states(&sp), [(2, "acquired", 1)]);
    }

    #[test]
    fn release_makes_a_record_available_and_the_next_acquisition_counts_a_delivery() {
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, A, 1, 10, 0);
        let mut out = Vec::new();
        assert!(sp.acknowledge(A, 0, AckType::Release, LIMITS, &mut out));
        assert_eq!(states(&sp), [(0, "available", 1)]);
        let mut got = Vec::new();
        sp.acquire(
            Acquire {
                member: B,
                max_records: 1,
                now: t(5),
            },
            10,
            msg_at,
            LIMITS,
            &mut got,
        );
        assert_eq!(got[0].offset, 0);
        assert_eq!(got[0].delivery_count, 2);
        assert_eq!(got[0].change, Change::Acquired { member: B });
    }

    #[test]
    fn only_the_lock_holder_can_acknowledge() {
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, A, 1, 10, 0);
        let mut out = Vec::new();
        assert!(!sp.acknowledge(B, 0, AckType::Accept, LIMITS, &mut out));
        assert!(!sp.acknowledge(A, 7, AckType::Accept, LIMITS, &mut out));
        assert!(out.is_empty());
        assert_eq!(states(&sp), [(0, "acquired", 1)]);
    }

    #[test]
    fn an_expired_lock_makes_the_record_available_and_a_late_ack_is_refused() {
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, A, 2, 10, 0);
        let mut out = Vec::new();
        sp.expire_locks(t(29_999), LIMITS, &mut out);
        assert!(out.is_empty(), "not yet");
        sp.expire_locks(t(30_000), LIMITS, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].change,
            Change::LockExpired {
                member: A,
                archived: false
            }
        );
        assert_eq!(states(&sp), [(0, "available", 1), (1, "available", 1)]);
        assert_eq!(sp.next_deadline(), None);
        out.clear();
        assert!(!sp.acknowledge(A, 0, AckType::Accept, LIMITS, &mut out));
        assert_eq!(acquire(&mut sp, B, 5, 2, 31_000), [0, 1]);
    }

    #[test]
    fn a_record_is_archived_when_released_at_the_delivery_count_limit() {
        let mut sp = SharePartition::new(0);
        let mut out = Vec::new();
        for delivery in 1..=3 {
            out.clear();
            sp.acquire(
                Acquire {
                    member: A,
                    max_records: 1,
                    now: t(0),
                },
                1,
                msg_at,
                LIMITS,
                &mut out,
            );
            assert_eq!(out[0].delivery_count, delivery);
            out.clear();
            sp.acknowledge(A, 0, AckType::Release, LIMITS, &mut out);
            let archived = delivery == 3;
            assert_eq!(
                out[0].change,
                Change::Acknowledged {
                    member: A,
                    ack: AckType::Release,
                    archived
                }
            );
        }
        // Archived and so done: the SPSO moved past it, and nobody gets it again.
        assert_eq!((sp.spso(), sp.speo()), (1, 1));
        assert!(acquire(&mut sp, B, 5, 1, 0).is_empty());
    }

    #[test]
    fn a_lock_expiry_at_the_limit_archives_too_and_reject_archives_at_once() {
        let mut sp = SharePartition::new(0);
        let mut out = Vec::new();
        for _ in 0..3 {
            sp.acquire(
                Acquire {
                    member: A,
                    max_records: 1,
                    now: t(0),
                },
                1,
                msg_at,
                LIMITS,
                &mut out,
            );
            sp.expire_locks(t(1_000_000), LIMITS, &mut out);
        }
        let last = out.last().unwrap();
        assert_eq!(
            last.change,
            Change::LockExpired {
                member: A,
                archived: true
            }
        );
        assert_eq!(sp.spso(), 1);
        acquire(&mut sp, A, 1, 2, 0);
        out.clear();
        assert!(sp.acknowledge(A, 1, AckType::Reject, LIMITS, &mut out));
        assert_eq!(sp.spso(), 2, "a rejected record is archived");
    }

    #[test]
    fn control_records_are_never_delivered() {
        let mut sp = SharePartition::new(4);
        assert_eq!(acquire(&mut sp, A, 2, 8, 0), [4, 6]);
        assert_eq!(
            states(&sp),
            [(4, "acquired", 1), (5, "acked", 0), (6, "acquired", 1)]
        );
    }

    #[test]
    fn the_persisted_state_forgets_acquisitions_in_flight() {
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, A, 3, 10, 0);
        let mut out = Vec::new();
        sp.acknowledge(A, 1, AckType::Accept, LIMITS, &mut out);
        sp.acknowledge(A, 2, AckType::Release, LIMITS, &mut out);
        let mut p = Persisted::default();
        sp.persist_into(&mut p);
        assert_eq!(p.spso, 0);
        assert_eq!(
            p.records,
            [
                (RecordState::Available, 0),
                (RecordState::Acknowledged, 1),
                (RecordState::Available, 1)
            ]
        );
        // A new leader loads it: offset 0's delivery is forgotten and it goes out again
        // (as its first delivery); offset 1 stays acknowledged.
        let mut new = SharePartition::load(&p, msg_at);
        let mut got = Vec::new();
        new.acquire(
            Acquire {
                member: B,
                max_records: 10,
                now: t(0),
            },
            3,
            msg_at,
            LIMITS,
            &mut got,
        );
        let got: Vec<(u64, u32)> = got.iter().map(|c| (c.offset, c.delivery_count)).collect();
        assert_eq!(got, [(0, 1), (2, 2)]);
    }

    /// Offsets 0..6 hold messages 100..106; message group = message % 2 (two groups).
    fn fifo_acquire(sp: &mut SharePartition, m: ConsumerId, n: u32) -> Vec<u64> {
        let group_of = |msg: MsgId| Some(msg.0 % 2);
        let fifo = Fifo {
            group_of: &group_of,
        };
        let mut out = Vec::new();
        let req = Acquire {
            member: m,
            max_records: n,
            now: t(0),
        };
        sp.acquire_with(req, 5, msg_at, Some(&fifo), LIMITS, &mut out);
        out.iter().map(|c| c.offset).collect()
    }

    #[test]
    fn fifo_holds_a_message_group_while_one_of_its_messages_is_in_flight() {
        let mut sp = SharePartition::new(0);
        // One receive may take a group's messages in order.
        assert_eq!(fifo_acquire(&mut sp, A, 1), [0]);
        // Group 0 (offsets 0, 2, 4) is held; group 1 flows.
        assert_eq!(fifo_acquire(&mut sp, B, 10), [1, 3]);
        assert!(fifo_acquire(&mut sp, B, 10).is_empty());
        let mut out = Vec::new();
        assert!(sp.acknowledge(A, 0, AckType::Accept, LIMITS, &mut out));
        assert_eq!(fifo_acquire(&mut sp, A, 10), [2, 4], "released in order");
    }

    #[test]
    fn a_renewed_lock_outlives_its_first_deadline_and_a_gone_member_releases_all() {
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, A, 2, 10, 0);
        acquire(&mut sp, B, 1, 10, 0);
        sp.renew(A, t(50_000));
        let mut out = Vec::new();
        sp.expire_locks(t(30_000), LIMITS, &mut out);
        assert_eq!(out.len(), 1, "only B's lock ran out");
        out.clear();
        sp.release_member(A, LIMITS, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            states(&sp),
            [
                (0, "available", 1),
                (1, "available", 1),
                (2, "available", 1)
            ]
        );
    }
}
