//! `brokerlab sweep`: many independent runs of one scenario, one per seed, spread over
//! threads. Each run is the pure, single-threaded simulation; only the runs are parallel, and
//! the results are aggregated in seed order, so the output does not depend on `--jobs`.
//!
//! For each anomaly (loss, acknowledged loss, duplicate, reordering, an offline partition) the
//! summary gives how many runs had it, with a 95% Wilson score interval, and the smallest seed
//! that shows it.

use std::fmt::Write as _;
use std::sync::Mutex;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::check::{Checker, CheckerSetup, Outcome};
use crate::scenario::{Fault, FaultAction, Scenario, Verdict};
use crate::sim::{Sim, Trace, TraceEvent, TraceMode};

/// At most this many seeds in one sweep.
pub const MAX_SEEDS: u64 = 1_000_000;
/// At most this many worker threads.
pub const MAX_JOBS: usize = 256;

// ----- one checked run -----------------------------------------------------------------------

/// One headless run with its checker: what `compare` and `sweep` need, without the digest, the
/// event collector and the final logs that [`crate::report::run`] also builds.
pub struct CheckedRun {
    pub sim: Sim,
    pub checker: Checker,
    /// The final outcome (the run has drained).
    pub outcome: Outcome,
    /// `PartitionOffline` events seen.
    pub offline: u64,
    /// Latency, lag, unavailability, rebalancing and global order.
    pub metrics: crate::metrics::MetricsSummary,
}

/// Runs `scenario` (already validated) with `seed` to the end, feeding the checker.
/// `on_event` sees every trace event but `Sent` (the run keeps no digest, so it never stores
/// those: [`TraceMode::Outcome`]).
pub fn run_checked(
    scenario: &Scenario,
    seed: u64,
    mut on_event: impl FnMut(&TraceEvent),
) -> CheckedRun {
    let mut sim = Sim::with_seed(scenario, seed);
    sim.set_trace_mode(TraceMode::Outcome);
    let setup = CheckerSetup::from_scenario(scenario).expect("validated scenario");
    let mut checker = Checker::new(setup);
    let mut metrics = crate::metrics::Metrics::new(crate::metrics::MetricsSetup::from_sim(&sim));
    let mut offline = 0;
    loop {
        let more = sim.step();
        for ev in sim.drain_trace() {
            checker.observe(&ev);
            metrics.observe(&ev);
            if let Trace::PartitionOffline { .. } = ev.kind {
                offline += 1;
            }
            on_event(&ev);
        }
        if !more {
            break;
        }
    }
    checker.set_final(true);
    let outcome = checker.outcome();
    CheckedRun {
        metrics: metrics.summary(),
        sim,
        checker,
        outcome,
        offline,
    }
}

// ----- random faults -------------------------------------------------------------------------

/// Seeded random faults for `--random-faults`: one to three of a broker crash (with a restart
/// later), a pause of a broker or a producer, and lost produce responses (`drop-acks`), at
/// times within `stop_at_ms`. Derived from `seed` alone with its own `ChaCha8Rng` (not the
/// simulation's), so the same seed always gets the same faults.
pub fn random_faults(scenario: &Scenario, seed: u64) -> Vec<Fault> {
    // A different stream from the simulation's generator, which is seeded with `seed` itself.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_FA17_0000_0000);
    let stop = scenario.scenario.stop_at_ms;
    let brokers = scenario.cluster.brokers.max(1);
    let producers: Vec<&str> = scenario.producers.iter().map(|p| p.name.as_str()).collect();
    let mut faults = Vec::new();
    let count = rng.random_range(1..=3u32);
    for _ in 0..count {
        let at = rng.random_range(0..=stop);
        let kind = rng.random_range(0..10u32);
        let broker = format!("broker-{}", rng.random_range(1..=brokers));
        match kind {
            0..=3 => {
                let mut crash = Fault::new(at, FaultAction::Crash);
                crash.target = Some(broker.clone());
                faults.push(crash);
                let down = rng.random_range(1_000..=15_000u64);
                let mut restart =
                    Fault::new(at.saturating_add(down).min(stop), FaultAction::Restart);
                restart.target = Some(broker);
                faults.push(restart);
            }
            4..=6 => {
                let target = if !producers.is_empty() && rng.random_range(0..3u32) == 0 {
                    producers[rng.random_range(0..producers.len() as u32) as usize].to_string()
                } else {
                    broker
                };
                let mut pause = Fault::new(at, FaultAction::Pause);
                pause.target = Some(target);
                pause.duration_ms = Some(rng.random_range(500..=10_000u64));
                faults.push(pause);
            }
            _ if !producers.is_empty() => {
                let target = producers[rng.random_range(0..producers.len() as u32) as usize];
                let mut drop = Fault::new(at, FaultAction::DropAcks);
                drop.target = Some(target.to_string());
                drop.count = Some(rng.random_range(1..=3u32));
                faults.push(drop);
            }
            _ => {
                let mut pause = Fault::new(at, FaultAction::Pause);
                pause.target = Some(broker);
                pause.duration_ms = Some(rng.random_range(500..=10_000u64));
                faults.push(pause);
            }
        }
    }
    // Stable: faults at the same time keep the order they were drawn in.
    faults.sort_by_key(|f| f.at_ms);
    faults
}

