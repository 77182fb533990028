//! Each queue system's main screen, in its own words. The RabbitMQ, SQS and Redis processes
//! land separately; these screens are built by running a share-group scenario (whose delivery
//! state every system reuses) with `[cluster] system` switched in code, which bypasses the
//! validation that still refuses those systems. What is asserted is the picture: the header
//! names the system, the cluster panel speaks its words, and the queue panel shows the depth,
//! what each consumer holds, the timers, the delivery counts and the dead-letter queue.

use brokerlab::scenario::{self, model};
use brokerlab::session::Session;
use brokerlab::tui::App;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::frame;

macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

/// A bundled share-group scenario run as another system.
fn open_as(
    name: &str,
    system: model::System,
    mode: Option<model::RedisMode>,
    edit: impl FnOnce(&mut model::Scenario),
) -> App {
    let (label, mut sc) = scenario::load(name).expect("bundled scenario");
    sc.cluster.system = system;
    sc.cluster.mode = mode;
    edit(&mut sc);
    let seed = sc.scenario.seed;
    App::with_session(Session::new(label, sc, seed))
}

/// Step (→) until the newest log line says `what`.
fn step_until(app: &mut App, what: &str) {
    for _ in 0..3000 {
        app.on_key(KeyEvent::new(KeyCode::Right, KeyModifiers::NONE));
        let s = app.session.as_ref().unwrap();
        if s.log.back().is_some_and(|l| l.text.contains(what)) {
            return;
        }
    }
    panic!("never reached a line with {what:?}");
}

/// The row holding `needle`, for asserting what stands beside it.
fn row_with<'a>(frame: &'a str, needle: &str) -> &'a str {
    frame
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?} in\n{frame}"))
}

#[test]
fn rabbitmq_shows_a_quorum_queue_and_each_consumers_unacked_messages() {
    let mut app = open_as(
        "share-group-lock-expiry",
        model::System::Rabbitmq,
        None,
        |_| {},
    );
    step_until(&mut app, "consumer-1 crashes");
    let f = frame(&app, 120, 40);
    snap!("tui__rabbitmq_crash_120x40", f.clone());
    assert!(row_with(&f, "[RabbitMQ · quorum queue]").starts_with(" [RabbitMQ"));
    // The cluster panel: Raft's words, no ISR or HW.
    let head = row_with(&f, "quorum queue  leader");
    assert!(head.contains("leader broker-1  term 0"), "{head}");
    assert!(f.contains("members [1,2,3]  commit index 20"), "{f}");
    let cluster: String = f
        .lines()
        .take(10)
        .map(|l| l.chars().take(62).collect::<String>() + "\n")
        .collect();
    assert!(
        !cluster.contains("ISR") && !cluster.contains(" HW "),
        "{cluster}"
    );
    assert!(cluster.contains("commit 19"), "{cluster}");
    assert!(f.contains("controller (Raft elections)"), "{f}");
    // The queue panel: the dead consumer still holds its unacked messages (no timer: RabbitMQ
    // waits for the channel to close), the other holds its own.
    assert!(f.contains("Queues · consumers"), "{f}");
    let queue = row_with(&f, "workers  queue orders");
    assert!(queue.contains("ready"), "{queue}");
    assert!(queue.contains("unacked"), "{queue}");
    assert!(queue.contains("manual ack"), "{queue}");
    // RabbitMQ pushes without a prefetch limit: consumer-1 had applied and acked #11 and
    // held #12-#16 unacked when it died.
    let c1 = row_with(&f, "consumer-1 crashed");
    assert!(c1.contains("unacked 5 ◐#12 ×1 ◐#13 ×1"), "{c1}");
    assert!(!c1.contains("visible in") && !c1.contains("lock"), "{c1}");
    // The narrow layout keeps the counts and each consumer's messages.
    let f = frame(&app, 80, 24);
    snap!("tui__rabbitmq_crash_80x24", f.clone());
    assert!(f.contains("Producers · Queues"), "{f}");
    assert!(row_with(&f, "│ c1 crashed").contains("◐#12"), "{f}");
}

#[test]
fn sqs_fifo_shows_invisible_messages_with_their_visibility_timers() {
    let mut app = open_as("share-group-lock-expiry", model::System::Sqs, None, |sc| {
        sc.topics[0].fifo = true;
        // The queue's visibility timeout as the share lock underneath has it.
        sc.groups[0].visibility_timeout_ms = Some(15_000);
    });
    step_until(&mut app, "consumer-1 crashes");
    let f = frame(&app, 120, 40);
    snap!("tui__sqs_fifo_crash_120x40", f.clone());
    assert!(f.starts_with(" [SQS FIFO]"), "{f}");
    assert!(f.contains("queue (stored on 3 hosts)"), "{f}");
    assert!(f.contains("controller (the service)"), "{f}");
    let queue = row_with(&f, "workers  queue orders");
    assert!(
        queue.contains("visible") && queue.contains("invisible"),
        "{queue}"
    );
    // A receive takes one message (batch 1): the dead consumer's last one, its receive count
    // and when it becomes visible again (received at about 3.85 s, 15 s invisible).
    let c1 = row_with(&f, "consumer-1 crashed");
    assert!(
        c1.contains("invisible 1, visible in: ◐#13 ×1 14.9s"),
        "{c1}"
    );
    let f = frame(&app, 80, 24);
    snap!("tui__sqs_fifo_crash_80x24", f.clone());
    assert!(row_with(&f, "│ c1 crashed").contains("◐#13 14.9s"), "{f}");
}

