//! The glossary: every abbreviation, label and glyph the interactive view puts on screen, each
//! with one sentence and the name Kafka's documentation gives it (a config, a KIP, a protocol
//! field or a concept). One table, read by the help overlay's Glossary page (`?`, then `g`) and
//! by `brokerlab glossary`, so the two never disagree.

use std::fmt::Write as _;

/// Where an entry belongs: the sections of the glossary, in reading order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Replication,
    Producers,
    Groups,
    Outcome,
    Glyphs,
    Timeline,
    Queues,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Replication,
        Section::Producers,
        Section::Groups,
        Section::Outcome,
        Section::Glyphs,
        Section::Timeline,
        Section::Queues,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Replication => "Replication: partitions, replicas and logs",
            Section::Producers => "Producers and transactions",
            Section::Groups => "Consumer groups",
            Section::Outcome => "The outcome: verdicts and fates",
            Section::Glyphs => "Marks and glyphs",
            Section::Timeline => "The timeline strip under the header",
            Section::Queues => "Other queue systems: RabbitMQ, Amazon SQS, Redis",
        }
    }

    /// What an entry's `source` is: Kafka's name for it, or (the other systems) the
    /// documentation page it comes from.
    pub fn source_label(self) -> &'static str {
        match self {
            Section::Queues => "Source",
            _ => "Kafka",
        }
    }
}

/// One glossary entry.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The label as the screen shows it (`LEO`, `pos 12 com 12 lag 0`, `★`).
    pub term: &'static str,
    pub section: Section,
    /// One sentence: what it means here.
    pub meaning: &'static str,
    /// The name Kafka's documentation gives it (a config, a KIP, a protocol field or a
    /// concept), or for another queue system the documentation page it is taken from.
    pub source: &'static str,
    /// Other spellings of the same thing on screen (the compact layout's short forms), so a
    /// token found on screen can be looked up.
    pub also: &'static [&'static str],
}

const fn e(
    term: &'static str,
    section: Section,
    meaning: &'static str,
    source: &'static str,
    also: &'static [&'static str],
) -> Entry {
    Entry {
        term,
        section,
        meaning,
        source,
        also,
    }
}

use Section::*;

