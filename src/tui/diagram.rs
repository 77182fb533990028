//! The sequence (Lamport) diagram (`d`): one column per node (producers, brokers, the
//! controller, consumers), time flowing down, one arrow per message on the wire labelled with
//! its kind and message id. An arrow slants down from its send row to the row of its arrival
//! (`●──╮` then `╰──▶`: messages sent meanwhile are on the rows between), ends in `…` while in
//! flight and in ✗ when dropped. A connection reset is drawn from a `╳` on the network beside
//! the dead node with a dashed line, never as a message the dead node sends. Only the newest rows
//! that fit are drawn (scroll with ↑↓), so long runs stay fast; heartbeats and empty fetches are
//! hidden unless `h`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::app::App;
use super::cluster::msg_label;
use super::{panel, put, theme};
use crate::session::{Session, WireLine};
use crate::sim::{ErrorCode, NodeKind, SimTime, WireKind};

pub struct Diagram<'a> {
    pub app: &'a App,
    pub s: &'a Session,
}

const GUTTER: u16 = 9;

/// A short name for an arrow label.
fn short_kind(k: WireKind) -> &'static str {
    match k {
        WireKind::ProduceRequest => "Produce",
        WireKind::ProduceResponse => "ProduceResp",
        WireKind::ReplicaFetch => "Fetch",
        WireKind::ReplicaFetchResponse => "FetchResp",
        WireKind::ConsumerFetch => "Fetch",
        WireKind::ConsumerFetchResponse => "FetchResp",
        WireKind::ListOffsets => "ListOffsets",
        WireKind::ListOffsetsResponse => "ListOffsetsResp",
        WireKind::BrokerHeartbeat => "BrokerHeartbeat",
        WireKind::PartitionChange => "LeaderAndIsr",
        WireKind::AlterPartition => "AlterPartition",
        WireKind::AlterPartitionResponse => "AlterPartitionResp",
        WireKind::MetadataRequest => "Metadata",
        WireKind::MetadataResponse => "MetadataResp",
        WireKind::JoinGroup => "JoinGroup",
        WireKind::JoinGroupResponse => "JoinGroupResp",
        WireKind::SyncGroup => "SyncGroup",
        WireKind::SyncGroupResponse => "SyncGroupResp",
        WireKind::Heartbeat => "Heartbeat",
        WireKind::HeartbeatResponse => "HeartbeatResp",
        WireKind::LeaveGroup => "LeaveGroup",
        WireKind::OffsetCommit => "OffsetCommit",
        WireKind::OffsetCommitResponse => "OffsetCommitResp",
        WireKind::OffsetFetch => "OffsetFetch",
        WireKind::OffsetFetchResponse => "OffsetFetchResp",
        WireKind::ConsumerGroupHeartbeat => "CGHeartbeat",
        WireKind::ConsumerGroupHeartbeatResponse => "CGHeartbeatResp",
        other => other.name(),
    }
}

fn kind_style(w: &WireLine) -> Style {
    if w.dropped.is_some() {
        return Style::new().fg(Color::Red);
    }
    if w.wire.error != ErrorCode::None {
        return Style::new().fg(Color::LightRed);
    }
    match w.wire.kind {
        WireKind::ProduceRequest | WireKind::ProduceResponse => Style::new().fg(Color::Green),
        WireKind::ReplicaFetch | WireKind::ReplicaFetchResponse => {
            Style::new().fg(Color::LightBlue)
        }
        WireKind::ConsumerFetch
        | WireKind::ConsumerFetchResponse
        | WireKind::ListOffsets
        | WireKind::ListOffsetsResponse => Style::new().fg(Color::Cyan),
        WireKind::BrokerHeartbeat
        | WireKind::PartitionChange
        | WireKind::AlterPartition
        | WireKind::AlterPartitionResponse
        | WireKind::MetadataRequest
        | WireKind::MetadataResponse => Style::new().fg(Color::Yellow),
        WireKind::Heartbeat
        | WireKind::HeartbeatResponse
        | WireKind::ConsumerGroupHeartbeat
        | WireKind::ConsumerGroupHeartbeatResponse => theme::DIM,
        _ => Style::new().fg(Color::Magenta),
    }
}

