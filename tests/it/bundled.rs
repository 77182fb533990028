//! Every bundled scenario meets its own `[expect]`, and its trace digest and outcome for its
//! seed are pinned by a snapshot, so any change in simulated behaviour shows up for review.

use brokerlab::report;
use brokerlab::scenario;

#[test]
fn every_bundled_scenario_meets_its_expectations() {
    let all = scenario::bundled();
    assert!(!all.is_empty(), "no bundled scenarios");
    let mut failures = Vec::new();
    for b in all {
        let sc = b
            .parse()
            .unwrap_or_else(|e| panic!("{} does not parse:\n{e}", b.name));
        let Some(_) = sc.expect else {
            failures.push(format!("{}: no [expect] section", b.name));
            continue;
        };
        let r = report::run(&b.label(), &sc, sc.scenario.seed, |_, _| {});
        let e = r.expect.expect("expectations were checked");
        if !e.passed {
            failures.push(format!("{}:\n  {}", b.name, e.failures.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bundled_outcomes_are_pinned() {
    for b in scenario::bundled() {
        let sc = b.parse().expect("bundled scenario parses");
        let r = report::run(&b.label(), &sc, sc.scenario.seed, |_, _| {});
        let pinned = serde_json::json!({
            "seed": r.seed,
            "digest": r.digest,
            "events": r.events,
            "end_ms": r.end_ms,
            "produced": r.produced,
            "outcome": r.outcome,
            "elections": r.elections,
            "truncations": r.truncations,
        });
        insta::with_settings!({
            snapshot_path => "../../snapshots",
            prepend_module_to_snapshot => false,
            description => sc.scenario.title.clone(),
        }, {
            insta::assert_json_snapshot!(format!("bundled__{}", b.name), pinned);
        });
    }
}

#[test]
fn acks1_failover_truncates_the_acknowledged_writes() {
    let b = scenario::find_bundled("acks1-leader-failover").expect("bundled");
    let sc = b.parse().unwrap();
    let r = report::run(&b.label(), &sc, sc.scenario.seed, |_, _| {});
    assert!(!r.truncations.is_empty(), "no truncation");
    let removed: Vec<&String> = r.truncations.iter().flat_map(|t| &t.removed).collect();
    assert!(!removed.is_empty());
    // Every removed message was acknowledged (acks=1) and never applied: that is acked_lost.
    assert_eq!(r.outcome.acked_lost as usize, removed.len());
    let names = r.logs.names();
    let survivor = &names["orders/0"]["broker-2"];
    for m in removed {
        assert!(!survivor.contains(m), "{m} survived on the new leader");
    }
}

#[test]
fn acks_all_failover_loses_nothing_acknowledged() {
    let b = scenario::find_bundled("acks-all-leader-failover").expect("bundled");
    let sc = b.parse().unwrap();
    let r = report::run(&b.label(), &sc, sc.scenario.seed, |_, _| {});
    assert_eq!(r.outcome.acked_lost, 0);
    assert_eq!(r.outcome.lost, 0);
    assert_eq!(r.produced.acked, r.produced.sent);
    // The replicas agree at the end: the truncated replica caught up with the leader.
    let names = r.logs.names();
    let logs = &names["orders/0"];
    assert_eq!(logs["broker-1"], logs["broker-2"]);
    assert_eq!(logs["broker-2"], logs["broker-3"]);
}
