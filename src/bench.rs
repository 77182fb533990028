//! The headless benchmark of DESIGN.md section 7: a large scenario (10 brokers, 100 partitions,
//! RF 3, 1 M messages by default) run the way `brokerlab run` runs one (the simulation, the
//! checker and the trace digest over every trace event), timed with the wall clock.
//!
//! The targets, on one core: ≥ 5 M simulated events per second, and the 1 M-message scenario
//! in ≤ 1.5 s. Performance is measured here, never by a timed test.

use std::fmt;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::check::{Checker, CheckerSetup};
use crate::scenario::{self, Scenario};
use crate::sim::Sim;
use crate::sim::digest::Digest;

/// Target: simulated events per second of wall time.
pub const TARGET_EVENTS_PER_SEC: f64 = 5_000_000.0;
/// Target: wall time for a 1 M-message scenario.
pub const TARGET_WALL_PER_MILLION_MESSAGES: Duration = Duration::from_millis(1500);

/// How the sends are spread: `PRODUCERS` producers, one send each per `every_ms`, so that the
/// whole workload takes about `SEND_WINDOW_MS` of simulated time.
const PRODUCERS: u64 = 50;
const SEND_WINDOW_MS: u64 = 20_000;
/// Simulated time after the last send before the run stops and drains.
const TAIL_MS: u64 = 5_000;

/// The size of the benchmark scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    pub messages: u64,
    pub brokers: u32,
    pub partitions: u32,
    pub seed: u64,
}

impl Default for BenchOptions {
    /// DESIGN.md section 7's large scenario.
    fn default() -> Self {
        BenchOptions {
            messages: 1_000_000,
            brokers: 10,
            partitions: 100,
            seed: 1,
        }
    }
}

/// The large scenario as TOML text (what `large_scenario` parses), so that it can be saved and
/// run or opened like any other scenario.
///
/// - one topic `events`, RF 3 (fewer with fewer brokers), `min.insync.replicas = 2`;
/// - up to 10 producers, `acks=all` with idempotence (Kafka's defaults), each cycling through
///   its own keys, 4 per partition, so records spread over every partition; together they send
///   `messages` records over about 100 s of simulated time (one send per producer per
///   `every_ms`; with 1 M messages every producer sends every millisecond);
/// - two consumer groups with `processing_ms = 0`: `billing` (commits after processing) and
///   `audit` (auto-commit, deduplicating sink);
/// - faults: broker-3 crashes at 30 % of the send window and restarts at 45 %, broker-5 pauses
///   for 3 s at 60 %, and preferred-leader elections at 80 % move leadership back to broker-3.
pub fn large_scenario_toml(opts: &BenchOptions) -> String {
    let brokers = opts.brokers.max(1);
    let partitions = opts.partitions.max(1);
    let messages = opts.messages.max(1);
    let rf = brokers.min(3);
    let min_isr = rf.min(2);
    let producers = PRODUCERS.min(messages);
    let per_producer = messages.div_ceil(producers);
    let every_ms = (SEND_WINDOW_MS / per_producer).max(1);
    let last_send = (per_producer - 1) * every_ms;
    let window = last_send.max(1_000);
    let stop = last_send + TAIL_MS;
    let at = |percent: u64| window * percent / 100;

    let mut t = String::new();
    let _ = writeln!(
        t,
        "[scenario]\n\
         title = \"benchmark: {brokers} brokers, {partitions} partitions, RF {rf}, {messages} messages\"\n\
         summary = \"The large scenario of DESIGN.md section 7, for `brokerlab bench`.\"\n\
         guarantee = \"availability\"\n\
         seed = {seed}\n\
         stop_at_ms = {stop}\n\n\
         [cluster]\n\
         brokers = {brokers}\n\n\
         [[topics]]\n\
         name = \"events\"\n\
         partitions = {partitions}\n\
         replication_factor = {rf}\n\
         min_insync_replicas = {min_isr}",
        seed = opts.seed
    );
    let keys_per_producer = (4 * partitions as u64).min(4096);
    let mut left = messages;
    for p in 0..producers {
        let count = per_producer.min(left);
        left -= count;
        if count == 0 {
            break;
        }
        let keys: Vec<String> = (0..keys_per_producer)
            .map(|k| format!("\"p{p}-k{k}\""))
            .collect();
        let _ = writeln!(
            t,
            "\n[[producers]]\n\
             name = \"producer-{}\"\n\
             topic = \"events\"\n\
             acks = \"all\"\n\
             send = {{ count = {count}, every_ms = {every_ms}, keys = [{}] }}",
            p + 1,
            if p % 2 == 0 {
                keys.join(", ")
            } else {
                String::new()
            }
        );
    }
    let consumers = partitions.min(10);
    let _ = writeln!(
        t,
        "\n[[groups]]\n\
         name = \"billing\"\n\
         topic = \"events\"\n\
         consumers = {consumers}\n\
         commit = \"after-process\"\n\
         auto_offset_reset = \"earliest\"\n\
         processing_ms = 0\n\n\
         [[groups]]\n\
         name = \"audit\"\n\
         topic = \"events\"\n\
         consumers = {}\n\
         commit = \"auto\"\n\
         auto_offset_reset = \"earliest\"\n\
         processing_ms = 0\n\
         dedup = true",
        consumers.div_ceil(2)
    );
    if brokers >= 3 {
        let _ = writeln!(
            t,
            "\n[[faults]]\nat_ms = {}\naction = \"crash\"\ntarget = \"broker-3\"\n\n\
             [[faults]]\nat_ms = {}\naction = \"restart\"\ntarget = \"broker-3\"",
            at(30),
            at(45)
        );
        // The partitions whose preferred leader is broker-3 under the default assignment
        // (partition p's replica list starts at broker p mod brokers + 1); at most 10 of them.
        for p in (2..partitions).step_by(brokers as usize).take(10) {
            let _ = writeln!(
                t,
                "\n[[faults]]\nat_ms = {}\naction = \"elect-preferred\"\npartition = \"events/{p}\"",
                at(80)
            );
        }
    }
    if brokers >= 5 {
        let _ = writeln!(
            t,
            "\n[[faults]]\nat_ms = {}\naction = \"pause\"\ntarget = \"broker-5\"\nduration_ms = 3000",
            at(60)
        );
    }
    t
}

