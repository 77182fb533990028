//! Property tests: many seeds of random scenarios, each run to the end while
//! the replication invariants are checked after every step.
//!
//! - no panic, and the run finishes within a bounded number of events;
//! - HW ≤ LEO on every replica;
//! - below the leader's HW, every ISR member that has the records agrees with the leader's log
//!   (checked only while no unclean election has happened);
//! - the same seed gives the same digest and event count;
//! - the checker's live fate counts equal a full recount at many steps, at the end and after
//!   stepping back in a session;
//! - durability: `acks=all`, `min.insync.replicas = 2`, RF 3, clean elections, idempotence and one
//!   broker crash (maybe followed by a restart) lose no acknowledged message.
//!
//! Scenarios are generated as TOML text and go through `scenario::parse`, so validation is
//! exercised too. Every failure prints the seed and the scenario so that it can be saved to a
//! file and replayed with `brokerlab run FILE`.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use brokerlab::check::{Checker, CheckerSetup, Outcome};
use brokerlab::scenario::{self, Scenario};
use brokerlab::session::Session;
use brokerlab::sim::digest::Digest;
use brokerlab::sim::{Phase, Sim, Trace};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A run that has not finished after this many events is stuck (the largest random scenarios
/// take about 150 000).
const MAX_EVENTS: u64 = 2_000_000;
/// Events at one simulated instant: a run beyond this spins without time advancing.
const MAX_EVENTS_AT_ONE_TIME: u64 = 20_000;

/// Random scenarios per test function (four of them, so the harness spreads them over cores).
const RANDOM_CHUNK: u64 = 1500;
/// Durability scenarios per test function (two of them).
const DURABILITY_CHUNK: u64 = 750;

// ----- generation -----------------------------------------------------------------------------

/// A small seeded helper for picking values.
struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Uniform in `lo..=hi`.
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        self.rng.random_range(lo..=hi)
    }

    fn small(&mut self, lo: u32, hi: u32) -> u32 {
        self.rng.random_range(lo..=hi)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    /// A node other than `not` (links need two distinct ends).
    fn other(&mut self, nodes: &[String], not: &str) -> String {
        let others: Vec<&String> = nodes.iter().filter(|n| *n != not).collect();
        (*self.pick(&others)).clone()
    }
}

struct TopicPlan {
    name: String,
    partitions: u32,
}

struct GroupPlan {
    name: String,
    consumers: u32,
}

