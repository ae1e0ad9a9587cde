//! The palette: a cyclic gradient, prepared as lookup tables.
//!
//! A palette position `p` (cycles; see [`super`] for what sets it) picks a color on the gradient:
//! the stops are spread evenly around one cycle, the last blending back into the first. Stops
//! are blended in sRGB (gradients look as designed, the way palette editors show them), then
//! turned to linear light once, when the lookup table is built. Both directions go through
//! tables built once per palette, so coloring a sample is a few additions and two table reads;
//! the sRGB transfer function itself costs a `powf`.

use super::{Cycle, FrameColor, dither_offsets, linear_to_srgb, srgb_to_linear};
use crate::scene::BitDepth;
use crate::kernel::Escape;
use crate::arch::x86::color::{DirectColor, DirectPalette};
use crate::scene::{ColorSettings, Rgb8};

/// Entries per palette cycle in the lookup table.
const PALETTE_STEPS: usize = 4096;
/// Entries per cycle in the direct sRGB table used without supersampling (fine enough that
/// neighbouring entries differ by at most about one 8-bit level).
const DIRECT_STEPS: usize = 16384;
/// Entries in the linear-to-sRGB table (linear light quantized to 1/65536: finer than any
/// 8-bit step, also near black where the sRGB curve is steepest).
const ENCODE_STEPS: usize = 65536;

/// A palette prepared for fast lookups.
#[derive(Debug, Clone)]
pub struct Palette {
    /// Linear-light RGB at `PALETTE_STEPS` even positions around one cycle, plus a copy of the
    /// first entry at the end so interpolation needs no wrap.
    table: Vec<[f32; 3]>,
    /// The scene's cycle and offset (frames may change both over time).
    #[cfg(any(test, feature = "internals"))]
    cycle: Cycle,
    interior: [f32; 3],
    encode: Vec<u8>,
    /// The same as 16-bit sRGB.
    encode16: Vec<u16>,
    /// 8-bit sRGB at the centers of `DIRECT_STEPS` even bins around one cycle: one lookup per
    /// pixel when there is one sample per pixel. Packed as `r | g << 8 | b << 16`, so that a
    /// pixel is one 4-byte store (the next pixel's store overwrites the fourth byte).
    direct: Vec<u32>,
    interior8: [u8; 3],
    /// 16-bit sRGB at the same bins, for dithered 8-bit pixels.
    direct16: Vec<[u16; 3]>,
    /// The SIMD loop for one sample per pixel, where the CPU has it (same bytes).
    simd: Option<DirectColor>,
}

impl Palette {
    /// Builds the tables for a scene's color settings.
    pub fn new(settings: &ColorSettings) -> Self {
        let stops = &settings.palette;
        let n = stops.len();
        let mut table = Vec::with_capacity(PALETTE_STEPS + 1);
        for i in 0..=PALETTE_STEPS {
            let pos = (i % PALETTE_STEPS) as f64 / PALETTE_STEPS as f64 * n as f64;
            let k = (pos.floor() as usize).min(n - 1);
            let t = pos - k as f64;
            let (a, b) = (stops[k].0, stops[(k + 1) % n].0);
            let mut rgb = [0.0f32; 3];
            for c in 0..3 {
                let s = (f64::from(a[c]) + (f64::from(b[c]) - f64::from(a[c])) * t) / 255.0;
                rgb[c] = srgb_to_linear(s) as f32;
            }
            table.push(rgb);
        }
        let encode = (0..ENCODE_STEPS)
            .map(|i| {
                let linear = i as f64 / (ENCODE_STEPS - 1) as f64;
                (linear_to_srgb(linear) * 255.0).round() as u8
            })
            .collect();
        let encode16 = (0..ENCODE_STEPS)
            .map(|i| {
                let linear = i as f64 / (ENCODE_STEPS - 1) as f64;
                (linear_to_srgb(linear) * 65535.0).round() as u16
            })
            .collect();
        let mut palette = Palette {
            table,
            #[cfg(any(test, feature = "internals"))]
            cycle: Cycle::new(settings.cycle, settings.offset),
            interior: rgb8_to_linear(settings.interior),
            encode,
            encode16,
            direct: Vec::new(),
            interior8: settings.interior.0,
            direct16: Vec::new(),
            simd: crate::kernel::select::direct_color(),
        };
        palette.direct = (0..DIRECT_STEPS)
            .map(|i| {
                let c = palette.at_cycle_position((i as f64 + 0.5) / DIRECT_STEPS as f64);
                u32::from_le_bytes([
                    palette.encode(c[0]),
                    palette.encode(c[1]),
                    palette.encode(c[2]),
                    0,
                ])
            })
            .collect();
        palette.direct16 = (0..DIRECT_STEPS)
            .map(|i| {
                let c = palette.at_cycle_position((i as f64 + 0.5) / DIRECT_STEPS as f64);
                c.map(|v| palette.encode16(v))
            })
            .collect();
        palette
    }

