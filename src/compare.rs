//! `brokerlab compare`: the same workload, faults and seed under the at-most-once,
//! at-least-once and exactly-once presets, side by side.
//!
//! A preset changes only delivery-guarantee settings, on every producer and every group:
//!
//! | preset | producers | groups |
//! |---|---|---|
//! | at-most-once | `acks=1`, `retries=0`, no idempotence, no `transactional.id` | `before-process` |
//! | at-least-once | `acks=all`, `retries=2147483647`, no idempotence, `max.in.flight=5`, no `transactional.id` | `after-process` |
//! | exactly-once | `acks=all`, idempotence | `transactional` with an `output_topic`, else `after-process` with a dedup sink; `read_committed` |
//!
//! A scenario's `[compare.PRESET]` tables override single settings. Every variant drops the
//! scenario's `[expect]` (it was written for the original settings) and is validated like a
//! scenario file.

pub mod systems;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::check::{Checker, Fate, MsgStatus, Outcome};
use crate::scenario::profile::{self, KafkaVersion};
use crate::scenario::{
    self, Acks, CommitMode, FaultAction, IsolationLevel, PresetOverride, Scenario, Target,
};
use crate::sim::{GroupId, MsgId, Sim};
use crate::sweep::{CheckedRun, run_checked};

/// Kafka's default `retries`.
const DEFAULT_RETRIES: u32 = i32::MAX as u32;

/// Above this many messages in a group, the text matrix shows only the messages whose cells
/// differ between presets.
pub const MATRIX_ALL_ROWS: usize = 20;
/// At most this many differing rows per group in the text matrix (`--json` has them all).
pub const MATRIX_MAX_ROWS: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    AtMostOnce,
    AtLeastOnce,
    ExactlyOnce,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::AtMostOnce, Preset::AtLeastOnce, Preset::ExactlyOnce];

    pub fn name(self) -> &'static str {
        match self {
            Preset::AtMostOnce => "at-most-once",
            Preset::AtLeastOnce => "at-least-once",
            Preset::ExactlyOnce => "exactly-once",
        }
    }

    fn overrides(self, sc: &Scenario) -> Option<&PresetOverride> {
        let c = sc.compare.as_ref()?;
        match self {
            Preset::AtMostOnce => c.at_most_once.as_ref(),
            Preset::AtLeastOnce => c.at_least_once.as_ref(),
            Preset::ExactlyOnce => c.exactly_once.as_ref(),
        }
    }
}

/// The scenario under one preset.
#[derive(Clone, Debug)]
pub struct Variant {
    pub preset: Preset,
    pub scenario: Scenario,
    /// What had to change beyond the preset's settings for the scenario to stay valid.
    pub notes: Vec<String>,
}

