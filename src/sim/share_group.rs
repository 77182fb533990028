//! A share group's membership and assignment (KIP-932), the group coordinator's share-group
//! part: members heartbeat with `ShareGroupHeartbeat` (built on KIP-848's heartbeat), the
//! coordinator bumps the group epoch when a member joins or leaves and assigns partitions with
//! the simple assignor, and removes a member whose heartbeats stop for
//! `group.share.session.timeout.ms`.
//!
//! The simple assignor (`SimpleAssignor` in Kafka's group coordinator; KIP-932: "it attempts
//! to balance the number of consumers assigned to the subscribed partitions"): with at least as
//! many members as partitions every member gets one partition and the partitions are shared
//! evenly; with fewer, the partitions are spread evenly over the members. Share partitions are
//! not owned exclusively, so a member takes its new assignment at once: there is no
//! revocation step (a record it still holds simply stays locked to it until it acknowledges it
//! or the lock runs out).
//!
//! Simplifications: the coordinator lives where every coordinator here lives
//! ([`crate::sim::coordinator`]) and its members survive its failover (Kafka's
//! `ShareGroupMemberMetadata` records keep the members; their assignment is recomputed); the
//! assignment is computed at once on every epoch bump (Kafka: every
//! `group.share.assignment.interval.ms`).

use crate::sim::Timer;
use crate::sim::config::ShareConfig;
use crate::sim::coordinator::Metadata;
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::trace::{LeaveReason, Trace};
use crate::sim::wire::{Msg, ShareMsg};

/// A `ShareGroupHeartbeat` as the coordinator reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Heartbeat {
    pub(crate) consumer: ConsumerId,
    /// 0 to join, -1 to leave, else the member's epoch.
    pub(crate) member_epoch: i32,
    pub(crate) token: u32,
}

/// One member, as the coordinator knows it.
#[derive(Clone, Debug)]
pub struct ShareMember {
    pub consumer: ConsumerId,
    /// The group epoch of the assignment it was last sent.
    pub member_epoch: u32,
    pub last_heartbeat: SimTime,
    pub assignment: Vec<PartitionId>,
}

/// One share group's coordinator state.
#[derive(Clone, Debug)]
pub struct ShareGroup {
    pub group: GroupId,
    pub name: String,
    pub partitions: Vec<PartitionId>,
    config: ShareConfig,
    pub group_epoch: u32,
    /// In join order (the assignor's member order).
    members: Vec<ShareMember>,
}

impl ShareGroup {
    pub(crate) fn new(
        group: GroupId,
        name: &str,
        partitions: Vec<PartitionId>,
        config: ShareConfig,
    ) -> ShareGroup {
        ShareGroup {
            group,
            name: name.to_string(),
            partitions,
            config,
            group_epoch: 0,
            members: Vec::new(),
        }
    }

    pub fn members(&self) -> &[ShareMember] {
        &self.members
    }

    /// The topic grew: the new partitions are assigned at the next epoch.
    pub(crate) fn partitions_added(&mut self, added: &[PartitionId]) {
        self.partitions.extend_from_slice(added);
        self.bump();
    }

