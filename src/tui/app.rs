//! The TUI's state and key handling. Drawing lives in the panel modules (`impl Widget for &App`
//! and friends) and never mutates anything here.

use std::path::PathBuf;
use std::time::Duration;

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::scenario::{Guarantee, Scenario};
use crate::session::Session;
use crate::sim::consumer::ConsumerState;
use crate::sim::replica::Role;
use crate::sim::{
    FaultKind, FaultSpec, GroupId, MsgId, NodeId, NodeKind, PartitionId, ProducerId, SimTime,
    Target,
};

use super::theme;

/// Playback speeds: simulated time per real time.
pub const SPEEDS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0, 250.0];
const DEFAULT_SPEED: usize = 3;
/// At most this many events per playback tick, so a huge scenario cannot freeze the UI.
const MAX_EVENTS_PER_TICK: u64 = 200_000;
/// At most this many events for one click ahead on the timeline.
const MAX_EVENTS_PER_CLICK: u64 = 5_000_000;

/// Which full-screen view is showing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Main,
    Diagram,
    Order,
    /// The three guarantee presets side by side (`c`).
    Compare,
    /// One message's life with the cause of each step (`i`).
    Inspect,
}

/// One bundled scenario in the picker.
#[derive(Clone, Debug)]
pub struct PickerEntry {
    pub name: String,
    pub guarantee: Guarantee,
    pub title: String,
    pub summary: String,
    pub tags: Vec<String>,
    pub scenario: Option<Scenario>,
}

#[derive(Clone, Debug, Default)]
pub struct Picker {
    pub entries: Vec<PickerEntry>,
    pub selected: usize,
}

impl Picker {
    /// The bundled scenarios, grouped by guarantee (in teaching order), then
    /// by name.
    pub fn bundled() -> Picker {
        let mut entries: Vec<PickerEntry> = crate::scenario::bundled()
            .iter()
            .map(|b| match b.parse() {
                Ok(sc) => PickerEntry {
                    name: b.name.to_string(),
                    guarantee: sc.scenario.guarantee,
                    title: sc.scenario.title.clone(),
                    summary: sc.scenario.summary.clone(),
                    tags: sc.scenario.tags.clone(),
                    scenario: Some(sc),
                },
                Err(_) => PickerEntry {
                    name: b.name.to_string(),
                    guarantee: Guarantee::Availability,
                    title: "(does not parse: run `brokerlab check`)".into(),
                    summary: String::new(),
                    tags: Vec::new(),
                    scenario: None,
                },
            })
            .collect();
        entries.sort_by_key(|e| (guarantee_rank(e.guarantee), e.name.clone()));
        // A newcomer starts on the guided tour.
        let selected = entries
            .iter()
            .position(|e| e.name == crate::scenario::DEFAULT_SCENARIO)
            .unwrap_or(0);
        Picker { entries, selected }
    }
}

pub fn guarantee_rank(g: Guarantee) -> u8 {
    g.rank()
}

/// One entry of the fault menu.
#[derive(Clone, Debug)]
pub struct FaultItem {
    pub label: String,
    pub fault: FaultSpec,
}

#[derive(Clone, Debug)]
pub struct FaultMenu {
    pub items: Vec<FaultItem>,
    pub selected: usize,
}

