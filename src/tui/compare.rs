//! The compare view (`c`): the scenario under the at-most-once, at-least-once and exactly-once
//! presets of `brokerlab compare` (or, after `v`, under every Kafka version profile of
//! `brokerlab compare --versions`, and after a second `v` on every queue system of `brokerlab
//! compare --systems`), runs that follow the main run's simulated clock in lockstep, with their
//! live outcomes side by side and the message × column matrix below.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::outcome::verdict_style;
use super::{panel, put, theme};
use crate::check::Outcome;
use crate::compare::systems::QueueSystem;
use crate::compare::{self, Cell, MATRIX_ALL_ROWS};
use crate::scenario::profile::KafkaVersion;
use crate::session::Session;
use crate::sim::SimTime;

/// Settings rows shown in the versions table before "… N more", on a short and a tall screen.
const MAX_SETTING_ROWS: [usize; 2] = [3, 12];
/// The widest label of a settings row.
const MAX_SETTING_LABEL: u16 = 26;

/// What the compare view's columns are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CompareMode {
    /// The three delivery presets.
    #[default]
    Presets,
    /// Every Kafka version profile.
    Versions,
    /// Every queue system (`compare --systems`).
    Systems,
}

impl CompareMode {
    /// The mode `v` switches to.
    pub fn next(self) -> CompareMode {
        match self {
            CompareMode::Presets => CompareMode::Versions,
            CompareMode::Versions => CompareMode::Systems,
            CompareMode::Systems => CompareMode::Presets,
        }
    }

    /// What the columns are, for the header and the footer's `v` hint.
    pub fn name(self) -> &'static str {
        match self {
            CompareMode::Presets => "presets",
            CompareMode::Versions => "versions",
            CompareMode::Systems => "systems",
        }
    }
}

/// The runs of the compare view, one per column.
pub struct CompareRuns {
    pub mode: CompareMode,
    /// Each run's column name (a preset or a version), in `sessions` order.
    pub columns: Vec<&'static str>,
    pub sessions: Vec<Session>,
    /// Versions (or systems) that refuse the scenario, with why (they have no run).
    pub refused: Vec<(&'static str, Vec<String>)>,
    /// Systems: what each column runs with, in its system's words (empty for the others).
    pub settings: Vec<String>,
    /// Live faults of the main session when the runs were built (they carry them).
    live_faults: usize,
}

impl CompareRuns {
    /// The presets (or version profiles) applied to the main session's scenario, with its live
    /// faults and seed.
    pub fn new(main: &Session, mode: CompareMode) -> Result<CompareRuns, String> {
        let sc = main.to_scenario();
        let mut settings = Vec::new();
        let (columns, scenarios, refused) = match mode {
            CompareMode::Presets => {
                let variants = compare::variants(&main.label, &sc)?;
                (
                    variants.iter().map(|v| v.preset.name()).collect(),
                    variants.into_iter().map(|v| v.scenario).collect(),
                    Vec::new(),
                )
            }
            CompareMode::Versions => {
                let mut columns = Vec::new();
                let mut scenarios = Vec::new();
                let mut refused = Vec::new();
                for v in compare::version_variants(&main.label, &sc, &KafkaVersion::ALL) {
                    match v.scenario {
                        Ok(s) => {
                            columns.push(v.version.name());
                            scenarios.push(s);
                        }
                        Err(reasons) => refused.push((v.version.name(), reasons)),
                    }
                }
                (columns, scenarios, refused)
            }
            CompareMode::Systems => {
                let mut columns = Vec::new();
                let mut scenarios = Vec::new();
                let mut refused = Vec::new();
                for v in compare::systems::system_variants(&main.label, &sc, &QueueSystem::ALL) {
                    match v.scenario {
                        Ok(s) => {
                            columns.push(v.system.name());
                            scenarios.push(s);
                            settings.push(v.settings);
                        }
                        Err(why) => refused.push((v.system.name(), vec![why])),
                    }
                }
                (columns, scenarios, refused)
            }
        };
        Ok(CompareRuns {
            mode,
            columns,
            sessions: scenarios
                .into_iter()
                .map(|s| Session::new(main.label.clone(), s, main.seed))
                .collect(),
            refused,
            settings,
            live_faults: main.live_faults.len(),
        })
    }

