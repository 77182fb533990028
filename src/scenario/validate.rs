//! Semantic validation: everything serde cannot check. Every problem points at the span of the
//! offending field (or, for a missing field, at its table) and says what was expected. All
//! problems are collected and the first one in file order is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::doc::{Doc, Seg, fp};
use super::error::{ErrorKind, ScenarioError, suggestion};
use super::model::*;
use super::names::{
    Target, is_legal_name, is_reserved_node_name, parse_link, parse_topic_partition,
};

/// Brokers per cluster: ISRs and replica sets are `u64` bitmasks in the core.
pub const MAX_BROKERS: u32 = 64;
/// Messages sent over all producers (`send.count` plus `messages`).
pub const MAX_MESSAGES: u64 = 5_000_000;
/// One simulated day.
pub const MAX_STOP_AT_MS: u64 = 86_400_000;
/// Partitions over all topics, after any `add-partitions` faults.
pub const MAX_PARTITIONS: u64 = 10_000;
/// Consumers over all groups, after any `add-consumer` faults.
pub const MAX_CONSUMERS: u64 = 1_000;
/// Upper bound of `network.latency_ms`.
pub const MAX_LATENCY_MS: u64 = 60_000;
/// Durations and timeouts: Kafka stores them as 32-bit ints.
pub const MAX_DURATION_MS: u64 = i32::MAX as u64;
/// Producers, counting neither a consumer's embedded ones nor `zombie` instances.
pub const MAX_PRODUCERS: usize = 500;
/// Every process of a run: brokers, the controller, producers, consumers and the producers
/// embedded in them. Per-process state (a consumer's view of every partition, the links to
/// each broker) grows with it.
pub const MAX_NODES: u64 = 1_200;
/// Topics, groups, faults and notes: each at most this many.
pub const MAX_TABLE_ENTRIES: usize = 10_000;
/// Keys one producer's `send` draws from.
pub const MAX_KEYS: usize = 100_000;

mod quiz;
mod systems;

/// The brokers' `group.min.session.timeout.ms` (default 6000).
const GROUP_MIN_SESSION_TIMEOUT_MS: u64 = 6_000;
/// The brokers' `group.max.session.timeout.ms` (default 1800000).
const GROUP_MAX_SESSION_TIMEOUT_MS: u64 = 1_800_000;

/// Kafka error names accepted as keys of `expect.errors`: those the simulator produces.
pub fn known_error_names() -> impl Iterator<Item = &'static str> {
    crate::sim::expectable_error_names()
}

/// Validates a parsed scenario. `text` is the file's text, used to point at the offending
/// field; `file_label` is the name shown in the error.
pub fn validate(file_label: &str, text: &str, scenario: &Scenario) -> Result<(), ScenarioError> {
    let r = match Doc::parse(text) {
        Ok(doc) => validate_doc(file_label, text, &doc, scenario)
            .map_err(|e| super::reference::attach(e, text, Some(&doc))),
        Err(_) => validate_doc(file_label, text, &Doc::empty(), scenario),
    };
    r.map_err(|e| super::reference::attach(e, text, None))
}

pub(crate) fn validate_doc(
    file_label: &str,
    text: &str,
    doc: &Doc<'_>,
    scenario: &Scenario,
) -> Result<(), ScenarioError> {
    let mut v = Validator {
        sc: scenario,
        doc,
        text,
        issues: Vec::new(),
        topics: BTreeMap::new(),
        groups: BTreeMap::new(),
        producers: BTreeMap::new(),
        added_consumers: BTreeMap::new(),
        added_consumer_faults: Vec::new(),
        added_partitions: Vec::new(),
        newlines: std::cell::OnceCell::new(),
    };
    for t in &scenario.topics {
        v.topics.entry(&t.name).or_insert(t);
    }
    for g in &scenario.groups {
        v.groups.entry(&g.name).or_insert(g);
    }
    for p in &scenario.producers {
        v.producers.entry(&p.name).or_insert(p);
    }
    for (j, f) in scenario.faults.iter().enumerate() {
        match (f.action, &f.group, &f.topic) {
            (FaultAction::AddConsumer, Some(g), _) => {
                *v.added_consumers.entry(g).or_default() += 1;
                v.added_consumer_faults.push((f.at_ms, j, g));
            }
            (FaultAction::AddPartitions, _, Some(t)) => {
                v.added_partitions
                    .push((f.at_ms, j, t, f.partitions.unwrap_or(0)))
            }
            _ => {}
        }
    }
    // A setting the `kafka_version` did not have goes first: the other problems it causes (the
    // release's defaults conflicting with it) follow from it.
    v.profile();
    if v.issues.is_empty() {
        v.run();
    }
    // The first problem in file order; for ties, the one found first.
    let first = v
        .issues
        .into_iter()
        .enumerate()
        .min_by_key(|(n, i)| (i.span.start, *n))
        .map(|(_, i)| i);
    match first {
        None => Ok(()),
        Some(i) => Err(
            ScenarioError::at(ErrorKind::Invalid, file_label, text, i.span, i.message)
                .with_expected(i.expected)
                .with_help(i.help)
                .with_reference(i.reference),
        ),
    }
}

struct Issue {
    span: Range<usize>,
    message: String,
    expected: Option<String>,
    help: Option<String>,
    /// The reference section, when not the one of the table the problem is in.
    reference: Option<&'static str>,
}

impl Issue {
    fn expected(&mut self, e: impl Into<String>) -> &mut Issue {
        self.expected = Some(e.into());
        self
    }

    fn help(&mut self, h: impl Into<String>) -> &mut Issue {
        self.help = Some(h.into());
        self
    }

    fn reference(&mut self, anchor: &'static str) -> &mut Issue {
        self.reference = Some(anchor);
        self
    }

    fn maybe_help(&mut self, h: Option<String>) -> &mut Issue {
        if h.is_some() {
            self.help = h;
        }
        self
    }
}

struct Validator<'a, 'i> {
    sc: &'a Scenario,
    doc: &'a Doc<'i>,
    text: &'a str,
    issues: Vec<Issue>,
    /// Name indexes (first declaration wins), so that large files validate in n log n.
    topics: BTreeMap<&'a str, &'a Topic>,
    groups: BTreeMap<&'a str, &'a Group>,
    producers: BTreeMap<&'a str, &'a Producer>,
    /// `add-consumer` faults per group.
    added_consumers: BTreeMap<&'a str, u64>,
    /// `add-consumer` faults: (at_ms, fault index, group).
    added_consumer_faults: Vec<(u64, usize, &'a str)>,
    /// `add-partitions` faults: (at_ms, fault index, topic, new count).
    added_partitions: Vec<(u64, usize, &'a str, u32)>,
    /// Offsets of the text's newlines, computed when first needed.
    newlines: std::cell::OnceCell<Vec<usize>>,
}

/// Which fault fields an action needs and which it may have.
struct ActionSpec {
    required: &'static [&'static str],
    optional: &'static [&'static str],
}

fn action_spec(a: FaultAction) -> ActionSpec {
    use FaultAction::*;
    let (required, optional): (&'static [&'static str], &'static [&'static str]) = match a {
        Crash | Restart | Stop | RemoveConsumer | Zombie => (&["target"], &[]),
        Pause => (&["target", "duration_ms"], &[]),
        Isolate => (&["target"], &["duration_ms"]),
        Partition => (&["sides"], &["duration_ms"]),
        Heal => (&[], &[]),
        Drop => (&["link", "count"], &[]),
        DropAcks => (&["target", "count"], &[]),
        Delay => (&["link", "extra_ms", "duration_ms"], &[]),
        AddConsumer => (&["group"], &[]),
        ElectPreferred => (&["partition"], &[]),
        AddPartitions => (&["topic", "partitions"], &[]),
    };
    ActionSpec { required, optional }
}

/// What a fault field is, for "needs `x`" messages.
fn field_hint(field: &str, action: FaultAction) -> &'static str {
    match (field, action) {
        ("target", FaultAction::DropAcks) => {
            "`target = \"PRODUCER\"`: the producer whose next responses are lost"
        }
        ("target", FaultAction::Stop) => {
            "`target = \"broker-N\"` or `\"leader:TOPIC/P\"`: the broker that shuts down cleanly"
        }
        ("target", FaultAction::Zombie) => {
            "`target = \"PRODUCER\"`: the transactional producer that becomes a zombie"
        }
        ("target", FaultAction::RemoveConsumer) => {
            "`target = \"GROUP/consumer-N\"`: the consumer that leaves its group"
        }
        ("target", _) => {
            "`target = \"...\"`: `broker-N`, `controller`, `leader:TOPIC/P`, a producer or `GROUP/consumer-N`"
        }
        ("duration_ms", FaultAction::Pause) => "`duration_ms = N`: how long the node stays paused",
        ("duration_ms", _) => "`duration_ms = N`: how long the fault lasts",
        ("sides", _) => {
            "`sides = [[\"broker-1\"], [\"broker-2\", \"broker-3\"]]`: the groups of nodes that can still talk among themselves"
        }
        ("link", _) => "`link = \"FROM->TO\"`, e.g. `\"broker-1->broker-2\"`",
        ("count", FaultAction::DropAcks) => {
            "`count = N`: how many responses to the producer are lost"
        }
        ("count", _) => "`count = N`: how many messages on the link are lost",
        ("extra_ms", _) => "`extra_ms = N`: the latency added to the link",
        ("group", _) => "`group = \"GROUP\"`: the group that gets one more consumer",
        ("partition", _) => {
            "`partition = \"TOPIC/P\"`: the partition whose preferred leader is elected"
        }
        ("topic", _) => "`topic = \"TOPIC\"`: the topic that grows",
        ("partitions", _) => "`partitions = N`: the topic's new partition count",
        _ => "",
    }
}

