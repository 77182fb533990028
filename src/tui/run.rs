//! The event loop and the real terminal.
//!
//! [`run_loop`] is generic over ratatui's `Backend` and takes its input from a closure, so it
//! runs the same against a `TestBackend`. It redraws only when something changed, waits for
//! input with a frame-length timeout while playing, and blocks on input while paused (no busy
//! loop: CPU stays near zero).
//!
//! [`run_terminal`] sets up the real terminal (raw mode, alternate screen, mouse) behind a
//! guard that restores it in `Drop`, and installs a panic hook that restores it too before the
//! panic message is printed.

use std::io;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use super::app::App;

/// Where the loop gets input: wait at most `timeout` (forever when `None`) for one event.
pub trait EventSource {
    fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<Event>>;
}

impl<F: FnMut(Option<Duration>) -> io::Result<Option<Event>>> EventSource for F {
    fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<Event>> {
        self(timeout)
    }
}

/// crossterm's event queue.
pub struct Crossterm;

impl EventSource for Crossterm {
    fn next(&mut self, timeout: Option<Duration>) -> io::Result<Option<Event>> {
        match timeout {
            Some(t) => {
                if event::poll(t)? {
                    event::read().map(Some)
                } else {
                    Ok(None)
                }
            }
            None => event::read().map(Some),
        }
    }
}

fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &App) -> io::Result<()> {
    terminal
        .draw(|f| f.render_widget(app, f.area()))
        .map(|_| ())
        .map_err(|e| io::Error::other(e.to_string()))
}

/// Run until the app quits (or the input ends: `Ok(None)` with no timeout).
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    input: &mut impl EventSource,
) -> io::Result<()> {
    let mut dirty = true;
    let mut last_tick = Instant::now();
    loop {
        if dirty {
            if let Ok(size) = terminal.size() {
                app.screen_width = size.width;
            }
            draw(terminal, app)?;
            dirty = false;
        }
        if app.quit {
            return Ok(());
        }
        let timeout = app.poll_timeout();
        match input.next(timeout)? {
            Some(ev) => dirty |= app.on_event(ev),
            None if timeout.is_none() => return Ok(()),
            None => {}
        }
        let now = Instant::now();
        if app.poll_timeout().is_some() {
            dirty |= app.tick(now - last_tick);
        }
        last_tick = now;
    }
}

/// Restores the terminal when dropped: on quit, on error and while unwinding from a panic.
pub struct TerminalGuard;

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        Ok(guard)
    }
}

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Restore first, so the message lands on a normal screen.
            restore();
            previous(info);
        }));
    });
}

/// Run the app on the real terminal (stdout).
pub fn run_terminal(app: &mut App) -> io::Result<()> {
    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))
        .map_err(|e| io::Error::other(e.to_string()))?;
    terminal
        .clear()
        .map_err(|e| io::Error::other(e.to_string()))?;
    let result = run_loop(&mut terminal, app, &mut Crossterm);
    let _ = terminal.show_cursor();
    result
}
