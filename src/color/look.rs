//! [`Look`]: a scene's `[color]` as the frames' [`Coloring`] (the steps are in [`super`]).

use super::palette::rgb8_to_linear;
use super::{Coloring, Cycle, FrameColor, Palette, swap_axes};
use crate::kernel::{Escape, SampleGrid, SampleRow, Slope};
use crate::path::View;
use crate::scene::{BitDepth, ColorBy, ColorSettings, Transfer, Video};

/// The coloring of a scene: palette, position, lighting and boundary shading.
#[derive(Debug, Clone)]
pub struct Look {
    pub(super) palette: Palette,
    pub(super) by: ColorBy,
    transfer: Transfer,
    pub(super) boundary: Option<Boundary>,
    pub(super) light: Option<Light>,
    cycles_per_second: f64,
    fps: f64,
    depth: BitDepth,
    dither: bool,
}

/// Boundary shading: width in pixels and the linear-light color.
#[derive(Debug, Clone, Copy)]
pub(super) struct Boundary {
    pub(super) width: f64,
    pub(super) color: [f32; 3],
}

/// Slope lighting.
#[derive(Debug, Clone, Copy)]
pub(super) struct Light {
    pub(super) strength: f64,
    /// Towards the light, in image axes (x right, y down), scaled by `cos(elevation) / sqrt 2`.
    pub(super) along: [f64; 2],
    /// `sin(elevation) / sqrt 2`.
    pub(super) up: f64,
}

impl Look {
    /// The look of `settings` for `video` (its frame rate: the palette cycles at
    /// `cycles_per_second` over video time; its bit depth and dithering).
    pub fn new(settings: &ColorSettings, video: &Video) -> Look {
        let boundary = (settings.boundary > 0.0).then(|| Boundary {
            width: settings.boundary,
            color: rgb8_to_linear(settings.boundary_color),
        });
        let light = (settings.light > 0.0).then(|| {
            let (sin_a, cos_a) = settings.light_angle.to_radians().sin_cos();
            let (sin_e, cos_e) = settings.light_elevation.to_radians().sin_cos();
            let k = std::f64::consts::FRAC_1_SQRT_2;
            Light {
                strength: settings.light,
                // Screen up is image -y.
                along: [cos_a * cos_e * k, -sin_a * cos_e * k],
                up: sin_e * k,
            }
        });
        Look {
            palette: Palette::new(settings),
            by: settings.by,
            transfer: settings.transfer,
            boundary,
            light,
            cycles_per_second: settings.cycles_per_second,
            fps: video.fps.per_second(),
            depth: video.bit_depth,
            dither: video.dither,
        }
    }

    /// What the coloring of the frame of `view` (sampled on `grid`) depends on: the palette's
    /// cycle and offset there, and the image's axes.
    pub fn frame_color(&self, view: &View, grid: &SampleGrid) -> FrameColor {
        let seconds = view.frame as f64 / self.fps;
        let offset = view.palette_offset + self.cycles_per_second * seconds;
        FrameColor {
            cycle: Cycle::new(view.palette_cycle, offset),
            x_axis: grid.x_axis(),
            frame: view.frame,
            depth: self.depth,
            dither: self.dither,
        }
    }

    /// Whether the frames are colored by the smooth count alone (the palette's own fast path).
    fn by_count_alone(&self) -> bool {
        self.by == ColorBy::Count
            && self.transfer == Transfer::Linear
            && self.boundary.is_none()
            && self.light.is_none()
    }

    /// The palette value of an escaped sample (before its frame's cycle): the smooth count
    /// through the transfer function, or `-log2` of `de`, its distance estimate (in the pixels
    /// or samples the position is measured in).
    #[inline]
    pub(super) fn value(&self, escape: Escape, de: f64) -> f64 {
        match self.by {
            ColorBy::Count => {
                let s = escape.smooth();
                match self.transfer {
                    Transfer::Linear => s,
                    Transfer::Sqrt => s.sqrt(),
                    Transfer::Cbrt => s.cbrt(),
                    Transfer::Log => s.ln_1p(),
                }
            }
            ColorBy::Distance => -de.log2(),
        }
    }

    /// Linear-light color of one escaped sample; `de` its distance estimate in pixels.
    #[inline]
    fn escaped(&self, frame: &FrameColor, escape: Escape, slope: Slope, de: f64) -> [f32; 3] {
        let value = self.value(escape, de);
        let position = value * frame.cycle.inv + frame.cycle.offset;
        let position = if position.is_finite() {
            position - position.floor()
        } else {
            0.0
        };
        let mut color = self.palette.at_cycle_position(position);
        if let Some(light) = &self.light {
            let [ix, iy] = swap_axes(slope.direction(), frame.x_axis);
            let lambert = (ix * light.along[0] + iy * light.along[1] + light.up).clamp(0.0, 1.0);
            let factor = (1.0 - light.strength + light.strength * lambert) as f32;
            color = color.map(|c| c * factor);
        }
        if let Some(b) = &self.boundary {
            let t = if de.is_nan() {
                0.0
            } else {
                (de / b.width).clamp(0.0, 1.0) as f32
            };
            for (c, edge) in color.iter_mut().zip(b.color) {
                *c = edge + (*c - edge) * t;
            }
        }
        color
    }
}

