//! Causes: every trace event records the event that caused it, so any outcome can be walked back
//! to its roots (a fault, a narration note, the end of the run, or the scenario's own workload).

use brokerlab::scenario;
use brokerlab::sim::{EventId, Sim, Trace, TraceEvent, cause_chain};

use crate::util::{brokerlab, stdout};

fn trace_of(name: &str) -> (Sim, Vec<TraceEvent>) {
    let (_, sc) = scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = Sim::with_seed(&sc, sc.scenario.seed);
    let mut events = Vec::new();
    while sim.step() {
        events.extend(sim.drain_trace());
    }
    events.extend(sim.drain_trace());
    (sim, events)
}

#[test]
fn ids_count_up_and_causes_point_backwards() {
    for b in scenario::bundled() {
        let name = b.name;
        let (sim, events) = trace_of(name);
        let sim_notes = sim.notes();
        for (i, ev) in events.iter().enumerate() {
            assert_eq!(ev.id, EventId(i as u64), "{name}: ids are positions");
            if let Some(c) = ev.cause {
                assert!(c < ev.id, "{name}: {:?} caused by a later event", ev);
                let cause = &events[c.0 as usize];
                assert!(cause.time <= ev.time, "{name}: a cause happens first");
            }
            // Faults, timed notes and the end of the run are roots; nothing else causes them.
            // A note anchored to an event is caused by it and comes right after it.
            match ev.kind {
                Trace::Narration { index } if sim_notes[index as usize].anchor.is_some() => {
                    // Right after: only other notes anchored to the same event come between.
                    let c = ev.cause.expect("an anchored note has a cause").0 as usize;
                    assert!(
                        events[c + 1..i]
                            .iter()
                            .all(|e| matches!(e.kind, Trace::Narration { .. })
                                && e.cause == ev.cause),
                        "{name}: {:?} is not right after its event",
                        ev.kind
                    );
                }
                Trace::FaultInjected { .. } | Trace::Narration { .. } | Trace::Draining => {
                    assert_eq!(ev.cause, None, "{name}: {:?} is a root", ev.kind);
                }
                _ => {}
            }
        }
    }
}

#[test]
fn a_truncation_walks_back_to_the_restart_that_caused_it() {
    let (sim, events) = trace_of("acks1-leader-failover");
    let truncation = events
        .iter()
        .find(|e| matches!(e.kind, Trace::Truncated { .. }))
        .expect("acks1-leader-failover truncates");
    let chain = cause_chain(&events, truncation.id);
    assert_eq!(chain[0], truncation.id);
    let kinds: Vec<&Trace> = chain.iter().map(|id| &events[id.0 as usize].kind).collect();
    // broker-1 restarts (the fault), heartbeats, learns the new leader, fetches, gets the
    // diverging epoch back and truncates.
    let Trace::FaultInjected { index } = kinds.last().unwrap() else {
        panic!("the root is the fault: {kinds:?}");
    };
    assert_eq!(sim.fault_label(*index), "restart target=broker-1");
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, Trace::Sent { wire, .. } if wire.kind.name() == "FetchResponse(replica)")),
        "{kinds:?}"
    );
}

#[test]
fn a_faults_effects_point_at_the_fault() {
    let (_, events) = trace_of("acks1-leader-failover");
    let crash = events
        .iter()
        .find(|e| matches!(e.kind, Trace::NodeCrashed { .. }))
        .expect("a crash");
    let cause = crash.cause.expect("a crash has a cause");
    assert!(matches!(
        events[cause.0 as usize].kind,
        Trace::FaultInjected { .. }
    ));
}

#[test]
fn the_chain_stops_at_the_edge_of_a_partial_trace() {
    let (_, events) = trace_of("acks1-leader-failover");
    let last = events.last().unwrap().id;
    let whole = cause_chain(&events, last);
    let tail = &events[events.len() - 3..];
    let partial = cause_chain(tail, last);
    assert!(!partial.is_empty() && partial.len() <= 3);
    assert_eq!(partial, whole[..partial.len()]);
    assert!(cause_chain(&[], last).is_empty());
}

#[test]
fn verbose_run_shows_each_events_id_and_cause() {
    let out = brokerlab(&["run", "acks1-leader-failover", "-v"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let truncation = text
        .lines()
        .find(|l| l.contains("truncates orders/0"))
        .expect("the truncation is narrated");
    let cols: Vec<&str> = truncation.split_whitespace().collect();
    assert!(cols[1].starts_with('#'), "{truncation}");
    let cause = cols[2].strip_prefix('←').expect("a cause column");
    // The cause it names is printed too, earlier.
    let cause_line = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(cause))
        .unwrap_or_else(|| panic!("no line for {cause}"));
    assert!(
        cause_line.contains("FetchResponse(replica)"),
        "{cause_line}"
    );
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().nth(2) == Some("root"))
    );
}

#[test]
fn explain_tells_a_truncated_messages_life() {
    let out = brokerlab(&["run", "acks1-leader-failover", "--explain", "checkout#7"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
    };
    // In order: sent, appended on the leader only, acknowledged, the leader crashes, another is
    // elected, and the old leader truncates it on return.
    let steps = [
        at("checkout sends checkout#7"),
        at("broker-1 appends checkout#7"),
        at("checkout#7 acknowledged"),
        at("broker-1 crashes"),
        at("leader is now broker-2"),
        at("broker-1 truncates orders/0"),
    ];
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        text.contains("because #"),
        "each step names its cause:\n{text}"
    );
    assert!(!text.contains("applies checkout#7"), "{text}");
}

#[test]
fn explain_rejects_an_unknown_message() {
    let out = brokerlab(&["run", "acks1-leader-failover", "--explain", "checkout#99"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::util::stderr(&out).contains("checkout"));
}

#[test]
fn a_duplicates_life_shows_the_lost_acknowledgement_before_the_retry() {
    let out = brokerlab(&["run", "ack-loss-duplicates", "--explain", "checkout#6"]);
    let text = stdout(&out);
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
    };
    assert!(at("broker-1 appends checkout#6") < at("ProduceResponse broker-1 → checkout dropped"));
    assert!(at("ProduceResponse broker-1 → checkout dropped") < at("retries checkout#6"));
    assert!(at("retries checkout#6") < at("appends checkout#6 to orders/0 at offset 10"));
}
