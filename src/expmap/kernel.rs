//! A frame from the map: its pixels colored from the octaves' shades instead of iterated.
//!
//! Sample `(u, v)` of a frame of width `w` lies at `z = P + w (q + t (u - i v) / samples_x)`,
//! `t` the rotation's unit vector, so its log-polar coordinates about `P` are
//! `ln |z - P| = ln w + ln |q'|` and `arg q'` with `q' = q + t (u - i v) / samples_x`: computed
//! in `f64` at any depth, since only the width is tiny. A pixel centered at `q'` covers about
//! `s / (samples_x |q'|)` of `ln |z - P|` and as much of the angle (the map is conformal): its
//! footprint, a square of map cells about its center's, whose samples it averages
//! ([`MapKernel::color_rows`]). As a [`Kernel`] (for `--data`) each sample point takes the
//! nearest map sample: the ring and angle column whose cell holds its coordinates.

use std::f64::consts::LN_2;
use std::ops::Range;
use std::sync::Arc;

use num_complex::Complex64;

use super::{SegmentMap, Strip};
use crate::color::{FrameColor, Look, Relief, ShadeScale};
use crate::kernel::sample::EscapeCounts;
use crate::kernel::{Escape, Kernel, SampleGrid, Slope, log2_f32};
use crate::path::View;

/// Looks a frame's samples up in the octaves of its segment's map.
#[derive(Debug)]
pub struct MapKernel {
    map: Arc<SegmentMap>,
    /// The coloring of the octaves' shades.
    look: Arc<Look>,
    /// The octaves the frame reads, the first being `first`.
    strips: Vec<Arc<Strip>>,
    first: u32,
    /// `(ln_top - ln w) / ln 2`: the octave coordinate of `|z - P| = w`.
    y0: f64,
    /// The rotation's unit vector over `samples_x`.
    turn: Complex64,
    /// Per octave: frame spacing over the octave's (the factor that makes its slopes the
    /// frame's).
    slope_scale: Vec<f32>,
    /// Per octave: the level the frame reads it at (see [`Strip::index_at`]).
    levels: Vec<u32>,
}

/// A row's samples located in the octaves: per sample, the octave (from the first one the
/// frame reads) and the index of its map sample there.
type Located = Vec<(u32, u32)>;

/// Per-row buffers of [`MapKernel::locate`].
#[derive(Debug, Default)]
struct RowScratch {
    ys: Vec<f32>,
    turns: Vec<f32>,
    found: Located,
}

impl MapKernel {
    /// The kernel of the frame of `view`, `samples_x` samples across, reading `strips`
    /// (octaves `first`, `first + 1`, ...: every octave [`SegmentMap::octaves`] names) at
    /// `levels`, colored by `look`.
    pub fn new(
        map: Arc<SegmentMap>,
        look: Arc<Look>,
        view: &View,
        samples_x: u32,
        first: u32,
        strips: Vec<Arc<Strip>>,
        levels: Vec<u32>,
    ) -> MapKernel {
        let ln_spacing = view.ln_width - f64::from(samples_x).ln();
        let ln_top = map.ln_top;
        let slope_scale = strips
            .iter()
            .map(|s| (ln_spacing - s.octave.ln_spacing).exp() as f32)
            .collect();
        MapKernel {
            map,
            look,
            strips,
            first,
            y0: (ln_top - view.ln_width) / LN_2,
            turn: Complex64::from_polar(1.0, view.rotation_deg.to_radians())
                / f64::from(samples_x),
            slope_scale,
            levels,
        }
    }