/// A random scenario as TOML text: 1-5 brokers, 1-2 topics, 1-2 producers, 0-2 groups and 0-4
/// faults. Every value respects validation, so `parse` must accept it.
fn random_scenario(seed: u64) -> String {
    let mut g = Gen::new(seed ^ 0x05ee_d0f5_ce7a_7105);
    let mut t = String::new();
    let stop = g.int(5_000, 20_000);
    let brokers = g.small(1, 5);
    let _ = writeln!(
        t,
        "[scenario]\ntitle = \"random scenario {seed}\"\nseed = {seed}\nstop_at_ms = {stop}\n"
    );

    // Cluster.
    let _ = writeln!(t, "[cluster]\nbrokers = {brokers}");
    if g.chance(0.15) {
        t.push_str("unclean_leader_election = true\n");
    }
    if g.chance(0.4) {
        let session = g.int(6_000, 9_000);
        let heartbeat = g.int(500, session / 3);
        let _ = writeln!(
            t,
            "broker_session_timeout_ms = {session}\nbroker_heartbeat_interval_ms = {heartbeat}"
        );
    }
    if g.chance(0.4) {
        let _ = writeln!(t, "replica_lag_time_max_ms = {}", g.int(2_000, 30_000));
    }
    if g.chance(0.2) {
        let _ = writeln!(t, "replica_socket_timeout_ms = {}", g.int(2_000, 30_000));
    }
    if g.chance(0.3) {
        let _ = writeln!(t, "group_initial_rebalance_delay_ms = {}", g.int(0, 3_000));
    }

    // Network.
    let lo = g.int(0, 5);
    let hi = lo + g.int(0, 20);
    let _ = writeln!(t, "\n[network]\nlatency_ms = [{lo}, {hi}]");
    if g.chance(0.15) {
        let _ = writeln!(t, "loss = {}", g.int(1, 20) as f64 / 1000.0);
    }

    // Topics.
    let mut topics = Vec::new();
    for i in 0..g.small(1, 2) {
        let partitions = g.small(1, 4);
        let rf = g.small(1, brokers);
        let min_isr = g.small(1, rf);
        let name = format!("t{i}");
        let _ = writeln!(
            t,
            "\n[[topics]]\nname = \"{name}\"\npartitions = {partitions}\nreplication_factor = {rf}\nmin_insync_replicas = {min_isr}"
        );
        if g.chance(0.1) {
            let _ = writeln!(t, "unclean_leader_election = {}", g.chance(0.5));
        }
        topics.push(TopicPlan { name, partitions });
    }

    // Producers.
    let mut producers = Vec::new();
    for i in 0..g.small(1, 2) {
        let name = format!("prod-{}", i + 1);
        let topic = &topics[g.int(0, topics.len() as u64 - 1) as usize].name;
        let acks = *g.pick(&["0", "1", "all", "all"]);
        let retries: Option<u32> = match g.int(0, 3) {
            0 => Some(0),
            1 => Some(g.small(1, 5)),
            _ => None,
        };
        let max_in_flight = g.small(1, 5);
        let can_idempotent = acks == "all" && retries != Some(0);
        let idempotence = if can_idempotent {
            *g.pick(&[Some(true), Some(false), None])
        } else {
            *g.pick(&[Some(false), None])
        };
        let linger = g.int(0, 10);
        let request_timeout = if g.chance(0.5) {
            g.int(5_000, 30_000)
        } else {
            30_000
        };
        let _ = writeln!(
            t,
            "\n[[producers]]\nname = \"{name}\"\ntopic = \"{topic}\"\nacks = \"{acks}\"\nmax_in_flight = {max_in_flight}\nlinger_ms = {linger}\nrequest_timeout_ms = {request_timeout}"
        );
        if let Some(r) = retries {
            let _ = writeln!(t, "retries = {r}");
        }
        if let Some(v) = idempotence {
            let _ = writeln!(t, "enable_idempotence = {v}");
        }
        if g.chance(0.5) {
            let delivery = linger + request_timeout + g.int(0, 60_000);
            let _ = writeln!(t, "delivery_timeout_ms = {delivery}");
        } else if linger + request_timeout > 120_000 {
            unreachable!("the default delivery timeout always fits");
        }
        if g.chance(0.4) {
            let _ = writeln!(t, "retry_backoff_ms = {}", g.int(10, 500));
        }
        if g.chance(0.4) {
            let _ = writeln!(t, "max_batch_records = {}", g.int(1, 20));
        }
        let count = g.int(5, 60);
        let start = g.int(0, stop / 4);
        let every = g.int(0, (stop - start) / (count - 1).max(1));
        let _ = write!(
            t,
            "send = {{ count = {count}, every_ms = {every}, start_ms = {start}"
        );
        if g.chance(0.75) {
            let keys: Vec<String> = (0..g.int(1, 6)).map(|k| format!("\"k{k}\"")).collect();
            let dist = *g.pick(&["round-robin", "uniform", "zipf"]);
            let _ = write!(
                t,
                ", keys = [{}], key_distribution = \"{dist}\"",
                keys.join(", ")
            );
        }
        t.push_str(" }\n");
        producers.push(name);
    }

    // Groups.
    let mut groups = Vec::new();
    for i in 0..g.small(0, 2) {
        let name = format!("group-{}", (b'a' + i as u8) as char);
        let topic = &topics[g.int(0, topics.len() as u64 - 1) as usize].name;
        let consumers = g.small(1, 3);
        let assignor = *g.pick(&["range", "roundrobin", "sticky", "cooperative-sticky"]);
        let commit = *g.pick(&["auto", "before-process", "after-process"]);
        let reset = *g.pick(&["earliest", "earliest", "latest"]);
        // A share group (KIP-932) one time in four, drawn from its own generator so the main
        // stream, and every scenario without one, stays as it was.
        let mut sg = Gen::new(seed ^ 0x5ba2_e000 ^ i as u64);
        let share = sg.chance(0.25);
        let start = t.len();
        let _ = writeln!(
            t,
            "\n[[groups]]\nname = \"{name}\"\ntopic = \"{topic}\"\nconsumers = {consumers}\nassignor = \"{assignor}\"\ncommit = \"{commit}\"\nauto_offset_reset = \"{reset}\"\nprocessing_ms = {}\ndedup = {}",
            g.int(0, 30),
            g.chance(0.3)
        );
        if g.chance(0.5) {
            let session = g.int(6_000, 45_000);
            let heartbeat = g.int(500, session / 3);
            let _ = writeln!(
                t,
                "session_timeout_ms = {session}\nheartbeat_interval_ms = {heartbeat}"
            );
        }
        if g.chance(0.3) {
            let _ = writeln!(t, "request_timeout_ms = {}", g.int(5_000, 30_000));
        }
        if g.chance(0.3) {
            let _ = writeln!(t, "auto_commit_interval_ms = {}", g.int(100, 5_000));
        }
        if g.chance(0.3) {
            let _ = writeln!(t, "max_poll_records = {}", g.int(1, 50));
        }
        if g.chance(0.3) {
            let _ = writeln!(t, "start_ms = {}", g.int(0, stop / 2));
        }
        if share {
            // The same group as a share group: without the fields a share group refuses.
            const REFUSED: [&str; 6] = [
                "assignor",
                "commit",
                "session_timeout_ms",
                "heartbeat_interval_ms",
                "auto_commit_interval_ms",
                "max_attempts",
            ];
            let kept: String = t[start..]
                .lines()
                .filter(|l| !REFUSED.iter().any(|f| l.starts_with(&format!("{f} ="))))
                .map(|l| format!("{l}\n"))
                .collect();
            t.truncate(start);
            t.push_str(&kept);
            let _ = writeln!(
                t,
                "type = \"share\"\nrecord_lock_duration_ms = {}\ndelivery_count_limit = {}",
                sg.int(15_000, 60_000),
                sg.int(2, 10)
            );
            if sg.chance(0.5) {
                let _ = writeln!(t, "fail_every = {}", sg.int(3, 20));
            }
        }
        groups.push(GroupPlan { name, consumers });
    }

    // Faults.
    let brokers_names: Vec<String> = (1..=brokers).map(|b| format!("broker-{b}")).collect();
    let leaders: Vec<String> = topics
        .iter()
        .flat_map(|tp| (0..tp.partitions).map(move |p| format!("leader:{}/{p}", tp.name)))
        .collect();
    let partitions: Vec<String> = topics
        .iter()
        .flat_map(|tp| (0..tp.partitions).map(move |p| format!("{}/{p}", tp.name)))
        .collect();
    let consumers: Vec<String> = groups
        .iter()
        .flat_map(|gp| (1..=gp.consumers).map(move |c| format!("{}/consumer-{c}", gp.name)))
        .collect();
    let mut nodes: Vec<String> = brokers_names.clone();
    nodes.push("controller".into());
    nodes.extend(producers.iter().cloned());
    nodes.extend(consumers.iter().cloned());

    let mut actions = vec![
        "crash",
        "crash",
        "restart",
        "pause",
        "isolate",
        "partition",
        "drop",
        "drop-acks",
        "delay",
        "elect-preferred",
    ];
    if !groups.is_empty() {
        actions.extend(["add-consumer", "remove-consumer"]);
    }
    let mut crashed: Vec<String> = Vec::new();
    let mut faults: Vec<(u64, String)> = Vec::new();
    for _ in 0..g.int(0, 4) {
        let at = g.int(0, stop);
        let action = *g.pick(&actions);
        let mut f = format!("\n[[faults]]\nat_ms = {at}\naction = \"{action}\"\n");
        match action {
            "crash" => {
                let target = match g.int(0, 19) {
                    0..=11 => g.pick(&brokers_names).clone(),
                    12..=16 => g.pick(&leaders).clone(),
                    17 => "controller".to_string(),
                    _ => g.pick(&nodes).clone(),
                };
                let _ = writeln!(f, "target = \"{target}\"");
                crashed.push(target);
            }
            "restart" => {
                let target = match crashed.iter().filter(|c| !c.starts_with("leader:")).count() {
                    0 => g.pick(&brokers_names).clone(),
                    _ if g.chance(0.2) => g.pick(&nodes).clone(),
                    _ => {
                        let named: Vec<&String> = crashed
                            .iter()
                            .filter(|c| !c.starts_with("leader:"))
                            .collect();
                        (*g.pick(&named)).clone()
                    }
                };
                let _ = writeln!(f, "target = \"{target}\"");
            }
            "pause" => {
                let target = if g.chance(0.5) {
                    g.pick(&brokers_names).clone()
                } else if g.chance(0.5) {
                    g.pick(&leaders).clone()
                } else {
                    g.pick(&nodes).clone()
                };
                let _ = writeln!(
                    f,
                    "target = \"{target}\"\nduration_ms = {}",
                    g.int(100, 12_000)
                );
            }
            "isolate" => {
                let target = if g.chance(0.6) {
                    g.pick(&brokers_names).clone()
                } else if g.chance(0.5) {
                    g.pick(&leaders).clone()
                } else {
                    g.pick(&nodes).clone()
                };
                let _ = writeln!(f, "target = \"{target}\"");
                if g.chance(0.85) {
                    let _ = writeln!(f, "duration_ms = {}", g.int(100, 15_000));
                }
            }
            "partition" => {
                // Split the brokers (and the controller) in two, other nodes on either side.
                let mut sides: [Vec<String>; 2] = [Vec::new(), Vec::new()];
                for n in &nodes {
                    if n.starts_with("broker-") || n == "controller" || g.chance(0.3) {
                        sides[g.int(0, 1) as usize].push(format!("\"{n}\""));
                    }
                }
                if sides[0].is_empty() {
                    let n = sides[1].pop().expect("a node");
                    sides[0].push(n);
                }
                if sides[1].is_empty() {
                    let n = sides[0].pop().expect("a node");
                    sides[1].push(n);
                }
                let _ = writeln!(
                    f,
                    "sides = [[{}], [{}]]\nduration_ms = {}",
                    sides[0].join(", "),
                    sides[1].join(", "),
                    g.int(100, 15_000)
                );
            }
            "drop" => {
                let a = g.pick(&nodes).clone();
                let b = if g.chance(0.3) {
                    g.pick(&leaders).clone()
                } else {
                    g.other(&nodes, &a)
                };
                let _ = writeln!(f, "link = \"{a}->{b}\"\ncount = {}", g.int(1, 5));
            }
            "drop-acks" => {
                let _ = writeln!(
                    f,
                    "target = \"{}\"\ncount = {}",
                    g.pick(&producers),
                    g.int(1, 3)
                );
            }
            "delay" => {
                let a = if g.chance(0.3) {
                    g.pick(&leaders).clone()
                } else {
                    g.pick(&nodes).clone()
                };
                let b = g.other(&nodes, &a);
                let _ = writeln!(
                    f,
                    "link = \"{a} -> {b}\"\nextra_ms = {}\nduration_ms = {}",
                    g.int(1, 3_000),
                    g.int(1, 8_000)
                );
            }
            "elect-preferred" => {
                let _ = writeln!(f, "partition = \"{}\"", g.pick(&partitions));
            }
            "add-consumer" => {
                let gp = g.pick(&groups);
                let _ = writeln!(f, "group = \"{}\"", gp.name);
            }
            "remove-consumer" => {
                let _ = writeln!(f, "target = \"{}\"", g.pick(&consumers));
            }
            _ => unreachable!(),
        }
        faults.push((at, f));
    }
    for (_, f) in faults {
        t.push_str(&f);
    }
    t
}

