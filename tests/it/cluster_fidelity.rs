//! Issue 10, the cluster: brokers, the controller and replication as Kafka 4.x runs them.

use brokerlab::report::{self, Report};
use brokerlab::scenario;
use brokerlab::sim::{SimTime, Trace};

/// Run a scenario text; its report and every trace event with its time.
pub fn run(text: &str) -> (Report, Vec<(SimTime, Trace)>) {
    let sc = scenario::parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let mut trace = Vec::new();
    let r = report::run("test.toml", &sc, sc.scenario.seed, |_, ev| {
        trace.push((ev.time, ev.kind.clone()));
    });
    (r, trace)
}

/// acks=all to a 3-replica partition; its leader goes away at 3 s (`ACTION`) and comes back
/// at 15 s.
const LEADER_LEAVES: &str = r#"
[scenario]
title = "the leader leaves"
seed = 7
stop_at_ms = 25000

[cluster]
brokers = 3

[[topics]]
name = "orders"
partitions = 1
replication_factor = 3
min_insync_replicas = 2

[[producers]]
name = "checkout"
topic = "orders"
acks = "all"
send = { count = 150, every_ms = 100, start_ms = 1000, keys = ["alice", "bob"] }

[[faults]]
at_ms = 3000
action = "ACTION"
target = "broker-1"

[[faults]]
at_ms = 15000
action = "restart"
target = "broker-1"
"#;

/// The longest any record waited for its acknowledgement, in ms.
fn max_ack_wait_ms(r: &Report) -> f64 {
    r.metrics.produce_latency["checkout"].max_ms
}

/// Controlled shutdown (KIP-631, `controlled.shutdown.enable`): the controller moves the
/// leadership before the broker goes, so the producer is redirected at once
/// (NOT_LEADER_OR_FOLLOWER) instead of waiting `broker.session.timeout.ms` (9 s) for a crashed
/// leader to be fenced. Nothing acknowledged is lost either way with acks=all.
#[test]
fn a_stopped_leader_hands_over_at_once_where_a_crashed_one_takes_the_session_timeout() {
    let (crash, crash_trace) = run(&LEADER_LEAVES.replace("ACTION", "crash"));
    let (stop, stop_trace) = run(&LEADER_LEAVES.replace("ACTION", "stop"));
    for r in [&crash, &stop] {
        assert_eq!(r.produced.acked, 150, "{:?}", r.produced);
        assert_eq!(r.outcome.acked_lost, 0);
    }
    let crash_wait = max_ack_wait_ms(&crash);
    let stop_wait = max_ack_wait_ms(&stop);
    assert!(
        crash_wait > 8000.0,
        "a crash waits for the fencing: {crash_wait} ms"
    );
    assert!(
        stop_wait < 500.0,
        "a stop hands over at once: {stop_wait} ms"
    );
    let unavailable = |r: &Report| r.metrics.unavailable_ms.get("orders/0").copied();
    assert!(unavailable(&crash).is_some_and(|ms| ms > 8000.0));
    assert!(
        unavailable(&stop).is_none_or(|ms| ms < 500.0),
        "{:?}",
        unavailable(&stop)
    );

    // The order of a controlled shutdown: asked, leadership moved, granted, exited.
    let first = |trace: &[(SimTime, Trace)], f: &dyn Fn(&Trace) -> bool| {
        trace.iter().position(|(_, t)| f(t))
    };
    let asked = first(&stop_trace, &|t| {
        matches!(t, Trace::ShutdownRequested { .. })
    });
    let moved = first(
        &stop_trace,
        &|t| matches!(t, Trace::LeaderElected { leader, .. } if leader.0 != 0),
    );
    let granted = first(&stop_trace, &|t| {
        matches!(t, Trace::ControlledShutdown { granted: true, .. })
    });
    let exited = first(&stop_trace, &|t| matches!(t, Trace::NodeStopped { .. }));
    assert!(asked < moved && moved < granted && granted < exited && exited.is_some());
    assert!(
        !stop_trace
            .iter()
            .any(|(_, t)| matches!(t, Trace::NodeCrashed { .. } | Trace::BrokerFenced { .. })),
        "a stop is no crash, and the broker is not fenced for missing heartbeats"
    );
    assert!(
        crash_trace
            .iter()
            .any(|(_, t)| matches!(t, Trace::BrokerFenced { .. }))
    );
}

