use super::*;
use crate::sim::ids::{BrokerId, ConsumerId, ErrorCode, SimTime};

// Topic 0 ("orders") has partitions 0 and 1; topic 1 ("audit") has partition 2.
// Group 0 "billing" and group 1 "shipping" consume orders; group 2 "dedup" consumes orders with a
// dedup sink; group 3 "auditor" consumes audit.
fn setup() -> CheckerSetup {
    let g = |name: &str, topic: u32, dedup: bool| GroupSetup {
        name: name.to_string(),
        topic: TopicId(topic),
        dedup,
        upstream: None,
    };
    CheckerSetup {
        partition_topic: vec![TopicId(0), TopicId(0), TopicId(1)],
        groups: vec![
            g("billing", 0, false),
            g("shipping", 0, false),
            g("dedup", 0, true),
            g("auditor", 1, false),
        ],
    }
}

const BILLING: GroupId = GroupId(0);
const SHIPPING: GroupId = GroupId(1);
const DEDUP: GroupId = GroupId(2);
const AUDITOR: GroupId = GroupId(3);

fn ev(kind: Trace) -> TraceEvent {
    TraceEvent {
        id: crate::sim::EventId(0),
        time: SimTime::ZERO,
        cause: None,
        kind,
    }
}

fn produced(producer: u32, msg: u32, partition: u32, key: Option<u32>) -> TraceEvent {
    ev(Trace::Produced {
        producer: ProducerId(producer),
        msg: MsgId(msg),
        partition: PartitionId(partition),
        key,
    })
}

fn acked(msg: u32) -> TraceEvent {
    ev(Trace::Acked {
        producer: ProducerId(0),
        msg: MsgId(msg),
        partition: PartitionId(0),
        offset: Some(0),
    })
}

fn failed(msg: u32) -> TraceEvent {
    ev(Trace::Failed {
        producer: ProducerId(0),
        msg: MsgId(msg),
        error: ErrorCode::DeliveryTimeout,
    })
}

fn applied(group: GroupId, msg: u32) -> TraceEvent {
    ev(Trace::Applied {
        group,
        consumer: ConsumerId(0),
        msg: MsgId(msg),
        partition: PartitionId(0),
        offset: 0,
    })
}

fn redelivered(group: GroupId, msg: u32) -> TraceEvent {
    ev(Trace::Redelivered {
        group,
        consumer: ConsumerId(0),
        msg: MsgId(msg),
        partition: PartitionId(0),
        offset: 0,
    })
}

fn truncated(removed: &[u32]) -> TraceEvent {
    ev(Trace::Truncated {
        partition: PartitionId(0),
        broker: BrokerId(0),
        from: 0,
        to: 0,
        removed: removed.iter().map(|&m| MsgId(m)).collect(),
        reason: crate::sim::TruncateReason::DivergedEpoch,
    })
}

fn appended(first_msg: u32) -> TraceEvent {
    ev(Trace::Appended {
        partition: PartitionId(0),
        broker: BrokerId(1),
        base_offset: 0,
        count: 1,
        epoch: 1,
        first_msg: MsgId(first_msg),
    })
}

/// Feeds events, asserting none reveals an anomaly.
fn quiet(c: &mut Checker, evs: &[TraceEvent]) {
    for e in evs {
        assert_eq!(
            c.observe(e),
            &[] as &[Anomaly],
            "unexpected anomaly for {e:?}"
        );
    }
}

fn apply_all_orders_groups(c: &mut Checker, msg: u32) {
    quiet(
        c,
        &[
            applied(BILLING, msg),
            applied(SHIPPING, msg),
            applied(DEDUP, msg),
        ],
    );
}

#[test]
fn never_applied_is_pending_until_final_then_lost() {
    let mut c = Checker::new(setup());
    quiet(&mut c, &[produced(0, 0, 0, None), produced(0, 1, 0, None)]);
    apply_all_orders_groups(&mut c, 0);
    quiet(&mut c, &[applied(BILLING, 1)]);

    let o = c.outcome();
    assert!(!o.final_);
    assert_eq!((o.lost, o.acked_lost), (0, 0));
    let b = o.group("billing").unwrap();
    assert_eq!((b.applied, b.pending, b.lost), (2, 0, 0));
    let s = o.group("shipping").unwrap();
    assert_eq!((s.applied, s.pending, s.lost), (1, 1, 0));
    assert_eq!(o.pending, 2); // shipping and dedup miss msg 1
    assert_eq!(o.verdict, Verdict::ExactlyOnce);
    assert_eq!(c.message_status(SHIPPING, MsgId(1)), MsgStatus::Pending);

    c.set_final(true);
    let o = c.outcome();
    assert!(o.final_);
    assert_eq!(o.pending, 0);
    assert_eq!(o.lost, 2);
    assert_eq!(o.acked_lost, 0); // never acked
    let s = o.group("shipping").unwrap();
    assert_eq!((s.pending, s.lost, s.verdict), (0, 1, Verdict::AtMostOnce));
    assert_eq!(o.group("billing").unwrap().lost, 0);
    assert_eq!(c.message_status(SHIPPING, MsgId(1)), MsgStatus::Lost);
    assert_eq!(c.message_status(BILLING, MsgId(1)), MsgStatus::Applied(1));

    // Rewinding past the drain makes them pending again.
    c.set_final(false);
    assert_eq!(c.outcome().lost, 0);
}

