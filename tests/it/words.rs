//! Words and pictures a learner can read: the glossary covers what the screen shows, the
//! coordinator line, transaction states and the truncation cut as glyphs, the timeline strip and
//! its clicks, connection resets in the diagram.

use brokerlab::glossary;
use brokerlab::marks::MarkKind;
use brokerlab::session::LogKind;
use brokerlab::sim::SimTime;
use brokerlab::tui::{App, Overlay, View};
use ratatui::crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use crate::tui::{frame, key, open};
use crate::util::{brokerlab, stdout};

fn row(frame: &str, y: usize) -> &str {
    frame.lines().nth(y).unwrap_or("")
}

macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

#[test]
fn the_glossary_command_prints_the_table() {
    let o = brokerlab(&["glossary"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert_eq!(text, glossary::text());
    snap!("glossary", text);
}

#[test]
fn help_turns_to_the_glossary_page_and_scrolls() {
    let mut app = open("tour");
    app.on_key(key(KeyCode::Char('?')));
    app.on_key(key(KeyCode::Char('g')));
    assert!(matches!(app.overlay, Some(Overlay::Glossary(0))));
    let top = frame(&app, 100, 30);
    assert!(top.contains("Glossary"), "{top}");
    assert!(
        top.contains("LEO") && top.contains("log end offset"),
        "{top}"
    );
    for _ in 0..3 {
        app.on_key(key(KeyCode::PageDown));
    }
    let lower = frame(&app, 100, 30);
    assert_ne!(top, lower, "PgDn scrolls the glossary");
    app.on_key(key(KeyCode::Char('?')));
    assert!(
        matches!(app.overlay, Some(Overlay::Help)),
        "? goes back to the keys"
    );
    app.on_key(key(KeyCode::Char('x')));
    assert!(app.overlay.is_none());
}

/// Labels the screen uses that must be explained, when they are on it.
const LABELS: &[&str] = &[
    "LEO",
    "HW",
    "LSO",
    "ISR",
    "¬ISR",
    "ELR",
    "epoch",
    "generation",
    "gen",
    "pos",
    "com",
    "lag",
    "position",
    "committed",
    "pending",
    "redelivered",
    "coord",
    "coordinator",
    "Rebalancing",
    "Stable",
    "Empty",
    "at risk",
    "acked-lost",
    "unseen",
    "dup",
    "dead",
    "aborted",
    "withheld",
    "revoking",
    "fenced",
    "OFFLINE",
    "in-flight",
    "retrying",
    "send→ack",
];

/// Non-ASCII glyphs that need no entry: frame lines, arrows of the key hints, punctuation.
fn ordinary_glyph(c: char) -> bool {
    ('\u{2500}'..='\u{257f}').contains(&c) && !"╳┃┄╮╰╭╯".contains(c)
        || "←→↑↓—×‹›…─│·▕".contains(c) && !"·▕…".contains(c)
}

/// Upper-case words on screen that are not abbreviations of the model (protocol names, the
/// notes' prose).
const NOT_ABBREVIATIONS: &[&str] = &[
    "KIP", "GC", "ID", "OK", "OS", "EOS", // the anomaly lines shout in plain words:
    "LOSS", "NOW", "ACKED", "WRITE", "LOST", "FROM", "THE", "LOG", "AT", "RISK", "ABORT",
];

fn check_frame(name: &str, text: &str, missing: &mut Vec<String>) {
    // The timeline strip (row 1) is letters as glyphs: each must be in the timeline's legend.
    let strip = row(text, 1).get(3..).unwrap_or("");
    let cells = strip.split(' ').next().unwrap_or("");
    for c in cells
        .chars()
        .filter(|c| c.is_ascii_alphabetic() || *c == '!')
    {
        let legend = glossary::ENTRIES.iter().any(|e| {
            e.section == glossary::Section::Timeline
                && (e.term == c.to_string() || e.also.contains(&c.to_string().as_str()))
        });
        if !legend {
            missing.push(format!("{name}: timeline mark {c}"));
        }
    }
    let text: String = text
        .lines()
        .enumerate()
        .filter(|&(y, _)| y != 1)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let text = text.as_str();
    for label in LABELS {
        let on_screen = text
            .split(|c: char| !(c.is_alphanumeric() || "-¬→".contains(c)))
            .any(|w| w == *label)
            || label.contains(' ') && text.contains(label);
        if on_screen && glossary::lookup(label).is_none() {
            missing.push(format!("{name}: label {label}"));
        }
    }
    for word in text.split(|c: char| !c.is_ascii_alphabetic()) {
        let abbrev = (2..=5).contains(&word.len()) && word.chars().all(|c| c.is_ascii_uppercase());
        if abbrev && !NOT_ABBREVIATIONS.contains(&word) && glossary::lookup(word).is_none() {
            // Part of an error name (NOT_ENOUGH_REPLICAS) is a protocol word, not a label.
            let in_error = text
                .split_whitespace()
                .any(|t| t.contains('_') && t.contains(word));
            if !in_error {
                missing.push(format!("{name}: abbreviation {word}"));
            }
        }
    }
    for c in text
        .chars()
        .filter(|c| !c.is_ascii() && !ordinary_glyph(*c))
    {
        let explained = glossary::ENTRIES
            .iter()
            .any(|e| e.term.contains(c) || e.also.iter().any(|a| a.contains(c)));
        if !explained {
            missing.push(format!("{name}: glyph {c} (U+{:04X})", c as u32));
        }
    }
}

#[test]
fn every_abbreviation_and_glyph_on_screen_has_a_glossary_entry() {
    let mut missing = Vec::new();
    for name in [
        "tour",
        "acks1-leader-failover",
        "txn-read-committed",
        "txn-open-transaction-holds-lso",
        "cooperative-rebalance",
        "kip848-consumer-protocol",
        "elr-last-replica-standing",
        "consumer-crash-after-process",
    ] {
        let mut app = open(name);
        for step in 0..10 {
            app.on_key(key(KeyCode::Char(']')));
            if step % 3 == 0 {
                for (w, h) in [(80, 24), (200, 60)] {
                    check_frame(name, &frame(&app, w, h), &mut missing);
                }
                app.view = View::Diagram;
                check_frame(name, &frame(&app, 120, 40), &mut missing);
                app.view = View::Main;
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "not in the glossary:\n{}",
        missing.join("\n")
    );
}

/// Step (`]`) until the session's time passes `t`.
fn jump_past(app: &mut App, t: SimTime) {
    for _ in 0..500 {
        if app.session.as_ref().unwrap().now() >= t {
            return;
        }
        app.on_key(key(KeyCode::Char(']')));
    }
    panic!("never reached {t:?}");
}

#[test]
fn a_group_whose_coordinator_is_dead_says_so() {
    let mut app = open("acks1-leader-failover");
    // broker-1 crashes at 1.8 s and is fenced at 9 s: in between, billing's JoinGroups fail.
    app.session
        .as_mut()
        .unwrap()
        .advance_to(SimTime(5_000_000), u64::MAX);
    let narrow = frame(&app, 80, 24);
    assert!(
        narrow.contains("gen 0 Rebalancing coord b1 ✗down"),
        "{narrow}"
    );
    let wide = frame(&app, 200, 60);
    assert!(wide.contains("coordinator broker-1 ✗ down:"), "{wide}");
    assert!(wide.contains("until the controller fences it"), "{wide}");
    jump_past(&mut app, SimTime(14_000_000));
    let after = frame(&app, 80, 24);
    assert!(
        !after.contains("✗down"),
        "the group moved to a live broker:\n{after}"
    );
    assert!(after.contains("coord b"), "{after}");
}

#[test]
fn a_transactional_producer_shows_its_coordinator() {
    let mut app = open("txn-read-committed");
    app.on_key(key(KeyCode::Char(']')));
    let wide = frame(&app, 200, 60);
    assert!(wide.contains("coordinator broker-"), "{wide}");
}

#[test]
fn transaction_records_show_open_committed_and_aborted_as_glyphs() {
    let cells = |text: &str, glyph: char| {
        text.split_whitespace().any(|w| {
            w.ends_with(glyph)
                && w.len() > glyph.len_utf8() + 1
                && w[..w.len() - glyph.len_utf8()]
                    .trim_start_matches(['▕', '┃', '…'])
                    .chars()
                    .skip(1)
                    .all(|c| c.is_ascii_digit())
        })
    };
    let mut app = open("txn-open-transaction-holds-lso");
    let mut seen_open = false;
    for _ in 0..30 {
        app.on_key(key(KeyCode::Char(']')));
        seen_open |= cells(&frame(&app, 200, 60), '~');
    }
    assert!(seen_open, "an open transaction's records end in ~");
    let mut app = open("txn-read-committed");
    let mut seen = (false, false);
    for _ in 0..60 {
        app.on_key(key(KeyCode::Char(']')));
        let f = frame(&app, 200, 60);
        seen.0 |= cells(&f, '✓');
        seen.1 |= cells(&f, '⊘');
    }
    assert!(seen.0, "committed records end in ✓");
    assert!(seen.1, "aborted records end in ⊘");
}

#[test]
fn a_truncation_cut_is_a_scissors_not_a_failed_record() {
    let mut app = open("acks1-leader-failover");
    for _ in 0..200 {
        app.on_key(key(KeyCode::Char(']')));
        let s = app.session.as_ref().unwrap();
        if s.log.back().is_some_and(|l| l.kind == LogKind::Truncation)
            || s.log
                .iter()
                .rev()
                .take(3)
                .any(|l| l.kind == LogKind::Truncation)
        {
            break;
        }
    }
    let f = frame(&app, 80, 24);
    assert!(f.contains("#6✂ #7  #8"), "{f}");
    assert!(!f.contains("#6✗"), "{f}");
}

fn click(app: &mut App, column: u16) {
    app.on_mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row: brokerlab::tui::TIMELINE_ROW,
        modifiers: KeyModifiers::NONE,
    });
}

#[test]
fn the_timeline_marks_what_happened_and_a_click_jumps_there() {
    let mut app = open("acks1-leader-failover");
    app.screen_width = 80;
    let start = frame(&app, 80, 24);
    let strip = row(&start, 1);
    assert!(strip.starts_with(" 0 ▼"), "now at 0:\n{strip}");
    assert!(strip.contains('x'), "scripted faults ahead:\n{strip}");
    // Run to the end.
    app.session
        .as_mut()
        .unwrap()
        .advance_to(SimTime(u64::MAX), u64::MAX);
    let end = frame(&app, 80, 24);
    let strip = row(&end, 1).to_string();
    // The election at 9 s shares its cell with the loss it makes certain, which wins the cell.
    for glyph in ['X', 'L', 'R', 'n'] {
        assert!(strip.contains(glyph), "{glyph} on the strip:\n{strip}");
    }
    let marks = &app.session.as_ref().unwrap().marks;
    let election = marks.first_in(MarkKind::Election, SimTime(0), SimTime(u64::MAX));
    assert_eq!(election.map(|m| m.time), Some(SimTime(9_000_000)));
    assert!(
        !strip.contains('·'),
        "nothing is ahead at the end:\n{strip}"
    );
    // Click the first loss: the session goes back to the truncation.
    let col = strip.chars().position(|c| c == 'L').unwrap() as u16;
    click(&mut app, col);
    let s = app.session.as_ref().unwrap();
    let status = app.status.clone().unwrap_or_default();
    assert!(status.contains("L loss"), "{status}");
    // The first loss mark is the moment broker-2 is elected without the acknowledged #7, #8.
    assert!(
        s.log
            .iter()
            .rev()
            .take(3)
            .any(|l| l.kind == LogKind::Anomaly && l.text.contains("LOSS NOW CERTAIN")),
        "the last lines are the certain loss"
    );
    let t_loss = s.now();
    assert_eq!(t_loss, SimTime(9_000_000), "the election that loses #7, #8");
    // The strip now shows the position there, with what comes later forgotten until replayed.
    let after = frame(&app, 80, 24);
    assert!(row(&after, 1).contains('·'), "{}", row(&after, 1));
    // A click ahead of now on an unmarked cell runs on to its time.
    let mut app = open("acks1-leader-failover");
    app.screen_width = 80;
    click(&mut app, 40);
    let now = app.session.as_ref().unwrap().now();
    assert!(
        now > SimTime(5_000_000),
        "ran on to the clicked time, now {now:?}"
    );
}

#[test]
fn a_reset_comes_from_the_network_not_from_the_dead_broker() {
    let mut app = open("acks1-leader-failover");
    jump_past(&mut app, SimTime(8_600_000));
    app.view = View::Diagram;
    let f = frame(&app, 80, 24);
    let resets: Vec<&str> = f
        .lines()
        .filter(|l| l.contains("connection reset"))
        .collect();
    assert!(!resets.is_empty(), "{f}");
    for l in &resets {
        assert!(
            l.contains('╳') && !l.contains('●'),
            "a reset has no sender dot: {l}"
        );
    }
    assert!(
        f.contains("✗broker-1"),
        "the dead broker's column says so:\n{f}"
    );
}

/// A RabbitMQ, SQS or Redis run is told in that system's words: a message is published,
/// sent or pushed to a queue and confirmed, the consumers start consuming, Sentinel promotes a
/// replica. Kafka's offsets, leader epochs, high watermarks, ISR and `auto.offset.reset` are not
/// what these systems have.
#[test]
fn a_queue_systems_narration_uses_its_own_words_not_kafkas() {
    let cases = [
        (
            "rabbitmq-manual-ack-crash",
            "publishes checkout#1 to queue orders",
            "start consuming queue orders (basic.consume)",
        ),
        (
            "rabbitmq-poison-dead-letter",
            "✓ the queue confirms checkout#1 (publisher confirm)",
            "orders commit index on broker-1 → 1",
        ),
        (
            "sqs-fifo-group-blocking",
            "sends checkout#1 to queue orders (SendMessage, message group alice)",
            "✓ SendMessage of checkout#1 returns",
        ),
        (
            "redis-failover-without-wait",
            "checkout ✓ checkout#1 written: the primary answered OK (its replicas may not have it yet)",
            "ledger ✓ ledger#1 written, and WAIT saw every replica acknowledge it",
        ),
        (
            "redis-list-brpop-crash",
            "pushes checkout#1 onto list orders (LPUSH)",
            "start popping from list orders (BRPOP)",
        ),
        (
            "redis-stream-claim",
            "adds checkout#1 to stream orders (XADD)",
            "consumer group workers starts reading stream orders (XREADGROUP)",
        ),
    ];
    for (name, first, second) in cases {
        let o = brokerlab(&["run", name]);
        assert!(o.status.success(), "{name}");
        let text = stdout(&o);
        for want in [first, second] {
            assert!(text.contains(want), "{name}: no `{want}` in\n{text}");
        }
        for kafka in [
            "auto.offset.reset",
            "leader epoch",
            " HW on ",
            "at offset",
            "orders/0",
            "ISR",
            "controller fences",
            "NETWORK_EXCEPTION",
        ] {
            assert!(
                !text.contains(kafka),
                "{name}: Kafka's `{kafka}` in\n{text}"
            );
        }
    }
    // The outcome's failover lines name the queue; the JSON report says which system ran.
    let text = stdout(&brokerlab(&["run", "redis-failover-without-wait"]));
    assert!(
        text.contains("checkout ✗ checkout#9 failed: connection lost, will retry"),
        "{text}"
    );
    assert!(
        text.contains("  unavailable: orders for 7200.0ms"),
        "{text}"
    );
    assert!(text.contains("  truncated: orders on broker-1"), "{text}");
    let json = stdout(&brokerlab(&[
        "run",
        "redis-failover-without-wait",
        "--json",
    ]));
    assert!(json.contains("\"system\": \"redis\""), "{json}");
    let json = stdout(&brokerlab(&["run", "acks1-leader-failover", "--json"]));
    assert!(json.contains("\"system\": \"kafka\""), "{json}");
}

/// The help's legend names the marks as the run's system does: a Redis primary and what is on
/// its replicas, not Kafka's leader, HW and ISR; and no transaction glyphs where there are no
/// transactions. Kafka's legend is unchanged.
#[test]
fn the_help_legend_uses_the_systems_words() {
    let legend = |name: &str| {
        let mut app = open(name);
        app.on_key(key(KeyCode::Char('?')));
        frame(&app, 100, 30)
    };
    let redis = legend("redis-failover-without-wait");
    for want in ["┃ on replicas", "★ primary", "· replica", "lag lagging"] {
        assert!(redis.contains(want), "no `{want}` in\n{redis}");
    }
    for kafka in ["┃ HW", "¬ISR", "txn state"] {
        assert!(!redis.contains(kafka), "`{kafka}` in\n{redis}");
    }
    let kafka = legend("tour");
    for want in ["┃ HW", "★ leader", "¬ISR out of ISR", "~✓⊘ txn state"] {
        assert!(kafka.contains(want), "no `{want}` in\n{kafka}");
    }
}
