//! The file as serde reads it: a mirror of the TOML with every value `Spanned`, so that a
//! problem can be reported at its line.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;


#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SceneFile {
    pub(super) title: Option<Spanned<String>>,
    pub(super) video: Spanned<VideoFile>,
    pub(super) render: Option<Spanned<RenderFile>>,
    pub(super) color: Option<Spanned<ColorFile>>,
    pub(super) keyframe: Spanned<Vec<Spanned<KeyframeFile>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VideoFile {
    pub(super) width: Spanned<Int>,
    pub(super) height: Spanned<Int>,
    pub(super) fps: Option<Spanned<RateText>>,
    pub(super) frames: Option<Spanned<Int>>,
    pub(super) seconds: Option<Spanned<Float>>,
    pub(super) bit_depth: Option<Spanned<Int>>,
    pub(super) dither: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RenderFile {
    pub(super) max_iterations: Option<Spanned<Budget>>,
    pub(super) supersample: Option<Spanned<Int>>,
    pub(super) method: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ColorFile {
    pub(super) palette: Option<Spanned<PaletteText>>,
    pub(super) cycle: Option<Spanned<Float>>,
    pub(super) offset: Option<Spanned<Float>>,
    pub(super) interior: Option<Spanned<String>>,
    pub(super) by: Option<Spanned<String>>,
    pub(super) transfer: Option<Spanned<String>>,
    pub(super) boundary: Option<Spanned<Float>>,
    pub(super) boundary_color: Option<Spanned<String>>,
    pub(super) light: Option<Spanned<Float>>,
    pub(super) light_angle: Option<Spanned<Float>>,
    pub(super) light_elevation: Option<Spanned<Float>>,
    pub(super) cycles_per_second: Option<Spanned<Float>>,
}

/// `[color] palette`: a built-in palette's name, or an array of color stops.
pub(super) enum PaletteText {
    Name(String),
    Stops(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for PaletteText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PaletteVisitor;
        impl<'de> Visitor<'de> for PaletteVisitor {
            type Value = PaletteText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a palette name or an array of \"#rrggbb\" colors")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PaletteText, E> {
                Ok(PaletteText::Name(v.to_string()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<PaletteText, A::Error> {
                let mut stops = Vec::new();
                while let Some(stop) = seq.next_element::<Spanned<String>>()? {
                    stops.push(stop);
                }
                Ok(PaletteText::Stops(stops))
            }
        }
        deserializer.deserialize_any(PaletteVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyframeFile {
    pub(super) frame: Spanned<Int>,
    pub(super) center: Spanned<Vec<Spanned<NumberText>>>,
    pub(super) width: Spanned<NumberText>,
    pub(super) rotation: Option<Spanned<Float>>,
    pub(super) max_iterations: Option<Spanned<Budget>>,
    pub(super) palette_offset: Option<Spanned<Float>>,
    pub(super) palette_cycle: Option<Spanned<Float>>,
}

/// An iteration budget: a TOML integer, or a string (only `"auto"` is valid).
pub(super) enum Budget {
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
pub(super) struct Int(pub(super) i128);

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
pub(super) struct Float(pub(super) f64);

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
pub(super) enum NumberText {
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

/// A frame rate as written: an integer, a float (`29.97`) or a fraction as text (`"30000/1001"`).
pub(super) enum RateText {
    Int(i128),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for RateText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RateVisitor;
        impl Visitor<'_> for RateVisitor {
            type Value = RateText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a frame rate: a number such as 30 or 29.97, or \"30000/1001\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RateText, E> {
                Ok(RateText::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RateText, E> {
                Ok(RateText::Float(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RateText, E> {
                Ok(RateText::Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RateText, E> {
                Ok(RateText::Int(v.into()))
            }
        }
        deserializer.deserialize_any(RateVisitor)
    }
}
