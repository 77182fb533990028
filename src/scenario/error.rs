//! [`ScenarioError`]: the one error type for every problem with a scenario, rendered like
//! rustc and cargo render theirs:
//!
//! ```text
//! error: scenarios/foo.toml:12:1: unknown field `ack` in [[producers]]
//!    |
//! 12 | ack = "1"
//!    | ^^^
//!    = expected one of `name`, `topic`, `acks`, ...
//!    = help: did you mean `acks`?
//!    = reference: docs/scenarios.md#producers
//! ```
//!
//! The last line, the section of the scenario reference the error is about, is added by
//! [`super::reference::attach`] to every error that points into a file.

use std::fmt;
use std::ops::Range;

/// What kind of problem a [`ScenarioError`] reports. Callers map every kind to exit code 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Neither a file nor a bundled scenario has that name.
    NotFound,
    /// The file exists but could not be read (permissions, a directory, too large, ...).
    Unreadable,
    /// The file is not UTF-8.
    NotUtf8,
    /// The file is not valid TOML.
    Syntax,
    /// Valid TOML that does not fit the scenario format: unknown field, wrong type, bad value.
    Schema,
    /// Fits the format but makes no sense: unknown topic, RF > brokers, a limit exceeded, ...
    Invalid,
}

/// Where in the file an error is: 1-based line and column (counted in characters), and the
/// source line to show with a caret underline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    /// The byte range in the file.
    pub span: Range<usize>,
    /// The offending source line, without its line terminator.
    pub source_line: String,
    /// Width of the underline, in characters of `source_line` (at least 1).
    pub width: usize,
}

impl Location {
    /// Locates `span` in `text`. Never panics: out-of-range spans are clamped and moved back
    /// to character boundaries.
    pub fn new(text: &str, span: Range<usize>) -> Location {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.clamp(start, text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        let column = text[line_start..start].chars().count() + 1;
        let source_line = text[line_start..line_end]
            .strip_suffix('\r')
            .unwrap_or(&text[line_start..line_end])
            .to_string();
        let width = text[start..end.min(line_end)].chars().count().max(1);
        Location {
            line,
            column,
            span: start..end,
            source_line,
            width,
        }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One error in a scenario file, or in finding or reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    file: Option<String>,
    message: String,
    location: Option<Location>,
    expected: Option<String>,
    help: Option<String>,
    /// The anchor of the reference's section this error is about.
    reference: Option<&'static str>,
}

impl ScenarioError {
    /// An error at `span` of `text`.
    pub(crate) fn at(
        kind: ErrorKind,
        file: &str,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            inner: Box::new(Inner {
                kind,
                file: Some(file.to_string()),
                message: message.into(),
                location: Some(Location::new(text, span)),
                expected: None,
                help: None,
                reference: None,
            }),
        }
    }

    /// An error about a file as a whole (or, with `file = None`, about a name).
    pub(crate) fn whole(
        kind: ErrorKind,
        file: Option<&str>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            inner: Box::new(Inner {
                kind,
                file: file.map(str::to_string),
                message: message.into(),
                location: None,
                expected: None,
                help: None,
                reference: None,
            }),
        }
    }

    pub(crate) fn with_expected(mut self, expected: Option<String>) -> ScenarioError {
        self.inner.expected = expected.filter(|e| !e.is_empty());
        self
    }

    pub(crate) fn with_help(mut self, help: Option<String>) -> ScenarioError {
        self.inner.help = help.filter(|h| !h.is_empty());
        self
    }

    pub(crate) fn with_reference(mut self, anchor: Option<&'static str>) -> ScenarioError {
        self.inner.reference = anchor;
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The file label the error is about (`None` for a name that matched nothing).
    pub fn file(&self) -> Option<&str> {
        self.inner.file.as_deref()
    }

    /// What was wrong, in one line.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    pub fn location(&self) -> Option<&Location> {
        self.inner.location.as_ref()
    }

    /// 1-based line, if the error points into the file.
    pub fn line(&self) -> Option<usize> {
        self.inner.location.as_ref().map(|l| l.line)
    }

    /// 1-based column in characters, if the error points into the file.
    pub fn column(&self) -> Option<usize> {
        self.inner.location.as_ref().map(|l| l.column)
    }

    /// What was expected instead, rendered after "expected ".
    pub fn expected(&self) -> Option<&str> {
        self.inner.expected.as_deref()
    }

    /// An extra hint: a likely fix or the reason for a limit.
    pub fn help(&self) -> Option<&str> {
        self.inner.help.as_deref()
    }

    /// The section of the scenario reference this error is about, as a link:
    /// `docs/scenarios.md#producers`.
    pub fn reference(&self) -> Option<String> {
        self.inner.reference.map(super::reference::link)
    }
}

