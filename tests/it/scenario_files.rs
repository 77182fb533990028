//! Scenario files: every invalid fixture's error is pinned by a snapshot, every valid fixture
//! and bundled scenario parses, defaults follow Kafka, and no input makes the parser panic.

use crate::util::TempDir;
use std::path::{Path, PathBuf};

use brokerlab::scenario::{self, Acks, ErrorKind, Scenario, ScenarioError};

/// Fixture files in `tests/fixtures/DIR`, as paths relative to the crate root, sorted.
fn fixtures(dir: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join("tests/fixtures").join(dir))
        .unwrap_or_else(|e| panic!("tests/fixtures/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            format!(
                "tests/fixtures/{dir}/{}",
                p.file_name().unwrap().to_str().unwrap()
            )
        })
        .collect();
    files.sort();
    files
}

/// Loads a fixture by its relative path, so error labels are machine-independent.
fn load_fixture(rel: &str) -> Result<(String, Scenario), ScenarioError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = match std::fs::read(root.join(rel)) {
        Ok(bytes) => bytes,
        Err(e) => panic!("{rel}: {e}"),
    };
    match String::from_utf8(text) {
        Ok(text) => scenario::parse(rel, &text).map(|s| (rel.to_string(), s)),
        // Goes through `read_file` for its UTF-8 diagnostics; the label must stay relative.
        Err(_) => {
            let _cwd = CwdGuard::enter(root);
            scenario::load(rel)
        }
    }
}

/// Tests run with the crate root as the working directory already; this only makes sure.
struct CwdGuard;

impl CwdGuard {
    fn enter(root: &Path) -> CwdGuard {
        if std::env::current_dir().ok().as_deref() != Some(root) {
            std::env::set_current_dir(root).unwrap();
        }
        CwdGuard
    }
}

#[test]
fn invalid_fixtures_snapshot_their_errors() {
    let files = fixtures("invalid");
    assert!(files.len() >= 25, "only {} invalid fixtures", files.len());
    for rel in files {
        let stem = Path::new(&rel)
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let err = match load_fixture(&rel) {
            Ok(_) => panic!("{rel} parsed, but it is an invalid fixture"),
            Err(e) => e,
        };
        // Every error about the file's content says where it is.
        if !matches!(err.kind(), ErrorKind::NotFound | ErrorKind::Unreadable) {
            assert!(err.line().is_some(), "{rel}: no line in\n{err}");
            assert_eq!(err.file(), Some(rel.as_str()));
        }
        let rendered = err.to_string();
        assert!(
            rendered.starts_with(&format!("error: {rel}:")),
            "{rel}: {rendered}"
        );
        // ... and ends with the section of the reference it is about.
        let link = err
            .reference()
            .unwrap_or_else(|| panic!("{rel}: no reference"));
        let anchor = link.strip_prefix("docs/scenarios.md#").expect(&link);
        assert!(
            scenario::reference::ANCHORS.contains(&anchor),
            "{rel}: {link}"
        );
        assert!(
            rendered
                .lines()
                .last()
                .unwrap()
                .ends_with(&format!("= reference: {link}")),
            "{rel}: {rendered}"
        );
        insta::with_settings!({
            snapshot_path => "../../snapshots",
            prepend_module_to_snapshot => false,
            description => rel.as_str(),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("invalid__{stem}"), rendered);
        });
    }
}

#[test]
fn valid_fixtures_parse() {
    let files = fixtures("valid");
    assert!(files.len() >= 2);
    for rel in files {
        if let Err(e) = load_fixture(&rel) {
            panic!("{rel} should be valid:\n{e}");
        }
    }
}

#[test]
fn bundled_scenarios_parse() {
    for b in scenario::bundled() {
        if let Err(e) = b.parse() {
            panic!("bundled scenario {}:\n{e}", b.name);
        }
        assert_eq!(scenario::find_bundled(b.name), Some(b));
        let (label, _) = scenario::load(b.name).unwrap();
        assert_eq!(label, format!("scenarios/{}.toml", b.name));
    }
    let names: Vec<&str> = scenario::bundled().iter().map(|b| b.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "bundled scenarios are sorted by name");
}

