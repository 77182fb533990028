//! Kafka's dotted config names for the scenario fields that have one. A scenario may write
//! either: `auto_offset_reset = "earliest"` or, quoted, `"auto.offset.reset" = "earliest"`. The
//! model accepts the dotted names through `#[serde(alias)]`; this table says which field each
//! one belongs to, for error messages, for finding a field however it was written, and for the
//! reference (`docs/scenarios.md`). A test checks that the table and the aliases agree.

/// (table, field, Kafka's name). `table` is the top-level key the field lives under:
/// `cluster`, `topics`, `producers`, `groups`, or `compare` (every `[compare.PRESET]`).
pub const KAFKA_NAMES: &[(&str, &str, &str)] = &[
    (
        "cluster",
        "unclean_leader_election",
        "unclean.leader.election.enable",
    ),
    (
        "cluster",
        "replica_lag_time_max_ms",
        "replica.lag.time.max.ms",
    ),
    (
        "cluster",
        "broker_session_timeout_ms",
        "broker.session.timeout.ms",
    ),
    (
        "cluster",
        "broker_heartbeat_interval_ms",
        "broker.heartbeat.interval.ms",
    ),
    (
        "cluster",
        "replica_fetch_wait_max_ms",
        "replica.fetch.wait.max.ms",
    ),
    (
        "cluster",
        "replica_socket_timeout_ms",
        "replica.socket.timeout.ms",
    ),
    (
        "cluster",
        "group_initial_rebalance_delay_ms",
        "group.initial.rebalance.delay.ms",
    ),
    (
        "cluster",
        "transaction_max_timeout_ms",
        "transaction.max.timeout.ms",
    ),
    ("cluster", "transaction_version", "transaction.version"),
    (
        "cluster",
        "transaction_partition_verification_enable",
        "transaction.partition.verification.enable",
    ),
    ("topics", "partitions", "num.partitions"),
    ("topics", "replication_factor", "replication.factor"),
    ("topics", "min_insync_replicas", "min.insync.replicas"),
    (
        "topics",
        "unclean_leader_election",
        "unclean.leader.election.enable",
    ),
    ("producers", "enable_idempotence", "enable.idempotence"),
    (
        "producers",
        "max_in_flight",
        "max.in.flight.requests.per.connection",
    ),
    ("producers", "request_timeout_ms", "request.timeout.ms"),
    ("producers", "delivery_timeout_ms", "delivery.timeout.ms"),
    ("producers", "retry_backoff_ms", "retry.backoff.ms"),
    ("producers", "retry_backoff_max_ms", "retry.backoff.max.ms"),
    ("producers", "linger_ms", "linger.ms"),
    (
        "producers",
        "partitioner_adaptive_partitioning_enable",
        "partitioner.adaptive.partitioning.enable",
    ),
    (
        "producers",
        "partitioner_availability_timeout_ms",
        "partitioner.availability.timeout.ms",
    ),
    ("producers", "transactional_id", "transactional.id"),
    (
        "producers",
        "transaction_timeout_ms",
        "transaction.timeout.ms",
    ),
    ("groups", "name", "group.id"),
    ("groups", "assignor", "partition.assignment.strategy"),
    ("groups", "group_protocol", "group.protocol"),
    ("groups", "group_remote_assignor", "group.remote.assignor"),
    ("groups", "isolation_level", "isolation.level"),
    ("groups", "max_poll_records", "max.poll.records"),
    ("groups", "session_timeout_ms", "session.timeout.ms"),
    ("groups", "heartbeat_interval_ms", "heartbeat.interval.ms"),
    ("groups", "max_poll_interval_ms", "max.poll.interval.ms"),
    (
        "groups",
        "auto_commit_interval_ms",
        "auto.commit.interval.ms",
    ),
    ("groups", "auto_offset_reset", "auto.offset.reset"),
    ("groups", "request_timeout_ms", "request.timeout.ms"),
    ("groups", "fetch_max_wait_ms", "fetch.max.wait.ms"),
    (
        "groups",
        "record_lock_duration_ms",
        "share.record.lock.duration.ms",
    ),
    (
        "groups",
        "delivery_count_limit",
        "share.delivery.count.limit",
    ),
    (
        "groups",
        "partition_max_record_locks",
        "group.share.partition.max.record.locks",
    ),
    ("compare", "enable_idempotence", "enable.idempotence"),
    (
        "compare",
        "max_in_flight",
        "max.in.flight.requests.per.connection",
    ),
    ("compare", "isolation_level", "isolation.level"),
];

/// Kafka names users reach for that have no field of their own here, with what to write
/// instead: (table, Kafka's name, help).
pub const NEAR_MISSES: &[(&str, &str, &str)] = &[
    (
        "producers",
        "batch.size",
        "Kafka's `batch.size` counts bytes; BrokerLab batches by records: `max_batch_records`",
    ),
    (
        "groups",
        "enable.auto.commit",
        "`commit = \"auto\"` is Kafka's `enable.auto.commit=true` (the default); `commit = \"after-process\"` or `\"before-process\"` commits by hand instead",
    ),
    (
        "groups",
        "group.instance.id",
        "`static_membership = true` gives every member of the group a `group.instance.id`",
    ),
    (
        "cluster",
        "default.replication.factor",
        "the replication factor is set per topic: `replication_factor` in [[topics]]",
    ),
];

/// Kafka's name of `field` in `table`, if it has one.
pub fn kafka_name(table: &str, field: &str) -> Option<&'static str> {
    KAFKA_NAMES
        .iter()
        .find(|(t, f, _)| *t == table && *f == field)
        .map(|(_, _, k)| *k)
}

