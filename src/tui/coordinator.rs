//! Where a group's or a transactional id's coordinator lives, and whether requests to it can
//! be answered: a group that sits idle while its JoinGroups go to a dead broker is explained on
//! screen. The host is the controller's view ([`crate::sim::Sim::coordinator_host`],
//! [`crate::sim::Sim::txn_host`]): in Kafka the leader of the key's partition of
//! `__consumer_offsets` / `__transaction_state`, which FindCoordinator returns. A crashed broker
//! stays the coordinator until the controller fences it (`broker.session.timeout.ms`), and until
//! then every request sent to it fails.

use ratatui::text::Span;

use super::theme;
use crate::sim::{BrokerId, Sim};

/// `coordinator broker-2` (or `coord b2` when `short`), then, when its host cannot answer,
/// why, in words.
pub fn spans(sim: &Sim, host: Option<BrokerId>, short: bool) -> Vec<Span<'static>> {
    let label = if short { " coord " } else { "  coordinator " };
    let Some(b) = host else {
        return vec![
            Span::styled(label, theme::LABEL),
            Span::styled(
                if short {
                    "none"
                } else {
                    "none: every broker is fenced"
                },
                theme::LOSS,
            ),
        ];
    };
    let name = sim.broker_name(b);
    let name = if short {
        format!("b{}", b.0 + 1)
    } else {
        name.to_string()
    };
    let node = &sim.nodes()[sim.node_of_broker(b).idx()];
    let mut v = vec![
        Span::styled(label, theme::LABEL),
        Span::styled(name, theme::BOLD),
    ];
    // Each phrase its own piece (a leading space), so a narrow panel wraps between them.
    let why: &[&str] = if !node.up {
        if short {
            &[" ✗down"]
        } else {
            &[
                " ✗ down:",
                " its requests fail",
                " until the controller fences it",
                " (broker.session.timeout.ms)",
                " and another broker takes over",
            ]
        }
    } else if node.paused_until.is_some() {
        if short {
            &[" ⏸paused"]
        } else {
            &[" ⏸ paused:", " its requests wait", " until it resumes"]
        }
    } else {
        &[]
    };
    let style = if node.up { theme::PAUSED } else { theme::DOWN };
    v.extend(why.iter().map(|&w| Span::styled(w, style)));
    v
}