    /// Locates the samples of sample row `sy` of `grid` in the octaves, into `scratch.found`.
    fn locate(&self, grid: &SampleGrid, sy: u32, scratch: &mut RowScratch) {
        // Three passes per row: the log-polar coordinates (arithmetic only, in f32 lanes),
        // the indices, then (the caller's) loads, which are then independent and many in
        // flight at once. (In one loop, the arithmetic between the loads left room for few,
        // and the assembly waited on memory: 43 ns a sample on 480x270 frames, 30 with the
        // loads on their own, measured.)
        let width = grid.samples_x as usize;
        scratch.ys.resize(width, 0.0);
        scratch.turns.resize(width, 0.0);
        let step = [self.turn.re as f32, self.turn.im as f32];
        let last = self.strips.len() - 1;
        // Octave coordinates relative to the first octave (small numbers: f32 keeps them
        // to a millionth of an octave at any depth).
        let y0 = (self.y0 - f64::from(self.first)) as f32;
        let v = grid.v(sy);
        // q' = q + t (u - i v) / samples_x.
        let q = self.map.q + self.turn * Complex64::new(grid.u(0), -v);
        log_polar_row([q.re as f32, q.im as f32], step, y0, &mut scratch.ys, &mut scratch.turns);
        scratch.found.clear();
        scratch.found.extend(scratch.ys.iter().zip(&scratch.turns).map(|(&y, &turn)| {
            let (octave, t) = octave_at(y, last);
            let strip = &self.strips[octave];
            let o = &strip.octave;
            let ring = ((t * o.rings as f32) as u32).min(o.rings - 1);
            let column = ((turn * o.angles as f32) as u32).min(o.angles - 1);
            let at = strip.index_at(ring, column, self.levels[octave]);
            (octave as u32, at as u32)
        }));
    }

    /// The samples' escapes and slopes (rescaled to the frame's spacing), for `--data`: the
    /// octaves must keep their samples (see [`super::Maps::new`]).
    fn lookup(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        out: &mut [Escape],
        mut slopes: Option<&mut [Slope]>,
    ) {
        let width = grid.samples_x as usize;
        let mut scratch = RowScratch::default();
        for (r, sy) in rows.enumerate() {
            self.locate(grid, sy, &mut scratch);
            let out = &mut out[r * width..(r + 1) * width];
            for (slot, &(octave, at)) in out.iter_mut().zip(&scratch.found) {
                *slot = self.strips[octave as usize].escape(at as usize);
            }
            if let Some(slopes) = slopes.as_deref_mut() {
                let slopes = &mut slopes[r * width..(r + 1) * width];
                for (slot, &(octave, at)) in slopes.iter_mut().zip(&scratch.found) {
                    let mut slope = self.strips[octave as usize].slope(at as usize);
                    let k = self.slope_scale[octave as usize];
                    slope.e = [slope.e[0] * k, slope.e[1] * k];
                    *slot = slope;
                }
            }
        }
    }