#[test]
fn acked_and_never_applied_is_acked_lost() {
    let mut c = Checker::new(setup());
    quiet(
        &mut c,
        &[
            produced(0, 0, 0, None),
            produced(0, 1, 1, None),
            produced(0, 2, 0, None),
            acked(0),
            acked(1),
            acked(1), // a repeated ack counts once
            failed(2),
        ],
    );
    // msg 1 applied by billing before its ack arrives: it is not acked-lost for billing.
    let mut c2 = c.clone();
    quiet(&mut c2, &[applied(BILLING, 1)]);
    for c in [&mut c, &mut c2] {
        c.set_final(true);
    }

    let o = c.outcome();
    assert_eq!((o.sent, o.acked, o.failed), (3, 2, 1));
    for name in ["billing", "shipping", "dedup"] {
        let g = o.group(name).unwrap();
        // msg 2's producer was told it failed and no log holds it: `failed`, not lost.
        assert_eq!((g.lost, g.acked_lost, g.failed), (2, 2, 1), "{name}");
        assert_eq!(g.lost_by_kind.never_written, 2, "{name}");
    }
    assert_eq!(o.group("auditor").unwrap().lost, 0);
    assert_eq!((o.lost, o.acked_lost), (6, 6));

    let o = c2.outcome();
    let b = o.group("billing").unwrap();
    assert_eq!((b.applied, b.lost, b.acked_lost, b.failed), (1, 1, 1, 1));

    // The ack arriving after the application is accounted for too.
    let mut c3 = Checker::new(setup());
    quiet(
        &mut c3,
        &[produced(0, 0, 0, None), applied(BILLING, 0), acked(0)],
    );
    c3.set_final(true);
    let o = c3.outcome();
    assert_eq!(o.group("billing").unwrap().acked_lost, 0);
    assert_eq!(o.group("shipping").unwrap().acked_lost, 1);
}

#[test]
fn applied_twice_is_one_duplicate_with_an_anomaly_each_repeat() {
    let mut c = Checker::new(setup());
    quiet(&mut c, &[produced(0, 0, 0, None), applied(BILLING, 0)]);
    assert_eq!(
        c.observe(&applied(BILLING, 0)),
        &[Anomaly::Duplicate {
            group: BILLING,
            msg: MsgId(0)
        }]
    );
    let o = c.outcome();
    let b = o.group("billing").unwrap();
    // `applied` counts messages applied exactly once; this one is `duplicated` instead.
    assert_eq!((b.applied, b.duplicated), (0, 1));
    assert_eq!(o.group("shipping").unwrap().duplicated, 0);
    assert_eq!(o.duplicated, 1);

    // A third application is reported but still one duplicated message.
    assert_eq!(c.observe(&applied(BILLING, 0)).len(), 1);
    assert_eq!(c.outcome().duplicated, 1);
    assert_eq!(c.message_status(BILLING, MsgId(0)), MsgStatus::Applied(3));
}

#[test]
fn dedup_redeliveries_are_counted_and_are_not_duplicates() {
    let mut c = Checker::new(setup());
    quiet(
        &mut c,
        &[
            produced(0, 0, 0, None),
            applied(DEDUP, 0),
            redelivered(DEDUP, 0),
            redelivered(DEDUP, 0),
        ],
    );
    let o = c.outcome();
    let d = o.group("dedup").unwrap();
    assert_eq!((d.applied, d.duplicated, d.redelivered), (1, 0, 2));
    assert_eq!(o.group("billing").unwrap().redelivered, 0);
    assert_eq!((o.redelivered, o.duplicated), (2, 0));
    assert_eq!(c.message_status(DEDUP, MsgId(0)), MsgStatus::Applied(1));
}