    /// A `ShareGroupHeartbeat` arrived at broker `b`.
    pub(crate) fn on_heartbeat(
        &mut self,
        b: BrokerId,
        from: NodeId,
        hb: Heartbeat,
        meta: &Metadata,
        cx: &mut Cx,
    ) {
        let Heartbeat {
            consumer,
            member_epoch,
            token,
        } = hb;
        let heartbeat_interval_ms = self.config.heartbeat_interval_ms;
        let reply = |cx: &mut Cx, error: ErrorCode, epoch: i32, assignment: Box<[PartitionId]>| {
            cx.send(
                from,
                Msg::Share(ShareMsg::HeartbeatResponse {
                    token,
                    error,
                    member_epoch: epoch,
                    heartbeat_interval_ms,
                    assignment,
                }),
            )
        };
        if meta.coordinator_for(&self.name) != Some(b) {
            reply(cx, ErrorCode::NotCoordinator, -1, Box::new([]));
            return;
        }
        self.expire_sessions(cx);
        let now = cx.now();
        let known = self.members.iter().position(|m| m.consumer == consumer);
        match (member_epoch, known) {
            (-1, Some(i)) => {
                self.members.remove(i);
                cx.emit(Trace::MemberRemoved {
                    group: self.group,
                    consumer,
                    reason: LeaveReason::Left,
                });
                self.bump();
                reply(cx, ErrorCode::None, -1, Box::new([]));
                return;
            }
            (-1, None) => {
                reply(cx, ErrorCode::None, -1, Box::new([]));
                return;
            }
            (0, _) => {
                // A join, or a restarted client joining again: a new member either way.
                if let Some(i) = known {
                    self.members.remove(i);
                }
                self.members.push(ShareMember {
                    consumer,
                    member_epoch: 0,
                    last_heartbeat: now,
                    assignment: Vec::new(),
                });
                self.bump();
                cx.emit(Trace::MemberJoinedEpoch {
                    group: self.group,
                    consumer,
                    group_epoch: self.group_epoch,
                });
            }
            (_, None) => {
                // Removed after its session ran out: it must join again.
                reply(cx, ErrorCode::UnknownMemberId, -1, Box::new([]));
                return;
            }
            (_, Some(_)) => {}
        }
        let (group, group_epoch) = (self.group, self.group_epoch);
        let m = self
            .members
            .iter_mut()
            .find(|m| m.consumer == consumer)
            .expect("a member by now");
        m.last_heartbeat = now;
        if m.member_epoch != group_epoch {
            m.member_epoch = group_epoch;
            cx.emit(Trace::EpochAssigned {
                group,
                consumer,
                member_epoch: group_epoch,
                partitions: m.assignment.clone().into_boxed_slice(),
            });
        }
        let assignment = m.assignment.clone().into_boxed_slice();
        reply(cx, ErrorCode::None, group_epoch as i32, assignment);
        cx.set_timer_ms(
            self.config.session_timeout_ms,
            Timer::ShareGroup(self.group),
        );
    }

    /// The session check: members silent for `group.share.session.timeout.ms` are removed.
    pub(crate) fn expire_sessions(&mut self, cx: &mut Cx) {
        let now = cx.now();
        let session = self.config.session_timeout_ms;
        let mut removed = false;
        let group = self.group;
        self.members.retain(|m| {
            let alive = m.last_heartbeat.plus_ms(session) > now;
            if !alive {
                cx.emit(Trace::MemberRemoved {
                    group,
                    consumer: m.consumer,
                    reason: LeaveReason::SessionTimeout,
                });
                removed = true;
            }
            alive
        });
        if removed {
            self.bump();
        }
    }

    /// A new group epoch: compute the target assignment at once.
    fn bump(&mut self) {
        self.group_epoch += 1;
        let assignment = simple_assignment(self.members.len(), &self.partitions);
        for (m, a) in self.members.iter_mut().zip(assignment) {
            m.assignment = a;
        }
    }
}

/// The simple assignor: with `members >= partitions` member `i` gets partition `i mod n`
/// (each partition shared by as many members as evenly as can be); with fewer members,
/// partition `j` goes to member `j mod members`.
pub(crate) fn simple_assignment(
    members: usize,
    partitions: &[PartitionId],
) -> Vec<Vec<PartitionId>> {
    let mut out = vec![Vec::new(); members];
    if members == 0 || partitions.is_empty() {
        return out;
    }
    if members >= partitions.len() {
        for (i, a) in out.iter_mut().enumerate() {
            a.push(partitions[i % partitions.len()]);
        }
    } else {
        for (j, &p) in partitions.iter().enumerate() {
            out[j % members].push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [PartitionId; 3] = [PartitionId(0), PartitionId(1), PartitionId(2)];

    #[test]
    fn more_members_than_partitions_all_get_a_partition() {
        let a = simple_assignment(5, &P[..2]);
        assert_eq!(
            a,
            [vec![P[0]], vec![P[1]], vec![P[0]], vec![P[1]], vec![P[0]]]
        );
    }

    #[test]
    fn fewer_members_share_out_every_partition() {
        let a = simple_assignment(2, &P);
        assert_eq!(a, [vec![P[0], P[2]], vec![P[1]]]);
        assert!(simple_assignment(0, &P).is_empty());
    }
}
