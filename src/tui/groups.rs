//! The consumer-groups panel: generation and state, then each member with its assigned
//! partitions and, per partition, the position, the committed offset and the lag. Under
//! KIP-429's cooperative protocol a partition is marked with a glyph and a word (the glyph alone
//! on the compact line): `revoking` (its owner is giving it up), `pending` (assigned, its owner
//! does not consume it yet) or `consuming` (read on through a rebalance); partitions the
//! coordinator withholds until their owner revokes them are listed under the group. Under
//! KIP-848's consumer protocol the header shows the group epoch and each member its member
//! epoch; `pending` marks a target partition another member has not released yet, `revoking` one
//! the coordinator asked the member to give up.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme;

pub const GROUPS_TITLE: &str = "Consumer groups";

/// The panel's title: Kafka's consumer groups, or another system's queues and their consumers.
pub fn title(sim: &Sim) -> &'static str {
    if sim.settings().system.is_kafka() {
        GROUPS_TITLE
    } else {
        "Queues · consumers"
    }
}
use crate::session::Session;
use crate::sim::config::{Assignor, GroupProtocol};
use crate::sim::consumer::ConsumerState;
use crate::sim::group_coordinator::{GroupCoordinator as Group, GroupState};
use crate::sim::{ConsumerId, PartitionId, Sim};

pub struct GroupsPanel<'a> {
    pub s: &'a Session,
    pub compact: bool,
}

fn state_style(st: GroupState) -> Style {
    match st {
        GroupState::Stable => theme::IN_SYNC,
        GroupState::PreparingRebalance => theme::PAUSED,
        GroupState::Empty => theme::DIM,
    }
}

fn state_name(st: GroupState) -> &'static str {
    match st {
        GroupState::Stable => "Stable",
        GroupState::PreparingRebalance => "Rebalancing",
        GroupState::Empty => "Empty",
    }
}

/// `orders/0 pos 12 committed 10 lag 3`
fn partition_spans(
    sim: &Sim,
    g: &Group,
    c: ConsumerId,
    p: PartitionId,
    short: bool,
) -> Vec<Span<'static>> {
    let cons = &sim.consumers()[c.idx()];
    let cp = cons.parts().iter().find(|x| x.partition == p);
    let pos = cp.and_then(|x| x.position);
    let committed = g
        .partitions
        .iter()
        .position(|&x| x == p)
        .and_then(|i| g.committed()[i]);
    let lag = cp.map(|x| x.hw.saturating_sub(x.position.unwrap_or(0)));
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let (pl, cl, ll) = if short {
        (" pos ", " com ", " lag ")
    } else {
        (" position ", " committed ", " lag ")
    };
    vec![
        Span::styled(sim.partition_name(p), theme::BOLD),
        Span::styled(pl, theme::LABEL),
        Span::styled(opt(pos), theme::BOLD),
        Span::styled(cl, theme::LABEL),
        Span::styled(opt(committed), theme::BOLD),
        Span::styled(ll, theme::LABEL),
        Span::styled(
            opt(lag),
            if lag.unwrap_or(0) > 0 {
                theme::PAUSED
            } else {
                theme::BOLD
            },
        ),
    ]
}

fn consumer_style(st: ConsumerState) -> Style {
    match st {
        ConsumerState::Active => theme::UP,
        ConsumerState::Crashed => theme::DOWN,
        ConsumerState::Left | ConsumerState::Idle => theme::DIM,
        _ => theme::PAUSED,
    }
}

/// Where a member's partition stands, for the cooperative protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Owned,
    /// Owned and consumed while the member rejoins (KIP-429).
    Consuming,
    /// Its owner is giving it up: its new assignment no longer holds it.
    Revoking,
    /// Assigned by the coordinator; the member does not consume it yet.
    Pending,
}

impl Mark {
    /// The mark as a glyph and a word, or the glyph alone (`short`, the compact line).
    fn tag(self, short: bool) -> Option<Span<'static>> {
        let (glyph, word, style) = match self {
            Mark::Owned => return None,
            Mark::Consuming => ("▶", "consuming", theme::UP),
            Mark::Revoking => ("⇠", "revoking", theme::PAUSED),
            Mark::Pending => ("…", "pending", theme::DIM),
        };
        let text = if short {
            format!(" {glyph}")
        } else {
            format!(" {glyph} {word}")
        };
        Some(Span::styled(text, style))
    }
}

