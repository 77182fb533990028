//! An interactive session over one scenario: the simulation, the live checker, a bounded event
//! log and the checkpoints that make stepping back cheap. No terminal code lives here (the TUI in
//! `src/tui/` only reads a `Session` and calls its operations), so all of it is testable
//! headless.
//!
//! - One *event* is one [`Sim::step`]; `events` counts them, as [`Sim::events`] does.
//! - Stepping back restores the nearest checkpoint before the target and replays forward,
//!   re-injecting every live fault at the event count where it was first injected, so the state
//!   reached going back equals the state reached going forward.
//! - Checkpoints are kept within a quarter of the simulation state's heap bytes where the heap is
//!   counted (the binary and the tests: `crate::heap`): a checkpoint's copy of the small
//!   mutable state is measured when it is taken, and the state is that copy plus the grow-only
//!   tables it shares. Over budget, the landing checkpoint goes, then the regular ones thin
//!   out (their spacing doubles), then the near ones go. Short runs, whose state is small next to
//!   one copy, keep few, and a replay of them is short anyway.
//! - Near checkpoints keep a step back from replaying a whole regular spacing: two at most
//!   [`NEAR_EVERY`] events apart where the user played or landed, and one *landing* checkpoint
//!   at most [`LANDING_EVERY`] events before where the last rewind landed.
//! - Faults injected live are recorded, so [`Session::to_scenario`] can save the session as a
//!   scenario file that reproduces them.

use std::collections::VecDeque;

use crate::check::{Anomaly, Checker, CheckerSetup, MsgStatus, Outcome};
use crate::order_index::{GroupOrder, stream_label_width};
use crate::report;
use crate::scenario::{Fault, Scenario};
use crate::sim::FaultSpec;
use crate::sim::digest::Digest;
use crate::sim::{
    BrokerId, DropReason, GroupId, MsgId, NodeId, PartitionId, Phase, Sim, SimTime, Trace,
    TraceEvent, Wire, WireKind,
};

/// How many narrated lines the log keeps.
pub const LOG_CAPACITY: usize = 5000;
/// How many wire messages the sequence diagram keeps.
pub const WIRE_CAPACITY: usize = 20_000;
/// Events between two checkpoints at first (doubles when there are too many checkpoints).
pub const CHECKPOINT_EVERY: u64 = 2000;
/// At most this many checkpoints are kept; past it every other one is dropped and the interval
/// doubles, so memory stays bounded on long runs.
const MAX_CHECKPOINTS: usize = 64;
/// Events between two near checkpoints: those kept close to where the user is, so that a step
/// back replays at most this many events however long the run (the regular checkpoints grow
/// sparser as it grows).
pub const NEAR_EVERY: u64 = 16_384;
/// How many near checkpoints are kept (the newest taken).
const NEAR_KEPT: usize = 2;
/// Where a rewind lands, the session keeps one more checkpoint: at the last multiple of this
/// before the target, taken on the replay's way there. Stepping back again from where it landed
/// (holding `←`, or the one step after a jump) then replays fewer than this many events, not up
/// to [`NEAR_EVERY`]: at 5 M events `bench --step-back` measured a median step back of 6–11 ms
/// instead of about 21, most of what is left being the restore of the copy.
pub const LANDING_EVERY: u64 = 1024;
/// The checkpoints' copies may take at most the state's bytes over this: a quarter. Two
/// things this count leaves out cancel with room to spare. A checkpoint holds more than its
/// copy: the leaves of shared tables that the live run writes to after it was taken (a late
/// acknowledgement of an old message) are copied away from it, a fifth to a third of a copy per
/// checkpoint in `bench --step-back`. And the state weighs more than the estimate: the live
/// tables hold spare capacity that a copy does not (`bench --step-back` measured the estimate
/// at two thirds of the state at 500 k events), so the budget errs low.
const CHECKPOINT_BUDGET_DIVISOR: u64 = 4;
/// Safety bound for the "step until something happens" operations.
const MAX_SEARCH_EVENTS: u64 = 5_000_000;

/// What colour family a log line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    /// A scenario note (`[[notes]]`).
    Narration,
    /// A fault fired, a node crashed, paused or restarted.
    Fault,
    /// A leader election, the partition going offline, fencing.
    Election,
    /// The ISR shrank or grew.
    Isr,
    /// A replica truncated its log.
    Truncation,
    /// A rebalance started or finished, a member joined or was removed.
    Rebalance,
    /// A produce error, a retry, a failed send, a dropped request.
    Error,
    /// The checker noticed an anomaly (duplicate, reordering, acked write at risk).
    Anomaly,
    /// Acks, appends, HW moves, applications, commits: the normal flow.
    Flow,
    /// Draining and other run-level lines.
    Run,
}

/// One line of the event log.
#[derive(Clone, Debug)]
pub struct LogLine {
    /// The event count after the step that produced it.
    pub event: u64,
    pub time: SimTime,
    pub kind: LogKind,
    pub text: String,
}

/// One message on the wire, for the sequence diagram.
#[derive(Clone, Copy, Debug)]
pub struct WireLine {
    pub event: u64,
    pub time: SimTime,
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub wire: Wire,
    pub arrive_at: SimTime,
    pub dropped: Option<DropReason>,
    /// Sent on behalf of a process that is down: its operating system resetting a connection
    /// (the diagram draws it from the network, not from the dead node).
    pub from_dead: bool,
}

impl WireLine {
    /// Heartbeats and fetches that carry no records: hidden in the diagram by default.
    pub fn is_chatter(&self) -> bool {
        is_chatter(&self.wire, self.dropped.is_some())
    }
}

/// Whether a wire message is chatter (see [`WireLine::is_chatter`]); `dropped` when it never
/// arrived.
pub fn is_chatter(wire: &Wire, dropped: bool) -> bool {
    wire.kind.is_chatter()
        || (matches!(
            wire.kind,
            WireKind::ReplicaFetch
                | WireKind::ReplicaFetchResponse
                | WireKind::ConsumerFetch
                | WireKind::ConsumerFetchResponse
                | WireKind::MetadataRequest
                | WireKind::MetadataResponse
        ) && wire.records == 0
            && !dropped)
}

/// Records a replica lost to truncation, for flagging them in the cluster view.
#[derive(Clone, Debug)]
pub struct TruncationMark {
    pub event: u64,
    pub time: SimTime,
    pub partition: PartitionId,
    pub broker: BrokerId,
    pub from: u64,
    pub to: u64,
    pub removed: Vec<MsgId>,
}

/// A fault injected from the UI.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveFault {
    /// The event count at which it was injected.
    pub event: u64,
    /// The fault as a scenario file writes it, with `at_ms` set to the simulated time of the
    /// injection: what [`Session::to_scenario`] saves.
    pub fault: Fault,
    /// The fault as injected into the simulation, replayed when stepping back.
    pub spec: FaultSpec,
}

/// The word that marks a scenario note shown after a live fault: it was written for the
/// scripted run, which the session no longer follows.
pub const SCRIPTED_RUN_MARK: &str = "[scripted run]";

/// Which checkpoint: an index into the regular ones or the near ones (the landing one is
/// never reanchored: a replay takes it anew each time).
#[derive(Clone, Copy)]
enum Where {
    Regular(usize),
    Near(usize),
}

/// Everything the session derives from the trace, restored with the checkpoint it belongs to.
#[derive(Clone)]
struct Checkpoint {
    events: u64,
    sim: Sim,
    checker: Checker,
    metrics: crate::metrics::Metrics,
    digest: Digest,
    /// Heap bytes its copy took when it was taken (0 where the heap is not counted).
    copy_bytes: u64,
}

/// Heap bytes that dropping `x` frees (with the counting allocator of `bench --step-back`).
fn freed_by_dropping<T>(x: T) -> i64 {
    let before = crate::heap::live_bytes();
    drop(x);
    before - crate::heap::live_bytes()
}