/// Every entry, by section.
pub const ENTRIES: &[Entry] = &[
    // ----- replication ------------------------------------------------------------------------
    e(
        "LEO",
        Replication,
        "Log end offset: the offset the next record appended to this replica's log will get (its record count).",
        "log end offset (LEO), Kafka replication design",
        &[],
    ),
    e(
        "HW",
        Replication,
        "High watermark: records below it are on every in-sync replica (committed) and visible to consumers; the ┃ in a log strip marks it.",
        "high watermark, Kafka replication design",
        &["┃"],
    ),
    e(
        "LSO",
        Replication,
        "Last stable offset: the first offset of the oldest transaction still open (or the HW); read_committed consumers read only below it.",
        "last stable offset (KIP-98), isolation.level=read_committed",
        &["open txn", "open txns"],
    ),
    e(
        "ISR",
        Replication,
        "In-sync replicas: the replicas caught up with the leader; acks=all waits for all of them and only they may be elected cleanly.",
        "in-sync replicas (ISR), replica.lag.time.max.ms, min.insync.replicas",
        &["min.insync", "ISR<min"],
    ),
    e(
        "¬ISR",
        Replication,
        "This replica is out of the ISR (written `not in ISR` on wide screens): it fell behind or was down.",
        "in-sync replicas (ISR), replica.lag.time.max.ms",
        &["not in ISR"],
    ),
    e(
        "ELR",
        Replication,
        "Eligible leader replicas: replicas that left the ISR but are known to hold every committed record, so they may still be elected cleanly; `last known ELR` is kept when none is left.",
        "eligible leader replicas (KIP-966)",
        &["last known ELR"],
    ),
    e(
        "epoch",
        Replication,
        "The partition's leader epoch: bumped at every leader election; a returning replica truncates to where its epochs diverge from the leader's.",
        "leader epoch (KIP-101, KIP-279)",
        &[],
    ),
    e(
        "leader",
        Replication,
        "The replica that takes writes and serves reads for the partition; `OFFLINE (no leader)` when no eligible replica is alive.",
        "partition leader, unclean.leader.election.enable",
        &["OFFLINE"],
    ),
    e(
        "⛔",
        Replication,
        "Writes are refused right now, with the reason in words: no leader, the leader is down, or the ISR is below min.insync.replicas.",
        "NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, min.insync.replicas",
        &[],
    ),
    e(
        "#7  c7",
        Replication,
        "A record in a log strip: `#7` is message 7 when there is one producer; with several, the producer's first letter and its number (`c7` is checkout's 7th, `s4` a sink's 4th).",
        "record (offset = its position in the strip)",
        &["#n", "c1", "s4"],
    ),
    e(
        "b1",
        Replication,
        "broker-1, shortened on narrow screens (ISR lists show broker numbers: [1,2,3]).",
        "broker.id / node.id",
        &[],
    ),
    e(
        "fenced",
        Replication,
        "The controller stopped counting this broker as alive (it missed heartbeats or is stopping): it leads nothing until it registers again.",
        "broker.session.timeout.ms, fenced broker (KIP-631)",
        &[],
    ),
    e(
        "stopping  stopped",
        Replication,
        "A controlled shutdown under way (leadership moved off first), or finished and not restarted yet.",
        "controlled.shutdown.enable, controlled shutdown",
        &["stopping", "stopped"],
    ),
    e(
        "controller",
        Replication,
        "The KRaft controller: it elects leaders, keeps the ISR and fences brokers that stop heartbeating.",
        "KRaft controller (KIP-500, KIP-631)",
        &["ctrl"],
    ),
    // ----- producers --------------------------------------------------------------------------
    e(
        "acks",
        Producers,
        "How many replicas must have a record before the producer is told it is written: 0 (none, no response), 1 (the leader), all (the whole ISR).",
        "acks",
        &[],
    ),
    e(
        "in-flight",
        Producers,
        "Produce requests sent and not yet answered (at most max.in.flight per connection).",
        "max.in.flight.requests.per.connection",
        &["max.in.flight"],
    ),
    e(
        "retrying",
        Producers,
        "Batches waiting out retry.backoff.ms before they are sent again after an error.",
        "retries, retry.backoff.ms, delivery.timeout.ms",
        &["retries so far"],
    ),
    e(
        "last error",
        Producers,
        "The latest error a produce request returned (red for 3 s, then grey); `✗NAME` on the compact line.",
        "Kafka protocol error codes",
        &[],
    ),
    e(
        "send→ack",
        Producers,
        "How long the latest acknowledged record took from send() to its acknowledgement, and the slowest so far.",
        "request-latency-avg, record-send latency",
        &[],
    ),
    e(
        "txn epoch",
        Producers,
        "A transactional producer's epoch and where its transaction stands (Ready, InTransaction, Committing, Aborting, fenced…) with its open records.",
        "transactional.id, producer epoch (KIP-98, KIP-890)",
        &["txn"],
    ),
    e(
        "coordinator",
        Producers,
        "The broker that coordinates a transactional id or a group (`coord b2` on narrow screens); `✗ down` when it is dead but not fenced yet, so requests sent to it fail until the controller moves it.",
        "FindCoordinator, __transaction_state / __consumer_offsets partition leader",
        &["coord"],
    ),
    e(
        "C  A",
        Producers,
        "Transaction markers in a log strip: C commits, A aborts the transaction's records before it.",
        "control records (transaction markers, KIP-98)",
        &["C", "A"],
    ),
    e(
        "#7~  #7✓  #7⊘",
        Producers,
        "A transactional record: ~ its transaction is still open, ✓ committed (a commit marker follows), ⊘ aborted (read_committed consumers skip it).",
        "transactional records, isolation.level",
        &["~", "⊘"],
    ),
    // ----- groups -----------------------------------------------------------------------------
    e(
        "generation",
        Groups,
        "The group's generation: bumped at every rebalance of the classic protocol; commits from an older generation are refused.",
        "generation id (JoinGroup, ILLEGAL_GENERATION)",
        &["gen"],
    ),
    e(
        "group epoch",
        Groups,
        "KIP-848's consumer protocol: the group's epoch, bumped when its members or subscriptions change.",
        "group epoch (KIP-848)",
        &[],
    ),
    e(
        "member epoch",
        Groups,
        "KIP-848: the epoch a member has reached; it catches up with the group epoch once it owns its target assignment (`e3` on narrow screens).",
        "member epoch (KIP-848)",
        &["e3"],
    ),
    e(
        "Stable  Rebalancing  Empty",
        Groups,
        "The group's state: members consuming (Stable), a rebalance under way (Rebalancing: members rejoin and the coordinator hands out partitions), or no members (Empty).",
        "group state (Stable, PreparingRebalance, CompletingRebalance, Empty)",
        &["Stable", "Rebalancing", "Empty"],
    ),
    e(
        "position",
        Groups,
        "The offset of the next record this consumer will fetch from the partition (`pos` on narrow screens).",
        "consumer position (KafkaConsumer#position)",
        &["pos"],
    ),
    e(
        "committed",
        Groups,
        "The offset the group committed for the partition: where a new owner starts after a rebalance or crash (`com` on narrow screens).",
        "committed offset (OffsetCommit, enable.auto.commit)",
        &["com"],
    ),
    e(
        "lag",
        Groups,
        "Records the consumer has not fetched yet: the HW it last saw minus its position; `committed lag` plots the records above the committed offsets over time.",
        "consumer lag (records-lag)",
        &["committed lag"],
    ),
    e(
        "pos 12 com 12 lag 0",
        Groups,
        "One partition of a member on a narrow screen: position 12, committed offset 12, nothing left to read.",
        "position, committed offset, consumer lag",
        &[],
    ),
    e(
        "gen 0 Rebalancing",
        Groups,
        "A group line on a narrow screen: generation 0, a rebalance under way.",
        "generation id, group state",
        &[],
    ),
    e(
        "… pending",
        Groups,
        "A partition assigned to this member that it does not consume yet (its previous owner has not released it).",
        "incremental cooperative rebalancing (KIP-429), KIP-848 target assignment",
        &["…"],
    ),
    e(
        "⇠ revoking",
        Groups,
        "A partition this member is giving up in a cooperative rebalance.",
        "onPartitionsRevoked (KIP-429, KIP-848)",
        &["⇠"],
    ),
    e(
        "▶ consuming",
        Groups,
        "A partition the member keeps reading while it rejoins (cooperative protocols do not stop the world).",
        "cooperative-sticky assignor (KIP-429)",
        &[],
    ),
    e(
        "withheld",
        Groups,
        "Partitions a cooperative generation assigns to nobody until their owner revokes them.",
        "CooperativeStickyAssignor (KIP-429)",
        &[],
    ),
    e(
        "commit",
        Groups,
        "How the group commits offsets: auto (enable.auto.commit), after-process, before-process, or in a transaction.",
        "enable.auto.commit, commitSync",
        &[],
    ),
    e(
        "dedup sink",
        Groups,
        "The application drops a record it has already applied (an idempotent sink), so redeliveries do no harm.",
        "idempotent consumer (application pattern)",
        &[],
    ),
    e(
        "Active  Joining  Syncing  Crashed  Left  Idle",
        Groups,
        "A consumer's state: fetching, rejoining its group (JoinGroup, SyncGroup), dead, left the group, or a member with nothing assigned.",
        "consumer group protocol (JoinGroup, SyncGroup, LeaveGroup)",
        &[
            "Active",
            "Joining",
            "Syncing",
            "Crashed",
            "Left",
            "Idle",
            "FetchingOffsets",
        ],
    ),
    // ----- outcome ----------------------------------------------------------------------------
    e(
        "exactly-once",
        Outcome,
        "The verdict when no message was lost and none was applied twice (a send the producer knows failed, or an aborted one, is not a loss).",
        "exactly-once semantics (KIP-98, processing.guarantee=exactly_once_v2)",
        &["ExactlyOnce"],
    ),
    e(
        "at-least-once",
        Outcome,
        "The verdict when nothing was lost but something was applied more than once.",
        "at-least-once delivery",
        &[],
    ),
    e(
        "at-most-once",
        Outcome,
        "The verdict when nothing was applied twice but something was lost.",
        "at-most-once delivery",
        &[],
    ),
    e(
        "none",
        Outcome,
        "The verdict when messages were both lost and duplicated: no delivery guarantee held.",
        "message delivery semantics",
        &[],
    ),
    e(
        "applied",
        Outcome,
        "Fate: the group applied the message exactly once.",
        "message delivery semantics",
        &[],
    ),
    e(
        "duplicated",
        Outcome,
        "Fate: the group applied it more than once (`dup`).",
        "at-least-once delivery",
        &["dup"],
    ),
    e(
        "lost",
        Outcome,
        "Fate: the group will never apply it, for one of three reasons: truncated, never_written or skipped.",
        "message delivery semantics",
        &[],
    ),
    e(
        "truncated",
        Outcome,
        "Lost: written, then removed from the log when a replica truncated to a new leader's epoch.",
        "log truncation (KIP-101, KIP-279)",
        &[],
    ),
    e(
        "never_written",
        Outcome,
        "Lost: the producer believed it sent it (acks=0, or acked then gone) and it reached no log.",
        "acks=0",
        &["never written"],
    ),
    e(
        "skipped",
        Outcome,
        "Lost: in the log, but the group's committed position moved past it before it was applied.",
        "enable.auto.commit, auto.offset.reset",
        &[],
    ),
    e(
        "acked-lost",
        Outcome,
        "Messages the producer was told are written (acknowledged) that the group never applied.",
        "acks, unclean.leader.election.enable",
        &[],
    ),
    e(
        "unseen",
        Outcome,
        "Fate: in the log, ahead of the group's position: a longer run could still apply it.",
        "consumer lag",
        &[],
    ),
    e(
        "failed",
        Outcome,
        "Fate: the producer was told the send failed, and it is in no log (the application knows).",
        "delivery.timeout.ms, retries",
        &[],
    ),
    e(
        "aborted",
        Outcome,
        "Fate: its transaction aborted, so a read_committed group never applies it.",
        "abortTransaction (KIP-98)",
        &[],
    ),
    e(
        "dead-lettered",
        Outcome,
        "Fate: the consumer gave up on it and wrote it to a dead-letter topic (`dead`).",
        "dead letter queue (errors.deadletterqueue.topic.name)",
        &["dead", "dead_lettered"],
    ),
    e(
        "pending",
        Outcome,
        "Fate while the run is going: not in a log yet and not failed (in flight); none are left once the run has drained.",
        "linger.ms, request in flight",
        &[],
    ),
    e(
        "redelivered",
        Outcome,
        "Records a consumer fetched again after a rebalance or restart (from the committed offset); harmless unless applied twice.",
        "committed offset, at-least-once delivery",
        &[],
    ),
    e(
        "reordered",
        Outcome,
        "A record applied after one with the same key that was sent after it.",
        "max.in.flight.requests.per.connection, enable.idempotence",
        &[],
    ),
    e(
        "at risk",
        Outcome,
        "Acknowledged records above some replica's HW: an election now could lose them.",
        "acks=1, high watermark",
        &[],
    ),
    e(
        "aborted-read",
        Outcome,
        "Records of an aborted transaction that a read_uncommitted group applied anyway.",
        "isolation.level=read_uncommitted",
        &[],
    ),
    // ----- glyphs -----------------------------------------------------------------------------
    e(
        "● ✗ ⏸",
        Glyphs,
        "A node is up (●), down (✗ down) or paused (⏸ paused, a GC pause): the word is beside the glyph.",
        "broker liveness",
        &["●", "✗", "⏸", "down", "paused", "crashed"],
    ),
    e(
        "★ · ?",
        Glyphs,
        "A replica's role: ★ leader, · follower, ? knows no leader yet (just restarted, or the partition is offline).",
        "partition leader and followers",
        &["★", "·", "?"],
    ),
    e(
        "▕ …",
        Glyphs,
        "The start of a log strip: ▕ offset 0 is on screen, … older records are left of the window.",
        "log start offset",
        &["▕"],
    ),
    e(
        "✂",
        Glyphs,
        "Where a truncation cut this replica's log: the struck-out cells after it are the records it removed (flagged for 5 s).",
        "log truncation (KIP-101, KIP-279)",
        &[],
    ),
    e(
        "▸",
        Glyphs,
        "The selected partition (Tab or ↑↓ moves it), or the selected line of a menu.",
        "(BrokerLab)",
        &[],
    ),
    e(
        "▁▂▃▄▅▆▇█",
        Glyphs,
        "A sparkline: the highest value in each slice of time, from the start of the run to now.",
        "(BrokerLab)",
        &["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"],
    ),
    e(
        "✓",
        Glyphs,
        "Succeeded: a record acknowledged, a transaction committed, an expectation that holds.",
        "(BrokerLab)",
        &[],
    ),
    e(
        "⚠",
        Glyphs,
        "An anomaly the checker found: a duplicate, a reordering, or an acknowledged write at risk or lost.",
        "(BrokerLab checker)",
        &[],
    ),
    e(
        "»",
        Glyphs,
        "A line of the scenario's narration (its [[notes]]).",
        "(BrokerLab scenario notes)",
        &[],
    ),
    e(
        "💥 ⚡ ⏹",
        Glyphs,
        "In the event log: a process crashes, a scripted or live fault fires, a broker shuts down cleanly.",
        "(BrokerLab faults)",
        &["💥", "⚡", "⏹"],
    ),
    e(
        "●──▶  ◀──●",
        Glyphs,
        "In the sequence diagram: a message from the ● sender to the arrowhead; it bends down the rows while in flight (└─▶) and ends in ✗ when dropped.",
        "Kafka protocol requests and responses",
        &["▶", "◀", "╮", "╰", "╭", "╯"],
    ),
    e(
        "╳ connection reset",
        Glyphs,
        "In the sequence diagram: the network, not the dead process, tells a client its connection broke (the process on the other end died); drawn dashed from a ╳.",
        "NETWORK_EXCEPTION (NetworkException)",
        &["╳", "┄"],
    ),
    e(
        "▶ ⏸ ■",
        Glyphs,
        "In the header: playing, paused, or the run has finished.",
        "(BrokerLab)",
        &["■", "playing", "finished"],
    ),
    // ----- timeline ---------------------------------------------------------------------------
    e(
        "E",
        Timeline,
        "A leader election (or a partition going offline).",
        "leader election",
        &[],
    ),
    e(
        "X",
        Timeline,
        "A crash, a pause or a fault that fired (scripted or injected live).",
        "broker failure",
        &[],
    ),
    e(
        "L",
        Timeline,
        "A loss: a log truncated, or an acknowledged write lost or at risk.",
        "log truncation",
        &[],
    ),
    e(
        "R",
        Timeline,
        "A rebalance of a consumer group (or a member joining, leaving or being removed).",
        "consumer group rebalance",
        &[],
    ),
    e(
        "I",
        Timeline,
        "The ISR shrank or grew.",
        "in-sync replicas (ISR)",
        &[],
    ),
    e(
        "!",
        Timeline,
        "Another anomaly: a duplicate or a reordering.",
        "(BrokerLab checker)",
        &[],
    ),
    e(
        "n",
        Timeline,
        "A scenario note.",
        "(BrokerLab scenario notes)",
        &[],
    ),
    e(
        "▼",
        Timeline,
        "Now: the current simulated time; the strip runs from 0 to stop_at_ms, dimmed ahead of now, where scripted faults show as x.",
        "(BrokerLab)",
        &["x", "now"],
    ),
    // ----- other queue systems ---------------------------------------------------------------
    e(
        "◐ ○ ✓ ☠",
        Queues,
        "A message's state on its queue: ◐ delivered and not yet acknowledged (held by a consumer), ○ ready to be delivered, ✓ acknowledged, ☠ dead-lettered (or archived at a share group's delivery limit).",
        "KIP-932 record states; RabbitMQ, SQS and Redis queues (BrokerLab shows them alike)",
        &["◐", "○", "✓", "☠"],
    ),
    e(
        "ready",
        Queues,
        "Messages in the queue waiting for a consumer: the queue depth (SQS calls them visible, a Redis list holds them in the list, a stream's are new entries).",
        "https://www.rabbitmq.com/docs/queues (ready and unacknowledged messages)",
        &["visible", "in list", "new"],
    ),
    e(
        "unacked",
        Queues,
        "RabbitMQ: delivered to a consumer and not acknowledged yet; if the consumer's channel closes they are requeued and delivered again.",
        "https://www.rabbitmq.com/docs/confirms (consumer acknowledgements)",
        &[],
    ),
    e(
        "auto-ack  manual ack",
        Queues,
        "With automatic acknowledgement RabbitMQ forgets a message as soon as it sends it, so a consumer crash loses it; with manual acknowledgement the consumer acks after processing and a crash requeues it.",
        "https://www.rabbitmq.com/docs/confirms (acknowledgement modes)",
        &["auto-ack", "manual ack"],
    ),
    e(
        "prefetch",
        Queues,
        "basic.qos: the most unacknowledged messages RabbitMQ sends one consumer; unlimited by default, so one consumer can take everything.",
        "https://www.rabbitmq.com/docs/consumer-prefetch",
        &["basic.qos", "prefetch unlimited"],
    ),
    e(
        "nack requeues",
        Queues,
        "A consumer that cannot process a message rejects it (basic.nack); with requeue it goes back to the queue, without it is dead-lettered or dropped.",
        "https://www.rabbitmq.com/docs/confirms (negative acknowledgements)",
        &["nack drops", "requeue"],
    ),
    e(
        "redelivered flag",
        Queues,
        "RabbitMQ sets the redelivered flag on a message it delivers again (after a requeue or a closed channel), so the consumer can tell it may have been processed before.",
        "https://www.rabbitmq.com/docs/confirms (automatic requeueing, redeliver flag)",
        &[],
    ),
    e(
        "publisher confirms",
        Queues,
        "RabbitMQ acknowledges a published message to its publisher once the queue has it (a quorum queue: once a majority of its members has it); without confirms publishing is fire and forget.",
        "https://www.rabbitmq.com/docs/confirms (publisher confirms)",
        &["confirms"],
    ),
    e(
        "quorum queue",
        Queues,
        "A replicated RabbitMQ queue run by Raft: a leader and members, a message is committed once a majority has it, and a new leader is elected when the leader fails (term counts the elections).",
        "https://www.rabbitmq.com/docs/quorum-queues",
        &["term", "members", "commit index", "commit", "last"],
    ),
    e(
        "classic queue",
        Queues,
        "A RabbitMQ queue on one node, not replicated: if the node is down, so is the queue.",
        "https://www.rabbitmq.com/docs/classic-queues",
        &[],
    ),
    e(
        "delivery limit",
        Queues,
        "Quorum queues count each message's deliveries; past delivery-limit (20 by default since RabbitMQ 4.0) the message is dead-lettered, or dropped without a dead-letter exchange.",
        "https://www.rabbitmq.com/docs/quorum-queues (poison message handling)",
        &["dropped at the limit"],
    ),
    e(
        "dead-letter queue",
        Queues,
        "Where a queue moves messages that keep failing: RabbitMQ's dead-letter exchange routes them to another queue, SQS's redrive policy moves them to a dead-letter queue.",
        "https://www.rabbitmq.com/docs/dlx; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html",
        &[
            "dead-letter exchange",
            "DLQ",
            "DLX",
            "dead-lettered",
            "redriven to DLQ",
        ],
    ),
    e(
        "visibility timeout",
        Queues,
        "SQS hides a received message from other consumers for this long; if it is not deleted in time it becomes visible and is received again, possibly while the first consumer still works on it.",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
        &["invisible", "visible in", "visibility"],
    ),
    e(
        "receive count",
        Queues,
        "How many times SQS has delivered a message (ApproximateReceiveCount); once it exceeds the redrive policy's maxReceiveCount the message is moved to the dead-letter queue.",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html",
        &["maxReceiveCount", "redrive"],
    ),
    e(
        "message group",
        Queues,
        "In an SQS FIFO queue, messages with the same message group id (here the key) are delivered in order, and none of a group is delivered while one of it is in flight.",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html",
        &["FIFO", "SQS FIFO"],
    ),
    e(
        "deduplication id",
        Queues,
        "An SQS FIFO queue accepts a message with a deduplication id it saw in the last 5 minutes but does not deliver it again (here the message id).",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-exactly-once-processing.html",
        &[],
    ),
    e(
        "BRPOP",
        Queues,
        "Redis's blocking pop: the message leaves the list as the consumer receives it, so a consumer that dies before processing it loses it (`holds` shows what it popped).",
        "https://redis.io/docs/latest/commands/brpop/",
        &["LPUSH", "popped", "holds", "gone from Redis"],
    ),
    e(
        "LMOVE reliable queue",
        Queues,
        "The consumer moves a message from the list into its processing list and removes it (LREM) after processing; a reaper puts back what stays there too long.",
        "https://redis.io/docs/latest/commands/lmove/ (pattern: reliable queue)",
        &[
            "LMOVE",
            "LREM",
            "processing list",
            "reaper in",
            "reaper after",
        ],
    ),
    e(
        "PEL",
        Queues,
        "A Redis stream consumer group's pending entries list: entries delivered to a consumer and not yet acknowledged with XACK, with how often each was delivered.",
        "https://redis.io/docs/latest/develop/data-types/streams/ (consumer groups, pending entries)",
        &["pending (PEL)", "pending", "XACK", "XREADGROUP"],
    ),
    e(
        "XAUTOCLAIM",
        Queues,
        "Takes over pending entries idle for at least min-idle-time from a consumer that stopped, so another consumer delivers them again (`claimable in` counts down).",
        "https://redis.io/docs/latest/commands/xautoclaim/",
        &["claimable in", "min-idle-time"],
    ),
    e(
        "WAIT",
        Queues,
        "Redis replicates asynchronously; WAIT blocks until that many replicas have the write (here acks = \"all\"), otherwise a failover can lose an acknowledged write.",
        "https://redis.io/docs/latest/commands/wait/",
        &[
            "replication offset",
            "on replicas",
            "offset",
            "primary",
            "replicas",
        ],
    ),
    e(
        "Sentinel failover",
        Queues,
        "Redis Sentinel notices a primary that stopped answering and promotes a replica (the most up to date it can reach); writes the old primary had not replicated are lost.",
        "https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",
        &["Sentinel", "config epoch"],
    ),
];

