//! How a RabbitMQ, SQS or Redis queue delivers, as a policy over the share-partition machinery
//! ([`crate::sim::share_partition`], [`crate::sim::share_leader`],
//! [`crate::sim::share_consumer`]): every system keeps a queue's messages in flight with a
//! lock and a delivery count; what differs is when a message is forgotten, how long a lock
//! holds, what ends it and what happens at the delivery limit.
//!
//! - RabbitMQ (<https://www.rabbitmq.com/docs/confirms>, `consumer-prefetch`, `quorum-queues`):
//!   the broker pushes messages to consumers with prefetch credit. With `ack = "auto"`
//!   (`no_ack`) a message is settled as it is sent. With manual acks it stays unacked until
//!   the consumer acks it; when the consumer's channel closes (its connection is reset, or
//!   missed heartbeats end it after the 60 s heartbeat timeout) every unacked message is
//!   requeued and redelivered with `redelivered` set. A nack requeues (`requeue = true`) or
//!   dead-letters (`false`). A quorum queue counts deliveries and dead-letters at
//!   `delivery-limit` (20 by default since 4.0); without a dead-letter exchange the message is
//!   dropped. `consumer_timeout` (30 min) is not modelled.
//! - SQS (Developer Guide: "Amazon SQS visibility timeout", "Using dead-letter queues",
//!   "Amazon SQS short and long polling", "FIFO queue delivery logic"): ReceiveMessage returns
//!   up to `MaxNumberOfMessages` (1..10), each invisible for the visibility timeout, with
//!   long polling (WaitTimeSeconds up to 20 s). A message not deleted in time is visible again;
//!   a delete with an old receipt handle after it was received again does not delete it. The
//!   redrive policy moves a message to the dead-letter queue once its receive count passes
//!   `maxReceiveCount`. A FIFO queue returns a message group's messages in order and none of a
//!   group while one of it is in flight.
//! - Redis (`BRPOP`, `LMOVE` "Pattern: Reliable queue", `XREADGROUP`, `XAUTOCLAIM`, `XACK`):
//!   a list's BRPOP removes the message at once; the reliable list moves it to a processing
//!   list and a reaper requeues what stays there longer than the visibility timeout; a
//!   stream's XREADGROUP puts the entry in the consumer's pending entries list until XACK, and
//!   XAUTOCLAIM hands an entry idle for `min-idle-time` to another consumer (its delivery
//!   count rises). An application moves an entry delivered `max_deliveries` times to a
//!   dead-letter stream.
//!
//! Simplifications: the lock runs out at the exact deadline (a Redis reaper or XAUTOCLAIM
//! caller scans periodically; here the leader runs it at the deadline); an idle stream entry
//! is claimed by the next reader, not by a dedicated claim loop; RabbitMQ's push is a receive
//! the broker holds open until it has messages (the same as a long poll); moving a message to
//! the dead-letter queue records it as dead-lettered for the source group but does not append
//! it to the dead-letter topic's log.

use crate::sim::config::{AckMode, QueueConsumerConfig, RedisMode, ShareConfig, System};

/// RabbitMQ's default heartbeat timeout (`heartbeat`, 60 s): a consumer that stops answering
/// this long is considered dead and its channel closes.
pub const RABBITMQ_HEARTBEAT_TIMEOUT_MS: u64 = 60_000;
/// SQS's longest WaitTimeSeconds (20 s); Redis BRPOP/XREADGROUP BLOCK and a RabbitMQ
/// consumer's subscription are held at least as long.
pub const LONG_POLL_MS: u64 = 20_000;

/// What a consumer does with a message whose processing failed (a poison message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Give it back at once (RabbitMQ nack requeue=true; KIP-932 RELEASE).
    Release,
    /// Refuse it for good (RabbitMQ nack requeue=false: dead-lettered or dropped).
    Reject,
    /// Leave it: the lock runs out and it comes back (SQS: no DeleteMessage; Redis: no LREM
    /// or XACK). Also what a consumer does when the message was already settled.
    Leave,
}

/// One queue group's delivery rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePolicy {
    pub system: System,
    /// The queue forgets a message as it sends it (RabbitMQ auto-ack, Redis BRPOP).
    pub settle_on_send: bool,
    /// The lock lasts as long as the consumer's channel (RabbitMQ): renewed by every frame
    /// from the consumer, ended by its connection's reset or by the heartbeat timeout.
    pub channel: bool,
    /// Messages per receive (SQS MaxNumberOfMessages, Redis COUNT, RabbitMQ prefetch credit).
    pub max_records: u32,
    pub on_failure: OnFailure,
    /// A message group (the key) is held while one of its messages is in flight (SQS FIFO).
    pub fifo: bool,
    /// A message at the delivery limit goes to a dead-letter queue (else it is dropped).
    pub dead_letter: bool,
    /// The lock, the delivery limit and the window, as the share partition reads them.
    pub share: ShareConfig,
}

/// The most messages a queue keeps in flight (a share partition's window): a queue has no
/// such limit, so this only bounds memory.
const QUEUE_WINDOW: u32 = 1_000_000;
/// RabbitMQ's prefetch 0 (no limit): the broker sends all it has.
const UNLIMITED_PREFETCH: u32 = 10_000;