fn fault_has(f: &Fault, field: &str) -> bool {
    match field {
        "target" => f.target.is_some(),
        "duration_ms" => f.duration_ms.is_some(),
        "sides" => f.sides.is_some(),
        "link" => f.link.is_some(),
        "count" => f.count.is_some(),
        "extra_ms" => f.extra_ms.is_some(),
        "group" => f.group.is_some(),
        "partition" => f.partition.is_some(),
        "topic" => f.topic.is_some(),
        "partitions" => f.partitions.is_some(),
        _ => false,
    }
}

const FAULT_OPTIONAL_FIELDS: [&str; 10] = [
    "target",
    "duration_ms",
    "sides",
    "link",
    "count",
    "extra_ms",
    "group",
    "partition",
    "topic",
    "partitions",
];

/// "a" or "an" before a fault action's name.
fn article(action: &str) -> &'static str {
    if action.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn list(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match q.len() {
        0 => String::new(),
        1 => q[0].clone(),
        n => format!("{} and {}", q[..n - 1].join(", "), q[n - 1]),
    }
}

/// `a`, `b`, `c` (at most `max`, then "…").
fn some_names<'s>(names: impl IntoIterator<Item = &'s str>, max: usize) -> String {
    let all: Vec<&str> = names.into_iter().collect();
    let mut s: Vec<String> = all.iter().take(max).map(|n| format!("`{n}`")).collect();
    if all.len() > max {
        s.push(format!("... ({} in all)", all.len()));
    }
    s.join(", ")
}

impl<'a, 'i> Validator<'a, 'i> {
    fn push(&mut self, span: Range<usize>, message: String) -> &mut Issue {
        self.issues.push(Issue {
            span,
            message,
            expected: None,
            help: None,
            reference: None,
        });
        self.issues.last_mut().expect("just pushed")
    }

    /// A problem with the value at `path` (or its table if the value is not written).
    fn err(&mut self, path: &[Seg<'_>], message: impl Into<String>) -> &mut Issue {
        let span = self.doc.span(path);
        self.push(span, message.into())
    }

    /// A problem with the key at `path`.
    fn err_key(&mut self, path: &[Seg<'_>], message: impl Into<String>) -> &mut Issue {
        let span = self.doc.key_span(path);
        self.push(span, message.into())
    }

    /// A problem with the first of `paths` that is written in the file (else the first).
    fn err_first(&mut self, paths: &[&[Seg<'_>]], message: impl Into<String>) -> &mut Issue {
        let at = paths
            .iter()
            .find(|p| self.doc.has(p))
            .or(paths.first())
            .copied()
            .unwrap_or(&[]);
        let span = self.doc.span(at);
        self.push(span, message.into())
    }

    /// The 1-based line of the value at `path`.
    fn line_of(&self, path: &[Seg<'_>]) -> usize {
        let at = self.doc.span(path).start;
        let newlines = self.newlines.get_or_init(|| {
            self.text
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i)
                .collect()
        });
        newlines.partition_point(|&nl| nl < at) + 1
    }

    fn run(&mut self) {
        self.meta();
        self.cluster();
        self.systems();
        self.network();
        self.topics();
        self.producers();
        self.groups();
        self.faults();
        self.notes();
        self.quiz();
        self.expect();
        self.limits();
        // Anchors resolve names against every partition and consumer the run creates, so they
        // are checked once the limits hold.
        if self.issues.is_empty() {
            self.anchors();
        }
    }

    /// Settings the scenario's `kafka_version` did not have (`profile.rs`).
    fn profile(&mut self) {
        for r in super::profile::refusals(self.sc) {
            self.err(&r.segs(), r.message)
                .expected(r.expected)
                .help(r.help);
        }
    }

    fn stop(&self) -> u64 {
        self.sc.scenario.stop_at_ms
    }

    fn topic(&self, name: &str) -> Option<&'a Topic> {
        self.topics.get(name).copied()
    }

    fn group(&self, name: &str) -> Option<&'a Group> {
        self.groups.get(name).copied()
    }

    fn producer(&self, name: &str) -> Option<&'a Producer> {
        self.producers.get(name).copied()
    }

    fn topic_names(&self) -> Vec<&'a str> {
        self.sc.topics.iter().map(|t| t.name.as_str()).collect()
    }