/// One message offered by the inspector's menu.
#[derive(Clone, Debug)]
pub struct InspectItem {
    pub msg: MsgId,
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct InspectMenu {
    pub items: Vec<InspectItem>,
    pub selected: usize,
}

/// The inspector view: one message's life so far, each step with its cause.
#[derive(Clone, Debug)]
pub struct Inspector {
    pub msg: MsgId,
    pub name: String,
    pub steps: Vec<InspectStep>,
    pub selected: usize,
}

#[derive(Clone, Debug)]
pub struct InspectStep {
    pub step: crate::life::Step,
    /// The simulation step to rewind to for this moment.
    pub at_event: u64,
    /// What caused it, in words (`None` for a root).
    pub because: String,
}

#[derive(Clone, Debug)]
pub enum Overlay {
    Help,
    /// The help's glossary page (`?` then `g`), scrolled this many lines.
    Glossary(usize),
    Faults(FaultMenu),
    Inspect(InspectMenu),
}

pub struct App {
    /// `None` while the picker shows.
    pub session: Option<Session>,
    pub picker: Option<Picker>,
    pub view: View,
    pub overlay: Option<Overlay>,
    pub playing: bool,
    pub speed: usize,
    /// The selected partition (index into `sim.partitions()`).
    pub selected: usize,
    /// Event-log lines scrolled up from the newest (0 = follow).
    pub log_scroll: usize,
    /// Diagram rows scrolled up from the newest (0 = follow).
    pub diagram_scroll: usize,
    pub order_scroll: usize,
    /// The message inspector's content, built when a message is chosen (`i`).
    pub inspector: Option<Inspector>,
    /// The compare view's runs, built when it opens (`c`).
    pub compare: Option<super::compare::CompareRuns>,
    /// Matrix rows scrolled down in the compare view.
    pub compare_scroll: usize,
    /// Whether the compare view compares the presets or the Kafka version profiles (`v`).
    pub compare_mode: super::compare::CompareMode,
    /// Show heartbeats and empty fetches in the diagram.
    pub show_chatter: bool,
    /// The terminal's width, to map a click on the timeline strip to a cell (set by the event
    /// loop before each frame and on resize).
    pub screen_width: u16,
    /// A one-line message in the footer (saved file, refused fault, …).
    pub status: Option<String>,
    pub quit: bool,
    /// Where `s` writes the session file.
    pub save_dir: PathBuf,
    /// Fractional simulated microseconds owed to playback.
    carry_us: f64,
    /// The playback clock: simulated time that real time has reached while playing (events
    /// are processed up to it). Restarted from the simulation's time on every play.
    pub clock: SimTime,
    /// The quiz played along the run (`Q`), built when first turned on.
    pub quiz: Option<crate::quiz::play::QuizPlay>,
    /// Whether the open question interrupted playback (closing it resumes).
    quiz_resume: bool,
}

impl App {
    fn empty() -> App {
        App {
            session: None,
            picker: None,
            view: View::Main,
            overlay: None,
            playing: false,
            speed: DEFAULT_SPEED,
            selected: 0,
            log_scroll: 0,
            diagram_scroll: 0,
            order_scroll: 0,
            inspector: None,
            compare: None,
            compare_scroll: 0,
            compare_mode: super::compare::CompareMode::default(),
            show_chatter: false,
            screen_width: 80,
            status: None,
            quit: false,
            save_dir: PathBuf::from("."),
            carry_us: 0.0,
            clock: SimTime::ZERO,
            quiz: None,
            quiz_resume: false,
        }
    }

    /// The scenario picker (`brokerlab` with no arguments).
    pub fn with_picker() -> App {
        App {
            picker: Some(Picker::bundled()),
            ..App::empty()
        }
    }

    /// One scenario, paused at time zero (`brokerlab tui SCENARIO`).
    pub fn with_session(session: Session) -> App {
        App {
            session: Some(session),
            ..App::empty()
        }
    }

    /// Whether `q` goes back to the picker rather than quitting.
    pub fn from_picker(&self) -> bool {
        self.picker.is_some()
    }

    pub fn speed_factor(&self) -> f64 {
        SPEEDS[self.speed]
    }

    /// The simulated time to show: the playback clock while playing.
    pub fn display_time(&self) -> SimTime {
        let now = self.session.as_ref().map_or(SimTime::ZERO, |s| s.now());
        if self.playing {
            now.max(self.clock)
        } else {
            now
        }
    }

    /// The partition currently selected.
    pub fn selected_partition(&self) -> Option<PartitionId> {
        let s = self.session.as_ref()?;
        let n = s.sim.partitions().len();
        (n > 0).then(|| PartitionId(self.selected.min(n - 1) as u32))
    }

    // ----- input --------------------------------------------------------------------------

    /// Handle one terminal event. Returns whether anything changed (the screen needs a redraw).
    pub fn on_event(&mut self, ev: Event) -> bool {
        match ev {
            Event::Key(k) => {
                if k.kind == KeyEventKind::Release {
                    return false;
                }
                self.on_key(k);
                true
            }
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, _) => {
                self.screen_width = w;
                true
            }
            _ => false,
        }
    }

    pub fn on_mouse(&mut self, m: MouseEvent) -> bool {
        let delta: isize = match m.kind {
            MouseEventKind::ScrollUp => 3,
            MouseEventKind::ScrollDown => -3,
            MouseEventKind::Down(MouseButton::Left)
                if m.row == super::TIMELINE_ROW
                    && self.session.is_some()
                    && self.overlay.is_none() =>
            {
                self.click_timeline(m.column);
                return true;
            }
            _ => return false,
        };
        if self.session.is_none() {
            if let Some(p) = &mut self.picker {
                let n = p.entries.len();
                p.selected = if delta > 0 {
                    p.selected.saturating_sub(1)
                } else {
                    (p.selected + 1).min(n.saturating_sub(1))
                };
            }
            return true;
        }
        let scroll = match self.view {
            View::Main => &mut self.log_scroll,
            View::Diagram => &mut self.diagram_scroll,
            View::Order => &mut self.order_scroll,
            View::Compare => {
                self.compare_scroll = self.compare_scroll.saturating_add_signed(-delta);
                return true;
            }
            View::Inspect => {
                self.move_inspect(-delta);
                return true;
            }
        };
        *scroll = scroll.saturating_add_signed(delta);
        true
    }

