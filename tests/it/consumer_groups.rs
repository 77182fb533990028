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

const STATIC_GROUP: &str = r#"
[scenario]
title = "static members"
seed = 7
stop_at_ms = 30000

[cluster]
brokers = 3

[[topics]]
name = "orders"
partitions = 2
replication_factor = 3
min_insync_replicas = 2

[[producers]]
name = "checkout"
topic = "orders"
send = { count = 40, every_ms = 100, start_ms = 1000, keys = ["alice", "bob"] }

[[groups]]
name = "billing"
topic = "orders"
consumers = 2
static_membership = true
commit = "after-process"
processing_ms = 250
max_poll_records = 10
max_poll_interval_ms = 3000
heartbeat_interval_ms = 1000
session_timeout_ms = 10000
auto_offset_reset = "earliest"
"#;

fn removals(events: &[TraceEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Trace::MemberRemoved {
                consumer, reason, ..
            } => Some((
                e.time.0 / 1000,
                format!("consumer-{} {}", consumer.0 + 1, reason.name()),
            )),
            _ => None,
        })
        .collect()
}

/// KIP-345: a static member never sends LeaveGroup when it closes; the coordinator removes it
/// only when `session.timeout.ms` expires, and the rebalance starts then.
#[test]
fn static_member_close_sends_no_leave_group_and_expires_by_session_timeout() {
    let text = format!(
        "{STATIC_GROUP}
[[faults]]
at_ms = 6000
action = \"remove-consumer\"
target = \"billing/consumer-1\"
"
    );
    let (_, events) = run(&text);
    let removed = removals(&events);
    assert_eq!(removed.len(), 1, "{removed:?}");
    let (at_ms, what) = &removed[0];
    assert_eq!(what, "consumer-1 session.timeout.ms expired", "{removed:?}");
    assert!(*at_ms >= 6000 + 9000, "removed at {at_ms} ms: {removed:?}");
    // No rebalance between the close and the expiry.
    let started: Vec<u64> = events
        .iter()
        .filter(|e| matches!(e.kind, Trace::RebalanceStarted { .. }))
        .map(|e| e.time.0 / 1000)
        .collect();
    assert!(
        started.iter().all(|&t| t < 6000 || t >= *at_ms),
        "rebalances at {started:?}, removal at {at_ms}"
    );
}

/// KIP-345: a static member that restarts within `session.timeout.ms` gets its old assignment
/// back with no rebalance.
#[test]
fn static_member_restart_within_session_causes_no_rebalance() {
    let text = format!(
        "{STATIC_GROUP}
[[faults]]
at_ms = 6000
action = \"crash\"
target = \"billing/consumer-1\"

[[faults]]
at_ms = 8000
action = \"restart\"
target = \"billing/consumer-1\"
"
    );
    let (_, events) = run(&text);
    assert_eq!(removals(&events), [], "a static member came back in time");
    assert_eq!(rebalances(&events).len(), 1, "{:?}", rebalances(&events));
}

/// `AbstractCoordinator.maybeLeaveGroup`: past `max.poll.interval.ms` the heartbeat thread sends
/// LeaveGroup only for a dynamic member. A static member stays in the group until its session
/// expires; when the application polls again it rejoins with its instance id and gets its
/// partitions back without a rebalance.
#[test]
fn static_member_past_max_poll_interval_sends_no_leave_group() {
    let text = format!(
        "{STATIC_GROUP}
[[faults]]
at_ms = 6000
action = \"pause\"
target = \"billing/consumer-1\"
duration_ms = 3500
"
    );
    let (_, events) = run(&text);
    assert_eq!(
        removals(&events),
        [],
        "no LeaveGroup, session never expired"
    );
    assert_eq!(rebalances(&events).len(), 1, "{:?}", rebalances(&events));
}

