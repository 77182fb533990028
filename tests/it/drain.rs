//! Regressions found by the property tests: the drain must not end while replication is still
//! under way, and a coordinator that restarts before it is fenced must reload its groups.

use brokerlab::report;
use brokerlab::scenario;

fn run(text: &str) -> report::Report {
    let sc = scenario::parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"));
    report::run("test.toml", &sc, sc.scenario.seed, |_, _| {})
}

#[test]
fn the_drain_waits_for_a_follower_that_will_catch_up() {
    // One dropped follower fetch makes it wait out replica.socket.timeout.ms (30 s); the HW
    // stays behind until then. The run stops at 3 s, but must not judge losses before the
    // follower has caught up and the consumer could read everything.
    let r = run(r#"
[scenario]
title = "drain waits for replication"
stop_at_ms = 3000
[cluster]
brokers = 2
[[topics]]
name = "t"
replication_factor = 2
[[producers]]
name = "p"
topic = "t"
acks = "1"
send = { count = 10, every_ms = 100, start_ms = 1500 }
[[groups]]
name = "g"
topic = "t"
auto_offset_reset = "earliest"
[[faults]]
at_ms = 1000
action = "drop"
link = "broker-2->broker-1"
count = 1
"#);
    assert_eq!(r.outcome.lost, 0, "{:?}", r.outcome);
    assert_eq!(r.groups["g"].applied, 10);
    assert!(r.end_ms > 30_000, "ended at {} ms", r.end_ms);
}

#[test]
fn a_coordinator_that_restarts_before_it_is_fenced_reloads_its_groups() {
    // broker-1 hosts the group's coordinator (and the join in progress). It crashes and comes
    // back within broker.session.timeout.ms: it is never fenced, so it stays the coordinator,
    // and must finish the rebalance its previous process had started.
    let text = r#"
[scenario]
title = "coordinator restart"
stop_at_ms = 15000
[cluster]
brokers = 3
[[topics]]
name = "orders"
partitions = 1
replication_factor = 3
min_insync_replicas = 2
[[producers]]
name = "p"
topic = "orders"
send = { count = 10, every_ms = 200, start_ms = 3000 }
[[groups]]
name = "g"
topic = "orders"
consumers = 2
commit = "after-process"
auto_offset_reset = "earliest"
[[faults]]
at_ms = 1000
action = "crash"
target = "HOST"
[[faults]]
at_ms = 2000
action = "restart"
target = "HOST"
"#;
    // Find the coordinator's broker first, then crash exactly that one.
    let sc = scenario::parse("t.toml", &text.replace("HOST", "broker-1")).unwrap();
    let sim = brokerlab::sim::Sim::new(&sc);
    let host = sim.coordinator_host(brokerlab::sim::GroupId(0)).unwrap();
    let host = sim.broker_name(host).to_string();
    let r = run(&text.replace("HOST", &host));
    assert!(!r.rebalances.is_empty(), "the group never formed");
    assert_eq!(r.groups["g"].lost, 0, "{:?}", r.groups["g"]);
    assert_eq!(r.groups["g"].applied, 10);
}