    pub fn on_key(&mut self, k: KeyEvent) {
        if !self.on_quiz_key(k) {
            self.on_key_inner(k);
        }
        self.sync_compare();
        self.quiz_due();
    }

    fn on_key_inner(&mut self, k: KeyEvent) {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.session.is_none() {
            self.on_picker_key(k);
            return;
        }
        match self.overlay.take() {
            Some(Overlay::Help) => {
                // Any key closes help; `g` turns to the glossary; `q` still quits from there.
                match k.code {
                    KeyCode::Char('q') => self.leave(),
                    KeyCode::Char('g') => self.overlay = Some(Overlay::Glossary(0)),
                    _ => {}
                }
                return;
            }
            Some(Overlay::Glossary(scroll)) => {
                self.overlay = glossary_key(scroll, k);
                return;
            }
            Some(Overlay::Faults(menu)) => {
                self.on_fault_menu_key(menu, k);
                return;
            }
            Some(Overlay::Inspect(menu)) => {
                self.on_inspect_menu_key(menu, k);
                return;
            }
            None => {}
        }
        if self.view == View::Compare
            && let KeyCode::Char(c @ '1'..='9') = k.code
        {
            self.open_preset(c as usize - '1' as usize);
            return;
        }
        if self.view == View::Compare && k.code == KeyCode::Char('v') {
            self.compare_mode = self.compare_mode.next();
            self.compare = None;
            self.sync_compare();
            return;
        }
        if self.view == View::Inspect && k.code == KeyCode::Enter {
            self.jump_to_inspected();
            return;
        }
        self.status = None;
        match k.code {
            KeyCode::Char('q') => self.leave(),
            KeyCode::Esc => {
                if self.view != View::Main {
                    self.view = View::Main;
                } else {
                    self.leave();
                }
            }
            KeyCode::Char(' ') => self.toggle_play(),
            KeyCode::Right | KeyCode::Char('n') => {
                self.playing = false;
                let s = self.session.as_mut().unwrap();
                if s.finished() {
                    self.status = Some("the run has finished — ← steps back, r restarts".into());
                } else {
                    s.step_visible();
                }
                self.follow();
            }
            KeyCode::Left | KeyCode::Char('b') => {
                self.playing = false;
                if !self.session.as_mut().unwrap().step_back_visible() {
                    self.status = Some("at the start of the run".into());
                }
                self.follow();
            }
            KeyCode::Char(']') => {
                self.playing = false;
                if !self.session.as_mut().unwrap().jump_next_notable() {
                    self.status = Some("no notable event before the end of the run".into());
                }
                self.follow();
            }
            KeyCode::Char('[') => {
                self.playing = false;
                if !self.session.as_mut().unwrap().jump_prev_notable() {
                    self.status = Some("no earlier notable event".into());
                }
                self.follow();
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
            }
            KeyCode::Char('-') | KeyCode::Char('_') => {
                self.speed = self.speed.saturating_sub(1);
            }
            KeyCode::Char('r') => {
                self.playing = false;
                self.session.as_mut().unwrap().restart();
                self.follow();
                self.status = Some("restarted from 0 (live faults dropped)".into());
            }
            KeyCode::Char('f') => {
                self.playing = false;
                let s = self.session.as_ref().unwrap();
                if s.can_inject() {
                    self.overlay = Some(Overlay::Faults(FaultMenu {
                        items: fault_items(s, self.selected_partition()),
                        selected: 0,
                    }));
                } else {
                    self.status = Some(format!(
                        "faults can only be injected before stop_at_ms ({} ms)",
                        s.scenario.scenario.stop_at_ms
                    ));
                }
            }
            KeyCode::Char('s') => self.save(),
            KeyCode::Char('?') | KeyCode::F(1) => self.overlay = Some(Overlay::Help),
            KeyCode::Char('d') => self.toggle_view(View::Diagram),
            KeyCode::Char('o') => self.toggle_view(View::Order),
            KeyCode::Char('c') => self.toggle_view(View::Compare),
            KeyCode::Char('i') => {
                if self.view == View::Inspect {
                    self.view = View::Main;
                } else {
                    self.open_inspect_menu();
                }
            }
            KeyCode::Char('h') => self.show_chatter = !self.show_chatter,
            KeyCode::Tab => self.select_partition(1),
            KeyCode::BackTab => self.select_partition(-1),
            KeyCode::Down | KeyCode::Char('j') => match self.view {
                View::Main => self.select_partition(1),
                View::Diagram => self.diagram_scroll = self.diagram_scroll.saturating_sub(1),
                View::Order => self.order_scroll += 1,
                View::Compare => self.compare_scroll += 1,
                View::Inspect => self.move_inspect(1),
            },
            KeyCode::Up | KeyCode::Char('k') => match self.view {
                View::Main => self.select_partition(-1),
                View::Diagram => self.diagram_scroll += 1,
                View::Order => self.order_scroll = self.order_scroll.saturating_sub(1),
                View::Compare => self.compare_scroll = self.compare_scroll.saturating_sub(1),
                View::Inspect => self.move_inspect(-1),
            },
            KeyCode::PageUp => match self.view {
                View::Main => self.log_scroll += 10,
                View::Diagram => self.diagram_scroll += 10,
                View::Order => self.order_scroll = self.order_scroll.saturating_sub(10),
                View::Compare => self.compare_scroll = self.compare_scroll.saturating_sub(10),
                View::Inspect => self.move_inspect(-10),
            },
            KeyCode::PageDown => match self.view {
                View::Main => self.log_scroll = self.log_scroll.saturating_sub(10),
                View::Diagram => self.diagram_scroll = self.diagram_scroll.saturating_sub(10),
                View::Order => self.order_scroll += 10,
                View::Compare => self.compare_scroll += 10,
                View::Inspect => self.move_inspect(10),
            },
            KeyCode::End => self.follow(),
            _ => {}
        }
    }

