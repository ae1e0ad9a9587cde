//! Command-line overrides (`--set key=value`), applied to the parsed document before
//! validation, so they are checked exactly like the file.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};


/// Overrides never need deep keys; a bound keeps the document shallow (toml bounds the file's).
pub(super) const MAX_KEY_SEGMENTS: usize = 16;

/// One segment of an override key: `keyframe[1]` is name `keyframe`, index 1.
pub(super) struct KeySegment<'i> {
    pub(super) name: &'i str,
    pub(super) index: Option<usize>,
    pub(super) span: Range<usize>,
}

/// Applies the override `full[range]` (`key=value`) to the document. Errors are messages; the
/// caller names the override.
pub(super) fn apply_override<'i>(
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
                // `frames` and `seconds` say the same thing two ways: setting one replaces the
                // other, so `--set video.seconds=10` works on a scene that gives `frames`.
                let rival = match path.as_str() {
                    "video.frames" => Some("seconds"),
                    "video.seconds" => Some("frames"),
                    _ => None,
                };
                if let Some(rival) = rival {
                    table.remove(&Spanned::new(0..0, Cow::Borrowed(rival)));
                }
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
pub(super) fn parse_key_path(full: &str, start: usize, end: usize) -> Option<Vec<KeySegment<'_>>> {
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
pub(super) fn shift_value(value: Spanned<DeValue<'_>>, offset: usize) -> Spanned<DeValue<'_>> {
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
