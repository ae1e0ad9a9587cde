//! The scene file: the TOML contract users write, parsed into a validated [`Scene`].
//!
//! Parsing happens in two steps, in the manner of ripgrep's low/high arguments: serde reads the
//! text into a mirror of the file (every value wrapped in `toml::Spanned` so that a problem can
//! be reported with its line), then validation turns that mirror into a [`Scene`] whose fields are
//! all in range. Nothing downstream re-checks a scene. Coordinates keep their decimal text
//! ([`Decimal`]) because deep zooms need more digits than an `f64` holds.
//!
//! Every message has the form `file:line: key = value is invalid (expected ...)`, naming the key
//! by its path (`keyframe[2].width`), because a scene is hand-written and the user should not have
//! to guess which of several `width`s is meant. Serde's own errors carry only a byte span, so the
//! loader indexes the parsed document (path and span of every key and array item) and rewrites
//! them in the same style.
//!
//! Command-line overrides (`--set video.width=3840`) are applied to the parsed document, before
//! validation, so they are checked exactly like the file. Their text is appended to the file's
//! text (after its end), which gives every value one span space: a span past the file's end
//! belongs to an override, and its error names `--set ...` instead of a line.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::error::SceneError;

/// An 8-bit sRGB color, as written `#rrggbb` in a scene file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb8(pub [u8; 3]);

/// A real number kept as the decimal text the user wrote, with an `f64` approximation.
///
/// The text is normalised (no `_`, no leading `+`) but never rounded: `"-0.7436438870371587047"`
/// keeps all its digits. `value` is the nearest `f64` (it may be 0 or infinite for numbers beyond
/// the `f64` range, such as `1e-500`; use [`Decimal::log10_abs`] for magnitudes).
#[derive(Debug, Clone, PartialEq)]
pub struct Decimal {
    text: String,
    value: f64,
}

/// `[video]`: the size, rate and length of the animation.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    /// Pixels, 16..=16384.
    pub width: u32,
    /// Pixels, 16..=16384.
    pub height: u32,
    /// Frames per second, 1..=240.
    pub fps: u32,
    /// Number of frames, >= 1 (from `frames`, or `seconds * fps` rounded, at least 1).
    pub frames: u64,
}

/// An iteration budget as a scene gives it: a number, or `"auto"` (derived from the depth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterationBudget {
    /// This many iterations, >= 1.
    Fixed(u32),
    /// [`crate::deep::auto_max_iterations`] of the keyframe's width: grows with the depth.
    Auto,
}

impl IterationBudget {
    /// The budget for a view of width `10^log10_width`.
    pub fn at(self, log10_width: f64) -> u32 {
        match self {
            IterationBudget::Fixed(n) => n,
            IterationBudget::Auto => crate::deep::auto_max_iterations(log10_width),
        }
    }
}

/// `[render]`: quality settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    /// Default iteration budget for keyframes that do not set their own.
    pub max_iterations: IterationBudget,
    /// Samples per pixel along each axis, 1..=8.
    pub supersample: u32,
}

/// `[color]`: how smooth escape counts become colors.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorSettings {
    /// Cyclic gradient stops, at least 2.
    pub palette: Vec<Rgb8>,
    /// Smooth-iteration units per pass through the palette, > 0.
    pub cycle: f64,
    /// Palette shift in cycles, 0.0..1.0.
    pub offset: f64,
    /// Color of points that never escape.
    pub interior: Rgb8,
}

/// One `[[keyframe]]`, with defaults resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyframe {
    /// Frame number; the first keyframe is at 0 and frames strictly increase.
    pub frame: u64,
    /// Center of the view, `[re, im]`.
    pub center: [Decimal; 2],
    /// Width of the picture in the complex plane, > 0.
    pub width: Decimal,
    /// Degrees, counter-clockwise.
    pub rotation: f64,
    /// Iteration budget at this keyframe (the `[render]` default when not given).
    pub max_iterations: u32,
}

/// A validated scene: every field in range, keyframes ordered, ready to render.
#[derive(Debug, Clone, PartialEq)]
///
/// Made only by loading and validating a scene file ([`Scene::load`]) or text (`str::parse`), so
/// a `Scene` is always valid; its parts are read through methods.
pub struct Scene {
    /// The file the scene came from (used for messages and the default output folder).
    pub(crate) source: PathBuf,
    /// The optional `title`.
    pub(crate) title: Option<String>,
    /// `[video]`.
    pub(crate) video: Video,
    /// `[render]`.
    pub(crate) render: RenderSettings,
    /// `[color]`.
    pub(crate) color: ColorSettings,
    /// At least one; `keyframes[0].frame == 0`; frames strictly increasing and `< video.frames`.
    pub(crate) keyframes: Vec<Keyframe>,
}

impl std::str::FromStr for Scene {
    type Err = SceneError;

    /// A scene from TOML text (errors name the file as `<string>`).
    fn from_str(text: &str) -> Result<Scene, SceneError> {
        Scene::from_toml_str(text, Path::new("<string>"))
    }
}

impl Scene {
    /// The file the scene was read from (`<string>` for text).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The scene's title, if it has one.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Frame width and height in pixels, as `[video]` gives them.
    pub fn size(&self) -> (u32, u32) {
        (self.video.width, self.video.height)
    }

    /// Frames per second.
    pub fn fps(&self) -> u32 {
        self.video.fps
    }

    /// Number of frames.
    pub fn frame_count(&self) -> u64 {
        self.video.frames
    }

