//! The cluster panel: brokers (up, down, paused, fenced; the controller marked) and, per
//! partition, the leader, epoch and ISR and every replica's log as a strip of cells with the
//! high watermark and log end offset marked. Records at or above a replica's HW are not
//! committed yet and look different; records a truncation just removed are shown struck out.
//!
//! When every partition does not fit, the selected one is shown in full and the others
//! collapse to one line each (focus mode).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::App;
use super::{panel, put, theme};
use crate::session::Session;
use crate::sim::config::System;
use crate::sim::replica::{Entry, EntryKind, Replica, Role};
use crate::sim::{BrokerSet, NodeKind, PartitionId, Sim};

/// How long (simulated) truncated records stay flagged after they vanish.
pub const TRUNCATION_FLASH_MS: u64 = 5000;

pub struct ClusterPanel<'a> {
    pub app: &'a App,
    pub s: &'a Session,
}

impl ClusterPanel<'_> {
    /// Rows needed to show everything, title included.
    pub fn height(&self, width: u16) -> u16 {
        self.height_within(width, u16::MAX)
    }

    /// The panel's height, or `cap` if it is at least that: formatting every partition's
    /// header to measure it costs more than a frame at hundreds of partitions, and the
    /// layout only needs to know whether it fits.
    pub fn height_within(&self, width: u16, cap: u16) -> u16 {
        let sim = &self.s.sim;
        let cap = cap as usize;
        // The panel has no side borders: its lines are as wide as the panel.
        let mut h = 1 + broker_lines(sim, width).len();
        for p in 0..sim.partitions().len() {
            if h >= cap {
                break;
            }
            h += partition_header(self.s, PartitionId(p as u32), false, width).len()
                + sim.partitions()[p].assignment.len();
        }
        h.min(cap) as u16
    }

    /// The rows the panel draws within `cap`: its full height if that fits; else, as it draws
    /// then, the selected partition in full and every other on its header line, so that the
    /// layout gives the rows it would leave blank to the panels below.
    pub fn height_in(&self, width: u16, cap: u16) -> u16 {
        let full = self.height_within(width, cap.saturating_add(1));
        if full <= cap {
            return full;
        }
        let sim = &self.s.sim;
        let np = sim.partitions().len();
        let sel = self.app.selected_partition().map_or(0, |p| p.idx());
        let above = 1 + broker_lines(sim, width).len();
        let start = self.focus_start(sel, cap.saturating_sub(above as u16));
        let mut h = above + sim.partitions().get(sel).map_or(0, |p| p.assignment.len());
        for p in start..np {
            if h >= cap as usize {
                break;
            }
            h += partition_header(self.s, PartitionId(p as u32), p == sel && np > 1, width).len();
        }
        h.min(cap as usize) as u16
    }

    /// In focus mode, the first partition shown in `rows` under the brokers: the selected one
    /// (`sel`) sits about halfway down, so it is visible, unless the list would end above the
    /// panel's bottom; then it starts early enough to end there, and leaves no row blank.
    fn focus_start(&self, sel: usize, rows: u16) -> usize {
        let np = self.s.sim.partitions().len();
        let replicas = self
            .s
            .sim
            .partitions()
            .get(sel)
            .map_or(0, |p| p.assignment.len());
        let others = rows.saturating_sub(1 + replicas as u16) as usize;
        // The selected partition in full, every other on one line.
        let last_start = np.saturating_sub(1 + others);
        sel.saturating_sub(others / 2).min(last_start)
    }
}

/// The label of one record: `#7` with one producer, `c7` with several (first letter).
fn entry_label(sim: &Sim, e: &crate::sim::replica::Entry) -> String {
    match e.kind {
        EntryKind::Commit => "C".into(),
        EntryKind::Abort => "A".into(),
        EntryKind::Data => msg_label(sim, e.msg),
    }
}

