//! A RabbitMQ, SQS or Redis queue in the groups panel, in its system's words: how many
//! messages are ready (the queue depth), what each consumer holds in flight (RabbitMQ
//! `unacked`, SQS `invisible`, a Redis stream's pending entries list, a reliable list's
//! processing list) with each message's delivery count and timer (SQS visibility, the reaper,
//! XAUTOCLAIM's idle time), and the dead-letter queue's count and newest entries. A plain Redis
//! list keeps nothing in flight (BRPOP removes the message), so its consumers' lines show what
//! each holds from the consumer's side.
//!
//! Every system delivers through the share-partition state of the queue's leader (see
//! `src/sim/share_partition.rs`): `Available` is ready, `Acquired` in flight, `Acknowledged`
//! acked, `Archived` dead-lettered. The logic reads the simulation only through `Sim`'s
//! accessors and walks at most [`SHOWN`] messages per consumer.

use ratatui::text::{Line, Span};

use super::system::{QueueWords, queue_words};
use super::theme;
use crate::session::Session;
use crate::sim::config::{AckMode, QueueConsumerConfig, RedisMode, System};
use crate::sim::consumer::ConsumerState;
use crate::sim::share_partition::{RecordState, SharePartition};
use crate::sim::{ConsumerId, GroupId, PartitionId, Sim, SimTime};

/// In-flight messages shown per consumer; the rest are counted.
pub const SHOWN: usize = 8;

/// Entries of the dead-letter queue shown, newest last.
const DLQ_SHOWN: usize = 4;

/// The glyph of an in-flight message, beside its word in the consumer line (shared with the
/// share panel: `◐` held by a consumer).
const IN_FLIGHT: char = '◐';

/// `12.3s` left, or `now` (a timer the queue has not acted on yet).
fn time_left(deadline: SimTime, now: SimTime) -> String {
    if deadline <= now {
        return "now".to_string();
    }
    format!("{:.1}s", (deadline.0 - now.0) as f64 / 1e6)
}

fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// The consuming settings that shape what the queue panel shows, in the system's names.
pub fn settings_text(system: System, q: &QueueConsumerConfig) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    match system {
        System::RabbitMq => {
            parts.push(match q.ack {
                AckMode::Auto => "auto-ack".into(),
                AckMode::Manual => "manual ack".into(),
            });
            parts.push(if q.prefetch == 0 {
                "prefetch unlimited".into()
            } else {
                format!("prefetch {}", q.prefetch)
            });
            parts.push(if q.requeue {
                "nack requeues".into()
            } else {
                "nack drops".into()
            });
            if let Some(limit) = q.delivery_limit {
                parts.push(format!("delivery limit {limit}"));
            }
        }
        System::Sqs => {
            parts.push(format!("batch {}", q.batch_size));
            parts.push(format!("visibility {}", secs(q.visibility_timeout_ms)));
            if let Some(n) = q.max_receive_count {
                parts.push(format!("maxReceiveCount {n}"));
            }
        }
        System::Redis(RedisMode::List) => parts.push("BRPOP".into()),
        System::Redis(RedisMode::ReliableList) => {
            parts.push("LMOVE".into());
            parts.push(format!("reaper after {}", secs(q.visibility_timeout_ms)));
        }
        System::Redis(RedisMode::Stream) => {
            parts.push(format!("XAUTOCLAIM after {} idle", secs(q.min_idle_ms)));
            if let Some(n) = q.max_deliveries {
                parts.push(format!("max deliveries {n}"));
            }
        }
        System::Kafka => {}
    }
    parts
}

/// The queue's counts: ready (in the window and past it on the leader) and in flight. (What
/// was acknowledged or dead-lettered leaves the window as its start advances: those counts
/// come from the checker, which saw every step.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Depth {
    pub ready: u64,
    pub in_flight: u64,
}

/// Counts the queue `p` for group `g`. Ready counts the window's available records and every
/// record the leader has committed past the window's end (SPEO), which no consumer took yet.
pub fn depth(sim: &Sim, p: PartitionId, sp: Option<&SharePartition>) -> Depth {
    let committed = sim.controller().parts[p.idx()]
        .leader
        .and_then(|l| sim.replica(p, l))
        .map_or(0, |r| r.hw());
    let Some(sp) = sp else {
        return Depth {
            ready: committed,
            ..Depth::default()
        };
    };
    let mut d = Depth {
        ready: committed.saturating_sub(sp.speo()),
        ..Depth::default()
    };
    for r in sp.in_flight().filter(|r| r.msg.is_some()) {
        match r.state {
            RecordState::Available => d.ready += 1,
            RecordState::Acquired { .. } => d.in_flight += 1,
            RecordState::Acknowledged | RecordState::Archived => {}
        }
    }
    d
}

