//! Headless runs: drive a [`Sim`] to the end, feed the checker and the digest, and collect
//! what the text and JSON reports show. Everything here is read from the trace stream.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::check::{Checker, CheckerSetup, ExpectExtra, GroupOutcome, Outcome, check_expect};
use crate::scenario::Scenario;
use crate::sim::digest::Digest;
use crate::sim::{ErrorCode, Sim, Trace, TraceEvent, TraceMode};

#[derive(Clone, Debug, Serialize)]
pub struct Produced {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    /// Sends neither acknowledged nor failed when the run ended: the producer crashed before
    /// they resolved, or was still retrying when the drain was cut off.
    pub unresolved: u64,
    /// Produce errors by Kafka error name: every failed attempt, plus `DELIVERY_TIMEOUT` for
    /// each record a producer gave up on after `delivery.timeout.ms`.
    pub errors: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Election {
    pub at_ms: u64,
    pub partition: String,
    pub leader: String,
    pub epoch: u32,
    pub unclean: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Truncation {
    pub at_ms: u64,
    pub partition: String,
    pub replica: String,
    pub from: u64,
    pub to: u64,
    pub removed: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rebalance {
    pub at_ms: u64,
    pub group: String,
    pub generation: u32,
    pub assignment: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExpectResult {
    pub passed: bool,
    pub failures: Vec<String>,
}

/// The JSON report. Key names are a contract (documented in the README).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub title: String,
    pub seed: u64,
    pub end_ms: u64,
    pub events: u64,
    pub digest: String,
    pub produced: Produced,
    pub outcome: Outcome,
    pub groups: BTreeMap<String, crate::check::GroupOutcome>,
    pub elections: Vec<Election>,
    pub truncations: Vec<Truncation>,
    pub rebalances: Vec<Rebalance>,
    /// The final log of every replica, in offset order.
    pub logs: FinalLogs,
    /// `null` when the scenario has no `[expect]` section.
    pub expect: Option<ExpectResult>,
    /// Every lost, duplicated, reordered and aborted-read message, per group, explained.
    pub anomalies: Vec<crate::explain::Anomaly>,
    /// What users feel: latency, lag, unavailability, rebalancing, global order.
    pub metrics: MetricsReport,
    /// Why the run could not show what its settings are about, and what to change to see it.
    pub hints: Vec<String>,
    /// The `[cluster] kafka_version` profile whose defaults the scenario took.
    pub kafka_version: &'static str,
    /// The `[cluster] system` the run modelled: `kafka`, `rabbitmq`, `sqs` or `redis`.
    pub system: &'static str,
    /// The settings that came from that profile and differ from the newest release's
    /// (`acks=1`, ...); empty under the newest profile.
    pub profile_defaults: Vec<String>,
    /// Notes anchored to an event (`after`) that never happened in this run, so never shown;
    /// absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes_never_shown: Vec<NeverShown>,
}

/// A `[[notes]]` entry whose event never came.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NeverShown {
    /// Its position among the file's `[[notes]]`, from 1.
    pub note: usize,
    /// Its `after` anchor.
    pub after: String,
    /// Its `at_ms`: the earliest time the event would have counted.
    pub at_ms: u64,
}

/// The anchored notes of `scenario` still waiting for their event when `sim` ended.
pub fn notes_never_shown(scenario: &Scenario, sim: &Sim) -> Vec<NeverShown> {
    sim.waiting_notes()
        .iter()
        .filter_map(|&i| {
            let note = scenario.notes.get(i as usize)?;
            Some(NeverShown {
                note: i as usize + 1,
                after: note.after.clone()?,
                at_ms: note.at_ms,
            })
        })
        .collect()
}

/// Latency figures in milliseconds (microsecond resolution).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LatencyMs {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl From<crate::metrics::Latency> for LatencyMs {
    fn from(l: crate::metrics::Latency) -> LatencyMs {
        LatencyMs {
            count: l.count,
            p50_ms: us_to_ms(l.p50_us),
            p99_ms: us_to_ms(l.p99_us),
            max_ms: us_to_ms(l.max_us),
        }
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GroupMetricsReport {
    /// From each message's send to its first application by the group.
    pub end_to_end: LatencyMs,
    /// The most records the group was behind (high watermark minus committed offset, summed
    /// over its partitions), and when.
    pub max_lag: u64,
    pub max_lag_at_ms: u64,
    /// The partition whose own lag peaked highest (`null` if the group never lagged).
    pub max_lag_partition: Option<String>,
    pub final_lag: u64,
    /// From the group's first join to its first assignment (includes
    /// `group.initial.rebalance.delay.ms`); `null` if it never got one.
    pub first_join_ms: Option<f64>,
    /// Rebalances after the first assignment.
    pub rebalances: u64,
    /// Time with a rebalance in progress (consumption stopped, for the eager protocol).
    pub rebalancing_ms: f64,
    pub longest_rebalance_ms: f64,
    /// Applies of a message sent before one the group had already applied, over all keys.
    pub out_of_global_order: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UnavailableWindow {
    pub partition: String,
    pub from_ms: f64,
    /// `null` if the partition was still unavailable at the end.
    pub to_ms: Option<f64>,
    /// `no_leader`, `leader_down` or `under_min_isr`.
    pub reason: crate::metrics::Unavailable,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MetricsReport {
    /// Per producer: from `send()` to its acknowledgement.
    pub produce_latency: BTreeMap<String, LatencyMs>,
    pub groups: BTreeMap<String, GroupMetricsReport>,
    /// Every window in which a partition could not take writes, in partition order.
    pub unavailable: Vec<UnavailableWindow>,
    /// Total unavailable time per partition that had any.
    pub unavailable_ms: BTreeMap<String, f64>,
}

impl MetricsReport {
    pub fn new(sim: &Sim, m: &crate::metrics::MetricsSummary) -> MetricsReport {
        let produce_latency = sim
            .producers()
            .iter()
            .zip(&m.produce)
            .filter(|(_, l)| l.count > 0)
            .map(|(p, l)| (p.name.clone(), LatencyMs::from(*l)))
            .collect();
        let groups = sim
            .groups()
            .iter()
            .zip(&m.groups)
            .map(|(g, gm)| {
                (
                    g.name.clone(),
                    GroupMetricsReport {
                        end_to_end: gm.end_to_end.into(),
                        max_lag: gm.max_lag.lag,
                        max_lag_at_ms: gm.max_lag.at_us / 1000,
                        max_lag_partition: gm.max_lag_partition.map(|p| sim.partition_name(p)),
                        final_lag: gm.final_lag,
                        first_join_ms: gm.first_join_us.map(us_to_ms),
                        rebalances: gm.rebalances,
                        rebalancing_ms: us_to_ms(gm.rebalancing_us),
                        longest_rebalance_ms: us_to_ms(gm.longest_rebalance_us),
                        out_of_global_order: gm.out_of_global_order,
                    },
                )
            })
            .collect();
        let unavailable = m
            .unavailable
            .iter()
            .map(|w| UnavailableWindow {
                partition: sim.partition_name(w.partition),
                from_ms: us_to_ms(w.from_us),
                to_ms: w.to_us.map(us_to_ms),
                reason: w.reason,
            })
            .collect();
        let mut unavailable_ms = BTreeMap::new();
        for w in &m.unavailable {
            let to = w.to_us.unwrap_or(m.end_us);
            *unavailable_ms
                .entry(sim.partition_name(w.partition))
                .or_insert(0.0) += us_to_ms(to - w.from_us);
        }
        MetricsReport {
            produce_latency,
            groups,
            unavailable,
            unavailable_ms,
        }
    }
}

/// Run a scenario to the end. `on_event` sees every trace event as it happens (the text report
/// prints from it).
pub fn run(
    label: &str,
    scenario: &Scenario,
    seed: u64,
    on_event: impl FnMut(&Sim, &TraceEvent),
) -> Report {
    run_in(TraceMode::Full, label, scenario, seed, on_event)
}

/// [`run`] in [`TraceMode::Digest`]: the same report, but `on_event` sees no `Sent` event (the
/// report and the narration without `--verbose` read none), which the run then never stores.
pub fn run_headless(
    label: &str,
    scenario: &Scenario,
    seed: u64,
    on_event: impl FnMut(&Sim, &TraceEvent),
) -> Report {
    run_in(TraceMode::Digest, label, scenario, seed, on_event)
}

/// `mode` is `Full` or `Digest` (the report needs a digest of every event).
fn run_in(
    mode: TraceMode,
    label: &str,
    scenario: &Scenario,
    seed: u64,
    mut on_event: impl FnMut(&Sim, &TraceEvent),
) -> Report {
    let mut sim = Sim::with_seed(scenario, seed);
    sim.set_trace_mode(mode);
    let setup = CheckerSetup::from_scenario(scenario).expect("validated scenario");
    let mut checker = Checker::new(setup);
    let mut digest = Digest::default();
    let mut c = Collector::default();
    let mut metrics = crate::metrics::Metrics::new(crate::metrics::MetricsSetup::from_sim(&sim));
    let mut buf = Vec::new();
    // Leader crashes: when, which broker, and how many acknowledged records were then still
    // only above the high watermark (on fewer replicas than the ISR).
    let mut leader_crashes: Vec<(crate::sim::SimTime, String, u64)> = Vec::new();
    loop {
        let more = sim.step();
        sim.swap_trace(&mut buf);
        for ev in &buf {
            if let Trace::NodeCrashed { node } = ev.kind
                && node.0 < sim.broker_count()
                && sim
                    .controller()
                    .parts
                    .iter()
                    .any(|st| st.leader == Some(crate::sim::BrokerId(node.0)))
            {
                leader_crashes.push((ev.time, sim.node_name(node).to_string(), checker.above_hw()));
            }
            if mode != TraceMode::Digest {
                digest.add(ev);
            }
            checker.observe(ev);
            metrics.observe(ev);
            c.observe(&sim, ev);
            on_event(&sim, ev);
        }
        buf.clear();
        if !more {
            break;
        }
    }
    checker.set_final(true);
    let digest = sim.trace_digest().unwrap_or(digest);
    let outcome = checker.outcome();
    let mut anomalies = crate::explain::explain(scenario, seed, &sim, &checker);
    add_chains(scenario, seed, &mut anomalies);
    let metrics = MetricsReport::new(&sim, &metrics.summary());
    let mut hints = hints(scenario, &outcome, &leader_crashes);
    hints.extend(failed_but_written_hint(&sim, &checker));
    hints.extend(hanging_transaction_hint(&sim));
    let expect = scenario.expect.as_ref().map(|e| {
        let failures = check_expect(e, &outcome, &c.extra(&metrics));
        ExpectResult {
            passed: failures.is_empty(),
            failures,
        }
    });
    let groups = outcome
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.clone()))
        .collect();
    Report {
        scenario: label.to_string(),
        title: scenario.scenario.title.clone(),
        seed,
        end_ms: sim.now().as_ms(),
        events: sim.events(),
        digest: digest.hex(),
        produced: Produced {
            sent: outcome.sent,
            acked: outcome.acked,
            failed: outcome.failed,
            unresolved: outcome.sent.saturating_sub(outcome.acked + outcome.failed),
            errors: c.errors.clone(),
        },
        groups,
        elections: c.elections,
        truncations: c.truncations,
        rebalances: c.rebalances,
        logs: FinalLogs::of(&sim),
        metrics,
        hints,
        outcome,
        expect,
        anomalies,
        kafka_version: scenario.cluster.kafka_version.name(),
        system: scenario.cluster.system.name(),
        profile_defaults: crate::scenario::profile::from_profile(scenario),
        notes_never_shown: notes_never_shown(scenario, &sim),
    }
}

/// The header line that names a non-default Kafka version profile and the settings it chose:
/// `Kafka 2.8 profile: acks=1, enable.idempotence=false (defaults of that release)`.
pub fn profile_line(scenario: &Scenario) -> Option<String> {
    let v = scenario.cluster.kafka_version;
    if v.is_newest() {
        return None;
    }
    let set = crate::scenario::profile::from_profile(scenario);
    Some(if set.is_empty() {
        format!("Kafka {v} profile (every setting it changes is written in the file)")
    } else {
        format!(
            "Kafka {v} profile: {} (defaults of that release)",
            set.join(", ")
        )
    })
}

#[derive(Default)]
struct Collector {
    errors: BTreeMap<String, u64>,
    elections: Vec<Election>,
    truncations: Vec<Truncation>,
    rebalances: Vec<Rebalance>,
    unclean: u64,
    truncated: u64,
}

impl Collector {
    fn observe(&mut self, sim: &Sim, ev: &TraceEvent) {
        let at_ms = ev.time.as_ms();
        match &ev.kind {
            Trace::ProduceError { error, .. } | Trace::TxnFatalError { error, .. } => {
                *self.errors.entry(error.name().to_string()).or_default() += 1;
            }
            Trace::Failed {
                error: ErrorCode::DeliveryTimeout,
                ..
            } => {
                *self
                    .errors
                    .entry(ErrorCode::DeliveryTimeout.name().to_string())
                    .or_default() += 1;
            }
            Trace::LeaderElected {
                partition,
                leader,
                epoch,
                unclean,
                ..
            } => {
                self.unclean += u64::from(*unclean);
                self.elections.push(Election {
                    at_ms,
                    partition: sim.partition_name(*partition),
                    leader: sim.broker_name(*leader).to_string(),
                    epoch: *epoch,
                    unclean: *unclean,
                });
            }
            Trace::Truncated {
                partition,
                broker,
                from,
                to,
                removed,
                ..
            } => {
                self.truncated += from - to;
                self.truncations.push(Truncation {
                    at_ms,
                    partition: sim.partition_name(*partition),
                    replica: sim.broker_name(*broker).to_string(),
                    from: *from,
                    to: *to,
                    removed: removed.iter().map(|&m| sim.msg_name(m)).collect(),
                });
            }
            Trace::Rebalanced {
                group,
                generation,
                assignment,
            } => {
                self.rebalances.push(Rebalance {
                    at_ms,
                    group: sim.groups()[group.idx()].name.clone(),
                    generation: *generation,
                    assignment: assignment
                        .iter()
                        .map(|(c, parts)| {
                            (
                                sim.consumers()[c.idx()].name.clone(),
                                parts.iter().map(|&p| sim.partition_name(p)).collect(),
                            )
                        })
                        .collect(),
                });
            }
            _ => {}
        }
    }

    fn extra(&self, m: &MetricsReport) -> ExpectExtra {
        ExpectExtra {
            unclean_elections: self.unclean,
            truncated: self.truncated,
            errors: self.errors.clone(),
            unavailable_ms: m.unavailable_ms.values().sum::<f64>() as u64,
            groups: m
                .groups
                .iter()
                .map(|(name, g)| {
                    (
                        name.clone(),
                        crate::check::GroupCost {
                            max_lag: g.max_lag,
                            max_lag_partition: g.max_lag_partition.clone(),
                            longest_rebalance_ms: g.longest_rebalance_ms as u64,
                            final_lag: g.final_lag,
                            out_of_global_order: g.out_of_global_order,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// One entry of a final log, kept as ids: its name is written only when the report is
/// serialised, so a million-record run builds no million strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LogEntry {
    /// A record: `<producer>#<n>`.
    Record { producer: u32, n: u32 },
    /// A transaction marker: `COMMIT(<transactional.id>)` or `ABORT(..)`; `txn` indexes
    /// [`FinalLogs::txn_ids`].
    Marker { commit: bool, txn: u32 },
}

/// The final log of every replica (the report's `logs`): partition → replica → entry names in
/// offset order, serialised as that map of lists of names. Partitions and replicas are sorted
/// by name, as the map's keys are.
#[derive(Clone, Debug, Default)]
pub struct FinalLogs {
    /// Each producer's name with the `#` its records' names put after it.
    record_prefixes: Vec<String>,
    /// The `transactional.id` of each marker's producer (`?` if none owns it).
    txn_ids: Vec<String>,
    partitions: Vec<(String, Vec<ReplicaLog>)>,
}

/// A replica's name and its log.
type ReplicaLog = (String, Vec<LogEntry>);

impl FinalLogs {
    fn of(sim: &Sim) -> FinalLogs {
        use crate::sim::replica::EntryKind;
        let mut txn_ids: Vec<String> = Vec::new();
        let mut marker = |pid: u32, commit: bool| {
            let id = sim.txn_id_of_producer(pid).unwrap_or("?");
            let txn = match txn_ids.iter().position(|t| t == id) {
                Some(i) => i,
                None => {
                    txn_ids.push(id.to_string());
                    txn_ids.len() - 1
                }
            };
            LogEntry::Marker {
                commit,
                txn: txn as u32,
            }
        };
        let mut partitions = Vec::with_capacity(sim.partitions().len());
        // The replicas of a partition mostly hold the same entries at the same offsets: each
        // replica after the first reuses the first one's names where its entry is the same,
        // and looks a message up only where the logs differ (a 1 M-message run has 3 M entries).
        let mut first: Vec<(EntryKind, crate::sim::MsgId, u32)> = Vec::new();
        for p in 0..sim.partitions().len() {
            let p = crate::sim::PartitionId(p as u32);
            first.clear();
            let mut replicas: Vec<ReplicaLog> = Vec::new();
            for r in sim.replicas(p) {
                let mut log = Vec::with_capacity(r.log().len());
                let reference = replicas.first().map(|(_, l)| l.as_slice());
                for e in r.log().slices().flatten() {
                    let i = log.len();
                    let key = (e.kind, e.msg, e.producer);
                    let same = first.get(i) == Some(&key);
                    let entry = match reference {
                        Some(names) if same => names[i],
                        _ => match e.kind {
                            EntryKind::Data => {
                                let m = sim.msg(e.msg);
                                LogEntry::Record {
                                    producer: m.producer.0,
                                    n: m.n,
                                }
                            }
                            EntryKind::Commit => marker(e.producer, true),
                            EntryKind::Abort => marker(e.producer, false),
                        },
                    };
                    log.push(entry);
                    if reference.is_none() {
                        first.push(key);
                    }
                }
                replicas.push((sim.broker_name(r.broker).to_string(), log));
            }
            replicas.sort_by(|a, b| a.0.cmp(&b.0));
            partitions.push((sim.partition_name(p), replicas));
        }
        partitions.sort_by(|a, b| a.0.cmp(&b.0));
        FinalLogs {
            record_prefixes: sim
                .producers()
                .iter()
                .map(|p| format!("{}#", p.name))
                .collect(),
            txn_ids,
            partitions,
        }
    }

    /// Writes one entry's name into `out` (cleared first).
    fn write_name(&self, e: LogEntry, out: &mut String) {
        out.clear();
        match e {
            LogEntry::Record { producer, n } => {
                out.push_str(&self.record_prefixes[producer as usize]);
                push_decimal(out, n);
            }
            LogEntry::Marker { commit, txn } => {
                out.push_str(if commit { "COMMIT(" } else { "ABORT(" });
                out.push_str(&self.txn_ids[txn as usize]);
                out.push(')');
            }
        }
    }

    /// Every log with its entries as names: what the JSON report holds.
    pub fn names(&self) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
        self.partitions
            .iter()
            .map(|(p, replicas)| {
                let logs = replicas
                    .iter()
                    .map(|(r, log)| {
                        let names = log
                            .iter()
                            .map(|&e| {
                                let mut s = String::new();
                                self.write_name(e, &mut s);
                                s
                            })
                            .collect();
                        (r.clone(), names)
                    })
                    .collect();
                (p.clone(), logs)
            })
            .collect()
    }
}

/// `n` in decimal, without going through `fmt`: the digits are written into a small buffer
/// and appended at once.
fn push_decimal(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

impl Serialize for FinalLogs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(s, &self.partitions, |replicas| ReplicaLogs {
            logs: self,
            replicas,
        })
    }
}

/// One partition's replicas in [`FinalLogs`], serialised as replica → names.
struct ReplicaLogs<'a> {
    logs: &'a FinalLogs,
    replicas: &'a [ReplicaLog],
}

impl Serialize for ReplicaLogs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(s, self.replicas, |log| EntryNames {
            logs: self.logs,
            log,
        })
    }
}

/// Serialises `(name, item)` pairs as a map from each name to `value(item)`.
fn serialize_named<'a, S: serde::Serializer, T: 'a, V: Serialize>(
    s: S,
    items: &'a [(String, T)],
    value: impl Fn(&'a T) -> V,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(items.len()))?;
    for (name, item) in items {
        map.serialize_entry(name, &value(item))?;
    }
    map.end()
}

/// One replica's log in [`FinalLogs`], serialised as its entries' names through one reused
/// buffer.
struct EntryNames<'a> {
    logs: &'a FinalLogs,
    log: &'a [LogEntry],
}

impl Serialize for EntryNames<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.log.len()))?;
        let mut name = String::with_capacity(32);
        for &e in self.log {
            self.logs.write_name(e, &mut name);
            seq.serialize_element(name.as_str())?;
        }
        seq.end()
    }
}

