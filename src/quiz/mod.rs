//! Predict, then reveal: questions asked at moments of a run, answered from the run itself.
//!
//! A run is deterministic, so [`build`] runs the scenario once headless, keeping its whole trace
//! (a [`Recording`]) and the final checker, and computes every answer from them before anything
//! is asked:
//!
//! - [`written`]: the scenario's `[[quiz]]` questions; each answer is a check on the run's
//!   state or outcome, and the right choice is the one whose text equals the computed value;
//! - [`auto`]: questions drawn from the trace at notable moments of any scenario (an election,
//!   a truncation, a rebalance, a retry that overtakes, the verdict);
//! - [`text`]: `brokerlab quiz`, the plain-text interview practice over the library.
//!
//! The reveal shows the cause chain of the event that decided the answer (`crate::life`).

pub mod auto;
pub mod play;
pub mod text;
pub mod written;

use crate::check::{Checker, CheckerSetup};
use crate::life::Recording;
use crate::report::fmt_time;
use crate::scenario::Scenario;
use crate::sim::{EventId, SimTime};

/// Reveal chains show at most this many steps (the last ones, which decide the answer).
const MAX_CHAIN_STEPS: usize = 8;

/// Where a question came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The scenario's `[[quiz]]` entry with this index.
    Written(usize),
    /// Drawn from the run at a notable moment.
    Auto(AutoKind),
}

/// The notable moments automatic questions are asked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoKind {
    Election,
    AboveHighWatermark,
    Truncation,
    Rebalance,
    RetryOvertakes,
    Verdict,
}

/// One question, with its answer already computed from the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub source: Source,
    /// The run pauses once every event up to this time has happened.
    pub ask_at: SimTime,
    pub question: String,
    pub choices: Vec<String>,
    /// The value the run computed for the answer's check.
    pub answer: String,
    /// The choice equal to `answer`; `None` when no choice is (a broken hand-written quiz:
    /// the bundled ones are tested never to be).
    pub correct: Option<usize>,
    /// Why, citing the Kafka rule.
    pub explain: String,
    /// The decisive event's cause chain, one line a step, oldest first.
    pub chain: Vec<String>,
    /// The moment that shows the answer: (simulation step, time) of the decisive event.
    pub reveal_at: Option<(u64, SimTime)>,
}

impl Question {
    fn new(source: Source, ask_at: SimTime, question: String, choices: Vec<String>) -> Question {
        Question {
            source,
            ask_at,
            question,
            choices,
            answer: String::new(),
            correct: None,
            explain: String::new(),
            chain: Vec::new(),
            reveal_at: None,
        }
    }

    /// Sets the computed answer and finds the choice that equals it.
    fn answered(mut self, answer: String) -> Question {
        self.correct = self.choices.iter().position(|c| c.trim() == answer);
        self.answer = answer;
        self
    }

    /// Whether choice `i` is right.
    pub fn is_right(&self, i: usize) -> bool {
        self.correct == Some(i)
    }

    /// The choice's key: `1`…`6`.
    pub fn key(i: usize) -> char {
        (b'1' + i as u8) as char
    }

    /// A key (`1`-`6` or `a`-`f`) as a choice index, if the question has that choice.
    pub fn choice_of_key(&self, c: char) -> Option<usize> {
        let i = match c {
            '1'..='6' => c as usize - '1' as usize,
            'a'..='f' => c as usize - 'a' as usize,
            'A'..='F' => c as usize - 'A' as usize,
            _ => return None,
        };
        (i < self.choices.len()).then_some(i)
    }

    pub fn is_auto(&self) -> bool {
        matches!(self.source, Source::Auto(_))
    }
}

/// Every question of one run, in the order they are asked.
#[derive(Clone, Debug)]
pub struct Quiz {
    pub label: String,
    pub title: String,
    pub summary: String,
    pub seed: u64,
    pub questions: Vec<Question>,
}

/// A finished run, kept whole: what the answers are computed from.
pub struct Analysis<'a> {
    pub scenario: &'a Scenario,
    pub rec: Recording,
    pub checker: Checker,
}

impl<'a> Analysis<'a> {
    pub fn new(scenario: &'a Scenario, seed: u64) -> Analysis<'a> {
        let rec = crate::life::record(scenario, seed);
        let setup = CheckerSetup::from_scenario(scenario).expect("validated scenario");
        let mut checker = Checker::new(setup);
        for ev in &rec.events {
            checker.observe(ev);
        }
        checker.set_final(true);
        Analysis {
            scenario,
            rec,
            checker,
        }
    }

    /// The cause chain of event `id`, root first, as lines (at most [`MAX_CHAIN_STEPS`]).
    pub fn chain_lines(&self, id: EventId) -> Vec<String> {
        let steps = self.rec.chain(id);
        let mut out = vec!["the cause chain, each step caused by the one before:".to_string()];
        out.extend(self.lines(&steps));
        out
    }

    fn lines(&self, steps: &[crate::life::Step]) -> Vec<String> {
        let skip = steps.len().saturating_sub(MAX_CHAIN_STEPS);
        let mut out: Vec<String> = Vec::new();
        if skip > 0 {
            out.push(format!(
                "… {skip} earlier step(s): `run --explain` has them all"
            ));
        }
        out.extend(steps[skip..].iter().map(|st| {
            format!(
                "{:>8} {:>6}  {}",
                fmt_time(st.time).trim(),
                st.id.to_string(),
                st.text.trim_start()
            )
        }));
        out
    }

    /// `msg`'s story as `group` saw it (`crate::life::Recording::story`), headed by its name,
    /// for the reveal, and the moment of its last step (what decided its fate).
    pub fn reveal_msg(
        &self,
        q: &mut Question,
        msg: crate::sim::MsgId,
        group: Option<crate::sim::GroupId>,
    ) {
        let story = self.rec.story(msg, group);
        let Some(last) = story.last() else { return };
        q.reveal_at = self.moment_of(last.id);
        let name = self.rec.sim.msg_name(msg);
        q.chain = vec![format!(
            "how {name} got there (`brokerlab run --explain {name}` has every step):"
        )];
        q.chain.extend(self.lines(&story));
    }

    /// The (step, time) at which event `id` happened.
    pub fn moment_of(&self, id: EventId) -> Option<(u64, SimTime)> {
        let ev = self.rec.event(id)?;
        Some((self.rec.step_of[id.0 as usize], ev.time))
    }
}

/// Runs the scenario once and builds its questions: the written ones, then the automatic ones
/// (`auto` false leaves them out), ordered by when they are asked.
pub fn build(label: &str, scenario: &Scenario, seed: u64, with_auto: bool) -> Quiz {
    let a = Analysis::new(scenario, seed);
    let mut questions = written::questions(&a);
    if with_auto {
        questions.extend(auto::questions(&a));
    }
    // Stable: at the same moment, written questions first.
    questions.sort_by_key(|q| q.ask_at);
    Quiz {
        label: label.to_string(),
        title: scenario.scenario.title.clone(),
        summary: scenario.scenario.summary.clone(),
        seed,
        questions,
    }
}
