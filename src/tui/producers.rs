//! The producers panel: each producer's config in Kafka's names, then what it is doing:
//! in-flight requests, retries and errors as they happen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme;
use crate::session::Session;
use crate::sim::producer::Producer;

pub const PRODUCERS_TITLE: &str = "Producers";

/// Errors this recent (simulated) are shown in red.
const RECENT_ERROR_MS: u64 = 3000;

pub struct ProducersPanel<'a> {
    pub s: &'a Session,
    pub compact: bool,
}

fn retries(p: &Producer) -> String {
    if p.retries >= i32::MAX as u32 {
        "2147483647".into()
    } else {
        p.retries.to_string()
    }
}

fn activity(s: &Session, p: &Producer, spans: &mut Vec<Span<'static>>, long: bool) {
    let in_flight = p.in_flight();
    let retrying = p.retrying();
    spans.push(Span::styled("in-flight ", theme::LABEL));
    spans.push(Span::styled(in_flight.to_string(), theme::BOLD));
    spans.push(Span::styled(" retrying ", theme::LABEL));
    spans.push(Span::styled(
        retrying.to_string(),
        if retrying > 0 {
            theme::PAUSED
        } else {
            theme::BOLD
        },
    ));
    if long {
        spans.push(Span::styled(" queued ", theme::LABEL));
        spans.push(Span::styled(p.queued().to_string(), theme::BOLD));
        spans.push(Span::styled("  sent ", theme::LABEL));
        spans.push(Span::styled(p.sent.to_string(), theme::BOLD));
    }
    spans.push(Span::styled(" acked ", theme::LABEL));
    spans.push(Span::styled(p.acked.to_string(), theme::GOOD));
    if p.failed > 0 || long {
        spans.push(Span::styled(" failed ", theme::LABEL));
        spans.push(Span::styled(
            p.failed.to_string(),
            if p.failed > 0 {
                theme::LOSS
            } else {
                theme::BOLD
            },
        ));
    }
    if long {
        spans.push(Span::styled(" retries so far ", theme::LABEL));
        spans.push(Span::styled(p.retried.to_string(), theme::BOLD));
    } else if let Some((t, e)) = p.last_error {
        let recent = s.now().0.saturating_sub(t.0) <= RECENT_ERROR_MS * 1000;
        let style = if recent { theme::LOSS } else { theme::DIM };
        spans.push(Span::styled(format!(" ✗{}", e.name()), style));
    }
}

/// How long acknowledgements take right now: the latest send→ack and the slowest so far
/// (`run` reports the percentiles at the end).
fn latency(s: &Session, p: &Producer) -> Option<Line<'static>> {
    let (last, max) = s.metrics.produce_latency_now(p.id.idx())?;
    let ms = |us: u64| crate::report::fmt_ms(us as f64 / 1000.0);
    Some(Line::from(vec![
        Span::styled("  send→ack last ", theme::LABEL),
        Span::styled(ms(last), theme::BOLD),
        Span::styled("  slowest ", theme::LABEL),
        Span::styled(ms(max), theme::BOLD),
    ]))
}

fn last_error(s: &Session, p: &Producer) -> Option<Line<'static>> {
    let (t, e) = p.last_error?;
    let recent = s.now().0.saturating_sub(t.0) <= RECENT_ERROR_MS * 1000;
    let style = if recent { theme::LOSS } else { theme::DIM };
    Some(Line::from(vec![
        Span::styled("  last error ", theme::LABEL),
        Span::styled(
            crate::queue_words::error_name(s.sim.settings().system, e).to_string(),
            style,
        ),
        Span::styled(format!(" at {}", theme::time(t)), theme::LABEL),
    ]))
}

/// `✗ crashed ` or `⏸ paused ` when the producer's process is not running (a crashed client's
/// state is reset, so its transaction state would otherwise read like a fresh start).
fn status(s: &Session, p: &Producer) -> Option<Span<'static>> {
    let node = &s.sim.nodes()[p.node.idx()];
    let host = node.host.map(|h| &s.sim.nodes()[h.idx()]).unwrap_or(node);
    if !node.up || !host.up {
        Some(Span::styled("✗ crashed  ", theme::DOWN))
    } else if node.paused_until.is_some() || host.paused_until.is_some() {
        Some(Span::styled("⏸ paused  ", theme::PAUSED))
    } else {
        None
    }
}