impl Coloring for Look {
    fn reads_slopes(&self) -> bool {
        self.by == ColorBy::Distance || self.boundary.is_some() || self.light.is_some()
    }

    fn color_row(
        &self,
        frame: &FrameColor,
        y: u32,
        samples: SampleRow<'_>,
        supersample: usize,
        out: &mut [u8],
    ) {
        if self.by_count_alone() {
            self.palette
                .color_row(frame, y, samples.escape, supersample, out);
            return;
        }
        let width = out.len() / frame.pixel_bytes();
        let row_len = width * supersample;
        debug_assert_eq!(samples.escape.len(), row_len * supersample);
        let slopes = self.reads_slopes();
        // The estimate's logarithm and square root only where the position or the boundary
        // reads it (lighting reads only the direction).
        let distances = self.by == ColorBy::Distance || self.boundary.is_some();
        debug_assert!(!slopes || samples.slope.len() == samples.escape.len());
        let per_pixel = 1.0 / supersample as f64;
        let scale = 1.0 / (supersample * supersample) as f32;
        let interior = self.palette.interior();
        for x in 0..width {
            let mut sum = [0.0f32; 3];
            for r in 0..supersample {
                let at = r * row_len + x * supersample;
                for i in at..at + supersample {
                    let e = samples.escape[i];
                    let c = if e.is_interior() {
                        interior
                    } else if slopes {
                        let slope = samples.slope[i];
                        let de = if distances {
                            slope.distance() * per_pixel
                        } else {
                            f64::NAN
                        };
                        self.escaped(frame, e, slope, de)
                    } else {
                        self.escaped(frame, e, Slope::NONE, f64::NAN)
                    };
                    sum[0] += c[0];
                    sum[1] += c[1];
                    sum[2] += c[2];
                }
            }
            self.palette.put(frame, x, y, sum.map(|v| v * scale), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use num_complex::Complex64;

    use super::*;
    use crate::scene::Rgb8;

    fn settings() -> ColorSettings {
        ColorSettings {
            palette: vec![Rgb8([255, 0, 0]), Rgb8([0, 0, 255])],
            cycle: 10.0,
            interior: Rgb8([1, 2, 3]),
            ..ColorSettings::default()
        }
    }

    fn frame(offset: f64, cycle: f64) -> FrameColor {
        FrameColor {
            cycle: Cycle::new(cycle, offset),
            x_axis: [1.0, 0.0],
            frame: 0,
            depth: BitDepth::Eight,
            dither: false,
        }
    }

    fn video() -> Video {
        Video {
            width: 64,
            height: 36,
            fps: crate::scene::Fps::whole(30),
            frames: 100,
            bit_depth: BitDepth::Eight,
            dither: true,
        }
    }

    /// A sample `de` samples from the set, its direction `dir` (plane axes).
    fn slope(de: f64, dir: [f64; 2]) -> Slope {
        // z = 1000 (ln|z|^2 = 13.8155...); e along z / dir with |e| = |z| ln|z|^2 / de.
        let z = 1000.0f64;
        let len = z * (z * z).ln() / de;
        let d = Complex64::new(dir[0], dir[1]);
        let e = Complex64::new(z, 0.0) / d * len / z;
        Slope::at_escape([z, 0.0], [e.re, e.im])
    }

    fn color(look: &Look, f: &FrameColor, e: Escape, s: Slope, ss: usize) -> [u8; 3] {
        let escape = vec![e; ss * ss];
        let slope = vec![s; ss * ss];
        let mut out = [0u8; 3];
        let row = SampleRow {
            escape: &escape,
            slope: if look.reads_slopes() { &slope } else { &[] },
        };
        look.color_row(f, 0, row, ss, &mut out);
        out
    }

    #[test]
    fn slope_record_gives_back_its_distance_and_direction() {
        let s = slope(3.0, [0.6, -0.8]);
        assert!((s.distance() - 3.0).abs() < 1e-5, "{}", s.distance());
        let [x, y] = s.direction();
        assert!((x - 0.6).abs() < 1e-6 && (y + 0.8).abs() < 1e-6, "{x} {y}");
    }

    #[test]
    fn count_alone_is_the_palette() {
        let look = Look::new(&settings(), &video());
        assert!(!look.reads_slopes());
        let p = Palette::new(&settings());
        let f = frame(0.25, 10.0);
        for n in [0, 3, 7, 12, 1000] {
            let e = Escape { n, nf: 0.3 };
            let mut want = [0u8; 3];
            p.color_row(&f, 0, &[e], 1, &mut want);
            assert_eq!(color(&look, &f, e, Slope::NONE, 1), want, "n = {n}");
        }
    }

    #[test]
    fn transfer_functions_move_the_position() {
        let e = Escape { n: 99, nf: 0.0 };
        let mut s = settings();
        let f = |cycle| frame(0.0, cycle);
        // sqrt(100) = 10: one whole cycle, red; cbrt(100) = 4.64 of cycle 10: blue-ish.
        s.transfer = Transfer::Sqrt;
        let sqrt = color(&Look::new(&s, &video()), &f(10.0), Escape { n: 100, ..e }, Slope::NONE, 1);
        assert_eq!(sqrt, [255, 0, 0]);
        s.transfer = Transfer::Log;
        // ln(1 + 99) = 4.605 of cycle 9.21034: half a cycle, blue.
        let log = color(&Look::new(&s, &video()), &f(2.0 * 100f64.ln()), e, Slope::NONE, 1);
        assert_eq!(log, [0, 0, 255]);
    }

    #[test]
    fn distance_picks_the_position_and_interior_stays() {
        let mut s = settings();
        s.by = ColorBy::Distance;
        let look = Look::new(&s, &video());
        assert!(look.reads_slopes());
        let f = frame(0.0, 2.0);
        let e = Escape { n: 50, nf: 0.5 };
        // DE 1 pixel: -log2 1 = 0, red; DE 0.5 pixel: 1 of cycle 2, blue; the count is ignored.
        assert_eq!(color(&look, &f, e, slope(1.0, [1.0, 0.0]), 1), [255, 0, 0]);
        assert_eq!(color(&look, &f, e, slope(0.5, [1.0, 0.0]), 1), [0, 0, 255]);
        let e2 = Escape { n: 900, nf: 0.1 };
        assert_eq!(color(&look, &f, e2, slope(0.5, [1.0, 0.0]), 1), [0, 0, 255]);
        // With 2x2 supersampling a sample's estimate is in samples: 1 sample = 0.5 pixel.
        assert_eq!(color(&look, &f, e, slope(1.0, [1.0, 0.0]), 2), [0, 0, 255]);
        assert_eq!(
            color(&look, &f, Escape::INTERIOR, Slope::NONE, 1),
            [1, 2, 3]
        );
    }

    #[test]
    fn boundary_blends_by_distance() {
        let mut s = settings();
        s.palette = vec![Rgb8([255, 255, 255]), Rgb8([255, 255, 255])];
        s.boundary = 2.0;
        s.boundary_color = Rgb8([0, 0, 0]);
        let look = Look::new(&s, &video());
        let f = frame(0.0, 10.0);
        let e = Escape { n: 5, nf: 0.0 };
        assert_eq!(color(&look, &f, e, slope(0.0001, [1.0, 0.0]), 1), [0, 0, 0]);
        assert_eq!(color(&look, &f, e, slope(5.0, [1.0, 0.0]), 1), [255, 255, 255]);
        // Halfway in linear light: sRGB 188.
        assert_eq!(color(&look, &f, e, slope(1.0, [1.0, 0.0]), 1), [188, 188, 188]);
    }

    #[test]
    fn light_shades_the_side_facing_away() {
        let mut s = settings();
        s.palette = vec![Rgb8([255, 255, 255]), Rgb8([255, 255, 255])];
        s.light = 1.0;
        s.light_angle = 0.0; // from the right of the image
        s.light_elevation = 45.0;
        let look = Look::new(&s, &video());
        let e = Escape { n: 5, nf: 0.0 };
        let f = frame(0.0, 10.0);
        let toward = color(&look, &f, e, slope(3.0, [1.0, 0.0]), 1);
        let away = color(&look, &f, e, slope(3.0, [-1.0, 0.0]), 1);
        assert_eq!(toward, [255, 255, 255]);
        assert_eq!(away, [0, 0, 0]);
        // Turned 90 degrees, the image's right is the plane's +i: the plane's +1 faces up.
        let turned = FrameColor {
            x_axis: [0.0, 1.0],
            ..f
        };
        let side = color(&look, &turned, e, slope(3.0, [1.0, 0.0]), 1);
        assert!(side[0] > 100 && side[0] < 255, "{side:?}");
        assert_eq!(color(&look, &turned, e, slope(3.0, [0.0, 1.0]), 1), [255, 255, 255]);
    }

    #[test]
    fn palette_cycles_over_time() {
        let mut s = settings();
        s.cycles_per_second = 0.5;
        let look = Look::new(&s, &video());
        let grid = SampleGrid::new(Complex64::new(0.0, 0.0), 1.0, 0.0, 4, 4, 1);
        let view = |frame| View {
            frame,
            center: Complex64::new(0.0, 0.0),
            ln_width: 0.0,
            rotation_deg: 0.0,
            max_iterations: 10,
            segment: 0,
            center_fraction: 0.0,
            palette_offset: 0.1,
            palette_cycle: 10.0,
        };
        let at = |frame| look.frame_color(&view(frame), &grid).cycle.offset;
        assert_eq!(at(0), 0.1);
        assert!((at(30) - 0.6).abs() < 1e-12);
        assert!((at(60) - 0.1).abs() < 1e-12);
    }
}
