//! Shades: the part of a sample's color that does not depend on the frame, prepared once.
//!
//! An exponential map's octave is read by dozens of frames, so whatever its samples' colors
//! owe to the sample alone is worked out once per octave sample instead of once per frame
//! sample: the palette value (the smooth count through the transfer function, or `-log2` of
//! the distance estimate), the estimate itself and the lighting direction. Each frame then
//! only places the value on its palette cycle, turns its light into the plane's axes and
//! scales the estimate to its own pixels ([`ShadeFrame`]): the same colors as [`Look`] gives
//! the samples, in `f32`, without a logarithm or square root per frame sample.

use super::look::Look;
use super::{FrameColor, swap_axes};
use crate::kernel::{Escape, Slope};

/// The frame-independent part of a sample's color (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct Shade {
    /// Escape count, [`Escape::INTERIOR_N`] for interior samples (the frame's statistics read
    /// it).
    pub n: u32,
    /// Palette value in the data's sample spacing: the transferred smooth count, or `-log2` of
    /// the distance estimate in samples.
    pub value: f32,
}

impl Shade {
    /// The shade of an interior sample.
    pub const INTERIOR: Shade = Shade {
        n: Escape::INTERIOR_N,
        value: 0.0,
    };
}

/// What lighting and boundary shading read of a sample: the unit direction away from the set
/// (plane axes) and the distance estimate in samples of the data.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct Relief {
    /// Unit vector of `z_N / e_N`.
    pub dir: [f32; 2],
    /// Distance estimate in samples.
    pub de: f32,
}

impl Relief {
    /// The relief of an interior sample.
    pub const NONE: Relief = Relief {
        dir: [0.0; 2],
        de: f32::NAN,
    };
}

impl Look {
    /// Whether shades need their [`Relief`] (lighting or boundary shading).
    pub fn reads_relief(&self) -> bool {
        self.light.is_some() || self.boundary.is_some()
    }

    /// The shade and relief of a sample (`slope` read only where the look reads slopes).
    pub fn shade(&self, escape: Escape, slope: Slope) -> (Shade, Relief) {
        if escape.is_interior() {
            return (Shade::INTERIOR, Relief::NONE);
        }
        // The estimate's logarithm and square root only where the position or the boundary
        // reads it (lighting reads only the direction), as in the look's own coloring.
        let de = if self.by == crate::scene::ColorBy::Distance || self.boundary.is_some() {
            slope.distance()
        } else {
            f64::NAN
        };
        let value = self.value(escape, de);
        let relief = if self.reads_relief() {
            let [x, y] = slope.direction();
            Relief {
                dir: [x as f32, y as f32],
                de: de as f32,
            }
        } else {
            Relief::NONE
        };
        (
            Shade {
                n: escape.n,
                value: value as f32,
            },
            relief,
        )
    }

    /// The per-frame part of the shades' coloring for `frame`.
    pub fn shade_frame<'a>(&'a self, frame: &'a FrameColor) -> ShadeFrame<'a> {
        let light = self.light.map(|l| {
            let [x, y] = swap_axes(l.along, frame.x_axis);
            [x as f32, y as f32, l.up as f32, l.strength as f32]
        });
        ShadeFrame {
            look: self,
            frame,
            light,
        }
    }
}

/// Colors shades for one frame (see [`Look::shade_frame`]).
#[derive(Debug)]
pub struct ShadeFrame<'a> {
    look: &'a Look,
    frame: &'a FrameColor,
    /// The light in the plane's axes, its elevation term and strength.
    light: Option<[f32; 4]>,
}

/// How shades of data at one sample spacing are scaled to a frame's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShadeScale {
    /// Palette offset in cycles, the frame's own plus, for the distance look, `log2` of the
    /// data's spacing over the frame's pixel in cycles.
    offset: f64,
    /// Boundary shading: distance in data samples times this is the fraction of the boundary
    /// width.
    boundary: f32,
}

