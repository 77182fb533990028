//! Predict, then reveal: every bundled quiz is answerable from its own run, every bundled
//! scenario gets automatic questions, the answers agree with the checker's report, `brokerlab
//! quiz` scores piped answers, and the interactive view pauses, takes answers and keeps score.

use std::io::Write as _;
use std::process::{Command, Stdio};

use brokerlab::quiz::play::Phase;
use brokerlab::quiz::{self, AutoKind, Source};
use brokerlab::report;
use brokerlab::scenario::{self, QuizCheck};
use brokerlab::session::Session;
use brokerlab::tui::App;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn bundled() -> Vec<(String, scenario::Scenario)> {
    scenario::bundled()
        .iter()
        .map(|b| {
            let sc = b.parse().expect("bundled scenario parses");
            (b.label(), sc)
        })
        .collect()
}

#[test]
fn every_bundled_quiz_is_answerable_from_its_run() {
    let mut with_quiz = 0;
    for (label, sc) in bundled() {
        if sc.quiz.is_empty() {
            continue;
        }
        with_quiz += 1;
        let q = quiz::build(&label, &sc, sc.scenario.seed, false);
        assert_eq!(q.questions.len(), sc.quiz.len(), "{label}");
        for question in &q.questions {
            let Source::Written(i) = question.source else {
                panic!("{label}: only written questions were asked for");
            };
            assert!(
                question.correct.is_some(),
                "{label} [[quiz]] #{i}: the run's answer `{}` is none of {:?}",
                question.answer,
                question.choices
            );
            let explain = &sc.quiz[i].explain;
            // Each system's own documentation: Kafka's and its KIPs, or the queue system's.
            assert!(
                [
                    "Kafka",
                    "KIP",
                    "RabbitMQ docs",
                    "SQS Developer Guide",
                    "Redis docs"
                ]
                .iter()
                .any(|source| explain.contains(source)),
                "{label} [[quiz]] #{i}: the explanation cites no documented rule: {explain}"
            );
            assert!(
                !question.chain.is_empty(),
                "{label} #{i}: nothing to reveal"
            );
        }
    }
    assert!(
        with_quiz >= 15,
        "only {with_quiz} bundled scenarios carry [[quiz]] questions"
    );
}

#[test]
fn every_bundled_scenario_gets_automatic_questions() {
    for (label, sc) in bundled() {
        let q = quiz::build(&label, &sc, sc.scenario.seed, true);
        let auto: Vec<_> = q.questions.iter().filter(|q| q.is_auto()).collect();
        assert!(!auto.is_empty(), "{label}: no automatic question");
        for a in &auto {
            assert!(
                a.correct.is_some(),
                "{label}: automatic question {:?} has answer `{}` outside {:?}",
                a.source,
                a.answer,
                a.choices
            );
            assert!(
                (2..=6).contains(&a.choices.len()),
                "{label}: {:?}",
                a.choices
            );
        }
        // Asked in order of the run.
        assert!(
            q.questions.windows(2).all(|w| w[0].ask_at <= w[1].ask_at),
            "{label}"
        );
    }
}

/// The automatic questions come from what happened: the election question is asked just before
/// the election, and its answer is the broker the report says was elected.
#[test]
fn automatic_answers_are_the_runs() {
    let (label, sc) = scenario::load("acks1-leader-failover").unwrap();
    let q = quiz::build(&label, &sc, sc.scenario.seed, true);
    let report = report::run_headless(&label, &sc, sc.scenario.seed, |_, _| {});
    let election = q
        .questions
        .iter()
        .find(|q| q.source == Source::Auto(AutoKind::Election))
        .expect("an election question");
    let elected = &report.elections[0];
    assert_eq!(election.answer, elected.leader);
    assert!(
        election.ask_at.as_ms() < elected.at_ms,
        "asked before it happens"
    );
    let verdict = q
        .questions
        .iter()
        .find(|q| q.source == Source::Auto(AutoKind::Verdict))
        .unwrap();
    assert_eq!(verdict.answer, report.outcome.verdict.name());
    let truncation = q
        .questions
        .iter()
        .find(|q| q.source == Source::Auto(AutoKind::Truncation))
        .unwrap();
    assert_eq!(
        truncation.answer,
        report.truncations[0].removed.len().to_string()
    );
    // The reveal walks back from the truncation to the restart that caused it.
    assert!(
        truncation.chain.iter().any(|l| l.contains("restart")),
        "{:?}",
        truncation.chain
    );
}

