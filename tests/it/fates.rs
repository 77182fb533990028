//! Fates and anomalies on real runs: the bundled scenarios and a no-fault run with Kafka's
//! defaults (issue 9).

use brokerlab::check::{AnomalyKind, verdict};
use brokerlab::compare;
use brokerlab::explain::Change;
use brokerlab::report::{self, Report};
use brokerlab::scenario::{self, Scenario};

use crate::util::{brokerlab, stderr, stdout};

const DEFAULTS: &str = "tests/fixtures/valid/defaults-latest.toml";

fn load(arg: &str) -> Scenario {
    let path = format!("{}/{arg}", env!("CARGO_MANIFEST_DIR"));
    let arg = if std::path::Path::new(&path).exists() {
        path
    } else {
        arg.to_string()
    };
    scenario::load(&arg).expect("scenario loads").1
}

fn run(arg: &str) -> Report {
    let sc = load(arg);
    report::run(arg, &sc, sc.scenario.seed, |_, _| {})
}

#[test]
fn kafka_defaults_skip_what_came_before_the_group_joined() {
    let r = run(DEFAULTS);
    let b = &r.groups["billing"];
    // Every record is in the log: nothing was truncated or never written, and the group
    // skipped the ones sent before it joined at `latest`.
    assert_eq!(r.produced.sent, 100);
    assert!(r.truncations.is_empty());
    assert!((55..=65).contains(&b.lost), "{b:?}");
    assert_eq!(b.lost_by_kind.skipped, b.lost);
    assert_eq!(b.lost_by_kind.truncated + b.lost_by_kind.never_written, 0);
    assert_eq!(b.applied + b.lost, 100);
    assert_eq!(b.unseen, 0);
    let names = r.logs.names();
    let logs = &names["orders/0"];
    for replica in logs.values() {
        assert_eq!(replica.len(), 100, "every record is in every replica's log");
    }
    // Every skipped message is explained by auto.offset.reset=latest, and the fix is verified.
    assert_eq!(r.anomalies.len() as u64, b.lost);
    for a in &r.anomalies {
        assert_eq!(a.kind, AnomalyKind::Skipped);
        assert_eq!(a.config, "auto.offset.reset=latest");
        assert!(a.cause.contains("auto.offset.reset=latest"), "{}", a.cause);
        let p = a.prevented_by.as_ref().expect("a preventing change");
        assert_eq!(p.change, Change::Earliest.text());
        assert!(p.verified, "{}", a.message);
    }
    assert_eq!(r.anomalies[0].message, "checkout#1");
}

#[test]
fn run_warns_about_a_group_that_starts_at_latest_and_explains_why() {
    let o = brokerlab(&["run", DEFAULTS]);
    let err = stderr(&o);
    assert!(err.contains("starts at `latest`"), "{err}");
    assert!(err.contains("skip about 60 records"), "{err}");
    assert!(err.contains("auto_offset_reset = \"earliest\""), "{err}");
    let out = stdout(&o);
    let why = out.split("\nWhy\n").nth(1).expect("a Why section");
    assert!(why.contains("lost (skipped): checkout#1, #2"), "{why}");
    assert!(why.contains("… and "), "long lists are capped: {why}");
    assert!(why.contains("config: auto.offset.reset=latest"), "{why}");
    assert!(
        why.contains("prevented by: auto_offset_reset = \"earliest\" (verified"),
        "{why}"
    );
    // The same scenario with earliest: no warning, nothing lost.
    let o = brokerlab(&["run", "scenarios/tour.toml", "--quiet"]);
    assert!(!stderr(&o).contains("starts at `latest`"));
    // A Redis stream consumer group reads what the stream holds: Kafka's auto.offset.reset
    // and initial rebalance delay do not apply, so there is nothing to warn about.
    let o = brokerlab(&["run", "redis-stream-claim", "--quiet"]);
    assert!(!stderr(&o).contains("starts at `latest`"), "{}", stderr(&o));
}

