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
//! settings is colored by the count alone, through [`Palette`] only.
//!
//! **Output**: 16-bit frames get the nearest 16-bit sRGB value. 8-bit frames are dithered by
//! default: each channel's sRGB value (to 16 bits) plus a uniform offset in `[0, 1)` level,
//! rounded down, so a gradient shallower than one level per pixel becomes a fine mix of the two
//! levels around it instead of visible bands, while exact levels (the interior's black, a
//! palette's stops) stay exact. The offset is a hash of the frame number, the pixel and the
//! channel: the same bytes for any thread count or band height, and a different pattern in
//! each frame (no fixed texture over the video).
//!
//! The distance estimate is `2 |z_N| ln|z_N| / |dz_N/dc|` (Milnor's, as Kalles Fraktaler and
//! Fraktaler 3 use it), from the kernels' [`crate::kernel::Slope`].

mod look;
mod palette;
mod shade;

pub use look::Look;
pub use palette::Palette;
pub use shade::{Relief, Shade, ShadeScale};

use crate::kernel::SampleRow;
use crate::scene::BitDepth;

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
    /// The frame's number: the seed of its dither pattern.
    pub frame: u64,
    /// Bits per channel of the pixels written.
    pub depth: BitDepth,
    /// Dither 8-bit pixels.
    pub dither: bool,
}

impl FrameColor {
    /// Bytes of one pixel.
    pub fn pixel_bytes(&self) -> usize {
        3 * self.depth.bytes()
    }
}

/// A vector turned between the plane's axes and the image's (x right, y down) for an image
/// whose x axis is `x_axis` (a unit vector in the plane; its y axis is then `(ay, -ax)`). The
/// turn is a reflection, its own inverse: the same function goes either way.
#[inline]
pub fn swap_axes([vx, vy]: [f64; 2], [ax, ay]: [f64; 2]) -> [f64; 2] {
    [vx * ax + vy * ay, vx * ay - vy * ax]
}

/// The dither offsets of the three channels of pixel `(x, y)` of frame `frame`, in units of
/// `2^-21` of a level (`0..2^21`): three 21-bit pieces of one hash (SplitMix64's finalizer) of
/// the three numbers, so they depend on nothing else.
#[inline]
pub fn dither_offsets(frame: u64, x: u32, y: u32) -> [u32; 3] {
    let mut h = frame
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((u64::from(y) << 32 | u64::from(x)).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    [
        (h >> 43) as u32,
        ((h >> 22) & 0x1f_ffff) as u32,
        ((h >> 1) & 0x1f_ffff) as u32,
    ]
}

/// The one coloring step: the samples of every frame, from every kernel (plain, SIMD or deep),
/// become pixels here. A coloring turns one pixel row's samples into 8-bit sRGB, averaging the
/// `supersample`^2 samples of a pixel in linear light.
pub trait Coloring: Send + Sync {
    /// Colors pixel row `y` of a frame: `samples` holds `supersample` sample rows of
    /// `width * supersample` samples each; `out` receives the row's RGB pixels,
    /// `width * frame.pixel_bytes()` bytes (16-bit channels big-endian, as PNG stores them).
    fn color_row(
        &self,
        frame: &FrameColor,
        y: u32,
        samples: SampleRow<'_>,
        supersample: usize,
        out: &mut [u8],
    );

    /// Whether [`Coloring::color_row`] reads the samples' slopes (then the kernels carry the
    /// derivative; otherwise `SampleRow::slope` is empty).
    fn reads_slopes(&self) -> bool {
        false
    }
}

impl Coloring for Palette {
    fn color_row(
        &self,
        frame: &FrameColor,
        y: u32,
        samples: SampleRow<'_>,
        supersample: usize,
        out: &mut [u8],
    ) {
        Palette::color_row(self, frame, y, samples.escape, supersample, out);
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
