//! `docs/scenarios.md`, the scenario reference, against the code: every field of every table
//! has a row, every default written there is the model's, every Kafka name is the one the
//! model accepts, every fault action and error name is there, every example parses, and every
//! link lands on a heading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use brokerlab::scenario::{self, kafka, model::*};
use serde::de::DeserializeOwned;

fn doc() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenarios.md"))
        .expect("docs/scenarios.md")
}

/// The fields a table accepts, Kafka's dotted aliases left out.
fn fields<T: DeserializeOwned>() -> Vec<String> {
    let mut keys = scenario::accepted_keys::<T>();
    keys.retain(|k| !k.contains('.'));
    keys
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The sections of the document by heading text (without the `#`s): their lines up to the next
/// heading.
fn sections(doc: &str) -> BTreeMap<String, Vec<&str>> {
    let mut out: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut current = String::new();
    let mut in_code = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            current = line.trim_start_matches('#').trim().to_string();
            out.entry(current.clone()).or_default();
        } else {
            out.entry(current.clone()).or_default().push(line);
        }
    }
    out
}

/// A table row's cells.
fn cells(line: &str) -> Vec<&str> {
    line.trim()
        .trim_matches('|')
        .split(" | ")
        .map(str::trim)
        .collect()
}

/// The field names a row's first cell lists: every `name` in backticks.
fn names_in_cell(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// The rows of a section's table(s), by field name.
fn rows<'a>(section: &[&'a str]) -> BTreeMap<String, Vec<&'a str>> {
    let mut out = BTreeMap::new();
    for line in section {
        if !line.starts_with("| `") {
            continue;
        }
        let c = cells(line);
        for name in names_in_cell(c[0]) {
            out.insert(name.to_string(), c.clone());
        }
    }
    out
}

/// Each section with a table of fields, the fields the model has there, and where its
/// defaults and Kafka names come from.
fn tables() -> Vec<(&'static str, Vec<String>, Option<&'static str>)> {
    vec![
        ("`[scenario]`", fields::<Meta>(), None),
        ("`[cluster]`", fields::<Cluster>(), Some("cluster")),
        ("`[network]`", fields::<Network>(), None),
        ("`[[topics]]`", fields::<Topic>(), Some("topics")),
        ("`[[producers]]`", fields::<Producer>(), Some("producers")),
        ("`send`", fields::<Send>(), None),
        ("`[[producers.messages]]`", fields::<MessageSpec>(), None),
        ("`[[groups]]`", fields::<Group>(), Some("groups")),
        ("`[[notes]]`", fields::<Note>(), None),
        ("`[compare.*]`", fields::<PresetOverride>(), Some("compare")),
    ]
}

#[test]
fn every_field_has_a_row_and_every_row_is_a_field() {
    let doc = doc();
    let sections = sections(&doc);
    for (heading, fields, _) in tables() {
        let rows = rows(&sections[heading]);
        let documented: BTreeSet<&str> = rows.keys().map(String::as_str).collect();
        let model: BTreeSet<&str> = fields.iter().map(String::as_str).collect();
        assert_eq!(documented, model, "{heading}: rows vs the model's fields");
    }
    // Faults: `at_ms` and `action` in the table, every other field named in the section.
    let faults = sections["`[[faults]]`"].join("\n");
    for f in fields::<Fault>() {
        assert!(
            faults.contains(&format!("`{f}`")),
            "[[faults]] does not name `{f}`"
        );
    }
    // [expect] and [expect.groups.NAME]: every key has a row (errors and groups have sections).
    for (heading, fields) in [
        ("`[expect]`", fields::<Expect>()),
        ("`[expect.groups.NAME]`", fields::<GroupExpect>()),
    ] {
        let rows = rows(&sections[heading]);
        for f in fields {
            if heading == "`[expect]`" && (f == "errors" || f == "groups") {
                continue;
            }
            assert!(rows.contains_key(&f), "{heading} has no row for `{f}`");
        }
    }
    let cost = rows(&sections["Cost bounds"]);
    for f in fields::<GroupExpect>()
        .into_iter()
        .chain(fields::<Expect>())
        .filter(|f| f.contains("_at_") || f.ends_with("_partition"))
    {
        assert!(cost.contains_key(&f), "Cost bounds has no row for `{f}`");
    }
}