/// The durability property's scenario: RF 3 on 3 brokers, `min.insync.replicas = 2`,
/// `acks=all` with idempotence, clean elections, a group that reads from the earliest offset
/// and commits after processing, and exactly one broker crash, sometimes followed by a restart.
fn durability_scenario(seed: u64) -> String {
    let mut g = Gen::new(seed ^ 0xd0_7ab1_1175);
    let mut t = String::new();
    let stop = g.int(15_000, 25_000);
    let partitions = g.small(1, 3);
    let _ = writeln!(
        t,
        "[scenario]\ntitle = \"durability {seed}\"\nseed = {seed}\nstop_at_ms = {stop}\n\n[cluster]\nbrokers = 3\nunclean_leader_election = false"
    );
    if g.chance(0.4) {
        let session = g.int(6_000, 9_000);
        let _ = writeln!(
            t,
            "broker_session_timeout_ms = {session}\nbroker_heartbeat_interval_ms = {}",
            g.int(500, session / 3)
        );
    }
    if g.chance(0.4) {
        let _ = writeln!(t, "replica_lag_time_max_ms = {}", g.int(2_000, 30_000));
    }
    let lo = g.int(0, 5);
    let hi = lo + g.int(0, 20);
    let _ = writeln!(
        t,
        "\n[network]\nlatency_ms = [{lo}, {hi}]\n\n[[topics]]\nname = \"orders\"\npartitions = {partitions}\nreplication_factor = 3\nmin_insync_replicas = 2"
    );
    // Sends stop early enough that the crash can land among or after them.
    let send_window = stop * 2 / 3;
    for i in 0..g.small(1, 2) {
        let count = g.int(5, 60);
        let start = g.int(0, send_window / 4);
        let every = g.int(0, (send_window - start) / (count - 1).max(1));
        let _ = writeln!(
            t,
            "\n[[producers]]\nname = \"prod-{}\"\ntopic = \"orders\"\nacks = \"all\"\nenable_idempotence = true\nmax_in_flight = {}\nlinger_ms = {}",
            i + 1,
            g.small(1, 5),
            g.int(0, 10)
        );
        if g.chance(0.5) {
            let rt = g.int(5_000, 30_000);
            let _ = writeln!(
                t,
                "request_timeout_ms = {rt}\ndelivery_timeout_ms = {}",
                rt + 10 + g.int(0, 90_000)
            );
        }
        if g.chance(0.3) {
            let _ = writeln!(t, "max_batch_records = {}", g.int(1, 20));
        }
        let keys: Vec<String> = (0..g.int(1, 6)).map(|k| format!("\"k{k}\"")).collect();
        let _ = writeln!(
            t,
            "send = {{ count = {count}, every_ms = {every}, start_ms = {start}, keys = [{}] }}",
            keys.join(", ")
        );
    }
    let _ = writeln!(
        t,
        "\n[[groups]]\nname = \"audit\"\ntopic = \"orders\"\nconsumers = {}\ncommit = \"after-process\"\nauto_offset_reset = \"earliest\"\nprocessing_ms = {}\nassignor = \"{}\"",
        g.small(1, 3),
        g.int(0, 20),
        g.pick(&["range", "roundrobin", "sticky", "cooperative-sticky"])
    );
    let target = if g.chance(0.5) {
        format!("leader:orders/{}", g.int(0, partitions as u64 - 1))
    } else {
        format!("broker-{}", g.int(1, 3))
    };
    // Sometimes early, while the groups are still in their initial rebalance
    // (`group.initial.rebalance.delay.ms` is 3 s).
    let crash_at = if g.chance(0.3) {
        g.int(100, 3_000)
    } else {
        g.int(100, stop * 3 / 4)
    };
    let _ = writeln!(
        t,
        "\n[[faults]]\nat_ms = {crash_at}\naction = \"crash\"\ntarget = \"{target}\""
    );
    if g.chance(0.5) {
        // Restart whichever broker crashed: with a `leader:` target it is not known in
        // advance, so restart every broker; restarting a live broker does nothing.
        // Half the time before the controller fences the broker (a quick bounce), half the
        // time whenever.
        let at = if g.chance(0.5) {
            (crash_at + g.int(100, 8_000)).min(stop)
        } else {
            g.int(crash_at + 1, stop)
        };
        let restart: Vec<String> = if target.starts_with("broker-") {
            vec![target.clone()]
        } else {
            (1..=3).map(|b| format!("broker-{b}")).collect()
        };
        for r in restart {
            let _ = writeln!(
                t,
                "\n[[faults]]\nat_ms = {at}\naction = \"restart\"\ntarget = \"{r}\""
            );
        }
    }
    t
}

