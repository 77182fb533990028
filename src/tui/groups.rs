//! The consumer-groups panel: generation and state, then each member with its assigned
//! partitions and, per partition, the position, the committed offset and the lag.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{panel, put, theme};
use crate::session::Session;
use crate::sim::consumer::{ConsumerState, Group, GroupState};
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
        .and_then(|i| g.committed[i]);
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

fn short_consumer(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// One line per group, for the narrow layout.
pub fn compact_lines(s: &Session, _width: u16) -> Vec<Line<'static>> {
    let sim = &s.sim;
    sim.groups()
        .iter()
        .map(|g| {
            let mut spans = vec![
                Span::styled(format!("{} ", g.name), theme::TITLE),
                Span::styled(format!("gen {} ", g.generation), theme::LABEL),
                Span::styled(state_name(g.state), state_style(g.state)),
            ];
            for m in &g.members {
                let cons = &sim.consumers()[m.consumer.idx()];
                spans.push(Span::styled(" │ ", theme::DIM));
                spans.push(Span::styled(
                    short_consumer(&cons.name).to_string(),
                    consumer_style(cons.state()),
                ));
                for &p in &m.assignment {
                    spans.push(Span::raw(" "));
                    spans.extend(partition_spans(sim, g, m.consumer, p, true));
                }
            }
            Line::from(spans)
        })
        .collect()
}

impl GroupsPanel<'_> {
    fn lines(&self, width: u16) -> Vec<Line<'static>> {
        if self.compact {
            return compact_lines(self.s, width);
        }
        let sim = &self.s.sim;
        let mut lines = Vec::new();
        for g in sim.groups() {
            lines.push(Line::from(vec![
                Span::styled(format!("{}  ", g.name), theme::TITLE),
                Span::styled("generation ", theme::LABEL),
                Span::styled(g.generation.to_string(), theme::BOLD),
                Span::styled("  ", theme::LABEL),
                Span::styled(state_name(g.state), state_style(g.state)),
                Span::styled(
                    format!(
                        "  commit={}  assignor={}{}",
                        g.spec.commit.name(),
                        g.spec.assignor.name(),
                        if g.spec.dedup { "  dedup sink" } else { "" }
                    ),
                    theme::DIM,
                ),
            ]));
            for &c in &g.consumers {
                let cons = &sim.consumers()[c.idx()];
                let member = g.members.iter().find(|m| m.consumer == c);
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
                match member {
                    Some(m) if !m.assignment.is_empty() => {
                        for (i, &p) in m.assignment.iter().enumerate() {
                            if i > 0 {
                                lines.push(Line::from(std::mem::take(&mut head)));
                                head = vec![Span::raw(" ".repeat(22))];
                            }
                            head.extend(partition_spans(sim, g, c, p, false));
                        }
                        lines.push(Line::from(head));
                    }
                    Some(_) => {
                        head.push(Span::styled("no partitions (idle member)", theme::DIM));
                        lines.push(Line::from(head));
                    }
                    None => {
                        head.push(Span::styled("not a member", theme::DIM));
                        lines.push(Line::from(head));
                    }
                }
            }
        }
        lines
    }

    pub fn height(&self, width: u16) -> u16 {
        1 + self.lines(width).len() as u16
    }
}

impl Widget for GroupsPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let inner = panel("Consumer groups", "", area, buf);
        for (i, line) in self.lines(inner.width).iter().enumerate() {
            put(buf, inner, i as u16, line);
        }
    }
}
