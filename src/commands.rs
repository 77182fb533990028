//! What each CLI command does. `main` only parses arguments and hands over here.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::report::{self, Report};
use crate::scenario::{self, ScenarioError};

use crate::scenario::DEFAULT_SCENARIO;

/// Exit codes: 0 success, 1 a failed check, 2 bad input.
const EXIT_MISMATCH: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

/// `println!` that survives a closed pipe (`brokerlab list | head`): the program ends quietly
/// instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        print_out(&format!("{}\n", format_args!($($arg)*)))
    };
}

fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

pub fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        None => {
            if interactive() {
                return tui_picker();
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", list_text());
            let _ = writeln!(
                out,
                "Running the default scenario `{DEFAULT_SCENARIO}` (try `brokerlab run NAME` for another):\n"
            );
            drop(out);
            run(DEFAULT_SCENARIO, None, false, false, false)
        }
        Some(Command::Tui { scenario, seed }) => {
            // When stdout is not a terminal (a pipe, a file, CI), `tui` is `run`.
            if interactive() {
                tui_open(&scenario, seed)
            } else {
                run(&scenario, seed, false, false, false)
            }
        }
        Some(Command::Run {
            scenario,
            seed,
            json,
            quiet,
            verbose,
            explain: None,
        }) => run(&scenario, seed, json, quiet, verbose),
        Some(Command::Run {
            scenario,
            seed,
            explain: Some(msg),
            ..
        }) => explain(&scenario, seed, &msg),
        Some(Command::Check { scenarios }) => check(&scenarios),
        Some(Command::New { name }) => new_scenario(&name),
        Some(Command::Compare {
            scenario,
            seed,
            versions,
            systems,
            json,
        }) => match systems {
            Some(systems) => compare_systems(&scenario, seed, &systems, json),
            None => compare(&scenario, seed, versions.as_deref(), json),
        },
        Some(Command::Sweep {
            scenario,
            seeds,
            from,
            jobs,
            random_faults,
            json,
            print_scenario,
        }) => sweep(&SweepArgs {
            arg: scenario,
            seeds,
            from,
            jobs,
            random_faults,
            json,
            print_scenario,
        }),
        Some(Command::Export {
            scenario,
            seed,
            format,
            from,
            to,
            output,
        }) => export(&scenario, seed, format, (from, to), &output),
        Some(Command::Quiz { scenario, seed }) => quiz(scenario.as_deref(), seed),
        Some(Command::List) => {
            outln!("{}", list_text());
            ExitCode::SUCCESS
        }
        Some(Command::Glossary) => {
            print_out(&crate::glossary::text());
            ExitCode::SUCCESS
        }
        Some(Command::Bench {
            messages,
            brokers,
            partitions,
            seed,
            partitions_scaling,
            json,
            sweep,
            step_back,
            frames,
            events,
        }) => {
            if events.is_some() && !step_back && !frames {
                // Silently running the 1 M-message bench instead would look like an answer.
                eprintln!(
                    "error: --events sets the length of a --step-back or --frames run; \
                     add one of them (the headless bench is sized with --messages)"
                );
                return ExitCode::from(EXIT_BAD_INPUT);
            }
            let default_messages = if sweep.is_some() { 10_000 } else { 1_000_000 };
            let opts = crate::bench::BenchOptions {
                messages: messages.unwrap_or(default_messages),
                brokers,
                partitions,
                seed,
            };
            if step_back {
                bench_step_back(&opts, events.unwrap_or(5_000_000))
            } else if frames {
                bench_frames(&opts, events.unwrap_or(4_000_000))
            } else {
                bench(&opts, partitions_scaling, json, sweep)
            }
        }
        Some(Command::Completions { shell }) => {
            print_out(&crate::cli::completion_script(shell));
            ExitCode::SUCCESS
        }
    }
}

fn bad_input(e: &ScenarioError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(EXIT_BAD_INPUT)
}