// ----- running --------------------------------------------------------------------------------

/// A property violation, with what it takes to replay it.
struct Failure {
    seed: u64,
    what: String,
    toml: String,
}

impl Failure {
    fn new(seed: u64, toml: &str, what: impl Into<String>) -> Failure {
        Failure {
            seed,
            what: what.into(),
            toml: toml.to_string(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "property failed for seed {}: {}\nscenario (save as a .toml file and replay it with \
             `Sim::with_seed(&scenario, {})`, or `brokerlab run FILE`):\n---\n{}---",
            self.seed, self.what, self.seed, self.toml
        )
    }
}

/// Runs `check` for every seed and panics at the end if any failed, listing every failing seed
/// and printing the first few in full.
fn for_seeds(seeds: std::ops::Range<u64>, check: impl Fn(u64) -> Result<(), Failure>) {
    let total = seeds.end - seeds.start;
    let failures: Vec<Failure> = seeds.filter_map(|seed| check(seed).err()).collect();
    if failures.is_empty() {
        return;
    }
    let mut msg = format!("{} of {total} seeds failed:\n", failures.len());
    for f in &failures {
        let first_line = f.what.lines().next().unwrap_or("");
        let _ = writeln!(msg, "  seed {}: {first_line}", f.seed);
    }
    for f in failures.iter().take(3) {
        let _ = writeln!(msg, "\n{f}");
    }
    panic!("{msg}");
}

fn parse(seed: u64, toml: &str) -> Result<Scenario, Failure> {
    scenario::parse("generated.toml", toml).map_err(|e| {
        Failure::new(
            seed,
            toml,
            format!("validation refused a generated scenario:\n{e}"),
        )
    })
}

struct RunSummary {
    digest: String,
    events: u64,
    outcome: Outcome,
    unclean: bool,
}

/// Runs a scenario to the end, feeding the checker and the digest, and checks the replica
/// invariants after every step when `check` is set. A panic inside the simulation is caught and
/// reported as a failure of this seed.
fn run(seed: u64, toml: &str, sc: &Scenario, check: Checks) -> Result<RunSummary, Failure> {
    let result = catch_unwind(AssertUnwindSafe(|| run_inner(sc, seed, check)));
    match result {
        Ok(Ok(summary)) => Ok(summary),
        Ok(Err(violation)) => Err(Failure::new(seed, toml, violation)),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            Err(Failure::new(
                seed,
                toml,
                format!("the simulation panicked: {msg}"),
            ))
        }
    }
}

