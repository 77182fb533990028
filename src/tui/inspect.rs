//! The message inspector (`i`): a menu of messages worth a look (anomalies, truncated records,
//! the selected partition's log), then one message's life so far with the cause of each step.
//! Enter on a step goes to that moment of the run.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Widget};

use super::app::{InspectMenu, Inspector};
use super::{panel, put, theme};

pub struct InspectMenuView<'a> {
    pub menu: &'a InspectMenu,
}

impl Widget for InspectMenuView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let items = &self.menu.items;
        let wanted_h = (items.len() as u16).min(20) + 3;
        let popup = super::popup(area, 72, wanted_h, buf);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(theme::TITLE)
            .title(Line::styled(" Inspect a message ", theme::TITLE))
            .title_bottom(
                Line::styled(" ↑↓ choose · Enter inspect · Esc cancel ", theme::DIM)
                    .right_aligned(),
            );
        let inner = block.inner(popup);
        block.render(popup, buf);
        put(
            buf,
            inner,
            0,
            &Line::styled(
                "⚠ anomaly  ✗ truncated  ● committed (below HW)  ○ not yet committed",
                theme::DIM,
            ),
        );
        let rows = inner.height.saturating_sub(1) as usize;
        let start = self.menu.selected.saturating_sub(rows.saturating_sub(1));
        let w = inner.width.saturating_sub(2) as usize;
        for (i, item) in items.iter().enumerate().skip(start).take(rows) {
            let text = theme::fit(&item.label, w);
            let line = if i == self.menu.selected {
                Line::styled(format!("▸ {text:<w$}"), theme::SELECTED)
            } else {
                Line::from(vec![Span::raw("  "), Span::styled(text, theme::LABEL)])
            };
            put(buf, inner, (i - start + 1) as u16, &line);
        }
    }
}

pub struct InspectView<'a> {
    pub ins: &'a Inspector,
}

impl Widget for InspectView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let ins = self.ins;
        let title = format!("The life of {} so far", ins.name);
        let inner = panel(&title, "↑↓ step · Enter go there · i back", area, buf);
        if ins.steps.is_empty() {
            put(
                buf,
                inner,
                0,
                &Line::styled("nothing has happened to it yet", theme::DIM),
            );
            return;
        }
        // The selected step in full and its cause below the list.
        let detail_h = 5usize.min(inner.height as usize / 2);
        let list_h = (inner.height as usize).saturating_sub(detail_h);
        let start = ins.selected.saturating_sub(list_h.saturating_sub(1));
        let w = inner.width as usize;
        for (row, (i, st)) in ins
            .steps
            .iter()
            .enumerate()
            .skip(start)
            .take(list_h)
            .enumerate()
        {
            let text = format!(
                "{:>9}  {:>7}  {}",
                theme::time(st.step.time),
                st.step.id.to_string(),
                st.step.text.trim_start()
            );
            let line = if i == ins.selected {
                Line::styled(
                    format!("▸{:<w$}", theme::fit(&text, w - 1)),
                    theme::SELECTED,
                )
            } else {
                Line::styled(format!(" {}", theme::fit(&text, w - 1)), theme::LABEL)
            };
            put(buf, inner, row as u16, &line);
        }
        let Some(st) = ins.steps.get(ins.selected) else {
            return;
        };
        let mut y = list_h as u16;
        put(buf, inner, y, &Line::styled("─".repeat(w), theme::DIM));
        y += 1;
        let what = theme::wrap(st.step.text.trim_start(), w);
        let cause = theme::wrap(&format!("caused by {}", st.because), w);
        let rows = detail_h.saturating_sub(1);
        let what_rows = what
            .len()
            .min(rows.saturating_sub(cause.len().min(2)).max(1));
        for part in what.into_iter().take(what_rows) {
            put(buf, inner, y, &Line::styled(part, theme::BOLD));
            y += 1;
        }
        for part in cause.into_iter().take(rows.saturating_sub(what_rows)) {
            put(buf, inner, y, &Line::styled(part, theme::LABEL));
            y += 1;
        }
    }
}
