//! The sequence diagram as a Mermaid `sequenceDiagram`, for Markdown slides and docs.
//!
//! Mermaid cannot slant an arrow, so each message is one line at its send time: `->>` when it
//! arrived, `-x` when it was dropped (the label says why). A connection reset comes from a
//! `network` participant (added only when the window has one): the dead process sends nothing.
//! Faults and narration are `Note over` every participant; crashes and restarts are notes over
//! their node.
//!
//! What the grammar needs (Mermaid's sequence lexer): participant ids are letters, digits and
//! `_` and no keyword; text after `:` may not hold `;` (a statement break) or `#` (an entity
//! code), so both are written as entity codes (`#59;`, `#35;`), as are `<` and `>` (read as
//! HTML); a line break in a note is `<br/>`.

use std::fmt::Write as _;

use super::sequence::{End, Item, Sequence};

/// Words Mermaid's sequence grammar reserves; a participant id never is one.
const KEYWORDS: [&str; 32] = [
    "participant",
    "actor",
    "as",
    "note",
    "over",
    "left",
    "right",
    "of",
    "loop",
    "alt",
    "else",
    "opt",
    "par",
    "and",
    "rect",
    "end",
    "critical",
    "break",
    "box",
    "autonumber",
    "activate",
    "deactivate",
    "title",
    "link",
    "links",
    "properties",
    "details",
    "create",
    "destroy",
    "off",
    "accdescr",
    "acctitle",
];

/// The id a node goes by: its name with everything but letters, digits and `_` made `_`,
/// never a keyword, never starting with a digit, never another node's id.
fn ids(names: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let mut id: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if id.is_empty()
            || id.starts_with(|c: char| c.is_ascii_digit())
            || KEYWORDS.contains(&id.to_ascii_lowercase().as_str())
        {
            id.insert_str(0, "n_");
        }
        if out.contains(&id) || id == NETWORK {
            id.push_str(&format!("_{i}"));
        }
        out.push(id);
    }
    out
}

/// Mermaid refuses a diagram longer than this by default (its `maxTextSize`).
pub const MAX_TEXT_SIZE: usize = 50_000;

/// The reset participant's id.
const NETWORK: &str = "network";

/// Text after a `:` or an `as`, made safe for Mermaid's grammar.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Note text, escaped and broken into lines of about `width` characters with `<br/>`.
fn note_text(text: &str, width: usize) -> String {
    super::wrap(text, width)
        .iter()
        .map(|l| escape(l))
        .collect::<Vec<_>>()
        .join("<br/>")
}

/// The `sequenceDiagram` text.
pub fn diagram(seq: &Sequence) -> String {
    let names: Vec<&str> = seq.columns.iter().map(|c| c.name.as_str()).collect();
    let ids = ids(&names);
    let id = |node| seq.column(node).map(|c| ids[c].as_str());
    let mut s = String::new();
    let _ = writeln!(s, "%% {}", escape(&seq.title));
    let _ = writeln!(
        s,
        "%% {} · seed {} · {} · made by brokerlab export",
        escape(&seq.label),
        seq.seed,
        seq.window_text()
    );
    s.push_str("sequenceDiagram\n");
    for (c, col) in seq.columns.iter().enumerate() {
        let _ = writeln!(s, "    participant {} as {}", ids[c], escape(&col.name));
    }
    if seq
        .items
        .iter()
        .any(|i| matches!(i, Item::Arrow(a) if a.reset))
    {
        let _ = writeln!(s, "    participant {NETWORK} as ⚡ network");
    }
    let everyone = match (ids.first(), ids.last()) {
        (Some(a), Some(b)) if a != b => format!("{a},{b}"),
        (Some(a), _) => a.clone(),
        _ => return s,
    };
    let mut last_time = String::new();
    for item in &seq.items {
        let t = crate::report::fmt_time(item.time());
        if last_time != t {
            let _ = writeln!(s, "    %% {t}");
            last_time = t;
        }
        match item {
            Item::Arrow(a) => {
                let (Some(to), Some(from)) = (id(a.to), id(a.from)) else {
                    continue;
                };
                let from = if a.reset { NETWORK } else { from };
                let line = match a.end_kind {
                    End::Arrived => "->>",
                    End::Dropped(_) => "-x",
                };
                let dotted = if a.reset { "-" } else { "" };
                let _ = writeln!(s, "    {from}{dotted}{line}{to}: {}", escape(&a.label));
            }
            Item::Mark { node, mark, .. } => {
                if let Some(n) = id(*node) {
                    let _ = writeln!(s, "    Note over {n}: {}", escape(&mark.text()));
                }
            }
            Item::Fault { text, .. } => {
                let _ = writeln!(
                    s,
                    "    Note over {everyone}: {}",
                    note_text(&format!("⚡ fault: {text}"), 60)
                );
            }
            Item::Note { text, .. } => {
                let _ = writeln!(
                    s,
                    "    Note over {everyone}: {}",
                    note_text(&format!("» {text}"), 60)
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_words_and_distinct() {
        assert_eq!(
            ids(&[
                "broker-1",
                "billing/consumer-1",
                "end",
                "9lives",
                "broker_1",
                "network"
            ]),
            vec![
                "broker_1",
                "billing_consumer_1",
                "n_end",
                "n_9lives",
                "broker_1_4",
                "network_5"
            ]
        );
    }

    #[test]
    fn escape_leaves_no_statement_break_or_comment() {
        let e = escape("checkout#7; a<b>c");
        assert_eq!(e, "checkout#35;7#59; a#60;b#62;c");
        assert_eq!(note_text("a b c", 3), "a b<br/>c");
    }
}
