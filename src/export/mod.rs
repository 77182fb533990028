//! `brokerlab export`: a run for slides and sharing. The sequence diagram as SVG or as a
//! Mermaid `sequenceDiagram`, an asciicast v2 recording of the TUI playing the run, or one
//! self-contained HTML page. Everything is read from the run's trace (see [`sequence`]), and
//! the same scenario, seed, format and window always give the same bytes: no wall clock, no
//! environment, integer layout.

pub mod cast;
pub mod html;
pub mod mermaid;
pub mod sequence;
pub mod svg;

use crate::scenario::Scenario;
use crate::sim::SimTime;

/// What `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The sequence diagram as an SVG picture.
    Svg,
    /// The sequence diagram as a Mermaid `sequenceDiagram`, for Markdown slides and docs.
    Mermaid,
    /// An asciicast v2 recording of the TUI playing the run, for asciinema players.
    Cast,
    /// One self-contained page: notes, diagram, narrated trace, outcome and why.
    Html,
}

/// The stretch of simulated time an export shows: `from` to `to`, both included; `to` is the
/// end of the run when `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: SimTime,
    pub to: Option<SimTime>,
}

impl Window {
    /// The whole run.
    pub const WHOLE: Window = Window {
        from: SimTime::ZERO,
        to: None,
    };

    /// A window from `--from` and `--to`; an error when it ends before it starts.
    pub fn new(from: Option<SimTime>, to: Option<SimTime>) -> Result<Window, String> {
        let from = from.unwrap_or(SimTime::ZERO);
        if let Some(to) = to
            && to < from
        {
            return Err(format!(
                "--from {} is after --to {}: the window must start before it ends",
                fmt_time(from),
                fmt_time(to)
            ));
        }
        Ok(Window { from, to })
    }

    pub fn contains(&self, t: SimTime) -> bool {
        t >= self.from && self.to.is_none_or(|to| t <= to)
    }

    /// Whether `t` is past the window's end.
    pub fn is_after(&self, t: SimTime) -> bool {
        self.to.is_some_and(|to| t > to)
    }

    /// `0.000s–20.412s`, with the run's end standing in for an open end.
    pub fn text(&self, run_end: SimTime) -> String {
        let to = self.to.unwrap_or(run_end).min(run_end.max(self.from));
        format!("{}–{}", fmt_time(self.from), fmt_time(to))
    }

    /// An error when the window starts after the run has ended.
    pub fn check_within(&self, run_end: SimTime) -> Result<(), String> {
        if self.from > run_end {
            return Err(format!(
                "--from {} is after the end of the run ({}): nothing happens in that window",
                fmt_time(self.from),
                fmt_time(run_end)
            ));
        }
        Ok(())
    }
}

/// `12.345s`, the way the reports write times (to the microsecond when it has them).
pub fn fmt_time(t: SimTime) -> String {
    if t.0.is_multiple_of(1000) {
        crate::report::fmt_time(t)
    } else {
        format!("{}.{:06}s", t.0 / 1_000_000, t.0 % 1_000_000)
    }
}

/// The largest time `--from` and `--to` accept: a day, far past any scenario's end.
const MAX_TIME_US: u64 = 86_400 * 1_000_000;

/// Parses `--from`/`--to`: seconds (`1.5`, `1.5s`) or milliseconds (`1500ms`), as the reports
/// print times in seconds with a unit. Microseconds are the finest step.
pub fn parse_time(text: &str) -> Result<SimTime, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "`{text}` is not a time: expected seconds like `1.5` or `1.5s`, or milliseconds like \
             `1500ms`"
        )
    };
    let (number, unit_us, decimals) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1_000u64, 3u32)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1_000_000, 6)
    } else {
        (t, 1_000_000, 6)
    };
    let number = number.trim_end();
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits(whole) || !digits(frac) {
        return Err(bad());
    }
    if frac.len() > decimals as usize {
        return Err(format!(
            "`{text}` is finer than a microsecond, the simulation's time step"
        ));
    }
    let too_late = || format!("`{text}` is later than a day into the run");
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_late())?
    };
    // `frac` has at most `decimals` digits, and 10^decimals units of it make the unit, so
    // padded to `decimals` digits it counts microseconds.
    let frac_us = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().map_err(|_| bad())? * 10u64.pow(decimals - frac.len() as u32)
    };
    let us = whole
        .checked_mul(unit_us)
        .and_then(|w| w.checked_add(frac_us))
        .filter(|&us| us <= MAX_TIME_US)
        .ok_or_else(too_late)?;
    Ok(SimTime(us))
}