#[test]
fn bundled_list_matches_the_scenarios_dir() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let p: PathBuf = e.ok()?.path();
                (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
            })
            .filter(|n| !n.starts_with('.'))
            .collect()
        })
        .unwrap_or_default();
    on_disk.sort();
    let bundled: Vec<&str> = scenario::bundled().iter().map(|b| b.name).collect();
    assert_eq!(bundled, on_disk);
}

fn minimal() -> Scenario {
    let (_, s) = load_fixture("tests/fixtures/valid/minimal.toml").unwrap();
    s
}

#[test]
fn defaults_are_kafkas() {
    let s = minimal();
    let p = &s.producers[0];
    assert_eq!(p.acks, Acks::All);
    assert_eq!(p.retries, 2_147_483_647);
    assert_eq!(p.enable_idempotence, None);
    assert!(
        p.idempotent(),
        "idempotence is on by default since Kafka 3.0"
    );
    assert_eq!(p.max_in_flight, 5);
    assert_eq!(p.request_timeout_ms, 30_000);
    assert_eq!(p.delivery_timeout_ms, 120_000);
    assert_eq!(p.retry_backoff_ms, 100);
    assert_eq!(p.linger_ms, 5);
    let t = &s.topics[0];
    assert_eq!(
        (t.partitions, t.replication_factor, t.min_insync_replicas),
        (1, 1, 1)
    );
    let c = &s.cluster;
    assert_eq!(c.brokers, 3);
    assert_eq!(c.replica_lag_time_max_ms, 30_000);
    assert_eq!(c.broker_session_timeout_ms, 9_000);
    assert!(!c.unclean_leader_election);
    assert_eq!(s.scenario.stop_at_ms, 30_000);

    let (_, s) = load_fixture("tests/fixtures/valid/kafka-defaults.toml").unwrap();
    let by_name = |n: &str| s.producers.iter().find(|p| p.name == n).unwrap();
    assert!(by_name("default").idempotent());
    let acks1 = by_name("acks1");
    assert_eq!(acks1.acks, Acks::Leader);
    assert_eq!(acks1.enable_idempotence, None);
    assert!(
        !acks1.idempotent(),
        "acks=1 silently turns default idempotence off"
    );
    assert_eq!(by_name("minus-one").acks, Acks::All, "acks=-1 means all");
    let g = &s.groups[0];
    assert_eq!(g.session_timeout_ms, 45_000);
    assert_eq!(g.heartbeat_interval_ms, 3_000);
    assert_eq!(g.max_poll_interval_ms, 300_000);
    assert_eq!(g.max_poll_records, 500);
    assert_eq!(g.auto_commit_interval_ms, 5_000);
    assert_eq!(g.commit, scenario::CommitMode::Auto);
}

#[test]
fn full_fixture_keeps_every_field() {
    let (_, s) = load_fixture("tests/fixtures/valid/full.toml").unwrap();
    assert_eq!(s.cluster.brokers, 5);
    assert_eq!(s.topics[0].assignment.as_ref().unwrap()[2], vec![3, 4, 5]);
    assert_eq!(
        s.producers[0].transactional_id.as_deref(),
        Some("checkout-tx")
    );
    assert_eq!(s.producers[1].messages.len(), 2);
    assert_eq!(s.faults.len(), 15);
    let e = s.expect.as_ref().unwrap();
    assert_eq!(e.errors["PRODUCER_FENCED"], 1);
    assert_eq!(e.groups["billing"].applied, Some(102));
}

#[test]
fn errors_point_at_the_field() {
    let text = "[scenario]\ntitle = \"t\"\n\n[[topics]]\nname = \"orders\"\n\n[[producers]]\nname = \"p\"\ntopic = \"orders\"\nack = \"1\"\nsend = { count = 1 }\n";
    let e = scenario::parse("f.toml", text).unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(10), Some(1)));
    assert_eq!(e.kind(), ErrorKind::Schema);
    assert!(e.expected().unwrap().contains("`acks`"));
    assert_eq!(e.help(), Some("did you mean `acks`?"));
    // Columns count characters, not bytes.
    let text = "[scenario]\ntitle = \"é\"\n[cluster]\nbrokers = 99\n";
    let e = scenario::parse("f.toml", text).unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(4), Some(11)));
    let text = "[scenario]\ntitle = \"ééé\"; seed = 1\n";
    let e = scenario::parse("f.toml", text).unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(2), Some(14)));
}