#[test]
fn json_lists_fates_and_anomalies() {
    let o = brokerlab(&["run", DEFAULTS, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    for key in [
        "applied",
        "lost",
        "acked_lost",
        "unseen",
        "failed",
        "aborted",
        "aborted_read",
        "dead_lettered",
        "duplicated",
        "reordered",
        "verdict",
    ] {
        assert!(v["outcome"].get(key).is_some(), "outcome.{key}");
        assert!(
            v["groups"]["billing"].get(key).is_some(),
            "groups.billing.{key}"
        );
    }
    let a = &v["anomalies"][0];
    assert_eq!(a["message"], "checkout#1");
    assert_eq!(a["group"], "billing");
    assert_eq!(a["kind"], "skipped");
    assert_eq!(a["prevented_by"]["verified"], true);
    // The chain runs from the send to the reset that skipped it, naming the setting.
    let chain: Vec<&str> = a["chain"]
        .as_array()
        .expect("a chain")
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert!(chain[0].contains("sends checkout#1"), "{chain:?}");
    assert!(
        chain.last().unwrap().contains("auto.offset.reset=latest"),
        "{chain:?}"
    );
}

#[test]
fn read_committed_is_exactly_once_with_the_aborted_records_counted() {
    let r = run("txn-read-committed");
    let b = &r.groups["billing"];
    assert_eq!((b.lost, b.aborted, b.aborted_read), (0, 3, 0));
    assert_eq!(b.verdict, scenario::Verdict::ExactlyOnce);
    let d = &r.groups["dashboard"];
    assert_eq!((d.aborted, d.aborted_read, d.applied), (0, 3, 17));
    let reads: Vec<&str> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::AbortedRead)
        .map(|a| a.message.as_str())
        .collect();
    assert_eq!(reads, ["checkout#5", "checkout#6", "checkout#7"]);
    for a in r.anomalies.iter() {
        assert_eq!(a.group, "dashboard");
        let p = a.prevented_by.as_ref().unwrap();
        assert_eq!(p.change, Change::ReadCommitted.text());
        assert!(p.verified);
    }
    assert_eq!(r.outcome.verdict, scenario::Verdict::ExactlyOnce);
}

#[test]
fn a_blocking_poison_message_leaves_records_unseen_not_lost() {
    let r = run("poison-message-stuck");
    let b = &r.groups["billing"];
    // orders/1 holds no poison record and is applied; orders/0 starts with shop#2 and all of
    // its 10 records wait behind it.
    assert_eq!((b.applied, b.lost, b.acked_lost, b.unseen), (10, 0, 0, 10));
    assert_eq!(b.verdict, scenario::Verdict::ExactlyOnce);
    assert!(r.anomalies.is_empty());
}

#[test]
fn compare_gives_each_preset_its_own_verdict() {
    let sc = load("txn-read-committed");
    let variants = compare::variants("txn-read-committed", &sc).unwrap();
    let r = compare::compare("txn-read-committed", &sc, &variants, sc.scenario.seed);
    for v in &r.outcomes {
        let o = &v.outcome;
        assert_eq!(o.verdict, verdict(o.lost, o.duplicated), "{}", v.preset);
        for g in &o.groups {
            assert_eq!(
                g.verdict,
                verdict(g.lost, g.duplicated),
                "{} {}",
                v.preset,
                g.name
            );
        }
    }
    // Only the exactly-once preset keeps the transactions: its read_committed billing does
    // not apply the aborted records and is still exactly-once.
    let eos = r
        .outcomes
        .iter()
        .find(|v| v.preset == "exactly-once")
        .unwrap();
    let b = eos.outcome.group("billing").unwrap();
    assert_eq!((b.aborted, b.lost), (3, 0));
    assert_eq!(b.verdict, scenario::Verdict::ExactlyOnce);
    for v in r.outcomes.iter().filter(|v| v.preset != "exactly-once") {
        assert_eq!(v.outcome.aborted, 0, "{}", v.preset);
    }
}

#[test]
fn prevented_by_is_verified_by_a_rerun() {
    // acks=1 failover: the truncated messages come out right with acks=all.
    let r = run("acks1-leader-failover");
    let truncated: Vec<_> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::Truncated)
        .collect();
    assert_eq!(truncated.len() as u64, r.outcome.lost);
    assert!(!truncated.is_empty());
    for a in &truncated {
        assert_eq!(a.config, "acks=1");
        assert!(
            a.cause.contains("was elected leader at epoch"),
            "{}",
            a.cause
        );
        let p = a.prevented_by.as_ref().unwrap();
        assert_eq!(p.change, Change::Durable.text());
        assert!(p.verified, "{}", a.message);
    }
    // And the re-run it relies on really applies them.
    let sc = load("acks1-leader-failover");
    let durable = Change::Durable.apply(&sc);
    let again = report::run("durable", &durable, sc.scenario.seed, |_, _| {});
    assert_eq!(again.outcome.lost, 0);

    // Duplicates from a consumer re-reading after a crash are not the producer's: the change
    // is a deduplicating sink, not idempotence, and the re-run confirms it.
    let r = run("consumer-crash-after-process");
    let dup: Vec<_> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::Duplicated)
        .collect();
    assert!(!dup.is_empty());
    for a in dup {
        let p = a.prevented_by.as_ref().unwrap();
        assert_eq!(p.change, Change::Dedup.text());
        assert!(p.verified, "{}", a.message);
    }
}

#[test]
fn bundled_guarantees_match_a_groups_verdict() {
    let mut bad = Vec::new();
    for b in scenario::bundled() {
        let sc = b.parse().unwrap();
        let g = sc.scenario.guarantee.name();
        if !matches!(g, "at-most-once" | "at-least-once" | "exactly-once") {
            continue;
        }
        let r = report::run(&b.label(), &sc, sc.scenario.seed, |_, _| {});
        if !r.outcome.groups.iter().any(|o| o.verdict.name() == g) {
            bad.push(format!(
                "{}: guarantee {g}, verdicts {:?}",
                b.name, r.outcome.groups
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
