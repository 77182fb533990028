//! The event log: every narrated trace line, newest at the bottom. Scenario notes are
//! highlighted; elections, ISR changes, truncations, rebalances, errors and anomalies each have
//! their colour. Long lines wrap under the text column. After a live fault, the notes that
//! follow were written for the scripted run: they are dimmed and prefixed with a word saying so,
//! never shown as if true of this run.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::{panel, put, theme};
use crate::session::{LogKind, SCRIPTED_RUN_MARK, Session};

pub struct LogPanel<'a> {
    pub app: &'a App,
    pub s: &'a Session,
}

/// The time column is as wide as the newest entry's time (times only grow), so a short run
/// does not pay for `123.456s` on every row.
fn time_width(log: &std::collections::VecDeque<crate::session::LogLine>) -> usize {
    log.back()
        .map_or(6, |l| theme::width(&theme::time(l.time)))
        .max(6)
}

impl Widget for LogPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let log = &self.s.log;
        let scroll = self.app.log_scroll.min(log.len().saturating_sub(1));
        let hint = if scroll > 0 {
            format!("↑{scroll} older · End to follow")
        } else {
            "PgUp/PgDn scroll".to_string()
        };
        let inner = panel("Event log", &hint, area, buf);
        if log.is_empty() {
            put(
                buf,
                inner,
                0,
                &Line::styled(
                    "nothing has happened yet: press space to play or → to step",
                    theme::DIM,
                ),
            );
            return;
        }
        let time_w = time_width(log);
        let text_w = (inner.width as usize).saturating_sub(time_w + 1).max(10);
        // Collect rows from the newest entry upward until the panel is full.
        let mut rows: Vec<Line<'static>> = Vec::new();
        let h = inner.height as usize;
        let newest_event = log.back().map(|l| l.event);
        let departed_at = self.s.departed_at();
        for line in log.iter().rev().skip(scroll) {
            let scripted = Session::written_for_script(line, departed_at);
            let mut style = if scripted {
                theme::DIM.add_modifier(ratatui::style::Modifier::ITALIC)
            } else {
                theme::log_style(line.kind)
            };
            if Some(line.event) == newest_event
                && scroll == 0
                && matches!(line.kind, LogKind::Flow | LogKind::Run)
            {
                style = style.add_modifier(ratatui::style::Modifier::BOLD);
            }
            let wrapped = if scripted {
                theme::wrap(&format!("{SCRIPTED_RUN_MARK} {}", line.text), text_w)
            } else {
                theme::wrap(&line.text, text_w)
            };
            if !rows.is_empty() && rows.len() + wrapped.len() > h {
                // Only whole entries: a cut-off continuation at the top reads badly.
                break;
            }
            for (i, part) in wrapped.into_iter().enumerate().rev() {
                let time = if i == 0 {
                    Span::styled(
                        format!("{:>w$} ", theme::time(line.time), w = time_w),
                        theme::DIM,
                    )
                } else {
                    Span::raw(" ".repeat(time_w + 1))
                };
                rows.push(Line::from(vec![time, Span::styled(part, style)]));
            }
            if rows.len() >= h {
                break;
            }
        }
        let skip = rows.len().saturating_sub(h);
        for (y, row) in rows.iter().rev().skip(skip).enumerate() {
            put(buf, inner, y as u16, row);
        }
    }
}
