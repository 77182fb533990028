//! `brokerlab compare` and `brokerlab sweep`: the presets do what they say, the output a user
//! sees is pinned by snapshots, and a sweep does not depend on the number of jobs.

use crate::util::{brokerlab, stderr, stdout};

use brokerlab::compare::{self, Preset};
use brokerlab::scenario::{self, Acks, CommitMode, IsolationLevel};
use brokerlab::sweep::{self, SweepOptions};

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => "../../snapshots",
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

/// Sweep text without the wall-clock line, which differs from run to run.
fn without_timing(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains(" runs/s "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scenario file in the temp directory (unique per test).
fn temp_scenario(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "brokerlab-compare-sweep-{}-{name}.toml",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write temp scenario");
    path.to_string_lossy().into_owned()
}

// ----- compare -------------------------------------------------------------------------------

#[test]
fn compare_acks1_failover_shows_each_guarantee() {
    let (label, sc) = scenario::load("acks1-leader-failover").unwrap();
    let variants = compare::variants(&label, &sc).expect("every preset is valid");
    let r = compare::compare(&label, &sc, &variants, sc.scenario.seed);
    let [amo, alo, eos] = [&r.outcomes[0], &r.outcomes[1], &r.outcomes[2]];
    assert_eq!(amo.preset, "at-most-once");
    assert!(
        amo.outcome.lost > 0,
        "at-most-once must lose: {:?}",
        amo.outcome
    );
    assert!(amo.outcome.acked_lost > 0, "acks=1 loses acked writes");
    assert_eq!(alo.outcome.lost, 0, "at-least-once must not lose");
    assert_eq!(eos.outcome.lost, 0, "exactly-once must not lose");
    assert_eq!(eos.outcome.duplicated, 0, "exactly-once must not duplicate");
    assert_eq!(eos.outcome.verdict.name(), "exactly-once");
    // The same messages were sent under every preset.
    assert!(
        r.outcomes
            .iter()
            .all(|o| o.outcome.sent == amo.outcome.sent)
    );
    // The matrix agrees with the outcome table.
    let m = &r.matrix[0];
    assert_eq!(m.group, "billing");
    assert_eq!(m.rows.len() as u64, amo.outcome.sent);
    for (k, o) in r.outcomes.iter().enumerate() {
        let lost = m
            .rows
            .iter()
            .filter(|x| x.cells[k].status == "lost")
            .count();
        let dup = m.rows.iter().filter(|x| x.cells[k].applied > 1).count();
        assert_eq!(lost as u64, o.outcome.lost, "{}", o.preset);
        assert_eq!(dup as u64, o.outcome.duplicated, "{}", o.preset);
    }
}

#[test]
fn compare_text_snapshot() {
    let o = brokerlab(&["compare", "acks1-leader-failover"]);
    assert!(o.status.success(), "{}", stderr(&o));
    snapshot("compare__acks1-leader-failover", &stdout(&o));
}

#[test]
fn compare_pipeline_text_snapshot() {
    // Three groups, a transactional processor; 30 messages, so only differing rows are shown.
    let o = brokerlab(&["compare", "eos-pipeline-processor-crash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    snapshot("compare__eos-pipeline-processor-crash", &stdout(&o));
}

#[test]
fn compare_json_has_presets_outcomes_and_matrix() {
    let o = brokerlab(&["compare", "acks1-leader-failover", "--json", "--seed", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    for key in ["scenario", "title", "seed", "presets", "outcomes", "matrix"] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(v["seed"], 7);
    let names: Vec<&str> = v["presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["at-most-once", "at-least-once", "exactly-once"]);
    let p = &v["presets"][0]["producers"]["checkout"];
    for key in [
        "acks",
        "retries",
        "enable_idempotence",
        "max_in_flight",
        "transactional_id",
    ] {
        assert!(
            p.get(key).is_some(),
            "missing presets[0].producers.checkout.{key}"
        );
    }
    assert_eq!(p["acks"], "1");
    assert_eq!(p["retries"], 0);
    let g = &v["presets"][2]["groups"]["billing"];
    assert_eq!(g["commit"], "after-process");
    assert_eq!(g["dedup"], true);
    assert_eq!(g["isolation_level"], "read_committed");
    let out = &v["outcomes"][0];
    assert_eq!(out["preset"], "at-most-once");
    for key in [
        "sent",
        "acked",
        "failed",
        "lost",
        "acked_lost",
        "duplicated",
        "reordered",
        "verdict",
        "groups",
    ] {
        assert!(out["outcome"].get(key).is_some(), "missing outcome.{key}");
    }
    let m = &v["matrix"][0];
    assert_eq!(m["group"], "billing");
    let row = &m["rows"][0];
    assert_eq!(row["message"], "checkout#1");
    assert_eq!(row["cells"].as_array().unwrap().len(), 3);
    for key in ["status", "applied", "acked", "failed"] {
        assert!(row["cells"][0].get(key).is_some(), "missing cell.{key}");
    }
    // Deterministic: the same input gives the same bytes.
    let again = brokerlab(&["compare", "acks1-leader-failover", "--json", "--seed", "7"]);
    assert_eq!(o.stdout, again.stdout);
}

#[test]
fn every_bundled_scenario_compares() {
    for b in scenario::bundled() {
        let sc = b.parse().expect("bundled scenario parses");
        if !sc.cluster.system.is_kafka() {
            // The presets are Kafka's settings: another system's scenario points at --systems.
            let e = compare::variants(&b.label(), &sc).expect_err(b.name);
            assert!(e.contains("--systems"), "{}: {e}", b.name);
            continue;
        }
        let variants = compare::variants(&b.label(), &sc)
            .unwrap_or_else(|e| panic!("{}: a preset makes it invalid:\n{e}", b.name));
        for v in &variants {
            assert!(v.scenario.expect.is_none(), "[expect] kept");
            for p in &v.scenario.producers {
                match v.preset {
                    Preset::AtMostOnce => {
                        assert_eq!(
                            (p.acks, p.retries, p.idempotent()),
                            (Acks::Leader, 0, false)
                        );
                        assert!(p.transactional_id.is_none());
                    }
                    Preset::AtLeastOnce => {
                        assert_eq!(p.acks, Acks::All);
                        assert!(!p.idempotent() && p.retries > 0 && p.max_in_flight == 5);
                        assert!(p.transactional_id.is_none());
                    }
                    Preset::ExactlyOnce => assert!(p.acks == Acks::All && p.idempotent()),
                }
            }
            for g in &v.scenario.groups {
                let want = match (v.preset, g.output_topic.is_some()) {
                    (Preset::AtMostOnce, _) => CommitMode::BeforeProcess,
                    (Preset::AtLeastOnce, _) => CommitMode::AfterProcess,
                    (Preset::ExactlyOnce, true) => CommitMode::Transactional,
                    (Preset::ExactlyOnce, false) => CommitMode::AfterProcess,
                };
                assert_eq!(g.commit, want, "{} {}", b.name, g.name);
                if v.preset == Preset::ExactlyOnce {
                    assert_eq!(g.isolation_level, IsolationLevel::ReadCommitted);
                    assert_eq!(g.dedup, g.output_topic.is_none());
                }
            }
        }
        let r = compare::compare(&b.label(), &sc, &variants, sc.scenario.seed);
        assert_eq!(r.outcomes.len(), 3);
    }
}

#[test]
fn compare_table_overrides_a_preset() {
    let text = r#"
[scenario]
title = "fire and forget"
stop_at_ms = 5000

[[topics]]
name = "t"

[[producers]]
name = "p"
topic = "t"
send = { count = 5, every_ms = 100 }

[[groups]]
name = "g"
topic = "t"
auto_offset_reset = "earliest"

[compare.at-most-once]
acks = "0"

[compare.exactly-once]
dedup = false
isolation_level = "read_uncommitted"
"#;
    let path = temp_scenario("override", text);
    let o = brokerlab(&["compare", &path, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["presets"][0]["producers"]["p"]["acks"], "0");
    assert_eq!(v["presets"][1]["producers"]["p"]["acks"], "all");
    let g = &v["presets"][2]["groups"]["g"];
    assert_eq!(g["dedup"], false);
    assert_eq!(g["isolation_level"], "read_uncommitted");
    // `[compare]` does not change a plain run.
    assert!(brokerlab(&["run", &path, "-q"]).status.success());

    // An override that makes a preset invalid is bad input, and says which preset.
    let bad = temp_scenario(
        "bad-override",
        &text.replace("acks = \"0\"", "max_in_flight = 0"),
    );
    let o = brokerlab(&["compare", &bad]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("at-most-once preset"), "{err}");
    assert!(err.contains("max_in_flight = 0"), "{err}");

    // Unknown fields in `[compare]` are errors, with the file position.
    let typo = temp_scenario(
        "typo-override",
        &text.replace("acks = \"0\"", "ack = \"0\""),
    );
    let o = brokerlab(&["compare", &typo]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unknown field `ack`"), "{err}");
    assert!(err.contains("did you mean `acks`"), "{err}");
    for p in [path, bad, typo] {
        let _ = std::fs::remove_file(p);
    }
}

// ----- sweep ---------------------------------------------------------------------------------

#[test]
fn wilson_interval_known_values() {
    let (lo, hi) = sweep::wilson95(5, 10);
    assert!(
        (lo - 0.237).abs() < 5e-4 && (hi - 0.763).abs() < 5e-4,
        "{lo} {hi}"
    );
    let (lo, hi) = sweep::wilson95(0, 20);
    assert!(lo == 0.0 && (hi - 0.161).abs() < 5e-4, "{lo} {hi}");
    let (lo, hi) = sweep::wilson95(1, 1);
    assert!((lo - 0.207).abs() < 5e-4 && hi == 1.0, "{lo} {hi}");
}

#[test]
fn sweep_text_snapshot() {
    let o = brokerlab(&[
        "sweep",
        "consumer-crash-after-process",
        "--seeds",
        "20",
        "--jobs",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("20 runs in "), "{out}");
    // No progress bar when stderr is not a terminal.
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    snapshot(
        "sweep__consumer-crash-after-process-20",
        &without_timing(&out),
    );
}

#[test]
fn sweep_random_faults_text_snapshot() {
    let o = brokerlab(&[
        "sweep",
        "acks1-leader-failover",
        "--seeds",
        "20",
        "--from",
        "100",
        "--random-faults",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    snapshot(
        "sweep__acks1-leader-failover-random-faults",
        &without_timing(&stdout(&o)),
    );
}

fn sweep_json(args: &[&str]) -> serde_json::Value {
    let o = brokerlab(args);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    for key in ["elapsed_s", "runs_per_second", "jobs"] {
        assert!(v.get(key).is_some(), "missing key {key}");
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

#[test]
fn sweep_results_do_not_depend_on_jobs() {
    for extra in [&[][..], &["--random-faults"][..]] {
        let run = |jobs: &str| {
            let mut args = vec![
                "sweep",
                "consumer-crash-after-process",
                "--seeds",
                "24",
                "--json",
                "--jobs",
                jobs,
            ];
            args.extend(extra);
            sweep_json(&args)
        };
        let one = run("1");
        assert_eq!(one, run("2"), "{extra:?}");
        assert_eq!(one, run("3"), "{extra:?}");
    }
}

#[test]
fn sweep_json_keys() {
    let v = sweep_json(&[
        "sweep",
        "unclean-election-disabled",
        "--seeds",
        "5",
        "--json",
    ]);
    for key in [
        "scenario",
        "title",
        "from",
        "seeds",
        "random_faults",
        "anomalies",
        "verdicts",
        "totals",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    for a in [
        "loss",
        "acked_loss",
        "duplicate",
        "reorder",
        "offline_partition",
    ] {
        let x = &v["anomalies"][a];
        for key in ["runs", "fraction", "wilson95", "first_seed", "command"] {
            assert!(x.get(key).is_some(), "missing anomalies.{a}.{key}");
        }
    }
    // The last in-sync replica dies in every run: the partition goes offline.
    let off = &v["anomalies"]["offline_partition"];
    assert_eq!(off["runs"], 5);
    assert_eq!(off["first_seed"], 1);
    assert_eq!(
        off["command"],
        "brokerlab tui unclean-election-disabled --seed 1"
    );
    assert!(v["anomalies"]["loss"]["first_seed"].is_null());
}

#[test]
fn sweep_seed_matches_a_plain_run_with_that_seed() {
    // The command a sweep prints (`brokerlab tui SCENARIO --seed S`) shows the same run.
    let (_, sc) = scenario::load("consumer-crash-after-process").unwrap();
    for seed in 1..=5 {
        let r = sweep::run_seed(&sc, seed, false);
        let full = brokerlab::report::run("x", &sc, seed, |_, _| {});
        assert_eq!(r.duplicated, full.outcome.duplicated, "seed {seed}");
        assert_eq!(r.lost, full.outcome.lost, "seed {seed}");
        assert_eq!(r.reordered, full.outcome.reordered, "seed {seed}");
        assert_eq!(r.events, full.events, "seed {seed}");
    }
}

#[test]
fn random_faults_are_deterministic_and_valid() {
    let (label, sc) = scenario::load("acks1-leader-failover").unwrap();
    let own = sc.faults.len();
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..300 {
        let a = sweep::random_faults(&sc, seed);
        assert_eq!(a, sweep::random_faults(&sc, seed), "seed {seed}");
        assert!((1..=6).contains(&a.len()), "seed {seed}: {a:?}");
        assert!(a.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        distinct.insert(format!("{a:?}"));
        let one = sweep::seed_scenario(&sc, seed, true);
        assert_eq!(one.faults.len(), own + a.len());
        assert!(one.expect.is_none());
        scenario::validate(&label, "", &one)
            .unwrap_or_else(|e| panic!("seed {seed}: invalid random faults {a:?}:\n{e}"));
    }
    assert!(distinct.len() > 250, "random faults hardly vary");
    let r1 = sweep::run_seed(&sc, 42, true);
    assert_eq!(r1, sweep::run_seed(&sc, 42, true));
}

#[test]
fn printed_scenario_reproduces_a_random_faults_run() {
    let o = brokerlab(&[
        "sweep",
        "acks1-leader-failover",
        "--seeds",
        "1",
        "--from",
        "3",
        "--random-faults",
        "--print-scenario",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let printed = scenario::parse("printed.toml", &text).expect("the printed scenario parses");
    assert_eq!(printed.scenario.seed, 3);
    let (_, sc) = scenario::load("acks1-leader-failover").unwrap();
    let swept = sweep::run_seed(&sc, 3, true);
    let full = brokerlab::report::run("printed", &printed, 3, |_, _| {});
    assert_eq!(swept.events, full.events);
    assert_eq!(
        (swept.lost, swept.duplicated, swept.reordered),
        (
            full.outcome.lost,
            full.outcome.duplicated,
            full.outcome.reordered
        )
    );
}

#[test]
fn sweep_refuses_bad_limits() {
    for (args, needle) in [
        (&["--seeds", "0"][..], "--seeds 0"),
        (&["--seeds", "99999999"][..], "limit"),
        (&["--seeds", "5", "--jobs", "0"][..], "--jobs 0"),
        (&["--seeds", "5", "--jobs", "100000"][..], "limit"),
        (
            &["--seeds", "2", "--from", "18446744073709551615"][..],
            "largest seed",
        ),
        (&["--seeds", "2", "--print-scenario"][..], "--seeds 1"),
    ] {
        let mut all = vec!["sweep", "acks1-leader-failover"];
        all.extend(args);
        let o = brokerlab(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    let o = brokerlab(&["sweep", "no-such-scenario", "--seeds", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let o = brokerlab(&["compare", "no-such-scenario"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sweep_options_aggregate_in_any_order() {
    // The library entry point, with more jobs than seeds.
    let (label, sc) = scenario::load("ack-loss-duplicates").unwrap();
    let opts = |jobs| SweepOptions {
        arg: "ack-loss-duplicates".into(),
        label: label.clone(),
        from: 10,
        seeds: 3,
        jobs,
        random_faults: false,
        progress: false,
    };
    let a = sweep::run_all(&sc, &opts(1));
    let b = sweep::run_all(&sc, &opts(8));
    assert_eq!(a, b);
    assert_eq!(a.runs, 3);
    let r = sweep::sweep(&sc, &opts(8));
    assert_eq!(r.jobs, 3, "no more threads than seeds");
}

// ----- the TUI compare view ------------------------------------------------------------------

mod tui_view {
    use brokerlab::compare;
    use brokerlab::scenario;
    use brokerlab::session::Session;
    use brokerlab::sim::SimTime;
    use brokerlab::tui::{App, View};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    /// The frame as plain text, one line per row, trailing spaces trimmed.
    fn frame(app: &App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| f.render_widget(app, f.area())).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for row in buf.content.chunks(w as usize) {
            let mut line = String::new();
            let mut skip = 0u16;
            for c in row {
                if skip == 0 {
                    line.push_str(c.symbol());
                }
                let width = ratatui::text::Span::raw(c.symbol()).width() as u16;
                skip = skip.max(width).saturating_sub(1);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn snap(name: &str, text: String) {
        insta::with_settings!({
            snapshot_path => "../../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, text);
        });
    }

    #[test]
    fn compare_view_runs_the_presets_in_lockstep() {
        let (label, sc) = scenario::load("acks1-leader-failover").unwrap();
        let seed = sc.scenario.seed;
        let mut app = App::with_session(Session::new(label.clone(), sc.clone(), seed));
        app.on_key(key(KeyCode::Char('c')));
        assert_eq!(app.view, View::Compare);
        // Past the old leader's return (12 s), once billing has applied the first records.
        while app.session.as_ref().unwrap().now() < SimTime::from_ms(12_320) {
            app.on_key(key(KeyCode::Char(']')));
        }
        let now = app.session.as_ref().unwrap().now();
        let runs = app.compare.as_ref().expect("compare runs");
        assert_eq!(runs.sessions.len(), 3);
        for s in &runs.sessions {
            assert!(s.now() <= now, "a preset run is ahead of the main run");
            assert!(
                s.sim.peek_time().is_none_or(|t| t > now),
                "a preset run lags"
            );
        }
        snap("tui__compare_80x24", frame(&app, 80, 24));

        // Stepping back takes the preset runs back too.
        app.on_key(key(KeyCode::Left));
        let back = app.session.as_ref().unwrap().now();
        assert!(back < now);
        let runs = app.compare.as_ref().unwrap();
        assert!(runs.sessions.iter().all(|s| s.now() <= back));

        // At the end, the view agrees with `brokerlab compare`.
        app.session
            .as_mut()
            .unwrap()
            .advance_to(SimTime(u64::MAX), u64::MAX);
        app.on_key(key(KeyCode::End));
        let variants = compare::variants(&label, &sc).unwrap();
        let report = compare::compare(&label, &sc, &variants, seed);
        let runs = app.compare.as_ref().unwrap();
        for (s, o) in runs.sessions.iter().zip(&report.outcomes) {
            assert_eq!(s.outcome(), &o.outcome, "{}", o.preset);
        }
        let f = frame(&app, 120, 40);
        assert!(f.contains("final"));
        snap("tui__compare_120x40_final", f);

        // `c` goes back to the main view and drops the runs.
        app.on_key(key(KeyCode::Char('c')));
        assert_eq!(app.view, View::Main);
        assert!(app.compare.is_none());
    }

    /// `v` in the compare view switches to the Kafka version profiles: one run per profile
    /// that accepts the scenario, in lockstep, agreeing with `brokerlab compare --versions`.
    #[test]
    fn compare_view_switches_to_the_kafka_versions() {
        use brokerlab::scenario::profile::KafkaVersion;
        use brokerlab::tui::compare::CompareMode;
        // Without its `acks = "1"`, the producer's acks come from each profile.
        let b = scenario::find_bundled("acks1-leader-failover").unwrap();
        let text = b.text.replace("acks = \"1\"\n", "");
        let sc = scenario::parse("failover.toml", &text).unwrap();
        let seed = sc.scenario.seed;
        let label = "failover.toml".to_string();
        let mut app = App::with_session(Session::new(label.clone(), sc.clone(), seed));
        app.on_key(key(KeyCode::Char('c')));
        app.on_key(key(KeyCode::Char('v')));
        assert_eq!(app.view, View::Compare);
        let runs = app.compare.as_ref().expect("compare runs");
        assert_eq!(runs.mode, CompareMode::Versions);
        assert_eq!(runs.columns, ["0.10", "2.8", "3.9", "4.0", "4.2"]);
        while app.session.as_ref().unwrap().now() < SimTime::from_ms(12_320) {
            app.on_key(key(KeyCode::Char(']')));
        }
        let f = frame(&app, 80, 24);
        assert!(f.contains("Compare Kafka versions"), "{f}");
        snap("tui__compare_versions_80x24", f);

        app.session
            .as_mut()
            .unwrap()
            .advance_to(SimTime(u64::MAX), u64::MAX);
        app.on_key(key(KeyCode::End));
        let report = compare::compare_versions(&label, &sc, &KafkaVersion::ALL, seed);
        let runs = app.compare.as_ref().unwrap();
        assert_eq!(runs.sessions.len(), report.outcomes.len());
        for (s, o) in runs.sessions.iter().zip(&report.outcomes) {
            assert_eq!(s.outcome(), &o.outcome, "{}", o.preset);
        }
        // acks=1 before 3.0 loses the acknowledged writes; acks=all from 3.0 does not.
        assert!(runs.sessions[1].outcome().acked_lost > 0);
        assert_eq!(runs.sessions[4].outcome().acked_lost, 0);
        let f = frame(&app, 120, 40);
        assert!(f.contains("acks") && f.contains("final"), "{f}");
        snap("tui__compare_versions_120x40_final", f);

        // `v` goes on to the queue systems, then back to the presets; `2` in versions opens 2.8.
        app.on_key(key(KeyCode::Char('v')));
        assert_eq!(app.compare.as_ref().unwrap().mode, CompareMode::Systems);
        app.on_key(key(KeyCode::Char('v')));
        assert_eq!(app.compare.as_ref().unwrap().mode, CompareMode::Presets);
        app.on_key(key(KeyCode::Char('v')));
        app.on_key(key(KeyCode::Char('2')));
        assert_eq!(app.view, View::Main);
        let s = app.session.as_ref().unwrap();
        assert_eq!(s.scenario.cluster.kafka_version, KafkaVersion::V2_8);
        assert!(app.status.as_deref().unwrap_or("").contains("Kafka 2.8"));
    }
}

/// A preset that makes the scenario invalid is refused with a location in the file, the reason,
/// and how to override the preset.
#[test]
fn compare_locates_a_preset_that_makes_the_scenario_invalid() {
    let o = brokerlab(&["compare", "tests/fixtures/compare-invalid-preset.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with(
            "error: tests/fixtures/compare-invalid-preset.toml:14:1: under the exactly-once preset"
        ),
        "{err}"
    );
    assert!(err.contains("[compare.exactly-once]"), "{err}");
    assert!(o.stdout.is_empty());
}

/// A version profile that refuses the scenario has a line in the TUI compare view naming the
/// release that introduced the setting, and no run.
#[test]
fn the_tui_versions_view_names_a_refusing_profile() {
    use brokerlab::session::Session;
    use brokerlab::tui::app::{App, View};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::{Terminal, backend::TestBackend};
    let (label, sc) = scenario::load("txn-coordinator-failover").unwrap();
    let seed = sc.scenario.seed;
    let mut app = App::with_session(Session::new(label, sc, seed));
    for c in ['c', 'v'] {
        app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    assert_eq!(app.view, View::Compare);
    let runs = app.compare.as_ref().unwrap();
    assert_eq!(runs.columns, ["2.8", "3.9", "4.0", "4.2"]);
    assert_eq!(runs.refused.len(), 1);
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| f.render_widget(&app, f.area())).unwrap();
    let text: String = t
        .backend()
        .buffer()
        .content()
        .chunks(80)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
        .collect();
    let line = text
        .lines()
        .find(|l| l.contains("0.10 refuses:"))
        .unwrap_or_else(|| panic!("no refusal line:\n{text}"));
    assert!(line.contains("came in Kafka 0.11 (KIP-98)"), "{line}");
}