/// A member's partitions and their marks: what the consumer itself holds when it is alive (a
/// cooperative member keeps its partitions through a rebalance), with what the coordinator
/// assigned it and it does not hold yet; a dead member's are the coordinator's record.
fn member_partitions(
    sim: &Sim,
    g: &Group,
    c: ConsumerId,
    assigned: &[PartitionId],
) -> Vec<(PartitionId, Mark)> {
    let cons = &sim.consumers()[c.idx()];
    if !matches!(
        cons.state(),
        ConsumerState::Active
            | ConsumerState::Joining
            | ConsumerState::Syncing
            | ConsumerState::FetchingOffsets
    ) {
        return assigned.iter().map(|&p| (p, Mark::Owned)).collect();
    }
    let mut revoking = cons.revoking();
    // KIP-848: the coordinator asked for these; the member has not reported them gone yet.
    if let Some(m) = g.members().iter().find(|m| m.consumer == c) {
        revoking.extend(m.revoking.iter().copied());
    }
    let rejoining = matches!(
        cons.state(),
        ConsumerState::Joining | ConsumerState::Syncing
    );
    let mut out: Vec<(PartitionId, Mark)> = cons
        .parts()
        .iter()
        .map(|cp| {
            let p = cp.partition;
            let mark = if revoking.contains(&p) {
                Mark::Revoking
            } else if rejoining {
                Mark::Consuming
            } else {
                Mark::Owned
            };
            (p, mark)
        })
        .collect();
    if g.state() == GroupState::Stable {
        for &p in assigned {
            if !out.iter().any(|&(x, _)| x == p) {
                out.push((p, Mark::Pending));
            }
        }
    }
    out
}

/// KIP-429: the partitions a cooperative generation assigns to nobody, because their owner
/// must revoke them first.
fn withheld(g: &Group) -> Vec<PartitionId> {
    if g.state() != GroupState::Stable || g.spec.assignor != Assignor::CooperativeSticky {
        return Vec::new();
    }
    g.partitions
        .iter()
        .copied()
        .filter(|p| !g.members().iter().any(|m| m.assignment.contains(p)))
        .collect()
}

/// KIP-848: what a member should end up with is its share of the target assignment (the
/// partitions it does not hold yet show as pending); classic: the generation's assignment.
fn goal(g: &Group, m: &crate::sim::group_coordinator::Member) -> Vec<PartitionId> {
    match g.spec.protocol {
        GroupProtocol::Classic => m.assignment.clone(),
        GroupProtocol::Consumer => m.target.clone(),
    }
}

fn consumer_protocol(g: &Group) -> bool {
    g.spec.protocol == GroupProtocol::Consumer
}

