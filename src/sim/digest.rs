//! A stable 64-bit digest of the trace, so two runs can be compared by one number.
//!
//! Each trace event is written as an explicit sequence of 64-bit words: its id, time and cause,
//! a tag naming its variant, then its fields in declaration order. Every word is folded in with
//! FNV-1a over whole words. Nothing depends on `std`'s derived `Hash`, which is not promised to
//! stay the same across compiler versions. Fieldless enums are written as their declaration
//! index (`as u64`), which the language defines; adding a variant at the end keeps old digests,
//! reordering variants or tags changes them.

use crate::sim::ids::{BrokerSet, ErrorCode, MsgId, NodeId, PartitionId, SimTime};
use crate::sim::trace::{Trace, TraceEvent, TruncateReason, Wire};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Written for an absent optional value (no cause, no key, no partition).
const ABSENT: u64 = u64::MAX;

#[derive(Clone, Copy, Debug)]
pub struct Digest {
    state: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest { state: FNV_OFFSET }
    }
}

impl Digest {
    pub fn add(&mut self, ev: &TraceEvent) {
        encode(ev, &mut |word| self.word(word));
    }

    pub fn value(&self) -> u64 {
        self.state
    }

    /// The digest as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.state)
    }

    fn word(&mut self, n: u64) {
        self.state ^= n;
        self.state = self.state.wrapping_mul(FNV_PRIME);
    }
}