/// A `count` over all messages is the checker's count, in every bundled scenario and group.
#[test]
fn counted_answers_agree_with_the_report() {
    for (label, sc) in bundled() {
        let a = quiz::Analysis::new(&sc, sc.scenario.seed);
        let report = report::run_headless(&label, &sc, sc.scenario.seed, |_, _| {});
        for (name, g) in &report.groups {
            for (what, want) in [
                ("applied", g.applied),
                ("duplicated", g.duplicated),
                ("lost", g.lost),
                ("acked-lost", g.acked_lost),
                ("skipped", g.lost_by_kind.skipped),
                ("aborted", g.aborted),
                ("reordered", g.reordered),
            ] {
                let check = QuizCheck {
                    count: Some(what.into()),
                    group: Some(name.clone()),
                    ..QuizCheck::default()
                };
                let (got, _) = quiz::written::answer(&a, &check);
                assert_eq!(got, want.to_string(), "{label} {name} {what}");
            }
            let verdict = QuizCheck {
                verdict: Some(name.clone()),
                ..QuizCheck::default()
            };
            assert_eq!(
                quiz::written::answer(&a, &verdict).0,
                g.verdict.name(),
                "{label}"
            );
        }
    }
}

#[test]
fn the_leader_and_partitions_checks_read_the_state_at_a_moment() {
    let (_, sc) = scenario::load("preferred-leader-election").unwrap();
    let a = quiz::Analysis::new(&sc, sc.scenario.seed);
    let leader_at = |ms: u64| {
        let c = QuizCheck {
            leader: Some("orders/0".into()),
            at_ms: Some(ms),
            ..QuizCheck::default()
        };
        quiz::written::answer(&a, &c).0
    };
    assert_eq!(leader_at(1000), "broker-1");
    assert_eq!(leader_at(16000), "broker-2");
    assert_eq!(
        leader_at(25000),
        "broker-1",
        "after the preferred-leader election"
    );
    let (_, sc) = scenario::load("session-timeout-eager-rebalance").unwrap();
    let a = quiz::Analysis::new(&sc, sc.scenario.seed);
    let owns = |ms: u64| {
        let c = QuizCheck {
            partitions: Some("consumer-2".into()),
            at_ms: Some(ms),
            ..QuizCheck::default()
        };
        quiz::written::answer(&a, &c).0
    };
    assert_eq!(owns(5000), "orders/1");
    assert_eq!(owns(25000), "none", "removed after its session timed out");
}