    /// A click on column `x` of the timeline strip: go to the mark there (back by replay, or
    /// forward by stepping), or run on to that time when the cell is ahead and unmarked.
    pub fn click_timeline(&mut self, x: u16) {
        use super::timeline::{Target, target};
        let now = self.display_time();
        let Some(s) = self.session.as_mut() else {
            return;
        };
        self.playing = false;
        match target(s, now, self.screen_width, x) {
            Some(Target::Event(event, kind)) => {
                s.rewind_to(event);
                self.status = Some(format!(
                    "at {}: {} {} (timeline)",
                    theme::time(s.now()),
                    kind.glyph(),
                    kind.word()
                ));
            }
            Some(Target::Time(t)) => {
                s.advance_to(t, MAX_EVENTS_PER_CLICK);
                self.status = Some(format!("ran on to {} (timeline)", theme::time(s.now())));
            }
            None => self.status = Some("nothing marked there on the timeline".into()),
        }
        self.follow();
    }

    fn leave(&mut self) {
        if self.from_picker() {
            self.session = None;
            self.overlay = None;
            self.view = View::Main;
            self.playing = false;
            self.status = None;
        } else {
            self.quit = true;
        }
    }

    fn toggle_view(&mut self, v: View) {
        self.view = if self.view == v { View::Main } else { v };
    }

    /// In the compare view, bring the three preset runs to the main run's time (building them
    /// when the view opens, or anew after a live fault); elsewhere, drop them.
    fn sync_compare(&mut self) {
        if self.view != View::Compare {
            self.compare = None;
            return;
        }
        let Some(s) = &self.session else { return };
        if self
            .compare
            .as_ref()
            .is_none_or(|c| !c.current(s) || c.mode != self.compare_mode)
        {
            match super::compare::CompareRuns::new(s, self.compare_mode) {
                Ok(c) => {
                    self.compare = Some(c);
                    self.compare_scroll = 0;
                }
                Err(e) => {
                    self.compare = None;
                    self.view = View::Main;
                    self.status = Some(e.lines().next().unwrap_or("").to_string());
                    return;
                }
            }
        }
        if let Some(c) = &mut self.compare {
            c.sync(s);
        }
    }

    fn follow(&mut self) {
        self.log_scroll = 0;
        self.diagram_scroll = 0;
    }

    fn toggle_play(&mut self) {
        let s = self.session.as_ref().unwrap();
        if s.finished() {
            self.playing = false;
            self.status = Some("the run has finished — ← steps back, r restarts".into());
            return;
        }
        self.playing = !self.playing;
        self.carry_us = 0.0;
        self.clock = s.now();
        if self.playing {
            self.follow();
        }
    }

    fn select_partition(&mut self, delta: isize) {
        let Some(s) = &self.session else { return };
        let n = s.sim.partitions().len();
        if n == 0 {
            return;
        }
        self.selected = (self.selected.min(n - 1) as isize + delta).rem_euclid(n as isize) as usize;
    }