impl ShadeFrame<'_> {
    /// The scale for data whose sample spacing is `1 / pixel` of the frame's pixels (one pixel
    /// of the frame is `pixel` data samples across).
    pub fn scale(&self, pixel: f64) -> ShadeScale {
        let cycle = self.frame.cycle;
        let shift = if self.look.by == crate::scene::ColorBy::Distance {
            pixel.log2() * cycle.inv
        } else {
            0.0
        };
        let width = self.look.boundary.map_or(1.0, |b| b.width);
        ShadeScale {
            offset: cycle.offset + shift,
            boundary: (1.0 / (pixel * width)) as f32,
        }
    }

    /// The linear-light color of a sample of `shade` (`relief` read only where the look reads
    /// it) in data scaled by `scale`.
    #[inline]
    pub fn color(&self, scale: &ShadeScale, shade: Shade, relief: Relief) -> [f32; 3] {
        if shade.n == Escape::INTERIOR_N {
            return self.look.palette.interior();
        }
        let position = f64::from(shade.value) * self.frame.cycle.inv + scale.offset;
        // The fraction, without a call to `floor` (no SSE4.1 in the baseline target): the
        // truncation is one below the floor for negative non-integers (and saturates for
        // non-finite values, which take position 0 as in the look).
        let whole = position as i64 as f64;
        let whole = if whole > position { whole - 1.0 } else { whole };
        let position = if position.is_finite() {
            position - whole
        } else {
            0.0
        };
        let mut color = self.look.palette.at_cycle_position(position);
        if let Some([lx, ly, up, strength]) = self.light {
            let lambert = (relief.dir[0] * lx + relief.dir[1] * ly + up).clamp(0.0, 1.0);
            let factor = 1.0 - strength + strength * lambert;
            color = color.map(|c| c * factor);
        }
        if let Some(b) = &self.look.boundary {
            let t = if relief.de.is_nan() {
                0.0
            } else {
                (relief.de * scale.boundary).clamp(0.0, 1.0)
            };
            for (c, edge) in color.iter_mut().zip(b.color) {
                *c = edge + (*c - edge) * t;
            }
        }
        color
    }

    /// Writes pixel `x` of row `y` from its linear-light color (see [`super::Palette::put`]).
    #[inline]
    pub fn put(&self, x: usize, y: u32, linear: [f32; 3], out: &mut [u8]) {
        self.look.palette.put(self.frame, x, y, linear, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::{Coloring, Cycle};
    use crate::kernel::SampleRow;
    use crate::scene::{BitDepth, ColorBy, ColorSettings, Fps, Video};

    fn video() -> Video {
        Video {
            width: 8,
            height: 8,
            fps: Fps::whole(30),
            frames: 10,
            bit_depth: BitDepth::Eight,
            dither: false,
        }
    }

    /// Samples at many distances and directions, shaded at a 3x finer spacing and colored for
    /// a frame turned by 30 degrees, give the look's own colors for the same samples at the
    /// frame's spacing (to a level: `f32` against `f64`).
    #[test]
    fn shades_color_as_the_look_does() {
        for (by, boundary, light) in [
            (ColorBy::Count, 0.0, 0.0),
            (ColorBy::Distance, 1.5, 0.7),
            (ColorBy::Count, 0.0, 0.5),
            (ColorBy::Distance, 0.0, 0.0),
        ] {
            let settings = ColorSettings {
                by,
                boundary,
                light,
                cycle: 7.0,
                ..ColorSettings::default()
            };
            let look = Look::new(&settings, &video());
            let angle = 30f64.to_radians();
            let frame = FrameColor {
                cycle: Cycle::new(7.0, 0.3),
                x_axis: [angle.cos(), angle.sin()],
                frame: 3,
                depth: BitDepth::Eight,
                dither: false,
            };
            let shading = look.shade_frame(&frame);
            // The data's samples are 3x finer than the frame's: their derivatives 3x smaller.
            let scale = shading.scale(3.0);
            let mut worst = 0;
            for i in 0..2000u32 {
                let t = f64::from(i) * 0.37;
                let z = [300.0 * t.cos(), 300.0 * t.sin()];
                let e_frame = [1e3 * (1.0 + t * 0.5).cos() * (1.0 + f64::from(i % 97)), 2e3 * t.sin()];
                let escape = Escape { n: 20 + i % 300, nf: (i % 10) as f32 / 10.0 };
                let frame_slope = Slope::at_escape(z, e_frame);
                let data_slope = Slope::at_escape(z, e_frame.map(|e| e / 3.0));
                let (shade, relief) = look.shade(escape, data_slope);
                let mut got = [0u8; 3];
                shading.put(0, 0, shading.color(&scale, shade, relief), &mut got);
                let mut want = [0u8; 3];
                let row = SampleRow {
                    escape: &[escape],
                    slope: if look.reads_slopes() { std::slice::from_ref(&frame_slope) } else { &[] },
                };
                look.color_row(&frame, 0, row, 1, &mut want);
                for (g, w) in got.iter().zip(want) {
                    worst = worst.max(g.abs_diff(w));
                }
            }
            assert!(worst <= 1, "{by:?} boundary {boundary} light {light}: off by {worst}");
        }
        let look = Look::new(&ColorSettings::default(), &video());
        assert_eq!(look.shade(Escape::INTERIOR, Slope::NONE).0, Shade::INTERIOR);
    }
}
