//! Colours with a meaning, in one place, and small text helpers shared by the panels.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;

use crate::session::LogKind;

pub const TITLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const LABEL: Style = Style::new().fg(Color::Gray);
pub const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
pub const KEY: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);

/// A broker or node that is up / the leader.
pub const UP: Style = Style::new().fg(Color::Green);
pub const LEADER: Style = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);
pub const DOWN: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub const PAUSED: Style = Style::new().fg(Color::Yellow);
pub const FENCED: Style = Style::new().fg(Color::Magenta);
/// In the ISR / out of sync.
pub const IN_SYNC: Style = Style::new().fg(Color::Green);
pub const OUT_OF_SYNC: Style = Style::new().fg(Color::Red);

/// Log cells: committed (below HW), uncommitted (at or above HW), truncated away.
pub const COMMITTED: Style = Style::new().fg(Color::Black).bg(Color::Green);
pub const UNCOMMITTED: Style = Style::new().fg(Color::Black).bg(Color::Yellow);
pub const TRUNCATED: Style = Style::new()
    .fg(Color::Red)
    .add_modifier(Modifier::CROSSED_OUT.union(Modifier::BOLD));
pub const HW_MARK: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);

/// Outcome numbers.
pub const LOSS: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub const DUPLICATE: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub const REORDER: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
pub const GOOD: Style = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);

pub const SELECTED: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Cyan)
    .add_modifier(Modifier::BOLD);
pub const NARRATION: Style = Style::new()
    .fg(Color::LightCyan)
    .add_modifier(Modifier::BOLD);

/// The style of one event-log line.
pub fn log_style(kind: LogKind) -> Style {
    match kind {
        LogKind::Narration => NARRATION,
        LogKind::Fault => Style::new()
            .fg(Color::LightMagenta)
            .add_modifier(Modifier::BOLD),
        LogKind::Election => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        LogKind::Isr => Style::new().fg(Color::Yellow),
        LogKind::Truncation => Style::new()
            .fg(Color::LightRed)
            .add_modifier(Modifier::BOLD),
        LogKind::Rebalance => Style::new().fg(Color::LightBlue),
        LogKind::Error => Style::new().fg(Color::LightRed),
        LogKind::Anomaly => Style::new()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD),
        LogKind::Flow => Style::new().fg(Color::Gray),
        LogKind::Run => DIM,
    }
}

/// Display width of a string in terminal cells.
pub fn width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        Span::raw(s).width()
    }
}

/// Display width of one character.
fn char_width(c: char) -> usize {
    if c.is_ascii() {
        1
    } else {
        let mut b = [0u8; 4];
        Span::raw(&*c.encode_utf8(&mut b)).width()
    }
}

/// Cut a string to at most `max` cells, ending in `…` when cut.
pub fn fit(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw > max - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// Greedy word wrap into rows of at most `max` cells (long words are broken).
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut rows = Vec::new();
    if width(s) <= max {
        return vec![s.to_string()];
    }
    let mut row = String::new();
    let mut w = 0;
    for word in s.split(' ') {
        let ww = width(word);
        if w > 0 && w + 1 + ww > max {
            rows.push(std::mem::take(&mut row));
            w = 0;
        }
        if w > 0 {
            row.push(' ');
            w += 1;
        }
        if ww <= max - w {
            row.push_str(word);
            w += ww;
            continue;
        }
        for c in word.chars() {
            let cw = char_width(c);
            if w + cw > max {
                rows.push(std::mem::take(&mut row));
                w = 0;
            }
            row.push(c);
            w += cw;
        }
    }
    rows.push(row);
    rows
}

/// `12.345s`, as in the reports.
pub fn time(t: crate::sim::SimTime) -> String {
    crate::report::fmt_time(t)
}
