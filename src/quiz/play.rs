//! A quiz being played along a run (the interactive view's quiz): which question is next, the
//! one on screen, and the score. No drawing and no simulation here: the view asks
//! [`QuizPlay::due`] as its run advances and hands the answers in.

use super::{Question, Quiz};
use crate::sim::SimTime;

/// The question on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a choice.
    Asking(usize),
    /// Answered (`Some(choice)`) or skipped (`None`): the answer and why are shown.
    Revealed(usize, Option<usize>),
}

#[derive(Clone, Debug)]
pub struct QuizPlay {
    pub quiz: Quiz,
    /// Whether questions are asked (`Q` turns it off and on).
    pub on: bool,
    /// The next question not yet asked.
    pub next: usize,
    pub phase: Option<Phase>,
    pub score: super::text::Score,
}

impl QuizPlay {
    pub fn new(quiz: Quiz, on: bool) -> QuizPlay {
        QuizPlay {
            quiz,
            on,
            next: 0,
            phase: None,
            score: Default::default(),
        }
    }

    /// Questions that can be asked: those whose computed answer is one of their choices.
    fn askable(&self, i: usize) -> bool {
        self.quiz.questions[i].correct.is_some()
    }

    /// When the next question is asked, if the quiz is on and one is left.
    pub fn next_moment(&self) -> Option<SimTime> {
        if !self.on || self.phase.is_some() {
            return None;
        }
        (self.next..self.quiz.questions.len())
            .find(|&i| self.askable(i))
            .map(|i| self.quiz.questions[i].ask_at)
    }

    /// Opens the next question if the run has reached its moment (`reached` says whether every
    /// event up to a time has happened). Returns whether one opened.
    pub fn due(&mut self, reached: impl Fn(SimTime) -> bool) -> bool {
        if !self.on || self.phase.is_some() {
            return false;
        }
        while self.next < self.quiz.questions.len() && !self.askable(self.next) {
            self.next += 1;
        }
        let Some(q) = self.quiz.questions.get(self.next) else {
            return false;
        };
        if !reached(q.ask_at) {
            return false;
        }
        self.phase = Some(Phase::Asking(self.next));
        self.next += 1;
        true
    }

    /// The question on screen.
    pub fn current(&self) -> Option<&Question> {
        match self.phase? {
            Phase::Asking(i) | Phase::Revealed(i, _) => self.quiz.questions.get(i),
        }
    }

    /// Answers the question on screen with `choice` (`None` skips). Returns the reveal moment
    /// to show, when showing it skips no later question.
    pub fn answer(&mut self, choice: Option<usize>) -> Option<(u64, SimTime)> {
        let Some(Phase::Asking(i)) = self.phase else {
            return None;
        };
        let q = &self.quiz.questions[i];
        match choice {
            Some(c) if q.is_right(c) => self.score.right += 1,
            Some(_) => self.score.wrong += 1,
            None => self.score.skipped += 1,
        }
        self.phase = Some(Phase::Revealed(i, choice));
        let reveal = q.reveal_at?;
        let later = (self.next..self.quiz.questions.len())
            .filter(|&j| self.askable(j))
            .map(|j| self.quiz.questions[j].ask_at)
            .next();
        later.is_none_or(|t| t >= reveal.1).then_some(reveal)
    }

    /// Closes the revealed question.
    pub fn close(&mut self) {
        if matches!(self.phase, Some(Phase::Revealed(..))) {
            self.phase = None;
        }
    }

    /// Whether a question (asked or revealed) is on screen.
    pub fn open(&self) -> bool {
        self.phase.is_some()
    }

    /// Questions that will be asked in all.
    pub fn total(&self) -> usize {
        (0..self.quiz.questions.len())
            .filter(|&i| self.askable(i))
            .count()
    }

    /// Back to the first question with a clean score (the run restarted).
    pub fn restart(&mut self) {
        self.next = 0;
        self.phase = None;
        self.score = Default::default();
    }
}