/// KIP-966: the last in-sync replica dies while a cleanly stopped replica waits in the ELR.
/// With ELR that replica is elected when the dead one is fenced; without it the partition has
/// no leader until the dead one returns.
#[test]
fn an_elr_member_leads_when_the_last_in_sync_replica_dies() {
    let text = brokerlab::scenario::find_bundled("elr-last-replica-standing")
        .expect("bundled")
        .text;
    let (on, on_trace) = run(text);
    let (off, off_trace) = run(&text.replace(
        "eligible_leader_replicas = true",
        "eligible_leader_replicas = false",
    ));
    let elected = |trace: &[(SimTime, Trace)]| -> Vec<(u64, u32, bool)> {
        trace
            .iter()
            .filter_map(|(at, t)| match t {
                Trace::LeaderElected {
                    leader, from_elr, ..
                } => Some((at.as_ms(), leader.0, *from_elr)),
                _ => None,
            })
            .collect()
    };
    let on_elected = elected(&on_trace);
    let off_elected = elected(&off_trace);
    assert!(
        matches!(on_elected[..], [(at, 1, true), ..] if (15_000..16_000).contains(&at)),
        "broker-2 from the ELR when broker-1 is fenced: {on_elected:?}"
    );
    assert!(
        matches!(off_elected[..], [(at, 0, false), ..] if at >= 28_000),
        "nobody until broker-1 returns: {off_elected:?}"
    );
    for r in [&on, &off] {
        assert_eq!(r.outcome.acked_lost, 0);
        assert_eq!(r.outcome.lost, 0);
    }
    let unavailable = |r: &Report| r.metrics.unavailable_ms["orders/0"];
    assert!(unavailable(&on) + 8000.0 < unavailable(&off));
}

/// A bundled scenario's text with `replica_recovery` set to `mode`.
fn with_recovery(name: &str, mode: &str) -> String {
    let text = brokerlab::scenario::find_bundled(name)
        .expect("bundled")
        .text;
    assert!(text.contains("replica_recovery = \"high-watermark\""));
    text.replace(
        "replica_recovery = \"high-watermark\"",
        &format!("replica_recovery = \"{mode}\""),
    )
}

/// KIP-101 scenario 1: with Kafka 0.10's recovery a follower truncates to its stale HW and is
/// made leader before it fetches again, losing an acknowledged acks=all record; with leader
/// epochs the same run loses nothing.
#[test]
fn pre_kip101_recovery_loses_a_committed_write_and_leader_epochs_do_not() {
    let (hw, hw_trace) = run(&with_recovery(
        "pre-kip101-lost-committed-write",
        "high-watermark",
    ));
    let (epoch, epoch_trace) = run(&with_recovery(
        "pre-kip101-lost-committed-write",
        "leader-epoch",
    ));
    assert_eq!(hw.outcome.acked_lost, 1, "{:?}", hw.outcome);
    assert_eq!(epoch.outcome.acked_lost, 0);
    assert_eq!(epoch.outcome.lost, 0);
    let to_hw = |trace: &[(SimTime, Trace)]| {
        trace
            .iter()
            .filter(|(_, t)| {
                matches!(
                    t,
                    Trace::Truncated {
                        reason: brokerlab::sim::TruncateReason::HighWatermark,
                        ..
                    }
                )
            })
            .count()
    };
    assert!(to_hw(&hw_trace) >= 1);
    assert_eq!(to_hw(&epoch_trace), 0);
}

/// KIP-101 scenario 2: with Kafka 0.10's recovery two replicas end with different records at
/// the same offsets; with leader epochs their logs agree.
#[test]
fn pre_kip101_recovery_leaves_divergent_logs_and_leader_epochs_do_not() {
    let logs = |r: &Report| -> Vec<Vec<String>> {
        r.logs.names()["orders/0"]
            .values()
            .cloned()
            .collect::<Vec<_>>()
    };
    let (hw, _) = run(&with_recovery(
        "pre-kip101-divergent-logs",
        "high-watermark",
    ));
    let (epoch, _) = run(&with_recovery("pre-kip101-divergent-logs", "leader-epoch"));
    let l = logs(&hw);
    let differ = (0..l[0].len().min(l[1].len()))
        .filter(|&i| l[0][i] != l[1][i])
        .count();
    assert!(differ > 10, "the logs diverge: {l:?}");
    let l = logs(&epoch);
    assert_eq!(l[0], l[1], "leader epochs keep the replicas consistent");
}
