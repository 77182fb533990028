//! The sequence diagram as an SVG picture, made to be projected: large type, dark colours on
//! white, and every kind of thing told by a glyph or a word as well as by its colour.
//!
//! Time flows down, but not to scale: each thing drawn gets a row at its time, and the gap
//! between two rows grows with the time between them (a break marker says how long a quiet
//! stretch lasted). An arrow runs from its row at its send time to the height of its arrival
//! time on that same axis, so it slants by how much happened while it was on the wire.

use std::fmt::Write as _;

use super::sequence::{Arrow, End, Item, Life, Mark, Sequence};
use super::{wrap, xml_escape};
use crate::report::fmt_time;
use crate::sim::{DropReason, ErrorCode, SimTime, WireKind};

const FONT: &str = "DejaVu Sans, Verdana, Arial, sans-serif";
/// Arrow labels and note text.
const LABEL: i64 = 18;
const SMALL: i64 = 15;
const HEAD: i64 = 20;
const TITLE: i64 = 26;
const MARGIN: i64 = 24;
/// The time gutter on the left.
const GUTTER: i64 = 120;
const COL_W: i64 = 260;
/// An arrow's row: its label above the line, the line 26 px down.
const ROW: i64 = 38;
const LINE_IN_ROW: i64 = 27;
const NOTE_LINE: i64 = 24;
/// The least an arrow slants, so that it never reads as instantaneous.
const MIN_SLANT: i64 = 14;
/// Quiet stretches at least this long get a break marker.
const BREAK_US: u64 = 1_000_000;
const TEXT: &str = "#1f2328";
const GREY: &str = "#57606a";
const RED: &str = "#b3001b";

/// An estimate of a text's width in pixels (DejaVu Sans averages about 0.6 em a character).
fn text_width(text: &str, size: i64) -> i64 {
    text.chars().count() as i64 * size * 3 / 5
}

/// The colour family of an arrow: (name for its arrowhead marker, colour).
fn family(a: &Arrow) -> (&'static str, &'static str) {
    if a.reset || matches!(a.end_kind, End::Dropped(_)) {
        return ("red", RED);
    }
    if a.wire.error != ErrorCode::None {
        return ("error", "#953800");
    }
    match a.wire.kind {
        WireKind::ProduceRequest | WireKind::ProduceResponse => ("produce", "#116329"),
        WireKind::ReplicaFetch | WireKind::ReplicaFetchResponse => ("replica", "#0550ae"),
        WireKind::ConsumerFetch
        | WireKind::ConsumerFetchResponse
        | WireKind::ListOffsets
        | WireKind::ListOffsetsResponse => ("consume", "#0a6870"),
        WireKind::BrokerHeartbeat
        | WireKind::BrokerHeartbeatResponse
        | WireKind::PartitionChange
        | WireKind::AlterPartition
        | WireKind::AlterPartitionResponse
        | WireKind::MetadataRequest
        | WireKind::MetadataResponse
        | WireKind::MetadataUpdate => ("control", "#6f4400"),
        _ => ("group", "#6639ba"),
    }
}

const FAMILIES: [(&str, &str); 7] = [
    ("red", RED),
    ("error", "#953800"),
    ("produce", "#116329"),
    ("replica", "#0550ae"),
    ("consume", "#0a6870"),
    ("control", "#6f4400"),
    ("group", "#6639ba"),
];

fn mark_colour(m: &Mark) -> &'static str {
    match m {
        Mark::Crashed => RED,
        Mark::Restarted | Mark::Resumed => "#116329",
        Mark::Paused { .. } => "#7d4e00",
        Mark::Stopped => GREY,
        Mark::Leader { .. } => "#0550ae",
        Mark::Truncated { .. } => "#953800",
    }
}

/// Where each item sits, and the time axis arrows are measured on.
struct Layout {
    /// Each item's line: an arrow's start, a mark's centre, a note's top.
    item_y: Vec<i64>,
    /// Per distinct time: (time, top of its first row, last line y).
    slots: Vec<(SimTime, i64, i64)>,
    /// Per distinct time, the line of its first row, where the time is written.
    time_labels: Vec<(SimTime, i64)>,
    /// Quiet stretches: (y of the gap's middle, how long).
    breaks: Vec<(i64, u64)>,
    /// Note wrapping: item → lines.
    note_lines: Vec<Vec<String>>,
    bottom: i64,
}

