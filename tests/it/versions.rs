//! Kafka version profiles (`[cluster] kafka_version`): a profile sets its release's defaults, an
//! explicit setting wins, and a setting the release did not have is refused where it is written.

use brokerlab::report;
use brokerlab::scenario::{self, Acks, profile::KafkaVersion};

use crate::util::{TempDir, brokerlab_in, stderr};

/// `acks1-leader-failover` without its `acks = "1"` line: the producer's acks come from the
/// profile.
fn failover_without_acks(version: &str) -> String {
    let b = scenario::find_bundled("acks1-leader-failover").expect("bundled");
    let text = b.text.replace("acks = \"1\"\n", "");
    assert_ne!(text, b.text, "the scenario sets acks = \"1\"");
    text.replace(
        "[cluster]\n",
        &format!("[cluster]\nkafka_version = \"{version}\"\n"),
    )
}

fn acked_lost(text: &str) -> (Acks, u64) {
    let sc = scenario::parse("failover.toml", text).expect("valid");
    let r = report::run("failover.toml", &sc, sc.scenario.seed, |_, _| {});
    (sc.producers[0].acks, r.outcome.acked_lost)
}

#[test]
fn without_explicit_acks_2_8_loses_acknowledged_writes_and_4_2_does_not() {
    // 2.8: acks=1 by default (KIP-679 made it all in 3.0): the writes only the dead leader had
    // were acknowledged, and they are gone.
    let (acks, lost) = acked_lost(&failover_without_acks("2.8"));
    assert_eq!(acks, Acks::Leader);
    assert!(lost > 0, "2.8 lost no acknowledged write");
    // 4.2: acks=all: nothing the producer was told is written can be lost to this failover.
    let (acks, lost) = acked_lost(&failover_without_acks("4.2"));
    assert_eq!(acks, Acks::All);
    assert_eq!(lost, 0);
}

#[test]
fn an_explicit_acks_wins_over_the_profile() {
    let b = scenario::find_bundled("acks1-leader-failover").expect("bundled");
    let text = b
        .text
        .replace("[cluster]\n", "[cluster]\nkafka_version = \"4.2\"\n");
    let (acks, lost) = acked_lost(&text);
    assert_eq!(acks, Acks::Leader);
    assert!(lost > 0);
}

const BASE: &str = "[scenario]\ntitle = \"t\"\n\n[cluster]\nkafka_version = \"VERSION\"\n\n\
                    [[topics]]\nname = \"t\"\n\n[[producers]]\nname = \"p\"\ntopic = \"t\"\nPRODUCER\
                    send = { count = 1 }\n\n[[groups]]\nname = \"g\"\ntopic = \"t\"\nGROUP";

fn file(version: &str, producer: &str, group: &str) -> String {
    BASE.replace("VERSION", version)
        .replace("PRODUCER", producer)
        .replace("GROUP", group)
}

#[test]
fn a_setting_the_release_did_not_have_is_refused_where_it_is_written() {
    let cases = [
        // (version, producer lines, group lines, line, column, introduced in, source)
        (
            "0.10",
            "enable_idempotence = true\n",
            "",
            13,
            22,
            "0.11",
            "KIP-98",
        ),
        (
            "0.10",
            "transactional_id = \"tx\"\n",
            "",
            13,
            20,
            "0.11",
            "KIP-98",
        ),
        (
            "0.10",
            "delivery_timeout_ms = 60000\n",
            "",
            13,
            23,
            "2.1",
            "KIP-91",
        ),
        (
            "0.10",
            "",
            "isolation_level = \"read_committed\"\n",
            18,
            19,
            "0.11",
            "KIP-98",
        ),
        (
            "0.10",
            "",
            "assignor = \"cooperative-sticky\"\n",
            18,
            12,
            "2.4",
            "KIP-429",
        ),
        (
            "2.8",
            "retry_backoff_max_ms = 5000\n",
            "",
            13,
            24,
            "3.7",
            "KIP-580",
        ),
    ];
    for (version, producer, group, line, column, since, source) in cases {
        let text = file(version, producer, group);
        let e = scenario::parse("v.toml", &text).expect_err(&text);
        assert_eq!(
            (e.line(), e.column()),
            (Some(line), Some(column)),
            "{}",
            e.message()
        );
        assert!(
            e.message()
                .contains(&format!("did not exist in Kafka {version}"))
                && e.message()
                    .contains(&format!("came in Kafka {since} ({source})")),
            "{}",
            e.message()
        );
        // The same settings are fine under the newest profile.
        let newest = file("4.2", producer, group);
        scenario::parse("v.toml", &newest).expect("valid under 4.2");
    }
}