fn quiz_cli(args: &[&str], input: &str) -> (String, Option<i32>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_brokerlab"))
        .arg("quiz")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn the_quiz_command_scores_piped_answers() {
    let (label, sc) = scenario::load("acks1-leader-failover").unwrap();
    let q = quiz::build(&label, &sc, sc.scenario.seed, true);
    // Right on the first question (by letter), wrong on the second (by number), then a line
    // that is no choice (asked again), a skip, and the end of the input.
    let right = q.questions[0].correct.unwrap();
    let wrong = (q.questions[1].correct.unwrap() + 1) % q.questions[1].choices.len();
    let input = format!("{}\n{}\nzz\nx\n", (b'a' + right as u8) as char, wrong + 1);
    let (out, code) = quiz_cli(&["acks1-leader-failover"], &input);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Setup:\n  3 brokers"), "{out}");
    assert!(out.contains(&q.questions[0].question), "{out}");
    assert!(out.contains("  ✓ right: "), "{out}");
    assert!(
        out.contains(&format!("  ✗ wrong: you chose {}) ", wrong + 1)),
        "{out}"
    );
    assert!(out.contains("not a choice of this question"), "{out}");
    assert!(out.contains("  skipped: the answer is"), "{out}");
    assert!(out.contains("Why: "), "{out}");
    assert!(
        out.trim_end()
            .ends_with("Quiz over: score 1/2 right, 1 skipped"),
        "{out}"
    );
}

#[test]
fn the_quiz_command_ends_at_the_end_of_input_and_refuses_bad_scenarios() {
    let (out, code) = quiz_cli(&[], "");
    assert_eq!(code, Some(0));
    assert!(
        out.trim_end().ends_with("Quiz over: score 0/0 right"),
        "{out}"
    );
    let (_, code) = quiz_cli(&["no-such-scenario"], "");
    assert_eq!(code, Some(2));
}

#[test]
fn a_seed_picks_the_librarys_order() {
    let teaching = quiz::text::library_order(None);
    let one = quiz::text::library_order(Some(1));
    assert_eq!(
        one,
        quiz::text::library_order(Some(1)),
        "the same seed, the same order"
    );
    assert_ne!(one, quiz::text::library_order(Some(2)));
    let mut sorted = one.clone();
    sorted.sort();
    let mut all = teaching.clone();
    all.sort();
    assert_eq!(sorted, all, "every scenario once");
    assert_eq!(teaching.len(), scenario::bundled().len());
}

// ----- the interactive view ------------------------------------------------------------------

fn ch(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn frame(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for row in buf.content.chunks(w as usize) {
        out.extend(row.iter().map(|c| c.symbol()));
        out.push('\n');
    }
    out
}

/// Plays (space) until a question opens, with real-time ticks at the fastest speed.
fn play_until_asked(app: &mut App) {
    app.on_key(ch(' '));
    for _ in 0..10_000 {
        if app.quiz.as_ref().is_some_and(|q| q.open()) {
            return;
        }
        app.tick(std::time::Duration::from_millis(50));
        if !app.playing && !app.quiz.as_ref().is_some_and(|q| q.open()) {
            app.on_key(ch(' '));
        }
    }
    panic!("no question opened");
}

#[test]
fn the_tui_pauses_at_each_question_and_keeps_score() {
    let (label, sc) = scenario::load("acks1-leader-failover").unwrap();
    let seed = sc.scenario.seed;
    let mut app = App::with_session(Session::new(label, sc, seed));
    for _ in 0..8 {
        app.on_key(ch('+'));
    }
    assert!(app.quiz.is_none(), "the quiz is off until `Q`");
    app.on_key(ch('Q'));
    assert!(app.quiz.as_ref().is_some_and(|q| q.on && q.total() >= 5));
    play_until_asked(&mut app);
    let play = app.quiz.as_ref().unwrap();
    let q = play.current().unwrap().clone();
    let s = app.session.as_ref().unwrap();
    assert!(!app.playing, "the run pauses");
    assert!(s.now() <= q.ask_at, "not past the moment");
    assert!(
        s.sim.peek_time().is_none_or(|t| t > q.ask_at),
        "every event up to the moment has happened"
    );
    let f = frame(&app, 80, 24);
    assert!(f.contains("Quiz 1/"), "{f}");
    assert!(f.contains(&q.choices[0]), "{f}");
    // Other keys wait for the answer: the run does not move.
    let events = app.session.as_ref().unwrap().events();
    app.on_key(ch(']'));
    assert_eq!(app.session.as_ref().unwrap().events(), events);
    assert!(
        app.status
            .as_deref()
            .is_some_and(|s| s.starts_with("answer first"))
    );
    // A wrong answer, by its number.
    let wrong = (q.correct.unwrap() + 1) % q.choices.len();
    app.on_key(ch((b'1' + wrong as u8) as char));
    let play = app.quiz.as_ref().unwrap();
    assert!(matches!(play.phase, Some(Phase::Revealed(_, Some(_)))));
    assert_eq!((play.score.right, play.score.wrong), (0, 1));
    let f = frame(&app, 80, 24);
    assert!(
        f.contains("✗ wrong") && f.contains("✗ your choice") && f.contains("✓ the answer"),
        "{f}"
    );
    assert!(f.contains("✗1 wrong"), "the score on screen: {f}");
    // Enter goes on; playback resumes, and the next question opens at its moment.
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.quiz.as_ref().is_some_and(|q| !q.open()));
    play_until_asked(&mut app);
    let q2 = app.quiz.as_ref().unwrap().current().unwrap().clone();
    assert!(q2.ask_at >= q.ask_at);
    // A right answer, by its letter.
    app.on_key(ch((b'a' + q2.correct.unwrap() as u8) as char));
    let play = app.quiz.as_ref().unwrap();
    assert_eq!((play.score.right, play.score.wrong), (1, 1));
    let f = frame(&app, 120, 40);
    assert!(f.contains("✓ right"), "{f}");
    assert!(f.contains("Why: "), "{f}");
    // `Q` turns the quiz off: no panel, and playing goes on without pausing.
    app.on_key(ch('Q'));
    assert!(app.quiz.as_ref().is_some_and(|q| !q.on && !q.open()));
    assert!(!frame(&app, 80, 24).contains("Quiz "));
}

#[test]
fn the_tui_quiz_skips_and_turns_on_for_any_scenario() {
    // No [[quiz]] here: off until `Q`, then the automatic questions.
    let (label, sc) = scenario::load("tour").unwrap();
    let seed = sc.scenario.seed;
    let mut app = App::with_session(Session::new(label, sc, seed));
    assert!(app.quiz.is_none());
    app.on_key(ch('Q'));
    assert!(app.quiz.as_ref().is_some_and(|q| q.on && q.total() > 0));
    for _ in 0..8 {
        app.on_key(ch('+'));
    }
    play_until_asked(&mut app);
    app.on_key(ch('x'));
    let play = app.quiz.as_ref().unwrap();
    assert!(matches!(play.phase, Some(Phase::Revealed(_, None))));
    assert_eq!(play.score.skipped, 1);
    assert!(frame(&app, 80, 24).contains("○ skipped"));
}