/// The vertical room between two times.
fn gap(dt: u64) -> i64 {
    match dt {
        0 => 0,
        1..1_000 => 2,
        1_000..10_000 => 6,
        10_000..100_000 => 12,
        100_000..BREAK_US => 20,
        _ => 48,
    }
}

impl Layout {
    fn of(seq: &Sequence, top: i64, note_chars: usize) -> Layout {
        let mut l = Layout {
            item_y: Vec::with_capacity(seq.items.len()),
            slots: Vec::new(),
            time_labels: Vec::new(),
            breaks: Vec::new(),
            note_lines: Vec::with_capacity(seq.items.len()),
            bottom: top,
        };
        let mut y = top;
        for item in &seq.items {
            let t = item.time();
            let new_slot = l.slots.last().is_none_or(|s| s.0 != t);
            if new_slot && let Some(&(prev, _, _)) = l.slots.last() {
                let dt = t.0 - prev.0;
                let g = gap(dt);
                if dt >= BREAK_US {
                    l.breaks.push((y + g / 2, dt));
                }
                y += g;
            }
            let (line, height, lines) = match item {
                Item::Arrow(_) => (y + LINE_IN_ROW, ROW, Vec::new()),
                Item::Mark { .. } => (y + ROW / 2, ROW, Vec::new()),
                Item::Fault { .. } => (y + 6, 44, Vec::new()),
                Item::Note { text, .. } => {
                    let lines = wrap(&format!("» {text}"), note_chars);
                    (y + 6, lines.len() as i64 * NOTE_LINE + 26, lines)
                }
            };
            if new_slot {
                l.slots.push((t, y, line));
                l.time_labels.push((t, line));
            } else if let Some(s) = l.slots.last_mut() {
                s.2 = line;
            }
            l.item_y.push(line);
            l.note_lines.push(lines);
            y += height;
        }
        l.bottom = y;
        l
    }

    /// The height of time `t` on the axis: the top of the first row at `t` (so that what
    /// arrives at `t` ends above the label of what leaves at `t`), or between the rows around
    /// it in proportion to time.
    fn y_at(&self, t: SimTime) -> i64 {
        let i = self.slots.partition_point(|s| s.0 < t);
        match (i.checked_sub(1).map(|j| self.slots[j]), self.slots.get(i)) {
            (_, Some(&(st, first, _))) if st == t => first,
            (Some((pt, _, last)), Some(&(nt, first, _))) => {
                let span = (nt.0 - pt.0) as i128;
                last + ((first - last) as i128 * (t.0 - pt.0) as i128 / span) as i64
            }
            (Some((_, _, last)), None) => last + ROW,
            (None, Some(&(_, first, _))) => first,
            (None, None) => 0,
        }
    }
}

/// The SVG document, with its XML declaration.
pub fn document(seq: &Sequence) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        element(seq)
    )
}