/// The scenario of one seed: with `random_faults`, the scenario's own faults plus that seed's
/// random ones (and no `[expect]`, which was written for the scripted faults alone).
pub fn seed_scenario(scenario: &Scenario, seed: u64, random: bool) -> Scenario {
    let mut sc = scenario.clone();
    sc.scenario.seed = seed;
    if random {
        sc.expect = None;
        sc.faults.extend(random_faults(scenario, seed));
    }
    sc
}

/// One fault in a line, for the reproduction hint.
pub fn describe_fault(f: &Fault) -> String {
    let mut s = format!("{} ms {}", f.at_ms, f.action.name());
    if let Some(t) = &f.target {
        let _ = write!(s, " {t}");
    }
    if let Some(d) = f.duration_ms {
        let _ = write!(s, " for {d} ms");
    }
    if let Some(c) = f.count {
        let _ = write!(s, " ×{c}");
    }
    s
}

// ----- the sweep -----------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// The scenario as the user named it (a path or a bundled name), for the printed commands.
    pub arg: String,
    pub label: String,
    pub from: u64,
    pub seeds: u64,
    pub jobs: usize,
    pub random_faults: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// What one run found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunResult {
    pub seed: u64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub lost: u64,
    pub acked_lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub offline: u64,
    pub events: u64,
    pub verdict: Option<Verdict>,
    /// What the run cost (see [`RunCost`]).
    pub cost: RunCost,
}

/// One run's costs, each the worst over its producers, groups or partitions, in microseconds
/// or records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunCost {
    pub produce_p99_us: u64,
    pub end_to_end_p99_us: u64,
    pub max_lag: u64,
    pub longest_rebalance_us: u64,
    pub unavailable_us: u64,
}

impl RunCost {
    fn of(m: &crate::metrics::MetricsSummary) -> RunCost {
        let end_us = m.end_us;
        RunCost {
            produce_p99_us: m.produce.iter().map(|l| l.p99_us).max().unwrap_or(0),
            end_to_end_p99_us: m
                .groups
                .iter()
                .map(|g| g.end_to_end.p99_us)
                .max()
                .unwrap_or(0),
            max_lag: m.groups.iter().map(|g| g.max_lag.lag).max().unwrap_or(0),
            longest_rebalance_us: m
                .groups
                .iter()
                .map(|g| g.longest_rebalance_us)
                .max()
                .unwrap_or(0),
            unavailable_us: m
                .unavailable
                .iter()
                .map(|w| w.to_us.unwrap_or(end_us) - w.from_us)
                .sum(),
        }
    }
}

impl RunResult {
    fn has(&self, a: Anomaly) -> bool {
        match a {
            Anomaly::Loss => self.lost > 0,
            Anomaly::AckedLoss => self.acked_lost > 0,
            Anomaly::Duplicate => self.duplicated > 0,
            Anomaly::Reorder => self.reordered > 0,
            Anomaly::Offline => self.offline > 0,
        }
    }
}