    /// Linear-light color at `position` cycles (in `[0, 1)`) around the palette.
    #[inline]
    pub(super) fn at_cycle_position(&self, position: f64) -> [f32; 3] {
        let scaled = position * PALETTE_STEPS as f64;
        // (`as i64` is one instruction on x86-64 without AVX-512, `as u64` a branchy
        // sequence; the same value for positions in `[0, 1)`, and a third of the map
        // assembly's coloring time was here.)
        const { assert!(PALETTE_STEPS.is_power_of_two()) };
        let whole = scaled as i64;
        let i = (whole as usize) & (PALETTE_STEPS - 1);
        let t = (scaled - whole as f64) as f32;
        let (a, b) = (self.table[i], self.table[i + 1]);
        [
            a[0] + (b[0] - a[0]) * t,
            a[1] + (b[1] - a[1]) * t,
            a[2] + (b[2] - a[2]) * t,
        ]
    }

    /// The scene's cycle and offset.
    #[cfg(any(test, feature = "internals"))]
    pub fn cycle(&self) -> Cycle {
        self.cycle
    }

    /// Linear-light color of interior samples.
    pub(super) fn interior(&self) -> [f32; 3] {
        self.interior
    }

    /// Linear-light color of one sample, colored by its smooth count.
    #[inline]
    pub fn linear(&self, escape: Escape, cycle: Cycle) -> [f32; 3] {
        if escape.is_interior() {
            return self.interior;
        }
        // Never negative (counts and offset are not), so truncating casts below are floors,
        // without a libm call.
        let position = escape.smooth() * cycle.inv + cycle.offset;
        self.at_cycle_position(position - (position as u64) as f64)
    }

    /// 8-bit sRGB of a linear-light value in `[0, 1]` (clamped).
    #[inline]
    pub fn encode(&self, linear: f32) -> u8 {
        let i = (linear.clamp(0.0, 1.0) * (ENCODE_STEPS - 1) as f32 + 0.5) as usize;
        self.encode[i.min(ENCODE_STEPS - 1)]
    }

    /// 16-bit sRGB of a linear-light value in `[0, 1]` (clamped).
    #[inline]
    pub fn encode16(&self, linear: f32) -> u16 {
        let i = (linear.clamp(0.0, 1.0) * (ENCODE_STEPS - 1) as f32 + 0.5) as usize;
        self.encode16[i.min(ENCODE_STEPS - 1)]
    }

    /// Writes pixel `x` of row `y` (linear light) into the row `out`, in the frame's depth:
    /// 8-bit (dithered where the frame says so, see [`super`]) or 16-bit big-endian.
    #[inline]
    pub fn put(&self, frame: &FrameColor, x: usize, y: u32, linear: [f32; 3], out: &mut [u8]) {
        match frame.depth {
            BitDepth::Eight if !frame.dither => {
                out[3 * x..3 * x + 3].copy_from_slice(&linear.map(|c| self.encode(c)));
            }
            BitDepth::Eight => {
                let noise = dither_offsets(frame.frame, x as u32, y);
                let levels = linear.map(|l| self.encode16(l));
                out[3 * x..3 * x + 3].copy_from_slice(&dither(levels, noise));
            }
            BitDepth::Sixteen => {
                for (c, &l) in linear.iter().enumerate() {
                    out[6 * x + 2 * c..6 * x + 2 * c + 2]
                        .copy_from_slice(&self.encode16(l).to_be_bytes());
                }
            }
        }
    }

