//! The sequence diagram of a window of a run, read from its trace: one column per node (in the
//! TUI diagram's order: producers, brokers, controller, consumers), one arrow per message on
//! the wire from its send time to its arrival (or to where it was dropped), crashes, restarts,
//! pauses, elections and truncations on their columns, and faults and narration notes across
//! all of them. The SVG and Mermaid exports draw this one model.
//!
//! Like the TUI diagram, it leaves out heartbeats and fetches that carry no records (unless one
//! is dropped): they are most of the traffic and none of the story.

use std::collections::{BTreeMap, BTreeSet};

use super::Window;
use crate::report::{self, Report};
use crate::scenario::Scenario;
use crate::session::LogKind;
use crate::sim::{
    DropReason, ErrorCode, NodeId, NodeKind, Sim, SimTime, Trace, TraceEvent, Wire, WireKind,
};

/// At most this many items (arrows, marks, notes) in one diagram: past it the export asks
/// for a narrower window instead of drawing a picture nobody can read.
pub const MAX_ITEMS: usize = 4000;
/// At most this many narrated lines on the HTML page.
pub const MAX_NARRATION: usize = 20_000;

/// A node's column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub node: NodeId,
    pub name: String,
    pub kind: NodeKind,
}

/// How an arrow ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Arrived,
    Dropped(DropReason),
}

/// One message on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrow {
    pub sent: SimTime,
    /// When it arrived, or when it was dropped.
    pub end: SimTime,
    pub from: NodeId,
    pub to: NodeId,
    pub wire: Wire,
    /// The message's kind, first application message and error: `Produce checkout#7 +1 more`.
    pub label: String,
    pub end_kind: End,
    /// A connection reset, or the error reply a reset makes of a request: the dead process's
    /// operating system sent it, not the process (`from` is down). Drawn from the network.
    pub reset: bool,
}

/// Something that happened to one node, marked on its column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    Crashed,
    Restarted,
    Paused {
        until: SimTime,
    },
    Resumed,
    /// The end of a controlled shutdown.
    Stopped,
    /// The broker became the leader of a partition.
    Leader {
        partition: String,
        epoch: u32,
        unclean: bool,
    },
    /// The replica cut its log back.
    Truncated {
        partition: String,
        to: u64,
        removed: usize,
    },
}

impl Mark {
    /// The glyph and words drawn on the column (never colour alone).
    pub fn text(&self) -> String {
        match self {
            Mark::Crashed => "✖ crashed".into(),
            Mark::Restarted => "↻ restarted".into(),
            Mark::Paused { until } => format!("‖ paused until {}", super::fmt_time(*until)),
            Mark::Resumed => "▶ resumes".into(),
            Mark::Stopped => "■ stopped".into(),
            Mark::Leader {
                partition,
                epoch,
                unclean,
            } => format!(
                "★ leads {partition} (epoch {epoch}{})",
                if *unclean { ", unclean" } else { "" }
            ),
            Mark::Truncated {
                partition,
                to,
                removed,
            } => format!("✂ {partition} cut to offset {to} (−{removed})"),
        }
    }

    /// What the node's lifeline looks like from this mark on, if it changes.
    pub fn life(&self) -> Option<Life> {
        match self {
            Mark::Crashed | Mark::Stopped => Some(Life::Down),
            Mark::Restarted | Mark::Resumed => Some(Life::Up),
            Mark::Paused { .. } => Some(Life::Paused),
            Mark::Leader { .. } | Mark::Truncated { .. } => None,
        }
    }
}

/// A node's state, for drawing its lifeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    Up,
    Down,
    Paused,
}

/// One thing the diagram shows, at its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Arrow(Arrow),
    Mark {
        time: SimTime,
        node: NodeId,
        mark: Mark,
    },
    /// A fault fired (`crash target=leader:orders/0`).
    Fault {
        time: SimTime,
        text: String,
    },
    /// A narration note of the scenario.
    Note {
        time: SimTime,
        text: String,
    },
}