#[test]
fn the_value_a_release_behaved_as_anyway_is_accepted() {
    // What a saved 0.10 session writes: every value, each the one 0.10 had.
    let text = file(
        "0.10",
        "enable_idempotence = false\nretries = 0\ndelivery_timeout_ms = 30000\n",
        "isolation_level = \"read_uncommitted\"\n",
    );
    let sc = scenario::parse("v.toml", &text).expect("valid");
    assert_eq!(sc.cluster.kafka_version, KafkaVersion::V0_10);
    // A saved session round-trips.
    let saved = toml::to_string(&sc).unwrap();
    let again = scenario::parse("saved.toml", &saved).expect("the saved file loads");
    assert_eq!(again.producers, sc.producers);
    assert_eq!(again.cluster, sc.cluster);
}

#[test]
fn an_unknown_version_is_refused_with_the_profiles() {
    let text = file("3.5", "", "");
    let e = scenario::parse("v.toml", &text).expect_err("3.5 has no profile");
    assert_eq!(e.line(), Some(5));
    let all = format!("{} {:?}", e.message(), e.expected());
    for v in KafkaVersion::ALL {
        assert!(all.contains(v.name()), "{all}");
    }
}

#[test]
fn the_cli_exits_2_on_a_refused_setting() {
    let tmp = TempDir::new("versions");
    let dir = tmp.path().to_path_buf();
    std::fs::write(
        dir.join("old.toml"),
        file("0.10", "transactional_id = \"tx\"\n", ""),
    )
    .unwrap();
    let o = brokerlab_in(&dir, &["run", "old.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("old.toml:13:20"), "{err}");
    assert!(err.contains("Kafka 0.11 (KIP-98)"), "{err}");
}

#[test]
fn run_names_a_non_default_profile_and_what_it_chose() {
    let tmp = TempDir::new("versions-run");
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("f28.toml"), failover_without_acks("2.8")).unwrap();
    std::fs::write(dir.join("f42.toml"), failover_without_acks("4.2")).unwrap();
    let old = brokerlab_in(&dir, &["run", "f28.toml"]);
    let new = brokerlab_in(&dir, &["run", "f42.toml"]);
    let json = brokerlab_in(&dir, &["run", "f28.toml", "--json"]);
    let old = String::from_utf8_lossy(&old.stdout).to_string();
    let line = old
        .lines()
        .find(|l| l.starts_with("Kafka 2.8 profile: "))
        .unwrap_or_else(|| panic!("no profile line in\n{old}"));
    assert!(
        line.contains("acks=1") && line.contains("enable.idempotence=false"),
        "{line}"
    );
    assert!(line.ends_with("(defaults of that release)"), "{line}");
    assert!(!String::from_utf8_lossy(&new.stdout).contains(" profile: "));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(v["kafka_version"], "2.8");
    assert!(
        v["profile_defaults"]
            .as_array()
            .unwrap()
            .contains(&"acks=1".into())
    );
}

#[test]
fn compare_versions_runs_each_profile_and_lists_the_settings_that_differ() {
    use brokerlab::compare;
    let sc = scenario::parse("failover.toml", &failover_without_acks("4.2")).expect("valid");
    let r = compare::compare_versions(
        "failover.toml",
        &sc,
        &[KafkaVersion::V2_8, KafkaVersion::V4_2],
        sc.scenario.seed,
    );
    let names: Vec<&str> = r.outcomes.iter().map(|o| o.preset).collect();
    assert_eq!(names, ["2.8", "4.2"]);
    assert!(r.outcomes[0].outcome.acked_lost > 0);
    assert_eq!(r.outcomes[1].outcome.acked_lost, 0);
    let v = r.versions.as_ref().expect("a versions section");
    assert!(v.refused.is_empty());
    let acks = v
        .differing
        .iter()
        .find(|x| x.who == "checkout" && x.setting == "acks")
        .expect("acks differs");
    assert_eq!(acks.values, ["1", "all"]);
    // The same seed and workload: every message sent under both.
    assert_eq!(r.outcomes[0].outcome.sent, r.outcomes[1].outcome.sent);
    let text = compare::text(&r);
    assert!(text.contains("Settings that differ"), "{text}");
}

#[test]
fn a_version_that_refuses_the_scenario_gets_a_column_saying_so() {
    let o = crate::util::brokerlab(&[
        "compare",
        "txn-coordinator-failover",
        "--versions",
        "4.2,0.10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("0.10") && l.contains("4.2"))
        .unwrap_or_else(|| panic!("no column header in\n{text}"));
    assert!(
        header.find("0.10") < header.find("4.2"),
        "oldest first: {header}"
    );
    assert!(
        text.contains("0.10           refuses the scenario:"),
        "{text}"
    );
    assert!(text.contains("came in Kafka 0.11 (KIP-98)"), "{text}");
    let sent = text
        .lines()
        .find(|l| l.trim_start().starts_with("sent"))
        .unwrap();
    assert!(sent.contains("refused"), "{sent}");

    let o = crate::util::brokerlab(&[
        "compare",
        "txn-coordinator-failover",
        "--versions",
        "0.10,4.2",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["versions"]["columns"], serde_json::json!(["0.10", "4.2"]));
    assert_eq!(v["versions"]["refused"][0]["version"], "0.10");
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 1);
    assert_eq!(v["outcomes"][0]["preset"], "4.2");
    // The presets comparison has no versions section.
    let o = crate::util::brokerlab(&["compare", "acks1-leader-failover", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(v.get("versions").is_none());
}

#[test]
fn an_unknown_version_in_the_list_exits_2() {
    let o = crate::util::brokerlab(&["compare", "acks1-leader-failover", "--versions", "0.10,3.5"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("`3.5`") && err.contains("0.10, 2.8, 3.9, 4.0, 4.2"),
        "{err}"
    );
}

/// How many of producer `p`'s records each partition of topic `t` holds (on its fullest replica).
fn keyless_spread(version: &str) -> Vec<usize> {
    let text = "[scenario]\ntitle = \"t\"\nstop_at_ms = 5000\n\n[cluster]\nkafka_version = \"VERSION\"\n\n\
                [[topics]]\nname = \"t\"\npartitions = 3\n\n[[producers]]\nname = \"p\"\ntopic = \"t\"\n\
                send = { count = 30, every_ms = 20, start_ms = 500 }\n"
        .replace("VERSION", version);
    let sc = scenario::parse("keyless.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let r = report::run("keyless.toml", &sc, sc.scenario.seed, |_, _| {});
    (0..3)
        .map(|q| {
            r.logs.names()[&format!("t/{q}")]
                .values()
                .map(|log| log.iter().filter(|e| e.starts_with("p#")).count())
                .max()
                .unwrap_or(0)
        })
        .collect()
}

#[test]
fn the_keyless_partitioner_follows_the_profile() {
    // Each record goes out in a batch of its own (sent every 20 ms, linger.ms at most 5).
    // 4.2, KIP-794: one partition until batch.size (100 records) has been produced to it.
    let spread = keyless_spread("4.2");
    assert!(spread.contains(&30), "4.2: {spread:?}");
    // 2.8, KIP-480: a new partition after every batch: all three get some.
    let spread = keyless_spread("2.8");
    assert_eq!(spread.iter().sum::<usize>(), 30);
    assert!(spread.iter().all(|&n| n > 0), "2.8: {spread:?}");
    // 0.10, round-robin: each record to the next partition, 10 each.
    assert_eq!(keyless_spread("0.10"), [10, 10, 10]);
    // An explicit partitioner wins over the profile.
    let sc = scenario::parse(
        "p.toml",
        &file("0.10", "partitioner = \"uniform-sticky\"\n", ""),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sc.producers[0].partitioner(),
        scenario::Partitioner::UniformSticky
    );
}