/// A batch's messages as the narration names them: `checkout#4`, or `checkout#4 (+2 more)`.
pub(crate) fn msg_span(sim: &Sim, first: crate::sim::MsgId, count: u32) -> String {
    if count <= 1 {
        sim.msg_name(first)
    } else {
        format!("{} (+{} more)", sim.msg_name(first), count - 1)
    }
}

/// One line of narration for a trace event, or `None` for the chatter that the text report
/// leaves out (wire messages, follower fetches, polls).
pub fn describe(sim: &Sim, ev: &TraceEvent) -> Option<String> {
    if let Some(line) = crate::queue_words::describe(sim, ev) {
        return line;
    }
    let node = |n: crate::sim::NodeId| sim.node_name(n).to_string();
    let part = |p: crate::sim::PartitionId| sim.partition_name(p);
    let parts_list = |ps: &[crate::sim::PartitionId]| -> String {
        let names: Vec<String> = ps.iter().map(|&p| part(p)).collect();
        names.join(", ")
    };
    let shares = |assignment: &[(crate::sim::ConsumerId, Box<[crate::sim::PartitionId]>)]| {
        let parts: Vec<String> = assignment
            .iter()
            .map(|(c, ps)| format!("{} ← [{}]", sim.consumers()[c.idx()].name, parts_list(ps)))
            .collect();
        parts.join("; ")
    };
    let broker = |b: crate::sim::BrokerId| sim.broker_name(b).to_string();
    let msg = |m: crate::sim::MsgId| sim.msg_name(m);
    let isr = |s: crate::sim::BrokerSet| {
        let names: Vec<String> = s.iter().map(broker).collect();
        format!("[{}]", names.join(", "))
    };
    let span = |first: crate::sim::MsgId, count: u32| msg_span(sim, first, count);
    Some(match &ev.kind {
        Trace::Sent { .. } | Trace::Replicated { .. } | Trace::Polled { .. } => return None,
        Trace::Dropped {
            from,
            to,
            wire,
            reason,
            ..
        } => {
            if wire.kind.is_chatter()
                || matches!(
                    wire.kind,
                    crate::sim::WireKind::ReplicaFetch
                        | crate::sim::WireKind::ReplicaFetchResponse
                        | crate::sim::WireKind::ConsumerFetch
                        | crate::sim::WireKind::ConsumerFetchResponse
                )
            {
                return None;
            }
            let what = match wire.first_msg {
                Some(m) => format!(
                    "{} [{}]",
                    crate::queue_words::wire_kind_name(sim, wire.kind),
                    span(m, wire.records)
                ),
                None => crate::queue_words::wire_kind_name(sim, wire.kind).to_string(),
            };
            format!(
                "✗ {what} {} → {} dropped: {}",
                node(*from),
                node(*to),
                reason.name()
            )
        }
        Trace::Produced {
            producer,
            msg: m,
            partition,
            key,
        } => {
            let key = key.map_or(String::from("no key"), |k| {
                format!("key {}", sim.key_name(k))
            });
            format!(
                "{} sends {} ({key}) to {}",
                sim.producers()[producer.idx()].name,
                msg(*m),
                part(*partition)
            )
        }
        Trace::Appended {
            partition,
            broker: b,
            base_offset,
            count,
            epoch,
            first_msg,
        } => format!(
            "{} appends {} to {} at offset {} (leader epoch {})",
            broker(*b),
            span(*first_msg, *count),
            part(*partition),
            base_offset,
            epoch
        ),
        Trace::DuplicateBatch {
            partition,
            broker: b,
            first_msg,
            base_offset,
            ..
        } => format!(
            "{} recognises a retried batch {} on {} (idempotence): answers with offset {} instead of appending again",
            broker(*b),
            msg(*first_msg),
            part(*partition),
            base_offset
        ),
        Trace::HighWatermark {
            partition,
            broker: b,
            hw,
        } => format!("{} HW on {} → {}", part(*partition), broker(*b), hw),
        Trace::IsrChanged {
            partition,
            isr: set,
            changed,
            expanded,
            ..
        } => {
            if *expanded {
                format!(
                    "{} ISR expands: {} caught up, ISR {}",
                    part(*partition),
                    broker(*changed),
                    isr(*set)
                )
            } else {
                format!(
                    "{} ISR shrinks: {} removed, ISR {}",
                    part(*partition),
                    broker(*changed),
                    isr(*set)
                )
            }
        }
        Trace::LeaderElected {
            partition,
            leader,
            epoch,
            isr: set,
            unclean,
            preferred,
            from_elr,
        } => {
            let kind = if *unclean {
                "UNCLEAN election (out-of-sync replica, data may be lost)"
            } else if *from_elr {
                "clean election from the ELR (KIP-966: no in-sync replica left, but this one has every record up to the HW)"
            } else if *preferred {
                "preferred-leader election"
            } else {
                "clean election"
            };
            format!(
                "{} leader is now {} (epoch {}, ISR {}): {kind}",
                part(*partition),
                broker(*leader),
                epoch,
                isr(*set)
            )
        }
        Trace::PartitionOffline { partition, epoch } => format!(
            "{} is OFFLINE (epoch {}): no live in-sync replica can lead",
            part(*partition),
            epoch
        ),
        Trace::Truncated {
            partition,
            broker: b,
            from,
            to,
            removed,
            reason,
        } => {
            let names: Vec<String> = removed.iter().map(|&m| msg(m)).collect();
            let why = match reason {
                crate::sim::TruncateReason::DivergedEpoch => "diverged from the leader's epoch",
                crate::sim::TruncateReason::HighWatermark => {
                    "to its own high watermark on becoming a follower: the pre-KIP-101 recovery"
                }
                crate::sim::TruncateReason::LeaderLogEnd => {
                    "its fetch offset is past the leader's log end: OFFSET_OUT_OF_RANGE, pre-KIP-101"
                }
            };
            format!(
                "{} truncates {} from offset {} to {} ({why}), removing [{}]",
                broker(*b),
                part(*partition),
                from,
                to,
                names.join(", ")
            )
        }
        Trace::BrokerFenced { broker: b } => format!(
            "controller fences {}: no heartbeat within broker.session.timeout.ms",
            broker(*b)
        ),
        Trace::BrokerUnfenced { broker: b } => format!("controller unfences {}", broker(*b)),
        Trace::NodeCrashed { node: n } => format!("💥 {} crashes", node(*n)),
        Trace::NodeRestarted { node: n } => format!("{} restarts", node(*n)),
        Trace::NodePaused { node: n, until } => {
            format!("{} pauses until {}", node(*n), fmt_time(*until))
        }
        Trace::NodeResumed { node: n } => format!("{} resumes", node(*n)),
        Trace::ShutdownRequested { broker: b } => format!(
            "{} begins a controlled shutdown: its heartbeat asks the controller to move its leaderships away first",
            broker(*b)
        ),
        Trace::ControlledShutdown {
            broker: b,
            granted: false,
        } => format!(
            "controller: {} is shutting down: its partitions get new leaders from their ISRs and it leaves every ISR",
            broker(*b)
        ),
        Trace::ControlledShutdown {
            broker: b,
            granted: true,
        } => format!(
            "controller: {} leads nothing now: it is fenced and told it may shut down",
            broker(*b)
        ),
        Trace::ElrChanged {
            partition,
            elr,
            last_known_elr,
        } => {
            let mut s = format!(
                "{} eligible leader replicas (KIP-966): ELR {}",
                part(*partition),
                isr(*elr)
            );
            if !last_known_elr.is_empty() {
                s += &format!(", last known ELR {}", isr(*last_known_elr));
            }
            s
        }
        Trace::NodeStopped { node: n } => format!(
            "⏹ {} shuts down cleanly (controlled shutdown: nothing led, log flushed)",
            node(*n)
        ),
        Trace::Acked {
            producer,
            msg: m,
            offset,
            ..
        } => match offset {
            // A transactional send completes on its produce response: the record is in the
            // log, inside a transaction that is still open (`KafkaProducer.send`'s future;
            // `commitTransaction()` reports the commit, `TxnEnded`).
            Some(o) if sim.producers()[producer.idx()].txn().is_some() => format!(
                "{} ✓ {} acknowledged at offset {} (its transaction is still open)",
                sim.producers()[producer.idx()].name,
                msg(*m),
                o
            ),
            Some(o) => format!(
                "{} ✓ {} acknowledged at offset {}",
                sim.producers()[producer.idx()].name,
                msg(*m),
                o
            ),
            None => format!(
                "{} ✓ {} counted as sent (acks=0: no response)",
                sim.producers()[producer.idx()].name,
                msg(*m)
            ),
        },
        Trace::ProduceError {
            producer,
            first_msg,
            count,
            error,
            will_retry,
            ..
        } => format!(
            "{} ✗ {} failed: {}{}",
            sim.producers()[producer.idx()].name,
            span(*first_msg, *count),
            crate::queue_words::error_name(sim.settings().system, *error),
            if *will_retry { ", will retry" } else { "" }
        ),
        Trace::Retried {
            producer,
            first_msg,
            count,
            attempt,
            ..
        } => format!(
            "{} retries {} (attempt {})",
            sim.producers()[producer.idx()].name,
            span(*first_msg, *count),
            attempt
        ),
        Trace::Failed {
            producer,
            msg: m,
            error,
        } => format!(
            "{} gives up on {}: {}",
            sim.producers()[producer.idx()].name,
            msg(*m),
            crate::queue_words::error_name(sim.settings().system, *error)
        ),
        Trace::MemberJoined { group, consumer } => format!(
            "{} joins group {}",
            sim.consumers()[consumer.idx()].name,
            sim.groups()[group.idx()].name
        ),
        Trace::MemberRemoved {
            consumer, reason, ..
        } => format!(
            "{} removed from its group: {}",
            sim.consumers()[consumer.idx()].name,
            reason.name()
        ),
        Trace::RebalanceStarted { group, generation } => format!(
            "group {} starts rebalancing toward generation {}",
            sim.groups()[group.idx()].name,
            generation
        ),
        Trace::Rebalanced {
            group,
            generation,
            assignment,
        } => format!(
            "group {} generation {}: {}",
            sim.groups()[group.idx()].name,
            generation,
            shares(assignment)
        ),
        Trace::MemberJoinedEpoch {
            group,
            consumer,
            group_epoch,
        } => format!(
            "{} joins group {} with member epoch 0 ({}); the group epoch becomes {}",
            sim.consumers()[consumer.idx()].name,
            sim.groups()[group.idx()].name,
            if sim.groups()[group.idx()].spec.share.is_some() {
                "ShareGroupHeartbeat"
            } else {
                "ConsumerGroupHeartbeat"
            },
            group_epoch
        ),
        Trace::TargetAssignment {
            group,
            epoch,
            assignment,
        } => format!(
            "group {} target assignment at group epoch {} (computed by the coordinator): {}; members move to it one heartbeat at a time, no one stops",
            sim.groups()[group.idx()].name,
            epoch,
            shares(assignment)
        ),
        Trace::RevokeAsked {
            consumer,
            member_epoch,
            partitions,
            ..
        } => format!(
            "the coordinator asks {} to revoke [{}]; it stays at member epoch {} and keeps consuming the rest",
            sim.consumers()[consumer.idx()].name,
            parts_list(partitions),
            member_epoch
        ),
        Trace::EpochAssigned {
            consumer,
            member_epoch,
            partitions,
            ..
        } => format!(
            "{} is at member epoch {}, owning [{}]",
            sim.consumers()[consumer.idx()].name,
            member_epoch,
            parts_list(partitions)
        ),
        Trace::PartitionsWithheld {
            group,
            generation,
            partitions,
        } => format!(
            "group {} generation {} (cooperative): [{}] withheld until their current owners revoke them; a second rebalance assigns them",
            sim.groups()[group.idx()].name,
            generation,
            parts_list(partitions)
        ),
        Trace::PartitionsRevoked {
            group,
            consumer,
            partitions,
        } => format!(
            "{} revokes only [{}] (commits their offsets first) and {}; it keeps consuming the rest",
            sim.consumers()[consumer.idx()].name,
            parts_list(partitions),
            match sim.groups()[group.idx()].spec.protocol {
                crate::sim::config::GroupProtocol::Classic => "rejoins",
                crate::sim::config::GroupProtocol::Consumer =>
                    "says so in a heartbeat at once (KIP-848)",
            }
        ),
        Trace::Applied {
            consumer,
            msg: m,
            partition,
            offset,
            ..
        } => format!(
            "{} applies {} ({} offset {})",
            sim.consumers()[consumer.idx()].name,
            msg(*m),
            part(*partition),
            offset
        ),
        Trace::ProcessingFailed {
            consumer,
            msg: m,
            attempt,
            ..
        } => format!(
            "{} fails to process {} (attempt {}): a poison message",
            sim.consumers()[consumer.idx()].name,
            msg(*m),
            attempt
        ),
        Trace::DeadLettered {
            consumer,
            msg: m,
            attempts,
            group,
        } => format!(
            "{} gives up on {} after {} attempts and publishes it to {}",
            sim.consumers()[consumer.idx()].name,
            msg(*m),
            attempts,
            sim.groups()[group.idx()]
                .spec
                .dead_letter_topic
                .map_or("the dead-letter topic", |t| &sim.topics()[t.idx()].name)
        ),
        Trace::Share {
            consumer,
            partition,
            offset,
            msg: m,
            delivery_count,
            step,
            ..
        } => {
            let who = &sim.consumers()[consumer.idx()].name;
            let system = sim.settings().system;
            if !system.is_kafka() {
                return Some(queue_step_text(
                    system,
                    *step,
                    who,
                    &msg(*m),
                    *delivery_count,
                ));
            }
            let at = format!("{} at offset {} of {}", msg(*m), offset, part(*partition));
            match step {
                crate::sim::ShareStep::Acquired => format!(
                    "{who} acquires {at} (delivery {delivery_count}, locked for share.record.lock.duration.ms)"
                ),
                crate::sim::ShareStep::Acknowledged(ack) => {
                    format!("{who} acknowledges {at}: {}", ack.name())
                }
                crate::sim::ShareStep::LockExpired => format!(
                    "{who}'s acquisition lock on {at} expired: it is available again (delivery {delivery_count} so far)"
                ),
                crate::sim::ShareStep::Archived => format!(
                    "{at} is ARCHIVED after {delivery_count} deliveries: it will never be delivered again"
                ),
                // Queue steps: Kafka share groups never take them.
                step => queue_step_text(
                    crate::sim::config::System::Kafka,
                    *step,
                    who,
                    &at,
                    *delivery_count,
                ),
            }
        }
        Trace::ConsumerStuck {
            consumer, msg: m, ..
        } => format!(
            "{} is STUCK on {}: it keeps failing and there is no dead_letter_topic, so its partitions stop",
            sim.consumers()[consumer.idx()].name,
            msg(*m)
        ),
        Trace::Redelivered {
            consumer, msg: m, ..
        } => format!(
            "{} skips {}: already applied (dedup sink)",
            sim.consumers()[consumer.idx()].name,
            msg(*m)
        ),
        Trace::OffsetCommitted {
            consumer,
            partition,
            offset,
            ..
        } => format!(
            "{} commits offset {} on {}",
            sim.consumers()[consumer.idx()].name,
            offset,
            part(*partition)
        ),
        Trace::CommitFailed {
            consumer, error, ..
        } => format!(
            "{} commit failed: {}{}",
            sim.consumers()[consumer.idx()].name,
            error.name(),
            if *error == crate::sim::ErrorCode::RebalanceInProgress {
                " (it is rejoining, so it has no stable generation; it reads on and a later commit covers these offsets)"
            } else {
                ""
            }
        ),
        Trace::OffsetReset {
            group,
            consumer,
            partition,
            offset,
        } => {
            use crate::sim::config::OffsetReset;
            let (policy, place) = match sim.groups()[group.idx()].spec.auto_offset_reset {
                OffsetReset::Latest => ("latest", "the end of the log"),
                OffsetReset::Earliest => ("earliest", "the start of the log"),
            };
            format!(
                "{} has no valid position on {} (no committed offset, or it was out of range): \
                 auto.offset.reset={policy} moves it to {place}, offset {}{}",
                sim.consumers()[consumer.idx()].name,
                part(*partition),
                offset,
                if policy == "latest" && *offset > 0 {
                    ", skipping whatever it had not read below it"
                } else {
                    ""
                }
            )
        }
        Trace::FaultInjected { index } => format!("⚡ fault: {}", sim.fault_label(*index)),
        Trace::ProducerInitialized {
            producer,
            txn,
            epoch,
        } => format!(
            "{} InitProducerId for transactional.id {}: epoch {} (older instances are fenced)",
            sim.producers()[producer.idx()].name,
            sim.txns()[*txn as usize].id,
            epoch
        ),
        Trace::TxnFatalError {
            producer,
            txn,
            error: ErrorCode::StaleMemberEpoch,
        } => format!(
            "{} ✗ its transaction's offsets for transactional.id {} are refused with \
             STALE_MEMBER_EPOCH: the member that read them is at an old epoch of its group \
             (KIP-848); the client knows no recovery, a fatal error, and the producer sends no \
             more transactions",
            sim.producers()[producer.idx()].name,
            sim.txns()[*txn as usize].id,
        ),
        Trace::TxnFatalError {
            producer,
            txn,
            error,
        } => format!(
            "{} ✗ initTransactions() throws {} for transactional.id {}: {}; a fatal error, the \
             application stops and sends nothing",
            sim.producers()[producer.idx()].name,
            error.name(),
            sim.txns()[*txn as usize].id,
            match error {
                ErrorCode::InvalidTransactionTimeout => format!(
                    "its transaction.timeout.ms ({} ms) is above the brokers' \
                     transaction.max.timeout.ms ({} ms)",
                    sim.producers()[producer.idx()]
                        .transactional
                        .map_or(0, |t| t.timeout_ms),
                    sim.settings().transaction_max_timeout_ms
                ),
                _ => "the coordinator refused InitProducerId".to_string(),
            }
        ),
        Trace::ProducerFenced { producer, txn } => format!(
            "{} is FENCED: a newer instance of transactional.id {} exists; it stops",
            sim.producers()[producer.idx()].name,
            sim.txns()[*txn as usize].id
        ),
        Trace::TxnEnded {
            producer,
            committed: true,
            records,
            ..
        } => format!(
            "{} ✓ commitTransaction() returns: its transaction's {} committed; read_committed \
             consumers see them once the COMMIT markers are written",
            sim.producers()[producer.idx()].name,
            record_count(*records)
        ),
        Trace::TxnEnded {
            producer,
            committed: false,
            records,
            acked,
            ..
        } => format!(
            "{} ✗ its transaction aborted: {} ({} already acknowledged, in the log) \
             will be skipped by read_committed consumers",
            sim.producers()[producer.idx()].name,
            record_count(*records),
            acked
        ),
        Trace::TxnStateChanged {
            txn,
            epoch,
            phase,
            timed_out,
        } => format!(
            "transaction {} (epoch {}) → {}{}",
            sim.txns()[*txn as usize].id,
            epoch,
            phase.name(),
            if *timed_out {
                " (transaction.timeout.ms expired)"
            } else {
                ""
            }
        ),
        Trace::TxnMarker {
            partition,
            broker: b,
            txn,
            commit,
            offset,
        } => format!(
            "{} writes {}({}) marker to {} at offset {}",
            broker(*b),
            if *commit { "COMMIT" } else { "ABORT" },
            sim.txns()[*txn as usize].id,
            part(*partition),
            offset
        ),
        Trace::TxnWriteRefused {
            partition,
            broker: b,
            first_msg,
            error,
        } => format!(
            "{} refuses the transactional write {} to {}: {}, {}; it is not appended",
            broker(*b),
            msg(*first_msg),
            part(*partition),
            error.name(),
            match error {
                ErrorCode::InvalidProducerEpoch =>
                    "a newer epoch of its producer has written here (a newer instance, or with Transactions V2 a later transaction: the transaction it belongs to has ended)",
                ErrorCode::InvalidTxnState =>
                    "its transaction coordinator says the partition is in no ongoing transaction (KIP-890 verification): the transaction it belonged to has ended, and appending it would open one that nobody ends",
                _ => "its transaction coordinator refuses the producer's epoch",
            }
        ),
        Trace::PartitionsAdded {
            topic,
            first,
            count,
        } => format!(
            "topic {} grows by {} partition(s) (from {}): keys now hash over more partitions, and its groups rebalance",
            sim.topics()[topic.idx()].name,
            count,
            part(*first)
        ),
        Trace::Narration { index } => format!("» {}", sim.notes()[*index as usize].text),
        Trace::Draining => {
            "── stop_at_ms reached: no new sends or faults; draining in-flight work ──".to_string()
        }
    })
}