    /// `1`-`3` in the compare view (`1`-`5` for versions): that column's run becomes the main
    /// run, at the same moment.
    fn open_preset(&mut self, i: usize) {
        let Some(runs) = self.compare.take() else {
            return;
        };
        let Some(column) = runs.columns.get(i).copied() else {
            self.compare = Some(runs);
            return;
        };
        let what = match runs.mode {
            super::compare::CompareMode::Presets => format!("the {column} preset's run"),
            super::compare::CompareMode::Versions => format!("the Kafka {column} profile's run"),
            super::compare::CompareMode::Systems => format!("the {column} system's run"),
        };
        let session = runs
            .sessions
            .into_iter()
            .nth(i)
            .expect("one session per preset");
        self.playing = false;
        self.session = Some(session);
        // The quiz's answers were computed for the scenario's own settings.
        self.quiz = None;
        self.view = View::Main;
        self.follow();
        self.status = Some(format!(
            "opened {what}: its settings replace the scenario's (r restarts it)"
        ));
    }

    // ----- the message inspector ----------------------------------------------------------

    /// `i`: choose a message to inspect: the anomalies so far, then what was truncated, then the
    /// selected partition's log, newest first.
    fn open_inspect_menu(&mut self) {
        self.playing = false;
        let s = self.session.as_ref().unwrap();
        let items = inspect_items(s, self.selected_partition());
        if items.is_empty() {
            self.status = Some("no message has been sent yet: step forward first".into());
            return;
        }
        self.overlay = Some(Overlay::Inspect(InspectMenu { items, selected: 0 }));
    }

    fn on_inspect_menu_key(&mut self, mut menu: InspectMenu, k: KeyEvent) {
        let n = menu.items.len();
        match k.code {
            KeyCode::Up | KeyCode::Char('k') => menu.selected = menu.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                menu.selected = (menu.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::PageUp => menu.selected = menu.selected.saturating_sub(10),
            KeyCode::PageDown => menu.selected = (menu.selected + 10).min(n.saturating_sub(1)),
            KeyCode::Enter => {
                let msg = menu.items[menu.selected.min(n - 1)].msg;
                self.inspect(msg);
                return;
            }
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('i') => return,
            _ => {}
        }
        self.overlay = Some(Overlay::Inspect(menu));
    }

    /// Open the inspector on `msg`: its life up to now, replayed from the start.
    pub fn inspect(&mut self, msg: MsgId) {
        let s = self.session.as_ref().unwrap();
        let rec = s.recording();
        let steps: Vec<InspectStep> = rec
            .life(msg)
            .into_iter()
            .map(|step| {
                let because = rec.cause_text(&step);
                InspectStep {
                    at_event: rec.step_of[step.id.0 as usize],
                    because,
                    step,
                }
            })
            .collect();
        let selected = steps.len().saturating_sub(1);
        self.inspector = Some(Inspector {
            msg,
            name: s.sim.msg_name(msg),
            steps,
            selected,
        });
        self.view = View::Inspect;
    }

    fn move_inspect(&mut self, delta: isize) {
        if let Some(ins) = &mut self.inspector {
            let n = ins.steps.len();
            ins.selected = ins
                .selected
                .saturating_add_signed(delta)
                .min(n.saturating_sub(1));
        }
    }

    /// Enter in the inspector: go to the moment of the selected step.
    fn jump_to_inspected(&mut self) {
        let Some(step) = self
            .inspector
            .as_ref()
            .and_then(|i| i.steps.get(i.selected))
        else {
            return;
        };
        let (event, text) = (step.at_event, step.step.text.trim_start().to_string());
        self.playing = false;
        self.session.as_mut().unwrap().rewind_to(event);
        self.view = View::Main;
        self.follow();
        self.status = Some(format!("at {}: {text}", theme::time(self.display_time())));
    }

    fn save(&mut self) {
        let s = self.session.as_ref().unwrap();
        self.status = Some(match s.save_in(&self.save_dir) {
            Ok(path) => format!(
                "saved {} live fault(s) to {}",
                s.live_faults.len(),
                path.display()
            ),
            Err(e) => format!("could not save: {e}"),
        });
    }

    fn on_picker_key(&mut self, k: KeyEvent) {
        let Some(p) = &mut self.picker else {
            self.quit = true;
            return;
        };
        let n = p.entries.len();
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                p.selected = (p.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => {
                p.selected = p.selected.saturating_sub(1)
            }
            KeyCode::Home => p.selected = 0,
            KeyCode::End => p.selected = n.saturating_sub(1),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char(' ') => {
                let Some(e) = p.entries.get(p.selected) else {
                    return;
                };
                let Some(sc) = e.scenario.clone() else {
                    self.status = Some(format!("{} does not parse", e.name));
                    return;
                };
                let seed = sc.scenario.seed;
                let label = format!("scenarios/{}.toml", e.name);
                let mut fresh = App::with_session(Session::new(label, sc, seed));
                fresh.picker = self.picker.take();
                fresh.save_dir = std::mem::take(&mut self.save_dir);
                *self = fresh;
            }
            _ => {}
        }
    }

    fn on_fault_menu_key(&mut self, mut menu: FaultMenu, k: KeyEvent) {
        let n = menu.items.len();
        match k.code {
            KeyCode::Esc | KeyCode::Char('f') | KeyCode::Char('q') => {}
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                menu.selected = (menu.selected + 1) % n.max(1);
                self.overlay = Some(Overlay::Faults(menu));
            }
            KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => {
                menu.selected = (menu.selected + n.max(1) - 1) % n.max(1);
                self.overlay = Some(Overlay::Faults(menu));
            }
            KeyCode::Enter => {
                if let Some(item) = menu.items.get(menu.selected) {
                    let s = self.session.as_mut().unwrap();
                    self.status = Some(match s.inject(item.fault.clone()) {
                        Ok(()) => format!("injected: {} (s saves the session)", item.label),
                        Err(e) => e,
                    });
                    self.follow();
                }
            }
            KeyCode::Char(c) if c.is_ascii_digit() => {
                let i = (c as u8 - b'1') as usize;
                if c != '0' && i < n {
                    menu.selected = i;
                }
                self.overlay = Some(Overlay::Faults(menu));
            }
            _ => self.overlay = Some(Overlay::Faults(menu)),
        }
    }