/// The serialized defaults of every table, from a scenario that sets only what is required.
fn defaults() -> toml::Table {
    let text = r#"
[scenario]
title = "t"
[[topics]]
name = "t"
[[producers]]
name = "p"
topic = "t"
send = { count = 1 }
[[producers.messages]]
at_ms = 0
[[groups]]
name = "g"
topic = "t"
[[notes]]
at_ms = 0
text = "n"
"#;
    let sc: Scenario = toml::from_str(text).unwrap();
    let v = toml::Table::try_from(&sc).unwrap();
    let first = |k: &str| v[k].as_array().unwrap()[0].as_table().unwrap().clone();
    let producer = first("producers");
    let mut out = toml::Table::new();
    for (heading, t) in [
        ("`[scenario]`", v["scenario"].as_table().unwrap().clone()),
        ("`[cluster]`", v["cluster"].as_table().unwrap().clone()),
        ("`[network]`", v["network"].as_table().unwrap().clone()),
        ("`[[topics]]`", first("topics")),
        ("`send`", producer["send"].as_table().unwrap().clone()),
        (
            "`[[producers.messages]]`",
            producer["messages"].as_array().unwrap()[0]
                .as_table()
                .unwrap()
                .clone(),
        ),
        ("`[[producers]]`", producer),
        ("`[[groups]]`", first("groups")),
        ("`[[notes]]`", first("notes")),
    ] {
        out.insert(heading.to_string(), toml::Value::Table(t));
    }
    out
}

