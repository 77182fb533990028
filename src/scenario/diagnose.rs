//! Turns toml's syntax and serde errors into [`ScenarioError`]s: file:line:column from the
//! error's span, the message rewritten to name the field and its table, and what was expected.
//!
//! serde stops at its first error, and the document's tables are visited in key order, not file
//! order. To report the first error in the file, each top-level table (and each element of an
//! array of tables) is deserialized on its own and the earliest error wins.

use std::ops::Range;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::doc::{Doc, OwnedSeg, Path};
use super::error::{ErrorKind, ScenarioError, did_you_mean, suggestion};
use super::kafka;
use super::model::*;

/// Top-level keys that hold one table.
const SINGLE: [&str; 5] = ["scenario", "cluster", "network", "expect", "compare"];
/// Top-level keys that hold an array of tables, with the singular for messages.
const LISTS: [(&str, &str); 6] = [
    ("topics", "topic"),
    ("producers", "producer"),
    ("groups", "group"),
    ("faults", "fault"),
    ("notes", "note"),
    ("quiz", "quiz question"),
];

/// The scenario with every top-level field optional, to deserialize one piece at a time.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Partial {
    scenario: Option<Meta>,
    cluster: Option<Cluster>,
    network: Option<Network>,
    topics: Option<Vec<Topic>>,
    producers: Option<Vec<Producer>>,
    groups: Option<Vec<Group>>,
    faults: Option<Vec<Fault>>,
    notes: Option<Vec<Note>>,
    quiz: Option<Vec<QuizEntry>>,
    expect: Option<Expect>,
    compare: Option<Compare>,
}

/// A TOML syntax error.
pub(crate) fn syntax_error(label: &str, text: &str, e: &toml::de::Error) -> ScenarioError {
    let msg = e.message();
    let Some(span) = e.span() else {
        return ScenarioError::whole(
            ErrorKind::Syntax,
            Some(label),
            format!("invalid TOML: {}", plain(msg)),
        );
    };
    let at = |m: String| ScenarioError::at(ErrorKind::Syntax, label, text, span.clone(), m);
    if msg == "duplicate key" {
        let key = clip(text.get(span.clone()).unwrap_or("").trim(), 60);
        let line_start = text
            .get(..span.start)
            .and_then(|t| t.rfind('\n'))
            .map_or(0, |i| i + 1);
        let is_header = text[line_start..].trim_start().starts_with('[');
        return if is_header {
            at(format!("duplicate table `[{key}]`"))
                .with_expected(Some("each table header once per file".into()))
                .with_help(Some(format!(
                    "for a list of tables, write `[[{key}]]` (double brackets) for every element"
                )))
        } else {
            at(format!("duplicate key `{key}`"))
                .with_expected(Some("each key once per table".into()))
        };
    }
    if msg.contains("recurs") {
        return at("arrays or tables are nested too deeply".into()).with_expected(Some(
            "a scenario file: values nest only a few levels deep".into(),
        ));
    }
    if msg.starts_with("string values must be quoted") {
        let raw = clip(text.get(span.clone()).unwrap_or("").trim(), 60);
        return if raw.is_empty() {
            at("invalid TOML: missing value".into()).with_expected(Some(
                "a value after `=`: a quoted string, a number, `true` or `false`, an array or an inline table".into(),
            ))
        } else {
            at(format!(
                "invalid TOML: `{raw}` is not a value; strings must be quoted"
            ))
            .with_expected(Some(format!("`\"{raw}\"`, in quotes")))
        };
    }
    let (what, expected) = split_expected(msg);
    at(format!("invalid TOML: {what}")).with_expected(expected)
}

