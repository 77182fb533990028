//! Validation of `[[quiz]]` questions: every limit up front, and every answer's check names
//! something the run has, so that the answer can always be computed.

use super::super::doc::fp;
use super::super::model::QuizCheck;
use super::super::quiz::{
    CHOICES, COUNT_NAMES, CheckKind, MAX_CHOICE_CHARS, MAX_EXPLAIN_CHARS, MAX_QUESTION_CHARS,
    MAX_QUIZ, MessageRange, count_needs_group, group_of, messages_sent,
};
use super::{Validator, parse_topic_partition, some_names, suggestion};

impl Validator<'_, '_> {
    pub(super) fn quiz(&mut self) {
        let stop = self.stop();
        if self.sc.quiz.len() > MAX_QUIZ {
            self.err(
                fp!["quiz", MAX_QUIZ],
                format!(
                    "this file has {} [[quiz]] questions, more than the limit of {MAX_QUIZ}",
                    self.sc.quiz.len()
                ),
            )
            .expected(format!("at most {MAX_QUIZ} [[quiz]] questions"));
            return;
        }
        let scope = super::super::anchor::AnchorScope::of(self.sc);
        for (i, q) in self.sc.quiz.iter().enumerate() {
            // Only a file can leave `at_ms` out (a scenario built in code has its default).
            if q.after.is_none()
                && self.doc.has(fp!["quiz", i])
                && !self.doc.has(fp!["quiz", i, "at_ms"])
            {
                self.err(
                    fp!["quiz", i],
                    "this question says neither when nor after what it is asked",
                )
                .expected("`at_ms = N` (a time), `after = \"EVENT SUBJECT\"` (an event), or both")
                .help("for example `after = \"election orders/0\"`: asked right after that event");
            }
            if let Some(after) = q.after.as_deref()
                && let Err(e) = super::super::anchor::parse_anchor(
                    after,
                    crate::sim::SimTime::from_ms(q.at_ms),
                    &scope,
                )
            {
                self.anchor_error(fp!["quiz", i, "after"], after, e);
            }
            if q.at_ms > stop {
                self.err(
                    fp!["quiz", i, "at_ms"],
                    format!("question at {} ms is after `stop_at_ms = {stop}`", q.at_ms),
                )
                .expected(format!("`at_ms` ≤ {stop}"))
                .help("the run would never pause for it");
            }
            let chars = q.question.chars().count();
            if q.question.trim().is_empty() {
                self.err(fp!["quiz", i, "question"], "the question is empty")
                    .expected("the question to ask, as text");
            } else if chars > MAX_QUESTION_CHARS {
                self.err(
                    fp!["quiz", i, "question"],
                    format!("the question is {chars} characters long"),
                )
                .expected(format!("at most {MAX_QUESTION_CHARS} characters"));
            }
            let n = q.choices.len();
            if !CHOICES.contains(&n) {
                self.err(
                    fp!["quiz", i, "choices"],
                    if n < *CHOICES.start() {
                        format!("{n} choice(s): a question needs at least two to choose from")
                    } else {
                        format!("{n} choices, more than the keys 1-6 can pick")
                    },
                )
                .expected(format!(
                    "{} to {} choices (keys 1-6 or a-f)",
                    CHOICES.start(),
                    CHOICES.end()
                ));
            }
            for (j, c) in q.choices.iter().enumerate().take(*CHOICES.end() + 1) {
                let at = fp!["quiz", i, "choices", j];
                if c.trim().is_empty() {
                    self.err(at, "an empty choice")
                        .expected("the text of an answer");
                } else if c.chars().count() > MAX_CHOICE_CHARS {
                    self.err(
                        at,
                        format!("choice is {} characters long", c.chars().count()),
                    )
                    .expected(format!("at most {MAX_CHOICE_CHARS} characters"));
                } else if q.choices[..j].contains(c) {
                    self.err(at, format!("choice `{c}` is listed twice"))
                        .expected("each choice once");
                }
            }
            if q.explain.chars().count() > MAX_EXPLAIN_CHARS {
                self.err(
                    fp!["quiz", i, "explain"],
                    format!(
                        "the explanation is {} characters long",
                        q.explain.chars().count()
                    ),
                )
                .expected(format!("at most {MAX_EXPLAIN_CHARS} characters"));
            }
            self.quiz_check(i, &q.answer);
        }
    }