fn label(s: &Session, w: &WireLine) -> String {
    let mut l = crate::queue_words::wire_name(s.sim.settings().system, w.wire.kind)
        .unwrap_or_else(|| short_kind(w.wire.kind))
        .to_string();
    if let Some(m) = w.wire.first_msg {
        l.push(' ');
        l.push_str(&msg_label(&s.sim, m));
        if w.wire.records > 1 {
            l.push_str(&format!("+{}", w.wire.records - 1));
        }
    } else if w.wire.records > 0 {
        l.push_str(&format!(" ({} rec)", w.wire.records));
    }
    if w.wire.error != ErrorCode::None {
        l.push(' ');
        l.push_str(w.wire.error.name());
    }
    if let Some(r) = w.dropped {
        l.push_str(" ✗ ");
        l.push_str(r.name());
    }
    l
}

/// A column's header for node `name` in `width` cells: the part before the last `/` (a
/// member's group, or the consumer hosting a dead-letter producer), and the node's own name,
/// shortened as the cluster panel does (`b1`, `ctrl`, `cons-2`) when it does not fit.
fn header(name: &str, width: usize) -> (Option<&str>, String) {
    let (group, own) = match name.rsplit_once('/') {
        Some((g, n)) => (Some(g), n),
        None => (None, name),
    };
    if theme::width(own) <= width {
        return (group, own.to_string());
    }
    let numbered = |prefix: &str| {
        own.strip_prefix(prefix)
            .filter(|n| n.parse::<u32>().is_ok())
    };
    let short = if let Some(n) = numbered("broker-") {
        format!("b{n}")
    } else if let Some(n) = numbered("consumer-") {
        format!("cons-{n}")
    } else if own == "controller" {
        "ctrl".to_string()
    } else {
        own.to_string()
    };
    (group, theme::fit(&short, width))
}

impl Diagram<'_> {
    /// Node index → column, in the order producers, brokers, controller, consumers.
    fn columns(&self) -> (Vec<Option<usize>>, Vec<usize>) {
        let nodes = self.s.sim.nodes();
        let mut order: Vec<usize> = Vec::new();
        let rank = |k: NodeKind| match k {
            NodeKind::Producer(_) => 0,
            NodeKind::Broker(_) => 1,
            NodeKind::Controller => 2,
            NodeKind::Consumer(_) => 3,
        };
        for r in 0..4 {
            for (i, n) in nodes.iter().enumerate() {
                if rank(n.kind) == r {
                    order.push(i);
                }
            }
        }
        let mut col = vec![None; nodes.len()];
        for (c, &n) in order.iter().enumerate() {
            col[n] = Some(c);
        }
        (col, order)
    }
}

