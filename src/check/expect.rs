//! Checking an outcome against a scenario's `[expect]` section.

use std::collections::BTreeMap;
use std::fmt::Display;

use super::Outcome;
use crate::scenario::Expect;

/// Run facts that are not part of the message outcome but can be expected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectExtra {
    /// Leader elections that were unclean.
    pub unclean_elections: u64,
    /// Records removed from logs by truncation, over all replicas.
    pub truncated: u64,
    /// Produce errors by Kafka error name (`NOT_ENOUGH_REPLICAS`), from `ProduceError` events.
    pub errors: BTreeMap<String, u64>,
    /// Time partitions could not take writes, summed over partitions, in milliseconds.
    pub unavailable_ms: u64,
    /// Per group by name: what the metrics measured.
    pub groups: BTreeMap<String, GroupCost>,
}

/// A group's measured costs, for `[expect.groups.NAME]` bounds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupCost {
    pub max_lag: u64,
    /// The partition whose own lag peaked highest (none if it never lagged).
    pub max_lag_partition: Option<String>,
    pub longest_rebalance_ms: u64,
    pub final_lag: u64,
    pub out_of_global_order: u64,
}

/// Compares `outcome` (which should be final) with `expect`. Returns one human-readable line per
/// mismatch, e.g. `lost: expected 1, got 0` or `groups.billing.duplicated: expected 0, got 2`;
/// empty means every expectation held. Lines come in a fixed order: totals, then run facts, then
/// errors and groups by name.
pub fn check_expect(expect: &Expect, outcome: &Outcome, extra: &ExpectExtra) -> Vec<String> {
    let mut out = Vec::new();
    let judges_loss = expect.lost.is_some()
        || expect.acked_lost.is_some()
        || expect.verdict.is_some()
        || expect
            .groups
            .values()
            .any(|g| g.lost.is_some() || g.acked_lost.is_some());
    if !outcome.final_ && judges_loss {
        out.push("outcome: the run has not drained, so losses are not counted yet".to_string());
    }

    cmp(&mut out, "sent", expect.sent, outcome.sent);
    cmp(&mut out, "acked", expect.acked, outcome.acked);
    cmp(&mut out, "failed", expect.failed, outcome.failed);
    cmp(&mut out, "lost", expect.lost, outcome.lost);
    cmp(
        &mut out,
        "acked_lost",
        expect.acked_lost,
        outcome.acked_lost,
    );
    cmp(
        &mut out,
        "duplicated",
        expect.duplicated,
        outcome.duplicated,
    );
    cmp(&mut out, "reordered", expect.reordered, outcome.reordered);
    cmp(&mut out, "unseen", expect.unseen, outcome.unseen);
    cmp(&mut out, "aborted", expect.aborted, outcome.aborted);
    cmp(
        &mut out,
        "aborted_read",
        expect.aborted_read,
        outcome.aborted_read,
    );
    cmp(
        &mut out,
        "dead_lettered",
        expect.dead_lettered,
        outcome.dead_lettered,
    );
    cmp(
        &mut out,
        "skipped",
        expect.skipped,
        outcome.lost_by_kind.skipped,
    );
    cmp(
        &mut out,
        "never_written",
        expect.never_written,
        outcome.lost_by_kind.never_written,
    );
    cmp(
        &mut out,
        "lost_truncated",
        expect.lost_truncated,
        outcome.lost_by_kind.truncated,
    );
    if let Some(v) = expect.verdict
        && v != outcome.verdict
    {
        out.push(format!(
            "verdict: expected {}, got {}",
            v.name(),
            outcome.verdict.name()
        ));
    }
    cmp(
        &mut out,
        "unclean_elections",
        expect.unclean_elections,
        extra.unclean_elections,
    );
    cmp(&mut out, "truncated", expect.truncated, extra.truncated);
    at_least(
        &mut out,
        "unavailable_ms_at_least",
        expect.unavailable_ms_at_least,
        extra.unavailable_ms,
    );
    at_most(
        &mut out,
        "unavailable_ms_at_most",
        expect.unavailable_ms_at_most,
        extra.unavailable_ms,
    );
    for (name, &want) in &expect.errors {
        let got = extra.errors.get(name).copied().unwrap_or(0);
        cmp(&mut out, &format!("errors.{name}"), Some(want), got);
    }
    for (name, ge) in &expect.groups {
        let Some(g) = outcome.group(name) else {
            out.push(format!("groups.{name}: no such group in the scenario"));
            continue;
        };
        let field = |f: &str| format!("groups.{name}.{f}");
        cmp(&mut out, &field("applied"), ge.applied, g.applied);
        cmp(&mut out, &field("lost"), ge.lost, g.lost);
        cmp(&mut out, &field("acked_lost"), ge.acked_lost, g.acked_lost);
        cmp(&mut out, &field("duplicated"), ge.duplicated, g.duplicated);
        cmp(&mut out, &field("reordered"), ge.reordered, g.reordered);
        cmp(
            &mut out,
            &field("redelivered"),
            ge.redelivered,
            g.redelivered,
        );
        cmp(&mut out, &field("unseen"), ge.unseen, g.unseen);
        cmp(&mut out, &field("failed"), ge.failed, g.failed);
        cmp(&mut out, &field("aborted"), ge.aborted, g.aborted);
        cmp(
            &mut out,
            &field("aborted_read"),
            ge.aborted_read,
            g.aborted_read,
        );
        cmp(
            &mut out,
            &field("dead_lettered"),
            ge.dead_lettered,
            g.dead_lettered,
        );
        cmp(
            &mut out,
            &field("skipped"),
            ge.skipped,
            g.lost_by_kind.skipped,
        );
        cmp(
            &mut out,
            &field("truncated"),
            ge.truncated,
            g.lost_by_kind.truncated,
        );
        cmp(
            &mut out,
            &field("never_written"),
            ge.never_written,
            g.lost_by_kind.never_written,
        );
        let cost = extra.groups.get(name).cloned().unwrap_or_default();
        at_least(
            &mut out,
            &field("max_lag_at_least"),
            ge.max_lag_at_least,
            cost.max_lag,
        );
        at_most(
            &mut out,
            &field("max_lag_at_most"),
            ge.max_lag_at_most,
            cost.max_lag,
        );
        if let Some(want) = &ge.max_lag_partition
            && cost.max_lag_partition.as_deref() != Some(want.as_str())
        {
            out.push(format!(
                "{}: expected {want}, got {}",
                field("max_lag_partition"),
                cost.max_lag_partition.as_deref().unwrap_or("none")
            ));
        }
        at_least(
            &mut out,
            &field("longest_rebalance_ms_at_least"),
            ge.longest_rebalance_ms_at_least,
            cost.longest_rebalance_ms,
        );
        at_most(
            &mut out,
            &field("longest_rebalance_ms_at_most"),
            ge.longest_rebalance_ms_at_most,
            cost.longest_rebalance_ms,
        );
        at_most(
            &mut out,
            &field("final_lag_at_most"),
            ge.final_lag_at_most,
            cost.final_lag,
        );
        at_least(
            &mut out,
            &field("out_of_global_order_at_least"),
            ge.out_of_global_order_at_least,
            cost.out_of_global_order,
        );
        at_most(
            &mut out,
            &field("out_of_global_order_at_most"),
            ge.out_of_global_order_at_most,
            cost.out_of_global_order,
        );
    }
    out
}