/// One seed, run to the end.
pub fn run_seed(scenario: &Scenario, seed: u64, random: bool) -> RunResult {
    let run = if random {
        run_checked(&seed_scenario(scenario, seed, true), seed, |_| {})
    } else {
        run_checked(scenario, seed, |_| {})
    };
    let o = &run.outcome;
    RunResult {
        seed,
        sent: o.sent,
        acked: o.acked,
        failed: o.failed,
        lost: o.lost,
        acked_lost: o.acked_lost,
        duplicated: o.duplicated,
        reordered: o.reordered,
        offline: run.offline,
        events: run.sim.events(),
        verdict: Some(o.verdict),
        cost: RunCost::of(&run.metrics),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anomaly {
    Loss,
    AckedLoss,
    Duplicate,
    Reorder,
    Offline,
}

impl Anomaly {
    pub const ALL: [Anomaly; 5] = [
        Anomaly::Loss,
        Anomaly::AckedLoss,
        Anomaly::Duplicate,
        Anomaly::Reorder,
        Anomaly::Offline,
    ];

    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Anomaly::Loss => "loss",
            Anomaly::AckedLoss => "acked_loss",
            Anomaly::Duplicate => "duplicate",
            Anomaly::Reorder => "reorder",
            Anomaly::Offline => "offline_partition",
        }
    }

    /// The text label.
    pub fn label(self) -> &'static str {
        match self {
            Anomaly::Loss => "loss",
            Anomaly::AckedLoss => "acked loss",
            Anomaly::Duplicate => "duplicate",
            Anomaly::Reorder => "reorder",
            Anomaly::Offline => "offline partition",
        }
    }

    /// What a run with it had.
    pub fn meaning(self) -> &'static str {
        match self {
            Anomaly::Loss => "a message some group never applied",
            Anomaly::AckedLoss => "an acknowledged message never applied (silent loss)",
            Anomaly::Duplicate => "a message applied twice",
            Anomaly::Reorder => "a message applied after a later one of its key",
            Anomaly::Offline => "a partition with no leader (no live in-sync replica)",
        }
    }
}

/// The 95% Wilson score interval for `k` successes out of `n` trials (`[0, 1]` for `n = 0`).
pub fn wilson95(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z * Z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // Exactly 0 and 1 at the ends (the formula gives them up to rounding).
    let lo = if k == 0 {
        0.0
    } else {
        (center - half).max(0.0)
    };
    let hi = if k as f64 >= n {
        1.0
    } else {
        (center + half).min(1.0)
    };
    (lo, hi)
}

/// How often one anomaly happened.
#[derive(Clone, Debug, Serialize)]
pub struct AnomalyStats {
    /// Runs that had it.
    pub runs: u64,
    /// `runs / total runs`.
    pub fraction: f64,
    /// 95% Wilson score interval of the fraction.
    pub wilson95: [f64; 2],
    /// The smallest seed that shows it.
    pub first_seed: Option<u64>,
    /// The command that shows that run.
    pub command: Option<String>,
}

/// Sums over every run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub lost: u64,
    pub acked_lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub offline_events: u64,
    pub events: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub scenario: String,
    pub title: String,
    /// The first seed.
    pub from: u64,
    /// How many seeds (`from..from + seeds`).
    pub seeds: u64,
    pub random_faults: bool,
    pub jobs: usize,
    /// Per anomaly key: `loss`, `acked_loss`, `duplicate`, `reorder`, `offline_partition`.
    pub anomalies: serde_json::Map<String, serde_json::Value>,
    /// Runs per verdict.
    pub verdicts: std::collections::BTreeMap<String, u64>,
    pub totals: Totals,
    /// What the runs cost: each figure's median and worst run.
    pub cost: CostStats,
    /// Wall-clock time, not deterministic.
    pub elapsed_s: f64,
    pub runs_per_second: f64,
    #[serde(skip)]
    pub stats: Vec<(Anomaly, AnomalyStats)>,
    /// For `--random-faults`: the random faults of each anomaly's first seed.
    #[serde(skip)]
    pub first_faults: Vec<(u64, Vec<Fault>)>,
}

/// The runs so far, aggregated. Everything in it is a count, a sum or a minimum, so the order
/// in which runs are added (and so the number of jobs) does not change it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Aggregate {
    pub runs: u64,
    pub totals: Totals,
    /// Runs per verdict: exactly-once, at-least-once, at-most-once, none.
    pub verdicts: [u64; 4],
    /// Per anomaly (in [`Anomaly::ALL`] order): runs that had it and the smallest such seed.
    pub anomalies: [(u64, Option<u64>); 5],
    /// Every run's costs by seed, kept in seed order so that the order runs came in (and so the
    /// number of jobs) does not change the aggregate.
    pub costs: Vec<(u64, RunCost)>,
}

