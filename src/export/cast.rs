//! An asciicast v2 recording of the TUI playing a run, for asciinema players.
//!
//! The TUI's own drawing (`impl Widget for &App`) renders each frame into ratatui's
//! `TestBackend`; a frame is written as the ANSI that turns the previous frame into it (cursor
//! moves, SGR colours, the changed cells). One frame per `→` step (the events up to the next
//! narrated line), at a pace taken from simulated time: the time between two frames is the
//! simulated time between them, but at least [`MIN_FRAME_US`] and at most [`MAX_FRAME_US`], so
//! a burst stays watchable and a quiet stretch does not stall the player.
//!
//! The header has no `timestamp` (that would be the wall clock) and a fixed `env`, and the ANSI
//! is written here, not by the terminal library (which reads `NO_COLOR` from the
//! environment): the same inputs give the same file.

use std::fmt::Write as _;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};

use super::Window;
use crate::scenario::Scenario;
use crate::session::Session;
use crate::sim::SimTime;
use crate::tui::App;

/// The shortest and longest time a frame stays on screen.
pub const MIN_FRAME_US: u64 = 120_000;
pub const MAX_FRAME_US: u64 = 1_500_000;
/// How long the last frame stays before the recording ends.
const LAST_FRAME_US: u64 = 3_000_000;
/// At most this many frames; past it the export asks for a narrower window.
pub const MAX_FRAMES: usize = 20_000;

/// The terminal the recording plays in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub width: u16,
    pub height: u16,
}

impl Size {
    pub const DEFAULT: Size = Size {
        width: 100,
        height: 30,
    };
}

/// The asciicast: a JSON header line, then one `[time, "o", data]` line per frame.
pub fn record(
    label: &str,
    scenario: &Scenario,
    seed: u64,
    window: Window,
    size: Size,
) -> Result<String, String> {
    let session = Session::new(label, scenario.clone(), seed);
    let mut app = App::with_session(session);
    let mut terminal = Terminal::new(TestBackend::new(size.width, size.height))
        .map_err(|e| format!("cannot draw the TUI: {e}"))?;
    let header = serde_json::json!({
        "version": 2,
        "width": size.width,
        "height": size.height,
        "title": format!("brokerlab: {}", scenario.scenario.title),
        "env": {"SHELL": "/bin/sh", "TERM": "xterm-256color"},
    });
    let mut out = format!("{header}\n");
    // Run up to the window's start without drawing.
    if window.from > SimTime::ZERO
        && let Some(s) = app.session.as_mut()
    {
        s.advance_to(SimTime(window.from.0 - 1), u64::MAX);
    }
    let start = app.session.as_ref().map_or(SimTime::ZERO, |s| s.now());
    if app.session.as_ref().is_some_and(|s| s.finished()) && window.from > start {
        return Err(format!(
            "--from {} is after the end of the run ({}): nothing happens in that window",
            super::fmt_time(window.from),
            super::fmt_time(start)
        ));
    }
    let mut previous = Buffer::empty(ratatui::layout::Rect::new(0, 0, size.width, size.height));
    let mut clock_us = 0u64;
    let mut last_sim = start;
    let mut frames = 0usize;
    loop {
        let now = app.session.as_ref().map_or(SimTime::ZERO, |s| s.now());
        app.clock = now;
        let frame = draw(&mut terminal, &app)?;
        let mut data = String::new();
        if frames == 0 {
            // Hide the cursor and clear the screen.
            data.push_str("\u{1b}[?25l\u{1b}[0m\u{1b}[2J");
        }
        ansi_diff(&previous, &frame, &mut data);
        clock_us += if frames == 0 {
            0
        } else {
            (now.0 - last_sim.0).clamp(MIN_FRAME_US, MAX_FRAME_US)
        };
        event(&mut out, clock_us, &data);
        previous = frame;
        last_sim = now;
        frames += 1;
        if frames > MAX_FRAMES {
            return Err(format!(
                "the recording would have more than {MAX_FRAMES} frames: narrow it with --from \
                 and --to"
            ));
        }
        let Some(s) = app.session.as_mut() else { break };
        if s.finished() || window.is_after(s.now()) {
            break;
        }
        // Playing, as the header shows it.
        app.playing = true;
        if s.step_visible() == 0 || window.is_after(s.now()) {
            break;
        }
    }
    // Hold the last frame, then show the cursor again.
    event(&mut out, clock_us + LAST_FRAME_US, "\u{1b}[0m\u{1b}[?25h");
    Ok(out)
}

fn draw(terminal: &mut Terminal<TestBackend>, app: &App) -> Result<Buffer, String> {
    terminal
        .draw(|f| f.render_widget(app, f.area()))
        .map_err(|e| format!("cannot draw the TUI: {e}"))?;
    let mut frame = terminal.backend().buffer().clone();
    cover_wide_halves(&mut frame);
    Ok(frame)
}