/// What [`run`] checks as it goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// The replica invariants after every step.
    Replicas,
    /// The checker's live fate counts against a full recount every few steps.
    LiveCounts,
}

/// Steps between two comparisons of the live counts with a recount (a recount is a pass over
/// every message).
const RECOUNT_EVERY: u64 = 61;

fn live_equals_recount(checker: &Checker, at: u64) -> Result<(), String> {
    let (live, full) = (checker.outcome(), checker.recount_outcome());
    if live != full {
        return Err(format!(
            "after event {at}: the live fate counts differ from a full recount:\n  live   \
             {live:?}\n  recount {full:?}"
        ));
    }
    Ok(())
}

fn run_inner(sc: &Scenario, seed: u64, checks: Checks) -> Result<RunSummary, String> {
    let check = checks == Checks::Replicas;
    let mut sim = Sim::with_seed(sc, seed);
    let setup = CheckerSetup::from_scenario(sc).map_err(|e| format!("checker setup: {e}"))?;
    let mut checker = Checker::new(setup);
    if checks == Checks::LiveCounts {
        checker.keep_live_counts();
    }
    let mut digest = Digest::default();
    let mut unclean = false;
    // The time and event count when simulated time last moved, to catch livelocks early.
    let mut last_time = (sim.now(), 0u64);
    loop {
        let more = sim.step();
        for ev in sim.drain_trace() {
            digest.add(&ev);
            checker.observe(&ev);
            if let Trace::LeaderElected { unclean: true, .. } = ev.kind {
                unclean = true;
            }
        }
        if check {
            // Both invariants after every step: the logs are short, so this is cheap.
            let at = |e: String| format!("after event {} at {}: {e}", sim.events(), sim.now());
            check_hw_le_leo(&sim).map_err(at)?;
            check_share_partitions(&sim).map_err(at)?;
            if !unclean {
                check_isr_prefix(&sim).map_err(at)?;
            }
        }
        if checks == Checks::LiveCounts && sim.events().is_multiple_of(RECOUNT_EVERY) {
            live_equals_recount(&checker, sim.events())?;
        }
        if !more {
            break;
        }
        if sim.now() != last_time.0 {
            last_time = (sim.now(), sim.events());
        } else if sim.events() - last_time.1 > MAX_EVENTS_AT_ONE_TIME {
            return Err(format!(
                "livelock: {MAX_EVENTS_AT_ONE_TIME} events at simulated time {} without time \
                 advancing (phase {:?})",
                sim.now(),
                sim.phase()
            ));
        }
        if sim.events() > MAX_EVENTS {
            return Err(format!(
                "the run did not finish within {MAX_EVENTS} events (simulated time {}, phase {:?})",
                sim.now(),
                sim.phase()
            ));
        }
    }
    if sim.phase() != Phase::Finished {
        return Err(format!(
            "step() returned false but the phase is {:?}",
            sim.phase()
        ));
    }
    if checks == Checks::LiveCounts {
        live_equals_recount(&checker, sim.events())?;
    }
    checker.set_final(true);
    if checks == Checks::LiveCounts {
        live_equals_recount(&checker, sim.events())?;
    }
    let outcome = checker.outcome();
    sanity_check_outcome(&outcome)?;
    Ok(RunSummary {
        digest: digest.hex(),
        events: sim.events(),
        outcome,
        unclean,
    })
}