/// Deserializes the scenario, reporting the first error in file order.
pub(crate) fn deserialize(
    label: &str,
    text: &str,
    doc: &Doc<'_>,
) -> Result<Scenario, ScenarioError> {
    let full = match toml::from_str::<Scenario>(text) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    // The earliest error: a ready shape error, or a serde error translated at the end (the
    // translation walks the document, so only the winner is translated).
    let mut best: Option<(usize, Result<ScenarioError, toml::de::Error>)> = None;
    let mut consider = |start: usize, e: Result<ScenarioError, toml::de::Error>| {
        if best.as_ref().is_none_or(|(b, _)| start < *b) {
            best = Some((start, e));
        }
    };
    let serde_start = |e: &toml::de::Error| e.span().map_or(usize::MAX, |s| s.start);
    if let Some(root) = doc.root() {
        let root_span = root.span();
        for (k, v) in root.get_ref().iter() {
            let key: &str = k.get_ref();
            if let Some(e) = shape_error(label, text, key, v) {
                consider(v.span().start, Ok(e));
                continue;
            }
            match v.get_ref() {
                DeValue::Array(items) if LISTS.iter().any(|(l, _)| *l == key) => {
                    for item in items.iter() {
                        let mut one = DeArray::new();
                        one.push(item.clone());
                        let value = Spanned::new(v.span(), DeValue::Array(one));
                        if let Some(e) = unit_error(root_span.clone(), k, value) {
                            consider(serde_start(&e), Err(e));
                        }
                    }
                }
                _ => {
                    if let Some(e) = unit_error(root_span.clone(), k, v.clone()) {
                        consider(serde_start(&e), Err(e));
                    }
                }
            }
        }
    }
    Err(match best {
        Some((_, Ok(e))) => e,
        Some((_, Err(e))) => schema_error(label, text, doc, &e),
        None => schema_error(label, text, doc, &full),
    })
}

fn unit_error(
    root_span: Range<usize>,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: Spanned<DeValue<'_>>,
) -> Option<toml::de::Error> {
    let mut t = DeTable::new();
    t.insert(key.clone(), value);
    let de = toml::de::Deserializer::from(Spanned::new(root_span, t));
    Partial::deserialize(de).err()
}

/// A top-level table written as an array of tables, or the other way round.
fn shape_error(
    label: &str,
    text: &str,
    key: &str,
    v: &Spanned<DeValue<'_>>,
) -> Option<ScenarioError> {
    let err = |m: String| ScenarioError::at(ErrorKind::Schema, label, text, v.span(), m);
    if SINGLE.contains(&key) {
        return match v.get_ref() {
            DeValue::Table(_) => None,
            DeValue::Array(a) if a.iter().all(|i| i.get_ref().is_table()) => Some(
                err(format!(
                    "`[[{key}]]` makes `{key}` a list, but a scenario has one [{key}] table"
                ))
                .with_expected(Some(format!("a single `[{key}]` table")))
                .with_help(Some(format!("write `[{key}]` with single brackets"))),
            ),
            other => Some(
                err(format!("`{key}` must be a table, not {}", a_type(other)))
                    .with_expected(Some(format!("a `[{key}]` table"))),
            ),
        };
    }
    if let Some((_, one)) = LISTS.iter().find(|(l, _)| *l == key) {
        return match v.get_ref() {
            DeValue::Array(_) => None,
            DeValue::Table(_) => Some(
                err(format!("`[{key}]` must be a list of tables")).with_expected(Some(format!(
                    "`[[{key}]]`, with double brackets, once per {one}"
                ))),
            ),
            other => Some(
                err(format!(
                    "`{key}` must be a list of tables, not {}",
                    a_type(other)
                ))
                .with_expected(Some(format!("`[[{key}]]` tables, one per {one}"))),
            ),
        };
    }
    None
}

