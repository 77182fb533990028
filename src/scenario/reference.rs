//! Where in the scenario reference (`docs/scenarios.md`) an error belongs: every error about a
//! scenario file ends with `= reference: docs/scenarios.md#ANCHOR`, the section of the table
//! the error is in.

use super::doc::{Doc, OwnedSeg};
use super::error::ScenarioError;

/// The reference, as a path from the repository's root.
pub const REFERENCE: &str = "docs/scenarios.md";

/// Every anchor an error may point at: the headings of the reference's sections (a test checks
/// that each is there).
pub const ANCHORS: &[&str] = &[
    "the-file",
    "scenario",
    "cluster",
    "network",
    "topics",
    "producers",
    "send",
    "producersmessages",
    "groups",
    "faults",
    "crash",
    "restart",
    "stop",
    "pause",
    "isolate",
    "partition",
    "heal",
    "drop",
    "drop-acks",
    "delay",
    "add-consumer",
    "remove-consumer",
    "elect-preferred",
    "zombie",
    "add-partitions",
    "notes",
    "quiz",
    "expect",
    "expecterrors",
    "expectgroupsname",
    "cost-bounds",
    "compare",
    "queue-systems",
];

/// `docs/scenarios.md#anchor`.
pub fn link(anchor: &str) -> String {
    format!("{REFERENCE}#{anchor}")
}

/// Gives `e` its reference, from where it points in `text`, unless it has one or points
/// nowhere.
pub(crate) fn attach(e: ScenarioError, text: &str, doc: Option<&Doc<'_>>) -> ScenarioError {
    if e.reference().is_some() {
        return e;
    }
    let Some(at) = e.location().map(|l| l.span.start) else {
        return e;
    };
    let anchor = doc
        .and_then(|d| anchor_by_path(d, at))
        .unwrap_or_else(|| anchor_by_header(text, at));
    e.with_reference(Some(anchor))
}

/// The section of the field or table at `offset`, from the parsed document.
fn anchor_by_path(doc: &Doc<'_>, offset: usize) -> Option<&'static str> {
    let path = doc.path_at(offset);
    let keys: Vec<&str> = path
        .0
        .iter()
        .filter_map(|s| match s {
            OwnedSeg::Key(k) => Some(k.as_str()),
            OwnedSeg::Idx(_) => None,
        })
        .collect();
    let first = *keys.first()?;
    Some(match (first, keys.get(1).copied()) {
        ("producers", Some("send")) => "send",
        ("producers", Some("messages")) => "producersmessages",
        // `at_ms` and `action` are every fault's; the rest belong to the action.
        ("faults", Some("at_ms" | "action")) => "faults",
        ("faults", _) => {
            // The action's own section, when the fault says which one it is.
            let action = match path.0.get(1) {
                Some(OwnedSeg::Idx(i)) => doc
                    .get(&["faults".into(), (*i).into(), "action".into()])
                    .and_then(|v| v.get_ref().as_str().map(str::to_string)),
                _ => None,
            };
            action
                .and_then(|a| ANCHORS.iter().copied().find(|&x| x == a && x != "faults"))
                .unwrap_or("faults")
        }
        ("expect", Some("errors")) => "expecterrors",
        ("expect", Some("groups")) => match keys.get(3) {
            Some(k) if is_cost_bound(k) => "cost-bounds",
            _ => "expectgroupsname",
        },
        ("expect", Some(k)) if is_cost_bound(k) => "cost-bounds",
        (k, _) => section(k),
    })
}

fn is_cost_bound(key: &str) -> bool {
    key.ends_with("_at_least") || key.ends_with("_at_most") || key == "max_lag_partition"
}

/// The section of a top-level key.
fn section(key: &str) -> &'static str {
    match key {
        "scenario" => "scenario",
        "cluster" => "cluster",
        "network" => "network",
        "topics" => "topics",
        "producers" => "producers",
        "groups" => "groups",
        "faults" => "faults",
        "notes" => "notes",
        "quiz" => "quiz",
        "expect" => "expect",
        "compare" => "compare",
        _ => "the-file",
    }
}

/// The section of the last table header at or before `offset`'s line, for text that is not
/// valid TOML.
fn anchor_by_header(text: &str, offset: usize) -> &'static str {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let Some(header) = text[..line_end]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
    else {
        return "the-file";
    };
    let name: String = header
        .trim_start_matches('[')
        .split(']')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !matches!(c, '"' | '\'') && !c.is_whitespace())
        .collect();
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["producers", "messages", ..] => "producersmessages",
        ["expect", "errors", ..] => "expecterrors",
        ["expect", "groups", ..] => "expectgroupsname",
        [first, ..] => section(first),
        [] => "the-file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(text: &str, at: &str) -> &'static str {
        let offset = text.find(at).expect("in the text");
        match Doc::parse(text) {
            Ok(doc) => {
                anchor_by_path(&doc, offset).unwrap_or_else(|| anchor_by_header(text, offset))
            }
            Err(_) => anchor_by_header(text, offset),
        }
    }

    #[test]
    fn anchors_follow_the_table() {
        let text = "top = 1\n[scenario]\ntitle = \"t\"\n[[producers]]\nname = \"p\"\nsend = { count = 0 }\n[[producers.messages]]\nat_ms = 5\n[[faults]]\nat_ms = 1\naction = \"pause\"\ntarget = \"x\"\n[[faults]]\nat_ms = 2\naction = \"nope\"\n[expect]\nlost = 1\nunavailable_ms_at_most = 3\n[expect.groups.g]\nmax_lag_at_least = 4\napplied = 5\n[expect.errors]\nX = 1\n[compare.exactly-once]\nacks = \"1\"\n";
        assert_eq!(anchor(text, "top"), "the-file");
        assert_eq!(anchor(text, "title"), "scenario");
        assert_eq!(anchor(text, "name = \"p\""), "producers");
        assert_eq!(anchor(text, "count = 0"), "send");
        assert_eq!(anchor(text, "at_ms = 5"), "producersmessages");
        assert_eq!(anchor(text, "target"), "pause");
        assert_eq!(anchor(text, "at_ms = 1"), "faults");
        assert_eq!(anchor(text, "\"nope\""), "faults");
        assert_eq!(anchor(text, "lost"), "expect");
        assert_eq!(anchor(text, "unavailable_ms_at_most"), "cost-bounds");
        assert_eq!(anchor(text, "max_lag_at_least"), "cost-bounds");
        assert_eq!(anchor(text, "applied"), "expectgroupsname");
        assert_eq!(anchor(text, "X = 1"), "expecterrors");
        assert_eq!(anchor(text, "acks"), "compare");
        // Not TOML: the last header decides.
        let broken = "[scenario]\ntitle = \"t\"\n[[groups]]\nname = \"g\"\nbad = \n";
        assert_eq!(anchor(broken, "bad"), "groups");
        assert_eq!(anchor("[[producers.messages]\n", "["), "producersmessages");
        assert_eq!(anchor("x = = 1\n", "x"), "the-file");
        for a in ANCHORS {
            assert!(!a.is_empty());
        }
    }
}