/// Where each transactional record's transaction stands on this replica, for the records from
/// offset `from` to the log end, as a glyph after its label (colour alone cannot tell them
/// apart): `~` still open here, `✓` committed, `⊘` aborted (read_committed consumers skip it).
/// `None` for a record outside any transaction and for the markers themselves. Read from the log
/// itself, newest first: a producer's transactions follow one another, so the first marker of its
/// producer id after a record ends that record's transaction (a follower keeps no transaction
/// index until it becomes leader, so the log is the one source both roles share).
fn txn_glyphs(r: &Replica, from: usize) -> Vec<Option<char>> {
    let log = r.log();
    let from = from.min(log.len());
    let mut glyphs = vec![None; log.len() - from];
    // (producer id, the kind of the nearest marker after the current offset)
    let mut next_marker: Vec<(u32, EntryKind)> = Vec::new();
    for off in (from..log.len()).rev() {
        let e = &log[off];
        if !e.transactional {
            continue;
        }
        let seen = next_marker.iter().position(|m| m.0 == e.producer);
        match e.kind {
            EntryKind::Data => {
                glyphs[off - from] = Some(match seen.map(|i| next_marker[i].1) {
                    Some(EntryKind::Commit) => '✓',
                    Some(EntryKind::Abort) => '⊘',
                    _ => '~',
                });
            }
            marker => match seen {
                Some(i) => next_marker[i].1 = marker,
                None => next_marker.push((e.producer, marker)),
            },
        }
    }
    glyphs
}

/// A record's cell text: its label and, in a transaction, its transaction's state.
fn cell_text(sim: &Sim, e: &Entry, txn: Option<char>) -> String {
    let mut label = entry_label(sim, e);
    label.extend(txn);
    label
}

pub fn msg_label(sim: &Sim, m: crate::sim::MsgId) -> String {
    let info = sim.msg(m);
    if sim.producers().len() == 1 {
        format!("#{}", info.n)
    } else {
        let name = &sim.producers()[info.producer.idx()].name;
        format!("{}{}", name.chars().next().unwrap_or('p'), info.n)
    }
}

/// Broker chips, wrapped over as many lines as the width needs.
fn broker_lines(sim: &Sim, width: u16) -> Vec<Line<'static>> {
    let mut chips: Vec<Vec<Span<'static>>> = Vec::new();
    for n in sim.nodes() {
        let (mark, style, extra) = match n.kind {
            NodeKind::Broker(b) => {
                let reg = &sim.controller().brokers[b.idx()];
                let fenced = reg.fenced;
                let (mark, style, mut extra) = node_state(n);
                // A controlled shutdown (`stop`): under way, or done and not restarted yet.
                if n.up && reg.in_controlled_shutdown {
                    extra.push_str(" stopping");
                } else if !n.up && reg.clean_shutdown {
                    extra = " stopped".into();
                }
                if fenced {
                    extra.push_str(" fenced");
                }
                let style = if fenced && n.up { theme::FENCED } else { style };
                (mark, style, extra)
            }
            NodeKind::Controller => {
                let (mark, style, mut extra) = node_state(n);
                // What plays the controller's part (failure detection and failover) in the
                // system being simulated.
                extra.push_str(match sim.settings().system {
                    System::Kafka => "",
                    System::RabbitMq => " (Raft elections)",
                    System::Redis(_) => " (Sentinel)",
                    System::Sqs => " (the service)",
                });
                (mark, style, extra)
            }
            _ => continue,
        };
        chips.push(vec![
            Span::styled(format!("{mark} "), style),
            Span::styled(
                n.name.clone(),
                style.add_modifier(ratatui::style::Modifier::BOLD),
            ),
            Span::styled(extra, style),
            Span::raw("  "),
        ]);
    }
    let mut lines = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut w = 0;
    for chip in chips {
        let cw: usize = chip.iter().map(|s| s.width()).sum();
        if w > 0 && w + cw > width as usize {
            lines.push(Line::from(std::mem::take(&mut cur)));
            w = 0;
        }
        w += cw;
        cur.extend(chip);
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    lines
}

fn node_state(n: &crate::sim::NodeState) -> (&'static str, Style, String) {
    if !n.up {
        ("✗", theme::DOWN, " down".into())
    } else if n.paused_until.is_some() {
        ("⏸", theme::PAUSED, " paused".into())
    } else {
        ("●", theme::UP, String::new())
    }
}

fn broker_set(sim: &Sim, set: BrokerSet, short: bool) -> String {
    let names: Vec<String> = set
        .iter()
        .map(|b| {
            if short {
                (b.0 + 1).to_string()
            } else {
                sim.broker_name(b).to_string()
            }
        })
        .collect();
    format!("[{}]", names.join(","))
}