/// Named byte counts, largest first (ties by name).
fn largest_first(mut parts: Vec<(&'static str, i64)>) -> Vec<(&'static str, i64)> {
    parts.sort_by_key(|&(name, bytes)| (std::cmp::Reverse(bytes), name));
    parts
}

impl Checkpoint {
    /// Drops `checkpoints` a part at a time and says what each part freed, largest first.
    fn parts_held(checkpoints: Vec<Checkpoint>) -> Vec<(&'static str, i64)> {
        let (mut kernels, mut brokers, mut producers, mut checkers, mut metrics) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut rest = Vec::new();
        for cp in checkpoints {
            let Sim {
                k,
                partitions,
                brokers: b,
                controller,
                producers: p,
                groups,
                consumers,
                txns,
                share_groups,
            } = cp.sim;
            kernels.push(k);
            brokers.push(b);
            producers.push(p);
            checkers.push(cp.checker);
            metrics.push(cp.metrics);
            rest.push((
                partitions,
                controller,
                groups,
                consumers,
                txns,
                share_groups,
            ));
        }
        largest_first(vec![
            ("kernel", freed_by_dropping(kernels)),
            ("brokers", freed_by_dropping(brokers)),
            ("producers", freed_by_dropping(producers)),
            ("checker", freed_by_dropping(checkers)),
            ("metrics", freed_by_dropping(metrics)),
            ("others", freed_by_dropping(rest)),
        ])
    }
}

pub struct Session {
    pub scenario: Scenario,
    /// What the scenario was loaded as (`scenarios/NAME.toml` or the path).
    pub label: String,
    pub seed: u64,
    pub sim: Sim,
    pub checker: Checker,
    /// Latency, lag and unavailability so far.
    pub metrics: crate::metrics::Metrics,
    /// The digest of the trace so far (as in the reports).
    pub digest: Digest,
    /// Narrated lines, oldest first, at most [`LOG_CAPACITY`].
    pub log: VecDeque<LogLine>,
    /// Wire messages, oldest first, at most [`WIRE_CAPACITY`].
    pub wires: VecDeque<WireLine>,
    /// Per group, every application in order: (event, message).
    pub applied: Vec<Vec<(u64, MsgId)>>,
    /// Per group, its applications by `(producer, key)` stream, for the order view.
    pub order: Vec<GroupOrder>,
    /// Truncations so far.
    pub truncations: Vec<TruncationMark>,
    /// Event counts after which something notable happened (for `[`).
    pub notables: Vec<u64>,
    /// Every anomaly the checker reported: (event, anomaly).
    pub anomalies: Vec<(u64, Anomaly)>,
    /// The notable moments by kind, for the timeline strip.
    pub marks: crate::marks::Marks,
    pub live_faults: Vec<LiveFault>,
    checkpoints: Vec<Checkpoint>,
    checkpoint_every: u64,
    /// Checkpoints near where the user played or stepped back to, every [`NEAR_EVERY`]
    /// events, once the regular ones are sparser than that; at most [`NEAR_KEPT`], the
    /// newest taken.
    near: VecDeque<Checkpoint>,
    /// The checkpoint at the last multiple of [`LANDING_EVERY`] before where the last rewind
    /// landed, once the regular ones are sparser than that; dropped when a rewind goes below it.
    landing: Option<Checkpoint>,
    /// Whether checkpoints are kept within [`CHECKPOINT_BUDGET_DIVISOR`] of the state (where
    /// the heap is counted: see [`Session::keep_checkpoints_in_budget`]).
    budgeted: bool,
    /// The largest simulation state seen since the start or the last live fault, in heap
    /// bytes: the budget's base. Not the state where the user stands, which after a jump back
    /// is smaller than the run whose later checkpoints are still kept.
    state_high: u64,
    /// The furthest event reached since the start or the last live fault: how much run the
    /// regular checkpoints are spread over.
    events_high: u64,
    /// The checker's outcome for the current state, built when first asked for (from the
    /// checker's live counts: O(groups)), so a replay of many steps builds it once.
    outcome: std::cell::OnceCell<Outcome>,
    buf: Vec<TraceEvent>,
    /// While stepping back: the event count the replay stops at.
    replay_to: Option<u64>,
    /// Events the last rewind replayed (what a step back cost).
    replayed: u64,
    /// The forward steps taken one after another (`→`): where each started and ended, so that
    /// `←` from the end of one goes back exactly to where it started.
    trail: Vec<(u64, u64)>,
}

impl Session {
    /// The event count where the run departed from the script: that of the first fault
    /// injected live, if any.
    pub fn departed_at(&self) -> Option<u64> {
        self.live_faults.iter().map(|f| f.event).min()
    }

    /// Whether `line` is a scenario note shown after the run departed from the script at
    /// `departed_at`: it describes the scripted run, and may no longer be true.
    pub fn written_for_script(line: &LogLine, departed_at: Option<u64>) -> bool {
        line.kind == LogKind::Narration && departed_at.is_some_and(|at| line.event > at)
    }

    /// Keep the newest `WIRE_CAPACITY` wire messages for the diagram.
    fn push_wire(&mut self, w: WireLine) {
        if self.wires.len() == WIRE_CAPACITY {
            self.wires.pop_front();
        }
        self.wires.push_back(w);
    }

    /// A session at the start of the run. `scenario` must have passed validation.
    pub fn new(label: impl Into<String>, scenario: Scenario, seed: u64) -> Session {
        let sim = Sim::with_seed(&scenario, seed);
        let mut checker =
            Checker::new(CheckerSetup::from_scenario(&scenario).expect("validated scenario"));
        // The views show the outcome after every step: keep its counts as events arrive.
        checker.keep_live_counts();
        let groups = scenario.groups.len();
        let metrics = crate::metrics::Metrics::new(crate::metrics::MetricsSetup::from_sim(&sim));
        let mut s = Session {
            scenario,
            label: label.into(),
            seed,
            sim,
            checker,
            metrics,
            digest: Digest::default(),
            log: VecDeque::new(),
            wires: VecDeque::new(),
            applied: vec![Vec::new(); groups],
            order: vec![GroupOrder::default(); groups],
            truncations: Vec::new(),
            notables: Vec::new(),
            anomalies: Vec::new(),
            marks: Default::default(),
            live_faults: Vec::new(),
            checkpoints: Vec::new(),
            checkpoint_every: CHECKPOINT_EVERY,
            near: VecDeque::new(),
            landing: None,
            budgeted: crate::heap::keep_counting(),
            state_high: 0,
            events_high: 0,
            outcome: std::cell::OnceCell::new(),
            buf: Vec::new(),
            replay_to: None,
            replayed: 0,
            trail: Vec::new(),
        };
        for w in crate::scenario::latest_start_warnings(&s.scenario) {
            s.push_log(LogLine {
                event: 0,
                time: SimTime::ZERO,
                kind: LogKind::Narration,
                text: w.short(),
            });
        }
        s.checkpoints.push(s.checkpoint());
        s
    }

    /// Loads a scenario by path or bundled name (see [`crate::scenario::load`]).
    pub fn load(arg: &str, seed: Option<u64>) -> Result<Session, crate::scenario::ScenarioError> {
        let (label, sc) = crate::scenario::load(arg)?;
        let seed = seed.unwrap_or(sc.scenario.seed);
        Ok(Session::new(label, sc, seed))
    }

    /// The scenario's short name: the bundled name or the file stem.
    pub fn name(&self) -> &str {
        let l = self.label.rsplit(['/', '\\']).next().unwrap_or(&self.label);
        l.strip_suffix(".toml").unwrap_or(l)
    }

    pub fn events(&self) -> u64 {
        self.sim.events()
    }

    pub fn now(&self) -> SimTime {
        self.sim.now()
    }

    pub fn finished(&self) -> bool {
        self.sim.phase() == Phase::Finished
    }

    /// The outcome so far (final once the run has finished).
    pub fn outcome(&self) -> &Outcome {
        self.outcome.get_or_init(|| self.checker.outcome())
    }

    /// A copy of the state now. During a replay the kernel holds the digest; the copy is
    /// switched back to storing its whole trace, as every checkpoint is. Taken only after a
    /// step's trace has been drained (a replay's pending events are hashed already).
    fn checkpoint(&self) -> Checkpoint {
        let before = crate::heap::live_bytes();
        let mut sim = self.sim.clone();
        let digest = if self.replay_to.is_some() {
            sim.end_replay()
        } else {
            self.digest
        };
        let checker = self.checker.clone();
        let metrics = self.metrics.clone();
        let copy_bytes = (crate::heap::live_bytes() - before).max(0) as u64;
        Checkpoint {
            events: self.sim.events(),
            sim,
            checker,
            metrics,
            digest,
            copy_bytes,
        }
    }

    /// Keep checkpoints at the regular spacing whatever memory they take (as where the heap is
    /// not counted): for tests that must cross many of them on a small run.
    pub fn unbudgeted_checkpoints(&mut self) {
        self.budgeted = false;
    }

    /// The simulation state's heap bytes now: one copy of its small mutable state (`copy`,
    /// what the checkpoint just taken here measured) plus the grow-only tables the copy
    /// shares.
    fn state_bytes(&self, copy: u64) -> u64 {
        copy + (self.sim.shared_bytes() + self.checker.shared_bytes() + self.metrics.shared_bytes())
            as u64
    }

    /// After a checkpoint `copy` bytes large was taken at the current event: while the
    /// checkpoints' copies (the one at event 0 aside: it is the floor every replay needs) take
    /// more than their budget, the regular ones thin out, every other one going and the
    /// spacing doubling; once only the first is left, the oldest near one goes. The landing
    /// checkpoint goes before all of them: without it a step back replays at most
    /// [`NEAR_EVERY`] events, without the near ones a whole regular spacing (a million events
    /// on a long run), and a step back from where the user is is what they do most.
    ///
    /// The state grows with the run and the copy does not, so the budget keeps room for more
    /// checkpoints later than early on: once the run so far would fit at half the spacing,
    /// the next checkpoints come at half the spacing (the earlier, sparser ones stay).
    fn keep_checkpoints_in_budget(&mut self, copy: u64) {
        if !self.budgeted {
            return;
        }
        self.state_high = self.state_high.max(self.state_bytes(copy));
        self.events_high = self.events_high.max(self.sim.events());
        let budget = self.checkpoint_budget();
        while self.held_copies() > budget {
            if self.landing.take().is_some() {
                continue;
            }
            if self.checkpoints.len() > 1 {
                self.thin_regular_checkpoints();
            } else if self.near.pop_front().is_none() {
                return;
            }
        }
        // Room is kept for the near checkpoints and one landing checkpoint.
        let near: u64 = self.near.iter().map(|c| c.copy_bytes).sum();
        let regular_allowed = budget.saturating_sub(near + copy) / copy.max(1);
        while self.checkpoint_every > CHECKPOINT_EVERY
            && self.events_high / (self.checkpoint_every / 2) < regular_allowed
        {
            self.checkpoint_every /= 2;
        }
    }

    /// Every checkpoint but the one at event 0 (which the budget leaves aside too), taken out of
    /// the session: what `bench --step-back` and the tests drop to measure what they hold.
    fn take_checkpoints_but_the_first(&mut self) -> Vec<Checkpoint> {
        let mut taken = self.checkpoints.split_off(1);
        taken.extend(self.near.drain(..));
        taken.extend(self.landing.take());
        taken
    }

    /// What the checkpoints' copies may take: a share of the largest state seen.
    fn checkpoint_budget(&self) -> u64 {
        self.state_high / CHECKPOINT_BUDGET_DIVISOR
    }

    /// What the checkpoints' copies take, the one at event 0 aside (the floor every replay
    /// needs, kept whatever the budget).
    fn held_copies(&self) -> u64 {
        (self.checkpoints.iter().skip(1))
            .chain(&self.near)
            .chain(&self.landing)
            .map(|c| c.copy_bytes)
            .sum()
    }

    /// Keep a near checkpoint at `event` if it falls on [`NEAR_EVERY`] and the regular
    /// checkpoints are sparser (and none is there already).
    fn maybe_near_checkpoint(&mut self, event: u64) {
        if self.checkpoint_every <= NEAR_EVERY
            || !event.is_multiple_of(NEAR_EVERY)
            || event.is_multiple_of(self.checkpoint_every)
            || !self.sim.pending_trace().is_empty()
        {
            return;
        }
        if let Some(i) = self.near.iter().position(|c| c.events == event) {
            self.reanchor(Where::Near(i));
            return;
        }
        if self.near.len() == NEAR_KEPT {
            self.near.pop_front();
        }
        let cp = self.checkpoint();
        let copy = cp.copy_bytes;
        self.near.push_back(cp);
        self.keep_checkpoints_in_budget(copy);
    }

    /// During a replay to `to`: keep the landing checkpoint at `event` if it is the last
    /// multiple of [`LANDING_EVERY`] before `to` and the regular checkpoints are sparser. Where
    /// a regular or near checkpoint is there already, that one serves, and the landing one
    /// (further back) goes.
    fn maybe_landing_checkpoint(&mut self, event: u64, to: u64) {
        if self.checkpoint_every <= LANDING_EVERY
            || !event.is_multiple_of(LANDING_EVERY)
            || event >= to
            || to - event > LANDING_EVERY
            || !self.sim.pending_trace().is_empty()
        {
            return;
        }
        let taken = |c: &Checkpoint| c.events == event;
        if self.near.iter().any(taken) || self.checkpoints.iter().any(taken) {
            self.landing = None;
            return;
        }
        if self.budgeted {
            // Only where the budget has room for it as it stands (a copy weighs about what
            // the last one did): it is worth less than the regular and near checkpoints it
            // would push out, and taking a copy only to drop it would waste the time.
            let last_copy = (self.near.back())
                .or(self.checkpoints.last())
                .map_or(0, |c| c.copy_bytes);
            let others = self.held_copies() - self.landing.as_ref().map_or(0, |c| c.copy_bytes);
            if others + last_copy > self.checkpoint_budget() {
                return;
            }
        }
        let cp = self.checkpoint();
        let copy = cp.copy_bytes;
        self.landing = Some(cp);
        self.keep_checkpoints_in_budget(copy);
    }

    /// Replaces the checkpoint at `at`, which is at the current event, with a copy of the state
    /// now. Reached again by playing forward or replaying after a jump back, the state is the
    /// one the checkpoint holds (injecting a fault drops the checkpoints after it), but built
    /// anew: the old copy would share none of the grow-only tables the run builds from here,
    /// and keep its own copy of all of them (the whole run's logs and ledgers, after a jump
    /// back to the start and a replay to the end). The fresh copy shares them.
    fn reanchor(&mut self, at: Where) {
        let fresh = self.checkpoint();
        let old = match at {
            Where::Regular(i) => &mut self.checkpoints[i],
            Where::Near(i) => &mut self.near[i],
        };
        debug_assert_eq!(old.events, fresh.events);
        debug_assert_eq!(
            old.digest.value(),
            fresh.digest.value(),
            "the run reached checkpoint {} on another timeline",
            fresh.events
        );
        *old = fresh;
    }

    // ----- going forward ------------------------------------------------------------------

    /// Process one event. Returns false once the run is finished (nothing happened).
    pub fn step(&mut self) -> bool {
        let more = self.step_raw(true).is_some();
        self.refresh();
        more
    }

    /// One `sim.step()`, recording what it produced. Returns `None` when the run is over, or
    /// `Some(flags)` telling whether the step produced a narrated line and something notable.
    fn step_raw(&mut self, record: bool) -> Option<StepFlags> {
        let more = self.sim.step();
        let mut flags = StepFlags::default();
        let event = self.sim.events();
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend(self.sim.drain_trace());
        for ev in &buf {
            // A replay (`record` false) runs the kernel in its digest mode: it has hashed
            // every event already, `Sent` included.
            if record {
                self.digest.add(ev);
                self.record(event, ev, &mut flags);
            }
            if ev.kind.is_notable() {
                flags.notable = true;
            }
            if record && let Some(kind) = crate::marks::MarkKind::of_trace(&ev.kind) {
                self.marks.push(kind, ev.time, event);
            }
            if let Trace::FaultInjected { index } = ev.kind {
                flags.fault = Some(index);
            }
            self.metrics.observe(ev);
            let anomalies = self.checker.observe(ev);
            if !anomalies.is_empty() {
                flags.notable = true;
                flags.visible = true;
                if record {
                    let found: Vec<Anomaly> = anomalies.to_vec();
                    let mut at_risk = Vec::new();
                    let mut left_behind = Vec::new();
                    for a in found {
                        self.anomalies.push((event, a));
                        let kind = crate::marks::MarkKind::of_anomaly(&a);
                        self.marks.push(kind, ev.time, event);
                        if let Anomaly::AckedTruncated { msg } = a {
                            at_risk.push(msg);
                            continue;
                        }
                        if let Anomaly::ElectedWithout { msg, .. } = a {
                            left_behind.push(msg);
                            continue;
                        }
                        let text = anomaly_text(&self.sim, a);
                        self.push_log(LogLine {
                            event,
                            time: ev.time,
                            kind: LogKind::Anomaly,
                            text,
                        });
                    }
                    if !left_behind.is_empty() {
                        let text = self.left_behind_text(&ev.kind, &left_behind);
                        self.push_log(LogLine {
                            event,
                            time: ev.time,
                            kind: LogKind::Anomaly,
                            text,
                        });
                    }
                    if !at_risk.is_empty() {
                        let text = self.at_risk_text(&ev.kind, &at_risk);
                        self.push_log(LogLine {
                            event,
                            time: ev.time,
                            kind: LogKind::Anomaly,
                            text,
                        });
                    }
                }
            }
        }
        buf.clear();
        self.buf = buf;
        if record && flags.notable && self.notables.last() != Some(&event) {
            self.notables.push(event);
        }
        if !more {
            if self.sim.phase() == Phase::Finished && !self.checker.is_final() {
                self.checker.set_final(true);
                if record {
                    self.list_lost_in_order();
                }
            }
            return None;
        }
        if !self.live_faults.is_empty() && self.replay_to != Some(event) {
            self.inject_live_at(event);
        }
        // A replay never passes the last regular checkpoint (it goes back). It keeps near ones
        // on its way only at the last points before its target, which the next steps back
        // start from; playing forward keeps one at every point.
        if self
            .replay_to
            .is_none_or(|to| event + NEAR_KEPT as u64 * NEAR_EVERY > to)
        {
            self.maybe_near_checkpoint(event);
        }
        if event.is_multiple_of(self.checkpoint_every)
            && (record || self.sim.pending_trace().is_empty())
        {
            // Sorted by event: a checkpoint already here was taken before a jump back. One
            // missing before the last is a gap the budget left when the spacing was wider
            // (early in the run, when the state was small): a replay or a replay's play
            // forward fills it, so that the next jump there replays less.
            match self.checkpoints.binary_search_by_key(&event, |c| c.events) {
                Ok(i) if record => self.reanchor(Where::Regular(i)),
                Ok(_) => {}
                Err(i) => self.insert_checkpoint(i),
            }
        }
        if let Some(to) = self.replay_to {
            self.maybe_landing_checkpoint(event, to);
        }
        Some(flags)
    }

    /// A regular checkpoint at the current event, at `at` among the others (after them, or in
    /// a gap); past [`MAX_CHECKPOINTS`] or the budget, every other one goes and the spacing
    /// doubles.
    fn insert_checkpoint(&mut self, at: usize) {
        let cp = self.checkpoint();
        let copy = cp.copy_bytes;
        self.checkpoints.insert(at, cp);
        if self.checkpoints.len() > MAX_CHECKPOINTS {
            self.thin_regular_checkpoints();
        }
        self.keep_checkpoints_in_budget(copy);
    }

    /// Every other regular checkpoint goes and the spacing doubles (the one at event 0 stays:
    /// it is on every spacing).
    fn thin_regular_checkpoints(&mut self) {
        self.checkpoint_every *= 2;
        let every = self.checkpoint_every;
        self.checkpoints.retain(|c| c.events % every == 0);
    }

    /// Keep what the views need from one trace event.
    fn record(&mut self, event: u64, ev: &TraceEvent, flags: &mut StepFlags) {
        match &ev.kind {
            Trace::Sent {
                id,
                from,
                to,
                wire,
                arrive_at,
            } => {
                let from_dead = {
                    let node = &self.sim.nodes()[from.idx()];
                    let host = node.host.map_or(node, |h| &self.sim.nodes()[h.idx()]);
                    !node.up || !host.up
                };
                self.push_wire(WireLine {
                    event,
                    time: ev.time,
                    id: *id,
                    from: *from,
                    to: *to,
                    wire: *wire,
                    arrive_at: *arrive_at,
                    dropped: None,
                    from_dead,
                });
            }
            Trace::Dropped {
                id,
                from,
                to,
                wire,
                reason,
            } => {
                if let Some(w) = self.wires.iter_mut().rev().take(4096).find(|w| w.id == *id) {
                    w.dropped = Some(*reason);
                } else {
                    self.push_wire(WireLine {
                        event,
                        time: ev.time,
                        id: *id,
                        from: *from,
                        to: *to,
                        wire: *wire,
                        arrive_at: ev.time,
                        dropped: Some(*reason),
                        from_dead: false,
                    });
                }
            }
            Trace::Applied { group, msg, .. } => {
                if let Some(a) = self.applied.get_mut(group.idx()) {
                    a.push((event, *msg));
                    // Recorded before the checker sees this application: applied before means
                    // applied again.
                    let again = matches!(
                        self.checker.message_status(*group, *msg),
                        MsgStatus::Applied(_)
                    );
                    let info = self.sim.msg(*msg);
                    let sim = &self.sim;
                    self.order[group.idx()].push_applied(
                        info.producer,
                        info.key,
                        info.n,
                        again,
                        || stream_label_width(sim, info.producer, info.key),
                    );
                }
            }
            Trace::Truncated {
                partition,
                broker,
                from,
                to,
                removed,
                ..
            } => self.truncations.push(TruncationMark {
                event,
                time: ev.time,
                partition: *partition,
                broker: *broker,
                from: *from,
                to: *to,
                removed: removed.to_vec(),
            }),
            _ => {}
        }
        if let Some(text) = report::describe(&self.sim, ev) {
            flags.visible = true;
            self.push_log(LogLine {
                event,
                time: ev.time,
                kind: log_kind(&ev.kind),
                text,
            });
        }
    }

    fn push_log(&mut self, line: LogLine) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    fn refresh(&mut self) {
        self.outcome = std::cell::OnceCell::new();
    }

    /// Step until a step produces at least one narrated log line (what `→` does): wire
    /// chatter alone does not count. Returns the number of events processed.
    pub fn step_visible(&mut self) -> u64 {
        let start = self.events();
        // A step from anywhere else than where the last one ended starts a new trail.
        if self.trail.last().is_some_and(|&(_, end)| end != start) {
            self.trail.clear();
        }
        while self.events() - start < MAX_SEARCH_EVENTS {
            match self.step_raw(true) {
                None => break,
                Some(f) if f.visible => break,
                Some(_) => {}
            }
        }
        self.refresh();
        if self.events() > start {
            self.trail.push((start, self.events()));
        }
        self.events() - start
    }

    /// Process every event up to and including simulated time `t` (playback), at most
    /// `max_events` of them. Returns false once the run has finished.
    pub fn advance_to(&mut self, t: SimTime, max_events: u64) -> bool {
        let mut n = 0;
        let mut more = !self.finished();
        while more && n < max_events {
            match self.sim.peek_time() {
                Some(next) if next <= t => {}
                Some(_) => break,
                // Nothing queued: the next step finishes the run.
                None => {}
            }
            more = self.step_raw(true).is_some();
            n += 1;
        }
        self.refresh();
        !self.finished()
    }

    /// Step until something notable happens (election, ISR change, truncation, rebalance,
    /// crash, fault, narration, failure, anomaly). Returns false if the run ended first.
    pub fn jump_next_notable(&mut self) -> bool {
        let start = self.events();
        let mut found = false;
        while self.events() - start < MAX_SEARCH_EVENTS {
            match self.step_raw(true) {
                None => break,
                Some(f) if f.notable => {
                    found = true;
                    break;
                }
                Some(_) => {}
            }
        }
        self.refresh();
        found
    }

    /// Go back to just after the previous notable event. Returns false if there is none.
    pub fn jump_prev_notable(&mut self) -> bool {
        let now = self.events();
        match self.notables.iter().rev().find(|&&e| e < now) {
            Some(&e) => {
                self.rewind_to(e);
                true
            }
            None => false,
        }
    }

    // ----- going back ---------------------------------------------------------------------

    /// Undo one event. Returns false at the start of the run.
    pub fn step_back(&mut self) -> bool {
        let now = self.events();
        if now == 0 {
            return false;
        }
        // From the end of the run, one step back undoes the step that finished it.
        self.rewind_to(now - 1);
        true
    }

    /// Undo back to the previous step that wrote a log line (what `←` does; the inverse of
    /// [`Session::step_visible`]). Returns false at the start of the run.
    pub fn step_back_visible(&mut self) -> bool {
        let now = self.events();
        if now == 0 {
            return false;
        }
        // Undo the forward step that ended here, back to exactly where it started.
        if let Some(&(from, to)) = self.trail.last() {
            if to == now {
                self.trail.pop();
                self.rewind_to(from);
                return true;
            }
            self.trail.clear();
        }
        let target = self
            .log
            .iter()
            .rev()
            .map(|l| l.event)
            .find(|&e| e < now)
            .unwrap_or(0);
        self.rewind_to(target);
        true
    }

    /// Go to the state right after event `target` (with every live fault injected at or
    /// before it). Backwards, this restores the nearest checkpoint and replays
    /// deterministically; forwards, it steps.
    pub fn rewind_to(&mut self, target: u64) {
        if target >= self.events() {
            while self.events() < target && self.step_raw(true).is_some() {}
            self.refresh();
            return;
        }
        // Undone newest first, while the simulation still knows every message applied.
        for (a, order) in self.applied.iter().zip(&mut self.order) {
            order.undo_lost();
            let keep = a.partition_point(|(e, _)| *e <= target);
            for &(_, m) in a[keep..].iter().rev() {
                let info = self.sim.msg(m);
                order.pop_applied(info.producer, info.key);
            }
        }
        let regular = self
            .checkpoints
            .iter()
            .rev()
            .find(|c| c.events <= target)
            .expect("a checkpoint at event 0");
        self.landing.take_if(|c| c.events > target);
        let cp = (self.near.iter().chain(&self.landing))
            .filter(|c| c.events <= target && c.events > regular.events)
            .max_by_key(|c| c.events)
            .unwrap_or(regular)
            .clone();
        self.sim = cp.sim;
        self.checker = cp.checker;
        self.metrics = cp.metrics;
        self.digest = cp.digest;
        // Everything derived from later events goes. The replay below records nothing: the
        // views already hold what happened up to the target.
        // Each is in event order, so what goes is a tail.
        let keep = self.log.partition_point(|l| l.event <= target);
        self.log.truncate(keep);
        let keep = self.wires.partition_point(|w| w.event <= target);
        self.wires.truncate(keep);
        for a in &mut self.applied {
            a.truncate(a.partition_point(|(e, _)| *e <= target));
        }
        let keep = self.truncations.partition_point(|t| t.event <= target);
        self.truncations.truncate(keep);
        let keep = self.anomalies.partition_point(|(e, _)| *e <= target);
        self.anomalies.truncate(keep);
        let keep = self.notables.partition_point(|&e| e <= target);
        self.notables.truncate(keep);
        self.marks.truncate_after(target);
        self.replayed = target - self.sim.events();
        if self.sim.events() < target {
            // The replay records nothing and reads no `Sent` event: the kernel hashes each
            // event as it is emitted instead of building the wire summaries the views would
            // show. A live fault due at the target itself is injected after it, as going
            // forward: its events wait, unhashed, for the next step to record them.
            self.sim.begin_replay(self.digest);
            self.replay_to = Some(target);
            self.inject_live_at(self.sim.events());
            while self.sim.events() < target {
                if self.step_raw(false).is_none() {
                    break;
                }
            }
            self.replay_to = None;
            self.digest = self.sim.end_replay();
        }
        self.inject_live_at(self.sim.events());
        self.refresh();
    }

    /// The run has drained: add each group's lost messages to its order index (once: one
    /// pass over the messages, only for a group that lost some).
    fn list_lost_in_order(&mut self) {
        let lost: Vec<u64> = self
            .checker
            .outcome()
            .groups
            .iter()
            .map(|g| g.lost)
            .collect();
        for (gi, order) in self.order.iter_mut().enumerate() {
            if lost.get(gi).is_none_or(|&n| n == 0) {
                continue;
            }
            let g = GroupId(gi as u32);
            for m in 0..self.sim.msg_count() {
                let m = MsgId(m as u32);
                if self.checker.message_status(g, m) == MsgStatus::Lost {
                    let info = self.sim.msg(m);
                    let sim = &self.sim;
                    order.push_lost(info.producer, info.key, info.n, || {
                        stream_label_width(sim, info.producer, info.key)
                    });
                }
            }
        }
    }

    fn inject_live_at(&mut self, event: u64) {
        let due: Vec<FaultSpec> = self
            .live_faults
            .iter()
            .filter(|f| f.event == event)
            .map(|f| f.spec.clone())
            .collect();
        let already = self.sim.faults().len() - self.scenario.faults.len();
        let before = self.live_faults.iter().filter(|f| f.event < event).count();
        // Faults injected at this event count that the restored sim does not have yet.
        for (i, f) in due.into_iter().enumerate() {
            if before + i >= already {
                self.sim.inject_fault(f);
            }
        }
    }

    /// The run so far, replayed from the start with every trace event kept (for the message
    /// inspector). Live faults are injected at the steps they were injected at.
    pub fn recording(&self) -> crate::life::Recording {
        let sim = Sim::with_seed(&self.scenario, self.seed);
        let mut rec = crate::life::Recording::starting(sim);
        let target = self.events();
        let mut live = self.live_faults.iter().peekable();
        loop {
            let at = rec.sim.events();
            while let Some(f) = live.next_if(|f| f.event == at) {
                rec.sim.inject_fault(f.spec.clone());
            }
            if at >= target || !rec.step() {
                break;
            }
        }
        rec
    }

    /// Start over from time zero, dropping the faults injected live.
    pub fn restart(&mut self) {
        *self = Session::new(
            std::mem::take(&mut self.label),
            self.scenario.clone(),
            self.seed,
        );
    }

    // ----- faults -------------------------------------------------------------------------

    /// Whether faults may be injected now: scenario faults must come before `stop_at_ms`.
    pub fn can_inject(&self) -> bool {
        self.sim.phase() == Phase::Running
    }

    /// Inject a fault now and step until it has fired. It is recorded with the current event count and time, so stepping
    /// back and forward reproduces it and [`Session::to_scenario`] saves it. Injecting after
    /// stepping back rewrites the future: later live faults and checkpoints are dropped.
    pub fn inject(&mut self, spec: FaultSpec) -> Result<(), String> {
        if !self.can_inject() {
            return Err(format!(
                "the run is past stop_at_ms ({} ms): no new faults",
                self.scenario.scenario.stop_at_ms
            ));
        }
        let now = self.events();
        self.live_faults.retain(|f| f.event <= now);
        self.checkpoints.retain(|c| c.events <= now);
        self.near.retain(|c| c.events <= now);
        self.landing.take_if(|c| c.events > now);
        // The budget's base starts again from here: the run the later checkpoints belonged to
        // is gone, and the new one grows from the state now.
        self.state_high = 0;
        self.events_high = now;
        let mut spec = spec;
        spec.at = self.sim.now();
        let fault = crate::scenario::raise_fault(&spec, &self.sim);
        let index = self.sim.inject_fault(spec.clone());
        self.live_faults.push(LiveFault {
            event: now,
            fault,
            spec,
        });
        // The fault fires at the current time, after what is already queued for it: step until
        // it has, so the caller sees its effect.
        while let Some(f) = self.step_raw(true) {
            if f.fault == Some(index) {
                break;
            }
        }
        self.refresh();
        Ok(())
    }

    /// The scenario plus every fault injected live, ready for `toml::to_string`. Its
    /// `[expect]` is dropped when faults were added: they were written for the original run.
    pub fn to_scenario(&self) -> Scenario {
        let mut sc = self.scenario.clone();
        sc.scenario.seed = self.seed;
        if !self.live_faults.is_empty() {
            sc.expect = None;
            sc.faults
                .extend(self.live_faults.iter().map(|f| f.fault.clone()));
        }
        sc
    }

    /// The session as scenario-file text, with a header comment.
    pub fn to_toml(&self) -> Result<String, String> {
        let body = toml::to_string(&self.to_scenario()).map_err(|e| e.to_string())?;
        Ok(format!(
            "# Saved from a BrokerLab session on {} (seed {}), with {} fault(s) injected live.\n\
             # Open it with `brokerlab tui FILE`; run it with `brokerlab run FILE`.\n\n{body}",
            self.label,
            self.seed,
            self.live_faults.len()
        ))
    }

    /// Writes `<name>-session.toml` into `dir` and returns its path.
    pub fn save_in(&self, dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
        let path = dir.join(format!("{}-session.toml", self.name()));
        let text = self.to_toml()?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    // ----- queries for the views ------------------------------------------------------------

    /// Truncations that removed records from this replica recently (within `window_ms` of
    /// simulated time), for flagging vanished records.
    pub fn recent_truncation(
        &self,
        partition: PartitionId,
        broker: BrokerId,
        window_ms: u64,
    ) -> Option<&TruncationMark> {
        let now = self.now();
        self.truncations.iter().rev().find(|t| {
            t.partition == partition
                && t.broker == broker
                && now.0.saturating_sub(t.time.0) <= window_ms * 1000
                && !t.removed.is_empty()
        })
    }

    /// Whether the current leader of `partition` has `msg` in its log.
    pub fn leader_has(&self, partition: PartitionId, msg: MsgId) -> bool {
        let Some(leader) = self.sim.controller().parts[partition.idx()].leader else {
            return false;
        };
        self.sim.replica(partition, leader).is_some_and(|r| {
            r.log()
                .slices()
                .any(|s| s.iter().any(|e| e.message() == Some(msg)))
        })
    }

    /// The log line for acknowledged records a truncation removed.
    /// An election left acknowledged records behind: say so at the moment the loss is certain.
    fn left_behind_text(&self, trace: &Trace, msgs: &[MsgId]) -> String {
        let names: Vec<String> = msgs.iter().map(|&m| self.sim.msg_name(m)).collect();
        let (them, were) = if names.len() > 1 {
            ("them", "were")
        } else {
            ("it", "was")
        };
        match trace {
            Trace::LeaderElected {
                partition, leader, ..
            } => format!(
                "⚠ LOSS NOW CERTAIN: {} without {}, which {were} acknowledged; its log will \
                 overwrite {them}",
                crate::queue_words::became_leader(&self.sim, *leader, *partition),
                names.join(", ")
            ),
            _ => format!(
                "⚠ LOSS NOW CERTAIN: a new leader was elected without {}",
                names.join(", ")
            ),
        }
    }

    fn at_risk_text(&self, trace: &Trace, msgs: &[MsgId]) -> String {
        let names: Vec<String> = msgs.iter().map(|&m| self.sim.msg_name(m)).collect();
        let (partition, broker) = match trace {
            Trace::Truncated {
                partition, broker, ..
            } => (Some(*partition), Some(*broker)),
            _ => (None, None),
        };
        let from = broker.map_or(String::new(), |b| {
            format!(" from {}", self.sim.broker_name(b))
        });
        let safe = partition.is_some_and(|p| msgs.iter().all(|&m| self.leader_has(p, m)));
        if safe {
            let leader = partition
                .and_then(|p| self.sim.controller().parts[p.idx()].leader)
                .map_or("the leader", |b| self.sim.broker_name(b));
            format!(
                "⚠ acked {} truncated{from}, but {leader} (the leader) has them: safe",
                names.join(", ")
            )
        } else {
            format!(
                "⚠ ACKED WRITE{} LOST FROM THE LOG: {} truncated{from}; the leader never had {}",
                if names.len() > 1 { "S" } else { "" },
                names.join(", "),
                if names.len() > 1 { "them" } else { "it" }
            )
        }
    }

    /// The group id by index, for the views.
    pub fn group_applied(&self, g: GroupId) -> &[(u64, MsgId)] {
        &self.applied[g.idx()]
    }
}

#[derive(Clone, Copy, Default)]
struct StepFlags {
    visible: bool,
    notable: bool,
    /// The fault that fired in this step, if any.
    fault: Option<u32>,
}

/// The colour family of a trace event.
pub fn log_kind(t: &Trace) -> LogKind {
    match t {
        Trace::Narration { .. } => LogKind::Narration,
        Trace::FaultInjected { .. }
        | Trace::NodeCrashed { .. }
        | Trace::NodeStopped { .. }
        | Trace::ShutdownRequested { .. }
        | Trace::NodeRestarted { .. }
        | Trace::NodePaused { .. }
        | Trace::NodeResumed { .. } => LogKind::Fault,
        Trace::LeaderElected { .. }
        | Trace::PartitionOffline { .. }
        | Trace::BrokerFenced { .. }
        | Trace::ControlledShutdown { .. }
        | Trace::BrokerUnfenced { .. } => LogKind::Election,
        Trace::IsrChanged { .. } | Trace::ElrChanged { .. } => LogKind::Isr,
        Trace::Truncated { .. } => LogKind::Truncation,
        Trace::RebalanceStarted { .. }
        | Trace::Rebalanced { .. }
        | Trace::MemberJoined { .. }
        | Trace::PartitionsWithheld { .. }
        | Trace::PartitionsRevoked { .. }
        | Trace::MemberJoinedEpoch { .. }
        | Trace::TargetAssignment { .. }
        | Trace::RevokeAsked { .. }
        | Trace::EpochAssigned { .. }
        | Trace::MemberRemoved { .. } => LogKind::Rebalance,
        Trace::ProduceError { .. }
        | Trace::Retried { .. }
        | Trace::Failed { .. }
        | Trace::TxnFatalError { .. }
        | Trace::Dropped { .. }
        | Trace::CommitFailed { .. } => LogKind::Error,
        Trace::Draining => LogKind::Run,
        #[allow(unreachable_patterns)]
        _ => LogKind::Flow,
    }
}

/// A log line for an anomaly the checker reported.
pub fn anomaly_text(sim: &Sim, a: Anomaly) -> String {
    let group = |g: GroupId| {
        sim.groups()
            .get(g.idx())
            .map_or("?".to_string(), |g| g.name.clone())
    };
    match a {
        Anomaly::Duplicate { group: g, msg } => format!(
            "⚠ DUPLICATE: group {} applied {} again",
            group(g),
            sim.msg_name(msg)
        ),
        Anomaly::Reordered {
            group: g,
            msg,
            after,
        } => format!(
            "⚠ REORDERED: group {} applied {} after {} (same key, sent later)",
            group(g),
            sim.msg_name(msg),
            sim.msg_name(after)
        ),
        Anomaly::ElectedWithout {
            msg,
            partition,
            leader,
        } => format!(
            "⚠ LOSS NOW CERTAIN: {} without the acknowledged {}",
            crate::queue_words::became_leader(sim, leader, partition),
            sim.msg_name(msg)
        ),
        Anomaly::AckedTruncated { msg } => format!(
            "⚠ ACKED WRITE AT RISK: {} was acknowledged and has just been truncated away",
            sim.msg_name(msg)
        ),
    }
}

// ----- `brokerlab bench --step-back` --------------------------------------------------------

/// What `brokerlab bench --step-back` measured.
#[derive(Clone, Debug)]
pub struct StepBackReport {
    pub events: u64,
    pub messages: u64,
    pub checkpoints: usize,
    pub checkpoint_every: u64,
    /// Near checkpoints held at the end (see [`NEAR_EVERY`]).
    pub near_checkpoints: usize,
    /// Whether a landing checkpoint is held at the end (see [`LANDING_EVERY`]).
    pub landing: bool,
    /// Live heap bytes of the session without its checkpoints (`None` without the counting
    /// allocator).
    pub state_bytes: Option<i64>,
    /// Live heap bytes the checkpoints add: what dropping them frees.
    pub checkpoint_bytes: Option<i64>,
    /// Heap bytes of the session's views of the run (applications, order index, marks, logs).
    pub view_bytes: Option<i64>,
    /// What each part of the checkpoints holds alone, largest first (empty without the
    /// counting allocator).
    pub checkpoint_by_part: Vec<(&'static str, i64)>,
    /// Wall time to build the run.
    pub build: std::time::Duration,
    /// One step back from each random position, sorted.
    pub step_back: Vec<std::time::Duration>,
    /// Reaching each random position from the one before it (a jump back in the run, as the
    /// timeline or `[` makes), sorted.
    pub jump: Vec<std::time::Duration>,
    /// Events each step back replayed, sorted.
    pub step_back_replayed: Vec<u64>,
    /// Events each jump replayed, sorted.
    pub jump_replayed: Vec<u64>,
    /// Heap bytes of one copy of each part of the state, largest first (empty without the
    /// counting allocator).
    pub copy_by_part: Vec<(&'static str, i64)>,
}

impl Session {
    /// Builds a run of `events` events of the benchmark scenario in a session (as the TUI
    /// plays it), measures what its checkpoints cost in heap bytes, then steps back once from
    /// each of `positions` random positions (a seeded generator, so the same positions every
    /// time).
    pub fn bench_step_back(
        opts: &crate::bench::BenchOptions,
        events: u64,
        positions: u32,
    ) -> StepBackReport {
        use std::time::Instant;
        if crate::heap::counting() {
            crate::heap::start_counting();
        }
        let start = Instant::now();
        let sc = crate::bench::large_scenario(opts);
        let mut session = Session::new("bench", sc, opts.seed);
        session.rewind_to(events);
        let build = start.elapsed();
        let end = session.events();
        let messages = session.outcome().sent;
        let copy_by_part = if crate::heap::counting() {
            session.copy_by_part()
        } else {
            Vec::new()
        };
        // A fixed xorshift over the run: the positions need no quality, only repeatability.
        // Visited from the last back, so that reaching each one is a rewind, never a replay
        // of millions of events forward.
        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ opts.seed;
        let mut at_positions: Vec<u64> = (0..positions)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                1 + x % end.max(1)
            })
            .collect();
        at_positions.sort_unstable_by(|a, b| b.cmp(a));
        let mut times = Vec::with_capacity(positions as usize);
        let mut jumps = Vec::with_capacity(positions as usize);
        let mut step_back_replayed = Vec::with_capacity(positions as usize);
        let mut jump_replayed = Vec::with_capacity(positions as usize);
        for at in at_positions {
            let t = Instant::now();
            session.rewind_to(at);
            jumps.push(t.elapsed());
            jump_replayed.push(session.replayed);
            let t = Instant::now();
            session.step_back();
            times.push(t.elapsed());
            step_back_replayed.push(session.replayed);
        }
        times.sort();
        jumps.sort();
        step_back_replayed.sort();
        jump_replayed.sort();
        let near_checkpoints = session.near.len();
        let landing = session.landing.is_some();
        let checkpoints = session.checkpoints.len();
        let checkpoint_every = session.checkpoint_every;
        // Last, because measuring means dropping them (the session is not used after this):
        // what the checkpoints add to the heap. Measured with the session back at the end of
        // the run: rewound to an early position, the later checkpoints would be the only holders
        // of the run's later records, and those are the simulation's state, not a checkpoint's
        // cost.
        session.rewind_to(end);
        let (state_bytes, checkpoint_bytes, view_bytes, checkpoint_by_part) =
            if crate::heap::counting() {
                // Taken apart first, then dropped a part at a time: what each part of the
                // checkpoints holds that nothing else does.
                let parts = Checkpoint::parts_held(session.take_checkpoints_but_the_first());
                let checkpoints = parts.iter().map(|&(_, bytes)| bytes).sum();
                // Then the views' own indexes of the run (applications, the order index, marks,
                // logs), and last the simulation with its checker and metrics.
                let views = freed_by_dropping((
                    std::mem::take(&mut session.applied),
                    std::mem::take(&mut session.order),
                    std::mem::take(&mut session.anomalies),
                    std::mem::take(&mut session.marks),
                    std::mem::take(&mut session.log),
                    std::mem::take(&mut session.wires),
                    std::mem::take(&mut session.notables),
                    std::mem::take(&mut session.truncations),
                ));
                let state = freed_by_dropping(session);
                (Some(state), Some(checkpoints), Some(views), parts)
            } else {
                (None, None, None, Vec::new())
            };
        StepBackReport {
            events: end,
            messages,
            checkpoints,
            checkpoint_every,
            near_checkpoints,
            landing,
            state_bytes,
            checkpoint_bytes,
            view_bytes,
            checkpoint_by_part,
            build,
            step_back: times,
            jump: jumps,
            step_back_replayed,
            jump_replayed,
            copy_by_part,
        }
    }

    /// The heap bytes one copy of each part of the state takes (what a checkpoint takes when
    /// it is made, before the live state moves on), largest first: where checkpoint memory
    /// goes.
    fn copy_by_part(&self) -> Vec<(&'static str, i64)> {
        fn copy_bytes<T: Clone>(x: &T) -> i64 {
            let before = crate::heap::live_bytes();
            let copy = x.clone();
            let bytes = crate::heap::live_bytes() - before;
            drop(copy);
            bytes
        }
        let sim = &self.sim;
        largest_first(vec![
            ("kernel", copy_bytes(&sim.k)),
            ("brokers", copy_bytes(&sim.brokers)),
            ("controller", copy_bytes(&sim.controller)),
            ("producers", copy_bytes(&sim.producers)),
            (
                "coordinators",
                copy_bytes(&sim.groups) + copy_bytes(&sim.txns),
            ),
            ("consumers", copy_bytes(&sim.consumers)),
            ("checker", copy_bytes(&self.checker)),
            ("metrics", copy_bytes(&self.metrics)),
        ])
    }
}

impl std::fmt::Display for StepBackReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
        writeln!(
            f,
            "step back after {} events ({} messages; built in {:.2} s)",
            self.events,
            self.messages,
            self.build.as_secs_f64()
        )?;
        writeln!(
            f,
            "  checkpoints          {} (one every {} events), {} near ones (every {} events, the newest){}",
            self.checkpoints,
            self.checkpoint_every,
            self.near_checkpoints,
            NEAR_EVERY,
            if self.landing {
                format!(
                    " and a landing one (at most {LANDING_EVERY} events before where the last rewind landed)"
                )
            } else {
                String::new()
            }
        )?;
        match (self.state_bytes, self.checkpoint_bytes, self.view_bytes) {
            (Some(state), Some(cps), Some(views)) => writeln!(
                f,
                "  simulation state     {:>10.1} MiB (simulation, checker and metrics at the end of the run)\n  \
                 checkpoints          {:>10.1} MiB = {:.1}% of the state (heap freed by dropping them there)\n  \
                 views                {:>10.1} MiB (the session's own indexes: applications, order, marks, logs)",
                mib(state),
                mib(cps),
                100.0 * cps as f64 / state.max(1) as f64,
                mib(views)
            )?,
            _ => writeln!(
                f,
                "  heap bytes           not counted (no counting allocator)"
            )?,
        }
        for (label, parts, decimals) in [
            ("checkpoints, MiB", &self.checkpoint_by_part, 1),
            ("one copy, MiB", &self.copy_by_part, 2),
        ] {
            if !parts.is_empty() {
                let parts: Vec<String> = parts
                    .iter()
                    .map(|&(name, bytes)| format!("{name} {:.*}", decimals, mib(bytes)))
                    .collect();
                writeln!(f, "  {label:<20} {}", parts.join(", "))?;
            }
        }
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        for (label, times, replayed) in [
            ("one step back", &self.step_back, &self.step_back_replayed),
            ("jump back there", &self.jump, &self.jump_replayed),
        ] {
            if let (Some(&min), Some(&max)) = (times.first(), times.last()) {
                writeln!(
                    f,
                    "  {label:<20} min {:.2} ms, median {:.2} ms, max {:.2} ms ({} random positions)",
                    ms(min),
                    ms(times[times.len() / 2]),
                    ms(max),
                    times.len()
                )?;
            }
            if let Some(&max) = replayed.last() {
                writeln!(
                    f,
                    "  {:<20} median {}, max {} events replayed from the checkpoint restored",
                    "",
                    replayed[replayed.len() / 2],
                    max
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::producer::BatchState;

    /// `Producer::retrying` counts the retry lists; it must agree with a count over
    /// every batch the client ever made, at every step of every bundled scenario.
    #[test]
    fn retrying_from_the_retry_lists_counts_every_batch_waiting_to_be_retried() {
        let mut seen_retries = false;
        for b in crate::scenario::bundled() {
            let sc = b.parse().expect("bundled scenarios validate");
            let mut sim = Sim::new(&sc);
            loop {
                for p in &sim.producers {
                    let all = p
                        .client
                        .batches
                        .iter()
                        .filter(|(_, b)| {
                            matches!(b.state, BatchState::Backoff | BatchState::Queued)
                        })
                        .count();
                    assert_eq!(p.retrying(), all, "{} at event {}", b.name, sim.events());
                    seen_retries |= all > 0;
                }
                sim.drain_trace().for_each(drop);
                if !sim.step() {
                    break;
                }
            }
        }
        assert!(seen_retries, "some bundled scenario retries a batch");
    }
}

#[cfg(test)]
mod live_count_tests {
    use super::*;

    fn assert_live_equals_recount(s: &Session, name: &str, when: &str) {
        assert_eq!(
            s.checker.outcome(),
            s.checker.recount_outcome(),
            "{name}: live counts differ from a recount {when} (event {})",
            s.events()
        );
    }

    /// The checker's live fate counts equal a full recount at many steps of every bundled
    /// scenario, once the run has drained, and after stepping back (which restores a
    /// checkpoint's counts and replays).
    #[test]
    fn live_fate_counts_equal_a_full_recount_forward_and_after_stepping_back() {
        let mut kinds_seen = [false; 6];
        for b in crate::scenario::bundled() {
            let sc = b.parse().expect("bundled scenarios validate");
            let seed = sc.scenario.seed;
            let mut s = Session::new(b.name, sc, seed);
            assert!(s.checker.live_counts());
            let mut n = 0u64;
            while s.step() {
                n += 1;
                if n.is_multiple_of(53) {
                    assert_live_equals_recount(&s, b.name, "going forward");
                }
            }
            assert!(s.checker.is_final(), "{}: the run drained", b.name);
            assert_live_equals_recount(&s, b.name, "at the end");
            let o = s.outcome();
            for (seen, n) in kinds_seen.iter_mut().zip([
                o.lost_by_kind.truncated,
                o.lost_by_kind.skipped,
                o.lost_by_kind.never_written,
                o.duplicated,
                o.aborted,
                o.unseen,
            ]) {
                *seen |= n > 0;
            }
            let end = s.events();
            for k in (0..8).rev() {
                s.rewind_to(end * k / 8);
                assert_live_equals_recount(&s, b.name, "after a rewind");
                s.step_back();
                assert_live_equals_recount(&s, b.name, "after a step back");
                for _ in 0..40 {
                    s.step();
                }
                assert_live_equals_recount(&s, b.name, "stepping on after a rewind");
            }
        }
        assert_eq!(
            kinds_seen, [true; 6],
            "the bundled scenarios exercise truncated, skipped, never written, duplicated, \
             aborted and unseen messages"
        );
    }
}

#[cfg(test)]
mod order_index_tests {
    use super::*;

    /// The order index after stepping back equals the one built going forward to the same
    /// event, at positions through every bundled scenario (lost cells included at the end).
    #[test]
    fn order_index_after_a_rewind_equals_the_one_built_going_forward() {
        let mut saw = [false; 3];
        for b in crate::scenario::bundled() {
            let sc = b.parse().expect("bundled scenarios validate");
            let seed = sc.scenario.seed;
            let mut s = Session::new(b.name, sc.clone(), seed);
            s.rewind_to(u64::MAX);
            let end = s.events();
            for st in s.order.iter().flat_map(|g| &g.streams) {
                for c in &st.cells {
                    saw[match c.mark {
                        crate::order_index::Mark::Duplicate => 0,
                        crate::order_index::Mark::Reordered => 1,
                        crate::order_index::Mark::Lost => 2,
                        crate::order_index::Mark::InOrder => continue,
                    }] = true;
                }
            }
            for k in (0..5).rev() {
                let at = end * k / 5 + k;
                s.rewind_to(at);
                let mut fresh = Session::new(b.name, sc.clone(), seed);
                fresh.rewind_to(at);
                assert_eq!(s.order, fresh.order, "{} at event {at}", b.name);
            }
        }
        assert_eq!(
            saw, [true; 3],
            "duplicates, reorderings and losses were indexed"
        );
    }
}

#[cfg(test)]
mod near_checkpoint_tests {
    use super::*;

    /// The state a view could show: simulation, checker outcome and digest.
    fn state(s: &Session) -> String {
        let sim = &s.sim;
        format!(
            "{} {} {:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            s.events(),
            s.digest.hex(),
            s.outcome(),
            sim.brokers(),
            sim.producers(),
            sim.consumers(),
            sim.groups(),
            s.applied,
        )
    }

    /// The bench scenario at a given size, its checkpoints unbudgeted: these tests place them
    /// where they want them, and the budget would thin them.
    fn bench_session(messages: u64, brokers: u32, partitions: u32) -> Session {
        let opts = crate::bench::BenchOptions {
            messages,
            brokers,
            partitions,
            seed: 5,
        };
        let mut s = Session::new("bench", crate::bench::large_scenario(&opts), opts.seed);
        s.unbudgeted_checkpoints();
        s
    }

    /// The bench scenario at a size a test can play to 45 000 events.
    fn small_bench_session() -> Session {
        bench_session(20_000, 4, 8)
    }

    /// A long run of a small cluster: its grow-only tables soon outweigh one copy of its small
    /// state, as in long runs of larger ones.
    fn long_small_session() -> Session {
        bench_session(60_000, 3, 3)
    }

    /// Heap bytes the checkpoints hold that nothing else does, and the simulation state's, as
    /// `bench --step-back` measures them (the test build counts the heap): what dropping each
    /// frees.
    fn measured_checkpoints_and_state(mut s: Session) -> (i64, i64) {
        let checkpoints = freed_by_dropping(s.take_checkpoints_but_the_first());
        let Session {
            sim,
            checker,
            metrics,
            ..
        } = s;
        (checkpoints, freed_by_dropping((sim, checker, metrics)))
    }

    /// Where the heap is counted, the checkpoints stay within a quarter of the state they
    /// belong to, measured as the bench measures it; the spacing alone (as without the
    /// budget) keeps several times more. Stepping back across the thinned checkpoints still
    /// reaches the states reached going forward.
    #[test]
    fn checkpoints_stay_within_a_quarter_of_the_state() {
        assert!(crate::heap::counting(), "the test build counts the heap");
        let end = 150_000;
        let mut unbudgeted = long_small_session();
        unbudgeted.rewind_to(end);
        let (held, bytes) = measured_checkpoints_and_state(unbudgeted);
        assert!(
            held * 4 > bytes,
            "by spacing alone: {held} bytes of checkpoints against {bytes} of state"
        );

        let mut s = long_small_session();
        s.budgeted = true;
        let marks = [5_000u64, 31_000, 59_999];
        let mut forward = Vec::new();
        for &m in &marks {
            s.rewind_to(m);
            forward.push(state(&s));
        }
        s.rewind_to(end);
        assert!(
            s.checkpoint_every > CHECKPOINT_EVERY,
            "the budget thinned the regular checkpoints"
        );
        for (&m, want) in marks.iter().zip(&forward).rev() {
            s.rewind_to(m);
            assert_eq!(&state(&s), want, "back to {m}");
        }
        s.rewind_to(end);
        let (held, bytes) = measured_checkpoints_and_state(s);
        assert!(held > 0, "some checkpoints besides the first are kept");
        assert!(
            held * 4 <= bytes,
            "within budget: {held} bytes of checkpoints against {bytes} of state"
        );
    }

    /// Where checkpoints were taken: `s.checkpoints` or `s.near`.
    fn events_of<'a>(checkpoints: impl IntoIterator<Item = &'a Checkpoint>) -> Vec<u64> {
        checkpoints.into_iter().map(|c| c.events).collect()
    }

    /// Once the budget lets the spacing shrink, the earlier stretch of the run still has the
    /// wider one: a replay through it (a jump back) takes the checkpoints missing there, and
    /// a rewind from one of them reaches the state reached going forward.
    #[test]
    fn a_replay_fills_the_gaps_a_wider_spacing_left() {
        let mut s = small_bench_session();
        s.checkpoint_every = 4 * CHECKPOINT_EVERY;
        s.rewind_to(5_000);
        let forward = state(&s);
        s.rewind_to(10_000);
        let e = CHECKPOINT_EVERY;
        assert_eq!(events_of(&s.checkpoints), [0, 4 * e]);
        s.checkpoint_every = e;
        s.rewind_to(5_500);
        assert_eq!(
            events_of(&s.checkpoints),
            [0, e, 2 * e, 4 * e],
            "the jump back's replay from event 0 took the two on its way"
        );
        s.rewind_to(5_000);
        assert_eq!(state(&s), forward, "back to 5 000 from a filled gap");
    }

    /// Once the regular checkpoints are sparser than `NEAR_EVERY` (as after a long run), the
    /// session keeps near ones where it played and where it replayed to, and a rewind from
    /// one, even one taken during a replay (whose digest the kernel held), reaches exactly
    /// the state reached going forward.
    #[test]
    fn near_checkpoints_restore_the_state_reached_going_forward() {
        let mut s = small_bench_session();
        s.checkpoint_every = 4 * NEAR_EVERY;
        let marks = [10_000u64, 30_000, 34_000, 44_999];
        let mut forward = Vec::new();
        for &m in &marks {
            s.rewind_to(m);
            assert_eq!(s.events(), m, "the run lasts past event {m}");
            forward.push(state(&s));
        }
        s.rewind_to(45_000);
        assert_eq!(
            events_of(&s.near),
            [NEAR_EVERY, 2 * NEAR_EVERY],
            "playing forward keeps the newest two"
        );
        // Back from the near checkpoints taken going forward.
        s.rewind_to(44_999);
        assert_eq!(
            state(&s),
            forward[3],
            "back to 44 999 from a near checkpoint"
        );
        s.rewind_to(30_000);
        assert_eq!(
            state(&s),
            forward[1],
            "back to 30 000 from a near checkpoint"
        );
        // Without them (and without the landing checkpoint the last rewind took), a replay
        // from the start keeps the two on its way, and a rewind from those gives the same
        // state again.
        s.rewind_to(45_000);
        s.near.clear();
        s.landing = None;
        s.rewind_to(40_000);
        assert_eq!(events_of(&s.near), [NEAR_EVERY, 2 * NEAR_EVERY]);
        s.rewind_to(34_000);
        assert_eq!(
            state(&s),
            forward[2],
            "back to 34 000 from a replay's checkpoint"
        );
        s.rewind_to(10_000);
        assert_eq!(state(&s), forward[0], "before every near checkpoint");
        s.rewind_to(44_999);
        assert_eq!(state(&s), forward[3], "forward again after stepping back");
    }

    /// A rewind keeps a landing checkpoint at the last multiple of `LANDING_EVERY` before its
    /// target, so that stepping back from there replays fewer than `LANDING_EVERY` events, and
    /// reaches the state reached going forward. Going below it drops it, and that rewind's
    /// replay takes the next one down.
    #[test]
    fn a_step_back_replays_from_where_the_last_rewind_landed() {
        let mut s = small_bench_session();
        s.checkpoint_every = 4 * NEAR_EVERY;
        let landing = 30 * LANDING_EVERY;
        let marks = [landing - 1, landing, landing + 1, landing + 700];
        let mut forward = Vec::new();
        for &m in &marks {
            s.rewind_to(m);
            forward.push(state(&s));
        }
        s.rewind_to(45_000);
        assert!(s.landing.is_none(), "playing forward takes none");
        s.rewind_to(landing + 701);
        assert_eq!(events_of(&s.landing), [landing]);
        assert!(
            s.replayed > NEAR_EVERY / 2,
            "the jump replayed from a near checkpoint"
        );
        for (i, &m) in marks.iter().enumerate().skip(1).rev() {
            s.rewind_to(m);
            assert_eq!(state(&s), forward[i], "back to {m}");
            assert!(
                s.replayed < LANDING_EVERY,
                "back to {m} from the landing checkpoint"
            );
            assert_eq!(events_of(&s.landing), [landing]);
        }
        s.rewind_to(landing - 1);
        assert_eq!(state(&s), forward[0], "back below the landing checkpoint");
        assert_eq!(
            events_of(&s.landing),
            [landing - LANDING_EVERY],
            "the replay there took the next one down"
        );
        assert!(s.replayed > LANDING_EVERY);
    }

    /// A fault injected live after a rewind: the landing checkpoint before it serves a step
    /// back to before the fault, one taken after it serves a step back past it, and both
    /// reach the states reached going forward.
    #[test]
    fn landing_checkpoints_around_a_live_fault_restore_the_states_reached_going_forward() {
        let mut s = small_bench_session();
        s.checkpoint_every = 4 * NEAR_EVERY;
        let early = 20 * LANDING_EVERY + 50;
        let before = 20 * LANDING_EVERY + 100;
        let after = 22 * LANDING_EVERY + 300;
        s.rewind_to(early);
        let at_early = state(&s);
        s.rewind_to(before + 400);
        s.rewind_to(before);
        assert_eq!(events_of(&s.landing), [20 * LANDING_EVERY]);
        s.inject(FaultSpec {
            at: SimTime::ZERO,
            kind: crate::sim::FaultKind::Crash(crate::sim::Target::Node(NodeId(1))),
        })
        .unwrap();
        assert_eq!(
            events_of(&s.landing),
            [20 * LANDING_EVERY],
            "taken before the fault: kept"
        );
        s.rewind_to(after);
        let at_after = state(&s);
        s.rewind_to(after + 500);
        s.rewind_to(early);
        assert!(s.replayed < LANDING_EVERY, "from the landing checkpoint");
        assert_eq!(state(&s), at_early, "back to before the fault");
        s.rewind_to(after + 500);
        s.rewind_to(after);
        assert_eq!(
            state(&s),
            at_after,
            "back past the fault, which was replayed"
        );
        assert_eq!(events_of(&s.landing), [22 * LANDING_EVERY]);
        s.rewind_to(after + 500);
        s.rewind_to(after);
        assert!(s.replayed < LANDING_EVERY, "from the landing checkpoint");
        assert_eq!(
            state(&s),
            at_after,
            "back from a landing checkpoint after the fault"
        );
    }

    /// After a jump back, playing forward again reaches each later checkpoint's state anew:
    /// the checkpoint is replaced by a copy of the live state, which shares the tables the
    /// run builds (the old one would keep its own copy of all of them), and stepping back
    /// from it still gives the states reached the first time.
    #[test]
    fn playing_forward_again_re_anchors_the_checkpoints_on_the_live_run() {
        let mut s = small_bench_session();
        let marks = [9_999u64, 20_001, 29_999];
        let mut forward = Vec::new();
        for &m in &marks {
            s.rewind_to(m);
            forward.push(state(&s));
        }
        s.rewind_to(30_000);
        let at = |s: &Session, e: u64| {
            let i = s.checkpoints.iter().position(|c| c.events == e);
            i.unwrap_or_else(|| panic!("a checkpoint at event {e}"))
        };
        let digests: Vec<u64> = s.checkpoints.iter().map(|c| c.digest.value()).collect();
        let early = &s.checkpoints[at(&s, 10_000)].checker;
        assert!(
            s.checker.messages() > 2 * crate::sim::chunked::LEAF,
            "the run has whole leaves of messages"
        );
        assert!(
            s.checker.shares_state_with(early, 0),
            "taken going forward, it shares"
        );

        s.rewind_to(500);
        s.rewind_to(30_000);
        let after: Vec<u64> = s.checkpoints.iter().map(|c| c.digest.value()).collect();
        assert_eq!(after, digests, "the same checkpoints, at the same states");
        for e in [10_000u64, 20_000] {
            let cp = &s.checkpoints[at(&s, e)].checker;
            assert!(
                s.checker.shares_state_with(cp, 0),
                "the checkpoint at {e} shares the live ledger again"
            );
        }
        for (&m, want) in marks.iter().zip(&forward).rev() {
            s.rewind_to(m);
            assert_eq!(
                &state(&s),
                want,
                "back to {m} from a re-anchored checkpoint"
            );
        }
    }
}