/// `12.345s`
pub fn fmt_time(t: crate::sim::SimTime) -> String {
    format!("{}.{:03}s", t.0 / 1_000_000, (t.0 / 1000) % 1000)
}

/// The outcome table printed after a text run.
pub fn outcome_table(report: &Report) -> String {
    // A queue system's run: its queues and its clients' errors in its words.
    let queue = report.system != "kafka";
    let mut s = String::new();
    let o = &report.outcome;
    let _ = writeln!(
        s,
        "Outcome  (seed {}, {} events, digest {})",
        report.seed, report.events, report.digest
    );
    let _ = write!(
        s,
        "  produced: {} sent, {} acked, {} failed",
        report.produced.sent, report.produced.acked, report.produced.failed
    );
    if report.produced.unresolved > 0 {
        let _ = write!(
            s,
            ", {} unresolved (no acknowledgement or error reached the application: its producer crashed first, or was still retrying when the run ended)",
            report.produced.unresolved
        );
    }
    let _ = writeln!(s);
    if !report.produced.errors.is_empty() {
        let errs: Vec<String> = report
            .produced
            .errors
            .iter()
            .map(|(k, v)| {
                // A queue system's client's words (the JSON keeps Kafka's names as keys).
                let k = match crate::queue_words::client_error(k) {
                    Some(words) if queue => words,
                    _ => k.as_str(),
                };
                format!("{k}×{v}")
            })
            .collect();
        let _ = writeln!(s, "  errors:   {}", errs.join(", "));
    }
    // Every message of a group's topic has exactly one fate; the first table adds up to the
    // messages of the topic.
    let _ = writeln!(
        s,
        "  {:<16} {:>7} {:>4} {:>5} {:>10} {:>6} {:>6} {:>7} {:>4}  verdict",
        "group", "applied", "dup", "lost", "acked-lost", "unseen", "failed", "aborted", "dead"
    );
    let fates = |s: &mut String, name: &str, g: &GroupOutcome| {
        let _ = writeln!(
            s,
            "  {:<16} {:>7} {:>4} {:>5} {:>10} {:>6} {:>6} {:>7} {:>4}  {}",
            name,
            g.applied,
            g.duplicated,
            g.lost,
            g.acked_lost,
            g.unseen,
            g.failed,
            g.aborted,
            g.dead_lettered,
            g.verdict.name()
        );
    };
    for g in &o.groups {
        fates(&mut s, &g.name, g);
    }
    fates(&mut s, "total", &o.total());
    let _ = writeln!(
        s,
        "  dup = duplicated, dead = dead-lettered; unseen, failed and aborted never spoil a verdict"
    );
    let _ = writeln!(
        s,
        "  {:<16} {:>9} {:>13} {:>7} {:>12} {:>9} {:>11}",
        "lost by kind",
        "truncated",
        "never-written",
        "skipped",
        "aborted-read",
        "reordered",
        "redelivered"
    );
    let kinds = |s: &mut String, name: &str, g: &GroupOutcome| {
        let _ = writeln!(
            s,
            "  {:<16} {:>9} {:>13} {:>7} {:>12} {:>9} {:>11}",
            name,
            g.lost_by_kind.truncated,
            g.lost_by_kind.never_written,
            g.lost_by_kind.skipped,
            g.aborted_read,
            g.reordered,
            g.redelivered
        );
    };
    for g in &o.groups {
        kinds(&mut s, &g.name, g);
    }
    kinds(&mut s, "total", &o.total());
    for g in o.groups.iter().filter(|g| g.unseen > 0) {
        let _ = writeln!(
            s,
            "  unseen: {} message(s) of {} are safe in the log but still ahead of its position (lag, a blocked or stuck consumer): not lost",
            g.unseen, g.name
        );
    }
    for g in o.groups.iter().filter(|g| g.aborted > 0) {
        let _ = writeln!(
            s,
            "  aborted: {} message(s) of {} belong to aborted transactions; not applying them is right",
            g.aborted, g.name
        );
    }
    for g in o.groups.iter().filter(|g| g.dead_lettered > 0) {
        let _ = writeln!(
            s,
            "  dead-lettered: {} poison message(s) of {} went to its dead-letter topic",
            g.dead_lettered, g.name
        );
    }
    metrics_table(&mut s, &report.metrics, queue);
    if !report.truncations.is_empty() {
        for t in &report.truncations {
            let _ = writeln!(
                s,
                "  truncated: {} on {} at {}ms removed [{}]",
                partition_label(&t.partition, queue),
                t.replica,
                t.at_ms,
                t.removed.join(", ")
            );
        }
    }
    why(&mut s, &report.anomalies);
    for h in &report.hints {
        let _ = writeln!(s, "  hint: {h}");
    }
    match &report.expect {
        None => {}
        Some(e) if e.passed => {
            let _ = writeln!(s, "  expect:   ✓ every expectation holds");
        }
        Some(e) => {
            let _ = writeln!(s, "  expect:   ✗ {} mismatch(es)", e.failures.len());
            for f in &e.failures {
                let _ = writeln!(s, "            - {f}");
            }
        }
    }
    s
}

