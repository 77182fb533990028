//! The help overlay (`?`): every key, and what the colours mean.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Widget};

use super::app::App;
use super::{put, theme};

pub struct Help<'a> {
    pub app: &'a App,
}

/// Every key of the main screen: (keys, what it does). The README's key table matches this.
pub const KEYS: &[(&str, &str)] = &[
    ("space", "play / pause"),
    ("→  n", "step: run to the next event that writes a log line"),
    (
        "←  b",
        "step back to the previous one (checkpoint + deterministic replay)",
    ),
    ("]  [", "jump to the next / previous notable event"),
    ("+  -", "playback speed (simulated time per real second)"),
    (
        "f",
        "fault menu: inject a fault now (recorded, replayed on rewind)",
    ),
    (
        "s",
        "save the session (scenario + live faults) as NAME-session.toml",
    ),
    ("r", "restart from time 0 (drops live faults)"),
    ("Tab  ↑ ↓", "select a partition (main view)"),
    (
        "PgUp PgDn",
        "scroll the event log / view (or the mouse wheel); End follows",
    ),
    ("d", "sequence diagram: messages between nodes over time"),
    ("h", "diagram: show/hide heartbeats and empty fetches"),
    ("o", "order view: what each group applied, per key"),
    (
        "i",
        "inspect a message: its life and the cause of each step",
    ),
    (
        "c",
        "compare: the three guarantee presets side by side; v: versions",
    ),
    (
        "Q",
        "quiz on/off: pause at questions, 1-6/a-f answer, x skip",
    ),
    ("?", "this help (any key closes it)"),
    (
        "q  Esc",
        "quit (back to the scenario list when opened from it)",
    ),
];

impl Widget for Help<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let wanted_h = KEYS.len() as u16 + 9;
        let popup = super::popup(area, 78, wanted_h, buf);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(theme::TITLE)
            .title(Line::styled(" Keys ", theme::TITLE))
            .title_bottom(Line::styled(" any key closes ", theme::DIM).right_aligned());
        let inner = block.inner(popup);
        block.render(popup, buf);
        let mut lines: Vec<Line> = KEYS
            .iter()
            .map(|(k, what)| {
                Line::from(vec![
                    Span::styled(format!(" {k:<12}"), theme::KEY),
                    Span::styled(*what, theme::LABEL),
                ])
            })
            .collect();
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled(" log cells ", theme::LABEL),
            Span::styled("#1", theme::COMMITTED),
            Span::styled(" committed (below HW)  ", theme::LABEL),
            Span::styled("#2", theme::UNCOMMITTED),
            Span::styled(" not yet  ", theme::LABEL),
            Span::styled("┃", theme::HW_MARK),
            Span::styled(" HW  ", theme::LABEL),
            Span::styled("#3", theme::TRUNCATED),
            Span::styled(" truncated", theme::LABEL),
        ]));
        lines.push(Line::from(vec![
            Span::styled(" replicas  ", theme::LABEL),
            Span::styled("★", theme::LEADER),
            Span::styled(" leader  ", theme::LABEL),
            Span::styled("·", theme::UP),
            Span::styled(" follower  ", theme::LABEL),
            Span::styled("¬ISR", theme::OUT_OF_SYNC),
            Span::styled(" out of ISR  ", theme::LABEL),
            Span::styled("✗", theme::DOWN),
            Span::styled(" down  ", theme::LABEL),
            Span::styled("⏸", theme::PAUSED),
            Span::styled(" paused", theme::LABEL),
        ]));
        lines.push(Line::from(vec![
            Span::styled(" outcome   ", theme::LABEL),
            Span::styled("lost", theme::LOSS),
            Span::styled("  ", theme::LABEL),
            Span::styled("duplicated", theme::DUPLICATE),
            Span::styled("  ", theme::LABEL),
            Span::styled("reordered", theme::REORDER),
            Span::styled("   log: ", theme::LABEL),
            Span::styled("» narration", theme::NARRATION),
        ]));
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                " Playback at {} simulated time per real second; paused, nothing runs.",
                super::header::speed_label(self.app.speed)
            ),
            theme::DIM,
        ));
        for (y, line) in lines.iter().enumerate() {
            put(buf, inner, y as u16, line);
        }
    }
}
