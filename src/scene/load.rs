//! Loading a scene: the text read, serde's errors rewritten with the line and the key's
//! path, the document indexed (path and span of every key and array item) for those messages.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::*;
use crate::error::SceneError;

impl Scene {
    /// Reads and validates the scene file at `path`.
    ///
    /// Every problem is a [`SceneError`] naming `path` (as given) and, where it has one, the line.
    pub fn load(path: &Path) -> Result<Scene, SceneError> {
        Self::load_with_overrides(path, &[])
    }

    /// Reads the scene file at `path`, applies command-line overrides (`key=value`, such as
    /// `video.width=3840` or `keyframe[1].width="1e-5"`) to the document, then validates it.
    ///
    /// An override's value is read as a TOML value, or taken as a string when it is not one. A
    /// problem caused by an override names `--set <override>` instead of the file, with no line.
    pub fn load_with_overrides(path: &Path, overrides: &[String]) -> Result<Scene, SceneError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| SceneError {
            file: file.clone(),
            line: None,
            message: format!("cannot read scene file: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = 1 + bytes[..valid.min(bytes.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            SceneError {
                file: file.clone(),
                line: Some(line),
                message: "the scene file is not valid UTF-8 text".to_string(),
            }
        })?;
        Self::parse(&text, path, overrides)
    }

    /// Validates scene text as if it had been read from `source` (used in messages and kept as
    /// [`Scene::source`]).
    pub fn from_toml_str(text: &str, source: &Path) -> Result<Scene, SceneError> {
        Self::parse(text, source, &[])
    }

    fn parse(text: &str, source: &Path, overrides: &[String]) -> Result<Scene, SceneError> {
        let src = Source::new(text, source, overrides);
        let full = src.full.as_str();
        let mut root = DeTable::parse(&full[..src.doc_len]).map_err(|e| {
            let mut message = format!("invalid TOML: {}", one_line(e.message()));
            let key = e.span().and_then(|s| src.raw(&s)).filter(|k| !k.is_empty());
            if let (Some(key), "duplicate key") = (key, e.message()) {
                message.push_str(&format!(" `{}`", one_line(key)));
            }
            src.error(e.span(), message)
        })?;
        for range in &src.overrides {
            apply_override(root.get_mut(), full, range.clone())
                .map_err(|message| src.override_error(range.clone(), message))?;
        }
        let nodes = index_document(&root);
        let file = SceneFile::deserialize(toml::de::Deserializer::from(root))
            .map_err(|e| src.serde_error(&e, &nodes))?;
        Validator { src: &src }.scene(file, source)
    }
}

/// The scene text with the overrides appended after it (one per line), so that every value,
/// whether from the file or from `--set`, has a span into one string.
pub(super) struct Source {
    pub(super) full: String,
    /// `full[..doc_len]` is the scene file.
    pub(super) doc_len: usize,
    /// The file as the user named it.
    pub(super) file: String,
    /// Where each override's `key=value` text lies in `full`.
    pub(super) overrides: Vec<Range<usize>>,
}

impl Source {
    fn new(text: &str, source: &Path, overrides: &[String]) -> Source {
        let mut full = text.to_string();
        let doc_len = full.len();
        let mut ranges = Vec::with_capacity(overrides.len());
        for ov in overrides {
            full.push('\n');
            let start = full.len();
            full.push_str(ov);
            ranges.push(start..full.len());
        }
        Source {
            full,
            doc_len,
            file: source.display().to_string(),
            overrides: ranges,
        }
    }

    /// The text at `span`, as written (quotes included), shortened to one line for messages.
    pub(super) fn shown(&self, span: &Range<usize>) -> String {
        let text = self.full.get(span.clone()).unwrap_or("");
        let first = text.lines().next().unwrap_or("").trim_end();
        let mut out: String = first.chars().take(60).collect();
        if out.len() < text.trim_end().len() {
            out.push('…');
        }
        out
    }

    /// The raw text at `span`, when the span is valid.
    pub(super) fn raw(&self, span: &Range<usize>) -> Option<&str> {
        self.full.get(span.clone())
    }

    /// An error located at `span`: a line of the file, or an override.
    pub(super) fn error(&self, span: Option<Range<usize>>, message: String) -> SceneError {
        if let Some(span) = span {
            if span.start > self.doc_len {
                if let Some(range) = self
                    .overrides
                    .iter()
                    .find(|r| r.start <= span.start && span.start <= r.end)
                {
                    return self.override_error(range.clone(), message);
                }
            } else {
                let end = span.start.min(self.full.len());
                let line = 1 + self.full.as_bytes()[..end]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                return SceneError {
                    file: self.file.clone(),
                    line: Some(line),
                    message,
                };
            }
        }
        SceneError {
            file: self.file.clone(),
            line: None,
            message,
        }
    }

    fn override_error(&self, range: Range<usize>, message: String) -> SceneError {
        SceneError {
            file: format!("--set {}", self.full.get(range).unwrap_or("")),
            line: None,
            message,
        }
    }