/// Where the run could not show what its settings risk: an `acks=1` (or `acks=0`) producer whose
/// leader crashed at a moment when no acknowledged record was missing from its followers loses
/// nothing, and the learner should know why and how to catch the window.
fn hints(
    scenario: &Scenario,
    outcome: &Outcome,
    leader_crashes: &[(crate::sim::SimTime, String, u64)],
) -> Vec<String> {
    use crate::scenario::Acks;
    let mut out = Vec::new();
    let weak: Vec<&str> = scenario
        .producers
        .iter()
        .filter(|p| p.acks != Acks::All)
        .map(|p| p.name.as_str())
        .collect();
    if weak.is_empty() || outcome.lost_by_kind.truncated > 0 {
        return out;
    }
    if let Some((at, broker, _)) = leader_crashes.iter().find(|c| c.2 == 0) {
        out.push(format!(
            "{} uses acks={} yet lost nothing: when leader {broker} crashed at {}, its followers \
             already had every acknowledged record (they copy within milliseconds of the ack). \
             Only a crash inside that gap loses writes: pause the followers just before the crash \
             (`pause` faults, as acks1-leader-failover does) or widen the gap with \
             `[network] latency_ms`.",
            weak.join(", "),
            scenario
                .producers
                .iter()
                .find(|p| p.acks != Acks::All)
                .map_or("1", |p| p.acks.name()),
            fmt_time(*at)
        ));
    }
    out
}

