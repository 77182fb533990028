//! Notes anchored to events (`[[notes]] after = "..."`): located errors, a note shown right
//! after its event and caused by it, and a `check` warning for an event that never comes.

use brokerlab::scenario::{self, ErrorKind, Scenario};
use brokerlab::sim::{ShareStep, Sim, Trace, TraceEvent};

use crate::util::{TempDir, brokerlab, stdout};

const TOUR: &str = include_str!("../../scenarios/tour.toml");

/// The start of the tour's note about the election.
const ELECTION: &str = "9 s after broker-1's last heartbeat";

/// `scenario` with the note whose text starts with `start` shown by `when` (its `at_ms` and
/// `after` lines) instead.
fn with_note(scenario: &str, start: &str, when: &str) -> String {
    let at = scenario
        .find(&format!("text = \"{start}"))
        .unwrap_or_else(|| panic!("there is a note `{start}`"));
    let block = scenario[..at].rfind("[[notes]]\n").unwrap() + "[[notes]]\n".len();
    format!("{}{when}\n{}", &scenario[..block], &scenario[at..])
}

fn tour_with(start: &str, when: &str) -> String {
    with_note(TOUR, start, when)
}

fn parse(text: &str) -> Scenario {
    scenario::parse("t.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn trace(sc: &Scenario) -> (Sim, Vec<TraceEvent>) {
    let mut sim = Sim::with_seed(sc, sc.scenario.seed);
    let mut events = Vec::new();
    while sim.step() {
        events.extend(sim.drain_trace());
    }
    events.extend(sim.drain_trace());
    (sim, events)
}

/// The narration of the note whose text starts with `start`, and the event just before it.
fn shown<'e>(sim: &Sim, events: &'e [TraceEvent], start: &str) -> (&'e TraceEvent, &'e TraceEvent) {
    let at = events
        .iter()
        .position(|e| {
            matches!(e.kind, Trace::Narration { index }
                if sim.notes()[index as usize].text.starts_with(start))
        })
        .unwrap_or_else(|| panic!("the note `{start}` is shown"));
    (&events[at], &events[at - 1])
}

#[test]
fn a_note_anchored_to_an_election_follows_it_and_is_caused_by_it() {
    let sc = parse(&tour_with(ELECTION, "after = \"election orders/0\""));
    let (sim, events) = trace(&sc);
    let (note, before) = shown(&sim, &events, "9 s after broker-1's last heartbeat");
    let Trace::LeaderElected {
        partition, leader, ..
    } = before.kind
    else {
        panic!(
            "the event before the note is the election: {:?}",
            before.kind
        );
    };
    assert_eq!(sim.partition_name(partition), "orders/0");
    assert_eq!(leader.0, 1, "broker-2 is elected");
    assert_eq!(note.cause, Some(before.id), "the election caused the note");
    assert_eq!(note.time, before.time);
    // It is the first election of the run: nothing earlier matched.
    let first = events
        .iter()
        .find(|e| matches!(e.kind, Trace::LeaderElected { .. }))
        .unwrap();
    assert_eq!(first.id, before.id);
}

#[test]
fn at_ms_with_an_anchor_waits_for_the_first_match_at_or_after_it() {
    let sc = parse(&tour_with(
        "Business as usual",
        "at_ms = 20000\nafter = \"hw orders/0\"",
    ));
    let (sim, events) = trace(&sc);
    let (note, before) = shown(&sim, &events, "Business as usual");
    assert!(
        matches!(before.kind, Trace::HighWatermark { .. }),
        "{:?}",
        before.kind
    );
    assert!(before.time.as_ms() >= 20000);
    assert_eq!(note.cause, Some(before.id));
    let first = events
        .iter()
        .find(|e| e.time.as_ms() >= 20000 && matches!(e.kind, Trace::HighWatermark { .. }))
        .unwrap();
    assert_eq!(first.id, before.id, "the first HW move from 20 s on");
}

#[test]
fn hw_with_a_threshold_and_message_anchors_match_their_own_event() {
    let text = tour_with("Both followers have fetched", "after = \"hw orders/0 12\"");
    let text = with_note(
        &text,
        "checkout's next write fails",
        "after = \"ack checkout#13\"",
    );
    let sc = parse(&text);
    let (sim, events) = trace(&sc);
    let (_, before) = shown(&sim, &events, "Both followers have fetched");
    let Trace::HighWatermark { hw, .. } = before.kind else {
        panic!("{:?}", before.kind);
    };
    assert!(hw >= 12);
    let earlier_12 = events[..before.id.0 as usize]
        .iter()
        .any(|e| matches!(e.kind, Trace::HighWatermark { hw, .. } if hw >= 12));
    assert!(!earlier_12, "the first time the HW reaches 12");
    let (note, before) = shown(&sim, &events, "checkout's next write fails");
    let Trace::Acked { msg, .. } = before.kind else {
        panic!("{:?}", before.kind);
    };
    assert_eq!(sim.msg_name(msg), "checkout#13");
    // checkout#13 is retried across the failover: acknowledged long after its 8 s send.
    assert!(note.time.as_ms() > 15000, "{}", note.time);
}

