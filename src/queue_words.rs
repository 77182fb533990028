//! The narration of a RabbitMQ, SQS or Redis run in that system's own words.
//!
//! These systems run on the same replicas, producers and trace as Kafka (see
//! [`crate::sim::queue_policy`]), so their trace events are Kafka's: a record is appended at an
//! offset under a leader epoch, a high watermark moves, a consumer's position is reset by
//! `auto.offset.reset`. None of those words exists in RabbitMQ, SQS or Redis, and a learner
//! reading "auto.offset.reset=latest" on a RabbitMQ queue is taught something false. Here the
//! write path and a consumer's start are told as each system's documentation tells them:
//! publish and publisher confirms, `SendMessage`, `LPUSH`, `XADD` and `WAIT`, a quorum queue's
//! commit index, Sentinel's promotion; the producers panel, the sequence diagram and the
//! cluster panel ([`cluster_words`]) take their names from here too, so that the narration and
//! the screen call a replica the same thing. The delivery steps are told by [`crate::report`]'s
//! `queue_step_text`.

use crate::sim::config::{Acks, RedisMode, System};
use crate::sim::trace::{Trace, TraceEvent};
use crate::sim::{PartitionId, Sim};

/// What a queue system says for `ev`: `Some(Some(line))` in its words, `Some(None)` when it
/// says nothing (a step that only Kafka's bookkeeping has), `None` when the common
/// narration already fits (crashes, faults, the delivery steps).
pub fn describe(sim: &Sim, ev: &TraceEvent) -> Option<Option<String>> {
    let system = sim.settings().system;
    if system.is_kafka() {
        return None;
    }
    let queue = |p: PartitionId| queue_name(sim, p);
    let producer = |i: usize| sim.producers()[i].name.as_str();
    Some(Some(match &ev.kind {
        Trace::Produced {
            producer: p,
            msg,
            partition,
            key,
        } => {
            let who = producer(p.idx());
            let m = sim.msg_name(*msg);
            let q = queue(*partition);
            let key = key.map(|k| sim.key_name(k));
            match system {
                System::RabbitMq => format!("{who} publishes {m}{} to queue {q}", keyed(key)),
                System::Sqs => match key {
                    // A FIFO queue's message group is the scenario's key.
                    Some(k) => {
                        format!("{who} sends {m} to queue {q} (SendMessage, message group {k})")
                    }
                    None => format!("{who} sends {m} to queue {q} (SendMessage)"),
                },
                System::Redis(RedisMode::Stream) => {
                    format!("{who} adds {m}{} to stream {q} (XADD)", keyed(key))
                }
                System::Redis(_) => {
                    format!("{who} pushes {m}{} onto list {q} (LPUSH)", keyed(key))
                }
                System::Kafka => return None,
            }
        }
        Trace::Appended {
            partition,
            broker,
            count,
            first_msg,
            ..
        } => {
            format!(
                "{} stores {} in {}",
                sim.broker_name(*broker),
                crate::report::msg_span(sim, *first_msg, *count),
                queue(*partition)
            )
        }
        Trace::HighWatermark {
            partition,
            broker,
            hw,
        } => match system {
            // A quorum queue's Raft commit index. A classic queue has one member, SQS does not
            // show how it stores a message, and a Redis primary serves what it has: the line
            // that stored the message already said all there is.
            System::RabbitMq if replicas(sim, *partition) > 1 => format!(
                "{} commit index on {} → {hw} (a majority of its replicas has every message below it)",
                queue(*partition),
                sim.broker_name(*broker)
            ),
            _ => return Some(None),
        },
        Trace::Acked {
            producer: p,
            msg,
            partition,
            ..
        } => {
            let who = producer(p.idx());
            let m = sim.msg_name(*msg);
            match (system, sim.producers()[p.idx()].acks) {
                (System::RabbitMq, Acks::None) => {
                    format!("{who} ✓ {m} published without confirms: nothing comes back")
                }
                (System::RabbitMq, _) => {
                    format!("{who} ✓ the queue confirms {m} (publisher confirm)")
                }
                (System::Sqs, _) => {
                    format!("{who} ✓ SendMessage of {m} returns: the queue has stored it")
                }
                (System::Redis(_), Acks::All) => {
                    format!("{who} ✓ {m} written, and WAIT saw every replica acknowledge it")
                }
                (System::Redis(_), Acks::Leader) if replicas(sim, *partition) > 1 => {
                    format!(
                        "{who} ✓ {m} written: the primary answered OK (its replicas may not have it yet)"
                    )
                }
                (System::Redis(_), Acks::Leader) => {
                    format!("{who} ✓ {m} written: the server answered OK")
                }
                (System::Redis(_), Acks::None) => {
                    format!("{who} ✓ {m} sent without waiting for the reply")
                }
                (System::Kafka, _) => return None,
            }
        }
        Trace::Applied { consumer, msg, .. } => format!(
            "{} applies {}",
            sim.consumers()[consumer.idx()].name,
            sim.msg_name(*msg)
        ),
        // Kafka's position reset is, on a queue, its group's consumers beginning to consume
        // (it comes once per queue, with the first consumer's first request): the queue
        // hands out what it holds, whatever a Kafka group would have skipped.
        Trace::OffsetReset {
            partition, group, ..
        } => {
            let group = &sim.groups()[group.idx()].spec.name;
            let q = queue(*partition);
            match system {
                System::RabbitMq => {
                    format!("the consumers of {group} start consuming queue {q} (basic.consume)")
                }
                System::Sqs => format!(
                    "the consumers of {group} start receiving from queue {q} (ReceiveMessage, long polling)"
                ),
                System::Redis(RedisMode::List) => {
                    format!("the consumers of {group} start popping from list {q} (BRPOP)")
                }
                System::Redis(RedisMode::ReliableList) => format!(
                    "the consumers of {group} start moving messages from list {q} to their processing lists (BLMOVE)"
                ),
                System::Redis(RedisMode::Stream) => {
                    format!("consumer group {group} starts reading stream {q} (XREADGROUP)")
                }
                System::Kafka => return None,
            }
        }
        Trace::BrokerFenced { broker } => {
            let b = sim.broker_name(*broker);
            match system {
                System::Redis(_) => {
                    format!("Sentinel marks {b} down: it has not answered within the timeout")
                }
                _ => format!(
                    "{b} is considered down: the others have not heard from it within the timeout"
                ),
            }
        }
        Trace::BrokerUnfenced { broker } => {
            let b = sim.broker_name(*broker);
            match system {
                System::Redis(_) => format!("Sentinel sees {b} answering again"),
                _ => format!("{b} is back in the cluster"),
            }
        }
        Trace::LeaderElected {
            partition,
            leader,
            epoch,
            preferred,
            ..
        } => {
            let q = queue(*partition);
            let l = sim.broker_name(*leader);
            match system {
                System::Redis(_) => format!(
                    "Sentinel promotes {l} to primary of {q}: of the replicas it can reach, the one with the most data"
                ),
                _ if *preferred => format!("{q}'s leadership moves back to {l} (term {epoch})"),
                System::RabbitMq => format!(
                    "{q} elects {l} its leader (Raft term {epoch}): a majority of the queue's replicas voted for it"
                ),
                _ => format!("{q} is now served by {l} (term {epoch})"),
            }
        }
        Trace::IsrChanged {
            partition,
            changed,
            expanded,
            ..
        } => {
            let q = queue(*partition);
            let b = sim.broker_name(*changed);
            let lead = leader_word(system);
            if *expanded {
                format!("{b} has caught up with the {lead} of {q}")
            } else {
                format!("{b} has fallen behind the {lead} of {q}")
            }
        }
        Trace::PartitionOffline { partition, .. } => format!(
            "{} is UNAVAILABLE: no replica can take over as its {}",
            queue(*partition),
            leader_word(system)
        ),
        Trace::Truncated {
            partition,
            broker,
            removed,
            ..
        } => {
            let names: Vec<String> = removed.iter().map(|&m| sim.msg_name(m)).collect();
            format!(
                "{} drops [{}] from {} as it resynchronises with the new {}, which never had them",
                sim.broker_name(*broker),
                names.join(", "),
                queue(*partition),
                leader_word(system)
            )
        }
        _ => return None,
    }))
}