impl Aggregate {
    pub fn add(&mut self, r: &RunResult) {
        self.runs += 1;
        let t = &mut self.totals;
        t.sent += r.sent;
        t.acked += r.acked;
        t.failed += r.failed;
        t.lost += r.lost;
        t.acked_lost += r.acked_lost;
        t.duplicated += r.duplicated;
        t.reordered += r.reordered;
        t.offline_events += r.offline;
        t.events += r.events;
        if let Some(v) = r.verdict {
            self.verdicts[verdict_index(v)] += 1;
        }
        let at = self.costs.partition_point(|(seed, _)| *seed < r.seed);
        self.costs.insert(at, (r.seed, r.cost));
        for (i, a) in Anomaly::ALL.iter().enumerate() {
            if r.has(*a) {
                let (n, first) = &mut self.anomalies[i];
                *n += 1;
                *first = Some(first.map_or(r.seed, |f| f.min(r.seed)));
            }
        }
    }

    pub fn merge(&mut self, o: &Aggregate) {
        self.runs += o.runs;
        let (t, u) = (&mut self.totals, &o.totals);
        t.sent += u.sent;
        t.acked += u.acked;
        t.failed += u.failed;
        t.lost += u.lost;
        t.acked_lost += u.acked_lost;
        t.duplicated += u.duplicated;
        t.reordered += u.reordered;
        t.offline_events += u.offline_events;
        t.events += u.events;
        for i in 0..4 {
            self.verdicts[i] += o.verdicts[i];
        }
        self.costs.extend_from_slice(&o.costs);
        self.costs.sort_by_key(|(seed, _)| *seed);
        for i in 0..5 {
            let (n, first) = o.anomalies[i];
            self.anomalies[i].0 += n;
            self.anomalies[i].1 = match (self.anomalies[i].1, first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
}

const VERDICTS: [Verdict; 4] = [
    Verdict::ExactlyOnce,
    Verdict::AtLeastOnce,
    Verdict::AtMostOnce,
    Verdict::None,
];

fn verdict_index(v: Verdict) -> usize {
    VERDICTS.iter().position(|x| *x == v).unwrap_or(3)
}

/// Runs the sweep. `scenario` must be validated.
pub fn sweep(scenario: &Scenario, opts: &SweepOptions) -> SweepReport {
    let opts = SweepOptions {
        jobs: effective_jobs(opts),
        ..opts.clone()
    };
    let start = Instant::now();
    let agg = run_all(scenario, &opts);
    let elapsed = start.elapsed();
    summarize(scenario, &opts, &agg, elapsed)
}

/// The threads actually used: at least 1, at most [`MAX_JOBS`] and one per seed.
pub fn effective_jobs(opts: &SweepOptions) -> usize {
    opts.jobs
        .clamp(1, MAX_JOBS)
        .min(usize::try_from(opts.seeds.max(1)).unwrap_or(MAX_JOBS))
}

/// Runs every seed on `opts.jobs` threads and aggregates the results.
pub fn run_all(scenario: &Scenario, opts: &SweepOptions) -> Aggregate {
    let n = opts.seeds;
    let jobs = effective_jobs(opts);
    let bar = opts.progress.then(|| {
        let bar = indicatif::ProgressBar::new(n);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} seeds [{bar:30}] {per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let next = AtomicU64::new(0);
    let total = Mutex::new(Aggregate::default());
    // Seeds are handed out in small chunks so that threads stay busy to the end.
    let chunk = (n / (jobs as u64 * 16)).clamp(1, 64);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                let mut mine = Aggregate::default();
                loop {
                    let i = next.fetch_add(chunk, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let end = i.saturating_add(chunk).min(n);
                    for j in i..end {
                        mine.add(&run_seed(scenario, opts.from + j, opts.random_faults));
                    }
                    if let Some(b) = &bar {
                        b.inc(end - i);
                    }
                }
                total.lock().expect("no panic").merge(&mine);
            });
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    total.into_inner().expect("no panic")
}

// ----- `bench --sweep` -------------------------------------------------------------------------

/// What `bench --sweep` measured: seeds per second on the benchmark scenario, with one job and
/// with two, alternating.
#[derive(Clone, Debug)]
pub struct SweepBench {
    pub options: crate::bench::BenchOptions,
    pub seeds: u64,
    /// Simulation events of one seed (the first).
    pub events_per_seed: u64,
    /// Per round: wall time of the sweep with one job, then with two.
    pub one_job: Vec<Duration>,
    pub two_jobs: Vec<Duration>,
}

/// Sweeps `seeds` seeds of the benchmark scenario (its own faults) `rounds` times with one job
/// and with two, alternating.
pub fn bench_sweep(opts: &crate::bench::BenchOptions, seeds: u64, rounds: u32) -> SweepBench {
    let scenario = crate::bench::large_scenario(opts);
    let seeds = seeds.clamp(1, MAX_SEEDS);
    let sweep_opts = |jobs| SweepOptions {
        arg: "bench.toml".to_string(),
        label: "bench.toml".to_string(),
        from: opts.seed,
        seeds,
        jobs,
        random_faults: false,
        progress: false,
    };
    let mut out = SweepBench {
        options: *opts,
        seeds,
        events_per_seed: run_seed(&scenario, opts.seed, false).events,
        one_job: Vec::new(),
        two_jobs: Vec::new(),
    };
    for _ in 0..rounds.max(1) {
        for (jobs, times) in [(1, &mut out.one_job), (2, &mut out.two_jobs)] {
            let start = Instant::now();
            let agg = run_all(&scenario, &sweep_opts(jobs));
            times.push(start.elapsed());
            std::hint::black_box(agg);
        }
    }
    out
}

impl std::fmt::Display for SweepBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "sweep benchmark: {} brokers, {} partitions, {} messages with faults, {} seeds from {}, {} rounds alternating",
            o.brokers,
            o.partitions,
            o.messages,
            self.seeds,
            o.seed,
            self.one_job.len()
        )?;
        writeln!(f, "  {:<22}{:>12}", "events per seed", self.events_per_seed)?;
        writeln!(f, "  {:<22}{:>12}{:>12}", "seeds/s", "best", "median")?;
        // Seeds per second from the fastest and the median round.
        let rates = |d: &[Duration]| {
            let (min, med) = crate::report::min_median(d);
            let n = self.seeds as f64;
            (n / min.max(1e-9), n / med.max(1e-9))
        };
        let one = rates(&self.one_job);
        let two = rates(&self.two_jobs);
        writeln!(f, "  {:<22}{:>12.1}{:>12.1}", "1 job", one.0, one.1)?;
        writeln!(f, "  {:<22}{:>12.1}{:>12.1}", "2 jobs", two.0, two.1)?;
        write!(
            f,
            "  {:<22}{:>11.2}×{:>11.2}×   (linear: 2×)",
            "scaling, 2 jobs / 1",
            two.0 / one.0.max(1e-9),
            two.1 / one.1.max(1e-9)
        )
    }
}

/// The median and the worst run of one cost figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub worst: f64,
}

