//! `brokerlab quiz [SCENARIO]`: interview practice as plain text, no terminal needed. For each
//! scenario it prints the setup, then each question with its choices, reads the answer as a
//! line from the input (a choice's number or letter, `x` to skip, as in the TUI; `s` too), reveals it with the cause
//! chain, and keeps the score. The end of the input ends the quiz with the score.

use std::io::{BufRead, Write};

use super::{Question, Quiz, Source};
use crate::report::fmt_time;
use crate::scenario::Scenario;

/// An answer line longer than this is cut (the rest of the line is read and dropped).
const MAX_LINE: usize = 256;

/// The score so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    pub right: u32,
    pub wrong: u32,
    pub skipped: u32,
}

impl Score {
    pub fn answered(&self) -> u32 {
        self.right + self.wrong
    }

    pub fn line(&self) -> String {
        format!(
            "score {}/{} right{}",
            self.right,
            self.answered(),
            if self.skipped > 0 {
                format!(", {} skipped", self.skipped)
            } else {
                String::new()
            }
        )
    }
}

/// What the reader typed for one question.
enum Reply {
    Choice(usize),
    Skip,
    End,
}

/// The setup a learner needs to predict: the cluster, topics, clients and scripted faults.
pub fn setup_text(sc: &Scenario) -> String {
    let mut s = String::new();
    s.push_str(&format!("  {} brokers", sc.cluster.brokers));
    if sc.cluster.unclean_leader_election {
        s.push_str(", unclean.leader.election.enable=true");
    }
    s.push('\n');
    for t in &sc.topics {
        s.push_str(&format!(
            "  topic {}: {} partition(s), replication.factor={}, min.insync.replicas={}\n",
            t.name, t.partitions, t.replication_factor, t.min_insync_replicas
        ));
    }
    for p in &sc.producers {
        s.push_str(&format!(
            "  producer {} → {}: acks={}, enable.idempotence={}, max.in.flight.requests.per.connection={}{}\n",
            p.name,
            p.topic,
            p.acks.name(),
            p.enable_idempotence.unwrap_or(false),
            p.max_in_flight,
            p.transactional_id
                .as_deref()
                .map_or(String::new(), |t| format!(", transactional.id={t}"))
        ));
    }
    for g in &sc.groups {
        s.push_str(&format!(
            "  group {} ← {}: {} consumer(s), commit {}\n",
            g.name,
            g.topic,
            g.consumers,
            g.commit.name()
        ));
    }
    for f in &sc.faults {
        let mut what = f.action.name().to_string();
        for (k, v) in [
            ("", f.target.clone()),
            ("", f.link.clone()),
            ("group ", f.group.clone()),
            ("", f.partition.clone()),
            ("topic ", f.topic.clone()),
            ("for ", f.duration_ms.map(|d| format!("{d} ms"))),
        ] {
            if let Some(v) = v {
                what.push_str(&format!(" {k}{v}"));
            }
        }
        s.push_str(&format!("  fault at {} ms: {what}\n", f.at_ms));
    }
    s
}

/// Asks every question of `quiz` on `out`, reading answers from `input`. Returns false when the
/// input ended (the quiz is over).
pub fn ask_all(
    quiz: &Quiz,
    setup: &str,
    input: &mut impl BufRead,
    out: &mut impl Write,
    score: &mut Score,
) -> bool {
    let askable: Vec<&Question> = quiz
        .questions
        .iter()
        .filter(|q| q.correct.is_some())
        .collect();
    let _ = writeln!(
        out,
        "\n══ {} ({}, seed {})",
        quiz.title, quiz.label, quiz.seed
    );
    if !quiz.summary.is_empty() {
        let _ = writeln!(out, "{}", quiz.summary);
    }
    let _ = write!(out, "Setup:\n{setup}");
    for q in &quiz.questions {
        if q.correct.is_none() {
            let _ = writeln!(
                out,
                "(a question at {} is left out: the run's answer `{}` is none of its choices)",
                fmt_time(q.ask_at).trim(),
                q.answer
            );
        }
    }
    for (i, q) in askable.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n── Question {}/{} · at {} · {}",
            i + 1,
            askable.len(),
            fmt_time(q.ask_at).trim(),
            match q.source {
                Source::Written(_) => "from the scenario",
                Source::Auto(_) => "drawn from the run",
            }
        );
        let _ = writeln!(out, "{}", q.question);
        for (j, c) in q.choices.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}) {}  [{}]",
                Question::key(j),
                c,
                (b'a' + j as u8) as char
            );
        }
        let reply = loop {
            let _ = write!(
                out,
                "Your answer (1-{n} or a-{l}, x to skip): ",
                n = q.choices.len(),
                l = (b'a' + q.choices.len() as u8 - 1) as char
            );
            let _ = out.flush();
            match read_reply(input, q) {
                Some(r) => break r,
                None => {
                    let _ = writeln!(out, "\n  not a choice of this question");
                }
            }
        };
        match reply {
            Reply::End => {
                let _ = writeln!(out);
                return false;
            }
            Reply::Skip => {
                score.skipped += 1;
                let _ = writeln!(out, "  skipped: the answer is {}", answer_text(q));
            }
            Reply::Choice(c) => {
                if q.is_right(c) {
                    score.right += 1;
                    let _ = writeln!(out, "  ✓ right: {}", answer_text(q));
                } else {
                    score.wrong += 1;
                    let _ = writeln!(
                        out,
                        "  ✗ wrong: you chose {}) {}; the answer is {}",
                        Question::key(c),
                        q.choices[c],
                        answer_text(q)
                    );
                }
            }
        }
        reveal(q, out);
        let _ = writeln!(out, "  {}", score.line());
    }
    true
}