/// The large scenario, parsed and validated.
pub fn large_scenario(opts: &BenchOptions) -> Scenario {
    let text = large_scenario_toml(opts);
    match scenario::parse("bench.toml", &text) {
        Ok(sc) => sc,
        Err(e) => panic!("the benchmark scenario does not validate:\n{e}"),
    }
}

/// What one benchmark run measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub options: BenchOptions,
    /// Simulation events processed (`Sim::events`).
    pub events: u64,
    /// Trace events fed to the checker and the digest.
    pub trace_events: u64,
    /// Wall time of the run: building the `Sim`, stepping it to the end, and feeding every
    /// trace event to the checker and the digest (parsing the scenario is not included).
    pub wall: Duration,
    pub events_per_sec: f64,
    /// Messages sent by the producers.
    pub messages: u64,
    /// Simulated time at the end of the run, drain included.
    pub sim_ms: u64,
    pub digest: String,
    pub lost: u64,
    pub acked_lost: u64,
    pub duplicated: u64,
}

impl BenchReport {
    /// Wall time scaled to 1 M messages (the second target).
    pub fn wall_per_million_messages(&self) -> Duration {
        if self.messages == 0 {
            return Duration::ZERO;
        }
        self.wall.mul_f64(1_000_000.0 / self.messages as f64)
    }

    pub fn meets_events_target(&self) -> bool {
        self.events_per_sec >= TARGET_EVENTS_PER_SEC
    }

    pub fn meets_wall_target(&self) -> bool {
        self.wall_per_million_messages() <= TARGET_WALL_PER_MILLION_MESSAGES
    }
}

/// Builds the large scenario and runs it headless, timing the run.
pub fn run_bench(opts: &BenchOptions) -> BenchReport {
    let sc = large_scenario(opts);
    let setup = CheckerSetup::from_scenario(&sc).expect("the benchmark scenario is consistent");
    let start = Instant::now();
    let mut sim = Sim::with_seed(&sc, opts.seed);
    let mut checker = Checker::new(setup);
    let mut digest = Digest::default();
    let mut trace_events = 0u64;
    loop {
        let more = sim.step();
        for ev in sim.drain_trace() {
            digest.add(&ev);
            checker.observe(&ev);
            trace_events += 1;
        }
        if !more {
            break;
        }
    }
    checker.set_final(true);
    let outcome = checker.outcome();
    let wall = start.elapsed();
    let events = sim.events();
    BenchReport {
        options: *opts,
        events,
        trace_events,
        wall,
        events_per_sec: events as f64 / wall.as_secs_f64().max(1e-9),
        messages: outcome.sent,
        sim_ms: sim.now().as_ms(),
        digest: digest.hex(),
        lost: outcome.lost,
        acked_lost: outcome.acked_lost,
        duplicated: outcome.duplicated,
    }
}