/// `crashed`: the client's memory is gone, so its transaction state is not shown.
fn config(s: &Session, p: &Producer, long: bool, crashed: bool) -> Vec<Span<'static>> {
    let system = s.sim.settings().system;
    if !system.is_kafka() {
        return vec![Span::styled(
            crate::queue_words::producer_setting(system, p.acks),
            theme::BOLD,
        )];
    }
    let idem = if long {
        format!("  enable.idempotence={}", p.idempotent)
    } else {
        format!(" idempotence={}", p.idempotent)
    };
    let mut v = vec![
        Span::styled(format!("acks={}", p.acks.name()), theme::BOLD),
        Span::styled(idem, theme::BOLD),
        Span::styled(
            format!(
                "{}max.in.flight={}",
                if long { "  " } else { " " },
                p.max_in_flight
            ),
            theme::BOLD,
        ),
    ];
    if long {
        v.push(Span::styled(
            format!("  retries={}", retries(p)),
            theme::BOLD,
        ));
    }
    // A transactional producer: its epoch and where its transaction is.
    if let Some(t) = p.txn().filter(|_| !crashed) {
        let style = if t.state.stopped() {
            theme::LOSS
        } else {
            theme::BOLD
        };
        v.push(Span::styled(
            format!(
                "{}txn epoch {} {} ({} rec)",
                if long { "  " } else { " " },
                p.epoch(),
                t.state.name(),
                t.records.len()
            ),
            style,
        ));
    }
    // A transactional id's coordinator (FindCoordinator), also while the client is down.
    if let Some(t) = p
        .transactional
        .filter(|t| (t.txn as usize) < s.sim.txns().len())
    {
        v.extend(super::coordinator::spans(
            &s.sim,
            s.sim.txn_host(t.txn),
            !long,
        ));
    }
    v
}

/// A producer's name, its state if it is not running normally, and its configuration
/// (`long`: every setting, for the wide layout).
fn head(s: &Session, p: &Producer, long: bool) -> Vec<Span<'static>> {
    let gap = if long { "  " } else { " " };
    let mut spans = vec![Span::styled(format!("{}{gap}", p.name), theme::TITLE)];
    let status = status(s, p);
    let crashed = status
        .as_ref()
        .is_some_and(|st| st.content.starts_with('✗'));
    spans.extend(status);
    spans.extend(config(s, p, long, crashed));
    spans
}

/// One producer's line (or two, wrapped), for the narrow layout.
fn compact_block(s: &Session, p: &Producer, width: u16) -> Vec<Line<'static>> {
    let mut spans = head(s, p, false);
    spans.push(Span::styled(" │ ", theme::DIM));
    activity(s, p, &mut spans, false);
    super::wrap_spans(spans, width, 2)
}

/// One line per producer, for the narrow layout, in at most `rows` rows: whole producers,
/// then how many more there are (each is formatted only if it can show).
pub fn compact_lines(s: &Session, width: u16, rows: usize) -> Vec<Line<'static>> {
    let producers = s.sim.producers();
    super::fit_blocks(
        producers.iter().map(|p| compact_block(s, p, width)),
        producers.len(),
        rows,
        "producers",
    )
}

impl ProducersPanel<'_> {
    /// One producer's lines in the wide layout: its configuration, what it is doing, its
    /// latency and its last error.
    fn block(&self, p: &Producer, width: u16) -> Vec<Line<'static>> {
        let mut lines = super::wrap_spans(head(self.s, p, true), width, 4);
        let mut spans = vec![Span::raw("  ")];
        activity(self.s, p, &mut spans, true);
        lines.extend(super::wrap_spans(spans, width, 4));
        lines.extend(latency(self.s, p));
        lines.extend(last_error(self.s, p));
        lines
    }

    /// The panel's lines at `width` in at most `rows` rows: whole producers, then how many
    /// more there are. Only the producers that show are formatted (the benchmark's run has
    /// fifty), so a frame costs the same with five producers or five hundred.
    pub fn lines(&self, width: u16, rows: usize) -> Vec<Line<'static>> {
        if self.compact {
            return compact_lines(self.s, width, rows);
        }
        let producers = self.s.sim.producers();
        super::fit_blocks(
            producers.iter().map(|p| self.block(p, width)),
            producers.len(),
            rows,
            "producers",
        )
    }
}

impl Widget for ProducersPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let lines = self.lines(area.width, area.height as usize - 1);
        super::draw_panel(PRODUCERS_TITLE, &lines, area, buf);
    }
}