#[test]
fn the_defaults_written_are_the_models() {
    let doc = doc();
    let sections = sections(&doc);
    let defaults = defaults();
    let mut checked = 0;
    for (heading, _, _) in tables() {
        let Some(model) = defaults.get(heading).and_then(|t| t.as_table()) else {
            continue;
        };
        for (field, row) in rows(&sections[heading]) {
            let cell = row[2];
            // Only a cell that is one TOML value in backticks states a default to check.
            let Some(literal) = cell
                .strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .filter(|c| !c.contains('`'))
            else {
                continue;
            };
            let written: toml::Table = toml::from_str(&format!("v = {literal}"))
                .unwrap_or_else(|e| panic!("{heading} `{field}`: default `{literal}`: {e}"));
            // Empty lists are left out when the model is written out.
            let empty = written["v"].as_array().is_some_and(|a| a.is_empty());
            if empty && !model.contains_key(&field) {
                checked += 1;
                continue;
            }
            assert_eq!(
                model.get(&field),
                Some(&written["v"]),
                "{heading} `{field}`: the reference says the default is {literal}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 45, "only {checked} defaults checked");
    // The defaults that matter most, spelled out (Kafka's own).
    let d = |h: &str, f: &str| defaults[h][f].clone();
    assert_eq!(
        d("`[[groups]]`", "auto_offset_reset").as_str(),
        Some("latest")
    );
    assert_eq!(
        d("`[[groups]]`", "session_timeout_ms").as_integer(),
        Some(45_000)
    );
    assert_eq!(
        d("`[cluster]`", "group_initial_rebalance_delay_ms").as_integer(),
        Some(3_000)
    );
    assert_eq!(
        d("`[cluster]`", "broker_session_timeout_ms").as_integer(),
        Some(9_000)
    );
    let elr = &rows(&sections["`[cluster]`"])["eligible_leader_replicas"];
    assert!(elr[2].contains(&format!(
        "`{}`",
        scenario::lower::DEFAULT_ELIGIBLE_LEADER_REPLICAS
    )));
    let recovery = &rows(&sections["`[cluster]`"])["replica_recovery"];
    assert!(recovery[2].contains("`\"leader-epoch\"`"));
    assert_eq!(
        scenario::lower::DEFAULT_REPLICA_RECOVERY,
        scenario::model::ReplicaRecovery::LeaderEpoch
    );
    let tx = &rows(&sections["`[[producers]]`"])["transaction_size"];
    assert!(tx[2].contains(&format!("`{}`", scenario::lower::DEFAULT_TRANSACTION_SIZE)));
}

#[test]
fn the_kafka_names_written_are_the_ones_accepted() {
    let doc = doc();
    let sections = sections(&doc);
    for (heading, _, table) in tables() {
        for (field, row) in rows(&sections[heading]) {
            let written = row[1];
            let accepted = table.and_then(|t| kafka::kafka_name(t, &field));
            match accepted {
                Some(k) => assert_eq!(written, format!("`{k}`"), "{heading} `{field}`"),
                // `acks` and `retries` are Kafka's names already; other cells say "—".
                None => assert!(
                    written.starts_with('—') || written == format!("`{field}`"),
                    "{heading} `{field}`: `{written}` is not accepted as an alias"
                ),
            }
        }
    }
    let list = sections["Kafka's names"].join("\n");
    for (table, field, k) in kafka::KAFKA_NAMES {
        let header = match *table {
            "cluster" => "`[cluster]`",
            "topics" => "`[[topics]]`",
            "producers" => "`[[producers]]`",
            "groups" => "`[[groups]]`",
            _ => "`[compare.*]`",
        };
        let row = format!("| {header} | `{field}` | `\"{k}\"` |");
        assert!(list.contains(&row), "Kafka's names lacks {row}");
    }
}

#[test]
fn every_action_and_error_name_is_described() {
    let doc = doc();
    let sections = sections(&doc);
    let actions = scenario::accepted_values::<FaultAction>();
    assert_eq!(actions.len(), 15);
    for a in &actions {
        let body = sections
            .get(&format!("`{a}`"))
            .unwrap_or_else(|| panic!("no section for the `{a}` fault"))
            .join("\n");
        assert!(
            body.contains(&format!("action = \"{a}\"")),
            "the `{a}` section has no example"
        );
    }
    let errors = sections["`[expect.errors]`"].join("\n");
    for name in scenario::known_error_names() {
        assert!(
            errors.contains(&format!("`{name}`")),
            "{name} is not listed"
        );
    }
}

/// Every example parses as part of a scenario, with the fields and values the model accepts.
#[test]
fn every_example_parses() {
    let doc = doc();
    let mut blocks: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line) {
            (None, "```toml") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    assert!(blocks.len() >= 25, "{} examples", blocks.len());
    for block in &blocks {
        // Syntax first: the skeleton is only that.
        toml::from_str::<toml::Table>(block).unwrap_or_else(|e| panic!("{block}\n{e}"));
        if block.contains("# title, seed") {
            continue;
        }
        let text = if block.contains("[scenario]") {
            block.clone()
        } else if block.starts_with("send =") {
            format!(
                "[scenario]\ntitle = \"t\"\n[[producers]]\nname = \"p\"\ntopic = \"t\"\n{block}"
            )
        } else {
            format!("[scenario]\ntitle = \"t\"\n{block}")
        };
        if let Err(e) = toml::from_str::<Scenario>(&text) {
            panic!("an example does not fit the format:\n{block}\n{e}");
        }
    }
}

#[test]
fn every_link_lands_on_a_heading() {
    let doc = doc();
    let mut in_code = false;
    let mut headings: Vec<String> = Vec::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            headings.push(slug(line.trim_start_matches('#')));
        }
    }
    let unique: BTreeSet<&String> = headings.iter().collect();
    assert_eq!(unique.len(), headings.len(), "two headings share an anchor");
    for link in doc.split("](#").skip(1) {
        let anchor = link.split(')').next().unwrap();
        assert!(
            headings.iter().any(|h| h == anchor),
            "no heading for #{anchor}"
        );
    }
    // Errors point at sections that are there.
    for anchor in scenario::reference::ANCHORS {
        assert!(
            headings.iter().any(|h| h == anchor),
            "errors link to #{anchor}, which is no heading"
        );
    }
    // The README points here.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("](docs/scenarios.md)"));
}