/// What the replica that takes writes is called: a Redis primary, a quorum queue's leader,
/// an SQS serving host.
fn leader_word(system: System) -> &'static str {
    cluster_words(system).leader
}

/// How one system names the cluster panel's parts: a queue's leader and replicas, its
/// failover counter, and the two marks of a log strip (Kafka's HW and LEO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterWords {
    /// The replica that takes writes (`leader`, `primary`).
    pub leader: &'static str,
    /// The whole replica set (`ISR` stays Kafka's; others list members or replicas).
    pub members: &'static str,
    /// The counter bumped by each failover (`epoch`, Raft's `term`, Sentinel's config epoch).
    pub epoch: &'static str,
    /// The mark below which a record is safe (`HW`, a quorum queue's `commit` index).
    pub committed: &'static str,
    /// The end of a replica's log (`LEO`, Redis's replication `offset`).
    pub end: &'static str,
    /// A replica that fell behind (`not in ISR`), and its narrow form.
    pub behind: &'static str,
    pub behind_short: &'static str,
}

pub fn cluster_words(system: System) -> ClusterWords {
    match system {
        System::Kafka => ClusterWords {
            leader: "leader",
            members: "ISR",
            epoch: "epoch",
            committed: "HW",
            end: "LEO",
            behind: "not in ISR",
            behind_short: "¬ISR",
        },
        // A quorum queue is a Raft group: the leader commits an entry once a majority has it.
        System::RabbitMq => ClusterWords {
            leader: "leader",
            members: "members",
            epoch: "term",
            committed: "commit",
            end: "last",
            behind: "lagging",
            behind_short: "lag",
        },
        // Asynchronous replication: the primary's replication offset runs ahead of what the
        // replicas acknowledged; Sentinel's failover bumps the configuration epoch.
        System::Redis(_) => ClusterWords {
            leader: "primary",
            members: "replicas",
            epoch: "config epoch",
            committed: "on replicas",
            end: "offset",
            behind: "lagging",
            behind_short: "lag",
        },
        // SQS hides its hosts; the simulation stores each queue on `replication_factor` of them
        // and answers SendMessage once a majority of the copies has it (see `Replication`).
        System::Sqs => ClusterWords {
            leader: "serving host",
            members: "stored on",
            epoch: "epoch",
            committed: "stored",
            end: "end",
            behind: "behind",
            behind_short: "bhd",
        },
    }
}

