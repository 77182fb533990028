//! RabbitMQ, SQS and Redis queues on real runs: each system's core delivery rules, read from the
//! checker's fates and the trace's per-message `Share` steps. Scenarios are written inline.

use brokerlab::check::{AnomalyKind, GroupOutcome};
use brokerlab::report::{self, Report};
use brokerlab::scenario;
use brokerlab::sim::{ConsumerId, ShareStep, Sim, Trace, TraceEvent};

/// A scenario with one queue `jobs` (and a `jobs-dlq` queue) on `system`, a producer sending
/// `count` messages keyed a, b, c every 100 ms from 1 s, one group `workers` with `group`
/// lines, and `rest` appended (faults).
fn scenario_text(system: &str, topic: &str, count: u32, group: &str, rest: &str) -> String {
    format!(
        r#"[scenario]
title = "queue test"
seed = 5
stop_at_ms = 20000

[cluster]
brokers = 3
{system}

[[topics]]
name = "jobs"
partitions = 1
{topic}

[[topics]]
name = "jobs-dlq"
partitions = 1

[[producers]]
name = "app"
topic = "jobs"
send = {{ count = {count}, every_ms = 100, start_ms = 1000, keys = ["a", "b", "c"] }}

[[groups]]
name = "workers"
topic = "jobs"
{group}
{rest}"#
    )
}

fn parse(text: &str) -> scenario::Scenario {
    match scenario::parse("queues.toml", text) {
        Ok(sc) => sc,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn run(text: &str) -> (Report, Vec<TraceEvent>) {
    let sc = parse(text);
    let r = report::run("queues", &sc, sc.scenario.seed, |_, _| {});
    let mut sim = Sim::new(&sc);
    sim.run_to_end();
    let events = sim.drain_trace().collect();
    (r, events)
}

fn workers(r: &Report) -> &GroupOutcome {
    &r.groups["workers"]
}

/// Every `Share` step of the run: (consumer, msg index, delivery count, step).
fn steps(events: &[TraceEvent]) -> Vec<(ConsumerId, u32, u32, ShareStep)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            Trace::Share {
                consumer,
                msg,
                delivery_count,
                step,
                ..
            } => Some((consumer, msg.0, delivery_count, step)),
            _ => None,
        })
        .collect()
}

fn count(events: &[TraceEvent], want: ShareStep) -> usize {
    steps(events).iter().filter(|s| s.3 == want).count()
}

const CRASH_C1: &str = r#"
[[faults]]
at_ms = 2500
action = "crash"
target = "workers/consumer-1"
"#;

// ---- RabbitMQ ----

#[test]
fn rabbitmq_auto_ack_loses_what_a_crashed_consumer_held() {
    let text = scenario_text(
        r#"system = "rabbitmq""#,
        "",
        40,
        "consumers = 2\nprocessing_ms = 300\nack = \"auto\"",
        CRASH_C1,
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert!(w.lost >= 1, "{w:?}");
    assert_eq!(
        w.lost, w.lost_by_kind.skipped,
        "every loss is a forgotten message"
    );
    assert_eq!(w.applied + w.lost, 40);
    assert_eq!(w.duplicated, 0);
    // Every delivery was settled as it was sent, and nothing was ever delivered twice.
    assert_eq!(count(&events, ShareStep::Acquired), 40);
    assert_eq!(count(&events, ShareStep::Settled), 40);
    assert_eq!(w.redelivered, 0);
    let cause = r
        .anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::Skipped)
        .expect("explained");
    assert!(cause.cause.contains("forgot"), "{}", cause.cause);
}

