//! A frame from the map: a [`Kernel`] that looks samples up instead of iterating them.
//!
//! Sample `(u, v)` of a frame of width `w` lies at `z = P + w (q + t (u - i v) / samples_x)`,
//! `t` the rotation's unit vector, so its log-polar coordinates about `P` are
//! `ln |z - P| = ln w + ln |q'|` and `arg q'` with `q' = q + t (u - i v) / samples_x`: computed
//! in `f64` at any depth, since only the width is tiny. The nearest map sample is the ring and
//! angle column whose cell holds those coordinates.

use std::f64::consts::LN_2;
use std::ops::Range;
use std::sync::Arc;

use num_complex::Complex64;

use super::{SegmentMap, Strip};
use crate::kernel::{Escape, Kernel, SampleGrid, Slope, log2_f32};
use crate::path::View;

/// Looks a frame's samples up in the octaves of its segment's map.
#[derive(Debug)]
pub struct MapKernel {
    map: Arc<SegmentMap>,
    /// The octaves the frame reads, the first being `first`.
    strips: Vec<Arc<Strip>>,
    first: u32,
    /// `(ln_top - ln w) / ln 2`: the octave coordinate of `|z - P| = w`.
    y0: f64,
    /// The rotation's unit vector over `samples_x`.
    turn: Complex64,
    /// Per octave: frame spacing over the octave's derivative scale (the factor that makes
    /// its slopes the frame's).
    slope_scale: Vec<f32>,
    /// Per octave: the level the frame reads it at (see [`Strip::index_at`]).
    levels: Vec<u32>,
}

impl MapKernel {
    /// The kernel of the frame of `view`, `samples_x` samples across, reading `strips`
    /// (octaves `first`, `first + 1`, ...: every octave [`SegmentMap::octaves`] names) at
    /// `levels`.
    pub fn new(
        map: Arc<SegmentMap>,
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
            strips,
            first,
            y0: (ln_top - view.ln_width) / LN_2,
            turn: Complex64::from_polar(1.0, view.rotation_deg.to_radians())
                / f64::from(samples_x),
            slope_scale,
            levels,
        }
    }

    fn lookup(
        &self,
        grid: &SampleGrid,
        rows: Range<u32>,
        out: &mut [Escape],
        mut slopes: Option<&mut [Slope]>,
    ) {
        let width = grid.samples_x as usize;
        // Three passes per row: the log-polar coordinates (arithmetic only, in f32 lanes),
        // the indices, then the loads, which are then independent and many in flight at
        // once. (In one loop, the arithmetic between the loads left room for few, and the
        // assembly waited on memory: 43 ns a sample on 480x270 frames, 30 with the loads on
        // their own, measured.)
        let mut ys = vec![0f32; width];
        let mut turns = vec![0f32; width];
        let mut found: Vec<(u32, u32)> = Vec::with_capacity(width);
        let step = [self.turn.re as f32, self.turn.im as f32];
        let last = (self.strips.len() - 1) as u32;
        // Octave coordinates relative to the first octave (small numbers: f32 keeps them
        // to a millionth of an octave at any depth).
        let y0 = (self.y0 - f64::from(self.first)) as f32;
        let sizes: Vec<(f32, f32, u32, u32)> = self
            .strips
            .iter()
            .map(|s| {
                let o = &s.octave;
                (o.rings as f32, o.angles as f32, o.rings - 1, o.angles - 1)
            })
            .collect();
        for (r, sy) in rows.enumerate() {
            let v = grid.v(sy);
            // q' = q + t (u - i v) / samples_x.
            let q = self.map.q + self.turn * Complex64::new(grid.u(0), -v);
            log_polar_row([q.re as f32, q.im as f32], step, y0, &mut ys, &mut turns);
            found.clear();
            found.extend(ys.iter().zip(&turns).map(|(&y, &turn)| {
                // The octave, and how far in it is (below the first octave: its outer ring;
                // past the last one: its inner ring).
                let (octave, t) = if y < 0.0 {
                    (0, 0.0)
                } else if y as u32 > last {
                    (last, 1.0)
                } else {
                    (y as u32, y - (y as u32) as f32)
                };
                let (rings, angles, last_ring, last_column) = sizes[octave as usize];
                let ring = ((t * rings) as u32).min(last_ring);
                let column = ((turn * angles) as u32).min(last_column);
                let strip = &self.strips[octave as usize];
                let at = strip.index_at(ring, column, self.levels[octave as usize]);
                (octave, at as u32)
            }));
            let out = &mut out[r * width..(r + 1) * width];
            for (slot, &(octave, at)) in out.iter_mut().zip(&found) {
                *slot = self.strips[octave as usize].escape(at as usize);
            }
            if let Some(slopes) = slopes.as_deref_mut() {
                let slopes = &mut slopes[r * width..(r + 1) * width];
                for (slot, &(octave, at)) in slopes.iter_mut().zip(&found) {
                    let mut slope = self.strips[octave as usize].slope(at as usize);
                    let k = self.slope_scale[octave as usize];
                    slope.e = [slope.e[0] * k, slope.e[1] * k];
                    *slot = slope;
                }
            }
        }
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
