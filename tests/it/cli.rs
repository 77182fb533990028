//! The `brokerlab` binary: exit codes, stderr for bad input, the JSON report's contract.

use crate::util::{TempDir, brokerlab, brokerlab_in, stderr, stdout};
use std::path::Path;

#[test]
fn run_json_has_the_contract_keys() {
    let o = brokerlab(&["run", "acks1-leader-failover", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    for key in [
        "scenario",
        "seed",
        "end_ms",
        "events",
        "digest",
        "produced",
        "outcome",
        "groups",
        "elections",
        "truncations",
        "rebalances",
        "logs",
        "expect",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    for key in ["sent", "acked", "failed", "errors"] {
        assert!(v["produced"].get(key).is_some(), "missing produced.{key}");
    }
    for key in ["lost", "acked_lost", "duplicated", "reordered", "verdict"] {
        assert!(v["outcome"].get(key).is_some(), "missing outcome.{key}");
    }
    let t = &v["truncations"][0];
    for key in ["at_ms", "partition", "replica", "from", "to", "removed"] {
        assert!(t.get(key).is_some(), "missing truncations[0].{key}");
    }
    let removed = t["removed"].as_array().unwrap();
    assert!(!removed.is_empty());
    assert!(
        removed
            .iter()
            .all(|m| m.as_str().unwrap().starts_with("checkout#"))
    );
    assert_eq!(v["outcome"]["acked_lost"], removed.len());
    assert_eq!(v["expect"]["passed"], true);
    let e = &v["elections"][0];
    assert_eq!(e["partition"], "orders/0");
    assert_eq!(e["unclean"], false);
    assert!(v["logs"]["orders/0"]["broker-1"].is_array());
    assert!(v["groups"]["billing"]["applied"].is_u64());
}

#[test]
fn run_text_narrates_and_prints_the_outcome() {
    let o = brokerlab(&["run", "acks1-leader-failover"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("truncates orders/0"), "{out}");
    assert!(out.contains("» The leader crashes"), "{out}");
    assert!(out.contains("Outcome"));
    assert!(out.contains("at-most-once"));
}

#[test]
fn seed_override_changes_the_run_and_is_reported() {
    let a = brokerlab(&["run", "acks1-leader-failover", "--json", "--seed", "99"]);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["seed"], 99);
    let b = brokerlab(&["run", "acks1-leader-failover", "--json"]);
    let w: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_ne!(v["digest"], w["digest"]);
}

#[test]
fn check_passes_on_every_bundled_scenario() {
    let o = brokerlab(&["check"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(" 0 failed, 0 invalid"));
}

#[test]
fn check_exits_1_on_a_mismatched_expectation() {
    let dir = TempDir::new("cli-mismatch");
    let src = brokerlab::scenario::find_bundled("acks1-leader-failover")
        .unwrap()
        .text;
    let wrong = src.replace("acked_lost = 2", "acked_lost = 0");
    assert_ne!(src, wrong);
    let path = dir.join("wrong.toml");
    std::fs::write(&path, wrong).unwrap();
    let o = brokerlab(&["check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("acked_lost: expected 0, got 2"),
        "{}",
        stdout(&o)
    );
    // `run` says so too, with the same exit code.
    let o = brokerlab(&["run", path.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("acked_lost: expected 0, got 2"));
    let o = brokerlab(&["run", "acks1-leader-failover", "-q"]);
    assert_eq!(o.status.code(), Some(0), "its own expectations hold");
}

#[test]
fn unknown_scenario_is_bad_input() {
    let o = brokerlab(&["run", "no-such-scenario"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no-such-scenario"), "{err}");
    assert!(err.contains("brokerlab list"), "{err}");
    // A near miss offers the close names, one per line, not the whole library on one line.
    let o = brokerlab(&["run", "acks1-failover"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.lines().any(|l| l.trim() == "acks1-leader-failover"),
        "{err}"
    );
    assert!(!err.contains("txn-zombie-fencing"), "{err}");
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    for args in [
        &["list"][..],
        &["completions", "bash"],
        &["compare", "acks1-leader-failover"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_brokerlab"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is gone: like `| head -1`.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!first.is_empty(), "{args:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked");
    }
}

#[test]
fn list_follows_the_pickers_teaching_order() {
    let text = stdout(&brokerlab(&["list"]));
    let at = |g: &str| {
        text.find(&format!("\n  {g}\n"))
            .unwrap_or_else(|| panic!("{g}"))
    };
    assert!(at("at-most-once") < at("at-least-once"));
    assert!(at("at-least-once") < at("exactly-once"));
    assert!(at("exactly-once") < at("ordering"));
}

/// Every invalid fixture exits 2 through the binary, and its stderr is exactly the rendered
/// error pinned by the `invalid__*` snapshots.
#[test]
fn invalid_fixtures_exit_2_with_the_snapshotted_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/fixtures/invalid"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25);
    for name in files {
        let rel = format!("tests/fixtures/invalid/{name}");
        let o = brokerlab(&["check", &rel]);
        assert_eq!(o.status.code(), Some(2), "{rel}: {}", stderr(&o));
        let expected = match brokerlab::scenario::load(&rel) {
            Err(e) => format!("{e}\n"),
            Ok(_) => panic!("{rel} parsed"),
        };
        assert_eq!(stderr(&o), expected, "{rel}");
        let o = brokerlab(&["run", &rel]);
        assert_eq!(o.status.code(), Some(2), "run {rel}");
    }
}

#[test]
fn list_and_completions_work() {
    let o = brokerlab(&["list"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("acks1-leader-failover"));
    let o = brokerlab(&["completions", "bash"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("brokerlab"));
}

/// Every `$ brokerlab run|sweep|compare …` sample in the README is what the command prints: each line shown appears
/// in the output, in order; `…` stands for left-out lines, or the rest of a line.
#[test]
fn the_readme_run_samples_match_the_output() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut samples = 0;
    let mut in_block = false;
    let mut block: Vec<&str> = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            if in_block
                && block.first().is_some_and(|l| {
                    [
                        "$ brokerlab run ",
                        "$ brokerlab sweep ",
                        "$ brokerlab compare ",
                    ]
                    .iter()
                    .any(|c| l.starts_with(c))
                })
            {
                check_sample(&block);
                samples += 1;
            }
            in_block = !in_block;
            block.clear();
        } else if in_block {
            block.push(line);
        }
    }
    assert!(samples >= 3, "the README shows run and sweep samples");
}

fn check_sample(block: &[&str]) {
    let args: Vec<&str> = block[0]["$ brokerlab ".len()..]
        .split_whitespace()
        .collect();
    let out = stdout(&brokerlab(&args));
    let lines: Vec<&str> = out.lines().collect();
    let mut at = 0;
    for want in &block[1..] {
        if want.trim() == "…" {
            continue;
        }
        let found = match want.find('…') {
            Some(cut) => {
                let prefix = &want[..cut];
                lines[at..].iter().position(|l| l.starts_with(prefix))
            }
            None => lines[at..].iter().position(|l| l == want),
        };
        match found {
            Some(i) => at += i + 1,
            None => panic!(
                "README sample `{}`: line not in the output (in order):\n{want}\n--- output ---\n{out}",
                block[0]
            ),
        }
    }
}

/// Every send ends acknowledged, failed or unresolved, and the report says how many of each: a
/// producer that crashes with records still in its accumulator (`linger.ms`) leaves sends that
/// never resolved.
#[test]
fn every_send_is_acked_failed_or_unresolved() {
    let dir = TempDir::new("cli-unresolved");
    let path = dir.join("unresolved.toml");
    std::fs::write(
        &path,
        r#"
[scenario]
title = "a producer dies with records in its accumulator"
seed = 7
stop_at_ms = 10000

[cluster]
brokers = 1

[[topics]]
name = "orders"
partitions = 1
replication_factor = 1
min_insync_replicas = 1

[[producers]]
name = "checkout"
topic = "orders"
linger_ms = 3000
max_batch_records = 100
send = { count = 5, every_ms = 100, start_ms = 1000, keys = ["alice"] }

[[faults]]
at_ms = 2000
action = "crash"
target = "checkout"
"#,
    )
    .expect("write the scenario");
    let path = path.to_string_lossy().into_owned();
    let out = brokerlab(&["run", &path, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["produced"];
    let n = |k: &str| p[k].as_u64().unwrap();
    assert_eq!(n("acked") + n("failed") + n("unresolved"), n("sent"));
    assert_eq!(
        n("unresolved"),
        5,
        "the five sends lingering in the crashed producer"
    );
    let text = stdout(&brokerlab(&["run", &path]));
    assert!(text.contains("5 unresolved (no acknowledgement or error reached the application"));
}

/// `new NAME` writes NAME.toml, a scenario that passes `check` and runs; a second `new` with the
/// same name fails cleanly and leaves the file alone.
#[test]
fn new_writes_a_scenario_that_checks_and_never_overwrites() {
    let tmp = TempDir::new("new");
    let dir = tmp.path();
    let o = brokerlab_in(dir, &["new", "my-first"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("brokerlab run my-first.toml"),
        "{}",
        stdout(&o)
    );
    let path = dir.join("my-first.toml");
    let text = std::fs::read_to_string(&path).expect("my-first.toml written");
    assert!(text.contains("docs/scenarios.md"));
    for kafka_name in [
        "acks",
        "replication.factor",
        "min.insync.replicas",
        "group.id",
        "auto.offset.reset",
    ] {
        assert!(text.contains(kafka_name), "the starter names {kafka_name}");
    }

    let o = brokerlab_in(dir, &["check", "my-first.toml"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("1 passed, 0 failed, 0 invalid"),
        "{}",
        stdout(&o)
    );
    let o = brokerlab_in(dir, &["run", "my-first.toml", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("every expectation holds"),
        "{}",
        stdout(&o)
    );

    // Twice: refused with exit 2 and a message, the file untouched.
    std::fs::write(&path, "# mine now\n").unwrap();
    let o = brokerlab_in(dir, &["new", "my-first"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("my-first.toml already exists"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine now\n");
    // The same name with its extension is the same file.
    let o = brokerlab_in(dir, &["new", "my-first.toml"]);
    assert_eq!(o.status.code(), Some(2));
    // A name ending in `.toml` is not given another.
    let o = brokerlab_in(dir, &["new", "second.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("second.toml").is_file());
    // Not a file name at all.
    let o = brokerlab_in(dir, &["new", ""]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a name for a scenario file"),
        "{}",
        stderr(&o)
    );

    // It is in the help.
    let help = stdout(&brokerlab(&["--help"]));
    assert!(help.contains("new "), "{help}");
}

/// What bash completes for `line` (the cursor at its end), with the script of `completions bash`.
fn bash_completes(script: &str, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let n = words.len();
    let program = format!(
        "{script}\nCOMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT={point}\n\
         _brokerlab brokerlab '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words.join(" "),
        cword = n - 1,
        point = line.len(),
        cur = words[n - 1],
        prev = words[n - 2],
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Completions offer the bundled scenarios wherever a command takes a scenario: run by bash
/// for bash, and in the zsh and fish scripts' text.
#[test]
fn completions_offer_the_bundled_scenarios() {
    let bash = stdout(&brokerlab(&["completions", "bash"]));
    for (line, want) in [
        ("brokerlab run acks1", vec!["acks1-leader-failover"]),
        ("brokerlab tui per-", vec!["per-key-ordering"]),
        ("brokerlab check tou", vec!["tour"]),
        // `check` takes several.
        ("brokerlab check tour txn-z", vec!["txn-zombie-fencing"]),
        ("brokerlab compare acks-a", vec!["acks-all-leader-failover"]),
        ("brokerlab export --format svg tou", vec!["tour"]),
        (
            "brokerlab sweep --seeds 5 unclean-election-d",
            vec!["unclean-election-disabled"],
        ),
        (
            "brokerlab run ack-loss",
            vec!["ack-loss-duplicates", "ack-loss-idempotent"],
        ),
        // Commands without a scenario offer none; nor does a word no name starts with (bash
        // then completes file names).
        ("brokerlab quiz acks1", vec!["acks1-leader-failover"]),
        ("brokerlab list acks1", vec![]),
        ("brokerlab new acks1", vec![]),
        ("brokerlab run ./my", vec![]),
    ] {
        assert_eq!(bash_completes(&bash, line), want, "{line}");
    }

    let names: Vec<&str> = brokerlab::scenario::bundled()
        .iter()
        .map(|b| b.name)
        .collect();
    let zsh = stdout(&brokerlab(&["completions", "zsh"]));
    // Every SCENARIO argument (run, tui, compare, sweep, export, quiz; check's list) offers the
    // helper, which offers the names and .toml files.
    assert_eq!(zsh.matches(":_brokerlab_scenarios'").count(), 7, "{zsh}");
    assert!(zsh.contains(&format!("'bundled:bundled scenario:({})'", names.join(" "))));
    assert!(zsh.contains("_files -g \"*.toml\""));
    let helper = zsh.find("_brokerlab_scenarios() {").unwrap();
    assert!(helper < zsh.rfind("compdef _brokerlab brokerlab").unwrap());
    let fish = stdout(&brokerlab(&["completions", "fish"]));
    let line = fish
        .lines()
        .find(|l| {
            l.contains("__fish_brokerlab_using_subcommand run tui check compare sweep export quiz")
        })
        .expect("a fish line for the scenario commands");
    assert!(
        line.contains(&format!("-a \"{}\"", names.join(" "))),
        "{line}"
    );
    assert!(!line.contains(" -f"), "file names stay on: {line}");
    // `new` is a command the scripts know.
    assert!(bash.contains("brokerlab,new)"));
    assert!(zsh.contains("'new:Write NAME.toml"));
    assert!(fish.contains("-a \"new\""));
    // The names stay out of the help.
    let help = stdout(&brokerlab(&["run", "--help"]));
    assert!(!help.contains("acks1-leader-failover"), "{help}");
}

#[test]
fn bench_sweep_with_no_seeds_is_bad_input() {
    let o = brokerlab(&["bench", "--sweep", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--sweep"), "{}", stderr(&o));
    let o = brokerlab(&["bench", "--sweep", "3", "--json"]);
    assert_eq!(o.status.code(), Some(2), "--sweep and --json conflict");
}

#[test]
fn bench_events_without_a_session_mode_is_bad_input() {
    let o = brokerlab(&["bench", "--events", "1000"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--events"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "no bench ran: {}", stdout(&o));
}

/// The text report lists producers and partitions in the order a person counts: `shop-2`
/// before `shop-10`, `orders/2` before `orders/10` (the JSON keeps its sorted keys).
#[test]
fn the_text_report_counts_names_in_order() {
    let dir = TempDir::new("cli-natural-order");
    // broker-2 leads several partitions, orders/10 among them: each is unavailable for a while.
    let text = crate::util::twelve_shops(
        12,
        5,
        12000,
        "\n[[faults]]\nat_ms = 200\naction = \"crash\"\ntarget = \"broker-2\"\n\n\
         [[faults]]\nat_ms = 2000\naction = \"restart\"\ntarget = \"broker-2\"\n",
    );
    let path = dir.join("shops.toml");
    std::fs::write(&path, text).unwrap();
    let out = stdout(&brokerlab(&["run", path.to_str().unwrap(), "-q"]));
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in the report:\n{out}"))
    };
    assert!(at("  shop-2 ") < at("  shop-10 "), "{out}");
    assert!(at("  shop-9 ") < at("  shop-10 "), "{out}");
    let unavailable: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("unavailable: "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert!(unavailable.len() >= 2, "{out}");
    let numbers: Vec<u32> = unavailable
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().parse().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{unavailable:?}");
    assert!(numbers.iter().any(|&n| n >= 10), "{unavailable:?}");
}