/// Applies `preset` (and the scenario's `[compare]` overrides for it) to every producer and
/// group. The result is not validated; [`variants`] does that.
pub fn apply(sc: &Scenario, preset: Preset) -> Variant {
    let mut v = sc.clone();
    v.expect = None;
    v.compare = None;
    let mut notes = Vec::new();
    let ov = preset.overrides(sc).cloned().unwrap_or_default();
    for p in &mut v.producers {
        match preset {
            Preset::AtMostOnce => {
                p.acks = Acks::Leader;
                p.retries = 0;
                p.enable_idempotence = Some(false);
            }
            Preset::AtLeastOnce => {
                p.acks = Acks::All;
                p.retries = DEFAULT_RETRIES;
                p.enable_idempotence = Some(false);
                p.max_in_flight = 5;
            }
            Preset::ExactlyOnce => {
                p.acks = Acks::All;
                p.enable_idempotence = Some(true);
                // Idempotence needs retries and at most 5 requests in flight.
                if p.retries == 0 {
                    p.retries = DEFAULT_RETRIES;
                }
                p.max_in_flight = p.max_in_flight.min(5);
            }
        }
        if let Some(a) = ov.acks {
            p.acks = a;
        }
        if let Some(r) = ov.retries {
            p.retries = r;
        }
        if let Some(i) = ov.enable_idempotence {
            p.enable_idempotence = Some(i);
        }
        if let Some(m) = ov.max_in_flight {
            p.max_in_flight = m;
        }
        // A transactional producer needs idempotence.
        if p.transactional_id.is_some() && (preset != Preset::ExactlyOnce || !p.idempotent()) {
            notes.push(format!(
                "{}: not transactional (transactional.id needs idempotence)",
                p.name
            ));
            p.transactional_id = None;
            p.transaction_size = None;
        }
    }
    for g in &mut v.groups {
        let (commit, dedup, isolation) = match preset {
            Preset::AtMostOnce => (
                CommitMode::BeforeProcess,
                false,
                IsolationLevel::ReadUncommitted,
            ),
            Preset::AtLeastOnce => (
                CommitMode::AfterProcess,
                false,
                IsolationLevel::ReadUncommitted,
            ),
            Preset::ExactlyOnce if g.output_topic.is_some() => (
                CommitMode::Transactional,
                false,
                IsolationLevel::ReadCommitted,
            ),
            Preset::ExactlyOnce => (
                CommitMode::AfterProcess,
                true,
                IsolationLevel::ReadCommitted,
            ),
        };
        g.commit = commit;
        g.dedup = dedup;
        g.isolation_level = isolation;
        // `transactional` needs an output topic: it only applies to processors.
        if let Some(c) = ov.commit
            && (c != CommitMode::Transactional || g.output_topic.is_some())
        {
            g.commit = c;
        }
        if let Some(d) = ov.dedup {
            g.dedup = d;
        }
        if let Some(i) = ov.isolation_level {
            g.isolation_level = i;
        }
    }
    // A `zombie` fault needs a transactional producer.
    let before = v.faults.len();
    let transactional: Vec<String> = v
        .producers
        .iter()
        .filter(|p| p.transactional_id.is_some())
        .map(|p| p.name.clone())
        .collect();
    v.faults.retain(|f| {
        f.action != FaultAction::Zombie
            || f.target.as_deref().is_some_and(|t| match Target::parse(t) {
                Ok(Target::Producer(name)) => transactional.contains(&name),
                _ => true,
            })
    });
    let dropped = before - v.faults.len();
    if dropped > 0 {
        notes.push(format!(
            "{dropped} zombie fault{} dropped (no transactional producer)",
            if dropped == 1 { "" } else { "s" }
        ));
    }
    drop_notes_of_missing_transactions(&mut v);
    Variant {
        preset,
        scenario: v,
        notes,
    }
}

/// Drops the notes waiting for the end of a transaction `v` no longer has: they would never show.
fn drop_notes_of_missing_transactions(v: &mut Scenario) {
    let scope = crate::scenario::anchor::AnchorScope::of(v);
    let keep: Vec<bool> = v
        .notes
        .iter()
        .map(|n| {
            n.after
                .as_deref()
                .and_then(crate::scenario::anchor::transaction_named)
                .is_none_or(|id| scope.has_transactional_id(id))
        })
        .collect();
    let mut keep = keep.into_iter();
    v.notes.retain(|_| keep.next().unwrap_or(true));
}

/// The three variants, each validated. The error names the preset and what is wrong.
pub fn variants(label: &str, sc: &Scenario) -> Result<Vec<Variant>, String> {
    variants_in(label, "", sc)
}

/// Like [`variants`], with the scenario's text, so that an error says where in the file the
/// setting the preset changes is (or the table it belongs to).
pub fn variants_in(label: &str, text: &str, sc: &Scenario) -> Result<Vec<Variant>, String> {
    // The presets are settings of Kafka's clients (acks, idempotence, commit points,
    // isolation): another system has none of them, so the comparison would show three
    // identical runs under names that do not apply.
    if !sc.cluster.system.is_kafka() {
        return Err(format!(
            "error: {label}: the guarantee presets are Kafka's producer and consumer settings, and this scenario runs on {}\n  = help: compare it across queue systems instead: `brokerlab compare {label} --systems kafka,rabbitmq,sqs,redis-list`",
            sc.cluster.system.name()
        ));
    }
    Preset::ALL
        .iter()
        .map(|&p| {
            let v = apply(sc, p);
            match scenario::validate(label, text, &v.scenario) {
                Ok(()) => Ok(v),
                Err(e) => {
                    let at = match (e.line(), e.column()) {
                        (Some(l), Some(c)) => format!("{label}:{l}:{c}"),
                        (Some(l), None) => format!("{label}:{l}"),
                        _ => label.to_string(),
                    };
                    let mut m = format!(
                        "error: {at}: under the {} preset the scenario is invalid: {}",
                        p.name(),
                        e.message()
                    );
                    if let Some(x) = e.expected() {
                        let _ = write!(m, "\n  = expected {x}");
                    }
                    if let Some(h) = e.help() {
                        let _ = write!(m, "\n  = help: {h}");
                    }
                    let _ = write!(
                        m,
                        "\n  = help: a `[compare.{}]` table in the scenario can override the preset's settings",
                        p.name()
                    );
                    Err(m)
                }
            }
        })
        .collect()
}

