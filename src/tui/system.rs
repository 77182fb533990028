//! Each queue system's words for what the screen shows. The simulation runs every system on
//! the same replicated log and the same share-partition delivery state; these functions name
//! that state the way the system's own documentation does (a RabbitMQ message is `unacked`,
//! an SQS one `invisible`, a Redis stream entry `pending`), so a learner reads the system they
//! chose, not Kafka's vocabulary.

use crate::session::Session;
use crate::sim::config::{RedisMode, System};

/// The run's system and its queue's kind, for the header: `RabbitMQ · quorum queue`,
/// `SQS FIFO`, `Redis stream`. `replicas` is the queue's replication factor, `fifo` its
/// `[[topics]] fifo`.
pub fn system_label(system: System, replicas: usize, fifo: bool) -> String {
    match system {
        System::Kafka => "Kafka".into(),
        System::RabbitMq if replicas > 1 => "RabbitMQ · quorum queue".into(),
        System::RabbitMq => "RabbitMQ · classic queue".into(),
        System::Sqs if fifo => "SQS FIFO".into(),
        System::Sqs => "SQS standard".into(),
        System::Redis(RedisMode::List) => "Redis list (LPUSH/BRPOP)".into(),
        System::Redis(RedisMode::ReliableList) => "Redis reliable list (LMOVE)".into(),
        System::Redis(RedisMode::Stream) => "Redis stream".into(),
    }
}

/// The header's system label for a session, `None` on Kafka (whose screen is unchanged). The
/// queue is the first topic a group consumes (a dead-letter queue is usually declared beside
/// it), or the first topic.
pub fn session_label(s: &Session) -> Option<String> {
    let system = s.sim.settings().system;
    if system.is_kafka() {
        return None;
    }
    let sim = &s.sim;
    let topic = sim
        .groups()
        .first()
        .map_or(0, |g| g.topic.idx())
        .min(sim.topics().len().saturating_sub(1));
    let replicas = sim.topics().get(topic).map_or(1, |t| {
        t.partitions
            .first()
            .map_or(1, |p| sim.partitions()[p.idx()].assignment.len())
    });
    let fifo = s.scenario.topics.get(topic).is_some_and(|t| t.fifo);
    Some(system_label(system, replicas, fifo))
}

pub use crate::queue_words::{ClusterWords, cluster_words};

/// How one system names a queue's delivery state (the share-partition records underneath).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueWords {
    /// Messages waiting to be delivered.
    pub ready: &'static str,
    /// Delivered and not yet acknowledged, per consumer.
    pub in_flight: &'static str,
    /// Moved to the dead-letter queue, or dropped at the limit.
    pub dead: &'static str,
    /// What counts the deliveries of one message (`×2` follows it).
    pub deliveries: &'static str,
    /// What the in-flight timer leads to, before its time left (`visible in 12.3s`);
    /// `None` where in-flight messages have no timer (RabbitMQ waits for the channel).
    pub timer: Option<&'static str>,
    /// Nothing stays in flight on the server: a delivered message is gone from it.
    pub popped_is_gone: bool,
}

pub fn queue_words(system: System) -> QueueWords {
    match system {
        System::Kafka => QueueWords {
            ready: "available",
            in_flight: "acquired",
            dead: "archived",
            deliveries: "delivery count",
            timer: Some("lock"),
            popped_is_gone: false,
        },
        System::RabbitMq => QueueWords {
            ready: "ready",
            in_flight: "unacked",
            dead: "dead-lettered",
            deliveries: "delivery count",
            timer: None,
            popped_is_gone: false,
        },
        System::Sqs => QueueWords {
            ready: "visible",
            in_flight: "invisible",
            dead: "redriven to DLQ",
            deliveries: "receive count",
            timer: Some("visible in"),
            popped_is_gone: false,
        },
        System::Redis(RedisMode::List) => QueueWords {
            ready: "in list",
            in_flight: "popped",
            dead: "dead-lettered",
            deliveries: "deliveries",
            timer: None,
            popped_is_gone: true,
        },
        System::Redis(RedisMode::ReliableList) => QueueWords {
            ready: "in list",
            in_flight: "processing list",
            dead: "dead-lettered",
            deliveries: "deliveries",
            timer: Some("reaper in"),
            popped_is_gone: false,
        },
        System::Redis(RedisMode::Stream) => QueueWords {
            ready: "new",
            in_flight: "pending (PEL)",
            dead: "dead-lettered",
            deliveries: "delivery count",
            timer: Some("claimable in"),
            popped_is_gone: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [System; 6] = [
        System::Kafka,
        System::RabbitMq,
        System::Sqs,
        System::Redis(RedisMode::List),
        System::Redis(RedisMode::ReliableList),
        System::Redis(RedisMode::Stream),
    ];

    #[test]
    fn the_header_names_the_system_and_its_kind_of_queue() {
        assert_eq!(
            system_label(System::RabbitMq, 3, false),
            "RabbitMQ · quorum queue"
        );
        assert_eq!(
            system_label(System::RabbitMq, 1, false),
            "RabbitMQ · classic queue"
        );
        assert_eq!(system_label(System::Sqs, 3, true), "SQS FIFO");
        assert_eq!(system_label(System::Sqs, 3, false), "SQS standard");
        assert_eq!(
            system_label(System::Redis(RedisMode::Stream), 2, false),
            "Redis stream"
        );
        // Every label differs: a learner can always tell which system runs.
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(system_label(*a, 3, false), system_label(*b, 3, false));
            }
        }
    }

    #[test]
    fn kafka_keeps_its_words_and_the_others_use_their_own() {
        let k = cluster_words(System::Kafka);
        assert_eq!((k.committed, k.end, k.members), ("HW", "LEO", "ISR"));
        let r = cluster_words(System::RabbitMq);
        assert_eq!((r.epoch, r.committed), ("term", "commit"));
        assert_eq!(
            cluster_words(System::Redis(RedisMode::List)).leader,
            "primary"
        );
        for s in &ALL[1..] {
            let w = cluster_words(*s);
            assert_ne!(w.members, "ISR", "{s:?} has no ISR");
            assert_ne!(w.committed, "HW", "{s:?} has no HW");
        }
    }

    #[test]
    fn each_system_names_its_in_flight_messages_and_timer() {
        assert_eq!(queue_words(System::RabbitMq).in_flight, "unacked");
        assert_eq!(queue_words(System::RabbitMq).timer, None);
        assert_eq!(queue_words(System::Sqs).timer, Some("visible in"));
        assert_eq!(
            queue_words(System::Redis(RedisMode::Stream)).in_flight,
            "pending (PEL)"
        );
        assert_eq!(
            queue_words(System::Redis(RedisMode::ReliableList)).in_flight,
            "processing list"
        );
        // Only a plain Redis list forgets a message as it delivers it.
        for s in ALL {
            assert_eq!(
                queue_words(s).popped_is_gone,
                s == System::Redis(RedisMode::List),
                "{s:?}"
            );
        }
    }
}