impl Spread {
    fn of(mut values: Vec<u64>, scale: f64) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_unstable();
        Spread {
            median: values[(values.len() - 1) / 2] as f64 / scale,
            worst: *values.last().expect("non-empty") as f64 / scale,
        }
    }
}

/// Per-run costs over the sweep, in milliseconds or records. Each run contributes its worst
/// producer, group or partition (its total, for unavailability).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CostStats {
    pub produce_p99_ms: Spread,
    pub end_to_end_p99_ms: Spread,
    pub max_lag: Spread,
    pub longest_rebalance_ms: Spread,
    pub unavailable_ms: Spread,
}

impl CostStats {
    fn of(costs: &[(u64, RunCost)]) -> CostStats {
        let ms =
            |f: fn(&RunCost) -> u64| Spread::of(costs.iter().map(|(_, c)| f(c)).collect(), 1000.0);
        CostStats {
            produce_p99_ms: ms(|c| c.produce_p99_us),
            end_to_end_p99_ms: ms(|c| c.end_to_end_p99_us),
            max_lag: Spread::of(costs.iter().map(|(_, c)| c.max_lag).collect(), 1.0),
            longest_rebalance_ms: ms(|c| c.longest_rebalance_us),
            unavailable_ms: ms(|c| c.unavailable_us),
        }
    }
}