fn answer_text(q: &Question) -> String {
    match q.correct {
        Some(i) => format!("{}) {}", Question::key(i), q.choices[i]),
        None => q.answer.clone(),
    }
}

/// The explanation and the decisive event's cause chain.
fn reveal(q: &Question, out: &mut impl Write) {
    if !q.explain.is_empty() {
        let _ = writeln!(out, "  Why: {}", q.explain);
    }
    if let Some((head, steps)) = q.chain.split_first() {
        let _ = writeln!(out, "  {}{}", head[..1].to_uppercase(), &head[1..]);
        for l in steps {
            let _ = writeln!(out, "  {l}");
        }
    }
}

/// One answer line: `None` for a line that is no choice (asked again), `End` at the input's end.
fn read_reply(input: &mut impl BufRead, q: &Question) -> Option<Reply> {
    let line = match read_line(input) {
        None => return Some(Reply::End),
        Some(l) => l,
    };
    let t = line.trim();
    if t.eq_ignore_ascii_case("x") || t.eq_ignore_ascii_case("s") || t.eq_ignore_ascii_case("skip")
    {
        return Some(Reply::Skip);
    }
    let mut chars = t.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => q.choice_of_key(c).map(Reply::Choice),
        _ => None,
    }
}

/// A line of at most [`MAX_LINE`] bytes (the rest is dropped); `None` at the end of input.
fn read_line(input: &mut impl BufRead) -> Option<String> {
    let mut kept = Vec::new();
    let mut any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(_) => return None,
        };
        if buf.is_empty() {
            return any.then(|| String::from_utf8_lossy(&kept).into_owned());
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = MAX_LINE.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        if done.is_some() {
            return Some(String::from_utf8_lossy(&kept).into_owned());
        }
    }
}

/// The scenarios of a quiz over the library: the picker's teaching order, or, with a seed, a
/// shuffle of it that the seed decides (the same seed, the same sequence).
pub fn library_order(seed: Option<u64>) -> Vec<&'static str> {
    let mut names: Vec<(u8, &'static str)> = crate::scenario::bundled()
        .iter()
        .map(|b| {
            let rank = b.parse().map_or(u8::MAX, |sc| sc.scenario.guarantee.rank());
            (rank, b.name)
        })
        .collect();
    names.sort();
    let mut names: Vec<&'static str> = names.into_iter().map(|(_, n)| n).collect();
    if let Some(seed) = seed {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        names.shuffle(&mut rng);
    }
    names
}

/// Runs a quiz over `scenarios` (label and parsed scenario, built one at a time as the quiz
/// reaches them), each at its own seed. Returns the score; the input's end stops early.
pub fn run(
    scenarios: impl IntoIterator<Item = (String, Scenario)>,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> Score {
    let mut score = Score::default();
    let _ = writeln!(
        out,
        "Predict, then reveal: each question pauses a deterministic run; answer with the choice's number or letter (x skips, end of input stops)."
    );
    for (label, sc) in scenarios {
        let quiz = super::build(&label, &sc, sc.scenario.seed, true);
        if !ask_all(&quiz, &setup_text(&sc), input, out, &mut score) {
            break;
        }
    }
    let _ = writeln!(out, "\nQuiz over: {}", score.line());
    score
}