/// ListOffsets with `isolation_level=read_committed` answers the LSO, not the HW (KIP-98,
/// `ListOffsetsRequest.isolationLevel`): a read_committed group that resets to `latest` while a
/// transaction is open starts before that transaction, and so applies all of it once it commits,
/// never half.
#[test]
fn read_committed_reset_to_latest_starts_at_the_lso() {
    let text = r#"
[scenario]
title = "latest under read_committed"
seed = 7
stop_at_ms = 8000

[cluster]
brokers = 3
group_initial_rebalance_delay_ms = 0

[[topics]]
name = "payments"
partitions = 1
replication_factor = 3
min_insync_replicas = 2

[[producers]]
name = "ledger"
topic = "payments"
transactional_id = "ledger-tx"
transaction_size = 10
send = { count = 10, every_ms = 100, start_ms = 1000, keys = ["acct-1"] }

[[groups]]
name = "reports"
topic = "payments"
isolation_level = "read_committed"
commit = "after-process"
processing_ms = 1
auto_offset_reset = "latest"
start_ms = 1500
"#;
    let sc = parse(text);
    let mut applied = Vec::new();
    let mut resets = Vec::new();
    report::run("test.toml", &sc, sc.scenario.seed, |sim, ev| {
        match &ev.kind {
            Trace::Applied { msg, .. } => applied.push(sim.msg_name(*msg)),
            Trace::OffsetReset { offset, .. } => resets.push((ev.time.0 / 1000, *offset)),
            _ => {}
        }
    });
    assert_eq!(resets.len(), 1, "{resets:?}");
    assert!(
        resets[0].0 < 2000,
        "reset while the transaction is open: {resets:?}"
    );
    assert_eq!(
        resets[0].1, 0,
        "the LSO is the open transaction's first offset"
    );
    let all: Vec<String> = (1..=10).map(|n| format!("ledger#{n}")).collect();
    assert_eq!(applied, all, "the whole transaction, once");
}

/// KIP-447: a read_committed consumer's OffsetFetch sets `require_stable`, and the group
/// coordinator answers UNSTABLE_OFFSET_COMMIT while a transaction holding offsets for the
/// partition is unresolved; the consumer retries after `retry.backoff.ms`. Seed 15 of this
/// pipeline (found with `brokerlab sweep`, 29 of the first 300 seeds duplicated before the fix)
/// completes the rebalance that hands orders/1 to consumer-2 while consumer-1's transaction,
/// holding offset 20 for orders/1, is between PrepareCommit and CompleteCommit: consumer-2 used to
/// resume from 19 and apply checkout#40 a second time.
#[test]
fn new_owner_waits_for_pending_transactional_offsets() {
    let text = r#"
[scenario]
title = "eos rebalance"
seed = 15
stop_at_ms = 20000

[cluster]
brokers = 3
group_initial_rebalance_delay_ms = 0

[[topics]]
name = "orders"
partitions = 2
replication_factor = 3
min_insync_replicas = 2

[[topics]]
name = "invoices"
partitions = 1
replication_factor = 3
min_insync_replicas = 2

[[producers]]
name = "checkout"
topic = "orders"
send = { count = 60, every_ms = 50, start_ms = 1000, keys = ["alice", "bob", "carol", "frank"] }

[[groups]]
name = "billing"
topic = "orders"
commit = "transactional"
output_topic = "invoices"
isolation_level = "read_committed"
processing_ms = 20
max_poll_records = 5
auto_offset_reset = "earliest"

[[groups]]
name = "mailer"
topic = "invoices"
isolation_level = "read_committed"
commit = "after-process"
auto_offset_reset = "earliest"

[[faults]]
at_ms = 2000
action = "add-consumer"
group = "billing"

# The transaction coordinator of billing-1 (broker-3) reaches the group coordinator (broker-1)
# slowly, so a transaction's offsets stay pending there while the group rebalances. (Without
# the delay the COMMIT marker reaches the group coordinator before the processor, which
# rejoins only once EndTxn is answered, can fetch offsets again.)
[[faults]]
at_ms = 1900
action = "delay"
link = "broker-3 -> broker-1"
extra_ms = 100
duration_ms = 3000
"#;
    let sc = parse(text);
    let mut applied: Vec<(u32, String)> = Vec::new();
    let mut unstable = 0;
    let r = report::run("test.toml", &sc, sc.scenario.seed, |sim, ev| {
        match &ev.kind {
            Trace::Applied { group, msg, .. } => applied.push((group.0, sim.msg_name(*msg))),
            Trace::Sent { wire, .. } if wire.error.name() == "UNSTABLE_OFFSET_COMMIT" => {
                unstable += 1
            }
            _ => {}
        }
    });
    let mut sorted = applied.clone();
    sorted.sort();
    let twice: Vec<&(u32, String)> = sorted
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| &w[0])
        .collect();
    assert_eq!(twice, Vec::<&(u32, String)>::new(), "applied twice");
    assert_eq!(
        sorted.len(),
        120,
        "every order once in billing and in mailer"
    );
    assert!(
        unstable > 0,
        "the coordinator answered UNSTABLE_OFFSET_COMMIT"
    );
    let _ = r;
}

