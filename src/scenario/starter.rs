//! The scenario `brokerlab new NAME` writes: small, valid, every line commented with what it
//! does and its Kafka name, and with an `[expect]` that holds.

/// The starter scenario, titled after `name` (the file's stem).
pub fn starter(name: &str) -> String {
    // A TOML string of the title, quotes and escapes included.
    let title = toml::Value::String(format!("{name}: acks=all through a leader crash")).to_string();
    TEMPLATE.replace("@NAME@", name).replace("@TITLE@", &title)
}

const TEMPLATE: &str = r#"# @NAME@: a scenario to start from, written by `brokerlab new`.
#
#   brokerlab run @NAME@.toml      the narrated run, its outcome and what it cost
#   brokerlab tui @NAME@.toml      the same run, step by step, in the interactive view
#   brokerlab check @NAME@.toml    validates the file and checks its [expect]
#
# Every table and field, with its Kafka name, default and limits: docs/scenarios.md in the
# BrokerLab repository (the `# docs/scenarios.md#...` comments below name the sections).
# Fields are Kafka's config names with `_` for `.`; Kafka's own names work too, in quotes:
# `"auto.offset.reset" = "earliest"`.
#
# The story: checkout writes orders with acks=all. At 4 s the leader of orders/0 crashes; the
# controller fences it once broker.session.timeout.ms (9 s) passes without a heartbeat and
# elects an in-sync follower. Nothing acknowledged is lost, nothing is applied twice.
# Then try: acks = "1", and a `pause` of the followers before the crash (docs/scenarios.md#pause).

[scenario]                          # docs/scenarios.md#scenario
title = @TITLE@  # one line, shown in listings and in the run's header
seed = 1                            # every random choice comes from it; `--seed N` overrides it
stop_at_ms = 20000                  # the script ends at 20 s; then the run drains and is judged

[cluster]                           # docs/scenarios.md#cluster
brokers = 3                         # broker-1, broker-2, broker-3 (and one KRaft `controller`)

[[topics]]                          # docs/scenarios.md#topics
name = "orders"                     # partitions orders/0 and orders/1
partitions = 2                      # num.partitions
replication_factor = 3              # replication.factor: a copy on every broker
min_insync_replicas = 2             # min.insync.replicas: acks=all needs 2 in-sync copies

[[producers]]                       # docs/scenarios.md#producers
name = "checkout"                   # its messages are checkout#1, checkout#2, ...
topic = "orders"                    # the topic it writes to
acks = "all"                        # acks: every in-sync replica has a write before it is acked
# 100 keyed records, one every 50 ms from 1 s; a key always goes to the same partition
# (docs/scenarios.md#send).
send = { count = 100, every_ms = 50, start_ms = 1000, keys = ["alice", "bob", "carol"] }

[[groups]]                          # docs/scenarios.md#groups
name = "billing"                    # group.id
topic = "orders"                    # the topic it reads
commit = "after-process"            # commit offsets after processing (enable.auto.commit=false)
auto_offset_reset = "earliest"      # auto.offset.reset: from the start (Kafka's default: latest)

[[faults]]                          # docs/scenarios.md#crash
at_ms = 4000                        # at 4 s,
action = "crash"                    # the process dies (`restart` would bring it back)
target = "leader:orders/0"          # whichever broker leads orders/0 at that moment

[[notes]]                           # docs/scenarios.md#notes: narration
at_ms = 4000                        # shown at 4 s, as the crash happens
# The line itself (`run` prints it as "» ...", the interactive view highlights it).
text = "The leader of orders/0 crashes. With acks=all, every write it acknowledged is on an in-sync follower too."

[expect]                            # docs/scenarios.md#expect: `run` and `check` compare
sent = 100                          # messages checkout sent
acked = 100                         # all of them acknowledged, some after the failover
lost = 0                            # none lost: acks=all with min.insync.replicas=2
duplicated = 0                      # none applied twice: idempotence is on with acks=all
verdict = "exactly-once"            # neither lost nor duplicated
# orders/0 takes no writes from the crash until the controller fences broker-1 and elects a
# new leader: about 7 s here (docs/scenarios.md#cost-bounds).
unavailable_ms_at_least = 5000      # at least 5 s without a leader for orders/0,
unavailable_ms_at_most = 9000       # at most broker.session.timeout.ms (9 s)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_is_valid_and_its_expectations_hold() {
        for name in ["my-first", "odd \"name\" \\ here"] {
            let text = starter(name);
            let sc =
                crate::scenario::parse("starter.toml", &text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                sc.scenario.title,
                format!("{name}: acks=all through a leader crash")
            );
            let r = crate::report::run("starter.toml", &sc, sc.scenario.seed, |_, _| {});
            let e = r.expect.as_ref().expect("an [expect]");
            assert!(e.passed, "{:?}", e.failures);
        }
    }

    #[test]
    fn every_setting_is_commented() {
        // A comment at the end of the line, or on the line above.
        let text = starter("x");
        let mut above = false;
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() {
                above = false;
                continue;
            }
            if t.starts_with('#') {
                above = true;
                continue;
            }
            assert!(above || t.contains(" # "), "no comment: {line}");
            above = false;
        }
    }
}
