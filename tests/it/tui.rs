//! The interactive view, driven key by key into a `TestBackend`. Each snapshot is the frame a
//! user sees (as text); the asserts check what a picture cannot (step-back equals going
//! forward, saved sessions replay).

use crate::util::TempDir;
use std::time::Duration;

use brokerlab::report;
use brokerlab::scenario::{self, FaultAction};
use brokerlab::session::{LogKind, Session};
use brokerlab::sim::{FaultKind, FaultSpec, NodeId, SimTime, Target};
use brokerlab::tui::{App, Overlay, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

pub(crate) fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

fn press(app: &mut App, keys: &[KeyEvent]) {
    for k in keys {
        app.on_key(*k);
    }
}

pub(crate) fn open(name: &str) -> App {
    let (label, sc) = scenario::load(name).expect("bundled scenario");
    let seed = sc.scenario.seed;
    App::with_session(Session::new(label, sc, seed))
}

pub fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    t.backend().buffer().clone()
}

/// The frame as plain text, one line per row, trailing spaces trimmed.
pub fn text(buf: &Buffer) -> String {
    let w = buf.area.width as usize;
    let mut out = String::new();
    for row in buf.content.chunks(w) {
        let mut line = String::new();
        let mut skip = 0u16;
        for c in row {
            if skip == 0 {
                line.push_str(c.symbol());
            }
            skip = skip.max(unicode_cell_width(c)).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn unicode_cell_width(c: &ratatui::buffer::Cell) -> u16 {
    ratatui::text::Span::raw(c.symbol()).width() as u16
}

pub(crate) fn frame(app: &App, w: u16, h: u16) -> String {
    text(&draw(app, w, h))
}

macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

/// Jump with `]` until the last step logged a line of this kind.
fn jump_until(app: &mut App, kind: LogKind) {
    for _ in 0..200 {
        press(app, &[ch(']')]);
        let s = app.session.as_ref().unwrap();
        let now = s.events();
        if s.log
            .iter()
            .rev()
            .take_while(|l| l.event == now)
            .any(|l| l.kind == kind)
        {
            return;
        }
    }
    panic!("never reached a {kind:?} line");
}

/// Step with `→` until the newest log line matches.
fn step_until(app: &mut App, what: impl Fn(&str) -> bool) {
    for _ in 0..2000 {
        press(app, &[key(KeyCode::Right)]);
        let s = app.session.as_ref().unwrap();
        if s.log.back().is_some_and(|l| what(&l.text)) {
            return;
        }
    }
    panic!("never reached the wanted line");
}

#[test]
fn picker() {
    let mut app = App::with_picker();
    let small = frame(&app, 80, 24);
    snap!("tui__picker_80x24", small);
    // At 80 columns the tags line ends with how many did not fit, never inside a tag, and
    // the key hint still reaches `? help`.
    let tags = small
        .lines()
        .find(|l| l.contains(" tags ‹"))
        .expect("a tags line");
    assert_eq!(
        tags.matches('‹').count(),
        tags.matches('›').count(),
        "{tags}"
    );
    assert!(tags.trim_end().ends_with("more"), "{tags}");
    assert!(
        small.lines().any(|l| l.trim_end().ends_with("? help")),
        "{small}"
    );
    press(&mut app, &[key(KeyCode::Down), key(KeyCode::Down)]);
    snap!("tui__picker_200x60", frame(&app, 200, 60));
    press(&mut app, &[key(KeyCode::Enter)]);
    assert!(app.session.is_some(), "Enter opens the selected scenario");
    press(&mut app, &[ch('q')]);
    assert!(app.session.is_none(), "q goes back to the list");
    assert!(!app.quit);
    press(&mut app, &[ch('q')]);
    assert!(app.quit);
}

#[test]
fn acks1_truncation_80x24_and_200x60() {
    let mut app = open("acks1-leader-failover");
    snap!("tui__acks1_start_80x24", frame(&app, 80, 24));
    jump_until(&mut app, LogKind::Truncation);
    snap!("tui__acks1_truncation_80x24", frame(&app, 80, 24));
    snap!("tui__acks1_truncation_200x60", frame(&app, 200, 60));
}

fn session(app: &App) -> &Session {
    app.session.as_ref().expect("a scenario is open")
}

fn run_to_end(app: &mut App) {
    let s = app.session.as_mut().unwrap();
    while s.advance_to(SimTime(u64::MAX), 1_000_000) {}
}

/// Everything a view could show, and the simulation state behind it.
fn fingerprint(s: &Session) -> String {
    let sim = &s.sim;
    let log: Vec<&str> = s.log.iter().map(|l| l.text.as_str()).collect();
    format!(
        "{} {:?} {:?} {} {:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}",
        s.events(),
        s.now(),
        sim.phase(),
        s.digest.hex(),
        s.outcome(),
        sim.partitions(),
        sim.brokers(),
        sim.controller(),
        sim.producers(),
        sim.groups(),
        sim.consumers(),
        sim.nodes(),
        s.applied,
        s.notables,
        log.join("\n")
    )
}

#[test]
fn step_back_equals_going_forward() {
    let (label, sc) = scenario::load("acks1-leader-failover").unwrap();
    let mut s = Session::new(label, sc, 7);
    // Forward, remembering the state after every event.
    let mut states = vec![fingerprint(&s)];
    for _ in 0..1500 {
        if !s.step() {
            break;
        }
        states.push(fingerprint(&s));
    }
    let end = s.events() as usize;
    assert!(end > 500, "the run is long enough to cross checkpoints");
    // Back one event at a time over a stretch, and some far jumps.
    for k in (end - 40..end).rev() {
        assert!(s.step_back());
        assert_eq!(
            fingerprint(&s),
            states[k],
            "after stepping back to event {k}"
        );
    }
    for k in [3usize, 0, 250, 1, end - 1] {
        s.rewind_to(k as u64);
        assert_eq!(fingerprint(&s), states[k], "after rewinding to event {k}");
    }
    // Going forward again from a rewound state reaches the same place.
    s.rewind_to(100);
    for _ in 100..end {
        s.step();
    }
    assert_eq!(fingerprint(&s), states[end]);
}

/// The same at a larger size: a benchmark-shaped run over dozens of checkpoints, whose
/// grow-only tables are shared between the live state and the checkpoints.
#[test]
fn step_back_equals_going_forward_over_many_checkpoints() {
    let opts = brokerlab::bench::BenchOptions {
        messages: 20_000,
        brokers: 4,
        partitions: 8,
        seed: 3,
    };
    let mut s = Session::new("bench", brokerlab::bench::large_scenario(&opts), opts.seed);
    // Dozens of checkpoints on a small run: more than its memory budget would keep.
    s.unbudgeted_checkpoints();
    let marks: Vec<u64> = vec![0, 1999, 2000, 2001, 17_777, 30_000, 41_999, 48_000];
    let mut states = Vec::new();
    for &m in &marks {
        s.rewind_to(m);
        assert_eq!(s.events(), m, "the run lasts past event {m}");
        states.push(fingerprint(&s));
    }
    // Far jumps in both directions, then single steps back across a checkpoint boundary.
    for i in [5usize, 1, 7, 3, 0, 6, 2, 4] {
        s.rewind_to(marks[i]);
        assert_eq!(
            without_log(&fingerprint(&s)),
            without_log(&states[i]),
            "after rewinding to event {}",
            marks[i]
        );
    }
    s.rewind_to(2001);
    assert!(s.step_back() && s.step_back());
    assert_eq!(
        without_log(&fingerprint(&s)),
        without_log(&states[1]),
        "two steps back from 2001"
    );
    s.rewind_to(48_000);
    assert_eq!(
        without_log(&fingerprint(&s)),
        without_log(&states[7]),
        "forward again after stepping back"
    );
}

/// A fingerprint without the event log's lines: the log keeps only the newest
/// `LOG_CAPACITY` lines, so after a long run a far jump back finds the older ones gone (the
/// views say so; the simulation, checker and applications must still match exactly).
fn without_log(fingerprint: &str) -> String {
    fingerprint.lines().take(10).collect::<Vec<_>>().join("\n")
}

#[test]
fn step_back_replays_live_faults() {
    let (label, sc) = scenario::load("acks-all-leader-failover").unwrap();
    let mut s = Session::new(label, sc.clone(), sc.scenario.seed);
    while s.now() < SimTime::from_ms(1200) {
        s.step();
    }
    let f = FaultSpec {
        at: SimTime::ZERO,
        kind: FaultKind::Crash(Target::Node(NodeId(2))),
    };
    let at = s.events();
    s.inject(f).unwrap();
    assert!(s.log.iter().any(|l| l.text.contains("broker-3 crashes")));
    for _ in 0..400 {
        s.step();
    }
    let forward = fingerprint(&s);
    let end = s.events();
    // Back to before the injection, then forward again: the fault is re-injected.
    s.rewind_to(at - 5);
    assert!(!s.log.iter().any(|l| l.text.contains("broker-3 crashes")));
    while s.events() < end {
        s.step();
    }
    assert_eq!(fingerprint(&s), forward);
    // And step back across it one event at a time.
    s.rewind_to(at + 3);
    let mid = fingerprint(&s);
    s.step();
    s.step_back();
    assert_eq!(fingerprint(&s), mid);
    // The saved session is a valid scenario with the fault in it.
    let text = s.to_toml().unwrap();
    let saved = scenario::parse("session.toml", &text).expect("saved session parses");
    let last = saved.faults.last().unwrap();
    assert_eq!(last.action, FaultAction::Crash);
    assert_eq!(last.target.as_deref(), Some("broker-3"));
    assert_eq!(last.at_ms, 1200);
    assert!(
        saved.expect.is_none(),
        "the original [expect] no longer applies"
    );
    let r = report::run("session.toml", &saved, saved.scenario.seed, |_, _| {});
    assert!(r.events > 0);
}

#[test]
fn step_back_in_the_app_shows_the_forward_frame() {
    let mut app = open("acks1-leader-failover");
    let mut frames = Vec::new();
    for _ in 0..30 {
        press(&mut app, &[key(KeyCode::Right)]);
        frames.push((session(&app).events(), frame(&app, 80, 24)));
    }
    for i in (0..29).rev() {
        // `←` undoes exactly what `→` did.
        press(&mut app, &[key(KeyCode::Left)]);
        assert_eq!(session(&app).events(), frames[i].0);
        assert_eq!(frame(&app, 80, 24), frames[i].1, "frame {i}");
    }
    snap!("tui__acks1_after_stepping_back_80x24", frame(&app, 80, 24));
}

#[test]
fn notable_jumps_go_both_ways() {
    let mut app = open("acks1-leader-failover");
    press(&mut app, &[ch(']'), ch(']'), ch(']')]);
    let third = frame(&app, 80, 24);
    press(&mut app, &[ch(']'), ch('[')]);
    assert_eq!(frame(&app, 80, 24), third);
}

#[test]
fn fault_menu_injects_and_records() {
    let mut app = open("acks1-leader-failover");
    press(&mut app, &[ch(']')]);
    press(&mut app, &[ch('f')]);
    assert!(matches!(app.overlay, Some(Overlay::Faults(_))));
    snap!("tui__fault_menu_80x24", frame(&app, 80, 24));
    // The first item crashes the selected partition's leader.
    press(&mut app, &[key(KeyCode::Enter)]);
    assert!(app.overlay.is_none());
    let s = session(&app);
    assert_eq!(s.live_faults.len(), 1);
    assert_eq!(
        s.live_faults[0].fault.target.as_deref(),
        Some("leader:orders/0")
    );
    assert!(s.log.iter().any(|l| l.text.contains("broker-1 crashes")));
    snap!("tui__after_injected_crash_80x24", frame(&app, 80, 24));
    // Esc closes the menu without injecting.
    press(&mut app, &[ch('f'), key(KeyCode::Down), key(KeyCode::Esc)]);
    assert!(app.overlay.is_none());
    assert_eq!(session(&app).live_faults.len(), 1);
}

#[test]
fn save_writes_a_scenario_file() {
    let tmp = TempDir::new("tui");
    let dir = tmp.path().to_path_buf();
    let mut app = open("acks1-leader-failover");
    app.save_dir = dir.clone();
    press(&mut app, &[ch(']'), ch('f'), key(KeyCode::Enter), ch('s')]);
    let path = dir.join("acks1-leader-failover-session.toml");
    let status = app.status.clone().unwrap();
    assert!(
        status.contains("acks1-leader-failover-session.toml"),
        "{status}"
    );
    let (_, saved) = scenario::load(path.to_str().unwrap()).expect("saved file loads");
    assert_eq!(saved.faults.len(), 5);
}

#[test]
fn help_lists_every_key() {
    let mut app = open("acks1-leader-failover");
    press(&mut app, &[ch('?')]);
    let f = frame(&app, 80, 24);
    snap!("tui__help_80x24", f);
    // Each key stands at the start of its own row, followed by what it does.
    let wide = frame(&app, 120, 40);
    for (keys, does) in [
        ("space", "play / pause"),
        ("→  n", "step: run to the next event"),
        ("←  b", "step back to the previous one"),
        ("]  [", "jump to the next / previous notable event"),
        ("+  -", "playback speed"),
        ("f", "fault menu: inject a fault now"),
        ("s", "save the session"),
        ("r", "restart from time 0"),
        ("Tab  ↑ ↓", "select a partition"),
        ("PgUp PgDn", "scroll the event log"),
        ("d", "sequence diagram"),
        ("h", "diagram: show/hide heartbeats"),
        ("o", "order view"),
        ("c", "compare: guarantee presets side by side"),
        ("?  g", "this help; g here: the glossary"),
        ("q  Esc", "quit"),
    ] {
        let row = format!("│ {keys:<12}{does}");
        let described = wide.lines().any(|l| l.contains(&row));
        assert!(described, "help has a row `{keys}  {does}…`:\n{wide}");
    }
    // Every row whole, even at 80×24: none runs past the box's border.
    for (keys, does) in brokerlab::tui::help::KEYS {
        let row = format!("│ {keys:<12}{does}");
        assert!(
            f.lines().any(|l| l.contains(&row)),
            "help shows `{keys}  {does}` whole at 80×24:\n{f}"
        );
    }
    press(&mut app, &[ch('x')]);
    assert!(app.overlay.is_none(), "any key closes help");
}

#[test]
fn sequence_diagram() {
    let mut app = open("acks1-leader-failover");
    jump_until(&mut app, LogKind::Election);
    press(&mut app, &[ch('d')]);
    assert_eq!(app.view, View::Diagram);
    snap!("tui__diagram_80x24", frame(&app, 80, 24));
    snap!("tui__diagram_200x60", frame(&app, 200, 60));
    let without = frame(&app, 120, 30);
    press(&mut app, &[ch('h')]);
    assert_ne!(frame(&app, 120, 30), without, "h shows the heartbeats");
    press(&mut app, &[key(KeyCode::Up), key(KeyCode::Up)]);
    assert_eq!(app.diagram_scroll, 2);
    press(&mut app, &[ch('d')]);
    assert_eq!(app.view, View::Main);
}

#[test]
fn order_view_shows_inversions_and_duplicates() {
    let mut app = open("retries-reorder");
    run_to_end(&mut app);
    press(&mut app, &[ch('o')]);
    let buf = draw(&app, 80, 24);
    snap!("tui__order_retries_reorder_80x24", text(&buf));
    assert!(
        buf.content.iter().any(|c| c.bg == Color::Magenta),
        "an inversion is highlighted"
    );
    // Colour is not the only sign: each kind of cell has its own glyph.
    let glyph_before_digit = |t: &str, g: char| {
        t.lines().skip(3).any(|l| {
            l.chars()
                .zip(l.chars().skip(1))
                .any(|(a, b)| a == g && b.is_ascii_digit())
        })
    };
    let t = text(&buf);
    assert!(
        glyph_before_digit(&t, '<'),
        "a reordered cell reads <n:\n{t}"
    );
    assert!(!glyph_before_digit(&t, '+'), "no duplicate here:\n{t}");
    let mut app = open("ack-loss-duplicates");
    run_to_end(&mut app);
    press(&mut app, &[ch('o')]);
    let buf = draw(&app, 80, 24);
    snap!("tui__order_ack_loss_duplicates_80x24", text(&buf));
    assert!(
        buf.content.iter().any(|c| c.bg == Color::Yellow),
        "a duplicate is highlighted"
    );
    let t = text(&buf);
    assert!(glyph_before_digit(&t, '+'), "a duplicate reads +n:\n{t}");
}

#[test]
fn finished_runs_show_the_final_verdict() {
    let mut app = open("acks1-leader-failover");
    run_to_end(&mut app);
    let f = frame(&app, 80, 24);
    snap!("tui__acks1_finished_80x24", f.clone());
    assert!(f.contains("verdict at-most-once"));
    assert!(f.contains("finished"));
}

#[test]
fn other_scenarios_at_notable_moments() {
    let mut app = open("min-insync-not-enough-replicas");
    step_until(&mut app, |l| l.contains("NOT_ENOUGH_REPLICAS"));
    snap!("tui__min_insync_error_80x24", frame(&app, 80, 24));
    let mut app = open("consumer-crash-after-process");
    jump_until(&mut app, LogKind::Fault);
    jump_until(&mut app, LogKind::Rebalance);
    snap!("tui__consumer_crash_rebalance_200x60", frame(&app, 200, 60));
}

#[test]
fn playback_advances_with_real_time_and_speed() {
    let mut app = open("acks1-leader-failover");
    assert_eq!(app.poll_timeout(), None, "paused: block on input");
    press(&mut app, &[ch(' ')]);
    assert!(app.playing);
    assert!(app.poll_timeout().is_some());
    app.tick(Duration::from_millis(1500));
    let t = session(&app).now();
    assert!(
        t <= SimTime::from_ms(1500) && t > SimTime::from_ms(1000),
        "{t:?}"
    );
    press(&mut app, &[ch('+'), ch('+')]);
    app.tick(Duration::from_millis(1000));
    assert!(session(&app).now() > SimTime::from_ms(5000));
    press(&mut app, &[ch(' ')]);
    assert!(!app.playing);
    assert!(!app.tick(Duration::from_secs(10)), "paused: nothing moves");
}

#[test]
fn the_loop_runs_on_a_test_backend() {
    let mut app = App::with_picker();
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut script = vec![
        Event::Key(key(KeyCode::Enter)),
        Event::Key(ch(']')),
        Event::Key(ch(' ')),
        Event::Key(ch(' ')),
        Event::Key(ch('q')),
        Event::Key(ch('q')),
    ]
    .into_iter();
    let mut input = |_t: Option<Duration>| Ok(script.next());
    brokerlab::tui::run_loop(&mut term, &mut app, &mut input).unwrap();
    assert!(app.quit);
}

/// Transactions are visible: the LSO held back by an open transaction, and each transactional
/// producer's epoch and state.
#[test]
fn open_transactions_and_the_lso_are_shown() {
    let mut app = open("txn-open-transaction-holds-lso");
    // Once a plain producer has written behind the open transaction, the LSO lags the HW.
    step_until(&mut app, |line| line.contains("appends web#"));
    let f = frame(&app, 200, 60);
    assert!(f.contains("open txn"), "{f}");
    // ledger crashed mid-transaction: it says so, and its reset client's state ("initializing")
    // is not passed off as the transaction's.
    let ledger = f.lines().find(|l| l.starts_with("ledger")).unwrap();
    assert!(ledger.contains("✗ crashed"), "{ledger}");
    assert!(!f.contains("initializing"), "{f}");
    let s = session(&app);
    let r = s
        .sim
        .replicas(brokerlab::sim::PartitionId(0))
        .find(|r| r.is_leader())
        .unwrap();
    assert!(!r.ongoing_txns().is_empty());
    assert!(f.contains(&format!("LSO {}", r.lso())), "{f}");
}

#[test]
fn the_inspector_tells_a_truncated_messages_life_and_goes_there() {
    let mut app = open("acks1-leader-failover");
    jump_until(&mut app, LogKind::Truncation);
    press(&mut app, &[ch('i')]);
    let menu = frame(&app, 100, 30);
    snap!("tui__inspect_menu_100x30", menu.clone());
    // The acknowledged records that were just truncated come first.
    let first = menu.lines().find(|l| l.contains('▸')).expect("a selection");
    assert!(first.contains("acked, truncated"), "{menu}");
    let Some(Overlay::Inspect(m)) = &app.overlay else {
        panic!("i opens the inspector menu");
    };
    let seven = m
        .items
        .iter()
        .position(|i| i.label.contains("checkout#7"))
        .expect("checkout#7 is offered");
    for _ in 0..seven {
        press(&mut app, &[key(KeyCode::Down)]);
    }
    press(&mut app, &[key(KeyCode::Enter)]);
    assert_eq!(app.view, View::Inspect);
    let life = frame(&app, 100, 30);
    snap!("tui__inspect_life_100x30", life.clone());
    let at = |needle: &str| {
        life.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{life}"))
    };
    assert!(at("appends checkout#7") < at("acknowledged at offset 6"));
    assert!(at("broker-1 crashes") < at("leader is now broker-2"));
    assert!(at("leader is now broker-2") < at("broker-1 truncates"));
    assert!(life.contains("caused by #"), "{life}");
    // Up to the crash, Enter: the run rewinds to that moment.
    let ins = app.inspector.as_ref().unwrap();
    let crash = ins
        .steps
        .iter()
        .position(|s| s.step.text.contains("crashes"))
        .unwrap();
    let ups = ins.selected - crash;
    assert!(
        ins.steps[crash].because.contains("fault"),
        "{:?}",
        ins.steps[crash]
    );
    for _ in 0..ups {
        press(&mut app, &[key(KeyCode::Up)]);
    }
    press(&mut app, &[key(KeyCode::Enter)]);
    assert_eq!(app.view, View::Main);
    let s = app.session.as_ref().unwrap();
    assert_eq!(s.now().as_ms(), 1800, "at the crash");
    assert!(frame(&app, 100, 30).contains("broker-1 crashes"));
}

#[test]
fn latest_start_warning_and_fates_in_the_outcome_panel() {
    let app = open("tests/fixtures/valid/defaults-latest.toml");
    let f = frame(&app, 80, 24);
    assert!(
        f.contains("⚠ billing starts at latest"),
        "the event log opens with the warning:\n{f}"
    );
    snap!("tui__defaults_latest_start_80x24", f);
    let mut app = app;
    run_to_end(&mut app);
    let f = frame(&app, 80, 24);
    // The fates add up to the 100 records, every state named in words.
    assert!(
        f.contains("100 = applied 39 dup 0 lost 61 unseen 0 failed 0 aborted 0 dead 0"),
        "{f}"
    );
    assert!(f.contains("(lost: skipped 61)"), "{f}");
    snap!("tui__defaults_latest_finished_80x24", f);
    // A bundled scenario with earliest has no warning.
    let s = open("tour");
    assert!(
        !session(&s)
            .log
            .iter()
            .any(|l| l.text.contains("starts at latest"))
    );
}

#[test]
fn a_loss_is_flagged_at_the_election_that_makes_it_certain() {
    let mut app = open("acks1-leader-failover");
    jump_until(&mut app, LogKind::Election);
    let s = app.session.as_ref().unwrap();
    let now = s.events();
    let certain = s
        .log
        .iter()
        .find(|l| l.text.contains("LOSS NOW CERTAIN"))
        .expect("flagged at the election");
    assert_eq!(certain.event, now, "in the same step as the election");
    assert!(
        certain.text.contains("checkout#7, checkout#8"),
        "{}",
        certain.text
    );
    // Nothing was truncated yet: the flag comes before the truncation that confirms it.
    assert!(s.truncations.is_empty());
}

#[test]
fn the_compare_view_shows_each_presets_settings_and_opens_one() {
    let mut app = open("acks1-leader-failover");
    press(&mut app, &[ch('c')]);
    assert_eq!(app.view, View::Compare);
    let f = frame(&app, 120, 40);
    let producer_row = f
        .lines()
        .find(|l| l.trim_start().starts_with("checkout"))
        .unwrap_or_else(|| panic!("a settings row for the producer:\n{f}"));
    assert!(
        producer_row.contains("acks=0") || producer_row.contains("acks=1"),
        "{producer_row}"
    );
    assert!(producer_row.contains("acks=all idem"), "{producer_row}");
    assert!(
        f.contains("before-proc") && f.contains("after-proc rc dedup"),
        "{f}"
    );
    // `3` opens the exactly-once preset's run as the main run.
    press(&mut app, &[ch('3')]);
    assert_eq!(app.view, View::Main);
    let s = app.session.as_ref().unwrap();
    assert_eq!(s.scenario.producers[0].acks.name(), "all");
    assert!(app.status.as_deref().unwrap_or("").contains("exactly-once"));
    run_to_end(&mut app);
    let s = app.session.as_ref().unwrap();
    assert_eq!(
        s.outcome().lost,
        0,
        "the exactly-once preset loses nothing here"
    );
}

#[test]
fn each_group_line_names_its_aborted_reads() {
    let mut app = open("txn-read-committed");
    run_to_end(&mut app);
    let f = frame(&app, 100, 30);
    let dashboard = f
        .lines()
        .find(|l| l.trim_start().starts_with("dashboard") && l.contains("applied"))
        .unwrap_or_else(|| panic!("a line for dashboard:\n{f}"));
    assert!(dashboard.contains("aborted-read 3"), "{dashboard}");
    let billing = f
        .lines()
        .find(|l| l.trim_start().starts_with("billing") && l.contains("applied"))
        .unwrap();
    assert!(
        billing.contains("aborted 3") && !billing.contains("aborted-read"),
        "{billing}"
    );
    // The dashboard's line is the longest; its verdict wraps onto the next line, not off the
    // panel's edge.
    let lines: Vec<&str> = f.lines().collect();
    let at = lines.iter().position(|l| *l == dashboard).unwrap();
    let verdict = |l: &str| l.contains("exactly-once") || l.contains("at-least-once");
    assert!(
        verdict(dashboard) || verdict(lines[at + 1]),
        "the dashboard's verdict is shown:\n{f}"
    );
}

/// From a paused position between two log lines (as after stopping playback), five `→` and five
/// `←` come back to exactly that position, every state on the way back equal to the one on the
/// way forward.
#[test]
fn stepping_forward_then_back_returns_to_a_position_between_log_lines() {
    let (label, sc) = scenario::load("acks1-leader-failover").unwrap();
    let mut s = Session::new(label, sc, 7);
    // Step single events until the last one wrote no log line.
    loop {
        assert!(s.step());
        let last_logged = s.log.back().map(|l| l.event);
        if s.events() > 50 && last_logged != Some(s.events()) {
            break;
        }
    }
    let start = s.events();
    let before = fingerprint(&s);
    let mut forward = Vec::new();
    for _ in 0..5 {
        assert!(s.step_visible() > 0);
        forward.push(fingerprint(&s));
    }
    for i in (0..4).rev() {
        assert!(s.step_back_visible());
        assert_eq!(fingerprint(&s), forward[i], "after {} steps back", 4 - i);
    }
    assert!(s.step_back_visible());
    assert_eq!(s.events(), start, "back where the steps started");
    assert_eq!(fingerprint(&s), before);
}

/// The cluster panel shows a controlled shutdown under way, then done, and the ELR.
#[test]
fn the_cluster_panel_shows_stopping_brokers_and_the_elr() {
    let mut app = open("elr-last-replica-standing");
    let mut step_until_frame = |what: &str| {
        for _ in 0..5000 {
            press(&mut app, &[key(KeyCode::Right)]);
            let f = frame(&app, 200, 60);
            if f.contains(what) {
                return f;
            }
        }
        panic!("never showed {what}");
    };
    let f = step_until_frame("broker-2 stopping");
    assert!(!f.contains("broker-1 stopping"), "{f}");
    let f = step_until_frame("ELR [broker-2]");
    assert!(f.contains("ISR [broker-1]"), "{f}");
    step_until_frame("broker-2 stopped");
}

/// KIP-429 in the groups panel: while the group rebalances cooperatively a member's partitions
/// are marked in words (`consuming` through the rebalance, `revoking`), and the partition the
/// coordinator withholds is listed under the group.
#[test]
fn the_groups_panel_shows_a_cooperative_rebalance() {
    let mut app = open("cooperative-rebalance");
    step_until(&mut app, |l| l.contains("withheld until"));
    let f = frame(&app, 200, 60);
    assert!(f.contains("withheld orders/2"), "{f}");
    assert!(f.contains("▶ consuming"), "{f}");
    // Until consumer-1 revokes it (its next poll, after its batch), orders/2 is marked as
    // being revoked.
    let revoking = |app: &App| {
        let f = frame(app, 200, 60);
        f.lines()
            .find(|l| l.contains("orders/2") && l.contains("position"))
            .is_some_and(|l| l.contains("⇠ revoking"))
    };
    let revoked = |app: &App| {
        let s = app.session.as_ref().unwrap();
        s.log
            .iter()
            .any(|l| l.text.contains("revokes only [orders/2]"))
    };
    while !revoking(&app) {
        assert!(
            !revoked(&app),
            "orders/2 was revoked without being marked as revoking"
        );
        press(&mut app, &[key(KeyCode::Right)]);
    }
}

/// KIP-848 in the groups panel: the group epoch in the header, each member's epoch, and while
/// a partition moves, `revoking` at its old owner and `pending` at its new one.
#[test]
fn the_groups_panel_shows_consumer_protocol_epochs() {
    let mut app = open("kip848-consumer-protocol");
    step_until(&mut app, |l| {
        l.contains("asks billing/consumer-1 to revoke [orders/1]")
    });
    let f = frame(&app, 200, 60);
    assert!(f.contains("group epoch 3"), "{f}");
    assert!(
        f.contains("epoch 2"),
        "consumer-1 keeps its epoch while it revokes: {f}"
    );
    // consumer-1 still reads orders/1 while it revokes it; consumer-3 waits for it.
    assert!(
        f.lines()
            .any(|l| l.contains("orders/1 position") && l.contains("⇠ revoking")),
        "{f}"
    );
    assert!(
        f.lines()
            .any(|l| l.contains("consumer-3 active   epoch 3") && l.contains("… pending")),
        "{f}"
    );
}

/// A follower whose whole log is left of the window (the window follows the newest log) says
/// how far behind it is, at every width, instead of showing an empty row.
#[test]
fn a_follower_left_of_the_window_says_how_far_behind_it_is() {
    let mut app = open("slow-follower-shrinks-isr");
    step_until(&mut app, |line| line.contains("appends checkout#31"));
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        let f = frame(&app, w, h);
        let b3 = f
            .lines()
            .find(|l| l.contains("b3 ") || l.contains("broker-3 ") && l.contains("LEO"))
            .unwrap_or_else(|| panic!("broker-3's row at {w}x{h}:\n{f}"));
        // broker-3 (paused) has offsets 0-4; the leader is at 31.
        assert!(
            b3.contains("26 records behind") || b3.contains("(26 behind)"),
            "{w}x{h}: {b3}"
        );
        assert!(b3.contains("LEO 5"), "{b3}");
    }
}

#[test]
fn narrow_group_lines_wrap_and_keep_every_partitions_lag() {
    // At 100×30 the producers-and-groups panel is one line per group: a member with four
    // partitions must wrap onto a second line rather than cut orders/2 and orders/3.
    let mut app = open("backpressure-scale-out");
    for _ in 0..6 {
        press(&mut app, &[ch(']')]);
    }
    let f = frame(&app, 100, 30);
    for p in 0..4 {
        assert!(
            f.contains(&format!("orders/{p} pos ")),
            "orders/{p}'s position is shown:\n{f}"
        );
    }
    assert!(f.lines().all(|l| !l.ends_with(" ord")), "{f}");
}

#[test]
fn the_event_log_at_120x40_fits_sends_and_acknowledgements_on_one_line() {
    let mut app = open("acks1-leader-failover");
    step_until(&mut app, |l| l.contains("acknowledged at offset 6"));
    let f = frame(&app, 120, 40);
    // Found whole on one row only if it did not wrap (the log's column is 56 cells wide).
    assert!(
        f.lines()
            .any(|l| l.contains("checkout ✓ checkout#7 acknowledged at offset 6")),
        "the acknowledgement is on one line:\n{f}"
    );
}

#[test]
fn share_group_panel_shows_the_window_and_each_records_state() {
    let mut app = open("share-group-lock-expiry");
    step_until(&mut app, |l| l.contains("consumer-1 crashes"));
    let f = frame(&app, 120, 40);
    snap!("tui__share_crash_120x40", f.clone());
    assert!(f.contains("share group (KIP-932)"), "{f}");
    assert!(f.contains("SPSO 10 SPEO"), "{f}");
    // The dead member's records: glyph, word, delivery count, holder, lock time left.
    assert!(f.contains("◐10 #11 acquired ×1 consumer-1 14.5s"), "{f}");
    step_until(&mut app, |l| l.contains("acquisition lock on"));
    let f = frame(&app, 120, 40);
    assert!(
        f.contains("○10 #11 available ×1") || f.contains("◐10 #11 acquired ×2"),
        "{f}"
    );
    // The narrow layout shows the window first, and keeps the glyph and the word.
    let mut app = open("share-group-lock-expiry");
    step_until(&mut app, |l| l.contains("consumer-1 crashes"));
    let f = frame(&app, 80, 24);
    snap!("tui__share_crash_80x24", f.clone());
    assert!(f.contains("SPSO 10 SPEO"), "{f}");
    assert!(f.contains("◐10 #11 acquired ×1 c1 14.5s"), "{f}");
}

/// A live fault makes the run depart from the script: the scenario notes that come after it
/// were written for the scripted run, so the event log dims them and says so in words; notes
/// from before it stay as they were, and stepping back to before it shows them all as usual.
#[test]
fn notes_after_a_live_fault_are_marked_as_written_for_the_scripted_run() {
    let mut app = open("tour");
    let marked = |app: &App| frame(app, 120, 40).contains("[scripted run]");
    while session(&app).now() < SimTime::from_ms(2000) {
        press(&mut app, &[key(KeyCode::Right)]);
    }
    assert!(!marked(&app), "no live fault yet");
    // Crash broker-1, the leader, live at 2 s.
    let crash = FaultSpec {
        at: SimTime::ZERO,
        kind: FaultKind::Crash(Target::Node(NodeId(0))),
    };
    app.session.as_mut().unwrap().inject(crash).unwrap();
    let at = session(&app)
        .departed_at()
        .expect("a live fault was injected");
    let steady = |line: &brokerlab::session::LogLine| line.text.contains("Steady state");
    let forward_to_steady = |app: &mut App| {
        for _ in 0..20_000 {
            if session(app).log.iter().any(steady) {
                return;
            }
            press(app, &[key(KeyCode::Right)]);
        }
        panic!("the 5 s note never came");
    };
    forward_to_steady(&mut app);
    let s = session(&app);
    let departed = s.departed_at();
    for line in s.log.iter().filter(|l| l.kind == LogKind::Narration) {
        // Before the fault: as written; after it: marked.
        assert_eq!(
            Session::written_for_script(line, departed),
            line.event > at,
            "{}",
            line.text
        );
    }
    assert!(
        s.log
            .iter()
            .any(|l| l.text.contains("Welcome!") && l.event <= at)
    );
    let f = frame(&app, 120, 40);
    assert!(f.contains("[scripted run] » Steady state"), "{f}");
    // Dimmed as well as marked in words (colour is never the only signal).
    let buf = draw(&app, 120, 40);
    let (x, y) = (0..buf.area.height)
        .find_map(|y| {
            let row: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            row.find("[scripted run]")
                .map(|i| (row[..i].chars().count() as u16, y))
        })
        .expect("the mark is on screen");
    assert_eq!(buf[(x, y)].fg, Color::DarkGray);
    snap!("tui__scripted_run_notes_80x24", frame(&app, 80, 24));
    // Back to before the fault: nothing is marked; forward again: marked again.
    while session(&app).events() >= at {
        press(&mut app, &[key(KeyCode::Left)]);
    }
    assert!(!marked(&app), "{}", frame(&app, 120, 40));
    forward_to_steady(&mut app);
    assert!(marked(&app));
}

/// The benchmark's generated scenario, small (50 producers, 20 partitions, 5 000 messages, two
/// groups of ten consumers), played 20 000 events in.
fn bench_app() -> App {
    let opts = brokerlab::bench::BenchOptions {
        messages: 5_000,
        brokers: 10,
        partitions: 20,
        seed: 1,
    };
    let sc = brokerlab::bench::large_scenario(&opts);
    let mut app = App::with_session(Session::new("bench", sc, 1));
    app.session.as_mut().unwrap().rewind_to(20_000);
    app
}

/// Fifty producers do not push the consumer groups off the main screen: the producers panel
/// shows the producers that fit, whole, then says how many more there are, and the groups
/// keep their panel, in the wide layout and in the narrow one; at 80×24 the cluster keeps its
/// brokers although the outcome and the clients would fill the screen.
#[test]
fn many_producers_leave_room_for_the_groups() {
    let app = bench_app();
    let producers = app.session.as_ref().unwrap().sim.producers().len();
    assert_eq!(producers, 50, "the bench scenario's producers");
    for (w, h) in [(200, 60), (120, 40), (80, 24)] {
        let screen = frame(&app, w, h);
        let more = screen
            .lines()
            .find_map(|l| {
                let rest = l.trim_start().strip_prefix("… ")?;
                rest.split_once(" more producers")?.0.parse::<usize>().ok()
            })
            .unwrap_or_else(|| panic!("{w}×{h}: no '… N more producers' line:\n{screen}"));
        // Every producer is either shown (its name starts a line) or counted.
        let shown = (1..=producers)
            .filter(|i| {
                let name = format!("producer-{i} ");
                screen.lines().any(|l| l.trim_start().starts_with(&name))
            })
            .count();
        assert!(shown >= 1, "{w}×{h}: no producer shown:\n{screen}");
        assert_eq!(shown + more, producers, "{w}×{h}:\n{screen}");
        // The cluster keeps its brokers' states, and the groups still show.
        assert!(
            screen.contains("─ Cluster ") && screen.contains("● broker-10"),
            "{w}×{h}: the cluster is gone:\n{screen}"
        );
        assert!(
            screen.lines().any(|l| l.starts_with("billing ")),
            "{w}×{h}: the billing group is gone:\n{screen}"
        );
        if w >= 120 {
            assert!(screen.contains("─ Consumer groups "), "{w}×{h}:\n{screen}");
        }
    }
}

/// The order view of a long run with thousands of streams scrolls a row at a time anywhere,
/// and stops at its end however far the user scrolls: it counts rows only as far as the
/// scroll position needs, so this checks that the count it stops at still places the screen.
#[test]
fn order_view_of_a_long_run_scrolls_row_by_row_and_stops_at_its_end() {
    let mut app = bench_app();
    press(&mut app, &[ch('o')]);
    let body = |app: &App| -> Vec<String> {
        // The rows under the view's title (the header, timeline and footer aside).
        frame(app, 120, 40)
            .lines()
            .skip(3)
            .take(35)
            .map(str::to_string)
            .collect()
    };
    let top = body(&app);
    assert!(top.iter().any(|l| l.contains("billing ")), "{top:#?}");
    // The view has about 3 000 rows here.
    for scroll in [1, 200, 1_900] {
        app.order_scroll = scroll;
        let a = body(&app);
        app.order_scroll = scroll + 1;
        let b = body(&app);
        assert_eq!(a[1..], b[..b.len() - 1], "scroll {scroll} → {}", scroll + 1);
    }
    app.order_scroll = 1_000_000_000;
    let end = body(&app);
    app.order_scroll = 1_000_000_007;
    assert_eq!(body(&app), end, "past the end, the view stays at its end");
    assert!(
        end.last().is_some_and(|l| !l.trim().is_empty()),
        "the last row is on screen: {end:#?}"
    );
    assert_ne!(end, top);
}

/// Six partitions and twelve producers at 120×40: the cluster collapses the partitions it
/// does not select to one line each, and the rows it no longer needs go to the producers
/// below it rather than staying blank.
#[test]
fn a_collapsed_cluster_leaves_no_blank_rows_above_the_producers() {
    let text = crate::util::twelve_shops(
        6,
        10,
        5000,
        "\n[[groups]]\nname = \"billing\"\ntopic = \"orders\"\nconsumers = 2\n",
    );
    let sc = scenario::parse("shops.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::with_session(Session::new("shops", sc, 3));
    app.session.as_mut().unwrap().rewind_to(2_000);
    // The cluster's side of the screen down to the producers panel, and the whole screen.
    let above_producers = |app: &App| -> (Vec<String>, String) {
        let screen = frame(app, 120, 40);
        let rows: Vec<String> = screen
            .lines()
            .take_while(|l| !l.starts_with("─ Producers "))
            .map(|l| l.chars().take(62).collect())
            .collect();
        assert!(rows.len() < 40, "no producers panel:\n{screen}");
        (rows, screen)
    };
    let (rows, screen) = above_producers(&app);
    assert!(
        rows.last().is_some_and(|l| l.contains("orders/5")),
        "the last partition's line sits right above the producers:\n{screen}"
    );
    assert!(
        screen.lines().any(|l| l.starts_with("shop-2 ")),
        "a second producer has the rows:\n{screen}"
    );
    // With the last partition selected (shown in full, at the end of the list), still no
    // blank row: its replicas end right above the producers.
    press(&mut app, &[key(KeyCode::Tab); 5]);
    let (rows, screen) = above_producers(&app);
    assert!(
        rows.iter().any(|l| l.starts_with("▸ orders/5")),
        "orders/5 is selected:\n{screen}"
    );
    assert!(
        rows.last().is_some_and(|l| !l.trim().is_empty()),
        "no blank row above the producers:\n{screen}"
    );
}
