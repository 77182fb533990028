//! The quiz panel: the question on screen with its choices, then the reveal (✓ right, ✗ wrong
//! or skipped, the explanation and the decisive event's cause chain), over the lower part of the
//! main screen (the right column on wide terminals) so the state stays in view; and the score
//! on the top rule while the quiz is on.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::{WIDE, panel, put, theme};
use crate::quiz::Question;
use crate::quiz::play::{Phase, QuizPlay};

pub struct QuizPanel<'a> {
    pub play: &'a QuizPlay,
}

/// The score, right-aligned on the body's top rule: `quiz ✓2 ✗1 · 3 of 7`.
pub struct ScoreBadge<'a> {
    pub play: &'a QuizPlay,
}

impl Widget for ScoreBadge<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if !self.play.on || area.height == 0 {
            return;
        }
        let sc = self.play.score;
        let text = format!(
            " quiz ✓{} right ✗{} wrong · {} of {} asked ",
            sc.right,
            sc.wrong,
            self.play.next.min(self.play.quiz.questions.len()),
            self.play.total()
        );
        let line = Line::styled(text, theme::KEY).right_aligned();
        put(buf, area, 0, &line);
    }
}

impl Widget for QuizPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (Some(phase), Some(q)) = (self.play.phase, self.play.current()) else {
            return;
        };
        let area = panel_area(area);
        Clear.render(area, buf);
        let (index, revealed) = match phase {
            Phase::Asking(i) => (i, None),
            Phase::Revealed(i, choice) => (i, Some(choice)),
        };
        let number = self.play.quiz.questions[..=index]
            .iter()
            .filter(|q| q.correct.is_some())
            .count();
        let title = format!(
            "Quiz {number}/{} · at {} · {}",
            self.play.total(),
            theme::time(q.ask_at).trim(),
            if q.is_auto() {
                "drawn from the run"
            } else {
                "from the scenario"
            }
        );
        let hint = match revealed {
            None => format!(
                "1-{} or a-{} answer · x skip · Q quiz off",
                q.choices.len(),
                (b'a' + q.choices.len() as u8 - 1) as char
            ),
            Some(_) => "Enter go on · Q quiz off".to_string(),
        };
        let inner = panel(&title, "", area, buf);
        // The keys on the last row, always in view.
        if inner.height > 1 {
            let last = inner.height - 1;
            put(
                buf,
                inner,
                last,
                &Line::styled(theme::fit(&hint, inner.width as usize), theme::KEY),
            );
        }
        let inner = Rect {
            height: inner.height.saturating_sub(1),
            ..inner
        };
        let w = inner.width as usize;
        let mut lines: Vec<Line> = Vec::new();
        match revealed {
            None => {
                for row in theme::wrap(&q.question, w) {
                    lines.push(Line::styled(row, theme::BOLD));
                }
                lines.push(Line::raw(""));
                for (i, c) in q.choices.iter().enumerate() {
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!(" {} {} ", Question::key(i), (b'a' + i as u8) as char),
                            theme::KEY,
                        ),
                        Span::styled(theme::fit(c, w.saturating_sub(6)), theme::LABEL),
                    ]));
                }
                lines.push(Line::raw(""));
                lines.push(Line::styled(
                    "The run is paused here: predict, then see what it does.",
                    theme::DIM,
                ));
                lines.push(Line::raw(""));
            }
            Some(choice) => reveal_lines(q, choice, w, inner.height as usize, &mut lines),
        }
        for (y, line) in lines.iter().take(inner.height as usize).enumerate() {
            put(buf, inner, y as u16, line);
        }
    }
}

/// The rows the panel covers: the lower part of the screen (most of it on short terminals), or
/// the right column on wide ones, so the cluster stays in view.
fn panel_area(area: Rect) -> Rect {
    if area.width >= WIDE {
        // The main screen's right column (outcome and log), from the gap before it.
        let left_pct = if area.width < 160 { 53 } else { 55 };
        let left = area.width * left_pct / 100;
        Rect {
            x: area.x + left,
            width: area.width - left,
            ..area
        }
    } else {
        let h = (area.height * 3 / 5).max(area.height.min(12));
        Rect {
            y: area.y + area.height - h,
            height: h,
            ..area
        }
    }
}

fn reveal_lines(q: &Question, choice: Option<usize>, w: usize, height: usize, out: &mut Vec<Line>) {
    let right = choice.is_some_and(|c| q.is_right(c));
    let verdict = match choice {
        Some(_) if right => Line::styled("✓ right", theme::GOOD),
        Some(_) => Line::styled("✗ wrong", theme::LOSS),
        None => Line::styled("○ skipped", theme::LABEL),
    };
    out.push(verdict);
    for (i, c) in q.choices.iter().enumerate() {
        let (mark, style) = if q.is_right(i) {
            ("✓ the answer", theme::GOOD)
        } else if choice == Some(i) {
            ("✗ your choice", theme::LOSS)
        } else {
            ("", theme::DIM)
        };
        let text = format!(" {} {c}", Question::key(i));
        let room = w.saturating_sub(mark.len() + 2);
        out.push(Line::from(vec![
            Span::styled(format!("{:<room$}", theme::fit(&text, room)), style),
            Span::styled(format!("  {mark}"), style),
        ]));
    }
    let mut rest: Vec<Line> = Vec::new();
    if !q.explain.is_empty() {
        for row in theme::wrap(&format!("Why: {}", q.explain), w) {
            rest.push(Line::styled(row, theme::LABEL));
        }
    }
    // The chain's last steps (what decided it) get the rows that are left.
    let room = height.saturating_sub(out.len() + rest.len() + 1);
    if room >= 2
        && let Some((head, steps)) = q.chain.split_first()
    {
        rest.push(Line::styled(theme::fit(head, w), theme::DIM));
        let take = (room - 1).min(steps.len());
        for l in &steps[steps.len() - take..] {
            rest.push(Line::styled(theme::fit(l.trim_start(), w), theme::LABEL));
        }
    }
    out.extend(rest);
}
