//! Colors (`#rrggbb`) and decimals kept as the text the user wrote (any number of digits).

use std::fmt;


use super::*;

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
pub(super) const MAX_EXPONENT: u64 = 1_000_000_000;

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
    #[cfg(any(test, feature = "internals"))]
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
    #[cfg(any(test, feature = "internals"))]
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
pub(super) struct DecimalParts<'a> {
    pub(super) integer: &'a str,
    pub(super) fraction: &'a str,
    pub(super) exponent: i64,
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