// ----- versions ------------------------------------------------------------------------------

/// The scenario under one Kafka version profile, or why that release refuses it.
#[derive(Clone, Debug)]
pub struct VersionVariant {
    pub version: KafkaVersion,
    pub scenario: Result<Scenario, Vec<String>>,
}

/// The scenario resolved under each of `versions` (its explicit settings kept, the rest from
/// the profile), without `[expect]` and `[compare]`, each validated like a scenario file. A
/// version that refuses a setting, or under whose defaults the scenario is invalid, carries
/// the reasons instead.
pub fn version_variants(
    label: &str,
    sc: &Scenario,
    versions: &[KafkaVersion],
) -> Vec<VersionVariant> {
    versions
        .iter()
        .map(|&version| {
            let mut v = sc.clone();
            v.expect = None;
            v.compare = None;
            profile::resolve(&mut v, version);
            let refused: Vec<String> = profile::refusals(&v)
                .into_iter()
                .map(|r| format!("{}: {}", r.path(), r.message))
                .collect();
            let scenario = if !refused.is_empty() {
                Err(refused)
            } else {
                scenario::validate(label, "", &v)
                    .map(|()| v)
                    .map_err(|e| vec![format!("invalid under its defaults: {}", e.message())])
            };
            VersionVariant { version, scenario }
        })
        .collect()
}

/// The settings whose values differ between `scenarios` (one per column).
pub fn differing_settings(scenarios: &[&Scenario]) -> Vec<SettingRow> {
    let per: Vec<Vec<profile::Setting>> = scenarios.iter().map(|s| profile::settings(s)).collect();
    let Some(first) = per.first() else {
        return Vec::new();
    };
    (0..first.len())
        .filter_map(|k| {
            let values: Vec<String> = per.iter().map(|p| p[k].value.clone()).collect();
            values.iter().any(|v| *v != values[0]).then(|| SettingRow {
                who: first[k].who.clone(),
                setting: first[k].kafka,
                values,
            })
        })
        .collect()
}

/// The report of already-built version variants and the runs of those that ran.
pub fn build_versions(
    label: &str,
    sc: &Scenario,
    variants: &[VersionVariant],
    runs: &[CheckedRun],
    seed: u64,
) -> CompareReport {
    let ran: Vec<(KafkaVersion, &Scenario)> = variants
        .iter()
        .filter_map(|v| v.scenario.as_ref().ok().map(|s| (v.version, s)))
        .collect();
    let presets = ran
        .iter()
        .map(|(v, s)| settings_of(v.name(), s, Vec::new()))
        .collect();
    let mut r = build_columns(label, sc, presets, runs, seed);
    r.versions = Some(VersionsReport {
        columns: variants.iter().map(|v| v.version.name()).collect(),
        refused: variants
            .iter()
            .filter_map(|v| {
                v.scenario.as_ref().err().map(|reasons| RefusedVersion {
                    version: v.version.name(),
                    reasons: reasons.clone(),
                })
            })
            .collect(),
        differing: differing_settings(&ran.iter().map(|(_, s)| *s).collect::<Vec<_>>()),
    });
    r
}

/// `compare --versions`: runs the scenario under each profile that accepts it, with `seed`.
pub fn compare_versions(
    label: &str,
    sc: &Scenario,
    versions: &[KafkaVersion],
    seed: u64,
) -> CompareReport {
    let variants = version_variants(label, sc, versions);
    let runs: Vec<CheckedRun> = variants
        .iter()
        .filter_map(|v| v.scenario.as_ref().ok())
        .map(|s| run_checked(s, seed, |_| {}))
        .collect();
    build_versions(label, sc, &variants, &runs, seed)
}

