//! Colors: the samples of a frame become sRGB pixels.
//!
//! Every sample gets a color in linear light, and the `supersample`^2 samples of a pixel are
//! averaged in linear light (averaging sRGB values darkens fine detail) and encoded to 8-bit
//! sRGB. A sample's color ([`Look`]):
//!
//! 1. **Palette position**, in cycles around the [`Palette`]: the smooth count `N + NF` through
//!    a transfer function (`linear`, `sqrt`, `cbrt`, `log`), or `-log2` of the distance
//!    estimate in pixels. The count's density grows without bound as a zoom goes in (near the
//!    boundary it climbs by hundreds across a pixel, and supersampling averages the palette to
//!    grey); the distance estimate's does not, so a frame looks alike at every depth. Then
//!    `/ cycle + offset`, both per frame: keyframes set them, interpolated like the rotation,
//!    and `cycles_per_second` cycles the palette over time.
//! 2. **Slope lighting**: the set as a relief lit from one direction. The surface normal leans
//!    along the distance estimate's direction `u = z_N / dz_N` (away from the set), so
//!    filaments get a lit and a shaded side; brightness is Lambert's cosine, blended in by the
//!    light's strength.
//! 3. **Boundary shading**: samples closer to the set than `boundary` pixels blend into the
//!    boundary color, in proportion to their distance: filaments stay crisp lines at every
//!    depth instead of dissolving into noise.
//!
//! Interior samples take the interior color. A scene that uses none of the distance-based
//! settings is colored by the count alone, with the one-sample-per-pixel fast path of
//! [`Palette`]: its frames are the same bytes as before these settings existed.
//!
//! The distance estimate is `2 |z_N| ln|z_N| / |dz_N/dc|` (Milnor's, as Kalles Fraktaler and
//! Fraktaler 3 use it), from the kernels' [`crate::kernel::Slope`].

mod look;
mod palette;

pub use look::Look;
pub use palette::Palette;

use crate::kernel::SampleRow;

/// Where a frame sits on the palette: `position = value * inv + offset` cycles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cycle {
    /// `1 / cycle`.
    pub inv: f64,
    /// Offset in cycles, in `[0, 1)`.
    pub offset: f64,
}

impl Cycle {
    /// The cycle of `cycle` units per pass, shifted by `offset` cycles (any finite value; it is
    /// reduced to `[0, 1)`).
    pub fn new(cycle: f64, offset: f64) -> Cycle {
        Cycle {
            inv: 1.0 / cycle,
            offset: offset.rem_euclid(1.0),
        }
    }
}

/// What the coloring of one frame depends on beyond its samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameColor {
    /// The palette's cycle and offset at this frame.
    pub cycle: Cycle,
    /// The image's x axis (one sample to the right) as a unit vector in the plane: turns the
    /// distance estimate's direction into image axes for the lighting.
    pub x_axis: [f64; 2],
}

/// The one coloring step: the samples of every frame, from every kernel (plain, SIMD or deep),
/// become pixels here. A coloring turns one pixel row's samples into 8-bit sRGB, averaging the
/// `supersample`^2 samples of a pixel in linear light.
pub trait Coloring: Send + Sync {
    /// Colors one row of pixels: `samples` holds `supersample` sample rows of
    /// `out.len() / 3 * supersample` samples each; `out` receives RGB bytes.
    fn color_row(&self, frame: &FrameColor, samples: SampleRow<'_>, supersample: usize, out: &mut [u8]);

    /// Whether [`Coloring::color_row`] reads the samples' slopes (then the kernels carry the
    /// derivative; otherwise `SampleRow::slope` is empty).
    fn reads_slopes(&self) -> bool {
        false
    }
}

impl Coloring for Palette {
    fn color_row(&self, frame: &FrameColor, samples: SampleRow<'_>, supersample: usize, out: &mut [u8]) {
        Palette::color_row(self, samples.escape, supersample, frame.cycle, out);
    }
}

/// The sRGB transfer function's inverse (IEC 61966-2-1).
pub fn srgb_to_linear(s: f64) -> f64 {
    if s <= 0.04045 {
        s / 12.92
    } else {
        ((s + 0.055) / 1.055).powf(2.4)
    }
}

/// The sRGB transfer function (IEC 61966-2-1).
pub fn linear_to_srgb(l: f64) -> f64 {
    if l <= 0.003_130_8 {
        l * 12.92
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    }
}