fn at_least(out: &mut Vec<String>, what: &str, bound: Option<u64>, got: u64) {
    if let Some(b) = bound
        && got < b
    {
        out.push(format!("{what}: expected at least {b}, got {got}"));
    }
}

fn at_most(out: &mut Vec<String>, what: &str, bound: Option<u64>, got: u64) {
    if let Some(b) = bound
        && got > b
    {
        out.push(format!("{what}: expected at most {b}, got {got}"));
    }
}

fn cmp<T: PartialEq + Display>(out: &mut Vec<String>, what: &str, want: Option<T>, got: T) {
    if let Some(want) = want
        && want != got
    {
        out.push(format!("{what}: expected {want}, got {got}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{GroupOutcome, verdict};
    use crate::scenario::{GroupExpect, Verdict};

    fn group(name: &str, lost: u64, duplicated: u64) -> GroupOutcome {
        GroupOutcome {
            name: name.to_string(),
            applied: 7,
            lost,
            acked_lost: lost,
            duplicated,
            reordered: 1,
            redelivered: 2,
            dead_lettered: 0,
            unseen: 3,
            failed: 0,
            aborted: 0,
            aborted_read: 0,
            lost_by_kind: crate::check::LostByKind {
                skipped: lost,
                ..Default::default()
            },
            verdict: verdict(lost, duplicated),
            pending: 0,
        }
    }

    /// sent 10, acked 9, failed 1; billing lost 1 dup 0; audit lost 0 dup 2.
    fn outcome() -> Outcome {
        let groups = vec![group("billing", 1, 0), group("audit", 0, 2)];
        Outcome {
            final_: true,
            sent: 10,
            acked: 9,
            failed: 1,
            applied: 14,
            lost: 1,
            acked_lost: 1,
            duplicated: 2,
            reordered: 2,
            redelivered: 4,
            unseen: 6,
            aborted: 0,
            aborted_read: 0,
            dead_lettered: 0,
            lost_by_kind: crate::check::LostByKind {
                skipped: 1,
                ..Default::default()
            },
            verdict: Verdict::None,
            pending: 0,
            at_risk: 0,
            above_hw: 0,
            groups,
        }
    }

    fn extra() -> ExpectExtra {
        ExpectExtra {
            unavailable_ms: 0,
            groups: BTreeMap::new(),
            unclean_elections: 1,
            truncated: 3,
            errors: BTreeMap::from([("NOT_ENOUGH_REPLICAS".to_string(), 3)]),
        }
    }

    fn matching() -> Expect {
        Expect {
            sent: Some(10),
            acked: Some(9),
            failed: Some(1),
            lost: Some(1),
            acked_lost: Some(1),
            duplicated: Some(2),
            reordered: Some(2),
            verdict: Some(Verdict::None),
            unclean_elections: Some(1),
            truncated: Some(3),
            errors: BTreeMap::from([("NOT_ENOUGH_REPLICAS".to_string(), 3)]),
            unseen: Some(6),
            skipped: Some(1),
            aborted: Some(0),
            groups: BTreeMap::from([
                (
                    "billing".to_string(),
                    GroupExpect {
                        applied: Some(7),
                        lost: Some(1),
                        acked_lost: Some(1),
                        duplicated: Some(0),
                        reordered: Some(1),
                        redelivered: Some(2),
                        unseen: Some(3),
                        skipped: Some(1),
                        ..GroupExpect::default()
                    },
                ),
                (
                    "audit".to_string(),
                    GroupExpect {
                        duplicated: Some(2),
                        ..GroupExpect::default()
                    },
                ),
            ]),
            ..Expect::default()
        }
    }

    #[test]
    fn passes_when_everything_matches() {
        assert_eq!(
            check_expect(&matching(), &outcome(), &extra()),
            Vec::<String>::new()
        );
        // An empty expectation checks nothing.
        assert!(check_expect(&Expect::default(), &outcome(), &extra()).is_empty());
    }

    #[test]
    fn reports_each_total_mismatch() {
        let e = Expect {
            sent: Some(11),
            acked: Some(8),
            failed: Some(0),
            lost: Some(0),
            acked_lost: Some(2),
            duplicated: Some(0),
            reordered: Some(5),
            verdict: Some(Verdict::ExactlyOnce),
            unclean_elections: Some(0),
            truncated: Some(4),
            ..Expect::default()
        };
        assert_eq!(
            check_expect(&e, &outcome(), &extra()),
            vec![
                "sent: expected 11, got 10",
                "acked: expected 8, got 9",
                "failed: expected 0, got 1",
                "lost: expected 0, got 1",
                "acked_lost: expected 2, got 1",
                "duplicated: expected 0, got 2",
                "reordered: expected 5, got 2",
                "verdict: expected exactly-once, got none",
                "unclean_elections: expected 0, got 1",
                "truncated: expected 4, got 3",
            ]
        );
    }

    #[test]
    fn checks_cost_bounds() {
        let mut x = extra();
        x.unavailable_ms = 9_000;
        x.groups.insert(
            "billing".to_string(),
            super::super::GroupCost {
                max_lag: 40,
                max_lag_partition: Some("orders/1".to_string()),
                longest_rebalance_ms: 1_800,
                final_lag: 0,
                out_of_global_order: 3,
            },
        );
        let within = Expect {
            unavailable_ms_at_least: Some(9_000),
            unavailable_ms_at_most: Some(10_000),
            groups: BTreeMap::from([(
                "billing".to_string(),
                GroupExpect {
                    max_lag_at_least: Some(30),
                    max_lag_at_most: Some(40),
                    max_lag_partition: Some("orders/1".to_string()),
                    longest_rebalance_ms_at_least: Some(1_500),
                    final_lag_at_most: Some(0),
                    out_of_global_order_at_least: Some(1),
                    ..GroupExpect::default()
                },
            )]),
            ..Expect::default()
        };
        assert!(check_expect(&within, &outcome(), &x).is_empty());
        let outside = Expect {
            unavailable_ms_at_most: Some(5_000),
            groups: BTreeMap::from([(
                "billing".to_string(),
                GroupExpect {
                    max_lag_at_least: Some(41),
                    max_lag_partition: Some("orders/0".to_string()),
                    longest_rebalance_ms_at_most: Some(1_000),
                    out_of_global_order_at_most: Some(0),
                    ..GroupExpect::default()
                },
            )]),
            ..Expect::default()
        };
        assert_eq!(
            check_expect(&outside, &outcome(), &x),
            vec![
                "unavailable_ms_at_most: expected at most 5000, got 9000",
                "groups.billing.max_lag_at_least: expected at least 41, got 40",
                "groups.billing.max_lag_partition: expected orders/0, got orders/1",
                "groups.billing.longest_rebalance_ms_at_most: expected at most 1000, got 1800",
                "groups.billing.out_of_global_order_at_most: expected at most 0, got 3",
            ]
        );
    }

    #[test]
    fn reports_error_count_mismatches() {
        let e = Expect {
            errors: BTreeMap::from([
                ("NOT_ENOUGH_REPLICAS".to_string(), 2),
                ("REQUEST_TIMED_OUT".to_string(), 1),
                ("NOT_LEADER_OR_FOLLOWER".to_string(), 0),
            ]),
            ..Expect::default()
        };
        assert_eq!(
            check_expect(&e, &outcome(), &extra()),
            vec![
                "errors.NOT_ENOUGH_REPLICAS: expected 2, got 3",
                "errors.REQUEST_TIMED_OUT: expected 1, got 0",
            ]
        );
    }

    #[test]
    fn reports_group_mismatches_and_missing_groups() {
        let e = Expect {
            groups: BTreeMap::from([
                (
                    "billing".to_string(),
                    GroupExpect {
                        applied: Some(8),
                        lost: Some(0),
                        acked_lost: Some(0),
                        duplicated: Some(1),
                        reordered: Some(0),
                        redelivered: Some(0),
                        unseen: Some(2),
                        skipped: Some(0),
                        ..GroupExpect::default()
                    },
                ),
                (
                    "audit".to_string(),
                    GroupExpect {
                        duplicated: Some(0),
                        ..GroupExpect::default()
                    },
                ),
                ("ghost".to_string(), GroupExpect::default()),
            ]),
            ..Expect::default()
        };
        assert_eq!(
            check_expect(&e, &outcome(), &extra()),
            vec![
                "groups.audit.duplicated: expected 0, got 2",
                "groups.billing.applied: expected 8, got 7",
                "groups.billing.lost: expected 0, got 1",
                "groups.billing.acked_lost: expected 0, got 1",
                "groups.billing.duplicated: expected 1, got 0",
                "groups.billing.reordered: expected 0, got 1",
                "groups.billing.redelivered: expected 0, got 2",
                "groups.billing.unseen: expected 2, got 3",
                "groups.billing.skipped: expected 0, got 1",
                "groups.ghost: no such group in the scenario",
            ]
        );
    }

    #[test]
    fn warns_when_judging_losses_before_the_run_drained() {
        let mut o = outcome();
        o.final_ = false;
        let e = Expect {
            lost: Some(1),
            ..Expect::default()
        };
        assert_eq!(
            check_expect(&e, &o, &extra()),
            vec!["outcome: the run has not drained, so losses are not counted yet"]
        );
        // Expectations that do not depend on losses don't need a final outcome.
        let e = Expect {
            sent: Some(10),
            ..Expect::default()
        };
        assert!(check_expect(&e, &o, &extra()).is_empty());
    }
}