/// Sends reported failed that are in the log anyway: a learner reads "failed" as "not written".
/// A timeout means "not known": Kafka's `TimeoutException` (KIP-91's `delivery.timeout.ms`)
/// completes the send without an answer from the broker; the record may be in the log, and an
/// idempotent producer's later retries are recognised as duplicates of it rather than appended
/// again. An error the broker answered can also come after the append
/// (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
fn failed_but_written_hint(sim: &Sim, checker: &Checker) -> Option<String> {
    let written = checker.failed_but_written();
    let first = *written.first()?;
    let more = match written.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    let why = if first.answered {
        "the broker appended it, then answered with an error (for example \
         NOT_ENOUGH_REPLICAS_AFTER_APPEND: the ISR fell below min.insync.replicas after the \
         append), and the producer gave up. The record stays in the log all the same"
    } else {
        "a send that fails with a timeout (DELIVERY_TIMEOUT, REQUEST_TIMED_OUT) or a lost \
         connection means the producer never learned the outcome, not that the record was not \
         written. The broker may have appended it and lost only the answer (KIP-91)"
    };
    Some(format!(
        "{}{more} was reported failed yet is in {} at offset {}: {why}; the record is then \
         consumed like any other.",
        sim.msg_name(first.msg),
        sim.partition_name(first.partition),
        first.offset,
    ))
}

