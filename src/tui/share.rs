//! A share group (KIP-932) in the groups panel: its group epoch and settings, each member
//! with its state and the partitions it fetches from, and per partition the share-partition
//! window (start offset SPSO and end offset SPEO) with each in-flight record's state as a glyph
//! and a word (`◐ acquired`, `○ available`, `✓ acked`, `☠ archived`), its delivery count and,
//! for an acquired record, who holds it and how long its lock has left.
//!
//! The logic ([`share_lines`]) reads the simulation only through `Sim`'s accessors; it walks at
//! most [`SHOWN`] records of each window, and counts the window's states from the share
//! partition (bounded by `group.share.partition.max.record.locks`).

use ratatui::text::{Line, Span};

use super::theme;
use crate::sim::consumer::ConsumerState;
use crate::sim::share_partition::{RecordState, SharePartition};
use crate::sim::{GroupId, PartitionId, Sim, SimTime};

/// In-flight records shown per partition; the rest are counted.
pub const SHOWN: usize = 12;

fn record_style(st: RecordState) -> ratatui::style::Style {
    match st {
        RecordState::Available => theme::LABEL,
        RecordState::Acquired { .. } => theme::PAUSED,
        RecordState::Acknowledged => theme::IN_SYNC,
        RecordState::Archived => theme::LOSS,
    }
}

pub(super) fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// `12.3s` of lock left, or `expired` (a lock the leader has not yet timed out).
fn lock_left(deadline: SimTime, now: SimTime) -> String {
    if deadline <= now {
        return "expired".to_string();
    }
    format!("{:.1}s", (deadline.0 - now.0) as f64 / 1e6)
}

/// One in-flight record: `◐7 #8 acquired ×2 consumer-1 12.3s` (offset 7 holds message #8), the holder shortened to `c1`
/// when `compact`.
fn record_piece(
    sim: &Sim,
    r: &crate::sim::share_partition::InFlight,
    compact: bool,
) -> Vec<Span<'static>> {
    let style = record_style(r.state);
    // The offset, then the message as the log strips above name it (`#11`), so the two can
    // be matched at a glance.
    let mut text = format!(" {}{}", r.state.glyph(), r.offset);
    if let Some(m) = r.msg {
        text.push(' ');
        text.push_str(&super::cluster::msg_label(sim, m));
    }
    text.push(' ');
    text.push_str(r.state.name());
    if r.delivery_count > 0 {
        text.push_str(&format!(" ×{}", r.delivery_count));
    }
    if let RecordState::Acquired { member, deadline } = r.state {
        let name = short(&sim.consumers()[member.idx()].name);
        let who = match name.strip_prefix("consumer-") {
            Some(n) if compact => format!("c{n}"),
            _ => name.to_string(),
        };
        text.push_str(&format!(" {who} {}", lock_left(deadline, sim.now())));
    }
    vec![Span::styled(text, style)]
}

/// The window of one share partition: `orders/0  SPSO 10  SPEO 15  in flight 5: 3 acquired,
/// 1 available, 1 acked` and its records.
fn partition_lines(
    sim: &Sim,
    p: PartitionId,
    sp: Option<&SharePartition>,
    width: u16,
    compact: bool,
) -> Vec<Line<'static>> {
    let Some(sp) = sp else {
        return vec![Line::from(vec![
            Span::styled(format!("    {}", sim.partition_name(p)), theme::BOLD),
            Span::styled(
                "  not loaded on its leader (nobody fetched it yet)",
                theme::DIM,
            ),
        ])];
    };
    let mut counts = [0usize; 4];
    for r in sp.in_flight() {
        counts[match r.state {
            RecordState::Acquired { .. } => 0,
            RecordState::Available => 1,
            RecordState::Acknowledged => 2,
            RecordState::Archived => 3,
        }] += 1;
    }
    let mut head = vec![
        Span::styled(format!("    {}", sim.partition_name(p)), theme::BOLD),
        Span::styled("  SPSO ", theme::LABEL),
        Span::styled(sp.spso().to_string(), theme::BOLD),
        Span::styled(" SPEO ", theme::LABEL),
        Span::styled(sp.speo().to_string(), theme::BOLD),
    ];
    let words = ["acquired", "available", "acked", "archived"];
    let summary: Vec<String> = counts
        .iter()
        .zip(words)
        .filter(|(n, _)| **n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
    head.push(Span::styled(
        if summary.is_empty() {
            "  nothing in flight".to_string()
        } else {
            format!("  in flight: {}", summary.join(", "))
        },
        theme::DIM,
    ));
    let mut lines = super::wrap_spans(head, width, 6);
    let mut pieces: Vec<Vec<Span<'static>>> = vec![vec![Span::raw("     ")]];
    let total = sp.in_flight().count();
    for r in sp.in_flight().take(SHOWN) {
        pieces.push(record_piece(sim, r, compact));
    }
    if total > SHOWN {
        pieces.push(vec![Span::styled(
            format!(" … +{} more", total - SHOWN),
            theme::DIM,
        )]);
    }
    if total > 0 {
        lines.extend(super::wrap_pieces(pieces, width, 6));
    }
    lines
}

