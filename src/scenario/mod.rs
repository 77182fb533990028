//! Scenario files: serde structs, parsing and validation with file:line:column errors, and the
//! bundled scenarios.
//!
//! - [`parse`] turns a file's text into a validated [`Scenario`];
//! - [`load`] finds a scenario by path or bundled name, reads and parses it;
//! - [`bundled`] and [`find_bundled`] list the scenarios embedded in the binary.
//!
//! Every problem is one [`ScenarioError`], which renders like rustc's errors; callers map
//! every one of them to exit code 2.

pub mod anchor;
mod bundled;
mod diagnose;
pub(crate) mod doc;
mod error;
pub mod kafka;
pub mod lower;
pub mod model;
pub mod names;
pub mod profile;
pub mod quiz;
pub mod reference;
mod starter;
mod validate;

use std::path::Path;

mod warnings;
pub use bundled::{Bundled, DEFAULT_SCENARIO, bundled, find_bundled};
pub use diagnose::{accepted_keys, accepted_values};
pub use error::{ErrorKind, Location, ScenarioError};
pub use lower::{lower, raise_fault};
pub use model::*;
pub use names::{Target, parse_link, parse_topic_partition};
pub use starter::starter;
pub use validate::{
    MAX_BROKERS, MAX_CONSUMERS, MAX_DURATION_MS, MAX_LATENCY_MS, MAX_MESSAGES, MAX_PARTITIONS,
    MAX_STOP_AT_MS, known_error_names, validate,
};
pub use warnings::{LatestStart, latest_start_warnings};

/// Scenario files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Parses and validates a scenario file. `file_label` is the name shown in errors (the path
/// as the user wrote it, or `scenarios/NAME.toml` for a bundled scenario).
pub fn parse(file_label: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let doc = doc::Doc::parse(text)
        .map_err(|e| reference::attach(diagnose::syntax_error(file_label, text, &e), text, None))?;
    let with_reference = |e| reference::attach(e, text, Some(&doc));
    let mut scenario = diagnose::deserialize(file_label, text, &doc).map_err(with_reference)?;
    // Resolve the settings once: note what the file wrote, fill the rest from its profile.
    scenario.explicit = profile::Explicit::from_doc(&doc, &scenario);
    let version = scenario.cluster.kafka_version;
    profile::resolve(&mut scenario, version);
    validate::validate_doc(file_label, text, &doc, &scenario).map_err(with_reference)?;
    Ok(scenario)
}

/// Loads a scenario: `arg` is a path to a `.toml` file or the name of a bundled scenario (its
/// file stem, e.g. `acks1-leader-failover`; a trailing `.toml` is allowed). An existing path
/// wins over a bundled name. Returns the label used in messages and the scenario.
pub fn load(arg: &str) -> Result<(String, Scenario), ScenarioError> {
    let (label, text) = load_text(arg)?;
    let scenario = parse(&label, &text)?;
    Ok((label, scenario))
}

/// Like [`load`], but returns the label and the unparsed text.
pub fn load_text(arg: &str) -> Result<(String, String), ScenarioError> {
    let path = Path::new(arg);
    let name = arg.strip_suffix(".toml").unwrap_or(arg);
    let bundled = find_bundled(name).filter(|_| !name.contains(['/', '\\']));
    if path.exists() && (path.is_file() || bundled.is_none()) {
        return Ok((arg.to_string(), read_file(arg)?));
    }
    if let Some(b) = bundled {
        return Ok((b.label(), b.text.to_string()));
    }
    let names: Vec<&str> = self::bundled().iter().map(|b| b.name).collect();
    // Names that share a word with what was typed, one per line, rather than all of them.
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 3)
        .collect();
    let close: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| words.iter().any(|w| n.contains(&w.to_ascii_lowercase())))
        .take(8)
        .collect();
    let message = if names.is_empty() {
        format!("no such file or bundled scenario `{arg}`; there are no bundled scenarios")
    } else if close.is_empty() {
        format!(
            "no such file or bundled scenario `{arg}`; `brokerlab list` shows the {} bundled scenarios",
            names.len()
        )
    } else {
        format!(
            "no such file or bundled scenario `{arg}`; bundled scenarios with a similar name:\n{}\n\
             (`brokerlab list` shows all {})",
            close
                .iter()
                .map(|n| format!("    {n}"))
                .collect::<Vec<_>>()
                .join("\n"),
            names.len()
        )
    };
    let stem = Path::new(name)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or(name);
    let help = find_bundled(stem)
        .map(|b| format!("did you mean the bundled scenario `{}`?", b.name))
        .or_else(|| error::suggestion(stem, names.iter().copied()));
    Err(ScenarioError::whole(ErrorKind::NotFound, None, message).with_help(help))
}

/// Reads a scenario file: refuses huge files and reports invalid UTF-8 with its position.
pub fn read_file(path: &str) -> Result<String, ScenarioError> {
    let unreadable = |e: std::io::Error| {
        ScenarioError::whole(
            ErrorKind::Unreadable,
            Some(path),
            format!("cannot read the file: {e}"),
        )
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(ScenarioError::whole(
            ErrorKind::Unreadable,
            Some(path),
            "is a directory, not a scenario file",
        )
        .with_expected(Some("a `.toml` scenario file".into())));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ScenarioError::whole(
            ErrorKind::Unreadable,
            Some(path),
            format!("the file is {} bytes, too large for a scenario", meta.len()),
        )
        .with_expected(Some(format!("at most {MAX_FILE_BYTES} bytes (64 MiB)"))));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bad = e.as_bytes().get(at).copied().unwrap_or(0);
        let lossy = String::from_utf8_lossy(e.as_bytes());
        ScenarioError::at(
            ErrorKind::NotUtf8,
            path,
            &lossy,
            at..at + 1,
            format!("the file is not UTF-8 text: byte 0x{bad:02x} is not valid here"),
        )
        .with_expected(Some("a UTF-8 text file (TOML files are UTF-8)".into()))
        .with_reference(Some("the-file"))
    })
}