/// A queue's name: its topic's (a queue is one partition, `orders/0`).
pub(crate) fn queue_name(sim: &Sim, p: PartitionId) -> &str {
    let topic = sim.partitions()[p.idx()].topic;
    &sim.topics()[topic.idx()].name
}

/// How many replicas the queue has.
fn replicas(sim: &Sim, p: PartitionId) -> usize {
    sim.partitions()[p.idx()].assignment.len()
}

fn keyed(key: Option<&str>) -> String {
    key.map_or(String::new(), |k| format!(" (key {k})"))
}

/// The wire-level line (`run -v`, a message's life) for what [`describe`] leaves out on a
/// queue system: replication progress, in messages rather than Kafka's offsets.
pub fn wire_line(sim: &Sim, ev: &TraceEvent) -> Option<String> {
    let system = sim.settings().system;
    if system.is_kafka() {
        return None;
    }
    match &ev.kind {
        Trace::HighWatermark {
            partition,
            broker,
            hw,
        } => Some(format!(
            "  {} on {}: consumers may be handed its first {hw} messages",
            queue_name(sim, *partition),
            sim.broker_name(*broker)
        )),
        Trace::Replicated {
            partition,
            broker,
            leo,
        } => Some(format!(
            "  {} copies {} up to its first {leo} messages",
            sim.broker_name(*broker),
            queue_name(sim, *partition)
        )),
        _ => None,
    }
}

/// A queue system's producer setting, as the producers panel shows it in place of Kafka's
/// `acks`, `enable.idempotence` and `max.in.flight` (which its clients do not have).
pub fn producer_setting(system: System, acks: Acks) -> &'static str {
    match (system, acks) {
        (System::RabbitMq, Acks::None) => "no publisher confirms",
        (System::RabbitMq, _) => "publisher confirms",
        (System::Sqs, _) => "SendMessage",
        (System::Redis(_), Acks::All) => "WAIT for every replica",
        (System::Redis(_), Acks::Leader) => "no WAIT",
        (System::Redis(_), Acks::None) => "no reply awaited",
        (System::Kafka, _) => "",
    }
}

