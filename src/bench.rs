//! The headless benchmark: a large scenario (10 brokers, 100 partitions,
//! RF 3, 1 M messages by default) run the way `brokerlab run` runs one (the simulation, the
//! checker and the trace digest over every trace event), timed with the wall clock, then a
//! bare-heap replication toy of the same size ([`run_toy`]) in the same process: the floor any
//! design can reach, so the ratio of the two walls is the figure that survives a noisy machine.
//!
//! The targets, on one core: the 1 M-message scenario in ≤ 0.8 s, within 2× the toy in the same
//! run. Performance is measured here, never by a timed test.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::check::{Checker, CheckerSetup};
use crate::scenario::{self, Scenario};
use crate::sim::{Sim, TraceMode};

/// Target: simulated events per second of wall time.
pub const TARGET_EVENTS_PER_SEC: f64 = 5_000_000.0;
/// Target: wall time for a 1 M-message scenario.
pub const TARGET_WALL_PER_MILLION_MESSAGES: Duration = Duration::from_millis(800);

/// Target: the run's wall time over the bare-heap baseline's ([`run_toy`]) in the same process.
pub const TARGET_TOY_RATIO: f64 = 2.0;

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
    /// The large benchmark scenario.
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
         summary = \"The large generated scenario of `brokerlab bench`.\"\n\
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
    /// Building the `Sim` from the scenario (part of `wall`).
    pub setup: Duration,
    /// The bare-heap baseline of the same size, run in the same process right after (not in a
    /// partition-scaling run).
    pub toy: Option<ToyReport>,
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

    /// Simulation events per message sent.
    pub fn events_per_message(&self) -> f64 {
        self.events as f64 / self.messages.max(1) as f64
    }

    /// The run's wall time over the bare-heap baseline's.
    pub fn toy_ratio(&self) -> Option<f64> {
        let toy = self.toy?;
        Some(self.wall.as_secs_f64() / toy.wall.as_secs_f64().max(1e-9))
    }

    /// Wall time per simulation event, setup included, in nanoseconds.
    pub fn ns_per_event(&self) -> f64 {
        self.wall.as_nanos() as f64 / self.events.max(1) as f64
    }

    /// Wall time per message sent, setup included, in nanoseconds.
    pub fn ns_per_message(&self) -> f64 {
        self.wall.as_nanos() as f64 / self.messages.max(1) as f64
    }
}

/// Builds the large scenario and runs it headless, timing the run, then runs the bare-heap
/// baseline of the same size.
pub fn run_bench(opts: &BenchOptions) -> BenchReport {
    let mut report = run_simulation(opts);
    report.toy = Some(run_toy(opts));
    report
}

/// The partition counts of `bench --partitions-scaling`.
pub const SCALING_PARTITIONS: [u32; 3] = [10, 100, 1000];

/// Rounds of `--partitions-scaling`: each runs every size once, in turn, so that the machine's
/// slow stretches fall on every size alike; the table gives the min and the median.
pub const SCALING_ROUNDS: usize = 5;

/// Rounds of `bench --json` and `bench --sweep`, each timing both sides in turn: the min and
/// the median of five runs, since one or three do not average out a shared machine's noise.
pub const ALTERNATING_ROUNDS: u32 = 5;

/// The benchmark at each of [`SCALING_PARTITIONS`], other sizes as in `opts`, `rounds` times
/// in turn: one list of reports per size, one report per round.
pub fn run_partition_scaling(opts: &BenchOptions, rounds: usize) -> Vec<Vec<BenchReport>> {
    let mut by_size: Vec<Vec<BenchReport>> = vec![Vec::new(); SCALING_PARTITIONS.len()];
    for _ in 0..rounds.max(1) {
        for (reports, &partitions) in by_size.iter_mut().zip(&SCALING_PARTITIONS) {
            reports.push(run_simulation(&BenchOptions {
                partitions,
                ..*opts
            }));
        }
    }
    by_size
}

