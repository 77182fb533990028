//! Consumer groups as Kafka 4.x documents them: the sticky assignor's balance (KIP-54), static
//! membership (KIP-345), the offset reset under read_committed, UNSTABLE_OFFSET_COMMIT (KIP-447)
//! and the consumer's retry backoff (KIP-580).

use brokerlab::report::{self, Report};
use brokerlab::scenario;
use brokerlab::sim::{Trace, TraceEvent};

fn parse(text: &str) -> scenario::Scenario {
    scenario::parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a scenario and keeps every trace event with the simulated time it happened at.
fn run(text: &str) -> (Report, Vec<TraceEvent>) {
    let sc = parse(text);
    let mut events = Vec::new();
    let r = report::run("test.toml", &sc, sc.scenario.seed, |_, ev| {
        events.push(ev.clone())
    });
    (r, events)
}

fn rebalances(events: &[TraceEvent]) -> Vec<Vec<usize>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Trace::Rebalanced { assignment, .. } => {
                Some(assignment.iter().map(|(_, ps)| ps.len()).collect())
            }
            _ => None,
        })
        .collect()
}

const SEVEN_PARTITIONS: &str = r#"
[scenario]
title = "sticky balance"
seed = 1
stop_at_ms = 20000

[cluster]
brokers = 3

[[topics]]
name = "orders"
partitions = 7
replication_factor = 3

[[producers]]
name = "checkout"
topic = "orders"
send = { count = 70, every_ms = 100, start_ms = 1000 }

[[groups]]
name = "billing"
topic = "orders"
consumers = 2
assignor = "ASSIGNOR"
commit = "after-process"
processing_ms = 10
auto_offset_reset = "earliest"

[[faults]]
at_ms = 6000
action = "add-consumer"
group = "billing"
"#;

/// KIP-54 / `AbstractStickyAssignor`: the assignment is balanced first (partition counts differ
/// by at most one), and moves as few partitions as possible second.
#[test]
fn sticky_assignor_is_balanced_when_a_third_member_joins() {
    for assignor in ["sticky", "cooperative-sticky"] {
        let (_, events) = run(&SEVEN_PARTITIONS.replace("ASSIGNOR", assignor));
        let gens = rebalances(&events);
        assert!(gens.len() >= 2, "{assignor}: {gens:?}");
        let mut first = gens[0].clone();
        first.sort();
        assert_eq!(first, [3, 4], "{assignor}: {gens:?}");
        let mut last = gens.last().unwrap().clone();
        last.sort();
        assert_eq!(last, [2, 2, 3], "{assignor}: {gens:?}");
        // Stickiness: only the two partitions the newcomer needs move.
        let owners = |e: &Trace| -> Vec<(u32, u32)> {
            let Trace::Rebalanced { assignment, .. } = e else {
                unreachable!()
            };
            let mut v: Vec<(u32, u32)> = assignment
                .iter()
                .flat_map(|(c, ps)| ps.iter().map(move |p| (p.0, c.0)))
                .collect();
            v.sort();
            v
        };
        let all: Vec<&Trace> = events
            .iter()
            .map(|e| &e.kind)
            .filter(|k| matches!(k, Trace::Rebalanced { .. }))
            .collect();
        let (before, after) = (owners(all[0]), owners(all[all.len() - 1]));
        let moved = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a.1 != b.1)
            .count();
        assert_eq!(moved, 2, "{assignor}: {before:?} -> {after:?}");
    }
}