/// "broker-2 became leader of orders/0", or a queue system's "primary of orders".
pub fn became_leader(sim: &Sim, leader: crate::sim::BrokerId, p: PartitionId) -> String {
    let system = sim.settings().system;
    let b = sim.broker_name(leader);
    if system.is_kafka() {
        format!("{b} became leader of {}", sim.partition_name(p))
    } else {
        format!(
            "{b} became {} of {}",
            leader_word(system),
            queue_name(sim, p)
        )
    }
}

/// A wire message's name on a queue system, where it has one of its own (`None`: Kafka's
/// name, or a message the system has no name for). The model's pull replication reads as
/// each system's: a quorum queue's leader sends Raft's AppendEntries and its followers answer;
/// a Redis primary streams to its replicas, which acknowledge their offset (`REPLCONF ACK`).
pub fn wire_name(system: System, kind: crate::sim::WireKind) -> Option<&'static str> {
    use crate::sim::WireKind as W;
    let name = match (system, kind) {
        (System::Kafka, _) => return None,
        (System::RabbitMq, W::ProduceRequest) => "basic.publish",
        (System::RabbitMq, W::ProduceResponse) => "confirm",
        (System::RabbitMq, W::ShareFetch) => "consume",
        (System::RabbitMq, W::ShareFetchResponse) => "basic.deliver",
        (System::RabbitMq, W::ShareAcknowledge) => "basic.ack",
        (System::RabbitMq, W::ReplicaFetch) => "AppendEntriesReply",
        (System::RabbitMq, W::ReplicaFetchResponse) => "AppendEntries",
        (System::Sqs, W::ProduceRequest) => "SendMessage",
        (System::Sqs, W::ProduceResponse) => "SendMessageResult",
        (System::Sqs, W::ShareFetch) => "ReceiveMessage",
        (System::Sqs, W::ShareFetchResponse) => "ReceiveMessageResult",
        (System::Sqs, W::ShareAcknowledge) => "DeleteMessage",
        (System::Sqs, W::ReplicaFetch) => "replicate",
        (System::Sqs, W::ReplicaFetchResponse) => "replicated",
        (System::Redis(RedisMode::Stream), W::ProduceRequest) => "XADD",
        (System::Redis(_), W::ProduceRequest) => "LPUSH",
        (System::Redis(_), W::ProduceResponse) => "reply",
        (System::Redis(RedisMode::Stream), W::ShareFetch) => "XREADGROUP",
        (System::Redis(RedisMode::ReliableList), W::ShareFetch) => "BLMOVE",
        (System::Redis(RedisMode::List), W::ShareFetch) => "BRPOP",
        (System::Redis(_), W::ShareFetchResponse) => "reply",
        (System::Redis(RedisMode::Stream), W::ShareAcknowledge) => "XACK",
        (System::Redis(_), W::ShareAcknowledge) => "LREM",
        (System::Redis(_), W::ReplicaFetch) => "REPLCONF ACK",
        (System::Redis(_), W::ReplicaFetchResponse) => "replication stream",
        _ => return None,
    };
    Some(name)
}

/// A wire message's name as the narration gives it: the system's own, else Kafka's.
pub fn wire_kind_name(sim: &Sim, kind: crate::sim::WireKind) -> &'static str {
    wire_name(sim.settings().system, kind).unwrap_or_else(|| kind.name())
}

/// A producer's error as a queue system's client reports it, where Kafka's name would mislead
/// (a broken connection, a request that got no answer); other errors keep Kafka's name.
pub fn error_name(system: System, error: crate::sim::ErrorCode) -> &'static str {
    if system.is_kafka() {
        return error.name();
    }
    client_error(error.name()).unwrap_or(error.name())
}

/// What a queue system's client calls the error Kafka names `kafka_name`, where Kafka's name
/// would mislead.
pub fn client_error(kafka_name: &str) -> Option<&'static str> {
    match kafka_name {
        "NETWORK_EXCEPTION" => Some("connection lost"),
        "REQUEST_TIMED_OUT" => Some("no answer in time"),
        _ => None,
    }
}