/// The message, step and delivery count of a `Share` event.
fn share_step(kind: &Trace) -> (brokerlab::sim::MsgId, ShareStep, u32) {
    match *kind {
        Trace::Share {
            msg,
            step,
            delivery_count,
            ..
        } => (msg, step, delivery_count),
        ref other => panic!("not a Share event: {other:?}"),
    }
}

#[test]
fn queue_delivery_anchors_wait_for_the_lock_expiry_and_the_redelivery_of_their_message() {
    let text = include_str!("../../scenarios/share-group-lock-expiry.toml");
    let sc = parse(text);
    let (sim, events) = trace(&sc);
    let (note, before) = shown(&sim, &events, "15 s after consumer-1 acquired");
    let (msg, step, delivery_count) = share_step(&before.kind);
    assert_eq!(sim.msg_name(msg), "checkout#11");
    assert_eq!((step, delivery_count), (ShareStep::LockExpired, 1));
    assert_eq!(note.cause, Some(before.id));
    // `redeliver` skips the first delivery of checkout#11 and waits for the second.
    let (_, before) = shown(&sim, &events, "consumer-2 acquires checkout#11 again");
    let (msg, step, delivery_count) = share_step(&before.kind);
    assert_eq!(sim.msg_name(msg), "checkout#11");
    assert_eq!((step, delivery_count), (ShareStep::Acquired, 2));
    let first = events
        .iter()
        .find(|e| {
            matches!(e.kind, Trace::Share { msg, step: ShareStep::Acquired, .. }
                if sim.msg_name(msg) == "checkout#11")
        })
        .unwrap();
    assert!(first.id < before.id, "the first delivery did not match");
}

#[test]
fn the_same_anchored_run_gives_the_same_digest_headless() {
    let sc = parse(&tour_with(ELECTION, "after = \"election orders/0\""));
    let full = brokerlab::report::run("t", &sc, 7, |_, _| {});
    let headless = brokerlab::report::run_headless("t", &sc, 7, |_, _| {});
    assert_eq!(full.digest, headless.digest);
    assert!(full.notes_never_shown.is_empty());
}

#[test]
fn bad_anchors_are_located_errors_that_list_the_events() {
    let text = tour_with(ELECTION, "after = \"electon orders/0\"");
    let e = scenario::parse("t.toml", &text).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    let line = text.lines().position(|l| l.contains("electon")).unwrap() + 1;
    assert_eq!((e.line(), e.column()), (Some(line), Some(10)), "{e}");
    assert!(e.to_string().contains("`electon` is not an event"), "{e}");
    let expected = e.expected().unwrap();
    for form in [
        "`election TOPIC/P`",
        "`ack PRODUCER#N`",
        "`txn-abort TRANSACTIONAL_ID`",
    ] {
        assert!(expected.contains(form), "{expected}");
    }
    assert_eq!(e.help(), Some("did you mean `election`?"));

    // The subject: the column of the word that is wrong.
    for (anchor, column, says) in [
        ("election orders/1", 19, "one partition, orders/0"),
        ("crash broker-4", 16, "broker-1 to broker-3"),
        ("ack chekout#3", 14, "did you mean `checkout`?"),
        ("ack checkout#61", 14, "#1 to #60"),
        ("rebalance billing extra", 28, "one word too many"),
        ("crash leader:orders/0", 16, "fixed node"),
        (
            "txn-commit checkout",
            21,
            "no producer or group here is transactional",
        ),
        ("hw orders/0 ten", 22, "not an offset"),
    ] {
        let text = tour_with(ELECTION, &format!("after = \"{anchor}\""));
        let e = scenario::parse("t.toml", &text).unwrap_err();
        assert_eq!((e.line(), e.column()), (Some(line), Some(column)), "{e}");
        assert!(e.to_string().contains(says), "{anchor}: {e}");
    }
}

#[test]
fn an_anchor_that_never_matches_is_a_check_warning() {
    // broker-2 becomes the leader and never truncates.
    let text = tour_with(ELECTION, "after = \"truncation broker-2\"");
    let tmp = TempDir::new("anchors");
    let dir = tmp.path().to_path_buf();
    let file = dir.join("never.toml");
    std::fs::write(&file, &text).unwrap();
    let path = file.to_str().unwrap();
    let out = brokerlab(&["check", path]);
    let line = text
        .lines()
        .position(|l| l.contains("truncation broker-2"))
        .unwrap()
        + 1;
    let said = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning, not a failure: {said}"
    );
    assert!(
        said.contains(&format!(
            "warning: {path}:{line}: note 10 waits for `truncation broker-2`, which never happens"
        )),
        "{said}"
    );
    // The JSON report lists it too.
    let out = brokerlab(&["run", path, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["notes_never_shown"],
        serde_json::json!([{ "note": 10, "after": "truncation broker-2", "at_ms": 0 }])
    );
    // ... and the note is never in the trace.
    let (sim, events) = trace(&parse(&text));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, Trace::Narration { index: 9 }))
    );
    assert_eq!(sim.waiting_notes(), &[9]);
}