impl Widget for Diagram<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.s;
        let total = s.wires.len();
        let hint = format!(
            "{} · ↑↓ PgUp/PgDn scroll · h {} chatter",
            if self.app.diagram_scroll > 0 {
                format!("↑{} older", self.app.diagram_scroll)
            } else {
                "newest at the bottom".into()
            },
            if self.app.show_chatter {
                "hides"
            } else {
                "shows"
            }
        );
        let inner = panel("Sequence diagram", &hint, area, buf);
        if inner.height < 3 || inner.width < GUTTER + 10 {
            return;
        }
        let (col, order) = self.columns();
        let ncols = order.len() as u16;
        let usable = inner.width - GUTTER;
        let spacing = (usable / ncols.max(1)).max(3);
        let x_of = |c: usize| inner.x + GUTTER + spacing / 2 + c as u16 * spacing;
        // Column headers: a member's group (or host) on a row above its own name when any
        // name has one, so three `consumer-1` columns of different groups stay apart.
        let width = spacing.saturating_sub(1) as usize;
        let labels: Vec<(Option<&str>, String)> = order
            .iter()
            .map(|&n| header(&s.sim.nodes()[n].name, width))
            .collect();
        let head_rows: u16 = if labels.iter().any(|l| l.0.is_some()) {
            2
        } else {
            1
        };
        if inner.height < head_rows + 2 {
            return;
        }
        for (c, &n) in order.iter().enumerate() {
            let node = &s.sim.nodes()[n];
            let style = if !node.up {
                theme::DOWN
            } else if node.paused_until.is_some() {
                theme::PAUSED
            } else {
                theme::BOLD
            };
            let (group, name) = &labels[c];
            // A glyph as well as the colour: a dead node's column reads `✗broker-1`.
            let glyph = if !node.up {
                "✗"
            } else if node.paused_until.is_some() {
                "⏸"
            } else {
                ""
            };
            let name = if glyph.is_empty() {
                name.clone()
            } else {
                // Shortened to leave the glyph its cell (`✗b1` rather than `✗broker…`).
                let (_, short) = header(&node.name, width.saturating_sub(1));
                format!("{glyph}{short}")
            };
            let rows = group
                .map(|g| (0, theme::fit(g, width), theme::DIM))
                .into_iter()
                .chain([(head_rows - 1, name, style)]);
            for (row, text, style) in rows {
                let w = theme::width(&text) as u16;
                let x = x_of(c).saturating_sub(w / 2).max(inner.x + GUTTER);
                super::text_at(buf, x, inner.y + row, &text, style, inner.x + inner.width);
            }
        }
        let rows = (inner.height - head_rows) as usize;
        // The newest rows that pass the filter, skipping `diagram_scroll` of them.
        let mut shown: Vec<&WireLine> = Vec::with_capacity(rows);
        let mut skipped = 0;
        for w in s.wires.iter().rev() {
            if !self.app.show_chatter && w.is_chatter() {
                continue;
            }
            if skipped < self.app.diagram_scroll {
                skipped += 1;
                continue;
            }
            shown.push(w);
            if shown.len() == rows {
                break;
            }
        }
        shown.reverse();
        let lifeline = Style::new().fg(Color::DarkGray);
        let right = inner.x + inner.width;
        for r in 0..rows {
            let y = inner.y + head_rows + r as u16;
            for c in 0..order.len() {
                let x = x_of(c);
                if x < right {
                    buf[(x, y)].set_symbol("│").set_style(lifeline);
                }
            }
        }
        if shown.is_empty() {
            put(
                buf,
                inner,
                head_rows + 1,
                &Line::styled(
                    if total == 0 {
                        "  no messages yet: press → or space"
                    } else {
                        "  only chatter so far: press h to show heartbeats and empty fetches"
                    },
                    theme::DIM,
                ),
            );
            return;
        }
        let mut last_time = None;
        for (r, w) in shown.iter().enumerate() {
            let y = inner.y + head_rows + r as u16;
            let t = theme::time(w.time);
            if last_time.as_ref() != Some(&t) {
                super::text_at(buf, inner.x, y, &format!("{t:>8}"), theme::DIM, right);
                last_time = Some(t);
            }
        }
        let arrows: Vec<Arrow> = shown
            .iter()
            .enumerate()
            .filter_map(|(r, w)| {
                let (Some(a), Some(b)) = (col[w.from.idx()], col[w.to.idx()]) else {
                    return None;
                };
                let (last_row, long_flight) = arrival_row(&shown, r, w);
                Some(Arrow {
                    w,
                    row: r,
                    last_row,
                    long_flight,
                    xa: x_of(a),
                    xb: x_of(b),
                })
            })
            .collect();
        let top = inner.y + head_rows;
        let now = s.now();
        // Bodies first, then the heads and starts, then the labels, so that an arrow crossing
        // later rows never hides where another starts, and every label stays readable.
        for a in &arrows {
            a.draw_body(buf, top, right);
        }
        for a in &arrows {
            a.draw_head(buf, top, right, now, self.app.diagram_scroll == 0);
            a.draw_start(buf, top, right);
        }
        for a in &arrows {
            a.draw_label(s, buf, top, inner.x + GUTTER, right);
        }
    }
}

/// The row an arrow sent on row `r` arrives on: the last row whose message was sent while it
/// was still in flight (the same row when nothing was sent meanwhile). A character grid is
/// coarse; this keeps the order of sends and arrivals.
/// An arrow in flight over more rows than this stays on its send row and says when it arrives
/// instead (a message held by a paused process would otherwise cross the whole diagram).
const MAX_SLANT_ROWS: usize = 3;

fn arrival_row(shown: &[&WireLine], r: usize, w: &WireLine) -> (usize, bool) {
    let arrive = if w.dropped.is_some() && w.arrive_at < w.time {
        w.time
    } else {
        w.arrive_at
    };
    let rest = &shown[r + 1..];
    let later = rest.partition_point(|x| x.time < arrive);
    // Rows sent at the same instant are simultaneous with this one: only a message sent while
    // this one was really in flight makes it slant.
    if later == rest.partition_point(|x| x.time <= w.time) {
        return (r, false);
    }
    if later > MAX_SLANT_ROWS {
        (r, true)
    } else {
        (r + later, false)
    }
}

/// A connection reset: the dead process's operating system (the network, as the client sees
/// it) resets the connection; the process itself sends nothing.
fn is_reset(w: &WireLine) -> bool {
    w.from_dead || w.wire.kind == WireKind::ConnectionReset
}

