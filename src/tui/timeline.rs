//! The timeline strip under the header: the run from 0 to its end as one row of cells, the
//! notable moments so far as letters (`E` election, `X` crash or fault, `L` loss, `R`
//! rebalance, `I` ISR change, `!` anomaly, `n` note: the glossary lists them), `─` for time
//! already run, `·` for time ahead with the scenario's scripted faults as `x`, and `▼` at now.
//! A click on a column jumps there ([`target`]). Marks come from the session's index
//! ([`crate::marks::Marks`]), a few binary searches per column.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;

use super::theme;
use crate::marks::MarkKind;
use crate::session::Session;
use crate::sim::SimTime;

pub struct Timeline<'a> {
    pub s: &'a Session,
    /// The time to show as now (the playback clock while playing).
    pub now: SimTime,
}

/// Where the cells are in a strip `width` columns wide, and the time each stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Columns before the first cell.
    pub x0: u16,
    pub cells: u16,
    /// The time the strip ends at (µs): the scripted end, or later once the run has gone on.
    pub end: u64,
}

/// ` 0 ` before the cells.
const LEFT: &str = " 0 ";
/// Widths from which the strip adds a legend after the end time.
const LEGEND_FROM: u16 = 150;
const LEGEND: &str = "  E election X crash/fault L loss R rebalance I ISR ! anomaly n note";

impl Geometry {
    pub fn new(s: &Session, now: SimTime, width: u16) -> Geometry {
        let scripted = s.scenario.scenario.stop_at_ms.saturating_mul(1000);
        let end = scripted
            .max(now.0)
            .max(s.marks.last_time().map_or(0, |t| t.0))
            .max(1);
        let right = end_label(end).len() as u16 + 2;
        let legend = if width >= LEGEND_FROM {
            LEGEND.len() as u16
        } else {
            0
        };
        Geometry {
            x0: LEFT.len() as u16,
            cells: width.saturating_sub(LEFT.len() as u16 + right + legend),
            end,
        }
    }

    /// The simulated times cell `c` covers: `[from, to)`.
    pub fn span(&self, c: u16) -> (SimTime, SimTime) {
        let n = self.cells.max(1) as u64;
        (
            SimTime(self.end * c as u64 / n),
            SimTime(self.end * (c as u64 + 1) / n),
        )
    }

    /// The cell holding time `t`.
    pub fn cell_of(&self, t: SimTime) -> u16 {
        let n = self.cells.max(1) as u64;
        ((t.0.saturating_mul(n) / self.end).min(n - 1)) as u16
    }
}

fn end_label(end_us: u64) -> String {
    format!("{:.1}s", end_us as f64 / 1e6)
}

/// Where a click on column `x` of the strip goes: the event count of the most important mark in
/// that cell (or the next cell either side), or, ahead of now, the time to run to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Event(u64, MarkKind),
    Time(SimTime),
}

pub fn target(s: &Session, now: SimTime, width: u16, x: u16) -> Option<Target> {
    let g = Geometry::new(s, now, width);
    let c = x.checked_sub(g.x0).filter(|&c| c < g.cells)?;
    for dc in [0i32, -1, 1] {
        let Some(cell) = c.checked_add_signed(dc as i16).filter(|&c| c < g.cells) else {
            continue;
        };
        let (from, to) = g.span(cell);
        if let Some((kind, m)) = s.marks.top_in(from, to) {
            return Some(Target::Event(m.event, kind));
        }
    }
    let (from, _) = g.span(c);
    (from > now).then_some(Target::Time(from))
}

/// Scripted faults (the scenario's, not yet fired) in `[from, to)`.
fn scripted_fault_in(s: &Session, from: SimTime, to: SimTime, now: SimTime) -> bool {
    s.scenario.faults.iter().any(|f| {
        let t = SimTime(f.at_ms.saturating_mul(1000));
        t > now && t >= from && t < to
    })
}

impl Widget for Timeline<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width < 20 {
            return;
        }
        let s = self.s;
        let g = Geometry::new(s, self.now, area.width);
        let right = area.x + area.width;
        let y = area.y;
        let base = Style::new().bg(Color::Black);
        buf.set_style(area, base);
        super::text_at(buf, area.x, y, LEFT, theme::DIM, right);
        let now_cell = g.cell_of(self.now);
        for c in 0..g.cells {
            let (from, to) = g.span(c);
            let (glyph, style) = if let Some((kind, _)) = s.marks.top_in(from, to) {
                (kind.glyph(), mark_style(kind))
            } else if c == now_cell {
                ('▼', theme::KEY)
            } else if c < now_cell {
                ('─', theme::LABEL)
            } else if scripted_fault_in(s, from, to, self.now) {
                ('x', theme::DIM.add_modifier(Modifier::BOLD))
            } else {
                ('·', theme::DIM)
            };
            let style = if c == now_cell {
                style.add_modifier(Modifier::REVERSED)
            } else {
                style
            };
            buf[(area.x + g.x0 + c, y)].set_char(glyph).set_style(style);
        }
        let mut x = area.x + g.x0 + g.cells;
        x = super::text_at(buf, x, y, " ", base, right);
        x = super::text_at(buf, x, y, &end_label(g.end), theme::DIM, right);
        if area.width >= LEGEND_FROM {
            super::text_at(buf, x, y, LEGEND, theme::DIM, right);
        }
    }
}

fn mark_style(k: MarkKind) -> Style {
    use crate::session::LogKind;
    let kind = match k {
        MarkKind::Loss => LogKind::Truncation,
        MarkKind::Fault => LogKind::Fault,
        MarkKind::Election => LogKind::Election,
        MarkKind::Anomaly => LogKind::Anomaly,
        MarkKind::Rebalance => LogKind::Rebalance,
        MarkKind::Isr => LogKind::Isr,
        MarkKind::Note => LogKind::Narration,
    };
    theme::log_style(kind).add_modifier(Modifier::BOLD)
}
