//! Determinism: the same scenario and seed give a byte-identical
//! trace, another seed gives another trace, and a `Sim` cloned mid-run continues exactly like the
//! original (the TUI rewinds by restoring clones).

use brokerlab::scenario::{self, Scenario};
use brokerlab::sim::digest::Digest;
use brokerlab::sim::{Phase, Sim, SimTime, TraceEvent};

/// A leader failover with random latency, ACK loss, a consumer group and a rebalance: most of
/// the machinery, and plenty of seeded randomness.
const FAILOVER: &str = r#"
[scenario]
title = "determinism: leader failover under load"
seed = 11
stop_at_ms = 15000

[cluster]
brokers = 3

[network]
latency_ms = [1, 20]
loss = 0.002

[[topics]]
name = "orders"
partitions = 3
replication_factor = 3
min_insync_replicas = 2

[[producers]]
name = "checkout"
topic = "orders"
acks = "all"
max_in_flight = 5
send = { count = 200, every_ms = 25, keys = ["alice", "bob", "carol", "dave"], key_distribution = "uniform" }

[[producers]]
name = "legacy"
topic = "orders"
acks = "1"
retries = 3
enable_idempotence = false
send = { count = 50, every_ms = 100, start_ms = 500 }

[[groups]]
name = "billing"
topic = "orders"
consumers = 2
commit = "after-process"
auto_offset_reset = "earliest"
processing_ms = 5

[[faults]]
at_ms = 3000
action = "crash"
target = "leader:orders/0"

[[faults]]
at_ms = 4000
action = "drop-acks"
target = "checkout"
count = 2

[[faults]]
at_ms = 6000
action = "add-consumer"
group = "billing"

[[faults]]
at_ms = 9000
action = "restart"
target = "broker-1"

[[faults]]
at_ms = 12000
action = "elect-preferred"
partition = "orders/0"
"#;

/// A smaller scenario with a partition and a pause, keyless records (sticky partitioner).
const PARTITIONED: &str = r#"
[scenario]
title = "determinism: network partition"
seed = 3
stop_at_ms = 12000

[cluster]
brokers = 4
broker_session_timeout_ms = 6000
broker_heartbeat_interval_ms = 1000

[network]
latency_ms = [2, 9]

[[topics]]
name = "events"
partitions = 2
replication_factor = 3
min_insync_replicas = 1

[[producers]]
name = "ingest"
topic = "events"
acks = "1"
send = { count = 80, every_ms = 100 }

[[groups]]
name = "audit"
topic = "events"
consumers = 2
commit = "auto"
auto_offset_reset = "earliest"
dedup = true

[[faults]]
at_ms = 2000
action = "partition"
sides = [["broker-1", "broker-2"], ["broker-3", "broker-4", "controller"]]
duration_ms = 5000

[[faults]]
at_ms = 8000
action = "pause"
target = "audit/consumer-1"
duration_ms = 3000
"#;

fn load(toml: &str) -> Scenario {
    scenario::parse("inline.toml", toml).unwrap_or_else(|e| panic!("{e}"))
}

/// The digest and event count of a whole run, also checking that it finishes.
fn digest_of(sc: &Scenario, seed: u64) -> (String, u64) {
    let mut sim = Sim::with_seed(sc, seed);
    let mut digest = Digest::default();
    while sim.step() {
        sim.drain_trace().for_each(|ev| digest.add(&ev));
    }
    sim.drain_trace().for_each(|ev| digest.add(&ev));
    assert_eq!(sim.phase(), Phase::Finished);
    (digest.hex(), sim.events())
}

/// Steps to the end, digesting every trace event.
fn finish(sim: &mut Sim, digest: &mut Digest) {
    while sim.step() {
        sim.drain_trace().for_each(|ev| digest.add(&ev));
    }
    sim.drain_trace().for_each(|ev| digest.add(&ev));
}

#[test]
fn same_seed_same_digest_and_event_count() {
    for toml in [FAILOVER, PARTITIONED] {
        let sc = load(toml);
        let a = digest_of(&sc, sc.scenario.seed);
        let b = digest_of(&sc, sc.scenario.seed);
        assert_eq!(a, b, "two runs of `{}` differ", sc.scenario.title);
        // `Sim::new` uses the scenario's own seed.
        let mut sim = Sim::new(&sc);
        let mut digest = Digest::default();
        finish(&mut sim, &mut digest);
        assert_eq!((digest.hex(), sim.events()), a);
        assert!(a.1 > 500, "suspiciously short run: {} events", a.1);
    }
}

#[test]
fn same_seed_same_trace_event_by_event() {
    let sc = load(FAILOVER);
    let collect = || {
        let mut sim = Sim::new(&sc);
        let mut trace: Vec<TraceEvent> = Vec::new();
        while sim.step() {
            trace.extend(sim.drain_trace());
        }
        trace.extend(sim.drain_trace());
        trace
    };
    let (a, b) = (collect(), collect());
    assert_eq!(a.len(), b.len());
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!("traces diverge at event {i}: {:?} vs {:?}", a[i], b[i]);
    }
}

#[test]
fn different_seed_different_digest() {
    for toml in [FAILOVER, PARTITIONED] {
        let sc = load(toml);
        let base = digest_of(&sc, sc.scenario.seed);
        let mut seen = vec![base.0.clone()];
        for seed in [sc.scenario.seed + 1, 1000, u64::MAX] {
            let (d, _) = digest_of(&sc, seed);
            assert!(
                !seen.contains(&d),
                "seed {seed} of `{}` repeats digest {d}",
                sc.scenario.title
            );
            seen.push(d);
        }
    }
}