fn short_consumer(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// A line per group for the narrow layout, wrapped (indented) between members and partitions
/// so that no partition's lag is cut; a member's name stays with its first partition.
pub fn compact_lines(s: &Session, width: u16) -> Vec<Line<'static>> {
    let sim = &s.sim;
    let mut lines = Vec::new();
    for (gi, g) in sim.groups().iter().enumerate() {
        if !sim.settings().system.is_kafka() {
            let group = crate::sim::GroupId(gi as u32);
            lines.extend(super::queue::queue_lines(s, group, width, true));
            continue;
        }
        if g.spec.share.is_some() {
            let group = crate::sim::GroupId(gi as u32);
            lines.extend(super::share::share_lines(sim, group, width, true));
            continue;
        }
        let mut pieces = vec![vec![
            Span::styled(format!("{} ", g.name), theme::TITLE),
            Span::styled(
                if consumer_protocol(g) {
                    format!("epoch {} ", g.generation())
                } else {
                    format!("gen {} ", g.generation())
                },
                theme::LABEL,
            ),
            Span::styled(state_name(g.state()), state_style(g.state())),
        ]];
        pieces.push(super::coordinator::spans(
            sim,
            sim.coordinator_host(crate::sim::GroupId(gi as u32)),
            true,
        ));
        for m in g.members() {
            let cons = &sim.consumers()[m.consumer.idx()];
            let mut piece = vec![
                Span::styled(" │ ", theme::DIM),
                Span::styled(
                    short_consumer(&cons.name).to_string(),
                    consumer_style(cons.state()),
                ),
            ];
            // The colour alone would be the only sign of a member that is not consuming.
            if cons.state() != ConsumerState::Active {
                piece.push(Span::styled(
                    format!(" {}", cons.state().name()),
                    consumer_style(cons.state()),
                ));
            }
            if consumer_protocol(g) {
                piece.push(Span::styled(format!(" e{}", m.epoch), theme::LABEL));
            }
            for (i, (p, mark)) in member_partitions(sim, g, m.consumer, &goal(g, m))
                .into_iter()
                .enumerate()
            {
                if i > 0 {
                    pieces.push(std::mem::take(&mut piece));
                }
                piece.push(Span::raw(" "));
                piece.extend(partition_spans(sim, g, m.consumer, p, true));
                piece.extend(mark.tag(true));
            }
            pieces.push(piece);
        }
        lines.extend(super::wrap_pieces(pieces, width, 4));
    }
    lines
}

/// `  committed lag ▁▁▂▄▆█▆▃▁  now 3 · peak 51 at 15.762s`: the group's lag (records above its
/// committed offsets, summed over its partitions) from the start of the run to now, one column per slice of time, each the highest
/// lag in its slice. Heights, not colours, carry the figure.
fn lag_line(s: &Session, g: usize, width: u16) -> Option<Line<'static>> {
    let samples = s.metrics.lag_samples(crate::sim::GroupId(g as u32));
    let now = s.sim.now().0;
    if samples.is_empty() || now == 0 {
        return None;
    }
    let peak = samples.iter().max_by_key(|x| x.lag).copied()?;
    let current = s.metrics.lag(crate::sim::GroupId(g as u32));
    let tail = if peak.lag == 0 {
        "  none so far".to_string()
    } else {
        format!(
            "  now {current} · peak {} at {}",
            peak.lag,
            crate::report::fmt_time(crate::sim::SimTime(peak.at_us))
        )
    };
    let cols = (width as usize)
        .saturating_sub(17 + tail.chars().count())
        .min(60);
    if cols < 8 {
        return None;
    }
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let mut spark = String::with_capacity(cols * 3);
    let mut i = 0;
    let mut level = 0;
    for col in 0..cols {
        let end = now * (col as u64 + 1) / cols as u64;
        let mut high = level;
        while i < samples.len() && samples[i].at_us <= end {
            level = samples[i].lag;
            high = high.max(level);
            i += 1;
        }
        spark.push(if peak.lag == 0 {
            BARS[0]
        } else {
            BARS[((high * 7).div_ceil(peak.lag)) as usize]
        });
    }
    Some(Line::from(vec![
        Span::styled("  committed lag ", theme::LABEL),
        Span::styled(
            spark,
            if current > 0 {
                theme::PAUSED
            } else {
                theme::BOLD
            },
        ),
        Span::styled(tail, theme::DIM),
    ]))
}

