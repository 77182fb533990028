//! The per-key order view (`o`): for each group, what it applied, one row per (producer, key)
//! stream, in the order it applied them. A repeat of an already-applied message is a
//! duplicate (yellow); a message applied for the first time after a later-sent message of the
//! same stream is an inversion (magenta); once the run has drained, messages never applied are
//! listed in red.

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
    let mut seen = vec![false; sim.msg_count()];
    let find = |streams: &mut Vec<Stream>, producer: ProducerId, key: Option<u32>| -> usize {
        match streams
            .iter()
            .position(|st| st.producer == producer && st.key == key)
        {
            Some(i) => i,
            None => {
                streams.push(Stream {
                    producer,
                    key,
                    cells: Vec::new(),
                });
                streams.len() - 1
            }
        }
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
    fn lines(&self, width: u16) -> Vec<Line<'static>> {
        let sim = &self.s.sim;
        let mut lines = vec![Line::from(vec![
            Span::styled("#n", theme::COMMITTED),
            Span::styled(" in order  ", theme::LABEL),
            Span::styled("#n", theme::UNCOMMITTED),
            Span::styled(" duplicate  ", theme::LABEL),
            Span::styled("#n", mark_style(Mark::Inversion)),
            Span::styled(" after a later one (same key)  ", theme::LABEL),
            Span::styled("✗n", theme::TRUNCATED),
            Span::styled(" never applied", theme::LABEL),
        ])];
        if sim.groups().is_empty() {
            lines.push(Line::styled(
                "no consumer groups in this scenario",
                theme::DIM,
            ));
        }
        for (gi, g) in sim.groups().iter().enumerate() {
            let gid = GroupId(gi as u32);
            let o = self.s.outcome().groups.get(gi);
            lines.push(Line::raw(""));
            let mut head = vec![Span::styled(format!("{} ", g.name), theme::TITLE)];
            if let Some(o) = o {
                head.push(Span::styled(
                    format!(
                        "applied {} · duplicated {} · reordered {} · lost {}",
                        o.applied, o.duplicated, o.reordered, o.lost
                    ),
                    theme::LABEL,
                ));
            }
            lines.push(Line::from(head));
            let streams = streams(self.s, gid);
            if streams.is_empty() {
                lines.push(Line::styled("  nothing applied yet", theme::DIM));
            }
            let key_w = streams
                .iter()
                .map(|st| {
                    let p = &sim.producers()[st.producer.idx()].name;
                    let k = st.key.map_or("(no key)", |k| sim.key_name(k));
                    theme::width(p) + theme::width(k) + 3
                })
                .max()
                .unwrap_or(10)
                .min(28);
            for st in streams {
                let p = &sim.producers()[st.producer.idx()].name;
                let k = st.key.map_or("(no key)", |k| sim.key_name(k));
                let name = theme::fit(&format!("{p} · {k}"), key_w);
                let mut spans = vec![Span::styled(format!("  {name:<key_w$} "), theme::BOLD)];
                let mut w = key_w + 3;
                for (n, mark) in st.cells {
                    let cell = if mark == Mark::Lost {
                        format!("✗{n}")
                    } else {
                        format!("#{n}")
                    };
                    let cw = theme::width(&cell) + 1;
                    if w + cw > width as usize {
                        lines.push(Line::from(std::mem::take(&mut spans)));
                        spans.push(Span::raw(" ".repeat(key_w + 3)));
                        w = key_w + 3;
                    }
                    spans.push(Span::styled(cell, mark_style(mark)));
                    spans.push(Span::raw(" "));
                    w += cw;
                }
                lines.push(Line::from(spans));
            }
        }
        lines
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
        let lines = self.lines(inner.width);
        let start = self
            .app
            .order_scroll
            .min(lines.len().saturating_sub(inner.height as usize));
        for (y, line) in lines
            .iter()
            .skip(start)
            .take(inner.height as usize)
            .enumerate()
        {
            put(buf, inner, y as u16, line);
        }
    }
}
