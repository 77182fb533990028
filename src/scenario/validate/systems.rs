//! Validation of `[cluster] system` and the settings that belong to one queue system: a field
//! that does not apply to the scenario's system is refused where it is set, in that system's
//! words, and the queue systems' settings are held to the ranges their documentation gives.

use super::super::doc::{Seg, fp};
use super::super::model::{AckMode, FaultAction, Group, GroupType, RedisMode, System};
use super::{MAX_DURATION_MS, Validator};

/// The reference section every error of this file points at.
const ANCHOR: &str = "queue-systems";

/// A consuming field of one or more queue systems.
struct QueueField {
    field: &'static str,
    /// Whether it applies to the system (and Redis mode).
    applies: fn(System, RedisMode) -> bool,
    /// Where it applies, as a reader would set it.
    only: &'static str,
    /// What it is.
    what: &'static str,
}

/// Every queue system's consuming field on `[[groups]]`.
const QUEUE_FIELDS: [QueueField; 9] = [
    QueueField {
        field: "ack",
        applies: |s, _| s == System::Rabbitmq,
        only: "`system = \"rabbitmq\"`",
        what: "RabbitMQ's acknowledgement mode (`no_ack` of `basic.consume`)",
    },
    QueueField {
        field: "prefetch",
        applies: |s, _| s == System::Rabbitmq,
        only: "`system = \"rabbitmq\"`",
        what: "RabbitMQ's `basic.qos` prefetch count",
    },
    QueueField {
        field: "requeue",
        applies: |s, _| s == System::Rabbitmq,
        only: "`system = \"rabbitmq\"`",
        what: "whether a RabbitMQ consumer's `basic.nack` puts a failed message back in the queue",
    },
    QueueField {
        field: "delivery_limit",
        applies: |s, _| s == System::Rabbitmq,
        only: "`system = \"rabbitmq\"` on a quorum queue (`replication_factor` above 1)",
        what: "a RabbitMQ quorum queue's `x-delivery-limit`",
    },
    QueueField {
        field: "batch_size",
        applies: |s, m| s == System::Sqs || (s == System::Redis && m == RedisMode::Stream),
        only: "`system = \"sqs\"`, or `system = \"redis\"` with `mode = \"stream\"`",
        what: "messages per read: SQS `MaxNumberOfMessages`, the `COUNT` of Redis `XREADGROUP`",
    },
    QueueField {
        field: "max_receive_count",
        applies: |s, _| s == System::Sqs,
        only: "`system = \"sqs\"`",
        what: "the `maxReceiveCount` of an SQS redrive policy",
    },
    QueueField {
        field: "visibility_timeout_ms",
        applies: |s, m| s == System::Sqs || (s == System::Redis && m == RedisMode::ReliableList),
        only: "`system = \"sqs\"`, or `system = \"redis\"` with `mode = \"reliable-list\"`",
        what: "how long a received message stays invisible: SQS `VisibilityTimeout`, a Redis reliable list's reaper timeout",
    },
    QueueField {
        field: "min_idle_ms",
        applies: |s, m| s == System::Redis && m == RedisMode::Stream,
        only: "`system = \"redis\"` with `mode = \"stream\"`",
        what: "the `min-idle-time` of Redis `XAUTOCLAIM`",
    },
    QueueField {
        field: "max_deliveries",
        applies: |s, m| s == System::Redis && m == RedisMode::Stream,
        only: "`system = \"redis\"` with `mode = \"stream\"`",
        what: "how many deliveries of a Redis stream entry the application allows before it dead-letters it",
    },
];

/// Kafka consumer-group fields a queue's consumers have no use for, with why. `{queue}` is the
/// system's name, `{settle}` how its consumers settle a message.
const KAFKA_GROUP_FIELDS: [(&str, &str); 15] = [
    (
        "assignor",
        "{queue} has no group coordinator: every consumer competes for the queue's messages",
    ),
    (
        "group_protocol",
        "{queue} has no group coordinator: every consumer competes for the queue's messages",
    ),
    (
        "group_remote_assignor",
        "{queue} has no group coordinator: every consumer competes for the queue's messages",
    ),
    (
        "static_membership",
        "{queue} has no group membership to keep across restarts",
    ),
    (
        "session_timeout_ms",
        "{queue} has no group coordinator and so no session",
    ),
    (
        "heartbeat_interval_ms",
        "{queue} has no group coordinator to send heartbeats to",
    ),
    (
        "max_poll_interval_ms",
        "{queue} has no group to leave when processing is slow",
    ),
    ("commit", "{queue} keeps no offsets: a consumer {settle}"),
    (
        "auto_commit_interval_ms",
        "{queue} keeps no offsets: a consumer {settle}",
    ),
    (
        "auto_offset_reset",
        "{queue} hands out the messages it holds; there is no offset to reset",
    ),
    (
        "isolation_level",
        "{queue} has no transactions, so nothing to read committed",
    ),
    (
        "output_topic",
        "read-process-write needs Kafka's transactions and offsets",
    ),
    (
        "max_attempts",
        "a failed message goes back to the queue, which redelivers it; {queue}'s limit on that is its own field",
    ),
    (
        "max_poll_records",
        "a Kafka fetch setting; {queue}'s consumers read as its own fields say",
    ),
    (
        "fetch_max_wait_ms",
        "a Kafka fetch setting; {queue}'s consumers read as its own fields say",
    ),
];

