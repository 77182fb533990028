//! The live outcome: sent, acked, the fate of every message (applied, duplicated, lost, unseen,
//! failed, aborted, dead-lettered, pending while running: they add up), lost by kind,
//! acked-lost, reordered, the acknowledged records still at risk, and the verdict, straight from
//! the checker, so it changes the moment an anomaly happens.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{panel, put, theme};
use crate::check::{GroupOutcome, Outcome};
use crate::scenario::Verdict;
use crate::session::Session;

pub struct OutcomePanel<'a> {
    pub s: &'a Session,
}

fn num(label: &str, v: u64, bad: Style) -> [Span<'static>; 2] {
    [
        Span::styled(format!("{label} "), theme::LABEL),
        Span::styled(format!("{v}  "), if v > 0 { bad } else { theme::BOLD }),
    ]
}

pub fn verdict_style(v: Verdict) -> Style {
    match v {
        Verdict::ExactlyOnce => theme::GOOD,
        Verdict::AtLeastOnce => theme::DUPLICATE,
        Verdict::AtMostOnce | Verdict::None => theme::LOSS,
    }
}

/// A label and a count with one space after, for the dense fate line.
/// `label value ` as spans; the space after the value is its own span, so a wrapped line
/// breaks there and never between a label and its value.
fn fate(label: &str, v: u64, bad: Style) -> [Span<'static>; 3] {
    [
        Span::styled(format!("{label} "), theme::LABEL),
        Span::styled(v.to_string(), if v > 0 { bad } else { theme::BOLD }),
        Span::raw(" "),
    ]
}

/// The fates of a group (or the total), which add up to its messages: applied, dup, lost,
/// unseen, failed, aborted, dead (dead-lettered) and, while running, pending (in flight).
/// `terse` leaves out the fates no message has (but never `applied`): on a narrow screen a
/// group's line then fits, and the total line above still lists every fate.
fn fates(g: &GroupOutcome, final_: bool, terse: bool) -> Vec<Span<'static>> {
    let mut l = Vec::new();
    l.extend(fate("applied", g.applied, theme::GOOD));
    let mut rest = vec![
        ("dup", g.duplicated, theme::DUPLICATE),
        ("lost", g.lost, theme::LOSS),
        ("unseen", g.unseen, theme::BOLD),
        ("failed", g.failed, theme::BOLD),
        ("aborted", g.aborted, theme::BOLD),
        ("dead", g.dead_lettered, theme::BOLD),
    ];
    if !final_ {
        rest.push(("pending", g.pending, theme::BOLD));
    }
    for (label, n, style) in rest {
        if n > 0 || !terse {
            l.extend(fate(label, n, style));
        }
    }
    l
}

fn fate_sum(g: &GroupOutcome) -> u64 {
    g.applied
        + g.duplicated
        + g.lost
        + g.unseen
        + g.failed
        + g.aborted
        + g.dead_lettered
        + g.pending
}