/// A transaction open on a partition leader that its coordinator does not have open: a write
/// that arrived after its transaction ended (the hole KIP-890 closes). Nothing will ever write
/// its marker, so the partition's LSO stays where it starts.
fn hanging_transaction_hint(sim: &Sim) -> Option<String> {
    use crate::sim::TxnPhase;
    sim.partitions().iter().enumerate().find_map(|(i, _)| {
        let p = crate::sim::PartitionId(i as u32);
        let leader = sim.controller().parts.get(i)?.leader?;
        let replica = sim.replica(p, leader)?;
        replica.ongoing_txns().iter().find_map(|&(pid, first)| {
            let txn = sim.txns().iter().find(|t| t.producer_id == pid)?;
            let tracked = matches!(
                txn.phase(),
                Some(TxnPhase::Ongoing | TxnPhase::PrepareCommit | TxnPhase::PrepareAbort)
            ) && txn.partitions().contains(&p);
            if tracked {
                return None;
            }
            let entry = replica.log().get(first as usize)?;
            Some(format!(
                "{} hangs at offset {first}: {} was appended there after its transaction ({}) \
                 had ended, so it opened a transaction that no coordinator tracks and nothing \
                 will ever end. read_committed consumers stop at offset {first} for good (the \
                 LSO stays there) until an operator aborts it (KIP-664, kafka-transactions.sh). \
                 KIP-890 closes this: the leader verifies with the coordinator first (3.6+), and \
                 Transactions V2 bumps the epoch at every commit or abort (4.0+).",
                sim.partition_name(p),
                sim.msg_name(entry.msg),
                txn.id
            ))
        })
    })
}

/// `1 record`, `3 records`.
fn record_count(n: u32) -> String {
    if n == 1 {
        "1 record".to_string()
    } else {
        format!("{n} records")
    }
}

/// `12.3ms`, `1.850s`: milliseconds below ten seconds, seconds above.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 10_000.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{:.3}s", ms / 1000.0)
    }
}

/// One latency table: a header, then p50, p99 and max per row (`-` where nothing was measured).
fn latency_table<'a>(
    s: &mut String,
    title: &str,
    rows: impl ExactSizeIterator<Item = (&'a String, &'a LatencyMs)>,
) {
    if rows.len() == 0 {
        return;
    }
    let _ = writeln!(s, "  {:<16} {:>9} {:>9} {:>9}", title, "p50", "p99", "max");
    for (name, l) in rows {
        let [p50, p99, max] = if l.count == 0 {
            ["-".to_string(), "-".to_string(), "-".to_string()]
        } else {
            [fmt_ms(l.p50_ms), fmt_ms(l.p99_ms), fmt_ms(l.max_ms)]
        };
        let _ = writeln!(s, "  {:<16} {:>9} {:>9} {:>9}", name, p50, p99, max);
    }
}

/// What the run cost: latency, lag, rebalancing, unavailability and global order.
/// `queue`: the run is of a queue system, whose one-partition topics are queues, named without
/// Kafka's `/0`.
fn metrics_table(s: &mut String, m: &MetricsReport, queue: bool) {
    let _ = writeln!(s, "Cost");
    let by_name = natural_order(&m.produce_latency);
    latency_table(s, "send→ack", by_name.into_iter());
    if !m.groups.is_empty() {
        latency_table(
            s,
            "send→apply",
            natural_order(&m.groups)
                .into_iter()
                .map(|(n, g)| (n, &g.end_to_end)),
        );
        let _ = writeln!(
            s,
            "  {:<16} {:>16} {:>10} {:>16} {:>12}",
            "group", "max lag (at)", "first join", "rebalances", "out of order"
        );
        for (name, g) in natural_order(&m.groups) {
            let lag = if g.max_lag == 0 {
                "0".to_string()
            } else {
                format!(
                    "{} ({})",
                    g.max_lag,
                    fmt_time(crate::sim::SimTime::from_ms(g.max_lag_at_ms))
                )
            };
            let join = g.first_join_ms.map_or("-".to_string(), fmt_ms);
            let rebalancing = if g.rebalances == 0 {
                "0".to_string()
            } else {
                format!("{}× {}", g.rebalances, fmt_ms(g.rebalancing_ms))
            };
            let _ = writeln!(
                s,
                "  {:<16} {:>16} {:>10} {:>16} {:>12}",
                name, lag, join, rebalancing, g.out_of_global_order
            );
        }
        let _ = writeln!(
            s,
            "  lag: records above the committed offset{} · out of order: sent before one already applied",
            if queue {
                " (a queue's consumers commit no offset: it stays 0)"
            } else {
                ""
            }
        );
    }
    for (partition, ms) in natural_order(&m.unavailable_ms) {
        let windows: Vec<String> = m
            .unavailable
            .iter()
            .filter(|w| &w.partition == partition)
            .map(|w| {
                let to = w
                    .to_ms
                    .map_or("end".to_string(), |t| format!("{:.3}s", t / 1000.0));
                format!("{} {:.3}s→{}", w.reason.describe(), w.from_ms / 1000.0, to)
            })
            .collect();
        let partition = partition_label(partition, queue);
        let _ = writeln!(
            s,
            "  unavailable: {partition} for {} ({})",
            fmt_ms(*ms),
            windows.join(", ")
        );
    }
}

/// A partition's name as the text report gives it: a queue system's queue is its topic's one
/// partition, named by the topic alone (`orders`, not `orders/0`).
fn partition_label(partition: &str, queue: bool) -> &str {
    match partition.strip_suffix("/0") {
        Some(topic) if queue => topic,
        _ => partition,
    }
}

/// A map's entries with their names in the order a person counts (`shop-2` before `shop-10`,
/// `orders/9` before `orders/10`), for the text report; the JSON keeps the map's own order.
fn natural_order<V>(map: &BTreeMap<String, V>) -> Vec<(&String, &V)> {
    let mut v: Vec<(&String, &V)> = map.iter().collect();
    v.sort_by(|a, b| natural_cmp(a.0, b.0));
    v
}

/// Compares names run by run: digits by their number, everything else as text.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> impl Iterator<Item = &str> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digits = first.is_ascii_digit();
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digits)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            rest = tail;
            Some(run)
        })
    }
    let mut x = runs(a);
    let mut y = runs(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(p), Some(q)) => {
                let both_digits = p.starts_with(|c: char| c.is_ascii_digit())
                    && q.starts_with(|c: char| c.is_ascii_digit());
                let order = if both_digits {
                    // The longer number is the larger, leading zeros aside.
                    let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                    p.len().cmp(&q.len()).then_with(|| p.cmp(q))
                } else {
                    p.cmp(q)
                };
                if order.is_ne() {
                    return order;
                }
            }
        }
    }
}

/// How many anomalies of each kind get a `chain`.
const CHAINS_PER_KIND: usize = 100;
/// Chains need the whole trace kept in memory: longer runs go without.
const CHAIN_TRACE_LIMIT: u64 = 2_000_000;

/// Fill each anomaly's `chain` (the first [`CHAINS_PER_KIND`] of each kind): the decisive steps of
/// the message's life as its group saw it, from a re-run of the same seed that keeps the trace.
fn add_chains(scenario: &Scenario, seed: u64, anomalies: &mut [crate::explain::Anomaly]) {
    if anomalies.is_empty() {
        return;
    }
    let rec = crate::life::record(scenario, seed);
    if rec.events.len() as u64 > CHAIN_TRACE_LIMIT {
        return;
    }
    let ids: BTreeMap<String, crate::sim::MsgId> = (0..rec.sim.msg_count() as u32)
        .map(crate::sim::MsgId)
        .map(|m| (rec.sim.msg_name(m), m))
        .collect();
    let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
    for a in anomalies.iter_mut() {
        let n = per_kind.entry(a.kind.name().to_string()).or_default();
        if *n >= CHAINS_PER_KIND {
            continue;
        }
        *n += 1;
        let Some(&msg) = ids.get(&a.message) else {
            continue;
        };
        let group = rec
            .sim
            .groups()
            .iter()
            .position(|g| g.name == a.group)
            .map(|g| crate::sim::GroupId(g as u32));
        a.chain = condense_retries(&rec, rec.story(msg, group));
    }
}

