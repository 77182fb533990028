//! Issue 14, storage per queue system: a RabbitMQ quorum queue confirms at a majority and
//! elects only with one; Redis replicates asynchronously, so a promoted replica can lack what
//! the old primary acknowledged unless the producer waited for replicas (WAIT); SQS loses
//! nothing it acknowledged. Kafka's behaviour is pinned by the bundled scenarios' digests
//! (tests/it/bundled.rs).

use super::cluster_fidelity::run;
use brokerlab::report::Report;
use brokerlab::sim::{SimTime, Trace};

/// One queue on three nodes, 100 sends from 1 s, every 100 ms. `SYSTEM` is the `[cluster]`
/// table's system lines, `ACKS` the producer's acknowledgement line, `FAULTS` the faults.
const QUEUE: &str = r#"
[scenario]
title = "one queue on three nodes"
seed = 7
stop_at_ms = 40000

[cluster]
brokers = 3
SYSTEM

[[topics]]
name = "orders"
partitions = 1
replication_factor = 3

[[producers]]
name = "checkout"
topic = "orders"
ACKS
send = { count = 100, every_ms = 100, start_ms = 1000, keys = ["alice", "bob"] }

FAULTS
"#;

const RABBITMQ: &str = r#"system = "rabbitmq""#;
const KAFKA: &str = r#"system = "kafka""#;
/// Sentinel's `down-after-milliseconds` is the failure-detection knob; 5 s keeps runs short.
const REDIS: &str = "system = \"redis\"\nmode = \"list\"\nbroker_session_timeout_ms = 5000";
const SQS: &str = r#"system = "sqs""#;

fn scenario(system: &str, acks: &str, faults: &str) -> String {
    QUEUE
        .replace("SYSTEM", system)
        .replace("ACKS", acks)
        .replace("FAULTS", faults)
}

/// A broker crashes at `at_ms` and, if `back_ms` is given, restarts then.
fn crash(broker: &str, at_ms: u64, back_ms: Option<u64>) -> String {
    let mut s = format!("[[faults]]\nat_ms = {at_ms}\naction = \"crash\"\ntarget = \"{broker}\"\n");
    if let Some(back) = back_ms {
        s +=
            &format!("\n[[faults]]\nat_ms = {back}\naction = \"restart\"\ntarget = \"{broker}\"\n");
    }
    s
}

/// broker-1 (the first leader) cut off from the controller and both other brokers from 3 s to
/// 13 s; the producer, on no side, still reaches every broker.
const LEADER_CUT_OFF: &str = r#"
[[faults]]
at_ms = 3000
action = "partition"
sides = [["broker-1"], ["controller", "broker-2", "broker-3"]]
duration_ms = 10000
"#;

fn max_ack_wait_ms(r: &Report) -> f64 {
    r.metrics.produce_latency["checkout"].max_ms
}

/// Every leader election: (time, leader index, unclean).
fn elections(trace: &[(SimTime, Trace)]) -> Vec<(SimTime, u32, bool)> {
    trace
        .iter()
        .filter_map(|(t, ev)| match ev {
            Trace::LeaderElected {
                leader, unclean, ..
            } => Some((*t, leader.0, *unclean)),
            _ => None,
        })
        .collect()
}

fn ack_times(trace: &[(SimTime, Trace)]) -> Vec<SimTime> {
    trace
        .iter()
        .filter(|(_, ev)| matches!(ev, Trace::Acked { .. }))
        .map(|(t, _)| *t)
        .collect()
}

/// How many messages some log truncated away after they had been acknowledged.
fn acked_then_truncated(trace: &[(SimTime, Trace)]) -> usize {
    let mut acked = std::collections::BTreeSet::new();
    let mut lost = 0;
    for (_, ev) in trace {
        match ev {
            Trace::Acked { msg, .. } => {
                acked.insert(*msg);
            }
            Trace::Truncated { removed, .. } => {
                lost += removed.iter().filter(|m| acked.contains(m)).count();
            }
            _ => {}
        }
    }
    lost
}