/// `0.10,4.2` → the versions, oldest first, each once.
pub fn parse_versions(list: &str) -> Result<Vec<KafkaVersion>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match KafkaVersion::parse(item) {
            Some(v) => out.push(v),
            None => {
                return Err(format!(
                    "error: --versions: no profile for Kafka `{item}`\n  = expected a comma-separated list of {}",
                    KafkaVersion::names()
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "error: --versions: no version given\n  = expected a comma-separated list of {}",
            KafkaVersion::names()
        ));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

// ----- the report ----------------------------------------------------------------------------

/// The effective delivery settings of one producer under a preset.
#[derive(Clone, Debug, Serialize)]
pub struct ProducerSettings {
    pub acks: &'static str,
    pub retries: u32,
    pub enable_idempotence: bool,
    pub max_in_flight: u32,
    pub transactional_id: Option<String>,
}

/// The effective delivery settings of one group under a preset.
#[derive(Clone, Debug, Serialize)]
pub struct GroupSettings {
    pub commit: &'static str,
    pub dedup: bool,
    pub isolation_level: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct PresetSettings {
    pub name: &'static str,
    /// Per producer, in scenario order (a JSON object).
    #[serde(serialize_with = "ordered_map")]
    pub producers: Vec<(String, ProducerSettings)>,
    /// Per group, in scenario order (a JSON object).
    #[serde(serialize_with = "ordered_map")]
    pub groups: Vec<(String, GroupSettings)>,
    /// Changes beyond the preset's settings that kept the scenario valid.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VariantOutcome {
    pub preset: &'static str,
    pub events: u64,
    pub end_ms: u64,
    pub offline_partitions: u64,
    /// Totals and, under `groups`, per-group outcomes, as in `brokerlab run --json`.
    pub outcome: Outcome,
    /// What the preset cost: latency, lag, unavailability, as in `brokerlab run --json`.
    pub metrics: crate::report::MetricsReport,
}

/// One cell of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// `applied`, `lost`, `unseen`, `failed`, `aborted`, `dead_lettered`, `pending` (the run
    /// has not drained) or `not-sent` (the message was not sent under this preset).
    pub status: &'static str,
    /// How many times the group applied it.
    pub applied: u32,
    /// The producer saw success.
    pub acked: bool,
    /// The producer gave up on it.
    pub failed: bool,
}

impl Cell {
    const NOT_SENT: Cell = Cell {
        status: "not-sent",
        applied: 0,
        acked: false,
        failed: false,
    };

    /// `✓` applied once, `2×` applied twice, `✗` lost (`✗ acked`: the producer was told it
    /// succeeded), `failed` (the producer was told, and no log holds it), `unseen` (in the log,
    /// ahead of the group), `aborted`, `dead`, `…` pending, `·` not sent.
    pub fn symbol(&self) -> String {
        match self.status {
            "applied" if self.applied == 1 => "✓".to_string(),
            "applied" => format!("{}×", self.applied),
            "lost" if self.acked => "✗ acked".to_string(),
            "lost" if self.failed => "✗ failed".to_string(),
            "lost" => "✗".to_string(),
            "failed" => "failed".to_string(),
            "unseen" => "unseen".to_string(),
            "aborted" => "aborted".to_string(),
            "dead_lettered" => "dead".to_string(),
            "pending" => "…".to_string(),
            _ => "·".to_string(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct MatrixRow {
    pub message: String,
    /// One cell per preset, in `presets` order.
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupMatrix {
    pub group: String,
    /// Rows whose cells differ between presets.
    pub differing: usize,
    /// Every message of the group's input, in producer and send order.
    pub rows: Vec<MatrixRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    pub scenario: String,
    pub title: String,
    pub seed: u64,
    pub presets: Vec<PresetSettings>,
    pub outcomes: Vec<VariantOutcome>,
    pub matrix: Vec<GroupMatrix>,
    /// With `--versions`: the columns asked for, the ones that refused the scenario and the
    /// settings that differ. `presets` and `outcomes` then hold one entry per version that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<VersionsReport>,
}

/// `compare --versions`: what differs between the version profiles.
#[derive(Clone, Debug, Serialize)]
pub struct VersionsReport {
    /// Every version asked for, oldest first: the columns.
    pub columns: Vec<&'static str>,
    /// The versions that refuse a setting of the scenario, and why: they did not run.
    pub refused: Vec<RefusedVersion>,
    /// The profile-controlled settings whose values differ between the versions that ran, one
    /// value per entry of `outcomes`.
    pub differing: Vec<SettingRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RefusedVersion {
    pub version: &'static str,
    /// `producers[0].enable_idempotence: ... did not exist in Kafka 0.10 ...`
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SettingRow {
    /// `cluster`, a producer or a group.
    pub who: String,
    /// Kafka's name.
    pub setting: &'static str,
    pub values: Vec<String>,
}

fn ordered_map<S: serde::Serializer, T: Serialize>(
    items: &[(String, T)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(items.len()))?;
    for (k, v) in items {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// The settings of a validated variant.
pub fn settings(v: &Variant) -> PresetSettings {
    settings_of(v.preset.name(), &v.scenario, v.notes.clone())
}

/// The delivery settings of every producer and group of `sc`, under the column `name`.
fn settings_of(name: &'static str, sc: &Scenario, notes: Vec<String>) -> PresetSettings {
    PresetSettings {
        name,
        producers: sc
            .producers
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    ProducerSettings {
                        acks: p.acks.name(),
                        retries: p.retries,
                        enable_idempotence: p.idempotent(),
                        max_in_flight: p.max_in_flight,
                        transactional_id: p.transactional_id.clone(),
                    },
                )
            })
            .collect(),
        groups: sc
            .groups
            .iter()
            .map(|g| {
                (
                    g.name.clone(),
                    GroupSettings {
                        commit: g.commit.name(),
                        dedup: g.dedup,
                        isolation_level: match g.isolation_level {
                            IsolationLevel::ReadCommitted => "read_committed",
                            IsolationLevel::ReadUncommitted => "read_uncommitted",
                        },
                    },
                )
            })
            .collect(),
        notes,
    }
}

/// Runs the three variants (validated by [`variants`]) with `seed` and builds the report.
pub fn compare(label: &str, sc: &Scenario, variants: &[Variant], seed: u64) -> CompareReport {
    let runs: Vec<CheckedRun> = variants
        .iter()
        .map(|v| run_checked(&v.scenario, seed, |_| {}))
        .collect();
    build(label, sc, variants, &runs, seed)
}

/// The largest of some millisecond figures, formatted (`-` if none).
fn worst(values: impl Iterator<Item = f64>) -> String {
    values
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
        .map_or("-".to_string(), crate::report::fmt_ms)
}

/// The report from finished (or, in the TUI, partial) runs of the variants.
pub fn build(
    label: &str,
    sc: &Scenario,
    variants: &[Variant],
    runs: &[CheckedRun],
    seed: u64,
) -> CompareReport {
    build_columns(
        label,
        sc,
        variants.iter().map(settings).collect(),
        runs,
        seed,
    )
}

/// The report from one run per column; each column's name is its settings' `name`.
fn build_columns(
    label: &str,
    sc: &Scenario,
    presets: Vec<PresetSettings>,
    runs: &[CheckedRun],
    seed: u64,
) -> CompareReport {
    let outcomes = presets
        .iter()
        .zip(runs)
        .map(|(v, r)| VariantOutcome {
            preset: v.name,
            events: r.sim.events(),
            end_ms: r.sim.now().as_ms(),
            offline_partitions: r.offline,
            outcome: r.outcome.clone(),
            metrics: crate::report::MetricsReport::new(&r.sim, &r.metrics),
        })
        .collect();
    CompareReport {
        scenario: label.to_string(),
        title: sc.scenario.title.clone(),
        seed,
        presets,
        outcomes,
        matrix: matrix(
            sc,
            &runs
                .iter()
                .map(|r| (&r.sim, &r.checker))
                .collect::<Vec<_>>(),
        ),
        versions: None,
    }
}

/// The message × preset matrix of each group, from each preset's simulation and checker
/// (finished runs, or runs in progress in the TUI: unapplied messages are then `pending`).
pub fn matrix(sc: &Scenario, runs: &[(&Sim, &Checker)]) -> Vec<GroupMatrix> {
    // Message id `(producer index, n)` → its `MsgId` in each run.
    let mut ids: BTreeMap<(u32, u32), Vec<Option<MsgId>>> = BTreeMap::new();
    for (k, r) in runs.iter().enumerate() {
        for i in 0..r.1.messages() {
            let m = MsgId(i as u32);
            if let Some(info) = r.1.message(m) {
                ids.entry((info.producer.0, info.n))
                    .or_insert_with(|| vec![None; runs.len()])[k] = Some(m);
            }
        }
    }
    let mut out = Vec::new();
    for (gi, g) in sc.groups.iter().enumerate() {
        let group = GroupId(gi as u32);
        let mut rows = Vec::new();
        let mut differing = 0;
        for ((p, n), per_run) in &ids {
            let mut related = false;
            let cells: Vec<Cell> = runs
                .iter()
                .zip(per_run)
                .map(|(r, m)| {
                    let Some(m) = *m else { return Cell::NOT_SENT };
                    let info = r.1.message(m).expect("known message");
                    let (status, applied) = match r.1.message_status(group, m) {
                        MsgStatus::Applied(t) => ("applied", t),
                        MsgStatus::Lost => ("lost", 0),
                        MsgStatus::Pending => match r.1.fate(group, m) {
                            Some(Fate::Unseen) => ("unseen", 0),
                            Some(Fate::Failed) => ("failed", 0),
                            Some(Fate::Aborted) => ("aborted", 0),
                            Some(Fate::DeadLettered) => ("dead_lettered", 0),
                            _ => ("pending", 0),
                        },
                        MsgStatus::Unrelated => return Cell::NOT_SENT,
                    };
                    related = true;
                    Cell {
                        status,
                        applied,
                        acked: info.acked,
                        failed: info.failed,
                    }
                })
                .collect();
            if !related {
                continue;
            }
            let producer = runs
                .iter()
                .find_map(|r| r.0.producers().get(*p as usize).map(|x| x.name.clone()))
                .unwrap_or_else(|| format!("producer-{p}"));
            let first = cells[0].symbol();
            if cells.iter().any(|c| c.symbol() != first) {
                differing += 1;
            }
            rows.push(MatrixRow {
                message: format!("{producer}#{n}"),
                cells,
            });
        }
        out.push(GroupMatrix {
            group: g.name.clone(),
            differing,
            rows,
        });
    }
    out
}

// ----- text ----------------------------------------------------------------------------------

/// One producer's settings as Kafka config names.
fn producer_line(p: &ProducerSettings) -> String {
    let mut s = format!(
        "acks={} retries={} enable.idempotence={} max.in.flight={}",
        p.acks, p.retries, p.enable_idempotence, p.max_in_flight
    );
    if let Some(t) = &p.transactional_id {
        let _ = write!(s, " transactional.id={t}");
    }
    s
}

fn group_line(g: &GroupSettings) -> String {
    format!(
        "commit={}{} isolation.level={}",
        g.commit,
        if g.dedup { " dedup-sink" } else { "" },
        g.isolation_level
    )
}

const COL: usize = 15;

/// The text report: presets, the outcome table and the matrix.
pub fn text(r: &CompareReport) -> String {
    let mut s = String::new();
    let versions = r.versions.as_ref();
    // What a column is, for the sentences below.
    let (kind, every, every_short) = match versions {
        Some(_) => ("versions", "every version", "every version"),
        None => ("presets", "all three presets", "all three"),
    };
    let _ = writeln!(s, "Compare: {}", r.title);
    match versions {
        Some(v) => {
            let _ = writeln!(
                s,
                "{}, seed {}: the same workload, faults and seed under the Kafka {} profiles",
                r.scenario,
                r.seed,
                v.columns.join(", ")
            );
        }
        None => {
            let _ = writeln!(
                s,
                "{}, seed {}: the same workload, faults and seed under three delivery presets",
                r.scenario, r.seed
            );
        }
    }

    // Presets (or versions): each column's delivery settings.
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{}",
        if versions.is_some() {
            "Versions"
        } else {
            "Presets"
        }
    );
    let name_w = r
        .presets
        .iter()
        .flat_map(|p| {
            p.producers
                .iter()
                .map(|x| &x.0)
                .chain(p.groups.iter().map(|x| &x.0))
        })
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0);
    // In column order: a version that refused the scenario says why where its settings would be.
    let columns: Vec<&str> = match versions {
        Some(v) => v.columns.clone(),
        None => r.presets.iter().map(|p| p.name).collect(),
    };
    for column in columns {
        let refused = versions.and_then(|v| v.refused.iter().find(|x| x.version == column));
        if let Some(x) = refused {
            let _ = writeln!(s, "  {column:<14} refuses the scenario:");
            for reason in &x.reasons {
                let _ = writeln!(s, "  {:<14} {reason}", "");
            }
            continue;
        }
        let Some(p) = r.presets.iter().find(|p| p.name == column) else {
            continue;
        };
        let mut first = true;
        let mut line = |who: &str, what: String| {
            let head = if first { p.name } else { "" };
            first = false;
            let _ = writeln!(s, "  {head:<14} {who:<name_w$}  {what}");
        };
        for (name, ps) in p.producers.iter() {
            line(name, producer_line(ps));
        }
        for (name, gs) in p.groups.iter() {
            line(name, group_line(gs));
        }
        for n in &p.notes {
            line("", format!("note: {n}"));
        }
    }
    if let Some(v) = versions {
        versions_settings(&mut s, r, v);
    }

    // The first column: row labels of the table, message ids of the matrix.
    let first_w = r
        .matrix
        .iter()
        .flat_map(|m| m.rows.iter().map(|x| x.message.chars().count()))
        .chain(r.matrix.iter().map(|m| m.group.chars().count() + 2))
        .chain(["offline events".len(), "redelivered".len()])
        .max()
        .unwrap_or(0);
    let line_of = |label: &str, cells: &mut dyn Iterator<Item = String>| {
        let mut line = format!("  {label:<first_w$}");
        for c in cells {
            let _ = write!(line, "  {c:<COL$}");
        }
        line.trim_end().to_string()
    };

    // Outcome table: one column per preset or version asked for; a version that refused the
    // scenario has a column that says so.
    let cols: Vec<(&str, Option<&VariantOutcome>)> = match versions {
        Some(v) => v
            .columns
            .iter()
            .map(|c| (*c, r.outcomes.iter().find(|o| o.preset == *c)))
            .collect(),
        None => r.outcomes.iter().map(|o| (o.preset, Some(o))).collect(),
    };
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{}",
        line_of("", &mut cols.iter().map(|(name, _)| name.to_string()))
    );
    let row = |s: &mut String, label: &str, f: &dyn Fn(&VariantOutcome) -> String| {
        let mut cells = cols.iter().map(|(_, o)| match o {
            Some(o) => f(o),
            None if label == "sent" => "refused".to_string(),
            None => "-".to_string(),
        });
        let _ = writeln!(s, "{}", line_of(label, &mut cells));
    };
    row(&mut s, "sent", &|o| o.outcome.sent.to_string());
    row(&mut s, "acked", &|o| o.outcome.acked.to_string());
    row(&mut s, "failed", &|o| o.outcome.failed.to_string());
    row(&mut s, "lost", &|o| o.outcome.lost.to_string());
    row(&mut s, "acked-lost", &|o| o.outcome.acked_lost.to_string());
    row(&mut s, "duplicated", &|o| o.outcome.duplicated.to_string());
    row(&mut s, "reordered", &|o| o.outcome.reordered.to_string());
    if r.outcomes.iter().any(|o| o.outcome.redelivered > 0) {
        row(&mut s, "redelivered", &|o| {
            o.outcome.redelivered.to_string()
        });
    }
    if r.outcomes.iter().any(|o| o.offline_partitions > 0) {
        row(&mut s, "offline events", &|o| {
            o.offline_partitions.to_string()
        });
    }
    row(&mut s, "verdict", &|o| o.outcome.verdict.name().to_string());
    // What each guarantee costs, beside what it buys.
    row(&mut s, "send→ack p50", &|o| {
        worst(o.metrics.produce_latency.values().map(|l| l.p50_ms))
    });
    row(&mut s, "send→ack p99", &|o| {
        worst(o.metrics.produce_latency.values().map(|l| l.p99_ms))
    });
    row(&mut s, "send→apply p99", &|o| {
        worst(o.metrics.groups.values().map(|g| g.end_to_end.p99_ms))
    });
    row(&mut s, "max lag", &|o| {
        o.metrics
            .groups
            .values()
            .map(|g| g.max_lag)
            .max()
            .unwrap_or(0)
            .to_string()
    });
    if r.outcomes
        .iter()
        .any(|o| !o.metrics.unavailable_ms.is_empty())
    {
        row(&mut s, "unavailable", &|o| {
            let total: f64 = o.metrics.unavailable_ms.values().sum();
            crate::report::fmt_ms(total)
        });
    }
    let groups = r.outcomes.first().map_or(0, |o| o.outcome.groups.len());
    if groups > 1 {
        for gi in 0..groups {
            let name = r.outcomes[0].outcome.groups[gi].name.clone();
            row(&mut s, &format!("  {name}"), &|o| {
                o.outcome.groups[gi].verdict.name().to_string()
            });
        }
    }

    // A transactional processor that reprocessed after an abort.
    for (p, o) in r.presets.iter().zip(&r.outcomes) {
        for (name, gs) in p.groups.iter() {
            let dup = o.outcome.group(name).map_or(0, |g| g.duplicated);
            if gs.commit == "transactional" && dup > 0 {
                let _ = writeln!(
                    s,
                    "  note: under {}, {name} (commit=transactional) processed {dup} message{} again \
                     after its transaction was aborted; read_committed readers never see the aborted outputs",
                    p.name,
                    if dup == 1 { "" } else { "s" }
                );
            }
        }
    }

    // Matrix.
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Each message, per group: ✓ applied once, 2× applied twice, ✗ lost (✗ acked: the producer\n\
         was told it was written), failed (the producer was told, no log holds it), unseen (in the\n\
         log, ahead of the group), aborted, dead (dead-lettered)"
    );
    for m in &r.matrix {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{}",
            line_of(
                &m.group,
                &mut r.outcomes.iter().map(|o| o.preset.to_string())
            )
        );
        if m.rows.is_empty() {
            let _ = writeln!(s, "  (no messages)");
            continue;
        }
        let all = m.rows.len() <= MATRIX_ALL_ROWS;
        let mut shown = 0;
        let mut same: BTreeMap<String, usize> = BTreeMap::new();
        let mut cut = 0;
        for row in &m.rows {
            let syms: Vec<String> = row.cells.iter().map(Cell::symbol).collect();
            let differs = syms.iter().any(|x| *x != syms[0]);
            if !all && !differs {
                *same.entry(syms[0].clone()).or_default() += 1;
                continue;
            }
            if !all && shown >= MATRIX_MAX_ROWS {
                cut += 1;
                continue;
            }
            shown += 1;
            let _ = writeln!(s, "{}", line_of(&row.message, &mut syms.into_iter()));
        }
        if cut > 0 {
            let _ = writeln!(
                s,
                "  … {cut} more message{} that differ (--json lists every message)",
                if cut == 1 { "" } else { "s" }
            );
        }
        if !all {
            let rest: usize = same.values().sum();
            if rest > 0 {
                let kinds: Vec<String> = same.iter().map(|(k, n)| format!("{n} {k}")).collect();
                let _ = writeln!(
                    s,
                    "  {} of {} messages differ between {kind}; the other {rest} have the same result under {every_short} ({})",
                    m.differing,
                    m.rows.len(),
                    kinds.join(", ")
                );
            }
        } else if m.differing == 0 {
            let _ = writeln!(s, "  (every message has the same result under {every})");
        }
    }
    s
}

/// `compare --versions`: the profile-controlled settings that differ between the versions
/// that ran, one column per version.
fn versions_settings(s: &mut String, r: &CompareReport, v: &VersionsReport) {
    let _ = writeln!(s);
    if v.differing.is_empty() {
        let _ = writeln!(
            s,
            "Settings: the versions that ran differ in no setting this scenario leaves to them"
        );
        return;
    }
    let _ = writeln!(
        s,
        "Settings that differ (the scenario leaves them to the profile; see the README's profile table)"
    );
    let label = |x: &SettingRow| format!("{} {}", x.who, x.setting);
    let w = v
        .differing
        .iter()
        .map(|x| label(x).chars().count())
        .max()
        .unwrap_or(0);
    let mut head = format!("  {:<w$}", "");
    for o in &r.outcomes {
        let _ = write!(head, "  {:<COL$}", o.preset);
    }
    let _ = writeln!(s, "{}", head.trim_end());
    for x in &v.differing {
        let mut line = format!("  {:<w$}", label(x));
        for value in &x.values {
            let _ = write!(line, "  {value:<COL$}");
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
}