    // ----- time ---------------------------------------------------------------------------

    /// Advance playback by `elapsed` real time. Returns whether anything changed.
    pub fn tick(&mut self, elapsed: Duration) -> bool {
        if !self.playing || self.overlay.is_some() {
            return false;
        }
        let Some(s) = &mut self.session else {
            return false;
        };
        self.carry_us += elapsed.as_secs_f64() * 1e6 * SPEEDS[self.speed];
        let whole = self.carry_us.floor();
        self.carry_us -= whole;
        // Never run ahead of the simulation by more than a tick's worth (after a stall or
        // when the per-tick event budget was hit).
        self.clock = SimTime(self.clock.0.max(s.now().0).saturating_add(whole as u64));
        // Playback stops at the next quiz question's moment.
        let until = self
            .quiz
            .as_ref()
            .and_then(|q| q.next_moment())
            .map_or(self.clock, |m| m.min(self.clock));
        let more = s.advance_to(until, MAX_EVENTS_PER_TICK);
        if s.now() < self.clock && s.sim.peek_time().is_some_and(|t| t <= self.clock) {
            // The event budget ran out: let the clock wait for the simulation.
            self.clock = s.now();
        }
        if !more {
            self.playing = false;
            self.status = Some("the run has finished — ← steps back, r restarts".into());
        }
        self.sync_compare();
        self.quiz_due();
        true
    }

    /// How long the loop may wait for input: a frame while playing, forever when paused.
    pub fn poll_timeout(&self) -> Option<Duration> {
        (self.playing && self.overlay.is_none()).then_some(Duration::from_millis(50))
    }
}

// ----- the quiz ------------------------------------------------------------------------------

/// The quiz of a session's run: the scenario's questions and the automatic ones, computed from
/// one headless run of the same scenario and seed.
fn quiz_for(s: &Session) -> crate::quiz::play::QuizPlay {
    let quiz = crate::quiz::build(&s.label, &s.scenario, s.seed, true);
    crate::quiz::play::QuizPlay::new(quiz, true)
}