/// KIP-932 share-group fields: Kafka only.
const SHARE_FIELDS: [&str; 3] = [
    "record_lock_duration_ms",
    "delivery_count_limit",
    "partition_max_record_locks",
];

/// Kafka producer fields a queue's producers have no use for, with why.
const KAFKA_PRODUCER_FIELDS: [(&str, &str); 7] = [
    (
        "transactional_id",
        "{queue} has no Kafka transactions or producer epochs",
    ),
    (
        "transaction_size",
        "{queue} has no Kafka transactions or producer epochs",
    ),
    (
        "transaction_timeout_ms",
        "{queue} has no Kafka transactions or producer epochs",
    ),
    (
        "enable_idempotence",
        "{queue} has no producer ids or sequence numbers to deduplicate retries",
    ),
    (
        "partitioner",
        "a queue has one partition: nothing to choose",
    ),
    (
        "partitioner_adaptive_partitioning_enable",
        "a queue has one partition: nothing to choose",
    ),
    (
        "partitioner_availability_timeout_ms",
        "a queue has one partition: nothing to choose",
    ),
];

/// The system, in the words of its docs.
fn queue_name(system: System, mode: RedisMode) -> &'static str {
    match (system, mode) {
        (System::Kafka, _) => "Kafka",
        (System::Rabbitmq, _) => "RabbitMQ",
        (System::Sqs, _) => "SQS",
        (System::Redis, RedisMode::List) => "a Redis list",
        (System::Redis, RedisMode::ReliableList) => "a Redis reliable list",
        (System::Redis, RedisMode::Stream) => "a Redis stream",
    }
}

/// How a consumer of the system settles a message it processed.
fn settle(system: System, mode: RedisMode) -> &'static str {
    match (system, mode) {
        (System::Kafka, _) => "commits offsets",
        (System::Rabbitmq, _) => "acknowledges each message (`basic.ack`)",
        (System::Sqs, _) => "deletes each message it processed (`DeleteMessage`)",
        (System::Redis, RedisMode::List) => "takes each message off the list (`BRPOP`)",
        (System::Redis, RedisMode::ReliableList) => {
            "removes each message it processed from its processing list (`LREM`)"
        }
        (System::Redis, RedisMode::Stream) => "acknowledges each entry (`XACK`)",
    }
}

fn words(why: &str, system: System, mode: RedisMode) -> String {
    why.replace("{queue}", queue_name(system, mode))
        .replace("{settle}", settle(system, mode))
}

impl Validator<'_, '_> {
    /// The fields that belong to another system than the scenario's, and the ranges of the
    /// queue systems' own fields.
    pub(super) fn systems(&mut self) {
        let system = self.sc.cluster.system;
        let mode = self.sc.cluster.mode.unwrap_or_default();
        if system != System::Redis && self.doc.has(fp!["cluster", "mode"]) {
            self.err_key(
                fp!["cluster", "mode"],
                format!(
                    "`mode` does not apply to `system = \"{}\"`",
                    system.name()
                ),
            )
            .expected("`mode` only with `system = \"redis\"`")
            .help("`mode` says how the application uses Redis as a queue: a list, a reliable list or a stream")
            .reference(ANCHOR);
        }
        self.system_topics(system);
        self.system_producers(system, mode);
        self.system_groups(system, mode);
        self.system_faults(system, mode);
    }