/// A consumer whose Metadata request is lost asks again after `request.timeout.ms` (Kafka's
/// NetworkClient fails the request and the metadata refresh is retried after the backoff).
#[test]
fn consumer_asks_again_when_its_metadata_request_is_dropped() {
    let text = r#"
[scenario]
title = "dropped metadata"
seed = 7
stop_at_ms = 60000

[cluster]
brokers = 3
group_initial_rebalance_delay_ms = 0

[[topics]]
name = "orders"
partitions = 1
replication_factor = 3
min_insync_replicas = 1

[[producers]]
name = "checkout"
topic = "orders"
acks = "all"
send = { count = 40, every_ms = 100, start_ms = 1000 }

[[groups]]
name = "mailer"
topic = "orders"
commit = "after-process"
processing_ms = 1
auto_offset_reset = "earliest"

[[faults]]
at_ms = 2000
action = "drop"
link = "mailer/consumer-1->controller"
count = 1

[[faults]]
at_ms = 2000
action = "crash"
target = "leader:orders/0"
"#;
    let sc = parse(text);
    let mut applied = 0;
    let mut dropped_metadata = 0;
    report::run("test.toml", &sc, sc.scenario.seed, |_, ev| match &ev.kind {
        Trace::Applied { .. } => applied += 1,
        Trace::Dropped { wire, .. } if wire.kind.name() == "Metadata" => dropped_metadata += 1,
        _ => {}
    });
    assert_eq!(dropped_metadata, 1, "the fault drops one Metadata request");
    assert_eq!(
        applied, 40,
        "the consumer found the new leader and read everything"
    );
}

/// KIP-580: consumers retry ListOffsets and Metadata after `retry.backoff.ms` (100 ms), doubling
/// up to `retry.backoff.max.ms` (1000 ms). With the partition's only replica down and no network
/// latency, a consumer resetting to `latest` used to loop forever at one instant.
#[test]
fn consumer_backs_off_list_offsets_and_metadata_retries() {
    let text = r#"
[scenario]
title = "storm"
seed = 1
stop_at_ms = 6000

[cluster]
brokers = 3
group_initial_rebalance_delay_ms = 0

[network]
latency_ms = [0, 0]

[[topics]]
name = "orders"
partitions = 1
replication_factor = 1

[[groups]]
name = "mailer"
topic = "orders"
auto_offset_reset = "latest"
start_ms = 1000

[[faults]]
at_ms = 500
action = "crash"
target = "leader:orders/0"
"#;
    let sc = parse(text);
    let mut requests: Vec<u64> = Vec::new();
    report::run("test.toml", &sc, sc.scenario.seed, |_, ev| {
        if let Trace::Sent { wire, .. } = &ev.kind
            && matches!(wire.kind.name(), "ListOffsets" | "Metadata")
        {
            requests.push(ev.time.0);
            assert!(
                requests.len() < 1000,
                "a retry storm: {} requests",
                requests.len()
            );
        }
    });
    // At most two requests (ListOffsets, Metadata) per attempt, attempts at least 100 ms apart.
    let first_second = requests.iter().filter(|&&t| t < 2_000_000).count();
    assert!(
        first_second <= 2 * 6,
        "{first_second} requests in the first second"
    );
    let last = *requests.last().unwrap();
    let late = requests.iter().filter(|&&t| t + 1_000_000 > last).count();
    assert!(
        late <= 2 * 2,
        "{late} requests in the last second: the backoff reached 1 s"
    );
}