/// The export of `scenario` (loaded as `label`) run with `seed`, in `format`, over `window`.
/// An error is a sentence for the user (bad window, too much to draw).
pub fn export(
    label: &str,
    scenario: &Scenario,
    seed: u64,
    format: Format,
    window: Window,
) -> Result<Vec<u8>, String> {
    match format {
        Format::Svg => {
            let run = sequence::capture(label, scenario, seed, window, false)?;
            Ok(svg::document(&run.sequence).into_bytes())
        }
        Format::Mermaid => {
            let run = sequence::capture(label, scenario, seed, window, false)?;
            Ok(mermaid::diagram(&run.sequence).into_bytes())
        }
        Format::Html => {
            let run = sequence::capture(label, scenario, seed, window, true)?;
            Ok(html::page(scenario, &run).into_bytes())
        }
        Format::Cast => {
            cast::record(label, scenario, seed, window, cast::Size::DEFAULT).map(String::into_bytes)
        }
    }
}

/// A note for the user about an export that worked but may not open as is.
pub fn warning(format: Format, bytes: &[u8]) -> Option<String> {
    (format == Format::Mermaid && bytes.len() > mermaid::MAX_TEXT_SIZE).then(|| {
        format!(
            "note: this diagram has {} characters; Mermaid draws at most {} unless its \
             maxTextSize is raised: narrow the window with --from and --to",
            bytes.len(),
            mermaid::MAX_TEXT_SIZE
        )
    })
}

/// Greedy word wrap to `width` characters.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Text for XML and HTML: `&`, `<`, `>` and quotes escaped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_seconds_or_with_a_unit() {
        assert_eq!(parse_time("1.5"), Ok(SimTime(1_500_000)));
        assert_eq!(parse_time("1.5s"), Ok(SimTime(1_500_000)));
        assert_eq!(parse_time("1500ms"), Ok(SimTime(1_500_000)));
        assert_eq!(parse_time("0.25ms"), Ok(SimTime(250)));
        assert_eq!(parse_time("2"), Ok(SimTime(2_000_000)));
        assert_eq!(parse_time(".5"), Ok(SimTime(500_000)));
        assert_eq!(parse_time("0.000001"), Ok(SimTime(1)));
        for bad in ["", "s", "ms", "-1", "1.2.3", "abc", "1,5", "1.5 min", "1e3"] {
            assert!(parse_time(bad).is_err(), "{bad} parsed");
        }
        assert!(parse_time("0.0000001").unwrap_err().contains("microsecond"));
        assert!(parse_time("99999999999999999999").is_err());
        assert!(parse_time("90000").unwrap_err().contains("day"));
    }

    #[test]
    fn a_window_must_start_before_it_ends_and_within_the_run() {
        let w = Window::new(Some(SimTime(2)), Some(SimTime(1)));
        assert!(w.unwrap_err().contains("after --to"));
        let w = Window::new(Some(SimTime::from_ms(5000)), None).unwrap();
        assert!(w.check_within(SimTime::from_ms(4000)).is_err());
        assert!(w.check_within(SimTime::from_ms(5000)).is_ok());
        assert!(w.contains(SimTime::from_ms(6000)));
        assert!(!w.contains(SimTime::from_ms(4999)));
        assert_eq!(w.text(SimTime::from_ms(8000)), "5.000s–8.000s");
    }

    #[test]
    fn wrap_keeps_words_whole_and_lines_short() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("", 6), vec![String::new()]);
        assert_eq!(wrap("toolongword x", 4), vec!["toolongword", "x"]);
    }

    #[test]
    fn xml_escape_escapes_markup_and_drops_control_characters() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>\u{7}"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt; "
        );
    }
}