/// Longest source line shown before the line is cut around the error.
const MAX_SHOWN: usize = 100;

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: ")?;
        match (&self.inner.file, &self.inner.location) {
            (Some(file), Some(loc)) => write!(f, "{file}:{}:{}: ", loc.line, loc.column)?,
            (Some(file), None) => write!(f, "{file}: ")?,
            (None, _) => {}
        }
        write!(f, "{}", self.inner.message)?;
        let pad = match &self.inner.location {
            Some(loc) => {
                let pad = " ".repeat(loc.line.to_string().len());
                let (shown, caret_at, caret_width) = shown_line(loc);
                write!(f, "\n{pad} |\n{} | {shown}", loc.line)?;
                write!(
                    f,
                    "\n{pad} | {}{}",
                    " ".repeat(caret_at),
                    "^".repeat(caret_width)
                )?;
                pad
            }
            None => " ".to_string(),
        };
        if let Some(expected) = &self.inner.expected {
            write!(f, "\n{pad} = expected {expected}")?;
        }
        if let Some(help) = &self.inner.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        if let Some(link) = self.reference() {
            write!(f, "\n{pad} = reference: {link}")?;
        }
        Ok(())
    }
}

/// The source line as shown: tabs expanded, control characters replaced, and cut to a window
/// around the error if it is very long. Returns it with the caret's display offset and width.
fn shown_line(loc: &Location) -> (String, usize, usize) {
    let chars: Vec<char> = loc.source_line.chars().collect();
    let col = (loc.column - 1).min(chars.len());
    let end = (col + loc.width).min(chars.len()).max(col);
    // The window of characters to show.
    let (from, to) = if chars.len() <= MAX_SHOWN {
        (0, chars.len())
    } else {
        let from = col.saturating_sub(MAX_SHOWN / 3);
        (from, (from + MAX_SHOWN).min(chars.len()))
    };
    let mut shown = String::new();
    let mut caret_at = 0;
    let mut caret_end = 0;
    if from > 0 {
        shown.push_str("...");
    }
    for (i, &c) in chars.iter().enumerate().take(to).skip(from) {
        if i == col {
            caret_at = shown.chars().count();
        }
        match c {
            '\t' => shown.push_str("    "),
            c if c.is_control() => shown.push('\u{fffd}'),
            c => shown.push(c),
        }
        if i < end {
            caret_end = shown.chars().count();
        }
    }
    if col >= to {
        caret_at = shown.chars().count();
    }
    if to < chars.len() {
        shown.push_str("...");
    }
    let width = caret_end.saturating_sub(caret_at).max(1);
    (shown, caret_at, width)
}

impl std::error::Error for ScenarioError {}

/// Levenshtein distance in characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if word.chars().count() > 200 {
        return None;
    }
    let norm = |s: &str| s.to_lowercase().replace('-', "_");
    let lower = norm(word);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let cn = norm(c);
        // Typos cost edits; a missing suffix (`every` for `every_ms`) costs nothing.
        let d = if cn.starts_with(&lower) && lower.chars().count() >= 3 {
            0
        } else {
            edit_distance(&lower, &cn)
        };
        // Short names (`"0"`, `"1"`) are too close to everything to suggest.
        let limit = c.chars().count() / 3;
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean `x`?` as a help line.
pub(crate) fn suggestion<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_clamps_and_counts_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let loc = Location::new(text, 11..14);
        assert_eq!((loc.line, loc.column), (2, 5));
        assert_eq!(loc.source_line, "bé = \"x\"");
        let loc = Location::new(text, 1000..2000);
        assert_eq!(loc.line, 3);
        let loc = Location::new("", 0..0);
        assert_eq!((loc.line, loc.column, loc.width), (1, 1, 1));
        // Inside a multi-byte character.
        let loc = Location::new("é", 1..2);
        assert_eq!(loc.column, 1);
    }

    #[test]
    fn render() {
        let text = "[scenario]\ntitle = \"x\"\nack = \"1\"\n";
        let e = ScenarioError::at(
            ErrorKind::Schema,
            "f.toml",
            text,
            23..26,
            "unknown field `ack`",
        )
        .with_expected(Some("one of `acks`".into()));
        assert_eq!(
            e.to_string(),
            "error: f.toml:3:1: unknown field `ack`\n  |\n3 | ack = \"1\"\n  | ^^^\n  = expected one of `acks`"
        );
    }

    #[test]
    fn long_lines_are_cut() {
        let text = format!("{}x = 1{}", "a".repeat(500), "b".repeat(500));
        let e = ScenarioError::at(ErrorKind::Syntax, "f", &text, 500..501, "bad");
        let s = e.to_string();
        assert!(s.lines().all(|l| l.chars().count() < 130), "{s}");
        let lines: Vec<&str> = s.lines().collect();
        let caret = lines[3].find('^').unwrap();
        assert_eq!(&lines[2][caret..caret + 1], "x");
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("ack", ["acks", "name"]), Some("acks"));
        assert_eq!(did_you_mean("zzzz", ["acks", "name"]), None);
        assert_eq!(
            did_you_mean("not_enough_replicas", ["NOT_ENOUGH_REPLICAS"]),
            Some("NOT_ENOUGH_REPLICAS")
        );
    }
}