impl GroupsPanel<'_> {
    /// The panel's lines at `width` (built once per frame on the main screen), up to about
    /// `max_rows`: a group or a consumer that starts below them is not formatted (the
    /// benchmark's run has twenty consumers of ten partitions each), and what does not fit is
    /// cut at the panel's bottom.
    pub fn lines(&self, width: u16, max_rows: usize) -> Vec<Line<'static>> {
        if self.compact {
            return compact_lines(self.s, width);
        }
        let sim = &self.s.sim;
        let mut lines = Vec::new();
        for (gi, g) in sim.groups().iter().enumerate() {
            if lines.len() >= max_rows {
                break;
            }
            if !sim.settings().system.is_kafka() {
                let group = crate::sim::GroupId(gi as u32);
                lines.extend(super::queue::queue_lines(self.s, group, width, false));
                continue;
            }
            if g.spec.share.is_some() {
                let group = crate::sim::GroupId(gi as u32);
                lines.extend(super::share::share_lines(sim, group, width, false));
                continue;
            }
            lines.extend(super::wrap_spans(
                vec![
                    Span::styled(format!("{}  ", g.name), theme::TITLE),
                    Span::styled(
                        if consumer_protocol(g) {
                            "group epoch "
                        } else {
                            "generation "
                        },
                        theme::LABEL,
                    ),
                    Span::styled(g.generation().to_string(), theme::BOLD),
                    Span::styled("  ", theme::LABEL),
                    Span::styled(state_name(g.state()), state_style(g.state())),
                    Span::styled(format!("  commit={}", g.spec.commit.name()), theme::DIM),
                    Span::styled(
                        match g.spec.protocol {
                            GroupProtocol::Classic => {
                                format!("  assignor={}", g.spec.assignor.name())
                            }
                            GroupProtocol::Consumer => format!(
                                "  protocol=consumer (KIP-848)  remote assignor={}",
                                match g.spec.remote_assignor {
                                    crate::sim::config::RemoteAssignor::Uniform => "uniform",
                                    crate::sim::config::RemoteAssignor::Range => "range",
                                }
                            ),
                        },
                        theme::DIM,
                    ),
                    Span::styled(if g.spec.dedup { "  dedup sink" } else { "" }, theme::DIM),
                ]
                .into_iter()
                .chain(super::coordinator::spans(
                    sim,
                    sim.coordinator_host(crate::sim::GroupId(gi as u32)),
                    false,
                ))
                .collect(),
                width,
                4,
            ));
            if let Some(line) = lag_line(self.s, gi, width) {
                lines.push(line);
            }
            let held = withheld(g);
            if !held.is_empty() {
                let names: Vec<String> = held.iter().map(|&p| sim.partition_name(p)).collect();
                lines.push(Line::from(vec![
                    Span::styled("  withheld ", theme::LABEL),
                    Span::styled(names.join(", "), theme::PAUSED),
                    Span::styled(
                        "  until their owner revokes them (cooperative, KIP-429)",
                        theme::DIM,
                    ),
                ]));
            }
            for &c in &g.consumers {
                if lines.len() >= max_rows {
                    break;
                }
                let cons = &sim.consumers()[c.idx()];
                let member = g.members().iter().find(|m| m.consumer == c);
                let mut head = vec![
                    Span::raw("  "),
                    Span::styled(
                        format!("{:<11}", short_consumer(&cons.name)),
                        consumer_style(cons.state()).add_modifier(ratatui::style::Modifier::BOLD),
                    ),
                    Span::styled(
                        format!("{:<9}", cons.state().name()),
                        consumer_style(cons.state()),
                    ),
                ];
                if let Some(m) = member.filter(|_| consumer_protocol(g)) {
                    head.push(Span::styled(format!("epoch {:<3} ", m.epoch), theme::LABEL));
                }
                let held = member.map(|m| member_partitions(sim, g, c, &goal(g, m)));
                match (member, held) {
                    (Some(_), Some(held)) if !held.is_empty() => {
                        // One row per partition, wrapped under the partition name when the
                        // column is narrow, so the mark at its end (pending, revoking) is kept.
                        for (i, (p, mark)) in held.into_iter().enumerate() {
                            if i > 0 {
                                lines.extend(super::wrap_spans(
                                    std::mem::take(&mut head),
                                    width,
                                    24,
                                ));
                                head = vec![Span::raw(" ".repeat(22))];
                            }
                            head.extend(partition_spans(sim, g, c, p, false));
                            head.extend(mark.tag(false));
                        }
                        lines.extend(super::wrap_spans(head, width, 24));
                    }
                    (Some(_), _) => {
                        head.push(Span::styled("no partitions (idle member)", theme::DIM));
                        lines.push(Line::from(head));
                    }
                    (None, _) => {
                        head.push(Span::styled("not a member", theme::DIM));
                        lines.push(Line::from(head));
                    }
                }
            }
        }
        lines
    }
}

impl Widget for GroupsPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let lines = self.lines(area.width, area.height as usize - 1);
        super::draw_panel(title(&self.s.sim), &lines, area, buf);
    }
}
