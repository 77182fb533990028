//! The vocabulary of `[[quiz]]` answers, shared by validation (which refuses what it cannot
//! compute) and by `crate::quiz` (which computes the answer from a run).

use super::model::{QuizCheck, Scenario};

/// At most this many `[[quiz]]` questions per file.
pub const MAX_QUIZ: usize = 50;
/// A question's text, in characters.
pub const MAX_QUESTION_CHARS: usize = 400;
/// One choice's text, in characters.
pub const MAX_CHOICE_CHARS: usize = 80;
/// An explanation, in characters.
pub const MAX_EXPLAIN_CHARS: usize = 1200;
/// Choices per question: at least 2 (a question), at most 6 (keys 1-6 / a-f).
pub const CHOICES: std::ops::RangeInclusive<usize> = 2..=6;

/// What `count` may count: a fate (README "What became of each message"), a loss kind, or one
/// of the counts on top of the fates.
pub const COUNT_NAMES: &[&str] = &[
    "applied",
    "duplicated",
    "lost",
    "truncated",
    "never_written",
    "skipped",
    "unseen",
    "failed",
    "aborted",
    "dead_lettered",
    "acked-lost",
    "reordered",
    "acked",
];

/// Counts that are per group (the rest are the producers': `acked`, `failed`).
pub fn count_needs_group(name: &str) -> bool {
    !matches!(name, "acked")
}

/// Which check an answer is: the one of its five keys that is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    Count,
    Fate,
    Verdict,
    Leader,
    Partitions,
}

impl CheckKind {
    pub const KEYS: [&'static str; 5] = ["count", "fate", "verdict", "leader", "partitions"];

    /// The kinds written in `c`, in the order of [`CheckKind::KEYS`].
    pub fn written(c: &QuizCheck) -> Vec<CheckKind> {
        [
            (c.count.is_some(), CheckKind::Count),
            (c.fate.is_some(), CheckKind::Fate),
            (c.verdict.is_some(), CheckKind::Verdict),
            (c.leader.is_some(), CheckKind::Leader),
            (c.partitions.is_some(), CheckKind::Partitions),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, k)| k)
        .collect()
    }
}

/// A run of one producer's messages: `checkout#6-#8` (6, 7 and 8) or `checkout#7`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRange {
    pub producer: String,
    pub first: u32,
    pub last: u32,
}

impl MessageRange {
    pub fn parse(s: &str) -> Result<MessageRange, String> {
        let expected = "PRODUCER#N or PRODUCER#N-#M (e.g. `checkout#6-#8`)";
        let Some((producer, rest)) = s.split_once('#') else {
            return Err(format!("`{s}` has no `#`: expected {expected}"));
        };
        if producer.is_empty() {
            return Err(format!("`{s}` has no producer name before `#`"));
        }
        let num = |t: &str| -> Result<u32, String> {
            t.parse::<u32>()
                .ok()
                .filter(|&n| n >= 1 && !t.starts_with('0'))
                .ok_or_else(|| format!("`{t}` in `{s}` is not a message number (1, 2, …)"))
        };
        let (first, last) = match rest.split_once('-') {
            None => (num(rest)?, num(rest)?),
            Some((a, b)) => {
                let b = b.strip_prefix('#').unwrap_or(b);
                (num(a)?, num(b)?)
            }
        };
        if last < first {
            return Err(format!("`{s}` ends before it starts"));
        }
        Ok(MessageRange {
            producer: producer.to_string(),
            first,
            last,
        })
    }

    pub fn contains(&self, producer: &str, n: u32) -> bool {
        producer == self.producer && (self.first..=self.last).contains(&n)
    }
}

/// The messages a producer sends, as the scenario writes them (`send.count` plus `messages`).
pub fn messages_sent(sc: &Scenario, producer: &str) -> Option<u64> {
    let p = sc.producers.iter().find(|p| p.name == producer)?;
    Some(p.send.as_ref().map_or(0, |s| s.count) + p.messages.len() as u64)
}

/// The group an answer is about: the one it names, else the scenario's only group.
pub fn group_of<'a>(sc: &'a Scenario, c: &'a QuizCheck) -> Option<&'a str> {
    match (&c.group, sc.groups.as_slice()) {
        (Some(g), _) => Some(g.as_str()),
        (None, [only]) => Some(only.name.as_str()),
        _ => None,
    }
}

/// A consumer's full node name (`billing/consumer-2`) from `consumer-2` and its group, or from
/// a name that already has its group.
pub fn consumer_node_name(sc: &Scenario, c: &QuizCheck, consumer: &str) -> Option<String> {
    if consumer.contains('/') {
        return Some(consumer.to_string());
    }
    group_of(sc, c).map(|g| format!("{g}/{consumer}"))
}

/// How a set of partitions is written in a choice: `orders/0, orders/2`, or `none`.
pub fn partitions_text(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ranges() {
        let r = MessageRange::parse("checkout#6-#8").unwrap();
        assert_eq!((r.producer.as_str(), r.first, r.last), ("checkout", 6, 8));
        assert!(r.contains("checkout", 7) && !r.contains("checkout", 9));
        assert_eq!(MessageRange::parse("checkout#7").unwrap().last, 7);
        assert_eq!(MessageRange::parse("checkout#6-8").unwrap().last, 8);
        assert!(MessageRange::parse("checkout#8-#6").is_err());
        assert!(MessageRange::parse("checkout#0").is_err());
        assert!(MessageRange::parse("checkout").is_err());
        assert!(MessageRange::parse("#3").is_err());
    }
}