    /// Turns a serde error (unknown key, missing key, wrong type) into a message naming the key.
    fn serde_error(&self, err: &toml::de::Error, nodes: &[Node]) -> SceneError {
        let msg = err.message();
        let span = err.span();

        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or("");
            let parent = span
                .as_ref()
                .and_then(|s| nodes.iter().find(|n| n.key_span.as_ref() == Some(s)))
                .map(|n| n.parent.as_str())
                .unwrap_or("");
            let place = if parent.is_empty() {
                "at the top level".to_string()
            } else if parent.ends_with(']') {
                format!("in {parent}")
            } else {
                format!("in [{parent}]")
            };
            let expected = match rest.split_once("expected one of ") {
                Some((_, list)) => format!("expected one of {}", list.replace('`', "")),
                None => match rest.split_once("expected ") {
                    Some((_, one)) => format!("expected {}", one.replace('`', "")),
                    None => "there are no keys here".to_string(),
                },
            };
            return self.error(span, format!("unknown key `{name}` {place} ({expected})"));
        }

        if let Some(rest) = msg.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or("");
            let table = span.as_ref().and_then(|s| {
                nodes
                    .iter()
                    .filter(|n| n.is_table && &n.value_span == s)
                    .max_by_key(|n| n.path.len())
            });
            let (path, span) = match table {
                Some(n) if !n.path.is_empty() => (format!("{}.{name}", n.path), span),
                _ => (name.to_string(), None),
            };
            let hint = match name {
                "keyframe" => " (expected at least one [[keyframe]] table)",
                "video" => " (expected a [video] table with width, height and frames or seconds)",
                _ => "",
            };
            return self.error(span, format!("missing key {path}{hint}"));
        }

        let node = span.as_ref().and_then(|s| {
            nodes
                .iter()
                .filter(|n| &n.value_span == s)
                .max_by_key(|n| n.path.len())
        });
        let Some(node) = node else {
            return self.error(span, one_line(msg));
        };
        let expected = if msg.contains("number overflowed") || msg.contains(" as i128") {
            "a number within the 64-bit range".to_string()
        } else if let Some((_, expected)) = msg.rsplit_once(", expected ") {
            expectation(&node.path, expected)
        } else {
            one_line(msg)
        };
        let what = if node.is_table {
            node.path.clone()
        } else {
            format!("{} = {}", node.path, self.shown(&node.value_span))
        };
        self.error(span, format!("{what} is invalid (expected {expected})"))
    }
}

/// Words for what a key accepts, from serde's `expected ...` text and the key's path.
pub(super) fn expectation(path: &str, serde_expected: &str) -> String {
    if path == "keyframe" {
        return "one or more [[keyframe]] tables".to_string();
    }
    if path.ends_with(".center") {
        return "[re, im], an array of 2 numbers or decimal strings".to_string();
    }
    if path == "color.palette" {
        return "an array of \"#rrggbb\" colors".to_string();
    }
    if serde_expected.starts_with("struct ") {
        return "a table".to_string();
    }
    match serde_expected {
        "a sequence" => "an array".to_string(),
        other => other.to_string(),
    }
}

/// The first line of a (possibly multi-line) message.
pub(super) fn one_line(msg: &str) -> String {
    msg.lines().next().unwrap_or("").trim().to_string()
}

/// One key or array item of the document, with its path (`keyframe[1].width`) and spans, used to
/// name the key in serde's errors (which only carry a span).
pub(super) struct Node {
    pub(super) path: String,
    pub(super) parent: String,
    pub(super) key_span: Option<Range<usize>>,
    pub(super) value_span: Range<usize>,
    pub(super) is_table: bool,
}

pub(super) fn index_document(root: &Spanned<DeTable<'_>>) -> Vec<Node> {
    let mut nodes = vec![Node {
        path: String::new(),
        parent: String::new(),
        key_span: None,
        value_span: root.span(),
        is_table: true,
    }];
    index_table(root.get_ref(), "", &mut nodes);
    nodes
}

pub(super) fn index_table(table: &DeTable<'_>, prefix: &str, nodes: &mut Vec<Node>) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        nodes.push(Node {
            path: path.clone(),
            parent: prefix.to_string(),
            key_span: Some(key.span()),
            value_span: value.span(),
            is_table: matches!(value.get_ref(), DeValue::Table(_)),
        });
        index_value(value.get_ref(), &path, nodes);
    }
}

pub(super) fn index_value(value: &DeValue<'_>, path: &str, nodes: &mut Vec<Node>) {
    match value {
        DeValue::Table(table) => index_table(table, path, nodes),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                nodes.push(Node {
                    path: item_path.clone(),
                    parent: path.to_string(),
                    key_span: None,
                    value_span: item.span(),
                    is_table: matches!(item.get_ref(), DeValue::Table(_)),
                });
                index_value(item.get_ref(), &item_path, nodes);
            }
        }
        _ => {}
    }
}