impl Item {
    /// When it starts (an arrow: its send time).
    pub fn time(&self) -> SimTime {
        match self {
            Item::Arrow(a) => a.sent,
            Item::Mark { time, .. } | Item::Fault { time, .. } | Item::Note { time, .. } => *time,
        }
    }
}

/// The diagram of one window.
#[derive(Clone, Debug)]
pub struct Sequence {
    pub title: String,
    pub label: String,
    pub seed: u64,
    pub window: Window,
    /// When the run ended.
    pub run_end: SimTime,
    /// In drawing order.
    pub columns: Vec<Column>,
    /// Node index → column.
    col_of: Vec<Option<usize>>,
    /// In time order (arrows by send time).
    pub items: Vec<Item>,
    /// Each column's state when the window opens.
    pub life_at_start: Vec<Life>,
}

impl Sequence {
    /// The column of a node.
    pub fn column(&self, node: NodeId) -> Option<usize> {
        self.col_of.get(node.idx()).copied().flatten()
    }

    /// The name of a node.
    pub fn name(&self, node: NodeId) -> &str {
        self.column(node).map_or("?", |c| &self.columns[c].name)
    }

    /// `1.000s–2.500s`.
    pub fn window_text(&self) -> String {
        self.window.text(self.run_end)
    }
}

/// A run read for export: the diagram, the report and (for the HTML page) the narrated trace
/// of the window.
pub struct Capture {
    pub sequence: Sequence,
    pub report: Report,
    pub narration: Vec<(SimTime, LogKind, String)>,
    /// Narrated lines past [`MAX_NARRATION`], left out.
    pub narration_left_out: u64,
}

/// Runs `scenario` with `seed` and reads its trace into the diagram of `window` (and, with
/// `narrate`, the narrated lines of the window). An error when the window lies outside the
/// run or holds more than [`MAX_ITEMS`] things to draw.
pub fn capture(
    label: &str,
    scenario: &Scenario,
    seed: u64,
    window: Window,
    narrate: bool,
) -> Result<Capture, String> {
    let mut b = Builder::new(window);
    let mut narration = Vec::new();
    let mut left_out = 0u64;
    let report = report::run(label, scenario, seed, |sim, ev| {
        b.observe(sim, ev);
        if narrate
            && window.contains(ev.time)
            && let Some(line) = report::describe(sim, ev)
        {
            if narration.len() < MAX_NARRATION {
                narration.push((ev.time, crate::session::log_kind(&ev.kind), line));
            } else {
                left_out += 1;
            }
        }
    });
    let run_end = SimTime::from_ms(report.end_ms);
    window.check_within(run_end)?;
    if b.too_many {
        return Err(format!(
            "the window {} holds more than {MAX_ITEMS} messages and events to draw: narrow it \
             with --from and --to",
            window.text(run_end)
        ));
    }
    let sequence = b.finish(scenario.scenario.title.clone(), label, seed, run_end);
    Ok(Capture {
        sequence,
        report,
        narration,
        narration_left_out: left_out,
    })
}

/// A message still on the wire that the window may draw.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    arrive_at: SimTime,
    /// Its arrow, or `None` while it is hidden chatter (shown only if it is dropped).
    item: Option<usize>,
    sent: SimTime,
    wire: Wire,
}

struct Builder {
    window: Window,
    items: Vec<Item>,
    in_flight: BTreeMap<u64, InFlight>,
    /// The same messages by arrival time, to forget them once they have arrived.
    arrivals: BTreeSet<(SimTime, u64)>,
    /// Every node's name and kind, in node order.
    nodes: Vec<(String, NodeKind)>,
    /// Every node's state now (from the trace's crashes, restarts and pauses).
    life: Vec<Life>,
    life_at_start: Option<Vec<Life>>,
    too_many: bool,
}

impl Builder {
    fn new(window: Window) -> Builder {
        Builder {
            window,
            items: Vec::new(),
            in_flight: BTreeMap::new(),
            arrivals: BTreeSet::new(),
            nodes: Vec::new(),
            life: Vec::new(),
            life_at_start: None,
            too_many: false,
        }
    }