    fn quiz_check(&mut self, i: usize, c: &QuizCheck) {
        let written = CheckKind::written(c);
        let keys = CheckKind::KEYS.join("`, `");
        let Some(&kind) = written.first() else {
            self.err(fp!["quiz", i, "answer"], "the answer names no check")
                .expected(format!("one of `{keys}`"))
                .help("e.g. answer = { count = \"lost\", group = \"billing\" }: the right choice is the one equal to what the run computes");
            return;
        };
        if written.len() > 1 {
            let second = CheckKind::KEYS[kind_index(written[1])];
            self.err_key(
                fp!["quiz", i, "answer", second],
                format!(
                    "the answer has both `{}` and `{second}`",
                    CheckKind::KEYS[kind_index(kind)]
                ),
            )
            .expected(format!("exactly one of `{keys}`"));
            return;
        }
        // Qualifiers only where the check reads them.
        let allowed: &[&str] = match kind {
            CheckKind::Count => &["group", "messages"],
            CheckKind::Fate | CheckKind::Partitions => &["group"],
            CheckKind::Verdict => &[],
            CheckKind::Leader => &["at_ms"],
        };
        let allowed = match kind {
            CheckKind::Partitions => &["group", "at_ms"][..],
            _ => allowed,
        };
        for (key, on) in [
            ("group", c.group.is_some()),
            ("messages", c.messages.is_some()),
            ("at_ms", c.at_ms.is_some()),
        ] {
            if on && !allowed.contains(&key) {
                self.err_key(
                    fp!["quiz", i, "answer", key],
                    format!(
                        "`{key}` does not apply to a `{}` answer",
                        CheckKind::KEYS[kind_index(kind)]
                    ),
                )
                .expected(if allowed.is_empty() {
                    "no other key".to_string()
                } else {
                    format!("only `{}` besides it", allowed.join("`, `"))
                });
            }
        }
        if let Some(g) = &c.group {
            self.quiz_group(fp!["quiz", i, "answer", "group"], g);
        }
        let stop = self.stop();
        if let Some(at) = c.at_ms
            && at > stop
        {
            self.err(
                fp!["quiz", i, "answer", "at_ms"],
                format!("`at_ms = {at}` is after `stop_at_ms = {stop}`"),
            )
            .expected(format!("`at_ms` ≤ {stop}"));
        }
        let need_group = |v: &mut Self, key: &str| {
            if c.group.is_none() && group_of(v.sc, c).is_none() {
                let names: Vec<&str> = v.sc.groups.iter().map(|g| g.name.as_str()).collect();
                v.err_key(
                    fp!["quiz", i, "answer", key],
                    format!(
                        "this scenario has {} groups; the answer must say which",
                        names.len()
                    ),
                )
                .expected(if names.is_empty() {
                    "a scenario with a [[groups]] table for this check".to_string()
                } else {
                    format!(
                        "`group = ` one of {}",
                        some_names(names.iter().copied(), 10)
                    )
                });
            }
        };
        match kind {
            CheckKind::Count => {
                let name = c.count.as_deref().unwrap_or("");
                if !COUNT_NAMES.contains(&name) {
                    self.err(
                        fp!["quiz", i, "answer", "count"],
                        format!("`{name}` is not something a quiz can count"),
                    )
                    .expected(format!("one of {}", COUNT_NAMES.join(", ")))
                    .maybe_help(suggestion(name, COUNT_NAMES.iter().copied()));
                } else if count_needs_group(name) {
                    need_group(self, "count");
                }
                if let Some(m) = &c.messages {
                    self.quiz_messages(fp!["quiz", i, "answer", "messages"], m);
                }
            }
            CheckKind::Fate => {
                need_group(self, "fate");
                let m = c.fate.as_deref().unwrap_or("");
                let at = fp!["quiz", i, "answer", "fate"];
                if self.quiz_messages(at, m) && m.contains('-') {
                    self.err(at, format!("`{m}` is a range; `fate` is about one message"))
                        .expected("one message, e.g. `checkout#7`");
                }
            }
            CheckKind::Verdict => {
                let g = c.verdict.as_deref().unwrap_or("");
                if g != "all" {
                    self.quiz_group(fp!["quiz", i, "answer", "verdict"], g);
                }
            }
            CheckKind::Leader => {
                let s = c.leader.as_deref().unwrap_or("");
                let at = fp!["quiz", i, "answer", "leader"];
                match parse_topic_partition(s) {
                    Err(e) => {
                        self.err(at, e).expected("TOPIC/P, e.g. `orders/0`");
                    }
                    Ok((topic, p)) => {
                        if self.topic(topic).is_none() {
                            self.topic_ref(at, topic, "topic");
                        } else {
                            let count = self.partitions_before(topic, usize::MAX);
                            if p >= count {
                                self.err(at, format!("`{topic}` has no partition {p}"))
                                    .expected(format!("a partition below {count}"));
                            }
                        }
                    }
                }
            }
            CheckKind::Partitions => {
                need_group(self, "partitions");
                let s = c.partitions.as_deref().unwrap_or("");
                let (group, consumer) = match s.split_once('/') {
                    Some((g, c)) => (Some(g), c),
                    None => (group_of(self.sc, c), s),
                };
                let at = fp!["quiz", i, "answer", "partitions"];
                let n = consumer
                    .strip_prefix("consumer-")
                    .and_then(|n| n.parse::<u64>().ok());
                let Some(g) = group.and_then(|g| self.group(g)) else {
                    if let Some(g) = group
                        && s.contains('/')
                    {
                        self.quiz_group(at, g);
                    }
                    return;
                };
                let max = self.max_consumers(g);
                if n.is_none_or(|n| n == 0 || n > max) {
                    self.err(at, format!("`{s}` is not a consumer of group `{}`", g.name))
                        .expected(format!("`consumer-1` to `consumer-{max}`"));
                }
            }
        }
    }

