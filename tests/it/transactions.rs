//! Transactions and exactly-once (KIP-98, KIP-447): what each isolation level reads, the LSO,
//! zombie fencing, transaction timeouts, coordinator failover and read-process-write pipelines.

use brokerlab::report::{self, Report};
use brokerlab::scenario;
use brokerlab::sim::{Sim, Trace};

const BASE: &str = r#"
[scenario]
title = "txn test"
seed = 3
stop_at_ms = 20000

[cluster]
brokers = 3

[[topics]]
name = "payments"
partitions = 1
replication_factor = 3
min_insync_replicas = 2
"#;

fn parse(extra: &str) -> scenario::Scenario {
    let text = format!("{BASE}{extra}");
    scenario::parse("test.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn run_with_trace(extra: &str) -> (Report, Vec<Trace>) {
    let (r, trace, _) = run_named(extra);
    (r, trace)
}

/// Also returns (group, message name) for every application, in order.
fn run_named(extra: &str) -> (Report, Vec<Trace>, Vec<(String, String)>) {
    let sc = parse(extra);
    let mut trace = Vec::new();
    let mut applied = Vec::new();
    let r = report::run("test.toml", &sc, sc.scenario.seed, |sim, ev| {
        if let Trace::Applied { group, msg, .. } = &ev.kind {
            applied.push((sim.groups()[group.idx()].name.clone(), sim.msg_name(*msg)));
        }
        trace.push(ev.kind.clone())
    });
    (r, trace, applied)
}

const TWO_READERS: &str = r#"
[[groups]]
name = "committed"
topic = "payments"
isolation_level = "read_committed"
commit = "after-process"
auto_offset_reset = "earliest"

[[groups]]
name = "uncommitted"
topic = "payments"
isolation_level = "read_uncommitted"
commit = "after-process"
auto_offset_reset = "earliest"
"#;

/// The producer crashes in the middle of its second transaction (records 5 and 6 are written,
/// 7 and 8 not yet) and restarts: its InitProducerId aborts the open transaction.
const CRASH_MID_TXN: &str = r#"
[[producers]]
name = "ledger"
topic = "payments"
transactional_id = "ledger-tx"
transaction_size = 4
send = { count = 12, every_ms = 200, start_ms = 1000, keys = ["a"] }

[[faults]]
at_ms = 2100
action = "crash"
target = "ledger"

[[faults]]
at_ms = 3000
action = "restart"
target = "ledger"
"#;

#[test]
fn read_committed_skips_aborted_records_and_read_uncommitted_sees_them() {
    let (r, _, applied) = run_named(&format!("{CRASH_MID_TXN}{TWO_READERS}"));
    let names = r.logs.names();
    let log = &names["payments/0"]["broker-1"];
    assert!(log.contains(&"COMMIT(ledger-tx)".to_string()), "{log:?}");
    assert!(log.contains(&"ABORT(ledger-tx)".to_string()), "{log:?}");
    // The aborted transaction's records are in the log, between the first COMMIT and the ABORT.
    let abort = log.iter().position(|e| e == "ABORT(ledger-tx)").unwrap();
    let aborted: Vec<&String> = log[..abort]
        .iter()
        .skip_while(|e| *e != "COMMIT(ledger-tx)")
        .skip(1)
        .collect();
    assert_eq!(aborted, ["ledger#5", "ledger#6"], "{log:?}");

    let applied_by = |group: &str| -> Vec<String> {
        applied
            .iter()
            .filter(|(g, _)| g == group)
            .map(|(_, m)| m.clone())
            .collect()
    };
    let committed = applied_by("committed");
    let uncommitted = applied_by("uncommitted");
    for m in ["ledger#5", "ledger#6"] {
        assert!(
            !committed.contains(&m.to_string()),
            "read_committed applied {m}"
        );
        assert!(
            uncommitted.contains(&m.to_string()),
            "read_uncommitted missed {m}"
        );
    }
    // Control markers never reach the application: only data records are applied.
    assert!(committed.iter().all(|m| m.starts_with("ledger#")));
    // Every committed record is read by both.
    assert_eq!(r.groups["committed"].duplicated, 0);
    assert_eq!(r.groups["committed"].acked_lost, 0);
    assert_eq!(
        r.groups["uncommitted"].applied,
        r.groups["committed"].applied + 2
    );
    // The records of the aborted transaction were acknowledged before the crash (a send
    // completes on its produce response): they are `aborted`, not lost.
    assert_eq!(r.produced.acked, r.groups["committed"].applied + 2);
    assert_eq!(r.groups["committed"].aborted, 2);
    assert_eq!(r.groups["committed"].lost, 0);
}

/// A transactional producer that sends 8 records, 100 ms apart, in transactions of 4
/// (`transaction.timeout.ms` is the default, 60000).
const TWO_TXNS_OF_FOUR: &str = r#"
[[producers]]
name = "ledger"
topic = "payments"
transactional_id = "ledger-tx"
transaction_size = 4
send = { count = 8, every_ms = 100, start_ms = 1000, keys = ["a"] }
"#;

/// Issue 10, item 11 (`KafkaProducer.send` javadoc: the future completes "when the associated
/// request completes"): a transactional record is acknowledged on its produce response, with
/// its offset, while its transaction is still open; `commitTransaction()` returning is a
/// separate event, and send→ack latency is measured to the produce response.
#[test]
fn a_transactional_send_completes_on_its_produce_response_and_the_commit_apart() {
    let extra = format!("{TWO_TXNS_OF_FOUR}{TWO_READERS}");
    let sc = parse(&extra);
    let mut events = Vec::new();
    let r = report::run("test.toml", &sc, sc.scenario.seed, |sim, ev| {
        let name = match &ev.kind {
            Trace::Acked { msg, .. } => sim.msg_name(*msg),
            _ => String::new(),
        };
        events.push((ev.time, ev.kind.clone(), name));
    });
    let acks: Vec<_> = events
        .iter()
        .filter_map(|(t, e, name)| match e {
            Trace::Acked { offset, .. } => Some((*t, *offset, name.clone())),
            _ => None,
        })
        .collect();
    let ends: Vec<_> = events
        .iter()
        .filter_map(|(t, e, _)| match e {
            Trace::TxnEnded {
                committed, records, ..
            } => Some((*t, *committed, *records)),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 8, "{acks:?}");
    assert_eq!(ends.len(), 2, "{ends:?}");
    for (i, (t, offset, name)) in acks.iter().enumerate() {
        assert!(offset.is_some(), "{name} acknowledged with no offset");
        let (end, committed, records) = ends[i / 4];
        assert!(committed && records == 4, "{ends:?}");
        assert!(
            *t < end,
            "{name} acknowledged at {t:?}, after its commit at {end:?}"
        );
    }
    // The first record of each transaction waits 300 ms for the other three before the
    // commit; its send completes long before.
    let latency = &r.metrics.produce_latency["ledger"];
    assert_eq!(latency.count, 8);
    assert!(latency.max_ms < 100.0, "{latency:?}");
    assert_eq!(r.groups["committed"].applied, 8);
}

#[test]
fn an_open_transaction_holds_back_the_lso() {
    // `slow` opens a transaction and stalls; `fast` commits records behind it.
    let sc = parse(&format!(
        r#"
[[producers]]
name = "slow"
topic = "payments"
transactional_id = "slow-tx"
transaction_size = 5
transaction_timeout_ms = 10000
send = {{ count = 5, every_ms = 100, start_ms = 1000, keys = ["s"] }}

[[producers]]
name = "fast"
topic = "payments"
send = {{ count = 5, every_ms = 100, start_ms = 1500, keys = ["f"] }}

[[faults]]
at_ms = 1150
action = "pause"
target = "slow"
duration_ms = 30000
{TWO_READERS}"#
    ));
    let mut sim = Sim::new(&sc);
    while sim.now().as_ms() < 6000 && sim.step() {}
    let p = brokerlab::sim::PartitionId(0);
    let leader = sim.replicas(p).find(|r| r.is_leader()).unwrap();
    assert_eq!(leader.ongoing_txns().len(), 1, "slow's transaction is open");
    assert_eq!(leader.lso(), leader.ongoing_txns()[0].1);
    assert!(
        leader.lso() < leader.hw(),
        "LSO {} HW {}",
        leader.lso(),
        leader.hw()
    );
    let pos = |name: &str| {
        let g = sim.groups().iter().find(|g| g.name == name).unwrap();
        let c = &sim.consumers()[g.consumers[0].idx()];
        c.parts()[0].position.unwrap_or(0)
    };
    assert!(
        pos("committed") <= leader.lso(),
        "read_committed read past the LSO"
    );
    assert_eq!(
        pos("uncommitted"),
        leader.hw(),
        "read_uncommitted reads up to the HW"
    );

    // The coordinator aborts the stalled transaction after transaction.timeout.ms, which
    // frees the LSO: fast's records become visible to read_committed.
    let r = report::run("test.toml", &sc, sc.scenario.seed, |_, _| {});
    assert_eq!(
        r.groups["committed"].applied, 5,
        "{:?}",
        r.groups["committed"]
    );
    assert!(r.logs.names()["payments/0"]["broker-1"].contains(&"ABORT(slow-tx)".to_string()));
}

/// KIP-588 (Kafka 2.7+): the coordinator aborts a transaction older than
/// `transaction.timeout.ms` with an epoch bump. That does not fence the producer: when it next
/// writes it gets INVALID_PRODUCER_EPOCH, an abortable error, learns that its transaction was
/// aborted, and re-initialises with its current producer id and epoch (`InitProducerId` with
/// `ProducerId`/`ProducerEpoch` set), which the coordinator answers with the bumped epoch. Its
/// next transaction commits. (This test used to assert that the producer was fenced for good,
/// narrated as "a newer instance exists", which is not what Kafka does.)
#[test]
fn transaction_timeout_aborts_and_the_producer_recovers() {
    let (r, trace) = run_with_trace(&format!(
        r#"
[[producers]]
name = "ledger"
topic = "payments"
transactional_id = "ledger-tx"
transaction_size = 5
transaction_timeout_ms = 6000
send = {{ count = 5, every_ms = 100, start_ms = 1000 }}

[[producers]]
name = "ledger2"
topic = "payments"
transactional_id = "ledger-tx2"
transaction_size = 3
transaction_timeout_ms = 6000
send = {{ count = 19, every_ms = 1000, start_ms = 1000 }}

[[faults]]
at_ms = 1150
action = "pause"
target = "ledger2"
duration_ms = 15000
{TWO_READERS}"#
    ));
    assert!(trace.iter().any(|t| matches!(
        t,
        Trace::TxnStateChanged {
            timed_out: true,
            ..
        }
    )));
    // Nobody else uses ledger-tx2: the producer is not fenced.
    assert!(
        !trace
            .iter()
            .any(|t| matches!(t, Trace::ProducerFenced { .. })),
        "a timed-out transaction does not fence its producer"
    );
    // It re-initialises with the bumped epoch...
    let inits: Vec<u16> = trace
        .iter()
        .filter_map(|t| match t {
            Trace::ProducerInitialized {
                producer, epoch, ..
            } if producer.0 == 1 => Some(*epoch),
            _ => None,
        })
        .collect();
    assert!(inits.len() >= 2, "re-initialised: {inits:?}");
    assert!(inits[1] > inits[0], "{inits:?}");
    // ...the aborted transaction's sends: ledger2#1, sent before the pause, had completed on
    // its produce response (acknowledged, then aborted with its transaction); #2, whose timer
    // fires when it wakes, with the old epoch, fails. The next transaction (#17 to #19)
    // commits: read_committed sees it.
    let p = &r.produced;
    assert_eq!((p.acked, p.failed), (5 + 1 + 3, 1), "{p:?}");
    assert_eq!(
        r.groups["committed"].applied,
        5 + 3,
        "{:?}",
        r.groups["committed"]
    );
}

#[test]
fn a_zombie_is_fenced_by_the_new_instance() {
    let (r, trace) = run_with_trace(&format!(
        r#"
[[producers]]
name = "ledger"
topic = "payments"
transactional_id = "ledger-tx"
transaction_size = 4
send = {{ count = 12, every_ms = 100, start_ms = 1000, keys = ["a"] }}

[[faults]]
at_ms = 1450
action = "zombie"
target = "ledger"
{TWO_READERS}"#
    ));
    assert!(
        trace
            .iter()
            .any(|t| matches!(t, Trace::ProducerFenced { .. })),
        "the old instance must be fenced"
    );
    let failed: Vec<_> = trace
        .iter()
        .filter_map(|t| match t {
            Trace::Failed { error, .. } => Some(error.name()),
            _ => None,
        })
        .collect();
    assert!(!failed.is_empty(), "the zombie's open transaction fails");
    assert!(failed.iter().all(|e| *e == "PRODUCER_FENCED"), "{failed:?}");
    // read_committed applies exactly what was committed, once; what the zombie had written
    // (acknowledged on its produce response) is aborted with its transaction, not lost.
    let c = &r.groups["committed"];
    assert_eq!(c.duplicated, 0);
    assert_eq!(c.acked_lost, 0);
    assert!(c.aborted > 0, "{c:?}");
    assert_eq!(c.applied + c.aborted, r.produced.acked);
}

#[test]
fn the_coordinator_moves_when_its_broker_dies() {
    // The crash lands mid-transaction; whichever broker hosts the coordinator, the
    // transaction completes or aborts, and read_committed sees each committed record once.
    for target in ["broker-1", "broker-2", "broker-3"] {
        let (r, trace) = run_with_trace(&format!(
            r#"
[[producers]]
name = "ledger"
topic = "payments"
transactional_id = "ledger-tx"
transaction_size = 3
send = {{ count = 12, every_ms = 100, start_ms = 1000, keys = ["a"] }}

[[faults]]
at_ms = 1250
action = "crash"
target = "{target}"
{TWO_READERS}"#
        ));
        let c = &r.groups["committed"];
        assert_eq!(c.duplicated, 0, "{target}");
        assert_eq!(c.acked_lost, 0, "{target}");
        assert_eq!(c.applied, r.produced.acked, "{target}");
        assert!(r.produced.acked > 0, "{target}: nothing committed");
        assert!(
            trace
                .iter()
                .all(|t| !matches!(t, Trace::ProducerFenced { .. })),
            "{target}: a coordinator move must not fence the producer"
        );
    }
}

const PIPELINE: &str = r#"
[scenario]
title = "pipeline"
seed = 5
stop_at_ms = 30000

[cluster]
brokers = 3

[[topics]]
name = "orders"
partitions = 2
replication_factor = 3
min_insync_replicas = 2

[[topics]]
name = "invoices"
partitions = 2
replication_factor = 3
min_insync_replicas = 2

[[producers]]
name = "shop"
topic = "orders"
send = { count = 30, every_ms = 100, start_ms = 1000, keys = ["k1", "k2", "k3", "k4"] }

[[groups]]
name = "billing"
topic = "orders"
commit = "COMMIT"
output_topic = "invoices"
processing_ms = 50
max_poll_records = 5
auto_offset_reset = "earliest"
session_timeout_ms = 10000
isolation_level = "read_committed"

[[groups]]
name = "mailer"
topic = "invoices"
commit = "after-process"
isolation_level = "read_committed"
auto_offset_reset = "earliest"
processing_ms = 1

[[faults]]
at_ms = 3120
action = "crash"
target = "billing/consumer-1"

[[faults]]
at_ms = 5000
action = "restart"
target = "billing/consumer-1"
"#;

fn pipeline(commit: &str) -> Report {
    let text = PIPELINE.replace("COMMIT", commit);
    let sc = scenario::parse("pipeline.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    report::run("pipeline.toml", &sc, sc.scenario.seed, |_, _| {})
}

#[test]
fn exactly_once_pipeline_survives_a_processor_crash() {
    let r = pipeline("transactional");
    let billing = &r.groups["billing"];
    let mailer = &r.groups["mailer"];
    // The processor reprocessed what its aborted transaction had covered…
    assert!(billing.duplicated > 0, "{billing:?}");
    // …but downstream every message is applied exactly once.
    assert_eq!(mailer.lost, 0, "{mailer:?}");
    assert_eq!(mailer.duplicated, 0, "{mailer:?}");
    assert_eq!(mailer.applied, 30);
    // The aborted transaction's marker is on whichever output partition it wrote to (the
    // output records keep their input's key, so which one depends on what it covered).
    let names = r.logs.names();
    let invoices: Vec<&String> = ["invoices/0", "invoices/1"]
        .iter()
        .flat_map(|p| &names[*p]["broker-1"])
        .collect();
    assert!(
        invoices.iter().any(|e| *e == "ABORT(billing-1)"),
        "{invoices:?}"
    );
    // Output records keep the input's message id.
    assert!(invoices.iter().any(|e| e.starts_with("shop#")));
}

#[test]
fn after_process_pipeline_duplicates_downstream() {
    let r = pipeline("after-process");
    let mailer = &r.groups["mailer"];
    assert!(mailer.duplicated > 0, "{mailer:?}");
    assert_eq!(mailer.lost, 0, "{mailer:?}");
    // No transactions: no markers.
    assert!(
        r.logs.names()["invoices/0"]["broker-1"]
            .iter()
            .all(|e| e.starts_with("shop#"))
    );
}

/// `transaction.max.timeout.ms` (broker, default 900000): InitProducerId with a longer
/// `transaction.timeout.ms` fails with INVALID_TRANSACTION_TIMEOUT
/// (`TransactionCoordinator.handleInitProducerId`), which the client treats as fatal:
/// `initTransactions()` throws and the application sends nothing.
#[test]
fn a_transaction_timeout_above_the_brokers_maximum_is_a_fatal_error() {
    let extra = format!("{TWO_TXNS_OF_FOUR}{TWO_READERS}");
    let text = format!("{BASE}{extra}").replace(
        "[cluster]\n",
        "[cluster]\ntransaction_max_timeout_ms = 30000\n",
    );
    let sc = scenario::parse("test.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let mut lines = Vec::new();
    let r = report::run("test.toml", &sc, sc.scenario.seed, |sim, ev| {
        if matches!(ev.kind, Trace::TxnFatalError { .. }) {
            lines.push(report::describe(sim, ev).unwrap_or_default());
        }
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("INVALID_TRANSACTION_TIMEOUT"),
        "{}",
        lines[0]
    );
    assert_eq!(r.produced.sent, 0, "{:?}", r.produced);
    assert_eq!(
        r.produced.errors.get("INVALID_TRANSACTION_TIMEOUT"),
        Some(&1)
    );
    // Within the maximum (the default, 900000), the same producer commits everything.
    let (ok, trace) = run_with_trace(&extra);
    assert!(
        !trace
            .iter()
            .any(|t| matches!(t, Trace::TxnFatalError { .. }))
    );
    assert_eq!(ok.produced.acked, 8);
}

/// `txn-hanging-transaction` with its `kafka_version = "2.8"` replaced by `cluster`: its report,
/// and the leaders' refusals of transactional writes (message, error).
fn hanging(cluster: &str) -> (Report, Vec<(String, brokerlab::sim::ErrorCode)>) {
    let bundled = scenario::find_bundled("txn-hanging-transaction").expect("bundled");
    let text = bundled.text.replace("kafka_version = \"2.8\"\n", cluster);
    assert_ne!(
        text, bundled.text,
        "the scenario pins kafka_version = \"2.8\""
    );
    let sc = scenario::parse("hang.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let mut refused = Vec::new();
    let r = report::run("hang.toml", &sc, sc.scenario.seed, |sim, ev| {
        if let Trace::TxnWriteRefused {
            first_msg, error, ..
        } = &ev.kind
        {
            refused.push((sim.msg_name(*first_msg), *error));
        }
    });
    (r, refused)
}

/// KIP-890's motivation: a produce request delayed past the producer's timeouts arrives after
/// its transaction was aborted. The classic protocol appends it and the partition hangs; the
/// leader's verification (part 1) and Transactions V2's epoch bump (part 2) refuse it.
#[test]
fn a_late_transactional_write_hangs_the_partition_unless_kip_890_refuses_it() {
    use brokerlab::sim::ErrorCode;
    let (classic, refused) =
        hanging("transaction_version = 1\ntransaction_partition_verification_enable = false\n");
    assert!(refused.is_empty(), "{refused:?}");
    let reports = &classic.groups["reports"];
    assert_eq!(
        (reports.applied, reports.unseen),
        (3, 8),
        "read_committed stops at the hanging transaction"
    );
    assert!(
        classic
            .hints
            .iter()
            .any(|h| h.contains("payments/0 hangs at offset 6") && h.contains("ledger#3")),
        "{:?}",
        classic.hints
    );

    for (cluster, error) in [
        (
            "transaction_version = 1\ntransaction_partition_verification_enable = true\n",
            ErrorCode::InvalidTxnState,
        ),
        ("transaction_version = 2\n", ErrorCode::InvalidProducerEpoch),
    ] {
        let (r, refused) = hanging(cluster);
        assert!(!refused.is_empty(), "{cluster}");
        assert!(
            refused.iter().all(|(m, e)| m == "ledger#3" && *e == error),
            "{cluster}: {refused:?}"
        );
        let reports = &r.groups["reports"];
        assert_eq!(
            (reports.applied, reports.unseen),
            (10, 0),
            "{cluster}: every web record is read"
        );
        assert!(
            !r.hints.iter().any(|h| h.contains("hangs")),
            "{:?}",
            r.hints
        );
    }
}