    fn push(&mut self, item: Item) -> Option<usize> {
        if self.items.len() >= MAX_ITEMS {
            self.too_many = true;
            return None;
        }
        self.items.push(item);
        Some(self.items.len() - 1)
    }

    fn observe(&mut self, sim: &Sim, ev: &TraceEvent) {
        if sim.nodes().len() != self.nodes.len() {
            self.nodes = sim
                .nodes()
                .iter()
                .map(|n| (n.name.clone(), n.kind))
                .collect();
            self.life.resize(self.nodes.len(), Life::Up);
        }
        if self.life_at_start.is_none() && ev.time >= self.window.from {
            self.life_at_start = Some(self.life.clone());
        }
        // Messages that arrived before now can no longer be dropped.
        while let Some(&(arrive_at, id)) = self.arrivals.first() {
            if arrive_at >= ev.time {
                break;
            }
            self.arrivals.pop_first();
            self.in_flight.remove(&id);
        }
        let in_window = self.window.contains(ev.time);
        match &ev.kind {
            Trace::Sent {
                id,
                from,
                to,
                wire,
                arrive_at,
            } if in_window => {
                let hidden = crate::session::is_chatter(wire, false);
                let item = if hidden {
                    None
                } else {
                    let arrow = self.arrow(sim, ev.time, *from, *to, *wire, *arrive_at);
                    self.push(Item::Arrow(arrow))
                };
                // Heartbeats stay hidden even when dropped, as in the TUI.
                if item.is_some() || !wire.kind.is_chatter() {
                    self.arrivals.insert((*arrive_at, *id));
                    self.in_flight.insert(
                        *id,
                        InFlight {
                            arrive_at: *arrive_at,
                            item,
                            sent: ev.time,
                            wire: *wire,
                        },
                    );
                }
            }
            Trace::Dropped {
                id,
                from,
                to,
                reason,
                ..
            } => {
                if let Some(f) = self.in_flight.remove(id) {
                    self.arrivals.remove(&(f.arrive_at, *id));
                    let item = match f.item {
                        Some(i) => Some(i),
                        None => {
                            let arrow = self.arrow(sim, f.sent, *from, *to, f.wire, ev.time);
                            self.push(Item::Arrow(arrow))
                        }
                    };
                    if let Some(Item::Arrow(a)) = item.and_then(|i| self.items.get_mut(i)) {
                        a.end = ev.time;
                        a.end_kind = End::Dropped(*reason);
                        a.label.push_str(" ✗ ");
                        a.label.push_str(reason.name());
                    }
                }
            }
            kind => {
                if let Some((node, mark)) = mark(sim, kind) {
                    if let Some(l) = mark.life()
                        && let Some(slot) = self.life.get_mut(node.idx())
                    {
                        *slot = l;
                    }
                    if in_window {
                        self.push(Item::Mark {
                            time: ev.time,
                            node,
                            mark,
                        });
                    }
                } else if in_window {
                    match kind {
                        Trace::FaultInjected { index } => {
                            let text = sim.fault_label(*index);
                            self.push(Item::Fault {
                                time: ev.time,
                                text,
                            });
                        }
                        Trace::Narration { index } => {
                            if let Some(n) = sim.notes().get(*index as usize) {
                                let text = n.text.clone();
                                self.push(Item::Note {
                                    time: ev.time,
                                    text,
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn arrow(
        &self,
        sim: &Sim,
        sent: SimTime,
        from: NodeId,
        to: NodeId,
        wire: Wire,
        end: SimTime,
    ) -> Arrow {
        // The dead process's operating system answers for it: a reset, or the error reply a
        // reset makes of a request.
        let reset = wire.kind == WireKind::ConnectionReset
            || self.life.get(from.idx()) == Some(&Life::Down);
        Arrow {
            sent,
            end,
            from,
            to,
            wire,
            label: label(sim, from, &wire, reset),
            end_kind: End::Arrived,
            reset,
        }
    }

    fn finish(self, title: String, label: &str, seed: u64, run_end: SimTime) -> Sequence {
        let rank = |k: NodeKind| match k {
            NodeKind::Producer(_) => 0,
            NodeKind::Broker(_) => 1,
            NodeKind::Controller => 2,
            NodeKind::Consumer(_) => 3,
        };
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        // Stable: nodes of one kind keep their order.
        order.sort_by_key(|&i| rank(self.nodes[i].1));
        let mut col_of = vec![None; self.nodes.len()];
        for (c, &n) in order.iter().enumerate() {
            col_of[n] = Some(c);
        }
        let life_at_start = self.life_at_start.unwrap_or(self.life);
        // A dropped fetch is drawn from its send time, earlier than what came before its
        // drop: put it back in time order (stable, so the trace's order stays otherwise).
        let mut items = self.items;
        items.sort_by_key(Item::time);
        Sequence {
            title,
            label: label.to_string(),
            seed,
            window: self.window,
            run_end,
            columns: order
                .iter()
                .map(|&n| Column {
                    node: NodeId(n as u32),
                    name: self.nodes[n].0.clone(),
                    kind: self.nodes[n].1,
                })
                .collect(),
            life_at_start: order
                .iter()
                .map(|&n| life_at_start.get(n).copied().unwrap_or(Life::Up))
                .collect(),
            col_of,
            items,
        }
    }
}

/// A trace event that marks one node's column.
fn mark(sim: &Sim, kind: &Trace) -> Option<(NodeId, Mark)> {
    Some(match kind {
        Trace::NodeCrashed { node } => (*node, Mark::Crashed),
        Trace::NodeRestarted { node } => (*node, Mark::Restarted),
        Trace::NodePaused { node, until } => (*node, Mark::Paused { until: *until }),
        Trace::NodeResumed { node } => (*node, Mark::Resumed),
        Trace::NodeStopped { node } => (*node, Mark::Stopped),
        Trace::LeaderElected {
            partition,
            leader,
            epoch,
            unclean,
            ..
        } => (
            sim.node_of_broker(*leader),
            Mark::Leader {
                partition: sim.partition_name(*partition),
                epoch: *epoch,
                unclean: *unclean,
            },
        ),
        Trace::Truncated {
            partition,
            broker,
            to,
            removed,
            ..
        } => (
            sim.node_of_broker(*broker),
            Mark::Truncated {
                partition: sim.partition_name(*partition),
                to: *to,
                removed: removed.len(),
            },
        ),
        _ => return None,
    })
}

/// An arrow's label: the Kafka request or response name, the partition (when there are
/// several), the first application message it carries (`+N more`), its error; a reset says
/// whose process is gone.
fn label(sim: &Sim, from: NodeId, wire: &Wire, reset: bool) -> String {
    if wire.kind == WireKind::ConnectionReset {
        return format!("connection reset: {} is down", sim.node_name(from));
    }
    let mut l = crate::queue_words::wire_name(sim.settings().system, wire.kind)
        .unwrap_or_else(|| wire.kind.name())
        .to_string();
    // With more than one partition, which one it is about.
    if let Some(p) = wire.partition.filter(|_| sim.partitions().len() > 1) {
        l.push(' ');
        l.push_str(&sim.partition_name(p));
    }
    if let Some(m) = wire.first_msg {
        l.push(' ');
        l.push_str(&sim.msg_name(m));
        if wire.records > 1 {
            l.push_str(&format!(" +{} more", wire.records - 1));
        }
    } else if wire.records > 0 {
        l.push_str(&format!(" ({} records)", wire.records));
    }
    if wire.error != ErrorCode::None {
        l.push(' ');
        l.push_str(wire.error.name());
    }
    if reset {
        l.push_str(&format!(" (reset: {} is down)", sim.node_name(from)));
    }
    l
}