/// The chain's text, with a long run of failed attempts and retries cut to its first and last
/// two steps and a line saying how many were left out.
fn condense_retries(
    rec: &crate::life::Recording,
    steps: Vec<crate::life::Step>,
) -> Vec<crate::explain::ChainStep> {
    const KEEP: usize = 2;
    let retrying = |st: &crate::life::Step| {
        rec.event(st.id)
            .is_some_and(|e| matches!(e.kind, Trace::ProduceError { .. } | Trace::Retried { .. }))
    };
    let text = |st: &crate::life::Step| crate::explain::ChainStep {
        at_ms: st.time.as_ms(),
        text: st.text.trim_start().to_string(),
    };
    let mut out = Vec::with_capacity(steps.len());
    let mut i = 0;
    while i < steps.len() {
        let run = steps[i..].iter().take_while(|st| retrying(st)).count();
        if run > 2 * KEEP + 1 {
            out.extend(steps[i..i + KEEP].iter().map(text));
            out.push(crate::explain::ChainStep {
                at_ms: steps[i + KEEP].time.as_ms(),
                text: format!("… {} more failed attempts and retries …", run - 2 * KEEP),
            });
            out.extend(steps[i + run - KEEP..i + run].iter().map(text));
            i += run;
        } else {
            out.push(text(&steps[i]));
            i += 1;
        }
    }
    out
}

/// How many message ids a "Why" line lists before "… and N more".
const WHY_IDS: usize = 10;

/// The "Why" section: per group and anomaly kind, the messages, one cause, the setting that
/// allowed it and the change that prevents it.
fn why(s: &mut String, anomalies: &[crate::explain::Anomaly]) {
    if anomalies.is_empty() {
        return;
    }
    let _ = writeln!(s, "Why");
    let mut i = 0;
    while i < anomalies.len() {
        let a = &anomalies[i];
        let n = anomalies[i..]
            .iter()
            .take_while(|b| b.group == a.group && b.kind == a.kind)
            .count();
        let run = &anomalies[i..i + n];
        // `checkout#1, #2, #3`: the producer is named once per run of its messages.
        let mut ids: Vec<String> = Vec::new();
        let mut last_producer = "";
        for b in run.iter().take(WHY_IDS) {
            let (producer, n) = b
                .message
                .rsplit_once('#')
                .unwrap_or((b.message.as_str(), ""));
            if producer == last_producer {
                ids.push(format!("#{n}"));
            } else {
                ids.push(b.message.clone());
                last_producer = producer;
            }
        }
        let more = n.saturating_sub(WHY_IDS);
        let tail = if more > 0 {
            format!(" … and {more} more")
        } else {
            String::new()
        };
        ids.dedup();
        let what = if a.kind.is_loss() {
            format!("lost ({})", a.kind.name())
        } else {
            a.kind.name().to_string()
        };
        let _ = writeln!(s, "  {} {n} {what}: {}{tail}", a.group, ids.join(", "));
        let _ = writeln!(
            s,
            "    cause:  {}{}",
            if n > 1 { "e.g. " } else { "" },
            a.cause
        );
        let _ = writeln!(s, "    config: {}", a.config);
        match &a.prevented_by {
            Some(p) => {
                let verified = run
                    .iter()
                    .filter(|b| b.prevented_by.as_ref().is_some_and(|p| p.verified))
                    .count();
                let _ = writeln!(
                    s,
                    "    prevented by: {} ({})",
                    p.change,
                    if verified == n {
                        "verified: a re-run with the same seed gets it right".to_string()
                    } else if verified == 0 {
                        "not verified: the re-run did not fix it".to_string()
                    } else {
                        format!("verified for {verified} of {n} by a re-run with the same seed")
                    }
                );
            }
            None => {
                let _ = writeln!(s, "    prevented by: no single setting");
            }
        }
        if !a.chain.is_empty() {
            let _ = writeln!(
                s,
                "    how {} got there (`run --explain {}` for every step and its cause):",
                a.message, a.message
            );
            for step in &a.chain {
                let _ = writeln!(
                    s,
                    "      {:>8}  {}",
                    format!("{:.3}s", step.at_ms as f64 / 1000.0),
                    step.text
                );
            }
        }
        i += n;
    }
}

// ----- `bench --json` ------------------------------------------------------------------------

/// What `bench --json` measured: each round, the benchmark's simulation alone and the same run
/// as `run --json` makes it, in the same process, alternating.
#[derive(Clone, Debug)]
pub struct JsonBench {
    pub options: crate::bench::BenchOptions,
    /// `brokerlab bench`'s run: simulation, checker and digest, headless ([`TraceMode::Digest`])
    /// as `run --json` runs.
    pub simulation: Vec<std::time::Duration>,
    /// `run --json`: the headless run with the report built, serialised (pretty, to a sink, as
    /// to stdout) and dropped.
    pub json: Vec<std::time::Duration>,
    /// Size of the JSON report in bytes.
    pub bytes: u64,
}

/// Writes `value` as pretty JSON and a final newline, as `--json` prints it: byte for byte
/// what `serde_json::to_writer_pretty` writes (two spaces per level), but each line break and
/// its indentation in one write. A million-record report has millions of lines, and the stock
/// formatter writes the indentation two spaces at a time.
pub fn write_json<W: std::io::Write, T: Serialize + ?Sized>(
    mut writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut writer, PrettyLines::default());
    value.serialize(&mut ser)?;
    writer.write_all(b"\n").map_err(serde_json::Error::io)
}

/// The formatter of [`write_json`].
#[derive(Default)]
struct PrettyLines {
    depth: usize,
    has_value: bool,
}

impl PrettyLines {
    /// A line break, then the current depth's indentation.
    fn new_line<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        const LINE: &[u8] = b"\n                                                                ";
        let width = 1 + 2 * self.depth;
        if width <= LINE.len() {
            w.write_all(&LINE[..width])
        } else {
            w.write_all(b"\n")?;
            for _ in 0..self.depth {
                w.write_all(b"  ")?;
            }
            Ok(())
        }
    }

    /// `[` or `{`: one level deeper, nothing in it yet.
    fn open<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// `]` or `}`, on a line of its own unless the array or object is empty.
    fn close<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.new_line(w)?;
        }
        w.write_all(bracket)
    }

    /// Before an element or a key: a comma after the one before, then a new line.
    fn item<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.new_line(w)
    }
}

impl serde_json::ser::Formatter for PrettyLines {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Times `rounds` rounds of the two runs of [`JsonBench`] on the benchmark scenario.
pub fn bench_json(opts: &crate::bench::BenchOptions, rounds: u32) -> JsonBench {
    use std::io::Write as _;
    use std::time::Instant;
    let sc = crate::bench::large_scenario(opts);
    let mut out = JsonBench {
        options: *opts,
        simulation: Vec::new(),
        json: Vec::new(),
        bytes: 0,
    };
    for _ in 0..rounds.max(1) {
        out.simulation.push(crate::bench::run_simulation(opts).wall);

        let start = Instant::now();
        let report = run_headless("bench.toml", &sc, opts.seed, |_, _| {});
        let mut sink = std::io::BufWriter::new(ByteCount(0));
        write_json(&mut sink, &report).expect("a sink takes every byte");
        let _ = sink.flush();
        drop(report);
        out.json.push(start.elapsed());
        out.bytes = sink.get_ref().0;
    }
    out
}

/// A writer that only counts bytes.
struct ByteCount(u64);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The minimum and the median of some durations, in seconds.
pub fn min_median(d: &[std::time::Duration]) -> (f64, f64) {
    min_median_of(d.iter().map(std::time::Duration::as_secs_f64))
}

/// The minimum and the median (the lower one of an even count) of some figures; zeros if
/// there are none.
pub fn min_median_of(figures: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let mut s: Vec<f64> = figures.into_iter().collect();
    s.sort_by(f64::total_cmp);
    match s.first() {
        Some(&min) => (min, s[(s.len() - 1) / 2]),
        None => (0.0, 0.0),
    }
}

impl std::fmt::Display for JsonBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "run --json benchmark: {} brokers, {} partitions, {} messages, seed {}, {} rounds alternating",
            o.brokers,
            o.partitions,
            o.messages,
            o.seed,
            self.json.len()
        )?;
        writeln!(f, "  {:<34}{:>10}{:>10}", "", "min", "median")?;
        let rows = [
            ("simulation (as `bench`)", &self.simulation),
            ("run --json (report + JSON)", &self.json),
        ];
        for (name, d) in rows {
            let (min, med) = min_median(d);
            writeln!(f, "  {name:<34}{min:>9.3}s{med:>9.3}s")?;
        }
        let (jmin, jmed) = min_median(&self.json);
        let (min, med) = min_median(&self.simulation);
        writeln!(
            f,
            "  {:<34}{:>9.2}×{:>9.2}×",
            "ratio to simulation (as `bench`)",
            jmin / min.max(1e-9),
            jmed / med.max(1e-9)
        )?;
        write!(
            f,
            "  {:<34}{:>9.1} MB",
            "JSON report",
            self.bytes as f64 / 1e6
        )
    }
}