    /// Checks that `name` at `path` is an existing topic.
    fn topic_ref(&mut self, path: &[Seg<'_>], name: &str, what: &str) {
        if self.topic(name).is_some() {
            return;
        }
        let names = self.topic_names();
        let expected = if names.is_empty() {
            "a topic declared in a [[topics]] table (this file declares none)".to_string()
        } else {
            format!(
                "one of the declared topics: {}",
                some_names(names.iter().copied(), 10)
            )
        };
        let help = suggestion(name, names.iter().copied());
        self.err(path, format!("unknown {what} `{name}`"))
            .expected(expected)
            .maybe_help(help);
    }

    /// A `*_ms` duration: at most [`MAX_DURATION_MS`], and at least `min`.
    fn duration(&mut self, path: &[Seg<'_>], value: u64, min: u64, why_min: &str) {
        let field = match path.last() {
            Some(Seg::Key(k)) => *k,
            _ => "value",
        };
        if value < min {
            self.err(path, format!("`{field} = {value}` is too small"))
                .expected(format!("at least {min}"))
                .help(why_min.to_string());
        } else if value > MAX_DURATION_MS {
            self.err(path, format!("`{field} = {value}` is too large"))
                .expected(format!("at most {MAX_DURATION_MS} (about 24.8 days)"))
                .help("Kafka stores durations as 32-bit ints, and so does the simulator");
        }
    }

    /// A name of a topic, producer or group.
    fn name(&mut self, path: &[Seg<'_>], name: &str, what: &str) {
        if name.is_empty() {
            self.err(path, format!("the {what} name is empty"))
                .expected("a name of letters, digits, `.`, `_` and `-`");
        } else if !is_legal_name(name) {
            self.err(path, format!("`{name}` is not a valid {what} name"))
                .expected("a name of ASCII letters, digits, `.`, `_` and `-`, at most 249 characters (Kafka's rule for topic names)");
        }
    }

    fn duplicate(&mut self, path: &[Seg<'_>], first: &[Seg<'_>], name: &str, what: &str) {
        let line = self.line_of(first);
        self.err(path, format!("duplicate {what} name `{name}`"))
            .expected(format!("a name not used by another {what}"))
            .help(format!("`{name}` is first declared on line {line}"));
    }

    // ----- sections ----------------------------------------------------------------------

    fn meta(&mut self) {
        let m = &self.sc.scenario;
        if m.title.trim().is_empty() {
            self.err(fp!["scenario", "title"], "the title is empty")
                .expected("a one-line title, shown in the picker and the header");
        }
        if m.stop_at_ms == 0 {
            self.err(
                fp!["scenario", "stop_at_ms"],
                "`stop_at_ms = 0` leaves no time to run",
            )
            .expected("the length of the run in simulated milliseconds, from 1 to 86400000");
        } else if m.stop_at_ms > MAX_STOP_AT_MS {
            self.err(
                fp!["scenario", "stop_at_ms"],
                format!("`stop_at_ms = {}` is longer than one simulated day", m.stop_at_ms),
            )
            .expected(format!("at most {MAX_STOP_AT_MS} (24 hours)"))
            .help("runs are limited to one simulated day so that every run finishes in reasonable time");
        }
    }

    fn cluster(&mut self) {
        let c = &self.sc.cluster;
        if c.brokers == 0 {
            self.err(
                fp!["cluster", "brokers"],
                "a cluster needs at least one broker",
            )
            .expected(format!("a number of brokers from 1 to {MAX_BROKERS}"));
        } else if c.brokers > MAX_BROKERS {
            self.err(
                fp!["cluster", "brokers"],
                format!("`brokers = {}` is more brokers than the simulator supports", c.brokers),
            )
            .expected(format!("at most {MAX_BROKERS} brokers"))
            .help("the simulator keeps every ISR and replica set as a 64-bit mask, one bit per broker, so clusters are limited to 64 brokers");
        }
        let spin = "a zero interval would make the simulation spin without advancing time";
        self.duration(
            fp!["cluster", "replica_lag_time_max_ms"],
            c.replica_lag_time_max_ms,
            1,
            spin,
        );
        self.duration(
            fp!["cluster", "broker_session_timeout_ms"],
            c.broker_session_timeout_ms,
            1,
            spin,
        );
        self.duration(
            fp!["cluster", "broker_heartbeat_interval_ms"],
            c.broker_heartbeat_interval_ms,
            1,
            spin,
        );
        self.duration(
            fp!["cluster", "replica_fetch_wait_max_ms"],
            c.replica_fetch_wait_max_ms,
            1,
            spin,
        );
        self.duration(
            fp!["cluster", "replica_socket_timeout_ms"],
            c.replica_socket_timeout_ms,
            1,
            spin,
        );
        self.duration(
            fp!["cluster", "group_initial_rebalance_delay_ms"],
            c.group_initial_rebalance_delay_ms,
            0,
            "",
        );
        self.duration(
            fp!["cluster", "transaction_max_timeout_ms"],
            c.transaction_max_timeout_ms,
            1,
            "a coordinator with a zero maximum would refuse every transactional producer",
        );
        if let Some(v) = c.transaction_version
            && !(1..=2).contains(&v)
        {
            self.err(
                fp!["cluster", "transaction_version"],
                format!("`transaction_version = {v}` is not a transaction protocol"),
            )
            .expected("1 (the classic protocol) or 2 (Transactions V2, KIP-890)")
            .help("Kafka's `transaction.version` feature has levels 0 to 2; levels 0 and 1 differ only in how the coordinator stores its records, so the model has 1 and 2");
        }
        if c.broker_heartbeat_interval_ms >= c.broker_session_timeout_ms {
            self.err_first(
                &[
                fp!["cluster", "broker_heartbeat_interval_ms"],
                fp!["cluster", "broker_session_timeout_ms"],
            ],
                format!(
                    "`broker_heartbeat_interval_ms = {}` is not shorter than `broker_session_timeout_ms = {}`",
                    c.broker_heartbeat_interval_ms, c.broker_session_timeout_ms
                ),
            )
            .expected("a heartbeat interval shorter than the session timeout")
            .help("otherwise the controller fences every broker between two heartbeats");
        }
        if c.replica_fetch_wait_max_ms > c.replica_lag_time_max_ms {
            self.err_first(
                &[
                fp!["cluster", "replica_fetch_wait_max_ms"],
                fp!["cluster", "replica_lag_time_max_ms"],
            ],
                format!(
                    "`replica_fetch_wait_max_ms = {}` is more than `replica_lag_time_max_ms = {}`",
                    c.replica_fetch_wait_max_ms, c.replica_lag_time_max_ms
                ),
            )
            .expected("replica_fetch_wait_max_ms ≤ replica_lag_time_max_ms")
            .help("Kafka refuses this: \"replica.fetch.wait.max.ms should always be less than or equal to replica.lag.time.max.ms to prevent frequent changes in ISR\"");
        }
        if c.replica_fetch_wait_max_ms > c.replica_socket_timeout_ms {
            self.err_first(
                &[
                fp!["cluster", "replica_fetch_wait_max_ms"],
                fp!["cluster", "replica_socket_timeout_ms"],
            ],
                format!(
                    "`replica_fetch_wait_max_ms = {}` is more than `replica_socket_timeout_ms = {}`",
                    c.replica_fetch_wait_max_ms, c.replica_socket_timeout_ms
                ),
            )
            .expected("replica_fetch_wait_max_ms ≤ replica_socket_timeout_ms")
            .help("Kafka refuses this: \"replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to prevent unnecessary socket timeouts\"");
        }
    }

    fn network(&mut self) {
        let n = &self.sc.network;
        let lat = fp!["network", "latency_ms"];
        // serde accepts longer arrays for `[u64; 2]` and ignores the rest.
        if let Some(a) = self.doc.get(lat).and_then(|v| v.get_ref().as_array())
            && a.len() != 2
        {
            self.err(lat, format!("`latency_ms` has {} elements", a.len()))
                .expected("two: `[min, max]` one-way latency in milliseconds");
        }
        let [lo, hi] = n.latency_ms;
        if lo > hi {
            self.err(
                lat,
                format!("`latency_ms = [{lo}, {hi}]`: the minimum is above the maximum"),
            )
            .expected("`[min, max]` with min ≤ max");
        } else if hi > MAX_LATENCY_MS {
            self.err(lat, format!("`latency_ms = [{lo}, {hi}]`: {hi} ms is more than the limit of one minute"))
                .expected(format!("a maximum of at most {MAX_LATENCY_MS} ms"))
                .help("latencies are limited to one minute so that runs stay short; use a `delay` fault for a slow link");
        }
        if !(n.loss >= 0.0 && n.loss < 1.0) {
            let help = if n.loss == 1.0 {
                "with loss = 1 no message would ever arrive; use a `partition` or `isolate` fault to cut nodes off"
            } else {
                "loss is the probability that any one message is lost"
            };
            self.err(
                fp!["network", "loss"],
                format!("`loss = {:?}` is not a probability below 1", n.loss),
            )
            .expected("a number in [0, 1), e.g. 0.01 to lose 1% of messages")
            .help(help);
        }
    }

    fn topics(&mut self) {
        let brokers = self.sc.cluster.brokers;
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, t) in self.sc.topics.iter().enumerate() {
            self.name(fp!["topics", i, "name"], &t.name, "topic");
            if let Some(&first) = seen.get(t.name.as_str()) {
                self.duplicate(
                    fp!["topics", i, "name"],
                    fp!["topics", first, "name"],
                    &t.name,
                    "topic",
                );
            } else {
                seen.insert(&t.name, i);
            }
            if t.partitions == 0 {
                self.err(
                    fp!["topics", i, "partitions"],
                    format!("topic `{}` has no partitions", t.name),
                )
                .expected("`partitions` of at least 1");
            }
            if t.replication_factor == 0 {
                self.err(
                    fp!["topics", i, "replication_factor"],
                    "`replication_factor = 0` leaves no replica to store the data",
                )
                .expected("a replication factor of at least 1");
            } else if t.replication_factor > brokers && brokers >= 1 {
                self.err(
                    fp!["topics", i, "replication_factor"],
                    format!(
                        "`replication_factor = {}` is more than the {} broker{} in the cluster",
                        t.replication_factor,
                        brokers,
                        if brokers == 1 { "" } else { "s" }
                    ),
                )
                .expected(format!("at most {brokers} (`cluster.brokers`)"))
                .help("each replica of a partition lives on a different broker; raise `cluster.brokers` or lower the replication factor");
            }
            if t.min_insync_replicas == 0 {
                self.err(
                    fp!["topics", i, "min_insync_replicas"],
                    "`min_insync_replicas = 0` is not allowed",
                )
                .expected("at least 1 (Kafka's minimum for min.insync.replicas)");
            } else if t.min_insync_replicas > t.replication_factor && t.replication_factor >= 1 {
                self.err(
                    fp!["topics", i, "min_insync_replicas"],
                    format!(
                        "`min_insync_replicas = {}` is more than `replication_factor = {}`",
                        t.min_insync_replicas, t.replication_factor
                    ),
                )
                .expected(format!("at most {}, the replication factor", t.replication_factor))
                .help("an ISR can never be larger than the replica set, so every acks=all write would fail with NOT_ENOUGH_REPLICAS");
            }
            if let Some(assignment) = &t.assignment {
                self.assignment(i, t, assignment);
            }
        }
    }

    fn assignment(&mut self, i: usize, t: &Topic, assignment: &[Vec<u32>]) {
        let brokers = self.sc.cluster.brokers;
        if assignment.len() != t.partitions as usize {
            let p = if assignment.len() > t.partitions as usize {
                fp!["topics", i, "assignment", t.partitions as usize]
            } else {
                fp!["topics", i, "assignment"]
            };
            self.err(
                p,
                format!(
                    "`assignment` has {} replica list{} but topic `{}` has {} partition{}",
                    assignment.len(),
                    if assignment.len() == 1 { "" } else { "s" },
                    t.name,
                    t.partitions,
                    if t.partitions == 1 { "" } else { "s" }
                ),
            )
            .expected(format!(
                "one replica list per partition: {} lists",
                t.partitions
            ));
        }
        for (p, replicas) in assignment.iter().enumerate() {
            if replicas.len() != t.replication_factor as usize {
                self.err(
                    fp!["topics", i, "assignment", p],
                    format!(
                        "the replica list of partition {p} has {} broker{} but `replication_factor = {}`",
                        replicas.len(),
                        if replicas.len() == 1 { "" } else { "s" },
                        t.replication_factor
                    ),
                )
                .expected(format!("{} broker numbers per list", t.replication_factor));
            }
            let mut seen = BTreeSet::new();
            for (r, &b) in replicas.iter().enumerate() {
                if b == 0 || b > brokers {
                    self.err(
                        fp!["topics", i, "assignment", p, r],
                        format!(
                            "broker {b} does not exist: the cluster has brokers 1 to {brokers}"
                        ),
                    )
                    .expected(format!("a broker number from 1 to {brokers}"));
                } else if !seen.insert(b) {
                    self.err(
                        fp!["topics", i, "assignment", p, r],
                        format!("broker {b} appears twice in the replica list of partition {p}"),
                    )
                    .expected(
                        "distinct brokers: a broker holds at most one replica of a partition",
                    );
                }
            }
        }
    }

    fn producers(&mut self) {
        let stop = self.stop();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, p) in self.sc.producers.iter().enumerate() {
            let np = fp!["producers", i, "name"];
            self.name(np, &p.name, "producer");
            if let Some(&first) = seen.get(p.name.as_str()) {
                self.duplicate(np, fp!["producers", first, "name"], &p.name, "producer");
            } else {
                seen.insert(&p.name, i);
            }
            if is_reserved_node_name(&p.name) {
                self.err(np, format!("`{}` is the name of a cluster node", p.name))
                    .expected("a producer name other than `controller` and `broker-N`")
                    .help("producers are nodes too, and fault targets and links refer to nodes by name");
            } else if self.group(&p.name).is_some()
                && let Some(g) = self.sc.groups.iter().position(|g| g.name == p.name)
            {
                let line = self.line_of(fp!["groups", g, "name"]);
                self.err(np, format!("producer `{}` has the same name as a group", p.name))
                    .expected("a name different from every group's")
                    .help(format!("group `{}` is declared on line {line}; fault targets refer to producers and groups by name", p.name));
            }
            self.topic_ref(fp!["producers", i, "topic"], &p.topic, "topic");
            if p.max_in_flight == 0 {
                self.err(
                    fp!["producers", i, "max_in_flight"],
                    "`max_in_flight = 0` would never send a request",
                )
                .expected("at least 1 (`max.in.flight.requests.per.connection`)");
            }
            if p.max_batch_records == 0 {
                self.err(
                    fp!["producers", i, "max_batch_records"],
                    "`max_batch_records = 0` would never send a record",
                )
                .expected("at least 1");
            }
            self.duration(
                fp!["producers", i, "partitioner_availability_timeout_ms"],
                p.partitioner_availability_timeout_ms,
                0,
                "",
            );
            self.idempotence(i, p);
            let spin = "a producer waits this long; zero would make the simulation spin without advancing time";
            self.duration(
                fp!["producers", i, "request_timeout_ms"],
                p.request_timeout_ms,
                1,
                spin,
            );
            self.duration(
                fp!["producers", i, "delivery_timeout_ms"],
                p.delivery_timeout_ms,
                1,
                spin,
            );
            self.duration(
                fp!["producers", i, "retry_backoff_ms"],
                p.retry_backoff_ms,
                1,
                "a retry without backoff could repeat forever without advancing simulated time",
            );
            self.duration(fp!["producers", i, "linger_ms"], p.linger_ms, 0, "");
            let needed = p.linger_ms.saturating_add(p.request_timeout_ms);
            if p.delivery_timeout_ms < needed {
                let written = self.doc.has(fp!["producers", i, "delivery_timeout_ms"]);
                self.err_first(
                    &[
                    fp!["producers", i, "delivery_timeout_ms"],
                    fp!["producers", i, "request_timeout_ms"],
                    fp!["producers", i, "linger_ms"],
                ],
                    format!(
                        "{}`delivery_timeout_ms = {}` is less than `linger_ms + request_timeout_ms = {needed}`",
                        if written { "" } else { "the default " },
                        p.delivery_timeout_ms
                    ),
                )
                .expected(format!("delivery_timeout_ms ≥ {needed}"))
                .help("Kafka refuses this: \"delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms\"");
            }
            self.workload(i, p, stop);
        }
    }

    fn idempotence(&mut self, i: usize, p: &Producer) {
        if p.enable_idempotence == Some(true) {
            if p.retries == 0 {
                self.err(fp!["producers", i, "retries"], "`retries = 0` with `enable_idempotence = true`")
                    .expected("`retries` above 0, or `enable_idempotence = false`")
                    .help("Kafka refuses this: \"Must set retries to non-zero when using the idempotent producer.\"");
            }
            if p.acks != Acks::All {
                self.err(
                    fp!["producers", i, "acks"],
                    format!("`acks = \"{}\"` with `enable_idempotence = true`", p.acks.name()),
                )
                .expected("`acks = \"all\"`, or `enable_idempotence = false`")
                .help("Kafka refuses this: \"Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.\"");
            }
            if p.max_in_flight > 5 {
                self.err(
                    fp!["producers", i, "max_in_flight"],
                    format!("`max_in_flight = {}` with `enable_idempotence = true`", p.max_in_flight),
                )
                .expected("at most 5, or `enable_idempotence = false`")
                .help("Kafka refuses this: \"Must set max.in.flight.requests.per.connection to at most 5 to use the idempotent producer.\" (the broker remembers the last 5 batches per producer)");
            }
        }
        if let Some(tx) = &p.transactional_id {
            let tp = fp!["producers", i, "transactional_id"];
            if tx.is_empty() {
                self.err(tp, "`transactional_id` is empty")
                    .expected("a non-empty `transactional.id`, or no `transactional_id` at all");
            } else if !p.idempotent() {
                let why = match p.enable_idempotence {
                    Some(false) => "`enable_idempotence = false`".to_string(),
                    _ if p.acks != Acks::All => {
                        format!("idempotence is off because `acks = \"{}\"`", p.acks.name())
                    }
                    _ if p.retries == 0 => "idempotence is off because `retries = 0`".to_string(),
                    _ => format!(
                        "idempotence is off because `max_in_flight = {}`",
                        p.max_in_flight
                    ),
                };
                let at = if p.enable_idempotence == Some(false) {
                    fp!["producers", i, "enable_idempotence"]
                } else {
                    tp
                };
                self.err(at, format!("a transactional producer needs idempotence, but {why}"))
                    .expected("`acks = \"all\"`, `retries` above 0, `max_in_flight` at most 5 and idempotence not disabled")
                    .help("Kafka refuses this: \"Cannot set a transactional.id without also enabling idempotence.\"");
            }
        }
        if let Some(n) = p.transaction_size {
            let sp = fp!["producers", i, "transaction_size"];
            if p.transactional_id.is_none() {
                self.err(sp, "`transaction_size` without `transactional_id`")
                    .expected("a `transactional_id` for a transactional producer, or no `transaction_size`")
                    .help("only a transactional producer groups its records into transactions");
            } else if n == 0 {
                self.err(sp, "`transaction_size = 0` would never commit a record")
                    .expected("at least 1 record per transaction");
            }
        }
    }

    /// What the producer sends.
    fn workload(&mut self, i: usize, p: &Producer, stop: u64) {
        let has_messages = !p.messages.is_empty();
        match (&p.send, has_messages) {
            (None, false) => {
                self.err(fp!["producers", i], format!("producer `{}` sends nothing", p.name))
                    .expected("`send = { count = N, every_ms = M }` or one or more [[producers.messages]] with `at_ms`");
            }
            (Some(_), true) => {
                self.err(
                    fp!["producers", i, "messages"],
                    format!("producer `{}` has both `send` and `messages`", p.name),
                )
                .expected(
                    "one of them: `send` for a regular stream, `messages` for individual sends",
                );
            }
            _ => {}
        }
        if let Some(s) = &p.send {
            let sp = |f: &'static str| -> [Seg<'static>; 4] {
                [
                    Seg::Key("producers"),
                    Seg::Idx(i),
                    Seg::Key("send"),
                    Seg::Key(f),
                ]
            };
            if s.count == 0 {
                self.err(&sp("count"), "`count = 0` sends nothing")
                    .expected("at least 1 message");
            } else {
                let last = s.start_ms as u128 + (s.count as u128 - 1) * s.every_ms as u128;
                if last > stop as u128 {
                    // every_ms > 0 here: with every_ms = 0 all sends are at start_ms.
                    let fit = match stop.checked_sub(s.start_ms) {
                        None => 0,
                        Some(room) => room.checked_div(s.every_ms).map_or(s.count, |n| n + 1),
                    };
                    let what = if s.start_ms > stop {
                        format!(
                            "`start_ms = {}` is after `stop_at_ms = {stop}`: none of the {} messages would be sent",
                            s.start_ms, s.count
                        )
                    } else {
                        format!(
                            "only {fit} of the {} messages would be sent before `stop_at_ms = {stop}`",
                            s.count
                        )
                    };
                    let at = if s.start_ms > stop {
                        sp("start_ms")
                    } else {
                        sp("count")
                    };
                    self.err(&at, what)
                        .expected(format!(
                            "the last send (at {last} ms) no later than `stop_at_ms`"
                        ))
                        .help("raise `scenario.stop_at_ms` or lower `count`");
                }
            }
            if s.keys.is_empty() && s.key_distribution != KeyDistribution::RoundRobin {
                let name = match s.key_distribution {
                    KeyDistribution::Uniform => "uniform",
                    _ => "zipf",
                };
                self.err_first(
                    &[&sp("key_distribution"), &sp("keys")],
                    format!("`key_distribution = \"{name}\"` needs keys to choose from"),
                )
                .expected("a non-empty `keys = [\"a\", \"b\", ...]`");
            }
            self.duration(&sp("every_ms"), s.every_ms, 0, "");
        }
        let mut prev = 0;
        for (m, msg) in p.messages.iter().enumerate() {
            let at = fp!["producers", i, "messages", m, "at_ms"];
            if msg.at_ms > stop {
                self.err(
                    at,
                    format!("message at {} ms is after `stop_at_ms = {stop}`", msg.at_ms),
                )
                .expected(format!("`at_ms` ≤ {stop}"))
                .help("raise `scenario.stop_at_ms` or send earlier");
            } else if msg.at_ms < prev {
                self.err(at, format!("message at {} ms comes after one at {prev} ms", msg.at_ms))
                    .expected(format!("messages in time order: `at_ms` ≥ {prev}"))
                    .help("message ids (`producer#n`) count sends in order, so list the messages in the order they are sent");
            }
            prev = prev.max(msg.at_ms);
        }
    }