/// One message drawn from its send row to its arrival row.
struct Arrow<'a> {
    w: &'a WireLine,
    row: usize,
    last_row: usize,
    /// In flight over more than [`MAX_SLANT_ROWS`] rows: drawn on its send row, its label
    /// saying when it arrives.
    long_flight: bool,
    xa: u16,
    xb: u16,
}

impl Arrow<'_> {
    fn style(&self) -> Style {
        kind_style(self.w)
    }

    /// The x where the arrow leaves row `k` (the corner down to the next row), for
    /// `k` in `row..=last_row`; the last row ends at the receiver.
    fn x_end(&self, k: usize) -> u16 {
        let n = (self.last_row - self.row + 1) as i32;
        let d = self.xb as i32 - self.xa as i32;
        let i = (k - self.row + 1) as i32;
        (self.xa as i32 + d * i / n) as u16
    }

    fn x_start(&self, k: usize) -> u16 {
        if k == self.row {
            self.xa
        } else {
            self.x_end(k - 1)
        }
    }

    fn draw_body(&self, buf: &mut Buffer, top: u16, right: u16) {
        let style = self.style();
        let line = if is_reset(self.w) { "┄" } else { "─" };
        let rightwards = self.xb > self.xa;
        for k in self.row..=self.last_row {
            let y = top + k as u16;
            let (x0, x1) = (self.x_start(k), self.x_end(k));
            let (lo, hi) = (x0.min(x1), x0.max(x1));
            for x in lo + 1..hi.min(right) {
                buf[(x, y)].set_symbol(line).set_style(style);
            }
            if k > self.row && x0 < right {
                let enter = match (rightwards, x0 == x1 && k < self.last_row) {
                    (_, true) => "│",
                    (true, false) => "╰",
                    (false, false) => "╯",
                };
                buf[(x0, y)].set_symbol(enter).set_style(style);
            }
            if k < self.last_row && x1 < right && x1 != x0 {
                buf[(x1, y)]
                    .set_symbol(if rightwards { "╮" } else { "╭" })
                    .set_style(style);
            }
        }
    }

    fn draw_start(&self, buf: &mut Buffer, top: u16, right: u16) {
        let y = top + self.row as u16;
        if is_reset(self.w) {
            // The reset comes from the network beside the dead node, not from the node: its
            // lifeline keeps no dot.
            let x = if self.xb > self.xa {
                self.xa + 1
            } else {
                self.xa.saturating_sub(1)
            };
            if x < right {
                buf[(x, y)].set_symbol("╳").set_style(theme::LOSS);
            }
        } else if self.xa < right {
            buf[(self.xa, y)].set_symbol("●").set_style(self.style());
        }
    }

    fn draw_label(&self, s: &Session, buf: &mut Buffer, top: u16, left: u16, right: u16) {
        let w = self.w;
        let y = top + self.row as u16;
        let style = self.style();
        let reset = is_reset(w);
        // The label sits on the send row: on the arrow's span when it fits, else beside it.
        let (lo, hi) = (self.xa.min(self.xb), self.xa.max(self.xb));
        let mut text = if reset {
            // The longest wording that fits on the arrow.
            let room = (hi - lo).saturating_sub(3) as usize;
            let mut words = reset_labels(s, w);
            let last = words.pop().unwrap_or_default();
            words
                .into_iter()
                .find(|t| theme::width(t) <= room)
                .unwrap_or(last)
        } else {
            label(s, w)
        };
        if self.long_flight {
            let verb = if w.dropped.is_some() {
                "dropped"
            } else {
                "arrives"
            };
            text.push_str(&format!(" ({verb} {})", theme::time(w.arrive_at)));
        }
        let tw = theme::width(&text) as u16;
        let body = hi - lo - 1;
        let lstyle = style.add_modifier(Modifier::BOLD);
        if tw + 2 <= body {
            let x = lo + 1 + (body - tw) / 2;
            super::text_at(buf, x, y, &text, lstyle, right);
        } else {
            let right_room = right.saturating_sub(hi + 2);
            if right_room >= tw.min(12) {
                let t = theme::fit(&text, right_room as usize);
                super::text_at(buf, hi + 2, y, &t, lstyle, right);
            } else {
                let left_room = lo.saturating_sub(left + 1);
                let t = theme::fit(&text, left_room as usize);
                let x = lo.saturating_sub(theme::width(&t) as u16 + 1);
                super::text_at(buf, x, y, &t, lstyle, right);
            }
        }
    }

    /// The head on the arrival row: `▶`/`◀`, `✗` when dropped, `…` when it has not arrived yet.
    fn draw_head(&self, buf: &mut Buffer, top: u16, right: u16, now: SimTime, newest: bool) {
        let w = self.w;
        let y = top + self.last_row as u16;
        if self.xb >= right {
            return;
        }
        let (head, style) = if w.dropped.is_some() {
            ("✗", theme::LOSS)
        } else if self.long_flight || newest && w.arrive_at > now {
            ("…", self.style())
        } else if self.xb > self.xa {
            ("▶", self.style().add_modifier(Modifier::BOLD))
        } else {
            ("◀", self.style().add_modifier(Modifier::BOLD))
        };
        buf[(self.xb, y)].set_symbol(head).set_style(style);
    }
}