fn run(arg: &str, seed: Option<u64>, json: bool, quiet: bool, verbose: bool) -> ExitCode {
    let (label, sc) = match scenario::load(arg) {
        Ok(x) => x,
        Err(e) => return bad_input(&e),
    };
    let seed = seed.unwrap_or(sc.scenario.seed);
    for w in scenario::latest_start_warnings(&sc) {
        eprintln!("{}", w.long());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !json && !quiet {
        let _ = writeln!(out, "{}", sc.scenario.title);
        if !sc.scenario.summary.is_empty() {
            let _ = writeln!(out, "{}", sc.scenario.summary);
        }
        let _ = writeln!(out, "({label}, seed {seed})");
        if let Some(line) = report::profile_line(&sc) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
    }
    let narrate = !json && !quiet;
    let on_event = |sim: &crate::sim::Sim, ev: &crate::sim::TraceEvent| {
        if !narrate {
            return;
        }
        let line = if verbose {
            report::describe(sim, ev).or_else(|| crate::life::wire_line(sim, ev))
        } else {
            report::describe(sim, ev)
        };
        let Some(line) = line else { return };
        if verbose {
            // Each event's id and its cause's id, so a line can be followed back to its root.
            let cause = ev
                .cause
                .map_or_else(|| "root".to_string(), |c| format!("←{c}"));
            let id = ev.id.to_string();
            let _ = writeln!(
                out,
                "{:>9}  {id:>7} {cause:<8} {line}",
                report::fmt_time(ev.time)
            );
        } else {
            let _ = writeln!(out, "{:>9}  {line}", report::fmt_time(ev.time));
        }
    };
    // Only `--verbose` narrates the messages on the wire (`Sent`).
    let report = if verbose {
        report::run(&label, &sc, seed, on_event)
    } else {
        report::run_headless(&label, &sc, seed, on_event)
    };
    if json {
        let _ = report::write_json(&mut out, &report);
    } else {
        if narrate {
            let _ = writeln!(out);
        }
        let _ = write!(out, "{}", report::outcome_table(&report));
    }
    let _ = out.flush();
    if report.expect.as_ref().is_some_and(|e| !e.passed) {
        // The README's promise: 1 when an expectation does not hold.
        ExitCode::from(EXIT_MISMATCH)
    } else {
        ExitCode::SUCCESS
    }
}

/// `run SCENARIO --explain MSG`: one message's life with the cause of each step.
fn explain(arg: &str, seed: Option<u64>, msg: &str) -> ExitCode {
    let (label, sc) = match scenario::load(arg) {
        Ok(x) => x,
        Err(e) => return bad_input(&e),
    };
    let seed = seed.unwrap_or(sc.scenario.seed);
    let rec = crate::life::record(&sc, seed);
    let Some(m) = rec.find_msg(msg) else {
        let producers: Vec<&str> = rec
            .sim
            .producers()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        eprintln!(
            "error: {label} (seed {seed}) sent no message `{msg}`\n  expected PRODUCER#N with N from 1, \
             where PRODUCER is one of: {}",
            producers.join(", ")
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} ({label}, seed {seed})", sc.scenario.title);
    let _ = write!(out, "{}", crate::life::explain_text(&rec, m));
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// `export SCENARIO --format F [--from T --to T] -o FILE`.
fn export(
    arg: &str,
    seed: Option<u64>,
    format: crate::export::Format,
    (from, to): (Option<crate::sim::SimTime>, Option<crate::sim::SimTime>),
    output: &str,
) -> ExitCode {
    let bad = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let window = match crate::export::Window::new(from, to) {
        Ok(w) => w,
        Err(e) => return bad(e),
    };
    let (label, sc) = match scenario::load(arg) {
        Ok(x) => x,
        Err(e) => return bad_input(&e),
    };
    let seed = seed.unwrap_or(sc.scenario.seed);
    let bytes = match crate::export::export(&label, &sc, seed, format, window) {
        Ok(b) => b,
        Err(e) => return bad(e),
    };
    if let Some(note) = crate::export::warning(format, &bytes) {
        eprintln!("{note}");
    }
    if output == "-" {
        print_out(&String::from_utf8_lossy(&bytes));
        return ExitCode::SUCCESS;
    }
    match std::fs::write(output, &bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => bad(format!("cannot write {output}: {e}")),
    }
}

fn check(args: &[String]) -> ExitCode {
    let names: Vec<String> = if args.is_empty() {
        scenario::bundled()
            .iter()
            .map(|b| b.name.to_string())
            .collect()
    } else {
        args.to_vec()
    };
    let (mut bad, mut mismatched, mut passed) = (0, 0, 0);
    for name in &names {
        let loaded = scenario::load_text(name)
            .and_then(|(label, text)| scenario::parse(&label, &text).map(|sc| (label, text, sc)));
        let (label, text, sc) = match loaded {
            Ok(x) => x,
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
                continue;
            }
        };
        let report: Report = report::run_headless(&label, &sc, sc.scenario.seed, |_, _| {});

        match &report.expect {
            None => {
                passed += 1;
                outln!("✓ {label}: valid (no [expect] section to check)");
            }
            Some(e) if e.passed => {
                passed += 1;
                outln!(
                    "✓ {label}: {} — {}",
                    sc.scenario.title,
                    report.outcome.verdict.name()
                );
            }
            Some(e) => {
                mismatched += 1;
                outln!("✗ {label}: {}", sc.scenario.title);
                for f in &e.failures {
                    outln!("    - {f}");
                }
            }
        }
        for w in &report.notes_never_shown {
            outln!("{}", never_shown_warning(&label, &text, w));
        }
    }
    outln!("\n{passed} passed, {mismatched} failed, {bad} invalid");
    if bad > 0 {
        ExitCode::from(EXIT_BAD_INPUT)
    } else if mismatched > 0 {
        ExitCode::from(EXIT_MISMATCH)
    } else {
        ExitCode::SUCCESS
    }
}

/// `warning: FILE:LINE: note N waits for `...`, which never happens in this run`: a note that
/// is never shown is a warning, not an error (the run itself is fine).
fn never_shown_warning(label: &str, text: &str, w: &report::NeverShown) -> String {
    use crate::scenario::doc::{Doc, fp};
    let line = Doc::parse(text)
        .map(|doc| doc.span(fp!["notes", w.note - 1, "after"]))
        .map(|span| crate::scenario::Location::new(text, span).line)
        .unwrap_or(0);
    let since = if w.at_ms > 0 {
        format!(" at or after {} ms", w.at_ms)
    } else {
        String::new()
    };
    format!(
        "  warning: {label}:{line}: note {} waits for `{}`, which never happens in this run{since}, so it is never shown",
        w.note, w.after
    )
}

/// `new NAME`: writes the starter scenario to NAME.toml, refusing to overwrite a file.
fn new_scenario(name: &str) -> ExitCode {
    let path = if name.ends_with(".toml") {
        name.to_string()
    } else {
        format!("{name}.toml")
    };
    let refuse = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let stem = std::path::Path::new(&path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("");
    if stem.is_empty() || stem.starts_with('.') || name.ends_with(['/', '\\']) {
        return refuse(format!(
            "`{name}` is not a name for a scenario file; give one such as `my-first`"
        ));
    }
    // `create_new`: an existing file is refused, not truncated, even if it appears meanwhile.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return refuse(format!(
                "{path} already exists, and `brokerlab new` never overwrites a file: choose another name, or move {path} away first"
            ));
        }
        Err(e) => return refuse(format!("cannot write {path}: {e}")),
    };
    if let Err(e) = file.write_all(scenario::starter(stem).as_bytes()) {
        drop(file);
        let _ = std::fs::remove_file(&path);
        return refuse(format!("cannot write {path}: {e}"));
    }
    outln!(
        "wrote {path}: three brokers, a topic, an acks=all producer, a consumer group, a leader crash, a note and an [expect], every line commented

  brokerlab run {path}      the narrated run and its outcome
  brokerlab tui {path}      the interactive view
  brokerlab check {path}    checks its [expect]

Every field, with its Kafka name and default: docs/scenarios.md"
    );
    ExitCode::SUCCESS
}