/// `metadata.max.age.ms` (300000): a consumer refreshes its metadata even when nothing fails, so
/// one still long-polling a deposed leader (cut off from the controller, it still believes it
/// leads and answers empty fetches) eventually moves to the new leader.
#[test]
fn consumer_on_a_deposed_leader_moves_after_metadata_max_age() {
    let text = r#"
[scenario]
title = "deposed leader"
seed = 7
stop_at_ms = 320000

[cluster]
brokers = 3
group_initial_rebalance_delay_ms = 0

[[topics]]
name = "orders"
partitions = 1
replication_factor = 3
min_insync_replicas = 2

[[producers]]
name = "payments"
topic = "orders"
acks = "all"
send = { count = 20, every_ms = 250, start_ms = 1000 }

[[groups]]
name = "billing"
topic = "orders"
commit = "after-process"
auto_offset_reset = "earliest"

[[faults]]
at_ms = 2000
action = "partition"
sides = [["broker-1"], ["controller", "broker-2", "broker-3"]]
"#;
    let sc = parse(text);
    let mut applied = Vec::new();
    report::run("test.toml", &sc, sc.scenario.seed, |_, ev| {
        if let Trace::Applied { .. } = &ev.kind {
            applied.push(ev.time.0 / 1000);
        }
    });
    assert_eq!(applied.len(), 20, "{applied:?}");
    let late = applied.iter().filter(|&&t| t >= 300_000).count();
    assert!(
        late > 0,
        "records written to the new leader wait for the refresh: {applied:?}"
    );
}

/// An AlterPartition that removes several followers at once is narrated with every one of them
/// (one IsrChanged per broker that left), not just the first.
#[test]
fn isr_shrink_names_every_removed_broker() {
    let text = r#"
[scenario]
title = "two followers stall"
seed = 7
stop_at_ms = 30000

[cluster]
brokers = 3
replica_lag_time_max_ms = 5000

[[topics]]
name = "orders"
partitions = 1
replication_factor = 3
min_insync_replicas = 1

[[producers]]
name = "checkout"
topic = "orders"
acks = "1"
send = { count = 100, every_ms = 100, start_ms = 1000 }

[[faults]]
at_ms = 3000
action = "pause"
target = "broker-2"
duration_ms = 20000

[[faults]]
at_ms = 3000
action = "pause"
target = "broker-3"
duration_ms = 20000
"#;
    let (_, events) = run(text);
    let shrinks: Vec<(u64, u32, u32)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Trace::IsrChanged {
                changed,
                expanded: false,
                isr,
                ..
            } => Some((e.time.0, changed.0, isr.len())),
            _ => None,
        })
        .collect();
    let (at, _, left) = *shrinks.first().expect("the ISR shrinks");
    assert_eq!(
        left, 1,
        "both followers leave in one AlterPartition: {shrinks:?}"
    );
    let mut named: Vec<u32> = shrinks.iter().filter(|s| s.0 == at).map(|s| s.1).collect();
    named.sort();
    assert_eq!(named, [1, 2], "both removed brokers are named: {shrinks:?}");
}