#[test]
fn first_error_in_file_order() {
    // Two problems; the earlier one in the file is reported, whatever the key order.
    let text = "[scenario]\ntitle = \"t\"\n\n[[topics]]\nname = \"orders\"\nreplication_factor = 9\n\n[[producers]]\nname = \"p\"\ntopic = \"nope\"\nsend = { count = 1 }\n";
    let e = scenario::parse("f.toml", text).unwrap_err();
    assert_eq!(e.line(), Some(6), "{e}");
    // Two serde errors: `zzz` in [cluster] comes before `aaa` in a producer.
    let text = "[scenario]\ntitle = \"t\"\n[cluster]\nzzz = 1\n[[producers]]\naaa = 1\n";
    let e = scenario::parse("f.toml", text).unwrap_err();
    assert_eq!(e.line(), Some(4), "{e}");
    let text = "[[producers]]\naaa = 1\n[scenario]\ntitle = \"t\"\n[cluster]\nzzz = 1\n";
    let e = scenario::parse("f.toml", text).unwrap_err();
    assert_eq!(e.line(), Some(2), "{e}");
}

#[test]
fn load_of_a_missing_name_points_at_the_list() {
    let e = scenario::load("no-such-scenario-xyz").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let msg = e.to_string();
    assert!(
        msg.contains("no such file or bundled scenario `no-such-scenario-xyz`"),
        "{msg}"
    );
    let names: Vec<&str> = scenario::bundled().iter().map(|b| b.name).collect();
    if names.is_empty() {
        assert!(msg.contains("there are no bundled scenarios"), "{msg}");
    } else {
        // Not all of them on one line: where to see them.
        assert!(!msg.contains(&names.join(", ")), "{msg}");
        assert!(
            msg.contains(&format!(
                "`brokerlab list` shows the {} bundled",
                names.len()
            )),
            "{msg}"
        );
    }
    // A typo of a bundled name gets a suggestion.
    if let Some(b) = scenario::bundled().first() {
        let typo = format!("{}x", b.name);
        let e = scenario::load(&typo).unwrap_err();
        assert_eq!(
            e.help(),
            Some(format!("did you mean `{}`?", b.name).as_str())
        );
    }
}

#[test]
fn load_reads_files_and_reports_unreadable_ones() {
    let tmp = TempDir::new("scenario-test");
    let dir = tmp.path().to_path_buf();
    let good = dir.join("good.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/minimal.toml"),
        &good,
    )
    .unwrap();
    let (label, s) = scenario::load(good.to_str().unwrap()).unwrap();
    assert_eq!(label, good.to_str().unwrap());
    assert_eq!(s.scenario.title, "Minimal");

    let bad = dir.join("latin1.toml");
    std::fs::write(&bad, b"[scenario]\ntitle = \"Caf\xe9\"\n").unwrap();
    let e = scenario::load(bad.to_str().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotUtf8);
    assert_eq!((e.line(), e.column()), (Some(2), Some(13)));

    let e = scenario::load(dir.to_str().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreadable);
}

fn no_panic(label: &str, text: &str) {
    let r = std::panic::catch_unwind(|| {
        let r = scenario::parse(label, text);
        if let Err(e) = &r {
            // Rendering must not panic either.
            let _ = e.to_string();
        }
        r.is_ok()
    });
    assert!(r.is_ok(), "parse panicked on {text:?}");
}