fn compare(arg: &str, seed: Option<u64>, versions: Option<&str>, json: bool) -> ExitCode {
    let versions = match versions.map(crate::compare::parse_versions).transpose() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let (label, text) = match scenario::load_text(arg) {
        Ok(x) => x,
        Err(e) => return bad_input(&e),
    };
    let sc = match scenario::parse(&label, &text) {
        Ok(sc) => sc,
        Err(e) => return bad_input(&e),
    };
    let seed = seed.unwrap_or(sc.scenario.seed);
    let report = if let Some(versions) = versions {
        crate::compare::compare_versions(&label, &sc, &versions, seed)
    } else {
        let variants = match crate::compare::variants_in(&label, &text, &sc) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        crate::compare::compare(&label, &sc, &variants, seed)
    };
    print_report(&report, json, || crate::compare::text(&report))
}

/// A report on stdout: as JSON with `--json`, else as the text `text` makes.
fn print_report<T: serde::Serialize>(
    report: &T,
    json: bool,
    text: impl FnOnce() -> String,
) -> ExitCode {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        let _ = report::write_json(&mut out, report);
    } else {
        let _ = write!(out, "{}", text());
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// `compare --systems`: exit 2 on a bad list, or when the scenario runs on none of them.
fn compare_systems(arg: &str, seed: Option<u64>, list: &str, json: bool) -> ExitCode {
    use crate::compare::systems;
    let list = match systems::parse_systems(list) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let (label, sc) = match scenario::load(arg) {
        Ok(x) => x,
        Err(e) => return bad_input(&e),
    };
    let seed = seed.unwrap_or(sc.scenario.seed);
    let report = systems::compare_systems(&label, &sc, &list, seed);
    if !report.any_ran() {
        eprintln!("error: {label}: the scenario runs on none of the systems asked for");
        for (name, c) in &report.systems {
            if let Some(why) = &c.refused {
                eprintln!("  = {name}: {why}");
            }
        }
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    print_report(&report, json, || systems::text(&report))
}

struct SweepArgs {
    arg: String,
    seeds: u64,
    from: u64,
    jobs: Option<usize>,
    random_faults: bool,
    json: bool,
    print_scenario: bool,
}

fn sweep(a: &SweepArgs) -> ExitCode {
    use crate::sweep::{MAX_JOBS, MAX_SEEDS};
    let refuse = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    if a.seeds == 0 {
        return refuse("`--seeds 0` runs nothing; give at least 1 seed".into());
    }
    if a.seeds > MAX_SEEDS {
        return refuse(format!(
            "`--seeds {}` is more than the limit of {MAX_SEEDS} seeds per sweep",
            a.seeds
        ));
    }
    if a.from.checked_add(a.seeds - 1).is_none() {
        return refuse(format!(
            "seeds {} to {} + {} - 1 go past the largest seed, {}",
            a.from,
            a.from,
            a.seeds,
            u64::MAX
        ));
    }
    let jobs = match a.jobs {
        Some(0) => return refuse("`--jobs 0` runs nothing; give at least 1 job".into()),
        Some(j) if j > MAX_JOBS => {
            return refuse(format!(
                "`--jobs {j}` is more than the limit of {MAX_JOBS} threads"
            ));
        }
        Some(j) => j,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    if a.print_scenario && a.seeds != 1 {
        return refuse(
            "`--print-scenario` prints the scenario of one seed: use it with `--seeds 1 --from SEED`"
                .into(),
        );
    }
    let (label, sc) = match scenario::load(&a.arg) {
        Ok(x) => x,
        Err(e) => return bad_input(&e),
    };
    if a.print_scenario {
        let one = crate::sweep::seed_scenario(&sc, a.from, a.random_faults);
        return match toml::to_string(&one) {
            Ok(body) => {
                outln!(
                    "# {label} with seed {}{}.\n# Open it with `brokerlab tui FILE`; run it with `brokerlab run FILE`.\n\n{body}",
                    a.from,
                    if a.random_faults {
                        format!(
                            " and the random faults `brokerlab sweep --random-faults` adds for that seed ({} of them, at the end of [[faults]]; [expect] dropped)",
                            crate::sweep::random_faults(&sc, a.from).len()
                        )
                    } else {
                        String::new()
                    }
                );
                ExitCode::SUCCESS
            }
            Err(e) => refuse(format!("cannot write the scenario as TOML: {e}")),
        };
    }
    let opts = crate::sweep::SweepOptions {
        arg: a.arg.clone(),
        label,
        from: a.from,
        seeds: a.seeds,
        jobs,
        random_faults: a.random_faults,
        progress: std::io::stderr().is_terminal(),
    };
    let report = crate::sweep::sweep(&sc, &opts);
    print_report(&report, a.json, || crate::sweep::text(&report, true))
}

/// `quiz [SCENARIO] [--seed N]`: questions on stdout, answers from stdin.
fn quiz(arg: Option<&str>, seed: Option<u64>) -> ExitCode {
    let scenarios: Vec<(String, scenario::Scenario)> = match arg {
        Some(arg) => match scenario::load(arg) {
            Ok(x) => vec![x],
            Err(e) => return bad_input(&e),
        },
        None => crate::quiz::text::library_order(seed)
            .into_iter()
            .filter_map(|name| scenario::load(name).ok())
            .collect(),
    };
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    crate::quiz::text::run(scenarios, &mut input, &mut out);
    let _ = out.flush();
    ExitCode::SUCCESS
}

fn list_text() -> String {
    let mut rows = Vec::new();
    for b in scenario::bundled() {
        match b.parse() {
            Ok(sc) => rows.push((Some(sc.scenario.guarantee), b.name, sc.scenario.title)),
            Err(_) => rows.push((
                None,
                b.name,
                "(does not parse: run `brokerlab check`)".into(),
            )),
        }
    }
    // The picker's teaching order: guarantees as the picker groups them, then by name.
    rows.sort_by_key(|(g, name, _)| (g.map_or(u8::MAX, |g| g.rank()), *name));
    let mut s = String::from("Bundled scenarios (brokerlab run NAME):\n");
    let width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut last = "";
    for (g, name, title) in &rows {
        let g = g.map_or("?", |g| g.name());
        if g != last {
            s.push_str(&format!("\n  {g}\n"));
            last = g;
        }
        s.push_str(&format!("    {name:<width$}  {title}\n"));
    }
    s
}

fn bench(
    opts: &crate::bench::BenchOptions,
    partitions_scaling: bool,
    json: bool,
    sweep: Option<u64>,
) -> ExitCode {
    if opts.brokers < 3 || opts.partitions == 0 || opts.messages == 0 {
        eprintln!(
            "error: bench needs at least 3 brokers (replication factor 3), 1 partition and 1 message"
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if partitions_scaling {
        let by_size = crate::bench::run_partition_scaling(opts, crate::bench::SCALING_ROUNDS);
        outln!("{}", crate::bench::scaling_table(&by_size));
        return ExitCode::SUCCESS;
    }
    if json {
        outln!(
            "{}",
            crate::report::bench_json(opts, crate::bench::ALTERNATING_ROUNDS)
        );
        return ExitCode::SUCCESS;
    }
    if let Some(seeds) = sweep {
        if seeds == 0 || seeds > crate::sweep::MAX_SEEDS {
            eprintln!(
                "error: bench --sweep takes 1 to {} seeds",
                crate::sweep::MAX_SEEDS
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
        outln!(
            "{}",
            crate::sweep::bench_sweep(opts, seeds, crate::bench::ALTERNATING_ROUNDS)
        );
        return ExitCode::SUCCESS;
    }
    outln!("{}", crate::bench::run_bench(opts));
    outln!(
        "  {:<22}{:>14.3} s   (40 000 entries, rejected; best of 3)",
        "validating a big file",
        crate::bench::time_large_validation(3).as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// `brokerlab bench --step-back`.
fn bench_step_back(opts: &crate::bench::BenchOptions, events: u64) -> ExitCode {
    match session_bench_options(opts, events) {
        Ok(opts) => {
            outln!(
                "{}",
                crate::session::Session::bench_step_back(&opts, events, 200)
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `brokerlab bench --frames`.
fn bench_frames(opts: &crate::bench::BenchOptions, events: u64) -> ExitCode {
    match session_bench_options(opts, events) {
        Ok(opts) => {
            outln!("{}", crate::tui::bench_frames(&opts, events, 50));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The benchmark scenario for a session bench of `events` events: it needs enough messages to
/// last that long (it takes about 3.8 events per message; a third of `events` leaves room, and
/// the session stops at `events`), so --messages grows to fit.
fn session_bench_options(
    opts: &crate::bench::BenchOptions,
    events: u64,
) -> Result<crate::bench::BenchOptions, ExitCode> {
    if opts.brokers < 3 || opts.partitions == 0 || events == 0 {
        eprintln!("error: bench needs at least 3 brokers, 1 partition and 1 event");
        return Err(ExitCode::from(EXIT_BAD_INPUT));
    }
    Ok(crate::bench::BenchOptions {
        messages: opts.messages.max(events.div_ceil(3)),
        ..*opts
    })
}

/// Whether the interactive view can run: stdout and stdin are terminals.
fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// `brokerlab` in a terminal: the scenario picker.
fn tui_picker() -> ExitCode {
    let mut app = crate::tui::App::with_picker();
    tui_main(&mut app)
}

/// `brokerlab tui SCENARIO` in a terminal.
fn tui_open(arg: &str, seed: Option<u64>) -> ExitCode {
    match crate::session::Session::load(arg, seed) {
        Ok(session) => tui_main(&mut crate::tui::App::with_session(session)),
        Err(e) => bad_input(&e),
    }
}

fn tui_main(app: &mut crate::tui::App) -> ExitCode {
    match crate::tui::run_terminal(app) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the terminal failed: {e}");
            ExitCode::FAILURE
        }
    }
}