#[test]
fn reordering_is_per_producer_and_key() {
    let mut c = Checker::new(setup());
    // Producer 0 sends keys 7,7,7,8 and a keyless one; producer 1 sends key 7.
    quiet(
        &mut c,
        &[
            produced(0, 0, 0, Some(7)), // 0#1
            produced(1, 1, 0, Some(7)), // 1#1
            produced(0, 2, 0, Some(7)), // 0#2
            produced(0, 3, 0, Some(8)), // 0#3
            produced(0, 4, 0, None),    // 0#4
            produced(0, 5, 0, Some(7)), // 0#5
            produced(0, 6, 0, None),    // 0#6
        ],
    );
    // Billing applies 0#5 first (key 7): everything sent earlier under key 7 by producer 0 is
    // now late; other keys, other producers and keyless records are not.
    quiet(
        &mut c,
        &[
            applied(BILLING, 5),
            applied(BILLING, 6),
            applied(BILLING, 3),
            applied(BILLING, 1),
            applied(BILLING, 4),
        ],
    );
    assert_eq!(
        c.observe(&applied(BILLING, 2)),
        &[Anomaly::Reordered {
            group: BILLING,
            msg: MsgId(2),
            after: MsgId(5)
        }]
    );
    assert_eq!(
        c.observe(&applied(BILLING, 0)),
        &[Anomaly::Reordered {
            group: BILLING,
            msg: MsgId(0),
            after: MsgId(5)
        }]
    );
    // A repeat of a late message is a duplicate, not another reordering.
    assert_eq!(
        c.observe(&applied(BILLING, 0)),
        &[Anomaly::Duplicate {
            group: BILLING,
            msg: MsgId(0)
        }]
    );

    // Shipping applies in send order; only the keyless ones are out of order, which is fine.
    quiet(
        &mut c,
        &[
            applied(SHIPPING, 6),
            applied(SHIPPING, 0),
            applied(SHIPPING, 1),
            applied(SHIPPING, 2),
            applied(SHIPPING, 3),
            applied(SHIPPING, 4),
            applied(SHIPPING, 5),
        ],
    );

    let o = c.outcome();
    assert_eq!(o.group("billing").unwrap().reordered, 2);
    assert_eq!(o.group("shipping").unwrap().reordered, 0);
    assert_eq!(o.reordered, 2);
    // Reordering is not loss or duplication.
    assert_eq!(o.group("shipping").unwrap().verdict, Verdict::ExactlyOnce);
}

#[test]
fn messages_of_another_topic_do_not_count_for_a_group() {
    let mut c = Checker::new(setup());
    quiet(
        &mut c,
        &[
            produced(0, 0, 0, None), // orders
            produced(1, 1, 2, None), // audit
            acked(1),
            applied(AUDITOR, 1),
        ],
    );
    c.set_final(true);
    let o = c.outcome();
    let b = o.group("billing").unwrap();
    assert_eq!((b.applied, b.lost, b.acked_lost), (0, 1, 0));
    let a = o.group("auditor").unwrap();
    assert_eq!((a.applied, a.lost, a.acked_lost), (1, 0, 0));
    assert_eq!(a.verdict, Verdict::ExactlyOnce);
    assert_eq!(c.message_status(AUDITOR, MsgId(0)), MsgStatus::Unrelated);
    assert_eq!(c.message_status(BILLING, MsgId(1)), MsgStatus::Unrelated);
    assert_eq!(c.message_status(BILLING, MsgId(0)), MsgStatus::Lost);
    // Unknown ids and groups are unrelated, not a panic.
    assert_eq!(c.message_status(BILLING, MsgId(99)), MsgStatus::Unrelated);
    assert_eq!(
        c.message_status(GroupId(99), MsgId(0)),
        MsgStatus::Unrelated
    );
}

