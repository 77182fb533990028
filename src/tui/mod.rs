//! The interactive view.
//!
//! - [`app`]: the state and key handling (`App::on_key`, `App::tick`);
//! - one module per panel, each an `impl Widget` over borrowed state that never mutates it;
//! - [`run`]: the event loop, generic over ratatui's `Backend` so tests draw into
//!   `TestBackend`, and the real-terminal setup that always restores the terminal.
//!
//! All the simulation logic (stepping, rewinding, injecting) is in [`crate::session`].

pub mod app;
pub mod bench;
pub mod cluster;
pub mod compare;
pub mod coordinator;
pub mod diagram;
pub mod faults;
pub mod groups;
pub mod header;
pub mod help;
pub mod inspect;
pub mod log;
pub mod order;
pub mod outcome;
pub mod picker;
pub mod producers;
pub mod queue;
pub mod quiz;
pub mod run;
pub mod share;
pub mod system;
pub mod theme;
pub mod timeline;

pub use app::{App, Overlay, View};
pub use bench::bench_frames;
pub use run::{run_loop, run_terminal};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::session::Session;

/// Terminals at least this wide get two columns.
pub const WIDE: u16 = 120;

/// The timeline strip: one row, right under the header (row 1 of the screen).
pub const TIMELINE_ROW_HEIGHT: u16 = 1;
pub const TIMELINE_ROW: u16 = 1;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Some(s) = &self.session else {
            picker::PickerView { app: self }.render(area, buf);
            return;
        };
        let [top, strip, body, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(TIMELINE_ROW_HEIGHT),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        header::Header { app: self, s }.render(top, buf);
        timeline::Timeline {
            s,
            now: self.display_time(),
        }
        .render(strip, buf);
        match self.view {
            View::Main => main_body(self, s, body, buf),
            View::Diagram => diagram::Diagram { app: self, s }.render(body, buf),
            View::Order => order::OrderView { app: self, s }.render(body, buf),
            View::Compare => match &self.compare {
                Some(runs) => compare::CompareView { app: self, runs }.render(body, buf),
                None => main_body(self, s, body, buf),
            },
            View::Inspect => match &self.inspector {
                Some(ins) => inspect::InspectView { ins }.render(body, buf),
                None => main_body(self, s, body, buf),
            },
        }
        header::Footer { app: self }.render(bottom, buf);
        if let Some(play) = &self.quiz {
            quiz::ScoreBadge { play }.render(body, buf);
            quiz::QuizPanel { play }.render(body, buf);
        }
        match &self.overlay {
            Some(Overlay::Help) => help::Help { app: self }.render(area, buf),
            Some(Overlay::Glossary(scroll)) => {
                help::GlossaryPage { scroll: *scroll }.render(area, buf)
            }
            Some(Overlay::Faults(menu)) => faults::FaultMenuView { menu, s }.render(area, buf),
            Some(Overlay::Inspect(menu)) => inspect::InspectMenuView { menu }.render(area, buf),
            None => {}
        }
    }
}