pub(super) fn member_style(st: ConsumerState) -> ratatui::style::Style {
    match st {
        ConsumerState::Active => theme::UP,
        ConsumerState::Crashed => theme::DOWN,
        ConsumerState::Left | ConsumerState::Idle => theme::DIM,
        _ => theme::PAUSED,
    }
}

/// Share group `g`'s lines in the groups panel (`compact`: the narrow layout).
pub fn share_lines(sim: &Sim, g: GroupId, width: u16, compact: bool) -> Vec<Line<'static>> {
    let group = &sim.groups()[g.idx()];
    let Some(share) = group.spec.share else {
        return Vec::new();
    };
    let Some(sg) = sim.share_groups().iter().find(|s| s.group == g) else {
        return Vec::new();
    };
    let mut lines = super::wrap_spans(
        vec![
            Span::styled(format!("{}  ", group.name), theme::TITLE),
            Span::styled("share group (KIP-932)  ", theme::LABEL),
            Span::styled("group epoch ", theme::LABEL),
            Span::styled(sg.group_epoch.to_string(), theme::BOLD),
            Span::styled(
                format!(
                    "  lock {}s  delivery limit {}",
                    share.record_lock_duration_ms / 1000,
                    share.delivery_count_limit
                ),
                theme::DIM,
            ),
            Span::styled(
                if group.spec.dedup { "  dedup sink" } else { "" },
                theme::DIM,
            ),
        ],
        width,
        4,
    );
    let windows: Vec<Line<'static>> = sg
        .partitions
        .iter()
        .flat_map(|&p| partition_lines(sim, p, sim.share_partition(g, p), width, compact))
        .collect();
    if compact {
        // The narrow layout puts the windows first, and the members on one line after them.
        lines.extend(windows);
        let mut spans = vec![Span::styled("  members", theme::LABEL)];
        for &c in &group.consumers {
            let cons = &sim.consumers()[c.idx()];
            let st = cons.state();
            spans.push(Span::styled(
                format!("  {} {}", short(&cons.name), st.name()),
                member_style(st),
            ));
        }
        lines.extend(super::wrap_spans(spans, width, 4));
        return lines;
    }
    for &c in &group.consumers {
        let cons = &sim.consumers()[c.idx()];
        let st = cons.state();
        let style = member_style(st);
        let member = sg.members().iter().find(|m| m.consumer == c);
        let mut spans = vec![
            Span::styled(format!("  {:<11}", short(&cons.name)), style),
            Span::styled(format!("{:<9}", st.name()), style),
        ];
        match member {
            Some(m) => {
                let names: Vec<String> = m
                    .assignment
                    .iter()
                    .map(|&p| sim.partition_name(p))
                    .collect();
                spans.push(Span::styled(
                    format!("epoch {} ", m.member_epoch),
                    theme::LABEL,
                ));
                spans.push(Span::styled(
                    if names.is_empty() {
                        "no partitions".to_string()
                    } else {
                        names.join(", ")
                    },
                    theme::BOLD,
                ));
            }
            None => spans.push(Span::styled("not a member", theme::DIM)),
        }
        lines.extend(super::wrap_spans(spans, width, 24));
    }
    lines.extend(windows);
    lines
}