#[test]
fn verdicts_for_each_case() {
    assert_eq!(verdict(0, 0), Verdict::ExactlyOnce);
    assert_eq!(verdict(0, 3), Verdict::AtLeastOnce);
    assert_eq!(verdict(2, 0), Verdict::AtMostOnce);
    assert_eq!(verdict(2, 3), Verdict::None);

    // Only the orders groups see msg 0; auditor sees msg 1.
    let run = |evs: &[TraceEvent]| {
        let mut c = Checker::new(setup());
        quiet(&mut c, &[produced(0, 0, 0, None), produced(0, 1, 2, None)]);
        for e in evs {
            c.observe(e);
        }
        c.set_final(true);
        c.outcome()
    };
    let everyone = [
        applied(BILLING, 0),
        applied(SHIPPING, 0),
        applied(DEDUP, 0),
        applied(AUDITOR, 1),
    ];

    let o = run(&everyone);
    assert_eq!(o.verdict, Verdict::ExactlyOnce);
    assert!(o.groups.iter().all(|g| g.verdict == Verdict::ExactlyOnce));

    let mut evs = everyone.to_vec();
    evs.push(applied(SHIPPING, 0));
    let o = run(&evs);
    assert_eq!(o.verdict, Verdict::AtLeastOnce);
    assert_eq!(o.group("shipping").unwrap().verdict, Verdict::AtLeastOnce);
    assert_eq!(o.group("billing").unwrap().verdict, Verdict::ExactlyOnce);

    let o = run(&everyone[..3]);
    assert_eq!(o.verdict, Verdict::AtMostOnce);
    assert_eq!(o.group("auditor").unwrap().verdict, Verdict::AtMostOnce);
    assert_eq!(o.group("billing").unwrap().verdict, Verdict::ExactlyOnce);

    // Loss in one group and duplication in another: the total is neither guarantee.
    let mut evs = everyone[..3].to_vec();
    evs.push(applied(BILLING, 0));
    let o = run(&evs);
    assert_eq!(o.verdict, Verdict::None);
    assert_eq!(o.group("billing").unwrap().verdict, Verdict::AtLeastOnce);
    assert_eq!(o.group("auditor").unwrap().verdict, Verdict::AtMostOnce);
    // Both in one group.
    let mut c = Checker::new(setup());
    quiet(&mut c, &[produced(0, 0, 0, None), produced(0, 1, 0, None)]);
    quiet(&mut c, &[applied(BILLING, 0)]);
    c.observe(&applied(BILLING, 0));
    c.set_final(true);
    assert_eq!(c.outcome().group("billing").unwrap().verdict, Verdict::None);
    // A message of another topic is no fate of the group: applying it twice duplicates
    // nothing, and the group's own message is still lost.
    let evs = [applied(AUDITOR, 0), applied(AUDITOR, 0)];
    let o = run(&evs);
    assert_eq!(o.group("auditor").unwrap().duplicated, 0);
    assert_eq!(o.group("auditor").unwrap().verdict, Verdict::AtMostOnce);
}

#[test]
fn truncated_acked_messages_are_at_risk_until_applied_everywhere() {
    let mut c = Checker::new(setup());
    quiet(
        &mut c,
        &[
            produced(0, 0, 0, None),
            produced(0, 1, 0, None),
            produced(0, 2, 0, None),
            produced(0, 3, 0, None),
            acked(0),
            acked(2),
            acked(3),
        ],
    );
    apply_all_orders_groups(&mut c, 3);
    // msg 1 is unacked (no risk to an ack), msg 3 is already applied by every group.
    assert_eq!(
        c.observe(&truncated(&[0, 1, 2, 3])),
        &[
            Anomaly::AckedTruncated { msg: MsgId(0) },
            Anomaly::AckedTruncated { msg: MsgId(2) },
        ]
    );
    assert_eq!(c.outcome().at_risk, 2);
    assert!(c.message(MsgId(0)).unwrap().at_risk);
    // Truncated again on another replica: nothing new.
    quiet(&mut c, &[truncated(&[0, 2])]);
    assert_eq!(c.outcome().at_risk, 2);

    // Applied by some groups only: still at risk.
    quiet(&mut c, &[applied(BILLING, 0), applied(SHIPPING, 0)]);
    assert_eq!(c.outcome().at_risk, 2);
    quiet(&mut c, &[applied(DEDUP, 0)]);
    assert_eq!(c.outcome().at_risk, 1);
    assert!(!c.message(MsgId(0)).unwrap().at_risk);

    // Re-appended (a retry landed on the new leader).
    quiet(&mut c, &[appended(2)]);
    assert_eq!(c.outcome().at_risk, 0);

    // At risk again after a later truncation.
    assert_eq!(c.observe(&truncated(&[2])).len(), 1);
    assert_eq!(c.outcome().at_risk, 1);
}

#[test]
fn totals_and_message_info() {
    let mut c = Checker::new(setup());
    assert_eq!(c.messages(), 0);
    quiet(
        &mut c,
        &[
            produced(0, 0, 0, Some(3)),
            produced(1, 1, 1, None),
            produced(0, 2, 1, None),
            acked(0),
            failed(1),
            failed(1),
        ],
    );
    assert_eq!(c.messages(), 3);
    let o = c.outcome();
    assert_eq!((o.sent, o.acked, o.failed), (3, 1, 1));
    assert_eq!(
        c.message(MsgId(2)),
        Some(MsgInfo {
            producer: ProducerId(0),
            n: 2,
            partition: PartitionId(1),
            key: None,
            acked: false,
            failed: false,
            at_risk: false,
        })
    );
    let m0 = c.message(MsgId(0)).unwrap();
    assert_eq!((m0.n, m0.key, m0.acked), (1, Some(3), true));
    assert!(c.message(MsgId(1)).unwrap().failed);
    assert_eq!(c.message(MsgId(3)), None);
}