#[test]
fn clone_mid_run_continues_identically() {
    let sc = load(FAILOVER);
    let (full, full_events) = digest_of(&sc, sc.scenario.seed);
    // Clone at several points: before anything happened, mid-send, around the crash, during
    // the drain.
    let mut sim = Sim::new(&sc);
    let mut digest = Digest::default();
    let mut clones: Vec<(Sim, Digest)> = vec![(sim.clone(), digest)];
    let mut next_clone = 1_000u64;
    while sim.step() {
        sim.drain_trace().for_each(|ev| digest.add(&ev));
        if sim.events() == next_clone {
            // The clone is taken with the trace buffer drained, like a TUI checkpoint.
            clones.push((sim.clone(), digest));
            next_clone *= 3;
        }
    }
    sim.drain_trace().for_each(|ev| digest.add(&ev));
    assert_eq!((digest.hex(), sim.events()), (full.clone(), full_events));
    assert!(clones.len() >= 4, "only {} clones taken", clones.len());
    for (i, (mut clone, mut d)) in clones.into_iter().enumerate() {
        let at = clone.events();
        finish(&mut clone, &mut d);
        assert_eq!(
            (d.hex(), clone.events()),
            (full.clone(), full_events),
            "clone {i}, taken after {at} events, ended differently"
        );
    }
}

#[test]
fn clone_with_pending_trace_and_both_halves_continue() {
    // Clone without draining first: the clone carries the undrained trace events, and the
    // original and the clone, both stepped to the end, see the same events.
    let sc = load(PARTITIONED);
    let mut a = Sim::new(&sc);
    let mut da = Digest::default();
    for _ in 0..500 {
        if !a.step() {
            break;
        }
        if !a.events().is_multiple_of(7) {
            a.drain_trace().for_each(|ev| da.add(&ev));
        }
    }
    assert_eq!(a.phase(), Phase::Running, "the scenario ended too early");
    let mut b = a.clone();
    let mut db = da;
    assert_eq!(a.pending_trace(), b.pending_trace());
    // Interleave: the original goes first to the end, then the clone.
    finish(&mut a, &mut da);
    finish(&mut b, &mut db);
    assert_eq!((da.hex(), a.events()), (db.hex(), b.events()));
    assert_eq!(
        (da.hex(), a.events()),
        digest_of(&sc, sc.scenario.seed),
        "a cloned run differs from an uninterrupted one"
    );
}

#[test]
fn injected_fault_is_replayable() {
    // A fault injected live is recorded: a run that injects it at the same event gives the same
    // digest as another such run.
    use brokerlab::sim::{FaultKind, FaultSpec, NodeId, Target};
    let sc = load(FAILOVER);
    let run = || {
        let mut sim = Sim::new(&sc);
        let mut d = Digest::default();
        while sim.step() {
            sim.drain_trace().for_each(|ev| d.add(&ev));
            if sim.events() == 2_000 {
                sim.inject_fault(FaultSpec {
                    at: SimTime::ZERO,
                    kind: FaultKind::Crash(Target::Node(NodeId(1))),
                });
            }
        }
        sim.drain_trace().for_each(|ev| d.add(&ev));
        assert_eq!(sim.faults().len(), sc.faults.len() + 1);
        (d.hex(), sim.events())
    };
    let a = run();
    assert_eq!(a, run());
    assert_ne!(a, digest_of(&sc, sc.scenario.seed));
}

/// Headless runs store no `Sent` events but number, cause and digest every event exactly as a
/// full run does: the stored events are the full trace without its `Sent` events, and the
/// kernel's digest equals the digest of the full trace.
#[test]
fn headless_trace_modes_keep_ids_and_the_digest() {
    use brokerlab::sim::{Trace, TraceMode};
    let sc = scenario::parse("failover.toml", FAILOVER).expect("valid");
    let run = |mode: TraceMode| {
        let mut sim = Sim::new(&sc);
        sim.set_trace_mode(mode);
        let mut events: Vec<TraceEvent> = Vec::new();
        while sim.step() {
            events.extend(sim.drain_trace());
        }
        events.extend(sim.drain_trace());
        (events, sim.trace_digest().map(|d| d.value()))
    };
    let (full, none) = run(TraceMode::Full);
    assert_eq!(none, None, "a full run leaves the digest to its reader");
    let mut digest = Digest::default();
    full.iter().for_each(|ev| digest.add(ev));
    let sent = |ev: &TraceEvent| matches!(ev.kind, Trace::Sent { .. });
    assert!(full.iter().any(sent));
    let without_sent: Vec<TraceEvent> = full.iter().filter(|ev| !sent(ev)).cloned().collect();
    let (stored, folded) = run(TraceMode::Digest);
    assert_eq!(stored, without_sent);
    assert_eq!(folded, Some(digest.value()));
    let (stored, none) = run(TraceMode::Outcome);
    assert_eq!(stored, without_sent);
    assert_eq!(none, None);
}

/// `run_headless` (what `run --json`, `check` and the quiet and narrated text runs use) gives
/// the report `run` gives, digest included, for every bundled scenario.
#[test]
fn headless_reports_equal_full_reports() {
    for b in scenario::bundled() {
        let (label, sc) = scenario::load(b.name).expect("bundled scenarios are valid");
        let full = brokerlab::report::run(&label, &sc, sc.scenario.seed, |_, _| {});
        let headless = brokerlab::report::run_headless(&label, &sc, sc.scenario.seed, |_, _| {});
        assert_eq!(
            serde_json::to_string(&full).expect("serialises"),
            serde_json::to_string(&headless).expect("serialises"),
            "{label}"
        );
    }
}