    /// Colors pixel rows `rows` of the frame sampled on `grid` (`supersample`^2 samples a
    /// pixel) into `out` (RGB rows as `frame` says), from the octaves' shades; returns how
    /// many map samples the pixels averaged, and the counts of their escapes.
    ///
    /// Each pixel averages, in linear light, the colors of the map samples in its footprint:
    /// the square in log-polar coordinates that the pixel covers about its center, read at the
    /// level (every `2^l`-th ring and angle) that puts at least `supersample` samples across
    /// it ([`CELLS_PER_SAMPLE`]), so from `supersample`^2 samples at the frames' farthest
    /// corners to four times that nearer the fixed point. Every map sample in the footprint
    /// counts once; none is read twice or skipped, as a sample snapped to its nearest map
    /// sample would be.
    pub fn color_rows(
        &self,
        grid: &SampleGrid,
        frame: &FrameColor,
        supersample: u32,
        rows: Range<u32>,
        out: &mut [u8],
    ) -> (u64, EscapeCounts) {
        let ss = supersample as usize;
        let width = grid.samples_x as usize / ss;
        let shading = self.look.shade_frame(frame);
        let scales: Vec<ShadeScale> = self
            .slope_scale
            .iter()
            .map(|&k| shading.scale(f64::from(k) * ss as f64))
            .collect();
        let relief = self.look.reads_relief();
        let mut ys = vec![0f32; width];
        let mut turns = vec![0f32; width];
        let mut cells: Vec<(u32, u32)> = Vec::with_capacity(width * 4 * ss * ss);
        let mut ends: Vec<u32> = Vec::with_capacity(width);
        let mut shades = Vec::with_capacity(cells.capacity());
        let mut reliefs = Vec::new();
        let mut counts = EscapeCounts::default();
        let mut read = 0u64;
        let row_bytes = width * frame.pixel_bytes();
        let step = self.turn * f64::from(supersample);
        let step = [step.re as f32, step.im as f32];
        let y0 = (self.y0 - f64::from(self.first)) as f32;
        // Pixel centers: the mean of their samples' offsets.
        let centered = 0.5 * (f64::from(supersample) - 1.0);
        let u0 = grid.u(0) + centered;
        // A pixel's side over its center's distance from `P`, over ln 2: its footprint in
        // octaves, for `|q'| = 1`.
        let side = (f64::from(supersample) / (f64::from(grid.samples_x) * LN_2)) as f32;
        for (y, row_out) in rows.zip(out.chunks_exact_mut(row_bytes)) {
            let v = grid.v(y * supersample) + centered;
            let q = self.map.q + self.turn * Complex64::new(u0, -v);
            log_polar_row([q.re as f32, q.im as f32], step, y0, &mut ys, &mut turns);
            cells.clear();
            ends.clear();
            for (&oy, &turn) in ys.iter().zip(&turns) {
                // |q'| = 2^(y0 - oy).
                let octaves = side * (oy - y0).exp2();
                self.footprint(oy, turn, octaves, ss, &mut cells);
                ends.push(cells.len() as u32);
            }
            // The loads in a loop of their own, many in flight at once (most miss the
            // caches: a frame's samples spread over tens of megabytes of octaves); in the
            // coloring loop they waited one by one.
            shades.clear();
            shades.extend(
                (cells.iter()).map(|&(o, at)| self.strips[o as usize].shades()[at as usize]),
            );
            if relief {
                reliefs.clear();
                reliefs.extend(
                    (cells.iter()).map(|&(o, at)| self.strips[o as usize].reliefs()[at as usize]),
                );
            }
            read += cells.len() as u64;
            let mut start = 0;
            for (x, &end) in ends.iter().enumerate() {
                let mut sum = [0f32; 3];
                for i in start..end as usize {
                    let shade = shades[i];
                    let r = if relief { reliefs[i] } else { Relief::NONE };
                    let c = shading.color(&scales[cells[i].0 as usize], shade, r);
                    sum[0] += c[0];
                    sum[1] += c[1];
                    sum[2] += c[2];
                    // (Without branches: interior and escaped samples alternate.)
                    let inside = shade.n == Escape::INTERIOR_N;
                    let n = if inside { 0 } else { shade.n };
                    counts.interior += u64::from(inside);
                    counts.sum += u64::from(n);
                    counts.max = counts.max.max(n);
                }
                let norm = 1.0 / (end as usize - start) as f32;
                shading.put(x, y, sum.map(|c| c * norm), row_out);
                start = end as usize;
            }
        }
        (read, counts)
    }

