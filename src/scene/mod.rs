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

use std::fmt;
use std::path::{Path, PathBuf};


use crate::error::SceneError;

mod decimal;
mod file;
mod load;
mod overrides;
mod palettes;
#[cfg(test)]
mod tests;
mod validate;

use file::*;
use load::*;
use overrides::*;
use validate::*;


/// Smallest and largest frame side in pixels, for the scene file, `--size` and the renderer.
pub(crate) const FRAME_SIDE: std::ops::RangeInclusive<u32> = 16..=16384;

/// Samples per pixel along each axis.
pub(crate) const SUPERSAMPLE_RANGE: std::ops::RangeInclusive<u32> = 1..=8;

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
    /// Frames per second, 1 to 240.
    pub fps: Fps,
    /// Number of frames, >= 1 (from `frames`, or `seconds * fps` rounded, at least 1).
    pub frames: u64,
    /// Bits per color channel of the frames written: 8 (default) or 16.
    pub bit_depth: BitDepth,
    /// Dither 8-bit output (default true): see [`crate::color`].
    pub dither: bool,
}

/// `[video] bit_depth`: bits per color channel of the frames written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BitDepth {
    /// 8-bit sRGB (`rgb24`), dithered unless `[video] dither = false`.
    #[default]
    Eight,
    /// 16-bit sRGB (`rgb48`).
    Sixteen,
}

impl BitDepth {
    /// Bytes per color channel.
    pub fn bytes(self) -> usize {
        match self {
            BitDepth::Eight => 1,
            BitDepth::Sixteen => 2,
        }
    }

    /// Bits per color channel.
    pub fn bits(self) -> u32 {
        8 * self.bytes() as u32
    }
}

/// A frame rate, exactly as video uses it: `num / den` frames per second (`30`, or `30000/1001`
/// for NTSC's 29.97).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fps {
    num: u32,
    den: u32,
}

impl Fps {
    /// `n` frames per second.
    pub const fn whole(n: u32) -> Fps {
        Fps { num: n, den: 1 }
    }

    /// `num / den` frames per second, reduced; `None` when `den` is 0.
    pub fn ratio(num: u32, den: u32) -> Option<Fps> {
        if den == 0 {
            return None;
        }
        let (mut a, mut b) = (num, den);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        let g = a.max(1);
        Some(Fps {
            num: num / g,
            den: den / g,
        })
    }

    /// Frames per second as a number (`29.97002997...`).
    pub fn per_second(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// The rate as a person reads it: `30`, `29.97`, `23.976`.
    pub fn human(self) -> String {
        let text = format!("{:.3}", self.per_second());
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The form ffmpeg takes for `-r` and `-framerate`: `30` or `30000/1001`, exact.
impl fmt::Display for Fps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// An iteration budget as a scene gives it: a number, or `"auto"` (derived from the depth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterationBudget {
    /// This many iterations, >= 1.
    Fixed(u32),
    /// [`auto_max_iterations`] of the keyframe's width: grows with the depth.
    Auto,
}

impl IterationBudget {
    /// The budget for a view of width `10^log10_width`.
    pub fn at(self, log10_width: f64) -> u32 {
        match self {
            IterationBudget::Fixed(n) => n,
            IterationBudget::Auto => auto_max_iterations(log10_width),
        }
    }
}

/// A proposed iteration budget for a frame of width `10^log10_width`:
/// `clamp(500 + 200 d^1.2, 500, 10^8)` with `d = max(0, -log10 width)`.
///
/// Escape counts near the boundary grow roughly linearly with the zoom depth `d` (each
/// magnification by a constant factor adds a constant number of iterations near a Misiurewicz
/// point, and more near minibrots, whose periods grow with depth); the power 1.2 leaves room
/// for the latter. It gives about 4,000 at `1e-11`, 50,000 at `1e-100`, 190,000 at `1e-300`
/// and 800,000 at `1e-1000`.
pub fn auto_max_iterations(log10_width: f64) -> u32 {
    let d = (-log10_width).max(0.0);
    (500.0 + 200.0 * d.powf(1.2)).clamp(500.0, 1e8).round() as u32
}

/// `[render]`: quality settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    /// Default iteration budget for keyframes that do not set their own.
    pub max_iterations: IterationBudget,
    /// Samples per pixel along each axis, 1..=8.
    pub supersample: u32,
    /// How frames are computed.
    pub method: Method,
}

/// `[render] method`: how frames are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Every sample of every frame computed on its own.
    #[default]
    Direct,
    /// Zooms assembled from an exponential map computed once per octave (see
    /// `crate::expmap`), falling back to direct rendering where a segment does not zoom.
    Expmap,
}