    /// KIP-932 share groups: the share settings are in Kafka's ranges, and the settings of a
    /// consumer group that a share group does not have are refused where they are set (and
    /// the share settings on a consumer group).
    fn share_groups(&mut self) {
        // The fields a share group has no use for, with why.
        const NOT_FOR_SHARE: [(&str, &str); 13] = [
            (
                "assignor",
                "the coordinator assigns share partitions with its simple assignor",
            ),
            (
                "group_protocol",
                "share groups speak KIP-932's ShareGroupHeartbeat",
            ),
            (
                "group_remote_assignor",
                "the coordinator assigns share partitions with its simple assignor",
            ),
            (
                "commit",
                "a share group acknowledges records; it commits no offsets",
            ),
            (
                "isolation_level",
                "`share.isolation.level` is not modelled: share groups read up to the high watermark",
            ),
            (
                "static_membership",
                "share groups have no `group.instance.id`",
            ),
            (
                "output_topic",
                "read-process-write transactions need a consumer group's offsets",
            ),
            (
                "dead_letter_topic",
                "a record that keeps failing is archived at `delivery_count_limit`",
            ),
            (
                "max_attempts",
                "a share group's limit is `delivery_count_limit`",
            ),
            (
                "session_timeout_ms",
                "the session is the broker's `group.share.session.timeout.ms` (45000)",
            ),
            (
                "heartbeat_interval_ms",
                "the interval is the broker's `group.share.heartbeat.interval.ms` (5000)",
            ),
            (
                "max_poll_interval_ms",
                "a share consumer has no `max.poll.interval.ms`: the record lock bounds processing",
            ),
            (
                "auto_commit_interval_ms",
                "a share group commits no offsets",
            ),
        ];
        const SHARE_ONLY: [&str; 3] = [
            "record_lock_duration_ms",
            "delivery_count_limit",
            "partition_max_record_locks",
        ];
        for (i, g) in self.sc.groups.iter().enumerate() {
            if g.group_type == GroupType::Consumer {
                for field in SHARE_ONLY {
                    if self.doc.has(fp!["groups", i, field]) {
                        self.err_key(
                            fp!["groups", i, field],
                            format!("`{field}` applies only to a share group"),
                        )
                        .expected("`type = \"share\"` on this group, or no such field")
                        .help("share groups (KIP-932) are `[[groups]]` with `type = \"share\"`");
                    }
                }
                continue;
            }
            for (field, why) in NOT_FOR_SHARE {
                if self.doc.has(fp!["groups", i, field]) {
                    self.err_key(
                        fp!["groups", i, field],
                        format!("`{field}` does not apply to a share group"),
                    )
                    .expected("no such field on a `type = \"share\"` group")
                    .help(why);
                }
            }
            // Kafka's brokers bound the group settings: `group.share.min/max.record.lock.duration.ms`
            // (15000 / 60000), `group.share.min/max.delivery.count.limit` (2 / 10), and
            // `group.share.partition.max.record.locks` takes 100 to 10000.
            let bounded = [
                (
                    "record_lock_duration_ms",
                    g.record_lock_duration_ms,
                    15_000..=60_000,
                    "group.share.min/max.record.lock.duration.ms",
                ),
                (
                    "delivery_count_limit",
                    g.delivery_count_limit.map(u64::from),
                    2..=10,
                    "group.share.min/max.delivery.count.limit",
                ),
                (
                    "partition_max_record_locks",
                    g.partition_max_record_locks.map(u64::from),
                    100..=10_000,
                    "group.share.partition.max.record.locks",
                ),
            ];
            for (field, value, range, kafka) in bounded {
                if let Some(v) = value.filter(|v| !range.contains(v)) {
                    self.err(
                        fp!["groups", i, field],
                        format!("`{field} = {v}` is outside the brokers' bounds"),
                    )
                    .expected(format!(
                        "{} to {} ({kafka})",
                        range.start(),
                        range.end()
                    ));
                }
            }
        }
    }