/// What the client learns from a reset, longest first: `connection reset: Produce #7 fails
/// (NETWORK_EXCEPTION)`, `connection reset (NETWORK_EXCEPTION)`, `connection reset` (the error
/// is the one the client library turns the reset into).
fn reset_labels(s: &Session, w: &WireLine) -> Vec<String> {
    if w.wire.kind == WireKind::ConnectionReset {
        return vec!["connection reset".into()];
    }
    let mut what = short_kind(w.wire.kind).trim_end_matches("Resp").to_string();
    if let Some(m) = w.wire.first_msg {
        what.push(' ');
        what.push_str(&msg_label(&s.sim, m));
        if w.wire.records > 1 {
            what.push_str(&format!("+{}", w.wire.records - 1));
        }
    }
    if w.wire.error == ErrorCode::None {
        return vec![
            format!("connection reset: {what}"),
            "connection reset".into(),
        ];
    }
    let err = w.wire.error.name();
    vec![
        format!("connection reset: {what} fails ({err})"),
        format!("connection reset ({err})"),
        "connection reset".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::{MAX_SLANT_ROWS, arrival_row, header};
    use crate::session::WireLine;
    use crate::sim::{ErrorCode, NodeId, SimTime, Wire, WireKind};

    fn wire(sent_ms: u64, arrive_ms: u64) -> WireLine {
        WireLine {
            event: 0,
            time: SimTime(sent_ms * 1000),
            id: 0,
            from: NodeId(0),
            to: NodeId(1),
            wire: Wire {
                kind: WireKind::ProduceRequest,
                partition: None,
                first_msg: None,
                records: 0,
                error: ErrorCode::None,
            },
            arrive_at: SimTime(arrive_ms * 1000),
            dropped: None,
            from_dead: false,
        }
    }

    #[test]
    fn an_arrow_ends_on_the_last_row_sent_while_it_was_in_flight() {
        // Sent at 10, arrives at 15: the sends at 12 and 14 happen while it flies.
        let rows = [wire(10, 15), wire(12, 13), wire(14, 20), wire(16, 17)];
        let shown: Vec<&WireLine> = rows.iter().collect();
        assert_eq!(arrival_row(&shown, 0, shown[0]), (2, false));
        // Arrives before the next send: it stays on its row.
        assert_eq!(arrival_row(&shown, 1, shown[1]), (1, false));
        // Sends at the same instant do not make it slant.
        let rows = [wire(10, 11), wire(10, 11), wire(10, 11)];
        let shown: Vec<&WireLine> = rows.iter().collect();
        assert_eq!(arrival_row(&shown, 0, shown[0]), (0, false));
        // In flight over more than MAX_SLANT_ROWS rows: drawn on its send row.
        let rows: Vec<WireLine> = std::iter::once(wire(0, 1000))
            .chain((1..=MAX_SLANT_ROWS as u64 + 1).map(|t| wire(t, t + 1)))
            .collect();
        let shown: Vec<&WireLine> = rows.iter().collect();
        assert_eq!(arrival_row(&shown, 0, shown[0]), (0, true));
    }

    #[test]
    fn headers_keep_groups_apart_and_shorten_only_what_does_not_fit() {
        assert_eq!(header("broker-1", 12), (None, "broker-1".to_string()));
        assert_eq!(header("broker-12", 6), (None, "b12".to_string()));
        assert_eq!(header("controller", 7), (None, "ctrl".to_string()));
        assert_eq!(
            header("processor/consumer-1", 8),
            (Some("processor"), "cons-1".to_string())
        );
        assert_eq!(
            header("reader/consumer-1", 12),
            (Some("reader"), "consumer-1".to_string())
        );
        assert_eq!(
            header("billing/consumer-1/dead-letter", 7),
            (Some("billing/consumer-1"), "dead-l…".to_string())
        );
    }
}