/// How per-event cost grows with partitions: one row per size (min and median over the
/// rounds), then the largest size over the smallest.
pub fn scaling_table(by_size: &[Vec<BenchReport>]) -> String {
    let mut t = String::new();
    let first = by_size.first().and_then(|r| r.first());
    let _ = writeln!(
        t,
        "partition scaling: {} messages, {} brokers, seed {}, {} rounds alternating",
        first.map_or(0, |r| r.options.messages),
        first.map_or(0, |r| r.options.brokers),
        first.map_or(0, |r| r.options.seed),
        by_size.first().map_or(0, Vec::len),
    );
    let _ = writeln!(
        t,
        "  {:>10} {:>12} {:>7} {:>8} {:>8} {:>9} {:>9} {:>11}",
        "partitions", "events", "ev/msg", "wall s", "setup s", "ns/event", "(median)", "ns/message"
    );
    // Per size: (ns per event min, median; ns per message median).
    let mut costs = Vec::new();
    for reports in by_size {
        let Some(r) = reports.first() else {
            continue;
        };
        use crate::report::min_median_of;
        let (wall, _) = min_median_of(reports.iter().map(|r| r.wall.as_secs_f64()));
        let (setup, _) = min_median_of(reports.iter().map(|r| r.setup.as_secs_f64()));
        let (event_min, event_median) =
            min_median_of(reports.iter().map(BenchReport::ns_per_event));
        let (_, message_median) = min_median_of(reports.iter().map(BenchReport::ns_per_message));
        costs.push((event_min, event_median, message_median));
        let _ = writeln!(
            t,
            "  {:>10} {:>12} {:>7.2} {:>8.3} {:>8.3} {:>9.0} {:>9.0} {:>11.0}",
            r.options.partitions,
            grouped(r.events),
            r.events_per_message(),
            wall,
            setup,
            event_min,
            event_median,
            message_median,
        );
    }
    let sizes =
        (by_size.first().and_then(|r| r.first())).zip(by_size.last().and_then(|r| r.first()));
    if let (Some((small, large)), Some(first), Some(last)) = (sizes, costs.first(), costs.last()) {
        let _ = write!(
            t,
            "  {} / {} partitions: ×{:.2} min, ×{:.2} median per event (target ≤ ×1.3); ×{:.2} median per message",
            large.options.partitions,
            small.options.partitions,
            last.0 / first.0.max(1e-9),
            last.1 / first.1.max(1e-9),
            last.2 / first.2.max(1e-9),
        );
    }
    t
}

/// The large scenario run headless (simulation, checker, digest), timed; no baseline.
/// The benchmark's run alone (no toy), as `run` runs a scenario headless.
pub fn run_simulation(opts: &BenchOptions) -> BenchReport {
    let sc = large_scenario(opts);
    let setup = CheckerSetup::from_scenario(&sc).expect("the benchmark scenario is consistent");
    let start = Instant::now();
    let mut sim = Sim::with_seed(&sc, opts.seed);
    // Headless as `run`: the kernel folds every event into the digest and stores no `Sent`.
    sim.set_trace_mode(TraceMode::Digest);
    let setup_wall = start.elapsed();
    let mut checker = Checker::new(setup);
    loop {
        let more = sim.step();
        for ev in sim.drain_trace() {
            checker.observe(&ev);
        }
        if !more {
            break;
        }
    }
    let trace_events = sim.trace_emitted();
    let digest = sim.trace_digest().expect("digest mode");
    checker.set_final(true);
    let outcome = checker.outcome();
    let wall = start.elapsed();
    let events = sim.events();
    let sim_ms = sim.now().as_ms();
    // Free the world before a baseline runs, so that it starts from the same heap.
    drop(sim);
    drop(checker);
    BenchReport {
        options: *opts,
        events,
        trace_events,
        wall,
        events_per_sec: events as f64 / wall.as_secs_f64().max(1e-9),
        messages: outcome.sent,
        sim_ms,
        digest: digest.hex(),
        lost: outcome.lost,
        acked_lost: outcome.acked_lost,
        duplicated: outcome.duplicated,
        setup: setup_wall,
        toy: None,
    }
}