/// The main screen: cluster, clients, outcome and log, in one column at 80×24 and two on
/// wide terminals.
fn main_body(app: &App, s: &Session, area: Rect, buf: &mut Buffer) {
    let cluster = cluster::ClusterPanel { app, s };
    let producers = producers::ProducersPanel { s, compact: false };
    let groups = groups::GroupsPanel { s, compact: false };
    let outcome = outcome::OutcomePanel { s };
    let log = log::LogPanel { app, s };
    if area.width >= WIDE {
        // Below 160 columns, 53% still leaves the diagram nine cells a column for six nodes
        // and gives the event log room for a send or an acknowledgement on one line; wider
        // terminals give the replica strips the extra room.
        let left_pct = if area.width < 160 { 53 } else { 55 };
        let [left, right] = Layout::horizontal([
            Constraint::Percentage(left_pct),
            Constraint::Percentage(100 - left_pct),
        ])
        .spacing(1)
        .areas(area);
        // Only the lines that can show are built: the groups' up to the column's height, the
        // producers' twice, first a panel's worth to leave them room under the cluster, then
        // for the rows they get. (The panels have no side borders, so their lines are as wide
        // as the column.)
        let group_lines = groups.lines(left.width, left.height as usize);
        let gh_full = 1 + group_lines.len() as u16;
        // The cluster leaves the clients up to eight rows each.
        let ph_small = 1 + producers.lines(left.width, 7).len() as u16;
        let ch = cluster.height_in(
            left.width,
            left.height.saturating_sub(ph_small + gh_full.min(8)),
        );
        let avail = left.height.saturating_sub(ch);
        // The producers take what they need, but where both panels need more than there is,
        // they leave the groups half of it: fifty producers must not hide the consumers.
        let p_rows = avail.saturating_sub(gh_full.min(avail / 2));
        let producer_lines = producers.lines(left.width, p_rows.saturating_sub(1) as usize);
        let ph = (1 + producer_lines.len() as u16).min(p_rows);
        let rest = avail.saturating_sub(ph);
        // Room left under the groups goes to a live sequence diagram.
        let (gh, dh) = if rest >= gh_full + 10 {
            (gh_full, rest - gh_full)
        } else {
            (rest, 0)
        };
        let [c, p, g, d] = Layout::vertical([
            Constraint::Length(ch),
            Constraint::Length(ph),
            Constraint::Length(gh),
            Constraint::Length(dh),
        ])
        .areas(left);
        cluster.render(c, buf);
        draw_panel(producers::PRODUCERS_TITLE, &producer_lines, p, buf);
        draw_panel(groups::title(&s.sim), &group_lines, g, buf);
        if dh > 0 {
            diagram::Diagram { app, s }.render(d, buf);
        }
        let oh = outcome.height(right.width);
        let [o, l] = Layout::vertical([Constraint::Length(oh), Constraint::Fill(1)]).areas(right);
        outcome.render(o, buf);
        log.render(l, buf);
    } else {
        let clients = ClientsPanel { s };
        let oh = outcome.height(area.width);
        // A third of the body for the log, less the timeline strip's row, so that at 80×24 a
        // partition's three replicas still fit above it.
        let min_log = (area.height.saturating_sub(2) / 3).max(4);
        // A quarter of the screen at most, so a three-group pipeline keeps a line per group.
        let kh_max = (area.height / 4).max(6);
        let mut client_lines = clients.lines(area.width, (kh_max - 1) as usize);
        let mut kh = (1 + client_lines.len() as u16).min(kh_max);
        let mut room = area.height.saturating_sub(oh + kh + min_log);
        // The cluster keeps its title, the brokers and a partition's line: where a large
        // scenario's outcome and clients leave it less, the log and then the clients give rows
        // back (down to three each), so a newcomer always sees which brokers are up.
        let floor = cluster.height_within(area.width, 4);
        if room < floor {
            let short = floor - room;
            let from_log = short.min(min_log.saturating_sub(3));
            let from_clients = (short - from_log).min(kh.saturating_sub(3));
            if from_clients > 0 {
                kh -= from_clients;
                client_lines = clients.lines(area.width, (kh - 1) as usize);
            }
            room += from_log + from_clients;
        }
        let ch = cluster.height_in(area.width, room);
        let [c, k, o, l] = Layout::vertical([
            Constraint::Length(ch),
            Constraint::Length(kh),
            Constraint::Length(oh),
            Constraint::Fill(1),
        ])
        .areas(area);
        cluster.render(c, buf);
        draw_panel(
            if s.sim.settings().system.is_kafka() {
                CLIENTS_TITLE
            } else {
                "Producers · Queues"
            },
            &client_lines,
            k,
            buf,
        );
        outcome.render(o, buf);
        log.render(l, buf);
    }
}

/// Producers and groups in one compact panel, for narrow terminals.
struct ClientsPanel<'a> {
    s: &'a Session,
}

impl ClientsPanel<'_> {
    /// Producers, then groups, for a panel of `rows` rows. Where both need more, the
    /// producers leave the groups half of them and say how many more producers there are; the
    /// groups' lines are cut at the panel's bottom.
    fn lines(&self, width: u16, rows: usize) -> Vec<Line<'static>> {
        let mut group_lines = groups::compact_lines(self.s, width);
        let producer_rows = rows.saturating_sub(group_lines.len().min(rows / 2));
        let mut lines = producers::compact_lines(self.s, width, producer_rows);
        group_lines.truncate(rows.saturating_sub(lines.len()));
        lines.append(&mut group_lines);
        lines
    }
}

/// Whole blocks (one client's lines each, built only until the rows are full) in at most
/// `rows` rows; where not all `total` fit, the last row says how many more there are. A first
/// block taller than the rows shows as much of it as fits.
pub fn fit_blocks(
    blocks: impl Iterator<Item = Vec<Line<'static>>>,
    total: usize,
    rows: usize,
    noun: &str,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if rows == 0 {
        return out;
    }
    let mut shown = 0;
    for block in blocks {
        // The last block needs no row for the "more" line under it.
        let room = if shown + 1 == total { rows } else { rows - 1 };
        if out.len() + block.len() > room {
            if shown == 0 && rows > 1 {
                out.extend(block.into_iter().take(rows - 1));
                shown = 1;
            }
            break;
        }
        out.extend(block);
        shown += 1;
    }
    if shown < total {
        out.push(more_line(total - shown, noun));
    }
    out
}