impl Widget for ClusterPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let sim = &self.s.sim;
        let np = sim.partitions().len();
        let hint = if np > 1 {
            "Tab/↑↓ select partition"
        } else {
            ""
        };
        let inner = panel("Cluster", hint, area, buf);
        let mut y = 0;
        for line in broker_lines(sim, inner.width) {
            put(buf, inner, y, &line);
            y += 1;
        }
        let selected = self.app.selected_partition();
        let full = self.height_within(area.width, area.height.saturating_add(1)) <= area.height;
        let rows_left = inner.height.saturating_sub(y);
        // Focus mode: selected partition in full, the others one line each, starting so that
        // the selected one is visible.
        let sel = selected.map_or(0, |p| p.idx());
        let start = if full {
            0
        } else {
            self.focus_start(sel, rows_left)
        };
        for p in start..np {
            if y >= inner.height {
                break;
            }
            let pid = PartitionId(p as u32);
            let is_sel = selected == Some(pid);
            let remaining = inner.height - y;
            let more_after = np - p - 1;
            for line in partition_header(self.s, pid, is_sel && np > 1, inner.width) {
                if y >= inner.height {
                    break;
                }
                put(buf, inner, y, &line);
                y += 1;
            }
            if full || is_sel {
                let window = self.window(pid, inner.width);
                for &b in &sim.partitions()[p].assignment {
                    if y >= inner.height {
                        break;
                    }
                    put(
                        buf,
                        inner,
                        y,
                        &self.replica_line(pid, b, inner.width, window),
                    );
                    y += 1;
                }
            }
            if !full && remaining > 1 && y == inner.height - 1 && more_after > 1 {
                put(
                    buf,
                    inner,
                    y,
                    &Line::styled(
                        format!("  … {more_after} more partitions (Tab to select)"),
                        theme::DIM,
                    ),
                );
                break;
            }
        }
    }
}

/// A partition's header, wrapped onto a second line (indented) rather than cut when the
/// leader, ISR, ELR and LSO do not fit.
fn partition_header(s: &Session, p: PartitionId, selected: bool, width: u16) -> Vec<Line<'static>> {
    let sim = &s.sim;
    if !sim.settings().system.is_kafka() {
        return queue_header(s, p, selected, width);
    }
    let ctl = &sim.controller().parts[p.idx()];
    let part = &sim.partitions()[p.idx()];
    let name = sim.partition_name(p);
    let mut spans = vec![if selected {
        Span::styled(format!("▸ {name}"), theme::SELECTED)
    } else {
        Span::styled(format!("  {name}"), theme::BOLD)
    }];
    let short = width < 90;
    match ctl.leader {
        Some(l) => {
            spans.push(Span::styled("  leader ", theme::LABEL));
            spans.push(Span::styled(sim.broker_name(l).to_string(), theme::LEADER));
        }
        None => spans.push(Span::styled("  OFFLINE (no leader)", theme::LOSS)),
    }
    // Writes refused right now, with the reason in words (not colour alone).
    if let Some((since, why)) = s.metrics.unavailable_now(p) {
        use crate::metrics::Unavailable;
        let since = crate::report::fmt_time(since);
        // The full reason only where the header has room for it and the rest.
        let roomy = width >= 150;
        let text = match why {
            // The header already says OFFLINE.
            Unavailable::NoLeader => format!("  ⛔ no writes since {since}"),
            Unavailable::LeaderDown if roomy => format!(
                "  ⛔ leader down since {since}: no writes until the controller elects another"
            ),
            Unavailable::LeaderDown => format!("  ⛔ leader down since {since}: no writes"),
            Unavailable::UnderMinIsr if short => format!("  ⛔ ISR<min since {since}"),
            Unavailable::UnderMinIsr => {
                format!("  ⛔ ISR below min.insync since {since}: acks=all refused")
            }
        };
        spans.push(Span::styled(text, theme::LOSS));
    }
    spans.push(Span::styled("  epoch ", theme::LABEL));
    spans.push(Span::styled(ctl.leader_epoch.to_string(), theme::BOLD));
    spans.push(Span::styled("  ISR ", theme::LABEL));
    let isr_style = if (ctl.isr.len() as usize) < part.assignment.len() {
        theme::PAUSED
    } else {
        theme::IN_SYNC
    };
    spans.push(Span::styled(broker_set(sim, ctl.isr, short), isr_style));
    // KIP-966: shown only while it holds someone, so a healthy partition's line is unchanged.
    if !ctl.elr.is_empty() {
        spans.push(Span::styled("  ELR ", theme::LABEL));
        spans.push(Span::styled(broker_set(sim, ctl.elr, short), theme::PAUSED));
    }
    if !ctl.last_known_elr.is_empty() && !short {
        spans.push(Span::styled("  last known ELR ", theme::LABEL));
        spans.push(Span::styled(
            broker_set(sim, ctl.last_known_elr, short),
            theme::DIM,
        ));
    }
    if !short || width >= 70 {
        spans.push(Span::styled(
            format!("  min.insync {}", part.min_insync_replicas),
            theme::DIM,
        ));
    }
    // Transactions: the LSO and how many are open, once there are any on the leader.
    if let Some(r) = ctl
        .leader
        .and_then(|l| sim.replica(p, l))
        .filter(|r| r.is_leader())
    {
        let open = r.ongoing_txns().len();
        if open > 0 || r.lso() < r.hw() {
            spans.push(Span::styled("  LSO ", theme::LABEL));
            // `LSO 0 (1 open txn)` wraps as one piece.
            spans.push(Span::styled(format!("{} ", r.lso()), theme::PAUSED));
            spans.push(Span::styled(
                format!("({open} open txn{})", if open == 1 { "" } else { "s" }),
                theme::PAUSED,
            ));
        }
    }
    super::wrap_spans(spans, width, 4)
}