    /// Appends to `cells` the map samples (octave from the first, index) in the footprint of a
    /// pixel centered at octave coordinate `y` (from the first octave) and angle `turn` (in
    /// turns), `octaves` across.
    fn footprint(&self, y: f32, turn: f32, octaves: f32, ss: usize, cells: &mut Vec<(u32, u32)>) {
        let last = self.strips.len() - 1;
        let (o, t) = octave_at(y, last);
        let strip = &self.strips[o];
        let layout = &strip.octave;
        let (rings, angles) = (layout.rings as f32, layout.angles as f32);
        // The footprint's side in the octave's rings (its cells are square).
        let across = octaves * rings;
        // Never finer than the frame's own level for the octave (whatever copy is held: the
        // same samples for any frames in flight, shards or ranges).
        let finest = self.levels[o] as i32;
        let coarsest = layout.rings.min(layout.angles).ilog2() as i32;
        let level = ((across / (ss as f32 * CELLS_PER_SAMPLE)).log2().floor() as i32)
            .clamp(finest, coarsest.max(finest)) as u32;
        let spacing = (1u32 << level) as f32;
        let half = 0.5 * across / spacing;
        // Ring and column coordinates in units of the level's samples (sample m at m).
        let (ring, column) = ((t * rings - 0.5) / spacing, (turn * angles - 0.5) / spacing);
        let most = (2 * ss) as i32;
        let span = |center: f32| -> (i32, i32) {
            let (lo, hi) = ((center - half).ceil() as i32, (center + half).floor() as i32);
            if hi < lo {
                let m = center.round() as i32;
                (m, m)
            } else if hi - lo >= most {
                let lo = center.round() as i32 - most / 2;
                (lo, lo + most - 1)
            } else {
                (lo, hi)
            }
        };
        let (ring_lo, ring_hi) = span(ring);
        let (column_lo, column_hi) = span(column);
        let columns = ((layout.angles + (1 << level) - 1) >> level) as i32;
        let last_ring = ((layout.rings - 1) >> level) as i32;
        for m in ring_lo..=ring_hi {
            let inside = (0..=last_ring).contains(&m);
            for n in column_lo..=column_hi {
                // Around the circle (rarely needed: no division in the common case).
                let n = if (0..columns).contains(&n) {
                    n
                } else {
                    n.rem_euclid(columns)
                } as u32;
                if inside {
                    let at = strip.index_of_level(m as u32, n, level);
                    cells.push((o as u32, at as u32));
                } else {
                    // Past the octave's edge: the nearest sample of the octave beyond (or
                    // of this one's edge ring, past the map's).
                    let ring_at = (m as f32 * spacing + 0.5) / rings;
                    let turn_at = (n as f32 * spacing + 0.5) / angles;
                    cells.push(self.nearest(o, ring_at, turn_at));
                }
            }
        }
    }

    /// The held sample nearest to fraction `t` of octave `o`'s rings (below 0 or from 1 on:
    /// in the octave before or after it, when the frame reads it) and `turn` around.
    fn nearest(&self, o: usize, t: f32, turn: f32) -> (u32, u32) {
        let (o, t) = if t < 0.0 && o > 0 {
            (o - 1, t + 1.0)
        } else if t >= 1.0 && o + 1 < self.strips.len() {
            (o + 1, t - 1.0)
        } else {
            (o, t.clamp(0.0, 1.0))
        };
        let strip = &self.strips[o];
        let layout = &strip.octave;
        let ring = ((t * layout.rings as f32) as u32).min(layout.rings - 1);
        let column = ((turn * layout.angles as f32) as u32).min(layout.angles - 1);
        (o as u32, strip.index_at(ring, column, self.levels[o]) as u32)
    }
}

/// A pixel averages the map samples of its footprint at the coarsest level that puts at least
/// this many of them across it per frame sample along each axis.
///
/// Fewer cost faithfulness fast: at 0.85 the frames of `tests/expmap.rs` differed from the
/// 8x8-sample references by 1.12x (shallow) and 1.11x (deep) what direct frames do, at 0.7 by
/// 1.40x, against 0.94x and 0.91x at 1.0 (2026-12-08).
pub const CELLS_PER_SAMPLE: f32 = 1.0;

/// The octave (from the first one a frame reads, up to `last`) at octave coordinate `y`, and how
/// far in it `y` is, in `[0, 1]` (below the first octave: its outer edge; past the last one:
/// its inner edge).
#[inline]
fn octave_at(y: f32, last: usize) -> (usize, f32) {
    if y < 0.0 {
        (0, 0.0)
    } else if y as usize > last {
        (last, 1.0)
    } else {
        (y as usize, y - (y as usize) as f32)
    }
}

/// For the points `q_i = q0 + i step` (`i` over the outputs): the octave coordinate
/// `y0 - log2 |q_i|` and the angle in turns, `[0, 1)`.
///
/// In `f32` and branch-free, so that the loop runs in vector lanes. `f32` is enough: `y` is at
/// most a few dozen octaves (an error of `3e-6` octaves is `0.002` rings at 575 rings an
/// octave), the angle's error is below `2e-6` turns (`0.03` columns at 16,384 columns), and
/// `q` is within a few widths of 0 (`6e-8` absolute, a ten-thousandth of a sample at 1,440
/// samples across).
pub fn log_polar_row(q0: [f32; 2], step: [f32; 2], y0: f32, ys: &mut [f32], turns: &mut [f32]) {
    for (i, (y, turn)) in ys.iter_mut().zip(turns.iter_mut()).enumerate() {
        let k = i as f32;
        let (re, im) = (q0[0] + k * step[0], q0[1] + k * step[1]);
        let norm = (re * re + im * im).max(f32::MIN_POSITIVE);
        *y = y0 - 0.5 * log2_f32(norm);
        let t = fast_atan2(im, re) * (1.0 / std::f32::consts::TAU);
        *turn = if t < 0.0 { t + 1.0 } else { t };
    }
}