#[test]
fn other_events_are_ignored() {
    let mut c = Checker::new(setup());
    let before = c.outcome();
    quiet(
        &mut c,
        &[
            ev(Trace::Draining),
            ev(Trace::HighWatermark {
                partition: PartitionId(0),
                broker: BrokerId(0),
                hw: 3,
            }),
        ],
    );
    assert_eq!(c.outcome(), before);
    assert_eq!(c.messages(), 0);
}

#[test]
fn partitions_added_later_can_be_registered() {
    let mut c = Checker::new(setup());
    // Partition 4 is unknown: its message belongs to no group.
    quiet(&mut c, &[produced(0, 0, 4, None)]);
    c.set_partition_topic(PartitionId(5), TopicId(1));
    quiet(&mut c, &[produced(0, 1, 5, None)]);
    let o = c.outcome();
    assert_eq!(o.group("billing").unwrap().pending, 0);
    assert_eq!(o.group("auditor").unwrap().pending, 1);
    assert_eq!(o.sent, 2);
}

#[test]
fn serialises_with_the_report_field_names() {
    let mut c = Checker::new(setup());
    quiet(&mut c, &[produced(0, 0, 0, None), acked(0)]);
    apply_all_orders_groups(&mut c, 0);
    c.set_final(true);
    let v = serde_json::to_value(c.outcome()).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "aborted",
            "aborted_read",
            "acked",
            "acked_lost",
            "applied",
            "dead_lettered",
            "duplicated",
            "failed",
            "groups",
            "lost",
            "lost_by_kind",
            "redelivered",
            "reordered",
            "sent",
            "unseen",
            "verdict"
        ]
    );
    assert_eq!(v["verdict"], "exactly-once");
    assert_eq!(v["lost"], 0);
    // Groups keep scenario order in the serialised text.
    let json = serde_json::to_string(&c.outcome()).unwrap();
    let at = |name: &str| json.find(&format!("\"{name}\":{{")).unwrap();
    assert!(at("billing") < at("shipping"), "{json}");
    assert!(at("dedup") < at("auditor"), "{json}");
    let b = &v["groups"]["billing"];
    let mut keys: Vec<&str> = b.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "aborted",
            "aborted_read",
            "acked_lost",
            "applied",
            "dead_lettered",
            "duplicated",
            "failed",
            "lost",
            "lost_by_kind",
            "redelivered",
            "reordered",
            "unseen",
            "verdict"
        ]
    );
    assert_eq!(b["verdict"], "exactly-once");
    assert_eq!(b["applied"], 1);
}

#[test]
fn setup_from_scenario_numbers_partitions_across_topics() {
    let s: Scenario = toml::from_str(
        r#"
        [scenario]
        title = "t"
        [[topics]]
        name = "orders"
        partitions = 2
        [[topics]]
        name = "audit"
        partitions = 3
        [[groups]]
        name = "auditor"
        topic = "audit"
        dedup = true
        [[groups]]
        name = "billing"
        topic = "orders"
        "#,
    )
    .unwrap();
    let setup = CheckerSetup::from_scenario(&s).unwrap();
    let t = |i| TopicId(i);
    assert_eq!(setup.partition_topic, vec![t(0), t(0), t(1), t(1), t(1)]);
    assert_eq!(
        setup.groups,
        vec![
            GroupSetup {
                name: "auditor".into(),
                topic: t(1),
                dedup: true,
                upstream: None,
            },
            GroupSetup {
                name: "billing".into(),
                topic: t(0),
                dedup: false,
                upstream: None,
            },
        ]
    );

    let mut bad = s.clone();
    bad.groups[0].topic = "nope".into();
    assert!(CheckerSetup::from_scenario(&bad).is_err());
}

// ----- fates and anomalies -------------------------------------------------------------------

fn append_at(partition: u32, broker: u32, base: u64, count: u32, first: u32) -> TraceEvent {
    ev(Trace::Appended {
        partition: PartitionId(partition),
        broker: BrokerId(broker),
        base_offset: base,
        count,
        epoch: 0,
        first_msg: MsgId(first),
    })
}

fn replicated(partition: u32, broker: u32, leo: u64) -> TraceEvent {
    ev(Trace::Replicated {
        partition: PartitionId(partition),
        broker: BrokerId(broker),
        leo,
    })
}

fn elected(partition: u32, leader: u32, epoch: u32, unclean: bool) -> TraceEvent {
    ev(Trace::LeaderElected {
        partition: PartitionId(partition),
        leader: BrokerId(leader),
        epoch,
        isr: crate::sim::ids::BrokerSet::EMPTY,
        unclean,
        preferred: false,
        from_elr: false,
    })
}

fn reset(group: GroupId, partition: u32, offset: u64) -> TraceEvent {
    ev(Trace::OffsetReset {
        group,
        consumer: ConsumerId(0),
        partition: PartitionId(partition),
        offset,
    })
}