/// What consumer `c` holds: from the queue's in-flight records, or (a plain Redis list, where
/// a popped message is gone from the server) from the consumer itself. Each as (message,
/// delivery count, the deadline of its timer).
fn held(
    sim: &Sim,
    c: ConsumerId,
    sp: Option<&SharePartition>,
    words: &QueueWords,
) -> Vec<(crate::sim::MsgId, u32, Option<SimTime>)> {
    if words.popped_is_gone {
        return sim.consumers()[c.idx()]
            .share
            .as_ref()
            .map(|client| client.held().map(|(m, n)| (m, n, None)).collect())
            .unwrap_or_default();
    }
    let Some(sp) = sp else {
        return Vec::new();
    };
    sp.in_flight()
        .filter_map(|r| match (r.state, r.msg) {
            (RecordState::Acquired { member, deadline }, Some(m)) if member == c => {
                Some((m, r.delivery_count, Some(deadline)))
            }
            _ => None,
        })
        .collect()
}

/// One in-flight message: `◐#11 ×2 redelivered 12.3s` (`compact`: `◐#11×2 12.3s`); the
/// consumer's line names the timer once (`visible in:`).
fn message_piece(
    sim: &Sim,
    system: System,
    words: &QueueWords,
    (m, count, deadline): (crate::sim::MsgId, u32, Option<SimTime>),
    compact: bool,
) -> Vec<Span<'static>> {
    let label = super::cluster::msg_label(sim, m);
    let style = if count > 1 {
        theme::DUPLICATE
    } else {
        theme::PAUSED
    };
    let mut text = format!(" {IN_FLIGHT}{label}");
    if compact {
        if count > 1 {
            text.push_str(&format!("×{count}"));
        }
    } else {
        text.push_str(&format!(" ×{count}"));
        // RabbitMQ's delivery carries the flag itself: the learner sees the same bit the
        // consumer does.
        if system == System::RabbitMq && count > 1 {
            text.push_str(" redelivered");
        }
    }
    if let (Some(_), Some(deadline)) = (words.timer, deadline) {
        text.push_str(&format!(" {}", time_left(deadline, sim.now())));
    }
    vec![Span::styled(text, style)]
}

/// The dead-letter queue's line: how many messages went there, and the newest entries of its
/// leader's log.
fn dead_letter_line(sim: &Sim, g: GroupId, dead: u64, width: u16) -> Option<Line<'static>> {
    let group = &sim.groups()[g.idx()];
    let Some(dlq) = group.spec.dead_letter_topic else {
        if dead == 0 {
            return None;
        }
        // No dead-letter queue configured: what reached the limit is dropped.
        return Some(Line::styled(
            format!("  ☠ {dead} dropped at the limit (no dead-letter queue)"),
            theme::LOSS,
        ));
    };
    let topic = &sim.topics()[dlq.idx()];
    let mut labels: Vec<String> = Vec::new();
    let mut count = 0u64;
    for &p in &topic.partitions {
        let Some(r) = sim.controller().parts[p.idx()]
            .leader
            .and_then(|l| sim.replica(p, l))
        else {
            continue;
        };
        let log = r.log();
        let data = (0..log.len())
            .map(|off| &log[off])
            .filter(|e| e.kind == crate::sim::replica::EntryKind::Data);
        for e in data {
            count += 1;
            labels.push(super::cluster::msg_label(sim, e.msg));
        }
    }
    // The simulation counts a message moved to the dead-letter queue without appending it
    // to that queue's log (a listed simplification), so the count is at least the group's.
    let count = count.max(dead);
    let mut spans = vec![
        Span::styled("  ☠ dead-letter queue ", theme::LABEL),
        Span::styled(topic.name.clone(), theme::BOLD),
        Span::styled(
            format!(" {count}"),
            if count > 0 { theme::LOSS } else { theme::BOLD },
        ),
    ];
    if !labels.is_empty() {
        let from = labels.len().saturating_sub(DLQ_SHOWN);
        spans.push(Span::styled(
            format!("  newest {}", labels[from..].join(" ")),
            theme::DIM,
        ));
    }
    super::wrap_spans(spans, width, 4).into_iter().next()
}