/// The entry explaining an on-screen token: its term or one of its other spellings.
pub fn lookup(token: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| {
        e.term == token || e.also.contains(&token) || e.term.split("  ").any(|t| t == token)
    })
}

/// The glossary as plain text (`brokerlab glossary`): a section per heading, each entry as its
/// term, its meaning, and Kafka's name for it.
pub fn text() -> String {
    let mut out = String::from(
        "BrokerLab glossary: every label and glyph on screen, with Kafka's name for it (the other\nqueue systems: the page of their documentation it comes from).\n",
    );
    for section in Section::ALL {
        let _ = writeln!(out, "\n{}", section.title());
        for e in ENTRIES.iter().filter(|e| e.section == section) {
            let _ = writeln!(out, "  {}", e.term);
            for row in wrap(e.meaning, 74) {
                let _ = writeln!(out, "      {row}");
            }
            let _ = writeln!(out, "      {}: {}", section.source_label(), e.source);
        }
    }
    out
}

/// Greedy word wrap (the glossary's sentences are plain words).
fn wrap(s: &str, max: usize) -> Vec<String> {
    let mut rows = vec![String::new()];
    for word in s.split(' ') {
        let row = rows.last_mut().expect("one row");
        if !row.is_empty() && row.chars().count() + 1 + word.chars().count() > max {
            rows.push(word.to_string());
        } else {
            if !row.is_empty() {
                row.push(' ');
            }
            row.push_str(word);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_unique_and_every_entry_says_something() {
        for (i, a) in ENTRIES.iter().enumerate() {
            assert!(a.meaning.ends_with('.'), "{}: one full sentence", a.term);
            assert!(!a.source.is_empty(), "{}: Kafka's name or a source", a.term);
            for b in &ENTRIES[i + 1..] {
                assert_ne!(a.term, b.term, "two entries for one term");
            }
        }
    }

    #[test]
    fn lookup_finds_terms_their_short_forms_and_their_parts() {
        assert_eq!(lookup("LEO").unwrap().term, "LEO");
        assert_eq!(lookup("pos").unwrap().term, "position");
        assert_eq!(lookup("Rebalancing").unwrap().section, Section::Groups);
        assert_eq!(lookup("★").unwrap().term, "★ · ?");
        assert!(lookup("nonsense").is_none());
    }
}