fn a_type(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A serde error: the TOML is valid but does not fit the scenario format.
pub(crate) fn schema_error(
    label: &str,
    text: &str,
    doc: &Doc<'_>,
    e: &toml::de::Error,
) -> ScenarioError {
    let msg = e.message();
    let Some(span) = e.span() else {
        return ScenarioError::whole(ErrorKind::Schema, Some(label), plain(msg));
    };
    let path = doc.path_at(span.start);
    let field = path.field().unwrap_or_else(|| "value".to_string());
    let found_value = doc.get(&path.segs()).map(|v| v.get_ref().clone());
    let err = |m: String| ScenarioError::at(ErrorKind::Schema, label, text, span.clone(), m);

    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let table = if path.last_key() == Some(name) {
            path.parent()
        } else {
            path.clone()
        };
        let fields = backticked(rest);
        // serde lists Kafka's dotted names (the aliases) among the fields; name the fields.
        let canonical: Vec<&str> = fields
            .iter()
            .map(String::as_str)
            .filter(|f| !f.contains('.'))
            .collect();
        let expected = if canonical.len() < fields.len() {
            Some(one_of(&canonical))
        } else {
            rest.trim_start_matches(',')
                .trim()
                .strip_prefix("expected ")
                .map(str::to_string)
        };
        let expected = expected.or_else(|| {
            rest.contains("there are no fields")
                .then(|| "no fields here".to_string())
        });
        let kind = table_kind(&table);
        // `auto.offset.reset = "earliest"` without quotes is a table `auto`, not a field.
        let (dotted, key_len) = unquoted_dotted_key(text, span.start).unzip();
        // Underline the whole dotted key, not only its first part.
        let err = |m: String| match key_len {
            Some(len) => ScenarioError::at(
                ErrorKind::Schema,
                label,
                text,
                span.start..span.start + len,
                m,
            ),
            None => err(m),
        };
        if let Some(d) = &dotted
            && let Some(f) = kind.and_then(|k| kafka::field_for(k, d))
        {
            return err(format!(
                "unquoted Kafka name `{}` {}",
                clip(d, 60),
                where_(&table, doc)
            ))
            .with_expected(Some(format!(
                "`\"{d}\" = ...` in quotes, or `{f} = ...`"
            )))
            .with_help(Some(format!(
                "without quotes, TOML reads the dots as nested tables (a table `{name}`), which is not a field"
            )));
        }
        let written = dotted.as_deref().unwrap_or(name);
        // A dotted word is matched against Kafka's names first, any other against the fields.
        let by_kafka = || kind.and_then(|k| kafka_help(k, written, &canonical));
        let by_field = || suggestion(written, canonical.iter().copied());
        let close = if written.contains('.') {
            by_kafka().or_else(by_field)
        } else {
            by_field().or_else(by_kafka)
        };
        // A Kafka name of another table is worth saying even next to a close match here.
        let elsewhere = || misplaced_help(written, &table, doc);
        let help = match (close, written.contains('.')) {
            (Some(c), true) => Some(match elsewhere() {
                Some(e) => format!("{c} {e}"),
                None => c,
            }),
            (Some(c), false) => Some(c),
            (None, _) => elsewhere(),
        };
        return err(format!(
            "unknown field `{}` {}",
            clip(written, 60),
            where_(&table, doc)
        ))
        .with_expected(expected)
        .with_help(help);
    }
    if let Some(rest) = msg.strip_prefix("duplicate field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let table =
            if path.last_key().is_some() && found_value.as_ref().is_some_and(|v| !v.is_table()) {
                path.parent()
            } else {
                path.clone()
            };
        // Point at the second of the keys that name the field.
        let keys = doc
            .get(&table.segs())
            .and_then(|t| t.get_ref().as_table())
            .map(|t| {
                t.iter()
                    .filter(|(k, _)| {
                        let k: &str = k.get_ref();
                        k == name || kafka::aliases_of(name).any(|a| a == k)
                    })
                    .map(|(k, _)| k.span())
                    .max_by_key(|s| s.start)
            });
        let err = |m: String| match keys.flatten() {
            Some(at) => ScenarioError::at(ErrorKind::Schema, label, text, at, m),
            None => err(m),
        };
        let mut ways: Vec<String> = vec![name.to_string()];
        ways.extend(kafka::aliases_of(name).map(|a| format!("\"{a}\"")));
        ways.dedup();
        return err(format!("`{name}` is set twice {}", where_(&table, doc)))
            .with_expected(Some(format!(
                "each field once, written as {}",
                ways.iter()
                    .map(|w| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
            .with_help(Some(
                "Kafka's name and the field's name are the same field: keep one of them"
                    .to_string(),
            ));
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        if path.0.is_empty() && name == "scenario" {
            let m = if text.trim().is_empty() {
                "the file is empty"
            } else {
                "missing the [scenario] table"
            };
            return err(m.to_string())
                .with_expected(Some(
                    "a `[scenario]` table with at least `title = \"...\"`".into(),
                ))
                .with_reference(Some("scenario"));
        }
        return err(format!("missing field `{name}` {}", where_(&path, doc)))
            .with_expected(Some(missing_hint(name)));
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (value, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let variants = backticked(rest);
        let quoted: Vec<String> = variants.iter().map(|v| format!("\"{v}\"")).collect();
        return err(format!(
            "invalid value \"{}\" for `{field}`",
            clip(value, 60)
        ))
        .with_expected(Some(format!("one of {}", quoted.join(", "))))
        .with_help(
            suggestion(value, variants.iter().map(String::as_str))
                .or_else(|| enum_help(path.last_key().unwrap_or(""))),
        );
    }
    if msg.starts_with("wanted string or table") {
        let key = path.last_key().unwrap_or("");
        let variants = enum_variants(key);
        let raw = clip(text.get(span.clone()).unwrap_or("").trim(), 40);
        let found = match found_value.as_ref() {
            Some(v @ (DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_))) => {
                format!("{} `{raw}`", a_type(v))
            }
            Some(v) => a_type(v).to_string(),
            None => "a value".to_string(),
        };
        let help = variants
            .contains(&raw)
            .then(|| format!("write it in quotes: `{key} = \"{raw}\"`"));
        let quoted: Vec<String> = variants.iter().map(|v| format!("\"{v}\"")).collect();
        let expected = if quoted.is_empty() {
            "a string".to_string()
        } else {
            format!("a string, one of {}", quoted.join(", "))
        };
        return err(format!("wrong type for `{field}`: found {found}"))
            .with_expected(Some(expected))
            .with_help(help);
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let (found, expected) = split_expected(rest);
        if let Some(n) = found
            .strip_prefix("integer `")
            .and_then(|r| r.split_once("` as i128"))
        {
            return err(format!("`{}` is out of range for `{field}`", clip(n.0, 40)))
                .with_expected(expected.map(|e| describe_expected(&e)));
        }
        return err(format!(
            "wrong type for `{field}`: found {}",
            describe_found(&found)
        ))
        .with_expected(expected.map(|e| describe_expected(&e)));
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        let (found, expected) = split_expected(rest);
        let value = found
            .strip_prefix("integer `")
            .and_then(|r| r.strip_suffix('`'))
            .map_or_else(|| describe_found(&found), str::to_string);
        return err(format!(
            "`{}` is out of range for `{field}`",
            clip(&value, 40)
        ))
        .with_expected(expected.map(|e| describe_expected(&e)));
    }
    if let Some(rest) = msg.strip_prefix("invalid length ") {
        let (n, expected) = split_expected(rest);
        let n: usize = n.trim().parse().unwrap_or(0);
        return err(format!(
            "`{field}` has {n} element{}",
            if n == 1 { "" } else { "s" }
        ))
        .with_expected(expected.map(|e| describe_expected(&e)));
    }
    let (what, expected) = split_expected(msg);
    err(format!("invalid value for `{field}`: {}", plain(&what)))
        .with_expected(expected.map(|e| describe_expected(&e)))
}

/// Where a table is, for messages: "in [cluster]", "in [[producers]] `checkout`", "at the top
/// level", "in `send` of [[producers]] `checkout`".
fn where_(table: &Path, doc: &Doc<'_>) -> String {
    let segs = &table.0;
    match segs.as_slice() {
        [] => "at the top level".to_string(),
        [OwnedSeg::Key(a), OwnedSeg::Idx(i), rest @ ..] => {
            let name = doc
                .get(&[a.as_str().into(), (*i).into(), "name".into()])
                .and_then(|v| v.get_ref().as_str().map(|s| format!(" `{}`", clip(s, 40))))
                .unwrap_or_default();
            if rest.is_empty() {
                format!("in [[{a}]]{name}")
            } else {
                format!("in `{}` of [[{a}]]{name}", Path(rest.to_vec()))
            }
        }
        _ => format!("in [{table}]"),
    }
}

/// Which table of the format `table` is, by the top-level key that holds it (`producers` for
/// `producers[2]`, `compare` for `compare.exactly-once`), for its Kafka names.
fn table_kind(table: &Path) -> Option<&str> {
    match table.0.as_slice() {
        [OwnedSeg::Key(a)] | [OwnedSeg::Key(a), OwnedSeg::Idx(_)] => Some(a.as_str()),
        [OwnedSeg::Key(a), OwnedSeg::Key(_)] if a == "compare" => Some(a.as_str()),
        _ => None,
    }
}

/// The key written at `at`, if it is an unquoted dotted key (`auto.offset.reset = ...`), with
/// its quotes and spaces removed, and its length in bytes as written.
fn unquoted_dotted_key(text: &str, at: usize) -> Option<(String, usize)> {
    let line = text.get(at..)?.lines().next()?;
    let key = line.split('=').next()?.trim();
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    // A single quoted key (`"auto.offset.reset"`) holds its dots; only dots outside quotes
    // make a dotted key.
    let mut quote: Option<char> = None;
    let mut dotted = false;
    for c in key.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '.') => dotted = true,
            _ => {}
        }
    }
    dotted.then(|| {
        let plain = key
            .chars()
            .filter(|c| !matches!(c, '"' | '\'') && !c.is_whitespace())
            .collect();
        (plain, key.len())
    })
}

/// Help for a key that is, or is close to, one of Kafka's names for a field of `table`.
fn kafka_help(table: &str, word: &str, fields: &[&str]) -> Option<String> {
    if let Some(h) = kafka::near_miss(table, word) {
        return Some(h.to_string());
    }
    if let Some(k) = did_you_mean(word, kafka::names_in(table))
        && let Some(f) = kafka::field_for(table, k)
    {
        return Some(format!("did you mean `{f}` (Kafka's `{k}`)?"));
    }
    if word.contains('.') {
        let underscored = word.replace('.', "_");
        if let Some(f) = did_you_mean(&underscored, fields.iter().copied()) {
            return Some(format!("did you mean `{f}`?"));
        }
    }
    None
}

/// "`a`", "`a` or `b`", "one of `a`, `b`, `c`", as serde words it.
fn one_of(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match q.as_slice() {
        [] => "no fields here".to_string(),
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        many => format!("one of {}", many.join(", ")),
    }
}

/// Help for a field that exists, but in another table.
fn misplaced_help(name: &str, table: &Path, doc: &Doc<'_>) -> Option<String> {
    if !table.0.is_empty() {
        let header = match table.0.as_slice() {
            [OwnedSeg::Key(a)] => format!("[{a}]"),
            [OwnedSeg::Key(a), OwnedSeg::Idx(_)] => format!("[[{a}]]"),
            _ => String::new(),
        };
        if !header.is_empty() {
            if SINGLE.contains(&name) {
                return Some(format!(
                    "`{name}` is a top-level table, but every key after a `{header}` header belongs to that table; start it with its own `[{name}]` header"
                ));
            }
            if LISTS.iter().any(|(l, _)| *l == name) {
                return Some(format!(
                    "`{name}` is a top-level list, but every key after a `{header}` header belongs to that table; write each element as a `[[{name}]]` table"
                ));
            }
        }
    }
    let here = where_(table, doc);
    let homes: Vec<&str> = field_tables()
        .into_iter()
        .filter(|(t, fields)| fields.iter().any(|f| f == name) && !here.contains(t))
        .map(|(t, _)| t)
        .collect();
    match homes.as_slice() {
        [] => None,
        [one] => Some(format!("`{name}` is a field of {one}")),
        many => Some(format!("`{name}` is a field of {}", many.join(", "))),
    }
}

/// Every table of the format with its fields (read from serde's own error messages, so they
/// never drift from the model).
fn field_tables() -> Vec<(&'static str, Vec<String>)> {
    vec![
        ("the top level", accepted_keys::<Scenario>()),
        ("[scenario]", accepted_keys::<Meta>()),
        ("[cluster]", accepted_keys::<Cluster>()),
        ("[network]", accepted_keys::<Network>()),
        ("[[topics]]", accepted_keys::<Topic>()),
        ("[[producers]]", accepted_keys::<Producer>()),
        ("`send` of a producer", accepted_keys::<Send>()),
        ("[[producers.messages]]", accepted_keys::<MessageSpec>()),
        ("[[groups]]", accepted_keys::<Group>()),
        ("[[faults]]", accepted_keys::<Fault>()),
        ("[[notes]]", accepted_keys::<Note>()),
        ("[expect]", accepted_keys::<Expect>()),
        ("[expect.groups.NAME]", accepted_keys::<GroupExpect>()),
    ]
}

/// The keys a table of type `T` accepts, as serde lists them: its fields, and the Kafka names
/// that are their aliases (in serde's order: each field's names sorted).
pub fn accepted_keys<T: DeserializeOwned>() -> Vec<String> {
    match toml::from_str::<T>("__probe__ = 0") {
        Err(e) => backticked(e.message().split_once("expected").map_or("", |x| x.1)),
        Ok(_) => Vec::new(),
    }
}

#[derive(Deserialize)]
struct Probe<T> {
    #[allow(dead_code)]
    v: T,
}

/// The string values an enum `T` accepts, aliases included (`"-1"` for `acks`).
pub fn accepted_values<T: DeserializeOwned>() -> Vec<String> {
    match toml::from_str::<Probe<T>>("v = \"__probe__\"") {
        Err(e) => backticked(e.message().split_once("expected").map_or("", |x| x.1)),
        Ok(_) => Vec::new(),
    }
}

/// The string values of an enum-valued field, by field name.
fn enum_variants(field: &str) -> Vec<String> {
    match field {
        "acks" => accepted_values::<Acks>(),
        "guarantee" => accepted_values::<Guarantee>(),
        "key_distribution" => accepted_values::<KeyDistribution>(),
        "assignor" => accepted_values::<Assignor>(),
        "group_protocol" => accepted_values::<GroupProtocol>(),
        "group_remote_assignor" => accepted_values::<RemoteAssignor>(),
        "commit" => accepted_values::<CommitMode>(),
        "isolation_level" => accepted_values::<IsolationLevel>(),
        "auto_offset_reset" => accepted_values::<OffsetReset>(),
        "action" => accepted_values::<FaultAction>(),
        "verdict" => accepted_values::<Verdict>(),
        _ => Vec::new(),
    }
}

/// What the values of an enum-valued field mean, when there is no close match.
fn enum_help(field: &str) -> Option<String> {
    match field {
        "acks" => Some(
            "acks is how many replicas must have a write before the producer hears back: \"0\" (none, no response), \"1\" (the leader) or \"all\" (every in-sync replica); \"-1\" is Kafka's alias for \"all\"".into(),
        ),
        _ => None,
    }
}

fn missing_hint(name: &str) -> String {
    match name {
        "title" => "`title = \"...\"`: a one-line title, shown in the picker and the header".into(),
        "name" => "`name = \"...\"`".into(),
        "topic" => "`topic = \"...\"`: the topic it writes to or reads from".into(),
        "count" => "`count = N`: how many messages to send".into(),
        "at_ms" => "`at_ms = N`: when, in simulated milliseconds".into(),
        "action" => {
            let v: Vec<String> = accepted_values::<FaultAction>()
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect();
            format!("`action = \"...\"`, one of {}", v.join(", "))
        }
        "text" => "`text = \"...\"`: the narration line".into(),
        _ => format!("`{name} = ...`"),
    }
}

/// Splits "X, expected Y" into ("X", Some("Y")).
fn split_expected(msg: &str) -> (String, Option<String>) {
    match msg.split_once(", expected ") {
        Some((what, exp)) => (what.to_string(), Some(exp.to_string())),
        None => (msg.to_string(), None),
    }
}

/// The names between backticks in a serde message.
fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn describe_expected(e: &str) -> String {
    match e {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" => "a whole number from 0 to 4294967295".into(),
        "u64" => "a whole number from 0 to 9223372036854775807".into(),
        "i32" | "i64" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "`true` or `false`".into(),
        "a string" => "a string in quotes".into(),
        "a map" => "a table".into(),
        "a sequence" => "an array `[...]`".into(),
        e if e.starts_with("struct ") => "a table".into(),
        e => e.to_string(),
    }
}

fn describe_found(f: &str) -> String {
    let f = clip(f, 60);
    if let Some(s) = f.strip_prefix("string ") {
        return format!("the string {s}");
    }
    if let Some(v) = f
        .strip_prefix("integer `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return format!("the integer {v}");
    }
    if let Some(v) = f
        .strip_prefix("floating point `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return format!("the number {v}");
    }
    if let Some(v) = f
        .strip_prefix("boolean `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return format!("`{v}`");
    }
    match f.as_str() {
        "map" => "a table".into(),
        "sequence" => "an array".into(),
        _ => f,
    }
}

/// Cuts `s` to at most `max` characters and removes control characters.
fn clip(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if s.chars().count() > max {
        out.push_str("...");
    }
    out
}

fn plain(msg: &str) -> String {
    clip(msg, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_read_the_model() {
        assert!(accepted_keys::<Producer>().iter().any(|f| f == "acks"));
        assert!(accepted_keys::<Scenario>().iter().any(|f| f == "faults"));
        assert_eq!(accepted_values::<Acks>(), ["0", "1", "-1", "all"]);
        assert!(
            accepted_values::<FaultAction>()
                .iter()
                .any(|v| v == "drop-acks")
        );
    }
}
