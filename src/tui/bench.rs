//! `brokerlab bench --frames`: how long drawing each view takes at the end of a long run.
//! Drawing goes into ratatui's `TestBackend` at 200×60, so the figure is the widgets' own
//! work (building lines and filling the buffer), without a terminal's output cost.

use std::fmt;
use std::time::{Duration, Instant};

use crossterm_keys::key;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::App;
use crate::session::Session;

/// The screen size the frame target is set for.
pub const FRAME_WIDTH: u16 = 200;
pub const FRAME_HEIGHT: u16 = 60;

/// One view's frame times, sorted.
pub struct ViewFrames {
    pub view: &'static str,
    pub times: Vec<Duration>,
}

/// What `brokerlab bench --frames` measured.
pub struct FramesReport {
    pub events: u64,
    pub build: Duration,
    pub views: Vec<ViewFrames>,
}

mod crossterm_keys {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    pub fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }
}

/// Plays `events` events of the benchmark scenario in a session, then draws every view
/// `frames` times and times each draw.
pub fn bench_frames(opts: &crate::bench::BenchOptions, events: u64, frames: u32) -> FramesReport {
    let start = Instant::now();
    let sc = crate::bench::large_scenario(opts);
    let mut session = Session::new("bench", sc, opts.seed);
    session.rewind_to(events);
    let build = start.elapsed();
    let events = session.events();
    let mut app = App::with_session(session);
    let mut term = Terminal::new(TestBackend::new(FRAME_WIDTH, FRAME_HEIGHT))
        .expect("a test backend never fails");
    // Each view as a key sequence from the main view, and the keys that close it again.
    // The compare view is left out: opening it replays the run three more times (minutes at
    // this length), and its frame only draws those sessions' panels, timed here already.
    let views: [(&'static str, &[char], &[char]); 6] = [
        ("main", &[], &[]),
        ("diagram", &['d'], &['d']),
        ("order", &['o'], &['o']),
        ("help overlay", &['?'], &['?']),
        ("fault menu", &['f'], &['q']),
        ("inspect menu", &['i'], &['q']),
    ];
    let mut out = Vec::new();
    // The main view while playing: one simulation step before each (untimed) draw, so the
    // frame pays for whatever a step invalidates (the outcome is recomputed after every step).
    let mut times = Vec::with_capacity(frames as usize);
    for _ in 0..frames {
        if let Some(s) = app.session.as_mut() {
            s.step();
        }
        let t = Instant::now();
        term.draw(|f| f.render_widget(&app, f.area()))
            .expect("a test backend never fails");
        times.push(t.elapsed());
    }
    times.sort();
    out.push(ViewFrames {
        view: "main, playing",
        times,
    });
    for (view, open, close) in views {
        for &c in open {
            app.on_key(key(c));
        }
        let mut times = Vec::with_capacity(frames as usize);
        for _ in 0..frames {
            let t = Instant::now();
            term.draw(|f| f.render_widget(&app, f.area()))
                .expect("a test backend never fails");
            times.push(t.elapsed());
        }
        times.sort();
        out.push(ViewFrames { view, times });
        for &c in close {
            app.on_key(key(c));
        }
    }
    FramesReport {
        events,
        build,
        views: out,
    }
}

impl fmt::Display for FramesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "frames at {FRAME_WIDTH}×{FRAME_HEIGHT} after {} events (built in {:.2} s; TestBackend)",
            self.events,
            self.build.as_secs_f64()
        )?;
        writeln!(
            f,
            "  {:<16}{:>12}{:>12}{:>12}",
            "view", "min ms", "median ms", "max ms"
        )?;
        for v in &self.views {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let (min, med, max) = match (v.times.first(), v.times.last()) {
                (Some(&a), Some(&b)) => (ms(a), ms(v.times[v.times.len() / 2]), ms(b)),
                _ => (0.0, 0.0, 0.0),
            };
            writeln!(f, "  {:<16}{min:>12.3}{med:>12.3}{max:>12.3}", v.view)?;
        }
        Ok(())
    }
}
