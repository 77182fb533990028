//! The header bar (title, simulated time, play state, speed, seed) and the footer (key hints
//! or a status message).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::{App, SPEEDS, View};
use super::theme;
use crate::session::Session;
use crate::sim::Phase;

const BAR: Style = Style::new().fg(Color::White).bg(Color::Blue);

pub struct Header<'a> {
    pub app: &'a App,
    pub s: &'a Session,
}

/// `×1`, `×0.25`
pub fn speed_label(i: usize) -> String {
    let v = SPEEDS[i];
    if v.fract() == 0.0 {
        format!("×{v:.0}")
    } else {
        format!("×{v}")
    }
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        buf.set_style(area, BAR);
        let s = self.s;
        let (state, style) = match s.sim.phase() {
            Phase::Finished => ("■ finished", BAR.fg(Color::LightYellow)),
            _ if self.app.playing => ("▶ playing", BAR.fg(Color::LightGreen)),
            _ => ("⏸ paused", BAR.fg(Color::White)),
        };
        let mut right = vec![
            Span::styled(
                format!(" t={} ", theme::time(self.app.display_time())),
                BAR.add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!(" {state} "), style.add_modifier(Modifier::BOLD)),
            Span::styled(format!(" {} ", speed_label(self.app.speed)), BAR),
        ];
        if s.sim.phase() == Phase::Draining {
            right.insert(1, Span::styled(" draining ", BAR.fg(Color::LightYellow)));
        }
        let wide = area.width >= 100;
        if wide {
            right.push(Span::styled(format!(" seed {} ", s.seed), BAR));
            right.push(Span::styled(format!(" event {} ", s.events()), BAR));
        } else {
            right.push(Span::styled(format!(" seed {} ", s.seed), BAR));
        }
        let right = Line::from(right);
        let rw = right.width() as u16;
        let view = match self.app.view {
            View::Main => "",
            View::Diagram => " · sequence diagram",
            View::Order => " · order per key",
            View::Compare => match self.app.compare_mode {
                super::compare::CompareMode::Presets => " · compare presets",
                super::compare::CompareMode::Versions => " · compare Kafka versions",
                super::compare::CompareMode::Systems => " · compare queue systems",
            },
            View::Inspect => " · message inspector",
        };
        let room = area.width.saturating_sub(rw + 1) as usize;
        // Another system than Kafka says which one first: the same faults play out differently
        // on each, and the panels below speak its words.
        let title = match super::system::session_label(s) {
            Some(system) => format!(" [{system}] {}{view}", s.scenario.scenario.title),
            None => format!(" {}{view}", s.scenario.scenario.title),
        };
        let left = Line::from(vec![Span::styled(
            theme::fit(&title, room),
            BAR.add_modifier(Modifier::BOLD),
        )]);
        buf.set_line(area.x, area.y, &left, room as u16);
        if rw <= area.width {
            buf.set_line(area.x + area.width - rw, area.y, &right, rw);
        }
    }
}

pub struct Footer<'a> {
    pub app: &'a App,
}

/// The key hints, most important first; cut to the width.
fn hints(app: &App) -> Vec<(&'static str, &'static str)> {
    let mut h = vec![
        ("space", if app.playing { "pause" } else { "play" }),
        ("→", "step"),
        ("←", "back"),
        ("]/[", "notable"),
        ("f", "fault"),
    ];
    match app.view {
        View::Main => h.extend([("i", "inspect"), ("d", "diagram"), ("o", "order")]),
        View::Diagram => h.extend([
            ("↑↓", "scroll"),
            (
                "h",
                if app.show_chatter {
                    "hide chatter"
                } else {
                    "chatter"
                },
            ),
            ("d", "back"),
        ]),
        View::Order => h.extend([("↑↓", "scroll"), ("o", "back")]),
        View::Compare => {
            // `1-N`: the columns the view shows (a system that refuses the scenario has none).
            const OPEN: [&str; 9] = ["", "1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7", "1-8"];
            let columns = app.compare.as_ref().map_or(3, |c| c.columns.len());
            let open = OPEN[columns.min(OPEN.len() - 1)];
            let other = app.compare_mode.next().name();
            h.extend([
                ("↑↓", "scroll"),
                (open, "open"),
                ("v", other),
                ("c", "back"),
            ])
        }
        View::Inspect => h.extend([("↑↓", "step"), ("Enter", "go there"), ("i", "back")]),
    }
    h.extend([("+/-", "speed"), ("s", "save"), ("r", "restart")]);
    h
}

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        buf.set_style(area, Style::new().bg(Color::Black));
        let start_hint = self
            .app
            .session
            .as_ref()
            .is_some_and(|s| s.events() == 0 && !self.app.playing)
            .then(|| "paused at 0 — space plays, → steps, ? lists every key".to_string());
        if let Some(status) = self.app.status.as_ref().or(start_hint.as_ref()) {
            let tail = Line::from(vec![
                Span::styled(" ? ", theme::KEY),
                Span::styled("help ", theme::LABEL),
            ]);
            let tw = tail.width() as u16;
            let room = area.width.saturating_sub(tw) as usize;
            let line = Line::styled(
                theme::fit(&format!(" {status}"), room),
                Style::new().fg(Color::LightYellow),
            );
            buf.set_line(area.x, area.y, &line, room as u16);
            if tw <= area.width {
                buf.set_line(area.x + area.width - tw, area.y, &tail, tw);
            }
            return;
        }
        let tail = [
            ("?", "help"),
            (
                "q",
                if self.app.from_picker() {
                    "scenarios"
                } else {
                    "quit"
                },
            ),
        ];
        let piece = |k: &str, what: &str| theme::width(k) + theme::width(what) + 3;
        let reserve: usize = tail.iter().map(|(k, w)| piece(k, w)).sum();
        let mut spans = Vec::new();
        let mut w = 0usize;
        let mut full = false;
        for (k, what) in hints(self.app).into_iter().chain(tail) {
            let p = piece(k, what);
            let is_tail = tail.iter().any(|t| t.0 == k);
            if !is_tail && (full || w + p + reserve > area.width as usize) {
                full = true;
                continue;
            }
            spans.push(Span::styled(format!(" {k}"), theme::KEY));
            spans.push(Span::styled(format!(" {what} "), theme::LABEL));
            w += p;
        }
        buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    }
}