    /// The scene file's stem (`seahorse` for `scenes/seahorse.toml`), used to name outputs.
    pub fn stem(&self) -> String {
        self.source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scene".to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

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
struct Source {
    full: String,
    /// `full[..doc_len]` is the scene file.
    doc_len: usize,
    /// The file as the user named it.
    file: String,
    /// Where each override's `key=value` text lies in `full`.
    overrides: Vec<Range<usize>>,
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
    fn shown(&self, span: &Range<usize>) -> String {
        let text = self.full.get(span.clone()).unwrap_or("");
        let first = text.lines().next().unwrap_or("").trim_end();
        let mut out: String = first.chars().take(60).collect();
        if out.len() < text.trim_end().len() {
            out.push('…');
        }
        out
    }

    /// The raw text at `span`, when the span is valid.
    fn raw(&self, span: &Range<usize>) -> Option<&str> {
        self.full.get(span.clone())
    }

    /// An error located at `span`: a line of the file, or an override.
    fn error(&self, span: Option<Range<usize>>, message: String) -> SceneError {
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
fn expectation(path: &str, serde_expected: &str) -> String {
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
fn one_line(msg: &str) -> String {
    msg.lines().next().unwrap_or("").trim().to_string()
}

/// One key or array item of the document, with its path (`keyframe[1].width`) and spans, used to
/// name the key in serde's errors (which only carry a span).
struct Node {
    path: String,
    parent: String,
    key_span: Option<Range<usize>>,
    value_span: Range<usize>,
    is_table: bool,
}

fn index_document(root: &Spanned<DeTable<'_>>) -> Vec<Node> {
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

fn index_table(table: &DeTable<'_>, prefix: &str, nodes: &mut Vec<Node>) {
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

fn index_value(value: &DeValue<'_>, path: &str, nodes: &mut Vec<Node>) {
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

// ---------------------------------------------------------------------------------------------
// Overrides
// ---------------------------------------------------------------------------------------------

/// Overrides never need deep keys; a bound keeps the document shallow (toml bounds the file's).
const MAX_KEY_SEGMENTS: usize = 16;

/// One segment of an override key: `keyframe[1]` is name `keyframe`, index 1.
struct KeySegment<'i> {
    name: &'i str,
    index: Option<usize>,
    span: Range<usize>,
}

/// Applies the override `full[range]` (`key=value`) to the document. Errors are messages; the
/// caller names the override.
fn apply_override<'i>(
    root: &mut DeTable<'i>,
    full: &'i str,
    range: Range<usize>,
) -> Result<(), String> {
    const USAGE: &str =
        "expected key=value, for example video.width=3840 or keyframe[1].width=\"1e-5\"";
    let ov = full.get(range.clone()).unwrap_or("");
    let Some(eq) = ov.find('=') else {
        return Err(USAGE.to_string());
    };
    let segments = parse_key_path(full, range.start, range.start + eq).ok_or(USAGE)?;
    if segments.len() > MAX_KEY_SEGMENTS {
        return Err(format!("the key has more than {MAX_KEY_SEGMENTS} parts"));
    }

    let raw_value = &ov[eq + 1..];
    let lead = raw_value.len() - raw_value.trim_start().len();
    let vstart = range.start + eq + 1 + lead;
    let vrange = vstart..vstart + raw_value.trim().len();
    let value_text = full.get(vrange.clone()).unwrap_or("");
    let value = match DeValue::parse(value_text) {
        Ok(v) => shift_value(v, vstart),
        Err(_) => Spanned::new(vrange, DeValue::String(Cow::Borrowed(value_text))),
    };

    let mut table = root;
    let mut path = String::new();
    let last = segments.len() - 1;
    let mut value = Some(value);
    for (i, seg) in segments.into_iter().enumerate() {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(seg.name);
        let key = Spanned::new(seg.span.clone(), Cow::Borrowed(seg.name));
        let new_table = || Spanned::new(seg.span.clone(), DeValue::Table(DeTable::new()));
        let slot: &mut Spanned<DeValue<'i>> = match seg.index {
            None if i == last => {
                if let Some(v) = value.take() {
                    table.insert(key, v);
                }
                return Ok(());
            }
            None => table.entry(key).or_insert_with(new_table),
            Some(index) => {
                let array = table.entry(key).or_insert_with(|| {
                    Spanned::new(seg.span.clone(), DeValue::Array(DeArray::new()))
                });
                let DeValue::Array(items) = array.get_mut() else {
                    return Err(format!("{path} is not an array"));
                };
                path.push_str(&format!("[{index}]"));
                let len = items.len();
                if index > len {
                    return Err(format!(
                        "{path} does not exist ({} has {len} item{}; use an index up to {len})",
                        seg.name,
                        if len == 1 { "" } else { "s" }
                    ));
                }
                if i == last {
                    if let Some(v) = value.take() {
                        match items.get_mut(index) {
                            Some(slot) => *slot = v,
                            None => items.push(v),
                        }
                    }
                    return Ok(());
                }
                if index == len {
                    items.push(new_table());
                }
                match items.get_mut(index) {
                    Some(slot) => slot,
                    None => return Err(format!("{path} does not exist")),
                }
            }
        };
        match slot.get_mut() {
            DeValue::Table(t) => table = t,
            _ => return Err(format!("{path} is not a table")),
        }
    }
    Ok(())
}

/// Parses `full[start..end]`, such as `keyframe[1].width`, into segments (names of letters,
/// digits, `_` and `-`, each with an optional `[index]`).
fn parse_key_path(full: &str, start: usize, end: usize) -> Option<Vec<KeySegment<'_>>> {
    let key = full.get(start..end)?;
    let lead = key.len() - key.trim_start().len();
    let mut pos = start + lead;
    let mut segments = Vec::new();
    for part in key.trim().split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => {
                let digits = rest.strip_suffix(']')?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (name, Some(digits.parse::<usize>().ok()?))
            }
            None => (part, None),
        };
        let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if name.is_empty() || !name.bytes().all(valid) {
            return None;
        }
        let name_start = pos;
        segments.push(KeySegment {
            name: full.get(name_start..name_start + name.len())?,
            index,
            span: name_start..name_start + part.len(),
        });
        pos += part.len() + 1;
    }
    Some(segments)
}

/// Moves every span of a value parsed on its own by `offset`, so that it points into `full`.
fn shift_value(value: Spanned<DeValue<'_>>, offset: usize) -> Spanned<DeValue<'_>> {
    let span = value.span();
    let span = span.start + offset..span.end + offset;
    let inner = match value.into_inner() {
        DeValue::Array(items) => DeValue::Array(
            items
                .into_iter()
                .map(|item| shift_value(item, offset))
                .collect(),
        ),
        DeValue::Table(table) => {
            let mut shifted = DeTable::new();
            for (key, item) in table {
                let key_span = key.span();
                shifted.insert(
                    Spanned::new(
                        key_span.start + offset..key_span.end + offset,
                        key.into_inner(),
                    ),
                    shift_value(item, offset),
                );
            }
            DeValue::Table(shifted)
        }
        other => other,
    };
    Spanned::new(span, inner)
}

// ---------------------------------------------------------------------------------------------
// The file, as serde reads it
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SceneFile {
    title: Option<Spanned<String>>,
    video: Spanned<VideoFile>,
    render: Option<Spanned<RenderFile>>,
    color: Option<Spanned<ColorFile>>,
    keyframe: Spanned<Vec<Spanned<KeyframeFile>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VideoFile {
    width: Spanned<Int>,
    height: Spanned<Int>,
    fps: Option<Spanned<Int>>,
    frames: Option<Spanned<Int>>,
    seconds: Option<Spanned<Float>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderFile {
    max_iterations: Option<Spanned<Budget>>,
    supersample: Option<Spanned<Int>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColorFile {
    palette: Option<Spanned<Vec<Spanned<String>>>>,
    cycle: Option<Spanned<Float>>,
    offset: Option<Spanned<Float>>,
    interior: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyframeFile {
    frame: Spanned<Int>,
    center: Spanned<Vec<Spanned<NumberText>>>,
    width: Spanned<NumberText>,
    rotation: Option<Spanned<Float>>,
    max_iterations: Option<Spanned<Budget>>,
}

/// An iteration budget: a TOML integer, or a string (only `"auto"` is valid).
enum Budget {
    Count(i128),
    Text(String),
}

impl<'de> Deserialize<'de> for Budget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BudgetVisitor;
        impl Visitor<'_> for BudgetVisitor {
            type Value = Budget;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or \"auto\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Budget, E> {
                Ok(Budget::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Budget, E> {
                Ok(Budget::Count(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Budget, E> {
                Ok(Budget::Count(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Budget, E> {
                Ok(Budget::Count(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Budget, E> {
                Ok(Budget::Count(i128::try_from(v).unwrap_or(i128::MAX)))
            }
        }
        deserializer.deserialize_any(BudgetVisitor)
    }
}

/// A TOML integer, of any size the parser accepts (ranges are checked in validation).
struct Int(i128);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                Ok(Int(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Int, E> {
                Ok(Int(i128::try_from(v).unwrap_or(i128::MAX)))
            }
        }
        deserializer.deserialize_any(IntVisitor)
    }
}

/// A TOML float or integer (finiteness is checked in validation).
struct Float(f64);

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FloatVisitor;
        impl Visitor<'_> for FloatVisitor {
            type Value = Float;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Float, E> {
                Ok(Float(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
        }
        deserializer.deserialize_any(FloatVisitor)
    }
}

/// A coordinate or width: a string of decimal text, or a TOML number whose source text is kept
/// (the span gives it back).
enum NumberText {
    Text(String),
    Int(i128),
    Float,
}

impl<'de> Deserialize<'de> for NumberText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberTextVisitor;
        impl Visitor<'_> for NumberTextVisitor {
            type Value = NumberText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string of decimal text such as \"-0.75\" or \"1.5e-3\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumberText, E> {
                Ok(NumberText::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<NumberText, E> {
                Ok(NumberText::Float)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumberText, E> {
                Ok(NumberText::Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumberText, E> {
                Ok(NumberText::Int(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<NumberText, E> {
                Ok(NumberText::Int(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<NumberText, E> {
                Ok(NumberText::Int(i128::try_from(v).unwrap_or(i128::MAX)))
            }
        }
        deserializer.deserialize_any(NumberTextVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// The palette used when `[color]` does not give one.
const DEFAULT_PALETTE: [Rgb8; 5] = [
    Rgb8([0x00, 0x07, 0x64]),
    Rgb8([0x20, 0x6b, 0xcb]),
    Rgb8([0xed, 0xff, 0xff]),
    Rgb8([0xff, 0xaa, 0x00]),
    Rgb8([0x00, 0x02, 0x00]),
];

const DIMENSION: RangeInclusive<i128> = 16..=16384;
const FPS: RangeInclusive<i128> = 1..=240;
const SUPERSAMPLE: RangeInclusive<i128> = 1..=8;
const ITERATIONS: RangeInclusive<i128> = 1..=u32::MAX as i128;
const FRAMES: RangeInclusive<i128> = 1..=u64::MAX as i128;
const COLOR_FORMAT: &str = "a color written \"#rrggbb\"";

struct Validator<'s> {
    src: &'s Source,
}

impl Validator<'_> {
    /// `path = value is invalid (expected ...)`, at the value's line.
    fn invalid(&self, path: &str, span: &Range<usize>, expected: &str) -> SceneError {
        let message = format!(
            "{path} = {} is invalid (expected {expected})",
            self.src.shown(span)
        );
        self.src.error(Some(span.clone()), message)
    }

    fn int_in(
        &self,
        path: &str,
        value: &Spanned<Int>,
        range: RangeInclusive<i128>,
    ) -> Result<i128, SceneError> {
        let v = value.get_ref().0;
        if range.contains(&v) {
            return Ok(v);
        }
        let expected = if *range.end() >= u64::MAX as i128 {
            format!(">= {}", range.start())
        } else {
            format!("{} to {}", range.start(), range.end())
        };
        Err(self.invalid(path, &value.span(), &expected))
    }

    fn budget(&self, path: &str, value: &Spanned<Budget>) -> Result<IterationBudget, SceneError> {
        let expected = "an integer from 1 to 4294967295, or \"auto\"";
        match value.get_ref() {
            Budget::Count(n) if ITERATIONS.contains(n) => Ok(IterationBudget::Fixed(*n as u32)),
            Budget::Text(text) if text == "auto" => Ok(IterationBudget::Auto),
            _ => Err(self.invalid(path, &value.span(), expected)),
        }
    }

    fn finite(&self, path: &str, value: &Spanned<Float>) -> Result<f64, SceneError> {
        let v = value.get_ref().0;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.invalid(path, &value.span(), "a finite number"))
        }
    }

    fn color(&self, path: &str, value: &Spanned<String>) -> Result<Rgb8, SceneError> {
        Rgb8::parse(value.get_ref()).ok_or_else(|| self.invalid(path, &value.span(), COLOR_FORMAT))
    }

    fn decimal(&self, path: &str, value: &Spanned<NumberText>) -> Result<Decimal, SceneError> {
        let span = value.span();
        let parsed = match value.get_ref() {
            NumberText::Text(text) => Decimal::parse(text),
            NumberText::Int(v) => self
                .src
                .raw(&span)
                .and_then(number_source)
                .or_else(|| Decimal::parse(&v.to_string())),
            NumberText::Float => self.src.raw(&span).and_then(number_source),
        };
        parsed.ok_or_else(|| {
            self.invalid(
                path,
                &span,
                "a finite decimal number such as \"-0.75\" or \"1.5e-3\"",
            )
        })
    }

    fn scene(&self, file: SceneFile, source: &Path) -> Result<Scene, SceneError> {
        let title = file.title.map(Spanned::into_inner);
        let video = self.video(&file.video)?;
        let render = self.render(file.render.as_ref())?;
        let color = self.color_settings(file.color.as_ref())?;

        let keyframes_span = file.keyframe.span();
        let keyframe_files = file.keyframe.into_inner();
        if keyframe_files.is_empty() {
            return Err(self.src.error(
                Some(keyframes_span),
                "keyframe is empty (expected at least one [[keyframe]] table)".to_string(),
            ));
        }
        let mut keyframes: Vec<Keyframe> = Vec::with_capacity(keyframe_files.len());
        for (i, kf) in keyframe_files.iter().enumerate() {
            let keyframe = self.keyframe(i, kf.get_ref(), &video, &render, keyframes.last())?;
            keyframes.push(keyframe);
        }

        Ok(Scene {
            source: source.to_path_buf(),
            title,
            video,
            render,
            color,
            keyframes,
        })
    }

    fn video(&self, file: &Spanned<VideoFile>) -> Result<Video, SceneError> {
        let v = file.get_ref();
        let width = self.int_in("video.width", &v.width, DIMENSION)?;
        let height = self.int_in("video.height", &v.height, DIMENSION)?;
        let fps = match &v.fps {
            Some(fps) => self.int_in("video.fps", fps, FPS)?,
            None => 30,
        };
        let frames = match (&v.frames, &v.seconds) {
            (Some(frames), None) => self.int_in("video.frames", frames, FRAMES)? as u64,
            (None, Some(seconds)) => {
                let s = self.finite("video.seconds", seconds)?;
                if s <= 0.0 {
                    return Err(self.invalid("video.seconds", &seconds.span(), "> 0"));
                }
                // Saturating: an absurd length is caught by whoever renders it, not by a panic.
                ((s * fps as f64).round() as u64).max(1)
            }
            (Some(frames), Some(seconds)) => {
                let later = if seconds.span().start > frames.span().start {
                    seconds.span()
                } else {
                    frames.span()
                };
                return Err(self.src.error(
                    Some(later),
                    "video.frames and video.seconds are both set (expected exactly one of them)"
                        .to_string(),
                ));
            }
            (None, None) => {
                return Err(self.src.error(
                    Some(file.span()),
                    "missing key video.frames or video.seconds (expected exactly one of them)"
                        .to_string(),
                ));
            }
        };
        Ok(Video {
            width: width as u32,
            height: height as u32,
            fps: fps as u32,
            frames,
        })
    }

    fn render(&self, file: Option<&Spanned<RenderFile>>) -> Result<RenderSettings, SceneError> {
        let mut render = RenderSettings {
            max_iterations: IterationBudget::Fixed(1000),
            supersample: 1,
        };
        let Some(file) = file.map(Spanned::get_ref) else {
            return Ok(render);
        };
        if let Some(it) = &file.max_iterations {
            render.max_iterations = self.budget("render.max_iterations", it)?;
        }
        if let Some(ss) = &file.supersample {
            render.supersample = self.int_in("render.supersample", ss, SUPERSAMPLE)? as u32;
        }
        Ok(render)
    }

    fn color_settings(
        &self,
        file: Option<&Spanned<ColorFile>>,
    ) -> Result<ColorSettings, SceneError> {
        let mut color = ColorSettings {
            palette: DEFAULT_PALETTE.to_vec(),
            cycle: 64.0,
            offset: 0.0,
            interior: Rgb8([0, 0, 0]),
        };
        let Some(file) = file.map(Spanned::get_ref) else {
            return Ok(color);
        };
        if let Some(palette) = &file.palette {
            let stops = palette
                .get_ref()
                .iter()
                .enumerate()
                .map(|(i, stop)| self.color(&format!("color.palette[{i}]"), stop))
                .collect::<Result<Vec<_>, _>>()?;
            if stops.len() < 2 {
                return Err(self.invalid("color.palette", &palette.span(), "at least 2 colors"));
            }
            color.palette = stops;
        }
        if let Some(cycle) = &file.cycle {
            color.cycle = self.finite("color.cycle", cycle)?;
            if color.cycle <= 0.0 {
                return Err(self.invalid("color.cycle", &cycle.span(), "> 0"));
            }
        }
        if let Some(offset) = &file.offset {
            color.offset = self.finite("color.offset", offset)?;
            if !(0.0..1.0).contains(&color.offset) {
                return Err(self.invalid("color.offset", &offset.span(), ">= 0 and < 1"));
            }
        }
        if let Some(interior) = &file.interior {
            color.interior = self.color("color.interior", interior)?;
        }
        Ok(color)
    }

    fn keyframe(
        &self,
        i: usize,
        kf: &KeyframeFile,
        video: &Video,
        render: &RenderSettings,
        previous: Option<&Keyframe>,
    ) -> Result<Keyframe, SceneError> {
        let key = |name: &str| format!("keyframe[{i}].{name}");

        let frame_span = kf.frame.span();
        let frame = kf.frame.get_ref().0;
        if frame < 0 {
            return Err(self.invalid(&key("frame"), &frame_span, ">= 0"));
        }
        match previous {
            None if frame != 0 => {
                return Err(self.invalid(
                    &key("frame"),
                    &frame_span,
                    "0: the first keyframe must be at frame 0",
                ));
            }
            Some(prev) if frame <= i128::from(prev.frame) => {
                return Err(self.invalid(
                    &key("frame"),
                    &frame_span,
                    &format!(
                        "greater than keyframe[{}].frame = {}",
                        i.saturating_sub(1),
                        prev.frame
                    ),
                ));
            }
            _ => {}
        }
        if frame >= i128::from(video.frames) {
            return Err(self.invalid(
                &key("frame"),
                &frame_span,
                &format!(
                    "< {}, the scene has {} frame{}",
                    video.frames,
                    video.frames,
                    if video.frames == 1 { "" } else { "s" }
                ),
            ));
        }

        let center_items = kf.center.get_ref();
        if center_items.len() != 2 {
            return Err(self.invalid(
                &key("center"),
                &kf.center.span(),
                "[re, im], an array of exactly 2 numbers or decimal strings",
            ));
        }
        let re = self.decimal(&key("center[0]"), &center_items[0])?;
        let im = self.decimal(&key("center[1]"), &center_items[1])?;

        let width = self.decimal(&key("width"), &kf.width)?;
        if !width.is_positive() {
            return Err(self.invalid(&key("width"), &kf.width.span(), "> 0"));
        }

        let rotation = match &kf.rotation {
            Some(r) => self.finite(&key("rotation"), r)?,
            None => 0.0,
        };
        let budget = match &kf.max_iterations {
            Some(it) => self.budget(&key("max_iterations"), it)?,
            None => render.max_iterations,
        };
        let max_iterations = budget.at(width.log10_abs());

        Ok(Keyframe {
            frame: frame as u64,
            center: [re, im],
            width,
            rotation,
            max_iterations,
        })
    }
}

/// The decimal value of a TOML number's source text: `_` removed, a leading `+` dropped.
/// `None` for `nan`, `inf` and hexadecimal, octal or binary integers.
fn number_source(raw: &str) -> Option<Decimal> {
    let cleaned: String = raw.trim().chars().filter(|&c| c != '_').collect();
    Decimal::parse(&cleaned)
}

// ---------------------------------------------------------------------------------------------
// Colors and decimals
// ---------------------------------------------------------------------------------------------

impl Rgb8 {
    /// Parses `#rrggbb` (6 hexadecimal digits, either case).
    pub fn parse(text: &str) -> Option<Rgb8> {
        let hex = text.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        Some(Rgb8([byte(0)?, byte(2)?, byte(4)?]))
    }
}

impl fmt::Display for Rgb8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

/// The largest exponent magnitude [`Decimal::parse`] accepts.
const MAX_EXPONENT: u64 = 1_000_000_000;

impl Decimal {
    /// Parses decimal text: an optional sign, digits with an optional fraction (at least one
    /// digit in all: `"2"`, `"-.5"`, `"3."`), and an optional exponent (`e` or `E`, optional sign,
    /// digits, magnitude at most 10^9). No spaces, `_`, `nan`, `inf` or hexadecimal.
    pub fn parse(text: &str) -> Option<Decimal> {
        DecimalParts::split(text)?;
        let text = text.strip_prefix('+').unwrap_or(text).to_string();
        // Rust's parser accepts a superset of this grammar and rounds to nearest.
        let value = text.parse::<f64>().ok()?;
        Some(Decimal { text, value })
    }

    /// Normalised text of a finite `f64`, the shortest that reads back to the same value.
    ///
    /// A NaN gives 0 and an infinity gives `±f64::MAX`, since a `Decimal` is always finite text.
    pub fn from_f64(x: f64) -> Decimal {
        let x = if x.is_nan() {
            0.0
        } else {
            x.clamp(f64::MIN, f64::MAX)
        };
        let plain = format!("{x}");
        let mut sci = format!("{x:e}");
        if let Some(stripped) = sci.strip_suffix("e0") {
            sci = stripped.to_string();
        }
        let text = if sci.len() < plain.len() { sci } else { plain };
        Decimal { text, value: x }
    }

    /// The normalised decimal text (as written, without `_` or a leading `+`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The nearest `f64` (0 or infinite beyond the `f64` range).
    pub fn to_f64(&self) -> f64 {
        self.value
    }

    /// Whether every digit is 0 (whatever the exponent or sign).
    pub fn is_zero(&self) -> bool {
        DecimalParts::split(&self.text).is_none_or(|p| p.significant().is_empty())
    }

    /// Whether the number is < 0, from its digits (so `"-1e-500"` is negative).
    pub fn is_negative(&self) -> bool {
        self.text.starts_with('-') && !self.is_zero()
    }

    /// Whether the number is > 0, from its digits (so `"1e-500"` is positive).
    pub fn is_positive(&self) -> bool {
        !self.text.starts_with('-') && !self.is_zero()
    }

    /// `log10(|x|)`, from the digits and exponent, so it is right far beyond the `f64` range
    /// (`"1e-500"` gives -500). Negative infinity for zero.
    pub fn log10_abs(&self) -> f64 {
        if self.value.is_normal() {
            // Within the normal f64 range the rounded value is accurate to half an ulp.
            return self.value.abs().log10();
        }
        let Some(parts) = DecimalParts::split(&self.text) else {
            return f64::NEG_INFINITY;
        };
        let significant = parts.significant();
        if significant.is_empty() {
            return f64::NEG_INFINITY;
        }
        // Leading digits as d.ddd (at most 17 are meaningful to an f64).
        let head: String = significant.chars().take(17).collect();
        let lead = format!("{}.{}", &head[..1], &head[1..])
            .parse::<f64>()
            .unwrap_or(1.0);
        // significant = D with n digits; x = D * 10^(exponent - fraction digits).
        let n = significant.len() as f64;
        lead.log10() + (n - 1.0) + parts.exponent as f64 - parts.fraction.len() as f64
    }

    /// `ln(|x|)`, like [`Decimal::log10_abs`] (right beyond the `f64` range, negative infinity
    /// for zero), and exactly `x.abs().ln()` for numbers in the normal `f64` range.
    pub fn ln_abs(&self) -> f64 {
        if self.value.is_normal() {
            self.value.abs().ln()
        } else {
            self.log10_abs() * std::f64::consts::LN_10
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The pieces of decimal text, checked against the grammar of [`Decimal::parse`].
struct DecimalParts<'a> {
    integer: &'a str,
    fraction: &'a str,
    exponent: i64,
}

impl<'a> DecimalParts<'a> {
    fn split(text: &'a str) -> Option<DecimalParts<'a>> {
        let unsigned = text
            .strip_prefix('-')
            .or_else(|| text.strip_prefix('+'))
            .unwrap_or(text);
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
            None => (unsigned, None),
        };
        let (integer, fraction) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if integer.len() + fraction.len() == 0 || !digits(integer) || !digits(fraction) {
            return None;
        }
        let exponent = match exponent {
            None => 0,
            Some(e) => {
                let (negative, magnitude) = match e.strip_prefix('-') {
                    Some(m) => (true, m),
                    None => (false, e.strip_prefix('+').unwrap_or(e)),
                };
                if magnitude.is_empty() || !digits(magnitude) {
                    return None;
                }
                let magnitude = magnitude.trim_start_matches('0');
                if magnitude.len() > 10 {
                    return None;
                }
                let value: u64 = if magnitude.is_empty() {
                    0
                } else {
                    magnitude.parse().ok()?
                };
                if value > MAX_EXPONENT {
                    return None;
                }
                let value = value as i64;
                if negative { -value } else { value }
            }
        };
        Some(DecimalParts {
            integer,
            fraction,
            exponent,
        })
    }

    /// The mantissa's digits (integer then fraction) without leading zeros; empty for zero.
    fn significant(&self) -> String {
        let all = format!("{}{}", self.integer, self.fraction);
        all.trim_start_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r##"title = "Into Seahorse Valley"

[video]
width = 1920
height = 1080
fps = 60
frames = 900

[render]
max_iterations = 2000
supersample = 3

[color]
palette = ["#000000", "#FFaa00", "#ffffff"]
cycle = 32
offset = 0.25
interior = "#102030"

[[keyframe]]
frame = 0
center = ["-0.75", 0.0]
width = 3.5

[[keyframe]]
frame = 450
center = ["-0.743643887037158704752191506114774", "+0.131825904205311970493132056385139"]
width = 1e-11
rotation = 90
max_iterations = 50_000

[[keyframe]]
frame = 899
center = [-1, "-.5"]
width = "1e-500"
"##;

    const MINIMAL: &str = r#"
[video]
width = 640
height = 480
seconds = 2.5

[[keyframe]]
frame = 0
center = [0, 0]
width = 4
"#;

    fn load(text: &str) -> Result<Scene, SceneError> {
        Scene::from_toml_str(text, Path::new("scenes/x.toml"))
    }

    fn load_err(text: &str) -> SceneError {
        match load(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e,
        }
    }

    /// Asserts an error at `line` whose message contains every one of `parts`.
    #[track_caller]
    fn assert_err(text: &str, line: Option<usize>, parts: &[&str]) {
        let e = load_err(text);
        assert_eq!(e.file, "scenes/x.toml", "{e}");
        assert_eq!(e.line, line, "{e}");
        for part in parts {
            assert!(e.message.contains(part), "{e:?} should contain {part:?}");
        }
    }

    /// MINIMAL with `line` inserted after line `after` (1-based, counting the leading newline).
    fn with(after: usize, line: &str) -> String {
        let mut lines: Vec<&str> = MINIMAL.split('\n').collect();
        lines.insert(after, line);
        lines.join("\n")
    }

    fn dec(text: &str) -> Decimal {
        Decimal::parse(text).unwrap_or_else(|| panic!("{text:?} should parse"))
    }

    #[test]
    fn max_iterations_auto_grows_with_depth() {
        let text = r#"
[video]
width = 64
height = 36
frames = 3
[render]
max_iterations = "auto"
[[keyframe]]
frame = 0
center = [0, 0]
width = 4
[[keyframe]]
frame = 1
center = [0, 0]
width = "1e-100"
[[keyframe]]
frame = 2
center = [0, 0]
width = "1e-100"
max_iterations = 77
"#;
        let scene = Scene::from_toml_str(text, Path::new("auto.toml")).unwrap();
        assert_eq!(scene.render.max_iterations, IterationBudget::Auto);
        let k = &scene.keyframes;
        assert_eq!(
            k[0].max_iterations,
            crate::deep::auto_max_iterations(4f64.log10())
        );
        assert_eq!(
            k[1].max_iterations,
            crate::deep::auto_max_iterations(-100.0)
        );
        assert!(k[1].max_iterations > 10 * k[0].max_iterations);
        assert_eq!(k[2].max_iterations, 77);
        let bad = text.replace(r#"max_iterations = "auto""#, r#"max_iterations = "many""#);
        let e = Scene::from_toml_str(&bad, Path::new("auto.toml")).unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(
            e.message
                .contains(r#"render.max_iterations = "many" is invalid (expected an integer"#),
            "{e}"
        );
    }

    #[test]
    fn full_scene_reads_every_value() {
        let scene = load(FULL).unwrap();
        assert_eq!(scene.source, PathBuf::from("scenes/x.toml"));
        assert_eq!(scene.stem(), "x");
        assert_eq!(scene.title.as_deref(), Some("Into Seahorse Valley"));
        assert_eq!(
            scene.video,
            Video {
                width: 1920,
                height: 1080,
                fps: 60,
                frames: 900
            }
        );
        assert_eq!(
            scene.render,
            RenderSettings {
                max_iterations: IterationBudget::Fixed(2000),
                supersample: 3
            }
        );
        assert_eq!(
            scene.color.palette,
            vec![
                Rgb8([0, 0, 0]),
                Rgb8([0xff, 0xaa, 0]),
                Rgb8([0xff, 0xff, 0xff])
            ]
        );
        assert_eq!(scene.color.cycle, 32.0);
        assert_eq!(scene.color.offset, 0.25);
        assert_eq!(scene.color.interior, Rgb8([0x10, 0x20, 0x30]));

        let k = &scene.keyframes;
        assert_eq!(k.len(), 3);
        assert_eq!(k[0].frame, 0);
        assert_eq!(k[0].center[0].text(), "-0.75");
        assert_eq!(k[0].center[1].text(), "0.0");
        assert_eq!(k[0].width.text(), "3.5");
        assert_eq!(k[0].rotation, 0.0);
        assert_eq!(k[0].max_iterations, 2000);

        assert_eq!(k[1].frame, 450);
        assert_eq!(
            k[1].center[0].text(),
            "-0.743643887037158704752191506114774"
        );
        assert_eq!(k[1].center[1].text(), "0.131825904205311970493132056385139");
        assert_eq!(k[1].width.text(), "1e-11");
        assert_eq!(k[1].width.to_f64(), 1e-11);
        assert_eq!(k[1].rotation, 90.0);
        assert_eq!(k[1].max_iterations, 50_000);

        assert_eq!(k[2].frame, 899);
        assert_eq!(k[2].center[0].text(), "-1");
        assert_eq!(k[2].center[1].text(), "-.5");
        assert_eq!(k[2].center[1].to_f64(), -0.5);
        assert_eq!(k[2].width.text(), "1e-500");
        assert!(k[2].width.is_positive());
        assert_eq!(k[2].width.log10_abs(), -500.0);
    }

    #[test]
    fn minimal_scene_gets_defaults() {
        let scene = load(MINIMAL).unwrap();
        assert_eq!(scene.title, None);
        assert_eq!(scene.video.fps, 30);
        assert_eq!(scene.video.frames, 75); // 2.5 s * 30 fps
        assert_eq!(scene.render.max_iterations, IterationBudget::Fixed(1000));
        assert_eq!(scene.render.supersample, 1);
        assert_eq!(scene.color.palette, DEFAULT_PALETTE.to_vec());
        assert_eq!(
            scene.color.palette[0],
            Rgb8::parse("#000764").unwrap(),
            "default palette starts at #000764"
        );
        assert_eq!(scene.color.cycle, 64.0);
        assert_eq!(scene.color.offset, 0.0);
        assert_eq!(scene.color.interior, Rgb8([0, 0, 0]));
        assert_eq!(scene.keyframes[0].max_iterations, 1000);
        assert_eq!(scene.keyframes[0].center[0].text(), "0");
        assert_eq!(scene.keyframes[0].width.text(), "4");
    }

    #[test]
    fn seconds_round_to_at_least_one_frame() {
        let scene = load(&MINIMAL.replace("seconds = 2.5", "seconds = 0.001")).unwrap();
        assert_eq!(scene.video.frames, 1);
        let scene = load(&MINIMAL.replace("seconds = 2.5", "seconds = 1\nfps = 24")).unwrap();
        assert_eq!(scene.video.frames, 24);
    }

    #[test]
    fn decimal_parse_accepts_the_grammar() {
        for ok in [
            "0",
            "-0",
            "+2",
            "2.",
            "-.5",
            ".5",
            "1.5e-3",
            "1E+9",
            "1e-500",
            "1e1000000000",
            "007",
            "-0.743643887037158704752191506114774",
        ] {
            assert!(Decimal::parse(ok).is_some(), "{ok:?} should parse");
        }
        for bad in [
            "",
            "-",
            "+",
            ".",
            "e5",
            "1e",
            "1e+",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "infinity",
            "0x10",
            " 1",
            "1 ",
            "1_000",
            "1.2.3",
            "1e1000000001",
            "1e99999999999999999999",
            "--1",
            "+-1",
            "1e5.5",
            "١",
            "1,5",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?} should not parse");
        }
        assert_eq!(dec("+2").text(), "2");
        assert_eq!(dec("+2").to_string(), "2");
        assert_eq!(dec("1.5e-3").to_f64(), 0.0015);
        assert_eq!(dec("-.5").to_f64(), -0.5);
    }

    #[test]
    fn decimal_sign_comes_from_the_digits() {
        assert!(dec("1e-500").is_positive());
        assert_eq!(dec("1e-500").to_f64(), 0.0);
        assert!(dec("-1e-500").is_negative());
        assert!(!dec("-1e-500").is_positive());
        for zero in ["0", "-0", "0.000", "-0e-5", ".0", "0e1000"] {
            let d = dec(zero);
            assert!(
                d.is_zero() && !d.is_positive() && !d.is_negative(),
                "{zero}"
            );
        }
        assert!(dec("3").is_positive() && !dec("3").is_zero());
    }

    #[test]
    fn decimal_log10_works_beyond_f64() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(dec("1e-500").log10_abs(), -500.0));
        assert!(close(dec("-1e+500").log10_abs(), 500.0));
        assert!(close(dec("100").log10_abs(), 2.0));
        assert!(close(dec("0.00123").log10_abs(), 1.23f64.log10() - 3.0));
        assert!(close(dec("-12.5e3").log10_abs(), 12500f64.log10()));
        assert!(close(dec("000.0025e-2").log10_abs(), 2.5e-5f64.log10()));
        assert_eq!(dec("0.0").log10_abs(), f64::NEG_INFINITY);
        assert!(close(dec("1e-400").log10_abs(), -400.0));
        assert!(close(dec("-2.5e-320").log10_abs(), 2.5f64.log10() - 320.0));
        assert_eq!(dec("4").ln_abs(), 4f64.ln());
        assert!(close(
            dec("1e-500").ln_abs(),
            -500.0 * std::f64::consts::LN_10
        ));
        assert_eq!(dec("-0").ln_abs(), f64::NEG_INFINITY);
    }

    #[test]
    fn decimal_from_f64_round_trips() {
        for x in [
            0.0,
            -0.0,
            1.0,
            0.5,
            -0.75,
            1e-11,
            3.5,
            1e300,
            123456.789,
            f64::MIN_POSITIVE,
        ] {
            let d = Decimal::from_f64(x);
            assert_eq!(d.to_f64(), x);
            assert_eq!(Decimal::parse(d.text()).map(|d| d.to_f64()), Some(x), "{x}");
        }
        assert_eq!(Decimal::from_f64(1e-11).text(), "1e-11");
        assert_eq!(Decimal::from_f64(0.5).text(), "0.5");
        assert_eq!(Decimal::from_f64(3.0).text(), "3");
        assert_eq!(Decimal::from_f64(f64::NAN).text(), "0");
        assert!(Decimal::from_f64(f64::INFINITY).to_f64().is_finite());
    }

    #[test]
    fn colors() {
        assert_eq!(Rgb8::parse("#aBcDeF"), Some(Rgb8([0xab, 0xcd, 0xef])));
        for bad in [
            "abcdef", "#abcde", "#abcdefa", "#ggg000", "#+1a2b3", "", "#", "#ébcde",
        ] {
            assert_eq!(Rgb8::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Rgb8([1, 2, 255]).to_string(), "#0102ff");
    }

    #[test]
    fn syntax_errors_have_a_line() {
        assert_err("[video\nwidth = 5\n", Some(1), &["invalid TOML"]);
        assert_err(&with(4, "height = "), Some(5), &["invalid TOML"]);
        assert_err(
            &with(4, "height = 5"),
            Some(5),
            &["invalid TOML", "duplicate key"],
        );
    }

    #[test]
    fn unknown_keys_name_their_table() {
        assert_err(
            &with(3, "wdith = 5"),
            Some(4),
            &[
                "unknown key `wdith` in [video] (expected one of width, height, fps, frames, seconds)",
            ],
        );
        assert_err(
            &with(0, "titel = \"x\""),
            Some(1),
            &["unknown key `titel` at the top level"],
        );
        assert_err(
            &with(10, "zoom = 2"),
            Some(11),
            &["unknown key `zoom` in keyframe[0]"],
        );
        assert_err(
            &format!("{MINIMAL}\n[render]\nsupersampling = 2\n"),
            Some(13),
            &["unknown key `supersampling` in [render]"],
        );
        assert_err(
            &format!("{MINIMAL}\n[color.extra]\n"),
            Some(12),
            &["unknown key `extra` in [color]"],
        );
    }

    #[test]
    fn missing_keys() {
        assert_err(
            &MINIMAL.replace("width = 640\n", ""),
            Some(2),
            &["missing key video.width"],
        );
        assert_err(
            &MINIMAL.replace("height = 480\n", ""),
            Some(2),
            &["missing key video.height"],
        );
        assert_err(
            &MINIMAL.replace("seconds = 2.5\n", ""),
            Some(2),
            &["missing key video.frames or video.seconds"],
        );
        assert_err(
            &MINIMAL.replace("frame = 0\n", ""),
            Some(7),
            &["missing key keyframe[0].frame"],
        );
        assert_err(
            &MINIMAL.replace("center = [0, 0]\n", ""),
            Some(7),
            &["missing key keyframe[0].center"],
        );
        assert_err(
            &MINIMAL.replace("width = 4\n", ""),
            Some(7),
            &["missing key keyframe[0].width"],
        );
        let no_keyframes = MINIMAL.split("[[keyframe]]").next().unwrap_or("");
        assert_err(no_keyframes, None, &["missing key keyframe"]);
        assert_err("", None, &["missing key"]);
        assert_err(
            &format!("keyframe = []\n{no_keyframes}"),
            Some(1),
            &["keyframe is empty"],
        );
    }

    #[test]
    fn wrong_types_name_the_key() {
        assert_err(
            &MINIMAL.replace("width = 640", "width = 640.5"),
            Some(3),
            &["video.width = 640.5 is invalid (expected an integer)"],
        );
        assert_err(
            &MINIMAL.replace("width = 640", "width = \"640\""),
            Some(3),
            &["video.width = \"640\" is invalid (expected an integer)"],
        );
        assert_err(
            &MINIMAL.replace("seconds = 2.5", "seconds = \"2\""),
            Some(5),
            &["video.seconds = \"2\" is invalid (expected a number)"],
        );
        assert_err(
            &MINIMAL.replace("center = [0, 0]", "center = \"0, 0\""),
            Some(9),
            &["keyframe[0].center = \"0, 0\" is invalid (expected [re, im]"],
        );
        assert_err(
            &MINIMAL.replace("center = [0, 0]", "center = [0, true]"),
            Some(9),
            &["keyframe[0].center[1] = true is invalid"],
        );
        assert_err(
            &format!("{MINIMAL}\n[color]\npalette = [\"#000000\", 7]\n"),
            Some(13),
            &["color.palette[1] = 7 is invalid (expected a string)"],
        );
        assert_err(
            &MINIMAL.replace("[[keyframe]]", "[keyframe]"),
            Some(7),
            &["keyframe is invalid (expected one or more [[keyframe]] tables)"],
        );
        assert_err(
            &MINIMAL.replace("width = 640", "width = 99999999999999999999"),
            Some(3),
            &["video.width = 99999999999999999999 is invalid"],
        );
    }

    #[test]
    fn out_of_range_values() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "width = 640",
                "width = 15",
                3,
                "video.width = 15 is invalid (expected 16 to 16384)",
            ),
            (
                "width = 640",
                "width = 16385",
                3,
                "video.width = 16385 is invalid",
            ),
            (
                "height = 480",
                "height = -480",
                4,
                "video.height = -480 is invalid (expected 16 to 16384)",
            ),
            (
                "seconds = 2.5",
                "seconds = 2.5\nfps = 0",
                6,
                "video.fps = 0 is invalid (expected 1 to 240)",
            ),
            (
                "seconds = 2.5",
                "seconds = 2.5\nfps = 241",
                6,
                "video.fps = 241 is invalid",
            ),
            (
                "seconds = 2.5",
                "frames = 0",
                5,
                "video.frames = 0 is invalid (expected >= 1)",
            ),
            (
                "seconds = 2.5",
                "seconds = 0",
                5,
                "video.seconds = 0 is invalid (expected > 0)",
            ),
            (
                "seconds = 2.5",
                "seconds = nan",
                5,
                "video.seconds = nan is invalid (expected a finite number)",
            ),
            (
                "seconds = 2.5",
                "seconds = -inf",
                5,
                "video.seconds = -inf is invalid",
            ),
            (
                "width = 4",
                "width = -1",
                10,
                "keyframe[0].width = -1 is invalid (expected > 0)",
            ),
            (
                "width = 4",
                "width = 0.0",
                10,
                "keyframe[0].width = 0.0 is invalid (expected > 0)",
            ),
            (
                "width = 4",
                "width = \"-1e-500\"",
                10,
                "keyframe[0].width = \"-1e-500\" is invalid (expected > 0)",
            ),
            (
                "width = 4",
                "width = nan",
                10,
                "keyframe[0].width = nan is invalid (expected a finite decimal",
            ),
            (
                "width = 4",
                "width = \"wide\"",
                10,
                "keyframe[0].width = \"wide\" is invalid",
            ),
            (
                "width = 4",
                "width = 4\nrotation = inf",
                11,
                "keyframe[0].rotation = inf is invalid (expected a finite number)",
            ),
            (
                "width = 4",
                "width = 4\nmax_iterations = 0",
                11,
                "keyframe[0].max_iterations = 0 is invalid (expected an integer from 1 to 4294967295, or \"auto\")",
            ),
            (
                "center = [0, 0]",
                "center = [0]",
                9,
                "keyframe[0].center = [0] is invalid (expected [re, im], an array of exactly 2",
            ),
            (
                "center = [0, 0]",
                "center = [0, 0, 0]",
                9,
                "keyframe[0].center = [0, 0, 0] is invalid",
            ),
            (
                "center = [0, 0]",
                "center = [\"0\", \"1e\"]",
                9,
                "keyframe[0].center[1] = \"1e\" is invalid (expected a finite decimal number",
            ),
            (
                "center = [0, 0]",
                "center = [\"0x1\", 0]",
                9,
                "keyframe[0].center[0] = \"0x1\" is invalid",
            ),
            (
                "frame = 0",
                "frame = 1",
                8,
                "keyframe[0].frame = 1 is invalid (expected 0: the first keyframe",
            ),
            (
                "frame = 0",
                "frame = -1",
                8,
                "keyframe[0].frame = -1 is invalid (expected >= 0)",
            ),
        ];
        for (from, to, line, part) in cases {
            let text = MINIMAL.replace(from, to);
            assert_err(&text, Some(*line), &[part]);
        }
    }

    #[test]
    fn frames_and_seconds_are_exclusive() {
        assert_err(
            &MINIMAL.replace("seconds = 2.5", "seconds = 2.5\nframes = 10"),
            Some(6),
            &["video.frames and video.seconds are both set (expected exactly one of them)"],
        );
    }

    #[test]
    fn render_and_color_ranges() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[render]\nsupersample = 9",
                13,
                "render.supersample = 9 is invalid (expected 1 to 8)",
            ),
            (
                "[render]\nsupersample = 0",
                13,
                "render.supersample = 0 is invalid",
            ),
            (
                "[render]\nmax_iterations = 0",
                13,
                "render.max_iterations = 0 is invalid (expected an integer from 1 to 4294967295, or \"auto\")",
            ),
            (
                "[render]\nmax_iterations = 4294967296",
                13,
                "render.max_iterations = 4294967296 is invalid",
            ),
            (
                "[color]\npalette = [\"#000000\"]",
                13,
                "color.palette = [\"#000000\"] is invalid (expected at least 2 colors)",
            ),
            (
                "[color]\npalette = []",
                13,
                "color.palette = [] is invalid (expected at least 2 colors)",
            ),
            (
                "[color]\npalette = [\"#000000\", \"fff000\"]",
                13,
                "color.palette[1] = \"fff000\" is invalid (expected a color written \"#rrggbb\")",
            ),
            (
                "[color]\ninterior = \"black\"",
                13,
                "color.interior = \"black\" is invalid (expected a color",
            ),
            (
                "[color]\ncycle = 0",
                13,
                "color.cycle = 0 is invalid (expected > 0)",
            ),
            (
                "[color]\ncycle = -3.5",
                13,
                "color.cycle = -3.5 is invalid (expected > 0)",
            ),
            (
                "[color]\ncycle = nan",
                13,
                "color.cycle = nan is invalid (expected a finite number)",
            ),
            (
                "[color]\noffset = 1.0",
                13,
                "color.offset = 1.0 is invalid (expected >= 0 and < 1)",
            ),
            (
                "[color]\noffset = -0.1",
                13,
                "color.offset = -0.1 is invalid",
            ),
        ];
        for (table, line, part) in cases {
            assert_err(&format!("{MINIMAL}\n{table}\n"), Some(*line), &[part]);
        }
    }

    #[test]
    fn keyframe_order_and_range() {
        let two = |second: &str| {
            format!("{MINIMAL}\n[[keyframe]]\n{second}\ncenter = [0, 0]\nwidth = 1\n")
        };
        assert_err(
            &two("frame = 0"),
            Some(13),
            &["keyframe[1].frame = 0 is invalid (expected greater than keyframe[0].frame = 0)"],
        );
        assert_err(
            &two("frame = 75"),
            Some(13),
            &["keyframe[1].frame = 75 is invalid (expected < 75, the scene has 75 frames)"],
        );
        assert!(load(&two("frame = 74")).is_ok());
        let hex = load(&MINIMAL.replace("center = [0, 0]", "center = [0x10, 1_0]")).unwrap();
        assert_eq!(hex.keyframes[0].center[0].text(), "16");
        assert_eq!(hex.keyframes[0].center[1].text(), "10");
        let three = format!(
            "{}\n[[keyframe]]\nframe = 30\ncenter = [0, 0]\nwidth = 1\n",
            two("frame = 40")
        );
        assert_err(
            &three,
            Some(18),
            &["keyframe[2].frame = 30 is invalid (expected greater than keyframe[1].frame = 40)"],
        );
    }

    #[test]
    fn keyframes_as_inline_array() {
        let text = "video = { width = 64, height = 64, frames = 2 }\nkeyframe = [{ frame = 0, center = [0, 0], width = 1 }, { frame = 1, center = [0, 0] }]\n";
        assert_err(text, Some(2), &["missing key keyframe[1].width"]);
    }

    fn set(text: &str, overrides: &[&str]) -> Result<Scene, SceneError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, text).unwrap();
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Scene::load_with_overrides(&path, &overrides)
    }

    #[test]
    fn overrides_change_the_document() {
        let scene = set(
            FULL,
            &[
                "video.width=3840",
                "color.cycle=16",
                "keyframe[1].width=\"1e-5\"",
                "keyframe[2].width=2.5e-3",
                "title=\"x\"",
                "render.supersample = 4",
                "color.palette[1]=\"#010203\"",
                "keyframe[0].center=[\"-1.5\", 2]",
            ],
        )
        .unwrap();
        assert_eq!(scene.video.width, 3840);
        assert_eq!(scene.color.cycle, 16.0);
        assert_eq!(scene.keyframes[1].width.text(), "1e-5");
        assert_eq!(scene.keyframes[2].width.text(), "2.5e-3");
        assert_eq!(scene.title.as_deref(), Some("x"));
        assert_eq!(scene.render.supersample, 4);
        assert_eq!(scene.color.palette[1], Rgb8([1, 2, 3]));
        assert_eq!(scene.keyframes[0].center[0].text(), "-1.5");
        assert_eq!(scene.keyframes[0].center[1].text(), "2");

        // Strings need no quotes; new tables and keyframes can be made.
        let scene = set(
            MINIMAL,
            &[
                "title=Hello world",
                "color.interior=#ffffff",
                "keyframe[1].frame=10",
                "keyframe[1].center=[0, 0]",
                "keyframe[1].width=1e-3",
            ],
        )
        .unwrap();
        assert_eq!(scene.title.as_deref(), Some("Hello world"));
        assert_eq!(scene.color.interior, Rgb8([255, 255, 255]));
        assert_eq!(scene.keyframes.len(), 2);
        assert_eq!(scene.keyframes[1].width.text(), "1e-3");
    }

    #[track_caller]
    fn assert_set_err(overrides: &[&str], file: &str, parts: &[&str]) {
        let e = match set(MINIMAL, overrides) {
            Ok(_) => panic!("expected an error for {overrides:?}"),
            Err(e) => e,
        };
        assert_eq!(e.file, file, "{e}");
        assert_eq!(e.line, None, "{e}");
        for part in parts {
            assert!(e.message.contains(part), "{e:?} should contain {part:?}");
        }
    }

    #[test]
    fn override_errors_name_the_override() {
        assert_set_err(
            &["video.width=8"],
            "--set video.width=8",
            &["video.width = 8 is invalid (expected 16 to 16384)"],
        );
        assert_set_err(
            &["title=\"ok\"", "video.width=19.5"],
            "--set video.width=19.5",
            &["video.width = 19.5 is invalid (expected an integer)"],
        );
        assert_set_err(
            &["video.wdith=8"],
            "--set video.wdith=8",
            &["unknown key `wdith` in [video]"],
        );
        assert_set_err(
            &["keyframe[0].width=\"-2\""],
            "--set keyframe[0].width=\"-2\"",
            &["keyframe[0].width = \"-2\" is invalid (expected > 0)"],
        );
        assert_set_err(
            &["keyframe[0].center=[1, \"x\"]"],
            "--set keyframe[0].center=[1, \"x\"]",
            &["keyframe[0].center[1] = \"x\" is invalid"],
        );
        assert_set_err(
            &["video.width"],
            "--set video.width",
            &["expected key=value"],
        );
        assert_set_err(&["=3"], "--set =3", &["expected key=value"]);
        assert_set_err(&["a..b=3"], "--set a..b=3", &["expected key=value"]);
        assert_set_err(
            &["keyframe[x].width=3"],
            "--set keyframe[x].width=3",
            &["expected key=value"],
        );
        assert_set_err(
            &["keyframe[5].width=3"],
            "--set keyframe[5].width=3",
            &["keyframe[5] does not exist"],
        );
        assert_set_err(
            &["video.width.x=3"],
            "--set video.width.x=3",
            &["video.width is not a table"],
        );
        assert_set_err(
            &["video[0]=3"],
            "--set video[0]=3",
            &["video is not an array"],
        );
        assert_set_err(&["video.frames=10"], "--set video.frames=10", &[]);
        let e = set(MINIMAL, &["video.frames=10"]).unwrap_err();
        assert!(
            e.message
                .contains("video.frames and video.seconds are both set"),
            "{e}"
        );
    }

    #[test]
    fn file_errors() {
        let e = Scene::load(Path::new("scenes/nope.toml")).unwrap_err();
        assert_eq!(e.file, "scenes/nope.toml");
        assert_eq!(e.line, None);
        assert!(e.message.starts_with("cannot read scene file: "), "{e}");
        assert!(
            e.to_string()
                .starts_with("scenes/nope.toml: cannot read scene file: ")
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin.toml");
        std::fs::write(&path, b"title = \"a\"\n\xff\xfe\n").unwrap();
        let e = Scene::load(&path).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("UTF-8"), "{e}");

        let e = Scene::load(dir.path()).unwrap_err();
        assert!(e.message.starts_with("cannot read scene file: "), "{e}");
    }

    #[test]
    fn garbage_never_panics() {
        let mut inputs: Vec<String> = [
            "", "\0", "=", "[", "]]", "[[", "[[keyframe]", "a = ", "\"", "'''", "\u{feff}",
            "video = 1", "video = []", "keyframe = {}", "keyframe = [1, 2]", "keyframe = [[]]",
            "[video]\nwidth = 1e999", "[video]\nwidth = -0x10", "x = 1979-05-27T07:32:00Z",
            "[[keyframe]]\ncenter = [{}, []]\nwidth = {}", "\u{1F600} = 1", "a.b.c.d.e = 1",
            "[video]\nwidth = 0b101\nheight = 0o777\nframes = +1_0\n[[keyframe]]\nframe = -0\ncenter = [\"+.5e-0\", -1_000.5e+3]\nwidth = \"1e-1000000000\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        inputs.push("[".repeat(5000));
        inputs.push(format!("[{}a]\n", "a.".repeat(100_000)));
        inputs.push(format!("{}a = 1\n", "a.".repeat(100_000)));
        inputs.push(format!("a = {}", "[".repeat(5000)));
        inputs.push(format!("a = {}1{}", "[".repeat(200), "]".repeat(200)));
        // Every prefix of a full scene, and the scene with each byte replaced.
        for end in 0..=FULL.len() {
            if let Some(prefix) = FULL.get(..end) {
                inputs.push(prefix.to_string());
            }
        }
        for (i, c) in FULL.char_indices().step_by(3) {
            for replacement in ["\"", "[", "=", "\n", "-", "#", "x"] {
                let mut s = FULL.to_string();
                s.replace_range(i..i + c.len_utf8(), replacement);
                inputs.push(s);
            }
        }
        for input in &inputs {
            let _ = load(input);
        }
        let overrides = [
            "",
            "=",
            "[",
            "a[",
            "a[]=1",
            "a[99999999999999999999999]=1",
            "keyframe=[",
            "keyframe[0]=1",
            "keyframe[0].center[9]=1",
            "video={}",
            "video.width=[[[[",
            "ü=1",
            "keyframe[0].center[0]=\"1e-500\"",
        ];
        let deep = format!("{}a=1", "a.".repeat(100_000));
        let e = set(FULL, &[&deep]).unwrap_err();
        assert!(e.message.contains("more than 16 parts"), "{e}");
        for ov in overrides {
            let _ = set(FULL, &[ov]);
        }
    }
}
