//! Load-time warnings: settings that are valid and Kafka's defaults, but that surprise learners.

use super::model::{OffsetReset, Scenario};

/// A group that starts at `latest` after its producers have begun sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatestStart {
    pub group: String,
    /// When it joins: its `start_ms` plus `group.initial.rebalance.delay.ms`.
    pub joins_at_ms: u64,
    pub delay_ms: u64,
    /// The producers that send to its topic before then.
    pub senders: String,
    /// About how many records it will skip.
    pub records: u64,
}

impl LatestStart {
    /// The full warning, for `run`'s stderr.
    pub fn long(&self) -> String {
        format!(
            "warning: group `{}` starts at `latest` (auto.offset.reset, Kafka's default) when it joins, about {} ms in (group.initial.rebalance.delay.ms = {}), after {} began sending: it will skip about {} record{} sent before then. To read them, set auto_offset_reset = \"earliest\" in its [[groups]] table.",
            self.group,
            self.joins_at_ms,
            self.delay_ms,
            self.senders,
            self.records,
            if self.records == 1 { "" } else { "s" }
        )
    }

    /// A one-line version for the TUI's event log.
    pub fn short(&self) -> String {
        format!(
            "⚠ {} starts at latest (Kafka's default) at ~{} ms: it will skip ~{} record{}; auto_offset_reset = \"earliest\" reads them",
            self.group,
            self.joins_at_ms,
            self.records,
            if self.records == 1 { "" } else { "s" }
        )
    }
}

/// One warning per group that starts at `latest` (`auto.offset.reset`'s default) after its
/// topic's producers have begun sending: it will skip what they sent before it joined. The
/// count is an estimate from the send schedule (the join itself takes a few milliseconds
/// more). Kafka's defaults stay; the warning says how to change them.
pub fn latest_start_warnings(sc: &Scenario) -> Vec<LatestStart> {
    let mut out = Vec::new();
    // RabbitMQ, SQS and Redis hand a new consumer everything the queue holds: no offset reset.
    if !sc.cluster.system.is_kafka() {
        return out;
    }
    for g in &sc.groups {
        if g.auto_offset_reset != OffsetReset::Latest {
            continue;
        }
        let joins_at = g.start_ms + sc.cluster.group_initial_rebalance_delay_ms;
        let mut before = 0u64;
        let mut senders = Vec::new();
        for p in sc.producers.iter().filter(|p| p.topic == g.topic) {
            let mut n = 0u64;
            if let Some(send) = &p.send
                && send.start_ms < joins_at
            {
                n += if send.every_ms == 0 {
                    send.count
                } else {
                    send.count
                        .min((joins_at - send.start_ms).div_ceil(send.every_ms))
                };
            }
            n += p.messages.iter().filter(|m| m.at_ms < joins_at).count() as u64;
            if n > 0 {
                senders.push(p.name.as_str());
                before += n;
            }
        }
        if before == 0 {
            continue;
        }
        out.push(LatestStart {
            group: g.name.clone(),
            joins_at_ms: joins_at,
            delay_ms: sc.cluster.group_initial_rebalance_delay_ms,
            senders: senders.join(", "),
            records: before,
        });
    }
    out
}