fn committed(group: GroupId, partition: u32, offset: u64) -> TraceEvent {
    ev(Trace::OffsetCommitted {
        group,
        consumer: ConsumerId(0),
        partition: PartitionId(partition),
        offset,
    })
}

fn fate(c: &Checker, g: GroupId, msg: u32) -> Option<Fate> {
    c.fate(g, MsgId(msg))
}

fn feed(c: &mut Checker, evs: &[TraceEvent]) {
    for e in evs {
        c.observe(e);
    }
}

/// Every group's fates add up to the messages of its topic.
fn assert_adds_up(c: &Checker) {
    let o = c.outcome();
    for (gi, g) in o.groups.iter().enumerate() {
        let topic = c.setup().groups[gi].topic;
        let msgs = (0..c.messages())
            .filter(|&i| {
                c.message(MsgId(i as u32)).is_some_and(|m| {
                    c.setup().partition_topic.get(m.partition.idx()) == Some(&topic)
                })
            })
            .count() as u64;
        let sum = g.applied
            + g.duplicated
            + g.lost
            + g.unseen
            + g.failed
            + g.aborted
            + g.dead_lettered
            + g.pending;
        assert_eq!(sum, msgs, "{}: {g:?}", g.name);
        assert_eq!(g.lost, g.lost_by_kind.total(), "{}", g.name);
    }
}

#[test]
fn a_leader_change_truncates_what_only_the_old_leader_had() {
    let mut c = Checker::new(setup());
    feed(
        &mut c,
        &[
            produced(0, 0, 0, None),
            produced(0, 1, 0, None),
            elected(0, 1, 0, false),
            append_at(0, 1, 0, 1, 0),
            replicated(0, 2, 1),
            append_at(0, 1, 1, 1, 1),
            acked(0),
            acked(1),
            // broker 2 has offset 0 only: offset 1 (msg 1) goes with the old leader.
            elected(0, 2, 1, false),
        ],
    );
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Unseen));
    assert_eq!(fate(&c, BILLING, 1), Some(Fate::Lost(LossKind::Truncated)));
    c.set_final(true);
    let o = c.outcome();
    let b = o.group("billing").unwrap();
    assert_eq!((b.lost, b.acked_lost, b.unseen), (1, 1, 1));
    assert_eq!(b.lost_by_kind.truncated, 1);
    assert_eq!(b.verdict, Verdict::AtMostOnce);
    let a: Vec<_> = c
        .anomalies()
        .into_iter()
        .filter(|a| a.group == BILLING)
        .collect();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].kind, AnomalyKind::Truncated);
    assert_eq!(
        a[0].detail,
        Detail::Truncated(Some(Removal {
            partition: PartitionId(0),
            broker: BrokerId(1),
            from: 1,
            to: 2,
            elected: Some((BrokerId(2), 1, false)),
        }))
    );
    assert_adds_up(&c);

    // A retry that lands on the new leader brings it back into the log.
    feed(&mut c, &[append_at(0, 2, 1, 1, 1)]);
    assert_eq!(fate(&c, BILLING, 1), Some(Fate::Unseen));
}

#[test]
fn a_deposed_leaders_appends_are_in_no_log() {
    let mut c = Checker::new(setup());
    feed(
        &mut c,
        &[
            produced(0, 0, 0, None),
            elected(0, 1, 0, false),
            elected(0, 2, 1, false),
            // broker 1 has not heard yet and still appends.
            append_at(0, 1, 0, 1, 0),
            acked(0),
        ],
    );
    c.set_final(true);
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Lost(LossKind::Truncated)));
    let a = c.anomalies();
    assert!(matches!(
        a[0].detail,
        Detail::Truncated(Some(Removal {
            elected: None,
            broker: BrokerId(1),
            ..
        }))
    ));
}

#[test]
fn never_written_is_pending_until_the_run_drains() {
    let mut c = Checker::new(setup());
    feed(&mut c, &[produced(0, 0, 0, None), acked(0)]);
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Pending));
    assert_eq!(c.outcome().group("billing").unwrap().lost, 0);
    assert_adds_up(&c);
    c.set_final(true);
    assert_eq!(
        fate(&c, BILLING, 0),
        Some(Fate::Lost(LossKind::NeverWritten))
    );
    let a = c.anomalies();
    assert_eq!(a[0].kind, AnomalyKind::NeverWritten);
    assert_eq!(a[0].detail, Detail::NeverWritten { acked: true });
    assert_adds_up(&c);
}