#[test]
fn truncations_never_panic() {
    for rel in fixtures("valid") {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&rel)).unwrap();
        for cut in 0..=text.len() {
            if text.is_char_boundary(cut) {
                no_panic(&rel, &text[..cut]);
                no_panic(&rel, &text[cut..]);
            }
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut inputs: Vec<String> = vec![
        String::new(),
        "\0\0\0".into(),
        "\u{feff}".into(),
        "[".into(),
        "[[".into(),
        "]]]]".into(),
        "=".into(),
        "\"".into(),
        "a = [".repeat(10_000),
        format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("a = {}", "{b = ".repeat(10_000)),
        format!("a{} = 1", ".a".repeat(10_000)),
        format!("[scenario]\ntitle = \"{}\"\n", "x".repeat(1_000_000)),
        format!("[scenario]\ntitle = \"t\"\n{} = 1\n", "k".repeat(100_000)),
        "[scenario]\ntitle = \"t\"\nseed = -1\nstop_at_ms = -5\n".into(),
        "[scenario]\ntitle = \"t\"\nseed = 1e400\n".into(),
        "[scenario]\ntitle = \"t\"\n[network]\nloss = nan\n".into(),
        "[scenario]\ntitle = \"t\"\n[network]\nloss = -inf\nlatency_ms = [-1, 2]\n".into(),
        "[scenario]\ntitle = \"t\"\n[cluster]\nbrokers = 18446744073709551615\n".into(),
        "[scenario]\ntitle = \"t\"\n[[topics]]\nname = \"t\"\npartitions = 4294967295\nassignment = []\n".into(),
        "[scenario]\ntitle = \"t\"\nstop_at_ms = 86400000\n[[topics]]\nname = \"t\"\n[[producers]]\nname = \"p\"\ntopic = \"t\"\nsend = { count = 9223372036854775807, every_ms = 9223372036854775807, start_ms = 9223372036854775807 }\n".into(),
        "[scenario]\ntitle = \"t\"\n[[faults]]\nat_ms = 1\naction = \"partition\"\nsides = [[], [\"leader:/\"], [\"a/b/c\"], [\"broker-99999999999\"]]\n".into(),
        "[scenario]\ntitle = \"t\"\n[[faults]]\nat_ms = 1\naction = \"drop\"\nlink = \"->->->\"\ncount = 4294967295\n".into(),
        "[scenario]\ntitle = \"t\"\n[[faults]]\nat_ms = 1\naction = \"crash\"\ntarget = \"leader:x/99999999999999\"\n".into(),
        "[scenario]\r\ntitle = \"t\"\r\nack = 1\r\n".into(),
        "[scenario]\ntitle = \"\t\u{7}\u{1b}[31m\"\nx = 1\n".into(),
    ];
    // Pseudo-random bytes, decoded lossily, and random TOML-ish tokens.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let tokens = [
        "[scenario]",
        "[[producers]]",
        "[[faults]]",
        "[cluster]",
        "title",
        "name",
        "=",
        "\"",
        "\"x\"",
        "1",
        "-1",
        "[",
        "]",
        "{",
        "}",
        ",",
        "\n",
        ".",
        "acks",
        "action",
        "target",
        "\"crash\"",
        "1e9",
        "true",
        "topic",
        "'",
        "\"\"\"",
        "#",
    ];
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..(next() % 200)).map(|_| next() as u8).collect();
        inputs.push(String::from_utf8_lossy(&bytes).into_owned());
        let s: Vec<&str> = (0..(next() % 60))
            .map(|_| tokens[(next() % tokens.len() as u64) as usize])
            .collect();
        inputs.push(s.join(" "));
    }
    for text in &inputs {
        no_panic("garbage.toml", text);
    }
}

#[test]
fn validate_alone_accepts_any_text() {
    // `validate` gets the text for spans; a mismatched or invalid text must not panic.
    let s = minimal();
    assert!(scenario::validate("x.toml", "not toml at all [", &s).is_ok());
    let mut bad = s.clone();
    bad.cluster.brokers = 0;
    let e = scenario::validate("x.toml", "", &bad).unwrap_err();
    assert_eq!(e.line(), Some(1));
}

#[test]
fn large_files_name_the_first_clash() {
    // Many producers with clashing names and many faults with `leader:` targets.
    let text = brokerlab::bench::large_invalid_scenario_toml();
    // How long this takes is measured by `brokerlab bench` (validation), not asserted here.
    let e = scenario::parse("big.toml", &text).unwrap_err();
    assert!(e.message().contains("duplicate producer name `p`"), "{e}");
}

#[test]
fn many_schema_errors_name_the_first() {
    let mut text = String::from("[scenario]\ntitle = \"big\"\n");
    for _ in 0..20_000 {
        text.push_str("\n[[producers]]\nname = \"p\"\ntopic = \"t\"\nack = \"1\"\n");
    }
    let e = scenario::parse("big.toml", &text).unwrap_err();
    assert_eq!(e.line(), Some(7), "{e}");
}

