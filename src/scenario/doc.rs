//! The scenario text parsed a second time into a spanned document, to find where a field is
//! (`producers[1].acks`) and which field an offset belongs to.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a path into the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Idx(usize),
}

impl<'a> From<&'a str> for Seg<'a> {
    fn from(k: &'a str) -> Self {
        Seg::Key(k)
    }
}

impl From<usize> for Seg<'_> {
    fn from(i: usize) -> Self {
        Seg::Idx(i)
    }
}

/// `fp!["producers", i, "acks"]`
macro_rules! fp {
    ($($seg:expr),* $(,)?) => { &[$($crate::scenario::doc::Seg::from($seg)),*][..] };
}
pub(crate) use fp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OwnedSeg {
    Key(String),
    Idx(usize),
}

/// A path found by [`Doc::path_at`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Path(pub Vec<OwnedSeg>);

impl Path {
    /// The field: the last key with any array indices after it, e.g. `assignment[1][0]`.
    pub fn field(&self) -> Option<String> {
        let k = self.0.iter().rposition(|s| matches!(s, OwnedSeg::Key(_)))?;
        Some(Path(self.0[k..].to_vec()).to_string())
    }

    /// The last key.
    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|s| match s {
            OwnedSeg::Key(k) => Some(k.as_str()),
            OwnedSeg::Idx(_) => None,
        })
    }

    /// The path of the table that holds the field.
    pub fn parent(&self) -> Path {
        match self.0.iter().rposition(|s| matches!(s, OwnedSeg::Key(_))) {
            Some(k) => Path(self.0[..k].to_vec()),
            None => Path::default(),
        }
    }

    pub fn segs(&self) -> Vec<Seg<'_>> {
        self.0
            .iter()
            .map(|s| match s {
                OwnedSeg::Key(k) => Seg::Key(k),
                OwnedSeg::Idx(i) => Seg::Idx(*i),
            })
            .collect()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, s) in self.0.iter().enumerate() {
            match s {
                OwnedSeg::Key(k) if n == 0 => write!(f, "{k}")?,
                OwnedSeg::Key(k) => write!(f, ".{k}")?,
                OwnedSeg::Idx(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

pub(crate) struct Doc<'i> {
    root: Option<Spanned<DeTable<'i>>>,
}

impl<'i> Doc<'i> {
    pub fn parse(text: &'i str) -> Result<Doc<'i>, toml::de::Error> {
        Ok(Doc {
            root: Some(DeTable::parse(text)?),
        })
    }

    /// A document that finds nothing (when the text is not valid TOML).
    pub fn empty() -> Doc<'static> {
        Doc { root: None }
    }

    pub fn root(&self) -> Option<&Spanned<DeTable<'i>>> {
        self.root.as_ref()
    }

    fn step<'a>(v: &'a DeValue<'i>, seg: Seg<'_>) -> Option<&'a Spanned<DeValue<'i>>> {
        match seg {
            Seg::Key(k) => lookup(v.as_table()?, k).map(|(_, v)| v),
            Seg::Idx(i) => v.as_array()?.get(i),
        }
    }

    /// The value at `path`. A field's key may be written as its name or as Kafka's name
    /// (`"enable.idempotence"` for `enable_idempotence`).
    pub fn get(&self, path: &[Seg<'_>]) -> Option<&Spanned<DeValue<'i>>> {
        let root = self.root.as_ref()?;
        let (first, rest) = path.split_first()?;
        let Seg::Key(k) = first else { return None };
        let mut v = root.get_ref().get(*k)?;
        for &seg in rest {
            v = Self::step(v.get_ref(), seg)?;
        }
        Some(v)
    }

    /// Whether the value at `path` is written in the file.
    pub fn has(&self, path: &[Seg<'_>]) -> bool {
        self.get(path).is_some()
    }

    /// The span of the value at `path`, or of the nearest enclosing value that is written in
    /// the file (for a missing field: its table).
    pub fn span(&self, path: &[Seg<'_>]) -> Range<usize> {
        for n in (1..=path.len()).rev() {
            if let Some(v) = self.get(&path[..n]) {
                return v.span();
            }
        }
        0..0
    }

    /// The span of the key of the last step of `path`, falling back like [`Doc::span`].
    pub fn key_span(&self, path: &[Seg<'_>]) -> Range<usize> {
        if let Some((Seg::Key(k), parent)) = path.split_last() {
            let table = if parent.is_empty() {
                self.root.as_ref().map(|r| r.get_ref())
            } else {
                self.get(parent).and_then(|v| v.get_ref().as_table())
            };
            if let Some((key, _)) = table.and_then(|t| lookup(t, k)) {
                return key.span();
            }
        }
        self.span(path)
    }

    /// The innermost key or value whose span contains `offset`. For a key, the path ends with
    /// that key.
    pub fn path_at(&self, offset: usize) -> Path {
        let mut best: Option<(usize, Vec<OwnedSeg>)> = None;
        if let Some(root) = &self.root {
            let mut cur = Vec::new();
            walk_table(root.get_ref(), offset, &mut cur, &mut best);
        }
        Path(best.map(|(_, p)| p).unwrap_or_default())
    }
}

/// The key and value of `field` in `t`, written as the field's name or as one of its Kafka names.
fn lookup<'a, 'i>(
    t: &'a DeTable<'i>,
    field: &str,
) -> Option<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)> {
    t.get_key_value(field)
        .or_else(|| super::kafka::aliases_of(field).find_map(|alias| t.get_key_value(alias)))
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && (offset < span.end || span.start == span.end)
}

fn consider(
    span: Range<usize>,
    offset: usize,
    cur: &[OwnedSeg],
    best: &mut Option<(usize, Vec<OwnedSeg>)>,
) {
    if contains(&span, offset) {
        let len = span.end.saturating_sub(span.start);
        if best.as_ref().is_none_or(|(l, _)| len <= *l) {
            *best = Some((len, cur.to_vec()));
        }
    }
}

fn walk_table(
    t: &DeTable<'_>,
    offset: usize,
    cur: &mut Vec<OwnedSeg>,
    best: &mut Option<(usize, Vec<OwnedSeg>)>,
) {
    for (k, v) in t.iter() {
        cur.push(OwnedSeg::Key(k.get_ref().to_string()));
        consider(v.span(), offset, cur, best);
        walk_value(v.get_ref(), offset, cur, best);
        consider(k.span(), offset, cur, best);
        cur.pop();
    }
}

fn walk_value(
    v: &DeValue<'_>,
    offset: usize,
    cur: &mut Vec<OwnedSeg>,
    best: &mut Option<(usize, Vec<OwnedSeg>)>,
) {
    match v {
        DeValue::Table(t) => walk_table(t, offset, cur, best),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                cur.push(OwnedSeg::Idx(i));
                consider(item.span(), offset, cur, best);
                walk_value(item.get_ref(), offset, cur, best);
                cur.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_paths() {
        let text = "[scenario]\ntitle = \"x\"\n\n[[producers]]\nname = \"p\"\nacks = \"1\"\n\n[[producers]]\nname = \"q\"\nsend = { count = 3 }\n";
        let doc = Doc::parse(text).unwrap();
        let s = doc.span(fp!["producers", 0, "acks"]);
        assert_eq!(&text[s], "\"1\"");
        let s = doc.span(fp!["producers", 1, "acks"]);
        assert_eq!(&text[s], "[[producers]]");
        let s = doc.span(fp!["producers", 1, "send", "count"]);
        assert_eq!(&text[s.clone()], "3");
        assert_eq!(doc.path_at(s.start).to_string(), "producers[1].send.count");
        let k = doc.key_span(fp!["producers", 0, "acks"]);
        assert_eq!(&text[k.clone()], "acks");
        let p = doc.path_at(k.start);
        assert_eq!(p.to_string(), "producers[0].acks");
        assert_eq!(p.field().as_deref(), Some("acks"));
        assert_eq!(p.parent().to_string(), "producers[0]");
    }

    #[test]
    fn fields_are_found_under_their_kafka_names() {
        let text = "[[producers]]\nname = \"p\"\n\"enable.idempotence\" = false\n";
        let doc = Doc::parse(text).unwrap();
        let s = doc.span(fp!["producers", 0, "enable_idempotence"]);
        assert_eq!(&text[s], "false");
        let k = doc.key_span(fp!["producers", 0, "enable_idempotence"]);
        assert_eq!(&text[k], "\"enable.idempotence\"");
        assert!(!doc.has(fp!["producers", 0, "acks"]));
    }
}
