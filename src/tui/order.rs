//! The per-key order view (`o`): for each group, what it applied, one row per (producer, key)
//! stream, in the order it applied them. A repeat of an already-applied message is a
//! duplicate (yellow); a message applied for the first time after a later-sent message of the
//! same stream is an inversion (magenta); once the run has drained, messages never applied are
//! listed in red.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::{panel, put, theme};
use crate::check::MsgStatus;
use crate::session::Session;
use crate::sim::{GroupId, MsgId, ProducerId};

pub struct OrderView<'a> {
    pub app: &'a App,
    pub s: &'a Session,
}

/// At most this many applications per group are analysed (the newest).
const MAX_APPLIED: usize = 50_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    InOrder,
    Duplicate,
    Inversion,
    Lost,
}

struct Stream {
    producer: ProducerId,
    key: Option<u32>,
    cells: Vec<(u32, Mark)>,
}

fn streams(s: &Session, g: GroupId) -> Vec<Stream> {
    let sim = &s.sim;
    let applied = s.group_applied(g);
    let applied = &applied[applied.len().saturating_sub(MAX_APPLIED)..];
    let mut streams: Vec<Stream> = Vec::new();
    // Stream by (producer, key), for lookups only: the streams keep first-application order.
    let mut index: HashMap<(ProducerId, Option<u32>), usize> = HashMap::new();
    let mut seen = vec![false; sim.msg_count()];
    let mut find = |streams: &mut Vec<Stream>, producer: ProducerId, key: Option<u32>| -> usize {
        *index.entry((producer, key)).or_insert_with(|| {
            streams.push(Stream {
                producer,
                key,
                cells: Vec::new(),
            });
            streams.len() - 1
        })
    };
    let mut max_n: Vec<u32> = Vec::new();
    for &(_, m) in applied {
        let info = sim.msg(m);
        let i = find(&mut streams, info.producer, info.key);
        if max_n.len() <= i {
            max_n.resize(i + 1, 0);
        }
        let mark = if seen[m.idx()] {
            Mark::Duplicate
        } else if info.n < max_n[i] {
            Mark::Inversion
        } else {
            Mark::InOrder
        };
        seen[m.idx()] = true;
        max_n[i] = max_n[i].max(info.n);
        streams[i].cells.push((info.n, mark));
    }
    if s.checker.is_final() && sim.msg_count() <= 100_000 {
        for m in 0..sim.msg_count() {
            let id = MsgId(m as u32);
            if s.checker.message_status(g, id) == MsgStatus::Lost {
                let info = sim.msg(id);
                let i = find(&mut streams, info.producer, info.key);
                streams[i].cells.push((info.n, Mark::Lost));
            }
        }
    }
    streams
}