/// A quorum queue's publisher confirm needs a majority (2 of 3): with one follower down from
/// the start, confirms keep coming at once. Kafka's acks=all waits for every ISR member, so it
/// stalls until the controller fences the dead follower (`broker.session.timeout.ms`).
#[test]
fn a_quorum_queue_confirms_at_a_majority_where_kafka_waits_for_the_whole_isr() {
    let dead_follower = crash("broker-3", 500, None);
    let (rabbit, _) = run(&scenario(RABBITMQ, "confirms = true", &dead_follower));
    let (kafka, _) = run(&scenario(KAFKA, r#"acks = "all""#, &dead_follower));
    for r in [&rabbit, &kafka] {
        assert_eq!(r.produced.acked, 100, "{:?}", r.produced);
        assert_eq!(r.outcome.at_risk, 0);
    }
    let (rabbit_wait, kafka_wait) = (max_ack_wait_ms(&rabbit), max_ack_wait_ms(&kafka));
    assert!(rabbit_wait < 200.0, "majority confirms: {rabbit_wait} ms");
    assert!(
        kafka_wait > 5000.0,
        "Kafka waits for the ISR: {kafka_wait} ms"
    );
}

/// The quorum queue's leader crashes: a follower with the most up-to-date log takes over once
/// the failure is detected (a clean election), and nothing confirmed is lost, also after the
/// old leader comes back as a follower.
#[test]
fn a_quorum_queue_survives_its_leader_crashing_and_loses_nothing_confirmed() {
    let faults = crash("broker-1", 3000, Some(15000));
    let (r, trace) = run(&scenario(RABBITMQ, "confirms = true", &faults));
    assert_eq!(r.produced.acked, 100, "{:?}", r.produced);
    assert_eq!(r.outcome.at_risk, 0);
    assert_eq!(acked_then_truncated(&trace), 0);
    let elected = elections(&trace);
    let &(at, leader, unclean) = elected.first().expect("a new leader");
    assert!(at > SimTime::from_ms(3000), "{elected:?}");
    assert_ne!(leader, 0, "a surviving member leads: {elected:?}");
    assert!(!unclean, "Raft elections are never unclean");
    assert_eq!(elected.len(), 1, "the old leader rejoins as a follower");
}

/// The leader is cut off from both followers: its side is a minority, so nothing it appends
/// is confirmed while it is alone, and the majority side elects a new leader. When the
/// partition heals, the old leader drops what it appended alone (none of it confirmed).
#[test]
fn a_quorum_queues_minority_side_confirms_nothing_and_the_majority_elects() {
    let (r, trace) = run(&scenario(RABBITMQ, "confirms = true", LEADER_CUT_OFF));
    let elected = elections(&trace);
    let &(elected_at, leader, unclean) = elected.first().expect("the majority elects");
    assert!(leader != 0 && !unclean, "{elected:?}");
    // Confirms already on their way at 3 s may still land; after that, none until the
    // majority side has a leader.
    let confirmed_alone = ack_times(&trace)
        .into_iter()
        .filter(|&t| t > SimTime::from_ms(3100) && t < elected_at)
        .count();
    assert_eq!(confirmed_alone, 0, "the minority side confirmed a publish");
    let cut_on_old_leader: usize = r
        .truncations
        .iter()
        .filter(|t| t.replica == "broker-1")
        .map(|t| t.removed.len())
        .sum();
    assert!(
        cut_on_old_leader > 0,
        "the old leader appended alone and dropped it: {:?}",
        r.truncations
    );
    assert_eq!(acked_then_truncated(&trace), 0);
    assert_eq!(r.outcome.at_risk, 0);
    assert_eq!(r.produced.acked, 100, "{:?}", r.produced);
}

/// Two of three members down: the survivor is a minority and may not lead (Raft needs a
/// majority of votes). Kafka elects it, as it is still in the ISR.
#[test]
fn a_quorum_queue_with_one_member_of_three_left_has_no_leader_where_kafka_elects_it() {
    let faults = crash("broker-1", 3000, None) + "\n" + &crash("broker-2", 3000, None);
    let (_, rabbit) = run(&scenario(RABBITMQ, "confirms = true", &faults));
    let (_, kafka) = run(&scenario(KAFKA, r#"acks = "all""#, &faults));
    assert_eq!(elections(&rabbit), vec![], "a minority elected a leader");
    assert!(
        rabbit
            .iter()
            .any(|(_, ev)| matches!(ev, Trace::PartitionOffline { .. })),
        "the queue is unavailable"
    );
    let kafka_elected = elections(&kafka);
    assert_eq!(
        kafka_elected.iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![2],
        "Kafka elects broker-3"
    );
}

/// Redis, primary cut off from Sentinel (the controller) and its replicas while clients still
/// reach it: with acks = "1" it keeps acknowledging writes no replica gets; Sentinel promotes
/// a replica (an unclean election), and when the partition heals the old primary rejoins as a
/// replica and truncates them: acknowledged writes lost on failover. With acks = "all" (WAIT
/// on every replica) the old primary acknowledges nothing while cut off, and nothing is lost.
#[test]
fn redis_loses_acknowledged_writes_on_failover_unless_the_producer_waits_for_replicas() {
    let (async_acks, trace) = run(&scenario(REDIS, r#"acks = "1""#, LEADER_CUT_OFF));
    let elected = elections(&trace);
    let &(_, leader, unclean) = elected.first().expect("Sentinel promotes a replica");
    assert!(leader != 0 && unclean, "{elected:?}");
    // No group reads the queue here, so the checker holds them "at risk" rather than lost.
    assert!(acked_then_truncated(&trace) > 0);
    assert!(async_acks.outcome.at_risk > 0, "{:?}", async_acks.outcome);
    let old_primary_cut = async_acks
        .truncations
        .iter()
        .find(|t| t.replica == "broker-1")
        .expect("the old primary truncates on its return");
    assert!(!old_primary_cut.removed.is_empty());

    let (wait, trace) = run(&scenario(REDIS, r#"acks = "all""#, LEADER_CUT_OFF));
    assert!(!elections(&trace).is_empty());
    assert_eq!(acked_then_truncated(&trace), 0);
    assert_eq!(wait.outcome.at_risk, 0, "{:?}", wait.outcome);
    assert_eq!(wait.produced.acked, 100, "{:?}", wait.produced);
}

/// Redis's primary answers at its own append: a replica that is down does not slow acks = "1"
/// writes, while WAIT on every replica holds them until the dead replica stops counting.
#[test]
fn a_redis_primary_answers_at_its_own_append_and_wait_holds_for_the_replicas() {
    let dead_replica = crash("broker-3", 500, None);
    let (async_acks, _) = run(&scenario(REDIS, r#"acks = "1""#, &dead_replica));
    let (wait, _) = run(&scenario(REDIS, r#"acks = "all""#, &dead_replica));
    assert!(max_ack_wait_ms(&async_acks) < 50.0);
    assert!(
        max_ack_wait_ms(&wait) > 1000.0,
        "WAIT waited for the dead replica: {} ms",
        max_ack_wait_ms(&wait)
    );
    for r in [&async_acks, &wait] {
        assert_eq!(r.produced.acked, 100, "{:?}", r.produced);
    }
}

/// SQS stores a message on several hosts before SendMessage returns: a host crash loses
/// nothing acknowledged.
#[test]
fn sqs_loses_nothing_acknowledged_when_a_storage_host_crashes() {
    for broker in ["broker-1", "broker-2"] {
        let faults = crash(broker, 3000, Some(9000));
        let (r, trace) = run(&scenario(SQS, "", &faults));
        assert_eq!(r.produced.acked, 100, "{broker}: {:?}", r.produced);
        assert_eq!(r.outcome.at_risk, 0, "{broker}: {:?}", r.outcome);
        assert_eq!(acked_then_truncated(&trace), 0, "{broker}");
    }
}