/// The README's "Writing your own" scenario is this fixture, and it ends as the README says.
#[test]
fn the_readme_example_runs_as_described() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("### Writing your own").expect("the section");
    let body = &readme[start..];
    let toml = &body[body.find("```toml\n").unwrap() + 8..];
    let toml = &toml[..toml.find("```\n").unwrap()];
    let (_, fixture) = scenario::load_text("tests/fixtures/valid/readme-example.toml").unwrap();
    assert_eq!(toml, fixture, "README and fixture agree");
    let sc = scenario::parse("readme-example.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    let r = brokerlab::report::run("readme-example.toml", &sc, sc.scenario.seed, |_, _| {});
    assert_eq!(r.outcome.lost, 0);
    assert_eq!(r.outcome.reordered, 1);
    assert_eq!(r.anomalies[0].message, "api#101");
    assert!(body.contains("1 record\nreordered: `api#101`"));
    // acks=1 lost nothing here, and the run says why.
    assert_eq!(r.hints.len(), 1, "{:?}", r.hints);
    assert!(
        r.hints[0].contains("acks=1 yet lost nothing"),
        "{:?}",
        r.hints
    );
}

/// Kafka's dotted names, quoted, set the same fields as the fields' own names.
#[test]
fn kafka_names_are_aliases_of_the_fields() {
    let (_, dotted) = load_fixture("tests/fixtures/valid/kafka-names.toml").unwrap();
    let (_, text) = scenario::load_text("tests/fixtures/valid/kafka-names.toml").unwrap();
    let mut plain = text.clone();
    for (_, field, kafka) in scenario::kafka::KAFKA_NAMES {
        plain = plain.replace(&format!("\"{kafka}\" ="), &format!("{field} ="));
    }
    assert!(!plain.contains("\"auto.offset.reset\""), "{plain}");
    let plain = scenario::parse("plain.toml", &plain).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dotted, plain);
    let g = &dotted.groups[0];
    assert_eq!(g.name, "billing", "group.id names the group");
    assert_eq!(g.auto_offset_reset, scenario::OffsetReset::Earliest);
    assert_eq!(g.isolation_level, scenario::IsolationLevel::ReadCommitted);
    assert_eq!(g.assignor, scenario::Assignor::Roundrobin);
    let p = &dotted.producers[0];
    assert_eq!(p.max_in_flight, 1);
    assert_eq!(p.enable_idempotence, Some(true));
    assert_eq!(p.transactional_id.as_deref(), Some("checkout-tx"));
    assert_eq!(dotted.topics[0].partitions, 2);
    assert_eq!(dotted.cluster.broker_session_timeout_ms, 6000);
    let c = dotted
        .compare
        .as_ref()
        .unwrap()
        .exactly_once
        .as_ref()
        .unwrap();
    assert_eq!(c.max_in_flight, Some(5));
}

fn group_with(line: &str) -> String {
    format!(
        "[scenario]\ntitle = \"t\"\n[[topics]]\nname = \"orders\"\n[[groups]]\nname = \"billing\"\ntopic = \"orders\"\n{line}\n"
    )
}

