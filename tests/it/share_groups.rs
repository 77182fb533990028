//! KIP-932 share groups on real runs: the bundled share-group scenarios, the trace's record
//! states, and share-group validation.

use brokerlab::report::{self, Report};
use brokerlab::scenario;
use brokerlab::sim::consumer::ConsumerState;
use brokerlab::sim::{ShareStep, Sim, Trace};

fn load(name: &str) -> scenario::Scenario {
    scenario::find_bundled(name)
        .expect("bundled")
        .parse()
        .expect("valid")
}

fn run(name: &str) -> Report {
    let sc = load(name);
    report::run(name, &sc, sc.scenario.seed, |_, _| {})
}

/// The whole trace of a bundled scenario.
fn trace(name: &str) -> (Sim, Vec<brokerlab::sim::TraceEvent>) {
    let mut sim = Sim::new(&load(name));
    sim.run_to_end();
    let events = sim.drain_trace().collect();
    (sim, events)
}

#[test]
fn more_consumers_than_partitions_all_apply_records() {
    let r = run("share-group-all-busy");
    let w = &r.groups["workers"];
    assert_eq!((w.applied, w.duplicated, w.lost), (200, 0, 0));
    let (sim, events) = trace("share-group-all-busy");
    let group = &sim.groups()[0];
    assert_eq!(group.consumers.len(), 4);
    // Every one of the four consumers applied records: none sat idle.
    for &c in &group.consumers {
        let applied = events
            .iter()
            .filter(|e| matches!(e.kind, Trace::Applied { consumer, .. } if consumer == c))
            .count();
        assert!(applied > 10, "consumer {c:?} applied only {applied}");
        assert_eq!(sim.consumers()[c.idx()].state(), ConsumerState::Active);
    }
    // Each partition had two members acquiring from it.
    let sg = &sim.share_groups()[0];
    for &p in &sg.partitions {
        let readers = sg
            .members()
            .iter()
            .filter(|m| m.assignment.contains(&p))
            .count();
        assert_eq!(readers, 2);
        let sp = sim
            .share_partition(brokerlab::sim::GroupId(0), p)
            .expect("loaded");
        assert_eq!(sp.spso(), 100, "every record of the partition acknowledged");
        assert_eq!(sp.speo(), 100);
    }
}

#[test]
fn a_crashed_consumers_locks_expire_and_its_records_are_redelivered() {
    let r = run("share-group-lock-expiry");
    let w = &r.groups["workers"];
    assert_eq!(w.lost, 0);
    assert!(w.duplicated >= 1, "{w:?}");
    assert!(w.redelivered >= w.duplicated, "{w:?}");
    assert_eq!(w.applied + w.duplicated, 60);
    let (sim, events) = trace("share-group-lock-expiry");
    let crashed = sim.groups()[0].consumers[0];
    // The locks of the crashed member expire one lock duration after they were taken, and
    // another member acquires each of those records again, at delivery count 2.
    let expired: Vec<_> = events
        .iter()
        .filter_map(|e| match e.kind {
            Trace::Share {
                consumer,
                offset,
                step: ShareStep::LockExpired,
                ..
            } => Some((consumer, offset, e.time, e.cause)),
            _ => None,
        })
        .collect();
    assert!(!expired.is_empty());
    for &(consumer, offset, at, cause) in &expired {
        assert_eq!(consumer, crashed);
        assert!(cause.is_some(), "a lock expiry records its cause");
        let acquired = events
            .iter()
            .find(|e| {
                matches!(e.kind, Trace::Share { offset: o, step: ShareStep::Acquired, delivery_count: 1, .. } if o == offset)
            })
            .expect("acquired first");
        assert_eq!(at.0 - acquired.time.0, 15_000_000, "the lock lasts 15 s");
        let again = events.iter().any(|e| {
            e.time >= at
                && matches!(e.kind, Trace::Share { offset: o, step: ShareStep::Acquired, delivery_count: 2, consumer, .. } if o == offset && consumer != crashed)
        });
        assert!(again, "offset {offset} redelivered to the other member");
    }
}

#[test]
fn a_poison_record_is_archived_at_the_delivery_count_limit() {
    let r = run("share-group-poison-archived");
    let w = &r.groups["workers"];
    assert_eq!((w.applied, w.dead_lettered, w.lost), (26, 4, 0));
    // Each poison record is delivered exactly `delivery_count_limit` (3) times.
    assert_eq!(w.redelivered, 8);
    let (_, events) = trace("share-group-poison-archived");
    let archived: Vec<u32> = events
        .iter()
        .filter_map(|e| match e.kind {
            Trace::Share {
                delivery_count,
                step: ShareStep::Archived,
                ..
            } => Some(delivery_count),
            _ => None,
        })
        .collect();
    assert_eq!(archived, [3, 3, 3, 3]);
}

#[test]
fn share_groups_are_deterministic() {
    let (_, a) = trace("share-group-lock-expiry");
    let (_, b) = trace("share-group-lock-expiry");
    assert_eq!(a, b);
}

#[test]
fn fields_that_do_not_apply_to_a_share_group_are_refused_where_they_are() {
    let text = r#"
[scenario]
title = "t"

[[topics]]
name = "orders"

[[groups]]
name = "workers"
topic = "orders"
type = "share"
commit = "after-process"
delivery_count_limit = 11
"#;
    let err = scenario::parse("bad.toml", text).expect_err("invalid");
    let msg = err.to_string();
    assert!(msg.contains("bad.toml:12:1"), "{msg}");
    assert!(
        msg.contains("`commit` does not apply to a share group"),
        "{msg}"
    );
    let limit = text.replace("commit = \"after-process\"\n", "");
    let msg = scenario::parse("bad.toml", &limit)
        .expect_err("invalid")
        .to_string();
    assert!(msg.contains("bad.toml:12:24"), "{msg}");
    assert!(msg.contains("delivery_count_limit = 11"), "{msg}");
    assert!(msg.contains("2 to 10"), "{msg}");
    let consumer_group = text.replace("type = \"share\"\ncommit = \"after-process\"\n", "");
    let err = scenario::parse("bad.toml", &consumer_group).expect_err("invalid");
    assert!(
        err.to_string()
            .contains("`delivery_count_limit` applies only to a share group"),
        "{err}"
    );
}