/// KIP-932: every share partition's window holds exactly the records from its SPSO to its
/// SPEO, and no record went out more often than its group's delivery count limit.
fn check_share_partitions(sim: &Sim) -> Result<(), String> {
    for sg in sim.share_groups() {
        let limit = sim.groups()[sg.group.idx()]
            .spec
            .share
            .map_or(0, |s| s.delivery_count_limit);
        for &p in &sg.partitions {
            let Some(sp) = sim.share_partition(sg.group, p) else {
                continue;
            };
            let name = sim.partition_name(p);
            if sp.spso() > sp.speo() {
                return Err(format!(
                    "{name}: share window SPSO {} above SPEO {}",
                    sp.spso(),
                    sp.speo()
                ));
            }
            for (k, r) in sp.in_flight().enumerate() {
                if r.offset != sp.spso() + k as u64 {
                    return Err(format!(
                        "{name}: in-flight record {k} at offset {}",
                        r.offset
                    ));
                }
                if r.delivery_count > limit {
                    return Err(format!(
                        "{name}: offset {} delivered {} times, limit {limit}",
                        r.offset, r.delivery_count
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_hw_le_leo(sim: &Sim) -> Result<(), String> {
    for p in 0..sim.partitions().len() {
        let p = brokerlab::sim::PartitionId(p as u32);
        for r in sim.replicas(p) {
            if r.hw() > r.leo() {
                return Err(format!(
                    "{} on broker-{}: HW {} > LEO {}",
                    sim.partition_name(p),
                    r.broker.0 + 1,
                    r.hw(),
                    r.leo()
                ));
            }
        }
    }
    Ok(())
}

/// Logs below the high watermark agree across the ISR: for every partition the controller gives
/// a leader, every ISR member holds exactly the leader's entries (offset, epoch, message,
/// producer id and sequence) in `[0, min(leader HW, member LEO))`.
///
/// Which ISR: the controller's, plus the leader's own maximal ISR (KIP-497: committed ISR plus a
/// pending change) when the leader replica knows it leads; its HW is the minimum LEO over
/// exactly that set. Which HW: the HW of the replica the controller names, even if that replica
/// has not heard of its election yet; it then still carries its follower HW, which never
/// exceeds a HW some earlier leader reached, so the records below it are committed too.
///
/// This is Kafka's guarantee that records below the HW are committed (present and identical on
/// every ISR replica, so any clean election keeps them), with one relaxation: only the common
/// prefix is compared, because a member can transiently be shorter than the leader's HW (Kafka
/// before KIP-101 truncated a restarting follower to its own HW while it was still in the ISR;
/// a member added to the ISR is caught up only to the HW its leader saw when asking). The
/// simulator never produced a shorter member in our runs, but the property does not rely on it.
/// After an unclean election the guarantee is void by design, so the check stops there.
fn check_isr_prefix(sim: &Sim) -> Result<(), String> {
    use brokerlab::sim::replica::Role;
    for p in 0..sim.partitions().len() {
        let st = &sim.controller().parts[p];
        let pid = brokerlab::sim::PartitionId(p as u32);
        let Some(leader) = st.leader else {
            continue;
        };
        let Some(lr) = sim.replica(pid, leader) else {
            return Err(format!(
                "{}: controller leader broker-{} hosts no replica",
                sim.partition_name(brokerlab::sim::PartitionId(p as u32)),
                leader.0 + 1
            ));
        };
        let mut isr = st.isr;
        if lr.role() == Role::Leader {
            isr = brokerlab::sim::BrokerSet(isr.0 | lr.maximal_isr().0);
        }
        for b in isr.iter() {
            if b == leader {
                continue;
            }
            let Some(r) = sim.replica(pid, b) else {
                continue;
            };
            let (leader_log, member_log) = (lr.log(), r.log());
            let n = lr.hw().min(r.leo()) as usize;
            if !leader_log.range(0..n).eq(member_log.range(0..n)) {
                let first = (0..n)
                    .find(|&i| leader_log[i] != member_log[i])
                    .unwrap_or(0);
                return Err(format!(
                    "{}: ISR member broker-{} differs from leader broker-{} at offset {first} \
                     below the leader's HW {} (leader epoch {}, controller ISR {:?}, leader \
                     entry {:?}, member entry {:?}, member LEO {}, member HW {})",
                    sim.partition_name(brokerlab::sim::PartitionId(p as u32)),
                    b.0 + 1,
                    leader.0 + 1,
                    lr.hw(),
                    st.leader_epoch,
                    st.isr.iter().map(|x| x.0 + 1).collect::<Vec<_>>(),
                    leader_log[first],
                    member_log[first],
                    r.leo(),
                    r.hw()
                ));
            }
        }
    }
    Ok(())
}

fn sanity_check_outcome(o: &Outcome) -> Result<(), String> {
    let groups = o.groups.len() as u64;
    if o.acked + o.failed > o.sent {
        return Err(format!(
            "acked {} + failed {} > sent {}",
            o.acked, o.failed, o.sent
        ));
    }
    if o.acked_lost > o.lost {
        return Err(format!("acked_lost {} > lost {}", o.acked_lost, o.lost));
    }
    if o.lost > o.sent * groups {
        return Err(format!(
            "lost {} > sent {} × {groups} groups",
            o.lost, o.sent
        ));
    }
    if o.pending != 0 {
        return Err(format!(
            "{} messages still pending after the drain",
            o.pending
        ));
    }
    Ok(())
}

// ----- the properties -------------------------------------------------------------------------

/// One random scenario: invariants after every step, and every fourth seed runs a second time
/// (with live fate counts checked against a recount) to compare digests; every sixteenth also
/// steps back in a session.
fn random_case(seed: u64) -> Result<(), Failure> {
    let toml = random_scenario(seed);
    let sc = parse(seed, &toml)?;
    let a = run(seed, &toml, &sc, Checks::Replicas)?;
    if seed.is_multiple_of(16) {
        live_counts_after_stepping_back(&sc, seed).map_err(|e| Failure::new(seed, &toml, e))?;
    }
    if seed.is_multiple_of(4) {
        let b = run(seed, &toml, &sc, Checks::LiveCounts)?;
        if (a.digest.as_str(), a.events) != (b.digest.as_str(), b.events) {
            return Err(Failure::new(
                seed,
                &toml,
                format!(
                    "same seed, different runs: digest {} with {} events, then {} with {} events",
                    a.digest, a.events, b.digest, b.events
                ),
            ));
        }
    }
    Ok(())
}

/// A session over the scenario, played to the end, then rewound to positions from the end back
/// to the start: its checker's live counts equal a recount at each.
fn live_counts_after_stepping_back(sc: &Scenario, seed: u64) -> Result<(), String> {
    let mut s = Session::new("generated", sc.clone(), seed);
    s.rewind_to(MAX_EVENTS);
    let end = s.events();
    live_equals_recount(&s.checker, end)?;
    for k in (0..12).rev() {
        s.rewind_to(end * k / 12);
        s.step_back();
        live_equals_recount(&s.checker, s.events())?;
        for _ in 0..25 {
            s.step();
        }
        live_equals_recount(&s.checker, s.events())?;
    }
    Ok(())
}

// Four chunks so the test harness spreads them over the cores.
#[test]
fn random_scenarios_hold_invariants_0() {
    for_seeds(0..RANDOM_CHUNK, random_case);
}

#[test]
fn random_scenarios_hold_invariants_1() {
    for_seeds(RANDOM_CHUNK..2 * RANDOM_CHUNK, random_case);
}

#[test]
fn random_scenarios_hold_invariants_2() {
    for_seeds(2 * RANDOM_CHUNK..3 * RANDOM_CHUNK, random_case);
}

#[test]
fn random_scenarios_hold_invariants_3() {
    for_seeds(3 * RANDOM_CHUNK..4 * RANDOM_CHUNK, random_case);
}

/// With `acks=all`, `min.insync.replicas ≥ 2` and clean elections, no acknowledged
/// message is lost after a single broker failure.
fn durability_case(seed: u64) -> Result<(), Failure> {
    let toml = durability_scenario(seed);
    let sc = parse(seed, &toml)?;
    let r = run(seed, &toml, &sc, Checks::Replicas)?;
    if r.unclean {
        return Err(Failure::new(
            seed,
            &toml,
            "an unclean election happened with unclean election disabled",
        ));
    }
    let o = &r.outcome;
    if o.acked_lost != 0 {
        return Err(Failure::new(
            seed,
            &toml,
            format!(
                "{} acknowledged messages lost (acks=all, min.insync.replicas=2, RF 3, one \
                 broker crash); outcome: sent {}, acked {}, failed {}, applied {}, lost {}",
                o.acked_lost, o.sent, o.acked, o.failed, o.applied, o.lost
            ),
        ));
    }
    Ok(())
}

#[test]
fn acks_all_min_isr_2_survives_one_broker_crash_0() {
    for_seeds(0..DURABILITY_CHUNK, durability_case);
}

#[test]
fn acks_all_min_isr_2_survives_one_broker_crash_1() {
    for_seeds(DURABILITY_CHUNK..2 * DURABILITY_CHUNK, durability_case);
}

/// The generators are deterministic and only produce scenarios that validation accepts (this
/// separates a generator bug from a simulation bug).
#[test]
fn generated_scenarios_are_valid_and_reproducible() {
    for_seeds(0..2_000, |seed| {
        let a = random_scenario(seed);
        assert_eq!(a, random_scenario(seed), "generator not deterministic");
        parse(seed, &a)?;
        let d = durability_scenario(seed);
        assert_eq!(d, durability_scenario(seed), "generator not deterministic");
        parse(seed, &d)?;
        Ok(())
    });
}