/// The dead-letter producer lives in the consumer's process: a pause of the consumer pauses it
/// too, so the acknowledgement of a dead letter sent just before the pause waits for its end.
#[test]
fn a_paused_consumer_pauses_its_dead_letter_producer() {
    use brokerlab::sim::{ConsumerId, FaultKind, FaultSpec, Sim, Target};
    let sc = scenario::find_bundled("poison-message-dead-letter")
        .expect("bundled")
        .parse()
        .expect("parses");
    let mut sim = Sim::new(&sc);
    let dead_lettered = |sim: &Sim| {
        sim.pending_trace()
            .iter()
            .any(|e| matches!(e.kind, Trace::DeadLettered { .. }))
    };
    while !dead_lettered(&sim) {
        assert!(sim.step(), "the run ends before a record is dead-lettered");
    }
    let dlq = sim
        .producers()
        .iter()
        .position(|p| p.name.ends_with("/dead-letter"))
        .expect("a dead-letter producer");
    assert!(
        sim.producers()[dlq].in_flight() > 0,
        "the dead letter is sent"
    );
    sim.inject_fault(FaultSpec {
        at: sim.now(),
        kind: FaultKind::Pause {
            target: Target::Consumer(ConsumerId(0)),
            duration_ms: 1000,
        },
    });
    let resume = sim.now().plus_ms(1000);
    while sim.peek_time().is_some_and(|t| t < resume) {
        sim.step();
    }
    assert!(
        sim.producers()[dlq].in_flight() > 0,
        "the dead-letter producer handled its acknowledgement during the pause"
    );
    while sim.peek_time().is_some_and(|t| t < resume.plus_ms(100)) {
        sim.step();
    }
    assert_eq!(
        sim.producers()[dlq].in_flight(),
        0,
        "acknowledged after the pause"
    );
}

/// KIP-429, measured on the bundled `cooperative-rebalance`: a member whose partition does not
/// move keeps applying records between its JoinGroup and the end of the rebalance, where the
/// eager protocol (`sticky`) makes it give everything up and wait; and the partition that moves
/// is applied by its new owner only after its old owner revoked it.
#[test]
fn cooperative_members_keep_consuming_while_they_rejoin() {
    use brokerlab::sim::{ConsumerId, WireKind};
    let text = include_str!("../../scenarios/cooperative-rebalance.toml");
    for assignor in ["cooperative-sticky", "sticky"] {
        let sc = parse(&text.replace(
            "assignor = \"cooperative-sticky\"",
            &format!("assignor = \"{assignor}\""),
        ));
        let mut events = Vec::new();
        let mut consumer2_node = None;
        report::run("test.toml", &sc, sc.scenario.seed, |sim, ev| {
            if let Trace::Sent { from, wire, .. } = &ev.kind
                && wire.kind == WireKind::JoinGroup
                && sim.node_name(*from) == "billing/consumer-2"
            {
                consumer2_node = Some(*from);
            }
            events.push(ev.clone())
        });
        let node = consumer2_node.expect("consumer-2 joins");
        let first = |what: &dyn Fn(&TraceEvent) -> bool| {
            events.iter().find(|e| what(e)).expect("it happens").time
        };
        // consumer-2's JoinGroup for generation 2, and the end of that rebalance.
        let started = first(&|e| matches!(e.kind, Trace::RebalanceStarted { generation: 2, .. }));
        let joined = first(&|e| {
            e.time > started
                && matches!(&e.kind, Trace::Sent { from, wire, .. }
                    if *from == node && wire.kind == WireKind::JoinGroup)
        });
        let done = first(&|e| matches!(e.kind, Trace::Rebalanced { generation: 2, .. }));
        let meanwhile = events
            .iter()
            .filter(|e| e.time > joined && e.time < done)
            .filter(
                |e| matches!(e.kind, Trace::Applied { consumer, .. } if consumer == ConsumerId(1)),
            )
            .count();
        if assignor == "sticky" {
            assert_eq!(meanwhile, 0, "eager: consumer-2 waits with nothing");
            continue;
        }
        assert!(meanwhile >= 2, "cooperative: it reads on ({meanwhile})");
        // orders/2 moves: consumer-1 revokes it before consumer-3 applies any of it.
        let revoked = events
            .iter()
            .find(|e| matches!(&e.kind, Trace::PartitionsRevoked { partitions, .. } if partitions.len() == 1))
            .expect("consumer-1 revokes orders/2");
        let Trace::PartitionsRevoked { partitions, .. } = &revoked.kind else {
            unreachable!()
        };
        let moved = partitions[0];
        let first_new = events
            .iter()
            .find(|e| {
                matches!(e.kind, Trace::Applied { consumer, partition, .. }
                    if consumer == ConsumerId(2) && partition == moved)
            })
            .expect("consumer-3 reads the moved partition");
        assert!(first_new.time > revoked.time);
        let old_after = events.iter().any(|e| {
            e.time > revoked.time
                && matches!(e.kind, Trace::Applied { consumer, partition, .. }
                    if consumer == ConsumerId(0) && partition == moved)
        });
        assert!(!old_after, "the old owner stops reading it once revoked");
    }
}