/// Turns the aggregate into the report.
pub fn summarize(
    scenario: &Scenario,
    opts: &SweepOptions,
    agg: &Aggregate,
    elapsed: Duration,
) -> SweepReport {
    let n = agg.runs;
    let verdicts = VERDICTS
        .iter()
        .zip(agg.verdicts)
        .filter(|(_, k)| *k > 0)
        .map(|(v, k)| (v.name().to_string(), k))
        .collect();
    let mut stats = Vec::new();
    let mut anomalies = serde_json::Map::new();
    let mut first_faults: Vec<(u64, Vec<Fault>)> = Vec::new();
    for (a, &(runs, first_seed)) in Anomaly::ALL.iter().zip(&agg.anomalies) {
        let (lo, hi) = wilson95(runs, n);
        let st = AnomalyStats {
            runs,
            fraction: if n == 0 { 0.0 } else { runs as f64 / n as f64 },
            wilson95: [lo, hi],
            first_seed,
            command: first_seed.map(|s| reproduce_command(opts, s)),
        };
        if let Some(s) = first_seed
            && opts.random_faults
            && !first_faults.iter().any(|(f, _)| *f == s)
        {
            first_faults.push((s, random_faults(scenario, s)));
        }
        anomalies.insert(
            a.key().to_string(),
            serde_json::to_value(&st).expect("serializable"),
        );
        stats.push((*a, st));
    }
    let secs = elapsed.as_secs_f64();
    SweepReport {
        scenario: opts.label.clone(),
        title: scenario.scenario.title.clone(),
        from: opts.from,
        seeds: opts.seeds,
        random_faults: opts.random_faults,
        jobs: opts.jobs,
        anomalies,
        verdicts,
        totals: agg.totals.clone(),
        cost: CostStats::of(&agg.costs),
        elapsed_s: secs,
        runs_per_second: if secs > 0.0 { n as f64 / secs } else { 0.0 },
        stats,
        first_faults,
    }
}

