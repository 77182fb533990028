//! The syntax of names used in scenario files: fault targets, links and `topic/P` partitions.
//! Only the syntax is checked here; whether the named things exist is checked by validation.
//!
//! - node names: `broker-N` (N from 1), `controller`, a producer's name, `GROUP/consumer-N`
//!   (N from 1);
//! - targets: any node name, or `leader:TOPIC/P` (the current leader of partition P, from 0),
//!   which is resolved when the fault fires;
//! - links: `"FROM->TO"` between two targets (spaces around `->` are allowed). Like a target,
//!   an end may be `leader:TOPIC/P`, resolved when the fault fires; so may a name in the
//!   `sides` of a `partition` fault.

use std::fmt;

/// A parsed fault target or node name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `broker-N`, 1-based as written.
    Broker(u32),
    Controller,
    /// `leader:TOPIC/P`, partition 0-based as written.
    Leader {
        topic: String,
        partition: u32,
    },
    /// A consumer, `GROUP/consumer-N`, 1-based as written.
    Consumer {
        group: String,
        index: u32,
    },
    /// Any other name: a producer.
    Producer(String),
}

impl Target {
    /// Parses a target. `Err` says what is wrong with the syntax.
    pub fn parse(s: &str) -> Result<Target, String> {
        if s.is_empty() {
            return Err("the name is empty".into());
        }
        if s == "controller" {
            return Ok(Target::Controller);
        }
        if let Some(n) = s.strip_prefix("broker-") {
            return number(n, 1)
                .map(Target::Broker)
                .ok_or_else(|| format!("`{s}` is not `broker-N` with N a number from 1"));
        }
        if let Some(tp) = s.strip_prefix("leader:") {
            let (topic, partition) = parse_topic_partition(tp)
                .map_err(|e| format!("`{s}` is not `leader:TOPIC/P`: {e}"))?;
            return Ok(Target::Leader {
                topic: topic.to_string(),
                partition,
            });
        }
        if let Some((group, member)) = s.split_once('/') {
            let index = member
                .strip_prefix("consumer-")
                .and_then(|n| number(n, 1))
                .filter(|_| is_legal_name(group))
                .ok_or_else(|| format!("`{s}` is not `GROUP/consumer-N` with N a number from 1"))?;
            return Ok(Target::Consumer {
                group: group.to_string(),
                index,
            });
        }
        if !is_legal_name(s) {
            return Err(format!(
                "`{s}` is not a node name: names use only letters, digits, `.`, `_` and `-`"
            ));
        }
        Ok(Target::Producer(s.to_string()))
    }

    /// Whether this names one fixed node (everything but `leader:`).
    pub fn is_node(&self) -> bool {
        !matches!(self, Target::Leader { .. })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Broker(n) => write!(f, "broker-{n}"),
            Target::Controller => write!(f, "controller"),
            Target::Leader { topic, partition } => write!(f, "leader:{topic}/{partition}"),
            Target::Consumer { group, index } => write!(f, "{group}/consumer-{index}"),
            Target::Producer(p) => write!(f, "{p}"),
        }
    }
}

/// Parses a link `"FROM->TO"` into its two ends.
pub fn parse_link(s: &str) -> Result<(Target, Target), String> {
    let Some((from, to)) = s.split_once("->") else {
        return Err(format!("`{s}` is not a link `FROM->TO`"));
    };
    let (from, to) = (from.trim(), to.trim());
    let from = Target::parse(from).map_err(|e| format!("bad link `{s}`: {e}"))?;
    let to = Target::parse(to).map_err(|e| format!("bad link `{s}`: {e}"))?;
    if from == to {
        return Err(format!("bad link `{s}`: both ends are the same node"));
    }
    Ok((from, to))
}

/// Parses `"topic/P"` (P from 0).
pub fn parse_topic_partition(s: &str) -> Result<(&str, u32), String> {
    let Some((topic, p)) = s.rsplit_once('/') else {
        return Err(format!("`{s}` has no `/P` partition number"));
    };
    if topic.is_empty() {
        return Err(format!("`{s}` has no topic before the `/`"));
    }
    let p = number(p, 0).ok_or_else(|| format!("`{p}` is not a partition number"))?;
    Ok((topic, p))
}

/// A decimal number without sign or leading zeros, at least `min`.
fn number(s: &str, min: u32) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok().filter(|&n| n >= min)
}

/// Kafka's legal characters for topic names, used for every name in a scenario:
/// ASCII letters, digits, `.`, `_` and `-`, at most 249 characters.
pub fn is_legal_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 249
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether a producer may not use this name because it is a node name of the cluster.
pub fn is_reserved_node_name(s: &str) -> bool {
    s == "controller"
        || s.strip_prefix("broker-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(Target::parse("broker-3"), Ok(Target::Broker(3)));
        assert!(Target::parse("broker-0").is_err());
        assert!(Target::parse("broker-01").is_err());
        assert!(Target::parse("broker-x").is_err());
        assert_eq!(Target::parse("controller"), Ok(Target::Controller));
        assert_eq!(
            Target::parse("leader:orders/0"),
            Ok(Target::Leader {
                topic: "orders".into(),
                partition: 0
            })
        );
        assert!(Target::parse("leader:orders").is_err());
        assert_eq!(
            Target::parse("billing/consumer-2"),
            Ok(Target::Consumer {
                group: "billing".into(),
                index: 2
            })
        );
        assert!(Target::parse("billing/c2").is_err());
        assert_eq!(
            Target::parse("checkout"),
            Ok(Target::Producer("checkout".into()))
        );
        assert!(Target::parse("a b").is_err());
        assert!(Target::parse("").is_err());
        for t in [
            "broker-3",
            "controller",
            "leader:orders/0",
            "g/consumer-1",
            "p",
        ] {
            assert_eq!(Target::parse(t).unwrap().to_string(), t);
        }
    }

    #[test]
    fn links() {
        assert_eq!(
            parse_link("broker-1->broker-2"),
            Ok((Target::Broker(1), Target::Broker(2)))
        );
        assert_eq!(
            parse_link("checkout -> broker-2"),
            Ok((Target::Producer("checkout".into()), Target::Broker(2)))
        );
        assert_eq!(
            parse_link("a-->b"),
            Ok((Target::Producer("a-".into()), Target::Producer("b".into())))
        );
        assert!(parse_link("broker-1>broker-2").is_err());
        assert!(parse_link("broker-1->broker-1").is_err());
        assert!(parse_link("leader:t/0->broker-1").is_ok());
        assert!(parse_link("->broker-1").is_err());
    }
}