impl App {
    /// Keys of the quiz: `Q` turns it on and off; while a question is asked, `1`-`6` or `a`-`f`
    /// answer and `x` skips; after the reveal, Enter, Esc or space go on. Returns whether the
    /// key was the quiz's.
    fn on_quiz_key(&mut self, k: KeyEvent) -> bool {
        if self.session.is_none() || self.overlay.is_some() {
            return false;
        }
        if k.code == KeyCode::Char('Q') {
            self.toggle_quiz();
            return true;
        }
        let Some(play) = &mut self.quiz else {
            return false;
        };
        use crate::quiz::play::Phase;
        match play.phase {
            Some(Phase::Asking(i)) => {
                let q = &play.quiz.questions[i];
                let choice = match k.code {
                    KeyCode::Char('x') => None,
                    KeyCode::Char(c) if q.choice_of_key(c).is_some() => q.choice_of_key(c),
                    // Quit and help still work; everything else waits for the answer.
                    KeyCode::Char('q' | '?') | KeyCode::F(1) => return false,
                    _ => {
                        self.status = Some(format!(
                            "answer first: 1-{} or a-{}, x skips, Q turns the quiz off",
                            q.choices.len(),
                            (b'a' + q.choices.len() as u8 - 1) as char
                        ));
                        return true;
                    }
                };
                let reveal = play.answer(choice);
                if let (Some((step, _)), Some(s)) = (reveal, self.session.as_mut())
                    && step > s.events()
                {
                    // Show the state that decides the answer.
                    s.rewind_to(step);
                }
                self.follow();
                true
            }
            Some(Phase::Revealed(..)) => {
                play.close();
                if matches!(k.code, KeyCode::Enter | KeyCode::Esc | KeyCode::Char(' ')) {
                    if self.quiz_resume {
                        self.toggle_play();
                    }
                    self.quiz_resume = false;
                    return true;
                }
                self.quiz_resume = false;
                false
            }
            None => {
                if k.code == KeyCode::Char('r') {
                    play.restart();
                }
                false
            }
        }
    }

    fn toggle_quiz(&mut self) {
        let Some(s) = &self.session else { return };
        match &mut self.quiz {
            None => self.quiz = Some(quiz_for(s)),
            Some(play) => {
                play.on = !play.on;
                if !play.on {
                    play.phase = None;
                }
            }
        }
        let play = self.quiz.as_ref().expect("just set");
        self.status = Some(if !play.on {
            "quiz off (Q turns it on again)".into()
        } else if !s.live_faults.is_empty() {
            "quiz on, but its answers are the scripted run's: no questions while live faults are in (r restarts without them)".into()
        } else {
            format!(
                "quiz on: {} question(s); the run pauses at each (1-6/a-f answer, x skips)",
                play.total()
            )
        });
    }

    /// Opens the next question once the run has reached its moment, pausing playback.
    fn quiz_due(&mut self) {
        let (Some(play), Some(s)) = (&mut self.quiz, &self.session) else {
            return;
        };
        // Live faults make a different run: the answers would be the scripted run's.
        if !s.live_faults.is_empty() {
            return;
        }
        let reached = |t: SimTime| s.finished() || s.sim.peek_time().is_none_or(|next| next > t);
        if play.due(reached) {
            self.quiz_resume = self.playing;
            self.playing = false;
        }
    }
}

/// A key on the glossary page: scroll, back to the keys (`?`), or close.
fn glossary_key(scroll: usize, k: KeyEvent) -> Option<Overlay> {
    let scroll = match k.code {
        KeyCode::Down | KeyCode::Char('j') => scroll + 1,
        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
        KeyCode::PageDown | KeyCode::Char(' ') => scroll + 10,
        KeyCode::PageUp => scroll.saturating_sub(10),
        KeyCode::Home => 0,
        KeyCode::Char('?') => return Some(Overlay::Help),
        _ => return None,
    };
    // Not past the last entry (the page clamps what it draws; this keeps ↑ responsive).
    Some(Overlay::Glossary(
        scroll.min(crate::glossary::ENTRIES.len() * 4),
    ))
}