/// A key close to one of Kafka's names gets the field it stands for, however it is written.
#[test]
fn near_kafka_names_suggest_the_right_field() {
    // Unquoted, TOML makes `auto.offset.reset` a table `auto`: it used to get "did you mean
    // `auto_commit_interval_ms`?".
    let e = scenario::parse("f.toml", &group_with("auto.offset.reset = \"earliest\"")).unwrap_err();
    assert!(e.message().contains("`auto.offset.reset`"), "{e}");
    assert!(
        e.expected()
            .unwrap()
            .contains("`\"auto.offset.reset\" = ...` in quotes, or `auto_offset_reset = ...`"),
        "{e}"
    );
    assert!(!e.to_string().contains("auto_commit_interval_ms`?"), "{e}");
    assert_eq!((e.line(), e.column()), (Some(8), Some(1)));
    assert_eq!(e.location().unwrap().width, "auto.offset.reset".len());
    for (line, field, kafka) in [
        (
            "\"auto.offset.rest\" = \"earliest\"",
            "auto_offset_reset",
            "auto.offset.reset",
        ),
        (
            "auto.offset.rest = \"earliest\"",
            "auto_offset_reset",
            "auto.offset.reset",
        ),
        (
            "\"session.timeout.m\" = 10000",
            "session_timeout_ms",
            "session.timeout.ms",
        ),
        ("\"max.poll\" = 10", "max_poll_records", "max.poll.records"),
        (
            "\"isolation.levle\" = \"read_committed\"",
            "isolation_level",
            "isolation.level",
        ),
    ] {
        let e = scenario::parse("f.toml", &group_with(line)).unwrap_err();
        assert_eq!(
            e.help(),
            Some(format!("did you mean `{field}` (Kafka's `{kafka}`)?").as_str()),
            "{line}: {e}"
        );
        // The list of fields names the fields, not their Kafka aliases.
        assert!(!e.expected().unwrap().contains('.'), "{e}");
    }
    // A Kafka name with no field of its own says what to write instead.
    let e = scenario::parse("f.toml", &group_with("\"enable.auto.commit\" = false")).unwrap_err();
    assert!(e.help().unwrap().contains("`commit = \"auto\"`"), "{e}");
    // Plain typos still get the plain field.
    let e = scenario::parse("f.toml", &group_with("auto_ofset_reset = \"earliest\"")).unwrap_err();
    assert_eq!(e.help(), Some("did you mean `auto_offset_reset`?"));
    // Both names of one field at once.
    let e = scenario::parse(
        "f.toml",
        &group_with("auto_offset_reset = \"earliest\"\n\"auto.offset.reset\" = \"latest\""),
    )
    .unwrap_err();
    assert!(
        e.message().contains("`auto_offset_reset` is set twice"),
        "{e}"
    );
    assert_eq!(e.line(), Some(9), "{e}");
}

/// Validation finds a field written under its Kafka name, and points at it.
#[test]
fn errors_point_at_fields_written_as_kafka_names() {
    let e = scenario::parse("f.toml", &group_with("\"session.timeout.ms\" = 1000")).unwrap_err();
    assert!(e.message().contains("session_timeout_ms = 1000"), "{e}");
    assert_eq!((e.line(), e.column()), (Some(8), Some(24)), "{e}");
    let text = "[scenario]\ntitle = \"t\"\n[[topics]]\nname = \"orders\"\n[[groups]]\n\"group.id\" = \"billing\"\ntopic = \"nope\"\n";
    let e = scenario::parse("f.toml", text).unwrap_err();
    assert_eq!(e.line(), Some(7), "{e}");
}

/// Tables and processes are bounded up front: the first entry past a limit gets the error,
/// at its own line, before anything is simulated.
#[test]
fn table_and_process_limits_point_at_the_first_entry_past_them() {
    let head = "[scenario]\ntitle = \"big\"\n\n[[topics]]\nname = \"t\"\n";
    // 501 producers: the 501st is the first past the limit of 500.
    let mut text = head.to_string();
    for i in 0..501 {
        text.push_str(&format!(
            "\n[[producers]]\nname = \"p{i}\"\ntopic = \"t\"\nsend = {{ count = 1 }}\n"
        ));
    }
    let e = scenario::parse("producers.toml", &text).unwrap_err();
    let line_of_501st = head.lines().count() + 500 * 5 + 2;
    assert_eq!(e.line(), Some(line_of_501st), "{e}");
    assert!(e.to_string().contains("more than the limit of 500"), "{e}");

    // Consumers with embedded producers count three processes each.
    let mut text = head.to_string();
    text.push_str("\n[[topics]]\nname = \"out\"\n\n[[topics]]\nname = \"dlt\"\n");
    text.push_str(
        "\n[[groups]]\nname = \"g\"\ntopic = \"t\"\nconsumers = 500\noutput_topic = \"out\"\ndead_letter_topic = \"dlt\"\ncommit = \"after-process\"\n",
    );
    let e = scenario::parse("nodes.toml", &text).unwrap_err();
    assert!(e.to_string().contains("processes"), "{e}");
    assert!(e.to_string().contains("1504"), "{e}");
    assert_eq!(
        e.line(),
        Some(
            text.lines()
                .position(|l| l.starts_with("consumers"))
                .unwrap()
                + 1
        )
    );

    // 10 001 notes.
    let mut text = head.to_string();
    for _ in 0..10_001 {
        text.push_str("\n[[notes]]\nat_ms = 1\ntext = \"n\"\n");
    }
    let e = scenario::parse("notes.toml", &text).unwrap_err();
    assert!(e.to_string().contains("10001 [[notes]] entries"), "{e}");
}