/// `atan2(y, x)` to within `1e-5` radians (Abramowitz and Stegun 4.4.49 on the octant, then
/// the quadrant; `0` at the origin), branch-free.
#[inline]
pub fn fast_atan2(y: f32, x: f32) -> f32 {
    use std::f32::consts::{FRAC_PI_2, PI};
    let (ax, ay) = (x.abs(), y.abs());
    let large = ax.max(ay).max(f32::MIN_POSITIVE);
    let a = ax.min(ay) / large;
    let a2 = a * a;
    let r = a
        * (0.999_866 + a2 * (-0.330_299_5 + a2 * (0.180_141 + a2 * (-0.085_133 + a2 * 0.020_835_1))));
    let r = if ay > ax { FRAC_PI_2 - r } else { r };
    let r = if x < 0.0 { PI - r } else { r };
    if y < 0.0 { -r } else { r }
}

impl Kernel for MapKernel {
    fn name(&self) -> &'static str {
        "expmap"
    }

    fn escape_row(&self, grid: &SampleGrid, sy: u32, _: u32, out: &mut [Escape]) -> u64 {
        self.lookup(grid, sy..sy + 1, out, None);
        0
    }

    fn escape_rows(&self, grid: &SampleGrid, rows: Range<u32>, _: u32, out: &mut [Escape]) -> u64 {
        self.lookup(grid, rows, out, None);
        0
    }

    fn slope_rows(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        _: u32,
        out: &mut [Escape],
        slopes: &mut [Slope],
    ) -> u64 {
        self.lookup(grid, rows, out, Some(slopes));
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_atan2_is_close_to_the_library_one() {
        let mut worst: f64 = 0.0;
        for i in 0..20_000 {
            let angle = f64::from(i) * 0.000_314_159 - 3.15;
            for r in [1e-3, 0.7, 5.0] {
                let (y, x) = (r * angle.sin(), r * angle.cos());
                let fast = f64::from(fast_atan2(y as f32, x as f32));
                // (Within 1e-5 of the exact angle, less f32's rounding of pi.)
                let mut d = (fast - y.atan2(x)).abs();
                if d > 3.0 {
                    d = (d - std::f64::consts::TAU).abs();
                }
                worst = worst.max(d);
            }
        }
        assert!(worst < 1.2e-5, "{worst:e}");
        assert_eq!(fast_atan2(0.0, 0.0), 0.0);
    }

    /// The row's coordinates against `ln` and `atan2` in f64, near and far from the center.
    #[test]
    fn log_polar_rows_are_close_to_the_exact_ones() {
        let (q0, step) = ([-0.4f32, 0.03], [1.0 / 480.0, 0.2 / 480.0]);
        let mut ys = vec![0.0; 480];
        let mut turns = vec![0.0; 480];
        log_polar_row(q0, step, 10.0, &mut ys, &mut turns);
        for (i, (y, t)) in ys.iter().zip(&turns).enumerate() {
            let k = i as f64;
            let q = Complex64::new(-0.4 + k / 480.0, 0.03 + k * 0.2 / 480.0);
            let want_y = 10.0 - q.norm().log2();
            let mut want_t = q.im.atan2(q.re) / std::f64::consts::TAU;
            if want_t < 0.0 {
                want_t += 1.0;
            }
            assert!((f64::from(*y) - want_y).abs() < 2e-5, "{i}: {y} {want_y}");
            let dt = (f64::from(*t) - want_t).abs();
            assert!(dt.min(1.0 - dt) < 3e-6, "{i}: {t} {want_t}");
        }
    }
}