    /// `name` at `at` is a declared group.
    fn quiz_group(&mut self, at: &[super::Seg<'_>], name: &str) {
        if self.group(name).is_some() {
            return;
        }
        let names: Vec<&str> = self.sc.groups.iter().map(|g| g.name.as_str()).collect();
        let help = suggestion(name, names.iter().copied());
        self.err(at, format!("`{name}` is not a declared group"))
            .expected(if names.is_empty() {
                "a group declared in a [[groups]] table (this file declares none)".to_string()
            } else {
                format!("one of {}", some_names(names.iter().copied(), 10))
            })
            .maybe_help(help);
    }

    /// `s` at `at` is a range of messages some producer sends. True if it is.
    fn quiz_messages(&mut self, at: &[super::Seg<'_>], s: &str) -> bool {
        let r = match MessageRange::parse(s) {
            Ok(r) => r,
            Err(e) => {
                self.err(at, e)
                    .expected("PRODUCER#N or PRODUCER#N-#M, e.g. `checkout#6-#8`");
                return false;
            }
        };
        let Some(sent) = messages_sent(self.sc, &r.producer) else {
            let names: Vec<&str> = self.sc.producers.iter().map(|p| p.name.as_str()).collect();
            let help = suggestion(&r.producer, names.iter().copied());
            self.err(at, format!("`{}` is not a declared producer", r.producer))
                .expected(format!("one of {}", some_names(names.iter().copied(), 10)))
                .maybe_help(help);
            return false;
        };
        if u64::from(r.last) > sent {
            self.err(
                at,
                format!(
                    "`{}` sends {sent} messages; `{s}` goes past them",
                    r.producer
                ),
            )
            .expected(format!("message numbers from 1 to {sent}"));
            return false;
        }
        true
    }
}

fn kind_index(k: CheckKind) -> usize {
    match k {
        CheckKind::Count => 0,
        CheckKind::Fate => 1,
        CheckKind::Verdict => 2,
        CheckKind::Leader => 3,
        CheckKind::Partitions => 4,
    }
}