/// The `<svg>` element alone (for inlining in HTML).
pub fn element(seq: &Sequence) -> String {
    let ncols = seq.columns.len().max(1) as i64;
    let x_of = |c: usize| GUTTER + c as i64 * COL_W + COL_W / 2;
    let legend = [
        "Each arrow runs from its send time to its arrival time · time flows down, not to scale",
        "✗ dropped (and why) · ⚡ reset by the network: the peer's process is gone · ✖ crashed · \
         ↻ restarted · ‖ paused · ★ new leader · ✂ log truncated · » note",
    ];
    let subtitle = format!(
        "{} · seed {} · {} · heartbeats and empty fetches not shown",
        seq.label,
        seq.seed,
        seq.window_text()
    );
    let diagram_w = GUTTER + ncols * COL_W + MARGIN;
    let width = [
        diagram_w,
        text_width(&seq.title, TITLE) + 2 * MARGIN,
        text_width(&subtitle, SMALL + 1) + 2 * MARGIN,
    ]
    .into_iter()
    .chain(legend.iter().map(|l| text_width(l, SMALL + 1) + 2 * MARGIN))
    .max()
    .unwrap_or(diagram_w);
    let group_row = seq.columns.iter().any(|c| c.name.contains('/'));
    let heads_top = 150;
    let heads_h = if group_row { 50 } else { 30 };
    let lifeline_top = heads_top + heads_h;
    let top = lifeline_top + 16;
    let band_left = x_of(0) - COL_W / 2 + 8;
    let band_right = x_of(seq.columns.len().saturating_sub(1)) + COL_W / 2 - 8;
    let note_chars = ((band_right - band_left - 28) / (LABEL * 3 / 5)).max(20) as usize;
    let layout = Layout::of(seq, top, note_chars);

    // Arrow ends, now that every row has its place.
    let ends: Vec<i64> = seq
        .items
        .iter()
        .zip(&layout.item_y)
        .map(|(item, &y)| match item {
            Item::Arrow(a) => layout.y_at(a.end).max(y + MIN_SLANT),
            _ => y,
        })
        .collect();
    let last_end = ends.iter().copied().max().unwrap_or(top);
    let lifeline_bottom = layout.bottom.max(last_end) + 24;
    let height = lifeline_bottom + heads_h + 30;

    let mut s = String::with_capacity(256 + seq.items.len() * 320);
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"{FONT}\" role=\"img\">"
    );
    let _ = writeln!(
        s,
        "<title>{}</title>",
        xml_escape(&format!(
            "{} — sequence diagram, {}",
            seq.title,
            seq.window_text()
        ))
    );
    s.push_str("<defs>\n");
    for (name, colour) in FAMILIES {
        let _ = writeln!(
            s,
            "<marker id=\"head-{name}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" \
             markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" \
             fill=\"{colour}\"/></marker>"
        );
    }
    s.push_str("</defs>\n");
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>"
    );
    text(&mut s, MARGIN, 44, TITLE, TEXT, "start", true, &seq.title);
    text(
        &mut s,
        MARGIN,
        76,
        SMALL + 1,
        GREY,
        "start",
        false,
        &subtitle,
    );
    for (i, l) in legend.iter().enumerate() {
        text(
            &mut s,
            MARGIN,
            104 + i as i64 * 24,
            SMALL + 1,
            TEXT,
            "start",
            false,
            l,
        );
    }

    // Lifelines, in pieces by the node's state.
    s.push_str("<g id=\"lifelines\">\n");
    for (c, _) in seq.columns.iter().enumerate() {
        let mut life = seq.life_at_start[c];
        let mut from = lifeline_top;
        let changes = seq
            .items
            .iter()
            .zip(&layout.item_y)
            .filter_map(|(item, &y)| match item {
                Item::Mark { node, mark, .. } if seq.column(*node) == Some(c) => {
                    mark.life().map(|l| (y, l))
                }
                _ => None,
            });
        for (y, next) in changes.chain([(lifeline_bottom, Life::Up)]) {
            lifeline(&mut s, x_of(c), from, y, life);
            from = y;
            life = next;
        }
    }
    s.push_str("</g>\n");

    // Column heads, above and below.
    for (c, col) in seq.columns.iter().enumerate() {
        let (group, own) = match col.name.rsplit_once('/') {
            Some((g, n)) => (Some(g), n),
            None => (None, col.name.as_str()),
        };
        let fit = |t: &str, size: i64| {
            let max = ((COL_W - 16) / (size * 3 / 5)) as usize;
            crate::tui::theme::fit(t, max)
        };
        for base in [heads_top, lifeline_bottom + 8] {
            if let Some(g) = group {
                text(
                    &mut s,
                    x_of(c),
                    base + 16,
                    SMALL,
                    GREY,
                    "middle",
                    false,
                    &fit(g, SMALL),
                );
            }
            let y = base + heads_h - 8;
            text(
                &mut s,
                x_of(c),
                y,
                HEAD,
                TEXT,
                "middle",
                true,
                &fit(own, HEAD),
            );
        }
        let start = match seq.life_at_start[c] {
            Life::Up => None,
            Life::Down => Some("(down)"),
            Life::Paused => Some("(paused)"),
        };
        if let Some(state) = start {
            text(
                &mut s,
                x_of(c),
                lifeline_top + 14,
                SMALL,
                GREY,
                "middle",
                false,
                state,
            );
        }
    }

    // The time gutter and the quiet stretches.
    s.push_str("<g id=\"times\">\n");
    let mut last = String::new();
    for &(t, y) in &layout.time_labels {
        let label = fmt_time(t);
        if label != last {
            text(
                &mut s,
                GUTTER - 16,
                y + 5,
                SMALL,
                GREY,
                "end",
                false,
                &label,
            );
            last = label;
        }
    }
    for &(y, dt) in &layout.breaks {
        let _ = writeln!(
            s,
            "<line x1=\"{MARGIN}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#d0d7de\" \
             stroke-width=\"2\" stroke-dasharray=\"2 6\"/>",
            width - MARGIN
        );
        let label = format!("⋮ {} later", fmt_time(SimTime(dt)));
        text(&mut s, 8, y + 5, SMALL, GREY, "start", true, &label);
    }
    s.push_str("</g>\n");

    // Arrows first; their labels go on top of everything.
    s.push_str("<g id=\"arrows\">\n");
    let mut labels = String::new();
    for (i, item) in seq.items.iter().enumerate() {
        let Item::Arrow(a) = item else { continue };
        let (Some(cf), Some(ct)) = (seq.column(a.from), seq.column(a.to)) else {
            continue;
        };
        let ys = layout.item_y[i];
        arrow(
            &mut s,
            &mut labels,
            a,
            (x_of(cf), x_of(ct)),
            (ys, ends[i]),
            width,
        );
    }
    s.push_str("</g>\n");

    // Notes and faults across the columns, over the arrows (a message in flight passes behind).
    for (i, item) in seq.items.iter().enumerate() {
        let y = layout.item_y[i];
        match item {
            Item::Fault { text: t, .. } => {
                band(
                    &mut s,
                    band_left,
                    y,
                    band_right - band_left,
                    32,
                    "#ffebe9",
                    RED,
                );
                let label = format!("⚡ fault: {t}");
                text(
                    &mut s,
                    band_left + 12,
                    y + 23,
                    LABEL - 1,
                    RED,
                    "start",
                    true,
                    &label,
                );
            }
            Item::Note { .. } => {
                let lines = &layout.note_lines[i];
                let h = lines.len() as i64 * NOTE_LINE + 14;
                band(
                    &mut s,
                    band_left,
                    y,
                    band_right - band_left,
                    h,
                    "#fff8c5",
                    "#7d4e00",
                );
                for (k, line) in lines.iter().enumerate() {
                    let ly = y + 24 + k as i64 * NOTE_LINE;
                    text(
                        &mut s,
                        band_left + 14,
                        ly,
                        LABEL - 1,
                        TEXT,
                        "start",
                        false,
                        line,
                    );
                }
            }
            _ => {}
        }
    }

    // Marks on the columns.
    s.push_str("<g id=\"marks\">\n");
    for (i, item) in seq.items.iter().enumerate() {
        let Item::Mark { node, mark, .. } = item else {
            continue;
        };
        let Some(c) = seq.column(*node) else { continue };
        let t = mark.text();
        let w = text_width(&t, SMALL + 1) + 18;
        let y = layout.item_y[i];
        let colour = mark_colour(mark);
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{w}\" height=\"28\" rx=\"6\" fill=\"#ffffff\" \
             stroke=\"{colour}\" stroke-width=\"2\"/>",
            x_of(c) - w / 2,
            y - 14
        );
        text(
            &mut s,
            x_of(c),
            y + 6,
            SMALL + 1,
            colour,
            "middle",
            true,
            &t,
        );
    }
    s.push_str("</g>\n<g id=\"labels\">\n");
    s.push_str(&labels);
    s.push_str("</g>\n");
    if seq.items.is_empty() {
        text(
            &mut s,
            GUTTER,
            top + 30,
            LABEL,
            GREY,
            "start",
            false,
            "Nothing on the wire in this window.",
        );
    }
    s.push_str("</svg>\n");
    s
}