    /// Colors pixel row `y` from `supersample` rows of samples, by their smooth counts.
    ///
    /// `samples` holds `supersample` consecutive sample rows of `width * supersample` samples
    /// each; `out` receives the row's pixels (`width * frame.pixel_bytes()` bytes).
    pub fn color_row(
        &self,
        frame: &FrameColor,
        y: u32,
        samples: &[Escape],
        supersample: usize,
        out: &mut [u8],
    ) {
        let width = out.len() / frame.pixel_bytes();
        let row_len = width * supersample;
        debug_assert_eq!(samples.len(), row_len * supersample);
        let cycle = frame.cycle;
        if supersample == 1 && frame.depth == BitDepth::Eight {
            if frame.dither {
                self.color_row_direct_dithered(frame, y, samples, out);
            } else {
                self.color_row_direct(samples, cycle, out);
            }
            return;
        }
        let scale = 1.0 / (supersample * supersample) as f32;
        for x in 0..width {
            let mut sum = [0.0f32; 3];
            for row in samples.chunks_exact(row_len) {
                for &e in &row[x * supersample..(x + 1) * supersample] {
                    let c = self.linear(e, cycle);
                    sum[0] += c[0];
                    sum[1] += c[1];
                    sum[2] += c[2];
                }
            }
            self.put(frame, x, y, sum.map(|v| v * scale), out);
        }
    }
}

impl Palette {
    /// [`Palette::color_row`] with one sample per pixel: one table lookup per pixel, without
    /// branches (neighbouring pixels alternate between interior and escaped unpredictably), and
    /// one 4-byte store per pixel but the last.
    fn color_row_direct(&self, samples: &[Escape], cycle: Cycle, out: &mut [u8]) {
        const { assert!(DIRECT_STEPS.is_power_of_two()) };
        let interior =
            u32::from_le_bytes([self.interior8[0], self.interior8[1], self.interior8[2], 0]);
        let done = match self.simd {
            Some(simd) => {
                let palette = DirectPalette {
                    table: &self.direct,
                    interior,
                    inv_cycle: cycle.inv,
                    offset: cycle.offset,
                };
                simd.color_row(&palette, samples, out)
            }
            None => 0,
        };
        self.color_row_direct_portable(&samples[done..], cycle, &mut out[3 * done..]);
    }

    /// [`Palette::color_row`] with one sample per pixel into dithered 8-bit pixels: the 16-bit
    /// colors of the direct path's bins, dithered; interior pixels take the interior color
    /// as it is (an exact level).
    fn color_row_direct_dithered(
        &self,
        frame: &FrameColor,
        y: u32,
        samples: &[Escape],
        out: &mut [u8],
    ) {
        let steps = DIRECT_STEPS as f64;
        let cycle = frame.cycle;
        for ((x, &e), px) in (0u32..).zip(samples).zip(out.chunks_exact_mut(3)) {
            if e.is_interior() {
                px.copy_from_slice(&self.interior8);
                continue;
            }
            let smooth = f64::from(e.n) + f64::from(e.nf);
            let bin = ((smooth * cycle.inv + cycle.offset) * steps) as u64;
            let levels = self.direct16[(bin & (DIRECT_STEPS as u64 - 1)) as usize];
            px.copy_from_slice(&dither(levels, dither_offsets(frame.frame, x, y)));
        }
    }

    /// [`Palette::color_row_direct`] without SIMD, the definition the SIMD loop follows.
    fn color_row_direct_portable(&self, samples: &[Escape], cycle: Cycle, out: &mut [u8]) {
        let steps = DIRECT_STEPS as f64;
        let interior =
            u32::from_le_bytes([self.interior8[0], self.interior8[1], self.interior8[2], 0]);
        let pixel = |e: Escape| {
            // An interior sample's bin is computed from garbage and then not used.
            let smooth = f64::from(e.n) + f64::from(e.nf);
            let bin = ((smooth * cycle.inv + cycle.offset) * steps) as u64;
            let color = self.direct[(bin & (DIRECT_STEPS as u64 - 1)) as usize];
            if e.is_interior() { interior } else { color }
        };
        let Some((&last, rest)) = samples.split_last() else {
            return;
        };
        for (i, &e) in rest.iter().enumerate() {
            out[3 * i..3 * i + 4].copy_from_slice(&pixel(e).to_le_bytes());
        }
        let end = 3 * rest.len();
        out[end..end + 3].copy_from_slice(&pixel(last).to_le_bytes()[..3]);
    }
}

