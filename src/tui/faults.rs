//! The fault menu (`f`): faults that make sense right now, each one a scenario `Fault` that
//! goes through `Session::inject`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Widget};

use super::app::FaultMenu;
use super::{put, theme};
use crate::session::Session;

pub struct FaultMenuView<'a> {
    pub menu: &'a FaultMenu,
    pub s: &'a Session,
}

impl Widget for FaultMenuView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let items = &self.menu.items;
        let wanted_h = items.len() as u16 + 4;
        let popup = super::popup(area, 72, wanted_h, buf);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(theme::FENCED)
            .title(Line::styled(
                format!(" Inject a fault now (t={}) ", theme::time(self.s.now())),
                theme::TITLE,
            ))
            .title_bottom(
                Line::styled(" ↑↓ choose · Enter inject · Esc cancel ", theme::DIM).right_aligned(),
            );
        let inner = block.inner(popup);
        block.render(popup, buf);
        put(
            buf,
            inner,
            0,
            &Line::styled(
                "Recorded with its time: rewinding replays it, s saves it.",
                theme::DIM,
            ),
        );
        let rows = inner.height.saturating_sub(1) as usize;
        let start = self.menu.selected.saturating_sub(rows.saturating_sub(1));
        for (i, item) in items.iter().enumerate().skip(start).take(rows) {
            let sel = i == self.menu.selected;
            let num = if i < 9 {
                format!(" {} ", i + 1)
            } else {
                "   ".into()
            };
            let text = theme::fit(&item.label, inner.width.saturating_sub(4) as usize);
            let line = if sel {
                Line::from(vec![
                    Span::styled(format!("▸{num}"), theme::SELECTED),
                    Span::styled(
                        format!("{text:<w$}", w = inner.width.saturating_sub(4) as usize),
                        theme::SELECTED,
                    ),
                ])
            } else {
                Line::from(vec![
                    Span::styled(format!(" {num}"), theme::KEY),
                    Span::styled(text, theme::LABEL),
                ])
            };
            put(buf, inner, (i - start + 1) as u16, &line);
        }
    }
}