#[test]
fn a_reset_to_latest_skips_what_is_below_it() {
    let mut c = Checker::new(setup());
    feed(
        &mut c,
        &[
            produced(0, 0, 0, None),
            produced(0, 1, 0, None),
            produced(0, 2, 0, None),
            append_at(0, 1, 0, 2, 0),
            reset(BILLING, 0, 2),
            append_at(0, 1, 2, 1, 2),
        ],
    );
    c.set_final(true);
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Lost(LossKind::Skipped)));
    assert_eq!(fate(&c, BILLING, 1), Some(Fate::Lost(LossKind::Skipped)));
    // At or above the reset: in the log, ahead of the group.
    assert_eq!(fate(&c, BILLING, 2), Some(Fate::Unseen));
    // Shipping never reset: everything is unseen, nothing lost.
    assert_eq!(fate(&c, SHIPPING, 0), Some(Fate::Unseen));
    let a: Vec<_> = c
        .anomalies()
        .into_iter()
        .filter(|a| a.group == BILLING)
        .collect();
    assert_eq!(a.len(), 2);
    assert_eq!(
        a[1].detail,
        Detail::Skipped {
            partition: PartitionId(0),
            offset: 1,
            reset: Some(2),
            committed: None,
        }
    );
    let o = c.outcome();
    assert_eq!(o.group("billing").unwrap().lost_by_kind.skipped, 2);
    assert_eq!(o.group("shipping").unwrap().unseen, 3);
    assert_eq!(o.group("shipping").unwrap().verdict, Verdict::ExactlyOnce);
    assert_adds_up(&c);
}

#[test]
fn a_commit_past_an_unapplied_record_skips_it() {
    let mut c = Checker::new(setup());
    feed(
        &mut c,
        &[
            produced(0, 0, 0, None),
            produced(0, 1, 0, None),
            append_at(0, 1, 0, 2, 0),
            committed(BILLING, 0, 2),
            applied(BILLING, 1),
        ],
    );
    c.set_final(true);
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Lost(LossKind::Skipped)));
    assert_eq!(fate(&c, BILLING, 1), Some(Fate::Applied));
    let a: Vec<_> = c
        .anomalies()
        .into_iter()
        .filter(|a| a.group == BILLING)
        .collect();
    assert_eq!(
        a[0].detail,
        Detail::Skipped {
            partition: PartitionId(0),
            offset: 0,
            reset: None,
            committed: Some(2),
        }
    );
}

#[test]
fn a_batch_holds_the_producers_next_records_for_its_partition() {
    let mut c = Checker::new(setup());
    // msg 1 goes to another partition: the batch on partition 0 is msgs 0 and 2.
    feed(
        &mut c,
        &[
            produced(0, 0, 0, None),
            produced(0, 1, 1, None),
            produced(0, 2, 0, None),
            append_at(0, 1, 0, 2, 0),
            reset(BILLING, 0, 2),
        ],
    );
    c.set_final(true);
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Lost(LossKind::Skipped)));
    assert_eq!(fate(&c, BILLING, 2), Some(Fate::Lost(LossKind::Skipped)));
    assert_eq!(
        fate(&c, BILLING, 1),
        Some(Fate::Lost(LossKind::NeverWritten))
    );
}

#[test]
fn failed_only_when_no_log_holds_it() {
    let mut c = Checker::new(setup());
    feed(
        &mut c,
        &[
            produced(0, 0, 0, None),
            produced(0, 1, 0, None),
            failed(0),
            // msg 1 was appended, then its producer timed out: it is still in the log.
            append_at(0, 1, 0, 1, 1),
            failed(1),
        ],
    );
    c.set_final(true);
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Failed));
    assert_eq!(fate(&c, BILLING, 1), Some(Fate::Unseen));
    let b = c.outcome().group("billing").unwrap().clone();
    assert_eq!((b.failed, b.lost, b.verdict), (1, 0, Verdict::ExactlyOnce));
    assert!(c.anomalies().is_empty());
    assert_adds_up(&c);
}

#[test]
fn aborted_records_are_not_lost_and_applying_them_is_an_aborted_read() {
    let mut c = Checker::new(setup());
    let marker = |commit: bool, offset: u64| {
        ev(Trace::TxnMarker {
            partition: PartitionId(0),
            broker: BrokerId(1),
            txn: 0,
            commit,
            offset,
        })
    };
    feed(
        &mut c,
        &[
            ev(Trace::ProducerInitialized {
                producer: ProducerId(0),
                txn: 0,
                epoch: 0,
            }),
            produced(0, 0, 0, None),
            produced(0, 1, 0, None),
            append_at(0, 1, 0, 1, 0),
            marker(false, 1),
            append_at(0, 1, 2, 1, 1),
            marker(true, 3),
            applied(SHIPPING, 0),
            applied(SHIPPING, 1),
            applied(BILLING, 1),
        ],
    );
    c.set_final(true);
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Aborted));
    assert_eq!(fate(&c, BILLING, 1), Some(Fate::Applied));
    assert_eq!(fate(&c, SHIPPING, 0), Some(Fate::Applied));
    let o = c.outcome();
    let b = o.group("billing").unwrap();
    assert_eq!((b.aborted, b.aborted_read, b.lost), (1, 0, 0));
    assert_eq!(b.verdict, Verdict::ExactlyOnce);
    let s = o.group("shipping").unwrap();
    assert_eq!((s.aborted, s.aborted_read, s.applied), (0, 1, 2));
    let a = c.anomalies();
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].group, a[0].msg, a[0].kind),
        (SHIPPING, MsgId(0), AnomalyKind::AbortedRead)
    );
    assert_adds_up(&c);
}