/// One piece of a lifeline.
fn lifeline(s: &mut String, x: i64, y1: i64, y2: i64, life: Life) {
    if y2 <= y1 {
        return;
    }
    let style = match life {
        Life::Up => "stroke=\"#8c959f\" stroke-width=\"2\"",
        // Down: faint and broken, so the dead stretch reads without colour.
        Life::Down => "stroke=\"#d0d7de\" stroke-width=\"2\" stroke-dasharray=\"4 8\"",
        Life::Paused => "stroke=\"#bf8700\" stroke-width=\"5\" stroke-dasharray=\"2 5\"",
    };
    let _ = writeln!(
        s,
        "<line x1=\"{x}\" y1=\"{y1}\" x2=\"{x}\" y2=\"{y2}\" {style}/>"
    );
}

/// A note's or a fault's band.
fn band(s: &mut String, x: i64, y: i64, w: i64, h: i64, fill: &str, stroke: &str) {
    let _ = writeln!(
        s,
        "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"8\" fill=\"{fill}\" \
         stroke=\"{stroke}\" stroke-width=\"2\"/>"
    );
}

/// One arrow, from `xa` at `ys` to `xb` at `ye`; its label goes into `labels`.
#[allow(clippy::too_many_arguments)]
fn arrow(
    s: &mut String,
    labels: &mut String,
    a: &Arrow,
    (xa, xb): (i64, i64),
    (ys, ye): (i64, i64),
    width: i64,
) {
    let (name, colour) = family(a);
    let dir = if xb >= xa { 1 } else { -1 };
    // A reset comes from the network, not from the dead process: it starts off the lifeline.
    let xs = if a.reset { xa + dir * 34 } else { xa };
    let xe = match a.end_kind {
        End::Arrived => xb,
        End::Dropped(DropReason::NodeDown) => xb - dir * 8,
        // Lost on the way.
        End::Dropped(_) => xa + (xb - xa) * 3 / 5,
    };
    let dash = if a.reset {
        " stroke-dasharray=\"10 6\""
    } else {
        ""
    };
    let head = match a.end_kind {
        End::Arrived => format!(" marker-end=\"url(#head-{name})\""),
        End::Dropped(_) => String::new(),
    };
    if xa == xb {
        // To another process on the same column: a loop out to the right.
        let _ = writeln!(
            s,
            "<path d=\"M{xa},{ys} h48 V{ye} h-44\" fill=\"none\" stroke=\"{colour}\" \
             stroke-width=\"2.5\"{dash}{head}/>"
        );
    } else {
        let _ = writeln!(
            s,
            "<line x1=\"{xs}\" y1=\"{ys}\" x2=\"{xe}\" y2=\"{ye}\" stroke=\"{colour}\" \
             stroke-width=\"2.5\"{dash}{head}/>"
        );
    }
    if a.reset {
        text(
            labels,
            xs - dir * 16,
            ys + 8,
            HEAD,
            RED,
            "middle",
            true,
            "⚡",
        );
    }
    if let End::Dropped(_) = a.end_kind {
        text(labels, xe, ye + 9, 28, RED, "middle", true, "✗");
    }
    // Above the start, on the side the arrow goes: the line slants away below it, and what
    // arrived at this node at this time ends above it. Kept inside the picture.
    let w = text_width(&a.label, LABEL);
    let (lx, anchor) = if xa == xb {
        (xa + 56, "start")
    } else if dir > 0 {
        ((xs + 10).min((width - MARGIN - w).max(MARGIN)), "start")
    } else {
        ((xs - 10).max(MARGIN + w), "end")
    };
    text(labels, lx, ys - 8, LABEL, colour, anchor, false, &a.label);
}

/// A text element; labels get a white halo so that they stay readable over lines.
#[allow(clippy::too_many_arguments)]
fn text(
    s: &mut String,
    x: i64,
    y: i64,
    size: i64,
    fill: &str,
    anchor: &str,
    bold: bool,
    content: &str,
) {
    let weight = if bold { " font-weight=\"bold\"" } else { "" };
    let _ = writeln!(
        s,
        "<text x=\"{x}\" y=\"{y}\" font-size=\"{size}\" fill=\"{fill}\" text-anchor=\"{anchor}\"{weight} \
         stroke=\"#ffffff\" stroke-width=\"4\" stroke-linejoin=\"round\" paint-order=\"stroke\">{}</text>",
        xml_escape(content)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_grow_with_the_time_between_rows() {
        let gaps: Vec<i64> = [0, 500, 5_000, 50_000, 500_000, 5_000_000]
            .into_iter()
            .map(gap)
            .collect();
        assert!(gaps.windows(2).all(|w| w[0] < w[1]), "{gaps:?}");
    }
}