/// A queue's header on another system than Kafka, in its words: a RabbitMQ classic queue's
/// node, or a quorum queue's leader, Raft term, members and commit index; a Redis key's
/// primary, config epoch, replicas and replication offset; an SQS queue's hosts.
fn queue_header(s: &Session, p: PartitionId, selected: bool, width: u16) -> Vec<Line<'static>> {
    use super::system::cluster_words;
    let sim = &s.sim;
    let system = sim.settings().system;
    let words = cluster_words(system);
    let ctl = &sim.controller().parts[p.idx()];
    let part = &sim.partitions()[p.idx()];
    let topic = &sim.topics()[part.topic.idx()];
    // A queue is one partition: its name alone is what the learner declared.
    let name = if topic.partitions.len() == 1 {
        topic.name.clone()
    } else {
        sim.partition_name(p)
    };
    let short = width < 90;
    let replicas = part.assignment.len();
    let mut spans = vec![if selected {
        Span::styled(format!("▸ {name}"), theme::SELECTED)
    } else {
        Span::styled(format!("  {name}"), theme::BOLD)
    }];
    let kind = match system {
        System::RabbitMq if replicas > 1 => "quorum queue".to_string(),
        System::RabbitMq => "classic queue".to_string(),
        System::Sqs => format!("queue (stored on {replicas} hosts)"),
        System::Redis(_) if replicas > 1 => format!("primary + {} replicas", replicas - 1),
        System::Redis(_) => "primary, no replica".to_string(),
        System::Kafka => String::new(),
    };
    spans.push(Span::styled(format!("  {kind}"), theme::LABEL));
    match ctl.leader {
        Some(l) => {
            spans.push(Span::styled(format!("  {} ", words.leader), theme::LABEL));
            spans.push(Span::styled(sim.broker_name(l).to_string(), theme::LEADER));
        }
        None => spans.push(Span::styled(
            format!("  OFFLINE (no {})", words.leader),
            theme::LOSS,
        )),
    }
    if let Some((since, why)) = s.metrics.unavailable_now(p) {
        use crate::metrics::Unavailable;
        let since = crate::report::fmt_time(since);
        let text = match why {
            Unavailable::NoLeader => format!("  ⛔ no writes since {since}"),
            Unavailable::LeaderDown => {
                format!("  ⛔ {} down since {since}: no writes", words.leader)
            }
            Unavailable::UnderMinIsr => format!("  ⛔ too few replicas since {since}"),
        };
        spans.push(Span::styled(text, theme::LOSS));
    }
    // A classic queue and SQS have no failover counter a learner would see.
    let failover_counter = match system {
        System::RabbitMq => replicas > 1,
        System::Redis(_) => true,
        _ => false,
    };
    if failover_counter {
        spans.push(Span::styled(format!("  {} ", words.epoch), theme::LABEL));
        spans.push(Span::styled(ctl.leader_epoch.to_string(), theme::BOLD));
    }
    if replicas > 1 {
        let lagging = BrokerSet::from_iter(
            part.assignment
                .iter()
                .copied()
                .filter(|&b| !ctl.isr.contains(b)),
        );
        if system != System::Sqs {
            spans.push(Span::styled(format!("  {} ", words.members), theme::LABEL));
            // A quorum queue's members include its leader; a Redis primary's replicas do not.
            let listed = BrokerSet::from_iter(
                part.assignment
                    .iter()
                    .copied()
                    .filter(|&b| !matches!(system, System::Redis(_)) || ctl.leader != Some(b)),
            );
            spans.push(Span::styled(broker_set(sim, listed, short), theme::BOLD));
        }
        if !lagging.is_empty() {
            spans.push(Span::styled(format!("  {} ", words.behind), theme::LABEL));
            spans.push(Span::styled(
                broker_set(sim, lagging, short),
                theme::OUT_OF_SYNC,
            ));
        }
    }
    if let Some(r) = ctl.leader.and_then(|l| sim.replica(p, l)) {
        let (label, value) = match system {
            System::RabbitMq if replicas > 1 => ("commit index", r.hw()),
            System::Redis(_) => ("replication offset", r.leo()),
            _ => ("messages stored", r.leo()),
        };
        spans.push(Span::styled(format!("  {label} "), theme::LABEL));
        spans.push(Span::styled(value.to_string(), theme::BOLD));
    }
    super::wrap_spans(spans, width, 4)
}