/// The fault menu for the current state: every item builds a typed fault.
pub fn fault_items(s: &Session, selected: Option<PartitionId>) -> Vec<FaultItem> {
    let sim = &s.sim;
    let mut items = Vec::new();
    let mut push = |label: String, kind: FaultKind| {
        items.push(FaultItem {
            label,
            fault: FaultSpec {
                at: SimTime::ZERO,
                kind,
            },
        })
    };
    if let Some(p) = selected {
        let name = sim.partition_name(p);
        if let Some(leader) = sim.controller().parts[p.idx()].leader
            && sim.nodes()[sim.node_of_broker(leader).idx()].up
        {
            push(
                format!("crash the leader of {name} ({})", sim.broker_name(leader)),
                FaultKind::Crash(Target::LeaderOf(p)),
            );
            for r in sim.replicas(p) {
                let n = sim.node_of_broker(r.broker);
                let node = &sim.nodes()[n.idx()];
                if r.role() == Role::Follower && node.up && node.paused_until.is_none() {
                    push(
                        format!("pause follower {} of {name} for 5 s (GC pause)", node.name),
                        FaultKind::Pause {
                            target: Target::Node(n),
                            duration_ms: 5000,
                        },
                    );
                }
            }
        }
    }
    let nodes = || {
        sim.nodes()
            .iter()
            .enumerate()
            .map(|(i, n)| (Target::Node(NodeId(i as u32)), n))
    };
    for (t, n) in nodes() {
        if let NodeKind::Broker(_) = n.kind {
            if n.up {
                push(format!("crash {}", n.name), FaultKind::Crash(t));
                push(
                    format!("stop {} (controlled shutdown)", n.name),
                    FaultKind::Stop(t),
                );
            } else {
                push(format!("restart {}", n.name), FaultKind::Restart(t));
            }
        }
    }
    for (t, n) in nodes() {
        if let NodeKind::Broker(_) = n.kind
            && n.up
        {
            push(
                format!("isolate {} from everyone for 10 s", n.name),
                FaultKind::Isolate {
                    target: t,
                    duration_ms: Some(10_000),
                },
            );
        }
    }
    for (i, p) in sim.producers().iter().enumerate() {
        push(
            format!("drop the next 3 produce responses (ACKs) to {}", p.name),
            FaultKind::DropAcks {
                producer: ProducerId(i as u32),
                count: 3,
            },
        );
    }
    for (i, g) in sim.groups().iter().enumerate() {
        push(
            format!("add a consumer to group {}", g.name),
            FaultKind::AddConsumer(GroupId(i as u32)),
        );
        for &c in &g.consumers {
            let cons = &sim.consumers()[c.idx()];
            if matches!(
                cons.state(),
                ConsumerState::Left | ConsumerState::Crashed | ConsumerState::Idle
            ) {
                continue;
            }
            push(
                format!("remove {} from its group (LeaveGroup)", cons.name),
                FaultKind::RemoveConsumer(c),
            );
            push(
                format!("crash {} (no LeaveGroup)", cons.name),
                FaultKind::Crash(Target::Consumer(c)),
            );
        }
        for &c in &g.consumers {
            let cons = &sim.consumers()[c.idx()];
            if cons.state() == ConsumerState::Crashed {
                push(
                    format!("restart {}", cons.name),
                    FaultKind::Restart(Target::Consumer(c)),
                );
            }
        }
    }
    push(
        "heal every network fault (isolations, cuts)".into(),
        FaultKind::Heal,
    );
    items
}

/// What the inspector's menu offers: the anomalies so far, the records truncations removed, then
/// the selected partition's log on its leader (or first replica), newest first.
fn inspect_items(s: &Session, partition: Option<PartitionId>) -> Vec<InspectItem> {
    use crate::check::Anomaly;
    const MAX_ITEMS: usize = 300;
    let mut items: Vec<InspectItem> = Vec::new();
    let push = |items: &mut Vec<InspectItem>, msg: MsgId, label: String| {
        if items.len() < MAX_ITEMS && !items.iter().any(|i| i.msg == msg) {
            items.push(InspectItem { msg, label });
        }
    };
    for (_, a) in s.anomalies.iter().rev() {
        let (msg, what) = match *a {
            Anomaly::Duplicate { msg, .. } => (msg, "⚠ duplicated"),
            Anomaly::Reordered { msg, .. } => (msg, "⚠ reordered"),
            Anomaly::AckedTruncated { msg } => (msg, "⚠ acked, truncated"),
            Anomaly::ElectedWithout { msg, .. } => (msg, "⚠ acked, left behind"),
        };
        push(
            &mut items,
            msg,
            format!("{what:<20} {}", s.sim.msg_name(msg)),
        );
    }
    for t in s.truncations.iter().rev() {
        for &m in t.removed.iter() {
            push(
                &mut items,
                m,
                format!(
                    "{:<20} {} (from {} on {})",
                    "✗ truncated",
                    s.sim.msg_name(m),
                    s.sim.partition_name(t.partition),
                    s.sim.broker_name(t.broker)
                ),
            );
        }
    }
    if let Some(p) = partition {
        let replica = s
            .sim
            .replicas(p)
            .find(|r| r.is_leader())
            .or(s.sim.replicas(p).next());
        if let Some(r) = replica {
            for (offset, e) in r.log().iter().enumerate().rev() {
                if let Some(m) = e.message() {
                    let mark = if (offset as u64) < r.hw() {
                        "●"
                    } else {
                        "○"
                    };
                    push(
                        &mut items,
                        m,
                        format!(
                            "{mark} {:<18} {}",
                            format!("{} offset {offset}", s.sim.partition_name(p)),
                            s.sim.msg_name(m)
                        ),
                    );
                }
            }
        }
    }
    items
}