// ----- the bare-heap baseline ---------------------------------------------------------------

/// What the bare-heap replication toy measured.
#[derive(Clone, Copy, Debug)]
pub struct ToyReport {
    pub events: u64,
    pub acked: u64,
    pub wall: Duration,
}

/// The floor any design of the simulation can reach: a toy leader-follower replication
/// pipeline of the same size as the benchmark scenario (producers batch records per leader with
/// a linger deadline, leaders append, followers fetch, the high watermark advances, leaders ack),
/// on a `BinaryHeap` event queue, with no checker, no trace, no faults and no consumers.
///
/// Simplified on purpose: a record is its message number, latency is drawn per message with no
/// per-link ordering, the in-sync set never shrinks, and a follower's fetch reads its own
/// offsets when it arrives (one fetch per follower-leader pair is ever in flight, so nothing
/// changes them meanwhile).
pub fn run_toy(opts: &BenchOptions) -> ToyReport {
    let start = Instant::now();
    let mut toy = Toy::new(opts);
    toy.run();
    ToyReport {
        events: toy.events,
        acked: toy.acked,
        wall: start.elapsed(),
    }
}

const TOY_LINGER_US: u64 = 5_000;
const TOY_FETCH_WAIT_US: u64 = 500_000;
const TOY_LATENCY_US: std::ops::RangeInclusive<u64> = 1_000..=5_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ToyEvent {
    /// A producer's `send()`: one record into the batch for its partition's leader.
    Send { producer: u32 },
    /// A producer's linger deadline: every open batch goes out.
    Linger { producer: u32 },
    /// A produce request (records in `requests[request]`) reaches its leader.
    Produce { request: u32 },
    /// The leader's answer to a produce request, once the high watermark covers it.
    ProduceAck { request: u32 },
    /// A follower's fetch reaches the leader of the partitions it follows there.
    Fetch { pair: u32 },
    /// The leader's answer (the log ends in `pairs[pair].sent_ends`) reaches the follower.
    FetchResponse { pair: u32 },
    /// A long-polling fetch waited `replica.fetch.wait.max.ms` with nothing new.
    FetchWaitOver { pair: u32, round: u64 },
}

struct ToyPartition {
    leader: u32,
    /// The records (message numbers) on the leader.
    log: Vec<u32>,
    /// Each follower's pair index and log end offset.
    followers: Vec<(u32, u64)>,
    high_watermark: u64,
    /// Records waiting for the high watermark: (offset after the record, its request).
    waiting: std::collections::VecDeque<(u64, u32)>,
}

/// One follower fetching from one leader: Kafka's replica fetcher thread, per broker pair.
struct ToyPair {
    partitions: Vec<u32>,
    /// The leader's log ends as of the response in flight.
    sent_ends: Vec<u64>,
    /// Parked at the leader, waiting for data (with the round it parked in).
    parked: Option<u64>,
    round: u64,
}

struct ToyRequest {
    records: Vec<(u32, u32)>,
    /// Records of the request that the high watermark does not cover yet.
    outstanding: u32,
}

struct ToyProducer {
    sends_left: u64,
    next_message: u32,
    every_us: u64,
    /// The open batch per leader broker.
    batches: Vec<Vec<(u32, u32)>>,
    linger_set: bool,
}

struct Toy {
    now: u64,
    seq: u64,
    events: u64,
    acked: u64,
    messages: u64,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Reverse<(u64, u64, ToyEvent)>>,
    partitions: Vec<ToyPartition>,
    pairs: Vec<ToyPair>,
    producers: Vec<ToyProducer>,
    requests: Vec<ToyRequest>,
    free_requests: Vec<u32>,
}