/// `arg` quoted for a POSIX shell when it needs it.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// The command that shows seed `seed`: the TUI for scripted faults; for random faults, which
/// only `sweep` knows how to add, the command that prints that seed's scenario (with its
/// faults) as a file the TUI can open.
pub fn reproduce_command(opts: &SweepOptions, seed: u64) -> String {
    let arg = shell_quote(&opts.arg);
    if opts.random_faults {
        let stem = std::path::Path::new(opts.arg.trim_end_matches(".toml"))
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("scenario");
        let file = shell_quote(&format!("{stem}-seed-{seed}.toml"));
        format!(
            "brokerlab sweep {arg} --seeds 1 --from {seed} --random-faults --print-scenario > {file} && brokerlab tui {file}"
        )
    } else {
        format!("brokerlab tui {arg} --seed {seed}")
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The text summary. `timing` adds the wall-clock line (left out of snapshots).
pub fn text(r: &SweepReport, timing: bool) -> String {
    let mut s = String::new();
    let last = r.from + r.seeds - 1;
    let _ = writeln!(s, "Sweep: {}", r.title);
    let _ = writeln!(
        s,
        "{}: {} run{}, seeds {}..={}, {}",
        r.scenario,
        r.seeds,
        if r.seeds == 1 { "" } else { "s" },
        r.from,
        last,
        if r.random_faults {
            "the scenario's faults plus 1-3 random ones per seed (crash + restart, pause, drop-acks)"
        } else {
            "the scenario's own faults"
        }
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<18} {:>7} {:>7}  {:<17}  first seed",
        "anomaly", "runs", "%", "95% CI (Wilson)"
    );
    for (a, st) in &r.stats {
        let ci = format!("[{}, {}]", pct(st.wilson95[0]), pct(st.wilson95[1]));
        let _ = writeln!(
            s,
            "{:<18} {:>7} {:>7}  {:<17}  {}",
            a.label(),
            st.runs,
            pct(st.fraction),
            ci,
            st.first_seed.map_or("-".to_string(), |x| x.to_string())
        );
    }
    let _ = writeln!(s);
    let verdicts: Vec<String> = ["exactly-once", "at-least-once", "at-most-once", "none"]
        .iter()
        .filter_map(|v| r.verdicts.get(*v).map(|n| format!("{v} {n}")))
        .collect();
    let _ = writeln!(s, "verdicts: {}", verdicts.join(", "));
    let t = &r.totals;
    let _ = writeln!(
        s,
        "over all runs: {} sent, {} acked, {} failed, {} lost ({} acked), {} duplicated, {} reordered",
        t.sent, t.acked, t.failed, t.lost, t.acked_lost, t.duplicated, t.reordered
    );
    let c = &r.cost;
    let ms = crate::report::fmt_ms;
    let _ = writeln!(s);
    let _ = writeln!(s, "{:<19} {:>10} {:>10}", "cost per run", "median", "worst");
    let mut cost = |label: &str, spread: Spread, f: &dyn Fn(f64) -> String| {
        let _ = writeln!(
            s,
            "  {:<17} {:>10} {:>10}",
            label,
            f(spread.median),
            f(spread.worst)
        );
    };
    cost("send→ack p99", c.produce_p99_ms, &ms);
    cost("send→apply p99", c.end_to_end_p99_ms, &ms);
    cost("max lag", c.max_lag, &|v| format!("{v}"));
    if c.longest_rebalance_ms.worst > 0.0 {
        cost("longest rebalance", c.longest_rebalance_ms, &ms);
    }
    if c.unavailable_ms.worst > 0.0 {
        cost("unavailable", c.unavailable_ms, &ms);
    }
    let shown: Vec<&(Anomaly, AnomalyStats)> = r
        .stats
        .iter()
        .filter(|(_, st)| st.first_seed.is_some())
        .collect();
    if shown.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "No run showed any of these anomalies.");
    } else {
        let _ = writeln!(s);
        let _ = writeln!(s, "See it happen (the smallest seed with each anomaly):");
        // One line per distinct seed, naming the anomalies it shows.
        let mut seeds: Vec<u64> = shown.iter().filter_map(|(_, st)| st.first_seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        for seed in seeds {
            let names: Vec<&str> = shown
                .iter()
                .filter(|(_, st)| st.first_seed == Some(seed))
                .map(|(a, _)| a.label())
                .collect();
            let cmd = shown
                .iter()
                .find(|(_, st)| st.first_seed == Some(seed))
                .and_then(|(_, st)| st.command.clone())
                .unwrap_or_default();
            let _ = writeln!(s, "  {}:", names.join(", "));
            let _ = writeln!(s, "    {cmd}");
            if let Some((_, faults)) = r.first_faults.iter().find(|(x, _)| *x == seed) {
                let fs: Vec<String> = faults.iter().map(describe_fault).collect();
                let _ = writeln!(s, "    random faults of seed {seed}: {}", fs.join("; "));
            }
        }
    }
    if timing {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{} run{} in {:.2} s with {} job{}: {:.1} runs/s ({:.1} per job)",
            r.seeds,
            if r.seeds == 1 { "" } else { "s" },
            r.elapsed_s,
            r.jobs,
            if r.jobs == 1 { "" } else { "s" },
            r.runs_per_second,
            r.runs_per_second / r.jobs.max(1) as f64
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_bench_runs_every_round_with_one_and_two_jobs() {
        let opts = crate::bench::BenchOptions {
            messages: 40,
            brokers: 3,
            partitions: 2,
            seed: 5,
        };
        let b = bench_sweep(&opts, 3, 2);
        assert_eq!((b.seeds, b.one_job.len(), b.two_jobs.len()), (3, 2, 2));
        let scenario = crate::bench::large_scenario(&opts);
        assert_eq!(b.events_per_seed, run_seed(&scenario, 5, false).events);
        let table = b.to_string();
        assert!(table.contains("scaling, 2 jobs / 1"), "{table}");
        assert!(table.contains("3 seeds from 5"), "{table}");
    }

    #[test]
    fn wilson_known_values() {
        let (lo, hi) = wilson95(5, 10);
        assert!((lo - 0.2366).abs() < 1e-3, "{lo}");
        assert!((hi - 0.7634).abs() < 1e-3, "{hi}");
        let (lo, hi) = wilson95(0, 20);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.1611).abs() < 1e-3, "{hi}");
        assert_eq!(wilson95(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson95(10, 10);
        assert!((lo - 0.7225).abs() < 1e-3, "{lo}");
        assert_eq!(hi, 1.0);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(
            shell_quote("acks1-leader-failover"),
            "acks1-leader-failover"
        );
        assert_eq!(shell_quote("/tmp/a b.toml"), "'/tmp/a b.toml'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