/// `… 47 more producers` (`… 1 more producer`): what a panel too small for its contents
/// leaves out. `noun` is the plural.
fn more_line(n: usize, noun: &str) -> Line<'static> {
    let noun = if n == 1 {
        noun.strip_suffix('s').unwrap_or(noun)
    } else {
        noun
    };
    Line::from(Span::styled(format!("… {n} more {noun}"), theme::LABEL))
}

const CLIENTS_TITLE: &str = "Producers · Groups";

/// A panel with no hint whose lines are already built: the title rule, then the lines that
/// fit.
pub fn draw_panel(title: &str, lines: &[Line<'_>], area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let inner = panel(title, "", area, buf);
    for (i, line) in lines.iter().take(inner.height as usize).enumerate() {
        put(buf, inner, i as u16, line);
    }
}

/// A panel frame: one rule line with the title (and a hint on the right), content below.
/// Drawn by hand rather than with a `Block`, which restyles every cell of the area.
pub fn panel(title: &str, hint: &str, area: Rect, buf: &mut Buffer) -> Rect {
    if area.height == 0 || area.width == 0 {
        return area;
    }
    let right = area.x + area.width;
    for x in area.x..right {
        buf[(x, area.y)].set_symbol("─").set_style(theme::DIM);
    }
    let tw = theme::width(title) + 2;
    text_at(
        buf,
        area.x + 1,
        area.y,
        &format!(" {title} "),
        theme::TITLE,
        right,
    );
    let hw = theme::width(hint) + 2;
    if !hint.is_empty() && area.width as usize > tw + hw + 4 {
        let x = right - 1 - hw as u16;
        text_at(buf, x, area.y, &format!(" {hint} "), theme::DIM, right);
    }
    Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    }
}

/// Lay `spans` out in `width` columns, breaking only before a span that starts with a space or
/// after one that ends with two, so a label stays with its value (`  ISR ` + `[1,2,3]`). A
/// piece that would overflow starts a new line indented by `indent` (its leading spaces
/// dropped): nothing is cut and lines wrap only when they must. A single piece wider than the
/// line is left to be cut.
pub fn wrap_spans(spans: Vec<Span<'static>>, width: u16, indent: usize) -> Vec<Line<'static>> {
    // Pieces: a span that starts with a space, or follows one that ends with two (`sent 3  `),
    // and the spans glued to it. A label's single trailing space (`sent `) glues its value.
    let mut pieces: Vec<Vec<Span<'static>>> = Vec::new();
    for span in spans {
        match pieces.last_mut() {
            Some(piece)
                if !span.content.starts_with(' ')
                    && !piece.last().is_some_and(|p| p.content.ends_with("  ")) =>
            {
                piece.push(span)
            }
            _ => pieces.push(vec![span]),
        }
    }
    wrap_pieces(pieces, width, indent)
}

/// [`wrap_spans`] with the pieces given: a line breaks only between two pieces.
pub fn wrap_pieces(
    pieces: Vec<Vec<Span<'static>>>,
    width: u16,
    indent: usize,
) -> Vec<Line<'static>> {
    let width = width as usize;
    let mut lines = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for mut piece in pieces.into_iter().filter(|p| !p.is_empty()) {
        let w: usize = piece.iter().map(|s| s.width()).sum();
        if used + w > width && used > indent {
            lines.push(Line::from(std::mem::take(&mut current)));
            current.push(Span::raw(" ".repeat(indent)));
            let first = &piece[0];
            piece[0] = Span::styled(first.content.trim_start().to_string(), first.style);
            used = indent + piece.iter().map(|s| s.width()).sum::<usize>();
            current.extend(piece);
            continue;
        }
        used += w;
        current.extend(piece);
    }
    if !current.is_empty() {
        lines.push(Line::from(current));
    }
    lines
}

/// Write `line` at row `y` of `area`, clipped to its width. ASCII spans are written cell by
/// cell, which is several times cheaper than ratatui's grapheme-aware path (frame cost).
pub fn put(buf: &mut Buffer, area: Rect, y: u16, line: &Line) {
    if y >= area.height {
        return;
    }
    let y = area.y + y;
    let right = area.x + area.width;
    let mut x = area.x;
    if line.alignment == Some(ratatui::layout::HorizontalAlignment::Right) {
        x = right.saturating_sub(line.width() as u16).max(area.x);
    }
    for span in &line.spans {
        if x >= right {
            break;
        }
        let style = line.style.patch(span.style);
        x = text_at(buf, x, y, &span.content, style, right);
    }
}