#[test]
fn rabbitmq_manual_ack_requeues_a_crashed_consumers_unacked_messages() {
    let text = scenario_text(
        r#"system = "rabbitmq""#,
        "",
        40,
        "consumers = 2\nprocessing_ms = 300\nack = \"manual\"\nprefetch = 5",
        CRASH_C1,
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert_eq!(w.lost, 0, "{w:?}");
    assert_eq!(w.applied + w.duplicated, 40);
    let s = steps(&events);
    let crashed = ConsumerId(0);
    let requeued: Vec<u32> = s
        .iter()
        .filter(|x| x.3 == ShareStep::Requeued)
        .map(|x| x.1)
        .collect();
    assert!(
        !requeued.is_empty(),
        "the channel's unacked messages requeue"
    );
    assert!(
        s.iter()
            .all(|x| x.3 != ShareStep::Requeued || x.0 == crashed)
    );
    // Each requeued message goes out again, to the other consumer, as its second delivery.
    for m in &requeued {
        assert!(
            s.iter()
                .any(|x| x.1 == *m && x.3 == ShareStep::Acquired && x.2 == 2 && x.0 != crashed),
            "msg {m} redelivered"
        );
    }
    assert_eq!(w.redelivered, requeued.len() as u64);
}

#[test]
fn rabbitmq_prefetch_caps_the_unacked_messages_a_consumer_holds() {
    for prefetch in [1u32, 3] {
        let text = scenario_text(
            r#"system = "rabbitmq""#,
            "",
            30,
            &format!("consumers = 2\nprocessing_ms = 400\nprefetch = {prefetch}"),
            "",
        );
        let (r, events) = run(&text);
        assert_eq!(workers(&r).applied, 30);
        let mut held = [0i64; 2];
        let mut most = 0;
        for (c, _, _, step) in steps(&events) {
            match step {
                ShareStep::Acquired => held[c.idx()] += 1,
                ShareStep::Acknowledged(_) | ShareStep::Requeued => held[c.idx()] -= 1,
                _ => {}
            }
            most = most.max(held[c.idx()]);
        }
        assert_eq!(
            most, prefetch as i64,
            "prefetch {prefetch} is reached, never passed"
        );
    }
}

/// A poison message (key b always fails) nacked with requeue=false.
fn nack_without_requeue(dead_letter: &str) -> (Report, Vec<TraceEvent>) {
    let text = scenario_text(
        r#"system = "rabbitmq""#,
        "",
        30,
        &format!(
            "consumers = 1\nprocessing_ms = 50\nrequeue = false\nfail_keys = [\"b\"]\n{dead_letter}"
        ),
        "",
    );
    run(&text)
}

#[test]
fn a_nack_without_requeue_dead_letters_or_drops() {
    let (r, events) = nack_without_requeue("dead_letter_topic = \"jobs-dlq\"");
    let w = workers(&r);
    assert_eq!((w.applied, w.dead_lettered, w.lost), (20, 10, 0));
    assert_eq!(count(&events, ShareStep::Archived), 10);
    let (r, events) = nack_without_requeue("");
    let w = workers(&r);
    assert_eq!((w.applied, w.dead_lettered, w.lost), (20, 0, 10));
    assert_eq!(w.lost_by_kind.skipped, 10);
    assert_eq!(count(&events, ShareStep::Dropped), 10);
    assert!(r.anomalies.iter().any(|a| a.cause.contains("dropped")));
}

#[test]
fn a_quorum_queue_dead_letters_at_the_delivery_limit() {
    let text = scenario_text(
        r#"system = "rabbitmq""#,
        "replication_factor = 3",
        12,
        "consumers = 2\nprocessing_ms = 50\ndelivery_limit = 3\nfail_keys = [\"b\"]\ndead_letter_topic = \"jobs-dlq\"",
        "",
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert_eq!((w.applied, w.dead_lettered, w.lost), (8, 4, 0));
    let s = steps(&events);
    // "Redelivered more times than the limit" (RabbitMQ docs): limit 3 allows the first
    // delivery and 3 redeliveries; the fourth failure dead-letters it.
    for (_, m, n, _) in s.iter().filter(|x| x.3 == ShareStep::Archived) {
        assert_eq!(*n, 4, "msg {m} dead-lettered at its fourth delivery");
    }
    assert_eq!(w.redelivered, 12);
}

// ---- SQS ----

#[test]
fn sqs_a_visibility_timeout_shorter_than_processing_duplicates_work() {
    let text = scenario_text(
        r#"system = "sqs""#,
        "",
        10,
        "consumers = 3\nprocessing_ms = 1500\nvisibility_timeout_ms = 1000",
        "",
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert!(w.duplicated > 0, "{w:?}");
    assert_eq!(w.lost, 0);
    assert!(count(&events, ShareStep::LockExpired) > 0);
    // The same settings with a timeout longer than processing: each message once.
    let text = text.replace(
        "visibility_timeout_ms = 1000",
        "visibility_timeout_ms = 5000",
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert_eq!((w.applied, w.duplicated, w.redelivered), (10, 0, 0));
    assert_eq!(count(&events, ShareStep::LockExpired), 0);
}

#[test]
fn sqs_redrives_to_the_dead_letter_queue_after_max_receive_count() {
    let text = scenario_text(
        r#"system = "sqs""#,
        "",
        9,
        "consumers = 2\nprocessing_ms = 50\nvisibility_timeout_ms = 1000\nmax_receive_count = 2\nfail_keys = [\"b\"]\ndead_letter_topic = \"jobs-dlq\"",
        "",
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert_eq!((w.applied, w.dead_lettered, w.lost), (6, 3, 0));
    let archived: Vec<u32> = steps(&events)
        .iter()
        .filter(|x| x.3 == ShareStep::Archived)
        .map(|x| x.2)
        .collect();
    assert_eq!(archived, [2, 2, 2], "moved after its second receive");
}

#[test]
fn sqs_fifo_holds_a_message_group_in_flight_while_other_groups_flow() {
    let text = scenario_text(
        r#"system = "sqs""#,
        "fifo = true",
        30,
        "consumers = 5\nprocessing_ms = 600",
        "",
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert_eq!((w.applied, w.reordered, w.duplicated), (30, 0, 0));
    // Never two messages of one group (key) in flight at once, and more than one group at a
    // time across the consumers.
    let sc = parse(&text);
    let mut sim = Sim::new(&sc);
    sim.run_to_end();
    let key_of = |m: u32| sim.msg(brokerlab::sim::MsgId(m)).key;
    let mut in_flight: Vec<(u32, Option<u32>)> = Vec::new();
    let mut most_groups = 0;
    for (_, m, _, step) in steps(&events) {
        match step {
            ShareStep::Acquired => {
                let k = key_of(m);
                assert!(
                    in_flight.iter().all(|&(_, j)| j != k),
                    "msg {m}: its group already has one in flight"
                );
                in_flight.push((m, k));
            }
            ShareStep::Acknowledged(_) | ShareStep::LockExpired => {
                in_flight.retain(|&(x, _)| x != m)
            }
            _ => {}
        }
        most_groups = most_groups.max(in_flight.len());
    }
    assert!(most_groups >= 2, "groups flow side by side");
    // A standard queue with the same load does take one key's messages side by side.
    let (_, events) = run(&text.replace("fifo = true", ""));
    let mut in_flight: Vec<(u32, Option<u32>)> = Vec::new();
    let mut same_group = false;
    for (_, m, _, step) in steps(&events) {
        match step {
            ShareStep::Acquired => {
                same_group |= in_flight.iter().any(|&(_, k)| k == key_of(m));
                in_flight.push((m, key_of(m)));
            }
            ShareStep::Acknowledged(_) => in_flight.retain(|&(x, _)| x != m),
            _ => {}
        }
    }
    assert!(same_group);
}

#[test]
fn sqs_fifo_deduplication_absorbs_a_producer_retry() {
    let ack_loss = r#"
[[faults]]
at_ms = 1450
action = "drop-acks"
target = "app"
count = 5
"#;
    let queue =
        |topic: &str| scenario_text(r#"system = "sqs""#, topic, 20, "consumers = 1", ack_loss);
    let (r, _) = run(&queue(""));
    assert!(
        r.outcome.duplicated > 0,
        "a standard queue keeps the retried copy"
    );
    let (r, _) = run(&queue("fifo = true"));
    let w = workers(&r);
    assert_eq!((w.applied, w.duplicated, w.lost), (20, 0, 0));
}

// ---- Redis ----

#[test]
fn redis_list_brpop_loses_what_a_crashed_consumer_popped() {
    let text = scenario_text(
        "system = \"redis\"\nmode = \"list\"",
        "",
        30,
        "consumers = 2\nprocessing_ms = 400",
        CRASH_C1,
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert!(w.lost >= 1 && w.lost == w.lost_by_kind.skipped, "{w:?}");
    assert_eq!(w.applied + w.lost, 30);
    assert_eq!(count(&events, ShareStep::Settled), 30);
}

#[test]
fn redis_reliable_list_reaper_redelivers_what_a_crashed_consumer_held() {
    let text = scenario_text(
        "system = \"redis\"\nmode = \"reliable-list\"",
        "",
        30,
        "consumers = 2\nprocessing_ms = 400\nvisibility_timeout_ms = 5000",
        CRASH_C1,
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert_eq!(w.lost, 0, "{w:?}");
    assert_eq!(w.applied + w.duplicated, 30);
    let s = steps(&events);
    let reaped: Vec<u32> = s
        .iter()
        .filter(|x| x.3 == ShareStep::LockExpired)
        .map(|x| x.1)
        .collect();
    assert!(!reaped.is_empty());
    for m in reaped {
        assert!(
            s.iter()
                .any(|x| x.1 == m && x.3 == ShareStep::Acquired && x.2 == 2)
        );
    }
}

#[test]
fn redis_stream_xautoclaim_redelivers_and_max_deliveries_dead_letters() {
    let text = scenario_text(
        "system = \"redis\"\nmode = \"stream\"",
        "",
        30,
        "consumers = 2\nprocessing_ms = 400\nbatch_size = 3\nmin_idle_ms = 4000",
        CRASH_C1,
    );
    let (r, events) = run(&text);
    let w = workers(&r);
    assert_eq!(w.lost, 0, "{w:?}");
    assert!(w.redelivered > 0);
    assert!(
        steps(&events)
            .iter()
            .any(|x| x.3 == ShareStep::Acquired && x.2 == 2 && x.0 != ConsumerId(0)),
        "claimed by the surviving consumer"
    );
    let poison = scenario_text(
        "system = \"redis\"\nmode = \"stream\"",
        "",
        9,
        "consumers = 2\nprocessing_ms = 50\nmin_idle_ms = 1000\nmax_deliveries = 3\nfail_keys = [\"c\"]\ndead_letter_topic = \"jobs-dlq\"",
        "",
    );
    let (r, events) = run(&poison);
    let w = workers(&r);
    assert_eq!((w.applied, w.dead_lettered, w.lost), (6, 3, 0));
    assert!(
        steps(&events)
            .iter()
            .filter(|x| x.3 == ShareStep::Archived)
            .all(|x| x.2 == 3)
    );
}

// ---- Every system ----

#[test]
fn every_queue_system_is_deterministic() {
    for (system, timer) in [
        ("system = \"rabbitmq\"", ""),
        ("system = \"sqs\"", "\nvisibility_timeout_ms = 2000"),
        ("system = \"redis\"\nmode = \"list\"", ""),
        (
            "system = \"redis\"\nmode = \"reliable-list\"",
            "\nvisibility_timeout_ms = 2000",
        ),
        (
            "system = \"redis\"\nmode = \"stream\"",
            "\nmin_idle_ms = 2000",
        ),
    ] {
        let text = scenario_text(
            system,
            "replication_factor = 3",
            30,
            &format!("consumers = 2\nprocessing_ms = 200{timer}"),
            CRASH_C1,
        );
        let sc = parse(&text);
        let a = report::run("a", &sc, 11, |_, _| {});
        let b = report::run("b", &sc, 11, |_, _| {});
        assert_eq!(a.digest, b.digest, "{system}");
        assert_eq!(a.events, b.events);
        let c = report::run("c", &sc, 12, |_, _| {});
        assert_ne!(a.digest, c.digest, "{system}: the seed matters");
    }
}

#[test]
fn a_queue_keeps_what_was_sent_before_its_consumers_started() {
    let text = scenario_text(
        r#"system = "sqs""#,
        "",
        20,
        "consumers = 1\nstart_ms = 4000",
        "",
    );
    let (r, _) = run(&text);
    assert_eq!(
        workers(&r).applied,
        20,
        "nothing skipped, unlike auto.offset.reset=latest"
    );
}

/// A queue keeps what was written before anyone consumed it: consumers that start after the
/// last send still get every message, on every system (there is no `auto.offset.reset`; a
/// Kafka group at its default, `latest`, would skip them all).
#[test]
fn consumers_that_start_late_get_every_message_the_queue_holds() {
    let systems = [
        "system = \"rabbitmq\"",
        "system = \"sqs\"",
        "system = \"redis\"\nmode = \"list\"",
        "system = \"redis\"\nmode = \"reliable-list\"",
        "system = \"redis\"\nmode = \"stream\"",
    ];
    for system in systems {
        // The last of 10 sends is at 1.9 s; the consumers start at 5 s.
        let (r, _) = run(&scenario_text(system, "", 10, "start_ms = 5000", ""));
        let g = workers(&r);
        assert_eq!((g.applied, g.lost), (10, 0), "{system}");
    }
}

/// A duplicate on a queue is explained by what settles a message there and the setting that
/// timed it out, per system: SQS's DeleteMessage and visibility timeout, a Redis stream's XACK
/// and XAUTOCLAIM's idle time, a reliable list's LREM and its reaper.
#[test]
fn a_queue_duplicate_names_what_came_too_late_and_the_setting_that_timed_it() {
    let cases = [
        (
            "system = \"sqs\"",
            "visibility_timeout_ms = 200",
            "its DeleteMessage",
            "visibility_timeout_ms=200",
        ),
        (
            "system = \"redis\"\nmode = \"stream\"",
            "min_idle_ms = 200",
            "its XACK",
            "min_idle_ms=200",
        ),
        (
            "system = \"redis\"\nmode = \"reliable-list\"",
            "visibility_timeout_ms = 200",
            "its LREM",
            "visibility_timeout_ms=200",
        ),
    ];
    for (system, timeout, settle, config) in cases {
        // Processing (500 ms) outlasts the timeout: another consumer gets the message again.
        let group = format!("consumers = 2\nprocessing_ms = 500\n{timeout}");
        let (r, _) = run(&scenario_text(system, "", 6, &group, ""));
        let dup = r
            .anomalies
            .iter()
            .find(|a| a.kind == AnomalyKind::Duplicated)
            .unwrap_or_else(|| panic!("{system}: no duplicate"));
        assert!(dup.cause.contains(settle), "{system}: {}", dup.cause);
        assert_eq!(
            dup.config,
            format!("{config}, no deduplication"),
            "{system}"
        );
    }
}