/// 8-bit levels of 16-bit sRGB values plus dither offsets (in `2^-21` levels), rounded down,
/// in integers: `(v / 257 + n / 2^21)` floored, so exact levels (multiples of 257) stay exact.
#[inline]
fn dither(levels: [u16; 3], noise: [u32; 3]) -> [u8; 3] {
    [0, 1, 2].map(|c| {
        let scaled = (u64::from(levels[c]) << 21) + u64::from(noise[c]) * 257;
        (scaled / (257 << 21)) as u8
    })
}

pub(super) fn rgb8_to_linear(c: Rgb8) -> [f32; 3] {
    c.0.map(|v| srgb_to_linear(f64::from(v) / 255.0) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 8-bit output without dithering, at the palette's own cycle.
    fn plain(p: &Palette) -> FrameColor {
        FrameColor {
            cycle: p.cycle(),
            x_axis: [1.0, 0.0],
            frame: 0,
            depth: BitDepth::Eight,
            dither: false,
        }
    }

    #[test]
    fn dithering_keeps_exact_levels_and_averages_to_the_fraction() {
        let p = Palette::new(&settings(&[[64, 64, 64], [64, 64, 64]]));
        let frame = |n| FrameColor {
            frame: n,
            dither: true,
            ..plain(&p)
        };
        let samples = vec![at(3, 0.5); 4000];
        let mut out = vec![0u8; 3 * 4000];
        p.color_row(&frame(7), 3, &samples, 1, &mut out);
        assert!(out.iter().all(|&v| v == 64), "an exact level stays exact");

        // A level between 100 and 101 (in 16 bits): only those two, averaging to it.
        let linear = srgb_to_linear(100.3 / 255.0) as f32;
        let exact = f64::from(p.encode16(linear)) / 257.0;
        assert!(exact > 100.2 && exact < 100.4, "{exact}");
        let mut row = vec![0u8; 3 * 4000];
        for x in 0..4000 {
            p.put(&frame(7), x, 9, [linear; 3], &mut row);
        }
        assert!(row.iter().all(|&v| v == 100 || v == 101));
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / row.len() as f64;
        assert!((mean - exact).abs() < 0.03, "mean {mean}, exact {exact}");
        // The same pixel, frame and channel: the same offset; another frame: another pattern.
        let mut again = vec![0u8; 3 * 4000];
        for x in 0..4000 {
            p.put(&frame(7), x, 9, [linear; 3], &mut again);
        }
        assert_eq!(row, again);
        for x in 0..4000 {
            p.put(&frame(8), x, 9, [linear; 3], &mut again);
        }
        assert_ne!(row, again);
    }

    #[test]
    fn sixteen_bit_pixels_are_big_endian_srgb() {
        let p = Palette::new(&settings(&[[0, 0, 0], [255, 255, 255]]));
        let frame = FrameColor {
            depth: BitDepth::Sixteen,
            ..plain(&p)
        };
        let mut row = vec![0u8; 12];
        p.put(&frame, 1, 0, [0.0, 0.5, 1.0], &mut row);
        assert_eq!(&row[..6], &[0; 6]);
        let g = u16::from_be_bytes([row[8], row[9]]);
        assert_eq!(u16::from_be_bytes([row[6], row[7]]), 0);
        assert_eq!(u16::from_be_bytes([row[10], row[11]]), 65535);
        // Linear 0.5 is sRGB 0.7354.
        assert!((f64::from(g) / 65535.0 - 0.735_357).abs() < 2e-5, "{g}");
    }

    fn settings(palette: &[[u8; 3]]) -> ColorSettings {
        ColorSettings {
            palette: palette.iter().map(|&c| Rgb8(c)).collect(),
            cycle: 10.0,
            offset: 0.0,
            interior: Rgb8([1, 2, 3]),
            ..ColorSettings::default()
        }
    }

    fn at(n: u32, nf: f32) -> Escape {
        Escape { n, nf }
    }

    #[test]
    fn stops_are_hit_and_the_gradient_wraps() {
        let p = Palette::new(&settings(&[[255, 0, 0], [0, 0, 255]]));
        let rgb = |e| p.linear(e, p.cycle()).map(|v| p.encode(v));
        assert_eq!(rgb(at(0, 0.0)), [255, 0, 0]);
        assert_eq!(rgb(at(5, 0.0)), [0, 0, 255]);
        assert_eq!(rgb(at(10, 0.0)), [255, 0, 0]); // one full cycle later
        let mid = rgb(at(2, 0.5)); // halfway red -> blue, blended in sRGB
        assert!((i32::from(mid[0]) - 128).abs() <= 1 && (i32::from(mid[2]) - 128).abs() <= 1);
    }

    #[test]
    fn offset_shifts_by_cycles() {
        let mut s = settings(&[[255, 0, 0], [0, 0, 255]]);
        s.offset = 0.5;
        let p = Palette::new(&s);
        assert_eq!(p.linear(at(0, 0.0), p.cycle()).map(|v| p.encode(v)), [0, 0, 255]);
    }

    #[test]
    fn interior_points_get_the_interior_color() {
        let p = Palette::new(&settings(&[[255, 0, 0], [0, 0, 255]]));
        assert_eq!(p.linear(Escape::INTERIOR, p.cycle()).map(|v| p.encode(v)), [1, 2, 3]);
    }

    #[test]
    fn encoding_round_trips_every_8bit_value() {
        let p = Palette::new(&settings(&[[0, 0, 0], [255, 255, 255]]));
        for v in 0..=255u8 {
            let linear = srgb_to_linear(f64::from(v) / 255.0) as f32;
            assert_eq!(p.encode(linear), v);
        }
    }

    #[test]
    fn one_sample_per_pixel_matches_the_exact_color_within_one_level() {
        let p = Palette::new(&settings(&[
            [0, 7, 100],
            [32, 107, 203],
            [237, 255, 255],
            [255, 170, 0],
        ]));
        let samples: Vec<Escape> = (0..5000)
            .map(|i| at(i / 7, (i % 7) as f32 / 7.0))
            .chain([Escape::INTERIOR])
            .collect();
        let mut out = vec![0u8; samples.len() * 3];
        p.color_row(&plain(&p), 0, &samples, 1, &mut out);
        for (px, &e) in out.chunks_exact(3).zip(&samples) {
            let exact = p.linear(e, p.cycle()).map(|v| p.encode(v));
            for c in 0..3 {
                assert!(px[c].abs_diff(exact[c]) <= 1, "{e:?}: {px:?} vs {exact:?}");
            }
        }
    }

    #[test]
    fn supersamples_average_in_linear_light() {
        let p = Palette::new(&settings(&[[0, 0, 0], [255, 255, 255]]));
        // Two black and two white samples: 50% linear light is sRGB 188, not 128.
        let black = at(0, 0.0);
        let white = at(5, 0.0);
        let samples = [black, white, white, black];
        let mut out = [0u8; 3];
        p.color_row(&plain(&p), 0, &samples, 2, &mut out);
        assert_eq!(out, [188, 188, 188]);
    }

    /// The SIMD coloring gives the portable loop's bytes: any row length (the tail is
    /// portable), interior samples, counts up to `u32::MAX - 1`, and cycles so short that the
    /// bin's `f64` passes 2^64 (where `as u64` saturates).
    #[test]
    fn simd_coloring_matches_the_portable_loop() {
        let Some(simd) = DirectColor::detect() else {
            crate::arch::skip_test_without("avx512");
            return;
        };
        let mut rng = crate::testing::XorShift(0x2545_f491_4f6c_dd1du64);
        let mut next = move || rng.next();
        for (cycle, offset) in [
            (64.0, 0.0),
            (7.3, 0.25),
            (1e-9, 0.5),
            (1e-16, 0.999),
            (1e9, 0.1),
        ] {
            let mut s = settings(&[[0, 7, 100], [32, 107, 203], [237, 255, 255], [255, 170, 0]]);
            s.cycle = cycle;
            s.offset = offset;
            let mut p = Palette::new(&s);
            p.simd = Some(simd);
            for len in [0usize, 1, 7, 8, 9, 31, 1920] {
                let samples: Vec<Escape> = (0..len)
                    .map(|_| match next() % 5 {
                        0 => Escape::INTERIOR,
                        1 => Escape {
                            n: u32::MAX - 1 - (next() % 3) as u32,
                            nf: 0.999_999_9,
                        },
                        _ => at((next() % 100_000) as u32, (next() % 1000) as f32 / 1000.0),
                    })
                    .collect();
                let (mut got, mut want) = (vec![0u8; 3 * len], vec![0u8; 3 * len]);
                p.color_row(&plain(&p), 0, &samples, 1, &mut got);
                p.color_row_direct_portable(&samples, p.cycle(), &mut want);
                assert_eq!(got, want, "cycle {cycle}, offset {offset}, {len} pixels");
            }
        }
    }
}