/// Write `s` at (x, y), not past `right`; returns the column after it.
pub fn text_at(buf: &mut Buffer, x: u16, y: u16, s: &str, style: Style, right: u16) -> u16 {
    if s.is_ascii() {
        let mut x = x;
        for b in s.bytes() {
            if x >= right {
                break;
            }
            buf[(x, y)].set_char(b as char).set_style(style);
            x += 1;
        }
        x
    } else {
        let (nx, _) = buf.set_stringn(x, y, s, right.saturating_sub(x) as usize, style);
        nx
    }
}

/// Fill a rect with a style (for overlays).
pub fn fill(buf: &mut Buffer, area: Rect, style: Style) {
    buf.set_style(area, style);
}

/// A popup of at most `width` × `height`, centred in `area`, cleared for drawing on.
pub(crate) fn popup(area: Rect, width: u16, height: u16, buf: &mut Buffer) -> Rect {
    use ratatui::layout::Flex;
    let [popup] = Layout::horizontal([Constraint::Length(area.width.min(width))])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(popup);
    ratatui::widgets::Clear.render(popup, buf);
    popup
}

#[cfg(test)]
mod wrap_tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    /// Whole blocks while they fit with a row to spare for the count; the last block needs no
    /// spare row; a first block taller than the panel shows in part; blocks past the room are
    /// never built.
    #[test]
    fn blocks_fit_whole_and_the_rest_are_counted() {
        let block = |name: &str, rows: usize| -> Vec<Line<'static>> {
            (0..rows)
                .map(|r| Line::raw(format!("{name}.{r}")))
                .collect()
        };
        let built = std::cell::Cell::new(0);
        let blocks = |sizes: &'static [usize]| {
            let built = &built;
            sizes.iter().enumerate().map(move |(i, &n)| {
                built.set(built.get() + 1);
                block(&format!("p{}", i + 1), n)
            })
        };
        let fit = |sizes: &'static [usize], rows| {
            fit_blocks(blocks(sizes), sizes.len(), rows, "producers")
        };
        assert_eq!(
            text(&fit(&[2, 2, 2], 6)),
            ["p1.0", "p1.1", "p2.0", "p2.1", "p3.0", "p3.1"]
        );
        assert_eq!(
            text(&fit(&[2, 2, 2], 5)),
            ["p1.0", "p1.1", "p2.0", "p2.1", "… 1 more producer"]
        );
        assert_eq!(
            text(&fit(&[2, 2, 2], 4)),
            ["p1.0", "p1.1", "… 2 more producers"]
        );
        assert_eq!(
            text(&fit(&[4, 1], 3)),
            ["p1.0", "p1.1", "… 1 more producer"]
        );
        assert_eq!(text(&fit(&[2, 2], 1)), ["… 2 more producers"]);
        assert!(fit(&[2], 0).is_empty());
        built.set(0);
        let _ = fit(&[1; 50], 5);
        assert_eq!(built.get(), 5, "only the blocks that could show are built");
    }

    #[test]
    fn spans_wrap_only_when_they_must_and_lose_nothing() {
        let spans = || {
            vec![
                Span::raw("checkout  "),
                Span::raw("acks=all"),
                Span::raw("  enable.idempotence=true"),
                Span::raw("  retries=5"),
            ]
        };
        assert_eq!(
            text(&wrap_spans(spans(), 80, 4)),
            ["checkout  acks=all  enable.idempotence=true  retries=5"]
        );
        assert_eq!(
            text(&wrap_spans(spans(), 40, 4)),
            [
                "checkout  acks=all",
                "    enable.idempotence=true  retries=5"
            ]
        );
    }

    #[test]
    fn a_label_wraps_together_with_its_value() {
        let spans = vec![
            Span::raw("  orders/0"),
            Span::raw("  epoch "),
            Span::raw("0"),
            Span::raw("  ISR "),
            Span::raw("[1,2,3]"),
        ];
        assert_eq!(
            text(&wrap_spans(spans, 24, 4)),
            ["  orders/0  epoch 0", "    ISR [1,2,3]"]
        );
        // Trailing spaces: two after a value allow a break, one after a label does not.
        let counts = vec![
            Span::raw("sent "),
            Span::raw("3  "),
            Span::raw("acked "),
            Span::raw("2  "),
            Span::raw("at risk "),
            Span::raw("0  "),
        ];
        assert_eq!(
            text(&wrap_spans(counts, 20, 2)),
            ["sent 3  acked 2  ", "  at risk 0  "]
        );
    }
}