    fn groups(&mut self) {
        self.share_groups();
        let stop = self.stop();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, g) in self.sc.groups.iter().enumerate() {
            let np = fp!["groups", i, "name"];
            self.name(np, &g.name, "group");
            if let Some(&first) = seen.get(g.name.as_str()) {
                self.duplicate(np, fp!["groups", first, "name"], &g.name, "group");
            } else {
                seen.insert(&g.name, i);
            }
            self.topic_ref(fp!["groups", i, "topic"], &g.topic, "topic");
            if let Some(out) = &g.output_topic {
                self.topic_ref(fp!["groups", i, "output_topic"], out, "output topic");
            }
            if let Some(dlq) = &g.dead_letter_topic {
                self.topic_ref(
                    fp!["groups", i, "dead_letter_topic"],
                    dlq,
                    "dead-letter topic",
                );
            }
            if g.consumers as u64 > MAX_CONSUMERS {
                self.err(fp!["groups", i, "consumers"], format!("`consumers = {}` is more than the limit", g.consumers))
                    .expected(format!("at most {MAX_CONSUMERS} consumers"))
                    .help("runs are limited to 1000 consumers in all so that every run finishes in reasonable time");
            }
            // Kafka's ConsumerConfig (`checkUnsupportedConfigsPostProcess`) refuses client
            // settings the chosen group protocol does not use: under KIP-848 the assignor, the
            // session and the heartbeat interval are the broker's; under the classic protocol
            // there is no remote assignor.
            // Simplified: a value equal to the default is let through (a scenario printed or
            // saved by brokerlab writes every field), where Kafka refuses any value set.
            let unsupported: Vec<(&str, &str)> = match g.group_protocol {
                GroupProtocol::Consumer => [
                    (
                        g.assignor != Assignor::default(),
                        ("assignor", "partition.assignment.strategy"),
                    ),
                    (
                        g.session_timeout_ms != d_session_timeout_ms(),
                        ("session_timeout_ms", "session.timeout.ms"),
                    ),
                    (
                        g.heartbeat_interval_ms != d_heartbeat_interval_ms(),
                        ("heartbeat_interval_ms", "heartbeat.interval.ms"),
                    ),
                ]
                .into_iter()
                .filter_map(|(set, f)| set.then_some(f))
                .collect(),
                GroupProtocol::Classic if g.group_remote_assignor != RemoteAssignor::default() => {
                    vec![("group_remote_assignor", "group.remote.assignor")]
                }
                GroupProtocol::Classic => Vec::new(),
            };
            let protocol = match g.group_protocol {
                GroupProtocol::Consumer => "consumer",
                GroupProtocol::Classic => "classic",
            };
            for (field, kafka) in unsupported {
                if self.doc.has(fp!["groups", i, field]) {
                    self.err_key(
                        fp!["groups", i, field],
                        format!("`{field}` cannot be set when `group_protocol = \"{protocol}\"`"),
                    )
                    .expected(format!("no `{field}` with this group protocol"))
                    .help(match g.group_protocol {
                        GroupProtocol::Consumer => format!(
                            "Kafka refuses it: \"{kafka} cannot be set when group.protocol=CONSUMER\"; under KIP-848 the coordinator sets the heartbeat interval and session (group.consumer.heartbeat.interval.ms, group.consumer.session.timeout.ms) and assigns with `group_remote_assignor`"
                        ),
                        GroupProtocol::Classic => format!(
                            "Kafka refuses it: \"{kafka} cannot be set when group.protocol=CLASSIC\"; it chooses the coordinator's assignor under `group_protocol = \"consumer\"`"
                        ),
                    });
                }
            }
            if g.max_poll_records == 0 {
                self.err(
                    fp!["groups", i, "max_poll_records"],
                    "`max_poll_records = 0` would never return a record",
                )
                .expected("at least 1");
            }
            if g.max_attempts == 0 {
                self.err(
                    fp!["groups", i, "max_attempts"],
                    "`max_attempts = 0` would never process a record",
                )
                .expected("at least 1 attempt per record");
            }
            if g.fail_every == Some(0) {
                self.err(
                    fp!["groups", i, "fail_every"],
                    "`fail_every = 0` is not a period",
                )
                .expected("N ≥ 1: every N-th record fails processing");
            }
            if g.commit == CommitMode::Transactional && g.output_topic.is_none() {
                self.err(fp!["groups", i, "commit"], "`commit = \"transactional\"` needs an `output_topic`")
                    .expected("`output_topic = \"...\"`: the topic the group writes to in the same transaction as its offsets")
                    .help("exactly-once read-process-write commits the output records and the consumed offsets atomically");
            }
            let spin = "a zero interval would make the simulation spin without advancing time";
            if !(GROUP_MIN_SESSION_TIMEOUT_MS..=GROUP_MAX_SESSION_TIMEOUT_MS)
                .contains(&g.session_timeout_ms)
            {
                // The group coordinator refuses such a JoinGroup with INVALID_SESSION_TIMEOUT
                // (`GroupCoordinator` checks the broker's group.min/max.session.timeout.ms), and
                // the consumer's poll() throws: the member never joins.
                self.err(
                    fp!["groups", i, "session_timeout_ms"],
                    format!(
                        "`session_timeout_ms = {}` is outside the brokers' allowed range",
                        g.session_timeout_ms
                    ),
                )
                .expected(format!(
                    "{GROUP_MIN_SESSION_TIMEOUT_MS} to {GROUP_MAX_SESSION_TIMEOUT_MS} (the brokers' group.min.session.timeout.ms and group.max.session.timeout.ms)"
                ))
                .help("Kafka's group coordinator rejects the JoinGroup with INVALID_SESSION_TIMEOUT");
            }
            self.duration(
                fp!["groups", i, "heartbeat_interval_ms"],
                g.heartbeat_interval_ms,
                1,
                spin,
            );
            self.duration(
                fp!["groups", i, "max_poll_interval_ms"],
                g.max_poll_interval_ms,
                1,
                spin,
            );
            self.duration(
                fp!["groups", i, "auto_commit_interval_ms"],
                g.auto_commit_interval_ms,
                1,
                spin,
            );
            self.duration(
                fp!["groups", i, "request_timeout_ms"],
                g.request_timeout_ms,
                1,
                spin,
            );
            self.duration(
                fp!["groups", i, "fetch_max_wait_ms"],
                g.fetch_max_wait_ms,
                1,
                spin,
            );
            self.duration(fp!["groups", i, "processing_ms"], g.processing_ms, 0, "");
            if g.heartbeat_interval_ms >= g.session_timeout_ms {
                let hb = fp!["groups", i, "heartbeat_interval_ms"];
                let msg = if self.doc.has(hb) {
                    format!(
                        "`heartbeat_interval_ms = {}` is not shorter than `session_timeout_ms = {}`",
                        g.heartbeat_interval_ms, g.session_timeout_ms
                    )
                } else {
                    format!(
                        "`session_timeout_ms = {}` is not longer than the default `heartbeat_interval_ms = {}`",
                        g.session_timeout_ms, g.heartbeat_interval_ms
                    )
                };
                self.err_first(&[hb, fp!["groups", i, "session_timeout_ms"]], msg)
                    .expected("a heartbeat interval below the session timeout (Kafka recommends a third of it)")
                    .help("Kafka refuses this: \"Heartbeat must be set lower than the session timeout\"");
            }
            if g.start_ms > stop {
                self.err(
                    fp!["groups", i, "start_ms"],
                    format!("`start_ms = {}` is after `stop_at_ms = {stop}`", g.start_ms),
                )
                .expected(format!("at most {stop}"));
            }
        }
        self.pipeline_loops();
    }

    /// Groups that write (output or dead-letter) to a topic they read, directly or through other
    /// groups, would process records forever and the run could never drain.
    fn pipeline_loops(&mut self) {
        // Edges topic -> topic, labelled by (group index, field).
        let mut edges: Vec<(&str, &str, usize, &'static str)> = Vec::new();
        for (i, g) in self.sc.groups.iter().enumerate() {
            if let Some(o) = &g.output_topic {
                edges.push((&g.topic, o, i, "output_topic"));
            }
            if let Some(d) = &g.dead_letter_topic {
                edges.push((&g.topic, d, i, "dead_letter_topic"));
            }
        }
        // Report the first edge (in group order) that lies on a cycle.
        for &(from, to, g, field) in &edges {
            // Is `from` reachable from `to`?
            let mut stack = vec![to];
            let mut seen = BTreeSet::new();
            let mut found = false;
            while let Some(t) = stack.pop() {
                if t == from {
                    found = true;
                    break;
                }
                if seen.insert(t) {
                    stack.extend(edges.iter().filter(|e| e.0 == t).map(|e| e.1));
                }
            }
            if found {
                let group = &self.sc.groups[g].name;
                let msg = if from == to {
                    format!("group `{group}` writes to `{to}`, the topic it reads")
                } else {
                    format!(
                        "group `{group}` writes to `{to}`, which feeds back into `{from}`, the topic it reads"
                    )
                };
                self.err(fp!["groups", g, field], msg)
                    .expected("a topic that does not lead back to the group's input")
                    .help("records would go round the loop forever and the run could never drain");
                return;
            }
        }
    }

    fn faults(&mut self) {
        let stop = self.stop();
        for (i, f) in self.sc.faults.iter().enumerate() {
            let action = f.action.name();
            if f.at_ms > stop {
                self.err(
                    fp!["faults", i, "at_ms"],
                    format!("fault at {} ms is after `stop_at_ms = {stop}`", f.at_ms),
                )
                .expected(format!("`at_ms` ≤ {stop}"))
                .help(
                    "the fault would never fire; raise `scenario.stop_at_ms` or inject it earlier",
                );
            }
            let spec = action_spec(f.action);
            for field in FAULT_OPTIONAL_FIELDS {
                let present = fault_has(f, field);
                if spec.required.contains(&field) && !present {
                    self.err(
                        fp!["faults", i, field],
                        format!("{} `{action}` fault needs `{field}`", article(action)),
                    )
                    .expected(field_hint(field, f.action));
                } else if present
                    && !spec.required.contains(&field)
                    && !spec.optional.contains(&field)
                {
                    let mut fields = vec!["at_ms", "action"];
                    fields.extend(spec.required);
                    fields.extend(spec.optional);
                    self.err_key(
                        fp!["faults", i, field],
                        format!(
                            "`{field}` does not apply to {} `{action}` fault",
                            article(action)
                        ),
                    )
                    .expected(format!("only {} for `{action}`", list(&fields)));
                }
            }
            if let Some(t) = &f.target
                && spec.required.contains(&"target")
            {
                self.target(i, f, t);
            }
            if let Some(d) = f.duration_ms {
                self.duration(
                    fp!["faults", i, "duration_ms"],
                    d,
                    1,
                    "a fault that lasts 0 ms has no effect",
                );
            }
            if let Some(e) = f.extra_ms {
                self.duration(
                    fp!["faults", i, "extra_ms"],
                    e,
                    1,
                    "a delay of 0 ms has no effect",
                );
            }
            if f.count == Some(0) {
                self.err(fp!["faults", i, "count"], "`count = 0` drops nothing")
                    .expected("at least 1");
            }
            if let Some(link) = &f.link {
                self.link(fp!["faults", i, "link"], link, i);
            }
            if let Some(sides) = &f.sides
                && f.action == FaultAction::Partition
            {
                self.sides(i, sides);
            }
            if let (Some(g), FaultAction::AddConsumer) = (&f.group, f.action)
                && self.group(g).is_none()
            {
                let names: Vec<&str> = self.sc.groups.iter().map(|g| g.name.as_str()).collect();
                let help = suggestion(g, names.iter().copied());
                self.err(
                    fp!["faults", i, "group"],
                    format!("`{g}` is not a declared group"),
                )
                .expected(if names.is_empty() {
                    "a group declared in a [[groups]] table (this file declares none)".to_string()
                } else {
                    format!("one of {}", some_names(names.iter().copied(), 10))
                })
                .maybe_help(help);
            }
            if let (Some(p), FaultAction::ElectPreferred) = (&f.partition, f.action) {
                self.topic_partition(fp!["faults", i, "partition"], p, i, "");
            }
            if let (Some(topic), FaultAction::AddPartitions) = (&f.topic, f.action) {
                self.topic_ref(fp!["faults", i, "topic"], topic, "topic");
                if let (Some(n), Some(_)) = (f.partitions, self.topic(topic)) {
                    let current = self.partitions_before(topic, i);
                    if n <= current {
                        self.err(
                            fp!["faults", i, "partitions"],
                            format!("`partitions = {n}` does not add partitions: `{topic}` already has {current}"),
                        )
                        .expected(format!("more than {current}: the topic's new partition count"))
                        .help("Kafka can only add partitions to a topic, never remove them");
                    }
                }
            }
        }
    }

    /// The partition count of `topic` when fault `i` fires: its declared count raised by any
    /// `add-partitions` fault that fires before (ties: earlier in the file).
    fn partitions_before(&self, topic: &str, i: usize) -> u32 {
        let at = self.sc.faults.get(i).map_or(u64::MAX, |f| f.at_ms);
        let mut n = self.topic(topic).map_or(0, |t| t.partitions);
        for &(at_j, j, t, count) in &self.added_partitions {
            if t == topic && (at_j, j) < (at, i) {
                n = n.max(count);
            }
        }
        n
    }

    /// Checks `TOPIC/P` (after `leader:` when `prefix` is `"leader:"`).
    fn topic_partition(&mut self, at: &[Seg<'_>], s: &str, fault: usize, prefix: &str) -> bool {
        match parse_topic_partition(s) {
            Err(e) => {
                self.err(at, format!("`{prefix}{s}` is not a partition: {e}"))
                    .expected(format!(
                        "`{prefix}TOPIC/P`, e.g. `{prefix}orders/0` (partitions count from 0)"
                    ));
                false
            }
            Ok((topic, p)) => {
                if self.topic(topic).is_none() {
                    let names = self.topic_names();
                    let help = suggestion(topic, names.iter().copied());
                    self.err(
                        at,
                        format!("`{prefix}{s}`: `{topic}` is not a declared topic"),
                    )
                    .expected(format!(
                        "`{prefix}TOPIC/P` with one of the topics {}",
                        some_names(names.iter().copied(), 10)
                    ))
                    .maybe_help(help);
                    return false;
                }
                let n = self.partitions_before(topic, fault);
                if p >= n {
                    self.err(
                        at,
                        format!("`{prefix}{s}`: topic `{topic}` has no partition {p}"),
                    )
                    .expected(format!(
                        "a partition from 0 to {} (`{topic}` has {n} partition{})",
                        n.saturating_sub(1),
                        if n == 1 { "" } else { "s" }
                    ));
                    return false;
                }
                true
            }
        }
    }

    /// How many consumers group `g` can have: its `consumers` plus its `add-consumer` faults.
    fn max_consumers(&self, g: &Group) -> u64 {
        g.consumers as u64
            + self
                .added_consumers
                .get(g.name.as_str())
                .copied()
                .unwrap_or(0)
    }

    /// How many consumers group `g` has when fault `i` fires: its `consumers` plus the
    /// `add-consumer` faults that fire before (ties: earlier in the file).
    fn consumers_before(&self, g: &Group, i: usize) -> u64 {
        let at = self.sc.faults.get(i).map_or(u64::MAX, |f| f.at_ms);
        g.consumers as u64
            + self
                .added_consumer_faults
                .iter()
                .filter(|&&(at_j, j, name)| name == g.name && (at_j, j) < (at, i))
                .count() as u64
    }

    /// What `name` could be: the expected-text for an unknown node or target.
    fn node_choices(&self, with_leader: bool) -> String {
        let mut parts = vec![match self.sc.cluster.brokers {
            0 | 1 => "`broker-1`".to_string(),
            n => format!("`broker-1` to `broker-{n}`"),
        }];
        parts.push("`controller`".into());
        if with_leader {
            parts.push("`leader:TOPIC/P`".into());
        }
        if !self.sc.producers.is_empty() {
            parts.push(format!(
                "a producer ({})",
                some_names(self.sc.producers.iter().map(|p| p.name.as_str()), 5)
            ));
        }
        if let Some(g) = self.sc.groups.first() {
            parts.push(format!("a consumer such as `{}/consumer-1`", g.name));
        }
        format!("one of {}", parts.join(", "))
    }

    /// Checks that a parsed target names something that exists. Returns false (after
    /// reporting) if not.
    fn exists(&mut self, at: &[Seg<'_>], t: &Target, fault: usize, with_leader: bool) -> bool {
        let brokers = self.sc.cluster.brokers;
        match t {
            Target::Broker(n) => {
                if *n > brokers {
                    self.err(
                        at,
                        format!(
                            "`broker-{n}` does not exist: the cluster has {brokers} broker{}",
                            if brokers == 1 { "" } else { "s" }
                        ),
                    )
                    .expected(format!("`broker-1` to `broker-{brokers}`"));
                    return false;
                }
                true
            }
            Target::Controller => true,
            Target::Leader { .. } => {
                let s = t.to_string();
                let tp = s.strip_prefix("leader:").unwrap_or(&s).to_string();
                self.topic_partition(at, &tp, fault, "leader:")
            }
            Target::Producer(name) => {
                if self.producer(name).is_some() {
                    return true;
                }
                let mut candidates: Vec<String> =
                    self.sc.producers.iter().map(|p| p.name.clone()).collect();
                candidates.push("controller".into());
                for b in 1..=brokers.min(MAX_BROKERS) {
                    candidates.push(format!("broker-{b}"));
                }
                let help = suggestion(name, candidates.iter().map(String::as_str)).or_else(|| {
                    if self.group(name).is_some() {
                        Some(format!("`{name}` is a group; name one of its consumers, e.g. `{name}/consumer-1`"))
                    } else if self.topic(name).is_some() {
                        Some(format!("`{name}` is a topic; name a partition's leader, e.g. `leader:{name}/0`"))
                    } else {
                        None
                    }
                });
                let choices = self.node_choices(with_leader);
                self.err(
                    at,
                    format!("unknown target `{name}`: no node has that name"),
                )
                .expected(choices)
                .maybe_help(help);
                false
            }
            Target::Consumer { group, index } => {
                let Some(g) = self.group(group) else {
                    let names: Vec<&str> = self.sc.groups.iter().map(|g| g.name.as_str()).collect();
                    let help = suggestion(group, names.iter().copied());
                    self.err(at, format!("`{t}`: `{group}` is not a declared group"))
                        .expected(if names.is_empty() {
                            "a group declared in a [[groups]] table (this file declares none)"
                                .to_string()
                        } else {
                            format!(
                                "`GROUP/consumer-N` with one of the groups {}",
                                some_names(names.iter().copied(), 10)
                            )
                        })
                        .maybe_help(help);
                    return false;
                };
                let max = self.max_consumers(g);
                if *index as u64 > max {
                    self.err(at, format!("`{t}` does not exist: group `{group}` has {max} consumer{}", if max == 1 { "" } else { "s" }))
                        .expected(if max == 0 {
                            format!("a consumer of `{group}`, which has none: raise `consumers` or add one with an `add-consumer` fault")
                        } else {
                            format!("`{group}/consumer-1` to `{group}/consumer-{max}`")
                        })
                        .help("a group has its `consumers` plus one per `add-consumer` fault");
                    return false;
                }
                let before = self.consumers_before(g, fault);
                if *index as u64 > before {
                    let at_ms = self.sc.faults.get(fault).map_or(0, |f| f.at_ms);
                    self.err(at, format!("`{t}` does not exist yet when this fault fires at {at_ms} ms: group `{group}` has {before} consumer{} by then", if before == 1 { "" } else { "s" }))
                        .expected(format!("an `add-consumer` fault for `{group}` that fires before this one (earlier `at_ms`, or the same `at_ms` and earlier in the file)"))
                        .help("consumers added by `add-consumer` faults are numbered in the order the faults fire");
                    return false;
                }
                true
            }
        }
    }

    fn target(&mut self, i: usize, f: &Fault, s: &str) {
        let at = fp!["faults", i, "target"];
        let action = f.action.name();
        let t = match Target::parse(s) {
            Ok(t) => t,
            Err(e) => {
                let choices = self.node_choices(true);
                self.err(at, format!("bad target: {e}")).expected(choices);
                return;
            }
        };
        // Which kinds of target the action takes.
        match (f.action, &t) {
            (FaultAction::DropAcks | FaultAction::Zombie, Target::Producer(_)) => {}
            (FaultAction::DropAcks | FaultAction::Zombie, _) => {
                let names = some_names(self.sc.producers.iter().map(|p| p.name.as_str()), 5);
                self.err(
                    at,
                    format!(
                        "{} `{action}` fault targets a producer, not `{s}`",
                        article(action)
                    ),
                )
                .expected(if names.is_empty() {
                    "a producer name (this file declares no producers)".to_string()
                } else {
                    format!("a producer: {names}")
                });
                return;
            }
            (FaultAction::Stop, Target::Broker(_) | Target::Leader { .. }) => {}
            (FaultAction::Stop, _) => {
                self.err(
                    at,
                    format!("a `stop` fault targets a broker, not `{s}`"),
                )
                .expected("`broker-N` or `leader:TOPIC/P`")
                .help("`stop` is a broker's controlled shutdown; use `crash` for any other process");
                return;
            }
            (FaultAction::RemoveConsumer, Target::Consumer { .. }) => {}
            (FaultAction::RemoveConsumer, _) => {
                self.err(
                    at,
                    format!("a `remove-consumer` fault targets a consumer, not `{s}`"),
                )
                .expected("`GROUP/consumer-N`, e.g. `billing/consumer-2`");
                return;
            }
            _ => {}
        }
        if !self.exists(at, &t, i, true) {
            return;
        }
        if let (FaultAction::Zombie, Target::Producer(name)) = (f.action, &t)
            && self
                .producer(name)
                .is_some_and(|p| p.transactional_id.is_none())
        {
            self.err(at, format!("a `zombie` fault needs a transactional producer, and `{name}` has no `transactional_id`"))
                .expected("a producer with a `transactional_id`")
                .help("zombie fencing is about transactional producers: a new instance with the same transactional.id bumps the epoch and the old one gets PRODUCER_FENCED");
        }
    }

    fn link(&mut self, at: &[Seg<'_>], s: &str, fault: usize) {
        match parse_link(s) {
            Err(e) => {
                let choices = self.node_choices(true);
                self.err(at, e).expected(format!(
                    "`\"FROM->TO\"` where FROM and TO are {}",
                    choices.trim_start_matches("one of ")
                ));
            }
            Ok((a, b)) => {
                if self.exists(at, &a, fault, true) {
                    self.exists(at, &b, fault, true);
                }
            }
        }
    }

    fn sides(&mut self, i: usize, sides: &[Vec<String>]) {
        let non_empty = sides.iter().filter(|s| !s.is_empty()).count();
        if non_empty < 2 {
            self.err(fp!["faults", i, "sides"], format!("a partition needs at least two non-empty sides, this one has {non_empty}"))
                .expected("`sides = [[\"broker-1\"], [\"broker-2\", \"broker-3\"]]`: nodes on different sides cannot talk");
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (s, side) in sides.iter().enumerate() {
            for (n, name) in side.iter().enumerate() {
                let at = fp!["faults", i, "sides", s, n];
                match Target::parse(name) {
                    Err(e) => {
                        let choices = self.node_choices(true);
                        self.err(at, format!("bad node name: {e}"))
                            .expected(choices);
                        continue;
                    }
                    Ok(t) => {
                        if !self.exists(at, &t, i, true) {
                            continue;
                        }
                    }
                }
                match seen.get(name.as_str()) {
                    Some(&other) if other != s => {
                        self.err(at, format!("`{name}` is on two sides of the partition"))
                            .expected("each node on at most one side");
                    }
                    Some(_) => {
                        self.err(at, format!("`{name}` is listed twice on the same side"))
                            .expected("each node once");
                    }
                    None => {
                        seen.insert(name.clone(), s);
                    }
                }
            }
        }
    }

    fn notes(&mut self) {
        let stop = self.stop();
        for (i, n) in self.sc.notes.iter().enumerate() {
            // Only a file can leave `at_ms` out: a scenario built in code (a compare preset,
            // a session) has no document to look in.
            if n.after.is_none()
                && self.doc.has(fp!["notes", i])
                && !self.doc.has(fp!["notes", i, "at_ms"])
            {
                self.err(
                    fp!["notes", i],
                    "this note says neither when nor after what it is shown",
                )
                .expected("`at_ms = N` (a time), `after = \"EVENT SUBJECT\"` (an event), or both")
                .help("for example `after = \"election orders/0\"`: shown right after that event");
            }
            if n.at_ms > stop {
                self.err(
                    fp!["notes", i, "at_ms"],
                    format!("note at {} ms is after `stop_at_ms = {stop}`", n.at_ms),
                )
                .expected(format!("`at_ms` ≤ {stop}"))
                .help("the note would never be shown");
            }
        }
    }

    /// Each note's `after`: a known event about a thing the run has. The error points at the
    /// offending word when the string is written plainly.
    fn anchors(&mut self) {
        if self.sc.notes.iter().all(|n| n.after.is_none()) {
            return;
        }
        let scope = super::anchor::AnchorScope::of(self.sc);
        for (i, n) in self.sc.notes.iter().enumerate() {
            let Some(after) = n.after.as_deref() else {
                continue;
            };
            let at = crate::sim::SimTime::from_ms(n.at_ms);
            let Err(e) = super::anchor::parse_anchor(after, at, &scope) else {
                continue;
            };
            self.anchor_error(fp!["notes", i, "after"], after, e);
        }
    }

    /// A bad anchor `after` at `path`, pointing at the offending word when the string is
    /// written plainly (`"..."` with nothing escaped), else at the whole string.
    fn anchor_error(&mut self, path: &[Seg<'_>], after: &str, e: super::anchor::AnchorError) {
        let span = self.doc.span(path);
        let plain = self.text.get(span.clone()) == Some(format!("\"{after}\"").as_str());
        let span = if plain {
            span.start + 1 + e.at.start..span.start + 1 + e.at.end.max(e.at.start + 1)
        } else {
            span
        };
        self.push(span, e.message)
            .expected(e.expected)
            .maybe_help(e.help);
    }

    fn expect(&mut self) {
        let Some(e) = &self.sc.expect else { return };
        for name in e.groups.keys() {
            if self.group(name).is_none() {
                let names: Vec<&str> = self.sc.groups.iter().map(|g| g.name.as_str()).collect();
                let help = suggestion(name, names.iter().copied());
                self.err_key(
                    fp!["expect", "groups", name.as_str()],
                    format!("`{name}` is not a declared group"),
                )
                .expected(if names.is_empty() {
                    "a group declared in a [[groups]] table (this file declares none)".to_string()
                } else {
                    format!(
                        "one of the groups {}",
                        some_names(names.iter().copied(), 10)
                    )
                })
                .maybe_help(help);
            }
        }
        for name in e.errors.keys() {
            if !known_error_names().any(|k| k == name) {
                let help = suggestion(name, known_error_names());
                self.err_key(
                    fp!["expect", "errors", name.as_str()],
                    format!("`{name}` is not a Kafka error the simulator produces"),
                )
                .expected(format!("one of {}", some_names(known_error_names(), 20)))
                .maybe_help(help);
            }
        }
    }

    /// Up-front limits on how many entries each table has and how many keys a producer draws
    /// from, so that memory stays bounded whatever the file says. True if one was exceeded.
    fn table_limits(&mut self) -> bool {
        let tables: [(&str, usize, usize); 5] = [
            ("producers", self.sc.producers.len(), MAX_PRODUCERS),
            ("topics", self.sc.topics.len(), MAX_TABLE_ENTRIES),
            ("groups", self.sc.groups.len(), MAX_TABLE_ENTRIES),
            ("faults", self.sc.faults.len(), MAX_TABLE_ENTRIES),
            ("notes", self.sc.notes.len(), MAX_TABLE_ENTRIES),
        ];
        for (table, len, max) in tables {
            if len > max {
                self.err(
                    fp![table, max],
                    format!(
                        "this file has {len} [[{table}]] entries, more than the limit of {max}"
                    ),
                )
                .expected(format!("at most {max} [[{table}]] entries"))
                .help("runs are limited so that every run fits in reasonable time and memory");
                return true;
            }
        }
        for (i, p) in self.sc.producers.iter().enumerate() {
            if let Some(keys) = p.send.as_ref().map(|s| s.keys.len())
                && keys > MAX_KEYS
            {
                self.err(
                    fp!["producers", i, "send", "keys"],
                    format!("this producer's `send` draws from {keys} keys, more than the limit of {MAX_KEYS}"),
                )
                .expected(format!("at most {MAX_KEYS} keys"));
                return true;
            }
        }
        false
    }

    /// How many processes the run makes: the simulated network keeps an entry per pair.
    fn process_limit(&mut self) -> bool {
        // Every process: brokers, the controller, producers (a zombie adds an instance), and
        // each consumer with the producers embedded in it.
        let mut nodes = u64::from(self.sc.cluster.brokers) + 1 + self.sc.producers.len() as u64;
        let per_consumer = |g: &crate::scenario::Group| {
            1 + u64::from(g.output_topic.is_some()) + u64::from(g.dead_letter_topic.is_some())
        };
        for (i, g) in self.sc.groups.iter().enumerate() {
            nodes += u64::from(g.consumers) * per_consumer(g);
            if nodes > MAX_NODES {
                self.err(
                    fp!["groups", i, "consumers"],
                    format!("the run has {nodes} processes up to here (brokers, producers, consumers and the producers they embed), more than the limit of {MAX_NODES}"),
                )
                .expected(format!("at most {MAX_NODES} processes in all"))
                .help("the simulated network keeps an entry per pair of processes, so their number is bounded");
                return true;
            }
        }
        for (i, f) in self.sc.faults.iter().enumerate() {
            nodes += match f.action {
                FaultAction::Zombie => 1,
                FaultAction::AddConsumer => f
                    .group
                    .as_deref()
                    .and_then(|name| self.sc.groups.iter().find(|g| g.name == name))
                    .map_or(1, per_consumer),
                _ => 0,
            };
            if nodes > MAX_NODES {
                self.err(
                    fp!["faults", i],
                    format!("this fault makes {nodes} processes, more than the limit of {MAX_NODES}"),
                )
                .expected(format!("at most {MAX_NODES} processes in all, counting `add-consumer` and `zombie` faults"))
                .help("the simulated network keeps an entry per pair of processes, so their number is bounded");
                return true;
            }
        }
        false
    }

    /// Up-front limits so that a run always finishes.
    fn limits(&mut self) {
        if self.table_limits() {
            return;
        }
        let before = self.issues.len();
        self.count_limits();
        if self.issues.len() == before {
            self.process_limit();
        }
    }

    /// Messages, partitions and consumers over the whole run.
    fn count_limits(&mut self) {
        let mut total: u64 = 0;
        for (i, p) in self.sc.producers.iter().enumerate() {
            let n = p
                .send
                .as_ref()
                .map_or(0, |s| s.count)
                .saturating_add(p.messages.len() as u64);
            total = total.saturating_add(n);
            if total > MAX_MESSAGES {
                let at = if p.send.is_some() {
                    fp!["producers", i, "send", "count"]
                } else {
                    fp!["producers", i, "messages"]
                };
                self.err(at, format!("the producers send {total} messages up to here, more than the limit of {MAX_MESSAGES}"))
                    .expected(format!("at most {MAX_MESSAGES} messages over all producers"))
                    .help("runs are limited to 5 million messages so that every run finishes in reasonable time and memory");
                break;
            }
        }
        let mut total: u64 = 0;
        for (i, t) in self.sc.topics.iter().enumerate() {
            total += self
                .partitions_before(&t.name, usize::MAX)
                .max(t.partitions) as u64;
            if total > MAX_PARTITIONS {
                let grown = self.partitions_before(&t.name, usize::MAX) > t.partitions;
                self.err(
                    fp!["topics", i, "partitions"],
                    format!(
                        "the topics have {total} partitions up to here{}, more than the limit of {MAX_PARTITIONS}",
                        if grown { " (after `add-partitions` faults)" } else { "" }
                    ),
                )
                .expected(format!("at most {MAX_PARTITIONS} partitions over all topics"))
                .help("runs are limited to 10000 partitions so that every run finishes in reasonable time and memory");
                break;
            }
        }
        let mut total: u64 = 0;
        for (i, g) in self.sc.groups.iter().enumerate() {
            total += g.consumers as u64;
            if total > MAX_CONSUMERS && g.consumers as u64 <= MAX_CONSUMERS {
                self.err(fp!["groups", i, "consumers"], format!("the groups have {total} consumers up to here, more than the limit of {MAX_CONSUMERS}"))
                    .expected(format!("at most {MAX_CONSUMERS} consumers over all groups"))
                    .help("runs are limited to 1000 consumers so that every run finishes in reasonable time");
                return;
            }
        }
        for (i, f) in self.sc.faults.iter().enumerate() {
            if f.action == FaultAction::AddConsumer {
                total += 1;
                if total > MAX_CONSUMERS {
                    self.err(fp!["faults", i], format!("this `add-consumer` fault makes {total} consumers, more than the limit of {MAX_CONSUMERS}"))
                        .expected(format!("at most {MAX_CONSUMERS} consumers over all groups, counting `add-consumer` faults"))
                        .help("runs are limited to 1000 consumers so that every run finishes in reasonable time");
                    return;
                }
            }
        }
    }
}