    /// Whether the runs were built with the main session's current live faults.
    pub fn current(&self, main: &Session) -> bool {
        self.live_faults == main.live_faults.len()
    }

    /// Brings every run to the main run's simulated time (to the end once it has finished).
    pub fn sync(&mut self, main: &Session) {
        let t = if main.finished() {
            SimTime(u64::MAX)
        } else {
            main.now()
        };
        for s in &mut self.sessions {
            if s.now() > t {
                s.restart();
            }
            s.advance_to(t, u64::MAX);
        }
    }
}

pub struct CompareView<'a> {
    pub app: &'a App,
    pub runs: &'a CompareRuns,
}

fn num_style(v: u64, bad: Style) -> Style {
    if v > 0 { bad } else { theme::BOLD }
}

impl Widget for CompareView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let runs = self.runs;
        if runs.sessions.is_empty() {
            return;
        }
        let outcomes: Vec<&Outcome> = runs.sessions.iter().map(|s| s.outcome()).collect();
        let final_ = outcomes.iter().all(|o| o.final_);
        let sc = &runs.sessions[0].scenario;
        let matrix = compare::matrix(
            sc,
            &runs
                .sessions
                .iter()
                .map(|s| (&s.sim, &s.checker))
                .collect::<Vec<_>>(),
        );
        let label_w = matrix
            .iter()
            .flat_map(|m| m.rows.iter().map(|r| r.message.chars().count()))
            .chain(matrix.iter().map(|m| m.group.chars().count()))
            .chain([14])
            .max()
            .unwrap_or(14) as u16
            + 2;
        // Versions: the settings that differ, labelled `who setting` (`setting` for the cluster).
        let differing = match runs.mode {
            CompareMode::Presets | CompareMode::Systems => Vec::new(),
            CompareMode::Versions => compare::differing_settings(
                &runs
                    .sessions
                    .iter()
                    .map(|s| &s.scenario)
                    .collect::<Vec<_>>(),
            ),
        };
        let setting_label = |x: &compare::SettingRow| {
            if x.who == "cluster" {
                x.setting.to_string()
            } else {
                format!("{} {}", x.who, x.setting)
            }
        };
        let label_w = differing
            .iter()
            .map(|x| (setting_label(x).chars().count() as u16 + 2).min(MAX_SETTING_LABEL))
            .fold(label_w, u16::max);
        let n = runs.sessions.len().max(1) as u16;
        let col_w = ((area.width.saturating_sub(label_w)) / n).clamp(8, 20) as usize;
        let lw = label_w as usize;
        let row = |label: &str, cells: Vec<Span<'static>>| {
            let mut spans = vec![Span::styled(
                format!("{:<lw$}", theme::fit(label, lw - 1)),
                theme::LABEL,
            )];
            for c in cells {
                spans.push(Span::styled(
                    format!("{:<col_w$}", theme::fit(&c.content, col_w - 1)),
                    c.style,
                ));
            }
            Line::from(spans)
        };
        let nums = |f: &dyn Fn(&Outcome) -> u64, bad: Style| -> Vec<Span<'static>> {
            outcomes
                .iter()
                .map(|o| {
                    let v = f(o);
                    Span::styled(v.to_string(), num_style(v, bad))
                })
                .collect()
        };
        let mut table = vec![row(
            "",
            runs.columns
                .iter()
                .enumerate()
                .map(|(i, p)| Span::styled(format!("{} {p}", i + 1), theme::TITLE))
                .collect(),
        )];
        // Versions: what the profiles set differently, for the settings the scenario leaves to
        // them (acks and idempotence among them when they differ).
        let max_rows = MAX_SETTING_ROWS[usize::from(area.height >= 36)];
        for x in differing.iter().take(max_rows) {
            table.push(row(
                &setting_label(x),
                x.values
                    .iter()
                    .map(|v| {
                        let v = if v == "2147483647" { "MAX_INT" } else { v };
                        Span::styled(v.to_string(), theme::DIM)
                    })
                    .collect(),
            ));
        }
        if differing.len() > max_rows {
            table.push(Line::styled(
                format!(
                    "  … {} more settings differ (brokerlab compare --versions)",
                    differing.len() - max_rows
                ),
                theme::DIM,
            ));
        }
        // What each preset sets, per producer and group: the cost side of each verdict.
        let presets = runs.mode == CompareMode::Presets;
        for (i, p) in sc.producers.iter().enumerate().filter(|_| presets) {
            table.push(row(
                &p.name,
                runs.sessions
                    .iter()
                    .map(|s| Span::styled(producer_settings(&s.scenario.producers[i]), theme::DIM))
                    .collect(),
            ));
        }
        for (i, g) in sc.groups.iter().enumerate().filter(|_| presets) {
            table.push(row(
                &g.name,
                runs.sessions
                    .iter()
                    .map(|s| Span::styled(group_settings(&s.scenario.groups[i]), theme::DIM))
                    .collect(),
            ));
        }
        // Systems: what each runs with, one line per column (too long for a cell).
        for (i, (system, line)) in runs.columns.iter().zip(&runs.settings).enumerate() {
            table.push(Line::styled(
                theme::fit(
                    &format!("  {} {system}: {line}", i + 1),
                    area.width as usize,
                ),
                theme::DIM,
            ));
        }
        table.push(row("sent", nums(&|o| o.sent, theme::BOLD)));
        table.push(row("acked", nums(&|o| o.acked, theme::GOOD)));
        table.push(row("failed", nums(&|o| o.failed, theme::LOSS)));
        if !final_ {
            table.push(row("pending", nums(&|o| o.pending, theme::BOLD)));
        }
        table.push(row("lost", nums(&|o| o.lost, theme::LOSS)));
        table.push(row("acked-lost", nums(&|o| o.acked_lost, theme::LOSS)));
        table.push(row("duplicated", nums(&|o| o.duplicated, theme::DUPLICATE)));
        table.push(row("reordered", nums(&|o| o.reordered, theme::REORDER)));
        // The fates that never spoil a verdict, only where some preset has them.
        let fates: [FateRow; 5] = [
            ("redelivered", |o| o.redelivered, theme::DUPLICATE),
            ("dead-lettered", |o| o.dead_lettered, theme::BOLD),
            ("unseen", |o| o.unseen, theme::BOLD),
            ("aborted", |o| o.aborted, theme::BOLD),
            ("aborted-read", |o| o.aborted_read, theme::LOSS),
        ];
        for (label, f, style) in fates {
            if outcomes.iter().any(|o| f(o) > 0) {
                table.push(row(label, nums(&f, style)));
            }
        }
        table.push(row(
            if final_ { "verdict" } else { "verdict so far" },
            outcomes
                .iter()
                .map(|o| Span::styled(o.verdict.name(), verdict_style(o.verdict)))
                .collect(),
        ));
        for (version, reasons) in &runs.refused {
            // The release and KIP first: `0.10 refuses: `transactional.id` came in Kafka 0.11
            // (KIP-98), at producers[0]...`.
            let first = reasons.first().map_or("", |r| r.as_str());
            let marker = format!("did not exist in Kafka {version}: ");
            let short = match (first.split_once(": "), first.split_once(&marker)) {
                (Some((at, _)), Some((_, why))) => format!("{why}, at {at}"),
                _ => first.to_string(),
            };
            let more = match reasons.len() {
                0 | 1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            table.push(Line::styled(
                theme::fit(
                    &format!("  {version} refuses: {short}{more}"),
                    area.width as usize,
                ),
                theme::LOSS,
            ));
        }

        // The matrix: every message, or only those that differ in a group with many.
        let mut lines = Vec::new();
        for m in &matrix {
            lines.push(row(
                &m.group,
                runs.columns
                    .iter()
                    .map(|p| Span::styled(*p, theme::TITLE))
                    .collect(),
            ));
            let all = m.rows.len() <= MATRIX_ALL_ROWS;
            let mut same = 0;
            for r in &m.rows {
                let syms: Vec<String> = r.cells.iter().map(Cell::symbol).collect();
                let differs = syms.iter().any(|x| *x != syms[0]);
                if !all && !differs {
                    same += 1;
                    continue;
                }
                lines.push(row(
                    &r.message,
                    r.cells
                        .iter()
                        .zip(syms)
                        .map(|(c, sym)| {
                            let style = match (c.status, c.applied) {
                                ("applied", 1) => theme::GOOD,
                                ("applied", _) => theme::DUPLICATE,
                                ("lost", _) => theme::LOSS,
                                _ => theme::DIM,
                            };
                            Span::styled(sym, style)
                        })
                        .collect(),
                ));
            }
            if same > 0 {
                let every = match runs.mode {
                    CompareMode::Presets => "all three presets",
                    CompareMode::Versions => "every version",
                    CompareMode::Systems => "every system",
                };
                lines.push(Line::styled(
                    format!("  {same} more with the same result under {every}"),
                    theme::DIM,
                ));
            }
        }

        let th = (table.len() as u16 + 1).min(area.height);
        let [t, b] = Layout::vertical([Constraint::Length(th), Constraint::Fill(1)]).areas(area);
        let title = match runs.mode {
            CompareMode::Presets => "Compare presets",
            CompareMode::Versions => "Compare Kafka versions",
            CompareMode::Systems => "Compare queue systems",
        };
        let other = format!("v {}", runs.mode.next().name());
        let open = match runs.columns.len() {
            0 => String::new(),
            1 => " · 1 opens it".to_string(),
            n => format!(" · 1-{n} open one"),
        };
        let state = if final_ { "final" } else { "live, in lockstep" };
        let inner = panel(title, &format!("{state}{open} · {other}"), t, buf);
        for (i, line) in table.iter().enumerate() {
            put(buf, inner, i as u16, line);
        }
        if b.height == 0 {
            return;
        }
        let inner = panel(
            "Messages  ✓ once  2× twice  ✗ lost  … pending",
            "↑↓ scroll",
            b,
            buf,
        );
        let h = inner.height as usize;
        let max_scroll = lines.len().saturating_sub(h);
        let scroll = self.app.compare_scroll.min(max_scroll);
        for (i, line) in lines.iter().skip(scroll).take(h).enumerate() {
            put(buf, inner, i as u16, line);
        }
    }
}

/// A row of the outcome table: label, the count it shows, its style when non-zero.
type FateRow = (&'static str, fn(&Outcome) -> u64, Style);

/// A producer's delivery settings in a few words.
fn producer_settings(p: &crate::scenario::Producer) -> String {
    let mut s = format!("acks={}", p.acks.name());
    s.push_str(if p.idempotent() { " idem" } else { " no-idem" });
    if p.transactional_id.is_some() {
        s.push_str(" txn");
    }
    s
}

/// A group's delivery settings in a few words.
fn group_settings(g: &crate::scenario::Group) -> String {
    use crate::scenario::{CommitMode, IsolationLevel};
    let mut s = match g.commit {
        CommitMode::Auto => "auto-commit",
        CommitMode::BeforeProcess => "before-proc",
        CommitMode::AfterProcess => "after-proc",
        CommitMode::Transactional => "txn-commit",
    }
    .to_string();
    if g.isolation_level == IsolationLevel::ReadCommitted {
        s.push_str(" rc");
    }
    if g.dedup {
        s.push_str(" dedup");
    }
    s
}