impl Toy {
    fn new(opts: &BenchOptions) -> Toy {
        let brokers = opts.brokers.max(1);
        let partitions = opts.partitions.max(1);
        let messages = opts.messages.max(1);
        let rf = brokers.min(3);
        let producers = PRODUCERS.min(messages);
        let per_producer = messages.div_ceil(producers);
        let every_us = (SEND_WINDOW_MS / per_producer).max(1) * 1000;
        let mut pair_index = std::collections::BTreeMap::new();
        let mut pairs: Vec<ToyPair> = Vec::new();
        let mut parts = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let leader = p % brokers;
            let mut followers = Vec::new();
            for r in 1..rf {
                let follower = (p + r) % brokers;
                let pair = *pair_index.entry((follower, leader)).or_insert_with(|| {
                    pairs.push(ToyPair {
                        partitions: Vec::new(),
                        sent_ends: Vec::new(),
                        parked: None,
                        round: 0,
                    });
                    pairs.len() as u32 - 1
                });
                pairs[pair as usize].partitions.push(p);
                pairs[pair as usize].sent_ends.push(0);
                followers.push((pair, 0));
            }
            parts.push(ToyPartition {
                leader,
                log: Vec::with_capacity((messages / partitions as u64 + 1) as usize),
                followers,
                high_watermark: 0,
                waiting: std::collections::VecDeque::new(),
            });
        }
        let mut toy = Toy {
            now: 0,
            seq: 0,
            events: 0,
            acked: 0,
            messages,
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            queue: BinaryHeap::new(),
            partitions: parts,
            pairs,
            producers: Vec::new(),
            requests: Vec::new(),
            free_requests: Vec::new(),
        };
        let mut left = messages;
        for producer in 0..producers {
            let count = per_producer.min(left);
            left -= count;
            toy.producers.push(ToyProducer {
                sends_left: count,
                next_message: 0,
                every_us,
                batches: vec![Vec::new(); brokers as usize],
                linger_set: false,
            });
            if count > 0 {
                toy.schedule(
                    0,
                    ToyEvent::Send {
                        producer: producer as u32,
                    },
                );
            }
        }
        for pair in 0..toy.pairs.len() as u32 {
            toy.schedule(0, ToyEvent::Fetch { pair });
        }
        toy
    }

    fn schedule(&mut self, at: u64, event: ToyEvent) {
        self.queue.push(Reverse((at, self.seq, event)));
        self.seq += 1;
    }

    fn after_latency(&mut self, event: ToyEvent) {
        let at = self.now + self.rng.random_range(TOY_LATENCY_US);
        self.schedule(at, event);
    }

    fn run(&mut self) {
        while let Some(Reverse((at, _, event))) = self.queue.pop() {
            self.now = at;
            self.events += 1;
            match event {
                ToyEvent::Send { producer } => self.on_send(producer),
                ToyEvent::Linger { producer } => self.on_linger(producer),
                ToyEvent::Produce { request } => self.on_produce(request),
                ToyEvent::ProduceAck { request } => {
                    let r = &mut self.requests[request as usize];
                    self.acked += r.records.len() as u64;
                    r.records.clear();
                    self.free_requests.push(request);
                }
                ToyEvent::Fetch { pair } => self.on_fetch(pair),
                ToyEvent::FetchResponse { pair } => self.on_fetch_response(pair),
                ToyEvent::FetchWaitOver { pair, round } => {
                    if self.pairs[pair as usize].parked == Some(round) {
                        self.respond_to_fetch(pair);
                    }
                }
            }
            // The run is over once every record is acknowledged; only fetch loops remain.
            if self.acked == self.messages {
                break;
            }
        }
    }

    fn on_send(&mut self, producer: u32) {
        let partitions = self.partitions.len() as u32;
        let p = &mut self.producers[producer as usize];
        let message = p.next_message;
        p.next_message += 1;
        p.sends_left -= 1;
        let partition = (producer.wrapping_mul(7) + message) % partitions;
        let leader = self.partitions[partition as usize].leader;
        p.batches[leader as usize].push((partition, message));
        let every_us = p.every_us;
        let more = p.sends_left > 0;
        let set_linger = !p.linger_set;
        p.linger_set = true;
        if set_linger {
            self.schedule(self.now + TOY_LINGER_US, ToyEvent::Linger { producer });
        }
        if more {
            self.schedule(self.now + every_us, ToyEvent::Send { producer });
        }
    }

    fn on_linger(&mut self, producer: u32) {
        self.producers[producer as usize].linger_set = false;
        for leader in 0..self.producers[producer as usize].batches.len() {
            if self.producers[producer as usize].batches[leader].is_empty() {
                continue;
            }
            let request = match self.free_requests.pop() {
                Some(r) => r,
                None => {
                    self.requests.push(ToyRequest {
                        records: Vec::new(),
                        outstanding: 0,
                    });
                    self.requests.len() as u32 - 1
                }
            };
            let r = &mut self.requests[request as usize];
            std::mem::swap(
                &mut r.records,
                &mut self.producers[producer as usize].batches[leader],
            );
            self.after_latency(ToyEvent::Produce { request });
        }
    }

    fn on_produce(&mut self, request: u32) {
        let records = std::mem::take(&mut self.requests[request as usize].records);
        for &(partition, message) in &records {
            let part = &mut self.partitions[partition as usize];
            part.log.push(message);
            part.waiting.push_back((part.log.len() as u64, request));
            for f in 0..self.partitions[partition as usize].followers.len() {
                let pair = self.partitions[partition as usize].followers[f].0;
                if self.pairs[pair as usize].parked.is_some() {
                    self.respond_to_fetch(pair);
                }
            }
        }
        let r = &mut self.requests[request as usize];
        r.outstanding = records.len() as u32;
        r.records = records;
        // With replication factor 1 the leader alone makes a record committed.
        for i in 0..self.requests[request as usize].records.len() {
            let partition = self.requests[request as usize].records[i].0;
            self.advance_high_watermark(partition);
        }
    }

    fn on_fetch(&mut self, pair: u32) {
        for i in 0..self.pairs[pair as usize].partitions.len() {
            let partition = self.pairs[pair as usize].partitions[i];
            // The fetch offset is the follower's log end: what it acknowledges.
            let end = self.pairs[pair as usize].sent_ends[i];
            let part = &mut self.partitions[partition as usize];
            if let Some(f) = part.followers.iter_mut().find(|(q, _)| *q == pair) {
                f.1 = end;
            }
            self.advance_high_watermark(partition);
        }
        let pr = &self.pairs[pair as usize];
        let has_new = pr
            .partitions
            .iter()
            .zip(&pr.sent_ends)
            .any(|(&p, &end)| self.partitions[p as usize].log.len() as u64 > end);
        if has_new {
            self.respond_to_fetch(pair);
        } else {
            let pr = &mut self.pairs[pair as usize];
            pr.round += 1;
            let round = pr.round;
            pr.parked = Some(round);
            self.schedule(
                self.now + TOY_FETCH_WAIT_US,
                ToyEvent::FetchWaitOver { pair, round },
            );
        }
    }

    fn respond_to_fetch(&mut self, pair: u32) {
        let pr = &mut self.pairs[pair as usize];
        pr.parked = None;
        for (i, &p) in pr.partitions.iter().enumerate() {
            pr.sent_ends[i] = self.partitions[p as usize].log.len() as u64;
        }
        self.after_latency(ToyEvent::FetchResponse { pair });
    }

    fn on_fetch_response(&mut self, pair: u32) {
        // The follower appends what came (its log end is `sent_ends`) and fetches again at once.
        self.after_latency(ToyEvent::Fetch { pair });
    }

    fn advance_high_watermark(&mut self, partition: u32) {
        let part = &mut self.partitions[partition as usize];
        let hw = part
            .followers
            .iter()
            .map(|&(_, end)| end)
            .fold(part.log.len() as u64, u64::min);
        if hw <= part.high_watermark {
            return;
        }
        part.high_watermark = hw;
        while let Some(&(end, request)) = part.waiting.front() {
            if end > hw {
                break;
            }
            part.waiting.pop_front();
            let r = &mut self.requests[request as usize];
            r.outstanding -= 1;
            if r.outstanding == 0 {
                let at = self.now + self.rng.random_range(TOY_LATENCY_US);
                self.queue
                    .push(Reverse((at, self.seq, ToyEvent::ProduceAck { request })));
                self.seq += 1;
            }
        }
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
            "  {:<22}{:>14.3} s",
            "of which setup",
            self.setup.as_secs_f64()
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
            "  {:<22}{:>16.2}",
            "events per message",
            self.events_per_message()
        )?;
        if let (Some(toy), Some(ratio)) = (self.toy, self.toy_ratio()) {
            writeln!(
                f,
                "  {:<22}{:>14.3} s   ({} events, {} acked)",
                "bare-heap baseline",
                toy.wall.as_secs_f64(),
                grouped(toy.events),
                grouped(toy.acked)
            )?;
            writeln!(
                f,
                "  {:<22}{:>14.2} ×   target ≤ {:.0} ×: {}",
                "wall / baseline",
                ratio,
                TARGET_TOY_RATIO,
                ok(ratio <= TARGET_TOY_RATIO)
            )?;
        }
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

    fn sized(messages: u64, brokers: u32, partitions: u32, seed: u64) -> BenchOptions {
        BenchOptions {
            messages,
            brokers,
            partitions,
            seed,
        }
    }

    #[test]
    fn large_scenario_validates_at_every_size() {
        for (messages, brokers, partitions) in [
            (1_000_000, 10, 100),
            (1, 1, 1),
            (7, 2, 3),
            (10_000, 3, 12),
            (123_457, 5, 40),
        ] {
            let opts = sized(messages, brokers, partitions, 9);
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
        let opts = sized(2_000, 5, 10, 3);
        let a = run_bench(&opts);
        let b = run_bench(&opts);
        assert_eq!((a.events, &a.digest), (b.events, &b.digest));
        assert_eq!(a.messages, 2_000);
        assert!(a.events > 2_000);
        let table = a.to_string();
        assert!(table.contains("events per second"), "{table}");
        assert!(table.contains("wall / baseline"), "{table}");
    }

    #[test]
    fn partition_scaling_runs_every_size_and_compares_the_last_with_the_first() {
        let opts = sized(300, 3, 7, 2);
        let by_size = run_partition_scaling(&opts, 2);
        let sizes: Vec<u32> = by_size.iter().map(|r| r[0].options.partitions).collect();
        assert_eq!(sizes, SCALING_PARTITIONS);
        for reports in &by_size {
            assert_eq!(reports.len(), 2, "one report per round");
            assert!(reports.iter().all(|r| r.messages == 300 && r.toy.is_none()));
            assert_eq!(reports[0].digest, reports[1].digest, "the rounds run alike");
        }
        let table = scaling_table(&by_size);
        assert!(table.contains("2 rounds alternating"), "{table}");
        assert!(table.contains("1000 / 10 partitions: ×"), "{table}");
        assert_eq!(
            table.lines().count(),
            2 + SCALING_PARTITIONS.len() + 1,
            "{table}"
        );
    }

    #[test]
    fn the_baseline_acknowledges_every_message_the_same_way_each_time() {
        for (messages, brokers, partitions) in [(5_000, 10, 100), (7, 1, 1), (300, 3, 2)] {
            let opts = sized(messages, brokers, partitions, 4);
            let a = run_toy(&opts);
            let b = run_toy(&opts);
            assert_eq!(a.acked, messages, "{opts:?}");
            assert_eq!(a.events, b.events, "{opts:?}");
            // A send, a produce request and its answer at least, shared by a batch's records.
            assert!(a.events > messages, "{opts:?}: {} events", a.events);
        }
    }
}
