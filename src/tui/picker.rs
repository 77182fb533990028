//! The scenario picker (`brokerlab` with no arguments): the bundled scenarios grouped by the
//! guarantee they demonstrate, with the selected one's title, summary and tags below.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::{panel, put, theme};

pub struct PickerView<'a> {
    pub app: &'a App,
}

impl Widget for PickerView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Some(p) = &self.app.picker else {
            return;
        };
        let [top, _, rest, bottom] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        let wanted = list_rows(p) as u16;
        let [list, detail, _] = Layout::vertical([
            Constraint::Length(wanted.min(rest.height.saturating_sub(7))),
            Constraint::Length(7),
            Constraint::Fill(1),
        ])
        .areas(rest);
        buf.set_style(top, Style::new().bg(Color::Blue).fg(Color::White));
        put(
            buf,
            top,
            0,
            &Line::from(vec![
                Span::styled(" BrokerLab", Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(" — watch message queues keep or break their delivery promises"),
            ]),
        );
        put(
            buf,
            top,
            1,
            &Line::raw(" Pick a scenario. Each one demonstrates a guarantee (or its absence)."),
        );

        // Rows: a heading per guarantee, then its scenarios.
        let mut rows: Vec<(Option<usize>, Line)> = Vec::new();
        let mut last = None;
        let name_w = p.entries.iter().map(|e| e.name.len()).max().unwrap_or(10);
        for (i, e) in p.entries.iter().enumerate() {
            if last != Some(e.guarantee) {
                if last.is_some() {
                    rows.push((None, Line::raw("")));
                }
                rows.push((
                    None,
                    Line::styled(format!(" {}", e.guarantee.name()), theme::TITLE),
                ));
                last = Some(e.guarantee);
            }
            let sel = i == p.selected;
            let title_w = (list.width as usize).saturating_sub(name_w + 7);
            let line = if sel {
                Line::from(vec![
                    Span::styled(format!(" ▸ {:<name_w$}  ", e.name), theme::SELECTED),
                    Span::styled(
                        format!("{:<title_w$}", theme::fit(&e.title, title_w)),
                        theme::SELECTED,
                    ),
                ])
            } else {
                Line::from(vec![
                    Span::styled(format!("   {:<name_w$}  ", e.name), theme::BOLD),
                    Span::styled(theme::fit(&e.title, title_w), theme::LABEL),
                ])
            };
            rows.push((Some(i), line));
        }
        let h = if rows.len() > list.height as usize {
            (list.height as usize).saturating_sub(1)
        } else {
            list.height as usize
        };
        let sel_row = rows
            .iter()
            .position(|(i, _)| *i == Some(p.selected))
            .unwrap_or(0);
        let start = if rows.len() <= h {
            0
        } else {
            (sel_row + 2).saturating_sub(h).min(rows.len() - h)
        };
        for (y, (_, line)) in rows.iter().skip(start).take(h).enumerate() {
            put(buf, list, y as u16, line);
        }
        if start + h < rows.len() && h > 0 {
            let more = Line::styled(format!("↓ {} more", rows.len() - start - h), theme::DIM)
                .right_aligned();
            put(buf, list, h as u16, &more);
        }

        if let Some(e) = p.entries.get(p.selected) {
            let inner = panel(&e.name, e.guarantee.name(), detail, buf);
            let mut y = 0;
            for row in theme::wrap(&e.title, inner.width as usize - 1) {
                put(buf, inner, y, &Line::styled(format!(" {row}"), theme::BOLD));
                y += 1;
            }
            for row in theme::wrap(&e.summary, inner.width as usize - 1) {
                if y + 1 >= inner.height {
                    break;
                }
                put(
                    buf,
                    inner,
                    y,
                    &Line::styled(format!(" {row}"), theme::LABEL),
                );
                y += 1;
            }
            if !e.tags.is_empty() {
                // Whole tags only: where they do not all fit, the line ends with how many
                // more there are, never in the middle of one.
                let mut spans = vec![Span::styled(" tags ", theme::DIM)];
                let room = (inner.width as usize).saturating_sub(" tags ".len());
                let mut used = 0;
                for (i, t) in e.tags.iter().enumerate() {
                    let tag = format!("‹{t}› ");
                    let left = e.tags.len() - i - 1;
                    let more = if left > 0 {
                        theme::width(&format!("+{left} more"))
                    } else {
                        0
                    };
                    if used + theme::width(&tag) + more > room {
                        spans.push(Span::styled(
                            format!("+{} more", e.tags.len() - i),
                            theme::DIM,
                        ));
                        break;
                    }
                    used += theme::width(&tag);
                    spans.push(Span::styled(tag, theme::FENCED));
                }
                put(
                    buf,
                    inner,
                    inner.height.saturating_sub(1).max(y),
                    &Line::from(spans),
                );
            }
        }
        buf.set_style(bottom, Style::new().bg(Color::Black));
        let mut spans = vec![];
        for (k, what) in [("↑↓", "choose"), ("Enter", "open"), ("q", "quit")] {
            spans.push(Span::styled(format!(" {k}"), theme::KEY));
            spans.push(Span::styled(format!(" {what} "), theme::LABEL));
        }
        if let Some(st) = &self.app.status {
            spans.push(Span::styled(
                format!("  {st}"),
                Style::new().fg(Color::LightYellow),
            ));
        } else {
            // The shorter words where the long ones would not fit (80 columns).
            let used: usize = spans.iter().map(|s| theme::width(&s.content)).sum();
            let long = "  then: space play · → step · f inject a fault · ? help";
            let hint = if used + theme::width(long) <= bottom.width as usize {
                long
            } else {
                "  then: space play · → step · f fault · ? help"
            };
            spans.push(Span::styled(hint, theme::DIM));
        }
        put(buf, bottom, 0, &Line::from(spans));
    }
}

/// Rows the list needs: a heading per guarantee, a blank line between groups, the entries.
fn list_rows(p: &super::app::Picker) -> usize {
    let mut groups = 0;
    let mut last = None;
    for e in &p.entries {
        if last != Some(e.guarantee) {
            groups += 1;
            last = Some(e.guarantee);
        }
    }
    p.entries.len() + groups * 2 - 1
}