/// Queue group `g`'s lines in the groups panel (`compact`: the narrow layout).
pub fn queue_lines(s: &Session, g: GroupId, width: u16, compact: bool) -> Vec<Line<'static>> {
    let sim = &s.sim;
    let system = sim.settings().system;
    let words = queue_words(system);
    let group = &sim.groups()[g.idx()];
    let mut lines = Vec::new();
    let settings = group
        .spec
        .queue
        .as_ref()
        .map(|q| settings_text(system, q))
        .unwrap_or_default();
    // One queue per group: the topic's partitions are one in every non-Kafka system; a second
    // would be listed the same way.
    let partitions: Vec<PartitionId> = sim.topics()[group.topic.idx()].partitions.clone();
    let dead = s
        .outcome()
        .group(&group.name)
        .map_or(0, |o| o.dead_lettered);
    for &p in &partitions {
        let sp = sim.share_partition(g, p);
        let d = depth(sim, p, sp);
        let queue = sim.topics()[group.topic.idx()].name.clone();
        let mut head = vec![
            Span::styled(format!("{}  ", group.name), theme::TITLE),
            Span::styled("queue ", theme::LABEL),
            Span::styled(format!("{queue}  "), theme::BOLD),
            Span::styled(format!("{} ", words.ready), theme::LABEL),
            Span::styled(format!("{}  ", d.ready), theme::BOLD),
        ];
        if !words.popped_is_gone {
            head.push(Span::styled(format!("{} ", words.in_flight), theme::LABEL));
            head.push(Span::styled(
                format!("{}  ", d.in_flight),
                if d.in_flight > 0 {
                    theme::PAUSED
                } else {
                    theme::BOLD
                },
            ));
        }
        if dead > 0 {
            head.push(Span::styled(format!("☠ {} ", words.dead), theme::LABEL));
            head.push(Span::styled(format!("{dead}  "), theme::LOSS));
        }
        if !compact {
            // One span each, so the line wraps between settings rather than cutting one.
            for setting in &settings {
                head.push(Span::styled(format!("  {setting}"), theme::DIM));
            }
        }
        lines.extend(super::wrap_spans(head, width, 4));
        lines.extend(consumer_lines(sim, system, &words, g, sp, width, compact));
    }
    if let Some(line) = dead_letter_line(sim, g, dead, width) {
        lines.push(line);
    }
    lines
}

/// A line per consumer (`compact`: all on wrapped lines): its state and what it holds.
fn consumer_lines(
    sim: &Sim,
    system: System,
    words: &QueueWords,
    g: GroupId,
    sp: Option<&SharePartition>,
    width: u16,
    compact: bool,
) -> Vec<Line<'static>> {
    let group = &sim.groups()[g.idx()];
    // A popped message lives only in the consumer's memory: say so once.
    let holds_word = if words.popped_is_gone {
        "holds"
    } else {
        words.in_flight
    };
    let mut lines = Vec::new();
    let mut compact_pieces: Vec<Vec<Span<'static>>> = vec![vec![Span::raw(" ")]];
    for &c in &group.consumers {
        let cons = &sim.consumers()[c.idx()];
        let st = cons.state();
        let style = super::share::member_style(st);
        let msgs = held(sim, c, sp, words);
        let name = super::share::short(&cons.name);
        if compact {
            let name = match name.strip_prefix("consumer-") {
                Some(n) => format!("c{n}"),
                None => name.to_string(),
            };
            let mut piece = vec![Span::styled(format!(" │ {name}"), style)];
            if st != ConsumerState::Active {
                piece.push(Span::styled(format!(" {}", st.name()), style));
            }
            compact_pieces.push(piece);
            for &m in msgs.iter().take(SHOWN) {
                compact_pieces.push(message_piece(sim, system, words, m, true));
            }
            if msgs.len() > SHOWN {
                compact_pieces.push(vec![Span::styled(
                    format!(" +{}", msgs.len() - SHOWN),
                    theme::DIM,
                )]);
            }
            continue;
        }
        let mut head = vec![
            Span::styled(format!("  {name:<11}"), style),
            Span::styled(format!("{:<9}", st.name()), style),
            Span::styled(format!("{holds_word} "), theme::LABEL),
            Span::styled(msgs.len().to_string(), theme::BOLD),
        ];
        if let (Some(timer), false) = (words.timer, msgs.is_empty()) {
            head.push(Span::styled(format!(", {timer}:"), theme::LABEL));
        }
        let mut pieces = vec![head];
        for &m in msgs.iter().take(SHOWN) {
            pieces.push(message_piece(sim, system, words, m, false));
        }
        if msgs.len() > SHOWN {
            pieces.push(vec![Span::styled(
                format!(" … +{} more", msgs.len() - SHOWN),
                theme::DIM,
            )]);
        }
        if words.popped_is_gone && !msgs.is_empty() {
            pieces.push(vec![Span::styled(" (gone from Redis)", theme::DIM)]);
        }
        lines.extend(super::wrap_pieces(pieces, width, 24));
    }
    if compact {
        lines.extend(super::wrap_pieces(compact_pieces, width, 4));
    }
    lines
}
