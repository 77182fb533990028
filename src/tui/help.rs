//! The help overlay (`?`): every key, and what the colours mean; `g` there turns to the
//! glossary page ([`GlossaryPage`]), every label and glyph from [`crate::glossary`].

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
        "step back to the previous one (checkpoint + exact replay)",
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
        "compare: guarantee presets side by side; v: versions, systems",
    ),
    (
        "Q",
        "quiz on/off: pause at questions, 1-6/a-f answer, x skip",
    ),
    (
        "?  g",
        "this help; g here: the glossary of every label and glyph",
    ),
    ("click", "on the timeline strip: jump to that event"),
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
            .title(Line::styled(" Keys · g glossary ", theme::TITLE))
            .title_bottom(
                Line::styled(" g glossary · any key closes ", theme::DIM).right_aligned(),
            );
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
        // The spacer goes first when the screen is short (80x24), so the legend stays whole.
        if inner.height as usize > KEYS.len() + 4 {
            lines.push(Line::raw(""));
        }
        // The marks as the run's system names them (Kafka's HW and ISR, a quorum queue's
        // commit index, a Redis primary).
        let system = self
            .app
            .session
            .as_ref()
            .map_or(crate::sim::config::System::Kafka, |s| {
                s.sim.settings().system
            });
        let words = super::system::cluster_words(system);
        let mut cells = vec![
            Span::styled(" log cells ", theme::LABEL),
            Span::styled("#1", theme::COMMITTED),
            Span::styled(" committed  ", theme::LABEL),
            Span::styled("#2", theme::UNCOMMITTED),
            Span::styled(" not yet  ", theme::LABEL),
            Span::styled("┃", theme::HW_MARK),
            Span::styled(format!(" {}  ", words.committed), theme::LABEL),
            Span::styled("✂#3", theme::TRUNCATED),
            Span::styled(" truncated  ", theme::LABEL),
        ];
        // Only Kafka has transactions.
        if system.is_kafka() {
            cells.push(Span::styled("~✓⊘", theme::BOLD));
            cells.push(Span::styled(" txn state", theme::LABEL));
        }
        lines.push(Line::from(cells));
        lines.push(Line::from(vec![
            Span::styled(" replicas  ", theme::LABEL),
            Span::styled("★", theme::LEADER),
            Span::styled(format!(" {}  ", words.leader), theme::LABEL),
            Span::styled("·", theme::UP),
            Span::styled(
                if words.leader == "primary" {
                    " replica  "
                } else {
                    " follower  "
                },
                theme::LABEL,
            ),
            Span::styled(words.behind_short, theme::OUT_OF_SYNC),
            Span::styled(
                if system.is_kafka() {
                    " out of ISR  ".to_string()
                } else {
                    format!(" {}  ", words.behind)
                },
                theme::LABEL,
            ),
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
        // A queue system's screen: the states of its messages (the share panel's glyphs).
        let queues = self
            .app
            .session
            .as_ref()
            .is_some_and(|s| !s.sim.settings().system.is_kafka());
        if queues {
            lines.push(Line::from(vec![
                Span::styled(" queue     ", theme::LABEL),
                Span::styled("◐", theme::PAUSED),
                Span::styled(" held, not acked  ", theme::LABEL),
                Span::styled("○", theme::LABEL),
                Span::styled(" ready  ", theme::LABEL),
                Span::styled("☠", theme::LOSS),
                Span::styled(" dead-lettered  ", theme::LABEL),
                Span::styled("×2", theme::DUPLICATE),
                Span::styled(" deliveries  ", theme::LABEL),
                Span::styled("12.3s", theme::BOLD),
                Span::styled(" timer left", theme::LABEL),
            ]));
        }
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

/// The glossary page of the help overlay: every entry of [`crate::glossary::ENTRIES`], by
/// section, scrolled with ↑↓ / PgUp PgDn.
pub struct GlossaryPage {
    pub scroll: usize,
}

/// Columns for the term before the sentence (wide popups); narrower ones put the sentence
/// under the term.
const TERM_W: usize = 22;

/// The glossary's lines at `width`: built per frame only while the page is open.
pub fn glossary_lines(width: u16) -> Vec<Line<'static>> {
    use crate::glossary::{ENTRIES, Section};
    let width = width as usize;
    let side = width >= 70;
    let text_w = if side {
        // A column of margin before the border.
        width.saturating_sub(TERM_W + 3)
    } else {
        width.saturating_sub(4)
    }
    .max(10);
    let mut lines = Vec::new();
    for section in Section::ALL {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(format!(" {}", section.title()), theme::TITLE));
        for e in ENTRIES.iter().filter(|e| e.section == section) {
            let mut rows = theme::wrap(e.meaning, text_w);
            let source = format!("{}: {}", section.source_label(), e.source);
            rows.extend(theme::wrap(&source, text_w));
            let kafka_from = rows.len() - theme::wrap(&source, text_w).len();
            let style_of = |i: usize| {
                if i >= kafka_from {
                    theme::DIM
                } else {
                    theme::LABEL
                }
            };
            if side && theme::width(e.term) < TERM_W {
                for (i, row) in rows.into_iter().enumerate() {
                    let term = if i == 0 { e.term } else { "" };
                    let pad = TERM_W - theme::width(term);
                    lines.push(Line::from(vec![
                        Span::styled(format!(" {term}{} ", " ".repeat(pad)), theme::KEY),
                        Span::styled(row, style_of(i)),
                    ]));
                }
            } else {
                lines.push(Line::styled(format!(" {}", e.term), theme::KEY));
                let indent = if side { TERM_W + 2 } else { 3 };
                for (i, row) in rows.into_iter().enumerate() {
                    lines.push(Line::from(vec![
                        Span::raw(" ".repeat(indent)),
                        Span::styled(row, style_of(i)),
                    ]));
                }
            }
        }
    }
    lines
}

impl Widget for GlossaryPage {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let popup = super::popup(area, 110, area.height, buf);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(theme::TITLE)
            .title(Line::styled(" Glossary ", theme::TITLE))
            .title_bottom(
                Line::styled(
                    " ↑↓ PgUp PgDn scroll · ? keys · any other key closes ",
                    theme::DIM,
                )
                .right_aligned(),
            );
        let inner = block.inner(popup);
        block.render(popup, buf);
        let lines = glossary_lines(inner.width);
        let top = self
            .scroll
            .min(lines.len().saturating_sub(inner.height as usize));
        for (y, line) in lines
            .iter()
            .skip(top)
            .take(inner.height as usize)
            .enumerate()
        {
            put(buf, inner, y as u16, line);
        }
    }
}
