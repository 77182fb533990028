//! The per-key order view (`o`): for each group, what it applied, one row per (producer, key)
//! stream, in the order it applied them. Each kind of cell has its own glyph as well as its
//! colour: `#n` applied in order, `+n` applied again (a duplicate), `<n` first applied after a
//! later-sent message of the same stream (reordered), and once the run has drained `✗n` for a
//! message never applied. The streams come from the session's order index, so a frame formats
//! only the rows on screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::{panel, put, theme};
use crate::order_index::{Cell, GroupOrder, Mark, Stream, stream_name};
use crate::session::Session;

pub struct OrderView<'a> {
    pub app: &'a App,
    pub s: &'a Session,
}

/// The glyph before a cell's number: each mark has its own, so colour is never the only sign.
fn glyph(m: Mark) -> char {
    match m {
        Mark::InOrder => '#',
        Mark::Duplicate => '+',
        Mark::Reordered => '<',
        Mark::Lost => '✗',
    }
}

fn mark_style(m: Mark) -> Style {
    match m {
        Mark::InOrder => theme::COMMITTED,
        Mark::Duplicate => theme::UNCOMMITTED,
        Mark::Reordered => Style::new()
            .fg(ratatui::style::Color::White)
            .bg(ratatui::style::Color::Magenta),
        Mark::Lost => theme::TRUNCATED,
    }
}

/// The legend: every glyph with what it means, wrapped to `width` between entries.
fn legend(width: u16) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let (mut spans, mut w) = (Vec::new(), 0);
    for (mark, what) in [
        (Mark::InOrder, " in order"),
        (Mark::Duplicate, " applied again (duplicate)"),
        (
            Mark::Reordered,
            " applied after a later one of its key (reordered)",
        ),
        (Mark::Lost, " never applied"),
    ] {
        let entry_w = 2 + theme::width(what) + 2;
        if w > 0 && w + entry_w > width as usize {
            lines.push(Line::from(std::mem::take(&mut spans)));
            w = 0;
        }
        spans.push(Span::styled(format!("{}n", glyph(mark)), mark_style(mark)));
        spans.push(Span::styled(format!("{what}  "), theme::LABEL));
        w += entry_w;
    }
    lines.push(Line::from(spans));
    lines
}

/// How one group's streams are laid out: every cell has the same width (the widest send
/// number of the run), so a stream's row count is a division, not a walk over its cells.
struct Layout {
    key_w: usize,
    cell_w: usize,
    per_row: usize,
}

impl Layout {
    fn rows(&self, st: &Stream) -> usize {
        st.cells.len().div_ceil(self.per_row).max(1)
    }
}

impl OrderView<'_> {
    fn stream_name(&self, st: &Stream) -> (&str, &str) {
        stream_name(&self.s.sim, st.producer, st.key)
    }

    fn layout(&self, g: &GroupOrder, width: u16) -> Layout {
        // The index keeps the widest label, so no frame measures every stream.
        let key_w = g.widest_label().unwrap_or(10).min(28);
        // One glyph, the digits of the highest send number possible, one space.
        let digits = (self.s.sim.msg_count().max(1) as u32).ilog10() as usize + 1;
        let cell_w = digits + 2;
        let per_row = (width as usize).saturating_sub(key_w + 3) / cell_w;
        Layout {
            key_w,
            cell_w,
            per_row: per_row.max(1),
        }
    }

    /// Row `r` of a stream: its name on the first, then its cells.
    fn stream_row(&self, st: &Stream, lay: &Layout, r: usize) -> Line<'static> {
        let key_w = lay.key_w;
        let mut spans = Vec::with_capacity(2 * lay.per_row + 1);
        if r == 0 {
            let (p, k) = self.stream_name(st);
            let name = theme::fit(&format!("{p} · {k}"), key_w);
            spans.push(Span::styled(format!("  {name:<key_w$} "), theme::BOLD));
        } else {
            spans.push(Span::raw(" ".repeat(key_w + 3)));
        }
        let from = (r * lay.per_row).min(st.cells.len());
        let to = (from + lay.per_row).min(st.cells.len());
        for &Cell { n, mark, .. } in &st.cells[from..to] {
            let cell = format!("{}{n}", glyph(mark));
            let pad = lay.cell_w.saturating_sub(theme::width(&cell));
            spans.push(Span::styled(cell, mark_style(mark)));
            spans.push(Span::raw(" ".repeat(pad)));
        }
        Line::from(spans)
    }

    /// The view's rows `from..to` (built) and how many rows it has: all of them if fewer than
    /// `count_to`, else at least `count_to` (counting stops there). Rows are counted a stream
    /// at a time (a division each), and only the rows on screen are formatted.
    fn lines(
        &self,
        width: u16,
        from: usize,
        to: usize,
        count_to: usize,
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
        for line in legend(width) {
            emit(&mut row, &|| line.clone());
        }
        if sim.groups().is_empty() {
            emit(&mut row, &|| {
                Line::styled("no consumer groups in this scenario", theme::DIM)
            });
        }
        for ((gi, g), order) in sim.groups().iter().enumerate().zip(&self.s.order) {
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
            if order.streams.is_empty() {
                emit(&mut row, &|| {
                    Line::styled("  nothing applied yet", theme::DIM)
                });
                continue;
            }
            let lay = self.layout(order, width);
            for st in &order.streams {
                if row >= count_to {
                    // Enough counted: the rows below are not needed this frame.
                    return (out, row);
                }
                let rows = lay.rows(st);
                if row + rows <= from || row >= to {
                    row += rows;
                    continue;
                }
                // Only the stream's rows on screen are visited.
                let (first, last) = (from.saturating_sub(row), rows.min(to - row));
                row += first;
                for r in first..last {
                    emit(&mut row, &|| self.stream_row(st, &lay, r));
                }
                row += rows - last;
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
        // The rows counted first (nothing formatted) as far as the scroll position needs, so
        // that a frame costs what the streams above the screen cost, not every stream of a long
        // run; then only the rows on screen are built.
        let want = self.app.order_scroll + height;
        let (_, counted) = self.lines(inner.width, 0, 0, want);
        let start = self.app.order_scroll.min(counted.saturating_sub(height));
        let end = start + height;
        let (lines, _) = self.lines(inner.width, start, end, end);
        for (y, line) in lines.iter().enumerate() {
            put(buf, inner, y as u16, line);
        }
    }
}