/// One delivery step on a RabbitMQ, SQS or Redis queue, in that system's words.
fn queue_step_text(
    system: crate::sim::config::System,
    step: crate::sim::ShareStep,
    who: &str,
    m: &str,
    n: u32,
) -> String {
    use crate::sim::ShareStep;
    use crate::sim::config::{RedisMode, System};
    use crate::sim::share_partition::AckType;
    let again = if n > 1 { " again" } else { "" };
    match (system, step) {
        (System::RabbitMq, ShareStep::Acquired) if n > 1 => {
            format!("RabbitMQ delivers {m} to {who} again, with redelivered set (delivery {n})")
        }
        (System::RabbitMq, ShareStep::Acquired) => format!("RabbitMQ delivers {m} to {who}"),
        (System::RabbitMq, ShareStep::Acknowledged(AckType::Accept)) => {
            format!("{who} acks {m}")
        }
        (System::RabbitMq, ShareStep::Acknowledged(AckType::Release)) => {
            format!("{who} nacks {m} with requeue=true: it goes back to the queue")
        }
        (System::RabbitMq, ShareStep::Acknowledged(AckType::Reject)) => {
            format!("{who} nacks {m} with requeue=false")
        }
        (System::RabbitMq, ShareStep::Settled) => format!(
            "RabbitMQ forgets {m} as it sends it to {who} (ack = \"auto\"): if {who} stops now, it is lost"
        ),
        (System::RabbitMq, ShareStep::Requeued) => {
            format!("RabbitMQ requeued {m} (redelivered) after {who}'s channel closed")
        }
        (System::RabbitMq, ShareStep::Archived) => format!(
            "RabbitMQ dead-letters {m} after {n} deliveries (delivery-limit or nack requeue=false) to the dead-letter exchange"
        ),
        (System::Sqs, ShareStep::Acquired) => format!(
            "{who} receives {m}{again} (ApproximateReceiveCount {n}): invisible for the visibility timeout"
        ),
        (System::Sqs, ShareStep::Acknowledged(AckType::Accept)) => {
            format!("{who} deletes {m} (DeleteMessage)")
        }
        (System::Sqs, ShareStep::LockExpired) => {
            format!("{m}'s visibility timeout ran out before {who} deleted it: it is visible again")
        }
        (System::Sqs, ShareStep::Archived) => {
            format!("SQS moves {m} to the dead-letter queue after {n} receives (maxReceiveCount)")
        }
        (System::Redis(RedisMode::List), ShareStep::Acquired) => {
            format!("{who} pops {m} with BRPOP")
        }
        (System::Redis(_), ShareStep::Settled) => format!(
            "{m} is gone from Redis once popped: if {who} stops before applying it, it is lost"
        ),
        (System::Redis(RedisMode::ReliableList), ShareStep::Acquired) => {
            format!("{who} moves {m}{again} into its processing list (LMOVE)")
        }
        (System::Redis(RedisMode::ReliableList), ShareStep::Acknowledged(AckType::Accept)) => {
            format!("{who} removes {m} from its processing list (LREM)")
        }
        (System::Redis(RedisMode::ReliableList), ShareStep::LockExpired) => format!(
            "the reaper requeues {m}: it stayed in {who}'s processing list longer than visibility_timeout_ms"
        ),
        (System::Redis(RedisMode::Stream), ShareStep::Acquired) if n > 1 => {
            format!("{who} claims {m} with XAUTOCLAIM (delivery {n})")
        }
        (System::Redis(RedisMode::Stream), ShareStep::Acquired) => {
            format!("{who} reads {m} with XREADGROUP: it is pending in {who}'s PEL")
        }
        (System::Redis(RedisMode::Stream), ShareStep::Acknowledged(AckType::Accept)) => {
            format!("{who} XACKs {m}")
        }
        (System::Redis(RedisMode::Stream), ShareStep::LockExpired) => format!(
            "{m} has been idle in {who}'s pending entries list for min_idle_ms: XAUTOCLAIM may take it"
        ),
        (System::Redis(RedisMode::Stream), ShareStep::Archived) => format!(
            "after {n} deliveries the application XACKs {m} and adds it to the dead-letter stream"
        ),
        (_, ShareStep::Dropped) => format!(
            "{m} is DROPPED after {n} deliveries: refused or at its delivery limit, with no dead_letter_topic"
        ),
        (_, ShareStep::Archived) => {
            format!("{m} is moved to the dead-letter queue after {n} deliveries")
        }
        (_, ShareStep::Acquired) => format!("{who} receives {m}{again} (delivery {n})"),
        (_, ShareStep::Acknowledged(ack)) => format!("{who} acknowledges {m}: {}", ack.name()),
        (_, ShareStep::LockExpired) => {
            format!("{who}'s lock on {m} ran out: it is available again")
        }
        (_, ShareStep::Settled) => format!("the queue forgets {m} as it sends it to {who}"),
        (_, ShareStep::Requeued) => format!("{m} is requeued: {who}'s connection closed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_listed_in_the_order_a_person_counts() {
        let mut names = vec![
            "shop-10",
            "shop-2",
            "shop-1",
            "orders/10",
            "orders/9",
            "orders/1",
            "p007",
            "p7",
            "p08",
            "billing",
            "audit",
            "shop-1a",
            "shop-",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "audit",
                "billing",
                "orders/1",
                "orders/9",
                "orders/10",
                "p007",
                "p7",
                "p08",
                "shop-",
                "shop-1",
                "shop-1a",
                "shop-2",
                "shop-10"
            ]
        );
        let map: BTreeMap<String, u32> = [("shop-10", 10), ("shop-9", 9)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let ordered: Vec<u32> = natural_order(&map).into_iter().map(|(_, &v)| v).collect();
        assert_eq!(ordered, [9, 10]);
    }

    #[test]
    fn decimals_are_written_as_fmt_writes_them() {
        for n in [0, 7, 10, 99, 100, 65_536, 999_999_999, u32::MAX] {
            let mut s = String::from("p#");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("p#{n}"));
        }
    }

    #[test]
    fn json_is_written_byte_for_byte_as_serde_json_pretty_prints_it() {
        let sc = crate::scenario::parse(
            "t.toml",
            &std::fs::read_to_string("scenarios/acks1-leader-failover.toml").expect("bundled"),
        )
        .expect("valid");
        let report = run_headless("t.toml", &sc, 1, |_, _| {});
        // Empty arrays and objects, and nesting deeper than the one-write indentation covers.
        let mut deep = serde_json::json!([[], {}, {"a": [1, {"b": null}]}]);
        for _ in 0..40 {
            deep = serde_json::json!({ "k": [deep, "x\"y"] });
        }
        for value in [serde_json::to_value(&report).expect("a value"), deep] {
            let mut ours = Vec::new();
            write_json(&mut ours, &value).expect("written");
            let mut stock = serde_json::to_vec_pretty(&value).expect("written");
            stock.push(b'\n');
            assert_eq!(String::from_utf8(ours), String::from_utf8(stock));
        }
        let mut ours = Vec::new();
        write_json(&mut ours, &report).expect("written");
        let mut stock = serde_json::to_vec_pretty(&report).expect("written");
        stock.push(b'\n');
        assert_eq!(ours, stock);
    }

    #[test]
    fn json_bench_times_each_run_and_counts_the_report() {
        let opts = crate::bench::BenchOptions {
            messages: 60,
            brokers: 3,
            partitions: 2,
            seed: 2,
        };
        let b = bench_json(&opts, 2);
        assert_eq!((b.simulation.len(), b.json.len()), (2, 2));
        let sc = crate::bench::large_scenario(&opts);
        let report = run_headless("bench.toml", &sc, opts.seed, |_, _| {});
        let json = serde_json::to_string_pretty(&report).expect("serialises");
        assert_eq!(b.bytes, json.len() as u64 + 1, "the report and its newline");
        let table = b.to_string();
        assert!(
            table.contains("ratio to simulation (as `bench`)"),
            "{table}"
        );
    }

    /// The logs written from ids serialise exactly as the map of name lists they stand for:
    /// same keys in the same order, same names, markers included.
    #[test]
    fn final_logs_serialise_as_their_names() {
        for name in ["txn-read-committed", "eos-pipeline-processor-crash"] {
            let b = crate::scenario::find_bundled(name).expect("bundled");
            let (label, sc) = crate::scenario::load(b.name).expect("valid");
            let r = run(&label, &sc, sc.scenario.seed, |_, _| {});
            let names = r.logs.names();
            let entries: Vec<&String> = names.values().flat_map(|r| r.values()).flatten().collect();
            assert!(
                entries.iter().any(|e| e.starts_with("COMMIT(")),
                "{names:?}"
            );
            assert!(entries.iter().any(|e| e.contains('#')), "{names:?}");
            let streamed = serde_json::to_string_pretty(&r.logs).expect("serialises");
            let built = serde_json::to_string_pretty(&names).expect("serialises");
            assert_eq!(streamed, built, "{name}");
        }
        // Ten brokers and twelve partitions: names sort as strings (`broker-10` before
        // `broker-2`, `events/11` before `events/2`), as the map's keys do.
        let opts = crate::bench::BenchOptions {
            messages: 300,
            brokers: 10,
            partitions: 12,
            seed: 4,
        };
        let sc = crate::bench::large_scenario(&opts);
        let r = run("bench", &sc, opts.seed, |_, _| {});
        let streamed = serde_json::to_string(&r.logs).expect("serialises");
        let at = |key: &str| streamed.find(key).expect("every partition is in the logs");
        assert!(at("\"events/11\"") < at("\"events/2\""));
        assert_eq!(
            streamed,
            serde_json::to_string(&r.logs.names()).expect("ok")
        );
    }
}