/// The part of a partition's logs that fits: every replica shows the same offsets in cells of
/// the same width, so their logs line up.
#[derive(Clone, Copy)]
struct Window {
    first: u64,
    /// The furthest log end (with truncation ghosts): the window's right edge.
    end: u64,
    cell_w: usize,
}

/// Columns before the strip: `  ★ broker-1 not in ISR ` (wide) or `  ★ b1 ¬ISR ` (narrow).
fn prefix_width(width: u16) -> usize {
    if width < 90 { 12 } else { 23 }
}

impl ClusterPanel<'_> {
    fn truncated_cells(&self, p: PartitionId, b: crate::sim::BrokerId) -> Vec<String> {
        let sim = &self.s.sim;
        self.s
            .recent_truncation(p, b, TRUNCATION_FLASH_MS)
            .map(|t| t.removed.iter().map(|&m| msg_label(sim, m)).collect())
            .unwrap_or_default()
    }

    fn window(&self, p: PartitionId, width: u16) -> Window {
        let sim = &self.s.sim;
        // Truncated records are drawn as ghosts after the LEO, in the same grid.
        let (mut end, mut cell_w) = (0u64, 2usize);
        for r in sim.replicas(p) {
            let ghosts = self.truncated_cells(p, r.broker);
            end = end.max(r.leo() + ghosts.len() as u64);
            let log = r.log();
            let from = log.len().saturating_sub(64);
            let txn = txn_glyphs(r, from);
            let w = (from..log.len())
                .map(|off| cell_text(sim, &log[off], txn[off - from]).chars().count())
                .chain(ghosts.iter().map(|g| g.len()))
                .max()
                .unwrap_or(2);
            cell_w = cell_w.max(w);
        }
        let words = super::system::cluster_words(sim.settings().system);
        let suffix = format!(" {} {end} {} {end}", words.committed, words.end).len();
        let avail = (width as usize)
            .saturating_sub(prefix_width(width) + 1 + suffix)
            .max(cell_w + 1);
        let fit = (avail / (cell_w + 1)).max(1) as u64;
        Window {
            first: end.saturating_sub(fit),
            end,
            cell_w,
        }
    }

    /// `  ★ broker-1 ▕#1 #2 #3┃#4 #5  HW 3 LEO 5`
    fn replica_line(
        &self,
        p: PartitionId,
        b: crate::sim::BrokerId,
        width: u16,
        win: Window,
    ) -> Line<'static> {
        let sim = &self.s.sim;
        let rep = sim
            .replica(p, b)
            .expect("the broker hosts a replica of the partition");
        let ctl = &sim.controller().parts[p.idx()];
        let node = &sim.nodes()[sim.node_of_broker(rep.broker).idx()];
        let in_isr = ctl.isr.contains(rep.broker);
        let is_leader = ctl.leader == Some(rep.broker) && node.up;
        let (mark, mstyle) = if !node.up {
            ("✗", theme::DOWN)
        } else if node.paused_until.is_some() {
            ("⏸", theme::PAUSED)
        } else if is_leader {
            ("★", theme::LEADER)
        } else if rep.role() == Role::Follower {
            ("·", theme::UP)
        } else {
            ("?", theme::DIM)
        };
        let name_style = if !node.up {
            theme::DOWN
        } else if !in_isr {
            theme::OUT_OF_SYNC
        } else if is_leader {
            theme::LEADER
        } else {
            theme::IN_SYNC
        };
        let short = width < 90;
        let words = super::system::cluster_words(sim.settings().system);
        let (bname, isr_note) = if short {
            (
                format!("b{:<3}", rep.broker.0 + 1),
                if in_isr {
                    "     ".to_string()
                } else {
                    format!("{:<5}", words.behind_short)
                },
            )
        } else {
            (
                format!("{:<9}", sim.broker_name(rep.broker)),
                if in_isr {
                    "           ".to_string()
                } else {
                    format!("{:<11}", words.behind)
                },
            )
        };
        let mut spans = vec![
            Span::styled(format!("  {mark} "), mstyle),
            Span::styled(bname, name_style),
            Span::styled(isr_note, theme::OUT_OF_SYNC),
        ];
        let leo = rep.leo();
        let hw = rep.hw().min(leo);
        let cell_w = win.cell_w;
        let n = rep.log().len();
        let first = win.first.min(n as u64) as usize;
        spans.push(if hw <= win.first && first < n {
            // Every record on screen is at or above the HW: the mark says so, not colour alone.
            Span::styled("┃", theme::HW_MARK)
        } else if win.first > 0 {
            Span::styled("…", theme::DIM)
        } else {
            Span::styled("▕", theme::DIM)
        });
        let ghosts = self.truncated_cells(p, rep.broker);
        let txn = txn_glyphs(rep, first);
        for (off, e) in rep.log().iter().enumerate().skip(first) {
            let text = cell_text(sim, e, txn[off - first]);
            let style = if e.kind != EntryKind::Data || text.ends_with('⊘') {
                theme::DIM
            } else if (off as u64) < hw {
                theme::COMMITTED
            } else {
                theme::UNCOMMITTED
            };
            let pad = cell_w.saturating_sub(text.chars().count());
            spans.push(Span::styled(format!("{}{text}", " ".repeat(pad)), style));
            // `✂`: the log was cut here; the struck-out cells after it are what was removed
            // (a `✗` here read as if the record before it had failed).
            let sep = if off + 1 == n && !ghosts.is_empty() {
                Span::styled("✂", theme::LOSS)
            } else if off as u64 + 1 == hw && off + 1 < n {
                Span::styled("┃", theme::HW_MARK)
            } else {
                Span::raw(" ")
            };
            spans.push(sep);
        }
        if n == 0 && ghosts.is_empty() {
            spans.push(Span::styled("(empty) ", theme::DIM));
        } else if first >= n && ghosts.is_empty() {
            // Every record it has is left of the window, which follows the newest log: say how
            // far behind it is rather than leave the row blank.
            let behind = win.end.saturating_sub(leo);
            spans.push(Span::styled(
                if short {
                    format!("({behind} behind) ")
                } else {
                    format!("(all left of the window: {behind} records behind) ")
                },
                theme::OUT_OF_SYNC,
            ));
        }
        if !ghosts.is_empty() && first >= n {
            // No record of its own on screen: the cut still comes before what it removed.
            spans.push(Span::styled("✂", theme::LOSS));
        }
        for (i, g) in ghosts.iter().enumerate() {
            if ((n + i) as u64) < win.first {
                continue;
            }
            spans.push(Span::styled(
                format!("{g:>w$}", w = cell_w),
                theme::TRUNCATED,
            ));
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(format!("{} ", words.committed), theme::LABEL));
        spans.push(Span::styled(hw.to_string(), theme::HW_MARK));
        spans.push(Span::styled(format!(" {} ", words.end), theme::LABEL));
        spans.push(Span::styled(leo.to_string(), theme::BOLD));
        Line::from(spans)
    }
}