/// Blanks the cell after each double-width one, as a terminal shows it: a panel may leave a
/// character there, which the terminal never shows, and the buffer diff (which skips that
/// cell) would then never write it once the wide character is gone.
fn cover_wide_halves(buf: &mut Buffer) {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        let mut x = area.left();
        while x < area.right() {
            let w = crate::tui::theme::width(buf[(x, y)].symbol()).max(1) as u16;
            for k in 1..w {
                if x + k < area.right() {
                    buf[(x + k, y)].set_symbol(" ");
                }
            }
            x += w;
        }
    }
}

/// One `[time, "o", data]` line; the time in seconds with microseconds.
fn event(out: &mut String, us: u64, data: &str) {
    let data = serde_json::Value::String(data.to_string());
    let _ = writeln!(
        out,
        "[{}.{:06}, \"o\", {data}]",
        us / 1_000_000,
        us % 1_000_000
    );
}

/// The ANSI that turns a terminal showing `previous` into one showing `next`.
pub fn ansi_diff(previous: &Buffer, next: &Buffer, out: &mut String) {
    let mut cursor: Option<(u16, u16)> = None;
    let mut style: Option<(Color, Color, Modifier)> = None;
    for (x, y, cell) in previous.diff(next) {
        if cursor != Some((x, y)) {
            let _ = write!(out, "\u{1b}[{};{}H", y + 1, x + 1);
        }
        let s = (cell.fg, cell.bg, cell.modifier);
        if style != Some(s) {
            sgr(cell, out);
            style = Some(s);
        }
        let symbol = cell.symbol();
        out.push_str(symbol);
        let w = crate::tui::theme::width(symbol).max(1) as u16;
        cursor = Some((x + w, y));
    }
    if style.is_some() {
        out.push_str("\u{1b}[0m");
    }
}

/// The SGR sequence that sets a cell's colours and modifiers from scratch.
fn sgr(cell: &Cell, out: &mut String) {
    out.push_str("\u{1b}[0");
    const MODS: [(Modifier, u8); 8] = [
        (Modifier::BOLD, 1),
        (Modifier::DIM, 2),
        (Modifier::ITALIC, 3),
        (Modifier::UNDERLINED, 4),
        (Modifier::SLOW_BLINK, 5),
        (Modifier::RAPID_BLINK, 6),
        (Modifier::REVERSED, 7),
        (Modifier::CROSSED_OUT, 9),
    ];
    for (m, code) in MODS {
        if cell.modifier.contains(m) {
            let _ = write!(out, ";{code}");
        }
    }
    colour(cell.fg, false, out);
    colour(cell.bg, true, out);
    out.push('m');
}

fn colour(c: Color, background: bool, out: &mut String) {
    let base = |n: u8| if background { n + 10 } else { n };
    let _ = match c {
        Color::Reset => Ok(()),
        Color::Black => write!(out, ";{}", base(30)),
        Color::Red => write!(out, ";{}", base(31)),
        Color::Green => write!(out, ";{}", base(32)),
        Color::Yellow => write!(out, ";{}", base(33)),
        Color::Blue => write!(out, ";{}", base(34)),
        Color::Magenta => write!(out, ";{}", base(35)),
        Color::Cyan => write!(out, ";{}", base(36)),
        Color::Gray => write!(out, ";{}", base(37)),
        Color::DarkGray => write!(out, ";{}", base(90)),
        Color::LightRed => write!(out, ";{}", base(91)),
        Color::LightGreen => write!(out, ";{}", base(92)),
        Color::LightYellow => write!(out, ";{}", base(93)),
        Color::LightBlue => write!(out, ";{}", base(94)),
        Color::LightMagenta => write!(out, ";{}", base(95)),
        Color::LightCyan => write!(out, ";{}", base(96)),
        Color::White => write!(out, ";{}", base(97)),
        Color::Indexed(i) => write!(out, ";{};5;{i}", base(38)),
        Color::Rgb(r, g, b) => write!(out, ";{};2;{r};{g};{b}", base(38)),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn a_diff_moves_the_cursor_only_between_runs_of_cells_and_styles_them() {
        let area = Rect::new(0, 0, 6, 2);
        let before = Buffer::empty(area);
        let mut after = Buffer::empty(area);
        after.set_string(1, 0, "ab", Style::new().fg(Color::Red));
        after.set_string(3, 1, "c", Style::new().bg(Color::Indexed(8)).bold());
        let mut out = String::new();
        ansi_diff(&before, &after, &mut out);
        assert_eq!(
            out,
            "\u{1b}[1;2H\u{1b}[0;31mab\u{1b}[2;4H\u{1b}[0;1;48;5;8mc\u{1b}[0m"
        );
        let mut none = String::new();
        ansi_diff(&after, &after, &mut none);
        assert_eq!(none, "");
    }
}