impl QueuePolicy {
    /// The policy of a group on `system` reading a queue with `replicas` replicas.
    pub fn new(
        system: System,
        q: &QueueConsumerConfig,
        fifo: bool,
        dead_letter: bool,
    ) -> QueuePolicy {
        let no_limit = u32::MAX;
        let (settle_on_send, channel, max_records, lock_ms, limit, on_failure) = match system {
            System::RabbitMq => {
                let credit = if q.prefetch == 0 {
                    UNLIMITED_PREFETCH
                } else {
                    q.prefetch
                };
                let on_failure = if q.ack == AckMode::Auto {
                    OnFailure::Leave
                } else if q.requeue {
                    OnFailure::Release
                } else {
                    OnFailure::Reject
                };
                (
                    q.ack == AckMode::Auto,
                    true,
                    credit,
                    RABBITMQ_HEARTBEAT_TIMEOUT_MS,
                    // A quorum queue dead-letters a message "returned more times than the
                    // limit" (RabbitMQ's quorum queue docs, Poison Message Handling): with
                    // limit N it is delivered N + 1 times, the first and N redeliveries.
                    q.delivery_limit.map_or(no_limit, |n| n.saturating_add(1)),
                    on_failure,
                )
            }
            System::Sqs => (
                false,
                false,
                q.batch_size.clamp(1, 10),
                q.visibility_timeout_ms,
                q.max_receive_count.unwrap_or(no_limit),
                OnFailure::Leave,
            ),
            System::Redis(mode) => {
                let (settle, lock_ms, limit) = match mode {
                    RedisMode::List => (true, q.visibility_timeout_ms, no_limit),
                    RedisMode::ReliableList => (false, q.visibility_timeout_ms, no_limit),
                    RedisMode::Stream => {
                        (false, q.min_idle_ms, q.max_deliveries.unwrap_or(no_limit))
                    }
                };
                (
                    settle,
                    false,
                    q.batch_size.max(1),
                    lock_ms,
                    limit,
                    OnFailure::Leave,
                )
            }
            // Kafka groups have no queue policy; a share group's own settings apply.
            System::Kafka => (false, false, 1, 30_000, no_limit, OnFailure::Release),
        };
        QueuePolicy {
            system,
            settle_on_send,
            channel,
            max_records,
            on_failure,
            fifo: fifo && system == System::Sqs,
            dead_letter,
            share: ShareConfig {
                record_lock_duration_ms: lock_ms.max(1),
                delivery_count_limit: limit,
                partition_max_record_locks: QUEUE_WINDOW,
                ..ShareConfig::default()
            },
        }
    }

    /// How often a consumer on a channel sends a heartbeat frame: half the timeout, as
    /// RabbitMQ's clients do.
    pub fn keepalive_ms(&self) -> Option<u64> {
        self.channel
            .then_some(RABBITMQ_HEARTBEAT_TIMEOUT_MS / 2)
            .filter(|_| !self.settle_on_send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(system: System) -> QueueConsumerConfig {
        QueueConsumerConfig::defaults(system, false)
    }

    #[test]
    fn rabbitmq_auto_ack_settles_on_send_and_manual_holds_until_the_channel_closes() {
        let mut c = q(System::RabbitMq);
        c.ack = AckMode::Auto;
        let auto = QueuePolicy::new(System::RabbitMq, &c, false, false);
        assert!(auto.settle_on_send);
        assert_eq!(auto.keepalive_ms(), None);
        c.ack = AckMode::Manual;
        c.prefetch = 3;
        let manual = QueuePolicy::new(System::RabbitMq, &c, false, false);
        assert!(!manual.settle_on_send && manual.channel);
        assert_eq!(
            manual.max_records, 3,
            "prefetch caps what one consumer holds"
        );
        assert_eq!(manual.on_failure, OnFailure::Release);
        c.requeue = false;
        let reject = QueuePolicy::new(System::RabbitMq, &c, false, true);
        assert_eq!(reject.on_failure, OnFailure::Reject);
        assert_eq!(reject.keepalive_ms(), Some(30_000));
    }

    #[test]
    fn sqs_uses_the_visibility_timeout_as_the_lock_and_max_receive_count_as_the_limit() {
        let mut c = q(System::Sqs);
        c.batch_size = 25;
        c.visibility_timeout_ms = 5_000;
        c.max_receive_count = Some(3);
        let p = QueuePolicy::new(System::Sqs, &c, true, true);
        assert_eq!(p.max_records, 10, "MaxNumberOfMessages is at most 10");
        assert_eq!(p.share.record_lock_duration_ms, 5_000);
        assert_eq!(p.share.delivery_count_limit, 3);
        assert!(p.fifo && !p.settle_on_send && !p.channel);
        assert_eq!(p.on_failure, OnFailure::Leave);
    }

    #[test]
    fn redis_modes_differ_in_what_a_pop_forgets_and_what_times_out() {
        let mut c = q(System::Redis(RedisMode::Stream));
        c.min_idle_ms = 7_000;
        c.visibility_timeout_ms = 9_000;
        c.max_deliveries = Some(4);
        let list = QueuePolicy::new(System::Redis(RedisMode::List), &c, false, false);
        assert!(list.settle_on_send);
        let reliable = QueuePolicy::new(System::Redis(RedisMode::ReliableList), &c, false, false);
        assert!(!reliable.settle_on_send);
        assert_eq!(reliable.share.record_lock_duration_ms, 9_000);
        assert_eq!(reliable.share.delivery_count_limit, u32::MAX);
        let stream = QueuePolicy::new(System::Redis(RedisMode::Stream), &c, false, true);
        assert_eq!(stream.share.record_lock_duration_ms, 7_000);
        assert_eq!(stream.share.delivery_count_limit, 4);
        assert!(!stream.fifo, "fifo is SQS's");
    }
}