impl Method {
    /// The names `[render] method` and `--method` accept, in order.
    pub const NAMES: [(&'static str, Method); 2] =
        [("direct", Method::Direct), ("expmap", Method::Expmap)];

    /// Its name in scene files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Direct => "direct",
            Method::Expmap => "expmap",
        }
    }
}

/// `[color]`: how the samples become colors (see [`crate::color`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ColorSettings {
    /// Cyclic gradient stops, at least 2 (a built-in palette's name resolves to its stops).
    pub palette: Vec<Rgb8>,
    /// Units of the palette position ([`ColorSettings::by`]) per pass through the palette, > 0.
    pub cycle: f64,
    /// Palette shift in cycles, 0.0..1.0.
    pub offset: f64,
    /// Color of points that never escape.
    pub interior: Rgb8,
    /// What picks the palette position.
    pub by: ColorBy,
    /// The transfer function applied to the smooth count (with [`ColorBy::Count`]).
    pub transfer: Transfer,
    /// Boundary shading: samples closer to the set than this many pixels blend into
    /// `boundary_color` (0: off).
    pub boundary: f64,
    /// The color of the boundary.
    pub boundary_color: Rgb8,
    /// Strength of the slope lighting, 0 (off) to 1.
    pub light: f64,
    /// Direction the light comes from, degrees counter-clockwise from the right of the image.
    pub light_angle: f64,
    /// Height of the light above the image plane, degrees (0 grazing, 90 overhead).
    pub light_elevation: f64,
    /// Palette cycling: cycles added per second of video.
    pub cycles_per_second: f64,
}

impl Default for ColorSettings {
    /// The `[color]` of a scene that does not set one.
    fn default() -> Self {
        ColorSettings {
            palette: palettes::CLASSIC.to_vec(),
            cycle: 64.0,
            offset: 0.0,
            interior: Rgb8([0, 0, 0]),
            by: ColorBy::Count,
            transfer: Transfer::Linear,
            boundary: 0.0,
            boundary_color: Rgb8([0, 0, 0]),
            light: 0.0,
            light_angle: 135.0,
            light_elevation: 45.0,
            cycles_per_second: 0.0,
        }
    }
}

/// `[color] by`: what picks a sample's palette position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorBy {
    /// The smooth iteration count `N + NF` (after the transfer function).
    Count,
    /// `-log2` of the distance estimate in pixels: the same density of color at every depth.
    Distance,
}

/// `[color] transfer`: the function of the smooth count that the palette position follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// The count itself.
    Linear,
    /// Its square root.
    Sqrt,
    /// Its cube root.
    Cbrt,
    /// `ln(1 + count)`.
    Log,
}

impl ColorBy {
    /// The names `[color] by` accepts, in order.
    pub const NAMES: [(&'static str, ColorBy); 2] =
        [("count", ColorBy::Count), ("distance", ColorBy::Distance)];
}

impl Transfer {
    /// The names `[color] transfer` accepts, in order.
    pub const NAMES: [(&'static str, Transfer); 4] = [
        ("linear", Transfer::Linear),
        ("sqrt", Transfer::Sqrt),
        ("cbrt", Transfer::Cbrt),
        ("log", Transfer::Log),
    ];
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
    /// Palette shift in cycles at this keyframe (`[color] offset` when not given),
    /// interpolated between keyframes like the rotation.
    pub palette_offset: f64,
    /// Palette cycle at this keyframe (`[color] cycle` when not given), interpolated like the
    /// rotation.
    pub palette_cycle: f64,
}

/// A validated scene: every field in range, keyframes ordered, ready to render.
///
/// Made only by loading and validating a scene file ([`Scene::load`]) or text (`str::parse`), so
/// a `Scene` is always valid; its parts are read through methods.
#[derive(Debug, Clone, PartialEq)]
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
    pub fn fps(&self) -> Fps {
        self.video.fps
    }

    /// Number of frames.
    pub fn frame_count(&self) -> u64 {
        self.video.frames
    }

    /// The keyframes, for the tests that check frames against them.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn keyframes(&self) -> &[Keyframe] {
        &self.keyframes
    }

    /// The scene file's stem (`seahorse` for `scenes/seahorse.toml`), used to name outputs.
    pub fn stem(&self) -> String {
        self.source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scene".to_string())
    }
}