impl OutcomePanel<'_> {
    fn lines(&self, width: u16) -> Vec<Line<'static>> {
        let o: &Outcome = self.s.outcome();
        let total = o.total();
        let mut lines = Vec::new();
        let mut l1 = Vec::new();
        l1.extend(num("sent", o.sent, theme::BOLD));
        l1.extend(num("acked", o.acked, theme::GOOD));
        l1.extend(num("failed", o.failed, theme::LOSS));
        l1.extend(num("acked-lost", o.acked_lost, theme::LOSS));
        l1.extend(num("reordered", o.reordered, theme::REORDER));
        if !o.final_ {
            l1.extend(num("at risk", o.above_hw, theme::LOSS));
        }
        if o.redelivered > 0 {
            l1.extend(num("redelivered", o.redelivered, theme::BOLD));
        }
        if o.aborted_read > 0 {
            l1.extend(num("aborted-read", o.aborted_read, theme::LOSS));
        }
        lines.extend(super::wrap_spans(l1, width, 2));
        let mut l2 = vec![Span::styled(
            format!("{} = ", fate_sum(&total)),
            theme::LABEL,
        )];
        l2.extend(fates(&total, o.final_, false));
        lines.extend(super::wrap_spans(l2, width, 2));
        let mut l4 = vec![
            Span::styled(
                if o.final_ {
                    "verdict "
                } else {
                    "verdict so far "
                },
                theme::LABEL,
            ),
            Span::styled(o.verdict.name().to_string(), verdict_style(o.verdict)),
        ];
        if o.lost > 0 {
            let k = &o.lost_by_kind;
            let kinds: Vec<String> = [
                ("truncated", k.truncated),
                ("never-written", k.never_written),
                ("skipped", k.skipped),
            ]
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
            l4.push(Span::styled(
                format!(" (lost: {})", kinds.join(", ")),
                theme::LOSS,
            ));
        }
        if let Some(v) = self.s.scenario.expect.as_ref().and_then(|e| e.verdict)
            && self.s.live_faults.is_empty()
        {
            l4.push(Span::styled(" · expected ", theme::LABEL));
            l4.push(Span::styled(v.name().to_string(), verdict_style(v)));
        }
        lines.extend(super::wrap_spans(l4, width, 2));
        if width >= super::WIDE / 2 + 10 && o.groups.len() > 1 {
            for g in &o.groups {
                let mut l = vec![Span::styled(format!("  {:<12}", g.name), theme::TITLE)];
                let terse = width < super::WIDE;
                l.extend(fates(g, o.final_, terse));
                if g.reordered > 0 || !terse {
                    l.extend(fate("reord", g.reordered, theme::REORDER));
                }
                if g.aborted_read > 0 {
                    l.extend(fate("aborted-read", g.aborted_read, theme::LOSS));
                }
                l.push(Span::styled(
                    g.verdict.name().to_string(),
                    verdict_style(g.verdict),
                ));
                lines.extend(super::wrap_spans(l, width, 4));
            }
        }
        if let Some(t) = self
            .s
            .truncations
            .iter()
            .rev()
            .find(|t| !t.removed.is_empty())
        {
            let sim = &self.s.sim;
            let names: Vec<String> = t.removed.iter().map(|&m| sim.msg_name(m)).collect();
            let acked = t
                .removed
                .iter()
                .filter(|&&m| self.s.checker.message(m).is_some_and(|i| i.acked))
                .count();
            let safe = t.removed.iter().all(|&m| {
                // The checker's flag first: finding a message in the leader's log scans it.
                self.s.checker.message(m).is_some_and(|i| !i.at_risk)
                    || self.s.leader_has(t.partition, m)
            });
            let mut l = vec![Span::styled("✗ truncated ", theme::LOSS)];
            // One span per name, so a long list wraps between names instead of being cut.
            for (i, name) in names.iter().enumerate() {
                let sep = if i + 1 < names.len() { ", " } else { "" };
                l.push(Span::styled(format!("{name}{sep}"), theme::TRUNCATED));
            }
            l.push(Span::styled(
                format!(
                    " on {} at {}{}",
                    sim.broker_name(t.broker),
                    theme::time(t.time),
                    if acked == 0 {
                        String::new()
                    } else if safe {
                        format!(" ({acked} acked; the leader has them)")
                    } else {
                        format!(" ({acked} acked, gone)")
                    }
                ),
                theme::LABEL,
            ));
            lines.extend(super::wrap_spans(l, width, 2));
        }
        lines
    }

    pub fn height(&self, width: u16) -> u16 {
        1 + self.lines(width).len() as u16
    }
}

impl Widget for OutcomePanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let hint = if self.s.outcome().final_ {
            "final"
        } else {
            "live"
        };
        let inner = panel("Outcome", hint, area, buf);
        for (i, line) in self.lines(inner.width).iter().enumerate() {
            put(buf, inner, i as u16, line);
        }
    }
}