/// The field Kafka's name `kafka` stands for in `table`.
pub fn field_for(table: &str, kafka: &str) -> Option<&'static str> {
    KAFKA_NAMES
        .iter()
        .find(|(t, _, k)| *t == table && *k == kafka)
        .map(|(_, f, _)| *f)
}

/// Every Kafka name `field` has in any table (a field name means the same thing wherever it
/// is, so looking a field up by these is safe: serde refuses a name a table does not accept).
pub fn aliases_of(field: &str) -> impl Iterator<Item = &'static str> + '_ {
    KAFKA_NAMES
        .iter()
        .filter(move |(_, f, _)| *f == field)
        .map(|(_, _, k)| *k)
}

/// The Kafka names `table` accepts.
pub fn names_in(table: &str) -> impl Iterator<Item = &'static str> + '_ {
    KAFKA_NAMES
        .iter()
        .filter(move |(t, _, _)| *t == table)
        .map(|(_, _, k)| *k)
}

/// The help for a Kafka name that has no field here.
pub fn near_miss(table: &str, kafka: &str) -> Option<&'static str> {
    NEAR_MISSES
        .iter()
        .find(|(t, k, _)| *t == table && k.eq_ignore_ascii_case(kafka))
        .map(|(_, _, h)| *h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::accepted_keys;
    use crate::scenario::model::*;
    use serde::de::DeserializeOwned;

    /// The serde aliases of a struct: the dotted names among its accepted keys.
    fn dotted<T: DeserializeOwned>() -> Vec<String> {
        let mut keys = accepted_keys::<T>();
        keys.retain(|k| k.contains('.'));
        keys
    }

    #[test]
    fn the_table_lists_exactly_the_models_aliases() {
        for (table, got) in [
            ("cluster", dotted::<Cluster>()),
            ("topics", dotted::<Topic>()),
            ("producers", dotted::<Producer>()),
            ("groups", dotted::<Group>()),
            ("compare", dotted::<PresetOverride>()),
        ] {
            let mut got = got;
            got.sort();
            let mut want: Vec<String> = names_in(table).map(str::to_string).collect();
            want.sort();
            assert_eq!(got, want, "[{table}]: serde aliases vs KAFKA_NAMES");
        }
        for t in [
            dotted::<Meta>(),
            dotted::<Network>(),
            dotted::<Send>(),
            dotted::<Fault>(),
            dotted::<Note>(),
            dotted::<Expect>(),
            dotted::<GroupExpect>(),
        ] {
            assert!(t.is_empty(), "{t:?}");
        }
    }

    /// Each Kafka name sets the field it is listed for: a scenario written with Kafka's names
    /// parses to the same thing as one written with the fields' names.
    #[test]
    fn each_kafka_name_sets_its_field() {
        // A value of the right type for each field, other than its default.
        let value = |field: &str| -> &str {
            match field {
                "unclean_leader_election" | "enable_idempotence" => "true",
                "transaction_partition_verification_enable" => "false",
                "transaction_version" => "2",
                "partitioner_adaptive_partitioning_enable" => "false",
                "partitions" => "4",
                "replication_factor" => "3",
                "min_insync_replicas" => "2",
                "max_in_flight" => "1",
                "transactional_id" => "\"tx\"",
                "name" => "\"billing\"",
                "assignor" => "\"sticky\"",
                "group_protocol" => "\"consumer\"",
                "group_remote_assignor" => "\"range\"",
                "isolation_level" => "\"read_committed\"",
                "auto_offset_reset" => "\"earliest\"",
                "max_poll_records" => "7",
                "session_timeout_ms" => "10000",
                "heartbeat_interval_ms" => "1000",
                _ => "1234",
            }
        };
        let base = |table: &str| -> &str {
            match table {
                "cluster" => "[cluster]\n",
                "topics" => "[[topics]]\nname = \"t\"\n",
                "producers" => {
                    "[[topics]]\nname = \"t\"\n[[producers]]\nname = \"p\"\ntopic = \"t\"\nsend = { count = 1 }\n"
                }
                "groups" => "[[topics]]\nname = \"t\"\n[[groups]]\ntopic = \"t\"\n",
                _ => "[compare.exactly-once]\n",
            }
        };
        for &(table, field, kafka) in KAFKA_NAMES {
            let v = value(field);
            let doc = |line: &str| {
                let mut s = format!("[scenario]\ntitle = \"t\"\n{}", base(table));
                if table == "groups" && field != "name" {
                    s.push_str("name = \"g\"\n");
                }
                s.push_str(line);
                s
            };
            let plain = doc(&format!("{field} = {v}\n"));
            let dotted = doc(&format!("\"{kafka}\" = {v}\n"));
            let default = doc(if field == "name" {
                "name = \"g\"\n"
            } else {
                ""
            });
            let parse = |text: &str| -> Scenario {
                toml::from_str(text).unwrap_or_else(|e| panic!("{text}\n{e}"))
            };
            assert_eq!(
                parse(&plain),
                parse(&dotted),
                "{kafka} sets {table}.{field}"
            );
            assert_ne!(
                parse(&plain),
                parse(&default),
                "{table}.{field}: the test value is not the default"
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            kafka_name("groups", "auto_offset_reset"),
            Some("auto.offset.reset")
        );
        assert_eq!(field_for("producers", "linger.ms"), Some("linger_ms"));
        assert_eq!(field_for("cluster", "linger.ms"), None);
        assert_eq!(
            aliases_of("request_timeout_ms").collect::<Vec<_>>(),
            ["request.timeout.ms", "request.timeout.ms"]
        );
        assert!(near_miss("producers", "batch.size").is_some());
    }
}