/// KIP-848, measured on the bundled `kip848-consumer-protocol`: with `group_protocol =
/// "consumer"` there is no JoinGroup and no group-wide pause. While consumer-3 joins and orders/1
/// moves to it, the other members keep applying; orders/1 reaches consumer-3 only after
/// consumer-1 revoked it; and while the crashed consumer-2 waits out its broker-side session,
/// the survivors keep applying too.
#[test]
fn consumer_protocol_members_reconcile_without_a_group_wide_pause() {
    use brokerlab::sim::{ConsumerId, LeaveReason, WireKind};
    let sc = parse(include_str!(
        "../../scenarios/kip848-consumer-protocol.toml"
    ));
    let mut events = Vec::new();
    report::run("test.toml", &sc, sc.scenario.seed, |_, ev| {
        events.push(ev.clone())
    });
    let (c1, c2, c3) = (ConsumerId(0), ConsumerId(1), ConsumerId(2));
    assert!(!events.iter().any(|e| matches!(
        &e.kind,
        Trace::RebalanceStarted { .. } | Trace::Rebalanced { .. }
    ) || matches!(&e.kind, Trace::Sent { wire, .. } if wire.kind == WireKind::JoinGroup)));
    let first = |what: &dyn Fn(&TraceEvent) -> bool| {
        events.iter().find(|e| what(e)).expect("it happens").time
    };
    let applied_by = |c: ConsumerId, from, to| {
        events
            .iter()
            .filter(|e| e.time > from && e.time < to)
            .filter(|e| matches!(e.kind, Trace::Applied { consumer, .. } if consumer == c))
            .count()
    };
    // consumer-3 joins; it owns something once it is at the new epoch with a partition.
    let joined =
        first(&|e| matches!(e.kind, Trace::MemberJoinedEpoch { consumer, .. } if consumer == c3));
    let owns = first(&|e| {
        matches!(&e.kind, Trace::EpochAssigned { consumer, partitions, .. }
            if *consumer == c3 && !partitions.is_empty())
    });
    assert!(owns > joined);
    assert!(applied_by(c1, joined, owns) >= 5, "consumer-1 reads on");
    assert!(applied_by(c2, joined, owns) >= 5, "consumer-2 reads on");
    // Revoke before assign: consumer-1 gave the partition up before consumer-3 got it.
    let revoked = events
        .iter()
        .find(|e| {
            e.time > joined
                && matches!(e.kind, Trace::PartitionsRevoked { consumer, .. } if consumer == c1)
        })
        .expect("consumer-1 revokes");
    let Trace::PartitionsRevoked { partitions, .. } = &revoked.kind else {
        unreachable!()
    };
    assert!(revoked.time < owns);
    let moved = partitions[0];
    let first_apply = first(&|e| {
        matches!(e.kind, Trace::Applied { consumer, partition, .. }
            if consumer == c3 && partition == moved)
    });
    assert!(first_apply > revoked.time);
    // consumer-2 crashes; it is fenced only after group.consumer.session.timeout.ms.
    let crashed = first(&|e| matches!(e.kind, Trace::FaultInjected { .. }) && e.time > owns);
    let fenced = first(&|e| {
        matches!(e.kind, Trace::MemberRemoved { consumer, reason: LeaveReason::Fenced, .. }
            if consumer == c2)
    });
    assert!(
        fenced.0 - crashed.0 >= 40_000_000,
        "the session runs on the broker"
    );
    assert!(applied_by(c1, crashed, fenced) >= 50, "consumer-1 reads on");
    assert!(applied_by(c3, crashed, fenced) >= 50, "consumer-3 reads on");
}