/// A cell's width on screen with the space after it: `#n` or `✗n`.
fn cell_width(n: u32) -> usize {
    2 + n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

fn mark_style(m: Mark) -> Style {
    match m {
        Mark::InOrder => theme::COMMITTED,
        Mark::Duplicate => theme::UNCOMMITTED,
        Mark::Inversion => Style::new()
            .fg(ratatui::style::Color::White)
            .bg(ratatui::style::Color::Magenta),
        Mark::Lost => theme::TRUNCATED,
    }
}

impl OrderView<'_> {
    /// The view's rows `from..to` (built) and how many rows it has in all (counted: only
    /// the visible rows are formatted, so a long run costs a frame what one screen costs).
    fn lines(
        &self,
        streams_by_group: &[Vec<Stream>],
        width: u16,
        from: usize,
        to: usize,
    ) -> (Vec<Line<'static>>, usize) {
        let sim = &self.s.sim;
        let mut out = Vec::new();
        let mut row = 0usize;
        let mut emit = |row: &mut usize, line: &dyn Fn() -> Line<'static>| {
            if (from..to).contains(row) {
                out.push(line());
            }
            *row += 1;
        };
        emit(&mut row, &|| {
            Line::from(vec![
                Span::styled("#n", theme::COMMITTED),
                Span::styled(" in order  ", theme::LABEL),
                Span::styled("#n", theme::UNCOMMITTED),
                Span::styled(" duplicate  ", theme::LABEL),
                Span::styled("#n", mark_style(Mark::Inversion)),
                Span::styled(" after a later one (same key)  ", theme::LABEL),
                Span::styled("✗n", theme::TRUNCATED),
                Span::styled(" never applied", theme::LABEL),
            ])
        });
        if sim.groups().is_empty() {
            emit(&mut row, &|| {
                Line::styled("no consumer groups in this scenario", theme::DIM)
            });
        }
        for ((gi, g), streams) in sim.groups().iter().enumerate().zip(streams_by_group) {
            emit(&mut row, &|| Line::raw(""));
            emit(&mut row, &|| {
                let mut head = vec![Span::styled(format!("{} ", g.name), theme::TITLE)];
                if let Some(o) = self.s.outcome().groups.get(gi) {
                    head.push(Span::styled(
                        format!(
                            "applied {} · duplicated {} · reordered {} · lost {}",
                            o.applied, o.duplicated, o.reordered, o.lost
                        ),
                        theme::LABEL,
                    ));
                }
                Line::from(head)
            });
            if streams.is_empty() {
                emit(&mut row, &|| {
                    Line::styled("  nothing applied yet", theme::DIM)
                });
            }
            let name = |st: &Stream| {
                let p = &sim.producers()[st.producer.idx()].name;
                let k = st.key.map_or("(no key)", |k| sim.key_name(k));
                (p, k)
            };
            let key_w = streams
                .iter()
                .map(|st| {
                    let (p, k) = name(st);
                    theme::width(p) + theme::width(k) + 3
                })
                .max()
                .unwrap_or(10)
                .min(28);
            for st in streams {
                // Count the stream's rows as the wrapping below makes them; build them only
                // if one is visible.
                let mut rows = 1;
                let mut w = key_w + 3;
                for &(n, _) in &st.cells {
                    let cw = cell_width(n);
                    if w + cw > width as usize {
                        rows += 1;
                        w = key_w + 3;
                    }
                    w += cw;
                }
                if row + rows <= from || row >= to {
                    row += rows;
                    continue;
                }
                let (p, k) = name(st);
                let name = theme::fit(&format!("{p} · {k}"), key_w);
                let mut spans = vec![Span::styled(format!("  {name:<key_w$} "), theme::BOLD)];
                let mut w = key_w + 3;
                for &(n, mark) in &st.cells {
                    let cw = cell_width(n);
                    if w + cw > width as usize {
                        let line = Line::from(std::mem::take(&mut spans));
                        emit(&mut row, &|| line.clone());
                        spans.push(Span::raw(" ".repeat(key_w + 3)));
                        w = key_w + 3;
                    }
                    let cell = if mark == Mark::Lost {
                        format!("✗{n}")
                    } else {
                        format!("#{n}")
                    };
                    spans.push(Span::styled(cell, mark_style(mark)));
                    spans.push(Span::raw(" "));
                    w += cw;
                }
                let line = Line::from(spans);
                emit(&mut row, &|| line.clone());
            }
        }
        (out, row)
    }
}

impl Widget for OrderView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = panel(
            "Order per key: what each group applied",
            "↑↓ scroll · o back",
            area,
            buf,
        );
        let height = inner.height as usize;
        // The row count first (nothing formatted), then only the rows on screen.
        let streams: Vec<Vec<Stream>> = (0..self.s.sim.groups().len())
            .map(|g| streams(self.s, GroupId(g as u32)))
            .collect();
        let (_, total) = self.lines(&streams, inner.width, 0, 0);
        let start = self.app.order_scroll.min(total.saturating_sub(height));
        let (lines, _) = self.lines(&streams, inner.width, start, start + height);
        for (y, line) in lines.iter().enumerate() {
            put(buf, inner, y as u16, line);
        }
    }
}