#[test]
fn a_redis_stream_shows_its_pending_entries_and_when_they_can_be_claimed() {
    let mut app = open_as(
        "share-group-lock-expiry",
        model::System::Redis,
        Some(model::RedisMode::Stream),
        |sc| sc.groups[0].min_idle_ms = Some(15_000),
    );
    step_until(&mut app, "consumer-1 crashes");
    let f = frame(&app, 120, 40);
    snap!("tui__redis_stream_crash_120x40", f.clone());
    assert!(f.starts_with(" [Redis stream]"), "{f}");
    let head = row_with(&f, "primary + 2 replicas");
    assert!(head.contains("primary broker-1"), "{head}");
    // The replicas are the other two; the primary is not one of them.
    assert!(f.contains("replicas [2,3]  replication offset 20"), "{f}");
    assert!(f.contains("controller (Sentinel)"), "{f}");
    assert!(
        row_with(&f, "consumer-1 crashed").contains("pending (PEL) 1, claimable in:"),
        "{f}"
    );
    assert!(f.contains("◐#13 ×1 14.8s"), "{f}");
}

#[test]
fn a_redis_list_keeps_nothing_in_flight_so_the_consumer_shows_what_it_holds() {
    let mut app = open_as(
        "share-group-lock-expiry",
        model::System::Redis,
        Some(model::RedisMode::List),
        |_| {},
    );
    // Just before the crash, consumer-1 holds what it popped; Redis has no record of it.
    step_until(&mut app, "checkout#13 is gone from Redis");
    // Popped at the primary; it holds it once the BRPOP reply has crossed the network.
    for _ in 0..50 {
        if row_with(&frame(&app, 120, 40), "consumer-1 active").contains("holds 1") {
            break;
        }
        app.on_key(KeyEvent::new(KeyCode::Right, KeyModifiers::NONE));
    }
    let f = frame(&app, 120, 40);
    snap!("tui__redis_list_before_crash_120x40", f.clone());
    assert!(f.starts_with(" [Redis list (LPUSH/BRPOP)]"), "{f}");
    let queue = row_with(&f, "workers  queue orders");
    assert!(queue.contains("in list"), "{queue}");
    assert!(
        !queue.contains("popped"),
        "nothing in flight on the server: {queue}"
    );
    // BRPOP takes one message: consumer-1 holds #13, which Redis no longer has.
    let c1 = row_with(&f, "consumer-1 active");
    assert!(c1.contains("holds 1 ◐#13 ×1"), "{c1}");
    assert!(f.contains("(gone from Redis)"), "{f}");
    // After the crash the consumer's memory is gone, and with it the messages.
    step_until(&mut app, "consumer-1 crashes");
    let f = frame(&app, 120, 40);
    assert!(
        row_with(&f, "consumer-1 crashed").contains("holds 0"),
        "{f}"
    );
}

#[test]
fn a_rabbitmq_delivery_limit_shows_the_dead_lettered_messages() {
    let mut app = open_as(
        "share-group-poison-archived",
        model::System::Rabbitmq,
        None,
        // The quorum queue's limit as the share partition underneath applies it.
        |sc| sc.groups[0].delivery_limit = Some(3),
    );
    step_until(&mut app, "is DROPPED");
    let f = frame(&app, 120, 40);
    snap!("tui__rabbitmq_delivery_limit_120x40", f.clone());
    assert!(f.contains("delivery limit 3"), "{f}");
    // No dead-letter exchange in this scenario: RabbitMQ drops the message, which the group
    // never applied: lost, not dead-lettered.
    assert!(f.contains("lost 1"), "{f}");
    assert!(f.contains("(lost: skipped 1)"), "{f}");
}

#[test]
fn the_help_legend_and_the_glossary_explain_a_queue_screen() {
    let mut app = open_as("share-group-lock-expiry", model::System::Sqs, None, |_| {});
    step_until(&mut app, "consumer-1 crashes");
    app.overlay = Some(brokerlab::tui::Overlay::Help);
    let f = frame(&app, 120, 40);
    assert!(f.contains("◐ held, not acked"), "{f}");
    assert!(f.contains("☠ dead-lettered"), "{f}");
    // Every word the queue panel puts on screen, in each system, has a glossary entry.
    for word in [
        "unacked",
        "invisible",
        "visible in",
        "pending (PEL)",
        "claimable in",
        "processing list",
        "holds",
        "prefetch",
        "term",
        "commit index",
        "replication offset",
        "config epoch",
        "Sentinel",
        "XAUTOCLAIM",
        "WAIT",
        "BRPOP",
        "maxReceiveCount",
        "☠",
        "◐",
    ] {
        assert!(
            brokerlab::glossary::lookup(word).is_some(),
            "{word} has no glossary entry"
        );
    }
}

/// A message dead-lettered by a quorum queue is counted in the dead-letter queue's line as in
/// the outcome (the simulation does not append it to that queue's log, so a count read from
/// the log alone said 0 beside `dead 1`).
#[test]
fn the_dead_letter_queue_counts_what_was_dead_lettered() {
    let (label, sc) = scenario::load("rabbitmq-poison-dead-letter").expect("bundled scenario");
    let seed = sc.scenario.seed;
    let mut app = App::with_session(Session::new(label, sc, seed));
    step_until(&mut app, "the queue dead-letters it to");
    let f = frame(&app, 120, 40);
    assert!(f.contains("dead 1"), "{f}");
    let dlq = row_with(&f, "☠ dead-letter queue");
    assert!(dlq.contains("☠ dead-letter queue orders-dlq 1"), "{dlq}");
}