/// Writes one trace event as its sequence of words (see the module doc).
pub fn encode(ev: &TraceEvent, out: &mut impl FnMut(u64)) {
    out(ev.id.0);
    out(ev.time.0);
    out(ev.cause.map_or(ABSENT, |c| c.0));
    let opt = |v: Option<u64>| v.unwrap_or(ABSENT);
    let node = |n: &NodeId| n.0 as u64;
    let part = |p: &PartitionId| p.0 as u64;
    let msg = |m: &MsgId| m.0 as u64;
    let time = |t: &SimTime| t.0;
    let set = |s: &BrokerSet| s.0;
    let err = |e: &ErrorCode| *e as u64;
    // A group's assignment: its length, then each member and its partitions.
    let shares = |a: &[(crate::sim::ConsumerId, Box<[PartitionId]>)], out: &mut dyn FnMut(u64)| {
        out(a.len() as u64);
        for (consumer, parts) in a {
            out(consumer.0 as u64);
            out(parts.len() as u64);
            parts.iter().for_each(|p| out(p.0 as u64));
        }
    };
    let wire = |w: &Wire, out: &mut dyn FnMut(u64)| {
        out(w.kind as u64);
        out(opt(w.partition.map(|p| p.0 as u64)));
        out(opt(w.first_msg.map(|m| m.0 as u64)));
        out(w.records as u64);
        out(err(&w.error));
    };
    match &ev.kind {
        Trace::Sent {
            id,
            from,
            to,
            wire: w,
            arrive_at,
        } => {
            out(1);
            out(*id);
            out(node(from));
            out(node(to));
            wire(w, out);
            out(time(arrive_at));
        }
        Trace::Dropped {
            id,
            from,
            to,
            wire: w,
            reason,
        } => {
            out(2);
            out(*id);
            out(node(from));
            out(node(to));
            wire(w, out);
            out(*reason as u64);
        }
        Trace::Produced {
            producer,
            msg: m,
            partition,
            key,
        } => {
            out(3);
            out(producer.0 as u64);
            out(msg(m));
            out(part(partition));
            out(opt(key.map(u64::from)));
        }
        Trace::Appended {
            partition,
            broker,
            base_offset,
            count,
            epoch,
            first_msg,
        } => {
            out(4);
            out(part(partition));
            out(broker.0 as u64);
            out(*base_offset);
            out(*count as u64);
            out(*epoch as u64);
            out(msg(first_msg));
        }
        Trace::DuplicateBatch {
            partition,
            broker,
            producer,
            first_msg,
            base_offset,
        } => {
            out(5);
            out(part(partition));
            out(broker.0 as u64);
            out(producer.0 as u64);
            out(msg(first_msg));
            out(*base_offset);
        }
        Trace::Replicated {
            partition,
            broker,
            leo,
        } => {
            out(6);
            out(part(partition));
            out(broker.0 as u64);
            out(*leo);
        }
        Trace::HighWatermark {
            partition,
            broker,
            hw,
        } => {
            out(7);
            out(part(partition));
            out(broker.0 as u64);
            out(*hw);
        }
        Trace::IsrChanged {
            partition,
            leader,
            isr,
            changed,
            expanded,
        } => {
            out(8);
            out(part(partition));
            out(leader.0 as u64);
            out(set(isr));
            out(changed.0 as u64);
            out(*expanded as u64);
        }
        Trace::LeaderElected {
            partition,
            leader,
            epoch,
            isr,
            unclean,
            preferred,
            from_elr,
        } => {
            out(9);
            out(part(partition));
            out(leader.0 as u64);
            out(*epoch as u64);
            out(set(isr));
            out(*unclean as u64);
            out(*preferred as u64);
            // Encoded only when set, so runs without an ELR election keep their digests.
            if *from_elr {
                out(1);
            }
        }
        Trace::PartitionOffline { partition, epoch } => {
            out(10);
            out(part(partition));
            out(*epoch as u64);
        }
        Trace::Truncated {
            partition,
            broker,
            from,
            to,
            removed,
            reason,
        } => {
            out(11);
            out(part(partition));
            out(broker.0 as u64);
            out(*from);
            out(*to);
            out(removed.len() as u64);
            removed.iter().for_each(|m| out(msg(m)));
            // The leader-epoch reason adds nothing, so existing digests are unchanged.
            match reason {
                TruncateReason::DivergedEpoch => {}
                TruncateReason::HighWatermark => out(1),
                TruncateReason::LeaderLogEnd => out(2),
            }
        }
        Trace::BrokerFenced { broker } => {
            out(12);
            out(broker.0 as u64);
        }
        Trace::BrokerUnfenced { broker } => {
            out(13);
            out(broker.0 as u64);
        }
        Trace::NodeCrashed { node: n } => {
            out(14);
            out(node(n));
        }
        Trace::NodeRestarted { node: n } => {
            out(15);
            out(node(n));
        }
        Trace::NodePaused { node: n, until } => {
            out(16);
            out(node(n));
            out(time(until));
        }
        Trace::NodeResumed { node: n } => {
            out(17);
            out(node(n));
        }
        Trace::Acked {
            producer,
            msg: m,
            partition,
            offset,
        } => {
            out(18);
            out(producer.0 as u64);
            out(msg(m));
            out(part(partition));
            out(opt(*offset));
        }
        Trace::ProduceError {
            producer,
            partition,
            first_msg,
            count,
            error,
            will_retry,
        } => {
            out(19);
            out(producer.0 as u64);
            out(part(partition));
            out(msg(first_msg));
            out(*count as u64);
            out(err(error));
            out(*will_retry as u64);
        }
        Trace::Retried {
            producer,
            partition,
            first_msg,
            count,
            attempt,
        } => {
            out(20);
            out(producer.0 as u64);
            out(part(partition));
            out(msg(first_msg));
            out(*count as u64);
            out(*attempt as u64);
        }
        Trace::Failed {
            producer,
            msg: m,
            error,
        } => {
            out(21);
            out(producer.0 as u64);
            out(msg(m));
            out(err(error));
        }
        Trace::MemberJoined { group, consumer } => {
            out(22);
            out(group.0 as u64);
            out(consumer.0 as u64);
        }
        Trace::MemberRemoved {
            group,
            consumer,
            reason,
        } => {
            out(23);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(*reason as u64);
        }
        Trace::RebalanceStarted { group, generation } => {
            out(24);
            out(group.0 as u64);
            out(*generation as u64);
        }
        Trace::Rebalanced {
            group,
            generation,
            assignment,
        } => {
            out(25);
            out(group.0 as u64);
            out(*generation as u64);
            shares(assignment, out);
        }
        Trace::Polled {
            group,
            consumer,
            partition,
            from,
            count,
        } => {
            out(26);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(part(partition));
            out(*from);
            out(*count as u64);
        }
        Trace::Applied {
            group,
            consumer,
            msg: m,
            partition,
            offset,
        } => {
            out(27);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(msg(m));
            out(part(partition));
            out(*offset);
        }
        Trace::ProcessingFailed {
            group,
            consumer,
            msg: m,
            attempt,
        } => {
            out(28);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(msg(m));
            out(*attempt as u64);
        }
        Trace::DeadLettered {
            group,
            consumer,
            msg: m,
            attempts,
        } => {
            out(29);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(msg(m));
            out(*attempts as u64);
        }
        Trace::ConsumerStuck {
            group,
            consumer,
            msg: m,
        } => {
            out(30);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(msg(m));
        }
        Trace::Redelivered {
            group,
            consumer,
            msg: m,
            partition,
            offset,
        } => {
            out(31);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(msg(m));
            out(part(partition));
            out(*offset);
        }
        Trace::OffsetCommitted {
            group,
            consumer,
            partition,
            offset,
        } => {
            out(32);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(part(partition));
            out(*offset);
        }
        Trace::CommitFailed {
            group,
            consumer,
            error,
        } => {
            out(33);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(err(error));
        }
        Trace::OffsetReset {
            group,
            consumer,
            partition,
            offset,
        } => {
            out(34);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(part(partition));
            out(*offset);
        }
        Trace::FaultInjected { index } => {
            out(35);
            out(*index as u64);
        }
        Trace::Narration { index } => {
            out(36);
            out(*index as u64);
        }
        Trace::ProducerInitialized {
            producer,
            txn,
            epoch,
        } => {
            out(37);
            out(producer.0 as u64);
            out(*txn as u64);
            out(*epoch as u64);
        }
        Trace::TxnFatalError {
            producer,
            txn,
            error,
        } => {
            out(51);
            out(producer.0 as u64);
            out(*txn as u64);
            out(*error as u64);
        }
        Trace::ProducerFenced { producer, txn } => {
            out(38);
            out(producer.0 as u64);
            out(*txn as u64);
        }
        Trace::TxnEnded {
            producer,
            txn,
            committed,
            records,
            acked,
        } => {
            out(50);
            out(producer.0 as u64);
            out(*txn as u64);
            out(*committed as u64);
            out(*records as u64);
            out(*acked as u64);
        }
        Trace::TxnStateChanged {
            txn,
            epoch,
            phase,
            timed_out,
        } => {
            out(39);
            out(*txn as u64);
            out(*epoch as u64);
            out(*phase as u64);
            out(*timed_out as u64);
        }
        Trace::PartitionsAdded {
            topic,
            first,
            count,
        } => {
            out(40);
            out(topic.0 as u64);
            out(part(first));
            out(*count as u64);
        }
        Trace::TxnMarker {
            partition,
            broker,
            txn,
            commit,
            offset,
        } => {
            out(41);
            out(part(partition));
            out(broker.0 as u64);
            out(*txn as u64);
            out(*commit as u64);
            out(*offset);
        }
        Trace::Draining => out(42),
        Trace::TxnWriteRefused {
            partition,
            broker,
            first_msg,
            error,
        } => {
            out(84);
            out(part(partition));
            out(broker.0 as u64);
            out(msg(first_msg));
            out(err(error));
        }
        Trace::PartitionsWithheld {
            group,
            generation,
            partitions,
        } => [
            43,
            group.0 as u64,
            *generation as u64,
            partitions.len() as u64,
        ]
        .into_iter()
        .chain(partitions.iter().map(part))
        .for_each(&mut *out),
        Trace::PartitionsRevoked {
            group,
            consumer,
            partitions,
        } => [
            44,
            group.0 as u64,
            consumer.0 as u64,
            partitions.len() as u64,
        ]
        .into_iter()
        .chain(partitions.iter().map(part))
        .for_each(&mut *out),
        // Codes from 60 for the cluster slice of issue 10, clear of other slices' new ones.
        Trace::ShutdownRequested { broker } => {
            out(60);
            out(broker.0 as u64);
        }
        Trace::ControlledShutdown { broker, granted } => {
            out(61);
            out(broker.0 as u64);
            out(*granted as u64);
        }
        Trace::NodeStopped { node: n } => {
            out(62);
            out(node(n));
        }
        Trace::ElrChanged {
            partition,
            elr,
            last_known_elr,
        } => {
            out(63);
            out(part(partition));
            out(set(elr));
            out(set(last_known_elr));
        }
        // Codes from 80 for the groups slice of issue 10 (KIP-848).
        Trace::MemberJoinedEpoch {
            group,
            consumer,
            group_epoch,
        } => {
            out(80);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(*group_epoch as u64);
        }
        Trace::TargetAssignment {
            group,
            epoch,
            assignment,
        } => {
            out(81);
            out(group.0 as u64);
            out(*epoch as u64);
            shares(assignment, out);
        }
        Trace::RevokeAsked {
            group,
            consumer,
            member_epoch,
            partitions,
        }
        | Trace::EpochAssigned {
            group,
            consumer,
            member_epoch,
            partitions,
        } => {
            out(if matches!(ev.kind, Trace::RevokeAsked { .. }) {
                82
            } else {
                83
            });
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(*member_epoch as u64);
            out(partitions.len() as u64);
            partitions.iter().for_each(|p| out(part(p)));
        }
        Trace::Share {
            group,
            consumer,
            partition,
            offset,
            msg: m,
            delivery_count,
            step,
        } => {
            out(84);
            out(group.0 as u64);
            out(consumer.0 as u64);
            out(part(partition));
            out(*offset);
            out(msg(m));
            out(*delivery_count as u64);
            out(step.code());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ids::{BrokerId, MsgId, ProducerId};
    use crate::sim::trace::EventId;

    fn ev(id: u64, cause: Option<u64>, kind: Trace) -> TraceEvent {
        TraceEvent {
            id: EventId(id),
            time: SimTime(1_000 * id),
            cause: cause.map(EventId),
            kind,
        }
    }

    fn words(e: &TraceEvent) -> Vec<u64> {
        let mut w = Vec::new();
        encode(e, &mut |x| w.push(x));
        w
    }

    #[test]
    fn the_encoding_is_explicit_and_pinned() {
        let e = ev(
            3,
            Some(1),
            Trace::Acked {
                producer: ProducerId(2),
                msg: MsgId(7),
                partition: PartitionId(0),
                offset: Some(6),
            },
        );
        assert_eq!(words(&e), [3, 3_000, 1, 18, 2, 7, 0, 6]);
        let root = ev(0, None, Trace::Draining);
        assert_eq!(words(&root), [0, 0, ABSENT, 42]);
        // The digest of a fixed stream is pinned (FNV-1a over these words, checked by hand): it
        // changes only if the encoding does.
        let mut d = Digest::default();
        d.add(&root);
        d.add(&e);
        assert_eq!(d.hex(), "75fe82bea2f1a1cd");
    }

    #[test]
    fn every_field_and_the_cause_change_the_digest() {
        let base = || Trace::Truncated {
            partition: PartitionId(1),
            broker: BrokerId(2),
            from: 8,
            to: 6,
            removed: Box::new([MsgId(6), MsgId(7)]),
            reason: TruncateReason::DivergedEpoch,
        };
        let digest = |e: &TraceEvent| {
            let mut d = Digest::default();
            d.add(e);
            d.value()
        };
        let a = digest(&ev(5, Some(4), base()));
        assert_ne!(a, digest(&ev(5, Some(3), base())), "cause");
        assert_ne!(a, digest(&ev(5, None, base())), "root");
        let mut other = base();
        if let Trace::Truncated { removed, .. } = &mut other {
            *removed = Box::new([MsgId(7), MsgId(6)]);
        }
        assert_ne!(a, digest(&ev(5, Some(4), other)), "removed order");
    }
}