/// A file of 20 000 producers with one clashing name and 20 000 `leader:` faults: validation
/// must reject it without going quadratic in the file's size.
pub fn large_invalid_scenario_toml() -> String {
    let mut text = String::from("[scenario]\ntitle = \"big\"\n\n[[topics]]\nname = \"t\"\n");
    for _ in 0..20_000 {
        text.push_str("\n[[producers]]\nname = \"p\"\ntopic = \"t\"\nsend = { count = 1 }\n");
    }
    for n in 0..20_000 {
        let _ = write!(
            text,
            "\n[[faults]]\nat_ms = {n}\naction = \"crash\"\ntarget = \"leader:t/0\"\n"
        );
    }
    text
}

/// Time to parse and reject [`large_invalid_scenario_toml`], best of `rounds`.
pub fn time_large_validation(rounds: u32) -> Duration {
    let text = large_invalid_scenario_toml();
    (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            let rejected = scenario::parse("big.toml", &text).is_err();
            let took = start.elapsed();
            assert!(rejected, "the large invalid scenario must be rejected");
            took
        })
        .min()
        .unwrap_or_default()
}

/// `1234567` → `1 234 567`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let ok = |met: bool| if met { "met" } else { "MISSED" };
        writeln!(
            f,
            "benchmark: {} brokers, {} partitions, {} messages, seed {}",
            o.brokers, o.partitions, o.messages, o.seed
        )?;
        writeln!(f, "  {:<22}{:>16}", "events", grouped(self.events))?;
        writeln!(
            f,
            "  {:<22}{:>16}",
            "trace events",
            grouped(self.trace_events)
        )?;
        writeln!(
            f,
            "  {:<22}{:>14.3} s",
            "wall time",
            self.wall.as_secs_f64()
        )?;
        writeln!(
            f,
            "  {:<22}{:>14.2} M   target ≥ {:.0} M: {}",
            "events per second",
            self.events_per_sec / 1e6,
            TARGET_EVENTS_PER_SEC / 1e6,
            ok(self.meets_events_target())
        )?;
        writeln!(
            f,
            "  {:<22}{:>14.3} s   target ≤ {:.1} s: {}",
            "wall per 1 M messages",
            self.wall_per_million_messages().as_secs_f64(),
            TARGET_WALL_PER_MILLION_MESSAGES.as_secs_f64(),
            ok(self.meets_wall_target())
        )?;
        writeln!(
            f,
            "  {:<22}{:>14.1} s",
            "simulated time",
            self.sim_ms as f64 / 1000.0
        )?;
        writeln!(f, "  {:<22}{:>16}", "messages sent", grouped(self.messages))?;
        writeln!(
            f,
            "  {:<22}{:>16}",
            "lost / acked-lost",
            format!("{} / {}", self.lost, self.acked_lost)
        )?;
        writeln!(f, "  {:<22}{:>16}", "duplicated", self.duplicated)?;
        write!(f, "  {:<22}{:>16}", "trace digest", self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_scenario_validates_at_every_size() {
        for (messages, brokers, partitions) in [
            (1_000_000, 10, 100),
            (1, 1, 1),
            (7, 2, 3),
            (10_000, 3, 12),
            (123_457, 5, 40),
        ] {
            let opts = BenchOptions {
                messages,
                brokers,
                partitions,
                seed: 9,
            };
            let sc = large_scenario(&opts);
            let sent: u64 = sc
                .producers
                .iter()
                .map(|p| p.send.as_ref().map_or(0, |s| s.count))
                .sum();
            assert_eq!(sent, messages);
            assert_eq!(sc.topics[0].partitions, partitions);
            assert_eq!(sc.cluster.brokers, brokers);
        }
    }

    #[test]
    fn small_bench_runs_and_is_deterministic() {
        let opts = BenchOptions {
            messages: 2_000,
            brokers: 5,
            partitions: 10,
            seed: 3,
        };
        let a = run_bench(&opts);
        let b = run_bench(&opts);
        assert_eq!((a.events, &a.digest), (b.events, &b.digest));
        assert_eq!(a.messages, 2_000);
        assert!(a.events > 2_000);
        let table = a.to_string();
        assert!(table.contains("events per second"), "{table}");
    }
}