    /// A Kafka field written on a queue system's table: refused at its key, with why.
    fn kafka_only(&mut self, path: &[Seg<'_>], system: System, why: String) {
        if !self.doc.has(path) {
            return;
        }
        let field = match path.last() {
            Some(Seg::Key(k)) => *k,
            _ => "field",
        };
        self.err_key(
            path,
            format!(
                "`{field}` does not apply to `system = \"{}\"`",
                system.name()
            ),
        )
        .expected(format!("`{field}` only with `system = \"kafka\"`"))
        .help(why)
        .reference(ANCHOR);
    }

    /// The gate until the queue systems' processes land: every problem above is reported
    /// first, so an invalid file of another system says what is wrong with it.
    fn system_topics(&mut self, system: System) {
        for (i, t) in self.sc.topics.iter().enumerate() {
            if t.fifo && system != System::Sqs {
                self.err_key(
                    fp!["topics", i, "fifo"],
                    format!("`fifo` does not apply to `system = \"{}\"`", system.name()),
                )
                .expected("`fifo` only with `system = \"sqs\"`")
                .help("`fifo = true` is an SQS FIFO queue (the queue attribute `FifoQueue`)")
                .reference(ANCHOR);
            }
            if system == System::Kafka {
                continue;
            }
            if t.partitions != 1 {
                self.err(
                    fp!["topics", i, "partitions"],
                    format!(
                        "`partitions = {}`: with `system = \"{}\"` a topic is one queue, with one partition",
                        t.partitions,
                        system.name()
                    ),
                )
                .expected("`partitions = 1`, or no `partitions`")
                .help("each `[[topics]]` entry is one queue (a RabbitMQ queue, an SQS queue, a Redis key); declare more topics for more queues")
                .reference(ANCHOR);
            }
            let why = match system {
                System::Rabbitmq => {
                    "a quorum queue confirms a message once a majority of its members have it"
                }
                System::Sqs => "SQS stores each message redundantly before SendMessage returns",
                _ => {
                    "a Redis primary replicates asynchronously; `acks = \"all\"` waits for every replica (WAIT)"
                }
            };
            self.kafka_only(
                fp!["topics", i, "min_insync_replicas"],
                system,
                why.to_string(),
            );
        }
    }

    fn system_producers(&mut self, system: System, mode: RedisMode) {
        for i in 0..self.sc.producers.len() {
            if system != System::Rabbitmq && self.doc.has(fp!["producers", i, "confirms"]) {
                self.err_key(
                    fp!["producers", i, "confirms"],
                    format!("`confirms` does not apply to `system = \"{}\"`", system.name()),
                )
                .expected("`confirms` only with `system = \"rabbitmq\"`")
                .help(if system == System::Sqs {
                    "`confirms` is RabbitMQ's publisher confirms; SendMessage always returns once SQS has stored the message"
                } else {
                    "`confirms` is RabbitMQ's publisher confirms; this system's producers wait as `acks` says"
                })
                .reference(ANCHOR);
            }
            if system == System::Kafka {
                continue;
            }
            if matches!(system, System::Rabbitmq | System::Sqs)
                && self.doc.has(fp!["producers", i, "acks"])
            {
                self.err_key(
                    fp!["producers", i, "acks"],
                    format!("`acks` does not apply to `system = \"{}\"`", system.name()),
                )
                .expected(if system == System::Rabbitmq {
                    "`confirms = true` (publisher confirms) or `false` (fire and forget)"
                } else {
                    "no `acks`: SendMessage returns once the message is stored redundantly"
                })
                .help("`acks` is how many replicas a Kafka or Redis write waits for")
                .reference(ANCHOR);
            }
            for (field, why) in KAFKA_PRODUCER_FIELDS {
                self.kafka_only(fp!["producers", i, field], system, words(why, system, mode));
            }
        }
    }

    fn system_groups(&mut self, system: System, mode: RedisMode) {
        for (i, g) in self.sc.groups.iter().enumerate() {
            for q in &QUEUE_FIELDS {
                if self.doc.has(fp!["groups", i, q.field]) && !(q.applies)(system, mode) {
                    let on = if system == System::Redis {
                        format!("`system = \"redis\"` with `mode = \"{}\"`", mode_name(mode))
                    } else {
                        format!("`system = \"{}\"`", system.name())
                    };
                    self.err_key(
                        fp!["groups", i, q.field],
                        format!("`{}` does not apply to {on}", q.field),
                    )
                    .expected(format!("`{}` only with {}", q.field, q.only))
                    .help(format!("`{}` is {}", q.field, q.what))
                    .reference(ANCHOR);
                }
            }
            if system == System::Kafka {
                continue;
            }
            let queue = queue_name(system, mode);
            if g.group_type == GroupType::Share && self.doc.has(fp!["groups", i, "type"]) {
                self.err(
                    fp!["groups", i, "type"],
                    format!("`type = \"share\"` does not apply to `system = \"{}\"`", system.name()),
                )
                .expected("no `type`: the consumers of a queue compete for its messages")
                .help(format!("share groups are Kafka's queues (KIP-932); the consumers of {queue} already share its messages"))
                .reference(ANCHOR);
            }
            for field in SHARE_FIELDS {
                if self.doc.has(fp!["groups", i, field]) {
                    self.err_key(
                        fp!["groups", i, field],
                        format!("`{field}` does not apply to `system = \"{}\"`", system.name()),
                    )
                    .expected(format!(
                        "`{field}` only on a Kafka share group (`type = \"share\"`)"
                    ))
                    .help(format!(
                        "a KIP-932 share-group setting; {queue} has its own fields (docs/scenarios.md#queue-systems)"
                    ))
                    .reference(ANCHOR);
                }
            }
            for (field, why) in KAFKA_GROUP_FIELDS {
                self.kafka_only(fp!["groups", i, field], system, words(why, system, mode));
            }
            self.queue_ranges(i, g, system, mode);
            self.queue_dead_letter(i, g, system, mode);
        }
    }

    /// The queue systems' own fields, in the ranges their documentation gives.
    fn queue_ranges(&mut self, i: usize, g: &Group, system: System, mode: RedisMode) {
        // (field, value, lowest, highest, source)
        let mut bounded: Vec<(&str, Option<u64>, u64, u64, &str)> = Vec::new();
        match system {
            System::Rabbitmq => {
                // AMQP 0-9-1 `basic.qos`: prefetch-count is a short, 0 meaning no limit.
                bounded.push((
                    "prefetch",
                    g.prefetch.map(u64::from),
                    0,
                    65_535,
                    "AMQP 0-9-1 `basic.qos` prefetch-count, an unsigned short; 0 is no limit",
                ));
                // Quorum queues: `x-delivery-limit` is a positive count of deliveries.
                bounded.push((
                    "delivery_limit",
                    g.delivery_limit.map(u64::from),
                    1,
                    u64::from(u32::MAX),
                    "a quorum queue's `x-delivery-limit`: deliveries before the message is dead-lettered",
                ));
            }
            System::Sqs => {
                // ReceiveMessage: "MaxNumberOfMessages ... Valid values: 1 to 10";
                // "VisibilityTimeout ... Valid values: 0 to 43200" seconds (12 hours);
                // a redrive policy's maxReceiveCount is 1 to 1000.
                bounded.push((
                    "batch_size",
                    g.batch_size.map(u64::from),
                    1,
                    10,
                    "SQS ReceiveMessage `MaxNumberOfMessages`: 1 to 10",
                ));
                bounded.push((
                    "visibility_timeout_ms",
                    g.visibility_timeout_ms,
                    0,
                    43_200_000,
                    "SQS `VisibilityTimeout`: 0 to 43200 seconds (12 hours)",
                ));
                bounded.push((
                    "max_receive_count",
                    g.max_receive_count.map(u64::from),
                    1,
                    1_000,
                    "an SQS redrive policy's `maxReceiveCount`: 1 to 1000",
                ));
            }
            System::Redis => {
                // XREADGROUP COUNT and the application's limits are positive counts;
                // XAUTOCLAIM's min-idle-time is any number of milliseconds (0 claims at once).
                bounded.push((
                    "batch_size",
                    g.batch_size.map(u64::from),
                    1,
                    u64::from(u32::MAX),
                    "the `COUNT` of `XREADGROUP`: at least one entry per read",
                ));
                bounded.push((
                    "max_deliveries",
                    g.max_deliveries.map(u64::from),
                    1,
                    u64::from(u32::MAX),
                    "deliveries of an entry before the application dead-letters it",
                ));
                bounded.push((
                    "min_idle_ms",
                    g.min_idle_ms,
                    0,
                    MAX_DURATION_MS,
                    "`XAUTOCLAIM` min-idle-time, in milliseconds",
                ));
                // Simplified: the reaper of a reliable list is the application's; a zero
                // timeout would take back every message the moment it is moved.
                bounded.push((
                    "visibility_timeout_ms",
                    g.visibility_timeout_ms,
                    1,
                    MAX_DURATION_MS,
                    "the reaper's timeout: a message in a processing list longer than this goes back to the queue",
                ));
            }
            System::Kafka => {}
        }
        for (field, value, lo, hi, source) in bounded {
            let Some(v) = value else { continue };
            if (lo..=hi).contains(&v) {
                continue;
            }
            let expected = if hi == u64::from(u32::MAX) {
                format!("at least {lo}")
            } else {
                format!("{lo} to {hi}")
            };
            self.err(
                fp!["groups", i, field],
                format!(
                    "`{field} = {v}` is outside what {} accepts",
                    queue_name(system, mode)
                ),
            )
            .expected(expected)
            .help(source)
            .reference(ANCHOR);
        }
        if system == System::Rabbitmq {
            self.rabbitmq_group(i, g);
        }
    }

    fn rabbitmq_group(&mut self, i: usize, g: &Group) {
        let classic = self
            .topic(&g.topic)
            .is_some_and(|t| t.replication_factor == 1);
        if classic && self.doc.has(fp!["groups", i, "delivery_limit"]) {
            self.err_key(
                fp!["groups", i, "delivery_limit"],
                format!("`delivery_limit` needs a quorum queue, and `{}` is a classic queue", g.topic),
            )
            .expected("`replication_factor` of 2 or more on the queue (a quorum queue), or no `delivery_limit`")
            .help("classic queues have no delivery limit: a message that keeps failing is redelivered forever")
            .reference(ANCHOR);
        }
        if g.ack == Some(AckMode::Auto) {
            // `basic.qos`: "The prefetch-count is ignored if the no-ack option is set"; and
            // with automatic acknowledgement there is nothing to nack back.
            for (field, why) in [
                (
                    "prefetch",
                    "RabbitMQ ignores the prefetch count of an automatic-ack consumer: it pushes every message at once",
                ),
                (
                    "requeue",
                    "an automatic-ack consumer has nothing to nack: the message was forgotten when it was sent",
                ),
            ] {
                if self.doc.has(fp!["groups", i, field]) {
                    self.err_key(
                        fp!["groups", i, field],
                        format!("`{field}` has no effect with `ack = \"auto\"`"),
                    )
                    .expected(format!("`ack = \"manual\"`, or no `{field}`"))
                    .help(why)
                    .reference(ANCHOR);
                }
            }
        }
    }

    /// On a queue system the dead-letter target is another queue, and where the system needs
    /// one (an SQS redrive policy) it is there.
    fn queue_dead_letter(&mut self, i: usize, g: &Group, system: System, mode: RedisMode) {
        let dlq_path = fp!["groups", i, "dead_letter_topic"];
        if let Some(dlq) = &g.dead_letter_topic {
            if system == System::Redis && mode != RedisMode::Stream {
                self.err_key(
                    dlq_path,
                    format!(
                        "`dead_letter_topic` does not apply to `system = \"redis\"` with `mode = \"{}\"`",
                        mode_name(mode)
                    ),
                )
                .expected("`dead_letter_topic` only with `mode = \"stream\"` (with `max_deliveries`)")
                .help("a Redis list keeps no delivery count, so nothing decides that a message is dead")
                .reference(ANCHOR);
            } else if *dlq == g.topic {
                self.err(
                    dlq_path,
                    format!("`dead_letter_topic = \"{dlq}\"` is the queue the group reads"),
                )
                .expected("another queue: a `[[topics]]` entry other than the group's `topic`")
                .help("a dead-lettered message leaves its queue for another one, where it waits to be looked at")
                .reference(ANCHOR);
            } else if system == System::Sqs
                && let (Some(src), Some(dst)) = (self.topic(&g.topic), self.topic(dlq))
                && src.fifo != dst.fifo
            {
                self.err(
                    dlq_path,
                    format!(
                        "`dead_letter_topic = \"{dlq}\"` is a {} queue, but `{}` is a {} queue",
                        if dst.fifo { "FIFO" } else { "standard" },
                        g.topic,
                        if src.fifo { "FIFO" } else { "standard" },
                    ),
                )
                .expected("a dead-letter queue of the same type (`fifo` alike)")
                .help("SQS: the dead-letter queue of a FIFO queue must be a FIFO queue, and that of a standard queue a standard queue")
                .reference(ANCHOR);
            }
        }
        if system == System::Sqs {
            // A redrive policy is `deadLetterTargetArn` and `maxReceiveCount` together.
            let has_count = g.max_receive_count.is_some();
            if has_count && g.dead_letter_topic.is_none() {
                self.err_key(
                    fp!["groups", i, "max_receive_count"],
                    "`max_receive_count` needs a `dead_letter_topic`",
                )
                .expected("`dead_letter_topic = \"...\"`: the queue SQS moves the message to")
                .help(
                    "an SQS redrive policy names both the dead-letter queue and `maxReceiveCount`",
                )
                .reference(ANCHOR);
            } else if !has_count && g.dead_letter_topic.is_some() {
                self.err_key(dlq_path, "`dead_letter_topic` needs a `max_receive_count`")
                    .expected("`max_receive_count = N` (1 to 1000): receives before SQS moves the message")
                    .help("an SQS redrive policy names both the dead-letter queue and `maxReceiveCount`")
                    .reference(ANCHOR);
            }
        }
    }

    fn system_faults(&mut self, system: System, mode: RedisMode) {
        if system == System::Kafka {
            return;
        }
        for (j, f) in self.sc.faults.iter().enumerate() {
            let why = match f.action {
                FaultAction::ElectPreferred => {
                    "a preferred-leader election is Kafka's (`kafka-leader-election.sh`); here a queue's leader moves only on failover"
                }
                FaultAction::AddPartitions => "a queue has one partition; it does not grow",
                FaultAction::Zombie => {
                    "a zombie is a Kafka transactional producer fenced by its epoch; {queue} has no producer epochs"
                }
                _ => continue,
            };
            self.err(
                fp!["faults", j, "action"],
                format!(
                    "`action = \"{}\"` does not apply to `system = \"{}\"`",
                    f.action.name(),
                    system.name()
                ),
            )
            .expected("a fault of every system: crash, restart, stop, pause, isolate, partition, heal, drop, drop-acks, delay, add-consumer, remove-consumer")
            .help(words(why, system, mode))
            .reference(ANCHOR);
        }
    }
}

fn mode_name(mode: RedisMode) -> &'static str {
    match mode {
        RedisMode::List => "list",
        RedisMode::ReliableList => "reliable-list",
        RedisMode::Stream => "stream",
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{self, Acks, ScenarioError, lower};

    /// A two-queue scenario of `system`, with `cluster`, `topic`, `producer` and `group` lines
    /// added to its tables.
    fn file(system: &str, cluster: &str, topic: &str, producer: &str, group: &str) -> String {
        format!(
            "[scenario]\ntitle = \"t\"\n\n[cluster]\nbrokers = 3\nsystem = \"{system}\"\n{cluster}\n\n\
             [[topics]]\nname = \"orders\"\nreplication_factor = 3\n{topic}\n\n\
             [[topics]]\nname = \"dead\"\nreplication_factor = 3\n\n\
             [[producers]]\nname = \"p\"\ntopic = \"orders\"\nsend = {{ count = 5 }}\n{producer}\n\n\
             [[groups]]\nname = \"g\"\ntopic = \"orders\"\n{group}\n"
        )
    }

    fn error(text: &str) -> ScenarioError {
        match scenario::parse("t.toml", text) {
            Ok(_) => panic!("parsed:\n{text}"),
            Err(e) => e,
        }
    }

    /// The error's message, and the text of the line it points at.
    fn at(text: &str) -> (String, String) {
        let e = error(text);
        let line = e.line().expect("a location");
        let shown = text.lines().nth(line - 1).unwrap().to_string();
        (e.message().to_string(), shown)
    }

    #[test]
    fn a_file_of_another_system_with_its_own_fields_at_their_limits_is_valid() {
        for (system, group) in [
            (
                "rabbitmq",
                "ack = \"manual\"\nprefetch = 10\ndelivery_limit = 3\ndead_letter_topic = \"dead\"",
            ),
            (
                "sqs",
                "batch_size = 10\nvisibility_timeout_ms = 43200000\nmax_receive_count = 1000\ndead_letter_topic = \"dead\"",
            ),
            (
                "redis",
                "batch_size = 50\nmin_idle_ms = 0\nmax_deliveries = 3\ndead_letter_topic = \"dead\"",
            ),
        ] {
            let cluster = if system == "redis" {
                "mode = \"stream\""
            } else {
                ""
            };
            let text = file(system, cluster, "", "", group);
            if let Err(e) = crate::scenario::parse("t.toml", &text) {
                panic!("{system}: {e}");
            }
        }
    }

    #[test]
    fn a_field_of_another_system_is_refused_at_its_key() {
        let cases = [
            (
                "kafka",
                "mode = \"stream\"",
                "",
                "",
                "",
                "mode = \"stream\"",
                "`mode` does not apply to `system = \"kafka\"`",
            ),
            (
                "rabbitmq",
                "",
                "fifo = true",
                "",
                "",
                "fifo = true",
                "`fifo` does not apply to `system = \"rabbitmq\"`",
            ),
            (
                "sqs",
                "",
                "",
                "confirms = true",
                "",
                "confirms = true",
                "`confirms` does not apply to `system = \"sqs\"`",
            ),
            (
                "kafka",
                "",
                "",
                "",
                "prefetch = 5",
                "prefetch = 5",
                "`prefetch` does not apply to `system = \"kafka\"`",
            ),
            (
                "sqs",
                "",
                "",
                "",
                "prefetch = 5",
                "prefetch = 5",
                "`prefetch` does not apply to `system = \"sqs\"`",
            ),
            (
                "rabbitmq",
                "",
                "",
                "",
                "batch_size = 5",
                "batch_size = 5",
                "`batch_size` does not apply to `system = \"rabbitmq\"`",
            ),
            (
                "redis",
                "",
                "",
                "",
                "batch_size = 5",
                "batch_size = 5",
                "`batch_size` does not apply to `system = \"redis\"` with `mode = \"list\"`",
            ),
            (
                "redis",
                "mode = \"stream\"",
                "",
                "",
                "visibility_timeout_ms = 5",
                "visibility_timeout_ms = 5",
                "`visibility_timeout_ms` does not apply to `system = \"redis\"` with `mode = \"stream\"`",
            ),
            (
                "sqs",
                "",
                "",
                "",
                "min_idle_ms = 5",
                "min_idle_ms = 5",
                "`min_idle_ms` does not apply to `system = \"sqs\"`",
            ),
            (
                "rabbitmq",
                "",
                "",
                "",
                "assignor = \"sticky\"",
                "assignor = \"sticky\"",
                "`assignor` does not apply to `system = \"rabbitmq\"`",
            ),
            (
                "sqs",
                "",
                "",
                "",
                "\"auto.offset.reset\" = \"earliest\"",
                "\"auto.offset.reset\" = \"earliest\"",
                "`auto_offset_reset` does not apply to `system = \"sqs\"`",
            ),
            (
                "redis",
                "",
                "",
                "",
                "type = \"share\"",
                "type = \"share\"",
                "`type = \"share\"` does not apply to `system = \"redis\"`",
            ),
            (
                "rabbitmq",
                "",
                "",
                "",
                "delivery_count_limit = 3",
                "delivery_count_limit = 3",
                "`delivery_count_limit` does not apply to `system = \"rabbitmq\"`",
            ),
            (
                "redis",
                "",
                "",
                "transactional_id = \"tx\"",
                "",
                "transactional_id = \"tx\"",
                "`transactional_id` does not apply to `system = \"redis\"`",
            ),
            (
                "rabbitmq",
                "",
                "",
                "acks = \"1\"",
                "",
                "acks = \"1\"",
                "`acks` does not apply to `system = \"rabbitmq\"`",
            ),
            (
                "sqs",
                "",
                "min_insync_replicas = 2",
                "",
                "",
                "min_insync_replicas = 2",
                "`min_insync_replicas` does not apply to `system = \"sqs\"`",
            ),
        ];
        for (system, cluster, topic, producer, group, line, msg) in cases {
            let text = file(system, cluster, topic, producer, group);
            let e = error(&text);
            assert_eq!(e.message(), msg, "{text}");
            let l = e.line().unwrap();
            assert_eq!(text.lines().nth(l - 1).unwrap(), line, "{msg}");
            // At the key, not the value; but for `type`, at the kind of group it names.
            let column = if msg.starts_with("`type") { 8 } else { 1 };
            assert_eq!(e.column(), Some(column), "{msg}");
            assert_eq!(
                e.reference().as_deref(),
                Some("docs/scenarios.md#queue-systems"),
                "{msg}"
            );
            assert!(e.expected().is_some_and(|x| !x.is_empty()), "{msg}");
            assert!(e.help().is_some_and(|x| !x.is_empty()), "{msg}");
        }
    }

    #[test]
    fn ranges_follow_each_systems_docs() {
        let rejected = [
            (
                "sqs",
                "",
                "batch_size = 11",
                "`batch_size = 11` is outside what SQS accepts",
                "1 to 10",
            ),
            (
                "sqs",
                "",
                "batch_size = 0",
                "`batch_size = 0` is outside what SQS accepts",
                "1 to 10",
            ),
            (
                "sqs",
                "",
                "visibility_timeout_ms = 43200001",
                "`visibility_timeout_ms = 43200001` is outside what SQS accepts",
                "0 to 43200000",
            ),
            (
                "sqs",
                "",
                "max_receive_count = 1001\ndead_letter_topic = \"dead\"",
                "`max_receive_count = 1001` is outside what SQS accepts",
                "1 to 1000",
            ),
            (
                "rabbitmq",
                "",
                "prefetch = 65536",
                "`prefetch = 65536` is outside what RabbitMQ accepts",
                "0 to 65535",
            ),
            (
                "rabbitmq",
                "",
                "delivery_limit = 0",
                "`delivery_limit = 0` is outside what RabbitMQ accepts",
                "at least 1",
            ),
            (
                "redis",
                "mode = \"stream\"",
                "max_deliveries = 0",
                "`max_deliveries = 0` is outside what a Redis stream accepts",
                "at least 1",
            ),
            (
                "redis",
                "mode = \"stream\"",
                "batch_size = 0",
                "`batch_size = 0` is outside what a Redis stream accepts",
                "at least 1",
            ),
            (
                "redis",
                "mode = \"reliable-list\"",
                "visibility_timeout_ms = 0",
                "`visibility_timeout_ms = 0` is outside what a Redis reliable list accepts",
                "1 to 2147483647",
            ),
        ];
        for (system, cluster, group, msg, expected) in rejected {
            let e = error(&file(system, cluster, "", "", group));
            assert_eq!(e.message(), msg);
            assert_eq!(e.expected(), Some(expected), "{msg}");
        }
        // The bounds themselves are accepted.
        for (system, cluster, group) in [
            (
                "sqs",
                "",
                "batch_size = 1\nvisibility_timeout_ms = 0\nmax_receive_count = 1\ndead_letter_topic = \"dead\"",
            ),
            ("rabbitmq", "", "prefetch = 65535\ndelivery_limit = 1"),
            (
                "redis",
                "mode = \"reliable-list\"",
                "visibility_timeout_ms = 1",
            ),
        ] {
            let text = file(system, cluster, "", "", group);
            if let Err(e) = crate::scenario::parse("t.toml", &text) {
                panic!("{system}: {e}");
            }
        }
    }

    #[test]
    fn queue_rules_that_tie_fields_together() {
        let cases = [
            // A classic queue (one replica) has no delivery limit.
            (
                "rabbitmq",
                "",
                "replication_factor = 1",
                "delivery_limit = 3",
                "`delivery_limit` needs a quorum queue, and `orders` is a classic queue",
            ),
            (
                "rabbitmq",
                "",
                "",
                "ack = \"auto\"\nprefetch = 10",
                "`prefetch` has no effect with `ack = \"auto\"`",
            ),
            (
                "rabbitmq",
                "",
                "",
                "ack = \"auto\"\nrequeue = false",
                "`requeue` has no effect with `ack = \"auto\"`",
            ),
            (
                "sqs",
                "",
                "",
                "max_receive_count = 3",
                "`max_receive_count` needs a `dead_letter_topic`",
            ),
            (
                "sqs",
                "",
                "",
                "dead_letter_topic = \"dead\"",
                "`dead_letter_topic` needs a `max_receive_count`",
            ),
            (
                "sqs",
                "",
                "fifo = true",
                "max_receive_count = 3\ndead_letter_topic = \"dead\"",
                "`dead_letter_topic = \"dead\"` is a standard queue, but `orders` is a FIFO queue",
            ),
            (
                "rabbitmq",
                "",
                "",
                "dead_letter_topic = \"orders\"",
                "`dead_letter_topic = \"orders\"` is the queue the group reads",
            ),
            (
                "redis",
                "mode = \"reliable-list\"",
                "",
                "dead_letter_topic = \"dead\"",
                "`dead_letter_topic` does not apply to `system = \"redis\"` with `mode = \"reliable-list\"`",
            ),
            (
                "redis",
                "",
                "partitions = 3",
                "",
                "`partitions = 3`: with `system = \"redis\"` a topic is one queue, with one partition",
            ),
        ];
        for (system, cluster, topic, group, msg) in cases {
            // `replication_factor` in `topic` replaces the file's.
            let text = file(system, cluster, topic, "", group).replacen(
                "replication_factor = 3\nreplication_factor = 1",
                "replication_factor = 1",
                1,
            );
            assert_eq!(error(&text).message(), msg, "{text}");
        }
    }

    #[test]
    fn kafka_only_faults_are_refused_on_a_queue() {
        for (action, extra) in [
            ("elect-preferred", "partition = \"orders/0\""),
            ("add-partitions", "topic = \"orders\"\npartitions = 2"),
            ("zombie", "target = \"p\""),
        ] {
            let text = format!(
                "{}\n[[faults]]\nat_ms = 100\naction = \"{action}\"\n{extra}\n",
                file("rabbitmq", "", "", "", "")
            );
            let (msg, line) = at(&text);
            assert_eq!(
                msg,
                format!("`action = \"{action}\"` does not apply to `system = \"rabbitmq\"`")
            );
            assert_eq!(line, format!("action = \"{action}\""));
        }
    }

    #[test]
    fn a_redis_producer_waits_for_no_replica_unless_acks_is_written() {
        // Parsed without validation, as the gate still refuses Redis.
        let resolved = |producer: &str| {
            let text = file("redis", "", "", producer, "");
            let doc = crate::scenario::doc::Doc::parse(&text).unwrap();
            let mut sc =
                crate::scenario::diagnose::deserialize("t.toml", &text, &doc).expect("parses");
            sc.explicit = crate::scenario::profile::Explicit::from_doc(&doc, &sc);
            let version = sc.cluster.kafka_version;
            crate::scenario::profile::resolve(&mut sc, version);
            sc
        };
        let sc = resolved("");
        assert_eq!(sc.producers[0].acks, Acks::Leader);
        assert_eq!(
            lower(&sc).producers[0].acks,
            crate::sim::config::Acks::Leader
        );
        let sc = resolved("acks = \"all\"");
        assert_eq!(sc.producers[0].acks, Acks::All);
        assert_eq!(lower(&sc).producers[0].acks, crate::sim::config::Acks::All);
        // Kafka's default is unchanged.
        let text = file("kafka", "", "", "", "");
        let sc = scenario::parse("t.toml", &text).expect("valid");
        assert_eq!(sc.producers[0].acks, Acks::All);
    }
}