#[test]
fn dead_lettered_duplicated_and_reordered_fates() {
    let mut c = Checker::new(setup());
    feed(
        &mut c,
        &[
            produced(0, 0, 0, Some(0)),
            produced(0, 1, 0, Some(0)),
            produced(0, 2, 0, None),
            append_at(0, 1, 0, 1, 0),
            append_at(0, 1, 1, 1, 1),
            append_at(0, 1, 2, 1, 0), // msg 0 written twice (a retry after a lost ack)
            append_at(0, 1, 3, 1, 2),
            applied(BILLING, 1),
            applied(BILLING, 0),
            applied(BILLING, 0),
            ev(Trace::DeadLettered {
                group: BILLING,
                consumer: ConsumerId(0),
                msg: MsgId(2),
                attempts: 3,
            }),
        ],
    );
    c.set_final(true);
    assert_eq!(fate(&c, BILLING, 0), Some(Fate::Duplicated));
    assert_eq!(fate(&c, BILLING, 1), Some(Fate::Applied));
    assert_eq!(fate(&c, BILLING, 2), Some(Fate::DeadLettered));
    let a: Vec<_> = c
        .anomalies()
        .into_iter()
        .filter(|a| a.group == BILLING)
        .collect();
    let kinds: Vec<_> = a.iter().map(|a| (a.kind, a.msg.0)).collect();
    assert_eq!(
        kinds,
        [(AnomalyKind::Duplicated, 0), (AnomalyKind::Reordered, 0)]
    );
    assert_eq!(
        a[0].detail,
        Detail::Duplicated {
            times: 2,
            appends: 2
        }
    );
    assert_eq!(a[1].detail, Detail::Reordered { after: MsgId(1) });
    let b = c.outcome().group("billing").unwrap().clone();
    assert_eq!(
        (b.applied, b.duplicated, b.dead_lettered, b.reordered),
        (1, 1, 1, 1)
    );
    assert_eq!(b.verdict, Verdict::AtLeastOnce);
    assert_adds_up(&c);
}

#[test]
fn acknowledged_records_above_the_high_watermark_are_at_risk() {
    let mut c = Checker::new(setup());
    let hw = |hw: u64| {
        ev(Trace::HighWatermark {
            partition: PartitionId(0),
            broker: BrokerId(1),
            hw,
        })
    };
    feed(
        &mut c,
        &[
            produced(0, 0, 0, None),
            produced(0, 1, 0, None),
            elected(0, 1, 0, false),
            append_at(0, 1, 0, 2, 0),
            acked(0),
            acked(1),
        ],
    );
    assert_eq!(c.outcome().above_hw, 2);
    feed(&mut c, &[hw(1)]);
    assert_eq!(c.outcome().above_hw, 1);
    feed(&mut c, &[hw(2)]);
    assert_eq!(c.outcome().above_hw, 0);
}

#[test]
fn a_failed_send_in_the_log_says_whether_the_broker_answered() {
    let mut c = Checker::new(setup());
    let after_append = ev(Trace::Failed {
        producer: ProducerId(0),
        msg: MsgId(1),
        error: ErrorCode::NotEnoughReplicasAfterAppend,
    });
    for e in [
        produced(0, 0, 0, None),
        appended(0),
        failed(0),
        produced(0, 1, 0, None),
        ev(Trace::Appended {
            partition: PartitionId(0),
            broker: BrokerId(1),
            base_offset: 1,
            count: 1,
            epoch: 1,
            first_msg: MsgId(1),
        }),
        after_append,
    ] {
        c.observe(&e);
    }
    let written = c.failed_but_written();
    let answered: Vec<(u32, bool)> = written.iter().map(|w| (w.msg.0, w.answered)).collect();
    assert_eq!(
        answered,
        [(0, false), (1, true)],
        "a delivery timeout is unanswered, NOT_ENOUGH_REPLICAS_AFTER_APPEND is an answer"
    );
}
